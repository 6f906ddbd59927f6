//! `phiscrub filter` through the binary: one line out for every line in, in order, on every
//! format and `--on-error` mode; key paths as context; `--field`; rsyslog mmexternal replies;
//! prompt flushing on a live pipe; the same tokens as `phiscrub scrub`; and a real rsyslogd
//! driving the filter through `mmexternal`. All data is synthetic.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::{run, KEY};

/// Values planted in the inputs; none may reach stdout or stderr.
const PLANTED: &[&str] = &[
    "536-22-8726",
    "219-45-6789",
    "536228726",
    "(312) 447-2291",
    "447-2291",
    "jane.roe@mercy-health.org",
    "73.162.14.9",
    "00482913",
];

fn assert_no_leak(out: &Output) {
    for s in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(s);
        for v in PLANTED {
            assert!(!text.contains(v), "planted {v:?} leaked:\n{text}");
        }
    }
}

fn ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn key_file(dir: &Path) -> PathBuf {
    let p = dir.join("k.key");
    std::fs::write(&p, KEY).unwrap();
    p
}

fn filter(args: &[&str], stdin: &[u8]) -> Output {
    let mut a = vec!["filter"];
    a.extend_from_slice(args);
    let out = run(&a, stdin);
    ok(&out);
    assert_no_leak(&out);
    out
}

fn lines(b: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(b)
        .split_terminator('\n')
        .map(str::to_string)
        .collect()
}

/// Input lines (each given without its newline), valid and not, for every format.
fn mixed_lines() -> Vec<Vec<u8>> {
    vec![
        b"{\"msg\": \"call (312) 447-2291\", \"hostname\": \"h1\"}".to_vec(),
        b"SSN 536-22-8726 plain text".to_vec(),
        b"".to_vec(),
        b"{\"msg\": \"mail jane.roe@mercy-health.org\",}".to_vec(),
        b"SSN 219-45-6789 \xff\xfe not UTF-8".to_vec(),
        b"{\"msg\": \"from 73.162.14.9 \xc3\"}".to_vec(),
        b"{\"msg\": \"MRN: 00482913\"}\r".to_vec(),
        b"{\"msg\": \"nothing here\"}".to_vec(),
        b"[1, 2]".to_vec(),
        b"   ".to_vec(),
    ]
}

#[test]
fn one_line_out_per_line_in_on_mixed_input() {
    let src = mixed_lines();
    let mut input = src.join(&b"\n"[..]);
    // The last line has no newline; it is answered all the same.
    input.extend_from_slice(b"\n{\"msg\": \"SSN 536-22-8726\"}");
    let n = src.len() + 1;
    for format in ["text", "ndjson", "rsyslog"] {
        for on_error in ["pass", "mask", "drop"] {
            let out = filter(&["--format", format, "--on-error", on_error], &input);
            let got = lines(&out.stdout);
            assert_eq!(got.len(), n, "{format} {on_error}: {got:?}");
            assert!(out.stdout.ends_with(b"\n"));
            if format == "rsyslog" {
                for l in &got {
                    let v: Value = serde_json::from_str(l).unwrap();
                    assert!(v.is_object(), "{l}");
                }
            }
            if format == "ndjson" && on_error != "pass" {
                for l in got.iter().filter(|l| !l.trim().is_empty()) {
                    serde_json::from_str::<Value>(l).unwrap();
                }
            }
            let stderr = String::from_utf8_lossy(&out.stderr);
            let summary = stderr.lines().last().unwrap();
            assert!(
                summary.starts_with(&format!("phiscrub filter: {n} lines")),
                "{summary}"
            );
        }
    }
}

