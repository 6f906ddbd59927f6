//! PostgreSQL custom-format archives (`pg_dump -Fc`), rewritten directly: the header and
//! table of contents are copied through, and each table's data block (COPY text, in chunks
//! of a zlib stream or uncompressed) is decompressed, scrubbed by the plain-dump reader
//! ([`pgdump`](super::pgdump)) with the table's `CREATE TABLE` and `COPY` header from the TOC
//! in front of its rows, and written back compressed the same way. `pg_restore` reads the
//! result like the original, so `pg_dump -Fc | phiscrub scrub | pg_restore -d staging` works
//! as a pipe and no plain SQL is ever materialised.
//!
//! The data blocks are read in the order they come, so the input may be a pipe. A block's
//! offset in the TOC is only known once the output is written: the TOC goes out with its data
//! offsets "not set" (as pg_dump itself writes to a pipe, and pg_restore reads such an archive
//! front to back); when the output is a file, [`fill_offsets`] then writes the real offsets
//! in, so `pg_restore -j`, `-l` and `-t` work on it as on the original.
//!
//! Large objects (`BLOBS` blocks) and lz4- or zstd-compressed data (pg_dump 16 and later)
//! stop the run with an error naming the remedy, never pass through unscrubbed.

use std::io::{self, BufReader, Read, Write};

use super::pgdir::{shift_lines, shifted, SkipPrefix};
use super::pgdump;
use super::pgtoc::{self, Compression, Extra, Toc};
use crate::classify::ColumnRules;
use crate::pipeline::{Engine, Located, PipelineError, RunOptions, Stats};

/// A block of table data, and one of large objects (pg_backup_custom.c).
const BLK_DATA: u8 = 1;
const BLK_BLOBS: u8 = 3;
/// Largest data chunk written: what pg_dump's own compressor hands on at a time.
const CHUNK: usize = 64 << 10;

/// The first bytes of `r` as far as they tell whether it is a custom-format archive, and `r`
/// again from its start. Reads on only while what came so far starts like an archive, so a
/// line filter's first short line is never held back waiting for more.
pub fn peek<'a>(
    mut r: Box<dyn Read + Send + 'a>,
) -> io::Result<(Vec<u8>, Box<dyn Read + Send + 'a>)> {
    let mut head = [0u8; 11];
    let mut got = 0;
    while got < head.len() && b"PGDMP".starts_with(&head[..got.min(5)]) {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let head = head[..got].to_vec();
    let again = io::Cursor::new(head.clone()).chain(r);
    Ok((head, Box::new(again)))
}

/// Whether `head`, the first bytes of an input, starts a custom-format archive.
pub fn is_archive(head: &[u8]) -> bool {
    head.len() >= 11 && head.starts_with(b"PGDMP") && head[10] == pgtoc::CUSTOM
}

/// A reader that counts the bytes it passed on: where in the archive an error is.
struct Counting<'a> {
    r: &'a mut (dyn Read + Send),
    n: u64,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let got = self.r.read(buf)?;
        self.n += got as u64;
        Ok(got)
    }
}

/// An archive integer: a sign byte and `size` little-endian bytes.
fn read_int(r: &mut dyn Read, size: usize) -> io::Result<i64> {
    let mut b = [0u8; 9];
    r.read_exact(&mut b[..=size])?;
    let mut v: i64 = 0;
    for (k, &x) in b[1..=size].iter().enumerate() {
        v |= i64::from(x) << (8 * k);
    }
    Ok(if b[0] == 0 { v } else { -v })
}

fn write_int<W: Write + ?Sized>(w: &mut W, v: i64, size: usize) -> io::Result<()> {
    let mut b = [0u8; 9];
    b[0] = u8::from(v < 0);
    b[1..=size].copy_from_slice(&v.unsigned_abs().to_le_bytes()[..size]);
    w.write_all(&b[..=size])
}

fn ended_inside() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the archive ends inside a data block",
    )
}

