//! Validators that confirm a regex candidate.
//!
//! Patterns alone over-match badly (any nine digits look like an SSN), so a
//! rule names a validator that applies the identifier's structural rules and
//! check digits. Validators see the raw bytes of the candidate span, which
//! need not be UTF-8, and run once per candidate on the scanning hot path:
//! they work in fixed-size stack buffers and never allocate.

use crate::dates;

/// What a validator concluded about a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Passes every structural rule.
    Valid,
    /// Fails a rule: not this kind of identifier.
    Invalid,
    /// Structurally valid but in a range reserved for tests/examples (SSN area 900-999, phone 555-0100..555-0199, example.com/.org/.net/.test/.invalid/.example emails and URLs, documentation IP ranges 192.0.2.0/24 198.51.100.0/24 203.0.113.0/24 and 2001:db8::/32). The engine scores these lower and only with context.
    TestValue,
}

use Check::{Invalid, TestValue, Valid};

/// Names of every validator `run` understands, so rule packs can be checked at load time.
pub const NAMES: &[&str] = &[
    "ssn",
    "phone",
    "email",
    "ipv4",
    "ipv6",
    "mac",
    "credit_card",
    "aba_routing",
    "iban",
    "npi",
    "dea",
    "mbi",
    "vin",
    "imei",
    "luhn",
    "uuid",
    "zip",
    "age_over_89",
    "date",
    "entropy",
    "jwt",
    "aws_access_key",
    "none",
];

/// Runs the validator called `name` on `value`. Returns None when `name` is unknown.
pub fn run(name: &str, value: &[u8]) -> Option<Check> {
    let check = match name {
        "ssn" => ssn(value),
        "phone" => phone(value),
        "email" => email(value),
        "ipv4" => ipv4(value),
        "ipv6" => ipv6(value),
        "mac" => mac(value),
        "credit_card" => credit_card(value),
        "aba_routing" => aba_routing(value),
        "iban" => iban(value),
        "npi" => npi(value),
        "dea" => dea(value),
        "mbi" => mbi(value),
        "vin" => vin(value),
        "imei" => imei(value),
        "luhn" => luhn(value),
        "uuid" => uuid(value),
        "zip" => zip(value),
        "age_over_89" => age_over_89(value),
        "date" => date(value),
        "entropy" => entropy(value),
        "jwt" => jwt(value),
        "aws_access_key" => aws_access_key(value),
        "none" => Valid,
        _ => return None,
    };
    Some(check)
}

/// Luhn (mod 10) check over ASCII digits; false for an empty slice or any
/// non-digit byte, so callers cannot mistake garbage for a checked number.
pub fn luhn_ok(digits: &[u8]) -> bool {
    if digits.is_empty() {
        return false;
    }
    let mut sum = 0u32;
    for (i, &b) in digits.iter().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        // Reducing as we go keeps arbitrarily long input from overflowing.
        sum = (sum + d) % 10;
    }
    sum == 0
}

fn verdict(ok: bool) -> Check {
    if ok {
        Valid
    } else {
        Invalid
    }
}

/// The digits of a candidate with its separators removed, on the stack.
struct Digits<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Digits<N> {
    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Collects the ASCII digits of `value`, skipping bytes in `skip`. None on any
/// other byte or more than `N` digits, so oversized input is rejected early.
fn digits<const N: usize>(value: &[u8], skip: &[u8]) -> Option<Digits<N>> {
    let mut out = Digits {
        buf: [0; N],
        len: 0,
    };
    for &b in value {
        if b.is_ascii_digit() {
            *out.buf.get_mut(out.len)? = b;
            out.len += 1;
        } else if !skip.contains(&b) {
            return None;
        }
    }
    Some(out)
}

/// Value of a run of ASCII digits; saturates instead of overflowing.
fn number(s: &[u8]) -> u32 {
    s.iter().fold(0u32, |n, &b| {
        n.saturating_mul(10)
            .saturating_add(u32::from(b.wrapping_sub(b'0')))
    })
}

fn all_same(s: &[u8]) -> bool {
    s.windows(2).all(|w| w[0] == w[1])
}

fn is_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn ends_with_ci(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.len() >= needle.len()
        && haystack[haystack.len() - needle.len()..].eq_ignore_ascii_case(needle)
}

/// SSA never issues area 000 or 666, group 00 or serial 0000; area 9xx is
/// reserved (ITINs and advertising), and a few sample numbers printed on
/// wallet inserts and in documentation are not real people.
fn ssn(value: &[u8]) -> Check {
    let Some(d) = digits::<9>(value, b"- ") else {
        return Invalid;
    };
    let s = d.as_slice();
    if s.len() != 9 {
        return Invalid;
    }
    let (area, group, serial) = (number(&s[..3]), number(&s[3..5]), number(&s[5..]));
    if area == 0 || area == 666 || group == 0 || serial == 0 {
        return Invalid;
    }
    if area >= 900 || matches!(s, b"078051120" | b"219099999" | b"123456789") {
        return TestValue;
    }
    Valid
}

/// Cuts an extension ("x12", "ext. 12", "#12") so only the number is checked.
fn strip_extension(value: &[u8]) -> &[u8] {
    let end = value
        .iter()
        .enumerate()
        .position(|(i, &b)| {
            matches!(b, b'x' | b'X' | b'#')
                || (matches!(b, b'e' | b'E')
                    && value
                        .get(i + 1..i + 3)
                        .is_some_and(|t| t.eq_ignore_ascii_case(b"xt")))
        })
        .unwrap_or(value.len());
    &value[..end]
}

fn phone(value: &[u8]) -> Check {
    let value = strip_extension(value);
    let mut buf = [0u8; 15];
    let mut n = 0;
    let mut plus = false;
    for &b in value {
        match b {
            b'0'..=b'9' => {
                let Some(slot) = buf.get_mut(n) else {
                    return Invalid;
                };
                *slot = b;
                n += 1;
            }
            b' ' | b'-' | b'.' | b'(' | b')' => {}
            b'+' if n == 0 && !plus => plus = true,
            _ => return Invalid,
        }
    }
    let d = &buf[..n];
    match (plus, d) {
        (_, [b'1', rest @ ..]) if rest.len() == 10 => nanp(rest),
        (true, [b'1', ..]) => Invalid,
        (true, [first, ..]) => verdict((8..=15).contains(&n) && *first != b'0' && !all_same(d)),
        (false, _) if n == 10 => nanp(d),
        _ => Invalid,
    }
}

/// NANP: neither area code nor exchange may start with 0/1 or be an N11
/// service code; 555-0100..0199 is set aside for fiction.
fn nanp(d: &[u8]) -> Check {
    if d.len() != 10
        || all_same(d)
        || d[0] < b'2'
        || d[3] < b'2'
        || (d[1] == b'1' && d[2] == b'1')
        || (d[4] == b'1' && d[5] == b'1')
    {
        return Invalid;
    }
    if &d[3..6] == b"555" && d[6] == b'0' && d[7] == b'1' {
        return TestValue;
    }
    Valid
}

/// Unquoted RFC 5322 local-part characters other than '.'.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b)
}