#[test]
fn on_error_modes() {
    let bad_json = &b"{\"ssn\": \"536-22-8726\",}"[..];
    let bad_utf8 = &b"SSN 536-22-8726 \xff"[..];
    let mask = "[PHISCRUB: LINE REMOVED]";
    let mask_json = r#"{"phiscrub":"line removed"}"#;
    let mask_rsyslog = format!(r#"{{"msg":"{mask}","rawmsg":"{mask}"}}"#);
    for (format, on_error, line, want) in [
        ("text", "pass", bad_utf8, "SSN [SSN] \u{FFFD}"),
        ("text", "mask", bad_utf8, mask),
        ("text", "drop", bad_utf8, ""),
        ("ndjson", "pass", bad_json, r#"{"ssn": "[SSN]",}"#),
        ("ndjson", "mask", bad_json, mask_json),
        ("ndjson", "drop", bad_json, ""),
        ("ndjson", "mask", bad_utf8, mask_json),
        ("rsyslog", "pass", bad_utf8, r#"{"msg":"SSN [SSN] �"}"#),
        ("rsyslog", "mask", bad_json, &mask_rsyslog),
        ("rsyslog", "drop", bad_json, "{}"),
    ] {
        let mut input = line.to_vec();
        input.extend_from_slice(b"\n{\"msg\": \"ok\"}\n");
        let out = filter(&["--format", format, "--on-error", on_error], &input);
        let got = lines(&out.stdout);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], want, "{format} {on_error}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("phiscrub filter: line 1: "), "{stderr}");
        assert!(stderr.contains("1 not parsed"), "{stderr}");
    }
}

#[test]
fn bad_flags_stop_before_reading() {
    for (args, says) in [
        (&["--max-line", "0"][..], "--max-line"),
        (&["--max-line", "12Q"], "--max-line"),
        (&["--format", "xml"], "--format"),
        (&["--on-error", "ignore"], "--on-error"),
        (&["--rsyslog-input", "json"], "--rsyslog-input"),
        (&["--min-score", "2"], "--min-score"),
        (&["--key-file", "/nonexistent/phiscrub.key"], "key"),
    ] {
        let out = run(&[&["filter"], args].concat(), b"SSN 536-22-8726\n");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("536-22-8726"));
    }
}

#[test]
fn notices_are_rate_limited() {
    let input = "{bad SSN 536-22-8726\n".repeat(5000);
    let started = Instant::now();
    let out = filter(&["--format", "ndjson"], input.as_bytes());
    let secs = started.elapsed().as_secs();
    assert_eq!(lines(&out.stdout).len(), 5000);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let notices = stderr.matches("phiscrub filter: line ").count() as u64;
    assert!(
        notices >= 1 && notices <= secs + 1,
        "{notices} notices in {secs} s"
    );
    let shown = stderr.lines().last().unwrap();
    assert!(shown.contains("5000 not parsed"), "{shown}");
    assert!(
        shown.contains(&format!("({} notices not shown)", 5000 - notices)),
        "{shown}"
    );
}

#[test]
fn order_holds_on_many_threads() {
    let n = 30_000;
    let mut input = String::new();
    for i in 0..n {
        if i % 3 == 0 {
            input.push_str(&format!(
                "{{\"n\": {i}, \"note\": \"call (312) 447-2291\"}}\n"
            ));
        } else {
            input.push_str(&format!("{{\"n\": {i}, \"note\": \"fine\"}}\n"));
        }
    }
    for threads in ["1", "8"] {
        let out = filter(
            &["--format", "ndjson", "--threads", threads],
            input.as_bytes(),
        );
        let got = lines(&out.stdout);
        assert_eq!(got.len(), n);
        for (i, l) in got.iter().enumerate() {
            let v: Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["n"], json!(i), "line {i} on {threads} threads");
            let note = if i % 3 == 0 { "call [PHONE]" } else { "fine" };
            assert_eq!(v["note"], json!(note));
        }
    }
}

