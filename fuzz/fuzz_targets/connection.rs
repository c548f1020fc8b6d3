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

#[path = "shared/mod.rs"]
mod shared;

use std::cell::RefCell;
use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use preforkd::http::request::{MAX_HEAD, Method, Parsed, parse};
use preforkd::worker::conn::{Conn, Context, MAX_BUFFERED, Want};

use shared::{Fixture, Harness, LISTING_SLACK, MARKER, Pace, find, read_available, show};

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

thread_local! {
    /// Set up once per process (libFuzzer runs inputs on one thread; `Context` is not `Send`).
    /// HTTP/1.1 only: the checks read HTTP/1.1 responses (h2_connection fuzzes HTTP/2).
    static FIXTURE: RefCell<Fixture> = RefCell::new(shared::fixture("conn", false, &[]));
}

/// How the input asks for the client stream to be written.
fn plan(data: &[u8]) -> (bool, Vec<Vec<u8>>) {
    let Some((&flags, rest)) = data.split_first() else {
        return (false, Vec::new());
    };
    let autoindex = flags & 0x10 != 0;
    (autoindex, shared::chunks(usize::from(flags & 0x0f), rest))
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
                "location" => shared::check_location(value.as_bytes(), || {
                    format!("response {n}: Location {value:?}")
                }),
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

/// The harness's side of the connection.
struct Run<'a> {
    conn: Conn,
    ctx: &'a mut Context,
    client: TcpStream,
    out: Vec<u8>,
    pace: Pace,
}

impl Harness for Run<'_> {
    /// One turn: drive, check memory, read what came back.
    fn turn(&mut self, progress: bool, when: &str) -> Want {
        self.pace.turn();
        let want = self.conn.drive(self.ctx, Instant::now());
        check_buffered(&self.conn, when);
        let (got, _) = read_available(&mut self.client, &mut self.out);
        self.pace.moved(got || progress);
        want
    }

    fn pace(&self) -> &Pace {
        &self.pace
    }

    fn client(&self) -> &TcpStream {
        &self.client
    }
}

fuzz_target!(|data: &[u8]| {
    let (autoindex, chunks) = plan(data);
    FIXTURE.with_borrow_mut(|fx| one_input(fx, autoindex, &chunks));
});

fn one_input(fx: &mut Fixture, autoindex: bool, chunks: &[Vec<u8>]) {
    let ctx = &mut fx.contexts[usize::from(autoindex)];
    let Some((client, conn)) = shared::open(&fx.listener, ctx) else {
        eprintln!("connection harness: could not connect, input skipped");
        return;
    };
    let mut run = Run {
        conn,
        ctx,
        client,
        out: Vec::new(),
        pace: Pace::default(),
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
            if run.pace.stalled(want, "while the client writes") {
                timed_out = true;
                break 'chunks;
            }
        }
    }
    if want != Want::Close && !timed_out {
        (_, timed_out) = shared::half_close(&mut run);
    }
    let Run {
        mut conn,
        ctx,
        client,
        mut out,
        ..
    } = run;
    if timed_out {
        // What a worker does when the deadline passes.
        conn.time_out(ctx, Instant::now());
        check_buffered(&conn, "after time_out");
    }
    shared::close_and_drain(conn, client, &mut out, 10_000);
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
