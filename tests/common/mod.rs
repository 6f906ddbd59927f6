//! Helpers shared by the integration tests: run the binary with arguments and standard input.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// A fixed test key (hex, 32 bytes); never a real one.
pub const KEY: &str = "5f1e0c7a9b3d2e4f6a8c0b1d3e5f7a9c2b4d6e8f0a1c3e5b7d9f1a3c5e7b9d0f";

/// Runs `phiscrub ARGS` with `stdin`, without any key from the environment, to completion.
/// Standard input is written from its own thread, so a large input cannot deadlock against a
/// full output pipe.
pub fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_phiscrub"))
        .env_remove("PHISCRUB_KEY")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("the binary finishes");
    writer.join().expect("stdin writer");
    out
}

/// Runs a pyarrow `script` with `args` (`sys.argv[1:]`) and asserts it succeeds; returns
/// `false`, after a printed note, when pyarrow is not installed (`.ci/run` installs it, so CI
/// always runs the check).
pub fn pyarrow_script(script: &str, args: &[&std::path::Path]) -> bool {
    let have = Command::new("python3")
        .args(["-c", "import pyarrow"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        println!("note: pyarrow not installed; skipping the pyarrow read-back");
        return false;
    }
    let res = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        res.status.success(),
        "pyarrow: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    true
}
