//! Differential test of the request parser against `httparse` and the RFCs.
//!
//! For each input, [`ours`] is what `request::parse` decides (a head, "need more bytes" or
//! a status) and [`oracle`] is what an independent judge decides: `httparse` for the
//! syntax, then a small semantic layer written here from RFC 9112 and RFC 9110 (one
//! `Host`, a plain `Content-Length`, no `Transfer-Encoding`, supported versions, target
//! forms, field values without controls). The oracle never calls our parser code.
//!
//! Where the RFC and `httparse` differ, the RFC decides. Where we deliberately differ from
//! a strict reading, the difference is one of the named `I_*` allowances below, each
//! with the RFC section that permits it: that list is the one in docs/testing.md. Anything else is
//! a disagreement, and a disagreement where we are more lenient than the RFC is a bug in
//! the parser, never a reason to add an allowance.
//!
//! Inputs come from a grammar biased to hostile cases (odd methods, target forms and
//! versions, bare CR and LF, folding, controls, duplicate and conflicting framing
//! fields), from truncations and byte mutations of those, from random bytes, and from a
//! table of hand-written heads. `PROPTEST_CASES` overrides the number of generated cases.

use super::request::{self, MAX_BODY, MAX_FIELDS, ParseError, Parsed};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

// ---------------------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------------------

/// An accepted head, as both sides describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Accepted {
    method: Vec<u8>,
    target: Vec<u8>,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    minor: u8,
    content_length: u64,
    keep_alive: bool,
    /// Bytes of the buffer that belong to the head (leading empty lines included).
    len: usize,
}

/// What our parser decided.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ours {
    Accept(Accepted),
    Partial,
    Reject(u16),
}

fn ours(buf: &[u8]) -> Ours {
    match request::parse(buf) {
        Ok(Parsed::Complete { request: r, len }) => Ours::Accept(Accepted {
            method: r.method_raw.to_vec(),
            target: r.target.to_vec(),
            minor: r.minor,
            content_length: r.content_length,
            keep_alive: r.keep_alive,
            len,
        }),
        Ok(Parsed::Partial) => Ours::Partial,
        Err(ParseError(status)) => Ours::Reject(status.code()),
    }
}

/// What the oracle allows. Usually exactly one of `partial`, `accept` and `reject`
/// applies; an intentional difference can allow an acceptance and a refusal both.
#[derive(Debug, Default, Clone)]
struct Expected {
    /// `httparse` needs more bytes.
    partial: bool,
    /// `httparse` found the whole head (so every rule below has been applied).
    head_complete: bool,
    /// The head to accept, if accepting is right.
    accept: Option<Accepted>,
    /// The statuses a refusal may carry.
    reject: Vec<u16>,
    /// The rules that fired and the allowances used, for the failure message.
    why: Vec<&'static str>,
    /// Every refusal noted, with its reason (statuses repeat here).
    refusals: Vec<(u16, &'static str)>,
}

impl Expected {
    fn refuse(&mut self, status: u16, why: &'static str) {
        self.refusals.push((status, why));
        if !self.reject.contains(&status) {
            self.reject.push(status);
        }
        self.note(why);
    }

