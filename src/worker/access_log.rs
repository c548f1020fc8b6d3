//! The access log's line: combined log format, one per response, through [`log::access`].

use std::io::Write;
use std::net::SocketAddr;
use std::time::SystemTime;

use crate::calendar::{DateTime, MONTHS};
use crate::http::request::Request;
use crate::http::response::{Body, Response};
use crate::log;

/// Logs one response; `request` is None when the head could not be parsed.
pub fn record<F>(peer: SocketAddr, request: Option<&Request<'_>>, response: &Response<F>) {
    log::access(|buf| format_combined(buf, peer, request, false, response, SystemTime::now()));
}

/// The same for a request that came over HTTP/2: its line says `HTTP/2.0`.
pub fn record_h2<F>(peer: SocketAddr, request: Option<&Request<'_>>, response: &Response<F>) {
    log::access(|buf| format_combined(buf, peer, request, true, response, SystemTime::now()));
}

/// `host - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 2326 "referer" "agent"`
fn format_combined<F>(
    out: &mut Vec<u8>,
    peer: SocketAddr,
    request: Option<&Request<'_>>,
    h2: bool,
    response: &Response<F>,
    now: SystemTime,
) {
    let DateTime {
        year: y,
        month: mo,
        day: d,
        hour: h,
        minute: mi,
        second: s,
        ..
    } = DateTime::at(now);
    let month = MONTHS[usize::from(mo - 1)];
    let _ = write!(
        out,
        "{} - - [{d:02}/{month}/{y:04}:{h:02}:{mi:02}:{s:02} +0000] \"",
        peer.ip()
    );
    match request {
        Some(r) => {
            escape(out, r.method_raw);
            out.push(b' ');
            escape(out, r.target);
            if h2 {
                out.extend_from_slice(b" HTTP/2.0");
            } else {
                let _ = write!(out, " HTTP/1.{}", r.minor);
            }
        }
        None => out.push(b'-'),
    }
    let sent = match response.body {
        _ if response.head_only => 0,
        Body::Empty => 0,
        _ => response.content_length,
    };
    let _ = write!(out, "\" {} ", response.status.code());
    if sent == 0 {
        out.push(b'-');
    } else {
        let _ = write!(out, "{sent}");
    }
    for name in ["referer", "user-agent"] {
        out.extend_from_slice(b" \"");
        match request.and_then(|r| r.header(name)) {
            Some(v) => escape(out, v),
            None => out.push(b'-'),
        }
        out.push(b'"');
    }
    out.push(b'\n');
}

/// Client-supplied bytes in a log line: quotes, backslashes and non-printable bytes are
/// hex-escaped (as nginx does), so a request cannot forge a line or a field.
fn escape(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            let _ = write!(out, "\\x{b:02X}");
        } else {
            out.push(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{Parsed, parse};
    use crate::http::status::Status;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn combined_format() {
        let raw = b"GET /a\"b HTTP/1.1\r\nHost: x\r\nUser-Agent: t/1\r\nReferer: http://r/\r\n\r\n";
        let Ok(Parsed::Complete { request, .. }) = parse(raw) else {
            panic!("parse")
        };
        let mut response = Response::<()>::error(Status::NotFound, true);
        response.head_only = false;
        let mut out = Vec::new();
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        format_combined(
            &mut out,
            "10.0.0.1:5000".parse().unwrap(),
            Some(&request),
            false,
            &response,
            t,
        );
        let line = String::from_utf8(out).unwrap();
        assert!(
            line.starts_with(
                "10.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /a\\x22b HTTP/1.1\" 404 "
            ),
            "{line}"
        );
        assert!(line.ends_with(" \"http://r/\" \"t/1\"\n"), "{line}");
        out = Vec::new();
        format_combined(
            &mut out,
            "[::1]:1".parse().unwrap(),
            Some(&request),
            true,
            &response,
            t,
        );
        let line = String::from_utf8(out).unwrap();
        assert!(line.contains("\"GET /a\\x22b HTTP/2.0\" 404 "), "{line}");
    }
}
