//! MySQL/MariaDB SQL at the byte level, as `mysqldump` and `mariadb-dump` write it: tokens
//! with their exact raw spans, statement splitting, and the codec of string and hex literals.
//!
//! Scrubbing a dump must copy every byte it does not change, so nothing here normalises: a
//! token is a kind plus the span it came from, a value is the span of its literal (with any
//! `_charset` introducer) plus the span of its body, and rewriting is "copy the spans you keep,
//! encode the ones you replace" with the escaping `mysqldump` itself uses
//! (`mysql_real_escape_string`: `\0 \n \r \\ \' \" \Z`, everything else raw).
//!
//! Two session settings change how the same bytes lex, and a dump may set both:
//! * the client character set: in `sjis`/`cp932`, `big5`, `gbk` and `gb18030` the second byte
//!   of a multibyte character can be `0x5C` (a backslash in ASCII) or `0x60` (a backquote), so
//!   the lexer steps over whole characters there, as the server does ([`Charset`]);
//! * `NO_BACKSLASH_ESCAPES` in `sql_mode`: a backslash is then an ordinary byte and only a
//!   doubled quote escapes ([`Mode::backslash`]).
//!
//! Functions that look past the bytes they are given say so with [`LexError::More`] when the
//! input may continue (`eof == false`), so a caller reading a stream in blocks reads more and
//! tries again, and with [`LexError::Unterminated`] when it cannot.
//!
//! ```
//! use phiscrub::formats::mysql_sql::{decode_str, encode_str, Mode};
//! let mut enc = Vec::new();
//! encode_str(b"O'Neil\n\\", b'\'', Mode::DEFAULT, &mut enc);
//! assert_eq!(enc, br"O\'Neil\n\\");
//! assert_eq!(&*decode_str(&enc, b'\'', Mode::DEFAULT), b"O'Neil\n\\");
//! ```

use std::borrow::Cow;
use std::ops::Range;

use memchr::{memchr, memchr2, memmem};

/// Client character sets whose multibyte characters can hide an ASCII byte; every other one
/// (utf8mb4, latin1, binary, …) lexes byte by byte, since its continuation bytes are ≥ 0x80.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Plain,
    /// `sjis` and `cp932`.
    Sjis,
    Big5,
    Gbk,
    Gb18030,
}

impl Charset {
    /// The charset a `SET NAMES` or `character_set_client` value names.
    pub fn from_name(name: &str) -> Charset {
        match name.trim().to_ascii_lowercase().as_str() {
            "sjis" | "cp932" => Charset::Sjis,
            "big5" => Charset::Big5,
            "gbk" => Charset::Gbk,
            "gb18030" => Charset::Gb18030,
            _ => Charset::Plain,
        }
    }

    pub fn is_multibyte(self) -> bool {
        self != Charset::Plain
    }

    /// Whether `b` starts a multibyte character (whatever follows it).
    pub fn is_lead(self, b: u8) -> bool {
        match self {
            Charset::Plain => false,
            Charset::Sjis => matches!(b, 0x81..=0x9F | 0xE0..=0xFC),
            Charset::Big5 => matches!(b, 0xA1..=0xF9),
            Charset::Gbk | Charset::Gb18030 => matches!(b, 0x81..=0xFE),
        }
    }

    /// Length of the valid multibyte character at the start of `b`, or 1 when there is none
    /// (an ASCII byte, a lone lead byte, or a character cut off by the end of `b`). The ranges
    /// are the server's (`ismbchar_*` in `strings/ctype-*.c`).
    #[inline]
    pub fn char_len(self, b: &[u8]) -> usize {
        let (Some(&l), Some(&t)) = (b.first(), b.get(1)) else {
            return 1;
        };
        if !self.is_lead(l) {
            return 1;
        }
        let two = match self {
            Charset::Plain => false,
            Charset::Sjis => matches!(t, 0x40..=0x7E | 0x80..=0xFC),
            Charset::Big5 => matches!(t, 0x40..=0x7E | 0xA1..=0xFE),
            Charset::Gbk | Charset::Gb18030 => matches!(t, 0x40..=0x7E | 0x80..=0xFE),
        };
        if two {
            return 2;
        }
        if self == Charset::Gb18030
            && matches!(t, 0x30..=0x39)
            && matches!(b.get(2), Some(0x81..=0xFE))
            && matches!(b.get(3), Some(0x30..=0x39))
        {
            return 4;
        }
        1
    }
}

/// The session settings that decide how literals lex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    pub charset: Charset,
    /// Backslash escapes are on (`NO_BACKSLASH_ESCAPES` is not in `sql_mode`).
    pub backslash: bool,
}

impl Mode {
    /// A server's defaults: utf8mb4 and backslash escapes.
    pub const DEFAULT: Mode = Mode {
        charset: Charset::Plain,
        backslash: true,
    };
}

impl Default for Mode {
    fn default() -> Self {
        Mode::DEFAULT
    }
}

