//! Connection handling: keep-alive, pipelining, HTTP/1.0, timeouts and bad input.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Server, parse_responses, site};

/// Reads until `n` complete responses arrived (or EOF / 10 s).
fn read_responses(s: &mut TcpStream, n: usize, head_only: bool) -> Vec<common::Response> {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    common::read_n_responses(s, n, head_only)
}

/// True if the server closes the connection within `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    common::closes_within(s, within)
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let root = site();
    let srv = Server::start(root.path(), &["-w", "1"]);
    let mut s = TcpStream::connect(srv.addr).unwrap();
    for _ in 0..20 {
        s.write_all(b"GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let r = read_responses(&mut s, 1, false);
        assert_eq!(r[0].status, 200);
        assert_eq!(r[0].header("connection"), Some("keep-alive"));
        assert_eq!(r[0].body, b"<p>page</p>\n");
    }
}

#[test]
fn ten_pipelined_requests_in_one_write_give_ten_responses_in_order() {
    let root = site();
    let srv = Server::start(root.path(), &["-w", "1"]);
    let mut raw = Vec::new();
    let paths = ["/page.html", "/", "/missing", "/dir/", "/1k.html"];
    for i in 0..10 {
        raw.extend(format!("GET {} HTTP/1.1\r\nHost: t\r\n\r\n", paths[i % 5]).as_bytes());
    }
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(&raw).unwrap();
    let rs = read_responses(&mut s, 10, false);
    let statuses: Vec<u16> = rs.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 404, 200, 200, 200, 200, 404, 200, 200]);
    assert_eq!(rs[0].body, b"<p>page</p>\n");
    assert_eq!(rs[3].body, b"<p>dir index</p>\n");
    assert_eq!(rs[4].body.len(), 1024);
}

#[test]
fn http_1_0_closes_unless_keep_alive_was_asked() {
    let root = site();
    let srv = Server::start(root.path(), &["-w", "1"]);
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(b"GET /page.html HTTP/1.0\r\n\r\n").unwrap();
    let r = read_responses(&mut s, 1, false);
    assert_eq!(r[0].header("connection"), Some("close"));
    assert!(closed_within(&mut s, Duration::from_secs(5)));

    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(b"GET /page.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let r = read_responses(&mut s, 1, false);
    assert_eq!(r[0].header("connection"), Some("keep-alive"));
    s.write_all(b"GET /page.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    assert_eq!(read_responses(&mut s, 1, false)[0].status, 200);
}

#[test]
fn connection_close_is_honoured() {
    let root = site();
    let srv = Server::start(root.path(), &["-w", "1"]);
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(b"GET /page.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /page.html HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.read_to_end(&mut all).unwrap();
    let rs = parse_responses(&all, false);
    assert_eq!(rs.len(), 1, "nothing after Connection: close");
    assert_eq!(rs[0].header("connection"), Some("close"));
}

#[test]
fn bad_input_never_crashes_a_worker() {
    let root = site();
    let srv = Server::start(root.path(), &["-w", "1", "--header-timeout", "1"]);
    let worker = srv.worker_pids();
    let inputs: [&[u8]; 9] = [
        b"\r\n",
        b"\r\n\r\n\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
        b"\0\0\0\0\0\0\0\0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\nHost: \xff\r\n\r\n",
    ];
    for input in inputs {
        let bytes = srv.request(input);
        let rs = parse_responses(&bytes, false);
        if !bytes.is_empty() {
            assert!(
                rs.first().is_some_and(|r| (400..506).contains(&r.status)),
                "{:?} -> {:?}",
                String::from_utf8_lossy(input),
                String::from_utf8_lossy(&bytes)
            );
        }
    }
    let statuses: Vec<u16> = [
        &b"GET / HTTP/2.0\r\n\r\n"[..],
        b"GET / HTTP/0.9\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
    ]
    .iter()
    .map(|i| parse_responses(&srv.request(i), false)[0].status)
    .collect();
    assert_eq!(statuses, [505, 400, 400, 400]);
    // Half a request: the header timeout answers and closes.
    let started = Instant::now();
    let bytes = srv.request(b"GET /page.html HTTP/1.1\r\nHo");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(parse_responses(&bytes, false)[0].status, 408);
    // The same worker is alive and serving.
    assert_eq!(srv.worker_pids(), worker);
    assert_eq!(srv.get("/page.html").status, 200);
}

#[test]
fn stalled_clients_are_cut_off() {
    let root = site();
    let srv = Server::start(
        root.path(),
        &[
            "-w",
            "1",
            "--header-timeout",
            "1",
            "--keepalive-timeout",
            "1",
        ],
    );
    // A client that connects and says nothing.
    let mut silent = TcpStream::connect(srv.addr).unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(5)));
    // A keep-alive client that goes idle after one request.
    let mut idle = TcpStream::connect(srv.addr).unwrap();
    idle.write_all(b"GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_responses(&mut idle, 1, false)[0].status, 200);
    assert!(closed_within(&mut idle, Duration::from_secs(5)));
    // The single sync worker is free again for a new client.
    assert_eq!(srv.get("/page.html").status, 200);
}

#[test]
fn slow_but_steady_request_is_answered() {
    let root = site();
    let srv = Server::start(root.path(), &["-w", "1", "--header-timeout", "5"]);
    let mut s = TcpStream::connect(srv.addr).unwrap();
    for chunk in [
        &b"GET /page"[..],
        b".html HTTP/1.1\r\n",
        b"Host: t\r\n",
        b"\r\n",
    ] {
        s.write_all(chunk).unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(read_responses(&mut s, 1, false)[0].status, 200);
}

#[test]
fn get_with_a_body_is_read_and_discarded() {
    let root = site();
    let srv = Server::start(root.path(), &["-w", "1"]);
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(b"GET /page.html HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789GET /dir/ HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let rs = read_responses(&mut s, 2, false);
    assert_eq!(rs.iter().map(|r| r.status).collect::<Vec<_>>(), [200, 200]);
    assert_eq!(rs[1].body, b"<p>dir index</p>\n");
}
