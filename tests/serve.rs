//! `phiscrub serve` over loopback: the real binary on a free port, driven by a plain HTTP/1.1
//! client, with a stub OTLP upstream that records what it receives, and (when PyPI is
//! reachable) the real OpenTelemetry Python exporter sending through it.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "serve-test-token-0123456789abcdef";

/// Values planted in requests; none may come back in a response, upstream or the log.
const PLANTED: &[&str] = &[
    "536-22-8726",
    "536228726",
    "jane.roe@mercy-health.org",
    "(312) 447-2291",
    "312-447-2291",
    "73.162.14.9",
    "ann.lee@example-clinic.com",
];

fn assert_no_leak(what: &str, text: &[u8]) {
    let t = String::from_utf8_lossy(text);
    for p in PLANTED {
        assert!(!t.contains(p), "{what} leaks {p}:\n{t}");
    }
}

struct Server {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.key");
        std::fs::write(&key, common::KEY).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_phiscrub"))
            .args(["serve", "--listen", "127.0.0.1:0", "--key-file"])
            .arg(&key)
            .args(extra)
            .env_remove("PHISCRUB_KEY")
            .env("PHISCRUB_AUTH_TOKEN", TOKEN)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                {
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
                for scheme in ["http", "https"] {
                    if let Some(a) = line.split(&format!("listening on {scheme}://")).nth(1) {
                        let _ = tx.send(a.to_string());
                    }
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a.parse().unwrap(),
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start: {}", stderr.lock().unwrap());
            }
        };
        Server {
            child,
            addr,
            stderr,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn post(&self, path: &str, ctype: &str, body: &[u8]) -> Resp {
        let auth = format!("Bearer {TOKEN}");
        request(
            self.addr,
            "POST",
            path,
            &[("Content-Type", ctype), ("Authorization", &auth)],
            body,
        )
    }

    fn terminate(&self) {
        // SAFETY: kill(2) on our own child's pid; no memory is touched.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
    }

    /// Waits for exit; the exit code.
    fn wait(&mut self, limit: Duration) -> Option<i32> {
        let t = Instant::now();
        while t.elapsed() < limit {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }
}

fn head(method: &str, path: &str, headers: &[(&str, &str)], len: Option<usize>) -> Vec<u8> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    match len {
        Some(n) => req.push_str(&format!("Content-Length: {n}\r\n\r\n")),
        None => req.push_str("Transfer-Encoding: chunked\r\n\r\n"),
    }
    req.into_bytes()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s
}

fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = connect(addr);
    s.write_all(&head(method, path, headers, Some(body.len())))
        .unwrap();
    // The server may answer (413, 401) before the body is sent; a reset on write is fine.
    let _ = s.write_all(body);
    read_response(&mut s)
}

fn read_response(s: &mut TcpStream) -> Resp {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
        .unwrap_or_else(|| panic!("bad response: {:?}", String::from_utf8_lossy(&raw)))
}

fn parse_response(raw: &[u8]) -> Option<Resp> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if let Some(n) = headers
        .get("content-length")
        .and_then(|n| n.parse::<usize>().ok())
    {
        body.truncate(n);
    }
    Some(Resp {
        status,
        headers,
        body,
    })
}

/// What the stub upstream received: content type and body, per request.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A tiny OTLP/HTTP receiver on loopback answering `status` to every POST.
fn stub_upstream(status: u16) -> (SocketAddr, Received) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let got: Received = Arc::default();
    let g = got.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(conn) = conn else { continue };
            let g = g.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut w = conn;
                // Keep-alive: several requests per connection.
                loop {
                    let mut headers = HashMap::new();
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = l.split_once(':') {
                            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                        }
                    }
                    let n: usize = headers
                        .get("content-length")
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; n];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    let ct = headers.get("content-type").cloned().unwrap_or_default();
                    g.lock().unwrap().push((ct.clone(), body));
                    let reply: &[u8] = if ct.contains("json") { b"{}" } else { b"" };
                    let _ = write!(
                        w,
                        "HTTP/1.1 {status} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n",
                        reply.len()
                    );
                    let _ = w.write_all(reply);
                }
            });
        }
    });
    (addr, got)
}