/// Why lexing stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexError {
    /// The bytes ran out inside a token and more may follow: read more, try again.
    More,
    /// The input ended inside `what` (a string literal, a comment, a row), which starts at
    /// byte `at` of the buffer.
    Unterminated { what: &'static str, at: usize },
    /// Something other than `what` was found at byte `at`.
    Unexpected { what: &'static str, at: usize },
}

fn short(eof: bool, what: &'static str, at: usize) -> LexError {
    if eof {
        LexError::Unterminated { what, at }
    } else {
        LexError::More
    }
}

/// Where a quoted string, or a backquoted identifier, whose opening quote is at `open` ends:
/// the index of its closing quote. Inside, a doubled quote is a quote; with backslash escapes
/// on (never in a backquoted name) a backslash takes the next byte with it; in a multibyte
/// charset whole characters are stepped over, so a trail byte 0x5C is no backslash.
///
/// # Errors
/// `Err(at)`: the bytes ended first; `at` is the last point from which lexing can resume in the
/// same state (after whole characters and escapes only).
#[inline]
pub fn quoted_end(buf: &[u8], open: usize, mode: Mode, eof: bool) -> Result<usize, usize> {
    quoted_scan(buf, open + 1, buf[open], mode, eof)
}

/// [`quoted_end`] from `pos`, a point inside a string quoted with `quote`.
///
/// # Errors
/// As [`quoted_end`].
pub fn quoted_scan(
    buf: &[u8],
    mut pos: usize,
    quote: u8,
    mode: Mode,
    eof: bool,
) -> Result<usize, usize> {
    let backslash = mode.backslash && quote != b'`';
    let mb = mode.charset.is_multibyte();
    loop {
        let rest = &buf[pos.min(buf.len())..];
        let next = if mb {
            rest.iter()
                .position(|&b| b == quote || (backslash && b == b'\\') || b >= 0x80)
        } else if backslash {
            memchr2(quote, b'\\', rest)
        } else {
            memchr(quote, rest)
        };
        let Some(i) = next else {
            return Err(buf.len().max(pos));
        };
        let at = pos + i;
        let b = buf[at];
        if b == quote {
            match buf.get(at + 1) {
                Some(&n) if n == quote => pos = at + 2,
                Some(_) => return Ok(at),
                None if eof => return Ok(at),
                None => return Err(at),
            }
        } else if b == b'\\' {
            if at + 1 >= buf.len() {
                return Err(at);
            }
            pos = at + 2;
        } else {
            let n = mode.charset.char_len(&buf[at..]);
            if n == 1 && !eof && mode.charset.is_lead(b) && at + 4 > buf.len() {
                // A lead byte at the end: its trail may be in the next block.
                return Err(at);
            }
            pos = at + n;
        }
    }
}

/// Whether a string body needs [`decode_str`] at all (an escape or a doubled quote in it).
#[inline]
pub fn has_escapes(body: &[u8], quote: u8, mode: Mode) -> bool {
    if mode.backslash {
        memchr2(b'\\', quote, body).is_some()
    } else {
        memchr(quote, body).is_some()
    }
}

/// The bytes a string literal's body (between its quotes) stands for, as the server reads it:
/// `\0 \' \" \b \n \r \t \Z \\` are their characters, `\%` and `\_` stay two bytes (so LIKE
/// patterns keep them), a backslash before any other byte is that byte, a doubled quote is
/// one quote, and in a multibyte charset a whole character is taken as it is.
pub fn decode_str(body: &[u8], quote: u8, mode: Mode) -> Cow<'_, [u8]> {
    if !has_escapes(body, quote, mode) {
        return Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len());
    let mb = mode.charset.is_multibyte();
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if mb && b >= 0x80 {
            let n = mode.charset.char_len(&body[i..]);
            out.extend_from_slice(&body[i..i + n]);
            i += n;
        } else if b == b'\\' && mode.backslash && i + 1 < body.len() {
            let e = body[i + 1];
            match e {
                b'0' => out.push(0),
                b'b' => out.push(8),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'Z' => out.push(0x1A),
                b'%' | b'_' => out.extend_from_slice(&[b'\\', e]),
                _ => out.push(e),
            }
            i += 2;
        } else if b == quote && body.get(i + 1) == Some(&quote) {
            out.push(quote);
            i += 2;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// Appends `value` escaped for the inside of a literal quoted with `quote`, the way
/// `mysql_real_escape_string` does it: with backslash escapes, `\0 \n \r \\ \' \" \Z` and every
/// other byte raw; without them, only the quote doubled. In a multibyte charset a valid
/// character is copied whole, and a lead byte that starts no valid character is escaped with a
/// backslash, so it cannot pair with the escape that follows into a character (0xBF 0x5C is
/// one GBK character).
pub fn encode_str(value: &[u8], quote: u8, mode: Mode, out: &mut Vec<u8>) {
    let mb = mode.charset.is_multibyte();
    // Most replacements (tokens, shaped ids, dates) need no escape: one run, one copy.
    let special = |&b: &u8| {
        b == quote
            || (mb && b >= 0x80)
            || (mode.backslash && matches!(b, 0 | b'\n' | b'\r' | b'\\' | b'\'' | b'"' | 0x1A))
    };
    out.reserve(value.len() + 8);
    let mut i = 0;
    while i < value.len() {
        // Bytes that need nothing are copied a run at a time: a rewritten note with one
        // quote in it went byte by byte from there on.
        let run = value[i..]
            .iter()
            .position(special)
            .unwrap_or(value.len() - i);
        out.extend_from_slice(&value[i..i + run]);
        i += run;
        if i < value.len() {
            i += one_char(&value[i..], quote, mode, out);
        }
    }
}

/// Encodes the character at the start of `rest` (not empty) and returns its length in bytes:
/// the step [`encode_str`] takes at each byte its runs stop at, and, at every byte, the
/// bytewise encoder its test compares with.
fn one_char(rest: &[u8], quote: u8, mode: Mode, out: &mut Vec<u8>) -> usize {
    let b = rest[0];
    if mode.charset.is_multibyte() && b >= 0x80 {
        let n = mode.charset.char_len(rest);
        if n > 1 {
            out.extend_from_slice(&rest[..n]);
            return n;
        }
        if mode.backslash && mode.charset.is_lead(b) {
            out.extend_from_slice(&[b'\\', b]);
            return 1;
        }
    }
    if !mode.backslash {
        if b == quote {
            out.push(quote);
        }
        out.push(b);
    } else {
        match b {
            0 => out.extend_from_slice(b"\\0"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\'' => out.extend_from_slice(b"\\'"),
            b'"' => out.extend_from_slice(b"\\\""),
            0x1A => out.extend_from_slice(b"\\Z"),
            _ => out.push(b),
        }
    }
    1
}

/// The bytes of hex digits (`0x…` body or `X'…'` body); an odd count is read with a leading 0,
/// as the server does for `0x…`.
pub fn decode_hex(digits: &[u8]) -> Vec<u8> {
    let nib = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    };
    let mut out = Vec::with_capacity(digits.len() / 2 + 1);
    let mut d = digits;
    if d.len() % 2 == 1 {
        out.push(nib(d[0]));
        d = &d[1..];
    }
    out.extend(d.chunks_exact(2).map(|p| (nib(p[0]) << 4) | nib(p[1])));
    out
}

/// Appends `value` as upper-case hex digits (as `mysqldump --hex-blob` writes them).
pub fn encode_hex(value: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(value.len() * 2);
    for &b in value {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 15) as usize]);
    }
}

