//! Choosing a pre-compressed sidecar (`file.br` / `file.gz`) from
//! `Accept-Encoding` (RFC 9110 §12.5.3).
//!
//! Parsing rules, chosen so that a confusing header can only ever make us
//! fall back to the uncompressed file, never send a coding the client did
//! not ask for:
//!
//! * codings are case-insensitive tokens; `x-gzip` is an alias of `gzip`;
//! * `q` is `0`..`1` with up to three decimals (`q`/`Q` both accepted,
//!   OWS tolerated around `;` and `=`);
//! * an element whose weight part is malformed (bad number, `q=1.5`,
//!   unknown parameter, trailing junk) counts as `q=0`, i.e. an explicit
//!   refusal of that coding, which also shields it from `*`;
//! * `*` supplies the weight of codings not listed explicitly;
//! * if a coding is listed more than once the lowest weight wins;
//! * `identity` does not influence the choice between sidecars.

use super::syntax::{token_len, trim_ows};

/// A content coding we can serve from a pre-compressed sidecar file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    Br,
    Gzip,
}

impl Coding {
    /// File-name suffix of the sidecar (without the dot).
    pub const fn extension(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Gzip => "gz",
        }
    }

    /// Value for the `Content-Encoding` response header.
    pub const fn header_value(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Gzip => "gzip",
        }
    }
}

/// Picks the sidecar to serve, or `None` for the plain file. Among the
/// sidecars that exist and are acceptable (q > 0) the highest weight wins;
/// ties go to brotli since it is typically smaller.
pub fn preferred(accept_encoding: &[u8], have_br: bool, have_gz: bool) -> Option<Coding> {
    // Weights in thousandths; None = not mentioned.
    let mut br: Option<u16> = None;
    let mut gz: Option<u16> = None;
    let mut star: Option<u16> = None;

    for elem in accept_encoding.split(|&b| b == b',') {
        let Some((token, q)) = parse_element(trim_ows(elem)) else {
            continue;
        };
        let slot = if token.eq_ignore_ascii_case(b"br") {
            &mut br
        } else if token.eq_ignore_ascii_case(b"gzip") || token.eq_ignore_ascii_case(b"x-gzip") {
            &mut gz
        } else if token == b"*" {
            &mut star
        } else {
            continue;
        };
        *slot = Some(slot.map_or(q, |old| old.min(q)));
    }

    let weight = |have: bool, explicit: Option<u16>| {
        if have {
            explicit.or(star).unwrap_or(0)
        } else {
            0
        }
    };
    let q_br = weight(have_br, br);
    let q_gz = weight(have_gz, gz);
    if q_br == 0 && q_gz == 0 {
        None
    } else if q_br >= q_gz {
        Some(Coding::Br)
    } else {
        Some(Coding::Gzip)
    }
}

/// Splits `coding [ OWS ";" OWS "q=" qvalue ]` into the coding and its
/// weight in thousandths. `None` only when there is no leading token at
/// all (empty element or junk), which is then skipped entirely.
fn parse_element(elem: &[u8]) -> Option<(&[u8], u16)> {
    let token_len = token_len(elem);
    if token_len == 0 {
        return None;
    }
    let (token, rest) = elem.split_at_checked(token_len)?;
    let rest = trim_ows(rest);
    if rest.is_empty() {
        return Some((token, 1000));
    }
    Some((token, parse_weight(rest).unwrap_or(0)))
}

