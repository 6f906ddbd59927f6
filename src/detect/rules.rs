//! Rule packs: detection rules as data (`patterns/*.toml`), loaded and checked before any input
//! is read.
//!
//! A pack is a TOML file with `[[rule]]` tables:
//!
//! ```toml
//! [[rule]]
//! id = "ssn.dashed"            # unique across all packs; reports carry it
//! entity = "SSN"               # one of `phiscrub rules`
//! regex = '\b\d{3}-\d{2}-\d{4}\b'   # byte-oriented, ASCII classes; a group named `value` narrows the span
//! validator = "ssn"            # optional structural check (see `phiscrub rules`)
//! extent = "image"             # optional: the finding runs to the end of the embedded image that
//!                              #   starts at the match ("image_strict": and only when it is whole)
//! keywords = []                # optional: one must occur (any case) in the match or its window
//! literals = []                # optional: every match has one of these (lower or upper case) at most
//! literal_reach = 0            #   this many bytes after its start; the rule is then searched
//!                              #   at those literals instead of in the one DFA pass
//! hotwords = ["ssn", "social security"]  # context words that raise the score
//! unless = ["version"]         # words that, just before the match (16 bytes), veto it
//! window = 48                  # bytes before the match searched for hotwords (and after, half as many)
//! score = 0.85                 # without context
//! context_score = 0.95         # with a hotword nearby (default: score + 0.15, at most 1)
//! requires_context = false     # true: no hotword, no finding
//! priority = 0                 # higher wins when two rules start at the same byte
//! examples = ["SSN 123-45-6789"]      # each must yield a finding of this rule (tested)
//! counterexamples = ["000-12-3456"]   # none may yield one
//! ```
//!
//! The loader collects every error of every pack (file, line, rule id) instead of stopping at the
//! first, so a user fixing a pack sees all of them at once.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::entity::Entity;

/// Extents a rule may name: `image` runs the finding to the end of the JPEG, PNG or GIF that
/// starts at the match (keeping the match alone when the image is cut short or malformed);
/// `image_strict` also drops the match unless the image is whole.
pub const EXTENTS: &[&str] = &["image", "image_strict"];

/// The packs compiled into the binary, so phiscrub runs anywhere with no files beside it.
pub const BUILTIN_PACKS: &[(&str, &str)] = &[
    (
        "patterns/secrets.toml",
        include_str!("../../patterns/secrets.toml"),
    ),
    (
        "patterns/identifiers.toml",
        include_str!("../../patterns/identifiers.toml"),
    ),
    (
        "patterns/contact.toml",
        include_str!("../../patterns/contact.toml"),
    ),
    (
        "patterns/dates.toml",
        include_str!("../../patterns/dates.toml"),
    ),
    (
        "patterns/context_ids.toml",
        include_str!("../../patterns/context_ids.toml"),
    ),
    (
        "patterns/location.toml",
        include_str!("../../patterns/location.toml"),
    ),
    (
        "patterns/names.toml",
        include_str!("../../patterns/names.toml"),
    ),
    (
        "patterns/media.toml",
        include_str!("../../patterns/media.toml"),
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: toml::Spanned<String>,
    entity: String,
    regex: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    validator: Option<String>,
    #[serde(default)]
    extent: Option<String>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    literals: Vec<String>,
    #[serde(default)]
    literal_reach: usize,
    #[serde(default)]
    hotwords: Vec<String>,
    #[serde(default)]
    unless: Vec<String>,
    #[serde(default = "default_window")]
    window: usize,
    score: f32,
    #[serde(default)]
    context_score: Option<f32>,
    #[serde(default)]
    requires_context: bool,
    #[serde(default)]
    priority: i32,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    counterexamples: Vec<String>,
}

fn default_window() -> usize {
    48
}

/// A rule as loaded and checked, ready for the engine to compile.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub entity: Entity,
    pub description: String,
    pub regex: String,
    pub validator: Option<String>,
    /// How far a match really reaches, read from the bytes after it ([`EXTENTS`]).
    pub extent: Option<String>,
    pub keywords: Vec<String>,
    /// Every match holds one of these (in lower or upper case) at most `literal_reach` bytes
    /// after its start, so the rule is searched where they occur instead of in the union DFA.
    pub literals: Vec<String>,
    pub literal_reach: usize,
    pub hotwords: Vec<String>,
    pub unless: Vec<String>,
    pub window: usize,
    pub score: f32,
    pub context_score: f32,
    pub requires_context: bool,
    pub priority: i32,
    pub examples: Vec<String>,
    pub counterexamples: Vec<String>,
    /// `file:line` the rule came from, for errors and `phiscrub rules`.
    pub origin: String,
}