/// Whether `v` can be written bare as a numeric literal (`-12`, `3.50`, `1e-3`).
pub fn is_number(v: &[u8]) -> bool {
    let v = v.strip_prefix(b"-").unwrap_or(v);
    let (int, rest) = v.split_at(v.iter().take_while(|b| b.is_ascii_digit()).count());
    let (frac, rest) = match rest.strip_prefix(b".") {
        Some(r) => r.split_at(r.iter().take_while(|b| b.is_ascii_digit()).count()),
        None => (&rest[..0], rest),
    };
    if int.is_empty() && frac.is_empty() {
        return false;
    }
    match rest {
        [] => true,
        [b'e' | b'E', exp @ ..] => {
            let exp = exp
                .strip_prefix(b"-")
                .or_else(|| exp.strip_prefix(b"+"))
                .unwrap_or(exp);
            !exp.is_empty() && exp.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// Whitespace and comments from `pos` on: `-- ` and `#` to the end of the line, `/* … */`.
/// With `versioned` given (inside a statement), the openers of executable comments
/// (`/*!40101`, `/*M!100100`) and the `*/` that closes one count as space too, since their
/// content is SQL the server runs (`/*!50705 0x…,*/` inside a row is a value); without it
/// (between statements) such an opener is where a statement starts and lexing stops there.
///
/// # Errors
/// [`LexError::More`] or [`LexError::Unterminated`] for a comment cut off by the end of `buf`.
pub fn skip_space(
    buf: &[u8],
    mut pos: usize,
    eof: bool,
    mut versioned: Option<&mut bool>,
) -> Result<usize, LexError> {
    loop {
        let Some(&b) = buf.get(pos) else {
            return Ok(pos);
        };
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C => pos += 1,
            b'#' => match memchr(b'\n', &buf[pos..]) {
                Some(i) => pos += i + 1,
                None if eof => return Ok(buf.len()),
                None => return Err(LexError::More),
            },
            b'-' if buf.get(pos + 1) == Some(&b'-') => match buf.get(pos + 2) {
                Some(&c) if c <= b' ' => match memchr(b'\n', &buf[pos..]) {
                    Some(i) => pos += i + 1,
                    None if eof => return Ok(buf.len()),
                    None => return Err(LexError::More),
                },
                None if !eof => return Err(LexError::More),
                _ => return Ok(pos),
            },
            b'*' if buf.get(pos + 1) == Some(&b'/') && versioned.as_deref() == Some(&true) => {
                if let Some(v) = versioned.as_deref_mut() {
                    *v = false;
                }
                pos += 2;
            }
            b'/' if buf.get(pos + 1) == Some(&b'*') => {
                if let Some(n) = versioned_opener(buf, pos, eof)? {
                    match versioned.as_deref_mut() {
                        Some(v) => {
                            *v = true;
                            pos += n;
                            continue;
                        }
                        None => return Ok(pos),
                    }
                }
                match memmem::find(&buf[pos + 2..], b"*/") {
                    Some(i) => pos += 2 + i + 2,
                    None => return Err(short(eof, "a comment", pos)),
                }
            }
            b'/' if buf.get(pos + 1).is_none() && !eof => return Err(LexError::More),
            b'-' if buf.get(pos + 1).is_none() && !eof => return Err(LexError::More),
            _ => return Ok(pos),
        }
    }
}

/// Length of an executable-comment opener at `pos` (`/*!`, `/*!50705`, `/*M!100100`), if one
/// is there.
fn versioned_opener(buf: &[u8], pos: usize, eof: bool) -> Result<Option<usize>, LexError> {
    let rest = &buf[pos..];
    let bang = match rest.get(2) {
        Some(b'!') => 3,
        Some(b'M') => match rest.get(3) {
            Some(b'!') => 4,
            Some(_) => return Ok(None),
            None if eof => return Ok(None),
            None => return Err(LexError::More),
        },
        Some(_) => return Ok(None),
        None if eof => return Ok(None),
        None => return Err(LexError::More),
    };
    let digits = rest[bang..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if bang + digits == rest.len() && !eof {
        return Err(LexError::More);
    }
    Ok(Some(bang + digits))
}

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokKind {
    /// A bare word: keyword, name, charset introducer (`_binary`), `NULL`.
    Word,
    /// A backquoted name.
    Quoted,
    /// A string literal in `'…'` or `"…"` (the quote byte), or `N'…'`.
    Str(u8),
    /// `0x…`, body after the `0x`.
    Hex,
    /// `X'…'`, body inside the quotes.
    HexQuoted,
    /// `0b…` or `b'…'`.
    Bit,
    Number,
    /// `@name`, `@@name`, `@@session.name`.
    Var,
    /// Any other byte (`(`, `,`, `;`, `=`, `-`, …).
    Punct(u8),
}

/// A token: its kind, its whole span, and the span of its content (a string's or hex
/// literal's body, a quoted name without its quotes; the whole span otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tok {
    pub kind: TokKind,
    pub span: Range<usize>,
    pub body: Range<usize>,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The token at `pos` (after space and comments; `versioned` tracks executable comments as in
/// [`skip_space`]), or `None` at the end of the input.
///
/// # Errors
/// [`LexError::More`] when the token may continue past `buf`; [`LexError::Unterminated`] for a
/// string or comment the input ends inside.
pub fn next_token(
    buf: &[u8],
    pos: usize,
    mode: Mode,
    eof: bool,
    versioned: &mut bool,
) -> Result<Option<Tok>, LexError> {
    let pos = skip_space(buf, pos, eof, Some(versioned))?;
    let Some(&b) = buf.get(pos) else {
        return if eof { Ok(None) } else { Err(LexError::More) };
    };
    let tok = |kind, span: Range<usize>, body: Range<usize>| Ok(Some(Tok { kind, span, body }));
    let quoted = |open: usize| {
        quoted_end(buf, open, mode, eof).map_err(|_| short(eof, "a string literal", open))
    };
    let word_end = |from: usize| -> Result<usize, LexError> {
        let mut i = from;
        while i < buf.len() && is_word_byte(buf[i]) {
            i += if buf[i] >= 0x80 {
                mode.charset.char_len(&buf[i..])
            } else {
                1
            };
        }
        if i >= buf.len() && !eof {
            return Err(LexError::More);
        }
        Ok(i.min(buf.len()))
    };
    match b {
        b'\'' | b'"' => {
            let end = quoted(pos)?;
            tok(TokKind::Str(b), pos..end + 1, pos + 1..end)
        }
        b'`' => {
            let end = quoted(pos)?;
            tok(TokKind::Quoted, pos..end + 1, pos + 1..end)
        }
        b'@' => {
            let mut i = pos + 1;
            if buf.get(i) == Some(&b'@') {
                i += 1;
            }
            match buf.get(i) {
                Some(b'`' | b'\'' | b'"') => {
                    let end = quoted(i)?;
                    return tok(TokKind::Var, pos..end + 1, i + 1..end);
                }
                None if !eof => return Err(LexError::More),
                _ => {}
            }
            let mut end = i;
            loop {
                end = word_end(end)?;
                if buf.get(end) == Some(&b'.') {
                    end += 1;
                } else {
                    break;
                }
            }
            tok(TokKind::Var, pos..end, pos..end)
        }
        b'x' | b'X' | b'b' | b'B' | b'n' | b'N' if buf.get(pos + 1) == Some(&b'\'') => {
            let end = quoted(pos + 1)?;
            let kind = match b {
                b'x' | b'X' => TokKind::HexQuoted,
                b'b' | b'B' => TokKind::Bit,
                _ => TokKind::Str(b'\''),
            };
            tok(kind, pos..end + 1, pos + 2..end)
        }
        b'0'..=b'9' | b'.' if b != b'.' || buf.get(pos + 1).is_some_and(u8::is_ascii_digit) => {
            if b == b'0' && matches!(buf.get(pos + 1), Some(b'x' | b'b')) {
                let hex = buf[pos + 1] == b'x';
                let end = word_end(pos + 2)?;
                let body = pos + 2..end;
                let ok = !body.is_empty()
                    && buf[body.clone()].iter().all(|&c| {
                        if hex {
                            c.is_ascii_hexdigit()
                        } else {
                            c == b'0' || c == b'1'
                        }
                    });
                if ok {
                    let kind = if hex { TokKind::Hex } else { TokKind::Bit };
                    return tok(kind, pos..end, body);
                }
                return tok(TokKind::Word, pos..end, pos..end);
            }
            let mut i = pos;
            let digits = |i: &mut usize| {
                while buf.get(*i).is_some_and(u8::is_ascii_digit) {
                    *i += 1;
                }
            };
            digits(&mut i);
            if buf.get(i) == Some(&b'.') {
                i += 1;
                digits(&mut i);
            }
            if matches!(buf.get(i), Some(b'e' | b'E')) {
                let mut j = i + 1;
                if matches!(buf.get(j), Some(b'+' | b'-')) {
                    j += 1;
                }
                if buf.get(j).is_some_and(u8::is_ascii_digit) {
                    i = j;
                    digits(&mut i);
                } else if j >= buf.len() && !eof {
                    return Err(LexError::More);
                }
            }
            if i >= buf.len() && !eof {
                return Err(LexError::More);
            }
            if buf.get(i).is_some_and(|&c| is_word_byte(c)) {
                // `1abc` is a name.
                let end = word_end(i)?;
                return tok(TokKind::Word, pos..end, pos..end);
            }
            tok(TokKind::Number, pos..i, pos..i)
        }
        b if is_word_byte(b) => {
            let end = word_end(pos)?;
            tok(TokKind::Word, pos..end, pos..end)
        }
        _ => tok(TokKind::Punct(b), pos..pos + 1, pos..pos + 1),
    }
}

/// What literal a value of a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lit {
    Null,
    /// A number, possibly signed; its body is its text.
    Number,
    /// A string in this quote, possibly with an introducer (`_binary '…'`, `N'…'`).
    Str(u8),
    /// `0x…` (possibly `_binary 0x…`).
    Hex,
    /// `X'…'`.
    HexQuoted,
    /// `b'…'` or `0b…`: bit values, never identifiers.
    Bit,
    /// Anything else (a function call, `TRUE`, `DEFAULT`): copied as it is.
    Other,
}

/// One value of a row: the whole span (introducer included) and the span of its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub lit: Lit,
    pub span: Range<usize>,
    pub body: Range<usize>,
}

impl Value {
    /// The bytes the value stands for (`None` for NULL and the kinds that are copied as they
    /// are): a string decoded, hex as raw bytes, a number as its text.
    pub fn decode<'a>(&self, buf: &'a [u8], mode: Mode) -> Option<Cow<'a, [u8]>> {
        let body = &buf[self.body.clone()];
        match self.lit {
            Lit::Str(q) => Some(decode_str(body, q, mode)),
            Lit::Hex | Lit::HexQuoted => Some(Cow::Owned(decode_hex(body))),
            Lit::Number => Some(Cow::Borrowed(body)),
            Lit::Null | Lit::Bit | Lit::Other => None,
        }
    }

    /// Appends the literal for a new value in this value's form: same introducer and quote, hex
    /// stays hex; a number column that gets a non-number gets a quoted string.
    pub fn encode(&self, buf: &[u8], new: &[u8], mode: Mode, out: &mut Vec<u8>) {
        let (prefix, suffix) = (
            &buf[self.span.start..self.body.start],
            &buf[self.body.end..self.span.end],
        );
        match self.lit {
            Lit::Str(q) => {
                out.extend_from_slice(prefix);
                encode_str(new, q, mode, out);
                out.extend_from_slice(suffix);
            }
            Lit::Hex if new.is_empty() => {
                // `0x` alone is no literal; an empty string keeps the introducer.
                out.extend_from_slice(&prefix[..prefix.len() - 2]);
                out.extend_from_slice(b"''");
            }
            Lit::Hex | Lit::HexQuoted => {
                out.extend_from_slice(prefix);
                encode_hex(new, out);
                out.extend_from_slice(suffix);
            }
            Lit::Number if is_number(new) => out.extend_from_slice(new),
            Lit::Number => {
                out.push(b'\'');
                encode_str(new, b'\'', mode, out);
                out.push(b'\'');
            }
            Lit::Null | Lit::Bit | Lit::Other => out.extend_from_slice(&buf[self.span.clone()]),
        }
    }
}

