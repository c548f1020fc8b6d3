//! One client connection as an explicit state machine over a non-blocking socket.
//!
//! Both worker models drive the same [`Conn`]: they call [`Conn::drive`] when the socket
//! may be ready and wait for what it returns ([`Want`]); `sync` waits with `poll` on one
//! socket, `event` with epoll on many. All protocol decisions happen here and in `http`.
//!
//! A connection counts what it does on the worker's scoreboard entry (`Tally`): opened
//! and closed, each response's status class where the response is queued (the one
//! place every response passes, 408s and refusals included), and the bytes of each
//! successful send. Each is a load and a store to the worker's own cache line, no
//! syscall and no clock. A status-listener connection answers only the status pages,
//! one per connection, and counts on `UNCOUNTED` instead, nor towards `--max-requests`:
//! watching the server does not change its numbers or its workers.

use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ServerConfig;

use super::access_log;
use super::transport::{Transport, Wait};
use crate::config::{Scheme, Timeouts};
use crate::http::date::DateCache;
use crate::http::request::{HeadScan, MAX_HEAD, MAX_REQUEST_LINE, ParseError, Parsed, parse};
use crate::http::response::Part;
use crate::http::status::Status;
use crate::scoreboard::{Tally, UNCOUNTED};
use crate::site::handler::{Body, Response, Site, respond};
use crate::site::root::Content;
use crate::site::status::{self, Pages};

mod h2;
use h2::{Detect, H2, Sniff, sniff_preface};

/// Files up to this size are read into the response buffer and sent with the head in
/// one write; larger ones go by `sendfile`.
const SMALL_FILE: u64 = 32 * 1024;
/// Pipelined responses are gathered into one write up to about this many bytes.
const BATCH_LIMIT: usize = 64 * 1024;
/// The most file bytes one connection sends per turn before the others get theirs
/// (lighttpd and nginx's `sendfile_max_chunk`, 2 MiB by default, do the same): a big
/// download then cannot hog the worker, and the client reads each piece while the next
/// is being sent. (Also keeps each `sendfile` call far below its 2 GiB ceiling.) 1 MiB
/// rather than 256 KiB: 1 MiB downloads, 16 clients, 6 paired runs, took 0.79x the CPU
/// per MiB at 2 workers and 0.91x at 8, for 1.06x and 1.10x the MiB/s. Copied
/// through TLS, a turn may pass it by less than one [`COPY_PIECE`].
const SEND_BUDGET: u64 = 1024 * 1024;
/// How much one read takes from the socket.
const READ_CHUNK: usize = 16 * 1024;
/// Without `sendfile` (TLS) a file goes through the output buffer in pieces of this
/// size, counting the head before the first: what the TLS transport takes in one send
/// when no records wait, cut by rustls into full 16 KiB records, so none goes out short
/// but a response's last.
const COPY_PIECE: usize = crate::tls::stream::SEND_LIMIT;
const _: () = assert!(COPY_PIECE.is_multiple_of(16 * 1024) && COPY_PIECE <= MAX_OUTPUT);

/// The most the input buffer holds: an unfinished head never passes [`MAX_HEAD`]
/// (then it is refused), and the socket is read only while no whole head is waiting.
pub const MAX_INPUT: usize = MAX_HEAD + READ_CHUNK;
/// Room kept for one response head beside its location (whose length is known): the
/// fixed fields and a `--cache-control` value of at most 1 KiB.
const HEAD_ROOM: usize = 4 * 1024;
/// The most the output buffer holds: a batch of pipelined responses grows to
/// [`BATCH_LIMIT`] before it is written, plus the one response that crossed it (a head,
/// whose location comes from a request line and so is at most three times one,
/// percent-encoded, and a body read into memory of at most [`SMALL_FILE`]). Anything
/// larger waits as a file piece or in its own buffer, and a connection whose output
/// cannot be written reads no further requests.
pub const MAX_OUTPUT: usize =
    BATCH_LIMIT + SMALL_FILE as usize + HEAD_ROOM + 3 * MAX_REQUEST_LINE + 2;
/// What one connection buffers at most besides a directory listing it is sending.
pub const MAX_BUFFERED: usize = MAX_INPUT + MAX_OUTPUT;
/// A connection between requests keeps buffers up to this size; larger ones are given
/// back, so thousands of idle keep-alive clients cost little however they started.
const IDLE_KEEP: usize = 4 * 1024;

/// What a worker shares between its connections: the site, the clock text, scratch space.
pub struct Context {
    pub site: Site,
    pub timeouts: Timeouts,
    pub date: DateCache,
    /// Set once the worker was told to stop: finish responses, take no new requests.
    pub stopping: bool,
    /// Requests answered by this worker on the public listeners (`--max-requests`: a
    /// status poller does not wear a worker out).
    pub served: u64,
    /// What HTTPS listeners' connections are served with (certificate, tickets).
    pub tls: Option<Arc<ServerConfig>>,
    /// What public connections count on: the worker's scoreboard entry.
    pub tally: &'static Tally,
    /// The status listener's pages, when the worker has a scoreboard to read.
    pub status: Option<Pages>,
    /// `--http2`: public connections may speak HTTP/2.
    pub http2: bool,
    scratch: Vec<u8>,
    read_buf: Box<[u8]>,
}

impl Context {
    pub fn new(site: Site, timeouts: Timeouts) -> Context {
        Context {
            site,
            timeouts,
            date: DateCache::default(),
            stopping: false,
            served: 0,
            tls: None,
            tally: &UNCOUNTED,
            status: None,
            http2: true,
            scratch: Vec::with_capacity(256),
            read_buf: vec![0; READ_CHUNK].into_boxed_slice(),
        }
    }
}

/// What the connection waits for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Read,
    Write,
    /// The socket can take more, but this connection has had its turn: drive it again
    /// soon without waiting for an event (edge-triggered epoll would not send one).
    Again,
    Close,
}

/// Why a flush stopped before all output was sent.
enum Unsent {
    /// The transport takes nothing more now: wait for what it waits for.
    Blocked,
    /// The per-turn budget is spent; the socket may take more.
    Budget,
    /// The peer is gone, or the file shrank below the length the head promised.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between requests, nothing received yet.
    Idle,
    /// Part of a request head (or a body to skip) has arrived.
    Receiving,
    /// A response is being written.
    Sending,
}

