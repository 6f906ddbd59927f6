//! A strict line filter for log shippers (`phiscrub filter`): exactly one output line for each
//! input line, in order, so it can sit in rsyslog's `mmexternal`, Fluentd's `exec_filter` or any
//! pipe without the shipper losing count.
//!
//! [`LineScrubber`] answers one line at a time and knows nothing about I/O, so a server can call
//! it as well as the stdin/stdout driver in [`run`]. Each line is scrubbed on its own (no context
//! from the line before, no sample of lines ahead), with the same [`Engine`] and the same per-cell
//! logic as `phiscrub scrub` ([`crate::formats::cells`], [`crate::formats::jsonl`]), so a value
//! gets the same token from both.
//!
//! Formats:
//! - `text`: the line is scanned as text and written back with its findings replaced.
//! - `ndjson`: the line is a JSON value; each selected string value is a cell named by its key
//!   path (`patient.ssn`), as in `phiscrub scrub --format jsonl`; everything else is kept byte
//!   for byte.
//! - `rsyslog`: the mmexternal protocol. The request is the message object
//!   (`interface.input="fulljson"`) or one property (`msg`, `rawmsg`); the reply is `{}` when
//!   nothing changed, else a JSON object with only the changed properties.
//!
//! A line that cannot be parsed (not JSON, invalid UTF-8) is counted and handled per
//! [`OnError`]; a line longer than [`Config::max_line`] is never held whole: the driver drops its
//! bytes as they come and the line is answered by [`LineScrubber::oversized`].
//!
//! ```
//! use phiscrub::{classify::ColumnRules, detect, filter::{Config, LineScrubber, Outcome}};
//! use phiscrub::{pipeline::{Engine, EntityFilter}, policy::Policy, transform::Transformer};
//! let engine = Engine {
//!     detector: detect::builtin().unwrap(),
//!     transformer: Transformer::new(Policy::defaults(false), None),
//!     filter: EntityFilter::default(),
//!     min_score: 0.5,
//! };
//! let columns = ColumnRules::builtin().unwrap();
//! let mut s = LineScrubber::new(&engine, &columns, &Config::default());
//! let mut out = Vec::new();
//! assert_eq!(s.scrub_line(b"mail jane.roe@mercy-health.org now", &mut out), Outcome::Changed);
//! assert_eq!(out, b"mail [EMAIL] now");
//! ```

mod diag;
mod rsyslog;
pub mod run;

use std::fmt;

use crate::classify::ColumnRules;
use crate::formats::jsonl::{FieldSelect, LineError, LineRewriter};
use crate::pipeline::{Engine, Located, Mode, RunOptions};

pub use diag::Diag;
pub use rsyslog::RsyslogInput;

/// What each input line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FilterFormat {
    /// Plain text or log lines.
    #[default]
    Text,
    /// One JSON value per line (newline-delimited JSON).
    Ndjson,
    /// rsyslog's mmexternal protocol: a request per line, a JSON reply per line.
    Rsyslog,
}

/// What becomes of a line that cannot be parsed (not JSON, invalid UTF-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OnError {
    /// Scrub the line as plain text and write that.
    #[default]
    Pass,
    /// Write a fixed marker instead of the line.
    Mask,
    /// Write an empty line (rsyslog: the `{}` reply, which leaves the message unchanged).
    Drop,
}

/// The marker a masked or oversized text line becomes.
pub const MASK_TEXT: &str = "[PHISCRUB: LINE REMOVED]";
/// The marker a masked or oversized JSON line becomes (still one JSON object).
pub const MASK_JSON: &str = r#"{"phiscrub":"line removed"}"#;
/// The default `--max-line`.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// How a filter treats its lines.
#[derive(Debug, Clone)]
pub struct Config {
    pub format: FilterFormat,
    pub on_error: OnError,
    /// ndjson and rsyslog `fulljson`: only these key paths (and what lies under them); empty
    /// means every path for ndjson and [`rsyslog::DEFAULT_FIELDS`] for rsyslog.
    pub fields: Vec<String>,
    /// Bytes a line may have (without its newline) before it is replaced unread.
    pub max_line: usize,
    pub rsyslog_input: RsyslogInput,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            format: FilterFormat::Text,
            on_error: OnError::Pass,
            fields: Vec::new(),
            max_line: DEFAULT_MAX_LINE,
            rsyslog_input: RsyslogInput::Fulljson,
        }
    }
}

