//! A parsed request and the document root in, a response decision out.
//!
//! For a file the order is RFC 9110's: pick the representation (a pre-compressed
//! sidecar or the file itself), evaluate the preconditions against its validators
//! (304/412), then the Range header, guarded by If-Range (206/416), else 200.

use std::fs::File;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::http::autoindex;
use crate::http::conditional::{self, Precondition, Validators};
use crate::http::encoding::{self, Coding};
use crate::http::range::{self, BOUNDARY_LEN, RangeOutcome, Ranges};
use crate::http::request::{Method, Request};
use crate::http::response::{self, ContentRange, Part};
use crate::http::status::Status;
use crate::site::cache::{FileCache, Lookup, Representations};
use crate::site::root::{Content, OpenFile, Root};

/// A response whose file bodies are read from a file open under the root.
pub type Response = response::Response<Rc<Content>>;
/// Where such a response's body comes from.
pub type Body = response::Body<Rc<Content>>;

/// What every worker knows about the site it serves.
pub struct Site {
    pub root: Root,
    /// What paths resolved to, trusted for a second (see `cache.rs`).
    pub cache: FileCache,
    /// `--cache-control`, for 200/206/304 file responses.
    pub cache_control: Option<&'static str>,
    /// `--autoindex`: list directories that have no index.html.
    pub autoindex: bool,
    /// What differs between plain and TLS connections.
    pub https: Https,
}

/// `--redirect-https` and `--hsts`.
#[derive(Default)]
pub struct Https {
    /// Plain-HTTP requests are answered with a 308 to the same resource on this port.
    pub redirect_port: Option<u16>,
    /// The `Strict-Transport-Security` value for responses over TLS.
    pub hsts: Option<&'static str>,
}

impl Https {
    /// `redirect_port`: the first TLS listener's port, when `--redirect-https` is on;
    /// `hsts_secs`: `--hsts`.
    pub fn new(redirect_port: Option<u16>, hsts_secs: Option<u64>) -> Https {
        Https {
            redirect_port,
            // Leaked once per worker, like the Cache-Control value.
            hsts: hsts_secs.map(|secs| &*Box::leak(format!("max-age={secs}").into_boxed_str())),
        }
    }
}

impl Site {
    /// `cache_control` and `autoindex` are the `--cache-control` and `--autoindex` values.
    pub fn new(root: Root, cache_control: Option<String>, autoindex: bool) -> Site {
        Site {
            root,
            cache: FileCache::default(),
            // Leaked once per worker: it lives as long as the process, and responses can
            // then carry it as a plain `&'static str` with no copy per request.
            cache_control: cache_control.map(|v| &*Box::leak(v.into_boxed_str())),
            autoindex,
            https: Https::default(),
        }
    }
}

/// Decides the response to one request. `secure`: it came over TLS. `keep_alive` is
/// whether the connection may carry on afterwards (the request asked for it and the
/// worker is not stopping).
pub fn respond(
    req: &Request<'_>,
    site: &Site,
    secure: bool,
    keep_alive: bool,
    scratch: &mut Vec<u8>,
    now: Instant,
) -> Response {
    let head_only = req.method == Method::Head;
    let mut response = match site.https.redirect_port {
        Some(port) if !secure => https_redirect(req, port, keep_alive),
        _ => resource(req, site, keep_alive, scratch, now),
    };
    response.head_only = head_only;
    if secure {
        response.hsts = site.https.hsts;
    }
    response
}

/// The answer a request gets from the document root.
fn resource(
    req: &Request<'_>,
    site: &Site,
    keep_alive: bool,
    scratch: &mut Vec<u8>,
    now: Instant,
) -> Response {
    if req.method == Method::Other {
        return Response::error(Status::MethodNotAllowed, keep_alive);
    }
    let path = req.path();
    match site.cache.resolve(&site.root, path, scratch, now) {
        Ok(Lookup::File(files)) => file_response(req, site, files, keep_alive),
        Ok(Lookup::Directory(dir)) if site.autoindex => listing(site, &dir, scratch, keep_alive),
        Ok(Lookup::Directory(_)) => Response::error(Status::Forbidden, keep_alive),
        Ok(Lookup::AddSlash) => {
            let mut r = Response::error(Status::MovedPermanently, keep_alive);
            r.location = Some(directory_location(scratch));
            r
        }
        Err(status) => Response::error(status, keep_alive),
    }
}

