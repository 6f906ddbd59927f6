//! JSON lines and JSON documents through the binary: key paths as fields, structure and
//! untouched bytes kept, identifier numbers handled, consistent tokens, clear errors on
//! malformed input with nothing left behind. All data is synthetic.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

mod common;
use common::{run, KEY};

fn ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const LINE1: &str = r#"{"patient": {"name": "Jane Doe", "ssn": "536-22-8726", "mrn": 4482913}, "contacts": [{"phone": "(312) 447-2291"}], "note": "called Dr. Okafor", "count": 3, "ok": true, "x": null}"#;
const LINE2: &str = r#"{"patient": {"name": "Ren\u00e9e Dupont", "ssn": 219456789}, "note": "Jos\u00e9 \"JD\" called (773) 274-6185", "visits": [1, 2.5, -3e2]}"#;
const LINE3: &str = r#"{"status":  "ok", "count": 12, "tags": ["a", "b"], "nested": {"deep": [[]]}, "uni": "caf\u00e9"}"#;

/// Three records with CRLF terminators: nested objects and arrays, `\u` escapes, and a line
/// with nothing to change.
fn records() -> Vec<u8> {
    format!("{LINE1}\r\n{LINE2}\r\n{LINE3}\r\n").into_bytes()
}

const PLANTED: &[&str] = &[
    "Jane Doe",
    "536-22-8726",
    "4482913",
    "447-2291",
    "Okafor",
    "Ren\\u00e9e",
    "Renée",
    "Dupont",
    "219456789",
    "274-6185",
];

/// Same keys, same array lengths, same scalar types except identifier numbers (which may turn
/// into strings); numbers elsewhere equal.
fn same_shape(before: &Value, after: &Value, path: &str, identifiers: &[&str]) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let bk: Vec<&String> = b.keys().collect();
            let ak: Vec<&String> = a.keys().collect();
            assert_eq!(bk, ak, "keys of {path}");
            for (k, v) in b {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                same_shape(v, &a[k], &p, identifiers);
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            assert_eq!(b.len(), a.len(), "length of {path}");
            for (x, y) in b.iter().zip(a) {
                same_shape(x, y, &format!("{path}[]"), identifiers);
            }
        }
        (Value::Number(_), _) if identifiers.contains(&path) => {
            assert!(a_scalar(after), "{path}");
        }
        (Value::Number(_), _) | (Value::Bool(_), _) | (Value::Null, _) => {
            assert_eq!(before, after, "{path} unchanged");
        }
        (Value::String(_), Value::String(_)) => {}
        _ => panic!("{path}: {before} became {after}"),
    }
}

fn a_scalar(v: &Value) -> bool {
    v.is_string() || v.is_number()
}

fn key_file(dir: &Path) -> String {
    let key = dir.join("k");
    std::fs::write(&key, KEY).unwrap();
    key.to_str().unwrap().to_string()
}

