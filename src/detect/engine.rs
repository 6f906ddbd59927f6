//! The compiled detector: every rule's regex in one multi-pattern `meta::Regex`, compiled once
//! and searched in one pass; validators and context decide what a candidate is worth.
//!
//! Search is leftmost-first over all patterns, so a haystack is walked once. When the pattern
//! that won at a position fails its validator or its context, a second regex of the same
//! patterns (match kind `All`) answers in one anchored pass which *other* patterns also match
//! there, and those are tried in priority order. That keeps one pass for the common case and
//! still lets a nine-digit run that is no SSN be an ABA routing number or an MRN.

use std::sync::{Arc, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind as AcMatchKind};
use regex_automata::hybrid;
use regex_automata::meta::{self, Regex};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::util::captures::Captures;
use regex_automata::util::syntax;
use regex_automata::{Anchored, HalfMatch, Input, MatchKind, PatternID, PatternSet};

use super::dual::{self, Search};
use regex_syntax::hir::Hir;

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
        .hybrid_cache_capacity(64 << 20)
}

/// Checks that one rule's regex parses under the engine's syntax, so a pack error names the
/// rule rather than failing the whole set. Only the parser runs: compiling every rule on its
/// own at load cost more than the whole scan of a one-line file (issue 5's pre-commit guard),
/// and a rule too big to compile is still named, by [`Detector::new`].
pub fn check_regex(pattern: &str) -> Result<(), String> {
    syntax::parse_with(pattern, &syntax_config())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// One rule's regex on its own, built the first time a match of that rule needs it: the
/// union's DFA finds where a match ends and which rule it is, and this small one finds where
/// it starts (reverse DFA) and its groups. On the union those two steps were most of the scan:
/// the union's reverse DFA kept learning states, and the bounded backtracker cleared a visited
/// set sized by the union's whole NFA for every capture search.
struct One {
    re: Regex,
    rev: hybrid::dfa::DFA,
    /// Group index of the `value` group, and the groups named after an entity
    /// (`(?P<ZIP>…)`), each a finding of its own so `Springfield, IL 62704` yields city and ZIP.
    value_group: Option<usize>,
    entity_groups: Vec<(usize, Entity)>,
}

impl One {
    /// Built from the pattern's syntax tree parsed for the union, so the first match of a rule
    /// does not parse its regex twice more (forward and reverse): on a one-line pre-commit
    /// check that parse was most of the scan.
    fn build(hir: &Hir) -> Option<One> {
        let re = Regex::builder()
            .configure(
                meta_config(MatchKind::LeftmostFirst)
                    .hybrid_cache_capacity(2 << 20)
                    // Only anchored searches run on it: a prefilter would never be used.
                    .auto_prefilter(false),
            )
            .build_from_hir(hir)
            .ok()?;
        let rev_nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .utf8(false)
                    .reverse(true)
                    .which_captures(WhichCaptures::None),
            )
            .build_from_hir(hir)
            .ok()?;
        let rev = hybrid::dfa::DFA::builder()
            .configure(
                hybrid::dfa::Config::new()
                    .match_kind(MatchKind::All)
                    .cache_capacity(2 << 20),
            )
            .build_from_nfa(rev_nfa)
            .ok()?;
        let info = re.group_info();
        let pid = PatternID::ZERO;
        let value_group = info.to_index(pid, "value");
        let entity_groups = info
            .pattern_names(pid)
            .enumerate()
            .filter_map(|(g, name)| Some((g, name?.parse::<Entity>().ok()?)))
            .collect();
        Some(One {
            re,
            rev,
            value_group,
            entity_groups,
        })
    }
}

/// One multi-pattern regex over a subset of the rules, plus what is built from it on demand.
struct PatternSet2 {
    /// Leftmost-first over all patterns, forward only: where the next match ends, and whose.
    first: hybrid::dfa::DFA,
    /// Match kind `All` over the same NFA, for which other patterns match where a candidate
    /// was rejected; built on the first rejection (a one-line input usually has none).
    all: OnceLock<Option<hybrid::dfa::DFA>>,
    nfa: thompson::NFA,
    /// Each pattern's syntax tree, kept for its own regexes built on first use.
    hirs: Vec<Hir>,
    /// Pattern id → rule index.
    rule_of: Vec<u32>,
    /// Per pattern: whether it has groups to read (so its match needs a capture search).
    has_groups: Vec<bool>,
    one: Vec<OnceLock<Option<One>>>,
}

impl PatternSet2 {
    fn build(
        rules: &[Rule],
        pick: impl Fn(&Rule) -> bool,
        openers: Option<&str>,
    ) -> Result<Option<Self>, BuildError> {
        let mut rule_of: Vec<u32> = (0..rules.len() as u32)
            .filter(|&i| pick(&rules[i as usize]))
            .collect();
        let mut patterns: Vec<String> = rule_of
            .iter()
            .map(|&i| rules[i as usize].regex.clone())
            .collect();
        if let Some(o) = openers {
            patterns.push(o.to_string());
            rule_of.push(OPENER);
        }
        if rule_of.is_empty() {
            return Ok(None);
        }
        let mut hirs = Vec::with_capacity(patterns.len());
        for (p, &r) in patterns.iter().zip(&rule_of) {
            let hir = syntax::parse_with(p, &syntax_config()).map_err(|e| {
                let id = rules
                    .get(r as usize)
                    .map_or("(hotwords)", |r| r.id.as_str());
                BuildError::Regex(format!("rule `{id}`: {e}"))
            })?;
            hirs.push(hir);
        }
        let has_groups = hirs
            .iter()
            .map(|h| h.properties().explicit_captures_len() > 0)
            .collect();
        // The lazy DFA alone, not a `meta::Regex`: only the forward search of the union is
        // ever run, so its reverse NFA, one-pass DFA and backtracker would be start-up spent
        // for nothing. With ASCII classes and no Unicode word boundary it never quits.
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .utf8(false)
                    .nfa_size_limit(Some(64 << 20))
                    .which_captures(WhichCaptures::None),
            )
            .build_many_from_hir(&hirs)
            .map_err(|e| BuildError::Regex(e.to_string()))?;
        let first = hybrid::dfa::DFA::builder()
            .configure(
                hybrid::dfa::Config::new()
                    .match_kind(MatchKind::LeftmostFirst)
                    .cache_capacity(64 << 20),
            )
            .build_from_nfa(nfa.clone())
            .map_err(|e| BuildError::Regex(e.to_string()))?;
        let one = (0..hirs.len()).map(|_| OnceLock::new()).collect();
        Ok(Some(PatternSet2 {
            first,
            all: OnceLock::new(),
            nfa,
            hirs,
            rule_of,
            has_groups,
            one,
        }))
    }

    fn all(&self) -> Option<&hybrid::dfa::DFA> {
        self.all
            .get_or_init(|| {
                hybrid::dfa::DFA::builder()
                    .configure(
                        hybrid::dfa::Config::new()
                            .match_kind(MatchKind::All)
                            .cache_capacity(16 << 20),
                    )
                    .build_from_nfa(self.nfa.clone())
                    .ok()
            })
            .as_ref()
    }

    fn one(&self, pid: PatternID) -> Option<&One> {
        self.one
            .get(pid.as_usize())?
            .get_or_init(|| One::build(&self.hirs[pid.as_usize()]))
            .as_ref()
    }
}

