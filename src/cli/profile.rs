use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use super::Common;
use phiscrub::classify::ColumnRules;
use phiscrub::formats::{csv, csv_codec::Dialect, Format};

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// A CSV, TSV or Parquet file.
    pub path: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
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
        _ => bail!("profile reads CSV, TSV or Parquet files (use --format for another file name)"),
    }
    .with_context(|| a.path.display().to_string())?;
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&classes)?)?;
        return Ok(0);
    }
    writeln!(
        out,
        "{:<28} {:<16} {:<8} {:>8} {:>8}",
        "COLUMN", "CLASS", "HOW", "SAMPLED", "MATCHED"
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
        writeln!(
            out,
            "{:<28} {:<16} {:<8} {:>8} {:>8}",
            c.name, class, how, c.sampled, c.matched
        )?;
    }
    Ok(0)
}
