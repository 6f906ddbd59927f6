//! PostgreSQL plain dumps (`pg_dump -Fp`, or `pg_restore -f -` of a custom archive): COPY
//! blocks and INSERT statements rewritten column by column, every other byte copied as it was.
//!
//! A reader thread cuts the stream with the SQL lexer of [`pg_sql`]: comments, psql
//! meta-commands (`\connect`, `\restrict`) and every statement that is not data (DDL, `SET`,
//! `SELECT pg_catalog.setval`, function bodies in dollar quotes) go out untouched. It keeps
//! what later bytes depend on: the columns and declared types of each `CREATE TABLE`, and the
//! session's `client_encoding` and `standard_conforming_strings`.
//!
//! Data goes to the workers in chunks of whole COPY lines or whole INSERT statements (about
//! [`CHUNK`] bytes each), tagged with their table, so every core works and memory stays a few
//! chunks per worker whatever the dump size; results are written back in order. Each
//! `table.column` is classified once, from its name and the first [`SAMPLE_ROWS`] rows, by the
//! same classifier and per-cell logic as CSV ([`Cells`]); policy `[columns]` globs match
//! `schema.table.column` or `table.column`. A cell is decoded (COPY escapes, string literal
//! quoting, bytea hex to raw bytes) before detection, and only a changed value is re-encoded,
//! in the form its place needs.
//!
//! A dump that ends inside a COPY block or a statement is an error naming the line and the
//! table: a half dump must never restore as if it were whole.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::sync::Arc;

use super::cells::Cells;
use super::pg_copy::{self, Encoding};
use super::pg_sql::{self, End, Lex, Partitioning, StrKind, Tok, Token, Tokens};
use super::sqltype::SqlType;
use super::Sizes;
use crate::classify::{ColumnClass, ColumnRules};
use crate::entity::Entity;
use crate::pipeline::{Engine, Located, PipelineError, RunOptions, Stats};
use crate::policy::ColumnOverride;
use crate::transform::IdBatch;

/// Rows sampled to classify a table's columns.
pub const SAMPLE_ROWS: usize = 200;
/// Bytes of data per chunk handed to a worker.
pub const CHUNK: usize = 1 << 20;
/// Bytes read at a time (at least).
const READ_SIZE: usize = 1 << 20;

/// The sizes [`run`] reads and cuts at.
pub const SIZES: Sizes = Sizes {
    read: READ_SIZE,
    chunk: CHUNK,
};
/// The longest statement read whole (a multi-row INSERT); longer is an error, not a blow-up.
pub const MAX_STATEMENT: usize = 512 << 20;

/// One column of a table.
struct Col {
    /// `table.column` (`schema.table.column` outside `public`): the field in reports and the
    /// key of the policy override.
    field: Arc<str>,
    class: ColumnClass,
    over: Option<ColumnOverride>,
    /// A `bytea` column: cells are the raw bytes of its hex form.
    bytea: bool,
    /// Kept by its class or by the policy: its cells are not even decoded.
    skip: bool,
}

/// A table whose data is being rewritten.
struct Table {
    /// Index among the dump's tables, for row numbers.
    idx: usize,
    /// As reports and errors name it: `public.patients`.
    name: String,
    cols: Vec<Col>,
    by_name: HashMap<String, usize>,
    /// Whether the column list is known, so COPY lines must have exactly that many fields.
    known: bool,
    /// The `--subject-column`, when the table has it.
    subject: Option<usize>,
}

/// What a worker does with a chunk.
enum Work {
    Pass,
    Copy(Arc<Table>),
    Insert(Arc<Table>),
}

struct Chunk {
    seq: u64,
    /// Stream offset and 1-based line of `data[0]`.
    base: u64,
    line: u64,
    data: Vec<u8>,
    work: Work,
    lex: Lex,
}

struct Done {
    seq: u64,
    out: Vec<u8>,
    found: Vec<Located>,
    rows: u64,
    table: Option<usize>,
    len: u64,
    stats: Stats,
    error: Option<String>,
}

/// Rewrites (or, without `output`, scans) one dump stream.
///
/// # Errors
/// Read and write errors, and a malformed or truncated dump (with line and table, never
/// data).
pub fn run<W: Write + ?Sized>(
    engine: &Engine,
    columns: &ColumnRules,
    input: &mut (dyn Read + Send),
    output: Option<&mut W>,
    opts: &RunOptions<'_>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<Stats, PipelineError> {
    run_sized(engine, columns, input, output, opts, found, SIZES)
}

