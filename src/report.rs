//! Reports: what was found and where, never the value.
//!
//! `jsonl` writes one object per finding as it is found, with exactly these fields:
//!
//! ```json
//! {"path": "app.log", "line": 12, "column": 7, "start": 1234, "end": 1245,
//!  "entity": "SSN", "rule": "ssn.dashed", "score": 0.95, "fingerprint": "1a2b3c4d:…"}
//! ```
//!
//! `start`/`end` are byte offsets from the start of the file or stream (end exclusive), `line`
//! is 1-based, `column` the 1-based character column; `fingerprint` is keyed (`keyid:hex`) or
//! `null` without a key. `json` is one document with the findings and a summary; `text` a table
//! of counts by entity and file; `presidio` the Presidio analyzer's result list
//! (`entity_type`, `start`, `end` in characters, `score`), one JSON array per input.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::{json, Value};

use crate::entity::Entity;
use crate::pipeline::Located;

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Counts by entity and file, for people.
    Text,
    /// One JSON object per finding.
    Jsonl,
    /// One JSON document: findings and summary.
    Json,
    /// Presidio analyzer results (character offsets), one array per input.
    Presidio,
}

/// One finding as `jsonl` and `json` write it; the field order is the documented one.
#[derive(serde::Serialize)]
struct JsonFinding<'a> {
    path: &'a str,
    line: u64,
    column: u64,
    start: u64,
    end: u64,
    entity: &'static str,
    rule: &'a str,
    score: f64,
    fingerprint: Option<&'a str>,
    /// Structured input only: column or key path, 1-based data row.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    row: Option<u64>,
}

/// Collects findings and writes them in the chosen format.
pub struct Report<W: Write> {
    format: ReportFormat,
    out: W,
    rule_ids: Vec<String>,
    key_id: Option<String>,
    by_file: BTreeMap<String, BTreeMap<Entity, u64>>,
    totals: BTreeMap<Entity, u64>,
    kept: Vec<Value>,
    file_results: Vec<Value>,
    files: u64,
    bytes: u64,
    /// Structured inputs: counts per (path, column), and how each column was classified.
    by_column: BTreeMap<(String, String), ColumnCounts>,
    columns: Vec<(String, crate::classify::ColumnClass)>,
    /// `scrub`: whether a finding of (entity, rule) is changed (its action is not `keep`).
    changes: Option<ChangeFn>,
}

/// Whether a finding of (entity, rule id) is rewritten by the policy.
pub type ChangeFn = Box<dyn Fn(Entity, &str) -> bool>;

/// What the per-column summary of `--report json` counts for one column.
#[derive(Debug, Default)]
struct ColumnCounts {
    findings: u64,
    changed: u64,
    by_entity: BTreeMap<Entity, u64>,
    /// Distinct data rows with a finding (rows arrive in order per input).
    rows: u64,
    last_row: Option<u64>,
}

fn round(score: f32) -> f64 {
    (f64::from(score) * 100.0).round() / 100.0
}

impl<W: Write> Report<W> {
    pub fn new(
        format: ReportFormat,
        out: W,
        rule_ids: Vec<String>,
        key_id: Option<String>,
    ) -> Self {
        Report {
            format,
            out,
            rule_ids,
            key_id,
            by_file: BTreeMap::new(),
            totals: BTreeMap::new(),
            kept: Vec::new(),
            file_results: Vec::new(),
            files: 0,
            bytes: 0,
            by_column: BTreeMap::new(),
            columns: Vec::new(),
            changes: None,
        }
    }

    /// `scrub`: count, per column, the findings the policy rewrites (`changed` in the summary).
    pub fn count_changes(&mut self, changes: ChangeFn) {
        self.changes = Some(changes);
    }

    /// Whether the format prints a per-column summary (`json`).
    pub fn wants_columns(&self) -> bool {
        self.format == ReportFormat::Json
    }

    /// How the columns of structured inputs were classified, with their input's path.
    pub fn set_columns(&mut self, columns: Vec<(String, crate::classify::ColumnClass)>) {
        self.columns = columns;
    }

    /// Whether the format prints keyed fingerprints.
    pub fn needs_fingerprints(&self) -> bool {
        matches!(self.format, ReportFormat::Jsonl | ReportFormat::Json)
    }

