//! `mask`: hide letters and digits, keep separators and the last N, so a reader still sees
//! what kind of value stood there (`***-**-6789`).

/// Appends the masked `value` to `out`. Each UTF-8 character counts once; separators (anything
/// that is not a letter or digit) stay.
pub fn mask(value: &[u8], ch: char, keep_last: usize, out: &mut Vec<u8>) {
    let is_masked = |b: u8| b.is_ascii_alphanumeric() || b >= 0xC0;
    let total = value.iter().filter(|&&b| is_masked(b)).count();
    let mut seen = 0;
    let mut buf = [0u8; 4];
    let ch = ch.encode_utf8(&mut buf).as_bytes();
    for &b in value {
        if (0x80..0xC0).contains(&b) {
            // continuation byte: part of a character already handled
            if seen == 0 || seen <= total.saturating_sub(keep_last) {
                continue;
            }
            out.push(b);
            continue;
        }
        if is_masked(b) {
            seen += 1;
            if seen > total.saturating_sub(keep_last) {
                out.push(b);
            } else {
                out.extend_from_slice(ch);
            }
        } else {
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_table() {
        for (value, ch, keep, want) in [
            ("123-45-6789", '*', 4, "***-**-6789"),
            ("123-45-6789", '#', 0, "###-##-####"),
            ("José", '*', 0, "****"),
            ("José", '*', 1, "***é"),
            ("ab", '*', 5, "ab"),
            ("a.b@c.org", 'x', 3, "x.x@x.org"),
        ] {
            let mut out = Vec::new();
            mask(value.as_bytes(), ch, keep, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), want, "{value}");
        }
    }
}
