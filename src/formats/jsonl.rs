//! JSON lines (and single JSON documents): each string value is a cell whose context is its key
//! path (`patient.name`, `contacts[].phone`: array indices collapse to `[]`, a top-level scalar
//! has the empty path and no field name), classified and rewritten by the same per-cell logic as
//! CSV ([`Cells`]). Keys, numbers, booleans, null and structure are never changed, with one
//! exception: a number under a path classified as an identifier (`"ssn": 536228726`,
//! `"mrn": 1234567`) is a cell too, its literal text the value.
//!
//! Output is the input with only the changed values spliced in: a small tokenizer records the
//! byte span of every value, so an untouched line is written back byte for byte (whitespace,
//! key order, escapes such as `\u00e9`, LF or CRLF), and in a changed line everything but the
//! changed values is too.
//!
//! A JSON line is one record (its `row` is its line number). In a document whose top level is
//! an array, each element is a record and key paths are relative to it (`patient.ssn`, not
//! `[].patient.ssn`), so a `.json` export and a `.jsonl` one of the same data name their fields
//! alike, for reports, `[columns]` policy globs and `--subject-column`.
//!
//! JSON lines stream through a bounded buffer (a single line may still be tens of MB); the
//! first lines (up to [`SAMPLE_ROWS`], within the first read window) are the sample key paths
//! are classified on. A document (`.json`, `--format json`) is read whole, up to
//! [`MAX_DOCUMENT`] bytes.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::sync::Arc;

use super::cells::Cells;
use crate::classify::{ColumnClass, ColumnRules};
use crate::pipeline::{Engine, Located, PipelineError, RunOptions, Stats};
use crate::policy::ColumnOverride;

/// Lines sampled to classify key paths, and values kept per path in that sample.
pub const SAMPLE_ROWS: usize = 200;
/// The largest JSON document read whole; bigger inputs should be JSON lines.
pub const MAX_DOCUMENT: u64 = 256 << 20;
/// Bytes read at a time.
const READ_SIZE: usize = 1 << 20;
/// Bytes read before the sample is taken: the sample is the complete lines in this window (or
/// the first line, when that is longer), so classifying never holds more than a window.
const SAMPLE_WINDOW: usize = READ_SIZE * 4;
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Rewrites (or, without `output`, scans) a JSON-lines stream; `document` reads one JSON
/// document (a `.json` file) instead of one per line.
///
/// # Errors
/// Read/write errors; a line that is not JSON names its line and byte offset, never data.
#[allow(clippy::too_many_arguments)]
pub fn run<W: Write + ?Sized>(
    engine: &Engine,
    columns: &ColumnRules,
    input: &mut dyn Read,
    output: Option<&mut W>,
    document: bool,
    opts: &RunOptions<'_>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<Stats, PipelineError> {
    // Findings go straight to `found` here, with no chunk end to hand a tally on at.
    let mut own = *opts;
    own.tally = false;
    let opts = &own;
    let mut st = State {
        cells: Cells::new(engine),
        engine,
        columns,
        paths: HashMap::new(),
        text: Vec::new(),
        out: Vec::new(),
        scrub: output.is_some(),
        subjects: Vec::new(),
        select: FieldSelect::all(),
    };
    let bytes = if document {
        st.document(input, output, opts, found)?
    } else {
        st.lines(input, output, opts, found)?
    };
    let mut stats = st.cells.finish();
    stats.bytes = bytes;
    Ok(stats)
}

/// A key path's report name and class, decided once per run.
struct PathClass {
    /// `None` for the empty path of a top-level scalar.
    field: Option<Arc<str>>,
    class: ColumnClass,
    /// Numbers here are cells: the path is an identifier, by its class or a policy override.
    numbers: bool,
}

impl PathClass {
    fn new(engine: &Engine, opts: &RunOptions<'_>, path: &str, class: ColumnClass) -> PathClass {
        let numbers = match engine
            .transformer
            .policy()
            .column_override(opts.table, path)
        {
            Some(ColumnOverride::Whole { .. }) => true,
            Some(ColumnOverride::Keep | ColumnOverride::Scan) => false,
            None => class.entity.is_some() && !class.keep,
        };
        PathClass {
            field: (!path.is_empty()).then(|| Arc::from(path)),
            class,
            numbers,
        }
    }
}

/// How findings get their `row`.
#[derive(Clone, Copy)]
enum Rows {
    /// JSON lines: the 1-based line of the record.
    Line(u64),
    /// A document: the 1-based element of a top-level array (1 for any other document).
    Record,
}

struct State<'e, 'c> {
    cells: Cells<'e>,
    engine: &'e Engine,
    columns: &'c ColumnRules,
    paths: HashMap<String, PathClass>,
    /// Decoded value of the current string cell, when it has escapes.
    text: Vec<u8>,
    /// The rewritten line or document.
    out: Vec<u8>,
    scrub: bool,
    /// `--subject-column`: the subject of each record of the span being rewritten, by record.
    subjects: Vec<(u64, Vec<u8>)>,
    /// The key paths rewritten (all, unless a line filter names some).
    select: FieldSelect,
}

impl State<'_, '_> {
    /// JSON lines; returns the input length.
    fn lines<W: Write + ?Sized>(
        &mut self,
        input: &mut dyn Read,
        mut output: Option<&mut W>,
        opts: &RunOptions<'_>,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
    ) -> Result<u64, PipelineError> {
        let interactive = opts.interactive;
        let mut buf: Vec<u8> = Vec::with_capacity(SAMPLE_WINDOW + READ_SIZE);
        let mut base: u64 = 0; // stream offset of buf[0]
        let mut eof = fill(input, &mut buf, SAMPLE_WINDOW, base, interactive)?;
        // The sample needs at least one whole line.
        while !eof && memchr::memchr(b'\n', &buf).is_none() {
            let want = READ_SIZE.max(buf.len());
            eof = fill(input, &mut buf, want, base, interactive)?;
        }
        let mut pos = if buf.starts_with(BOM) { BOM.len() } else { 0 };
        self.sample_lines(&buf, pos, eof, opts)?;
        if let Some(w) = output.as_deref_mut() {
            w.write_all(&buf[..pos]).map_err(PipelineError::Write)?;
        }
        add_progress(opts, pos);
        let mut line = 1u64;
        // Where the search for the next newline resumes (all before it is one unfinished line).
        let mut searched = pos;
        loop {
            // Unchanged lines are written in runs from `copied`.
            let (start, mut copied) = (pos, pos);
            loop {
                let end = match memchr::memchr(b'\n', &buf[searched..]) {
                    Some(nl) => searched + nl + 1,
                    // The last line may have no newline.
                    None if eof && pos < buf.len() => buf.len(),
                    None => break,
                };
                let span = pos..end;
                self.line(
                    &buf,
                    span,
                    base,
                    line,
                    opts,
                    found,
                    &mut copied,
                    &mut output,
                )?;
                line += 1;
                pos = end;
                searched = end;
            }
            if let Some(w) = output.as_deref_mut() {
                w.write_all(&buf[copied..pos])
                    .map_err(PipelineError::Write)?;
                if interactive {
                    w.flush().map_err(PipelineError::Write)?;
                }
            }
            add_progress(opts, pos - start);
            if eof {
                break;
            }
            // Keep the unfinished line, read more: at least as much again as it already is,
            // so a very long line is read in few steps.
            buf.drain(..pos);
            base += pos as u64;
            searched -= pos;
            pos = 0;
            let want = READ_SIZE.max(buf.len());
            eof = fill(input, &mut buf, want, base, interactive)?;
        }
        if let Some(w) = output {
            w.flush().map_err(PipelineError::Write)?;
        }
        Ok(base + buf.len() as u64)
    }

