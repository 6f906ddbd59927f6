//! A lexer for the SQL of PostgreSQL plain dumps: enough to cut a stream into statements
//! without being fooled by what is inside literals (`'…'` with `''`, `E'…'` with backslash
//! escapes, `"identifiers"`, dollar-quoted bodies `$$…$$`/`$tag$…$tag$`, `--` and nested
//! `/* */` comments), and to tokenize the few statements whose contents matter (`COPY` headers,
//! `INSERT … VALUES`, `CREATE TABLE`, `SET`).
//!
//! Two session settings change how bytes read, and the dump states both:
//! `standard_conforming_strings = off` makes `\` an escape in plain `'…'` strings too, and a
//! client encoding such as SJIS has two-byte characters whose second byte can be 0x5C (or, in
//! JOHAB, even `;`), which is not that ASCII character there. [`Lex`] carries both.
//!
//! ```
//! use phiscrub::formats::pg_sql::{statement_end, End, Lex};
//! let sql = b"CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql; SELECT 2;";
//! assert_eq!(statement_end(sql, 0, Lex::default()), End::At(64));
//! ```

use std::ops::Range;

use super::pg_copy::Encoding;

/// The session settings that change how a dump's bytes lex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lex {
    pub enc: Encoding,
    /// `standard_conforming_strings`: when off, `\` escapes inside plain `'…'` strings too.
    pub std_strings: bool,
}

impl Default for Lex {
    fn default() -> Self {
        Lex {
            enc: Encoding::Ascii,
            std_strings: true,
        }
    }
}

/// What was still open when the bytes ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    Statement,
    String,
    QuotedIdent,
    DollarQuote,
    Comment,
}

impl Open {
    pub fn what(self) -> &'static str {
        match self {
            Open::Statement => "a statement without its closing `;`",
            Open::String => "an unterminated string literal",
            Open::QuotedIdent => "an unterminated quoted identifier",
            Open::DollarQuote => "an unterminated dollar-quoted string",
            Open::Comment => "an unterminated /* comment */",
        }
    }
}

/// Where a statement ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Just after its `;`.
    At(usize),
    /// The bytes ran out first, inside this.
    More(Open),
}

#[inline]
fn ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The end of a quoted run that starts after an opening `q` at `i`: the index just after the
/// closing `q` (a doubled `qq` stands for one, and with `escapes` a backslash takes the next
/// byte), or `None` when the bytes end first (also when they end right after a `q`, which
/// could be the first half of a doubled one).
pub fn quoted_end(b: &[u8], mut i: usize, q: u8, escapes: bool, enc: Encoding) -> Option<usize> {
    loop {
        if !enc.embeds_ascii() {
            let p = if escapes {
                memchr::memchr2(q, b'\\', &b[i..])?
            } else {
                memchr::memchr(q, &b[i..])?
            };
            i += p;
        } else {
            while i < b.len() && b[i] != q && !(escapes && b[i] == b'\\') {
                i += if b[i] >= 0x80 { enc.char_len(b, i) } else { 1 };
            }
            if i >= b.len() {
                return None;
            }
        }
        if b[i] == b'\\' {
            i += 2;
            if i > b.len() {
                return None;
            }
            continue;
        }
        match b.get(i + 1) {
            Some(&c) if c == q => i += 2,
            Some(_) => return Some(i + 1),
            None => return None,
        }
    }
}

/// Whether a `'` at `i` opens an escape string (`E'…'`, or any string with
/// `standard_conforming_strings` off).
fn escapes_at(b: &[u8], start: usize, i: usize, lex: Lex) -> bool {
    if !lex.std_strings {
        return true;
    }
    i > start && matches!(b[i - 1], b'E' | b'e') && (i - 1 == start || !ident_byte(b[i - 2]))
}

/// Whether `b[i..]` opens a dollar quote; its tag (`$$`, `$body$`) range, or `Err(())` when
/// the bytes end before that is known.
fn dollar_tag(b: &[u8], start: usize, i: usize) -> Result<Option<Range<usize>>, ()> {
    if i > start && ident_byte(b[i - 1]) {
        return Ok(None);
    }
    let mut j = i + 1;
    if j < b.len() && b[j].is_ascii_digit() {
        return Ok(None);
    }
    while j < b.len() && ident_byte(b[j]) && b[j] != b'$' {
        j += 1;
    }
    match b.get(j) {
        Some(b'$') => Ok(Some(i..j + 1)),
        Some(_) => Ok(None),
        None => Err(()),
    }
}

/// The end of the statement that starts at `start` (the first byte after whitespace): just
/// after its top-level `;`.
pub fn statement_end(b: &[u8], start: usize, lex: Lex) -> End {
    let mut i = start;
    while i < b.len() {
        let c = b[i];
        match c {
            b';' => return End::At(i + 1),
            b'\'' => match quoted_end(b, i + 1, b'\'', escapes_at(b, start, i, lex), lex.enc) {
                Some(e) => i = e,
                None => return End::More(Open::String),
            },
            b'"' => match quoted_end(b, i + 1, b'"', false, lex.enc) {
                Some(e) => i = e,
                None => return End::More(Open::QuotedIdent),
            },
            b'$' => match dollar_tag(b, start, i) {
                Ok(Some(tag)) => {
                    let t = &b[tag.clone()];
                    match memchr::memmem::find(&b[tag.end..], t) {
                        Some(p) => i = tag.end + p + t.len(),
                        None => return End::More(Open::DollarQuote),
                    }
                }
                Ok(None) => i += 1,
                Err(()) => return End::More(Open::Statement),
            },
            b'-' if b.get(i + 1) == Some(&b'-') => match memchr::memchr(b'\n', &b[i..]) {
                Some(p) => i += p + 1,
                None => return End::More(Open::Statement),
            },
            b'/' if b.get(i + 1) == Some(&b'*') => match comment_end(b, i) {
                Some(e) => i = e,
                None => return End::More(Open::Comment),
            },
            c if c >= 0x80 => i += lex.enc.char_len(b, i),
            _ => i += 1,
        }
    }
    End::More(Open::Statement)
}

