//! CSV and TSV files, column-aware: the header names each column, the classifier decides from
//! the name and a sample of values whether a column is one entity (every value is replaced),
//! is kept, or is free text scanned cell by cell with the column name as context. A field
//! that does not change is written back byte for byte as it was read (same quoting); a changed
//! one is re-encoded with the quoting it had, or the quoting its new value needs.
//!
//! Records stream through a bounded buffer; the first records (up to [`SAMPLE_ROWS`]) are the
//! sample the columns are classified on.

use std::io::{self, Read, Write};
use std::sync::Arc;

use super::cells::Cells;
use super::csv_codec::{self as codec, CsvError, Dialect, Record};
use crate::classify::{ColumnClass, ColumnRules};
use crate::pipeline::{Engine, Located, PipelineError, RunOptions, Stats};

/// Data rows sampled to classify columns.
pub const SAMPLE_ROWS: usize = 200;
/// Bytes read at a time.
const READ_SIZE: usize = 1 << 20;

/// Per-column state decided once from the header and the sample.
struct Column {
    name: Arc<str>,
    class: ColumnClass,
}

/// Rewrites (or, without `output`, scans) one CSV stream.
///
/// # Errors
/// Read and write errors, and malformed CSV (with byte offset and record number, never data).
#[allow(clippy::too_many_arguments)]
pub fn run<W: Write + ?Sized>(
    engine: &Engine,
    columns: &ColumnRules,
    input: &mut dyn Read,
    mut output: Option<&mut W>,
    dialect: Option<Dialect>,
    opts: &RunOptions<'_>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<Stats, PipelineError> {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_SIZE * 2);
    let mut base: u64 = 0; // stream offset of buf[0]
    let mut eof = fill(input, &mut buf, READ_SIZE * 4, base)?;
    let bom = codec::bom_len(&buf);
    if let Some(w) = output.as_deref_mut() {
        w.write_all(&buf[..bom]).map_err(PipelineError::Write)?;
    }
    let dialect =
        dialect.unwrap_or_else(|| codec::sniff(&buf[bom..buf.len().min(bom + (64 << 10))]));
    let mut st = State {
        cells: Cells::new(engine),
        dialect,
        line: 1,
        row: 0,
        cols: Vec::new(),
        subject: None,
        out: Vec::new(),
    };
    let mut records: Vec<Record> = Vec::new();
    let mut pos = bom;
    let mut record_no = 1u64;
    let mut header_done = false;
    loop {
        records.clear();
        let resume = codec::split_records(&buf, pos, eof, dialect, record_no, &mut records)
            .map_err(|e| csv_error(e, base))?;
        record_no += records.len() as u64;
        let mut first = 0;
        if !header_done && !records.is_empty() {
            header_done = true;
            // The header, then the sample the columns are classified on.
            let header = &records[0];
            let names: Vec<Arc<str>> = header
                .fields
                .iter()
                .map(|f| {
                    Arc::from(String::from_utf8_lossy(&codec::decode(&buf, f, dialect)).trim())
                })
                .collect();
            let sample = &records[1..records.len().min(SAMPLE_ROWS + 1)];
            st.cols = names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let values: Vec<std::borrow::Cow<'_, [u8]>> = sample
                        .iter()
                        .filter_map(|r| r.fields.get(i).map(|f| codec::decode(&buf, f, dialect)))
                        .collect();
                    let refs: Vec<&[u8]> = values.iter().map(|v| v.as_ref()).collect();
                    Column {
                        name: name.clone(),
                        class: st.cells.classify(columns, name, &refs),
                    }
                })
                .collect();
            st.subject = opts
                .subject_column
                .and_then(|s| names.iter().position(|n| n.eq_ignore_ascii_case(s)));
            st.copy_record(&buf, &records[0], output.as_deref_mut())?;
            first = 1;
        }
        for r in &records[first..] {
            st.row += 1;
            st.record(&buf, r, base, opts, found, output.as_deref_mut())?;
        }
        if let Some(p) = opts.progress {
            p.fetch_add((resume - pos) as u64, std::sync::atomic::Ordering::Relaxed);
        }
        if eof {
            break;
        }
        // Keep the unfinished record, read more.
        buf.drain(..resume);
        base += resume as u64;
        pos = 0;
        eof = fill(input, &mut buf, READ_SIZE, base)?;
    }
    if let Some(w) = output {
        w.flush().map_err(PipelineError::Write)?;
    }
    let mut stats = st.cells.finish();
    stats.bytes = base + buf.len() as u64;
    Ok(stats)
}

/// Classes of the columns of a CSV stream's header and sample, for `phiscrub profile`.
///
/// # Errors
/// As [`run`].
pub fn profile(
    engine: &Engine,
    columns: &ColumnRules,
    input: &mut dyn Read,
    dialect: Option<Dialect>,
) -> Result<Vec<ColumnClass>, PipelineError> {
    let mut buf = Vec::new();
    let eof = fill(input, &mut buf, READ_SIZE * 4, 0)?;
    let bom = codec::bom_len(&buf);
    let dialect =
        dialect.unwrap_or_else(|| codec::sniff(&buf[bom..buf.len().min(bom + (64 << 10))]));
    let mut records = Vec::new();
    codec::split_records(&buf, bom, eof, dialect, 1, &mut records).map_err(|e| csv_error(e, 0))?;
    let Some(header) = records.first() else {
        return Ok(Vec::new());
    };
    let mut scanner = engine.detector.scanner();
    let sample = &records[1..records.len().min(SAMPLE_ROWS + 1)];
    let classes = header
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let name = String::from_utf8_lossy(&codec::decode(&buf, f, dialect))
                .trim()
                .to_string();
            let values: Vec<std::borrow::Cow<'_, [u8]>> = sample
                .iter()
                .filter_map(|r| r.fields.get(i).map(|f| codec::decode(&buf, f, dialect)))
                .collect();
            let refs: Vec<&[u8]> = values.iter().map(|v| v.as_ref()).collect();
            columns.classify(&name, &refs, &mut scanner, engine.min_score)
        })
        .collect();
    engine.detector.recycle(scanner);
    Ok(classes)
}

