//! rsyslog's external message modification interface (`mmexternal`, rsyslog's
//! `plugins/external/INTERFACE.md`): rsyslog writes one request line per message and waits for
//! exactly one reply line, a JSON object holding only the properties to change (`{}` for none).
//!
//! What a request is depends on the action's `interface.input`: `fulljson` (recommended, and the
//! only form that carries multi-line messages) sends the whole message object (`msg`, `rawmsg`,
//! `structured-data`, `hostname`, …, and the `$!` variable tree); `msg` (rsyslog's default) and
//! `rawmsg` send that one property as raw text. Property names in replies are rsyslog's:
//! `msg`, `rawmsg`, `structured-data`, `$!`.

use serde_json::{Map, Value};

use super::{LineScrubber, Outcome, Unparsed, MASK_TEXT};
use crate::formats::jsonl::encode_string;

/// The properties of a `fulljson` request scrubbed when no `--field` is given: the message in
/// both its forms, the RFC 5424 structured data, and every message variable.
pub const DEFAULT_FIELDS: &[&str] = &["msg", "rawmsg", "structured-data", "$!"];

/// What rsyslog sends, as set by the action's `interface.input`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RsyslogInput {
    /// The whole message object as JSON (`interface.input="fulljson"`).
    Fulljson,
    /// The MSG part as raw text (rsyslog's default).
    Msg,
    /// The message as received, header included, as raw text.
    Rawmsg,
}

/// Appends the reply setting `property` to `value`, or `{}` for `None`.
pub(super) fn property_reply(property: &str, value: Option<&Vec<u8>>, out: &mut Vec<u8>) {
    match value {
        None => out.extend_from_slice(b"{}"),
        Some(v) => {
            out.extend_from_slice(b"{\"");
            out.extend_from_slice(property.as_bytes());
            out.extend_from_slice(b"\":");
            encode_string(v, false, out);
            out.push(b'}');
        }
    }
}

/// Appends the reply replacing the message by the mask marker.
pub(super) fn mask_reply(input: RsyslogInput, out: &mut Vec<u8>) {
    let marker = MASK_TEXT.as_bytes().to_vec();
    match input {
        RsyslogInput::Msg => property_reply("msg", Some(&marker), out),
        RsyslogInput::Rawmsg => property_reply("rawmsg", Some(&marker), out),
        RsyslogInput::Fulljson => {
            out.extend_from_slice(b"{\"msg\":");
            encode_string(&marker, false, out);
            out.extend_from_slice(b",\"rawmsg\":");
            encode_string(&marker, false, out);
            out.push(b'}');
        }
    }
}

impl LineScrubber<'_> {
    /// One mmexternal request.
    pub(super) fn rsyslog(&mut self, line: &[u8], out: &mut Vec<u8>) -> Outcome {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let property = match self.cfg.rsyslog_input {
            RsyslogInput::Fulljson => return self.fulljson(line, out),
            RsyslogInput::Msg => "msg",
            RsyslogInput::Rawmsg => "rawmsg",
        };
        let bad = std::str::from_utf8(line).err().map(|e| Unparsed::Utf8 {
            at: e.valid_up_to(),
        });
        if let Some(why) = bad {
            if self.cfg.on_error != super::OnError::Pass {
                return self.unparsed(why, line, out);
            }
        }
        let changed = self.text_into_scratch(line);
        property_reply(property, changed.then_some(&self.scratch), out);
        match bad {
            Some(why) => Outcome::Unparsed(why),
            None if changed => Outcome::Changed,
            None => Outcome::Unchanged,
        }
    }

    fn fulljson(&mut self, line: &[u8], out: &mut Vec<u8>) -> Outcome {
        if line.trim_ascii_start().first() != Some(&b'{') {
            let why = match self.json(line) {
                Err(why) => why,
                Ok(_) => Unparsed::NotObject,
            };
            return self.unparsed(why, line, out);
        }
        match self.json(line) {
            Ok(false) => {
                out.extend_from_slice(b"{}");
                Outcome::Unchanged
            }
            Ok(true) => match changed_properties(line, self.json.out()) {
                Some(reply) => {
                    // Serializing a map of parsed values cannot fail.
                    let _ = serde_json::to_writer(&mut *out, &reply);
                    Outcome::Changed
                }
                None => {
                    self.mask(out);
                    Outcome::Unparsed(Unparsed::Internal)
                }
            },
            // rsyslog copies bytes that are not UTF-8 into the JSON it sends; such a message
            // is read with U+FFFD in their place, rather than losing the whole message object.
            Err(why @ Unparsed::Json { what, .. })
                if what == "invalid UTF-8 in a string"
                    && self.cfg.on_error == super::OnError::Pass =>
            {
                let lossy = String::from_utf8_lossy(line).into_owned();
                match self.json(lossy.as_bytes()) {
                    Ok(true) => match changed_properties(lossy.as_bytes(), self.json.out()) {
                        Some(reply) => {
                            let _ = serde_json::to_writer(&mut *out, &reply);
                        }
                        None => self.mask(out),
                    },
                    Ok(false) => out.extend_from_slice(b"{}"),
                    Err(_) => self.mask(out),
                }
                Outcome::Unparsed(why)
            }
            Err(why) => self.unparsed(why, line, out),
        }
    }
}

