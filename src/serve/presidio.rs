//! Presidio-compatible `/analyze` and `/anonymize`: the request and response fields of
//! Presidio's analyzer and anonymizer REST APIs, so a client can switch endpoints unchanged.
//!
//! `/analyze` `{"text", "language": "en", "entities"?, "score_threshold"?}` →
//! `[{"entity_type", "start", "end", "score", …}]`, offsets in characters (code points, as
//! Python counts them), entity names mapped to Presidio's by `patterns/presidio.toml`.
//!
//! `/anonymize` `{"text", "analyzer_results", "anonymizers"?}` → `{"text", "items"}`; each item
//! gives the replacement's place in the new text, never the original. Operators: `replace`
//! (default, `<ENTITY_TYPE>`), `redact`, `mask`; `hash` is phiscrub's keyed HMAC token
//! (Presidio's hash is unkeyed, which a dictionary of all SSNs reverses), and `phiscrub`
//! applies the service's policy (keyed tokens, shapes, date shifts). `keep`, `encrypt` and
//! custom operators are refused: this service never hands back an identified value.
//!
//! Request JSON errors give line and column only; serde's messages can quote the input.

use std::collections::HashMap;

use hyper::header::HeaderValue;
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::routes::{Done, Reply};
use super::App;
use crate::entity::Entity;
use crate::policy::Action;

/// The entity-name mapping (`patterns/presidio.toml`).
#[derive(Debug, Clone)]
pub struct Names {
    rules: HashMap<String, String>,
    entities: HashMap<Entity, String>,
    from_presidio: HashMap<String, Entity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NamesFile {
    rules: HashMap<String, String>,
    entities: HashMap<String, String>,
    from_presidio: HashMap<String, String>,
}

impl Names {
    /// The mapping compiled into the binary; a unit test checks every name in it.
    pub fn builtin() -> Names {
        let file: NamesFile = toml::from_str(include_str!("../../patterns/presidio.toml"))
            .unwrap_or_else(|e| panic!("patterns/presidio.toml: {e}"));
        let entity = |s: &String| s.parse::<Entity>().ok();
        // Reading back, the first entity in report order with a name wins.
        let mut from: HashMap<String, Entity> = HashMap::new();
        let entities: HashMap<Entity, String> = file
            .entities
            .iter()
            .filter_map(|(e, p)| Some((entity(e)?, p.clone())))
            .collect();
        for e in Entity::ALL {
            if let Some(p) = entities.get(e) {
                from.entry(p.clone()).or_insert(*e);
            }
        }
        for (p, e) in &file.from_presidio {
            if let Some(e) = entity(e) {
                from.entry(p.clone()).or_insert(e);
            }
        }
        Names {
            rules: file.rules,
            entities,
            from_presidio: from,
        }
    }

    /// Presidio's name for a finding of `entity` by rule `rule`.
    pub fn name<'a>(&'a self, entity: Entity, rule: &str) -> &'a str {
        self.rules
            .get(rule)
            .or_else(|| self.entities.get(&entity))
            .map_or(entity.name(), String::as_str)
    }

    /// The entity a Presidio name means.
    pub fn entity(&self, presidio: &str) -> Entity {
        self.from_presidio
            .get(presidio)
            .copied()
            .or_else(|| presidio.parse().ok())
            .unwrap_or(Entity::OtherId)
    }
}

fn bad_json(e: &serde_json::Error) -> Reply {
    Reply::error(
        StatusCode::BAD_REQUEST,
        &format!(
            "invalid request JSON at line {} column {} (fields: text, language, entities, score_threshold / text, analyzer_results, anonymizers)",
            e.line(),
            e.column()
        ),
    )
}

fn json_done(v: &serde_json::Value, counts: crate::serve::scrub::Counts) -> Done {
    Done {
        body: v.to_string().into_bytes(),
        content_type: HeaderValue::from_static("application/json"),
        counts,
    }
}

fn round(score: f32) -> f64 {
    (f64::from(score) * 100.0).round() / 100.0
}

#[derive(Deserialize)]
struct AnalyzeRequest {
    text: String,
    language: String,
    #[serde(default)]
    entities: Option<Vec<String>>,
    #[serde(default)]
    score_threshold: Option<f64>,
}