    fn note(&mut self, why: &'static str) {
        if !self.why.contains(&why) {
            self.why.push(why);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The RFC rules the oracle enforces (each a hard refusal)
// ---------------------------------------------------------------------------------------

const R_SYNTAX: &str = "RFC 9112 §3, §5: httparse refuses the request line or a field line";
const R_TOO_MANY: &str = "limit: more than MAX_FIELDS field lines (431, RFC 6585 §5)";
const R_BODY_LIMIT: &str = "limit: Content-Length over MAX_BODY (413, RFC 9110 §15.5.14)";
const R_VERSION_GARBAGE: &str = "RFC 9112 §2.3: not HTTP-name \"/\" DIGIT \".\" DIGIT";
const R_VERSION_MAJOR: &str = "RFC 9110 §15.6.6: major version other than 1 is 505";
const R_TARGET_FORM: &str =
    "RFC 9112 §3.2: target is not origin-form, absolute-form or asterisk-form";
const R_HTTP_EMPTY_HOST: &str = "RFC 9110 §4.2.1: http(s) URI with an empty host is invalid";
/// Not a refusal the RFC requires, one it recommends: either answer is right.
const R_HTTP_USERINFO: &str =
    "RFC 9110 §4.2.4: userinfo in an http(s) URI SHOULD be treated as an error";
const R_HOST_MISSING: &str = "RFC 9112 §3.2: HTTP/1.1 request without Host";
const R_HOST_TWICE: &str = "RFC 9112 §3.2: more than one Host field line";
const R_HOST_INVALID: &str = "RFC 9112 §3.2, RFC 9110 §7.2: Host is not uri-host [\":\" port]";
const R_CL_TWICE: &str = "RFC 9112 §6.3 (5), RFC 9110 §8.6: more than one Content-Length";
const R_CL_INVALID: &str =
    "RFC 9112 §6.3 (5), RFC 9110 §8.6: Content-Length not 1*DIGIT (at most 18)";
const R_TE_AND_CL: &str = "RFC 9112 §6.1, §6.3 (3): Transfer-Encoding with Content-Length";
const R_TE_CHUNKED: &str = "RFC 9110 §15.6.2: chunked request body not implemented (501)";
const R_TE_NOT_CHUNKED: &str =
    "RFC 9112 §6.3 (4), §6.1: final coding not chunked, or TE in HTTP/1.0";
const R_VALUE_CTL: &str = "RFC 9110 §5.5, RFC 9112 §5: control character in a field value";

// ---------------------------------------------------------------------------------------
// Intentional differences: the list in docs/testing.md
// ---------------------------------------------------------------------------------------

/// `HTTP/1.2` to `HTTP/1.9` are answered as HTTP/1.1 (RFC 9110 §6.2: a recipient
/// treats a later minor version of its major as the highest it supports; RFC 9112 §2.3).
/// httparse refuses them as a version error; the oracle reads them as HTTP/1.1.
const I_LATER_MINOR: &str = "I_LATER_MINOR: HTTP/1.x (x >= 2) is HTTP/1.1 (RFC 9110 §6.2)";

/// `HTTP/2.0` and later in an HTTP/1 request line are 505 (RFC 9110 §15.6.6); httparse
/// only says "version error". Both refuse; the oracle maps the error to 505.
const I_MAJOR_505: &str = "I_MAJOR_505: HTTP/2.0+ is 505, httparse: version error";

/// `HTTP/0.x` is 400 (docs/http.md: "HTTP/0.9 ... 400"); RFC 9110 §15.6.6 would answer 505.
/// Both refuse and close.
const I_HTTP0_400: &str = "I_HTTP0_400: HTTP/0.x refused with 400, not 505";

/// Request-target bytes are not checked against RFC 3986 beyond "visible": `"`, `<`,
/// `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`, `#`, a bad `%` escape and raw bytes >= 0x80
/// (UTF-8 or not) pass the parser. RFC 9112 §3 makes refusing an invalid request-line a
/// SHOULD; the handler refuses bad `%` escapes and `%00` (400), looks non-UTF-8 paths up
/// as raw bytes (docs/http.md) and stops the path at `?` and `#`. httparse also takes every
/// visible byte but refuses a target that is not UTF-8: the oracle then looks at the
/// target with its bytes >= 0x80 replaced.
const I_TARGET_BYTES: &str = "I_TARGET_BYTES: visible and >= 0x80 target bytes not checked against RFC 3986 (RFC 9112 §3 SHOULD)";

/// An absolute-form target must be `scheme://host[:port]...` whatever the scheme, as
/// every `http` and `https` URI is (RFC 9110 §4.2): `GET mailto:x`, `GET file:///x`,
/// `GET ftp://u@h/` and authority-form `host:80` (RFC 9112 §3.2.3, CONNECT only, which
/// we do not implement) are 400, though RFC 3986 calls them absolute URIs.
const I_ABSOLUTE_HOST: &str =
    "I_ABSOLUTE_HOST: absolute-form must be scheme://host[:port] (RFC 9110 §4.2)";

/// httparse refuses at the first bad byte; we judge a line when its LF has arrived
/// (after refusing a first byte that cannot start a method). The RFC says nothing about
/// when: once the head is ended (the input plus CRLF CRLF) we must refuse too.
const I_WAIT_FOR_LINE_END: &str = "I_WAIT_FOR_LINE_END: refusal waits for the line's end";

/// We refuse as soon as a complete line dooms the head (a second `Host`, a bad
/// `Content-Length`), before the empty line that ends it; httparse still says partial.
/// The refusal must be one the oracle makes once the head is ended there.
const I_REFUSE_EARLY: &str = "I_REFUSE_EARLY: a doomed head is refused before it ends";

/// With more than `MAX_FIELDS` field lines, an error in one of the first `MAX_FIELDS`
/// may be found before the limit (we check each line as it comes): its status is allowed
/// beside 431.
const I_LIMIT_ORDER: &str = "I_LIMIT_ORDER: a field error before the 101st field beside 431";

// ---------------------------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------------------------

/// The offset of a piece of `buf` that httparse handed back as a `&str` into it.
fn offset_in(buf: &[u8], part: &str) -> usize {
    part.as_ptr() as usize - buf.as_ptr() as usize
}

/// httparse's own request-target bytes (visible ASCII and >= 0x80).
fn httparse_uri_byte(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) || b >= 0x80
}

/// What to change in the input before asking httparse again.
enum Step {
    Done,
    /// Replace the bytes >= 0x80 of the target at this range (httparse wants UTF-8).
    RawTarget(std::ops::Range<usize>),
    /// Make the version at this offset `HTTP/1.1` (it was `HTTP/1.x`, x >= 2).
    LaterMinor(usize),
}

fn oracle(buf: &[u8]) -> Expected {
    let mut work = buf.to_vec();
    let mut exp = Expected::default();
    let mut raw_target: Option<Vec<u8>> = None;
    // Each fix-up applies at most once, so three rounds always finish.
    for _ in 0..3 {
        let step = oracle_round(&work, raw_target.as_deref(), &mut exp);
        match step {
            Step::Done => return exp,
            Step::RawTarget(range) => {
                exp.note(I_TARGET_BYTES);
                raw_target = Some(work[range.clone()].to_vec());
                for b in &mut work[range] {
                    if *b >= 0x80 {
                        *b = b'x';
                    }
                }
            }
            Step::LaterMinor(at) => {
                exp.note(I_LATER_MINOR);
                work[at..at + 8].copy_from_slice(b"HTTP/1.1");
            }
        }
    }
    unreachable!("the oracle's fix-ups did not converge on {}", show(buf))
}

fn oracle_round(work: &[u8], raw_target: Option<&[u8]>, exp: &mut Expected) -> Step {
    // Exactly MAX_FIELDS slots: httparse says TooManyHeaders when a 101st field line has
    // been read, where we answer 431, so the array is the oracle's model of the limit.
    let mut headers = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(work) {
        Ok(httparse::Status::Partial) => exp.partial = true,
        Ok(httparse::Status::Complete(len)) => {
            exp.head_complete = true;
            let head = Head {
                method: req.method.unwrap().as_bytes(),
                target: raw_target.unwrap_or(req.path.unwrap().as_bytes()),
                minor: req.version.unwrap(),
                fields: &*req.headers,
                len,
            };
            semantics(&head, exp);
        }
        Err(httparse::Error::Token) if req.method.is_some() && req.path.is_none() => {
            // The request-target failed: visible bytes up to a space that are not UTF-8
            // are I_TARGET_BYTES; anything else is a syntax error.
            let method = req.method.unwrap();
            let start = offset_in(work, method) + method.len() + 1;
            let end = start
                + work[start..]
                    .iter()
                    .take_while(|&&b| httparse_uri_byte(b))
                    .count();
            if end > start
                && work.get(end) == Some(&b' ')
                && std::str::from_utf8(&work[start..end]).is_err()
            {
                return Step::RawTarget(start..end);
            }
            exp.refuse(400, R_SYNTAX);
        }
        Err(httparse::Error::Version) if req.path.is_some() => {
            let path = req.path.unwrap();
            let at = offset_in(work, path) + path.len() + 1;
            if version_error(work, at, exp) {
                return Step::LaterMinor(at);
            }
        }
        Err(httparse::Error::TooManyHeaders) => {
            exp.refuse(431, R_TOO_MANY);
            // I_LIMIT_ORDER: judge the request line and the first MAX_FIELDS fields, ended
            // there, by the rules we apply line by line (the others need the whole head,
            // which we never reach). httparse has read those lines, so each ends at a LF.
            const NEED_WHOLE_HEAD: [&str; 5] = [
                R_HOST_MISSING,
                R_TE_AND_CL,
                R_TE_CHUNKED,
                R_TE_NOT_CHUNKED,
                R_BODY_LIMIT,
            ];
            let mut start = 0;
            while let Some(n) = [&b"\r\n"[..], b"\n"]
                .iter()
                .find(|e| work[start..].starts_with(e))
            {
                start += n.len();
            }
            let end = start
                + work[start..]
                    .iter()
                    .enumerate()
                    .filter(|&(_, &b)| b == b'\n')
                    .nth(MAX_FIELDS)
                    .map(|(i, _)| i + 1)
                    .unwrap();
            let cut = [&work[..end], b"\r\n"].concat();
            let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
            let mut first_lines = httparse::Request::new(&mut fields);
            let Ok(httparse::Status::Complete(len)) = first_lines.parse(&cut) else {
                unreachable!("the first fields of {} do not parse", show(work));
            };
            let mut first = Expected::default();
            let head = Head {
                method: first_lines.method.unwrap().as_bytes(),
                target: raw_target.unwrap_or(first_lines.path.unwrap().as_bytes()),
                minor: first_lines.version.unwrap(),
                fields: &*first_lines.headers,
                len,
            };
            semantics(&head, &mut first);
            for (status, why) in first.refusals {
                if !NEED_WHOLE_HEAD.contains(&why) {
                    exp.refuse(status, I_LIMIT_ORDER);
                }
            }
        }
        Err(_) => exp.refuse(400, R_SYNTAX),
    }
    Step::Done
}

/// httparse refused the 8 bytes at `at` as a version: say why, per RFC 9112 §2.3.
/// True for `HTTP/1.x` (x >= 2), which the caller reads again as HTTP/1.1.
fn version_error(work: &[u8], at: usize, exp: &mut Expected) -> bool {
    let v = &work[at..];
    let well_formed = v.len() >= 8
        && v.starts_with(b"HTTP/")
        && v[5].is_ascii_digit()
        && v[6] == b'.'
        && v[7].is_ascii_digit();
    // The version must also end the line (or the input, which may go on with a CRLF).
    let ends_line =
        well_formed && matches!(&v[8..], [] | [b'\r'] | [b'\r', b'\n', ..] | [b'\n', ..]);
    if !ends_line {
        exp.refuse(400, R_VERSION_GARBAGE);
    } else if v[5] == b'1' {
        return true; // HTTP/1.0 and HTTP/1.1 are no version error
    } else if v[5] == b'0' {
        exp.refuse(505, R_VERSION_MAJOR);
        exp.refuse(400, I_HTTP0_400);
    } else {
        exp.refuse(505, R_VERSION_MAJOR);
        exp.note(I_MAJOR_505);
    }
    false
}

/// A head httparse accepted.
struct Head<'a> {
    method: &'a [u8],
    target: &'a [u8],
    minor: u8,
    fields: &'a [httparse::Header<'a>],
    len: usize,
}

/// The semantic layer: RFC 9112 and RFC 9110 rules httparse leaves to its caller.
fn semantics(head: &Head<'_>, exp: &mut Expected) {
    let mut allowances: Vec<(u16, &'static str)> = Vec::new();
    let hard_before = exp.refusals.len();

    // Request target (RFC 9112 §3.2).
    match target_form(head.target) {
        Form::Origin | Form::Asterisk => {}
        Form::Absolute {
            http,
            empty_host,
            userinfo,
        } => {
            if http && empty_host {
                exp.refuse(400, R_HTTP_EMPTY_HOST);
            }
            if http && userinfo {
                allowances.push((400, R_HTTP_USERINFO));
            }
            if !http && (empty_host || userinfo) {
                allowances.push((400, I_ABSOLUTE_HOST));
            }
        }
        Form::AbsoluteWithoutAuthority => allowances.push((400, I_ABSOLUTE_HOST)),
        Form::Invalid => exp.refuse(400, R_TARGET_FORM),
    }
    if !rfc3986_target_bytes(head.target) {
        allowances.push((400, I_TARGET_BYTES));
    }

    let named = |name: &'static str| {
        head.fields
            .iter()
            .filter(move |f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value)
    };

    // Field values: field-vchar, SP and HTAB only (httparse already agrees).
    if head
        .fields
        .iter()
        .any(|f| f.value.iter().any(|&b| is_ctl(b)))
    {
        exp.refuse(400, R_VALUE_CTL);
    }

    // Host (RFC 9112 §3.2): exactly one in HTTP/1.1, never two, always valid.
    let hosts: Vec<&[u8]> = named("host").collect();
    if hosts.len() > 1 {
        exp.refuse(400, R_HOST_TWICE);
    }
    if hosts.is_empty() && head.minor == 1 {
        exp.refuse(400, R_HOST_MISSING);
    }
    if hosts.iter().any(|h| !valid_host(h)) {
        exp.refuse(400, R_HOST_INVALID);
    }

    // Content-Length (RFC 9112 §6.3, RFC 9110 §8.6): one field, 1*DIGIT.
    let lengths: Vec<&[u8]> = named("content-length").collect();
    let mut content_length = 0;
    if lengths.len() > 1 {
        exp.refuse(400, R_CL_TWICE);
    }
    for value in &lengths {
        match plain_number(value) {
            Some(n) if n > MAX_BODY => exp.refuse(413, R_BODY_LIMIT),
            Some(n) => content_length = n,
            None => exp.refuse(400, R_CL_INVALID),
        }
    }

    // Transfer-Encoding (RFC 9112 §6.1, §6.3): we take no request bodies.
    let codings: Vec<&[u8]> = named("transfer-encoding")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(|c| c.trim_ascii())
        .filter(|c| !c.is_empty())
        .collect();
    if named("transfer-encoding").next().is_some() {
        if !lengths.is_empty() {
            exp.refuse(400, R_TE_AND_CL);
        } else if head.minor == 1
            && codings
                .last()
                .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"))
        {
            exp.refuse(501, R_TE_CHUNKED);
        } else {
            exp.refuse(400, R_TE_NOT_CHUNKED);
        }
    }

    // Persistence (RFC 9112 §9.3).
    let options = || {
        named("connection")
            .flat_map(|v| v.split(|&b| b == b','))
            .map(|o| o.trim_ascii())
    };
    let close = options().any(|o| o.eq_ignore_ascii_case(b"close"));
    let keep_alive = options().any(|o| o.eq_ignore_ascii_case(b"keep-alive"));
    let keep_alive = !close && (head.minor == 1 || keep_alive);

    let accepted = exp.refusals.len() == hard_before;
    // An allowance only matters where it adds something: a refusal beside an acceptance,
    // or another code beside a refusal.
    for (status, why) in allowances {
        exp.refuse(status, why);
    }
    if accepted {
        exp.accept = Some(Accepted {
            method: head.method.to_vec(),
            target: head.target.to_vec(),
            minor: head.minor,
            content_length,
            keep_alive,
            len: head.len,
        });
    }
}

/// CTL other than HTAB: 0x00-0x08, 0x0A-0x1F, 0x7F.
fn is_ctl(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

enum Form {
    Origin,
    Asterisk,
    /// `scheme://authority...`
    Absolute {
        http: bool,
        empty_host: bool,
        userinfo: bool,
    },
    /// `scheme:...` without `//`, authority-form `host:port` among them.
    AbsoluteWithoutAuthority,
    Invalid,
}

/// RFC 9112 §3.2: origin-form, absolute-form (RFC 3986 absolute-URI) or `*`.
fn target_form(t: &[u8]) -> Form {
    if t.first() == Some(&b'/') {
        return Form::Origin;
    }
    if t == b"*" {
        return Form::Asterisk;
    }
    // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1)
    let Some(colon) = t.iter().position(|&b| b == b':') else {
        return Form::Invalid;
    };
    let scheme = &t[..colon];
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return Form::Invalid;
    }
    let Some(rest) = t[colon + 1..].strip_prefix(b"//") else {
        return Form::AbsoluteWithoutAuthority;
    };
    let authority_end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host_port = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    Form::Absolute {
        http: scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https"),
        empty_host: host_port.is_empty() || host_port[0] == b':',
        userinfo: host_port.len() < authority.len(),
    }
}

/// Every byte an RFC 3986 request-target may hold, with well-formed `%` escapes.
fn rfc3986_target_bytes(t: &[u8]) -> bool {
    if t == b"*" {
        return true;
    }
    let absolute = t.first() != Some(&b'/');
    well_formed_escapes(t)
        && t.iter().all(|&b| {
            unreserved(b)
                || sub_delim(b)
                || matches!(b, b':' | b'@' | b'/' | b'?' | b'%')
                || (absolute && matches!(b, b'[' | b']'))
        })
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

fn well_formed_escapes(s: &[u8]) -> bool {
    s.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || (s.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

/// RFC 9110 §7.2: Host = uri-host [ ":" port ], empty allowed; as characters: unreserved,
/// sub-delims, pct-encoded, ":", "[" and "]" (reg-name, IPv4address, IP-literal, port).
fn valid_host(v: &[u8]) -> bool {
    well_formed_escapes(v)
        && v.iter()
            .all(|&b| unreserved(b) || sub_delim(b) || matches!(b, b'%' | b':' | b'[' | b']'))
}

/// 1*DIGIT, at most 18 digits (so it fits a u64 with room), nothing else.
fn plain_number(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0')))
}

// ---------------------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------------------

/// The same input with its line and head ended: what the two sides say once the line
/// is over (a CR the input ends in becomes part of the CRLF).
fn ended(buf: &[u8]) -> Vec<u8> {
    let mut ext = buf.to_vec();
    if ext.last() != Some(&b'\r') {
        ext.push(b'\r');
    }
    ext.extend_from_slice(b"\n\r\n");
    ext
}

/// Ok, or a description of the disagreement.
fn compare(buf: &[u8]) -> Result<(), String> {
    let got = ours(buf);
    let exp = oracle(buf);
    let agrees = match &got {
        Ours::Accept(a) => exp.accept.as_ref() == Some(a),
        Ours::Reject(s) => exp.reject.contains(s),
        Ours::Partial => exp.partial,
    };
    if agrees {
        return Ok(());
    }
    // The two allowances about *when* a refusal comes.
    match &got {
        Ours::Partial if !exp.head_complete && exp.accept.is_none() && !exp.partial => {
            // I_WAIT_FOR_LINE_END
            let later = ours(&ended(buf));
            if matches!(later, Ours::Reject(s) if exp.reject.contains(&s)) {
                return Ok(());
            }
            let note = format!(
                "{I_WAIT_FOR_LINE_END}: with the line and head ended ours says {}",
                show_ours(&later)
            );
            return Err(describe(buf, &got, &exp, Some(note)));
        }
        Ours::Reject(s) if exp.partial => {
            // I_REFUSE_EARLY
            let later = oracle(&ended(buf));
            if later.reject.contains(s) {
                return Ok(());
            }
            let note = format!(
                "{I_REFUSE_EARLY}: with the line and head ended the oracle says {}",
                show_expected(&later)
            );
            return Err(describe(buf, &got, &exp, Some(note)));
        }
        _ => {}
    }
    Err(describe(buf, &got, &exp, None))
}

fn describe(buf: &[u8], got: &Ours, exp: &Expected, note: Option<String>) -> String {
    let mut s = format!(
        "input:  \"{}\"\nours:   {}\noracle: {}",
        show(buf),
        show_ours(got),
        show_expected(exp)
    );
    for why in &exp.why {
        s += &format!("\n  - {why}");
    }
    if let Some(note) = note {
        s += &format!("\n  {note}");
    }
    s
}

fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

fn show_ours(o: &Ours) -> String {
    match o {
        Ours::Accept(a) => show_accepted(a),
        Ours::Partial => "partial".into(),
        Ours::Reject(s) => format!("reject {s}"),
    }
}

fn show_accepted(a: &Accepted) -> String {
    format!(
        "accept {} \"{}\" 1.{} length={} keep-alive={} len={}",
        show(&a.method),
        show(&a.target),
        a.minor,
        a.content_length,
        a.keep_alive,
        a.len
    )
}

fn show_expected(e: &Expected) -> String {
    let mut parts = Vec::new();
    if e.partial {
        parts.push("partial".to_string());
    }
    if let Some(a) = &e.accept {
        parts.push(show_accepted(a));
    }
    if !e.reject.is_empty() {
        parts.push(format!("reject {:?}", e.reject));
    }
    parts.join(" or ")
}

// ---------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------

type Bytes = BoxedStrategy<Vec<u8>>;

/// How often a piece is hostile: once in `odds` picks. A mild head (odds 40) is mostly
/// well-formed, so acceptances and their fields get compared; a wild one (odds 4) has
/// several hostile pieces at once.
#[derive(Clone, Copy)]
struct Mood {
    odds: u32,
}

const MILD: Mood = Mood { odds: 40 };
const WILD: Mood = Mood { odds: 4 };

/// One of `common`, or once in `mood.odds` one of `hostile`. One number drives the
/// choice (a union of two selections costs several times as much to generate in a debug
/// build), and it shrinks towards the first common piece.
fn pick(mood: Mood, common: &'static [&'static [u8]], hostile: &'static [&'static [u8]]) -> Bytes {
    any::<u32>()
        .prop_map(move |x| {
            let (choice, i) = (x % mood.odds, (x / mood.odds) as usize);
            let pieces = if choice == mood.odds - 1 {
                hostile
            } else {
                common
            };
            pieces[i % pieces.len()].to_vec()
        })
        .boxed()
}

/// Bytes biased to the ones that matter to a parser.
fn noise(len: std::ops::Range<usize>) -> Bytes {
    const SPECIAL: &[u8] = b"\r\n\r\n\t :\0\x01\x0b\x0c\x1f\x7f\x80\xff/?%#,;=\"Hh1*[]@";
    // As in `pick`, one number per byte: 3 in 5 special, 1 any byte, 1 a letter.
    proptest::collection::vec(any::<u16>(), len)
        .prop_map(|v| {
            v.into_iter()
                .map(|x| {
                    let high = (x >> 8) as u8;
                    match x % 5 {
                        0..=2 => SPECIAL[usize::from(x >> 3) % SPECIAL.len()],
                        3 => high,
                        _ => b'a' + high % 26,
                    }
                })
                .collect()
        })
        .boxed()
}

const LEADING: (&[&[u8]], &[&[u8]]) = (
    &[b""],
    &[
        b"\r\n",
        b"\n",
        b"\r\n\r\n",
        b"\n\n\n",
        b"\r",
        b"\r\r\n",
        b"\n\r",
        b" \r\n",
    ],
);

const METHODS: (&[&[u8]], &[&[u8]]) = (
    &[b"GET", b"HEAD", b"POST"],
    &[
        b"get",
        b"Get",
        b"OPTIONS",
        b"PUT",
        b"CONNECT",
        b"M-SEARCH",
        b"!#$%&'*+-.^_`|~",
        b"G(T",
        b"GE\"T",
        b"G:T",
        b"GET/",
        b"G\0T",
        b"GET\x80",
        b"\x16\x03\x01",
        b"\xc3\xa9",
        b"",
    ],
);

const SEPARATORS: (&[&[u8]], &[&[u8]]) = (
    &[b" "],
    &[b"  ", b"\t", b"", b" \t", b"\x0b", b"\x0c", b"\0"],
);

const TARGETS: (&[&[u8]], &[&[u8]]) = (
    &[
        b"/",
        b"/index.html",
        b"/a/b?q",
        b"/a/b?x=1&y=2",
        b"/a%20b",
        b"http://h/p",
        b"http://example.com:8080/a?b",
    ],
    &[
        b"https://h",
        b"HTTP://H/p",
        b"http:///p",
        b"http://",
        b"http://:80/",
        b"http://u@/p",
        b"http://u@h/p",
        b"ftp://u@h/p",
        b"file:///p",
        b"a:b://c",
        b"*",
        b"h:80",
        b"example.com:443",
        b"[::1]:80",
        b"1a://x",
        b"://x",
        b"+a://x",
        b"a b://x",
        b"?x://y",
        b"mailto:x",
        b"a/b",
        b"//x",
        b"?q",
        b"/#frag",
        b"/a|b{c}^",
        b"/a\"b<c>",
        b"/a\\b",
        b"/%zz",
        b"/%4",
        b"/\x80",
        b"/\xc3\xa9",
        b"/\xff\xfe",
        b"http://h/\xff",
        b"/a\x01b",
        b"/a\x7fb",
        b"/a\0b",
        b"/a\rb",
        b"/a b",
        b"/a\tb",
        b"",
    ],
);

const VERSIONS: (&[&[u8]], &[&[u8]]) = (
    &[b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0"],
    &[
        b"HTTP/1.2",
        b"HTTP/1.9",
        b"HTTP/2.0",
        b"HTTP/3.0",
        b"HTTP/9.9",
        b"HTTP/0.9",
        b"HTTP/0.0",
        b"HTTP/2",
        b"HTTP/1.",
        b"HTTP/1.10",
        b"HTTP/11",
        b"HTTP/",
        b"http/1.1",
        b"Http/1.1",
        b"HTTP/1.1 ",
        b"HTTP/1.1x",
        b"HTTP/2.0x",
        b"HTTP /1.1",
        b"HTTP/a.b",
        b"ICE/1.1",
        b"HTTP/\xd9\xa1.1",
        b"",
    ],
);

const EOLS: (&[&[u8]], &[&[u8]]) = (
    &[b"\r\n", b"\r\n", b"\n"],
    &[b"\r", b"\r\r\n", b"\n\r", b"", b" \r\n", b"\t\n"],
);

const HOST_NAMES: &[&[u8]] = &[b"Host", b"host", b"HOST"];
const HOST_VALUES: (&[&[u8]], &[&[u8]]) = (
    &[b"example.com", b"127.0.0.1:8080", b"a", b"[::1]:80"],
    &[
        b"",
        b"[::1]",
        b"a.b-c_d~e",
        b"!$&'()*+,;=",
        b"a%20b",
        b"a%zz",
        b"a%4",
        b"a b",
        b"a/b",
        b"a@b",
        b"a?b",
        b"a#b",
        b"a\"b",
        b"a<b>",
        b"a\\b",
        b"a{b}",
        b"\xc3\xa9",
        b"\x80",
        b"a\tb",
        b"a:b:c",
        b"[",
        b":80",
        b"a\x01",
        b"a\x7f",
    ],
);

const CL_NAMES: &[&[u8]] = &[b"Content-Length", b"content-length", b"CONTENT-LENGTH"];
const CL_VALUES: (&[&[u8]], &[&[u8]]) = (
    &[b"0", b"5", b"42"],
    &[
        b"05",
        b"+5",
        b"-5",
        b" 5 ",
        b"\t5\t",
        b"5,5",
        b"5, 5",
        b"5, 6",
        b"5,",
        b",5",
        b"0x5",
        b"5 5",
        b"",
        b"1048576",
        b"1048577",
        b"999999999999999999",
        b"1000000000000000000",
        b"99999999999999999999",
        b"00000000000000000005",
        b"5\x0b",
        b"5\x0c",
        b"5;",
        b"1e3",
        b"\xd9\xa5",
    ],
);

const TE_NAMES: &[&[u8]] = &[b"Transfer-Encoding", b"transfer-encoding"];
const TE_VALUES: (&[&[u8]], &[&[u8]]) = (
    &[b"chunked"],
    &[
        b"Chunked",
        b"gzip, chunked",
        b"chunked, gzip",
        b"gzip",
        b"identity",
        b"",
        b" chunked ",
        b"xchunked",
        b"chunked;q=1",
        b"chunked,",
        b"chunked\x0b",
    ],
);

const CONNECTION_NAMES: &[&[u8]] = &[b"Connection", b"connection"];
const CONNECTION_VALUES: (&[&[u8]], &[&[u8]]) = (
    &[b"close", b"keep-alive"],
    &[
        b"Close",
        b"Keep-Alive",
        b"Upgrade, Keep-Alive",
        b"keep-alive, close",
        b"closed",
        b"close,",
        b", close",
        b"te",
        b"",
        b"keep-alive\x0c",
    ],
);

const OTHER_NAMES: (&[&[u8]], &[&[u8]]) = (
    &[b"User-Agent", b"Accept", b"Range", b"X-A", b"If-None-Match"],
    &[
        b"X A",
        b"",
        b"X\x80",
        b"X(",
        b"X\0",
        b"Host ",
        b" Host",
        b"\tX",
        b"Content-Length ",
        b"Transfer-Encoding\t",
        b"Content_Length",
        b"X\xc3\xa9",
    ],
);
const OTHER_VALUES: (&[&[u8]], &[&[u8]]) = (
    &[b"text/html", b"*/*", b"bytes=0-1", b"x", b""],
    &[
        b"a\tb",
        b"\xc3\xa9\xff",
        b"\x80",
        b"a\0b",
        b"a\rb",
        b"a\x01b",
        b"a\x08b",
        b"a\x0bb",
        b"a\x0cb",
        b"a\x1fb",
        b"a\x7fb",
        b"\x7f",
        b"  spaced  ",
        b"a: b",
    ],
);

const FOLDS: &[&[u8]] = &[b" ", b"\t", b"  "];
const BEFORE_COLON: (&[&[u8]], &[&[u8]]) = (&[b""], &[b" ", b"\t", b"  "]);
const AFTER_COLON: (&[&[u8]], &[&[u8]]) = (&[b" ", b""], &[b"  ", b"\t", b" \t "]);
const TRAILING: (&[&[u8]], &[&[u8]]) = (&[b""], &[b" ", b"\t", b" \t"]);
const END: (&[&[u8]], &[&[u8]]) = (&[b"\r\n", b"\n"], &[b"", b"\r", b"\r\r\n", b" \r\n"]);
const BODIES: &[&[u8]] = &[
    b"",
    b"",
    b"hello",
    b"5\r\nhello\r\n0\r\n\r\n",
    b"0\r\n\r\n",
    b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
];

/// A name and a value of the same kind (so Host gets host values), or noise. Mild heads
/// mostly carry ordinary fields; wild ones mostly framing fields.
fn name_and_value(mood: Mood) -> BoxedStrategy<(Vec<u8>, Vec<u8>)> {
    let p = |pieces: (&'static [&'static [u8]], &'static [&'static [u8]])| {
        pick(mood, pieces.0, pieces.1)
    };
    let named = |names: &'static [&'static [u8]], values| {
        (select(names).prop_map(<[u8]>::to_vec), p(values))
    };
    let (framing, ordinary) = if mood.odds > WILD.odds {
        (1, 40)
    } else {
        (2, 4)
    };
    prop_oneof![
        framing => named(HOST_NAMES, HOST_VALUES),
        3 => named(CL_NAMES, CL_VALUES),
        framing => named(TE_NAMES, TE_VALUES),
        2 => named(CONNECTION_NAMES, CONNECTION_VALUES),
        ordinary => (p(OTHER_NAMES), p(OTHER_VALUES)),
        1 => (p(OTHER_NAMES), noise(0..12)),
    ]
    .boxed()
}

