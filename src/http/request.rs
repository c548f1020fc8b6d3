//! The request parser: a complete request head in bytes, or a reason to refuse it.
//!
//! It allocates nothing: a [`Request`] borrows the buffer, and header lookups walk the
//! validated head again (heads are small, lookups few). Lines may end in CRLF or a bare
//! LF (RFC 9112 §2.2), empty lines before the request line are skipped, and every limit
//! is a named constant whose breach maps to the status nginx would answer.

use super::status::Status;

/// Longest request line accepted; longer is 414.
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Longest single header field line accepted; longer is 431.
pub const MAX_FIELD_LINE: usize = 8 * 1024;
/// Most header fields accepted; more is 431.
pub const MAX_FIELDS: usize = 100;
/// Largest whole head (request line and fields) accepted; larger is 431.
pub const MAX_HEAD: usize = 64 * 1024;

/// A request method we act on; everything else is answered 405.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Other,
}

/// A parsed request head, borrowing the connection's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: Method,
    /// The method token as sent, for logs.
    pub method_raw: &'a [u8],
    /// The request target as sent (origin-form or absolute-form).
    pub target: &'a [u8],
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// The field lines, validated, without the request line and final empty line.
    fields: &'a [u8],
    /// Body bytes that follow the head and must be skipped, never parsed.
    pub content_length: u64,
    /// The connection may carry another request after this one.
    pub keep_alive: bool,
    /// The fields the server reads, found while parsing so a lookup costs nothing.
    known: [Option<&'a [u8]>; KNOWN.len()],
}

/// Fields looked up for most requests (conditionals, ranges, encodings, the access log).
const KNOWN: [&str; 9] = [
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    "range",
    "accept-encoding",
    "referer",
    "user-agent",
];

/// Why a head was refused; the connection is closed after the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError(pub Status);

/// The result of looking at the bytes received so far.
// A parse result lives on the stack for a moment; boxing the request would cost an
// allocation per request to save a few hundred bytes of stack.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Parsed<'a> {
    /// A whole head; `len` bytes of the buffer belong to it.
    Complete { request: Request<'a>, len: usize },
    /// More bytes are needed (the buffer holds only part of a head).
    Partial,
}

/// Parses one request head at the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Parsed<'_>, ParseError> {
    let start = skip_empty_lines(buf);
    let buf_from = buf.get(start..).unwrap_or_default();
    let Some(line_end) = memchr(b'\n', buf_from) else {
        if buf_from.len() > MAX_REQUEST_LINE {
            return Err(ParseError(Status::UriTooLong));
        }
        // Refuse early what can never become a request line (binary, TLS).
        if !buf_from.is_empty() && !plausible_start(buf_from) {
            return Err(ParseError(Status::BadRequest));
        }
        return Ok(Parsed::Partial);
    };
    let line = trim_cr(&buf_from[..line_end]);
    if line.len() > MAX_REQUEST_LINE {
        return Err(ParseError(Status::UriTooLong));
    }
    let (method_raw, target, minor) = request_line(line)?;

    // Walk the field lines until the empty line that ends the head.
    let fields_start = line_end + 1;
    let mut pos = fields_start;
    let mut count = 0usize;
    let mut summary = Summary::default();
    const TOO_LARGE: ParseError = ParseError(Status::HeaderFieldsTooLarge);
    loop {
        let rest = &buf_from[pos..];
        let partial = || {
            if rest.len() > MAX_FIELD_LINE || pos + rest.len() > MAX_HEAD {
                Err(TOO_LARGE)
            } else {
                Ok(Parsed::Partial)
            }
        };
        // The empty line that ends the head.
        let blank = match rest {
            [b'\r', b'\n', ..] => Some(2),
            [b'\n', ..] => Some(1),
            [] | [b'\r'] => return partial(),
            _ => None,
        };
        if let Some(n) = blank {
            let fields = &buf_from[fields_start..pos];
            let request = finish(method_raw, target, minor, fields, &summary)?;
            return Ok(Parsed::Complete {
                request,
                len: start + pos + n,
            });
        }
        // One pass over the name (a token, then a colon at once: no whitespace before
        // it, no obsolete folding), one vectorised pass over the value to its line end.
        let Some(name_len) = rest.iter().position(|&b| !is_tchar(b)) else {
            return partial();
        };
        if name_len == 0 || rest[name_len] != b':' {
            return Err(ParseError(Status::BadRequest));
        }
        let value_start = name_len + 1;
        let Some(i) = memchr::memchr3(b'\n', b'\r', 0, &rest[value_start..]) else {
            return partial();
        };
        let stop = value_start + i;
        let next = match (rest[stop], rest.get(stop + 1)) {
            (b'\n', _) => stop + 1,
            (b'\r', Some(b'\n')) => stop + 2,
            (b'\r', None) => return partial(),
            _ => return Err(ParseError(Status::BadRequest)), // NUL or a bare CR
        };
        if stop > MAX_FIELD_LINE || pos + next > MAX_HEAD {
            return Err(TOO_LARGE);
        }
        count += 1;
        if count > MAX_FIELDS {
            return Err(TOO_LARGE);
        }
        summary.note(&rest[..name_len], trim(&rest[value_start..stop]))?;
        pos += next;
    }
}

