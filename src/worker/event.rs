//! The event model: one epoll loop per worker over many non-blocking connections (as
//! nginx does), so thousands of idle keep-alive clients cannot starve a new one.
//!
//! Accepting: every worker polls the shared listening socket (level-triggered) and
//! takes one connection per wake-up; the idle ones wake first and win. We measured
//! `EPOLLEXCLUSIVE` first: it avoids waking every worker, but the kernel keeps handing a
//! burst to the same worker (16 new connections: 16 to one worker, 0 to the other), so
//! one core did all the work. With a handful of workers the extra wake-ups cost less.
//!
//! Connections are registered edge-triggered for both directions once, so
//! `Conn::drive` runs until the socket would block, which edge triggering requires. The
//! one exception is a connection that spent its send budget (`Want::Again`): no event
//! will come for it, so the loop drives it again on its next turn.
//! Timeouts are swept a few times a second instead of arming a timer per operation.

use std::net::TcpListener;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use super::accept::accept;
use super::conn::{Conn, Context, Want};
use super::lifecycle::Lifecycle;

/// The token of the listening socket; connections use their slot index.
const LISTENER: u64 = u64::MAX;
/// How often deadlines are checked; a timeout fires at most this late.
const SWEEP_EVERY: Duration = Duration::from_millis(250);
/// Connections accepted per wake-up. One, as nginx does by default: a burst of new
/// clients is then spread over the workers instead of landing on whichever woke first.
const ACCEPT_BATCH: usize = 1;
/// Events taken from the kernel per wait.
const EVENTS: usize = 256;

/// The open connections, by slot; a freed slot is reused.
struct Slab {
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    len: usize,
}

impl Slab {
    fn insert(&mut self, conn: Conn) -> usize {
        self.len += 1;
        match self.free.pop() {
            Some(i) => {
                self.conns[i] = Some(conn);
                i
            }
            None => {
                self.conns.push(Some(conn));
                self.conns.len() - 1
            }
        }
    }

    fn remove(&mut self, i: usize) -> Option<Conn> {
        let conn = self.conns.get_mut(i)?.take()?;
        self.free.push(i);
        self.len -= 1;
        Some(conn)
    }
}

pub fn serve(listener: &TcpListener, mut ctx: Context, life: &Lifecycle, max_connections: usize) {
    let epoll = match Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC) {
        Ok(e) => e,
        Err(e) => {
            crate::log::error(format_args!("epoll_create: {e}"));
            return;
        }
    };
    let listen_event = EpollEvent::new(EpollFlags::EPOLLIN, LISTENER);
    if let Err(e) = epoll.add(listener.as_fd(), listen_event) {
        crate::log::error(format_args!("epoll_ctl(listener): {e}"));
        return;
    }
    let mut listening = true;
    let mut slab = Slab {
        conns: Vec::new(),
        free: Vec::new(),
        len: 0,
    };
    let mut events = vec![EpollEvent::empty(); EVENTS];
    let mut last_sweep = Instant::now();
    // Connections that used up their turn's send budget (`Want::Again`) and are driven
    // again next turn; two lists swapped each turn, so no allocation per turn.
    let mut again: Vec<usize> = Vec::new();
    let mut pending: Vec<usize> = Vec::new();

    loop {
        let timeout = if !again.is_empty() {
            0
        } else if slab.len == 0 {
            1000u16
        } else {
            SWEEP_EVERY.as_millis() as u16
        };
        let n = match epoll.wait(&mut events, EpollTimeout::from(timeout)) {
            Ok(n) => n,
            Err(Errno::EINTR) => 0,
            Err(e) => {
                crate::log::error(format_args!("epoll_wait: {e}"));
                break;
            }
        };
        let now = Instant::now();
        std::mem::swap(&mut again, &mut pending);
        for event in &events[..n] {
            match event.data() {
                LISTENER => accept_some(
                    listener,
                    &epoll,
                    &mut slab,
                    &mut ctx,
                    now,
                    max_connections,
                    &mut again,
                ),
                token => {
                    let i = token as usize;
                    let want = match slab.conns.get_mut(i) {
                        Some(Some(conn)) => {
                            let hangup = EpollFlags::EPOLLRDHUP
                                | EpollFlags::EPOLLHUP
                                | EpollFlags::EPOLLERR;
                            if event.events().intersects(hangup) {
                                conn.note_hangup();
                            }
                            conn.drive(&mut ctx, now)
                        }
                        _ => continue,
                    };
                    settle(&mut slab, &mut again, i, want);
                }
            }
        }
        for i in pending.drain(..) {
            // A slot freed and refilled meanwhile just gets a harmless extra drive.
            if let Some(Some(conn)) = slab.conns.get_mut(i) {
                let want = conn.drive(&mut ctx, now);
                settle(&mut slab, &mut again, i, want);
            }
        }
        life.tick(ctx.served);

        // Stop accepting while full, so the backlog waits for a worker with room.
        let full = slab.len >= max_connections;
        if listening && (full || ctx.stopping) {
            let _ = epoll.delete(listener.as_fd());
            listening = false;
        } else if !listening && !full && !ctx.stopping {
            listening = epoll.add(listener.as_fd(), listen_event).is_ok();
        }

        let stop_now = !ctx.stopping && life.stop_flagged();
        if stop_now || now.duration_since(last_sweep) >= SWEEP_EVERY {
            last_sweep = now;
            if !ctx.stopping && life.should_stop() {
                ctx.stopping = true;
                // Idle connections close now; busy ones after their response.
                for i in 0..slab.conns.len() {
                    if let Some(Some(conn)) = slab.conns.get_mut(i)
                        && conn.is_idle()
                        && conn.drive(&mut ctx, now) == Want::Close
                    {
                        close(&mut slab, i);
                    }
                }
            }
            sweep_deadlines(&mut slab, &mut ctx, now);
            if ctx.stopping && slab.len == 0 {
                break;
            }
        }
    }
}

