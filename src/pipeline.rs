//! Runs detection and transforms over a stream on all cores: a reader cuts chunks, workers scan
//! and rewrite them, and the caller's thread puts results back in order, writes them and hands
//! findings to the report. Channels are bounded, so memory stays a few chunks per worker
//! whatever the input size.
//!
//! Chunks go out to whichever worker is free; results carry their sequence number and wait in
//! a small reorder buffer until their turn, so output is byte-identical to a one-thread run.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use crate::detect::{Context, Detector, Finding};
use crate::entity::Entity;
use crate::formats::text::{self, Chunk, ChunkLimits};
use crate::policy::Action;
use crate::transform::Transformer;

/// What a run does with the findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Report only.
    Scan,
    /// Write the de-identified stream.
    Scrub,
}

/// Which entities are in play.
#[derive(Debug, Clone, Default)]
pub struct EntityFilter {
    only: Vec<Entity>,
    except: Vec<Entity>,
}

impl EntityFilter {
    pub fn new(only: Vec<Entity>, except: Vec<Entity>) -> EntityFilter {
        EntityFilter { only, except }
    }

    pub fn allows(&self, e: Entity) -> bool {
        (self.only.is_empty() || self.only.contains(&e)) && !self.except.contains(&e)
    }
}

/// Everything a run needs that does not change per file.
#[derive(Debug, Clone)]
pub struct Engine {
    pub detector: Detector,
    pub transformer: Transformer,
    pub filter: EntityFilter,
    pub min_score: f32,
}

/// A finding with its place in the whole stream, ready for a report. Holds no value.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// Byte offsets from the start of the stream.
    pub start: u64,
    pub end: u64,
    /// 1-based line and character column.
    pub line: u64,
    pub column: u64,
    /// Character offsets from the start of the stream, when asked for.
    pub char_start: Option<u64>,
    pub char_end: Option<u64>,
    pub entity: Entity,
    pub rule: u32,
    pub score: f32,
    pub fingerprint: Option<String>,
    /// Structured input: the column or key path, and the 1-based data row.
    pub field: Option<std::sync::Arc<str>>,
    pub row: Option<u64>,
    /// How many findings this one stands for: 1, or a chunk's count of one entity when only
    /// counts are wanted ([`RunOptions::tally`]; positions, field and row are then empty).
    pub count: u64,
}

impl Located {
    /// A finding with no position (a run that only counts, or a structured cell whose
    /// position no report asks for): offsets, line and column zero, one finding, no field.
    pub fn unplaced(entity: Entity, rule: u32, score: f32) -> Located {
        Located {
            start: 0,
            end: 0,
            line: 0,
            column: 0,
            char_start: None,
            char_end: None,
            entity,
            rule,
            score,
            fingerprint: None,
            field: None,
            row: None,
            count: 1,
        }
    }
}

/// Totals of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub bytes: u64,
    pub findings: u64,
    pub changed: u64,
}

/// Pipeline failures. Messages give the byte offset, never data.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("read error at byte {offset}: {source}")]
    Read {
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("write error: {0}")]
    Write(#[source] io::Error),
    #[error("report error: {0}")]
    Report(#[source] io::Error),
    #[error("{0}")]
    Format(String),
    #[error("a worker thread stopped unexpectedly")]
    Worker,
}

impl From<(io::Error, u64)> for PipelineError {
    fn from((source, offset): (io::Error, u64)) -> Self {
        PipelineError::Read { offset, source }
    }
}

/// Options of one run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions<'a> {
    pub mode: Mode,
    pub threads: usize,
    pub limits: ChunkLimits,
    /// The input is standard input: cut and flush as soon as it goes quiet.
    pub interactive: bool,
    /// Compute character offsets (the Presidio report needs them).
    pub char_offsets: bool,
    /// Compute keyed fingerprints (an HMAC per finding) for reports that print them.
    pub fingerprints: bool,
    /// Structured formats: compute line, column and byte offsets of findings (a report that
    /// prints them); without, findings carry only entity, rule, field and row.
    pub positions: bool,
    /// Only counts of findings are wanted (a scrub without a report file): a structured
    /// format may hand on one [`Located`] per entity and chunk with its `count`, instead of
    /// building one per classified cell.
    pub tally: bool,
    /// Bytes written out so far are added here, for a progress display.
    pub progress: Option<&'a std::sync::atomic::AtomicU64>,
    /// Structured formats push how they classified each column here (for `--report json`).
    pub classes: Option<&'a std::sync::Mutex<Vec<crate::classify::ColumnClass>>>,
    /// Structured data: the table the input holds (a file stem), for policy column globs.
    pub table: Option<&'a str>,
    /// Structured data: the column whose value keys each row's date shift (`--subject-column`),
    /// so one patient's dates move together in every file.
    pub subject_column: Option<&'a str>,
}