/// `--redirect-https`: a 308 (the method and body stay as they were, RFC 9110 §15.4.9)
/// to the same path and query over TLS. The host is the one the client asked for, with
/// the TLS port instead of its own; the parser lets only host characters through
/// (no `/`, `@` or `\`), so the target cannot name another host than the client's.
/// Without a host there is nothing safe to send the client to: 400.
fn https_redirect(req: &Request<'_>, port: u16, keep_alive: bool) -> Response {
    let host = req
        .header("host")
        .map(host_without_port)
        .unwrap_or_default();
    if host.is_empty() {
        return Response::error(Status::BadRequest, keep_alive);
    }
    let origin = req.origin();
    let mut location = Vec::with_capacity(8 + host.len() + 6 + origin.len());
    location.extend_from_slice(b"https://");
    location.extend_from_slice(host);
    if port != 443 {
        location.push(b':');
        location.extend_from_slice(port.to_string().as_bytes());
    }
    location.extend_from_slice(origin);
    let mut r = Response::error(Status::PermanentRedirect, keep_alive);
    r.location = Some(location);
    r
}

/// `example.org:8080` to `example.org`, `[::1]:8080` to `[::1]`.
fn host_without_port(host: &[u8]) -> &[u8] {
    let end = if host.first() == Some(&b'[') {
        host.iter()
            .position(|&b| b == b']')
            .map_or(host.len(), |i| i + 1)
    } else {
        host.iter().position(|&b| b == b':').unwrap_or(host.len())
    };
    &host[..end]
}

/// Where a directory asked for without its slash lives: `/` + the normalized path +
/// `/` (the query is dropped, as the path's meaning does not depend on it). Built from
/// the normalized path, never from the raw target, so it is always a path on this
/// server: `//evil.example/../dir` would otherwise become a reference to another host
/// (CWE-601). A normalized path has no empty segment, and each segment is
/// percent-encoded (`\` too), so the result never starts with `//` or `/\`.
fn directory_location(rel: &[u8]) -> Vec<u8> {
    let mut location = Vec::with_capacity(rel.len() + 2);
    for segment in rel.split(|&b| b == b'/') {
        location.push(b'/');
        autoindex::percent_encode(segment, &mut location);
    }
    location.push(b'/');
    location
}

/// The answer for a regular file and its pre-compressed sidecars.
fn file_response(
    req: &Request<'_>,
    site: &Site,
    files: Representations,
    keep_alive: bool,
) -> Response {
    let content_type = files.plain.content_type;
    let (f, coding, has_sidecar) = choose_representation(req, files);
    let validators = *f.validators;
    let size = f.size;

    let mut r = match conditional::evaluate(
        true,
        req.header("if-match"),
        req.header("if-none-match"),
        req.header("if-modified-since"),
        req.header("if-unmodified-since"),
        &validators,
    ) {
        Precondition::NotModified => {
            let mut r = Response::new(Status::NotModified, keep_alive);
            r.last_modified = Some(validators.last_modified_text);
            r.etag = Some(validators.etag);
            r.cache_control = site.cache_control;
            r.vary_encoding = has_sidecar;
            return r;
        }
        Precondition::Failed => Response::error(Status::PreconditionFailed, keep_alive),
        Precondition::Proceed => match range_outcome(req, &validators, size) {
            RangeOutcome::Ignore => {
                let mut r = Response::new(Status::Ok, keep_alive);
                r.content_type = Some(content_type);
                r.content_length = size;
                r.body = Body::File {
                    file: f.file,
                    offset: 0,
                    len: size,
                };
                r.cache_control = site.cache_control;
                r
            }
            RangeOutcome::Unsatisfiable => {
                let mut r = Response::error(Status::RangeNotSatisfiable, keep_alive);
                r.content_range = Some(ContentRange::Unsatisfied { size });
                r
            }
            RangeOutcome::Satisfiable(ranges) => {
                let mut r = partial(f.file, content_type, &ranges, size, keep_alive);
                r.cache_control = site.cache_control;
                r
            }
        },
    };
    if r.status != Status::PreconditionFailed {
        r.last_modified = Some(validators.last_modified_text);
        r.etag = Some(validators.etag);
        r.content_encoding = coding.map(Coding::header_value);
    }
    r.accept_ranges = true;
    r.vary_encoding = has_sidecar;
    r
}

