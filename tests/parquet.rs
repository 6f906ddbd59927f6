//! Parquet through the binary: schema, metadata, codecs and row groups kept; every planted
//! identifier gone from strings, integers and dates; kept columns identical; findings with
//! field and row; a truncated file is a clear error that leaves nothing behind. Fixtures are
//! written here with the arrow and parquet crates (synthetic data, no binary fixtures).

mod common;

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Int32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{
    Array, ArrayRef, Date32Array, DictionaryArray, Int32Array, Int64Array, ListArray, RecordBatch,
    StringArray, StructArray, TimestampMillisecondArray,
};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

const KEY: &str = "5f1e0c7a9b3d2e4f6a8c0b1d3e5f7a9c2b4d6e8f0a1c3e5b7d9f1a3c5e7b9d0f";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phiscrub"))
        .env_remove("PHISCRUB_KEY")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// Rows: (Id, FIRST, LAST, SSN, ADDRESS, CITY, STATE, ZIP, BIRTHDATE, mrn, GENDER, notes).
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    (i32, u8, u8),
    i64,
    &'static str,
    Option<&'static str>,
);

const ROWS: &[Row] = &[
    (
        "b9c610cd-28a6-4636-ccb6-c7a0d2a4cb85",
        "Gleason633",
        "O'Neil-Smith",
        "536-22-8726",
        "123 Main St",
        "Springfield",
        "MA",
        "01105",
        (1961, 3, 4),
        40_312_877,
        "F",
        Some("called (312) 447-2291 about refill"),
    ),
    (
        "c1d2e3f4-1111-4222-8333-944455556666",
        "Ana",
        "Lopez",
        "219-45-6789",
        "9 Oak Ave, Apt 2",
        "Boston",
        "MA",
        "02139",
        (1975, 11, 2),
        40_312_878,
        "F",
        None,
    ),
    (
        "d7e8f9a0-2222-4333-9444-a55566667777",
        "Bo",
        "Ekdahl",
        "078-05-1120",
        "77 Birch Rd",
        "Hartford",
        "CT",
        "06103",
        (1948, 7, 19),
        40_312_901,
        "M",
        Some("pt stable, no change"),
    ),
    (
        "e1f2a3b4-3333-4444-a555-b66677778888",
        "Chidi",
        "Anagonye",
        "401-55-0192",
        "5 Elm Ct",
        "Worcester",
        "MA",
        "01608",
        (1990, 1, 30),
        40_313_020,
        "M",
        Some("daughter reachable at 617-442-0148"),
    ),
    (
        "f5a6b7c8-4444-4555-b666-c77788889999",
        "Mireille",
        "Dubois",
        "512-66-7781",
        "40 Pine St",
        "Providence",
        "RI",
        "02903",
        (1933, 12, 24),
        40_313_121,
        "F",
        None,
    ),
    // second row group
    (
        "a0b1c2d3-5555-4666-8777-d88899990000",
        "Tomasz",
        "Kowalczyk",
        "623-11-4590",
        "18 Cedar Ln",
        "Stamford",
        "CT",
        "06901",
        (1982, 6, 15),
        40_314_555,
        "M",
        Some("wife Jolanta, cell (203) 555-0199"),
    ),
    (
        "b2c3d4e5-6666-4777-9888-e99900001111",
        "Priya",
        "Raman",
        "334-90-1276",
        "2 Willow Way",
        "Cambridge",
        "MA",
        "02140",
        (2001, 9, 9),
        40_314_556,
        "F",
        Some("no complaints"),
    ),
    (
        "c4d5e6f7-7777-4888-a999-f00011112222",
        "Lars",
        "Nilsson",
        "145-72-3398",
        "61 Spruce Dr",
        "Burlington",
        "VT",
        "05401",
        (1957, 4, 1),
        40_314_700,
        "M",
        None,
    ),
];

const FIRST_GROUP: usize = 5;

fn days(y: i32, m: u8, d: u8) -> i32 {
    phiscrub::dates::days_from_civil(y, m, d) as i32
}

fn patients_schema() -> SchemaRef {
    let ssn_meta = HashMap::from([("description".to_string(), "synthetic SSN".to_string())]);
    Arc::new(Schema::new_with_metadata(
        vec![
            Field::new("Id", DataType::Utf8, false),
            Field::new("FIRST", DataType::Utf8, false),
            Field::new("LAST", DataType::Utf8, false),
            Field::new("SSN", DataType::Utf8, true).with_metadata(ssn_meta),
            Field::new("ADDRESS", DataType::Utf8, true),
            Field::new("CITY", DataType::Utf8, true),
            Field::new("STATE", DataType::Utf8, true),
            Field::new("ZIP", DataType::Utf8, true),
            Field::new("BIRTHDATE", DataType::Date32, false),
            Field::new("mrn", DataType::Int64, false),
            Field::new(
                "GENDER",
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
                true,
            ),
            Field::new("notes", DataType::Utf8, true),
        ],
        HashMap::from([("dataset".to_string(), "synthetic patients".to_string())]),
    ))
}

