//! `zip3`: keep the first three digits of a ZIP code, as Safe Harbor allows, and write `000`
//! for the prefixes whose area has 20,000 people or fewer (list in `patterns/`).

use std::sync::LazyLock;

static RESTRICTED: LazyLock<Vec<[u8; 3]>> = LazyLock::new(|| {
    include_str!("../../patterns/zip3_restricted.txt")
        .lines()
        .map(str::trim)
        .filter(|l| l.len() == 3 && l.bytes().all(|b| b.is_ascii_digit()))
        .map(|l| {
            let b = l.as_bytes();
            [b[0], b[1], b[2]]
        })
        .collect()
});

/// Appends the generalized ZIP: digits after the third become `0`, separators stay, so the
/// column keeps its 5- or 9-digit shape.
pub fn zip3(value: &[u8], out: &mut Vec<u8>) {
    let digits: Vec<u8> = value
        .iter()
        .copied()
        .filter(u8::is_ascii_digit)
        .take(3)
        .collect();
    let restricted = digits.len() == 3 && RESTRICTED.iter().any(|r| r[..] == digits[..]);
    let mut n = 0;
    for &b in value {
        if b.is_ascii_digit() {
            out.push(if n < 3 && !restricted { b } else { b'0' });
            n += 1;
        } else {
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip3_table() {
        for (v, want) in [
            ("62704", "62700"),
            ("02139-4307", "02100-0000"),
            ("03601", "00000"),
            ("89301", "00000"),
        ] {
            let mut out = Vec::new();
            zip3(v.as_bytes(), &mut out);
            assert_eq!(out, want.as_bytes(), "{v}");
        }
    }
}
