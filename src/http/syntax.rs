//! The pieces of field syntax that every header grammar here is built from (RFC 9110
//! §5.6): tokens, optional whitespace, decimal numbers. One definition, so the request
//! parser and the `Range`, `Accept-Encoding` and `If-*` parsers cannot drift apart on
//! what a token or a blank is.

/// A byte table: true for ASCII letters and digits and for the bytes of `extra`. Byte
/// classes that are checked per byte of every request are tables, so a check is one
/// load instead of a chain of comparisons.
pub const fn alphanumerics_and(extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).is_ascii_alphanumeric();
        i += 1;
    }
    let mut j = 0;
    while j < extra.len() {
        t[extra[j] as usize] = true;
        j += 1;
    }
    t
}

/// `tchar` (RFC 9110 §5.6.2), the bytes of methods, field names and list tokens.
const TCHAR: [bool; 256] = alphanumerics_and(b"!#$%&'*+-.^_`|~");

#[inline]
pub fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// The length of the token at the start of `s` (0 when there is none).
pub fn token_len(s: &[u8]) -> usize {
    s.iter().take_while(|&&b| is_tchar(b)).count()
}

/// `s` without leading OWS (spaces and tabs, RFC 9110 §5.6.3).
pub fn trim_ows_start(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

/// `s` without OWS on either end. Not `trim_ascii`: CR, LF and FF are not whitespace
/// inside a field, and a parser that skipped them would read what a stricter peer
/// refuses.
pub fn trim_ows(s: &[u8]) -> &[u8] {
    let mut s = trim_ows_start(s);
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// `1*DIGIT` as a number; `None` when empty, when anything but a digit appears (no
/// sign, no spaces) or on overflow.
pub fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// Field values for the parsers' "never panics" properties: mostly bytes of the grammar
/// under test, so that inputs get past the first check and deep into the parser, and
/// one byte in eight anything at all (controls, obs-text, NUL).
#[cfg(test)]
pub fn hostile_field(
    alphabet: impl Into<std::borrow::Cow<'static, [u8]>>,
    max_len: usize,
) -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let alphabet = alphabet.into();
    assert!(!alphabet.is_empty());
    // One plain value per byte, mapped, rather than a union of strategies: a tenth of
    // the cost per case, so the properties afford tens of thousands of cases.
    let byte = any::<(u8, u8, u8)>().prop_map(move |(dice, raw, pick)| {
        if dice % 8 == 0 {
            raw
        } else {
            alphabet[usize::from(pick) % alphabet.len()]
        }
    });
    proptest::collection::vec(byte, 0..max_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tchar_is_the_rfc_set() {
        let rfc = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        for b in 0..=255u8 {
            assert_eq!(is_tchar(b), rfc(b), "{b:#04x}");
        }
        assert_eq!(token_len(b"gzip;q=1"), 4);
        assert_eq!(token_len(b" gzip"), 0);
    }

    #[test]
    fn ows_is_space_and_tab_only() {
        assert_eq!(trim_ows(b" \t a b \t "), b"a b");
        assert_eq!(trim_ows(b" \t "), b"");
        assert_eq!(trim_ows_start(b" \ta "), b"a ");
        assert_eq!(trim_ows(b"\r\na\x0c"), b"\r\na\x0c");
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
        for bad in [&b""[..], b"+1", b"-1", b" 1", b"1 ", b"0x1", b"1,2"] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn decimal_agrees_with_std(s in "[0-9+ -]{0,22}") {
            let std = if s.bytes().all(|b| b.is_ascii_digit()) { s.parse().ok() } else { None };
            prop_assert_eq!(parse_decimal(s.as_bytes()), std);
        }
    }
}
