//! Transforms: what replaces a finding. Each action is a small stateless function in its own
//! file; the key is handled in [`key`] only.
//!
//! ```
//! use phiscrub::{entity::Entity, policy::Policy, transform::{Transformer, key::Key}};
//! let key = Key::from_bytes(&[9; 32]).unwrap();
//! let t = Transformer::new(Policy::defaults(true), Some(key));
//! let mut out = Vec::new();
//! t.apply(Entity::Ssn, "ssn.dashed", b"123-45-6789", &mut out);
//! assert_eq!(out.len(), 11);
//! assert_eq!(out[0], b'9');
//! ```

pub mod collide;
pub mod key;
pub mod mask;
pub mod midstate;
pub mod normalize;
pub mod permute;
pub mod shape;
pub mod token;
pub mod zip3;

use crate::entity::Entity;
use crate::policy::{Action, Policy};
use key::Key;
use normalize::normalize;

/// Applies the policy's action to values; holds the key and the date offset derived from it.
#[derive(Debug, Clone)]
pub struct Transformer {
    policy: Policy,
    key: Option<Key>,
    date_offset: i64,
    /// Shared by every clone (every worker) of this transformer: shaped values seen per column.
    collisions: std::sync::Arc<collide::Collisions>,
    /// The digit permutation's round key, derived from the key once.
    round_key: Option<permute::RoundKey>,
}

/// The largest date shift, in days, either way.
pub const MAX_SHIFT_DAYS: i64 = 365;

impl Transformer {
    pub fn new(policy: Policy, key: Option<Key>) -> Transformer {
        let date_offset = key.as_ref().map_or(0, |k| shift_days(k, b""));
        let round_key = key.as_ref().map(permute::RoundKey::derive);
        Transformer {
            policy,
            key,
            date_offset,
            collisions: Default::default(),
            round_key,
        }
    }

