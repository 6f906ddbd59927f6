//! Apache Parquet files, row group by row group, through the same per-cell logic as CSV
//! ([`Cells`]): every leaf column — a top-level column, or a string, number or date inside a
//! struct, list or map, named by its key path (`address.city`, `contacts[].phone`) — is
//! classified once from its name and a sample of the first row group, then each value goes
//! through detection, policy and transform.
//!
//! Only one row group's batches are in memory at a time (the sample reads at most
//! [`SAMPLE_MAX_ROWS`] rows of the first), so file size is bounded by disk, not memory. With
//! more than one thread, a batch's columns are shared out among workers (each with its own
//! scanner) and the writer encodes and compresses on its own thread; every value's rewrite
//! depends only on the value, its column and its row's subject, so the output is
//! byte-identical whatever the thread count, and findings are reported in row order (when a
//! report prints them; a run that only counts them skips the sort).
//!
//! The rewritten file keeps what its consumers rely on: the Arrow schema (names, types,
//! nullability, field and schema metadata), the footer's key-value metadata as it was (the
//! embedded `ARROW:schema` included, so every Arrow reader sees the schema it saw before),
//! each column's compression codec and the row-group boundaries (the writer is flushed after
//! every input row group). What is recomputed rather than copied is what would leak the originals: column
//! statistics and page indexes (min/max of a name column are names) are computed from the new
//! values, and bloom filters, sort-order claims and the writer version are not carried over
//! (a bloom filter answers "is this SSN in the file?"; a sort order no longer holds once
//! values change; the footer does not say which page version the original used, so the
//! widely readable default is written).
//!
//! Typed values are handled in their own type so the file stays usable:
//! - strings and binaries (plain, large, view, dictionary) are cells like CSV fields;
//!   a dictionary's values are transformed once (cheap, and one value keeps one token) and
//!   its keys kept, with a finding still reported for every row that uses a value;
//! - dates and timestamps are cells of their ISO day (`1961-03-04`, UTC for timestamps): a
//!   shifted day moves the value by the same number of days in its own unit (time of day
//!   kept), a year-only result becomes January 1 of that year, anything else (placeholder,
//!   redaction, token) becomes null, or January 1 of the year in a non-nullable column;
//! - numbers (integers, Float16/32/64, Decimal32/64/128/256, booleans) go through the cells
//!   only when classified as an identifier (or named by a policy column rule): a bare number
//!   in an unnamed column gives a detector nothing to go on, and scanning every measurement
//!   would cost for nothing. A result that parses as the column's type is used (`90+` as
//!   90); otherwise a keyed stand-in is derived from the result's hash, so the original never
//!   stays and one value keeps one stand-in: integers as [`derive_int`] says, floats and
//!   decimals (coordinates: `LAT`, `LON`) as [`derive_float`] says (same sign, uniform below
//!   the magnitude's next multiple of ten, at the column's scale and precision), booleans a
//!   keyed bit;
//! - dictionary columns in a file with a `--subject-column` are rewritten row by row (a
//!   date's shift depends on its row's subject), the new dictionary holding the distinct
//!   results; without one, each dictionary value is a cell once;
//! - a row group with no rows is written as an empty row group, so row-group counts match.
//!
//! Reports: `row` is the 1-based row in the file, `field` the key path, `line` the row again
//! and `column` the 1-based top-level column (both 0 when the run wants no positions);
//! `start`/`end` are 0 because a columnar file has no meaningful byte offset per value.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arrow_array::builder::{BinaryViewBuilder, StringViewBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    BinaryType, ByteArrayType, Date32Type, Date64Type, Decimal128Type, Decimal256Type,
    Decimal32Type, Decimal64Type, DecimalType, Float16Type, Float32Type, Float64Type, Int16Type,
    Int32Type, Int64Type, Int8Type, LargeBinaryType, LargeUtf8Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type, Utf8Type,
};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, BooleanArray, FixedSizeListArray, GenericByteArray,
    GenericListArray, MapArray, OffsetSizeTrait, PrimitiveArray, RecordBatch, RecordBatchOptions,
    StructArray,
};
use arrow_buffer::{ArrowNativeType, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, FieldRef, Schema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowRowGroupWriterFactory, ArrowWriterOptions,
};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::ParquetError;
use parquet::file::metadata::{KeyValue, ParquetMetaData};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::cells::Cells;
use crate::classify::{ColumnClass, ColumnRules};
use crate::dates;
use crate::formats::num_text::NumText;
use crate::pipeline::{Engine, Located, PipelineError, RunOptions, Stats};
use crate::policy::ColumnOverride;

/// Non-empty values per leaf column sampled to classify it, as many as CSV samples rows.
pub const SAMPLE_VALUES: usize = super::csv::SAMPLE_ROWS;
/// Most rows of the first row group read for the sample: a mostly-null column must not make
/// the sample read (and hold) a whole large row group.
pub const SAMPLE_MAX_ROWS: usize = 65_536;
/// Rows decoded at a time: large enough for columnar speed, small enough that a batch's
/// findings, buffered to report them in row order, stay small.
const BATCH_ROWS: usize = 8192;
/// Largest row group (uncompressed column data) scrubbed whole on one worker beside the
/// others; a file with a larger one goes batch by batch, whose memory does not grow with it.
const GROUP_MAX: u64 = 32 << 20;

/// Rewrites (or, without `output`, scans) the Parquet file at `path`.
///
/// # Errors
/// Read and write errors; a file that is not Parquet, or is truncated or corrupt, is a
/// [`PipelineError::Format`] naming the problem (and the row group for data errors), never a
/// value.
pub fn run<W: Write + Send + ?Sized>(
    engine: &Engine,
    columns: &ColumnRules,
    path: &Path,
    output: Option<&mut W>,
    opts: &RunOptions<'_>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<Stats, PipelineError> {
    // The Parquet decoder works on untrusted bytes; should it panic on some malformed file,
    // that file fails like any corrupt input and the job goes on with the others.
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        rewrite(engine, columns, path, output, opts, found)
    }))
    .unwrap_or_else(|_| Err(malformed()))
}

/// Classes of the leaf columns of a Parquet file (schema order), for `phiscrub profile`.
///
/// # Errors
/// As [`run`].
pub fn profile(
    engine: &Engine,
    columns: &ColumnRules,
    path: &Path,
) -> Result<Vec<ColumnClass>, PipelineError> {
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        let input = Input::open(path, true)?;
        let mut cells = Cells::new(engine);
        let (_, _, samples) = input.sample()?;
        let classes = leaf_paths(input.meta.schema())
            .into_iter()
            .map(|(p, _)| cells.classify(columns, &p, &refs(&samples, &p)))
            .collect();
        cells.finish();
        Ok(classes)
    }))
    .unwrap_or_else(|_| Err(malformed()))
}

fn malformed() -> PipelineError {
    PipelineError::Format("the Parquet reader failed on malformed data in this file".into())
}

fn rewrite<W: Write + Send + ?Sized>(
    engine: &Engine,
    columns: &ColumnRules,
    path: &Path,
    mut output: Option<&mut W>,
    opts: &RunOptions<'_>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<Stats, PipelineError> {
    // With a subject column a value's replacement may depend on its row, and a dictionary
    // column is then rewritten row by row anyway (`Worker::dictionary_by_row`): plain reads
    // are cheaper there.
    let input = Input::open(path, opts.subject_column.is_none())?;
    let schema = input.meta.schema().clone();
    let pmeta = input.meta.metadata().clone();
    let (first, first_reader, samples) = input.sample()?;
    let mut cells = Cells::new(engine);
    let mut leaves = HashMap::new();
    for (p, kind) in leaf_paths(&schema) {
        let class = cells.classify(columns, &p, &refs(&samples, &p));
        let numbers = kind == Kind::Number
            && (class.entity.is_some()
                || matches!(
                    engine.transformer.policy().column_override(opts.table, &p),
                    Some(ColumnOverride::Scan | ColumnOverride::Whole { .. })
                ));
        let leaf = Leaf {
            field: Arc::from(p.as_str()),
            class,
            numbers,
        };
        leaves.insert(p, Arc::new(leaf));
    }
    if let Some(Ok(mut all)) = opts.classes.map(|m| m.lock()) {
        // Schema order, for `--report json`'s per-column summary.
        all.extend(
            leaf_paths(&schema)
                .iter()
                .filter_map(|(p, _)| leaves.get(p))
                .map(|l: &Arc<Leaf>| l.class.clone()),
        );
    }
    let leaves = Arc::new(leaves);
    // Columns of a batch are shared out to `threads` workers (at most one per column).
    let threads = opts.threads.clamp(1, schema.fields().len().max(1));
    let mut workers = vec![Worker::new(cells, &leaves, opts, output.is_some())];
    for _ in 1..threads {
        workers.push(Worker::new(
            Cells::new(engine),
            &leaves,
            opts,
            output.is_some(),
        ));
    }
    let mut st = Rewrite {
        workers,
        base: 0,
        subject_col: opts.subject_column.and_then(|s| {
            schema
                .fields()
                .iter()
                .position(|f| f.name().eq_ignore_ascii_case(s))
        }),
        found: Vec::new(),
        order: Vec::new(),
        ordered: opts.positions || opts.fingerprints || opts.char_offsets,
    };
    drop(samples);

    let writer = match output.as_deref_mut() {
        Some(w) => Some(
            ArrowWriter::try_new_with_options(
                w,
                schema.clone(),
                // The input's own `ARROW:schema` is copied with the rest of the key-value
                // metadata: the reader merged the footer's key-value pairs into the schema's
                // metadata, so one encoded from it would not be the original.
                ArrowWriterOptions::new()
                    .with_properties(properties(&pmeta))
                    .with_skip_arrow_metadata(true),
            )
            .map_err(write_error)?,
        ),
        None => None,
    };
    // A scrub whose findings are only counted: whole row groups on all workers at once.
    let writer = match writer {
        // Row groups are decoded at once only where the file is read by offset, and only
        // small ones: each worker holds up to two (one being encoded, one finished), so memory
        // grows with their size (80 MiB more for 16 MiB groups on two workers). One thread
        // takes this path too, so a file gets the same bytes whatever the thread count (chunks
        // of kept columns are copied here, re-encoded on the batch-wise path).
        Some(w)
            if cfg!(unix)
                && !st.ordered
                && pmeta.num_row_groups() > 1
                && pmeta.row_groups().iter().all(|g| {
                    u64::try_from(g.total_byte_size()).unwrap_or(u64::MAX) <= GROUP_MAX
                }) =>
        {
            let workers = std::mem::take(&mut st.workers);
            let group = Groups {
                input: &input,
                meta: &pmeta,
                subject_col: st.subject_col,
                copied: copied_columns(&input, &leaves, engine, opts),
            };
            let mut stats = group.run(workers, (first, first_reader), w, opts, found)?;
            if let Some(p) = opts.progress {
                let counted: u64 = pmeta
                    .row_groups()
                    .iter()
                    .map(|g| u64::try_from(g.compressed_size()).unwrap_or(0))
                    .sum();
                p.fetch_add(input.size.saturating_sub(counted), Ordering::Relaxed);
            }
            stats.bytes = input.size;
            return Ok(stats);
        }
        w => w,
    };
    let mut pump = Pump {
        input: &input,
        schema: schema.clone(),
        meta: &pmeta,
        first: Some((first, first_reader)),
        done: 0,
        progress: opts.progress,
    };
    std::thread::scope(|scope| {
        let mut sink = match writer {
            // Encoding and compressing overlap with the next batch's rewrite.
            Some(w) if opts.threads > 1 => {
                let (tx, rx) = crossbeam_channel::bounded(2);
                Sink::Thread(tx, scope.spawn(move || write_all(w, rx)))
            }
            Some(w) => Sink::Inline(Box::new(w)),
            None => Sink::Scan,
        };
        let result = pump.run(&mut st, &mut sink, found);
        let written = sink.finish(result.is_ok());
        match (result, written) {
            (Ok(()), w) => w,
            // The writer stopped first: its error says why.
            (Err(PipelineError::Worker), Err(e)) => Err(e),
            (Err(e), _) => Err(e),
        }
    })?;
    if let Some(w) = output {
        w.flush().map_err(PipelineError::Write)?;
    }
    let done = pump.done;
    // Footer, header and padding: progress ends at the file size.
    if let Some(p) = opts.progress {
        p.fetch_add(input.size - done, Ordering::Relaxed);
    }
    let mut stats = Stats::default();
    for w in st.workers {
        let s = w.cells.finish();
        stats.findings += s.findings;
        stats.changed += s.changed;
    }
    stats.bytes = input.size;
    Ok(stats)
}

