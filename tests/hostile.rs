//! Hostile and malformed input over real TCP. Every case is answered with the status
//! nginx would give (or the connection is cut), and the same worker keeps serving.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{
    Server, closes_within, connect, parse_responses, pattern, read_n_responses, site, try_get,
    wait_until,
};

/// Sends `raw` (a write error is fine: the server may refuse before reading it all) and
/// reads until the server closes, at most 10 s.
fn exchange(addr: SocketAddr, raw: &[u8]) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut s = connect(addr);
    let _ = s.write_all(raw);
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = s.read(&mut chunk) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    (out, start.elapsed())
}

/// The status of the single response to `raw`; asserts the server closed the
/// connection promptly and the answer says `Connection: close`.
fn refused(s: &Server, raw: &[u8]) -> (u16, Vec<u8>) {
    let (bytes, took) = exchange(s.addr, raw);
    let rs = parse_responses(&bytes, false);
    assert_eq!(rs.len(), 1, "{:?}", String::from_utf8_lossy(&bytes));
    assert_eq!(rs[0].header("connection"), Some("close"));
    assert!(
        took < Duration::from_secs(5),
        "the server did not close: {took:?}"
    );
    (rs[0].status, rs[0].body.clone())
}

/// The worker served everything: still the same process, and a normal request works.
fn still_serving(s: &Server, workers: &[i32]) {
    let r = s.get("/page.html");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"<p>page</p>\n"[..]));
    let mut now = s.worker_pids();
    now.sort_unstable();
    assert_eq!(now, workers, "a worker died: {:?}", s.log.lines());
}

fn workers(s: &Server) -> Vec<i32> {
    let mut w = s.worker_pids();
    w.sort_unstable();
    w
}

