//! The committed Synthea-like extract (`testdata/structured/`, made by
//! `scripts/gen_fixtures.py`): patients, encounters and notes as CSV, JSON lines and Parquet,
//! scrubbed in one run with one key. Checks: patient and encounter ids still join within and
//! across the three formats; no planted value survives in any output byte; kept columns are
//! identical; the CSV re-parses to the same rows and columns, the JSON lines to the same keys;
//! the Parquet files keep schema, row counts, row groups and key-value metadata (parquet crate
//! and, where installed, pyarrow).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const KEY: &str = "5f1e0c7a9b3d2e4f6a8c0b1d3e5f7a9c2b4d6e8f0a1c3e5b7d9f1a3c5e7b9d0f";
const TABLES: [&str; 3] = ["patients", "encounters", "notes"];
const FORMATS: [&str; 3] = ["csv", "jsonl", "parquet"];
/// Columns no rule classifies as an identifier: they must come back as they were.
const KEPT: &[(&str, &str)] = &[
    ("patients", "STATE"),
    ("patients", "GENDER"),
    ("patients", "HEALTHCARE_EXPENSES"),
    ("encounters", "ENCOUNTERCLASS"),
    ("encounters", "CODE"),
    ("encounters", "DESCRIPTION"),
    ("encounters", "BASE_ENCOUNTER_COST"),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/structured")
}

/// A tiny RFC 4180 reader (independent of the code under test).
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
            (false, '\n') => {
                rec.push(std::mem::take(&mut field));
                recs.push(std::mem::take(&mut rec));
            }
            (false, c) => field.push(c),
        }
    }
    recs
}

/// Column name → values (as text) of a table in one format.
type Table = BTreeMap<String, Vec<String>>;

fn read_csv(path: &Path) -> (Table, Vec<Vec<String>>) {
    let recs = csv_records(&std::fs::read_to_string(path).unwrap());
    let mut t = Table::new();
    for (i, name) in recs[0].iter().enumerate() {
        t.insert(
            name.clone(),
            recs[1..].iter().map(|r| r[i].clone()).collect(),
        );
    }
    (t, recs)
}

fn read_jsonl(path: &Path) -> (Table, Vec<Vec<String>>) {
    let mut t = Table::new();
    let mut keys = Vec::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line).unwrap();
        keys.push(v.keys().cloned().collect());
        for (k, x) in v {
            let s = match x {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            t.entry(k).or_default().push(s);
        }
    }
    (t, keys)
}

fn read_parquet(path: &Path) -> (Table, Vec<RecordBatch>) {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let batches: Vec<RecordBatch> = b.build().unwrap().map(Result::unwrap).collect();
    let mut t = Table::new();
    for batch in &batches {
        for (f, a) in batch.schema().fields().iter().zip(batch.columns()) {
            let col = t.entry(f.name().clone()).or_default();
            let a = match a.as_any_dictionary_opt() {
                Some(d) => arrow_cast_strings(d.values().as_ref(), &d.normalized_keys()),
                None => (0..a.len()).map(|i| value_text(a.as_ref(), i)).collect(),
            };
            col.extend(a);
        }
    }
    (t, batches)
}

fn arrow_cast_strings(values: &dyn Array, keys: &[usize]) -> Vec<String> {
    keys.iter().map(|&k| value_text(values, k)).collect()
}

fn value_text(a: &dyn Array, i: usize) -> String {
    use arrow_schema::DataType as D;
    if a.is_null(i) {
        return String::new();
    }
    match a.data_type() {
        D::Utf8 => a.as_string::<i32>().value(i).to_string(),
        D::Float64 => format!(
            "{}",
            a.as_primitive::<arrow_array::types::Float64Type>().value(i)
        ),
        D::Date32 => format!(
            "{}",
            a.as_primitive::<arrow_array::types::Date32Type>().value(i)
        ),
        D::Timestamp(_, _) => format!(
            "{}",
            a.as_primitive::<arrow_array::types::TimestampMillisecondType>()
                .value(i)
        ),
        other => panic!("unexpected type {other}"),
    }
}

fn scrub_all(out: &Path) {
    let mut args: Vec<String> = ["scrub", "--quiet", "--subject-column", "PATIENT"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for t in TABLES {
        for f in FORMATS {
            args.push(fixtures().join(format!("{t}.{f}")).display().to_string());
        }
    }
    args.extend(["-o".to_string(), out.display().to_string()]);
    let res = Command::new(env!("CARGO_BIN_EXE_phiscrub"))
        .env("PHISCRUB_KEY", KEY)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(0), "{res:?}");
}

