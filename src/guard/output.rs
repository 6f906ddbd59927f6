//! What the guard prints: lines for people, JSON, JSON lines, SARIF 2.1.0 (code-scanning
//! uploads) and JUnit XML (CI test reports). Every format carries the masked preview at most,
//! never a value.
//!
//! SARIF: one run, `tool.driver.rules` lists each rule that has a result, each result has
//! `ruleId`/`ruleIndex`, `level` `error`, a message with the fix, one physical location
//! (`artifactLocation.uri` relative to `%SRCROOT%`, `region.startLine`/`startColumn` when the
//! format has lines), `partialFingerprints` with the keyed fingerprint when there is one, and
//! suppressed findings carry `suppressions` (`inSource` for inline markers, `external` for the
//! baseline and allowlists), which code scanning shows as dismissed.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{json, Value};

use super::{Hit, Outcome, Suppression};

/// Report formats of `phiscrub guard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GuardReport {
    /// One line per finding and what to do, for people.
    Human,
    /// One JSON document: findings, suppressions used, files.
    Json,
    /// One JSON object per finding (suppressed ones included, with `suppressed`).
    Jsonl,
    /// SARIF 2.1.0 for code-scanning uploads.
    Sarif,
    /// JUnit XML: one test case per file scanned.
    Junit,
}

/// The one sentence on what to do, shown once after the findings.
pub const FIX: &str =
    "Remove each value or replace it with a fake one (`phiscrub scrub FILE -o OUT` writes a \
de-identified copy); if it is a fake already, put `phiscrub:allow` on its line or record it with \
`phiscrub guard --write-baseline .phiscrub-baseline.json`.";

fn place(h: &Hit) -> String {
    let mut s = h.path.clone();
    if h.line > 0 {
        s.push_str(&format!(":{}:{}", h.line, h.column));
    }
    if let (Some(f), Some(r)) = (&h.field, h.row) {
        s.push_str(&format!(" (row {r}, column {f})"));
    }
    s
}

fn message(h: &Hit) -> String {
    format!(
        "{} found by rule {} ({}). {}",
        h.entity.name(),
        h.rule,
        h.preview,
        FIX
    )
}

/// Writes the outcome in `format`.
///
/// # Errors
/// Write errors.
pub fn write(
    format: GuardReport,
    outcome: &Outcome,
    descriptions: &dyn Fn(&str) -> String,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        GuardReport::Human => human(outcome, out),
        GuardReport::Json => {
            serde_json::to_writer_pretty(&mut *out, &json_doc(outcome))?;
            writeln!(out)
        }
        GuardReport::Jsonl => {
            for h in &outcome.hits {
                serde_json::to_writer(&mut *out, &hit_json(h))?;
                writeln!(out)?;
            }
            Ok(())
        }
        GuardReport::Sarif => {
            serde_json::to_writer_pretty(&mut *out, &sarif(outcome, descriptions))?;
            writeln!(out)
        }
        GuardReport::Junit => junit(outcome, out),
    }
}

fn human(o: &Outcome, out: &mut dyn Write) -> io::Result<()> {
    let reported: Vec<&Hit> = o.reported().collect();
    for h in &reported {
        writeln!(
            out,
            "{}: {} ({}) {}",
            place(h),
            h.entity.name(),
            h.rule,
            h.preview
        )?;
    }
    for f in &o.failures {
        writeln!(out, "{}: error: {}", f.path, f.message)?;
    }
    for n in &o.notes {
        writeln!(out, "note: {n}")?;
    }
    let files: std::collections::BTreeSet<&str> =
        reported.iter().map(|h| h.path.as_str()).collect();
    let suppressed: Vec<&Hit> = o.hits.iter().filter(|h| h.suppressed.is_some()).collect();
    if !reported.is_empty() {
        writeln!(
            out,
            "phiscrub guard: {} finding(s) in {} file(s); commit blocked.",
            reported.len(),
            files.len()
        )?;
        writeln!(out, "{FIX}")?;
    }
    if !suppressed.is_empty() {
        let mut by: BTreeMap<Suppression, u64> = BTreeMap::new();
        for h in &suppressed {
            if let Some(s) = h.suppressed {
                *by.entry(s).or_default() += 1;
            }
        }
        let counts: Vec<String> = by
            .iter()
            .map(|(s, n)| format!("{n} {}", s.name()))
            .collect();
        writeln!(out, "suppressed: {}", counts.join(", "))?;
        for h in suppressed.iter().take(20) {
            writeln!(
                out,
                "  {}: {} ({}) by {}",
                place(h),
                h.entity.name(),
                h.rule,
                h.suppressed.map(Suppression::name).unwrap_or_default()
            )?;
        }
        if suppressed.len() > 20 {
            writeln!(
                out,
                "  … and {} more (`--report json` lists all)",
                suppressed.len() - 20
            )?;
        }
    }
    if !o.skipped.is_empty() {
        writeln!(out, "skipped by allow_paths: {} file(s)", o.skipped.len())?;
    }
    Ok(())
}