/// How many searches the free pass steps together on a long haystack: each one more hides
/// more of the load latency, until their states no longer fit the registers.
const STREAMS: usize = 3;

/// Below this many bytes the free pass runs as one search: parts only pay off once the DFA
/// walk outweighs starting more searches.
const SPLIT_MIN: usize = 16 << 10;

/// How far a part's search may run past the cut to the next part before the rest of the
/// haystack is searched in one pass instead: a few percent of a part, so clean text (where a
/// search runs long before its next match) wastes little.
const CROSS: usize = 16 << 10;

/// Where to cut `hay[from..]` into the parts of [`Scanner::search_free_split`]: each cut
/// after the last newline before its even share, where a candidate rarely runs across, else
/// at the share itself.
fn split_points(hay: &[u8], from: usize, min: usize) -> Option<[usize; STREAMS + 1]> {
    let len = hay.len().checked_sub(from)?;
    if len < min.max(2 * STREAMS) {
        return None;
    }
    let share = len / STREAMS;
    let mut cuts = [hay.len(); STREAMS + 1];
    cuts[0] = from;
    for (i, cut) in cuts.iter_mut().enumerate().take(STREAMS).skip(1) {
        let even = from + i * share;
        let lo = even - share / 2;
        *cut = memchr::memrchr(b'\n', &hay[lo..even]).map_or(even, |p| lo + p + 1);
    }
    Some(cuts)
}

/// How far before a match a veto word (`unless`) reaches: `version=` right before `1.2.3.4`.
const VETO_REACH: usize = 16;

/// Pattern "rule" index of the opener pattern: the hotwords of context-requiring rules, matched
/// in the same DFA pass as the free rules so finding them costs no pass of its own.
const OPENER: u32 = u32::MAX;

/// One alternation of words, case-insensitive, with a word boundary on each side that is a
/// letter or digit (`ss#` ends in `#`, so no boundary can follow it).
fn opener_pattern(words: &[String]) -> Option<String> {
    if words.is_empty() {
        return None;
    }
    let mut alts: Vec<String> = words
        .iter()
        .map(|w| {
            let b = w.as_bytes();
            // `_` separates words here (`medical_record`, `patient_id`); `\b` alone would not.
            let pre = if b.first().is_some_and(u8::is_ascii_alphanumeric) {
                r"\b"
            } else {
                ""
            };
            let post = if b.last().is_some_and(u8::is_ascii_alphanumeric) {
                r"\b"
            } else {
                ""
            };
            format!("{pre}{}{post}", regex_syntax_escape(w))
        })
        .collect();
    // Longest first, so `social security` wins over `social` at the same place.
    alts.sort_by_key(|a| std::cmp::Reverse(a.len()));
    Some(format!("(?i:{})", alts.join("|")))
}

fn regex_syntax_escape(w: &str) -> String {
    let mut out = String::with_capacity(w.len() * 2);
    for c in w.chars() {
        if "\\.+*?()|[]{}^$#&-~ ".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The proper slices of `w` bounded on both sides by the word's ends or by a byte that is not a
/// letter or digit: `ssn #` gives `ssn`, `#`, ` #`, … but never `sn`.
fn inner_words(w: &str) -> impl Iterator<Item = &str> {
    let b = w.as_bytes();
    let n = b.len();
    let starts = (0..n).filter(move |&i| i == 0 || !b[i - 1].is_ascii_alphanumeric());
    starts.flat_map(move |i| {
        ((i + 1)..=n)
            .filter(move |&j| j == n || !b[j].is_ascii_alphanumeric())
            .filter(move |&j| j - i < n && w.is_char_boundary(i) && w.is_char_boundary(j))
            .map(move |j| &w[i..j])
    })
}

/// Per-thread caches of one rule's own regexes.
struct OneCache {
    re: meta::Cache,
    caps: Captures,
    rev: hybrid::dfa::Cache,
}

/// Per-thread mutable state of one pattern set; the parts for lazily built regexes are made
/// when first used.
struct SetCache {
    first: hybrid::dfa::Cache,
    all: Option<hybrid::dfa::Cache>,
    patset: PatternSet,
    one: Vec<Option<OneCache>>,
}

impl SetCache {
    fn new(set: &PatternSet2) -> SetCache {
        SetCache {
            first: set.first.create_cache(),
            all: None,
            patset: PatternSet::new(set.rule_of.len()),
            one: (0..set.rule_of.len()).map(|_| None).collect(),
        }
    }
}

/// The cache of pattern `pid`'s own regexes in `caches`, made on first use.
fn one_cache<'c>(
    caches: &'c mut [Option<OneCache>],
    one: &One,
    pid: PatternID,
) -> &'c mut OneCache {
    caches[pid.as_usize()].get_or_insert_with(|| OneCache {
        re: one.re.create_cache(),
        caps: one.re.create_captures(),
        rev: one.rev.create_cache(),
    })
}