/// Reads the row groups in order, rewrites each batch and hands it to the sink.
struct Pump<'a> {
    input: &'a Input,
    schema: SchemaRef,
    meta: &'a ParquetMetaData,
    /// The first row group's sampled batches and the reader to go on with.
    first: Option<(Vec<RecordBatch>, Option<ParquetRecordBatchReader>)>,
    /// Input bytes counted into progress so far.
    done: u64,
    progress: Option<&'a std::sync::atomic::AtomicU64>,
}

impl Pump<'_> {
    fn run<W: Write + Send + ?Sized>(
        &mut self,
        st: &mut Rewrite<'_, '_>,
        sink: &mut Sink<'_, '_, W>,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
    ) -> Result<(), PipelineError> {
        for rg in 0..self.meta.num_row_groups() {
            let (pending, reader) = match self.first.take() {
                Some(first) if rg == 0 => first,
                _ => (Vec::new(), Some(self.input.reader(rg)?)),
            };
            let mut rows = 0;
            for batch in pending
                .into_iter()
                .map(Ok::<RecordBatch, ArrowError>)
                .chain(reader.into_iter().flatten())
            {
                let batch = batch.map_err(|e| decode_error(rg, e))?;
                rows += batch.num_rows();
                let cols = st.batch(&batch)?;
                st.emit(found)?;
                if sink.writes() {
                    let out = RecordBatch::try_new_with_options(
                        self.schema.clone(),
                        self.input.restore(cols, 0..)?,
                        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
                    )
                    .map_err(|e| rebuild_error(&e))?;
                    sink.send(Msg::Batch(out))?;
                }
            }
            // One output row group per input row group, an empty one included (the writer
            // itself skips empty batches, so it is written explicitly).
            sink.send(if rows == 0 {
                Msg::EmptyGroup
            } else {
                Msg::EndGroup
            })?;
            let size = self
                .meta
                .row_groups()
                .get(rg)
                .map_or(0, |g| u64::try_from(g.compressed_size()).unwrap_or(0))
                .min(self.input.size - self.done);
            self.done += size;
            if let Some(p) = self.progress {
                p.fetch_add(size, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// Whole row groups scrubbed on all workers at once, each decoding, rewriting and encoding
/// its own (row group `rg` on worker `rg % workers`, at most one finished group ahead), while
/// the calling thread appends the finished column chunks in file order. The batch-wise path
/// shares each batch's columns out instead, so one thread decoded and one encoded while the
/// others waited at every batch's end (1.6 of 2 cores busy); it stays for scans and reports,
/// which want findings in row order.
struct Groups<'a> {
    input: &'a Input,
    meta: &'a ParquetMetaData,
    subject_col: Option<usize>,
    /// Top-level columns no cell of which can change (see [`copied_columns`]): their column
    /// chunks are neither decoded nor encoded but copied, bytes as they are, into the output.
    copied: Vec<bool>,
}

/// One row group, encoded: its column chunks and its (counted) findings.
type GroupDone = Result<(Vec<ArrowColumnChunk>, Vec<Located>), PipelineError>;

impl Groups<'_> {
    fn run<W: Write + Send + ?Sized>(
        &self,
        workers: Vec<Worker<'_, '_>>,
        first: (Vec<RecordBatch>, Option<ParquetRecordBatchReader>),
        writer: ArrowWriter<&mut W>,
        opts: &RunOptions<'_>,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
    ) -> Result<Stats, PipelineError> {
        let groups = self.meta.num_row_groups();
        let n = workers.len().clamp(1, groups.max(1));
        let (mut file, factory) = writer.into_serialized_writer().map_err(write_error)?;
        // A top-level column is copied only where the written schema describes each of its
        // leaves exactly as the input's does (the row group writer refuses it otherwise).
        let descr = self.meta.file_metadata().schema_descr();
        let root_of = |j: usize| descr.get_column_root_idx(j);
        let copied_roots: Vec<bool> = (0..self.copied.len())
            .map(|r| {
                self.copied[r]
                    && (0..descr.num_columns())
                        .filter(|&j| root_of(j) == r)
                        .all(|j| file.schema_descr().column(j) == descr.column(j))
            })
            .collect();
        let copied: Vec<bool> = (0..descr.num_columns())
            .map(|j| copied_roots.get(root_of(j)).copied().unwrap_or(false))
            .collect();
        let read: Vec<usize> = (0..copied_roots.len())
            .filter(|&r| !copied_roots[r])
            .collect();
        let (copied, read) = (&copied, &read);
        #[cfg(unix)]
        let source = Positional {
            file: Arc::clone(&self.input.file),
            len: self.input.size,
        };
        let mut bases = Vec::with_capacity(groups);
        let mut rows = 0u64;
        for g in self.meta.row_groups() {
            bases.push(rows);
            rows += u64::try_from(g.num_rows()).unwrap_or(0);
        }
        let mut first = Some(first);
        let (factory, bases) = (&factory, &bases);
        let mut stats = Stats::default();
        let result = std::thread::scope(|s| {
            let mut rxs = Vec::new();
            let mut handles = Vec::new();
            for (w, worker) in workers.into_iter().take(n).enumerate() {
                let (tx, rx) = crossbeam_channel::bounded::<GroupDone>(1);
                rxs.push(rx);
                let mut first = if w == 0 { first.take() } else { None };
                handles.push(s.spawn(move || {
                    let mut st = Rewrite {
                        workers: vec![worker],
                        base: 0,
                        subject_col: self.subject_col,
                        found: Vec::new(),
                        order: Vec::new(),
                        ordered: false,
                    };
                    for rg in (w..groups).step_by(n) {
                        let pending = if rg == 0 { first.take() } else { None };
                        let done =
                            self.group(&mut st, factory, rg, bases[rg], pending, copied, read);
                        let failed = done.is_err();
                        if tx.send(done).is_err() || failed {
                            break;
                        }
                    }
                    st.workers.pop().map(|w| w.cells.finish())
                }));
            }
            let mut result = Ok(());
            for rg in 0..groups {
                let done = match rxs.get(rg % n).map(|rx| rx.recv()) {
                    Some(Ok(done)) => done,
                    _ => {
                        result = Err(PipelineError::Worker);
                        break;
                    }
                };
                result = done.and_then(|(chunks, counted)| {
                    counted
                        .iter()
                        .try_for_each(|l| found(l).map_err(PipelineError::Report))?;
                    let mut group = file.next_row_group().map_err(write_error)?;
                    let mut chunks = chunks.into_iter();
                    let input_group = self.meta.row_group(rg);
                    for (j, &copy) in copied.iter().enumerate() {
                        if copy {
                            let metadata = input_group.column(j).clone();
                            let close = ColumnCloseResult {
                                bytes_written: u64::try_from(metadata.compressed_size())
                                    .unwrap_or(0),
                                rows_written: u64::try_from(input_group.num_rows()).unwrap_or(0),
                                metadata,
                                bloom_filter: None,
                                column_index: None,
                                offset_index: None,
                            };
                            #[cfg(unix)]
                            group.append_column(&source, close).map_err(write_error)?;
                        } else {
                            let c = chunks.next().ok_or(PipelineError::Worker)?;
                            c.append_to_row_group(&mut group).map_err(write_error)?;
                        }
                    }
                    group.close().map_err(write_error)?;
                    if let Some(p) = opts.progress {
                        let size = self.meta.row_group(rg).compressed_size();
                        p.fetch_add(u64::try_from(size).unwrap_or(0), Ordering::Relaxed);
                    }
                    Ok(())
                });
                if result.is_err() {
                    break;
                }
            }
            // Workers blocked on a full channel see it closed and stop.
            drop(rxs);
            for h in handles {
                match h.join() {
                    Ok(Some(s)) => {
                        stats.findings += s.findings;
                        stats.changed += s.changed;
                    }
                    Ok(None) => {}
                    Err(_) => result = result.and(Err(PipelineError::Worker)),
                }
            }
            result
        });
        result?;
        let out = file.into_inner().map_err(write_error)?;
        out.flush().map_err(PipelineError::Write)?;
        Ok(stats)
    }

    /// Decodes, rewrites and encodes row group `rg`, whose first row is row `base` of the file.
    /// `copied`: which leaf columns are copied rather than written; `read`: the top-level
    /// columns that are not, the only ones decoded.
    #[allow(clippy::too_many_arguments)]
    fn group(
        &self,
        st: &mut Rewrite<'_, '_>,
        factory: &ArrowRowGroupWriterFactory,
        rg: usize,
        base: u64,
        pending: Option<(Vec<RecordBatch>, Option<ParquetRecordBatchReader>)>,
        copied: &[bool],
        read: &[usize],
    ) -> GroupDone {
        let schema = self.input.meta.schema();
        let all = read.len() == schema.fields().len();
        let (pending, reader) = match pending {
            Some(p) => p,
            None => (
                Vec::new(),
                Some(self.input.reader_of(rg, (!all).then_some(read))?),
            ),
        };
        let mut writers: Vec<_> = factory
            .create_column_writers(rg)
            .map_err(write_error)?
            .into_iter()
            .zip(copied)
            .filter(|(_, &c)| !c)
            .map(|(w, _)| w)
            .collect();
        st.base = base;
        let mut counted = Vec::new();
        for batch in pending
            .into_iter()
            .map(Ok::<RecordBatch, ArrowError>)
            .chain(reader.into_iter().flatten())
        {
            let batch = batch.map_err(|e| decode_error(rg, e))?;
            // The first group's batches were read whole, for the column samples.
            let batch = match batch.num_columns() == read.len() {
                true => batch,
                false => batch.project(read).map_err(|e| rebuild_error(&e))?,
            };
            let cols = self
                .input
                .restore(st.batch(&batch)?, read.iter().copied())?;
            for w in &mut st.workers {
                counted.extend(w.found.drain(..).map(|(_, _, l)| l));
            }
            let mut leaves = writers.iter_mut();
            let fields = read.iter().filter_map(|&i| schema.fields().get(i));
            for (field, col) in fields.zip(&cols) {
                for leaf in compute_leaves(field, col).map_err(write_error)? {
                    leaves
                        .next()
                        .ok_or(PipelineError::Worker)?
                        .write(&leaf)
                        .map_err(write_error)?;
                }
            }
        }
        let chunks = writers
            .into_iter()
            .map(|w| w.close())
            .collect::<Result<Vec<_>, _>>()
            .map_err(write_error)?;
        Ok((chunks, counted))
    }
}

/// What the writer is told.
enum Msg {
    Batch(RecordBatch),
    /// The input row group ended: so does the output's.
    EndGroup,
    /// The input row group had no rows: write an empty one.
    EmptyGroup,
    /// The run is complete: write the footer.
    Finish,
}

/// Where rewritten batches go: nowhere (scan), a writer on this thread, or a writer thread.
enum Sink<'s, 'w, W: Write + Send + ?Sized> {
    Scan,
    Inline(Box<ArrowWriter<&'w mut W>>),
    Thread(
        crossbeam_channel::Sender<Msg>,
        std::thread::ScopedJoinHandle<'s, Result<(), PipelineError>>,
    ),
}

impl<W: Write + Send + ?Sized> Sink<'_, '_, W> {
    fn writes(&self) -> bool {
        !matches!(self, Sink::Scan)
    }

    fn send(&mut self, m: Msg) -> Result<(), PipelineError> {
        match self {
            Sink::Scan => Ok(()),
            Sink::Inline(w) => apply(w, m),
            // A closed channel means the writer failed; `finish` returns its error.
            Sink::Thread(tx, _) => tx.send(m).map_err(|_| PipelineError::Worker),
        }
    }

    /// Ends the output; the footer is written only after a `complete` run.
    fn finish(self, complete: bool) -> Result<(), PipelineError> {
        match self {
            Sink::Scan => Ok(()),
            Sink::Inline(w) if complete => w.close().map(drop).map_err(write_error),
            Sink::Inline(_) => Ok(()),
            Sink::Thread(tx, handle) => {
                if complete {
                    // A writer that already stopped returns its error below.
                    let _ = tx.send(Msg::Finish);
                }
                drop(tx);
                handle.join().unwrap_or(Err(PipelineError::Worker))
            }
        }
    }
}

fn apply<W: Write + Send + ?Sized>(
    w: &mut ArrowWriter<&mut W>,
    m: Msg,
) -> Result<(), PipelineError> {
    match m {
        Msg::Batch(b) => w.write(&b).map_err(write_error),
        Msg::EndGroup => w.flush().map_err(write_error),
        #[allow(deprecated)]
        Msg::EmptyGroup => {
            w.flush().map_err(write_error)?;
            let chunks = w
                .get_column_writers()
                .and_then(|cs| cs.into_iter().map(|c| c.close()).collect())
                .map_err(write_error)?;
            // The supported way (a `SerializedFileWriter` of our own) would mean writing the
            // whole file without `ArrowWriter`; appending ready chunks is what it still allows.
            w.append_row_group(chunks).map_err(write_error)
        }
        Msg::Finish => Ok(()),
    }
}

/// The writer thread: applies what it is told until the footer, or until the run stops early
/// (no footer then: the output is discarded anyway).
fn write_all<W: Write + Send + ?Sized>(
    mut w: ArrowWriter<&mut W>,
    rx: crossbeam_channel::Receiver<Msg>,
) -> Result<(), PipelineError> {
    for m in rx {
        if let Msg::Finish = m {
            return w.close().map(drop).map_err(write_error);
        }
        apply(&mut w, m)?;
    }
    Ok(())
}

/// An open Parquet file with its footer read.
struct Input {
    file: Arc<File>,
    size: u64,
    /// The footer, with the file's own Arrow schema (the one written back).
    meta: ArrowReaderMetadata,
    /// The footer with the schema batches are read in: string columns whose every chunk is
    /// dictionary-encoded are read as dictionaries (see [`dictionary_columns`]).
    read_meta: ArrowReaderMetadata,
    /// Which top-level columns `read_meta` reads as dictionaries.
    as_dict: Vec<bool>,
}

/// The input file read by offset (`pread`): workers decoding different row groups at once
/// must not share a file position, and the clones `File`'s own Parquet reader makes all do.
#[cfg(unix)]
struct Positional {
    file: Arc<File>,
    len: u64,
}

#[cfg(unix)]
impl parquet::file::reader::Length for Positional {
    fn len(&self) -> u64 {
        self.len
    }
}

#[cfg(unix)]
impl parquet::file::reader::ChunkReader for Positional {
    type T = PositionalRead;

    fn get_read(&self, start: u64) -> parquet::errors::Result<PositionalRead> {
        Ok(PositionalRead {
            file: Arc::clone(&self.file),
            at: start,
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        use std::os::unix::fs::FileExt;
        // A corrupt footer's length is refused before anything is allocated for it.
        if start.saturating_add(length as u64) > self.len {
            return Err(ParquetError::EOF(format!(
                "a column chunk of {length} bytes at offset {start} runs past the file's end ({})",
                self.len
            )));
        }
        let mut buf = vec![0; length];
        self.file
            .read_exact_at(&mut buf, start)
            .map_err(|e| ParquetError::External(Box::new(e)))?;
        Ok(buf.into())
    }
}

/// A reader of [`Positional`] from one offset on.
#[cfg(unix)]
struct PositionalRead {
    file: Arc<File>,
    at: u64,
}

#[cfg(unix)]
impl io::Read for PositionalRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// What the first row group's sample leaves: the batches read (processed first), the reader
/// to go on with, and per leaf path the sampled values.
type Sampled = (
    Vec<RecordBatch>,
    Option<ParquetRecordBatchReader>,
    HashMap<String, Vec<Vec<u8>>>,
);

impl Input {
    /// `dictionaries`: read the columns [`dictionary_columns`] names as dictionaries.
    fn open(path: &Path, dictionaries: bool) -> Result<Input, PipelineError> {
        let read_err = |source| PipelineError::Read { offset: 0, source };
        let file = File::open(path).map_err(read_err)?;
        let size = file.metadata().map_err(read_err)?.len();
        let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| {
            parquet_error(
                e,
                "not a readable Parquet file (bad or missing footer; truncated?)",
            )
        })?;
        let as_dict = match dictionaries {
            true => dictionary_columns(&meta),
            false => vec![false; meta.schema().fields().len()],
        };
        let read_meta = if as_dict.contains(&true) {
            let schema = meta.schema();
            let fields: Vec<FieldRef> = schema
                .fields()
                .iter()
                .zip(&as_dict)
                .map(|(f, &d)| match d {
                    true => Arc::new(f.as_ref().clone().with_data_type(DataType::Dictionary(
                        Box::new(DataType::Int32),
                        Box::new(f.data_type().clone()),
                    ))),
                    false => f.clone(),
                })
                .collect();
            let hinted = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
            ArrowReaderMetadata::try_new(
                meta.metadata().clone(),
                ArrowReaderOptions::new().with_schema(hinted),
            )
            .map_err(|e| parquet_error(e, "cannot read its columns as written"))?
        } else {
            meta.clone()
        };
        Ok(Input {
            file: Arc::new(file),
            size,
            meta,
            read_meta,
            as_dict,
        })
    }

    /// A batch's rewritten columns in the file's own types: columns read as dictionaries
    /// become plain strings again (the written file keeps its schema and encodes them as
    /// the writer always did).
    /// `fields`: the file's top-level column index of each of `cols`.
    fn restore(
        &self,
        cols: Vec<ArrayRef>,
        fields: impl Iterator<Item = usize>,
    ) -> Result<Vec<ArrayRef>, PipelineError> {
        cols.into_iter()
            .zip(fields.map(|i| self.as_dict.get(i).copied().unwrap_or(false)))
            .map(|(a, d)| match (d, a.as_dictionary_opt::<Int32Type>()) {
                (true, Some(dict)) => arrow_select::take::take(dict.values(), dict.keys(), None)
                    .map_err(|e| rebuild_error(&e)),
                _ => Ok(a),
            })
            .collect()
    }

    /// A reader of row group `rg` alone.
    fn reader(&self, rg: usize) -> Result<ParquetRecordBatchReader, PipelineError> {
        self.reader_of(rg, None)
    }

    /// A reader of row group `rg` alone, of the top-level columns `roots` only (all: `None`).
    fn reader_of(
        &self,
        rg: usize,
        roots: Option<&[usize]>,
    ) -> Result<ParquetRecordBatchReader, PipelineError> {
        #[cfg(unix)]
        let f = Positional {
            file: Arc::clone(&self.file),
            len: self.size,
        };
        #[cfg(not(unix))]
        let f = self
            .file
            .try_clone()
            .map_err(|source| PipelineError::Read { offset: 0, source })?;
        let mut b = ParquetRecordBatchReaderBuilder::new_with_metadata(f, self.read_meta.clone())
            .with_row_groups(vec![rg])
            .with_batch_size(BATCH_ROWS);
        if let Some(roots) = roots {
            let mask = ProjectionMask::roots(b.parquet_schema(), roots.iter().copied());
            b = b.with_projection(mask);
        }
        b.build()
            .map_err(|e| parquet_error(e, &format!("cannot read row group {rg}")))
    }

    /// Reads the start of the first row group until every leaf has [`SAMPLE_VALUES`] values
    /// or [`SAMPLE_MAX_ROWS`] rows were read.
    fn sample(&self) -> Result<Sampled, PipelineError> {
        let mut samples: HashMap<String, Vec<Vec<u8>>> = leaf_paths(self.meta.schema())
            .into_iter()
            .map(|(p, _)| (p, Vec::new()))
            .collect();
        if self.meta.metadata().num_row_groups() == 0 {
            return Ok((Vec::new(), None, samples));
        }
        let mut reader = self.reader(0)?;
        let (mut batches, mut rows) = (Vec::new(), 0);
        while rows < SAMPLE_MAX_ROWS && samples.values().any(|v| v.len() < SAMPLE_VALUES) {
            let Some(batch) = reader.next() else { break };
            let batch = batch.map_err(|e| decode_error(0, e))?;
            rows += batch.num_rows();
            for (f, a) in batch.schema().fields().iter().zip(batch.columns()) {
                sample(a.as_ref(), f.name(), &mut samples);
            }
            batches.push(batch);
        }
        Ok((batches, Some(reader), samples))
    }
}

fn refs<'a>(samples: &'a HashMap<String, Vec<Vec<u8>>>, path: &str) -> Vec<&'a [u8]> {
    samples
        .get(path)
        .map(|v| v.iter().map(Vec::as_slice).collect())
        .unwrap_or_default()
}

/// Writer settings that keep the input's key-value metadata, codecs and row groups.
fn properties(meta: &ParquetMetaData) -> WriterProperties {
    // As it was, `ARROW:schema` included: the written types are the ones it describes.
    let kv: Vec<KeyValue> = meta
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    // Row groups are cut where the input's end, by flushing; no size limit may cut earlier.
    let mut b = WriterProperties::builder()
        .set_max_row_group_row_count(None)
        .set_max_row_group_bytes(None)
        .set_key_value_metadata((!kv.is_empty()).then_some(kv));
    // A page index only where the input had one: the file keeps its layout, and column chunks
    // copied as they are (see [`copied_columns`]) never sit beside indexed ones, which the
    // footer writer cannot mix. Chunk statistics are always recomputed.
    if !page_indexed(meta) {
        b = b
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_offset_index_disabled(true);
    }
    if let Some(rg) = meta.row_groups().first() {
        // The most used codec for any column whose path the writer spells differently (legacy
        // list layouts), then each column's own.
        let mut counts: Vec<(Compression, usize)> = Vec::new();
        for c in rg.columns() {
            match counts.iter_mut().find(|(k, _)| *k == c.compression()) {
                Some((_, n)) => *n += 1,
                None => counts.push((c.compression(), 1)),
            }
        }
        if let Some((codec, _)) = counts.iter().max_by_key(|(_, n)| *n) {
            b = b.set_compression(*codec);
        }
        for c in rg.columns() {
            b = b.set_column_compression(c.column_path().clone(), c.compression());
            if fell_back_to_plain(c) {
                b = b.set_column_dictionary_enabled(c.column_path().clone(), false);
            }
        }
    }
    b.build()
}

/// Whether any column chunk of the file has a page index (column or offset index).
fn page_indexed(meta: &ParquetMetaData) -> bool {
    meta.row_groups().iter().any(|g| {
        g.columns()
            .iter()
            .any(|c| c.offset_index_offset().is_some() || c.column_index_offset().is_some())
    })
}

/// Which top-level columns keep every value whatever it is, so a scrub may copy their column
/// chunks as they are: a plain (not nested) column the policy keeps, or the classifier keeps
/// with no policy entry, or a number column not classified as an identifier. None with a
/// subject column (its column index is one of the batch's).
fn copied_columns(
    input: &Input,
    leaves: &HashMap<String, Arc<Leaf>>,
    engine: &Engine,
    opts: &RunOptions<'_>,
) -> Vec<bool> {
    let schema = input.meta.schema();
    schema
        .fields()
        .iter()
        .map(|f| {
            let Some(leaf) = leaves.get(f.name()) else {
                return false;
            };
            let kind = kind(f.data_type());
            let nested = matches!(
                f.data_type(),
                DataType::Struct(_)
                    | DataType::List(_)
                    | DataType::LargeList(_)
                    | DataType::FixedSizeList(_, _)
                    | DataType::Map(_, _)
            );
            let policy = engine.transformer.policy();
            // Chunks are copied from the by-offset reader, a unix one, and only into a file
            // written without a page index (the footer writer cannot mix indexed chunks
            // with copied ones that carry none).
            cfg!(unix)
                && !page_indexed(input.meta.metadata())
                && opts.subject_column.is_none()
                && !nested
                && match policy.column_override(opts.table, f.name()) {
                    Some(ColumnOverride::Keep) => true,
                    Some(_) => false,
                    None => leaf.class.keep || (kind == Some(Kind::Number) && !leaf.numbers),
                }
        })
        .collect()
}

/// Which top-level columns are strings (or bytes) whose chunks in every row group hold only
/// dictionary-encoded data pages. Those are read as Arrow dictionaries: each distinct value is
/// then one cell per chunk ([`Worker::dictionary`]) rather than one per row, and the reader
/// does not expand the dictionary into every row only for the same value to be looked up,
/// rewritten and compared again row after row.
fn dictionary_columns(meta: &ArrowReaderMetadata) -> Vec<bool> {
    let pmeta = meta.metadata();
    let leaves = pmeta.file_metadata().schema_descr().columns();
    meta.schema()
        .fields()
        .iter()
        .map(|f| {
            let text = matches!(
                f.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary
            );
            let Some(leaf) = leaves
                .iter()
                .position(|c| c.path().parts() == std::slice::from_ref(f.name()))
            else {
                return false;
            };
            text && pmeta.num_row_groups() > 0
                && pmeta
                    .row_groups()
                    .iter()
                    .all(|g| g.columns().get(leaf).is_some_and(dictionary_only))
        })
        .collect()
}

/// Whether a column chunk has a dictionary and its page statistics show every data page
/// encoded against it (no plain fallback).
fn dictionary_only(c: &parquet::file::metadata::ColumnChunkMetaData) -> bool {
    use parquet::basic::{Encoding, PageType};
    if c.dictionary_page_offset().is_none() {
        return false;
    }
    if let Some(mask) = c.page_encoding_stats_mask() {
        return !mask.is_set(Encoding::PLAIN)
            && (mask.is_set(Encoding::RLE_DICTIONARY) || mask.is_set(Encoding::PLAIN_DICTIONARY));
    }
    let Some(stats) = c.page_encoding_stats() else {
        return false;
    };
    let data = stats
        .iter()
        .filter(|s| matches!(s.page_type, PageType::DATA_PAGE | PageType::DATA_PAGE_V2));
    let mut any = false;
    for s in data {
        if !matches!(
            s.encoding,
            Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY
        ) {
            return false;
        }
        any = true;
    }
    any
}

/// Whether the data pages of an input column chunk are plain-encoded: its writer gave up on a
/// dictionary (too many distinct values, an id or a free-text column). The output column is
/// then written plain from the start, as the input effectively was, rather than interning
/// values into a dictionary only to drop it a megabyte later (a tenth of a scrub's time).
fn fell_back_to_plain(c: &parquet::file::metadata::ColumnChunkMetaData) -> bool {
    use parquet::basic::{Encoding, PageType};
    // The reader keeps only which encodings the data pages used (its default); where the full
    // counts are there, they decide.
    if let Some(mask) = c.page_encoding_stats_mask() {
        return mask.is_set(Encoding::PLAIN);
    }
    let Some(stats) = c.page_encoding_stats() else {
        return false;
    };
    let (mut plain, mut dict) = (0i64, 0i64);
    for s in stats {
        if !matches!(s.page_type, PageType::DATA_PAGE | PageType::DATA_PAGE_V2) {
            continue;
        }
        match s.encoding {
            Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY => dict += i64::from(s.count),
            _ => plain += i64::from(s.count),
        }
    }
    plain > dict
}

/// The kind of a leaf column, by Arrow type; other types (dictionaries of numbers,
/// intervals, fixed-size binaries…) are copied as they are unless classified as an
/// identifier, which fails the file rather than leak it (see [`Worker::leaf`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    Date,
}

fn kind(dt: &DataType) -> Option<Kind> {
    use DataType as D;
    match dt {
        D::Utf8 | D::LargeUtf8 | D::Utf8View | D::Binary | D::LargeBinary | D::BinaryView => {
            Some(Kind::Text)
        }
        D::Dictionary(_, v) => kind(v).filter(|k| *k == Kind::Text),
        D::Int8
        | D::Int16
        | D::Int32
        | D::Int64
        | D::UInt8
        | D::UInt16
        | D::UInt32
        | D::UInt64
        | D::Float16
        | D::Float32
        | D::Float64
        | D::Decimal32(_, _)
        | D::Decimal64(_, _)
        | D::Decimal128(_, _)
        | D::Decimal256(_, _)
        | D::Boolean => Some(Kind::Number),
        D::Date32 | D::Date64 | D::Timestamp(_, _) => Some(Kind::Date),
        _ => None,
    }
}

/// The path of a struct member.
fn member(parent: &str, name: &str) -> String {
    format!("{parent}.{name}")
}

/// The path of a list's (or map's) items.
fn items(parent: &str) -> String {
    format!("{parent}[]")
}

/// Leaf columns with a kind, depth first in schema order, with their key paths.
fn leaf_paths(schema: &Schema) -> Vec<(String, Kind)> {
    fn walk(dt: &DataType, path: String, out: &mut Vec<(String, Kind)>) {
        match dt {
            DataType::Struct(fields) => {
                for f in fields {
                    walk(f.data_type(), member(&path, f.name()), out);
                }
            }
            DataType::List(f)
            | DataType::LargeList(f)
            | DataType::FixedSizeList(f, _)
            | DataType::Map(f, _) => walk(f.data_type(), items(&path), out),
            dt => {
                if let Some(k) = kind(dt) {
                    out.push((path, k));
                }
            }
        }
    }
    let mut out = Vec::new();
    for f in schema.fields() {
        walk(f.data_type(), f.name().clone(), &mut out);
    }
    out
}

/// Adds the non-empty values of `a` (at `path`) to the samples of its leaves.
fn sample(a: &dyn Array, path: &str, samples: &mut HashMap<String, Vec<Vec<u8>>>) {
    match a.data_type() {
        DataType::Struct(fields) => {
            let s = a.as_struct();
            for (f, c) in fields.iter().zip(s.columns()) {
                sample(c.as_ref(), &member(path, f.name()), samples);
            }
        }
        DataType::List(_) => sample(a.as_list::<i32>().values().as_ref(), &items(path), samples),
        DataType::LargeList(_) => {
            sample(a.as_list::<i64>().values().as_ref(), &items(path), samples);
        }
        DataType::FixedSizeList(_, _) => {
            sample(
                a.as_fixed_size_list().values().as_ref(),
                &items(path),
                samples,
            );
        }
        DataType::Map(_, _) => sample(a.as_map().entries(), &items(path), samples),
        _ => {
            let Some(list) = samples.get_mut(path) else {
                return;
            };
            each_text(a, |_, t| {
                if list.len() >= SAMPLE_VALUES {
                    return false;
                }
                if !t.trim_ascii().is_empty() {
                    list.push(t.to_vec());
                }
                true
            });
        }
    }
}

/// Calls `f(index, text)` for each non-null element of a leaf array, in order, until it
/// returns false.
fn each_text(a: &dyn Array, mut f: impl FnMut(usize, &[u8]) -> bool) {
    let mut buf = Vec::new();
    if let DataType::Dictionary(_, _) = a.data_type() {
        let d = a.as_any_dictionary();
        let values = d.values();
        for (i, &k) in d.normalized_keys().iter().enumerate() {
            buf.clear();
            if a.is_valid(i)
                && k < values.len()
                && text(values.as_ref(), k, &mut buf)
                && !f(i, &buf)
            {
                break;
            }
        }
        return;
    }
    for i in 0..a.len() {
        buf.clear();
        if text(a, i, &mut buf) && !f(i, &buf) {
            break;
        }
    }
}

/// The text the cell logic sees for element `i` of a (non-dictionary) leaf array, appended to
/// `out`: the string or bytes, a number in decimal, a date or timestamp as its ISO day (UTC).
/// False for a null or a type without one.
fn text(a: &dyn Array, i: usize, out: &mut Vec<u8>) -> bool {
    use DataType as D;
    if i >= a.len() || a.is_null(i) {
        return false;
    }
    fn num<T: ArrowPrimitiveType>(a: &dyn Array, i: usize, out: &mut Vec<u8>)
    where
        T::Native: NumText,
    {
        a.as_primitive::<T>().value(i).text(out);
    }
    fn dec<T: DecimalType>(a: &dyn Array, i: usize, p: u8, sc: i8, out: &mut Vec<u8>) {
        out.extend_from_slice(T::format_decimal(a.as_primitive::<T>().value(i), p, sc).as_bytes());
    }
    fn day<T: ArrowPrimitiveType>(a: &dyn Array, i: usize, per_day: i64, out: &mut Vec<u8>)
    where
        T::Native: Into<i64>,
    {
        let v: i64 = a.as_primitive::<T>().value(i).into();
        iso_day(v.div_euclid(per_day), out);
    }
    match a.data_type() {
        D::Utf8 => out.extend_from_slice(a.as_string::<i32>().value(i).as_bytes()),
        D::LargeUtf8 => out.extend_from_slice(a.as_string::<i64>().value(i).as_bytes()),
        D::Utf8View => out.extend_from_slice(a.as_string_view().value(i).as_bytes()),
        D::Binary => out.extend_from_slice(a.as_binary::<i32>().value(i)),
        D::LargeBinary => out.extend_from_slice(a.as_binary::<i64>().value(i)),
        D::BinaryView => out.extend_from_slice(a.as_binary_view().value(i)),
        D::Int8 => num::<Int8Type>(a, i, out),
        D::Int16 => num::<Int16Type>(a, i, out),
        D::Int32 => num::<Int32Type>(a, i, out),
        D::Int64 => num::<Int64Type>(a, i, out),
        D::UInt8 => num::<UInt8Type>(a, i, out),
        D::UInt16 => num::<UInt16Type>(a, i, out),
        D::UInt32 => num::<UInt32Type>(a, i, out),
        D::UInt64 => num::<UInt64Type>(a, i, out),
        D::Float16 => num::<Float16Type>(a, i, out),
        D::Float32 => num::<Float32Type>(a, i, out),
        D::Float64 => num::<Float64Type>(a, i, out),
        D::Decimal32(p, sc) => dec::<Decimal32Type>(a, i, *p, *sc, out),
        D::Decimal64(p, sc) => dec::<Decimal64Type>(a, i, *p, *sc, out),
        D::Decimal128(p, sc) => dec::<Decimal128Type>(a, i, *p, *sc, out),
        D::Decimal256(p, sc) => dec::<Decimal256Type>(a, i, *p, *sc, out),
        D::Boolean => {
            let b = a.as_boolean().value(i);
            out.extend_from_slice(if b { b"true" } else { b"false" });
        }
        D::Date32 => day::<Date32Type>(a, i, 1, out),
        D::Date64 => day::<Date64Type>(a, i, MS_PER_DAY, out),
        D::Timestamp(u, _) => {
            let per_day = per_day(*u);
            match u {
                TimeUnit::Second => day::<TimestampSecondType>(a, i, per_day, out),
                TimeUnit::Millisecond => day::<TimestampMillisecondType>(a, i, per_day, out),
                TimeUnit::Microsecond => day::<TimestampMicrosecondType>(a, i, per_day, out),
                TimeUnit::Nanosecond => day::<TimestampNanosecondType>(a, i, per_day, out),
            }
        }
        _ => return false,
    }
    true
}

const MS_PER_DAY: i64 = 86_400_000;

fn per_day(u: TimeUnit) -> i64 {
    match u {
        TimeUnit::Second => 86_400,
        TimeUnit::Millisecond => MS_PER_DAY,
        TimeUnit::Microsecond => MS_PER_DAY * 1_000,
        TimeUnit::Nanosecond => MS_PER_DAY * 1_000_000,
    }
}

/// `YYYY-MM-DD` of a day count from 1970-01-01.
fn iso_day(days: i64, out: &mut Vec<u8>) {
    let (y, m, d) = dates::civil_from_days(days);
    // Nearly every day is in years 1000..=9999: ten bytes, without the formatter.
    match u32::try_from(y).ok().filter(|y| (1000..=9999).contains(y)) {
        Some(y) => out.extend_from_slice(&dates::iso_text(y, m, d)),
        None => {
            let _ = write!(out, "{y:04}-{m:02}-{d:02}");
        }
    }
}

/// What a rewritten date cell says.
#[derive(Debug, PartialEq, Eq)]
enum Day {
    /// A full date: days from 1970-01-01.
    Full(i64),
    /// Only a year.
    Year(i32),
}

fn reparse(out: &[u8]) -> Option<Day> {
    let t = out.trim_ascii();
    if !t.is_empty() && t.len() <= 4 && t.iter().all(u8::is_ascii_digit) {
        return std::str::from_utf8(t).ok()?.parse().ok().map(Day::Year);
    }
    // A shifted ISO day comes back ISO: read it without the general parser.
    let (y, m, d) = match dates::iso(t) {
        Some(ymd) => ymd,
        None => dates::parse(t).map(|d| (d.year, d.month, d.day))?,
    };
    Some(Day::Full(dates::days_from_civil(y, m, d)))
}

/// How one leaf column is treated, decided once from the first row group.
#[derive(Debug)]
struct Leaf {
    /// The key path reported as `field`.
    field: Arc<str>,
    class: ColumnClass,
    /// Whether a number column's values go through the cells (see the module doc).
    numbers: bool,
}

/// The 1-based file row of each element of an array.
enum Rows {
    /// Element `i` is row `base + i + 1` (top-level columns and struct members).
    Seq(u64),
    /// Items of lists and maps: the row of the list each belongs to (0 for none).
    Map(Vec<u64>),
}

impl Rows {
    fn at(&self, i: usize) -> u64 {
        match self {
            Rows::Seq(base) => base + i as u64 + 1,
            Rows::Map(v) => v.get(i).copied().unwrap_or(0),
        }
    }

    /// Rows of the `n` items of a list array with these offsets.
    fn of_items<O: ArrowNativeType>(&self, offsets: &[O], n: usize) -> Rows {
        let mut map = vec![0u64; n];
        for (i, w) in offsets.windows(2).enumerate() {
            let row = self.at(i);
            let range = w[0].as_usize()..w[1].as_usize();
            for slot in map.get_mut(range).into_iter().flatten() {
                *slot = row;
            }
        }
        Rows::Map(map)
    }
}

/// The state of one file's rewrite.
struct Rewrite<'e, 'o> {
    workers: Vec<Worker<'e, 'o>>,
    /// Rows before the current batch.
    base: u64,
    /// The `--subject-column` among the top-level columns.
    subject_col: Option<usize>,
    /// The batch's findings, gathered from the workers to be reported in row order.
    found: Vec<(u64, usize, Located)>,
    /// Scratch for the order findings are reported in.
    order: Vec<usize>,
    /// Findings are reported in row order: a report prints them (the run wants positions).
    /// Without, only their counts are kept and the order is not restored.
    ordered: bool,
}

/// One thread's share of a batch: whole columns, with its own cells (scanner, totals), its
/// findings and its dictionaries.
struct Worker<'e, 'o> {
    cells: Cells<'e>,
    /// By key path.
    leaves: Arc<HashMap<String, Arc<Leaf>>>,
    opts: RunOptions<'o>,
    scrub: bool,
    /// Rows before the current batch.
    base: u64,
    /// The subject column's text per row of the batch, when the file has one.
    subjects: Option<Arc<Vec<Option<Vec<u8>>>>>,
    /// The batch's findings with row and column.
    found: Vec<(u64, usize, Located)>,
    /// Scratch for a typed value's text.
    text: Vec<u8>,
    /// The last dictionary rewritten, per key path.
    dicts: HashMap<Arc<str>, DictDone>,
}

/// A rewritten dictionary.
struct DictDone {
    /// The input's dictionary, held so its buffers identify it.
    values: ArrayRef,
    /// The rewritten values, when any changed.
    new_values: Option<ArrayRef>,
    /// Per value: its findings (row unset) and how many of them changed it.
    per: Vec<(Vec<Located>, u64)>,
}

impl Rewrite<'_, '_> {
    /// The batch's new columns; its findings wait in `found`.
    fn batch(&mut self, batch: &RecordBatch) -> Result<Vec<ArrayRef>, PipelineError> {
        let subjects = self
            .subject_col
            .and_then(|c| batch.columns().get(c))
            .map(|a| {
                let mut v = vec![None; batch.num_rows()];
                each_text(a.as_ref(), |i, t| {
                    if let Some(s) = v.get_mut(i) {
                        *s = Some(t.to_vec());
                    }
                    true
                });
                Arc::new(v)
            });
        for w in &mut self.workers {
            w.base = self.base;
            w.subjects = subjects.clone();
        }
        let schema = batch.schema();
        let next = AtomicUsize::new(0);
        // Each worker takes the next column not taken yet, so a heavy free-text column does
        // not hold up the others.
        let work = |w: &mut Worker| -> Result<Vec<(usize, ArrayRef)>, PipelineError> {
            let mut done = Vec::new();
            loop {
                let col = next.fetch_add(1, Ordering::Relaxed);
                let (Some(f), Some(a)) = (schema.fields().get(col), batch.columns().get(col))
                else {
                    return Ok(done);
                };
                let rows = Rows::Seq(w.base);
                done.push((col, w.array(a, f.name(), &rows, col, f.is_nullable())?));
            }
        };
        let parts = match self.workers.split_first_mut() {
            Some((first, rest)) if !rest.is_empty() => std::thread::scope(|s| {
                let handles: Vec<_> = rest.iter_mut().map(|w| s.spawn(|| work(w))).collect();
                let mut parts = vec![work(first)];
                for h in handles {
                    parts.push(h.join().unwrap_or(Err(PipelineError::Worker)));
                }
                parts
            }),
            Some((first, _)) => vec![work(first)],
            None => Vec::new(),
        };
        let mut cols: Vec<Option<ArrayRef>> = vec![None; batch.num_columns()];
        for part in parts {
            for (col, a) in part? {
                if let Some(slot) = cols.get_mut(col) {
                    *slot = Some(a);
                }
            }
        }
        for w in &mut self.workers {
            let found = &mut w.found;
            // Pushing into a Vec cannot fail.
            let _ = w.cells.flush_tally(&mut |l| {
                found.push((0, 0, l.clone()));
                Ok(())
            });
        }
        if self.ordered {
            for w in &mut self.workers {
                self.found.append(&mut w.found);
            }
        }
        self.base += batch.num_rows() as u64;
        cols.into_iter()
            .map(|c| c.ok_or(PipelineError::Worker))
            .collect()
    }

    /// Reports the batch's findings, row by row.
    fn emit(
        &mut self,
        found: &mut dyn FnMut(&Located) -> io::Result<()>,
    ) -> Result<(), PipelineError> {
        if !self.ordered {
            // Only counted (no report prints positions): each worker's findings as they are,
            // with nothing moved or sorted.
            let mut result = Ok(());
            for w in &mut self.workers {
                if result.is_ok() {
                    result = w
                        .found
                        .iter()
                        .try_for_each(|(_, _, l)| found(l).map_err(PipelineError::Report));
                }
                w.found.clear();
            }
            return result;
        }
        // Stable: a cell's findings keep their order, a struct's members their schema order.
        // Indexes are sorted, not the findings: moving those is what would cost.
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend(0..self.found.len());
        order.sort_by_key(|&i| self.found.get(i).map(|(row, col, _)| (*row, *col)));
        let result = order.iter().try_for_each(|&i| match self.found.get(i) {
            Some((_, _, l)) => found(l).map_err(PipelineError::Report),
            None => Ok(()),
        });
        self.found.clear();
        self.order = order;
        result
    }
}

impl<'e, 'o> Worker<'e, 'o> {
    fn new(
        cells: Cells<'e>,
        leaves: &Arc<HashMap<String, Arc<Leaf>>>,
        opts: &RunOptions<'o>,
        scrub: bool,
    ) -> Worker<'e, 'o> {
        Worker {
            cells,
            leaves: leaves.clone(),
            opts: *opts,
            scrub,
            base: 0,
            subjects: None,
            found: Vec::new(),
            text: Vec::new(),
            dicts: HashMap::new(),
        }
    }

    /// One cell through [`Cells::cell`]; the new value, when it changed, is in `cells.value`.
    fn cell(&mut self, v: &[u8], leaf: &Leaf, row: u64, col: usize) -> Result<bool, PipelineError> {
        if let Some(s) = &self.subjects {
            let subject = row
                .checked_sub(self.base + 1)
                .and_then(|k| s.get(usize::try_from(k).ok()?))
                .and_then(Option::as_deref);
            self.cells.set_subject(subject);
        }
        let place = move |_: usize| (0, row, col as u64 + 1);
        let found = &mut self.found;
        self.cells.cell(
            v,
            &leaf.class,
            Some(&leaf.field),
            row,
            &place,
            &self.opts,
            self.scrub,
            &mut |l: &Located| {
                found.push((row, col, l.clone()));
                Ok(())
            },
        )
    }

    /// The rewritten array (the same one when nothing changed), nested types member by member.
    fn array(
        &mut self,
        a: &ArrayRef,
        path: &str,
        rows: &Rows,
        col: usize,
        nullable: bool,
    ) -> Result<ArrayRef, PipelineError> {
        match a.data_type() {
            DataType::Struct(fields) => {
                let s = a.as_struct();
                let mut cols = Vec::with_capacity(fields.len());
                for (f, c) in fields.iter().zip(s.columns()) {
                    let p = member(path, f.name());
                    cols.push(self.array(c, &p, rows, col, f.is_nullable())?);
                }
                if cols.iter().zip(s.columns()).all(|(n, o)| Arc::ptr_eq(n, o)) {
                    return Ok(a.clone());
                }
                let out = StructArray::try_new_with_length(
                    fields.clone(),
                    cols,
                    s.nulls().cloned(),
                    s.len(),
                )
                .map_err(|e| rebuild_error(&e))?;
                Ok(Arc::new(out))
            }
            DataType::List(f) => self.list::<i32>(a, f, path, rows, col),
            DataType::LargeList(f) => self.list::<i64>(a, f, path, rows, col),
            DataType::FixedSizeList(f, size) => {
                let l = a.as_fixed_size_list();
                let Some(n) = usize::try_from(*size).ok().filter(|n| *n > 0) else {
                    return Ok(a.clone());
                };
                let child = Rows::Map((0..l.values().len()).map(|j| rows.at(j / n)).collect());
                let v = self.array(l.values(), &items(path), &child, col, f.is_nullable())?;
                if Arc::ptr_eq(&v, l.values()) {
                    return Ok(a.clone());
                }
                let out = FixedSizeListArray::try_new(f.clone(), *size, v, l.nulls().cloned())
                    .map_err(|e| rebuild_error(&e))?;
                Ok(Arc::new(out))
            }
            DataType::Map(f, ordered) => {
                let m = a.as_map();
                let entries: ArrayRef = Arc::new(m.entries().clone());
                let child = rows.of_items(m.value_offsets(), entries.len());
                let v = self.array(&entries, &items(path), &child, col, false)?;
                if Arc::ptr_eq(&v, &entries) {
                    return Ok(a.clone());
                }
                let Some(v) = v.as_struct_opt() else {
                    return Err(PipelineError::Format(
                        "map entries are not a struct after rewriting".into(),
                    ));
                };
                let out = MapArray::try_new(
                    f.clone(),
                    m.offsets().clone(),
                    v.clone(),
                    m.nulls().cloned(),
                    *ordered,
                )
                .map_err(|e| rebuild_error(&e))?;
                Ok(Arc::new(out))
            }
            _ => self.leaf(a, path, rows, col, nullable),
        }
    }

    fn list<O: OffsetSizeTrait>(
        &mut self,
        a: &ArrayRef,
        f: &FieldRef,
        path: &str,
        rows: &Rows,
        col: usize,
    ) -> Result<ArrayRef, PipelineError> {
        let l = a.as_list::<O>();
        let child = rows.of_items(l.value_offsets(), l.values().len());
        let v = self.array(l.values(), &items(path), &child, col, f.is_nullable())?;
        if Arc::ptr_eq(&v, l.values()) {
            return Ok(a.clone());
        }
        let out =
            GenericListArray::<O>::try_new(f.clone(), l.offsets().clone(), v, l.nulls().cloned())
                .map_err(|e| rebuild_error(&e))?;
        Ok(Arc::new(out))
    }

    fn leaf(
        &mut self,
        a: &ArrayRef,
        path: &str,
        rows: &Rows,
        col: usize,
        nullable: bool,
    ) -> Result<ArrayRef, PipelineError> {
        use DataType as D;
        let Some(leaf) = self.leaves.get(path).cloned() else {
            return Ok(a.clone());
        };
        let leaf = &*leaf;
        if kind(a.data_type()) == Some(Kind::Number) && !leaf.numbers {
            return Ok(a.clone());
        }
        match a.data_type() {
            D::Dictionary(_, _) => self.dictionary(a, leaf, rows, col),
            D::Int8 => self.numbers::<Int8Type>(a, leaf, rows, col, nullable),
            D::Int16 => self.numbers::<Int16Type>(a, leaf, rows, col, nullable),
            D::Int32 => self.numbers::<Int32Type>(a, leaf, rows, col, nullable),
            D::Int64 => self.numbers::<Int64Type>(a, leaf, rows, col, nullable),
            D::UInt8 => self.numbers::<UInt8Type>(a, leaf, rows, col, nullable),
            D::UInt16 => self.numbers::<UInt16Type>(a, leaf, rows, col, nullable),
            D::UInt32 => self.numbers::<UInt32Type>(a, leaf, rows, col, nullable),
            D::UInt64 => self.numbers::<UInt64Type>(a, leaf, rows, col, nullable),
            D::Float16 => self.numbers::<Float16Type>(a, leaf, rows, col, nullable),
            D::Float32 => self.numbers::<Float32Type>(a, leaf, rows, col, nullable),
            D::Float64 => self.numbers::<Float64Type>(a, leaf, rows, col, nullable),
            D::Decimal32(_, _) => self.decimals::<Decimal32Type>(a, leaf, rows, col, nullable),
            D::Decimal64(_, _) => self.decimals::<Decimal64Type>(a, leaf, rows, col, nullable),
            D::Decimal128(_, _) => self.decimals::<Decimal128Type>(a, leaf, rows, col, nullable),
            D::Decimal256(_, _) => self.decimals::<Decimal256Type>(a, leaf, rows, col, nullable),
            D::Boolean => self.booleans(a, leaf, rows, col),
            D::Date32 => self.dates::<Date32Type>(a, leaf, rows, col, nullable, 1),
            D::Date64 => self.dates::<Date64Type>(a, leaf, rows, col, nullable, MS_PER_DAY),
            D::Timestamp(u, _) => {
                let pd = per_day(*u);
                match u {
                    TimeUnit::Second => {
                        self.dates::<TimestampSecondType>(a, leaf, rows, col, nullable, pd)
                    }
                    TimeUnit::Millisecond => {
                        self.dates::<TimestampMillisecondType>(a, leaf, rows, col, nullable, pd)
                    }
                    TimeUnit::Microsecond => {
                        self.dates::<TimestampMicrosecondType>(a, leaf, rows, col, nullable, pd)
                    }
                    TimeUnit::Nanosecond => {
                        self.dates::<TimestampNanosecondType>(a, leaf, rows, col, nullable, pd)
                    }
                }
            }
            _ => {
                let mut f = |i: usize, v: &[u8], out: &mut Vec<u8>| {
                    let changed = self.cell(v, leaf, rows.at(i), col)?;
                    if changed {
                        out.extend_from_slice(&self.cells.value);
                    }
                    Ok(changed)
                };
                Ok(rewrite_bytes(a, &mut f)?.unwrap_or_else(|| a.clone()))
            }
        }
    }

    /// A dictionary-encoded string column: each dictionary value is a cell once (no row
    /// subject: one value, one replacement), the keys stay; each row using a value that was
    /// found gets that value's findings, so reports and totals count rows as for plain columns.
    /// The reader hands every batch of a column chunk the same dictionary: it is rewritten once
    /// per chunk, not once per batch.
    fn dictionary(
        &mut self,
        a: &ArrayRef,
        leaf: &Leaf,
        rows: &Rows,
        col: usize,
    ) -> Result<ArrayRef, PipelineError> {
        if self.subjects.is_some() && !leaf.class.keep {
            return self.dictionary_by_row(a, leaf, rows, col);
        }
        let d = a.as_any_dictionary();
        let values = d.values();
        // The reader wraps the chunk's one dictionary in a new array for every batch: the
        // same buffers tell it is the same dictionary.
        let known = self
            .dicts
            .get(&*leaf.field)
            .is_some_and(|c| c.values.to_data().ptr_eq(&values.to_data()));
        if !known {
            let done = self.dictionary_values(values, leaf, col)?;
            self.dicts.insert(leaf.field.clone(), done);
        }
        let Some(done) = self.dicts.get(&*leaf.field) else {
            return Ok(a.clone());
        };
        if self.opts.tally {
            // Only counted: each value's findings times the rows that use it.
            let mut uses = vec![0u64; done.per.len()];
            for (i, &k) in d.normalized_keys().iter().enumerate() {
                if let Some(n) = uses.get_mut(k).filter(|_| a.is_valid(i)) {
                    *n += 1;
                }
            }
            for ((locs, changed), &n) in done.per.iter().zip(&uses) {
                if n == 0 {
                    continue;
                }
                for l in locs {
                    self.cells.add_to_tally(l.entity, n);
                }
                self.cells.stats.findings += locs.len() as u64 * n;
                self.cells.stats.changed += changed * n;
            }
        } else {
            for (i, &k) in d.normalized_keys().iter().enumerate() {
                let Some((locs, changed)) = done.per.get(k).filter(|_| a.is_valid(i)) else {
                    continue;
                };
                let row = rows.at(i);
                for l in locs {
                    let mut l = l.clone();
                    l.row = Some(row);
                    if self.opts.positions {
                        l.line = row;
                    }
                    self.found.push((row, col, l));
                }
                self.cells.stats.findings += locs.len() as u64;
                self.cells.stats.changed += changed;
            }
        }
        Ok(match &done.new_values {
            Some(v) => d.with_values(v.clone()),
            None => a.clone(),
        })
    }

    /// A dictionary column in a file with a `--subject-column`: a value's replacement may
    /// depend on its row (a date moves by the row's subject's offset), so each row is a cell
    /// of its own, and the new dictionary holds the distinct results (keys of the same type).
    fn dictionary_by_row(
        &mut self,
        a: &ArrayRef,
        leaf: &Leaf,
        rows: &Rows,
        col: usize,
    ) -> Result<ArrayRef, PipelineError> {
        let d = a.as_any_dictionary();
        let values = d.values().clone();
        let keys = d.normalized_keys();
        let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut distinct: Vec<Vec<u8>> = Vec::new();
        let mut new_keys: Vec<Option<usize>> = Vec::with_capacity(keys.len());
        let (mut buf, mut changed) = (Vec::new(), false);
        for (i, &k) in keys.iter().enumerate() {
            buf.clear();
            if !a.is_valid(i) || k >= values.len() || !text(values.as_ref(), k, &mut buf) {
                new_keys.push(None);
                continue;
            }
            if self.cell(&buf, leaf, rows.at(i), col)? {
                changed = true;
                buf.clear();
                buf.extend_from_slice(&self.cells.value);
            }
            let next = distinct.len();
            let at = *index.entry(buf.clone()).or_insert(next);
            if at == next {
                distinct.push(buf.clone());
            }
            new_keys.push(Some(at));
        }
        if !changed {
            return Ok(a.clone());
        }
        let new_values = byte_values(values.data_type(), &distinct)?;
        dictionary_of(d.keys().data_type(), &new_keys, new_values)
    }

    /// Rewrites a dictionary's values, keeping each value's findings (with no row yet) and
    /// change count; the run's totals are left as they were, rows add them.
    fn dictionary_values(
        &mut self,
        values: &ArrayRef,
        leaf: &Leaf,
        col: usize,
    ) -> Result<DictDone, PipelineError> {
        let before = self.cells.stats;
        let mut per: Vec<(Vec<Located>, u64)> = vec![(Vec::new(), 0); values.len()];
        // Each value's findings are kept whole, to be counted once per row that uses it.
        let tally = std::mem::replace(&mut self.opts.tally, false);
        let new_values = {
            let mut f = |k: usize, v: &[u8], out: &mut Vec<u8>| {
                let (mark, changed_before) = (self.found.len(), self.cells.stats.changed);
                let changed = self.cell(v, leaf, 0, col)?;
                if changed {
                    out.extend_from_slice(&self.cells.value);
                }
                let locs = self.found.split_off(mark).into_iter().map(|(_, _, l)| l);
                if let Some(p) = per.get_mut(k) {
                    *p = (locs.collect(), self.cells.stats.changed - changed_before);
                }
                Ok(changed)
            };
            rewrite_bytes(values, &mut f)
        };
        self.opts.tally = tally;
        let new_values = new_values?;
        self.cells.stats = before;
        Ok(DictDone {
            values: values.clone(),
            new_values: new_values.filter(|v| !Arc::ptr_eq(v, values)),
            per,
        })
    }

    /// A number column classified as an identifier: each value's decimal text is a cell.
    fn numbers<T>(
        &mut self,
        a: &ArrayRef,
        leaf: &Leaf,
        rows: &Rows,
        col: usize,
        nullable: bool,
    ) -> Result<ArrayRef, PipelineError>
    where
        T: ArrowPrimitiveType,
        T::Native: Num,
    {
        let arr = a.as_primitive::<T>();
        let mut vals: Option<Vec<T::Native>> = None;
        let mut cleared: Option<Vec<bool>> = None;
        let mut text = std::mem::take(&mut self.text);
        for i in 0..arr.len() {
            if arr.is_null(i) {
                continue;
            }
            let v = arr.value(i);
            text.clear();
            v.text(&mut text);
            if !self.cell(&text, leaf, rows.at(i), col)? {
                continue;
            }
            let out = &self.cells.value;
            let new = parse_number::<T::Native>(out)
                .filter(|n| *n != v)
                .or_else(|| {
                    if out.trim_ascii().is_empty() && nullable {
                        None
                    } else {
                        T::Native::derive(v, digest64(out))
                    }
                });
            match new {
                Some(n) => vals.get_or_insert_with(|| arr.values().to_vec())[i] = n,
                None if nullable => cleared.get_or_insert_with(|| vec![false; arr.len()])[i] = true,
                None => vals.get_or_insert_with(|| arr.values().to_vec())[i] = T::Native::default(),
            }
        }
        self.text = text;
        primitive(a, arr, vals, cleared)
    }

    /// A decimal column classified as an identifier: each value's decimal text is a cell; a
    /// numeric result is rounded to the column's scale, anything else becomes the keyed
    /// stand-in of [`derive_float`] at that scale, within the column's precision.
    fn decimals<T>(
        &mut self,
        a: &ArrayRef,
        leaf: &Leaf,
        rows: &Rows,
        col: usize,
        nullable: bool,
    ) -> Result<ArrayRef, PipelineError>
    where
        T: DecimalType,
        T::Native: Dec,
    {
        let (precision, scale) = match a.data_type() {
            DataType::Decimal32(p, s)
            | DataType::Decimal64(p, s)
            | DataType::Decimal128(p, s)
            | DataType::Decimal256(p, s) => (*p, *s),
            _ => return Ok(a.clone()),
        };
        let arr = a.as_primitive::<T>();
        let mut vals: Option<Vec<T::Native>> = None;
        let mut cleared: Option<Vec<bool>> = None;
        let mut text = std::mem::take(&mut self.text);
        let pow = 10f64.powi(i32::from(scale));
        for i in 0..arr.len() {
            if arr.is_null(i) {
                continue;
            }
            let v = arr.value(i);
            text.clear();
            text.extend_from_slice(T::format_decimal(v, precision, scale).as_bytes());
            if !self.cell(&text, leaf, rows.at(i), col)? {
                continue;
            }
            let out = &self.cells.value;
            let orig = v.to_i128().map_or(0.0, |u| u as f64 / pow);
            let number = parse_number::<f64>(out)
                .filter(|n| n.is_finite() && *n != orig)
                .or_else(|| {
                    (!(out.trim_ascii().is_empty() && nullable))
                        .then(|| derive_float(orig, digest64(out)))
                });
            let new = number
                .map(|n| (n * pow).round())
                .filter(|u| u.abs() < 1e38)
                .map(|u| T::Native::from_i128(u as i128))
                .filter(|n| T::is_valid_decimal_precision(*n, precision) && *n != v);
            match new {
                Some(n) => vals.get_or_insert_with(|| arr.values().to_vec())[i] = n,
                None if nullable => cleared.get_or_insert_with(|| vec![false; arr.len()])[i] = true,
                None => vals.get_or_insert_with(|| arr.values().to_vec())[i] = T::Native::default(),
            }
        }
        self.text = text;
        primitive(a, arr, vals, cleared)
    }

    /// A boolean column classified as an identifier (a policy rule, or a name the classifier
    /// took for one): a result that reads as a boolean is used, anything else becomes a keyed
    /// bit of the result, so the column keeps its type and says nothing of the original.
    fn booleans(
        &mut self,
        a: &ArrayRef,
        leaf: &Leaf,
        rows: &Rows,
        col: usize,
    ) -> Result<ArrayRef, PipelineError> {
        let arr = a.as_boolean();
        let mut vals: Option<Vec<bool>> = None;
        for i in 0..arr.len() {
            if arr.is_null(i) {
                continue;
            }
            let v = arr.value(i);
            let text: &[u8] = if v { b"true" } else { b"false" };
            if !self.cell(text, leaf, rows.at(i), col)? {
                continue;
            }
            let out = self.cells.value.trim_ascii();
            let new = if out.eq_ignore_ascii_case(b"true") {
                true
            } else if out.eq_ignore_ascii_case(b"false") {
                false
            } else {
                digest64(out) & 1 == 1
            };
            if new != v {
                vals.get_or_insert_with(|| arr.values().iter().collect())[i] = new;
            }
        }
        Ok(match vals {
            None => a.clone(),
            Some(v) => Arc::new(BooleanArray::new(v.into(), arr.nulls().cloned())),
        })
    }

    /// A date or timestamp column: each value's ISO day is a cell; see the module doc.
    #[allow(clippy::too_many_arguments)]
    fn dates<T>(
        &mut self,
        a: &ArrayRef,
        leaf: &Leaf,
        rows: &Rows,
        col: usize,
        nullable: bool,
        per_day: i64,
    ) -> Result<ArrayRef, PipelineError>
    where
        T: ArrowPrimitiveType,
        T::Native: Into<i64> + TryFrom<i64>,
    {
        let arr = a.as_primitive::<T>();
        let mut vals: Option<Vec<T::Native>> = None;
        let mut cleared: Option<Vec<bool>> = None;
        let mut text = std::mem::take(&mut self.text);
        for i in 0..arr.len() {
            if arr.is_null(i) {
                continue;
            }
            let v: i64 = arr.value(i).into();
            let day = v.div_euclid(per_day);
            text.clear();
            iso_day(day, &mut text);
            if !self.cell(&text, leaf, rows.at(i), col)? {
                continue;
            }
            let new = match reparse(&self.cells.value) {
                // The same shift in the column's unit keeps the time of day.
                Some(Day::Full(d)) => d
                    .checked_sub(day)
                    .and_then(|delta| delta.checked_mul(per_day))
                    .and_then(|x| v.checked_add(x)),
                Some(Day::Year(y)) => dates::days_from_civil(y, 1, 1).checked_mul(per_day),
                None => None,
            };
            match new.and_then(|n| T::Native::try_from(n).ok()) {
                Some(n) => vals.get_or_insert_with(|| arr.values().to_vec())[i] = n,
                None if nullable => cleared.get_or_insert_with(|| vec![false; arr.len()])[i] = true,
                None => {
                    let (y, _, _) = dates::civil_from_days(day);
                    let jan1 = dates::days_from_civil(y, 1, 1)
                        .checked_mul(per_day)
                        .and_then(|n| T::Native::try_from(n).ok())
                        .unwrap_or_default();
                    vals.get_or_insert_with(|| arr.values().to_vec())[i] = jan1;
                }
            }
        }
        self.text = text;
        primitive(a, arr, vals, cleared)
    }
}

/// `arr` with new values and/or newly nulled slots; `a` itself when neither.
fn primitive<T: ArrowPrimitiveType>(
    a: &ArrayRef,
    arr: &PrimitiveArray<T>,
    vals: Option<Vec<T::Native>>,
    cleared: Option<Vec<bool>>,
) -> Result<ArrayRef, PipelineError> {
    if vals.is_none() && cleared.is_none() {
        return Ok(a.clone());
    }
    let values = vals.map_or_else(|| arr.values().clone(), ScalarBuffer::from);
    let nulls = match cleared {
        None => arr.nulls().cloned(),
        Some(c) => Some(NullBuffer::from(
            c.iter()
                .enumerate()
                .map(|(i, gone)| arr.is_valid(i) && !gone)
                .collect::<Vec<bool>>(),
        )),
    };
    let out = PrimitiveArray::<T>::try_new(values, nulls)
        .map_err(|e| rebuild_error(&e))?
        .with_data_type(arr.data_type().clone());
    Ok(Arc::new(out))
}

/// A value-by-value rewrite: `f(index, value, out)` appends the new value to `out` and says
/// whether it changed.
type Rewriter<'a> = dyn FnMut(usize, &[u8], &mut Vec<u8>) -> Result<bool, PipelineError> + 'a;

/// Rewrites a string or binary array through `f`, nulls skipped; the same array when nothing
/// changed, `None` for any other type.
fn rewrite_bytes(a: &ArrayRef, f: &mut Rewriter<'_>) -> Result<Option<ArrayRef>, PipelineError> {
    use DataType as D;
    Ok(Some(match a.data_type() {
        D::Utf8 => byte_array::<Utf8Type>(a, f)?,
        D::LargeUtf8 => byte_array::<LargeUtf8Type>(a, f)?,
        D::Binary => byte_array::<BinaryType>(a, f)?,
        D::LargeBinary => byte_array::<LargeBinaryType>(a, f)?,
        D::Utf8View => {
            let arr = a.as_string_view();
            let mut changes = changes(
                arr.len(),
                |i| arr.is_null(i),
                |i| arr.value(i).as_bytes(),
                true,
                f,
            )?;
            if changes.spans.is_empty() {
                return Ok(Some(a.clone()));
            }
            let mut b = StringViewBuilder::with_capacity(arr.len());
            for i in 0..arr.len() {
                match changes.get(i) {
                    _ if arr.is_null(i) => b.append_null(),
                    Some(new) => {
                        b.append_value(std::str::from_utf8(new).map_err(|_| utf8_error())?)
                    }
                    None => b.append_value(arr.value(i)),
                }
            }
            Arc::new(b.finish())
        }
        D::BinaryView => {
            let arr = a.as_binary_view();
            let mut changes = changes(arr.len(), |i| arr.is_null(i), |i| arr.value(i), false, f)?;
            if changes.spans.is_empty() {
                return Ok(Some(a.clone()));
            }
            let mut b = BinaryViewBuilder::with_capacity(arr.len());
            for i in 0..arr.len() {
                match changes.get(i) {
                    _ if arr.is_null(i) => b.append_null(),
                    Some(new) => b.append_value(new),
                    None => b.append_value(arr.value(i)),
                }
            }
            Arc::new(b.finish())
        }
        _ => return Ok(None),
    }))
}

/// The changed values of an array: their bytes one after another, and which slot each is.
struct Changes {
    bytes: Vec<u8>,
    /// Slot index and range in `bytes`, ascending by slot.
    spans: Vec<(usize, std::ops::Range<usize>)>,
    next: usize,
}

impl Changes {
    /// The new value of slot `i`, if it changed; slots must be asked in ascending order.
    fn get(&mut self, i: usize) -> Option<&[u8]> {
        let (slot, range) = self.spans.get(self.next)?;
        if *slot != i {
            return None;
        }
        self.next += 1;
        self.bytes.get(range.clone())
    }
}

/// Runs `f` over the non-null values; string results that are not UTF-8 are made so (a
/// transform of valid text should never produce that, but a string column must stay valid).
fn changes<'v>(
    len: usize,
    is_null: impl Fn(usize) -> bool,
    value: impl Fn(usize) -> &'v [u8],
    utf8: bool,
    f: &mut Rewriter<'_>,
) -> Result<Changes, PipelineError> {
    let mut c = Changes {
        bytes: Vec::new(),
        spans: Vec::new(),
        next: 0,
    };
    for i in 0..len {
        if is_null(i) {
            continue;
        }
        let start = c.bytes.len();
        if !f(i, value(i), &mut c.bytes)? {
            c.bytes.truncate(start);
            continue;
        }
        if utf8 && std::str::from_utf8(&c.bytes[start..]).is_err() {
            let fixed = String::from_utf8_lossy(&c.bytes[start..]).into_owned();
            c.bytes.truncate(start);
            c.bytes.extend_from_slice(fixed.as_bytes());
        }
        c.spans.push((i, start..c.bytes.len()));
    }
    Ok(c)
}