fn patients_batch(schema: &SchemaRef, rows: &[Row]) -> RecordBatch {
    let s = |f: fn(&Row) -> &'static str| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let cols: Vec<ArrayRef> = vec![
        s(|r| r.0),
        s(|r| r.1),
        s(|r| r.2),
        s(|r| r.3),
        s(|r| r.4),
        s(|r| r.5),
        s(|r| r.6),
        s(|r| r.7),
        Arc::new(Date32Array::from(
            rows.iter()
                .map(|r| days(r.8 .0, r.8 .1, r.8 .2))
                .collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            rows.iter().map(|r| r.9).collect::<Vec<_>>(),
        )),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.10))
                .collect::<DictionaryArray<Int32Type>>(),
        ),
        Arc::new(StringArray::from(
            rows.iter().map(|r| r.11).collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(schema.clone(), cols).unwrap()
}

/// The patients table: snappy, with notes in zstd and ZIP in gzip, key-value metadata, and
/// two row groups of 5 and 3 rows.
fn write_patients(path: &Path) {
    let schema = patients_schema();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_column_compression(
            ColumnPath::from("notes"),
            Compression::ZSTD(ZstdLevel::default()),
        )
        .set_column_compression(
            ColumnPath::from("ZIP"),
            Compression::GZIP(GzipLevel::default()),
        )
        .set_key_value_metadata(Some(vec![
            KeyValue::new("origin".to_string(), "phiscrub test fixture".to_string()),
            KeyValue::new("generator".to_string(), "tests/parquet.rs".to_string()),
        ]))
        .build();
    let mut w =
        ArrowWriter::try_new(File::create(path).unwrap(), schema.clone(), Some(props)).unwrap();
    w.write(&patients_batch(&schema, &ROWS[..FIRST_GROUP]))
        .unwrap();
    w.flush().unwrap();
    w.write(&patients_batch(&schema, &ROWS[FIRST_GROUP..]))
        .unwrap();
    w.close().unwrap();
}

const PLANTED: &[&str] = &[
    "536-22-8726",
    "219-45-6789",
    "Gleason633",
    "O'Neil-Smith",
    "Kowalczyk",
    "123 Main St",
    "Springfield",
    "Stamford",
    "(312) 447-2291",
    "617-442-0148",
    "(203) 555-0199",
    "b9c610cd-28a6-4636-ccb6-c7a0d2a4cb85",
    "c4d5e6f7-7777-4888-a999-f00011112222",
    "01105",
];

/// Everything the parquet crate says about a file that a rewrite must keep.
struct Read {
    schema: SchemaRef,
    kv: Vec<(String, Option<String>)>,
    group_rows: Vec<i64>,
    /// Per row group, per column chunk: path and codec.
    codecs: Vec<Vec<(String, Compression)>>,
    batches: Vec<RecordBatch>,
}

fn read(path: &Path) -> Read {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let meta = b.metadata().clone();
    let schema = b.schema().clone();
    let kv = meta
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|k| (k.key.clone(), k.value.clone()))
                .collect()
        })
        .unwrap_or_default();
    let group_rows = meta.row_groups().iter().map(|g| g.num_rows()).collect();
    let codecs = meta
        .row_groups()
        .iter()
        .map(|g| {
            g.columns()
                .iter()
                .map(|c| (c.column_path().string(), c.compression()))
                .collect()
        })
        .collect();
    let batches = b.build().unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    Read {
        schema,
        kv,
        group_rows,
        codecs,
        batches,
    }
}

/// Column `name` of every batch, concatenated as owned arrays.
fn column(r: &Read, name: &str) -> Vec<ArrayRef> {
    r.batches
        .iter()
        .map(|b| b.column_by_name(name).unwrap().clone())
        .collect()
}

