//! One canonical form per value before hashing, so `123-45-6789` and `123456789`, or
//! `(555) 010-0123` and `+1 555 010 0123`, give one token and joins across sources survive.

use crate::entity::Entity;

/// The canonical bytes of `value` as an `entity`.
pub fn normalize(entity: Entity, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    normalize_into(entity, value, &mut out);
    out
}

/// [`normalize`] appended to `out`, so a caller with a buffer at hand allocates nothing.
pub fn normalize_into(entity: Entity, value: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    match entity {
        Entity::Ssn | Entity::Zip | Entity::AccountNumber => digits(value, out),
        Entity::Phone | Entity::Fax => {
            digits(strip_extension(value), out);
            if out.len() - start == 11 && out[start] == b'1' {
                out.remove(start);
            }
        }
        Entity::Date => match crate::dates::parse(value) {
            Some(p) => out.extend_from_slice(&p.canonical()),
            None => folded(value, out),
        },
        Entity::Email | Entity::Url | Entity::IpAddress | Entity::Name | Entity::Location => {
            folded(value, out)
        }
        Entity::Mrn
        | Entity::HealthPlanId
        | Entity::LicenseNumber
        | Entity::VehicleId
        | Entity::DeviceId
        | Entity::OtherId => {
            keep_where(value, out, &ALNUM_UPPER);
            if out.len() == start {
                out.extend_from_slice(value);
            }
        }
        Entity::AgeOver89 | Entity::Biometric | Entity::Photo | Entity::Secret => {
            out.extend_from_slice(value)
        }
    }
}

fn digits(v: &[u8], out: &mut Vec<u8>) {
    keep_where(v, out, &DIGITS);
}

/// Byte maps for [`keep_where`]: each kept byte's image, 0 for a byte that is dropped.
type ByteMap = [u8; 256];
const DIGITS: ByteMap = byte_map(false);
const ALNUM_UPPER: ByteMap = byte_map(true);

const fn byte_map(letters: bool) -> ByteMap {
    let mut m = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        m[b] = if c.is_ascii_digit() || (letters && c.is_ascii_alphabetic()) {
            c.to_ascii_uppercase()
        } else {
            0
        };
        b += 1;
    }
    m
}

/// Appends the image under `map` of each byte of `v` that `map` keeps. Every byte is written
/// and the end moves only past kept ones: no branch per byte, where a filtered `extend` spent
/// a twentieth of a CSV scrub on the dashes of UUIDs; one table look-up decides and maps.
fn keep_where(v: &[u8], out: &mut Vec<u8>, map: &ByteMap) {
    let base = out.len();
    out.resize(base + v.len(), 0);
    let buf = &mut out[base..];
    let mut k = 0;
    for &b in v {
        let m = map[usize::from(b)];
        buf[k] = m;
        k += usize::from(m != 0);
    }
    out.truncate(base + k);
}

/// The number before an extension (`ext`, `x`, `#`, any case).
fn strip_extension(v: &[u8]) -> &[u8] {
    let cut = v.iter().enumerate().position(|(i, &b)| {
        matches!(b, b'x' | b'X' | b'#')
            || (b.eq_ignore_ascii_case(&b'e')
                && v.get(i + 1).is_some_and(|c| c.eq_ignore_ascii_case(&b'x'))
                && v.get(i + 2).is_some_and(|c| c.eq_ignore_ascii_case(&b't')))
    });
    match cut {
        Some(c) => &v[..c],
        None => v,
    }
}

/// ASCII lower case with runs of white space folded to one space.
fn folded(v: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    let mut space = false;
    for &b in v {
        if b.is_ascii_whitespace() {
            space = out.len() > start;
            continue;
        }
        if space {
            out.push(b' ');
            space = false;
        }
        out.push(b.to_ascii_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte maps keep and map what the predicates they stand for say, for every byte.
    #[test]
    fn byte_maps_match_their_predicates() {
        for b in 0..=255u8 {
            let digit = if b.is_ascii_digit() { b } else { 0 };
            assert_eq!(DIGITS[usize::from(b)], digit, "{b}");
            let alnum = if b.is_ascii_alphanumeric() {
                b.to_ascii_uppercase()
            } else {
                0
            };
            assert_eq!(ALNUM_UPPER[usize::from(b)], alnum, "{b}");
        }
    }

    #[test]
    fn equivalent_forms_normalize_alike() {
        for (entity, a, b) in [
            (Entity::Ssn, "123-45-6789", "123456789"),
            (Entity::Phone, "(217) 555-0143", "+1 217.555.0143"),
            (Entity::Phone, "217-555-0143 ext. 12", "2175550143"),
            (
                Entity::Email,
                "Jane.Doe@Example.ORG",
                "jane.doe@example.org",
            ),
            (Entity::Name, "John   SMITH", "john smith"),
            (Entity::Mrn, "mrn-00123", "MRN00123"),
            (Entity::Date, "03/04/2021", "2021-03-04"),
            (Entity::Date, "March 4th, 2021", "2021-03-04T10:00:00Z"),
        ] {
            assert_eq!(
                normalize(entity, a.as_bytes()),
                normalize(entity, b.as_bytes()),
                "{a} ~ {b}"
            );
        }
        let mut buf = b"prefix".to_vec();
        normalize_into(Entity::Phone, b"+1 (217) 555-0143 x9", &mut buf);
        assert_eq!(buf, b"prefix2175550143");
        assert_eq!(
            normalize(Entity::Phone, b"217-555-0143 EXT 4"),
            b"2175550143"
        );
        assert_eq!(normalize(Entity::Phone, b"1-217"), b"1217");
        assert_eq!(normalize(Entity::OtherId, b"--"), b"--");
        let mut buf = b"p".to_vec();
        normalize_into(Entity::OtherId, b"6513270e-269e-4d37-b2a7-4de4x", &mut buf);
        assert_eq!(buf, b"p6513270E269E4D37B2A74DE4X");
        assert_eq!(normalize(Entity::Ssn, b"a1-2b3-"), b"123");
        assert_ne!(
            normalize(Entity::Ssn, b"123-45-6789"),
            normalize(Entity::Ssn, b"123-45-6780")
        );
    }
}