/// The payload of one data block: chunks of a length and that many bytes, up to a chunk of
/// length 0.
struct ChunkReader<'a, 'r> {
    r: &'a mut Counting<'r>,
    int_size: usize,
    left: usize,
    ended: bool,
}

impl Read for ChunkReader<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.left == 0 {
            if self.ended {
                return Ok(0);
            }
            let n = read_int(self.r, self.int_size).map_err(|e| match e.kind() {
                io::ErrorKind::UnexpectedEof => ended_inside(),
                _ => e,
            })?;
            match usize::try_from(n) {
                Ok(0) => self.ended = true,
                Ok(n) => self.left = n,
                Err(_) => return Err(io::Error::other("a data chunk has a negative length")),
            }
        }
        let want = self.left.min(buf.len());
        let got = self.r.read(&mut buf[..want])?;
        if got == 0 {
            return Err(ended_inside());
        }
        self.left -= got;
        Ok(got)
    }
}

impl ChunkReader<'_, '_> {
    /// Reads on to the block's end; whether any data was left there.
    fn finish(&mut self) -> io::Result<bool> {
        let mut scratch = [0u8; 4096];
        let mut more = false;
        loop {
            match self.read(&mut scratch)? {
                0 => return Ok(more),
                _ => more = true,
            }
        }
    }
}

/// A block's payload decompressed.
enum Decoded<'a, 'r> {
    Plain(BufReader<ChunkReader<'a, 'r>>),
    Zlib(flate2::bufread::ZlibDecoder<BufReader<ChunkReader<'a, 'r>>>),
}

impl Read for Decoded<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Plain(r) => r.read(buf),
            Decoded::Zlib(r) => r.read(buf),
        }
    }
}

impl<'a, 'r> Decoded<'a, 'r> {
    fn into_inner(self) -> BufReader<ChunkReader<'a, 'r>> {
        match self {
            Decoded::Plain(r) => r,
            Decoded::Zlib(r) => r.into_inner(),
        }
    }
}

/// Writes a block's payload as chunks of at most [`CHUNK`] bytes.
struct ChunkWriter<'w, W: Write + ?Sized> {
    w: &'w mut W,
    int_size: usize,
    buf: Vec<u8>,
}

impl<W: Write + ?Sized> ChunkWriter<'_, W> {
    fn emit(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            write_int(&mut *self.w, self.buf.len() as i64, self.int_size)?;
            self.w.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// The last chunk and the block's end.
    fn finish(mut self) -> io::Result<()> {
        self.emit()?;
        write_int(&mut *self.w, 0, self.int_size)
    }
}

