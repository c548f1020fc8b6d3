//! One HTTP/2 connection's protocol state, without I/O: the client's bytes in; requests
//! as HTTP/1.1 heads, and the frames to send, out.
//!
//! The caller (the worker's connection) reads the socket, hands the bytes to
//! [`Session::receive`], answers each request [`Session::next_request`] yields with a
//! header block and DATA frames written through this session (which keeps the flow
//! control windows and the streams' states), and writes the output buffer to the socket.
//! Control frames (SETTINGS and PING acknowledgements, WINDOW_UPDATE, RST_STREAM,
//! GOAWAY) go into the same output buffer as they arise. A caller that stops reading
//! while that buffer is full bounds what a client that never reads can make it hold.
//!
//! Every peer costs bounded memory and CPU whatever it sends:
//! - frames larger than [`frame::DEFAULT_MAX_FRAME`] (all it advertises) are refused;
//! - a header block is held whole (HPACK needs it) up to [`MAX_HEADER_BLOCK`], beyond
//!   which the connection ends with ENHANCE_YOUR_CALM (the CONTINUATION flood);
//! - decoded fields beyond [`MAX_HEADER_LIST`] are dropped and the stream answered 431
//!   (an HPACK bomb costs its block's bytes, no more);
//! - at most [`MAX_CONCURRENT_STREAMS`] streams are open; more are refused;
//! - frames that do no work (PING, SETTINGS, PRIORITY, empty DATA or CONTINUATION,
//!   WINDOW_UPDATE for no open stream, RST_STREAM of a closed stream, unknown types,
//!   refused or malformed streams) spend a credit of [`FLOOD_CREDIT`] that each DATA
//!   frame sent earns back; at zero the connection ends with ENHANCE_YOUR_CALM (PING,
//!   SETTINGS and empty-frame floods);
//! - a stream the client resets before its response ended spends a credit of
//!   [`RESET_CREDIT`] that each finished response earns back (the rapid reset,
//!   CVE-2023-44487); a request reset before it was answered costs no answer.

use std::collections::VecDeque;

use super::frame::{
    self, DEFAULT_MAX_FRAME, DEFAULT_WINDOW, ErrorCode, HEADER_LEN, Header, MAX_MAX_FRAME,
    MAX_WINDOW, PREFACE, flag, kind, setting,
};
use super::hpack::{self, Decoder};
use super::request::HeadBuilder;

/// SETTINGS_MAX_CONCURRENT_STREAMS: as nginx's default `http2_max_concurrent_streams`.
pub const MAX_CONCURRENT_STREAMS: u32 = 128;
/// SETTINGS_MAX_HEADER_LIST_SIZE: the request head limit of HTTP/1.1
/// (`http::request::MAX_HEAD`), so both protocols take the same requests.
pub const MAX_HEADER_LIST: usize = crate::http::request::MAX_HEAD;
/// The most bytes of one header block (HEADERS and its CONTINUATIONs) held.
pub const MAX_HEADER_BLOCK: usize = MAX_HEADER_LIST;
/// Frames that do no work a connection may send, net of the DATA frames it is sent.
pub const FLOOD_CREDIT: u32 = 10_000;
/// Streams a connection may reset before their answer ended, net of the answers that
/// ended; a browser cancels a few, an attack thousands.
pub const RESET_CREDIT: u32 = 200;
/// Request heads waiting to be taken are held up to about this many bytes; then
/// [`Session::receive`] stops early until the caller has taken them. A header block of
/// a few bytes can reference a 4 KiB table entry into a 64 KiB head, so without this
/// one read's worth of HEADERS could queue 128 of them.
pub const MAX_QUEUED: usize = 128 * 1024;
/// The largest DATA payload sent, whatever larger frames the peer allows: a frame is
/// gathered whole in the connection's output buffer before it is written, so the
/// peer's SETTINGS_MAX_FRAME_SIZE (up to 16 MiB) must not size that buffer.
pub const MAX_DATA_FRAME: usize = DEFAULT_MAX_FRAME;
/// A request with a body is answered once the body has ended (read and dropped, its
/// stream's window given back as it comes), or once this much of it has come, as
/// HTTP/1.1 refuses larger bodies (`http::request::MAX_BODY`): then the rest is
/// declined with RST_STREAM NO_ERROR after the answer. Clients (curl among them) take
/// an answer best once they have sent the whole request.
const EARLY_ANSWER: u64 = crate::http::request::MAX_BODY;
/// Streams remembered after they closed, so that a late frame on one is told apart from
/// a frame on a stream that never was (RFC 9113 §5.1).
const CLOSED_MEMORY: usize = 2 * MAX_CONCURRENT_STREAMS as usize;
/// The connection's receive window is given back in updates of at least this much.
const WINDOW_REFILL: u32 = DEFAULT_WINDOW as u32 / 2;

