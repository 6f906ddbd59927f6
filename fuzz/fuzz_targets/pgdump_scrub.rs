//! Arbitrary bytes as a PostgreSQL plain dump (`--format pgdump`), scrubbed with the test key
//! on one thread: never a panic or a hang, the same result twice, and an accepted dump's
//! output accepted again.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fn scrub(data: &[u8]) -> common::Outcome {
    let engine = common::engine();
    let mut out = Vec::new();
    let mut found = Vec::new();
    let r = phiscrub::formats::pgdump::run(
        &engine,
        common::columns(),
        &mut &data[..],
        Some(&mut out),
        &common::opts(),
        &mut |l| {
            found.push(l.clone());
            Ok(())
        },
    );
    common::Outcome::from(r.map(|_| ()), out, found)
}

fuzz_target!(|data: &[u8]| {
    common::check(data, scrub);
});
