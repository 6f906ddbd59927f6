//! Detector and pipeline throughput on synthetic log and note text (no files needed).
//! `cargo bench --bench detect`; figures are MB/s of input on one core.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use phiscrub::detect::{self, Context};
use phiscrub::pipeline::{self, Engine, EntityFilter, Mode, RunOptions};
use phiscrub::policy::Policy;
use phiscrub::transform::{key::Key, Transformer};

/// A fixed-seed mix of clean log lines and lines carrying identifiers (about 1 in 8).
fn corpus(bytes: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::with_capacity(bytes + 256);
    while out.len() < bytes {
        let r = next();
        let line = match r % 8 {
            0 => format!(
                "2024-05-{:02}T10:{:02}:01Z INFO api patient_name=\"John Smith\" ssn={:03}-{:02}-{:04} phone=(312) 447-{:04}\n",
                r % 28 + 1, r % 60, 100 + r % 500, 10 + r % 80, 1000 + r % 8000, 1000 + r % 8000
            ),
            1 => format!(
                "ts=1716{:06} level=warn msg=\"login\" email=user{}@mercy-health.org client_ip=73.{}.{}.9\n",
                r % 1_000_000, r % 9999, r % 250, (r >> 8) % 250
            ),
            _ => format!(
                "ts=1716{:06} level=info svc=worker-{} req={:016x} path=/api/v1/items/{} status=200 dur={}ms size={}\n",
                r % 1_000_000, r % 32, r, r % 100_000, r % 900, r % 90_000
            ),
        };
        out.extend_from_slice(line.as_bytes());
    }
    out
}

fn bench(c: &mut Criterion) {
    let det = detect::builtin().expect("built-in packs compile");
    let text = corpus(8 << 20);
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(10);
    g.bench_function("scan_logs_1core", |b| {
        let mut scanner = det.scanner();
        let mut out = Vec::new();
        b.iter(|| {
            out.clear();
            scanner.scan(&text, 0, &Context::default(), &mut out);
            out.len()
        })
    });
    let engine = Engine {
        detector: det.clone(),
        transformer: Transformer::new(Policy::defaults(true), Key::from_bytes(&[7; 32]).ok()),
        filter: EntityFilter::default(),
        min_score: 0.5,
    };
    g.bench_function("scrub_logs_1thread", |b| {
        let mut out = Vec::with_capacity(text.len() + 1024);
        b.iter(|| {
            out.clear();
            let opts = RunOptions {
                mode: Mode::Scrub,
                threads: 1,
                limits: Default::default(),
                interactive: false,
                char_offsets: false,
                fingerprints: false,
                positions: false,
                tally: false,
                progress: None,
                classes: None,
                table: None,
                subject_column: None,
            };
            pipeline::run(&engine, &mut &text[..], Some(&mut out), opts, |_| Ok(()))
                .map(|s| s.findings)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
