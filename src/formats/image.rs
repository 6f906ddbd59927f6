//! Whole image files (JPEG, PNG, GIF, BMP, TIFF, WebP) found among the inputs: a photo is a
//! Safe Harbor identifier (letter Q) as a whole, so it is reported once for the whole file and,
//! when scrubbed, replaced by a 1×1 grey image of the same format, which code that opens it
//! still accepts but which shows no one.

/// Image formats recognised by their signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Png,
    Gif,
    Bmp,
    Tiff,
    Webp,
}

/// Bytes needed to recognise any supported signature.
pub const SNIFF_LEN: usize = 18;

/// The image format `head` (the first bytes of a file) starts with, if any.
pub fn sniff(head: &[u8]) -> Option<ImageKind> {
    match head {
        [0xFF, 0xD8, 0xFF, ..] => Some(ImageKind::Jpeg),
        [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n', ..] => Some(ImageKind::Png),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(ImageKind::Gif),
        [b'I', b'I', b'*', 0, ..] | [b'M', b'M', 0, b'*', ..] => Some(ImageKind::Tiff),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some(ImageKind::Webp),
        // "BM" alone starts plenty of text; the DIB header size must be one BMP defines.
        [b'B', b'M', rest @ ..] if rest.len() >= 16 => {
            let dib = u32::from_le_bytes([rest[12], rest[13], rest[14], rest[15]]);
            matches!(dib, 12 | 40 | 52 | 56 | 64 | 108 | 124).then_some(ImageKind::Bmp)
        }
        _ => None,
    }
}

/// A 1×1 grey image of `kind` (made by `scripts/make_blank_images.py`).
pub fn blank(kind: ImageKind) -> &'static [u8] {
    match kind {
        ImageKind::Jpeg => include_bytes!("../../patterns/blank/1x1.jpg"),
        ImageKind::Png => include_bytes!("../../patterns/blank/1x1.png"),
        ImageKind::Gif => include_bytes!("../../patterns/blank/1x1.gif"),
        ImageKind::Bmp => include_bytes!("../../patterns/blank/1x1.bmp"),
        ImageKind::Tiff => include_bytes!("../../patterns/blank/1x1.tif"),
        ImageKind::Webp => include_bytes!("../../patterns/blank/1x1.webp"),
    }
}

/// Where an image that starts at the first byte of a buffer ends, read from its own structure
/// (JPEG segments and entropy-coded data to EOI, PNG chunks to IEND, GIF blocks to the
/// trailer), so an image embedded in a binary stream is replaced whole, not just its
/// signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extent {
    /// The image is this many bytes long.
    Whole(usize),
    /// The structure holds so far but the buffer ends before the image does.
    Truncated,
    /// Not an image after all (the signature bytes are there, the structure is not).
    Invalid,
}

/// Embedded images larger than this are not waited for: a stream is cut through them and only
/// what one chunk holds is replaced (memory stays bounded).
pub const EMBEDDED_MAX: usize = 64 << 20;

