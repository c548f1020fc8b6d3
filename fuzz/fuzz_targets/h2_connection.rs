//! The whole connection speaking HTTP/2 (RFC 9113) over a real socket and a real
//! document root: what `connection` does for HTTP/1.1.
//!
//! The client stream is the preface and a SETTINGS frame (with settings the input may
//! choose), then either raw bytes or frames built from descriptors; it is written in
//! pieces, each followed by a `Conn::drive`, and whatever the server sent is read back
//! and checked frame by frame as it comes. The client may answer the DATA it reads with
//! WINDOW_UPDATEs (so large bodies flow) or not (so the server waits for a window). The
//! client then half-closes and the connection is driven until it wants to close, or
//! makes no progress for `shared::MAX_IDLE_TURNS` turns (then it is timed out as a worker does).
//!
//! Checks: the first frame is SETTINGS; every frame is whole, of a type a server sends,
//! and no larger than the client's SETTINGS_MAX_FRAME_SIZE; every header block decodes,
//! begins with `:status`, has one `date` and one `server`, no connection-specific field,
//! a `content-length` unless 304 (and then no DATA); DATA follows its stream's HEADERS,
//! never passes the content-length, and a stream ended by END_STREAM carried exactly the
//! content-length (a HEADERS that ends the stream: HEAD, 304 or a length of 0); DATA
//! stays within the flow-control windows the client granted (counted over the client
//! bytes written before, an upper bound of what the server saw); responses only on
//! streams the client opened, at most one header block each, nothing after the stream
//! ended or the server reset it, nothing above a GOAWAY's last stream, nothing at all
//! after a GOAWAY with an error; SETTINGS ACKs and PING ACKs only answer what was sent;
//! the server's WINDOW_UPDATEs give back no more than the DATA it was sent; `location`
//! starts with one `/` and is visible ASCII; the secret beside the root never appears
//! (in any body, reassembled across DATA frames, or field); `Conn::buffered()` stays
//! within the bound of `check_buffered` after every turn (`H2_CONNECTION_ALLOW_BIG_FRAMES`
//! in the environment allows the known excess of one DATA frame of a large
//! SETTINGS_MAX_FRAME_SIZE read whole into the output).
//!
//! Input layout:
//! - byte 0: bit 0 frames mode (else raw), bit 1 `--autoindex`, bit 2 the client sends
//!   WINDOW_UPDATEs for the DATA it reads, bit 3 the prelude is written in two pieces;
//! - byte 1: the prelude's SETTINGS: bits 0-2 INITIAL_WINDOW_SIZE (`INITIAL_WINDOWS`),
//!   bits 3-4 MAX_FRAME_SIZE (`MAX_FRAMES`), bit 5 a connection WINDOW_UPDATE of 16 MiB
//!   after it, bit 6 HEADER_TABLE_SIZE 0 and ENABLE_PUSH 0 as well;
//!   (A client that has read `MAX_READ` bytes stops granting windows.)
//! - raw mode: the rest as in `connection` (byte 2: the number `n` of (len, rep) chunk
//!   descriptors in bits 0-3, then the descriptors, then the bytes);
//! - frames mode: descriptors, each an op byte (bits 0-3 the kind, see `frames`; bit 4
//!   written with the previous one; bits 5-7 a repeat count `REPEATS`) and its bytes.
//!
//! Seeds: `python3 fuzz/h2_seeds.py` writes them to `fuzz/corpus/h2_connection/`.
#![no_main]

#[path = "shared/mod.rs"]
mod shared;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use preforkd::h2::frame::{
    DEFAULT_MAX_FRAME, DEFAULT_WINDOW, HEADER_LEN, Header, MAX_MAX_FRAME, MAX_WINDOW, PREFACE,
    flag, kind, setting, unpad, write_header, write_settings, write_window_update,
};
use preforkd::h2::hpack::{DEFAULT_TABLE_SIZE, Decoder, encode_field};
use preforkd::h2::request::HeadBuilder;
use preforkd::h2::session::{MAX_CONCURRENT_STREAMS, MAX_HEADER_BLOCK, MAX_HEADER_LIST};
use preforkd::http::request::{Method, Parsed, parse};
use preforkd::worker::conn::{Conn, Context, MAX_BUFFERED, Want};

use shared::{
    Fixture, Harness, LISTING_SLACK, MARKER, MAX_STREAM, Pace, find, pattern, read_available, show,
};

/// Pause descriptors taken from one input, so turns stay far below `shared::MAX_TURNS`.
const MAX_PAUSES: usize = 256;
/// Response bytes after which the client stops granting windows (so the run ends soon).
const MAX_READ: u64 = 32 << 20;

/// What one stream's body may hold in memory while it waits to be sent: an error page
/// or multipart part heads (at most 16 parts of ~100 bytes) without `--autoindex`; a
/// directory listing with it (the fixture's list in far less than `LISTING_SLACK`).
const PIECES_SLACK: usize = 4 * 1024;
/// `HEAD_ROOM` in conn.rs: a response head's fixed fields beside its location.
const HEAD_ROOM: usize = 4 * 1024;

const INITIAL_WINDOWS: [Option<u32>; 8] = [
    None,
    Some(0),
    Some(1),
    Some(100),
    Some(16_384),
    Some(65_535),
    Some(1 << 20),
    Some(MAX_WINDOW as u32),
];
const MAX_FRAMES: [Option<u32>; 4] = [None, Some(16_384), Some(65_536), Some(MAX_MAX_FRAME)];
/// A descriptor's op byte, bits 5-7: how many times it is sent.
const REPEATS: [usize; 8] = [1, 2, 4, 8, 32, 128, 512, 4096];

const PATHS: [&str; 32] = [
    "/",
    "/a.txt",
    "/tiny",
    "/empty.txt",
    "/thirty.bin",
    "/edge32k.txt",
    "/over32k.txt",
    "/large.bin",
    "/huge.bin",
    "/dir",
    "/dir/",
    "/dir/b.css",
    "/dir/sub/c.js",
    "/dir/sub",
    "/empty",
    "/empty/",
    "/.hidden",
    "/sp%20ace.txt",
    "/out-rel",
    "/out-abs",
    "/up/secret.txt",
    "/dir/out-deep",
    "/dir/out-via-up",
    "/in-link",
    "/dir-link",
    "/dir-link/b.css",
    "/%2e%2e/secret.txt",
    "/missing",
    "//evil.example",
    "/dir/..%2f..%2fsecret.txt",
    "/a.txt?x=1",
    "*",
];
const METHODS: [&str; 4] = ["GET", "HEAD", "POST", "CONNECT"];
const RANGES: [&str; 8] = [
    "bytes=0-0",
    "bytes=0-99,200-299",
    "bytes=-5",
    "bytes=5-",
    "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,30-30,32-32",
    "bytes=99999999-",
    "bytes=1-1,0-0",
    "bytes=abc",
];
const SETTING_VALUES: [u32; 8] = [
    0,
    1,
    16_384,
    65_535,
    65_536,
    MAX_MAX_FRAME,
    MAX_WINDOW as u32,
    0x8000_0000,
];

