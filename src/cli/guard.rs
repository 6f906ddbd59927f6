//! `phiscrub guard`: flags → what to scan (staged change, range, history, files), the engine,
//! baseline and allowlists; the work is in `phiscrub::guard`.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use phiscrub::detect::{self, gitleaks, Detector};
use phiscrub::entity::Entity;
use phiscrub::guard::baseline::{Baseline, Entry};
use phiscrub::guard::output::{self, GuardReport};
use phiscrub::guard::{self, allow::PathRules, git, hook, Guard, Outcome, Settings};
use phiscrub::pipeline::{Engine, EntityFilter};
use phiscrub::policy::Policy;
use phiscrub::transform::{key::Key, Transformer};

/// Default baseline file, at the repository root.
const BASELINE: &str = ".phiscrub-baseline.json";

#[derive(Debug, Args)]
pub struct GuardArgs {
    /// Check these files whole (as pre-commit passes them); without, the staged change.
    pub files: Vec<PathBuf>,
    /// The staged change: added lines of what `git commit` would record (the default).
    #[arg(long)]
    pub staged: bool,
    /// Every commit from REF to HEAD (pre-push, CI on a pull request).
    #[arg(long, value_name = "REF", conflicts_with_all = ["range", "history", "staged", "all"])]
    pub since: Option<String>,
    /// Every commit in A..B. Without a mode flag, PRE_COMMIT_FROM_REF/PRE_COMMIT_TO_REF set one.
    #[arg(long, value_name = "A..B", conflicts_with_all = ["history", "staged", "all"])]
    pub range: Option<String>,
    /// Every blob of the whole repository history, each once.
    #[arg(long, conflicts_with_all = ["staged", "all"])]
    pub history: bool,
    /// Every file in the index, whole (the default of --write-baseline).
    #[arg(long, conflicts_with = "staged")]
    pub all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GuardReport::Human)]
    pub report: GuardReport,
    /// Baseline of accepted findings (default: [guard] baseline, or .phiscrub-baseline.json at
    /// the repository root when it exists).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Ignore any baseline.
    #[arg(long, conflicts_with = "baseline")]
    pub no_baseline: bool,
    /// Record every current finding as accepted in FILE, then exit 0.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Extra rules: a gitleaks rules file (.gitleaks.toml), a phiscrub pack or a directory of
    /// packs; repeatable.
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Policy file (default: phiscrub.toml at the repository root when it exists).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Key file: baseline fingerprints are keyed with it instead of the baseline's own salt.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    #[arg(
        long = "key-env",
        env = "PHISCRUB_KEY",
        hide_env_values = true,
        hide = true
    )]
    pub key_env: Option<String>,
    /// Ignore findings scoring below this (0..1).
    #[arg(long, value_name = "SCORE")]
    pub min_score: Option<f32>,
    /// Only these entities (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub entities: Vec<Entity>,
    /// Leave these entities alone (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub exclude_entities: Vec<Entity>,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Write the pre-commit hook into .git/hooks (or core.hooksPath) and exit.
    #[arg(long)]
    pub install: bool,
    /// With --install: replace a hook that is not phiscrub's (kept as pre-commit.phiscrub-backup).
    #[arg(long, requires = "install")]
    pub force: bool,
    /// Nothing on standard output when clean.
    #[arg(long, short)]
    pub quiet: bool,
}

/// What to scan.
enum Mode {
    Staged,
    Range(Vec<String>),
    History,
    Index,
    Files,
}

/// Phase timings on stderr with PHISCRUB_TIMING=1 (to see where start-up goes).
struct Timer {
    on: bool,
    start: Instant,
    last: Instant,
}

impl Timer {
    fn new() -> Timer {
        let now = Instant::now();
        Timer {
            on: std::env::var_os("PHISCRUB_TIMING").is_some(),
            start: now,
            last: now,
        }
    }
    fn mark(&mut self, what: &str) {
        if self.on {
            let now = Instant::now();
            eprintln!(
                "phiscrub timing: {what:<28} {:>8.2} ms (total {:>8.2} ms)",
                (now - self.last).as_secs_f64() * 1e3,
                (now - self.start).as_secs_f64() * 1e3
            );
            self.last = now;
        }
    }
}

