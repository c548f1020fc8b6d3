//! HTTPS end to end: the real binary with `--tls-bind`, a certificate made at test time,
//! and rustls clients over loopback TCP. Both worker models (`PREFORKD_TEST_MODEL`).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use common::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::client::Resumption;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, HandshakeKind, RootCertStore, StreamOwned};

/// A CA and two certificates for `localhost` it signed (the second one for the reload
/// test), made once per test process.
struct Pki {
    ca: CertificateDer<'static>,
    leaves: [(String, String, CertificateDer<'static>); 2],
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(params, ca_key);
        let leaf = || {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(vec!["localhost".into()])
                .unwrap()
                .signed_by(&key, &issuer)
                .unwrap();
            (
                format!("{}{}", cert.pem(), ca.pem()),
                key.serialize_pem(),
                cert.der().clone(),
            )
        };
        Pki {
            ca: ca.der().clone(),
            leaves: [leaf(), leaf()],
        }
    })
}

/// The certificate and key files of leaf `i` in `dir`.
fn write_leaf(dir: &Path, i: usize) -> (PathBuf, PathBuf) {
    let (chain, key, _) = &pki().leaves[i];
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, chain).unwrap();
    std::fs::write(&k, key).unwrap();
    (c, k)
}

/// A server with one plain and one TLS listener; `extra` goes on the command line.
struct Tls {
    srv: Server,
    https: SocketAddr,
    _files: tempfile::TempDir,
    files: PathBuf,
}

