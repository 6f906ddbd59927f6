//! MySQL and MariaDB dumps (`mysqldump`, `mariadb-dump`), column-aware, every byte outside a
//! changed value copied as it was.
//!
//! A reader thread splits the stream into statements ([`mysql_sql::Splitter`]) and follows the
//! session settings a dump makes (`SET NAMES`, `character_set_client`, `sql_mode` with
//! `NO_BACKSLASH_ESCAPES`, the `@saved_…` variables that restore them, `DELIMITER`). It reads
//! each `CREATE TABLE` for the names and declared types of the columns, and parses the rows of
//! every `INSERT`/`REPLACE … VALUES (…),(…);` (with or without a column list) into value spans.
//! Everything else — DDL, `LOCK TABLES`, comments, triggers and routines — is only copied.
//!
//! Rows are cut into work units of about [`CHUNK_SIZE`] at row boundaries (so one 1 MB
//! extended INSERT is several units, and a single huge INSERT is never held whole); workers
//! on all cores decode each value, run it through [`Cells`] with `table.column` as its field
//! name, and re-encode only a value that changed, in its own form (string with the same quote
//! and introducer, hex stays hex). This thread puts the units back in order and writes them.
//!
//! Columns are classified once per table from their names and the first [`SAMPLE_ROWS`] rows;
//! units holding rows of a table not yet classified wait (at most [`HOLD_MAX`] bytes) until it
//! is.
//!
//! A dump that ends inside a statement, a row or a string is an error naming the line (and the
//! table), never a value, and so is a row whose number of values does not fit the table.
//!
//! Unique keys: a single-column PRIMARY KEY or UNIQUE key sets `ColumnClass::unique`, so
//! [`Cells`] checks every changed value of it for collisions (see `transform::collide`) and
//! the run stops with the column and both rows, never the values, when two meet.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use super::cells::Cells;
use super::mysql_sql::{self as sql, Charset, LexError, Lit, Mode, Splitter, Tok, TokKind, Value};
use super::sqltype::SqlType;
use crate::classify::{ColumnClass, ColumnRules};
use crate::entity::Entity;
use crate::pipeline::{Engine, Located, PipelineError, RunOptions, Stats};
use crate::transform::IdBatch;

/// Rows of a table sampled to classify its columns.
pub const SAMPLE_ROWS: usize = 200;
/// Bytes of input per work unit.
pub const CHUNK_SIZE: usize = 1 << 20;
/// Most bytes held back while a table's sample is gathered.
pub const HOLD_MAX: usize = 16 << 20;
/// Bytes read at a time (more when one row or statement is longer).
const READ_SIZE: usize = 1 << 20;
/// Longest statement looked into for `CREATE TABLE` and `SET`; a longer one is streamed.
const INSPECT_MAX: usize = 4 << 20;

/// One column as the workers see it.
struct Col {
    /// `table.column`: field name in reports and policy `[columns]` globs.
    field: Arc<str>,
    class: ColumnClass,
}

/// The classes of the columns of one INSERT shape, and which is the `--subject-column`.
struct Classes {
    cols: Vec<Arc<Col>>,
    subject: Option<usize>,
}

/// The columns an INSERT's rows have: a table and a column list (its own or the table's).
struct Layout {
    /// Values per row, once known (from the names, or from the first row).
    n: OnceLock<usize>,
    /// Set once the sample is classified, before any unit with these rows goes to a worker.
    classes: OnceLock<Classes>,
}

/// A parsed row of a unit: its layout, its values in the unit's `vals`, its row number in the
/// table, and the settings its literals were written under.
struct Row {
    layout: Arc<Layout>,
    vals: Range<usize>,
    row: u64,
    mode: Mode,
}

/// A work unit: bytes of the input (whole rows and statements), and the rows in it.
struct Chunk {
    seq: u64,
    /// Stream offset of `data[0]`.
    base: u64,
    data: Vec<u8>,
    rows: Vec<Row>,
    vals: Vec<Value>,
}

impl Chunk {
    fn new(seq: u64, base: u64) -> Chunk {
        Chunk {
            seq,
            base,
            data: Vec::with_capacity(CHUNK_SIZE + (64 << 10)),
            rows: Vec::new(),
            vals: Vec::new(),
        }
    }
}

/// A unit done: output, findings (lines counted within the unit), totals.
struct Done {
    seq: u64,
    out: Vec<u8>,
    found: Vec<Located>,
    newlines: u64,
    /// Characters after the unit's last newline (all of them when it has none).
    tail_chars: u64,
    len: u64,
    stats: Stats,
    /// The unit failed (its output is not to be written).
    error: Option<PipelineError>,
}

/// Rewrites (or, without `output`, scans) one dump stream.
///
/// # Errors
/// Read and write errors, and a malformed or truncated dump (with line and table, never data).
pub fn run<W: Write + ?Sized>(
    engine: &Engine,
    columns: &ColumnRules,
    input: &mut (dyn Read + Send),
    output: Option<&mut W>,
    opts: &RunOptions<'_>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<Stats, PipelineError> {
    run_sized(
        engine, columns, input, output, opts, found, READ_SIZE, CHUNK_SIZE,
    )
}