/// `";" OWS ("q"/"Q") OWS "=" OWS qvalue`, already trimmed on both ends.
fn parse_weight(s: &[u8]) -> Option<u16> {
    let s = trim_ows(s.strip_prefix(b";")?);
    let s = match s {
        [b'q' | b'Q', rest @ ..] => rest,
        _ => return None,
    };
    let s = trim_ows(trim_ows(s).strip_prefix(b"=")?);
    parse_qvalue(s)
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`,
/// returned in thousandths.
fn parse_qvalue(s: &[u8]) -> Option<u16> {
    let (int, frac) = match s {
        [d] => (*d, &[][..]),
        [d, b'.', frac @ ..] => (*d, frac),
        _ => return None,
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0u16;
    let mut scale = 100u16;
    for &d in frac {
        thousandths += u16::from(d - b'0') * scale;
        scale /= 10;
    }
    match int {
        b'0' => Some(thousandths),
        b'1' if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::syntax::hostile_field;
    use Coding::{Br, Gzip};
    use proptest::prelude::*;

    fn pick(ae: &str) -> Option<Coding> {
        preferred(ae.as_bytes(), true, true)
    }

    #[test]
    fn coding_names() {
        assert_eq!(Br.extension(), "br");
        assert_eq!(Gzip.extension(), "gz");
        assert_eq!(Br.header_value(), "br");
        assert_eq!(Gzip.header_value(), "gzip");
    }

    #[test]
    fn basics() {
        assert_eq!(pick("gzip, deflate, br"), Some(Br));
        assert_eq!(pick("gzip, deflate, br, zstd"), Some(Br));
        assert_eq!(pick("gzip"), Some(Gzip));
        assert_eq!(pick("br"), Some(Br));
        assert_eq!(pick("deflate"), None);
        assert_eq!(pick(""), None);
        assert_eq!(pick("identity"), None);
        assert_eq!(pick("  ,  , "), None);
    }

    #[test]
    fn availability() {
        assert_eq!(preferred(b"gzip, br", false, true), Some(Gzip));
        assert_eq!(preferred(b"gzip, br", true, false), Some(Br));
        assert_eq!(preferred(b"gzip, br", false, false), None);
        assert_eq!(preferred(b"br", false, true), None);
        assert_eq!(preferred(b"*", false, true), Some(Gzip));
    }

    #[test]
    fn weights() {
        assert_eq!(pick("br;q=0.5, gzip;q=0.8"), Some(Gzip));
        assert_eq!(pick("br;q=0.8, gzip;q=0.5"), Some(Br));
        assert_eq!(pick("br;q=0.5, gzip;q=0.5"), Some(Br)); // tie -> br
        assert_eq!(pick("gzip;q=1.000, br;q=0.999"), Some(Gzip));
        assert_eq!(pick("gzip;q=0.001, br;q=0"), Some(Gzip));
        assert_eq!(pick("gzip;q=0, br;q=0"), None);
        assert_eq!(pick("br;q=0.0, gzip;q=0.00"), None);
        assert_eq!(pick("br;q=0., gzip;q=1."), Some(Gzip));
        assert_eq!(pick("br;q=1, gzip;q=1"), Some(Br));
        assert_eq!(pick("br;q=0.1, gzip;q=0.10"), Some(Br));
        assert_eq!(pick("br;q=0.1, gzip;q=0.101"), Some(Gzip));
    }

    #[test]
    fn case_whitespace_and_aliases() {
        assert_eq!(pick("GZIP"), Some(Gzip));
        assert_eq!(pick("Br"), Some(Br));
        assert_eq!(pick("x-gzip"), Some(Gzip));
        assert_eq!(pick("X-GZip;q=0.9, br;q=0.1"), Some(Gzip));
        assert_eq!(pick("gzip ; q=0.9 ,\tbr\t;\tQ = 0.1 "), Some(Gzip));
        assert_eq!(pick("br;Q=0.2,gzip;q=0.1"), Some(Br));
    }

    #[test]
    fn wildcard() {
        assert_eq!(pick("*"), Some(Br));
        assert_eq!(pick("*;q=0.5, gzip"), Some(Gzip));
        assert_eq!(pick("*;q=0.5, br;q=0.1"), Some(Gzip));
        assert_eq!(pick("*;q=0, gzip"), Some(Gzip));
        assert_eq!(pick("*;q=0"), None);
        assert_eq!(pick("br;q=0, *"), Some(Gzip));
        assert_eq!(pick("br;q=0, gzip;q=0, *"), None);
        assert_eq!(preferred(b"*;q=0.3, gzip;q=0.2", false, true), Some(Gzip));
    }

    #[test]
    fn identity_is_ignored() {
        assert_eq!(pick("identity;q=1, gzip;q=0.1"), Some(Gzip));
        assert_eq!(pick("identity;q=0, *;q=0"), None);
        assert_eq!(pick("identity;q=0, gzip"), Some(Gzip));
    }

    #[test]
    fn duplicates_take_lowest() {
        assert_eq!(pick("gzip, gzip;q=0"), None);
        assert_eq!(pick("gzip;q=0, gzip;q=1"), None);
        assert_eq!(pick("gzip;q=0.9, x-gzip;q=0.2, br;q=0.5"), Some(Br));
        assert_eq!(pick("*;q=1, *;q=0, br"), Some(Br));
    }

    #[test]
    fn malformed_weight_is_q0() {
        for bad in [
            "gzip;q=1.5",
            "gzip;q=2",
            "gzip;q=1.001",
            "gzip;q=0.1234",
            "gzip;q=.5",
            "gzip;q=-0.5",
            "gzip;q=",
            "gzip;q",
            "gzip;",
            "gzip;level=9",
            "gzip;q=0.5;x=1",
            "gzip;q=0.5x",
            "gzip q=0.5",
            "gzip garbage",
            "gzip;q=0.5 0",
            "gzip;q=1e0",
            "gzip;q=\u{661}",
            "gzip\u{e9}",
        ] {
            assert_eq!(preferred(bad.as_bytes(), false, true), None, "{bad:?}");
            // An explicit (malformed) mention shields the coding from `*`.
            let with_star = format!("{bad}, *");
            assert_eq!(
                preferred(with_star.as_bytes(), false, true),
                None,
                "{bad:?}"
            );
            // Other elements are unaffected.
            let with_br = format!("{bad}, br;q=0.1");
            assert_eq!(pick(&with_br), Some(Br), "{bad:?}");
        }
    }

    #[test]
    fn junk_elements_are_skipped() {
        assert_eq!(pick(";q=1, gzip"), Some(Gzip));
        assert_eq!(pick("\"gzip\", br"), Some(Br));
        assert_eq!(pick("\u{e9}gzip, br"), Some(Br));
        assert_eq!(pick("\u{0}\u{7f}"), None);
    }

    #[test]
    fn qvalue_parser() {
        assert_eq!(parse_qvalue(b"0"), Some(0));
        assert_eq!(parse_qvalue(b"1"), Some(1000));
        assert_eq!(parse_qvalue(b"0.5"), Some(500));
        assert_eq!(parse_qvalue(b"0.05"), Some(50));
        assert_eq!(parse_qvalue(b"0.005"), Some(5));
        assert_eq!(parse_qvalue(b"0.999"), Some(999));
        assert_eq!(parse_qvalue(b"1.000"), Some(1000));
        assert_eq!(parse_qvalue(b"1.0000"), None);
        assert_eq!(parse_qvalue(b""), None);
        assert_eq!(parse_qvalue(b"."), None);
        assert_eq!(parse_qvalue(b"00"), None);
        assert_eq!(parse_qvalue(b"9"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(50_000))]
        /// Whatever the header, the answer is a sidecar that exists or none.
        #[test]
        fn hostile_input_never_panics(
            h in hostile_field(&b"gzipbr*;q=0.19, \t-xGZIPBRQ\xff\x00\""[..], 40),
            have_br: bool,
            have_gz: bool,
        ) {
            match preferred(&h, have_br, have_gz) {
                Some(Br) => prop_assert!(have_br),
                Some(Gzip) => prop_assert!(have_gz),
                None => {}
            }
        }
    }

    #[test]
    fn very_long_headers() {
        let huge = "gzip;q=0.5,".repeat(100_000);
        assert_eq!(pick(&huge), Some(Gzip));
    }
}