fn byte_array<T: ByteArrayType>(
    a: &ArrayRef,
    f: &mut Rewriter<'_>,
) -> Result<ArrayRef, PipelineError> {
    let arr = a.as_bytes::<T>();
    let utf8 = matches!(T::DATA_TYPE, DataType::Utf8 | DataType::LargeUtf8);
    let (offsets, data) = (arr.value_offsets(), arr.value_data());
    let slot = |i: usize| value_slot(offsets, data, i);
    let mut changes = changes(arr.len(), |i| arr.is_null(i), slot, utf8, f)?;
    if changes.spans.is_empty() {
        return Ok(a.clone());
    }
    let mut values: Vec<u8> = Vec::with_capacity(data.len() + changes.bytes.len());
    let mut new_offsets: Vec<T::Offset> = Vec::with_capacity(arr.len() + 1);
    let too_large =
        || PipelineError::Format("a rewritten string column exceeds its offset type's size".into());
    new_offsets.push(T::Offset::from_usize(0).ok_or_else(too_large)?);
    for i in 0..arr.len() {
        match changes.get(i) {
            Some(new) => values.extend_from_slice(new),
            None => values.extend_from_slice(slot(i)),
        }
        new_offsets.push(T::Offset::from_usize(values.len()).ok_or_else(too_large)?);
    }
    let out = GenericByteArray::<T>::try_new(
        OffsetBuffer::new(ScalarBuffer::from(new_offsets)),
        Buffer::from_vec(values),
        arr.nulls().cloned(),
    )
    .map_err(|e| rebuild_error(&e))?;
    Ok(Arc::new(out))
}

