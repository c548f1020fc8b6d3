//! A small hand-written HTTP/2 client (RFC 9113) for exact frame checks and attacks:
//! frames built byte by byte, a trivial HPACK encoder (literals without indexing, raw
//! strings), a minimal HPACK decoder (static and dynamic table, raw strings; Huffman
//! only for digits, enough for a `:status` the server did not index), and a reader
//! with deadlines that never hangs.
//!
//! Not included by `common/mod.rs`: `tests/http2.rs` includes it with `#[path]`, so the
//! other test binaries do not compile it.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Frame types (§6).
pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const PRIORITY: u8 = 0x2;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

// Flags.
pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

// Error codes (§7).
pub const NO_ERROR: u32 = 0x0;
pub const PROTOCOL_ERROR: u32 = 0x1;
pub const INTERNAL_ERROR: u32 = 0x2;
pub const FLOW_CONTROL_ERROR: u32 = 0x3;
pub const STREAM_CLOSED: u32 = 0x5;
pub const FRAME_SIZE_ERROR: u32 = 0x6;
pub const REFUSED_STREAM: u32 = 0x7;
pub const CANCEL: u32 = 0x8;
pub const COMPRESSION_ERROR: u32 = 0x9;
pub const ENHANCE_YOUR_CALM: u32 = 0xb;

// Settings (§6.5.2).
pub const HEADER_TABLE_SIZE: u16 = 0x1;
pub const ENABLE_PUSH: u16 = 0x2;
pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
pub const MAX_FRAME_SIZE: u16 = 0x5;
pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;

/// The default SETTINGS_MAX_FRAME_SIZE and initial window.
pub const DEFAULT_MAX_FRAME: usize = 16_384;
pub const DEFAULT_WINDOW: u32 = 65_535;