pub(super) fn analyze(app: &App, body: &[u8]) -> Result<Done, Reply> {
    let req: AnalyzeRequest = serde_json::from_slice(body).map_err(|e| bad_json(&e))?;
    if !req.language.eq_ignore_ascii_case("en") {
        return Err(Reply::error(
            StatusCode::BAD_REQUEST,
            "only language \"en\" is supported",
        ));
    }
    let mut counts = [0; Entity::ALL.len()];
    let found = crate::serve::scrub::analyze(&app.engine, &req.text, &mut counts)
        .map_err(|_| Reply::error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))?;
    let rules = app.engine.detector.rules();
    let threshold = req.score_threshold.unwrap_or(0.0);
    let results: Vec<serde_json::Value> = found
        .iter()
        .filter_map(|f| {
            let rule = rules.get(f.rule as usize).map_or("", |r| r.id.as_str());
            let name = app.presidio.name(f.entity, rule);
            let wanted = req
                .entities
                .as_ref()
                .is_none_or(|list| list.iter().any(|e| e == name));
            if !wanted || f64::from(f.score) < threshold {
                return None;
            }
            Some(json!({
                "entity_type": name,
                "start": f.char_start,
                "end": f.char_end,
                "score": round(f.score),
                "analysis_explanation": null,
                "recognition_metadata": {"recognizer_name": rule, "recognizer_identifier": rule},
            }))
        })
        .collect();
    Ok(json_done(&serde_json::Value::Array(results), counts))
}

#[derive(Deserialize)]
struct AnonymizeRequest {
    text: String,
    #[serde(default)]
    analyzer_results: Vec<AnalyzerResult>,
    #[serde(default)]
    anonymizers: HashMap<String, Operator>,
}

#[derive(Deserialize)]
struct AnalyzerResult {
    start: usize,
    end: usize,
    entity_type: String,
    #[serde(default)]
    score: f64,
}

#[derive(Deserialize)]
struct Operator {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    new_value: Option<String>,
    #[serde(default)]
    masking_char: Option<String>,
    #[serde(default)]
    chars_to_mask: Option<usize>,
    #[serde(default)]
    from_end: Option<bool>,
}

pub(super) fn anonymize(app: &App, body: &[u8]) -> Result<Done, Reply> {
    let req: AnonymizeRequest = serde_json::from_slice(body).map_err(|e| bad_json(&e))?;
    let bad = |m: &str| Reply::error(StatusCode::BAD_REQUEST, m);
    // Byte offset of every character, and of the end.
    let mut at: Vec<usize> = req.text.char_indices().map(|(i, _)| i).collect();
    at.push(req.text.len());
    let chars = at.len() - 1;
    for (i, r) in req.analyzer_results.iter().enumerate() {
        if r.start >= r.end || r.end > chars {
            return Err(bad(&format!(
                "analyzer_results[{i}]: start and end must satisfy start < end <= the text's length"
            )));
        }
    }
    // Overlaps: the higher score, then the longer span, wins (Presidio's conflict rule).
    let mut order: Vec<usize> = (0..req.analyzer_results.len()).collect();
    let res = &req.analyzer_results;
    order.sort_by(|&a, &b| {
        res[b]
            .score
            .total_cmp(&res[a].score)
            .then((res[b].end - res[b].start).cmp(&(res[a].end - res[a].start)))
            .then(res[a].start.cmp(&res[b].start))
    });
    let mut kept: Vec<usize> = Vec::new();
    for i in order {
        if kept
            .iter()
            .all(|&k| res[k].end <= res[i].start || res[i].end <= res[k].start)
        {
            kept.push(i);
        }
    }
    kept.sort_by_key(|&i| res[i].start);
    let mut out = String::with_capacity(req.text.len());
    let mut items = Vec::with_capacity(kept.len());
    let mut counts = [0; Entity::ALL.len()];
    let (mut pos, mut out_chars) = (0usize, 0usize);
    for i in kept {
        let r = &res[i];
        let before = &req.text[at[pos]..at[r.start]];
        out.push_str(before);
        out_chars += r.start - pos;
        let value = &req.text[at[r.start]..at[r.end]];
        let op = req
            .anonymizers
            .get(&r.entity_type)
            .or_else(|| req.anonymizers.get("DEFAULT"));
        let entity = app.presidio.entity(&r.entity_type);
        counts[entity.index()] += 1;
        let (name, new) = operate(app, op, &r.entity_type, entity, value).map_err(|m| bad(&m))?;
        let n = new.chars().count();
        items.push(json!({
            "start": out_chars, "end": out_chars + n, "entity_type": r.entity_type,
            "text": new, "operator": name,
        }));
        out.push_str(&new);
        out_chars += n;
        pos = r.end;
    }
    out.push_str(&req.text[at[pos]..]);
    Ok(json_done(&json!({"text": out, "items": items}), counts))
}

