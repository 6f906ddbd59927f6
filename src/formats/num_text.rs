//! The decimal text of a Parquet number cell, exactly as `Display` writes it, without going
//! through `core::fmt`: a float column classified as an identifier (`LAT`, `LON`) turns every
//! value into text before its keyed replacement, and `write!` with Grisu and the formatter's
//! padding logic was about 5% of a Parquet scrub. The text is what the replacement is keyed
//! on, so it must stay byte-for-byte the `Display` form: a different spelling of the same
//! number would give a different token. A test holds the two equal.
//!
//! Integers go through `itoa`; floats through `zmij` (a Schubfach shortest-digits printer),
//! whose digits are the shortest round-tripping ones as `Display`'s are. Its spelling differs
//! in `1.0` for `1`, in exponents, and where two shortest decimals are equally near (see
//! [`tie_possible`]): the first is mended, the other two are left to `Display`. Both crates
//! are already in the tree through serde_json.

use std::io::Write;

/// A number whose `Display` text can be appended to a byte buffer.
pub trait NumText: std::fmt::Display + Copy {
    /// Appends `format!("{self}")` to `out`.
    fn text(self, out: &mut Vec<u8>) {
        let _ = write!(out, "{self}");
    }
}

macro_rules! ints {
    ($($t:ty),*) => {$(
        impl NumText for $t {
            fn text(self, out: &mut Vec<u8>) {
                out.extend_from_slice(itoa::Buffer::new().format(self).as_bytes());
            }
        }
    )*};
}
ints!(i8, i16, i32, i64, i128, u8, u16, u32, u64);

macro_rules! floats {
    ($($t:ty),*) => {$(
        impl NumText for $t {
            fn text(self, out: &mut Vec<u8>) {
                let mut buf = zmij::Buffer::new();
                let s = buf.format_finite(self).as_bytes();
                let ulp = f64::from(self.abs().next_up() - self.abs());
                if self.is_finite() && self != 0.0 && !s.contains(&b'e') && !tie_possible(s, ulp) {
                    out.extend_from_slice(s.strip_suffix(b".0").unwrap_or(s));
                } else {
                    let _ = write!(out, "{self}");
                }
            }
        }
    )*};
}
floats!(f32, f64);

/// Whether two decimals as short as `printed` could both read back as its float, whose
/// spacing to the next float up is `ulp`. Then the value may lie exactly halfway between
/// them, and `Display` (Grisu, ties away from zero) and Schubfach (ties to even) part ways
/// (`312985.125f32` is `312985.13` to one and `312985.12` to the other). Two such decimals
/// are one unit of the last printed digit apart, so both fit only where that unit is at most
/// the float spacing; the factor two keeps the inexact powers of ten on the safe side.
fn tie_possible(printed: &[u8], ulp: f64) -> bool {
    let last_digit = match printed.iter().position(|&b| b == b'.') {
        Some(dot) if printed[dot + 1..] != *b"0" => -((printed.len() - dot - 1) as i32),
        Some(dot) => printed[..dot]
            .iter()
            .rev()
            .take_while(|&&b| b == b'0')
            .count() as i32,
        None => 0,
    };
    ulp * 2.0 >= 10f64.powi(last_digit)
}

impl NumText for half::f16 {}

#[cfg(test)]
mod tests {
    use super::NumText;

    fn same<T: NumText>(v: T) {
        let mut out = Vec::new();
        v.text(&mut out);
        assert_eq!(out, v.to_string().as_bytes(), "{v}");
    }

    /// A fixed-seed xorshift, so the sampled bit patterns are the same on every run.
    fn bits(n: usize) -> impl Iterator<Item = u64> {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        (0..n).map(move |_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        })
    }

    #[test]
    fn floats_are_spelled_as_display_spells_them() {
        let edges = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            0.3,
            1e-7,
            1e-5,
            1e15,
            1e16,
            1e17,
            1e21,
            1e22,
            123456789012345680.0,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            5e-324,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            42.360_1,
            -71.058_9,
            58299.11,
            // Halfway between two shortest decimals: 2^50 + 0.25, and 312985.125 as an f32.
            1_125_899_906_842_624.2,
            312_985.125,
        ];
        for v in edges {
            same(v);
            same(v as f32);
        }
        // The fast path is the one coordinates take (else this module would be no faster).
        assert!(!super::tie_possible(
            b"42.3601",
            42.3601f64.next_up() - 42.3601
        ));
        assert!(super::tie_possible(b"312985.13", 0.03125));
        for b in bits(200_000) {
            // Raw bit patterns cover every exponent; coordinates and amounts are the common case.
            same(f64::from_bits(b));
            same(f32::from_bits(b as u32));
            same((b % 180_000_000) as f64 / 1e6 - 90.0);
            same((b % 10_000_000) as f64 / 100.0);
        }
    }

    #[test]
    fn integers_are_spelled_as_display_spells_them() {
        for v in [i64::MIN, i64::MAX, 0, -1, 10, -10] {
            same(v);
        }
        for v in [i128::MIN, i128::MAX] {
            same(v);
        }
        for v in [u64::MAX, 0] {
            same(v);
        }
        for b in bits(10_000) {
            same(b as i64);
            same(b as i32);
            same(b as i16);
            same(b as i8);
            same(b as u32);
            same(b as u16);
            same(b as u8);
        }
        same(half::f16::from_f32(1.5));
    }
}
