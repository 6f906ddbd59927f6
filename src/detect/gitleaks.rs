//! A team's gitleaks rules file (`.gitleaks.toml`, gitleaks v8 format) as extra rules, so a team
//! can move to phiscrub without losing its custom rules.
//!
//! Each `[[rules]]` entry becomes a SECRET rule `gitleaks.<id>` in the one-pass engine:
//! `regex` as it is (RE2 and regex-automata share the syntax that matters), `secretGroup`
//! (default: the first group, when there is one) renamed to the engine's `value` group so the
//! finding covers the secret only, `keywords` as the engine's keywords (one must occur in the
//! match or just before it; gitleaks looks in the whole file, so this is slightly stricter).
//! What the engine has no field for travels beside the rule in [`Extra`] and is applied to each
//! finding by the caller: `entropy` (minimum Shannon entropy of the secret), `path` (the rule
//! applies only to matching paths; a rule with a path and no regex flags the file itself) and
//! the allowlists, per rule and global (`regexes` against the secret, the line for
//! `regexTarget = "line"` or `"match"`, `paths`, `stopwords`, `condition = "AND"|"OR"`).
//! `commits` allowlists are accepted and not applied (a staged change has no commit yet);
//! `[extend]` is accepted and ignored, since phiscrub's own packs already cover the defaults.

use std::collections::HashMap;
use std::path::Path;

use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use serde::Deserialize;

use super::rules::{PackError, Rule, RulesError};
use crate::entity::Entity;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    extend: Option<toml::Value>,
    #[serde(default)]
    rules: Vec<RuleSpec>,
    #[serde(default)]
    allowlist: Option<AllowSpec>,
    #[serde(default)]
    allowlists: Vec<AllowSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RuleSpec {
    id: toml::Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    secret_group: Option<usize>,
    #[serde(default)]
    entropy: Option<f32>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    allowlist: Option<AllowSpec>,
    #[serde(default)]
    allowlists: Vec<AllowSpec>,
    #[serde(default)]
    skip_report: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AllowSpec {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    condition: Option<String>,
    #[serde(default)]
    regex_target: Option<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    #[serde(default)]
    commits: Vec<String>,
    #[serde(default)]
    target_rules: Vec<String>,
}

/// What an allowlist regex is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Secret,
    /// The finding's line (also used for `match`, which the line contains).
    Line,
}

/// One gitleaks allowlist, compiled.
#[derive(Debug, Clone)]
pub struct Allowlist {
    /// `condition = "AND"`: every criterion given must hold; otherwise any one.
    pub all: bool,
    pub target: Target,
    pub regexes: Vec<Regex>,
    pub paths: Vec<Regex>,
    pub stopwords: Vec<String>,
    /// Global allowlists only: the rules (gitleaks ids) it is limited to; empty: every rule.
    pub target_rules: Vec<String>,
}

impl Allowlist {
    /// Whether this allowlist lets a finding of `secret` on `line` in `path` pass.
    pub fn allows(&self, path: &str, secret: &[u8], line: &[u8]) -> bool {
        let mut checks: Vec<bool> = Vec::with_capacity(3);
        if !self.paths.is_empty() {
            checks.push(self.paths.iter().any(|r| r.is_match(path.as_bytes())));
        }
        if !self.regexes.is_empty() {
            let hay = match self.target {
                Target::Secret => secret,
                Target::Line => line,
            };
            checks.push(self.regexes.iter().any(|r| r.is_match(hay)));
        }
        if !self.stopwords.is_empty() {
            let lower = secret.to_ascii_lowercase();
            checks.push(self.stopwords.iter().any(|w| {
                memchr::memmem::find(&lower, w.to_ascii_lowercase().as_bytes()).is_some()
            }));
        }
        if checks.is_empty() {
            return false;
        }
        if self.all {
            checks.iter().all(|&c| c)
        } else {
            checks.iter().any(|&c| c)
        }
    }

    /// Whether only paths decide (such a global allowlist lets a whole file go unscanned).
    pub fn paths_only(&self) -> bool {
        self.regexes.is_empty() && self.stopwords.is_empty() && self.target_rules.is_empty()
    }
}