/// A string or binary array of type `dt` holding `values` (strings made valid UTF-8).
fn byte_values(dt: &DataType, values: &[Vec<u8>]) -> Result<ArrayRef, PipelineError> {
    use arrow_array::{
        BinaryArray, BinaryViewArray, LargeBinaryArray, LargeStringArray, StringViewArray,
    };
    let strs = || -> Vec<String> {
        values
            .iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    };
    let bins = || values.iter().map(Vec::as_slice).collect::<Vec<&[u8]>>();
    Ok(match dt {
        DataType::Utf8 => Arc::new(arrow_array::StringArray::from(strs())),
        DataType::LargeUtf8 => Arc::new(LargeStringArray::from(strs())),
        DataType::Utf8View => Arc::new(StringViewArray::from(strs())),
        DataType::Binary => Arc::new(BinaryArray::from(bins())),
        DataType::LargeBinary => Arc::new(LargeBinaryArray::from(bins())),
        DataType::BinaryView => Arc::new(BinaryViewArray::from(bins())),
        other => {
            return Err(PipelineError::Format(format!(
                "cannot rebuild a dictionary of {other}"
            )))
        }
    })
}

/// A dictionary with keys of type `key` (any integer type) into `values`.
fn dictionary_of(
    key: &DataType,
    keys: &[Option<usize>],
    values: ArrayRef,
) -> Result<ArrayRef, PipelineError> {
    use arrow_array::DictionaryArray;
    fn build<K: arrow_array::types::ArrowDictionaryKeyType>(
        keys: &[Option<usize>],
        values: ArrayRef,
    ) -> Result<ArrayRef, PipelineError> {
        let too_many = || {
            PipelineError::Format(
                "a rewritten dictionary has more distinct values than its key type holds".into(),
            )
        };
        let k: PrimitiveArray<K> = keys
            .iter()
            .map(|k| {
                k.map(|k| K::Native::from_usize(k).ok_or_else(too_many))
                    .transpose()
            })
            .collect::<Result<_, _>>()?;
        let d = DictionaryArray::<K>::try_new(k, values).map_err(|e| rebuild_error(&e))?;
        Ok(Arc::new(d))
    }
    match key {
        DataType::Int8 => build::<Int8Type>(keys, values),
        DataType::Int16 => build::<Int16Type>(keys, values),
        DataType::Int32 => build::<Int32Type>(keys, values),
        DataType::Int64 => build::<Int64Type>(keys, values),
        DataType::UInt8 => build::<UInt8Type>(keys, values),
        DataType::UInt16 => build::<UInt16Type>(keys, values),
        DataType::UInt32 => build::<UInt32Type>(keys, values),
        DataType::UInt64 => build::<UInt64Type>(keys, values),
        other => Err(PipelineError::Format(format!(
            "cannot rebuild a dictionary with {other} keys"
        ))),
    }
}

