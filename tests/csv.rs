//! CSV/TSV through the binary: column classes, byte-exact untouched fields, dialect kept,
//! consistent tokens, and clear errors on malformed input with nothing left behind.

mod common;
use common::{run, KEY};

/// A Synthea-like patients extract: quoted fields with delimiters, doubled quotes, an embedded
/// newline, CRLF records, a BOM, values no rule finds alone (`Gleason633`).
fn patients() -> Vec<u8> {
    let mut v = b"\xEF\xBB\xBF".to_vec();
    v.extend_from_slice(
        b"Id,BIRTHDATE,SSN,FIRST,LAST,ADDRESS,CITY,STATE,ZIP,NOTES,HEALTHCARE_EXPENSES\r\n\
b9c610cd-28a6-4636-ccb6-c7a0d2a4cb85,1961-03-04,536-22-8726,Gleason633,\"O'Neil-Smith\",123 Main St,Springfield,MA,01105,\"called (312) 447-2291, \"\"ok\"\"\",1234.5\r\n\
c1,1975-11-02,219-45-6789,Ana,Lopez,\"9 Oak Ave, Apt 2\",Boston,MA,02139,\"line one\nline two\",99\r\n\
c2,,,Bo,Ek,,,CT,,,0\r\n",
    );
    v
}

const PLANTED: &[&str] = &[
    "536-22-8726",
    "Gleason633",
    "O'Neil-Smith",
    "123 Main St",
    "Springfield",
    "(312) 447-2291",
    "219-45-6789",
    "1961-03-04",
    "b9c610cd-28a6-4636-ccb6-c7a0d2a4cb85",
];

fn fields(text: &str) -> Vec<Vec<String>> {
    csv_records(text)
}

/// A tiny RFC 4180 reader for the tests (independent of the code under test).
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let (mut recs, mut rec, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut q, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (q, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => q = false,
            (true, c) => field.push(c),
            (false, '"') => q = true,
            (false, ',') => rec.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                rec.push(std::mem::take(&mut field));
                recs.push(std::mem::take(&mut rec));
            }
            (false, c) => field.push(c),
        }
    }
    recs
}

#[test]
fn scrub_keeps_shape_dialect_and_untouched_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("patients.csv");
    std::fs::write(&src, patients()).unwrap();
    let key = dir.path().join("k");
    std::fs::write(&key, KEY).unwrap();
    let out = dir.path().join("out.csv");
    let res = run(
        &[
            "scrub",
            "--quiet",
            "--key-file",
            key.to_str().unwrap(),
            src.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(
        res.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let bytes = std::fs::read(&out).unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBFId,BIRTHDATE,"),
        "BOM and header kept"
    );
    assert_eq!(
        bytes.windows(2).filter(|w| w == b"\r\n").count(),
        4,
        "CRLF records kept"
    );
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    for v in PLANTED {
        assert!(!text.contains(v), "{v} survived:\n{text}");
    }
    let before = fields(std::str::from_utf8(&patients()[3..]).unwrap());
    let after = fields(&text);
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.len(), a.len(), "same field count per row");
        // kept columns (STATE, HEALTHCARE_EXPENSES) and empty cells are unchanged
        assert_eq!(b[7], a[7]);
        assert_eq!(b[10], a[10]);
        for (x, y) in b.iter().zip(a) {
            if x.is_empty() {
                assert!(y.is_empty());
            }
        }
    }
    // ZIP to three digits, SSN shaped into the 9xx area, the free-text note keeps its words
    assert_eq!(after[1][8], "01100");
    assert!(after[1][2].starts_with('9') && after[1][2].len() == 11);
    assert!(after[1][9].starts_with("called ") && after[1][9].ends_with(", \"ok\""));
    assert!(
        after[2][9] == "line one\nline two",
        "a cell with a newline and nothing to find stays"
    );
    // the untouched kept cell is written byte for byte, quoting included
    assert!(text.contains(",MA,"));
}

#[test]
fn same_value_same_token_in_csv_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    std::fs::write(&key, KEY).unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(&policy, "[entities]\nSSN = \"token\"\n").unwrap();
    let csv = dir.path().join("a.csv");
    std::fs::write(&csv, "patient_ssn,x\n536-22-8726,1\n").unwrap();
    let k = key.to_str().unwrap();
    let p = policy.to_str().unwrap();
    let a = run(
        &[
            "scrub",
            "--quiet",
            "--key-file",
            k,
            "--policy",
            p,
            csv.to_str().unwrap(),
        ],
        b"",
    );
    let b = run(
        &["scrub", "--quiet", "--key-file", k, "--policy", p],
        b"SSN: 536228726\n",
    );
    let tok_csv = String::from_utf8(a.stdout)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let tok_txt = String::from_utf8(b.stdout)
        .unwrap()
        .trim()
        .trim_start_matches("SSN: ")
        .to_string();
    assert!(tok_csv.starts_with("SSN_"), "{tok_csv}");
    assert_eq!(tok_csv, tok_txt);
}

