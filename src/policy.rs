//! What to do with each finding: entity (and rule) → action, from `phiscrub.toml` or built-in
//! defaults. The file is parsed and checked completely before any input is read.
//!
//! ```toml
//! min_score = 0.5
//!
//! [entities]
//! SSN = "shape"                                  # keyed, same shape, 9xx area
//! PHONE = { action = "mask", keep_last = 4 }     # ***-***-1234
//! DATE = "year"
//! NAME = "token"
//!
//! [rules]
//! "secret.password_assignment" = "redact"
//!
//! [columns]                                      # structured data: "table.column", * globs
//! "patients.ssn" = "token"                       # the column's entity (or OTHER_ID) as a token
//! "patients.notes" = "scan"                      # free text: scan cell by cell
//! "audit.*" = "keep"                             # leave alone
//! "claims.member" = { entity = "HEALTH_PLAN_ID", action = "token" }
//!
//! [guard]                                        # `phiscrub guard` (pre-commit) only
//! allow_paths = ["testdata/fake/**"]             # globs of repository paths never scanned
//! baseline = ".phiscrub-baseline.json"           # default baseline file
//! ```

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::entity::Entity;

/// One action. Keyed actions (`token`, `shape`, `permute`, `shift`) need a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Leave the value as it is (it is still reported by `scan`).
    Keep,
    /// Remove the value.
    Redact,
    /// Replace letters and digits with `ch`, keeping the last `keep_last` of them and every
    /// separator, so `123-45-6789` becomes `***-**-6789`.
    Mask { ch: char, keep_last: usize },
    /// `[SSN]`.
    Placeholder,
    /// `SSN_…`: HMAC of entity and normalized value; same key, same token everywhere.
    Token,
    /// Keyed, same length, separators and character classes.
    Shape,
    /// Keyed, the digits permuted among all numbers of their count and everything else kept:
    /// same length like `shape`, but distinct values stay distinct (unique columns).
    Permute,
    /// Dates: move by a keyed offset, keeping the written form.
    Shift,
    /// Dates: keep only the year.
    Year,
    /// ZIP: first three digits, `000` for the sparse prefixes.
    Zip3,
    /// Ages over 89: `90+`.
    Age90,
}

impl Action {
    /// Whether the action needs a key.
    pub fn keyed(self) -> bool {
        matches!(
            self,
            Action::Token | Action::Shape | Action::Permute | Action::Shift
        )
    }

    /// The name used in policy files and `phiscrub rules`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Keep => "keep",
            Action::Redact => "redact",
            Action::Mask { .. } => "mask",
            Action::Placeholder => "placeholder",
            Action::Token => "token",
            Action::Shape => "shape",
            Action::Permute => "permute",
            Action::Shift => "shift",
            Action::Year => "year",
            Action::Zip3 => "zip3",
            Action::Age90 => "90+",
        }
    }

    fn parse(name: &str, keep_last: Option<usize>, ch: Option<char>) -> Option<Action> {
        Some(match name {
            "keep" => Action::Keep,
            "redact" => Action::Redact,
            "mask" => Action::Mask {
                ch: ch.unwrap_or('*'),
                keep_last: keep_last.unwrap_or(0),
            },
            "placeholder" => Action::Placeholder,
            "token" => Action::Token,
            "shape" => Action::Shape,
            "permute" => Action::Permute,
            "shift" => Action::Shift,
            "year" => Action::Year,
            "zip3" => Action::Zip3,
            "90+" | "age90" => Action::Age90,
            _ => return None,
        })
    }

    /// Entity-specific actions make no sense elsewhere (`zip3` of an email).
    fn fits(self, e: Entity) -> bool {
        match self {
            Action::Shift | Action::Year => e == Entity::Date,
            Action::Zip3 => e == Entity::Zip,
            Action::Age90 => e == Entity::AgeOver89,
            _ => true,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ActionSpec {
    Name(String),
    Full(ActionTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionTable {
    #[serde(default)]
    entity: Option<String>,
    action: String,
    #[serde(default)]
    keep_last: Option<usize>,
    #[serde(default, rename = "char")]
    ch: Option<char>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    min_score: Option<f32>,
    #[serde(default)]
    unknown_columns: Option<String>,
    #[serde(default)]
    entities: HashMap<String, ActionSpec>,
    #[serde(default)]
    rules: HashMap<String, ActionSpec>,
    #[serde(default)]
    columns: std::collections::BTreeMap<String, ActionSpec>,
    #[serde(default)]
    guard: GuardSettings,
}

/// The `[guard]` table: settings of `phiscrub guard` only, ignored by `scan` and `scrub`.
/// Globs are checked by the guard (it owns the glob syntax); here they are only carried.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSettings {
    /// Repository paths (globs, `**` across directories) the guard never scans.
    #[serde(default)]
    pub allow_paths: Vec<String>,
    /// The baseline file, relative to the repository root.
    #[serde(default)]
    pub baseline: Option<String>,
}

/// What the policy says about one column of structured data, overriding the classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnOverride {
    /// Leave the column alone.
    Keep,
    /// Scan each cell as free text.
    Scan,
    /// Every value is `entity` (or the classified entity, or OTHER_ID) and gets `action`.
    Whole {
        entity: Option<Entity>,
        action: Action,
    },
}

/// The policy is unusable; every problem is listed.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("policy {path}: {}", .problems.join("; "))]
    Invalid { path: String, problems: Vec<String> },
}

/// A checked policy.
#[derive(Debug, Clone)]
pub struct Policy {
    by_entity: Vec<Action>,
    by_rule: HashMap<String, Action>,
    /// `table.column` globs, in file order, first match wins.
    columns: Vec<(String, ColumnOverride)>,
    /// Findings below this score are neither reported nor changed.
    pub min_score: f32,
    /// Structured data: what happens to a column no rule classifies (`--unknown-columns`).
    pub unknown_columns: UnknownColumns,
    /// `[guard]`: settings of the pre-commit guard.
    pub guard: GuardSettings,
}

/// What structured formats do with a column that is neither classified nor kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum UnknownColumns {
    /// Scan each cell as free text with the column name as context (the default).
    #[default]
    Scan,
    /// Fail closed: mask every non-empty text value (numbers, dates and other typed columns
    /// of a dump are still scanned, since a mask would not load there).
    Mask,
    /// Leave such columns as they are.
    Keep,
}