/// [`run`] with the stream cut at other sizes (tests and fuzzing).
#[doc(hidden)]
pub fn run_sized<W: Write + ?Sized>(
    engine: &Engine,
    columns: &ColumnRules,
    input: &mut (dyn Read + Send),
    mut output: Option<&mut W>,
    opts: &RunOptions<'_>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
    sizes: Sizes,
) -> Result<Stats, PipelineError> {
    let sizes = Sizes {
        read: sizes.read.max(1),
        chunk: sizes.chunk.max(1),
    };
    let scrub = output.is_some();
    let threads = opts.threads.max(1);
    let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<Chunk>(threads * 2);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<Done>(threads * 2);
    let mut stats = Stats::default();
    // Workers look overrides up in the presets only: `[columns]` globs are matched here.
    let mut wopts = *opts;
    wopts.table = None;
    let wopts = &wopts;
    std::thread::scope(|scope| -> Result<(), PipelineError> {
        let reader = scope.spawn(move || {
            let mut r = Reader::new(engine, columns, input, opts, chunk_tx, sizes);
            let result = r.run();
            r.cells.finish();
            result.map(|bytes| (bytes, std::mem::take(&mut r.unique_keys)))
        });
        for _ in 0..threads {
            let (rx, tx) = (chunk_rx.clone(), done_tx.clone());
            scope.spawn(move || {
                let mut w = Worker {
                    cells: Cells::new(engine),
                    spans: Vec::new(),
                    scratch: Vec::new(),
                    bytes: Vec::new(),
                };
                for chunk in rx {
                    let done = w.chunk(chunk, wopts, scrub);
                    if tx.send(done).is_err() {
                        break;
                    }
                }
                w.cells.finish()
            });
        }
        drop(chunk_rx);
        drop(done_tx);
        let mut pending = std::collections::BTreeMap::new();
        let mut rows_before: Vec<u64> = Vec::new();
        let mut next = 0u64;
        let mut result = Ok(());
        'recv: for d in done_rx.iter() {
            pending.insert(d.seq, d);
            while let Some(d) = pending.remove(&next) {
                next += 1;
                if let Some(e) = d.error {
                    result = Err(PipelineError::Format(e));
                    break 'recv;
                }
                if let Some(w) = output.as_deref_mut() {
                    if let Err(e) = w.write_all(&d.out) {
                        result = Err(PipelineError::Write(e));
                        break 'recv;
                    }
                }
                let before = match d.table {
                    Some(t) => {
                        if rows_before.len() <= t {
                            rows_before.resize(t + 1, 0);
                        }
                        let b = rows_before[t];
                        rows_before[t] += d.rows;
                        b
                    }
                    None => 0,
                };
                for mut l in d.found {
                    l.row = l.row.map(|r| r + before);
                    if let Err(e) = found(&l) {
                        result = Err(PipelineError::Report(e));
                        break 'recv;
                    }
                }
                stats.findings += d.stats.findings;
                stats.changed += d.stats.changed;
                if let Some(p) = opts.progress {
                    p.fetch_add(d.len, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        drop(done_rx);
        // The first error in stream order wins, so a malformed dump fails the same way on
        // every run: a chunk's error (or a write error) comes from bytes before the reader's
        // position, since the reader sends chunks in order and stops at its own error.
        result?;
        let (bytes, unique_keys) = reader.join().map_err(|_| PipelineError::Worker)??;
        stats.bytes = bytes;
        if scrub {
            check_unique_keys(engine, &unique_keys)?;
        }
        Ok(())
    })?;
    if let Some(w) = output {
        w.flush().map_err(PipelineError::Write)?;
    }
    Ok(stats)
}

/// Fails when a column the dump declares unique got one replacement for two values: the
/// restore would stop at that constraint, so the scrub stops first (exit 2, and a file output
/// is not written). pg_dump adds keys after the data, so this is known only at the end; the
/// watch is exact for its first values and sampled after (see `transform::collide`), and a
/// collision it misses still stops a `psql -v ON_ERROR_STOP=1` restore at the constraint.
/// (A key read before its table's data, as an archive's, marks the column unique instead,
/// and its first collision stops the run as it is made.)
fn check_unique_keys(engine: &Engine, keys: &[(String, u64)]) -> Result<(), PipelineError> {
    let watch = engine.transformer.collisions();
    for (field, line) in keys {
        if let Some(n) = watch.collided(field) {
            return Err(PipelineError::Format(format!(
                "line {line}: column {field} is a unique key, but {n} of its shape-preserving \
                 replacements collided (two values, one replacement), so the restore would fail \
                 at that key; give this column an action whose replacements cannot collide in the \
                 policy's [columns] (`permute`, which keeps the length, or `token` where the \
                 column is wide enough)"
            )));
        }
    }
    Ok(())
}

/// The command words an error may name a statement by (what pg_dump and psql scripts start
/// statements with).
const STATEMENT_WORDS: [&str; 26] = [
    "ALTER", "ANALYZE", "BEGIN", "COMMENT", "COMMIT", "COPY", "CREATE", "DELETE", "DO", "DROP",
    "GRANT", "INSERT", "LOCK", "REFRESH", "RESET", "REVOKE", "SECURITY", "SELECT", "SET", "START",
    "TRUNCATE", "UPDATE", "VACUUM", "VALUES", "WITH", "ROLLBACK",
];

/// The kind of bytes the reader is collecting into the next chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Region {
    Pass,
    /// INSERT statements into one table (its key), with the first statement's column list.
    Insert(String),
}

/// The reader: cuts the stream, tracks tables and settings, classifies, sends chunks.
struct Reader<'a, 'e> {
    engine: &'e Engine,
    columns: &'e ColumnRules,
    input: &'a mut (dyn Read + Send),
    opts: &'e RunOptions<'e>,
    tx: crossbeam_channel::Sender<Chunk>,
    cells: Cells<'e>,
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Bytes before this are consumed, and `line` is the line of `buf[pos]`.
    pos: usize,
    line: u64,
    eof: bool,
    lex: Lex,
    region: Region,
    region_start: usize,
    region_line: u64,
    /// The INSERT column list of the region's first statement.
    region_names: Option<Vec<String>>,
    seq: u64,
    /// Columns and declared types of each `CREATE TABLE`, by table key.
    creates: HashMap<String, Vec<(String, String)>>,
    /// The key columns of each partitioned table, and the parent of each partition.
    partition_keys: HashMap<String, Vec<String>>,
    /// Single-column unique keys the dump adds (after the data, as pg_dump writes them): the
    /// column's field name and the statement's line, checked against the collision watch
    /// once every row is through.
    unique_keys: Vec<(String, u64)>,
    parent_of: HashMap<String, String>,
    /// Tables of INSERT data, classified on their first chunk.
    inserts: HashMap<String, Arc<Table>>,
    ntables: usize,
    /// The consumer stopped (it reports why).
    closed: bool,
    sizes: Sizes,
}

/// A column's name in findings, reports and the collision watch: `table.column` in the
/// `public` schema, `schema.table.column` elsewhere.
fn field_name(schema: &str, table: &str, column: &str) -> String {
    if schema == "public" {
        format!("{table}.{column}")
    } else {
        format!("{schema}.{table}.{column}")
    }
}

/// `schema.table` as a key: the parts as the lexer gives them (unquoted lower-cased), a
/// missing schema taken as `public`.
fn table_key(parts: &[String]) -> (String, String, String) {
    let (schema, table) = match parts {
        [t] => ("public".to_string(), t.clone()),
        [.., s, t] => (s.clone(), t.clone()),
        [] => ("public".to_string(), String::new()),
    };
    (format!("{schema}.{table}"), schema, table)
}

impl<'a, 'e> Reader<'a, 'e> {
    fn new(
        engine: &'e Engine,
        columns: &'e ColumnRules,
        input: &'a mut (dyn Read + Send),
        opts: &'e RunOptions<'e>,
        tx: crossbeam_channel::Sender<Chunk>,
        sizes: Sizes,
    ) -> Reader<'a, 'e> {
        Reader {
            sizes,
            engine,
            columns,
            input,
            opts,
            tx,
            cells: Cells::new(engine),
            buf: Vec::with_capacity(sizes.read.min(READ_SIZE) * 2),
            base: 0,
            pos: 0,
            line: 1,
            eof: false,
            lex: Lex::default(),
            region: Region::Pass,
            region_start: 0,
            region_line: 1,
            region_names: None,
            seq: 0,
            creates: HashMap::new(),
            partition_keys: HashMap::new(),
            unique_keys: Vec::new(),
            parent_of: HashMap::new(),
            inserts: HashMap::new(),
            ntables: 0,
            closed: false,
        }
    }

    /// Reads the whole stream; returns its size.
    fn run(&mut self) -> Result<u64, PipelineError> {
        self.more()?;
        loop {
            if self.closed {
                return Ok(self.base + self.buf.len() as u64);
            }
            let ws = self.buf[self.pos..]
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .map_or(self.buf.len(), |p| self.pos + p);
            self.advance(ws);
            if self.pos == self.buf.len() {
                if self.eof {
                    self.flush()?;
                    return Ok(self.base + self.buf.len() as u64);
                }
                self.more()?;
                continue;
            }
            let s = self.pos;
            let rest = &self.buf[s..];
            if rest.starts_with(b"--") || rest[0] == b'\\' {
                // A comment line, or a psql meta-command (`\connect`, `\restrict`): one line.
                match memchr::memchr(b'\n', rest) {
                    Some(p) => {
                        self.switch(Region::Pass)?;
                        self.advance(s + p + 1);
                    }
                    None if self.eof => {
                        self.switch(Region::Pass)?;
                        self.advance(self.buf.len());
                    }
                    None => self.more()?,
                }
                continue;
            }
            match pg_sql::statement_end(&self.buf, s, self.lex) {
                End::At(e) => self.statement(s, e)?,
                End::More(open) if self.eof => {
                    let what = self.statement_name(s);
                    return Err(PipelineError::Format(format!(
                        "truncated dump: input ends inside {} ({what} starting at line {})",
                        open.what(),
                        self.line
                    )));
                }
                End::More(_) => {
                    if self.buf.len() - s > MAX_STATEMENT {
                        return Err(PipelineError::Format(format!(
                            "statement at line {} is longer than {} MiB",
                            self.line,
                            MAX_STATEMENT >> 20
                        )));
                    }
                    self.more()?;
                }
            }
        }
    }

    /// What a statement is, for an error: `an INSERT into public.t`, `a statement`.
    fn statement_name(&self, s: usize) -> String {
        let b = &self.buf[s..self.buf.len().min(s + 4096)];
        let mut toks = Tokens::new(b, 0, self.lex);
        match toks.next() {
            Some(Ok(t)) if pg_sql::is_kw(b, &t, "INSERT") => {
                toks.next();
                match pg_sql::qualified_name(b, &mut toks) {
                    Ok((parts, _)) if !parts.is_empty() => {
                        format!("an INSERT into {}", table_key(&parts).0)
                    }
                    _ => "an INSERT".into(),
                }
            }
            // Only a known command word is named: the first word of a malformed dump can be
            // anything, data included, and errors never quote input.
            Some(Ok(t)) if t.tok == Tok::Word => STATEMENT_WORDS
                .iter()
                .find(|w| pg_sql::is_kw(b, &t, w))
                .map_or_else(|| "a statement".into(), |w| format!("a {w} statement")),
            _ => "a statement".into(),
        }
    }

    /// Moves `pos` to `to`, counting lines.
    fn advance(&mut self, to: usize) {
        self.line += memchr::memchr_iter(b'\n', &self.buf[self.pos..to]).count() as u64;
        self.pos = to;
    }

    /// Reads more input (at least as much as is unconsumed, so a long statement is rescanned
    /// a logarithmic number of times), first sending or dropping what is done.
    fn more(&mut self) -> Result<(), PipelineError> {
        if self.eof {
            return Ok(());
        }
        if self.pos - self.region_start >= self.sizes.chunk {
            self.flush()?;
        }
        let keep = self.region_start;
        if keep > 0 {
            self.buf.drain(..keep);
            self.base += keep as u64;
            self.pos -= keep;
            self.region_start = 0;
        }
        let want = self.sizes.read.max(self.buf.len() - self.pos);
        self.eof = super::read_more(self.input, &mut self.buf, want, self.base)?;
        Ok(())
    }

    /// Starts a region of `kind` at `pos`, sending the current one if it is another kind.
    fn switch(&mut self, kind: Region) -> Result<(), PipelineError> {
        if self.region != kind {
            self.flush()?;
            self.region = kind;
            self.region_names = None;
        }
        Ok(())
    }

    /// Sends `region_start..pos` as a chunk of the current region's kind.
    fn flush(&mut self) -> Result<(), PipelineError> {
        if self.pos > self.region_start {
            let data = self.buf[self.region_start..self.pos].to_vec();
            let work = match self.region.clone() {
                Region::Pass => Work::Pass,
                Region::Insert(key) => Work::Insert(self.insert_table(&key, &data)?),
            };
            self.send(self.region_start, self.region_line, data, work);
        }
        self.region_start = self.pos;
        self.region_line = self.line;
        Ok(())
    }

    fn send(&mut self, start: usize, line: u64, data: Vec<u8>, work: Work) {
        let chunk = Chunk {
            seq: self.seq,
            base: self.base + start as u64,
            line,
            data,
            work,
            lex: self.lex,
        };
        self.seq += 1;
        if self.tx.send(chunk).is_err() {
            self.closed = true;
        }
    }

    /// One complete statement `s..e`.
    fn statement(&mut self, s: usize, e: usize) -> Result<(), PipelineError> {
        let b = &self.buf[s..e];
        let mut toks = Tokens::new(b, 0, self.lex);
        let first = toks.next().and_then(Result::ok);
        let kw = |t: &Option<Token>, k: &str| t.as_ref().is_some_and(|t| pg_sql::is_kw(b, t, k));
        if kw(&first, "INSERT") {
            let into = toks.next().and_then(Result::ok);
            if kw(&into, "INTO") {
                if let Ok((parts, next)) = pg_sql::qualified_name(b, &mut toks) {
                    let key = table_key(&parts).0;
                    let names = match next {
                        Some(t) if t.tok == Tok::Punct(b'(') => {
                            pg_sql::name_list(b, &mut toks).ok()
                        }
                        _ => None,
                    };
                    self.switch(Region::Insert(key))?;
                    if self.region_names.is_none() {
                        self.region_names = names;
                    }
                    self.advance(e);
                    if self.pos - self.region_start >= self.sizes.chunk {
                        self.flush()?;
                    }
                    return Ok(());
                }
            }
        } else if kw(&first, "COPY") {
            if let Some((parts, names, plain)) = copy_header(b, self.lex) {
                if !plain {
                    return Err(PipelineError::Format(format!(
                        "line {}: COPY … FROM stdin into {} has options; only the text format pg_dump writes is understood",
                        self.line,
                        table_key(&parts).0
                    )));
                }
                // A table without its CREATE TABLE in this dump is still named by its COPY.
                if let Some(n) = &names {
                    let key = table_key(&parts).0;
                    self.creates
                        .entry(key)
                        .or_insert_with(|| n.iter().map(|n| (n.clone(), String::new())).collect());
                }
                self.switch(Region::Pass)?;
                self.advance(e);
                return self.copy_block(&parts, names);
            }
        } else if kw(&first, "CREATE") || kw(&first, "ALTER") {
            if kw(&first, "CREATE") {
                if let Some((parts, cols)) = pg_sql::create_table(b, self.lex) {
                    self.creates.insert(table_key(&parts).0, cols);
                }
            }
            if let Some((parts, col)) = pg_sql::unique_key(b, self.lex) {
                let (_, schema, table) = table_key(&parts);
                self.unique_keys
                    .push((field_name(&schema, &table, &col), self.line));
            }
            // `… PARTITION BY`, `… PARTITION OF`, `ALTER TABLE … ATTACH PARTITION`.
            match pg_sql::partitioning(b, self.lex) {
                Some(Partitioning::Keys { table, keys }) => {
                    self.partition_keys.insert(table_key(&table).0, keys);
                }
                Some(Partitioning::Child { child, parent }) => {
                    self.parent_of
                        .insert(table_key(&child).0, table_key(&parent).0);
                }
                None => {}
            }
        } else if kw(&first, "SET") {
            if let Some((name, value)) = pg_sql::set_statement(b, self.lex) {
                // Bytes after this statement read under the new setting.
                self.switch(Region::Pass)?;
                match name.as_str() {
                    "client_encoding" => self.lex.enc = Encoding::from_name(&value),
                    "standard_conforming_strings" => {
                        self.lex.std_strings = !matches!(
                            value.to_ascii_lowercase().as_str(),
                            "off" | "false" | "no" | "0"
                        )
                    }
                    _ => {}
                }
                self.advance(e);
                self.flush()?;
                return Ok(());
            }
        }
        self.switch(Region::Pass)?;
        self.advance(e);
        Ok(())
    }

    /// The data of a COPY block, from after its header statement to its `\.` line.
    fn copy_block(
        &mut self,
        parts: &[String],
        names: Option<Vec<String>>,
    ) -> Result<(), PipelineError> {
        let header_line = self.line;
        let (key, _, _) = table_key(parts);
        // The rest of the header line.
        loop {
            match memchr::memchr(b'\n', &self.buf[self.pos..]) {
                Some(p) => {
                    self.advance(self.pos + p + 1);
                    break;
                }
                None if self.eof => {
                    return Err(self.copy_truncated(&key, header_line));
                }
                None => self.more()?,
            }
        }
        self.flush()?;
        let mut table: Option<Arc<Table>> = None;
        loop {
            if self.closed {
                return Ok(());
            }
            let (end, marker_end) = match find_end_marker(&self.buf, self.pos, self.eof) {
                Some(m) => (m.start, Some(m.end)),
                None => {
                    // Whole lines so far.
                    let end = memchr::memrchr(b'\n', &self.buf[self.pos..])
                        .map_or(self.pos, |p| self.pos + p + 1);
                    (end, None)
                }
            };
            // Send the data in chunks of about CHUNK bytes of whole lines; without the end
            // marker in sight, keep a partial chunk for the next read.
            while self.pos < end {
                let chunk = self.sizes.chunk;
                if marker_end.is_none() && end - self.pos < chunk && !self.eof {
                    break;
                }
                let limit = (self.pos + chunk).min(end);
                let cut = if limit == end {
                    end
                } else {
                    memchr::memrchr(b'\n', &self.buf[self.pos..limit])
                        .map_or(end, |p| self.pos + p + 1)
                };
                let cut = if cut <= self.pos { end } else { cut };
                let t = match &table {
                    Some(t) => t.clone(),
                    None => {
                        let t = self.copy_table(&key, names.clone(), self.pos, cut)?;
                        table = Some(t.clone());
                        t
                    }
                };
                let (start, line) = (self.pos, self.line);
                let data = self.buf[start..cut].to_vec();
                self.advance(cut);
                self.send(start, line, data, Work::Copy(t));
                self.region_start = self.pos;
                self.region_line = self.line;
                if self.closed {
                    return Ok(());
                }
            }
            if let Some(m) = marker_end {
                if table.is_none() {
                    // An empty table still counts, for the per-column report.
                    self.copy_table(&key, names.clone(), self.pos, self.pos)?;
                }
                self.advance(m);
                return Ok(());
            }
            if self.eof {
                return Err(self.copy_truncated(&key, header_line));
            }
            self.more()?;
        }
    }

    fn copy_truncated(&self, table: &str, header_line: u64) -> PipelineError {
        // The last line of the input: a partial one at `pos`, or the one before.
        let last = if self.pos < self.buf.len() {
            self.line
        } else {
            self.line.saturating_sub(1).max(1)
        };
        PipelineError::Format(format!(
            "truncated dump: input ends at line {last} inside the COPY data of {table} \
             (COPY at line {header_line}) without its `\\.` end marker"
        ))
    }

    /// The table of a COPY block, classified on the lines `s..e` of `buf`.
    fn copy_table(
        &mut self,
        key: &str,
        names: Option<Vec<String>>,
        s: usize,
        e: usize,
    ) -> Result<Arc<Table>, PipelineError> {
        let (names, known) = self.names_for(key, names);
        let mut samples: Vec<Vec<Vec<u8>>> = vec![Vec::new(); names.len()];
        let mut spans = Vec::new();
        for line in self.buf[s..e].split(|&b| b == b'\n').take(SAMPLE_ROWS) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            pg_copy::split_fields(line, self.lex.enc, &mut spans);
            for (i, sp) in spans.iter().enumerate().take(names.len()) {
                let raw = &line[sp.clone()];
                if !pg_copy::is_null(raw) {
                    let mut v = Vec::new();
                    pg_copy::decode(raw, self.lex.enc, &mut v);
                    samples[i].push(v);
                }
            }
        }
        self.build_table(key, names, known, samples)
    }

    /// The column names of a table: the statement's list, else its `CREATE TABLE`.
    fn names_for(&self, key: &str, names: Option<Vec<String>>) -> (Vec<String>, bool) {
        match names {
            Some(n) => (n, true),
            None => match self.creates.get(key) {
                Some(c) => (c.iter().map(|(n, _)| n.clone()).collect(), true),
                None => (Vec::new(), false),
            },
        }
    }

    /// The table of an INSERT region, classified the first time on this chunk's rows.
    fn insert_table(&mut self, key: &str, data: &[u8]) -> Result<Arc<Table>, PipelineError> {
        if let Some(t) = self.inserts.get(key) {
            return Ok(t.clone());
        }
        let (names, known) = self.names_for(key, self.region_names.clone());
        let index: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut samples: Vec<Vec<Vec<u8>>> = vec![Vec::new(); names.len()];
        let lex = self.lex;
        let mut map: Vec<Option<usize>> = Vec::new();
        // A malformed statement is reported by the worker, with its line.
        let _ = walk_inserts(data, lex, |ev| {
            match ev {
                Event::Columns(list) => {
                    map = match list {
                        Some(l) => l.iter().map(|n| index.get(n.as_str()).copied()).collect(),
                        None => (0..names.len()).map(Some).collect(),
                    };
                }
                Event::Lit { row, col, tok, .. } => {
                    if row > SAMPLE_ROWS as u64 {
                        return Err(WalkStop);
                    }
                    if let Some(Some(c)) = map.get(col) {
                        let mut v = Vec::new();
                        lit_value(data, &tok, lex.enc, &mut v);
                        samples[*c].push(v);
                    }
                }
            }
            Ok(())
        });
        let t = self.build_table(key, names, known, samples)?;
        self.inserts.insert(key.to_string(), t.clone());
        Ok(t)
    }

    /// Classifies a table's columns and records them for the report.
    fn build_table(
        &mut self,
        key: &str,
        names: Vec<String>,
        known: bool,
        samples: Vec<Vec<Vec<u8>>>,
    ) -> Result<Arc<Table>, PipelineError> {
        let (schema, table) = key.split_once('.').unwrap_or(("public", key));
        let types = self.creates.get(key);
        let policy = self.engine.transformer.policy();
        let mut cols = Vec::with_capacity(names.len());
        let mut by_name = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            let short = format!("{table}.{name}");
            let full = format!("{schema}.{table}.{name}");
            let field: Arc<str> = Arc::from(field_name(schema, table, name));
            let refs: Vec<&[u8]> = samples
                .get(i)
                .map(|s| s.iter().map(Vec::as_slice).collect())
                .unwrap_or_default();
            let decl = types
                .and_then(|t| t.iter().find(|(n, _)| n == name))
                .map(|(_, d)| d.as_str())
                .filter(|d| !d.is_empty());
            let mut class = self.cells.classify(self.columns, &field, &refs);
            class.sql_type = match decl {
                Some(d) => Some(SqlType::parse(d)),
                // A data-only dump: a column whose sampled values are all integers is taken
                // as one, so an identifier there is replaced by digits, never by a token.
                None if !refs.is_empty() && refs.iter().all(|v| is_integer(v)) => {
                    Some(SqlType::parse("bigint"))
                }
                None => None,
            };
            // A key declared before the data (an archive's, from its table of contents): every
            // changed value is checked as it is made, and the first collision stops the run.
            class.unique = self.unique_keys.iter().any(|(f, _)| **f == *field);
            let over = policy
                .column_override(None, &full)
                .or_else(|| policy.column_override(None, &short));
            let skip = match over {
                Some(ColumnOverride::Keep) => true,
                Some(_) => false,
                None => class.keep,
            };
            let bytea = matches!(class.sql_type, Some(SqlType::Binary { .. }));
            by_name.insert(name.clone(), i);
            cols.push(Col {
                field,
                class,
                over,
                bytea,
                skip,
            });
        }
        if let Some(Ok(mut all)) = self.opts.classes.map(|m| m.lock()) {
            all.extend(cols.iter().map(|c| c.class.clone()));
        }
        let subject = self
            .opts
            .subject_column
            .and_then(|s| names.iter().position(|n| n.eq_ignore_ascii_case(s)));
        self.check_partition_keys(key, &names, &cols)?;
        let idx = self.ntables;
        self.ntables += 1;
        Ok(Arc::new(Table {
            idx,
            name: key.to_string(),
            cols,
            by_name,
            known,
            subject,
        }))
    }

    /// Refuses to rewrite a partition key of a table the restore loads partition by
    /// partition: a shifted date or permuted id would put rows outside their partition's
    /// bounds (or in another hash partition), and the restore would fail on the first row.
    /// Routing rows through the root (`pg_dump --load-via-partition-root`) or keeping the
    /// column is the user's choice to make, so the message names both.
    fn check_partition_keys(
        &self,
        key: &str,
        names: &[String],
        cols: &[Col],
    ) -> Result<(), PipelineError> {
        let mut at = key;
        // Up the tree: a sub-partition holds the keys of every level above it.
        for _ in 0..64 {
            let Some(parent) = self.parent_of.get(at) else {
                return Ok(());
            };
            for k in self.partition_keys.get(parent).into_iter().flatten() {
                let changes = names
                    .iter()
                    .position(|n| n == k)
                    .is_some_and(|i| !cols[i].skip);
                if changes {
                    return Err(PipelineError::Format(format!(
                        "line {}: {key}.{k} is a partition key of {parent}, and this dump \
                         loads each partition directly: replacing its values would move rows \
                         out of their partition and the restore would fail; keep the column \
                         in every partition of {parent} (for this one `\"{}.{k}\" = \"keep\"` \
                         in the policy's [columns]) or dump with \
                         `pg_dump --load-via-partition-root`",
                        self.line,
                        key.rsplit_once('.').map_or(key, |(_, t)| t)
                    )));
                }
            }
            at = parent;
        }
        Ok(())
    }
}

