//! The text format of PostgreSQL `COPY … FROM stdin` data, as pg_dump writes it: one row per
//! line, fields separated by a tab, `\N` for NULL, backslash escapes (`\\ \t \n \r \b \f \v`,
//! octal `\ooo`, hex `\xhh`, and a backslash before any other byte meaning that byte: `\x`
//! before a non-hex byte is a literal `x`), and a line `\.` ending the block.
//!
//! Fields are found as raw spans of the line, so a field that does not change is copied back
//! byte for byte; only a changed value goes through [`encode`], which writes exactly the
//! escaping COPY needs to read it back as the same bytes.
//!
//! The client encoding matters: in SJIS, BIG5, GBK, GB18030, UHC and JOHAB the second byte of
//! a character can be 0x5C, which there is not a backslash. [`Encoding`] steps over whole
//! characters in those encodings, as PostgreSQL's own COPY reader does.
//!
//! ```
//! use phiscrub::formats::pg_copy::{self, Encoding};
//! let line = b"1\tO\\'Brien\\tJr\t\\N";
//! let mut fields = Vec::new();
//! pg_copy::split_fields(line, Encoding::Ascii, &mut fields);
//! assert_eq!(fields.len(), 3);
//! assert!(pg_copy::is_null(&line[fields[2].clone()]));
//! let mut v = Vec::new();
//! pg_copy::decode(&line[fields[1].clone()], Encoding::Ascii, &mut v);
//! assert_eq!(v, b"O'Brien\tJr");
//! let mut back = Vec::new();
//! pg_copy::encode(&v, Encoding::Ascii, &mut back);
//! assert_eq!(back, b"O'Brien\\tJr");
//! ```

use std::ops::Range;

/// How a client encoding lays out characters, as far as finding ASCII bytes goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// Every encoding whose multibyte characters never contain an ASCII byte (UTF8, LATIN*,
    /// WIN*, EUC_*, …): bytes can be looked at one by one.
    #[default]
    Ascii,
    /// Shift JIS (`SJIS`, `SHIFT_JIS_2004`): lead 0x81–0x9F or 0xE0–0xFC, trail may be 0x5C.
    Sjis,
    /// `BIG5`, `GBK`, `UHC`: any high-bit byte leads a two-byte character.
    DoubleByte,
    /// `GB18030`: two bytes, or four when the second is an ASCII digit.
    Gb18030,
    /// `JOHAB`: two-byte characters after a high-bit lead (0x8E/0x8F as in EUC).
    Johab,
}

impl Encoding {
    /// Every layout the codecs tell apart, for tests and fuzz targets that must cover each.
    pub const ALL: [Encoding; 5] = [
        Encoding::Ascii,
        Encoding::Sjis,
        Encoding::DoubleByte,
        Encoding::Gb18030,
        Encoding::Johab,
    ];

    /// The layout of a PostgreSQL encoding name (`SET client_encoding = '…'`), case and `_`/`-`
    /// insensitive; unknown names are taken as ASCII-safe, which is what every server encoding is.
    pub fn from_name(name: &str) -> Encoding {
        let n: String = name
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        match n.as_str() {
            "SJIS" | "SHIFTJIS" | "SHIFTJIS2004" | "MSKANJI" | "WIN932" | "WINDOWS932" => {
                Encoding::Sjis
            }
            "BIG5" | "WIN950" | "WINDOWS950" | "GBK" | "WIN936" | "WINDOWS936" | "CP936"
            | "UHC" | "WIN949" | "WINDOWS949" => Encoding::DoubleByte,
            "GB18030" => Encoding::Gb18030,
            "JOHAB" => Encoding::Johab,
            _ => Encoding::Ascii,
        }
    }

