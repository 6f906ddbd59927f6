//! The fixed-seed generator of the unit tests' synthetic data, so every run draws the same
//! values (never real data, never the clock).

/// xorshift64 (Marsaglia): the seed must not be 0.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value below `n` (with the slight bias of a modulus, which test data can bear).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// An SSN-shaped value (area 100–899, group and serial never zero).
    pub fn ssn(&mut self) -> String {
        let (a, g, s) = (
            100 + self.below(800),
            1 + self.below(98),
            1 + self.below(9998),
        );
        format!("{a}-{g:02}-{s:04}")
    }
}