fn csv_error(e: CsvError, base: u64) -> PipelineError {
    let (offset, record, what) = match e {
        CsvError::Unterminated { offset, record } => (offset, record, "unterminated quoted field"),
        CsvError::StrayQuote { offset, record } => {
            (offset, record, "stray quote inside an unquoted field")
        }
        CsvError::AfterQuote { offset, record } => {
            (offset, record, "text after the closing quote of a field")
        }
    };
    PipelineError::Format(format!(
        "malformed CSV: {what} at byte {} (record {record})",
        base + offset as u64
    ))
}

/// Appends up to `want` bytes; returns whether the input ended.
fn fill(
    input: &mut dyn Read,
    buf: &mut Vec<u8>,
    want: usize,
    base: u64,
) -> Result<bool, PipelineError> {
    let before = buf.len();
    let n = input
        .take(want as u64)
        .read_to_end(buf)
        .map_err(|source| PipelineError::Read {
            offset: base + before as u64,
            source,
        })?;
    Ok(n < want)
}

struct State<'e> {
    cells: Cells<'e>,
    dialect: Dialect,
    /// 1-based line of the next record.
    line: u64,
    /// 1-based data row of the current record.
    row: u64,
    cols: Vec<Column>,
    /// Index of the `--subject-column`, when the header has it.
    subject: Option<usize>,
    out: Vec<u8>,
}

/// The class of a column past the header's end (a ragged row): scanned.
fn extra_column() -> &'static Column {
    static EXTRA: std::sync::OnceLock<Column> = std::sync::OnceLock::new();
    EXTRA.get_or_init(|| Column {
        name: Arc::from(""),
        class: ColumnClass::scanned(""),
    })
}

impl State<'_> {
    fn copy_record<W: Write + ?Sized>(
        &mut self,
        buf: &[u8],
        r: &Record,
        output: Option<&mut W>,
    ) -> Result<(), PipelineError> {
        self.line += memchr::memchr_iter(b'\n', &buf[r.span.clone()]).count() as u64;
        if let Some(w) = output {
            w.write_all(&buf[r.span.clone()])
                .map_err(PipelineError::Write)?;
        }
        Ok(())
    }

    fn record<W: Write + ?Sized>(
        &mut self,
        buf: &[u8],
        r: &Record,
        base: u64,
        opts: &RunOptions<'_>,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
        output: Option<&mut W>,
    ) -> Result<(), PipelineError> {
        let scrub = output.is_some();
        self.out.clear();
        let subject = self
            .subject
            .and_then(|i| r.fields.get(i))
            .map(|f| codec::decode(buf, f, self.dialect));
        self.cells.set_subject(subject.as_deref());
        let mut changed_any = false;
        let (line, dialect) = (self.line, self.dialect);
        for (i, f) in r.fields.iter().enumerate() {
            if i > 0 {
                self.out.push(dialect.delimiter);
            }
            let raw = &buf[f.raw.clone()];
            let col = self.cols.get(i).unwrap_or_else(|| extra_column());
            let value = codec::decode(buf, f, dialect);
            let inner = f.raw.start + usize::from(f.quoted);
            let place = |pos: usize| {
                let at = raw_offset(buf, inner, pos, dialect.quote);
                let before = &buf[r.span.start..at];
                let nl = memchr::memchr_iter(b'\n', before).count() as u64;
                let ls =
                    memchr::memrchr(b'\n', before).map_or(r.span.start, |p| r.span.start + p + 1);
                let column = buf[ls..at].iter().filter(|&&b| (b as i8) >= -0x40).count() as u64 + 1;
                (base + at as u64, line + nl, column)
            };
            let field = (!col.name.is_empty()).then_some(&col.name);
            let changed = self.cells.cell(
                &value, &col.class, field, self.row, &place, opts, scrub, found,
            )?;
            if changed {
                changed_any = true;
                codec::encode(&self.cells.value, dialect, f.quoted, &mut self.out);
            } else {
                self.out.extend_from_slice(raw);
            }
        }
        let end_of_fields = r.fields.last().map_or(r.span.start, |f| f.raw.end);
        self.line += memchr::memchr_iter(b'\n', &buf[r.span.clone()]).count() as u64;
        if let Some(w) = output {
            if changed_any {
                self.out.extend_from_slice(&buf[end_of_fields..r.span.end]);
                w.write_all(&self.out).map_err(PipelineError::Write)?;
            } else {
                w.write_all(&buf[r.span.clone()])
                    .map_err(PipelineError::Write)?;
            }
        }
        Ok(())
    }
}

/// The byte in `buf` where decoded position `pos` of a field starting (after its opening quote)
/// at `inner` lies: every doubled quote before it adds one byte.
fn raw_offset(buf: &[u8], inner: usize, pos: usize, quote: u8) -> usize {
    let (mut raw, mut dec) = (inner, 0);
    while dec < pos && raw < buf.len() {
        raw += if buf[raw] == quote { 2 } else { 1 };
        dec += 1;
    }
    raw
}