#[test]
fn scrub_keeps_structure_and_untouched_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("records.jsonl");
    std::fs::write(&src, records()).unwrap();
    let out = dir.path().join("out.jsonl");
    let k = key_file(dir.path());
    let res = run(
        &[
            "scrub",
            "--quiet",
            "--key-file",
            &k,
            src.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        b"",
    );
    ok(&res);
    let bytes = std::fs::read(&out).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    for v in PLANTED {
        assert!(!text.contains(v), "{v} survived:\n{text}");
    }
    assert_eq!(
        bytes.windows(2).filter(|w| w == b"\r\n").count(),
        3,
        "CRLF terminators kept"
    );
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 3);
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[3], "");
    assert_eq!(lines[2], LINE3, "the untouched line is byte-identical");
    let ids = ["patient.ssn", "patient.mrn"];
    for (before, after) in [LINE1, LINE2, LINE3].iter().zip(&lines) {
        let b: Value = serde_json::from_str(before).unwrap();
        let a: Value = serde_json::from_str(after).unwrap();
        same_shape(&b, &a, "", &ids);
    }
    let l1: Value = serde_json::from_str(lines[0]).unwrap();
    let l2: Value = serde_json::from_str(lines[1]).unwrap();
    // an SSN shaped into digits stays a number; an MRN token becomes a string
    assert!(l2["patient"]["ssn"].is_u64(), "{}", l2["patient"]["ssn"]);
    assert!(l2["patient"]["ssn"].to_string().starts_with('9'));
    assert!(l1["patient"]["mrn"].as_str().unwrap().starts_with("MRN_"));
    // text around findings stays, quotes inside strings are re-escaped
    assert!(l1["note"].as_str().unwrap().starts_with("called Dr. "));
    let note2 = l2["note"].as_str().unwrap();
    assert!(note2.starts_with("José \"JD\" called ("), "{note2}");
    assert!(
        lines[1].contains(r#""Jos\u00e9 \"JD\" called ("#),
        "an ASCII-escaped string stays ASCII: {}",
        lines[1]
    );
    // everything outside the changed values is as it was
    assert!(lines[0].starts_with(r#"{"patient": {"name": ""#));
    assert!(lines[0].ends_with(r#""count": 3, "ok": true, "x": null}"#));
    assert!(lines[1].ends_with(r#""visits": [1, 2.5, -3e2]}"#));
}

#[test]
fn scan_reports_key_paths_and_line_rows() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("records.jsonl");
    let data = records();
    std::fs::write(&src, &data).unwrap();
    let res = run(
        &[
            "scan",
            "--quiet",
            "--report",
            "jsonl",
            src.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(res.status.code(), Some(1));
    let text = String::from_utf8(res.stdout).unwrap();
    for v in PLANTED {
        assert!(!text.contains(v));
    }
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |field: &str, row: u64| {
        rows.iter()
            .find(|v| v["field"] == field && v["row"] == row)
            .unwrap_or_else(|| panic!("no {field} in row {row}: {text}"))
    };
    let slice = |v: &Value| {
        let (s, e) = (
            v["start"].as_u64().unwrap() as usize,
            v["end"].as_u64().unwrap() as usize,
        );
        data[s..e].to_vec()
    };
    let ssn = find("patient.ssn", 1);
    assert_eq!(ssn["entity"], "SSN");
    assert_eq!(ssn["line"], 1);
    assert_eq!(slice(ssn), b"536-22-8726");
    assert_eq!(
        ssn["column"].as_u64().unwrap(),
        ssn["start"].as_u64().unwrap() + 1
    );
    let phone = find("contacts[].phone", 1);
    assert_eq!(phone["entity"], "PHONE");
    assert_eq!(slice(phone), b"(312) 447-2291");
    assert_eq!(slice(find("patient.mrn", 1)), b"4482913");
    // the second record: row and line 2, a number SSN, positions exact past escapes
    let ssn2 = find("patient.ssn", 2);
    assert_eq!(ssn2["line"], 2);
    assert_eq!(slice(ssn2), b"219456789");
    let phone2 = rows
        .iter()
        .find(|v| v["entity"] == "PHONE" && v["row"] == 2)
        .unwrap();
    assert_eq!(phone2["field"], "note");
    assert_eq!(slice(phone2), b"(773) 274-6185");
    assert_eq!(slice(find("patient.name", 2)), br"Ren\u00e9e Dupont");
    // kept and clean paths say nothing
    assert!(rows.iter().all(|v| v["row"] != 3));
    assert!(rows.iter().all(|v| v["field"] != "count"));
}

#[test]
fn malformed_json_is_a_clear_error_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (name, data, want) in [
        (
            "comma.jsonl",
            &b"{\"a\": 1}\n\n{\"ssn\": \"536-22-8726\",}\n{\"b\": 2}\n"[..],
            "line 3",
        ),
        (
            "utf8.jsonl",
            b"{\"a\": 1}\n{\"ssn\": \"536-22-8726 \xff\"}\n",
            "line 2",
        ),
        (
            "open.jsonl",
            b"{\"ssn\": \"536-22-8726\"\n{\"b\": 2}\n",
            "line 1",
        ),
        (
            "two.json",
            b"{\"ssn\": \"536-22-8726\"}\n{\"b\": 2}\n",
            "line 2",
        ),
    ] {
        let src = dir.path().join(name);
        std::fs::write(&src, data).unwrap();
        let out = dir.path().join(format!("out-{name}"));
        let res = run(
            &[
                "scrub",
                "--quiet",
                src.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
            b"",
        );
        assert_eq!(res.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&res.stderr);
        assert!(
            err.contains(name) && err.contains(want) && err.contains("byte"),
            "{name}: {err}"
        );
        assert!(!err.contains("536"), "no value in errors: {err}");
        assert!(!out.exists(), "no partial output for {name}");
    }
    // empty input and blank lines pass through
    for data in [&b""[..], b"\n\r\n  \n"] {
        let res = run(&["scrub", "--quiet", "--format", "jsonl"], data);
        ok(&res);
        assert_eq!(res.stdout, data);
    }
}

#[test]
fn a_pretty_printed_document_works_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let recs: Vec<Value> = [LINE1, LINE2, LINE3]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let pretty = serde_json::to_string_pretty(&recs).unwrap() + "\n";
    // `--format json` on a file whose name says nothing, and a `.json` by its name
    let src = dir.path().join("records.data");
    std::fs::write(&src, &pretty).unwrap();
    let named = dir.path().join("records.json");
    std::fs::write(&named, &pretty).unwrap();
    let k = key_file(dir.path());
    let res = run(
        &[
            "scrub",
            "--quiet",
            "--key-file",
            &k,
            "--format",
            "json",
            src.to_str().unwrap(),
        ],
        b"",
    );
    ok(&res);
    let text = String::from_utf8(res.stdout).unwrap();
    for v in PLANTED {
        assert!(!text.contains(v), "{v} survived:\n{text}");
    }
    assert_eq!(text.lines().count(), pretty.lines().count(), "layout kept");
    let after: Value = serde_json::from_str(&text).unwrap();
    same_shape(
        &Value::Array(recs.clone()),
        &after,
        "",
        &["[].patient.ssn", "[].patient.mrn"],
    );
    assert!(after[1]["patient"]["ssn"].is_u64());
    // the same tokens as the JSON-lines form of the same data
    let lines = dir.path().join("records.jsonl");
    std::fs::write(&lines, records()).unwrap();
    let res = run(
        &[
            "scrub",
            "--quiet",
            "--key-file",
            &k,
            lines.to_str().unwrap(),
        ],
        b"",
    );
    ok(&res);
    let from_lines: Vec<Value> = String::from_utf8(res.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(Value::Array(from_lines), after);
    // reports: record-relative key paths, the record as row, lines of the document
    let res = run(
        &[
            "scan",
            "--quiet",
            "--report",
            "jsonl",
            named.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(res.status.code(), Some(1));
    let rows: Vec<Value> = String::from_utf8(res.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ssn2 = rows
        .iter()
        .find(|v| v["field"] == "patient.ssn" && v["row"] == 2)
        .unwrap();
    let (s, e) = (
        ssn2["start"].as_u64().unwrap() as usize,
        ssn2["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&pretty.as_bytes()[s..e], b"219456789");
    let line = 1 + pretty[..s].matches('\n').count() as u64;
    assert_eq!(ssn2["line"], line);
    assert!(rows.iter().any(|v| v["field"] == "contacts[].phone"));
}

#[test]
fn same_value_same_token_in_jsonl_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let k = key_file(dir.path());
    let policy = dir.path().join("p.toml");
    std::fs::write(&policy, "[entities]\nSSN = \"token\"\n").unwrap();
    let p = policy.to_str().unwrap();
    let src = dir.path().join("a.jsonl");
    std::fs::write(
        &src,
        "{\"patient_ssn\": \"536-22-8726\"}\n{\"ssn\": 536228726}\n",
    )
    .unwrap();
    let a = run(
        &[
            "scrub",
            "--quiet",
            "--key-file",
            &k,
            "--policy",
            p,
            src.to_str().unwrap(),
        ],
        b"",
    );
    ok(&a);
    let b = run(
        &["scrub", "--quiet", "--key-file", &k, "--policy", p],
        b"SSN: 536228726\n",
    );
    ok(&b);
    let out = String::from_utf8(a.stdout).unwrap();
    let toks: Vec<String> = out
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v.as_object()
                .and_then(|o| o.values().next())
                .and_then(Value::as_str)
                .unwrap()
                .to_string()
        })
        .collect();
    let tok_txt = String::from_utf8(b.stdout)
        .unwrap()
        .trim()
        .trim_start_matches("SSN: ")
        .to_string();
    assert!(toks[0].starts_with("SSN_"), "{out}");
    assert_eq!(toks[0], tok_txt);
    assert_eq!(
        toks[1], tok_txt,
        "a number SSN gets the same token, as a string"
    );
}

fn days(d: &str) -> i64 {
    // days since 1970 for YYYY-MM-DD (civil-from-days inverse, Howard Hinnant)
    let p: Vec<i64> = d.split('-').map(|x| x.parse().unwrap()).collect();
    let (y, m, dd) = (if p[1] <= 2 { p[0] - 1 } else { p[0] }, p[1], p[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + dd - 1;
    era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468
}

#[test]
fn subject_key_path_and_policy_column_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let k = key_file(dir.path());
    // the subject comes after the dates it keys
    let src = dir.path().join("visits.jsonl");
    std::fs::write(
        &src,
        "{\"visit\": {\"admit_date\": \"2021-03-04\"}, \"room\": 4411, \"patient\": {\"id\": \"p1\"}}\n\
         {\"visit\": {\"admit_date\": \"2021-03-14\"}, \"room\": 4412, \"patient\": {\"id\": \"p1\"}}\n\
         {\"visit\": {\"admit_date\": \"2021-03-04\"}, \"room\": 4413, \"patient\": {\"id\": \"p2\"}}\n",
    )
    .unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "[columns]\n\"visits.room\" = { entity = \"OTHER_ID\", action = \"redact\" }\n",
    )
    .unwrap();
    let res = run(
        &[
            "scrub",
            "--quiet",
            "--key-file",
            &k,
            "--policy",
            policy.to_str().unwrap(),
            "--subject-column",
            "patient.id",
            src.to_str().unwrap(),
        ],
        b"",
    );
    ok(&res);
    let recs: Vec<Value> = String::from_utf8(res.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let date = |i: usize| recs[i]["visit"]["admit_date"].as_str().unwrap().to_string();
    assert_ne!(date(0), "2021-03-04");
    assert_eq!(days(&date(1)) - days(&date(0)), 10, "p1 keeps its interval");
    assert_ne!(date(0), date(2), "two patients, two offsets");
    // a number column the policy names is a cell; redacted, it is an empty string
    for r in &recs {
        assert_eq!(r["room"], "");
    }
}