thread_local! {
    /// Set up once per process (libFuzzer runs inputs on one thread; `Context` is not `Send`).
    /// Besides `connection`'s files, a 1 MiB one: a body far past the default windows.
    static FIXTURE: RefCell<Fixture> = RefCell::new(shared::fixture(
        "h2conn",
        true,
        &[("huge.bin", &pattern("huge", 1024 * 1024))],
    ));
}

// ---------------------------------------------------------------------------------
// The plan: what the client writes.

enum Step {
    /// Bytes written together (as far as the socket takes them).
    Write(Vec<u8>),
    /// A turn without writing.
    Pause,
    /// The client starts or stops answering DATA with WINDOW_UPDATEs.
    ToggleWindowUpdates,
}

struct Plan {
    autoindex: bool,
    window_updates: bool,
    steps: Vec<Step>,
}

fn plan(data: &[u8]) -> Option<Plan> {
    let (&flags, rest) = data.split_first()?;
    let (&settings, rest) = rest.split_first().unwrap_or((&0, &[]));
    let mut prelude = PREFACE.to_vec();
    let mut params = Vec::new();
    if let Some(w) = INITIAL_WINDOWS[usize::from(settings & 7)] {
        params.push((setting::INITIAL_WINDOW_SIZE, w));
    }
    if let Some(f) = MAX_FRAMES[usize::from(settings >> 3 & 3)] {
        params.push((setting::MAX_FRAME_SIZE, f));
    }
    if settings & 0x40 != 0 {
        params.push((setting::HEADER_TABLE_SIZE, 0));
        params.push((setting::ENABLE_PUSH, 0));
    }
    write_settings(&mut prelude, &params);
    if settings & 0x20 != 0 {
        write_window_update(&mut prelude, 0, 16 << 20);
    }
    let mut steps = Vec::new();
    if flags & 8 != 0 {
        let cut = 10.min(prelude.len());
        steps.push(Step::Write(prelude[..cut].to_vec()));
        steps.push(Step::Write(prelude[cut..].to_vec()));
    } else {
        steps.push(Step::Write(prelude));
    }
    if flags & 1 != 0 {
        frames(rest, &mut steps);
    } else {
        raw(rest, &mut steps);
    }
    Some(Plan {
        autoindex: flags & 2 != 0,
        window_updates: flags & 4 != 0,
        steps,
    })
}

/// Raw mode: `connection`'s layout.
fn raw(data: &[u8], steps: &mut Vec<Step>) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let mut chunks = shared::chunks(usize::from(n & 0x0f), rest);
    let last = chunks.pop().unwrap_or_default();
    steps.extend(chunks.into_iter().map(|bytes| {
        if bytes.is_empty() {
            Step::Pause
        } else {
            Step::Write(bytes)
        }
    }));
    steps.push(Step::Write(last));
}

/// The input's bytes, read one at a time; zeros after its end.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
}

/// A stream identifier from one byte: 1..=0xEF the odd streams 1, 3, 5, ...; 0 the
/// last one a request used; 0xF0 stream 0; 0xF1 an even stream; 0xF2 the largest;
/// others the next new stream.
fn stream_id(b: u8, last: u32) -> u32 {
    match b {
        0 => last.max(1),
        1..=0xEF => 2 * u32::from(b) - 1,
        0xF0 => 0,
        0xF1 => 2,
        0xF2 => 0x7fff_ffff,
        _ => (last + 2).min(0x7fff_ffff) | 1,
    }
}

