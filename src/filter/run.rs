//! The stdin-to-stdout driver of `phiscrub filter`: tokio reads and writes, a bounded pool of
//! plain threads scrubs, and the order of lines is restored before they are written.
//!
//! The reader takes whatever one read returns, cuts it at its last newline and sends those
//! lines as one batch to the pool, so batches grow with the input rate by themselves: a slow
//! pipe gives one line per batch, which goes out at once; a fast one gives a read buffer's worth
//! and the pool's threads work on successive batches side by side. Detection never runs on the
//! async threads.
//!
//! Order: each batch gets a one-shot reply channel, and the receiving ends go to the writer in
//! input order over a bounded queue, which also bounds the batches in flight (memory is a few
//! read buffers per thread). The writer flushes whenever the next batch is not ready yet, so
//! nothing finished waits in a buffer while input is slow.
//!
//! A line longer than `--max-line` is never held: its bytes are dropped as they arrive and the
//! line is answered by [`LineScrubber::oversized`] when its newline comes.

use std::io;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, oneshot};

use super::{Config, Diag, FilterFormat, LineScrubber, OnError, Outcome, Unparsed};
use crate::classify::ColumnRules;
use crate::pipeline::Engine;

/// Bytes asked for per read; also the largest batch (plus one unfinished line).
const READ_SIZE: usize = 256 << 10;
/// Batches in flight per worker thread.
const IN_FLIGHT_PER_THREAD: usize = 4;

/// Lines of a run, by what happened to them.
#[derive(Debug, Default)]
pub struct Totals {
    pub lines: AtomicU64,
    pub changed: AtomicU64,
    pub unparsed: AtomicU64,
    pub oversized: AtomicU64,
}

/// A snapshot of [`Totals`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub lines: u64,
    pub changed: u64,
    /// Lines not parsed (oversized ones included), handled per `--on-error`.
    pub unparsed: u64,
    pub oversized: u64,
}

impl Totals {
    pub fn summary(&self) -> Summary {
        Summary {
            lines: self.lines.load(Relaxed),
            changed: self.changed.load(Relaxed),
            unparsed: self.unparsed.load(Relaxed),
            oversized: self.oversized.load(Relaxed),
        }
    }
}

/// Filter failures; they name no content.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("cannot read standard input: {0}")]
    Read(#[source] io::Error),
    #[error("cannot write standard output: {0}")]
    Write(#[source] io::Error),
    #[error("cannot start the I/O runtime: {0}")]
    Runtime(#[source] io::Error),
    #[error("a worker thread stopped unexpectedly")]
    Worker,
}

/// One line of a batch: its bytes in the batch buffer, or a line that was too long to keep.
#[derive(Debug, Clone)]
enum Span {
    Line(Range<usize>),
    Oversized,
}

struct Job {
    /// 1-based number of the batch's first line in the input.
    first_line: u64,
    data: Vec<u8>,
    lines: Vec<Span>,
    reply: oneshot::Sender<Vec<u8>>,
}

/// Runs the filter from standard input to standard output with `threads` scrubbing threads,
/// until the input ends (or the output is closed, an error).
///
/// # Errors
/// Read and write errors; a worker that died.
pub fn run_stdio(
    engine: &Engine,
    columns: &ColumnRules,
    cfg: &Config,
    threads: usize,
    diag: &Diag,
    totals: &Totals,
) -> Result<(), FilterError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("phiscrub-io")
        .build()
        .map_err(FilterError::Runtime)?;
    let result = run_with(engine, columns, cfg, threads, diag, totals, &rt, || {
        (tokio::io::stdin(), tokio::io::stdout())
    });
    // A read of standard input may still be blocked in tokio's blocking pool (the output was
    // closed while the input stays open): do not wait for it.
    rt.shutdown_background();
    result
}

/// [`run_stdio`] over any async reader and writer, made by `io` inside the runtime.
///
/// # Errors
/// As [`run_stdio`].
#[allow(clippy::too_many_arguments)]
pub fn run_with<R, W>(
    engine: &Engine,
    columns: &ColumnRules,
    cfg: &Config,
    threads: usize,
    diag: &Diag,
    totals: &Totals,
    rt: &tokio::runtime::Runtime,
    io: impl FnOnce() -> (R, W),
) -> Result<(), FilterError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let threads = threads.max(1);
    let (job_tx, job_rx) = crossbeam_channel::unbounded::<Job>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let rx = job_rx.clone();
            scope.spawn(move || worker(engine, columns, cfg, rx, diag, totals));
        }
        drop(job_rx);
        rt.block_on(async move {
            let (input, output) = io();
            let (order_tx, order_rx) = mpsc::channel(threads * IN_FLIGHT_PER_THREAD);
            let reader = read_lines(input, job_tx, order_tx, cfg.max_line);
            let writer = write_lines(output, order_rx);
            tokio::pin!(reader, writer);
            tokio::select! {
                r = &mut reader => {
                    // The input ended (or failed): the writer finishes what was read.
                    let w = writer.await;
                    r.and(w)
                }
                // The writer stops first only when it fails (or the reader is gone).
                w = &mut writer => w,
            }
        })
    })
}

