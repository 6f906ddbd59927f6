//! `shape`: a keyed replacement with the same length, separators and character classes, so
//! schemas, column widths and format validators still accept it. SSNs land in the never-issued
//! 9xx area and NANP phone numbers in 555-01xx (reserved for fiction), so a token can never be
//! a real person's number.

use crate::entity::Entity;
use crate::transform::key::Key;
use crate::transform::normalize::normalize_into;

/// Appends the shape-preserving token of `value` (whose canonical form is `normalized`).
pub fn shape(key: &Key, entity: Entity, value: &[u8], normalized: &[u8], out: &mut Vec<u8>) {
    let n = value.len().max(1);
    let mut small = [0u8; 64];
    let mut big = Vec::new();
    let ks: &mut [u8] = if n <= small.len() {
        &mut small[..n]
    } else {
        big.resize(n, 0);
        &mut big
    };
    key.stream_into(&[b"shape", entity.name().as_bytes(), normalized], ks);
    write(entity, value, ks, out);
}

/// [`shape`] of the raw `value`, normalized in `out`'s spare room first.
pub fn shape_of(key: &Key, entity: Entity, value: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    normalize_into(entity, value, out);
    let n = value.len().max(1);
    let mut small = [0u8; 64];
    let mut big = Vec::new();
    let ks: &mut [u8] = if n <= small.len() {
        &mut small[..n]
    } else {
        big.resize(n, 0);
        &mut big
    };
    key.stream_into(&[b"shape", entity.name().as_bytes(), &out[start..]], ks);
    out.truncate(start);
    write(entity, value, ks, out);
}

fn write(entity: Entity, value: &[u8], ks: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    // Each character is replaced by one of its own class chosen by the key stream; the position
    // among characters of the value (not bytes) indexes the stream, so `123-45-6789` and
    // `123456789` map their digits alike. The stream is as long as the value (callers make it
    // so) and there are never more characters than bytes, so it never runs out; each byte is
    // written in place rather than pushed with a capacity check.
    debug_assert!(ks.len() >= value.len());
    out.extend_from_slice(value);
    let mut stream = ks.iter();
    for b in &mut out[start..] {
        let base = match *b {
            b'0'..=b'9' => (b'0', 10),
            b'A'..=b'Z' => (b'A', 26),
            b'a'..=b'z' => (b'a', 26),
            _ => continue,
        };
        let Some(&r) = stream.next() else { break };
        *b = base.0 + r % base.1;
    }
    if !matches!(entity, Entity::Ssn | Entity::Phone | Entity::Fax) {
        return;
    }
    // Positions of the first 12 digits written (enough to tell 9, 10 or 11).
    let mut digits = [0usize; 12];
    let mut count = 0;
    for (i, b) in out.iter().enumerate().skip(start) {
        if b.is_ascii_digit() {
            if count < digits.len() {
                digits[count] = i;
            }
            count += 1;
        }
    }
    let digits = &digits[..count.min(12)];
    match entity {
        Entity::Ssn if count == 9 => {
            out[digits[0]] = b'9';
        }
        Entity::Phone | Entity::Fax if count == 10 || count == 11 => {
            let d = &digits[count - 10..];
            // Area code: valid NANP (first digit 2-9); exchange 555; line 01xx.
            out[d[0]] = b'2' + ks[0] % 8;
            for (&i, &v) in d[3..8].iter().zip(b"55501") {
                out[i] = v;
            }
            if count == 11 {
                out[digits[0]] = b'1';
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::normalize::normalize;

    fn run(entity: Entity, v: &str) -> String {
        let key = Key::from_bytes(&[7; 32]).unwrap();
        let mut out = Vec::new();
        shape(
            &key,
            entity,
            v.as_bytes(),
            &normalize(entity, v.as_bytes()),
            &mut out,
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn keeps_shape_and_reserved_ranges() {
        let s = run(Entity::Ssn, "123-45-6789");
        assert_eq!(s.len(), 11);
        assert!(
            s.starts_with('9') && &s[3..4] == "-" && &s[6..7] == "-",
            "{s}"
        );
        assert_eq!(run(Entity::Ssn, "123456789"), s.replace('-', ""));
        let p = run(Entity::Phone, "(217) 555-0143");
        assert!(p.starts_with('(') && p.contains(") 555-01"), "{p}");
        let p1 = run(Entity::Phone, "+1 217 555 0143");
        assert!(p1.starts_with("+1 ") && p1.contains(" 555 01"), "{p1}");
        let e = run(Entity::Email, "Jane.Doe@example.org");
        assert_eq!(e.len(), 20);
        assert!(
            e.as_bytes()[0].is_ascii_uppercase()
                && e.contains('@')
                && e.ends_with(&e[e.len() - 4..])
        );
        assert_ne!(e, "Jane.Doe@example.org");
        // The allocation-free path gives the same bytes, short or long.
        let key = Key::from_bytes(&[7; 32]).unwrap();
        let long = "x".repeat(100) + " 123-45-6789";
        for (entity, v) in [(Entity::Ssn, "123-45-6789"), (Entity::Name, long.as_str())] {
            let mut o = Vec::new();
            shape_of(&key, entity, v.as_bytes(), &mut o);
            assert_eq!(String::from_utf8(o).unwrap(), run(entity, v));
        }
    }

    /// The in-place writer against the plain one it replaced (one push per byte, the stream
    /// indexed by character count), on seeded random bytes of every class and non-ASCII.
    #[test]
    fn in_place_writer_matches_the_plain_one() {
        fn plain(value: &[u8], ks: &[u8], out: &mut Vec<u8>) {
            let mut n = 0usize;
            for &b in value {
                let r = ks[n % ks.len()];
                let c = match b {
                    b'0'..=b'9' => b'0' + r % 10,
                    b'A'..=b'Z' => b'A' + r % 26,
                    b'a'..=b'z' => b'a' + r % 26,
                    _ => {
                        out.push(b);
                        continue;
                    }
                };
                out.push(c);
                n += 1;
            }
        }
        let mut rng = crate::test_rng::Rng(0x005e_ed0f_5a4e);
        let alphabet = b"0123456789ABCXYZabcxyz-() .@_\xc3\xa9";
        for _ in 0..5000 {
            let len = rng.below(40) as usize;
            let value: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                .collect();
            let ks: Vec<u8> = (0..len.max(1)).map(|_| rng.next() as u8).collect();
            // Name: no digit fix-ups after the characters, so only the writer is compared.
            let (mut a, mut b) = (b"pre".to_vec(), b"pre".to_vec());
            write(Entity::Name, &value, &ks, &mut a);
            plain(&value, &ks, &mut b);
            assert_eq!(a, b, "{value:?}");
        }
    }
}
