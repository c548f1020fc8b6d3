//! The master's stand-in on the status listener: while no worker can answer, the master
//! takes the status listener's connections and answers each with the `/healthz` 503.
//!
//! The workers serve the status listener, so when every one of them is stopped (SIGSTOP,
//! a disk that hangs), hung, or not started yet, nobody would answer, and a load
//! balancer would learn the pool is down only from its own timeout, seconds later and
//! indistinguishable from a network fault. The master is the one process that is awake
//! then (its loop turns at least twice a second), and it already reads every worker's
//! heartbeat: so when none is ready or starting with a fresh one, it answers instead,
//! every request
//! alike, with the workers' own 503 (`site::status::unavailable`), and closes. It serves
//! nothing else: no file, no page, no keep-alive; a few fixed bytes per connection,
//! read and written without blocking, at most [`MAX_WAITING`] connections at once.
//!
//! It stands in only once nobody has answered for [`GRACE`]: a worker retiring after
//! `--max-requests` leaves its slot to a replacement forked in the same turn of the
//! master's loop, and a status connection waits those milliseconds in the queue rather
//! than get a 503 while the pool is whole. And only for its own workers: not while
//! another master's workers share the sockets (`USR2` until `WINCH`, and after it), nor
//! while it stops.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use crate::http::date::DateCache;
use crate::http::request::{Method, Parsed, parse};
use crate::log;
use crate::scoreboard::FRESH;
use crate::site::status::unavailable;

/// Connections held at once waiting for their request head; more are closed at once.
const MAX_WAITING: usize = 64;
/// How long a connection may take to send its head before it is closed unanswered.
const HEAD_WAIT: Duration = Duration::from_secs(2);
/// Bytes read of a head at most: a health check's request is a line or two.
const HEAD_LIMIT: usize = 8 * 1024;
/// How long nobody must have answered before the master stands in.
pub const GRACE: Duration = Duration::from_secs(1);

struct Waiting {
    stream: TcpStream,
    head: Vec<u8>,
    deadline: Instant,
}

pub struct StandIn {
    /// Taking the status listener's connections now.
    active: bool,
    /// Some worker has answered since the master started: only then is a change news
    /// for the log.
    was_healthy: bool,
    /// Since when no worker has answered.
    unanswered: Option<Instant>,
    waiting: Vec<Waiting>,
    date: DateCache,
}

impl Default for StandIn {
    fn default() -> StandIn {
        StandIn::new()
    }
}

impl StandIn {
    pub fn new() -> StandIn {
        StandIn {
            active: false,
            was_healthy: false,
            unanswered: None,
            waiting: Vec::new(),
            date: DateCache::default(),
        }
    }

    /// Stands in or steps back: `unanswered` when no worker of this master can answer
    /// now; the master stands in once that has lasted [`GRACE`].
    pub fn update(&mut self, unanswered: bool, now: Instant) {
        if !unanswered {
            self.unanswered = None;
        } else if self.unanswered.is_none() {
            self.unanswered = Some(now);
        }
        let needed = self.unanswered.is_some_and(|since| now >= since + GRACE);
        let news = self.was_healthy;
        if !needed {
            self.was_healthy = true;
        }
        if needed == self.active {
            return;
        }
        self.active = needed;
        if !news {
            return;
        }
        if needed {
            log::warn(format_args!(
                "no worker can answer (none ready or starting with a heartbeat in the last \
                 {}s): the master answers the status listener with 503 until one can",
                FRESH.as_secs()
            ));
        } else {
            log::info(format_args!(
                "a worker answers again: the status listener is the workers' again"
            ));
        }
    }

    pub fn is_active(&self) -> bool {
        self.active
    }