#[test]
fn limits_and_bad_heads_get_the_right_status() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let w = workers(&s);
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9000));
    let long_field = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "b".repeat(9000)
    );
    let many: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\nHost: t\r\n{many}\r\n");
    let huge: String = (0..90)
        .map(|i| format!("X-{i}: {}\r\n", "v".repeat(800)))
        .collect();
    let huge = format!("GET / HTTP/1.1\r\nHost: t\r\n{huge}\r\n");
    let cases: Vec<(&[u8], u16)> = vec![
        (long_target.as_bytes(), 414),
        (long_field.as_bytes(), 431),
        (many.as_bytes(), 431),
        (huge.as_bytes(), 431),
        (b"G(T / HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        (b"GET / HTTP/3.0\r\nHost: t\r\n\r\n", 505),
        (b"GET / HTTP/0.9\r\n\r\n", 400),
        (b"GET /\r\n\r\n", 400),
        (b"\x00\x01\x02garbage\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
            400,
        ),
        (b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 4\r\n\r\nabcd", 400),
    ];
    for (raw, want) in cases {
        let (status, _) = refused(&s, raw);
        assert_eq!(
            status,
            want,
            "{:?}",
            String::from_utf8_lossy(&raw[..raw.len().min(60)])
        );
    }
    still_serving(&s, &w);
}

/// Heads that parsers disagree on, the stuff of request smuggling: a proxy in front may
/// read them another way (a field it ignores, a length it takes), so each is refused
/// with one `400` and a close, and the complete request sent right after it is never
/// answered. (A `Transfer-Encoding` GET is `501`, also alone.)
#[test]
fn ambiguous_heads_get_one_refusal_and_what_follows_is_not_answered() {
    let root = site();
    // A wrongly accepted head makes the connection live on: idle it out quickly.
    let s = Server::start(root.path(), &["-w", "1", "--keepalive-timeout", "3"]);
    let w = workers(&s);
    const SMUGGLED: &[u8] = b"GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n";
    let cases: &[(&str, &[u8], u16)] = &[
        (
            "space before the colon in Host",
            b"GET / HTTP/1.1\r\nHost : t\r\n\r\n",
            400,
        ),
        (
            "space before the colon in Content-Length",
            b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\n",
            400,
        ),
        (
            "tab before the colon in Host",
            b"GET / HTTP/1.1\r\nHost\t: t\r\n\r\n",
            400,
        ),
        (
            "tab before the colon in Content-Length",
            b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length\t: 5\r\n\r\n",
            400,
        ),
        (
            "obs-fold with a space",
            b"GET / HTTP/1.1\r\nHost: t\r\nX-A: b\r\n continued\r\n\r\n",
            400,
        ),
        (
            "obs-fold with a tab",
            b"GET / HTTP/1.1\r\nHost: t\r\nX-A: b\r\n\tcontinued\r\n\r\n",
            400,
        ),
        (
            "Content-Length: +5",
            b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\n",
            400,
        ),
        (
            "Content-Length: -5",
            b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n",
            400,
        ),
        (
            "Content-Length: 5, 5 (a list)",
            b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\n\r\n",
            400,
        ),
        (
            "Content-Length: 5,5",
            b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5,5\r\n\r\n",
            400,
        ),
        (
            "two equal Content-Length fields",
            b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
            400,
        ),
        (
            "Content-Length: 0x5",
            b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 0x5\r\n\r\n",
            400,
        ),
        (
            "two Host fields",
            b"GET / HTTP/1.1\r\nHost: t\r\nHost: t\r\n\r\n",
            400,
        ),
        ("NUL in Host", b"GET / HTTP/1.1\r\nHost: t\0u\r\n\r\n", 400),
        (
            "bare CR inside a value",
            b"GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n",
            400,
        ),
        (
            "NUL in a value",
            b"GET / HTTP/1.1\r\nHost: t\r\nX: a\0b\r\n\r\n",
            400,
        ),
        (
            "\\x01 in a value",
            b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x01b\r\n\r\n",
            400,
        ),
        (
            "\\x7f in a value",
            b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x7fb\r\n\r\n",
            400,
        ),
        (
            "tab as the request-line separator",
            b"GET\t/ HTTP/1.1\r\nHost: t\r\n\r\n",
            400,
        ),
        (
            "double space after the method",
            b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n",
            400,
        ),
        (
            "double space before the version",
            b"GET /  HTTP/1.1\r\nHost: t\r\n\r\n",
            400,
        ),
        (
            "bare CR ending the request line",
            b"GET / HTTP/1.1\rHost: t\r\n\r\n",
            400,
        ),
        (
            "bare CR ending every line",
            b"GET / HTTP/1.1\rHost: t\r\r",
            400,
        ),
        ("Host: a/b", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
        ("Host: a b", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        (
            "Transfer-Encoding: chunked on a GET",
            b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
            501,
        ),
    ];
    let mut wrong = Vec::new();
    for (what, head, want) in cases {
        let mut raw = head.to_vec();
        raw.extend_from_slice(SMUGGLED);
        let (bytes, took) = exchange(s.addr, &raw);
        let rs = parse_responses(&bytes, false);
        let statuses: Vec<u16> = rs.iter().map(|r| r.status).collect();
        let problem = if statuses != [*want] {
            format!("answered {statuses:?}, want [{want}] alone")
        } else if rs[0].header("connection") != Some("close") {
            format!("Connection: {:?}, want close", rs[0].header("connection"))
        } else if took >= Duration::from_secs(2) {
            format!("closed only after {took:?}")
        } else {
            continue;
        };
        wrong.push(format!(
            "{what} ({:?}): {problem}",
            String::from_utf8_lossy(head)
        ));
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
    still_serving(&s, &w);
}

#[test]
fn a_transfer_encoded_body_is_never_parsed_as_a_request() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let smuggled = b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
        2b\r\nGET /page.html HTTP/1.1\r\nHost: t\r\n\r\n\r\n0\r\n\r\n";
    let (bytes, _) = exchange(s.addr, smuggled);
    let rs = parse_responses(&bytes, false);
    assert_eq!(rs.iter().map(|r| r.status).collect::<Vec<_>>(), [501]);
}

#[test]
fn absolute_form_and_get_bodies_are_served() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let mut c = connect(s.addr);
    c.write_all(
        b"GET http://example.com/page.html HTTP/1.1\r\nHost: example.com\r\n\r\n\
          GET /page.html HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\nGET /xy HTTP/1.1\r\n\r\n\
          HEAD /page.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut bytes = Vec::new();
    let _ = c.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    // The body "GET /xy ..." was skipped, never answered: three responses, all 200,
    // and the last (the HEAD's, at the end of the stream) has no body.
    assert_eq!(text.matches("HTTP/1.1 ").count(), 3, "{text}");
    let rs = parse_responses(&bytes, false);
    assert_eq!(
        rs.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 200, 200],
        "{text}"
    );
    assert_eq!(rs[0].body, b"<p>page</p>\n");
    assert_eq!(rs[1].body, b"<p>page</p>\n");
    assert!(rs[2].body.is_empty());
}

#[test]
fn a_2000_field_header_flood_is_refused_and_the_worker_carries_on() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let w = workers(&s);
    let mut raw = b"GET / HTTP/1.1\r\nHost: t\r\n".to_vec();
    for i in 0..2000 {
        raw.extend_from_slice(format!("X-Flood-{i}: {i}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    let (status, _) = refused(&s, &raw);
    assert_eq!(status, 431);
    still_serving(&s, &w);
}

#[test]
fn a_64_kib_header_is_refused_and_the_worker_carries_on() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let w = workers(&s);
    // One 64 KiB field...
    let raw = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nCookie: {}\r\n\r\n",
        "c".repeat(64 * 1024)
    );
    assert_eq!(refused(&s, raw.as_bytes()).0, 431);
    // ...and 64 KiB spread over fields that are each within the limits.
    let fields: String = (0..80)
        .map(|i| format!("X-{i}: {}\r\n", "d".repeat(820)))
        .collect();
    let raw = format!("GET / HTTP/1.1\r\nHost: t\r\n{fields}\r\n");
    assert!(raw.len() > 64 * 1024);
    assert_eq!(refused(&s, raw.as_bytes()).0, 431);
    still_serving(&s, &w);
}

#[test]
fn tls_bytes_on_the_plain_port_get_400_and_close() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let w = workers(&s);
    // The start of a TLS 1.2 ClientHello record.
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03,
    ];
    hello.extend(pattern(32));
    hello.extend([0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00]);
    let mut c = connect(s.addr);
    c.write_all(&hello).unwrap();
    let rs = read_n_responses(&mut c, 1, false);
    assert_eq!(rs[0].status, 400);
    assert_eq!(rs[0].header("connection"), Some("close"));
    assert!(closes_within(&mut c, Duration::from_secs(5)));
    still_serving(&s, &w);
}

