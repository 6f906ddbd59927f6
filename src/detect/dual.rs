//! Forward searches of one lazy DFA, stepped side by side in one thread.
//!
//! A lazy DFA walk is one dependent load per byte: the next state's address comes from the
//! state just loaded, so a single search waits out the load latency on every byte and leaves
//! the core's other load ports idle. On the union of the free rules that was about 2.5 ns a
//! byte, half of a log scan. Searches over different parts of a chunk have no dependency on
//! each other, so the core overlaps their loads; the scanner races three (see
//! `engine::STREAMS` for why not more).
//!
//! The semantics are those of `hybrid::dfa::DFA::try_search_fwd` with leftmost-first match
//! kind (what [`super::engine`] runs): each [`Search`] reports the end and pattern of the
//! leftmost-first match starting at or after its start, or none before its end.

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::{HalfMatch, Input};

/// One leftmost-first forward search, resumable between bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Search {
    /// Where this search began: it starts over from here when a cache clear made `sid` stale.
    begin: usize,
    at: usize,
    /// Where the search stops; the byte there (if any) still counts as look-ahead.
    end: usize,
    sid: LazyStateID,
    mat: Option<HalfMatch>,
    /// The cache's clear count when `sid` was taken: a clear invalidates every state id.
    clears: usize,
    /// The search could not start (the DFA gave up): it ends at once with no match.
    failed: bool,
    /// The search reached `end` before the haystack's end without its DFA dying there, so a
    /// match it holds or is on its way to may run on past `end`: its result is not final.
    short: bool,
}

impl Search {
    /// A search of `hay[at..end]`, with the bytes around it as look-behind and look-ahead.
    pub(crate) fn new(dfa: &DFA, cache: &mut Cache, hay: &[u8], at: usize, end: usize) -> Search {
        let start = dfa.start_state_forward(cache, &Input::new(hay).range(at..end));
        let failed = start.is_err();
        Search {
            begin: at,
            at,
            end,
            sid: start.unwrap_or_default(),
            mat: None,
            clears: cache.clear_count(),
            failed,
            short: false,
        }
    }

    /// Whether the search stopped at its `end` while a match might still run past it.
    pub(crate) fn stopped_short(&self) -> bool {
        self.short
    }

    /// The same search from its beginning again, after the cache was cleared under it.
    fn redo(&mut self, dfa: &DFA, cache: &mut Cache, hay: &[u8]) {
        *self = Search::new(dfa, cache, hay, self.begin, self.end);
    }

    /// One byte, or the end-of-input step; the search's result once it is over.
    fn step(&mut self, dfa: &DFA, cache: &mut Cache, hay: &[u8]) -> Option<Option<HalfMatch>> {
        if self.failed {
            return Some(None);
        }
        if self.clears != cache.clear_count() {
            self.redo(dfa, cache, hay);
            if self.failed {
                return Some(None);
            }
        }
        if self.at >= self.end {
            return Some(self.finish(dfa, cache, hay));
        }
        let next = dfa.next_state(cache, self.sid, hay[self.at]);
        // Computing a new state may clear the cache; the id it returns is valid after it.
        self.clears = cache.clear_count();
        let Ok(sid) = next else {
            return Some(None);
        };
        self.sid = sid;
        if sid.is_tagged() {
            if sid.is_match() {
                // Matches are reported one byte late, so the one seen now ends at `at`.
                self.mat = Some(HalfMatch::new(dfa.match_pattern(cache, sid, 0), self.at));
            } else if sid.is_dead() {
                return Some(self.mat);
            } else if sid.is_quit() {
                return Some(None);
            }
        }
        self.at += 1;
        None
    }

    /// The transition past the search's end: on the look-ahead byte (the result is then
    /// marked not final, though still what `try_search_fwd` gives for the range), or end of
    /// input.
    fn finish(&mut self, dfa: &DFA, cache: &mut Cache, hay: &[u8]) -> Option<HalfMatch> {
        let (next, at) = match hay.get(self.end) {
            Some(&b) => {
                self.short = true;
                (dfa.next_state(cache, self.sid, b).ok(), self.end)
            }
            None => (dfa.next_eoi_state(cache, self.sid).ok(), hay.len()),
        };
        match next {
            Some(sid) if sid.is_match() => {
                Some(HalfMatch::new(dfa.match_pattern(cache, sid, 0), at))
            }
            Some(sid) if sid.is_quit() => None,
            Some(_) => self.mat,
            None => None,
        }
    }

