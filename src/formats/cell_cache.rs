//! A small per-column memo of whole-column replacements, so a column that repeats its values
//! (first names, cities, the patient id of every encounter of one patient) pays for one HMAC
//! per distinct value that is still in the cache rather than one per cell.
//!
//! Each column gets a direct-mapped table of [`SLOTS`] fixed-size slots, allocated on its first
//! use: a look-up hashes the raw value (a few nanoseconds), compares it with the slot's key and
//! copies the stored replacement; a miss overwrites the slot. Nothing is allocated per cell.
//! Values or replacements longer than [`MAX_LEN`] bytes are not cached.
//!
//! A column whose values rarely repeat (an id column of a patients table) would only pay the
//! stores. Each column therefore counts its hits over windows of [`WINDOW`] look-ups; after a
//! window with fewer than one hit in [`MIN_HIT_RATE`], the column skips the cache for
//! [`PAUSE`] cells and then tries again, so a high-cardinality column costs one counter
//! increment per cell.
//!
//! What a cached entry stands for is a pure function of (entity, action, column type, raw
//! value): the final replacement, after it was fitted to the column's SQL type, with whether
//! that made it shape-preserving. The caller never caches a value whose replacement depends on
//! anything else (a date shifted by its row's subject). The column only decides which table a value lands in, i.e. the hit
//! rate, never the output: output is byte-identical with the cache on or off (a test pins
//! that, and `PHISCRUB_CELL_CACHE=0` turns it off for comparisons).

use crate::entity::Entity;
use crate::formats::sqltype::SqlType;
use crate::policy::Action;

/// Slots per column (a power of two: the top bits of a hash pick one).
pub const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_BITS: u32 = 10;
/// Longest value, and longest replacement, that is cached.
pub const MAX_LEN: usize = 48;
/// Look-ups per hit-rate window.
pub const WINDOW: u32 = 4096;
/// A window with fewer than `WINDOW / MIN_HIT_RATE` hits pauses the column.
pub const MIN_HIT_RATE: u32 = 16;
/// Cells a paused column skips the cache for before it tries again.
pub const PAUSE: u32 = 1 << 16;
/// Columns tracked; cells of further columns are not cached.
const MAX_COLUMNS: usize = 64;

#[derive(Clone, Copy)]
struct Slot {
    /// Hash of the key, 0 for an empty slot (a real hash of 0 is stored as 1).
    hash: u64,
    klen: u8,
    vlen: u8,
    /// The caller's bit about the replacement (shape-preserving or not).
    flag: bool,
    key: [u8; MAX_LEN],
    val: [u8; MAX_LEN],
}

const EMPTY: Slot = Slot {
    hash: 0,
    klen: 0,
    vlen: 0,
    flag: false,
    key: [0; MAX_LEN],
    val: [0; MAX_LEN],
};

struct Column {
    /// Identity of the column (its field name's address): only picks the table.
    id: usize,
    entity: Entity,
    action: Action,
    ty: Option<SqlType>,
    slots: Box<[Slot]>,
    rate: HitRate,
}

/// A column's hit count over the current window, and the pause after a poor one.
#[derive(Default)]
struct HitRate {
    lookups: u32,
    hits: u32,
    /// Cells left to skip while paused.
    paused: u32,
}

impl HitRate {
    /// Counts a look-up; false while the column is paused (skip the cache).
    fn look(&mut self) -> bool {
        if self.paused > 0 {
            self.paused -= 1;
            return false;
        }
        self.lookups += 1;
        if self.lookups >= WINDOW {
            if self.hits < WINDOW / MIN_HIT_RATE {
                self.paused = PAUSE;
            }
            self.lookups = 0;
            self.hits = 0;
        }
        true
    }
}