#[test]
fn synthea_like_extract_scrubs_consistently_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    scrub_all(&out);
    let planted: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("planted.json")).unwrap())
            .unwrap();
    let values: Vec<&str> = planted["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(values.len() > 400, "the fixture plants values");

    // No planted value in any output byte (the Parquet files are uncompressed, so a byte
    // search sees their values).
    for t in TABLES {
        for f in FORMATS {
            let bytes = std::fs::read(out.join(format!("{t}.{f}"))).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            let left: Vec<&&str> = values.iter().filter(|v| text.contains(**v)).collect();
            assert!(
                left.is_empty(),
                "{t}.{f}: {} planted values left: {left:?}",
                left.len()
            );
        }
    }
    let names = planted["free_text_names"].as_array().unwrap();
    let notes = std::fs::read_to_string(out.join("notes.csv")).unwrap();
    let missed = names
        .iter()
        .filter(|n| notes.contains(n.as_str().unwrap()))
        .count();
    println!(
        "note: {missed} of {} names in free text are not in the name dictionaries and stay",
        names.len()
    );

    // Per format: the tables as read back, and the originals.
    let mut scrubbed: BTreeMap<(&str, &str), Table> = BTreeMap::new();
    for t in TABLES {
        for f in FORMATS {
            let (src, dst) = (
                fixtures().join(format!("{t}.{f}")),
                out.join(format!("{t}.{f}")),
            );
            let (a, b) = match f {
                "csv" => {
                    let ((a, ra), (b, rb)) = (read_csv(&src), read_csv(&dst));
                    assert_eq!(ra.len(), rb.len(), "{t}.csv rows");
                    assert!(ra.iter().zip(&rb).all(|(x, y)| x.len() == y.len()));
                    assert_eq!(ra[0], rb[0], "{t}.csv header");
                    (a, b)
                }
                "jsonl" => {
                    let ((a, ka), (b, kb)) = (read_jsonl(&src), read_jsonl(&dst));
                    assert_eq!(ka, kb, "{t}.jsonl keys, line by line");
                    (a, b)
                }
                _ => {
                    let ((a, _), (b, _)) = (read_parquet(&src), read_parquet(&dst));
                    (a, b)
                }
            };
            for (table, col) in KEPT {
                if *table == t {
                    assert_eq!(a[*col], b[*col], "{t}.{f}: kept column {col}");
                }
            }
            for col in ["Id", "FIRST", "SSN", "ADDRESS", "PATIENT", "NOTE"] {
                if let (Some(x), Some(y)) = (a.get(col), b.get(col)) {
                    assert!(
                        x.iter().zip(y).all(|(x, y)| x != y),
                        "{t}.{f}: every {col} changed"
                    );
                }
            }
            scrubbed.insert((t, f), b);
        }
    }

    // Joins: one token per id in every format, and every foreign key still finds its row.
    let set = |t: &str, f: &str, c: &str| -> BTreeSet<String> {
        scrubbed[&(t, f)][c].iter().cloned().collect()
    };
    for f in FORMATS {
        assert_eq!(
            set("patients", f, "Id"),
            set("patients", "csv", "Id"),
            "{f}"
        );
        assert_eq!(
            set("encounters", f, "Id"),
            set("encounters", "csv", "Id"),
            "{f}"
        );
        assert!(set("encounters", f, "PATIENT").is_subset(&set("patients", f, "Id")));
        assert!(set("notes", f, "PATIENT").is_subset(&set("patients", f, "Id")));
        assert!(set("notes", f, "ENCOUNTER").is_subset(&set("encounters", f, "Id")));
    }
    // Dates moved by the patient's offset agree across formats (CSV and JSON lines spell them
    // alike).
    assert_eq!(
        scrubbed[&("encounters", "csv")]["START"],
        scrubbed[&("encounters", "jsonl")]["START"]
    );
    assert_ne!(
        scrubbed[&("encounters", "csv")]["START"],
        read_csv(&fixtures().join("encounters.csv")).0["START"]
    );
}

#[test]
fn scrubbed_parquet_keeps_schema_row_groups_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    scrub_all(&out);
    for t in TABLES {
        let (src, dst) = (
            fixtures().join(format!("{t}.parquet")),
            out.join(format!("{t}.parquet")),
        );
        let meta = |p: &Path| {
            let b = ParquetRecordBatchReaderBuilder::try_new(File::open(p).unwrap()).unwrap();
            let m = b.metadata().clone();
            (
                b.schema().clone(),
                m.file_metadata().num_rows(),
                m.row_groups()
                    .iter()
                    .map(|g| g.num_rows())
                    .collect::<Vec<_>>(),
                m.file_metadata().key_value_metadata().cloned(),
            )
        };
        let (a, b) = (meta(&src), meta(&dst));
        assert_eq!(a.0, b.0, "{t}: schema with its metadata");
        assert_eq!(a.1, b.1, "{t}: rows");
        assert_eq!(a.2, b.2, "{t}: row groups");
        assert_eq!(a.3, b.3, "{t}: key-value metadata");
        assert!(a.2.len() > 1 || t == "patients", "{t}: several row groups");
        pyarrow_same(&src, &dst);
    }
}

fn pyarrow_same(src: &Path, out: &Path) {
    let script = r#"
import sys
import pyarrow.parquet as pq
a, b = (pq.ParquetFile(p) for p in sys.argv[1:3])
assert a.schema_arrow.equals(b.schema_arrow, check_metadata=True), (a.schema_arrow, b.schema_arrow)
assert a.metadata.num_rows == b.metadata.num_rows
rg = lambda f: [f.metadata.row_group(g).num_rows for g in range(f.metadata.num_row_groups)]
assert rg(a) == rg(b)
assert a.metadata.metadata == b.metadata.metadata
b.read()
"#;
    common::pyarrow_script(script, &[src, out]);
}