fn email(value: &[u8]) -> Check {
    let Some(at) = value.iter().position(|&b| b == b'@') else {
        return Invalid;
    };
    let (local, domain) = (&value[..at], &value[at + 1..]);
    if !(1..=64).contains(&local.len())
        || local.split(|&b| b == b'.').any(|part| part.is_empty())
        || !local.iter().all(|&b| b == b'.' || is_atext(b))
        || domain.len() > 253
    {
        return Invalid;
    }
    let mut labels = 0;
    for label in domain.split(|&b| b == b'.') {
        let ok = (1..=63).contains(&label.len())
            && label
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
            && label.first() != Some(&b'-')
            && label.last() != Some(&b'-');
        if !ok {
            return Invalid;
        }
        labels += 1;
    }
    let tld = domain.rsplit(|&b| b == b'.').next().unwrap_or_default();
    if labels < 2 || !(2..=24).contains(&tld.len()) || !tld.iter().all(u8::is_ascii_alphabetic) {
        return Invalid;
    }
    if is_example_domain(domain) {
        return TestValue;
    }
    Valid
}

/// RFC 2606 / 6761 names that can never belong to a real person.
fn is_example_domain(domain: &[u8]) -> bool {
    let reserved_tld = [&b"test"[..], b"invalid", b"example", b"localhost"]
        .iter()
        .any(|tld| ends_with_ci(domain, tld) && domain[..domain.len() - tld.len()].ends_with(b"."));
    let example = [&b"example.com"[..], b"example.org", b"example.net"]
        .iter()
        .any(|base| {
            domain.eq_ignore_ascii_case(base)
                || (ends_with_ci(domain, base)
                    && domain[..domain.len() - base.len()].ends_with(b"."))
        });
    reserved_tld || example
}

/// Strict dotted quad: leading zeros are refused because some parsers read
/// them as octal, so "010.1.1.1" is not reliably an address.
fn parse_ipv4(value: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = value.split(|&b| b == b'.');
    for octet in &mut out {
        let p = parts.next()?;
        if !is_digits(p) || p.len() > 3 || (p.len() > 1 && p[0] == b'0') {
            return None;
        }
        *octet = u8::try_from(number(p)).ok()?;
    }
    match parts.next() {
        Some(_) => None,
        None => Some(out),
    }
}

fn ipv4(value: &[u8]) -> Check {
    let Some(a) = parse_ipv4(value) else {
        return Invalid;
    };
    // Unspecified, broadcast and loopback addresses identify no one.
    if a == [0; 4] || a == [255; 4] || a[0] == 127 {
        return Invalid;
    }
    if matches!(a, [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _]) {
        return TestValue;
    }
    // Private networks (RFC 1918) stay Valid: an access log's first field is the client's
    // address even on an internal network, and over-masking an internal hop costs less than
    // leaking a patient's.
    Valid
}

/// Parses `::`-free colon-separated hex groups into `out`; with `v4_ok` the
/// last group may be a dotted quad, which fills two groups.
fn ipv6_groups(part: &[u8], out: &mut [u16; 8], v4_ok: bool) -> Option<usize> {
    let mut n = 0;
    let mut groups = part.split(|&b| b == b':').peekable();
    while let Some(g) = groups.next() {
        if v4_ok && groups.peek().is_none() && g.contains(&b'.') {
            let q = parse_ipv4(g)?;
            *out.get_mut(n)? = u16::from_be_bytes([q[0], q[1]]);
            *out.get_mut(n + 1)? = u16::from_be_bytes([q[2], q[3]]);
            return Some(n + 2);
        }
        if !(1..=4).contains(&g.len()) {
            return None;
        }
        let mut v = 0u16;
        for &b in g {
            v = (v << 4) | u16::from(hex_value(b)?);
        }
        *out.get_mut(n)? = v;
        n += 1;
    }
    Some(n)
}

