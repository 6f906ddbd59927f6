//! Dates as they are written in clinical text.
//!
//! Date shifting only preserves readability (and does not leak that a file
//! was scrubbed) if the replacement is written exactly like the original, so
//! [`parse`] keeps the original bytes and where the year, month and day sit in
//! them. Rendering then rewrites only the fields whose value changed and copies
//! every other byte (separators, punctuation, a trailing time) verbatim.
//!
//! Parsing never allocates: the original text is held in a small inline
//! buffer, because the `date` validator calls [`parse`] on every candidate.

use std::fmt;

/// Longest text accepted as one date. The longest supported form, an ISO
/// date-time with nanoseconds and an offset, is 35 bytes; anything much
/// longer is not a single date, and the cap keeps `ParsedDate` inline.
const MAX_LEN: usize = 48;

/// Lower-case English month names; rendering derives every spelling from them.
const MONTHS: [&[u8]; 12] = [
    b"january",
    b"february",
    b"march",
    b"april",
    b"may",
    b"june",
    b"july",
    b"august",
    b"september",
    b"october",
    b"november",
    b"december",
];

/// A calendar-valid date found in text, with enough of its written form to render a replacement the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedDate {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    layout: Layout,
}

/// Where each field sits in the original text and how it was spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    text: Text,
    year: Span,
    month: Span,
    /// Covers the digits and any ordinal suffix ("3rd").
    day: Span,
    /// The date as parsed; fields still equal to it are copied verbatim, which
    /// makes `shifted(0)` an exact round trip even for odd spellings like "mAr".
    orig: (i32, u8, u8),
    month_form: MonthForm,
    day_pad: bool,
    ordinal: Option<Case>,
}

/// The original bytes, inline so that parsing does not allocate.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Text {
    buf: [u8; MAX_LEN],
    len: u8,
}

impl Text {
    fn new(text: &[u8]) -> Option<Text> {
        if text.len() > MAX_LEN {
            return None;
        }
        let mut buf = [0; MAX_LEN];
        buf[..text.len()].copy_from_slice(text);
        Some(Text {
            buf,
            len: text.len() as u8,
        })
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

impl fmt::Debug for Text {
    // The unused tail of the buffer is noise; show only the text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.as_bytes().escape_ascii())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u8,
    len: u8,
}

impl Span {
    /// Spans only ever come from positions inside a text of at most `MAX_LEN` bytes.
    fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u8,
            len: (end - start) as u8,
        }
    }

    fn start(self) -> usize {
        usize::from(self.start)
    }

