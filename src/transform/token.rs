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

/// The length of every token of `entity`: its name, `_` and twelve base32 characters.
pub fn len(entity: Entity) -> usize {
    entity.name().len() + 13
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

/// Whether `span` is something phiscrub itself wrote: a token (`SSN_K3J9Q2XW7M4P`) or a
/// placeholder (`[SSN]`) of a known entity. Such spans are no finding: scanning scrubbed output
/// stays quiet, and scrubbing it twice leaves the tokens as they are, so joins survive a
/// second pass.
pub fn is_own(span: &[u8]) -> bool {
    if let Some(inner) = span.strip_prefix(b"[").and_then(|s| s.strip_suffix(b"]")) {
        return is_entity_name(inner);
    }
    if span.len() < 14 || span[span.len() - 13] != b'_' {
        return false;
    }
    let (name, code) = span.split_at(span.len() - 13);
    code[1..].iter().all(|b| ALPHABET.contains(b)) && is_entity_name(name)
}

/// Whether `hay[start..end]` lies inside a token or placeholder phiscrub wrote (a rule may
/// match only the `NAME` of `NAME_TUJGQW72KGFE`): the span is widened to the whole run of
/// token characters around it and that run checked with [`is_own`].
pub fn within_own(hay: &[u8], start: usize, end: usize) -> bool {
    let tokenish = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_';
    let mut s = start;
    while s > 0 && tokenish(hay[s - 1]) {
        s -= 1;
    }
    let mut e = end;
    while e < hay.len() && tokenish(hay[e]) {
        e += 1;
    }
    if s > 0 && e < hay.len() && hay[s - 1] == b'[' && hay[e] == b']' {
        return is_own(&hay[s - 1..e + 1]);
    }
    is_own(&hay[s..e])
}

/// Exactly an entity's name as tokens spell it (upper case), without allocating.
fn is_entity_name(name: &[u8]) -> bool {
    Entity::ALL.iter().any(|e| e.name().as_bytes() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_tokens_and_placeholders_are_recognised() {
        let k = Key::from_bytes(&[1; 32]).unwrap();
        for e in Entity::ALL {
            let mut t = Vec::new();
            token(&k, *e, b"x", &mut t);
            assert!(is_own(&t), "{}", String::from_utf8_lossy(&t));
            assert!(is_own(format!("[{}]", e.name()).as_bytes()));
        }
        let line = b"first_name=NAME_TUJGQW72KGFE photo=[PHOTO] John";
        assert!(
            within_own(line, 11, 15),
            "a rule matching the NAME of a token"
        );
        assert!(within_own(line, 35, 42), "the whole placeholder");
        assert!(within_own(line, 36, 41), "the name inside a placeholder");
        assert_eq!(&line[43..47], b"John");
        assert!(!within_own(line, 43, 47));
        for not in [
            &b"NAME_TUJGQW72KGF"[..],
            b"NAME_TUJGQW72KGFE1",
            b"NAME_tujgqw72kgfe",
            b"NAMES_TUJGQW72KGFE",
            b"[NAMES]",
            b"John",
            b"[]",
        ] {
            assert!(!is_own(not), "{}", String::from_utf8_lossy(not));
        }
    }

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
        assert!(
            a.starts_with("SSN_") && a.len() == 16 && a.len() == len(Entity::Ssn),
            "{a}"
        );
        assert_eq!(a, t(&k1, b"123456789"));
        assert_ne!(a, t(&k2, b"123456789"));
        assert_ne!(a, t(&k1, b"123456780"));
        let mut o = b"x".to_vec();
        token_of(&k1, Entity::Ssn, b"123-45-6789", &mut o);
        assert_eq!(&o[1..], a.as_bytes());
    }
}
