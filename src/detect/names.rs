//! Person names: dictionary validators for the name rules in `patterns/names.toml`.
//!
//! The dictionaries are public-domain US Census name lists (see `patterns/dict/NOTICE.md`),
//! compiled into the binary and kept sorted so a lookup is a binary search over the text
//! itself: nothing is built at start-up, which keeps `phiscrub guard` fast on a tiny change.
//! A capitalized word is a name only with support: a given name followed by a surname, a title
//! (`Dr.`), a label (`Patient:`) or a field named for it. Common words that are also names
//! (`May`, `Will`, `Young`, `Hospital`) never count on their own.

use super::validate::Check;

/// A word list as compiled in: upper-case ASCII words, one per line, sorted bytewise with no
/// duplicates (as `scripts/build_dicts.py` writes them; a test checks it). Membership is a
/// binary search over the text itself, so nothing is split, sorted or allocated at start-up:
/// building a `Vec` of the 176k surnames cost more than a whole scan of a one-line file.
struct Dict(&'static [u8]);

impl Dict {
    const fn new(text: &'static str) -> Dict {
        Dict(text.as_bytes())
    }

    /// Whether `key` is one of the lines.
    fn has_line(&self, key: &[u8]) -> bool {
        let text = self.0;
        // `lo..hi` always holds whole lines, each ending in `\n` (or at the end of the text).
        let (mut lo, mut hi) = (0, text.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let s = memchr::memrchr(b'\n', &text[lo..mid]).map_or(lo, |i| lo + i + 1);
            let e = memchr::memchr(b'\n', &text[s..hi]).map_or(hi, |i| s + i);
            match text[s..e].cmp(key) {
                std::cmp::Ordering::Equal => return true,
                std::cmp::Ordering::Less => lo = e + 1,
                std::cmp::Ordering::Greater => hi = s,
            }
        }
        false
    }

    /// Case-insensitive membership; words longer than any name are rejected without a search.
    fn contains(&self, word: &[u8]) -> bool {
        let mut buf = [0u8; 40];
        if word.is_empty() || word.len() > buf.len() {
            return false;
        }
        // The Census lists drop apostrophes (O'NEIL is ONEIL) and accents (GOMEZ).
        let mut n = 0;
        let mut i = 0;
        while i < word.len() {
            let b = word[i];
            i += 1;
            let c = if b == 0xC3 && i < word.len() {
                i += 1;
                fold_latin1(word[i - 1])
            } else if b == b'\'' {
                continue;
            } else {
                b.to_ascii_uppercase()
            };
            if n == buf.len() {
                return false;
            }
            buf[n] = c;
            n += 1;
        }
        n > 0 && self.has_line(&buf[..n])
    }
}

/// The ASCII letter under a Latin-1 letter encoded as `C3 xx` in UTF-8 (`é` → `E`, `ñ` → `N`).
fn fold_latin1(second: u8) -> u8 {
    const MAP: &[u8; 64] = b"AAAAAAACEEEEIIIIDNOOOOOxOUUUUYTsAAAAAAACEEEEIIIIDNOOOOO/OUUUUYTY";
    MAP.get(usize::from(second.wrapping_sub(0x80)))
        .copied()
        .unwrap_or(b'?')
}

static GIVEN: Dict = Dict::new(include_str!("../../patterns/dict/given_names.txt"));
static SURNAMES: Dict = Dict::new(include_str!("../../patterns/dict/surnames.txt"));
static ENGLISH: Dict = Dict::new(include_str!("../../patterns/dict/english_words.txt"));
static COMMON: Dict = Dict::new(include_str!("../../patterns/dict/common_words.txt"));

/// Validators this module answers, by name.
pub const NAMES: &[&str] = &[
    "given_surname",
    "surname_given",
    "titled_name",
    "labeled_name",
    "not_common_word",
    "any_name",
    "given_only",
];

fn words(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b' ' || b == b',' || b == b'\t')
        .filter(|w| !w.is_empty())
}

/// Strips a middle initial's dot and splits a double-barrelled surname into its parts.
fn parts(word: &[u8]) -> impl Iterator<Item = &[u8]> {
    word.split(|&b| b == b'-').filter(|p| !p.is_empty())
}

fn is_initial(w: &[u8]) -> bool {
    matches!(w, [c] | [c, b'.'] if c.is_ascii_alphabetic())
}

fn is_given(w: &[u8]) -> bool {
    GIVEN.contains(w)
}

fn is_surname(w: &[u8]) -> bool {
    parts(w).any(|p| SURNAMES.contains(strip_possessive(p)))
}

fn is_common(w: &[u8]) -> bool {
    COMMON.contains(w)
}

/// A name that is also an English word: `Tree`, `Sweep`, `Smith`. Only a pair whose first word
/// is also a *common* word (`Rose Tree`, `Mark Sweep`) needs context; `John Smith` does not.
fn is_wordlike(w: &[u8]) -> bool {
    is_common(w) || parts(w).all(|p| ENGLISH.contains(p))
}

fn strip_possessive(w: &[u8]) -> &[u8] {
    w.strip_suffix(b"'s").unwrap_or(w)
}