    /// What the master's wait should also wake for: the listeners while standing in,
    /// and the connections waiting for their head.
    pub fn fds<'a>(&'a self, listeners: &[&'a TcpListener]) -> Vec<BorrowedFd<'a>> {
        let mut fds: Vec<BorrowedFd<'a>> = Vec::new();
        if self.active {
            fds.extend(listeners.iter().map(|l| (*l).as_fd()));
        }
        fds.extend(self.waiting.iter().map(|w| w.stream.as_fd()));
        fds
    }

    /// Takes what waits in the listeners (while standing in), answers every connection
    /// whose head has come, and drops those past their time. Never blocks.
    pub fn serve(&mut self, listeners: &[&TcpListener], now: Instant) {
        if self.active {
            for listener in listeners {
                while let Ok((stream, _)) = listener.accept() {
                    if self.waiting.len() >= MAX_WAITING || stream.set_nonblocking(true).is_err() {
                        continue; // closed unanswered: a flood gets no more of the master
                    }
                    self.waiting.push(Waiting {
                        stream,
                        head: Vec::new(),
                        deadline: now + HEAD_WAIT,
                    });
                }
            }
        }
        let mut i = 0;
        while i < self.waiting.len() {
            let w = &mut self.waiting[i];
            match read_head(w) {
                Some(head_only) => {
                    answer(&mut w.stream, head_only, self.date.now(now));
                    self.waiting.swap_remove(i);
                }
                None if now >= w.deadline => {
                    self.waiting.swap_remove(i);
                }
                None => i += 1,
            }
        }
    }
}

/// Reads what has arrived; once the head is complete (or cannot be: an error, the
/// limit, the end), whether the request was a HEAD. None: wait for more.
fn read_head(w: &mut Waiting) -> Option<bool> {
    let mut buf = [0u8; 1024];
    loop {
        match w.stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                w.head.extend_from_slice(&buf[..n]);
                if w.head.len() >= HEAD_LIMIT {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                return match parse(&w.head) {
                    Ok(Parsed::Partial) => None,
                    Ok(Parsed::Complete { request, .. }) => Some(request.method == Method::Head),
                    Err(_) => Some(false),
                };
            }
            Err(_) => break,
        }
    }
    Some(matches!(
        parse(&w.head),
        Ok(Parsed::Complete { request, .. }) if request.method == Method::Head
    ))
}

/// Writes the 503 (a few hundred bytes into an empty socket buffer: one write).
fn answer(stream: &mut TcpStream, head_only: bool, date: &[u8]) {
    let response = unavailable(head_only);
    let mut out = Vec::with_capacity(512);
    response.write_head(date, &mut out);
    if let (false, crate::site::handler::Body::Static(body)) = (head_only, &response.body) {
        out.extend_from_slice(body);
    }
    let _ = stream.write_all(&out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Shutdown;

    #[test]
    fn answers_503_only_while_standing_in() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut standin = StandIn::new();
        let listeners = [&listener];
        assert!(standin.fds(&listeners).is_empty());

        let t0 = Instant::now();
        standin.update(true, t0);
        assert!(standin.fds(&listeners).is_empty(), "not before the grace");
        standin.update(true, t0 + GRACE);
        assert_eq!(standin.fds(&listeners).len(), 1);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut head = TcpStream::connect(addr).unwrap();
        head.write_all(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        // Its head is not complete yet: it waits.
        while standin.waiting.is_empty() && Instant::now() < deadline {
            standin.serve(&listeners, Instant::now());
        }
        assert_eq!(standin.fds(&listeners).len(), 2);
        let mut get = TcpStream::connect(addr).unwrap();
        get.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        get.set_nonblocking(true).unwrap();
        while get.peek(&mut [0]).is_err() && Instant::now() < deadline {
            standin.serve(&listeners, Instant::now());
        }
        get.set_nonblocking(false).unwrap();
        assert_eq!(standin.waiting.len(), 1);
        head.write_all(b"\r\n").unwrap();
        head.shutdown(Shutdown::Write).unwrap();
        while !standin.waiting.is_empty() && Instant::now() < deadline {
            standin.serve(&listeners, Instant::now());
        }
        let mut text = String::new();
        get.read_to_string(&mut text).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nConnection: close\r\n"));
        assert!(text.ends_with("\r\n\r\nunavailable: no worker is serving\n"));
        let mut text = String::new();
        head.read_to_string(&mut text).unwrap();
        assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "a HEAD gets no body: {text}");

        // Standing down: new connections are left to the workers.
        standin.update(false, Instant::now());
        let _later = TcpStream::connect(addr).unwrap();
        standin.serve(&listeners, Instant::now());
        assert!(standin.waiting.is_empty());
        assert!(listener.accept().is_ok(), "the connection stayed queued");
    }

    #[test]
    fn a_silent_connection_is_dropped_at_its_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let mut standin = StandIn::new();
        let t0 = Instant::now();
        standin.update(true, t0);
        standin.update(true, t0 + GRACE);
        let mut silent = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let deadline = t0 + Duration::from_secs(5);
        while standin.waiting.is_empty() && Instant::now() < deadline {
            standin.serve(&[&listener], t0);
        }
        assert_eq!(standin.waiting.len(), 1);
        standin.serve(&[&listener], t0 + HEAD_WAIT);
        assert!(standin.waiting.is_empty());
        let mut rest = Vec::new();
        silent.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
    }
}
