//! `token`: a short typed token, `SSN_K3J9Q2XW7M4P`, from HMAC-SHA256 over entity and
//! normalized value. Twelve base32 characters carry 60 bits: collisions stay below one in a
//! million for a million distinct values of one entity.

use crate::entity::Entity;
use crate::transform::key::Key;
use crate::transform::normalize::normalize_into;

const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Appends the token for `normalized` to `out`.
pub fn token(key: &Key, entity: Entity, normalized: &[u8], out: &mut Vec<u8>) {
    let mac = key.mac(&[b"token", entity.name().as_bytes(), normalized]);
    write(entity, &mac, out);
}

/// Appends the token for the raw `value`, normalized in `out`'s spare room first (no
/// allocation once `out` has grown to fit).
pub fn token_of(key: &Key, entity: Entity, value: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    normalize_into(entity, value, out);
    let mac = key.mac(&[b"token", entity.name().as_bytes(), &out[start..]]);
    out.truncate(start);
    write(entity, &mac, out);
}

fn write(entity: Entity, mac: &[u8; 32], out: &mut Vec<u8>) {
    out.extend_from_slice(entity.name().as_bytes());
    out.push(b'_');
    let bits = u64::from_be_bytes([
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], mac[6], mac[7],
    ]);
    for i in 0..12 {
        out.push(ALPHABET[((bits >> (59 - 5 * i)) & 31) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_deterministic_and_key_dependent() {
        let k1 = Key::from_bytes(&[1; 32]).unwrap();
        let k2 = Key::from_bytes(&[2; 32]).unwrap();
        let t = |k: &Key, v: &[u8]| {
            let mut o = Vec::new();
            token(k, Entity::Ssn, v, &mut o);
            String::from_utf8(o).unwrap()
        };
        let a = t(&k1, b"123456789");
        assert!(a.starts_with("SSN_") && a.len() == 16, "{a}");
        assert_eq!(a, t(&k1, b"123456789"));
        assert_ne!(a, t(&k2, b"123456789"));
        assert_ne!(a, t(&k1, b"123456780"));
        let mut o = b"x".to_vec();
        token_of(&k1, Entity::Ssn, b"123-45-6789", &mut o);
        assert_eq!(&o[1..], a.as_bytes());
    }
}
