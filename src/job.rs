//! Runs `scan` and `scrub` over the paths a user names: standard input, files and directory
//! trees (skipping `.git` and honouring `.gitignore`), with every output written to a temporary
//! file beside its destination and renamed into place only once complete, so a failed run
//! leaves the destination as it was.
//!
//! A failing input is recorded with its path and the run goes on with the others; the caller
//! turns the list of failures into the exit code.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::classify::ColumnRules;
use crate::entity::Entity;
use crate::formats::{compress, image, Format};
use crate::pipeline::{self, Engine, Located, Mode, PipelineError, RunOptions, Stats};
use crate::policy::Action;

/// Where scrubbed output goes.
#[derive(Debug, Clone)]
pub enum Dest {
    /// Standard output (one input only, or standard input).
    Stdout,
    /// A file (one input) or a directory (several inputs or a tree).
    Path(PathBuf),
    /// Replace each input file once its new version is complete.
    InPlace,
}

/// One input that failed; the message names the path and position, never data.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct InputError {
    pub path: String,
    #[source]
    pub source: PipelineError,
}

/// Errors that stop the whole job before any input is read.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0} is a directory: scrub needs -o DIR or --in-place for a directory")]
    DirNeedsDest(String),
    #[error("several inputs need -o DIR (a directory) or --in-place")]
    ManyNeedDir,
    #[error("--in-place needs file or directory paths, not standard input")]
    InPlaceStdin,
    #[error("cannot walk {path}: {message}")]
    Walk { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// One file to process, with the path reports show and its place under the root it was found
/// in (for mirroring a tree).
#[derive(Debug, Clone)]
pub struct Input {
    pub path: Option<PathBuf>,
    pub shown: String,
    pub rel: PathBuf,
    pub from_dir: bool,
}

/// Total size of the inputs that are files (standard input counts as unknown).
pub fn total_size(inputs: &[Input]) -> Option<u64> {
    inputs
        .iter()
        .map(|i| {
            i.path
                .as_ref()
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
        })
        .sum()
}

/// Expands paths: `-` or nothing is standard input, directories are walked in name order.
///
/// # Errors
/// A path that does not exist or a directory that cannot be walked.
pub fn expand(paths: &[PathBuf], exclude: Option<&Path>) -> Result<Vec<Input>, JobError> {
    if paths.is_empty() {
        return Ok(vec![stdin_input()]);
    }
    let exclude = exclude.and_then(|p| p.canonicalize().ok());
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(stdin_input());
            continue;
        }
        let meta = std::fs::metadata(p).map_err(|source| JobError::Io {
            path: p.display().to_string(),
            source,
        })?;
        // A pg_dump directory archive (`-Fd`) is one input, not a tree of files.
        if !meta.is_dir() || crate::formats::pgdir::is_archive(p) {
            out.push(Input {
                path: Some(p.clone()),
                shown: p.display().to_string(),
                rel: p
                    .file_name()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| p.clone()),
                from_dir: false,
            });
            continue;
        }
        let walker = ignore::WalkBuilder::new(p)
            .hidden(false)
            .git_ignore(true)
            .git_exclude(true)
            .git_global(false)
            .require_git(false)
            .parents(true)
            .sort_by_file_name(|a, b| a.cmp(b))
            .filter_entry(|e| e.file_name() != ".git")
            .build();
        for entry in walker {
            let entry = entry.map_err(|e| JobError::Walk {
                path: p.display().to_string(),
                message: e.to_string(),
            })?;
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let path = entry.into_path();
            if let (Some(ex), Ok(c)) = (&exclude, path.canonicalize()) {
                if c.starts_with(ex) {
                    continue;
                }
            }
            let rel = path
                .strip_prefix(p)
                .map(Path::to_path_buf)
                .unwrap_or_else(|_| path.clone());
            out.push(Input {
                shown: path.display().to_string(),
                path: Some(path),
                rel,
                from_dir: true,
            });
        }
    }
    Ok(out)
}

fn stdin_input() -> Input {
    Input {
        path: None,
        shown: "-".into(),
        rel: PathBuf::from("stdin"),
        from_dir: false,
    }
}