/// A piece of a body still to send after the buffered output.
enum Chunk {
    Bytes {
        data: Vec<u8>,
        pos: usize,
    },
    /// Bytes of the connection's `body_file`, sent with `sendfile`.
    File {
        offset: u64,
        remaining: u64,
    },
}

pub struct Conn {
    transport: Transport,
    /// Where this connection's counts go (see the module doc).
    tally: &'static Tally,
    /// Accepted on the status listener: the status pages, nothing else.
    status: bool,
    /// Whether file bodies may go by `sendfile`; asked of the transport once.
    zero_copy: bool,
    peer: SocketAddr,
    input: Vec<u8>,
    /// How far the head at the start of `input` has been looked at.
    head: HeadScan,
    output: Vec<u8>,
    output_pos: usize,
    /// The file that `Chunk::File` pieces are sent from.
    body_file: Option<Rc<Content>>,
    /// What follows `output` (large files, multipart bodies), in order.
    chunks: VecDeque<Chunk>,
    /// Request body bytes still to be read and thrown away.
    discard: u64,
    close_after: bool,
    phase: Phase,
    deadline: Instant,
    send_timeout: Duration,
    /// File bytes sent per turn at most: [`SEND_BUDGET`] (a test makes it smaller).
    send_budget: u64,
    peer_closed: bool,
    /// The last read emptied the socket: closing now cannot provoke a reset.
    read_all: bool,
    /// Whether, and how, the connection may yet turn out to speak HTTP/2.
    detect: Detect,
    /// Its HTTP/2 side, once it speaks HTTP/2.
    h2: Option<Box<H2>>,
}

impl Conn {
    /// A connection accepted on a listener of `scheme`.
    pub fn new(
        transport: Transport,
        scheme: Scheme,
        peer: SocketAddr,
        ctx: &Context,
        now: Instant,
    ) -> Conn {
        let status = scheme == Scheme::Status;
        let tally = if status { &UNCOUNTED } else { ctx.tally };
        tally.opened();
        let detect = match () {
            _ if status || !ctx.http2 => Detect::No,
            _ if transport.is_secure() => Detect::Alpn,
            _ => Detect::Preface,
        };
        Conn {
            zero_copy: transport.can_sendfile(),
            transport,
            tally,
            status,
            peer,
            input: Vec::new(),
            head: HeadScan::default(),
            output: Vec::new(),
            output_pos: 0,
            body_file: None,
            chunks: VecDeque::new(),
            discard: 0,
            close_after: false,
            phase: Phase::Receiving,
            deadline: now + ctx.timeouts.header,
            send_timeout: ctx.timeouts.send,
            send_budget: SEND_BUDGET,
            peer_closed: false,
            read_all: false,
            detect,
            h2: None,
        }
    }

    /// When the connection times out unless something happens first.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The peer closed or reset its side: the next `drive` must read to see it.
    pub fn note_hangup(&mut self) {
        self.peer_closed = true;
    }