/// An HPACK integer with an `n`-bit prefix (RFC 7541 §5.1).
fn hpack_int(out: &mut Vec<u8>, high: u8, n: u8, mut v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(high | v as u8);
        return;
    }
    out.push(high | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

fn hpack_string(out: &mut Vec<u8>, s: &[u8]) {
    hpack_int(out, 0, 7, s.len());
    out.extend_from_slice(s);
}

/// A field as a literal with incremental indexing and a literal name.
fn encode_indexed_literal(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.push(0x40);
    hpack_string(out, name);
    hpack_string(out, value);
}

/// A header block (its fragments) as HEADERS and CONTINUATION frames.
fn headers_frames(
    out: &mut Vec<u8>,
    stream: u32,
    block: &[u8],
    end_stream: bool,
    split: Option<usize>,
    pad: Option<u8>,
) {
    let piece = split.unwrap_or(DEFAULT_MAX_FRAME - 256).max(1);
    let mut pieces = block.chunks(piece).peekable();
    let first = pieces.next().unwrap_or(&[]);
    let mut flags = if end_stream { flag::END_STREAM } else { 0 };
    if pieces.peek().is_none() {
        flags |= flag::END_HEADERS;
    }
    match pad {
        Some(p) => {
            write_header(
                out,
                1 + first.len() + usize::from(p),
                kind::HEADERS,
                flags | flag::PADDED,
                stream,
            );
            out.push(p);
            out.extend_from_slice(first);
            out.resize(out.len() + usize::from(p), 0);
        }
        None => {
            write_header(out, first.len(), kind::HEADERS, flags, stream);
            out.extend_from_slice(first);
        }
    }
    while let Some(p) = pieces.next() {
        let f = if pieces.peek().is_none() {
            flag::END_HEADERS
        } else {
            0
        };
        write_header(out, p.len(), kind::CONTINUATION, f, stream);
        out.extend_from_slice(p);
    }
}

/// Frames mode: each descriptor makes a plausible frame (or a few), repeated.
fn frames(data: &[u8], steps: &mut Vec<Step>) {
    let mut input = Bytes(data);
    let mut total = 0;
    let mut last = 1u32;
    let mut pauses = 0;
    while !input.0.is_empty() && total < MAX_STREAM {
        let op = input.next();
        let reps = REPEATS[usize::from(op >> 5)];
        let merge = op & 0x10 != 0;
        let mut bytes = Vec::new();
        match op & 0x0f {
            // A request: stream, method and path, optional fields, values.
            0 => {
                let (s, m, f, v, w) = (
                    input.next(),
                    input.next(),
                    input.next(),
                    input.next(),
                    input.next(),
                );
                let base = stream_id(s, last);
                let method = METHODS[usize::from(m & 3)];
                let path = PATHS[usize::from(m >> 2 & 31)];
                let mut fields: Vec<(&[u8], Vec<u8>)> = vec![
                    (b":method", method.into()),
                    (b":scheme", b"http".to_vec()),
                    (b":path", path.into()),
                ];
                if f & 8 != 0 {
                    fields.insert(2, (b":authority", b"example.com".to_vec()));
                }
                if f & 1 != 0 {
                    fields.push((b"range", RANGES[usize::from(v & 7)].into()));
                }
                if f & 2 != 0 {
                    fields.push((b"if-none-match", b"*".to_vec()));
                }
                if f & 4 != 0 {
                    fields.push((b"accept-encoding", b"gzip, br".to_vec()));
                }
                if f & 0x10 != 0 {
                    let len = 1usize << ((v >> 3 & 15) + 2);
                    fields.push((b"x-big", vec![b'b'; len]));
                }
                if f & 0x20 != 0 {
                    let bad: &[u8] = if v & 0x80 != 0 { b"X-Upper" } else { b"connection" };
                    fields.push((bad, b"close".to_vec()));
                }
                let end_stream = m & 0x80 != 0;
                let split = (f & 0x80 != 0).then_some(usize::from(w & 0x3f) + 1);
                let pad = (f & 0x40 != 0).then_some(v);
                let indexing = w & 0x80 != 0;
                let mut block = Vec::new();
                for i in 0..reps {
                    let id = base.saturating_add(2 * i as u32);
                    if id > 0x7fff_ffff || total + bytes.len() > MAX_STREAM {
                        break;
                    }
                    block.clear();
                    if w & 0x40 != 0 && i == 0 {
                        // A dynamic table size update to 0 (evicting all), then back.
                        block.push(0x20);
                        hpack_int(&mut block, 0x20, 5, DEFAULT_TABLE_SIZE);
                    }
                    if indexing && i > 0 {
                        // References to the entries the first one added.
                        let n = fields.len();
                        for j in 0..n {
                            hpack_int(&mut block, 0x80, 7, 62 + (n - 1 - j));
                        }
                    } else {
                        for (name, value) in &fields {
                            if indexing {
                                encode_indexed_literal(name, value, &mut block);
                            } else {
                                encode_field(name, value, &mut block);
                            }
                        }
                    }
                    headers_frames(&mut bytes, id, &block, end_stream, split, pad);
                    last = id;
                }
            }
            // DATA: stream, length, flags.
            1 => {
                let (s, l, fl) = (input.next(), input.next(), input.next());
                let id = stream_id(s, last);
                let len = match l {
                    255 => DEFAULT_MAX_FRAME,
                    254 => DEFAULT_MAX_FRAME + 1,
                    _ => usize::from(l) * 32,
                };
                let mut flags = fl & flag::END_STREAM;
                let mut frame = Vec::new();
                if fl & 2 != 0 && len > 0 {
                    flags |= flag::PADDED;
                    write_header(&mut frame, len, kind::DATA, flags, id);
                    let pad = (fl >> 2).min((len - 1) as u8);
                    frame.push(pad);
                    frame.resize(HEADER_LEN + len, b'p');
                } else {
                    write_header(&mut frame, len, kind::DATA, flags, id);
                    frame.resize(HEADER_LEN + len, b'd');
                }
                repeat_into(&mut bytes, &frame, reps, total);
            }
            // WINDOW_UPDATE: stream, increment (bit 7 of the second byte: stream 0).
            2 => {
                let (s, e) = (input.next(), input.next());
                let id = if e & 0x80 != 0 { 0 } else { stream_id(s, last) };
                let k = u32::from(e & 31);
                let inc = match k {
                    31 => 0x7fff_ffff,
                    0 => 0,
                    _ if e & 0x40 != 0 => (1u32 << k) - 1,
                    _ => 1u32 << k,
                };
                let mut frame = Vec::new();
                write_window_update(&mut frame, id, inc);
                repeat_into(&mut bytes, &frame, reps, total);
            }
            // RST_STREAM: stream, code.
            3 => {
                let (s, c) = (input.next(), input.next());
                let id = stream_id(s, last);
                let mut frame = Vec::new();
                write_header(&mut frame, 4, kind::RST_STREAM, 0, id);
                frame.extend_from_slice(&u32::from(c & 0x0f).to_be_bytes());
                repeat_into(&mut bytes, &frame, reps, total);
            }
            // PING: opaque byte (bit 7: an ACK).
            4 => {
                let p = input.next();
                let mut frame = Vec::new();
                let flags = if p & 0x80 != 0 { flag::ACK } else { 0 };
                write_header(&mut frame, 8, kind::PING, flags, 0);
                frame.extend_from_slice(&[p; 8]);
                repeat_into(&mut bytes, &frame, reps, total);
            }
            // SETTINGS: parameter (0xFF: an ACK; bit 7: a bad length), value.
            5 => {
                let (a, b) = (input.next(), input.next());
                let mut frame = Vec::new();
                if a == 0xFF {
                    write_header(&mut frame, 0, kind::SETTINGS, flag::ACK, 0);
                } else {
                    let id = u16::from(a & 7);
                    let value = SETTING_VALUES[usize::from(b & 7)];
                    if a & 0x80 != 0 {
                        write_header(&mut frame, 5, kind::SETTINGS, 0, 0);
                        frame.extend_from_slice(&[0, 0, 0, 0, 0]);
                    } else {
                        write_settings(&mut frame, &[(id, value)]);
                    }
                }
                repeat_into(&mut bytes, &frame, reps, total);
            }
            // PRIORITY: stream, dependency (bit 0: a bad length).
            6 => {
                let (s, b) = (input.next(), input.next());
                let id = stream_id(s, last);
                let len = if b & 1 != 0 { 4 } else { 5 };
                let mut frame = Vec::new();
                write_header(&mut frame, len, kind::PRIORITY, 0, id);
                frame.extend_from_slice(&[0, 0, 0, b >> 1, 16][..len]);
                repeat_into(&mut bytes, &frame, reps, total);
            }
            // GOAWAY: code.
            7 => {
                let c = input.next();
                let mut frame = Vec::new();
                write_header(&mut frame, 8, kind::GOAWAY, 0, 0);
                frame.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, c & 0x0f]);
                repeat_into(&mut bytes, &frame, reps, total);
            }
            // Any frame: type, flags, stream, length, payload from the input.
            8 | 14 => {
                let (t, fl, s, l) = (input.next(), input.next(), input.next(), input.next());
                let t = if op & 0x0f == 14 { kind::CONTINUATION } else { t };
                let payload = input.take(usize::from(l));
                let mut frame = Vec::new();
                write_header(&mut frame, payload.len(), t, fl, stream_id(s, last));
                frame.extend_from_slice(payload);
                repeat_into(&mut bytes, &frame, reps, total);
            }
            // Raw bytes.
            9 | 15 => {
                let l = input.next();
                let raw = input.take(usize::from(l)).to_vec();
                repeat_into(&mut bytes, &raw, reps, total);
            }
            // Trailers: stream, END_STREAM (bit 0).
            10 => {
                let (s, b) = (input.next(), input.next());
                let mut block = Vec::new();
                encode_field(b"x-trailer", b"1", &mut block);
                let mut frame = Vec::new();
                headers_frames(&mut frame, stream_id(s, last), &block, b & 1 != 0, None, None);
                repeat_into(&mut bytes, &frame, reps, total);
            }
            // A header block from the input: stream, flags, length, the block.
            11 => {
                let (s, fl, l) = (input.next(), input.next(), input.next());
                let id = stream_id(s, last);
                let block = input.take(usize::from(l));
                let mut frame = Vec::new();
                write_header(&mut frame, block.len(), kind::HEADERS, fl & 0x05, id);
                frame.extend_from_slice(block);
                repeat_into(&mut bytes, &frame, reps, total);
                if id & 1 == 1 && id > last {
                    last = id;
                }
            }
            // Turns without writing (at most `MAX_PAUSES` in all: each costs a turn).
            12 => {
                let n = reps.min(64).min(MAX_PAUSES - pauses);
                pauses += n;
                steps.extend((0..n).map(|_| Step::Pause));
                continue;
            }
            _ => {
                steps.push(Step::ToggleWindowUpdates);
                continue;
            }
        }
        total += bytes.len();
        match steps.last_mut() {
            Some(Step::Write(prev)) if merge => prev.extend_from_slice(&bytes),
            _ => steps.push(Step::Write(bytes)),
        }
    }
}

