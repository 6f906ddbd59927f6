//! Parquet columns beyond strings, integers and dates: floats (16, 32, 64 bits), decimals and
//! booleans classified as identifiers are transformed in their own type (never copied), an
//! empty row group stays, and a dictionary-encoded date column follows each row's subject like
//! a plain one. Each output is read back with the parquet crate and, where installed, pyarrow.

mod common;

use std::fs::File;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Float16Type, Float32Type, Float64Type, Int32Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Decimal128Array, DictionaryArray, Float16Array, Float32Array,
    Float64Array, Int32Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

const KEY: &str = "5f1e0c7a9b3d2e4f6a8c0b1d3e5f7a9c2b4d6e8f0a1c3e5b7d9f1a3c5e7b9d0f";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phiscrub"))
        .env("PHISCRUB_KEY", KEY)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn read(path: &Path) -> (SchemaRef, Vec<usize>, Vec<RecordBatch>) {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let groups = b
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows() as usize)
        .collect();
    let schema = b.schema().clone();
    let batches = b.build().unwrap().map(Result::unwrap).collect();
    (schema, groups, batches)
}

fn column(batches: &[RecordBatch], name: &str) -> Vec<ArrayRef> {
    batches
        .iter()
        .map(|b| b.column_by_name(name).unwrap().clone())
        .collect()
}

/// pyarrow reads `out` with the schema and row groups of `src`; skipped (with a note) without
/// pyarrow.
fn pyarrow_same_shape(src: &Path, out: &Path) {
    let script = r#"
import sys
import pyarrow.parquet as pq
a, b = (pq.ParquetFile(p) for p in sys.argv[1:3])
assert a.schema_arrow.equals(b.schema_arrow, check_metadata=True), (a.schema_arrow, b.schema_arrow)
rg = lambda f: [f.metadata.row_group(g).num_rows for g in range(f.metadata.num_row_groups)]
assert rg(a) == rg(b), (rg(a), rg(b))
assert a.metadata.metadata == b.metadata.metadata
b.read()
"#;
    common::pyarrow_script(script, &[src, out]);
}

const LATS: [f64; 6] = [42.360_123, 41.823_456, 42.360_123, -33.868_82, 0.5, 89.9];
const LONS: [f64; 6] = [
    -71.058_901,
    -71.412_345,
    -71.058_901,
    151.209_29,
    -0.25,
    179.95,
];