/// Reads lines, sends them in batches to the pool and their reply channels to the writer.
async fn read_lines<R: AsyncRead + Unpin>(
    mut input: R,
    jobs: crossbeam_channel::Sender<Job>,
    order: mpsc::Sender<oneshot::Receiver<Vec<u8>>>,
    max_line: usize,
) -> Result<(), FilterError> {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_SIZE);
    let mut next_line = 1u64;
    // Inside a line over the limit whose bytes were dropped.
    let mut skipping = false;
    // Bytes of buf already searched for a newline (all in the unfinished line).
    let mut searched = 0usize;
    loop {
        if buf.capacity() - buf.len() < READ_SIZE / 2 {
            buf.reserve(READ_SIZE);
        }
        let n = input.read_buf(&mut buf).await.map_err(FilterError::Read)?;
        let eof = n == 0;
        let mut lines = Vec::new();
        let mut start = 0usize;
        while let Some(nl) = memchr::memchr(b'\n', &buf[searched..]) {
            let end = searched + nl;
            lines.push(if std::mem::take(&mut skipping) || end - start > max_line {
                Span::Oversized
            } else {
                Span::Line(start..end)
            });
            start = end + 1;
            searched = start;
        }
        let partial = buf.len() - start;
        if eof && (partial > 0 || skipping) {
            // The last line has no newline; it is answered (with one) all the same.
            lines.push(if skipping || partial > max_line {
                Span::Oversized
            } else {
                Span::Line(start..buf.len())
            });
            start = buf.len();
        }
        // Too long already: drop what there is, and the rest of the line as it comes.
        let drop_partial = !eof && buf.len() - start > max_line;
        skipping |= drop_partial;
        if !lines.is_empty() {
            // The batch gets a buffer of its own size (a line at a time on a slow pipe), the
            // read buffer stays: allocations follow the input rate.
            let data = buf[..start].to_vec();
            buf.drain(..start);
            let (tx, rx) = oneshot::channel();
            let count = lines.len() as u64;
            let job = Job {
                first_line: next_line,
                data,
                lines,
                reply: tx,
            };
            next_line += count;
            if order.send(rx).await.is_err() || jobs.send(job).is_err() {
                // The writer failed; it reports why.
                return Ok(());
            }
        }
        if drop_partial {
            buf.clear();
        }
        searched = buf.len();
        if eof {
            return Ok(());
        }
    }
}

/// Writes finished batches in input order, flushing whenever the next one is not ready.
async fn write_lines<W: AsyncWrite + Unpin>(
    output: W,
    mut order: mpsc::Receiver<oneshot::Receiver<Vec<u8>>>,
) -> Result<(), FilterError> {
    let mut out = BufWriter::with_capacity(64 << 10, output);
    loop {
        let mut next = match order.try_recv() {
            Ok(rx) => rx,
            Err(mpsc::error::TryRecvError::Empty) => {
                out.flush().await.map_err(FilterError::Write)?;
                match order.recv().await {
                    Some(rx) => rx,
                    None => break,
                }
            }
            Err(mpsc::error::TryRecvError::Disconnected) => break,
        };
        let done = match next.try_recv() {
            Ok(d) => d,
            Err(oneshot::error::TryRecvError::Empty) => {
                out.flush().await.map_err(FilterError::Write)?;
                next.await.map_err(|_| FilterError::Worker)?
            }
            Err(oneshot::error::TryRecvError::Closed) => return Err(FilterError::Worker),
        };
        out.write_all(&done).await.map_err(FilterError::Write)?;
    }
    out.flush().await.map_err(FilterError::Write)?;
    Ok(())
}

/// What `--on-error` did to a line, for notices.
fn handled(cfg: &Config, why: Unparsed) -> &'static str {
    let fulljson = cfg.rsyslog_input == super::RsyslogInput::Fulljson;
    match (why, cfg.on_error, cfg.format) {
        (_, OnError::Drop, FilterFormat::Rsyslog) => "answered {} (--on-error drop)",
        (_, OnError::Drop, _) => "written as an empty line (--on-error drop)",
        (Unparsed::TooLong | Unparsed::Internal, _, _) | (_, OnError::Mask, _) => {
            "replaced by the marker"
        }
        (Unparsed::Utf8 { .. }, OnError::Pass, _) => "scrubbed as it is",
        (Unparsed::Json { what, .. }, OnError::Pass, FilterFormat::Rsyslog)
            if fulljson && what == "invalid UTF-8 in a string" =>
        {
            "read with U+FFFD for the bytes that are not UTF-8 and scrubbed"
        }
        (_, OnError::Pass, FilterFormat::Rsyslog) => {
            "scrubbed as text (is rsyslog's interface.input \"fulljson\"? if not, pass --rsyslog-input msg)"
        }
        (_, OnError::Pass, _) => "scrubbed as text (--on-error pass)",
    }
}

