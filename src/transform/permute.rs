//! `permute`: a keyed bijection on numbers of one digit count — format-preserving encryption by
//! a Feistel network over the bits of the range, with cycle walking to stay inside it (the
//! construction of NIST SP 800-38G's FF1). The round function is SipHash-2-4 with 128-bit
//! output, a PRF keyed by a subkey that HMAC-SHA256 derives from the user's key once
//! ([`RoundKey::derive`]): ids are the most frequent values of a dump, and eight HMACs per id
//! made them a third of a scrub's time. SipHash is written out here for the one message
//! layout the rounds hash (the state after the fixed (entity, range) prefix is kept, and each
//! round absorbs three known words), where the `siphasher` crate's general `Hasher` took a
//! quarter of its time buffering bytes; a test holds the two equal.
//!
//! Why a bijection: a database column of numeric ids is usually a primary key. A keyed hash
//! squeezed into the same number of digits collides (a million 7-digit ids would break the
//! unique constraint thousands of times), while a permutation maps distinct ids to distinct
//! ids by construction, so primary keys, foreign keys and unique constraints survive, and the
//! same id gets the same replacement in every table. Without the key it cannot be inverted.

use crate::entity::Entity;
use crate::transform::key::Key;

/// The round function's key, derived from the user's key (never the key itself).
#[derive(Clone, Copy)]
pub struct RoundKey {
    k0: u64,
    k1: u64,
}

impl std::fmt::Debug for RoundKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoundKey(..)")
    }
}

impl RoundKey {
    /// HMAC-SHA256 of a fixed label under `key`; its first 16 bytes key SipHash.
    pub fn derive(key: &Key) -> RoundKey {
        let mac = key.mac(&[b"permute round key"]);
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&mac[i..i + 8]);
            u64::from_le_bytes(b)
        };
        RoundKey {
            k0: word(0),
            k1: word(8),
        }
    }
}

/// Feistel rounds; FF1 uses ten, eight keep the same margin over Luby–Rackoff's four.
const ROUNDS: u32 = 8;

/// The keyed image of `x` in the range `lo..=hi` (requires `lo <= x <= hi`): a permutation of
/// that range for each (key, entity, range).
pub fn permute_in(key: &RoundKey, entity: Entity, lo: u128, hi: u128, x: u128) -> u128 {
    if hi <= lo || x < lo || x > hi {
        return x;
    }
    Permutation::new(key, entity, lo, hi).apply(x)
}

/// The permutation of one (key, entity, range) with everything that does not depend on the
/// value worked out once: the round function's state after the fixed prefix and each round's
/// number, so an id pays only for the words that carry its half. A column's ids share one
/// range, so [`digits`] keeps the last few of these per thread.
struct Permutation {
    key: (u64, u64),
    entity: Entity,
    lo: u128,
    hi: u128,
    /// The range holds `n + 1` values.
    n: u128,
    /// Bits of the two Feistel halves.
    u: u32,
    v: u32,
    /// [`RoundFn`] state after the message's first 40 bytes, one per round.
    rounds: [Sip; ROUNDS as usize],
}

impl Permutation {
    fn new(key: &RoundKey, entity: Entity, lo: u128, hi: u128) -> Permutation {
        let n = hi - lo;
        let bits = (128 - n.leading_zeros()).max(2); // enough bits for 0..=n
        let f = RoundFn::new(key, entity, lo, hi);
        Permutation {
            key: (key.k0, key.k1),
            entity,
            lo,
            hi,
            n,
            u: bits / 2,
            v: bits - bits / 2,
            rounds: std::array::from_fn(|r| f.after_round(r as u32)),
        }
    }

    fn is_for(&self, key: &RoundKey, entity: Entity, lo: u128, hi: u128) -> bool {
        self.key == (key.k0, key.k1) && self.entity == entity && self.lo == lo && self.hi == hi
    }

    /// Requires `lo <= x <= hi`.
    fn apply(&self, x: u128) -> u128 {
        let mut y = x - self.lo;
        // Cycle walking: the Feistel network permutes 0..2^bits; re-apply it until the value
        // falls back inside 0..=n. Since n + 1 > 2^(bits-1), fewer than two steps are expected.
        loop {
            y = self.feistel(y);
            if y <= self.n {
                return self.lo + y;
            }
        }
    }

