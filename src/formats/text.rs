//! Text and log streams: cut at line boundaries into chunks that workers can scan on their own,
//! without a line length limit and with bounded memory.
//!
//! Rules for a cut, in order: after the last newline; never inside a PEM block (`-----BEGIN`
//! without its `-----END`), so a private key is found whole; and when one line outgrows the
//! hard limit, at its last white space or punctuation, or as a last resort anywhere. Each chunk
//! starts with a copy of the end of the previous one as read-only context, so a hotword just
//! before a cut still counts and results do not depend on where cuts fall.

use std::io::{self, Read};

use memchr::memmem;

use super::image;

/// Bytes of the previous chunk kept in front of the next as context (at least the widest rule
/// window).
pub const CONTEXT_BYTES: usize = 256;

/// One piece of input: `data[..body_start]` is context, `data[body_start..]` is new.
#[derive(Debug)]
pub struct Chunk {
    pub seq: u64,
    pub data: Vec<u8>,
    pub body_start: usize,
    /// Byte offset of the body in the whole stream.
    pub offset: u64,
}

impl Chunk {
    pub fn body(&self) -> &[u8] {
        &self.data[self.body_start..]
    }
}

/// How far back from a cut an unterminated PEM block is looked for.
const PEM_REACH: usize = 64 << 10;

/// Sizes that bound memory.
#[derive(Debug, Clone, Copy)]
pub struct ChunkLimits {
    /// Cut once this much is buffered (at the last newline).
    pub target: usize,
    /// A single line longer than this is cut inside the line.
    pub hard_max: usize,
}

impl Default for ChunkLimits {
    fn default() -> Self {
        ChunkLimits {
            target: 1 << 20,
            hard_max: 4 << 20,
        }
    }
}

/// Where to cut `buf` (an exclusive end), or `None` to read more first.
///
/// Besides the line rules, a cut never falls inside an image embedded in binary input (a JPEG,
/// PNG or GIF up to [`image::EMBEDDED_MAX`]): the cut moves after an image the buffer already
/// holds, or before one it does not yet hold whole, so the PHOTO finding covers all of it.
pub fn cut_point(buf: &[u8], start: usize, eof: bool, limits: ChunkLimits) -> Option<usize> {
    let cut = line_cut_point(buf, start, eof, limits)?;
    if eof {
        return Some(cut);
    }
    match image::straddling(&buf[start..], cut - start) {
        None => Some(cut),
        Some(image::Straddle::EndsAt(e)) => Some(start + e),
        Some(image::Straddle::StartsAt(p)) if p > 0 => Some(start + p),
        // The chunk starts with an image still arriving: read on.
        Some(image::Straddle::StartsAt(_)) => None,
    }
}

fn line_cut_point(buf: &[u8], start: usize, eof: bool, limits: ChunkLimits) -> Option<usize> {
    let body = &buf[start..];
    if body.is_empty() {
        return None;
    }
    if eof {
        return Some(buf.len());
    }
    let over = body.len() >= limits.hard_max;
    if let Some(nl) = memchr::memrchr(b'\n', body) {
        let mut cut = start + nl + 1;
        // Keep an open PEM block for the next chunk, unless it alone fills the hard limit. Only
        // the chunk's tail is searched: a key block is a few KiB, and a reverse search over
        // every whole chunk would cost more than it finds.
        let tail = cut.saturating_sub(PEM_REACH).max(start);
        if let Some(b) = memmem::rfind(&buf[tail..cut], b"-----BEGIN ") {
            let b = tail + b;
            if memmem::find(&buf[b..cut], b"-----END ").is_none() {
                let line_start =
                    memchr::memrchr(b'\n', &buf[start..b]).map_or(start, |p| start + p + 1);
                if line_start > start {
                    cut = line_start;
                } else if !over {
                    return None;
                }
            }
        }
        return Some(cut);
    }
    if !over {
        return None;
    }
    // One enormous line: prefer white space, then punctuation, in the later half.
    let half = start + limits.hard_max / 2;
    let window = &buf[half..start + limits.hard_max];
    let pos = window
        .iter()
        .rposition(|b| b.is_ascii_whitespace())
        .or_else(|| window.iter().rposition(|b| b",;\"'<>{}[]()|&".contains(b)));
    Some(pos.map_or(start + limits.hard_max, |p| half + p + 1))
}

