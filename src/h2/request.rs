//! A request's header fields, as HPACK decoded them, checked against RFC 9113 §8.2 and
//! §8.3 and written as the HTTP/1.1 head that `http::request::parse` reads.
//!
//! One parser and one site then answer both protocols, so an HTTP/2 request gets the
//! answer the same request over HTTP/1.1 gets, limits and refusals included. What only
//! HTTP/2 forbids is refused here: upper-case names, pseudo-header fields that are
//! unknown, repeated, missing or after a regular field, connection-specific fields, a
//! `te` other than `trailers`, and values with NUL, CR, LF or whitespace at either end.
//! Such a request is malformed (a stream error, RFC 9113 §8.1.1).

use crate::http::syntax::is_tchar;

/// The request could not be written as a head: answer the stream with RST_STREAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// Collects one request's fields; reused from one request to the next.
#[derive(Default)]
pub struct HeadBuilder {
    method: Vec<u8>,
    path: Vec<u8>,
    authority: Vec<u8>,
    seen: u8,
    /// The regular fields, already as `name: value\r\n` lines.
    fields: Vec<u8>,
    regular: bool,
    host: Option<(usize, usize)>,
    content_length: Option<u64>,
    malformed: bool,
}

const METHOD: u8 = 1;
const SCHEME: u8 = 2;
const PATH: u8 = 4;
const AUTHORITY: u8 = 8;

impl HeadBuilder {
    /// Starts a new request.
    pub fn reset(&mut self) {
        self.method.clear();
        self.path.clear();
        self.authority.clear();
        self.seen = 0;
        self.fields.clear();
        self.regular = false;
        self.host = None;
        self.content_length = None;
        self.malformed = false;
    }

    /// Takes the next field of the block, in order.
    pub fn field(&mut self, name: &[u8], value: &[u8]) {
        if self.malformed {
            return;
        }
        if !valid_value(value) {
            self.malformed = true;
            return;
        }
        if let Some(pseudo) = name.strip_prefix(b":") {
            let (bit, slot) = match pseudo {
                b"method" => (METHOD, Some(&mut self.method)),
                b"scheme" => (SCHEME, None),
                b"path" => (PATH, Some(&mut self.path)),
                b"authority" => (AUTHORITY, Some(&mut self.authority)),
                _ => (0, None),
            };
            if bit == 0 || self.regular || self.seen & bit != 0 {
                self.malformed = true;
                return;
            }
            self.seen |= bit;
            if let Some(slot) = slot {
                slot.extend_from_slice(value);
            }
            return;
        }
        self.regular = true;
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b) && !b.is_ascii_uppercase()) {
            self.malformed = true;
            return;
        }
        match name {
            b"connection" | b"proxy-connection" | b"keep-alive" | b"transfer-encoding"
            | b"upgrade" => {
                self.malformed = true;
                return;
            }
            b"te" if value != b"trailers" => {
                self.malformed = true;
                return;
            }
            // The first, if a number: what the body's DATA must add up to. Anything
            // else is the HTTP/1.1 parser's to refuse.
            b"content-length" if self.content_length.is_none() => {
                self.content_length = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
            b"host" => {
                if self.host.is_some() {
                    self.malformed = true;
                    return;
                }
                self.host = Some((self.fields.len() + 6, value.len()));
            }
            _ => {}
        }
        self.fields.extend_from_slice(name);
        self.fields.extend_from_slice(b": ");
        self.fields.extend_from_slice(value);
        self.fields.extend_from_slice(b"\r\n");
    }

    /// The request's `content-length`, when it has one that is a number.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The head, written into `head` (cleared first), once the block has ended.
    pub fn finish(&mut self, head: &mut Vec<u8>) -> Result<(), Malformed> {
        head.clear();
        if self.malformed || self.seen & METHOD == 0 {
            return Err(Malformed);
        }
        let connect = self.method == b"CONNECT";
        let target: &[u8] = if connect {
            // Tunnels are not served (405); `:scheme` and `:path` must be absent.
            if self.seen & (SCHEME | PATH) != 0 {
                return Err(Malformed);
            }
            b"/"
        } else {
            if self.seen & (SCHEME | PATH) != SCHEME | PATH || self.path.is_empty() {
                return Err(Malformed);
            }
            &self.path
        };
        head.reserve(
            self.method.len() + target.len() + self.authority.len() + self.fields.len() + 32,
        );
        head.extend_from_slice(&self.method);
        head.push(b' ');
        head.extend_from_slice(target);
        head.extend_from_slice(b" HTTP/1.1\r\n");
        let mut fields = &self.fields[..];
        if self.seen & AUTHORITY != 0 {
            if let Some((at, len)) = self.host {
                // Both: they must name the same (RFC 9113 §8.3.1); the head keeps one.
                if self.fields[at..at + len] != self.authority[..] {
                    return Err(Malformed);
                }
            }
            head.extend_from_slice(b"host: ");
            head.extend_from_slice(&self.authority);
            head.extend_from_slice(b"\r\n");
            if let Some((at, len)) = self.host {
                head.extend_from_slice(&fields[..at - 6]);
                fields = &fields[at + len + 2..];
            }
        } else if self.host.is_none() {
            // HTTP/2 may leave the authority out; HTTP/1.1's empty Host says the same.
            head.extend_from_slice(b"host: \r\n");
        }
        head.extend_from_slice(fields);
        head.extend_from_slice(b"\r\n");
        Ok(())
    }
}

