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

use super::csv_codec::{self as codec, CsvError, Dialect, Record};
use crate::classify::{ColumnClass, ColumnRules, How};
use crate::detect::{Context, Finding};
use crate::entity::Entity;
use crate::pipeline::{Engine, Located, PipelineError, RunOptions, Stats};
use crate::policy::Action;

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
    let mut scanner = engine.detector.scanner();
    let mut st = State {
        engine,
        dialect,
        stats: Stats::default(),
        line: 1,
        row: 0,
        cols: Vec::new(),
        found: Vec::new(),
        out: Vec::new(),
        value: Vec::new(),
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
                        class: columns.classify(name, &refs, &mut scanner, engine.min_score),
                    }
                })
                .collect();
            st.copy_record(&buf, &records[0], base, output.as_deref_mut())?;
            first = 1;
        }
        for r in &records[first..] {
            st.row += 1;
            st.record(
                &buf,
                r,
                base,
                &mut scanner,
                opts,
                found,
                output.as_deref_mut(),
            )?;
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
    st.stats.bytes = base + buf.len() as u64;
    if let Some(w) = output {
        w.flush().map_err(PipelineError::Write)?;
    }
    engine.detector.recycle(scanner);
    Ok(st.stats)
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
    engine: &'e Engine,
    dialect: Dialect,
    stats: Stats,
    /// 1-based line of the next record.
    line: u64,
    /// 1-based data row of the current record.
    row: u64,
    cols: Vec<Column>,
    found: Vec<Finding>,
    out: Vec<u8>,
    value: Vec<u8>,
}

