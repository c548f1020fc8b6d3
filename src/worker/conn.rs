//! One client connection as an explicit state machine over a non-blocking socket.
//!
//! Both worker models drive the same [`Conn`]: they call [`Conn::drive`] when the socket
//! may be ready and wait for what it returns ([`Want`]); `sync` waits with `poll` on one
//! socket, `event` with epoll on many. All protocol decisions happen here and in `http`.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::sendfile::sendfile64;
use nix::sys::socket::{MsgFlags, send};

use super::access_log;
use crate::config::Timeouts;
use crate::http::date::DateCache;
use crate::http::request::{HeadScan, MAX_HEAD, MAX_REQUEST_LINE, ParseError, Parsed, parse};
use crate::http::response::Part;
use crate::http::status::Status;
use crate::site::handler::{Body, Response, Site, respond};
use crate::site::root::Content;

/// Files up to this size are read into the response buffer and sent with the head in
/// one write; larger ones go by `sendfile`.
const SMALL_FILE: u64 = 32 * 1024;
/// Pipelined responses are gathered into one write up to about this many bytes.
const BATCH_LIMIT: usize = 64 * 1024;
/// The most file bytes one connection sends per turn before the others get theirs
/// (lighttpd and nginx's `sendfile_max_chunk` do the same): a big download then cannot
/// hog the worker, and the client reads each piece while the next is being sent.
/// (Also keeps each `sendfile` call far below its 2 GiB ceiling.)
const SEND_BUDGET: u64 = 256 * 1024;
/// How much one read takes from the socket.
const READ_CHUNK: usize = 16 * 1024;

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
    /// Requests answered by this worker.
    pub served: u64,
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

/// How far a flush got.
enum Flushed {
    All,
    /// The socket is full: wait until it is writable.
    Blocked,
    /// The per-turn budget is spent; the socket may take more.
    Budget,
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
    pub stream: TcpStream,
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
    peer_closed: bool,
    /// The last read emptied the socket: closing now cannot provoke a reset.
    read_all: bool,
}