fn repeat_into(out: &mut Vec<u8>, frame: &[u8], reps: usize, total: usize) {
    for _ in 0..reps {
        if total + out.len() + frame.len() > MAX_STREAM {
            break;
        }
        out.extend_from_slice(frame);
    }
}

// ---------------------------------------------------------------------------------
// The client's side, as written: what the server can have seen.

/// What the server answers a request with, as its own code decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// HEAD that parses: a head only, never a body.
    Head,
    /// An answer that may have a body.
    Body,
    /// Malformed: RST_STREAM, no answer.
    Malformed,
}

struct ClientSide {
    /// Bytes written and not yet parsed into frames.
    pending: Vec<u8>,
    preface_left: usize,
    /// A frame the server certainly fails on was written: stop following.
    dead: bool,
    /// The header block being written: stream, opens a request, its fragments.
    block: Option<(u32, bool, Vec<u8>)>,
    decoder: Decoder,
    builder: HeadBuilder,
    head: Vec<u8>,
    last_opened: u32,
    /// Requests by stream.
    requests: HashMap<u32, Class>,
    /// PRIORITY frames of a bad length for a stream not yet opened (a FRAME_SIZE
    /// RST_STREAM may answer each, before the stream opens).
    idle_rst: HashMap<u32, u32>,
    max_frame: usize,
    max_initial: i64,
    conn_granted: i64,
    stream_granted: HashMap<u32, i64>,
    settings: usize,
    pings: HashSet<[u8; 8]>,
    data_sent: u64,
    max_block: usize,
    max_head: usize,
}

impl ClientSide {
    fn new() -> ClientSide {
        ClientSide {
            pending: Vec::new(),
            preface_left: PREFACE.len(),
            dead: false,
            block: None,
            decoder: Decoder::new(DEFAULT_TABLE_SIZE),
            builder: HeadBuilder::default(),
            head: Vec::new(),
            last_opened: 0,
            requests: HashMap::new(),
            idle_rst: HashMap::new(),
            max_frame: DEFAULT_MAX_FRAME,
            max_initial: DEFAULT_WINDOW,
            conn_granted: DEFAULT_WINDOW,
            stream_granted: HashMap::new(),
            settings: 0,
            pings: HashSet::new(),
            data_sent: 0,
            max_block: 0,
            max_head: 0,
        }
    }

    /// Where the client may put a frame of its own without cutting one of the input's.
    fn at_boundary(&self) -> bool {
        !self.dead && self.preface_left == 0 && self.pending.is_empty() && self.block.is_none()
    }

    fn wrote(&mut self, bytes: &[u8]) {
        if self.dead {
            return;
        }
        let mut bytes = bytes;
        if self.preface_left > 0 {
            let n = self.preface_left.min(bytes.len());
            self.preface_left -= n;
            bytes = &bytes[n..];
        }
        self.pending.extend_from_slice(bytes);
        let mut pos = 0;
        while let Some(h) = Header::parse(&self.pending[pos..]) {
            if h.len > DEFAULT_MAX_FRAME {
                self.dead = true;
                break;
            }
            let end = pos + HEADER_LEN + h.len;
            if end > self.pending.len() {
                break;
            }
            let payload = self.pending[pos + HEADER_LEN..end].to_vec();
            pos = end;
            self.frame(h, &payload);
            if self.dead {
                break;
            }
        }
        self.pending.drain(..pos);
        if self.dead {
            self.pending.clear();
        }
    }