/// `COPY name [(cols)] FROM stdin`: the table and its column list.
#[allow(clippy::type_complexity)]
fn copy_header(b: &[u8], lex: Lex) -> Option<(Vec<String>, Option<Vec<String>>, bool)> {
    let mut toks = Tokens::new(b, 0, lex);
    toks.next()?.ok()?;
    let (parts, mut next) = pg_sql::qualified_name(b, &mut toks).ok()?;
    let mut names = None;
    if next.is_some_and(|t| t.tok == Tok::Punct(b'(')) {
        names = Some(pg_sql::name_list(b, &mut toks).ok()?);
        next = toks.next().and_then(Result::ok);
    }
    let from = next?;
    let src = toks.next()?.ok()?;
    if !(pg_sql::is_kw(b, &from, "FROM") && pg_sql::is_kw(b, &src, "STDIN")) {
        return None;
    }
    // Options (`WITH (FORMAT csv)`, `DELIMITER …`) would change how the data reads; the data
    // must not pass as if it were SQL, so the caller refuses them.
    let plain = matches!(toks.next(), Some(Ok(t)) if t.tok == Tok::Punct(b';'));
    Some((parts, names, plain))
}

/// The `\.` line at or after `from`, at the start of a line: the range from its first byte
/// through its line end. At EOF the marker may end the input without a newline.
fn find_end_marker(buf: &[u8], from: usize, eof: bool) -> Option<Range<usize>> {
    let check = |start: usize| -> Option<Option<usize>> {
        let rest = &buf[start..];
        if rest.starts_with(b"\\.\n") {
            Some(Some(start + 3))
        } else if rest.starts_with(b"\\.\r\n") {
            Some(Some(start + 4))
        } else if eof && (rest == b"\\." || rest == b"\\.\r") {
            Some(Some(buf.len()))
        } else if rest.len() < 4 && b"\\.\r\n".starts_with(rest) && !eof {
            // Cannot tell yet.
            Some(None)
        } else {
            None
        }
    };
    match check(from) {
        Some(Some(e)) => return Some(from..e),
        Some(None) => return None,
        None => {}
    }
    let finder = memchr::memmem::Finder::new(b"\n\\.");
    let mut at = from;
    while let Some(p) = finder.find(&buf[at..]) {
        let start = at + p + 1;
        match check(start) {
            Some(Some(e)) => return Some(start..e),
            Some(None) => return None,
            None => at = start,
        }
    }
    None
}