/// The top-level members of `new` that differ from `old` (both JSON objects), or `None` should
/// either not parse as one (nesting deeper than serde_json reads).
fn changed_properties(old: &[u8], new: &[u8]) -> Option<Map<String, Value>> {
    let old: Map<String, Value> = serde_json::from_slice(old).ok()?;
    let new: Map<String, Value> = serde_json::from_slice(new).ok()?;
    Some(
        new.into_iter()
            .filter(|(k, v)| old.get(k) != Some(v))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::{Config, FilterFormat, OnError};
    use super::*;
    use crate::classify::ColumnRules;
    use crate::pipeline::{Engine, EntityFilter};
    use crate::policy::Policy;
    use crate::transform::Transformer;

    fn reply(input: RsyslogInput, fields: &[&str], line: &[u8]) -> (Value, Outcome) {
        let engine = Engine {
            detector: crate::detect::builtin().unwrap(),
            transformer: Transformer::new(Policy::defaults(false), None),
            filter: EntityFilter::default(),
            min_score: 0.5,
        };
        let columns = ColumnRules::builtin().unwrap();
        let cfg = Config {
            format: FilterFormat::Rsyslog,
            on_error: OnError::Pass,
            fields: fields.iter().map(|s| s.to_string()).collect(),
            rsyslog_input: input,
            ..Config::default()
        };
        let mut s = LineScrubber::new(&engine, &columns, &cfg);
        let mut out = Vec::new();
        let o = s.scrub_line(line, &mut out);
        assert!(!out.contains(&b'\n'));
        (serde_json::from_slice(&out).unwrap(), o)
    }

    #[test]
    fn replies_carry_only_changed_properties() {
        use serde_json::json;
        let req = br#"{"msg":"call (312) 447-2291","rawmsg":"<13>1 - h app - - - call (312) 447-2291","hostname":"host1","structured-data":"-","$!":{"user":{"email":"jane.roe@mercy-health.org"},"n":3}}"#;
        let (r, o) = reply(RsyslogInput::Fulljson, &[], req);
        assert_eq!(o, Outcome::Changed);
        assert_eq!(
            r,
            json!({"msg": "call [PHONE]", "rawmsg": "<13>1 - h app - - - call [PHONE]",
                   "$!": {"user": {"email": "[EMAIL]"}, "n": 3}})
        );
        let (r, _) = reply(RsyslogInput::Fulljson, &["msg"], req);
        assert_eq!(r, json!({"msg": "call [PHONE]"}));
        let (r, o) = reply(
            RsyslogInput::Fulljson,
            &[],
            br#"{"msg":"ok","hostname":"(312) 447-2291"}"#,
        );
        assert_eq!(
            (r, o),
            (json!({}), Outcome::Unchanged),
            "hostname is not scrubbed"
        );
        let (r, _) = reply(RsyslogInput::Msg, &[], b"call (312) 447-2291 \"now\"");
        assert_eq!(r, json!({"msg": "call [PHONE] \"now\""}));
        let (r, _) = reply(
            RsyslogInput::Rawmsg,
            &[],
            b"<13>1 - h a - - - call (312) 447-2291",
        );
        assert_eq!(r, json!({"rawmsg": "<13>1 - h a - - - call [PHONE]"}));
        let (r, o) = reply(RsyslogInput::Msg, &[], b"quiet");
        assert_eq!((r, o), (json!({}), Outcome::Unchanged));
        // bytes that are not UTF-8 inside the object: read with U+FFFD, still scrubbed
        let (r, o) = reply(
            RsyslogInput::Fulljson,
            &[],
            b"{\"msg\":\"call (312) 447-2291 \xff\"}",
        );
        assert_eq!(r, json!({"msg": "call [PHONE] \u{FFFD}"}));
        assert!(matches!(o, Outcome::Unparsed(Unparsed::Json { .. })));
    }
}