/// The per-thread cache of one [`Cells`](super::cells::Cells).
pub struct CellCache {
    on: bool,
    columns: Vec<Column>,
    /// Index of the column used last (consecutive cells are often of the same column).
    last: usize,
    /// Slot of the last miss, to store into.
    pending: Option<(usize, usize, u64)>,
}

impl Default for CellCache {
    fn default() -> Self {
        CellCache::new(std::env::var_os("PHISCRUB_CELL_CACHE").is_none_or(|v| v != "0"))
    }
}

impl CellCache {
    pub fn new(on: bool) -> CellCache {
        CellCache {
            on,
            columns: Vec::new(),
            last: 0,
            pending: None,
        }
    }

    /// Appends the cached replacement of `value` in column `id` (of type `ty`) to `out` and
    /// returns the flag stored with it, or returns `None` and remembers where
    /// [`store`](Self::store) should put it.
    pub fn get(
        &mut self,
        id: usize,
        entity: Entity,
        action: &Action,
        ty: Option<&SqlType>,
        value: &[u8],
        out: &mut Vec<u8>,
    ) -> Option<bool> {
        self.pending = None;
        if !self.on || value.len() > MAX_LEN {
            return None;
        }
        let c = self.column(id, entity, action, ty)?;
        let col = &mut self.columns[c];
        if !col.rate.look() {
            return None;
        }
        if col.slots.is_empty() {
            col.slots = vec![EMPTY; SLOTS].into_boxed_slice();
        }
        let h = hash(value);
        // The top bits: a multiply carries every input bit up, not down.
        let at = (h >> (64 - SLOT_BITS)) as usize;
        let s = &col.slots[at];
        if s.hash == h && &s.key[..usize::from(s.klen)] == value {
            col.rate.hits += 1;
            out.extend_from_slice(&s.val[..usize::from(s.vlen)]);
            return Some(s.flag);
        }
        self.pending = Some((c, at, h));
        None
    }

    /// Stores `replacement` and its `flag` for the `value` of the last missed
    /// [`get`](Self::get).
    pub fn store(&mut self, value: &[u8], replacement: &[u8], flag: bool) {
        let Some((c, at, h)) = self.pending.take() else {
            return;
        };
        if replacement.len() > MAX_LEN {
            return;
        }
        if let Some(s) = self.columns.get_mut(c).and_then(|c| c.slots.get_mut(at)) {
            s.hash = h;
            s.klen = value.len() as u8;
            s.vlen = replacement.len() as u8;
            s.flag = flag;
            s.key[..value.len()].copy_from_slice(value);
            s.val[..replacement.len()].copy_from_slice(replacement);
        }
    }

    fn column(
        &mut self,
        id: usize,
        entity: Entity,
        action: &Action,
        ty: Option<&SqlType>,
    ) -> Option<usize> {
        let same = |c: &Column| {
            c.id == id && c.entity == entity && c.action == *action && c.ty.as_ref() == ty
        };
        // Cells come column after column, row after row: the one after the last is likely.
        for guess in [self.last, self.last + 1, 0] {
            if self.columns.get(guess).is_some_and(same) {
                self.last = guess;
                return Some(guess);
            }
        }
        let c = match self.columns.iter().position(same) {
            Some(c) => c,
            None if self.columns.len() < MAX_COLUMNS => {
                self.columns.push(Column {
                    id,
                    entity,
                    action: *action,
                    ty: ty.cloned(),
                    slots: Box::new([]),
                    rate: HitRate::default(),
                });
                self.columns.len() - 1
            }
            None => return None,
        };
        self.last = c;
        Some(c)
    }
}

