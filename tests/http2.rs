//! HTTP/2 (RFC 9113) end to end: negotiation (ALPN `h2` on TLS listeners, prior
//! knowledge on plain ones, `--http2 off`), the same answers as HTTP/1.1, multiplexing,
//! flow control, the server's SETTINGS, graceful stop and HUP, the known attacks (rapid
//! reset, CONTINUATION flood, HPACK bomb, PING and SETTINGS floods, too many streams, a
//! window held at zero, bad prefaces and frames) and the idle timeout.
//!
//! Ordinary requests use the `h2` crate (`common/h2client.rs`, also over rustls through
//! a small adapter); exact frame checks and attacks use the hand-written frame client in
//! `common/h2.rs`. Both worker models (`PREFORKD_TEST_MODEL`): where a test needs a
//! second client served while one connection is busy, it starts two workers, since a
//! `sync` worker serves one connection at a time.

mod common;
#[path = "common/h2.rs"]
mod frames;
#[path = "common/h2client.rs"]
mod h2c;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{
    BIN, Server, get_with, listening_addrs, model_args, pattern, request_with, send, site,
    tls_args, wait_file, wait_until,
};
use frames::{Conn, End, Frame};

const MIB: usize = 1 << 20;
const BIG: usize = 64 * MIB;
const SECOND: Duration = Duration::from_secs(1);

/// The usual site plus files of the sizes the tests need (the 64 MiB one only where
/// asked, it costs a write of 64 MiB).
fn h2_site(big: bool) -> tempfile::TempDir {
    let root = site();
    let p = root.path();
    std::fs::write(p.join("empty.html"), "").unwrap();
    std::fs::write(p.join("100k.bin"), pattern(100 * 1024)).unwrap();
    std::fs::write(p.join("style.css"), "body{}").unwrap();
    std::fs::write(p.join("style.css.gz"), "GZIP-BYTES!").unwrap();
    if big {
        std::fs::write(p.join("64m.bin"), pattern(BIG)).unwrap();
    }
    root
}

/// `-w N` and `extra`.
fn start(root: &Path, workers: usize, extra: &[&str]) -> Server {
    let w = workers.to_string();
    let mut args = vec!["-w", &w];
    args.extend_from_slice(extra);
    Server::start(root, &args)
}

/// A server with a plain and a TLS listener; returns it and the TLS address.
fn start_tls(root: &Path, workers: usize, extra: &[&str]) -> (Server, SocketAddr) {
    let mut args = vec!["--tls-bind", "127.0.0.1:0"];
    args.extend(tls_args());
    args.extend_from_slice(extra);
    let srv = start(root, workers, &args);
    let https = https_addr(&srv);
    (srv, https)
}

fn https_addr(srv: &Server) -> SocketAddr {
    let line = srv.expect_line("listening on", Duration::from_secs(5));
    listening_addrs(&line)
        .into_iter()
        .find_map(|(scheme, a)| (scheme == "https").then_some(a))
        .unwrap_or_else(|| panic!("no https listener in {line:?}"))
}

/// A new, well-behaved h2 client gets `/page.html` within 2 s.
fn served_quickly(addr: SocketAddr, what: &str) {
    let t = Instant::now();
    let r = h2c::block_on(async move {
        tokio::time::timeout(Duration::from_secs(2), async move {
            let c = h2c::connect(addr, &h2::client::Builder::new()).await?;
            h2c::send(&c, h2c::request("http", "GET", "/page.html", &[])).await
        })
        .await
    });
    let took = t.elapsed();
    match r {
        Ok(Ok(r)) => {
            assert_eq!(
                (r.status, &r.body[..]),
                (200, &b"<p>page</p>\n"[..]),
                "{what}"
            );
        }
        Ok(Err(e)) => panic!("{what}: a well-behaved client failed after {took:?}: {e}"),
        Err(_) => panic!("{what}: a well-behaved client waited over 2 s"),
    }
}

/// The workers' resident memory, summed, in KiB.
fn workers_rss_kib(srv: &Server) -> usize {
    srv.worker_pids()
        .iter()
        .map(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        })
        .sum()
}