/// One frame as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub ty: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn is(&self, ty: u8) -> bool {
        self.ty == ty
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// (last stream id, error code) of a GOAWAY.
    pub fn goaway(&self) -> Option<(u32, u32)> {
        (self.ty == GOAWAY && self.payload.len() >= 8).then(|| {
            (
                be32(&self.payload[..4]) & 0x7fff_ffff,
                be32(&self.payload[4..8]),
            )
        })
    }

    /// The error code of a RST_STREAM.
    pub fn rst(&self) -> Option<u32> {
        (self.ty == RST_STREAM && self.payload.len() == 4).then(|| be32(&self.payload))
    }

    /// The (identifier, value) pairs of a SETTINGS frame.
    pub fn settings(&self) -> Vec<(u16, u32)> {
        if self.ty != SETTINGS {
            return Vec::new();
        }
        self.payload
            .chunks_exact(6)
            .map(|c| (u16::from_be_bytes([c[0], c[1]]), be32(&c[2..6])))
            .collect()
    }

    /// The header block fragment of a HEADERS or CONTINUATION frame (padding and
    /// priority removed).
    pub fn block(&self) -> &[u8] {
        let mut p = &self.payload[..];
        let mut pad = 0;
        if self.ty == HEADERS && self.has(0x8) {
            pad = p[0] as usize;
            p = &p[1..];
        }
        if self.ty == HEADERS && self.has(0x20) {
            p = &p[5..];
        }
        &p[..p.len() - pad]
    }

    /// The data of a DATA frame (padding removed).
    pub fn data(&self) -> &[u8] {
        if self.has(0x8) {
            let pad = self.payload[0] as usize;
            &self.payload[1..self.payload.len() - pad]
        } else {
            &self.payload
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        frame(self.ty, self.flags, self.stream, &self.payload)
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A frame's bytes: the 9-byte header, then the payload (any length the 24 bits hold).
pub fn frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    assert!(len < 1 << 24);
    let mut out = Vec::with_capacity(9 + len);
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, ty, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

pub fn settings(pairs: &[(u16, u32)]) -> Vec<u8> {
    let mut p = Vec::new();
    for (id, v) in pairs {
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&v.to_be_bytes());
    }
    frame(SETTINGS, 0, 0, &p)
}

pub fn settings_ack() -> Vec<u8> {
    frame(SETTINGS, ACK, 0, &[])
}

pub fn ping(data: [u8; 8]) -> Vec<u8> {
    frame(PING, 0, 0, &data)
}

pub fn window_update(stream: u32, increment: u32) -> Vec<u8> {
    frame(WINDOW_UPDATE, 0, stream, &increment.to_be_bytes())
}

pub fn rst_stream(stream: u32, code: u32) -> Vec<u8> {
    frame(RST_STREAM, 0, stream, &code.to_be_bytes())
}

pub fn goaway(last: u32, code: u32) -> Vec<u8> {
    let mut p = last.to_be_bytes().to_vec();
    p.extend_from_slice(&code.to_be_bytes());
    frame(GOAWAY, 0, 0, &p)
}

pub fn headers(stream: u32, block: &[u8], end_stream: bool, end_headers: bool) -> Vec<u8> {
    let flags = if end_stream { END_STREAM } else { 0 } | if end_headers { END_HEADERS } else { 0 };
    frame(HEADERS, flags, stream, block)
}

pub fn continuation(stream: u32, block: &[u8], end_headers: bool) -> Vec<u8> {
    frame(
        CONTINUATION,
        if end_headers { END_HEADERS } else { 0 },
        stream,
        block,
    )
}

pub fn data(stream: u32, payload: &[u8], end_stream: bool) -> Vec<u8> {
    frame(
        DATA,
        if end_stream { END_STREAM } else { 0 },
        stream,
        payload,
    )
}

// ---- HPACK (RFC 7541) ----

/// An integer with an N-bit prefix; `flags` fills the bits above the prefix.
pub fn hpack_int(prefix: u8, flags: u8, mut value: usize) -> Vec<u8> {
    let max = (1usize << prefix) - 1;
    if value < max {
        return vec![flags | value as u8];
    }
    let mut out = vec![flags | max as u8];
    value -= max;
    while value >= 128 {
        out.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    out.push(value as u8);
    out
}

fn hpack_string(s: &[u8]) -> Vec<u8> {
    let mut out = hpack_int(7, 0, s.len());
    out.extend_from_slice(s);
    out
}

/// A literal field without indexing, new name, raw strings.
pub fn literal(name: &str, value: &str) -> Vec<u8> {
    let mut out = vec![0x00];
    out.extend(hpack_string(name.as_bytes()));
    out.extend(hpack_string(value.as_bytes()));
    out
}

/// A literal field with incremental indexing (added to the peer's dynamic table).
pub fn literal_indexed(name: &str, value: &[u8]) -> Vec<u8> {
    let mut out = vec![0x40];
    out.extend(hpack_string(name.as_bytes()));
    out.extend(hpack_string(value));
    out
}

/// An indexed field (static 1..=61, dynamic from 62).
pub fn indexed(index: usize) -> Vec<u8> {
    hpack_int(7, 0x80, index)
}

/// The header block of a request: the pseudo-headers, then `extra`, all literals.
pub fn request_block(method: &str, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut out = literal(":method", method);
    out.extend(literal(":scheme", "http"));
    out.extend(literal(":authority", "localhost"));
    out.extend(literal(":path", path));
    for (n, v) in extra {
        out.extend(literal(n, v));
    }
    out
}

/// HEADERS with END_HEADERS and END_STREAM: a whole GET on `stream`.
pub fn get_frame(stream: u32, path: &str) -> Vec<u8> {
    headers(stream, &request_block("GET", path, &[]), true, true)
}

const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// A Huffman-coded string this decoder cannot read (only digits are decoded).
pub const HUFFMAN: &str = "<huffman>";

/// Decodes a Huffman string made of digits only ('0'-'2' are 5-bit codes 0-2, '3'-'9'
/// 6-bit codes 0x19-0x1f); None for anything else.
fn huffman_digits(bytes: &[u8]) -> Option<String> {
    let bits: Vec<u8> = bytes
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
        .collect();
    let mut out = String::new();
    let mut i = 0;
    while i < bits.len() {
        let rest = &bits[i..];
        if rest.len() < 8 && rest.iter().all(|b| *b == 1) {
            break; // EOS padding
        }
        let val = |n: usize| {
            rest.get(..n)
                .map(|b| b.iter().fold(0u32, |a, b| a << 1 | *b as u32))
        };
        match val(5) {
            Some(v @ 0..=2) => {
                out.push((b'0' + v as u8) as char);
                i += 5;
            }
            _ => match val(6) {
                Some(v @ 0x19..=0x1f) => {
                    out.push((b'3' + (v - 0x19) as u8) as char);
                    i += 6;
                }
                _ => return None,
            },
        }
    }
    Some(out)
}

/// An HPACK decoder with a dynamic table, raw strings, digit-only Huffman.
#[derive(Default)]
pub struct Decoder {
    dynamic: Vec<(String, String)>,
}

impl Decoder {
    fn int(p: &mut &[u8], prefix: u8) -> Result<usize, String> {
        let first = *p.first().ok_or("truncated integer")?;
        *p = &p[1..];
        let max = (1usize << prefix) - 1;
        let mut v = (first as usize) & max;
        if v < max {
            return Ok(v);
        }
        let mut shift = 0;
        loop {
            let b = *p.first().ok_or("truncated integer")?;
            *p = &p[1..];
            v += ((b & 0x7f) as usize) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                return Ok(v);
            }
            if shift > 28 {
                return Err("integer too big".into());
            }
        }
    }

    fn string(p: &mut &[u8]) -> Result<String, String> {
        let huff = p.first().ok_or("truncated string")? & 0x80 != 0;
        let len = Self::int(p, 7)?;
        if p.len() < len {
            return Err("truncated string".into());
        }
        let (s, rest) = p.split_at(len);
        *p = rest;
        Ok(if huff {
            huffman_digits(s).unwrap_or_else(|| HUFFMAN.into())
        } else {
            String::from_utf8_lossy(s).into_owned()
        })
    }

    fn entry(&self, index: usize) -> Result<(String, String), String> {
        match index {
            0 => Err("index 0".into()),
            1..=61 => {
                let (n, v) = STATIC[index - 1];
                Ok((n.into(), v.into()))
            }
            _ => self
                .dynamic
                .get(index - 62)
                .cloned()
                .ok_or_else(|| format!("index {index} not in the table")),
        }
    }

    /// Decodes one whole header block.
    pub fn decode(&mut self, mut p: &[u8]) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        while let Some(&b) = p.first() {
            if b & 0x80 != 0 {
                let i = Self::int(&mut p, 7)?;
                out.push(self.entry(i)?);
            } else if b & 0xe0 == 0x20 {
                let size = Self::int(&mut p, 5)?;
                if size == 0 {
                    self.dynamic.clear();
                }
            } else {
                let (prefix, add) = if b & 0xc0 == 0x40 {
                    (6, true)
                } else {
                    (4, false)
                };
                let i = Self::int(&mut p, prefix)?;
                let name = if i == 0 {
                    Self::string(&mut p)?
                } else {
                    self.entry(i)?.0
                };
                let value = Self::string(&mut p)?;
                if add {
                    self.dynamic.insert(0, (name.clone(), value.clone()));
                }
                out.push((name, value));
            }
        }
        Ok(out)
    }
}