/// One field line with its line ending, or an obs-fold continuation, or noise.
fn field_line(mood: Mood) -> Bytes {
    let p = |pieces: (&'static [&'static [u8]], &'static [&'static [u8]])| {
        pick(mood, pieces.0, pieces.1)
    };
    prop_oneof![
        mood.odds * 2 => (
            name_and_value(mood),
            p(BEFORE_COLON),
            p(AFTER_COLON),
            p(TRAILING),
            p(EOLS)
        )
            .prop_map(|((name, value), before, after, trailing, eol)| {
                [name, before, b":".to_vec(), after, value, trailing, eol].concat()
            }),
        1 => (select(FOLDS), p(OTHER_VALUES), p(EOLS))
            .prop_map(|(fold, value, eol)| [fold, &value[..], &eol[..]].concat()),
        1 => (noise(0..16), p(EOLS)).prop_map(|(n, eol)| [n, eol].concat()),
    ]
    .boxed()
}

/// A request head from grammar pieces, usually with one good Host, then maybe a body.
fn structured(mood: Mood) -> Bytes {
    let p = |pieces: (&'static [&'static [u8]], &'static [&'static [u8]])| {
        pick(mood, pieces.0, pieces.1)
    };
    let line = (
        p(LEADING),
        p(METHODS),
        p(SEPARATORS),
        prop_oneof![
            mood.odds * 2 => p(TARGETS),
            1 => noise(0..10).prop_map(|n| [&b"/"[..], &n].concat()),
        ],
        p(SEPARATORS),
        p(VERSIONS),
        p(EOLS),
    )
        .prop_map(|(lead, m, s1, t, s2, v, eol)| [lead, m, s1, t, s2, v, eol].concat());
    let host = prop_oneof![
        5 => Just(Some(b"Host: example.com\r\n".to_vec())),
        1 => Just(None),
    ];
    (
        line,
        host,
        any::<Index>(),
        proptest::collection::vec(field_line(mood), 0..6),
        p(END),
        select(BODIES),
    )
        .prop_map(|(line, host, at, mut fields, end, body)| {
            if let Some(host) = host {
                let i = at.index(fields.len() + 1);
                fields.insert(i, host);
            }
            [line, fields.concat(), end, body.to_vec()].concat()
        })
        .boxed()
}