/// Parses the row tuple whose `(` is at `open`, pushing its values; returns the index just past
/// its `)`.
///
/// # Errors
/// [`LexError::More`] when the row may continue past `buf`, [`LexError::Unterminated`] when the
/// input ends inside it, [`LexError::Unexpected`] for bytes that are no row.
pub fn parse_row(
    buf: &[u8],
    open: usize,
    mode: Mode,
    eof: bool,
    values: &mut Vec<Value>,
) -> Result<usize, LexError> {
    let mut versioned = false;
    let mut pos = open + 1;
    let first = values.len();
    let unterminated = |e: LexError| match e {
        LexError::Unterminated { at, .. } if at == usize::MAX => LexError::Unterminated {
            what: "a row",
            at: open,
        },
        e => e,
    };
    let next = |pos: usize, versioned: &mut bool| -> Result<Tok, LexError> {
        match next_token(buf, pos, mode, eof, versioned)? {
            Some(t) => Ok(t),
            None => Err(LexError::Unterminated {
                what: "a row",
                at: usize::MAX,
            }),
        }
    };
    loop {
        let t = next(pos, &mut versioned).map_err(unterminated)?;
        if values.len() == first && t.kind == TokKind::Punct(b')') {
            return Ok(t.span.end);
        }
        let v = value_at(buf, t, mode, eof, &mut versioned).map_err(unterminated)?;
        pos = v.span.end;
        values.push(v);
        let t = next(pos, &mut versioned).map_err(unterminated)?;
        match t.kind {
            TokKind::Punct(b',') => pos = t.span.end,
            TokKind::Punct(b')') => return Ok(t.span.end),
            _ => {
                return Err(LexError::Unexpected {
                    what: "`,` or `)` after a value",
                    at: t.span.start,
                })
            }
        }
    }
}