/// The default minimum score: validated identifiers score 0.8 and up, context-only ones 0.6+.
pub const DEFAULT_MIN_SCORE: f32 = 0.5;

impl Policy {
    /// Built-in defaults. With a key: tokens and shape-preserving tokens for identifiers, date
    /// shifting, ZIP3 and 90+. Without one: a typed placeholder for everything, so the tool works
    /// on a fresh machine before anyone made a key.
    pub fn defaults(keyed: bool) -> Policy {
        let by_entity = Entity::ALL
            .iter()
            .map(|&e| {
                if !keyed {
                    return Action::Placeholder;
                }
                match e {
                    Entity::Ssn | Entity::Phone | Entity::Fax => Action::Shape,
                    Entity::Date => Action::Shift,
                    Entity::Zip => Action::Zip3,
                    Entity::AgeOver89 => Action::Age90,
                    Entity::Secret | Entity::Photo | Entity::Biometric => Action::Placeholder,
                    _ => Action::Token,
                }
            })
            .collect();
        Policy {
            by_entity,
            by_rule: HashMap::new(),
            columns: Vec::new(),
            min_score: DEFAULT_MIN_SCORE,
            unknown_columns: UnknownColumns::Scan,
            guard: GuardSettings::default(),
        }
    }

    /// Loads `path` over the defaults.
    ///
    /// # Errors
    /// Unreadable file, TOML errors, unknown entities or actions, actions that do not fit their
    /// entity: all of them at once.
    pub fn from_file(path: &Path, keyed: bool) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Policy::parse(&text, keyed).map_err(|problems| PolicyError::Invalid {
            path: path.display().to_string(),
            problems,
        })
    }

    /// Parses policy text over the defaults.
    ///
    /// # Errors
    /// The list of every problem found.
    pub fn parse(text: &str, keyed: bool) -> Result<Policy, Vec<String>> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| vec![e.message().to_string()])?;
        let mut policy = Policy::defaults(keyed);
        let mut problems = Vec::new();
        policy.guard = file.guard;
        if let Some(s) = file.min_score {
            if (0.0..=1.0).contains(&s) {
                policy.min_score = s;
            } else {
                problems.push(format!("min_score {s} is outside 0..=1"));
            }
        }
        match file.unknown_columns.as_deref() {
            None | Some("scan") => {}
            Some("mask") => policy.unknown_columns = UnknownColumns::Mask,
            Some("keep") => policy.unknown_columns = UnknownColumns::Keep,
            Some(other) => problems.push(format!(
                "unknown_columns `{other}` is not one of scan, mask, keep"
            )),
        }
        for (name, spec) in &file.entities {
            let entity = match name.parse::<Entity>() {
                Ok(e) => e,
                Err(e) => {
                    problems.push(e.to_string());
                    continue;
                }
            };
            match resolve(spec) {
                Ok(a) if a.fits(entity) => policy.by_entity[entity.index()] = a,
                Ok(a) => problems.push(format!("action `{}` does not apply to {entity}", a.name())),
                Err(p) => problems.push(format!("entities.{name}: {p}")),
            }
        }
        for (glob, spec) in &file.columns {
            let o = match spec {
                ActionSpec::Name(n) if n == "keep" => Ok(ColumnOverride::Keep),
                ActionSpec::Name(n) if n == "scan" => Ok(ColumnOverride::Scan),
                _ => {
                    let entity = match spec {
                        ActionSpec::Full(ActionTable {
                            entity: Some(e), ..
                        }) => match e.parse::<Entity>() {
                            Ok(e) => Some(e),
                            Err(err) => {
                                problems.push(format!("columns.\"{glob}\": {err}"));
                                continue;
                            }
                        },
                        _ => None,
                    };
                    resolve(spec).and_then(|action| match entity {
                        Some(e) if !action.fits(e) => {
                            Err(format!("action `{}` does not apply to {e}", action.name()))
                        }
                        _ => Ok(ColumnOverride::Whole { entity, action }),
                    })
                }
            };
            match o {
                Ok(o) => policy.columns.push((glob.to_ascii_lowercase(), o)),
                Err(p) => problems.push(format!("columns.\"{glob}\": {p}")),
            }
        }
        for (rule, spec) in &file.rules {
            match resolve(spec) {
                Ok(a) => {
                    policy.by_rule.insert(rule.clone(), a);
                }
                Err(p) => problems.push(format!("rules.{rule}: {p}")),
            }
        }
        if problems.is_empty() {
            Ok(policy)
        } else {
            problems.sort();
            Err(problems)
        }
    }

    /// The action for a finding of `entity` by rule `rule_id`: a rule override first.
    pub fn action(&self, entity: Entity, rule_id: &str) -> Action {
        if !self.by_rule.is_empty() {
            if let Some(a) = self.by_rule.get(rule_id) {
                return *a;
            }
        }
        self.by_entity[entity.index()]
    }

    /// Whether the policy names any column (most do not: then no per-cell look-up is needed).
    pub fn has_column_overrides(&self) -> bool {
        !self.columns.is_empty()
    }

    /// The override for column `column` of `table` (a file stem or table name), if a
    /// `[columns]` glob matches `table.column` (or just `column` when there is no table).
    pub fn column_override(&self, table: Option<&str>, column: &str) -> Option<ColumnOverride> {
        if self.columns.is_empty() {
            return None;
        }
        let full = match table {
            Some(t) => format!("{t}.{column}").to_ascii_lowercase(),
            None => column.to_ascii_lowercase(),
        };
        self.columns
            .iter()
            .find(|(g, _)| glob_match(g.as_bytes(), full.as_bytes()))
            .map(|(_, o)| *o)
    }

    /// The action for an entity, ignoring rule overrides (for `phiscrub rules`).
    pub fn entity_action(&self, entity: Entity) -> Action {
        self.by_entity[entity.index()]
    }

    /// Whether the action for `entity` takes its kind away (token, placeholder, redact, mask),
    /// so finding that entity again in scrubbed output means something was missed. Shape,
    /// shift, zip3 and 90+ keep the kind by design (a shifted date is still a date).
    pub fn removes_kind(&self, entity: Entity) -> bool {
        matches!(
            self.by_entity[entity.index()],
            Action::Token | Action::Placeholder | Action::Redact | Action::Mask { .. }
        )
    }

    /// Whether any action needs a key; checked before reading input so a keyless run fails fast.
    pub fn needs_key(&self) -> bool {
        let column = |o: &ColumnOverride| match o {
            ColumnOverride::Whole { action, .. } => action.keyed(),
            _ => false,
        };
        self.by_entity
            .iter()
            .chain(self.by_rule.values())
            .any(|a| a.keyed())
            || self.columns.iter().any(|(_, o)| column(o))
    }

    /// Rule ids the policy names, so the caller can check they exist.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.by_rule.keys().map(String::as_str)
    }
}