fn parse_ipv6(value: &[u8]) -> Option<[u16; 8]> {
    let mut out = [0u16; 8];
    let Some(gap) = value.windows(2).position(|w| w == b"::") else {
        return (ipv6_groups(value, &mut out, true)? == 8).then_some(out);
    };
    if value[gap + 1..].windows(2).any(|w| w == b"::") {
        return None;
    }
    let (head, tail) = (&value[..gap], &value[gap + 2..]);
    let mut h = [0u16; 8];
    let mut t = [0u16; 8];
    let hn = if head.is_empty() {
        0
    } else {
        ipv6_groups(head, &mut h, false)?
    };
    let tn = if tail.is_empty() {
        0
    } else {
        ipv6_groups(tail, &mut t, true)?
    };
    // "::" stands for at least one zero group.
    if hn + tn > 7 {
        return None;
    }
    out[..hn].copy_from_slice(&h[..hn]);
    out[8 - tn..].copy_from_slice(&t[..tn]);
    Some(out)
}

fn ipv6(value: &[u8]) -> Check {
    // A zone id ("%eth0") names an interface on the writer's own host.
    if value.contains(&b'%') {
        return Invalid;
    }
    let Some(g) = parse_ipv6(value) else {
        return Invalid;
    };
    if g == [0; 8] || g == [0, 0, 0, 0, 0, 0, 0, 1] {
        return Invalid;
    }
    if g[0] == 0x2001 && g[1] == 0x0db8 {
        return TestValue;
    }
    Valid
}

fn mac(value: &[u8]) -> Check {
    let mut bytes = [0u8; 6];
    let mut k = 0;
    // Pairs "aa:bb:..." / "aa-bb-..." or Cisco's "aabb.ccdd.eeff"; the
    // separator must not change midway.
    let (chunk, sep) = match value.len() {
        17 if matches!(value[2], b':' | b'-') => (3, value[2]),
        14 => (5, b'.'),
        _ => return Invalid,
    };
    for group in value.chunks(chunk) {
        let (hex, rest) = group.split_at(group.len().min(chunk - 1));
        if !(rest.is_empty() || rest == [sep]) {
            return Invalid;
        }
        for pair in hex.chunks(2) {
            let (Some(hi), Some(lo)) =
                (hex_value(pair[0]), pair.get(1).copied().and_then(hex_value))
            else {
                return Invalid;
            };
            let Some(slot) = bytes.get_mut(k) else {
                return Invalid;
            };
            *slot = (hi << 4) | lo;
            k += 1;
        }
    }
    // All-zero and broadcast addresses belong to no device.
    verdict(k == 6 && bytes != [0; 6] && bytes != [0xff; 6])
}

/// Issuer prefixes and the lengths each network issues.
fn card_issuer_ok(s: &[u8]) -> bool {
    let n = s.len();
    let prefix = |k: usize| number(&s[..k.min(n)]);
    let visa = s.first() == Some(&b'4') && matches!(n, 13 | 16 | 19);
    let mastercard =
        n == 16 && ((51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4)));
    let amex = n == 15 && matches!(prefix(2), 34 | 37);
    let discover = (16..=19).contains(&n)
        && (prefix(4) == 6011 || (644..=649).contains(&prefix(3)) || prefix(2) == 65);
    let jcb = (16..=19).contains(&n) && (3528..=3589).contains(&prefix(4));
    let diners = (14..=19).contains(&n)
        && ((300..=305).contains(&prefix(3)) || matches!(prefix(2), 36 | 38 | 39));
    visa || mastercard || amex || discover || jcb || diners
}

fn credit_card(value: &[u8]) -> Check {
    let Some(d) = digits::<19>(value, b" -") else {
        return Invalid;
    };
    let s = d.as_slice();
    if !(13..=19).contains(&s.len()) || !card_issuer_ok(s) || !luhn_ok(s) {
        return Invalid;
    }
    // Numbers published by the card networks and processors for testing.
    if matches!(
        s,
        b"4111111111111111"
            | b"4242424242424242"
            | b"5555555555554444"
            | b"378282246310005"
            | b"6011111111111117"
    ) {
        return TestValue;
    }
    Valid
}

/// ABA routing numbers are printed without separators, so none are allowed.
fn aba_routing(value: &[u8]) -> Check {
    if value.len() != 9 || !is_digits(value) || value.iter().all(|&b| b == b'0') {
        return Invalid;
    }
    let d: [u32; 9] = std::array::from_fn(|i| u32::from(value[i] - b'0'));
    // Federal Reserve district prefixes: government, regular, thrift, electronic.
    let prefix = d[0] * 10 + d[1];
    let prefix_ok = matches!(prefix, 0..=12 | 21..=32 | 61..=72 | 80);
    let sum = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8]);
    verdict(prefix_ok && sum.is_multiple_of(10))
}

/// Fixed IBAN lengths per country; a wrong length is a typo or not an IBAN.
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AE", 23),
    (b"AT", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"CH", 21),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"EE", 20),
    (b"ES", 24),
    (b"FI", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GR", 27),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MT", 31),
    (b"NL", 18),
    (b"NO", 15),
    (b"PL", 28),
    (b"PT", 25),
    (b"RO", 24),
    (b"SA", 24),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"TR", 26),
];

fn iban(value: &[u8]) -> Check {
    let mut buf = [0u8; 34];
    let mut n = 0;
    for &b in value {
        if b == b' ' {
            continue;
        }
        if !b.is_ascii_alphanumeric() {
            return Invalid;
        }
        let Some(slot) = buf.get_mut(n) else {
            return Invalid;
        };
        *slot = b.to_ascii_uppercase();
        n += 1;
    }
    let s = &buf[..n];
    if !(15..=34).contains(&n)
        || !s[..2].iter().all(u8::is_ascii_uppercase)
        || !is_digits(&s[2..4])
        // 98 - (x mod 97) can only produce check digits 02..=98.
        || !(2..=98).contains(&number(&s[2..4]))
    {
        return Invalid;
    }
    if let Some(&(_, len)) = IBAN_LENGTHS.iter().find(|(cc, _)| &s[..2] == *cc) {
        if n != len {
            return Invalid;
        }
    }
    // Mod 97 of the number formed by moving the first four characters to the
    // end and spelling letters as 10..35, folded digit by digit so no big
    // integer is needed.
    let rem = s[4..].iter().chain(&s[..4]).fold(0u32, |r, &b| {
        if b.is_ascii_digit() {
            (r * 10 + u32::from(b - b'0')) % 97
        } else {
            (r * 100 + u32::from(b - b'A') + 10) % 97
        }
    });
    verdict(rem == 1)
}