/// The value that starts with token `t`.
fn value_at(
    buf: &[u8],
    t: Tok,
    mode: Mode,
    eof: bool,
    versioned: &mut bool,
) -> Result<Value, LexError> {
    let simple = |lit, t: &Tok| Value {
        lit,
        span: t.span.clone(),
        body: t.body.clone(),
    };
    match t.kind {
        TokKind::Str(q) => return Ok(simple(Lit::Str(q), &t)),
        TokKind::Hex => return Ok(simple(Lit::Hex, &t)),
        TokKind::HexQuoted => return Ok(simple(Lit::HexQuoted, &t)),
        TokKind::Bit => return Ok(simple(Lit::Bit, &t)),
        TokKind::Number => return Ok(simple(Lit::Number, &t)),
        TokKind::Word if buf[t.span.clone()].eq_ignore_ascii_case(b"NULL") => {
            return Ok(simple(Lit::Null, &t))
        }
        TokKind::Punct(b'-' | b'+') => {
            let mut v2 = *versioned;
            if let Some(n) = next_token(buf, t.span.end, mode, eof, &mut v2)? {
                if n.kind == TokKind::Number && n.span.start == t.span.end {
                    *versioned = v2;
                    return Ok(Value {
                        lit: Lit::Number,
                        span: t.span.start..n.span.end,
                        body: t.span.start..n.span.end,
                    });
                }
            }
        }
        TokKind::Word if buf[t.span.start] == b'_' => {
            // A charset introducer: `_binary '…'`, `_utf8mb4 0x…`.
            let mut v2 = *versioned;
            if let Some(n) = next_token(buf, t.span.end, mode, eof, &mut v2)? {
                let lit = match n.kind {
                    TokKind::Str(q) => Some(Lit::Str(q)),
                    TokKind::Hex => Some(Lit::Hex),
                    TokKind::HexQuoted => Some(Lit::HexQuoted),
                    TokKind::Bit => Some(Lit::Bit),
                    _ => None,
                };
                if let Some(lit) = lit {
                    *versioned = v2;
                    return Ok(Value {
                        lit,
                        span: t.span.start..n.span.end,
                        body: n.body,
                    });
                }
            }
        }
        _ => {}
    }
    // An expression: up to the `,` or `)` that ends it, nested parentheses and strings included.
    let start = t.span.start;
    let mut depth = 0usize;
    let mut end;
    let mut tok = t;
    loop {
        match tok.kind {
            TokKind::Punct(b'(') => depth += 1,
            TokKind::Punct(b')') => depth = depth.saturating_sub(1),
            _ => {}
        }
        end = tok.span.end;
        let mut v2 = *versioned;
        let Some(n) = next_token(buf, end, mode, eof, &mut v2)? else {
            return Err(LexError::Unterminated {
                what: "a row",
                at: usize::MAX,
            });
        };
        if depth == 0 && matches!(n.kind, TokKind::Punct(b',' | b')')) {
            break;
        }
        *versioned = v2;
        tok = n;
    }
    Ok(Value {
        lit: Lit::Other,
        span: start..end,
        body: start..end,
    })
}

/// Splits statements: finds the end of the statement that starts at a given point, outside
/// strings, quoted names and comments, where the current delimiter (`;`, or what a
/// `DELIMITER` command set, like `;;` around triggers) stands. The content of executable
/// comments (`/*!50003 … */`) is code here, as it is to the `mysql` client. Resumable: when
/// the bytes run out it keeps its state, so a statement longer than any buffer streams.
#[derive(Debug, Clone)]
pub struct Splitter {
    /// Where to go on from.
    pub pos: usize,
    state: SplitState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SplitState {
    Code,
    /// Inside a string or name quoted with this byte.
    Quoted(u8),
    Line,
    Block,
}

impl Splitter {
    pub fn new(pos: usize) -> Splitter {
        Splitter {
            pos,
            state: SplitState::Code,
        }
    }