    /// Classifies the key paths of the complete lines in `buf` (the last one too at the end of
    /// the input), up to [`SAMPLE_ROWS`] lines.
    fn sample_lines(
        &mut self,
        buf: &[u8],
        mut pos: usize,
        eof: bool,
        opts: &RunOptions<'_>,
    ) -> Result<(), PipelineError> {
        let mut samples = Samples::new();
        for line in 1..=SAMPLE_ROWS as u64 {
            let end = match memchr::memchr(b'\n', &buf[pos..]) {
                Some(nl) => pos + nl + 1,
                None if eof && pos < buf.len() => buf.len(),
                None => break,
            };
            samples
                .collect(buf, pos..end, false)
                .map_err(|e| syntax_error(&e, 0, line))?;
            pos = end;
        }
        self.classify(samples, opts);
        Ok(())
    }

    /// One line: written through `output` as it was, or rewritten. Unchanged lines are left
    /// for the caller to copy in runs from `copied`.
    #[allow(clippy::too_many_arguments)]
    fn line<W: Write + ?Sized>(
        &mut self,
        buf: &[u8],
        span: Range<usize>,
        base: u64,
        line: u64,
        opts: &RunOptions<'_>,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
        copied: &mut usize,
        output: &mut Option<&mut W>,
    ) -> Result<(), PipelineError> {
        let changed = self
            .rewrite(buf, span.clone(), base, line, Rows::Line(line), opts, found)
            .map_err(|e| e.into_error(base, line))?;
        if changed {
            if let Some(w) = output.as_deref_mut() {
                w.write_all(&buf[*copied..span.start])
                    .map_err(PipelineError::Write)?;
                w.write_all(&self.out).map_err(PipelineError::Write)?;
            }
            *copied = span.end;
        }
        Ok(())
    }

    /// One JSON document, read whole; returns its length.
    fn document<W: Write + ?Sized>(
        &mut self,
        input: &mut dyn Read,
        output: Option<&mut W>,
        opts: &RunOptions<'_>,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
    ) -> Result<u64, PipelineError> {
        let mut buf = Vec::new();
        let cap = usize::try_from(MAX_DOCUMENT + 1).unwrap_or(usize::MAX);
        fill(input, &mut buf, cap, 0, false)?;
        if buf.len() as u64 > MAX_DOCUMENT {
            return Err(PipelineError::Format(format!(
                "JSON document larger than {} MiB: write it as JSON lines (--format jsonl)",
                MAX_DOCUMENT >> 20
            )));
        }
        let start = if buf.starts_with(BOM) { BOM.len() } else { 0 };
        let doc = start..buf.len();
        let line_of = |at: usize| 1 + memchr::memchr_iter(b'\n', &buf[..at]).count() as u64;
        let mut samples = Samples::new();
        samples
            .collect(&buf, doc.clone(), true)
            .map_err(|e| syntax_error(&e, 0, line_of(e.at)))?;
        self.classify(samples, opts);
        let changed = self
            .rewrite(&buf, doc.clone(), 0, 1, Rows::Record, opts, found)
            .map_err(|e| match e {
                Stop::Syntax(s) => syntax_error(&s, 0, line_of(s.at)),
                Stop::Visit(p) => p,
            })?;
        if let Some(w) = output {
            if changed {
                w.write_all(&buf[..start]).map_err(PipelineError::Write)?;
                w.write_all(&self.out).map_err(PipelineError::Write)?;
            } else {
                w.write_all(&buf).map_err(PipelineError::Write)?;
            }
            w.flush().map_err(PipelineError::Write)?;
        }
        add_progress(opts, buf.len());
        Ok(buf.len() as u64)
    }

    /// Classifies every sampled key path (told to `opts.classes` in path order, for the
    /// report's per-column summary and `profile`).
    fn classify(&mut self, samples: Samples, opts: &RunOptions<'_>) {
        let mut by_path: Vec<_> = samples.by_path.into_iter().collect();
        by_path.sort_by(|a, b| a.0.cmp(&b.0));
        for (path, values) in by_path {
            let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
            let class = self.cells.classify(self.columns, &path, &refs);
            tell_class(opts, &path, &class);
            let pc = PathClass::new(self.engine, opts, &path, class);
            self.paths.insert(path, pc);
        }
    }

    /// `--subject-column`: finds the subject of every record in `buf[span]` (the first value at
    /// that key path, compared without case) before any of its cells is rewritten, since the
    /// subject may come after the dates it keys.
    fn find_subjects(
        &mut self,
        buf: &[u8],
        span: Range<usize>,
        records: bool,
        column: &str,
    ) -> Result<(), Stop> {
        let subjects = &mut self.subjects;
        subjects.clear();
        walk(buf, span, records, &mut |path, tok| {
            if !path.eq_ignore_ascii_case(column)
                || subjects.last().is_some_and(|(r, _)| *r == tok.record)
            {
                return Ok(());
            }
            let mut value = Vec::new();
            match tok.kind {
                Kind::Num => value.extend_from_slice(&buf[tok.span.clone()]),
                Kind::Str { .. } => decode(&buf[tok.span.start + 1..tok.span.end - 1], &mut value),
            }
            subjects.push((tok.record, value));
            Ok(())
        })
    }

