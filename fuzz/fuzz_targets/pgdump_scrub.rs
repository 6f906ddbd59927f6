//! Arbitrary bytes as a PostgreSQL plain dump (`--format pgdump`), scrubbed with the test key
//! on one thread, read and cut in small pieces: never a panic or a hang, the same result
//! twice, and an accepted dump's output accepted again.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fn scrub(data: &[u8]) -> common::Outcome {
    let sizes = common::small_sizes(data.len());
    common::scrub_with(|engine, out, found| {
        let opts = common::opts();
        phiscrub::formats::pgdump::run_sized(
            engine,
            common::columns(),
            &mut &data[..],
            Some(out),
            &opts,
            found,
            sizes,
        )
    })
}

fuzz_target!(|data: &[u8]| {
    common::check(data, scrub);
});