/// The values of scanned (free-text) columns that a scan found nothing in, per column, so a
/// text column no rule classifies but that repeats its values (a status, an encounter
/// description, a stock phrase of the notes) pays for one scan per distinct value still here.
///
/// Whether a cell's scan finds anything is a pure function of its column's name (the
/// detector's context) and its bytes: the scanner keeps no state between cells, and the
/// score threshold and entity filter are fixed for a run. Only values with no finding are
/// remembered, so a hit means "nothing to report, nothing to change", exactly what a scan
/// would have said. Columns are told apart by name: each holds a clone of its name, so the
/// address it is found by is never reused by another. Same slots, windows and pauses as
/// [`CellCache`]; a column of unique notes pauses itself after one window.
pub struct CleanCells {
    on: bool,
    columns: Vec<CleanColumn>,
    last: usize,
    pending: Option<(usize, usize, u64)>,
}

struct CleanColumn {
    name: std::sync::Arc<str>,
    slots: Box<[CleanSlot]>,
    rate: HitRate,
}

#[derive(Clone, Copy)]
struct CleanSlot {
    hash: u64,
    len: u8,
    key: [u8; MAX_LEN],
}

impl Default for CleanCells {
    fn default() -> Self {
        CleanCells::new(std::env::var_os("PHISCRUB_CELL_CACHE").is_none_or(|v| v != "0"))
    }
}

impl CleanCells {
    pub fn new(on: bool) -> CleanCells {
        CleanCells {
            on,
            columns: Vec::new(),
            last: 0,
            pending: None,
        }
    }

    /// Whether `value` of the column `name` is known to scan clean; if not, remembers where
    /// [`mark`](Self::mark) should note it.
    pub fn known(&mut self, name: &std::sync::Arc<str>, value: &[u8]) -> bool {
        self.pending = None;
        if !self.on || value.len() > MAX_LEN {
            return false;
        }
        let same = |c: &CleanColumn| std::sync::Arc::ptr_eq(&c.name, name);
        let c = match [self.last, self.last + 1, 0]
            .into_iter()
            .find(|&g| self.columns.get(g).is_some_and(same))
            .or_else(|| self.columns.iter().position(same))
        {
            Some(c) => c,
            None if self.columns.len() < MAX_COLUMNS => {
                self.columns.push(CleanColumn {
                    name: std::sync::Arc::clone(name),
                    slots: Box::new([]),
                    rate: HitRate::default(),
                });
                self.columns.len() - 1
            }
            None => return false,
        };
        self.last = c;
        let col = &mut self.columns[c];
        if !col.rate.look() {
            return false;
        }
        if col.slots.is_empty() {
            let empty = CleanSlot {
                hash: 0,
                len: 0,
                key: [0; MAX_LEN],
            };
            col.slots = vec![empty; SLOTS].into_boxed_slice();
        }
        let h = hash(value);
        let at = (h >> (64 - SLOT_BITS)) as usize;
        let s = &col.slots[at];
        if s.hash == h && &s.key[..usize::from(s.len)] == value {
            col.rate.hits += 1;
            return true;
        }
        self.pending = Some((c, at, h));
        false
    }

    /// Notes that `value`, the last one [`known`](Self::known) did not know, scanned clean.
    pub fn mark(&mut self, value: &[u8]) {
        let Some((c, at, h)) = self.pending.take() else {
            return;
        };
        if let Some(s) = self.columns.get_mut(c).and_then(|c| c.slots.get_mut(at)) {
            s.hash = h;
            s.len = value.len() as u8;
            s.key[..value.len()].copy_from_slice(value);
        }
    }
}

/// A `HashMap` hasher for short keys (column names looked up once per cell), where the
/// standard SipHash was a twentieth of a dump's time. Not for keys an attacker chooses to
/// collide: these are a dump's own column names.
#[derive(Debug, Default, Clone, Copy)]
pub struct ShortKeys;

impl std::hash::BuildHasher for ShortKeys {
    type Hasher = ShortKeyHasher;
    fn build_hasher(&self) -> ShortKeyHasher {
        ShortKeyHasher(0)
    }
}

/// [`ShortKeys`]' hasher: [`hash`] of each piece written, chained.
#[derive(Debug, Default)]
pub struct ShortKeyHasher(u64);

