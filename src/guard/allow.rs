//! What a team has said is fine: inline allow markers on a finding's line (or the line before)
//! and path globs from `[guard] allow_paths`.
//!
//! The markers of the tools teams migrate from are honoured as they are: `gitleaks:allow`
//! (gitleaks) and `pragma: allowlist secret` / `pragma: allowlist nextline secret`
//! (detect-secrets), beside phiscrub's own `phiscrub:allow`.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// Inline markers, each suppressing findings on its own line and the line after it.
pub const MARKERS: &[&str] = &[
    "phiscrub:allow",
    "gitleaks:allow",
    "pragma: allowlist secret",
    "pragma: allowlist nextline secret",
];

/// Whether `line` carries an allow marker.
pub fn has_marker(line: &[u8]) -> bool {
    // Markers are rare: look for their common letters first, then for each marker.
    memchr::memchr2(b':', b'a', line).is_some()
        && MARKERS
            .iter()
            .any(|m| memchr::memmem::find(line, m.as_bytes()).is_some())
}

/// Line starts of a blob, built once per blob that has findings.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(data: &[u8]) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', data).map(|i| i + 1));
        LineIndex { starts }
    }

    /// The bytes of 1-based `line` (without its newline), if it exists.
    pub fn line<'a>(&self, data: &'a [u8], line: u64) -> Option<&'a [u8]> {
        let i = usize::try_from(line).ok()?.checked_sub(1)?;
        let s = *self.starts.get(i)?;
        if s > data.len() {
            return None;
        }
        let e = self
            .starts
            .get(i + 1)
            .map_or(data.len(), |&n| n.saturating_sub(1));
        data.get(s..e.max(s))
    }

    /// Whether a finding on 1-based `line` is allowed by a marker there or on the line before.
    pub fn allowed(&self, data: &[u8], line: u64) -> bool {
        self.line(data, line).is_some_and(has_marker)
            || (line > 1 && self.line(data, line - 1).is_some_and(has_marker))
    }
}

/// `allow_paths` globs: `*` stays within a directory, `**` crosses them, a glob without a `/`
/// matches the file name anywhere (as in `.gitignore`).
#[derive(Debug, Clone, Default)]
pub struct PathRules {
    set: Option<GlobSet>,
}

/// A glob that does not parse; names the glob, which is configuration, not data.
#[derive(Debug, thiserror::Error)]
#[error("allow_paths: bad glob `{glob}`: {message}")]
pub struct GlobError {
    pub glob: String,
    pub message: String,
}

impl PathRules {
    /// # Errors
    /// A glob that does not parse.
    pub fn new(globs: &[String]) -> Result<PathRules, GlobError> {
        if globs.is_empty() {
            return Ok(PathRules::default());
        }
        let mut b = GlobSetBuilder::new();
        for g in globs {
            let pattern = if g.contains('/') {
                g.trim_start_matches('/').to_string()
            } else {
                format!("**/{g}")
            };
            let glob = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| GlobError {
                    glob: g.clone(),
                    message: e.kind().to_string(),
                })?;
            b.add(glob);
        }
        let set = b.build().map_err(|e| GlobError {
            glob: globs.join(", "),
            message: e.to_string(),
        })?;
        Ok(PathRules { set: Some(set) })
    }

    /// Whether repository path `path` (with `/` separators) is allowed.
    pub fn allows(&self, path: &str) -> bool {
        self.set.as_ref().is_some_and(|s| s.is_match(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_on_the_line_or_the_line_before() {
        let text = b"a 1\nb 2 # phiscrub:allow\nc 3\nd 4\n# pragma: allowlist nextline secret\ne 5 // gitleaks:allow\nf 6\n";
        let idx = LineIndex::new(text);
        let table = [
            (1, false),
            (2, true),
            (3, true),
            (4, false),
            (5, true),
            (6, true),
            (7, true),
            (8, false),
            (99, false),
        ];
        for (line, want) in table {
            assert_eq!(idx.allowed(text, line), want, "line {line}");
        }
        assert_eq!(idx.line(text, 3), Some(&b"c 3"[..]));
    }

    #[test]
    fn path_globs() {
        let rules = PathRules::new(&["testdata/fake/**".into(), "*.fixture".into()]).unwrap();
        let table = [
            ("testdata/fake/a.csv", true),
            ("testdata/fake/deep/b.txt", true),
            ("testdata/real/a.csv", false),
            ("x/y.fixture", true),
            ("y.fixture", true),
            ("src/testdata/fake/a.csv", false),
        ];
        for (path, want) in table {
            assert_eq!(rules.allows(path), want, "{path}");
        }
        assert!(!PathRules::default().allows("anything"));
        assert!(PathRules::new(&["[".into()]).is_err());
    }
}