    fn feistel(&self, y: u128) -> u128 {
        let mask = |m: u32| {
            if m >= 128 {
                u128::MAX
            } else {
                (1u128 << m) - 1
            }
        };
        let (u, v) = (self.u, self.v);
        let mut a = y >> v; // u bits
        let mut b = y & mask(v); // v bits
        for (round, state) in self.rounds.iter().enumerate() {
            let m = if round % 2 == 0 { u } else { v };
            // A half holds at most 64 bits (a range of up to 2^128 values), and a sum's low
            // bits do not depend on the addends' high ones: the round function's upper 64 bits
            // never reach the result, so they are not computed.
            debug_assert!(m <= 64);
            let c = a.wrapping_add(u128::from(RoundFn::low_from(*state, b))) & mask(m);
            a = b;
            b = c;
        }
        // After an even number of rounds `a` holds u bits and `b` v bits again.
        (a << v) | b
    }
}

/// SipHash-2-4's four words of state.
#[derive(Clone, Copy)]
struct Sip {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
}

impl Sip {
    /// The initial state for a 128-bit output.
    fn new(k0: u64, k1: u64) -> Sip {
        Sip {
            v0: k0 ^ 0x736f_6d65_7073_6575,
            v1: k1 ^ 0x646f_7261_6e64_6f6d ^ 0xee,
            v2: k0 ^ 0x6c79_6765_6e65_7261,
            v3: k1 ^ 0x7465_6462_7974_6573,
        }
    }

    #[inline(always)]
    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13) ^ self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16) ^ self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21) ^ self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17) ^ self.v2;
        self.v2 = self.v2.rotate_left(32);
    }

    /// Absorbs one little-endian word of the message (two compression rounds).
    #[inline(always)]
    fn word(&mut self, m: u64) {
        self.v3 ^= m;
        self.round();
        self.round();
        self.v0 ^= m;
    }
}

/// The round function of one (key, entity, range): SipHash-2-4-128 of the fixed-width message
/// `entity u32 | lo u128 | hi u128 | round u32 | half u128` (little-endian, 56 bytes), so no
/// two inputs share an encoding. Its first 32 bytes are the same in every round and absorbed
/// once; the 4 bytes after them wait for the round number to fill their word.
struct RoundFn {
    state: Sip,
    pending: u64,
}

impl RoundFn {
    fn new(key: &RoundKey, entity: Entity, lo: u128, hi: u128) -> RoundFn {
        let mut prefix = [0u8; 36];
        prefix[..4].copy_from_slice(&(entity.index() as u32).to_le_bytes());
        prefix[4..20].copy_from_slice(&lo.to_le_bytes());
        prefix[20..].copy_from_slice(&hi.to_le_bytes());
        let mut state = Sip::new(key.k0, key.k1);
        for w in prefix[..32].chunks_exact(8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            state.word(u64::from_le_bytes(b));
        }
        let mut tail = [0u8; 4];
        tail.copy_from_slice(&prefix[32..]);
        RoundFn {
            state,
            pending: u64::from(u32::from_le_bytes(tail)),
        }
    }

    /// The state once the round number has filled the prefix's last word.
    fn after_round(&self, round: u32) -> Sip {
        let mut s = self.state;
        s.word(self.pending | (u64::from(round) << 32));
        s
    }

    /// The state after the message, from [`RoundFn::after_round`], with `v2` already marked
    /// for the 128-bit finalization.
    #[inline(always)]
    fn finish_from(mut s: Sip, half: u128) -> Sip {
        s.word(half as u64);
        s.word((half >> 64) as u64);
        // The last word: the message length (56) in its top byte, no bytes left over.
        s.word(56 << 56);
        s.v2 ^= 0xee;
        for _ in 0..4 {
            s.round();
        }
        s
    }

    /// The low 64 bits of the 128-bit SipHash (the only ones a round uses).
    #[inline(always)]
    fn low_from(after_round: Sip, half: u128) -> u64 {
        let s = Self::finish_from(after_round, half);
        s.v0 ^ s.v1 ^ s.v2 ^ s.v3
    }

    /// All 128 bits, for the test against the reference implementation.
    #[cfg(test)]
    fn eval(&self, round: u32, half: u128) -> u128 {
        let mut s = Self::finish_from(self.after_round(round), half);
        let low = s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
        s.v1 ^= 0xdd;
        for _ in 0..4 {
            s.round();
        }
        let high = s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
        (u128::from(high) << 64) | u128::from(low)
    }
}

