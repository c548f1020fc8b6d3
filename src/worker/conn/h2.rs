//! A connection's HTTP/2 side: the protocol state (`crate::h2::session`) driven over the
//! connection's transport and buffers, each request answered by the same parser and
//! site as HTTP/1.1, and the bodies of all its streams sent in turns.
//!
//! Fairness: each pass over the streams with a body to send gives each one DATA frame
//! (up to its window and the peer's frame size), so a large download shares the
//! connection with the small ones beside it; a turn stops at the connection's send
//! budget, as HTTP/1.1's does, so it shares the worker with other connections too.
//! File bodies are read into the output buffer (a DATA frame needs its header before
//! the bytes), at most [`COPY_PIECE`] gathered before each write.
//!
//! Bounds: the socket is read only once the output has all been written, so a client
//! that sends PINGs or SETTINGS and never reads stops being read instead of growing the
//! output; what one read brings is at most [`READ_CHUNK`] bytes of frames.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{COPY_PIECE, Chunk, Conn, Context, Phase, Unsent, Want, hang_if_asked, reserve_within};
use crate::h2::frame::{ErrorCode, HEADER_LEN, Header, PREFACE};
use crate::h2::response::encode_head;
use crate::h2::session::{Head, Session};
use crate::http::request::{ParseError, Parsed, parse};
use crate::http::status::Status;
use crate::site::handler::{Body, Response, respond};
use crate::site::root::Content;
use crate::worker::access_log;
use crate::worker::transport::Wait;

#[cfg(doc)]
use super::READ_CHUNK;

/// How long a closing connection waits for the client to close its side.
const LINGER: Duration = Duration::from_secs(2);

/// Bodies held in memory (error pages, listings) past which no new request is taken
/// until some are sent.
const MAX_HELD: usize = 256 * 1024;

/// The answer to a request the parser refused: its stream gets the error, the
/// connection carries on.
fn refusal(peer: std::net::SocketAddr, status: Status) -> Response {
    let r = Response::error(status, true);
    access_log::record_h2(peer, None, &r);
    r
}

/// How a new connection may turn out to speak HTTP/2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Detect {
    /// It cannot (a status listener, `--http2 off`, or decided already).
    No,
    /// Plain: if it starts with the preface.
    Preface,
    /// TLS: if ALPN chose `h2`, known once the handshake is done.
    Alpn,
}

/// What a connection's first bytes say about it.
pub(super) enum Sniff {
    Http1,
    Http2,
    /// Too few bytes yet to tell.
    Unsure,
}

/// Whether `input`, the first bytes of a plain connection, is HTTP/2's preface.
pub(super) fn sniff_preface(input: &[u8]) -> Sniff {
    let n = input.len().min(PREFACE.len());
    if input[..n] != PREFACE[..n] {
        Sniff::Http1
    } else if n == PREFACE.len() {
        Sniff::Http2
    } else {
        Sniff::Unsure
    }
}

/// One stream's body still to send.
struct Outgoing {
    stream: u32,
    file: Option<Rc<Content>>,
    pieces: VecDeque<Chunk>,
}

pub(super) struct H2 {
    session: Session,
    /// Streams with body bytes to send, in the order of their next turn.
    sending: VecDeque<Outgoing>,
    /// A response's header block, reused.
    block: Vec<u8>,
    /// The session failed: what is in the output (its GOAWAY) is the last thing sent.
    pub(super) failed: bool,
    /// The session left whole frames in the input (its queue of heads was full).
    held_back: bool,
    /// All is sent and the sending side closed; what the client still sends is read
    /// and dropped until it closes too (see [`Conn::linger_h2`]).
    pub(super) lingering: bool,
    /// A request was answered since the deadline was last set.
    answered: bool,
}

impl H2 {
    /// The server's side begins: its SETTINGS go into `output`.
    pub(super) fn new(output: &mut Vec<u8>) -> H2 {
        H2 {
            session: Session::new(output),
            sending: VecDeque::new(),
            block: Vec::new(),
            failed: false,
            held_back: false,
            lingering: false,
            answered: false,
        }
    }

    /// The bytes held besides the connection's buffers.
    pub(super) fn buffered(&self) -> usize {
        self.session.buffered() + self.block.capacity() + self.held()
    }

    /// Body bytes held in memory for the streams being sent.
    fn held(&self) -> usize {
        self.sending
            .iter()
            .flat_map(|o| &o.pieces)
            .map(|c| match c {
                Chunk::Bytes { data, .. } => data.capacity(),
                Chunk::File { .. } => 0,
            })
            .sum()
    }

    /// The connection ends here (a timeout): GOAWAY, if none was sent.
    pub(super) fn go_away_now(&mut self, output: &mut Vec<u8>) {
        self.session.go_away(output);
    }
}