    /// Whether the format needs character offsets.
    pub fn needs_chars(&self) -> bool {
        self.format == ReportFormat::Presidio
    }

    /// Records one finding of `path`.
    ///
    /// # Errors
    /// Writing failed.
    pub fn finding(&mut self, path: &str, f: &Located) -> io::Result<()> {
        // A tally (a scrub without a report file) stands for `count` findings.
        let n = f.count;
        *self.totals.entry(f.entity).or_default() += n;
        if let (Some(field), ReportFormat::Json) = (&f.field, self.format) {
            let rule = self
                .rule_ids
                .get(f.rule as usize)
                .map_or("?", String::as_str);
            let changed = self.changes.as_ref().is_some_and(|c| c(f.entity, rule));
            let c = self
                .by_column
                .entry((path.to_string(), field.to_string()))
                .or_default();
            c.findings += n;
            c.changed += n * u64::from(changed);
            *c.by_entity.entry(f.entity).or_default() += n;
            if f.row.is_some() && c.last_row != f.row {
                c.rows += 1;
                c.last_row = f.row;
            }
        }
        // No allocation per finding once a file has been seen.
        match self.by_file.get_mut(path) {
            Some(counts) => *counts.entry(f.entity).or_default() += n,
            None => {
                self.by_file
                    .insert(path.to_string(), BTreeMap::from([(f.entity, n)]));
            }
        }
        let rule = self
            .rule_ids
            .get(f.rule as usize)
            .map_or("?", String::as_str);
        match self.format {
            ReportFormat::Jsonl | ReportFormat::Json => {
                let rec = JsonFinding {
                    path,
                    line: f.line,
                    column: f.column,
                    start: f.start,
                    end: f.end,
                    entity: f.entity.name(),
                    rule,
                    score: round(f.score),
                    fingerprint: f.fingerprint.as_deref(),
                    field: f.field.as_deref(),
                    row: f.row,
                };
                if self.format == ReportFormat::Jsonl {
                    serde_json::to_writer(&mut self.out, &rec)?;
                    self.out.write_all(b"\n")?;
                } else {
                    self.kept.push(serde_json::to_value(&rec)?);
                }
            }
            ReportFormat::Presidio => self.file_results.push(json!({
                "entity_type": f.entity.name(), "start": f.char_start, "end": f.char_end,
                "score": round(f.score), "analysis_explanation": null,
                "recognition_metadata": {"recognizer_name": rule, "recognizer_identifier": rule},
            })),
            ReportFormat::Text => {}
        }
        Ok(())
    }