/// Whether an HTTP/2 SETTINGS frame (the server's first frame) comes back on `s`
/// within 2 s, after the client wrote the preface.
fn settings_come_back(s: &mut dyn frames::Transport) -> bool {
    let mut start = frames::PREFACE.to_vec();
    start.extend(frames::settings(&[]));
    if s.write_all(&start).is_err() {
        return false;
    }
    s.set_timeout(2 * SECOND);
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + 2 * SECOND;
    while got.len() < 9 && Instant::now() < deadline {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
    got.len() >= 9 && got[3] == frames::SETTINGS && got[4] & frames::ACK == 0
}

// ---- Negotiation ----

/// TLS: a client offering `h2` and `http/1.1` gets h2 (the server's SETTINGS follow the
/// preface and a GET is answered), one offering only `http/1.1` gets HTTP/1.1. Plain:
/// prior knowledge gets HTTP/2 and an ordinary request HTTP/1.1, on the same port.
#[test]
fn alpn_picks_h2_on_tls_and_prior_knowledge_works_on_plain() {
    let root = h2_site(false);
    let (srv, https) = start_tls(root.path(), 1, &[]);
    let s = h2c::tls_stream(https, &[b"h2", b"http/1.1"]);
    assert_eq!(s.conn.alpn_protocol(), Some(&b"h2"[..]));
    let mut c = Conn::over(Box::new(s), &[]);
    c.wait_settings();
    let r = c.get(1, "/page.html", 5 * SECOND);
    assert_eq!((r.status, &r.body[..]), (200, &b"<p>page</p>\n"[..]));
    // One worker: under the sync model it serves one connection at a time.
    drop(c);
    assert_eq!(
        h2c::tls_one(https, "GET", "/1k.html", &[]).body,
        vec![b'x'; 1024]
    );

    let mut s = h2c::tls_stream(https, &[b"http/1.1"]);
    assert_eq!(s.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    s.write_all(b"GET /page.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert!(
        raw.starts_with(b"HTTP/1.1 200 "),
        "{:?}",
        String::from_utf8_lossy(&raw)
    );

    let r = h2c::get(srv.addr, "/page.html");
    assert_eq!((r.status, &r.body[..]), (200, &b"<p>page</p>\n"[..]));
    assert_eq!(srv.get("/page.html").status, 200);
}

/// Over TLS (ALPN h2) as over h2c: 1 KiB and 64 MiB arrive byte-exact, with their
/// exact `content-length`, the 64 MiB one through windows released as data arrives.
#[test]
fn tls_and_h2c_downloads_are_byte_exact() {
    let root = h2_site(true);
    let (srv, https) = start_tls(root.path(), 2, &[]);
    for (path, want) in [("/1k.html", vec![b'x'; 1024]), ("/64m.bin", pattern(BIG))] {
        for r in [
            h2c::tls_one(https, "GET", path, &[]),
            h2c::get(srv.addr, path),
        ] {
            assert_eq!(r.status, 200, "{path}");
            assert_eq!(
                r.header("content-length"),
                Some(want.len().to_string().as_str())
            );
            assert!(r.body == want, "{path}: {} bytes differ", r.body.len());
        }
    }
}

/// `--http2 off`, and `http2 = "off"` in a `-c` file: ALPN offers only http/1.1, and
/// a prior-knowledge preface on the plain listener gets no SETTINGS frame (a 400 or a
/// close); HTTP/1.1 is served as before.
#[test]
fn http2_off_offers_only_http11() {
    let root = h2_site(false);
    let check = |srv: &Server, https: SocketAddr| {
        let mut s = h2c::tls_stream(https, &[b"h2", b"http/1.1"]);
        assert_eq!(s.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert!(!settings_come_back(&mut s), "h2 over TLS with http2 off");
        let mut s = TcpStream::connect(srv.addr).unwrap();
        assert!(!settings_come_back(&mut s), "h2c with http2 off");
        assert_eq!(srv.get("/page.html").status, 200);
    };
    let (srv, https) = start_tls(root.path(), 1, &["--http2", "off"]);
    check(&srv, https);
    drop(srv);

    let (cert, key) = common::tls_files();
    let file = root.path().join("preforkd.toml");
    std::fs::write(
        &file,
        format!(
            "http2 = \"off\"\ntls-bind = \"127.0.0.1:0\"\ntls-cert = {:?}\ntls-key = {:?}\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("-c").arg(&file).arg("-r").arg(root.path());
    cmd.args(["-b", "127.0.0.1:0", "-w", "1"])
        .args(model_args());
    let srv = Server::start_cmd(cmd, root.path(), 1);
    let https = https_addr(&srv);
    check(&srv, https);
}

// ---- The same answers as HTTP/1.1 ----

/// GET and HEAD of files of 0 B, 1 KiB and 100 KiB: the bytes, `content-length`,
/// `content-type`, `date` and `server` as HTTP/1.1 gives them, and no `connection`
/// header (forbidden in HTTP/2). HEAD has the length and no body.
#[test]
fn get_and_head_give_what_http11_gives() {
    let root = h2_site(false);
    let srv = start(root.path(), 1, &[]);
    for path in ["/empty.html", "/1k.html", "/100k.bin", "/page.html"] {
        let one = srv.get(path);
        let two = h2c::get(srv.addr, path);
        assert_eq!(two.status, 200, "{path}");
        assert!(two.body == one.body, "{path}: bodies differ");
        let len = one.body.len().to_string();
        assert_eq!(two.header("content-length"), Some(len.as_str()), "{path}");
        assert_eq!(
            two.header("content-type"),
            one.header("content-type"),
            "{path}"
        );
        assert!(httpdate::parse_http_date(two.header("date").unwrap()).is_ok());
        assert!(
            two.header("server").unwrap().starts_with("preforkd"),
            "{path}"
        );
        assert_eq!(two.header("connection"), None, "{path}");
        assert_eq!(two.header("etag"), one.header("etag"), "{path}");
        let head = h2c::one(srv.addr, "HEAD", path, &[]);
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty(), "{path}: HEAD has a body");
        assert_eq!(head.header("content-length"), Some(len.as_str()), "{path}");
    }
    assert_eq!(
        h2c::get(srv.addr, "/page.html").header("content-type"),
        Some("text/html")
    );
}

/// 404, 403 for a directory without index.html, `/dir/` serving its index, 301 with
/// `location` for a directory without the slash, 405 with `allow: GET, HEAD` for POST
/// and DELETE: each as HTTP/1.1 answers it.
#[test]
fn errors_redirects_and_methods_match_http11() {
    let root = h2_site(false);
    let srv = start(root.path(), 1, &[]);
    let r = h2c::get(srv.addr, "/missing.html");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    assert_eq!(h2c::get(srv.addr, "/noindex/").status, 403);
    let r = h2c::get(srv.addr, "/dir/");
    assert_eq!((r.status, &r.body[..]), (200, &b"<p>dir index</p>\n"[..]));
    let r = h2c::get(srv.addr, "/dir");
    assert_eq!(r.status, 301);
    assert!(
        r.header("location").unwrap().ends_with("/dir/"),
        "{:?}",
        r.header("location")
    );
    for method in ["POST", "DELETE"] {
        let r = h2c::one(srv.addr, method, "/page.html", &[]);
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"), "{method}");
        let one = request_with(srv.addr, method, "/page.html", &[]);
        assert_eq!(one.header("allow"), r.header("allow"));
    }
}

/// A range (206 with `content-range`), several ranges (206 multipart/byteranges),
/// If-None-Match (304, no body, no `content-length`), a failed If-Match (412) and a
/// `.gz` sidecar (gzip with `vary`): as over HTTP/1.1.
#[test]
fn ranges_conditionals_and_sidecars_work_over_h2() {
    let root = h2_site(false);
    let srv = start(root.path(), 1, &[]);
    let whole = pattern(100 * 1024);
    let r = h2c::one(srv.addr, "GET", "/100k.bin", &[("range", "bytes=10-19")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, whole[10..20]);
    assert_eq!(r.header("content-range"), Some("bytes 10-19/102400"));
    let r = h2c::one(srv.addr, "GET", "/100k.bin", &[("range", "bytes=0-0,-5")]);
    assert_eq!(r.status, 206);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("multipart/byteranges")
    );
    let one = get_with(srv.addr, "/100k.bin", &[("Range", "bytes=0-0,-5")]);
    assert_eq!(
        r.body.len(),
        one.body.len(),
        "multipart framing differs from HTTP/1.1"
    );
    let etag = h2c::get(srv.addr, "/page.html")
        .header("etag")
        .unwrap()
        .to_string();
    let r = h2c::one(srv.addr, "GET", "/page.html", &[("if-none-match", &etag)]);
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("content-length"), None);
    let r = h2c::one(srv.addr, "GET", "/page.html", &[("if-match", "\"nope\"")]);
    assert_eq!(r.status, 412);
    let r = h2c::one(
        srv.addr,
        "GET",
        "/style.css",
        &[("accept-encoding", "gzip")],
    );
    assert_eq!((r.status, &r.body[..]), (200, &b"GZIP-BYTES!"[..]));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
}

/// `--autoindex` lists a directory without index.html and `--cache-control VALUE`
/// shows on files, over h2 as over HTTP/1.1.
#[test]
fn autoindex_and_cache_control_apply() {
    let root = h2_site(false);
    let srv = start(
        root.path(),
        1,
        &["--autoindex", "--cache-control", "max-age=60"],
    );
    let r = h2c::get(srv.addr, "/noindex/");
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("file.txt"));
    assert_eq!(r.body, srv.get("/noindex/").body);
    assert_eq!(
        h2c::get(srv.addr, "/page.html").header("cache-control"),
        Some("max-age=60")
    );
}

/// The access log names the protocol: `"GET /page.html HTTP/2.0" 200 12`.
#[test]
fn the_access_log_shows_http_2_0() {
    let root = h2_site(false);
    let dir = tempfile::tempdir().unwrap();
    let access = dir.path().join("access.log");
    let srv = start(root.path(), 1, &["--access-log", access.to_str().unwrap()]);
    assert_eq!(h2c::get(srv.addr, "/page.html").status, 200);
    let text =
        wait_file(&access, Duration::from_secs(5), |t| !t.is_empty()).expect("an access log line");
    assert!(
        text.contains("\"GET /page.html HTTP/2.0\" 200 12 "),
        "{text}"
    );
}

/// `--redirect-https` answers h2c on the plain listener with a 308 to the TLS port;
/// `--hsts` marks answers over h2 on TLS, errors included, and never plain ones.
#[test]
fn redirect_https_and_hsts_apply_to_h2() {
    let root = h2_site(false);
    let (srv, https) = start_tls(root.path(), 1, &["--redirect-https", "--hsts", "63072000"]);
    let r = h2c::get(srv.addr, "/dir/page.html?q=1");
    assert_eq!(r.status, 308);
    let location = r.header("location").unwrap();
    assert!(
        location.starts_with("https://")
            && location.ends_with(&format!(":{}/dir/page.html?q=1", https.port())),
        "{location}"
    );
    assert_eq!(r.header("strict-transport-security"), None);
    for (path, status) in [("/index.html", 200), ("/missing", 404)] {
        let r = h2c::tls_one(https, "GET", path, &[]);
        assert_eq!(r.status, status);
        assert_eq!(
            r.header("strict-transport-security"),
            Some("max-age=63072000")
        );
    }
}

/// A path escaping the root, in any spelling, is never served: sent byte for byte by
/// the raw client, each gets a 4xx (or a reset), never the file.
#[test]
fn paths_escaping_the_root_are_never_served() {
    let root = h2_site(false);
    let srv = start(root.path(), 1, &[]);
    let mut c = Conn::handshake(srv.addr, &[]);
    for (i, path) in [
        "/../etc/passwd",
        "/%2e%2e/etc/passwd",
        "/%2E%2E/%2e%2e/etc/passwd",
        "/dir/../../etc/passwd",
        "/dir/%2e%2e/%2e%2e/etc/passwd",
        "/..%2fetc/passwd",
    ]
    .iter()
    .enumerate()
    {
        let r = c.get(2 * i as u32 + 1, path, 5 * SECOND);
        assert!(
            r.reset.is_some() || (400..500).contains(&r.status),
            "{path}: {r:?}"
        );
        assert!(
            !String::from_utf8_lossy(&r.body).contains("root:"),
            "{path} served"
        );
    }
}

// ---- Multiplexing ----

/// 100 concurrent streams on one connection, over files of three sizes, are all
/// answered byte-exact.
#[test]
fn a_hundred_concurrent_streams_are_all_answered_byte_exact() {
    let root = h2_site(false);
    let srv = start(root.path(), 1, &[]);
    let paths = ["/100k.bin", "/1k.html", "/page.html", "/empty.html"];
    let reqs = (0..100)
        .map(|i| h2c::request("http", "GET", paths[i % 4], &[]))
        .collect();
    let want = [
        pattern(100 * 1024),
        vec![b'x'; 1024],
        b"<p>page</p>\n".to_vec(),
        vec![],
    ];
    for (i, r) in h2c::get_all(srv.addr, reqs).into_iter().enumerate() {
        let r = r.unwrap_or_else(|e| panic!("stream {i}: {e}"));
        assert_eq!(r.status, 200, "stream {i}");
        assert!(
            r.body == want[i % 4],
            "stream {i}: {} bytes differ",
            paths[i % 4]
        );
    }
}

/// A 64 MiB download (read with flow control released as data arrives) arrives
/// byte-exact, and does not starve small requests: 20 on other streams of the same
/// connection and 5 on another connection all complete while it is still in flight.
/// Two workers, so `sync` has one for the other connection.
#[test]
fn a_64_mib_download_does_not_starve_small_streams_or_other_connections() {
    let root = h2_site(true);
    let srv = start(root.path(), 2, &[]);
    let addr = srv.addr;
    h2c::block_on(async move {
        let client = h2c::connect(addr, &h2::client::Builder::new())
            .await
            .unwrap();
        let mut c = client.clone().ready().await.unwrap();
        let (fut, _) = c
            .send_request(h2c::request("http", "GET", "/64m.bin", &[]), true)
            .unwrap();
        let resp = fut.await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers().get("content-length").unwrap(),
            BIG.to_string().as_str()
        );
        let mut body = resp.into_body();
        let first = body.data().await.unwrap().unwrap();
        body.flow_control().release_capacity(first.len()).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let big = tokio::spawn({
            let done = done.clone();
            let mut got = first.to_vec();
            async move {
                while let Some(chunk) = body.data().await {
                    let chunk = chunk.unwrap();
                    body.flow_control().release_capacity(chunk.len()).unwrap();
                    got.extend_from_slice(&chunk);
                }
                done.store(true, Ordering::SeqCst);
                got
            }
        });
        let small: Vec<_> = (0..20)
            .map(|_| {
                let c = client.clone();
                tokio::spawn(async move {
                    h2c::send(&c, h2c::request("http", "GET", "/1k.html", &[])).await
                })
            })
            .collect();
        let other = h2c::connect(addr, &h2::client::Builder::new())
            .await
            .unwrap();
        for _ in 0..5 {
            let r = h2c::send(&other, h2c::request("http", "GET", "/page.html", &[]))
                .await
                .unwrap();
            assert_eq!(r.status, 200);
        }
        assert!(
            !done.load(Ordering::SeqCst),
            "the other connection waited for 64 MiB"
        );
        for t in small {
            let r = t.await.unwrap().unwrap();
            assert_eq!((r.status, r.body.len()), (200, 1024));
        }
        assert!(
            !done.load(Ordering::SeqCst),
            "small streams waited for 64 MiB"
        );
        let got = big.await.unwrap();
        assert_eq!(got.len(), BIG);
        assert!(got == pattern(BIG), "64 MiB body differs");
    });
}

// ---- Flow control ----

/// Reads the response on `stream` with the client's windows tracked: every DATA frame
/// must fit the stream's and the connection's window and `max_frame`; after each one
/// the stream is given back what it used, and the connection `conn_step` at a time once
/// its window runs low. Returns the body.
fn read_within_windows(
    c: &mut Conn,
    stream: u32,
    initial: u32,
    max_frame: usize,
    conn_step: u32,
) -> Vec<u8> {
    let (mut stream_window, mut conn_window) = (initial as i64, frames::DEFAULT_WINDOW as i64);
    let mut body = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let f = c
            .next_frame(deadline)
            .unwrap_or_else(|e| panic!("{e:?} after {} bytes", body.len()));
        if f.stream != stream {
            continue;
        }
        match f.ty {
            frames::DATA => {
                let n = f.payload.len();
                assert!(
                    n <= max_frame,
                    "DATA of {n} B over the max frame {max_frame}"
                );
                assert!(
                    n as i64 <= stream_window && n as i64 <= conn_window,
                    "DATA of {n} B with windows stream {stream_window}, connection {conn_window}"
                );
                stream_window -= n as i64;
                conn_window -= n as i64;
                body.extend_from_slice(f.data());
                if f.has(frames::END_STREAM) {
                    return body;
                }
                let mut wu = Vec::new();
                if n > 0 {
                    wu.extend(frames::window_update(stream, n as u32));
                    stream_window += n as i64;
                }
                while conn_window < conn_step as i64 {
                    wu.extend(frames::window_update(0, conn_step));
                    conn_window += conn_step as i64;
                }
                c.send(&wu).unwrap();
            }
            frames::HEADERS => {
                let _ = c.collect_block(&f);
                assert!(!f.has(frames::END_STREAM), "no body");
            }
            frames::RST_STREAM => panic!("reset: {:?}", f.rst()),
            _ => {}
        }
    }
}