impl Default for RunOptions<'_> {
    /// A one-thread scan of a file: no progress, no structured-data extras.
    fn default() -> Self {
        RunOptions {
            mode: Mode::Scan,
            threads: 1,
            limits: ChunkLimits::default(),
            interactive: false,
            char_offsets: false,
            fingerprints: false,
            positions: true,
            tally: false,
            progress: None,
            classes: None,
            table: None,
            subject_column: None,
        }
    }
}

/// What a worker returns for one chunk.
struct Processed {
    seq: u64,
    offset: u64,
    /// Input bytes of the chunk body.
    len: u64,
    /// The chunk's buffer, handed back to the reader for reuse.
    spent: Vec<u8>,
    out: Vec<u8>,
    found: Vec<Rel>,
    newlines: u64,
    ends_nl: bool,
    /// Characters after the last newline (or in the whole body when none).
    tail_chars: u64,
    chars: u64,
}

/// A finding relative to its chunk body.
struct Rel {
    f: Finding,
    line: u64,
    col: u64,
    char_start: u64,
    char_end: u64,
    fingerprint: Option<String>,
}

fn count_chars(b: &[u8]) -> u64 {
    b.iter().filter(|&&x| (x as i8) >= -0x40).count() as u64
}

/// Scans one chunk and, when scrubbing, rewrites it.
fn process(
    engine: &Engine,
    scanner: &mut crate::detect::Scanner,
    chunk: Chunk,
    opts: &RunOptions,
    found: &mut Vec<Finding>,
) -> Processed {
    found.clear();
    scanner.scan(&chunk.data, chunk.body_start, &Context::default(), found);
    let body = chunk.body();
    let base = chunk.body_start;
    let rules = scanner.rules();
    let mut out = Vec::new();
    if opts.mode == Mode::Scrub {
        out.reserve(body.len() + 64);
    }
    let mut rel = Vec::new();
    let (mut pos, mut line, mut line_start) = (0usize, 0u64, 0usize);
    let (mut char_pos, mut char_at) = (0usize, 0u64);
    // Column of the last finding, counted on from there while the line is the same, so a huge
    // line with many findings stays linear.
    let (mut col_pos, mut col) = (0usize, 0u64);
    for f in found.iter() {
        if f.score < engine.min_score || !engine.filter.allows(f.entity) {
            continue;
        }
        let (s, e) = (f.start - base, f.end - base);
        if crate::transform::token::within_own(body, s, e) {
            continue;
        }
        for nl in memchr::memchr_iter(b'\n', &body[pos..s]) {
            line += 1;
            line_start = pos + nl + 1;
        }
        if col_pos < line_start || col_pos > s {
            col_pos = line_start;
            col = 0;
        }
        col += count_chars(&body[col_pos..s]);
        col_pos = s;
        let (cs, ce) = if opts.char_offsets {
            char_at += count_chars(&body[char_pos..s]);
            let ce = char_at + count_chars(&body[s..e]);
            char_pos = s;
            (char_at, ce)
        } else {
            (0, 0)
        };
        let rule = &rules[f.rule as usize];
        let value = &body[s..e];
        if opts.mode == Mode::Scrub {
            out.extend_from_slice(&body[pos..s]);
            if engine.transformer.action(f.entity, &rule.id) == Action::Keep {
                out.extend_from_slice(value);
            } else {
                engine
                    .transformer
                    .apply(f.entity, &rule.id, value, &mut out);
            }
        }
        rel.push(Rel {
            f: Finding {
                start: s,
                end: e,
                ..*f
            },
            line,
            col,
            char_start: cs,
            char_end: ce,
            fingerprint: if opts.fingerprints {
                engine.transformer.fingerprint(f.entity, value)
            } else {
                None
            },
        });
        pos = s.max(pos);
        // `pos` advances past the value for copying; lines inside a value are counted too.
        for nl in memchr::memchr_iter(b'\n', &body[pos..e]) {
            line += 1;
            line_start = pos + nl + 1;
        }
        pos = e;
    }
    if opts.mode == Mode::Scrub {
        out.extend_from_slice(&body[pos..]);
    }
    let rest_nl = memchr::memchr_iter(b'\n', &body[pos..]).count() as u64;
    let newlines = line + rest_nl;
    let ends_nl = body.last() == Some(&b'\n');
    let tail_chars = if ends_nl {
        0
    } else {
        let last = memchr::memrchr(b'\n', body).map_or(0, |p| p + 1);
        count_chars(&body[last..])
    };
    let chars = if opts.char_offsets {
        count_chars(body)
    } else {
        0
    };
    Processed {
        seq: chunk.seq,
        offset: chunk.offset,
        len: body.len() as u64,
        out,
        found: rel,
        newlines,
        ends_nl,
        tail_chars,
        chars,
        spent: chunk.data,
    }
}