/// The same input through `phiscrub scrub` with the test key.
fn cli_scrub(format: &str, input: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.key");
    std::fs::write(&key, common::KEY).unwrap();
    let k = key.to_str().unwrap();
    let out = common::run(&["scrub", "--format", format, "--key-file", k, "-q"], input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn ndjson_batch(n: usize) -> Vec<u8> {
    let mut b = Vec::new();
    for i in 0..n {
        b.extend_from_slice(
            format!(
                "{{\"ts\":\"2026-12-01T07:00:{:02}Z\",\"level\":\"info\",\"msg\":\"patient ssn 536-22-8726 mailed jane.roe@mercy-health.org\",\"client\":{{\"ip\":\"73.162.14.9\",\"phone\":\"(312) 447-2291\"}},\"n\":{i}}}\n",
                i % 60
            )
            .as_bytes(),
        );
    }
    b
}

#[test]
fn scrub_endpoint_matches_the_cli_in_every_shape() {
    let s = Server::start(&[]);
    let ndjson = ndjson_batch(20);
    let array = format!(
        "[{}]",
        String::from_utf8_lossy(&ndjson)
            .trim_end()
            .replace('\n', ",")
    );
    let text = b"2026-12-01 INFO Patient ssn=536-22-8726 phone (312) 447-2291 from 73.162.14.9\nnothing here\n";
    for (ctype, body, format) in [
        ("application/x-ndjson", ndjson.clone(), "jsonl"),
        ("application/json", array.clone().into_bytes(), "json"),
        ("text/plain; charset=utf-8", text.to_vec(), "text"),
        // Fluent Bit's json_lines says application/json: one document or NDJSON, both work.
        ("application/json", ndjson.clone(), "jsonl"),
    ] {
        let r = s.post("/v1/scrub", ctype, &body);
        assert_eq!(r.status, 200, "{ctype}: {}", r.text());
        assert_eq!(r.headers["content-type"], ctype);
        assert_eq!(
            r.body,
            cli_scrub(format, &body),
            "{ctype}: tokens as phiscrub scrub writes them"
        );
        assert_no_leak(ctype, &r.body);
    }
    // gzip-compressed (Vector's and Fluent Bit's `compression`/`compress gzip`).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&ndjson).unwrap();
    let gz = gz.finish().unwrap();
    let auth = format!("Bearer {TOKEN}");
    let h = [
        ("Content-Type", "application/x-ndjson"),
        ("Content-Encoding", "gzip"),
        ("Authorization", auth.as_str()),
    ];
    let r = request(s.addr, "POST", "/v1/scrub", &h, &gz);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, cli_scrub("jsonl", &ndjson));
    let h = [("Content-Encoding", "br"), ("Authorization", auth.as_str())];
    assert_eq!(request(s.addr, "POST", "/v1/scrub", &h, &gz).status, 415);
    // Same shape: an array of as many events, in order, each with its own fields.
    let r = s.post("/v1/scrub", "application/json", array.as_bytes());
    let v = r.json();
    let events = v.as_array().unwrap();
    assert_eq!(events.len(), 20);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["n"], i);
        assert_eq!(e["level"], "info");
    }
    // Malformed JSON: 400 naming the place, never the data.
    let r = s.post(
        "/v1/scrub",
        "application/x-ndjson",
        b"{\"ok\":1}\n{\"ssn\":\"536-22-8726\"\n",
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("line 2"), "{}", r.text());
    assert_no_leak("400", &r.body);
    let h = request(s.addr, "GET", "/health", &[], b"");
    assert_eq!((h.status, h.text().as_str()), (200, "ok\n"));
    let nf = request(s.addr, "GET", "/patients/536-22-8726", &[], b"");
    assert_eq!(nf.status, 404);
    let m = request(
        s.addr,
        "GET",
        "/v1/scrub",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        b"",
    );
    assert_eq!(m.status, 405);
    assert_no_leak("server log", s.log().as_bytes());
    assert!(s.log().contains("POST /v1/scrub 200"), "{}", s.log());
    assert!(
        s.log().contains("GET other 404"),
        "unknown paths are not logged: {}",
        s.log()
    );
}

