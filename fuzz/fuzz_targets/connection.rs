//! The whole connection state machine over a real socket and a real document root.
//!
//! The input is a client byte stream, cut into writes at points the input chooses; each
//! write is followed by a `Conn::drive`, and whatever the server sent is read back. The
//! client then half-closes, the connection is driven until it wants to close, and the
//! output is checked: whole HTTP/1.1 responses, one per request (as the request parser
//! itself splits the stream), no body for HEAD and 304, nothing after
//! `Connection: close`, `Location` never leaving the origin, nothing from outside the
//! root, and the connection's buffered bytes bounded after every turn.
//!
//! Input layout:
//! - byte 0: bits 0-3 the number `n` of chunk descriptors, bit 4 `--autoindex`;
//! - then `n` descriptors of two bytes, `len` and `rep`: the next `len` payload bytes
//!   (0 = a turn without writing), written `rep >= 0xF0 ? 2^(rep-0xEF) : 1` times over
//!   (so a short input can send a long run, e.g. 64 KiB of `\r\n`);
//! - the rest of the payload is the last chunk.
//!
//! Seeds: `python3 fuzz/connection_seeds.py` writes them to `fuzz/corpus/connection/`.
#![no_main]

use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use preforkd::config::{Scheme, Symlinks};
use preforkd::config::Timeouts;
use preforkd::http::request::{MAX_HEAD, Method, Parsed, parse};
use preforkd::site::handler::Site;
use preforkd::site::root::Root;
use preforkd::worker::conn::{Conn, Context, MAX_BUFFERED, Want};
use preforkd::worker::transport::Transport;

/// Content of the file beside the root; must never reach a client.
const MARKER: &[u8] = b"OUTSIDE-ROOT-SECRET-7d1f";
/// The most client bytes one input sends (after repetition).
const MAX_STREAM: usize = 512 * 1024;
/// Turns in a row without any progress before the harness gives up on the connection.
const MAX_IDLE_TURNS: u32 = 64;
/// Turns in all, whatever happens: a server that keeps "making progress" forever is a bug.
const MAX_TURNS: u32 = 100_000;

/// Listings are buffered apart from the limit; the fixture's directories list in far
/// less than this.
const LISTING_SLACK: usize = 16 * 1024;

/// The memory bound after every turn: `Conn::buffered` stays within `MAX_BUFFERED`
/// (plus a directory listing being sent).
fn check_buffered(conn: &Conn, when: &str) {
    let b = conn.buffered();
    assert!(
        b <= MAX_BUFFERED + LISTING_SLACK,
        "memory: the connection holds {b} bytes (limit {MAX_BUFFERED} + {LISTING_SLACK} \
         for a listing) {when}"
    );
}

struct Fixture {
    listener: TcpListener,
    /// One context per `--autoindex` setting; reused across inputs like a worker does.
    contexts: [Context; 2],
}

fn write_file(path: PathBuf, content: &[u8]) {
    std::fs::write(path, content).unwrap();
}

/// Text that is recognisable in output, never begins with `HTTP/`, never holds MARKER.
fn pattern(tag: &str, len: usize) -> Vec<u8> {
    let line = format!("<{tag}> 0123456789abcdefghijklmnopqrstuvwxyz\n");
    line.bytes().cycle().take(len).collect()
}

fn context(root: &std::path::Path, autoindex: bool) -> Context {
    let site = Site::new(
        Root::open(root, Symlinks::Inside, false).unwrap(),
        Some("max-age=60".into()),
        autoindex,
    );
    let timeouts = Timeouts {
        header: Duration::from_secs(10),
        keepalive: Duration::from_secs(10),
        send: Duration::from_secs(10),
    };
    let mut ctx = Context::new(site, timeouts);
    // HTTP/1.1 only: the checks read HTTP/1.1 responses (h2_connection fuzzes HTTP/2).
    ctx.http2 = false;
    ctx
}