    fn frame(&mut self, h: Header, payload: &[u8]) {
        if let Some((stream, _, _)) = &self.block
            && (h.kind != kind::CONTINUATION || h.stream != *stream)
        {
            self.dead = true;
            return;
        }
        match h.kind {
            kind::SETTINGS if h.stream == 0 && !h.has(flag::ACK) && payload.len() % 6 == 0 => {
                self.settings += 1;
                for p in payload.chunks_exact(6) {
                    let id = u16::from_be_bytes([p[0], p[1]]);
                    let value = u32::from_be_bytes([p[2], p[3], p[4], p[5]]);
                    match id {
                        setting::INITIAL_WINDOW_SIZE if i64::from(value) <= MAX_WINDOW => {
                            self.max_initial = self.max_initial.max(i64::from(value));
                        }
                        setting::MAX_FRAME_SIZE if value <= MAX_MAX_FRAME => {
                            self.max_frame = self.max_frame.max(value as usize);
                        }
                        _ => {}
                    }
                }
            }
            kind::WINDOW_UPDATE if payload.len() == 4 => {
                let inc = i64::from(
                    u32::from_be_bytes(payload.try_into().unwrap()) & 0x7fff_ffff,
                );
                if h.stream == 0 {
                    self.conn_granted += inc;
                } else {
                    *self.stream_granted.entry(h.stream).or_default() += inc;
                }
            }
            kind::PING if !h.has(flag::ACK) && payload.len() == 8 => {
                self.pings.insert(payload.try_into().unwrap());
            }
            kind::DATA => self.data_sent += h.len as u64,
            kind::PRIORITY if h.len != 5 && h.stream > self.last_opened => {
                *self.idle_rst.entry(h.stream).or_default() += 1;
            }
            kind::HEADERS => {
                if h.stream == 0 || h.stream % 2 == 0 {
                    self.dead = true;
                    return;
                }
                let Some(mut fragment) = unpad(&h, payload) else {
                    self.dead = true;
                    return;
                };
                if h.has(flag::PRIORITY) {
                    let Some(f) = fragment.get(5..) else {
                        self.dead = true;
                        return;
                    };
                    fragment = f;
                }
                let new = h.stream > self.last_opened;
                if new {
                    self.last_opened = h.stream;
                }
                self.block = Some((h.stream, new, Vec::new()));
                self.fragment(fragment, h.has(flag::END_HEADERS));
            }
            kind::CONTINUATION => {
                if self.block.is_none() {
                    self.dead = true;
                    return;
                }
                self.fragment(payload, h.has(flag::END_HEADERS));
            }
            _ => {}
        }
    }

    fn fragment(&mut self, piece: &[u8], end: bool) {
        let Some((stream, new, block)) = self.block.as_mut() else {
            return;
        };
        if block.len() + piece.len() > MAX_HEADER_BLOCK {
            self.dead = true;
            return;
        }
        block.extend_from_slice(piece);
        self.max_block = self.max_block.max(block.len());
        if !end {
            return;
        }
        let (stream, new, block) = (*stream, *new, std::mem::take(block));
        self.block = None;
        self.builder.reset();
        let builder = &mut self.builder;
        let Ok(complete) = self
            .decoder
            .decode(&block, MAX_HEADER_LIST, |n, v| builder.field(n, v))
        else {
            // COMPRESSION_ERROR: the server ends the connection here.
            self.dead = true;
            return;
        };
        if !new {
            return;
        }
        let class = if !complete {
            Class::Body
        } else if self.builder.finish(&mut self.head).is_err() {
            Class::Malformed
        } else {
            self.max_head = self.max_head.max(self.head.len());
            match parse(&self.head) {
                Ok(Parsed::Complete { request, .. }) if request.method == Method::Head => {
                    Class::Head
                }
                _ => Class::Body,
            }
        };
        self.requests.insert(stream, class);
    }
}

// ---------------------------------------------------------------------------------
// The server's side, as read.

#[derive(Default)]
struct Resp {
    /// The response's header block was read.
    answered: bool,
    status: u16,
    length: Option<u64>,
    got: u64,
    ended: bool,
    reset: bool,
    /// The last body bytes, to find MARKER cut across DATA frames.
    tail: Vec<u8>,
    /// Body bytes read and not yet given back by a WINDOW_UPDATE (auto mode).
    unacked: u64,
}

struct ServerSide {
    buf: Vec<u8>,
    frames: usize,
    /// A header block being read: stream, END_STREAM, fragments.
    block: Option<(u32, bool, Vec<u8>)>,
    decoder: Decoder,
    streams: HashMap<u32, Resp>,
    conn_data: i64,
    conn_unacked: u64,
    goaway_last: Option<u32>,
    error_goaway: bool,
    settings_acks: usize,
    window_given: u64,
    /// The same for stream-level WINDOW_UPDATEs, all streams together.
    stream_window_given: u64,
}

impl ServerSide {
    fn new() -> ServerSide {
        ServerSide {
            buf: Vec::new(),
            frames: 0,
            block: None,
            decoder: Decoder::new(DEFAULT_TABLE_SIZE),
            streams: HashMap::new(),
            conn_data: 0,
            conn_unacked: 0,
            goaway_last: None,
            error_goaway: false,
            settings_acks: 0,
            window_given: 0,
            stream_window_given: 0,
        }
    }

    /// Checks the whole frames read so far.
    fn read(&mut self, bytes: &[u8], c: &mut ClientSide) {
        if bytes.is_empty() {
            return;
        }
        assert!(
            !self.error_goaway,
            "{} bytes after a GOAWAY with an error: {}",
            bytes.len(),
            show(bytes)
        );
        self.buf.extend_from_slice(bytes);
        let mut pos = 0;
        while let Some(h) = Header::parse(&self.buf[pos..]) {
            let end = pos + HEADER_LEN + h.len;
            if end > self.buf.len() {
                break;
            }
            let payload = self.buf[pos + HEADER_LEN..end].to_vec();
            pos = end;
            self.frame(h, &payload, c);
            assert!(
                !self.error_goaway || pos == self.buf.len(),
                "frames after a GOAWAY with an error: {}",
                show(&self.buf[pos..])
            );
        }
        self.buf.drain(..pos);
    }