impl<'a> Request<'a> {
    /// The value of the first field called `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        if let Some(i) = KNOWN.iter().position(|k| k.eq_ignore_ascii_case(name)) {
            return self.known[i];
        }
        FieldLines(self.fields)
            .filter_map(|l| split_field(l).ok())
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The path part of the target (no query), for the file resolver.
    /// Absolute-form (`http://host/path`) is reduced to its path.
    pub fn path(&self) -> &'a [u8] {
        let mut t = self.target;
        if t.first() != Some(&b'/') {
            // absolute-form: skip "scheme://authority"
            if let Some(i) = find(t, b"://") {
                let after = &t[i + 3..];
                t = match memchr(b'/', after) {
                    Some(j) => &after[j..],
                    None => b"/",
                };
            }
        }
        match t.iter().position(|&b| b == b'?' || b == b'#') {
            Some(q) => &t[..q],
            None => t,
        }
    }
}

/// What the parser learns from the fields while it validates them.
#[derive(Default)]
struct Summary<'a> {
    known: [Option<&'a [u8]>; KNOWN.len()],
    host: bool,
    content_length: Option<u64>,
    transfer_encoding: bool,
    close: bool,
    keep_alive: bool,
}

impl<'a> Summary<'a> {
    fn note(&mut self, name: &[u8], value: &'a [u8]) -> Result<(), ParseError> {
        // Most fields are none of ours: the length rules them out before any comparison.
        if !matches!(name.len(), 4 | 5 | 7 | 8 | 10 | 13 | 14 | 15 | 17 | 19) {
            return Ok(());
        }
        if let Some(i) = KNOWN
            .iter()
            .position(|k| k.len() == name.len() && k.as_bytes().eq_ignore_ascii_case(name))
        {
            if self.known[i].is_none() {
                self.known[i] = Some(value);
            }
            return Ok(());
        }
        if name.eq_ignore_ascii_case(b"host") {
            if self.host {
                return Err(ParseError(Status::BadRequest));
            }
            self.host = true;
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_content_length(value)?;
            // Repeated values must agree (RFC 9112 §6.3), or we cannot tell where it ends.
            if self.content_length.is_some_and(|m| m != n) {
                return Err(ParseError(Status::BadRequest));
            }
            self.content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.transfer_encoding = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',') {
                let token = trim(token);
                if token.eq_ignore_ascii_case(b"close") {
                    self.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    self.keep_alive = true;
                }
            }
        }
        Ok(())
    }
}

fn finish<'a>(
    method_raw: &'a [u8],
    target: &'a [u8],
    minor: u8,
    fields: &'a [u8],
    s: &Summary<'a>,
) -> Result<Request<'a>, ParseError> {
    if s.transfer_encoding && s.content_length.is_some() {
        return Err(ParseError(Status::BadRequest));
    }
    if s.transfer_encoding {
        // We take no request bodies, and guessing at chunk framing invites smuggling.
        return Err(ParseError(Status::NotImplemented));
    }
    if minor == 1 && !s.host {
        return Err(ParseError(Status::BadRequest));
    }
    let method = match method_raw {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        _ => Method::Other,
    };
    let keep_alive = if minor == 1 {
        !s.close
    } else {
        s.keep_alive && !s.close
    };
    Ok(Request {
        method,
        method_raw,
        target,
        minor,
        fields,
        content_length: s.content_length.unwrap_or(0),
        keep_alive,
        known: s.known,
    })
}

fn request_line(line: &[u8]) -> Result<(&[u8], &[u8], u8), ParseError> {
    let bad = ParseError(Status::BadRequest);
    let mut parts = line.split(|&b| b == b' ');
    let method = parts.next().ok_or(bad)?;
    let target = parts.next().ok_or(bad)?;
    let version = parts.next().ok_or(bad)?;
    if parts.next().is_some() || method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(bad);
    }
    if target.is_empty() || !target.iter().all(|&b| b > b' ' && b != 0x7f) {
        return Err(bad);
    }
    let minor = match version {
        b"HTTP/1.1" => 1,
        b"HTTP/1.0" => 0,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            if *major >= b'2' {
                return Err(ParseError(Status::VersionNotSupported));
            }
            if *major == b'1' {
                1 // a later 1.x is answered as 1.1 (RFC 9110 §6.2)
            } else {
                return Err(bad); // HTTP/0.x
            }
        }
        _ => return Err(bad),
    };
    if target[0] != b'/' && find(target, b"://").is_none() && target != b"*" {
        return Err(bad);
    }
    Ok((method, target, minor))
}