/// The extent of the JPEG, PNG or GIF image at the start of `data`.
pub fn embedded_extent(data: &[u8]) -> Extent {
    match data {
        [0xFF, 0xD8, 0xFF, ..] => jpeg_extent(data),
        [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n', ..] => png_extent(data),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => gif_extent(data),
        _ if data.len() < 8 && is_signature_prefix(data) => Extent::Truncated,
        _ => Extent::Invalid,
    }
}

/// Whether `data`, shorter than a signature, could still grow into one.
fn is_signature_prefix(data: &[u8]) -> bool {
    let sigs: [&[u8]; 4] = [b"\xFF\xD8\xFF", b"\x89PNG\r\n\x1A\n", b"GIF87a", b"GIF89a"];
    !data.is_empty()
        && sigs
            .iter()
            .any(|s| s.starts_with(data) && data.len() < s.len())
}

fn jpeg_extent(d: &[u8]) -> Extent {
    let mut i = 2; // after SOI
    loop {
        // A marker: 0xFF, optional 0xFF fill bytes, then its code.
        if i >= d.len() {
            return Extent::Truncated;
        }
        if d[i] != 0xFF {
            return Extent::Invalid;
        }
        while i < d.len() && d[i] == 0xFF {
            i += 1;
        }
        let Some(&m) = d.get(i) else {
            return Extent::Truncated;
        };
        i += 1;
        match m {
            0xD9 => return Extent::Whole(i),
            0x00 | 0xD8 => return Extent::Invalid,
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(len) = d
            .get(i..i + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            return Extent::Truncated;
        };
        if len < 2 {
            return Extent::Invalid;
        }
        i += len;
        if m == 0xDA {
            // Entropy-coded data: runs to the next 0xFF that is not a stuffed 0x00 or a
            // restart marker.
            loop {
                let Some(p) = d.get(i..).and_then(|t| memchr::memchr(0xFF, t)) else {
                    return Extent::Truncated;
                };
                i += p;
                match d.get(i + 1) {
                    None => return Extent::Truncated,
                    Some(0x00 | 0xD0..=0xD7) => i += 2,
                    Some(0xFF) => i += 1,
                    Some(_) => break,
                }
            }
        }
        if i > EMBEDDED_MAX {
            return Extent::Invalid;
        }
    }
}

fn png_extent(d: &[u8]) -> Extent {
    let mut i = 8;
    loop {
        let Some(h) = d.get(i..i + 8) else {
            return Extent::Truncated;
        };
        let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let kind = &h[4..8];
        if len > EMBEDDED_MAX || !kind.iter().all(u8::is_ascii_alphabetic) {
            return Extent::Invalid;
        }
        if i == 8 && kind != b"IHDR" {
            return Extent::Invalid;
        }
        i += 12 + len;
        if i > d.len() {
            return Extent::Truncated;
        }
        if kind == b"IEND" {
            return Extent::Whole(i);
        }
    }
}

fn gif_extent(d: &[u8]) -> Extent {
    // Header (6), logical screen descriptor (7), then the global colour table if flagged.
    let Some(&flags) = d.get(10) else {
        return Extent::Truncated;
    };
    let mut i = 13;
    if flags & 0x80 != 0 {
        i += 3 << ((flags & 7) + 1);
    }
    // Data sub-blocks: length bytes until a zero.
    let sub_blocks = |mut i: usize| -> Option<usize> {
        loop {
            let n = usize::from(*d.get(i)?);
            i += 1 + n;
            if n == 0 {
                return Some(i);
            }
        }
    };
    loop {
        match d.get(i) {
            None => return Extent::Truncated,
            Some(0x3B) => return Extent::Whole(i + 1),
            Some(0x21) => match sub_blocks(i + 2) {
                Some(j) => i = j,
                None => return Extent::Truncated,
            },
            Some(0x2C) => {
                let Some(&f) = d.get(i + 9) else {
                    return Extent::Truncated;
                };
                i += 10;
                if f & 0x80 != 0 {
                    i += 3 << ((f & 7) + 1);
                }
                // LZW minimum code size, then the image data.
                match d.get(i) {
                    None => return Extent::Truncated,
                    Some(2..=12) => {}
                    Some(_) => return Extent::Invalid,
                }
                match sub_blocks(i + 1) {
                    Some(j) => i = j,
                    None => return Extent::Truncated,
                }
            }
            Some(_) => return Extent::Invalid,
        }
        if i > EMBEDDED_MAX {
            return Extent::Invalid;
        }
    }
}

/// Where an embedded image that starts in `buf[..cut]` runs past `cut`: the image's start
/// when it is not yet complete in `buf` (cut before it and read on), or its end when `buf`
/// already holds it (cut after it). A stream is never cut through an image that fits in
/// [`EMBEDDED_MAX`].
pub fn straddling(buf: &[u8], cut: usize) -> Option<Straddle> {
    let gif = memchr::memmem::Finder::new(b"GIF8");
    let mut gif_next: Option<usize> = None;
    let mut at = 0;
    while at < cut {
        // JPEG and PNG start with bytes text never has (0xFF; 0x89 only inside a multibyte
        // character); a GIF is looked for by its whole "GIF8".
        if gif_next.is_none_or(|g| g < at) {
            let hay = &buf[at..(cut + 3).min(buf.len())];
            gif_next = Some(gif.find(hay).map_or(usize::MAX, |g| at + g));
        }
        let bin = memchr::memchr2(0xFF, 0x89, &buf[at..cut]).map(|q| at + q);
        let g = gif_next.filter(|&g| g < cut);
        let p = match (bin, g) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return None,
        };
        match embedded_extent(&buf[p..]) {
            Extent::Whole(n) if p + n > cut => return Some(Straddle::EndsAt(p + n)),
            Extent::Whole(n) => at = p + n,
            Extent::Truncated if buf.len() - p < EMBEDDED_MAX => {
                return Some(Straddle::StartsAt(p))
            }
            Extent::Truncated | Extent::Invalid => at = p + 1,
        }
    }
    None
}

/// See [`straddling`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Straddle {
    StartsAt(usize),
    EndsAt(usize),
}

