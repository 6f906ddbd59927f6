//! The compiled detector: every rule's regex in one multi-pattern `meta::Regex`, compiled once
//! and searched in one pass; validators and context decide what a candidate is worth.
//!
//! Search is leftmost-first over all patterns, so a haystack is walked once. When the pattern
//! that won at a position fails its validator or its context, a second regex of the same
//! patterns (match kind `All`) answers in one anchored pass which *other* patterns also match
//! there, and those are tried in priority order. That keeps one pass for the common case and
//! still lets a nine-digit run that is no SSN be an ABA routing number or an MRN.

use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind as AcMatchKind};
use regex_automata::meta::{self, Regex};
use regex_automata::util::captures::Captures;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, MatchKind, PatternID, PatternSet};

use super::rules::Rule;
use super::validate::Check;
use crate::entity::Entity;

/// One detected span. Offsets are bytes into the haystack given to [`Scanner::scan`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Finding {
    pub start: usize,
    pub end: usize,
    /// Index into [`Detector::rules`].
    pub rule: u32,
    pub entity: Entity,
    pub score: f32,
    /// The value is structurally valid but in a range kept for tests and examples (SSN 9xx,
    /// 555-01xx, example.com); the score already reflects it, the guard may use it.
    pub test_value: bool,
}

/// What the caller knows about where a haystack came from: a column or key name counts as
/// context for every value in it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    pub field: Option<&'a str>,
}

/// Errors building a detector.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("rule packs do not compile together: {0}")]
    Regex(String),
    #[error("hotword automaton: {0}")]
    Hotwords(String),
}

fn syntax_config() -> syntax::Config {
    // Bytes, not text: invalid UTF-8 passes through and `\b`, `\d`, `\w` stay ASCII, which keeps
    // the lazy DFA on every input instead of falling back to the slower engines.
    syntax::Config::new().unicode(false).utf8(false)
}

fn meta_config(kind: MatchKind) -> meta::Config {
    meta::Config::new()
        .match_kind(kind)
        .utf8_empty(false)
        .nfa_size_limit(Some(64 << 20))
        .hybrid_cache_capacity(16 << 20)
}

/// Checks that one rule's regex compiles under the engine's syntax, so a pack error names the
/// rule rather than failing the whole set.
pub fn check_regex(pattern: &str) -> Result<(), String> {
    Regex::builder()
        .syntax(syntax_config())
        .configure(meta_config(MatchKind::LeftmostFirst))
        .build(pattern)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

struct Compiled {
    rules: Vec<Rule>,
    first: Regex,
    all: Regex,
    /// Hotwords and keywords of every rule, one automaton, ASCII case-insensitive.
    words: Option<AhoCorasick>,
    /// Per automaton pattern: rules it is a hotword of, rules it is a keyword of.
    hot_of: Vec<Vec<u32>>,
    kw_of: Vec<Vec<u32>>,
    /// Per rule: the slot of its `value` group, when it has one.
    value_slot: Vec<Option<usize>>,
    /// Per rule: groups named after an entity (`(?P<ZIP>…)`), each a finding of its own, so
    /// one match of `Springfield, IL 62704` yields the city and the ZIP.
    entity_slots: Vec<Vec<(usize, Entity)>>,
}

/// A compiled rule set. Cheap to clone; create one [`Scanner`] per thread.
#[derive(Clone)]
pub struct Detector {
    inner: Arc<Compiled>,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("rules", &self.inner.rules.len())
            .finish()
    }
}

