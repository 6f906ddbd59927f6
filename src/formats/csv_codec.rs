//! CSV and TSV at the byte level: a parser that keeps, for every field, the exact raw span it
//! came from, and an encoder for the values that get replaced.
//!
//! Scrubbing must leave every field it does not change byte-for-byte as it was (same quoting,
//! same escaping, same terminators, same BOM), so this module never normalises anything: a
//! record is a span of the input plus the spans of its fields, and rewriting is "copy the spans
//! you keep, encode the ones you replace". A general CSV library would hand us decoded values
//! only, which loses the original quoting.
//!
//! The grammar is RFC 4180 as spreadsheets and Python's `csv` write it, applied strictly so
//! that the raw bytes of any field can be reproduced from its decoded value and whether it was
//! quoted (see the round-trip tests):
//!
//! * a field is quoted iff its first byte is the quote; inside, a doubled quote is a literal
//!   quote, and delimiters, CR and LF are data;
//! * the closing quote must be followed by the delimiter, a terminator or the end of input;
//! * a quote anywhere in an unquoted field is an error;
//! * records end at LF or CRLF (the CR belongs to the terminator, not to the last field); a lone
//!   CR is data;
//! * an empty line is a record with one empty field.
//!
//! Errors name byte offsets and record numbers only, never field content, since the content
//! is exactly the data being protected.

use std::borrow::Cow;
use std::ops::Range;

use memchr::{memchr, memchr2_iter, memchr3};

/// CSV dialect: delimiter and quote byte (quote is always `b'"'` here; escaping is RFC 4180
/// doubled quotes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub delimiter: u8,
    pub quote: u8,
}

impl Dialect {
    /// Comma-separated with `"` quotes, the fallback when nothing better can be inferred.
    pub const CSV: Dialect = Dialect {
        delimiter: b',',
        quote: b'"',
    };

    /// The standard quote with a given delimiter.
    pub const fn with_delimiter(delimiter: u8) -> Dialect {
        Dialect {
            delimiter,
            quote: b'"',
        }
    }
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect::CSV
    }
}

/// How much of a sample `sniff` looks at; more would only cost time, not accuracy.
const SNIFF_LIMIT: usize = 64 * 1024;

/// Delimiters `sniff` chooses among, in order of preference when they score the same.
const SNIFF_CANDIDATES: [u8; 4] = [b',', b'\t', b';', b'|'];

/// How well a delimiter explains a sample: the share of non-blank records that have the most
/// common field count (`hits / total`), and that count.
#[derive(Debug, Clone, Copy)]
struct SniffScore {
    hits: u64,
    total: u64,
    fields: usize,
}

impl SniffScore {
    /// Whether `self` is a strictly better explanation than `other`: more consistent first
    /// (compared as exact fractions), then more fields per record. Equal scores keep the earlier
    /// candidate, so `,` wins ambiguous samples.
    fn beats(&self, other: &SniffScore) -> bool {
        let lhs = u128::from(self.hits) * u128::from(other.total);
        let rhs = u128::from(other.hits) * u128::from(self.total);
        lhs > rhs || (lhs == rhs && self.fields > other.fields)
    }
}

/// Guess the dialect from the first bytes of a file (up to 64 KiB): the delimiter among `,`,
/// tab, `;` and `|` that gives the most consistent field count greater than one over the first
/// complete records, quote-aware. Default `,`.
///
/// Each candidate is tried with the real (strict) parser, so a delimiter inside quotes does not
/// count, and a wrong candidate usually trips over a quoted field (`"a;b",c` read with `;` has
/// text after the closing quote); a parse error counts as one inconsistent record and ends that
/// candidate's sample. Blank lines are ignored. A leading BOM is skipped.
pub fn sniff(sample: &[u8]) -> Dialect {
    let sample = sample.get(bom_len(sample)..).unwrap_or_default();
    let sample = &sample[..sample.len().min(SNIFF_LIMIT)];
    let mut best: Option<(SniffScore, Dialect)> = None;
    let mut records = Vec::new();
    for delimiter in SNIFF_CANDIDATES {
        let dialect = Dialect::with_delimiter(delimiter);
        let Some(score) = sniff_score(sample, dialect, &mut records) else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _)| score.beats(b)) {
            best = Some((score, dialect));
        }
    }
    best.map_or(Dialect::CSV, |(_, d)| d)
}