// ---- The connection ----

/// What the client runs over: plain TCP or a rustls stream.
pub trait Transport: Read + Write + Send {
    fn set_timeout(&self, d: Duration);
}

impl Transport for TcpStream {
    fn set_timeout(&self, d: Duration) {
        self.set_read_timeout(Some(d)).unwrap();
    }
}

impl Transport for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    fn set_timeout(&self, d: Duration) {
        self.sock.set_read_timeout(Some(d)).unwrap();
    }
}

/// Why no frame came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// EOF or a reset: the server closed the connection.
    Closed(String),
    /// Nothing (whole) within the deadline.
    Timeout,
}

/// One response as the raw client saw it.
#[derive(Debug, Default, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The RST_STREAM code, if the stream was reset instead.
    pub reset: Option<u32>,
    /// Every DATA frame's payload length, in order.
    pub data_frames: Vec<usize>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct Conn {
    pub io: Box<dyn Transport>,
    buf: Vec<u8>,
    pub decoder: Decoder,
    /// The server's SETTINGS (the first non-ACK one), once seen.
    pub server_settings: Option<Vec<(u16, u32)>>,
    /// ACK the server's SETTINGS as they arrive (on by default).
    pub auto_ack: bool,
    /// Every frame read so far, in order.
    pub seen: Vec<Frame>,
    /// A header block being collected across CONTINUATION frames: (stream, bytes).
    pending_block: Option<(u32, Vec<u8>, bool)>,
}