    /// Runs this search alone to its result.
    pub(crate) fn run(&mut self, dfa: &DFA, cache: &mut Cache, hay: &[u8]) -> Option<HalfMatch> {
        loop {
            if !self.failed && self.clears == cache.clear_count() && !self.sid.is_tagged() {
                while self.at < self.end {
                    let next = dfa.next_state_untagged(cache, self.sid, hay[self.at]);
                    if next.is_tagged() {
                        break;
                    }
                    self.sid = next;
                    self.at += 1;
                }
            }
            if let Some(r) = self.step(dfa, cache, hay) {
                return r;
            }
        }
    }
}

/// Steps the searches together until one of them has its result: which one and the result.
/// The others keep their place for the next call.
///
/// Never inlined: inside the scanner's large body the walks' states and pointers were
/// spilled to the stack, and every step reloaded them.
#[inline(never)]
pub(crate) fn race<const N: usize>(
    dfa: &DFA,
    cache: &mut Cache,
    hay: &[u8],
    mut searches: [&mut Search; N],
) -> (usize, Option<HalfMatch>) {
    loop {
        let clears = cache.clear_count();
        let ready = searches
            .iter()
            .all(|x| x.clears == clears && !x.failed && !x.sid.is_tagged());
        // Which searches need a careful step: all of them unless the walk below ran, and
        // then only those whose next state was special (a match, dead, not yet computed).
        let mut careful = [true; N];
        if ready {
            // The states and positions live in locals here, not behind the references, so
            // each walk stays in registers and no store sits in the next load's way.
            let mut sid = searches.each_ref().map(|x| x.sid);
            let at = searches.each_ref().map(|x| x.at);
            let end = searches.each_ref().map(|x| x.end.max(x.at));
            // Untagged transitions are all known, so nothing here can clear the cache. One
            // count for all walks keeps the loop to one end check.
            let n = (0..N).map(|k| end[k] - at[k]).min().unwrap_or(0);
            let mut i = 0;
            let mut stopped = None;
            while i < n {
                let next: [LazyStateID; N] =
                    std::array::from_fn(|k| dfa.next_state_untagged(cache, sid[k], hay[at[k] + i]));
                if next.iter().any(|s| s.is_tagged()) {
                    stopped = Some(next);
                    break;
                }
                sid = next;
                i += 1;
            }
            for (x, s) in searches.iter_mut().zip(sid) {
                x.sid = s;
                x.at += i;
            }
            // The walks whose next state is plain take it; the others step carefully below.
            if let Some(next) = stopped {
                for ((x, s), c) in searches.iter_mut().zip(next).zip(&mut careful) {
                    *c = s.is_tagged();
                    if !*c {
                        x.sid = s;
                        x.at += 1;
                    }
                }
            }
        }
        // A step that clears the cache makes the others start over; should clears come often,
        // they would never finish, so the one that cleared runs on alone.
        for (k, x) in searches.iter_mut().enumerate() {
            if !careful[k] && x.at < x.end {
                continue;
            }
            if let Some(r) = x.step(dfa, cache, hay) {
                return (k, r);
            }
            if cache.clear_count() != clears {
                return (k, x.run(dfa, cache, hay));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::hybrid::dfa::Config;
    use regex_automata::nfa::thompson;
    use regex_automata::util::syntax;
    use regex_automata::MatchKind;

    const PATTERNS: &[&str] = &[
        r"\b\d{3}-\d{2}-\d{4}\b",
        r"[a-z0-9.]+@[a-z]+\.(?:com|org)",
        r"(?i)\bpatient\b",
        r"\b\d{1,3}(?:\.\d{1,3}){3}\b",
        r"\b[A-Z][a-z]+ [A-Z][a-z]+\b",
    ];

    fn dfa(cache_capacity: usize) -> DFA {
        let nfa = thompson::Compiler::new()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .configure(thompson::Config::new().utf8(false))
            .build_many(PATTERNS)
            .expect("patterns compile");
        DFA::builder()
            .configure(
                Config::new()
                    .match_kind(MatchKind::LeftmostFirst)
                    .cache_capacity(cache_capacity)
                    .skip_cache_capacity_check(true),
            )
            .build_from_nfa(nfa)
            .expect("dfa builds")
    }

    /// Fixed-seed text of words, numbers, addresses and names, dense in near-misses.
    fn haystack(len: usize) -> Vec<u8> {
        const PIECES: &[&str] = &[
            "123-45-6789",
            "12-345-6789",
            "jane.doe@mercy.org",
            "x@y",
            "Patient",
            "PATIENTS",
            "10.0.0.255",
            "1.2.3",
            "Jane Smith",
            "jane Smith",
            " ",
            " ",
            "\n",
            "=",
            "-",
            "@",
            "size=70339",
            "worker-13",
            "Dr",
            ".com",
            "99",
            "a",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut out = Vec::with_capacity(len + 32);
        while out.len() < len {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            out.extend_from_slice(PIECES[(state >> 33) as usize % PIECES.len()].as_bytes());
        }
        out.truncate(len);
        out
    }

    fn reference(
        dfa: &DFA,
        cache: &mut Cache,
        hay: &[u8],
        at: usize,
        end: usize,
    ) -> Option<HalfMatch> {
        dfa.try_search_fwd(cache, &Input::new(hay).range(at..end))
            .expect("no give-up")
    }

    /// Searches started at many places, raced in twos and threes, each give what the lazy DFA's
    /// own search gives, with a roomy cache and with one so small it is cleared all the time
    /// (which makes the other searches start over).
    #[test]
    fn raced_searches_find_what_single_searches_find() {
        let hay = haystack(6000);
        for capacity in [8 << 20, 0] {
            let dfa = dfa(capacity);
            let mut cache = dfa.create_cache();
            let mut check = dfa.create_cache();
            let mut compared = 0;
            for step in (0..hay.len()).step_by(37) {
                let starts = [
                    step,
                    (step * 7 + 11) % hay.len(),
                    (step * 13 + 5) % hay.len(),
                ];
                let ends = starts.map(|s| (s + 700).min(hay.len()));
                let mut s = std::array::from_fn::<_, 3, _>(|k| {
                    Search::new(&dfa, &mut cache, &hay, starts[k], ends[k])
                });
                let mut done = [None; 3];
                {
                    let [a, b, c] = &mut s;
                    while done.iter().any(Option::is_none) {
                        let open: Vec<usize> = (0..3).filter(|&k| done[k].is_none()).collect();
                        let (k, r) = match open.as_slice() {
                            [x, y, z] => {
                                let (k, r) =
                                    race(&dfa, &mut cache, &hay, [&mut *a, &mut *b, &mut *c]);
                                ([*x, *y, *z][k], r)
                            }
                            [x, y] => {
                                let mut pick = [&mut *a, &mut *b, &mut *c]
                                    .into_iter()
                                    .enumerate()
                                    .filter(|(k, _)| k == x || k == y)
                                    .map(|(_, s)| s);
                                let (p, q) = (pick.next().expect("two"), pick.next().expect("two"));
                                let (k, r) = race(&dfa, &mut cache, &hay, [p, q]);
                                ([*x, *y][k], r)
                            }
                            [x] => {
                                let one = [&mut *a, &mut *b, &mut *c]
                                    .into_iter()
                                    .nth(*x)
                                    .expect("one");
                                (*x, one.run(&dfa, &mut cache, &hay))
                            }
                            _ => unreachable!(),
                        };
                        done[k] = Some(r);
                    }
                }
                for k in 0..3 {
                    let want = reference(&dfa, &mut check, &hay, starts[k], ends[k]);
                    assert_eq!(
                        done[k],
                        Some(want),
                        "search {k} from {} to {}",
                        starts[k],
                        ends[k]
                    );
                    compared += usize::from(want.is_some());
                }
            }
            // The haystack is dense enough that most searches end in a match.
            assert!(compared > 300, "only {compared} matches compared");
            if capacity == 0 {
                assert!(
                    cache.clear_count() > 100,
                    "the tiny cache was cleared {} times",
                    cache.clear_count()
                );
            }
        }
    }
}