struct Compiled {
    rules: Vec<Rule>,
    /// Rules that stand on their own: searched over the whole haystack.
    free: Option<PatternSet2>,
    /// Rules that require context: searched only near one of their hotwords, which is what
    /// keeps `\b\d{9}\b` (an SSN only next to "SSN") from costing a validation on every
    /// nine-digit number of a log.
    near: Option<PatternSet2>,
    /// Rules searched at their literals (see [`Rule::searched_at_literals`]): the automaton of
    /// all their literals, and per literal the patterns of `lit` that hold it.
    lit: Option<PatternSet2>,
    /// One SIMD substring finder per literal and case (lower, upper): an aho-corasick pass
    /// here cost 16 instructions a byte, as much as the union DFA saved.
    lit_finders: Vec<(memchr::memmem::Finder<'static>, usize)>,
    lit_of: Vec<Vec<PatternID>>,
    /// Hotwords and keywords of every rule, one automaton, ASCII case-insensitive.
    words: Option<AhoCorasick>,
    /// The same automaton as a DFA, built the first time a long haystack needs it: several
    /// times faster per byte than the NFA, but its build would be most of a one-line check.
    words_dfa: OnceLock<Option<AhoCorasick>>,
    /// The words of `words`, for building `words_dfa`.
    word_list: Vec<String>,
    /// Per automaton pattern: rules it is a hotword of, rules it is a keyword of, and whether
    /// it is a hotword of any context-requiring rule.
    hot_of: Vec<Vec<u32>>,
    kw_of: Vec<Vec<u32>>,
    /// Per automaton pattern: rules it vetoes when it stands just before their match.
    veto_of: Vec<Vec<u32>>,
    /// Widest window of any context-requiring rule.
    near_window: usize,
}

/// A scanner that has searched at least this many bytes (one long haystack, or the cells of
/// a table one after another) looks hotwords up with the DFA form of the automaton: its build
/// is paid once per detector, and a one-line pre-commit check never pays it.
const LONG_HAY: usize = 64 << 10;

impl Compiled {
    /// The hotword automaton for a scanner that has searched `scanned` bytes.
    fn hotword_finder(&self, scanned: usize) -> Option<&AhoCorasick> {
        if scanned < LONG_HAY {
            return self.words.as_ref();
        }
        self.words_dfa
            .get_or_init(|| {
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(AcMatchKind::LeftmostLongest)
                    .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                    .build(&self.word_list)
                    .ok()
            })
            .as_ref()
            .or(self.words.as_ref())
    }
}

/// A compiled rule set. Cheap to clone; take one [`Scanner`] per thread.
///
/// Scanners are pooled: the lazy DFAs inside them learn their states as they search, and that
/// warm-up costs more than scanning a small file, so a scanner handed back with
/// [`Detector::recycle`] keeps what it learned for the next file.
#[derive(Clone)]
pub struct Detector {
    inner: Arc<Compiled>,
    pool: Arc<std::sync::Mutex<Vec<Scanner>>>,
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
        let mut openers: Vec<String> = rules
            .iter()
            .filter(|r| r.searched_near_hotwords())
            .flat_map(|r| r.hotwords.iter().map(|w| w.to_ascii_lowercase()))
            .collect();
        openers.sort();
        openers.dedup();
        let opener = opener_pattern(&openers);
        let free = PatternSet2::build(
            &rules,
            |r| !r.searched_near_hotwords() && !r.searched_at_literals(),
            opener.as_deref(),
        )?;
        let near = PatternSet2::build(&rules, |r| r.searched_near_hotwords(), None)?;
        let lit = PatternSet2::build(&rules, |r| r.searched_at_literals(), None)?;
        let mut lit_words: Vec<String> = Vec::new();
        let mut lit_of: Vec<Vec<PatternID>> = Vec::new();
        if let Some(set) = &lit {
            for (p, &r) in set.rule_of.iter().enumerate() {
                for l in &rules[r as usize].literals {
                    let l = l.to_ascii_lowercase();
                    let i = match lit_words.iter().position(|x| *x == l) {
                        Some(i) => i,
                        None => {
                            lit_words.push(l);
                            lit_of.push(Vec::new());
                            lit_words.len() - 1
                        }
                    };
                    lit_of[i].push(PatternID::new_unchecked(p));
                }
            }
        }
        let mut lit_finders = Vec::new();
        for (i, w) in lit_words.iter().enumerate() {
            let upper = w.to_ascii_uppercase();
            lit_finders.push((memchr::memmem::Finder::new(w.as_bytes()).into_owned(), i));
            if upper != *w {
                lit_finders.push((
                    memchr::memmem::Finder::new(upper.as_bytes()).into_owned(),
                    i,
                ));
            }
        }
        let mut words: Vec<String> = Vec::new();
        let mut hot_of: Vec<Vec<u32>> = Vec::new();
        let mut kw_of: Vec<Vec<u32>> = Vec::new();
        let mut veto_of: Vec<Vec<u32>> = Vec::new();
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
            let lists = [(&r.hotwords, 0), (&r.keywords, 1), (&r.unless, 2)];
            for (list, kind) in lists {
                for w in list {
                    let s = slot_of(w, &mut words);
                    for v in [&mut hot_of, &mut kw_of, &mut veto_of] {
                        v.resize(words.len(), Vec::new());
                    }
                    [&mut hot_of, &mut kw_of, &mut veto_of][kind][s].push(i as u32);
                }
            }
        }
        // Hits are found leftmost-longest (faster than overlapping), so a word also stands for
        // every shorter word inside it: `ssn#` carries the rules of `ssn`. Inner words are the
        // slices of a word that start and end on a word boundary, looked up by name: checking
        // every pair of words with a substring search was 0.5 ms of a 20 ms pre-commit budget.
        let (hot_direct, kw_direct) = (hot_of.clone(), kw_of.clone());
        for v in &mut veto_of {
            v.sort_unstable();
        }
        let index: std::collections::HashMap<&str, usize> = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.as_str(), i))
            .collect();
        for (i, outer) in words.iter().enumerate() {
            for j in inner_words(outer).filter_map(|w| index.get(w).copied()) {
                if j != i {
                    hot_of[i].extend_from_slice(&hot_direct[j]);
                    kw_of[i].extend_from_slice(&kw_direct[j]);
                }
            }
            hot_of[i].sort_unstable();
            hot_of[i].dedup();
            kw_of[i].sort_unstable();
            kw_of[i].dedup();
        }
        let words_ac = if words.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(AcMatchKind::LeftmostLongest)
                    // Run only on small windows around candidates and on field names, never
                    // over a whole haystack (the union DFA finds the region openers): the
                    // contiguous NFA builds in a fraction of the DFA's time and that start-up
                    // is what a one-line pre-commit check pays.
                    .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
                    .build(&words)
                    .map_err(|e| BuildError::Hotwords(e.to_string()))?,
            )
        };
        let near_window = rules
            .iter()
            .filter(|r| r.searched_near_hotwords())
            .map(|r| r.window)
            .max()
            .unwrap_or(0);
        Ok(Detector {
            pool: Arc::default(),
            inner: Arc::new(Compiled {
                rules,
                free,
                near,
                lit,
                lit_finders,
                lit_of,
                words: words_ac,
                words_dfa: OnceLock::new(),
                word_list: words,
                hot_of,
                kw_of,
                veto_of,
                near_window,
            }),
        })
    }

    /// The rules, in the order findings refer to them.
    pub fn rules(&self) -> &[Rule] {
        &self.inner.rules
    }

    /// Rule ids as reports name them: every rule, then `column.<ENTITY>` for each entity, the
    /// "rule" of a value changed because its whole column is that entity.
    pub fn report_rule_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.inner.rules.iter().map(|r| r.id.clone()).collect();
        ids.extend(Entity::ALL.iter().map(|e| column_rule_id(*e)));
        ids
    }

    /// The report index of `column.<ENTITY>` (see [`Detector::report_rule_ids`]).
    pub fn column_rule(&self, e: Entity) -> u32 {
        (self.inner.rules.len() + e.index()) as u32
    }

    /// A per-thread searcher with its own caches: a warm one from the pool when there is one.
    pub fn scanner(&self) -> Scanner {
        if let Some(s) = self.pool.lock().ok().and_then(|mut p| p.pop()) {
            return s;
        }
        let c = &self.inner;
        Scanner {
            free: c.free.as_ref().map(SetCache::new),
            near: c.near.as_ref().map(SetCache::new),
            lit: c.lit.as_ref().map(SetCache::new),
            hits: Vec::new(),
            candidates: Vec::new(),
            openers: Vec::new(),
            labels: Vec::new(),
            extra: Vec::new(),
            near_found: Vec::new(),
            split_min: SPLIT_MIN,
            last_field: None,
            scanned: 0,
            inner: Some(Arc::clone(&self.inner)),
        }
    }
}

impl Detector {
    /// Hands a scanner back for reuse by later runs of this detector.
    pub fn recycle(&self, scanner: Scanner) {
        if scanner
            .inner
            .as_ref()
            .is_some_and(|i| Arc::ptr_eq(i, &self.inner))
        {
            if let Ok(mut p) = self.pool.lock() {
                p.push(scanner);
            }
        }
    }
}

/// The rule id of values changed because their column is `e`: `column.SSN`.
pub fn column_rule_id(e: Entity) -> String {
    format!("column.{}", e.name())
}

/// A hotword or keyword occurrence in the haystack.
#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    word: u32,
}