/// Windows of 1 and 16 bytes (SETTINGS_INITIAL_WINDOW_SIZE), given back a frame at a
/// time: the whole body arrives byte-exact and no DATA frame exceeds the window.
#[test]
fn tiny_windows_still_get_the_whole_body() {
    let root = h2_site(false);
    let srv = start(root.path(), 1, &[]);
    for (window, path, want) in [
        (1, "/page.html", b"<p>page</p>\n".to_vec()),
        (16, "/1k.html", vec![b'x'; 1024]),
    ] {
        let mut c = Conn::handshake(srv.addr, &[(frames::INITIAL_WINDOW_SIZE, window)]);
        c.send(&frames::get_frame(1, path)).unwrap();
        let body = read_within_windows(&mut c, 1, window, frames::DEFAULT_MAX_FRAME, 1000);
        assert_eq!(body, want, "window {window}");
    }
}

/// The connection window (65 535, whatever SETTINGS say) is respected: with a big
/// stream window, the connection is given back 1000 bytes at a time once it runs out,
/// and 100 KiB still arrives byte-exact in frames that fit.
#[test]
fn the_connection_window_given_back_a_little_at_a_time_is_respected() {
    let root = h2_site(false);
    let srv = start(root.path(), 1, &[]);
    let mut c = Conn::handshake(srv.addr, &[(frames::INITIAL_WINDOW_SIZE, 1 << 20)]);
    c.send(&frames::get_frame(1, "/100k.bin")).unwrap();
    let body = read_within_windows(&mut c, 1, 1 << 20, frames::DEFAULT_MAX_FRAME, 1000);
    assert!(body == pattern(100 * 1024), "body differs");
}

