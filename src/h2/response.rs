//! A response decision's head as an HPACK header block: the fields
//! `http::response::Response::write_head` writes for HTTP/1.1, lower-case and without
//! `Connection`, which HTTP/2 forbids (RFC 9113 §8.2.2).

use super::hpack::{encode_field, encode_status};
use crate::http::date::push_u64;
use crate::http::range;
use crate::http::response::{ContentRange, Response, SERVER};
use crate::http::status::Status;

/// Appends the header block of `r`, with `date` as its `Date`.
pub fn encode_head<F>(r: &Response<F>, date: &[u8], out: &mut Vec<u8>) {
    let mut value = Vec::new();
    encode_status(r.status.code(), out);
    encode_field(b"server", SERVER.as_bytes(), out);
    encode_field(b"date", date, out);
    if let Some(b) = &r.boundary {
        range::multipart_content_type(b, &mut value);
        encode_field(b"content-type", &value, out);
    } else if let Some(t) = r.content_type {
        encode_field(b"content-type", t.as_bytes(), out);
    }
    if r.status != Status::NotModified {
        value.clear();
        push_u64(&mut value, r.content_length);
        encode_field(b"content-length", &value, out);
    }
    if let Some(m) = r.last_modified {
        encode_field(b"last-modified", m.as_bytes(), out);
    }
    if let Some(tag) = &r.etag {
        encode_field(b"etag", tag.as_bytes(), out);
    }
    if let Some(cc) = r.cache_control {
        encode_field(b"cache-control", cc.as_bytes(), out);
    }
    if let Some(ce) = r.content_encoding {
        encode_field(b"content-encoding", ce.as_bytes(), out);
    }
    if r.vary_encoding {
        encode_field(b"vary", b"Accept-Encoding", out);
    }
    if r.accept_ranges {
        encode_field(b"accept-ranges", b"bytes", out);
    }
    if let Some(cr) = r.content_range {
        value.clear();
        match cr {
            ContentRange::Bytes { range: b, size } => range::content_range(b, size, &mut value),
            ContentRange::Unsatisfied { size } => {
                range::unsatisfied_content_range(size, &mut value)
            }
        }
        encode_field(b"content-range", &value, out);
    }
    if let Some(loc) = &r.location {
        encode_field(b"location", loc, out);
    }
    if let Some(v) = r.hsts {
        encode_field(b"strict-transport-security", v.as_bytes(), out);
    }
    if r.status == Status::MethodNotAllowed {
        encode_field(b"allow", b"GET, HEAD", out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h2::hpack::Decoder;

    fn fields<F>(r: &Response<F>) -> Vec<(String, String)> {
        let mut block = Vec::new();
        encode_head(r, b"Sun, 06 Nov 1994 08:49:37 GMT", &mut block);
        let mut got = Vec::new();
        let all = Decoder::new(4096)
            .decode(&block, usize::MAX, |n, v| {
                got.push((
                    String::from_utf8(n.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                ))
            })
            .unwrap();
        assert!(all);
        got
    }

    #[test]
    fn an_error_head_has_the_fields_http1_has_but_connection() {
        let r = Response::<()>::error(Status::MethodNotAllowed, true);
        let f = fields(&r);
        let get = |n: &str| f.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get(":status"), Some("405"));
        assert_eq!(get("allow"), Some("GET, HEAD"));
        assert_eq!(get("content-type"), Some("text/html"));
        assert_eq!(get("date"), Some("Sun, 06 Nov 1994 08:49:37 GMT"));
        assert!(get("server").unwrap().starts_with("preforkd/"));
        let len = Status::MethodNotAllowed.error_body().len().to_string();
        assert_eq!(get("content-length"), Some(len.as_str()));
        assert_eq!(get("connection"), None);
        assert_eq!(f[0].0, ":status");
    }

    #[test]
    fn not_modified_has_no_length() {
        let r = Response::<()>::new(Status::NotModified, true);
        let f = fields(&r);
        assert!(f.iter().all(|(k, _)| k != "content-length"));
        assert_eq!(f[0], (":status".into(), "304".into()));
    }
}