impl<W: Write + ?Sized> Write for ChunkWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&buf[..n]);
        if self.buf.len() == CHUNK {
            self.emit()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A block's payload compressed as the archive's was.
enum Encoded<'w, W: Write + ?Sized> {
    Plain(ChunkWriter<'w, W>),
    Zlib(flate2::write::ZlibEncoder<ChunkWriter<'w, W>>),
}

impl<W: Write + ?Sized> Write for Encoded<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoded::Plain(w) => w.write(buf),
            Encoded::Zlib(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write + ?Sized> Encoded<'_, W> {
    fn finish(self) -> io::Result<()> {
        match self {
            Encoded::Plain(w) => w.finish(),
            Encoded::Zlib(w) => w.finish()?.finish(),
        }
    }
}

/// The TOC as written ahead of the data: every entry that has data marked "offset not set".
fn toc_for_output(toc: &Toc) -> Vec<u8> {
    let mut raw = toc.raw.clone();
    for e in &toc.entries {
        if let Extra::Offset { flag, at } = e.extra {
            if flag != pgtoc::OFFSET_NO_DATA {
                raw[at] = pgtoc::OFFSET_NOT_SET;
                raw[at + 1..=at + toc.header.off_size].fill(0);
            }
        }
    }
    raw
}

/// Scrubs (or with `output` `None` scans) the custom-format archive read from `input` into
/// `output`.
///
/// # Errors
/// An unreadable, truncated or unsupported archive (naming the byte offset or the table,
/// never a value), and every error of [`pgdump::run`] (with the lines counted in the table's
/// data).
pub fn run<W: Write + ?Sized>(
    engine: &Engine,
    columns: &ColumnRules,
    input: &mut (dyn Read + Send),
    mut output: Option<&mut W>,
    opts: &RunOptions<'_>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<Stats, PipelineError> {
    let werr = PipelineError::Write;
    let mut r = Counting { r: input, n: 0 };
    let toc = pgtoc::read(&mut r, pgtoc::CUSTOM)?;
    let h = toc.header;
    let level = match h.compression {
        Compression::None => None,
        // Recompressed at the archive's level, at most 3: zlib's level 6 (pg_dump's default)
        // made the serial compressor most of a scrub's time, for an archive a tenth smaller
        // (scripts/bench-pgcustom: 7.8 s at 6, 3.1 s at 3 on 256 MB; level 1 was 40% larger).
        // pg_restore reads every level alike.
        Compression::Gzip(l) => Some(match u32::try_from(l) {
            Ok(l) if l <= 3 => flate2::Compression::new(l),
            _ => flate2::Compression::new(3),
        }),
        c @ (Compression::Lz4 | Compression::Zstd) => {
            return Err(PipelineError::Format(format!(
                "custom-format archive with {} compressed data: not supported; dump with \
                 `-Z gzip` or `-Z 0`, or pipe it: pg_restore -f - ARCHIVE | phiscrub scrub \
                 --format pgdump",
                if c == Compression::Lz4 { "lz4" } else { "zstd" }
            )))
        }
    };
    if let Some(w) = output.as_deref_mut() {
        w.write_all(&toc_for_output(&toc)).map_err(werr)?;
    }
    let mut stats = Stats {
        bytes: r.n,
        ..Stats::default()
    };
    let mut seen = std::collections::HashSet::new();
    loop {
        let at = r.n;
        let mut kind = [0u8; 1];
        if r.read(&mut kind)
            .map_err(|source| PipelineError::Read { offset: at, source })?
            == 0
        {
            break;
        }
        let id = read_int(&mut r, h.int_size)
            .map_err(|source| PipelineError::Read { offset: at, source })?;
        if kind[0] == BLK_BLOBS {
            return Err(PipelineError::Format(format!(
                "the archive holds large objects (block at byte {at}), which are not \
                 supported; dump without them (`--no-blobs`)"
            )));
        }
        let entry = toc
            .entries
            .iter()
            .find(|e| e.dump_id == id && e.desc == "TABLE DATA")
            .filter(|_| kind[0] == BLK_DATA)
            .ok_or_else(|| {
                PipelineError::Format(format!(
                    "the block at byte {at} is not table data the TOC describes"
                ))
            })?;
        if !seen.insert(id) {
            return Err(PipelineError::Format(format!(
                "the block at byte {at} repeats the data of {}.{}",
                entry.namespace, entry.tag
            )));
        }
        if let Some(w) = output.as_deref_mut() {
            w.write_all(&[BLK_DATA]).map_err(werr)?;
            write_int(&mut *w, id, h.int_size).map_err(werr)?;
        }
        let s = table(
            engine,
            columns,
            &toc,
            entry,
            &mut r,
            output.as_deref_mut(),
            level,
            opts,
            found,
        )?;
        stats.bytes = r.n;
        stats.findings += s.findings;
        stats.changed += s.changed;
    }
    // An archive cut at a block boundary still parses: the TOC says which data it lacks.
    if let Some(e) = toc.entries.iter().find(|e| {
        e.desc == "TABLE DATA"
            && matches!(e.extra, Extra::Offset { flag, .. } if flag != pgtoc::OFFSET_NO_DATA)
            && !seen.contains(&e.dump_id)
    }) {
        return Err(PipelineError::Format(format!(
            "truncated archive: it ends at byte {} before the table data of {}.{}",
            r.n, e.namespace, e.tag
        )));
    }
    Ok(stats)
}

/// One table's data block, from its first chunk to its end.
#[allow(clippy::too_many_arguments)]
fn table<W: Write + ?Sized>(
    engine: &Engine,
    columns: &ColumnRules,
    toc: &Toc,
    entry: &pgtoc::Entry,
    r: &mut Counting<'_>,
    output: Option<&mut W>,
    level: Option<flate2::Compression>,
    opts: &RunOptions<'_>,
    found: &mut dyn FnMut(&Located) -> io::Result<()>,
) -> Result<Stats, PipelineError> {
    let werr = PipelineError::Write;
    let name = format!("table data of {}.{}", entry.namespace, entry.tag);
    let prefix = toc.data_prefix(entry);
    let prefix_lines = prefix.matches('\n').count() as u64;
    let start = r.n;
    let chunks = BufReader::with_capacity(
        256 << 10,
        ChunkReader {
            r,
            int_size: toc.header.int_size,
            left: 0,
            ended: false,
        },
    );
    let decoded = match level {
        None => Decoded::Plain(chunks),
        Some(_) => Decoded::Zlib(flate2::bufread::ZlibDecoder::new(chunks)),
    };
    let mut input = io::Cursor::new(prefix.as_bytes()).chain(decoded);
    let mut shift = |l: &Located| found(&shifted(l, &prefix, prefix_lines));
    let named = |e: PipelineError| match e {
        PipelineError::Format(m) => {
            PipelineError::Format(format!("{name}: {}", shift_lines(&m, prefix_lines)))
        }
        PipelineError::Read { source, .. } => {
            PipelineError::Format(format!("{name} (block from byte {start}): {source}"))
        }
        other => other,
    };
    let stats = match output {
        None => pgdump::run::<io::Sink>(engine, columns, &mut input, None, opts, &mut shift)
            .map_err(named)?,
        Some(w) => {
            let chunks = ChunkWriter {
                w,
                int_size: toc.header.int_size,
                buf: Vec::with_capacity(CHUNK),
            };
            let enc = match level {
                None => Encoded::Plain(chunks),
                Some(l) => Encoded::Zlib(flate2::write::ZlibEncoder::new(chunks, l)),
            };
            let mut sw = SkipPrefix {
                prefix: prefix.as_bytes(),
                at: 0,
                inner: enc,
            };
            let s = pgdump::run(engine, columns, &mut input, Some(&mut sw), opts, &mut shift)
                .map_err(named)?;
            sw.inner.finish().map_err(werr)?;
            s
        }
    };
    // The reader took the rows to their end; what is left of the block must be nothing.
    let (_, decoded) = input.into_inner();
    let mut chunks = decoded.into_inner();
    let buffered = !chunks.buffer().is_empty();
    let trailing = chunks
        .get_mut()
        .finish()
        .map_err(|source| named(PipelineError::Read { offset: 0, source }))?;
    if buffered || trailing {
        return Err(PipelineError::Format(format!(
            "{name} (block from byte {start}): data after the end of the compressed rows"
        )));
    }
    Ok(stats)
}

/// Writes the real data offsets into the TOC of the custom-format archive `file` wrote by
/// [`run`] (whose offsets are "not set"): each data block's position, found by walking the
/// blocks. A file that is not a custom archive is left alone.
///
/// # Errors
/// A read or write error of `file`, or an archive that does not parse.
#[cfg(unix)]
pub fn fill_offsets(file: &std::fs::File) -> Result<(), PipelineError> {
    use std::io::Seek;
    use std::os::unix::fs::FileExt;
    let rerr = |source| PipelineError::Read { offset: 0, source };
    let mut head = [0u8; 11];
    match file.read_at(&mut head, 0) {
        Ok(11) if is_archive(&head) => {}
        Ok(_) => return Ok(()),
        Err(e) => return Err(rerr(e)),
    }
    let mut f = file;
    f.rewind().map_err(rerr)?;
    let mut b = BufReader::with_capacity(256 << 10, f);
    let mut counted = Counting { r: &mut b, n: 0 };
    // Not an archive after all (a text output that starts like one): nothing to fill in.
    let Ok(toc) = pgtoc::read(&mut counted, pgtoc::CUSTOM) else {
        return Ok(());
    };
    let (isz, osz) = (toc.header.int_size, toc.header.off_size);
    let mut pos = counted.n;
    let mut blocks = std::collections::HashMap::new();
    loop {
        let mut kind = [0u8; 1];
        if b.read(&mut kind).map_err(rerr)? == 0 {
            break;
        }
        let id = read_int(&mut b, isz).map_err(rerr)?;
        blocks.insert(id, pos);
        pos += 1 + isz as u64 + 1;
        loop {
            let n = read_int(&mut b, isz).map_err(rerr)?;
            pos += 1 + isz as u64;
            if n <= 0 {
                break;
            }
            b.seek_relative(n).map_err(rerr)?;
            pos += n as u64;
        }
    }
    for e in &toc.entries {
        if let (Extra::Offset { flag, at }, Some(&p)) = (&e.extra, blocks.get(&e.dump_id)) {
            if *flag == pgtoc::OFFSET_NO_DATA {
                continue;
            }
            let mut v = vec![pgtoc::OFFSET_SET];
            v.extend_from_slice(&p.to_le_bytes()[..osz.min(8)]);
            file.write_all_at(&v, *at as u64)
                .map_err(PipelineError::Write)?;
        }
    }
    Ok(())
}

/// Elsewhere the offsets stay "not set", which pg_restore reads front to back.
#[cfg(not(unix))]
pub fn fill_offsets(_file: &std::fs::File) -> Result<(), PipelineError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::pgtoc::tests::archive;
    use crate::pipeline::EntityFilter;
    use crate::policy::Policy;
    use crate::transform::{key::Key, Transformer};

    fn engine() -> Engine {
        Engine {
            detector: crate::detect::builtin().unwrap(),
            transformer: Transformer::new(
                Policy::defaults(true),
                Some(Key::from_bytes(&[5; 32]).unwrap()),
            ),
            filter: EntityFilter::default(),
            min_score: 0.5,
        }
    }

    const SSNS: [&str; 3] = ["123-45-6789", "234-56-7890", "345-67-8901"];

    fn rows() -> Vec<u8> {
        let mut rows = String::new();
        for (i, s) in SSNS.iter().enumerate() {
            rows.push_str(&format!("{}\t{s}\n", i + 1));
        }
        rows.push_str("\\.\n\n");
        rows.into_bytes()
    }

    /// A whole custom archive: the TOC and the one data block, compressed at `level`.
    fn custom(level: i64, rows: &[u8]) -> Vec<u8> {
        let mut a = archive(pgtoc::CUSTOM, level);
        a.push(BLK_DATA);
        write_int(&mut a, 2, 4).unwrap();
        let mut w = ChunkWriter {
            w: &mut a,
            int_size: 4,
            buf: Vec::new(),
        };
        if level == 0 {
            w.write_all(rows).unwrap();
            w.finish().unwrap();
        } else {
            let mut z = flate2::write::ZlibEncoder::new(w, flate2::Compression::default());
            z.write_all(rows).unwrap();
            z.finish().unwrap().finish().unwrap();
        }
        a
    }

    fn scrub(input: &[u8]) -> Result<Vec<u8>, PipelineError> {
        thread_local! {
            static ENGINE: (Engine, ColumnRules) = (engine(), ColumnRules::builtin().unwrap());
        }
        ENGINE.with(|(e, c)| scrub_with(e, c, input))
    }

    fn scrub_with(
        engine: &Engine,
        columns: &ColumnRules,
        input: &[u8],
    ) -> Result<Vec<u8>, PipelineError> {
        let mut out = Vec::new();
        let mut r: &[u8] = input;
        run(
            engine,
            columns,
            &mut r,
            Some(&mut out),
            &RunOptions::default(),
            &mut |_| Ok(()),
        )?;
        Ok(out)
    }

    /// The rows of the archive `a`'s one data block, decompressed.
    fn data_of(a: &[u8]) -> Vec<u8> {
        let mut r: &[u8] = a;
        let toc = pgtoc::read(&mut r, pgtoc::CUSTOM).unwrap();
        assert_eq!(r[0], BLK_DATA);
        let mut input: &mut (dyn Read + Send) = &mut &r[6..];
        let mut c = Counting {
            r: &mut input,
            n: 0,
        };
        let chunks = ChunkReader {
            r: &mut c,
            int_size: 4,
            left: 0,
            ended: false,
        };
        let mut out = Vec::new();
        match toc.header.compression {
            Compression::None => BufReader::new(chunks).read_to_end(&mut out),
            _ => flate2::read::ZlibDecoder::new(chunks).read_to_end(&mut out),
        }
        .unwrap();
        out
    }

    #[test]
    fn rewrites_the_rows_and_keeps_the_toc() {
        for level in [0, -1] {
            let a = custom(level, &rows());
            assert_eq!(data_of(&a), rows(), "the test archive reads back");
            let out = scrub(&a).unwrap();
            let toc_in = pgtoc::read(&mut &a[..], pgtoc::CUSTOM).unwrap();
            assert_eq!(
                &out[..toc_in.raw.len()],
                &toc_in.raw[..],
                "TOC copied through"
            );
            let data = data_of(&out);
            assert_eq!(data.iter().filter(|&&b| b == b'\n').count(), 5, "same rows");
            assert!(data.ends_with(b"\\.\n\n"));
            for s in SSNS {
                assert!(
                    memchr::memmem::find(&out, s.as_bytes()).is_none(),
                    "{level}"
                );
                assert!(
                    memchr::memmem::find(&data, s.as_bytes()).is_none(),
                    "{level}"
                );
            }
            // Same key, same input: same archive.
            assert_eq!(scrub(&a).unwrap(), out);
        }
    }

    #[test]
    fn every_cut_is_an_error() {
        for level in [0, -1] {
            let a = custom(level, &rows());
            let toc_len = pgtoc::read(&mut &a[..], pgtoc::CUSTOM).unwrap().raw.len();
            for n in 11..a.len() {
                let e = scrub(&a[..n]).expect_err(&format!("cut at {n} of {}", a.len()));
                if n == toc_len {
                    // Cut exactly before the data block: the TOC says what is missing.
                    assert!(e.to_string().contains("truncated archive"), "{e}");
                }
                for s in SSNS {
                    assert!(!e.to_string().contains(s), "a value in the error");
                }
            }
            // Data after the compressed rows, a repeated block and a block of no table.
            let mut more = a.clone();
            more.extend_from_slice(&a[toc_len..]);
            assert!(scrub(&more).unwrap_err().to_string().contains("repeats"));
            let mut stray = a.clone();
            stray[toc_len + 2] = 9;
            assert!(scrub(&stray)
                .unwrap_err()
                .to_string()
                .contains("not table data"));
        }
    }

    /// pg_dump 16's archive (1.15) names its algorithm in one byte: gzip is read, lz4 and
    /// zstd are refused with the way round them, never passed through.
    #[test]
    fn newer_archives_name_their_compression() {
        let a = custom(-1, &rows());
        let mut v15 = a[..11].to_vec();
        v15[6] = 0x0f;
        let rest = &a[16..];
        for (algo, want) in [(1u8, None), (2, Some("lz4")), (3, Some("zstd"))] {
            let mut b = v15.clone();
            b.push(algo);
            b.extend_from_slice(rest);
            match (scrub(&b), want) {
                (Ok(out), None) => {
                    assert!(SSNS
                        .iter()
                        .all(|s| memchr::memmem::find(&out, s.as_bytes()).is_none()))
                }
                (Err(e), Some(w)) => {
                    let e = e.to_string();
                    assert!(e.contains(w) && e.contains("pg_restore -f -"), "{e}");
                }
                (r, w) => panic!("{algo}: {:?} for {w:?}", r.map(|o| o.len())),
            }
        }
    }

    #[test]
    fn chunks_round_trip_at_every_size() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let mut out = Vec::new();
            let mut w = ChunkWriter {
                w: &mut out,
                int_size: 4,
                buf: Vec::new(),
            };
            w.write_all(&data).unwrap();
            w.finish().unwrap();
            assert_eq!(out.len(), len + 5 * len.div_ceil(CHUNK) + 5, "{len}");
            let mut input: &mut (dyn Read + Send) = &mut &out[..];
            let mut c = Counting {
                r: &mut input,
                n: 0,
            };
            let mut r = ChunkReader {
                r: &mut c,
                int_size: 4,
                left: 0,
                ended: false,
            };
            let mut back = Vec::new();
            r.read_to_end(&mut back).unwrap();
            assert_eq!(back, data);
            assert!(!r.finish().unwrap());
            assert_eq!(
                c.n as usize,
                out.len(),
                "read to the block's end, not past it"
            );
        }
        for v in [0, 1, -1, 255, 256, i64::from(i32::MAX), -(1 << 31)] {
            let mut b = Vec::new();
            write_int(&mut b, v, 4).unwrap();
            assert_eq!(read_int(&mut &b[..], 4).unwrap(), v);
        }
    }

    #[test]
    fn offsets_point_at_the_blocks() {
        let out = scrub(&custom(-1, &rows())).unwrap();
        let file = tempfile::tempfile().unwrap();
        (&file).write_all(&out).unwrap();
        fill_offsets(&file).unwrap();
        let mut filled = Vec::new();
        use std::io::Seek;
        (&file).rewind().unwrap();
        (&file).read_to_end(&mut filled).unwrap();
        assert_eq!(filled.len(), out.len());
        let toc = pgtoc::read(&mut &filled[..], pgtoc::CUSTOM).unwrap();
        let Extra::Offset { flag, at } = toc.entries[1].extra else {
            panic!("a custom TOC entry has an offset")
        };
        assert_eq!(flag, pgtoc::OFFSET_SET);
        let mut off = [0u8; 8];
        off.copy_from_slice(&filled[at + 1..at + 9]);
        let off = u64::from_le_bytes(off) as usize;
        assert_eq!(off, toc.raw.len(), "the block right after the TOC");
        assert_eq!(&filled[off..off + 6], &[BLK_DATA, 0, 2, 0, 0, 0]);
        // Entries without data keep theirs.
        let Extra::Offset { flag, .. } = toc.entries[0].extra else {
            panic!()
        };
        assert_eq!(flag, pgtoc::OFFSET_NO_DATA);
        // Not an archive: untouched.
        let text = tempfile::tempfile().unwrap();
        (&text).write_all(b"PGDMP is a word here\n").unwrap();
        fill_offsets(&text).unwrap();
    }

    /// A first short line of a line filter: answered from the first read, never waiting.
    #[test]
    fn peek_does_not_wait_for_more_than_tells() {
        struct Once(bool);
        impl Read for Once {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                assert!(!self.0, "read again before the first line was handled");
                self.0 = true;
                buf[..3].copy_from_slice(b"hi\n");
                Ok(3)
            }
        }
        let (head, _) = peek(Box::new(Once(false))).unwrap();
        assert_eq!(head, b"hi\n");
        // An archive's signature arriving a byte at a time is still read whole.
        let a = custom(0, &rows());
        let slow = io::BufReader::with_capacity(1, &a[..]);
        let (head, mut again) = peek(Box::new(slow)).unwrap();
        assert!(is_archive(&head));
        let mut all = Vec::new();
        again.read_to_end(&mut all).unwrap();
        assert_eq!(all, a);
    }
}