fn worker(
    engine: &Engine,
    columns: &ColumnRules,
    cfg: &Config,
    jobs: crossbeam_channel::Receiver<Job>,
    diag: &Diag,
    totals: &Totals,
) {
    let mut scrubber = LineScrubber::new(engine, columns, cfg);
    for job in jobs {
        let mut out = Vec::with_capacity(job.data.len() + job.lines.len() + 16);
        let (mut changed, mut unparsed, mut oversized) = (0u64, 0u64, 0u64);
        for (i, span) in job.lines.iter().enumerate() {
            let at = out.len();
            let result = catch_unwind(AssertUnwindSafe(|| match span {
                Span::Line(r) => scrubber.scrub_line(&job.data[r.clone()], &mut out),
                Span::Oversized => scrubber.oversized(&mut out),
            }));
            let outcome = match result {
                Ok(o) => o,
                Err(_) => {
                    // Never a lost line: the one that failed is masked, the scrubber renewed.
                    out.truncate(at);
                    scrubber = LineScrubber::new(engine, columns, cfg);
                    scrubber.mask(&mut out);
                    Outcome::Unparsed(Unparsed::Internal)
                }
            };
            out.push(b'\n');
            match outcome {
                Outcome::Unchanged => {}
                Outcome::Changed => changed += 1,
                Outcome::Unparsed(why) => {
                    unparsed += 1;
                    oversized += u64::from(why == Unparsed::TooLong);
                    diag.line(job.first_line + i as u64, &why, handled(cfg, why));
                }
            }
        }
        totals.lines.fetch_add(job.lines.len() as u64, Relaxed);
        totals.changed.fetch_add(changed, Relaxed);
        totals.unparsed.fetch_add(unparsed, Relaxed);
        totals.oversized.fetch_add(oversized, Relaxed);
        // The writer is gone only when it failed; it reports why.
        let _ = job.reply.send(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::EntityFilter;
    use crate::policy::Policy;
    use crate::transform::Transformer;

    fn filter(input: &[u8], cfg: &Config, threads: usize) -> (Vec<u8>, Summary) {
        let engine = Engine {
            detector: crate::detect::builtin().unwrap(),
            transformer: Transformer::new(Policy::defaults(false), None),
            filter: EntityFilter::default(),
            min_score: 0.5,
        };
        let columns = ColumnRules::builtin().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let (diag, totals) = (Diag::new(true), Totals::default());
        let mut out = Vec::new();
        let data = input.to_vec();
        run_with(&engine, &columns, cfg, threads, &diag, &totals, &rt, || {
            (std::io::Cursor::new(data), &mut out)
        })
        .unwrap();
        (out, totals.summary())
    }

    #[test]
    fn long_lines_are_cut_out_whatever_the_reads() {
        let cfg = Config {
            max_line: 10,
            ..Config::default()
        };
        let long = "x".repeat(READ_SIZE * 3);
        for (input, want) in [
            (
                format!("a\n{long}\nb\n"),
                "a\n[PHISCRUB: LINE REMOVED]\nb\n",
            ),
            (long.clone(), "[PHISCRUB: LINE REMOVED]\n"),
            (
                "0123456789\n01234567890\nz".to_string(),
                "0123456789\n[PHISCRUB: LINE REMOVED]\nz\n",
            ),
            (format!("a\n{long}"), "a\n[PHISCRUB: LINE REMOVED]\n"),
            (String::new(), ""),
            ("\n\n".to_string(), "\n\n"),
        ] {
            let (out, s) = filter(input.as_bytes(), &cfg, 2);
            assert_eq!(String::from_utf8(out).unwrap(), want);
            assert_eq!(s.lines, want.matches('\n').count() as u64);
            assert_eq!(s.oversized, want.matches("REMOVED").count() as u64);
        }
    }

    #[test]
    fn order_holds_on_many_threads() {
        let mut input = String::new();
        for i in 0..20_000 {
            input.push_str(&format!("line {i} mail user{i}@mercy-health.org\n"));
        }
        let (out, s) = filter(input.as_bytes(), &Config::default(), 7);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(s.lines, 20_000);
        assert_eq!(s.changed, 20_000);
        for (i, l) in text.lines().enumerate() {
            assert_eq!(l, format!("line {i} mail [EMAIL]"));
        }
    }
}