thread_local! {
    /// Set up once per process (libFuzzer runs inputs on one thread; `Context` is not `Send`).
    static FIXTURE: RefCell<Fixture> = RefCell::new(fixture());
}

fn fixture() -> Fixture {
    let base = std::env::temp_dir().join(format!("preforkd-fuzz-conn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("root");
    std::fs::create_dir_all(root.join("dir/sub")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    write_file(base.join("secret.txt"), MARKER);
    write_file(root.join("a.txt"), b"hello a\n");
    write_file(root.join("a.txt.gz"), b"\x1f\x8b gzip sidecar of a.txt\n");
    write_file(root.join("a.txt.br"), b"brotli sidecar of a.txt\n");
    write_file(root.join("tiny"), b"x");
    write_file(root.join("empty.txt"), b"");
    write_file(root.join("thirty.bin"), &pattern("thirty", 30 * 1024));
    write_file(root.join("edge32k.txt"), &pattern("edge", 32 * 1024));
    write_file(root.join("over32k.txt"), &pattern("over", 32 * 1024 + 1));
    write_file(root.join("large.bin"), &pattern("large", 200 * 1024));
    write_file(root.join("index.html"), b"<h1>root index</h1>\n");
    write_file(root.join("dir/index.html"), b"<h1>dir index</h1>\n");
    write_file(root.join("dir/b.css"), b"body{}\n");
    write_file(root.join("dir/sub/c.js"), b"let c;\n");
    write_file(root.join(".hidden"), b"hidden file\n");
    write_file(root.join("sp ace.txt"), b"space\n");
    let abs_secret = std::fs::canonicalize(base.join("secret.txt")).unwrap();
    let link = |target: &std::path::Path, name: &str| {
        std::os::unix::fs::symlink(target, root.join(name)).unwrap();
    };
    link("../secret.txt".as_ref(), "out-rel");
    link(&abs_secret, "out-abs");
    link("..".as_ref(), "up");
    link("../../secret.txt".as_ref(), "dir/out-deep");
    link("../up/secret.txt".as_ref(), "dir/out-via-up");
    link("a.txt".as_ref(), "in-link");
    link("dir".as_ref(), "dir-link");
    let root = std::fs::canonicalize(&root).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    Fixture {
        listener,
        contexts: [context(&root, false), context(&root, true)],
    }
}

/// How the input asks for the client stream to be written.
fn plan(data: &[u8]) -> (bool, Vec<Vec<u8>>) {
    let Some((&flags, rest)) = data.split_first() else {
        return (false, Vec::new());
    };
    let autoindex = flags & 0x10 != 0;
    let n = usize::from(flags & 0x0f).min(rest.len() / 2);
    let (descs, mut payload) = rest.split_at(2 * n);
    let mut chunks = Vec::new();
    let mut total = 0;
    for d in descs.chunks_exact(2) {
        let take = usize::from(d[0]).min(payload.len());
        let (piece, more) = payload.split_at(take);
        payload = more;
        let reps = if d[1] >= 0xF0 {
            2usize << (d[1] - 0xF0)
        } else {
            1
        };
        let len = (piece.len() * reps).min(MAX_STREAM - total);
        let mut bytes = piece.repeat(len.div_ceil(piece.len().max(1)));
        bytes.truncate(len);
        chunks.push(bytes);
        total += len;
    }
    let len = payload.len().min(MAX_STREAM - total);
    chunks.push(payload[..len].to_vec());
    (autoindex, chunks)
}

/// Reads what the client can read now; true if anything came, and whether EOF was seen.
fn read_available(client: &mut TcpStream, out: &mut Vec<u8>) -> (bool, bool) {
    let mut got = false;
    let mut buf = [0u8; 64 * 1024];
    loop {
        match client.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                got = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return (got, false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // A reset after everything sent was read: the end, as far as we care.
            Err(_) => return (got, true),
        }
    }
}

/// What the harness expects for one request, found by splitting the sent stream with
/// the server's own parser.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Request {
        head: bool,
        keep_alive: bool,
    },
    /// A head the parser refuses: an error answer, then close. The connection reads a
    /// head incrementally and parses it again only at line ends (and at its first bytes
    /// and the size limits), so a head cut off by the end of the stream may go
    /// unanswered; one that has its empty line, or passes `MAX_HEAD`, must be answered.
    Bad {
        must_answer: bool,
    },
}

fn expectations(mut stream: &[u8]) -> Vec<Expect> {
    let mut v = Vec::new();
    loop {
        match parse(stream) {
            Ok(Parsed::Complete { request, len }) => {
                v.push(Expect::Request {
                    head: request.method == Method::Head,
                    keep_alive: request.keep_alive,
                });
                let skip = (len as u64).saturating_add(request.content_length);
                let skip = usize::try_from(skip)
                    .unwrap_or(usize::MAX)
                    .min(stream.len());
                stream = &stream[skip..];
                if !request.keep_alive {
                    return v;
                }
            }
            Ok(Parsed::Partial) => return v,
            Err(_) => {
                let from = stream
                    .iter()
                    .position(|&b| b != b'\r' && b != b'\n')
                    .unwrap_or(stream.len());
                let head = &stream[from..];
                let must_answer = head.len() > MAX_HEAD
                    || find(head, b"\n\n").is_some()
                    || find(head, b"\n\r\n").is_some();
                v.push(Expect::Bad { must_answer });
                return v;
            }
        }
    }
}

/// (memmem, not `windows() == `: libFuzzer hooks every memcmp, which made a naive search
/// over a 200 KiB body most of the run time.)
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(300)])
        .escape_debug()
        .to_string()
}