/// Picks the sidecar (`.br`, `.gz`) the client accepts, or the file itself. Also says
/// whether any sidecar exists, since then every answer for this URL varies with
/// Accept-Encoding, whatever this client sent.
/// (A request for the compressed file itself finds no sidecars: see `cache.rs`.)
fn choose_representation(
    req: &Request<'_>,
    files: Representations,
) -> (OpenFile, Option<Coding>, bool) {
    let Representations { plain, br, gz } = files;
    if br.is_none() && gz.is_none() {
        return (plain, None, false);
    }
    let has_sidecar = br.is_some() || gz.is_some();
    let wanted = req
        .header("accept-encoding")
        .and_then(|ae| encoding::preferred(ae, br.is_some(), gz.is_some()));
    match (wanted, br, gz) {
        (Some(Coding::Br), Some(f), _) => (f, Some(Coding::Br), true),
        (Some(Coding::Gzip), _, Some(f)) => (f, Some(Coding::Gzip), true),
        _ => (plain, None, has_sidecar),
    }
}

/// The Range decision: only GET has range semantics (RFC 9110 §14.2), and If-Range
/// turns a stale range request into a plain 200.
fn range_outcome(req: &Request<'_>, v: &Validators, size: u64) -> RangeOutcome {
    if req.method != Method::Get {
        return RangeOutcome::Ignore;
    }
    let Some(header) = req.header("range") else {
        return RangeOutcome::Ignore;
    };
    if let Some(if_range) = req.header("if-range")
        && !conditional::if_range_allows(if_range, v)
    {
        return RangeOutcome::Ignore;
    }
    range::evaluate(header, size)
}

/// A 206: one range as a plain body, several as `multipart/byteranges`.
fn partial(
    file: Rc<Content>,
    content_type: &'static str,
    ranges: &Ranges,
    size: u64,
    keep_alive: bool,
) -> Response {
    let mut r = Response::new(Status::PartialContent, keep_alive);
    if let [one] = ranges.as_slice() {
        r.content_type = Some(content_type);
        r.content_length = one.length();
        r.content_range = Some(ContentRange::Bytes { range: *one, size });
        r.body = Body::File {
            file,
            offset: one.start,
            len: one.length(),
        };
        return r;
    }
    let boundary = range::multipart_boundary(boundary_seed());
    let mut parts = Vec::with_capacity(ranges.len() * 2 + 1);
    for one in ranges {
        let mut head = Vec::with_capacity(64 + BOUNDARY_LEN + content_type.len());
        range::multipart_part_head(&boundary, content_type, *one, size, &mut head);
        parts.push(Part::Bytes(head));
        parts.push(Part::Range {
            offset: one.start,
            len: one.length(),
        });
    }
    let mut tail = Vec::with_capacity(8 + BOUNDARY_LEN);
    range::multipart_tail(&boundary, &mut tail);
    parts.push(Part::Bytes(tail));
    r.content_length = range::multipart_length(BOUNDARY_LEN, content_type, ranges.as_slice(), size);
    r.boundary = Some(boundary);
    r.body = Body::Parts { file, parts };
    r
}

