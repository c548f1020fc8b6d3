//! A response decision (status, headers, body source) and its head in bytes.

use super::date::ImfDate;

use super::conditional::ETag;
use super::range::{self, BOUNDARY_LEN, ByteRange};
use super::status::Status;

/// The value of the `Server` header.
pub const SERVER: &str = concat!("preforkd/", env!("CARGO_PKG_VERSION"));

/// Where the body bytes come from. `F` is whatever the caller reads file bytes from
/// (the site's open file); this module only carries it.
pub enum Body<F> {
    Empty,
    Static(&'static [u8]),
    /// Bytes made for this response (a directory listing).
    Bytes(Vec<u8>),
    /// `len` bytes of `file` from `offset`.
    File {
        file: F,
        offset: u64,
        len: u64,
    },
    /// Pieces of one file with framing bytes between them (`multipart/byteranges`).
    Parts {
        file: F,
        parts: Vec<Part>,
    },
}

/// One piece of a [`Body::Parts`] body, sent in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Bytes(Vec<u8>),
    /// `len` bytes of the body's file from `offset`.
    Range {
        offset: u64,
        len: u64,
    },
}

/// The `Content-Range` of a 206 with one range, or of a 416.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentRange {
    /// `bytes a-b/size`
    Bytes { range: ByteRange, size: u64 },
    /// `bytes */size`
    Unsatisfied { size: u64 },
}

/// Everything needed to write one response.
pub struct Response<F> {
    pub status: Status,
    pub content_type: Option<&'static str>,
    /// The exact Content-Length (for HEAD, the length a GET would send).
    pub content_length: u64,
    pub last_modified: Option<ImfDate>,
    /// For a redirect: the new location (already safe to send: no CR, LF or controls).
    pub location: Option<Vec<u8>>,
    pub keep_alive: bool,
    /// HEAD: the same head as GET, no body.
    pub head_only: bool,
    pub body: Body<F>,
    pub etag: Option<ETag>,
    /// The `--cache-control` value (validated at start-up: no controls, no CR or LF).
    pub cache_control: Option<&'static str>,
    /// Set when a pre-compressed sidecar is sent.
    pub content_encoding: Option<&'static str>,
    /// `Vary: Accept-Encoding`: the answer depends on it (the file has a sidecar).
    pub vary_encoding: bool,
    /// `Accept-Ranges: bytes`, on responses for files.
    pub accept_ranges: bool,
    pub content_range: Option<ContentRange>,
    /// A 206 with several ranges: the Content-Type is `multipart/byteranges` with this
    /// boundary (the file's own type goes into each part).
    pub boundary: Option<[u8; BOUNDARY_LEN]>,
    /// `Strict-Transport-Security` (`--hsts`), on responses sent over TLS.
    pub hsts: Option<&'static str>,
}

impl<F> Response<F> {
    /// A response with no body and no optional fields; callers fill in the rest.
    pub fn new(status: Status, keep_alive: bool) -> Self {
        Response {
            status,
            content_type: None,
            content_length: 0,
            last_modified: None,
            location: None,
            keep_alive,
            head_only: false,
            body: Body::Empty,
            etag: None,
            cache_control: None,
            content_encoding: None,
            vary_encoding: false,
            accept_ranges: false,
            content_range: None,
            boundary: None,
            hsts: None,
        }
    }

    /// An error page; `keep_alive` only where the connection can safely carry on.
    pub fn error(status: Status, keep_alive: bool) -> Self {
        let body = status.error_body().as_bytes();
        Response {
            content_type: Some("text/html"),
            content_length: body.len() as u64,
            body: Body::Static(body),
            ..Response::new(status, keep_alive)
        }
    }

    /// Writes the status line and header fields, ending with the empty line.
    pub fn write_head(&self, date: &[u8], out: &mut Vec<u8>) {
        let s = self.status;
        out.extend_from_slice(s.status_line().as_bytes());
        out.extend_from_slice(b"Server: ");
        out.extend_from_slice(SERVER.as_bytes());
        out.extend_from_slice(b"\r\nDate: ");
        out.extend_from_slice(date);
        out.extend_from_slice(if self.keep_alive {
            b"\r\nConnection: keep-alive\r\n".as_slice()
        } else {
            b"\r\nConnection: close\r\n".as_slice()
        });
        if let Some(b) = &self.boundary {
            out.extend_from_slice(b"Content-Type: ");
            range::multipart_content_type(b, out);
            out.extend_from_slice(b"\r\n");
        } else if let Some(t) = self.content_type {
            out.extend_from_slice(b"Content-Type: ");
            out.extend_from_slice(t.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if s != Status::NotModified {
            out.extend_from_slice(b"Content-Length: ");
            super::date::push_u64(out, self.content_length);
            out.extend_from_slice(b"\r\n");
        }
        if let Some(m) = self.last_modified {
            out.extend_from_slice(b"Last-Modified: ");
            out.extend_from_slice(m.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some(tag) = &self.etag {
            out.extend_from_slice(b"ETag: ");
            out.extend_from_slice(tag.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some(cc) = self.cache_control {
            out.extend_from_slice(b"Cache-Control: ");
            out.extend_from_slice(cc.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some(ce) = self.content_encoding {
            out.extend_from_slice(b"Content-Encoding: ");
            out.extend_from_slice(ce.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if self.vary_encoding {
            out.extend_from_slice(b"Vary: Accept-Encoding\r\n");
        }
        if self.accept_ranges {
            out.extend_from_slice(b"Accept-Ranges: bytes\r\n");
        }
        match self.content_range {
            Some(ContentRange::Bytes { range: r, size }) => {
                out.extend_from_slice(b"Content-Range: ");
                range::content_range(r, size, out);
                out.extend_from_slice(b"\r\n");
            }
            Some(ContentRange::Unsatisfied { size }) => {
                out.extend_from_slice(b"Content-Range: ");
                range::unsatisfied_content_range(size, out);
                out.extend_from_slice(b"\r\n");
            }
            None => {}
        }
        if let Some(loc) = &self.location {
            out.extend_from_slice(b"Location: ");
            out.extend_from_slice(loc);
            out.extend_from_slice(b"\r\n");
        }
        if let Some(v) = self.hsts {
            out.extend_from_slice(b"Strict-Transport-Security: ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if s == Status::MethodNotAllowed {
            out.extend_from_slice(b"Allow: GET, HEAD\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_head_has_the_required_fields() {
        let r = Response::<()>::error(Status::MethodNotAllowed, false);
        let mut out = Vec::new();
        r.write_head(b"Sun, 06 Nov 1994 08:49:37 GMT", &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(text.contains("\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
        assert!(text.contains("\r\nServer: preforkd/"));
        assert!(text.contains("\r\nConnection: close\r\n"));
        assert!(text.contains("\r\nAllow: GET, HEAD\r\n"));
        let len = Status::MethodNotAllowed.error_body().len();
        assert!(text.contains(&format!("\r\nContent-Length: {len}\r\n")));
        assert!(text.ends_with("\r\n\r\n"));
    }
}