#[test]
fn auth_is_required_except_for_health() {
    let s = Server::start(&[]);
    for path in ["/v1/scrub", "/v1/logs", "/analyze", "/anonymize"] {
        for auth in [
            None,
            Some("Bearer wrong-token-0123456789abcdef"),
            Some(TOKEN),
            Some("Basic abc"),
        ] {
            let mut h = vec![("Content-Type", "text/plain")];
            if let Some(a) = auth {
                h.push(("Authorization", a));
            }
            let r = request(s.addr, "POST", path, &h, b"ssn 536-22-8726");
            assert_eq!(r.status, 401, "{path} {auth:?}");
            assert_eq!(r.headers["www-authenticate"], "Bearer");
            assert_no_leak("401", &r.body);
        }
    }
    assert_eq!(request(s.addr, "GET", "/metrics", &[], b"").status, 401);
    assert_eq!(request(s.addr, "GET", "/health", &[], b"").status, 200);
    // Without any token configured, serve refuses to start unless told --no-auth.
    let out = Command::new(env!("CARGO_BIN_EXE_phiscrub"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("PHISCRUB_AUTH_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a bearer token"));
}

#[test]
fn oversized_bodies_get_413() {
    let s = Server::start(&["--max-body", "1K"]);
    let big = vec![b'a'; 4096];
    let r = s.post("/v1/scrub", "text/plain", &big);
    assert_eq!(r.status, 413, "by Content-Length");
    // Chunked, no length announced: refused once the limit is crossed.
    let mut c = connect(s.addr);
    let auth = format!("Bearer {TOKEN}");
    c.write_all(&head(
        "POST",
        "/v1/scrub",
        &[("Authorization", &auth), ("Content-Type", "text/plain")],
        None,
    ))
    .unwrap();
    for _ in 0..8 {
        let _ = c.write_all(b"200\r\n");
        let _ = c.write_all(&[b'b'; 512]);
        let _ = c.write_all(b"\r\n");
    }
    let _ = c.write_all(b"0\r\n\r\n");
    assert_eq!(read_response(&mut c).status, 413, "chunked");
    let ok = s.post("/v1/scrub", "text/plain", &big[..1000]);
    assert_eq!(ok.status, 200);
}

/// Starts a POST whose body is only half sent; it holds its place in the queue.
fn half_sent(addr: SocketAddr, body: &[u8]) -> TcpStream {
    let mut c = connect(addr);
    let auth = format!("Bearer {TOKEN}");
    c.write_all(&head(
        "POST",
        "/v1/scrub",
        &[("Authorization", &auth), ("Content-Type", "text/plain")],
        Some(body.len()),
    ))
    .unwrap();
    c.write_all(&body[..body.len() / 2]).unwrap();
    c.flush().unwrap();
    c
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let s = Server::start(&["--queue", "2", "--threads", "1"]);
    let body = b"ssn 536-22-8726 and more text\n".repeat(20);
    let mut held: Vec<TcpStream> = (0..2).map(|_| half_sent(s.addr, &body)).collect();
    // Both places are taken once the server has read their headers.
    let t = Instant::now();
    let refused = loop {
        let r = s.post("/v1/scrub", "text/plain", b"x");
        if r.status == 503 || t.elapsed() > Duration::from_secs(10) {
            break r;
        }
        assert_eq!(r.status, 200);
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(refused.status, 503);
    assert_eq!(refused.headers["retry-after"], "1");
    for c in &mut held {
        c.write_all(&body[body.len() / 2..]).unwrap();
    }
    for c in &mut held {
        let r = read_response(c);
        assert_eq!(r.status, 200);
        assert_no_leak("held", &r.body);
    }
    // A flood with the tiny queue: every answer is a scrub or a 503, never a hang or a crash.
    let big = ndjson_batch(300);
    let addr = s.addr;
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let b = big.clone();
            std::thread::spawn(move || {
                let auth = format!("Bearer {TOKEN}");
                request(
                    addr,
                    "POST",
                    "/v1/scrub",
                    &[
                        ("Authorization", &auth),
                        ("Content-Type", "application/x-ndjson"),
                    ],
                    &b,
                )
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in threads {
        let r = t.join().unwrap();
        assert!(matches!(r.status, 200 | 503), "{}", r.status);
        assert_no_leak("flood", &r.body);
        statuses.push(r.status);
    }
    assert!(statuses.contains(&200), "{statuses:?}");
    let m = request(
        s.addr,
        "GET",
        "/metrics",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        b"",
    );
    let busy: u64 = m
        .text()
        .lines()
        .find_map(|l| l.strip_prefix("phiscrub_busy_total "))
        .unwrap()
        .parse()
        .unwrap();
    let refused_503 = statuses.iter().filter(|&&s| s == 503).count() as u64;
    assert_eq!(busy, 1 + refused_503, "every 503 is counted");
    assert_eq!(
        s.post("/v1/scrub", "text/plain", b"x").status,
        200,
        "still serving"
    );
}

#[test]
fn a_slow_body_times_out_with_408() {
    let s = Server::start(&["--request-timeout", "1"]);
    let mut c = half_sent(s.addr, &[b'z'; 100]);
    let r = read_response(&mut c);
    assert_eq!(r.status, 408);
}

#[test]
fn shutdown_finishes_requests_in_flight() {
    let mut s = Server::start(&[]);
    let body = b"Patient ssn 536-22-8726 mailed jane.roe@mercy-health.org\n".repeat(50);
    let mut c = half_sent(s.addr, &body);
    std::thread::sleep(Duration::from_millis(200));
    s.terminate();
    // New connections are refused once the signal is handled.
    let t = Instant::now();
    while TcpStream::connect(s.addr).is_ok() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "still accepting after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    c.write_all(&body[body.len() / 2..]).unwrap();
    let r = read_response(&mut c);
    assert_eq!(r.status, 200, "the request in flight completes");
    assert_eq!(r.body, cli_scrub("text", &body));
    assert_eq!(s.wait(Duration::from_secs(20)), Some(0));
    assert!(s.log().contains("shutting down"), "{}", s.log());
    assert_no_leak("server log", s.log().as_bytes());
}

#[test]
fn presidio_analyze_and_anonymize() {
    let s = Server::start(&[]);
    let text = "Dr. Jane Roe, ssn 536-22-8726, é call (312) 447-2291 or jane.roe@mercy-health.org";
    let req = serde_json::json!({"text": text, "language": "en"});
    let r = s.post("/analyze", "application/json", req.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_no_leak("analyze", &r.body);
    let results = r.json();
    let chars: Vec<char> = text.chars().collect();
    let mut types = Vec::new();
    for f in results.as_array().unwrap() {
        let (a, b) = (
            f["start"].as_u64().unwrap() as usize,
            f["end"].as_u64().unwrap() as usize,
        );
        let span: String = chars[a..b].iter().collect();
        let t = f["entity_type"].as_str().unwrap().to_string();
        match t.as_str() {
            "US_SSN" => assert_eq!(span, "536-22-8726"),
            "PHONE_NUMBER" => assert_eq!(span, "(312) 447-2291"),
            "EMAIL_ADDRESS" => assert_eq!(span, "jane.roe@mercy-health.org"),
            _ => {}
        }
        assert!(f["score"].as_f64().unwrap() > 0.0);
        types.push(t);
    }
    for t in ["US_SSN", "PHONE_NUMBER", "EMAIL_ADDRESS"] {
        assert!(types.iter().any(|x| x == t), "{t} in {types:?}");
    }
    // entities and score_threshold filter.
    let req = serde_json::json!({"text": text, "language": "en", "entities": ["US_SSN"], "score_threshold": 0.5});
    let only = s
        .post("/analyze", "application/json", req.to_string().as_bytes())
        .json();
    assert!(only
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["entity_type"] == "US_SSN"));
    assert_eq!(only.as_array().unwrap().len(), 1);
    let req = serde_json::json!({"text": text, "language": "de"});
    assert_eq!(
        s.post("/analyze", "application/json", req.to_string().as_bytes())
            .status,
        400
    );
    // A type error in the request: 400, and serde's message (which quotes values) is not used.
    let r = s.post(
        "/analyze",
        "application/json",
        br#"{"text": 536228726, "language": "en"}"#,
    );
    assert_eq!(r.status, 400);
    assert_no_leak("analyze 400", &r.body);

    // Anonymize what analyze found, Presidio-style.
    let req = serde_json::json!({
        "text": text,
        "analyzer_results": results,
        "anonymizers": {"DEFAULT": {"type": "replace"}, "PHONE_NUMBER": {"type": "mask", "masking_char": "#", "chars_to_mask": 14}, "US_SSN": {"type": "hash"}},
    });
    let r = s.post("/anonymize", "application/json", req.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_no_leak("anonymize", &r.body);
    let v = r.json();
    let out = v["text"].as_str().unwrap();
    assert!(out.contains("<EMAIL_ADDRESS>"), "{out}");
    assert!(out.contains("##############"), "{out}");
    let ssn_token = String::from_utf8(cli_scrub("text", b"ssn 536-22-8726")).unwrap();
    let out_chars: Vec<char> = out.chars().collect();
    for item in v["items"].as_array().unwrap() {
        let (a, b) = (
            item["start"].as_u64().unwrap() as usize,
            item["end"].as_u64().unwrap() as usize,
        );
        let span: String = out_chars[a..b].iter().collect();
        assert_eq!(
            span,
            item["text"].as_str().unwrap(),
            "items give places in the new text"
        );
        if item["entity_type"] == "US_SSN" {
            assert_eq!(item["operator"], "hash");
            assert!(span.starts_with("SSN_"), "{span}");
        }
    }
    // The keyed hash is stable across requests.
    let again = s
        .post("/anonymize", "application/json", req.to_string().as_bytes())
        .json();
    assert_eq!(again["text"], v["text"]);
    assert!(!ssn_token.contains("536-22-8726"));
    // Offsets out of the text, and operators that would return the value, are refused.
    for bad in [
        serde_json::json!({"text": "abc", "analyzer_results": [{"start": 1, "end": 9, "entity_type": "X", "score": 1.0}]}),
        serde_json::json!({"text": "ssn 536-22-8726", "analyzer_results": [{"start": 4, "end": 15, "entity_type": "US_SSN", "score": 1.0}], "anonymizers": {"DEFAULT": {"type": "keep"}}}),
    ] {
        let r = s.post("/anonymize", "application/json", bad.to_string().as_bytes());
        assert_eq!(r.status, 400, "{}", r.text());
        assert_no_leak("anonymize 400", &r.body);
    }
    assert_no_leak("server log", s.log().as_bytes());
}

#[test]
fn metrics_count_requests_bytes_findings_and_latency() {
    let s = Server::start(&[]);
    let body = ndjson_batch(3);
    assert_eq!(
        s.post("/v1/scrub", "application/x-ndjson", &body).status,
        200
    );
    let auth = format!("Bearer {TOKEN}");
    let m = request(s.addr, "GET", "/metrics", &[("Authorization", &auth)], b"");
    assert_eq!(m.status, 200);
    assert!(m.headers["content-type"].starts_with("text/plain; version=0.0.4"));
    let text = m.text();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
            .parse()
            .unwrap()
    };
    assert_eq!(
        value("phiscrub_requests_total{route=\"/v1/scrub\",status=\"200\"}"),
        1.0
    );
    assert_eq!(
        value("phiscrub_request_bytes_total{route=\"/v1/scrub\"}"),
        body.len() as f64
    );
    assert_eq!(value("phiscrub_findings_total{entity=\"SSN\"}"), 3.0);
    assert_eq!(value("phiscrub_findings_total{entity=\"EMAIL\"}"), 3.0);
    assert_eq!(
        value("phiscrub_request_duration_seconds_count{route=\"/v1/scrub\"}"),
        1.0
    );
    assert_eq!(
        value("phiscrub_request_duration_seconds_bucket{route=\"/v1/scrub\",le=\"+Inf\"}"),
        1.0
    );
    assert_no_leak("metrics", &m.body);
}

fn pb(num: u64, payload: &[u8]) -> Vec<u8> {
    fn varint(mut v: u64, o: &mut Vec<u8>) {
        while v >= 0x80 {
            o.push((v as u8) | 0x80);
            v >>= 7;
        }
        o.push(v as u8);
    }
    let mut o = Vec::new();
    varint((num << 3) | 2, &mut o);
    varint(payload.len() as u64, &mut o);
    o.extend_from_slice(payload);
    o
}

fn pb_kv(key: &str, s: &str) -> Vec<u8> {
    [pb(1, key.as_bytes()), pb(2, &pb(1, s.as_bytes()))].concat()
}

/// An ExportLogsServiceRequest with one record: body, attributes, resource attributes.
fn pb_request(body: &str, ssn: &str, ip: &str) -> Vec<u8> {
    let mut record = vec![0x09, 0, 0, 0, 0, 0, 0, 0, 1];
    record.extend(pb(5, &pb(1, body.as_bytes())));
    record.extend(pb(6, &pb_kv("patient.ssn", ssn)));
    let scope = [pb(1, &pb(1, b"app")), pb(2, &record)].concat();
    let resource = pb(1, &pb_kv("host.ip", ip));
    pb(1, &[pb(1, &resource), pb(2, &scope)].concat())
}

#[test]
fn otlp_logs_are_scrubbed_and_forwarded() {
    let (up, got) = stub_upstream(200);
    let url = format!("http://{up}/v1/logs");
    let s = Server::start(&["--otlp-upstream", &url]);
    let json = serde_json::json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "host.ip", "value": {"stringValue": "73.162.14.9"}}]},
        "scopeLogs": [{"logRecords": [{
            "timeUnixNano": "1764572400000000000",
            "body": {"stringValue": "patient ssn 536-22-8726 mailed jane.roe@mercy-health.org"},
            "attributes": [{"key": "contact", "value": {"kvlistValue": {"values": [
                {"key": "phone", "value": {"stringValue": "(312) 447-2291"}}]}}}]}]}]}]});
    let r = s.post("/v1/logs", "application/json", json.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let proto = pb_request(
        "ssn 536-22-8726 mailed jane.roe@mercy-health.org",
        "536-22-8726",
        "73.162.14.9",
    );
    let r = s.post("/v1/logs", "application/x-protobuf", &proto);
    assert_eq!(r.status, 200, "{}", r.text());
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    let (ct, body) = &got[0];
    assert_eq!(ct, "application/json");
    assert_no_leak("upstream JSON", body);
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    let lr = &v["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
    assert_eq!(lr["timeUnixNano"], "1764572400000000000");
    let scrubbed_body = lr["body"]["stringValue"].as_str().unwrap();
    // The same tokens `phiscrub scrub` gives the same text.
    let cli = cli_scrub(
        "text",
        b"patient ssn 536-22-8726 mailed jane.roe@mercy-health.org",
    );
    assert_eq!(scrubbed_body.as_bytes(), &cli[..]);
    let (ct, body) = &got[1];
    assert_eq!(ct, "application/x-protobuf");
    assert_no_leak("upstream protobuf", body);
    let cli_body = String::from_utf8(cli_scrub(
        "text",
        b"ssn 536-22-8726 mailed jane.roe@mercy-health.org",
    ))
    .unwrap();
    assert!(
        body.windows(cli_body.len())
            .any(|w| w == cli_body.as_bytes()),
        "protobuf body scrubbed like the CLI"
    );
    // Unknown OTLP content type, bad protobuf.
    assert_eq!(s.post("/v1/logs", "text/plain", b"x").status, 415);
    let r = s.post(
        "/v1/logs",
        "application/x-protobuf",
        &proto[..proto.len() - 3],
    );
    assert_eq!(r.status, 400);
    assert_no_leak("400", &r.body);
    assert_no_leak("server log", s.log().as_bytes());
}

#[test]
fn otlp_without_upstream_returns_the_scrubbed_request_and_upstream_errors_are_502() {
    let s = Server::start(&[]);
    let proto = pb_request(
        "mail jane.roe@mercy-health.org",
        "536-22-8726",
        "73.162.14.9",
    );
    let r = s.post("/v1/logs", "application/x-protobuf", &proto);
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/x-protobuf");
    assert_no_leak("returned", &r.body);
    assert!(r
        .body
        .windows(7)
        .any(|w| w == b"[EMAIL]" || w.starts_with(b"EMAIL_")));
    drop(s);
    let (up, got) = stub_upstream(500);
    let s = Server::start(&["--otlp-upstream", &format!("http://{up}/v1/logs")]);
    let r = s.post("/v1/logs", "application/x-protobuf", &proto);
    assert_eq!(r.status, 502);
    assert_eq!(got.lock().unwrap().len(), 1);
    drop(s);
    // Nothing listens there.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let s = Server::start(&["--otlp-upstream", &format!("http://{dead}/v1/logs")]);
    assert_eq!(
        s.post("/v1/logs", "application/x-protobuf", &proto).status,
        502
    );
}

#[test]
fn tls_with_a_self_signed_certificate() {
    let (Ok(_), Ok(_)) = (
        Command::new("openssl").arg("version").output(),
        Command::new("curl").arg("--version").output(),
    ) else {
        println!("skipping: openssl or curl not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let ok = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // A key file that holds no key: exit 2, naming the file, quoting none of it.
    let junk = dir.path().join("junk.pem");
    std::fs::write(
        &junk,
        "-----BEGIN PRIVATE KEY-----\n536-22-8726\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_phiscrub"))
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&junk)
        .env("PHISCRUB_AUTH_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("junk.pem"), "{err}");
    assert_no_leak("TLS error", &out.stderr);
    let s = Server::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(s.log().contains("https://"));
    let port = s.addr.port();
    let out = Command::new("curl")
        .args([
            "-sS",
            "--cacert",
            cert.to_str().unwrap(),
            "--resolve",
            &format!("localhost:{port}:127.0.0.1"),
        ])
        .args([
            "-H",
            &format!("Authorization: Bearer {TOKEN}"),
            "-H",
            "Content-Type: text/plain",
        ])
        .args([
            "--data-binary",
            "ssn 536-22-8726",
            &format!("https://localhost:{port}/v1/scrub"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, cli_scrub("text", b"ssn 536-22-8726"));
    // Plain HTTP on the TLS port gets nothing useful.
    let mut c = connect(s.addr);
    c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let _ = c.write_all(&head("GET", "/health", &[], Some(0)));
    let mut raw = Vec::new();
    let _ = c.read_to_end(&mut raw);
    assert!(!raw.starts_with(b"HTTP/1.1 200"));
}

/// A venv with the OpenTelemetry SDK and OTLP/HTTP exporter, made once under `target/`.
fn otel_venv() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("otel-venv");
    let py = dir.join("bin").join("python");
    let check = |py: &Path| {
        Command::new(py)
            .args(["-c", "import opentelemetry.sdk._logs, opentelemetry.exporter.otlp.proto.http._log_exporter"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if check(&py) {
        return Some(py);
    }
    let made = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&dir)
        .output();
    if !made.is_ok_and(|o| o.status.success()) {
        println!("skipping: python3 -m venv failed");
        return None;
    }
    let pip = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "opentelemetry-sdk",
            "opentelemetry-exporter-otlp-proto-http",
        ])
        .output();
    match pip {
        Ok(o) if o.status.success() && check(&py) => Some(py),
        Ok(o) => {
            println!(
                "skipping: pip could not install the OpenTelemetry packages: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            None
        }
        Err(e) => {
            println!("skipping: pip did not run: {e}");
            None
        }
    }
}

const OTEL_SCRIPT: &str = r#"
import logging, sys
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

from opentelemetry.exporter.otlp.proto.http import Compression

endpoint, token, compression = sys.argv[1], sys.argv[2], sys.argv[3]
provider = LoggerProvider(resource=Resource.create({"service.name": "intake", "host.ip": "73.162.14.9"}))
exporter = OTLPLogExporter(endpoint=endpoint, headers={"Authorization": "Bearer " + token},
                           compression=Compression.Gzip if compression == "gzip" else Compression.NoCompression)
provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
log = logging.getLogger("intake")
log.setLevel(logging.INFO)
log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))
log.info("patient ssn 536-22-8726 mailed jane.roe@mercy-health.org", extra={"patient.ssn": "536-22-8726", "caller.phone": "(312) 447-2291"})
log.warning("callback to (312) 447-2291 for ann.lee@example-clinic.com")
provider.force_flush()
provider.shutdown()
print("sent")
"#;

#[test]
fn a_real_opentelemetry_exporter_through_phiscrub() {
    let Some(py) = otel_venv() else {
        return;
    };
    let (up, got) = stub_upstream(200);
    let s = Server::start(&["--otlp-upstream", &format!("http://{up}/v1/logs")]);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("emit.py");
    std::fs::write(&script, OTEL_SCRIPT).unwrap();
    // Uncompressed (the Python default) and gzip (the Collector's default).
    for compression in ["none", "gzip"] {
        let out = Command::new(&py)
            .arg(&script)
            .arg(format!("http://{}/v1/logs", s.addr))
            .arg(TOKEN)
            .arg(compression)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && out.stdout.starts_with(b"sent"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("Failed to export"),
            "{compression}: {stderr}"
        );
    }
    let got = got.lock().unwrap().clone();
    assert_eq!(
        got.len(),
        4,
        "one export per record (SimpleLogRecordProcessor), twice"
    );
    for (ct, body) in &got {
        assert_eq!(ct, "application/x-protobuf");
        assert_no_leak("upstream", body);
    }
    let all: Vec<u8> = got.iter().flat_map(|(_, b)| b.clone()).collect();
    let has = |s: &[u8]| all.windows(s.len()).any(|w| w == s);
    // The records arrived, scrubbed: their kept words and the service name are there.
    assert!(has(b"mailed") && has(b"callback to") && has(b"intake"));
    let cli = cli_scrub(
        "text",
        b"patient ssn 536-22-8726 mailed jane.roe@mercy-health.org",
    );
    assert!(has(&cli), "body tokens match phiscrub scrub");
    assert!(
        has(b"service.name\x12\x08\x0a\x06intake"),
        "service.name is scanned as text, not replaced as a person's name"
    );
    assert!(
        has(b"patient.ssn") && has(b"caller.phone"),
        "attribute keys kept"
    );
    assert_no_leak("server log", s.log().as_bytes());
}

#[test]
fn scrubbed_batches_are_forwarded_with_scrub_upstream() {
    let (up, got) = stub_upstream(200);
    let s = Server::start(&["--scrub-upstream", &format!("http://{up}/ingest")]);
    let batch = ndjson_batch(5);
    let r = s.post("/v1/scrub", "application/x-ndjson", &batch);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_no_leak("reply", &r.body);
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "application/x-ndjson");
    assert_eq!(got[0].1, cli_scrub("jsonl", &batch));
    drop(s);
    let (up, _) = stub_upstream(503);
    let s = Server::start(&["--scrub-upstream", &format!("http://{up}/ingest")]);
    assert_eq!(s.post("/v1/scrub", "text/plain", b"x").status, 502);
}

#[test]
fn subject_column_shifts_dates_as_the_cli_does() {
    let s = Server::start(&["--subject-column", "patient_id"]);
    let batch = b"{\"patient_id\":\"P-1001\",\"admit_date\":\"2026-03-04\",\"note\":\"ssn 536-22-8726\"}\n{\"patient_id\":\"P-2002\",\"admit_date\":\"2026-03-04\"}\n";
    let r = s.post("/v1/scrub", "application/x-ndjson", batch);
    assert_eq!(r.status, 200, "{}", r.text());
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.key");
    std::fs::write(&key, common::KEY).unwrap();
    let k = key.to_str().unwrap();
    let args = [
        "scrub",
        "--format",
        "jsonl",
        "--key-file",
        k,
        "-q",
        "--subject-column",
        "patient_id",
    ];
    let cli = common::run(&args, batch);
    assert!(cli.status.success());
    assert_eq!(r.body, cli.stdout);
    assert_no_leak("subject", &r.body);
    let plain = cli_scrub("jsonl", batch);
    assert_ne!(
        r.body, plain,
        "per-subject shifts differ from the global one"
    );
}