/// What the INSERT walker meets.
enum Event<'n> {
    /// A statement starts; its column list, if it has one.
    Columns(Option<&'n [String]>),
    /// A literal of the `col`-th value of tuple `row` (1-based within the walk): a string
    /// anywhere in the value (an array element too), or a number that is the whole value.
    Lit { row: u64, col: usize, tok: Token },
}

/// A callback's request to stop walking.
struct WalkStop;

/// Why a walk failed: at which byte, and what was expected.
#[derive(Debug)]
struct WalkError {
    at: usize,
    what: &'static str,
}

/// Walks the INSERT statements of `data` (whole statements, whitespace and comments between),
/// reporting each statement's column list and every literal of every tuple. Returns the
/// number of tuples.
fn walk_inserts(
    data: &[u8],
    lex: Lex,
    mut on: impl FnMut(Event<'_>) -> Result<(), WalkStop>,
) -> Result<u64, WalkError> {
    let mut toks = Tokens::new(data, 0, lex);
    let mut rows = 0u64;
    let mut last_list: Option<(Range<usize>, Vec<String>)> = None;
    let err = |at: usize, what| WalkError { at, what };
    let next = |toks: &mut Tokens<'_>, what| -> Result<Token, WalkError> {
        match toks.next() {
            Some(Ok(t)) => Ok(t),
            Some(Err(at)) => Err(err(at, "an unterminated literal")),
            None => Err(err(data.len(), what)),
        }
    };
    loop {
        let t = match toks.next() {
            None => return Ok(rows),
            Some(Err(at)) => return Err(err(at, "an unterminated literal")),
            Some(Ok(t)) => t,
        };
        if !pg_sql::is_kw(data, &t, "INSERT") {
            return Err(err(t.start, "INSERT"));
        }
        let into = next(&mut toks, "INTO")?;
        if !pg_sql::is_kw(data, &into, "INTO") {
            return Err(err(into.start, "INTO"));
        }
        let (_, after) = pg_sql::qualified_name(data, &mut toks)
            .map_err(|at| err(at, "an unterminated literal"))?;
        let mut t = after.ok_or(err(data.len(), "VALUES"))?;
        let mut has_list = false;
        if t.tok == Tok::Punct(b'(') {
            let list_start = t.end;
            let names =
                pg_sql::name_list(data, &mut toks).map_err(|at| err(at, "a column list"))?;
            let range = list_start..toks.pos();
            match &last_list {
                Some((r, _)) if data[r.clone()] == data[range.clone()] => {}
                _ => last_list = Some((range, names)),
            }
            has_list = true;
            t = next(&mut toks, "VALUES")?;
        }
        let stop = |r: Result<(), WalkStop>| r.map_err(|_| err(0, ""));
        let list = if has_list {
            last_list.as_ref().map(|(_, n)| n.as_slice())
        } else {
            None
        };
        if stop(on(Event::Columns(list))).is_err() {
            return Ok(rows);
        }
        if pg_sql::is_kw(data, &t, "OVERRIDING") {
            next(&mut toks, "VALUES")?;
            next(&mut toks, "VALUES")?;
            t = next(&mut toks, "VALUES")?;
        }
        if !pg_sql::is_kw(data, &t, "VALUES") {
            return Err(err(t.start, "VALUES"));
        }
        loop {
            let open = next(&mut toks, "(")?;
            if open.tok != Tok::Punct(b'(') {
                return Err(err(open.start, "("));
            }
            rows += 1;
            let (mut depth, mut col) = (1usize, 0usize);
            // A number that is the whole value: seen at the value's start, confirmed at its end.
            let mut value_toks = 0usize;
            let mut num: Option<Token> = None;
            loop {
                let t = next(&mut toks, ")")?;
                match t.tok {
                    Tok::Punct(b'(') | Tok::Punct(b'[') => depth += 1,
                    Tok::Punct(b')') | Tok::Punct(b']') => depth -= 1,
                    _ => {}
                }
                let value_end = depth == 0 || (depth == 1 && t.tok == Tok::Punct(b','));
                if value_end {
                    if let (Some(n), 1) = (num.take(), value_toks) {
                        let ev = Event::Lit {
                            row: rows,
                            col,
                            tok: n,
                        };
                        if on(ev).is_err() {
                            return Ok(rows);
                        }
                    }
                    if depth == 0 {
                        break;
                    }
                    col += 1;
                    value_toks = 0;
                    continue;
                }
                match t.tok {
                    Tok::Punct(b'-') | Tok::Punct(b'+') if value_toks == 0 => continue,
                    Tok::Num if depth == 1 && value_toks == 0 => num = Some(t),
                    Tok::Str {
                        kind: StrKind::Standard | StrKind::Escape,
                        ..
                    } => {
                        let ev = Event::Lit {
                            row: rows,
                            col,
                            tok: t,
                        };
                        if on(ev).is_err() {
                            return Ok(rows);
                        }
                    }
                    _ => {}
                }
                value_toks += 1;
            }
            let t = next(&mut toks, ";")?;
            match t.tok {
                Tok::Punct(b',') => continue,
                Tok::Punct(b';') => break,
                _ => {
                    // `ON CONFLICT DO NOTHING` and the like, up to the `;`.
                    loop {
                        let t = next(&mut toks, ";")?;
                        if t.tok == Tok::Punct(b';') {
                            break;
                        }
                    }
                    break;
                }
            }
        }
    }
}