    /// Runs on from [`Splitter::pos`]: `Ok(Some(end))`, the index just past the delimiter (or
    /// the end of input for a last statement without one); `Ok(None)`, the bytes ran out and
    /// `pos` is where to resume (the caller may drop the bytes before it and shift `pos`).
    ///
    /// # Errors
    /// [`LexError::Unterminated`] when the input ends inside a string or `/* */` comment.
    pub fn run(
        &mut self,
        buf: &[u8],
        delimiter: &[u8],
        mode: Mode,
        eof: bool,
    ) -> Result<Option<usize>, LexError> {
        let d0 = delimiter.first().copied().unwrap_or(b';');
        loop {
            match self.state {
                SplitState::Quoted(q) => match quoted_scan(buf, self.pos, q, mode, eof) {
                    Ok(end) => {
                        self.pos = end + 1;
                        self.state = SplitState::Code;
                    }
                    Err(at) if eof => {
                        return Err(LexError::Unterminated {
                            what: "a string literal",
                            at,
                        })
                    }
                    Err(at) => {
                        self.pos = at;
                        return Ok(None);
                    }
                },
                SplitState::Line => match memchr(b'\n', &buf[self.pos..]) {
                    Some(i) => {
                        self.pos += i + 1;
                        self.state = SplitState::Code;
                    }
                    None if eof => return Ok(Some(buf.len())),
                    None => {
                        self.pos = buf.len();
                        return Ok(None);
                    }
                },
                SplitState::Block => match memmem::find(&buf[self.pos..], b"*/") {
                    Some(i) => {
                        self.pos += i + 2;
                        self.state = SplitState::Code;
                    }
                    None if eof => {
                        return Err(LexError::Unterminated {
                            what: "a comment",
                            at: self.pos,
                        })
                    }
                    None => {
                        self.pos = buf.len().saturating_sub(1).max(self.pos);
                        return Ok(None);
                    }
                },
                SplitState::Code => {
                    // Look-ahead needs a few bytes (`-- `, `/*M!`, a delimiter, a character);
                    // before the end of input, stop that far short of the end.
                    let guard = if eof { 0 } else { delimiter.len().max(4) };
                    let limit = buf.len().saturating_sub(guard);
                    let at = |k: usize| buf.get(k).copied().unwrap_or(0);
                    let mut i = self.pos;
                    let mut next = None;
                    while i < limit {
                        let b = buf[i];
                        if b == d0 && buf[i..].starts_with(delimiter) {
                            return Ok(Some(i + delimiter.len()));
                        }
                        match b {
                            b'\'' | b'"' | b'`' => {
                                next = Some((i + 1, SplitState::Quoted(b)));
                                break;
                            }
                            b'#' => {
                                next = Some((i + 1, SplitState::Line));
                                break;
                            }
                            b'-' if at(i + 1) == b'-' && at(i + 2) <= b' ' => {
                                next = Some((i + 2, SplitState::Line));
                                break;
                            }
                            b'/' if at(i + 1) == b'*' => {
                                if at(i + 2) == b'!' {
                                    i += 3;
                                } else if at(i + 2) == b'M' && at(i + 3) == b'!' {
                                    i += 4;
                                } else {
                                    next = Some((i + 2, SplitState::Block));
                                    break;
                                }
                            }
                            b if b >= 0x80 && mode.charset.is_multibyte() => {
                                i += mode.charset.char_len(&buf[i..]);
                            }
                            _ => i += 1,
                        }
                    }
                    match next {
                        Some((p, s)) => {
                            self.pos = p;
                            self.state = s;
                        }
                        None if eof => return Ok(Some(buf.len())),
                        None => {
                            self.pos = i.min(buf.len());
                            return Ok(None);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODES: [Mode; 8] = [
        Mode::DEFAULT,
        Mode {
            charset: Charset::Plain,
            backslash: false,
        },
        Mode {
            charset: Charset::Sjis,
            backslash: true,
        },
        Mode {
            charset: Charset::Big5,
            backslash: true,
        },
        Mode {
            charset: Charset::Gbk,
            backslash: true,
        },
        Mode {
            charset: Charset::Gb18030,
            backslash: true,
        },
        Mode {
            charset: Charset::Sjis,
            backslash: false,
        },
        Mode {
            charset: Charset::Gbk,
            backslash: false,
        },
    ];

    /// A fixed-seed xorshift, so the random cases are the same on every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        /// Bytes biased to the ones that matter: quotes, backslash, NUL, ^Z, lead and
        /// trail bytes of the multibyte charsets.
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            const HOT: &[u8] = b"'\"\\`\0\x1a\n\r\t%_\x81\x5c\xa1\xe0\xfc\xfe\x30\x40";
            (0..n)
                .map(|_| {
                    let r = self.next();
                    if r.is_multiple_of(3) {
                        HOT[(r >> 8) as usize % HOT.len()]
                    } else {
                        (r >> 16) as u8
                    }
                })
                .collect()
        }
    }

    /// Encodes `v` as a literal in `q`, checks the lexer finds exactly that literal's end in
    /// a row, and that decoding gives `v` back.
    fn round_trip(v: &[u8], q: u8, mode: Mode) {
        let mut lit = vec![q];
        encode_str(v, q, mode, &mut lit);
        lit.push(q);
        let end = lit.len() - 1;
        lit.extend_from_slice(b",1)");
        assert_eq!(
            quoted_end(&lit, 0, mode, true),
            Ok(end),
            "{mode:?} {q} {v:x?} -> {lit:x?}"
        );
        let back = decode_str(&lit[1..end], q, mode);
        assert_eq!(&*back, v, "{mode:?} {q} {v:x?} -> {lit:x?}");
    }

    #[test]
    fn every_byte_round_trips_in_every_mode() {
        for mode in MODES {
            for q in [b'\'', b'"'] {
                for b in 0..=255u8 {
                    round_trip(&[b], q, mode);
                    round_trip(&[b, b'\\'], q, mode);
                    round_trip(&[b, q], q, mode);
                    round_trip(&[b'x', b, b'\''], q, mode);
                }
            }
        }
    }

    #[test]
    fn run_copying_encoder_equals_the_bytewise_one() {
        let mut rng = Rng(0x5eed_0e4c_0de5_0002);
        for mode in MODES {
            for q in [b'\'', b'"'] {
                for _ in 0..1500 {
                    let n = (rng.next() % 60) as usize;
                    // Mostly plain text with now and then a byte that needs care: quotes,
                    // escapes, controls, multibyte leads and a trail that reads as `\`.
                    let care = b"'\"\\\n\r\0\x1a\x81\x5c\xa1\xe3\xfe\x40\xc3\xa9";
                    let v: Vec<u8> = rng
                        .bytes(n)
                        .into_iter()
                        .map(|b| match b % 4 {
                            0 => care[usize::from(b) % care.len()],
                            _ => b'a' + b % 26,
                        })
                        .collect();
                    let mut fast = Vec::new();
                    encode_str(&v, q, mode, &mut fast);
                    let mut slow = Vec::new();
                    let mut i = 0;
                    while i < v.len() {
                        i += one_char(&v[i..], q, mode, &mut slow);
                    }
                    assert_eq!(fast, slow, "{mode:?} {q} {v:x?}");
                }
            }
        }
    }

    #[test]
    fn random_strings_round_trip() {
        let mut rng = Rng(0x5eed_1234_abcd_0001);
        for mode in MODES {
            for _ in 0..2000 {
                let n = (rng.next() % 40) as usize;
                let v = rng.bytes(n);
                round_trip(&v, b'\'', mode);
            }
        }
    }

    #[test]
    fn hex_round_trips() {
        let mut rng = Rng(7);
        for _ in 0..200 {
            let n = (rng.next() % 20) as usize;
            let v = rng.bytes(n);
            let mut h = Vec::new();
            encode_hex(&v, &mut h);
            assert_eq!(decode_hex(&h), v);
        }
        assert_eq!(decode_hex(b"abc"), vec![0x0a, 0xbc]);
    }

    #[test]
    fn decoding_table() {
        for (body, mode, want) in [
            (
                &br#"a\\b\'\"\tc\n\0\Z\r\b"#[..],
                Mode::DEFAULT,
                &b"a\\b'\"\tc\n\0\x1a\r\x08"[..],
            ),
            (br"50\% \_x", Mode::DEFAULT, br"50\% \_x"),
            (br"\q\y\\", Mode::DEFAULT, br"qy\"),
            (b"it''s", Mode::DEFAULT, b"it's"),
            (
                br"c:\dir''",
                Mode {
                    charset: Charset::Plain,
                    backslash: false,
                },
                br"c:\dir'",
            ),
            (
                b"\x81\x5c\\n",
                Mode {
                    charset: Charset::Sjis,
                    backslash: true,
                },
                b"\x81\x5c\n",
            ),
            (b"\x81\x5c\\n", Mode::DEFAULT, b"\x81\\n"),
        ] {
            assert_eq!(&*decode_str(body, b'\'', mode), want, "{body:x?}");
        }
    }

    #[test]
    fn multibyte_trail_is_no_backslash() {
        let sjis = Mode {
            charset: Charset::Sjis,
            backslash: true,
        };
        // 0x95 0x5C is one SJIS character; the quote after it closes the string.
        let s = b"'\x95\x5c',2";
        assert_eq!(quoted_end(s, 0, sjis, true), Ok(3));
        // Read as utf8 the same bytes are an escaped quote and the string goes on.
        assert_eq!(quoted_end(s, 0, Mode::DEFAULT, true), Err(s.len()));
        let big5 = Mode {
            charset: Charset::Big5,
            backslash: true,
        };
        assert_eq!(quoted_end(b"'\xa5\x5c'", 0, big5, true), Ok(3));
        // A backquoted name can hold an SJIS character whose trail is 0x60.
        let mut on = false;
        let t = next_token(b"`\x81\x60x` ", 0, sjis, true, &mut on)
            .unwrap()
            .unwrap();
        assert_eq!((t.kind, t.span), (TokKind::Quoted, 0..5));
        // Encoding a lone lead byte before a quote escapes the lead byte.
        let gbk = Mode {
            charset: Charset::Gbk,
            backslash: true,
        };
        let mut out = Vec::new();
        encode_str(b"\xbf'", b'\'', gbk, &mut out);
        assert_eq!(out, b"\\\xbf\\'");
    }

    #[test]
    fn no_backslash_escapes() {
        let m = Mode {
            charset: Charset::Plain,
            backslash: false,
        };
        assert_eq!(quoted_end(br"'a\',1", 0, m, true), Ok(3));
        let mut out = Vec::new();
        encode_str(b"a'\\\n", b'\'', m, &mut out);
        assert_eq!(out, b"a''\\\n");
    }

    fn row(s: &[u8]) -> (usize, Vec<Value>) {
        let mut vals = Vec::new();
        let end = parse_row(s, 0, Mode::DEFAULT, true, &mut vals).unwrap();
        (end, vals)
    }

    #[test]
    fn rows_table() {
        let s: &[u8] = b"(1,-2.5e3,'a\\'b',\"q\",NULL,0x00FF,X'0a',b'101',_binary 'x\\0',_utf8mb4'y',N'z',/*!50705 0xAB,*/'2014-09-25',ST_GeomFromText('POINT(1 2)', 0),'',1.)";
        let (end, v) = row(s);
        assert_eq!(end, s.len());
        let kinds: Vec<Lit> = v.iter().map(|v| v.lit).collect();
        use Lit::*;
        assert_eq!(
            kinds,
            [
                Number,
                Number,
                Str(b'\''),
                Str(b'"'),
                Null,
                Hex,
                HexQuoted,
                Bit,
                Str(b'\''),
                Str(b'\''),
                Str(b'\''),
                Hex,
                Str(b'\''),
                Other,
                Str(b'\''),
                Number
            ]
        );
        let dec = |i: usize| v[i].decode(s, Mode::DEFAULT).map(|c| c.into_owned());
        assert_eq!(dec(1).unwrap(), b"-2.5e3");
        assert_eq!(dec(2).unwrap(), b"a'b");
        assert_eq!(dec(5).unwrap(), vec![0, 255]);
        assert_eq!(dec(6).unwrap(), vec![10]);
        assert_eq!(dec(8).unwrap(), b"x\0");
        assert_eq!(dec(11).unwrap(), vec![0xAB]);
        assert_eq!(dec(4), None);
        assert_eq!(&s[v[13].span.clone()], b"ST_GeomFromText('POINT(1 2)', 0)");
        // Copying the spans back rebuilds the row byte for byte.
        let mut out = Vec::new();
        let mut at = 0;
        for x in &v {
            out.extend_from_slice(&s[at..x.span.start]);
            out.extend_from_slice(&s[x.span.clone()]);
            at = x.span.end;
        }
        out.extend_from_slice(&s[at..]);
        assert_eq!(out, s);
        // Re-encoding keeps the form.
        let enc = |i: usize, new: &[u8]| {
            let mut o = Vec::new();
            v[i].encode(s, new, Mode::DEFAULT, &mut o);
            o
        };
        assert_eq!(enc(2, b"it's"), b"'it\\'s'");
        assert_eq!(enc(3, b"\""), b"\"\\\"\"");
        assert_eq!(enc(5, b"\x01"), b"0x01");
        assert_eq!(enc(5, b""), b"''");
        assert_eq!(enc(6, b"\x01"), b"X'01'");
        assert_eq!(enc(8, b"\n"), b"_binary '\\n'");
        assert_eq!(enc(0, b"42"), b"42");
        assert_eq!(enc(0, b"[SSN]"), b"'[SSN]'");
        assert_eq!(enc(9, b"w"), b"_utf8mb4'w'");
    }

    #[test]
    fn rows_cut_short_ask_for_more_or_fail() {
        let s: &[u8] = b"(1,'ab\\'c',0x0A,-3,/*!50705 'x',*/NULL)";
        for cut in 1..s.len() {
            let mut v = Vec::new();
            assert_eq!(
                parse_row(&s[..cut], 0, Mode::DEFAULT, false, &mut v),
                Err(LexError::More),
                "cut at {cut}"
            );
            let mut v = Vec::new();
            assert!(
                matches!(
                    parse_row(&s[..cut], 0, Mode::DEFAULT, true, &mut v),
                    Err(LexError::Unterminated { .. } | LexError::Unexpected { .. })
                ),
                "cut at {cut}"
            );
        }
        let mut v = Vec::new();
        assert_eq!(parse_row(s, 0, Mode::DEFAULT, false, &mut v), Ok(s.len()));
        assert_eq!(v.len(), 6);
        let mut v = Vec::new();
        assert!(matches!(
            parse_row(b"(1 2)", 0, Mode::DEFAULT, true, &mut v),
            Err(LexError::Unexpected { at: 3, .. })
        ));
    }

    /// Splits `s` into statements with the splitter fed `step` bytes at a time, as a reader
    /// would; `DELIMITER` lines are handled as the `mysql` client does.
    fn split(s: &[u8], step: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut delim = b";".to_vec();
        let mut start = 0;
        let mut avail = step.min(s.len());
        loop {
            let eof = avail == s.len();
            let buf = &s[..avail];
            let p = match skip_space(buf, start, eof, None) {
                Ok(p) => p,
                Err(LexError::More) => {
                    avail = (avail + step).min(s.len());
                    continue;
                }
                Err(e) => panic!("{e:?}"),
            };
            if p >= s.len() {
                break;
            }
            if p >= buf.len() {
                avail = (avail + step).min(s.len());
                continue;
            }
            if buf.len() < p + 10 && !eof {
                avail = (avail + step).min(s.len());
                continue;
            }
            if buf.len() >= p + 10 && buf[p..p + 10].eq_ignore_ascii_case(b"delimiter ") {
                match memchr(b'\n', &buf[p..]) {
                    Some(i) => {
                        delim = buf[p + 10..p + i].trim_ascii().to_vec();
                        out.push(buf[p..p + i].to_vec());
                        start = p + i + 1;
                        continue;
                    }
                    None if !eof => {
                        avail = (avail + step).min(s.len());
                        continue;
                    }
                    None => break,
                }
            }
            let mut sp = Splitter::new(p);
            let end = loop {
                let eof = avail == s.len();
                match sp.run(&s[..avail], &delim, Mode::DEFAULT, eof).unwrap() {
                    Some(e) => break e,
                    None => avail = (avail + step).min(s.len()),
                }
            };
            out.push(s[p..end].to_vec());
            start = end;
        }
        out
    }

    #[test]
    fn statements_split_the_same_at_every_buffer_size() {
        let s: &[u8] = b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump\n/*!40101 SET NAMES utf8mb4 */;\n# hash; comment\nCREATE TABLE `a;b` (`x` varchar(3) DEFAULT 'a;\\'' /* c; */) ;\n-- x;y\nINSERT INTO t VALUES ('a;b\"','c'),(2,\"d;\");\nDELIMITER ;;\n/*!50003 CREATE*/ /*!50003 TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.s='x;y'; END */;;\nDELIMITER ;\nSELECT 1;--\nSELECT 2";
        let want: Vec<&[u8]> = vec![
            b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump\n/*!40101 SET NAMES utf8mb4 */;",
            b"CREATE TABLE `a;b` (`x` varchar(3) DEFAULT 'a;\\'' /* c; */) ;",
            b"INSERT INTO t VALUES ('a;b\"','c'),(2,\"d;\");",
            b"DELIMITER ;;",
            b"/*!50003 CREATE*/ /*!50003 TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.s='x;y'; END */;;",
            b"DELIMITER ;",
            b"SELECT 1;",
            // `--` and a newline is a comment too.
            b"SELECT 2",
        ];
        for step in 1..=s.len() {
            let got = split(s, step);
            let got: Vec<&[u8]> = got.iter().map(Vec::as_slice).collect();
            assert_eq!(got, want, "step {step}");
        }
    }

    #[test]
    fn unterminated_statements_fail() {
        for s in [&b"SELECT 'abc"[..], b"SELECT /* x", b"SELECT `a"] {
            let mut sp = Splitter::new(0);
            assert!(
                matches!(
                    sp.run(s, b";", Mode::DEFAULT, true),
                    Err(LexError::Unterminated { .. })
                ),
                "{s:?}"
            );
        }
    }

    #[test]
    fn numbers() {
        for (v, want) in [
            (&b"12"[..], true),
            (b"-3.5", true),
            (b"1e-3", true),
            (b".5", true),
            (b"5.", true),
            (b"", false),
            (b"-", false),
            (b"1e", false),
            (b"12a", false),
            (b"999-99-1234", false),
        ] {
            assert_eq!(is_number(v), want, "{v:?}");
        }
    }
}