    /// Length of the character starting at `b[i]` (at least 1, at most what is left).
    #[inline]
    pub fn char_len(self, b: &[u8], i: usize) -> usize {
        let c = b[i];
        let n = match self {
            _ if c < 0x80 => 1,
            Encoding::Ascii => 1,
            Encoding::Sjis => {
                if (0xA1..=0xDF).contains(&c) {
                    1
                } else {
                    2
                }
            }
            Encoding::DoubleByte => 2,
            Encoding::Gb18030 => match b.get(i + 1) {
                Some(d) if d.is_ascii_digit() => 4,
                _ => 2,
            },
            Encoding::Johab => {
                if c == 0x8F {
                    3
                } else {
                    2
                }
            }
        };
        n.min(b.len() - i)
    }

    /// Whether the character starting at `b[i]` needs more bytes than `b` has left: a lead
    /// byte cut short by the end of a value, which read back inside a line or a literal would
    /// take the delimiter or quote after it as its trail byte.
    #[inline]
    pub fn cut_short(self, b: &[u8], i: usize) -> bool {
        let mut probe = [b'@'; 4];
        let n = (b.len() - i).min(4);
        probe[..n].copy_from_slice(&b[i..i + n]);
        self.char_len(&probe, 0) > n
    }

    /// Whether a multibyte character can hide an ASCII byte (so bytes must be stepped over by
    /// character, not searched for).
    #[inline]
    pub fn embeds_ascii(self) -> bool {
        self != Encoding::Ascii
    }
}

/// Appends `c` as a three-digit octal escape (`\\225`), which both COPY text and `E'…'`
/// strings read back as that byte.
#[inline]
pub fn push_octal(c: u8, out: &mut Vec<u8>) {
    out.extend_from_slice(&[
        b'\\',
        b'0' + (c >> 6),
        b'0' + ((c >> 3) & 7),
        b'0' + (c & 7),
    ]);
}

/// Whether a raw field is the NULL marker.
#[inline]
pub fn is_null(raw: &[u8]) -> bool {
    raw == b"\\N"
}

/// Whether a line (without its `\n`) ends a COPY block.
#[inline]
pub fn is_end_marker(line: &[u8]) -> bool {
    line == b"\\." || line == b"\\.\r"
}

/// Splits one data line (without its line end) into raw field spans. A tab ends a field
/// unless a backslash escapes it.
pub fn split_fields(line: &[u8], enc: Encoding, out: &mut Vec<Range<usize>>) {
    split_first_fields(line, enc, usize::MAX, out)
}