fn accept_some(
    listener: &TcpListener,
    epoll: &Epoll,
    slab: &mut Slab,
    ctx: &mut Context,
    now: Instant,
    max_connections: usize,
    again: &mut Vec<usize>,
) {
    for _ in 0..ACCEPT_BATCH {
        if slab.len >= max_connections || ctx.stopping {
            return;
        }
        let (stream, peer) = match accept(listener) {
            Ok(s) => s,
            // EAGAIN: another worker took it. EMFILE and friends: try again next wake-up.
            Err(_) => return,
        };
        let mut conn = Conn::new(stream, peer, ctx, now);
        // The request usually arrives with the connection: answer it now. A client
        // that closes after one response (HTTP/1.0, `ab`) then never costs an
        // epoll_ctl or another wait.
        let want = conn.drive(ctx, now);
        if want == Want::Close {
            conn.close();
            continue;
        }
        let i = slab.insert(conn);
        if want == Want::Again {
            again.push(i);
        }
        let Some(Some(conn)) = slab.conns.get(i) else {
            continue;
        };
        // Registering reports the socket's current readiness too, so nothing that
        // happened since the read above is missed.
        let interest = EpollFlags::EPOLLIN
            | EpollFlags::EPOLLOUT
            | EpollFlags::EPOLLRDHUP
            | EpollFlags::EPOLLET;
        if epoll
            .add(conn.stream.as_fd(), EpollEvent::new(interest, i as u64))
            .is_err()
        {
            slab.remove(i);
        }
    }
}

/// Acts on what driving connection `i` left it wanting; Read and Write wait for epoll.
fn settle(slab: &mut Slab, again: &mut Vec<usize>, i: usize, want: Want) {
    match want {
        Want::Close => close(slab, i),
        Want::Again => again.push(i),
        Want::Read | Want::Write => {}
    }
}

fn sweep_deadlines(slab: &mut Slab, ctx: &mut Context, now: Instant) {
    for i in 0..slab.conns.len() {
        if let Some(Some(conn)) = slab.conns.get_mut(i)
            && now >= conn.deadline()
        {
            conn.time_out(ctx);
            close(slab, i);
        }
    }
}

fn close(slab: &mut Slab, i: usize) {
    // Closing the socket also takes it out of the epoll set: no epoll_ctl needed.
    if let Some(conn) = slab.remove(i) {
        conn.close();
    }
}

/// Raises the open-file limit to the hard limit, so `--max-connections` is reachable.
pub fn raise_nofile_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}
