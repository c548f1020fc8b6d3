//! Pre-compressed sidecars over real TCP: `file.br` / `file.gz` chosen by
//! Accept-Encoding, with Content-Encoding, the original type, Vary and their own ETag.

mod common;

use common::{Response, Server, get_with, request_with, site};

const PLAIN: &[u8] = b"console.log('plain');\n";
const BR: &[u8] = b"BROTLI-BYTES";
const GZ: &[u8] = b"GZIP-BYTES!";

fn compressed_site() -> tempfile::TempDir {
    let root = site();
    let p = root.path();
    std::fs::write(p.join("app.js"), PLAIN).unwrap();
    std::fs::write(p.join("app.js.br"), BR).unwrap();
    std::fs::write(p.join("app.js.gz"), GZ).unwrap();
    std::fs::write(p.join("style.css"), "body{}").unwrap();
    std::fs::write(p.join("style.css.gz"), GZ).unwrap();
    std::fs::write(p.join("plain.txt"), "no sidecars").unwrap();
    std::fs::write(p.join("dirsidecar.txt"), "real").unwrap();
    std::fs::create_dir(p.join("dirsidecar.txt.gz")).unwrap();
    std::fs::create_dir(p.join("docs")).unwrap();
    std::fs::write(p.join("docs/index.html"), "<p>docs</p>").unwrap();
    std::fs::write(p.join("docs/index.html.gz"), GZ).unwrap();
    root
}

fn ae(s: &Server, path: &str, accept: &str) -> Response {
    get_with(s.addr, path, &[("Accept-Encoding", accept)])
}

#[test]
fn the_preferred_sidecar_is_served_with_its_encoding() {
    let root = compressed_site();
    let s = Server::start(root.path(), &["-w", "1"]);
    for (accept, body, coding) in [
        ("gzip, deflate, br", BR, "br"),
        ("br", BR, "br"),
        ("gzip", GZ, "gzip"),
        ("x-gzip", GZ, "gzip"),
        ("br;q=0.5, gzip;q=0.8", GZ, "gzip"),
        ("br;q=0.8, gzip;q=0.5", BR, "br"),
        ("*", BR, "br"),
        ("br;q=0, *", GZ, "gzip"),
    ] {
        let r = ae(&s, "/app.js", accept);
        assert_eq!(r.status, 200, "{accept}");
        assert_eq!(r.body, body, "{accept}");
        assert_eq!(r.header("content-encoding"), Some(coding), "{accept}");
        assert_eq!(
            r.header("content-type"),
            Some("text/javascript"),
            "{accept}"
        );
        assert_eq!(r.header("vary"), Some("Accept-Encoding"), "{accept}");
        assert_eq!(
            r.header("content-length"),
            Some(body.len().to_string().as_str())
        );
    }
}

#[test]
fn the_plain_file_when_nothing_acceptable_exists() {
    let root = compressed_site();
    let s = Server::start(root.path(), &["-w", "1"]);
    for accept in [
        None,
        Some("identity"),
        Some("deflate"),
        Some("br;q=0, gzip;q=0"),
        Some("gzip;q=1.5"),
    ] {
        let r = match accept {
            Some(a) => ae(&s, "/app.js", a),
            None => s.get("/app.js"),
        };
        assert_eq!(r.body, PLAIN, "{accept:?}");
        assert_eq!(r.header("content-encoding"), None, "{accept:?}");
        // The answer still depends on Accept-Encoding, so caches must be told.
        assert_eq!(r.header("vary"), Some("Accept-Encoding"), "{accept:?}");
    }
    // Only a .gz exists: br alone cannot be served.
    let r = ae(&s, "/style.css", "br");
    assert_eq!(
        (r.body.as_slice(), r.header("content-encoding")),
        (&b"body{}"[..], None)
    );
    let r = ae(&s, "/style.css", "gzip, br");
    assert_eq!(
        (r.body.as_slice(), r.header("content-encoding")),
        (GZ, Some("gzip"))
    );
    assert_eq!(r.header("content-type"), Some("text/css"));
    // No sidecar at all: no Vary.
    let r = ae(&s, "/plain.txt", "gzip, br");
    assert_eq!(
        (r.header("content-encoding"), r.header("vary")),
        (None, None)
    );
    // A directory where a sidecar would be is no sidecar.
    let r = ae(&s, "/dirsidecar.txt", "gzip");
    assert_eq!(
        (r.body.as_slice(), r.header("content-encoding")),
        (&b"real"[..], None)
    );
}

#[test]
fn each_representation_has_its_own_etag_and_validates_separately() {
    let root = compressed_site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let plain = s.get("/app.js");
    let br = ae(&s, "/app.js", "br");
    let gz = ae(&s, "/app.js", "gzip");
    let tags = [
        plain.header("etag").unwrap(),
        br.header("etag").unwrap(),
        gz.header("etag").unwrap(),
    ];
    assert_ne!(tags[0], tags[1]);
    assert_ne!(tags[0], tags[2]);
    assert_ne!(tags[1], tags[2]);
    // The br tag validates the br representation...
    let r = get_with(
        s.addr,
        "/app.js",
        &[("Accept-Encoding", "br"), ("If-None-Match", tags[1])],
    );
    assert_eq!(r.status, 304);
    assert_eq!(r.header("etag"), Some(tags[1]));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    // ...but not the plain one.
    let r = get_with(s.addr, "/app.js", &[("If-None-Match", tags[1])]);
    assert_eq!((r.status, r.body.as_slice()), (200, PLAIN));
}

#[test]
fn ranges_and_head_apply_to_the_chosen_representation() {
    let root = compressed_site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let r = get_with(
        s.addr,
        "/app.js",
        &[("Accept-Encoding", "br"), ("Range", "bytes=0-5")],
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &BR[..6]);
    assert_eq!(r.header("content-encoding"), Some("br"));
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 0-5/{}", BR.len()).as_str())
    );

    let get = ae(&s, "/app.js", "gzip");
    let head = request_with(s.addr, "HEAD", "/app.js", &[("Accept-Encoding", "gzip")]);
    assert!(head.body.is_empty());
    for h in [
        "content-length",
        "content-type",
        "content-encoding",
        "etag",
        "vary",
        "last-modified",
    ] {
        assert_eq!(head.header(h), get.header(h), "{h}");
    }
}

#[test]
fn directory_index_and_direct_requests() {
    let root = compressed_site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let r = ae(&s, "/docs/", "gzip");
    assert_eq!(
        (r.body.as_slice(), r.header("content-encoding")),
        (GZ, Some("gzip"))
    );
    assert_eq!(r.header("content-type"), Some("text/html"));
    // Asking for the sidecar by name gets it as an ordinary file.
    let r = ae(&s, "/app.js.gz", "gzip");
    assert_eq!(r.body, GZ);
    assert_eq!(r.header("content-encoding"), None);
    assert_ne!(r.header("content-type"), Some("text/javascript"));
}