/// Opens an input, decoding gzip or zstd when its first bytes say so (files only: standard
/// input is read as it comes, so a slow pipe is never held up waiting for a magic number).
fn open(input: &Input) -> Result<Box<dyn Read + Send>, PipelineError> {
    let read_err = |source| PipelineError::Read { offset: 0, source };
    match &input.path {
        None => Ok(Box::new(io::stdin())),
        Some(p) => {
            let f = File::open(p).map_err(read_err)?;
            let (head, r) = compress::peek(Box::new(f), compress::MAGIC_LEN).map_err(read_err)?;
            match compress::Codec::sniff(&head) {
                Some(codec) => codec.reader(r).map_err(read_err),
                None => Ok(r),
            }
        }
    }
}

/// Shared knobs of a job.
#[derive(Debug, Clone, Copy)]
pub struct JobOptions<'a> {
    pub threads: usize,
    pub char_offsets: bool,
    pub fingerprints: bool,
    /// Line, column and byte positions of findings are wanted (a report prints them).
    pub positions: bool,
    /// Input bytes done so far, across all inputs, for a progress display.
    pub progress: Option<&'a std::sync::atomic::AtomicU64>,
    /// Column classes of structured inputs, with the input's path, when a report wants them.
    pub classes: Option<&'a std::sync::Mutex<Vec<(String, crate::classify::ColumnClass)>>>,
    /// `--format`; `auto` picks per file by its name.
    pub format: Format,
    /// `--delimiter` for CSV (sniffed when absent).
    pub delimiter: Option<u8>,
    /// Column rules for structured formats.
    pub columns: &'a ColumnRules,
    /// `--subject-column`: per-row key of the date shift in structured data.
    pub subject_column: Option<&'a str>,
}

fn run_opts<'a>(mode: Mode, input: &'a Input, o: JobOptions<'a>) -> RunOptions<'a> {
    RunOptions {
        mode,
        threads: o.threads,
        limits: Default::default(),
        interactive: input.path.is_none(),
        char_offsets: o.char_offsets,
        fingerprints: o.fingerprints,
        positions: o.positions,
        // Without positions nothing prints findings one by one: counting them is enough.
        tally: !o.positions,
        progress: o.progress,
        classes: None,
        table: input
            .path
            .as_deref()
            .and_then(Path::file_stem)
            .and_then(|s| s.to_str()),
        subject_column: o.subject_column,
    }
}

/// Scans every input; `found(path, finding)` receives findings in order and `done(bytes)`
/// closes each input. Returns per-input failures.
pub fn scan(
    engine: &Engine,
    inputs: &[Input],
    opts: JobOptions,
    mut found: impl FnMut(&str, &Located) -> io::Result<()>,
    mut done: impl FnMut(&str, &Stats) -> io::Result<()>,
) -> Vec<InputError> {
    let mut failures = Vec::new();
    for input in inputs {
        let result = run_input::<io::Sink>(engine, input, Mode::Scan, opts, None, &mut |l| {
            found(&input.shown, l)
        });
        if let Some(f) = close_input(input, result, &mut done) {
            failures.push(f);
        }
    }
    failures
}

