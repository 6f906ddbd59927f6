//! Baselines: findings a team accepted, recorded as keyed fingerprints so later runs report
//! only what is new.
//!
//! A fingerprint is `HMAC-SHA256(key, "fingerprint" ‖ entity ‖ normalized value)` (the one
//! `Transformer::fingerprint` computes for reports), so it depends on neither line nor column
//! and a moved line stays suppressed; `123-45-6789` and `123456789` are one value.
//!
//! Which key: the user's key (`--key-file`, `PHISCRUB_KEY`) when one is given, recorded by its
//! key id only; otherwise a random 256-bit salt written into the baseline file itself. A plain
//! hash would be wrong: there are only 10⁹ SSNs, so anyone could hash them all and read the
//! file. A salt stored beside the fingerprints does not stop someone who has the file from
//! trying every SSN against *this* file, but the file lives in the repository whose history
//! already holds those very values, so it reveals nothing the repository does not, and it
//! stops look-ups in precomputed tables and comparisons across repositories. A team that
//! shares baselines outside the repository uses its key instead; then the file alone is useless.
//!
//! ```json
//! {"version": 1, "salt": "…64 hex…", "key_id": null,
//!  "findings": [{"fingerprint": "1a2b3c4d:…", "entity": "SSN", "rule": "ssn.dashed",
//!                "path": "tests/fixtures/a.txt"}]}
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::transform::key::Key;

/// One accepted finding. The path is for people reading the file; matching is by fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub fingerprint: String,
    pub entity: String,
    pub rule: String,
    pub path: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    /// Hex salt the fingerprints are keyed with, or null when a user key was.
    salt: Option<String>,
    /// Id of the user key the fingerprints were made with, or null.
    key_id: Option<String>,
    findings: Vec<Entry>,
}

/// Baseline problems; messages name the file, never a value.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read baseline {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("baseline {path}: {message}")]
    Invalid { path: String, message: String },
    #[error(
        "baseline {path} was written with key {want}; pass that key (--key-file or PHISCRUB_KEY){}",
        .have.as_ref().map(|h| format!(", not key {h}")).unwrap_or_default()
    )]
    WrongKey {
        path: String,
        want: String,
        have: Option<String>,
    },
    #[error("cannot write baseline {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A loaded (or new) baseline with the key its fingerprints use.
pub struct Baseline {
    key: Key,
    salt: Option<String>,
    entries: BTreeMap<String, Entry>,
}

