use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;

use super::Common;
use phiscrub::job::{self, JobOptions};
use phiscrub::report::{Report, ReportFormat};

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories; standard input when none or `-`.
    pub paths: Vec<PathBuf>,
    /// How findings are reported on standard output.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub report: ReportFormat,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(a: ScanArgs) -> Result<i32> {
    let engine = a.common.shared.engine()?;
    let columns = phiscrub::classify::ColumnRules::builtin()?;
    let delimiter = a.common.delimiter()?;
    let inputs = job::expand(&a.paths, None)?;
    let rule_ids = engine.detector.report_rule_ids();
    let key_id = engine.transformer.key().map(|k| k.id().to_string());
    let stdout = io::stdout();
    let mut report = Report::new(a.report, BufWriter::new(stdout.lock()), rule_ids, key_id);
    let (char_offsets, fingerprints) = (report.needs_chars(), report.needs_fingerprints());
    let started = Instant::now();
    let classes = std::sync::Mutex::new(Vec::new());
    let want_classes = report.wants_columns();
    let report_cell = std::cell::RefCell::new(&mut report);
    let total_size = job::total_size(&inputs);
    let failures = super::progress::with_progress(!a.common.shared.quiet, total_size, |progress| {
        let opts = JobOptions {
            threads: a.common.shared.threads(),
            char_offsets,
            fingerprints,
            positions: true,
            progress,
            format: a.common.format,
            delimiter,
            columns: &columns,
            subject_column: a.common.subject_column.as_deref(),
            classes: want_classes.then_some(&classes),
        };
        job::scan(
            &engine,
            &inputs,
            opts,
            |path, f| report_cell.borrow_mut().finding(path, f),
            |_, stats| report_cell.borrow_mut().end_input(stats.bytes),
        )
    });
    let failed = super::report_failures(&failures);
    report.set_columns(classes.into_inner().unwrap_or_default());
    let total = report.total();
    if !a.common.shared.quiet {
        eprintln!("{}", report.summary_line(started.elapsed().as_secs_f64()));
    }
    report.finish()?;
    Ok(if failed {
        2
    } else if total > 0 {
        1
    } else {
        0
    })
}