/// Scores one candidate dialect on `sample`; `None` when it never yields more than one field.
fn sniff_score(sample: &[u8], dialect: Dialect, records: &mut Vec<Record>) -> Option<SniffScore> {
    records.clear();
    // Only complete records are trustworthy: the sample is usually cut mid-record. A sample
    // without a single complete record (a one-line file without newline) is taken as the whole
    // input instead.
    let mut failed = split_records(sample, 0, false, dialect, 1, records).is_err();
    if !failed && records.is_empty() {
        failed = split_records(sample, 0, true, dialect, 1, records).is_err();
    }
    let mut counts: Vec<usize> = records
        .iter()
        .filter(|r| !(r.fields.len() == 1 && r.fields[0].raw.is_empty()))
        .map(|r| r.fields.len())
        .collect();
    let total = counts.len() as u64 + u64::from(failed);
    counts.sort_unstable();
    // Mode of the field counts; on a tie the larger count, since it is the less likely accident.
    let mut best: Option<(u64, usize)> = None;
    for run in counts.chunk_by(|a, b| a == b) {
        let candidate = (run.len() as u64, run[0]);
        if best.is_none_or(|b| candidate >= b) {
            best = Some(candidate);
        }
    }
    let (hits, fields) = best?;
    (fields > 1).then_some(SniffScore {
        hits,
        total,
        fields,
    })
}

/// One field of a record: its raw span in the buffer (including the quotes when quoted) and
/// whether it was quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub raw: Range<usize>,
    pub quoted: bool,
}

/// One record: its raw span in the buffer including its terminator (LF, CRLF or none at EOF),
/// and its fields (always at least one). The terminator is `span.end` minus the end of the last
/// field; see [`Record::terminator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub span: Range<usize>,
    pub fields: Vec<Field>,
}

impl Record {
    /// Where the record's content ends and its terminator begins.
    pub fn content_end(&self) -> usize {
        self.fields.last().map_or(self.span.start, |f| f.raw.end)
    }

    /// The record's terminator as it appears in `buf`: `\n`, `\r\n`, or empty for a last record
    /// without one. A rewritten record ends with these bytes so line endings survive.
    pub fn terminator<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.content_end()..self.span.end)
            .unwrap_or_default()
    }
}

/// Errors name the byte offset (relative to the buffer start given) and the record number,
/// never data.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CsvError {
    #[error("unterminated quoted field starting at byte {offset} (record {record})")]
    Unterminated { offset: usize, record: u64 },
    #[error("stray quote inside an unquoted field at byte {offset} (record {record})")]
    StrayQuote { offset: usize, record: u64 },
    #[error("text after the closing quote of a field at byte {offset} (record {record})")]
    AfterQuote { offset: usize, record: u64 },
}

/// Splits `buf` into complete records starting at `start`.
///
/// `eof` says whether `buf` ends the input: if false, a trailing incomplete record (no
/// terminator yet, or an open quote) is not returned and the function returns the offset where
/// the next call must resume (the start of that incomplete record); if true, a final record
/// without terminator is returned, and an open quote is an [`CsvError::Unterminated`] error.
/// `first_record` numbers records (1-based) for error messages. Records are appended to `out`;
/// on error, the records before the bad one have been appended.
///
/// Quote rules are those of the module documentation. Whether a record is complete never
/// depends on bytes after its terminator, so the records found do not depend on where the
/// input was cut into buffers.
pub fn split_records(
    buf: &[u8],
    start: usize,
    eof: bool,
    dialect: Dialect,
    first_record: u64,
    out: &mut Vec<Record>,
) -> Result<usize, CsvError> {
    let mut pos = start;
    let mut record = first_record;
    // Records of one file mostly have the same width: size each field list like the last one.
    let mut width = 0;
    while pos < buf.len() {
        let mut fields = Vec::with_capacity(width);
        match parse_record(buf, pos, eof, dialect, record, &mut fields)? {
            Some(end) => {
                width = fields.len();
                out.push(Record {
                    span: pos..end,
                    fields,
                });
                pos = end;
                record += 1;
            }
            None => return Ok(pos),
        }
    }
    Ok(pos)
}