/// The connection failed: a GOAWAY with this code is in the output; send it and close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fatal(pub ErrorCode);

/// What a request stream yields: its head, or why it has none.
#[derive(Debug, PartialEq, Eq)]
pub enum Head {
    /// The request as an HTTP/1.1 head, for `http::request::parse`.
    Complete(Vec<u8>),
    /// Its fields passed [`MAX_HEADER_LIST`]: answer 431.
    TooLarge,
}

#[derive(Debug)]
struct Stream {
    id: u32,
    /// What the server may still send (may go negative after a SETTINGS change).
    send_window: i64,
    /// What the client may still send.
    recv_window: i64,
    /// The client has ended its side (END_STREAM).
    remote_closed: bool,
    /// The request's head, held until its body has ended (or [`EARLY_ANSWER`] of it
    /// has come), so that a body that belies its `content-length` is refused first.
    pending: Option<Head>,
    /// The request's `content-length`, which its DATA must add up to.
    content_length: Option<u64>,
    /// Body bytes received.
    received: u64,
}

/// What a header block being received is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A new request.
    Request { end_stream: bool },
    /// Trailers of an open stream.
    Trailers { end_stream: bool },
    /// A request that is malformed whatever its fields (it depends on itself): decoded,
    /// then reset.
    Malformed,
    /// A stream over the limit: decoded (the table must follow), then refused.
    Refuse,
    /// Decoded and dropped: a closed stream's, or a new one after GOAWAY.
    Ignore,
}

pub struct Session {
    decoder: Decoder,
    builder: HeadBuilder,
    /// Open streams, in the order they opened (few: at most the concurrency limit).
    streams: Vec<Stream>,
    /// Requests whose heads are complete, not yet taken by the caller.
    requests: VecDeque<(u32, Head)>,
    /// The bytes of the heads in `requests`.
    queued: usize,
    /// Heads given back by the caller, to be reused.
    spare: Vec<Vec<u8>>,
    /// The highest stream the client has opened.
    last_stream: u32,
    /// Streams closed lately, and whether the server reset them (then late frames on
    /// them are expected and ignored).
    closed: VecDeque<(u32, bool)>,
    /// The header block being received, with its stream.
    block: Option<(u32, Target)>,
    block_buf: Vec<u8>,
    preface_seen: bool,
    settings_seen: bool,
    conn_send_window: i64,
    conn_recv_window: i64,
    recv_unacked: u32,
    peer_initial_window: i64,
    peer_max_frame: usize,
    flood_credit: u32,
    reset_credit: u32,
    /// A GOAWAY was sent with this last stream.
    going_away: Option<u32>,
    /// The client sent GOAWAY: it opens nothing more.
    peer_going_away: bool,
}

