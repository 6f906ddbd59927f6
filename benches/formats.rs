//! Structured-format throughput on data built in memory (no files needed beyond a temporary
//! Parquet file): keyed scrub of a patients-like CSV and the same rows as Parquet, one thread.
//! `cargo bench --bench formats`; CSV figures are MB/s of the file, Parquet figures MB/s of
//! its uncompressed column data (the footer's row-group sizes), the unit the targets use.

use std::sync::Arc;

use arrow_array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use phiscrub::classify::ColumnRules;
use phiscrub::detect;
use phiscrub::pipeline::{Engine, EntityFilter, Mode, RunOptions};
use phiscrub::policy::Policy;
use phiscrub::transform::{key::Key, Transformer};

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Ana",
    "Wei",
    "Gleason633",
    "Priya",
];
const LAST: &[&str] = &[
    "Smith",
    "Garcia",
    "O'Neil-Smith",
    "Nguyen",
    "Okafor",
    "Patel",
];
const CITIES: &[&str] = &["Springfield", "Boston", "Worcester", "Lowell"];
const NOTES: &[&str] = &["stable, no change", "follow-up in 3 months", "labs drawn"];

/// One patients-like row per `i` (fixed, no randomness): ids, SSNs, names, address, city, ZIP,
/// phone, a birth date, kept columns and a notes column that sometimes names a phone.
struct Row {
    id: String,
    birth: i32,
    ssn: String,
    first: &'static str,
    last: &'static str,
    address: String,
    city: &'static str,
    zip: String,
    phone: String,
    amount: f64,
    code: i64,
    notes: String,
}

fn rows(n: usize) -> Vec<Row> {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    (0..n)
        .map(|i| {
            let r = next();
            let phone = format!("(617) {}-{:04}", 200 + r % 700, r % 10_000);
            Row {
                id: format!(
                    "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                    r as u32,
                    (r >> 32) as u16,
                    (r >> 48) % 4096,
                    i % 4096,
                    next() >> 16
                ),
                birth: -10_000 + (r % 20_000) as i32,
                ssn: format!("{:03}-{:02}-{:04}", 100 + r % 500, 10 + r % 80, r % 10_000),
                first: FIRST[(r % 7) as usize],
                last: LAST[((r >> 8) % 6) as usize],
                address: format!("{} Oak St", r % 9999),
                city: CITIES[((r >> 16) % 4) as usize],
                zip: format!("0{}", 1000 + r % 1800),
                phone: phone.clone(),
                amount: (r % 100_000) as f64 / 100.0,
                code: (r % 900_000) as i64 + 100_000,
                notes: if r % 10 == 0 {
                    format!("called {phone} re refill")
                } else {
                    NOTES[(r % 3) as usize].to_string()
                },
            }
        })
        .collect()
}

fn csv(rows: &[Row]) -> Vec<u8> {
    let mut out = b"Id,BIRTHDATE,SSN,FIRST,LAST,ADDRESS,CITY,STATE,ZIP,PHONE,HEALTHCARE_EXPENSES,CODE,NOTES\n".to_vec();
    for r in rows {
        let (y, m, d) = civil(r.birth);
        out.extend_from_slice(
            format!(
                "{},{y:04}-{m:02}-{d:02},{},{},{},{},{},MA,{},{},{:.2},{},{}\n",
                r.id,
                r.ssn,
                r.first,
                r.last,
                r.address,
                r.city,
                r.zip,
                r.phone,
                r.amount,
                r.code,
                r.notes
            )
            .as_bytes(),
        );
    }
    out
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil(days: i32) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i32::from(m <= 2);
    (y, m, d)
}

fn parquet_file(rows: &[Row], path: &std::path::Path) -> u64 {
    let s = |f: &dyn Fn(&Row) -> String| -> ArrayRef {
        Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("Id", DataType::Utf8, false),
        Field::new("BIRTHDATE", DataType::Date32, true),
        Field::new("SSN", DataType::Utf8, true),
        Field::new("FIRST", DataType::Utf8, true),
        Field::new("LAST", DataType::Utf8, true),
        Field::new("ADDRESS", DataType::Utf8, true),
        Field::new("CITY", DataType::Utf8, true),
        Field::new("ZIP", DataType::Utf8, true),
        Field::new("PHONE", DataType::Utf8, true),
        Field::new("HEALTHCARE_EXPENSES", DataType::Float64, true),
        Field::new("CODE", DataType::Int64, true),
        Field::new("NOTES", DataType::Utf8, true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        s(&|r| r.id.clone()),
        Arc::new(Date32Array::from(
            rows.iter().map(|r| r.birth).collect::<Vec<_>>(),
        )),
        s(&|r| r.ssn.clone()),
        s(&|r| r.first.to_string()),
        s(&|r| r.last.to_string()),
        s(&|r| r.address.clone()),
        s(&|r| r.city.to_string()),
        s(&|r| r.zip.clone()),
        s(&|r| r.phone.clone()),
        Arc::new(Float64Array::from(
            rows.iter().map(|r| r.amount).collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            rows.iter().map(|r| r.code).collect::<Vec<_>>(),
        )),
        s(&|r| r.notes.clone()),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols).expect("batch");
    let f = std::fs::File::create(path).expect("temp file");
    let mut w = parquet::arrow::ArrowWriter::try_new(f, schema, None).expect("writer");
    for chunk in 0..batch.num_rows().div_ceil(16_384) {
        let start = chunk * 16_384;
        w.write(&batch.slice(start, 16_384.min(batch.num_rows() - start)))
            .expect("write");
        w.flush().expect("row group");
    }
    let meta = w.close().expect("close");
    meta.row_groups()
        .iter()
        .map(|g| u64::try_from(g.total_byte_size()).unwrap_or(0))
        .sum()
}

fn bench(c: &mut Criterion) {
    let engine = Engine {
        detector: detect::builtin().expect("built-in packs compile"),
        transformer: Transformer::new(Policy::defaults(true), Key::from_bytes(&[7; 32]).ok()),
        filter: EntityFilter::default(),
        min_score: 0.5,
    };
    let columns = ColumnRules::builtin().expect("column rules");
    let opts = RunOptions {
        mode: Mode::Scrub,
        positions: false,
        // What `phiscrub scrub` without a report file asks for.
        tally: true,
        ..RunOptions::default()
    };
    let data = rows(40_000);
    let text = csv(&data);
    let mut g = c.benchmark_group("formats");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("csv_scrub_keyed_1thread", |b| {
        let mut out: Vec<u8> = Vec::with_capacity(text.len() * 2);
        b.iter(|| {
            out.clear();
            phiscrub::formats::csv::run(
                &engine,
                &columns,
                &mut &text[..],
                Some(&mut out),
                None,
                &opts,
                &mut |_| Ok(()),
            )
            .expect("csv scrub")
            .findings
        })
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("patients.parquet");
    let uncompressed = parquet_file(&data, &path);
    g.throughput(Throughput::Bytes(uncompressed));
    g.bench_function("parquet_scrub_keyed_1thread", |b| {
        let mut out: Vec<u8> = Vec::new();
        b.iter(|| {
            out.clear();
            phiscrub::formats::parquet::run(
                &engine,
                &columns,
                &path,
                Some(&mut out),
                &opts,
                &mut |_| Ok(()),
            )
            .expect("parquet scrub")
            .findings
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
