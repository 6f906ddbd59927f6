//! The closed list of what phiscrub finds.
//!
//! Eighteen HIPAA Safe Harbor categories (45 CFR 164.514(b)(2)(i), letters A–R) split into the
//! entities users act on separately (ZIP apart from street and city, ages over 89 apart from
//! dates, fax apart from phone), plus `SECRET` for credentials, which are no PHI but must never
//! reach a test environment or a git history either.
//!
//! ```
//! use phiscrub::entity::Entity;
//! let e: Entity = "ssn".parse().unwrap();
//! assert_eq!(e.name(), "SSN");
//! assert_eq!(e.hipaa_letter(), Some('G'));
//! ```

use std::fmt;
use std::str::FromStr;

macro_rules! entities {
    ($( $variant:ident => $name:literal, $letter:expr, $what:literal; )*) => {
        /// One category of identifier. The names are stable: they appear in reports, policies and
        /// typed tokens (`SSN_…`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Entity { $( $variant, )* }

        impl Entity {
            /// Every entity, in report order.
            pub const ALL: &'static [Entity] = &[ $( Entity::$variant, )* ];

            /// The stable upper-case name.
            pub fn name(self) -> &'static str {
                match self { $( Entity::$variant => $name, )* }
            }

            /// The letter of 45 CFR 164.514(b)(2)(i) this entity falls under; `None` for secrets.
            pub fn hipaa_letter(self) -> Option<char> {
                match self { $( Entity::$variant => $letter, )* }
            }

            /// A short human description, for `phiscrub rules`.
            pub fn describe(self) -> &'static str {
                match self { $( Entity::$variant => $what, )* }
            }
        }
    };
}

entities! {
    Name => "NAME", Some('A'), "names";
    Location => "LOCATION", Some('B'), "street address, city, county, PO box";
    Zip => "ZIP", Some('B'), "ZIP codes";
    Date => "DATE", Some('C'), "dates more precise than the year";
    AgeOver89 => "AGE_OVER_89", Some('C'), "ages over 89";
    Phone => "PHONE", Some('D'), "telephone numbers";
    Fax => "FAX", Some('E'), "fax numbers";
    Email => "EMAIL", Some('F'), "email addresses";
    Ssn => "SSN", Some('G'), "social security numbers";
    Mrn => "MRN", Some('H'), "medical record numbers";
    HealthPlanId => "HEALTH_PLAN_ID", Some('I'), "health plan beneficiary numbers";
    AccountNumber => "ACCOUNT_NUMBER", Some('J'), "account, card and bank numbers";
    LicenseNumber => "LICENSE_NUMBER", Some('K'), "certificate and license numbers";
    VehicleId => "VEHICLE_ID", Some('L'), "vehicle identifiers, serials and plates";
    DeviceId => "DEVICE_ID", Some('M'), "device identifiers and serial numbers";
    Url => "URL", Some('N'), "web URLs";
    IpAddress => "IP_ADDRESS", Some('O'), "IP addresses";
    Biometric => "BIOMETRIC", Some('P'), "biometric identifiers";
    Photo => "PHOTO", Some('Q'), "full-face photographs and comparable images";
    OtherId => "OTHER_ID", Some('R'), "any other unique identifying number";
    Secret => "SECRET", None, "credentials: keys, tokens, passwords";
}

impl Entity {
    /// Dense index, for per-entity tables.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Entity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The name given is no entity phiscrub knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown entity `{0}` (run `phiscrub rules` for the list)")]
pub struct UnknownEntity(pub String);

impl FromStr for Entity {
    type Err = UnknownEntity;

    /// Case-insensitive; `-` and `_` are interchangeable so `age-over-89` works on a command line.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_uppercase().replace('-', "_");
        Entity::ALL
            .iter()
            .copied()
            .find(|e| e.name() == norm)
            .ok_or_else(|| UnknownEntity(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_letters_cover_a_to_r() {
        for &e in Entity::ALL {
            assert_eq!(e.name().parse::<Entity>(), Ok(e));
            assert_eq!(e.to_string(), e.name());
        }
        let mut letters: Vec<char> = Entity::ALL
            .iter()
            .filter_map(|e| e.hipaa_letter())
            .collect();
        letters.dedup();
        let expected: Vec<char> = ('A'..='R').collect();
        assert_eq!(
            letters, expected,
            "every Safe Harbor letter is covered, in order"
        );
    }

    #[test]
    fn parse_is_lenient_on_case_and_dashes_but_rejects_unknown() {
        for (input, want) in [
            ("ssn", Some(Entity::Ssn)),
            ("age-over-89", Some(Entity::AgeOver89)),
            (" Ip_Address ", Some(Entity::IpAddress)),
            ("PASSPORT", None),
            ("", None),
        ] {
            assert_eq!(input.parse::<Entity>().ok(), want, "{input:?}");
        }
    }
}
