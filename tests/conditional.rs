//! Caching and conditional requests over real TCP (RFC 9110 §13): ETag, Last-Modified,
//! If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since, Cache-Control.

mod common;

use std::io::Write;
use std::time::{Duration, SystemTime};

use common::{Server, connect, get_with, read_n_responses, request_with, site};

fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

fn is_strong_etag(tag: &str) -> bool {
    tag.len() > 2
        && tag.starts_with('"')
        && tag.ends_with('"')
        && !tag[1..tag.len() - 1].contains('"')
}

#[test]
fn file_responses_carry_validators() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let r = s.get("/page.html");
    assert_eq!(r.status, 200);
    let tag = r.header("etag").expect("an ETag");
    assert!(is_strong_etag(tag), "{tag}");
    let lm = r.header("last-modified").expect("Last-Modified");
    let mtime = std::fs::metadata(root.path().join("page.html"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(lm, http_date(mtime));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    // The same file gives the same tag; errors carry no validators.
    assert_eq!(s.get("/page.html").header("etag"), Some(tag));
    let missing = s.get("/missing.html");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("etag"), None);
    assert_eq!(missing.header("last-modified"), None);
    assert_eq!(missing.header("cache-control"), None);
}

/// The ETag once the server has noticed a change: each worker trusts what it knows of a
/// file for up to a second (the file cache), so poll until the tag moves (3 s at most).
fn etag_after_change(s: &Server, before: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        let tag = s.get("/page.html").header("etag").unwrap().to_owned();
        if tag != before || std::time::Instant::now() >= deadline {
            return tag;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn etag_changes_with_size_with_subsecond_mtime_and_with_inode() {
    let root = site();
    let p = root.path().join("page.html");
    let s = Server::start(root.path(), &["-w", "1"]);
    let t0 = s.get("/page.html").header("etag").unwrap().to_owned();

    // Same size, same second, different nanoseconds: a new tag.
    let f = std::fs::File::options().write(true).open(&p).unwrap();
    let m = f.metadata().unwrap().modified().unwrap();
    f.set_modified(m + Duration::from_nanos(1)).unwrap();
    let t1 = etag_after_change(&s, &t0);
    assert_ne!(t0, t1);

    // Replaced by rename with identical size and mtime: the inode tells them apart.
    let tmp = root.path().join("page.tmp");
    std::fs::write(&tmp, "<p>PAGE</p>\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&tmp)
        .unwrap()
        .set_modified(m + Duration::from_nanos(1))
        .unwrap();
    std::fs::rename(&tmp, &p).unwrap();
    let t2 = etag_after_change(&s, &t1);
    assert_ne!(t1, t2);

    std::fs::write(&p, "longer content\n").unwrap();
    let t3 = etag_after_change(&s, &t2);
    assert_ne!(t2, t3);
}

#[test]
fn if_none_match_gives_304_with_validators_and_no_body() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let full = s.get("/1k.html");
    let tag = full.header("etag").unwrap().to_owned();
    let lm = full.header("last-modified").unwrap().to_owned();
    let weak = format!("W/{tag}");
    let list = format!("\"nope\", W/\"other\", {tag}");
    for inm in [tag.as_str(), weak.as_str(), list.as_str(), "*"] {
        let r = get_with(s.addr, "/1k.html", &[("If-None-Match", inm)]);
        assert_eq!(r.status, 304, "{inm}");
        assert_eq!(r.header("etag"), Some(tag.as_str()), "{inm}");
        assert_eq!(r.header("last-modified"), Some(lm.as_str()), "{inm}");
        assert!(r.header("date").is_some());
        assert_eq!(r.header("content-length"), None);
        assert!(r.body.is_empty());
    }
    for inm in ["\"nope\"", "W/\"nope\", \"x\"", "", "garbage"] {
        let r = get_with(s.addr, "/1k.html", &[("If-None-Match", inm)]);
        assert_eq!(r.status, 200, "{inm:?}");
        assert_eq!(r.body.len(), 1024);
    }
    // HEAD is conditional too.
    let r = request_with(s.addr, "HEAD", "/1k.html", &[("If-None-Match", &tag)]);
    assert_eq!(r.status, 304);
}

#[test]
fn a_304_sends_no_body_on_a_kept_alive_connection() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let tag = s.get("/1k.html").header("etag").unwrap().to_owned();
    let mut c = connect(s.addr);
    let raw = format!(
        "GET /1k.html HTTP/1.1\r\nHost: t\r\nIf-None-Match: {tag}\r\n\r\n\
         GET /page.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    );
    c.write_all(raw.as_bytes()).unwrap();
    let rs = read_n_responses(&mut c, 2, false);
    assert_eq!(rs.iter().map(|r| r.status).collect::<Vec<_>>(), [304, 200]);
    assert_eq!(rs[0].header("connection"), Some("keep-alive"));
    assert_eq!(rs[1].body, b"<p>page</p>\n");
}

#[test]
fn if_modified_since() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let lm = s
        .get("/page.html")
        .header("last-modified")
        .unwrap()
        .to_owned();
    let mtime = httpdate::parse_http_date(&lm).unwrap();
    let later = http_date(mtime + Duration::from_secs(3600));
    let earlier = http_date(mtime - Duration::from_secs(1));
    assert_eq!(
        get_with(s.addr, "/page.html", &[("If-Modified-Since", &lm)]).status,
        304
    );
    assert_eq!(
        get_with(s.addr, "/page.html", &[("If-Modified-Since", &later)]).status,
        304
    );
    let r = get_with(s.addr, "/page.html", &[("If-Modified-Since", &earlier)]);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"<p>page</p>\n"[..]));
    // An invalid date is ignored.
    assert_eq!(
        get_with(s.addr, "/page.html", &[("If-Modified-Since", "yesterday")]).status,
        200
    );
}