impl Rule {
    /// Rules that can only match next to one of their hotwords are searched only there.
    ///
    /// Label rules (`MRN: …`) are deliberately not: measured on a 1 GiB log, opening a region
    /// at every `pass`, `user`, `group` or `state` cost more (165 MB/s) than keeping them in
    /// the one DFA pass (308 MB/s).
    pub fn searched_near_hotwords(&self) -> bool {
        self.requires_context
    }

    /// Rules that stand on their own and name the literals every match holds are searched at
    /// those literals (one aho-corasick pass) rather than in the union DFA. A case-insensitive
    /// `ffd8ffe` that may start anywhere was 17% of the union's learned states on a log.
    pub fn searched_at_literals(&self) -> bool {
        !self.requires_context && !self.literals.is_empty()
    }
}

/// One problem in one rule pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackError {
    pub origin: String,
    pub rule: Option<String>,
    pub message: String,
}

impl std::fmt::Display for PackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.rule {
            Some(id) => write!(f, "{}: rule `{}`: {}", self.origin, id, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

/// Rule packs failed to load; every problem found is listed.
#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) in rule packs:\n  {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  "))]
pub struct RulesError(pub Vec<PackError>);

/// Knows whether a validator name exists; the engine passes its own table so rules and
/// validators cannot drift apart silently.
pub type ValidatorExists<'a> = &'a dyn Fn(&str) -> bool;

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses one pack's text. `name` is how errors refer to it.
pub fn parse_pack(
    name: &str,
    text: &str,
    validator_exists: ValidatorExists<'_>,
    errors: &mut Vec<PackError>,
) -> Vec<Rule> {
    parse_pack_checked(name, text, validator_exists, errors, true)
}

/// [`parse_pack`], optionally without parsing each regex here: the built-in packs are parsed
/// once, by the engine (which names the rule of any error), and the test suite compiles them,
/// so parsing them twice would only slow every start.
fn parse_pack_checked(
    name: &str,
    text: &str,
    validator_exists: ValidatorExists<'_>,
    errors: &mut Vec<PackError>,
    check_regexes: bool,
) -> Vec<Rule> {
    let file: PackFile = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
            errors.push(PackError {
                origin: format!("{name}:{line}"),
                rule: None,
                message: e.message().to_string(),
            });
            return Vec::new();
        }
    };
    let mut rules = Vec::with_capacity(file.rule.len());
    for spec in file.rule {
        let origin = format!("{name}:{}", line_of(text, spec.id.span().start));
        let id = spec.id.into_inner();
        let mut fail = |message: String| {
            errors.push(PackError {
                origin: origin.clone(),
                rule: Some(id.clone()),
                message,
            })
        };
        let entity = match spec.entity.parse::<Entity>() {
            Ok(e) => Some(e),
            Err(e) => {
                fail(e.to_string());
                None
            }
        };
        if let Some(v) = &spec.validator {
            if !validator_exists(v) {
                fail(format!("unknown validator `{v}`"));
            }
        }
        if let Some(x) = &spec.extent {
            if !EXTENTS.contains(&x.as_str()) {
                fail(format!(
                    "unknown extent `{x}` (known: {})",
                    EXTENTS.join(", ")
                ));
            }
        }
        if !(0.0..=1.0).contains(&spec.score) {
            fail(format!("score {} is outside 0..=1", spec.score));
        }
        let context_score = spec.context_score.unwrap_or((spec.score + 0.15).min(1.0));
        if !(0.0..=1.0).contains(&context_score) {
            fail(format!("context_score {context_score} is outside 0..=1"));
        }
        if spec.literals.iter().any(|l| l.is_empty() || !l.is_ascii()) {
            fail("literals must be non-empty ASCII".into());
        }
        if spec.requires_context && spec.hotwords.is_empty() {
            fail("requires_context without any hotwords can never match".into());
        }
        if check_regexes {
            if let Err(e) = crate::detect::engine::check_regex(&spec.regex) {
                fail(format!("regex does not compile: {e}"));
            }
        }
        if id.is_empty() || id.contains(char::is_whitespace) {
            fail("id must be non-empty and without spaces".into());
        }
        if let Some(entity) = entity {
            rules.push(Rule {
                id: id.clone(),
                entity,
                description: spec.description,
                regex: spec.regex,
                validator: spec.validator,
                keywords: spec.keywords,
                literals: spec.literals,
                literal_reach: spec.literal_reach,
                extent: spec.extent,
                hotwords: spec.hotwords,
                unless: spec.unless,
                window: spec.window,
                score: spec.score,
                context_score,
                requires_context: spec.requires_context,
                priority: spec.priority,
                examples: spec.examples,
                counterexamples: spec.counterexamples,
                origin,
            });
        }
    }
    rules
}