    fn frame(&mut self, h: Header, payload: &[u8], c: &mut ClientSide) {
        let n = self.frames;
        if dump() {
            eprintln!("frame {n}: {h:?} {}", show(&payload[..payload.len().min(40)]));
        }
        self.frames += 1;
        assert!(
            h.len <= c.max_frame,
            "frame {n} ({h:?}) is larger than the client's SETTINGS_MAX_FRAME_SIZE {}",
            c.max_frame
        );
        if n == 0 {
            assert!(
                h.kind == kind::SETTINGS && !h.has(flag::ACK) && h.stream == 0 && h.len % 6 == 0,
                "the first frame is not the server's SETTINGS: {h:?}"
            );
            return;
        }
        if let Some((stream, _, _)) = &self.block {
            assert!(
                h.kind == kind::CONTINUATION && h.stream == *stream,
                "frame {n} ({h:?}) inside the header block of stream {stream}"
            );
        }
        match h.kind {
            kind::SETTINGS => {
                assert!(
                    h.has(flag::ACK) && h.len == 0 && h.stream == 0,
                    "frame {n}: a second SETTINGS that is not an empty ACK: {h:?}"
                );
                self.settings_acks += 1;
                assert!(
                    self.settings_acks <= c.settings,
                    "{} SETTINGS ACKs for {} SETTINGS sent",
                    self.settings_acks,
                    c.settings
                );
            }
            kind::PING => {
                assert!(
                    h.has(flag::ACK) && h.stream == 0 && h.len == 8,
                    "frame {n}: a PING that is not an ACK: {h:?}"
                );
                assert!(
                    c.pings.contains(payload),
                    "frame {n}: a PING ACK for no PING sent: {payload:?}"
                );
            }
            kind::WINDOW_UPDATE => {
                assert!(h.len == 4, "frame {n}: {h:?}");
                let inc = u32::from_be_bytes(payload.try_into().unwrap());
                assert!(
                    inc > 0 && inc <= 0x7fff_ffff,
                    "frame {n}: WINDOW_UPDATE of {inc}"
                );
                // A stream's window is given back while its request's body is awaited;
                // the sum over streams, like the connection's, never passes the DATA
                // the client sent.
                let given = if h.stream == 0 {
                    &mut self.window_given
                } else {
                    &mut self.stream_window_given
                };
                *given += u64::from(inc);
                assert!(
                    *given <= c.data_sent,
                    "the server gave back {} bytes of window for {} bytes of DATA sent",
                    *given,
                    c.data_sent
                );
            }
            kind::RST_STREAM => {
                assert!(h.stream != 0 && h.len == 4, "frame {n}: {h:?}");
                let code = u32::from_be_bytes(payload.try_into().unwrap());
                if code == 0x6
                    && let Some(k) = c.idle_rst.get_mut(&h.stream)
                    && *k > 0
                {
                    // A bad PRIORITY for a stream not yet opened.
                    *k -= 1;
                    return;
                }
                let s = self.streams.entry(h.stream).or_default();
                s.reset = true;
            }
            kind::GOAWAY => {
                assert!(h.stream == 0 && h.len == 8, "frame {n}: {h:?}");
                let last = u32::from_be_bytes(payload[..4].try_into().unwrap());
                let code = u32::from_be_bytes(payload[4..].try_into().unwrap());
                assert!(
                    last <= c.last_opened,
                    "GOAWAY names stream {last}, above the last the client opened ({})",
                    c.last_opened
                );
                if let Some(prev) = self.goaway_last {
                    assert!(last <= prev, "a second GOAWAY raises the last stream");
                }
                self.goaway_last = Some(last);
                self.error_goaway = code != 0;
            }
            kind::HEADERS => {
                assert!(
                    !h.has(flag::PADDED) && !h.has(flag::PRIORITY),
                    "frame {n}: {h:?}"
                );
                self.begin_response(h, c);
                self.block = Some((h.stream, h.has(flag::END_STREAM), payload.to_vec()));
                if h.has(flag::END_HEADERS) {
                    self.end_block(c);
                }
            }
            kind::CONTINUATION => {
                let Some((_, _, block)) = self.block.as_mut() else {
                    panic!("frame {n}: CONTINUATION without a header block: {h:?}");
                };
                block.extend_from_slice(payload);
                if h.has(flag::END_HEADERS) {
                    self.end_block(c);
                }
            }
            kind::DATA => self.data(h, payload, c),
            other => panic!("frame {n}: a frame of type {other:#x} from a server: {h:?}"),
        }
    }

    fn begin_response(&mut self, h: Header, c: &ClientSide) {
        let id = h.stream;
        assert!(
            c.requests.contains_key(&id),
            "HEADERS on stream {id}, which the client did not open with a request"
        );
        assert_ne!(
            c.requests[&id],
            Class::Malformed,
            "stream {id}: a malformed request was answered"
        );
        if let Some(last) = self.goaway_last {
            assert!(
                id <= last,
                "HEADERS on stream {id}, above the GOAWAY's last stream {last}"
            );
        }
        let s = self.streams.entry(id).or_default();
        assert!(!s.reset, "HEADERS on stream {id} after its RST_STREAM");
        assert!(!s.answered, "a second header block on stream {id}");
        s.answered = true;
    }

    fn end_block(&mut self, c: &ClientSide) {
        let (id, end_stream, block) = self.block.take().unwrap();
        let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let all = self
            .decoder
            .decode(&block, usize::MAX, |n, v| fields.push((n.to_vec(), v.to_vec())))
            .unwrap_or_else(|_| panic!("stream {id}: the response's header block does not decode"));
        assert!(all, "stream {id}: fields dropped");
        let text = || {
            fields
                .iter()
                .map(|(n, v)| format!("{}: {}", show(n), show(v)))
                .collect::<Vec<_>>()
                .join(" | ")
        };
        assert!(
            fields.first().is_some_and(|(n, _)| n == b":status"),
            "stream {id}: `:status` is not first: {}",
            text()
        );
        let status_value = &fields[0].1;
        assert!(
            status_value.len() == 3 && status_value.iter().all(u8::is_ascii_digit),
            "stream {id}: :status {}",
            show(status_value)
        );
        let status: u16 = std::str::from_utf8(status_value).unwrap().parse().unwrap();
        assert!((100..600).contains(&status), "stream {id}: :status {status}");
        let (mut date, mut server, mut lengths) = (0, 0, Vec::new());
        for (name, value) in &fields[1..] {
            assert!(
                !name.is_empty()
                    && name
                        .iter()
                        .all(|&b| preforkd::http::syntax::is_tchar(b) && !b.is_ascii_uppercase()),
                "stream {id}: bad field name {}",
                show(name)
            );
            assert!(
                value.iter().all(|&b| (0x20..0x7f).contains(&b) || b == b'\t'),
                "stream {id}: control or non-ASCII byte in {}: {}",
                show(name),
                show(value)
            );
            if let Some(i) = find(value, MARKER) {
                panic!("stream {id}: the secret in a field (at {i}): {}", show(value));
            }
            match name.as_slice() {
                b"date" => date += 1,
                b"server" => server += 1,
                b"content-length" => lengths.push(value.clone()),
                b"location" => shared::check_location(value, || {
                    format!("stream {id}: location {}", show(value))
                }),
                b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding"
                | b"upgrade" => panic!("stream {id}: connection-specific field: {}", text()),
                _ => {}
            }
        }
        assert!(
            date == 1 && server == 1,
            "stream {id}: needs exactly one date and server: {}",
            text()
        );
        let length = match (status, lengths.as_slice()) {
            (304, []) => None,
            (304, _) => panic!("stream {id}: a 304 with a content-length: {}", text()),
            (_, [one]) => Some(
                std::str::from_utf8(one)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .unwrap_or_else(|| panic!("stream {id}: content-length {}", show(one))),
            ),
            _ => panic!(
                "stream {id}: {} content-length fields: {}",
                lengths.len(),
                text()
            ),
        };
        if end_stream {
            let head = c.requests.get(&id) == Some(&Class::Head);
            assert!(
                status == 304 || length == Some(0) || head,
                "stream {id}: the header block ends the stream, but the response to a \
                 request that is not HEAD promises a body: {}",
                text()
            );
        }
        let s = self.streams.get_mut(&id).unwrap();
        s.status = status;
        s.length = length;
        s.ended = end_stream;
    }