#[test]
fn if_none_match_takes_precedence_over_if_modified_since() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let r = s.get("/page.html");
    let tag = r.header("etag").unwrap().to_owned();
    let lm = httpdate::parse_http_date(r.header("last-modified").unwrap()).unwrap();
    let later = http_date(lm + Duration::from_secs(3600));
    let earlier = http_date(lm - Duration::from_secs(3600));
    // A tag mismatch wins over a date that alone would give 304...
    let r = get_with(
        s.addr,
        "/page.html",
        &[
            ("If-None-Match", "\"other\""),
            ("If-Modified-Since", &later),
        ],
    );
    assert_eq!(r.status, 200);
    // ...and a tag match wins over a date that alone would give 200.
    let r = get_with(
        s.addr,
        "/page.html",
        &[("If-None-Match", &tag), ("If-Modified-Since", &earlier)],
    );
    assert_eq!(r.status, 304);
}

#[test]
fn if_match_and_if_unmodified_since_give_412_when_they_fail() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let r = s.get("/page.html");
    let tag = r.header("etag").unwrap().to_owned();
    let lm_text = r.header("last-modified").unwrap().to_owned();
    let lm = httpdate::parse_http_date(&lm_text).unwrap();
    let earlier = http_date(lm - Duration::from_secs(3600));

    let failed = get_with(s.addr, "/page.html", &[("If-Match", "\"other\"")]);
    assert_eq!(failed.status, 412);
    assert!(!failed.body.is_empty(), "412 has a short error body");
    assert!(!String::from_utf8_lossy(&failed.body).contains("other"));
    // If-Match uses the strong comparison: a weak tag never matches.
    assert_eq!(
        get_with(s.addr, "/page.html", &[("If-Match", &format!("W/{tag}"))]).status,
        412
    );
    assert_eq!(
        get_with(s.addr, "/page.html", &[("If-Match", &tag)]).status,
        200
    );
    assert_eq!(
        get_with(s.addr, "/page.html", &[("If-Match", "*")]).status,
        200
    );
    assert_eq!(
        get_with(
            s.addr,
            "/page.html",
            &[("If-Match", &format!("\"a\", {tag}"))]
        )
        .status,
        200
    );

    assert_eq!(
        get_with(s.addr, "/page.html", &[("If-Unmodified-Since", &earlier)]).status,
        412
    );
    assert_eq!(
        get_with(s.addr, "/page.html", &[("If-Unmodified-Since", &lm_text)]).status,
        200
    );
    // If-Match decides when both are present.
    assert_eq!(
        get_with(
            s.addr,
            "/page.html",
            &[("If-Match", &tag), ("If-Unmodified-Since", &earlier)]
        )
        .status,
        200
    );
    // A failing If-Unmodified-Since beats a matching If-None-Match (412, not 304).
    assert_eq!(
        get_with(
            s.addr,
            "/page.html",
            &[("If-None-Match", &tag), ("If-Unmodified-Since", &earlier)]
        )
        .status,
        412
    );
    // The connection carries on after a 412.
    let mut c = connect(s.addr);
    c.write_all(
        b"GET /page.html HTTP/1.1\r\nHost: t\r\nIf-Match: \"x\"\r\n\r\nGET /page.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let rs = read_n_responses(&mut c, 2, false);
    assert_eq!(rs.iter().map(|r| r.status).collect::<Vec<_>>(), [412, 200]);
}

#[test]
fn cache_control_on_200_206_and_304_only_when_configured() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    assert_eq!(s.get("/page.html").header("cache-control"), None);
    drop(s);

    let s = Server::start(
        root.path(),
        &["-w", "1", "--cache-control", "public, max-age=3600"],
    );
    let cc = Some("public, max-age=3600");
    let ok = s.get("/page.html");
    assert_eq!((ok.status, ok.header("cache-control")), (200, cc));
    let tag = ok.header("etag").unwrap().to_owned();
    let partial = get_with(s.addr, "/page.html", &[("Range", "bytes=0-2")]);
    assert_eq!((partial.status, partial.header("cache-control")), (206, cc));
    let not_modified = get_with(s.addr, "/page.html", &[("If-None-Match", &tag)]);
    assert_eq!(
        (not_modified.status, not_modified.header("cache-control")),
        (304, cc)
    );
    let missing = s.get("/missing");
    assert_eq!(
        (missing.status, missing.header("cache-control")),
        (404, None)
    );
}

#[test]
fn a_cache_control_value_that_could_split_headers_is_refused_at_start() {
    let root = site();
    for bad in ["max-age=1\r\nX-Evil: 1", "", "caf\u{e9}"] {
        let mut child = std::process::Command::new(common::BIN)
            .arg("-r")
            .arg(root.path())
            .args(["-b", "127.0.0.1:0", "--cache-control", bad])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let exited = common::wait_until(Duration::from_secs(10), || {
            child.try_wait().unwrap().is_some()
        });
        if !exited {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{bad:?} accepted: the server kept running");
        }
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success(), "{bad:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--cache-control"), "{bad:?}: {err}");
    }
}
