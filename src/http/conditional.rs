//! RFC 9110 §13 conditional requests: validators for a file and the
//! precedence rules that turn `If-*` headers into 200, 304 or 412.
//!
//! # ETag recipe
//!
//! Strong entity tags are derived from file metadata only (no hashing of
//! content), in lowercase hex without leading zeros:
//!
//! ```text
//! "<size>-<mtime secs>.<mtime nanos>-<inode>"        e.g. "1a2b-65f0c3d2.1dcd6500-8c1f"
//! "<size>-<mtime secs>.<mtime nanos>-<inode>-<var>"  e.g. "...-8c1f-br" for a .br sidecar
//! ```
//!
//! Nanoseconds make same-second rewrites visible; the inode distinguishes
//! atomically replaced files (rename over) that kept size and mtime. The
//! variant suffix gives pre-compressed sidecars their own tag, as RFC 9110
//! §8.8.3 requires for different representations. Pre-epoch mtimes are
//! encoded as the two's-complement of their (floored) seconds.
//!
//! Dates are compared at whole-second precision, because that is all an
//! HTTP-date (and thus the `Last-Modified` the client echoes back) carries.
//! No "date in the future" check is done for `If-Modified-Since`: that
//! would need the clock, and this module stays pure.

use std::time::{SystemTime, UNIX_EPOCH};

use super::date::ImfDate;
use super::syntax::{trim_ows, trim_ows_start};

/// Room for the longest possible tag: 2 quotes, 3 dashes, a dot, hex u64
/// size/secs/inode (16 each), 8 hex nanos, `-` + [`MAX_VARIANT`] bytes.
pub const ETAG_CAPACITY: usize = 80;

/// Longest variant suffix kept by [`etag`]; longer ones are truncated.
pub const MAX_VARIANT: usize = 16;

/// A strong entity tag, quotes included, stored inline so building one
/// per request costs no allocation.
#[derive(Clone, Copy)]
pub struct ETag {
    buf: [u8; ETAG_CAPACITY],
    len: usize,
}

impl ETag {
    const fn empty() -> Self {
        ETag {
            buf: [0; ETAG_CAPACITY],
            len: 0,
        }
    }

    /// Silently drops bytes past capacity (unreachable given the recipe).
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn push_hex(&mut self, n: u64) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digits = if n == 0 {
            1
        } else {
            16 - n.leading_zeros() / 4
        };
        for i in (0..digits).rev() {
            let nibble = ((n >> (i * 4)) & 0xf) as usize;
            self.push(HEX.get(nibble).copied().unwrap_or(b'0'));
        }
    }

    /// The header value to send in `ETag:` (quotes included).
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Same as [`ETag::as_bytes`], for callers that build `String`s.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl PartialEq for ETag {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ETag {}

impl std::hash::Hash for ETag {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl std::fmt::Debug for ETag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ETag").field(&self.as_str()).finish()
    }
}

impl std::fmt::Display for ETag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Builds the strong ETag for a file (see the module docs for the recipe).
/// `variant` distinguishes pre-compressed sidecars (e.g. `"br"`, `"gz"`);
/// only ASCII alphanumerics and `-_.` are kept, at most [`MAX_VARIANT`].
pub fn etag(size: u64, mtime: SystemTime, inode: u64, variant: Option<&str>) -> ETag {
    let (secs, nanos) = unix_time(mtime);
    let mut t = ETag::empty();
    t.push(b'"');
    t.push_hex(size);
    t.push(b'-');
    t.push_hex(secs as u64);
    t.push(b'.');
    t.push_hex(u64::from(nanos));
    t.push(b'-');
    t.push_hex(inode);
    let mut kept = variant
        .unwrap_or_default()
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        .take(MAX_VARIANT)
        .peekable();
    if kept.peek().is_some() {
        t.push(b'-');
        kept.for_each(|b| t.push(b));
    }
    t.push(b'"');
    t
}

/// Everything a conditional request is evaluated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validators {
    pub etag: ETag,
    pub last_modified: SystemTime,
    /// `last_modified` as the header shows it, formatted once.
    pub last_modified_text: ImfDate,
}