fn strings(r: &Read, name: &str) -> Vec<Option<String>> {
    column(r, name)
        .iter()
        .flat_map(|a| {
            let a = a.as_string::<i32>();
            (0..a.len())
                .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn dict_strings(r: &Read, name: &str) -> Vec<Option<String>> {
    column(r, name)
        .iter()
        .flat_map(|a| {
            let d = a.as_dictionary::<Int32Type>();
            let v = d.values().as_string::<i32>();
            (0..d.len())
                .map(|i| {
                    d.is_valid(i)
                        .then(|| v.value(d.keys().value(i) as usize).to_string())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Writes `batch` as the one row group of a Parquet file with default properties.
/// [`scrub`], which must succeed.
/// No planted value in any string column.
fn assert_no_planted(r: &Read) {
    for f in r.schema.fields() {
        let values = match f.data_type() {
            DataType::Utf8 => strings(r, f.name()),
            DataType::Dictionary(_, _) => dict_strings(r, f.name()),
            _ => continue,
        };
        for v in values.iter().flatten() {
            for p in PLANTED {
                assert!(!v.contains(p), "{p} survived in {}: {v}", f.name());
            }
        }
    }
}

fn scrub_ok(src: &Path, out: &Path, key: &Path) {
    let res = scrub(src, out, key);
    assert_eq!(
        res.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
}

/// A temporary folder holding the key file `k`, and that file's path.
fn keyed_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    std::fs::write(&key, KEY).unwrap();
    (dir, key)
}

fn write_batch(path: &Path, schema: SchemaRef, batch: &RecordBatch) {
    let mut w = ArrowWriter::try_new(File::create(path).unwrap(), schema, None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

fn scrub(src: &Path, out: &Path, key: &Path) -> Output {
    run(&[
        "scrub",
        "--quiet",
        "--key-file",
        key.to_str().unwrap(),
        src.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ])
}

/// [`scrub`] on `threads` threads.
fn scrub_on(threads: &str, src: &Path, out: &Path, key: &Path) -> Output {
    run(&[
        "scrub",
        "--quiet",
        "--threads",
        threads,
        "--key-file",
        key.to_str().unwrap(),
        src.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ])
}

/// `scan --report jsonl` of `src`, which must find something (exit 1): its report.
fn scan_jsonl(src: &Path) -> String {
    let res = run(&[
        "scan",
        "--quiet",
        "--report",
        "jsonl",
        src.to_str().unwrap(),
    ]);
    assert_eq!(
        res.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    String::from_utf8(res.stdout).unwrap()
}

#[test]
fn scrub_keeps_schema_metadata_codecs_and_row_groups() {
    let (dir, key) = keyed_dir();
    let src = dir.path().join("patients.parquet");
    write_patients(&src);
    let out = dir.path().join("out.parquet");
    scrub_ok(&src, &out, &key);
    let (before, after) = (read(&src), read(&out));

    // The file's shape.
    assert_eq!(
        after.schema, before.schema,
        "Arrow schema with all metadata"
    );
    assert!(after
        .schema
        .field_with_name("BIRTHDATE")
        .map(|f| !f.is_nullable())
        .unwrap());
    assert_eq!(
        after.kv, before.kv,
        "key-value metadata, ARROW:schema included"
    );
    assert!(after.kv.iter().any(|(k, _)| k == "origin"));
    assert_eq!(after.group_rows, vec![5, 3]);
    assert_eq!(after.group_rows, before.group_rows);
    assert_eq!(after.codecs, before.codecs, "codec per column chunk");
    let codec = |r: &Read, col: &str| r.codecs[0].iter().find(|(p, _)| p == col).unwrap().1;
    assert_eq!(codec(&after, "FIRST"), Compression::SNAPPY);
    assert!(matches!(codec(&after, "notes"), Compression::ZSTD(_)));
    assert!(matches!(codec(&after, "ZIP"), Compression::GZIP(_)));

    assert_no_planted(&after);
    // Kept columns identical, nulls where they were, free text keeps its words.
    assert_eq!(strings(&after, "STATE"), strings(&before, "STATE"));
    assert_eq!(
        dict_strings(&after, "GENDER"),
        dict_strings(&before, "GENDER")
    );
    let notes = strings(&after, "notes");
    for (a, b) in notes.iter().zip(strings(&before, "notes")) {
        assert_eq!(a.is_none(), b.is_none());
    }
    assert!(notes[0].as_deref().unwrap().starts_with("called "));
    assert!(notes[0].as_deref().unwrap().ends_with(" about refill"));
    assert_eq!(notes[2].as_deref(), Some("pt stable, no change"));
    assert_eq!(strings(&after, "ZIP")[0].as_deref(), Some("01100"));
    let ssn = strings(&after, "SSN");
    assert!(ssn
        .iter()
        .flatten()
        .all(|s| s.len() == 11 && s.starts_with('9')));
    let first = strings(&after, "FIRST");
    assert!(
        first.iter().flatten().all(|s| s.starts_with("NAME_")),
        "{first:?}"
    );

    // mrn: integers, none of the originals, same width, one id one value.
    let mrns: Vec<i64> = column(&after, "mrn")
        .iter()
        .flat_map(|a| a.as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(mrns.len(), ROWS.len());
    for (m, r) in mrns.iter().zip(ROWS) {
        assert_ne!(*m, r.9);
        assert_eq!(m.to_string().len(), r.9.to_string().len(), "{m}");
    }
    let distinct: std::collections::HashSet<_> = mrns.iter().collect();
    assert_eq!(distinct.len(), mrns.len());

    // Dates moved, all by the same keyed offset of at most a year.
    let dates: Vec<i32> = column(&after, "BIRTHDATE")
        .iter()
        .flat_map(|a| a.as_primitive::<Date32Type>().values().to_vec())
        .collect();
    let shifts: Vec<i32> = dates
        .iter()
        .zip(ROWS)
        .map(|(d, r)| d - days(r.8 .0, r.8 .1, r.8 .2))
        .collect();
    assert!(
        shifts
            .iter()
            .all(|s| *s == shifts[0] && *s != 0 && s.abs() <= 365),
        "{shifts:?}"
    );

    // Same key, same bytes, whatever the number of threads.
    let again = dir.path().join("again.parquet");
    let res = scrub_on("1", &src, &again, &key);
    assert_eq!(res.status.code(), Some(0));
    assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&out).unwrap());

    pyarrow_agrees(&src, &out);
}

/// pyarrow, when installed, reads the rewritten file with the same schema, rows and metadata.
fn pyarrow_agrees(src: &Path, out: &Path) {
    let script = r#"
import sys
import pyarrow.parquet as pq
a, b = (pq.ParquetFile(p) for p in sys.argv[1:3])
assert a.schema_arrow.equals(b.schema_arrow, check_metadata=True), (a.schema_arrow, b.schema_arrow)
assert a.metadata.num_rows == b.metadata.num_rows == 8
assert a.metadata.num_row_groups == b.metadata.num_row_groups == 2
assert a.metadata.metadata == b.metadata.metadata, (a.metadata.metadata, b.metadata.metadata)
assert a.schema_arrow.metadata == {b"dataset": b"synthetic patients"}, a.schema_arrow.metadata
t = b.read()
assert t.column("STATE").to_pylist() == a.read().column("STATE").to_pylist()
print("pyarrow ok")
"#;
    common::pyarrow_script(script, &[src, out]);
}

#[test]
fn scan_reports_field_and_row_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("patients.parquet");
    write_patients(&src);
    let before = std::fs::read(&src).unwrap();
    let text = scan_jsonl(&src);
    assert_eq!(std::fs::read(&src).unwrap(), before, "input untouched");
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "scan writes nothing");
    for v in PLANTED {
        assert!(!text.contains(v), "{v} in the report");
    }
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find = |field: &str, entity: &str| -> Vec<u64> {
        rows.iter()
            .filter(|v| v["field"] == field && v["entity"] == entity)
            .map(|v| v["row"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        find("notes", "PHONE"),
        vec![1, 4, 6],
        "rows across both row groups"
    );
    assert_eq!(find("BIRTHDATE", "DATE"), (1..=8).collect::<Vec<_>>());
    assert_eq!(find("mrn", "MRN"), (1..=8).collect::<Vec<_>>());
    assert_eq!(find("FIRST", "NAME"), (1..=8).collect::<Vec<_>>());
    assert!(rows
        .iter()
        .all(|v| v["field"] != "STATE" && v["field"] != "GENDER"));
    let date = rows.iter().find(|v| v["field"] == "BIRTHDATE").unwrap();
    assert_eq!(date["rule"], "column.DATE");
    assert_eq!(
        (date["start"].as_u64(), date["end"].as_u64()),
        (Some(0), Some(0))
    );
    // Findings come in row order.
    let order: Vec<u64> = rows.iter().map(|v| v["row"].as_u64().unwrap()).collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
}

/// Struct members, lists of structs and timestamps are cells too, named by key path.
#[test]
fn nested_strings_and_timestamps() {
    let (dir, key) = keyed_dir();
    let src = dir.path().join("visits.parquet");
    let phone = Field::new("phone", DataType::Utf8, true);
    let kind = Field::new("kind", DataType::Utf8, true);
    let contact_fields = Fields::from(vec![phone, kind]);
    let contact = Field::new("item", DataType::Struct(contact_fields.clone()), true);
    let address_fields = Fields::from(vec![
        Field::new("city", DataType::Utf8, true),
        Field::new("state", DataType::Utf8, true),
    ]);
    let schema = Arc::new(Schema::new(vec![
        Field::new("visit_id", DataType::Int32, false),
        Field::new("address", DataType::Struct(address_fields.clone()), true),
        Field::new("contacts", DataType::List(Arc::new(contact.clone())), true),
        Field::new(
            "admit_datetime",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
    ]));
    let address = StructArray::new(
        address_fields,
        vec![
            Arc::new(StringArray::from(vec![
                Some("Springfield"),
                Some("Hartford"),
            ])),
            Arc::new(StringArray::from(vec![Some("MA"), Some("CT")])),
        ],
        None,
    );
    let contacts_values = StructArray::new(
        contact_fields,
        vec![
            Arc::new(StringArray::from(vec![
                "(312) 447-2291",
                "617-442-0148",
                "(203) 555-0199",
            ])),
            Arc::new(StringArray::from(vec!["home", "work", "cell"])),
        ],
        None,
    );
    let contacts = ListArray::new(
        Arc::new(contact),
        OffsetBuffer::from_lengths([1, 2]),
        Arc::new(contacts_values),
        None,
    );
    let t0 = i64::from(days(2021, 3, 4)) * 86_400_000 + 37_815_123; // 10:30:15.123
    let ts = TimestampMillisecondArray::from(vec![Some(t0), None]).with_timezone("UTC");
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int32Array::from(vec![1_000_123, 1_000_124])),
            Arc::new(address),
            Arc::new(contacts),
            Arc::new(ts),
        ],
    )
    .unwrap();
    write_batch(&src, schema, &batch);

    let out = dir.path().join("out.parquet");
    scrub_ok(&src, &out, &key);
    let (before, after) = (read(&src), read(&out));
    assert_eq!(after.schema, before.schema);
    let b = &after.batches[0];
    let addr = b.column_by_name("address").unwrap().as_struct();
    let city = addr.column_by_name("city").unwrap().as_string::<i32>();
    assert!(!city.value(0).contains("Springfield") && !city.value(1).contains("Hartford"));
    let state = addr.column_by_name("state").unwrap().as_string::<i32>();
    assert_eq!(
        (state.value(0), state.value(1)),
        ("MA", "CT"),
        "kept member"
    );
    let list = b.column_by_name("contacts").unwrap().as_list::<i32>();
    assert_eq!(list.value_offsets(), &[0, 1, 3]);
    let items = list.values().as_struct();
    let phones = items.column_by_name("phone").unwrap().as_string::<i32>();
    for (i, p) in ["(312) 447-2291", "617-442-0148", "(203) 555-0199"]
        .iter()
        .enumerate()
    {
        assert_ne!(phones.value(i), *p);
    }
    let kinds = items.column_by_name("kind").unwrap().as_string::<i32>();
    assert_eq!(kinds.value(2), "cell");
    let ts = b
        .column_by_name("admit_datetime")
        .unwrap()
        .as_primitive::<TimestampMillisecondType>();
    assert!(ts.is_null(1));
    let moved = ts.value(0) - t0;
    assert!(
        moved != 0 && moved % 86_400_000 == 0,
        "whole days, time of day kept: {moved}"
    );
    let ids = b
        .column_by_name("visit_id")
        .unwrap()
        .as_primitive::<Int32Type>();
    assert!(ids.value(0) != 1_000_123 && ids.value(0).to_string().len() == 7);

    let text = scan_jsonl(&src);
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let phone_rows: Vec<u64> = rows
        .iter()
        .filter(|v| v["field"] == "contacts[].phone")
        .map(|v| v["row"].as_u64().unwrap())
        .collect();
    assert_eq!(phone_rows, vec![1, 2, 2], "{text}");
    assert!(rows
        .iter()
        .any(|v| v["field"] == "address.city" && v["row"] == 2));
    assert!(rows
        .iter()
        .any(|v| v["field"] == "admit_datetime" && v["row"] == 1));

    // `--report json` summarizes every leaf column by key path.
    let res = run(&["scan", "--quiet", "--report", "json", src.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&res.stdout).unwrap();
    let cols = v["columns"].as_array().unwrap();
    let names: Vec<&str> = cols.iter().map(|c| c["column"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "visit_id",
            "address.city",
            "address.state",
            "contacts[].phone",
            "contacts[].kind",
            "admit_datetime"
        ]
    );
    let get = |name: &str| cols.iter().find(|c| c["column"] == name).unwrap();
    assert_eq!(get("contacts[].phone")["class"], "PHONE");
    assert_eq!(get("contacts[].phone")["findings"], 3);
    assert_eq!(get("address.state")["class"], "keep");
    assert_eq!(get("visit_id")["class"], "OTHER_ID");
}

#[test]
fn truncated_or_foreign_file_is_a_clear_error_and_leaves_nothing() {
    let (dir, key) = keyed_dir();
    let good = dir.path().join("patients.parquet");
    write_patients(&good);
    let bytes = std::fs::read(&good).unwrap();
    for (name, data) in [
        ("cut.parquet", bytes[..bytes.len() - 100].to_vec()),
        ("text.parquet", b"Id,SSN\n1,536-22-8726\n".to_vec()),
    ] {
        let src = dir.path().join(name);
        std::fs::write(&src, &data).unwrap();
        let out = dir.path().join(format!("out-{name}"));
        let res = scrub(&src, &out, &key);
        assert_eq!(res.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&res.stderr);
        assert!(err.contains(name) && err.contains("Parquet"), "{err}");
        assert!(
            !err.contains("536") && !err.contains("Gleason"),
            "no value in errors: {err}"
        );
        assert!(!out.exists(), "no output left for {name}");
        let scan = run(&["scan", "--quiet", src.to_str().unwrap()]);
        assert_eq!(scan.status.code(), Some(2), "{name}");
    }
}

/// A file written by another writer (pyarrow: its own list layout, dictionary pages, a UTC
/// timestamp, a large string, per-column codecs, three row groups) comes back the same shape
/// with every identifier changed; skipped with a note where pyarrow is not installed.
#[test]
fn pyarrow_written_file_round_trips() {
    let have = Command::new("python3")
        .args(["-c", "import pyarrow"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        println!("note: pyarrow not installed; skipping the pyarrow-written fixture");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen_parquet_fixture.py");
    let (dir, key) = keyed_dir();
    let src = dir.path().join("py.parquet");
    let out = dir.path().join("out.parquet");
    let py = |args: &[&Path]| {
        let res = Command::new("python3")
            .arg(&script)
            .args(args)
            .output()
            .unwrap();
        assert!(
            res.status.success(),
            "{}{}",
            String::from_utf8_lossy(&res.stdout),
            String::from_utf8_lossy(&res.stderr)
        );
    };
    py(&[Path::new("write"), &src]);
    scrub_ok(&src, &out, &key);
    py(&[Path::new("check"), &src, &out]);
}

/// Numbers that identify no one, booleans and an empty file come back with the same values
/// and row groups.
#[test]
fn files_with_nothing_to_change_pass_through() {
    let (dir, key) = keyed_dir();
    let schema = Arc::new(Schema::new(vec![
        Field::new("weight_kg", DataType::Float64, true),
        Field::new("count", DataType::Int64, false),
        Field::new("dose_mg", DataType::Int32, true),
        Field::new("flag", DataType::Boolean, true),
    ]));
    let batch = |n: i64| {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(arrow_array::Float64Array::from(vec![
                    Some(70.5),
                    None,
                    Some(81.25),
                ])),
                Arc::new(Int64Array::from(vec![n, n + 1, n + 2])),
                Arc::new(Int32Array::from(vec![Some(500), Some(250), None])),
                Arc::new(arrow_array::BooleanArray::from(vec![
                    Some(true),
                    None,
                    Some(false),
                ])),
            ],
        )
        .unwrap()
    };
    let src = dir.path().join("vitals.parquet");
    let mut w = ArrowWriter::try_new(File::create(&src).unwrap(), schema.clone(), None).unwrap();
    w.write(&batch(1)).unwrap();
    w.flush().unwrap();
    w.write(&batch(100)).unwrap();
    w.close().unwrap();
    let empty = dir.path().join("empty.parquet");
    ArrowWriter::try_new(File::create(&empty).unwrap(), schema.clone(), None)
        .unwrap()
        .close()
        .unwrap();
    for (src, groups) in [(&src, vec![3, 3]), (&empty, vec![])] {
        let out = dir.path().join("out.parquet");
        scrub_ok(src, &out, &key);
        let (before, after) = (read(src), read(&out));
        assert_eq!(after.schema, before.schema);
        assert_eq!(after.group_rows, groups);
        assert_eq!(after.batches, before.batches, "values identical");
    }
}

/// A dictionary column replays each value's findings for every row that uses it: the
/// summary of a scrub without a report file (which only counts) must count each row, as the
/// same scrub with a report file does.
#[test]
fn dictionary_findings_count_once_per_row_without_a_report_file() {
    let (dir, key) = keyed_dir();
    let src = dir.path().join("people.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "first_name",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            false,
        ),
        Field::new("ssn", DataType::Utf8, false),
    ]));
    let names = ["Maria", "James", "Wei"];
    let first: DictionaryArray<Int32Type> = (0..90).map(|i| names[i % 3]).collect();
    let ssn: Vec<String> = (0..90)
        .map(|i| format!("{:03}-45-{:04}", 120 + i, 1000 + i))
        .collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(first), Arc::new(StringArray::from(ssn))],
    )
    .unwrap();
    write_batch(&src, schema, &batch);
    let summary = |report: bool| {
        let out = dir.path().join(format!("out-{report}.parquet"));
        let mut args = vec![
            "scrub".to_string(),
            "--key-file".into(),
            key.display().to_string(),
            src.display().to_string(),
            "-o".into(),
            out.display().to_string(),
        ];
        if report {
            args.push("--report-file".into());
            args.push(dir.path().join("r.jsonl").display().to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        let line = err
            .lines()
            .find(|l| l.contains("finding(s)"))
            .unwrap_or("")
            .to_string();
        line.split("finding(s)").nth(1).unwrap_or("").to_string()
    };
    let without = summary(false);
    assert!(
        without.contains("NAME 90") && without.contains("SSN 90"),
        "{without}"
    );
    assert_eq!(without, summary(true));
}

/// String columns whose chunks are all dictionary-encoded are read as dictionaries and each
/// distinct value is rewritten once per chunk: the scrubbed values and every finding (field,
/// row, entity, rule) are those of the same rows stored plain, and of a file whose writer
/// gave up its dictionaries part way (plain pages after dictionary ones), on one thread and
/// on two.
#[test]
fn dictionary_encoded_columns_scrub_as_plain_ones_do() {
    let (dir, key) = keyed_dir();
    let schema = patients_schema();
    let rows: Vec<Row> = ROWS.iter().cycle().take(ROWS.len() * 40).copied().collect();
    let write = |name: &str, props: WriterProperties| {
        let path = dir.path().join(name);
        let mut w = ArrowWriter::try_new(File::create(&path).unwrap(), schema.clone(), Some(props))
            .unwrap();
        for part in rows.chunks(100) {
            w.write(&patients_batch(&schema, part)).unwrap();
            w.flush().unwrap();
        }
        w.close().unwrap();
        path
    };
    let dict = write("dict.parquet", WriterProperties::builder().build());
    let plain = write(
        "plain.parquet",
        WriterProperties::builder()
            .set_dictionary_enabled(false)
            .build(),
    );
    let mixed = write(
        "mixed.parquet",
        WriterProperties::builder()
            .set_dictionary_page_size_limit(64)
            .set_data_page_row_count_limit(8)
            .set_write_batch_size(8)
            .build(),
    );
    let scan = |src: &Path| -> Vec<String> {
        scan_jsonl(src)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                format!("{} {} {} {}", v["row"], v["field"], v["entity"], v["rule"])
            })
            .collect()
    };
    let want = scan(&plain);
    assert!(want.len() > rows.len() * 5, "{} findings", want.len());
    assert_eq!(scan(&dict), want);
    assert_eq!(scan(&mixed), want);
    for threads in ["1", "2"] {
        let scrubbed = |src: &Path| -> Vec<RecordBatch> {
            let out = dir.path().join(format!("out-{threads}.parquet"));
            let o = scrub_on(threads, src, &out, &key);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let batches = read(&out).batches;
            arrow_select::concat::concat_batches(&batches[0].schema(), &batches)
                .map(|b| vec![b])
                .unwrap()
        };
        let from_plain = scrubbed(&plain);
        assert_eq!(from_plain[0].num_rows(), rows.len());
        assert_eq!(scrubbed(&dict), from_plain, "{threads} thread(s)");
        assert_eq!(scrubbed(&mixed), from_plain, "{threads} thread(s)");
    }
}

/// Kept columns of a file without a page index are copied into the output chunk for chunk,
/// bytes as they were, on one thread and on two alike; the other columns are rewritten. A file
/// with a page index has every column written (the footer cannot mix indexed chunks with
/// copied ones) and scrubs the same on any thread count.
#[test]
fn kept_columns_are_copied_as_they_are() {
    let (dir, key) = keyed_dir();
    let schema = patients_schema();
    let write = |name: &str, props: WriterProperties| {
        let path = dir.path().join(name);
        let mut w = ArrowWriter::try_new(File::create(&path).unwrap(), schema.clone(), Some(props))
            .unwrap();
        for part in [&ROWS[..3], &ROWS[3..]] {
            w.write(&patients_batch(&schema, part)).unwrap();
            w.flush().unwrap();
        }
        w.close().unwrap();
        path
    };
    // A page per row: chunks the scrub's own writer would lay out otherwise, so only a copy
    // has their bytes.
    let paged = || {
        WriterProperties::builder()
            .set_data_page_row_count_limit(1)
            .set_write_batch_size(1)
    };
    let unindexed = write(
        "unindexed.parquet",
        paged()
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_offset_index_disabled(true)
            .build(),
    );
    let indexed = write("indexed.parquet", paged().build());
    // Each column chunk's bytes, by column name, row group after row group.
    let chunks = |path: &Path| -> HashMap<String, Vec<Vec<u8>>> {
        use parquet::file::reader::FileReader;
        let bytes = std::fs::read(path).unwrap();
        let r =
            parquet::file::serialized_reader::SerializedFileReader::new(File::open(path).unwrap())
                .unwrap();
        let mut out: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        for g in r.metadata().row_groups() {
            for c in g.columns() {
                let (start, len) = c.byte_range();
                let chunk = bytes[start as usize..(start + len) as usize].to_vec();
                out.entry(c.column_path().string()).or_default().push(chunk);
            }
        }
        out
    };
    for (src, copies) in [(&unindexed, true), (&indexed, false)] {
        let mut outs = Vec::new();
        for threads in ["1", "2"] {
            let out = dir.path().join(format!("out-{threads}.parquet"));
            let o = scrub_on(threads, src, &out, &key);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            outs.push(std::fs::read(&out).unwrap());
            let (before, after) = (chunks(src), chunks(&out));
            for kept in ["STATE", "GENDER"] {
                assert_eq!(before[kept] == after[kept], copies, "{kept} {src:?}");
            }
            assert_ne!(before["SSN"], after["SSN"]);
            let (r0, r1) = (read(src), read(&out));
            assert_eq!(strings(&r0, "STATE"), strings(&r1, "STATE"));
            assert_eq!(dict_strings(&r0, "GENDER"), dict_strings(&r1, "GENDER"));
            assert_eq!(r1.group_rows, r0.group_rows);
            assert_eq!(r1.schema, r0.schema);
            assert_no_planted(&r1);
            pyarrow_agrees(src, &out);
        }
        assert!(outs[0] == outs[1], "same bytes on 1 and 2 threads");
    }
}

/// A column whose input pages are plain (its writer had no dictionary for it, or gave one up
/// for too many distinct values) is written plain; a dictionary-encoded column keeps its
/// dictionary.
#[test]
fn plain_input_columns_are_written_plain() {
    let (dir, key) = keyed_dir();
    let schema = Arc::new(Schema::new(vec![
        Field::new("mrn", DataType::Utf8, false),
        Field::new("city", DataType::Utf8, false),
    ]));
    let n = 500;
    let mrns: Vec<String> = (0..n)
        .map(|i| format!("MRN{:07}", 4_000_000 + i * 7))
        .collect();
    let cities: Vec<&str> = (0..n).map(|i| ["Springfield", "Lowell"][i % 2]).collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(mrns)),
            Arc::new(StringArray::from(cities)),
        ],
    )
    .unwrap();
    let src = dir.path().join("plain.parquet");
    let props = WriterProperties::builder()
        .set_column_dictionary_enabled(ColumnPath::from("mrn"), false)
        .build();
    let mut w = ArrowWriter::try_new(File::create(&src).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let out = dir.path().join("out.parquet");
    scrub_ok(&src, &out, &key);
    let dictionary = |path: &Path| -> Vec<(String, bool)> {
        let r =
            parquet::file::serialized_reader::SerializedFileReader::new(File::open(path).unwrap())
                .unwrap();
        use parquet::file::reader::FileReader;
        let rg = r.metadata().row_group(0).clone();
        rg.columns()
            .iter()
            .map(|c| {
                (
                    c.column_path().string(),
                    c.dictionary_page_offset().is_some(),
                )
            })
            .collect()
    };
    let want = vec![("mrn".to_string(), false), ("city".to_string(), true)];
    assert_eq!(dictionary(&src), want, "the fixture");
    assert_eq!(dictionary(&out), want, "the scrubbed file");
    assert!(strings(&read(&out), "mrn")
        .iter()
        .all(|v| !v.as_deref().unwrap_or("").starts_with("MRN4")));
}

/// Row groups scrubbed side by side (more than one thread, no report) give the file the
/// batch-wise path gives, byte for byte, over groups of several sizes and an empty one; a row
/// group with corrupt data in the middle fails the run in both paths, naming the group and
/// leaving no output.
#[test]
fn row_groups_in_parallel_write_what_one_thread_writes() {
    let (dir, key) = keyed_dir();
    let schema = patients_schema();
    let src = dir.path().join("groups.parquet");
    let mut w = ArrowWriter::try_new(File::create(&src).unwrap(), schema.clone(), None).unwrap();
    for rows in [&ROWS[..1], ROWS, &ROWS[..0], &ROWS[1..], &ROWS[..2], ROWS] {
        if !rows.is_empty() {
            w.write(&patients_batch(&schema, rows)).unwrap();
        }
        w.flush().unwrap();
    }
    w.close().unwrap();
    let with = |threads: &str, src: &Path, out: &Path| scrub_on(threads, src, out, &key);
    let mut outputs = Vec::new();
    for threads in ["1", "2", "3"] {
        let out = dir.path().join(format!("out-{threads}.parquet"));
        let res = with(threads, &src, &out);
        assert_eq!(
            res.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
        outputs.push(std::fs::read(&out).unwrap());
    }
    assert!(
        outputs.windows(2).all(|p| p[0] == p[1]),
        "same bytes on 1, 2 and 3 threads"
    );
    let before = read(&src);
    assert_eq!(
        read(&dir.path().join("out-3.parquet")).group_rows,
        before.group_rows
    );

    // Garble the data pages of the fourth row group (its bytes, not the footer).
    let meta = ParquetRecordBatchReaderBuilder::try_new(File::open(&src).unwrap())
        .unwrap()
        .metadata()
        .clone();
    let rg = meta.row_group(3);
    let start = rg.columns().iter().map(|c| c.byte_range().0).min().unwrap() as usize;
    let mut bytes = std::fs::read(&src).unwrap();
    for b in &mut bytes[start + 4..start + 200] {
        *b = !*b;
    }
    let bad = dir.path().join("bad.parquet");
    std::fs::write(&bad, &bytes).unwrap();
    for threads in ["1", "3"] {
        let out = dir.path().join(format!("bad-out-{threads}.parquet"));
        let res = with(threads, &bad, &out);
        let err = String::from_utf8_lossy(&res.stderr);
        assert_eq!(res.status.code(), Some(2), "{threads} threads: {err}");
        assert!(err.contains("bad.parquet"), "{err}");
        assert!(!out.exists(), "no output left on {threads} threads");
    }
}