#[test]
fn scan_reports_field_and_row() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("patients.csv");
    std::fs::write(&src, patients()).unwrap();
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
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let phone = rows.iter().find(|v| v["entity"] == "PHONE").unwrap();
    assert_eq!(phone["field"], "NOTES");
    assert_eq!(phone["row"], 1);
    let data = patients();
    let (s, e) = (
        phone["start"].as_u64().unwrap() as usize,
        phone["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&data[s..e], b"(312) 447-2291");
    let first = rows
        .iter()
        .find(|v| v["field"] == "FIRST" && v["row"] == 1)
        .unwrap();
    assert_eq!(first["rule"], "column.NAME");
    assert!(rows.iter().all(|v| v["field"] != "STATE"));
}

#[test]
fn tsv_and_explicit_delimiters() {
    let out = run(
        &["scrub", "--quiet", "--format", "tsv"],
        b"name\tnote\nJohn Smith\tok, fine\n",
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "name\tnote\n[NAME]\tok, fine\n"
    );
    let out = run(
        &["scrub", "--quiet", "--format", "csv", "--delimiter", ";"],
        b"ssn;n\n536-22-8726;1\n",
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "ssn;n\n[SSN];1\n");
}

#[test]
fn malformed_csv_is_a_clear_error_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (name, data, want) in [
        ("open.csv", &b"a,b\n1,\"536-22-8726\n"[..], "unterminated"),
        ("stray.csv", &b"a,b\n1,53\"6-22-8726\n"[..], "stray quote"),
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
            "{err}"
        );
        assert!(!err.contains("536"), "no value in errors: {err}");
        assert!(!out.exists(), "no partial output for {name}");
    }
    // empty and header-only files pass through
    for data in [&b""[..], b"a,b\r\n"] {
        let res = run(&["scrub", "--quiet", "--format", "csv"], data);
        assert_eq!(res.status.code(), Some(0));
        assert_eq!(res.stdout, data);
    }
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
fn subject_column_moves_each_patients_dates_together() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    std::fs::write(&key, KEY).unwrap();
    let enc = dir.path().join("encounters.csv");
    std::fs::write(&enc, "patient_id,START,REASON\np1,2021-03-04,x\np1,2021-03-14,y\np2,2021-03-04,z\np2,2021-05-03,w\n").unwrap();
    let pat = dir.path().join("patients.csv");
    std::fs::write(&pat, "patient_id,BIRTHDATE\np1,2021-03-04\np2,2021-03-04\n").unwrap();
    let k = key.to_str().unwrap();
    let scrub = |f: &std::path::Path| {
        let out = run(
            &[
                "scrub",
                "--quiet",
                "--key-file",
                k,
                "--subject-column",
                "patient_id",
                f.to_str().unwrap(),
            ],
            b"",
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        csv_records(&String::from_utf8(out.stdout).unwrap())
    };
    let e = scrub(&enc);
    let p = scrub(&pat);
    assert_eq!(days(&e[2][1]) - days(&e[1][1]), 10, "p1 keeps its interval");
    assert_eq!(days(&e[4][1]) - days(&e[3][1]), 60, "p2 keeps its interval");
    assert_ne!(e[1][1], "2021-03-04");
    assert_ne!(e[1][1], e[3][1], "two patients, two offsets");
    assert_eq!(p[1][1], e[1][1], "same patient, same shift in another file");
    assert_eq!(p[2][1], e[3][1]);
    assert_eq!(
        e[1][0], p[1][0],
        "the subject key itself is one token everywhere"
    );
}

#[test]
fn policy_column_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("patients.csv");
    std::fs::write(
        &src,
        "FIRST,CITY,NOTES,STATE\nAna,Springfield,SSN 536-22-8726,MA\n",
    )
    .unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        "[columns]\n\"patients.notes\" = \"keep\"\n\"patients.city\" = { action = \"mask\", keep_last = 2 }\n\"*.state\" = \"redact\"\n",
    )
    .unwrap();
    let out = run(
        &[
            "scrub",
            "--quiet",
            "--policy",
            policy.to_str().unwrap(),
            src.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "FIRST,CITY,NOTES,STATE\n[NAME],*********ld,SSN 536-22-8726,\n"
    );
}