    /// The collision watch over shape-preserving replacements of structured columns.
    pub fn collisions(&self) -> &collide::Collisions {
        &self.collisions
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn key(&self) -> Option<&Key> {
        self.key.as_ref()
    }

    /// The action that applies to a finding of `entity` by rule `rule_id`.
    pub fn action(&self, entity: Entity, rule_id: &str) -> Action {
        self.policy.action(entity, rule_id)
    }

    /// Appends the replacement for `value` to `out`.
    pub fn apply(&self, entity: Entity, rule_id: &str, value: &[u8], out: &mut Vec<u8>) {
        let action = self.policy.action(entity, rule_id);
        self.apply_action(action, entity, value, self.date_offset, out);
    }

    /// Like [`apply`](Self::apply) with the date offset of one subject (a patient), so each
    /// subject's dates move together and keep their intervals.
    pub fn apply_for_subject(
        &self,
        entity: Entity,
        rule_id: &str,
        value: &[u8],
        subject: &[u8],
        out: &mut Vec<u8>,
    ) {
        let action = self.policy.action(entity, rule_id);
        let offset = self.key.as_ref().map_or(0, |k| shift_days(k, subject));
        self.apply_action(action, entity, value, offset, out);
    }

    /// Appends the replacement for `value` under an explicit `action` (a policy column
    /// override), with the date offset of `subject` when given.
    pub fn apply_with(
        &self,
        action: Action,
        entity: Entity,
        value: &[u8],
        subject: Option<&[u8]>,
        out: &mut Vec<u8>,
    ) {
        let offset = match (subject, self.key.as_ref()) {
            (Some(s), Some(k)) => shift_days(k, s),
            _ => self.date_offset,
        };
        self.apply_action(action, entity, value, offset, out);
    }

    /// The date offset of `subject` (or of no subject), to hand to
    /// [`apply_offset`](Self::apply_offset) for each of that subject's values: one HMAC per
    /// subject rather than per date.
    pub fn subject_offset(&self, subject: Option<&[u8]>) -> i64 {
        match (subject, self.key.as_ref()) {
            (Some(s), Some(k)) => shift_days(k, s),
            _ => self.date_offset,
        }
    }

    /// Appends the replacement for `value` under `action`, dates moved by `offset` days (from
    /// [`subject_offset`](Self::subject_offset)).
    pub fn apply_offset(
        &self,
        action: Action,
        entity: Entity,
        value: &[u8],
        offset: i64,
        out: &mut Vec<u8>,
    ) {
        self.apply_action(action, entity, value, offset, out);
    }

    /// [`Transformer::apply_offset`] for [`Action::Shape`] when the caller already holds the
    /// value's canonical form (`normalized`, from [`normalize_into`](normalize::normalize_into))
    /// for its own use, so it is not worked out twice. Returns `false`, writing nothing, where
    /// the general path must decide (a photo, or no key).
    pub fn shape_normalized(
        &self,
        entity: Entity,
        value: &[u8],
        normalized: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        match &self.key {
            Some(k) if entity != Entity::Photo => {
                shape::shape(k, entity, value, normalized, out);
                true
            }
            _ => false,
        }
    }

    fn apply_action(
        &self,
        action: Action,
        entity: Entity,
        value: &[u8],
        offset: i64,
        out: &mut Vec<u8>,
    ) {
        let placeholder = |out: &mut Vec<u8>| {
            out.push(b'[');
            out.extend_from_slice(entity.name().as_bytes());
            out.push(b']');
        };
        // A whole image embedded in binary data becomes the blank image of its kind, padded to
        // the same length, as a whole image file does (and offsets around it hold).
        if entity == Entity::Photo && !matches!(action, Action::Keep | Action::Redact) {
            use crate::formats::image;
            if let (Some(kind), image::Extent::Whole(n)) = (
                image::sniff(&value[..value.len().min(image::SNIFF_LEN)]),
                image::embedded_extent(value),
            ) {
                if n == value.len() {
                    image::blank_in_place(kind, n, out);
                    return;
                }
            }
        }
        match (action, &self.key) {
            (Action::Keep, _) => out.extend_from_slice(value),
            (Action::Redact, _) => {}
            (Action::Mask { ch, keep_last }, _) => mask::mask(value, ch, keep_last, out),
            (Action::Placeholder, _) => placeholder(out),
            (Action::Token, Some(k)) => token::token_of(k, entity, value, out),
            (Action::Shape, Some(k)) => shape::shape_of(k, entity, value, out),
            // A value without digits has nothing to permute: it takes the shape instead.
            (Action::Permute, Some(k)) => match &self.round_key {
                Some(r) if permute::digits_kept_in_place(r, entity, value, out) => {}
                _ => shape::shape_of(k, entity, value, out),
            },
            (Action::Shift, Some(_)) if crate::dates::shift_iso(value, offset, out) => {}
            (Action::Shift, Some(_)) => match crate::dates::parse(value) {
                Some(d) => out.extend_from_slice(&d.shifted(offset)),
                None => placeholder(out),
            },
            (Action::Year, _) => match crate::dates::parse(value) {
                Some(d) => out.extend_from_slice(&d.year_only()),
                None => placeholder(out),
            },
            (Action::Zip3, _) => zip3::zip3(value, out),
            (Action::Age90, _) => age90(value, out),
            // Keyed actions without a key are refused before any input is read; should one slip
            // through, the value is still never written.
            (Action::Token | Action::Shape | Action::Permute | Action::Shift, None) => {
                placeholder(out)
            }
        }
    }

    /// Appends the keyed permutation of the number `value` among numbers of its digit count
    /// (at most `max`): distinct ids stay distinct, so a unique or primary key survives. `false`
    /// (nothing written) without a key or when `value` is not a plain number.
    pub fn permute_digits(
        &self,
        entity: Entity,
        value: &[u8],
        max: Option<u128>,
        out: &mut Vec<u8>,
    ) -> bool {
        match &self.round_key {
            Some(k) => permute::digits(k, entity, value, max, out),
            None => false,
        }
    }

    /// Works out ahead, many side by side, what [`Transformer::permute_digits`] will answer
    /// for the ids of `batch` (see [`permute::prefetch`]); nothing without a key.
    pub fn prefetch_digits(&self, batch: IdBatch<'_>) {
        if let Some(k) = &self.round_key {
            for (entity, values) in batch.lists {
                permute::prefetch(k, entity, values);
            }
        }
    }

    /// Appends a keyed UUID standing for `value` (random-version layout, 122 keyed bits), or
    /// the nil UUID without a key: for `uuid` columns, where a token would not load.
    pub fn uuid_for(&self, entity: Entity, value: &[u8], out: &mut Vec<u8>) {
        let mut b = match &self.key {
            Some(k) => {
                let mac = k.mac(&[b"uuid", entity.name().as_bytes(), &normalize(entity, value)]);
                let mut b = [0u8; 16];
                b.copy_from_slice(&mac[..16]);
                b[6] = (b[6] & 0x0f) | 0x40;
                b[8] = (b[8] & 0x3f) | 0x80;
                b
            }
            None => [0u8; 16],
        };
        let hex = key::hex(&b);
        for (i, part) in [(0, 8), (8, 12), (12, 16), (16, 20), (20, 32)]
            .iter()
            .enumerate()
        {
            if i > 0 {
                out.push(b'-');
            }
            out.extend_from_slice(&hex.as_bytes()[part.0..part.1]);
        }
        b.fill(0);
    }

    /// Appends a keyed address standing for `value` in a private range (10.0.0.0/8 or
    /// fd00::/8), or the unspecified address without a key: for `inet` columns.
    pub fn ip_for(&self, entity: Entity, value: &[u8], v6: bool, out: &mut Vec<u8>) {
        let mac = self
            .key
            .as_ref()
            .map(|k| k.mac(&[b"ip", entity.name().as_bytes(), value]));
        let text = match (mac, v6) {
            (Some(m), false) => format!("10.{}.{}.{}", m[0], m[1], m[2].max(1)),
            (Some(m), true) => format!(
                "fd{:02x}:{:02x}{:02x}:{:02x}{:02x}::{:x}",
                m[0],
                m[1],
                m[2],
                m[3],
                m[4],
                u16::from_le_bytes([m[5], m[6]]).max(1)
            ),
            (None, false) => "0.0.0.0".to_string(),
            (None, true) => "::".to_string(),
        };
        out.extend_from_slice(text.as_bytes());
    }

    /// A keyed fingerprint of the value for reports and baselines: `keyid:hex`, or `None`
    /// without a key (an unkeyed hash of an SSN is reversible by enumeration).
    pub fn fingerprint(&self, entity: Entity, value: &[u8]) -> Option<String> {
        let k = self.key.as_ref()?;
        let mac = k.mac(&[
            b"fingerprint",
            entity.name().as_bytes(),
            &normalize(entity, value),
        ]);
        Some(format!("{}:{}", k.id(), key::hex(&mac[..8])))
    }
}

/// A keyed date offset in ±1..=365 days for `subject`; never zero, so a shift always moves.
pub fn shift_days(key: &Key, subject: &[u8]) -> i64 {
    let mac = key.mac(&[b"date-shift", subject]);
    let r = u64::from_le_bytes([
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], mac[6], mac[7],
    ]);
    let magnitude = (r % MAX_SHIFT_DAYS as u64) as i64 + 1;
    if r >> 63 == 1 {
        -magnitude
    } else {
        magnitude
    }
}