/// NPIs use Luhn over the number prefixed with 80840, the ISO health-card
/// issuer prefix, and start with 1 or 2.
fn npi(value: &[u8]) -> Check {
    if value.len() != 10 || !is_digits(value) || !matches!(value[0], b'1' | b'2') {
        return Invalid;
    }
    let mut buf = *b"808400000000000";
    buf[5..].copy_from_slice(value);
    verdict(luhn_ok(&buf))
}

fn dea(value: &[u8]) -> Check {
    let [a, b, digits @ ..] = value else {
        return Invalid;
    };
    let (a, b) = (a.to_ascii_uppercase(), b.to_ascii_uppercase());
    // First letter: registrant type; second: registrant's surname initial,
    // or '9' for business names starting with a digit.
    if digits.len() != 7
        || !is_digits(digits)
        || !b"ABCDEFGHJKLMPRSTUX".contains(&a)
        || !(b.is_ascii_uppercase() || b == b'9')
    {
        return Invalid;
    }
    let d = |i: usize| u32::from(digits[i] - b'0');
    let sum = d(0) + d(2) + d(4) + 2 * (d(1) + d(3) + d(5));
    verdict(sum % 10 == d(6))
}

/// MBI letters omit S L O I B Z, which are easily confused with digits.
fn mbi(value: &[u8]) -> Check {
    let mut c = [0u8; 11];
    let mut n = 0;
    for &b in value.iter().filter(|&&b| b != b'-') {
        let Some(slot) = c.get_mut(n) else {
            return Invalid;
        };
        *slot = b;
        n += 1;
    }
    let letter = |b: u8| b.is_ascii_uppercase() && !b"SLOIBZ".contains(&b);
    let digit = |b: u8| b.is_ascii_digit();
    let alnum = |b: u8| digit(b) || letter(b);
    verdict(
        n == 11
            && (b'1'..=b'9').contains(&c[0])
            && letter(c[1])
            && alnum(c[2])
            && digit(c[3])
            && letter(c[4])
            && alnum(c[5])
            && digit(c[6])
            && letter(c[7])
            && letter(c[8])
            && digit(c[9])
            && digit(c[10]),
    )
}

/// ISO 3779 transliteration; I, O and Q are banned as look-alikes of 1 and 0.
fn vin_value(b: u8) -> Option<u32> {
    let v = match b {
        b'0'..=b'9' => b - b'0',
        b'A'..=b'H' => b - b'A' + 1,
        b'J'..=b'N' => b - b'J' + 1,
        b'P' => 7,
        b'R' => 9,
        b'S'..=b'Z' => b - b'S' + 2,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Uppercase only: VINs are always printed in capitals, and lowercase
/// 17-character tokens are far more often hashes or ids.
fn vin(value: &[u8]) -> Check {
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    if value.len() != 17
        || !value.iter().any(u8::is_ascii_digit)
        || !value.iter().any(u8::is_ascii_uppercase)
    {
        return Invalid;
    }
    let mut sum = 0;
    for (&b, w) in value.iter().zip(WEIGHTS) {
        let Some(v) = vin_value(b) else {
            return Invalid;
        };
        sum += v * w;
    }
    let expected = match sum % 11 {
        10 => b'X',
        r => b'0' + r as u8,
    };
    verdict(value[8] == expected)
}

fn imei(value: &[u8]) -> Check {
    let Some(d) = digits::<15>(value, b" -/") else {
        return Invalid;
    };
    let s = d.as_slice();
    verdict(s.len() == 15 && !all_same(s) && luhn_ok(s))
}

fn luhn(value: &[u8]) -> Check {
    let Some(d) = digits::<19>(value, b" -") else {
        return Invalid;
    };
    let s = d.as_slice();
    verdict((8..=19).contains(&s.len()) && luhn_ok(s))
}

fn uuid(value: &[u8]) -> Check {
    let ok = match value.len() {
        36 => value.iter().enumerate().all(|(i, &b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        }),
        32 => value.iter().all(u8::is_ascii_hexdigit),
        _ => false,
    };
    // The nil UUID is a placeholder, not an identifier.
    verdict(ok && value.iter().any(|&b| b != b'0' && b != b'-'))
}

fn zip(value: &[u8]) -> Check {
    let ok = match value.len() {
        5 => is_digits(value),
        10 => is_digits(&value[..5]) && value[5] == b'-' && is_digits(&value[6..]),
        _ => false,
    };
    verdict(ok && !value.starts_with(b"00000"))
}

/// Safe Harbor only requires ages over 89 to be removed; ages beyond any
/// recorded human lifespan are more likely other numbers.
fn age_over_89(value: &[u8]) -> Check {
    let Some(start) = value.iter().position(u8::is_ascii_digit) else {
        return Invalid;
    };
    let run = &value[start..];
    let end = run
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(run.len());
    verdict((90..=125).contains(&number(&run[..end])))
}

/// Years far outside living memory are usually not dates about a person
/// (ids, amounts), so they are refused even when calendar-valid.
fn date(value: &[u8]) -> Check {
    verdict(dates::parse(value).is_some_and(|d| (1850..=2150).contains(&d.year)))
}

/// Shannon entropy in bits per byte.
fn shannon_entropy(value: &[u8]) -> f64 {
    let mut counts = [0usize; 256];
    for &b in value {
        counts[usize::from(b)] += 1;
    }
    let n = value.len() as f64;
    // H = log2(n) - sum(c * log2 c) / n, which is exact for uniform input.
    let weighted: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let c = c as f64;
            c * c.log2()
        })
        .sum();
    n.log2() - weighted / n
}