/// Checks the client's output against the requests sent.
/// `timed_out`: the connection was timed out, so one last 408 may answer an unfinished head.
fn check_output(out: &[u8], sent: &[u8], timed_out: bool) {
    if let Some(i) = find(out, MARKER) {
        panic!(
            "the outside-the-root secret was sent (at byte {i}): {}",
            show(&out[i.saturating_sub(200)..])
        );
    }
    let expect = expectations(sent);
    let mut pos = 0;
    let mut n = 0;
    let mut closed = false;
    while pos < out.len() {
        let rest = &out[pos..];
        assert!(
            !closed,
            "bytes after a `Connection: close` response: {}",
            show(rest)
        );
        let Some(head_len) = find(rest, b"\r\n\r\n") else {
            panic!("response {n} has a cut-short head: {}", show(rest));
        };
        let head = &rest[..head_len];
        let text = std::str::from_utf8(head)
            .unwrap_or_else(|_| panic!("response {n}: head is not UTF-8: {}", show(head)));
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = check_status_line(status_line, n);
        let mut content_length = Vec::new();
        let (mut date, mut server, mut connection) = (0, 0, Vec::new());
        for line in lines {
            let Some((name, value)) = line.split_once(": ") else {
                panic!("response {n}: malformed field line {line:?} in {text:?}");
            };
            assert!(
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
                "response {n}: bad field name {name:?}"
            );
            assert!(
                value
                    .bytes()
                    .all(|b| (0x20..0x7f).contains(&b) || b == b'\t'),
                "response {n}: control or non-ASCII byte in field {line:?}"
            );
            match name.to_ascii_lowercase().as_str() {
                "content-length" => content_length.push(value),
                "date" => date += 1,
                "server" => server += 1,
                "connection" => connection.push(value),
                "location" => check_location(value, n),
                _ => {}
            }
        }
        assert!(
            date == 1 && server == 1 && connection.len() == 1,
            "response {n}: needs exactly one Date, Server and Connection: {text:?}"
        );
        let close = match connection[0] {
            "close" => true,
            "keep-alive" => false,
            other => panic!("response {n}: Connection: {other:?}"),
        };
        let length = match (status, content_length.as_slice()) {
            (304, []) => None,
            (_, [one]) => Some(one.parse::<u64>().unwrap_or_else(|_| {
                panic!("response {n}: Content-Length {one:?} is not a number")
            })),
            _ => panic!(
                "response {n}: {} Content-Length fields: {text:?}",
                content_length.len()
            ),
        };
        let e = match expect.get(n) {
            Some(&e) => e,
            None if timed_out && status == 408 => Expect::Bad { must_answer: false },
            None => panic!(
                "response {n} answers no request (the stream holds {} requests): {text:?}",
                expect.len()
            ),
        };
        let head_only = match e {
            Expect::Request { head, keep_alive } => {
                assert!(
                    keep_alive || close,
                    "response {n}: the request asked to close, the answer says keep-alive"
                );
                head
            }
            Expect::Bad { .. } => {
                assert!(
                    close && status >= 400,
                    "response {n}: a refused head must get an error and a close: {text:?}"
                );
                false
            }
        };
        let body = if head_only || status == 304 {
            0
        } else {
            length.unwrap_or(0)
        };
        let end = (head_len as u64 + 4).saturating_add(body);
        assert!(
            end <= rest.len() as u64,
            "response {n} is cut short: {body} body bytes promised, {} received: {text:?}",
            rest.len() - head_len - 4
        );
        pos += end as usize;
        closed = close;
        n += 1;
    }
    // Every request before the first close is answered.
    let unanswered_ok = matches!(expect.get(n), Some(Expect::Bad { must_answer: false }));
    if !closed && n < expect.len() && !unanswered_ok {
        panic!(
            "request {n} of {} got no answer (the last answer kept the connection open): {:?}",
            expect.len(),
            expect[n]
        );
    }
}