#[test]
fn many_chunks_give_the_same_result_on_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.csv");
    let mut data = String::from("id,name,notes\r\n");
    for i in 0..40_000u32 {
        // quoted fields with embedded newlines straddle chunk cuts now and then
        data.push_str(&format!(
            "{i},\"Ana {i}\",\"call (312) 447-{:04}\nthen ok, \"\"fine\"\"\"\r\n",
            i % 10_000
        ));
    }
    std::fs::write(&src, &data).unwrap();
    let s = src.to_str().unwrap();
    let one = run(
        &["scan", "--quiet", "--threads", "1", "--report", "jsonl", s],
        b"",
    );
    let three = run(
        &["scan", "--quiet", "--threads", "3", "--report", "jsonl", s],
        b"",
    );
    assert_eq!(one.stdout, three.stdout);
    let rows: Vec<u64> = String::from_utf8(one.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"PHONE\""))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["row"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        rows,
        (1..=40_000).collect::<Vec<u64>>(),
        "one phone per row, rows numbered across chunks"
    );
    let line = |n: u64| {
        let out = run(
            &["scan", "--quiet", "--threads", "2", "--report", "jsonl", s],
            b"",
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let v: serde_json::Value = text
            .lines()
            .filter(|l| l.contains("\"PHONE\""))
            .nth(n as usize)
            .map(|l| serde_json::from_str(l).unwrap())
            .unwrap();
        (
            v["line"].as_u64().unwrap(),
            v["start"].as_u64().unwrap() as usize,
        )
    };
    let (l, start) = line(39_999);
    assert_eq!(l, 2 + 2 * 39_999, "header line, then two lines per record");
    assert_eq!(&data.as_bytes()[start..start + 6], b"(312) ");
    let a = run(&["scrub", "--quiet", "--threads", "1", s], b"");
    let b = run(&["scrub", "--quiet", "--threads", "3", s], b"");
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(
        String::from_utf8(a.stdout).unwrap().matches("\r\n").count(),
        40_001
    );
}

#[test]
fn json_report_has_a_per_column_summary() {
    let out = run(
        &["scan", "--quiet", "--format", "csv", "--report", "json"],
        b"FIRST,notes,STATE\nAna,call (312) 447-2291,MA\nBo,ok,CT\n",
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cols = v["columns"].as_array().unwrap();
    let get = |name: &str| cols.iter().find(|c| c["column"] == name).unwrap();
    assert_eq!(
        (
            get("FIRST")["class"].as_str(),
            get("FIRST")["how"].as_str(),
            get("FIRST")["findings"].as_u64()
        ),
        (Some("NAME"), Some("header"), Some(2))
    );
    assert_eq!(
        (
            get("notes")["class"].as_str(),
            get("notes")["findings"].as_u64()
        ),
        (Some("scan"), Some(1))
    );
    assert_eq!(
        (
            get("STATE")["class"].as_str(),
            get("STATE")["findings"].as_u64()
        ),
        (Some("keep"), Some(0))
    );
}

#[test]
fn scrub_report_file_counts_changes_and_entities_per_column() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("patients.csv");
    std::fs::write(
        &csv,
        "FIRST,notes,STATE\nAna,call (312) 447-2291 or mail ana.d@mercy-health.org,MA\nBo,ok,CT\nCy,SSN 536-22-8726,RI\n",
    )
    .unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(&policy, "[entities]\nEMAIL = \"keep\"\n").unwrap();
    let report = dir.path().join("r.json");
    let out = dir.path().join("out.csv");
    let o = run(
        &[
            "scrub",
            "--quiet",
            csv.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
            "--report",
            "json",
            "--report-file",
            report.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let cols = v["columns"].as_array().unwrap();
    let get = |name: &str| cols.iter().find(|c| c["column"] == name).unwrap();
    let notes = get("notes");
    assert_eq!(notes["findings"], 3);
    assert_eq!(
        notes["changed"], 2,
        "the kept email is found but not changed"
    );
    assert_eq!(notes["rows_with_findings"], 2);
    assert_eq!(notes["entities"]["PHONE"], 1);
    assert_eq!(notes["entities"]["SSN"], 1);
    assert_eq!(get("FIRST")["changed"], 3);
    assert_eq!(get("STATE")["changed"], 0);
    let text = std::fs::read_to_string(&report).unwrap();
    for planted in ["Ana", "447-2291", "536-22-8726", "ana.d@"] {
        assert!(!text.contains(planted), "{planted} in the report");
    }
}