    /// Whether the connection sits between requests (safe to close when stopping).
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Idle
    }

    /// The bytes this connection holds in its buffers (capacity, not length): at most
    /// [`MAX_BUFFERED`], plus a directory listing being sent.
    pub fn buffered(&self) -> usize {
        let pieces: usize = self
            .chunks
            .iter()
            .map(|c| match c {
                Chunk::Bytes { data, .. } => data.capacity(),
                Chunk::File { .. } => 0,
            })
            .sum();
        let h2 = self.h2.as_ref().map_or(0, |h| h.buffered());
        self.input.capacity() + self.output.capacity() + pieces + h2
    }

    /// Does all the work possible now without blocking.
    pub fn drive(&mut self, ctx: &mut Context, now: Instant) -> Want {
        if self.h2.is_some() {
            return self.drive_h2(ctx, now);
        }
        let mut drained = false;
        loop {
            if self.detect != Detect::No && !self.input.is_empty() && self.sniff() {
                return self.drive_h2(ctx, now);
            }
            if self.has_output() && !self.can_batch() {
                match self.flush(now) {
                    Ok(()) => {}
                    Err(Unsent::Budget) => return Want::Again,
                    Err(Unsent::Blocked) => return self.blocked(Wait::Writable),
                    Err(Unsent::Failed) => return Want::Close,
                }
                if self.close_after {
                    return Want::Close;
                }
                self.set_phase(Phase::Idle, ctx, now);
                if self.input.is_empty() {
                    self.release_buffers();
                } else {
                    self.set_phase(Phase::Receiving, ctx, now);
                }
            }
            self.skip_body();
            if self.discard == 0
                && self.detect == Detect::No
                && !self.input.is_empty()
                && self.answer_one(ctx, now)
            {
                continue;
            }
            if self.has_output() {
                continue; // a batch that cannot grow: write it
            }
            if ctx.stopping && self.phase == Phase::Idle {
                return Want::Close;
            }
            if drained && !self.peer_closed {
                return Want::Read;
            }
            match self.transport.recv(&mut ctx.read_buf) {
                Ok(0) => {
                    self.read_all = true;
                    return Want::Close;
                }
                Ok(n) => {
                    // A short read emptied the socket: the next read would only say
                    // EAGAIN, and new data brings a new readiness event anyway.
                    drained = n < ctx.read_buf.len();
                    self.read_all = drained;
                    reserve_within(&mut self.input, n, MAX_INPUT);
                    self.input.extend_from_slice(&ctx.read_buf[..n]);
                    if self.phase == Phase::Idle {
                        self.set_phase(Phase::Receiving, ctx, now);
                    } else if self.discard > 0 {
                        self.deadline = now + ctx.timeouts.header;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return self.blocked(Wait::Readable),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Want::Close,
            }
        }
    }

    /// Decides from the first bytes (or ALPN) whether the connection speaks HTTP/2, and
    /// if so starts its HTTP/2 side; true then.
    fn sniff(&mut self) -> bool {
        let h2 = match self.detect {
            Detect::No => false,
            Detect::Alpn => self.transport.alpn_h2(),
            Detect::Preface => match sniff_preface(&self.input) {
                Sniff::Http1 => false,
                Sniff::Http2 => true,
                Sniff::Unsure => return false,
            },
        };
        self.detect = Detect::No;
        if h2 {
            self.start_h2();
        }
        h2
    }

    /// What to wait for after the transport would block going `attempted`'s way.
    fn blocked(&self, attempted: Wait) -> Want {
        match self.transport.waits_for(attempted) {
            Wait::Readable => Want::Read,
            Wait::Writable => Want::Write,
        }
    }

    /// The deadline passed (the caller's clock says `now`): answer 408 to a half-sent
    /// request, then close.
    pub fn time_out(&mut self, ctx: &mut Context, now: Instant) {
        if let Some(h2) = self.h2.as_mut() {
            if h2.lingering {
                return;
            }
            if !h2.failed {
                h2.go_away_now(&mut self.output);
            }
            let _ = self.send_output(false, now);
            return;
        }
        if self.phase == Phase::Receiving && self.output.is_empty() && !self.input.is_empty() {
            self.queue(Response::error(Status::RequestTimeout, false), ctx, now);
            let _ = self.flush(now);
        }
    }

    /// Closes, gently unless the client has sent nothing we have not read: lingering
    /// costs a shutdown and reads, a plain close nothing.
    pub fn close(self) {
        self.tally.closed();
        let clean = self.input.is_empty() && self.discard == 0 && self.read_all;
        self.transport.close(!clean);
    }

    /// Parses and answers one request from the input; false if the head is incomplete.
    fn answer_one(&mut self, ctx: &mut Context, now: Instant) -> bool {
        if !self.head.worth_parsing(&self.input) {
            return false;
        }
        let response = match parse(&self.input) {
            Ok(Parsed::Partial) => {
                self.head.partial();
                return false;
            }
            Ok(Parsed::Complete { request, len }) => {
                // A status page closes its connection: a scraper or a load balancer's
                // health check never holds a sync worker (or an event worker's slot)
                // between its visits.
                let keep_alive = request.keep_alive && !ctx.stopping && !self.status;
                let response = if self.status {
                    status::respond(&request, ctx.status.as_ref(), keep_alive)
                } else {
                    let secure = self.transport.is_secure();
                    respond(
                        &request,
                        &ctx.site,
                        secure,
                        keep_alive,
                        &mut ctx.scratch,
                        now,
                    )
                };
                hang_if_asked(request.path());
                access_log::record(self.peer, Some(&request), &response);
                self.discard = request.content_length;
                self.input.drain(..len);
                self.head.reset();
                response
            }
            Err(ParseError(status)) => {
                // The framing is unknown after a bad head: answer and close.
                self.input.clear();
                self.head.reset();
                self.read_all = false;
                let response = Response::error(status, false);
                access_log::record(self.peer, None, &response);
                response
            }
        };
        if !self.status {
            ctx.served += 1;
        }
        self.queue(response, ctx, now);
        self.set_phase(Phase::Sending, ctx, now);
        true
    }

    fn queue(&mut self, response: Response, ctx: &mut Context, now: Instant) {
        let in_memory = match &response.body {
            _ if response.head_only => 0,
            Body::Static(bytes) => bytes.len(),
            Body::File { len, .. } if *len <= SMALL_FILE => *len as usize,
            Body::Parts { .. } if response.content_length <= SMALL_FILE => {
                response.content_length as usize
            }
            _ => 0,
        };
        let head = HEAD_ROOM + response.location.as_ref().map_or(0, Vec::len);
        reserve_within(&mut self.output, head + in_memory, MAX_OUTPUT);
        self.tally.response(response.status.code());
        response.write_head(ctx.date.now(now), &mut self.output);
        if !response.keep_alive {
            self.close_after = true;
        }
        if response.head_only {
            return;
        }
        match response.body {
            Body::Empty => {}
            Body::Static(bytes) => self.output.extend_from_slice(bytes),
            // A listing: sent from its own buffer, not copied into the output.
            Body::Bytes(data) => self.chunks.push_back(Chunk::Bytes { data, pos: 0 }),
            Body::File { file, offset, len } if len <= SMALL_FILE => {
                self.read_into_output(&file, offset, len);
            }
            Body::File { file, offset, len } => {
                self.body_file = Some(file);
                self.chunks.push_back(Chunk::File {
                    offset,
                    remaining: len,
                });
            }
            // Small multipart bodies go out with the head in one write, like small files.
            Body::Parts { file, parts } if response.content_length <= SMALL_FILE => {
                for part in parts {
                    match part {
                        Part::Bytes(bytes) => self.output.extend_from_slice(&bytes),
                        Part::Range { offset, len } => {
                            if !self.read_into_output(&file, offset, len) {
                                break;
                            }
                        }
                    }
                }
            }
            Body::Parts { file, parts } => {
                self.body_file = Some(file);
                self.chunks.extend(parts.into_iter().map(|part| match part {
                    Part::Bytes(data) => Chunk::Bytes { data, pos: 0 },
                    Part::Range { offset, len } => Chunk::File {
                        offset,
                        remaining: len,
                    },
                }));
            }
        }
    }

    /// Appends `len` bytes of `file` from `offset` to the output; false if they could
    /// not all be read.
    fn read_into_output(&mut self, file: &Content, offset: u64, len: u64) -> bool {
        if file
            .append_to(&mut self.output, offset, len as usize)
            .is_err()
        {
            // The file shrank or vanished after the head was decided: send what
            // the head promised as far as we have it, then close.
            self.close_after = true;
            return false;
        }
        true
    }

    fn has_output(&self) -> bool {
        self.output_pos < self.output.len() || !self.chunks.is_empty()
    }

    /// Pipelined requests already received are answered before writing, so that their
    /// responses leave in one write.
    fn can_batch(&mut self) -> bool {
        self.chunks.is_empty()
            && !self.close_after
            && self.discard == 0
            && self.output.len() < BATCH_LIMIT
            && self.head.worth_parsing(&self.input)
    }

    /// Between requests: give back buffers that one large exchange grew.
    fn release_buffers(&mut self) {
        if self.input.capacity() > IDLE_KEEP {
            self.input = Vec::new();
        }
        if self.output.capacity() > IDLE_KEEP {
            self.output = Vec::new();
        }
    }

    fn skip_body(&mut self) {
        if self.discard > 0 {
            let n = self.discard.min(self.input.len() as u64) as usize;
            self.input.drain(..n);
            self.discard -= n as u64;
        }
    }

    /// Writes pending output in order: the buffered heads and small bodies, then each
    /// chunk, at most [`SEND_BUDGET`] bytes of file body per call.
    fn flush(&mut self, now: Instant) -> Result<(), Unsent> {
        let mut budget = self.send_budget;
        // More follows: the body, or (when the connection closes after this) the FIN,
        // which the close then carries in the same segment as the last bytes, so the
        // client gets response and end in one packet and one wake-up. A file body to
        // copy takes the output along with its first piece instead.
        if self.zero_copy || !matches!(self.chunks.front(), Some(Chunk::File { .. })) {
            self.send_output(!self.chunks.is_empty() || self.close_after, now)?;
        }
        // The patterns bind nothing, so each arm is free to borrow `self` again.
        loop {
            match self.chunks.front() {
                None => break,
                Some(Chunk::Bytes { .. }) => self.send_bytes_chunk(now)?,
                Some(Chunk::File { .. }) if self.zero_copy => {
                    self.send_file_chunk(&mut budget, now)?;
                }
                Some(Chunk::File { .. }) => self.copy_file_chunk(&mut budget, now)?,
            }
        }
        self.body_file = None;
        self.transport.send_queued().map_err(unsent)
    }

    /// Sends the rest of `output`, then empties it for reuse.
    fn send_output(&mut self, more: bool, now: Instant) -> Result<(), Unsent> {
        let (n, done) = send_all(&mut self.transport, &self.output[self.output_pos..], more);
        self.output_pos += n;
        if n > 0 {
            self.tally.sent(n);
            self.touch_send_deadline(now);
        }
        done?;
        self.output.clear();
        self.output_pos = 0;
        Ok(())
    }

    /// Sends the rest of the first chunk, a buffer, and drops it.
    fn send_bytes_chunk(&mut self, now: Instant) -> Result<(), Unsent> {
        let more = self.chunks.len() > 1;
        let Some(Chunk::Bytes { data, pos }) = self.chunks.front_mut() else {
            return Ok(());
        };
        let (n, done) = send_all(&mut self.transport, &data[*pos..], more);
        *pos += n;
        if n > 0 {
            self.tally.sent(n);
            self.touch_send_deadline(now);
        }
        done?;
        self.chunks.pop_front();
        Ok(())
    }

    /// Sends the first chunk, a file range, by `sendfile` until it is done or the budget
    /// is spent, and drops it once done.
    fn send_file_chunk(&mut self, budget: &mut u64, now: Instant) -> Result<(), Unsent> {
        loop {
            let Some(Chunk::File { offset, remaining }) = self.chunks.front_mut() else {
                return Ok(());
            };
            let Some(file) = self.body_file.as_ref().filter(|_| *remaining > 0) else {
                self.chunks.pop_front();
                return Ok(());
            };
            if *budget == 0 {
                return Err(Unsent::Budget);
            }
            let count = (*remaining).min(*budget) as usize;
            match self.transport.send_file(file.as_fd(), *offset, count) {
                // The file shrank under us: the promised length cannot be met.
                Ok(0) => return Err(Unsent::Failed),
                // A short count does not prove the socket full: a signal landing
                // mid-call also cuts it short, and then no write event would ever come.
                // Only WouldBlock does, so go round again.
                Ok(n) => {
                    *offset += n as u64;
                    *remaining -= n as u64;
                    *budget -= n as u64;
                    self.tally.sent(n);
                    self.deadline = now + self.send_timeout;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(unsent(e)),
            }
        }
    }

    /// Without zero-copy sending (TLS) a file range goes through `output` in pieces that
    /// fill it to [`COPY_PIECE`]: the first piece tops up the head waiting there, so
    /// the head travels in the body's first record rather than a small one of its own,
    /// and every record but the response's last is full. Output the socket refused part
    /// of is sent on its own first. The buffer keeps to `COPY_PIECE`, below
    /// [`MAX_OUTPUT`].
    fn copy_file_chunk(&mut self, budget: &mut u64, now: Instant) -> Result<(), Unsent> {
        loop {
            let unsent = self.output.len() - self.output_pos;
            if self.output_pos > 0 || unsent >= COPY_PIECE {
                self.send_output(true, now)?;
                continue;
            }
            let Some(Chunk::File { offset, remaining }) = self.chunks.front_mut() else {
                return Ok(());
            };
            let Some(file) = self.body_file.as_ref().filter(|_| *remaining > 0) else {
                self.chunks.pop_front();
                return self.send_output(!self.chunks.is_empty() || self.close_after, now);
            };
            if *budget == 0 {
                return Err(Unsent::Budget);
            }
            // Whole pieces, even when that passes the budget (by less than one): a piece
            // cut to the budget would leave a short record at every turn's end.
            let count = (*remaining).min((COPY_PIECE - unsent) as u64) as usize;
            reserve_within(&mut self.output, count, MAX_OUTPUT);
            if file.append_to(&mut self.output, *offset, count).is_err() {
                // The file shrank under us, as for `sendfile` returning 0.
                return Err(Unsent::Failed);
            }
            *offset += count as u64;
            *remaining -= count as u64;
            *budget = budget.saturating_sub(count as u64);
            // Dropped before its last piece is sent, so that piece (here, or when a
            // blocked flush resumes) goes without MSG_MORE unless more really follows:
            // the kernel would hold its tail back waiting for bytes that never come.
            if *remaining == 0 {
                self.chunks.pop_front();
            }
            self.send_output(!self.chunks.is_empty() || self.close_after, now)?;
        }
    }

    fn touch_send_deadline(&mut self, now: Instant) {
        // Progress was made: the send timeout counts from now.
        self.deadline = now + self.send_timeout;
    }

    fn set_phase(&mut self, phase: Phase, ctx: &Context, now: Instant) {
        self.phase = phase;
        self.deadline = now
            + match phase {
                Phase::Idle => ctx.timeouts.keepalive,
                Phase::Receiving => ctx.timeouts.header,
                Phase::Sending => ctx.timeouts.send,
            };
    }
}

/// Sends all of `bytes` unless the transport stops taking them; returns how many went
/// out, and why it stopped short if it did. The one place output meets the transport.
fn send_all(transport: &mut Transport, bytes: &[u8], more: bool) -> (usize, Result<(), Unsent>) {
    let mut sent = 0;
    while sent < bytes.len() {
        match transport.send(&bytes[sent..], more) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return (sent, Err(unsent(e))),
        }
    }
    (sent, Ok(()))
}

/// A send error as a reason to stop: only `WouldBlock` leaves the connection usable.
fn unsent(e: io::Error) -> Unsent {
    if e.kind() == ErrorKind::WouldBlock {
        Unsent::Blocked
    } else {
        Unsent::Failed
    }
}

/// Makes room for `extra` more bytes, growing by doubling as `Vec` does but never past
/// `limit` (unless the bytes themselves need more), so the buffer's capacity keeps to
/// the bound its owner documents.
fn reserve_within(buf: &mut Vec<u8>, extra: usize, limit: usize) {
    let need = buf.len() + extra;
    if need > buf.capacity() {
        let target = need.max((buf.capacity() * 2).min(limit));
        buf.reserve_exact(target - buf.len());
    }
}

impl AsFd for Conn {
    /// The socket to wait on.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.transport.as_fd()
    }
}