fn split_field(line: &[u8]) -> Result<(&[u8], &[u8]), ParseError> {
    let bad = ParseError(Status::BadRequest);
    let colon = memchr(b':', line).ok_or(bad)?;
    let name = &line[..colon];
    // No whitespace before the colon, and no obsolete line folding (RFC 9112 §5.1-5.2).
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(bad);
    }
    let value = trim(&line[colon + 1..]);
    // The line holds no LF (it was split on them); a bare CR or NUL inside is refused.
    if memchr::memchr2(0, b'\r', value).is_some() {
        return Err(bad);
    }
    Ok((name, value))
}

fn parse_content_length(value: &[u8]) -> Result<u64, ParseError> {
    let bad = ParseError(Status::BadRequest);
    // A list of equal values is allowed (RFC 9110 §8.6); anything else is not.
    let mut result: Option<u64> = None;
    for part in value.split(|&b| b == b',') {
        let part = trim(part);
        if part.is_empty() || part.len() > 18 || !part.iter().all(u8::is_ascii_digit) {
            return Err(bad);
        }
        let n = part
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
        if result.is_some_and(|m| m != n) {
            return Err(bad);
        }
        result = Some(n);
    }
    result.ok_or(bad)
}

/// Iterates the field lines of a validated head.
struct FieldLines<'a>(&'a [u8]);

impl<'a> Iterator for FieldLines<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.0.is_empty() {
            return None;
        }
        let (line, rest) = match memchr(b'\n', self.0) {
            Some(i) => (&self.0[..i], &self.0[i + 1..]),
            None => (self.0, &[][..]),
        };
        self.0 = rest;
        Some(trim_cr(line))
    }
}

fn skip_empty_lines(buf: &[u8]) -> usize {
    let mut i = 0;
    while i < buf.len() && (buf[i] == b'\r' || buf[i] == b'\n') {
        i += 1;
    }
    i
}

/// Could these bytes be the start of a request line? (A method token, then a space.)
fn plausible_start(buf: &[u8]) -> bool {
    let token_len = buf.iter().take_while(|&&b| is_tchar(b)).count();
    token_len == buf.len() || (token_len > 0 && buf[token_len] == b' ')
}

fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// RFC 9110 §5.6.2 token characters, as a table: this runs for every byte of a name.
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    t
};

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    memchr::memchr(needle, hay)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(buf: &[u8]) -> (Request<'_>, usize) {
        match parse(buf) {
            Ok(Parsed::Complete { request, len }) => (request, len),
            other => panic!("expected a complete request, got {other:?}"),
        }
    }

    fn err(buf: &[u8]) -> Status {
        match parse(buf) {
            Err(ParseError(s)) => s,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn simple_get() {
        let buf = b"GET /a.html?x=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\nrest";
        let (r, len) = ok(buf);
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.target, b"/a.html?x=1");
        assert_eq!(r.path(), b"/a.html");
        assert_eq!(r.minor, 1);
        assert!(r.keep_alive);
        assert_eq!(len, buf.len() - 4);
        assert_eq!(r.header("user-agent"), Some(&b"t"[..]));
        assert_eq!(r.header("HOST"), Some(&b"x"[..]));
        assert_eq!(r.header("missing"), None);
    }

    #[test]
    fn known_and_other_fields_are_found_alike() {
        let buf = b"GET / HTTP/1.1\r\nHost: x\r\nRANGE: bytes=0-1\r\nX-Other: o\r\n\
                    Range: bytes=5-6\r\nuser-agent: ua\r\nIf-None-Match: \"a\"\r\n\r\n";
        let (r, _) = ok(buf);
        assert_eq!(
            r.header("Range"),
            Some(&b"bytes=0-1"[..]),
            "the first one wins"
        );
        assert_eq!(r.header("User-Agent"), Some(&b"ua"[..]));
        assert_eq!(r.header("if-none-match"), Some(&b"\"a\""[..]));
        assert_eq!(r.header("x-other"), Some(&b"o"[..]));
        assert_eq!(r.header("if-match"), None);
        assert_eq!(r.header("referer"), None);
    }

    #[test]
    fn partial_heads_wait_for_more() {
        let full = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for n in 0..full.len() {
            assert!(
                matches!(parse(&full[..n]), Ok(Parsed::Partial)),
                "prefix {n}"
            );
        }
        ok(full);
    }

    #[test]
    fn bare_lf_and_leading_empty_lines() {
        let (r, len) = ok(b"\r\n\nHEAD / HTTP/1.0\nConnection: keep-alive\n\n");
        assert_eq!(r.method, Method::Head);
        assert!(r.keep_alive);
        assert_eq!(len, 43);
    }

    #[test]
    fn keep_alive_rules() {
        assert!(!ok(b"GET / HTTP/1.0\r\n\r\n").0.keep_alive);
        assert!(
            !ok(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                .0
                .keep_alive
        );
        assert!(
            ok(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, Keep-Alive\r\n\r\n")
                .0
                .keep_alive
        );
    }

    #[test]
    fn versions() {
        assert_eq!(err(b"GET / HTTP/2.0\r\n\r\n"), Status::VersionNotSupported);
        assert_eq!(err(b"GET / HTTP/3.0\r\n\r\n"), Status::VersionNotSupported);
        assert_eq!(err(b"GET / HTTP/0.9\r\n\r\n"), Status::BadRequest);
        assert_eq!(err(b"GET /\r\n\r\n"), Status::BadRequest);
        assert_eq!(err(b"GET / FOO/1.1\r\n\r\n"), Status::BadRequest);
        assert_eq!(ok(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n").0.minor, 1);
    }

    #[test]
    fn host_required_in_1_1() {
        assert_eq!(err(b"GET / HTTP/1.1\r\n\r\n"), Status::BadRequest);
        assert_eq!(
            err(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            Status::BadRequest
        );
    }

    #[test]
    fn other_methods_and_bad_tokens() {
        assert_eq!(ok(b"POST / HTTP/1.0\r\n\r\n").0.method, Method::Other);
        assert_eq!(ok(b"get / HTTP/1.0\r\n\r\n").0.method, Method::Other);
        assert_eq!(err(b"G(T / HTTP/1.0\r\n\r\n"), Status::BadRequest);
        assert_eq!(err(b"GET  / HTTP/1.0\r\n\r\n"), Status::BadRequest);
        assert_eq!(err(b"GET / HTTP/1.0 x\r\n\r\n"), Status::BadRequest);
        assert_eq!(err(b"\x16\x03\x01\x02\x00\x01\x00"), Status::BadRequest);
    }

    #[test]
    fn body_framing() {
        let (r, _) = ok(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!(r.content_length, 5);
        let (r, _) = ok(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n");
        assert_eq!(r.content_length, 5);
        for bad in [
            &b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert_eq!(err(bad), Status::BadRequest, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(
            err(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Status::NotImplemented
        );
    }

    #[test]
    fn malformed_fields() {
        assert_eq!(
            err(b"GET / HTTP/1.0\r\nNoColon\r\n\r\n"),
            Status::BadRequest
        );
        assert_eq!(
            err(b"GET / HTTP/1.0\r\nName : v\r\n\r\n"),
            Status::BadRequest
        );
        assert_eq!(
            err(b"GET / HTTP/1.0\r\n folded\r\n\r\n"),
            Status::BadRequest
        );
        assert_eq!(
            err(b"GET / HTTP/1.0\r\nA: b\0c\r\n\r\n"),
            Status::BadRequest
        );
    }

    #[test]
    fn limits() {
        let mut long = b"GET /".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_REQUEST_LINE));
        assert_eq!(err(&long), Status::UriTooLong);
        long.extend(b" HTTP/1.0\r\n\r\n");
        assert_eq!(err(&long), Status::UriTooLong);

        let mut big_field = b"GET / HTTP/1.0\r\nX: ".to_vec();
        big_field.extend(std::iter::repeat_n(b'a', MAX_FIELD_LINE));
        assert_eq!(err(&big_field), Status::HeaderFieldsTooLarge);

        let mut many = b"GET / HTTP/1.0\r\n".to_vec();
        for i in 0..=MAX_FIELDS {
            many.extend(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend(b"\r\n");
        assert_eq!(err(&many), Status::HeaderFieldsTooLarge);

        let mut huge = b"GET / HTTP/1.0\r\n".to_vec();
        for i in 0..90 {
            huge.extend(format!("X-{i}: {}\r\n", "v".repeat(800)).as_bytes());
        }
        assert_eq!(err(&huge), Status::HeaderFieldsTooLarge);
    }

    #[test]
    fn absolute_form() {
        let (r, _) = ok(b"GET http://example.com/a/b.html?q HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.path(), b"/a/b.html");
        let (r, _) = ok(b"GET http://example.com HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(r.path(), b"/");
    }

    #[test]
    fn never_panics_on_prefixes_of_odd_input() {
        let inputs: [&[u8]; 6] = [
            b"\0\0\0\0",
            b"GET \xff\xfe HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
            b":::::\r\n\r\n",
            b"\r\n\r\n\r\n",
            b"GET / HTTP/1.",
        ];
        for input in inputs {
            for n in 0..=input.len() {
                let _ = parse(&input[..n]);
            }
        }
    }
}
