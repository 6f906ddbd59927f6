//! Bad structured input, one table, every case through the binary: each is either a clear
//! error (exit 2, naming the file and the position, never a value, and no output file left) or
//! a documented pass-through (exit 0, output as stated).
//!
//! Pass-throughs, as documented in `formats::csv` and `formats::parquet`:
//! - an empty file and a header-only file come back byte for byte;
//! - ragged rows are rewritten, not rejected: a cell past the header's end is scanned;
//! - invalid UTF-8 in a cell is kept byte for byte wherever nothing is replaced (detection
//!   runs on bytes);
//! - a Parquet file with no string column keeps its data (numbers not classified as
//!   identifiers are copied).

use std::path::Path;
use std::process::{Command, Output, Stdio};

const KEY: &str = "5f1e0c7a9b3d2e4f6a8c0b1d3e5f7a9c2b4d6e8f0a1c3e5b7d9f1a3c5e7b9d0f";
/// Planted in every case: it must never appear in an error or (where replaced) the output.
const SSN: &str = "536-22-8726";

fn scrub(src: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phiscrub"))
        .env("PHISCRUB_KEY", KEY)
        .args(["scrub", "--quiet"])
        .arg(src)
        .arg("-o")
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

enum Want {
    /// Exit 2; stderr has each of these; no output file.
    Error(&'static [&'static str]),
    /// Exit 0; the output passes this check.
    Pass(fn(&[u8], &[u8])),
}

fn parquet(f: impl FnOnce(&Path)) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.parquet");
    f(&p);
    std::fs::read(p).unwrap()
}

/// One batch written as a Parquet file with the writer's `opts`.
fn parquet_of(
    batch: arrow_array::RecordBatch,
    opts: parquet::arrow::arrow_writer::ArrowWriterOptions,
) -> Vec<u8> {
    parquet(|p| {
        let f = std::fs::File::create(p).unwrap();
        let mut w =
            parquet::arrow::ArrowWriter::try_new_with_options(f, batch.schema(), opts).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    })
}

fn numbers_parquet() -> Vec<u8> {
    use arrow_array::{Float64Array, Int64Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let schema = Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("x", DataType::Float64, true),
    ]));
    let b = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![536_228_726, 2, 3])),
            Arc::new(Float64Array::from(vec![1.5, 2.5, 3.5])),
        ],
    )
    .unwrap();
    parquet_of(b, Default::default())
}

/// A Parquet file whose embedded Arrow schema (the `ARROW:schema` footer entry) makes the
/// parquet crate panic: the schema of [`numbers_parquet`] with the first byte that does so
/// zeroed (a field's type tag read as `NONE`), found here by trying each byte in turn.
fn panicking_schema_parquet() -> Vec<u8> {
    use base64::Engine as _;
    use parquet::file::metadata::KeyValue;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let good = numbers_parquet();
    let reader = SerializedFileReader::new(bytes::Bytes::from(good)).unwrap();
    let meta = reader.metadata().file_metadata();
    let kv = meta.key_value_metadata().unwrap();
    let b64 = kv.iter().find(|k| k.key == "ARROW:schema").unwrap();
    let ipc = base64::engine::general_purpose::STANDARD
        .decode(b64.value.as_deref().unwrap())
        .unwrap();
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let bad = (0..ipc.len()).find_map(|i| {
        let mut m = ipc.clone();
        m[i] = 0;
        let v = base64::engine::general_purpose::STANDARD.encode(&m);
        let kv = vec![KeyValue::new("ARROW:schema".into(), v.clone())];
        let panics = std::panic::catch_unwind(|| {
            parquet::arrow::parquet_to_arrow_schema(meta.schema_descr(), Some(&kv))
        })
        .is_err();
        panics.then_some(v)
    });
    std::panic::set_hook(quiet);
    let bad = bad.expect("some one-byte change of the schema panics the reader");
    use arrow_array::{Int64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::arrow_writer::ArrowWriterOptions;
    use parquet::file::properties::WriterProperties;
    use std::sync::Arc;
    let schema = Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("ssn", DataType::Utf8, true),
    ]));
    let b = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![1, 2])),
            Arc::new(StringArray::from(vec![SSN, "x"])),
        ],
    )
    .unwrap();
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![KeyValue::new("ARROW:schema".into(), bad)]))
        .build();
    let opts = ArrowWriterOptions::new()
        .with_properties(props)
        .with_skip_arrow_metadata(true);
    parquet_of(b, opts)
}

fn same_bytes(src: &[u8], out: &[u8]) {
    assert_eq!(src, out);
}

