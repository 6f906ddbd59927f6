//! Arbitrary bytes as CSV: the first byte picks the dialect (sniffed, or a fixed delimiter, as
//! `--delimiter` gives it), the rest is the file. Scrubbed with the test key on one thread:
//! never a panic or a hang, the same result twice, and an accepted file's output accepted
//! again (with the same dialect), and the same result when cut into chunks of a few bytes.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use phiscrub::formats::csv_codec::Dialect;
use phiscrub::formats::Sizes;

fn scrub(data: &[u8], dialect: Option<Dialect>) -> common::Outcome {
    scrub_sized(data, dialect, DEFAULT)
}

/// The sizes `csv::run` reads and cuts at.
const DEFAULT: Sizes = Sizes {
    read: 1 << 20,
    chunk: usize::MAX,
};

fn scrub_sized(data: &[u8], dialect: Option<Dialect>, sizes: Sizes) -> common::Outcome {
    common::scrub_with(|engine, out, found| {
        let opts = common::opts();
        phiscrub::formats::csv::run_sized(
            engine,
            common::columns(),
            &mut &data[..],
            Some(out),
            dialect,
            &opts,
            found,
            sizes,
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let dialect = match sel % 8 {
        0 => Some(Dialect::with_delimiter(b',')),
        1 => Some(Dialect::with_delimiter(b'\t')),
        2 => Some(Dialect::with_delimiter(b';')),
        3 => Some(Dialect::with_delimiter(b'|')),
        _ => None,
    };
    // The output is re-read with the dialect the first run used: a sniffed one is sniffed
    // again from the output, which can legitimately differ, so pin it when it was sniffed.
    let pinned = dialect.or_else(|| {
        let bom = phiscrub::formats::csv_codec::bom_len(rest);
        Some(phiscrub::formats::csv_codec::sniff(
            &rest[bom..rest.len().min(bom + (64 << 10))],
        ))
    });
    let first = scrub(rest, dialect);
    let second = scrub(rest, dialect);
    common::same(&first, &second);
    // Read and cut a few bytes at a time, the file scrubs to the same bytes, findings and error:
    // a chunk boundary never changes what a record is.
    let sizes = common::small_sizes(rest.len());
    let cut = scrub_sized(rest, dialect, sizes);
    assert!(cut == first, "{sizes:?}: {cut:?}\n  vs\n{first:?}");
    if let common::Outcome::Ok { out, .. } = first {
        if let common::Outcome::Err(e) = scrub(&out, pinned) {
            panic!(
                "scrubbed output no longer scrubs: {e}\n input: {:?}\noutput: {:?}",
                String::from_utf8_lossy(rest),
                String::from_utf8_lossy(&out)
            );
        }
    }
});