/// Values that sit where a secret goes but are not one: defaults, masks and
/// template variables left in config files.
fn is_placeholder(value: &[u8]) -> bool {
    const WORDS: [&[u8]; 10] = [
        b"password",
        b"changeme",
        b"secret",
        b"xxxxxxxx",
        b"********",
        b"<redacted>",
        b"null",
        b"none",
        b"true",
        b"false",
    ];
    WORDS.iter().any(|w| value.eq_ignore_ascii_case(w))
        || (value.starts_with(b"${") && value.ends_with(b"}"))
        || (value.starts_with(b"{{") && value.ends_with(b"}}"))
}

fn entropy(value: &[u8]) -> Check {
    verdict(value.len() >= 8 && !is_placeholder(value) && shannon_entropy(value) >= 3.0)
}

fn jwt(value: &[u8]) -> Check {
    let mut parts = value.split(|&b| b == b'.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Invalid;
    };
    // "eyJ" is base64 of `{"`, the start of every JSON header.
    let segment_ok = |s: &[u8]| {
        s.len() >= 10
            && s.iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    verdict(
        header.starts_with(b"eyJ")
            && segment_ok(header)
            && segment_ok(payload)
            && segment_ok(signature),
    )
}

/// Prefixes AWS uses for access key ids of each principal type.
const AWS_PREFIXES: [&[u8; 4]; 12] = [
    b"AKIA", b"ASIA", b"ABIA", b"ACCA", b"AGPA", b"AIDA", b"AIPA", b"ANPA", b"ANVA", b"AROA",
    b"APKA", b"ASCA",
];

fn aws_access_key(value: &[u8]) -> Check {
    if value.len() != 20 || !AWS_PREFIXES.iter().any(|p| value.starts_with(*p)) {
        return Invalid;
    }
    // The body is base32.
    if !value[4..]
        .iter()
        .all(|&b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    {
        return Invalid;
    }
    // AWS documentation's sample keys all end in EXAMPLE.
    if value.ends_with(b"EXAMPLE") {
        return TestValue;
    }
    Valid
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs one validator over a table of (input, expected) cases.
    fn table(name: &str, cases: &[(&str, Check)]) {
        for &(input, expected) in cases {
            assert_eq!(
                run(name, input.as_bytes()),
                Some(expected),
                "{name}({input:?})"
            );
        }
    }

    #[test]
    fn every_name_runs_and_unknown_names_do_not() {
        for name in NAMES {
            assert!(run(name, b"").is_some(), "{name}");
        }
        for name in ["", "SSN", "hex_secret", "credit-card", "none "] {
            assert_eq!(run(name, b"123"), None, "{name:?}");
        }
    }

    #[test]
    fn non_utf8_never_validates() {
        // `entropy` is left out: it measures bytes, and ten distinct bytes
        // are high-entropy whatever their encoding.
        for name in NAMES.iter().filter(|&&n| n != "none" && n != "entropy") {
            for input in [
                &b"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6"[..],
                b"12-\xff34-5678",
                b"4111\xc2\xa01111\xc2\xa01111\xc2\xa01111",
            ] {
                assert_eq!(run(name, input), Some(Invalid), "{name}({input:?})");
            }
        }
    }

    #[test]
    fn luhn_helper() {
        for (input, expected) in [
            ("4111111111111111", true),
            ("79927398713", true),
            ("0", true),
            ("79927398710", false),
            ("4111111111111112", false),
            ("", false),
            ("4111-1111", false),
            ("１", false),
        ] {
            assert_eq!(luhn_ok(input.as_bytes()), expected, "{input:?}");
        }
    }

    #[test]
    fn ssn() {
        table(
            "ssn",
            &[
                ("234-56-7890", Valid),
                ("234567890", Valid),
                ("234 56 7890", Valid),
                ("001-01-0001", Valid),
                ("899-99-9999", Valid),
                ("000-12-3456", Invalid),
                ("666-12-3456", Invalid),
                ("234-00-7890", Invalid),
                ("234-56-0000", Invalid),
                ("234-56-789", Invalid),
                ("234-56-78901", Invalid),
                ("234.56.7890", Invalid),
                ("23a-56-7890", Invalid),
                ("", Invalid),
                ("900-12-3456", TestValue),
                ("999-99-9999", TestValue),
                ("078-05-1120", TestValue),
                ("219-09-9999", TestValue),
                ("123-45-6789", TestValue),
            ],
        );
    }

    #[test]
    fn phone() {
        table(
            "phone",
            &[
                ("234-567-8901", Valid),
                ("(234) 567-8901", Valid),
                ("234.567.8901", Valid),
                ("2345678901", Valid),
                ("1-234-567-8901", Valid),
                ("+1 234 567 8901", Valid),
                ("+1 (234) 567-8901", Valid),
                ("234-567-8901 x123", Valid),
                ("234-567-8901 ext. 12", Valid),
                ("234-567-8901 EXT 12", Valid),
                ("234-567-8901#4", Valid),
                ("+44 20 7946 0958", Valid),
                ("+4930123456", Valid),
                ("+33 1 23 45 67 89 01 23", Valid),
                ("(234) 555-0123", TestValue),
                ("234-555-0100", TestValue),
                ("+1 234 555 0199", TestValue),
                ("234-555-0200", Valid),
                ("234-555-1234", Valid),
                ("134-567-8901", Invalid),
                ("034-567-8901", Invalid),
                ("911-567-8901", Invalid),
                ("234-167-8901", Invalid),
                ("234-411-8901", Invalid),
                ("222-222-2222", Invalid),
                ("+1 222 222 2222", Invalid),
                ("234-567-890", Invalid),
                ("234-567-89012", Invalid),
                ("2-234-567-8901", Invalid),
                ("+1 234 567 890", Invalid),
                ("+0 234 567 8901", Invalid),
                ("+4412345", Invalid),
                ("+1234567890123456", Invalid),
                ("+44 20 7946 09581234", Invalid),
                ("+22222222222", Invalid),
                ("234-567-8901+", Invalid),
                ("234/567/8901", Invalid),
                ("ext 234-567-8901", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn email() {
        table(
            "email",
            &[
                ("jane.doe@hospital.org", Valid),
                ("j+tag@mail.clinic.co.uk", Valid),
                ("o'neil_1@a-b.io", Valid),
                ("x@sub.domain.museum", Valid),
                ("jane@example.com", TestValue),
                ("jane@EXAMPLE.ORG", TestValue),
                ("jane@mail.example.net", TestValue),
                ("jane@clinic.test", TestValue),
                ("jane@host.invalid", TestValue),
                ("jane@site.example", TestValue),
                ("jane@box.localhost", TestValue),
                ("jane@notexample.com", Valid),
                ("jane@example.com.au", Valid),
                ("jane@hospital", Invalid),
                ("jane@localhost", Invalid),
                ("@hospital.org", Invalid),
                ("jane@", Invalid),
                ("jane", Invalid),
                ("jane@@hospital.org", Invalid),
                ("ja@ne@hospital.org", Invalid),
                (".jane@hospital.org", Invalid),
                ("jane.@hospital.org", Invalid),
                ("ja..ne@hospital.org", Invalid),
                ("jane@.hospital.org", Invalid),
                ("jane@hospital..org", Invalid),
                ("jane@hospital.org.", Invalid),
                ("jane@-hospital.org", Invalid),
                ("jane@hospital-.org", Invalid),
                ("jane@hospital.o", Invalid),
                ("jane@hospital.c0m", Invalid),
                ("jane@hospital.abcdefghijklmnopqrstuvwxy", Invalid),
                ("jane@hos_pital.org", Invalid),
                ("ja ne@hospital.org", Invalid),
                ("jane(x)@hospital.org", Invalid),
            ],
        );
        let long_local = format!("{}@hospital.org", "a".repeat(65));
        assert_eq!(run("email", long_local.as_bytes()), Some(Invalid));
        let max_local = format!("{}@hospital.org", "a".repeat(64));
        assert_eq!(run("email", max_local.as_bytes()), Some(Valid));
    }

    #[test]
    fn ipv4() {
        table(
            "ipv4",
            &[
                ("10.1.2.3", Valid),
                ("172.16.254.1", Valid),
                ("192.168.0.9", Valid),
                ("8.8.8.8", Valid),
                ("0.1.2.3", Valid),
                ("255.255.255.254", Valid),
                ("192.0.2.1", TestValue),
                ("198.51.100.255", TestValue),
                ("203.0.113.0", TestValue),
                ("192.0.3.1", Valid),
                ("198.51.101.1", Valid),
                ("0.0.0.0", Invalid),
                ("255.255.255.255", Invalid),
                ("127.0.0.1", Invalid),
                ("127.8.9.10", Invalid),
                ("256.1.1.1", Invalid),
                ("1.2.3.999", Invalid),
                ("01.2.3.4", Invalid),
                ("1.2.3", Invalid),
                ("1.2.3.4.5", Invalid),
                ("1.2.3.", Invalid),
                ("1..2.3", Invalid),
                ("1.2.3.4:80", Invalid),
                ("1.2.3.a", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn ipv6() {
        table(
            "ipv6",
            &[
                ("2001:0db9:85a3:0000:0000:8a2e:0370:7334", Valid),
                ("fe80::1", Valid),
                ("FE80::A:b:C", Valid),
                ("2600::", Valid),
                ("::2", Valid),
                ("1:2:3:4:5:6:7::", Valid),
                ("::2:3:4:5:6:7:8", Valid),
                ("::ffff:10.1.2.3", Valid),
                ("64:ff9b::192.168.1.1", Valid),
                ("1:2:3:4:5:6:10.1.2.3", Valid),
                ("2001:db8::1", TestValue),
                ("2001:0DB8:85a3:0000:0000:8a2e:0370:7334", TestValue),
                ("2001:db8:ffff::", TestValue),
                ("::", Invalid),
                ("::1", Invalid),
                ("0:0:0:0:0:0:0:1", Invalid),
                ("fe80::1%eth0", Invalid),
                ("10:22:01", Invalid),
                ("1:2:3:4:5:6:7", Invalid),
                ("1:2:3:4:5:6:7:8:9", Invalid),
                ("1:2:3:4::5:6:7:8", Invalid),
                ("1::2::3", Invalid),
                ("1:::2", Invalid),
                (":1:2:3:4:5:6:7", Invalid),
                ("1:2:3:4:5:6:7:", Invalid),
                ("12345::1", Invalid),
                ("fe80::g", Invalid),
                ("::1.2.3.4.5", Invalid),
                ("::10.1.2.3:1", Invalid),
                ("10.1.2.3::1", Invalid),
                ("1:2:3:4:5:6:7:10.1.2.3", Invalid),
                ("::01.2.3.4", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn mac() {
        table(
            "mac",
            &[
                ("00:1a:2b:3c:4d:5e", Valid),
                ("00-1A-2B-3C-4D-5E", Valid),
                ("001a.2b3c.4d5e", Valid),
                ("00:00:00:00:00:00", Invalid),
                ("ff:ff:ff:ff:ff:ff", Invalid),
                ("FF-FF-FF-FF-FF-FF", Invalid),
                ("00:1a:2b-3c:4d:5e", Invalid),
                ("00:1a:2b:3c:4d:5g", Invalid),
                ("00:1a:2b:3c:4d", Invalid),
                ("00:1a:2b:3c:4d:5e:6f", Invalid),
                ("001a2b3c4d5e", Invalid),
                ("001a.2b3c-4d5e", Invalid),
                ("0:1a:2b:3c:4d:5e:", Invalid),
                ("00.1a.2b.3c.4d.5e", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn credit_card() {
        table(
            "credit_card",
            &[
                ("4012888888881881", Valid),
                ("4012 8888 8888 1881", Valid),
                ("4012-8888-8888-1881", Valid),
                ("4222222222222", Valid),
                ("5105105105105100", Valid),
                ("2223003122003222", Valid),
                ("371449635398431", Valid),
                ("6011000990139424", Valid),
                ("6445644564456445", Valid),
                ("3530111333300000", Valid),
                ("30569309025904", Valid),
                ("4111111111111111", TestValue),
                ("4111 1111 1111 1111", TestValue),
                ("4242424242424242", TestValue),
                ("5555555555554444", TestValue),
                ("378282246310005", TestValue),
                ("6011111111111117", TestValue),
                ("4111111111111112", Invalid),
                ("411111111111111", Invalid),
                ("41111111111111111111", Invalid),
                ("1234567812345670", Invalid),
                ("5605105105105100", Invalid),
                ("3714496353984312", Invalid),
                ("4012.8888.8888.1881", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn aba_routing() {
        table(
            "aba_routing",
            &[
                ("111000025", Valid),
                ("001000012", Valid),
                ("121000015", Valid),
                ("211000019", Valid),
                ("321000019", Valid),
                ("611000017", Valid),
                ("721000017", Valid),
                ("801000018", Valid),
                ("111000026", Invalid),
                ("000000000", Invalid),
                ("131000018", Invalid),
                ("201000016", Invalid),
                ("331000012", Invalid),
                ("731000010", Invalid),
                ("11100002", Invalid),
                ("1110000250", Invalid),
                ("111-000-025", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn iban() {
        table(
            "iban",
            &[
                ("GB82 WEST 1234 5698 7654 32", Valid),
                ("GB82WEST12345698765432", Valid),
                ("gb82 west 1234 5698 7654 32", Valid),
                ("DE89 3704 0044 0532 0130 00", Valid),
                ("FR14 2004 1010 0505 0001 3M02 606", Valid),
                ("NL91 ABNA 0417 1643 00", Valid),
                ("BE68 5390 0754 7034", Valid),
                ("CH93 0076 2011 6238 5295 7", Valid),
                ("NO9386011117947", Valid),
                ("MT84MALT011000012345MTLCAST001S", Valid),
                ("GB82WEST12345698765433", Invalid),
                ("GB28WEST12345698765432", Invalid),
                ("GB82WEST1234569876543", Invalid),
                ("DE89370400440532013000 1", Invalid),
                ("9B82WEST12345698765432", Invalid),
                ("GBX2WEST12345698765432", Invalid),
                ("GB82-WEST-1234-5698-7654-32", Invalid),
                ("NO938601111794", Invalid),
                ("GB82WEST12345698765432GB82WEST123456", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn npi() {
        table(
            "npi",
            &[
                ("1234567893", Valid),
                ("1245319599", Valid),
                ("1234567890", Invalid),
                ("3234567893", Invalid),
                ("0234567893", Invalid),
                ("123456789", Invalid),
                ("12345678931", Invalid),
                ("123456789X", Invalid),
                ("123-456-7893", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn dea() {
        table(
            "dea",
            &[
                ("AB1234563", Valid),
                ("ab1234563", Valid),
                ("X91234563", Valid),
                ("MJ7654321", Invalid),
                ("AB1234564", Invalid),
                ("IB1234563", Invalid),
                ("A81234563", Invalid),
                ("AB123456", Invalid),
                ("AB12345630", Invalid),
                ("AB12345X3", Invalid),
                ("1B1234563", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn mbi() {
        table(
            "mbi",
            &[
                ("1EG4-TE5-MK73", Valid),
                ("1EG4TE5MK73", Valid),
                ("9A09AA9AA99", Valid),
                ("1E04TE5MK73", Valid),
                ("0EG4-TE5-MK73", Invalid),
                ("1SG4-TE5-MK73", Invalid),
                ("1EG4-TE5-ML73", Invalid),
                ("1eg4-te5-mk73", Invalid),
                ("1EGA-TE5-MK73", Invalid),
                ("1EG4-TE5-MK7", Invalid),
                ("1EG4-TE5-MK733", Invalid),
                ("1EG4-TE5-M173", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn vin() {
        table(
            "vin",
            &[
                ("1M8GDM9AXKP042788", Valid),
                ("1HGCM82633A004352", Valid),
                ("1M8GDM9AYKP042788", Invalid),
                ("1HGCM82643A004352", Invalid),
                ("11111111111111111", Invalid),
                ("1m8gdm9axkp042788", Invalid),
                ("1M8GDM9AXKP04278", Invalid),
                ("1M8GDM9AXKP0427888", Invalid),
                ("1M8GDM9AXKP04278O", Invalid),
                ("IM8GDM9AXKP042788", Invalid),
                ("1M8GDM9AXKP-42788", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn imei() {
        table(
            "imei",
            &[
                ("490154203237518", Valid),
                ("49-015420-323751-8", Valid),
                ("49 015420 323751 8", Valid),
                ("49/015420/323751/8", Valid),
                ("490154203237519", Invalid),
                ("000000000000000", Invalid),
                ("49015420323751", Invalid),
                ("4901542032375180", Invalid),
                ("49.015420.323751.8", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn luhn() {
        table(
            "luhn",
            &[
                ("79927398713", Valid),
                ("7992 7398 713", Valid),
                ("4111-1111-1111-1111", Valid),
                ("00000000", Valid),
                ("1234567812345670", Valid),
                ("79927398710", Invalid),
                ("0000000", Invalid),
                ("41111111111111111111", Invalid),
                ("7992/7398/713", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn uuid() {
        table(
            "uuid",
            &[
                ("123e4567-e89b-12d3-a456-426614174000", Valid),
                ("123E4567-E89B-12D3-A456-426614174000", Valid),
                ("123e4567e89b12d3a456426614174000", Valid),
                ("00000000-0000-0000-0000-000000000000", Invalid),
                ("00000000000000000000000000000000", Invalid),
                ("123e4567-e89b-12d3-a456-42661417400", Invalid),
                ("123e4567-e89b-12d3-a456-4266141740000", Invalid),
                ("123e4567-e89b-12d3-a456_426614174000", Invalid),
                ("123e4567e-89b-12d3-a456-426614174000", Invalid),
                ("123e4567-e89b-12d3-a456-42661417400g", Invalid),
                ("{123e4567-e89b-12d3-a456-426614174000}", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn zip() {
        table(
            "zip",
            &[
                ("12345", Valid),
                ("02134", Valid),
                ("12345-6789", Valid),
                ("00000", Invalid),
                ("00000-1234", Invalid),
                ("1234", Invalid),
                ("123456", Invalid),
                ("12345-678", Invalid),
                ("12345 6789", Invalid),
                ("1234a", Invalid),
                ("12345-", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn age_over_89() {
        table(
            "age_over_89",
            &[
                ("90", Valid),
                ("aged 97", Valid),
                ("125 years old", Valid),
                ("104-year-old", Valid),
                ("89", Invalid),
                ("126", Invalid),
                ("9", Invalid),
                ("age 45, weight 95", Invalid),
                ("99999999999999999999999", Invalid),
                ("ninety", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn date() {
        table(
            "date",
            &[
                ("2021-03-04", Valid),
                ("March 3rd, 2021", Valid),
                ("3/4/21", Valid),
                ("1850-01-01", Valid),
                ("2150-12-31", Valid),
                ("1849-12-31", Invalid),
                ("2151-01-01", Invalid),
                ("2021-02-30", Invalid),
                ("2021", Invalid),
                ("10:22:01", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn entropy() {
        table(
            "entropy",
            &[
                ("abcdefgh", Valid),
                ("q8Zr2LmX9wTb4Kf", Valid),
                ("9f86d081884c7d659a2feaa0c55ad015", Valid),
                ("abcdefg", Invalid),
                ("aabbccdd", Invalid),
                ("aaaaaaaaaaaaaaaaaaaaaaaa", Invalid),
                ("PassWord", Invalid),
                ("changeme", Invalid),
                ("CHANGEME", Invalid),
                ("xxxxxxxx", Invalid),
                ("********", Invalid),
                ("<REDACTED>", Invalid),
                ("${DB_PASSWORD_9}", Invalid),
                ("{{ vault_db_secret }}", Invalid),
                ("null", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn jwt() {
        table(
            "jwt",
            &[
                (
                    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                    Valid,
                ),
                ("eyJhbGciOi.eyJzdWIiOi.abcdefghij", Valid),
                ("eyJhbGciOi.eyJzdWIiOi.abcdefghi", Invalid),
                ("eyJhbGciOi.eyJzdWIiOi.", Invalid),
                ("eyJhbGciOi.eyJzdWIiOi", Invalid),
                ("eyJhbGciOi.eyJzdWIiOi.abcdefghij.klmnopqrst", Invalid),
                ("xyJhbGciOi.eyJzdWIiOi.abcdefghij", Invalid),
                ("eyJhbGciOi.eyJzdWIiOi.abcdefghi=", Invalid),
                ("eyJhbGciOi.eyJzd+IiOi.abcdefghij", Invalid),
                ("eyJhbG.eyJzdWIiOi.abcdefghij", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn aws_access_key() {
        table(
            "aws_access_key",
            &[
                ("AKIA2E3F4G5H6J7K2L3M", Valid),
                ("ASIAQWERTYUIOPASDFGH", Valid),
                ("AROA234567ABCDEFGHIJ", Valid),
                ("AKIAIOSFODNN7EXAMPLE", TestValue),
                ("ASIAIOSFODNN7EXAMPLE", TestValue),
                ("AKIA2E3F4G5H6J7K2L3", Invalid),
                ("AKIA2E3F4G5H6J7K2L3MN", Invalid),
                ("AKIB2E3F4G5H6J7K2L3M", Invalid),
                ("akia2e3f4g5h6j7k2l3m", Invalid),
                ("AKIA2E3F4G5H6J7K2L3m", Invalid),
                ("AKIA2E3F4G5H6J7K2L31", Invalid),
                ("AKIA2E3F4G5H6J7K2L38", Invalid),
                ("", Invalid),
            ],
        );
    }

    #[test]
    fn none_accepts_anything() {
        for input in [&b""[..], b"anything", b"\xff\x00"] {
            assert_eq!(run("none", input), Some(Valid));
        }
    }
}