impl Validators {
    /// Convenience: the ETag from [`etag`] plus `mtime` as Last-Modified.
    pub fn new(size: u64, mtime: SystemTime, inode: u64, variant: Option<&str>) -> Self {
        Validators {
            etag: etag(size, mtime, inode, variant),
            last_modified: mtime,
            last_modified_text: ImfDate::new(mtime),
        }
    }
}

/// Result of the RFC 9110 §13.2.2 evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Serve normally (then consider Range / If-Range).
    Proceed,
    /// 304 Not Modified (only ever for GET/HEAD).
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

/// Applies the conditional headers in the exact order of RFC 9110 §13.2.2,
/// so that e.g. If-None-Match overrides If-Modified-Since and If-Match
/// overrides If-Unmodified-Since. Pass `None` for absent headers; a present
/// but empty entity-tag list matches nothing. Unparseable dates are ignored
/// and unparseable list members never match.
pub fn evaluate(
    method_is_get_or_head: bool,
    if_match: Option<&[u8]>,
    if_none_match: Option<&[u8]>,
    if_modified_since: Option<&[u8]>,
    if_unmodified_since: Option<&[u8]>,
    v: &Validators,
) -> Precondition {
    let etag = v.etag.as_bytes();
    let modified = unix_time(v.last_modified).0;

    // Step 1 / 2.
    match if_match {
        Some(field) => {
            if !list_matches(field, etag, true) {
                return Precondition::Failed;
            }
        }
        None => {
            if let Some(since) = if_unmodified_since.and_then(parse_date)
                && modified > since
            {
                return Precondition::Failed;
            }
        }
    }

    // Step 3 / 4.
    match if_none_match {
        Some(field) => {
            if list_matches(field, etag, false) {
                return if method_is_get_or_head {
                    Precondition::NotModified
                } else {
                    Precondition::Failed
                };
            }
        }
        None => {
            if method_is_get_or_head
                && let Some(since) = if_modified_since.and_then(parse_date)
                && modified <= since
            {
                return Precondition::NotModified;
            }
        }
    }

    Precondition::Proceed
}

/// Whether a Range request may be honoured (RFC 9110 §13.1.5): an entity
/// tag must match strongly, a date must equal Last-Modified to the second.
/// Anything else (weak tag, list, garbage) means "send the full 200".
pub fn if_range_allows(if_range: &[u8], v: &Validators) -> bool {
    let field = trim_ows(if_range);
    if field.starts_with(b"\"") || field.starts_with(b"W/") {
        let mut tags = TagList { rest: field };
        return match (tags.next(), tags.next()) {
            (Some(Some(t)), None) => !t.weak && t.opaque == v.etag.as_bytes(),
            _ => false,
        };
    }
    parse_date(field) == Some(unix_time(v.last_modified).0)
}

/// `(floor(seconds), nanos)` relative to the Unix epoch, also for pre-epoch
/// times, so comparisons and ETags stay total.
fn unix_time(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs())
                .unwrap_or(i64::MAX)
                .wrapping_neg();
            match d.subsec_nanos() {
                0 => (secs, 0),
                n => (secs.wrapping_sub(1), 1_000_000_000 - n),
            }
        }
    }
}

/// Seconds since the epoch of a valid HTTP-date, `None` if invalid.
fn parse_date(field: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(trim_ows(field)).ok()?;
    let t = httpdate::parse_http_date(s).ok()?;
    i64::try_from(t.duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()
}

/// `If-Match` (strong) / `If-None-Match` (weak) evaluation of a field value
/// that is `*` or a list of entity tags. The resource always exists here.
fn list_matches(field: &[u8], etag: &[u8], strong: bool) -> bool {
    let field = trim_ows(field);
    if field == b"*" {
        return true;
    }
    TagList { rest: field }
        .flatten()
        .any(|t| t.opaque == etag && !(strong && t.weak))
}

/// One parsed entity-tag; `opaque` keeps its quotes, like [`ETag`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    opaque: &'a [u8],
}