fn mode(a: &GuardArgs) -> Mode {
    if !a.files.is_empty() {
        return Mode::Files;
    }
    if let Some(r) = &a.since {
        return Mode::Range(vec![format!("{r}..HEAD")]);
    }
    if let Some(r) = &a.range {
        return Mode::Range(vec![r.clone()]);
    }
    if a.history {
        return Mode::History;
    }
    if a.all {
        return Mode::Index;
    }
    if !a.staged {
        if a.write_baseline.is_some() {
            return Mode::Index;
        }
        // pre-commit's pre-push stage: the refs being pushed.
        let env = |k| std::env::var(k).ok().filter(|v: &String| !v.is_empty());
        if let (Some(from), Some(to)) = (env("PRE_COMMIT_FROM_REF"), env("PRE_COMMIT_TO_REF")) {
            if from.bytes().all(|b| b == b'0') {
                // A new branch: what the remotes do not have yet.
                return Mode::Range(vec![to, "--not".into(), "--remotes".into()]);
            }
            return Mode::Range(vec![format!("{from}..{to}")]);
        }
    }
    Mode::Staged
}

fn user_key(a: &GuardArgs) -> Result<Option<Key>> {
    if let Some(path) = &a.key_file {
        return Ok(Some(Key::from_file(path)?));
    }
    match &a.key_env {
        Some(t) if !t.trim().is_empty() => Ok(Some(
            Key::parse(t).context("PHISCRUB_KEY does not hold a usable key")?,
        )),
        _ => Ok(None),
    }
}

/// `--rules` files that are gitleaks configs (a top-level `rules` array) rather than packs.
fn is_gitleaks(path: &Path) -> bool {
    if path.is_dir() {
        return false;
    }
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .is_some_and(|t| {
            t.contains_key("rules") || t.contains_key("allowlist") || t.contains_key("extend")
        })
}

/// The rules of `--rules` (packs and gitleaks files) compiled with the built-in packs.
struct Compiled {
    detector: Detector,
    gitleaks: gitleaks::Gitleaks,
    has_gitleaks: bool,
}

fn compile(rules: &[PathBuf]) -> Result<Compiled> {
    let (packs, gl_files): (Vec<PathBuf>, Vec<PathBuf>) =
        rules.iter().cloned().partition(|p| !is_gitleaks(p));
    let mut gl = gitleaks::Gitleaks::default();
    for f in &gl_files {
        let g = gitleaks::load(f)?;
        gl.rules.extend(g.rules);
        gl.extras.extend(g.extras);
        gl.path_rules.extend(g.path_rules);
        gl.global.extend(g.global);
    }
    let mut rules = detect::rules::load(&packs, &detect::validator_exists)?;
    rules.extend(gl.rules.iter().cloned());
    Ok(Compiled {
        detector: Detector::new(rules)?,
        gitleaks: gl,
        has_gitleaks: !gl_files.is_empty(),
    })
}