fn hit_json(h: &Hit) -> Value {
    let mut v = json!({
        "path": h.path,
        "line": h.line,
        "column": h.column,
        "entity": h.entity.name(),
        "rule": h.rule,
        "score": (f64::from(h.score) * 100.0).round() / 100.0,
        "preview": h.preview,
        "fingerprint": h.fingerprint,
        "suppressed": h.suppressed.map(Suppression::name),
    });
    if let (Some(f), Some(r)) = (&h.field, h.row) {
        v["field"] = json!(f);
        v["row"] = json!(r);
    }
    v
}

fn json_doc(o: &Outcome) -> Value {
    let reported: Vec<Value> = o.reported().map(hit_json).collect();
    let suppressed: Vec<Value> = o
        .hits
        .iter()
        .filter(|h| h.suppressed.is_some())
        .map(hit_json)
        .collect();
    json!({
        "findings": reported,
        "suppressed": suppressed,
        "files": o.files,
        "skipped": o.skipped,
        "errors": o.failures.iter().map(|f| json!({"path": f.path, "message": f.message})).collect::<Vec<_>>(),
        "notes": o.notes,
        "summary": {
            "findings": o.reported().count(),
            "suppressed": o.hits.len() - o.reported().count(),
            "files": o.files.len(),
            "bytes": o.bytes,
            "exit_code": o.exit_code(),
        }
    })
}

