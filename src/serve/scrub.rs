//! The blocking part of a request: a body through the same code `phiscrub scrub` runs, so a
//! value gets the same token over HTTP as on the command line. Text goes through
//! [`pipeline::run`], NDJSON and JSON arrays through [`jsonl::run`] (key paths as context, the
//! batch itself as the classifier's sample), and single string values (OTLP bodies and
//! attributes) through [`Cells`] with their attribute key as the field name.

use std::collections::HashMap;
use std::sync::Arc;

use crate::classify::{ColumnClass, ColumnRules};
use crate::entity::Entity;
use crate::formats::{cells::Cells, jsonl};
use crate::pipeline::{self, Engine, Located, Mode, PipelineError, RunOptions};

/// Findings by [`Entity::index`].
pub type Counts = [u64; Entity::ALL.len()];

/// How a `/v1/scrub` body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// Lines of text; any bytes.
    Text,
    /// One JSON value per line.
    Ndjson,
    /// One JSON document (a top-level array is a batch of events).
    Json,
    /// `application/json` not starting with `[`: one document, or NDJSON if it is not one.
    JsonOrNdjson,
}

impl BodyKind {
    /// From the request's `Content-Type` (parameters ignored) and, where that says nothing
    /// useful, the first byte that is not white space.
    pub fn of(content_type: Option<&str>, body: &[u8]) -> BodyKind {
        let mime = content_type
            .and_then(|c| c.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase());
        let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
        let sniff = || match first {
            Some(b'[') => BodyKind::Json,
            Some(b'{') => BodyKind::JsonOrNdjson,
            _ => BodyKind::Text,
        };
        match mime.as_deref() {
            Some(
                "application/x-ndjson"
                | "application/ndjson"
                | "application/jsonl"
                | "application/x-jsonlines"
                | "application/jsonlines",
            ) => BodyKind::Ndjson,
            Some("application/json") => match first {
                Some(b'[') => BodyKind::Json,
                _ => BodyKind::JsonOrNdjson,
            },
            Some(m) if m.starts_with("text/") => BodyKind::Text,
            _ => sniff(),
        }
    }
}

/// Why a `Content-Encoding` could not be undone. Never holds data.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("Content-Encoding {0} is not supported (gzip, zstd, identity)")]
    Unsupported(String),
    #[error("the body decompresses to more than the limit of {0} bytes (--max-body)")]
    TooLarge(usize),
    #[error("the {0} body is corrupt")]
    Corrupt(&'static str),
}

/// The body with its `Content-Encoding` (gzip or zstd, as the Collector's `otlphttp`, Vector
/// and Fluent Bit send it) undone, at most `max` bytes, so a small compressed bomb is refused
/// like a large body.
///
/// # Errors
/// An unknown encoding, a corrupt stream, or more than `max` bytes.
pub fn decode<'b>(
    encoding: Option<&str>,
    body: &'b [u8],
    max: usize,
) -> Result<std::borrow::Cow<'b, [u8]>, DecodeError> {
    use std::io::Read;
    let enc = encoding.map(|e| e.trim().to_ascii_lowercase());
    let (mut reader, name): (Box<dyn Read + 'b>, &'static str) = match enc.as_deref() {
        None | Some("" | "identity") => return Ok(std::borrow::Cow::Borrowed(body)),
        Some("gzip" | "x-gzip") => (Box::new(flate2::read::MultiGzDecoder::new(body)), "gzip"),
        Some("zstd") => (
            Box::new(
                zstd::stream::read::Decoder::new(body).map_err(|_| DecodeError::Corrupt("zstd"))?,
            ),
            "zstd",
        ),
        Some(other) => {
            // Only a known token is echoed; anything else could be arbitrary text.
            let shown = if other.len() <= 16
                && other
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                other.to_string()
            } else {
                "given".to_string()
            };
            return Err(DecodeError::Unsupported(shown));
        }
    };
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max));
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    (&mut reader)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|_| DecodeError::Corrupt(name))?;
    if out.len() > max {
        return Err(DecodeError::TooLarge(max));
    }
    Ok(std::borrow::Cow::Owned(out))
}

fn opts() -> RunOptions<'static> {
    RunOptions {
        mode: Mode::Scrub,
        threads: 1,
        positions: false,
        tally: false,
        ..RunOptions::default()
    }
}

fn count(counts: &mut Counts) -> impl FnMut(&Located) -> std::io::Result<()> + '_ {
    |l| {
        counts[l.entity.index()] += 1;
        Ok(())
    }
}

/// Scrubs a `/v1/scrub` body; `subject_column` keys each JSON event's date shift, as
/// `--subject-column` does for `phiscrub scrub`.
///
/// # Errors
/// Malformed JSON, with its line and byte (never the data).
pub fn body(
    engine: &Engine,
    columns: &ColumnRules,
    kind: BodyKind,
    body: &[u8],
    subject_column: Option<&str>,
    counts: &mut Counts,
) -> Result<Vec<u8>, PipelineError> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 8);
    let json_opts = RunOptions {
        subject_column,
        ..opts()
    };
    match kind {
        BodyKind::Text => {
            pipeline::run(
                engine,
                &mut &body[..],
                Some(&mut out),
                opts(),
                count(counts),
            )?;
        }
        BodyKind::Ndjson | BodyKind::Json => {
            let doc = kind == BodyKind::Json;
            jsonl::run(
                engine,
                columns,
                &mut &body[..],
                Some(&mut out),
                doc,
                &json_opts,
                &mut count(counts),
            )?;
        }
        BodyKind::JsonOrNdjson => {
            let mut c = [0; Entity::ALL.len()];
            let doc = jsonl::run(
                engine,
                columns,
                &mut &body[..],
                Some(&mut out),
                true,
                &json_opts,
                &mut count(&mut c),
            );
            match doc {
                Ok(_) => add(counts, &c),
                Err(doc_err) => {
                    out.clear();
                    let lines = jsonl::run(
                        engine,
                        columns,
                        &mut &body[..],
                        Some(&mut out),
                        false,
                        &json_opts,
                        &mut count(counts),
                    );
                    // A body that is neither is reported as the document it claimed to be.
                    lines.map_err(|_| doc_err)?;
                }
            }
        }
    }
    Ok(out)
}