/// Searches haystacks with one detector; holds the mutable caches the regex engines need.
pub struct Scanner {
    /// Taken out while [`Scanner::scan`] runs and put back after (see there).
    inner: Option<Arc<Compiled>>,
    free: Option<SetCache>,
    near: Option<SetCache>,
    lit: Option<SetCache>,
    /// Hotword hits of the window under test.
    hits: Vec<Hit>,
    /// Patterns that also match where a candidate was rejected (reused buffer).
    candidates: Vec<PatternID>,
    /// Where the free pass met a hotword of a context-requiring rule.
    openers: Vec<(usize, usize)>,
    /// Match start and value start of each free finding whose match began before its value
    /// (a label): see [`Scanner::openers_in_labels`].
    labels: Vec<(usize, usize)>,
    /// Findings of entity-named groups of the last confirmed match.
    extra: Vec<Finding>,
    near_found: Vec<Finding>,
    /// [`SPLIT_MIN`]; tests lower it to cut small inputs, or raise it to compare with one pass.
    split_min: usize,
    /// The last field name looked up by [`Scanner::field_hotwords`], and its rules.
    last_field: Option<(String, Arc<[u32]>)>,
    /// Bytes searched so far (saturating), which picks the hotword automaton's form: the
    /// contiguous NFA the first cells of a dump used for its every note took a sixteenth of
    /// its time.
    scanned: usize,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Free,
    Near,
    Lit,
}

impl Scanner {
    /// The rules of the detector this scanner belongs to.
    pub fn rules(&self) -> &[Rule] {
        self.inner.as_ref().map_or(&[], |c| &c.rules)
    }

    /// Appends to `out` the findings in `hay[from..]`, in order, not overlapping. Bytes before
    /// `from` are context only: they can hold a hotword or decide a word boundary, never a
    /// finding.
    ///
    /// One pass of the hotword automaton records where context words are; one pass of the
    /// free rules' regex finds candidates; the context-requiring rules run only in the small
    /// regions around their hotwords. Both lists are merged by start, overlaps resolved by score.
    pub fn scan(&mut self, hay: &[u8], from: usize, ctx: &Context<'_>, out: &mut Vec<Finding>) {
        // The compiled rules are taken out of `self` for the scan rather than cloned: every
        // worker's scanner shares one reference count, and a clone and a drop per cell of a
        // table were two contended atomics per cell.
        let Some(inner) = self.inner.take() else {
            return;
        };
        self.scan_with(&inner, hay, from, ctx, out);
        self.inner = Some(inner);
    }

    fn scan_with(
        &mut self,
        inner: &Compiled,
        hay: &[u8],
        from: usize,
        ctx: &Context<'_>,
        out: &mut Vec<Finding>,
    ) {
        self.scanned = self.scanned.saturating_add(hay.len());
        let field_hot = ctx.field.map(|f| self.field_hotwords(inner, f));
        let field_hot = field_hot.as_deref();
        self.openers.clear();
        self.labels.clear();

        // Free rules over everything; the same pass notes where region-opening hotwords are.
        let mut free_found = Vec::new();
        if inner.free.is_some() {
            match split_points(hay, from, self.split_min) {
                Some(cuts) => self.search_free_split(inner, hay, cuts, field_hot, &mut free_found),
                None => self.search_range(
                    inner,
                    Which::Free,
                    hay,
                    from,
                    hay.len(),
                    field_hot,
                    &mut free_found,
                ),
            }
        }
        if inner.near.is_some() {
            self.openers_in_labels(inner, hay);
        }
        if inner.lit.is_some() {
            let lit_found = self.search_literals(inner, hay, from, field_hot);
            if !lit_found.is_empty() {
                let mut merged = Vec::with_capacity(free_found.len() + lit_found.len());
                merge_resolved(&mut merged, free_found, lit_found);
                free_found = merged;
            }
        }
        // The context before `from` may hold a hotword the free pass did not see.
        if inner.near.is_some() && from > 0 {
            let lo = from.saturating_sub(inner.near_window);
            if let Some(ac) = &inner.words {
                for m in ac.find_iter(&hay[lo..from]) {
                    let (s, e) = (lo + m.start(), lo + m.end());
                    if bounded(hay, s, e) {
                        self.openers.push((s, e));
                    }
                }
            }
            self.openers.sort_unstable();
        }

        // Context-requiring rules, region by region.
        let mut near_found = std::mem::take(&mut self.near_found);
        near_found.clear();
        if inner.near.is_some() {
            let field_opens = field_hot.is_some_and(|f| {
                f.iter()
                    .any(|&r| inner.rules[r as usize].searched_near_hotwords())
            });
            if field_opens {
                self.search_range(
                    inner,
                    Which::Near,
                    hay,
                    from,
                    hay.len(),
                    field_hot,
                    &mut near_found,
                );
            } else {
                let w = inner.near_window;
                let mut regions: Vec<(usize, usize)> = Vec::new();
                for &(hs, he) in &self.openers {
                    let (rs, re) = (hs.saturating_sub(w / 2).max(from), (he + w).min(hay.len()));
                    if rs >= re {
                        continue;
                    }
                    match regions.last_mut() {
                        Some(last) if rs <= last.1 => last.1 = last.1.max(re),
                        _ => regions.push((rs, re)),
                    }
                }
                for (rs, re) in regions {
                    self.search_range(inner, Which::Near, hay, rs, re, field_hot, &mut near_found);
                }
            }
        }
        merge_resolved(out, free_found, near_found.drain(..));
        self.near_found = near_found;
    }

    /// Candidates of one pattern set whose match starts in `lo..hi`.
    #[allow(clippy::too_many_arguments)]
    fn search_range(
        &mut self,
        inner: &Compiled,
        which: Which,
        hay: &[u8],
        lo: usize,
        hi: usize,
        field_hot: Option<&[u32]>,
        out: &mut Vec<Finding>,
    ) {
        let Some(set) = (match which {
            Which::Free => inner.free.as_ref(),
            Which::Near => inner.near.as_ref(),
            Which::Lit => inner.lit.as_ref(),
        }) else {
            return;
        };
        // A match may run past the region's end; it must start inside it.
        let limit = if which == Which::Near {
            (hi + 256).min(hay.len())
        } else {
            hay.len()
        };
        self.search_span(inner, set, which, hay, (lo, hi, limit), field_hot, out);
    }

    /// Candidates that start in `lo..hi` and end by `limit`; returns where the search stopped,
    /// which is past `hi` when the last candidate ran across it.
    #[allow(clippy::too_many_arguments)]
    fn search_span(
        &mut self,
        inner: &Compiled,
        set: &PatternSet2,
        which: Which,
        hay: &[u8],
        (lo, hi, limit): (usize, usize, usize),
        field_hot: Option<&[u32]>,
        out: &mut Vec<Finding>,
    ) -> usize {
        let mut at = lo;
        while at < hi {
            let Some((s, e, pid)) = self.find(set, which, hay, at, limit) else {
                break;
            };
            if s >= hi {
                break;
            }
            at = self.take(inner, set, which, hay, (s, e, pid), limit, field_hot, out);
        }
        at
    }

    /// Decides one candidate of a pattern set (a region opener, a confirmed finding, another
    /// rule's finding at the same place, or nothing) and returns where to search next.
    #[allow(clippy::too_many_arguments)]
    fn take(
        &mut self,
        inner: &Compiled,
        set: &PatternSet2,
        which: Which,
        hay: &[u8],
        (s, e, pid): (usize, usize, PatternID),
        limit: usize,
        field_hot: Option<&[u32]>,
        out: &mut Vec<Finding>,
    ) -> usize {
        if set.rule_of[pid.as_usize()] == OPENER {
            if bounded(hay, s, e) {
                self.openers.push((s, e));
            }
            return e.max(s + 1);
        }
        let decided = match self.confirm(inner, set, which, hay, s, e, pid, field_hot) {
            // A finding can reach past its match (an embedded image's extent).
            Some(f) => Some((f.end.max(e), f)),
            None => self
                .fallback(inner, set, which, hay, s, limit, pid, field_hot)
                .map(|(f, end)| (end, f)),
        };
        let Some((end, f)) = decided else {
            return resume_after_failure(hay, s, e);
        };
        if which == Which::Free && s < f.start {
            self.labels.push((s, f.start));
        }
        self.push_with_extra(out, f);
        end.max(s + 1)
    }