pub fn run(a: GuardArgs) -> Result<i32> {
    let mut timer = Timer::new();
    let cwd = std::env::current_dir().context("no current directory")?;
    let mode = mode(&a);
    // Parsing the packs and compiling the detector take as long as the git commands that find
    // what is staged, and neither needs the other: the rules compile on the second core while
    // git runs (issue 5's one-line commit budget is 20 ms for everything). `--rules` paths are
    // relative to the working directory, not the repository, so nothing here waits for git.
    let compiling = (!a.install).then(|| {
        let rules = a.rules.clone();
        std::thread::spawn(move || compile(&rules))
    });
    let top = match mode {
        Mode::Files => git::toplevel(&cwd).ok(),
        _ => Some(git::toplevel(&cwd).context("phiscrub guard works in a git repository")?),
    };
    if a.install {
        let top = top.context("phiscrub guard --install needs a git repository")?;
        return install(&top, a.force);
    }
    timer.mark("git toplevel");
    // The blob reader starts as early as there is something to read, so git's start-up
    // overlaps the diff. What is staged (or indexed) is usually also in the work tree: it is
    // read from there when the file's object id proves it is the same bytes.
    let start_blobs = |t: &Path, worktree: bool| {
        git::Blobs::start(t).map(|mut b| {
            if worktree {
                b.prefer_worktree(t);
            }
            b
        })
    };
    let mut blobs = None;
    let changes = match (&mode, &top) {
        (Mode::Files, _) => None,
        (Mode::Staged, Some(t)) => Some(git::staged_then(t, || {
            blobs = Some(start_blobs(t, true));
        })?),
        (Mode::Range(r), Some(t)) => {
            blobs = Some(start_blobs(t, false));
            Some(git::range(t, r)?)
        }
        (Mode::History, Some(t)) => {
            blobs = Some(start_blobs(t, false));
            Some(git::history(t)?)
        }
        (Mode::Index, Some(t)) => {
            blobs = Some(start_blobs(t, true));
            Some(git::index(t)?)
        }
        (_, None) => unreachable!("git modes have a top directory"),
    };
    timer.mark("git changes");
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    // Nothing to check: answer before building anything.
    if changes.as_ref().is_some_and(Vec::is_empty) && a.write_baseline.is_none() {
        let outcome = Outcome::default();
        if a.report != GuardReport::Human {
            output::write(a.report, &outcome, &|id| id.to_string(), &mut out)?;
        }
        out.flush()?;
        timer.mark("done (nothing staged)");
        return Ok(0);
    }

    let root = top.clone().unwrap_or_else(|| cwd.clone());
    let key = user_key(&a)?;
    let policy_path = a
        .policy
        .clone()
        .or_else(|| Some(root.join("phiscrub.toml")).filter(|p| p.is_file()));
    let policy = match &policy_path {
        Some(p) => Policy::from_file(p, key.is_some())?,
        None => Policy::defaults(key.is_some()),
    };
    let paths = PathRules::new(&policy.guard.allow_paths)?;
    let baseline_path = a.baseline.clone().or_else(|| {
        let p = root.join(policy.guard.baseline.as_deref().unwrap_or(BASELINE));
        p.is_file().then_some(p)
    });
    let read_baseline = match (&baseline_path, a.no_baseline) {
        (Some(p), false) => Some(Baseline::load(p, key.clone())?),
        _ => None,
    };
    // Writing: keep the file's salt when it has one, so unchanged findings keep their
    // fingerprints and the file's diff shows only what changed.
    let write_to = a.write_baseline.as_ref().map(|p| {
        if p.is_absolute() {
            p.clone()
        } else {
            cwd.join(p)
        }
    });
    let mut new_baseline = match &write_to {
        None => None,
        Some(p) if p.is_file() => match Baseline::load(p, key.clone()) {
            Ok(mut b) => {
                b.clear();
                Some(b)
            }
            Err(_) => Some(Baseline::new(key.clone())?),
        },
        Some(_) => Some(Baseline::new(key.clone())?),
    };
    let fp_key = match (&new_baseline, &read_baseline) {
        (Some(b), _) | (None, Some(b)) => Some(b.key().clone()),
        (None, None) => key.clone(),
    };
    // Reading one baseline and writing another with a different key: findings are matched
    // against the old one by its own key, so the old one is only used when the keys agree.
    let read_baseline = match (read_baseline, &fp_key) {
        (Some(b), Some(k)) if b.key().id() == k.id() => Some(b),
        (Some(_), _) => None,
        (None, _) => None,
    };
    timer.mark("policy, key, baseline");

    let Compiled {
        detector,
        gitleaks: gl,
        has_gitleaks,
    } = match compiling {
        Some(t) => t
            .join()
            .map_err(|_| anyhow::anyhow!("the rule compiler thread panicked"))??,
        None => compile(&a.rules)?,
    };
    timer.mark("detector ready (compiled beside git)");
    let known = detector.report_rule_ids();
    if let Some(id) = policy.rule_ids().find(|id| !known.iter().any(|k| k == id)) {
        bail!("the policy names an unknown rule: {id}");
    }
    let min_score = match a.min_score {
        Some(s) if !(0.0..=1.0).contains(&s) => bail!("--min-score must be within 0..1"),
        Some(s) => s,
        None => policy.min_score,
    };
    let fingerprints = fp_key.is_some() && (new_baseline.is_some() || read_baseline.is_some());
    let engine = Engine {
        detector,
        transformer: Transformer::new(policy, fp_key),
        filter: EntityFilter::new(a.entities.clone(), a.exclude_entities.clone()),
        min_score,
    };
    let threads = a
        .threads
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let n_inputs = changes.as_ref().map_or(a.files.len(), Vec::len);
    let settings = Settings {
        paths,
        gitleaks: has_gitleaks.then_some(gl),
        baseline: read_baseline,
        fingerprints,
        threads: threads.min(n_inputs.max(1)),
    };
    let g = Guard::new(&engine, settings);
    let outcome = match changes {
        Some(c) => match blobs {
            Some(b) => g.run_git_with(b, c),
            None => g.run_git(top.as_deref().unwrap_or(&root), c),
        },
        None => {
            let files: Vec<(PathBuf, String)> = a
                .files
                .iter()
                .map(|p| (p.clone(), shown(p, &cwd, &root)))
                .collect();
            g.run_files(&files)
        }
    };
    timer.mark("scanned");

    if let (Some(b), Some(path)) = (new_baseline.as_mut(), &write_to) {
        for h in &outcome.hits {
            let keep = matches!(h.suppressed, None | Some(guard::Suppression::Baseline));
            if let (true, Some(fp)) = (keep, &h.fingerprint) {
                b.insert(Entry {
                    fingerprint: fp.clone(),
                    entity: h.entity.name().to_string(),
                    rule: h.rule.clone(),
                    path: h.path.clone(),
                });
            }
        }
        b.write(path)?;
        for f in &outcome.failures {
            eprintln!("phiscrub: error: {}: {}", f.path, f.message);
        }
        if !a.quiet {
            eprintln!(
                "phiscrub guard: wrote {} accepted finding(s) from {} file(s) to {}",
                b.len(),
                outcome.files.len(),
                path.display()
            );
        }
        return Ok(if outcome.failures.is_empty() { 0 } else { 2 });
    }

    let describe = |id: &str| -> String {
        engine
            .detector
            .rules()
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.description.clone())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| match id.strip_prefix("column.") {
                Some(e) => format!("a whole column classified as {e}"),
                None => id.to_string(),
            })
    };
    let code = outcome.exit_code();
    if a.report != GuardReport::Human || !(a.quiet && code == 0) {
        output::write(a.report, &outcome, &describe, &mut out)?;
    }
    out.flush()?;
    timer.mark("reported");
    Ok(code)
}

/// How a file argument is named in reports and matched against allow_paths: relative to the
/// repository root when it is inside it.
fn shown(p: &Path, cwd: &Path, root: &Path) -> String {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    };
    match abs.strip_prefix(root) {
        Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
        Err(_) => p.display().to_string(),
    }
}

fn install(top: &Path, force: bool) -> Result<i32> {
    let hooks = git_path_hooks(top)?;
    let exe = std::env::current_exe().context("cannot tell where this binary is")?;
    let path = hook::install(&hooks, &exe, force)?;
    eprintln!("phiscrub guard: installed {}", path.display());
    Ok(0)
}

/// The hooks directory git uses (honours core.hooksPath).
fn git_path_hooks(top: &Path) -> Result<PathBuf> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(top)
        .args(["rev-parse", "--git-path", "hooks"])
        .output()
        .context("cannot run git")?;
    if !out.status.success() {
        bail!("git rev-parse --git-path hooks failed");
    }
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim_end());
    Ok(if p.is_absolute() { p } else { top.join(p) })
}