fn check_status_line(line: &str, n: usize) -> u16 {
    let ok = line.len() > 13
        && line.starts_with("HTTP/1.1 ")
        && line.as_bytes()[9..12].iter().all(u8::is_ascii_digit)
        && line.as_bytes()[12] == b' '
        && line[13..].bytes().all(|b| (0x20..0x7f).contains(&b));
    assert!(ok, "response {n}: bad status line {line:?}");
    line[9..12].parse().unwrap()
}

fn check_location(value: &str, n: usize) {
    let b = value.as_bytes();
    assert!(
        b.first() == Some(&b'/') && b.get(1) != Some(&b'/') && b.get(1) != Some(&b'\\'),
        "response {n}: Location {value:?} leaves the origin (must start with one `/`)"
    );
    assert!(
        b.iter().all(|&c| (0x21..0x7f).contains(&c)),
        "response {n}: Location {value:?} holds bytes outside visible ASCII"
    );
}

/// Connects a client and accepts its server side.
fn connect(listener: &TcpListener) -> Option<(TcpStream, TcpStream, SocketAddr)> {
    let addr = listener.local_addr().unwrap();
    let client = (0..10).find_map(|_| TcpStream::connect(addr).ok())?;
    for _ in 0..1000 {
        match listener.accept() {
            Ok((server, peer)) if peer == client.local_addr().unwrap() => {
                return Some((client, server, peer));
            }
            Ok(_) => {} // a stray connection from an earlier, aborted input
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::yield_now(),
            Err(e) => panic!("accept: {e}"),
        }
    }
    None
}

/// The harness's side of the connection.
struct Run<'a> {
    conn: Conn,
    ctx: &'a mut Context,
    client: TcpStream,
    out: Vec<u8>,
    turns: u32,
    idle: u32,
}