/// The end of a (nested) `/* */` comment opening at `i`.
fn comment_end(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    while i + 1 < b.len() {
        match (b[i], b[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// What a string literal's body means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrKind {
    /// `'…'`: only `''` is special.
    Standard,
    /// `E'…'` (or any string with standard_conforming_strings off): backslash escapes.
    Escape,
    /// `U&'…'`, `B'…'`, `X'…'`: left as they are.
    Opaque,
}

/// One token of a complete statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    /// A keyword or unquoted identifier.
    Word,
    /// `"…"`.
    QuotedIdent,
    /// A string literal; `body` is the range between its quotes.
    Str { kind: StrKind, body_start: usize },
    /// A numeric literal.
    Num,
    /// `$tag$…$tag$`.
    Dollar,
    /// Any other single byte: `( ) , ; [ ] . : - +` …
    Punct(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// The body of a string token (between its quotes).
    pub fn body(&self) -> Range<usize> {
        match self.tok {
            Tok::Str { body_start, .. } => body_start..self.end - 1,
            _ => self.start..self.end,
        }
    }
}

/// Tokens of a complete statement (comments and whitespace skipped). A malformed tail (an
/// unterminated literal) ends the stream with an `Err` giving its offset.
pub struct Tokens<'a> {
    b: &'a [u8],
    i: usize,
    lex: Lex,
}

impl<'a> Tokens<'a> {
    pub fn new(b: &'a [u8], start: usize, lex: Lex) -> Tokens<'a> {
        Tokens { b, i: start, lex }
    }

    /// Offset of the next byte to tokenize.
    pub fn pos(&self) -> usize {
        self.i
    }

    fn skip_space(&mut self) {
        let b = self.b;
        loop {
            while self.i < b.len() && b[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
            if b[self.i..].starts_with(b"--") {
                self.i = memchr::memchr(b'\n', &b[self.i..]).map_or(b.len(), |p| self.i + p + 1);
            } else if b[self.i..].starts_with(b"/*") {
                self.i = comment_end(b, self.i).unwrap_or(b.len());
            } else {
                return;
            }
        }
    }

    fn string(&mut self, start: usize, quote: usize, kind: StrKind) -> Result<Token, usize> {
        let esc = kind == StrKind::Escape;
        match quoted_end(self.b, quote + 1, b'\'', esc, self.lex.enc) {
            Some(e) => {
                self.i = e;
                Ok(Token {
                    tok: Tok::Str {
                        kind,
                        body_start: quote + 1,
                    },
                    start,
                    end: e,
                })
            }
            None => Err(start),
        }
    }
}

impl Iterator for Tokens<'_> {
    type Item = Result<Token, usize>;

    fn next(&mut self) -> Option<Self::Item> {
        self.skip_space();
        let b = self.b;
        let s = self.i;
        let &c = b.get(s)?;
        let tok = |t, e| {
            Some(Ok(Token {
                tok: t,
                start: s,
                end: e,
            }))
        };
        match c {
            b'\'' => {
                let kind = if self.lex.std_strings {
                    StrKind::Standard
                } else {
                    StrKind::Escape
                };
                Some(self.string(s, s, kind))
            }
            b'E' | b'e' if b.get(s + 1) == Some(&b'\'') => {
                Some(self.string(s, s + 1, StrKind::Escape))
            }
            b'B' | b'b' | b'X' | b'x' | b'N' | b'n' if b.get(s + 1) == Some(&b'\'') => {
                Some(self.string(s, s + 1, StrKind::Opaque))
            }
            b'U' | b'u' if b[s..].starts_with(b"U&'") || b[s..].starts_with(b"u&'") => {
                Some(self.string(s, s + 2, StrKind::Opaque))
            }
            b'"' => match quoted_end(b, s + 1, b'"', false, self.lex.enc) {
                Some(e) => {
                    self.i = e;
                    tok(Tok::QuotedIdent, e)
                }
                None => Some(Err(s)),
            },
            b'$' => match dollar_tag(b, s, s) {
                Ok(Some(tag)) => {
                    let t = &b[tag.clone()];
                    match memchr::memmem::find(&b[tag.end..], t) {
                        Some(p) => {
                            self.i = tag.end + p + t.len();
                            tok(Tok::Dollar, self.i)
                        }
                        None => Some(Err(s)),
                    }
                }
                _ => {
                    self.i += 1;
                    tok(Tok::Punct(b'$'), self.i)
                }
            },
            b'0'..=b'9' => {
                let mut e = s;
                while e < b.len() {
                    match b[e] {
                        b'0'..=b'9' | b'.' | b'_' => e += 1,
                        b'e' | b'E' => {
                            e += 1;
                            if matches!(b.get(e), Some(b'+' | b'-')) {
                                e += 1;
                            }
                        }
                        b'x' | b'X' | b'o' | b'O' | b'b' | b'B' if e == s + 1 && b[s] == b'0' => {
                            e += 1
                        }
                        c if c.is_ascii_hexdigit() && b[s..].starts_with(b"0x") => e += 1,
                        _ => break,
                    }
                }
                self.i = e;
                tok(Tok::Num, e)
            }
            b'.' if b.get(s + 1).is_some_and(u8::is_ascii_digit) => {
                let mut e = s + 1;
                while e < b.len() && (b[e].is_ascii_digit() || b[e] == b'e' || b[e] == b'E') {
                    e += 1;
                }
                self.i = e;
                tok(Tok::Num, e)
            }
            c if ident_byte(c) => {
                let mut e = s;
                while e < b.len() && ident_byte(b[e]) {
                    e += if b[e] >= 0x80 {
                        self.lex.enc.char_len(b, e)
                    } else {
                        1
                    };
                }
                self.i = e;
                tok(Tok::Word, e)
            }
            _ => {
                self.i += 1;
                tok(Tok::Punct(c), s + 1)
            }
        }
    }
}

/// Appends what a string literal's body stands for.
pub fn decode_str(body: &[u8], kind: StrKind, enc: Encoding, out: &mut Vec<u8>) {
    let esc = kind == StrKind::Escape;
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\'' => {
                out.push(b'\'');
                i += 2;
            }
            b'\\' if esc => {
                let (n, len) = unescape_e(body, i, out);
                let _ = n;
                i += len;
            }
            c if c >= 0x80 => {
                let n = enc.char_len(body, i);
                out.extend_from_slice(&body[i..i + n]);
                i += n;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// Decodes one E-string escape at `b[i]` (a backslash) into `out`; returns the decoded length
/// and the raw length taken.
fn unescape_e(b: &[u8], i: usize, out: &mut Vec<u8>) -> (usize, usize) {
    let before = out.len();
    let Some(&c) = b.get(i + 1) else {
        out.push(b'\\');
        return (1, 1);
    };
    let hex = |d: u8| (d as char).to_digit(16);
    let len = match c {
        b'b' => {
            out.push(0x08);
            2
        }
        b'f' => {
            out.push(0x0C);
            2
        }
        b'n' => {
            out.push(b'\n');
            2
        }
        b'r' => {
            out.push(b'\r');
            2
        }
        b't' => {
            out.push(b'\t');
            2
        }
        b'0'..=b'7' => {
            let mut v = u32::from(c - b'0');
            let mut n = 2;
            while n < 4 {
                match b.get(i + n) {
                    Some(&d @ b'0'..=b'7') => {
                        v = v * 8 + u32::from(d - b'0');
                        n += 1;
                    }
                    _ => break,
                }
            }
            out.push((v & 0xFF) as u8);
            n
        }
        b'x' => match b.get(i + 2).and_then(|&d| hex(d)) {
            Some(h) => match b.get(i + 3).and_then(|&d| hex(d)) {
                Some(l) => {
                    out.push((h * 16 + l) as u8);
                    4
                }
                None => {
                    out.push(h as u8);
                    3
                }
            },
            None => {
                out.push(b'x');
                2
            }
        },
        b'u' | b'U' => {
            let digits = if c == b'u' { 4 } else { 8 };
            let code = b
                .get(i + 2..i + 2 + digits)
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| u32::from_str_radix(d, 16).ok())
                .and_then(char::from_u32);
            match code {
                Some(ch) => {
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                    2 + digits
                }
                None => {
                    out.push(c);
                    2
                }
            }
        }
        other => {
            out.push(other);
            2
        }
    };
    (out.len() - before, len)
}

/// The offset in a string body of decoded position `pos`.
pub fn str_raw_offset(body: &[u8], kind: StrKind, enc: Encoding, pos: usize) -> usize {
    let mut scratch = Vec::new();
    let (mut i, mut d) = (0, 0);
    while d < pos && i < body.len() {
        match body[i] {
            b'\'' => {
                i += 2;
                d += 1;
            }
            b'\\' if kind == StrKind::Escape => {
                scratch.clear();
                let (n, len) = unescape_e(body, i, &mut scratch);
                i += len;
                d += n;
            }
            c if c >= 0x80 => {
                let n = enc.char_len(body, i);
                i += n;
                d += n;
            }
            _ => {
                i += 1;
                d += 1;
            }
        }
    }
    i.min(body.len())
}

/// Appends `value` as the body of a string literal of `kind`: `'` doubled, and in an escape
/// string `\` doubled too; every other byte (newlines included, which SQL strings may hold)
/// and every multibyte character of `enc` as is.
///
/// A plain string cannot hold a value ending in a lead byte cut short (its closing quote would
/// read back as the trail byte); [`write_literal`] switches such a value to the `E'…'` form,
/// where the lead byte is written as an octal escape.
pub fn encode_str(value: &[u8], kind: StrKind, enc: Encoding, out: &mut Vec<u8>) {
    let esc = kind == StrKind::Escape;
    out.reserve(value.len() + 4);
    let mut i = 0;
    while i < value.len() {
        let c = value[i];
        match c {
            b'\'' => out.extend_from_slice(b"''"),
            b'\\' if esc => out.extend_from_slice(b"\\\\"),
            c if c >= 0x80 && esc && enc.cut_short(value, i) => super::pg_copy::push_octal(c, out),
            c if c >= 0x80 => {
                let n = enc.char_len(value, i);
                out.extend_from_slice(&value[i..i + n]);
                i += n;
                continue;
            }
            c => out.push(c),
        }
        i += 1;
    }
}

/// Whether a plain `'…'` string (no escapes) can hold `value` in `enc`.
pub fn plain_can_hold(value: &[u8], enc: Encoding) -> bool {
    if !enc.embeds_ascii() {
        return true;
    }
    let mut i = 0;
    while i < value.len() {
        if value[i] >= 0x80 {
            if enc.cut_short(value, i) {
                return false;
            }
            i += enc.char_len(value, i);
        } else {
            i += 1;
        }
    }
    true
}

/// Writes a whole string literal holding `value`, as a plain `'…'` (escapes in it follow
/// `standard_conforming_strings`) unless it cannot hold the value, then as `E'…'`.
pub fn write_literal(value: &[u8], lex: Lex, out: &mut Vec<u8>) {
    let mut kind = if lex.std_strings {
        StrKind::Standard
    } else {
        StrKind::Escape
    };
    if kind == StrKind::Standard && !plain_can_hold(value, lex.enc) {
        // `date'…'` must not become `dateE'…'`.
        if out
            .last()
            .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80)
        {
            out.push(b' ');
        }
        out.push(b'E');
        kind = StrKind::Escape;
    }
    out.push(b'\'');
    encode_str(value, kind, lex.enc, out);
    out.push(b'\'');
}

/// An identifier's name: unquoted folded to lower case, quoted with `""` undone.
pub fn ident(b: &[u8], t: &Token) -> String {
    match t.tok {
        Tok::QuotedIdent => {
            String::from_utf8_lossy(&b[t.start + 1..t.end - 1]).replace("\"\"", "\"")
        }
        _ => String::from_utf8_lossy(&b[t.start..t.end]).to_lowercase(),
    }
}

/// Whether a token is the keyword `kw` (upper case).
pub fn is_kw(b: &[u8], t: &Token, kw: &str) -> bool {
    t.tok == Tok::Word && b[t.start..t.end].eq_ignore_ascii_case(kw.as_bytes())
}

/// A possibly qualified name (`schema.table`, `"Odd"."Name"`) at the front of `toks`: its
/// parts, and the first token after it.
pub fn qualified_name(
    b: &[u8],
    toks: &mut Tokens<'_>,
) -> Result<(Vec<String>, Option<Token>), usize> {
    let mut parts = Vec::new();
    loop {
        let t = match toks.next() {
            Some(t) => t?,
            None => return Ok((parts, None)),
        };
        match t.tok {
            Tok::Word | Tok::QuotedIdent => parts.push(ident(b, &t)),
            _ => return Ok((parts, Some(t))),
        }
        match toks.next() {
            Some(Ok(t)) if t.tok == Tok::Punct(b'.') => {}
            Some(t) => return Ok((parts, Some(t?))),
            None => return Ok((parts, None)),
        }
    }
}

/// `( name, name, … )` after its opening `(`: the names.
pub fn name_list(b: &[u8], toks: &mut Tokens<'_>) -> Result<Vec<String>, usize> {
    let mut names = Vec::new();
    for t in toks.by_ref() {
        let t = t?;
        match t.tok {
            Tok::Word | Tok::QuotedIdent => names.push(ident(b, &t)),
            Tok::Punct(b',') => {}
            Tok::Punct(b')') => return Ok(names),
            _ => return Err(t.start),
        }
    }
    Err(b.len())
}

/// A column name and its declared type text.
pub type ColumnDecl = (String, String);

/// The columns of a `CREATE TABLE` statement, with their declared type text (`varchar(11)`,
/// `timestamp with time zone`, `text[]`); `None` when the statement is not one or has no
/// column list (`PARTITION OF`, `OF type`).
pub fn create_table(b: &[u8], lex: Lex) -> Option<(Vec<String>, Vec<ColumnDecl>)> {
    let mut toks = Tokens::new(b, 0, lex);
    let mut t = toks.next()?.ok()?;
    if !is_kw(b, &t, "CREATE") {
        return None;
    }
    loop {
        t = toks.next()?.ok()?;
        if is_kw(b, &t, "TABLE") {
            break;
        }
        if !(is_kw(b, &t, "UNLOGGED")
            || is_kw(b, &t, "TEMP")
            || is_kw(b, &t, "TEMPORARY")
            || is_kw(b, &t, "GLOBAL")
            || is_kw(b, &t, "LOCAL"))
        {
            return None;
        }
    }
    let save = toks.pos();
    let mut probe = Tokens::new(b, save, lex);
    let first = probe.next()?.ok()?;
    if is_kw(b, &first, "IF") {
        // IF NOT EXISTS
        probe.next()?.ok()?;
        probe.next()?.ok()?;
        toks = probe;
    }
    let (name, next) = qualified_name(b, &mut toks).ok()?;
    if next?.tok != Tok::Punct(b'(') {
        return None;
    }
    let mut cols = Vec::new();
    let stop = [
        "NOT",
        "NULL",
        "DEFAULT",
        "CONSTRAINT",
        "CHECK",
        "PRIMARY",
        "UNIQUE",
        "REFERENCES",
        "COLLATE",
        "GENERATED",
    ];
    let skip = [
        "CONSTRAINT",
        "PRIMARY",
        "UNIQUE",
        "CHECK",
        "FOREIGN",
        "EXCLUDE",
        "LIKE",
    ];
    'items: loop {
        let first = toks.next()?.ok()?;
        if first.tok == Tok::Punct(b')') {
            break;
        }
        let is_col = matches!(first.tok, Tok::Word | Tok::QuotedIdent)
            && !(first.tok == Tok::Word && skip.iter().any(|k| is_kw(b, &first, k)));
        let (mut depth, mut ty_start, mut ty_end, mut in_type) = (0i32, None, 0, is_col);
        loop {
            let t = toks.next()?.ok()?;
            match t.tok {
                Tok::Punct(b'(') | Tok::Punct(b'[') => depth += 1,
                Tok::Punct(b')') | Tok::Punct(b']') if depth > 0 => depth -= 1,
                Tok::Punct(b')') => {
                    if is_col {
                        push_col(b, &first, ty_start, ty_end, &mut cols);
                    }
                    break 'items;
                }
                Tok::Punct(b',') if depth == 0 => {
                    if is_col {
                        push_col(b, &first, ty_start, ty_end, &mut cols);
                    }
                    continue 'items;
                }
                _ => {}
            }
            if in_type {
                if depth == 0 && t.tok == Tok::Word && stop.iter().any(|k| is_kw(b, &t, k)) {
                    in_type = false;
                } else {
                    ty_start.get_or_insert(t.start);
                    ty_end = t.end;
                }
            }
        }
    }
    Some((name, cols))
}

/// The table and column of a single-column unique key that a statement adds, as pg_dump
/// writes them after the data: `ALTER TABLE [ONLY] t ADD CONSTRAINT c PRIMARY KEY (col)` or
/// `UNIQUE [NULLS [NOT] DISTINCT] (col)`, and `CREATE UNIQUE INDEX i ON [ONLY] t [USING m]
/// (col)` without a `WHERE`. A key of several columns or of an expression is `None`: a
/// collision in one column cannot alone break it.
pub fn unique_key(b: &[u8], lex: Lex) -> Option<(Vec<String>, String)> {
    let mut toks = Tokens::new(b, 0, lex);
    let next = |toks: &mut Tokens<'_>| toks.next()?.ok();
    let word = |toks: &mut Tokens<'_>, kw: &str| -> Option<()> {
        let t = toks.next()?.ok()?;
        is_kw(b, &t, kw).then_some(())
    };
    // `[ONLY] name`, and the token after it.
    fn table<'b>(b: &'b [u8], lex: Lex, toks: &mut Tokens<'b>) -> Option<(Vec<String>, Token)> {
        let mut probe = Tokens::new(b, toks.pos(), lex);
        if is_kw(b, &probe.next()?.ok()?, "ONLY") {
            *toks = probe;
        }
        let (parts, after) = qualified_name(b, toks).ok()?;
        Some((parts, after?))
    }
    let first = next(&mut toks)?;
    let (parts, mut t) = if is_kw(b, &first, "ALTER") {
        word(&mut toks, "TABLE")?;
        let (parts, t) = table(b, lex, &mut toks)?;
        if !is_kw(b, &t, "ADD") {
            return None;
        }
        word(&mut toks, "CONSTRAINT")?;
        next(&mut toks)?; // the constraint's name
        let t = next(&mut toks)?;
        if is_kw(b, &t, "PRIMARY") {
            word(&mut toks, "KEY")?;
        } else if !is_kw(b, &t, "UNIQUE") {
            return None;
        }
        (parts, next(&mut toks)?)
    } else if is_kw(b, &first, "CREATE") {
        word(&mut toks, "UNIQUE")?;
        word(&mut toks, "INDEX")?;
        let mut t = next(&mut toks)?;
        while !is_kw(b, &t, "ON") {
            t = next(&mut toks)?; // CONCURRENTLY, IF NOT EXISTS, the index's name
        }
        let (parts, mut t) = table(b, lex, &mut toks)?;
        if is_kw(b, &t, "USING") {
            next(&mut toks)?;
            t = next(&mut toks)?;
        }
        (parts, t)
    } else {
        return None;
    };
    if is_kw(b, &t, "NULLS") {
        t = next(&mut toks)?;
        if is_kw(b, &t, "NOT") {
            t = next(&mut toks)?;
        }
        if !is_kw(b, &t, "DISTINCT") {
            return None;
        }
        t = next(&mut toks)?;
    }
    if t.tok != Tok::Punct(b'(') {
        return None;
    }
    let col = next(&mut toks)?;
    if !matches!(col.tok, Tok::Word | Tok::QuotedIdent) {
        return None;
    }
    if next(&mut toks)?.tok != Tok::Punct(b')') {
        return None;
    }
    // A partial index (`… WHERE cond`) binds only the rows it covers: two equal replacements
    // may well both be outside it, so it is not taken as a key of the whole column.
    let mut depth = 0i32;
    while let Some(Ok(t)) = toks.next() {
        match t.tok {
            Tok::Punct(b'(') => depth += 1,
            Tok::Punct(b')') => depth -= 1,
            _ if depth == 0 && is_kw(b, &t, "WHERE") => return None,
            _ => {}
        }
    }
    Some((parts, ident(b, &col)))
}

