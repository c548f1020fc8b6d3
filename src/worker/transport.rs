//! What a connection reads from and writes to: the one place that knows whether the
//! bytes cross the socket as they are or wrapped in TLS.
//!
//! [`super::conn::Conn`] only ever sees plaintext through these methods, and the worker
//! models only see a file descriptor to wait on. The TLS variant holds a
//! [`TlsStream`] (rustls's `ServerConnection` beside the socket, driven sans-I/O in
//! `crate::tls::stream`):
//! - `recv`: `read_tls` from the socket, `process_new_packets`, then plaintext out of
//!   `reader()`; the handshake's replies go out with `write_tls` on the way;
//! - `send`: plaintext into `writer()`, then `write_tls` to the socket, keeping whatever
//!   the socket refused for `send_queued`;
//! - `can_sendfile`: false, so file bodies go through the connection's buffer;
//! - `waits_for`: writable whenever records wait for the socket, since a read may be
//!   stuck behind a handshake reply as well as a write behind its own records;
//! - `close`: close_notify first.
//!
//! An enum rather than a trait: a match on the enum costs the plain path one
//! predictable branch, where a trait would mean a `Box<dyn>` (an allocation per
//! connection and an indirect call per syscall) or a type parameter spreading through
//! `Conn`, the slab and both worker models, which a worker serving plain and TLS
//! listeners at once could not use anyway. A `ServerConnection` is large: it is boxed in
//! its variant so idle plain connections stay small.

use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::Arc;

use nix::sys::sendfile::sendfile64;
use nix::sys::socket::{MsgFlags, send};
use rustls::ServerConfig;

use crate::tls::TlsStream;

/// The readiness an operation that would block is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    Readable,
    Writable,
}

pub enum Transport {
    /// Bytes go to the socket as they are; zero-copy file sending works.
    Plain(TcpStream),
    /// Bytes go through TLS.
    Tls(Box<TlsStream>),
}

impl From<TcpStream> for Transport {
    fn from(stream: TcpStream) -> Transport {
        Transport::Plain(stream)
    }
}

impl Transport {
    /// TLS over an accepted, non-blocking socket, the handshake still to come (it runs
    /// inside the first `recv` calls).
    pub fn tls(stream: TcpStream, config: &Arc<ServerConfig>) -> io::Result<Transport> {
        Ok(Transport::Tls(Box::new(TlsStream::new(stream, config)?)))
    }

    /// Whether ALPN chose HTTP/2 (TLS only; known once the handshake is done).
    pub fn alpn_h2(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(t) => t.alpn_protocol() == Some(b"h2"),
        }
    }

    /// Reads plaintext into `buf`. Returns fewer bytes than `buf` holds only when nothing
    /// more can be read without waiting: the connection counts on that to stop reading
    /// before an edge-triggered wait, so a TLS variant must not leave plaintext it has
    /// already decrypted behind a short count. `Ok(0)` is the end of the stream.
    #[inline]
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(stream) => stream.read(buf),
            Transport::Tls(tls) => tls.recv(buf),
        }
    }

    /// Writes some of `bytes`, once. `more`: further bytes follow at once (MSG_MORE), so
    /// the kernel may hold a partial segment back to fill it.
    #[inline]
    pub fn send(&mut self, bytes: &[u8], more: bool) -> io::Result<usize> {
        match self {
            Transport::Plain(stream) => send_raw(stream, bytes, more),
            Transport::Tls(tls) => tls.send(bytes, more),
        }
    }

    /// Whether [`Transport::send_file`] works. Under TLS the kernel cannot encrypt what
    /// it copies, so the caller reads the file into memory and uses `send` instead.
    #[inline]
    pub fn can_sendfile(&self) -> bool {
        match self {
            Transport::Plain(_) => true,
            Transport::Tls(_) => false,
        }
    }

    /// Whether the bytes cross the network encrypted (HSTS, `--redirect-https`).
    #[inline]
    pub fn is_secure(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(_) => true,
        }
    }

    /// Sends up to `count` bytes of `file` from `offset` without copying them through
    /// user space; only when [`Transport::can_sendfile`] says so. `Ok(0)`: the file
    /// ended before `offset`. A short count does not mean the socket is full (a signal
    /// also cuts it short); only `WouldBlock` does.
    #[inline]
    pub fn send_file(&mut self, file: BorrowedFd, offset: u64, count: usize) -> io::Result<usize> {
        match self {
            Transport::Plain(stream) => {
                let mut off = offset as i64;
                Ok(sendfile64(stream.as_fd(), file, Some(&mut off), count)?)
            }
            Transport::Tls(_) => Err(io::ErrorKind::Unsupported.into()),
        }
    }

    /// Writes what the transport itself still holds once the caller's bytes were all
    /// taken (TLS records the socket refused). Plain TCP holds nothing.
    #[inline]
    pub fn send_queued(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(_) => Ok(()),
            Transport::Tls(tls) => tls.send_queued(),
        }
    }

    /// What an operation that would block, attempted in direction `attempted`, must wait
    /// for. On plain TCP the same direction; under TLS possibly the other.
    #[inline]
    pub fn waits_for(&self, attempted: Wait) -> Wait {
        match self {
            Transport::Plain(_) => attempted,
            Transport::Tls(tls) if tls.wants_write() => Wait::Writable,
            Transport::Tls(_) => attempted,
        }
    }

    /// Closes the connection (under TLS, close_notify first). `linger`: the peer may
    /// have sent bytes that were never read; stop sending, then take and drop what
    /// already came, so that the kernel does not answer unread input with a reset that
    /// could destroy the response.
    /// Ends the sending side: close_notify (TLS), then a FIN after everything already
    /// sent; reading goes on ([`Transport::discard`]) until the peer closes.
    pub fn finish_sending(&mut self) {
        let socket = match self {
            Transport::Plain(stream) => &*stream,
            Transport::Tls(tls) => {
                tls.close_notify();
                tls.socket()
            }
        };
        let _ = socket.shutdown(Shutdown::Write);
    }

    /// Reads and drops what the peer sends after [`Transport::finish_sending`], as it
    /// arrives on the socket (records included: nothing more is decrypted).
    pub fn discard(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut socket = match self {
            Transport::Plain(stream) => &*stream,
            Transport::Tls(tls) => tls.socket(),
        };
        socket.read(buf)
    }

    pub fn close(self, linger: bool) {
        match self {
            Transport::Plain(stream) => {
                if linger {
                    drain(&stream);
                }
            }
            Transport::Tls(mut tls) => {
                tls.close_notify();
                if linger {
                    drain(tls.socket());
                }
            }
        }
    }
}

impl AsFd for Transport {
    /// The socket to wait on, whatever travels over it.
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Transport::Plain(stream) => stream.as_fd(),
            Transport::Tls(tls) => tls.socket().as_fd(),
        }
    }
}

/// One `send` on the socket. MSG_NOSIGNAL: a peer gone away is an error, not a SIGPIPE.
#[inline]
fn send_raw(stream: &TcpStream, bytes: &[u8], more: bool) -> io::Result<usize> {
    let mut flags = MsgFlags::MSG_NOSIGNAL;
    if more {
        flags |= MsgFlags::from_bits_retain(libc::MSG_MORE);
    }
    Ok(send(stream.as_raw_fd(), bytes, flags)?)
}

/// Stops sending, then reads and drops what the peer already sent, a bounded amount.
fn drain(mut stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let mut sink = [0u8; 4096];
    for _ in 0..16 {
        match stream.read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}