impl Detector {
    /// Compiles `rules`; higher `priority` first, otherwise pack order.
    ///
    /// # Errors
    /// When the patterns together exceed the engine's size limits, or the hotword automaton
    /// cannot be built.
    pub fn new(mut rules: Vec<Rule>) -> Result<Self, BuildError> {
        rules.sort_by_key(|r| std::cmp::Reverse(r.priority));
        let patterns: Vec<&str> = rules.iter().map(|r| r.regex.as_str()).collect();
        let build = |kind| {
            Regex::builder()
                .syntax(syntax_config())
                .configure(meta_config(kind))
                .build_many(&patterns)
                .map_err(|e| BuildError::Regex(e.to_string()))
        };
        let first = build(MatchKind::LeftmostFirst)?;
        let all = build(MatchKind::All)?;

        let mut words: Vec<String> = Vec::new();
        let mut hot_of: Vec<Vec<u32>> = Vec::new();
        let mut kw_of: Vec<Vec<u32>> = Vec::new();
        let slot_of = |w: &str, words: &mut Vec<String>| -> usize {
            let w = w.to_ascii_lowercase();
            match words.iter().position(|x| *x == w) {
                Some(i) => i,
                None => {
                    words.push(w);
                    words.len() - 1
                }
            }
        };
        for (i, r) in rules.iter().enumerate() {
            for w in &r.hotwords {
                let s = slot_of(w, &mut words);
                hot_of.resize(words.len(), Vec::new());
                kw_of.resize(words.len(), Vec::new());
                hot_of[s].push(i as u32);
            }
            for w in &r.keywords {
                let s = slot_of(w, &mut words);
                hot_of.resize(words.len(), Vec::new());
                kw_of.resize(words.len(), Vec::new());
                kw_of[s].push(i as u32);
            }
        }
        let words_ac = if words.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(AcMatchKind::Standard)
                    .build(&words)
                    .map_err(|e| BuildError::Hotwords(e.to_string()))?,
            )
        };
        let info = first.group_info();
        let value_slot = (0..rules.len())
            .map(|i| {
                let pid = PatternID::new_unchecked(i);
                info.to_index(pid, "value")
            })
            .collect();
        let entity_slots = (0..rules.len())
            .map(|i| {
                let pid = PatternID::new_unchecked(i);
                info.pattern_names(pid)
                    .enumerate()
                    .filter_map(|(slot, name)| Some((slot, name?.parse::<Entity>().ok()?)))
                    .collect()
            })
            .collect();
        Ok(Detector {
            inner: Arc::new(Compiled {
                rules,
                first,
                all,
                words: words_ac,
                hot_of,
                kw_of,
                value_slot,
                entity_slots,
            }),
        })
    }

    /// The rules, in the order findings refer to them.
    pub fn rules(&self) -> &[Rule] {
        &self.inner.rules
    }

    /// A per-thread searcher with its own caches.
    pub fn scanner(&self) -> Scanner {
        let c = &self.inner;
        Scanner {
            cache: c.first.create_cache(),
            all_cache: c.all.create_cache(),
            caps: c.first.create_captures(),
            patset: PatternSet::new(c.rules.len()),
            extra: Vec::new(),
            inner: Arc::clone(&self.inner),
        }
    }
}