/// Parses the one record at `pos` (< `buf.len()`) into `into`, reusing its field list, so a
/// caller that handles records one by one allocates nothing per record (a field list per
/// record, allocated and freed, was a twentieth of a narrow file's scrub). Returns the end of
/// the record, or `None` when it is not complete in `buf` and more input may follow.
///
/// # Errors
/// As [`split_records`]; `record` is the record's number for the message.
pub fn next_record(
    buf: &[u8],
    pos: usize,
    eof: bool,
    dialect: Dialect,
    record: u64,
    into: &mut Record,
) -> Result<Option<usize>, CsvError> {
    into.fields.clear();
    let end = parse_record(buf, pos, eof, dialect, record, &mut into.fields)?;
    if let Some(end) = end {
        into.span = pos..end;
    }
    Ok(end)
}

/// Parses the record starting at `start` (< `buf.len()`), pushing its fields. Returns the end
/// of the record (after its terminator), or `None` when it is not complete in `buf` and more
/// input may follow.
fn parse_record(
    buf: &[u8],
    start: usize,
    eof: bool,
    dialect: Dialect,
    record: u64,
    fields: &mut Vec<Field>,
) -> Result<Option<usize>, CsvError> {
    let len = buf.len();
    let Dialect { delimiter, quote } = dialect;
    let mut field_start = start;
    loop {
        if buf.get(field_start) == Some(&quote) {
            let close = match find_closing_quote(buf, field_start + 1, quote) {
                Some(close) => close,
                None if eof => {
                    return Err(CsvError::Unterminated {
                        offset: field_start,
                        record,
                    })
                }
                None => return Ok(None),
            };
            let end = close + 1;
            fields.push(Field {
                raw: field_start..end,
                quoted: true,
            });
            match buf.get(end) {
                // At the very end of a buffer the quote may yet turn out to be the first half
                // of a doubled quote.
                None => return Ok(eof.then_some(len)),
                Some(&b) if b == delimiter => field_start = end + 1,
                Some(b'\n') => return Ok(Some(end + 1)),
                Some(b'\r') => match buf.get(end + 1) {
                    Some(b'\n') => return Ok(Some(end + 2)),
                    None if !eof => return Ok(None),
                    _ => {
                        return Err(CsvError::AfterQuote {
                            offset: end,
                            record,
                        })
                    }
                },
                Some(_) => {
                    return Err(CsvError::AfterQuote {
                        offset: end,
                        record,
                    })
                }
            }
        } else {
            let rest = buf.get(field_start..).unwrap_or_default();
            let Some(i) = memchr3(delimiter, quote, b'\n', rest) else {
                if !eof {
                    return Ok(None);
                }
                fields.push(Field {
                    raw: field_start..len,
                    quoted: false,
                });
                return Ok(Some(len));
            };
            let at = field_start + i;
            let b = rest[i];
            if b == delimiter {
                fields.push(Field {
                    raw: field_start..at,
                    quoted: false,
                });
                field_start = at + 1;
            } else if b == quote {
                return Err(CsvError::StrayQuote { offset: at, record });
            } else {
                let end = if at > field_start && buf[at - 1] == b'\r' {
                    at - 1
                } else {
                    at
                };
                fields.push(Field {
                    raw: field_start..end,
                    quoted: false,
                });
                return Ok(Some(at + 1));
            }
        }
    }
}

/// The offset of the quote closing a quoted field whose content starts at `from`, skipping
/// doubled quotes; `None` when the buffer ends first. A quote that is the last byte of `buf`
/// is returned as closing; the caller decides whether that is final.
fn find_closing_quote(buf: &[u8], from: usize, quote: u8) -> Option<usize> {
    let mut pos = from;
    loop {
        let q = pos + memchr(quote, buf.get(pos..)?)?;
        if buf.get(q + 1) == Some(&quote) {
            pos = q + 2;
        } else {
            return Some(q);
        }
    }
}

/// The decoded value of a field: raw bytes for an unquoted field; for a quoted one, the inside
/// with doubled quotes turned into one. Borrowed when no unescaping is needed.
pub fn decode<'a>(buf: &'a [u8], field: &Field, dialect: Dialect) -> Cow<'a, [u8]> {
    let raw = buf.get(field.raw.clone()).unwrap_or_default();
    if !field.quoted {
        return Cow::Borrowed(raw);
    }
    let inner = match raw {
        [_, inner @ .., _] => inner,
        _ => &[],
    };
    let quote = dialect.quote;
    let Some(first) = memchr(quote, inner) else {
        return Cow::Borrowed(inner);
    };
    let mut value = Vec::with_capacity(inner.len());
    let mut pos = 0;
    let mut next = Some(first);
    while let Some(q) = next {
        // Keep the first quote of the pair, drop the second.
        value.extend_from_slice(&inner[pos..=q]);
        pos = (q + 2).min(inner.len());
        next = memchr(quote, &inner[pos..]).map(|i| pos + i);
    }
    value.extend_from_slice(&inner[pos..]);
    Cow::Owned(value)
}