/// Value `i` of a string or binary array's data (empty where the offsets are out of range).
fn value_slot<'d, O: ArrowNativeType>(offsets: &[O], data: &'d [u8], i: usize) -> &'d [u8] {
    match (offsets.get(i), offsets.get(i + 1)) {
        (Some(s), Some(e)) => data.get(s.as_usize()..e.as_usize()).unwrap_or_default(),
        _ => &[],
    }
}

/// Numbers a classified number column can hold.
trait Num: ArrowNativeType + NumText + std::str::FromStr + PartialEq {
    /// A value of the type derived from a 64-bit hash, for a result that is not a number;
    /// `None` where nothing sensible exists (floats).
    fn derive(orig: Self, hash: u64) -> Option<Self>;
}

macro_rules! ints {
    ($($t:ty),*) => {$(
        impl Num for $t {
            fn derive(orig: Self, hash: u64) -> Option<Self> {
                let v = derive_int(i128::from(orig), i128::from(<$t>::MIN), i128::from(<$t>::MAX), hash);
                Self::try_from(v).ok()
            }
        }
    )*};
}
ints!(i8, i16, i32, i64, u8, u16, u32, u64);

impl Num for f32 {
    fn derive(orig: Self, hash: u64) -> Option<Self> {
        Some(derive_float(f64::from(orig), hash) as f32)
    }
}