/// Runs the name validator `name`; `None` when the name is not one of [`NAMES`].
pub fn check(name: &str, value: &[u8]) -> Option<Check> {
    let ws: Vec<&[u8]> = words(value).filter(|w| !is_initial(w)).collect();
    let ok = match name {
        // "John Smith", "John Q. Smith", "Mary-Ann O'Neil-Smith"; a common word followed by an
        // English word ("Rose Tree", "Mark Sweep") only with context.
        "given_surname" => match ws.as_slice() {
            [first, .., last] => {
                if !(is_given(first) && is_surname(last) && ws.iter().all(|w| !is_stop(w))) {
                    false
                } else if is_common(first) && is_wordlike(last) {
                    return Some(Check::TestValue);
                } else {
                    true
                }
            }
            _ => false,
        },
        // "Smith, John"
        "surname_given" => match ws.as_slice() {
            [last, first, ..] => {
                is_surname(last) && is_given(first) && !(is_common(first) && is_common(last))
            }
            _ => false,
        },
        // After a title: capitalized words, not a role, and not only common words unless the
        // last is a surname ("Dr. Holly Jones", not "Dr. Hospital").
        "titled_name" => match ws.as_slice() {
            [.., last] => {
                ws.iter().all(|w| !is_stop(w))
                    && (ws.iter().any(|w| !is_common(w)) || is_surname(last))
            }
            _ => false,
        },
        // A field or relation that can only hold a name (`first_name`, `his daughter,`).
        "any_name" => !ws.is_empty() && ws.iter().all(|w| !is_stop(w)),
        // One given name after a relation word ("Per Laura,", "daughter, Madison").
        "given_only" => matches!(ws.as_slice(), [w] if is_given(w)),
        // After a label: most words are names a dictionary knows, and a lone word is not an
        // everyday one ("Crystal Baker" yes, "Normal" or "Normal Sinus Rhythm" no).
        "labeled_name" => {
            let known = ws.iter().filter(|w| is_given(w) || is_surname(w)).count();
            !ws.is_empty()
                && known * 2 >= ws.len()
                && (ws.len() >= 2 || !is_common(ws[0]))
                && ws.iter().all(|w| !is_stop(w))
        }
        // A place name before a state code: not `Hello, OK` or `Patient, CA`.
        "not_common_word" => ws.iter().all(|w| !is_common(w) && !is_stop(w)),
        _ => return None,
    };
    Some(if ok { Check::Valid } else { Check::Invalid })
}

/// Words that end a name candidate whatever the dictionaries say (titles, units, roles), kept
/// tiny and here because they are grammar, not vocabulary.
fn is_stop(w: &[u8]) -> bool {
    const STOP: &[&[u8]] = &[
        b"MD", b"RN", b"DO", b"NP", b"PA", b"PHD", b"DDS", b"THE", b"AND", b"OF", b"FOR", b"TO",
    ];
    STOP.iter().any(|s| s.eq_ignore_ascii_case(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_validators_table() {
        for (validator, value, want) in [
            ("given_surname", "John Smith", true),
            ("given_surname", "Mary Q. Johnson", true),
            ("given_surname", "Maria Garcia-Lopez", true),
            ("given_surname", "Connection Reset", false),
            ("given_surname", "Julio Cervántez", true),
            ("titled_name", "Holly Jones", true),
            ("given_only", "Laura", true),
            ("given_only", "Protocol", false),
            ("given_surname", "May Will", false),
            ("given_surname", "Rose Tree", false),
            ("given_surname", "Mark Sweep", false),
            ("given_surname", "Patient Smith", false),
            ("surname_given", "Smith, John", true),
            ("surname_given", "Error, Request", false),
            ("titled_name", "Smith", true),
            ("titled_name", "Hospital", false),
            ("labeled_name", "Jane Doe", true),
            ("labeled_name", "Normal", false),
            ("labeled_name", "Crystal Baker", true),
            ("labeled_name", "Normal Sinus Rhythm", false),
        ] {
            // "not a name on its own": Invalid, or TestValue (only with context)
            let got = check(validator, value.as_bytes());
            assert!(got.is_some(), "{validator}");
            assert_eq!(
                got == Some(Check::Valid),
                want,
                "{validator} {value:?}: {got:?}"
            );
        }
        assert_eq!(check("nope", b"x"), None);
    }

    /// The binary search relies on what `scripts/build_dicts.py` writes.
    #[test]
    fn dictionaries_are_sorted_unique_upper_case_lines() {
        for (name, d) in [
            ("given", &GIVEN),
            ("surnames", &SURNAMES),
            ("english", &ENGLISH),
            ("common", &COMMON),
        ] {
            let lines: Vec<&[u8]> = d.0.split(|&b| b == b'\n').collect();
            assert_eq!(lines.last(), Some(&&b""[..]), "{name}: ends in a newline");
            let words = &lines[..lines.len() - 1];
            assert!(words.len() > 100, "{name}");
            for w in words {
                assert!(
                    !w.is_empty()
                        && w.iter()
                            .all(|b| b.is_ascii_uppercase() || b"-'. ".contains(b)),
                    "{name}: {:?}",
                    String::from_utf8_lossy(w)
                );
            }
            for pair in words.windows(2) {
                assert!(
                    pair[0] < pair[1],
                    "{name}: {:?} before {:?}",
                    String::from_utf8_lossy(pair[0]),
                    String::from_utf8_lossy(pair[1])
                );
            }
            // Every line is found, and nothing between or around them.
            for w in words {
                assert!(d.has_line(w), "{name}: {:?}", String::from_utf8_lossy(w));
                let mut longer = w.to_vec();
                longer.push(b'~');
                assert!(!d.has_line(&longer), "{name}");
            }
            assert!(!d.has_line(b"A\nB") && !d.has_line(b"~") && !d.has_line(b"0"));
        }
    }

    #[test]
    fn dictionary_lookup_is_case_insensitive_and_bounded() {
        assert!(GIVEN.contains(b"john") && GIVEN.contains(b"JOHN"));
        assert!(SURNAMES.contains(b"Smith"));
        assert!(!GIVEN.contains(&[b'A'; 64]));
        assert!(!GIVEN.contains(b""));
    }
}