/// What a gitleaks rule needs beyond the engine's rule.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    /// The gitleaks id, as the file names it.
    pub gitleaks_id: String,
    pub entropy: Option<f32>,
    pub path: Option<Regex>,
    pub allowlists: Vec<Allowlist>,
}

/// A rule that flags a file by its path alone (`path` without `regex`).
#[derive(Debug, Clone)]
pub struct PathRule {
    pub id: String,
    pub description: String,
    pub path: Regex,
}

/// A loaded gitleaks file.
#[derive(Debug, Clone, Default)]
pub struct Gitleaks {
    /// Engine rules, ids `gitleaks.<id>`.
    pub rules: Vec<Rule>,
    /// By engine rule id.
    pub extras: HashMap<String, Extra>,
    pub path_rules: Vec<PathRule>,
    pub global: Vec<Allowlist>,
}

/// Shannon entropy in bits per byte, as gitleaks computes it for `entropy`.
pub fn shannon(b: &[u8]) -> f32 {
    if b.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &x in b {
        counts[x as usize] += 1;
    }
    let n = b.len() as f32;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f32 / n;
            -p * p.log2()
        })
        .sum()
}

fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::builder()
        .syntax(syntax::Config::new().utf8(false))
        .build(pattern)
        .map_err(|e| e.to_string())
}