impl Session {
    /// A session whose server preface (its SETTINGS) is appended to `out`.
    pub fn new(out: &mut Vec<u8>) -> Session {
        frame::write_settings(
            out,
            &[
                (setting::MAX_CONCURRENT_STREAMS, MAX_CONCURRENT_STREAMS),
                (setting::MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST as u32),
            ],
        );
        Session {
            decoder: Decoder::new(hpack::DEFAULT_TABLE_SIZE),
            builder: HeadBuilder::default(),
            streams: Vec::new(),
            requests: VecDeque::new(),
            queued: 0,
            spare: Vec::new(),
            last_stream: 0,
            closed: VecDeque::new(),
            block: None,
            block_buf: Vec::new(),
            preface_seen: false,
            settings_seen: false,
            conn_send_window: DEFAULT_WINDOW,
            conn_recv_window: DEFAULT_WINDOW,
            recv_unacked: 0,
            peer_initial_window: DEFAULT_WINDOW,
            peer_max_frame: DEFAULT_MAX_FRAME,
            flood_credit: FLOOD_CREDIT,
            reset_credit: RESET_CREDIT,
            going_away: None,
            peer_going_away: false,
        }
    }

    /// Takes the whole frames at the start of `input` (the preface first); returns how
    /// many bytes it used. The rest is an unfinished frame (call again with more), or
    /// whole frames left while [`MAX_QUEUED`] bytes of heads wait to be taken (call
    /// again once they are: [`Session::wants_input`]).
    pub fn receive(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, Fatal> {
        let mut pos = 0;
        if !self.preface_seen {
            let n = input.len().min(PREFACE.len());
            if input[..n] != PREFACE[..n] {
                return Err(self.fail(ErrorCode::Protocol, out));
            }
            if n < PREFACE.len() {
                return Ok(0);
            }
            self.preface_seen = true;
            pos = PREFACE.len();
        }
        while let Some(h) = Header::parse(&input[pos..]) {
            if self.queued >= MAX_QUEUED {
                break;
            }
            if h.len > DEFAULT_MAX_FRAME {
                return Err(self.fail(ErrorCode::FrameSize, out));
            }
            let end = pos + HEADER_LEN + h.len;
            if end > input.len() {
                break;
            }
            let payload = &input[pos + HEADER_LEN..end];
            pos = end;
            if let Err(code) = self.frame(h, payload, out) {
                return Err(self.fail(code, out));
            }
        }
        Ok(pos)
    }

    /// The next request to answer: its stream and head. Streams reset since are skipped.
    pub fn next_request(&mut self) -> Option<(u32, Head)> {
        while let Some((id, head)) = self.requests.pop_front() {
            if let Head::Complete(v) = &head {
                self.queued -= v.capacity();
            }
            if self.stream(id).is_some() {
                return Some((id, head));
            }
            self.recycle(head);
        }
        None
    }

    /// Gives a head back once it has been answered, so the next request reuses it.
    pub fn recycle(&mut self, head: Head) {
        // Ordinary heads only: one a bomb blew up to 64 KiB is not kept.
        if let Head::Complete(mut v) = head
            && self.spare.len() < 4
            && v.capacity() <= 4096
        {
            v.clear();
            self.spare.push(v);
        }
    }

    /// How many body bytes the next DATA frame on `stream` may carry: the stream's and
    /// the connection's windows and the peer's frame size. None: the stream is gone
    /// (reset by the client), its answer is to be dropped.
    pub fn send_capacity(&self, stream: u32) -> Option<usize> {
        let s = self.stream(stream)?;
        let window = s.send_window.min(self.conn_send_window).max(0);
        Some(
            (window as usize)
                .min(self.peer_max_frame)
                .min(MAX_DATA_FRAME),
        )
    }

    /// Appends a response's header block as HEADERS (and CONTINUATIONs); `end_stream`
    /// when no body follows.
    pub fn write_headers(
        &mut self,
        stream: u32,
        block: &[u8],
        end_stream: bool,
        out: &mut Vec<u8>,
    ) {
        frame::write_headers(out, stream, block, end_stream, self.peer_max_frame);
        if end_stream {
            self.end_local(stream, out);
        }
    }

    /// Appends a DATA frame of `len` bytes, at most what [`Session::send_capacity`] said:
    /// its header, then what `payload` appends (exactly `len` bytes), then anything the
    /// stream's end calls for. If `payload` fails, nothing is appended and the windows
    /// are as they were.
    pub fn write_data<E>(
        &mut self,
        stream: u32,
        len: usize,
        end_stream: bool,
        out: &mut Vec<u8>,
        payload: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let start = out.len();
        let flags = if end_stream { flag::END_STREAM } else { 0 };
        frame::write_header(out, len, kind::DATA, flags, stream);
        if let Err(e) = payload(out) {
            out.truncate(start);
            return Err(e);
        }
        debug_assert_eq!(out.len(), start + HEADER_LEN + len);
        self.conn_send_window -= len as i64;
        if let Some(s) = self.stream_mut(stream) {
            s.send_window -= len as i64;
        }
        self.flood_credit = (self.flood_credit + 1).min(FLOOD_CREDIT);
        if end_stream {
            self.end_local(stream, out);
        }
        Ok(())
    }

    /// Ends a stream the server cannot answer after all, with RST_STREAM.
    pub fn reset(&mut self, stream: u32, code: ErrorCode, out: &mut Vec<u8>) {
        if self.remove(stream, true).is_some() {
            frame::write_rst_stream(out, stream, code);
        }
    }

    /// A graceful end: GOAWAY (NO_ERROR) naming the last stream that will be answered;
    /// later streams are not processed. Once.
    pub fn go_away(&mut self, out: &mut Vec<u8>) {
        if self.going_away.is_none() {
            frame::write_goaway(out, self.last_stream, ErrorCode::NoError);
            self.going_away = Some(self.last_stream);
        }
    }

    /// Whether whole frames may have been left in the input for want of room, which
    /// there now is: call [`Session::receive`] again with what is left.
    pub fn wants_input(&self) -> bool {
        self.queued < MAX_QUEUED
    }

    /// Streams open (requests received and not yet fully answered).
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// A header block has started and not ended.
    pub fn in_header_block(&self) -> bool {
        self.block.is_some()
    }

    /// Either side has said GOAWAY and every stream has ended: time to close.
    pub fn finished(&self) -> bool {
        (self.going_away.is_some() || self.peer_going_away) && self.streams.is_empty()
    }

    /// The bytes this session holds: the HPACK table and the block and head buffers.
    pub fn buffered(&self) -> usize {
        hpack::DEFAULT_TABLE_SIZE
            + self.block_buf.capacity()
            + self.spare.iter().map(Vec::capacity).sum::<usize>()
            + self
                .requests
                .iter()
                .map(|(_, h)| match h {
                    Head::Complete(v) => v.capacity(),
                    Head::TooLarge => 0,
                })
                .sum::<usize>()
    }

    fn fail(&mut self, code: ErrorCode, out: &mut Vec<u8>) -> Fatal {
        if self.going_away != Some(u32::MAX) {
            // Never more than a GOAWAY already said (RFC 9113 §6.8).
            let last = self.going_away.unwrap_or(self.last_stream);
            frame::write_goaway(out, last, code);
            // Nothing more is sent after this GOAWAY.
            self.going_away = Some(u32::MAX);
        }
        Fatal(code)
    }

    fn stream(&self, id: u32) -> Option<&Stream> {
        self.streams.iter().find(|s| s.id == id)
    }

    fn stream_mut(&mut self, id: u32) -> Option<&mut Stream> {
        self.streams.iter_mut().find(|s| s.id == id)
    }

    /// Closes a stream; `by_us`: with a RST_STREAM the server sent.
    fn remove(&mut self, id: u32, by_us: bool) -> Option<Stream> {
        let i = self.streams.iter().position(|s| s.id == id)?;
        let s = self.streams.remove(i);
        if let Some(Head::Complete(v)) = &s.pending {
            self.queued -= v.capacity();
        }
        self.remember_closed(id, by_us);
        Some(s)
    }

    fn remember_closed(&mut self, id: u32, by_us: bool) {
        if self.closed.len() == CLOSED_MEMORY {
            self.closed.pop_front();
        }
        self.closed.push_back((id, by_us));
    }

    /// For a stream not open: Some(true) if the server reset it lately, Some(false) if
    /// it closed otherwise lately, None if it is not remembered.
    fn closed_by_us(&self, id: u32) -> Option<bool> {
        self.closed.iter().rev().find(|c| c.0 == id).map(|c| c.1)
    }

    /// A stream error: RST_STREAM for a stream that was never opened here.
    fn refuse(&mut self, id: u32, code: ErrorCode, out: &mut Vec<u8>) -> Result<(), ErrorCode> {
        frame::write_rst_stream(out, id, code);
        self.remember_closed(id, true);
        self.idle_frame()
    }

    /// The request on `s` has ended (or sent enough of its body): its head goes to the
    /// queue of requests to answer.
    fn release(&mut self, id: u32) {
        if let Some(s) = self.stream_mut(id)
            && let Some(head) = s.pending.take()
        {
            self.requests.push_back((id, head));
        }
    }

    /// The server's side of `stream` ended: a request still sending its body is told,
    /// without error, that the rest is not needed (RFC 9113 §8.1).
    fn end_local(&mut self, stream: u32, out: &mut Vec<u8>) {
        let remote_open = self.stream(stream).is_some_and(|s| !s.remote_closed);
        if let Some(s) = self.remove(stream, remote_open) {
            self.reset_credit = (self.reset_credit + 1).min(RESET_CREDIT);
            if !s.remote_closed {
                frame::write_rst_stream(out, stream, ErrorCode::NoError);
            }
        }
    }

    /// A frame that did no work.
    fn idle_frame(&mut self) -> Result<(), ErrorCode> {
        self.flood_credit = self.flood_credit.saturating_sub(1);
        if self.flood_credit == 0 {
            return Err(ErrorCode::EnhanceYourCalm);
        }
        Ok(())
    }

    fn frame(&mut self, h: Header, payload: &[u8], out: &mut Vec<u8>) -> Result<(), ErrorCode> {
        if !self.settings_seen && h.kind != kind::SETTINGS {
            // The client's preface ends with a SETTINGS frame (RFC 9113 §3.4).
            return Err(ErrorCode::Protocol);
        }
        if let Some((stream, _)) = self.block
            && (h.kind != kind::CONTINUATION || h.stream != stream)
        {
            return Err(ErrorCode::Protocol);
        }
        match h.kind {
            kind::DATA => self.data(h, payload, out),
            kind::HEADERS => self.headers(h, payload, out),
            kind::CONTINUATION => self.continuation(h, payload, out),
            kind::PRIORITY => {
                if h.stream == 0 {
                    return Err(ErrorCode::Protocol);
                }
                let code = if h.len != 5 {
                    ErrorCode::FrameSize
                } else if depends_on_itself(h.stream, payload) {
                    ErrorCode::Protocol
                } else {
                    return self.idle_frame();
                };
                // A stream error (RFC 9113 §6.3, §5.3.1), but a stream still idle may
                // not be reset (§6.4): then the connection's.
                if h.stream > self.last_stream {
                    return Err(code);
                }
                self.remove(h.stream, true);
                self.refuse(h.stream, code, out)
            }
            kind::RST_STREAM => self.rst_stream(h, payload),
            kind::SETTINGS => self.settings(h, payload, out),
            kind::PUSH_PROMISE => Err(ErrorCode::Protocol),
            kind::PING => {
                if h.stream != 0 {
                    return Err(ErrorCode::Protocol);
                }
                let opaque: &[u8; 8] = payload.try_into().map_err(|_| ErrorCode::FrameSize)?;
                if !h.has(flag::ACK) {
                    frame::write_ping_ack(out, opaque);
                }
                self.idle_frame()
            }
            kind::GOAWAY => {
                if h.stream != 0 {
                    return Err(ErrorCode::Protocol);
                }
                if h.len < 8 {
                    return Err(ErrorCode::FrameSize);
                }
                self.peer_going_away = true;
                Ok(())
            }
            kind::WINDOW_UPDATE => self.window_update(h, payload, out),
            // Unknown types are ignored (RFC 9113 §4.1), but not for free.
            _ => self.idle_frame(),
        }
    }

    fn data(&mut self, h: Header, payload: &[u8], out: &mut Vec<u8>) -> Result<(), ErrorCode> {
        if h.stream == 0 {
            return Err(ErrorCode::Protocol);
        }
        if h.stream > self.last_stream {
            return Err(ErrorCode::Protocol);
        }
        // The whole frame, padding included, counts against the windows.
        let len = h.len as i64;
        self.conn_recv_window -= len;
        if self.conn_recv_window < 0 {
            return Err(ErrorCode::FlowControl);
        }
        // Bodies are not kept (no method served takes one): the window is given back.
        self.recv_unacked += h.len as u32;
        if self.recv_unacked >= WINDOW_REFILL {
            frame::write_window_update(out, 0, self.recv_unacked);
            self.conn_recv_window += i64::from(self.recv_unacked);
            self.recv_unacked = 0;
        }
        let body = frame::unpad(&h, payload).ok_or(ErrorCode::Protocol)?;
        if body.is_empty() && !h.has(flag::END_STREAM) {
            self.idle_frame()?;
        }
        let Some(s) = self.stream_mut(h.stream) else {
            // Data the client sent before it saw the server's reset is dropped; on a
            // stream closed otherwise it is a stream error (RFC 9113 §5.1).
            if self.closed_by_us(h.stream) == Some(true) {
                return Ok(());
            }
            return self.refuse(h.stream, ErrorCode::StreamClosed, out);
        };
        if s.remote_closed {
            self.reset(h.stream, ErrorCode::StreamClosed, out);
            return Ok(());
        }
        s.recv_window -= len;
        s.received += body.len() as u64;
        if s.recv_window < 0 {
            self.reset(h.stream, ErrorCode::FlowControl, out);
            return Ok(());
        }
        let end = h.has(flag::END_STREAM);
        // A body longer, or at its end shorter, than its content-length is malformed
        // (RFC 9113 §8.1.1).
        if s.content_length
            .is_some_and(|n| s.received > n || (end && s.received != n))
        {
            self.reset(h.stream, ErrorCode::Protocol, out);
            return Ok(());
        }
        if end {
            s.remote_closed = true;
        }
        if end || s.received >= EARLY_ANSWER {
            self.release(h.stream);
        } else if s.pending.is_some() && h.len > 0 {
            // Waiting for the rest of the body: let it come.
            s.recv_window += len;
            frame::write_window_update(out, h.stream, h.len as u32);
        }
        Ok(())
    }

    /// Requests whose heads wait for the end of their bodies.
    pub fn awaiting_bodies(&self) -> bool {
        self.streams.iter().any(|s| s.pending.is_some())
    }

    fn headers(&mut self, h: Header, payload: &[u8], out: &mut Vec<u8>) -> Result<(), ErrorCode> {
        if h.stream == 0 || h.stream.is_multiple_of(2) {
            return Err(ErrorCode::Protocol);
        }
        let mut fragment = frame::unpad(&h, payload).ok_or(ErrorCode::Protocol)?;
        let mut loops = false;
        if h.has(flag::PRIORITY) {
            // Priorities are accepted and ignored (RFC 9113 §5.3.2), but a stream may
            // not depend on itself (§5.3.1).
            loops = depends_on_itself(h.stream, fragment);
            fragment = fragment.get(5..).ok_or(ErrorCode::FrameSize)?;
        }
        let end_stream = h.has(flag::END_STREAM);
        let target = if let Some(s) = self.stream(h.stream) {
            if s.remote_closed {
                return Err(ErrorCode::StreamClosed);
            }
            Target::Trailers { end_stream }
        } else if h.stream <= self.last_stream {
            match self.closed_by_us(h.stream) {
                // Trailers the client sent before it saw the server's reset; the block
                // still feeds the table.
                Some(true) => Target::Ignore,
                Some(false) => return Err(ErrorCode::StreamClosed),
                // A stream id lower than one already used (RFC 9113 §5.1.1).
                None => return Err(ErrorCode::Protocol),
            }
        } else {
            self.last_stream = h.stream;
            if self.going_away.is_some() || self.peer_going_away {
                Target::Ignore
            } else if loops {
                Target::Malformed
            } else if self.streams.len() >= MAX_CONCURRENT_STREAMS as usize {
                Target::Refuse
            } else {
                Target::Request { end_stream }
            }
        };
        self.block_buf.clear();
        self.block = Some((h.stream, target));
        self.fragment(fragment, h.has(flag::END_HEADERS), out)
    }

    fn continuation(
        &mut self,
        h: Header,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), ErrorCode> {
        if self.block.is_none() {
            return Err(ErrorCode::Protocol);
        }
        self.fragment(payload, h.has(flag::END_HEADERS), out)
    }

    /// One piece of the header block; at its end, the block is decoded and acted on.
    fn fragment(&mut self, piece: &[u8], end: bool, out: &mut Vec<u8>) -> Result<(), ErrorCode> {
        if piece.is_empty() && !end {
            self.idle_frame()?;
        }
        if self.block_buf.len() + piece.len() > MAX_HEADER_BLOCK {
            return Err(ErrorCode::EnhanceYourCalm);
        }
        self.block_buf.extend_from_slice(piece);
        if !end {
            return Ok(());
        }
        let Some((stream, target)) = self.block.take() else {
            return Ok(());
        };
        let block = std::mem::take(&mut self.block_buf);
        let result = self.block_done(stream, target, &block, out);
        self.block_buf = block;
        if self.block_buf.capacity() > 4 * DEFAULT_MAX_FRAME {
            self.block_buf = Vec::new();
        }
        result
    }

    fn block_done(
        &mut self,
        stream: u32,
        target: Target,
        block: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), ErrorCode> {
        let Target::Request { end_stream } = target else {
            // Decoded for the table's sake, and for trailers, checked: they may carry
            // no pseudo-header field (RFC 9113 §8.1).
            let mut pseudo = false;
            self.decoder
                .decode(block, MAX_HEADER_LIST, |n, _| pseudo |= n.starts_with(b":"))
                .map_err(|_| ErrorCode::Compression)?;
            return match target {
                Target::Refuse => self.refuse(stream, ErrorCode::RefusedStream, out),
                Target::Malformed => self.refuse(stream, ErrorCode::Protocol, out),
                // Trailers must end the stream, and the body its content-length.
                Target::Trailers { end_stream } => {
                    let short = self
                        .stream(stream)
                        .is_some_and(|s| s.content_length.is_some_and(|n| n != s.received));
                    if pseudo || !end_stream || short {
                        self.reset(stream, ErrorCode::Protocol, out);
                    } else if let Some(s) = self.stream_mut(stream) {
                        s.remote_closed = true;
                        self.release(stream);
                    }
                    Ok(())
                }
                _ => Ok(()),
            };
        };
        self.builder.reset();
        let builder = &mut self.builder;
        let complete = self
            .decoder
            .decode(block, MAX_HEADER_LIST, |n, v| builder.field(n, v))
            .map_err(|_| ErrorCode::Compression)?;
        let content_length = self.builder.content_length();
        // No body, yet a length that says there is one (RFC 9113 §8.1.1).
        if end_stream && content_length.is_some_and(|n| n != 0) {
            return self.refuse(stream, ErrorCode::Protocol, out);
        }
        let head = if complete {
            let mut head = self.spare.pop().unwrap_or_default();
            if self.builder.finish(&mut head).is_err() {
                return self.refuse(stream, ErrorCode::Protocol, out);
            }
            self.queued += head.capacity();
            Head::Complete(head)
        } else {
            Head::TooLarge
        };
        self.streams.push(Stream {
            id: stream,
            send_window: self.peer_initial_window,
            recv_window: DEFAULT_WINDOW,
            remote_closed: end_stream,
            pending: None,
            content_length,
            received: 0,
        });
        // A declared length over the limit is answered (413) without waiting.
        if end_stream || content_length.is_some_and(|n| n > EARLY_ANSWER) {
            self.requests.push_back((stream, head));
        } else if let Some(s) = self.stream_mut(stream) {
            s.pending = Some(head);
        }
        Ok(())
    }

    fn rst_stream(&mut self, h: Header, payload: &[u8]) -> Result<(), ErrorCode> {
        if h.stream == 0 {
            return Err(ErrorCode::Protocol);
        }
        if payload.len() != 4 {
            return Err(ErrorCode::FrameSize);
        }
        if h.stream > self.last_stream {
            return Err(ErrorCode::Protocol);
        }
        if self.remove(h.stream, false).is_none() {
            return self.idle_frame();
        }
        self.reset_credit = self.reset_credit.saturating_sub(1);
        if self.reset_credit == 0 {
            return Err(ErrorCode::EnhanceYourCalm);
        }
        Ok(())
    }

    fn settings(&mut self, h: Header, payload: &[u8], out: &mut Vec<u8>) -> Result<(), ErrorCode> {
        if h.stream != 0 {
            return Err(ErrorCode::Protocol);
        }
        if h.has(flag::ACK) {
            if !payload.is_empty() {
                return Err(ErrorCode::FrameSize);
            }
            return self.idle_frame();
        }
        if !payload.len().is_multiple_of(6) {
            return Err(ErrorCode::FrameSize);
        }
        for p in payload.chunks_exact(6) {
            let id = u16::from_be_bytes([p[0], p[1]]);
            let value = u32::from_be_bytes([p[2], p[3], p[4], p[5]]);
            match id {
                setting::ENABLE_PUSH if value > 1 => return Err(ErrorCode::Protocol),
                setting::INITIAL_WINDOW_SIZE => {
                    let value = i64::from(value);
                    if value > MAX_WINDOW {
                        return Err(ErrorCode::FlowControl);
                    }
                    let delta = value - self.peer_initial_window;
                    self.peer_initial_window = value;
                    for s in &mut self.streams {
                        s.send_window += delta;
                        if s.send_window > MAX_WINDOW {
                            return Err(ErrorCode::FlowControl);
                        }
                    }
                }
                setting::MAX_FRAME_SIZE => {
                    if !(DEFAULT_MAX_FRAME as u32..=MAX_MAX_FRAME).contains(&value) {
                        return Err(ErrorCode::Protocol);
                    }
                    self.peer_max_frame = value as usize;
                }
                // The encoder is stateless (the table size is irrelevant to it); the
                // rest asks nothing of a server that never pushes.
                _ => {}
            }
        }
        frame::write_settings_ack(out);
        if !self.settings_seen {
            self.settings_seen = true;
            return Ok(());
        }
        self.idle_frame()
    }

    /// A window update for an open stream, or for the connection while streams are
    /// open, is the client keeping up with a download; any other does no work.
    fn window_update(
        &mut self,
        h: Header,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), ErrorCode> {
        let bytes: [u8; 4] = payload.try_into().map_err(|_| ErrorCode::FrameSize)?;
        let increment = i64::from(u32::from_be_bytes(bytes) & 0x7fff_ffff);
        if h.stream == 0 {
            if increment == 0 {
                return Err(ErrorCode::Protocol);
            }
            self.conn_send_window += increment;
            if self.conn_send_window > MAX_WINDOW {
                return Err(ErrorCode::FlowControl);
            }
            return if self.streams.is_empty() {
                self.idle_frame()
            } else {
                Ok(())
            };
        }
        if h.stream > self.last_stream {
            return Err(ErrorCode::Protocol);
        }
        let Some(s) = self.stream_mut(h.stream) else {
            return self.idle_frame();
        };
        if increment == 0 {
            self.reset(h.stream, ErrorCode::Protocol, out);
            return self.idle_frame();
        }
        s.send_window += increment;
        if s.send_window > MAX_WINDOW {
            self.reset(h.stream, ErrorCode::FlowControl, out);
        }
        Ok(())
    }
}

/// A PRIORITY frame's payload, or a HEADERS frame's priority fields, naming `stream`
/// as its own dependency.
fn depends_on_itself(stream: u32, priority: &[u8]) -> bool {
    priority
        .first_chunk::<4>()
        .is_some_and(|d| u32::from_be_bytes(*d) & 0x7fff_ffff == stream)
}

#[cfg(test)]
mod tests;