    /// Closes one input.
    ///
    /// # Errors
    /// Writing failed.
    pub fn end_input(&mut self, bytes: u64) -> io::Result<()> {
        self.files += 1;
        self.bytes += bytes;
        if self.format == ReportFormat::Presidio {
            serde_json::to_writer(
                &mut self.out,
                &Value::Array(std::mem::take(&mut self.file_results)),
            )?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Total findings so far.
    pub fn total(&self) -> u64 {
        self.totals.values().sum()
    }

    /// One line for stderr: files, bytes, findings by entity.
    pub fn summary_line(&self, seconds: f64) -> String {
        let by: Vec<String> = self
            .totals
            .iter()
            .map(|(e, n)| format!("{e} {n}"))
            .collect();
        let mb = self.bytes as f64 / 1e6;
        format!(
            "phiscrub: {} input(s), {:.1} MB in {:.2} s ({:.0} MB/s): {} finding(s){}",
            self.files,
            mb,
            seconds,
            if seconds > 0.0 { mb / seconds } else { 0.0 },
            self.total(),
            if by.is_empty() {
                String::new()
            } else {
                format!(" ({})", by.join(", "))
            }
        )
    }

    /// Writes whatever the format keeps until the end.
    ///
    /// # Errors
    /// Writing failed.
    pub fn finish(mut self) -> io::Result<W> {
        match self.format {
            ReportFormat::Json => {
                let by_entity: BTreeMap<&str, u64> =
                    self.totals.iter().map(|(e, n)| (e.name(), *n)).collect();
                let columns: Vec<Value> = self
                    .columns
                    .iter()
                    .map(|(path, c)| {
                        let class = match (c.keep, c.entity) {
                            (true, _) => "keep".to_string(),
                            (false, Some(e)) => e.name().to_string(),
                            (false, None) => "scan".to_string(),
                        };
                        let empty = ColumnCounts::default();
                        let n = self
                            .by_column
                            .get(&(path.clone(), c.name.clone()))
                            .unwrap_or(&empty);
                        let entities: BTreeMap<&str, u64> =
                            n.by_entity.iter().map(|(e, k)| (e.name(), *k)).collect();
                        json!({"path": path, "column": c.name, "class": class, "how": c.how,
                               "sql_type": c.sql_type.as_ref().map(ToString::to_string),
                               "sampled": c.sampled, "matched": c.matched, "findings": n.findings,
                               "rows_with_findings": n.rows, "entities": entities,
                               "changed": self.changes.as_ref().map(|_| n.changed)})
                    })
                    .collect();
                let doc = json!({
                    "columns": columns,
                    "findings": self.kept,
                    "summary": {"inputs": self.files, "bytes": self.bytes, "findings": self.total(),
                                "by_entity": by_entity, "key_id": self.key_id},
                });
                serde_json::to_writer_pretty(&mut self.out, &doc)?;
                self.out.write_all(b"\n")?;
            }
            ReportFormat::Text => self.write_text()?,
            ReportFormat::Jsonl | ReportFormat::Presidio => {}
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn write_text(&mut self) -> io::Result<()> {
        if self.totals.is_empty() {
            return writeln!(self.out, "no findings in {} input(s)", self.files);
        }
        let width = self
            .by_file
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(4)
            .max(4);
        writeln!(
            self.out,
            "{:<width$}  {:<16} {:>8}",
            "FILE", "ENTITY", "COUNT"
        )?;
        for (file, counts) in &self.by_file {
            for (e, n) in counts {
                writeln!(self.out, "{file:<width$}  {:<16} {n:>8}", e.name())?;
            }
        }
        writeln!(self.out)?;
        for (e, n) in &self.totals {
            writeln!(self.out, "{:<width$}  {:<16} {n:>8}", "TOTAL", e.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(entity: Entity) -> Located {
        Located {
            start: 5,
            end: 16,
            line: 1,
            column: 6,
            char_start: Some(5),
            char_end: Some(16),
            entity,
            rule: 0,
            score: 0.949_999_9,
            fingerprint: None,
            field: None,
            row: None,
            count: 1,
        }
    }

    #[test]
    fn jsonl_has_exactly_the_documented_fields() {
        let mut r = Report::new(
            ReportFormat::Jsonl,
            Vec::new(),
            vec!["ssn.dashed".into()],
            None,
        );
        r.finding("a.log", &loc(Entity::Ssn)).unwrap();
        let out = String::from_utf8(r.finish().unwrap()).unwrap();
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "column",
                "end",
                "entity",
                "fingerprint",
                "line",
                "path",
                "rule",
                "score",
                "start"
            ]
        );
        assert_eq!(v["score"], json!(0.95));
        assert_eq!(v["rule"], "ssn.dashed");
    }

    #[test]
    fn json_text_and_presidio_shapes() {
        let mut r = Report::new(
            ReportFormat::Json,
            Vec::new(),
            vec!["r".into()],
            Some("k1".into()),
        );
        r.finding("a", &loc(Entity::Email)).unwrap();
        r.end_input(10).unwrap();
        let v: Value = serde_json::from_slice(&r.finish().unwrap()).unwrap();
        assert_eq!(v["summary"]["by_entity"]["EMAIL"], 1);
        assert_eq!(v["summary"]["key_id"], "k1");

        let mut r = Report::new(ReportFormat::Presidio, Vec::new(), vec!["r".into()], None);
        r.finding("a", &loc(Entity::Email)).unwrap();
        r.end_input(10).unwrap();
        let v: Value = serde_json::from_slice(&r.finish().unwrap()).unwrap();
        assert_eq!(v[0]["entity_type"], "EMAIL");
        assert_eq!(v[0]["start"], 5);

        let mut r = Report::new(ReportFormat::Text, Vec::new(), vec!["r".into()], None);
        r.finding("a.log", &loc(Entity::Ssn)).unwrap();
        let t = String::from_utf8(r.finish().unwrap()).unwrap();
        assert!(
            t.contains("a.log") && t.contains("SSN") && t.contains("TOTAL"),
            "{t}"
        );
    }
}