/// Appends the keyed permutation of the decimal number `value` (optional sign, then digits) to
/// `out`, keeping its digit count and sign, and at most `max` in magnitude (the column type's
/// limit). Returns `false`, writing nothing, when `value` is not such a number.
///
/// A number with a leading zero (`007`, text of fixed width) is permuted among all numbers of
/// its width, zeros included; any other among numbers of its digit count, so the result has no
/// leading zero either and reads back as a number of the same size.
pub fn digits(
    key: &RoundKey,
    entity: Entity,
    value: &[u8],
    max: Option<u128>,
    out: &mut Vec<u8>,
) -> bool {
    let (sign, body) = match value.first() {
        Some(b'-') | Some(b'+') => value.split_at(1),
        _ => (&value[..0], value),
    };
    if body.is_empty() || body.len() > 38 || !body.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let width = body.len() as u32;
    let x: u128 = if width <= 19 {
        // 64-bit multiplies where they suffice (19 digits always do).
        body.iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'))
            .into()
    } else {
        body.iter()
            .fold(0u128, |acc, d| acc * 10 + u128::from(d - b'0'))
    };
    let padded = body[0] == b'0' && width > 1;
    let top = 10u128.pow(width) - 1;
    // One digit: 0 stays 0 and 1..=9 permute among themselves, so a positive id stays positive
    // (a `CHECK (id > 0)` holds) and the map is still a bijection of 0..=9.
    if width == 1 && x == 0 {
        out.extend_from_slice(sign);
        out.push(b'0');
        return true;
    }
    let lo = if padded { 0 } else { 10u128.pow(width - 1) };
    let hi = match max {
        Some(m) if m >= lo && m < top && !padded => m,
        _ => top,
    };
    if x > hi {
        return false;
    }
    let y = if hi <= lo || x < lo {
        x
    } else {
        memoized(key, entity, lo, hi, x)
    };
    out.extend_from_slice(sign);
    // `width` digits, zero-padded; `y` has at most that many.
    let start = out.len();
    out.resize(start + width as usize, b'0');
    match u64::try_from(y) {
        // The common case, in 64-bit arithmetic: u128 division is a library call.
        Ok(y) => write_digits(y, &mut out[start..]),
        Err(_) => write_digits(y, &mut out[start..]),
    }
    true
}

/// Writes `n` in decimal at the end of `buf` (whose zeros pad it).
fn write_digits<N>(mut n: N, buf: &mut [u8])
where
    N: Copy + PartialEq + From<u8> + std::ops::Rem<Output = N> + std::ops::DivAssign,
    u8: TryFrom<N>,
{
    let (zero, ten) = (N::from(0), N::from(10));
    for d in buf.iter_mut().rev() {
        if n == zero {
            break;
        }
        *d = b'0' + u8::try_from(n % ten).unwrap_or(0);
        n /= ten;
    }
}