impl Num for f64 {
    fn derive(orig: Self, hash: u64) -> Option<Self> {
        Some(derive_float(orig, hash))
    }
}

impl Num for half::f16 {
    fn derive(orig: Self, hash: u64) -> Option<Self> {
        Some(half::f16::from_f64(derive_float(orig.to_f64(), hash)))
    }
}

/// Decimal storage types, through `i128`.
trait Dec: ArrowNativeType {
    fn to_i128(self) -> Option<i128>;
    fn from_i128(v: i128) -> Self;
}

macro_rules! decs {
    ($($t:ty),*) => {$(
        impl Dec for $t {
            fn to_i128(self) -> Option<i128> {
                Some(i128::from(self))
            }
            fn from_i128(v: i128) -> Self {
                <$t>::try_from(v).unwrap_or_default()
            }
        }
    )*};
}
decs!(i32, i64, i128);

impl Dec for arrow_buffer::i256 {
    fn to_i128(self) -> Option<i128> {
        arrow_buffer::i256::to_i128(self)
    }
    fn from_i128(v: i128) -> Self {
        arrow_buffer::i256::from_i128(v)
    }
}

/// A keyed stand-in for a fractional identifier (a latitude or longitude, a measurement
/// that names someone) whose replacement is not a number: `hash` (of the replacement, so
/// keyed and deterministic) picks a value of the same sign uniformly below `B`, the
/// original's magnitude rounded up to the next multiple of ten (at least 10). So `42.3601`
/// becomes something in `[0, 50)` and `-71.0589` in `(-80, 0]`: a latitude stays a valid
/// latitude (|x| ≤ 90) and a longitude a valid longitude, no digit of the original is kept,
/// and what is left (a band of ten degrees, wider than most states) is coarser than the
/// state-level geography Safe Harbor allows. Never the original itself.
fn derive_float(orig: f64, hash: u64) -> f64 {
    if !orig.is_finite() {
        return 0.0;
    }
    let bound = ((orig.abs().trunc() + 1.0) / 10.0).ceil().max(1.0) * 10.0;
    let unit = (hash >> 11) as f64 / (1u64 << 53) as f64;
    let v = (unit * bound).copysign(orig);
    match v {
        _ if v != orig => v,
        _ if orig == 0.0 => 1.0,
        _ => orig / 2.0,
    }
}

