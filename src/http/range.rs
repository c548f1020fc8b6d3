//! RFC 9110 §14 byte ranges: turn a `Range` header value into a decision
//! (full 200, 206 with ranges, or 416) and frame `multipart/byteranges`
//! bodies whose length is known exactly up front.
//!
//! Policy, chosen to keep the server cheap and predictable under hostile
//! input:
//!
//! * Anything that is not a well-formed `bytes=` ranges-specifier is
//!   [`RangeOutcome::Ignore`]d, so the client simply gets the full 200.
//! * More than [`MAX_RANGES`] range specs is also ignored rather than
//!   rejected: a 200 costs one pass over the file, whereas honouring
//!   thousands of tiny ranges would amplify a small request into a huge,
//!   seek-heavy multipart response (RFC 9110 §14.2 permits ignoring).
//! * Satisfiable ranges are sorted and overlapping/adjacent ones coalesced
//!   (as nginx does), so a response never repeats bytes.

use super::date::push_u64;
use super::syntax::{parse_decimal, trim_ows};

/// Upper bound on range specs we are willing to honour in one request.
pub const MAX_RANGES: usize = 16;

/// Length of the boundary produced by [`multipart_boundary`].
pub const BOUNDARY_LEN: usize = 20;

/// One resolved byte range; `end` is inclusive, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    /// Byte count for `Content-Length` of a single-range response.
    /// Assumes `start <= end` (always true for ranges from [`evaluate`]).
    pub const fn length(self) -> u64 {
        self.end.saturating_sub(self.start).saturating_add(1)
    }
}

/// Fixed-capacity list of ranges so evaluating a header never allocates.
#[derive(Clone, Copy)]
pub struct Ranges {
    items: [ByteRange; MAX_RANGES],
    len: usize,
}

impl Ranges {
    const fn new() -> Self {
        Ranges {
            items: [ByteRange { start: 0, end: 0 }; MAX_RANGES],
            len: 0,
        }
    }