    /// Runs every value of `buf[span]` (one line, or a document whose first line is
    /// `first_line`) through [`Cells`]. Returns whether anything changed; if so [`State::out`]
    /// holds the rewritten span.
    #[allow(clippy::too_many_arguments)]
    fn rewrite(
        &mut self,
        buf: &[u8],
        span: Range<usize>,
        base: u64,
        first_line: u64,
        rows: Rows,
        opts: &RunOptions<'_>,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
    ) -> Result<bool, Stop> {
        let records = matches!(rows, Rows::Record);
        if let Some(column) = opts.subject_column {
            self.find_subjects(buf, span.clone(), records, column)?;
        }
        let State {
            cells,
            engine,
            columns,
            paths,
            text,
            out,
            scrub,
            subjects,
            select,
        } = self;
        out.clear();
        // The record whose subject is set (none yet).
        let mut subject_of = 0;
        let (end, mut last, mut changed) = (span.end, span.start, false);
        // Columns are counted on from the last place asked for, so many findings on one long
        // line stay linear.
        let col_memo = Cell::new((usize::MAX, 0usize, 0u64));
        walk(buf, span, records, &mut |path, tok| {
            if !select.matches(path) {
                return Ok(());
            }
            if !paths.contains_key(path) {
                // First seen after the sample: its name alone decides.
                let class = cells.classify(columns, path, &[]);
                tell_class(opts, path, &class);
                let pc = PathClass::new(engine, opts, path, class);
                paths.insert(path.to_string(), pc);
            }
            let Some(pc) = paths.get(path) else {
                return Ok(());
            };
            let (inner, escaped) = match tok.kind {
                // Numbers are cells only where the path says identifier.
                Kind::Num if !pc.numbers => return Ok(()),
                Kind::Num => (tok.span.clone(), false),
                Kind::Str { escaped } => (tok.span.start + 1..tok.span.end - 1, escaped),
            };
            let value: &[u8] = if escaped {
                text.clear();
                decode(&buf[inner.clone()], text);
                text
            } else {
                &buf[inner.clone()]
            };
            let line = first_line + tok.line;
            let row = match rows {
                Rows::Line(l) => l,
                Rows::Record => tok.record,
            };
            if opts.subject_column.is_some() && subject_of != tok.record {
                subject_of = tok.record;
                // A JSON line is one record whatever its shape.
                let subject = subjects
                    .iter()
                    .find(|(r, _)| !records || *r == tok.record)
                    .map(|(_, v)| v.as_slice());
                cells.set_subject(subject);
            }
            let raw_memo = Cell::new((0usize, inner.start));
            let place = |pos: usize| {
                let at = raw_at(buf, &inner, escaped, pos, &raw_memo);
                let column = column(buf, tok.line_start, at, &col_memo);
                (base + at as u64, line, column)
            };
            let hit = cells.cell(
                value,
                &pc.class,
                pc.field.as_ref(),
                row,
                &place,
                opts,
                *scrub,
                &mut *found,
            )?;
            if hit {
                out.extend_from_slice(&buf[last..tok.span.start]);
                let new = &cells.value;
                if matches!(tok.kind, Kind::Num) && is_json_integer(new) {
                    out.extend_from_slice(new);
                } else {
                    encode_string(new, buf[tok.span.clone()].is_ascii(), out);
                }
                last = tok.span.end;
                changed = true;
            }
            Ok(())
        })?;
        if changed {
            out.extend_from_slice(&buf[last..end]);
        }
        Ok(changed)
    }
}

/// String values seen in the sample, by key path. Numbers are not sampled: a column of counts
/// or timestamps must not become identifiers because of what its digits happen to look like;
/// only a path's name (or its string values) makes its numbers identifiers.
struct Samples {
    by_path: HashMap<String, Vec<Vec<u8>>>,
}

impl Samples {
    fn new() -> Samples {
        Samples {
            by_path: HashMap::new(),
        }
    }

    /// Adds the string values of `buf[span]`, up to [`SAMPLE_ROWS`] per path.
    fn collect(&mut self, buf: &[u8], span: Range<usize>, records: bool) -> Result<(), Syntax> {
        let by_path = &mut self.by_path;
        walk::<std::convert::Infallible>(buf, span, records, &mut |path, tok| {
            let Kind::Str { escaped } = tok.kind else {
                return Ok(());
            };
            if by_path.get(path).is_some_and(|v| v.len() >= SAMPLE_ROWS) {
                return Ok(());
            }
            let inner = &buf[tok.span.start + 1..tok.span.end - 1];
            let mut value = Vec::with_capacity(inner.len());
            if escaped {
                decode(inner, &mut value);
            } else {
                value.extend_from_slice(inner);
            }
            match by_path.get_mut(path) {
                Some(v) => v.push(value),
                None => {
                    by_path.insert(path.to_string(), vec![value]);
                }
            }
            Ok(())
        })
        .map_err(|e| match e {
            Stop::Syntax(s) => s,
            Stop::Visit(never) => match never {},
        })
    }
}

/// Hands a key path's class to `opts.classes` (the empty path of a top-level scalar is no
/// column).
fn tell_class(opts: &RunOptions<'_>, path: &str, class: &ColumnClass) {
    if path.is_empty() {
        return;
    }
    if let Some(Ok(mut all)) = opts.classes.map(|m| m.lock()) {
        all.push(class.clone());
    }
}