/// An integer standing in for an identifier whose replacement is not a number (a token
/// `MRN_…`, a placeholder): `hash` — of the replacement, so it is as keyed and deterministic
/// as the replacement itself, and the same id maps to the same integer in every file — picks
/// a value with as many digits (and the same sign) as the original, so width checks and joins
/// keep working, within the type's range and never the original itself.
fn derive_int(orig: i128, min: i128, max: i128, hash: u64) -> i128 {
    let digits = orig.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1);
    let lo = if digits == 1 {
        0
    } else {
        10i128.pow(digits - 1)
    };
    let hi = 10i128.pow(digits) - 1;
    let (lo, hi) = if orig < 0 { (-hi, -lo) } else { (lo, hi) };
    let (lo, hi) = (lo.max(min), hi.min(max));
    if lo >= hi {
        return lo;
    }
    let span = (hi - lo + 1) as u128;
    let v = lo + (u128::from(hash) % span) as i128;
    if v != orig {
        v
    } else if v == hi {
        lo
    } else {
        v + 1
    }
}

/// A 64-bit hash of a replacement, for the number that stands in for it. The replacement is
/// already keyed output (a token or shape the key made), so this needs no key and no
/// cryptographic strength, only spread and stability across builds and platforms (unlike the
/// standard library's hasher): XXH3, a twentieth of the SHA-256 it replaced.
fn digest64(bytes: &[u8]) -> u64 {
    twox_hash::XxHash3_64::oneshot(bytes)
}