/// Why a line was not parsed. Names a place and a reason, never content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unparsed {
    /// Not one JSON value (invalid UTF-8 inside a string included): what, and the byte offset.
    Json { at: usize, what: &'static str },
    /// JSON, but not the object the protocol needs.
    NotObject,
    /// Invalid UTF-8 at this byte offset (text and rsyslog `msg`/`rawmsg`).
    Utf8 { at: usize },
    /// Longer than `--max-line`.
    TooLong,
    /// The scrubber failed on this line (a bug); the line was masked.
    Internal,
}

impl fmt::Display for Unparsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unparsed::Json { at, what } => write!(f, "malformed JSON: {what} at byte {at}"),
            Unparsed::NotObject => f.write_str("not a JSON object"),
            Unparsed::Utf8 { at } => write!(f, "invalid UTF-8 at byte {at}"),
            Unparsed::TooLong => f.write_str("line longer than --max-line"),
            Unparsed::Internal => f.write_str("internal error"),
        }
    }
}

/// What happened to one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Written as it came (rsyslog: `{}`).
    Unchanged,
    /// At least one value replaced.
    Changed,
    /// Not parsed; written per [`OnError`] (oversized lines: replaced, see
    /// [`LineScrubber::oversized`]).
    Unparsed(Unparsed),
}

/// Scrubs lines one at a time. Holds a scanner and per-key-path memo, so keep one per thread.
pub struct LineScrubber<'a> {
    json: LineRewriter<'a, 'a>,
    cfg: Config,
    opts: RunOptions<'static>,
    /// Reused for rsyslog replies.
    scratch: Vec<u8>,
}

impl<'a> LineScrubber<'a> {
    pub fn new(engine: &'a Engine, columns: &'a ColumnRules, cfg: &Config) -> LineScrubber<'a> {
        let fields = if cfg.fields.is_empty() && cfg.format == FilterFormat::Rsyslog {
            rsyslog::DEFAULT_FIELDS
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            cfg.fields.clone()
        };
        LineScrubber {
            json: LineRewriter::new(engine, columns, FieldSelect::new(fields)),
            cfg: cfg.clone(),
            opts: RunOptions {
                mode: Mode::Scrub,
                positions: false,
                tally: false,
                fingerprints: false,
                ..RunOptions::default()
            },
            scratch: Vec::new(),
        }
    }

    /// Appends the answer to `line` (without its newline) to `out`, without a newline.
    pub fn scrub_line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Outcome {
        match self.cfg.format {
            FilterFormat::Text => {
                if self.cfg.on_error != OnError::Pass {
                    if let Err(e) = std::str::from_utf8(line) {
                        let why = Unparsed::Utf8 {
                            at: e.valid_up_to(),
                        };
                        return self.unparsed(why, line, out);
                    }
                }
                // Invalid UTF-8 is scanned as it is, like `phiscrub scrub` does, and counted.
                let changed = self.text(line, out);
                match std::str::from_utf8(line) {
                    Err(e) => Outcome::Unparsed(Unparsed::Utf8 {
                        at: e.valid_up_to(),
                    }),
                    Ok(_) if changed => Outcome::Changed,
                    Ok(_) => Outcome::Unchanged,
                }
            }
            FilterFormat::Ndjson => match self.json(line) {
                Ok(true) => {
                    out.extend_from_slice(self.json.out());
                    Outcome::Changed
                }
                Ok(false) => {
                    out.extend_from_slice(line);
                    Outcome::Unchanged
                }
                Err(why) => self.unparsed(why, line, out),
            },
            FilterFormat::Rsyslog => self.rsyslog(line, out),
        }
    }

    /// Appends the answer to a line longer than `--max-line`, whose bytes were not kept: the
    /// mask marker (or, with `--on-error drop`, an empty line or `{}`).
    pub fn oversized(&mut self, out: &mut Vec<u8>) -> Outcome {
        let why = Unparsed::TooLong;
        match self.cfg.on_error {
            OnError::Drop => self.drop_line(out),
            OnError::Pass | OnError::Mask => self.mask(out),
        }
        Outcome::Unparsed(why)
    }

    /// Appends the mask marker of this format.
    pub fn mask(&mut self, out: &mut Vec<u8>) {
        match self.cfg.format {
            FilterFormat::Text => out.extend_from_slice(MASK_TEXT.as_bytes()),
            FilterFormat::Ndjson => out.extend_from_slice(MASK_JSON.as_bytes()),
            FilterFormat::Rsyslog => rsyslog::mask_reply(self.cfg.rsyslog_input, out),
        }
    }

    fn drop_line(&self, out: &mut Vec<u8>) {
        if self.cfg.format == FilterFormat::Rsyslog {
            out.extend_from_slice(b"{}");
        }
    }

    /// A line that did not parse, per `--on-error`.
    fn unparsed(&mut self, why: Unparsed, line: &[u8], out: &mut Vec<u8>) -> Outcome {
        match self.cfg.on_error {
            OnError::Pass => match self.cfg.format {
                FilterFormat::Rsyslog => {
                    // Not the message object: taken to be the message itself.
                    let changed = self.text_into_scratch(line);
                    rsyslog::property_reply("msg", changed.then_some(&self.scratch), out);
                }
                _ => {
                    self.text(line, out);
                }
            },
            OnError::Mask => self.mask(out),
            OnError::Drop => self.drop_line(out),
        }
        Outcome::Unparsed(why)
    }

    /// Scrubs `line` as text into `out`; returns whether it changed.
    fn text(&mut self, line: &[u8], out: &mut Vec<u8>) -> bool {
        let changed = self
            .json
            .text(line, 1, &self.opts, &mut no_report)
            .unwrap_or(false);
        out.extend_from_slice(if changed { self.json.value() } else { line });
        changed
    }

    /// Scrubs `line` as text into `self.scratch`; returns whether it changed.
    fn text_into_scratch(&mut self, line: &[u8]) -> bool {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let changed = self.text(line, &mut scratch);
        self.scratch = scratch;
        changed
    }

    /// Rewrites `line` as one JSON value; the new line is in `self.json.out()`.
    fn json(&mut self, line: &[u8]) -> Result<bool, Unparsed> {
        match self.json.rewrite(line, 1, &self.opts, &mut no_report) {
            Ok(changed) => Ok(changed),
            Err(LineError::Syntax { at, what }) => Err(Unparsed::Json { at, what }),
            // Only a report callback can fail, and this one does not.
            Err(LineError::Pipeline(_)) => Err(Unparsed::Internal),
        }
    }
}

