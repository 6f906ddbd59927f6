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
    /// Values with their images, worked out ahead by [`prefetch`] in the order they were
    /// given, and where in them the next value asked for is expected.
    ahead: Vec<(u128, u128)>,
    next: usize,
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
            ahead: Vec::new(),
            next: 0,
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

    /// [`Permutation::apply`] of every value of `xs` (each in `lo..=hi`), [`LANES`] Feistel
    /// evaluations side by side; `image` gets each value's index with its image. A lane whose value
    /// is home takes the next one, so a value that walks long holds up no other.
    ///
    /// Side by side means in vector registers: SipHash is adds, xors and rotates of 64-bit
    /// words, which AVX-512 does eight lanes at a time (AVX2 four, with rotates of two
    /// shifts). Scalar lanes gain nothing: one SipHash already keeps the integer units busy.
    fn apply_many(&self, xs: &[u128], image: impl FnMut(usize, u128)) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                // SAFETY: the CPU has the features the function is compiled for.
                return unsafe { self.apply_many_avx512(xs, image) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: as above.
                return unsafe { self.apply_many_avx2(xs, image) };
            }
        }
        self.apply_many_with(xs, image)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl")]
    fn apply_many_avx512(&self, xs: &[u128], image: impl FnMut(usize, u128)) {
        self.apply_many_with(xs, image)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn apply_many_avx2(&self, xs: &[u128], image: impl FnMut(usize, u128)) {
        self.apply_many_with(xs, image)
    }

    #[inline(always)]
    fn apply_many_with(&self, xs: &[u128], mut image: impl FnMut(usize, u128)) {
        let mut todo = xs.iter().enumerate();
        let mut x = [0usize; LANES];
        let mut y = [0u128; LANES];
        let mut busy = [false; LANES];
        for l in 0..LANES {
            if let Some((i, &v)) = todo.next() {
                (x[l], y[l], busy[l]) = (i, v - self.lo, true);
            }
        }
        while busy.contains(&true) {
            let next = self.feistel_lanes(y);
            for l in 0..LANES {
                if !busy[l] {
                    continue;
                }
                y[l] = next[l];
                if y[l] <= self.n {
                    image(x[l], self.lo + y[l]);
                    match todo.next() {
                        Some((i, &v)) => (x[l], y[l]) = (i, v - self.lo),
                        None => busy[l] = false,
                    }
                }
            }
        }
    }

    /// [`Permutation::feistel`] of [`LANES`] values side by side. Each half holds at most
    /// 64 bits, so the halves are words too and the whole network stays in vector registers.
    #[inline(always)]
    fn feistel_lanes(&self, y: [u128; LANES]) -> [u128; LANES] {
        let (u, v) = (self.u, self.v);
        let mut a = y.map(|y| (y >> v) as u64);
        let mut b = y.map(|y| (y & mask(v)) as u64);
        for (round, state) in self.rounds.iter().enumerate() {
            let m = mask(if round % 2 == 0 { u } else { v }) as u64;
            let f = RoundFn::low_lanes(*state, b);
            for l in 0..LANES {
                let c = a[l].wrapping_add(f[l]) & m;
                a[l] = b[l];
                b[l] = c;
            }
        }
        std::array::from_fn(|l| (u128::from(a[l]) << v) | u128::from(b[l]))
    }

    fn feistel(&self, y: u128) -> u128 {
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

/// The low `m` bits.
fn mask(m: u32) -> u128 {
    if m >= 128 {
        u128::MAX
    } else {
        (1u128 << m) - 1
    }
}

/// How far past the expected place [`memoized`] looks for a prefetched value.
const LOOKAHEAD: usize = 8;

/// Ids [`prefetch`] permutes side by side.
const LANES: usize = 16;

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

/// [`Sip`] of [`LANES`] messages, word by word across the lanes so each step is one vector
/// operation.
#[derive(Clone, Copy)]
struct SipLanes {
    v0: [u64; LANES],
    v1: [u64; LANES],
    v2: [u64; LANES],
    v3: [u64; LANES],
}

impl SipLanes {
    #[inline(always)]
    fn round(&mut self) {
        for l in 0..LANES {
            let mut s = Sip {
                v0: self.v0[l],
                v1: self.v1[l],
                v2: self.v2[l],
                v3: self.v3[l],
            };
            s.round();
            (self.v0[l], self.v1[l], self.v2[l], self.v3[l]) = (s.v0, s.v1, s.v2, s.v3);
        }
    }

    #[inline(always)]
    fn word(&mut self, m: [u64; LANES]) {
        for (v3, m) in self.v3.iter_mut().zip(m) {
            *v3 ^= m;
        }
        self.round();
        self.round();
        for (v0, m) in self.v0.iter_mut().zip(m) {
            *v0 ^= m;
        }
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

    /// [`RoundFn::low_from`] of [`LANES`] halves from one round's state, one vector lane
    /// each (see [`Permutation::apply_many`]).
    #[inline(always)]
    fn low_lanes(after_round: Sip, halves: [u64; LANES]) -> [u64; LANES] {
        let mut s = SipLanes {
            v0: [after_round.v0; LANES],
            v1: [after_round.v1; LANES],
            v2: [after_round.v2; LANES],
            v3: [after_round.v3; LANES],
        };
        s.word(halves);
        // The half's upper word (a half is at most 64 bits).
        s.word([0; LANES]);
        s.word([56 << 56; LANES]);
        for v2 in &mut s.v2 {
            *v2 ^= 0xee;
        }
        for _ in 0..4 {
            s.round();
        }
        std::array::from_fn(|l| s.v0[l] ^ s.v1[l] ^ s.v2[l] ^ s.v3[l])
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

/// What [`digits`] makes of a number: its sign, digit count, value and the range it is
/// permuted in.
struct Plan<'v> {
    sign: &'v [u8],
    width: u32,
    x: u128,
    lo: u128,
    hi: u128,
}

impl Plan<'_> {
    /// Whether the permutation leaves the number as it is (a range of one value, or zero).
    fn is_fixed(&self) -> bool {
        self.hi <= self.lo || self.x < self.lo
    }
}

/// Powers of ten up to the 38 digits [`plan`] takes: `u128::pow` is a loop of 128-bit
/// multiplies, paid twice per id.
const POW10: [u128; 39] = {
    let mut t = [1u128; 39];
    let mut i = 1;
    while i < t.len() {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// The plan of `value` under the column limit `max`, or `None` when [`digits`] refuses it.
fn plan(value: &[u8], max: Option<u128>) -> Option<Plan<'_>> {
    let (sign, body) = match value.first() {
        Some(b'-') | Some(b'+') => value.split_at(1),
        _ => (&value[..0], value),
    };
    if body.is_empty() || body.len() > 38 || !body.iter().all(u8::is_ascii_digit) {
        return None;
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
    let top = POW10[width as usize] - 1;
    // One digit: 0 stays 0 and 1..=9 permute among themselves, so a positive id stays positive
    // (a `CHECK (id > 0)` holds) and the map is still a bijection of 0..=9.
    let lo = if width == 1 && x == 0 {
        1
    } else if padded {
        0
    } else {
        POW10[width as usize - 1]
    };
    let hi = match max {
        Some(m) if m >= lo && m < top && !padded => m,
        _ => top,
    };
    (x <= hi).then_some(Plan {
        sign,
        width,
        x,
        lo,
        hi,
    })
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
    let Some(p) = plan(value, max) else {
        return false;
    };
    let y = if p.is_fixed() {
        p.x
    } else {
        memoized(key, entity, p.lo, p.hi, p.x)
    };
    out.extend_from_slice(p.sign);
    // `width` digits, zero-padded; `y` has at most that many.
    let start = out.len();
    out.resize(start + p.width as usize, b'0');
    match u64::try_from(y) {
        // The common case, in 64-bit arithmetic: u128 division is a library call.
        Ok(y) => write_digits(y, &mut out[start..]),
        Err(_) => write_digits(y, &mut out[start..]),
    }
    true
}

/// Appends `value` with its digits replaced by the keyed permutation of the number they spell
/// among all numbers of as many digits (zeros included), every other byte kept where it was:
/// the `permute` action. Returns `false`, writing nothing, when `value` has no digit or more
/// than 38.
///
/// Why: a shape-preserving SSN has only 10^8 values and a NANP phone shape 80,000, so a unique
/// column of a few thousand rows collides, while a column as narrow as `varchar(11)` takes no
/// token. Values that keep their separators and permute their digits stay distinct (two values
/// with different separators differ in those; with the same, the permutation keeps them
/// apart), and two spellings of one number (`123-45-6789`, `123456789`) get the same digits.
/// The price: the digits range over every number, so a replacement can read like a real one.
pub fn digits_kept_in_place(
    key: &RoundKey,
    entity: Entity,
    value: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    let mut x: u128 = 0;
    let mut width = 0usize;
    for d in value.iter().filter(|b| b.is_ascii_digit()) {
        width += 1;
        if width > 38 {
            return false;
        }
        x = x * 10 + u128::from(d - b'0');
    }
    if width == 0 {
        return false;
    }
    let y = memoized(key, entity, 0, POW10[width] - 1, x);
    let start = out.len();
    out.extend_from_slice(value);
    let mut digits = [b'0'; 38];
    write_digits(y, &mut digits[..width]);
    let mut next = digits[..width].iter();
    for b in out[start..].iter_mut().filter(|b| b.is_ascii_digit()) {
        if let Some(&d) = next.next() {
            *b = d;
        }
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

/// Permutations the thread keeps built ([`memoized`], [`prefetch`]): a table's id columns
/// of a few digit counts, and a foreign key shares its key's.
const SLOTS: usize = 8;

thread_local! {
    static LAST: std::cell::RefCell<Vec<Permutation>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The thread's permutation of (key, entity, range), built and kept if it is not yet.
fn slot(last: &mut Vec<Permutation>, key: &RoundKey, entity: Entity, lo: u128, hi: u128) -> usize {
    match last.iter().position(|p| p.is_for(key, entity, lo, hi)) {
        Some(i) => i,
        None => {
            if last.len() == SLOTS {
                last.pop();
            }
            last.insert(0, Permutation::new(key, entity, lo, hi));
            0
        }
    }
}

/// [`Permutation::apply`] with the thread's last few permutations kept (building one costs
/// as much as a sixth of an id), answered from what [`prefetch`] worked out where it can.
fn memoized(key: &RoundKey, entity: Entity, lo: u128, hi: u128, x: u128) -> u128 {
    LAST.with_borrow_mut(|last| {
        let i = slot(last, key, entity, lo, hi);
        let p = &mut last[i];
        // Asked for in the order given, but for values answered elsewhere (a repeated id
        // the cell cache held): look a few ahead. Reading in order keeps this a cache hit.
        let end = p.ahead.len().min(p.next + LOOKAHEAD);
        match p.ahead[p.next..end].iter().position(|(v, _)| *v == x) {
            Some(j) => {
                p.next += j + 1;
                p.ahead[p.next - 1].1
            }
            None => p.apply(x),
        }
    })
}

/// Works out, [`LANES`] at a time, the permutations that [`digits`] is about to be asked for,
/// in this order: `values` with their column's limit (entity, value and limit as `digits`
/// will get them), typically a chunk's ids of the columns of one entity, row by row. A
/// primary key and a foreign key to it (`bigint` and `integer`, say) share a permutation
/// where their ranges meet, so they go in one call: a later call starts the lists afresh.
/// One id alone is a chain of dependent SipHash rounds that leaves most of the core idle;
/// independent ids side by side fill it, about three times the throughput.
///
/// The answers stay with the thread's permutation until its next prefetch (or until it is
/// evicted), so memory holds one chunk's ids. A value `digits` is then not asked for costs
/// only the work, and one asked for out of order is worked out alone; a wrong answer cannot
/// come of either, since what is kept is the permutation's own.
pub fn prefetch<'v>(
    key: &RoundKey,
    entity: Entity,
    values: impl IntoIterator<Item = (&'v [u8], Option<u128>)>,
) {
    // Values of one column mostly share a range (one digit count); a handful of pending
    // ranges is plenty, and a value of any other is simply not prefetched.
    let mut pending: Vec<(u128, u128, Vec<u128>)> = Vec::new();
    for (v, max) in values {
        let Some(p) = plan(v, max) else { continue };
        if p.is_fixed() {
            continue;
        }
        match pending
            .iter()
            .position(|(lo, hi, _)| (*lo, *hi) == (p.lo, p.hi))
        {
            Some(i) => pending[i].2.push(p.x),
            None if pending.len() < SLOTS => pending.push((p.lo, p.hi, vec![p.x])),
            None => {}
        }
    }
    LAST.with_borrow_mut(|last| {
        for (lo, hi, xs) in pending {
            let i = slot(last, key, entity, lo, hi);
            let p = &mut last[i];
            let mut ahead = std::mem::take(&mut p.ahead);
            ahead.clear();
            ahead.extend(xs.iter().map(|&x| (x, x)));
            p.apply_many(&xs, |j, y| ahead[j].1 = y);
            (p.ahead, p.next) = (ahead, 0);
        }
    });
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

    /// `permute` keeps every non-digit byte, maps the values of one layout one to one (all
    /// 10^4 of `dd-dd` here), gives two spellings of a number the same digits, writes ASCII
    /// digits only (a leading zero included), and refuses values without digits or with
    /// more than 38.
    #[test]
    fn digits_kept_in_place_is_a_bijection_of_each_layout() {
        let k = key(3);
        let run = |v: &str| {
            let mut out = b"pre".to_vec();
            digits_kept_in_place(&k, Entity::Ssn, v.as_bytes(), &mut out)
                .then(|| String::from_utf8(out[3..].to_vec()).unwrap())
        };
        let outs: HashSet<String> = (0..10_000)
            .map(|n| {
                let v = format!("{:02}-{:02}", n / 100, n % 100);
                let o = run(&v).unwrap();
                assert!(
                    o.len() == 5
                        && o.as_bytes()[2] == b'-'
                        && o.bytes().filter(u8::is_ascii_digit).count() == 4,
                    "{v} -> {o:?}"
                );
                o
            })
            .collect();
        assert_eq!(outs.len(), 10_000);
        assert!(outs.iter().any(|o| o.starts_with('0')));
        let dashed = run("123-45-6789").unwrap();
        let plain = run("123456789").unwrap();
        assert_eq!(dashed.replace('-', ""), plain);
        assert_ne!(plain, "123456789");
        assert_eq!(run("(217) 555-0143").unwrap().len(), 14);
        assert!(run("(217) 555-0143").unwrap().starts_with('('));
        assert_eq!(run("no digits"), None);
        assert_eq!(run(&"1".repeat(39)), None);
        assert_eq!(run(&"1".repeat(38)).map(|o| o.len()), Some(38));
        // Keyed: another key, another permutation.
        let mut other = Vec::new();
        digits_kept_in_place(&key(4), Entity::Ssn, b"123456789", &mut other);
        assert_ne!(other, plain.as_bytes());
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
    fn powers_of_ten() {
        for (i, p) in POW10.iter().enumerate() {
            assert_eq!(*p, 10u128.pow(i as u32), "10^{i}");
        }
    }

    #[test]
    fn lanes_equal_one_at_a_time() {
        // Ranges whose Feistel domain is nearly twice their size walk often, so lanes finish
        // after different numbers of steps.
        let mut rng = crate::test_rng::Rng(0x5eed_1234);
        for (lo, hi) in [
            (10u128, 99u128),
            (1_000_000, 9_999_999),
            (1_000_000, 2_147_483_647),
            (0, 1 << 40),
            (1, (1 << 64) + 5),
            (100, 130),
        ] {
            let p = Permutation::new(&key(4), Entity::OtherId, lo, hi);
            // Every count of values, so the lanes' refill and tail are both exercised.
            for n in 0..40 {
                let xs: Vec<u128> = (0..n)
                    .map(|_| lo + u128::from(rng.next()) % (hi - lo + 1))
                    .collect();
                let mut got = Vec::new();
                p.apply_many(&xs, |i, y| got.push((xs[i], y)));
                got.sort_unstable();
                let mut want: Vec<_> = xs.iter().map(|&x| (x, p.apply(x))).collect();
                want.sort_unstable();
                assert_eq!(got, want, "{lo}..={hi}, {n} values");
            }
        }
    }

    #[test]
    fn prefetched_digits_equal_fresh_ones() {
        let (k, other) = (key(5), key(6));
        let values: Vec<String> = (0..203u64)
            .map(|i| match i % 4 {
                0 => format!("{}", 1_000_000 + i * 7919),
                1 => format!("{:07}", i * 31),
                2 => format!("-{}", 10_000 + i),
                _ => format!("{}", 2_000_000_000 + i),
            })
            .collect();
        let fresh = |k: &RoundKey, v: &str| {
            let mut out = Vec::new();
            let p = plan(v.as_bytes(), Some(2_147_483_647)).map(|p| {
                if p.is_fixed() {
                    p.x
                } else {
                    Permutation::new(k, Entity::OtherId, p.lo, p.hi).apply(p.x)
                }
            });
            digits(
                k,
                Entity::OtherId,
                v.as_bytes(),
                Some(2_147_483_647),
                &mut out,
            );
            (p, out)
        };
        let before: Vec<_> = values.iter().map(|v| fresh(&k, v)).collect();
        // Prefetched under another entity and another key: neither may answer for these.
        let given = || values.iter().map(|v| (v.as_bytes(), Some(2_147_483_647)));
        prefetch(&other, Entity::OtherId, given());
        prefetch(&k, Entity::Mrn, given());
        prefetch(&k, Entity::OtherId, given());
        let ask = |v: &String, (y, want): &(Option<u128>, Vec<u8>)| {
            let mut out = Vec::new();
            assert!(digits(
                &k,
                Entity::OtherId,
                v.as_bytes(),
                Some(2_147_483_647),
                &mut out
            ));
            assert_eq!(&out, want, "{v}");
            // `digits` writes the permutation's image: the check above is not of two copies
            // of one mistake.
            let text = std::str::from_utf8(&out).unwrap_or_default();
            let digits_only = text.trim_start_matches('-');
            assert_eq!(digits_only.parse::<u128>().ok(), *y, "{v}");
        };
        // In order, but for a few skipped (as the cell cache skips a repeated id) ...
        for (i, (v, b)) in values.iter().zip(&before).enumerate() {
            if i % 50 != 7 {
                ask(v, b);
            }
        }
        // ... which were answered from the prefetch: every permutation of this key and
        // entity got to the end of its list.
        let consumed = |k: &RoundKey| {
            LAST.with_borrow(|last| {
                last.iter()
                    .filter(|p| p.is_for(k, Entity::OtherId, p.lo, p.hi))
                    .map(|p| (p.next, p.ahead.len()))
                    .collect::<Vec<_>>()
            })
        };
        let ends = consumed(&k);
        assert!(
            ends.len() >= 3 && ends.iter().all(|(n, l)| n == l && *l > 0),
            "{ends:?}"
        );
        // Out of order, and again after the list is used up: worked out alone, the same.
        for (v, b) in values.iter().zip(&before).rev() {
            ask(v, b);
        }
        // The other key's list was not read at all.
        assert!(consumed(&other).iter().all(|(n, _)| *n == 0));
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
