//! JSON lines (and single JSON documents): each string value is a cell whose context is its key
//! path. Being written; see issue 3.

use std::io::{self, Read, Write};

use crate::classify::ColumnRules;
use crate::pipeline::{Engine, Located, PipelineError, RunOptions, Stats};

/// Rewrites (or, without `output`, scans) a JSON-lines stream; `document` reads one JSON
/// document (a `.json` file) instead of one per line.
///
/// # Errors
/// Read/write errors; a line that is not JSON names its line and byte offset.
#[allow(clippy::too_many_arguments)]
pub fn run<W: Write + ?Sized>(
    _engine: &Engine,
    _columns: &ColumnRules,
    _input: &mut dyn Read,
    _output: Option<&mut W>,
    _document: bool,
    _opts: &RunOptions<'_>,
    _found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<Stats, PipelineError> {
    Err(PipelineError::Format(
        "JSON input is not supported yet".into(),
    ))
}