/// The value of a literal token: a string's decoded body, or a number's text.
fn lit_value(data: &[u8], t: &Token, enc: Encoding, out: &mut Vec<u8>) {
    match t.tok {
        Tok::Str { kind, .. } => pg_sql::decode_str(&data[t.body()], kind, enc, out),
        _ => out.extend_from_slice(&data[t.start..t.end]),
    }
}

/// `\x…` bytea hex text to raw bytes; `None` when it is not that form.
fn bytea_from_hex(v: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(hex) = v.strip_prefix(b"\\x") else {
        return false;
    };
    if hex.len() % 2 != 0 {
        return false;
    }
    out.clear();
    for pair in hex.chunks_exact(2) {
        let h = (pair[0] as char).to_digit(16);
        let l = (pair[1] as char).to_digit(16);
        match (h, l) {
            (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
            _ => return false,
        }
    }
    true
}

fn bytea_to_hex(v: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.clear();
    out.extend_from_slice(b"\\x");
    for &b in v {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 15) as usize]);
    }
}

/// A worker: rewrites chunks.
struct Worker<'e> {
    cells: Cells<'e>,
    spans: Vec<Range<usize>>,
    scratch: Vec<u8>,
    bytes: Vec<u8>,
}

/// The column a field past the known ones falls in: scanned.
fn extra_column() -> &'static Col {
    static EXTRA: std::sync::OnceLock<Col> = std::sync::OnceLock::new();
    EXTRA.get_or_init(|| Col {
        field: Arc::from(""),
        class: ColumnClass::scanned(""),
        over: None,
        bytea: false,
        skip: false,
    })
}

/// Line and character column of stream positions inside a chunk, counted forward from the
/// last one asked (findings come in order), so a chunk with many findings stays linear.
struct Lines<'d> {
    data: &'d [u8],
    base: u64,
    memo: Cell<(usize, u64, usize)>,
}

impl<'d> Lines<'d> {
    fn new(data: &'d [u8], base: u64, line: u64) -> Lines<'d> {
        Lines {
            data,
            base,
            memo: Cell::new((0, line, 0)),
        }
    }

    /// Offset, line and column of `data[at]`.
    fn place(&self, at: usize) -> (u64, u64, u64) {
        let (mut from, mut line, mut ls) = self.memo.get();
        if at < from {
            // Out of order: count again from the start of the line memoised.
            from = ls;
        }
        for p in memchr::memchr_iter(b'\n', &self.data[from..at]) {
            line += 1;
            ls = from + p + 1;
        }
        self.memo.set((at, line, ls));
        let col = self.data[ls..at]
            .iter()
            .filter(|&&b| (b as i8) >= -0x40)
            .count() as u64
            + 1;
        (self.base + at as u64, line, col)
    }
}

impl Worker<'_> {
    fn chunk(&mut self, chunk: Chunk, opts: &RunOptions<'_>, scrub: bool) -> Done {
        let before = self.cells.stats;
        let mut out = Vec::new();
        let mut found = Vec::new();
        let (rows, table, error) = match &chunk.work {
            Work::Pass => {
                if scrub {
                    out = chunk.data.clone();
                }
                (0, None, None)
            }
            Work::Copy(t) => {
                self.preset(t);
                let r = self.copy(&chunk, t, opts, scrub, &mut out, &mut found);
                (r.as_ref().map_or(0, |n| *n), Some(t.idx), r.err())
            }
            Work::Insert(t) => {
                self.preset(t);
                let r = self.insert(&chunk, t, opts, scrub, &mut out, &mut found);
                (r.as_ref().map_or(0, |n| *n), Some(t.idx), r.err())
            }
        };
        // Pushing into a Vec cannot fail.
        let _ = self.cells.flush_tally(&mut |l| {
            found.push(l.clone());
            Ok(())
        });
        let after = self.cells.stats;
        if error.is_some() {
            out.clear();
        }
        Done {
            seq: chunk.seq,
            out,
            found,
            rows,
            table,
            len: chunk.data.len() as u64,
            stats: Stats {
                bytes: 0,
                findings: after.findings - before.findings,
                changed: after.changed - before.changed,
            },
            error,
        }
    }

    fn preset(&mut self, t: &Table) {
        for c in &t.cols {
            self.cells.preset_override(&c.field, c.over);
        }
    }

    /// Rewrites whole COPY lines; returns the number of rows.
    fn copy(
        &mut self,
        chunk: &Chunk,
        t: &Table,
        opts: &RunOptions<'_>,
        scrub: bool,
        out: &mut Vec<u8>,
        found: &mut Vec<Located>,
    ) -> Result<u64, String> {
        let data = &chunk.data[..];
        let enc = chunk.lex.enc;
        let lines = Lines::new(data, chunk.base, chunk.line);
        let mut collect = |l: &Located| {
            found.push(l.clone());
            Ok(())
        };
        let (mut row, mut start, mut copied) = (0u64, 0usize, 0usize);
        if scrub {
            out.reserve(data.len() + 256);
            self.prefetch_ids(data, t, enc);
        }
        while start < data.len() {
            let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |p| start + p);
            let mut line = &data[start..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            row += 1;
            pg_copy::split_fields(line, enc, &mut self.spans);
            if t.known && self.spans.len() != t.cols.len() {
                return Err(format!(
                    "line {}: a COPY row of {} has {} fields where its columns are {}",
                    chunk.line + row - 1,
                    t.name,
                    self.spans.len(),
                    t.cols.len()
                ));
            }
            if let Some(s) = t.subject {
                let raw = &line[self.spans[s].clone()];
                self.scratch.clear();
                if pg_copy::is_null(raw) {
                    self.cells.set_subject(None);
                } else {
                    pg_copy::decode(raw, enc, &mut self.scratch);
                    self.cells.set_subject(Some(&self.scratch));
                }
            }
            for i in 0..self.spans.len() {
                let col = t.cols.get(i).unwrap_or_else(|| extra_column());
                if col.skip {
                    continue;
                }
                let span = self.spans[i].clone();
                let raw = &line[span.clone()];
                if pg_copy::is_null(raw) || raw.is_empty() {
                    continue;
                }
                let abs = start + span.start;
                self.scratch.clear();
                let value: &[u8] = if pg_copy::has_escape(raw) {
                    pg_copy::decode(raw, enc, &mut self.scratch);
                    &self.scratch
                } else {
                    raw
                };
                let is_bytes = col.bytea && bytea_from_hex(value, &mut self.bytes);
                let value: &[u8] = if is_bytes { &self.bytes } else { value };
                let place = |pos: usize| {
                    // A raw byte of a bytea is two hex digits after `\\x` in the line.
                    let dec = if is_bytes { 2 + 2 * pos } else { pos };
                    lines.place(abs + pg_copy::raw_offset(raw, enc, dec))
                };
                let field = (!col.field.is_empty()).then_some(&col.field);
                let changed = self
                    .cells
                    .cell(
                        value,
                        &col.class,
                        field,
                        row,
                        &place,
                        opts,
                        scrub,
                        &mut collect,
                    )
                    .map_err(|e| e.to_string())?;
                if changed && scrub {
                    out.extend_from_slice(&data[copied..abs]);
                    if col.bytea {
                        let mut hex = Vec::new();
                        bytea_to_hex(&self.cells.value, &mut hex);
                        pg_copy::encode(&hex, enc, out);
                    } else {
                        pg_copy::encode(&self.cells.value, enc, out);
                    }
                    copied = start + span.end;
                }
            }
            start = end + 1;
        }
        if scrub {
            out.extend_from_slice(&data[copied..]);
        }
        Ok(row)
    }

