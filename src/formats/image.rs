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

#[cfg(test)]
mod tests {
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
}