/// Entropy for a multipart boundary: it only has to be unlikely to occur in the file,
/// and differ between responses, not be secret.
fn boundary_seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    nanos ^ (u64::from(std::process::id()) << 40) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The `--autoindex` page of a directory; `rel` is its path relative to the root.
fn listing(site: &Site, dir: &File, rel: &[u8], keep_alive: bool) -> Response {
    let Ok((mut entries, truncated)) = site.root.list(dir) else {
        return Response::error(Status::Forbidden, keep_alive);
    };
    let html = autoindex::render(rel, &mut entries, truncated);
    let mut r = Response::new(Status::Ok, keep_alive);
    r.content_type = Some(autoindex::CONTENT_TYPE);
    r.content_length = html.len() as u64;
    r.body = Body::Bytes(html);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Symlinks;
    use crate::http::request::{Parsed, parse};

    fn site(dir: &std::path::Path, autoindex: bool) -> Site {
        Site {
            root: Root::open(dir, Symlinks::Inside, false).unwrap(),
            cache: FileCache::default(),
            cache_control: Some("max-age=60"),
            autoindex,
            https: Https::default(),
        }
    }

    fn answer(site: &Site, head: &str) -> Response {
        answer_on(site, false, head)
    }

    fn answer_on(site: &Site, secure: bool, head: &str) -> Response {
        let raw = format!("{head}\r\n\r\n");
        let Ok(Parsed::Complete { request, .. }) = parse(raw.as_bytes()) else {
            panic!("bad test request {head:?}");
        };
        respond(
            &request,
            site,
            secure,
            true,
            &mut Vec::new(),
            Instant::now(),
        )
    }

    fn location(r: &Response) -> String {
        String::from_utf8(r.location.clone().unwrap()).unwrap()
    }

    #[test]
    fn plain_requests_are_redirected_to_the_tls_port_of_the_same_host() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.txt"), "x").unwrap();
        let mut s = site(dir.path(), false);
        s.https = Https::new(Some(8443), Some(600));
        let cases = [
            (
                "GET /f.txt?a=1 HTTP/1.1\r\nHost: example.org:8080",
                "https://example.org:8443/f.txt?a=1",
            ),
            (
                "HEAD /missing HTTP/1.1\r\nHost: [::1]:80",
                "https://[::1]:8443/missing",
            ),
            (
                "POST /x HTTP/1.1\r\nHost: a.example\r\nContent-Length: 0",
                "https://a.example:8443/x",
            ),
            // The target's authority never replaces the Host, and a target starting
            // with // stays a path on that host.
            (
                "GET http://evil.example/p HTTP/1.1\r\nHost: good.example",
                "https://good.example:8443/p",
            ),
            (
                "GET //evil.example/p HTTP/1.1\r\nHost: good.example",
                "https://good.example:8443//evil.example/p",
            ),
            (
                "OPTIONS * HTTP/1.1\r\nHost: good.example",
                "https://good.example:8443/",
            ),
        ];
        for (head, want) in cases {
            let r = answer_on(&s, false, head);
            assert_eq!(r.status, Status::PermanentRedirect, "{head}");
            assert_eq!(location(&r), want, "{head}");
            assert_eq!(r.hsts, None, "no HSTS over plain HTTP: {head}");
        }
        // Port 443 is left out; without a Host there is nowhere safe to go.
        s.https = Https::new(Some(443), None);
        let r = answer_on(&s, false, "GET / HTTP/1.1\r\nHost: example.org");
        assert_eq!(location(&r), "https://example.org/");
        let r = answer_on(&s, false, "GET / HTTP/1.0");
        assert_eq!(r.status, Status::BadRequest);
        // Over TLS the file is served.
        let r = answer_on(&s, true, "GET /f.txt HTTP/1.1\r\nHost: example.org");
        assert_eq!(r.status, Status::Ok);
    }

    #[test]
    fn hsts_goes_on_every_tls_response_and_never_on_plain_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.txt"), "x").unwrap();
        let mut s = site(dir.path(), false);
        s.https = Https::new(None, Some(31536000));
        for head in [
            "GET /f.txt HTTP/1.1\r\nHost: a",
            "GET /nope HTTP/1.1\r\nHost: a",
        ] {
            assert_eq!(answer_on(&s, true, head).hsts, Some("max-age=31536000"));
            assert_eq!(answer_on(&s, false, head).hsts, None);
            assert_ne!(answer_on(&s, false, head).status, Status::PermanentRedirect);
        }
    }

    #[test]
    fn multipart_length_matches_the_parts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.txt"), vec![b'x'; 5000]).unwrap();
        let s = site(dir.path(), false);
        let r = answer(
            &s,
            "GET /f.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=0-0,10-99,-7",
        );
        assert_eq!(r.status, Status::PartialContent);
        assert!(r.boundary.is_some());
        assert_eq!(r.cache_control, Some("max-age=60"));
        let Body::Parts { parts, .. } = &r.body else {
            panic!("not multipart");
        };
        let sum: u64 = parts
            .iter()
            .map(|p| match p {
                Part::Bytes(b) => b.len() as u64,
                Part::Range { len, .. } => *len,
            })
            .sum();
        assert_eq!(sum, r.content_length);
        assert_eq!(parts.len(), 7);
    }

    #[test]
    fn precondition_order_and_head() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.txt"), "hello").unwrap();
        let s = site(dir.path(), false);
        let ok = answer(&s, "HEAD /f.txt HTTP/1.1\r\nHost: a");
        assert!(ok.head_only && ok.accept_ranges && ok.etag.is_some());
        let tag = ok.etag.unwrap().as_str().to_owned();
        let r = answer(
            &s,
            &format!("GET /f.txt HTTP/1.1\r\nHost: a\r\nIf-None-Match: {tag}\r\nRange: bytes=0-1"),
        );
        assert_eq!(r.status, Status::NotModified);
        assert!(matches!(r.body, Body::Empty));
        let r = answer(
            &s,
            "GET /f.txt HTTP/1.1\r\nHost: a\r\nIf-Match: \"x\"\r\nRange: bytes=0-1",
        );
        assert_eq!(r.status, Status::PreconditionFailed);
        assert!(r.etag.is_none());
        let r = answer(&s, "GET /f.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=9-");
        assert_eq!(r.status, Status::RangeNotSatisfiable);
        assert_eq!(r.content_range, Some(ContentRange::Unsatisfied { size: 5 }));
    }

    #[test]
    fn the_slash_redirect_never_leaves_the_origin() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("dir/a b")).unwrap();
        std::fs::create_dir_all(dir.path().join("dir/\u{e9}\"<>")).unwrap();
        let s = site(dir.path(), false);
        for (target, want) in [
            ("//evil.example/../dir", "/dir/"),
            ("//evil.example/%2e%2e/dir", "/dir/"),
            ("/\\evil.example/../dir", "/dir/"),
            ("///evil.example/../dir", "/dir/"),
            ("/%2F%2Fevil.example/../dir", "/dir/"),
            ("/dir/./a%20b", "/dir/a%20b/"),
            ("/dir?x=1&y=%2F#frag", "/dir/"),
            ("/dir/a%20b/../\u{e9}%22%3C%3E", "/dir/%C3%A9%22%3C%3E/"),
            ("http://evil.example//dir", "/dir/"),
        ] {
            let r = answer(&s, &format!("GET {target} HTTP/1.1\r\nHost: a"));
            assert_eq!(r.status, Status::MovedPermanently, "{target}");
            assert_eq!(
                String::from_utf8_lossy(r.location.as_deref().unwrap()),
                want,
                "{target}"
            );
        }
    }

    #[test]
    fn directories_without_index() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/<b>.txt"), "x").unwrap();
        let off = site(dir.path(), false);
        assert_eq!(answer(&off, "GET /d/ HTTP/1.0").status, Status::Forbidden);
        let on = site(dir.path(), true);
        let r = answer(&on, "GET /d/ HTTP/1.0");
        assert_eq!(r.status, Status::Ok);
        let Body::Bytes(html) = r.body else {
            panic!("no listing");
        };
        let html = String::from_utf8(html).unwrap();
        assert!(
            html.contains("href=\"%3Cb%3E.txt\">&lt;b&gt;.txt</a>"),
            "{html}"
        );
        assert_eq!(r.content_length, html.len() as u64);
    }
}