    fn data(&mut self, h: Header, payload: &[u8], c: &ClientSide) {
        let id = h.stream;
        assert!(
            !h.has(flag::PADDED),
            "stream {id}: padded DATA from the server"
        );
        let s = self.streams.entry(id).or_default();
        assert!(s.answered, "stream {id}: DATA before its HEADERS");
        assert!(!s.reset, "stream {id}: DATA after the server reset it");
        assert!(!s.ended, "stream {id}: DATA after END_STREAM");
        assert_ne!(
            c.requests.get(&id),
            Some(&Class::Head),
            "stream {id}: DATA answering a HEAD request"
        );
        let Some(length) = s.length else {
            panic!("stream {id}: DATA on a 304");
        };
        s.got += payload.len() as u64;
        assert!(
            s.got <= length,
            "stream {id}: {} body bytes for a content-length of {length}",
            s.got
        );
        // Flow control: what the client granted, as an upper bound of what the server saw.
        let stream_limit = c.max_initial + c.stream_granted.get(&id).copied().unwrap_or(0);
        assert!(
            s.got as i64 <= stream_limit,
            "stream {id}: {} bytes of DATA, beyond the stream's window: initial at most {} \
             plus {} granted",
            s.got,
            c.max_initial,
            stream_limit - c.max_initial
        );
        self.conn_data += payload.len() as i64;
        assert!(
            self.conn_data <= c.conn_granted,
            "{} bytes of DATA on the connection, beyond its window ({} granted)",
            self.conn_data,
            c.conn_granted
        );
        s.tail.extend_from_slice(payload);
        if let Some(i) = find(&s.tail, MARKER) {
            panic!(
                "stream {id}: the outside-the-root secret was sent: {}",
                show(&s.tail[i.saturating_sub(100)..])
            );
        }
        let keep = MARKER.len() - 1;
        if s.tail.len() > keep {
            s.tail.drain(..s.tail.len() - keep);
        }
        s.unacked += payload.len() as u64;
        self.conn_unacked += payload.len() as u64;
        if h.has(flag::END_STREAM) {
            s.ended = true;
            assert!(
                s.got == length,
                "stream {id}: ended after {} body bytes of {length}",
                s.got
            );
        }
    }

    /// The WINDOW_UPDATEs a client that keeps reading sends now.
    fn window_updates(&mut self, c: &ClientSide) -> Vec<u8> {
        let mut out = Vec::new();
        // Generous increments (at least 32 KiB), so a tiny initial window still flows
        // in few turns; never past the largest window (the server is right to fail).
        let room = |granted: i64, used: i64, want: u64| {
            let inc = (want.max(32 * 1024)) as i64;
            (want > 0 && granted - used + inc <= MAX_WINDOW).then_some(inc as u32)
        };
        if let Some(inc) = room(c.conn_granted, self.conn_data, self.conn_unacked) {
            write_window_update(&mut out, 0, inc);
            self.conn_unacked = 0;
        }
        let mut ids: Vec<u32> = self
            .streams
            .iter()
            .filter(|(_, s)| s.unacked > 0)
            .map(|(&id, _)| id)
            .collect();
        ids.sort_unstable();
        for id in ids {
            let s = self.streams.get_mut(&id).unwrap();
            if s.ended || s.reset || s.unacked == 0 {
                continue;
            }
            let granted = c.max_initial + c.stream_granted.get(&id).copied().unwrap_or(0);
            if let Some(inc) = room(granted, s.got as i64, s.unacked) {
                write_window_update(&mut out, id, inc);
                s.unacked = 0;
            }
        }
        out
    }

    /// Requests with no answer read yet, and streams that may still hold a body.
    fn open_counts(&self, c: &ClientSide) -> (usize, usize) {
        let (mut unanswered, mut bodies) = (0, 0);
        for (id, class) in &c.requests {
            let s = self.streams.get(id);
            let done = s.is_some_and(|s| s.ended || s.reset);
            if *class != Class::Malformed && !done && !s.is_some_and(|s| s.answered) {
                unanswered += 1;
            }
            if *class == Class::Body && !done {
                bodies += 1;
            }
        }
        (unanswered, bodies)
    }
}

/// The memory bound after every turn. HTTP/1.1's `MAX_BUFFERED` covers the input and
/// output buffers (an HTTP/2 read is one `READ_CHUNK` and the input holds at most one
/// unfinished frame besides; DATA is gathered into the output up to `COPY_PIECE`, one
/// frame past it at most); an HTTP/2 connection holds besides, each bounded by what the
/// client sent so far (all capacities, which grow by doubling, so at most twice the
/// longest content):
/// - the HPACK table, `DEFAULT_TABLE_SIZE`;
/// - the header block being received (at most twice the longest block sent);
/// - request heads: up to 4 spare ones and those waiting for an answer (at most
///   `MAX_CONCURRENT_STREAMS`), each at most twice the longest head the client's fields
///   make (computed with the server's own `HeadBuilder`);
/// - the response's header block: `HEAD_ROOM` and a location of at most three times a
///   request target;
/// - per stream whose body may wait (a non-HEAD request not yet seen ended; at most
///   twice `MAX_CONCURRENT_STREAMS`: streams reset by the client leave theirs until the
///   next pass), `PIECES_SLACK` or, with `--autoindex`, `LISTING_SLACK`.
/// `H2_CONNECTION_FUZZ_DUMP` in the environment: print each frame read and each turn's
/// memory (to read what a crash input does).
fn dump() -> bool {
    use std::sync::OnceLock;
    static DUMP: OnceLock<bool> = OnceLock::new();
    *DUMP.get_or_init(|| std::env::var_os("H2_CONNECTION_FUZZ_DUMP").is_some())
}

fn allow_big_frames() -> bool {
    use std::sync::OnceLock;
    static ALLOW: OnceLock<bool> = OnceLock::new();
    *ALLOW.get_or_init(|| std::env::var_os("H2_CONNECTION_ALLOW_BIG_FRAMES").is_some())
}