    /// Records as region openers the context words inside the labels of free findings. The
    /// free pass resumes after a match, so an opener the match swallowed went unseen: the
    /// label of `contact: Casey Allen, 5379610177` is both part of a labelled name and the
    /// hotword that opens the search for the undashed phone number after it. Any context word
    /// may open a region, as before `from`: a region only says where to look, and a rule found
    /// there still needs its own context.
    fn openers_in_labels(&mut self, inner: &Compiled, hay: &[u8]) {
        if self.labels.is_empty() {
            return;
        }
        let Some(ac) = inner.hotword_finder(self.scanned) else {
            return;
        };
        let before = self.openers.len();
        for &(s, e) in &self.labels {
            for m in ac.find_iter(&hay[s..e]) {
                let (hs, he) = (s + m.start(), s + m.end());
                if bounded(hay, hs, he) {
                    self.openers.push((hs, he));
                }
            }
        }
        if self.openers.len() > before {
            self.openers.sort_unstable();
            self.openers.dedup();
        }
    }

    /// The free pass over `hay[from..]` as [`STREAMS`] searches stepped together (see
    /// [`dual`]), one per part between `cuts`. The findings are those of one pass over the
    /// whole. A part's search may run up to [`CROSS`] bytes past the part's end. Where a
    /// candidate ran across a cut, or a search reached that reach still undecided (a long
    /// match may be on its way), everything from there on is searched again in one pass, as
    /// one pass would have gone on.
    fn search_free_split(
        &mut self,
        inner: &Compiled,
        hay: &[u8],
        cuts: [usize; STREAMS + 1],
        field_hot: Option<&[u32]>,
        out: &mut Vec<Finding>,
    ) {
        let Some(set) = inner.free.as_ref() else {
            return;
        };
        let dfa = &set.first;
        let hi: [usize; STREAMS] = std::array::from_fn(|i| cuts[i + 1]);
        let ends = hi.map(|h| (h + CROSS).min(hay.len()));
        let mut at: [usize; STREAMS] = std::array::from_fn(|i| cuts[i]);
        let mut live = [true; STREAMS];
        let mut short = [false; STREAMS];
        let mut found: [Vec<Finding>; STREAMS] = std::array::from_fn(|_| Vec::new());
        let openers_before = self.openers.len();
        let mut searches = {
            let cache = &mut self.cache(Which::Free).first;
            std::array::from_fn::<_, STREAMS, _>(|i| Search::new(dfa, cache, hay, at[i], ends[i]))
        };
        loop {
            let (i, hm) = {
                let cache = &mut self.cache(Which::Free).first;
                let mut idx = [0; STREAMS];
                let mut m = 0;
                for (i, _) in live.iter().enumerate().filter(|(_, l)| **l) {
                    idx[m] = i;
                    m += 1;
                }
                let distinct = "live parts are distinct";
                let (k, hm) = match m {
                    0 => break,
                    1 => (0, searches[idx[0]].run(dfa, cache, hay)),
                    2 => {
                        let [a, b] = searches.get_disjoint_mut([idx[0], idx[1]]).expect(distinct);
                        dual::race(dfa, cache, hay, [a, b])
                    }
                    _ => {
                        let [a, b, c] = searches
                            .get_disjoint_mut([idx[0], idx[1], idx[2]])
                            .expect(distinct);
                        dual::race(dfa, cache, hay, [a, b, c])
                    }
                };
                (idx[k], hm)
            };
            if searches[i].stopped_short() {
                // `at[i]` stays where that search began.
                live[i] = false;
                short[i] = true;
                continue;
            }
            // Only the walk stops at the reach; a candidate's own searches (its start, the
            // other rules at its place) run to the haystack's end, as in one pass.
            let whole = hay.len();
            let next = hm
                .and_then(|hm| self.start_of(set, Which::Free, hay, at[i], whole, hm))
                .filter(|&(s, _, _)| s < hi[i])
                .map(|c| {
                    self.take(
                        inner,
                        set,
                        Which::Free,
                        hay,
                        c,
                        whole,
                        field_hot,
                        &mut found[i],
                    )
                });
            match next {
                Some(n) => {
                    at[i] = n;
                    if n < hi[i] {
                        let cache = &mut self.cache(Which::Free).first;
                        searches[i] = Search::new(dfa, cache, hay, n, ends[i]);
                    } else {
                        live[i] = false;
                    }
                }
                None => live[i] = false,
            }
        }
        // The first place, in text order, from which the parts' findings are not those of one
        // pass: a search that stopped short, or a candidate that ran across the next cut.
        let redo = (0..STREAMS).find_map(|i| {
            if short[i] {
                Some((i, at[i], at[i]))
            } else if i + 1 < STREAMS && at[i] > cuts[i + 1] {
                Some((i, cuts[i + 1], at[i]))
            } else {
                None
            }
        });
        if let Some((i, keep_below, from)) = redo {
            for f in &mut found[i + 1..] {
                f.clear();
            }
            let kept: Vec<(usize, usize)> = self
                .openers
                .drain(openers_before..)
                .filter(|&(s, _)| s < keep_below)
                .collect();
            self.openers.extend(kept);
            // The labels of the later parts' findings go with those findings; a candidate that
            // ran across the cut began before it and stays.
            self.labels.retain(|&(s, _)| s < keep_below);
            let span = (from, hay.len(), hay.len());
            self.search_span(inner, set, Which::Free, hay, span, field_hot, &mut found[i]);
        }
        // The parts' openers came interleaved; the regions built from them need start order.
        self.openers[openers_before..].sort_unstable();
        for f in found {
            out.extend(f);
        }
    }