/// Reads `input` and calls `emit` with each chunk, in order.
///
/// With `idle` (a pipe or terminal), a short read is followed by asking `idle()` whether more
/// input is waiting: if not, the complete lines so far go out at once, so `tail -f | phiscrub`
/// shows each line promptly, while a fast producer (`pg_dump |`) still fills whole chunks.
/// Files are cut at `target`.
///
/// # Errors
/// A read error, with the byte offset reached; or whatever `emit` returns.
///
/// `spare` hands back buffers of chunks already done, so a long run reuses a few allocations
/// instead of faulting in fresh pages for every chunk.
pub fn read_chunks<R: Read + ?Sized, E>(
    input: &mut R,
    idle: Option<&dyn Fn() -> bool>,
    limits: ChunkLimits,
    mut spare: impl FnMut() -> Option<Vec<u8>>,
    mut emit: impl FnMut(Chunk) -> Result<(), E>,
) -> Result<u64, E>
where
    E: From<(io::Error, u64)>,
{
    let capacity = limits.target + CONTEXT_BYTES;
    let mut fresh = move || match spare() {
        Some(mut v) => {
            v.clear();
            v
        }
        None => Vec::with_capacity(capacity),
    };
    let mut buf: Vec<u8> = fresh();
    let mut start = 0usize; // body start within buf
    let mut offset = 0u64; // stream offset of buf[start]
    let mut seq = 0u64;
    let mut eof = false;
    while !eof {
        let want = limits.target.max(64 << 10);
        let old = buf.len();
        let n = if idle.is_none() {
            // A file: fill up to `want` without zeroing the buffer first.
            match (&mut *input).take(want as u64).read_to_end(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    buf.truncate(old);
                    return Err(E::from((e, offset + (old - start) as u64)));
                }
            }
        } else {
            buf.resize(old + want, 0);
            let n = loop {
                match input.read(&mut buf[old..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        buf.truncate(old);
                        return Err(E::from((e, offset + (old - start) as u64)));
                    }
                }
            };
            buf.truncate(old + n);
            n
        };
        eof = n == 0;
        let short = n < want;
        let body_len = buf.len() - start;
        let quiet = short && idle.is_some_and(|f| f());
        if !(eof || body_len >= limits.target || quiet) {
            continue;
        }
        while let Some(cut) = cut_point(&buf, start, eof, limits) {
            let ctx_from = cut.saturating_sub(CONTEXT_BYTES);
            let mut next = fresh();
            next.extend_from_slice(&buf[ctx_from..]);
            let next_start = cut - ctx_from;
            buf.truncate(cut);
            let chunk = Chunk {
                seq,
                data: std::mem::replace(&mut buf, next),
                body_start: start,
                offset,
            };
            offset += (cut - start) as u64;
            seq += 1;
            start = next_start;
            emit(chunk)?;
            if eof || buf.len() - start < limits.target {
                break;
            }
        }
    }
    Ok(offset)
}

/// Whether standard input has nothing to read right now (a zero-timeout `poll`). On error it
/// says idle, which only costs a smaller chunk.
pub fn stdin_idle() -> bool {
    let mut fds = libc::pollfd {
        fd: 0,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1, zero timeout; poll writes only `revents`.
    let n = unsafe { libc::poll(&mut fds, 1, 0) };
    n <= 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E;
    impl From<(io::Error, u64)> for E {
        fn from(_: (io::Error, u64)) -> Self {
            E
        }
    }

    fn chunks(input: &[u8], limits: ChunkLimits, interactive: bool) -> Vec<Chunk> {
        let mut out = Vec::new();
        let mut r = input;
        let idle = || true;
        let idle: Option<&dyn Fn() -> bool> = if interactive { Some(&idle) } else { None };
        read_chunks::<_, E>(
            &mut r,
            idle,
            limits,
            || None,
            |c| {
                out.push(c);
                Ok(())
            },
        )
        .unwrap();
        out
    }

    #[test]
    fn bodies_concatenate_to_the_input_at_every_size() {
        let mut input = Vec::new();
        for i in 0..300 {
            input.extend_from_slice(format!("line {i} {}\n", "x".repeat(i % 37)).as_bytes());
        }
        input.extend_from_slice(b"-----BEGIN RSA PRIVATE KEY-----\nabc\ndef\n-----END RSA PRIVATE KEY-----\nno newline at end");
        for target in [1usize, 2, 7, 64, 1000, 1 << 20] {
            let limits = ChunkLimits {
                target,
                hard_max: target.max(8) * 4,
            };
            let cs = chunks(&input, limits, false);
            let joined: Vec<u8> = cs.iter().flat_map(|c| c.body().to_vec()).collect();
            assert_eq!(joined, input, "target {target}");
            let mut off = 0;
            for (i, c) in cs.iter().enumerate() {
                assert_eq!(c.seq, i as u64);
                assert_eq!(c.offset, off);
                off += c.body().len() as u64;
                assert!(c.body_start <= CONTEXT_BYTES);
                // context is exactly the bytes before the body
                let ctx = &c.data[..c.body_start];
                assert_eq!(
                    ctx,
                    &input[c.offset as usize - ctx.len()..c.offset as usize]
                );
                let has_begin = memmem::find(c.body(), b"-----BEGIN").is_some();
                if has_begin && target < (1 << 20) && c.body().len() < limits.hard_max {
                    assert!(
                        memmem::find(c.body(), b"-----END").is_some(),
                        "PEM kept whole"
                    );
                }
            }
        }
    }

    #[test]
    fn huge_line_is_cut_within_the_hard_limit() {
        let mut input = vec![b'a'; 10_000];
        input[6_000] = b' ';
        let limits = ChunkLimits {
            target: 1000,
            hard_max: 4000,
        };
        let cs = chunks(&input, limits, false);
        assert!(cs.iter().all(|c| c.body().len() <= 4000));
        assert_eq!(cs.iter().map(|c| c.body().len()).sum::<usize>(), 10_000);
    }

    #[test]
    fn empty_input_gives_no_chunk() {
        assert!(chunks(b"", ChunkLimits::default(), false).is_empty());
    }

    /// A reader that returns one line per read, like a slow pipe.
    struct Trickle(Vec<Vec<u8>>);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let l = self.0.remove(0);
            buf[..l.len()].copy_from_slice(&l);
            Ok(l.len())
        }
    }

    #[test]
    fn interactive_input_is_cut_per_short_read() {
        let mut r = Trickle(vec![
            b"one\n".to_vec(),
            b"two\n".to_vec(),
            b"thr".to_vec(),
            b"ee\n".to_vec(),
        ]);
        let mut bodies = Vec::new();
        read_chunks::<_, E>(
            &mut r,
            Some(&|| true),
            ChunkLimits::default(),
            || None,
            |c| {
                bodies.push(c.body().to_vec());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(
            bodies,
            vec![b"one\n".to_vec(), b"two\n".to_vec(), b"three\n".to_vec()]
        );
    }
}
