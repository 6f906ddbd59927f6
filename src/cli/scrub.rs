use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use super::Common;
use phiscrub::job::{self, Dest, JobOptions};
use phiscrub::report::{Report, ReportFormat};

#[derive(Debug, Args)]
pub struct ScrubArgs {
    /// Files or directories; standard input when none or `-`.
    pub paths: Vec<PathBuf>,
    /// Output file (one input) or directory (several inputs or a tree, mirrored). Without it,
    /// standard output.
    #[arg(short, long, value_name = "OUT", conflicts_with = "in_place")]
    pub output: Option<PathBuf>,
    /// Replace each input file, only once its new version is complete.
    #[arg(long)]
    pub in_place: bool,
    /// Also write a report of what was changed to this file.
    #[arg(long, value_name = "FILE")]
    pub report_file: Option<PathBuf>,
    /// Scan the written output again and exit 1 if any finding is left of an entity the
    /// policy replaces by token, placeholder, redact or mask (shape, permute, shift, zip3 and
    /// 90+ keep their kind by design and are not counted). Needs `-o` or `--in-place`.
    #[arg(long)]
    pub verify: bool,
    /// Format of the report file.
    #[arg(long, value_enum, default_value_t = ReportFormat::Jsonl)]
    pub report: ReportFormat,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(a: ScrubArgs) -> Result<i32> {
    let engine = a.common.shared.engine()?;
    let columns = phiscrub::classify::ColumnRules::builtin()?;
    let delimiter = a.common.delimiter()?;
    a.common.shared.notice_placeholders(&engine);
    let dest = match (&a.output, a.in_place) {
        (Some(p), _) => Dest::Path(p.clone()),
        (None, true) => Dest::InPlace,
        (None, false) => Dest::Stdout,
    };
    let exclude = match &dest {
        Dest::Path(p) => Some(p.as_path()),
        _ => None,
    };
    let inputs = job::expand(&a.paths, exclude)?;
    job::check_dest(&inputs, &dest)?;
    let verify_inputs = match (a.verify, job::outputs(&inputs, &dest)) {
        (false, _) => None,
        (true, Some(o)) => Some(o),
        (true, None) => bail!("--verify scans the written files again: it needs -o or --in-place"),
    };
    let rule_ids = engine.detector.report_rule_ids();
    let key_id = engine.transformer.key().map(|k| k.id().to_string());
    let sink: Box<dyn Write> = match &a.report_file {
        Some(p) => {
            Box::new(BufWriter::new(File::create(p).with_context(|| {
                format!("cannot create report file {}", p.display())
            })?))
        }
        None => Box::new(io::sink()),
    };
    // Without a report file only the counts for the summary are kept: nothing is serialized.
    let format = if a.report_file.is_some() {
        a.report
    } else {
        ReportFormat::Text
    };
    let mut report = Report::new(format, sink, rule_ids, key_id);
    let policy = engine.transformer.policy().clone();
    report.count_changes(Box::new(move |e, rule| {
        policy.action(e, rule) != phiscrub::policy::Action::Keep
    }));
    let char_offsets = a.report_file.is_some() && report.needs_chars();
    let fingerprints = a.report_file.is_some() && report.needs_fingerprints();
    let positions = a.report_file.is_some();
    let started = Instant::now();
    let classes = std::sync::Mutex::new(Vec::new());
    let want_classes = report.wants_columns();
    let cell = std::cell::RefCell::new(&mut report);
    // Streaming stdin to stdout is a pipe stage (`tail -f |`): no progress line there.
    let show = !a.common.shared.quiet && !matches!(dest, Dest::Stdout);
    let failures = super::progress::with_progress(show, job::total_size(&inputs), |progress| {
        let opts = JobOptions {
            threads: a.common.shared.threads(),
            char_offsets,
            fingerprints,
            positions,
            progress,
            format: a.common.format,
            delimiter,
            columns: &columns,
            subject_column: a.common.subject_column.as_deref(),
            classes: want_classes.then_some(&classes),
        };
        job::scrub(
            &engine,
            &inputs,
            &dest,
            opts,
            |path, f| cell.borrow_mut().finding(path, f),
            |_, stats| cell.borrow_mut().end_input(stats.bytes),
        )
    });
    let failed = super::report_failures(&failures);
    report.set_columns(classes.into_inner().unwrap_or_default());
    if !a.common.shared.quiet {
        eprintln!("{}", report.summary_line(started.elapsed().as_secs_f64()));
    }
    if let Some(warning) = engine.transformer.collisions().summary() {
        eprintln!("phiscrub: warning: {warning}");
    }
    report.finish()?;
    if failed {
        bail!(
            "{} input(s) failed; their destinations were left as they were",
            failures.len()
        );
    }
    match verify_inputs {
        Some(outputs) => verify(&engine, &outputs, &a.common),
        None => Ok(0),
    }
}

/// `--verify`: scans the outputs with every column treated as free text (a classified column
/// is all findings by definition) and counts what the policy should have taken away.
fn verify(
    engine: &phiscrub::pipeline::Engine,
    outputs: &[job::Input],
    common: &super::Common,
) -> Result<i32> {
    let columns = phiscrub::classify::ColumnRules::parse("")?;
    let policy = engine.transformer.policy();
    let mut left: std::collections::BTreeMap<&'static str, u64> = Default::default();
    let mut first: Option<String> = None;
    let opts = JobOptions {
        threads: common.shared.threads(),
        char_offsets: false,
        fingerprints: false,
        positions: true,
        progress: None,
        format: common.format,
        delimiter: common.delimiter()?,
        columns: &columns,
        subject_column: None,
        classes: None,
    };
    let failures = job::scan(
        engine,
        outputs,
        opts,
        |path, f| {
            if policy.removes_kind(f.entity) {
                *left.entry(f.entity.name()).or_default() += 1;
                first.get_or_insert_with(|| match (&f.field, f.row) {
                    (Some(field), Some(row)) => format!("{path}: row {row}, {field}"),
                    _ => format!("{path}:{}:{}", f.line, f.column),
                });
            }
            Ok(())
        },
        |_, _| Ok(()),
    );
    if super::report_failures(&failures) {
        bail!("--verify could not read {} output(s)", failures.len());
    }
    if left.is_empty() {
        if !common.shared.quiet {
            eprintln!(
                "phiscrub: verify: no finding left in {} output(s)",
                outputs.len()
            );
        }
        return Ok(0);
    }
    let counts: Vec<String> = left.iter().map(|(e, n)| format!("{e} {n}")).collect();
    eprintln!(
        "phiscrub: verify: findings left in the output: {} (first at {})",
        counts.join(", "),
        first.unwrap_or_default()
    );
    Ok(1)
}
