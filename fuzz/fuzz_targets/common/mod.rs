//! Shared set-up of the fuzz targets: one compiled detector for the whole process, a fresh
//! transformer (with its own collision watch) for every run, a fixed test key, one thread.
//!
//! Every scrub target checks three things beyond "no panic, no hang":
//! - determinism: the same input scrubbed twice gives the same result (the same output bytes
//!   and findings, or the same error message);
//! - a scrubbed output that the scrubber accepted (`Ok`) is itself accepted when scrubbed
//!   again: scrubbing must never turn a well-formed file into a malformed one;
#![allow(dead_code)]

use std::sync::OnceLock;

use phiscrub::classify::ColumnRules;
use phiscrub::pipeline::{Engine, EntityFilter, Located, Mode, PipelineError, RunOptions};
use phiscrub::policy::Policy;
use phiscrub::transform::{key::Key, Transformer};

/// The fixed key of the unit tests (never a real one).
pub const KEY: [u8; 32] = [7; 32];

struct Base {
    detector: phiscrub::detect::Detector,
    policy: Policy,
    key: Key,
    columns: ColumnRules,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| Base {
        detector: phiscrub::detect::builtin().expect("builtin rules"),
        policy: Policy::defaults(true),
        key: Key::from_bytes(&KEY).expect("key"),
        columns: ColumnRules::builtin().expect("builtin column rules"),
    })
}

/// An engine that shares the compiled detector but nothing that remembers values between runs
/// (the transformer's collision watch is per transformer), so a run never depends on the inputs
/// fuzzed before it.
pub fn engine() -> Engine {
    let b = base();
    Engine {
        detector: b.detector.clone(),
        transformer: Transformer::new(b.policy.clone(), Some(b.key.clone())),
        filter: EntityFilter::default(),
        min_score: 0.5,
    }
}

pub fn columns() -> &'static ColumnRules {
    &base().columns
}

/// Scrub mode, one thread, positions on (so every offset computation runs).
pub fn opts() -> RunOptions<'static> {
    RunOptions {
        mode: Mode::Scrub,
        threads: 1,
        positions: true,
        char_offsets: true,
        fingerprints: true,
        ..RunOptions::default()
    }
}

/// Runs one scrub with a fresh [`engine`], collecting what it writes and finds: `run` is
/// the format's entry point, given the engine, the output and the findings' sink.
pub fn scrub_with<S>(
    run: impl FnOnce(
        &Engine,
        &mut Vec<u8>,
        &mut dyn FnMut(&Located) -> std::io::Result<()>,
    ) -> Result<S, PipelineError>,
) -> Outcome {
    let engine = engine();
    let mut out = Vec::new();
    let mut found = Vec::new();
    let r = run(&engine, &mut out, &mut |l| {
        found.push(l.clone());
        Ok(())
    });
    Outcome::from(r.map(|_| ()), out, found)
}

/// Small read and chunk sizes for an input of `len` bytes, so a few bytes of input cross many
/// read and chunk boundaries (the defaults, 1 MiB, are never reached by a fuzz input). Fixed
/// by the length, so both runs of [`check`] cut alike.
pub fn small_sizes(len: usize) -> phiscrub::formats::Sizes {
    phiscrub::formats::Sizes {
        read: 1 + len % 61,
        chunk: 1 + len / 61 % 127,
    }
}

/// What one scrub gave: output bytes and findings, or the error's message.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Ok { out: Vec<u8>, found: Vec<Located> },
    Err(String),
}

impl Outcome {
    pub fn from(r: Result<(), PipelineError>, out: Vec<u8>, found: Vec<Located>) -> Outcome {
        match r {
            Ok(()) => Outcome::Ok { out, found },
            Err(e) => Outcome::Err(e.to_string()),
        }
    }
}

/// Logs a line that is worth a look but not a failure: appended to the file that
/// `PHISCRUB_FUZZ_NOTES` names (libFuzzer's `-fork` mode throws its workers' standard error
/// away), else to standard error; at most 20 lines per process.
pub fn note(line: &str) {
    use std::io::Write as _;
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    if COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 20 {
        return;
    }
    let line = format!("[{}] {line}\n", std::process::id());
    match std::env::var_os("PHISCRUB_FUZZ_NOTES") {
        Some(p) => {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
            {
                let _ = f.write_all(line.as_bytes());
            }
        }
        None => eprint!("{line}"),
    }
}

/// Asserts two runs of one input agree, errors included: a malformed input fails with its
/// first error in stream order on every run (pgdump once raced its reader's error against a
/// worker's).
pub fn same(first: &Outcome, second: &Outcome) {
    assert!(
        first == second,
        "not deterministic: {first:?}\n  vs\n{second:?}"
    );
}

/// Runs `scrub` twice on `data`, asserts both runs agree, and when the first succeeded,
/// asserts that its output scrubs without error too.
pub fn check(data: &[u8], scrub: impl Fn(&[u8]) -> Outcome) {
    let first = scrub(data);
    let second = scrub(data);
    same(&first, &second);
    match first {
        Outcome::Ok { out, .. } => {
            if let Outcome::Err(e) = scrub(&out) {
                panic!(
                    "scrubbed output no longer scrubs: {e}\n input: {:?}\noutput: {:?}",
                    String::from_utf8_lossy(data),
                    String::from_utf8_lossy(&out)
                );
            }
        }
        Outcome::Err(_) => {}
    }
}