fn check_buffered(conn: &Conn, c: &ClientSide, s: &ServerSide, autoindex: bool, when: &str) {
    let b = conn.buffered();
    let (unanswered, bodies) = s.open_counts(c);
    if dump() {
        eprintln!("buffered {b} unanswered {unanswered} bodies {bodies} frames {} {when}", s.frames);
    }
    let max_streams = MAX_CONCURRENT_STREAMS as usize;
    let heads = (4 + unanswered.min(max_streams)) * 2 * (c.max_head + 64);
    let response_block = 2 * (HEAD_ROOM + 3 * c.max_head + 256);
    let per_stream = if autoindex {
        LISTING_SLACK
    } else {
        PIECES_SLACK
    };
    let pieces = bodies.min(2 * max_streams) * per_stream;
    let mut slack = DEFAULT_TABLE_SIZE + 2 * c.max_block + heads + response_block + pieces;
    if allow_big_frames() {
        // Known: one DATA frame is read whole into the output, however large the client's
        // SETTINGS_MAX_FRAME_SIZE (up to 16 MiB); this lets a run look past it.
        slack += 2 * c.max_frame.saturating_sub(DEFAULT_MAX_FRAME);
    }
    assert!(
        b <= MAX_BUFFERED + slack,
        "memory: the connection holds {b} bytes, beyond {MAX_BUFFERED} + {slack} (table \
         {DEFAULT_TABLE_SIZE}, block 2 x {}, heads {heads} for {unanswered} unanswered of \
         at most {} bytes, response block {response_block}, bodies {pieces} for {bodies} \
         streams) {when}",
        c.max_block,
        c.max_head
    );
}

// ---------------------------------------------------------------------------------
// The run.

struct Run<'a> {
    conn: Conn,
    ctx: &'a mut Context,
    autoindex: bool,
    client: TcpStream,
    cs: ClientSide,
    ss: ServerSide,
    /// The client's own WINDOW_UPDATEs, written before the input's next bytes.
    urgent: Vec<u8>,
    window_updates: bool,
    eof: bool,
    read_total: u64,
    write_failed: bool,
    pace: Pace,
    scratch: Vec<u8>,
}

impl Run<'_> {
    /// Writes what it can of `bytes` (after any urgent bytes); how many of `bytes`.
    fn write(&mut self, bytes: &[u8]) -> (usize, bool) {
        let mut wrote_any = false;
        while !self.urgent.is_empty() {
            match self.client.write(&self.urgent) {
                Ok(n) => {
                    let sent: Vec<u8> = self.urgent.drain(..n).collect();
                    self.cs.wrote(&sent);
                    wrote_any |= n > 0;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return (0, wrote_any),
                Err(_) => {
                    self.write_failed = true;
                    return (0, wrote_any);
                }
            }
        }
        if bytes.is_empty() {
            return (0, wrote_any);
        }
        match self.client.write(bytes) {
            Ok(n) => {
                self.cs.wrote(&bytes[..n]);
                (n, wrote_any || n > 0)
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                (0, wrote_any)
            }
            Err(_) => {
                self.write_failed = true;
                (0, wrote_any)
            }
        }
    }
}

impl Harness for Run<'_> {
    /// One turn: drive, read and check what came back, check memory.
    fn turn(&mut self, progress: bool, when: &str) -> Want {
        self.pace.turn();
        let want = self.conn.drive(self.ctx, Instant::now());
        self.scratch.clear();
        let (got, eof) = read_available(&mut self.client, &mut self.scratch);
        self.read_total += self.scratch.len() as u64;
        if self.read_total > MAX_READ {
            self.window_updates = false;
        }
        self.eof |= eof;
        let bytes = std::mem::take(&mut self.scratch);
        self.ss.read(&bytes, &mut self.cs);
        self.scratch = bytes;
        check_buffered(&self.conn, &self.cs, &self.ss, self.autoindex, when);
        if self.window_updates && self.cs.at_boundary() && self.urgent.is_empty() {
            self.urgent = self.ss.window_updates(&self.cs);
        }
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
    let Some(plan) = plan(data) else {
        return;
    };
    FIXTURE.with_borrow_mut(|fx| one_input(fx, plan));
});

fn one_input(fx: &mut Fixture, plan: Plan) {
    let ctx = &mut fx.contexts[usize::from(plan.autoindex)];
    let Some((client, conn)) = shared::open(&fx.listener, ctx) else {
        eprintln!("h2 connection harness: could not connect, input skipped");
        return;
    };
    let mut run = Run {
        conn,
        ctx,
        autoindex: plan.autoindex,
        client,
        cs: ClientSide::new(),
        ss: ServerSide::new(),
        urgent: Vec::new(),
        window_updates: plan.window_updates,
        eof: false,
        read_total: 0,
        write_failed: false,
        pace: Pace::default(),
        scratch: Vec::new(),
    };

    let mut want = Want::Read;
    let mut timed_out = false;
    'steps: for step in &plan.steps {
        let chunk: &[u8] = match step {
            Step::Write(bytes) => bytes,
            Step::Pause => &[],
            Step::ToggleWindowUpdates => {
                run.window_updates = !run.window_updates && run.read_total <= MAX_READ;
                continue;
            }
        };
        let mut at = 0;
        loop {
            let (n, wrote) = run.write(&chunk[at..]);
            at += n;
            if run.write_failed {
                break 'steps;
            }
            want = run.turn(wrote, "while the client writes");
            if want == Want::Close {
                break 'steps;
            }
            if at >= chunk.len() {
                break;
            }
            if run.pace.stalled(want, "while the client writes") {
                timed_out = true;
                break 'steps;
            }
        }
    }
    // The client keeps reading (and granting window, if it does) until nothing moves.
    if want != Want::Close && !timed_out && !run.write_failed {
        loop {
            let (_, wrote) = run.write(&[]);
            if run.write_failed {
                break;
            }
            want = run.turn(wrote, "while the client reads");
            if want == Want::Close || run.pace.idle >= 4 {
                break;
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
        mut cs,
        mut ss,
        autoindex,
        ..
    } = run;
    let mut out = Vec::new();
    if timed_out {
        conn.time_out(ctx, Instant::now());
        check_buffered(&conn, &cs, &ss, autoindex, "after time_out");
    }
    shared::close_and_drain(conn, client, &mut out, 100_000);
    ss.read(&out, &mut cs);
    assert!(
        ss.buf.is_empty(),
        "the output ends in a cut-short frame: {} bytes: {}",
        ss.buf.len(),
        show(&ss.buf)
    );
    assert!(
        ss.block.is_none(),
        "the output ends inside a header block"
    );
    if dump() {
        eprintln!(
            "--- {} frames read, {} requests",
            ss.frames,
            cs.requests.len()
        );
    }
}