/// DATA frames never exceed 16 384 bytes by default; a client advertising
/// SETTINGS_MAX_FRAME_SIZE of 1 MiB still gets correct frames (none over 1 MiB) and the
/// body byte-exact.
#[test]
fn data_frames_respect_max_frame_size() {
    let root = h2_site(false);
    let srv = start(root.path(), 1, &[]);
    let mut c = Conn::handshake(srv.addr, &[(frames::INITIAL_WINDOW_SIZE, 1 << 24)]);
    c.send(&frames::window_update(0, 1 << 24)).unwrap();
    let r = c.get(1, "/100k.bin", 10 * SECOND);
    assert!(r.body == pattern(100 * 1024));
    assert!(
        r.data_frames.iter().all(|n| *n <= 16_384),
        "{:?}",
        r.data_frames
    );
    // One worker: under the sync model it serves one connection at a time.
    drop(c);
    let mut c = Conn::handshake(
        srv.addr,
        &[
            (frames::INITIAL_WINDOW_SIZE, 1 << 24),
            (frames::MAX_FRAME_SIZE, 1 << 20),
        ],
    );
    c.send(&frames::window_update(0, 1 << 24)).unwrap();
    // Wait for the ACK of our SETTINGS, so the server surely knows the bigger size.
    c.read_until(5 * SECOND, |f| f.is(frames::SETTINGS) && f.has(frames::ACK))
        .expect("SETTINGS ACK");
    let r = c.get(1, "/100k.bin", 10 * SECOND);
    assert_eq!(r.status, 200);
    assert!(r.body == pattern(100 * 1024), "body differs");
    assert!(
        r.data_frames.iter().all(|n| *n <= 1 << 20),
        "{:?}",
        r.data_frames
    );
}

// ---- The server's SETTINGS, ACK and PING ----

/// The server's SETTINGS: MAX_CONCURRENT_STREAMS 128, MAX_HEADER_LIST_SIZE present
/// (at least 8192), no ENABLE_PUSH = 1. It ACKs ours, and answers a PING with a PING
/// ACK carrying the same 8 bytes.
#[test]
fn the_server_settings_ack_and_ping() {
    let root = h2_site(false);
    let srv = start(root.path(), 1, &[]);
    let mut c = Conn::handshake(srv.addr, &[(frames::INITIAL_WINDOW_SIZE, 100_000)]);
    let settings = c.server_settings.clone().unwrap();
    let get = |id| {
        settings
            .iter()
            .rev()
            .find(|(i, _)| *i == id)
            .map(|(_, v)| *v)
    };
    assert_eq!(
        get(frames::MAX_CONCURRENT_STREAMS),
        Some(128),
        "{settings:?}"
    );
    assert!(
        get(frames::MAX_HEADER_LIST_SIZE).is_some_and(|v| v >= 8192),
        "{settings:?}"
    );
    assert_ne!(get(frames::ENABLE_PUSH), Some(1), "{settings:?}");
    c.read_until(5 * SECOND, |f| f.is(frames::SETTINGS) && f.has(frames::ACK))
        .expect("our SETTINGS ACKed");
    let data = *b"preforkd";
    c.send(&frames::ping(data)).unwrap();
    let pong = c
        .read_until(5 * SECOND, |f| f.is(frames::PING))
        .expect("a PING back");
    assert!(pong.has(frames::ACK), "{pong:?}");
    assert_eq!(pong.payload, data);
    assert_eq!(c.get(1, "/page.html", 5 * SECOND).status, 200);
}