/// Iterates `#entity-tag`, yielding `Some(tag)` per well-formed member and
/// `None` per malformed one (skipped up to the next comma), so callers can
/// treat garbage as "no match" without losing the rest of the list.
struct TagList<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TagList<'a> {
    type Item = Option<EntityTag<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        // Skip OWS and empty list elements.
        while let [b' ' | b'\t' | b',', tail @ ..] = self.rest {
            self.rest = tail;
        }
        if self.rest.is_empty() {
            return None;
        }
        match parse_entity_tag(self.rest) {
            Some((tag, tail)) => {
                self.rest = tail;
                Some(Some(tag))
            }
            None => {
                let skip = self
                    .rest
                    .iter()
                    .position(|&b| b == b',')
                    .unwrap_or(self.rest.len());
                self.rest = self.rest.get(skip..).unwrap_or_default();
                Some(None)
            }
        }
    }
}

/// Parses one entity-tag at the start of `s`, which must be followed by
/// OWS and then a comma or the end. Returns the tag and the remainder.
fn parse_entity_tag(s: &[u8]) -> Option<(EntityTag<'_>, &[u8])> {
    let (weak, body) = match s.strip_prefix(b"W/") {
        Some(body) => (true, body),
        None => (false, s),
    };
    let inner = body.strip_prefix(b"\"")?;
    let close = inner.iter().position(|&b| b == b'"')?;
    let content = inner.get(..close)?;
    if !content.iter().all(|&b| is_etagc(b)) {
        return None;
    }
    let opaque = body.get(..close + 2)?;
    let tail = trim_ows_start(inner.get(close + 1..)?);
    match tail {
        [] | [b',', ..] => Some((EntityTag { weak, opaque }, tail)),
        _ => None,
    }
}