/// A good head with MAX_FIELDS give or take a few fields, some hostile ones among them.
fn many_fields() -> Bytes {
    (
        MAX_FIELDS - 4..MAX_FIELDS + 4,
        proptest::collection::vec((field_line(WILD), any::<Index>()), 0..3),
    )
        .prop_map(|(n, hostile)| {
            let mut fields: Vec<Vec<u8>> = (0..n).map(|i| format!("X-{i}: v\r\n").into()).collect();
            fields.insert(0, b"Host: h\r\n".to_vec());
            for (line, at) in hostile {
                let i = at.index(fields.len() + 1);
                fields.insert(i, line);
            }
            [
                b"GET / HTTP/1.1\r\n".to_vec(),
                fields.concat(),
                b"\r\n".to_vec(),
            ]
            .concat()
        })
        .boxed()
}

/// Replace, insert or delete a few bytes.
fn mutate(mut buf: Vec<u8>, edits: Vec<(Index, u8, u8)>) -> Vec<u8> {
    for (at, byte, op) in edits {
        if buf.is_empty() {
            buf.push(byte);
            continue;
        }
        let i = at.index(buf.len());
        match op % 3 {
            0 => buf[i] = byte,
            1 => buf.insert(i, byte),
            _ => {
                buf.remove(i);
            }
        }
    }
    buf
}

