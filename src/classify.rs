//! Column classification for structured data: from a column's name (rules as data in
//! `patterns/columns.toml`) and a sample of its values, decide that a whole column is one
//! entity — a `first_name` column is all NAME even where a value is no dictionary word — or
//! that it is kept, or that its cells are scanned one by one with the column name as context.
//!
//! ```
//! use phiscrub::{classify::{ColumnRules, How}, detect, entity::Entity};
//! let rules = ColumnRules::builtin().unwrap();
//! let det = detect::builtin().unwrap();
//! let mut scanner = det.scanner();
//! let c = rules.classify("FIRST", &[b"Gleason633".as_slice(), b"Ana"], &mut scanner, 0.5);
//! assert_eq!(c.entity, Some(Entity::Name));
//! assert_eq!(c.how, Some(How::Header));
//! ```

use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use regex_automata::Input;
use serde::Deserialize;

use crate::detect::{Context, Scanner};
use crate::entity::Entity;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnsFile {
    #[serde(default)]
    column: Vec<ColumnSpec>,
    keep: Option<KeepSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnSpec {
    entity: String,
    patterns: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeepSpec {
    patterns: Vec<String>,
}

/// The column rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    #[error("column rules: {0}")]
    Toml(String),
    #[error("column rules: unknown entity `{0}`")]
    Entity(String),
    #[error("column rules: pattern does not compile: {0}")]
    Regex(String),
}

/// How a column's class was decided (reported by `phiscrub profile` and `--report json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum How {
    Header,
    Values,
    Both,
}

/// What a column is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ColumnClass {
    pub name: String,
    /// Every value of the column is this entity.
    pub entity: Option<Entity>,
    /// Not an identifier: left as it is and not scanned.
    pub keep: bool,
    pub how: Option<How>,
    /// Non-empty values sampled, and how many of them were wholly one finding of `entity`.
    pub sampled: usize,
    pub matched: usize,
    /// The column's declared SQL type (database dumps): every replacement is fitted to it, so
    /// the dump still restores. `None` for formats without declared types.
    #[serde(serialize_with = "type_name")]
    pub sql_type: Option<crate::formats::sqltype::SqlType>,
    /// The column is a primary key or unique (a dump's `CREATE TABLE` says so): two values
    /// sharing one replacement would fail the restore, so that is an error, not a warning.
    #[serde(skip)]
    pub unique: bool,
}

/// A declared SQL type as reports spell it (`text(11)`), or null.
fn type_name<S: serde::Serializer>(
    t: &Option<crate::formats::sqltype::SqlType>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.collect_str(t),
        None => s.serialize_none(),
    }
}

impl ColumnClass {
    /// A column nothing is known about: its cells are scanned.
    pub fn scanned(name: &str) -> ColumnClass {
        ColumnClass {
            name: name.to_string(),
            entity: None,
            keep: false,
            how: None,
            sampled: 0,
            matched: 0,
            sql_type: None,
            unique: false,
        }
    }
}

/// Compiled column-name rules.
#[derive(Debug, Clone)]
pub struct ColumnRules {
    names: Regex,
    /// Per pattern: the entity, or `None` for a kept column.
    target: Vec<Option<Entity>>,
}

/// Share of sampled values that must be one entity for the values alone to classify a column.
pub const VALUE_SHARE: f64 = 0.6;
/// Fewest non-empty samples for a value-based decision.
pub const MIN_SAMPLES: usize = 3;

impl ColumnRules {
    /// The rules compiled into the binary.
    ///
    /// # Errors
    /// Only if the built-in file is broken, which the tests guard against.
    pub fn builtin() -> Result<ColumnRules, ClassifyError> {
        ColumnRules::parse(include_str!("../patterns/columns.toml"))
    }

    /// Parses a columns file.
    ///
    /// # Errors
    /// TOML errors, unknown entities, patterns that do not compile.
    pub fn parse(text: &str) -> Result<ColumnRules, ClassifyError> {
        let file: ColumnsFile =
            toml::from_str(text).map_err(|e| ClassifyError::Toml(e.message().to_string()))?;
        let mut patterns = Vec::new();
        let mut target = Vec::new();
        for c in &file.column {
            let e: Entity = c
                .entity
                .parse()
                .map_err(|_| ClassifyError::Entity(c.entity.clone()))?;
            for p in &c.patterns {
                patterns.push(format!("^(?:{p})$"));
                target.push(Some(e));
            }
        }
        if let Some(k) = &file.keep {
            for p in &k.patterns {
                patterns.push(format!("^(?:{p})$"));
                target.push(None);
            }
        }
        let names = Regex::builder()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .build_many(&patterns)
            .map_err(|e| ClassifyError::Regex(e.to_string()))?;
        Ok(ColumnRules { names, target })
    }

    /// The class a column name alone gives: `Some(Some(entity))`, `Some(None)` for keep, or
    /// `None` when the name says nothing.
    pub fn by_name(&self, name: &str) -> Option<Option<Entity>> {
        let norm = normalize(name);
        let m = self.names.search(&Input::new(norm.as_bytes()))?;
        Some(self.target[m.pattern().as_usize()])
    }

