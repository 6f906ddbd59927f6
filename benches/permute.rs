//! The keyed id permutation alone: a chunk's worth of 7-digit ids (the digit count of a
//! multi-million-row table's keys) permuted one at a time, against the same ids prefetched
//! side by side first. `cargo bench --bench permute`; figures are ids per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use phiscrub::entity::Entity;
use phiscrub::transform::key::Key;
use phiscrub::transform::permute::{digits, prefetch, RoundKey};

/// Ids of a chunk: consecutive keys with gaps, as a serial column after deletes.
fn ids(n: usize) -> Vec<String> {
    (0..n as u64)
        .map(|i| (3_000_000 + i * 3 + i % 7).to_string())
        .collect()
}

fn bench(c: &mut Criterion) {
    let key = match Key::from_bytes(&[7u8; 32]) {
        Ok(k) => RoundKey::derive(&k),
        Err(e) => panic!("bench key: {e}"),
    };
    let ids = ids(20_000);
    let max = Some(2_147_483_647u128);
    let mut g = c.benchmark_group("permute");
    g.throughput(Throughput::Elements(ids.len() as u64));
    let mut out = Vec::with_capacity(16);
    g.bench_function("one at a time", |b| {
        b.iter(|| {
            for v in &ids {
                out.clear();
                digits(&key, Entity::OtherId, v.as_bytes(), max, &mut out);
            }
        })
    });
    g.bench_function("prefetched", |b| {
        b.iter(|| {
            prefetch(
                &key,
                Entity::OtherId,
                ids.iter().map(|v| (v.as_bytes(), max)),
            );
            for v in &ids {
                out.clear();
                digits(&key, Entity::OtherId, v.as_bytes(), max, &mut out);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
