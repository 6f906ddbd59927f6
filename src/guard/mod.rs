//! The pre-commit guard: checks what a commit (or a push, or a whole history) brings for PHI
//! and secrets, before it reaches any remote, and says what to do, never printing a value.
//!
//! `git` lists the new blobs and their added lines and reads the blobs from the object store;
//! `scan` runs each blob through the engine by content and name (structured files through
//! their format, with column context); this module keeps the findings on added lines and
//! decides which a team has already allowed (`allow`: inline markers and path globs;
//! `baseline`: keyed fingerprints; known test values; gitleaks allowlists); `output` writes
//! the result for people, SARIF, JUnit or JSON.
//!
//! ```no_run
//! use phiscrub::guard::{self, git};
//! # fn engine() -> phiscrub::pipeline::Engine { unimplemented!() }
//! let top = git::toplevel(std::path::Path::new(".")).unwrap();
//! let changes = git::staged(&top).unwrap();
//! let engine = engine();
//! let g = guard::Guard::new(&engine, Default::default());
//! let outcome = g.run_git(&top, changes);
//! std::process::exit(outcome.exit_code());
//! ```

pub mod allow;
pub mod baseline;
pub mod git;
pub mod hook;
pub mod output;
pub mod scan;

use std::path::Path;
use std::sync::OnceLock;

use crate::classify::ColumnRules;
use crate::detect::gitleaks::Gitleaks;
use crate::entity::Entity;
use crate::pipeline::{Engine, Located};

use allow::{LineIndex, PathRules};
use baseline::Baseline;
use git::{Change, Lines};

/// Why a finding is not reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Suppression {
    /// `phiscrub:allow`, `gitleaks:allow` or `pragma: allowlist secret` on the line or the one
    /// before.
    Inline,
    /// A value in a range reserved for tests and examples (SSN 9xx and the advertised sample
    /// numbers, 555-01xx, example.com, documentation IP ranges, test card numbers).
    TestValue,
    /// In the baseline file.
    Baseline,
    /// A gitleaks allowlist of the `--rules` file.
    GitleaksAllowlist,
}

impl Suppression {
    pub fn name(self) -> &'static str {
        match self {
            Suppression::Inline => "inline marker",
            Suppression::TestValue => "known test value",
            Suppression::Baseline => "baseline",
            Suppression::GitleaksAllowlist => "gitleaks allowlist",
        }
    }

    /// The SARIF suppression kind: in the source, or kept outside it.
    pub fn sarif_kind(self) -> &'static str {
        match self {
            Suppression::Inline => "inSource",
            _ => "external",
        }
    }
}

/// One finding, reported or suppressed. Holds no value, only a masked preview.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub path: String,
    /// 1-based; 0 when the format has no lines (Parquet).
    pub line: u64,
    pub column: u64,
    pub entity: Entity,
    pub rule: String,
    pub score: f32,
    /// Keyed fingerprint (`keyid:hex`) when a baseline is read or written.
    pub fingerprint: Option<String>,
    /// At most the last four characters of a long identifier, the rest masked
    /// (`***-**-6789`); secrets and short values fully masked.
    pub preview: String,
    pub field: Option<String>,
    pub row: Option<u64>,
    pub suppressed: Option<Suppression>,
}

/// A file that could not be scanned (message with position, never data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanFailure {
    pub path: String,
    pub message: String,
}

/// Everything one guard run found.
#[derive(Debug, Default)]
pub struct Outcome {
    pub hits: Vec<Hit>,
    /// Files scanned, in order.
    pub files: Vec<String>,
    /// Files left out by `[guard] allow_paths` or a gitleaks path allowlist.
    pub skipped: Vec<String>,
    pub failures: Vec<ScanFailure>,
    /// Notices worth a line (a structured file that did not parse and was read as text).
    pub notes: Vec<String>,
    pub bytes: u64,
}

impl Outcome {
    /// Findings that are reported (not suppressed).
    pub fn reported(&self) -> impl Iterator<Item = &Hit> {
        self.hits.iter().filter(|h| h.suppressed.is_none())
    }

    /// Exit code: 2 when a file could not be scanned or git failed, 1 with findings, else 0.
    pub fn exit_code(&self) -> i32 {
        if !self.failures.is_empty() {
            2
        } else if self.reported().next().is_some() {
            1
        } else {
            0
        }
    }
}

/// Knobs of a guard run that do not come from the engine.
#[derive(Debug, Default)]
pub struct Settings {
    pub paths: PathRules,
    pub gitleaks: Option<Gitleaks>,
    /// Findings whose fingerprint is here are suppressed.
    pub baseline: Option<Baseline>,
    /// Compute fingerprints (a baseline is read or written). The engine's transformer must
    /// hold the baseline's key then.
    pub fingerprints: bool,
    pub threads: usize,
}

