//! A response decision (status, headers, body source) and its head in bytes.

use std::fs::File;
use std::io::Write;
use std::time::SystemTime;

use super::status::Status;

/// The value of the `Server` header.
pub const SERVER: &str = concat!("preforkd/", env!("CARGO_PKG_VERSION"));

/// Where the body bytes come from.
pub enum Body {
    Empty,
    Static(&'static [u8]),
    /// `len` bytes of `file` from `offset`.
    File {
        file: File,
        offset: u64,
        len: u64,
    },
}

/// Everything needed to write one response.
pub struct Response {
    pub status: Status,
    pub content_type: Option<&'static str>,
    /// The exact Content-Length (for HEAD, the length a GET would send).
    pub content_length: u64,
    pub last_modified: Option<SystemTime>,
    /// For a redirect: the new location (already safe to send: no CR, LF or controls).
    pub location: Option<Vec<u8>>,
    pub keep_alive: bool,
    /// HEAD: the same head as GET, no body.
    pub head_only: bool,
    pub body: Body,
}

impl Response {
    /// An error page; `keep_alive` only where the connection can safely carry on.
    pub fn error(status: Status, keep_alive: bool) -> Response {
        let body = status.error_body().as_bytes();
        Response {
            status,
            content_type: Some("text/html"),
            content_length: body.len() as u64,
            last_modified: None,
            location: None,
            keep_alive,
            head_only: false,
            body: Body::Static(body),
        }
    }

    /// Writes the status line and header fields, ending with the empty line.
    pub fn write_head(&self, date: &str, out: &mut Vec<u8>) {
        let s = self.status;
        // Writing into a Vec cannot fail.
        let _ = write!(out, "HTTP/1.1 {} {}\r\n", s.code(), s.reason());
        out.extend_from_slice(b"Server: ");
        out.extend_from_slice(SERVER.as_bytes());
        out.extend_from_slice(b"\r\nDate: ");
        out.extend_from_slice(date.as_bytes());
        out.extend_from_slice(if self.keep_alive {
            b"\r\nConnection: keep-alive\r\n".as_slice()
        } else {
            b"\r\nConnection: close\r\n".as_slice()
        });
        if let Some(t) = self.content_type {
            out.extend_from_slice(b"Content-Type: ");
            out.extend_from_slice(t.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if s != Status::NotModified {
            let _ = write!(out, "Content-Length: {}\r\n", self.content_length);
        }
        if let Some(m) = self.last_modified {
            out.extend_from_slice(b"Last-Modified: ");
            super::conditional::write_http_date(m, out);
            out.extend_from_slice(b"\r\n");
        }
        if let Some(loc) = &self.location {
            out.extend_from_slice(b"Location: ");
            out.extend_from_slice(loc);
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
        let r = Response::error(Status::MethodNotAllowed, false);
        let mut out = Vec::new();
        r.write_head("Sun, 06 Nov 1994 08:49:37 GMT", &mut out);
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