impl std::fmt::Debug for Baseline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Baseline")
            .field("key_id", &self.key.id())
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl Baseline {
    /// A new, empty baseline: keyed by `user_key`, or by a fresh random salt.
    ///
    /// # Errors
    /// The system random source failing.
    pub fn new(user_key: Option<Key>) -> Result<Baseline, BaselineError> {
        let bad = |message: String| BaselineError::Invalid {
            path: "(new)".into(),
            message,
        };
        let (key, salt) = match user_key {
            Some(k) => (k, None),
            None => {
                let (text, k) = Key::generate().map_err(|e| bad(e.to_string()))?;
                (k, Some(text.trim().to_string()))
            }
        };
        Ok(Baseline {
            key,
            salt,
            entries: BTreeMap::new(),
        })
    }

    /// Reads `path`; a salted baseline brings its own key, a keyed one needs `user_key`.
    ///
    /// # Errors
    /// Unreadable or malformed file, or the wrong key.
    pub fn load(path: &Path, user_key: Option<Key>) -> Result<Baseline, BaselineError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Read {
            path: shown.clone(),
            source,
        })?;
        let bad = |message: String| BaselineError::Invalid {
            path: shown.clone(),
            message,
        };
        let file: File = serde_json::from_str(&text).map_err(|e| {
            bad(format!(
                "not a phiscrub baseline (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if file.version != 1 {
            return Err(bad(format!("unknown version {}", file.version)));
        }
        let (key, salt) = match (&file.salt, &file.key_id) {
            (Some(s), _) => (
                Key::parse(s).map_err(|_| bad("the salt is not a 32-byte hex value".into()))?,
                Some(s.clone()),
            ),
            (None, Some(id)) => match user_key {
                Some(k) if k.id() == id => (k, None),
                other => {
                    return Err(BaselineError::WrongKey {
                        path: shown,
                        want: id.clone(),
                        have: other.map(|k| k.id().to_string()),
                    })
                }
            },
            (None, None) => return Err(bad("neither salt nor key_id".into())),
        };
        let entries = file
            .findings
            .into_iter()
            .map(|e| (e.fingerprint.clone(), e))
            .collect();
        Ok(Baseline { key, salt, entries })
    }

    /// The key fingerprints are made with (for the engine's transformer).
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The entry a fingerprint matches, if any.
    pub fn get(&self, fingerprint: &str) -> Option<&Entry> {
        self.entries.get(fingerprint)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets every entry, keeping the key (a baseline being rewritten).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Records a finding (the first path a value was seen at is kept).
    pub fn insert(&mut self, e: Entry) {
        self.entries.entry(e.fingerprint.clone()).or_insert(e);
    }

    /// Writes the file atomically (temp file beside it, then rename), sorted for stable diffs.
    ///
    /// # Errors
    /// The directory is not writable.
    pub fn write(&self, path: &Path) -> Result<(), BaselineError> {
        let err = |source| BaselineError::Write {
            path: path.display().to_string(),
            source,
        };
        let file = File {
            version: 1,
            salt: self.salt.clone(),
            key_id: self.salt.is_none().then(|| self.key.id().to_string()),
            findings: self.entries.values().cloned().collect(),
        };
        let mut text = serde_json::to_string_pretty(&file)
            .map_err(|e| err(std::io::Error::other(e.to_string())))?;
        text.push('\n');
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
        std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(err)?;
        tmp.persist(path).map_err(|e| err(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::Entity;
    use crate::policy::Policy;
    use crate::transform::Transformer;

    #[test]
    fn salted_round_trip_keeps_key_and_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json");
        let mut b = Baseline::new(None).unwrap();
        let t = Transformer::new(Policy::defaults(false), Some(b.key().clone()));
        let fp = t.fingerprint(Entity::Ssn, b"219-45-6789").unwrap();
        b.insert(Entry {
            fingerprint: fp.clone(),
            entity: "SSN".into(),
            rule: "ssn.dashed".into(),
            path: "a.txt".into(),
        });
        b.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("6789") || !text.contains("219-45"), "{text}");
        let again = Baseline::load(&path, None).unwrap();
        let t2 = Transformer::new(Policy::defaults(false), Some(again.key().clone()));
        let fp2 = t2.fingerprint(Entity::Ssn, b"219456789").unwrap();
        assert_eq!(
            fp, fp2,
            "same salt, same normalized value, same fingerprint"
        );
        assert!(again.get(&fp2).is_some());
        // A new baseline has a new salt: fingerprints differ across repositories.
        let other = Baseline::new(None).unwrap();
        let t3 = Transformer::new(Policy::defaults(false), Some(other.key().clone()));
        assert_ne!(t3.fingerprint(Entity::Ssn, b"219-45-6789").unwrap(), fp);
    }

    #[test]
    fn keyed_baseline_needs_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json");
        let (_, k) = Key::generate().unwrap();
        Baseline::new(Some(k.clone()))
            .unwrap()
            .write(&path)
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(k.id()) && text.contains("\"salt\": null"),
            "{text}"
        );
        assert!(matches!(
            Baseline::load(&path, None),
            Err(BaselineError::WrongKey { .. })
        ));
        assert!(Baseline::load(&path, Some(k)).is_ok());
        std::fs::write(&path, "{\"version\":1}").unwrap();
        let e = Baseline::load(&path, None).unwrap_err().to_string();
        assert!(e.contains("b.json"), "{e}");
    }
}
