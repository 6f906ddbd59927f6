//! The secret key behind every keyed transform, and the only place that touches its bytes.
//!
//! A key is at least 32 random bytes, given as hex or base64 in a file (`--key-file`) or in
//! `PHISCRUB_KEY`. Its *id* (a hash of the key, not the key) is safe to print: it lets a user
//! tell which key made a token without revealing anything that helps reverse one.

use std::path::Path;

use base64::Engine as _;
use ring::{digest, hmac, rand::SecureRandom};

use crate::transform::midstate::{PadStates, MAX_MESSAGE};

/// A loaded key. `Debug` shows only the id.
#[derive(Clone)]
pub struct Key {
    mac: hmac::Key,
    /// The same key's pad states, for the short messages of nearly every call.
    pads: PadStates,
    id: String,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key(id={})", self.id)
    }
}

/// Why a key could not be loaded. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key is neither hex nor base64")]
    Encoding,
    #[error("key is {0} bytes; at least 32 are needed (make one with `phiscrub keygen`)")]
    TooShort(usize),
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no secure random source: {0}")]
    Random(String),
}

/// Minimum key length in bytes: HMAC-SHA256's own block of security.
pub const MIN_KEY_BYTES: usize = 32;

impl Key {
    /// Parses hex or base64 text (surrounding whitespace ignored).
    ///
    /// # Errors
    /// Not hex or base64, or shorter than [`MIN_KEY_BYTES`].
    pub fn parse(text: &str) -> Result<Key, KeyError> {
        let t = text.trim();
        let bytes = decode_hex(t)
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(t).ok())
            .or_else(|| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(t)
                    .ok()
            })
            .ok_or(KeyError::Encoding)?;
        Key::from_bytes(&bytes)
    }

    /// # Errors
    /// Shorter than [`MIN_KEY_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Key, KeyError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort(bytes.len()));
        }
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"phiscrub key id\0");
        ctx.update(bytes);
        let id = hex(&ctx.finish().as_ref()[..4]);
        Ok(Key {
            mac: hmac::Key::new(hmac::HMAC_SHA256, bytes),
            pads: PadStates::new(bytes),
            id,
        })
    }

    /// Reads a key file.
    ///
    /// # Errors
    /// The file cannot be read, or holds no valid key.
    pub fn from_file(path: &Path) -> Result<Key, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Key::parse(&text)
    }

    /// A fresh 256-bit key from the operating system's secure random source, as hex text
    /// (what `phiscrub keygen` writes) together with the loaded key.
    ///
    /// # Errors
    /// When the system has no secure random source.
    pub fn generate() -> Result<(String, Key), KeyError> {
        let mut bytes = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|e| KeyError::Random(e.to_string()))?;
        let text = hex(&bytes);
        let key = Key::from_bytes(&bytes)?;
        Ok((text, key))
    }

    /// Eight hex digits that name this key in reports; reveals nothing about it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// HMAC-SHA256 over length-prefixed parts, so `("ab","c")` and `("a","bc")` never collide
    /// and each use (token, shape, date shift, fingerprint) has its own domain. A message that
    /// fits [`MAX_MESSAGE`] (every token, shape and shift) is assembled on the stack and
    /// signed from the key's pad states ([`PadStates`]); a longer one goes through ring.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let total: usize = parts.iter().map(|p| 8 + p.len()).sum();
        if total > MAX_MESSAGE {
            return self.mac_streamed(parts);
        }
        let mut buf = [0u8; 4 * 64];
        let mut at = 0;
        for p in parts {
            buf[at..at + 8].copy_from_slice(&(p.len() as u64).to_le_bytes());
            buf[at + 8..at + 8 + p.len()].copy_from_slice(p);
            at += 8 + p.len();
        }
        self.pads.sign_in_place(&mut buf, at)
    }

    /// [`Key::mac`] by ring's streaming HMAC, for messages past [`MAX_MESSAGE`].
    fn mac_streamed(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.mac);
        for p in parts {
            ctx.update(&(p.len() as u64).to_le_bytes());
            ctx.update(p);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// `n` pseudo-random bytes derived from `parts` (HMAC in counter mode), for shape tokens
    /// longer than one MAC.
    pub fn stream(&self, parts: &[&[u8]], n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n];
        self.stream_into(parts, &mut out);
        out
    }

    /// [`stream`](Self::stream) into `out` (its length is the number of bytes), allocating
    /// nothing for up to 7 parts.
    pub fn stream_into(&self, parts: &[&[u8]], out: &mut [u8]) {
        if parts.len() >= 8 {
            let v = self.stream_vec(parts, out.len());
            out.copy_from_slice(&v);
            return;
        }
        for (counter, piece) in out.chunks_mut(32).enumerate() {
            let c = (counter as u32).to_le_bytes();
            let mut all: [&[u8]; 8] = [&[]; 8];
            all[..parts.len()].copy_from_slice(parts);
            all[parts.len()] = &c;
            let mac = self.mac(&all[..=parts.len()]);
            piece.copy_from_slice(&mac[..piece.len()]);
        }
    }

    fn stream_vec(&self, parts: &[&[u8]], n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 32);
        let mut counter: u32 = 0;
        while out.len() < n {
            let c = counter.to_le_bytes();
            let mut all: Vec<&[u8]> = parts.to_vec();
            all.push(&c);
            out.extend_from_slice(&self.mac(&all));
            counter += 1;
        }
        out.truncate(n);
        out
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(D[(b >> 4) as usize] as char);
        s.push(D[(b & 15) as usize] as char);
    }
    s
}

