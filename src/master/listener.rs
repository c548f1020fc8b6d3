//! A listening socket: bound here, or inherited from systemd or an upgrading master.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::{FromRawFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::{Listen, Scheme};
use crate::master::upgrade::{self, UPGRADE_FDS_VAR};

/// Binds a non-blocking listening socket with SO_REUSEADDR (restart without waiting for
/// TIME_WAIT) and SO_REUSEPORT (a new master can bind beside a running one), and the
/// given backlog. Non-blocking because a worker must never sleep in accept: another
/// worker may have taken the connection it woke for.
pub fn bind(addr: SocketAddr, backlog: i32) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Listening sockets by address: each address's scheme and its sockets, in slot order.
pub type Groups = Vec<(Scheme, Vec<TcpListener>)>;

/// Where a listening socket came from, for the start-up log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Bound,
    Upgrade,
    Systemd,
}

/// The listening sockets handed down by an upgrading master (PREFORKD_LISTEN_FDS: each
/// address's slot sockets, in slot order) or by systemd (LISTEN_FDS: one socket per
/// address), if any, grouped by address with the scheme each speaks.
///
/// systemd says nothing of the protocol, so a socket is HTTPS if its unit names it
/// `https` (`FileDescriptorName=https`) or if it listens on a `--tls-bind` address of
/// `configured`, the status listener likewise (`status`, `--status-bind`); otherwise
/// plain HTTP.
pub fn inherited(configured: &[Listen]) -> Result<Option<(Groups, Origin)>, String> {
    let upgrade = std::env::var(UPGRADE_FDS_VAR).ok();
    // SAFETY: called from main before any thread exists.
    unsafe { std::env::remove_var(UPGRADE_FDS_VAR) };
    let systemd = crate::master::systemd::listen_fds();
    let passed = match upgrade {
        Some(list) => {
            let mut groups = Vec::new();
            for (scheme, fds) in upgrade::decode(&list)? {
                let sockets = fds.into_iter().map(adopt).collect::<Result<Vec<_>, _>>()?;
                groups.push((scheme, sockets));
            }
            return Ok((!groups.is_empty()).then_some((groups, Origin::Upgrade)));
        }
        None if !systemd.is_empty() => systemd,
        None => return Ok(None),
    };
    let configured_as = |scheme: Scheme, addr: SocketAddr| {
        configured
            .iter()
            .any(|l| l.scheme == scheme && l.addr == addr)
    };
    let mut out = Vec::new();
    for (fd, name) in passed {
        let socket = adopt(fd)?;
        let addr = socket
            .local_addr()
            .map_err(|e| format!("inherited descriptor {fd}: {e}"))?;
        let scheme = [Scheme::Https, Scheme::Status]
            .into_iter()
            .find(|&s| name == s.name() || configured_as(s, addr))
            .unwrap_or(Scheme::Http);
        out.push((scheme, vec![socket]));
    }
    Ok(Some((out, Origin::Systemd)))
}

/// Takes ownership of an inherited descriptor after checking that it is a listening
/// TCP socket, and makes it what [`bind`] would have made.
fn adopt(fd: RawFd) -> Result<TcpListener, String> {
    // The descriptor must be open before we claim it, or from_raw_fd would own garbage.
    if nix::fcntl::fcntl(
        // SAFETY: the borrow lives only for this call; fcntl F_GETFD reads flags.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
        nix::fcntl::FcntlArg::F_GETFD,
    )
    .is_err()
    {
        return Err(format!("inherited descriptor {fd} is not open"));
    }
    // SAFETY: the descriptor is open, was handed to this process to own, and nothing
    // else in the process refers to it.
    let socket = unsafe { Socket::from_raw_fd(fd) };
    let bad = |what: &str| format!("inherited descriptor {fd}: {what}");
    match socket.r#type() {
        Ok(Type::STREAM) => {}
        _ => return Err(bad("not a stream socket")),
    }
    if !socket.is_listener().map_err(|e| bad(&e.to_string()))? {
        return Err(bad("not a listening socket"));
    }
    socket.set_cloexec(true).map_err(|e| bad(&e.to_string()))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| bad(&e.to_string()))?;
    Ok(socket.into())
}