/// [`split_fields`] of at most the first `n` fields: for a pass that needs only the leading
/// columns (the ids a dump prefetches), the rest of a long line is not read.
pub fn split_first_fields(line: &[u8], enc: Encoding, n: usize, out: &mut Vec<Range<usize>>) {
    out.clear();
    if n == 0 {
        return;
    }
    let mut start = 0;
    let mut i = 0;
    if !enc.embeds_ascii() {
        while let Some(p) = memchr::memchr2(b'\t', b'\\', &line[i..]) {
            let at = i + p;
            if line[at] == b'\t' {
                out.push(start..at);
                if out.len() == n {
                    return;
                }
                start = at + 1;
                i = at + 1;
            } else {
                i = (at + 2).min(line.len());
            }
        }
    } else {
        while i < line.len() {
            match line[i] {
                b'\t' => {
                    out.push(start..i);
                    if out.len() == n {
                        return;
                    }
                    start = i + 1;
                    i += 1;
                }
                b'\\' => i = (i + 2).min(line.len()),
                _ => i += enc.char_len(line, i),
            }
        }
    }
    out.push(start..line.len());
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One escape at `raw[i]` (a backslash): the byte it stands for and the raw length it takes.
#[inline]
fn unescape(raw: &[u8], i: usize) -> (u8, usize) {
    let Some(&c) = raw.get(i + 1) else {
        // A lone backslash at the end: PostgreSQL keeps it.
        return (b'\\', 1);
    };
    match c {
        b'0'..=b'7' => {
            let mut v = u32::from(c - b'0');
            let mut n = 2;
            while n < 4 {
                match raw.get(i + n) {
                    Some(&d @ b'0'..=b'7') => {
                        v = v * 8 + u32::from(d - b'0');
                        n += 1;
                    }
                    _ => break,
                }
            }
            ((v & 0xFF) as u8, n)
        }
        b'x' => match raw.get(i + 2).and_then(|&d| hex_val(d)) {
            Some(h) => match raw.get(i + 3).and_then(|&d| hex_val(d)) {
                Some(l) => ((h << 4) | l, 4),
                None => (h, 3),
            },
            None => (b'x', 2),
        },
        b'b' => (0x08, 2),
        b'f' => (0x0C, 2),
        b'n' => (b'\n', 2),
        b'r' => (b'\r', 2),
        b't' => (b'\t', 2),
        b'v' => (0x0B, 2),
        other => (other, 2),
    }
}

/// Appends the value a raw (non-NULL) field stands for.
pub fn decode(raw: &[u8], enc: Encoding, out: &mut Vec<u8>) {
    let mut i = 0;
    if !enc.embeds_ascii() {
        while let Some(p) = memchr::memchr(b'\\', &raw[i..]) {
            out.extend_from_slice(&raw[i..i + p]);
            let (b, n) = unescape(raw, i + p);
            out.push(b);
            i += p + n;
        }
        out.extend_from_slice(&raw[i..]);
        return;
    }
    while i < raw.len() {
        if raw[i] == b'\\' {
            let (b, n) = unescape(raw, i);
            out.push(b);
            i += n;
        } else {
            let n = enc.char_len(raw, i);
            out.extend_from_slice(&raw[i..i + n]);
            i += n;
        }
    }
}

/// Whether a raw field needs decoding at all (has a backslash); without one it is its value.
#[inline]
pub fn has_escape(raw: &[u8]) -> bool {
    memchr::memchr(b'\\', raw).is_some()
}

/// The offset in `raw` of decoded position `pos` (for exact report positions).
pub fn raw_offset(raw: &[u8], enc: Encoding, pos: usize) -> usize {
    let (mut i, mut d) = (0, 0);
    while d < pos && i < raw.len() {
        if raw[i] == b'\\' {
            i += unescape(raw, i).1;
            d += 1;
        } else {
            let n = enc.char_len(raw, i);
            i += n;
            d += n;
        }
    }
    i
}

/// Appends `value` escaped for a COPY text field: backslash, tab, newline, carriage return and
/// the other control bytes escaped (so a value `\N` or `\.` reads back as that text, never as
/// NULL or the end marker); every other byte, and every multibyte character of `enc`, as is.
pub fn encode(value: &[u8], enc: Encoding, out: &mut Vec<u8>) {
    // Most replacements (tokens, shaped ids, dates) need no escape: one copy. A rewritten
    // note mostly needs one here and there (a tab): the runs between are copied whole.
    let mut i = plain_run(value, enc);
    if i == value.len() {
        out.extend_from_slice(value);
        return;
    }
    out.reserve(value.len() + 8);
    out.extend_from_slice(&value[..i]);
    while i < value.len() {
        i = one_char(value, i, enc, out);
        let run = plain_run(&value[i..], enc);
        out.extend_from_slice(&value[i..i + run]);
        i += run;
    }
}

/// Encodes the one character at `value[i]` and returns where the next one starts.
fn one_char(value: &[u8], i: usize, enc: Encoding, out: &mut Vec<u8>) -> usize {
    let c = value[i];
    let esc: Option<u8> = match c {
        b'\\' => Some(b'\\'),
        b'\t' => Some(b't'),
        b'\n' => Some(b'n'),
        b'\r' => Some(b'r'),
        0x08 => Some(b'b'),
        0x0C => Some(b'f'),
        0x0B => Some(b'v'),
        _ => None,
    };
    if let Some(e) = esc {
        out.extend_from_slice(&[b'\\', e]);
        return i + 1;
    }
    let n = if c < 0x80 { 1 } else { enc.char_len(value, i) };
    // A high byte whose character is cut short by the end of the value, or holds a control
    // byte, starts no character of `enc`: copied as is, it would take the tab or line end
    // after it into its character when read back (or put a raw line end in the line). Such a
    // lead byte alone is written as an octal escape, like a control byte, and what follows is
    // encoded on its own.
    let broken = (c >= 0x80 && enc.cut_short(value, i))
        || value[i + 1..i + n].iter().any(|&t| t < 0x20 || t == 0x7F);
    if c < 0x20 || c == 0x7F || broken {
        push_octal(c, out);
        i + 1
    } else {
        out.extend_from_slice(&value[i..i + n]);
        i + n
    }
}

/// The length of the leading run of `value` that [`encode`] copies as it is: printable ASCII
/// but the backslash, and in an ASCII-safe encoding every high byte too (a multibyte
/// character of the others is stepped over by [`encode`] itself). Blocks of 16 bytes are
/// tested with no early exit inside, which the compiler turns into vector compares.
fn plain_run(value: &[u8], enc: Encoding) -> usize {
    let high_plain = enc == Encoding::Ascii;
    let special = |c: u8| c < 0x20 || c == b'\\' || c == 0x7F || (c >= 0x80 && !high_plain);
    let mut done = 0;
    for block in value.chunks_exact(16) {
        if block.iter().fold(false, |any, &c| any | special(c)) {
            break;
        }
        done += 16;
    }
    done + value[done..]
        .iter()
        .position(|&c| special(c))
        .unwrap_or(value.len() - done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(raw: &[u8], enc: Encoding) -> Vec<u8> {
        let mut v = Vec::new();
        decode(raw, enc, &mut v);
        v
    }

    /// The byte-at-a-time encoder the run-copying one replaced (one character at a time,
    /// no runs), as the reference it must equal.
    fn bytewise(value: &[u8], enc: Encoding, out: &mut Vec<u8>) {
        let mut i = 0;
        while i < value.len() {
            i = one_char(value, i, enc, out);
        }
    }

    #[test]
    fn run_copying_encoder_equals_the_bytewise_one() {
        let mut rng = crate::test_rng::Rng(0x00c0_ffee_1234_5678);
        // Mostly text with a few of each kind of byte the encoder must look at.
        let pool: Vec<u8> = b"abcdefghijklmnop qrstuvwxyz0123456789-.,"
            .iter()
            .copied()
            .chain([
                b'\\', b'\t', b'\n', b'\r', 0x08, 0x0B, 0x0C, 0x01, 0x7F, 0x5C,
            ])
            .chain([0x81, 0x95, 0xA1, 0xC3, 0xA9, 0xE0, 0xFC, 0x8E, 0x8F])
            .collect();
        let encodings = Encoding::ALL;
        for _ in 0..4000 {
            let len = rng.below(90) as usize;
            let v: Vec<u8> = (0..len)
                .map(|_| pool[rng.below(pool.len() as u64) as usize])
                .collect();
            for e in encodings {
                let (mut fast, mut slow) = (b"x".to_vec(), b"x".to_vec());
                encode(&v, e, &mut fast);
                bytewise(&v, e, &mut slow);
                assert_eq!(fast, slow, "{e:?} {v:?}");
            }
        }
    }

    fn enc(v: &[u8], e: Encoding) -> Vec<u8> {
        let mut o = Vec::new();
        encode(v, e, &mut o);
        o
    }

    /// Splits a whole line the way a reader of the encoded line would.
    fn fields(line: &[u8], e: Encoding) -> Vec<Vec<u8>> {
        let mut f = Vec::new();
        split_fields(line, e, &mut f);
        f.into_iter().map(|r| line[r].to_vec()).collect()
    }

    #[test]
    fn escapes_decode_table() {
        for (raw, want) in [
            (&b"plain"[..], &b"plain"[..]),
            (b"a\\\\b", b"a\\b"),
            (b"\\t\\n\\r\\b\\f\\v", b"\t\n\r\x08\x0c\x0b"),
            (b"\\101\\0\\7x", b"A\0\x07x"),
            (b"\\1011", b"A1"),
            (b"\\377", b"\xff"),
            (b"\\400", b"\x00"),
            (b"\\x41\\x4", b"A\x04"),
            (b"\\x4g", b"\x04g"),
            (b"\\xzz", b"xzz"),
            (b"\\x", b"x"),
            (b"\\q\\.\\N", b"q.N"),
            (b"\\\\N", b"\\N"),
            (b"end\\", b"end\\"),
        ] {
            assert_eq!(
                dec(raw, Encoding::Ascii),
                want,
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn split_table() {
        for (line, want) in [
            (&b"a\tb\tc"[..], vec![&b"a"[..], b"b", b"c"]),
            (b"", vec![b""]),
            (b"\t", vec![b"", b""]),
            (b"a\\\tb\tc", vec![b"a\\\tb", b"c"]),
            (b"a\\\\\tb", vec![b"a\\\\", b"b"]),
            (b"\\N\t\\N", vec![b"\\N", b"\\N"]),
            (b"x\\", vec![b"x\\"]),
        ] {
            assert_eq!(fields(line, Encoding::Ascii), want);
        }
    }

    #[test]
    fn first_fields_are_a_prefix_of_all_fields() {
        let lines: [&[u8]; 6] = [
            b"1\t2\t3\tnotes with \\t\\\\ escapes",
            b"",
            b"\t\t",
            b"a\\\tb\tc",
            b"x\\",
            // Shift_JIS: 0x5C as a trail byte is no backslash, so the tab after it splits.
            b"\x95\x5c\tz",
        ];
        for enc in [Encoding::Ascii, Encoding::Sjis] {
            for line in lines {
                let mut all = Vec::new();
                split_fields(line, enc, &mut all);
                for n in 0..all.len() + 2 {
                    let mut first = Vec::new();
                    split_first_fields(line, enc, n, &mut first);
                    assert_eq!(first, all[..n.min(all.len())], "{line:?} {enc:?} n={n}");
                }
            }
        }
    }

    #[test]
    fn null_and_end_marker_are_never_produced_by_encode() {
        for v in [&b"\\N"[..], b"\\.", b"\\", b"N"] {
            let e = enc(v, Encoding::Ascii);
            assert!(!is_null(&e), "{e:?}");
            assert!(!is_end_marker(&e), "{e:?}");
            assert_eq!(dec(&e, Encoding::Ascii), v);
        }
    }

    #[test]
    fn every_single_byte_round_trips() {
        for b in 0..=255u8 {
            let v = [b];
            let e = enc(&v, Encoding::Ascii);
            assert!(!e.contains(&b'\t') && !e.contains(&b'\n') && !e.contains(&b'\r'));
            assert_eq!(fields(&e, Encoding::Ascii).len(), 1, "byte {b}");
            assert_eq!(dec(&e, Encoding::Ascii), v, "byte {b}");
            // The same with neighbours that could be taken as octal or hex digits.
            let v = [b'x', b, b'7', b'f'];
            assert_eq!(
                dec(&enc(&v, Encoding::Ascii), Encoding::Ascii),
                v,
                "byte {b} in context"
            );
        }
    }

    /// xorshift64*: a fixed-seed generator, so the test data are the same every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
    }

    #[test]
    fn random_byte_strings_round_trip_in_a_line() {
        // Every client encoding: a high byte that starts no whole character (cut short by the
        // end of the value, or followed by a control byte) once took the tab after it into
        // its character, or put a raw line end in the line (found by fuzz/pg_copy_roundtrip).
        let encodings = Encoding::ALL;
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..10_000 {
            let enc = encodings[round % encodings.len()];
            let n = (rng.next() % 40) as usize;
            let mut vals: Vec<Vec<u8>> = Vec::new();
            for _ in 0..3 {
                // Biased towards the bytes that matter: backslash, tab, newline, digits, x, N, '.'.
                let v: Vec<u8> = (0..n)
                    .map(|_| {
                        let r = rng.next();
                        match r % 4 {
                            0 => b"\\\t\n\rxN.07fF"[(r >> 8) as usize % 11],
                            1 => 0x80 | (r >> 24) as u8,
                            _ => (r >> 16) as u8,
                        }
                    })
                    .collect();
                vals.push(v);
            }
            let mut line = Vec::new();
            for (i, v) in vals.iter().enumerate() {
                if i > 0 {
                    line.push(b'\t');
                }
                encode(v, enc, &mut line);
            }
            assert!(!line.contains(&b'\n'), "{enc:?}");
            let got: Vec<Vec<u8>> = fields(&line, enc).iter().map(|f| dec(f, enc)).collect();
            assert_eq!(got, vals, "{enc:?}");
        }
    }

    #[test]
    fn an_unchanged_field_is_its_raw_span() {
        let line = b"1\t\\x41\\\\N\t\xe2\x82\xac\\t\t\\N";
        let mut f = Vec::new();
        split_fields(line, Encoding::Ascii, &mut f);
        let mut rebuilt = Vec::new();
        for (i, r) in f.iter().enumerate() {
            if i > 0 {
                rebuilt.push(b'\t');
            }
            rebuilt.extend_from_slice(&line[r.clone()]);
        }
        assert_eq!(rebuilt, line);
        assert_eq!(dec(&line[f[1].clone()], Encoding::Ascii), b"A\\N");
    }

    #[test]
    fn sjis_trail_backslash_is_not_an_escape() {
        // 0x95 0x5C is one SJIS character (表); a tab after it still splits.
        let line = b"\x95\x5c\t\x95\x5c\\t";
        let f = fields(line, Encoding::Sjis);
        assert_eq!(f, vec![&b"\x95\x5c"[..], b"\x95\x5c\\t"]);
        assert_eq!(dec(&f[1], Encoding::Sjis), b"\x95\x5c\t");
        // Read as bytes, the trail would have escaped the tab.
        assert_eq!(fields(line, Encoding::Ascii).len(), 1);
        let v = b"\x95\x5c\\\x95\x5c";
        assert_eq!(enc(v, Encoding::Sjis), b"\x95\x5c\\\\\x95\x5c");
        assert_eq!(dec(&enc(v, Encoding::Sjis), Encoding::Sjis), v);
        // Half-width katakana are single bytes in SJIS.
        assert_eq!(Encoding::Sjis.char_len(b"\xb1\\", 0), 1);
    }

    #[test]
    fn other_multibyte_encodings() {
        for (name, e, ch) in [
            ("BIG5", Encoding::DoubleByte, &b"\xa5\x5c"[..]),
            ("gbk", Encoding::DoubleByte, b"\x81\x5c"),
            ("UHC", Encoding::DoubleByte, b"\x81\x5c"),
            ("GB18030", Encoding::Gb18030, b"\x81\x30\x81\x30"),
            ("GB18030", Encoding::Gb18030, b"\x81\x5c"),
            ("JOHAB", Encoding::Johab, b"\x84\x5c"),
            ("Shift_JIS_2004", Encoding::Sjis, b"\x81\x5c"),
        ] {
            assert_eq!(Encoding::from_name(name), e);
            let mut v = ch.to_vec();
            v.extend_from_slice(b"\\\t");
            v.extend_from_slice(ch);
            let line = enc(&v, e);
            let f = fields(&line, e);
            assert_eq!(f.len(), 1, "{name}");
            assert_eq!(dec(&f[0], e), v, "{name}");
        }
        assert_eq!(Encoding::from_name("UTF8"), Encoding::Ascii);
        assert_eq!(Encoding::from_name("EUC_JP"), Encoding::Ascii);
    }

    #[test]
    fn raw_offsets_of_decoded_positions() {
        let raw = b"a\\tb\\101c";
        for (pos, want) in [(0, 0), (1, 1), (2, 3), (3, 4), (4, 8), (5, 9)] {
            assert_eq!(raw_offset(raw, Encoding::Ascii, pos), want, "{pos}");
        }
    }
}