fn add(counts: &mut Counts, more: &Counts) {
    for (a, b) in counts.iter_mut().zip(more) {
        *a += b;
    }
}

/// Scans text for `/analyze`: findings with character offsets.
///
/// # Errors
/// Only internal ones (the input is in memory).
pub fn analyze(
    engine: &Engine,
    text: &str,
    counts: &mut Counts,
) -> Result<Vec<Located>, PipelineError> {
    let mut found = Vec::new();
    let o = RunOptions {
        mode: Mode::Scan,
        char_offsets: true,
        ..opts()
    };
    pipeline::run::<_, Vec<u8>, _>(engine, &mut text.as_bytes(), None, o, |l| {
        counts[l.entity.index()] += 1;
        found.push(l.clone());
        Ok(())
    })?;
    Ok(found)
}

/// Scrubs single string values named by a field (an OTLP attribute key), classifying each
/// field name once per request.
pub struct Fields<'e> {
    cells: Cells<'e>,
    columns: &'e ColumnRules,
    classes: HashMap<String, (Option<Arc<str>>, ColumnClass)>,
    pub counts: Counts,
}

impl<'e> Fields<'e> {
    pub fn new(engine: &'e Engine, columns: &'e ColumnRules) -> Fields<'e> {
        Fields {
            cells: Cells::new(engine),
            columns,
            classes: HashMap::new(),
            counts: [0; Entity::ALL.len()],
        }
    }

    /// The scrubbed value, or `None` when nothing in it changed. `field` is empty for a value
    /// with no name (a log body), which is scanned as free text; so is every value when
    /// `by_name` is false (a key that names no person, such as `service.name`). `by_name` must
    /// be the same for every call with one `field`.
    ///
    /// # Errors
    /// Only internal ones.
    pub fn scrub(
        &mut self,
        field: &str,
        value: &[u8],
        by_name: bool,
    ) -> Result<Option<&[u8]>, PipelineError> {
        if !self.classes.contains_key(field) {
            let class = if by_name {
                self.cells.classify(self.columns, field, &[])
            } else {
                ColumnClass::scanned(field)
            };
            let name = (!field.is_empty()).then(|| Arc::from(field));
            self.classes.insert(field.to_string(), (name, class));
        }
        let Some((name, class)) = self.classes.get(field) else {
            return Ok(None);
        };
        let place = |p: usize| (p as u64, 1, p as u64 + 1);
        let counts = &mut self.counts;
        let hit = self.cells.cell(
            value,
            class,
            name.as_ref(),
            1,
            &place,
            &opts(),
            true,
            &mut count(counts),
        )?;
        Ok(hit.then_some(self.cells.value.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_decompressed_within_the_limit() {
        use std::io::Write;
        let plain = b"ssn 536-22-8726\n".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&plain[..], 1).unwrap();
        assert_eq!(decode(None, &plain, 10).unwrap().as_ref(), &plain[..]);
        assert_eq!(
            decode(Some("identity"), &plain, 10).unwrap().as_ref(),
            &plain[..]
        );
        assert_eq!(
            decode(Some("gzip"), &gz, plain.len()).unwrap().as_ref(),
            &plain[..]
        );
        assert_eq!(
            decode(Some("ZSTD"), &zst, plain.len()).unwrap().as_ref(),
            &plain[..]
        );
        for (enc, body) in [("gzip", &gz), ("zstd", &zst)] {
            let e = decode(Some(enc), body, plain.len() - 1).unwrap_err();
            assert!(matches!(e, DecodeError::TooLarge(_)), "{enc}: {e}");
            let e = decode(Some(enc), &body[..body.len() / 2], plain.len()).unwrap_err();
            assert!(matches!(e, DecodeError::Corrupt(_)), "{enc}: {e}");
        }
        assert!(matches!(
            decode(Some("br"), &gz, 1 << 20),
            Err(DecodeError::Unsupported(_))
        ));
        let e = decode(Some("536-22-8726 \"x\""), &gz, 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("536"), "{e}");
    }

    #[test]
    fn body_kind_from_type_and_content() {
        use BodyKind::*;
        for (ct, body, want) in [
            (Some("application/x-ndjson"), &b"[1]"[..], Ndjson),
            (
                Some("application/json; charset=utf-8"),
                b" [{\"a\":1}]",
                Json,
            ),
            (
                Some("application/json"),
                b"{\"a\":1}\n{\"a\":2}",
                JsonOrNdjson,
            ),
            (Some("text/plain"), b"[not json", Text),
            (Some("TEXT/PLAIN; charset=utf-8"), b"{", Text),
            (None, b"\n[1,2]", Json),
            (None, b"{\"a\":1}", JsonOrNdjson),
            (None, b"plain words", Text),
            (Some("application/octet-stream"), b"plain", Text),
        ] {
            assert_eq!(BodyKind::of(ct, body), want, "{ct:?}");
        }
    }
}
