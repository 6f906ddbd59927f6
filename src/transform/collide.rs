//! Collision watch for shape-preserving replacements. A token carries 60 keyed bits and a
//! numeric key is permuted (a bijection), so neither collides in practice; a shape-preserving
//! SSN has only the 10⁸ values of the never-issued 9xx area, so among ten thousand distinct
//! SSNs two are likely to get the same replacement (the birthday bound). In a unique column
//! that breaks the restore; in any column it merges two people. So every shaped value of a
//! structured column is checked here, and so is every changed value of a column a dump
//! declares unique, whatever its action (a mask or a placeholder collides too): two different
//! inputs with one output is a collision, which the caller turns into an error naming the
//! column and both rows for a unique column, and a counted warning otherwise.
//!
//! Memory is bounded: after [`LIMIT`] distinct values the watch stops adding (and says so in
//! [`Collisions::summary`]); hashes only, never values.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Distinct shaped values remembered, over all columns (about 40 bytes each, so at most about
/// 40 MB: memory stays flat whatever the dump size).
pub const LIMIT: usize = 1_000_000;

const SHARDS: usize = 16;

/// Hash of (column, output) → hash of the input and the row it was first seen in.
type Shard = HashMap<u64, (u64, u64), PreHashed>;

/// Shaped outputs seen so far, by column, as hashes.
#[derive(Debug, Default)]
pub struct Collisions {
    /// Hash of (column, output) → hash of the input and the row it was first seen in.
    shards: [Mutex<Shard>; SHARDS],
    entries: AtomicUsize,
    /// Collisions per column.
    found: Mutex<BTreeMap<String, u64>>,
}

/// The map's keys are already SipHash outputs: hashing them again was a fifth of the check.
#[derive(Debug, Default, Clone, Copy)]
struct PreHashed;

impl std::hash::BuildHasher for PreHashed {
    type Hasher = PassThrough;
    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

/// Hands a `u64` key through as its own hash.
#[derive(Debug, Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; anything else still spreads.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

fn hash(parts: &[&[u8]]) -> u64 {
    let mut h = DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

impl Collisions {
    /// Records that `input` (normalized) became `output` in `column` at `row`; returns the row
    /// of a different input that already became the same output there.
    pub fn check(&self, column: &str, input: &[u8], output: &[u8], row: u64) -> Option<u64> {
        let out = hash(&[column.as_bytes(), output]);
        let inp = hash(&[input]);
        // Middle bits pick the shard: the map uses the low bits for buckets and the top ones
        // for its tags, and the key is its own hash.
        let shard = &self.shards[((out >> 32) as usize) % SHARDS];
        let Ok(mut map) = shard.lock() else {
            return None;
        };
        match map.get(&out) {
            Some(&(prev, first)) if prev != inp => {
                drop(map);
                if let Ok(mut f) = self.found.lock() {
                    *f.entry(column.to_string()).or_default() += 1;
                }
                Some(first)
            }
            Some(_) => None,
            None => {
                if self.entries.load(Ordering::Relaxed) < LIMIT {
                    map.insert(out, (inp, row));
                    self.entries.fetch_add(1, Ordering::Relaxed);
                }
                None
            }
        }
    }

    /// One line for the run summary when anything collided or the watch filled up; `None`
    /// when there is nothing to say.
    pub fn summary(&self) -> Option<String> {
        let found = self.found.lock().ok()?;
        let full = self.entries.load(Ordering::Relaxed) >= LIMIT;
        if found.is_empty() && !full {
            return None;
        }
        let mut parts: Vec<String> = found.iter().map(|(c, n)| format!("{c} {n}")).collect();
        if full {
            parts.push(format!(
                "(watch full after {LIMIT} values: later ones unchecked)"
            ));
        }
        Some(format!(
            "shape-preserving replacements collided (two values, one replacement): {}; \
             use `token` for those columns if they must stay distinct",
            parts.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_input_is_no_collision_different_input_is() {
        let c = Collisions::default();
        assert_eq!(c.check("p.ssn", b"123456789", b"912-34-5678", 1), None);
        assert_eq!(
            c.check("p.ssn", b"123456789", b"912-34-5678", 2),
            None,
            "a repeat"
        );
        assert_eq!(
            c.check("q.ssn", b"987654321", b"912-34-5678", 3),
            None,
            "other column"
        );
        assert_eq!(c.check("p.ssn", b"987654321", b"912-34-5678", 4), Some(1));
        let s = c.summary().unwrap();
        assert!(s.contains("p.ssn 1") && !s.contains("912"), "{s}");
        assert!(Collisions::default().summary().is_none());
    }
}
