//! One canonical form per value before hashing, so `123-45-6789` and `123456789`, or
//! `(555) 010-0123` and `+1 555 010 0123`, give one token and joins across sources survive.

use crate::entity::Entity;

/// The canonical bytes of `value` as an `entity`.
pub fn normalize(entity: Entity, value: &[u8]) -> Vec<u8> {
    match entity {
        Entity::Ssn | Entity::Zip | Entity::AccountNumber => digits(value),
        Entity::Phone | Entity::Fax => {
            let main = strip_extension(value);
            let d = digits(main);
            match d.as_slice() {
                [b'1', rest @ ..] if rest.len() == 10 => rest.to_vec(),
                _ => d,
            }
        }
        Entity::Date => match crate::dates::parse(value) {
            Some(p) => p.canonical().to_vec(),
            None => folded(value),
        },
        Entity::Email | Entity::Url | Entity::IpAddress | Entity::Name | Entity::Location => {
            folded(value)
        }
        Entity::Mrn
        | Entity::HealthPlanId
        | Entity::LicenseNumber
        | Entity::VehicleId
        | Entity::DeviceId
        | Entity::OtherId => {
            let a: Vec<u8> = value
                .iter()
                .filter(|b| b.is_ascii_alphanumeric())
                .map(u8::to_ascii_uppercase)
                .collect();
            if a.is_empty() {
                value.to_vec()
            } else {
                a
            }
        }
        Entity::AgeOver89 | Entity::Biometric | Entity::Photo | Entity::Secret => value.to_vec(),
    }
}

fn digits(v: &[u8]) -> Vec<u8> {
    v.iter().copied().filter(u8::is_ascii_digit).collect()
}

fn strip_extension(v: &[u8]) -> &[u8] {
    let lower: Vec<u8> = v.to_ascii_lowercase();
    let cut = [&b"ext"[..], b"x", b"#"]
        .iter()
        .filter_map(|m| memchr::memmem::find(&lower, m))
        .min();
    match cut {
        Some(c) => &v[..c],
        None => v,
    }
}

/// ASCII lower case with runs of white space folded to one space.
fn folded(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut space = false;
    for &b in v {
        if b.is_ascii_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(b' ');
            space = false;
        }
        out.push(b.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_ne!(
            normalize(Entity::Ssn, b"123-45-6789"),
            normalize(Entity::Ssn, b"123-45-6780")
        );
    }
}