/// Renames capture group `n` (1-based, counted as RE2 counts: every `(` that is not `(?…`,
/// plus named groups) to `value`, the group the engine reports. `None` when there is no such
/// group.
pub fn name_secret_group(regex: &str, n: usize) -> Option<String> {
    let b = regex.as_bytes();
    let (mut i, mut count, mut in_class) = (0usize, 0usize, false);
    while i < b.len() {
        match b[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'[' if !in_class => {
                in_class = true;
                // `[]…]` and `[^]…]`: a `]` first in the class is literal.
                let mut j = i + 1;
                if b.get(j) == Some(&b'^') {
                    j += 1;
                }
                if b.get(j) == Some(&b']') {
                    j += 1;
                }
                i = j;
                continue;
            }
            b'[' if in_class && b.get(i + 1) == Some(&b':') => {
                // `[:alpha:]` inside a class.
                if let Some(end) = regex[i + 2..].find(":]") {
                    i += 2 + end + 2;
                    continue;
                }
            }
            b']' if in_class => in_class = false,
            b'(' if !in_class => {
                let rest = &regex[i + 1..];
                let named = rest
                    .strip_prefix("?P<")
                    .or_else(|| rest.strip_prefix("?<"))
                    .filter(|r| !r.starts_with('=') && !r.starts_with('!'));
                if let Some(after) = named {
                    count += 1;
                    if count == n {
                        let close = after.find('>')?;
                        let name_start = i + 1 + (rest.len() - after.len());
                        return Some(format!(
                            "{}?P<value>{}",
                            &regex[..i + 1],
                            &regex[name_start + close + 1..]
                        ));
                    }
                } else if !rest.starts_with('?') {
                    count += 1;
                    if count == n {
                        return Some(format!("{}?P<value>{}", &regex[..i + 1], rest));
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn allowlist(spec: &AllowSpec, fail: &mut dyn FnMut(String)) -> Allowlist {
    let mut regexes = |list: &[String], what: &str| -> Vec<Regex> {
        list.iter()
            .filter_map(|r| match compile(r) {
                Ok(x) => Some(x),
                Err(e) => {
                    fail(format!("allowlist {what} `{r}` does not compile: {e}"));
                    None
                }
            })
            .collect()
    };
    let rx = regexes(&spec.regexes, "regex");
    let paths = regexes(&spec.paths, "path");
    let all = match spec
        .condition
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("OR") => false,
        Some("AND") => true,
        Some(other) => {
            fail(format!(
                "allowlist condition `{other}` is neither AND nor OR"
            ));
            false
        }
    };
    let target = match spec.regex_target.as_deref() {
        None | Some("secret") => Target::Secret,
        Some("line") | Some("match") => Target::Line,
        Some(other) => {
            fail(format!(
                "allowlist regexTarget `{other}` is not secret, match or line"
            ));
            Target::Secret
        }
    };
    let _ = (&spec.description, &spec.commits);
    Allowlist {
        all,
        target,
        regexes: rx,
        paths,
        stopwords: spec.stopwords.clone(),
        target_rules: spec.target_rules.clone(),
    }
}

/// Parses a gitleaks file's text. `name` is how errors refer to it. Every problem is collected.
///
/// # Errors
/// TOML errors, regexes that do not compile, secret groups that do not exist, duplicate ids.
pub fn parse(name: &str, text: &str) -> Result<Gitleaks, RulesError> {
    let mut errors: Vec<PackError> = Vec::new();
    let file: ConfigFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
        RulesError(vec![PackError {
            origin: format!("{name}:{line}"),
            rule: None,
            message: e.message().to_string(),
        }])
    })?;
    let _ = (&file.title, &file.extend);
    let mut out = Gitleaks::default();
    for spec in file.allowlist.iter().chain(&file.allowlists) {
        let mut fail = |message| {
            errors.push(PackError {
                origin: format!("{name}:allowlist"),
                rule: None,
                message,
            })
        };
        out.global.push(allowlist(spec, &mut fail));
    }
    let mut seen = std::collections::HashSet::new();
    for spec in file.rules {
        let origin = format!("{name}:{}", line_of(text, spec.id.span().start));
        let gid = spec.id.into_inner();
        let id = format!("gitleaks.{gid}");
        let mut problems: Vec<String> = Vec::new();
        if gid.is_empty() || gid.contains(char::is_whitespace) {
            problems.push("id must be non-empty and without spaces".into());
        }
        if !seen.insert(gid.clone()) {
            problems.push("duplicate rule id".into());
        }
        let _ = (&spec.tags, spec.skip_report);
        let path = spec.path.as_deref().and_then(|p| match compile(p) {
            Ok(r) => Some(r),
            Err(e) => {
                problems.push(format!("path `{p}` does not compile: {e}"));
                None
            }
        });
        let mut allowlists = Vec::new();
        for a in spec.allowlist.iter().chain(&spec.allowlists) {
            allowlists.push(allowlist(a, &mut |m| problems.push(m)));
        }
        match spec.regex.as_deref().filter(|r| !r.is_empty()) {
            None => match path {
                Some(path) => out.path_rules.push(PathRule {
                    id: id.clone(),
                    description: spec.description.clone(),
                    path,
                }),
                None => problems.push("a rule needs a regex or a path".into()),
            },
            Some(regex) => {
                let group = spec.secret_group.unwrap_or(1);
                let named = if group == 0 {
                    Some(regex.to_string())
                } else {
                    match name_secret_group(regex, group) {
                        Some(r) => Some(r),
                        // No group at all and none asked for: the whole match is the secret.
                        None if spec.secret_group.is_none() => Some(regex.to_string()),
                        None => {
                            problems
                                .push(format!("secretGroup {group} is not a group of the regex"));
                            None
                        }
                    }
                };
                if let Some(regex) = named {
                    if let Err(e) = super::engine::check_regex(&regex) {
                        problems.push(format!("regex does not compile: {e}"));
                    }
                    if let Some(e) = spec.entropy.filter(|e| !(0.0..=8.0).contains(e)) {
                        problems.push(format!("entropy {e} is outside 0..=8"));
                    }
                    out.extras.insert(
                        id.clone(),
                        Extra {
                            gitleaks_id: gid.clone(),
                            entropy: spec.entropy,
                            path,
                            allowlists,
                        },
                    );
                    out.rules.push(Rule {
                        id: id.clone(),
                        entity: Entity::Secret,
                        description: if spec.description.is_empty() {
                            format!("gitleaks rule {gid}")
                        } else {
                            spec.description.clone()
                        },
                        regex,
                        validator: None,
                        keywords: spec.keywords.clone(),
                        hotwords: Vec::new(),
                        unless: Vec::new(),
                        window: 64,
                        score: 0.9,
                        context_score: 0.9,
                        requires_context: false,
                        priority: 0,
                        examples: Vec::new(),
                        counterexamples: Vec::new(),
                        origin: origin.clone(),
                        literals: Vec::new(),
                        literal_reach: 0,
                        extent: None,
                    });
                }
            }
        }
        errors.extend(problems.into_iter().map(|message| PackError {
            origin: origin.clone(),
            rule: Some(gid.clone()),
            message,
        }));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(RulesError(errors))
    }
}

/// Reads and parses a gitleaks file.
///
/// # Errors
/// As [`parse`], or the file cannot be read.
pub fn load(path: &Path) -> Result<Gitleaks, RulesError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        RulesError(vec![PackError {
            origin: name.clone(),
            rule: None,
            message: format!("cannot read: {e}"),
        }])
    })?;
    parse(&name, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_group_renaming_table() {
        let table = [
            (r"key=(\w+)", 1, Some(r"key=(?P<value>\w+)")),
            (
                r"(?i)(?:a|b)=([x(]+)(\d+)",
                2,
                Some(r"(?i)(?:a|b)=([x(]+)(?P<value>\d+)"),
            ),
            (r"\((a)", 1, Some(r"\((?P<value>a)")),
            (r"(?P<k>a)(b)", 1, Some(r"(?P<value>a)(b)")),
            (r"[[:alpha:](]+(z)", 1, Some(r"[[:alpha:](]+(?P<value>z)")),
            (r"[]()](q)", 1, Some(r"[]()](?P<value>q)")),
            (r"abc", 1, None),
        ];
        for (rx, n, want) in table {
            assert_eq!(name_secret_group(rx, n).as_deref(), want, "{rx} group {n}");
        }
    }

    const FILE: &str = r#"
title = "team rules"
[extend]
useDefault = true

[[rules]]
id = "acme-token"
description = "Acme API token"
regex = '''(?i)acme[_-]?token\s*[:=]\s*['"]?([a-z0-9]{24})'''
secretGroup = 1
entropy = 3.0
keywords = ["acme"]
  [[rules.allowlists]]
  stopwords = ["aaaabbbb"]

[[rules]]
id = "pkcs12"
path = '''\.p12$'''

[allowlist]
paths = ['''^vendor/''']
"#;

    #[test]
    fn converts_rules_extras_and_allowlists() {
        let g = parse("g.toml", FILE).unwrap();
        assert_eq!(g.rules.len(), 1);
        let r = &g.rules[0];
        assert_eq!(r.id, "gitleaks.acme-token");
        assert_eq!(r.entity, Entity::Secret);
        assert!(r.regex.contains("(?P<value>"), "{}", r.regex);
        assert_eq!(r.keywords, ["acme"]);
        assert!(r.origin.starts_with("g.toml:7"), "{}", r.origin);
        let x = &g.extras["gitleaks.acme-token"];
        assert_eq!(x.entropy, Some(3.0));
        assert!(x.allowlists[0].allows("a.txt", b"xxAAAABBBBxx", b""));
        assert!(!x.allowlists[0].allows("a.txt", b"q8Zr2LmX9wTb4Kf", b""));
        assert_eq!(g.path_rules[0].id, "gitleaks.pkcs12");
        assert!(g.global[0].allows("vendor/x.go", b"s", b"l"));
        assert!(!g.global[0].allows("src/x.go", b"s", b"l"));
        assert!(g.global[0].paths_only());
    }

    #[test]
    fn errors_name_file_line_and_rule() {
        let text = "[[rules]]\nid = \"a\"\nregex = '(x'\n\n[[rules]]\nid = \"b\"\nregex = 'x'\nsecretGroup = 2\n\n[[rules]]\nid = \"c\"\nregex = 'y'\ncolour = 1\n";
        let e = parse("t.toml", text).unwrap_err().to_string();
        assert!(e.contains("t.toml:"), "{e}");
        assert!(e.contains("colour"), "{e}");
        let text = "[[rules]]\nid = \"a\"\nregex = '(x'\n\n[[rules]]\nid = \"b\"\nregex = 'x'\nsecretGroup = 2\n";
        let e = parse("t.toml", text).unwrap_err().to_string();
        assert!(
            e.contains("t.toml:2: rule `a`: regex does not compile"),
            "{e}"
        );
        assert!(e.contains("t.toml:6: rule `b`: secretGroup 2"), "{e}");
    }

    #[test]
    fn entropy_of_known_strings() {
        assert_eq!(shannon(b"aaaa"), 0.0);
        assert!((shannon(b"abcd") - 2.0).abs() < 1e-6);
    }
}
