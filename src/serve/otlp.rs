//! OTLP/HTTP logs (`ExportLogsServiceRequest`), in both encodings the spec allows: scrubs log
//! bodies and every string attribute value (log record, resource and scope attributes, and
//! strings nested in array and key-value-list values), each named by its attribute key path
//! (`http.request.user` for a kvlist inside `http.request`; a body string has no name).
//!
//! Protobuf is walked on the wire, not decoded into structs: every field outside those paths,
//! including fields newer than this code knows, is copied byte for byte, and only messages
//! that contain a changed string are re-encoded (their length prefixes recomputed). The
//! message numbers are those of `opentelemetry/proto/{collector/logs/v1/logs_service,
//! logs/v1/logs,common/v1/common,resource/v1/resource}.proto`.
//!
//! JSON follows the OTLP/JSON mapping (lowerCamelCase keys; the snake_case spelling protobuf
//! JSON parsers also accept is read too). An unchanged request is passed on byte for byte.

use hyper::header::HeaderValue;
use hyper::StatusCode;
use serde_json::{Map, Value};

use super::routes::{Done, Reply};
use super::scrub::Fields;
use crate::classify::ColumnRules;
use crate::pipeline::{Engine, PipelineError};

/// Why a request could not be scrubbed. Messages hold positions only.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("malformed protobuf at byte {0}")]
    Protobuf(usize),
    #[error("protobuf nested deeper than {MAX_DEPTH} messages")]
    TooDeep,
    #[error("malformed JSON at line {line} column {column}")]
    Json { line: usize, column: usize },
    #[error(transparent)]
    Scrub(#[from] PipelineError),
}

/// Attribute keys whose values are scanned as text rather than classified by the key's name
/// (`patterns/otlp.toml`).
#[derive(Debug, Clone)]
pub struct TextKeys {
    namespaces: Vec<String>,
    keys: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TextKeysFile {
    scanned: Vec<String>,
}

impl TextKeys {
    /// The list compiled into the binary (a unit test parses it).
    pub fn builtin() -> TextKeys {
        let f: TextKeysFile = toml::from_str(include_str!("../../patterns/otlp.toml"))
            .unwrap_or_else(|e| panic!("patterns/otlp.toml: {e}"));
        let (namespaces, keys) = f.scanned.into_iter().partition(|k| k.ends_with('.'));
        TextKeys { namespaces, keys }
    }