/// Runs one stream through the engine. `output` receives the rewritten stream (scrub), `found`
/// each finding in order.
///
/// # Errors
/// Read, write or report errors; the caller decides what happens to a half-written output.
pub fn run<R, W, F>(
    engine: &Engine,
    input: &mut R,
    mut output: Option<&mut W>,
    opts: RunOptions,
    mut found: F,
) -> Result<Stats, PipelineError>
where
    R: Read + Send + ?Sized,
    W: Write + ?Sized,
    F: FnMut(&Located) -> io::Result<()>,
{
    let threads = opts.threads.max(1);
    let (chunk_tx, chunk_rx) = crossbeam_channel::bounded::<Chunk>(threads * 2);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<Processed>(threads * 2);
    let (spare_tx, spare_rx) = crossbeam_channel::bounded::<Vec<u8>>(threads * 4 + 2);
    let mut stats = Stats::default();
    std::thread::scope(|scope| -> Result<(), PipelineError> {
        let reader = scope.spawn(move || {
            let idle = text::stdin_idle;
            let idle: Option<&dyn Fn() -> bool> = if opts.interactive { Some(&idle) } else { None };
            let spare = || spare_rx.try_recv().ok();
            text::read_chunks(input, idle, opts.limits, spare, |c| {
                // A closed channel means the consumer failed; it reports why.
                chunk_tx.send(c).map_err(|_| PipelineError::Worker)
            })
        });
        for _ in 0..threads {
            let rx = chunk_rx.clone();
            let tx = done_tx.clone();
            scope.spawn(move || {
                let mut scanner = engine.detector.scanner();
                let mut buf = Vec::new();
                for chunk in rx {
                    if tx
                        .send(process(engine, &mut scanner, chunk, &opts, &mut buf))
                        .is_err()
                    {
                        break;
                    }
                }
                engine.detector.recycle(scanner);
            });
        }
        drop(chunk_rx);
        drop(done_tx);

        let mut pending: BTreeMap<u64, Processed> = BTreeMap::new();
        let (mut next, mut line, mut carry_col, mut chars) = (0u64, 1u64, 0u64, 0u64);
        let mut result = Ok(());
        'recv: for p in done_rx.iter() {
            pending.insert(p.seq, p);
            while let Some(mut p) = pending.remove(&next) {
                next += 1;
                if let Some(w) = output.as_deref_mut() {
                    if let Err(e) = w.write_all(&p.out) {
                        result = Err(PipelineError::Write(e));
                        break 'recv;
                    }
                }
                for r in std::mem::take(&mut p.found) {
                    let loc = Located {
                        start: p.offset + (r.f.start as u64),
                        end: p.offset + (r.f.end as u64),
                        line: line + r.line,
                        column: if r.line == 0 { carry_col } else { 0 } + r.col + 1,
                        char_start: opts.char_offsets.then_some(chars + r.char_start),
                        char_end: opts.char_offsets.then_some(chars + r.char_end),
                        entity: r.f.entity,
                        rule: r.f.rule,
                        score: r.f.score,
                        fingerprint: r.fingerprint,
                        field: None,
                        row: None,
                        count: 1,
                    };
                    stats.findings += 1;
                    if opts.mode == Mode::Scrub
                        && engine
                            .transformer
                            .action(r.f.entity, &engine.detector.rules()[r.f.rule as usize].id)
                            != Action::Keep
                    {
                        stats.changed += 1;
                    }
                    if let Err(e) = found(&loc) {
                        result = Err(PipelineError::Report(e));
                        break 'recv;
                    }
                }
                line += p.newlines;
                // A full pool just drops the buffer.
                let _ = spare_tx.try_send(std::mem::take(&mut p.spent));
                if let Some(progress) = opts.progress {
                    progress.fetch_add(p.len, std::sync::atomic::Ordering::Relaxed);
                }
                carry_col = if p.ends_nl {
                    0
                } else if p.newlines == 0 {
                    carry_col + p.tail_chars
                } else {
                    p.tail_chars
                };
                chars += p.chars;
            }
            if opts.interactive && done_rx.is_empty() {
                if let Some(w) = output.as_deref_mut() {
                    if let Err(e) = w.flush() {
                        result = Err(PipelineError::Write(e));
                        break 'recv;
                    }
                }
            }
        }
        drop(done_rx);
        result?;
        match reader.join() {
            Ok(r) => {
                stats.bytes = r?;
            }
            Err(_) => return Err(PipelineError::Worker),
        }
        if let Some(w) = output {
            w.flush().map_err(PipelineError::Write)?;
        }
        Ok(())
    })?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::transform::key::Key;

    fn engine() -> Engine {
        Engine {
            detector: crate::detect::builtin().unwrap(),
            transformer: Transformer::new(Policy::defaults(true), Key::from_bytes(&[5; 32]).ok()),
            filter: EntityFilter::default(),
            min_score: 0.5,
        }
    }

    fn run_with(
        engine: &Engine,
        input: &[u8],
        limits: ChunkLimits,
        threads: usize,
        mode: Mode,
    ) -> (Vec<u8>, Vec<Located>) {
        let mut out = Vec::new();
        let mut found = Vec::new();
        let opts = RunOptions {
            mode,
            threads,
            limits,
            interactive: false,
            char_offsets: true,
            fingerprints: true,
            positions: true,
            tally: false,
            progress: None,
            classes: None,
            table: None,
            subject_column: None,
        };
        run(engine, &mut &input[..], Some(&mut out), opts, |l| {
            found.push(l.clone());
            Ok(())
        })
        .unwrap();
        (out, found)
    }

    #[test]
    fn progress_counts_every_input_byte() {
        let engine = engine();
        let input = b"SSN 536-22-8726\nnothing here\nlast line".repeat(500);
        let counter = std::sync::atomic::AtomicU64::new(0);
        let opts = RunOptions {
            mode: Mode::Scan,
            threads: 2,
            limits: ChunkLimits {
                target: 100,
                hard_max: 1 << 20,
            },
            interactive: false,
            char_offsets: false,
            fingerprints: false,
            positions: true,
            tally: false,
            progress: Some(&counter),
            classes: None,
            table: None,
            subject_column: None,
        };
        let stats = run::<_, Vec<u8>, _>(&engine, &mut &input[..], None, opts, |_| Ok(())).unwrap();
        assert_eq!(counter.into_inner(), input.len() as u64);
        assert_eq!(stats.bytes, input.len() as u64);
        assert_eq!(stats.findings, 500);
    }

    #[test]
    fn columns_on_one_long_line_with_many_findings() {
        let engine = engine();
        let mut input = Vec::new();
        let mut want = Vec::new();
        for i in 0..20_000u32 {
            input.extend_from_slice(b"x \xc3\xa9 SSN ");
            want.push(String::from_utf8_lossy(&input).chars().count() as u64 + 1);
            input.extend_from_slice(format!("536-22-{:04} ", 1000 + i % 9000).as_bytes());
        }
        let limits = ChunkLimits {
            target: 4096,
            hard_max: 64 << 10,
        };
        let (_, found) = run_with(&engine, &input, limits, 2, Mode::Scan);
        let cols: Vec<u64> = found.iter().map(|f| f.column).collect();
        assert_eq!(cols, want, "columns count characters across chunk cuts");
        assert!(found.iter().all(|f| f.line == 1));
    }

    /// Images embedded in a binary stream (a JPEG with a thumbnail inside it, a PNG, a GIF)
    /// are replaced whole, by same-length blanks, at every chunk size and thread count, even
    /// when a chunk cut would fall inside one; every other byte is kept.
    #[test]
    fn embedded_images_in_binary_streams_are_replaced_whole() {
        use crate::formats::image::{self, ImageKind};
        let engine = engine();
        // Filler no rule can match: bytes 0x80..0x88 and NUL, from a fixed seed.
        let mut x: u32 = 11;
        let mut filler = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    [0u8, 0x80, 0x81, 0x84, 0x86, 0x88][(x >> 16) as usize % 6]
                })
                .collect()
        };
        let jpeg = image::tests::synthetic_jpeg(30_000);
        let png = image::blank(ImageKind::Png).to_vec();
        let gif = image::blank(ImageKind::Gif).to_vec();
        let mut input = filler(5000);
        let mut spans = Vec::new();
        for (img, kind) in [
            (&jpeg, ImageKind::Jpeg),
            (&png, ImageKind::Png),
            (&gif, ImageKind::Gif),
        ] {
            spans.push((input.len(), img.len(), kind));
            input.extend_from_slice(img);
            input.extend(filler(3000));
        }
        let mut want = input.clone();
        for &(at, len, kind) in &spans {
            let mut blank = Vec::new();
            image::blank_in_place(kind, len, &mut blank);
            want[at..at + len].copy_from_slice(&blank);
        }
        for target in [1000, 4096, 1 << 20] {
            for threads in [1, 3] {
                let limits = ChunkLimits {
                    target,
                    hard_max: 4 * target,
                };
                let (out, found) = run_with(&engine, &input, limits, threads, Mode::Scrub);
                let got: Vec<(u64, u64)> = found.iter().map(|f| (f.start, f.end)).collect();
                let expect: Vec<(u64, u64)> = spans
                    .iter()
                    .map(|&(at, len, _)| (at as u64, (at + len) as u64))
                    .collect();
                assert_eq!(got, expect, "target {target}, {threads} threads");
                assert!(found.iter().all(|f| f.entity == Entity::Photo));
                assert!(
                    out == want,
                    "target {target}, {threads} threads: output differs"
                );
            }
        }
    }

    /// The scrub tester: every case whole and cut at many chunk sizes and thread counts gives
    /// the same output and the same findings at the same stream positions.
    #[test]
    fn results_do_not_depend_on_chunking_or_threads() {
        let engine = engine();
        let mut input = Vec::new();
        for i in 0..120 {
            input.extend_from_slice(
                format!(
                    "{i:04} é INFO Patient: Jane Doe ssn=536-22-{:04} mail jane{i}@mercy-health.org at 73.162.14.{}\r\n",
                    1000 + i,
                    i % 200 + 1
                )
                .as_bytes(),
            );
            if i % 17 == 0 {
                input.extend_from_slice(b"SSN\n536228726 on the next line\n");
            }
        }
        let (want_out, want_found) =
            run_with(&engine, &input, ChunkLimits::default(), 1, Mode::Scrub);
        assert!(want_found.len() > 400, "{}", want_found.len());
        for f in &want_found {
            let line_start = input[..f.start as usize]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            assert_eq!(
                f.line,
                1 + input[..f.start as usize]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count() as u64
            );
            assert_eq!(
                f.column,
                1 + String::from_utf8_lossy(&input[line_start..f.start as usize])
                    .chars()
                    .count() as u64
            );
            assert_eq!(
                f.char_start.unwrap(),
                String::from_utf8_lossy(&input[..f.start as usize])
                    .chars()
                    .count() as u64
            );
        }
        for target in [1usize, 13, 100, 4096] {
            for threads in [1, 3] {
                let limits = ChunkLimits {
                    target,
                    hard_max: 1 << 20,
                };
                let (out, found) = run_with(&engine, &input, limits, threads, Mode::Scrub);
                assert_eq!(found, want_found, "target {target} threads {threads}");
                assert_eq!(out, want_out, "target {target} threads {threads}");
            }
        }
        let (scan_out, scan_found) =
            run_with(&engine, &input, ChunkLimits::default(), 2, Mode::Scan);
        assert!(scan_out.is_empty());
        assert_eq!(scan_found, want_found);
    }
}