/// RFC 9113 §8.2.1: no NUL, CR or LF, and no whitespace at either end.
fn valid_value(v: &[u8]) -> bool {
    let edge = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    !edge(v.first()) && !edge(v.last()) && !v.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(fields: &[(&str, &str)]) -> Result<String, Malformed> {
        let mut b = HeadBuilder::default();
        b.reset();
        for (n, v) in fields {
            b.field(n.as_bytes(), v.as_bytes());
        }
        let mut out = Vec::new();
        b.finish(&mut out).map(|()| String::from_utf8(out).unwrap())
    }

    const BASE: [(&str, &str); 3] = [(":method", "GET"), (":scheme", "https"), (":path", "/a?b")];

    #[test]
    fn a_request_becomes_a_head() {
        let mut f = BASE.to_vec();
        f.insert(2, (":authority", "example.com:8443"));
        f.push(("accept-encoding", "gzip, br"));
        f.push(("range", "bytes=0-1"));
        assert_eq!(
            head(&f).unwrap(),
            "GET /a?b HTTP/1.1\r\nhost: example.com:8443\r\naccept-encoding: gzip, br\r\nrange: bytes=0-1\r\n\r\n"
        );
        assert_eq!(head(&BASE).unwrap(), "GET /a?b HTTP/1.1\r\nhost: \r\n\r\n");
        let mut h = BASE.to_vec();
        h.push(("host", "x"));
        assert_eq!(head(&h).unwrap(), "GET /a?b HTTP/1.1\r\nhost: x\r\n\r\n");
    }

    #[test]
    fn host_beside_authority_must_agree_and_is_kept_once() {
        let mut f = BASE.to_vec();
        f.push((":authority", "a"));
        // pseudo after regular is refused, so build it in order
        let mut ok = vec![
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "a"),
        ];
        ok.extend([("x-1", "1"), ("host", "a"), ("x-2", "2")]);
        assert_eq!(
            head(&ok).unwrap(),
            "GET / HTTP/1.1\r\nhost: a\r\nx-1: 1\r\nx-2: 2\r\n\r\n"
        );
        let mut bad = ok.clone();
        bad[5] = ("host", "b");
        assert_eq!(head(&bad), Err(Malformed));
        assert_eq!(head(&f), Ok("GET /a?b HTTP/1.1\r\nhost: a\r\n\r\n".into()));
    }

    #[test]
    fn malformed_requests_are_refused() {
        let with = |extra: (&'static str, &'static str)| {
            let mut f = BASE.to_vec();
            f.push(extra);
            head(&f)
        };
        for bad in [
            ("Accept", "x"),
            ("connection", "keep-alive"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("keep-alive", "1"),
            ("te", "gzip"),
            ("x", " padded"),
            ("x", "tab\t"),
            ("x", "a\r\nb: c"),
            ("x", "nul\0"),
            (":path", "/again"),
            (":status", "200"),
            (":protocol", "websocket"),
            ("", "empty name"),
            ("sp ace", "x"),
        ] {
            assert_eq!(with(bad), Err(Malformed), "{bad:?}");
        }
        assert!(with(("te", "trailers")).is_ok());
        let late = [
            (":method", "GET"),
            ("x", "1"),
            (":scheme", "http"),
            (":path", "/"),
        ];
        assert_eq!(head(&late), Err(Malformed));
        assert_eq!(head(&BASE[..2]), Err(Malformed));
        assert_eq!(head(&[(":method", "GET"), (":path", "/")]), Err(Malformed));
        assert_eq!(
            head(&[(":method", "GET"), (":scheme", "http"), (":path", "")]),
            Err(Malformed)
        );
        assert_eq!(
            head(&[(":method", "CONNECT"), (":authority", "a:443")]).unwrap(),
            "CONNECT / HTTP/1.1\r\nhost: a:443\r\n\r\n"
        );
        assert_eq!(
            head(&[(":method", "CONNECT"), (":path", "/")]),
            Err(Malformed)
        );
    }
}