    /// Whether a key's value is classified by the key's name.
    pub fn by_name(&self, key: &str) -> bool {
        !(self.keys.iter().any(|k| k == key)
            || self.namespaces.iter().any(|n| key.starts_with(n.as_str())))
    }
}

/// Nesting limit, so a hostile message cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Scrubs one request body; the reply keeps the request's content type.
pub(super) fn handle(
    engine: &Engine,
    columns: &ColumnRules,
    keys: &TextKeys,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Done, Reply> {
    let mime = content_type
        .and_then(|c| c.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    let json = match mime.as_deref() {
        Some("application/json") => true,
        Some("application/x-protobuf" | "application/protobuf") => false,
        _ => {
            return Err(Reply::error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "OTLP/HTTP takes application/x-protobuf or application/json",
            ))
        }
    };
    let mut fields = Fields::new(engine, columns);
    let out = if json {
        scrub_json(body, &mut fields, keys)
    } else {
        scrub_protobuf(body, &mut fields, keys)
    }
    .map_err(|e| Reply::error(StatusCode::BAD_REQUEST, &e.to_string()))?;
    let ct = if json {
        "application/json"
    } else {
        "application/x-protobuf"
    };
    Ok(Done {
        body: out,
        content_type: HeaderValue::from_static(ct),
        counts: fields.counts,
    })
}

/// The protobuf messages on the scrubbed paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Msg {
    Request,
    ResourceLogs,
    Resource,
    ScopeLogs,
    Scope,
    LogRecord,
    KeyValue,
    AnyValue,
    ArrayValue,
    KvList,
}

/// The sub-message in field `n` of `m`, where it leads to scrubbed strings.
fn child(m: Msg, n: u64) -> Option<Msg> {
    use Msg::*;
    Some(match (m, n) {
        (Request, 1) => ResourceLogs,
        (ResourceLogs, 1) => Resource,
        (ResourceLogs, 2) => ScopeLogs,
        (Resource, 1) => KeyValue,
        (ScopeLogs, 1) => Scope,
        (ScopeLogs, 2) => LogRecord,
        (Scope, 3) => KeyValue,
        (LogRecord, 5) => AnyValue,
        (LogRecord, 6) => KeyValue,
        (KeyValue, 2) => AnyValue,
        (AnyValue, 5) => ArrayValue,
        (AnyValue, 6) => KvList,
        (ArrayValue, 1) => AnyValue,
        (KvList, 1) => KeyValue,
        _ => return None,
    })
}

/// `AnyValue.string_value`.
const STRING_VALUE: u64 = 1;
/// `KeyValue.key`.
const KEY: u64 = 1;

/// Scrubs an `ExportLogsServiceRequest` in protobuf.
///
/// # Errors
/// Bad wire format (with its byte offset), or nesting over [`MAX_DEPTH`].
pub fn scrub_protobuf(
    body: &[u8],
    fields: &mut Fields<'_>,
    keys: &TextKeys,
) -> Result<Vec<u8>, OtlpError> {
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut w = Walker { fields, keys };
    let changed = w.walk(body, 0, Msg::Request, "", &mut out, 0)?;
    if !changed {
        out.clear();
        out.extend_from_slice(body);
    }
    Ok(out)
}

struct Wire<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl Wire<'_> {
    fn varint(&mut self) -> Result<u64, OtlpError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or(OtlpError::Protobuf(self.base + self.pos))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(OtlpError::Protobuf(self.base + self.pos))
    }

    fn skip(&mut self, n: u64) -> Result<std::ops::Range<usize>, OtlpError> {
        let start = self.pos;
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| start.checked_add(n))
            .filter(|&e| e <= self.buf.len())
            .ok_or(OtlpError::Protobuf(self.base + start))?;
        self.pos = end;
        Ok(start..end)
    }

    /// The next field.
    fn field(&mut self) -> Result<Field, OtlpError> {
        let start = self.pos;
        let tag = self.varint()?;
        let tag_end = self.pos;
        let (num, wt) = (tag >> 3, (tag & 7) as u8);
        let payload = match wt {
            0 => {
                self.varint()?;
                None
            }
            1 => {
                self.skip(8)?;
                None
            }
            5 => {
                self.skip(4)?;
                None
            }
            2 => {
                let n = self.varint()?;
                Some(self.skip(n)?)
            }
            _ => return Err(OtlpError::Protobuf(self.base + start)),
        };
        if num == 0 {
            return Err(OtlpError::Protobuf(self.base + start));
        }
        Ok(Field {
            num,
            wt,
            whole: start..self.pos,
            tag: start..tag_end,
            payload,
        })
    }
}

/// One field on the wire: number, wire type, its bytes (tag included), the tag's bytes as
/// written, and for length-delimited fields the payload.
struct Field {
    num: u64,
    wt: u8,
    whole: std::ops::Range<usize>,
    tag: std::ops::Range<usize>,
    payload: Option<std::ops::Range<usize>>,
}

fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Walker<'f, 'e> {
    fields: &'f mut Fields<'e>,
    keys: &'f TextKeys,
}