/// Loads the built-in packs and then every `*.toml` in `extra_dirs` (sorted by name), checking
/// that rule ids are unique across all of them.
///
/// # Errors
/// Every problem found in any pack, together.
pub fn load(
    extra_dirs: &[PathBuf],
    validator_exists: ValidatorExists<'_>,
) -> Result<Vec<Rule>, RulesError> {
    let mut errors = Vec::new();
    let mut rules = Vec::new();
    for (name, text) in BUILTIN_PACKS {
        rules.extend(parse_pack_checked(
            name,
            text,
            validator_exists,
            &mut errors,
            false,
        ));
    }
    for dir in extra_dirs {
        for path in pack_files(dir, &mut errors) {
            match std::fs::read_to_string(&path) {
                Ok(text) => rules.extend(parse_pack(
                    &path.display().to_string(),
                    &text,
                    validator_exists,
                    &mut errors,
                )),
                Err(e) => errors.push(PackError {
                    origin: path.display().to_string(),
                    rule: None,
                    message: format!("cannot read: {e}"),
                }),
            }
        }
    }
    let mut seen = std::collections::HashMap::new();
    for r in &rules {
        if let Some(first) = seen.insert(r.id.clone(), r.origin.clone()) {
            errors.push(PackError {
                origin: r.origin.clone(),
                rule: Some(r.id.clone()),
                message: format!("duplicate rule id (first defined at {first})"),
            });
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(RulesError(errors))
    }
}

fn pack_files(dir: &Path, errors: &mut Vec<PackError>) -> Vec<PathBuf> {
    if dir.is_file() {
        return vec![dir.to_path_buf()];
    }
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            files
        }
        Err(e) => {
            errors.push(PackError {
                origin: dir.display().to_string(),
                rule: None,
                message: format!("cannot read rules directory: {e}"),
            });
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(_: &str) -> bool {
        true
    }

    #[test]
    fn collects_every_error_with_file_line_and_rule() {
        let text = r#"
[[rule]]
id = "a.one"
entity = "NOPE"
regex = '\d+'
score = 0.5

[[rule]]
id = "a.two"
entity = "SSN"
regex = '(unclosed'
score = 1.5
"#;
        let mut errors = Vec::new();
        let rules = parse_pack("x.toml", text, &any, &mut errors);
        assert_eq!(
            rules.len(),
            1,
            "a.two has a valid entity so it is kept for further checks"
        );
        let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert!(
            msgs[0].starts_with("x.toml:3: rule `a.one`: unknown entity"),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("x.toml:9: rule `a.two`: regex")),
            "{msgs:?}"
        );
        assert!(msgs.iter().any(|m| m.contains("score 1.5")), "{msgs:?}");
    }

    #[test]
    fn syntax_errors_and_unknown_fields_name_the_line() {
        let mut errors = Vec::new();
        parse_pack(
            "y.toml",
            "[[rule]]\nid = \"a\"\nentity = \"SSN\"\nregex = 'x'\nscore = 0.5\ncolour = 1\n",
            &any,
            &mut errors,
        );
        assert_eq!(errors.len(), 1);
        assert!(errors[0].origin.starts_with("y.toml:"), "{:?}", errors[0]);
        assert!(errors[0].message.contains("colour"), "{:?}", errors[0]);
    }

    #[test]
    fn every_builtin_rule_compiles_on_its_own() {
        for (name, text) in BUILTIN_PACKS {
            let mut errors = Vec::new();
            for r in parse_pack(name, text, &any, &mut errors) {
                assert!(
                    crate::detect::engine::check_regex(&r.regex).is_ok(),
                    "{}",
                    r.id
                );
            }
            assert!(errors.is_empty(), "{errors:?}");
        }
    }

    #[test]
    fn unknown_validator_is_reported() {
        let mut errors = Vec::new();
        let none = |_: &str| false;
        parse_pack("z.toml", "[[rule]]\nid = \"a\"\nentity = \"SSN\"\nregex = 'x'\nscore = 0.5\nvalidator = \"nope\"\n", &none, &mut errors);
        assert!(errors[0].message.contains("unknown validator `nope`"));
    }
}
