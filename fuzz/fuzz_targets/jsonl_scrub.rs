//! Arbitrary bytes as JSON lines and, when the first byte is odd, as one JSON document
//! (`--format json`). Scrubbed with the test key on one thread: never a panic or a hang, the
//! same result twice, and an accepted input's output accepted again.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fn scrub(data: &[u8], document: bool) -> common::Outcome {
    common::scrub_with(|engine, out, found| {
        let opts = common::opts();
        phiscrub::formats::jsonl::run(
            engine,
            common::columns(),
            &mut &data[..],
            Some(out),
            document,
            &opts,
            found,
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let document = sel & 1 == 1;
    common::check(rest, |d| scrub(d, document));
});