impl Conn {
    /// Opens plain TCP and writes the preface and our SETTINGS (prior knowledge).
    pub fn open(addr: SocketAddr, ours: &[(u16, u32)]) -> Conn {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).unwrap();
        Self::over(Box::new(s), ours)
    }

    /// Writes the preface and our SETTINGS over an established transport.
    pub fn over(io: Box<dyn Transport>, ours: &[(u16, u32)]) -> Conn {
        let mut c = Self::bare(io);
        let mut start = PREFACE.to_vec();
        start.extend(settings(ours));
        c.send(&start).expect("write the preface");
        c
    }

    /// A connection on which nothing was written yet.
    pub fn bare(io: Box<dyn Transport>) -> Conn {
        Conn {
            io,
            buf: Vec::new(),
            decoder: Decoder::default(),
            server_settings: None,
            auto_ack: true,
            seen: Vec::new(),
            pending_block: None,
        }
    }

    /// Opens, then waits for the server's SETTINGS (ACKed).
    pub fn handshake(addr: SocketAddr, ours: &[(u16, u32)]) -> Conn {
        let mut c = Self::open(addr, ours);
        c.wait_settings();
        c
    }

    pub fn wait_settings(&mut self) {
        if self.server_settings.is_none() {
            let got = self.read_until(Duration::from_secs(5), |f| f.is(SETTINGS) && !f.has(ACK));
            assert!(got.is_ok(), "no SETTINGS from the server: {got:?}");
        }
    }

    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.io.write_all(bytes)?;
        self.io.flush()
    }

    /// Reads the next frame, waiting until `deadline` at most.
    pub fn next_frame(&mut self, deadline: Instant) -> Result<Frame, End> {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if self.buf.len() >= 9 {
                let len = (self.buf[0] as usize) << 16
                    | (self.buf[1] as usize) << 8
                    | self.buf[2] as usize;
                if self.buf.len() >= 9 + len {
                    let f = Frame {
                        ty: self.buf[3],
                        flags: self.buf[4],
                        stream: be32(&self.buf[5..9]) & 0x7fff_ffff,
                        payload: self.buf[9..9 + len].to_vec(),
                    };
                    self.buf.drain(..9 + len);
                    self.on_frame(&f);
                    return Ok(f);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(End::Timeout);
            }
            self.io
                .set_timeout((deadline - now).max(Duration::from_millis(1)));
            match self.io.read(&mut chunk) {
                Ok(0) => return Err(End::Closed("EOF".into())),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(End::Timeout);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(End::Closed(e.to_string())),
            }
        }
    }

    fn on_frame(&mut self, f: &Frame) {
        if f.is(SETTINGS) && !f.has(ACK) {
            if self.server_settings.is_none() {
                self.server_settings = Some(f.settings());
            }
            if self.auto_ack {
                let _ = self.send(&settings_ack());
            }
        }
        self.seen.push(f.clone());
    }

    /// Reads frames until one satisfies `f` (returned), the connection ends or time is up.
    pub fn read_until(
        &mut self,
        timeout: Duration,
        mut f: impl FnMut(&Frame) -> bool,
    ) -> Result<Frame, End> {
        let deadline = Instant::now() + timeout;
        loop {
            let frame = self.next_frame(deadline)?;
            if f(&frame) {
                return Ok(frame);
            }
        }
    }

    /// Reads until the server closes (or `timeout`): every frame meanwhile, and how it
    /// ended.
    pub fn drain(&mut self, timeout: Duration) -> (Vec<Frame>, End) {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        loop {
            match self.next_frame(deadline) {
                Ok(f) => out.push(f),
                Err(e) => return (out, e),
            }
        }
    }

    /// Waits for a GOAWAY then the close: (last stream, code), or what came instead.
    pub fn expect_goaway_and_close(&mut self, timeout: Duration) -> (u32, u32) {
        let (frames, end) = self.drain(timeout);
        let goaway = frames.iter().find_map(Frame::goaway);
        assert!(
            matches!(end, End::Closed(_)),
            "the connection was not closed within {timeout:?} ({end:?}); frames: {}",
            summary(&frames)
        );
        goaway.unwrap_or_else(|| panic!("closed without a GOAWAY: {}", summary(&frames)))
    }

    /// Sends a GET on `stream` and reads its whole response, releasing flow control as
    /// data arrives (stream and connection), answering nothing else.
    pub fn get(&mut self, stream: u32, path: &str, timeout: Duration) -> RawResponse {
        self.request(stream, &request_block("GET", path, &[]), timeout)
    }

    pub fn request(&mut self, stream: u32, block: &[u8], timeout: Duration) -> RawResponse {
        self.send(&headers(stream, block, true, true))
            .expect("write HEADERS");
        self.response(stream, timeout, true)
    }

    /// Reads the response on `stream` (frames for other streams are kept in `seen`).
    /// With `release`, every DATA frame is given back at once with WINDOW_UPDATEs.
    pub fn response(&mut self, stream: u32, timeout: Duration, release: bool) -> RawResponse {
        let mut r = RawResponse::default();
        let deadline = Instant::now() + timeout;
        loop {
            let f = match self.next_frame(deadline) {
                Ok(f) => f,
                Err(e) => panic!(
                    "stream {stream}: {e:?} after {} body bytes (status {}); last frames: {}",
                    r.body.len(),
                    r.status,
                    summary(&self.seen[self.seen.len().saturating_sub(8)..])
                ),
            };
            if let Some(ga) = f.goaway() {
                assert!(
                    ga.0 >= stream && ga.1 == NO_ERROR,
                    "GOAWAY {ga:?} while reading stream {stream}"
                );
            }
            if f.stream != stream {
                continue;
            }
            match f.ty {
                HEADERS | CONTINUATION => {
                    if let Some(fields) = self.collect_block(&f) {
                        for (n, v) in fields {
                            if n == ":status" {
                                r.status = v.parse().unwrap_or(0);
                            }
                            r.headers.push((n, v));
                        }
                    }
                    if f.has(END_STREAM) {
                        return r;
                    }
                }
                DATA => {
                    r.data_frames.push(f.payload.len());
                    r.body.extend_from_slice(f.data());
                    if release && !f.payload.is_empty() {
                        let n = f.payload.len() as u32;
                        let mut wu = window_update(0, n);
                        if !f.has(END_STREAM) {
                            wu.extend(window_update(stream, n));
                        }
                        let _ = self.send(&wu);
                    }
                    if f.has(END_STREAM) {
                        return r;
                    }
                }
                RST_STREAM => {
                    r.reset = f.rst();
                    return r;
                }
                _ => {}
            }
        }
    }

    /// Feeds a HEADERS/CONTINUATION frame; returns the decoded fields once END_HEADERS.
    pub fn collect_block(&mut self, f: &Frame) -> Option<Vec<(String, String)>> {
        let mut block = match self.pending_block.take() {
            Some((s, b, _)) if s == f.stream && f.ty == CONTINUATION => b,
            _ => Vec::new(),
        };
        block.extend_from_slice(f.block());
        if f.has(END_HEADERS) {
            Some(
                self.decoder
                    .decode(&block)
                    .unwrap_or_else(|e| panic!("bad header block from the server: {e}")),
            )
        } else {
            self.pending_block = Some((f.stream, block, f.has(END_STREAM)));
            None
        }
    }
}

/// A one-line-per-frame summary for failure messages.
pub fn summary(frames: &[Frame]) -> String {
    let names = [
        "DATA",
        "HEADERS",
        "PRIORITY",
        "RST_STREAM",
        "SETTINGS",
        "PUSH_PROMISE",
        "PING",
        "GOAWAY",
        "WINDOW_UPDATE",
        "CONTINUATION",
    ];
    let mut out = Vec::new();
    for f in frames {
        let name = names.get(f.ty as usize).copied().unwrap_or("UNKNOWN");
        let extra = match f.ty {
            GOAWAY => format!(" {:?}", f.goaway()),
            RST_STREAM => format!(" code {:?}", f.rst()),
            SETTINGS => format!(" {:?}", f.settings()),
            _ => String::new(),
        };
        out.push(format!(
            "{name}(stream {}, flags {:#x}, {} B){extra}",
            f.stream,
            f.flags,
            f.payload.len()
        ));
    }
    if out.len() > 20 {
        let n = out.len();
        out.drain(10..n - 10);
        out.insert(10, format!("... {} more ...", n - 20));
    }
    out.join(", ")
}