// ---- Graceful stop, HUP, kill -9 ----

/// Requests the 64 MiB file on stream 1, reads the first MiB, sends `sig` to the
/// master; then the server must send GOAWAY(NO_ERROR) naming stream 1 (a first GOAWAY
/// with 2^31-1 is allowed, the final one is waited for), a stream opened after it gets
/// no response, and stream 1 completes byte-exact.
fn in_flight_download_survives(srv: &Server, sig: i32) {
    let mut c = Conn::handshake(srv.addr, &[(frames::INITIAL_WINDOW_SIZE, 1 << 20)]);
    c.send(&frames::window_update(0, 1 << 24)).unwrap();
    c.send(&frames::get_frame(1, "/64m.bin")).unwrap();
    let mut body = Vec::new();
    let mut head = None;
    let mut goaway = None;
    let mut sent_after = false;
    let deadline = Instant::now() + Duration::from_secs(50);
    loop {
        let f = c
            .next_frame(deadline)
            .unwrap_or_else(|e| panic!("{e:?} after {} bytes, GOAWAY {goaway:?}", body.len()));
        if let Some((last, code)) = f.goaway() {
            assert_eq!(code, frames::NO_ERROR, "GOAWAY {f:?}");
            assert!(last >= 1, "GOAWAY gave up stream 1");
            if last < 0x7fff_ffff {
                goaway = Some(last);
                if !sent_after {
                    // A new stream after the GOAWAY: must not be processed.
                    let _ = c.send(&frames::get_frame(last + 2, "/page.html"));
                    sent_after = true;
                }
            }
        }
        if f.stream > 1 && (f.is(frames::HEADERS) || f.is(frames::DATA)) {
            panic!("a stream opened after GOAWAY was answered: {f:?}");
        }
        if f.stream != 1 {
            continue;
        }
        match f.ty {
            frames::HEADERS => head = c.collect_block(&f),
            frames::DATA => {
                let before = body.len();
                body.extend_from_slice(f.data());
                let n = f.payload.len() as u32;
                if n > 0 {
                    let mut wu = frames::window_update(0, n);
                    wu.extend(frames::window_update(1, n));
                    let _ = c.send(&wu);
                }
                if before < MIB && body.len() >= MIB {
                    send(srv.pid(), sig);
                }
                if f.has(frames::END_STREAM) {
                    break;
                }
            }
            frames::RST_STREAM => panic!("stream 1 reset: {:?}", f.rst()),
            _ => {}
        }
    }
    let head = head.expect("response HEADERS");
    assert!(head.contains(&(":status".into(), "200".into())), "{head:?}");
    assert_eq!(body.len(), BIG);
    assert!(body == pattern(BIG), "64 MiB body differs");
    if goaway.is_none() {
        // The GOAWAY may come after the last DATA frame.
        let f = c
            .read_until(10 * SECOND, |f| {
                f.goaway().is_some_and(|(l, _)| l < 0x7fff_ffff)
            })
            .unwrap_or_else(|e| panic!("no GOAWAY after {sig}: {e:?}"));
        assert_eq!(f.goaway().unwrap().1, frames::NO_ERROR);
        let _ = c.send(&frames::get_frame(f.goaway().unwrap().0 + 2, "/page.html"));
    }
    let (rest, _) = c.drain(10 * SECOND);
    assert!(
        !rest.iter().any(|f| f.stream > 1 && f.is(frames::HEADERS)),
        "a stream after GOAWAY was answered: {}",
        frames::summary(&rest)
    );
}

/// SIGTERM while a 64 MiB download is in flight on h2: GOAWAY(NO_ERROR) with the last
/// stream id, the download completes byte-exact, a new stream is not processed, and
/// the master exits 0.
#[test]
fn term_sends_goaway_and_finishes_the_download_in_flight() {
    let root = h2_site(true);
    let mut srv = start(root.path(), 1, &[]);
    in_flight_download_survives(&srv, libc::SIGTERM);
    assert_eq!(srv.wait_exit(Duration::from_secs(10)), Some(0));
}

/// SIGHUP to the master while a 64 MiB download is in flight on h2: the old worker
/// sends GOAWAY(NO_ERROR) and finishes the download byte-exact; a new connection is
/// served by a new worker.
#[test]
fn hup_sends_goaway_and_finishes_the_download_in_flight() {
    let root = h2_site(true);
    let srv = start(root.path(), 1, &[]);
    let old = srv.worker_pids();
    in_flight_download_survives(&srv, libc::SIGHUP);
    srv.wait_workers(2);
    assert!(wait_until(Duration::from_secs(10), || old
        .iter()
        .all(|p| !common::alive(*p))));
    assert_eq!(h2c::get(srv.addr, "/page.html").status, 200);
}

/// kill -9 of the worker mid-download: the client sees the connection end (no hang),
/// and a new connection is served by the replacement.
#[test]
fn kill_9_ends_the_connection_and_the_replacement_serves() {
    let root = h2_site(false);
    std::fs::write(root.path().join("16m.bin"), pattern(16 * MIB)).unwrap();
    let srv = start(root.path(), 1, &[]);
    let mut c = Conn::handshake(srv.addr, &[]);
    c.send(&frames::get_frame(1, "/16m.bin")).unwrap();
    c.read_until(5 * SECOND, |f| f.is(frames::DATA))
        .expect("the download started");
    send(srv.worker_pids()[0], libc::SIGKILL);
    let (_, end) = c.drain(10 * SECOND);
    assert!(matches!(end, End::Closed(_)), "{end:?}");
    srv.wait_workers(2);
    assert_eq!(h2c::get(srv.addr, "/page.html").status, 200);
}

// ---- Attacks ----