/// Searches haystacks with one detector; holds the mutable caches the regex engines need.
pub struct Scanner {
    inner: Arc<Compiled>,
    cache: meta::Cache,
    all_cache: meta::Cache,
    caps: Captures,
    patset: PatternSet,
    /// Findings of entity-named groups of the last confirmed match.
    extra: Vec<Finding>,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Scanner {
    /// The rules of the detector this scanner belongs to.
    pub fn rules(&self) -> &[Rule] {
        &self.inner.rules
    }

    /// Appends to `out` the findings in `hay[from..]`, in order, not overlapping. Bytes before
    /// `from` are context only: they can hold a hotword or decide a word boundary, never a
    /// finding.
    pub fn scan(&mut self, hay: &[u8], from: usize, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        let inner = Arc::clone(&self.inner);
        let field_hot = ctx.field.map(|f| self.field_hotwords(&inner, f));
        let mut at = from;
        while at < hay.len() {
            let input = Input::new(hay).range(at..);
            let Some(m) = inner.first.search_with(&mut self.cache, &input) else {
                break;
            };
            let (s, e, pid) = (m.start(), m.end(), m.pattern());
            if let Some(f) = self.confirm(&inner, hay, s, e, pid, field_hot.as_deref()) {
                self.push_with_extra(out, f);
                at = e.max(s + 1);
                continue;
            }
            if let Some((f, end)) = self.fallback(&inner, hay, s, pid, field_hot.as_deref()) {
                self.push_with_extra(out, f);
                at = end.max(s + 1);
                continue;
            }
            at = resume_after_failure(hay, s, e);
        }
    }

    fn push_with_extra(&mut self, out: &mut Vec<Finding>, f: Finding) {
        let mut all = std::mem::take(&mut self.extra);
        all.push(f);
        all.sort_by_key(|x| x.start);
        for x in all.drain(..) {
            push_resolved(out, x);
        }
        self.extra = all;
    }

    /// Rules whose hotwords occur in a field name: a column called `ssn` is context for each of
    /// its values.
    fn field_hotwords(&self, inner: &Compiled, field: &str) -> Vec<u32> {
        let mut rules = Vec::new();
        if let Some(ac) = &inner.words {
            for m in ac.find_overlapping_iter(field.as_bytes()) {
                rules.extend_from_slice(&inner.hot_of[m.pattern().as_usize()]);
            }
        }
        rules.sort_unstable();
        rules.dedup();
        rules
    }

    fn fallback(
        &mut self,
        inner: &Compiled,
        hay: &[u8],
        s: usize,
        failed: PatternID,
        field_hot: Option<&[u32]>,
    ) -> Option<(Finding, usize)> {
        self.patset.clear();
        let input = Input::new(hay).range(s..).anchored(Anchored::Yes);
        inner
            .all
            .which_overlapping_matches_with(&mut self.all_cache, &input, &mut self.patset);
        let candidates: Vec<PatternID> = self.patset.iter().filter(|&p| p != failed).collect();
        for pid in candidates {
            let input = Input::new(hay).range(s..).anchored(Anchored::Pattern(pid));
            if let Some(m) = inner.first.search_with(&mut self.cache, &input) {
                if let Some(f) = self.confirm(inner, hay, m.start(), m.end(), pid, field_hot) {
                    return Some((f, m.end()));
                }
            }
        }
        None
    }

    fn confirm(
        &mut self,
        inner: &Compiled,
        hay: &[u8],
        s: usize,
        e: usize,
        pid: PatternID,
        field_hot: Option<&[u32]>,
    ) -> Option<Finding> {
        let idx = pid.as_usize();
        let rule = &inner.rules[idx];
        self.extra.clear();
        let groups = &inner.entity_slots[idx];
        if inner.value_slot[idx].is_some() || !groups.is_empty() {
            let input = Input::new(hay).range(s..e).anchored(Anchored::Pattern(pid));
            inner
                .first
                .search_captures_with(&mut self.cache, &input, &mut self.caps);
        }
        let (vs, ve) = match inner.value_slot[idx].and_then(|slot| self.caps.get_group(slot)) {
            Some(sp) => (sp.start, sp.end),
            None => (s, e),
        };
        if vs >= ve {
            return None;
        }
        let value = &hay[vs..ve];
        let check = match &rule.validator {
            Some(v) => super::run_validator(v, value),
            None => Check::Valid,
        };
        if check == Check::Invalid {
            return None;
        }
        let (ws, we) = (
            s.saturating_sub(rule.window),
            (e + rule.window / 2).min(hay.len()),
        );
        let (mut hot, mut kw) = (false, rule.keywords.is_empty());
        if let Some(ac) = &inner.words {
            if !rule.hotwords.is_empty() || !kw {
                let r = idx as u32;
                for m in ac.find_overlapping_iter(&hay[ws..we]) {
                    let (ms, me) = (ws + m.start(), ws + m.end());
                    let p = m.pattern().as_usize();
                    if !kw && inner.kw_of[p].contains(&r) {
                        kw = true;
                    }
                    if !hot
                        && inner.hot_of[p].contains(&r)
                        && bounded(hay, ms, me)
                        && (me <= s || ms >= e || (ms >= s && me <= vs) || ms >= ve)
                    {
                        hot = true;
                    }
                    if hot && kw {
                        break;
                    }
                }
            }
        }
        if !kw {
            return None;
        }
        if !hot {
            hot = field_hot.is_some_and(|f| f.binary_search(&(idx as u32)).is_ok());
        }
        if rule.requires_context && !hot {
            return None;
        }
        let test_value = check == Check::TestValue;
        let score = match (test_value, hot) {
            (false, false) => rule.score,
            (false, true) => rule.context_score,
            // Reserved test ranges only count with context, and then below a real value.
            (true, false) => return None,
            (true, true) => (rule.context_score - 0.25).max(0.0),
        };
        for &(slot, entity) in groups {
            if let Some(sp) = self.caps.get_group(slot) {
                if sp.start < sp.end {
                    self.extra.push(Finding {
                        start: sp.start,
                        end: sp.end,
                        rule: idx as u32,
                        entity,
                        score,
                        test_value,
                    });
                }
            }
        }
        Some(Finding {
            start: vs,
            end: ve,
            rule: idx as u32,
            entity: rule.entity,
            score,
            test_value,
        })
    }
}

/// A hotword counts only as a whole word: `mrn` in `smrna` is no context, but `_` separates
/// words here so `patient_id` and `ssn_last` still count.
fn bounded(hay: &[u8], s: usize, e: usize) -> bool {
    let alnum = |b: u8| b.is_ascii_alphanumeric();
    let left = s == 0 || !alnum(hay[s - 1]) || !alnum(hay[s]);
    let right = e >= hay.len() || !alnum(hay[e]) || !alnum(hay[e - 1]);
    left && right
}

/// Where to search next after a candidate at `s..e` was rejected. A run of words
/// (`Patient John Smith`) resumes at the next word, so `John Smith` is still found; a
/// structured token (`2001:db8::1`, `000-12-3456`) resumes after its end, so no piece of a
/// rejected address or number is taken for a value of its own. Never one byte at a time
/// through a long token, which would make a huge line quadratic.
fn resume_after_failure(hay: &[u8], s: usize, e: usize) -> usize {
    if !is_word(hay[s]) {
        return s + 1;
    }
    let run_end = hay[s..]
        .iter()
        .position(|&b| !is_word(b))
        .map_or(hay.len(), |p| s + p);
    let next_is_space = hay.get(run_end).is_some_and(|b| *b == b' ' || *b == b'\t');
    let end = e.max(s + 1);
    if next_is_space {
        run_end.min(end).max(s + 1)
    } else {
        end
    }
}

/// Keeps findings ordered and non-overlapping: of two that overlap, the higher score wins, then
/// the longer.
fn push_resolved(out: &mut Vec<Finding>, f: Finding) {
    while let Some(last) = out.last() {
        if last.end <= f.start {
            break;
        }
        let keep_last = (last.score, last.end - last.start) >= (f.score, f.end - f.start);
        if keep_last {
            return;
        }
        out.pop();
    }
    out.push(f);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::builtin;

    fn scan(det: &Detector, text: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        det.scanner()
            .scan(text.as_bytes(), 0, &Context::default(), &mut out);
        out
    }

    /// Every rule's own examples and counterexamples, from the packs: the packs are the test
    /// table.
    #[test]
    fn every_rule_matches_its_examples_and_not_its_counterexamples() {
        let det = builtin().unwrap();
        let mut failures = Vec::new();
        for (i, rule) in det.rules().iter().enumerate() {
            for ex in &rule.examples {
                let found = scan(&det, ex);
                if !found.iter().any(|f| f.rule as usize == i) {
                    let got: Vec<&str> = found
                        .iter()
                        .map(|f| det.rules()[f.rule as usize].id.as_str())
                        .collect();
                    failures.push(format!(
                        "{}: example {ex:?} not found (got {got:?})",
                        rule.id
                    ));
                }
            }
            for ex in &rule.counterexamples {
                if scan(&det, ex)
                    .iter()
                    .any(|f| f.rule as usize == i && f.score >= 0.5)
                {
                    failures.push(format!("{}: counterexample {ex:?} matched", rule.id));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn spans_entities_and_order() {
        let det = builtin().unwrap();
        let text =
            "Patient: Jane Doe, SSN 536-22-8726, call (312) 447-2291 or mail jane@mercy-health.org";
        let found = scan(&det, text);
        let got: Vec<(&str, &str)> = found
            .iter()
            .map(|f| (f.entity.name(), &text[f.start..f.end]))
            .collect();
        assert_eq!(
            got,
            [
                ("NAME", "Jane Doe"),
                ("SSN", "536-22-8726"),
                ("PHONE", "(312) 447-2291"),
                ("EMAIL", "jane@mercy-health.org"),
            ]
        );
        assert!(found.windows(2).all(|w| w[0].end <= w[1].start));
    }

    #[test]
    fn fallback_finds_the_rule_a_failed_one_hid() {
        let det = builtin().unwrap();
        // Nine digits: no SSN (area 000), but a valid routing number by its label.
        let found = scan(&det, "routing 011000015");
        assert_eq!(found.len(), 1);
        assert_eq!(
            det.rules()[found[0].rule as usize].id,
            "account.aba_routing"
        );
        // A name candidate that fails still lets the real name after it be found.
        let text = "Patient John Smith";
        let found = scan(&det, text);
        assert!(
            found.iter().any(|f| &text[f.start..f.end] == "John Smith"),
            "{found:?}"
        );
    }

    #[test]
    fn context_before_from_counts_but_findings_start_at_from() {
        let det = builtin().unwrap();
        let hay = b"SSN 536228726\n................................................................536228726";
        let mut out = Vec::new();
        det.scanner().scan(hay, 4, &Context::default(), &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].start, 4);
        let mut out = Vec::new();
        det.scanner().scan(hay, 78, &Context::default(), &mut out);
        assert!(out.is_empty(), "the SSN label is too far away");
    }

    #[test]
    fn field_name_is_context() {
        let det = builtin().unwrap();
        let mut out = Vec::new();
        det.scanner().scan(
            b"536228726",
            0,
            &Context {
                field: Some("patient_ssn"),
            },
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].entity, Entity::Ssn);
    }

    #[test]
    fn test_values_need_context_and_score_lower() {
        let det = builtin().unwrap();
        assert!(scan(&det, "id 912-34-5678 x").is_empty());
        let f = scan(&det, "SSN 912-34-5678");
        assert_eq!(f.len(), 1);
        assert!(
            f[0].test_value && f[0].score < 0.97 && f[0].score >= 0.5,
            "{f:?}"
        );
    }

    #[test]
    fn entity_groups_yield_their_own_findings() {
        let det = builtin().unwrap();
        let text = "lives in Springfield, IL 62704.";
        let got: Vec<(&str, &str)> = scan(&det, text)
            .iter()
            .map(|f| (f.entity.name(), &text[f.start..f.end]))
            .collect();
        assert_eq!(got, [("LOCATION", "Springfield"), ("ZIP", "62704")]);
    }

    #[test]
    fn machine_text_is_no_name() {
        let det = builtin().unwrap();
        for text in [
            "size=70339 worker-13 sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "GET /api/v1/items?page=2 200 12ms host=ip-10-0-3-17.ec2.internal",
            "INFO Connection Reset By Peer after 30s",
            "request_id=7f9c2ba4-e88f-4d0a-9d7c-3b2f6a1e8c55 version=1.24.3",
        ] {
            let found = scan(&det, text);
            assert!(found.is_empty(), "{text:?}: {:?}", found.iter().map(|f| &text[f.start..f.end]).collect::<Vec<_>>());
        }
    }

    #[test]
    fn resume_skips_whole_words_only() {
        assert_eq!(resume_after_failure(b"Patient John", 0, 12), 7);
        assert_eq!(resume_after_failure(b"(312", 0, 4), 1);
        assert_eq!(resume_after_failure(b"aaaa", 0, 2), 2);
        assert_eq!(resume_after_failure(b"2001:db8::1 x", 0, 11), 11);
    }
}