/// `etagc = %x21 / %x23-7E / obs-text`.
const fn is_etagc(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x7e | 0x80..=0xff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::syntax::hostile_field;
    use proptest::prelude::*;
    use std::time::Duration;

    use Precondition::{Failed, NotModified, Proceed};

    // Sun, 06 Nov 1994 08:49:37 GMT
    const T: u64 = 784_111_777;
    const DATE: &[u8] = b"Sun, 06 Nov 1994 08:49:37 GMT";
    const DATE_MINUS_1: &[u8] = b"Sun, 06 Nov 1994 08:49:36 GMT";
    const DATE_PLUS_1: &[u8] = b"Sun, 06 Nov 1994 08:49:38 GMT";

    fn mtime() -> SystemTime {
        UNIX_EPOCH + Duration::new(T, 500_000_000)
    }

    fn v() -> Validators {
        Validators::new(0x1234, mtime(), 0xabc, None)
    }

    fn tag() -> String {
        v().etag.as_str().to_owned()
    }

    fn ev(
        get: bool,
        im: Option<&str>,
        inm: Option<&str>,
        ims: Option<&[u8]>,
        ius: Option<&[u8]>,
    ) -> Precondition {
        evaluate(
            get,
            im.map(str::as_bytes),
            inm.map(str::as_bytes),
            ims,
            ius,
            &v(),
        )
    }

    #[test]
    fn etag_recipe() {
        let t = etag(0x1234, mtime(), 0xabc, None);
        assert_eq!(t.as_str(), "\"1234-2ebc98a1.1dcd6500-abc\"");
        assert_eq!(t.as_bytes(), t.as_str().as_bytes());
        assert_eq!(t.to_string(), t.as_str());
        assert_eq!(
            etag(0x1234, mtime(), 0xabc, Some("br")).as_str(),
            "\"1234-2ebc98a1.1dcd6500-abc-br\""
        );
        assert_eq!(etag(0, UNIX_EPOCH, 0, None).as_str(), "\"0-0.0-0\"");
        assert_eq!(etag(0, UNIX_EPOCH, 0, Some("")).as_str(), "\"0-0.0-0\"");
        assert_eq!(
            etag(0, UNIX_EPOCH, 0, Some("\"a b,c\u{e9}\"")).as_str(),
            "\"0-0.0-0-abc\""
        );
        assert_ne!(
            etag(1, mtime(), 1, Some("gz")),
            etag(1, mtime(), 1, Some("br"))
        );
        assert_ne!(etag(1, mtime(), 1, None), etag(1, mtime(), 2, None));
        assert_ne!(
            etag(1, mtime(), 1, None),
            etag(1, mtime() + Duration::from_nanos(1), 1, None)
        );
    }

    #[test]
    fn etag_extremes_fit_and_are_valid() {
        let far = UNIX_EPOCH + Duration::new(i64::MAX as u64, 999_999_999);
        let long = "x".repeat(1000);
        let t = etag(u64::MAX, far, u64::MAX, Some(&long));
        let s = t.as_str();
        assert!(s.len() <= ETAG_CAPACITY);
        assert!(s.ends_with(&format!("-{}\"", "x".repeat(MAX_VARIANT))));
        assert_eq!(
            s,
            format!(
                "\"ffffffffffffffff-7fffffffffffffff.3b9ac9ff-ffffffffffffffff-{}\"",
                "x".repeat(MAX_VARIANT)
            )
        );
        // Parses back as a single strong tag.
        let parsed: Vec<_> = TagList { rest: t.as_bytes() }.collect();
        assert_eq!(
            parsed,
            [Some(EntityTag {
                weak: false,
                opaque: t.as_bytes()
            })]
        );
    }

    #[test]
    fn etag_pre_epoch() {
        let before = UNIX_EPOCH - Duration::new(1, 500_000_000);
        assert_eq!(unix_time(before), (-2, 500_000_000));
        assert_eq!(unix_time(UNIX_EPOCH - Duration::from_secs(3)), (-3, 0));
        let t = etag(1, before, 1, None);
        assert_eq!(t.as_str(), "\"1-fffffffffffffffe.1dcd6500-1\"");
    }

    #[test]
    fn no_headers_proceeds() {
        assert_eq!(ev(true, None, None, None, None), Proceed);
        assert_eq!(ev(false, None, None, None, None), Proceed);
    }

    #[test]
    fn if_match() {
        let t = tag();
        assert_eq!(ev(false, Some(&t), None, None, None), Proceed);
        assert_eq!(ev(true, Some("*"), None, None, None), Proceed);
        assert_eq!(ev(true, Some(" * "), None, None, None), Proceed);
        assert_eq!(ev(true, Some("\"other\""), None, None, None), Failed);
        assert_eq!(ev(true, Some(&format!("W/{t}")), None, None, None), Failed);
        assert_eq!(
            ev(true, Some(&format!("\"a\", {t}")), None, None, None),
            Proceed
        );
        assert_eq!(
            ev(true, Some(&format!("\"a\",{t} ,")), None, None, None),
            Proceed
        );
        assert_eq!(
            ev(true, Some(&format!("garbage, {t}")), None, None, None),
            Proceed
        );
        assert_eq!(ev(true, Some(""), None, None, None), Failed);
        assert_eq!(ev(true, Some("\"a\", *"), None, None, None), Failed);
        // Unquoted tag text never matches.
        let bare = t.trim_matches('"');
        assert_eq!(ev(true, Some(bare), None, None, None), Failed);
    }

    #[test]
    fn if_match_overrides_if_unmodified_since() {
        let t = tag();
        // Resource modified after the date, but If-Match passes: IUS ignored.
        assert_eq!(ev(false, Some(&t), None, None, Some(DATE_MINUS_1)), Proceed);
        // If-Match fails even though IUS would pass.
        assert_eq!(
            ev(false, Some("\"x\""), None, None, Some(DATE_PLUS_1)),
            Failed
        );
    }

    #[test]
    fn if_unmodified_since() {
        assert_eq!(ev(false, None, None, None, Some(DATE)), Proceed);
        assert_eq!(ev(false, None, None, None, Some(DATE_PLUS_1)), Proceed);
        assert_eq!(ev(false, None, None, None, Some(DATE_MINUS_1)), Failed);
        assert_eq!(ev(true, None, None, None, Some(DATE_MINUS_1)), Failed);
        // Obsolete formats are valid HTTP-dates too.
        assert_eq!(
            ev(
                false,
                None,
                None,
                None,
                Some(b"Sunday, 06-Nov-94 08:49:36 GMT")
            ),
            Failed
        );
        assert_eq!(
            ev(false, None, None, None, Some(b"Sun Nov  6 08:49:36 1994")),
            Failed
        );
        // Invalid dates are ignored.
        for bad in [
            &b"yesterday"[..],
            b"",
            b"Sun, 06 Nov 1994 08:49:36 GMT, Sun, 06 Nov 1994 08:49:36 GMT",
            b"Mon, 06 Nov 1994 08:49:36 GMT",
            b"Sun, 31 Feb 1994 08:49:36 GMT",
            b"\xff\xfe",
            b"784111776",
        ] {
            assert_eq!(ev(false, None, None, None, Some(bad)), Proceed, "{bad:?}");
        }
    }

    #[test]
    fn if_none_match() {
        let t = tag();
        assert_eq!(ev(true, None, Some(&t), None, None), NotModified);
        assert_eq!(ev(false, None, Some(&t), None, None), Failed);
        // Weak comparison.
        assert_eq!(
            ev(true, None, Some(&format!("W/{t}")), None, None),
            NotModified
        );
        assert_eq!(ev(false, None, Some(&format!("W/{t}")), None, None), Failed);
        assert_eq!(ev(true, None, Some("*"), None, None), NotModified);
        assert_eq!(ev(false, None, Some("*"), None, None), Failed);
        assert_eq!(ev(true, None, Some("\"x\", W/\"y\""), None, None), Proceed);
        assert_eq!(
            ev(
                true,
                None,
                Some(&format!("\"x\" , W/\"y\",\t{t}")),
                None,
                None
            ),
            NotModified
        );
        assert_eq!(ev(true, None, Some(""), None, None), Proceed);
        // `w/` is not the weak prefix.
        assert_eq!(ev(true, None, Some(&format!("w/{t}")), None, None), Proceed);
    }

    #[test]
    fn if_none_match_overrides_if_modified_since() {
        // Tag differs: IMS must not be consulted even though it would 304.
        assert_eq!(
            ev(true, None, Some("\"x\""), Some(DATE_PLUS_1), None),
            Proceed
        );
        let t = tag();
        // Tag matches: 304 even though IMS says modified.
        assert_eq!(
            ev(true, None, Some(&t), Some(DATE_MINUS_1), None),
            NotModified
        );
    }

    #[test]
    fn if_modified_since() {
        // Sub-second part of mtime is ignored.
        assert_eq!(ev(true, None, None, Some(DATE), None), NotModified);
        assert_eq!(ev(true, None, None, Some(DATE_PLUS_1), None), NotModified);
        assert_eq!(ev(true, None, None, Some(DATE_MINUS_1), None), Proceed);
        // Only for GET/HEAD.
        assert_eq!(ev(false, None, None, Some(DATE), None), Proceed);
        // Invalid dates are ignored.
        assert_eq!(ev(true, None, None, Some(b"not a date"), None), Proceed);
        assert_eq!(
            ev(
                true,
                None,
                None,
                Some(b" Sun, 06 Nov 1994 08:49:37 GMT "),
                None
            ),
            NotModified
        );
    }

    #[test]
    fn full_precedence_chain() {
        let t = tag();
        // IUS failing wins over a matching If-None-Match.
        assert_eq!(ev(true, None, Some(&t), None, Some(DATE_MINUS_1)), Failed);
        // All pass -> the INM decides.
        assert_eq!(
            ev(
                true,
                Some(&t),
                Some(&t),
                Some(DATE_MINUS_1),
                Some(DATE_MINUS_1)
            ),
            NotModified
        );
        assert_eq!(
            ev(true, Some("*"), Some("\"nope\""), Some(DATE), Some(DATE)),
            Proceed
        );
    }

    #[test]
    fn pre_epoch_resource() {
        let old = Validators::new(1, UNIX_EPOCH - Duration::from_secs(10), 1, None);
        let r = evaluate(
            true,
            None,
            None,
            Some(b"Thu, 01 Jan 1970 00:00:00 GMT"),
            None,
            &old,
        );
        assert_eq!(r, NotModified);
        let r = evaluate(
            false,
            None,
            None,
            None,
            Some(b"Thu, 01 Jan 1970 00:00:00 GMT"),
            &old,
        );
        assert_eq!(r, Proceed);
        assert!(!if_range_allows(b"Thu, 01 Jan 1970 00:00:00 GMT", &old));
    }

    #[test]
    fn if_range() {
        let t = tag();
        let v = v();
        assert!(if_range_allows(t.as_bytes(), &v));
        assert!(if_range_allows(format!(" {t}\t").as_bytes(), &v));
        assert!(!if_range_allows(format!("W/{t}").as_bytes(), &v));
        assert!(!if_range_allows(b"\"other\"", &v));
        assert!(!if_range_allows(format!("{t}, {t}").as_bytes(), &v));
        assert!(!if_range_allows(format!("{t} x").as_bytes(), &v));
        assert!(!if_range_allows(b"*", &v));
        assert!(if_range_allows(DATE, &v));
        assert!(!if_range_allows(DATE_PLUS_1, &v));
        assert!(!if_range_allows(DATE_MINUS_1, &v));
        assert!(!if_range_allows(b"", &v));
        assert!(!if_range_allows(b"garbage", &v));
        assert!(!if_range_allows(b"\"unterminated", &v));
        assert!(!if_range_allows(b"\xff", &v));
    }

    #[test]
    fn tag_list_parsing() {
        fn parse(s: &str) -> Vec<Option<EntityTag<'_>>> {
            TagList { rest: s.as_bytes() }.collect()
        }
        let strong = |o: &'static str| {
            Some(EntityTag {
                weak: false,
                opaque: o.as_bytes(),
            })
        };
        let weak = |o: &'static str| {
            Some(EntityTag {
                weak: true,
                opaque: o.as_bytes(),
            })
        };
        assert_eq!(parse(""), []);
        assert_eq!(parse(" , ,\t"), []);
        assert_eq!(parse("\"\""), [strong("\"\"")]);
        assert_eq!(parse("\"a\",W/\"b\""), [strong("\"a\""), weak("\"b\"")]);
        assert_eq!(
            parse("\"a,b\", \"c\""),
            [strong("\"a,b\""), strong("\"c\"")]
        );
        assert_eq!(parse("x, \"c\""), [None, strong("\"c\"")]);
        assert_eq!(parse("\"a\"b, \"c\""), [None, strong("\"c\"")]);
        assert_eq!(parse("\"a b\", \"c\""), [None, strong("\"c\"")]);
        assert_eq!(parse("W/ \"a\""), [None]);
        assert_eq!(parse("W/"), [None]);
        assert_eq!(parse("\""), [None]);
        assert_eq!(parse("\"abc"), [None]);
        assert_eq!(parse("*"), [None]);
        assert_eq!(parse("\"\u{e9}\""), [strong("\"\u{e9}\"")]);
    }

    #[test]
    fn http_date_writer() {
        use crate::http::date::push_http_date;
        let mut out = Vec::new();
        push_http_date(mtime(), &mut out);
        assert_eq!(out, DATE);
        out.clear();
        push_http_date(UNIX_EPOCH - Duration::from_secs(5), &mut out);
        assert_eq!(out, b"Thu, 01 Jan 1970 00:00:00 GMT");
        out.clear();
        push_http_date(UNIX_EPOCH + Duration::from_secs(u64::MAX / 4), &mut out);
        assert_eq!(out, b"Fri, 31 Dec 9999 23:59:59 GMT");
        // Round trip through the parser used for If-Modified-Since.
        assert_eq!(parse_date(DATE), Some(T as i64));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn hostile_input_never_panics(
            h in hostile_field([tag().as_bytes(), b"W/\"*, \t\xff\x00;", DATE].concat(), 48),
            get: bool,
        ) {
            let v = v();
            let _ = evaluate(get, Some(&h), Some(&h), Some(&h), Some(&h), &v);
            let _ = evaluate(get, None, Some(&h), Some(&h), Some(&h), &v);
            let _ = evaluate(get, None, None, Some(&h), None, &v);
            let _ = if_range_allows(&h, &v);
        }
    }

    #[test]
    fn very_long_headers() {
        let v = v();
        let quotes = vec![b'"'; 100_001];
        assert_eq!(evaluate(true, Some(&quotes), None, None, None, &v), Failed);
        assert_eq!(evaluate(true, None, Some(&quotes), None, None, &v), Proceed);
    }
}