/// A replacement read as a number of the column's type: `90+` (ages) reads as 90.
fn parse_number<N: std::str::FromStr>(out: &[u8]) -> Option<N> {
    let s = std::str::from_utf8(out).ok()?.trim();
    s.strip_suffix('+').unwrap_or(s).parse().ok()
}

/// Library messages about the file's structure give sizes and offsets, not values; they are
/// cut short all the same, and never contain more than one line.
fn clip(msg: &str) -> String {
    let line = msg.lines().next().unwrap_or_default();
    match line.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

fn parquet_error(e: ParquetError, what: &str) -> PipelineError {
    match e {
        ParquetError::External(inner) => match inner.downcast::<io::Error>() {
            Ok(source) => PipelineError::Read {
                offset: 0,
                source: *source,
            },
            Err(other) => PipelineError::Format(format!("{what}: {}", clip(&other.to_string()))),
        },
        other => PipelineError::Format(format!("{what}: {}", clip(&other.to_string()))),
    }
}

fn decode_error(rg: usize, e: ArrowError) -> PipelineError {
    match e {
        ArrowError::IoError(_, source) => PipelineError::Read { offset: 0, source },
        e => PipelineError::Format(format!(
            "corrupt Parquet data in row group {rg}: {}",
            clip(&e.to_string())
        )),
    }
}

fn write_error(e: ParquetError) -> PipelineError {
    match e {
        ParquetError::External(inner) => match inner.downcast::<io::Error>() {
            Ok(source) => PipelineError::Write(*source),
            Err(other) => PipelineError::Format(format!(
                "cannot write Parquet: {}",
                clip(&other.to_string())
            )),
        },
        other => PipelineError::Format(format!(
            "cannot write Parquet: {}",
            clip(&other.to_string())
        )),
    }
}

fn rebuild_error(e: &ArrowError) -> PipelineError {
    PipelineError::Format(format!(
        "cannot rebuild a Parquet column: {}",
        clip(&e.to_string())
    ))
}

fn utf8_error() -> PipelineError {
    PipelineError::Format("a rewritten string is not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::Field;

    /// Only string columns whose every chunk holds dictionary pages alone are read as
    /// dictionaries: not a column written plain, not one whose writer fell back to plain
    /// pages in one row group, not a number column; and the reader then hands them over as
    /// dictionaries, which [`Input::restore`] turns back into the file's own type.
    #[test]
    fn dictionary_columns_are_the_all_dictionary_strings() {
        use arrow_array::{Int64Array, StringArray};
        use parquet::file::properties::WriterProperties;
        use parquet::schema::types::ColumnPath;
        let schema = Arc::new(Schema::new(vec![
            Field::new("city", DataType::Utf8, false),
            Field::new("id", DataType::Utf8, false),
            Field::new("plain", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
        ]));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let props = WriterProperties::builder()
            .set_column_dictionary_enabled(ColumnPath::from("plain"), false)
            .set_dictionary_page_size_limit(2048)
            .build();
        let mut w = ArrowWriter::try_new(File::create(&path).unwrap(), schema.clone(), Some(props))
            .unwrap();
        for (group, rows) in [(0usize, 100usize), (1, 5000)] {
            let cities: Vec<&str> = (0..rows).map(|i| ["Lowell", "Salem"][i % 2]).collect();
            // Few distinct ids in the first row group, too many for a 2 KiB dictionary in
            // the second.
            let ids: Vec<String> = (0..rows)
                .map(|i| format!("ID{}", i % (1 + group * rows)))
                .collect();
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(cities.clone())),
                    Arc::new(StringArray::from(ids)),
                    Arc::new(StringArray::from(cities)),
                    Arc::new(Int64Array::from(vec![1i64; rows])),
                ],
            )
            .unwrap();
            w.write(&batch).unwrap();
            w.flush().unwrap();
        }
        w.close().unwrap();
        assert_eq!(Input::open(&path, false).unwrap().as_dict, [false; 4]);
        let input = Input::open(&path, true).unwrap();
        assert_eq!(input.as_dict, [true, false, false, false]);
        let batch = input.reader(1).unwrap().next().unwrap().unwrap();
        assert!(matches!(
            batch.column(0).data_type(),
            DataType::Dictionary(_, _)
        ));
        assert_eq!(batch.column(1).data_type(), &DataType::Utf8);
        let restored = input.restore(batch.columns().to_vec(), 0..).unwrap();
        assert_eq!(restored[0].data_type(), &DataType::Utf8);
        assert_eq!(restored[0].as_string::<i32>().value(1), "Salem");
        assert_eq!(input.meta.schema().field(0).data_type(), &DataType::Utf8);
    }

    #[test]
    fn derived_ints_keep_width_and_sign_and_never_the_original() {
        for (orig, min, max) in [
            (12_345_678i128, i128::from(i64::MIN), i128::from(i64::MAX)),
            (-4_321, i128::from(i32::MIN), i128::from(i32::MAX)),
            (7, 0, 255),
            (0, 0, 255),
            (2_147_483_600, i128::from(i32::MIN), i128::from(i32::MAX)),
            (-128, -128, 127),
        ] {
            for hash in [0u64, 1, 42, u64::MAX, 0x1234_5678_9abc_def0] {
                let v = derive_int(orig, min, max, hash);
                assert_ne!(v, orig, "{orig} {hash}");
                assert!(v >= min && v <= max);
                assert_eq!(v < 0, orig < 0);
                assert_eq!(
                    v.unsigned_abs().to_string().len(),
                    orig.unsigned_abs().to_string().len(),
                    "{orig} -> {v}"
                );
            }
        }
        assert_eq!(
            i32::derive(1_234, 99),
            i32::derive(1_234, 99),
            "deterministic"
        );
        // Floats: same sign, below the next multiple of ten, never the original, keyed.
        for (orig, bound) in [
            (42.360_1, 50.0),
            (-71.058_9, 80.0),
            (89.9, 90.0),
            (0.0, 10.0),
        ] {
            for h in [0u64, 3, u64::MAX, 0x1234_5678_9abc_def0] {
                let v = f64::derive(orig, h).unwrap();
                assert!(v != orig && v.abs() <= bound, "{orig} -> {v}");
                assert!(orig == 0.0 || v == 0.0 || v.signum() == orig.signum());
            }
        }
        assert_eq!(f64::derive(1.5, 3), f64::derive(1.5, 3));
        assert_ne!(f64::derive(1.5, 3), f64::derive(1.5, 1 << 40));
    }

    #[test]
    fn date_results_read_back() {
        let mut t = Vec::new();
        iso_day(dates::days_from_civil(1961, 3, 4), &mut t);
        assert_eq!(t, b"1961-03-04");
        assert_eq!(
            reparse(b"1960-08-21"),
            Some(Day::Full(dates::days_from_civil(1960, 8, 21)))
        );
        assert_eq!(reparse(b"1961"), Some(Day::Year(1961)));
        assert_eq!(reparse(b"[DATE]"), None);
        assert_eq!(reparse(b""), None);
        assert_eq!(parse_number::<i32>(b"90+"), Some(90));
        assert_eq!(parse_number::<i64>(b"MRN_x1"), None);
    }

    /// The ten-byte fast paths agree with the formatter and the general parser on every day
    /// from year 1 to 10100, across both edges of the years they handle themselves.
    #[test]
    fn iso_fast_paths_match_the_general_ones() {
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        for day in dates::days_from_civil(1, 1, 1)..dates::days_from_civil(10100, 1, 1) {
            fast.clear();
            slow.clear();
            iso_day(day, &mut fast);
            let (y, m, d) = dates::civil_from_days(day);
            write!(slow, "{y:04}-{m:02}-{d:02}").expect("vec");
            assert_eq!(fast, slow, "day {day}");
            let general =
                dates::parse(&slow).map(|p| dates::days_from_civil(p.year, p.month, p.day));
            assert_eq!(reparse(&fast), general.map(Day::Full), "day {day}");
        }
        // Not a day: both paths refuse it.
        for bad in [&b"2021-02-30"[..], b"2021-13-01", b"20210101x"] {
            assert_eq!(reparse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        // Another layout of a day still reaches the general parser.
        let other = dates::days_from_civil(2021, 1, 1);
        assert_eq!(reparse(b"2021-1-01"), Some(Day::Full(other)));
        assert_eq!(reparse(b"01/01/2021"), Some(Day::Full(other)));
    }

    #[test]
    fn leaf_paths_name_nested_members() {
        let item = Arc::new(Field::new(
            "element",
            DataType::Struct(vec![Field::new("phone", DataType::Utf8, true)].into()),
            true,
        ));
        let schema = Schema::new(vec![
            Field::new("Id", DataType::Utf8, false),
            Field::new(
                "address",
                DataType::Struct(
                    vec![
                        Field::new("city", DataType::LargeUtf8, true),
                        Field::new("flag", DataType::Boolean, true),
                    ]
                    .into(),
                ),
                true,
            ),
            Field::new("contacts", DataType::List(item), true),
            Field::new(
                "tags",
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                true,
            ),
            Field::new("mrn", DataType::Int64, false),
            Field::new("dob", DataType::Date32, true),
        ]);
        let paths: Vec<String> = leaf_paths(&schema).into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "Id",
                "address.city",
                "address.flag",
                "contacts[].phone",
                "tags[]",
                "mrn",
                "dob"
            ]
        );
    }

    #[test]
    fn errors_are_one_short_line() {
        let long = "x".repeat(500) + "\nsecond";
        let c = clip(&long);
        assert!(c.chars().count() <= 201 && !c.contains('\n'));
    }
}