/// [`run`] with the read and unit sizes given (tests run every case at many sizes; fuzz
/// targets use small ones). Both must be at least 1.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn run_sized<W: Write + ?Sized>(
    engine: &Engine,
    columns: &ColumnRules,
    input: &mut (dyn Read + Send),
    mut output: Option<&mut W>,
    opts: &RunOptions<'_>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
    read_size: usize,
    chunk_size: usize,
) -> Result<Stats, PipelineError> {
    // Fields are named `table.column` in full; the file name is no table here.
    let mut o = *opts;
    o.table = None;
    let opts = &o;
    let scrub = output.is_some();
    let threads = opts.threads.max(1);
    let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<Chunk>(threads * 2);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<Done>(threads * 2);
    let mut stats = Stats::default();
    std::thread::scope(|scope| -> Result<(), PipelineError> {
        let reader = scope.spawn(move || {
            let mut r = Reader::new(engine, columns, input, opts, chunk_tx);
            r.read_size = read_size;
            r.chunk_size = chunk_size;
            let res = r.run();
            r.cells.take().map(Cells::finish);
            res.map(|()| r.base + r.buf.len() as u64)
        });
        for _ in 0..threads {
            let (rx, tx) = (chunk_rx.clone(), done_tx.clone());
            scope.spawn(move || {
                let mut cells = Cells::new(engine);
                let mut json = HashMap::new();
                for chunk in rx {
                    let done = work(&mut cells, columns, &mut json, chunk, opts, scrub);
                    if tx.send(done).is_err() {
                        break;
                    }
                }
                cells.finish()
            });
        }
        drop(chunk_rx);
        drop(done_tx);
        let mut pending = BTreeMap::new();
        let (mut next, mut lines, mut carry) = (0u64, 0u64, 0u64);
        let mut result = Ok(());
        'recv: for d in done_rx.iter() {
            pending.insert(d.seq, d);
            while let Some(d) = pending.remove(&next) {
                next += 1;
                if let Some(e) = d.error {
                    result = Err(e);
                    break 'recv;
                }
                if let Some(w) = output.as_deref_mut() {
                    if let Err(e) = w.write_all(&d.out) {
                        result = Err(PipelineError::Write(e));
                        break 'recv;
                    }
                }
                for mut l in d.found {
                    if opts.positions {
                        if l.line == 0 {
                            l.column += carry;
                        }
                        l.line += lines + 1;
                    }
                    if let Err(e) = found(&l) {
                        result = Err(PipelineError::Report(e));
                        break 'recv;
                    }
                }
                stats.findings += d.stats.findings;
                stats.changed += d.stats.changed;
                carry = if d.newlines > 0 {
                    d.tail_chars
                } else {
                    carry + d.tail_chars
                };
                lines += d.newlines;
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

/// The class of a value past the end of its layout's classes (should not happen: rows are
/// checked against the layout): scanned.
fn extra_column() -> &'static Arc<Col> {
    static EXTRA: OnceLock<Arc<Col>> = OnceLock::new();
    EXTRA.get_or_init(|| {
        Arc::new(Col {
            field: Arc::from(""),
            class: ColumnClass::scanned(""),
        })
    })
}

/// Rewrites one unit: every value through [`Cells`], the bytes between values copied. `json`
/// caches the classes of key paths inside `JSON` columns.
fn work(
    cells: &mut Cells<'_>,
    columns: &ColumnRules,
    json: &mut HashMap<String, ColumnClass>,
    chunk: Chunk,
    opts: &RunOptions<'_>,
    scrub: bool,
) -> Done {
    let data = &chunk.data;
    let before = cells.stats;
    let mut out = Vec::with_capacity(if scrub { data.len() + 4096 } else { 0 });
    let mut found: Vec<Located> = Vec::new();
    let mut error = None;
    let mut cursor = 0;
    let empty: Vec<Arc<Col>> = Vec::new();
    if scrub {
        prefetch_ids(cells, &chunk);
    }
    'rows: for row in &chunk.rows {
        let (cols, subject) = match row.layout.classes.get() {
            Some(c) => (&c.cols, c.subject),
            None => (&empty, None),
        };
        let vals = &chunk.vals[row.vals.clone()];
        let subj = subject
            .and_then(|i| vals.get(i))
            .and_then(|v| v.decode(data, row.mode));
        cells.set_subject(subj.as_deref());
        for (i, v) in vals.iter().enumerate() {
            if scrub {
                out.extend_from_slice(&data[cursor..v.span.start]);
            }
            cursor = v.span.end;
            let raw = &data[v.span.clone()];
            let Some(value) = v.decode(data, row.mode) else {
                if scrub {
                    out.extend_from_slice(raw);
                }
                continue;
            };
            let col = cols.get(i).unwrap_or_else(|| extra_column());
            let mode = row.mode;
            let place = |pos: usize| {
                let at = raw_index(data, v, pos, mode);
                let before = &data[..at];
                let nl = memchr::memchr_iter(b'\n', before).count() as u64;
                let ls = memchr::memrchr(b'\n', before).map_or(0, |p| p + 1);
                (chunk.base + at as u64, nl, count_chars(&data[ls..at]) + 1)
            };
            let mut collect = |l: &Located| {
                found.push(l.clone());
                Ok(())
            };
            let json_like = col.class.sql_type == Some(SqlType::Json)
                || (col.class.entity.is_none()
                    && matches!(value.trim_ascii_start().first(), Some(b'{' | b'[')));
            if json_like && !col.class.keep {
                let json = match json_cell(
                    cells,
                    columns,
                    json,
                    &value,
                    &col.field,
                    row.row,
                    &place,
                    opts,
                    scrub,
                    &mut collect,
                ) {
                    Ok(j) => j,
                    Err(e) => {
                        error = Some(e);
                        break 'rows;
                    }
                };
                if let Some(new) = json {
                    if scrub {
                        match new {
                            Some(doc) => v.encode(data, &doc, mode, &mut out),
                            None => out.extend_from_slice(raw),
                        }
                    }
                    continue;
                }
            }
            let field = (!col.field.is_empty()).then_some(&col.field);
            let changed = cells.cell(
                &value,
                &col.class,
                field,
                row.row,
                &place,
                opts,
                scrub,
                &mut collect,
            );
            // A failed cell (a collision in a unique column) fails the run; its value is
            // never written as it was.
            let changed = match changed {
                Ok(c) => c,
                Err(e) => {
                    error = Some(e);
                    break 'rows;
                }
            };
            if scrub {
                if changed {
                    v.encode(data, &cells.value, mode, &mut out);
                } else {
                    out.extend_from_slice(raw);
                }
            }
        }
    }
    if scrub {
        out.extend_from_slice(&data[cursor..]);
    }
    // Pushing into a Vec cannot fail.
    let _ = cells.flush_tally(&mut |l| {
        found.push(l.clone());
        Ok(())
    });
    let (newlines, tail_chars) = if opts.positions {
        let nl = memchr::memchr_iter(b'\n', data).count() as u64;
        let ls = memchr::memrchr(b'\n', data).map_or(0, |p| p + 1);
        (nl, count_chars(&data[ls..]))
    } else {
        (0, 0)
    };
    let after = cells.stats;
    Done {
        seq: chunk.seq,
        out,
        found,
        newlines,
        tail_chars,
        len: data.len() as u64,
        stats: Stats {
            bytes: 0,
            findings: after.findings - before.findings,
            changed: after.changed - before.changed,
        },
        error,
    }
}

/// Hands the unit's values of the integer columns whose ids were permuted before (in an
/// earlier unit) to the permutation to work out side by side (see
/// [`Transformer::prefetch_digits`]): an id alone is most of a key table's scrub. Columns of
/// one entity, across the unit's tables (a key and the foreign keys to it), go in one list in
/// the order the rows then ask for them.
///
/// [`Transformer::prefetch_digits`]: crate::transform::Transformer::prefetch_digits
fn prefetch_ids(cells: &Cells<'_>, chunk: &Chunk) {
    let data = &chunk.data;
    let mut batch = IdBatch::default();
    // The id columns of the last layout seen: a unit's rows mostly share one.
    let mut last: Option<&Arc<Layout>> = None;
    let mut ids: Vec<(usize, Entity, u128)> = Vec::new();
    for row in &chunk.rows {
        if last.is_none_or(|l| !Arc::ptr_eq(l, &row.layout)) {
            last = Some(&row.layout);
            ids.clear();
            if let Some(c) = row.layout.classes.get() {
                ids.extend(c.cols.iter().enumerate().filter_map(|(i, c)| {
                    let (e, max) = cells.permuted_id(&c.class, &c.field)?;
                    Some((i, e, max))
                }));
            }
        }
        let vals = &chunk.vals[row.vals.clone()];
        for &(i, e, max) in &ids {
            // A quoted number is as good; one with escapes is no number and is left out.
            match vals.get(i) {
                Some(v) if matches!(v.lit, Lit::Number | Lit::Str(_)) => {
                    batch.push(e, data[v.body.clone()].trim_ascii(), Some(max));
                }
                _ => {}
            }
        }
    }
    cells.engine().transformer.prefetch_digits(batch);
}

/// A `JSON` column's document: each string and number inside is a cell named
/// `table.column.key.path` and classified by its key (`contact.ssn` is an SSN), so a name or
/// an identifier in a JSON value is replaced whole and the document stays valid JSON.
/// Returns `None` when the value is no valid JSON (it is then scanned as text), `Some(None)`
/// when nothing changed.
#[allow(clippy::too_many_arguments)]
fn json_cell(
    cells: &mut Cells<'_>,
    columns: &ColumnRules,
    cache: &mut HashMap<String, ColumnClass>,
    doc: &[u8],
    field: &Arc<str>,
    row: u64,
    place: super::cells::Place<'_>,
    opts: &RunOptions<'_>,
    scrub: bool,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<Option<Option<Vec<u8>>>, PipelineError> {
    let Some(inner) = super::jsonl::inner_values(doc) else {
        return Ok(None);
    };
    let (mut out, mut at) = (Vec::new(), 0);
    for v in &inner {
        let name = format!("{field}.{}", v.path);
        let class = cache
            .entry(name.clone())
            .or_insert_with(|| cells.classify(columns, &name, &[]));
        let value = super::jsonl::inner_decode(doc, v);
        let start = v.span.start + usize::from(v.string);
        let p = |pos: usize| place(start + pos);
        let fname: Arc<str> = Arc::from(name);
        if cells.cell(&value, class, Some(&fname), row, &p, opts, scrub, found)? {
            out.extend_from_slice(&doc[at..v.span.start]);
            super::jsonl::inner_encode(&cells.value, v, &mut out);
            at = v.span.end;
        }
    }
    if at == 0 {
        return Ok(Some(None));
    }
    out.extend_from_slice(&doc[at..]);
    Ok(Some(Some(out)))
}

fn count_chars(b: &[u8]) -> u64 {
    b.iter().filter(|&&x| (x as i8) >= -0x40).count() as u64
}

/// The byte of `data` where position `pos` of value `v`'s decoded bytes comes from.
fn raw_index(data: &[u8], v: &Value, pos: usize, mode: Mode) -> usize {
    let body = v.body.clone();
    match v.lit {
        Lit::Str(q) => {
            let (mut i, mut d) = (body.start, 0);
            while d < pos && i < body.end {
                let b = data[i];
                let (raw, dec) = if mode.charset.is_multibyte() && b >= 0x80 {
                    let n = mode.charset.char_len(&data[i..body.end]);
                    (n, n)
                } else if b == b'\\' && mode.backslash {
                    match data.get(i + 1) {
                        Some(b'%' | b'_') => (2, 2),
                        _ => (2, 1),
                    }
                } else if b == q && data.get(i + 1) == Some(&q) {
                    (2, 1)
                } else {
                    (1, 1)
                };
                i += raw;
                d += dec;
            }
            i.min(body.end)
        }
        Lit::Hex | Lit::HexQuoted => (body.start + 2 * pos).min(body.end),
        _ => (body.start + pos).min(body.end),
    }
}

/// A column of a `CREATE TABLE`.
struct ColDef {
    name: String,
    /// The declared type (`varchar(11)`, `int(10) unsigned`).
    decl: String,
    /// MariaDB `INVISIBLE`: not in a row of an INSERT without a column list.
    invisible: bool,
    /// The column alone is a PRIMARY KEY or UNIQUE key.
    unique: bool,
}

#[derive(Default)]
struct TableState {
    /// The table's name as the dump writes it.
    name: String,
    def: Option<Vec<ColDef>>,
    /// Columns classified so far, by lower-case name.
    classified: HashMap<String, Arc<Col>>,
    /// Layouts by lower-case column list (`None`: the table's own order).
    layouts: HashMap<Option<Vec<String>>, Arc<Layout>>,
    rows: u64,
}

/// A table's sample being gathered.
struct Sampling {
    table: String,
    layout: Arc<Layout>,
    /// Column names (empty when neither a list nor a `CREATE TABLE` gave them).
    names: Vec<String>,
    samples: Vec<Vec<Vec<u8>>>,
    rows: usize,
}

/// The header of an INSERT: table, column list, and where `VALUES` ends.
struct Header {
    table: String,
    cols: Option<Vec<String>>,
    end: usize,
}

/// The reader: statements, settings, tables, and the units it cuts.
struct Reader<'a, 'e> {
    columns: &'e ColumnRules,
    opts: &'e RunOptions<'e>,
    input: &'a mut (dyn Read + Send),
    buf: Vec<u8>,
    /// Next byte to look at; bytes before `emitted` are in units already.
    pos: usize,
    emitted: usize,
    /// Stream offset of `buf[0]`, and newlines before it.
    base: u64,
    lines_before: u64,
    eof: bool,
    mode: Mode,
    charset_name: String,
    delimiter: Vec<u8>,
    /// User variables that saved a setting (`@saved_cs_client`, `@OLD_SQL_MODE`).
    saved: HashMap<String, String>,
    tables: HashMap<String, TableState>,
    chunk: Chunk,
    seq: u64,
    held: Vec<Chunk>,
    held_bytes: usize,
    sampling: Option<Sampling>,
    cells: Option<Cells<'e>>,
    tx: crossbeam_channel::Sender<Chunk>,
    /// The consumer stopped (it reports why).
    stopped: bool,
    read_size: usize,
    chunk_size: usize,
}

impl<'a, 'e> Reader<'a, 'e> {
    fn new(
        engine: &'e Engine,
        columns: &'e ColumnRules,
        input: &'a mut (dyn Read + Send),
        opts: &'e RunOptions<'e>,
        tx: crossbeam_channel::Sender<Chunk>,
    ) -> Self {
        Reader {
            columns,
            opts,
            input,
            buf: Vec::with_capacity(READ_SIZE * 2),
            pos: 0,
            emitted: 0,
            base: 0,
            lines_before: 0,
            eof: false,
            mode: Mode::DEFAULT,
            charset_name: "utf8mb4".into(),
            delimiter: b";".to_vec(),
            saved: HashMap::new(),
            tables: HashMap::new(),
            chunk: Chunk::new(0, 0),
            seq: 0,
            held: Vec::new(),
            held_bytes: 0,
            sampling: None,
            cells: Some(Cells::new(engine)),
            tx,
            stopped: false,
            read_size: READ_SIZE,
            chunk_size: CHUNK_SIZE,
        }
    }

    /// 1-based line of byte `i` of the buffer.
    fn line_at(&self, i: usize) -> u64 {
        let i = i.min(self.buf.len());
        self.lines_before + memchr::memchr_iter(b'\n', &self.buf[..i]).count() as u64 + 1
    }

    /// Reads more input, dropping the bytes already in units; returns by how much the buffer's
    /// indices moved down.
    fn more(&mut self) -> Result<usize, PipelineError> {
        if self.eof {
            return Err(PipelineError::Format(
                "internal error: dump reader ran past the end".into(),
            ));
        }
        let shift = self.emitted;
        self.lines_before += memchr::memchr_iter(b'\n', &self.buf[..shift]).count() as u64;
        self.buf.drain(..shift);
        self.base += shift as u64;
        self.pos -= shift;
        self.emitted = 0;
        // A row or statement longer than a read grows the buffer geometrically, so retrying
        // it from its start stays linear.
        let want = self.read_size.max(self.buf.len());
        self.eof = super::read_more(self.input, &mut self.buf, want, self.base)?;
        Ok(shift)
    }

    /// Puts the buffer's bytes up to `upto` into the current unit.
    fn emit(&mut self, upto: usize) {
        if upto > self.emitted {
            self.chunk
                .data
                .extend_from_slice(&self.buf[self.emitted..upto]);
            self.emitted = upto;
        }
    }

    /// Ends the current unit when it is full.
    fn cut(&mut self) {
        if self.chunk.data.len() >= self.chunk_size {
            self.finish_chunk();
        }
    }

    fn finish_chunk(&mut self) {
        if self.chunk.data.is_empty() {
            return;
        }
        self.seq += 1;
        let base = self.base + self.emitted as u64;
        let chunk = std::mem::replace(&mut self.chunk, Chunk::new(self.seq, base));
        if self.sampling.is_some() {
            self.held_bytes += chunk.data.len();
            self.held.push(chunk);
            if self.held_bytes >= HOLD_MAX {
                self.end_sampling();
            }
        } else {
            self.send(chunk);
        }
    }

    fn send(&mut self, chunk: Chunk) {
        if !self.stopped && self.tx.send(chunk).is_err() {
            self.stopped = true;
        }
    }

    fn run(&mut self) -> Result<(), PipelineError> {
        self.more()?;
        while !self.stopped {
            let p = match sql::skip_space(&self.buf, self.pos, self.eof, None) {
                Ok(p) => p,
                Err(LexError::More) => {
                    self.more()?;
                    continue;
                }
                Err(e) => return Err(self.lex_error(e, None)),
            };
            self.pos = p;
            if p >= self.buf.len() {
                if self.eof {
                    break;
                }
                self.more()?;
                continue;
            }
            self.statement()?;
            self.cut();
        }
        self.end_sampling();
        let end = self.buf.len();
        self.emit(end);
        self.finish_chunk();
        Ok(())
    }

    /// Makes at least `n` bytes from `pos` available unless the input ends first.
    fn ensure(&mut self, n: usize) -> Result<(), PipelineError> {
        while self.buf.len() < self.pos + n && !self.eof {
            self.more()?;
        }
        Ok(())
    }

    /// One statement from `pos`.
    fn statement(&mut self) -> Result<(), PipelineError> {
        self.ensure(10)?;
        let head = &self.buf[self.pos..self.buf.len().min(self.pos + 10)];
        if head.len() == 10
            && head[..9].eq_ignore_ascii_case(b"delimiter")
            && matches!(head[9], b' ' | b'\t')
        {
            return self.delimiter_command();
        }
        let first = self.buf[self.pos].to_ascii_uppercase();
        if first == b'I' || first == b'R' {
            loop {
                let mut v = false;
                match self.insert_header(self.pos, &mut v) {
                    Ok(Some(h)) => return self.insert(h),
                    Ok(None) => break,
                    Err(LexError::More) => {
                        self.more()?;
                    }
                    Err(e) => return Err(self.lex_error(e, None)),
                }
            }
        }
        self.other(true)
    }

    /// `DELIMITER x`: a `mysql` client command, one line.
    fn delimiter_command(&mut self) -> Result<(), PipelineError> {
        let end = loop {
            match memchr::memchr(b'\n', &self.buf[self.pos..]) {
                Some(i) => break self.pos + i + 1,
                None if self.eof => break self.buf.len(),
                None => {
                    self.more()?;
                }
            }
        };
        let line = &self.buf[self.pos + 10..end];
        if let Some(d) = line
            .split(|b| b.is_ascii_whitespace())
            .find(|w| !w.is_empty())
        {
            let d = match d {
                [q @ (b'\'' | b'"' | b'`'), inner @ .., l] if l == q && !inner.is_empty() => inner,
                d => d,
            };
            self.delimiter = d.to_vec();
        }
        self.pos = end;
        self.emit(end);
        Ok(())
    }

    /// Any statement but an INSERT: copied; looked into when short (`CREATE TABLE`, `SET`).
    fn other(&mut self, mut inspect: bool) -> Result<(), PipelineError> {
        let mut start = self.pos;
        let mut sp = Splitter::new(start);
        loop {
            match sp.run(&self.buf, &self.delimiter, self.mode, self.eof) {
                Ok(Some(end)) => {
                    if inspect {
                        self.inspect(start, end);
                    }
                    self.pos = end;
                    self.emit(end);
                    return Ok(());
                }
                Ok(None) => {
                    if inspect && sp.pos - start > INSPECT_MAX {
                        inspect = false;
                    }
                    if !inspect {
                        // Too long to look into: stream it.
                        self.pos = sp.pos;
                        self.emit(sp.pos);
                        self.cut();
                    }
                    let shift = self.more()?;
                    start = start.saturating_sub(shift);
                    sp.pos -= shift;
                }
                Err(e) => {
                    let at = start;
                    return Err(self.lex_error(e, Some(at)));
                }
            }
        }
    }

    /// An error of the lexer as a message with the line (`stmt`: where the statement began).
    fn lex_error(&self, e: LexError, stmt: Option<usize>) -> PipelineError {
        let (what, at, cut) = match e {
            LexError::More => ("more input", self.buf.len(), true),
            LexError::Unterminated { what, at } => (what, at, true),
            LexError::Unexpected { what, at } => (what, at, false),
        };
        let line = self.line_at(stmt.unwrap_or(at));
        if cut {
            PipelineError::Format(format!(
                "malformed dump: the input ends inside {what} (statement at line {line}); the dump looks cut off"
            ))
        } else {
            PipelineError::Format(format!(
                "malformed dump at line {}: expected {what}",
                self.line_at(at)
            ))
        }
    }

    /// Tokens of a statement, up to `end`.
    fn tokens(&self, start: usize, end: usize) -> Vec<Tok> {
        let buf = &self.buf[..end];
        let mut v = false;
        let mut out = Vec::new();
        let mut p = start;
        while let Ok(Some(t)) = sql::next_token(buf, p, self.mode, true, &mut v) {
            p = t.span.end;
            out.push(t);
        }
        out
    }

    /// Follows `SET` statements and reads `CREATE TABLE`.
    fn inspect(&mut self, mut start: usize, end: usize) {
        // MariaDB's first line, `/*M!999999\- enable the sandbox mode */`, is a client command
        // inside a comment.
        if self.buf[start..end].starts_with(b"/*M!999999\\-") {
            if let Some(i) = memchr::memmem::find(&self.buf[start..end], b"*/") {
                start += i + 2;
            }
        }
        let mut v = false;
        let first = match sql::next_token(&self.buf[..end], start, self.mode, true, &mut v) {
            Ok(Some(t)) if t.kind == TokKind::Word => t,
            _ => return,
        };
        let word = self.buf[first.span.clone()].to_ascii_uppercase();
        match word.as_slice() {
            b"SET" => {
                let toks = self.tokens(start, end);
                self.set_statement(&toks);
            }
            b"CREATE" => {
                let toks = self.tokens(start, end);
                self.create_table(&toks);
            }
            _ => {}
        }
    }

    fn text(&self, t: &Tok) -> String {
        let s = String::from_utf8_lossy(&self.buf[t.body.clone()]);
        match t.kind {
            TokKind::Quoted => s.replace("``", "`"),
            _ => s.into_owned(),
        }
    }

    fn is_word(&self, t: &Tok, w: &str) -> bool {
        t.kind == TokKind::Word && self.buf[t.span.clone()].eq_ignore_ascii_case(w.as_bytes())
    }

    /// `SET a = x, b = y`: the settings that change how literals lex, and the variables that
    /// save and restore them.
    fn set_statement(&mut self, toks: &[Tok]) {
        let mut parts: Vec<&[Tok]> = Vec::new();
        let (mut depth, mut from) = (0usize, 1usize);
        for (i, t) in toks.iter().enumerate().skip(1) {
            match t.kind {
                TokKind::Punct(b'(') => depth += 1,
                TokKind::Punct(b')') => depth = depth.saturating_sub(1),
                TokKind::Punct(b',') if depth == 0 => {
                    parts.push(&toks[from..i]);
                    from = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&toks[from.min(toks.len())..]);
        for mut a in parts {
            while let Some(t) = a.last() {
                if matches!(t.kind, TokKind::Punct(_)) && !matches!(t.kind, TokKind::Punct(b')')) {
                    a = &a[..a.len() - 1];
                } else {
                    break;
                }
            }
            if a.is_empty() {
                continue;
            }
            if self.is_word(&a[0], "NAMES") {
                if let Some(t) = a.get(1) {
                    let cs = self.text(t);
                    self.set_charset(&cs);
                }
                continue;
            }
            if self.is_word(&a[0], "CHARSET")
                || (self.is_word(&a[0], "CHARACTER")
                    && a.get(1).is_some_and(|t| self.is_word(t, "SET")))
            {
                let k = if self.is_word(&a[0], "CHARSET") { 1 } else { 2 };
                if let Some(t) = a.get(k) {
                    let cs = self.text(t);
                    self.set_charset(&cs);
                }
                continue;
            }
            let mut i = 0;
            while a.get(i).is_some_and(|t| {
                ["GLOBAL", "SESSION", "LOCAL", "PERSIST"]
                    .iter()
                    .any(|w| self.is_word(t, w))
            }) {
                i += 1;
            }
            let Some(target) = a.get(i) else { continue };
            let Some(eq) = a[i + 1..]
                .iter()
                .position(|t| t.kind == TokKind::Punct(b'='))
                .map(|p| p + i + 1)
            else {
                continue;
            };
            let value = &a[eq + 1..];
            let name = self.text(target).to_ascii_lowercase();
            let user = target.kind == TokKind::Var && !name.starts_with("@@");
            let name = sys_name(&name);
            let sysvar = |r: &Reader<'_, '_>, t: &Tok| -> Option<String> {
                let n = r.text(t).to_ascii_lowercase();
                (t.kind == TokKind::Var && n.starts_with("@@")).then(|| sys_name(&n).to_string())
            };
            if user {
                // `@saved = @@character_set_client`: remember the current setting.
                if let [v] = value {
                    match sysvar(self, v).as_deref() {
                        Some("sql_mode") => {
                            let m = if self.mode.backslash {
                                ""
                            } else {
                                "NO_BACKSLASH_ESCAPES"
                            };
                            self.saved.insert(name.to_string(), m.into());
                        }
                        Some("character_set_client") => {
                            self.saved
                                .insert(name.to_string(), self.charset_name.clone());
                        }
                        _ => {
                            self.saved.remove(name);
                        }
                    }
                }
                continue;
            }
            let restored = match value {
                [v] if v.kind == TokKind::Var && sysvar(self, v).is_none() => {
                    let n = self.text(v).to_ascii_lowercase();
                    Some(self.saved.get(n.trim_start_matches('@')).cloned())
                }
                _ => None,
            };
            match name {
                "sql_mode" => {
                    let text = match restored {
                        Some(Some(s)) => s,
                        Some(None) => continue,
                        None if value.len() == 1 && sysvar(self, &value[0]).is_some() => continue,
                        None => value
                            .iter()
                            .map(|t| self.text(t))
                            .collect::<Vec<_>>()
                            .join(" "),
                    };
                    self.mode.backslash =
                        !text.to_ascii_uppercase().contains("NO_BACKSLASH_ESCAPES");
                }
                "character_set_client" => {
                    let cs = match restored {
                        Some(Some(s)) => s,
                        Some(None) => continue,
                        None => match value.first() {
                            Some(t) => self.text(t),
                            None => continue,
                        },
                    };
                    self.set_charset(&cs);
                }
                _ => {}
            }
        }
    }

    fn set_charset(&mut self, name: &str) {
        let name = if name.eq_ignore_ascii_case("default") {
            "utf8mb4"
        } else {
            name
        };
        self.charset_name = name.to_string();
        self.mode.charset = Charset::from_name(name);
    }

    /// `CREATE [OR REPLACE] [TEMPORARY] TABLE [IF NOT EXISTS] t (col type …, …)`.
    fn create_table(&mut self, toks: &[Tok]) {
        let mut i = 1;
        while toks.get(i).is_some_and(|t| {
            ["OR", "REPLACE", "TEMPORARY"]
                .iter()
                .any(|w| self.is_word(t, w))
        }) {
            i += 1;
        }
        if !toks.get(i).is_some_and(|t| self.is_word(t, "TABLE")) {
            return;
        }
        i += 1;
        while toks
            .get(i)
            .is_some_and(|t| ["IF", "NOT", "EXISTS"].iter().any(|w| self.is_word(t, w)))
        {
            i += 1;
        }
        let Some(mut name) = toks.get(i).map(|t| self.text(t)) else {
            return;
        };
        i += 1;
        if toks.get(i).is_some_and(|t| t.kind == TokKind::Punct(b'.')) {
            let Some(n) = toks.get(i + 1).map(|t| self.text(t)) else {
                return;
            };
            name = n;
            i += 2;
        }
        if !toks.get(i).is_some_and(|t| t.kind == TokKind::Punct(b'(')) {
            return;
        }
        i += 1;
        let mut entries: Vec<&[Tok]> = Vec::new();
        let (mut depth, mut from) = (0usize, i);
        while let Some(t) = toks.get(i) {
            match t.kind {
                TokKind::Punct(b'(') => depth += 1,
                TokKind::Punct(b')') if depth == 0 => {
                    entries.push(&toks[from..i]);
                    break;
                }
                TokKind::Punct(b')') => depth -= 1,
                TokKind::Punct(b',') if depth == 0 => {
                    entries.push(&toks[from..i]);
                    from = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        const NOT_COLUMNS: &[&str] = &[
            "PRIMARY",
            "KEY",
            "INDEX",
            "UNIQUE",
            "CONSTRAINT",
            "FOREIGN",
            "FULLTEXT",
            "SPATIAL",
            "CHECK",
            "PERIOD",
        ];
        let mut cols = Vec::new();
        let mut keys = Vec::new();
        for e in entries {
            let Some(first) = e.first() else { continue };
            if first.kind == TokKind::Word && NOT_COLUMNS.iter().any(|w| self.is_word(first, w)) {
                let unique = ["PRIMARY", "UNIQUE"].iter().any(|w| self.is_word(first, w))
                    || (self.is_word(first, "CONSTRAINT")
                        && e.iter()
                            .any(|t| self.is_word(t, "UNIQUE") || self.is_word(t, "PRIMARY")));
                if unique {
                    keys.push(e);
                }
                continue;
            }
            if !matches!(
                first.kind,
                TokKind::Word | TokKind::Quoted | TokKind::Str(_)
            ) {
                continue;
            }
            let col = self.text(first);
            let decl = match e.get(1) {
                Some(t) if t.kind == TokKind::Word => {
                    let mut end = t.span.end;
                    let mut k = 2;
                    if e.get(k).is_some_and(|t| t.kind == TokKind::Punct(b'(')) {
                        let mut d = 0;
                        while let Some(t) = e.get(k) {
                            match t.kind {
                                TokKind::Punct(b'(') => d += 1,
                                TokKind::Punct(b')') => d -= 1,
                                _ => {}
                            }
                            end = t.span.end;
                            k += 1;
                            if d == 0 {
                                break;
                            }
                        }
                    }
                    while let Some(t) = e.get(k) {
                        if ["UNSIGNED", "SIGNED", "ZEROFILL", "PRECISION", "VARYING"]
                            .iter()
                            .any(|w| self.is_word(t, w))
                        {
                            end = t.span.end;
                            k += 1;
                        } else {
                            break;
                        }
                    }
                    String::from_utf8_lossy(&self.buf[t.span.start..end]).into_owned()
                }
                _ => String::new(),
            };
            let invisible = e.iter().any(|t| self.is_word(t, "INVISIBLE"));
            // MariaDB writes a JSON column as `longtext … CHECK (json_valid(`c`))`.
            let decl = if e.iter().any(|t| self.is_word(t, "json_valid")) {
                "json".to_string()
            } else {
                decl
            };
            let unique = e
                .iter()
                .skip(1)
                .any(|t| self.is_word(t, "UNIQUE") || self.is_word(t, "PRIMARY"));
            cols.push(ColDef {
                name: col,
                decl,
                invisible,
                unique,
            });
        }
        // `PRIMARY KEY (`a`)`, `UNIQUE KEY `k` (`a`)`: keys of one column.
        for e in &keys {
            let Some(open) = e.iter().position(|t| t.kind == TokKind::Punct(b'(')) else {
                continue;
            };
            let mut depth = 0;
            let mut names = Vec::new();
            for t in &e[open..] {
                match t.kind {
                    TokKind::Punct(b'(') => depth += 1,
                    TokKind::Punct(b')') => depth -= 1,
                    TokKind::Quoted | TokKind::Word if depth == 1 => names.push(self.text(t)),
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
            }
            if let [one] = names.as_slice() {
                let one = one.to_lowercase();
                if let Some(c) = cols.iter_mut().find(|c| c.name.to_lowercase() == one) {
                    c.unique = true;
                }
            }
        }
        // A table created again starts afresh.
        self.end_sampling();
        self.tables.insert(
            name.to_lowercase(),
            TableState {
                name,
                def: Some(cols),
                ..TableState::default()
            },
        );
    }

    /// The header of an INSERT at `start`, or `None` when the statement is no
    /// `INSERT|REPLACE … VALUES` (an `INSERT … SELECT` is copied as it is).
    fn insert_header(&self, start: usize, v: &mut bool) -> Result<Option<Header>, LexError> {
        let buf = &self.buf;
        let (mode, eof) = (self.mode, self.eof);
        let mut p = start;
        let next = |p: &mut usize, v: &mut bool| -> Result<Option<Tok>, LexError> {
            let t = sql::next_token(buf, *p, mode, eof, v)?;
            if let Some(t) = &t {
                *p = t.span.end;
            }
            Ok(t)
        };
        let Some(t) = next(&mut p, v)? else {
            return Ok(None);
        };
        if !(self.is_word(&t, "INSERT") || self.is_word(&t, "REPLACE")) {
            return Ok(None);
        }
        let mut t = next(&mut p, v)?;
        while let Some(w) = &t {
            if ["LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE", "INTO"]
                .iter()
                .any(|k| self.is_word(w, k))
            {
                t = next(&mut p, v)?;
            } else {
                break;
            }
        }
        fn name_tok(t: &Option<Tok>) -> Option<&Tok> {
            t.as_ref()
                .filter(|t| matches!(t.kind, TokKind::Word | TokKind::Quoted | TokKind::Str(_)))
        }
        let Some(n) = name_tok(&t) else {
            return Ok(None);
        };
        let mut table = self.text(n);
        t = next(&mut p, v)?;
        if t.as_ref().is_some_and(|t| t.kind == TokKind::Punct(b'.')) {
            t = next(&mut p, v)?;
            let Some(n) = name_tok(&t) else {
                return Ok(None);
            };
            table = self.text(n);
            t = next(&mut p, v)?;
        }
        if t.as_ref().is_some_and(|t| self.is_word(t, "PARTITION")) {
            let mut depth = 0;
            loop {
                t = next(&mut p, v)?;
                match t.as_ref().map(|t| t.kind) {
                    Some(TokKind::Punct(b'(')) => depth += 1,
                    Some(TokKind::Punct(b')')) => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    None => return Ok(None),
                    _ => {}
                }
            }
            t = next(&mut p, v)?;
        }
        let mut cols = None;
        if t.as_ref().is_some_and(|t| t.kind == TokKind::Punct(b'(')) {
            let mut names = Vec::new();
            loop {
                t = next(&mut p, v)?;
                match &t {
                    Some(c)
                        if matches!(c.kind, TokKind::Word | TokKind::Quoted | TokKind::Str(_)) =>
                    {
                        names.push(self.text(c))
                    }
                    Some(c) if c.kind == TokKind::Punct(b',') => {}
                    Some(c) if c.kind == TokKind::Punct(b')') => break,
                    _ => return Ok(None),
                }
            }
            cols = Some(names);
            t = next(&mut p, v)?;
        }
        match &t {
            Some(w) if self.is_word(w, "VALUES") || self.is_word(w, "VALUE") => Ok(Some(Header {
                table,
                cols,
                end: w.span.end,
            })),
            _ => Ok(None),
        }
    }

    /// The layout of an INSERT's rows; starts gathering a sample when its columns are new.
    fn layout_for(&mut self, h: &Header) -> Arc<Layout> {
        let key_table = h.table.to_lowercase();
        let key = h
            .cols
            .as_ref()
            .map(|c| c.iter().map(|n| n.to_lowercase()).collect::<Vec<_>>());
        if let Some(l) = self
            .tables
            .get(&key_table)
            .and_then(|t| t.layouts.get(&key))
        {
            return l.clone();
        }
        self.end_sampling();
        let ts = self
            .tables
            .entry(key_table.clone())
            .or_insert_with(|| TableState {
                name: h.table.clone(),
                ..TableState::default()
            });
        let names: Vec<String> = match (&h.cols, &ts.def) {
            (Some(c), _) => c.clone(),
            (None, Some(def)) => def
                .iter()
                .filter(|c| !c.invisible)
                .map(|c| c.name.clone())
                .collect(),
            (None, None) => Vec::new(),
        };
        let layout = Arc::new(Layout {
            n: OnceLock::new(),
            classes: OnceLock::new(),
        });
        if !names.is_empty() {
            let _ = layout.n.set(names.len());
        }
        ts.layouts.insert(key, layout.clone());
        let known = !names.is_empty()
            && names
                .iter()
                .all(|n| ts.classified.contains_key(&n.to_lowercase()));
        let n = names.len();
        self.sampling = Some(Sampling {
            table: key_table,
            layout: layout.clone(),
            names,
            samples: vec![Vec::new(); n],
            rows: 0,
        });
        if known {
            self.end_sampling();
        }
        layout
    }

    /// Classifies the columns of the layout being sampled and sends the units held for it.
    fn end_sampling(&mut self) {
        let Some(s) = self.sampling.take() else {
            return;
        };
        let Some(ts) = self.tables.get_mut(&s.table) else {
            return;
        };
        let n = s.layout.n.get().copied().unwrap_or(s.names.len());
        let names: Vec<String> = if s.names.is_empty() {
            (1..=n).map(|i| i.to_string()).collect()
        } else {
            s.names
        };
        let mut cols = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let lname = name.to_lowercase();
            if let Some(c) = ts.classified.get(&lname) {
                cols.push(c.clone());
                continue;
            }
            let field = format!("{}.{}", ts.name, name);
            let refs: Vec<&[u8]> = s
                .samples
                .get(i)
                .map(|v| v.iter().map(Vec::as_slice).collect())
                .unwrap_or_default();
            let Some(cells) = self.cells.as_mut() else {
                continue;
            };
            let mut class = cells.classify(self.columns, &field, &refs);
            let def = ts
                .def
                .as_ref()
                .and_then(|d| d.iter().find(|c| c.name.to_lowercase() == lname));
            if let Some(d) = def {
                set_sql_type(&mut class, &d.decl);
            }
            class.unique = def.is_some_and(|d| d.unique);
            if let Some(Ok(mut all)) = self.opts.classes.map(|m| m.lock()) {
                all.push(class.clone());
            }
            let c = Arc::new(Col {
                field: Arc::from(field),
                class,
            });
            ts.classified.insert(lname, c.clone());
            cols.push(c);
        }
        let subject = self
            .opts
            .subject_column
            .and_then(|sc| names.iter().position(|n| n.eq_ignore_ascii_case(sc)));
        let _ = s.layout.classes.set(Classes { cols, subject });
        self.held_bytes = 0;
        for c in std::mem::take(&mut self.held) {
            self.send(c);
        }
    }

    /// The rows of an INSERT whose header is `h`.
    fn insert(&mut self, h: Header) -> Result<(), PipelineError> {
        let stmt_line = self.line_at(self.pos);
        let layout = self.layout_for(&h);
        let table = h.table.clone();
        self.pos = h.end;
        self.emit(h.end);
        let cut_off = |what: &str, line: u64| {
            PipelineError::Format(format!(
                "malformed dump: the input ends inside {what} of INSERT into `{table}` (line {line}); the dump looks cut off"
            ))
        };
        let mut versioned = false;
        let mut scratch: Vec<Value> = Vec::new();
        loop {
            // A row.
            let v0 = versioned;
            let p = match sql::skip_space(&self.buf, self.pos, self.eof, Some(&mut versioned)) {
                Ok(p) if p < self.buf.len() => p,
                Ok(_) if self.eof => return Err(cut_off("the rows", stmt_line)),
                Ok(_) | Err(LexError::More) => {
                    versioned = v0;
                    self.more()?;
                    continue;
                }
                Err(_) => return Err(cut_off("a comment", self.line_at(self.pos))),
            };
            if self.buf[p] != b'(' {
                return Err(PipelineError::Format(format!(
                    "malformed dump at line {}: expected a row `(` in INSERT into `{table}`",
                    self.line_at(p)
                )));
            }
            scratch.clear();
            let end = match sql::parse_row(&self.buf, p, self.mode, self.eof, &mut scratch) {
                Ok(end) => end,
                Err(LexError::More) => {
                    versioned = v0;
                    self.more()?;
                    continue;
                }
                Err(LexError::Unterminated { what, .. }) => {
                    return Err(cut_off(what, self.line_at(p)));
                }
                Err(LexError::Unexpected { what, at }) => {
                    return Err(PipelineError::Format(format!(
                        "malformed dump at line {}: expected {what} in a row of INSERT into `{table}`",
                        self.line_at(at)
                    )))
                }
            };
            let n = *layout.n.get_or_init(|| scratch.len());
            if scratch.len() != n {
                return Err(PipelineError::Format(format!(
                    "malformed dump at line {}: a row of INSERT into `{table}` has {} values, the table has {n} columns",
                    self.line_at(p),
                    scratch.len()
                )));
            }
            let mode = self.mode;
            let mut sampled = false;
            if let Some(s) = self.sampling.as_mut() {
                if Arc::ptr_eq(&s.layout, &layout) && s.rows < SAMPLE_ROWS {
                    if s.samples.len() < n {
                        s.samples.resize(n, Vec::new());
                    }
                    for (i, v) in scratch.iter().enumerate() {
                        if let Some(d) = v.decode(&self.buf, mode) {
                            s.samples[i].push(d.into_owned());
                        }
                    }
                    s.rows += 1;
                    sampled = s.rows >= SAMPLE_ROWS;
                }
            }
            let row_no = {
                let ts = self
                    .tables
                    .get_mut(&table.to_lowercase())
                    .ok_or(PipelineError::Worker)?;
                ts.rows += 1;
                ts.rows
            };
            let delta = self.chunk.data.len();
            let first = self.chunk.vals.len();
            let emitted = self.emitted;
            self.chunk.vals.extend(scratch.drain(..).map(|mut v| {
                v.span = v.span.start - emitted + delta..v.span.end - emitted + delta;
                v.body = v.body.start - emitted + delta..v.body.end - emitted + delta;
                v
            }));
            self.chunk.rows.push(Row {
                layout: layout.clone(),
                vals: first..self.chunk.vals.len(),
                row: row_no,
                mode,
            });
            self.pos = end;
            self.emit(end);
            if sampled {
                self.end_sampling();
            }
            self.cut();
            // Then `,` and another row, the delimiter, or `ON DUPLICATE KEY UPDATE …`.
            loop {
                let v0 = versioned;
                let dl = self.delimiter.len();
                let p = match sql::skip_space(&self.buf, self.pos, self.eof, Some(&mut versioned)) {
                    Ok(p) if p + dl.max(2) <= self.buf.len() || self.eof => p,
                    Ok(_) | Err(LexError::More) => {
                        versioned = v0;
                        self.more()?;
                        continue;
                    }
                    Err(_) => return Err(cut_off("a comment", self.line_at(self.pos))),
                };
                if p >= self.buf.len() {
                    return Err(cut_off("the rows", stmt_line));
                }
                if self.buf[p] == b',' {
                    self.pos = p + 1;
                    break;
                }
                if self.buf[p..].starts_with(&self.delimiter) {
                    self.pos = p + dl;
                    let end = self.pos;
                    self.emit(end);
                    return Ok(());
                }
                if self.buf[p..].len() >= 2 && self.buf[p..p + 2].eq_ignore_ascii_case(b"ON") {
                    self.pos = p;
                    return self.other(false);
                }
                return Err(PipelineError::Format(format!(
                    "malformed dump at line {}: expected `,` or `{}` after a row of INSERT into `{table}`",
                    self.line_at(p),
                    String::from_utf8_lossy(&self.delimiter)
                )));
            }
        }
    }
}

/// `@@session.sql_mode` → `sql_mode`.
fn sys_name(n: &str) -> &str {
    let n = n.trim_start_matches('@');
    for p in ["session.", "global.", "local."] {
        if let Some(r) = n.strip_prefix(p) {
            return r;
        }
    }
    n
}

/// Gives a column class the declared SQL type of its column, so [`Cells`] fits every
/// replacement to it (length, digits, dates, bytes).
fn set_sql_type(class: &mut ColumnClass, decl: &str) {
    class.sql_type = Some(super::sqltype::SqlType::parse(decl));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{EntityFilter, Mode as RunMode};
    use crate::policy::Policy;
    use crate::transform::{key::Key, Transformer};

    fn engine(policy: Policy) -> Engine {
        Engine {
            detector: crate::detect::builtin().unwrap(),
            transformer: Transformer::new(policy, Key::from_bytes(&[5; 32]).ok()),
            filter: EntityFilter::default(),
            min_score: 0.5,
        }
    }

    struct Out {
        text: Vec<u8>,
        stats: Stats,
        found: Vec<Located>,
        classes: Vec<ColumnClass>,
    }

    fn scrub_with(
        e: &Engine,
        input: &[u8],
        threads: usize,
        read: usize,
        chunk: usize,
    ) -> Result<Out, PipelineError> {
        let classes = std::sync::Mutex::new(Vec::new());
        let opts = RunOptions {
            mode: RunMode::Scrub,
            threads,
            classes: Some(&classes),
            table: Some("dumpfile"),
            ..RunOptions::default()
        };
        let mut out = Vec::new();
        let mut found = Vec::new();
        let cols = ColumnRules::builtin().unwrap();
        let stats = run_sized(
            e,
            &cols,
            &mut &input[..],
            Some(&mut out),
            &opts,
            &mut |l| {
                found.push(l.clone());
                Ok(())
            },
            read,
            chunk,
        )?;
        Ok(Out {
            text: out,
            stats,
            found,
            classes: classes.into_inner().unwrap(),
        })
    }

    fn scrub(input: &[u8]) -> Out {
        scrub_with(
            &engine(Policy::defaults(true)),
            input,
            2,
            READ_SIZE,
            CHUNK_SIZE,
        )
        .unwrap()
    }

    /// A small mariadb-dump-shaped dump: header settings, DDL, extended and complete inserts,
    /// a trigger in a `DELIMITER ;;` block with a PHI-looking literal in its body.
    const DUMP: &[u8] = b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n/*!40101 SET NAMES utf8mb4 */;\n/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n\nDROP TABLE IF EXISTS `patients`;\nCREATE TABLE `patients` (\n  `id` int(11) NOT NULL,\n  `ssn` varchar(11) DEFAULT NULL,\n  `first_name` varchar(40) DEFAULT NULL,\n  `notes` text DEFAULT NULL,\n  `state` char(2) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `ssn` (`ssn`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n\nLOCK TABLES `patients` WRITE;\n/*!40000 ALTER TABLE `patients` DISABLE KEYS */;\nINSERT INTO `patients` VALUES (1,'536-22-8726','Gleason633','called (312) 447-2291; ok\\tyes \\'q\\' \\\\ \\\"d\\\"','MA'),\n(2,NULL,'Ana','nothing here','CT'),(3,'219-45-6789','O\\'Neil','SSN 219-45-6789 again','NY');\n/*!40000 ALTER TABLE `patients` ENABLE KEYS */;\nUNLOCK TABLES;\nINSERT IGNORE INTO `patients` (`ssn`, `id`) VALUES ('536-22-8726',4);\nREPLACE INTO patients VALUES (5,'078-05-1120','Bo',NULL,'TX');\nINSERT INTO patients (id, ssn) VALUES (6,'123-45-6789') ON DUPLICATE KEY UPDATE ssn=VALUES(ssn);\nDELIMITER ;;\n/*!50003 CREATE*/ /*!50003 TRIGGER tr BEFORE INSERT ON patients FOR EACH ROW BEGIN INSERT INTO audit VALUES ('536-22-8726'); END */;;\nDELIMITER ;\n/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n-- Dump completed\n";

    fn statements(b: &[u8]) -> Vec<&[u8]> {
        b.split(|&c| c == b'\n').collect()
    }

    #[test]
    fn rows_are_rewritten_and_everything_else_is_copied() {
        let o = scrub(DUMP);
        let text = String::from_utf8(o.text.clone()).unwrap();
        for planted in [
            "536-22-8726",
            "219-45-6789",
            "Gleason633",
            "447-2291",
            "O\\'Neil",
            "078-05-1120",
        ] {
            let left = text.matches(planted).count();
            // The trigger's body is code and copied as it is.
            let want = usize::from(planted == "536-22-8726");
            assert_eq!(left, want, "{planted} in\n{text}");
        }
        let (a, b) = (statements(DUMP), statements(&o.text));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            let data =
                x.starts_with(b"INSERT") || x.starts_with(b"REPLACE") || x.starts_with(b"(2,");
            if !data {
                assert_eq!(x, y, "non-data lines are copied");
            }
        }
        // The kept column and the escapes around unchanged text survive.
        assert!(text.contains(",'MA'),"), "{text}");
        // A changed value is written as mysqldump writes: a tab raw, quotes and backslashes
        // escaped.
        assert!(text.contains("ok\tyes \\'q\\' \\\\ \\\"d\\\""), "{text}");
        assert!(text.contains(",NULL,"), "{text}");
        // After the rows, `ON DUPLICATE KEY UPDATE …` is copied.
        assert!(
            text.contains("') ON DUPLICATE KEY UPDATE ssn=VALUES(ssn);\n"),
            "{text}"
        );
        assert!(!text.contains("123-45-6789"), "{text}");
        let names: Vec<&str> = o.classes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "patients.id",
                "patients.ssn",
                "patients.first_name",
                "patients.notes",
                "patients.state"
            ]
        );
        assert!(o.stats.changed > 0);
        assert_eq!(o.stats.bytes, DUMP.len() as u64);
        assert!(o.found.iter().all(|l| l
            .field
            .as_deref()
            .is_some_and(|f| f.starts_with("patients."))));
        // Same value, same token, in both statements.
        let ssn_tokens: Vec<&str> = text
            .match_indices("'9")
            .map(|(i, _)| &text[i + 1..i + 12])
            .collect();
        assert!(ssn_tokens.len() >= 3, "{text}");
    }

    #[test]
    fn every_read_and_unit_size_gives_the_same_output() {
        let e = engine(Policy::defaults(true));
        let want = scrub_with(&e, DUMP, 1, READ_SIZE, CHUNK_SIZE).unwrap().text;
        for read in (1..=16).chain([23, 31, 97, 256, 1000]) {
            for (threads, chunk) in [(1, 1), (2, 7), (3, 64), (2, 1 << 20)] {
                let got = scrub_with(&e, DUMP, threads, read, chunk).unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&got.text),
                    String::from_utf8_lossy(&want),
                    "read {read}, chunk {chunk}, threads {threads}"
                );
            }
        }
    }

    #[test]
    fn nothing_found_means_byte_identical() {
        let e = Engine {
            filter: EntityFilter::new(vec![crate::entity::Entity::VehicleId], vec![]),
            ..engine(Policy::defaults(true))
        };
        for read in [1, 5, 4096] {
            let o = scrub_with(&e, DUMP, 2, read, 16).unwrap();
            assert_eq!(o.text, DUMP, "read {read}");
        }
    }

    #[test]
    fn findings_have_lines_and_columns() {
        let o = scrub(DUMP);
        let text = std::str::from_utf8(DUMP).unwrap();
        let lines: Vec<&str> = text.split('\n').collect();
        for l in &o.found {
            let line = lines[l.line as usize - 1];
            let col: usize = line
                .char_indices()
                .nth(l.column as usize - 1)
                .map(|(i, _)| i)
                .unwrap();
            let off = text[..l.start as usize].rfind('\n').map_or(0, |p| p + 1) + col;
            assert_eq!(off, l.start as usize, "{l:?}");
        }
    }

    #[test]
    fn sjis_trail_bytes_and_no_backslash_escapes() {
        // 0x95 0x5C is one SJIS character ending in the backslash byte.
        let mut d = b"/*!40101 SET NAMES sjis */;\nCREATE TABLE t (notes text);\nINSERT INTO t VALUES ('\x95\x5c SSN 536-22-8726'),('\x95\x5c');\n".to_vec();
        d.extend_from_slice(b"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_BACKSLASH_ESCAPES' */;\nINSERT INTO t VALUES ('c:\\dir SSN 219-45-6789'),('it''s');\n/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\nINSERT INTO t VALUES ('a\\'b SSN 078-05-1120');\n");
        let o = scrub(&d);
        let text = o.text;
        let s = String::from_utf8_lossy(&text);
        assert!(
            memchr::memmem::find(&text, b"('\x95\x5c SSN 9").is_some(),
            "{s}"
        );
        assert!(
            memchr::memmem::find(&text, b"('\x95\x5c');").is_some(),
            "{s}"
        );
        assert!(
            s.contains("('c:\\dir SSN 9"),
            "no escaping added without backslash escapes: {s}"
        );
        assert!(s.contains("('it''s')"), "{s}");
        assert!(s.contains("('a\\'b SSN 9"), "{s}");
        for planted in ["536-22-8726", "219-45-6789", "078-05-1120"] {
            assert!(!s.contains(planted), "{planted}: {s}");
        }
    }

    #[test]
    fn column_policy_and_unnamed_columns() {
        let p = Policy::parse("[columns]\n\"patients.notes\" = \"keep\"\n", true).unwrap();
        let o = scrub_with(&engine(p), DUMP, 2, READ_SIZE, CHUNK_SIZE).unwrap();
        let s = String::from_utf8(o.text).unwrap();
        assert!(s.contains("'called (312) 447-2291; ok"), "{s}");
        assert!(!s.contains("'536-22-8726','Gleason633'"), "{s}");
        // No CREATE TABLE: columns are numbered and scanned.
        let o = scrub(b"INSERT INTO x VALUES (1,'SSN 536-22-8726'),(2,'no');\n");
        let names: Vec<&str> = o.classes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["x.1", "x.2"]);
        assert!(!String::from_utf8_lossy(&o.text).contains("536-22-8726"));
    }

    #[test]
    fn cut_off_dumps_fail_without_values_in_the_message() {
        let e = engine(Policy::defaults(true));
        let at = memchr::memmem::find(DUMP, b"INSERT INTO `patients` VALUES").unwrap();
        let end = at + memchr::memmem::find(&DUMP[at..], b");\n").unwrap();
        for cut in at + 30..=end {
            let err = match scrub_with(&e, &DUMP[..cut], 2, 64, 32) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("cut at {cut} passed"),
            };
            assert!(
                err.contains("line 20") || err.contains("line 21"),
                "{cut}: {err}"
            );
            assert!(err.contains("patients"), "{cut}: {err}");
            for v in ["536", "Gleason", "447", "called", "Neil"] {
                assert!(!err.contains(v), "{err}");
            }
        }
        let err = scrub_with(
            &e,
            b"CREATE TABLE t (a int, b int);\nINSERT INTO t VALUES (1,2),\n(3);\n",
            1,
            64,
            64,
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("line 3") && err.contains("1 values") && err.contains("2 columns"),
            "{err}"
        );
        let err = scrub_with(&e, b"SELECT 'abc", 1, 64, 64)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("line 1") && err.contains("cut off"), "{err}");
    }

    #[test]
    fn unique_keys_whose_replacements_collide_fail() {
        let p = Policy::parse(
            "[columns]\n\"*.ssn\" = { entity = \"SSN\", action = \"mask\", keep_last = 2 }\n",
            true,
        )
        .unwrap();
        let e = engine(p);
        let rows = "VALUES (1,'536-22-8726'),(2,'219-45-6726'),(3,'536-22-8726');\n";
        for (ddl, fails) in [
            (
                "CREATE TABLE p (id int, ssn varchar(11) NOT NULL UNIQUE);\n",
                true,
            ),
            (
                "CREATE TABLE p (id int, ssn varchar(11), PRIMARY KEY (`ssn`));\n",
                true,
            ),
            (
                "CREATE TABLE p (id int, ssn varchar(11), UNIQUE KEY k (id, ssn));\n",
                false,
            ),
            ("CREATE TABLE p (id int, ssn varchar(11));\n", false),
        ] {
            let dump = format!("{ddl}INSERT INTO p {rows}");
            match scrub_with(&e, dump.as_bytes(), 2, 64, 16) {
                Err(err) => {
                    let err = err.to_string();
                    assert!(fails, "{ddl}: {err}");
                    assert!(
                        err.contains("p.ssn is a unique key") && err.contains("rows 1 and 2"),
                        "{err}"
                    );
                    assert!(!err.contains("8726") && !err.contains("26'"), "{err}");
                }
                Ok(o) => assert!(!fails, "{ddl}: {}", String::from_utf8_lossy(&o.text)),
            }
        }
    }
}
