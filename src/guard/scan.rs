//! One blob through the engine, by content and name: a whole image is one PHOTO finding,
//! gzip/zstd is looked through, CSV/TSV, JSON lines, JSON, Parquet and SQL dumps go through
//! their format (so a column's name and class count for every cell in it), everything else is
//! a text stream.
//!
//! A large text blob of which only a few lines are new is scanned only around those lines
//! (with a few lines of context either side, enough for every rule's context window), so a
//! one-line change to a big log costs what the line costs. A structured file is always scanned
//! whole: its header and a sample of rows decide what each column is.

use std::io::{self, Read};
use std::path::Path;

use crate::classify::ColumnRules;
use crate::entity::Entity;
use crate::formats::{compress, csv_codec, image, Format};
use crate::pipeline::{self, Engine, Located, Mode, PipelineError, RunOptions};

use super::git::Lines;

/// Rule id of a whole image file (in `patterns/media.toml`).
const IMAGE_RULE: &str = "photo.image_file";

/// A blob above this size with only some new lines is scanned in windows around them.
const WINDOWED_ABOVE: usize = 256 << 10;

/// Lines of context kept before and after new lines, and the bytes they must at least span.
const CONTEXT_LINES: u64 = 3;
const CONTEXT_BYTES: usize = 512;

/// A compressed blob is decoded up to this size (a guard against decompression bombs).
const MAX_DECODED: u64 = 1 << 30;

/// How a blob was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Text,
    Structured(Format),
    Image,
    /// A structured file that did not parse, scanned as text instead.
    TextFallback(Format),
}

/// The findings of one blob, with byte offsets into `data` (decoded when it was compressed).
pub struct Scanned {
    pub found: Vec<Located>,
    /// The bytes the offsets refer to, when they are not the blob itself (decompressed).
    pub decoded: Option<Vec<u8>>,
    pub read: Reading,
    /// Why a structured file was scanned as text (position only, never data).
    pub note: Option<String>,
}

/// The format a repository path says it is in, with `auto` rules.
pub fn format_of(name: &str, data: &[u8]) -> Format {
    let f = Format::Auto.resolve(Some(Path::new(name)));
    if crate::formats::pgcustom::is_archive(data) {
        Format::Pgcustom
    } else if f == Format::Auto {
        Format::sniff_sql(&data[..data.len().min(16 << 10)])
    } else {
        f
    }
}

/// Whether a path's name says it holds structured data (and so needs the column rules).
pub fn is_structured_name(name: &str) -> bool {
    let f = Format::Auto.resolve(Some(Path::new(name)));
    !matches!(f, Format::Text)
}

fn ropts<'a>(fingerprints: bool, table: Option<&'a str>) -> RunOptions<'a> {
    RunOptions {
        mode: Mode::Scan,
        threads: 1,
        fingerprints,
        positions: true,
        tally: false,
        table,
        ..RunOptions::default()
    }
}

/// Scans one blob. `columns` is asked for only when the blob is structured.
///
/// # Errors
/// A read error inside the engine, or a corrupt compressed stream.
pub fn scan_blob(
    engine: &Engine,
    columns: &dyn Fn() -> Option<&'static ColumnRules>,
    name: &str,
    data: &[u8],
    lines: &Lines,
    fingerprints: bool,
) -> Result<Scanned, PipelineError> {
    if let Some(loc) = image_finding(engine, data, fingerprints) {
        return Ok(Scanned {
            found: vec![loc],
            decoded: None,
            read: Reading::Image,
            note: None,
        });
    }
    if let Some(codec) = compress::Codec::sniff(&data[..data.len().min(compress::MAGIC_LEN)]) {
        let mut r = codec
            .reader(Box::new(data))
            .map_err(|source| PipelineError::Read { offset: 0, source })?;
        let mut decoded = Vec::new();
        (&mut r)
            .take(MAX_DECODED)
            .read_to_end(&mut decoded)
            .map_err(|source| PipelineError::Read { offset: 0, source })?;
        let inner = compress::Codec::strip_suffix(name).to_string();
        // Lines of a compressed file mean nothing in its decoded text: all of it is new.
        let mut s = scan_plain(engine, columns, &inner, &decoded, &Lines::All, fingerprints)?;
        s.decoded = Some(decoded);
        return Ok(s);
    }
    scan_plain(engine, columns, name, data, lines, fingerprints)
}

fn scan_plain(
    engine: &Engine,
    columns: &dyn Fn() -> Option<&'static ColumnRules>,
    name: &str,
    data: &[u8],
    lines: &Lines,
    fingerprints: bool,
) -> Result<Scanned, PipelineError> {
    let format = format_of(name, data);
    let table = Path::new(name).file_stem().and_then(|s| s.to_str());
    let opts = ropts(fingerprints, table);
    let mut found = Vec::new();
    let mut push = |l: &Located| {
        found.push(l.clone());
        Ok(())
    };
    let structured = match format {
        Format::Text | Format::Auto => None,
        f => columns().map(|cols| (f, cols)),
    };
    if let Some((f, cols)) = structured {
        let none = None::<&mut io::Sink>;
        let mut input: &[u8] = data;
        let result = match f {
            Format::Csv | Format::Tsv => {
                let dialect = (f == Format::Tsv).then_some(csv_codec::Dialect {
                    delimiter: b'\t',
                    quote: b'"',
                });
                crate::formats::csv::run(engine, cols, &mut input, none, dialect, &opts, &mut push)
            }
            Format::Jsonl | Format::Json => crate::formats::jsonl::run(
                engine,
                cols,
                &mut input,
                none,
                f == Format::Json,
                &opts,
                &mut push,
            ),
            Format::Parquet => parquet(engine, cols, data, &opts, &mut push),
            Format::Pgdump => {
                crate::formats::pgdump::run(engine, cols, &mut input, none, &opts, &mut push)
            }
            Format::Mysqldump => {
                crate::formats::mysqldump::run(engine, cols, &mut input, none, &opts, &mut push)
            }
            Format::Pgcustom => {
                crate::formats::pgcustom::run(engine, cols, &mut input, none, &opts, &mut push)
            }
            Format::Text | Format::Auto => unreachable!("filtered above"),
        };
        match result {
            Ok(_) => {
                return Ok(Scanned {
                    found,
                    decoded: None,
                    read: Reading::Structured(f),
                    note: None,
                })
            }
            // A file that does not parse as its name says is still checked, as text: a broken
            // CSV must not be a way around the guard.
            Err(PipelineError::Format(msg)) if f != Format::Parquet => {
                found.clear();
                let mut s = scan_text(engine, data, lines, &opts)?;
                s.read = Reading::TextFallback(f);
                s.note = Some(msg);
                return Ok(s);
            }
            Err(e) => return Err(e),
        }
    }
    scan_text(engine, data, lines, &opts)
}