    /// Classifies a column from its name and a sample of its values.
    pub fn classify(
        &self,
        name: &str,
        samples: &[&[u8]],
        scanner: &mut Scanner,
        min_score: f32,
    ) -> ColumnClass {
        let mut class = ColumnClass::scanned(name);
        let by_name = self.by_name(name);
        if by_name == Some(None) {
            class.keep = true;
            class.how = Some(How::Header);
            return class;
        }
        // Value evidence: how many values are wholly one finding, by entity.
        let mut counts = [0usize; 32];
        let mut found = Vec::new();
        for v in samples {
            let v = trim(v);
            if v.is_empty() {
                continue;
            }
            class.sampled += 1;
            found.clear();
            scanner.scan(v, 0, &Context { field: Some(name) }, &mut found);
            if let Some(f) = found
                .iter()
                .find(|f| f.score >= min_score && (f.end - f.start) * 5 >= v.len() * 4)
            {
                counts[f.entity.index()] += 1;
            }
        }
        let by_values = Entity::ALL
            .iter()
            .copied()
            .max_by_key(|e| counts[e.index()])
            .filter(|e| {
                class.sampled >= MIN_SAMPLES
                    && counts[e.index()] as f64 >= VALUE_SHARE * class.sampled as f64
            });
        match (by_name.flatten(), by_values) {
            (Some(h), Some(v)) if h == v => {
                class.entity = Some(h);
                class.how = Some(How::Both);
            }
            (Some(h), _) => {
                class.entity = Some(h);
                class.how = Some(How::Header);
            }
            (None, Some(v)) => {
                class.entity = Some(v);
                class.how = Some(How::Values);
            }
            (None, None) => {}
        }
        if let Some(e) = class.entity {
            class.matched = counts[e.index()];
        }
        class
    }
}

/// Lower case, the last segment of a key path, `[]` dropped, `-` and spaces as `_`.
fn normalize(name: &str) -> String {
    let last = name.rsplit('.').next().unwrap_or(name);
    last.trim()
        .chars()
        .filter(|c| *c != '[' && *c != ']' && *c != '"')
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

fn trim(v: &[u8]) -> &[u8] {
    let s = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let e = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(s, |p| p + 1);
    &v[s..e]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect;

    #[test]
    fn names_table() {
        let r = ColumnRules::builtin().unwrap();
        for (name, want) in [
            ("FIRST", Some(Some(Entity::Name))),
            ("LAST", Some(Some(Entity::Name))),
            ("MAIDEN", Some(Some(Entity::Name))),
            ("pt_name", Some(Some(Entity::Name))),
            ("patient.name", Some(Some(Entity::Name))),
            ("BIRTHDATE", Some(Some(Entity::Date))),
            ("dob", Some(Some(Entity::Date))),
            ("DEATHDATE", Some(Some(Entity::Date))),
            ("SSN", Some(Some(Entity::Ssn))),
            ("mrn", Some(Some(Entity::Mrn))),
            ("ZIP", Some(Some(Entity::Zip))),
            ("addr1", Some(Some(Entity::Location))),
            ("ADDRESS", Some(Some(Entity::Location))),
            ("CITY", Some(Some(Entity::Location))),
            ("COUNTY", Some(Some(Entity::Location))),
            ("BIRTHPLACE", Some(Some(Entity::Location))),
            ("LAT", Some(Some(Entity::Location))),
            ("lon", Some(Some(Entity::Location))),
            ("email", Some(Some(Entity::Email))),
            ("contacts[].phone", Some(Some(Entity::Phone))),
            ("member_id", Some(Some(Entity::HealthPlanId))),
            ("DRIVERS", Some(Some(Entity::LicenseNumber))),
            ("PASSPORT", Some(Some(Entity::LicenseNumber))),
            ("Id", Some(Some(Entity::OtherId))),
            ("patient_id", Some(Some(Entity::OtherId))),
            ("PATIENT", Some(Some(Entity::OtherId))),
            ("ENCOUNTER", Some(Some(Entity::OtherId))),
            ("STATE", Some(None)),
            ("GENDER", Some(None)),
            ("RACE", Some(None)),
            ("TOTAL_COST", Some(None)),
            ("CODE", Some(None)),
            ("DESCRIPTION", None),
            ("notes", None),
            ("START", None),
        ] {
            assert_eq!(r.by_name(name), want, "{name}");
        }
    }

    #[test]
    fn values_decide_when_the_name_does_not() {
        let r = ColumnRules::builtin().unwrap();
        let det = detect::builtin().unwrap();
        let mut s = det.scanner();
        let dates: Vec<&[u8]> = vec![
            b"2019-02-17T10:03:01Z",
            b"2020-11-02T08:00:00Z",
            b"",
            b"2021-01-05T00:00:00Z",
        ];
        let c = r.classify("START", &dates, &mut s, 0.5);
        assert_eq!(
            (c.entity, c.how, c.sampled, c.matched),
            (Some(Entity::Date), Some(How::Values), 3, 3)
        );
        let c = r.classify("dob", &dates, &mut s, 0.5);
        assert_eq!(c.how, Some(How::Both));
        let notes: Vec<&[u8]> = vec![b"pt stable", b"called SSN 536-22-8726 back", b"no change"];
        let c = r.classify("notes", &notes, &mut s, 0.5);
        assert_eq!(
            (c.entity, c.keep),
            (None, false),
            "free text is scanned cell by cell"
        );
        let c = r.classify("STATE", &[b"MA".as_slice()], &mut s, 0.5);
        assert!(c.keep);
    }
}
