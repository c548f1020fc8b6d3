//! Taking a connection off the listening socket, and waiting for one.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use crate::config::AcceptModel;

/// Accepts one connection, non-blocking from the start (a single `accept4`). Accepted
/// sockets inherit TCP_NODELAY from the listener, set in [`super::run`]: responses leave in
/// one write, and Nagle would only hold back the tail of a large body.
pub fn accept(listener: &TcpListener) -> std::io::Result<(TcpStream, SocketAddr)> {
    let (socket, addr) =
        socket2::SockRef::from(listener).accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)?;
    let peer = addr
        .as_socket()
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    Ok((socket.into(), peer))
}

/// How a worker's epoll set watches its listener. Level-triggered: a connection left in
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
/// many accepts a worker registers the socket again, which moves it to the back of the
/// queue (nginx does the same), and the next idle worker takes the next ones.
pub const REQUEUE_EVERY: u64 = 16;

/// Moves this worker's registration of `listener` to the back of the socket's wait
/// queue (see [`REQUEUE_EVERY`]).
pub fn requeue(epoll: &Epoll, listener: &TcpListener, event: EpollEvent) -> nix::Result<()> {
    epoll.delete(listener.as_fd())?;
    epoll.add(listener.as_fd(), event)
}

/// A sync worker's wait for its listener: an epoll set holding only it, so that the
/// accept model's interest applies to the sync model too.
pub struct ListenWait<'a> {
    epoll: Epoll,
    listener: &'a TcpListener,
    event: EpollEvent,
    /// Connections accepted: with EPOLLEXCLUSIVE, every REQUEUE_EVERY-th requeues.
    accepted: Option<u64>,
}

impl<'a> ListenWait<'a> {
    pub fn new(listener: &'a TcpListener, model: AcceptModel) -> nix::Result<ListenWait<'a>> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let event = EpollEvent::new(listen_interest(model), 0);
        epoll.add(listener.as_fd(), event)?;
        Ok(ListenWait {
            epoll,
            listener,
            event,
            accepted: (model == AcceptModel::Exclusive).then_some(0),
        })
    }

    /// Notes an accepted connection.
    pub fn accepted(&mut self) {
        if let Some(n) = &mut self.accepted {
            *n += 1;
            if *n % REQUEUE_EVERY == 0 {
                let _ = requeue(&self.epoll, self.listener, self.event);
            }
        }
    }

    /// Waits up to `ms` for a connection to take; false on timeout or a signal.
    pub fn wait(&self, ms: u16) -> bool {
        let mut events = [EpollEvent::empty()];
        self.epoll
            .wait(&mut events, EpollTimeout::from(ms))
            .is_ok_and(|n| n > 0)
    }
}