impl Conn {
    /// `drive` for a connection speaking HTTP/2.
    pub(super) fn drive_h2(&mut self, ctx: &mut Context, now: Instant) -> Want {
        let mut drained = false;
        let mut budget = self.send_budget;
        loop {
            if self.output_pos < self.output.len() {
                match self.send_output(false, now) {
                    Ok(()) => {}
                    Err(Unsent::Blocked) => {
                        return self.settle_h2(ctx, now, self.blocked(Wait::Writable));
                    }
                    Err(_) => return Want::Close,
                }
            }
            let Some(h2) = self.h2.as_mut() else {
                return Want::Close;
            };
            if h2.lingering {
                return self.linger_h2(ctx, now);
            }
            if h2.failed {
                return self.linger_h2(ctx, now);
            }
            if ctx.stopping {
                h2.session.go_away(&mut self.output);
            }
            if h2.session.finished() && h2.sending.is_empty() {
                if self.output.is_empty() {
                    return self.linger_h2(ctx, now);
                }
                continue;
            }
            self.answer_h2(ctx, now);
            if budget == 0 {
                return self.settle_h2(ctx, now, Want::Again);
            }
            self.fill_data(&mut budget);
            if !self.output.is_empty() {
                continue;
            }
            if self
                .h2
                .as_ref()
                .is_some_and(|h| h.held_back && h.session.wants_input())
            {
                self.receive_h2();
                continue;
            }
            if drained && !self.peer_closed {
                return self.settle_h2(ctx, now, Want::Read);
            }
            match self.transport.recv(&mut ctx.read_buf) {
                Ok(0) => {
                    self.read_all = true;
                    return Want::Close;
                }
                Ok(n) => {
                    drained = n < ctx.read_buf.len();
                    self.read_all = drained;
                    reserve_within(&mut self.input, n, super::MAX_INPUT);
                    self.input.extend_from_slice(&ctx.read_buf[..n]);
                    self.receive_h2();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    return self.settle_h2(ctx, now, self.blocked(Wait::Readable));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Want::Close,
            }
        }
    }

    /// The connection's end, once everything has been written: a FIN after the last
    /// bytes, then the client's frames read and dropped until it closes its side, for
    /// at most [`LINGER`]. An HTTP/2 client sends WINDOW_UPDATEs as the last DATA
    /// frames arrive; closing with those unread would make the kernel answer them with
    /// a reset, which destroys whatever the client has not read yet (nginx's
    /// `lingering_close` for the same reason).
    fn linger_h2(&mut self, ctx: &mut Context, now: Instant) -> Want {
        let Some(h2) = self.h2.as_mut() else {
            return Want::Close;
        };
        if !h2.lingering {
            h2.lingering = true;
            self.transport.finish_sending();
            self.input.clear();
            self.phase = Phase::Receiving;
            self.deadline = now + LINGER;
        }
        // Bounded, so a client that never stops sending cannot keep the worker here.
        for _ in 0..16 {
            match self.transport.discard(&mut ctx.read_buf) {
                Ok(0) => {
                    self.read_all = true;
                    return Want::Close;
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Want::Read,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Want::Close,
            }
        }
        Want::Again
    }

    /// Hands the input's whole frames to the session.
    pub(super) fn receive_h2(&mut self) {
        let Some(h2) = self.h2.as_mut() else { return };
        match h2.session.receive(&self.input, &mut self.output) {
            Ok(used) => {
                self.input.drain(..used);
                h2.held_back = Header::parse(&self.input)
                    .is_some_and(|h| self.input.len() >= HEADER_LEN + h.len);
            }
            Err(_) => {
                h2.failed = true;
                self.input.clear();
                self.read_all = false;
            }
        }
    }

    /// The deadline for what the connection waits for now, then `want`: sending (or
    /// held by a window) runs on the send timeout, which progress renews; a frame or
    /// header block begun on the header timeout; nothing at all on the keep-alive one.
    fn settle_h2(&mut self, ctx: &Context, now: Instant, want: Want) -> Want {
        let Some(h2) = self.h2.as_mut() else {
            return want;
        };
        let phase = if self.output_pos < self.output.len() || !h2.sending.is_empty() {
            Phase::Sending
        } else if h2.session.in_header_block()
            || h2.session.awaiting_bodies()
            || !self.input.is_empty()
        {
            Phase::Receiving
        } else {
            Phase::Idle
        };
        // The keep-alive time counts from the last answer, however the connection got
        // back to idle (sending moved the deadline on to the send timeout).
        let answered = std::mem::take(&mut h2.answered);
        if phase != self.phase || (phase == Phase::Idle && answered) {
            self.set_phase(phase, ctx, now);
        }
        want
    }

    /// Answers every request whose head is complete: its HEADERS now, its body queued.
    /// Requests wait in the session while the bodies held in memory (error pages,
    /// listings) pass [`MAX_HELD`], so 128 streams asking for a large listing cost one
    /// listing's worth at a time, not 128.
    fn answer_h2(&mut self, ctx: &mut Context, now: Instant) {
        let secure = self.transport.is_secure();
        loop {
            let Some(h2) = self.h2.as_mut() else { return };
            if h2.held() > MAX_HELD {
                return;
            }
            let Some((stream, head)) = h2.session.next_request() else {
                return;
            };
            let response = match &head {
                Head::Complete(bytes) => match parse(bytes) {
                    Ok(Parsed::Complete { request, .. }) => {
                        let r = respond(&request, &ctx.site, secure, true, &mut ctx.scratch, now);
                        hang_if_asked(request.path());
                        access_log::record_h2(self.peer, Some(&request), &r);
                        r
                    }
                    // A head written whole always parses whole; `Partial` cannot be.
                    Ok(Parsed::Partial) => refusal(self.peer, Status::BadRequest),
                    Err(ParseError(status)) => refusal(self.peer, status),
                },
                Head::TooLarge => refusal(self.peer, Status::HeaderFieldsTooLarge),
            };
            h2.session.recycle(head);
            h2.answered = true;
            ctx.served += 1;
            self.tally.response(response.status.code());
            h2.block.clear();
            encode_head(&response, ctx.date.now(now), &mut h2.block);
            let mut out = Outgoing {
                stream,
                file: None,
                pieces: VecDeque::new(),
            };
            if !response.head_only && response.content_length > 0 {
                match response.body {
                    Body::Empty => {}
                    Body::Static(bytes) => out.pieces.push_back(Chunk::Bytes {
                        data: bytes.to_vec(),
                        pos: 0,
                    }),
                    Body::Bytes(data) => out.pieces.push_back(Chunk::Bytes { data, pos: 0 }),
                    Body::File { file, offset, len } => {
                        out.file = Some(file);
                        out.pieces.push_back(Chunk::File {
                            offset,
                            remaining: len,
                        });
                    }
                    Body::Parts { file, parts } => {
                        out.file = Some(file);
                        out.pieces.extend(parts.into_iter().map(|part| match part {
                            crate::http::response::Part::Bytes(data) => {
                                Chunk::Bytes { data, pos: 0 }
                            }
                            crate::http::response::Part::Range { offset, len } => Chunk::File {
                                offset,
                                remaining: len,
                            },
                        }));
                    }
                }
            }
            let end = out.pieces.is_empty();
            h2.session
                .write_headers(stream, &h2.block, end, &mut self.output);
            if !end {
                h2.sending.push_back(out);
            }
        }
    }

    /// Gives each stream with a body its turn, one DATA frame each per pass, until the
    /// output holds a piece worth writing, the budget is spent, or every stream waits
    /// for a window.
    fn fill_data(&mut self, budget: &mut u64) {
        let Some(h2) = self.h2.as_mut() else { return };
        while self.output.len() < COPY_PIECE && *budget > 0 {
            let mut progress = false;
            for _ in 0..h2.sending.len() {
                let Some(mut out) = h2.sending.pop_front() else {
                    break;
                };
                let Some(capacity) = h2.session.send_capacity(out.stream) else {
                    continue; // reset by the client: its answer is dropped
                };
                if capacity == 0 {
                    h2.sending.push_back(out);
                    continue;
                }
                let total: u64 = out
                    .pieces
                    .iter()
                    .map(|c| match c {
                        Chunk::Bytes { data, pos } => (data.len() - pos) as u64,
                        Chunk::File { remaining, .. } => *remaining,
                    })
                    .sum();
                let Some(piece) = out.pieces.front_mut() else {
                    continue;
                };
                let len = match piece {
                    Chunk::Bytes { data, pos } => (data.len() - *pos).min(capacity),
                    Chunk::File { remaining, .. } => (*remaining).min(capacity as u64) as usize,
                };
                let end = len as u64 == total;
                reserve_within(&mut self.output, HEADER_LEN + len, super::MAX_OUTPUT);
                let file = out.file.as_deref();
                let written: Result<(), ()> =
                    h2.session
                        .write_data(out.stream, len, end, &mut self.output, |o| {
                            match piece {
                                Chunk::Bytes { data, pos } => {
                                    o.extend_from_slice(&data[*pos..*pos + len]);
                                    *pos += len;
                                }
                                Chunk::File { offset, remaining } => {
                                    let file = file.ok_or(())?;
                                    file.append_to(o, *offset, len).map_err(|_| ())?;
                                    *offset += len as u64;
                                    *remaining -= len as u64;
                                }
                            }
                            Ok(())
                        });
                if written.is_err() {
                    // The file shrank under us: the promised length cannot be met.
                    h2.session
                        .reset(out.stream, ErrorCode::Internal, &mut self.output);
                    progress = true;
                    continue;
                }
                let piece_done = match piece {
                    Chunk::Bytes { data, pos } => *pos == data.len(),
                    Chunk::File { remaining, .. } => *remaining == 0,
                };
                if piece_done {
                    out.pieces.pop_front();
                }
                *budget = budget.saturating_sub(len as u64);
                progress = true;
                if !end {
                    h2.sending.push_back(out);
                }
                if self.output.len() >= COPY_PIECE {
                    break;
                }
            }
            if !progress {
                break;
            }
        }
    }

    /// A connection that sent the preface (plain) or chose `h2` by ALPN (TLS) becomes
    /// an HTTP/2 one: the session answers with its SETTINGS and reads the preface.
    pub(super) fn start_h2(&mut self) {
        self.detect = Detect::No;
        self.h2 = Some(Box::new(H2::new(&mut self.output)));
        self.receive_h2();
    }
}