#[test]
fn floats_decimals_and_booleans_classified_as_identifiers_change_in_their_own_type() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("LAT", DataType::Float64, true),
        Field::new("LON", DataType::Decimal128(9, 6), false),
        Field::new("latitude", DataType::Float32, true),
        Field::new("longitude", DataType::Float16, true),
        Field::new("ssn", DataType::Boolean, true),
        Field::new("amount", DataType::Float64, true),
    ]));
    let n = LATS.len();
    let dec: Vec<i128> = LONS.iter().map(|v| (v * 1e6).round() as i128).collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Float64Array::from(LATS.to_vec())),
            Arc::new(
                Decimal128Array::from(dec.clone())
                    .with_precision_and_scale(9, 6)
                    .unwrap(),
            ),
            Arc::new(Float32Array::from(
                LATS.iter().map(|v| *v as f32).collect::<Vec<_>>(),
            )),
            Arc::new(Float16Array::from(
                LONS.iter()
                    .map(|v| half::f16::from_f64(*v))
                    .collect::<Vec<_>>(),
            )),
            Arc::new(BooleanArray::from(
                (0..n).map(|i| i % 2 == 0).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(vec![12.5; n])),
        ],
    )
    .unwrap();
    let src = dir.path().join("geo.parquet");
    let mut w = ArrowWriter::try_new(File::create(&src).unwrap(), schema.clone(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let out = dir.path().join("out.parquet");
    let res = run(&[
        "scrub",
        "--quiet",
        src.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(res.status.code(), Some(0), "{res:?}");
    let (got_schema, groups, b) = read(&out);
    assert_eq!(got_schema.fields(), schema.fields());
    assert_eq!(groups, vec![n]);

    let lat = b[0].column(0).as_primitive::<Float64Type>();
    let lon = b[0].column(1).as_primitive::<Decimal128Type>();
    let lat32 = b[0].column(2).as_primitive::<Float32Type>();
    let lon16 = b[0].column(3).as_primitive::<Float16Type>();
    for i in 0..n {
        let (y, x) = (lat.value(i), lon.value(i) as f64 / 1e6);
        assert!(
            lat.is_valid(i) && lon.is_valid(i),
            "row {i}: a value, not a null"
        );
        assert_ne!(y, LATS[i], "row {i}: latitude changed");
        assert_ne!(lon.value(i), dec[i], "row {i}: decimal longitude changed");
        assert!(
            y.abs() <= 90.0 && x.abs() <= 180.0,
            "row {i}: {y} {x} stay valid"
        );
        assert_eq!(y.signum(), LATS[i].signum(), "row {i}: hemisphere kept");
        assert_ne!(f64::from(lat32.value(i)), f64::from(LATS[i] as f32));
        assert_ne!(lon16.value(i), half::f16::from_f64(LONS[i]));
    }
    // One value, one replacement: rows 0 and 2 hold the same point.
    assert_eq!(lat.value(0), lat.value(2));
    assert_eq!(lon.value(0), lon.value(2));
    assert_eq!(
        b[0].column(5).as_primitive::<Float64Type>().values(),
        &[12.5; 6][..],
        "an amount is not an identifier: kept"
    );
    let bools = b[0].column(4).as_boolean();
    assert_eq!(bools.len(), n);
    // Every classified column reported its findings: the boolean one too.
    let scan = run(&["scan", "--report", "jsonl", src.to_str().unwrap()]);
    let report = String::from_utf8_lossy(&scan.stdout);
    for field in ["LAT", "LON", "latitude", "longitude", "ssn"] {
        assert!(
            report.contains(&format!("\"field\":\"{field}\"")),
            "{field}: {report}"
        );
    }
    assert!(!report.contains("amount"));
    pyarrow_same_shape(&src, &out);
}

#[test]
#[allow(deprecated)]
fn an_empty_row_group_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("ssn", DataType::Utf8, true),
        Field::new("n", DataType::Int32, true),
    ]));
    let batch = |ssn: &str, n: i32| {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![ssn])),
                Arc::new(Int32Array::from(vec![n])),
            ],
        )
        .unwrap()
    };
    let src = dir.path().join("groups.parquet");
    let mut w = ArrowWriter::try_new(File::create(&src).unwrap(), schema.clone(), None).unwrap();
    w.write(&batch("536-22-8726", 1)).unwrap();
    w.flush().unwrap();
    let empty: Vec<_> = w
        .get_column_writers()
        .unwrap()
        .into_iter()
        .map(|c| c.close().unwrap())
        .collect();
    w.append_row_group(empty).unwrap();
    w.write(&batch("219-09-9999", 2)).unwrap();
    w.close().unwrap();
    assert_eq!(
        read(&src).1,
        vec![1, 0, 1],
        "the fixture has an empty group"
    );
    let out = dir.path().join("out.parquet");
    let res = run(&[
        "scrub",
        "--quiet",
        src.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(res.status.code(), Some(0), "{res:?}");
    let (_, groups, b) = read(&out);
    assert_eq!(groups, vec![1, 0, 1]);
    let ssn: Vec<String> = column(&b, "ssn")
        .iter()
        .flat_map(|a| {
            let s = a.as_string::<i32>();
            (0..s.len())
                .map(|i| s.value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(ssn.len(), 2);
    assert!(!ssn.iter().any(|s| s == "536-22-8726" || s == "219-09-9999"));
    pyarrow_same_shape(&src, &out);
}

/// A date column stored as a dictionary of strings moves each row by its own subject's
/// offset, exactly as the same rows in a CSV file do.
#[test]
fn dictionary_dates_follow_the_rows_subject() {
    let dir = tempfile::tempdir().unwrap();
    let patients = ["p1", "p2", "p1", "p3", "p2", "p1"];
    let dates = [
        "2021-03-04",
        "2021-03-04",
        "2021-03-14",
        "2021-03-04",
        "2021-03-14",
        "2021-03-04",
    ];
    let schema = Arc::new(Schema::new(vec![
        Field::new("PATIENT", DataType::Utf8, false),
        Field::new(
            "START",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        ),
    ]));
    let dict: DictionaryArray<Int32Type> = dates.iter().copied().collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(patients.to_vec())),
            Arc::new(dict),
        ],
    )
    .unwrap();
    let src = dir.path().join("encounters.parquet");
    let mut w = ArrowWriter::try_new(File::create(&src).unwrap(), schema.clone(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let csv = dir.path().join("encounters.csv");
    let mut text = String::from("PATIENT,START\n");
    for (p, d) in patients.iter().zip(dates) {
        text += &format!("{p},{d}\n");
    }
    std::fs::write(&csv, text).unwrap();
    let out = dir.path().join("out");
    let res = run(&[
        "scrub",
        "--quiet",
        "--subject-column",
        "PATIENT",
        src.to_str().unwrap(),
        csv.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(res.status.code(), Some(0), "{res:?}");
    let (got_schema, _, b) = read(&out.join("encounters.parquet"));
    assert_eq!(got_schema.fields(), schema.fields(), "still a dictionary");
    let d = b[0].column(1).as_dictionary::<Int32Type>();
    let values = d.values().as_string::<i32>();
    let got: Vec<String> = d
        .keys()
        .iter()
        .map(|k| values.value(k.unwrap() as usize).to_string())
        .collect();
    let from_csv: Vec<String> = std::fs::read_to_string(out.join("encounters.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(got, from_csv, "the same shift per subject in both formats");
    assert_ne!(got[0], got[1], "two subjects, two offsets for one date");
    assert_eq!(got[0], got[5], "one subject, one offset");
    pyarrow_same_shape(&src, &out.join("encounters.parquet"));
}