fn request_bytes() -> Bytes {
    prop_oneof![
        8 => structured(MILD),
        6 => structured(WILD),
        3 => (structured(WILD), any::<Index>()).prop_map(|(buf, at)| {
            let n = at.index(buf.len() + 1);
            buf[..n].to_vec()
        }),
        3 => (
            structured(MILD),
            proptest::collection::vec(
                (any::<Index>(), prop_oneof![select(&b"\r\n \t:\0\x7f\x80,"[..]), any::<u8>()], 0..3u8),
                1..4
            )
        )
            .prop_map(|(buf, edits)| mutate(buf, edits)),
        1 => noise(0..48),
        1 => many_fields(),
    ]
    .boxed()
}

/// `PROPTEST_CASES`, else enough cases to mean something and still take a few seconds.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000)
}

// ---------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------

/// The generated cases' configuration: no regression file in the source tree (minimal
/// inputs found go into the table below), and XorShift, which generates these nested
/// strategies three times as fast as the default ChaCha in a debug build.
fn config() -> Config {
    Config {
        cases: cases(),
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::XorShift,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn differential_generated(buf in request_bytes()) {
        if let Err(e) = compare(&buf) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// Hand-written hostile heads, compared the same way; every disagreement is listed.
#[test]
fn differential_table() {
    let table: &[&[u8]] = &[
        // Plain heads, both versions, both line endings.
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"HEAD /x HTTP/1.0\r\n\r\n",
        b"GET /a/b?q HTTP/1.1\nHost: a\n\n",
        b"\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\nbody",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        b"get / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET http://h/p HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET HTTP://H HTTP/1.1\r\nHost: a\r\n\r\n",
        // Keep-alive.
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: te\r\nConnection: close\r\n\r\n",
        // Methods and separators.
        b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /  HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
        b" GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"\0\0\0\0",
        // Targets.
        b"GET h:80 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET mailto:x HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET a/b HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET ?q HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET 1a://x/ HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET ://x/ HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET http://:80/ HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET http://u@/p HTTP/1.0\r\n\r\n",
        b"GET http://u@h/p HTTP/1.0\r\n\r\n",
        b"GET file:///p HTTP/1.0\r\n\r\n",
        b"GET htt\x80://h/p HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /\xff HTTP/1.2\r\nHost: a\r\n\r\n",
        b"GET /\xff HTTP/2.0\r\n\r\n",
        b"GET /a|b{c}\"d HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /%zz#f HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET  HTTP/1.1\r\nHost: a\r\n\r\n",
        // Versions.
        b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.9\r\nHost: a\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.2\r\n\r\n",
        b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        b"GET / HTTP/3.0\r\n\r\n",
        b"GET / HTTP/2.0",
        b"GET / HTTP/0.9\r\n\r\n",
        b"GET / http/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.10\r\nHost: a\r\n\r\n",
        b"GET / HTTP/2.0 x\r\n\r\n",
        b"GET / HTTP/11\r\n\r\n",
        b"GET /\r\n\r\n",
        // Line endings.
        b"GET / HTTP/1.1\rHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
        b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\r\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\n\rGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\r\r",
        b"\r\r\nPOST ?q HTTP/9.9\n\n0\r",
        // Field names, folding.
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
        b"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX\x80: b\r\n\r\n",
        // Values with controls, DEL, obs-text.
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x0bb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x0c\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x1f\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: \xc3\xa9\xff\x80\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\t\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01",
        // Host.
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n",
        b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a@b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: example%.cm\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n",
        b"GET / HTTP/1.0\r\nHost: a?b\r\n\r\n",
        // Content-Length.
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 05\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length:  5 \r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,5\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999999999\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000000000000\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        // Transfer-Encoding.
        b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n",
        b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
        b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
        // Partial heads.
        b"",
        b"\r",
        b"\r\n",
        b"G",
        b"GET / HTTP/1.1\r",
        b"GET / HTTP/1.1\r\nHost: a\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r",
    ];
    let failures: Vec<String> = table.iter().filter_map(|buf| compare(buf).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} hand-written heads disagree:\n\n{}",
        failures.len(),
        table.len(),
        failures.join("\n\n")
    );
}

/// The limits, with heads sized right at them (the generator stays well below).
#[test]
fn differential_limits() {
    let mut failures = Vec::new();
    for n in [MAX_FIELDS - 1, MAX_FIELDS, MAX_FIELDS + 1] {
        let mut buf = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 1..n {
            buf.extend(format!("X-{i}: v\r\n").as_bytes());
        }
        // A second Host among the first fields, a bad line after the limit, or both.
        let mut twice = buf.clone();
        twice.splice(16..16, b"Host: b\r\n".iter().copied());
        let mut late = buf.clone();
        late.extend(b"Bad Name: v\r\n");
        let mut both = twice.clone();
        both.extend(b"X: a\rb\r\n");
        for mut b in [buf, twice, late, both] {
            b.extend(b"\r\n");
            failures.extend(compare(&b).err());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The generator must not be vacuous: many heads accepted, many refused, some partial.
#[test]
fn differential_generator_covers_all_outcomes() {
    let mut runner =
        TestRunner::new_with_rng(config(), TestRng::deterministic_rng(RngAlgorithm::XorShift));
    let strategy = request_bytes();
    let (mut accepted, mut refused, mut partial) = (0, 0, 0);
    for _ in 0..2000 {
        let buf = strategy.new_tree(&mut runner).unwrap().current();
        let exp = oracle(&buf);
        if exp.accept.is_some() {
            accepted += 1;
        } else if exp.partial {
            partial += 1;
        } else {
            refused += 1;
        }
    }
    assert!(
        accepted > 300 && refused > 300 && partial > 50,
        "accepted {accepted}, refused {refused}, partial {partial}"
    );
}

fn outcome(o: &Ours) -> String {
    match o {
        Ours::Accept(_) => "accept".to_string(),
        Ours::Partial => "partial".to_string(),
        Ours::Reject(s) => format!("reject {s}"),
    }
}

/// Not a check: groups disagreements over many cases by their kind and prints the
/// shortest input of each (`cargo test --lib differential_census -- --ignored
/// --nocapture`, `PROPTEST_CASES` sets the count, default 200 000).
#[test]
#[ignore]
fn differential_census() {
    let n: u32 = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let mut runner = TestRunner::new(config());
    let strategy = request_bytes();
    let mut kinds: std::collections::BTreeMap<String, (usize, Vec<u8>, String)> =
        Default::default();
    let mut outcomes: std::collections::BTreeMap<String, usize> = Default::default();
    for _ in 0..n {
        let buf = strategy.new_tree(&mut runner).unwrap().current();
        *outcomes.entry(outcome(&ours(&buf))).or_default() += 1;
        if let Err(e) = compare(&buf) {
            let got = ours(&buf);
            let exp = oracle(&buf);
            let mut why: Vec<&str> = exp.why.clone();
            why.sort_unstable();
            why.dedup();
            let kind = format!(
                "ours {} / oracle {} / {:?}",
                outcome(&got),
                if exp.accept.is_some() {
                    "accept".to_string()
                } else if exp.partial {
                    "partial".to_string()
                } else {
                    format!("reject {:?}", exp.reject)
                },
                why
            );
            let entry = kinds.entry(kind).or_insert((0, buf.clone(), e.clone()));
            entry.0 += 1;
            if buf.len() < entry.1.len() {
                entry.1 = buf;
                entry.2 = e;
            }
        }
    }
    println!(
        "{n} cases, ours: {outcomes:?}, {} kinds of disagreement",
        kinds.len()
    );
    for (kind, (count, _, e)) in &kinds {
        println!("\n== {count} x {kind}\n{e}");
    }
}