impl Conn {
    pub fn new(stream: TcpStream, peer: SocketAddr, ctx: &Context, now: Instant) -> Conn {
        Conn {
            stream,
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
            peer_closed: false,
            read_all: false,
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
        self.input.capacity() + self.output.capacity() + pieces
    }

    /// Does all the work possible now without blocking.
    pub fn drive(&mut self, ctx: &mut Context, now: Instant) -> Want {
        let mut drained = false;
        loop {
            if self.has_output() && !self.can_batch() {
                match self.flush(now) {
                    Ok(Flushed::All) => {}
                    Ok(Flushed::Budget) => return Want::Again,
                    Ok(Flushed::Blocked) => {
                        return Want::Write;
                    }
                    Err(()) => return Want::Close,
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
            if self.discard == 0 && !self.input.is_empty() && self.answer_one(ctx, now) {
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
            match self.stream.read(&mut ctx.read_buf) {
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
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Want::Read,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Want::Close,
            }
        }
    }

    /// The deadline passed: answer 408 to a half-sent request, then close.
    pub fn time_out(&mut self, ctx: &mut Context) {
        if self.phase == Phase::Receiving && self.output.is_empty() && !self.input.is_empty() {
            let now = Instant::now();
            self.queue(Response::error(Status::RequestTimeout, false), ctx, now);
            let _ = self.flush(now);
        }
    }

    /// Closes gently: stop sending, then take what the client already sent, so that the
    /// kernel does not answer unread input with a reset that could destroy our response.
    pub fn close(self) {
        // A client that has sent nothing we have not read gets a plain close.
        if self.input.is_empty() && self.discard == 0 && self.read_all {
            return;
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let mut sink = [0u8; 4096];
        let mut stream = &self.stream;
        for _ in 0..16 {
            match stream.read(&mut sink) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
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
                let keep_alive = request.keep_alive && !ctx.stopping;
                let response = respond(&request, &ctx.site, keep_alive, &mut ctx.scratch, now);
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
        ctx.served += 1;
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

    /// Writes pending output, up to [`SEND_BUDGET`] bytes of file body per call.
    fn flush(&mut self, now: Instant) -> Result<Flushed, ()> {
        let mut budget = SEND_BUDGET;
        while self.output_pos < self.output.len() {
            let mut flags = MsgFlags::MSG_NOSIGNAL;
            // More follows: the body, or (when the connection closes after this) the
            // FIN, which the close then carries in the same segment as the last bytes,
            // so the client gets response and end in one packet and one wake-up.
            if !self.chunks.is_empty() || self.close_after {
                flags |= MsgFlags::from_bits_retain(libc::MSG_MORE);
            }
            match send(
                std::os::fd::AsRawFd::as_raw_fd(&self.stream),
                &self.output[self.output_pos..],
                flags,
            ) {
                Ok(n) => {
                    self.output_pos += n;
                    self.touch_send_deadline(now);
                }
                Err(Errno::EAGAIN) => return Ok(Flushed::Blocked),
                Err(Errno::EINTR) => {}
                Err(_) => return Err(()),
            }
        }
        self.output.clear();
        self.output_pos = 0;
        loop {
            let more = self.chunks.len() > 1;
            let Some(chunk) = self.chunks.front_mut() else {
                break;
            };
            let sent = match chunk {
                Chunk::Bytes { data, pos } => {
                    let Some(rest) = data.get(*pos..).filter(|r| !r.is_empty()) else {
                        self.chunks.pop_front();
                        continue;
                    };
                    let mut flags = MsgFlags::MSG_NOSIGNAL;
                    if more {
                        flags |= MsgFlags::from_bits_retain(libc::MSG_MORE);
                    }
                    let sent = send(std::os::fd::AsRawFd::as_raw_fd(&self.stream), rest, flags);
                    if let Ok(n) = sent {
                        *pos += n;
                    }
                    sent
                }
                Chunk::File { offset, remaining } => {
                    let Some(file) = self.body_file.as_ref().filter(|_| *remaining > 0) else {
                        self.chunks.pop_front();
                        continue;
                    };
                    if budget == 0 {
                        return Ok(Flushed::Budget);
                    }
                    let mut off = *offset as i64;
                    let count = (*remaining).min(budget) as usize;
                    match sendfile64(self.stream.as_fd(), file.as_fd(), Some(&mut off), count) {
                        // The file shrank under us: the promised length cannot be met.
                        Ok(0) => return Err(()),
                        // A short count does not mean the socket is full: a signal
                        // landing mid-call also cuts it short, and then no write event
                        // would ever come. Only EAGAIN proves the socket full.
                        Ok(n) => {
                            *offset += n as u64;
                            *remaining -= n as u64;
                            budget -= n as u64;
                            Ok(n)
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            match sent {
                Ok(_) => self.touch_send_deadline(now),
                Err(Errno::EAGAIN) => return Ok(Flushed::Blocked),
                Err(Errno::EINTR) => {}
                Err(_) => return Err(()),
            }
        }
        self.body_file = None;
        Ok(Flushed::All)
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
    use super::*;
    use crate::config::Symlinks;
    use crate::site::cache::FileCache;
    use crate::site::root::Root;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    /// A connection over loopback to a site holding one 30 KiB file.
    fn connected(dir: &std::path::Path) -> (Conn, Context, TcpStream) {
        std::fs::write(dir.join("f30k"), vec![b'x'; 30 * 1024]).unwrap();
        let site = Site {
            root: Root::open(dir, Symlinks::Inside, false).unwrap(),
            cache: FileCache::default(),
            cache_control: None,
            autoindex: false,
        };
        let second = Duration::from_secs(1);
        let ctx = Context::new(
            site,
            Timeouts {
                header: second,
                keepalive: second,
                send: second,
            },
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, peer) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        (Conn::new(server, peer, &ctx, Instant::now()), ctx, client)
    }

    #[test]
    fn buffers_stay_bounded_and_are_given_back_between_requests() {
        let dir = tempfile::tempdir().unwrap();
        let (mut conn, mut ctx, mut client) = connected(dir.path());
        let request = b"GET /f30k HTTP/1.1\r\nHost: a\r\n\r\n";
        client.write_all(&request.repeat(200)).unwrap();
        // The client reads nothing: the connection fills the socket, then stops.
        let mut want = Want::Read;
        for _ in 0..100 {
            want = conn.drive(&mut ctx, Instant::now());
            assert!(conn.buffered() <= MAX_BUFFERED, "{}", conn.buffered());
            if want == Want::Write {
                break;
            }
        }
        assert_eq!(want, Want::Write, "the socket never filled");
        assert!(conn.buffered() > IDLE_KEEP);
        // Now the client reads everything; the connection ends up idle and small.
        client.set_nonblocking(true).unwrap();
        let mut sink = vec![0u8; 1 << 20];
        let mut received = 0;
        for _ in 0..10_000 {
            if let Ok(n) = std::io::Read::read(&mut client, &mut sink) {
                received += n;
            }
            want = conn.drive(&mut ctx, Instant::now());
            assert!(conn.buffered() <= MAX_BUFFERED, "{}", conn.buffered());
            if want == Want::Read && conn.is_idle() && received > 200 * 30 * 1024 {
                break;
            }
        }
        assert!(conn.is_idle(), "received {received}");
        assert!(
            conn.buffered() <= 2 * IDLE_KEEP,
            "an idle connection holds {} bytes",
            conn.buffered()
        );
    }
}