impl Run<'_> {
    /// One turn: drive, check memory, read what came back.
    fn turn(&mut self, progress: bool, when: &str) -> Want {
        self.turns += 1;
        assert!(
            self.turns <= MAX_TURNS,
            "more than {MAX_TURNS} turns on one input"
        );
        let want = self.conn.drive(self.ctx, Instant::now());
        check_buffered(&self.conn, when);
        let (got, _) = read_available(&mut self.client, &mut self.out);
        self.idle = if got || progress { 0 } else { self.idle + 1 };
        want
    }

    /// After too many turns without progress the server must be waiting to read (and a
    /// worker would time the connection out); waiting to write without ever writing is
    /// a bug, since the client reads everything every turn.
    fn stalled(&self, want: Want, when: &str) -> bool {
        if self.idle < MAX_IDLE_TURNS {
            return false;
        }
        assert_eq!(
            want,
            Want::Read,
            "no progress for {MAX_IDLE_TURNS} turns {when}, while the server wants {want:?}"
        );
        true
    }
}

fuzz_target!(|data: &[u8]| {
    let (autoindex, chunks) = plan(data);
    FIXTURE.with_borrow_mut(|fx| one_input(fx, autoindex, &chunks));
});

fn one_input(fx: &mut Fixture, autoindex: bool, chunks: &[Vec<u8>]) {
    let Some((client, server, peer)) = connect(&fx.listener) else {
        eprintln!("connection harness: could not connect, input skipped");
        return;
    };
    let ctx = &mut fx.contexts[usize::from(autoindex)];
    client.set_nonblocking(true).unwrap();
    // Each write leaves at once, so the server sees the input's cuts (no Nagle delay).
    client.set_nodelay(true).unwrap();
    // As a worker's accept4(SOCK_NONBLOCK) leaves it.
    server.set_nonblocking(true).unwrap();
    let conn = Conn::new(
        Transport::Plain(server),
        Scheme::Http,
        peer,
        ctx,
        Instant::now(),
    );
    let mut run = Run {
        conn,
        ctx,
        client,
        out: Vec::new(),
        turns: 0,
        idle: 0,
    };

    let mut sent = Vec::new();
    let mut want = Want::Read;
    let mut timed_out = false;
    'chunks: for chunk in chunks {
        let mut at = 0;
        loop {
            let mut wrote = false;
            if at < chunk.len() {
                match run.client.write(&chunk[at..]) {
                    Ok(n) => {
                        sent.extend_from_slice(&chunk[at..at + n]);
                        at += n;
                        wrote = n > 0;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break 'chunks, // the server is gone
                }
            }
            want = run.turn(wrote, "while the client writes");
            if want == Want::Close {
                break 'chunks;
            }
            if at >= chunk.len() {
                break;
            }
            if run.stalled(want, "while the client writes") {
                timed_out = true;
                break 'chunks;
            }
        }
    }
    if want != Want::Close && !timed_out {
        let _ = run.client.shutdown(Shutdown::Write);
        loop {
            want = run.turn(false, "after the client's FIN");
            if want == Want::Close {
                break;
            }
            if run.stalled(want, "after the client's FIN") {
                timed_out = true;
                break;
            }
        }
    }
    let Run {
        mut conn,
        ctx,
        mut client,
        mut out,
        ..
    } = run;
    if timed_out {
        // What a worker does when the deadline passes.
        conn.time_out(ctx, Instant::now());
        check_buffered(&conn, "after time_out");
    }
    read_available(&mut client, &mut out);
    conn.close();
    // The server side is closed: read to the end (EOF, or a reset once all was read).
    client.set_nonblocking(false).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 64 * 1024];
    for _ in 0..10_000 {
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                panic!("no EOF from the server 5 s after it closed")
            }
            Err(_) => break,
        }
    }
    drop(client);
    if std::env::var_os("CONNECTION_FUZZ_DUMP").is_some() {
        eprintln!(
            "--- sent {} bytes, received {} bytes:\n{}",
            sent.len(),
            out.len(),
            String::from_utf8_lossy(&out).escape_debug()
        );
    }
    check_output(&out, &sent, timed_out);
}