    /// Hands the chunk's values of the integer columns whose ids were permuted before (in an
    /// earlier chunk of this table) to the permutation to work out side by side: an id
    /// alone is most of a key table's scrub. Columns of one entity (a key and a foreign key
    /// to it may share a permutation) go in one list, row by row, the order the rows then
    /// ask for them. A row that would not parse is left to the pass that reports it.
    fn prefetch_ids(&mut self, data: &[u8], t: &Table, enc: Encoding) {
        let ids: Vec<(usize, Entity, u128)> = t
            .cols
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.skip)
            .filter_map(|(i, c)| {
                let (e, max) = self.cells.permuted_id(&c.class, &c.field)?;
                Some((i, e, max))
            })
            .collect();
        // Id columns mostly lead the row: the fields after the last are not split.
        let Some(n) = ids.iter().map(|(i, _, _)| i + 1).max() else {
            return;
        };
        let mut batch = IdBatch::default();
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', data).chain(std::iter::once(data.len())) {
            let line = &data[start..end];
            start = end + 1;
            pg_copy::split_first_fields(line, enc, n, &mut self.spans);
            for &(i, e, max) in &ids {
                if let Some(s) = self.spans.get(i) {
                    batch.push(e, line[s.clone()].trim_ascii(), Some(max));
                }
            }
        }
        self.cells.engine().transformer.prefetch_digits(batch);
    }

    /// Rewrites whole INSERT statements; returns the number of rows (tuples).
    fn insert(
        &mut self,
        chunk: &Chunk,
        t: &Table,
        opts: &RunOptions<'_>,
        scrub: bool,
        out: &mut Vec<u8>,
        found: &mut Vec<Located>,
    ) -> Result<u64, String> {
        let data = &chunk.data[..];
        let lex = chunk.lex;
        let lines = Lines::new(data, chunk.base, chunk.line);
        let mut map: Vec<Option<usize>> = Vec::new();
        let mut copied = 0usize;
        let mut failure: Option<String> = None;
        if scrub {
            out.reserve(data.len() + 256);
        }
        let Worker {
            cells,
            scratch,
            bytes,
            ..
        } = self;
        // Subjects: the subject column's value of each row is read before the row's cells.
        let subject_rows: Option<Vec<Option<Vec<u8>>>> = t
            .subject
            .map(|s| subjects_of(data, lex, t, s))
            .transpose()
            .ok()
            .flatten();
        let mut last_row = 0;
        let walked = walk_inserts(data, lex, |ev| {
            match ev {
                Event::Columns(list) => {
                    map = match list {
                        Some(l) => l.iter().map(|n| t.by_name.get(n).copied()).collect(),
                        None => (0..t.cols.len()).map(Some).collect(),
                    };
                }
                Event::Lit { row, col, tok, .. } => {
                    if row != last_row {
                        last_row = row;
                        if let Some(s) = &subject_rows {
                            cells.set_subject(s.get(row as usize - 1).and_then(|v| v.as_deref()));
                        }
                    }
                    let c = match map.get(col) {
                        Some(Some(i)) => &t.cols[*i],
                        _ => extra_column(),
                    };
                    if c.skip {
                        return Ok(());
                    }
                    scratch.clear();
                    lit_value(data, &tok, lex.enc, scratch);
                    let is_bytes = c.bytea && bytea_from_hex(scratch, bytes);
                    let value: &[u8] = if is_bytes { bytes } else { scratch };
                    let (kind, body) = match tok.tok {
                        Tok::Str { kind, .. } => (Some(kind), tok.body()),
                        _ => (None, tok.start..tok.end),
                    };
                    let place = |pos: usize| {
                        let dec = if is_bytes { 2 + 2 * pos } else { pos };
                        let off = match kind {
                            Some(k) => pg_sql::str_raw_offset(&data[body.clone()], k, lex.enc, dec),
                            None => dec,
                        };
                        lines.place(body.start + off)
                    };
                    let field = (!c.field.is_empty()).then_some(&c.field);
                    let mut collect = |l: &Located| {
                        found.push(l.clone());
                        Ok(())
                    };
                    match cells.cell(
                        value,
                        &c.class,
                        field,
                        row,
                        &place,
                        opts,
                        scrub,
                        &mut collect,
                    ) {
                        Ok(true) if scrub => {
                            let new: &[u8] = if c.bytea {
                                bytea_to_hex(&cells.value, bytes);
                                bytes
                            } else {
                                &cells.value
                            };
                            match kind {
                                // A plain string cannot hold every value: `write_literal`
                                // picks the form.
                                Some(StrKind::Standard) => {
                                    out.extend_from_slice(&data[copied..tok.start]);
                                    pg_sql::write_literal(new, lex, out);
                                    copied = tok.end;
                                }
                                Some(k) => {
                                    out.extend_from_slice(&data[copied..body.start]);
                                    pg_sql::encode_str(new, k, lex.enc, out);
                                    copied = body.end;
                                }
                                None => {
                                    // A number whose replacement is no longer one: quote it.
                                    out.extend_from_slice(&data[copied..tok.start]);
                                    if is_sql_number(new) {
                                        out.extend_from_slice(new);
                                    } else {
                                        pg_sql::write_literal(new, lex, out);
                                    }
                                    copied = tok.end;
                                }
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            failure = Some(e.to_string());
                            return Err(WalkStop);
                        }
                    }
                }
            }
            Ok(())
        });
        if let Some(f) = failure {
            return Err(f);
        }
        let rows = walked.map_err(|e| {
            let line = chunk.line
                + memchr::memchr_iter(b'\n', &data[..e.at.min(data.len())]).count() as u64;
            format!(
                "line {line}: cannot read an INSERT into {}: expected {} (only INSERT … VALUES is understood)",
                t.name, e.what
            )
        })?;
        if scrub {
            out.extend_from_slice(&data[copied..]);
        }
        Ok(rows)
    }
}