fn start(root: &Path, workers: usize, extra: &[&str]) -> Tls {
    std::fs::write(root.join("big.bin"), pattern(300 * 1024)).unwrap();
    let files = tempfile::tempdir().unwrap();
    let (cert, key) = write_leaf(files.path(), 0);
    let w = workers.to_string();
    let mut args = vec![
        "--tls-bind",
        "127.0.0.1:0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "-w",
        &w,
    ];
    args.extend_from_slice(extra);
    let srv = Server::start_cmd(command(root, "127.0.0.1:0", &args), root, workers);
    let line = srv.expect_line("listening on", Duration::from_secs(5));
    let https = listening_addrs(&line)
        .into_iter()
        .find(|(scheme, _)| scheme == "https")
        .map(|(_, a)| a)
        .unwrap_or_else(|| panic!("no https listener in {line:?}"));
    let path = files.path().to_path_buf();
    Tls {
        srv,
        https,
        _files: files,
        files: path,
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(versions: &[&'static rustls::SupportedProtocolVersion]) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    roots.add(pki().ca.clone()).unwrap();
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    // These clients speak HTTP/1.1 (tests/http2.rs has the HTTP/2 ones).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

fn default_client() -> Arc<ClientConfig> {
    Arc::new(client_config(rustls::DEFAULT_VERSIONS))
}

type Stream = StreamOwned<ClientConnection, TcpStream>;

fn connect_tls(addr: SocketAddr, config: &Arc<ClientConfig>) -> Stream {
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let conn =
        ClientConnection::new(config.clone(), ServerName::try_from("localhost").unwrap()).unwrap();
    let mut s = StreamOwned::new(conn, sock);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock).expect("handshake");
    }
    s
}

/// Reads one response off a TLS stream (Content-Length framed).
fn read_response(s: &mut Stream, head_only: bool) -> Response {
    let mut buf = Vec::new();
    let mut chunk = vec![0; 64 * 1024];
    let mut whole = None;
    loop {
        if whole.is_none()
            && let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n")
        {
            let head = parse_responses(&buf[..end + 4], true).remove(0);
            let body = if head_only || head.status == 304 {
                0
            } else {
                head.header("content-length")
                    .map_or(0, |v| v.parse::<usize>().unwrap())
            };
            whole = Some(end + 4 + body);
        }
        if let Some(len) = whole
            && buf.len() >= len
        {
            assert_eq!(buf.len(), len, "bytes after the response");
            return parse_responses(&buf, head_only).remove(0);
        }
        match s.read(&mut chunk) {
            Ok(0) => panic!("closed mid-response after {} bytes", buf.len()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("read: {e} after {} bytes", buf.len()),
        }
    }
}

fn tls_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut s = connect_tls(addr, &default_client());
    let mut raw = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (k, v) in headers {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    s.write_all(raw.as_bytes()).unwrap();
    read_response(&mut s, false)
}

/// One GET on a new TLS connection, closed by the server: the status, or what failed.
fn try_tls_get(addr: SocketAddr, config: &Arc<ClientConfig>) -> Result<u16, String> {
    let sock = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = ClientConnection::new(config.clone(), name).map_err(|e| e.to_string())?;
    let mut s = StreamOwned::new(conn, sock);
    s.write_all(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes)
        .map_err(|e| format!("read: {e}"))?;
    parse_responses(&bytes, false)
        .first()
        .map(|r| r.status)
        .ok_or_else(|| format!("no response: {:?}", String::from_utf8_lossy(&bytes)))
}

fn peer_leaf(s: &Stream) -> CertificateDer<'static> {
    s.conn.peer_certificates().unwrap()[0].clone().into_owned()
}

#[test]
fn https_and_http_answer_at_once_with_the_same_bytes() {
    let root = site();
    let t = start(root.path(), 2, &[]);
    for path in ["/index.html", "/big.bin", "/missing"] {
        let plain = get(t.srv.addr, path);
        let tls = tls_get(t.https, path, &[]);
        assert_eq!(plain.status, tls.status, "{path}");
        assert_eq!(plain.body, tls.body, "{path}");
        assert_eq!(plain.header("content-length"), tls.header("content-length"));
    }
    // ALPN: a client offering only http/1.1 gets it; TLS 1.2 still works.
    let s = connect_tls(t.https, &default_client());
    assert_eq!(s.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(
        s.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    assert_eq!(peer_leaf(&s), pki().leaves[0].2);
    let tls12 = Arc::new(client_config(&[&rustls::version::TLS12]));
    let mut s = connect_tls(t.https, &tls12);
    assert_eq!(
        s.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    s.write_all(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).status, 200);
}

#[test]
fn files_of_every_size_arrive_byte_exact_over_one_keep_alive_connection() {
    let root = site();
    let sizes = [
        0usize,
        1,
        16 * 1024 - 1,
        16 * 1024 + 1,
        100 * 1024,
        1 << 20,
        64 << 20,
    ];
    for (i, n) in sizes.iter().enumerate() {
        std::fs::write(root.path().join(format!("f{i}.bin")), pattern(*n)).unwrap();
    }
    let t = start(root.path(), 1, &[]);
    let mut s = connect_tls(t.https, &default_client());
    for (i, n) in sizes.iter().enumerate() {
        let req = format!("GET /f{i}.bin HTTP/1.1\r\nHost: localhost\r\n\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let r = read_response(&mut s, false);
        assert_eq!(r.status, 200);
        assert_eq!(r.body.len(), *n, "size {n}");
        assert!(r.body == pattern(*n), "size {n}: bytes differ");
    }
    // HEAD: the length a GET would send, no body, and the connection carries on.
    s.write_all(b"HEAD /f6.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s, true);
    assert_eq!(r.header("content-length"), Some("67108864"));
    s.write_all(b"GET /f1.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s, false).body, pattern(1));
}

#[test]
fn a_64_mib_tls_download_does_not_hold_up_small_requests() {
    let root = site();
    std::fs::write(root.path().join("huge.bin"), pattern(64 << 20)).unwrap();
    let t = start(root.path(), 1, &[]);
    let addr = t.https;
    let big = std::thread::spawn(move || {
        let mut s = connect_tls(addr, &default_client());
        s.write_all(b"GET /huge.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        // Read slowly at first, so the download is still running during the small ones.
        let mut first = vec![0; 1024];
        s.read_exact(&mut first).unwrap();
        let r = {
            let mut rest = Vec::new();
            let mut chunk = vec![0; 1 << 16];
            let head_end = first.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            rest.extend_from_slice(&first);
            while rest.len() < head_end + (64 << 20) {
                let n = s.read(&mut chunk).unwrap();
                assert!(n > 0, "closed early");
                rest.extend_from_slice(&chunk[..n]);
            }
            rest.split_off(head_end)
        };
        assert!(r == pattern(64 << 20), "64 MiB body differs");
    });
    // One worker: if the download held it, these would wait for the whole 64 MiB.
    for _ in 0..20 {
        let t0 = Instant::now();
        assert_eq!(tls_get(addr, "/index.html", &[]).status, 200);
        assert!(t0.elapsed() < Duration::from_secs(5));
    }
    big.join().unwrap();
}

#[test]
fn ranges_and_conditionals_work_over_tls() {
    let root = site();
    let t = start(root.path(), 1, &[]);
    let whole = tls_get(t.https, "/big.bin", &[]);
    let r = tls_get(t.https, "/big.bin", &[("Range", "bytes=10-19")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, whole.body[10..20]);
    let r = tls_get(t.https, "/big.bin", &[("Range", "bytes=0-0,-5")]);
    assert_eq!(r.status, 206);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("multipart/byteranges")
    );
    let etag = whole.header("etag").unwrap().to_string();
    let r = tls_get(t.https, "/big.bin", &[("If-None-Match", &etag)]);
    assert_eq!(r.status, 304);
    let r = tls_get(t.https, "/big.bin", &[("If-Match", "\"nope\"")]);
    assert_eq!(r.status, 412);
}

/// A ClientHello offering TLS 1.1 at most (no supported_versions extension).
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02]; // client_version TLS 1.1
    body.extend_from_slice(&[7; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x04, 0x00, 0x2f, 0x00, 0x35]); // AES128-SHA, AES256-SHA
    body.extend_from_slice(&[0x01, 0x00]); // compression: null
    let mut hs = vec![0x01, 0, (body.len() >> 8) as u8, body.len() as u8];
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01, (hs.len() >> 8) as u8, hs.len() as u8];
    rec.extend_from_slice(&hs);
    rec
}

/// What the server sends back to `bytes` before it closes (at most 5 s).
fn reply_to(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

#[test]
fn tls_1_0_and_1_1_are_refused_with_an_alert() {
    let root = site();
    let t = start(root.path(), 1, &[]);
    let out = reply_to(t.https, &tls11_client_hello());
    // An alert record (21), never a ServerHello (a handshake record, 22).
    assert_eq!(out.first(), Some(&21), "reply {out:?}");
    // The server is unharmed.
    assert_eq!(tls_get(t.https, "/index.html", &[]).status, 200);
}

#[test]
fn plain_http_on_the_tls_port_gets_a_400_and_garbage_a_close() {
    let root = site();
    let t = start(root.path(), 1, &[]);
    let out = reply_to(t.https, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    assert!(text.contains("HTTPS port"), "{text}");
    let r = parse_responses(&out, false).remove(0);
    assert_eq!(
        r.header("content-length").unwrap(),
        r.body.len().to_string()
    );
    assert!(r.header("date").is_some() && r.header("server").is_some());
    assert_eq!(r.header("connection"), Some("close"));
    for garbage in [
        &[0u8; 64][..],
        &[0x16, 3, 1, 0xff, 0xff, 1, 2, 3],
        &[0xff; 5000],
    ] {
        let t0 = Instant::now();
        let out = reply_to(t.https, garbage);
        assert!(t0.elapsed() < Duration::from_secs(4), "held open");
        assert!(!out.starts_with(b"HTTP/1.1 200"), "{out:?}");
    }
    assert_eq!(tls_get(t.https, "/index.html", &[]).status, 200);
}

#[test]
fn stalled_handshakes_do_not_delay_a_new_client_and_time_out() {
    // `sync` gives each connection a worker until it ends, so a stalled handshake
    // holds one for the header timeout there: a few, to see them closed.
    let sync = std::env::var("PREFORKD_TEST_MODEL").is_ok_and(|m| m == "sync");
    let root = site();
    let t = start(root.path(), 2, &["--header-timeout", "2"]);
    // Clients that send the start of a ClientHello and stall.
    let hello = tls11_client_hello();
    let stalled: Vec<TcpStream> = (0..if sync { 4 } else { 300 })
        .map(|_| {
            let mut s = TcpStream::connect(t.https).unwrap();
            s.write_all(&hello[..9]).unwrap();
            s
        })
        .collect();
    let t0 = Instant::now();
    assert_eq!(tls_get(t.https, "/index.html", &[]).status, 200);
    let limit = Duration::from_secs(if sync { 8 } else { 1 });
    assert!(
        t0.elapsed() < limit,
        "a new client waited {:?}",
        t0.elapsed()
    );
    // The header timeout covers the handshake: each stalled one is closed.
    for mut s in stalled {
        assert!(
            closes_within(&mut s, Duration::from_secs(8)),
            "a stalled handshake was kept open"
        );
    }
}

#[test]
fn sessions_resume_on_workers_started_after_the_ticket_was_issued() {
    let root = site();
    let t = start(root.path(), 2, &[]);
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let mut config = client_config(versions);
        config.resumption = Resumption::in_memory_sessions(16);
        let config = Arc::new(config);
        let mut s = connect_tls(t.https, &config);
        assert_eq!(s.conn.handshake_kind(), Some(HandshakeKind::Full));
        // TLS 1.3 tickets come after the handshake: a request and its answer take them in.
        s.write_all(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        read_response(&mut s, false);
        drop(s);
        let s = connect_tls(t.https, &config);
        assert_eq!(
            s.conn.handshake_kind(),
            Some(HandshakeKind::Resumed),
            "{versions:?}: no resumption on the same pool"
        );
        drop(s);
        // Every worker now is a new process; the ticket keys are the pool's.
        let before = t.srv.worker_pids();
        t.srv.signal(libc::SIGHUP);
        let gen_line = t
            .srv
            .expect_line("reloaded: generation", Duration::from_secs(5));
        let _ = gen_line;
        assert!(wait_until(Duration::from_secs(10), || {
            let now = live_children(t.srv.pid());
            now.len() == 2 && now.iter().all(|p| !before.contains(p))
        }));
        let mut s = connect_tls(t.https, &config);
        assert_eq!(
            s.conn.handshake_kind(),
            Some(HandshakeKind::Resumed),
            "{versions:?}: no resumption on a new worker"
        );
        s.write_all(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut s, false).status, 200);
    }
}

#[test]
fn hup_loads_a_new_certificate_and_keeps_the_old_one_when_the_new_is_broken() {
    let root = site();
    let t = start(root.path(), 1, &[]);
    let s = connect_tls(t.https, &default_client());
    assert_eq!(peer_leaf(&s), pki().leaves[0].2);
    drop(s);
    write_leaf(&t.files, 1);
    t.srv.signal(libc::SIGHUP);
    t.srv
        .expect_line("reloaded: generation 1", Duration::from_secs(5));
    assert!(
        wait_until(Duration::from_secs(10), || {
            peer_leaf(&connect_tls(t.https, &default_client())) == pki().leaves[1].2
        }),
        "the new certificate is not served"
    );
    // A key that does not match: the reload is refused, the served pair stays.
    std::fs::write(t.files.join("key.pem"), &pki().leaves[0].1).unwrap();
    t.srv.signal(libc::SIGHUP);
    let line = t.srv.expect_line("reload failed", Duration::from_secs(5));
    assert!(line.contains("--tls-key"), "{line}");
    for _ in 0..5 {
        let s = connect_tls(t.https, &default_client());
        assert_eq!(peer_leaf(&s), pki().leaves[1].2);
    }
    // Garbage for a certificate: the same.
    std::fs::write(t.files.join("cert.pem"), "not a certificate").unwrap();
    t.srv.signal(libc::SIGHUP);
    let line = t
        .srv
        .log
        .wait_for(Duration::from_secs(5), |l| {
            (l.contains("reload failed") && l.contains("--tls-cert")).then(|| l.to_string())
        })
        .unwrap_or_else(|| panic!("{:?}", t.srv.log.lines()));
    assert!(line.contains("--tls-cert"));
    assert_eq!(tls_get(t.https, "/index.html", &[]).status, 200);
}

#[test]
fn a_graceful_stop_finishes_a_tls_download_and_kill_9_is_made_good() {
    let root = site();
    std::fs::write(root.path().join("huge.bin"), pattern(32 << 20)).unwrap();
    let mut t = start(root.path(), 1, &[]);
    // kill -9 of the worker: the client in flight loses its download (nothing can save
    // it), and the next one is served by the replacement.
    let mut s = connect_tls(t.https, &default_client());
    s.write_all(b"GET /huge.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut some = vec![0; 4096];
    s.read_exact(&mut some).unwrap();
    let worker = t.srv.worker_pids()[0];
    send(worker, libc::SIGKILL);
    let mut rest = Vec::new();
    assert!(
        s.read_to_end(&mut rest).is_err() || rest.len() < 32 << 20,
        "the download cannot have finished"
    );
    t.srv.wait_workers(2);
    assert_eq!(tls_get(t.https, "/index.html", &[]).status, 200);
    // TERM while a download is in flight: it finishes byte-exact, then the master exits.
    let mut s = connect_tls(t.https, &default_client());
    s.write_all(b"GET /huge.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    s.read_exact(&mut some).unwrap();
    t.srv.signal(libc::SIGTERM);
    let mut body = some.clone();
    let mut chunk = vec![0; 1 << 16];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    let head_end = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(body[head_end..] == pattern(32 << 20), "body differs");
    assert_eq!(t.srv.wait_exit(Duration::from_secs(30)), Some(0));
}

#[test]
fn usr2_hands_the_tls_listener_to_a_new_master_without_a_failed_request() {
    let root = site();
    let t = start(root.path(), 2, &[]);
    let old_workers = t.srv.worker_pids();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let addr = t.https;
    let looper = {
        let (stop, served) = (stop.clone(), served.clone());
        std::thread::spawn(move || {
            let mut failed = Vec::new();
            let config = default_client();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match try_tls_get(addr, &config) {
                    Ok(200) => {
                        served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    other => failed.push(format!("{other:?}")),
                }
            }
            failed
        })
    };
    let (new, _) = upgrade(&t.srv);
    assert!(wait_until(Duration::from_secs(10), || children(new).len() == 2));
    send(t.srv.pid(), libc::SIGWINCH);
    assert!(wait_until(Duration::from_secs(10), || old_workers
        .iter()
        .all(|p| !alive(*p))));
    // Only the new master's workers serve now, with the certificate it loaded.
    for _ in 0..10 {
        let s = connect_tls(addr, &default_client());
        assert_eq!(peer_leaf(&s), pki().leaves[0].2);
    }
    // The loop has gone on across the hand-over: some more of its requests, whatever
    // the machine's speed.
    let before = served.load(std::sync::atomic::Ordering::Relaxed);
    let more = wait_until(Duration::from_secs(30), || {
        served.load(std::sync::atomic::Ordering::Relaxed) >= before + 5
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let failed = looper.join().unwrap();
    let ok = served.load(std::sync::atomic::Ordering::Relaxed);
    assert!(failed.is_empty(), "{ok} ok, failed: {failed:?}");
    assert!(more, "the request loop stalled at {ok}");
}

#[test]
fn redirect_https_sends_plain_clients_to_the_tls_port_and_hsts_marks_tls_answers() {
    let root = site();
    let t = start(root.path(), 1, &["--redirect-https", "--hsts", "63072000"]);
    let r = get_with(t.srv.addr, "/dir/page.html?q=1", &[]);
    assert_eq!(r.status, 308);
    assert_eq!(
        r.header("location").unwrap(),
        format!("https://test:{}/dir/page.html?q=1", t.https.port())
    );
    assert_eq!(r.header("strict-transport-security"), None);
    let r = tls_get(t.https, "/index.html", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=63072000")
    );
    // Errors over TLS carry it too.
    let r = tls_get(t.https, "/missing", &[]);
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=63072000")
    );
}

#[test]
fn bad_certificate_files_fail_at_start_naming_the_flag() {
    let files = tempfile::tempdir().unwrap();
    let (cert, key) = write_leaf(files.path(), 0);
    let other_key = files.path().join("other.pem");
    std::fs::write(&other_key, &pki().leaves[1].1).unwrap();
    let garbage = files.path().join("garbage.pem");
    std::fs::write(&garbage, "hello").unwrap();
    let missing = files.path().join("missing.pem");
    let cases = [
        (&missing, &key, "--tls-cert"),
        (&garbage, &key, "--tls-cert"),
        (&cert, &missing, "--tls-key"),
        (&cert, &garbage, "--tls-key"),
        (&cert, &other_key, "--tls-key"),
    ];
    for (c, k, flag) in cases {
        assert_refused(
            &[
                "-r",
                "www",
                "-b",
                "127.0.0.1:0",
                "--tls-bind",
                "127.0.0.1:0",
                "--tls-cert",
                c.to_str().unwrap(),
                "--tls-key",
                k.to_str().unwrap(),
            ],
            flag,
        );
    }
}