/// What a statement says about table partitioning: the restore puts each partition's rows
/// into that partition directly, so a value of its key that changes can leave the rows
/// outside the partition's bounds.
#[derive(Debug, PartialEq, Eq)]
pub enum Partitioning {
    /// `CREATE TABLE t (…) PARTITION BY RANGE|LIST|HASH (…)`: the names in the key (columns,
    /// and words of key expressions, which match no column).
    Keys {
        table: Vec<String>,
        keys: Vec<String>,
    },
    /// `CREATE TABLE child PARTITION OF parent …`, `ALTER TABLE [ONLY] parent ATTACH PARTITION
    /// child …`.
    Child {
        child: Vec<String>,
        parent: Vec<String>,
    },
}

/// The partitioning a `CREATE TABLE` or `ALTER TABLE` statement declares, if any.
pub fn partitioning(b: &[u8], lex: Lex) -> Option<Partitioning> {
    let mut toks = Tokens::new(b, 0, lex);
    let first = toks.next()?.ok()?;
    let word = |toks: &mut Tokens<'_>, kw: &str| -> Option<()> {
        let t = toks.next()?.ok()?;
        is_kw(b, &t, kw).then_some(())
    };
    if is_kw(b, &first, "ALTER") {
        word(&mut toks, "TABLE")?;
        let save = toks.pos();
        let mut probe = Tokens::new(b, save, lex);
        let t = probe.next()?.ok()?;
        if is_kw(b, &t, "ONLY") {
            toks = probe;
        }
        let (parent, next) = qualified_name(b, &mut toks).ok()?;
        let next = next?;
        if !is_kw(b, &next, "ATTACH") {
            return None;
        }
        word(&mut toks, "PARTITION")?;
        let (child, _) = qualified_name(b, &mut toks).ok()?;
        return Some(Partitioning::Child { child, parent });
    }
    if !is_kw(b, &first, "CREATE") {
        return None;
    }
    loop {
        let t = toks.next()?.ok()?;
        if is_kw(b, &t, "TABLE") {
            break;
        }
        if !(t.tok == Tok::Word
            && ["UNLOGGED", "TEMP", "TEMPORARY", "GLOBAL", "LOCAL"]
                .iter()
                .any(|k| is_kw(b, &t, k)))
        {
            return None;
        }
    }
    let (table, next) = qualified_name(b, &mut toks).ok()?;
    let next = next?;
    if is_kw(b, &next, "PARTITION") {
        word(&mut toks, "OF")?;
        let (parent, _) = qualified_name(b, &mut toks).ok()?;
        return Some(Partitioning::Child {
            child: table,
            parent,
        });
    }
    if next.tok != Tok::Punct(b'(') {
        return None;
    }
    let mut depth = 1;
    while depth > 0 {
        match toks.next()?.ok()?.tok {
            Tok::Punct(b'(') => depth += 1,
            Tok::Punct(b')') => depth -= 1,
            _ => {}
        }
    }
    word(&mut toks, "PARTITION")?;
    word(&mut toks, "BY")?;
    let kind = toks.next()?.ok()?;
    if !["RANGE", "LIST", "HASH"].iter().any(|k| is_kw(b, &kind, k)) {
        return None;
    }
    if toks.next()?.ok()?.tok != Tok::Punct(b'(') {
        return None;
    }
    let (mut depth, mut keys) = (1, Vec::new());
    while depth > 0 {
        let t = toks.next()?.ok()?;
        match t.tok {
            Tok::Punct(b'(') => depth += 1,
            Tok::Punct(b')') => depth -= 1,
            Tok::Word | Tok::QuotedIdent => keys.push(ident(b, &t)),
            _ => {}
        }
    }
    Some(Partitioning::Keys { table, keys })
}

