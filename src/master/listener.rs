//! A listening socket: bound here, or inherited from systemd or an upgrading master.

use std::net::{SocketAddr, TcpListener};
use std::os::fd::{FromRawFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

/// Environment variable naming the listening descriptors a USR2 upgrade passes on.
pub const UPGRADE_FDS_VAR: &str = "PREFORKD_LISTEN_FDS";

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

/// Where a listening socket came from, for the start-up log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Bound,
    Upgrade,
    Systemd,
}

/// The listening sockets handed down by an upgrading master (PREFORKD_LISTEN_FDS: its
/// slot sockets, in slot order) or by systemd (LISTEN_FDS), if any. Extra systemd
/// sockets are closed with a warning: preforkd serves one address.
pub fn inherited() -> Result<Option<(Vec<TcpListener>, Origin)>, String> {
    let upgrade = std::env::var(UPGRADE_FDS_VAR).ok();
    // SAFETY: called from main before any thread exists.
    unsafe { std::env::remove_var(UPGRADE_FDS_VAR) };
    let systemd = crate::master::systemd::listen_fds();
    let (fds, origin) = match upgrade {
        Some(list) => {
            let fds = list
                .split(',')
                .map(|f| f.trim().parse::<RawFd>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| format!("{UPGRADE_FDS_VAR}={list}: expected descriptor numbers"))?;
            (fds, Origin::Upgrade)
        }
        None if !systemd.is_empty() => (systemd, Origin::Systemd),
        None => return Ok(None),
    };
    let mut sockets = fds.into_iter().map(adopt).collect::<Result<Vec<_>, _>>()?;
    if origin == Origin::Systemd {
        for extra in sockets.drain(1..) {
            crate::log::warn(format_args!(
                "ignoring extra inherited socket {:?}: preforkd serves one address",
                extra.local_addr()
            ));
        }
    }
    Ok((!sockets.is_empty()).then_some((sockets, origin)))
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