/// The filter writes no report: findings are only counted by the cells.
fn no_report(_: &Located) -> std::io::Result<()> {
    Ok(())
}

/// Parses a `--max-line` size: bytes, or with a `K`, `M` or `G` suffix (powers of 1024,
/// optionally followed by `iB` or `B`).
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let digits_end = upper
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(upper.len());
    let (num, unit) = upper.split_at(digits_end);
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        _ => {
            return Err(format!(
                "cannot read size {t:?}: use bytes or a K, M or G suffix"
            ))
        }
    };
    let n: usize = num
        .parse()
        .map_err(|_| format!("cannot read size {t:?}: use bytes or a K, M or G suffix"))?;
    n.checked_mul(1 << shift)
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("size {t:?} is zero or too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::transform::{key::Key, Transformer};

    fn engine(keyed: bool) -> Engine {
        let key = keyed.then(|| Key::parse(&"ab".repeat(32)).unwrap());
        Engine {
            detector: crate::detect::builtin().unwrap(),
            transformer: Transformer::new(Policy::defaults(keyed), key),
            filter: crate::pipeline::EntityFilter::default(),
            min_score: 0.5,
        }
    }

    fn answer(cfg: &Config, line: &[u8]) -> (String, Outcome) {
        let (e, c) = (engine(false), ColumnRules::builtin().unwrap());
        let mut s = LineScrubber::new(&e, &c, cfg);
        let mut out = Vec::new();
        let o = s.scrub_line(line, &mut out);
        (String::from_utf8_lossy(&out).into_owned(), o)
    }

    fn cfg(format: FilterFormat, on_error: OnError) -> Config {
        Config {
            format,
            on_error,
            ..Config::default()
        }
    }

    #[test]
    fn each_format_and_error_mode() {
        use FilterFormat::*;
        use OnError::*;
        let bad_json = &b"{\"ssn\": \"536-22-8726\",}"[..];
        let bad_utf8 = &b"SSN 536-22-8726 \xff"[..];
        let json_err = Outcome::Unparsed(Unparsed::Json {
            at: 22,
            what: "expected a key",
        });
        for (format, on_error, line, want, outcome) in [
            (
                Text,
                Pass,
                &b"SSN 536-22-8726"[..],
                "SSN [SSN]",
                Outcome::Changed,
            ),
            (
                Text,
                Pass,
                b"nothing here",
                "nothing here",
                Outcome::Unchanged,
            ),
            (Text, Pass, b"", "", Outcome::Unchanged),
            (
                Text,
                Pass,
                bad_utf8,
                "SSN [SSN] \u{FFFD}",
                Outcome::Unparsed(Unparsed::Utf8 { at: 16 }),
            ),
            (
                Text,
                Mask,
                bad_utf8,
                MASK_TEXT,
                Outcome::Unparsed(Unparsed::Utf8 { at: 16 }),
            ),
            (
                Text,
                Drop,
                bad_utf8,
                "",
                Outcome::Unparsed(Unparsed::Utf8 { at: 16 }),
            ),
            (
                Ndjson,
                Pass,
                b"{\"note\": \"SSN 536-22-8726\"}",
                "{\"note\": \"SSN [SSN]\"}",
                Outcome::Changed,
            ),
            (
                Ndjson,
                Pass,
                b" {\"n\": 1} ",
                " {\"n\": 1} ",
                Outcome::Unchanged,
            ),
            (Ndjson, Pass, b"", "", Outcome::Unchanged),
            (Ndjson, Pass, bad_json, "{\"ssn\": \"[SSN]\",}", json_err),
            (Ndjson, Mask, bad_json, MASK_JSON, json_err),
            (Ndjson, Drop, bad_json, "", json_err),
            (
                Rsyslog,
                Pass,
                b"{\"msg\": \"SSN 536-22-8726\", \"hostname\": \"h\"}",
                "{\"msg\":\"SSN [SSN]\"}",
                Outcome::Changed,
            ),
            (
                Rsyslog,
                Pass,
                b"{\"msg\": \"all quiet\"}",
                "{}",
                Outcome::Unchanged,
            ),
            (
                Rsyslog,
                Pass,
                b"SSN 536-22-8726",
                "{\"msg\":\"SSN [SSN]\"}",
                Outcome::Unparsed(Unparsed::Json {
                    at: 0,
                    what: "unexpected character",
                }),
            ),
            (
                Rsyslog,
                Pass,
                b"[1]",
                "{}",
                Outcome::Unparsed(Unparsed::NotObject),
            ),
            (
                Rsyslog,
                Mask,
                bad_json,
                "{\"msg\":\"[PHISCRUB: LINE REMOVED]\",\"rawmsg\":\"[PHISCRUB: LINE REMOVED]\"}",
                json_err,
            ),
            (Rsyslog, Drop, bad_json, "{}", json_err),
        ] {
            let (got, o) = answer(&cfg(format, on_error), line);
            assert_eq!(
                (got.as_str(), o),
                (want, outcome),
                "{format:?} {on_error:?} {}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn oversized_lines_are_replaced() {
        let (e, c) = (engine(false), ColumnRules::builtin().unwrap());
        for (format, on_error, want) in [
            (FilterFormat::Text, OnError::Pass, MASK_TEXT),
            (FilterFormat::Ndjson, OnError::Mask, MASK_JSON),
            (FilterFormat::Ndjson, OnError::Drop, ""),
            (FilterFormat::Rsyslog, OnError::Drop, "{}"),
        ] {
            let mut s = LineScrubber::new(&e, &c, &cfg(format, on_error));
            let mut out = Vec::new();
            assert_eq!(s.oversized(&mut out), Outcome::Unparsed(Unparsed::TooLong));
            assert_eq!(out, want.as_bytes());
        }
    }

    #[test]
    fn fields_limit_ndjson_paths() {
        let line = br#"{"patient": {"ssn": "536-22-8726"}, "note": "SSN 219-45-6789"}"#;
        let mut c = cfg(FilterFormat::Ndjson, OnError::Pass);
        c.fields = vec!["note".into()];
        let (got, _) = answer(&c, line);
        assert_eq!(
            got,
            r#"{"patient": {"ssn": "536-22-8726"}, "note": "SSN [SSN]"}"#
        );
        c.fields = vec!["patient".into()];
        let (got, _) = answer(&c, line);
        assert_eq!(
            got,
            r#"{"patient": {"ssn": "[SSN]"}, "note": "SSN 219-45-6789"}"#
        );
    }

    #[test]
    fn sizes() {
        for (t, want) in [
            ("1", Ok(1)),
            ("64K", Ok(64 << 10)),
            ("1MiB", Ok(1 << 20)),
            ("2 mb", Ok(2 << 20)),
            ("0", Err(())),
            ("x", Err(())),
            ("1T", Err(())),
        ] {
            assert_eq!(parse_size(t).map_err(|_| ()), want, "{t}");
        }
    }
}
