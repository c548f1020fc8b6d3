//! The request parser: a complete request head in bytes, or a reason to refuse it.
//!
//! It allocates nothing: a [`Request`] borrows the buffer, and header lookups walk the
//! validated head again (heads are small, lookups few). Lines may end in CRLF or a bare
//! LF (RFC 9112 §2.2), empty lines before the request line are skipped but count against
//! [`MAX_HEAD`], and every limit is a named constant whose breach maps to the status
//! nginx would answer. [`HeadScan`] follows a head that arrives in pieces, so that the
//! work per connection stays linear in the bytes received.
//!
//! Anything that could frame a request two ways is refused with 400 (RFC 9112 §11.2):
//! whitespace before a colon, obsolete line folding, a bare CR, a control character or
//! NUL in a value, a `Content-Length` that is not one plain number (no sign, no list, no
//! second field), `Content-Length` beside `Transfer-Encoding`, two `Host` fields, or a
//! `Host` that is not a host.

use super::status::Status;
use super::syntax::{alphanumerics_and, is_tchar, parse_decimal, token_len, trim_ows};

/// Longest request line accepted; longer is 414.
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Longest single header field line accepted; longer is 431.
pub const MAX_FIELD_LINE: usize = 8 * 1024;
/// Most header fields accepted; more is 431.
pub const MAX_FIELDS: usize = 100;
/// Largest whole head (request line and fields) accepted; larger is 431.
pub const MAX_HEAD: usize = 64 * 1024;

