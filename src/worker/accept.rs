//! Taking a connection off a listening socket, waiting for one, and giving it the
//! transport of its listener's scheme.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::Arc;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use rustls::ServerConfig;

use super::transport::Transport;
use crate::config::{AcceptModel, Scheme};

/// One of a worker's listening sockets (one per configured address), and what it speaks.
#[derive(Clone, Copy)]
pub struct Listener<'a> {
    pub socket: &'a TcpListener,
    pub scheme: Scheme,
}

/// Accepts one connection, non-blocking from the start (a single `accept4`). Accepted
/// sockets inherit TCP_NODELAY from the listener, set in [`super::run`]: responses leave in
/// one write, and Nagle would only hold back the tail of a large body.
pub fn accept(listener: &Listener) -> std::io::Result<(TcpStream, SocketAddr, Scheme)> {
    let (socket, addr) = socket2::SockRef::from(listener.socket)
        .accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)?;
    let peer = addr
        .as_socket()
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    Ok((socket.into(), peer, listener.scheme))
}

/// The transport a connection accepted on a listener of `scheme` reads and writes
/// through: the one place both worker models make it, so they cannot differ. The TLS
/// handshake starts on the connection's first drive. `tls` is there whenever an HTTPS
/// listener is (the master refuses to start otherwise).
pub fn transport_for(
    stream: TcpStream,
    scheme: Scheme,
    tls: Option<&Arc<ServerConfig>>,
) -> io::Result<Transport> {
    match (scheme, tls) {
        (Scheme::Http | Scheme::Status, _) => Ok(Transport::from(stream)),
        (Scheme::Https, Some(config)) => Transport::tls(stream, config),
        (Scheme::Https, None) => Err(io::Error::other("an HTTPS listener without a certificate")),
    }
}

/// How a worker's epoll set watches its listeners. Level-triggered: a connection left in
/// the queue (one accept per wake-up) wakes the next wait. `exclusive` adds
/// EPOLLEXCLUSIVE, so the kernel wakes one of the workers waiting on a shared socket
/// instead of all of them; with a socket per worker there is no one else to wake.
pub fn listen_interest(model: AcceptModel) -> EpollFlags {
    match model {
        AcceptModel::Exclusive => EpollFlags::EPOLLIN | EpollFlags::EPOLLEXCLUSIVE,
        AcceptModel::Reuseport | AcceptModel::Shared => EpollFlags::EPOLLIN,
    }
}

/// With EPOLLEXCLUSIVE the kernel wakes the first idle waiter in the socket's wait
/// queue, which is the first worker that registered: a worker that keeps up takes
/// nearly every connection ([1, 799, 0, 0, 0, 0, 0, 0] of 800 at -w 8). So after this
/// many accepts from a socket a worker registers it again, which moves it to the back
/// of that socket's queue (nginx does the same), and the next idle worker takes the
/// next ones. Each socket has its own wait queue, so each its own count.
pub const REQUEUE_EVERY: u64 = 16;

/// Moves this worker's registration of `listener` to the back of the socket's wait
/// queue (see [`REQUEUE_EVERY`]).
pub fn requeue(epoll: &Epoll, listener: &TcpListener, event: EpollEvent) -> nix::Result<()> {
    epoll.delete(listener.as_fd())?;
    epoll.add(listener.as_fd(), event)
}

/// A sync worker's wait for its listeners: an epoll set holding only them, so that the
/// accept model's interest applies to the sync model too. Listener i's token is i.
pub struct ListenWait<'a> {
    epoll: Epoll,
    listeners: &'a [Listener<'a>],
    interest: EpollFlags,
    /// Connections accepted per listener: with EPOLLEXCLUSIVE, every REQUEUE_EVERY-th
    /// requeues.
    accepted: Option<Vec<u64>>,
}

impl<'a> ListenWait<'a> {
    pub fn new(listeners: &'a [Listener<'a>], model: AcceptModel) -> nix::Result<ListenWait<'a>> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let interest = listen_interest(model);
        for (i, listener) in listeners.iter().enumerate() {
            epoll.add(listener.socket.as_fd(), EpollEvent::new(interest, i as u64))?;
        }
        Ok(ListenWait {
            epoll,
            listeners,
            interest,
            accepted: (model == AcceptModel::Exclusive).then(|| vec![0; listeners.len()]),
        })
    }

    /// Notes a connection accepted from listener `i`.
    pub fn accepted(&mut self, i: usize) {
        if let Some(n) = self.accepted.as_mut().and_then(|counts| counts.get_mut(i)) {
            *n += 1;
            if *n % REQUEUE_EVERY == 0 {
                let event = EpollEvent::new(self.interest, i as u64);
                let _ = requeue(&self.epoll, self.listeners[i].socket, event);
            }
        }
    }

    /// Waits up to `ms` for a connection to take; which listener has one, or None on
    /// timeout or a signal. One event per wait: a level-triggered listener that had one
    /// goes to the back of the kernel's ready list, so busy addresses take turns.
    pub fn wait(&self, ms: u16) -> Option<usize> {
        let mut events = [EpollEvent::empty()];
        match self.epoll.wait(&mut events, EpollTimeout::from(ms)) {
            Ok(n) if n > 0 => Some(events[0].data() as usize),
            _ => None,
        }
    }
}