/// Writes `bytes`, reading (and keeping) whatever the server sent meanwhile, so neither
/// side blocks on a full socket; false once the server has closed.
fn write_and_poll(c: &mut Conn, bytes: &[u8], poll: Duration) -> bool {
    if c.send(bytes).is_err() {
        return false;
    }
    let deadline = Instant::now() + poll;
    loop {
        match c.next_frame(deadline) {
            Ok(_) => {}
            Err(End::Timeout) => return true,
            Err(End::Closed(_)) => return false,
        }
    }
}

/// The GOAWAY the server sent, if any.
fn goaway_of(c: &Conn) -> Option<(u32, u32)> {
    c.seen.iter().find_map(Frame::goaway)
}

/// Rapid reset (CVE-2023-44487): HEADERS then RST_STREAM(CANCEL), over and over. The
/// server sends GOAWAY(ENHANCE_YOUR_CALM) and closes before 10 000 pairs, and a
/// well-behaved client is served meanwhile.
#[test]
fn rapid_reset_gets_enhance_your_calm() {
    let root = h2_site(false);
    let srv = start(root.path(), 2, &[]);
    let mut c = Conn::handshake(srv.addr, &[]);
    let mut pairs = 0u32;
    let mut open = true;
    while open && pairs < 10_000 {
        let mut batch = Vec::new();
        for _ in 0..100 {
            let id = 2 * pairs + 1;
            batch.extend(frames::get_frame(id, "/page.html"));
            batch.extend(frames::rst_stream(id, frames::CANCEL));
            pairs += 1;
        }
        open = write_and_poll(&mut c, &batch, Duration::from_millis(1));
        if pairs == 2000 {
            served_quickly(srv.addr, "during a rapid reset");
        }
    }
    if open {
        let _ = c.drain(5 * SECOND);
    }
    assert_eq!(
        goaway_of(&c).map(|g| g.1),
        Some(frames::ENHANCE_YOUR_CALM),
        "after {pairs} pairs: {}",
        frames::summary(&c.seen)
    );
    let (_, end) = c.drain(5 * SECOND);
    assert!(matches!(end, End::Closed(_)), "not closed: {end:?}");
    served_quickly(srv.addr, "after a rapid reset");
}

/// What a header-block flood may get: a GOAWAY with one of these codes, or a 431.
fn assert_flood_refused(c: &mut Conn, sent: usize, what: &str) {
    let (frames_after, end) = c.drain(5 * SECOND);
    let _ = frames_after;
    let goaway = goaway_of(c);
    let refused_431 = c.seen.iter().any(|f| {
        f.is(frames::HEADERS) && f.stream == 1 && {
            let block = f.block().to_vec();
            frames::Decoder::default()
                .decode(&block)
                .is_ok_and(|h| h.contains(&(":status".into(), "431".into())))
        }
    });
    assert!(
        refused_431
            || goaway.is_some_and(|(_, code)| [
                frames::ENHANCE_YOUR_CALM,
                frames::PROTOCOL_ERROR,
                frames::COMPRESSION_ERROR
            ]
            .contains(&code)),
        "{what}: after {sent} bytes: {}",
        frames::summary(&c.seen)
    );
    assert!(matches!(end, End::Closed(_)), "{what}: not closed: {end:?}");
    assert!(
        sent < MIB,
        "{what}: the server took a whole MiB of header block"
    );
}

/// CONTINUATION flood (CVE-2024-27316): HEADERS without END_HEADERS, then CONTINUATION
/// frames of 1000 bytes of header fields, never ending: GOAWAY (or 431) and close long
/// before 1 MiB has been sent; others are served meanwhile.
#[test]
fn a_continuation_flood_is_cut_off() {
    let root = h2_site(false);
    let srv = start(root.path(), 2, &[]);
    let mut c = Conn::handshake(srv.addr, &[]);
    let mut sent = 0;
    let first = frames::headers(
        1,
        &frames::request_block("GET", "/page.html", &[]),
        true,
        false,
    );
    let mut open = write_and_poll(&mut c, &first, Duration::from_millis(1));
    let field = frames::literal("x-flood", &"a".repeat(985));
    while open && sent < MIB {
        let mut batch = Vec::new();
        for _ in 0..16 {
            batch.extend(frames::continuation(1, &field, false));
            sent += field.len();
        }
        open = write_and_poll(&mut c, &batch, Duration::from_millis(20));
        if sent > 64 * 1024 && sent < 64 * 1024 + 16 * 1024 {
            served_quickly(srv.addr, "during a CONTINUATION flood");
        }
    }
    assert_flood_refused(&mut c, sent, "CONTINUATION of fields");
    served_quickly(srv.addr, "after a CONTINUATION flood");
}

/// Many empty CONTINUATION frames after a HEADERS without END_HEADERS: the same answer
/// (GOAWAY or 431, and close) before 1 MiB of frames.
#[test]
fn a_flood_of_empty_continuation_frames_is_cut_off() {
    let root = h2_site(false);
    let srv = start(root.path(), 2, &[]);
    let mut c = Conn::handshake(srv.addr, &[]);
    let first = frames::headers(
        1,
        &frames::request_block("GET", "/page.html", &[]),
        true,
        false,
    );
    let mut open = write_and_poll(&mut c, &first, Duration::from_millis(1));
    let mut sent = 0;
    let batch: Vec<u8> = (0..1000)
        .flat_map(|_| frames::continuation(1, &[], false))
        .collect();
    while open && sent < MIB {
        open = write_and_poll(&mut c, &batch, Duration::from_millis(20));
        sent += batch.len();
    }
    assert_flood_refused(&mut c, sent, "empty CONTINUATION frames");
    served_quickly(srv.addr, "after empty CONTINUATION frames");
}

/// HPACK bomb: a 4000-byte field added to the dynamic table, then a block referencing
/// it 4000 times (16 MB decoded from 8 KB): a 431, a RST_STREAM or a GOAWAY, never a
/// hang; the server stays up and serves others.
#[test]
fn an_hpack_bomb_is_refused() {
    let root = h2_site(false);
    let srv = start(root.path(), 2, &[]);
    let workers = srv.worker_pids();
    let mut c = Conn::handshake(srv.addr, &[]);
    let mut block = frames::request_block("GET", "/page.html", &[]);
    block.extend(frames::literal_indexed("x-bomb", &[b'a'; 4000]));
    for _ in 0..4000 {
        block.extend(frames::indexed(62));
    }
    assert!(block.len() <= frames::DEFAULT_MAX_FRAME);
    c.send(&frames::headers(1, &block, true, true)).unwrap();
    let answer = c.read_until(10 * SECOND, |f| {
        (f.stream == 1 && (f.is(frames::HEADERS) || f.is(frames::RST_STREAM)))
            || f.is(frames::GOAWAY)
    });
    match answer {
        Ok(f) if f.is(frames::HEADERS) => {
            let h = frames::Decoder::default().decode(f.block()).unwrap();
            assert!(h.contains(&(":status".into(), "431".into())), "{h:?}");
        }
        Ok(_) => {}
        Err(End::Closed(e)) => panic!("closed without a word: {e}"),
        Err(End::Timeout) => panic!("no answer to an HPACK bomb: {}", frames::summary(&c.seen)),
    }
    served_quickly(srv.addr, "after an HPACK bomb");
    assert_eq!(srv.worker_pids(), workers, "a worker died");
}

