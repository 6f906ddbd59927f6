//! Parquet files, row group by row group. Being written; see issue 3.

use std::io::{self, Write};
use std::path::Path;

use crate::classify::ColumnRules;
use crate::pipeline::{Engine, Located, PipelineError, RunOptions, Stats};

/// Rewrites (or, without `output`, scans) the Parquet file at `path`.
///
/// # Errors
/// Read/write errors and a corrupt or truncated file, named with the row group and column.
pub fn run<W: Write + Send + ?Sized>(
    _engine: &Engine,
    _columns: &ColumnRules,
    _path: &Path,
    _output: Option<&mut W>,
    _opts: &RunOptions<'_>,
    _found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<Stats, PipelineError> {
    Err(PipelineError::Format(
        "Parquet input is not supported yet".into(),
    ))
}