    /// Returns false (dropping `r`) when full; callers bound the count first.
    fn push(&mut self, r: ByteRange) -> bool {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = r;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [ByteRange] {
        let len = self.len;
        self.items.get_mut(..len).unwrap_or_default()
    }

    fn last_mut(&mut self) -> Option<&mut ByteRange> {
        self.as_mut_slice().last_mut()
    }

    /// The ranges, sorted by start and non-overlapping.
    pub fn as_slice(&self) -> &[ByteRange] {
        self.items.get(..self.len).unwrap_or_default()
    }

    /// Number of ranges; 1 means a plain 206, more means multipart.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Never true for a [`RangeOutcome::Satisfiable`] result.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sum of the range lengths (payload bytes without multipart framing).
    pub fn total_length(&self) -> u64 {
        self.as_slice()
            .iter()
            .fold(0u64, |acc, r| acc.saturating_add(r.length()))
    }
}

impl PartialEq for Ranges {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Ranges {}

impl std::fmt::Debug for Ranges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<'a> IntoIterator for &'a Ranges {
    type Item = &'a ByteRange;
    type IntoIter = std::slice::Iter<'a, ByteRange>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

/// What the server should do with a `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "inline ranges avoid a heap allocation per request; 272 bytes on the stack is cheap"
)]
pub enum RangeOutcome {
    /// Malformed, unknown unit, or too many specs: send the full 200.
    Ignore,
    /// Send 206 with these sorted, coalesced ranges.
    Satisfiable(Ranges),
    /// Valid syntax but nothing overlaps the file: send 416.
    Unsatisfiable,
}

/// A parsed but not yet resolved range-spec.
enum Spec {
    /// `first-` or `first-last`.
    Int(u64, Option<u64>),
    /// `-n`: the last n bytes.
    Suffix(u64),
}

/// Decides how to answer `Range: <header>` for a representation of `size`
/// bytes. Syntax is checked for the whole header before satisfiability, so
/// a malformed header is ignored even when the file is empty.
pub fn evaluate(header: &[u8], size: u64) -> RangeOutcome {
    parse(header, size).unwrap_or(RangeOutcome::Ignore)
}

/// `None` means "ignore the header".
fn parse(header: &[u8], size: u64) -> Option<RangeOutcome> {
    let header = trim_ows(header);
    let eq = header.iter().position(|&b| b == b'=')?;
    let (unit, rest) = header.split_at_checked(eq)?;
    let set = rest.get(1..)?;
    if !trim_ows(unit).eq_ignore_ascii_case(b"bytes") {
        return None;
    }

    let mut specs = 0usize;
    let mut found = Ranges::new();
    // `1#range-spec`: empty list elements are legal and do not count.
    for elem in set.split(|&b| b == b',') {
        let elem = trim_ows(elem);
        if elem.is_empty() {
            continue;
        }
        specs += 1;
        if specs > MAX_RANGES {
            return None;
        }
        if let Some(r) = resolve(parse_spec(elem)?, size) {
            // Cannot overflow: at most MAX_RANGES specs get here.
            found.push(r);
        }
    }
    if specs == 0 {
        return None;
    }
    if found.is_empty() {
        return Some(RangeOutcome::Unsatisfiable);
    }

    found.as_mut_slice().sort_unstable_by_key(|r| r.start);
    let mut merged = Ranges::new();
    for &r in found.as_slice() {
        match merged.last_mut() {
            Some(last) if r.start <= last.end.saturating_add(1) => {
                last.end = last.end.max(r.end);
            }
            _ => {
                merged.push(r);
            }
        }
    }
    Some(RangeOutcome::Satisfiable(merged))
}

fn parse_spec(elem: &[u8]) -> Option<Spec> {
    let dash = elem.iter().position(|&b| b == b'-')?;
    let first = elem.get(..dash)?;
    let last = elem.get(dash + 1..)?;
    if first.is_empty() {
        return Some(Spec::Suffix(parse_decimal(last)?));
    }
    let first = parse_decimal(first)?;
    if last.is_empty() {
        return Some(Spec::Int(first, None));
    }
    let last = parse_decimal(last)?;
    if last < first {
        return None;
    }
    Some(Spec::Int(first, Some(last)))
}

/// Clamps a spec to the file; `None` means this spec is unsatisfiable.
fn resolve(spec: Spec, size: u64) -> Option<ByteRange> {
    let last_byte = size.checked_sub(1)?;
    match spec {
        Spec::Int(first, last) => {
            if first >= size {
                return None;
            }
            let end = last.map_or(last_byte, |l| l.min(last_byte));
            Some(ByteRange { start: first, end })
        }
        Spec::Suffix(0) => None,
        Spec::Suffix(n) => Some(ByteRange {
            start: size - n.min(size),
            end: last_byte,
        }),
    }
}

const fn decimal_len(n: u64) -> u64 {
    match n.checked_ilog10() {
        Some(l) => l as u64 + 1,
        None => 1,
    }
}

/// Writes the `Content-Range` value for a 206: `bytes a-b/size`.
pub fn content_range(r: ByteRange, size: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(b"bytes ");
    push_u64(out, r.start);
    out.push(b'-');
    push_u64(out, r.end);
    out.push(b'/');
    push_u64(out, size);
}

/// Writes the `Content-Range` value a 416 must carry: `bytes */size`.
pub fn unsatisfied_content_range(size: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(b"bytes */");
    push_u64(out, size);
}

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Derives a multipart boundary from caller-supplied entropy (e.g. time and
/// pid), keeping this module free of I/O. Alphanumerics only, so the boundary
/// never needs quoting in `Content-Type`.
pub fn multipart_boundary(seed: u64) -> [u8; BOUNDARY_LEN] {
    let mut state = seed;
    let mut out = [b'0'; BOUNDARY_LEN];
    for slot in &mut out {
        // splitmix64: cheap, and every seed bit affects every output char.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        *slot = ALPHABET
            .get((z % ALPHABET.len() as u64) as usize)
            .copied()
            .unwrap_or(b'0');
    }
    out
}

/// Writes the response `Content-Type` for a multi-range 206:
/// `multipart/byteranges; boundary=BOUNDARY`.
pub fn multipart_content_type(boundary: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"multipart/byteranges; boundary=");
    out.extend_from_slice(boundary);
}

const PART_CT: &[u8] = b"\r\nContent-Type: ";
const PART_CR: &[u8] = b"\r\nContent-Range: bytes ";

/// Writes the framing that precedes each part's bytes:
/// `\r\n--BOUNDARY\r\nContent-Type: ..\r\nContent-Range: bytes a-b/size\r\n\r\n`.
pub fn multipart_part_head(
    boundary: &[u8],
    content_type: &str,
    r: ByteRange,
    size: u64,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(b"\r\n--");
    out.extend_from_slice(boundary);
    out.extend_from_slice(PART_CT);
    out.extend_from_slice(content_type.as_bytes());
    out.extend_from_slice(PART_CR);
    push_u64(out, r.start);
    out.push(b'-');
    push_u64(out, r.end);
    out.push(b'/');
    push_u64(out, size);
    out.extend_from_slice(b"\r\n\r\n");
}

/// Writes the closing delimiter after the last part: `\r\n--BOUNDARY--\r\n`.
pub fn multipart_tail(boundary: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"\r\n--");
    out.extend_from_slice(boundary);
    out.extend_from_slice(b"--\r\n");
}