impl Walker<'_, '_> {
    /// Re-encodes message `m` (the bytes `buf`, at `base` in the request) into `out`; returns
    /// whether any string in it changed.
    fn walk(
        &mut self,
        buf: &[u8],
        base: usize,
        m: Msg,
        path: &str,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<bool, OtlpError> {
        if depth > MAX_DEPTH {
            return Err(OtlpError::TooDeep);
        }
        // A key-value pair names its value: find the key first, wherever it is encoded.
        let mut keyed = String::new();
        let path = if m == Msg::KeyValue {
            let mut w = Wire { buf, pos: 0, base };
            while w.pos < buf.len() {
                if let Field {
                    num: KEY,
                    wt: 2,
                    payload: Some(p),
                    ..
                } = w.field()?
                {
                    keyed.clear();
                    if !path.is_empty() {
                        keyed.push_str(path);
                        keyed.push('.');
                    }
                    keyed.push_str(&String::from_utf8_lossy(&buf[p]));
                }
            }
            keyed.as_str()
        } else {
            path
        };
        let mut w = Wire { buf, pos: 0, base };
        let mut changed = false;
        let mut sub = Vec::new();
        while w.pos < buf.len() {
            let Field {
                num,
                whole,
                tag,
                payload,
                ..
            } = w.field()?;
            let tag = &buf[tag];
            match (payload, child(m, num)) {
                (Some(p), Some(c)) => {
                    sub.clear();
                    if self.walk(
                        &buf[p.clone()],
                        base + p.start,
                        c,
                        path,
                        &mut sub,
                        depth + 1,
                    )? {
                        out.extend_from_slice(tag);
                        put_varint(sub.len() as u64, out);
                        out.extend_from_slice(&sub);
                        changed = true;
                        continue;
                    }
                }
                (Some(p), None) if m == Msg::AnyValue && num == STRING_VALUE => {
                    let by_name = self.keys.by_name(path);
                    if let Some(new) = self.fields.scrub(path, &buf[p], by_name)? {
                        out.extend_from_slice(tag);
                        put_varint(new.len() as u64, out);
                        out.extend_from_slice(new);
                        changed = true;
                        continue;
                    }
                }
                _ => {}
            }
            out.extend_from_slice(&buf[whole]);
        }
        Ok(changed)
    }
}

/// Scrubs an `ExportLogsServiceRequest` in OTLP/JSON.
///
/// # Errors
/// Malformed JSON (line and column only: serde's own messages can quote the input).
pub fn scrub_json(
    body: &[u8],
    fields: &mut Fields<'_>,
    keys: &TextKeys,
) -> Result<Vec<u8>, OtlpError> {
    let mut v: Value = serde_json::from_slice(body).map_err(|e| OtlpError::Json {
        line: e.line(),
        column: e.column(),
    })?;
    let mut changed = false;
    let mut j = Json {
        fields,
        keys,
        changed: &mut changed,
    };
    for rl in array(&mut v, "resourceLogs", "resource_logs") {
        if let Some(Value::Object(r)) = rl.as_object_mut().and_then(|o| o.get_mut("resource")) {
            j.kvs(r, "")?;
        }
        for sl in array(rl, "scopeLogs", "scope_logs") {
            if let Some(Value::Object(s)) = sl.as_object_mut().and_then(|o| o.get_mut("scope")) {
                j.kvs(s, "")?;
            }
            for lr in array(sl, "logRecords", "log_records") {
                let Some(o) = lr.as_object_mut() else {
                    continue;
                };
                if let Some(b) = o.get_mut("body") {
                    j.any(b, "", 0)?;
                }
                j.kvs(o, "")?;
            }
        }
    }
    if !changed {
        return Ok(body.to_vec());
    }
    serde_json::to_vec(&v).map_err(|e| OtlpError::Json {
        line: e.line(),
        column: e.column(),
    })
}

/// The array under `a` (or its other spelling `b`) of object `v`; empty when absent.
fn array<'v>(v: &'v mut Value, a: &str, b: &str) -> std::slice::IterMut<'v, Value> {
    let arr = v
        .as_object_mut()
        .and_then(|o| pick(o, a, b))
        .and_then(Value::as_array_mut);
    match arr {
        Some(arr) => arr.iter_mut(),
        None => [].iter_mut(),
    }
}

fn pick<'m>(o: &'m mut Map<String, Value>, a: &str, b: &str) -> Option<&'m mut Value> {
    if o.contains_key(a) {
        o.get_mut(a)
    } else {
        o.get_mut(b)
    }
}

struct Json<'f, 'e> {
    fields: &'f mut Fields<'e>,
    keys: &'f TextKeys,
    changed: &'f mut bool,
}

impl Json<'_, '_> {
    /// The `attributes` (or kvlist `values`) of `o`, each value named `path.key`.
    fn kvs(&mut self, o: &mut Map<String, Value>, path: &str) -> Result<(), OtlpError> {
        self.kvs_in(o, "attributes", path, 0)
    }

    fn kvs_in(
        &mut self,
        o: &mut Map<String, Value>,
        list: &str,
        path: &str,
        depth: usize,
    ) -> Result<(), OtlpError> {
        let Some(Value::Array(kvs)) = o.get_mut(list) else {
            return Ok(());
        };
        for kv in kvs {
            let Some(kv) = kv.as_object_mut() else {
                continue;
            };
            let key = kv.get("key").and_then(Value::as_str).unwrap_or("");
            let name = if path.is_empty() {
                key.to_string()
            } else {
                format!("{path}.{key}")
            };
            if let Some(v) = kv.get_mut("value") {
                self.any(v, &name, depth + 1)?;
            }
        }
        Ok(())
    }

