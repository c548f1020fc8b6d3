//! Files of any size: sendfile with 64-bit offsets, and files that change underneath.

mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use common::{Server, pattern, site};

/// Reads a response head and returns (head text, the stream positioned at the body).
fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut byte).unwrap(),
            1,
            "connection closed in the head"
        );
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[test]
fn a_sparse_file_over_2_gib_is_served_whole() {
    const SIZE: u64 = 2_500 * 1024 * 1024; // 2.5 GiB, sparse
    let root = site();
    let path = root.path().join("big.bin");
    let mut f = std::fs::File::create(&path).unwrap();
    f.set_len(SIZE).unwrap();
    // Distinctive bytes just past the 2 GiB mark and at the very end.
    let marks = [(2u64 << 30) + 12345, SIZE - 7];
    for &at in &marks {
        f.seek(SeekFrom::Start(at)).unwrap();
        f.write_all(b"MARK").unwrap();
    }
    // The last 3 bytes after the final MARK stay sparse.
    drop(f);

    let srv = Server::start(root.path(), &["-w", "1"]);
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let head = read_head(&mut s);
    assert!(
        head.contains(&format!("\r\nContent-Length: {SIZE}\r\n")),
        "{head}"
    );
    assert!(
        head.contains("\r\nContent-Type: application/octet-stream\r\n"),
        "{head}"
    );

    // Read it all, checking the marks as they pass.
    let mut buf = vec![0u8; 1 << 20];
    let mut pos: u64 = 0;
    let mut found = 0;
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        for &at in &marks {
            if at >= pos && at + 4 <= pos + n as u64 {
                let i = (at - pos) as usize;
                assert_eq!(&chunk[i..i + 4], b"MARK", "at {at}");
                found += 1;
            } else if at >= pos && at < pos + n as u64 {
                carry = chunk[(at - pos) as usize..].to_vec();
            } else if !carry.is_empty() && at < pos && at + 4 > pos {
                carry.extend_from_slice(&chunk[..(at + 4 - pos) as usize]);
                assert_eq!(carry, b"MARK");
                carry.clear();
                found += 1;
            }
        }
        pos += n as u64;
    }
    assert_eq!(pos, SIZE, "body length");
    assert_eq!(found, marks.len());
}

#[test]
fn a_large_file_is_byte_exact() {
    let root = site();
    let body = pattern(5 * 1024 * 1024 + 17);
    std::fs::write(root.path().join("five.bin"), &body).unwrap();
    let srv = Server::start(root.path(), &["-w", "1"]);
    let r = srv.get("/five.bin");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert!(r.body == body, "body differs");
}

/// Every size a download server sees, and the sizes at the edges of each path: the
/// in-memory small file (32 KiB), `sendfile` within one turn's budget, and a body that
/// needs several turns (1 MiB per turn). Event workers take sixteen clients at once on
/// keep-alive connections, so the turns of different downloads interleave in one
/// worker; sync workers, one client each.
#[test]
fn downloads_of_every_size_arrive_byte_exact() {
    const KIB: usize = 1024;
    const SIZES: [usize; 11] = [
        0,
        1,
        32 * KIB - 1,
        32 * KIB,
        32 * KIB + 1,
        100 * KIB,
        1024 * KIB - 1,
        1024 * KIB,
        1024 * KIB + 1,
        3 * 1024 * KIB + 17,
        64 * 1024 * KIB,
    ];
    let root = site();
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        SIZES
            .iter()
            .enumerate()
            .map(|(i, &len)| pattern(len).into_iter().map(|b| b ^ i as u8).collect())
            .collect(),
    );
    for (i, body) in bodies.iter().enumerate() {
        std::fs::write(root.path().join(format!("f{i}.bin")), body).unwrap();
    }
    let srv = Server::start(root.path(), &["-w", "2", "--keepalive-timeout", "60"]);
    let sync = common::model_args().iter().any(|m| m == "sync");
    let clients: Vec<_> = (0..if sync { 2 } else { 16 })
        .map(|c| {
            let (addr, bodies) = (srv.addr, bodies.clone());
            std::thread::spawn(move || {
                let mut s = common::connect(addr);
                // Each client asks for every size, in its own order, on one connection.
                for k in 0..SIZES.len() {
                    let i = (k + c) % SIZES.len();
                    s.write_all(format!("GET /f{i}.bin HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
                        .unwrap();
                    let head = read_head(&mut s);
                    assert!(head.starts_with("HTTP/1.1 200 "), "/f{i}.bin: {head}");
                    let mut body = vec![0u8; SIZES[i]];
                    s.read_exact(&mut body).unwrap();
                    assert!(body == bodies[i], "/f{i}.bin ({} bytes) differs", SIZES[i]);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}

#[test]
fn a_file_that_shrinks_while_sent_does_not_hang_or_crash() {
    let root = site();
    let path = root.path().join("shrinking.bin");
    std::fs::write(&path, pattern(64 * 1024 * 1024)).unwrap();
    let srv = Server::start(root.path(), &["-w", "1"]);
    let workers = srv.worker_pids();
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET /shrinking.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let head = read_head(&mut s);
    assert!(head.contains("Content-Length: 67108864"), "{head}");
    // Take a little, then cut the file down while the rest is being sent.
    let mut some = vec![0u8; 1 << 20];
    s.read_exact(&mut some).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1024)
        .unwrap();
    let mut rest = Vec::new();
    // Ends by EOF (the server closes), never by our 20 s timeout.
    s.read_to_end(&mut rest)
        .expect("the server closes the connection");
    assert!((some.len() + rest.len()) < 64 * 1024 * 1024);
    assert_eq!(srv.worker_pids(), workers, "the worker survived");
    assert_eq!(srv.get("/page.html").status, 200);
}

/// A file rewritten in place (same inode: truncated, then written) within the file
/// cache's revalidation second is announced with its new length and sent whole: the
/// length in the head always equals the bytes that follow.
#[test]
fn a_file_rewritten_in_place_is_announced_with_its_new_length() {
    let root = site();
    let path = root.path().join("rewritten.bin");
    let srv = Server::start(root.path(), &["-w", "1"]);
    let mut s = common::connect(srv.addr);
    let get = b"GET /rewritten.bin HTTP/1.1\r\nHost: t\r\n\r\n";
    // Shrinks, grows, and stays the same size with new bytes; large and small files.
    let versions: [(usize, u8); 6] = [
        (2 << 20, 1),
        (1 << 20, 2),
        (3 << 20, 3),
        (3 << 20, 4),
        (20 * 1024, 5),
        (10 * 1024, 6),
    ];
    let mut file = std::fs::File::create(&path).unwrap();
    for (len, seed) in versions {
        let body: Vec<u8> = pattern(len).into_iter().map(|b| b ^ seed).collect();
        // Same inode: truncate, then write the new content.
        file.set_len(0).unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.write_all(&body).unwrap();
        s.write_all(get).unwrap();
        let r = common::read_n_responses(&mut s, 1, false).remove(0);
        assert_eq!(r.status, 200);
        let announced: usize = r.header("content-length").unwrap().parse().unwrap();
        assert_eq!(announced, r.body.len(), "the head's length is the body's");
        // A file held in memory may be served as the version it was when loaded (one
        // consistent snapshot); a large one is always the version on disk now.
        if len > 32 * 1024 || announced == len {
            assert_eq!(announced, len, "version {seed}");
            assert!(
                r.body == body,
                "version {seed}: the body is the new content"
            );
        }
    }
}