/// Largest request body accepted (to be read and thrown away: no method we serve takes
/// one); larger is 413, as nginx's default `client_max_body_size`, so a client cannot
/// keep a worker reading for ever.
pub const MAX_BODY: u64 = 1024 * 1024;

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
    if start > MAX_HEAD {
        // Empty lines may precede a request (RFC 9112 §2.2), but not without end.
        return Err(ParseError(Status::BadRequest));
    }
    let buf_from = buf.get(start..).unwrap_or_default();
    let Some(line_end) = memchr(b'\n', buf_from) else {
        if buf_from.len() > MAX_REQUEST_LINE {
            return Err(ParseError(Status::UriTooLong));
        }
        // Refuse early what can never become a request line (binary, TLS); a lone CR
        // may still be the start of an empty line.
        let so_far = buf_from.strip_suffix(b"\r").unwrap_or(buf_from);
        if !so_far.is_empty() && (!plausible_start(so_far) || first_control(so_far).is_some()) {
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
            if rest.len() > MAX_FIELD_LINE || start + pos + rest.len() > MAX_HEAD {
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
        // One pass to the first control byte: the line end, or a reason to refuse
        // (NUL, a bare CR, any control but HTAB: RFC 9110 §5.5).
        let Some(i) = first_control(&rest[value_start..]) else {
            return partial();
        };
        let stop = value_start + i;
        let next = match (rest[stop], rest.get(stop + 1)) {
            (b'\n', _) => stop + 1,
            (b'\r', Some(b'\n')) => stop + 2,
            (b'\r', None) => return partial(),
            _ => return Err(ParseError(Status::BadRequest)),
        };
        if stop > MAX_FIELD_LINE || start + pos + next > MAX_HEAD {
            return Err(TOO_LARGE);
        }
        count += 1;
        if count > MAX_FIELDS {
            return Err(TOO_LARGE);
        }
        summary.note(&rest[..name_len], trim_ows(&rest[value_start..stop]))?;
        pos += next;
    }
}

/// Follows a request head that arrives in pieces and says when [`parse`] could give a
/// new answer, so a connection never re-parses its whole buffer on every read (which
/// makes a head sent a byte at a time cost quadratic time). Each received byte is looked
/// at a bounded number of times; `parse` runs when the head looks complete and at most
/// four more times per head (to refuse a bad start early, and at each size limit).
#[derive(Debug, Default, Clone)]
pub struct HeadScan {
    /// Bytes of the buffer already looked at.
    looked: usize,
    /// Where the request line starts, once the empty lines before it are past.
    start: Option<usize>,
    /// Whether the request line has ended.
    line_done: bool,
    /// Whether the request line was checked against its limit.
    line_limit_checked: bool,
    /// Whether the method (the token before the first space) has ended.
    method_done: bool,
    /// The last answer was "parse now" and nothing has parsed since.
    ready: bool,
    /// `parse` already had its first look: most heads arrive whole, and then that one
    /// parse is all the work, with no scan before it.
    first_look_done: bool,
}

impl HeadScan {
    /// Looks at what `buf` gained since the last call (the buffer only grows until
    /// [`HeadScan::reset`]); true when [`parse`] should run.
    pub fn worth_parsing(&mut self, buf: &[u8]) -> bool {
        if !self.first_look_done && !buf.is_empty() {
            self.first_look_done = true;
            self.ready = true;
        }
        if self.ready || buf.len() <= self.looked {
            return self.ready;
        }
        let mut i = self.looked;
        let mut news = false;
        let start = match self.start {
            Some(start) => start,
            None => {
                i += skip_empty_lines(&buf[i..]);
                if i == buf.len() || &buf[i..] == b"\r" {
                    // Only empty lines so far (perhaps the CR of the next one).
                    self.looked = i;
                    self.ready = i > MAX_HEAD;
                    return self.ready;
                }
                self.start = Some(i);
                news = true; // the first bytes of a request line: refuse garbage at once
                i
            }
        };
        if !self.line_done {
            // Bytes that can never be part of a request line are refused as they come,
            // not when the line ends: a method that is not a token, a control byte.
            let rest = &buf[i..];
            let part = &rest[..memchr(b'\n', rest).unwrap_or(rest.len())];
            let part = part.strip_suffix(b"\r").unwrap_or(part);
            if !self.method_done {
                match part.iter().position(|&b| !is_tchar(b)) {
                    Some(p) if part[p] == b' ' => self.method_done = true,
                    Some(_) => news = true,
                    None => {}
                }
            }
            news |= first_control(part).is_some();
        }
        let complete = loop {
            let Some(n) = memchr(b'\n', &buf[i..]) else {
                self.looked = buf.len();
                break false;
            };
            let newline = i + n;
            if !self.line_done {
                self.line_done = true;
                news = true; // a whole request line to check
            }
            match (buf.get(newline + 1), buf.get(newline + 2)) {
                (Some(b'\n'), _) | (Some(b'\r'), Some(b'\n')) => break true,
                (None, _) | (Some(b'\r'), None) => {
                    // Look at this line end again once the next bytes are in.
                    self.looked = newline;
                    break false;
                }
                _ => i = newline + 1,
            }
        };
        if !self.line_done && buf.last() == Some(&b'\r') {
            // Perhaps the CR of the line's end: look at it again with what follows.
            self.looked = buf.len() - 1;
        }
        if !self.line_done && !self.line_limit_checked && buf.len() - start > MAX_REQUEST_LINE {
            self.line_limit_checked = true;
            news = true;
        }
        self.ready = complete || news || buf.len() > MAX_HEAD;
        self.ready
    }

    /// [`parse`] ran and wants more bytes.
    pub fn partial(&mut self) {
        self.ready = false;
    }

    /// The head was used up (or refused): the next one starts afresh.
    pub fn reset(&mut self) {
        *self = HeadScan::default();
    }
}

impl<'a> Request<'a> {
    /// The value of the first field called `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        if let Some(i) = KNOWN.iter().position(|k| k.eq_ignore_ascii_case(name)) {
            return self.known[i];
        }
        FieldLines(self.fields)
            .filter_map(split_field)
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The path part of the target (no query), for the file resolver.
    /// Absolute-form (`http://host/path`) is reduced to its path.
    pub fn path(&self) -> &'a [u8] {
        let t = strip_authority(self.target);
        match t.iter().position(|&b| b == b'?' || b == b'#') {
            Some(q) => &t[..q],
            None => t,
        }
    }

    /// The target as path and query, for a redirect to the same resource elsewhere:
    /// absolute-form loses its `scheme://authority`, and a target without a path (`*`)
    /// becomes `/`. Always starts with `/`.
    pub fn origin(&self) -> &'a [u8] {
        let t = strip_authority(self.target);
        if t.first() == Some(&b'/') { t } else { b"/" }
    }
}

/// An absolute-form target (`http://host/path?q`) without its `scheme://authority`;
/// any other target as it is.
fn strip_authority(t: &[u8]) -> &[u8] {
    if t.first() == Some(&b'/') {
        return t;
    }
    match find(t, b"://") {
        Some(i) => {
            let after = &t[i + 3..];
            match memchr(b'/', after) {
                Some(j) => &after[j..],
                None => b"/",
            }
        }
        None => t,
    }
}

