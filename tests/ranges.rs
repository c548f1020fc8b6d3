//! Byte ranges over real TCP (RFC 9110 §14): 206, multipart/byteranges, 416, If-Range,
//! ignored headers, the bound on the number of ranges, and keep-alive framing.

mod common;

use std::io::Write;

use common::{Response, Server, connect, get_with, pattern, read_n_responses, request_with, site};

/// Bytes over the server's small-file limit, so ranges go out by sendfile.
const BIG: usize = 300_000;
const SMALL: usize = 1000;

fn ranged_site() -> tempfile::TempDir {
    let root = site();
    std::fs::write(root.path().join("big.bin"), pattern(BIG)).unwrap();
    std::fs::write(root.path().join("small.txt"), pattern(SMALL)).unwrap();
    std::fs::write(root.path().join("empty.txt"), b"").unwrap();
    root
}

fn range(s: &Server, path: &str, value: &str) -> Response {
    get_with(s.addr, path, &[("Range", value)])
}

/// Splits a multipart/byteranges body into (Content-Type, Content-Range, bytes) parts,
/// checking the framing exactly.
fn multipart(r: &Response) -> Vec<(String, String, Vec<u8>)> {
    let ct = r.header("content-type").unwrap();
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{ct}"));
    assert!(!boundary.is_empty() && boundary.bytes().all(|b| b.is_ascii_alphanumeric()));
    let delim = format!("\r\n--{boundary}");
    let body = &r.body;
    let mut parts = Vec::new();
    let mut pos = 0;
    loop {
        assert!(
            body[pos..].starts_with(delim.as_bytes()),
            "delimiter at {pos}"
        );
        pos += delim.len();
        if body[pos..].starts_with(b"--\r\n") {
            assert_eq!(pos + 4, body.len(), "nothing after the closing delimiter");
            return parts;
        }
        assert!(body[pos..].starts_with(b"\r\n"));
        pos += 2;
        let head_end = pos
            + body[pos..]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap();
        let head = String::from_utf8(body[pos..head_end].to_vec()).unwrap();
        pos = head_end + 4;
        let mut ctype = String::new();
        let mut crange = String::new();
        for line in head.split("\r\n") {
            let (n, v) = line.split_once(": ").unwrap();
            match n.to_ascii_lowercase().as_str() {
                "content-type" => ctype = v.to_owned(),
                "content-range" => crange = v.to_owned(),
                other => panic!("unexpected part header {other}"),
            }
        }
        let (a, b) = crange
            .strip_prefix("bytes ")
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .split_once('-')
            .unwrap();
        let len = b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1;
        parts.push((ctype, crange, body[pos..pos + len].to_vec()));
        pos += len;
    }
}

#[test]
fn single_ranges_are_exact_for_small_and_large_files() {
    let root = ranged_site();
    let s = Server::start(root.path(), &["-w", "1"]);
    for (path, size) in [("/small.txt", SMALL), ("/big.bin", BIG)] {
        let data = pattern(size);
        let cases = [
            ("bytes=0-499", 0, 499),
            ("bytes=10-", 10, size - 1),
            ("bytes=-100", size - 100, size - 1),
            ("bytes=0-0", 0, 0),
            ("bytes=5-99999999", 5, size - 1),
            ("bytes=-99999999", 0, size - 1),
            ("Bytes = 7-9", 7, 9),
        ];
        for (value, a, b) in cases {
            let r = range(&s, path, value);
            assert_eq!(r.status, 206, "{path} {value}");
            assert_eq!(
                r.header("content-range"),
                Some(format!("bytes {a}-{b}/{size}").as_str()),
                "{path} {value}"
            );
            assert_eq!(
                r.header("content-length"),
                Some((b - a + 1).to_string().as_str())
            );
            assert_eq!(r.header("accept-ranges"), Some("bytes"));
            assert!(r.header("etag").is_some() && r.header("last-modified").is_some());
            assert_eq!(r.body, &data[a..=b], "{path} {value}");
        }
    }
    // A large range in the middle of a large file (sent by sendfile from an offset).
    let r = range(&s, "/big.bin", "bytes=100000-299998");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &pattern(BIG)[100_000..=299_998]);
}

#[test]
fn several_ranges_give_multipart_byteranges() {
    let root = ranged_site();
    let s = Server::start(root.path(), &["-w", "1"]);
    for (path, size, ctype) in [
        ("/small.txt", SMALL, "text/plain"),
        ("/big.bin", BIG, "application/octet-stream"),
    ] {
        let data = pattern(size);
        let r = range(&s, path, "bytes=500-599,0-9,-5");
        assert_eq!(r.status, 206, "{path}");
        assert_eq!(r.header("content-range"), None);
        assert_eq!(
            r.header("content-length")
                .unwrap()
                .parse::<usize>()
                .unwrap(),
            r.body.len()
        );
        let parts = multipart(&r);
        let want = [(0, 9), (500, 599), (size - 5, size - 1)];
        assert_eq!(parts.len(), 3);
        for ((ct, cr, bytes), (a, b)) in parts.iter().zip(want) {
            assert_eq!(ct, ctype);
            assert_eq!(cr, &format!("bytes {a}-{b}/{size}"));
            assert_eq!(bytes, &data[a..=b]);
        }
    }
    // Parts big enough that the body is sent piece by piece with sendfile.
    let data = pattern(BIG);
    let r = range(&s, "/big.bin", "bytes=0-99999,200000-");
    let parts = multipart(&r);
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].2, &data[..100_000]);
    assert_eq!(parts[1].2, &data[200_000..]);
    // Two multipart answers do not share a boundary.
    let other = range(&s, "/big.bin", "bytes=0-99999,200000-");
    assert_ne!(r.header("content-type"), other.header("content-type"));
}

