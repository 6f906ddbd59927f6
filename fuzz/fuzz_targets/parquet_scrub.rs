//! Arbitrary bytes as a Parquet file (the corpus is seeded with small valid files, so most
//! inputs are mutated Parquet), scrubbed with the test key on one thread: never a panic that
//! escapes, never a hang, the same result twice, and an accepted file's output accepted again.
//!
//! `formats::parquet::run` wraps the decoder in `catch_unwind` (a panic of the Parquet crate
//! on malformed data becomes a clean error). libFuzzer's panic hook would abort on any panic,
//! caught or not, so this target installs its own hook: a panic raised in a dependency's
//! source (`.cargo/registry`) is logged once per location (`UPSTREAM PANIC`) and left to
//! unwind into that `catch_unwind`; a panic anywhere else (phiscrub's own code, the standard
//! library, this harness) aborts as usual and is a finding.
#![no_main]

mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;

fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("phiscrub-fuzz-{}.parquet", std::process::id()))
    })
}

fn scrub(data: &[u8]) -> common::Outcome {
    let p = path();
    std::fs::write(p, data).expect("write the temporary Parquet file");
    common::scrub_with(|engine, out, found| {
        let opts = common::opts();
        phiscrub::formats::parquet::run(engine, common::columns(), p, Some(out), &opts, found)
    })
}

fn install_hook() {
    let abort_hook = std::panic::take_hook();
    let seen: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    std::panic::set_hook(Box::new(move |info| {
        let loc = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        if loc.contains("/.cargo/registry/") || loc.contains("/.cargo/git/") {
            if seen
                .lock()
                .map(|mut s| s.insert(loc.clone()))
                .unwrap_or(false)
            {
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                common::note(&format!(
                    "UPSTREAM PANIC (caught by formats::parquet::run) at {loc}: {msg}"
                ));
                // With PHISCRUB_FUZZ_SAVE set (a directory), the input and the backtrace of
                // each new location are saved there, to see which caller passed what.
                if let Some(dir) = std::env::var_os("PHISCRUB_FUZZ_SAVE") {
                    let name: String = loc
                        .rsplit("/src/")
                        .next()
                        .unwrap_or(&loc)
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                        .collect();
                    let dir = std::path::Path::new(&dir);
                    if let Ok(input) = CURRENT.lock() {
                        let _ = std::fs::write(dir.join(format!("upstream-{name}")), &*input);
                    }
                    let bt = std::backtrace::Backtrace::force_capture();
                    let _ = std::fs::write(
                        dir.join(format!("upstream-{name}.txt")),
                        format!("{loc}: {msg}\n{bt}"),
                    );
                }
            }
            return;
        }
        abort_hook(info);
    }));
}

/// The input being run, for the panic hook to save.
static CURRENT: Mutex<Vec<u8>> = Mutex::new(Vec::new());

fuzz_target!(init: install_hook(), |data: &[u8]| {
    if std::env::var_os("PHISCRUB_FUZZ_SAVE").is_some() {
        if let Ok(mut c) = CURRENT.lock() {
            c.clear();
            c.extend_from_slice(data);
        }
    }
    common::check(data, scrub);
});