fn parquet(
    engine: &Engine,
    cols: &ColumnRules,
    data: &[u8],
    opts: &RunOptions<'_>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<pipeline::Stats, PipelineError> {
    // The Parquet reader wants a file it can seek in; the blob goes to a private temp file.
    let io_err = |source| PipelineError::Read { offset: 0, source };
    let mut tmp = tempfile::Builder::new()
        .prefix("phiscrub-guard-")
        .suffix(".parquet")
        .tempfile()
        .map_err(io_err)?;
    io::Write::write_all(&mut tmp, data).map_err(io_err)?;
    crate::formats::parquet::run(engine, cols, tmp.path(), None::<&mut io::Sink>, opts, found)
}

fn image_finding(engine: &Engine, data: &[u8], fingerprints: bool) -> Option<Located> {
    let kind = image::sniff(&data[..data.len().min(image::SNIFF_LEN)]);
    kind?;
    let rules = engine.detector.rules();
    let rule = rules.iter().position(|r| r.id == IMAGE_RULE)?;
    let score = rules[rule].score;
    if !engine.filter.allows(Entity::Photo) || score < engine.min_score {
        return None;
    }
    let size = data.len() as u64;
    Some(Located {
        start: 0,
        end: size,
        line: 1,
        column: 1,
        char_start: None,
        char_end: None,
        entity: Entity::Photo,
        rule: rule as u32,
        score,
        fingerprint: if fingerprints {
            engine.transformer.fingerprint(Entity::Photo, data)
        } else {
            None
        },
        field: None,
        row: None,
        count: 1,
    })
}

/// Byte windows `(start, end, first line)` around the new lines of a large blob.
fn windows(data: &[u8], ranges: &[(u64, u64)]) -> Vec<(usize, usize, u64)> {
    let starts: Vec<usize> = std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', data).map(|i| i + 1))
        .collect();
    let last_line = starts.len() as u64;
    let start_of = |line: u64| starts[(line.clamp(1, last_line) - 1) as usize];
    let end_of = |line: u64| {
        if line >= last_line {
            data.len()
        } else {
            starts[line as usize]
        }
    };
    let mut out: Vec<(usize, usize, u64)> = Vec::new();
    for &(lo, hi) in ranges {
        if lo > last_line {
            continue;
        }
        let mut a = lo.saturating_sub(CONTEXT_LINES).max(1);
        while a > 1 && start_of(lo) - start_of(a) < CONTEXT_BYTES && lo - a < 64 {
            a -= 1;
        }
        let mut b = (hi + CONTEXT_LINES).min(last_line);
        while b < last_line && end_of(b) - end_of(hi) < CONTEXT_BYTES && b - hi < 64 {
            b += 1;
        }
        let (s, e) = (start_of(a), end_of(b));
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e, a)),
        }
    }
    out
}

fn scan_text(
    engine: &Engine,
    data: &[u8],
    lines: &Lines,
    opts: &RunOptions<'_>,
) -> Result<Scanned, PipelineError> {
    let mut found = Vec::new();
    match lines {
        Lines::Added(ranges) if data.len() > WINDOWED_ABOVE => {
            for (s, e, first_line) in windows(data, ranges) {
                let mut input = &data[s..e];
                pipeline::run(engine, &mut input, None::<&mut io::Sink>, *opts, |l| {
                    let mut l = l.clone();
                    l.start += s as u64;
                    l.end += s as u64;
                    l.line += first_line - 1;
                    found.push(l);
                    Ok(())
                })?;
            }
        }
        _ => {
            let mut input = data;
            pipeline::run(engine, &mut input, None::<&mut io::Sink>, *opts, |l| {
                found.push(l.clone());
                Ok(())
            })?;
        }
    }
    Ok(Scanned {
        found,
        decoded: None,
        read: Reading::Text,
        note: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_new_lines_with_context_and_merge() {
        let data: Vec<u8> = (1..=1000)
            .flat_map(|i| format!("line {i:04}\n").into_bytes())
            .collect();
        let w = windows(&data, &[(500, 500), (505, 506), (900, 900)]);
        assert_eq!(w.len(), 2, "{w:?}");
        let text =
            |(s, e, _): (usize, usize, u64)| String::from_utf8_lossy(&data[s..e]).into_owned();
        let first = text(w[0]);
        assert!(
            first.contains("line 0450") && first.contains("line 0550"),
            "{first}"
        );
        assert!(first.starts_with("line "), "windows start at a line start");
        // first line number of the window matches its text
        assert!(first.starts_with(&format!("line {:04}", w[0].2)));
        assert!(text(w[1]).contains("line 0900"));
        assert_eq!(windows(&data, &[(2000, 2001)]), vec![]);
    }
}
