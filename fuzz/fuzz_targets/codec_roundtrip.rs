//! The literal codecs the dump and CSV rewriters re-encode changed values with, on arbitrary
//! bytes. The first byte picks the codec and its settings; the second, where needed, a cut.
//!
//! - PostgreSQL string literals (`formats::pg_sql`): `encode_str` then the lexer finds the
//!   literal's end exactly at its closing quote (`quoted_end`, and `statement_end` of a whole
//!   statement), and `decode_str` gives the value back; `str_raw_offset` stays in the body.
//! - MySQL string literals (`formats::mysql_sql`): `encode_str` then `quoted_end` finds the
//!   closing quote (at end of input and mid-stream), `decode_str` gives the value back; hex
//!   literals round-trip.
//! - CSV (`formats::csv_codec`): encoded values form one record whose fields decode to them;
//!   the records of a buffer do not depend on where it was cut (`split_records` docs); on
//!   input that parses, `last_record_end` agrees with `split_records` (its docs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use phiscrub::formats::csv_codec::{self, Dialect};
use phiscrub::formats::mysql_sql::{self, Charset, Mode};
use phiscrub::formats::pg_copy::Encoding;
use phiscrub::formats::pg_sql::{self, End, Lex, StrKind};

const PG_ENCODINGS: [Encoding; 5] = Encoding::ALL;
const MY_CHARSETS: [Charset; 5] = [
    Charset::Plain,
    Charset::Sjis,
    Charset::Big5,
    Charset::Gbk,
    Charset::Gb18030,
];
const DELIMITERS: [u8; 4] = [b',', b'\t', b';', b'|'];

fn pg(sel: u8, v: &[u8]) {
    let enc = PG_ENCODINGS[(sel >> 2) as usize % PG_ENCODINGS.len()];
    let escape = sel & 0x40 != 0;
    let kind = if escape {
        StrKind::Escape
    } else {
        StrKind::Standard
    };
    // An escape string is `E'…'`, or a plain `'…'` with standard_conforming_strings off.
    let std_strings = !(escape && sel & 0x80 != 0);
    let lex = Lex { enc, std_strings };
    // A plain string cannot hold a value ending in a cut lead byte; the rewriter writes
    // those with `write_literal`, which is checked for every value.
    if kind == StrKind::Escape || pg_sql::plain_can_hold(v, enc) {
        pg_literal(v, kind, lex);
    }
    whole_literal(v, lex);

    // Arbitrary bytes as a body: decoding and offsets never panic and stay in bounds.
    for kind in [StrKind::Standard, StrKind::Escape] {
        let mut d = Vec::new();
        pg_sql::decode_str(v, kind, enc, &mut d);
        let mut last = 0;
        for pos in 0..=d.len() {
            let o = pg_sql::str_raw_offset(v, kind, enc, pos);
            assert!(
                o <= v.len() && o >= last,
                "{kind:?} {enc:?}: offset {o} at {pos}"
            );
            last = o;
        }
    }
    let _ = pg_sql::statement_end(v, 0, lex);
    let _ = pg_sql::create_table(v, lex);
    let _ = pg_sql::set_statement(v, lex);
}

fn pg_literal(v: &[u8], kind: StrKind, lex: Lex) {
    let Lex { enc, std_strings } = lex;
    let escape = kind == StrKind::Escape;
    let mut body = Vec::new();
    pg_sql::encode_str(v, kind, enc, &mut body);
    let mut stmt = b"SELECT ".to_vec();
    if escape && std_strings {
        stmt.push(b'E');
    }
    stmt.push(b'\'');
    let open = stmt.len();
    stmt.extend_from_slice(&body);
    stmt.push(b'\'');
    let close = stmt.len();
    stmt.push(b';');
    assert_eq!(
        pg_sql::quoted_end(&stmt, open, b'\'', escape, enc),
        Some(close),
        "{lex:?} {kind:?}: literal of {v:?} is {body:?}"
    );
    assert_eq!(
        pg_sql::statement_end(&stmt, 0, lex),
        End::At(stmt.len()),
        "{lex:?} {kind:?}: statement with literal {body:?} of {v:?}"
    );
    let mut d = Vec::new();
    pg_sql::decode_str(&body, kind, enc, &mut d);
    assert_eq!(d, v, "{lex:?} {kind:?}: encoded {body:?}");
}

/// `write_literal` gives one literal, read back as `v`, whatever the bytes.
fn whole_literal(v: &[u8], lex: Lex) {
    let mut stmt = b"SELECT x".to_vec();
    pg_sql::write_literal(v, lex, &mut stmt);
    stmt.push(b';');
    assert_eq!(
        pg_sql::statement_end(&stmt, 0, lex),
        End::At(stmt.len()),
        "{lex:?}: statement {stmt:?} of {v:?}"
    );
    let e = stmt[8..].starts_with(b" E'");
    let open = if e { 11 } else { 9 };
    let escape = e || !lex.std_strings;
    assert_eq!(
        pg_sql::quoted_end(&stmt, open, b'\'', escape, lex.enc),
        Some(stmt.len() - 1),
        "{lex:?}: literal {stmt:?} of {v:?}"
    );
    let kind = if escape {
        StrKind::Escape
    } else {
        StrKind::Standard
    };
    let mut d = Vec::new();
    pg_sql::decode_str(&stmt[open..stmt.len() - 2], kind, lex.enc, &mut d);
    assert_eq!(d, v, "{lex:?}: literal {stmt:?}");
}