/// A repository path as a relative URI reference: unreserved characters and `/` as they are,
/// everything else percent-encoded byte by byte.
pub fn uri(path: &str) -> String {
    let mut s = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// The SARIF 2.1.0 log.
pub fn sarif(o: &Outcome, descriptions: &dyn Fn(&str) -> String) -> Value {
    let mut rule_index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rules: Vec<Value> = Vec::new();
    for h in &o.hits {
        if !rule_index.contains_key(h.rule.as_str()) {
            rule_index.insert(&h.rule, rules.len());
            rules.push(json!({
                "id": h.rule,
                "name": h.rule.replace(['.', '-'], "_"),
                "shortDescription": {"text": descriptions(&h.rule)},
                "fullDescription": {"text": format!("{}: {}", h.entity.name(), h.entity.describe())},
                "help": {"text": FIX},
                "defaultConfiguration": {"level": "error"},
                "properties": {"tags": ["security", "privacy", h.entity.name()]},
            }));
        }
    }
    let results: Vec<Value> = o
        .hits
        .iter()
        .map(|h| {
            let mut loc = json!({
                "physicalLocation": {
                    "artifactLocation": {"uri": uri(&h.path), "uriBaseId": "%SRCROOT%"},
                }
            });
            if h.line > 0 {
                loc["physicalLocation"]["region"] =
                    json!({"startLine": h.line, "startColumn": h.column.max(1)});
            }
            let mut r = json!({
                "ruleId": h.rule,
                "ruleIndex": rule_index[h.rule.as_str()],
                "level": "error",
                "message": {"text": message(h)},
                "locations": [loc],
            });
            if let Some(fp) = &h.fingerprint {
                r["partialFingerprints"] = json!({"phiscrubValue/v1": fp});
            }
            if let Some(s) = h.suppressed {
                r["suppressions"] = json!([{"kind": s.sarif_kind(), "justification": s.name()}]);
            }
            r
        })
        .collect();
    let notifications: Vec<Value> = o
        .failures
        .iter()
        .map(|f| {
            json!({
                "level": "error",
                "message": {"text": f.message},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri(&f.path), "uriBaseId": "%SRCROOT%"}}}],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "phiscrub",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": o.failures.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

/// XML text with `& < > " '` escaped and control characters other than tab/newline dropped
/// (XML 1.0 cannot carry them).
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

fn junit(o: &Outcome, out: &mut dyn Write) -> io::Result<()> {
    let mut by_file: BTreeMap<&str, Vec<&Hit>> = BTreeMap::new();
    for h in o.reported() {
        by_file.entry(&h.path).or_default().push(h);
    }
    let tests = o.files.len() + o.failures.len();
    let failures = by_file.len();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="phiscrub guard" tests="{tests}" failures="{failures}" errors="{}">"#,
        o.failures.len()
    )?;
    writeln!(
        out,
        r#"  <testsuite name="phiscrub guard" tests="{tests}" failures="{failures}" errors="{}" skipped="{}">"#,
        o.failures.len(),
        o.skipped.len()
    )?;
    for f in &o.files {
        let name = xml_escape(f);
        match by_file.get(f.as_str()) {
            None => writeln!(
                out,
                r#"    <testcase classname="phiscrub.guard" name="{name}"/>"#
            )?,
            Some(hits) => {
                writeln!(
                    out,
                    r#"    <testcase classname="phiscrub.guard" name="{name}">"#
                )?;
                let body: Vec<String> = hits
                    .iter()
                    .map(|h| {
                        format!(
                            "{}: {} ({}) {}",
                            place(h),
                            h.entity.name(),
                            h.rule,
                            h.preview
                        )
                    })
                    .collect();
                writeln!(
                    out,
                    r#"      <failure type="phiscrub" message="{} finding(s)">{}&#10;{}</failure>"#,
                    hits.len(),
                    xml_escape(&body.join("\n")),
                    xml_escape(FIX)
                )?;
                writeln!(out, "    </testcase>")?;
            }
        }
    }
    for f in &o.failures {
        writeln!(
            out,
            r#"    <testcase classname="phiscrub.guard" name="{}"><error message="{}"/></testcase>"#,
            xml_escape(&f.path),
            xml_escape(&f.message)
        )?;
    }
    for s in &o.skipped {
        writeln!(
            out,
            r#"    <testcase classname="phiscrub.guard" name="{}"><skipped message="allow_paths"/></testcase>"#,
            xml_escape(s)
        )?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::Entity;

    fn outcome() -> Outcome {
        let hit = |path: &str, line, s| Hit {
            path: path.into(),
            line,
            column: 5,
            entity: Entity::Ssn,
            rule: "ssn.dashed".into(),
            score: 0.97,
            fingerprint: Some("abcd1234:0011223344556677".into()),
            preview: "***-**-6789".into(),
            field: None,
            row: None,
            suppressed: s,
        };
        Outcome {
            hits: vec![
                hit("dir/a b.txt", 3, None),
                hit("c<&>.txt", 0, Some(Suppression::Baseline)),
            ],
            files: vec!["dir/a b.txt".into(), "c<&>.txt".into()],
            ..Outcome::default()
        }
    }

    /// The parts of the SARIF 2.1.0 schema a consumer relies on, checked by hand (the schema
    /// itself is not fetched at test time).
    #[test]
    fn sarif_has_the_required_structure() {
        let o = outcome();
        let v = sarif(&o, &|id| format!("rule {id}"));
        assert_eq!(v["version"], "2.1.0");
        assert!(v["$schema"].as_str().unwrap().ends_with("sarif-2.1.0.json"));
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "phiscrub");
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0]["id"], "ssn.dashed");
        assert!(rules[0]["shortDescription"]["text"].is_string());
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        for r in results {
            assert_eq!(r["ruleId"], "ssn.dashed");
            assert_eq!(r["ruleIndex"], 0);
            assert!(["none", "note", "warning", "error"].contains(&r["level"].as_str().unwrap()));
            assert!(r["message"]["text"]
                .as_str()
                .unwrap()
                .contains("***-**-6789"));
            let loc = &r["locations"][0]["physicalLocation"];
            assert!(loc["artifactLocation"]["uri"].is_string());
        }
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "dir/a%20b.txt"
        );
        let region = &results[0]["locations"][0]["physicalLocation"]["region"];
        assert_eq!(
            (region["startLine"].as_u64(), region["startColumn"].as_u64()),
            (Some(3), Some(5))
        );
        assert!(results[1]["locations"][0]["physicalLocation"]["region"].is_null());
        assert_eq!(results[1]["suppressions"][0]["kind"], "external");
        assert!(results[0].get("suppressions").is_none());
        assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    }

    #[test]
    fn junit_is_escaped_and_counts() {
        let mut out = Vec::new();
        junit(&outcome(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(r#"tests="2" failures="1""#), "{text}");
        assert!(text.contains("c&lt;&amp;&gt;.txt"), "{text}");
        assert!(!text.contains("c<&>"), "{text}");
        assert_eq!(text.matches("<failure").count(), 1);
    }

    #[test]
    fn human_lists_findings_fix_and_suppressions() {
        let mut out = Vec::new();
        human(&outcome(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("dir/a b.txt:3:5: SSN (ssn.dashed) ***-**-6789"),
            "{text}"
        );
        assert!(text.contains("1 finding(s) in 1 file(s)"), "{text}");
        assert!(text.contains("suppressed: 1 baseline"), "{text}");
        assert!(text.contains("phiscrub:allow"), "{text}");
    }
}