fn decode_hex(t: &str) -> Option<Vec<u8>> {
    if !t.len().is_multiple_of(2) || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&t[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn hex_and_base64_give_the_same_key() {
        let a = Key::parse(HEX).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(decode_hex(HEX).unwrap());
        let b = Key::parse(&format!("  {b64}\n")).unwrap();
        assert_eq!(a.id(), b.id());
        assert_eq!(a.mac(&[b"x"]), b.mac(&[b"x"]));
    }

    #[test]
    fn rejects_short_and_garbage_keys_without_echoing_them() {
        for (text, want) in [("abcd", "2 bytes"), ("not a key!!", "neither hex")] {
            let err = Key::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
            assert!(!err.contains(text), "error must not echo key text");
        }
    }

    #[test]
    fn mac_is_domain_separated_and_debug_hides_key() {
        let k = Key::parse(HEX).unwrap();
        assert_ne!(k.mac(&[b"ab", b"c"]), k.mac(&[b"a", b"bc"]));
        assert_eq!(format!("{k:?}"), format!("Key(id={})", k.id()));
        assert_eq!(k.stream(&[b"s"], 70).len(), 70);
        assert_eq!(k.stream(&[b"s"], 70)[..32], k.stream(&[b"s"], 32)[..]);
        // The stack-buffer paths give what the general ones do.
        assert_eq!(k.stream(&[b"s", b"t"], 70), k.stream_vec(&[b"s", b"t"], 70));
        // The one-buffer signature equals the streamed one, up to and past the buffer size.
        let long = [7u8; 300];
        for n in [0, 1, 100, 214, 215, 216, 300] {
            let parts: [&[u8]; 3] = [b"token", b"SSN", &long[..n]];
            assert_eq!(k.mac(&parts), k.mac_streamed(&parts), "{n}");
        }
    }

    /// Known answer (Python's hmac over the 8-byte little-endian length and "abc"), so the
    /// length-prefixed layout of every token stays what it was.
    #[test]
    fn mac_known_answer() {
        assert_eq!(
            hex(&Key::parse(HEX).unwrap().mac(&[b"abc"])),
            "918d87cb49922c7e453b5d872145184584b6f6428fcfb4bb619d6622994e553f"
        );
    }

    #[test]
    fn generated_keys_differ_and_reparse() {
        let (t1, k1) = Key::generate().unwrap();
        let (t2, _) = Key::generate().unwrap();
        assert_ne!(t1, t2);
        assert_eq!(Key::parse(&t1).unwrap().id(), k1.id());
    }
}
