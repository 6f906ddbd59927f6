//! Collision watch for shape-preserving replacements. A token carries 60 keyed bits and a
//! numeric key is permuted (a bijection), so neither collides in practice; a shape-preserving
//! SSN has only the 10⁸ values of the never-issued 9xx area, so among ten thousand distinct
//! SSNs two are likely to get the same replacement (the birthday bound). In a unique column
//! that breaks the restore; in any column it merges two people. So every changed value of a
//! column a dump declares unique is checked here, whatever its action (a mask or a placeholder
//! collides too), and so are the shaped values of every other structured column: two
//! different inputs with one output is a collision, which the caller turns into an error
//! naming the column and both rows for a unique column, and a counted warning otherwise.
//!
//! Memory is bounded: after [`LIMIT`] distinct values the watch stops adding (and says so in
//! [`Collisions::summary`]); hashes only, never values.
//!
//! A warning-only check is exact for the first [`EXACT`] values; after that only outputs in a
//! keyless 1-in-[`SAMPLE`] slice of the hash space are remembered and checked, and their
//! collisions count [`SAMPLE`] times ("about" in the summary). Both values of a collision
//! have the same output, so they are in the slice together or not at all: the estimate is
//! unbiased, and a column that collides often is still named. Memory traffic was the cost: a
//! million remembered values are 32 MB, and each check of a shaped cell was a cache and TLB
//! miss, a seventh of a dump's time. A unique column's checks are always exact.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use twox_hash::XxHash3_64;

/// Distinct values remembered, over all columns (16 bytes each in tables at most three
/// quarters full: memory stays flat, under 32 MB, whatever the dump size).
pub const LIMIT: usize = 1_000_000;
/// Warning-only checks are exact while the watch holds fewer values than this.
pub const EXACT: usize = 1 << 16;
/// After [`EXACT`], a warning-only check looks at one output in this many.
pub const SAMPLE: u64 = 16;

const SHARDS: usize = 16;
/// Most slots of a shard: a power of two, at least 4/3 of the shard's share of [`LIMIT`].
const MAX_SLOTS: usize = (2 * LIMIT / SHARDS).next_power_of_two();
/// Slots of a shard when first used; it doubles as it fills.
const MIN_SLOTS: usize = 1 << 10;

/// One remembered output: the hash of (column, output), never 0 (0 marks a free slot), with
/// 32 bits of the input's hash and the row it was first seen in (saturating at 2³²).
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    out: u64,
    inp: u32,
    row: u32,
}

/// An open-addressing table with linear probing: a look-up is one cache line (the standard
/// map's separate control bytes made it two misses). It grows by doubling, so a small dump
/// keeps a small, cache-resident table.
#[derive(Debug, Default)]
struct Shard {
    slots: Vec<Slot>,
    /// Slots taken; at most three quarters of them, so a probe always ends.
    used: usize,
}