/// Runs one input through the format that fits it: a whole image file, or a text stream.
fn run_input<W: Write + Send + ?Sized>(
    engine: &Engine,
    input: &Input,
    mode: Mode,
    opts: JobOptions,
    output: Option<&mut W>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<Stats, PipelineError> {
    if let Some(dir) = input
        .path
        .as_deref()
        .filter(|p| crate::formats::pgdir::is_archive(p))
    {
        // Scanning only: `scrub` writes an archive to its own new directory.
        return with_classes(input, mode, opts, |ropts| {
            crate::formats::pgdir::run(engine, opts.columns, dir, None, ropts, found)
        });
    }
    if let Some((kind, rule)) = image_input(engine, input)? {
        return run_image(engine, input, kind, rule, mode, opts, output, found);
    }
    let mut r = open(input)?;
    with_classes(input, mode, opts, |ropts| {
        run_format(engine, input, opts, &mut r, output, ropts, found)
    })
}

/// Runs `f` with the input's run options, collecting the column classes it reports into
/// `opts.classes` (with the input's name) when a report wants them.
fn with_classes<T>(
    input: &Input,
    mode: Mode,
    opts: JobOptions,
    f: impl FnOnce(&RunOptions<'_>) -> T,
) -> T {
    let classes = std::sync::Mutex::new(Vec::new());
    let mut ropts = run_opts(mode, input, opts);
    if opts.classes.is_some() {
        ropts.classes = Some(&classes);
    }
    let result = f(&ropts);
    if let (Some(all), Ok(mine)) = (opts.classes, classes.into_inner()) {
        if let Ok(mut all) = all.lock() {
            all.extend(mine.into_iter().map(|c| (input.shown.clone(), c)));
        }
    }
    result
}

/// Runs an opened input in the format its name or `--format` says.
fn run_format<W: Write + Send + ?Sized>(
    engine: &Engine,
    input: &Input,
    opts: JobOptions,
    r: &mut Box<dyn Read + Send>,
    output: Option<&mut W>,
    ropts: &RunOptions<'_>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<Stats, PipelineError> {
    let ropts = *ropts;
    let mut format = opts.format.resolve(input.path.as_deref());
    // A custom-format archive is told by its signature, not its name, and also when a pipe
    // of pg_dump output is named `--format pgdump`: read as SQL, it would be garbage.
    if matches!(opts.format, Format::Auto | Format::Pgdump) {
        let taken = std::mem::replace(r, Box::new(io::empty()));
        let (head, again) = crate::formats::pgcustom::peek(taken)
            .map_err(|source| PipelineError::Read { offset: 0, source })?;
        *r = again;
        if crate::formats::pgcustom::is_archive(&head) {
            format = Format::Pgcustom;
        }
    }
    if format == Format::Auto {
        // A `.sql` file: its first lines say which database wrote it.
        let taken = std::mem::replace(r, Box::new(io::empty()));
        let (head, again) = compress::peek(taken, 16 << 10)
            .map_err(|source| PipelineError::Read { offset: 0, source })?;
        *r = again;
        format = Format::sniff_sql(&head);
    }
    match format {
        f @ (Format::Csv | Format::Tsv) => {
            let delimiter = opts.delimiter.or((f == Format::Tsv).then_some(b'\t'));
            let dialect = delimiter.map(|d| crate::formats::csv_codec::Dialect {
                delimiter: d,
                quote: b'"',
            });
            crate::formats::csv::run(
                engine,
                opts.columns,
                &mut *r,
                output,
                dialect,
                &ropts,
                found,
            )
        }
        f @ (Format::Jsonl | Format::Json) => crate::formats::jsonl::run(
            engine,
            opts.columns,
            &mut *r,
            output,
            f == Format::Json,
            &ropts,
            found,
        ),
        Format::Parquet => match input.path.as_deref() {
            Some(path) => {
                crate::formats::parquet::run(engine, opts.columns, path, output, &ropts, found)
            }
            None => Err(PipelineError::Format(
                "Parquet needs a file path, not standard input".into(),
            )),
        },
        Format::Pgdump => {
            crate::formats::pgdump::run(engine, opts.columns, &mut *r, output, &ropts, found)
        }
        Format::Pgcustom => {
            crate::formats::pgcustom::run(engine, opts.columns, &mut *r, output, &ropts, found)
        }
        Format::Mysqldump => {
            crate::formats::mysqldump::run(engine, opts.columns, &mut *r, output, &ropts, found)
        }
        Format::Auto | Format::Text => pipeline::run(engine, &mut *r, output, ropts, |l| found(l)),
    }
}

/// Rule id of a whole image file (in `patterns/media.toml`).
const IMAGE_RULE: &str = "photo.image_file";

/// Whether `input` is an image file whose PHOTO finding is in play, with the rule's index.
fn image_input(
    engine: &Engine,
    input: &Input,
) -> Result<Option<(image::ImageKind, u32)>, PipelineError> {
    let Some(path) = &input.path else {
        return Ok(None);
    };
    let Some(rule) = engine
        .detector
        .rules()
        .iter()
        .position(|r| r.id == IMAGE_RULE)
    else {
        return Ok(None);
    };
    let r = &engine.detector.rules()[rule];
    if !engine.filter.allows(Entity::Photo) || r.score < engine.min_score {
        return Ok(None);
    }
    let read_err = |source| PipelineError::Read { offset: 0, source };
    let mut head = [0u8; image::SNIFF_LEN];
    let mut n = 0;
    let mut f = File::open(path).map_err(read_err)?;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_err(e)),
        }
    }
    Ok(image::sniff(&head[..n]).map(|k| (k, rule as u32)))
}