fn push_col(
    b: &[u8],
    name: &Token,
    ty_start: Option<usize>,
    ty_end: usize,
    cols: &mut Vec<(String, String)>,
) {
    let ty = ty_start.map_or(String::new(), |s| {
        String::from_utf8_lossy(&b[s..ty_end]).into_owned()
    });
    cols.push((ident(b, name), ty));
}

/// A `SET name = value` (or `SET name TO value`) statement's name and value, lower-cased
/// name, value unquoted.
pub fn set_statement(b: &[u8], lex: Lex) -> Option<(String, String)> {
    let mut toks = Tokens::new(b, 0, lex);
    let t = toks.next()?.ok()?;
    if !is_kw(b, &t, "SET") {
        return None;
    }
    let name = toks.next()?.ok()?;
    if name.tok != Tok::Word {
        return None;
    }
    let mut v = toks.next()?.ok()?;
    if v.tok == Tok::Punct(b'=') || is_kw(b, &v, "TO") {
        v = toks.next()?.ok()?;
    }
    let value = match v.tok {
        Tok::Str { kind, .. } => {
            let mut out = Vec::new();
            decode_str(&b[v.body()], kind, lex.enc, &mut out);
            String::from_utf8_lossy(&out).into_owned()
        }
        _ => String::from_utf8_lossy(&b[v.start..v.end]).into_owned(),
    };
    Some((ident(b, &name), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends(sql: &[u8], lex: Lex) -> Vec<usize> {
        let mut out = Vec::new();
        let mut i = 0;
        loop {
            while i < sql.len() && sql[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= sql.len() {
                return out;
            }
            match statement_end(sql, i, lex) {
                End::At(e) => {
                    out.push(e);
                    i = e;
                }
                End::More(_) => return out,
            }
        }
    }

    #[test]
    fn statement_ends_table() {
        let on = Lex::default();
        let off = Lex {
            std_strings: false,
            ..on
        };
        for (sql, lex, want) in [
            (&b"SELECT 1; SELECT 2;"[..], on, vec![9, 19]),
            (b"SELECT ';'; SELECT 2;", on, vec![11, 21]),
            (b"SELECT 'it''s;'; x;", on, vec![16, 19]),
            (b"SELECT 'a\\'; x;", on, vec![12, 15]),
            (b"SELECT E'a\\';'; x;", on, vec![15, 18]),
            (b"SELECT 'a\\';'; x;", off, vec![14, 17]),
            (b"SELECT \"a;b\"; x;", on, vec![13, 16]),
            (b"SELECT $$;$$; x;", on, vec![13, 16]),
            (b"SELECT $f$ $$; $f$; x;", on, vec![19, 22]),
            (b"SELECT a$b; x;", on, vec![11, 14]),
            (b"SELECT $1; x;", on, vec![10, 13]),
            (b"SELECT 1 -- ;\n; x;", on, vec![15, 18]),
            (b"SELECT /* ; /* ; */ ; */ 1; x;", on, vec![27, 30]),
            (b"SELECT e'\\';'; x;", on, vec![14, 17]),
            (b"SELECT be'x'; x;", on, vec![13, 16]),
        ] {
            assert_eq!(ends(sql, lex), want, "{}", String::from_utf8_lossy(sql));
        }
    }

    #[test]
    fn open_constructs_ask_for_more() {
        let lex = Lex::default();
        for (sql, open) in [
            (&b"INSERT INTO t VALUES ('abc"[..], Open::String),
            (b"INSERT INTO t VALUES ('abc'", Open::String),
            (b"SELECT \"ab", Open::QuotedIdent),
            (b"CREATE FUNCTION f() AS $body$ x", Open::DollarQuote),
            (b"SELECT /* x", Open::Comment),
            (b"SELECT 1", Open::Statement),
        ] {
            assert_eq!(statement_end(sql, 0, lex), End::More(open));
        }
    }

    #[test]
    fn multibyte_encodings_hide_ascii_bytes() {
        // SJIS 0x95 0x5C (表) before a closing quote in an E-string.
        let sql = b"SELECT E'\x95\x5c'; x;";
        let sjis = Lex {
            enc: Encoding::Sjis,
            std_strings: true,
        };
        assert_eq!(ends(sql, sjis), vec![13, 16]);
        assert_ne!(ends(sql, Lex::default()), vec![13, 16]);
        // JOHAB: a trail byte can be `;`.
        let sql = b"SELECT \x84\x3b; x;";
        let johab = Lex {
            enc: Encoding::Johab,
            std_strings: true,
        };
        assert_eq!(ends(sql, johab), vec![10, 13]);
        assert_ne!(ends(sql, Lex::default()), vec![10, 13]);
    }

    #[test]
    fn string_decode_encode() {
        for (body, kind, want) in [
            (&b"it''s"[..], StrKind::Standard, &b"it's"[..]),
            (b"a\\b", StrKind::Standard, b"a\\b"),
            (b"a\\\\b\\n\\t\\'x''", StrKind::Escape, b"a\\b\n\t'x'"),
            (b"\\101\\x41\\xg\\u00e9", StrKind::Escape, b"AAxg\xc3\xa9"),
        ] {
            let mut v = Vec::new();
            decode_str(body, kind, Encoding::Ascii, &mut v);
            assert_eq!(v, want);
            let mut e = Vec::new();
            encode_str(&v, kind, Encoding::Ascii, &mut e);
            let mut back = Vec::new();
            decode_str(&e, kind, Encoding::Ascii, &mut back);
            assert_eq!(back, want);
        }
        for b in 0..=255u8 {
            for kind in [StrKind::Standard, StrKind::Escape] {
                let v = [b'x', b, b'1'];
                let mut e = vec![b'\''];
                encode_str(&v, kind, Encoding::Ascii, &mut e);
                e.extend_from_slice(b"' ");
                assert_eq!(
                    quoted_end(&e, 1, b'\'', kind == StrKind::Escape, Encoding::Ascii),
                    Some(e.len() - 1)
                );
                let mut back = Vec::new();
                decode_str(&e[1..e.len() - 2], kind, Encoding::Ascii, &mut back);
                assert_eq!(back, v, "byte {b} {kind:?}");
            }
        }
    }

    #[test]
    fn values_ending_in_a_cut_lead_byte_stay_one_literal() {
        // Before, the closing quote read back as the trail byte of the last character and the
        // statement never ended (found by fuzz/codec_roundtrip).
        for (enc, value) in [
            (Encoding::Sjis, &b"SSN 536-22-8726 \x95"[..]),
            (Encoding::Sjis, b"\x82\xa0\xe0"),
            (Encoding::DoubleByte, b"\xa4\xa4\x81"),
            (Encoding::Gb18030, b"x\x81"),
            (Encoding::Gb18030, b"x\x815"),
            (Encoding::Gb18030, b"x\x8150"),
            (Encoding::Johab, b"\x8f\xa1"),
            (Encoding::Sjis, b"whole \x82\xa0 and \\ '"),
        ] {
            for std_strings in [true, false] {
                let lex = Lex { enc, std_strings };
                let mut stmt = b"SELECT date".to_vec();
                write_literal(value, lex, &mut stmt);
                stmt.push(b';');
                assert_eq!(
                    statement_end(&stmt, 0, lex),
                    End::At(stmt.len()),
                    "{lex:?} {stmt:?}"
                );
                let open = stmt.iter().position(|&b| b == b'\'').unwrap() + 1;
                let escapes = !std_strings || stmt[open - 2] == b'E';
                assert_eq!(
                    escapes,
                    !std_strings || !plain_can_hold(value, enc),
                    "{stmt:?}"
                );
                if stmt[open - 2] == b'E' {
                    assert_eq!(stmt[open - 3], b' ', "{stmt:?}");
                }
                assert_eq!(
                    quoted_end(&stmt, open, b'\'', escapes, enc),
                    Some(stmt.len() - 1)
                );
                let kind = if escapes {
                    StrKind::Escape
                } else {
                    StrKind::Standard
                };
                let mut back = Vec::new();
                decode_str(&stmt[open..stmt.len() - 2], kind, enc, &mut back);
                assert_eq!(back, value, "{lex:?} {stmt:?}");
            }
        }
    }

    #[test]
    fn create_table_columns() {
        let sql = b"CREATE TABLE public.patients (\n    id integer NOT NULL,\n    ssn character varying(11) NOT NULL,\n    \"Full Name\" text COLLATE pg_catalog.\"C\",\n    amount numeric(10,2) DEFAULT 0.0,\n    tags text[],\n    at timestamp with time zone,\n    CONSTRAINT ck CHECK ((amount > (0)::numeric))\n);";
        let (name, cols) = create_table(sql, Lex::default()).unwrap();
        assert_eq!(name, vec!["public", "patients"]);
        let want: Vec<(String, String)> = [
            ("id", "integer"),
            ("ssn", "character varying(11)"),
            ("Full Name", "text"),
            ("amount", "numeric(10,2)"),
            ("tags", "text[]"),
            ("at", "timestamp with time zone"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(cols, want);
        assert!(create_table(b"CREATE INDEX i ON t (a);", Lex::default()).is_none());
        assert!(create_table(
            b"CREATE TABLE p1 PARTITION OF p FOR VALUES IN (1);",
            Lex::default()
        )
        .is_none());
    }

    #[test]
    fn unique_keys_pg_dump_adds_after_the_data() {
        let l = Lex::default();
        let key =
            |sql: &str| unique_key(sql.as_bytes(), l).map(|(t, c)| format!("{}:{c}", t.join(".")));
        for (sql, want) in [
            (
                "ALTER TABLE ONLY public.people\n    ADD CONSTRAINT people_ssn_key UNIQUE (ssn);",
                Some("public.people:ssn"),
            ),
            (
                "ALTER TABLE ONLY public.people ADD CONSTRAINT people_pkey PRIMARY KEY (id);",
                Some("public.people:id"),
            ),
            (
                "ALTER TABLE people ADD CONSTRAINT k UNIQUE NULLS NOT DISTINCT (\"Phone\");",
                Some("people:Phone"),
            ),
            (
                "CREATE UNIQUE INDEX people_mrn ON public.people USING btree (mrn);",
                Some("public.people:mrn"),
            ),
            (
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON ONLY s.t (c);",
                Some("s.t:c"),
            ),
            // Several columns, an expression, other constraints and indexes: no single key.
            ("ALTER TABLE ONLY public.p ADD CONSTRAINT k UNIQUE (a, b);", None),
            ("CREATE UNIQUE INDEX i ON public.p USING btree (lower(email));", None),
            ("CREATE INDEX i ON public.p USING btree (email);", None),
            (
                "ALTER TABLE ONLY public.c ADD CONSTRAINT f FOREIGN KEY (ssn) REFERENCES public.p(ssn);",
                None,
            ),
            ("ALTER TABLE ONLY public.p ALTER COLUMN id SET DEFAULT 1;", None),
            ("ALTER TABLE ONLY public.p ADD CONSTRAINT c CHECK (a > 0);", None),
            // A partial index covers some rows only; included columns and NULLS NOT DISTINCT
            // after the list still make a key of the column.
            ("CREATE UNIQUE INDEX i ON public.p USING btree (ssn) WHERE (active);", None),
            (
                "CREATE UNIQUE INDEX i ON public.p USING btree (ssn) INCLUDE (name) NULLS NOT DISTINCT;",
                Some("public.p:ssn"),
            ),
        ] {
            assert_eq!(key(sql).as_deref(), want, "{sql}");
        }
    }

    #[test]
    fn partitioning_statements() {
        let l = Lex::default();
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            partitioning(b"CREATE TABLE public.payment (\n    payment_id integer DEFAULT nextval('x'::regclass) NOT NULL,\n    payment_date timestamp with time zone NOT NULL\n)\nPARTITION BY RANGE (payment_date);", l),
            Some(Partitioning::Keys { table: v(&["public", "payment"]), keys: v(&["payment_date"]) })
        );
        assert_eq!(
            partitioning(
                b"CREATE TABLE t (a int, \"B\" text) PARTITION BY HASH (a, lower(\"B\"));",
                l
            ),
            Some(Partitioning::Keys {
                table: v(&["t"]),
                keys: v(&["a", "lower", "B"])
            })
        );
        assert_eq!(
            partitioning(b"ALTER TABLE ONLY public.payment ATTACH PARTITION public.payment_p2007_01 FOR VALUES FROM ('2007-01-01 00:00:00+00') TO ('2007-02-01 00:00:00+00');", l),
            Some(Partitioning::Child { child: v(&["public", "payment_p2007_01"]), parent: v(&["public", "payment"]) })
        );
        assert_eq!(
            partitioning(b"CREATE TABLE p1 PARTITION OF p FOR VALUES IN (1);", l),
            Some(Partitioning::Child {
                child: v(&["p1"]),
                parent: v(&["p"])
            })
        );
        for other in [
            &b"CREATE TABLE t (a int);"[..],
            b"ALTER TABLE ONLY t ADD CONSTRAINT k PRIMARY KEY (a);",
            b"CREATE INDEX i ON t (a);",
            b"ALTER TABLE t OWNER TO x;",
        ] {
            assert_eq!(partitioning(other, l), None);
        }
    }

    #[test]
    fn set_statements() {
        let lex = Lex::default();
        assert_eq!(
            set_statement(b"SET client_encoding = 'SJIS';", lex),
            Some(("client_encoding".into(), "SJIS".into()))
        );
        assert_eq!(
            set_statement(b"SET standard_conforming_strings TO off;", lex),
            Some(("standard_conforming_strings".into(), "off".into()))
        );
        assert_eq!(set_statement(b"SELECT 1;", lex), None);
    }
}