/// Writes `frame` as fast as the socket takes it for about 2 s without reading;
/// returns the bytes written. Stops early once the socket stays full for 200 ms (the
/// server stopped reading) or the server closed.
fn flood_without_reading(s: &mut TcpStream, frame: &[u8]) -> usize {
    let batch: Vec<u8> = frame
        .iter()
        .copied()
        .cycle()
        .take(frame.len() * 1000)
        .collect();
    s.set_nonblocking(true).unwrap();
    let start = Instant::now();
    let mut full_since: Option<Instant> = None;
    let mut written = 0;
    let mut off = 0;
    while start.elapsed() < 2 * SECOND {
        match s.write(&batch[off..]) {
            Ok(n) => {
                written += n;
                off = (off + n) % batch.len();
                full_since = None;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let since = *full_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_millis(200) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(_) => break,
        }
    }
    written
}

/// A PING flood, then a SETTINGS flood, from clients that never read: the workers'
/// memory grows by less than 32 MiB, and a well-behaved client is served meanwhile.
#[test]
fn ping_and_settings_floods_stay_bounded() {
    let root = h2_site(false);
    let srv = start(root.path(), 2, &[]);
    served_quickly(srv.addr, "warm-up");
    let before = workers_rss_kib(&srv);
    for (what, frame) in [
        ("PING", frames::ping(*b"floodfld")),
        (
            "SETTINGS",
            frames::settings(&[(frames::INITIAL_WINDOW_SIZE, 65_535)]),
        ),
    ] {
        let mut s = TcpStream::connect(srv.addr).unwrap();
        let mut start = frames::PREFACE.to_vec();
        start.extend(frames::settings(&[]));
        s.write_all(&start).unwrap();
        let written = flood_without_reading(&mut s, &frame);
        served_quickly(srv.addr, &format!("during a {what} flood"));
        let growth = workers_rss_kib(&srv).saturating_sub(before);
        eprintln!("{what} flood: {written} bytes written, workers grew {growth} KiB");
        assert!(
            growth < 32 * 1024,
            "{what} flood: workers grew {growth} KiB"
        );
        drop(s);
    }
    served_quickly(srv.addr, "after the floods");
}

/// 140 concurrent streams on a connection whose stream windows are 0 (so none can
/// finish): the ones past the advertised 128 are refused (RST_STREAM REFUSED_STREAM or
/// PROTOCOL_ERROR, or a connection error); with no connection error, the first 128
/// complete byte-exact once the client opens its windows.
#[test]
fn streams_beyond_the_limit_are_refused() {
    let root = h2_site(false);
    let srv = start(root.path(), 1, &[]);
    let mut c = Conn::handshake(srv.addr, &[(frames::INITIAL_WINDOW_SIZE, 0)]);
    c.read_until(5 * SECOND, |f| f.is(frames::SETTINGS) && f.has(frames::ACK))
        .expect("SETTINGS ACK");
    let mut all = Vec::new();
    for i in 0..140u32 {
        all.extend(frames::get_frame(2 * i + 1, "/100k.bin"));
    }
    c.send(&all).unwrap();
    let extra: Vec<u32> = (128..140u32).map(|i| 2 * i + 1).collect();
    let mut refused = Vec::new();
    let deadline = Instant::now() + 5 * SECOND;
    while refused.len() < extra.len() && goaway_of(&c).is_none() {
        match c.next_frame(deadline) {
            Ok(f) => {
                if let Some(code) = f.rst() {
                    assert!(
                        extra.contains(&f.stream),
                        "stream {} within the limit reset ({code})",
                        f.stream
                    );
                    assert!(
                        [frames::REFUSED_STREAM, frames::PROTOCOL_ERROR].contains(&code),
                        "stream {} reset with {code}",
                        f.stream
                    );
                    refused.push(f.stream);
                }
            }
            Err(e) => panic!(
                "{e:?}: {} of {} refused: {}",
                refused.len(),
                extra.len(),
                frames::summary(&c.seen)
            ),
        }
    }
    if let Some((_, code)) = goaway_of(&c) {
        assert_ne!(
            code,
            frames::NO_ERROR,
            "a GOAWAY for too many streams names an error"
        );
        return;
    }
    // Open the windows; the first 128 complete (frames of all streams interleave).
    let mut wu = frames::settings(&[(frames::INITIAL_WINDOW_SIZE, 200_000)]);
    wu.extend(frames::window_update(0, 128 * 200_000));
    c.send(&wu).unwrap();
    let mut bodies: std::collections::HashMap<u32, Vec<u8>> = Default::default();
    let mut done = 0;
    let deadline = Instant::now() + 20 * SECOND;
    while done < 128 {
        let f = c
            .next_frame(deadline)
            .unwrap_or_else(|e| panic!("{e:?} with {done} of 128 complete"));
        if f.is(frames::DATA) {
            assert!(f.stream < 2 * 128, "data on refused stream {}", f.stream);
            bodies
                .entry(f.stream)
                .or_default()
                .extend_from_slice(f.data());
            if f.has(frames::END_STREAM) {
                done += 1;
            }
        }
        assert!(f.rst().is_none() || extra.contains(&f.stream), "{f:?}");
        assert!(f.goaway().is_none(), "{f:?}");
    }
    let want = pattern(100 * 1024);
    for i in 0..128u32 {
        let body = bodies.get(&(2 * i + 1)).map_or(&[][..], |b| &b[..]);
        assert!(body == want, "stream {}: {} bytes", 2 * i + 1, body.len());
    }
}

/// A window held at zero forever (INITIAL_WINDOW_SIZE 0, no WINDOW_UPDATE): with
/// `--send-timeout 1` the server closes the connection; its memory stays bounded and
/// others are served meanwhile.
#[test]
fn a_window_held_at_zero_is_closed_after_the_send_timeout() {
    let root = h2_site(false);
    let srv = start(root.path(), 2, &["--send-timeout", "1"]);
    served_quickly(srv.addr, "warm-up");
    let before = workers_rss_kib(&srv);
    let mut c = Conn::handshake(srv.addr, &[(frames::INITIAL_WINDOW_SIZE, 0)]);
    c.send(&frames::get_frame(1, "/100k.bin")).unwrap();
    served_quickly(srv.addr, "while a window is held at zero");
    let t = Instant::now();
    let (got, end) = c.drain(10 * SECOND);
    assert!(
        matches!(end, End::Closed(_)),
        "still open after {:?}: {end:?} {}",
        t.elapsed(),
        frames::summary(&got)
    );
    assert!(
        !got.iter()
            .any(|f| f.is(frames::DATA) && !f.payload.is_empty()),
        "DATA sent into a zero window"
    );
    let growth = workers_rss_kib(&srv).saturating_sub(before);
    assert!(growth < 32 * 1024, "workers grew {growth} KiB");
}

/// A bad preface: on TLS with ALPN h2, garbage instead of the preface closes the
/// connection (with or without GOAWAY); on a plain listener, an almost-preface
/// (`PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n`) is closed or answered as HTTP/1.1 (400, or the 505 its parser gives HTTP/2.0).
/// Neither hangs.
#[test]
fn bad_prefaces_are_closed() {
    let root = h2_site(false);
    let (srv, https) = start_tls(root.path(), 1, &[]);
    let s = h2c::tls_stream(https, &[b"h2"]);
    assert_eq!(s.conn.alpn_protocol(), Some(&b"h2"[..]));
    let mut c = Conn::bare(Box::new(s));
    c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\nthis is not a preface\r\n")
        .unwrap();
    let (got, end) = c.drain(5 * SECOND);
    assert!(
        matches!(end, End::Closed(_)),
        "{end:?}: {}",
        frames::summary(&got)
    );
    if let Some((_, code)) = got.iter().find_map(Frame::goaway) {
        assert_eq!(code, frames::PROTOCOL_ERROR);
    }

    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(5 * SECOND)).unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n").unwrap();
    let mut out = Vec::new();
    let r = s.read_to_end(&mut out);
    assert!(
        r.is_ok()
            || r.as_ref()
                .is_err_and(|e| e.kind() == ErrorKind::ConnectionReset),
        "no close within 5 s: {r:?}"
    );
    // Not the preface, so HTTP/1.1, whose parser answers an HTTP/2.0 request line 505.
    assert!(
        out.is_empty() || out.starts_with(b"HTTP/1.1 400 ") || out.starts_with(b"HTTP/1.1 505 "),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
}

/// Unknown frame types (on the connection and on a stream) are ignored: the
/// connection keeps working.
#[test]
fn unknown_frame_types_are_ignored() {
    let root = h2_site(false);
    let srv = start(root.path(), 1, &[]);
    let mut c = Conn::handshake(srv.addr, &[]);
    let mut junk = frames::frame(0xfa, 0xff, 0, b"whatever");
    junk.extend(frames::frame(0x42, 0, 1, &[0; 100]));
    c.send(&junk).unwrap();
    let r = c.get(1, "/page.html", 5 * SECOND);
    assert_eq!((r.status, &r.body[..]), (200, &b"<p>page</p>\n"[..]));
    let r = c.get(3, "/1k.html", 5 * SECOND);
    assert_eq!(r.body.len(), 1024);
    assert!(goaway_of(&c).is_none());
}

/// Malformed frames are connection errors: GOAWAY with the right code, then close.
#[test]
fn malformed_frames_get_goaway_with_the_right_code() {
    let root = h2_site(false);
    let srv = start(root.path(), 1, &[]);
    // One byte over what the server says it takes (SETTINGS_MAX_FRAME_SIZE, 16 384 by
    // default); a server taking the most a frame can carry has no such case.
    let max = Conn::handshake(srv.addr, &[])
        .server_settings
        .unwrap()
        .iter()
        .rev()
        .find(|(id, _)| *id == frames::MAX_FRAME_SIZE)
        .map_or(frames::DEFAULT_MAX_FRAME, |(_, v)| *v as usize);
    let mut too_big = frames::request_block("GET", "/page.html", &[]);
    while too_big.len() <= max && max < (1 << 24) - 1 {
        too_big.extend(frames::literal("x-pad", &"p".repeat(200)));
    }
    let mut cases: Vec<(&str, Vec<u8>, u32)> = vec![
        (
            "DATA on stream 0",
            frames::data(0, b"hello", false),
            frames::PROTOCOL_ERROR,
        ),
        (
            "HEADERS on stream 0",
            frames::headers(0, &frames::request_block("GET", "/", &[]), true, true),
            frames::PROTOCOL_ERROR,
        ),
        (
            "HEADERS on an even stream",
            frames::get_frame(2, "/page.html"),
            frames::PROTOCOL_ERROR,
        ),
        (
            "SETTINGS of 5 bytes",
            frames::frame(frames::SETTINGS, 0, 0, &[0, 4, 0, 0, 1]),
            frames::FRAME_SIZE_ERROR,
        ),
        (
            "WINDOW_UPDATE of 0 on the connection",
            frames::window_update(0, 0),
            frames::PROTOCOL_ERROR,
        ),
    ];
    if too_big.len() > max {
        cases.push((
            "HEADERS over SETTINGS_MAX_FRAME_SIZE",
            frames::headers(1, &too_big, true, true),
            frames::FRAME_SIZE_ERROR,
        ));
    }
    for (what, bytes, code) in cases {
        let mut c = Conn::handshake(srv.addr, &[]);
        c.send(&bytes).unwrap();
        let (_, got) = c.expect_goaway_and_close(5 * SECOND);
        assert_eq!(got, code, "{what}: {}", frames::summary(&c.seen));
    }
}

// ---- Timeouts ----

/// An h2 connection with no streams is closed after `--keepalive-timeout` (with a
/// GOAWAY first or not; a GOAWAY names no error).
#[test]
fn an_idle_h2_connection_is_closed_after_the_keepalive_timeout() {
    let root = h2_site(false);
    let srv = start(root.path(), 1, &["--keepalive-timeout", "1"]);
    let mut c = Conn::handshake(srv.addr, &[]);
    assert_eq!(c.get(1, "/page.html", 5 * SECOND).status, 200);
    let t = Instant::now();
    let (got, end) = c.drain(10 * SECOND);
    assert!(
        matches!(end, End::Closed(_)),
        "{end:?} after {:?}",
        t.elapsed()
    );
    assert!(t.elapsed() >= Duration::from_millis(500), "closed at once");
    if let Some((_, code)) = got.iter().find_map(Frame::goaway) {
        assert_eq!(code, frames::NO_ERROR);
    }
}