/// One PHOTO finding for the whole file; when scrubbing, the policy's action decides what is
/// written: the file as it was (`keep`), nothing (`redact`), or a 1×1 grey image of the same
/// format (every other action: an image stays an image).
#[allow(clippy::too_many_arguments)]
fn run_image<W: Write + Send + ?Sized>(
    engine: &Engine,
    input: &Input,
    kind: image::ImageKind,
    rule: u32,
    mode: Mode,
    opts: JobOptions,
    output: Option<&mut W>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<Stats, PipelineError> {
    let path = input.path.as_deref().unwrap_or(Path::new("-"));
    let read_err = |source| PipelineError::Read { offset: 0, source };
    let size = std::fs::metadata(path).map_err(read_err)?.len();
    let fingerprint = if opts.fingerprints {
        let bytes = std::fs::read(path).map_err(read_err)?;
        engine.transformer.fingerprint(Entity::Photo, &bytes)
    } else {
        None
    };
    let score = engine.detector.rules()[rule as usize].score;
    let loc = Located {
        start: 0,
        end: size,
        line: 1,
        column: 1,
        char_start: opts.char_offsets.then_some(0),
        char_end: opts.char_offsets.then_some(size),
        entity: Entity::Photo,
        rule,
        score,
        fingerprint,
        field: None,
        row: None,
        count: 1,
    };
    found(&loc).map_err(PipelineError::Report)?;
    let action = engine.transformer.action(Entity::Photo, IMAGE_RULE);
    let mut changed = 0;
    if let (Mode::Scrub, Some(w)) = (mode, output) {
        match action {
            Action::Keep => {
                let mut f = File::open(path).map_err(read_err)?;
                io::copy(&mut f, w).map_err(PipelineError::Write)?;
            }
            Action::Redact => changed = 1,
            _ => {
                w.write_all(image::blank(kind))
                    .map_err(PipelineError::Write)?;
                changed = 1;
            }
        }
    }
    if let Some(p) = opts.progress {
        p.fetch_add(size, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(Stats {
        bytes: size,
        findings: 1,
        changed,
    })
}

/// Hands a finished input's totals to `done`; returns the failure, if any, with its path.
fn close_input(
    input: &Input,
    result: Result<Stats, PipelineError>,
    done: &mut impl FnMut(&str, &Stats) -> io::Result<()>,
) -> Option<InputError> {
    let source = match result {
        Ok(stats) => PipelineError::Report(done(&input.shown, &stats).err()?),
        Err(e) => e,
    };
    Some(InputError {
        path: input.shown.clone(),
        source,
    })
}

/// Checks the destination fits the inputs before anything is read.
///
/// # Errors
/// A directory without `-o`/`--in-place`, several inputs into one file, `--in-place` on stdin.
pub fn check_dest(inputs: &[Input], dest: &Dest) -> Result<(), JobError> {
    match dest {
        Dest::Stdout => {
            if let Some(i) = inputs.iter().find(|i| i.from_dir) {
                return Err(JobError::DirNeedsDest(i.shown.clone()));
            }
            if inputs.len() > 1 {
                return Err(JobError::ManyNeedDir);
            }
        }
        Dest::Path(p) => {
            let many = inputs.len() > 1 || inputs.iter().any(|i| i.from_dir);
            if many && p.exists() && !p.is_dir() {
                return Err(JobError::ManyNeedDir);
            }
        }
        Dest::InPlace => {
            if inputs.iter().any(|i| i.path.is_none()) {
                return Err(JobError::InPlaceStdin);
            }
        }
    }
    Ok(())
}

/// Where one input's output goes.
fn target(input: &Input, dest: &Dest, many: bool) -> Option<PathBuf> {
    match dest {
        Dest::Stdout => None,
        Dest::InPlace => input.path.clone(),
        Dest::Path(p) if many || p.is_dir() || names_a_directory(p) => Some(p.join(&input.rel)),
        Dest::Path(p) => Some(p.clone()),
    }
}

/// `-o safe/`: a path written with a trailing separator is a directory, made if it is not
/// there yet (as `cp` and `rsync` read it), rather than a file named `safe` that fails to
/// replace the missing directory once the whole input has been scrubbed.
fn names_a_directory(p: &Path) -> bool {
    p.as_os_str()
        .as_encoded_bytes()
        .last()
        .is_some_and(|&b| std::path::is_separator(char::from(b)))
}

/// The files `scrub` writes for `inputs` into `dest`, as inputs of their own (for `--verify`,
/// which scans them again); `None` when the output is standard output.
pub fn outputs(inputs: &[Input], dest: &Dest) -> Option<Vec<Input>> {
    let many = inputs.len() > 1 || inputs.iter().any(|i| i.from_dir);
    inputs
        .iter()
        .map(|i| {
            target(i, dest, many).map(|p| Input {
                shown: p.display().to_string(),
                rel: i.rel.clone(),
                path: Some(p),
                from_dir: false,
            })
        })
        .collect()
}

/// Scrubs every input into its destination. Each file output is complete and synced before it
/// replaces anything; on failure the temporary file is removed and the destination untouched.
pub fn scrub(
    engine: &Engine,
    inputs: &[Input],
    dest: &Dest,
    opts: JobOptions,
    mut found: impl FnMut(&str, &Located) -> io::Result<()>,
    mut done: impl FnMut(&str, &Stats) -> io::Result<()>,
) -> Vec<InputError> {
    let many = inputs.len() > 1 || inputs.iter().any(|i| i.from_dir);
    let mut failures = Vec::new();
    for input in inputs {
        let mut report = |l: &Located| found(&input.shown, l);
        if let Some(dir) = input
            .path
            .as_deref()
            .filter(|p| crate::formats::pgdir::is_archive(p))
        {
            let ropts = run_opts(Mode::Scrub, input, opts);
            let result = match target(input, dest, many) {
                Some(out) => crate::formats::pgdir::run(
                    engine,
                    opts.columns,
                    dir,
                    Some(&out),
                    &ropts,
                    &mut report,
                ),
                None => Err(PipelineError::Format(
                    "a pg_dump directory archive is scrubbed into a new directory: give -o DIR"
                        .into(),
                )),
            };
            if let Some(f) = close_input(input, result, &mut done) {
                failures.push(f);
            }
            continue;
        }
        let result = match target(input, dest, many) {
            None => {
                let mut w = BufWriter::with_capacity(256 << 10, io::stdout());
                run_input(engine, input, Mode::Scrub, opts, Some(&mut w), &mut report)
                    .and_then(|s| w.flush().map(|()| s).map_err(PipelineError::Write))
            }
            Some(path) => write_atomically(&path, input.path.as_deref(), |w| {
                match path.to_str().and_then(compress::Codec::from_name) {
                    // `-o safe/dump.sql.gz`, or a `.gz` input mirrored into a directory.
                    Some(codec) => {
                        let mut enc = codec.writer(w).map_err(PipelineError::Write)?;
                        let stats = run_input(
                            engine,
                            input,
                            Mode::Scrub,
                            opts,
                            Some(&mut enc),
                            &mut report,
                        )?;
                        enc.finish().map_err(PipelineError::Write)?;
                        Ok(stats)
                    }
                    None => {
                        let stats = run_input(
                            engine,
                            input,
                            Mode::Scrub,
                            opts,
                            Some(&mut *w),
                            &mut report,
                        )?;
                        // A custom-format archive written to a file gets its data offsets.
                        w.flush().map_err(PipelineError::Write)?;
                        crate::formats::pgcustom::fill_offsets(w.get_ref())?;
                        Ok(stats)
                    }
                }
            }),
        };
        if let Some(f) = close_input(input, result, &mut done) {
            failures.push(f);
        }
    }
    failures
}

/// Writes through `f` into a temporary file in `path`'s directory, syncs it and renames it onto
/// `path`. Permissions of `like` (the input, for `--in-place`) are kept.
fn write_atomically(
    path: &Path,
    like: Option<&Path>,
    f: impl FnOnce(&mut BufWriter<&File>) -> Result<Stats, PipelineError>,
) -> Result<Stats, PipelineError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let werr = PipelineError::Write;
    std::fs::create_dir_all(&parent).map_err(werr)?;
    let tmp = tempfile::Builder::new()
        .prefix(".phiscrub-")
        .suffix(".tmp")
        .tempfile_in(&parent)
        .map_err(werr)?;
    let stats = {
        let mut w = BufWriter::with_capacity(256 << 10, tmp.as_file());
        let stats = f(&mut w)?;
        w.flush().map_err(werr)?;
        stats
    };
    tmp.as_file().sync_all().map_err(werr)?;
    if let Some(src) = like {
        if let Ok(meta) = std::fs::metadata(src) {
            // Best effort: a filesystem without permissions still gets the data.
            let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
        }
    }
    tmp.persist(path)
        .map_err(|e| PipelineError::Write(e.error))?;
    Ok(stats)
}