#[test]
fn bad_structured_input_table() {
    let good_pq = numbers_parquet();
    let n = good_pq.len();
    let mut corrupt_footer = good_pq.clone();
    for b in &mut corrupt_footer[n - 40..n - 8] {
        *b ^= 0x5a;
    }
    let cases: Vec<(&str, &str, Vec<u8>, Want)> = vec![
        (
            "unbalanced quote",
            "open.csv",
            format!("a,ssn\n1,\"{SSN}\n2,3\n").into_bytes(),
            Want::Error(&["open.csv", "unterminated quoted field", "byte", "record 2"]),
        ),
        (
            "stray quote",
            "stray.csv",
            format!("a,ssn\n1,53\"{SSN}\n").into_bytes(),
            Want::Error(&["stray.csv", "stray quote", "byte", "record 2"]),
        ),
        (
            "text after a closing quote",
            "after.csv",
            format!("a,ssn\n1,\"{SSN}\"x\n").into_bytes(),
            Want::Error(&["after.csv", "after the closing quote", "record 2"]),
        ),
        (
            "ragged rows: extra cells scanned",
            "ragged.csv",
            format!("a,b\n1,2,3,{SSN}\n4\n").into_bytes(),
            Want::Pass(|_, out| {
                let t = String::from_utf8(out.to_vec()).unwrap();
                assert!(!t.contains(SSN), "{t}");
                assert_eq!(t.lines().count(), 3);
                assert!(t.starts_with("a,b\n1,2,3,") && t.ends_with("\n4\n"), "{t}");
            }),
        ),
        (
            "header only",
            "header.csv",
            b"a,ssn\r\n".to_vec(),
            Want::Pass(same_bytes),
        ),
        ("empty csv", "empty.csv", Vec::new(), Want::Pass(same_bytes)),
        (
            "empty jsonl",
            "empty.jsonl",
            Vec::new(),
            Want::Pass(same_bytes),
        ),
        (
            "invalid UTF-8 in cells",
            "latin1.csv",
            format!("name,ssn,notes\nJo\u{0}n,{SSN},caf\u{0} ok\n")
                .replace('\u{0}', "\u{1}")
                .into_bytes()
                .into_iter()
                .map(|b| if b == 1 { 0xe9 } else { b })
                .collect(),
            Want::Pass(|_, out| {
                let t = String::from_utf8_lossy(out);
                assert!(!t.contains(SSN) && !t.contains("Jo"), "{t}");
                assert!(out.ends_with(b",caf\xe9 ok\n"), "bytes kept: {t}");
            }),
        ),
        (
            "malformed JSON line",
            "events.jsonl",
            format!("{{\"ssn\":\"{SSN}\"}}\n{{\"ssn\": \n").into_bytes(),
            Want::Error(&["events.jsonl", "malformed JSON", "line 2", "byte"]),
        ),
        (
            "truncated Parquet",
            "cut.parquet",
            good_pq[..n - 30].to_vec(),
            Want::Error(&["cut.parquet", "Parquet"]),
        ),
        (
            "corrupt Parquet footer",
            "corrupt.parquet",
            corrupt_footer,
            Want::Error(&["corrupt.parquet", "Parquet"]),
        ),
        (
            // The reader panics inside the parquet crate; the panic's own message is not
            // printed (it could quote data), only where it happened.
            "Parquet whose Arrow schema panics the reader",
            "schema.parquet",
            panicking_schema_parquet(),
            Want::Error(&["schema.parquet", "Parquet", "message is withheld"]),
        ),
        (
            "not Parquet at all",
            "text.parquet",
            format!("Id,SSN\n1,{SSN}\n").into_bytes(),
            Want::Error(&["text.parquet", "Parquet"]),
        ),
        (
            "Parquet with no string column",
            "numbers.parquet",
            good_pq.clone(),
            Want::Pass(|src, out| {
                use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
                let rows = |b: &[u8]| {
                    let f = tempfile::tempfile().unwrap();
                    std::io::Write::write_all(&mut &f, b).unwrap();
                    let r = ParquetRecordBatchReaderBuilder::try_new(f)
                        .unwrap()
                        .build()
                        .unwrap();
                    r.map(Result::unwrap).collect::<Vec<_>>()
                };
                assert_eq!(rows(src), rows(out), "data kept");
            }),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (what, name, data, want) in cases {
        let src = dir.path().join(name);
        std::fs::write(&src, &data).unwrap();
        let out = dir.path().join(format!("out-{name}"));
        let res = scrub(&src, &out);
        let err = String::from_utf8_lossy(&res.stderr);
        assert!(
            !err.contains(SSN) && !err.contains("8726"),
            "{what}: a value in {err}"
        );
        assert!(
            !err.contains("not supported") && !err.contains("RUST_BACKTRACE"),
            "{what}: a dependency's panic message in {err}"
        );
        match want {
            Want::Error(parts) => {
                assert_eq!(res.status.code(), Some(2), "{what}: {err}");
                for p in parts {
                    assert!(err.contains(p), "{what}: {p:?} not in {err}");
                }
                assert!(!out.exists(), "{what}: no output file");
                let leftovers: Vec<_> = std::fs::read_dir(dir.path())
                    .unwrap()
                    .filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with(".phiscrub-"))
                    .collect();
                assert!(leftovers.is_empty(), "{what}: temp file left");
            }
            Want::Pass(check) => {
                assert_eq!(res.status.code(), Some(0), "{what}: {err}");
                check(&data, &std::fs::read(&out).unwrap());
            }
        }
    }
}