fn my(sel: u8, v: &[u8]) {
    let charset = MY_CHARSETS[(sel >> 2) as usize % MY_CHARSETS.len()];
    let backslash = sel & 0x40 == 0;
    let quote = if sel & 0x80 == 0 { b'\'' } else { b'"' };
    let mode = Mode { charset, backslash };
    let mut body = Vec::new();
    mysql_sql::encode_str(v, quote, mode, &mut body);
    let mut lit = vec![quote];
    lit.extend_from_slice(&body);
    lit.push(quote);
    let close = lit.len() - 1;
    assert_eq!(
        mysql_sql::quoted_end(&lit, 0, mode, true),
        Ok(close),
        "{mode:?}: literal of {v:?} is {lit:?}"
    );
    lit.extend_from_slice(b"),(");
    assert_eq!(
        mysql_sql::quoted_end(&lit, 0, mode, false),
        Ok(close),
        "{mode:?}: literal of {v:?} is {lit:?} (mid-stream)"
    );
    assert_eq!(
        &*mysql_sql::decode_str(&body, quote, mode),
        v,
        "{mode:?}: encoded {body:?}"
    );
    let mut hex = Vec::new();
    mysql_sql::encode_hex(v, &mut hex);
    assert_eq!(mysql_sql::decode_hex(&hex), v);
    // Arbitrary bytes: the lexer's own quoted scan never panics.
    if !v.is_empty() {
        let _ = mysql_sql::quoted_end(v, 0, mode, false);
        let _ = mysql_sql::quoted_end(v, 0, mode, true);
    }
    let _ = mysql_sql::decode_str(v, quote, mode);
    let _ = mysql_sql::is_number(v);
}

fn csv(sel: u8, data: &[u8]) {
    let dialect = Dialect::with_delimiter(DELIMITERS[(sel >> 2) as usize % DELIMITERS.len()]);
    let force = sel & 0x40 != 0;
    let crlf = sel & 0x80 != 0;
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };

    // Values separated by 0xFF bytes, encoded into one record.
    let values: Vec<&[u8]> = rest.split(|&b| b == 0xFF).take(16).collect();
    let mut rec = Vec::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            rec.push(dialect.delimiter);
        }
        csv_codec::encode(v, dialect, force, &mut rec);
    }
    rec.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    let mut recs = Vec::new();
    let end = csv_codec::split_records(&rec, 0, true, dialect, 1, &mut recs);
    assert_eq!(
        end,
        Ok(rec.len()),
        "{dialect:?}: {values:?} encoded as {rec:?}"
    );
    assert_eq!(recs.len(), 1, "{dialect:?}: {values:?} encoded as {rec:?}");
    let got: Vec<Vec<u8>> = recs[0]
        .fields
        .iter()
        .map(|f| csv_codec::decode(&rec, f, dialect).into_owned())
        .collect();
    let want: Vec<Vec<u8>> = values.iter().map(|v| v.to_vec()).collect();
    assert_eq!(got, want, "{dialect:?}: encoded as {rec:?}");

    // Arbitrary bytes as a buffer, whole and cut at `cut`.
    let _ = csv_codec::sniff(rest);
    let mut whole = Vec::new();
    let r_whole = csv_codec::split_records(rest, 0, true, dialect, 1, &mut whole);
    if r_whole.is_err() || rest.is_empty() {
        return;
    }
    let c = (cut as usize * rest.len()) / 255;
    let mut first = Vec::new();
    let resume = csv_codec::split_records(&rest[..c], 0, false, dialect, 1, &mut first)
        .unwrap_or_else(|e| panic!("{dialect:?}: the whole parses, the first {c} bytes: {e}"));
    let mut second = Vec::new();
    let r2 = csv_codec::split_records(
        rest,
        resume,
        true,
        dialect,
        1 + first.len() as u64,
        &mut second,
    );
    assert_eq!(r2, r_whole, "{dialect:?}: cut at {c}");
    first.extend(second);
    assert_eq!(first, whole, "{dialect:?}: records depend on a cut at {c}");
    // `last_record_end` agrees with the parse on well-formed input.
    // (It only sees line feeds: a last record without a terminator is not a cut point.)
    let want = whole
        .iter()
        .filter(|r| !r.terminator(rest).is_empty())
        .map(|r| r.span.end)
        .filter(|&e| e <= c)
        .last();
    assert_eq!(
        csv_codec::last_record_end(rest, 0, c, dialect),
        want,
        "{dialect:?}: last record end before {c}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 3 {
        0 => pg(sel, rest),
        1 => my(sel, rest),
        _ => csv(sel, rest),
    }
});
