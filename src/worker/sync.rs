//! The classic pre-fork model: each worker takes one connection at a time and serves it,
//! keep-alive included, until it closes or idles out (as Apache prefork does).

use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::time::Instant;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::accept::{ListenWait, Listener, accept, transport_for};
use super::conn::{Conn, Context, Want};
use super::lifecycle::Lifecycle;
use crate::config::{AcceptModel, Scheme};

/// How long a wait may last before the worker looks at its stop flag and its master again.
const CHECK_EVERY_MS: u16 = 1000;

pub fn serve(listeners: &[Listener], model: AcceptModel, mut ctx: Context, life: &Lifecycle) {
    let mut waiter = match ListenWait::new(listeners, model) {
        Ok(w) => w,
        Err(e) => {
            crate::log::error(format_args!("epoll (listener): {e}"));
            return;
        }
    };
    life.ready();
    while !life.should_stop() {
        let Some(i) = waiter.wait(CHECK_EVERY_MS) else {
            continue;
        };
        // Another worker may have taken it first: the listener is non-blocking.
        life.tick(ctx.served);
        let Ok((stream, peer, scheme)) = accept(&listeners[i]) else {
            continue;
        };
        waiter.accepted(i);
        serve_accepted(stream, peer, scheme, &mut ctx, life);
    }
    // What is already queued is answered (with Connection: close): when this worker is
    // the last to hold its sockets (a slot closed by TTOU), nobody else would.
    for listener in listeners {
        while let Ok((stream, peer, scheme)) = accept(listener) {
            serve_accepted(stream, peer, scheme, &mut ctx, life);
        }
    }
}

/// Serves a connection just accepted, over the transport its listener's scheme asks for
/// (one whose TLS session cannot be set up is dropped).
fn serve_accepted(
    stream: TcpStream,
    peer: SocketAddr,
    scheme: Scheme,
    ctx: &mut Context,
    life: &Lifecycle,
) {
    if let Ok(transport) = transport_for(stream, scheme, ctx.tls.as_ref()) {
        let conn = Conn::new(transport, scheme, peer, ctx, Instant::now());
        serve_one(conn, ctx, life);
    }
}

fn serve_one(mut conn: Conn, ctx: &mut Context, life: &Lifecycle) {
    loop {
        life.tick(ctx.served);
        ctx.stopping = life.should_stop();
        let want = conn.drive(ctx, Instant::now());
        let events = match want {
            Want::Close => break,
            Want::Read => PollFlags::POLLIN,
            // Level-triggered: poll returns at once if the socket still has room.
            Want::Write | Want::Again => PollFlags::POLLOUT,
        };
        let now = Instant::now();
        if now >= conn.deadline() {
            conn.time_out(ctx, now);
            break;
        }
        let wait = (conn.deadline() - now)
            .as_millis()
            .min(u128::from(CHECK_EVERY_MS)) as u16;
        let mut fds = [PollFd::new(conn.as_fd(), events)];
        // A timeout or EINTR just goes round again: drive() re-checks, the deadline rules.
        let _ = poll(&mut fds, PollTimeout::from(wait.max(1)));
    }
    conn.close();
}