#[test]
fn nul_and_invalid_utf8_in_paths_are_answered() {
    let root = site();
    std::fs::write(
        root.path()
            .join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"caf\xe9.txt")),
        "latin-1 name",
    )
    .unwrap();
    let s = Server::start(root.path(), &["-w", "1"]);
    let w = workers(&s);
    let ask = |target: &[u8]| {
        let mut raw = b"GET ".to_vec();
        raw.extend_from_slice(target);
        raw.extend_from_slice(b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let (bytes, _) = exchange(s.addr, &raw);
        let r = parse_responses(&bytes, false)
            .into_iter()
            .next()
            .expect("a response");
        (r.status, r.body)
    };
    assert_eq!(ask(b"/page\0.html").0, 400);
    assert_eq!(ask(b"/page%00.html").0, 400);
    assert_eq!(ask(b"/%00/../page.html").0, 400);
    assert_eq!(ask(b"/\xff\xfe\xfd").0, 404);
    assert_eq!(ask(b"/%ff%fe%fd").0, 404);
    assert_eq!(
        ask(b"/\xc0\xae\xc0\xae/page.html").0,
        404,
        "overlong UTF-8 dots are no dots"
    );
    assert_eq!(ask(b"/caf\xe9.txt"), (200, b"latin-1 name".to_vec()));
    assert_eq!(ask(b"/caf%E9.txt"), (200, b"latin-1 name".to_vec()));
    still_serving(&s, &w);
}