/// Appends `value` encoded as a field: quoted (with quotes doubled) when `force_quote` or when
/// the value contains the delimiter, the quote, CR or LF, or starts or ends with a space
/// (which some readers trim); otherwise as is.
pub fn encode(value: &[u8], dialect: Dialect, force_quote: bool, out: &mut Vec<u8>) {
    let Dialect { delimiter, quote } = dialect;
    // A replacement is mostly a short token or shape: one pass of four compares per byte is
    // cheaper there than two memchr calls, which pay off only on longer text.
    let special = if value.len() <= 64 {
        value
            .iter()
            .any(|&b| b == delimiter || b == quote || b == b'\n' || b == b'\r')
    } else {
        memchr3(delimiter, quote, b'\n', value).is_some() || memchr(b'\r', value).is_some()
    };
    let needs_quotes =
        force_quote || special || value.first() == Some(&b' ') || value.last() == Some(&b' ');
    if !needs_quotes {
        out.extend_from_slice(value);
        return;
    }
    out.reserve(value.len() + 2);
    out.push(quote);
    let mut pos = 0;
    while let Some(i) = memchr(quote, &value[pos..]) {
        let q = pos + i;
        out.extend_from_slice(&value[pos..=q]);
        out.push(quote);
        pos = q + 1;
    }
    out.extend_from_slice(&value[pos..]);
    out.push(quote);
}

/// The length of a leading UTF-8 BOM (EF BB BF): 3 or 0. The caller copies it through and
/// parses after it, so it is neither lost nor glued onto the first field.
pub fn bom_len(buf: &[u8]) -> usize {
    if buf.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    }
}