#[test]
fn ndjson_key_paths_are_context_and_fields_select() {
    // An undashed SSN is found only with context; here the key path gives it.
    let line = b"{\"patient\": {\"ssn\": \"536228726\"}, \"note\": \"SSN 219-45-6789\"}\n";
    let out = filter(&["--format", "ndjson"], line);
    assert_eq!(
        lines(&out.stdout),
        [r#"{"patient": {"ssn": "[SSN]"}, "note": "SSN [SSN]"}"#]
    );
    let bare = run(&["filter", "--format", "text"], b"536228726\n");
    assert_eq!(lines(&bare.stdout), ["536228726"], "no context, no finding");
    // --field: only the named paths (and what is under them) change.
    let line = b"{\"msg\": \"SSN 536-22-8726\", \"patient\": {\"ssn\": \"536-22-8726\"}, \"other\": \"x\"}\n";
    for (fields, want) in [
        (
            &["msg"][..],
            r#"{"msg": "SSN [SSN]", "patient": {"ssn": "536-22-8726"}, "other": "x"}"#,
        ),
        (
            &["patient"],
            r#"{"msg": "SSN 536-22-8726", "patient": {"ssn": "[SSN]"}, "other": "x"}"#,
        ),
        (
            &["msg", "patient.ssn"],
            r#"{"msg": "SSN [SSN]", "patient": {"ssn": "[SSN]"}, "other": "x"}"#,
        ),
    ] {
        let mut args = vec!["--format", "ndjson"];
        for f in fields {
            args.extend(["--field", f]);
        }
        let out = run(&[&["filter"], &args[..]].concat(), line);
        ok(&out);
        assert_eq!(lines(&out.stdout), [want], "{fields:?}");
    }
}

#[test]
fn rsyslog_replies() {
    let requests = [
        r#"{"msg":"call (312) 447-2291","rawmsg":"<13>1 2024-05-01T10:00:00Z h1 app 1 - - call (312) 447-2291","hostname":"h1","structured-data":"[x@1 ssn=\"536-22-8726\"]","$!":{"patient":{"email":"jane.roe@mercy-health.org"}}}"#,
        r#"{"msg":"all quiet","rawmsg":"<13>1 - h1 app - - - all quiet","hostname":"h1"}"#,
        r#"{"msg":"multi\nline MRN: 00482913"}"#,
    ];
    let input = requests.join("\n") + "\n";
    let out = filter(&["--format", "rsyslog"], input.as_bytes());
    let got: Vec<Value> = lines(&out.stdout)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[0],
        json!({
            "msg": "call [PHONE]",
            "rawmsg": "<13>1 [DATE] h1 app 1 - - call [PHONE]",
            "structured-data": "[x@1 ssn=\"[SSN]\"]",
            "$!": {"patient": {"email": "[EMAIL]"}}
        })
    );
    assert_eq!(got[1], json!({}));
    assert_eq!(got[2], json!({"msg": "multi\nline MRN: [MRN]"}));
    // --field limits the properties; --rsyslog-input msg takes the line as the message.
    let out = filter(
        &["--format", "rsyslog", "--field", "msg"],
        requests[0].as_bytes(),
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        json!({"msg": "call [PHONE]"})
    );
    let out = filter(
        &["--format", "rsyslog", "--rsyslog-input", "msg"],
        b"call (312) 447-2291 \"quoted\"\nquiet\n",
    );
    assert_eq!(
        lines(&out.stdout),
        [r#"{"msg":"call [PHONE] \"quoted\""}"#, "{}"]
    );
}

#[test]
fn oversized_lines_are_replaced_and_counted() {
    let long = format!("SSN 536-22-8726 {}", "x".repeat(5000));
    let input = format!("short SSN 536-22-8726\n{long}\n{long}");
    let out = filter(&["--max-line", "4K"], input.as_bytes());
    assert_eq!(
        lines(&out.stdout),
        [
            "short SSN [SSN]",
            "[PHISCRUB: LINE REMOVED]",
            "[PHISCRUB: LINE REMOVED]"
        ]
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("(2 over --max-line)"));
    let out = filter(
        &[
            "--format",
            "rsyslog",
            "--rsyslog-input",
            "msg",
            "--max-line",
            "4K",
            "--on-error",
            "drop",
        ],
        input.as_bytes(),
    );
    assert_eq!(
        lines(&out.stdout),
        [r#"{"msg":"short SSN [SSN]"}"#, "{}", "{}"]
    );
}

/// Each line comes back before the next is written and before standard input closes.
#[test]
fn each_line_is_flushed_at_once() {
    for (format, line, want) in [
        ("text", "SSN 536-22-8726", "SSN [SSN]"),
        ("ndjson", r#"{"ssn": "536-22-8726"}"#, r#"{"ssn": "[SSN]"}"#),
        (
            "rsyslog",
            r#"{"msg": "SSN 536-22-8726"}"#,
            r#"{"msg":"SSN [SSN]"}"#,
        ),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_phiscrub"))
            .env_remove("PHISCRUB_KEY")
            .args(["filter", "--quiet", "--format", format])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines() {
                if tx.send(l.unwrap()).is_err() {
                    break;
                }
            }
        });
        for _ in 0..3 {
            writeln!(stdin, "{line}").unwrap();
            stdin.flush().unwrap();
            let got = rx
                .recv_timeout(Duration::from_secs(20))
                .expect("the line came back while stdin is still open");
            assert_eq!(got, want);
        }
        drop(stdin);
        assert!(child.wait().unwrap().success());
        reader.join().unwrap();
        let mut err = String::new();
        child.stderr.unwrap().read_to_string(&mut err).unwrap();
        assert_eq!(err, "", "--quiet writes nothing");
    }
}

fn text_sample() -> String {
    let mut s = String::new();
    for i in 0..40 {
        s.push_str(&format!(
            "2024-05-01 10:{:02}:00 visit ssn=536-22-{:04} call (312) 447-{:04} mail jane.roe{i}@mercy-health.org from 73.162.14.{} MRN: 00482913\n",
            i % 60,
            8700 + i,
            2200 + i,
            9 + i
        ));
        s.push_str("plain status line with nothing\n");
    }
    s
}

#[test]
fn tokens_equal_what_scrub_writes() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path());
    let key = key.to_str().unwrap();
    let text = text_sample();
    let scrubbed = run(&["scrub", "--quiet", "--key-file", key], text.as_bytes());
    ok(&scrubbed);
    let filtered = filter(&["--key-file", key], text.as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&filtered.stdout),
        String::from_utf8_lossy(&scrubbed.stdout)
    );
    assert!(lines(&filtered.stdout)[0].contains("SSN_") || filtered.stdout != text.as_bytes());
    // ndjson against scrub --format jsonl, key paths included.
    let mut nd = String::new();
    for l in text.lines() {
        nd.push_str(&serde_json::to_string(&json!({"note": l, "patient": {"ssn": "536-22-8726", "email": "jane.roe@mercy-health.org"}})).unwrap());
        nd.push('\n');
    }
    let scrubbed = run(
        &["scrub", "--quiet", "--format", "jsonl", "--key-file", key],
        nd.as_bytes(),
    );
    ok(&scrubbed);
    let filtered = filter(&["--format", "ndjson", "--key-file", key], nd.as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&filtered.stdout),
        String::from_utf8_lossy(&scrubbed.stdout)
    );
    // rsyslog: each reply's msg is the scrubbed text line.
    let mut reqs = String::new();
    for l in text.lines() {
        reqs.push_str(&serde_json::to_string(&json!({"msg": l, "hostname": "h"})).unwrap());
        reqs.push('\n');
    }
    let filtered = filter(&["--format", "rsyslog", "--key-file", key], reqs.as_bytes());
    let want = lines(&run(&["scrub", "--quiet", "--key-file", key], text.as_bytes()).stdout);
    for ((reply, want), orig) in lines(&filtered.stdout).iter().zip(&want).zip(text.lines()) {
        let v: Value = serde_json::from_str(reply).unwrap();
        match v.get("msg") {
            Some(m) => assert_eq!(m, &json!(want)),
            None => assert_eq!(orig, want, "unchanged reply for an unchanged line"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A real rsyslogd: imtcp on a free loopback port, mmexternal running `phiscrub filter`, omfile.

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn rsyslogd() -> Option<PathBuf> {
    [
        "/usr/sbin/rsyslogd",
        "/sbin/rsyslogd",
        "/usr/local/sbin/rsyslogd",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// Kills rsyslogd (and so its mmexternal children, whose stdin closes) when the test ends,
/// passed or not.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGTERM lets rsyslogd close its mmexternal children's input; SIGKILL if it lingers.
        if let Ok(pid) = i32::try_from(self.0.id()) {
            // SAFETY: a signal to the child this test started and has not reaped yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines of `path` once it has `n` of them, or what it has after a minute.
fn wait_for_lines(path: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = std::fs::read(path).map(|b| lines(&b)).unwrap_or_default();
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An RFC 5424 message with octet-counting framing (RFC 6587 3.4.1).
fn frame(i: usize, msg: &str) -> Vec<u8> {
    let m = format!(
        "<134>1 2024-05-01T10:00:{:02}.000Z host{i} app 4242 ID{i} - {msg}",
        i % 60
    );
    format!("{} {m}", m.len()).into_bytes()
}

#[test]
fn rsyslog_mmexternal_end_to_end() {
    let Some(rsyslogd) = rsyslogd() else {
        println!(
            "SKIP rsyslog_mmexternal_end_to_end: rsyslogd not installed (apt-get install rsyslog)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = key_file(d);
    std::fs::create_dir(d.join("work")).unwrap();
    let (port_json, port_msg) = (free_port(), free_port());
    let bin = env!("CARGO_BIN_EXE_phiscrub");
    let conf = format!(
        r#"global(workDirectory="{work}")
module(load="imtcp")
module(load="mmexternal")
template(name="plain" type="string" string="%msg%\n")
template(name="rest" type="string" string="%structured-data% %rawmsg%\n")
input(type="imtcp" address="127.0.0.1" port="{port_json}" ruleset="fulljson")
input(type="imtcp" address="127.0.0.1" port="{port_msg}" ruleset="msg")
ruleset(name="fulljson") {{
  action(type="mmexternal" interface.input="fulljson"
         binary="{bin} filter --quiet --format rsyslog --key-file {key}")
  action(type="omfile" file="{out_json}" template="plain")
  action(type="omfile" file="{out_rest}" template="rest")
}}
ruleset(name="msg") {{
  action(type="mmexternal"
         binary="{bin} filter --quiet --format rsyslog --rsyslog-input msg --key-file {key}")
  action(type="omfile" file="{out_msg}" template="plain")
}}
"#,
        work = d.join("work").display(),
        key = key.display(),
        out_json = d.join("fulljson.log").display(),
        out_msg = d.join("msg.log").display(),
        out_rest = d.join("rest.log").display(),
    );
    let conf_path = d.join("rsyslog.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let check = Command::new(&rsyslogd)
        .args(["-N1", "-f"])
        .arg(&conf_path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "rsyslogd rejects the config: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let _daemon = Daemon(
        Command::new(&rsyslogd)
            .arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(d.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let text = text_sample();
    let msgs: Vec<&str> = text.lines().collect();
    for port in [port_json, port_msg] {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut conn = loop {
            match std::net::TcpStream::connect(("127.0.0.1", port)) {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("rsyslogd does not listen on {port}: {e}"),
            }
        };
        for (i, m) in msgs.iter().enumerate() {
            conn.write_all(&frame(i, m)).unwrap();
        }
        conn.flush().unwrap();
    }
    let want = lines(
        &run(
            &["scrub", "--quiet", "--key-file", key.to_str().unwrap()],
            text.as_bytes(),
        )
        .stdout,
    );
    assert_ne!(want, lines(text.as_bytes()), "the sample has findings");
    for name in ["fulljson.log", "msg.log"] {
        let got = wait_for_lines(&d.join(name), msgs.len());
        assert_eq!(got.len(), msgs.len(), "{name}: every message arrived");
        let all = got.join("\n");
        for v in PLANTED {
            assert!(!all.contains(v), "{name}: planted {v:?} reached the file");
        }
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(
                g.trim(),
                w.trim(),
                "{name}: tokens are those of phiscrub scrub"
            );
        }
    }
}
