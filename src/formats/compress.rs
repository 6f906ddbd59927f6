//! Transparent gzip and zstd: a compressed input is recognised by its magic bytes (not its
//! name, so a misnamed file still works) and decoded as a stream; an output file whose name
//! ends in `.gz` or `.zst` is encoded the same way. Standard output stays plain, since
//! `phiscrub scrub dump.sql.gz | psql` wants SQL.
//!
//! Both codecs stream: memory is the codec's window, whatever the file size.

use std::io::{self, Read, Write};

/// A compression codec phiscrub reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Gzip,
    Zstd,
}

/// Bytes needed to recognise a codec.
pub const MAGIC_LEN: usize = 4;

impl Codec {
    /// The codec whose magic number `head` starts with.
    pub fn sniff(head: &[u8]) -> Option<Codec> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Codec::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Codec::Zstd)
        } else {
            None
        }
    }

    /// The codec a file name asks for by its suffix.
    pub fn from_name(name: &str) -> Option<Codec> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".gz") || lower.ends_with(".gzip") {
            Some(Codec::Gzip)
        } else if lower.ends_with(".zst") || lower.ends_with(".zstd") {
            Some(Codec::Zstd)
        } else {
            None
        }
    }

    /// `name` without a compression suffix (`dump.sql.gz` → `dump.sql`).
    pub fn strip_suffix(name: &str) -> &str {
        for suffix in [".gz", ".gzip", ".zst", ".zstd"] {
            if name.len() > suffix.len() && name.to_ascii_lowercase().ends_with(suffix) {
                return &name[..name.len() - suffix.len()];
            }
        }
        name
    }

    /// A decoder over `r`. Multi-member gzip files (`cat a.gz b.gz`) decode whole.
    ///
    /// # Errors
    /// A zstd stream whose header cannot be read.
    pub fn reader<'a>(self, r: Box<dyn Read + Send + 'a>) -> io::Result<Box<dyn Read + Send + 'a>> {
        Ok(match self {
            Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
                io::BufReader::with_capacity(256 << 10, r),
            )),
            Codec::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
        })
    }

    /// An encoder writing into `w`; [`Encoder::finish`] writes the trailer.
    ///
    /// # Errors
    /// The zstd context cannot be made.
    pub fn writer<W: Write>(self, w: W) -> io::Result<Encoder<W>> {
        Ok(match self {
            Codec::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                w,
                flate2::Compression::new(6),
            )),
            Codec::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(w, 3)?),
        })
    }
}

/// A compressing writer; must be finished, or the output is truncated.
pub enum Encoder<W: Write> {
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    /// Writes the codec's trailer and returns the inner writer.
    ///
    /// # Errors
    /// The inner writer's errors.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }
}

/// Reads up to `n` bytes from the start of `r` and returns them with a reader that yields the
/// whole stream again, so a format can be sniffed without consuming anything.
///
/// # Errors
/// The read error, if the first read fails.
pub fn peek<'a>(
    mut r: Box<dyn Read + Send + 'a>,
    n: usize,
) -> io::Result<(Vec<u8>, Box<dyn Read + Send + 'a>)> {
    let mut head = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    let again = io::Cursor::new(head.clone()).chain(r);
    Ok((head, Box::new(again)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_both_codecs_and_sniff() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for codec in [Codec::Gzip, Codec::Zstd] {
            let mut enc = codec.writer(Vec::new()).unwrap();
            enc.write_all(&data).unwrap();
            let packed = enc.finish().unwrap();
            assert_eq!(Codec::sniff(&packed), Some(codec));
            let mut back = Vec::new();
            codec
                .reader(Box::new(io::Cursor::new(packed)))
                .unwrap()
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "{codec:?}");
        }
        assert_eq!(Codec::sniff(b"-- PostgreSQL"), None);
    }

    #[test]
    fn names() {
        let cases = [
            ("dump.sql.gz", Some(Codec::Gzip), "dump.sql"),
            ("DUMP.SQL.ZST", Some(Codec::Zstd), "DUMP.SQL"),
            ("a.csv", None, "a.csv"),
            (".gz", Some(Codec::Gzip), ".gz"),
        ];
        for (name, codec, stripped) in cases {
            assert_eq!(Codec::from_name(name), codec, "{name}");
            assert_eq!(Codec::strip_suffix(name), stripped, "{name}");
        }
    }

    #[test]
    fn truncated_gzip_is_an_error_not_silence() {
        let mut enc = Codec::Gzip.writer(Vec::new()).unwrap();
        enc.write_all(&[7u8; 100_000]).unwrap();
        let mut packed = enc.finish().unwrap();
        packed.truncate(packed.len() / 2);
        let mut back = Vec::new();
        let r = Codec::Gzip
            .reader(Box::new(io::Cursor::new(packed)))
            .unwrap()
            .read_to_end(&mut back);
        assert!(r.is_err());
    }

    #[test]
    fn peek_gives_back_every_byte() {
        let (head, mut r) = peek(Box::new(&b"hello world"[..]), 4).unwrap();
        assert_eq!(head, b"hell");
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"hello world");
    }
}