    /// Findings of the rules searched at their literals: at each literal occurrence, each of
    /// its rules is tried anchored at the `literal_reach` bytes before it, leftmost first.
    fn search_literals(
        &mut self,
        inner: &Compiled,
        hay: &[u8],
        from: usize,
        field_hot: Option<&[u32]>,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        let Some(set) = &inner.lit else {
            return out;
        };
        let mut hits: Vec<(usize, usize, usize)> = Vec::new();
        for (finder, lit) in &inner.lit_finders {
            let len = finder.needle().len();
            hits.extend(
                finder
                    .find_iter(&hay[from..])
                    .map(|i| (from + i, *lit, len)),
            );
        }
        hits.sort_unstable();
        // Findings do not overlap: the next one starts at or after the last one's end.
        let mut next = from;
        for (h, lit, len) in hits {
            if h < next {
                continue;
            }
            'pids: for &pid in &inner.lit_of[lit] {
                let reach = inner.rules[set.rule_of[pid.as_usize()] as usize].literal_reach;
                for s in h.saturating_sub(reach).max(next)..=h {
                    let Some((ms, me)) =
                        self.anchored_match(set, Which::Lit, hay, s, hay.len(), pid)
                    else {
                        continue;
                    };
                    if me < h + len {
                        continue;
                    }
                    if let Some(f) =
                        self.confirm(inner, set, Which::Lit, hay, ms, me, pid, field_hot)
                    {
                        let end = f.end.max(me);
                        self.push_with_extra(&mut out, f);
                        next = end.max(s + 1);
                        break 'pids;
                    }
                }
            }
        }
        out
    }

    /// The leftmost-first match in `hay[at..limit]`: the union's forward DFA gives its end and
    /// pattern, that pattern's own reverse DFA its start.
    fn find(
        &mut self,
        set: &PatternSet2,
        which: Which,
        hay: &[u8],
        at: usize,
        limit: usize,
    ) -> Option<(usize, usize, PatternID)> {
        let cache = self.cache(which);
        let input = Input::new(hay).range(at..limit);
        // Only a cache too small for one step fails here; `Lazy` never quits on ASCII rules.
        let hm = set.first.try_search_fwd(&mut cache.first, &input).ok()??;
        self.start_of(set, which, hay, at, limit, hm)
    }

    /// Where the match that the union's forward search ended at `hm` starts, searching no
    /// further back than `at`: that pattern's own reverse DFA.
    fn start_of(
        &mut self,
        set: &PatternSet2,
        which: Which,
        hay: &[u8],
        at: usize,
        limit: usize,
        hm: HalfMatch,
    ) -> Option<(usize, usize, PatternID)> {
        let cache = self.cache(which);
        let (e, pid) = (hm.offset(), hm.pattern());
        if e == at {
            return Some((at, e, pid));
        }
        let one = set.one(pid)?;
        let oc = one_cache(&mut cache.one, one, pid);
        let rev = Input::new(hay).range(at..e).anchored(Anchored::Yes);
        match one.rev.try_search_rev(&mut oc.rev, &rev) {
            Ok(Some(start)) => Some((start.offset(), e, pid)),
            // The union matched here, so the pattern alone does; should its reverse DFA ever
            // give up, the pattern's own two-way search from `at` answers instead.
            _ => {
                let m = one
                    .re
                    .search_with(&mut oc.re, &Input::new(hay).range(at..limit))?;
                Some((m.start(), m.end(), pid))
            }
        }
    }

    fn cache(&mut self, which: Which) -> &mut SetCache {
        let c = match which {
            Which::Free => self.free.as_mut(),
            Which::Near => self.near.as_mut(),
            Which::Lit => self.lit.as_mut(),
        };
        c.expect("a cache exists for every pattern set that exists")
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
    ///
    /// The last field's answer is kept: a column's cells are scanned one after another, and
    /// looking its name up again for each cell was a search and an allocation per cell.
    fn field_hotwords(&mut self, inner: &Compiled, field: &str) -> Arc<[u32]> {
        if let Some((f, rules)) = &self.last_field {
            if f.as_str() == field {
                return Arc::clone(rules);
            }
        }
        let mut rules = Vec::new();
        if let Some(ac) = &inner.words {
            for m in ac.find_iter(field.as_bytes()) {
                rules.extend_from_slice(&inner.hot_of[m.pattern().as_usize()]);
            }
        }
        rules.sort_unstable();
        rules.dedup();
        let rules: Arc<[u32]> = rules.into();
        self.last_field = Some((field.to_string(), Arc::clone(&rules)));
        rules
    }

    #[allow(clippy::too_many_arguments)]
    fn fallback(
        &mut self,
        inner: &Compiled,
        set: &PatternSet2,
        which: Which,
        hay: &[u8],
        s: usize,
        limit: usize,
        failed: PatternID,
        field_hot: Option<&[u32]>,
    ) -> Option<(Finding, usize)> {
        let all = set.all()?;
        let mut candidates = std::mem::take(&mut self.candidates);
        candidates.clear();
        {
            let cache = self.cache(which);
            cache.patset.clear();
            let input = Input::new(hay).range(s..limit).anchored(Anchored::Yes);
            let all_cache = cache.all.get_or_insert_with(|| all.create_cache());
            // Only a cache too small for one step fails; then no other pattern is tried.
            let _ = all.try_which_overlapping_matches(all_cache, &input, &mut cache.patset);
            candidates.extend(cache.patset.iter().filter(|&p| p != failed));
        }
        // A label word hidden under the rejected candidate (`Per` in `Per Laura`, taken for a
        // first name) still opens its region.
        if let Some(i) = candidates
            .iter()
            .position(|p| set.rule_of[p.as_usize()] == OPENER)
        {
            let pid = candidates.remove(i);
            if let Some(m) = self.anchored_match(set, which, hay, s, limit, pid) {
                if bounded(hay, m.0, m.1) {
                    self.openers.push(m);
                }
            }
        }
        let mut found = None;
        for &pid in &candidates {
            if let Some((ms, me)) = self.anchored_match(set, which, hay, s, limit, pid) {
                if let Some(f) = self.confirm(inner, set, which, hay, ms, me, pid, field_hot) {
                    let end = f.end.max(me);
                    found = Some((f, end));
                    break;
                }
            }
        }
        self.candidates = candidates;
        found
    }

    /// Pattern `pid`'s own leftmost-first match starting exactly at `s`.
    fn anchored_match(
        &mut self,
        set: &PatternSet2,
        which: Which,
        hay: &[u8],
        s: usize,
        limit: usize,
        pid: PatternID,
    ) -> Option<(usize, usize)> {
        let one = set.one(pid)?;
        let cache = self.cache(which);
        let oc = one_cache(&mut cache.one, one, pid);
        let input = Input::new(hay).range(s..limit).anchored(Anchored::Yes);
        one.re
            .search_with(&mut oc.re, &input)
            .map(|m| (m.start(), m.end()))
    }

    /// Whether a context word of rule `r` stands within `ws..we` but outside the value itself,
    /// and whether one of its keywords does. Searched only for candidates that passed their
    /// validator, which in clean text are few.
    fn has_hotword(
        &mut self,
        inner: &Compiled,
        r: u32,
        ws: usize,
        we: usize,
        hay: &[u8],
        value: (usize, usize),
    ) -> (bool, bool) {
        let (mut hot, mut kw) = (false, inner.rules[r as usize].keywords.is_empty());
        let Some(ac) = inner.hotword_finder(self.scanned) else {
            return (hot, kw);
        };
        let vetoable = !inner.rules[r as usize].unless.is_empty();
        self.hits.clear();
        for m in ac.find_iter(&hay[ws..we]) {
            let (s, e) = (ws + m.start(), ws + m.end());
            if bounded(hay, s, e) {
                self.hits.push(Hit {
                    start: s,
                    end: e,
                    word: m.pattern().as_u32(),
                });
            }
        }
        for h in &self.hits {
            let w = h.word as usize;
            if vetoable
                && h.end <= value.0
                && h.end + VETO_REACH >= value.0
                && inner.veto_of[w].binary_search(&r).is_ok()
            {
                return (false, false);
            }
            if !kw && inner.kw_of[w].binary_search(&r).is_ok() {
                kw = true;
            }
            if !hot
                && (h.end <= value.0 || h.start >= value.1)
                && inner.hot_of[w].binary_search(&r).is_ok()
            {
                hot = true;
            }
            if hot && kw && !vetoable {
                break;
            }
        }
        (hot, kw)
    }

    #[allow(clippy::too_many_arguments)]
    fn confirm(
        &mut self,
        inner: &Compiled,
        set: &PatternSet2,
        which: Which,
        hay: &[u8],
        s: usize,
        e: usize,
        pid: PatternID,
        field_hot: Option<&[u32]>,
    ) -> Option<Finding> {
        let p = pid.as_usize();
        let idx = set.rule_of[p];
        let rule = &inner.rules[idx as usize];
        self.extra.clear();
        let one = if set.has_groups[p] {
            set.one(pid)
        } else {
            None
        };
        let (vs, ve) = match one {
            Some(one) => {
                let cache = self.cache(which);
                let oc = one_cache(&mut cache.one, one, pid);
                let input = Input::new(hay).range(s..e).anchored(Anchored::Yes);
                one.re
                    .search_captures_with(&mut oc.re, &input, &mut oc.caps);
                match one.value_group.and_then(|g| oc.caps.get_group(g)) {
                    Some(sp) => (sp.start, sp.end),
                    None => (s, e),
                }
            }
            None => (s, e),
        };
        if vs >= ve {
            return None;
        }
        let check = match &rule.validator {
            Some(v) => super::run_validator(v, &hay[vs..ve]),
            None => Check::Valid,
        };
        if check == Check::Invalid {
            return None;
        }
        // An embedded image: the finding runs to the image's own end.
        let ve = match rule.extent.as_deref() {
            Some(x @ ("image" | "image_strict")) => {
                match crate::formats::image::embedded_extent(&hay[vs..]) {
                    crate::formats::image::Extent::Whole(n) => (vs + n).max(ve),
                    _ if x == "image_strict" => return None,
                    _ => ve,
                }
            }
            _ => ve,
        };
        let (ws, we) = (
            s.saturating_sub(rule.window),
            (e + rule.window / 2).min(hay.len()),
        );
        let (mut hot, kw) =
            if rule.hotwords.is_empty() && rule.keywords.is_empty() && rule.unless.is_empty() {
                (false, true)
            } else {
                self.has_hotword(inner, idx, ws, we, hay, (vs, ve))
            };
        if !kw {
            return None;
        }
        if !hot {
            hot = field_hot.is_some_and(|f| f.binary_search(&idx).is_ok());
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
        let mut extra = std::mem::take(&mut self.extra);
        if let Some(one) = one {
            let cache = self.cache(which);
            let oc = one_cache(&mut cache.one, one, pid);
            for &(g, entity) in &one.entity_groups {
                if let Some(sp) = oc.caps.get_group(g) {
                    if sp.start < sp.end {
                        extra.push(Finding {
                            start: sp.start,
                            end: sp.end,
                            rule: idx,
                            entity,
                            score,
                            test_value,
                        });
                    }
                }
            }
        }
        self.extra = extra;
        Some(Finding {
            start: vs,
            end: ve,
            rule: idx,
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

/// Where to search next after a candidate at `s..e` was rejected: at the next word that
/// follows white space inside the candidate, so `Patient John Smith` and `Tricare, Member ID:`
/// still find what starts at their second word; a structured token with no white space
/// (`2001:db8::1`, `000-12-3456`) resumes after its end, so no piece of a rejected address or
/// number becomes a value of its own. Never one byte at a time through a long token, which
/// would make a huge line quadratic.
fn resume_after_failure(hay: &[u8], s: usize, e: usize) -> usize {
    if !is_word(hay[s]) {
        return s + 1;
    }
    let end = e.max(s + 1).min(hay.len());
    (s + 1..end)
        .find(|&p| (hay[p - 1] == b' ' || hay[p - 1] == b'\t') && !hay[p].is_ascii_whitespace())
        .unwrap_or(end)
}

/// Both lists in start order, each already resolved, into `out` through [`push_resolved`].
fn merge_resolved(
    out: &mut Vec<Finding>,
    a: impl IntoIterator<Item = Finding>,
    b: impl IntoIterator<Item = Finding>,
) {
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => {
                if x.start <= y.start {
                    a.next()
                } else {
                    b.next()
                }
            }
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => break,
        };
        if let Some(f) = next {
            push_resolved(out, f);
        }
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

    #[test]
    fn inner_words_are_the_bounded_proper_slices() {
        let table: &[(&str, &[&str])] = &[
            ("ssn#", &["ssn"]),
            ("member id", &["member", "id"]),
            ("mrn", &[]),
            ("dob:", &["dob"]),
            ("s/n", &["s", "n"]),
        ];
        for (w, want) in table {
            let mut got: Vec<&str> = inner_words(w).collect();
            got.sort_unstable();
            let mut want = want.to_vec();
            want.sort_unstable();
            assert_eq!(got, want, "{w}");
        }
        // The same relation as the pairwise definition it replaced, over every built-in word.
        let det = builtin().unwrap();
        let mut words: Vec<String> = det
            .rules()
            .iter()
            .flat_map(|r| r.hotwords.iter().chain(&r.keywords).chain(&r.unless))
            .map(|w| w.to_ascii_lowercase())
            .collect();
        words.sort();
        words.dedup();
        let contained = |outer: &str, inner: &str| {
            outer.len() > inner.len()
                && outer.match_indices(inner).any(|(i, _)| {
                    let b = outer.as_bytes();
                    let j = i + inner.len();
                    (i == 0 || !b[i - 1].is_ascii_alphanumeric())
                        && (j == b.len() || !b[j].is_ascii_alphanumeric())
                })
        };
        for outer in &words {
            let fast: std::collections::BTreeSet<&str> = inner_words(outer)
                .filter(|w| words.iter().any(|x| x == w))
                .collect();
            let slow: std::collections::BTreeSet<&str> = words
                .iter()
                .filter(|inner| contained(outer, inner))
                .map(String::as_str)
                .collect();
            assert_eq!(fast, slow, "{outer}");
        }
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

    /// The free pass cut into parts searched side by side finds exactly what one pass finds:
    /// on the sample log and notes, on every rule's examples and counterexamples run together
    /// on one line and one per line, with cuts as small as a few bytes (so they fall inside
    /// values and the part after is searched again) and with context before `from`.
    #[test]
    fn parted_free_pass_finds_what_one_pass_finds() {
        let det = builtin().unwrap();
        let mut examples = String::new();
        let mut lines = String::new();
        for r in det.rules() {
            for ex in r.examples.iter().chain(&r.counterexamples) {
                examples.push_str(ex);
                examples.push(' ');
                lines.push_str(ex);
                lines.push('\n');
            }
        }
        let texts = [
            include_str!("../../testdata/sample_app.log"),
            include_str!("../../testdata/sample_notes.txt"),
            examples.as_str(),
            lines.as_str(),
        ];
        let mut one = det.scanner();
        one.split_min = usize::MAX;
        let mut parted = det.scanner();
        let mut redone = 0;
        for (t, text) in texts.iter().enumerate() {
            let hay = text.as_bytes();
            for from in (0..8).map(|k| k * hay.len() / 11) {
                let mut want = Vec::new();
                one.scan(hay, from, &Context::default(), &mut want);
                assert!(want.len() > 20, "text {t}: only {} findings", want.len());
                for min in [6, 50, 333, 4096, SPLIT_MIN] {
                    parted.split_min = min;
                    let mut got = Vec::new();
                    parted.scan(hay, from, &Context::default(), &mut got);
                    if got != want {
                        let i = got.iter().zip(&want).take_while(|(a, b)| a == b).count();
                        panic!(
                            "text {t}, from {from}, parts from {min} bytes: finding {i} is {:?}, one pass has {:?}",
                            got.get(i),
                            want.get(i)
                        );
                    }
                    let cuts = split_points(hay, from, min);
                    redone += cuts.map_or(0, |c| {
                        want.iter()
                            .filter(|f| c.iter().any(|&x| f.start < x && x < f.end))
                            .count()
                    });
                }
            }
        }
        // Some findings did run across a cut, so the part after was searched again.
        assert!(redone > 10, "only {redone} findings ran across a cut");
    }

    /// A match far longer than a part's reach, across a cut (a long URL, a JWT with a big
    /// payload), is found whole, as one pass finds it: the parts stop and one pass takes over.
    #[test]
    fn a_match_longer_than_the_reach_across_a_cut_is_found_whole() {
        let det = builtin().unwrap();
        let filler = "2024-05-01 INFO worker-13 job done size=70339 in 12ms\n".repeat(100);
        let path = "a1b2c3d4/".repeat(6 * CROSS / 9);
        let payload = "eyJzdWIiOiIxMjM0NTY3ODkwIn0".repeat(6 * CROSS / 27);
        let long = [
            format!("see https://records.example.org/{path} for more"),
            format!("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.{payload}.c2lnbmF0dXJl done"),
        ];
        let mut one = det.scanner();
        one.split_min = usize::MAX;
        let mut parted = det.scanner();
        for line in &long {
            let text = format!("{filler}{line}\n{filler}");
            let hay = text.as_bytes();
            let mut want = Vec::new();
            one.scan(hay, 0, &Context::default(), &mut want);
            let whole = want.iter().find(|f| f.end - f.start > 2 * CROSS);
            assert!(whole.is_some(), "one pass finds the long value whole");
            // Cuts that fall inside the long value, at several places along it.
            for min in [hay.len() / 4, hay.len() / 2, hay.len()] {
                parted.split_min = min;
                let cuts = split_points(hay, 0, min).expect("long enough to cut");
                let mut got = Vec::new();
                parted.scan(hay, 0, &Context::default(), &mut got);
                let same = got.iter().zip(&want).take_while(|(a, b)| a == b).count();
                assert!(
                    got == want,
                    "cuts {cuts:?}: finding {same} is {:?}, one pass has {:?}",
                    got.get(same),
                    want.get(same)
                );
            }
            let cuts = split_points(hay, 0, 0).expect("long enough to cut");
            let f = whole.expect("checked");
            assert!(
                cuts.iter().any(|&c| f.start < c && c + CROSS < f.end),
                "a cut falls inside the long value, more than the reach from its end: {cuts:?}"
            );
        }
    }

    /// Long haystacks look hotwords up with the DFA form of the automaton; it must find what
    /// the NFA form finds, word for word.
    #[test]
    fn hotword_dfa_finds_what_the_nfa_finds() {
        let det = builtin().unwrap();
        let (nfa, dfa) = (
            det.inner.hotword_finder(0).expect("hotwords"),
            det.inner.hotword_finder(LONG_HAY).expect("hotwords"),
        );
        assert!(
            !std::ptr::eq(nfa, dfa),
            "the long form is a second automaton"
        );
        let mut words = 0;
        for text in [
            include_str!("../../testdata/sample_app.log"),
            include_str!("../../testdata/sample_notes.txt"),
        ] {
            let spans = |ac: &AhoCorasick| -> Vec<(usize, usize, u32)> {
                ac.find_iter(text)
                    .map(|m| (m.start(), m.end(), m.pattern().as_u32()))
                    .collect()
            };
            let want = spans(nfa);
            assert_eq!(spans(dfa), want);
            words += want.len();
        }
        assert!(words > 100, "only {words} hotwords in the samples");
    }

    /// A scanner switches automata once it has searched [`LONG_HAY`] bytes, cell after cell:
    /// the cells it scans after that get the findings a fresh scanner gives them.
    #[test]
    fn cells_after_the_switch_find_what_a_fresh_scanner_finds() {
        let det = builtin().unwrap();
        let lines: Vec<&str> = include_str!("../../testdata/sample_notes.txt")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        let mut warm = det.scanner();
        let mut found_any = 0;
        let mut round = 0;
        while warm.scanned < 2 * LONG_HAY {
            for line in &lines {
                let mut got = Vec::new();
                warm.scan(line.as_bytes(), 0, &Context::default(), &mut got);
                if round > 0 {
                    let mut fresh = det.scanner();
                    let mut want = Vec::new();
                    fresh.scan(line.as_bytes(), 0, &Context::default(), &mut want);
                    assert_eq!(got, want, "{line}");
                    found_any += want.len();
                }
            }
            round += 1;
        }
        assert!(warm.scanned >= LONG_HAY && found_any > 0, "{found_any}");
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
    fn hotword_under_a_rejected_candidate_still_opens_its_region() {
        let det = builtin().unwrap();
        // `Contact Smith` is tried as a name first and rejected; `Contact` must still count
        // as the phone label for the bare ten digits.
        let text = "Contact Smith 3124472291";
        let found = scan(&det, text);
        assert!(
            found
                .iter()
                .any(|f| f.entity == Entity::Phone && &text[f.start..f.end] == "3124472291"),
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
    fn street_city_state_zip_each_found() {
        let det = builtin().unwrap();
        for (text, want) in [
            (
                "lives at 6759 E. Meadow Ave, Rochester. Foley removed",
                vec![
                    ("LOCATION", "6759 E. Meadow Ave"),
                    ("LOCATION", "Rochester"),
                ],
            ),
            (
                "at 123 Main St, Springfield, IL 62704 today",
                vec![
                    ("LOCATION", "123 Main St"),
                    ("LOCATION", "Springfield"),
                    ("ZIP", "62704"),
                ],
            ),
            (
                "at 123 Main St, Patient was seen",
                vec![("LOCATION", "123 Main St")],
            ),
        ] {
            let got: Vec<(&str, &str)> = scan(&det, text)
                .iter()
                .map(|f| (f.entity.name(), &text[f.start..f.end]))
                .collect();
            assert_eq!(got, want, "{text}");
        }
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
    fn literal_rules_are_found_at_their_literals() {
        let det = builtin().unwrap();
        let hex = format!("ffd8ffe0{}", "0a".repeat(70));
        for (text, start) in [
            (format!("x 0x{hex} y"), 2),
            (format!("img={hex} y"), 4),
            (format!("\\x{} y", hex.to_ascii_uppercase()), 0),
        ] {
            let found = scan(&det, &text);
            let got: Vec<(usize, usize)> = found
                .iter()
                .filter(|f| f.entity == Entity::Photo)
                .map(|f| (f.start, f.end))
                .collect();
            assert_eq!(got, [(start, text.len() - 2)], "{text}: {found:?}");
        }
        // A match may not start in the context before `from`.
        let text = format!("0x{hex}");
        let mut out = Vec::new();
        det.scanner()
            .scan(text.as_bytes(), 1, &Context::default(), &mut out);
        assert!(out.iter().all(|f| f.start >= 1), "{out:?}");
    }

    #[test]
    fn resume_skips_whole_words_only() {
        assert_eq!(resume_after_failure(b"Patient John", 0, 12), 8);
        assert_eq!(resume_after_failure(b"Tricare, Member ID", 0, 15), 9);
        assert_eq!(resume_after_failure(b"(312", 0, 4), 1);
        assert_eq!(resume_after_failure(b"aaaa", 0, 2), 2);
        assert_eq!(resume_after_failure(b"2001:db8::1 x", 0, 11), 11);
    }
}