/// The replacement of an embedded image of `len` bytes: the blank image of its kind, padded
/// with zero bytes to the same length (decoders stop at the end marker), so offsets in a binary
/// container around it still hold. An image shorter than the blank gets the blank alone.
pub fn blank_in_place(kind: ImageKind, len: usize, out: &mut Vec<u8>) {
    let b = blank(kind);
    out.extend_from_slice(b);
    out.resize(out.len() + len.saturating_sub(b.len()), 0);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn every_blank_is_recognised_as_its_own_kind() {
        for kind in [
            ImageKind::Jpeg,
            ImageKind::Png,
            ImageKind::Gif,
            ImageKind::Bmp,
            ImageKind::Tiff,
            ImageKind::Webp,
        ] {
            let b = blank(kind);
            assert_eq!(sniff(&b[..SNIFF_LEN.min(b.len())]), Some(kind), "{kind:?}");
        }
    }

    #[test]
    fn text_is_no_image() {
        for head in [
            &b"BM is a text file that starts with BM"[..],
            b"GIF87 but no a",
            b"\xFF\xD8",
            b"",
            b"RIFF1234WAVEfmt ",
        ] {
            assert_eq!(sniff(head), None, "{head:?}");
        }
    }

    /// A JPEG by structure: APP0, an APP1 holding a whole thumbnail (its own SOI..EOI, which
    /// must not end the outer image), DQT, SOF0, SOS and entropy-coded data with stuffed
    /// 0xFF00 bytes and restart markers, then EOI.
    pub(crate) fn synthetic_jpeg(scan_len: usize) -> Vec<u8> {
        let seg = |m: u8, body: &[u8]| {
            let mut v = vec![0xFF, m];
            v.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
            v.extend_from_slice(body);
            v
        };
        let mut j = vec![0xFF, 0xD8];
        j.extend(seg(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"));
        let mut exif = b"Exif\0\0".to_vec();
        exif.extend_from_slice(blank(ImageKind::Jpeg));
        j.extend(seg(0xE1, &exif));
        j.extend(seg(0xDB, &[0u8; 65]));
        j.extend(seg(0xC0, &[8, 0, 16, 0, 16, 1, 1, 0x11, 0]));
        j.extend(seg(0xDA, &[1, 1, 0, 0, 63, 0]));
        let mut x: u32 = 7;
        for k in 0..scan_len {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let b = (x >> 16) as u8;
            if b == 0xFF {
                j.extend_from_slice(&[0xFF, 0x00]);
            } else {
                j.push(b);
            }
            if k % 4096 == 4095 {
                j.extend_from_slice(&[0xFF, 0xD0 + ((k / 4096) % 8) as u8]);
            }
        }
        j.extend_from_slice(&[0xFF, 0xD9]);
        j
    }

    #[test]
    fn embedded_extents_follow_the_structure() {
        let jpeg = synthetic_jpeg(20_000);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("jpeg", jpeg.clone()),
            ("blank jpeg", blank(ImageKind::Jpeg).to_vec()),
            ("blank png", blank(ImageKind::Png).to_vec()),
            ("blank gif", blank(ImageKind::Gif).to_vec()),
        ];
        for (name, img) in &cases {
            let mut with_tail = img.clone();
            with_tail.extend_from_slice(b"\xFF\xD9 trailing bytes IEND;");
            assert_eq!(embedded_extent(img), Extent::Whole(img.len()), "{name}");
            assert_eq!(
                embedded_extent(&with_tail),
                Extent::Whole(img.len()),
                "{name} + tail"
            );
            for cut in 1..img.len() {
                assert_eq!(
                    embedded_extent(&img[..cut]),
                    Extent::Truncated,
                    "{name} cut at {cut}"
                );
            }
        }
        for junk in [
            &b"\xFF\xD8\xFF\xE0\x00\x04ab then no marker"[..],
            b"\xFF\xD8\xFF\x00",
            b"\x89PNG\r\n\x1A\n\0\0\0\x0dWXYZ0123456789abcdefgh",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00 text",
            b"plain text",
        ] {
            assert_eq!(embedded_extent(junk), Extent::Invalid, "{junk:?}");
        }
    }

    #[test]
    fn cuts_move_off_embedded_images() {
        let jpeg = synthetic_jpeg(5_000);
        let mut buf = b"text before\n".to_vec();
        let at = buf.len();
        buf.extend_from_slice(&jpeg);
        buf.extend_from_slice(b"\ntext after\n");
        let end = at + jpeg.len();
        // A cut inside the image moves to its end when the buffer holds it whole...
        assert_eq!(straddling(&buf, at + 100), Some(Straddle::EndsAt(end)));
        // ...and to its start when it does not.
        assert_eq!(
            straddling(&buf[..at + 3000], at + 100),
            Some(Straddle::StartsAt(at))
        );
        // Cuts before or after the image stand.
        assert_eq!(straddling(&buf, at), None);
        assert_eq!(straddling(&buf, end + 1), None);
        let mut out = Vec::new();
        blank_in_place(ImageKind::Jpeg, jpeg.len(), &mut out);
        assert_eq!(out.len(), jpeg.len());
        assert_eq!(
            embedded_extent(&out),
            Extent::Whole(blank(ImageKind::Jpeg).len())
        );
    }
}