#[test]
fn overlapping_and_adjacent_ranges_are_coalesced() {
    let root = ranged_site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let data = pattern(SMALL);
    let r = range(&s, "/small.txt", "bytes=0-10,5-20,21-30");
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 0-30/1000"));
    assert_eq!(r.body, &data[..=30]);
}

#[test]
fn unsatisfiable_ranges_give_416_with_the_size() {
    let root = ranged_site();
    let s = Server::start(root.path(), &["-w", "1"]);
    for (path, value, size) in [
        ("/small.txt", "bytes=1000-", SMALL),
        ("/small.txt", "bytes=5000-6000", SMALL),
        ("/small.txt", "bytes=-0", SMALL),
        ("/big.bin", "bytes=300000-,400000-", BIG),
        ("/empty.txt", "bytes=0-", 0),
    ] {
        let r = range(&s, path, value);
        assert_eq!(r.status, 416, "{path} {value}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes */{size}").as_str())
        );
        assert!(!r.body.is_empty(), "416 has a short error body");
    }
    // The connection carries on after a 416.
    let mut c = connect(s.addr);
    c.write_all(
        b"GET /small.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=9999-\r\n\r\n\
          GET /page.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let rs = read_n_responses(&mut c, 2, false);
    assert_eq!(rs.iter().map(|r| r.status).collect::<Vec<_>>(), [416, 200]);
}

#[test]
fn malformed_or_unknown_ranges_are_ignored() {
    let root = ranged_site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let data = pattern(SMALL);
    for value in [
        "items=0-5",
        "bytes=abc",
        "bytes=5-1",
        "bytes=",
        "bytes=0-1;x",
        "bytes 0-5",
        "=0-5",
        "bytes=--1",
    ] {
        let r = range(&s, "/small.txt", value);
        assert_eq!(r.status, 200, "{value}");
        assert_eq!(r.body, data, "{value}");
        assert_eq!(r.header("content-range"), None);
    }
}

#[test]
fn too_many_ranges_are_ignored_rather_than_amplified() {
    let root = ranged_site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let spec = |n: usize| {
        let list: Vec<String> = (0..n).map(|i| format!("{}-{}", i * 4, i * 4)).collect();
        format!("bytes={}", list.join(","))
    };
    let r = range(&s, "/small.txt", &spec(16));
    assert_eq!(r.status, 206);
    assert_eq!(multipart(&r).len(), 16);
    let r = range(&s, "/small.txt", &spec(17));
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), SMALL);
    let r = range(&s, "/small.txt", &spec(500));
    assert_eq!(r.status, 200);
}

#[test]
fn if_range_honours_the_range_only_when_it_matches() {
    let root = ranged_site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let full = s.get("/small.txt");
    let tag = full.header("etag").unwrap().to_owned();
    let lm = full.header("last-modified").unwrap().to_owned();
    let old = httpdate::fmt_http_date(
        httpdate::parse_http_date(&lm).unwrap() - std::time::Duration::from_secs(60),
    );
    let weak = format!("W/{tag}");
    let with = |if_range: &str| {
        get_with(
            s.addr,
            "/small.txt",
            &[("Range", "bytes=0-9"), ("If-Range", if_range)],
        )
    };
    assert_eq!(with(&tag).status, 206);
    assert_eq!(with(&lm).status, 206);
    for stale in ["\"other\"", weak.as_str(), old.as_str(), "garbage"] {
        let r = with(stale);
        assert_eq!(r.status, 200, "{stale}");
        assert_eq!(r.body.len(), SMALL, "{stale}");
    }
}

#[test]
fn head_and_plain_get_advertise_ranges_and_head_ignores_them() {
    let root = ranged_site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let r = request_with(s.addr, "HEAD", "/big.bin", &[("Range", "bytes=0-9")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("content-length"), Some(BIG.to_string().as_str()));
    assert!(r.body.is_empty());
}

#[test]
fn ranged_responses_keep_keep_alive_framing_intact() {
    let root = ranged_site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let data = pattern(BIG);
    let mut c = connect(s.addr);
    c.write_all(
        b"GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-49999,100000-149999,-10\r\n\r\n\
          GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=1-2\r\n\r\n\
          GET /small.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-1,3-4\r\n\r\n\
          GET /page.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let rs = read_n_responses(&mut c, 4, false);
    assert_eq!(
        rs.iter().map(|r| r.status).collect::<Vec<_>>(),
        [206, 206, 206, 200]
    );
    let parts = multipart(&rs[0]);
    assert_eq!(parts[0].2, &data[..50_000]);
    assert_eq!(parts[1].2, &data[100_000..150_000]);
    assert_eq!(parts[2].2, &data[BIG - 10..]);
    assert_eq!(rs[1].body, &data[1..=2]);
    assert_eq!(multipart(&rs[2]).len(), 2);
    assert_eq!(rs[3].body, b"<p>page</p>\n");
}
