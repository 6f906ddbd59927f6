//! The floor under every keyed scrub: one HMAC-SHA256 (`Key::mac`, from the key's pad
//! states), and the two whole-cell replacements built on it, a token and a shape, on values
//! of the length PHI cells have. A distinct identifier cell costs at least one of these, so
//! cells per megabyte times this cost bounds a format's MB/s per core from above, whatever
//! the parsing around it does. `cargo bench --bench keyed`; figures are values per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use phiscrub::entity::Entity;
use phiscrub::transform::key::Key;
use phiscrub::transform::{shape, token};

/// Distinct SSN-like values (no two alike, so nothing is answered from a cache).
fn values(n: usize) -> Vec<String> {
    (0..n as u64)
        .map(|i| {
            let v = 100_000_000 + i * 7_919 % 899_999_999;
            format!(
                "{:03}-{:02}-{:04}",
                v / 1_000_000,
                v / 10_000 % 100,
                v % 10_000
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let key = match Key::from_bytes(&[7u8; 32]) {
        Ok(k) => k,
        Err(e) => panic!("bench key: {e}"),
    };
    let vals = values(10_000);
    let mut g = c.benchmark_group("keyed");
    g.throughput(Throughput::Elements(vals.len() as u64));
    g.bench_function("hmac", |b| {
        b.iter(|| {
            let mut acc = 0u8;
            for v in &vals {
                acc ^= key.mac(&[b"token", b"SSN", v.as_bytes()])[0];
            }
            acc
        })
    });
    let mut out = Vec::with_capacity(64);
    g.bench_function("token", |b| {
        b.iter(|| {
            for v in &vals {
                out.clear();
                token::token_of(&key, Entity::Ssn, v.as_bytes(), &mut out);
            }
        })
    });
    g.bench_function("shape", |b| {
        b.iter(|| {
            for v in &vals {
                out.clear();
                shape::shape_of(&key, Entity::Ssn, v.as_bytes(), &mut out);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
