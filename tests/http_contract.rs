//! The static-file contract over real TCP: statuses, headers, types, paths.

mod common;

use common::{Server, parse_responses, site};

fn is_imf_fixdate(s: &str) -> bool {
    httpdate::parse_http_date(s).is_ok() && s.ends_with(" GMT") && s.len() == 29
}

#[test]
fn get_file_has_exact_headers() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let r = s.get("/page.html");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"<p>page</p>\n");
    assert_eq!(r.header("content-length"), Some("12"));
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert!(
        is_imf_fixdate(r.header("date").unwrap()),
        "{:?}",
        r.header("date")
    );
    assert!(r.header("server").unwrap().starts_with("preforkd"));
    assert_eq!(r.header("connection"), Some("close"));
}

#[test]
fn every_error_has_date_server_connection_and_length() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    for (path, status) in [("/missing.html", 404), ("/noindex/", 403), ("/%zz", 400)] {
        let r = s.get(path);
        assert_eq!(r.status, status, "{path}");
        assert!(is_imf_fixdate(r.header("date").unwrap()));
        assert!(r.header("server").is_some());
        assert!(r.header("connection").is_some());
        let len: usize = r.header("content-length").unwrap().parse().unwrap();
        assert_eq!(len, r.body.len());
        assert!(!r.body.is_empty(), "errors carry a short body");
    }
}

#[test]
fn content_types() {
    let root = site();
    let p = root.path();
    for name in [
        "a.css",
        "a.js",
        "a.jpg",
        "a.jpeg",
        "a.png",
        "a.gif",
        "a.swf",
        "a.unknownext",
        "a.txt",
    ] {
        std::fs::write(p.join(name), "data").unwrap();
    }
    let s = Server::start(p, &["-w", "1"]);
    for (name, ty) in [
        ("index.html", "text/html"),
        ("a.css", "text/css"),
        ("a.jpg", "image/jpeg"),
        ("a.jpeg", "image/jpeg"),
        ("a.png", "image/png"),
        ("a.gif", "image/gif"),
        ("a.swf", "application/x-shockwave-flash"),
        ("a.unknownext", "application/octet-stream"),
    ] {
        let r = s.get(&format!("/{name}"));
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(r.header("content-type"), Some(ty), "{name}");
    }
    let js = s.get("/a.js");
    assert!(matches!(
        js.header("content-type"),
        Some("text/javascript" | "application/javascript")
    ));
}

#[test]
fn directories_and_indexes() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let r = s.get("/");
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"<h1>home</h1>\n"[..])
    );
    let r = s.get("/dir/");
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"<p>dir index</p>\n"[..])
    );
    assert_eq!(r.header("content-type"), Some("text/html"));
    let r = s.get("/dir");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/dir/"));
    let r = s.get("/dir?x=1");
    assert_eq!(r.header("location"), Some("/dir/"));
    assert_eq!(s.get("/noindex/").status, 403);
    assert_eq!(s.get("/page.html/").status, 404);
    assert_eq!(s.get("/nothing/here.html").status, 404);
}

#[test]
fn query_strings_and_percent_encoding() {
    let root = site();
    let p = root.path();
    std::fs::write(p.join("space name.html"), "sp").unwrap();
    std::fs::write(p.join("text..txt"), "dots").unwrap();
    let s = Server::start(p, &["-w", "1"]);
    assert_eq!(
        s.get("/page.html?a=b&c=../../etc/passwd").body,
        b"<p>page</p>\n"
    );
    assert_eq!(s.get("/space%20name.html").body, b"sp");
    assert_eq!(s.get("/%70%61%67%65.html").status, 200);
    assert_eq!(s.get("/%70%61%67%65%2E%68%74%6d%6C").status, 200);
    assert_eq!(s.get("/text..txt").body, b"dots");
    assert_eq!(s.get("/page%.html").status, 400);
    assert_eq!(s.get("/page%2.html").status, 400);
    assert_eq!(s.get("/page%g1.html").status, 400);
}

#[test]
fn methods() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    for method in [
        "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "FOO",
    ] {
        let raw = format!("{method} /page.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let r = &parse_responses(&s.request(raw.as_bytes()), false)[0];
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"), "{method}");
    }
}

#[test]
fn post_body_is_never_parsed_as_a_request() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let smuggled = "GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n";
    let raw = format!(
        "POST /index.html HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{smuggled}\
         GET /dir/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        smuggled.len()
    );
    let rs = parse_responses(&s.request(raw.as_bytes()), false);
    let statuses: Vec<u16> = rs.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [405, 200]);
    assert_eq!(rs[1].body, b"<p>dir index</p>\n");
}

#[test]
fn head_has_the_get_headers_and_no_body() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let raw = b"HEAD /1k.html HTTP/1.1\r\nHost: t\r\n\r\nGET /page.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let bytes = s.request(raw);
    let text = String::from_utf8_lossy(&bytes);
    // The HEAD response is followed directly by the next response: no body between.
    let second = text
        .find("HTTP/1.1 200 OK\r\n")
        .and_then(|i| text[i + 1..].find("HTTP/1.1 200 OK"));
    assert!(second.is_some(), "{text}");
    let head = &text[..text.find("\r\n\r\n").unwrap() + 4];
    assert!(head.contains("Content-Length: 1024\r\n"), "{head}");
    assert!(head.contains("Content-Type: text/html\r\n"), "{head}");
    assert!(
        text[head.len()..].starts_with("HTTP/1.1 200 OK"),
        "HEAD sent a body: {text}"
    );
}

#[test]
fn fifo_is_refused_without_blocking() {
    let root = site();
    let fifo = root.path().join("pipe.html");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: plain mkfifo on a path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let s = Server::start(root.path(), &["-w", "1"]);
    assert_eq!(s.get("/pipe.html").status, 403);
    assert_eq!(s.get("/page.html").status, 200);
}

#[test]
fn ipv6_loopback() {
    let root = site();
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback on this machine; skipping");
        return;
    }
    let s = Server::start_at(root.path(), "[::1]:0", &["-w", "1"]);
    assert!(s.addr.is_ipv6());
    assert_eq!(s.get("/page.html").status, 200);
}