impl State<'_> {
    fn copy_record<W: Write + ?Sized>(
        &mut self,
        buf: &[u8],
        r: &Record,
        _base: u64,
        output: Option<&mut W>,
    ) -> Result<(), PipelineError> {
        self.line += memchr::memchr_iter(b'\n', &buf[r.span.clone()]).count() as u64;
        if let Some(w) = output {
            w.write_all(&buf[r.span.clone()])
                .map_err(PipelineError::Write)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn record<W: Write + ?Sized>(
        &mut self,
        buf: &[u8],
        r: &Record,
        base: u64,
        scanner: &mut crate::detect::Scanner,
        opts: &RunOptions<'_>,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
        output: Option<&mut W>,
    ) -> Result<(), PipelineError> {
        let scrub = output.is_some();
        self.out.clear();
        let mut changed_any = false;
        for (i, f) in r.fields.iter().enumerate() {
            if i > 0 {
                self.out.push(self.dialect.delimiter);
            }
            let raw = &buf[f.raw.clone()];
            let col = self.cols.get(i);
            if col.is_some_and(|c| c.class.keep) || raw.is_empty() {
                self.out.extend_from_slice(raw);
                continue;
            }
            let value = codec::decode(buf, f, self.dialect);
            let name = col.map(|c| c.name.clone());
            let changed = match col.and_then(|c| c.class.entity.map(|e| (e, c.class.how))) {
                Some((e, how)) => {
                    self.whole(buf, r, f, &value, e, how, name, base, opts, found, scrub)?
                }
                None => self.cells(buf, r, f, &value, name, base, scanner, opts, found, scrub)?,
            };
            if changed {
                changed_any = true;
                let v = std::mem::take(&mut self.value);
                codec::encode(&v, self.dialect, f.quoted, &mut self.out);
                self.value = v;
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

    /// A field of a classified column: the whole value is one finding. Returns whether the
    /// output value (in `self.value`) differs from the input.
    #[allow(clippy::too_many_arguments)]
    fn whole(
        &mut self,
        buf: &[u8],
        r: &Record,
        f: &codec::Field,
        value: &[u8],
        e: Entity,
        how: Option<How>,
        name: Option<Arc<str>>,
        base: u64,
        opts: &RunOptions<'_>,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
        scrub: bool,
    ) -> Result<bool, PipelineError> {
        let trimmed = value.trim_ascii();
        if trimmed.is_empty() {
            return Ok(false);
        }
        if e == Entity::AgeOver89 && !age_over_89(trimmed) {
            return Ok(false);
        }
        if !self.engine.filter.allows(e) {
            return Ok(false);
        }
        let rule = self.engine.detector.column_rule(e);
        let score = match how {
            Some(How::Both) => 0.99,
            Some(How::Header) => 0.95,
            _ => 0.9,
        };
        let loc = self.locate(
            buf,
            r,
            f.raw.start,
            f.raw.end,
            base,
            e,
            rule,
            score,
            value,
            name,
            opts,
        );
        found(&loc).map_err(PipelineError::Report)?;
        self.stats.findings += 1;
        let rule_id = crate::detect::engine::column_rule_id(e);
        let action = self.engine.transformer.action(e, &rule_id);
        if !scrub || action == Action::Keep {
            return Ok(false);
        }
        self.value.clear();
        self.engine
            .transformer
            .apply(e, &rule_id, value, &mut self.value);
        self.stats.changed += 1;
        Ok(self.value != value)
    }

    /// A field of a free-text column: scanned with the column name as context.
    #[allow(clippy::too_many_arguments)]
    fn cells(
        &mut self,
        buf: &[u8],
        r: &Record,
        f: &codec::Field,
        value: &[u8],
        name: Option<Arc<str>>,
        base: u64,
        scanner: &mut crate::detect::Scanner,
        opts: &RunOptions<'_>,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
        scrub: bool,
    ) -> Result<bool, PipelineError> {
        self.found.clear();
        scanner.scan(
            value,
            0,
            &Context {
                field: name.as_deref(),
            },
            &mut self.found,
        );
        let rules = self.engine.detector.rules();
        let mut hits = std::mem::take(&mut self.found);
        hits.retain(|h| h.score >= self.engine.min_score && self.engine.filter.allows(h.entity));
        if hits.is_empty() {
            self.found = hits;
            return Ok(false);
        }
        let inner = f.raw.start + usize::from(f.quoted);
        let quote = self.dialect.quote;
        self.value.clear();
        let mut pos = 0;
        let mut changed = false;
        for h in &hits {
            let (s, e) = (
                raw_offset(buf, inner, h.start, quote),
                raw_offset(buf, inner, h.end, quote),
            );
            let loc = self.locate(
                buf,
                r,
                s,
                e,
                base,
                h.entity,
                h.rule,
                h.score,
                &value[h.start..h.end],
                name.clone(),
                opts,
            );
            found(&loc).map_err(PipelineError::Report)?;
            self.stats.findings += 1;
            let rule_id = &rules[h.rule as usize].id;
            self.value.extend_from_slice(&value[pos..h.start]);
            if scrub && self.engine.transformer.action(h.entity, rule_id) != Action::Keep {
                self.engine.transformer.apply(
                    h.entity,
                    rule_id,
                    &value[h.start..h.end],
                    &mut self.value,
                );
                self.stats.changed += 1;
                changed = true;
            } else {
                self.value.extend_from_slice(&value[h.start..h.end]);
            }
            pos = h.end;
        }
        self.value.extend_from_slice(&value[pos..]);
        self.found = hits;
        Ok(changed && self.value != value)
    }

    #[allow(clippy::too_many_arguments)]
    fn locate(
        &self,
        buf: &[u8],
        r: &Record,
        start: usize,
        end: usize,
        base: u64,
        entity: Entity,
        rule: u32,
        score: f32,
        value: &[u8],
        field: Option<Arc<str>>,
        opts: &RunOptions<'_>,
    ) -> Located {
        let before = &buf[r.span.start..start];
        let nl = memchr::memchr_iter(b'\n', before).count() as u64;
        let line_start =
            memchr::memrchr(b'\n', before).map_or(r.span.start, |p| r.span.start + p + 1);
        let column = buf[line_start..start]
            .iter()
            .filter(|&&b| (b as i8) >= -0x40)
            .count() as u64
            + 1;
        Located {
            start: base + start as u64,
            end: base + end as u64,
            line: self.line + nl,
            column,
            char_start: None,
            char_end: None,
            entity,
            rule,
            score,
            fingerprint: if opts.fingerprints {
                self.engine.transformer.fingerprint(entity, value)
            } else {
                None
            },
            field,
            row: Some(self.row),
        }
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

/// Whether a cell of an age column is over 89 (only those change).
fn age_over_89(v: &[u8]) -> bool {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.trim().split(['.', ' ']).next()?.parse::<u32>().ok())
        .is_some_and(|n| n > 89)
}