/// Test-only: with `PREFORKD_TEST_HANG_PATH=/hang` in the environment, a request for
/// exactly that path makes its worker sleep forever, so the --timeout tests have a hung
/// worker to find. Without the variable this is one failed env lookup per worker.
fn hang_if_asked(path: &[u8]) {
    use std::sync::OnceLock;
    static HANG: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    let hang = HANG.get_or_init(|| {
        std::env::var_os("PREFORKD_TEST_HANG_PATH")
            .map(|p| std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()).to_vec())
    });
    if hang.as_deref() == Some(path) {
        crate::log::warn(format_args!("PREFORKD_TEST_HANG_PATH: hanging on purpose"));
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

#[cfg(test)]
mod tests {
    //! `Conn` against a real client socket. A loopback TCP pair, not a `socketpair`: the
    //! plain transport holds a `TcpStream`, and the paths under test (MSG_MORE, `sendfile`,
    //! a small SO_SNDBUF filling up) are TCP's; a Unix socket would test other code.

    use super::*;
    use crate::config::Symlinks;
    use crate::http::response::SERVER;
    use crate::scoreboard::Board;
    use crate::site::root::Root;
    use crate::tls::testing::{TestPki, client};
    use rustls::version::{TLS12, TLS13};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};

    const HEADER: Duration = Duration::from_secs(1);
    const KEEPALIVE: Duration = Duration::from_secs(2);
    const SEND: Duration = Duration::from_secs(3);

    struct Pair {
        /// When the connection was accepted: the clock its deadlines count from.
        t0: Instant,
        conn: Conn,
        ctx: Context,
        client: TcpStream,
        _dir: tempfile::TempDir,
    }

    /// A connection over loopback to a site holding `files`; distinct timeouts, so a
    /// deadline tells which phase set it.
    fn pair(files: &[(&str, &[u8])]) -> Pair {
        pair_over(files, Transport::Plain, Scheme::Http, None)
    }

    /// The same over TLS, the handshake still to come.
    fn tls_pair(files: &[(&str, &[u8])]) -> Pair {
        use std::sync::{Arc, OnceLock};
        static CONFIG: OnceLock<Arc<rustls::ServerConfig>> = OnceLock::new();
        let config = CONFIG.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let (cert, key) = TestPki::get().write(dir.path());
            crate::tls::server_config(&cert, &key, &crate::tls::TicketKeys::new().unwrap(), true)
                .unwrap()
        });
        pair_over(
            files,
            |server| Transport::tls(server, config).unwrap(),
            Scheme::Https,
            None,
        )
    }

    /// A connection accepted on a listener of `scheme`, counting on `board`'s entry 0
    /// if given (else on nothing).
    fn pair_over(
        files: &[(&str, &[u8])],
        transport: impl FnOnce(TcpStream) -> Transport,
        scheme: Scheme,
        board: Option<Board>,
    ) -> Pair {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        let site = Site::new(
            Root::open(dir.path(), Symlinks::Inside, false).unwrap(),
            None,
            false,
        );
        let timeouts = Timeouts {
            header: HEADER,
            keepalive: KEEPALIVE,
            send: SEND,
        };
        let mut ctx = Context::new(site, timeouts);
        if let Some(board) = board {
            ctx.tally = board.entry(0).tally();
            ctx.status = Some(Pages::new(board, crate::config::WorkerModel::Event));
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.set_nodelay(true).unwrap();
        let (server, peer) = listener.accept().unwrap();
        // As a worker's accept4(SOCK_NONBLOCK) leaves it.
        server.set_nonblocking(true).unwrap();
        let t0 = Instant::now();
        let conn = Conn::new(transport(server), scheme, peer, &ctx, t0);
        Pair {
            t0,
            conn,
            ctx,
            client,
            _dir: dir,
        }
    }

    /// Serves `p`'s connection as the sync model does (drive, then wait for what it
    /// wants) while `client` runs on its own thread with the client's socket, until the
    /// connection closes. What `client` returned, and how often the connection yielded
    /// its turn with its send budget spent.
    fn serve<T: Send + 'static>(
        p: Pair,
        client: impl FnOnce(TcpStream) -> T + Send + 'static,
    ) -> (T, usize) {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let Pair {
            mut conn,
            mut ctx,
            client: socket,
            _dir: dir,
            ..
        } = p;
        let thread = std::thread::spawn(move || client(socket));
        let mut yielded = 0;
        loop {
            let want = conn.drive(&mut ctx, Instant::now());
            assert!(conn.buffered() <= MAX_BUFFERED, "{}", conn.buffered());
            let events = match want {
                Want::Close => break,
                Want::Again => {
                    yielded += 1;
                    continue;
                }
                Want::Read => PollFlags::POLLIN,
                Want::Write => PollFlags::POLLOUT,
            };
            let mut fds = [PollFd::new(conn.as_fd(), events)];
            let ready = poll(&mut fds, PollTimeout::from(10_000u16)).unwrap();
            assert!(ready > 0, "no readiness in 10 s waiting for {want:?}");
        }
        conn.close();
        drop(dir);
        (thread.join().unwrap(), yielded)
    }

    impl Pair {
        fn drive(&mut self, now: Instant) -> Want {
            let want = self.conn.drive(&mut self.ctx, now);
            assert!(
                self.conn.buffered() <= MAX_BUFFERED,
                "{}",
                self.conn.buffered()
            );
            want
        }

        /// What the client can read without waiting.
        fn available(&mut self) -> Vec<u8> {
            self.client.set_nonblocking(true).unwrap();
            let mut out = Vec::new();
            let mut buf = [0u8; 64 * 1024];
            loop {
                match self.client.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("client read: {e}"),
                }
            }
            self.client.set_nonblocking(false).unwrap();
            out
        }

        /// Waits up to a second until the client can read (or, with `or_writable`, the
        /// server can write), then takes what the client can read.
        fn wait_and_read(&mut self, or_writable: bool) -> Vec<u8> {
            use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
            let server = if or_writable {
                PollFlags::POLLOUT
            } else {
                PollFlags::empty()
            };
            let mut fds = [
                PollFd::new(self.client.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.conn.as_fd(), server),
            ];
            let _ = poll(&mut fds, PollTimeout::from(1000u16));
            self.available()
        }

        /// Closes the server side and reads everything up to its end.
        fn close_and_read(self) -> Vec<u8> {
            let Pair {
                conn, mut client, ..
            } = self;
            conn.close();
            client
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut out = Vec::new();
            client.read_to_end(&mut out).unwrap();
            out
        }
    }

    /// The response with the values that change from run to run replaced by `*`.
    fn masked(response: &[u8]) -> String {
        let text = String::from_utf8_lossy(response);
        let (head, body) = text.split_once("\r\n\r\n").expect("a whole head");
        let head: Vec<String> = head
            .split("\r\n")
            .map(|line| match line.split_once(": ") {
                Some((name @ ("Date" | "Last-Modified" | "ETag"), _)) => format!("{name}: *"),
                _ => line.to_owned(),
            })
            .collect();
        format!("{}\r\n\r\n{body}", head.join("\r\n"))
    }

    fn ok_text(body: &str, connection: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\nServer: {SERVER}\r\nDate: *\r\nConnection: {connection}\r\n\
             Content-Type: text/plain\r\nContent-Length: {}\r\n\
             Last-Modified: *\r\nETag: *\r\nAccept-Ranges: bytes\r\n\r\n{body}",
            body.len()
        )
    }

    /// Recognisable content whose every byte depends on its offset.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn one_request_gets_exactly_its_response_and_the_connection_waits_idle() {
        let mut p = pair(&[("a.txt", b"hello\n")]);
        let t0 = p.t0 + Duration::from_millis(5);
        p.client
            .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert_eq!(p.drive(t0), Want::Read);
        assert_eq!(masked(&p.available()), ok_text("hello\n", "keep-alive"));
        assert!(p.conn.is_idle());
        assert_eq!(p.conn.deadline(), t0 + KEEPALIVE);
    }

    #[test]
    fn connection_close_is_answered_then_closed() {
        let mut p = pair(&[("a.txt", b"bye\n")]);
        p.client
            .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        assert_eq!(p.drive(Instant::now()), Want::Close);
        assert_eq!(masked(&p.close_and_read()), ok_text("bye\n", "close"));
    }

    #[test]
    fn pipelined_requests_are_answered_in_order_in_one_turn() {
        let mut p = pair(&[("a.txt", b"A"), ("b.txt", b"BB"), ("c.txt", b"CCC")]);
        let requests: Vec<u8> = ["a", "b", "c"]
            .iter()
            .flat_map(|n| format!("GET /{n}.txt HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes())
            .collect();
        p.client.write_all(&requests).unwrap();
        assert_eq!(p.drive(Instant::now()), Want::Read);
        let out = p.available();
        let text = String::from_utf8_lossy(&out);
        let starts: Vec<usize> = text.match_indices("HTTP/1.1 ").map(|(i, _)| i).collect();
        assert_eq!(starts.len(), 3, "{text}");
        let expected = ["A", "BB", "CCC"].map(|b| ok_text(b, "keep-alive"));
        for (k, want) in expected.iter().enumerate() {
            let end = starts.get(k + 1).copied().unwrap_or(out.len());
            assert_eq!(&masked(&out[starts[k]..end]), want);
        }
    }

    #[test]
    fn a_head_in_tiny_pieces_is_answered_once_whole() {
        let mut p = pair(&[("a.txt", b"pieces\n")]);
        let request = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
        let t0 = p.t0;
        for (k, byte) in request.iter().enumerate() {
            p.client.write_all(&[*byte]).unwrap();
            // Loopback has the byte queued by the time write returns.
            assert_eq!(p.drive(t0 + Duration::from_millis(k as u64)), Want::Read);
            if k + 1 < request.len() {
                assert!(p.available().is_empty(), "answered after {} bytes", k + 1);
                assert!(!p.conn.is_idle());
                // The header timeout counts from the connection's start, not the latest
                // byte: a client trickling a head cannot keep it open for ever.
                assert_eq!(p.conn.deadline(), t0 + HEADER);
            }
        }
        assert_eq!(masked(&p.available()), ok_text("pieces\n", "keep-alive"));
    }

    #[test]
    fn a_connection_counts_responses_and_bytes_on_its_entry_and_status_ones_do_not() {
        let board = Board::new().unwrap();
        board.start(0, 0, 0);
        board.entry(0).ready();
        let big = pattern(100 * 1024);
        let files: &[(&str, &[u8])] = &[("a.txt", b"hello\n"), ("big.bin", &big)];
        let mut p = pair_over(files, Transport::Plain, Scheme::Http, Some(board));
        assert_eq!(board.snapshot().slots[0].connections, 1);
        p.client
            .write_all(
                b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n\
                  GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n\
                  HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n\
                  GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
            .unwrap();
        let mut want = Want::Read;
        for _ in 0..10_000 {
            want = p.drive(Instant::now());
            if want == Want::Close {
                break;
            }
        }
        assert_eq!(want, Want::Close);
        let received = p.close_and_read().len() as u64;
        let counts = board.snapshot().slots[0];
        assert_eq!(counts.responses, [0, 3, 0, 1, 0]);
        assert_eq!(counts.bytes, received, "every byte the client got, no more");
        assert_eq!(counts.connections, 0);

        // The status listener's connections count on nothing.
        let mut p = pair_over(&[], Transport::Plain, Scheme::Status, Some(board));
        p.client
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        for _ in 0..10_000 {
            if p.drive(Instant::now()) == Want::Close {
                break;
            }
        }
        let out = p.close_and_read();
        assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(
            String::from_utf8_lossy(&out)
                .contains("preforkd_requests_total{slot=\"0\",class=\"2xx\"} 3\n")
        );
        assert_eq!(board.snapshot().slots[0], counts);
    }

    #[test]
    fn a_half_sent_head_times_out_with_408() {
        let mut p = pair(&[]);
        let t0 = p.t0;
        p.client.write_all(b"GET /slow HTTP/1.1\r\nHo").unwrap();
        assert_eq!(p.drive(t0), Want::Read);
        assert_eq!(p.conn.deadline(), t0 + HEADER);
        // What a worker model does once its clock passes the deadline.
        p.conn.time_out(&mut p.ctx, t0 + HEADER);
        let out = p.close_and_read();
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
        assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
    }

    #[test]
    fn an_idle_connection_times_out_silently() {
        let mut p = pair(&[]);
        let t0 = p.t0;
        assert_eq!(p.drive(t0), Want::Read);
        p.conn.time_out(&mut p.ctx, t0 + HEADER);
        assert!(p.close_and_read().is_empty());
    }

    /// A client that reads slowly through a small socket buffer: the connection must
    /// stop at a full socket (`Want::Write`), yield after its budget (`Want::Again`),
    /// keep the send deadline moving with progress, and deliver every byte in order.
    fn slow_reader_gets_a_large_file(zero_copy: bool) {
        const LEN: usize = 1024 * 1024 + 7;
        let body = pattern(LEN);
        let mut p = pair(&[("big.bin", &body)]);
        p.conn.zero_copy = zero_copy;
        // A quarter of the body per turn, so that some turn spends all of it before the
        // socket fills.
        p.conn.send_budget = 256 * 1024;
        // A small send buffer fills after a few pieces. (A tiny receive window as well
        // would make the kernel probe a zero window on a timer: slow, proving nothing.)
        socket2::SockRef::from(&p.conn)
            .set_send_buffer_size(16 * 1024)
            .unwrap();
        p.client
            .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let (mut blocked, mut yielded) = (0, 0);
        let mut out = Vec::new();
        let mut want = Want::Read;
        let mut last_deadline = p.conn.deadline();
        for turn in 1..100_000u64 {
            let now = p.t0 + Duration::from_millis(turn);
            want = p.drive(now);
            match want {
                Want::Write => blocked += 1,
                Want::Again => yielded += 1,
                Want::Read => break,
                Want::Close => panic!("closed after {} bytes", out.len()),
            }
            // Progress restarts the send timeout; a turn that found the socket still
            // full leaves it where it was.
            let deadline = p.conn.deadline();
            assert!(deadline == now + SEND || deadline == last_deadline);
            last_deadline = deadline;
            // As a worker waits for writability: here the client must read first.
            out.extend(p.wait_and_read(true));
        }
        assert_eq!(want, Want::Read);
        // All is written to the socket; the last of it may still be on its way.
        while !out.ends_with(&body[LEN - 64..]) && out.len() < LEN + 1024 {
            let more = p.wait_and_read(false);
            assert!(!more.is_empty(), "stuck at {} bytes", out.len());
            out.extend(more);
        }
        let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8_lossy(&out[..head_end]);
        assert!(
            head.contains(&format!("\r\nContent-Length: {LEN}\r\n")),
            "{head}"
        );
        assert!(out[head_end..] == body[..], "the body arrived altered");
        assert!(blocked > 0, "the socket never filled");
        assert!(yielded > 0, "a 1 MiB body never spent a turn's budget");
        assert!(p.conn.is_idle());
    }

    #[test]
    fn slow_reader_gets_a_large_file_by_sendfile() {
        slow_reader_gets_a_large_file(true);
    }

    #[test]
    fn slow_reader_gets_a_large_file_copied_when_sendfile_is_unavailable() {
        slow_reader_gets_a_large_file(false);
    }

    #[test]
    fn a_range_of_a_large_file_without_sendfile_is_exact() {
        let body = pattern(200 * 1024);
        let mut p = pair(&[("big.bin", &body)]);
        p.conn.zero_copy = false;
        p.client
            .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-150999\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut want = Want::Again;
        while want == Want::Again || want == Want::Write {
            want = p.drive(Instant::now());
        }
        assert_eq!(want, Want::Close);
        let out = p.close_and_read();
        let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(out.starts_with(b"HTTP/1.1 206 "));
        assert!(out[head_end..] == body[1000..151_000]);
    }

    #[test]
    fn a_peer_that_closes_is_closed() {
        let mut p = pair(&[]);
        p.client.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(p.drive(Instant::now()), Want::Close);
    }

    #[test]
    fn buffers_stay_bounded_and_are_given_back_between_requests() {
        let mut p = pair(&[("f30k", &[b'x'; 30 * 1024])]);
        let request = b"GET /f30k HTTP/1.1\r\nHost: a\r\n\r\n";
        p.client.write_all(&request.repeat(200)).unwrap();
        // The client reads nothing: the connection fills the socket, then stops.
        let mut want = Want::Read;
        for _ in 0..100 {
            want = p.drive(Instant::now());
            if want == Want::Write {
                break;
            }
        }
        assert_eq!(want, Want::Write, "the socket never filled");
        assert!(p.conn.buffered() > IDLE_KEEP);
        // Now the client reads everything; the connection ends up idle and small.
        let mut received = 0;
        for _ in 0..10_000 {
            received += p.available().len();
            want = p.drive(Instant::now());
            if want == Want::Read && p.conn.is_idle() && received > 200 * 30 * 1024 {
                break;
            }
        }
        assert!(p.conn.is_idle(), "received {received}");
        assert!(
            p.conn.buffered() <= 2 * IDLE_KEEP,
            "an idle connection holds {} bytes",
            p.conn.buffered()
        );
    }

    /// A response read off `reader`: the head, and the body its Content-Length gives.
    fn read_response(reader: &mut impl BufRead) -> (String, Vec<u8>) {
        let mut head = String::new();
        while !head.ends_with("\r\n\r\n") {
            assert!(
                reader.read_line(&mut head).unwrap() > 0,
                "the head ended early"
            );
        }
        let len: usize = head
            .split("\r\n")
            .find_map(|line| line.strip_prefix("Content-Length: "))
            .expect("a Content-Length")
            .parse()
            .unwrap();
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        (head, body)
    }

    #[test]
    fn a_small_file_over_tls13_and_tls12_is_exact_and_ends_with_close_notify() {
        for version in [&TLS13, &TLS12] {
            let p = tls_pair(&[("a.txt", b"hello\n")]);
            let config = TestPki::get().client_config(&[version], &[b"http/1.1"]);
            let ((out, alpn, agreed), _) = serve(p, move |socket| {
                let mut c = client(&config, socket);
                c.write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .unwrap();
                let mut out = Vec::new();
                // An error unless the server ends with close_notify.
                c.read_to_end(&mut out).unwrap();
                (
                    out,
                    c.conn.alpn_protocol().map(<[u8]>::to_vec),
                    c.conn.protocol_version(),
                )
            });
            assert_eq!(masked(&out), ok_text("hello\n", "close"));
            assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
            assert_eq!(agreed, Some(version.version));
        }
    }

    #[test]
    fn a_multi_mib_file_over_tls_is_exact_in_budgeted_turns_then_keep_alive_goes_on() {
        const LEN: usize = 3 * 1024 * 1024 + 7;
        let body = pattern(LEN);
        let mut p = tls_pair(&[("big.bin", &body), ("a.txt", b"after\n")]);
        p.conn.send_budget = 256 * 1024;
        let config = TestPki::get().client_config(&[&TLS13], &[b"http/1.1"]);
        let (responses, yielded) = serve(p, move |socket| {
            let mut c = BufReader::new(client(&config, socket));
            c.get_mut()
                .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let big = read_response(&mut c);
            // The same connection, after 3 MiB: a range of the big file, then a small one.
            c.get_mut()
                .write_all(
                    b"GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-200999\r\n\r\n\
                      GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                )
                .unwrap();
            let range = read_response(&mut c);
            let small = read_response(&mut c);
            let mut rest = Vec::new();
            c.read_to_end(&mut rest).unwrap();
            assert!(rest.is_empty());
            [big, range, small]
        });
        let [(head, got), (range_head, range), (small_head, small)] = responses;
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(got == body, "the body arrived altered");
        assert!(range_head.starts_with("HTTP/1.1 206 "), "{range_head}");
        assert!(range == body[1000..201_000]);
        assert!(small_head.contains("\r\nConnection: close\r\n"));
        assert_eq!(small, b"after\n");
        assert!(yielded > 0, "a 3 MiB body never spent a turn's budget");
    }

    #[test]
    fn plain_http_to_a_tls_connection_gets_400_and_the_end() {
        let p = tls_pair(&[("a.txt", b"secret\n")]);
        let (out, _) = serve(p, |mut socket| {
            socket
                .write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut out = Vec::new();
            socket.read_to_end(&mut out).unwrap();
            out
        });
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nThe plain HTTP request was sent to HTTPS port\n"));
    }

    #[test]
    fn the_handshake_counts_against_the_header_timeout() {
        let mut p = tls_pair(&[]);
        let t0 = p.t0;
        // Half a ClientHello: a record header announcing more than follows.
        p.client
            .write_all(&[
                0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03,
            ])
            .unwrap();
        for k in 1..5 {
            assert_eq!(p.drive(t0 + Duration::from_millis(k * 100)), Want::Read);
            assert_eq!(p.conn.deadline(), t0 + HEADER);
        }
        p.conn.time_out(&mut p.ctx, t0 + HEADER);
        // No 408: there is no request to answer, and no TLS to say it in.
        assert!(p.close_and_read().is_empty());
    }

    #[test]
    fn a_large_file_over_tls_leaves_in_full_records_but_the_last() {
        const LEN: usize = 2 * 1024 * 1024 + 5;
        let body = pattern(LEN);
        let p = tls_pair(&[("big.bin", &body)]);
        // TLS 1.2: application data is the only thing in records of type 23 there.
        let config = TestPki::get().client_config(&[&TLS12], &[b"http/1.1"]);
        let ((sizes, out), yielded) = serve(p, move |mut socket| {
            let name = "localhost".try_into().unwrap();
            let mut c = rustls::ClientConnection::new(config, name).unwrap();
            while c.is_handshaking() {
                c.complete_io(&mut socket).unwrap();
            }
            c.writer()
                .write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            c.complete_io(&mut socket).unwrap();
            let mut raw = Vec::new();
            socket.read_to_end(&mut raw).unwrap();
            let mut sizes = Vec::new();
            let mut at = 0;
            while let Some(header) = raw.get(at..at + 5) {
                let len = u16::from_be_bytes([header[3], header[4]]) as usize;
                if header[0] == 23 {
                    sizes.push(len);
                }
                at += 5 + len;
            }
            let (mut records, mut out) = (&raw[..], Vec::new());
            while !records.is_empty() {
                c.read_tls(&mut records).unwrap();
                c.process_new_packets().unwrap();
                let _ = c.reader().read_to_end(&mut out);
            }
            (sizes, out)
        });
        let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(out[head_end..] == body[..], "the body arrived altered");
        assert!(yielded > 0, "2 MiB never spent a turn's budget");
        // A full record: 16 KiB of data, an 8-byte explicit nonce and a 16-byte tag.
        let full = 16 * 1024 + 8 + 16;
        assert_eq!(sizes.len(), out.len().div_ceil(16 * 1024), "{sizes:?}");
        let short: Vec<_> = sizes
            .iter()
            .enumerate()
            .filter(|(_, n)| **n != full)
            .collect();
        assert_eq!(short, [(sizes.len() - 1, &(out.len() % (16 * 1024) + 24))]);
    }
}
