use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use super::Common;
use phiscrub::classify::ColumnRules;
use phiscrub::formats::{csv, csv_codec::Dialect, Format};
use phiscrub::job::{self, JobOptions};

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// A CSV, TSV, JSON lines, JSON or Parquet file, or a PostgreSQL or MySQL/MariaDB dump or
    /// archive.
    pub path: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

/// The column classes a scan of `a.path` reports.
fn scanned_classes(
    engine: &phiscrub::pipeline::Engine,
    columns: &ColumnRules,
    a: &ProfileArgs,
    delimiter: Option<u8>,
) -> Result<Vec<phiscrub::classify::ColumnClass>> {
    let inputs = job::expand(std::slice::from_ref(&a.path), None)?;
    let classes = std::sync::Mutex::new(Vec::new());
    let opts = JobOptions {
        threads: a.common.shared.threads(),
        char_offsets: false,
        fingerprints: false,
        positions: false,
        progress: None,
        format: a.common.format,
        delimiter,
        columns,
        subject_column: None,
        classes: Some(&classes),
    };
    let failures = job::scan(engine, &inputs, opts, |_, _| Ok(()), |_, _| Ok(()));
    if let Some(f) = failures.into_iter().next() {
        return Err(f.into());
    }
    let classes = classes.into_inner().unwrap_or_default();
    Ok(classes.into_iter().map(|(_, c)| c).collect())
}

/// Prints how each column is classified, so a user can review it and freeze it into a policy.
pub fn run(a: ProfileArgs) -> Result<i32> {
    let engine = a.common.shared.engine()?;
    let columns = ColumnRules::builtin()?;
    let format = a.common.format.resolve(Some(&a.path));
    let delimiter = a
        .common
        .delimiter()?
        .or((format == Format::Tsv).then_some(b'\t'));
    let classes = match format {
        Format::Csv | Format::Tsv => {
            let mut f =
                File::open(&a.path).with_context(|| format!("cannot open {}", a.path.display()))?;
            let dialect = delimiter.map(|d| Dialect {
                delimiter: d,
                quote: b'"',
            });
            csv::profile(&engine, &columns, &mut f, dialect)
        }
        Format::Parquet => phiscrub::formats::parquet::profile(&engine, &columns, &a.path),
        // JSON lines and documents, and database dumps and archives: the classes a scan
        // decides (a dump's tables are classified where their data starts, so it is read
        // whole).
        _ => Ok(scanned_classes(&engine, &columns, &a, delimiter)?),
    }
    .with_context(|| a.path.display().to_string())?;
    if classes.is_empty() {
        bail!(
            "{}: no columns found; profile reads CSV, TSV, JSON lines or JSON, Parquet, and \
             PostgreSQL or MySQL/MariaDB dumps and archives (use --format for another file name)",
            a.path.display()
        );
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&classes)?)?;
        return Ok(0);
    }
    // A dump declares column types, which every replacement is fitted to: shown when known.
    let typed = classes.iter().any(|c| c.sql_type.is_some());
    let type_col = |t: &str| {
        if typed {
            format!("  {t}")
        } else {
            String::new()
        }
    };
    writeln!(
        out,
        "{:<28} {:<16} {:<8} {:>8} {:>8}{}",
        "COLUMN",
        "CLASS",
        "HOW",
        "SAMPLED",
        "MATCHED",
        type_col("TYPE")
    )?;
    for c in &classes {
        let class = match (c.keep, c.entity) {
            (true, _) => "keep".to_string(),
            (false, Some(e)) => e.name().to_string(),
            (false, None) => "scan".to_string(),
        };
        let how = c.how.map_or("-", |h| match h {
            phiscrub::classify::How::Header => "header",
            phiscrub::classify::How::Values => "values",
            phiscrub::classify::How::Both => "both",
        });
        let ty = c
            .sql_type
            .as_ref()
            .map_or("-".to_string(), ToString::to_string);
        writeln!(
            out,
            "{:<28} {:<16} {:<8} {:>8} {:>8}{}",
            c.name,
            class,
            how,
            c.sampled,
            c.matched,
            type_col(&ty)
        )?;
    }
    Ok(0)
}