/// Where a buffer of CSV can be cut between whole records at or before `limit` (an offset into
/// `buf`, clamped to its length), scanning from `start` (which must be a record start) with
/// correct quote state: the end offset of the last record whose terminator ends at or before
/// `limit`, or `None` when no record ends in `buf[start..limit]`. Used to chunk huge files for
/// parallel processing.
///
/// Only quotes and LFs are looked at, and the quote state is their parity: in well-formed input
/// quotes occur only in quoted fields, in pairs, so this agrees exactly with `split_records`
/// while skipping everything else at memchr speed. On malformed input a cut may be misplaced,
/// but never before the first error, so parsing the chunks still reports it.
pub fn last_record_end(buf: &[u8], start: usize, limit: usize, dialect: Dialect) -> Option<usize> {
    let hay = buf.get(start..limit.min(buf.len()))?;
    let mut in_quotes = false;
    let mut last = None;
    for i in memchr2_iter(dialect.quote, b'\n', hay) {
        if hay[i] == b'\n' {
            if !in_quotes {
                last = Some(start + i + 1);
            }
        } else {
            in_quotes = !in_quotes;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table row: name, input, delimiter, and the expected decoded records.
    struct Case {
        name: &'static str,
        input: Vec<u8>,
        delimiter: u8,
        expected: Vec<Vec<&'static str>>,
    }

    fn case(name: &'static str, input: &[u8], delimiter: u8, expected: &[&[&'static str]]) -> Case {
        Case {
            name,
            input: input.to_vec(),
            delimiter,
            expected: expected.iter().map(|r| r.to_vec()).collect(),
        }
    }

    fn cases() -> Vec<Case> {
        vec![
            case("empty input", b"", b',', &[]),
            case(
                "plain",
                b"a,b,c\n1,2,3\n",
                b',',
                &[&["a", "b", "c"], &["1", "2", "3"]],
            ),
            case(
                "quoted commas",
                b"\"a,b\",c\n\"x, y\",z\n",
                b',',
                &[&["a,b", "c"], &["x, y", "z"]],
            ),
            case(
                "doubled quotes",
                b"\"he said \"\"hi\"\"\",2\n\"\"\"\"\n",
                b',',
                &[&["he said \"hi\"", "2"], &["\""]],
            ),
            case(
                "lf inside quotes",
                b"\"line1\nline2\",x\ny,z\n",
                b',',
                &[&["line1\nline2", "x"], &["y", "z"]],
            ),
            case(
                "crlf inside quotes",
                b"\"line1\r\nline2\",x\r\n\"\r\n\",\"\n\"\r\n",
                b',',
                &[&["line1\r\nline2", "x"], &["\r\n", "\n"]],
            ),
            case(
                "lone cr",
                b"\"a\rb\",c\n\"\r\"\n",
                b',',
                &[&["a\rb", "c"], &["\r"]],
            ),
            case(
                "empty fields",
                b",,\n,a,\n\"\",\"\"\n",
                b',',
                &[&["", "", ""], &["", "a", ""], &["", ""]],
            ),
            case("empty last field", b"a,b,\n", b',', &[&["a", "b", ""]]),
            case("empty last field at eof", b"a,b,", b',', &[&["a", "b", ""]]),
            case(
                "empty lines",
                b"a\n\n\nb\n\n",
                b',',
                &[&["a"], &[""], &[""], &["b"], &[""]],
            ),
            case("single newline", b"\n", b',', &[&[""]]),
            case("crlf empty lines", b"\r\n\r\n", b',', &[&[""], &[""]]),
            case(
                "crlf terminators",
                b"a,b\r\nc,\"d\"\r\n,\r\n",
                b',',
                &[&["a", "b"], &["c", "d"], &["", ""]],
            ),
            case(
                "mixed terminators",
                b"a\r\nb\nc\r\n",
                b',',
                &[&["a"], &["b"], &["c"]],
            ),
            case(
                "no final newline",
                b"a,b\nc,d",
                b',',
                &[&["a", "b"], &["c", "d"]],
            ),
            case(
                "no final newline quoted",
                b"a,\"b\"\"\"",
                b',',
                &[&["a", "b\""]],
            ),
            case(
                "quoted spaces",
                b"\" a \",\"b \",c\n",
                b',',
                &[&[" a ", "b ", "c"]],
            ),
            case(
                "tsv",
                b"a\tb\tc\n\"x\ty\"\t\"q,\"\tz\n",
                b'\t',
                &[&["a", "b", "c"], &["x\ty", "q,", "z"]],
            ),
            case(
                "semicolon",
                b"a;b\n\"1;2\";3,5\n",
                b';',
                &[&["a", "b"], &["1;2", "3,5"]],
            ),
            case(
                "pipe",
                b"a|b\n\"x|y\"|\"\"\r\n",
                b'|',
                &[&["a", "b"], &["x|y", ""]],
            ),
            case(
                "bom",
                b"\xEF\xBB\xBFname,dob\n\"Roe, Jane\",1970-01-01\n",
                b',',
                &[&["name", "dob"], &["Roe, Jane", "1970-01-01"]],
            ),
            case(
                "unicode",
                "名前,città\n\"Zoë, M\",ü\r\n\"„quote“\",日本\n".as_bytes(),
                b',',
                &[&["名前", "città"], &["Zoë, M", "ü"], &["„quote“", "日本"]],
            ),
        ]
    }

    fn parse_all(buf: &[u8], dialect: Dialect) -> Vec<Record> {
        let mut out = Vec::new();
        let start = bom_len(buf);
        let end = split_records(buf, start, true, dialect, 1, &mut out).expect("valid input");
        assert_eq!(end, buf.len());
        out
    }

    #[test]
    fn decodes_expected_values() {
        for c in cases() {
            let d = Dialect::with_delimiter(c.delimiter);
            let records = parse_all(&c.input, d);
            let got: Vec<Vec<String>> = records
                .iter()
                .map(|r| {
                    r.fields
                        .iter()
                        .map(|f| String::from_utf8(decode(&c.input, f, d).into_owned()).unwrap())
                        .collect()
                })
                .collect();
            assert_eq!(got, c.expected, "case {}", c.name);
        }
    }

    #[test]
    fn spans_concatenate_to_input() {
        for c in cases() {
            let d = Dialect::with_delimiter(c.delimiter);
            let records = parse_all(&c.input, d);
            let mut rebuilt = c.input[..bom_len(&c.input)].to_vec();
            let mut expect_start = rebuilt.len();
            for r in &records {
                assert_eq!(r.span.start, expect_start, "case {}", c.name);
                assert!(!r.fields.is_empty(), "case {}", c.name);
                let term = r.terminator(&c.input);
                assert!(
                    matches!(term, b"\n" | b"\r\n") || r.span.end == c.input.len(),
                    "case {}: terminator {term:?}",
                    c.name
                );
                rebuilt.extend_from_slice(&c.input[r.span.clone()]);
                expect_start = r.span.end;
            }
            assert_eq!(rebuilt, c.input, "case {}", c.name);
        }
    }

    #[test]
    fn reencoding_reproduces_input() {
        for c in cases() {
            let d = Dialect::with_delimiter(c.delimiter);
            let records = parse_all(&c.input, d);
            let mut rebuilt = c.input[..bom_len(&c.input)].to_vec();
            for r in &records {
                for (i, f) in r.fields.iter().enumerate() {
                    if i > 0 {
                        rebuilt.push(d.delimiter);
                    }
                    let before = rebuilt.len();
                    encode(&decode(&c.input, f, d), d, f.quoted, &mut rebuilt);
                    assert_eq!(
                        &rebuilt[before..],
                        &c.input[f.raw.clone()],
                        "case {}",
                        c.name
                    );
                }
                rebuilt.extend_from_slice(r.terminator(&c.input));
            }
            assert_eq!(rebuilt, c.input, "case {}", c.name);
        }
    }

    #[test]
    fn any_cut_gives_same_records() {
        for c in cases() {
            let d = Dialect::with_delimiter(c.delimiter);
            let whole = parse_all(&c.input, d);
            let start = bom_len(&c.input);
            for k in 0..=c.input.len() {
                let mut out = Vec::new();
                let resume = split_records(&c.input[..k], start, false, d, 1, &mut out)
                    .unwrap_or_else(|e| panic!("case {} cut {k}: {e}", c.name));
                assert!(resume <= k.max(start), "case {} cut {k}", c.name);
                let next = out.len() as u64 + 1;
                let end = split_records(&c.input, resume, true, d, next, &mut out)
                    .unwrap_or_else(|e| panic!("case {} cut {k}: {e}", c.name));
                assert_eq!(end, c.input.len());
                assert_eq!(out, whole, "case {} cut {k}", c.name);
            }
        }
    }

    #[test]
    fn byte_by_byte_streaming_gives_same_records() {
        for c in cases() {
            let d = Dialect::with_delimiter(c.delimiter);
            let whole = parse_all(&c.input, d);
            let mut out = Vec::new();
            let bom = bom_len(&c.input);
            let mut pos = bom;
            for k in bom..=c.input.len() {
                let eof = k == c.input.len();
                let next = out.len() as u64 + 1;
                pos = split_records(&c.input[..k], pos, eof, d, next, &mut out)
                    .unwrap_or_else(|e| panic!("case {} at {k}: {e}", c.name));
            }
            assert_eq!(out, whole, "case {}", c.name);
        }
    }

    #[test]
    fn errors_name_offset_and_record_not_content() {
        let comma = Dialect::CSV;
        let table: &[(&str, &[u8], u64, CsvError)] = &[
            (
                "unterminated at eof",
                b"a,b\nSECRET,\"SECRET\nSECRET",
                1,
                CsvError::Unterminated {
                    offset: 11,
                    record: 2,
                },
            ),
            (
                "unterminated after doubled quote",
                b"\"SECRET\"\"",
                7,
                CsvError::Unterminated {
                    offset: 0,
                    record: 7,
                },
            ),
            (
                "stray quote",
                b"a,b\nc,SEC\"RET\n",
                1,
                CsvError::StrayQuote {
                    offset: 9,
                    record: 2,
                },
            ),
            (
                "stray quote after leading space",
                b" \"SECRET\"\n",
                40,
                CsvError::StrayQuote {
                    offset: 1,
                    record: 40,
                },
            ),
            (
                "text after closing quote",
                b"x\n\n\"SECRET\"SECRET,y\n",
                1,
                CsvError::AfterQuote {
                    offset: 11,
                    record: 3,
                },
            ),
            (
                "space after closing quote",
                b"\"SECRET\" ,y\n",
                1,
                CsvError::AfterQuote {
                    offset: 8,
                    record: 1,
                },
            ),
            (
                "lone cr after closing quote",
                b"\"SECRET\"\rx\n",
                1,
                CsvError::AfterQuote {
                    offset: 8,
                    record: 1,
                },
            ),
            (
                "cr at eof after closing quote",
                b"\"SECRET\"\r",
                1,
                CsvError::AfterQuote {
                    offset: 8,
                    record: 1,
                },
            ),
        ];
        for (name, input, first, want) in table {
            let mut out = Vec::new();
            let got = split_records(input, 0, true, comma, *first, &mut out);
            assert_eq!(got.as_ref(), Err(want), "{name}");
            let msg = want.to_string();
            assert!(!msg.contains("SECRET"), "{name}: {msg}");
            assert!(!msg.contains("SEC"), "{name}: {msg}");
        }
    }

    #[test]
    fn open_quote_without_eof_is_not_an_error() {
        let buf = b"a,b\nc,\"d\ne";
        let mut out = Vec::new();
        let resume = split_records(buf, 0, false, Dialect::CSV, 1, &mut out);
        assert_eq!(resume, Ok(4));
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn records_before_an_error_are_kept() {
        let buf = b"a,b\nc,d\"\n";
        let mut out = Vec::new();
        let err = split_records(buf, 0, true, Dialect::CSV, 1, &mut out);
        assert_eq!(
            err,
            Err(CsvError::StrayQuote {
                offset: 7,
                record: 2
            })
        );
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn unquoted_spaces_are_kept_raw() {
        // Not re-encodable as-is (encode would quote), but the raw span keeps them.
        let buf = b" a , b\n";
        let records = parse_all(buf, Dialect::CSV);
        assert_eq!(&buf[records[0].fields[0].raw.clone()], b" a ");
        assert_eq!(&buf[records[0].fields[1].raw.clone()], b" b");
    }

    #[test]
    fn encode_quotes_only_when_needed() {
        let d = Dialect::CSV;
        let table: &[(&[u8], bool, &[u8])] = &[
            (b"plain", false, b"plain"),
            (b"", false, b""),
            (b"", true, b"\"\""),
            (b"plain", true, b"\"plain\""),
            (b"a,b", false, b"\"a,b\""),
            (b"a\tb", false, b"a\tb"),
            (b"say \"hi\"", false, b"\"say \"\"hi\"\"\""),
            (b"\"", false, b"\"\"\"\""),
            (b"a\nb", false, b"\"a\nb\""),
            (b"a\rb", false, b"\"a\rb\""),
            (b" a", false, b"\" a\""),
            (b"a ", false, b"\"a \""),
            (b"a b", false, b"a b"),
            ("Zoë".as_bytes(), false, "Zoë".as_bytes()),
        ];
        for (value, force, want) in table {
            let mut out = b"prefix".to_vec();
            encode(value, d, *force, &mut out);
            assert_eq!(&out[6..], *want, "{value:?}");
            // The same cases past the short-value path's 64 bytes.
            let pad = b"x".repeat(70);
            let long = [&pad[..], value, &pad[..]].concat();
            let mut out = Vec::new();
            encode(&long, d, *force, &mut out);
            let special = value.iter().any(|b| b",\"\n\r".contains(b));
            assert_eq!(
                out.first() == Some(&b'"'),
                *force || special,
                "{value:?} padded"
            );
            let inner = if out.first() == Some(&b'"') {
                &out[1..out.len() - 1]
            } else {
                &out[..]
            };
            assert_eq!(
                inner.len(),
                long.len() + value.iter().filter(|&&b| b == b'"').count()
            );
        }
        let mut out = Vec::new();
        encode(b"a\tb", Dialect::with_delimiter(b'\t'), false, &mut out);
        assert_eq!(out, b"\"a\tb\"");
    }

    #[test]
    fn decode_borrows_when_possible() {
        let buf = b"abc,\"d,e\",\"f\"\"g\"\n";
        let records = parse_all(buf, Dialect::CSV);
        let f = &records[0].fields;
        assert!(matches!(
            decode(buf, &f[0], Dialect::CSV),
            Cow::Borrowed(b"abc")
        ));
        assert!(matches!(
            decode(buf, &f[1], Dialect::CSV),
            Cow::Borrowed(b"d,e")
        ));
        let owned = decode(buf, &f[2], Dialect::CSV);
        assert!(matches!(owned, Cow::Owned(_)));
        assert_eq!(&*owned, b"f\"g");
    }

    #[test]
    fn bom_detection() {
        assert_eq!(bom_len(b"\xEF\xBB\xBFa,b"), 3);
        assert_eq!(bom_len(b"\xEF\xBB"), 0);
        assert_eq!(bom_len(b"a,b"), 0);
        assert_eq!(bom_len(b""), 0);
    }

    #[test]
    fn sniff_picks_delimiter() {
        let table: &[(&str, &[u8], u8)] = &[
            ("comma", b"a,b,c\n1,2,3\n", b','),
            ("tab", b"a\tb\tc\n1\t2\t3\n", b'\t'),
            ("semicolon", b"a;b;c\n1;2;3\n", b';'),
            ("pipe", b"a|b|c\n1|2|3\n", b'|'),
            (
                "semicolon with quoted commas",
                b"name;note\n\"x\";\"a, b, c\"\n\"y\";\"d, e\"\n",
                b';',
            ),
            (
                "comma with quoted semicolons",
                b"\"a;b;c\",d\n\"e;f\",g\n",
                b',',
            ),
            (
                "tab with commas in free text",
                b"id\tnote\n1\tfoo, bar, baz\n2\tqux\n",
                b'\t',
            ),
            (
                "pipe with quoted newline",
                b"a|b\n\"x\ny|z\"|w\nq|r\n",
                b'|',
            ),
            ("crlf", b"a;b\r\n1;2\r\n\r\n", b';'),
            ("bom", b"\xEF\xBB\xBFa\tb\n1\t2\n", b'\t'),
            ("one line without newline", b"a|b|c", b'|'),
            ("truncated last record", b"a;b;c\n1;2;3\n4;5", b';'),
            ("single column", b"a\nb\nc\n", b','),
            ("empty", b"", b','),
            ("garbage", b"\"unterminated", b','),
        ];
        for (name, sample, want) in table {
            assert_eq!(sniff(sample), Dialect::with_delimiter(*want), "{name}");
        }
    }

    #[test]
    fn last_record_end_respects_quotes() {
        let d = Dialect::CSV;
        // 0 " 1 x 2 \n 3 y 4 " 5 , 6 z 7 \n 8 q 9 \n
        let buf = b"\"x\ny\",z\nq\n";
        assert_eq!(last_record_end(buf, 0, 7, d), None);
        assert_eq!(last_record_end(buf, 0, 8, d), Some(8));
        assert_eq!(last_record_end(buf, 0, 9, d), Some(8));
        assert_eq!(last_record_end(buf, 0, 10, d), Some(10));
        assert_eq!(last_record_end(buf, 0, 100, d), Some(10));
        assert_eq!(last_record_end(buf, 8, 10, d), Some(10));
        assert_eq!(last_record_end(buf, 8, 9, d), None);
        assert_eq!(last_record_end(buf, 11, 12, d), None);
        let plain = b"a,b\nc,d\n";
        assert_eq!(last_record_end(plain, 0, 3, d), None);
        assert_eq!(last_record_end(plain, 0, 4, d), Some(4));
        assert_eq!(last_record_end(plain, 0, 7, d), Some(4));
    }

    #[test]
    fn last_record_end_agrees_with_split_records() {
        for c in cases() {
            let d = Dialect::with_delimiter(c.delimiter);
            let records = parse_all(&c.input, d);
            let starts: Vec<usize> = std::iter::once(bom_len(&c.input))
                .chain(records.iter().map(|r| r.span.start))
                .collect();
            for &start in &starts {
                for limit in start..=c.input.len() {
                    let want = records
                        .iter()
                        .filter(|r| r.span.start >= start && r.span.end <= limit)
                        .filter(|r| !r.terminator(&c.input).is_empty())
                        .map(|r| r.span.end)
                        .next_back();
                    assert_eq!(
                        last_record_end(&c.input, start, limit, d),
                        want,
                        "case {} start {start} limit {limit}",
                        c.name
                    );
                }
            }
        }
    }

    #[test]
    fn wide_records_and_huge_fields() {
        let d = Dialect::CSV;
        let mut buf = Vec::new();
        for i in 0..5000 {
            if i > 0 {
                buf.push(b',');
            }
            buf.extend_from_slice(i.to_string().as_bytes());
        }
        buf.extend_from_slice(b"\r\n");
        let mut big = Vec::new();
        for _ in 0..(1 << 18) {
            big.extend_from_slice(b"ab\"c,\nde");
        }
        encode(&big, d, false, &mut buf);
        buf.extend_from_slice(b",tail\n");
        let records = parse_all(&buf, d);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].fields.len(), 5000);
        assert_eq!(&*decode(&buf, &records[0].fields[4999], d), b"4999");
        assert_eq!(records[1].fields.len(), 2);
        assert_eq!(&*decode(&buf, &records[1].fields[0], d), &big[..]);
        assert_eq!(
            last_record_end(&buf, 0, buf.len() - 1, d),
            Some(records[0].span.end)
        );
    }
}
