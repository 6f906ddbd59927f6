//! The COPY text codec (`formats::pg_copy`) on arbitrary bytes. The first byte picks the client
//! encoding; the rest is used three ways.
//!
//! What pg_copy.rs promises (module and `encode` docs, and its tests) is encode → decode, not
//! decode → encode: decoding is many-to-one (`\x41`, `\101` and `A` are all `A`), and only a
//! changed value is re-encoded, an unchanged field being copied as its raw span. So:
//! 1. as a value `v`: `encode(v)` is one field of a line (no tab or line end that splits it, no
//!    byte that takes the tab after it, and never the NULL marker or the end marker), and
//!    `decode(encode(v)) == v`;
//! 2. as a line: `split_fields` gives spans that, joined with tabs, are the line again (an
//!    unchanged field is its raw span); each field decodes, and its decoded value satisfies 1
//!    (the pgdump path: decode a field, replace part of it, re-encode);
//! 3. `raw_offset` of every decoded position is within the field and never goes backwards.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phiscrub::formats::pg_copy::{self, Encoding};

const ENCODINGS: [Encoding; 5] = Encoding::ALL;

fn value_round_trips(v: &[u8], enc: Encoding) {
    let mut e = Vec::new();
    pg_copy::encode(v, enc, &mut e);
    assert!(
        !pg_copy::is_null(&e),
        "{enc:?}: {v:?} encodes to the NULL marker"
    );
    assert!(
        !pg_copy::is_end_marker(&e),
        "{enc:?}: {v:?} encodes to the end marker"
    );
    // The pgdump reader cuts COPY data into lines at every 0x0A byte, whatever the encoding,
    // and PostgreSQL rejects a raw carriage return in COPY data.
    assert!(
        !e.contains(&b'\n') && !e.contains(&b'\r'),
        "{enc:?}: {v:?} encodes to {e:?}, which holds a raw line end"
    );
    let mut spans = Vec::new();
    pg_copy::split_fields(&e, enc, &mut spans);
    assert_eq!(
        spans,
        vec![0..e.len()],
        "{enc:?}: {v:?} encodes to {e:?}, not one field"
    );
    let mut d = Vec::new();
    pg_copy::decode(&e, enc, &mut d);
    assert_eq!(d, v, "{enc:?}: encode then decode of {v:?} (encoded {e:?})");
    // In a line, with a field after it: still its own field.
    let mut line = e.clone();
    line.extend_from_slice(b"\tx");
    pg_copy::split_fields(&line, enc, &mut spans);
    assert_eq!(
        spans,
        vec![0..e.len(), e.len() + 1..line.len()],
        "{enc:?}: {v:?} encodes to {e:?}, which takes the tab after it"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let enc = ENCODINGS[sel as usize % ENCODINGS.len()];

    // 1. As a value.
    value_round_trips(rest, enc);

    // 2. As a line (up to its first line feed, as the reader cuts it).
    let line = rest.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut spans = Vec::new();
    pg_copy::split_fields(line, enc, &mut spans);
    assert!(!spans.is_empty());
    let mut joined = Vec::new();
    for (i, r) in spans.iter().enumerate() {
        if i > 0 {
            joined.push(b'\t');
        }
        joined.extend_from_slice(&line[r.clone()]);
    }
    assert_eq!(joined, line, "{enc:?}: fields joined are not the line");
    for r in &spans {
        let raw = &line[r.clone()];
        let mut v = Vec::new();
        pg_copy::decode(raw, enc, &mut v);
        if !pg_copy::has_escape(raw) {
            assert_eq!(v, raw, "{enc:?}: a field without a backslash is its value");
        }
        value_round_trips(&v, enc);
        // 3. Offsets of decoded positions.
        let mut last = 0;
        for pos in 0..=v.len() {
            let o = pg_copy::raw_offset(raw, enc, pos);
            assert!(
                o <= raw.len(),
                "{enc:?}: raw_offset {o} past the field ({})",
                raw.len()
            );
            assert!(o >= last, "{enc:?}: raw_offset went backwards at {pos}");
            last = o;
        }
        assert_eq!(
            pg_copy::raw_offset(raw, enc, v.len()),
            raw.len(),
            "{enc:?}: the end of the value is the end of the field"
        );
    }
});