/// Exact byte length of the multipart body that [`multipart_part_head`],
/// the part payloads and [`multipart_tail`] produce, so the response can
/// carry a precise `Content-Length` instead of chunking.
pub fn multipart_length(
    boundary_len: usize,
    content_type: &str,
    ranges: &[ByteRange],
    size: u64,
) -> u64 {
    let bl = boundary_len as u64;
    let ct = content_type.len() as u64;
    // "\r\n--" + boundary + PART_CT + ct + PART_CR + "/" + size + "\r\n\r\n"
    let fixed_head = (4 + PART_CT.len() + PART_CR.len() + 1 + 4) as u64;
    let head_base = fixed_head
        .saturating_add(bl)
        .saturating_add(ct)
        .saturating_add(decimal_len(size));
    let parts = ranges.iter().fold(0u64, |acc, r| {
        // a + "-" + b, then the payload itself
        acc.saturating_add(head_base)
            .saturating_add(decimal_len(r.start))
            .saturating_add(1)
            .saturating_add(decimal_len(r.end))
            .saturating_add(r.length())
    });
    // "\r\n--" + boundary + "--\r\n"
    parts.saturating_add(bl).saturating_add(8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::syntax::hostile_field;
    use proptest::prelude::*;

    fn br(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    fn sat(header: &str, size: u64) -> Vec<ByteRange> {
        match evaluate(header.as_bytes(), size) {
            RangeOutcome::Satisfiable(r) => r.as_slice().to_vec(),
            other => panic!("{header:?} on {size}: expected satisfiable, got {other:?}"),
        }
    }

    fn outcome(header: &str, size: u64) -> RangeOutcome {
        evaluate(header.as_bytes(), size)
    }

    #[test]
    fn simple_forms() {
        assert_eq!(sat("bytes=0-499", 10_000), [br(0, 499)]);
        assert_eq!(sat("bytes=500-999", 10_000), [br(500, 999)]);
        assert_eq!(sat("bytes=9500-", 10_000), [br(9500, 9999)]);
        assert_eq!(sat("bytes=-500", 10_000), [br(9500, 9999)]);
        assert_eq!(sat("bytes=0-0", 10_000), [br(0, 0)]);
        assert_eq!(sat("bytes=-1", 10_000), [br(9999, 9999)]);
        assert_eq!(sat("bytes=9999-9999", 10_000), [br(9999, 9999)]);
    }

    #[test]
    fn clamping() {
        assert_eq!(sat("bytes=0-99999", 100), [br(0, 99)]);
        assert_eq!(sat("bytes=50-18446744073709551615", 100), [br(50, 99)]);
        assert_eq!(sat("bytes=-1000", 100), [br(0, 99)]);
        assert_eq!(sat("bytes=-100", 100), [br(0, 99)]);
        assert_eq!(sat("bytes=-18446744073709551615", 100), [br(0, 99)]);
    }

    #[test]
    fn unit_and_whitespace_tolerance() {
        assert_eq!(sat("BYTES=0-1", 10), [br(0, 1)]);
        assert_eq!(sat("Bytes=0-1", 10), [br(0, 1)]);
        assert_eq!(sat("bytes = 0-1", 10), [br(0, 1)]);
        assert_eq!(sat(" \tbytes=0-1 \t", 10), [br(0, 1)]);
        assert_eq!(sat("bytes=0-1 ,\t5-6", 10), [br(0, 1), br(5, 6)]);
        assert_eq!(sat("bytes=, ,0-1,,", 10), [br(0, 1)]);
        assert_eq!(sat("bytes=007-008", 10), [br(7, 8)]);
    }

    #[test]
    fn syntax_errors_are_ignored() {
        for h in [
            "",
            "bytes",
            "bytes=",
            "bytes= , ,",
            "bytes=-",
            "bytes=a-b",
            "bytes=1-a",
            "bytes=0-1-2",
            "bytes=0 -1",
            "bytes=0- 1",
            "bytes=+1-2",
            "bytes=-+1",
            "bytes=--1",
            "bytes=5-4",
            "bytes=0-1,5-4",
            "bytes=0x10-0x20",
            "bytes=1e3-",
            "bytes==0-1",
            "bytes=0-1;x",
            "items=0-1",
            "byte=0-1",
            "bytesx=0-1",
            "=0-1",
            "bytes=18446744073709551616-",
            "bytes=0-18446744073709551616",
            "bytes=-18446744073709551616",
            "bytes=0-1,,\u{a0}",
            "bytes=１-2",
        ] {
            assert_eq!(outcome(h, 100), RangeOutcome::Ignore, "{h:?}");
            assert_eq!(outcome(h, 0), RangeOutcome::Ignore, "{h:?} size 0");
        }
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(outcome("bytes=100-", 100), RangeOutcome::Unsatisfiable);
        assert_eq!(outcome("bytes=100-200", 100), RangeOutcome::Unsatisfiable);
        assert_eq!(outcome("bytes=-0", 100), RangeOutcome::Unsatisfiable);
        assert_eq!(
            outcome("bytes=100-, 200-300, -0", 100),
            RangeOutcome::Unsatisfiable
        );
        // Unsatisfiable specs are dropped when others remain.
        assert_eq!(sat("bytes=200-300, 0-0, -0", 100), [br(0, 0)]);
    }

    #[test]
    fn empty_file() {
        for h in [
            "bytes=0-",
            "bytes=0-0",
            "bytes=-1",
            "bytes=-0",
            "bytes=5-10",
        ] {
            assert_eq!(outcome(h, 0), RangeOutcome::Unsatisfiable, "{h:?}");
        }
        // Syntax is checked before satisfiability.
        assert_eq!(outcome("bytes=0-, x", 0), RangeOutcome::Ignore);
    }

    #[test]
    fn coalescing_and_sorting() {
        assert_eq!(sat("bytes=5-9,0-4", 100), [br(0, 9)]); // adjacent
        assert_eq!(sat("bytes=0-10,5-20", 100), [br(0, 20)]); // overlap
        assert_eq!(sat("bytes=0-50,10-20", 100), [br(0, 50)]); // contained
        assert_eq!(
            sat("bytes=50-60,0-1,20-30", 100),
            [br(0, 1), br(20, 30), br(50, 60)]
        );
        assert_eq!(sat("bytes=0-1,3-4", 100), [br(0, 1), br(3, 4)]); // gap of one
        assert_eq!(sat("bytes=-10,80-", 100), [br(80, 99)]);
        assert_eq!(sat("bytes=0-,-1", 100), [br(0, 99)]); // whole file kept
        assert_eq!(sat("bytes=0-0,0-0,0-0", 100), [br(0, 0)]);
        assert_eq!(sat("bytes=0-5,6-10,11-", 100), [br(0, 99)]);
    }

    #[test]
    fn max_ranges_guard() {
        let ok: Vec<String> = (0..MAX_RANGES)
            .map(|i| format!("{}-{}", i * 2, i * 2))
            .collect();
        let h = format!("bytes={}", ok.join(","));
        assert_eq!(sat(&h, 1000).len(), MAX_RANGES);

        let too_many: Vec<String> = (0..=MAX_RANGES)
            .map(|i| format!("{}-{}", i * 2, i * 2))
            .collect();
        let h = format!("bytes={}", too_many.join(","));
        assert_eq!(outcome(&h, 1000), RangeOutcome::Ignore);

        // Empty elements do not count towards the limit.
        let h = format!("bytes={},,,,,,,,,,,,,,,,,,,,", ok.join(","));
        assert_eq!(sat(&h, 1000).len(), MAX_RANGES);

        // Unsatisfiable specs still count.
        let h = format!("bytes={},5000-", ok.join(","));
        assert_eq!(outcome(&h, 1000), RangeOutcome::Ignore);
    }

    #[test]
    fn ranges_helpers() {
        let RangeOutcome::Satisfiable(r) = outcome("bytes=0-9,20-29", 100) else {
            panic!("expected satisfiable");
        };
        assert_eq!(r.len(), 2);
        assert!(!r.is_empty());
        assert_eq!(r.total_length(), 20);
        assert_eq!((&r).into_iter().count(), 2);
        assert_eq!(format!("{r:?}"), format!("{:?}", [br(0, 9), br(20, 29)]));
        assert_eq!(br(5, 5).length(), 1);
        assert_eq!(br(0, u64::MAX - 1).length(), u64::MAX);
    }

    #[test]
    fn content_range_formatting() {
        let mut out = Vec::new();
        content_range(br(0, 499), 1234, &mut out);
        assert_eq!(out, b"bytes 0-499/1234");
        out.clear();
        content_range(br(u64::MAX - 1, u64::MAX - 1), u64::MAX, &mut out);
        assert_eq!(
            out,
            b"bytes 18446744073709551614-18446744073709551614/18446744073709551615"
        );
        out.clear();
        unsatisfied_content_range(0, &mut out);
        assert_eq!(out, b"bytes */0");
        out.clear();
        unsatisfied_content_range(987_654_321, &mut out);
        assert_eq!(out, b"bytes */987654321");
    }

    #[test]
    fn decimal_helpers() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            12345,
            u64::MAX / 10,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
            assert_eq!(decimal_len(n), n.to_string().len() as u64);
        }
    }

    #[test]
    fn boundary_is_alphanumeric_and_seed_dependent() {
        let a = multipart_boundary(0);
        let b = multipart_boundary(1);
        let c = multipart_boundary(u64::MAX);
        for x in [a, b, c] {
            assert!(x.iter().all(u8::is_ascii_alphanumeric));
        }
        assert_ne!(a, b);
        assert_ne!(b, c);
        assert_eq!(a, multipart_boundary(0));
        let mut ct = Vec::new();
        multipart_content_type(&a, &mut ct);
        assert!(ct.starts_with(b"multipart/byteranges; boundary="));
        assert!(ct.ends_with(&a));
    }

    #[test]
    fn part_head_and_tail_format() {
        let mut out = Vec::new();
        multipart_part_head(b"XYZ", "text/plain", br(0, 4), 10, &mut out);
        assert_eq!(
            out,
            b"\r\n--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-4/10\r\n\r\n"
        );
        out.clear();
        multipart_tail(b"XYZ", &mut out);
        assert_eq!(out, b"\r\n--XYZ--\r\n");
    }

    fn assemble(boundary: &[u8], ct: &str, ranges: &[ByteRange], file: &[u8]) -> Vec<u8> {
        let size = file.len() as u64;
        let mut out = Vec::new();
        for r in ranges {
            multipart_part_head(boundary, ct, *r, size, &mut out);
            out.extend_from_slice(&file[r.start as usize..=r.end as usize]);
        }
        multipart_tail(boundary, &mut out);
        out
    }

    #[test]
    fn multipart_length_is_exact() {
        let file: Vec<u8> = (0..=255u8).cycle().take(12_345).collect();
        let size = file.len() as u64;
        let boundary = multipart_boundary(42);
        for (h, ct) in [
            ("bytes=0-0,2-2", "text/plain"),
            ("bytes=0-9,100-199,-5", "application/octet-stream"),
            (
                "bytes=1-1,3-3,5-5,7-7,9-9,11-11,13-13,15-15,17-17,19-19",
                "",
            ),
            ("bytes=9-99,999-9999,10000-", "text/html; charset=utf-8"),
        ] {
            let RangeOutcome::Satisfiable(r) = evaluate(h.as_bytes(), size) else {
                panic!("{h}");
            };
            let body = assemble(&boundary, ct, r.as_slice(), &file);
            assert_eq!(
                multipart_length(boundary.len(), ct, r.as_slice(), size),
                body.len() as u64,
                "{h}"
            );
        }
        // Other boundary lengths and no parts at all.
        for b in [&b""[..], b"a", b"0123456789012345678901234567890123456789"] {
            let ranges = [br(0, 0), br(10, 12_344)];
            let body = assemble(b, "x/y", &ranges, &file);
            assert_eq!(
                multipart_length(b.len(), "x/y", &ranges, size),
                body.len() as u64
            );
            let body = assemble(b, "x/y", &[], &file);
            assert_eq!(
                multipart_length(b.len(), "x/y", &[], size),
                body.len() as u64
            );
        }
    }

    #[test]
    fn multipart_length_saturates_instead_of_overflowing() {
        let ranges = [br(0, u64::MAX - 1), br(0, u64::MAX - 1)];
        assert_eq!(
            multipart_length(usize::MAX, "a", &ranges, u64::MAX),
            u64::MAX
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        /// Whatever the header, a satisfiable answer is a short list of sorted,
        /// disjoint, non-adjacent ranges inside the file.
        #[test]
        fn hostile_input_never_panics(
            set in hostile_field(&b"bytes=0123456789-, \t*BYTES\xff\x00;"[..], 40)
        ) {
            let h = [&b"bytes="[..], &set].concat();
            for size in [0, 1, 2, 100, u64::MAX] {
                if let RangeOutcome::Satisfiable(r) = evaluate(&h, size) {
                    let s = r.as_slice();
                    prop_assert!(!s.is_empty() && s.len() <= MAX_RANGES);
                    for w in s.windows(2) {
                        prop_assert!(w[0].end.saturating_add(1) < w[1].start, "{h:?}");
                    }
                    for x in s {
                        prop_assert!(x.start <= x.end && x.end < size, "{h:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn very_long_headers() {
        let long = [b'9'; 10_000];
        assert_eq!(evaluate(&long, 10), RangeOutcome::Ignore);
        let mut commas = b"bytes=0-1".to_vec();
        commas.extend(std::iter::repeat_n(b',', 100_000));
        assert_eq!(
            evaluate(&commas, 10),
            RangeOutcome::Satisfiable({
                let mut r = Ranges::new();
                r.push(br(0, 1));
                r
            })
        );
    }
}