/// One blob to check.
pub struct Source {
    pub path: String,
    pub lines: Lines,
    pub data: Vec<u8>,
}

/// The guard over one engine.
pub struct Guard<'e> {
    engine: &'e Engine,
    settings: Settings,
    /// Index of each rule's validator name, for the known-test-value check of column findings.
    column_rule_base: u32,
}

/// Column rules are built only when a structured file is met (they cost start-up time a
/// commit of code does not need to pay).
fn columns() -> Option<&'static ColumnRules> {
    static COLUMNS: OnceLock<Option<ColumnRules>> = OnceLock::new();
    COLUMNS.get_or_init(|| ColumnRules::builtin().ok()).as_ref()
}

/// The validator that tells a test value of `entity` from a real one, for findings made by a
/// whole-column classification (which ran no validator of its own).
fn test_validator(e: Entity) -> Option<&'static str> {
    Some(match e {
        Entity::Ssn => "ssn",
        Entity::Phone | Entity::Fax => "phone",
        Entity::Email => "email",
        Entity::IpAddress => "ipv4",
        Entity::AccountNumber => "credit_card",
        _ => return None,
    })
}

impl<'e> Guard<'e> {
    pub fn new(engine: &'e Engine, settings: Settings) -> Guard<'e> {
        Guard {
            column_rule_base: engine.detector.rules().len() as u32,
            engine,
            settings,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn into_settings(self) -> Settings {
        self.settings
    }

    /// Whether `path` is left out entirely (allow_paths, or a gitleaks path-only allowlist).
    pub fn skips(&self, path: &str) -> bool {
        self.settings.paths.allows(path)
            || self.settings.gitleaks.as_ref().is_some_and(|g| {
                g.global
                    .iter()
                    .any(|a| a.paths_only() && a.allows(path, b"", b""))
            })
    }

    /// Checks blobs from git: read through one `cat-file --batch`, scanned on all cores.
    pub fn run_git(&self, top: &Path, changes: Vec<Change>) -> Outcome {
        self.run_git_with(git::Blobs::start(top), changes)
    }

    /// As [`Guard::run_git`], reading contents through `blobs`, a `cat-file` the caller
    /// started early ([`git::Blobs::start`]) so its start-up overlapped the diff.
    pub fn run_git_with(
        &self,
        blobs: Result<git::Blobs, git::GitError>,
        changes: Vec<Change>,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        let (wanted, skipped): (Vec<Change>, Vec<Change>) =
            changes.into_iter().partition(|c| !self.skips(&c.path));
        outcome.skipped = skipped.into_iter().map(|c| c.path).collect();
        if wanted.is_empty() {
            return outcome;
        }
        let oids = wanted.iter().map(|c| c.oid.clone()).collect();
        let blobs = blobs.and_then(|mut b| {
            if !b.reads_worktree() {
                b.request(oids)?;
            }
            Ok(b)
        });
        let mut blobs = match blobs {
            Ok(b) => b,
            Err(e) => {
                outcome.failures.push(ScanFailure {
                    path: "(git)".into(),
                    message: e.to_string(),
                });
                return outcome;
            }
        };
        let mut git_error = None;
        let sources = wanted
            .into_iter()
            .map_while(|c| match blobs.get_or_next(&c.path, &c.oid) {
                Ok(data) => Some(Source {
                    path: c.path,
                    lines: c.lines,
                    data,
                }),
                Err(e) => {
                    git_error = Some(ScanFailure {
                        path: c.path,
                        message: e.to_string(),
                    });
                    None
                }
            });
        self.run_sources(sources, &mut outcome);
        outcome.failures.extend(git_error);
        outcome
    }

    /// Checks files on disk, whole (`phiscrub guard FILE…`). `shown` is how each is reported.
    pub fn run_files(&self, files: &[(std::path::PathBuf, String)]) -> Outcome {
        let mut outcome = Outcome::default();
        let mut read_errors = Vec::new();
        let mut sources = Vec::new();
        for (path, shown) in files {
            if self.skips(shown) {
                outcome.skipped.push(shown.clone());
                continue;
            }
            match std::fs::read(path) {
                Ok(data) => sources.push(Source {
                    path: shown.clone(),
                    lines: Lines::All,
                    data,
                }),
                Err(e) => read_errors.push(ScanFailure {
                    path: shown.clone(),
                    message: format!("cannot read: {e}"),
                }),
            }
        }
        self.run_sources(sources.into_iter(), &mut outcome);
        outcome.failures.extend(read_errors);
        outcome
    }

    /// Scans sources on `threads` workers, results in source order.
    pub fn run_sources(&self, sources: impl Iterator<Item = Source>, outcome: &mut Outcome) {
        let threads = self.settings.threads.max(1);
        type Done = (
            usize,
            String,
            u64,
            Result<(Vec<Hit>, Option<String>), String>,
        );
        let mut done: Vec<Done> = Vec::new();
        if threads == 1 {
            for (i, s) in sources.enumerate() {
                let r = self.check(&s);
                done.push((i, s.path, s.data.len() as u64, r));
            }
        } else {
            std::thread::scope(|scope| {
                let (tx, rx) = crossbeam_channel::bounded::<(usize, Source)>(threads * 2);
                let (rtx, rrx) = crossbeam_channel::unbounded::<Done>();
                for _ in 0..threads {
                    let (rx, rtx) = (rx.clone(), rtx.clone());
                    scope.spawn(move || {
                        for (i, s) in rx {
                            let r = self.check(&s);
                            if rtx.send((i, s.path, s.data.len() as u64, r)).is_err() {
                                return;
                            }
                        }
                    });
                }
                drop(rtx);
                for (i, s) in sources.enumerate() {
                    if tx.send((i, s)).is_err() {
                        break;
                    }
                }
                drop(tx);
                done = rrx.iter().collect();
            });
            done.sort_by_key(|d| d.0);
        }
        for (_, path, bytes, r) in done {
            outcome.bytes += bytes;
            match r {
                Ok((hits, note)) => {
                    outcome.hits.extend(hits);
                    if let Some(n) = note {
                        outcome.notes.push(format!("{path}: {n}"));
                    }
                    outcome.files.push(path);
                }
                Err(message) => outcome.failures.push(ScanFailure { path, message }),
            }
        }
    }

    /// One blob: scan, keep what is on new lines, decide suppressions.
    fn check(&self, src: &Source) -> Result<(Vec<Hit>, Option<String>), String> {
        let engine = self.engine;
        let s = self.settings.fingerprints;
        let scanned = scan::scan_blob(engine, &columns, &src.path, &src.data, &src.lines, s)
            .map_err(|e| e.to_string())?;
        let data: &[u8] = scanned.decoded.as_deref().unwrap_or(&src.data);
        let note = match (scanned.read, &scanned.note) {
            (scan::Reading::TextFallback(f), Some(n)) => {
                Some(format!("not valid {f:?} ({n}), checked as text"))
            }
            _ => None,
        };
        let mut index: Option<LineIndex> = None;
        let mut hits = Vec::new();
        let rules = engine.detector.rules();
        let ids = engine.detector.report_rule_ids();
        let offsets_ok = !matches!(
            scanned.read,
            scan::Reading::Structured(crate::formats::Format::Parquet)
        );
        for loc in &scanned.found {
            if !src.lines.contains(loc.line.max(1)) {
                continue;
            }
            // Record keys (`id`, `patient_id`) are tokenized by scrub to keep joins; alone, a
            // row number is no reason to block a commit.
            if loc.rule == self.column_rule_base + Entity::OtherId.index() as u32 {
                continue;
            }
            let rule_id = ids
                .get(loc.rule as usize)
                .cloned()
                .unwrap_or_else(|| "?".into());
            let value = value_of(data, loc, offsets_ok, scanned.read == scan::Reading::Image);
            let line_text = |index: &mut Option<LineIndex>| -> Vec<u8> {
                let idx = index.get_or_insert_with(|| LineIndex::new(data));
                idx.line(data, loc.line).unwrap_or_default().to_vec()
            };
            let mut suppressed = None;
            if let Some(g) = &self.settings.gitleaks {
                if let Some(x) = g.extras.get(&rule_id) {
                    let v = value.unwrap_or_default();
                    if x.path
                        .as_ref()
                        .is_some_and(|p| !p.is_match(src.path.as_bytes()))
                    {
                        continue;
                    }
                    if x.entropy
                        .is_some_and(|e| crate::detect::gitleaks::shannon(v) < e)
                    {
                        continue;
                    }
                    let line = line_text(&mut index);
                    let global = g.global.iter().filter(|a| {
                        a.target_rules.is_empty() || a.target_rules.contains(&x.gitleaks_id)
                    });
                    if x.allowlists
                        .iter()
                        .chain(global)
                        .any(|a| a.allows(&src.path, v, &line))
                    {
                        suppressed = Some(Suppression::GitleaksAllowlist);
                    }
                }
            }
            if suppressed.is_none() {
                if let Some(v) = value {
                    let validator = rules
                        .get(loc.rule as usize)
                        .and_then(|r| r.validator.as_deref())
                        .or_else(|| test_validator(loc.entity));
                    if validator.is_some_and(|name| {
                        crate::detect::run_validator(name, v)
                            == crate::detect::validate::Check::TestValue
                    }) {
                        suppressed = Some(Suppression::TestValue);
                    }
                }
            }
            if suppressed.is_none() && loc.line > 0 && offsets_ok {
                let idx = index.get_or_insert_with(|| LineIndex::new(data));
                if idx.allowed(data, loc.line) {
                    suppressed = Some(Suppression::Inline);
                }
            }
            if suppressed.is_none() {
                if let (Some(b), Some(fp)) = (&self.settings.baseline, &loc.fingerprint) {
                    if b.get(fp).is_some() {
                        suppressed = Some(Suppression::Baseline);
                    }
                }
            }
            hits.push(Hit {
                path: src.path.clone(),
                line: loc.line,
                column: loc.column,
                entity: loc.entity,
                rule: rule_id,
                score: loc.score,
                fingerprint: loc.fingerprint.clone(),
                preview: preview(loc.entity, value, loc.end.saturating_sub(loc.start)),
                field: loc.field.as_deref().map(str::to_string),
                row: loc.row,
                suppressed,
            });
        }
        if let Some(g) = &self.settings.gitleaks {
            for r in &g.path_rules {
                if r.path.is_match(src.path.as_bytes()) {
                    hits.push(Hit {
                        path: src.path.clone(),
                        line: 1,
                        column: 1,
                        entity: Entity::Secret,
                        rule: r.id.clone(),
                        score: 0.9,
                        fingerprint: None,
                        preview: format!("(whole file, {} bytes)", data.len()),
                        field: None,
                        row: None,
                        suppressed: None,
                    });
                }
            }
        }
        Ok((hits, note))
    }
}

/// The finding's bytes, when its offsets point into `data`.
fn value_of<'a>(data: &'a [u8], loc: &Located, offsets_ok: bool, image: bool) -> Option<&'a [u8]> {
    if !offsets_ok || image {
        return None;
    }
    let (s, e) = (
        usize::try_from(loc.start).ok()?,
        usize::try_from(loc.end).ok()?,
    );
    data.get(s..e).filter(|v| !v.is_empty())
}

/// A preview that shows the kind of value and never the value: long identifiers keep their
/// last four characters (`***-**-6789`), everything else is masked whole, secrets and images
/// are described only.
pub fn preview(entity: Entity, value: Option<&[u8]>, len: u64) -> String {
    match entity {
        Entity::Photo | Entity::Biometric => return format!("(binary, {len} bytes)"),
        Entity::Secret => return format!("({len} characters)"),
        _ => {}
    }
    let Some(v) = value else {
        return format!("({len} bytes)");
    };
    // Cells of a CSV may carry their quotes; the preview is of the value.
    let v = v
        .strip_prefix(b"\"")
        .and_then(|x| x.strip_suffix(b"\""))
        .unwrap_or(v);
    let alnum = v.iter().filter(|b| b.is_ascii_alphanumeric()).count();
    let keep = match entity {
        Entity::Ssn
        | Entity::Phone
        | Entity::Fax
        | Entity::AccountNumber
        | Entity::HealthPlanId
        | Entity::Mrn
        | Entity::LicenseNumber
        | Entity::VehicleId
        | Entity::DeviceId
            if alnum >= 9 =>
        {
            4
        }
        _ => 0,
    };
    let mut out = Vec::with_capacity(v.len().min(64));
    let v = &v[..v.len().min(64)];
    crate::transform::mask::mask(v, '*', keep, &mut out);
    let mut s = String::from_utf8_lossy(&out).into_owned();
    if len > 64 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_table() {
        let table: [(Entity, &[u8], &str); 6] = [
            (Entity::Ssn, b"219-45-6789", "***-**-6789"),
            (Entity::Ssn, b"\"219-45-6789\"", "***-**-6789"),
            (Entity::Phone, b"(312) 447-2291", "(***) ***-2291"),
            (Entity::Name, b"Jane Roe", "**** ***"),
            (Entity::Email, b"jane.roe@mercy.org", "****.***@*****.***"),
            (Entity::Secret, b"AKIAIOSFODNN7EXAMPLF", "(20 characters)"),
        ];
        for (e, v, want) in table {
            assert_eq!(preview(e, Some(v), v.len() as u64), want, "{e}");
        }
    }
}