/// The replacement for one value, and the operator's name.
fn operate(
    app: &App,
    op: Option<&Operator>,
    entity_type: &str,
    entity: Entity,
    value: &str,
) -> Result<(&'static str, String), String> {
    let Some(op) = op else {
        return Ok(("replace", format!("<{entity_type}>")));
    };
    let keyed = |action: Action| -> Result<String, String> {
        let t = &app.engine.transformer;
        if action.keyed() && t.key().is_none() {
            return Err(format!(
                "operator {} needs a key: start phiscrub serve with --key-file",
                op.kind
            ));
        }
        // `keep` in the policy still never returns the value here.
        let action = if action == Action::Keep {
            Action::Placeholder
        } else {
            action
        };
        let mut out = Vec::new();
        t.apply_with(action, entity, value.as_bytes(), None, &mut out);
        Ok(String::from_utf8_lossy(&out).into_owned())
    };
    match op.kind.as_str() {
        "replace" => Ok((
            "replace",
            op.new_value
                .clone()
                .unwrap_or_else(|| format!("<{entity_type}>")),
        )),
        "redact" => Ok(("redact", String::new())),
        "mask" => {
            let ch = op
                .masking_char
                .as_deref()
                .and_then(|s| s.chars().next())
                .unwrap_or('*');
            let n = op.chars_to_mask.unwrap_or(usize::MAX);
            let len = value.chars().count();
            let n = n.min(len);
            let from_end = op.from_end.unwrap_or(false);
            let masked = value
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    let hit = if from_end { i >= len - n } else { i < n };
                    if hit {
                        ch
                    } else {
                        c
                    }
                })
                .collect();
            Ok(("mask", masked))
        }
        "hash" => keyed(Action::Token).map(|s| ("hash", s)),
        "phiscrub" => {
            let action = app.engine.transformer.policy().entity_action(entity);
            keyed(action).map(|s| ("phiscrub", s))
        }
        "keep" | "encrypt" | "decrypt" | "custom" => Err(format!(
            "operator {} is not supported: this service never returns an identified value",
            op.kind
        )),
        _ => Err("unknown operator type (replace, redact, mask, hash, phiscrub)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_in_the_mapping_is_known() {
        let text = include_str!("../../patterns/presidio.toml");
        let file: NamesFile = toml::from_str(text).unwrap();
        let rules = crate::detect::builtin().unwrap().report_rule_ids();
        for r in file.rules.keys() {
            assert!(rules.contains(r), "unknown rule {r}");
        }
        for e in file.entities.keys().chain(file.from_presidio.values()) {
            assert!(e.parse::<Entity>().is_ok(), "unknown entity {e}");
        }
        let n = Names::builtin();
        for (ours, rule, theirs) in [
            (Entity::Name, "name.titled", "PERSON"),
            (Entity::Ssn, "ssn.dashed", "US_SSN"),
            (Entity::AccountNumber, "account.credit_card", "CREDIT_CARD"),
            (Entity::AccountNumber, "account.labeled", "ACCOUNT_NUMBER"),
            (Entity::Mrn, "mrn.labeled", "MRN"),
        ] {
            assert_eq!(n.name(ours, rule), theirs);
        }
        for (theirs, ours) in [
            ("PERSON", Entity::Name),
            ("LOCATION", Entity::Location),
            ("PHONE_NUMBER", Entity::Phone),
            ("CREDIT_CARD", Entity::AccountNumber),
            ("MRN", Entity::Mrn),
            ("NRP", Entity::OtherId),
        ] {
            assert_eq!(n.entity(theirs), ours, "{theirs}");
        }
    }
}