impl std::hash::Hasher for ShortKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = (self.0.rotate_left(23) ^ hash(bytes)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A fast, non-cryptographic hash of a short value (FxHash-style multiply-rotate over 8-byte
/// words); never 0. Only the hit rate depends on its quality: keys are compared in full.
fn hash(v: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = v.len() as u64;
    let mut words = v.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
    }
    h.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::transform::{key::Key, Transformer};

    /// Cache on and cache off give the same bytes, over a column mixing repeats, collisions,
    /// values too long to cache, and a stretch of unique values long enough to pause it.
    #[test]
    fn cached_output_is_byte_identical_to_uncached() {
        let t = Transformer::new(
            Policy::defaults(true),
            Some(Key::from_bytes(&[5; 32]).unwrap()),
        );
        let mut values: Vec<Vec<u8>> = Vec::new();
        for i in 0..30_000u32 {
            values.push(format!("Name{}", i % 37).into_bytes());
            values.push(format!("id-{i:08}").into_bytes());
            if i % 1000 == 0 {
                values.push(vec![b'x'; MAX_LEN + 1 + (i as usize % 5)]);
            }
        }
        for (entity, action) in [
            (Entity::Name, Action::Token),
            (Entity::Ssn, Action::Shape),
            (
                Entity::Name,
                Action::Mask {
                    ch: '*',
                    keep_last: 2,
                },
            ),
        ] {
            let mut on = CellCache::new(true);
            let mut hits = 0;
            for (n, v) in values.iter().enumerate() {
                // Two columns sharing one cache, as one worker's cells do.
                let id = usize::from(v.starts_with(b"Name"));
                let mut want = Vec::new();
                t.apply_offset(action, entity, v, 0, &mut want);
                let mut got = b"prefix".to_vec();
                if let Some(flag) = on.get(id, entity, &action, None, v, &mut got) {
                    assert_eq!(flag, v.len() % 2 == 0, "the flag comes back with the value");
                    hits += 1;
                } else {
                    let s = got.len();
                    t.apply_offset(action, entity, v, 0, &mut got);
                    let new = got[s..].to_vec();
                    on.store(v, &new, v.len() % 2 == 0);
                }
                assert_eq!(&got[6..], &want[..], "{entity:?} {action:?} value {n}");
            }
            assert!(hits > 29_000, "the repeating column hits: {hits}");
            // The unique column (created second) paused itself.
            assert!(
                on.columns[1].rate.paused > 0,
                "{}",
                on.columns[1].rate.paused
            );
        }
    }

    #[test]
    fn off_never_hits_and_keys_compare_in_full() {
        let mut off = CellCache::new(false);
        let mut out = Vec::new();
        let tok = Action::Token;
        assert!(off
            .get(1, Entity::Name, &tok, None, b"a", &mut out)
            .is_none());
        off.store(b"a", b"T", true);
        assert!(off
            .get(1, Entity::Name, &tok, None, b"a", &mut out)
            .is_none());
        let mut on = CellCache::new(true);
        assert!(on
            .get(1, Entity::Name, &tok, None, b"a", &mut out)
            .is_none());
        on.store(b"a", b"T", true);
        assert_eq!(
            on.get(1, Entity::Name, &tok, None, b"a", &mut out),
            Some(true)
        );
        assert_eq!(out, b"T");
        // Another entity, action or column type on the same column is another table.
        assert!(on
            .get(1, Entity::Location, &tok, None, b"a", &mut out)
            .is_none());
        assert!(on
            .get(1, Entity::Name, &Action::Redact, None, b"a", &mut out)
            .is_none());
        let int = SqlType::Integer {
            max: 99,
            unsigned: false,
        };
        assert!(on
            .get(1, Entity::Name, &tok, Some(&int), b"a", &mut out)
            .is_none());
        assert_ne!(hash(b"abcdefgh1"), hash(b"abcdefgh2"));
    }
}
