//! Taking a connection off the listening socket.

use std::net::{SocketAddr, TcpListener, TcpStream};

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