    fn any(&mut self, v: &mut Value, path: &str, depth: usize) -> Result<(), OtlpError> {
        if depth > MAX_DEPTH {
            return Err(OtlpError::TooDeep);
        }
        let Some(o) = v.as_object_mut() else {
            return Ok(());
        };
        if let Some(Value::String(s)) = pick(o, "stringValue", "string_value") {
            let by_name = self.keys.by_name(path);
            if let Some(new) = self.fields.scrub(path, s.as_bytes(), by_name)? {
                *s = String::from_utf8_lossy(new).into_owned();
                *self.changed = true;
            }
        }
        if let Some(Value::Object(a)) = pick(o, "arrayValue", "array_value") {
            if let Some(Value::Array(items)) = a.get_mut("values") {
                for x in items {
                    self.any(x, path, depth + 1)?;
                }
            }
        }
        if let Some(Value::Object(kv)) = pick(o, "kvlistValue", "kvlist_value") {
            self.kvs_in(kv, "values", path, depth + 1)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::EntityFilter;
    use crate::policy::Policy;
    use crate::transform::Transformer;

    fn engine() -> Engine {
        Engine {
            detector: crate::detect::builtin().unwrap(),
            transformer: Transformer::new(Policy::defaults(false), None),
            filter: EntityFilter::default(),
            min_score: 0.5,
        }
    }

    fn pb_len(num: u64, payload: &[u8]) -> Vec<u8> {
        let mut o = Vec::new();
        put_varint((num << 3) | 2, &mut o);
        put_varint(payload.len() as u64, &mut o);
        o.extend_from_slice(payload);
        o
    }

    fn kv(key: &str, value: &[u8]) -> Vec<u8> {
        [pb_len(1, key.as_bytes()), pb_len(2, value)].concat()
    }

    fn string(s: &str) -> Vec<u8> {
        pb_len(STRING_VALUE, s.as_bytes())
    }

    /// A request with one record: body, a string attribute, a kvlist attribute, an array
    /// attribute, an int attribute, plus fields the walker must copy untouched.
    fn request(body: &str, ssn: &str, email: &str, phone: &str) -> Vec<u8> {
        let kvlist = pb_len(6, &pb_len(1, &kv("email", &string(email))));
        let array = pb_len(5, &pb_len(1, &string(phone)));
        let mut record = Vec::new();
        record.extend_from_slice(&[0x09, 1, 2, 3, 4, 5, 6, 7, 8]); // time_unix_nano, fixed64
        record.extend_from_slice(&[0x10, 9]); // severity_number
        record.extend(pb_len(3, b"INFO"));
        record.extend(pb_len(5, &string(body)));
        record.extend(pb_len(6, &kv("patient.ssn", &string(ssn))));
        record.extend(pb_len(6, &kv("user", &kvlist)));
        record.extend(pb_len(6, &kv("phones", &array)));
        record.extend(pb_len(6, &kv("count", &[0x18, 42])));
        record.extend(pb_len(9, &[0xab; 16])); // trace_id
        record.extend(pb_len(99, b"a field from the future"));
        let scope_logs = [pb_len(1, &pb_len(1, b"my.scope")), pb_len(2, &record)].concat();
        let resource = pb_len(1, &kv("service.name", &string("billing")));
        let rl = [
            pb_len(1, &resource),
            pb_len(2, &scope_logs),
            pb_len(3, b"https://schema"),
        ]
        .concat();
        pb_len(1, &rl)
    }

    #[test]
    fn protobuf_strings_are_scrubbed_and_the_rest_kept() {
        let e = engine();
        let cols = ColumnRules::builtin().unwrap();
        let planted = [
            "jane.roe@mercy-health.org",
            "536-22-8726",
            "ann.lee@example-clinic.com",
            "(312) 447-2291",
        ];
        let input = request(
            &format!("login by {} ok", planted[0]),
            planted[1],
            planted[2],
            planted[3],
        );
        let mut f = Fields::new(&e, &cols);
        let out = scrub_protobuf(&input, &mut f, &TextKeys::builtin()).unwrap();
        let want = request("login by [EMAIL] ok", "[SSN]", "[EMAIL]", "[PHONE]");
        assert_eq!(
            out, want,
            "only the strings change; every other byte is kept"
        );
        assert_eq!(f.counts.iter().sum::<u64>(), 4);
        // Nothing to change: the same bytes back.
        let clean = request("all good", "", "", "none");
        let mut f = Fields::new(&e, &cols);
        assert_eq!(
            scrub_protobuf(&clean, &mut f, &TextKeys::builtin()).unwrap(),
            clean
        );
    }

    #[test]
    fn infrastructure_keys_are_scanned_not_classified_by_name() {
        let k = TextKeys::builtin();
        for (key, by_name) in [
            ("service.name", false),
            ("k8s.pod.name", false),
            ("host.name", false),
            ("logger.name", false),
            ("user.name", true),
            ("patient.name", true),
            ("servicename", true),
            ("device.id", true),
            ("", true),
        ] {
            assert_eq!(k.by_name(key), by_name, "{key}");
        }
        let e = engine();
        let cols = ColumnRules::builtin().unwrap();
        let mut f = Fields::new(&e, &cols);
        assert_eq!(f.scrub("service.name", b"billing", false).unwrap(), None);
        assert_eq!(
            f.scrub("service.name", b"billing 536-22-8726", false)
                .unwrap(),
            Some(&b"billing [SSN]"[..])
        );
        assert_eq!(
            f.scrub("user.name", b"billing", true).unwrap(),
            Some(&b"[NAME]"[..])
        );
    }

    #[test]
    fn malformed_protobuf_names_a_byte_and_never_data() {
        let e = engine();
        let cols = ColumnRules::builtin().unwrap();
        let good = request("ssn 536-22-8726", "x", "y", "z");
        for cut in [1, 5, good.len() / 2, good.len() - 1] {
            let mut f = Fields::new(&e, &cols);
            let err = scrub_protobuf(&good[..cut], &mut f, &TextKeys::builtin())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("malformed protobuf at byte "), "{err}");
            assert!(!err.contains("536"), "{err}");
        }
        // Group wire types and field number 0 are refused.
        for bad in [&[0x0b][..], &[0x02, 0x00]] {
            let mut f = Fields::new(&e, &cols);
            assert!(scrub_protobuf(bad, &mut f, &TextKeys::builtin()).is_err());
        }
    }

    #[test]
    fn json_strings_are_scrubbed_in_both_spellings() {
        let e = engine();
        let cols = ColumnRules::builtin().unwrap();
        let input = serde_json::json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "host.ip", "value": {"stringValue": "73.162.14.9"}}]},
        "scopeLogs": [{"scope": {"name": "s"}, "logRecords": [{
            "timeUnixNano": "1700000000000000000",
            "body": {"stringValue": "mail jane.roe@mercy-health.org"},
            "attributes": [
                {"key": "ssn", "value": {"stringValue": "536-22-8726"}},
                {"key": "n", "value": {"intValue": "536228726"}},
                {"key": "u", "value": {"kvlistValue": {"values": [
                    {"key": "phone", "value": {"string_value": "(312) 447-2291"}}]}}},
                {"key": "a", "value": {"arrayValue": {"values": [{"stringValue": "536-22-8726"}]}}}
            ]}]}]}]});
        let mut f = Fields::new(&e, &cols);
        let out = scrub_json(input.to_string().as_bytes(), &mut f, &TextKeys::builtin()).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        let lr = &v["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
        assert_eq!(lr["body"]["stringValue"], "mail [EMAIL]");
        assert_eq!(lr["attributes"][0]["value"]["stringValue"], "[SSN]");
        assert_eq!(lr["attributes"][1]["value"]["intValue"], "536228726");
        assert_eq!(
            lr["attributes"][2]["value"]["kvlistValue"]["values"][0]["value"]["string_value"],
            "[PHONE]"
        );
        assert_eq!(
            lr["attributes"][3]["value"]["arrayValue"]["values"][0]["stringValue"],
            "[SSN]"
        );
        assert_eq!(
            v["resourceLogs"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "[IP_ADDRESS]"
        );
        assert_eq!(lr["timeUnixNano"], "1700000000000000000");
        let mut f = Fields::new(&e, &cols);
        let err = scrub_json(
            b"{\"resourceLogs\": [\"536-22-8726\"",
            &mut f,
            &TextKeys::builtin(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("malformed JSON at line 1"), "{err}");
    }
}