/// What the parser learns from the fields while it validates them.
#[derive(Default)]
struct Summary<'a> {
    known: [Option<&'a [u8]>; KNOWN.len()],
    host: bool,
    content_length: Option<u64>,
    transfer_encoding: bool,
    /// The last coding of the last `Transfer-Encoding` is `chunked`.
    chunked_last: bool,
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
            // One Host, and a host in it (RFC 9112 §3.2): it may name this server in a
            // redirect, so nothing else gets through.
            if self.host || !valid_host(value) {
                return Err(ParseError(Status::BadRequest));
            }
            self.host = true;
        } else if name.eq_ignore_ascii_case(b"content-length") {
            // RFC 9110 §8.6 lets a recipient accept a list or a repeat of one value; a
            // proxy in front may read either differently, so one plain number only.
            if self.content_length.is_some() {
                return Err(ParseError(Status::BadRequest));
            }
            self.content_length = Some(parse_content_length(value)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.transfer_encoding = true;
            // Empty list elements do not count (RFC 9110 §5.6.1).
            let last = value
                .rsplit(|&b| b == b',')
                .map(trim_ows)
                .find(|c| !c.is_empty());
            if let Some(last) = last {
                self.chunked_last = last.eq_ignore_ascii_case(b"chunked");
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',') {
                let token = trim_ows(token);
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
        // Without `chunked` last the body's end cannot be known (RFC 9112 §6.3), and in
        // HTTP/1.0 the framing is faulty (§6.1): 400. A chunked body is one we do not
        // take, and guessing at chunk framing invites smuggling: 501. Both close.
        return Err(ParseError(if s.chunked_last && minor == 1 {
            Status::NotImplemented
        } else {
            Status::BadRequest
        }));
    }
    if minor == 1 && !s.host {
        return Err(ParseError(Status::BadRequest));
    }
    if s.content_length.is_some_and(|n| n > MAX_BODY) {
        return Err(ParseError(Status::ContentTooLarge));
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
    if target[0] != b'/' && !absolute_form(target) && target != b"*" {
        return Err(bad);
    }
    Ok((method, target, minor))
}

/// `scheme "://" authority [path]` with a scheme that is one (RFC 3986 §3.1) and a host
/// that is not empty (RFC 9110 §4.2.1 has an `http` URI without one rejected).
fn absolute_form(target: &[u8]) -> bool {
    let Some(colon) = find(target, b"://") else {
        return false;
    };
    let scheme = &target[..colon];
    let authority = &target[colon + 3..];
    let authority =
        &authority[..memchr::memchr3(b'/', b'?', b'#', authority).unwrap_or(authority.len())];
    scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && !authority.is_empty()
        && !authority.starts_with(b":")
        && valid_host(authority)
}

/// Splits a field line of a head that [`parse`] validated into its name and trimmed
/// value; nothing is checked again.
fn split_field(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = memchr(b':', line)?;
    Some((&line[..colon], trim_ows(&line[colon + 1..])))
}

fn parse_content_length(value: &[u8]) -> Result<u64, ParseError> {
    // One plain number: a sign, a list or a second number would let two parsers frame
    // the body differently. Past 18 digits the length is refused as malformed, not as
    // too large, whatever its value.
    if value.len() > 18 {
        return Err(ParseError(Status::BadRequest));
    }
    parse_decimal(value).ok_or(ParseError(Status::BadRequest))
}

/// `uri-host [ ":" port ]` (RFC 9112 §3.2, RFC 3986 §3.2.2), or empty: the characters
/// of a reg-name, an IPv4 address or an IP literal, and a colon for the port; a `%`
/// only as the start of a `%XX` escape.
fn valid_host(value: &[u8]) -> bool {
    let (mut valid, mut escapes) = (true, false);
    for &b in value {
        valid &= HOST_CHAR[usize::from(b)];
        escapes |= b == b'%';
    }
    if !valid || !escapes {
        return valid;
    }
    let mut rest = value;
    while let Some(i) = memchr(b'%', rest) {
        let escape = rest.get(i + 1..i + 3);
        if !escape.is_some_and(|e| e.iter().all(u8::is_ascii_hexdigit)) {
            return false;
        }
        rest = &rest[i + 3..];
    }
    true
}

/// The bytes of a `Host` value, as a table: it is checked on every request. Unreserved
/// and sub-delims (RFC 3986 §2.2-2.3), `%` of an escape, `:` of a port, `[` `]` of an
/// IP literal.
const HOST_CHAR: [bool; 256] = alphanumerics_and(b"-._~!$&'()*+,;=%:[]");

/// Where the first control byte other than HTAB is (CR and LF included). It runs over
/// every field line of every request, so it looks at eight bytes at a time: a word with
/// no byte below 0x20 and none equal to 0x7F needs no closer look (tabs are rare).
fn first_control(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES * 0x80;
    fn control(b: &u8) -> bool {
        (*b < b' ' && *b != b'\t') || *b == 0x7f
    }
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let w = u64::from_ne_bytes(word.try_into().unwrap_or_default());
        // The classic "has a byte less than n" and "has a zero byte" tests.
        let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        let del = w ^ (ONES * 0x7f);
        let has_del = del.wrapping_sub(ONES) & !del & HIGH;
        if below_space | has_del != 0
            && let Some(i) = word.iter().position(control)
        {
            return Some(at + i);
        }
        at += 8;
    }
    words.remainder().iter().position(control).map(|i| at + i)
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

/// The length of the empty lines (CRLF or a bare LF) at the start of `buf`. A bare CR is
/// not an empty line: it is left for the request line, which refuses it.
fn skip_empty_lines(buf: &[u8]) -> usize {
    let mut i = 0;
    loop {
        if buf[i..].starts_with(b"\r\n") {
            i += 2;
        } else if buf.get(i) == Some(&b'\n') {
            i += 1;
        } else {
            return i;
        }
    }
}

/// Could these bytes be the start of a request line? (A method token, then a space.)
fn plausible_start(buf: &[u8]) -> bool {
    let token_len = token_len(buf);
    token_len == buf.len() || (token_len > 0 && buf[token_len] == b' ')
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
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
        let (r, _) = ok(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:  5 \r\n\r\n");
        assert_eq!(r.content_length, 5);
        for bad in [
            &b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n",
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
        for bad in [
            &b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert_eq!(err(bad), Status::BadRequest, "{}", bad.escape_ascii());
        }
        let (r, _) = ok(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n");
        assert_eq!(r.content_length, MAX_BODY);
        assert_eq!(
            err(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n"),
            Status::ContentTooLarge
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
    fn controls_in_values_and_bad_hosts() {
        for bad in [
            &b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\x00\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a@b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n",
            b"GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\tfolded\r\n\r\n",
            b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\rHost: a\r\n\r\n",
        ] {
            assert_eq!(err(bad), Status::BadRequest, "{}", bad.escape_ascii());
        }
        let (r, _) = ok(b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\nX: tab\there \xff\r\n\r\n");
        assert_eq!(r.header("x"), Some(&b"tab\there \xff"[..]));
        ok(b"GET / HTTP/1.1\r\nHost:\r\n\r\n");
        ok(b"GET / HTTP/1.1\r\nHost: xn--bcher-kva.example:80\r\n\r\n");
    }

    #[test]
    fn bare_crs_and_odd_targets() {
        for bad in [
            &b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"\r\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"\n\rGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET 1a://x/ HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET ://x/ HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET http:///p HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET http://u@h/p HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET x HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a%4\r\n\r\n",
        ] {
            assert_eq!(err(bad), Status::BadRequest, "{}", bad.escape_ascii());
        }
        ok(b"GET / HTTP/1.1\r\nHost: a%41\r\n\r\n");
        ok(b"GET HTTP+S.1://h:1?q HTTP/1.1\r\nHost: a\r\n\r\n");
        // The CR of an empty line may arrive alone.
        assert!(matches!(parse(b"\r"), Ok(Parsed::Partial)));
        assert!(matches!(parse(b"\r\n\r"), Ok(Parsed::Partial)));
        ok(b"\r\n\nGET / HTTP/1.0\r\n\r\n");
        assert_eq!(scan(b"\r\nGET / HTTP/1.0\r\n\r\n", 1).0, Ok(Some(20)));
        assert_eq!(
            scan(b"\r\r\nGET / HTTP/1.0\r\n\r\n", 1).0,
            Err(Status::BadRequest)
        );
    }

    #[test]
    fn empty_lines_before_a_request_count_against_the_head_limit() {
        let mut flood = b"\r\n".repeat(MAX_HEAD / 2 + 1);
        assert_eq!(err(&flood), Status::BadRequest);
        flood.truncate(MAX_HEAD - 40);
        assert!(matches!(parse(&flood), Ok(Parsed::Partial)));
        flood.extend(b"GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789abcdef\r\n\r\n");
        assert_eq!(err(&flood), Status::HeaderFieldsTooLarge);
    }

    /// Feeds `input` to a scanner `step` bytes at a time, parsing when it says so, as a
    /// connection does; returns the outcome and how many times `parse` ran.
    fn scan(input: &[u8], step: usize) -> (Result<Option<usize>, Status>, usize) {
        let mut head = HeadScan::default();
        let mut parses = 0;
        for end in (step..input.len() + step).step_by(step) {
            let buf = &input[..end.min(input.len())];
            if !head.worth_parsing(buf) {
                continue;
            }
            parses += 1;
            match parse(buf) {
                Ok(Parsed::Partial) => head.partial(),
                Ok(Parsed::Complete { len, .. }) => return (Ok(Some(len)), parses),
                Err(ParseError(s)) => return (Err(s), parses),
            }
        }
        (Ok(None), parses)
    }

    #[test]
    fn the_scanner_parses_each_head_a_few_times_however_it_arrives() {
        let mut head = b"\r\n\n".to_vec();
        head.extend(b"GET /a HTTP/1.1\r\nHost: a\r\n");
        for i in 0..90 {
            head.extend(format!("X-{i}: {}\r\n", "v".repeat(i)).as_bytes());
        }
        head.extend(b"\r\n");
        for step in [1, 2, 3, 7, 100, head.len()] {
            let (outcome, parses) = scan(&head, step);
            assert_eq!(outcome, Ok(Some(head.len())), "step {step}");
            assert!(parses <= 4, "step {step}: {parses} parses");
        }
        // Bare LF endings, and a CR LF split across reads.
        for step in 1..6 {
            let input = b"GET / HTTP/1.0\nA: b\n\n";
            assert_eq!(scan(input, step).0, Ok(Some(input.len())));
            let input = b"GET / HTTP/1.0\r\nA: b\r\n\r\n";
            assert_eq!(scan(input, step).0, Ok(Some(input.len())));
        }
    }

    #[test]
    fn the_scanner_refuses_early_and_at_each_limit() {
        assert_eq!(scan(b"\x16\x03\x01\x02\x00", 1).0, Err(Status::BadRequest));
        // Garbage in a request line is refused before its end arrives, in any pieces.
        for step in 1..5 {
            assert_eq!(
                scan(b"HHHHHHHH\x82\x00\xf4", step).0,
                Err(Status::BadRequest)
            );
            assert_eq!(scan(b"GET /a\x01bcdefgh", step).0, Err(Status::BadRequest));
            assert_eq!(scan(b"GET /a\rbcdefgh", step).0, Err(Status::BadRequest));
            assert_eq!(scan(b"GET /abc HTTP/1.1\r", step).0, Ok(None));
        }
        let flood = b"\r\n".repeat(MAX_HEAD);
        let (outcome, parses) = scan(&flood, 2);
        assert_eq!((outcome, parses), (Err(Status::BadRequest), 2));
        let mut long = b"GET /".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        assert_eq!(scan(&long, 3).0, Err(Status::UriTooLong));
        let mut fields = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        while fields.len() <= MAX_HEAD {
            fields.extend(b"X: 0123456789012345678901234567890123456789012345678901234567\r\n");
        }
        let (outcome, parses) = scan(&fields, 5);
        assert_eq!(outcome, Err(Status::HeaderFieldsTooLarge));
        assert!(parses <= 4, "{parses} parses");
        // An unfinished field line never ends the head, and a long one is refused.
        let mut line = b"GET / HTTP/1.1\r\nX: ".to_vec();
        line.extend(std::iter::repeat_n(b'v', MAX_HEAD));
        assert_eq!(scan(&line, 4096).0, Err(Status::HeaderFieldsTooLarge));
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
