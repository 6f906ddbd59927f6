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
use super::Sizes;
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
/// The header and a sample of the first rows classify the columns; then a reader cuts the rest
/// into chunks of whole records (quote-aware), workers rewrite chunks on all cores, and this
/// thread puts them back in order, fixing row and line numbers, and writes them.
///
/// # Errors
/// Read and write errors, and malformed CSV (with byte offset and record number, never data).
#[allow(clippy::too_many_arguments)]
pub fn run<W: Write + ?Sized>(
    engine: &Engine,
    columns: &ColumnRules,
    input: &mut (dyn Read + Send),
    output: Option<&mut W>,
    dialect: Option<Dialect>,
    opts: &RunOptions<'_>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<Stats, PipelineError> {
    let sizes = Sizes {
        read: READ_SIZE,
        chunk: usize::MAX,
    };
    run_sized(engine, columns, input, output, dialect, opts, found, sizes)
}

/// [`run`] with the stream read and cut at other sizes (tests and fuzzing): `read` bytes per
/// read after the first (which stays [`READ_SIZE`] × 4, the header and classification
/// sample), and chunks of at most `chunk` bytes of whole records (one record if longer).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn run_sized<W: Write + ?Sized>(
    engine: &Engine,
    columns: &ColumnRules,
    input: &mut (dyn Read + Send),
    mut output: Option<&mut W>,
    dialect: Option<Dialect>,
    opts: &RunOptions<'_>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
    sizes: Sizes,
) -> Result<Stats, PipelineError> {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_SIZE * 4);
    let eof = fill(input, &mut buf, READ_SIZE * 4, 0)?;
    let bom = codec::bom_len(&buf);
    if let Some(w) = output.as_deref_mut() {
        w.write_all(&buf[..bom]).map_err(PipelineError::Write)?;
    }
    let dialect =
        dialect.unwrap_or_else(|| codec::sniff(&buf[bom..buf.len().min(bom + (64 << 10))]));
    let mut records: Vec<Record> = Vec::new();
    codec::split_records(&buf, bom, eof, dialect, 1, &mut records).map_err(|e| csv_error(e, 0))?;
    let Some(header) = records.first() else {
        // Empty, or one record longer than the first read: nothing to classify, copy through.
        if let Some(w) = output.as_deref_mut() {
            w.write_all(&buf[bom..]).map_err(PipelineError::Write)?;
            io::copy(input, w).map_err(PipelineError::Write)?;
        }
        return Ok(Stats {
            bytes: buf.len() as u64,
            ..Stats::default()
        });
    };
    let names: Vec<Arc<str>> = header
        .fields
        .iter()
        .map(|f| Arc::from(String::from_utf8_lossy(&codec::decode(&buf, f, dialect)).trim()))
        .collect();
    let mut classifier = Cells::new(engine);
    let sample = &records[1..records.len().min(SAMPLE_ROWS + 1)];
    let cols: Vec<Column> = names
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
                class: classifier.classify(columns, name, &refs),
            }
        })
        .collect();
    classifier.finish();
    if let Some(Ok(mut all)) = opts.classes.map(|m| m.lock()) {
        all.extend(cols.iter().map(|c| c.class.clone()));
    }
    let subject = opts
        .subject_column
        .and_then(|s| names.iter().position(|n| n.eq_ignore_ascii_case(s)));
    let header_end = header.span.end;
    if let Some(w) = output.as_deref_mut() {
        w.write_all(&buf[bom..header_end])
            .map_err(PipelineError::Write)?;
    }
    let header_lines = memchr::memchr_iter(b'\n', &buf[..header_end]).count() as u64;
    drop(records);

    let scrub = output.is_some();
    let threads = opts.threads.max(1);
    let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<Chunk>(threads * 2);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<Done>(threads * 2);
    let mut stats = Stats::default();
    std::thread::scope(|scope| -> Result<(), PipelineError> {
        let reader =
            scope.spawn(move || read_chunks(input, buf, header_end, eof, dialect, sizes, chunk_tx));
        for _ in 0..threads {
            let (rx, tx) = (chunk_rx.clone(), done_tx.clone());
            // Each worker its own copy of the names: a finding clones its column's name, and
            // one shared reference count bumped by every worker would bounce between cores.
            let own: Vec<Column> = cols
                .iter()
                .map(|c| Column {
                    name: Arc::from(&*c.name),
                    class: c.class.clone(),
                })
                .collect();
            scope.spawn(move || {
                let mut st = State {
                    cells: Cells::new(engine),
                    dialect,
                    line: 1,
                    row: 0,
                    cols: &own,
                    subject,
                };
                for chunk in rx {
                    let done = st.chunk(chunk, opts, scrub);
                    if tx.send(done).is_err() {
                        break;
                    }
                }
                st.cells.finish()
            });
        }
        drop(chunk_rx);
        drop(done_tx);
        let mut pending = std::collections::BTreeMap::new();
        let (mut next, mut rows, mut lines, mut records_before) = (0u64, 0u64, header_lines, 1u64);
        let mut result = Ok(());
        'recv: for d in done_rx.iter() {
            pending.insert(d.seq, d);
            while let Some(d) = pending.remove(&next) {
                next += 1;
                if let Some((e, base)) = d.error {
                    result = Err(csv_error_at(e, base, records_before));
                    break 'recv;
                }
                if let Some(w) = output.as_deref_mut() {
                    if let Err(e) = w.write_all(&d.out) {
                        result = Err(PipelineError::Write(e));
                        break 'recv;
                    }
                }
                for mut l in d.found {
                    l.row = l.row.map(|r| r + rows);
                    if opts.positions {
                        l.line += lines;
                    }
                    if let Err(e) = found(&l) {
                        result = Err(PipelineError::Report(e));
                        break 'recv;
                    }
                }
                for c in d.compact {
                    let field = cols.get(c.col as usize).map(|c| c.name.clone());
                    let l = c.located(field.filter(|n| !n.is_empty()), rows);
                    if let Err(e) = found(&l) {
                        result = Err(PipelineError::Report(e));
                        break 'recv;
                    }
                }
                stats.findings += d.stats.findings;
                stats.changed += d.stats.changed;
                rows += d.rows;
                records_before += d.rows;
                lines += d.lines;
                if let Some(p) = opts.progress {
                    p.fetch_add(d.len, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        drop(done_rx);
        result?;
        stats.bytes = reader.join().map_err(|_| PipelineError::Worker)??;
        Ok(())
    })?;
    if let Some(w) = output {
        w.flush().map_err(PipelineError::Write)?;
    }
    Ok(stats)
}

/// Whole records of the input after the header, cut for the workers.
struct Chunk {
    seq: u64,
    /// Stream offset of `data[0]`.
    base: u64,
    data: Vec<u8>,
}

/// A finding of a run that wants no positions or fingerprints (a scrub without a report
/// file): a fifth of a [`Located`], and no shared column name to clone per finding.
struct Compact {
    entity: crate::entity::Entity,
    rule: u32,
    score: f32,
    /// Column index, and chunk-relative row.
    col: u32,
    row: u64,
}

impl Compact {
    fn located(&self, field: Option<Arc<str>>, rows_before: u64) -> Located {
        Located {
            field,
            row: Some(self.row + rows_before),
            ..Located::unplaced(self.entity, self.rule, self.score)
        }
    }
}

/// A chunk rewritten: output bytes, findings with chunk-relative rows and lines, and totals.
struct Done {
    seq: u64,
    out: Vec<u8>,
    found: Vec<Located>,
    compact: Vec<Compact>,
    rows: u64,
    lines: u64,
    len: u64,
    stats: Stats,
    error: Option<(CsvError, u64)>,
}

/// Reads the rest of the input and cuts it after the last whole record of every read (or of
/// every `sizes.chunk` bytes); returns the total size of the input.
fn read_chunks(
    input: &mut (dyn Read + Send),
    mut buf: Vec<u8>,
    mut start: usize,
    mut eof: bool,
    dialect: Dialect,
    sizes: Sizes,
    tx: crossbeam_channel::Sender<Chunk>,
) -> Result<u64, PipelineError> {
    let (mut base, mut seq) = (0u64, 0u64);
    let chunk = sizes.chunk.max(1);
    loop {
        while start < buf.len() {
            let limit = start.saturating_add(chunk).min(buf.len());
            let whole = || match codec::last_record_end(&buf, start, buf.len(), dialect) {
                Some(c) if c > start => Some(c),
                _ => eof.then_some(buf.len()),
            };
            let cut = if limit == buf.len() && eof {
                Some(buf.len())
            } else if limit == buf.len() {
                whole()
            } else {
                match codec::last_record_end(&buf, start, limit, dialect) {
                    Some(c) if c > start => Some(c),
                    // A record longer than a chunk: the records up to the end of the buffer.
                    _ => whole(),
                }
            };
            let Some(cut) = cut else { break };
            let data = Chunk {
                seq,
                base: base + start as u64,
                data: buf[start..cut].to_vec(),
            };
            seq += 1;
            if tx.send(data).is_err() {
                // The consumer stopped; it reports why.
                return Ok(base + buf.len() as u64);
            }
            start = cut;
        }
        if eof {
            return Ok(base + buf.len() as u64);
        }
        // Keep what is not sent yet and read more.
        buf.drain(..start);
        base += start as u64;
        start = 0;
        eof = fill(input, &mut buf, sizes.read.max(1), base)?;
    }
}

fn csv_error_at(e: CsvError, base: u64, records_before: u64) -> PipelineError {
    let rebased = match e {
        CsvError::Unterminated { offset, record } => CsvError::Unterminated {
            offset,
            record: record + records_before,
        },
        CsvError::StrayQuote { offset, record } => CsvError::StrayQuote {
            offset,
            record: record + records_before,
        },
        CsvError::AfterQuote { offset, record } => CsvError::AfterQuote {
            offset,
            record: record + records_before,
        },
    };
    csv_error(rebased, base)
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

struct State<'e, 'c> {
    cells: Cells<'e>,
    dialect: Dialect,
    /// 1-based line of the next record, within the chunk.
    line: u64,
    /// 1-based data row of the current record, within the chunk.
    row: u64,
    cols: &'c [Column],
    /// Index of the `--subject-column`, when the header has it.
    subject: Option<usize>,
}

/// The class of a column past the header's end (a ragged row): scanned.
fn extra_column() -> &'static Column {
    static EXTRA: std::sync::OnceLock<Column> = std::sync::OnceLock::new();
    EXTRA.get_or_init(|| Column {
        name: Arc::from(""),
        class: ColumnClass::scanned(""),
    })
}

impl State<'_, '_> {
    /// Rewrites one chunk of whole records.
    fn chunk(&mut self, chunk: Chunk, opts: &RunOptions<'_>, scrub: bool) -> Done {
        self.line = 1;
        self.row = 0;
        let before = self.cells.stats;
        let mut out = Vec::with_capacity(if scrub { chunk.data.len() + 1024 } else { 0 });
        let mut found: Vec<Located> = Vec::new();
        let mut compact: Vec<Compact> = Vec::new();
        let full = opts.positions || opts.fingerprints || opts.char_offsets;
        let mut error = None;
        // One record at a time into one reused field list: records before a malformed one
        // are handled as before it was found, and nothing is allocated per record.
        let mut record = Record {
            span: 0..0,
            fields: Vec::new(),
        };
        let mut pos = 0;
        while pos < chunk.data.len() {
            let n = self.row + 1;
            match codec::next_record(&chunk.data, pos, true, self.dialect, n, &mut record) {
                Ok(Some(end)) => pos = end,
                // Not at the end of input: a record is always complete or an error.
                Ok(None) => break,
                Err(e) => {
                    error = Some((e, chunk.base));
                    break;
                }
            }
            let r = &record;
            self.row += 1;
            let mut collect = |l: &Located| {
                if full {
                    found.push(l.clone());
                } else {
                    let col = l
                        .field
                        .as_ref()
                        .and_then(|f| self.cols.iter().position(|c| Arc::ptr_eq(&c.name, f)))
                        .unwrap_or(usize::MAX);
                    compact.push(Compact {
                        entity: l.entity,
                        rule: l.rule,
                        score: l.score,
                        col: u32::try_from(col).unwrap_or(u32::MAX),
                        row: l.row.unwrap_or(0),
                    });
                }
                Ok(())
            };
            let w = if scrub { Some(&mut out) } else { None };
            // A record's only errors are its callback's (`collect` never fails) and a collision
            // in a column declared unique, which only dumps declare: none can arise here.
            let _ = self.record(&chunk.data, r, chunk.base, opts, &mut collect, w);
        }
        // Pushing into a Vec cannot fail.
        let _ = self.cells.flush_tally(&mut |l| {
            found.push(l.clone());
            Ok(())
        });
        if error.is_some() {
            // Records before the error are not written: the whole run fails anyway.
            out.clear();
        }
        let after = self.cells.stats;
        Done {
            seq: chunk.seq,
            rows: self.row,
            lines: memchr::memchr_iter(b'\n', &chunk.data).count() as u64,
            len: chunk.data.len() as u64,
            stats: Stats {
                bytes: 0,
                findings: after.findings - before.findings,
                changed: after.changed - before.changed,
            },
            out,
            found,
            compact,
            error: error.take(),
        }
    }

    fn record(
        &mut self,
        buf: &[u8],
        r: &Record,
        base: u64,
        opts: &RunOptions<'_>,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
        mut output: Option<&mut Vec<u8>>,
    ) -> Result<(), PipelineError> {
        let scrub = output.is_some();
        // The record is written straight into the chunk's output (and put back as it was read
        // when nothing in it changed); a scan writes nothing at all.
        let at = output.as_ref().map_or(0, |o| o.len());
        let subject = self
            .subject
            .and_then(|i| r.fields.get(i))
            .map(|f| codec::decode(buf, f, self.dialect));
        self.cells.set_subject(subject.as_deref());
        let mut changed_any = false;
        let (line, dialect) = (self.line, self.dialect);
        for (i, f) in r.fields.iter().enumerate() {
            if i > 0 {
                if let Some(o) = output.as_deref_mut() {
                    o.push(dialect.delimiter);
                }
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
            if let Some(o) = output.as_deref_mut() {
                if changed {
                    changed_any = true;
                    codec::encode(&self.cells.value, dialect, f.quoted, o);
                } else {
                    o.extend_from_slice(raw);
                }
            }
        }
        let end_of_fields = r.fields.last().map_or(r.span.start, |f| f.raw.end);
        // Outside quotes a record holds no line break but its terminator: only quoted fields
        // need counting (a search per record cost a fiftieth of a CSV scrub).
        let quoted_breaks: usize = r
            .fields
            .iter()
            .filter(|f| f.quoted)
            .map(|f| memchr::memchr_iter(b'\n', &buf[f.raw.clone()]).count())
            .sum();
        let terminated = buf[end_of_fields..r.span.end].contains(&b'\n');
        self.line += (quoted_breaks + usize::from(terminated)) as u64;
        if let Some(o) = output {
            if changed_any {
                o.extend_from_slice(&buf[end_of_fields..r.span.end]);
            } else {
                o.truncate(at);
                o.extend_from_slice(&buf[r.span.clone()]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::EntityFilter;
    use crate::policy::Policy;
    use crate::transform::{key::Key, Transformer};

    /// A patients extract with every quoting case, its values drawn from a fixed seed: quoted
    /// fields holding the delimiter, doubled quotes, LF and CRLF inside them, CRLF records,
    /// empty fields, non-ASCII, and a last record without its line end.
    fn extract(rows: usize) -> Vec<u8> {
        let mut rng = crate::test_rng::Rng(0x9e37_79b9_7f4a_7c15);
        let mut v = b"\xEF\xBB\xBFId,SSN,FIRST,NOTES,PHONE,AMOUNT\r\n".to_vec();
        for i in 1..=rows {
            let ssn = rng.ssn();
            let first =
                ["Maria", "\"O'Neil, Jr\"", "José", "\"Wei \"\"W\"\"\""][rng.below(4) as usize];
            let note = match rng.below(5) {
                0 => format!("\"called, SSN {ssn}\r\nthen \"\"ok\"\"\""),
                1 => "\"two\nlines\"".to_string(),
                2 => format!("seen 2021-03-{:02} café", 1 + rng.below(28)),
                3 => String::new(),
                _ => "\"\"".to_string(),
            };
            let phone = format!("(617) 555-{:04}", rng.below(10_000));
            v.extend_from_slice(
                format!("c{i},{ssn},{first},{note},{phone},{}.5\r\n", rng.below(999)).as_bytes(),
            );
        }
        v.extend_from_slice(b"c0,536-22-8726,Ann,\"last, unterminated line\",,1");
        v
    }

    #[test]
    fn read_and_chunk_boundaries_anywhere_give_one_result() {
        let engine = Engine {
            detector: crate::detect::builtin().unwrap(),
            transformer: Transformer::new(Policy::defaults(true), Key::from_bytes(&[7; 32]).ok()),
            filter: EntityFilter::default(),
            min_score: 0.5,
        };
        let columns = ColumnRules::builtin().unwrap();
        let run_at = |data: &[u8], sizes: Sizes, threads: usize| {
            let opts = RunOptions {
                threads,
                positions: true,
                ..RunOptions::default()
            };
            let mut out = Vec::new();
            let mut found = Vec::new();
            run_sized(
                &engine,
                &columns,
                &mut &data[..],
                Some(&mut out),
                None,
                &opts,
                &mut |l| {
                    let at = (l.field.clone(), l.row, l.start, l.end, l.line, l.column);
                    found.push((l.entity, at));
                    Ok(())
                },
                sizes,
            )
            .map(|_| (out, found))
            .map_err(|e| e.to_string())
        };
        let data = extract(150);
        let default = Sizes {
            read: READ_SIZE,
            chunk: usize::MAX,
        };
        // The first read holds the header and the classification sample; a small file is read
        // whole by it, so only the chunk size cuts here, and a larger file is read on at
        // `read` bytes.
        let big = extract(75_000);
        assert!(big.len() > READ_SIZE * 4);
        for data in [&data[..], &big[..]] {
            let want = run_at(data, default, 1).unwrap();
            assert!(want.1.len() > 300, "{}", want.1.len());
            let (sizes, threads): (&[(usize, usize)], &[usize]) = if data.len() > READ_SIZE {
                (&[(1, 1 << 12), (65_537, 97)], &[2])
            } else {
                (&[(1, 1), (1, 5), (7, 97), (61, 1 << 14)], &[1, 2])
            };
            for &(read, chunk) in sizes {
                for &threads in threads {
                    let got = run_at(data, Sizes { read, chunk }, threads).unwrap();
                    assert!(
                        got.0 == want.0,
                        "read {read}, chunk {chunk}, {threads} threads"
                    );
                    assert_eq!(
                        got.1, want.1,
                        "read {read}, chunk {chunk}, {threads} threads"
                    );
                }
            }
        }
        // Malformed: the same error (record, byte) at any size.
        let mut bad = data.clone();
        let at = bad.len() / 2;
        bad.splice(at..at, b"\n1,\"open".iter().copied());
        let mut stray = data.clone();
        let at = stray.len() / 3;
        let at = at + stray[at..].iter().position(|&b| b == b',').unwrap() + 1;
        stray.splice(at..at, b"x\"y".iter().copied());
        for data in [bad, stray] {
            let want = run_at(&data, default, 1).unwrap_err();
            for (read, chunk) in [(1, 1), (3, 17), (61, 1 << 10)] {
                assert_eq!(run_at(&data, Sizes { read, chunk }, 2).unwrap_err(), want);
            }
        }
    }
}