fn add_progress(opts: &RunOptions<'_>, n: usize) {
    if let Some(p) = opts.progress {
        p.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Appends up to `want` bytes; returns whether the input ended. Interactive input (standard
/// input) takes what one read gives (at most [`READ_SIZE`]: the space offered is zeroed first,
/// and a long line arriving in small pieces must not cost its length each time), so lines go
/// out as they come.
fn fill(
    input: &mut dyn Read,
    buf: &mut Vec<u8>,
    want: usize,
    base: u64,
    interactive: bool,
) -> Result<bool, PipelineError> {
    let before = buf.len();
    let err = |source| PipelineError::Read {
        offset: base + before as u64,
        source,
    };
    if interactive {
        buf.resize(before + want.min(READ_SIZE), 0);
        loop {
            match input.read(&mut buf[before..]) {
                Ok(n) => {
                    buf.truncate(before + n);
                    return Ok(n == 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    buf.truncate(before);
                    return Err(err(e));
                }
            }
        }
    }
    let n = input.take(want as u64).read_to_end(buf).map_err(err)?;
    Ok(n < want)
}

// ---------------------------------------------------------------------------------------------
// One line at a time, for a line filter (`phiscrub filter`) that answers each line on its own.

/// The key paths a line filter rewrites: a name selects that path and everything under it
/// (`patient` selects `patient.ssn` and `patient.ids[]`); no names select every path.
#[derive(Debug, Clone, Default)]
pub struct FieldSelect {
    names: Vec<String>,
}

impl FieldSelect {
    /// Every key path.
    pub fn all() -> FieldSelect {
        FieldSelect::default()
    }

    /// Only these key paths and what lies under them; an empty list selects all.
    pub fn new(names: Vec<String>) -> FieldSelect {
        FieldSelect { names }
    }

    pub fn matches(&self, path: &str) -> bool {
        self.names.is_empty()
            || self.names.iter().any(|n| {
                path.strip_prefix(n.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
            })
    }
}

/// Why a line is not JSON: the byte offset in the line and what was wrong, never content.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("malformed JSON: {what} at byte {at}")]
    Syntax { at: usize, what: &'static str },
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// Key paths remembered by a [`LineRewriter`] before the memo starts over, so a stream of ever
/// new keys (ids as keys) cannot grow it without bound.
const MAX_LINE_PATHS: usize = 4096;

/// Rewrites JSON values one line at a time, with the same per-cell logic as [`run`]. There is no
/// sample: a key path is classified by its name alone, as `run` does for a path first seen
/// after its sample, so each line's answer depends on that line only.
pub struct LineRewriter<'e, 'c> {
    st: State<'e, 'c>,
}

impl<'e, 'c> LineRewriter<'e, 'c> {
    pub fn new(engine: &'e Engine, columns: &'c ColumnRules, select: FieldSelect) -> Self {
        LineRewriter {
            st: State {
                cells: Cells::new(engine),
                engine,
                columns,
                paths: HashMap::new(),
                text: Vec::new(),
                out: Vec::new(),
                scrub: true,
                subjects: Vec::new(),
                select,
            },
        }
    }

    /// Rewrites the JSON value in `line` (surrounding white space allowed; nothing but white
    /// space is no value and unchanged). Returns whether it changed; if so [`Self::out`] holds
    /// the rewritten line, every byte outside the changed values as it was.
    ///
    /// # Errors
    /// [`LineError::Syntax`] for a line that is not one JSON value (invalid UTF-8 in a string
    /// included); `opts.mode` is ignored (this always rewrites).
    pub fn rewrite(
        &mut self,
        line: &[u8],
        row: u64,
        opts: &RunOptions<'_>,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
    ) -> Result<bool, LineError> {
        if self.st.paths.len() > MAX_LINE_PATHS {
            self.st.paths.clear();
            self.st.cells.forget_columns();
        }
        self.st
            .rewrite(line, 0..line.len(), 0, row, Rows::Line(row), opts, found)
            .map_err(|e| match e {
                Stop::Syntax(s) => LineError::Syntax {
                    at: s.at,
                    what: s.what,
                },
                Stop::Visit(p) => LineError::Pipeline(p),
            })
    }

    /// The last rewritten line (valid after [`Self::rewrite`] returned `Ok(true)`).
    pub fn out(&self) -> &[u8] {
        &self.st.out
    }

    /// Scrubs `value` as one cell with no column (plain text), with the same scanner; returns
    /// whether it changed, the new value then in [`Self::value`].
    ///
    /// # Errors
    /// Only what `found` returns.
    pub fn text(
        &mut self,
        value: &[u8],
        row: u64,
        opts: &RunOptions<'_>,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
    ) -> Result<bool, PipelineError> {
        let class = ColumnClass::scanned("");
        let place = |_: usize| (0, row, 0);
        self.st
            .cells
            .cell(value, &class, None, row, &place, opts, true, found)
    }

    /// The value [`Self::text`] rewrote.
    pub fn value(&self) -> &[u8] {
        &self.st.cells.value
    }

    /// The totals, and the scanner back to the pool.
    pub fn finish(self) -> Stats {
        self.st.cells.finish()
    }
}

// ---------------------------------------------------------------------------------------------
// The tokenizer: validates one JSON value and reports the byte span and key path of every
// string and number value in it.

/// A syntax error at byte `at` of the buffer.
#[derive(Debug)]
struct Syntax {
    at: usize,
    what: &'static str,
}

/// Why a walk stopped: bad JSON, or the visitor's error.
enum Stop<E = PipelineError> {
    Syntax(Syntax),
    Visit(E),
}

impl<E> From<Syntax> for Stop<E> {
    fn from(s: Syntax) -> Stop<E> {
        Stop::Syntax(s)
    }
}

impl Stop {
    fn into_error(self, base: u64, line: u64) -> PipelineError {
        match self {
            Stop::Syntax(s) => syntax_error(&s, base, line),
            Stop::Visit(p) => p,
        }
    }
}

/// The message names the place, never the content.
fn syntax_error(s: &Syntax, base: u64, line: u64) -> PipelineError {
    PipelineError::Format(format!(
        "malformed JSON: {} at byte {} (line {line})",
        s.what,
        base + s.at as u64
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str { escaped: bool },
    Num,
}

/// One string or number value.
#[derive(Debug)]
struct Token {
    /// Bytes of the value in the buffer, quotes included.
    span: Range<usize>,
    kind: Kind,
    /// Newlines between the start of the walk and the value.
    line: u64,
    /// Where the value's line starts in the buffer.
    line_start: usize,
    /// 1-based element of a top-level array the value is in (1 outside one).
    record: u64,
}

/// An open object or array, with the length of the key path before it.
#[derive(Clone, Copy)]
enum Frame {
    Object(usize),
    Array(usize),
}

struct Walker<'a> {
    b: &'a [u8],
    i: usize,
    end: usize,
    line: u64,
    line_start: usize,
}

/// Walks the JSON value in `b[span]` (surrounding whitespace allowed; nothing but whitespace is
/// no value and fine), calling `visit` with the key path of every string and number value, in
/// order. With `records`, the elements of a top-level array are records and paths are relative
/// to them. The walk is iterative, so deep nesting cannot overflow the stack.
fn walk<E>(
    b: &[u8],
    span: Range<usize>,
    records: bool,
    visit: &mut dyn FnMut(&str, &Token) -> Result<(), E>,
) -> Result<(), Stop<E>> {
    let mut w = Walker {
        b,
        i: span.start,
        end: span.end,
        line: 0,
        line_start: span.start,
    };
    let mut path = String::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut record = 0u64;
    let mut key = Vec::new();
    w.ws();
    if w.i == w.end {
        return Ok(());
    }
    loop {
        // A value.
        w.ws();
        if let [Frame::Array(_)] = stack.as_slice() {
            record += 1;
        }
        let start = w.i;
        let kind = match w.peek() {
            Some(b'{') => {
                w.i += 1;
                stack.push(Frame::Object(path.len()));
                w.ws();
                if w.peek() == Some(b'}') {
                    w.i += 1;
                    stack.pop();
                } else {
                    w.key(&mut path, &mut key)?;
                    continue;
                }
                None
            }
            Some(b'[') => {
                w.i += 1;
                let len = path.len();
                if !(records && stack.is_empty()) {
                    path.push_str("[]");
                }
                stack.push(Frame::Array(len));
                w.ws();
                if w.peek() == Some(b']') {
                    w.i += 1;
                    stack.pop();
                    path.truncate(len);
                } else {
                    continue;
                }
                None
            }
            Some(b'"') => Some(Kind::Str {
                escaped: w.string()?,
            }),
            Some(b'-' | b'0'..=b'9') => {
                w.number()?;
                Some(Kind::Num)
            }
            Some(b't') => w.literal(b"true").map(|()| None)?,
            Some(b'f') => w.literal(b"false").map(|()| None)?,
            Some(b'n') => w.literal(b"null").map(|()| None)?,
            Some(_) => return Err(w.error(start, "unexpected character").into()),
            None => return Err(w.error(start, "unexpected end").into()),
        };
        if let Some(kind) = kind {
            let tok = Token {
                span: start..w.i,
                kind,
                line: w.line,
                line_start: w.line_start,
                record: record.max(1),
            };
            visit(&path, &tok).map_err(Stop::Visit)?;
        }
        // After a value: close what ends here, up to the next value.
        loop {
            w.ws();
            let at = w.i;
            match (stack.last().copied(), w.peek()) {
                (None, None) => return Ok(()),
                (None, Some(_)) => return Err(w.error(at, "text after the JSON value").into()),
                (Some(Frame::Object(len)), Some(b',')) => {
                    w.i += 1;
                    path.truncate(len);
                    w.ws();
                    w.key(&mut path, &mut key)?;
                    break;
                }
                (Some(Frame::Object(len)), Some(b'}')) | (Some(Frame::Array(len)), Some(b']')) => {
                    w.i += 1;
                    path.truncate(len);
                    stack.pop();
                }
                (Some(Frame::Array(_)), Some(b',')) => {
                    w.i += 1;
                    break;
                }
                (Some(Frame::Object(_)), Some(_)) => {
                    return Err(w.error(at, "expected ',' or '}'").into())
                }
                (Some(Frame::Array(_)), Some(_)) => {
                    return Err(w.error(at, "expected ',' or ']'").into())
                }
                (Some(_), None) => return Err(w.error(at, "unexpected end").into()),
            }
        }
    }
}

impl Walker<'_> {
    fn peek(&self) -> Option<u8> {
        (self.i < self.end).then(|| self.b[self.i])
    }

    fn error(&self, at: usize, what: &'static str) -> Syntax {
        Syntax { at, what }
    }

    /// Skips whitespace, counting lines.
    fn ws(&mut self) {
        while self.i < self.end {
            match self.b[self.i] {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\n' => {
                    self.i += 1;
                    self.line += 1;
                    self.line_start = self.i;
                }
                _ => break,
            }
        }
    }

    /// `"key" :` at the cursor; appends the decoded key to `path`.
    fn key(&mut self, path: &mut String, key: &mut Vec<u8>) -> Result<(), Syntax> {
        let start = self.i;
        if self.peek() != Some(b'"') {
            return Err(self.error(start, "expected a key"));
        }
        self.string()?;
        key.clear();
        decode(&self.b[start + 1..self.i - 1], key);
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(&String::from_utf8_lossy(key));
        self.ws();
        if self.peek() != Some(b':') {
            return Err(self.error(self.i, "expected ':'"));
        }
        self.i += 1;
        Ok(())
    }

    /// A string at the cursor (its opening quote); returns whether it has escapes.
    fn string(&mut self) -> Result<bool, Syntax> {
        let b = &self.b[..self.end];
        let start = self.i;
        let mut i = start + 1;
        let mut escaped = false;
        loop {
            let Some(k) = memchr::memchr2(b'"', b'\\', &b[i..]) else {
                return Err(self.error(start, "unterminated string"));
            };
            let stop = i + k;
            if let Some(c) = b[i..stop].iter().position(|&c| c < 0x20) {
                return Err(self.error(i + c, "control character in a string"));
            }
            if b[stop] == b'"' {
                i = stop + 1;
                break;
            }
            escaped = true;
            i = stop + self.escape(stop)?;
        }
        if let Err(e) = std::str::from_utf8(&b[start + 1..i - 1]) {
            return Err(self.error(start + 1 + e.valid_up_to(), "invalid UTF-8 in a string"));
        }
        self.i = i;
        Ok(escaped)
    }

    /// Checks the escape at `at` (a backslash); returns its length.
    fn escape(&self, at: usize) -> Result<usize, Syntax> {
        let b = &self.b[..self.end];
        match b.get(at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(2),
            Some(b'u') => match hex4(b, at + 2) {
                Some(0xD800..=0xDBFF) => {
                    if b.get(at + 6) == Some(&b'\\') && b.get(at + 7) == Some(&b'u') {
                        if let Some(0xDC00..=0xDFFF) = hex4(b, at + 8) {
                            return Ok(12);
                        }
                    }
                    Err(self.error(at, "unpaired surrogate escape in a string"))
                }
                Some(0xDC00..=0xDFFF) => {
                    Err(self.error(at, "unpaired surrogate escape in a string"))
                }
                Some(_) => Ok(6),
                None => Err(self.error(at, "invalid \\u escape in a string")),
            },
            _ => Err(self.error(at, "invalid escape in a string")),
        }
    }

    fn number(&mut self) -> Result<(), Syntax> {
        let b = &self.b[..self.end];
        let start = self.i;
        let bad = || Syntax {
            at: start,
            what: "invalid number",
        };
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut i = start + usize::from(b.get(start) == Some(&b'-'));
        i = match b.get(i) {
            Some(b'0') => i + 1,
            Some(b'1'..=b'9') => digits(i),
            _ => return Err(bad()),
        };
        if b.get(i) == Some(&b'.') {
            let d = digits(i + 1);
            if d == i + 1 {
                return Err(bad());
            }
            i = d;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let d = digits(i);
            if d == i {
                return Err(bad());
            }
            i = d;
        }
        self.i = i;
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Syntax> {
        if self.b[self.i..self.end].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.error(self.i, "unexpected character"))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Escapes: decoding for detection, positions for reports, encoding for output.

/// Four hex digits at `at`.
fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let h = b.get(at..at + 4)?;
    let s = std::str::from_utf8(h).ok()?;
    if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// The escape at `at` (a backslash, already validated): its length and the character it is.
fn unescape(b: &[u8], at: usize) -> (usize, char) {
    let c = match b.get(at + 1) {
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => {
            let hi = hex4(b, at + 2).unwrap_or(0xFFFD);
            if (0xD800..=0xDBFF).contains(&hi) {
                let lo = hex4(b, at + 8).unwrap_or(0xDC00);
                let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF);
                return (12, char::from_u32(cp).unwrap_or('\u{FFFD}'));
            }
            char::from_u32(hi).unwrap_or('\u{FFFD}')
        }
        Some(&c) => char::from(c),
        None => '\u{FFFD}',
    };
    (if b.get(at + 1) == Some(&b'u') { 6 } else { 2 }, c)
}

/// Appends the decoded content of a validated string (without its quotes). Should a string
/// slip through unvalidated, a cut escape ends it rather than reading past it.
fn decode(inner: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(k) = memchr::memchr(b'\\', &inner[i..]) {
        out.extend_from_slice(&inner[i..i + k]);
        let (len, c) = unescape(inner, i + k);
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        i = (i + k + len).min(inner.len());
    }
    out.extend_from_slice(&inner[i..]);
}

/// The byte in `buf` where position `pos` of a cell's decoded value lies. Exact for every byte
/// outside escapes; a position inside a character written as an escape maps to the escape's
/// backslash. Counts on from the last position asked for (`memo`: decoded, raw), so the
/// findings of one long string stay linear.
fn raw_at(
    buf: &[u8],
    inner: &Range<usize>,
    escaped: bool,
    pos: usize,
    memo: &Cell<(usize, usize)>,
) -> usize {
    if !escaped {
        return (inner.start + pos).min(inner.end);
    }
    let (mut dec, mut raw) = memo.get();
    if dec > pos {
        (dec, raw) = (0, inner.start);
    }
    while dec < pos && raw < inner.end {
        let (r, d) = if buf[raw] == b'\\' {
            let (len, c) = unescape(&buf[..inner.end], raw);
            (len, c.len_utf8())
        } else {
            (1, 1)
        };
        if dec + d > pos {
            break;
        }
        raw += r;
        dec += d;
    }
    memo.set((dec, raw));
    raw
}

/// 1-based character column of byte `at` on the line starting at `line_start`; `memo` (line
/// start, byte, characters before it) lets the next call count on from here.
fn column(buf: &[u8], line_start: usize, at: usize, memo: &Cell<(usize, usize, u64)>) -> u64 {
    let (ls, from, chars) = memo.get();
    let (from, chars) = if ls == line_start && from <= at {
        (from, chars)
    } else {
        (line_start, 0)
    };
    let chars = chars
        + buf[from..at]
            .iter()
            .filter(|&&b| (b as i8) >= -0x40)
            .count() as u64;
    memo.set((line_start, at, chars));
    chars + 1
}

/// Whether a rewritten number can stay a JSON number: digits only, no leading zero. Anything
/// else (a token, `90+`, a placeholder, or `0123`) is written as a JSON string instead, so the
/// line stays valid JSON.
fn is_json_integer(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(u8::is_ascii_digit) && (v.len() == 1 || v[0] != b'0')
}

/// Appends `value` as a JSON string. `ascii` (the original was written in ASCII, non-ASCII as
/// `\u` escapes) keeps it so. Bytes that are not UTF-8 (a transform cutting a character) become
/// U+FFFD, as JSON has no way to carry them.
pub fn encode_string(value: &[u8], ascii: bool, out: &mut Vec<u8>) {
    out.push(b'"');
    for c in String::from_utf8_lossy(value).chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            c if (c as u32) < 0x20 || (ascii && !c.is_ascii()) => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.extend_from_slice(format!("\\u{unit:04x}").as_bytes());
                }
            }
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out.push(b'"');
}

/// A string or number inside a JSON document that another format holds in one cell (a MySQL
/// `JSON` column): its key path, its span in the document (quotes included), and whether it
/// is a string.
pub(crate) struct Inner {
    pub path: String,
    pub span: Range<usize>,
    pub string: bool,
}

/// The string and number values of the JSON document `doc` in order, or `None` when `doc` is
/// no valid JSON (its cell is then scanned as text).
pub(crate) fn inner_values(doc: &[u8]) -> Option<Vec<Inner>> {
    let mut out = Vec::new();
    walk::<()>(doc, 0..doc.len(), false, &mut |path, tok| {
        out.push(Inner {
            path: path.to_string(),
            span: tok.span.clone(),
            string: matches!(tok.kind, Kind::Str { .. }),
        });
        Ok(())
    })
    .ok()?;
    Some(out)
}

/// The content of an inner value: a string decoded, a number as it is.
pub(crate) fn inner_decode(doc: &[u8], v: &Inner) -> Vec<u8> {
    if v.string {
        let mut out = Vec::new();
        decode(&doc[v.span.start + 1..v.span.end - 1], &mut out);
        out
    } else {
        doc[v.span.clone()].to_vec()
    }
}

/// Appends a rewritten inner value: a JSON string, or a bare number where a number is still one.
pub(crate) fn inner_encode(new: &[u8], v: &Inner, out: &mut Vec<u8>) {
    if !v.string && is_json_integer(new) {
        out.extend_from_slice(new);
    } else {
        encode_string(new, false, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{EntityFilter, Mode};
    use crate::policy::Policy;
    use crate::transform::{key::Key, Transformer};
    use std::convert::Infallible;

    fn engine() -> Engine {
        Engine {
            detector: crate::detect::builtin().unwrap(),
            transformer: Transformer::new(Policy::defaults(true), Key::from_bytes(&[5; 32]).ok()),
            filter: EntityFilter::default(),
            min_score: 0.5,
        }
    }

    fn opts(progress: Option<&std::sync::atomic::AtomicU64>) -> RunOptions<'_> {
        RunOptions {
            mode: Mode::Scrub,
            threads: 1,
            limits: Default::default(),
            interactive: false,
            char_offsets: false,
            fingerprints: false,
            positions: true,
            tally: false,
            progress,
            ..RunOptions::default()
        }
    }

    /// Reads at most `step` bytes per call, so lines and escapes straddle every boundary.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn scrub(
        engine: &Engine,
        input: &mut dyn Read,
        document: bool,
    ) -> Result<(Vec<u8>, Vec<Located>, Stats), PipelineError> {
        let columns = ColumnRules::builtin().unwrap();
        let (mut out, mut found) = (Vec::new(), Vec::new());
        let stats = run(
            engine,
            &columns,
            input,
            Some(&mut out),
            document,
            &opts(None),
            &mut |l: &Located| {
                found.push(l.clone());
                Ok(())
            },
        )?;
        Ok((out, found, stats))
    }

    fn tokens(text: &str, records: bool) -> Vec<(String, String, Kind)> {
        let b = text.as_bytes();
        let mut v = Vec::new();
        walk::<Infallible>(b, 0..b.len(), records, &mut |p, t| {
            v.push((p.to_string(), text[t.span.clone()].to_string(), t.kind));
            Ok(())
        })
        .map_err(|e| match e {
            Stop::Syntax(s) => s,
            Stop::Visit(never) => match never {},
        })
        .unwrap();
        v
    }

    fn syntax(text: &[u8]) -> (usize, &'static str) {
        match walk::<Infallible>(text, 0..text.len(), false, &mut |_, _| Ok(())) {
            Err(Stop::Syntax(s)) => (s.at, s.what),
            _ => panic!("accepted: {}", String::from_utf8_lossy(text)),
        }
    }

    #[test]
    fn key_paths_and_spans() {
        let text = r#" {"patient": {"name": "Jane", "ids": [1, "a\"b", [2.5e3]]}, "c\u00e9": [{"x": -0}], "e": {}, "f": [], "g": true, "h": null} "#;
        let str_ = |escaped| Kind::Str { escaped };
        let want = vec![
            ("patient.name", r#""Jane""#, str_(false)),
            ("patient.ids[]", "1", Kind::Num),
            ("patient.ids[]", r#""a\"b""#, str_(true)),
            ("patient.ids[][]", "2.5e3", Kind::Num),
            ("cé[].x", "-0", Kind::Num),
        ];
        let got = tokens(text, false);
        assert_eq!(got.len(), want.len(), "{got:?}");
        for ((p, s, k), (wp, ws, wk)) in got.iter().zip(&want) {
            assert_eq!((p.as_str(), s.as_str(), *k), (*wp, *ws, *wk));
        }
        // top-level scalars have the empty path
        assert_eq!(tokens("\"x\"", false)[0].0, "");
        assert_eq!(tokens("42\r\n", false)[0].1, "42");
        // records: paths inside a top-level array are relative to its elements
        let doc = "[{\"ssn\": \"1\"},\n {\"a\": [\"2\"]}, \"3\"]";
        let got = tokens(doc, true);
        let paths: Vec<&str> = got.iter().map(|t| t.0.as_str()).collect();
        assert_eq!(paths, ["ssn", "a[]", ""]);
        assert_eq!(tokens(doc, false)[0].0, "[].ssn");
        let mut recs = Vec::new();
        let b = doc.as_bytes();
        walk::<Infallible>(b, 0..b.len(), true, &mut |_, t| {
            recs.push((t.record, t.line, t.line_start));
            Ok(())
        })
        .map_err(|_| ())
        .unwrap();
        assert_eq!(recs, [(1, 0, 0), (2, 1, 15), (3, 1, 15)]);
    }

    #[test]
    fn blank_spans_are_no_value() {
        for text in ["", " ", "\r\n", "\t \n"] {
            assert!(tokens(text, false).is_empty());
        }
    }

    #[test]
    fn malformed_json_is_rejected_with_its_place() {
        for (text, at, what) in [
            (&b"{\"a\": 1,}"[..], 8, "expected a key"),
            (b"[1,]", 3, "unexpected character"),
            (b"{\"a\" 1}", 5, "expected ':'"),
            (b"{\"a\": 1 \"b\": 2}", 8, "expected ',' or '}'"),
            (b"[1 2]", 3, "expected ',' or ']'"),
            (b"{\"a\": \"x}", 6, "unterminated string"),
            (b"\"a\\x\"", 2, "invalid escape in a string"),
            (b"\"\\u12G4\"", 1, "invalid \\u escape in a string"),
            (b"\"\\ud800\"", 1, "unpaired surrogate escape in a string"),
            (
                b"\"\\ud800\\u0041\"",
                1,
                "unpaired surrogate escape in a string",
            ),
            (b"\"\\udc00\"", 1, "unpaired surrogate escape in a string"),
            (b"\"a\tb\"", 2, "control character in a string"),
            (b"\"ab\xff\"", 3, "invalid UTF-8 in a string"),
            (b"\"\xc3\"", 1, "invalid UTF-8 in a string"),
            (b"01", 1, "text after the JSON value"),
            (b"1.", 0, "invalid number"),
            (b"-", 0, "invalid number"),
            (b"1e+", 0, "invalid number"),
            (b"+1", 0, "unexpected character"),
            (b"tru", 0, "unexpected character"),
            (b"nul", 0, "unexpected character"),
            (b"{} {}", 3, "text after the JSON value"),
            (b"{\"a\":", 5, "unexpected end"),
            (b"[", 1, "unexpected end"),
            (b"[1", 2, "unexpected end"),
            (b"'a'", 0, "unexpected character"),
        ] {
            assert_eq!(
                syntax(text),
                (at, what),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let depth = 200_000;
        let mut text = "[".repeat(depth);
        text.push_str("\"x\"");
        text.push_str(&"]".repeat(depth));
        let got = tokens(&text, false);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0.len(), 2 * depth);
    }

    #[test]
    fn escapes_decode_like_serde_json() {
        for raw in [
            r#""plain""#,
            r#""a\"b\\c\/d\b\f\n\r\t""#,
            r#""Ren\u00e9e \u4e2d \ud83d\ude00 \u0000 \u001f""#,
            r#""caf\u00E9""#,
        ] {
            let want: String = serde_json::from_str(raw).unwrap();
            let mut got = Vec::new();
            decode(&raw.as_bytes()[1..raw.len() - 1], &mut got);
            assert_eq!(String::from_utf8(got).unwrap(), want, "{raw}");
        }
    }

    #[test]
    fn encoded_strings_parse_back() {
        for value in [
            "plain",
            "quote \" backslash \\ slash /",
            "ctl \u{0} \u{1f} \u{8} \u{c} \n \r \t del \u{7f}",
            "Renée 中 😀 \u{2028}",
        ] {
            for ascii in [false, true] {
                let mut out = Vec::new();
                encode_string(value.as_bytes(), ascii, &mut out);
                let back: String = serde_json::from_slice(&out).unwrap();
                assert_eq!(back, value);
                assert_eq!(out.is_ascii(), ascii || value.is_ascii(), "{value}");
            }
        }
        let mut out = Vec::new();
        encode_string(b"a\xffb", false, &mut out);
        assert_eq!(out, "\"a\u{FFFD}b\"".as_bytes());
    }

    #[test]
    fn numbers_stay_numbers_only_when_they_can() {
        for (v, want) in [
            (&b"969451037"[..], true),
            (b"0", true),
            (b"0123", false),
            (b"", false),
            (b"MRN_X", false),
            (b"90+", false),
            (b"-5", false),
        ] {
            assert_eq!(is_json_integer(v), want, "{}", String::from_utf8_lossy(v));
        }
    }

    #[test]
    fn positions_inside_escaped_strings() {
        // decoded: "é (312) 447-2291" — é is 2 bytes decoded, 6 raw
        let raw = br#"{"note": "\u00e9 \"(312) 447-2291\""}"#;
        let inner = 10..raw.len() - 2;
        let memo = Cell::new((0, inner.start));
        let mut decoded = Vec::new();
        decode(&raw[inner.clone()], &mut decoded);
        let s = decoded.windows(3).position(|w| w == b"(31").unwrap();
        let at = raw_at(raw, &inner, true, s, &memo);
        assert_eq!(&raw[at..at + 14], b"(312) 447-2291");
        // inside the escaped é: its backslash; going back resets the memo
        assert_eq!(raw_at(raw, &inner, true, 1, &memo), 10);
        assert_eq!(raw_at(raw, &inner, true, 0, &memo), 10);
        assert_eq!(raw_at(raw, &inner, true, 2, &memo), 16);
        let col = Cell::new((usize::MAX, 0, 0));
        assert_eq!(column("ab\né x".as_bytes(), 3, 6, &col), 3);
        assert_eq!(column("ab\né x".as_bytes(), 3, 7, &col), 4);
        assert_eq!(column("ab\né x".as_bytes(), 3, 3, &col), 1);
    }

    fn sample_lines() -> Vec<u8> {
        let mut v = b"\xEF\xBB\xBF".to_vec();
        for i in 0..300 {
            v.extend_from_slice(
                format!(
                    "{{\"patient\": {{\"name\": \"Jane Doe{i}\", \"ssn\": \"536-22-{:04}\", \"mrn\": {}}}, \"note\": \"caf\\u00e9 call (312) 447-{:04}\", \"count\": {i}}}{}",
                    1000 + i,
                    4_482_913 + i,
                    2000 + i,
                    if i % 3 == 0 { "\r\n" } else { "\n" }
                )
                .as_bytes(),
            );
            if i % 50 == 0 {
                v.extend_from_slice(b"\n  \r\n{\"ok\": true, \"n\": [1, 2.5]}\n");
            }
        }
        v.extend_from_slice(b"{\"late_field\": \"x\", \"ssn\": 536228726}"); // no final newline
        v
    }

    /// The same output, findings and totals whatever sizes the reads come in.
    #[test]
    fn results_do_not_depend_on_read_sizes() {
        let engine = engine();
        let input = sample_lines();
        let (want, want_found, stats) = scrub(&engine, &mut &input[..], false).unwrap();
        assert_eq!(stats.bytes, input.len() as u64);
        assert!(want.starts_with(b"\xEF\xBB\xBF{"));
        assert!(want.ends_with(b"}"));
        assert_eq!(
            want.iter().filter(|&&b| b == b'\n').count(),
            input.iter().filter(|&&b| b == b'\n').count()
        );
        assert!(want_found.len() > 1200, "{}", want_found.len());
        let text = String::from_utf8(want[3..].to_vec()).unwrap();
        for l in text.lines() {
            if !l.trim().is_empty() {
                serde_json::from_str::<serde_json::Value>(l).unwrap();
            }
        }
        assert!(!text.contains("Jane Doe") && !text.contains("447-2") && !text.contains("4482913"));
        assert!(text.contains("\n  \r\n{\"ok\": true, \"n\": [1, 2.5]}\n"));
        assert!(
            text.contains("caf\\u00e9 call ("),
            "ASCII strings stay ASCII"
        );
        for f in &want_found {
            let line_start = input[..f.start as usize]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(3, |p| p + 1); // columns do not count the BOM
            assert_eq!(
                f.line,
                1 + input[..f.start as usize]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count() as u64
            );
            assert_eq!(f.row, Some(f.line));
            assert_eq!(
                f.column,
                1 + String::from_utf8_lossy(&input[line_start..f.start as usize])
                    .chars()
                    .count() as u64
            );
        }
        for step in [1, 7, 4096, 1 << 20] {
            let (out, found, st) =
                scrub(&engine, &mut Trickle { data: &input, step }, false).unwrap();
            assert_eq!(out, want, "step {step}");
            assert_eq!(found, want_found, "step {step}");
            assert_eq!(st, stats);
        }
    }

    #[test]
    fn progress_counts_every_byte() {
        let engine = engine();
        let columns = ColumnRules::builtin().unwrap();
        let input = sample_lines();
        for document in [false, true] {
            let data: Vec<u8> = if document {
                b"[{\"ssn\": \"536-22-8726\"}]".to_vec()
            } else {
                input.clone()
            };
            let counter = std::sync::atomic::AtomicU64::new(0);
            let stats = run::<Vec<u8>>(
                &engine,
                &columns,
                &mut &data[..],
                None,
                document,
                &opts(Some(&counter)),
                &mut |_| Ok(()),
            )
            .unwrap();
            assert_eq!(counter.into_inner(), data.len() as u64);
            assert_eq!(stats.bytes, data.len() as u64);
            assert!(stats.findings > 0);
            assert_eq!(stats.changed, 0, "scan changes nothing");
        }
    }

    #[test]
    fn a_line_of_tens_of_megabytes() {
        let engine = engine();
        let mut input = b"{\"note\": \"".to_vec();
        let n = 2_000;
        let filler = "lorem ipsum ".repeat(1000);
        for _ in 0..n {
            input.extend_from_slice(b"SSN 536-22-8726 x ");
            input.extend_from_slice(filler.as_bytes());
        }
        input.extend_from_slice(b"\"}\n{\"ssn\": \"219-45-6789\"}\n");
        assert!(input.len() > 16 << 20);
        let (out, found, _) = scrub(&engine, &mut &input[..], false).unwrap();
        assert_eq!(found.len(), n + 1);
        assert_eq!(found[n].row, Some(2));
        assert_eq!(found[n - 1].column, found[n - 1].start + 1);
        assert_eq!(&input[found[n - 1].start as usize..][..11], b"536-22-8726");
        assert!(!out
            .windows(11)
            .any(|w| w == b"536-22-8726" || w == b"219-45-6789"));
        assert_eq!(out.len(), input.len());
    }

    #[test]
    fn malformed_lines_name_line_and_byte() {
        let engine = engine();
        let input = b"{\"a\": 1}\n\n{\"ssn\": \"536-22-8726\",}\n";
        let err = scrub(&engine, &mut &input[..], false)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "malformed JSON: expected a key at byte 32 (line 3)");
        let doc = b"{\n  \"a\": [1,\n  2,,]\n}";
        let err = scrub(&engine, &mut &doc[..], true).unwrap_err().to_string();
        assert_eq!(
            err,
            "malformed JSON: unexpected character at byte 17 (line 3)"
        );
        // past the sample
        let mut late = b"{\"a\": 1}\n".repeat(300);
        late.extend_from_slice(b"{\"a\": \"536-22-8726\xff\"}\n");
        let err = scrub(&engine, &mut &late[..], false)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "malformed JSON: invalid UTF-8 in a string at byte {} (line 301)",
                2700 + 18
            )
        );
        assert!(!err.contains("536"));
    }

    #[test]
    fn documents_and_empty_inputs() {
        let engine = engine();
        for (data, document) in [
            (&b""[..], false),
            (b"", true),
            (b"\n\n", false),
            (b"  \n", true),
            (b"\xEF\xBB\xBF", true),
            (b"{\"ok\": true}", false),
            (b"[1, 2, {\"n\": null}]\n", true),
        ] {
            let (out, found, _) = scrub(&engine, &mut &data[..], document).unwrap();
            assert_eq!(out, data);
            assert!(found.is_empty());
        }
        let doc = b"\xEF\xBB\xBF{\"a\": {\"ssn\": \"536-22-8726\"}}\n";
        let (out, found, _) = scrub(&engine, &mut &doc[..], true).unwrap();
        assert!(out.starts_with(b"\xEF\xBB\xBF{\"a\": {\"ssn\": \"9"));
        assert!(out.ends_with(b"\"}}\n"));
        assert_eq!(found[0].field.as_deref(), Some("a.ssn"));
        assert_eq!(found[0].row, Some(1));
    }

    #[test]
    fn field_selection() {
        let sel = FieldSelect::new(vec!["msg".into(), "patient".into(), "$!".into()]);
        for (path, want) in [
            ("msg", true),
            ("msg.x", true),
            ("msg[]", true),
            ("msgid", false),
            ("patient.ssn", true),
            ("patients", false),
            ("$!.user.email", true),
            ("note", false),
            ("", false),
        ] {
            assert_eq!(sel.matches(path), want, "{path}");
        }
        assert!(FieldSelect::all().matches("anything.at[].all"));
    }

    #[test]
    fn line_rewriter_memo_stays_bounded() {
        let engine = engine();
        let columns = ColumnRules::builtin().unwrap();
        let mut r = LineRewriter::new(&engine, &columns, FieldSelect::all());
        for i in 0..MAX_LINE_PATHS * 2 {
            let line = format!("{{\"k{i}\": \"x\", \"ssn\": \"536-22-8726\"}}");
            assert!(r
                .rewrite(line.as_bytes(), 1, &opts(None), &mut |_| Ok(()))
                .unwrap());
            assert!(r.st.paths.len() <= MAX_LINE_PATHS + 2);
        }
        assert!(!String::from_utf8_lossy(r.out()).contains("536-22-8726"));
        let err = r
            .rewrite(b"{\"a\": 1,}", 1, &opts(None), &mut |_| Ok(()))
            .unwrap_err();
        assert_eq!(err.to_string(), "malformed JSON: expected a key at byte 8");
    }
}