/// [`Permutation::apply`] with the thread's last few permutations kept: building one costs
/// as much as a sixth of an id.
fn memoized(key: &RoundKey, entity: Entity, lo: u128, hi: u128, x: u128) -> u128 {
    const SLOTS: usize = 4;
    thread_local! {
        static LAST: std::cell::RefCell<Vec<Permutation>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    LAST.with_borrow_mut(|last| {
        let i = match last.iter().position(|p| p.is_for(key, entity, lo, hi)) {
            Some(i) => i,
            None => {
                if last.len() == SLOTS {
                    last.pop();
                }
                last.insert(0, Permutation::new(key, entity, lo, hi));
                0
            }
        };
        last[i].apply(x)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn key(b: u8) -> RoundKey {
        RoundKey::derive(&Key::from_bytes(&[b; 32]).unwrap())
    }

    #[test]
    fn is_a_permutation_of_small_ranges() {
        let k = key(1);
        for (lo, hi) in [
            (0u128, 9u128),
            (10, 99),
            (100, 999),
            (0, 1),
            (5, 5),
            (1000, 1234),
        ] {
            let seen: HashSet<u128> = (lo..=hi)
                .map(|x| permute_in(&k, Entity::OtherId, lo, hi, x))
                .collect();
            assert_eq!(seen.len() as u128, hi - lo + 1, "{lo}..={hi}");
            assert!(seen.iter().all(|y| (lo..=hi).contains(y)));
        }
    }

    /// Known answers, so a faster round function that changed a single output (and with it
    /// every scrubbed id of every earlier run) fails here.
    #[test]
    fn known_answers() {
        let k = key(9);
        let got: Vec<u128> = [100_000u128, 123_456, 999_999]
            .iter()
            .map(|&x| permute_in(&k, Entity::OtherId, 100_000, 999_999, x))
            .collect();
        assert_eq!(got, KNOWN);
    }
    const KNOWN: [u128; 3] = [727_236, 971_830, 353_801];

    /// The written-out round function equals the `siphasher` crate's SipHash-2-4-128 over the
    /// same message, for every round and halves of every width.
    #[test]
    fn round_function_is_siphash_2_4_128() {
        use siphasher::sip128::{Hasher128, SipHasher24};
        use std::hash::Hasher;
        let k = key(5);
        for (e, lo, hi) in [
            (Entity::OtherId, 100_000u128, 999_999u128),
            (Entity::Mrn, 0, 9),
            (Entity::Ssn, 10u128.pow(37), u128::MAX),
        ] {
            let f = RoundFn::new(&k, e, lo, hi);
            for round in 0..ROUNDS {
                for half in [
                    0u128,
                    1,
                    4095,
                    1 << 63,
                    u64::MAX.into(),
                    u128::MAX,
                    0xdead_beef,
                ] {
                    let mut h = SipHasher24::new_with_keys(k.k0, k.k1);
                    h.write_u32(e.index() as u32);
                    h.write_u128(lo);
                    h.write_u128(hi);
                    h.write_u32(round);
                    h.write_u128(half);
                    assert_eq!(
                        f.eval(round, half),
                        h.finish128().as_u128(),
                        "{round} {half}"
                    );
                }
            }
        }
    }

    /// The per-thread memo hands out the permutation of the range and key asked for, even
    /// when more ranges and keys alternate than it has slots.
    #[test]
    fn memoized_permutations_equal_fresh_ones() {
        let keys = [key(1), key(2)];
        let ranges = [
            (10u128, 99u128),
            (100, 999),
            (1000, 9999),
            (0, 99),
            (100, 500),
            (7, 8),
        ];
        for i in 0..200u128 {
            let k = &keys[(i % 2) as usize];
            let (lo, hi) = ranges[(i % 6) as usize];
            let e = if i % 3 == 0 {
                Entity::Mrn
            } else {
                Entity::OtherId
            };
            let x = lo + i % (hi - lo + 1);
            assert_eq!(
                memoized(k, e, lo, hi, x),
                permute_in(k, e, lo, hi, x),
                "{i}"
            );
        }
    }

    #[test]
    fn keyed_deterministic_and_not_identity() {
        let (a, b) = (key(1), key(2));
        let p = |k: &RoundKey, x| permute_in(k, Entity::OtherId, 100_000, 999_999, x);
        assert_eq!(p(&a, 123_456), p(&a, 123_456));
        let moved = (100_000..100_200).filter(|&x| p(&a, x) != x).count();
        assert!(moved > 190, "{moved}");
        let differ = (100_000..100_200).filter(|&x| p(&a, x) != p(&b, x)).count();
        assert!(differ > 190, "{differ}");
    }

    #[test]
    fn digits_table() {
        let k = key(3);
        let run = |v: &str, max: Option<u128>| {
            let mut out = Vec::new();
            digits(&k, Entity::OtherId, v.as_bytes(), max, &mut out)
                .then(|| String::from_utf8(out).unwrap())
        };
        for (v, max) in [
            ("123456", None),
            ("-42", None),
            ("0071", None),
            ("7", None),
            ("1", None),
            ("2147483000", Some(2_147_483_647)),
            ("99999999999999999999999999999999999999", None),
        ] {
            let out = run(v, max).unwrap();
            assert_eq!(out.len(), v.len(), "{v} -> {out}");
            assert_eq!(out.starts_with('-'), v.starts_with('-'));
            if let Some(m) = max {
                assert!(out.parse::<u128>().unwrap() <= m, "{out}");
            }
            if !v.starts_with('0') {
                assert!(
                    !out.starts_with('0'),
                    "{v} -> {out}: a positive id stays positive"
                );
            }
        }
        let ones: std::collections::BTreeSet<String> = (0..10)
            .map(|d| run(&d.to_string(), None).unwrap())
            .collect();
        assert_eq!(ones.len(), 10, "one digit: a bijection of 0..=9");
        assert_eq!(run("0", None).as_deref(), Some("0"));
        for bad in ["", "12a", "1.5", "-", "1".repeat(39).as_str()] {
            assert_eq!(run(bad, None), None, "{bad}");
        }
        // A value above the type's limit is refused rather than wrapped.
        assert_eq!(run("2147483648", Some(2_147_483_647)), None);
    }

    #[test]
    fn distinct_ids_stay_distinct() {
        let k = key(4);
        let mut seen = HashSet::new();
        for id in 1_000_000u32..1_020_000 {
            let mut out = Vec::new();
            assert!(digits(
                &k,
                Entity::OtherId,
                id.to_string().as_bytes(),
                Some(i32::MAX as u128),
                &mut out
            ));
            assert!(seen.insert(out), "collision at {id}");
        }
    }
}