/// The subject column's value of each row of an INSERT chunk, in row order.
fn subjects_of(
    data: &[u8],
    lex: Lex,
    t: &Table,
    subject: usize,
) -> Result<Vec<Option<Vec<u8>>>, WalkError> {
    let mut out: Vec<Option<Vec<u8>>> = Vec::new();
    let mut target: Option<usize> = None;
    walk_inserts(data, lex, |ev| {
        match ev {
            Event::Columns(list) => {
                target = match list {
                    Some(l) => l.iter().position(|n| t.by_name.get(n) == Some(&subject)),
                    None => Some(subject),
                };
            }
            Event::Lit { row, col, tok, .. } => {
                while out.len() < row as usize {
                    out.push(None);
                }
                if Some(col) == target {
                    let mut v = Vec::new();
                    lit_value(data, &tok, lex.enc, &mut v);
                    out[row as usize - 1] = Some(v);
                }
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// Whether a value is an integer literal (`42`, `-7`).
fn is_integer(v: &[u8]) -> bool {
    let d = v.strip_prefix(b"-").unwrap_or(v);
    !d.is_empty() && d.iter().all(u8::is_ascii_digit)
}

/// Whether a replacement can stand as an SQL numeric literal.
fn is_sql_number(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(u8::is_ascii_digit) && (v.len() == 1 || v[0] != b'0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::EntityFilter;
    use crate::policy::Policy;
    use crate::transform::{key::Key, Transformer};

    fn engine(only: Vec<crate::entity::Entity>) -> Engine {
        Engine {
            detector: crate::detect::builtin().unwrap(),
            transformer: Transformer::new(Policy::defaults(true), Key::from_bytes(&[7; 32]).ok()),
            filter: EntityFilter::new(only, Vec::new()),
            min_score: 0.5,
        }
    }

    fn scrub_with(
        engine: &Engine,
        input: &[u8],
        threads: usize,
    ) -> Result<(Vec<u8>, Vec<Located>), PipelineError> {
        scrub_sized(engine, input, threads, SIZES)
    }

    fn scrub_sized(
        engine: &Engine,
        input: &[u8],
        threads: usize,
        sizes: Sizes,
    ) -> Result<(Vec<u8>, Vec<Located>), PipelineError> {
        let columns = ColumnRules::builtin().unwrap();
        let opts = RunOptions {
            threads,
            ..RunOptions::default()
        };
        let mut out = Vec::new();
        let mut found = Vec::new();
        run_sized(
            engine,
            &columns,
            &mut &input[..],
            Some(&mut out),
            &opts,
            &mut |l| {
                found.push(l.clone());
                Ok(())
            },
            sizes,
        )?;
        Ok((out, found))
    }

    fn scrub(input: &[u8]) -> (Vec<u8>, Vec<Located>) {
        scrub_with(&engine(Vec::new()), input, 2).unwrap()
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        memchr::memmem::find(hay, needle).is_some()
    }

    const HEAD: &str = "--\n-- PostgreSQL database dump\n--\n\n\\restrict k3Jx9\n\nSET statement_timeout = 0;\nSET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\nSELECT pg_catalog.set_config('search_path', '', false);\n\n";

    /// DDL, functions and settings that must come out byte for byte.
    const DDL: &str = "CREATE FUNCTION public.f() RETURNS trigger\n    LANGUAGE plpgsql\n    AS $$\nBEGIN\n  -- COPY x FROM stdin; 'quote\n  RAISE NOTICE 'a;b'; RETURN NEW;\nEND $$;\n\nCREATE FUNCTION public.g() RETURNS text LANGUAGE sql AS $body$ SELECT ';' || $$x$$ $body$;\n\nCOMMENT ON TABLE public.patients IS 'it''s; E''\\ not an escape';\n\nCREATE TABLE public.patients (\n    id integer NOT NULL,\n    ssn character varying(11) NOT NULL,\n    first_name text,\n    dob date,\n    notes text,\n    photo bytea,\n    tags text[],\n    CONSTRAINT ck CHECK ((id > 0))\n);\n\nSELECT pg_catalog.setval('public.patients_id_seq', 42, true);\n\\connect - postgres\n";

    #[test]
    fn statements_pass_through_byte_for_byte() {
        let dump = format!("{HEAD}{DDL}\n\\unrestrict k3Jx9\n");
        let (out, found) = scrub(dump.as_bytes());
        assert_eq!(out, dump.as_bytes());
        assert!(found.is_empty());
        // Unterminated trailing text without a newline still passes.
        let dump = format!("{HEAD}{DDL}-- end");
        assert_eq!(scrub(dump.as_bytes()).0, dump.as_bytes());
    }

    #[test]
    fn copy_rows_are_rewritten_field_by_field() {
        let data = "COPY public.patients (id, ssn, first_name, dob, notes, photo, tags) FROM stdin;\n\
1\t536-22-8726\tAnna\t1961-04-03\tcalled back\\tSSN 536-22-8726\\nok \\\\N done\t\\\\x89504e47\t{a,b}\n\
2\t219-09-9999\tBob\t\\N\t\\N\t\\N\t\\N\n\
\\.\n\n";
        let dump = format!("{HEAD}{DDL}{data}\\unrestrict k3Jx9\n");
        let (out, found) = scrub(dump.as_bytes());
        let text = String::from_utf8_lossy(&out);
        assert!(!contains(&out, b"536-22-8726"), "{text}");
        assert!(!contains(&out, b"219-09-9999"));
        assert!(!contains(&out, b"Anna\t"));
        // Everything before the data, and the end marker after it, unchanged.
        let data_at = dump.find("COPY public.patients").unwrap();
        assert_eq!(&out[..data_at], &dump.as_bytes()[..data_at]);
        assert!(text.ends_with("\\.\n\n\\unrestrict k3Jx9\n"));
        let lines: Vec<&str> = text[data_at..].lines().collect();
        let f: Vec<&str> = lines[1].split('\t').collect();
        assert_eq!(f.len(), 7);
        assert!(
            f[0].bytes().all(|b| b.is_ascii_digit()),
            "an integer id stays an integer"
        );
        assert_eq!(f[1].len(), 11, "varchar(11) fits");
        assert!(f[1].starts_with('9'));
        // The note keeps its escapes around the replaced SSN.
        assert!(f[4].starts_with("called back\\tSSN "), "{}", f[4]);
        assert!(f[4].ends_with("\\nok \\\\N done"), "{}", f[4]);
        assert_eq!(f[6], "{a,b}");
        // NULLs stay NULL.
        let g: Vec<&str> = lines[2].split('\t').collect();
        assert_eq!(&g[3..], &["\\N", "\\N", "\\N", "\\N"]);
        // Findings name table.column, data row and the exact line.
        let line_of_row1 = dump[..data_at].matches('\n').count() as u64 + 2;
        let ssn: Vec<&Located> = found
            .iter()
            .filter(|l| l.field.as_deref() == Some("patients.ssn"))
            .collect();
        assert_eq!(ssn.len(), 2);
        assert_eq!(
            (ssn[0].row, ssn[0].line, ssn[0].column),
            (Some(1), line_of_row1, 3)
        );
        assert_eq!((ssn[1].row, ssn[1].line), (Some(2), line_of_row1 + 1));
        let in_note = found
            .iter()
            .find(|l| l.field.as_deref() == Some("patients.notes"))
            .unwrap();
        assert_eq!(
            &dump.as_bytes()[in_note.start as usize..in_note.end as usize],
            b"536-22-8726"
        );
    }

    #[test]
    fn copy_values_that_look_like_markers_survive() {
        // Values `\N` and `\.` as text, and a lone `\x` (a literal x), in scanned columns.
        let data =
            "COPY public.t (a, b, c) FROM stdin;\n\\\\N\t\\\\.\t\\x and SSN 536-22-8726\n\\.\n";
        let (out, _) = scrub(data.as_bytes());
        let text = String::from_utf8_lossy(&out);
        let row = text.lines().nth(1).unwrap();
        let f: Vec<&str> = row.split('\t').collect();
        assert_eq!(&f[..2], &["\\\\N", "\\\\."]);
        // The changed field is re-encoded canonically: `\x` (a literal x) becomes `x`.
        assert!(
            f[2].starts_with("x and SSN 9") && !f[2].contains("536-22-8726"),
            "{}",
            f[2]
        );
    }

    #[test]
    fn inserts_in_every_form() {
        let ins = "INSERT INTO public.patients VALUES (1, '536-22-8726', 'Anna', '1961-04-03', E'SSN 536-22-8726\\n\\'x\\'', '\\x89504e470d0a1a0a', '{a,b}');\n\
INSERT INTO public.patients (id, ssn, first_name, dob, notes, photo, tags) VALUES (2, '219-09-9999', 'O''Brien', NULL, 'it''s SSN 219-09-9999 ; ok', NULL, ARRAY['x', 'y']);\n\
INSERT INTO public.patients (id, ssn, first_name) VALUES\n\t(3, '078-05-1120', 'Carl'),\n\t(4, '457-55-5462', 'Dora') ON CONFLICT DO NOTHING;\n\
INSERT INTO public.patients OVERRIDING SYSTEM VALUE VALUES (5, '536-22-8726', 'Eve', '2001-01-01'::date, NULL, NULL, NULL);\n";
        let dump = format!("{HEAD}{DDL}{ins}");
        let (out, found) = scrub(dump.as_bytes());
        let text = String::from_utf8_lossy(&out);
        for phi in [
            "536-22-8726",
            "219-09-9999",
            "078-05-1120",
            "457-55-5462",
            "'Anna'",
            "O''Brien",
            "'Carl'",
        ] {
            assert!(!text.contains(phi), "{phi} in {text}");
        }
        // Still five statements, each cut where it was.
        let mut n = 0;
        let mut i = text.find("INSERT").unwrap();
        while let End::At(e) = pg_sql::statement_end(&out, i, Lex::default()) {
            n += 1;
            match text[e..].find("INSERT") {
                Some(p) => i = e + p,
                None => break,
            }
        }
        assert_eq!(n, 4);
        assert!(
            !text.contains("VALUES (1, '"),
            "integer id permuted: {text}"
        );
        assert!(text.contains("\n''x'''"), "E-string re-encoded: {text}");
        assert!(text.contains("'it''s SSN 9"), "{text}");
        assert!(text.contains("ARRAY['x', 'y']"));
        assert!(!text.contains("'2001-01-01'::date"), "dob shifted");
        assert!(text.contains(" ON CONFLICT DO NOTHING;"));
        let rows: Vec<u64> = found
            .iter()
            .filter(|l| l.field.as_deref() == Some("patients.ssn"))
            .filter_map(|l| l.row)
            .collect();
        assert_eq!(rows, vec![1, 2, 3, 4, 5]);
        // The bytea PNG signature is a photo and becomes a blank image, still hex.
        assert!(!text.contains("'\\x89504e470d0a1a0a'"), "{text}");
    }

    #[test]
    fn non_standard_strings_and_sjis() {
        // standard_conforming_strings off: `\'` inside a plain string is an escaped quote.
        let dump = "SET standard_conforming_strings = off;\nINSERT INTO public.n (id, note) VALUES (1, 'a\\'; SSN 536-22-8726 \\\\');\nSELECT 'after';\n";
        let (out, _) = scrub(dump.as_bytes());
        let text = String::from_utf8_lossy(&out);
        assert!(!text.contains("536-22-8726"), "{text}");
        assert!(text.contains("'a''; SSN 9"), "{text}");
        assert!(text.ends_with(" \\\\');\nSELECT 'after';\n"), "{text}");
        // SJIS: 0x95 0x5C is one character; its trail is no backslash, in COPY or in SQL.
        let mut dump = b"SET client_encoding = 'SJIS';\nCOPY public.s (note, n) FROM stdin;\n\x95\x5c\tSSN 536-22-8726\n\\.\nINSERT INTO public.s (note, n) VALUES (E'\x95\x5c', 'SSN 536-22-8726');\n".to_vec();
        let (out, _) = scrub(&dump);
        assert!(
            !contains(&out, b"536-22-8726"),
            "{}",
            String::from_utf8_lossy(&out)
        );
        assert!(contains(&out, b"\n\x95\x5c\tSSN 9"));
        assert!(contains(&out, b"(E'\x95\x5c', 'SSN 9"));
        // The same bytes read as UTF-8 would have been a different dump.
        dump.drain(..29);
        assert!(scrub_with(&engine(Vec::new()), &dump, 1).is_err());
        // A value ending in a lead byte written as an escape: re-encoded, the lead byte stays
        // an escape, or the closing quote would read back as its trail byte.
        let dump = b"SET client_encoding = 'SJIS';\nINSERT INTO public.s (note) VALUES (E'SSN 536-22-8726 \\225');\nSELECT 1;\n";
        let (out, _) = scrub(dump);
        assert!(!contains(&out, b"536-22-8726"));
        assert!(
            out.ends_with(b" \\225');\nSELECT 1;\n"),
            "{}",
            String::from_utf8_lossy(&out)
        );
        // And the output is a dump that reads back the same way.
        let (again, _) = scrub(&out);
        assert!(again.ends_with(b" \\225');\nSELECT 1;\n"));
    }

    #[test]
    fn truncated_dumps_fail_with_line_and_table() {
        let copy = "COPY public.patients (id, ssn) FROM stdin;\n1\t536-22-8726\n2\t219-09-9999\n";
        for (dump, want) in [
            (copy.to_string(), "line 3 inside the COPY data of public.patients (COPY at line 1)"),
            (format!("{copy}3\t07"), "line 4 inside the COPY data of public.patients"),
            ("COPY public.patients (id, ssn) FROM stdin;".to_string(), "COPY data of public.patients"),
            (
                "SELECT 1;\nINSERT INTO public.patients VALUES (1, '536-22-87".to_string(),
                "an unterminated string literal (an INSERT into public.patients starting at line 2)",
            ),
            (
                "INSERT INTO public.patients VALUES (1, '536-22-8726')".to_string(),
                "a statement without its closing `;`",
            ),
            ("CREATE FUNCTION f() AS $$ x".to_string(), "dollar-quoted"),
            ("SELECT 1;\ncreate table t (a text default 'x".to_string(), "(a CREATE statement"),
            // An unknown first word is not quoted: it may be data.
            ("SELECT 1;\nSmith536 '22-8726".to_string(), "(a statement starting at line 2)"),
        ] {
            let err = scrub_with(&engine(Vec::new()), dump.as_bytes(), 2)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{err}");
            assert!(!err.contains("536") && !err.contains("219"), "{err}");
        }
        // COPY options would change how the data reads: refused, never passed through.
        let dump = "SELECT 1;\nCOPY public.t (a) FROM stdin WITH (FORMAT csv);\n536-22-8726\n\\.\n";
        let err = scrub_with(&engine(Vec::new()), dump.as_bytes(), 1)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2: COPY") && err.contains("public.t"),
            "{err}"
        );
        // A row with too many fields.
        let dump = "COPY public.patients (id, ssn) FROM stdin;\n1\t536-22-8726\n2\t219-09-9999\textra\n\\.\n";
        let err = scrub_with(&engine(Vec::new()), dump.as_bytes(), 2)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 3") && err.contains("public.patients") && err.contains("3 fields"),
            "{err}"
        );
        assert!(!err.contains("extra"));
    }

    #[test]
    fn a_malformed_dump_fails_with_its_first_error_on_every_run() {
        // A bad COPY row, then a dump cut inside a COPY block: both are errors, and the row
        // comes first in the stream. Before, the reader's truncation error won whenever the
        // reader reached the end before the consumer reached the bad row's chunk.
        let dump = "COPY public.u (a, b, c) FROM stdin;\n1\n\\.\nINSERT INTO public.s VALUES (1);\nCOPY public.u (a) FROM stdin;\n1\n";
        let e = engine(Vec::new());
        for threads in [1, 2, 4] {
            for _ in 0..40 {
                let err = scrub_with(&e, dump.as_bytes(), threads)
                    .unwrap_err()
                    .to_string();
                assert!(
                    err.contains("line 2") && err.contains("1 fields"),
                    "{threads} threads: {err}"
                );
            }
        }
    }

    #[test]
    fn every_prefix_either_passes_or_fails_cleanly() {
        let dump = format!("{HEAD}{DDL}COPY public.patients (id, ssn) FROM stdin;\n1\t536-22-8726\n\\.\n\nINSERT INTO public.patients (id, ssn) VALUES (2, '219-09-9999');\n");
        let e = engine(Vec::new());
        for n in (0..dump.len()).step_by(11) {
            if let Ok((out, _)) = scrub_with(&e, &dump.as_bytes()[..n], 1) {
                assert!(!contains(&out, b"536-22-8726") && !contains(&out, b"219-09-9999"));
            }
        }
    }

    /// A dump with every kind of statement and block, its values drawn from a fixed seed.
    fn mixed_dump(rows: usize) -> String {
        let mut rng = crate::test_rng::Rng(0x2545_f491_4f6c_dd1d);
        let mut d = format!("{HEAD}{DDL}");
        d.push_str(
            "COPY public.patients (id, ssn, first_name, dob, notes, photo, tags) FROM stdin;\n",
        );
        for i in 1..=rows {
            let ssn = rng.ssn();
            let note = match rng.below(5) {
                0 => format!(
                    "Called back on 2021-03-{:02}; SSN {ssn} confirmed \\. done",
                    1 + rng.below(28)
                ),
                1 => "stable \\N not null\\tand a tab".to_string(),
                2 => format!(
                    "café \\\\ back\\nslash; call 617-555-{:04}",
                    rng.below(10000)
                ),
                3 => "\\.".to_string(),
                _ => "no findings in this one".to_string(),
            };
            let first = ["Maria", "José", "O'Neil", "Wei"][rng.below(4) as usize];
            d.push_str(&format!(
                "{i}\t{ssn}\t{first}\t19{:02}-0{}-1{}\t{note}\t\\\\x00ff\t{{a,\"b;c\"}}\n",
                10 + rng.below(89),
                1 + rng.below(9),
                rng.below(10)
            ));
        }
        d.push_str("\\.\n\n-- a comment; with 'quotes\n");
        for i in 1..=rows / 2 {
            let ssn = rng.ssn();
            d.push_str(&format!(
                "INSERT INTO public.patients (id, ssn, first_name, notes) VALUES ({i}, '{ssn}', 'Ann', E'line\\n;two ''{ssn}''\\\\'), ({}, NULL, $$x$$, 'a\nb;');\n",
                i + rows
            ));
            if i % 40 == 0 {
                d.push_str("SELECT pg_catalog.setval('s', 1, true);\n");
            }
        }
        d.push_str("\n\\unrestrict k3Jx9\n");
        d
    }

    #[test]
    fn read_and_chunk_boundaries_anywhere_give_one_result() {
        let dump = mixed_dump(120);
        let e = engine(Vec::new());
        let run_at = |sizes: Sizes, threads: usize| {
            let (out, found) = scrub_sized(&e, dump.as_bytes(), threads, sizes).unwrap();
            let found: Vec<_> = found
                .into_iter()
                .map(|l| (l.entity, l.field, l.row, l.start, l.end, l.line, l.column))
                .collect();
            (out, found)
        };
        let (want, want_found) = run_at(SIZES, 1);
        assert!(want_found.len() > 300, "{}", want_found.len());
        assert!(!contains(&want, b"617-555-"));
        for read in [1, 2, 3, 7, 61, 4096] {
            for chunk in [1, 5, 97, 1 << 14] {
                for threads in [1, 2] {
                    let (out, found) = run_at(Sizes { read, chunk }, threads);
                    assert!(
                        out == want,
                        "read {read}, chunk {chunk}, {threads} threads: output differs"
                    );
                    assert_eq!(
                        found, want_found,
                        "read {read}, chunk {chunk}, {threads} threads"
                    );
                }
            }
        }
        // A cut anywhere fails or passes the same way whatever the sizes.
        for cut in (0..dump.len()).step_by(dump.len() / 23) {
            let part = &dump.as_bytes()[..cut];
            let at = |sizes: Sizes| {
                scrub_sized(&e, part, 1, sizes)
                    .map(|(out, _)| out)
                    .map_err(|e| e.to_string())
            };
            let base = at(SIZES);
            for sizes in [Sizes { read: 1, chunk: 1 }, Sizes { read: 5, chunk: 64 }] {
                assert_eq!(at(sizes), base, "cut at {cut}, {sizes:?}");
            }
        }
    }

    #[test]
    fn many_chunks_on_many_threads_give_one_result() {
        let mut dump = String::from(HEAD);
        dump.push_str("COPY public.big (id, ssn, notes) FROM stdin;\n");
        for i in 0..40_000 {
            dump.push_str(&format!(
                "{i}\t536-22-{:04}\tvisit {i}: SSN 219-09-{:04} \\t tab\n",
                1000 + i % 9000,
                1000 + (i * 7) % 9000
            ));
        }
        dump.push_str("\\.\n\n");
        for i in 0..15_000 {
            dump.push_str(&format!(
                "INSERT INTO public.big (id, ssn, notes) VALUES ({i}, '536-22-{:04}', 'x');\n",
                1000 + i % 9000
            ));
        }
        assert!(dump.len() > 3 * CHUNK);
        let e = engine(vec![crate::entity::Entity::Ssn]);
        let (one, found1) = scrub_with(&e, dump.as_bytes(), 1).unwrap();
        let (two, found2) = scrub_with(&e, dump.as_bytes(), 3).unwrap();
        assert_eq!(one, two);
        assert_eq!(found1, found2);
        assert_eq!(found1.len(), 40_000 * 2 + 15_000);
        assert_eq!(
            one.iter().filter(|&&b| b == b'\n').count(),
            dump.matches('\n').count()
        );
        // Every finding's line, column and offsets point at the SSN in the input.
        let starts: Vec<usize> = std::iter::once(0)
            .chain(dump.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        for l in found1.iter().step_by(997) {
            let s = l.start as usize;
            assert_eq!(&dump[s + 3..s + 4], "-");
            let line_start = starts[l.line as usize - 1];
            assert_eq!(line_start + l.column as usize - 1, s, "{l:?}");
        }
        let last = found1.last().unwrap();
        assert_eq!(last.row, Some(15_000));
    }
}