impl Shard {
    /// The index of the slot holding `out`, or of the free slot where it belongs.
    fn find(&self, out: u64) -> Option<usize> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut i = (out as usize) & mask;
        loop {
            let s = self.slots[i];
            if s.out == out || s.out == 0 {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds `slot` (whose output is not in the table); false when the shard is full.
    fn insert(&mut self, slot: Slot) -> bool {
        if (self.used + 1) * 4 > self.slots.len() * 3 {
            if self.slots.len() >= MAX_SLOTS {
                return false;
            }
            let bigger = (self.slots.len() * 2).max(MIN_SLOTS);
            let old = std::mem::replace(&mut self.slots, vec![Slot::default(); bigger]);
            for s in old.into_iter().filter(|s| s.out != 0) {
                if let Some(i) = self.find(s.out) {
                    self.slots[i] = s;
                }
            }
        }
        match self.find(slot.out) {
            Some(i) => {
                self.slots[i] = slot;
                self.used += 1;
                true
            }
            None => false,
        }
    }
}

/// Collisions of one column: counted exactly, and in the sampled slice.
#[derive(Debug, Default, Clone, Copy)]
struct Count {
    exact: u64,
    sampled: u64,
}

/// Shaped outputs seen so far, by column, as hashes.
#[derive(Debug, Default)]
pub struct Collisions {
    shards: [Mutex<Shard>; SHARDS],
    entries: AtomicUsize,
    /// Collisions per column.
    found: Mutex<BTreeMap<String, Count>>,
}

/// XXH3 of `bytes`, seeded (the column's own hash keys its outputs apart from another
/// column's). 64 bits: a million values give a false match once in about 10⁷ runs.
fn hash(seed: u64, bytes: &[u8]) -> u64 {
    XxHash3_64::oneshot_with_seed(seed, bytes)
}

impl Collisions {
    /// Records that `input` (normalized) became `output` in `column` at `row`; returns the row
    /// of a different input that already became the same output there. Every call is exact.
    pub fn check(&self, column: &str, input: &[u8], output: &[u8], row: u64) -> Option<u64> {
        self.look(column, input, output, row, true)
    }

    /// [`Collisions::check`] for a collision that is only counted for a warning: exact for
    /// the first [`EXACT`] values, sampled after (see the module's notes).
    pub fn count(&self, column: &str, input: &[u8], output: &[u8], row: u64) {
        let _ = self.look(column, input, output, row, false);
    }

    fn look(
        &self,
        column: &str,
        input: &[u8],
        output: &[u8],
        row: u64,
        exact: bool,
    ) -> Option<u64> {
        let out = hash(hash(0, column.as_bytes()), output).max(1);
        let sampled = !exact && self.entries.load(Ordering::Relaxed) >= EXACT;
        // The top bits pick the slice: the shard uses the middle ones, the slot the low ones.
        if sampled && out >> (64 - SAMPLE.trailing_zeros()) != 0 {
            return None;
        }
        let inp = hash(0, input) as u32;
        let shard = &self.shards[((out >> 32) as usize) % SHARDS];
        let Ok(mut table) = shard.lock() else {
            return None;
        };
        if let Some(i) = table.find(out) {
            let s = table.slots[i];
            if s.out == out {
                if s.inp == inp {
                    return None;
                }
                drop(table);
                if let Ok(mut f) = self.found.lock() {
                    let c = f.entry(column.to_string()).or_default();
                    if sampled {
                        c.sampled += 1;
                    } else {
                        c.exact += 1;
                    }
                }
                return Some(u64::from(s.row));
            }
        }
        if self.entries.load(Ordering::Relaxed) < LIMIT {
            let slot = Slot {
                out,
                inp,
                row: u32::try_from(row).unwrap_or(u32::MAX),
            };
            if table.insert(slot) {
                self.entries.fetch_add(1, Ordering::Relaxed);
            }
        }
        None
    }

    /// How many collisions `column` had (an estimate past [`EXACT`], as in the summary), or
    /// `None` when it had none.
    pub fn collided(&self, column: &str) -> Option<u64> {
        let found = self.found.lock().ok()?;
        let n = found.get(column)?;
        Some(n.exact + n.sampled * SAMPLE).filter(|&n| n > 0)
    }

    /// One line for the run summary when anything collided or the watch filled up; `None`
    /// when there is nothing to say.
    pub fn summary(&self) -> Option<String> {
        let found = self.found.lock().ok()?;
        let full = self.entries.load(Ordering::Relaxed) >= LIMIT;
        if found.is_empty() && !full {
            return None;
        }
        let mut parts: Vec<String> = found
            .iter()
            .map(|(c, n)| match n.sampled {
                0 => format!("{c} {}", n.exact),
                s => format!("{c} about {}", n.exact + s * SAMPLE),
            })
            .collect();
        if full {
            parts.push(format!(
                "(watch full after {LIMIT} values: later ones unchecked)"
            ));
        }
        Some(format!(
            "shape-preserving replacements collided (two values, one replacement): {}; \
             use `permute` (same length) or `token` for those columns if they must stay distinct",
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

    /// Warning-only counts stay exact on a small column and estimate a big one within a few
    /// per cent: outputs of 300,000 inputs where every second input repeats its neighbour's
    /// output, so exactly 150,000 collide.
    #[test]
    fn sampled_counts_estimate_the_true_number() {
        let small = Collisions::default();
        for i in 0..1000u64 {
            small.count("t.c", &i.to_le_bytes(), &(i / 2).to_le_bytes(), i + 1);
        }
        assert!(
            small.summary().unwrap().contains("t.c 500;"),
            "{:?}",
            small.summary()
        );
        let big = Collisions::default();
        let n = 300_000u64;
        for i in 0..n {
            big.count("t.c", &i.to_le_bytes(), &(i / 2).to_le_bytes(), i + 1);
        }
        let s = big.summary().unwrap();
        let est: f64 = s
            .split("t.c about ")
            .nth(1)
            .and_then(|r| r.split(';').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{s}"));
        assert!((est - 150_000.0).abs() < 150_000.0 * 0.05, "{s}");
        // An exact check after the sampled ones still sees every collision.
        let other = n.to_le_bytes();
        assert_eq!(big.check("t.u", &other, b"x", 1), None);
        assert_eq!(big.check("t.u", &(n + 1).to_le_bytes(), b"x", 2), Some(1));
    }

    /// Past its limit the watch still finds collisions with what it holds, stops adding, says
    /// so, and never probes forever; rows come back as they went in.
    #[test]
    fn fills_up_without_losing_what_it_holds() {
        let c = Collisions::default();
        let n = LIMIT as u64 + 5_000;
        for i in 0..n {
            let v = i.to_le_bytes();
            assert_eq!(c.check("t.c", &v, &v, i + 1), None, "{i}");
        }
        assert!(c.summary().unwrap().contains("watch full"));
        for i in (0..n).step_by(997) {
            let v = i.to_le_bytes();
            let other = (i + n).to_le_bytes();
            let got = c.check("t.c", &other, &v, 1);
            if i < LIMIT as u64 {
                assert_eq!(got, Some(i + 1), "{i}");
            } else {
                assert_eq!(got, None, "{i} was never added");
            }
        }
    }
}