    fn end(self) -> usize {
        usize::from(self.start) + usize::from(self.len)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Lower,
    Upper,
    Title,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MonthForm {
    Number { pad: bool },
    Name { case: Case, form: NameForm },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameForm {
    Full,
    /// Three letters; `sept` remembers the four-letter "Sept" so that
    /// September is written back the same way (other months still get three).
    Abbrev {
        sept: bool,
    },
}

/// Parses the whole of `text` as one date (leading/trailing ASCII whitespace is NOT allowed; the caller gives exact spans). Returns None when it is not a calendar-valid date in a supported layout.
pub fn parse(text: &[u8]) -> Option<ParsedDate> {
    let stored = Text::new(text)?;
    let first = *text.first()?;
    let fields = if first.is_ascii_digit() {
        parse_numeric(text).or_else(|| parse_named(text))
    } else {
        parse_named(text)
    }?;
    let (y, m, d) = fields.orig;
    if !is_valid(y, m, d) {
        return None;
    }
    Some(ParsedDate {
        year: y,
        month: m,
        day: d,
        layout: Layout {
            text: stored,
            ..fields
        },
    })
}

/// A layout whose text is filled in by [`parse`], so the layout parsers can
/// work on the borrowed input.
fn fields(
    orig: (i32, u8, u8),
    spans: (Span, Span, Span),
    month_form: MonthForm,
    day_pad: bool,
    ordinal: Option<Case>,
) -> Layout {
    Layout {
        text: Text {
            buf: [0; MAX_LEN],
            len: 0,
        },
        year: spans.0,
        month: spans.1,
        day: spans.2,
        orig,
        month_form,
        day_pad,
        ordinal,
    }
}

/// ISO, US, European dotted and compact forms, with an optional trailing time.
fn parse_numeric(text: &[u8]) -> Option<Layout> {
    // Numeric dates never contain spaces or letters, so the first of those
    // starts the time (and "3 Mar 2021" or "3-Oct-2021" fail here and fall
    // through to the named parser).
    let cut = text
        .iter()
        .position(|&b| matches!(b, b' ' | b'T' | b't'))
        .unwrap_or(text.len());
    let (date, time) = text.split_at(cut);
    if let Some((_, clock)) = time.split_first() {
        if !is_time(clock) {
            return None;
        }
    }

    let Some(sep) = date.iter().copied().find(|b| !b.is_ascii_digit()) else {
        // Compact YYYYMMDD: eight bare digits are common as other numbers, so
        // only a plausible modern year counts, and it never carries a time.
        if date.len() != 8 || !time.is_empty() {
            return None;
        }
        let y = number(&date[..4]);
        if !(1900..=2099).contains(&y) {
            return None;
        }
        return Some(fields(
            (
                y as i32,
                number(&date[4..6]) as u8,
                number(&date[6..]) as u8,
            ),
            (Span::new(0, 4), Span::new(4, 6), Span::new(6, 8)),
            MonthForm::Number { pad: true },
            true,
            None,
        ));
    };
    if !matches!(sep, b'-' | b'/' | b'.') {
        return None;
    }
    let mut parts = date.split(|&b| b == sep);
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || [a, b, c].iter().any(|p| !is_digits(p)) {
        return None;
    }
    let spans = [
        Span::new(0, a.len()),
        Span::new(a.len() + 1, a.len() + 1 + b.len()),
        Span::new(a.len() + b.len() + 2, date.len()),
    ];
    let (va, vb, vc) = (number(a), number(b), number(c));
    let short = |p: &[u8]| (1..=2).contains(&p.len());

    // (year, month, day) as indexes into the three parts.
    let (iy, im, id, year) = if a.len() == 4 && short(b) && short(c) {
        (0, 1, 2, va as i32)
    } else if short(a) && short(b) && matches!(c.len(), 2 | 4) {
        if time.first().is_some_and(|&t| t != b' ') {
            return None; // 'T' belongs to ISO only
        }
        // "1.2.21" reads as a version number far more often than a date.
        if sep == b'.' && c.len() == 2 && (a.len() != 2 || b.len() != 2) {
            return None;
        }
        let year = if c.len() == 4 { vc as i32 } else { pivot(vc) };
        // Dotted dates are European; otherwise month first unless it cannot be.
        if sep == b'.' || (va > 12 && vb <= 12) {
            (2, 1, 0, year)
        } else {
            (2, 0, 1, year)
        }
    } else {
        return None;
    };
    let part = [a, b, c];
    let value = [va, vb, vc];
    let (m_ev, d_ev) = (pad_evidence(part[im]), pad_evidence(part[id]));
    Some(fields(
        (year, value[im] as u8, value[id] as u8),
        (spans[iy], spans[im], spans[id]),
        MonthForm::Number {
            pad: m_ev.or(d_ev).unwrap_or(true),
        },
        d_ev.or(m_ev).unwrap_or(true),
        None,
    ))
}

/// A time after a date: `H:MM` at least, then only clock and zone characters.
fn is_time(t: &[u8]) -> bool {
    let hours = t.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=2).contains(&hours) {
        return false;
    }
    let rest = &t[hours..];
    rest.len() >= 3
        && rest[0] == b':'
        && is_digits(&rest[1..3])
        && rest[3..].iter().all(|&b| {
            b.is_ascii_digit() || matches!(b, b':' | b'.' | b',' | b'Z' | b'z' | b'+' | b'-')
        })
}

/// Whether a numeric field shows zero padding: "04" yes, "4" no, "12" cannot tell.
fn pad_evidence(field: &[u8]) -> Option<bool> {
    match field {
        [_] => Some(false),
        [b'0', ..] => Some(true),
        _ => None,
    }
}

/// Two-digit years: most written dates are recent, birth dates reach back a
/// lifetime, so 00-30 are this century and 31-99 the last.
fn pivot(yy: u32) -> i32 {
    if yy <= 30 {
        2000 + yy as i32
    } else {
        1900 + yy as i32
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Num,
    Word,
    Sep,
}

#[derive(Debug, Clone, Copy)]
struct Tok {
    kind: Kind,
    start: usize,
    end: usize,
}

/// Splits into runs of digits, letters and separators; None on any other byte
/// (non-ASCII, control characters), which no supported layout contains.
fn lex(text: &[u8], out: &mut [Tok]) -> Option<usize> {
    let kind_of = |b: u8| {
        if b.is_ascii_digit() {
            Some(Kind::Num)
        } else if b.is_ascii_alphabetic() {
            Some(Kind::Word)
        } else if b.is_ascii_punctuation() || b == b' ' {
            Some(Kind::Sep)
        } else {
            None
        }
    };
    let mut n = 0;
    let mut i = 0;
    while i < text.len() {
        let kind = kind_of(text[i])?;
        let start = i;
        while i < text.len() && kind_of(text[i]) == Some(kind) {
            i += 1;
        }
        *out.get_mut(n)? = Tok {
            kind,
            start,
            end: i,
        };
        n += 1;
    }
    Some(n)
}

#[derive(Debug, Clone, Copy)]
enum Item {
    Num {
        digits: Span,
        /// The digits plus an ordinal suffix, if any.
        span: Span,
        ordinal: Option<Case>,
    },
    Month {
        month: u8,
        span: Span,
        case: Case,
        /// None for "May", which is both a full name and an abbreviation.
        form: Option<NameForm>,
        dot: bool,
    },
    Of,
}

/// Layouts with an English month name.
fn parse_named(text: &[u8]) -> Option<Layout> {
    let mut toks = [Tok {
        kind: Kind::Sep,
        start: 0,
        end: 0,
    }; 10];
    let n = lex(text, &mut toks)?;
    let toks = &toks[..n];

    // Items alternate with separators; an ordinal suffix sticks to its number.
    let mut items = [Item::Of; 4];
    let mut seps: [&[u8]; 3] = [b""; 3];
    let mut count = 0;
    let mut i = 0;
    while i < toks.len() {
        if count > 0 {
            let sep = toks[i];
            if sep.kind != Kind::Sep || count > seps.len() {
                return None;
            }
            seps[count - 1] = &text[sep.start..sep.end];
            i += 1;
        }
        let tok = *toks.get(i)?;
        let word = &text[tok.start..tok.end];
        let item = match tok.kind {
            Kind::Sep => return None,
            Kind::Num => {
                let suffix = toks
                    .get(i + 1)
                    .filter(|t| t.kind == Kind::Word)
                    .map(|t| (t, &text[t.start..t.end]));
                let (end, ordinal) = match suffix {
                    Some((t, s)) => {
                        if !is_ordinal_suffix(s) {
                            return None;
                        }
                        i += 1;
                        (t.end, Some(case_of(s)))
                    }
                    None => (tok.end, None),
                };
                Item::Num {
                    digits: Span::new(tok.start, tok.end),
                    span: Span::new(tok.start, end),
                    ordinal,
                }
            }
            Kind::Word if word.eq_ignore_ascii_case(b"of") => Item::Of,
            Kind::Word => {
                let (month, form) = month_from_word(word)?;
                Item::Month {
                    month,
                    span: Span::new(tok.start, tok.end),
                    case: case_of(word),
                    form,
                    dot: false,
                }
            }
        };
        *items.get_mut(count)? = item;
        count += 1;
        i += 1;
    }

    // The '.' of "Mar." belongs to the abbreviation, not to the separator.
    for k in 0..count.saturating_sub(1) {
        if let Item::Month {
            form, ref mut dot, ..
        } = items[k]
        {
            let sep = seps[k];
            if form != Some(NameForm::Full) && sep.len() > 1 && sep[0] == b'.' {
                *dot = true;
                seps[k] = &sep[1..];
            }
        }
    }

    let seps = &seps[..count.saturating_sub(1)];
    let (day, month, year, first_sep) = match (&items[..count], seps) {
        // 3 Mar 2021, 03-MAR-21, 3rd March, 2021
        ([d @ Item::Num { .. }, m @ Item::Month { .. }, y @ Item::Num { .. }], &[s1, s2])
            if is_short(d) =>
        {
            if !(is_plain_sep(s1) && (s2 == s1 || (s1 == b" " && is_comma_sep(s2)))) {
                return None;
            }
            (d, m, y, s1)
        }
        // 2021-Mar-03
        ([y @ Item::Num { .. }, m @ Item::Month { .. }, d @ Item::Num { .. }], &[s1, s2])
            if is_long(y) =>
        {
            if !(is_plain_sep(s1) && s2 == s1) {
                return None;
            }
            (d, m, y, s1)
        }
        // 3rd of March 2021; "of" reads as a date only after an ordinal.
        (
            [d @ Item::Num {
                ordinal: Some(_), ..
            }, Item::Of, m @ Item::Month { .. }, y @ Item::Num { .. }],
            &[s1, s2, s3],
        ) => {
            if !(s1 == b" " && s2 == b" " && (s3 == b" " || is_comma_sep(s3))) {
                return None;
            }
            (d, m, y, s1)
        }
        // March 3, 2021, Mar. 3rd 2021, Mar-03-2021
        ([m @ Item::Month { .. }, d @ Item::Num { .. }, y @ Item::Num { .. }], &[s1, s2]) => {
            let ok = if s1 == b" " {
                s2 == b" " || is_comma_sep(s2)
            } else {
                is_plain_sep(s1) && s2 == s1
            };
            if !ok {
                return None;
            }
            (d, m, y, s1)
        }
        _ => return None,
    };

    let &Item::Num {
        digits: d_digits,
        span: d_span,
        ordinal,
    } = day
    else {
        return None;
    };
    let &Item::Num {
        digits: y_digits,
        span: y_span,
        ordinal: None,
    } = year
    else {
        return None;
    };
    let &Item::Month {
        month,
        span: m_span,
        case,
        form,
        dot,
    } = month
    else {
        return None;
    };
    let d_text = &text[d_digits.start()..d_digits.end()];
    let y_text = &text[y_digits.start()..y_digits.end()];
    if !(1..=2).contains(&d_text.len()) {
        return None;
    }
    let year = match y_text.len() {
        4 => number(y_text) as i32,
        2 => pivot(number(y_text)),
        _ => return None,
    };
    let spaced = first_sep == b" ";
    // "May" is ambiguous; in "03-MAY-21" and "May. 3" it stands for the
    // abbreviation, in "May 3, 2021" for the full name.
    let form = form.unwrap_or(if dot || !spaced {
        NameForm::Abbrev { sept: false }
    } else {
        NameForm::Full
    });
    Some(fields(
        (year, month, number(d_text) as u8),
        (y_span, m_span, d_span),
        MonthForm::Name { case, form },
        // "28-FEB-21" is a fixed-width style; "Feb 28, 2021" is prose, where
        // days are not padded.
        pad_evidence(d_text).unwrap_or(!spaced),
        ordinal,
    ))
}

fn is_long(item: &Item) -> bool {
    matches!(item, Item::Num { digits, ordinal: None, .. } if digits.len == 4)
}

fn is_short(item: &Item) -> bool {
    matches!(item, Item::Num { digits, .. } if digits.len <= 2)
}

fn is_plain_sep(s: &[u8]) -> bool {
    matches!(s, b" " | b"-" | b"/" | b".")
}

fn is_comma_sep(s: &[u8]) -> bool {
    matches!(s, b", " | b",")
}

fn is_ordinal_suffix(s: &[u8]) -> bool {
    [b"st", b"nd", b"rd", b"th"]
        .iter()
        .any(|o| s.eq_ignore_ascii_case(*o))
}

fn case_of(word: &[u8]) -> Case {
    if word.iter().all(u8::is_ascii_uppercase) {
        Case::Upper
    } else if word.iter().all(u8::is_ascii_lowercase) {
        Case::Lower
    } else {
        Case::Title
    }
}

fn month_from_word(word: &[u8]) -> Option<(u8, Option<NameForm>)> {
    if word.eq_ignore_ascii_case(b"sept") {
        return Some((9, Some(NameForm::Abbrev { sept: true })));
    }
    for (i, name) in MONTHS.iter().enumerate() {
        let month = i as u8 + 1;
        if word.eq_ignore_ascii_case(name) {
            let form = (word.len() != 3).then_some(NameForm::Full);
            return Some((month, form));
        }
        if word.len() == 3 && word.eq_ignore_ascii_case(&name[..3]) {
            return Some((month, Some(NameForm::Abbrev { sept: false })));
        }
    }
    None
}

fn is_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// Value of a short run of ASCII digits (callers pass at most four).
fn number(s: &[u8]) -> u32 {
    s.iter().fold(0u32, |n, &b| {
        n.saturating_mul(10)
            .saturating_add(u32::from(b.wrapping_sub(b'0')))
    })
}

#[derive(Clone, Copy)]
enum Field {
    Year,
    Month,
    Day,
}

impl ParsedDate {
    /// The same date moved by `days` (may be negative), written in the original layout (time suffix kept). Month names keep their case style (MAR / Mar / mar / March / MARCH) and abbreviation length.
    pub fn shifted(&self, days: i64) -> Vec<u8> {
        let z = days_from_civil(self.year, self.month, self.day).saturating_add(days);
        let (y, m, d) = civil_from_days(z);
        self.render(y, m, d)
    }

    /// Only the year, as four digits (or the original 2-digit year if that was the layout), which is what HIPAA Safe Harbor allows to keep.
    pub fn year_only(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4);
        push_year(&mut out, self.year, self.layout.year.len);
        out
    }

    /// January 1st of the same year, in the original layout: the year-only generalization for a
    /// place that must still hold a whole date (a `date` column of a database dump).
    pub fn year_start(&self) -> Vec<u8> {
        self.render(self.year, 1, 1)
    }

    /// "YYYY-MM-DD", used to normalize before hashing so every written form of one date gives one token.
    ///
    /// Parsed years are always 0..=9999; a year set outside that range by
    /// hand keeps only its last four digits rather than panicking.
    pub fn canonical(&self) -> [u8; 10] {
        iso_text(self.year.rem_euclid(10_000) as u32, self.month, self.day)
    }

    fn render(&self, y: i32, m: u8, d: u8) -> Vec<u8> {
        let l = &self.layout;
        let text = l.text.as_bytes();
        let (oy, om, od) = l.orig;
        let mut fields = [
            (l.year, Field::Year),
            (l.month, Field::Month),
            (l.day, Field::Day),
        ];
        fields.sort_unstable_by_key(|f| f.0.start);

        let mut out = Vec::with_capacity(text.len() + 8);
        let mut pos = 0;
        for (span, field) in fields {
            out.extend_from_slice(&text[pos..span.start()]);
            let original = &text[span.start()..span.end()];
            match field {
                Field::Year if y == oy => out.extend_from_slice(original),
                Field::Year => push_year(&mut out, y, span.len),
                Field::Month if m == om => out.extend_from_slice(original),
                Field::Month => match l.month_form {
                    MonthForm::Number { pad } => push_number(&mut out, m, pad),
                    MonthForm::Name { case, form } => push_month_name(&mut out, m, case, form),
                },
                Field::Day if d == od => out.extend_from_slice(original),
                Field::Day => {
                    push_number(&mut out, d, l.day_pad);
                    if let Some(case) = l.ordinal {
                        push_cased(&mut out, ordinal_suffix(d), case);
                    }
                }
            }
            pos = span.end();
        }
        out.extend_from_slice(&text[pos..]);
        out
    }
}

fn push_year(out: &mut Vec<u8>, y: i32, width: u8) {
    if width == 2 {
        push_number(out, y.rem_euclid(100) as u8, true);
    } else if (0..=9999).contains(&y) {
        let y = y as u32;
        out.extend([y / 1000, y / 100 % 10, y / 10 % 10, y % 10].map(|v| b'0' + v as u8));
    } else {
        // Only reachable by shifting thousands of years; keep every digit.
        out.extend_from_slice(y.to_string().as_bytes());
    }
}

fn push_number(out: &mut Vec<u8>, v: u8, pad: bool) {
    if v >= 10 || pad {
        out.push(b'0' + v / 10 % 10);
    }
    out.push(b'0' + v % 10);
}

fn push_month_name(out: &mut Vec<u8>, m: u8, case: Case, form: NameForm) {
    let name = MONTHS[usize::from(m.clamp(1, 12)) - 1];
    let word = match form {
        NameForm::Full => name,
        NameForm::Abbrev { sept: true } if m == 9 => &name[..4],
        NameForm::Abbrev { .. } => &name[..3],
    };
    push_cased(out, word, case);
}

fn push_cased(out: &mut Vec<u8>, word: &[u8], case: Case) {
    out.extend(word.iter().enumerate().map(|(i, &b)| match case {
        Case::Upper => b.to_ascii_uppercase(),
        Case::Title if i == 0 => b.to_ascii_uppercase(),
        Case::Lower | Case::Title => b,
    }));
}

fn ordinal_suffix(d: u8) -> &'static [u8] {
    match (d % 100, d % 10) {
        (11..=13, _) => b"th",
        (_, 1) => b"st",
        (_, 2) => b"nd",
        (_, 3) => b"rd",
        _ => b"th",
    }
}

/// Year, month and day of a valid date written exactly `YYYY-MM-DD`: the layout most columns
/// hold, told apart without the general parser (which accepts it too, with these fields).
pub fn iso(text: &[u8]) -> Option<(i32, u8, u8)> {
    let &[y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = text else {
        return None;
    };
    if ![y0, y1, y2, y3, m0, m1, d0, d1]
        .iter()
        .all(u8::is_ascii_digit)
    {
        return None;
    }
    let n = |a: u8, b: u8| (a - b'0') * 10 + (b - b'0');
    let y = i32::from(n(y0, y1)) * 100 + i32::from(n(y2, y3));
    let (m, d) = (n(m0, m1), n(d0, d1));
    is_valid(y, m, d).then_some((y, m, d))
}

/// [`ParsedDate::shifted`] for the one layout most columns hold, `YYYY-MM-DD`, without the
/// general parser or an allocation: appends the date moved by `days` and returns `true`, or
/// returns `false` (nothing written) for any other text or a result outside years 1000..=9999,
/// which the general path handles. Its output equals the general path's (a test holds them
/// equal).
pub fn shift_iso(text: &[u8], days: i64, out: &mut Vec<u8>) -> bool {
    let Some((y, m, d)) = iso(text) else {
        return false;
    };
    let (y, m, d) = civil_from_days(days_from_civil(y, m, d).saturating_add(days));
    if !(1000..=9999).contains(&y) {
        return false;
    }
    out.extend_from_slice(&iso_text(y as u32, m, d));
    true
}

/// `YYYY-MM-DD` of a year below 10000.
pub fn iso_text(y: u32, m: u8, d: u8) -> [u8; 10] {
    let digit = |v: u32| b'0' + (v % 10) as u8;
    let (m, d) = (u32::from(m), u32::from(d));
    [
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        b'-',
        digit(m / 10),
        digit(m),
        b'-',
        digit(d / 10),
        digit(d),
    ]
}

/// Days since 1970-01-01 for a proleptic Gregorian date, and back; exposed for tests and the date-shift transform.
///
/// Howard Hinnant's algorithm: counting from March makes the leap day the
/// last day of the year, so no month table is needed. Out-of-range months or
/// days give a meaningless number but never panic.
pub fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`]. Years beyond the range of `i32` saturate,
/// which only happens for shifts of millions of years.
pub fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = (if mp < 10 { mp + 3 } else { mp - 9 }) as u8;
    let y = (yoe + era * 400 + i64::from(m <= 2)).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
    (y as i32, m, d)
}

/// Whether the date exists in the proleptic Gregorian calendar.
pub fn is_valid(y: i32, m: u8, d: u8) -> bool {
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &[(&str, (i32, u8, u8))] = &[
        // ISO
        ("2021-03-04", (2021, 3, 4)),
        ("2021/03/04", (2021, 3, 4)),
        ("2021.03.04", (2021, 3, 4)),
        ("2021-3-4", (2021, 3, 4)),
        ("2021-03-04T10:22:01Z", (2021, 3, 4)),
        ("2021-03-04T10:22:01.123+05:30", (2021, 3, 4)),
        ("2021-03-04T10:22:01.123456789-08:00", (2021, 3, 4)),
        ("2021-03-04 10:22:01", (2021, 3, 4)),
        ("2021-03-04t10:22z", (2021, 3, 4)),
        ("2020-02-29", (2020, 2, 29)),
        ("2000-02-29", (2000, 2, 29)),
        // US numeric, month first
        ("03/04/2021", (2021, 3, 4)),
        ("3/4/2021", (2021, 3, 4)),
        ("03-04-2021", (2021, 3, 4)),
        ("3/4/21", (2021, 3, 4)),
        ("03/04/21", (2021, 3, 4)),
        ("3/4/30", (2030, 3, 4)),
        ("3/4/31", (1931, 3, 4)),
        ("12/25/1999", (1999, 12, 25)),
        ("03/04/2021 10:22", (2021, 3, 4)),
        // day first when the month cannot come first
        ("25/12/2021", (2021, 12, 25)),
        ("13-01-99", (1999, 1, 13)),
        // European dotted
        ("04.03.2021", (2021, 3, 4)),
        ("4.3.2021", (2021, 3, 4)),
        ("04.03.21", (2021, 3, 4)),
        ("31.12.1999 23:59", (1999, 12, 31)),
        // month names
        ("3-Mar-2021", (2021, 3, 3)),
        ("03-MAR-21", (2021, 3, 3)),
        ("3 Mar 2021", (2021, 3, 3)),
        ("3 March 2021", (2021, 3, 3)),
        ("3 March, 2021", (2021, 3, 3)),
        ("March 3, 2021", (2021, 3, 3)),
        ("Mar 3 2021", (2021, 3, 3)),
        ("March 3rd, 2021", (2021, 3, 3)),
        ("Mar. 3rd 2021", (2021, 3, 3)),
        ("3rd of March 2021", (2021, 3, 3)),
        ("3rd of March, 2021", (2021, 3, 3)),
        ("Mar-03-2021", (2021, 3, 3)),
        ("mar 3,2021", (2021, 3, 3)),
        ("Sept 3, 2021", (2021, 9, 3)),
        ("sep. 3 2021", (2021, 9, 3)),
        ("SEPTEMBER 30TH, 2021", (2021, 9, 30)),
        ("1st May 2021", (2021, 5, 1)),
        ("May 22nd, 2021", (2021, 5, 22)),
        ("2021-Mar-03", (2021, 3, 3)),
        ("29 Feb 2020", (2020, 2, 29)),
        ("11th OF november 1955", (1955, 11, 11)),
        // compact
        ("20210304", (2021, 3, 4)),
        ("19991231", (1999, 12, 31)),
    ];

    /// The `YYYY-MM-DD` fast path writes what the general parser and renderer write, for
    /// dates of every month (leap days included), offsets both ways and text it must refuse.
    #[test]
    fn iso_shift_equals_the_general_path() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut texts: Vec<String> = (0..4000)
            .map(|_| {
                let r = next();
                format!(
                    "{:04}-{:02}-{:02}",
                    1000 + r % 9000,
                    1 + (r >> 20) % 12,
                    1 + (r >> 30) % 31
                )
            })
            .collect();
        texts.extend(
            [
                "2024-02-29",
                "2023-02-29",
                "1000-01-01",
                "9999-12-31",
                "2021-13-01",
                "2021-00-10",
                "2021-1-01",
                "2021/01/01",
                "20210101",
                "2021-01-01T10:00",
                "０２１-01-01",
                "1900-02-29",
                "2000-02-29",
            ]
            .map(String::from),
        );
        let mut fast_ones = 0;
        for t in &texts {
            for days in [
                0i64, 1, -1, 365, -366, 40_000, -40_000, 3_000_000, -3_000_000,
            ] {
                let mut fast = Vec::new();
                let general = parse(t.as_bytes()).map(|d| d.shifted(days));
                if shift_iso(t.as_bytes(), days, &mut fast) {
                    fast_ones += 1;
                    assert_eq!(Some(fast), general, "{t} {days}");
                } else {
                    assert!(fast.is_empty());
                    let is_iso_shape = t.len() == 10
                        && t.bytes().enumerate().all(|(i, b)| {
                            if i == 4 || i == 7 {
                                b == b'-'
                            } else {
                                b.is_ascii_digit()
                            }
                        });
                    // Refused only when the text is no valid ISO date or the result leaves
                    // years 1000..=9999.
                    if let (true, Some(d)) = (is_iso_shape, parse(t.as_bytes())) {
                        let (y, ..) =
                            civil_from_days(days_from_civil(d.year, d.month, d.day) + days);
                        assert!(!(1000..=9999).contains(&y), "{t} {days}");
                    }
                }
            }
        }
        assert!(fast_ones > 20_000, "the fast path ran {fast_ones} times");
        for t in &texts {
            let general = parse(t.as_bytes()).filter(|_| t.len() == 10 && t.as_bytes()[4] == b'-');
            assert_eq!(
                iso(t.as_bytes()),
                general.map(|d| (d.year, d.month, d.day)),
                "{t}"
            );
        }
    }

    #[test]
    fn parses_every_layout() {
        for &(input, expected) in VALID {
            let got = parse(input.as_bytes()).unwrap_or_else(|| panic!("{input:?} did not parse"));
            assert_eq!((got.year, got.month, got.day), expected, "{input:?}");
        }
    }

    #[test]
    fn round_trips_unshifted() {
        for &(input, _) in VALID {
            let got = parse(input.as_bytes()).map(|d| d.shifted(0));
            assert_eq!(got.as_deref(), Some(input.as_bytes()), "{input:?}");
        }
    }

    #[test]
    fn rejects_invalid() {
        for input in [
            "2021-02-30",
            "2021-13-01",
            "2021-00-10",
            "2021-01-00",
            "02/29/2021",
            "31/31/2021",
            "0/1/2021",
            "Mar 32, 2021",
            "Feb 29, 2021",
            "2021",
            "10:22:01",
            "1.2.3",
            "1.2.21",
            "March 2021",
            "Mar 3",
            "3 Mar",
            "",
            " 2021-03-04",
            "2021-03-04 ",
            "2021-03-04T",
            "2021-03-04Tfoo",
            "2021-03-04 10",
            "2021-03-04T10:22:01 PST",
            "03/04/2021T10:22",
            "3 Mar 2021 10:22",
            "2021-0304",
            "2021-03/04",
            "2021--03-04",
            "21000304",
            "18991231",
            "202103041",
            "Foo 3, 2021",
            "3 Marc 2021",
            "3Mar2021",
            "March 3rdx, 2021",
            "March 3 rd, 2021",
            "March. 3, 2021",
            "3 of March 2021",
            "2021 3 Mar",
            "Mar 3, 2021.",
            "Mar 3 - 2021",
            "3/Mar-2021",
            "Mar 2021th 3",
            "03/04/2021\t10:22",
            "2021-03-04T10:22:01.000000000000000000000000000000Z",
        ] {
            assert_eq!(parse(input.as_bytes()), None, "{input:?}");
        }
        assert_eq!(parse(b"2021-03-04\xff"), None);
        assert_eq!(parse(b"3 M\xc3\xa4r 2021"), None);
    }

    #[test]
    fn shifts_in_the_original_layout() {
        for (input, days, expected) in [
            ("2020-02-28", 1, "2020-02-29"),
            ("2020-02-29", 1, "2020-03-01"),
            ("2021-02-28", 1, "2021-03-01"),
            ("2021-01-01", -1, "2020-12-31"),
            ("12/31/2021", 1, "01/01/2022"),
            ("Feb 28, 2021", 1, "Mar 1, 2021"),
            ("28-FEB-21", 1, "01-MAR-21"),
            ("2021-03-04T10:22:01Z", -4, "2021-02-28T10:22:01Z"),
            ("2021-3-4", 30, "2021-4-3"),
            ("3/4/21", 30, "4/3/21"),
            ("10/14/2021", 18, "11/01/2021"),
            ("25/12/2021", 7, "01/01/2022"),
            ("31.12.1999", 1, "01.01.2000"),
            ("31/12/99", 1, "01/01/00"),
            ("1/1/00", -1, "12/31/99"),
            ("20211231", 1, "20220101"),
            ("March 3rd, 2021", 1, "March 4th, 2021"),
            ("MARCH 31ST, 2021", 1, "APRIL 1ST, 2021"),
            ("Mar. 3rd 2021", 8, "Mar. 11th 2021"),
            ("3rd of March 2021", 19, "22nd of March 2021"),
            ("Sept 30, 2021", 1, "Oct 1, 2021"),
            ("Aug 31, 2021", 1, "Sep 1, 2021"),
            ("Aug. 31 2021", 1, "Sep. 1 2021"),
            ("Aug 31, 2021", 31, "Oct 1, 2021"),
            ("May 31, 2021", 1, "June 1, 2021"),
            ("May. 31, 2021", 1, "Jun. 1, 2021"),
            ("03/04/2021 10:22", 1, "03/05/2021 10:22"),
            (
                "2021-03-04T10:22:01.123+05:30",
                365,
                "2022-03-04T10:22:01.123+05:30",
            ),
            ("31-May-21", 1, "01-Jun-21"),
            ("march 3, 2021", 31, "april 3, 2021"),
            ("mAr 3, 2021", 1, "mAr 4, 2021"),
            ("mAr 31, 2021", 1, "Apr 1, 2021"),
            ("Dec 31 2099", 1, "Jan 1 2100"),
            ("2021-Mar-31", 1, "2021-Apr-01"),
            ("2021-03-04", 0, "2021-03-04"),
        ] {
            let got = parse(input.as_bytes()).map(|d| d.shifted(days));
            assert_eq!(
                got.as_deref(),
                Some(expected.as_bytes()),
                "{input:?} {days:+}"
            );
        }
    }

    #[test]
    fn keeps_only_the_year() {
        for (input, expected) in [
            ("2021-03-04", "2021"),
            ("03-MAR-21", "21"),
            ("3/4/45", "45"),
            ("March 3rd, 2021", "2021"),
            ("20210304", "2021"),
        ] {
            let got = parse(input.as_bytes()).map(|d| d.year_only());
            assert_eq!(got.as_deref(), Some(expected.as_bytes()), "{input:?}");
        }
    }

    #[test]
    fn canonical_form_is_shared_by_every_layout() {
        for (input, expected) in [
            ("2021-03-04T10:22:01Z", b"2021-03-04"),
            ("3/4/21", b"2021-03-04"),
            ("04.03.2021", b"2021-03-04"),
            ("4th of March 2021", b"2021-03-04"),
            ("MAR 4 2021", b"2021-03-04"),
            ("20210304", b"2021-03-04"),
            ("25/12/1999", b"1999-12-25"),
            ("3/4/45", b"1945-03-04"),
        ] {
            assert_eq!(
                parse(input.as_bytes()).map(|d| d.canonical()),
                Some(*expected),
                "{input:?}"
            );
        }
    }

    #[test]
    fn validates_calendar_dates() {
        for ((y, m, d), expected) in [
            ((2000, 2, 29), true),
            ((2024, 2, 29), true),
            ((1900, 2, 29), false),
            ((2023, 2, 29), false),
            ((2021, 4, 30), true),
            ((2021, 4, 31), false),
            ((2021, 12, 31), true),
            ((2021, 0, 1), false),
            ((2021, 13, 1), false),
            ((2021, 1, 0), false),
            ((-4, 2, 29), true),
        ] {
            assert_eq!(is_valid(y, m, d), expected, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn counts_days_from_the_epoch() {
        for ((y, m, d), expected) in [
            ((1970, 1, 1), 0),
            ((1969, 12, 31), -1),
            ((2000, 3, 1), 11_017),
            ((2021, 3, 4), 18_690),
            ((1600, 1, 1), -135_140),
        ] {
            assert_eq!(days_from_civil(y, m, d), expected, "{y}-{m}-{d}");
            assert_eq!(civil_from_days(expected), (y, m, d), "{expected}");
        }
    }

    #[test]
    fn civil_round_trip_over_200000_days() {
        let mut prev = civil_from_days(-100_001);
        for z in -100_000..100_000 {
            let (y, m, d) = civil_from_days(z);
            assert!(is_valid(y, m, d), "{z}");
            assert_eq!(days_from_civil(y, m, d), z);
            let next_day = (prev.0, prev.1, prev.2 + 1);
            let next_month = (prev.0, prev.1 + 1, 1);
            let next_year = (prev.0 + 1, 1, 1);
            assert!(
                [next_day, next_month, next_year].contains(&(y, m, d)),
                "{z}"
            );
            prev = (y, m, d);
        }
    }

    #[test]
    fn extreme_shifts_do_not_panic() {
        let date = parse(b"2021-03-04").map(|d| (d.shifted(i64::MAX), d.shifted(i64::MIN)));
        assert!(date.is_some());
        assert_eq!(civil_from_days(i64::MAX).0, i32::MAX);
    }
}