/// `90+` in place of the age's number, the rest of the span (`-year-old`) kept.
fn age90(value: &[u8], out: &mut Vec<u8>) {
    let start = value.iter().position(u8::is_ascii_digit);
    match start {
        Some(s) => {
            let end = value[s..]
                .iter()
                .position(|b| !b.is_ascii_digit())
                .map_or(value.len(), |p| s + p);
            out.extend_from_slice(&value[..s]);
            out.extend_from_slice(b"90+");
            out.extend_from_slice(&value[end..]);
        }
        None => out.extend_from_slice(b"90+"),
    }
}

/// A work unit's ids with their columns' limits, one list per entity in the order the rows
/// will ask for them: a key and the foreign keys to it share a permutation, so they share a
/// list (see [`Transformer::prefetch_digits`]).
#[derive(Default)]
pub struct IdBatch<'v> {
    lists: Vec<(Entity, Vec<Id<'v>>)>,
}

/// An id's text and its column's limit, as [`Transformer::permute_digits`] gets them.
type Id<'v> = (&'v [u8], Option<u128>);

impl<'v> IdBatch<'v> {
    pub fn push(&mut self, entity: Entity, value: &'v [u8], max: Option<u128>) {
        match self.lists.iter_mut().find(|l| l.0 == entity) {
            Some(l) => l.1.push((value, max)),
            None => self.lists.push((entity, vec![(value, max)])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed() -> Transformer {
        Transformer::new(
            Policy::defaults(true),
            Some(Key::from_bytes(&[3; 32]).unwrap()),
        )
    }

    fn run(t: &Transformer, e: Entity, v: &str) -> String {
        let mut out = Vec::new();
        t.apply(e, "r", v.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn default_actions_table() {
        let t = keyed();
        let plain = Transformer::new(Policy::defaults(false), None);
        assert_eq!(run(&plain, Entity::Ssn, "123-45-6789"), "[SSN]");
        assert_eq!(run(&t, Entity::Zip, "62704"), "62700");
        assert_eq!(run(&t, Entity::AgeOver89, "92"), "90+");
        assert_eq!(run(&t, Entity::Secret, "AKIA..."), "[SECRET]");
        let name = run(&t, Entity::Name, "John Smith");
        assert!(name.starts_with("NAME_"), "{name}");
        assert_eq!(
            name,
            run(&t, Entity::Name, "JOHN  SMITH"),
            "one person, one token"
        );
        let d = run(&t, Entity::Date, "03/04/2021");
        assert_ne!(d, "03/04/2021");
        assert_eq!(d.len(), 10);
        assert_eq!(d.as_bytes()[2], b'/');
    }

    #[test]
    fn date_shift_keeps_intervals_within_a_subject() {
        let t = keyed();
        let shift = |v: &str, s: &[u8]| {
            let mut out = Vec::new();
            t.apply_for_subject(Entity::Date, "d", v.as_bytes(), s, &mut out);
            crate::dates::parse(&out)
                .map(|p| crate::dates::days_from_civil(p.year, p.month, p.day))
                .unwrap()
        };
        let (a, b) = (shift("2021-03-04", b"p1"), shift("2021-03-14", b"p1"));
        assert_eq!(b - a, 10);
        let k = Key::from_bytes(&[3; 32]).unwrap();
        for s in [&b"p1"[..], b"p2", b""] {
            let d = shift_days(&k, s);
            assert!(d != 0 && d.abs() <= MAX_SHIFT_DAYS);
        }
    }

    #[test]
    fn fingerprint_is_keyed_and_normalized() {
        let t = keyed();
        let a = t.fingerprint(Entity::Ssn, b"123-45-6789").unwrap();
        assert_eq!(Some(a.clone()), t.fingerprint(Entity::Ssn, b"123456789"));
        assert!(a.starts_with(t.key().unwrap().id()));
        assert!(Transformer::new(Policy::defaults(false), None)
            .fingerprint(Entity::Ssn, b"1")
            .is_none());
    }
}