/// `*` matches any run of bytes (including dots); everything else literally.
fn glob_match(glob: &[u8], text: &[u8]) -> bool {
    match glob.iter().position(|&b| b == b'*') {
        None => glob == text,
        Some(i) => {
            let (head, rest) = (&glob[..i], &glob[i + 1..]);
            if !text.starts_with(head) {
                return false;
            }
            let text = &text[head.len()..];
            (0..=text.len()).any(|k| glob_match(rest, &text[k..]))
        }
    }
}

fn resolve(spec: &ActionSpec) -> Result<Action, String> {
    let (name, keep, ch) = match spec {
        ActionSpec::Name(n) => (n.as_str(), None, None),
        ActionSpec::Full(t) => (t.action.as_str(), t.keep_last, t.ch),
    };
    let action = Action::parse(name, keep, ch).ok_or_else(|| format!("unknown action `{name}`"))?;
    if (keep.is_some() || ch.is_some()) && !matches!(action, Action::Mask { .. }) {
        return Err("keep_last and char only apply to `mask`".into());
    }
    Ok(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_table_is_read_and_checked() {
        let p = Policy::parse(
            "[guard]\nallow_paths = [\"testdata/fake/**\"]\nbaseline = \"b.json\"\n",
            false,
        )
        .unwrap();
        assert_eq!(p.guard.allow_paths, ["testdata/fake/**"]);
        assert_eq!(p.guard.baseline.as_deref(), Some("b.json"));
        let bad = Policy::parse("[guard]\nallow_path = []\n", false).unwrap_err();
        assert!(bad[0].contains("allow_path"), "{bad:?}");
    }

    #[test]
    fn defaults_depend_on_key() {
        let keyed = Policy::defaults(true);
        assert_eq!(keyed.action(Entity::Ssn, "x"), Action::Shape);
        assert_eq!(keyed.action(Entity::Date, "x"), Action::Shift);
        assert!(keyed.needs_key());
        let plain = Policy::defaults(false);
        assert!(Entity::ALL
            .iter()
            .all(|&e| plain.action(e, "x") == Action::Placeholder));
        assert!(!plain.needs_key());
    }

    #[test]
    fn parses_overrides_and_rule_actions() {
        let p = Policy::parse(
            "min_score = 0.7\n[entities]\nPHONE = { action = \"mask\", keep_last = 4 }\nDATE = \"year\"\n[rules]\n\"ssn.dashed\" = \"redact\"\n",
            false,
        )
        .unwrap();
        assert_eq!(p.min_score, 0.7);
        assert_eq!(
            p.action(Entity::Phone, "phone.nanp"),
            Action::Mask {
                ch: '*',
                keep_last: 4
            }
        );
        assert_eq!(p.action(Entity::Date, "d"), Action::Year);
        assert_eq!(p.action(Entity::Ssn, "ssn.dashed"), Action::Redact);
        assert_eq!(p.action(Entity::Ssn, "ssn.other"), Action::Placeholder);
        // `permute` is keyed, by entity and by column.
        let text = "[entities]\nSSN = \"permute\"\n[columns]\n\"people.phone\" = \"permute\"\n";
        let p = Policy::parse(text, true).unwrap();
        assert_eq!(p.action(Entity::Ssn, "ssn.dashed"), Action::Permute);
        assert_eq!(
            p.column_override(Some("people"), "phone"),
            Some(ColumnOverride::Whole {
                entity: None,
                action: Action::Permute
            })
        );
        assert!(p.needs_key());
        // A keyed column action alone needs the key too (keyless defaults everywhere else).
        let p = Policy::parse("[columns]\n\"people.phone\" = \"permute\"\n", false).unwrap();
        assert!(p.needs_key());
        let p = Policy::parse("[columns]\n\"people.phone\" = \"mask\"\n", false).unwrap();
        assert!(!p.needs_key());
    }

    #[test]
    fn column_overrides_match_globs_in_order() {
        let p = Policy::parse(
            "[columns]\n\"patients.ssn\" = \"token\"\n\"*.notes\" = \"scan\"\n\"audit.*\" = \"keep\"\n\"claims.member\" = { entity = \"HEALTH_PLAN_ID\", action = \"mask\", keep_last = 2 }\n",
            true,
        )
        .unwrap();
        for (table, col, want) in [
            (
                Some("patients"),
                "SSN",
                Some(ColumnOverride::Whole {
                    entity: None,
                    action: Action::Token,
                }),
            ),
            (Some("encounters"), "notes", Some(ColumnOverride::Scan)),
            (Some("audit"), "anything", Some(ColumnOverride::Keep)),
            (
                Some("claims"),
                "member",
                Some(ColumnOverride::Whole {
                    entity: Some(Entity::HealthPlanId),
                    action: Action::Mask {
                        ch: '*',
                        keep_last: 2,
                    },
                }),
            ),
            (Some("patients"), "FIRST", None),
            (None, "notes", None),
        ] {
            assert_eq!(p.column_override(table, col), want, "{table:?}.{col}");
        }
        let errs = Policy::parse("[columns]\n\"a.b\" = { entity = \"NOPE\", action = \"token\" }\n\"c.d\" = { entity = \"EMAIL\", action = \"zip3\" }\n", true).unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
    }

    #[test]
    fn reports_every_problem() {
        let errs = Policy::parse(
            "min_score = 3\n[entities]\nFOO = \"token\"\nEMAIL = \"zip3\"\nSSN = \"explode\"\nNAME = { action = \"token\", keep_last = 2 }\n",
            true,
        )
        .unwrap_err();
        assert_eq!(errs.len(), 5, "{errs:?}");
        let joined = errs.join("\n");
        for want in [
            "min_score 3",
            "unknown entity `FOO`",
            "`zip3` does not apply to EMAIL",
            "unknown action `explode`",
            "keep_last",
        ] {
            assert!(joined.contains(want), "missing {want:?} in {joined}");
        }
        assert!(Policy::parse("colour = 1", true).is_err());
    }
}