#[test]
fn error_bodies_never_echo_the_request() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1"]);
    let probe = "<script>alert(1)</script>";
    let enc = "%3Cscript%3Ealert(1)%3C/script%3E";
    let long = format!("GET /{}{enc} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9000));
    let raws = [
        format!("GET /{enc} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
        format!("GET /{enc}/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
        format!("POST /{enc} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
        format!("GET /{probe} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
        format!("GET / HTTP/1.1\r\nHost: t\r\nX: {probe}\r\nBad Field: {probe}\r\n\r\n"),
        format!("GET /%zz{enc} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
        format!(
            "GET /page.html HTTP/1.1\r\nHost: t\r\nIf-Match: \"{probe}\"\r\nConnection: close\r\n\r\n"
        ),
        format!(
            "GET /page.html HTTP/1.1\r\nHost: t\r\nRange: bytes=999-{probe}\r\nConnection: close\r\n\r\n"
        ),
        long,
    ];
    for raw in &raws {
        let (bytes, _) = exchange(s.addr, raw.as_bytes());
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("HTTP/1.1 "), "{raw}: {text}");
        assert!(!text.contains("script"), "{raw}: {text}");
        assert!(!text.contains("alert"), "{raw}: {text}");
    }
}

#[test]
fn the_header_timeout_answers_408_and_closes() {
    let root = site();
    let s = Server::start(root.path(), &["-w", "1", "--header-timeout", "1"]);
    let mut c = connect(s.addr);
    c.write_all(b"GET /page.html HTTP/1.1\r\nHost: t\r\n")
        .unwrap();
    let start = Instant::now();
    let rs = read_n_responses(&mut c, 1, false);
    assert_eq!(rs[0].status, 408);
    assert_eq!(rs[0].header("connection"), Some("close"));
    assert!(closes_within(&mut c, Duration::from_secs(5)));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn clients_that_reset_mid_download_do_not_disturb_the_worker() {
    let root = site();
    let big = pattern(8 << 20);
    std::fs::write(root.path().join("big.bin"), &big).unwrap();
    let s = Server::start(root.path(), &["-w", "1"]);
    let w = workers(&s);
    let requests: [&[u8]; 3] = [
        b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-3000000,4000000-\r\n\r\n",
        b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n",
    ];
    for i in 0..15 {
        let mut c = connect(s.addr);
        c.write_all(requests[i % requests.len()]).unwrap();
        let mut got = 0;
        let mut chunk = [0u8; 16384];
        while got < 100_000 {
            match c.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        assert!(got >= 100_000, "the download did not start");
        // SO_LINGER 0: closing sends a reset, not a FIN.
        socket2::SockRef::from(&c)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(c);
    }
    let r = s.get("/big.bin");
    assert_eq!(r.status, 200);
    assert!(
        r.body == big,
        "the full file after the resets is byte-exact"
    );
    still_serving(&s, &w);
}

/// Open file descriptors of a process, to see connections a worker has accepted.
fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[test]
fn fifty_slowloris_clients_do_not_starve_a_normal_request() {
    let root = site();
    let s = Server::start_model(root.path(), "event", &["-w", "1", "--header-timeout", "30"]);
    let worker = s.worker_pids()[0];
    let before = open_fds(worker);
    let mut slow: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut c = connect(s.addr);
            c.write_all(b"GET /page.html HTTP/1.1\r\nHost: t\r\n")
                .unwrap();
            c
        })
        .collect();
    // All 50 are held by the worker (it accepted them), not waiting in the backlog.
    assert!(
        wait_until(Duration::from_secs(10), || open_fds(worker) >= before + 50),
        "the worker accepted only {} of 50",
        open_fds(worker) - before
    );
    // Keep them trickling a byte at a time while the normal requests are made.
    let stop = Arc::new(AtomicBool::new(false));
    let trickle = {
        let stop = stop.clone();
        let mut conns: Vec<TcpStream> = slow.iter().map(|c| c.try_clone().unwrap()).collect();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for c in &mut conns {
                    let _ = c.write_all(b"X");
                }
                std::thread::park_timeout(Duration::from_millis(100));
            }
        })
    };
    for _ in 0..5 {
        let start = Instant::now();
        let r = try_get(s.addr, "/page.html").expect("a normal request");
        let took = start.elapsed();
        assert_eq!(r.status, 200);
        assert!(
            took < Duration::from_secs(1),
            "a normal request took {took:?}"
        );
    }
    stop.store(true, Ordering::Relaxed);
    trickle.thread().unpark();
    trickle.join().unwrap();
    // The slow clients were never answered: their heads are still incomplete.
    for c in &mut slow {
        c.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        assert!(matches!(c.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock));
    }
}
