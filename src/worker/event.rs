//! The event model: one epoll loop per worker over many non-blocking connections (as
//! nginx does), so thousands of idle keep-alive clients cannot starve a new one.
//!
//! Accepting: the worker watches its listeners (one per address) level-triggered and
//! takes one connection per wake-up. With `--accept reuseport` each listener is its
//! slot's own socket of that address; with `shared` every worker watches the one socket
//! of each address and the first awake wins; `exclusive` registers those sockets with
//! EPOLLEXCLUSIVE (see accept.rs).
//!
//! Connections are registered edge-triggered for both directions once, so
//! `Conn::drive` runs until the socket would block, which edge triggering requires. The
//! one exception is a connection that spent its send budget (`Want::Again`): no event
//! will come for it, so the loop drives it again on its next turn.
//! Timeouts are swept a few times a second instead of arming a timer per operation.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use super::accept::{Listener, REQUEUE_EVERY, accept, listen_interest, requeue, transport_for};
use super::conn::{Conn, Context, Want};
use super::lifecycle::Lifecycle;
use crate::config::AcceptModel;

/// Listener i's token is `LISTENER | i`; connections use their slab index, which never
/// comes near this bit.
const LISTENER: u64 = 1 << 63;
/// Both directions, edge-triggered, once for the connection's life: a transport may
/// wait for either (TLS), and re-arming would cost an epoll_ctl per turn.
const CONN_INTEREST: EpollFlags = EpollFlags::EPOLLIN
    .union(EpollFlags::EPOLLOUT)
    .union(EpollFlags::EPOLLRDHUP)
    .union(EpollFlags::EPOLLET);
/// The peer closed or reset its side.
const HANGUP: EpollFlags = EpollFlags::EPOLLRDHUP
    .union(EpollFlags::EPOLLHUP)
    .union(EpollFlags::EPOLLERR);
/// How often deadlines are checked; a timeout fires at most this late.
const SWEEP_EVERY: Duration = Duration::from_millis(250);
/// How long a wait lasts with no connection open, before the stop flag is looked at.
const IDLE_WAIT_MS: u16 = 1000;
/// Connections accepted per wake-up. One, as nginx does by default: a burst of new
/// clients is then spread over the workers instead of landing on whichever woke first.
const ACCEPT_BATCH: usize = 1;
/// Events taken from the kernel per wait.
const EVENTS: usize = 256;

/// Serves until told to stop and every connection has finished.
pub fn serve(
    listeners: &[Listener],
    model: AcceptModel,
    ctx: Context,
    life: &Lifecycle,
    max_connections: usize,
) {
    match EventLoop::new(listeners, model, ctx, life, max_connections) {
        Ok(mut event_loop) => {
            life.ready();
            event_loop.run();
        }
        Err((call, e)) => crate::log::error(format_args!("{call}: {e}")),
    }
}

/// The open connections, by slot; a freed slot is reused.
#[derive(Default)]
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

    fn get_mut(&mut self, i: usize) -> Option<&mut Conn> {
        self.conns.get_mut(i)?.as_mut()
    }

    fn remove(&mut self, i: usize) -> Option<Conn> {
        let conn = self.conns.get_mut(i)?.take()?;
        self.free.push(i);
        self.len -= 1;
        Some(conn)
    }

    /// One past the highest slot ever used: sweeps visit `0..slots()`.
    fn slots(&self) -> usize {
        self.conns.len()
    }
}

/// One worker's loop and everything it owns between turns.
struct EventLoop<'a> {
    epoll: Epoll,
    listeners: &'a [Listener<'a>],
    listen_interest: EpollFlags,
    /// Whether the listeners are in the epoll set: they leave while the worker is full
    /// or stopping, so the backlogs wait for a worker with room.
    listening: bool,
    /// The queues were emptied once on the way out (see `run`).
    drained: bool,
    /// Connections accepted per listener: with EPOLLEXCLUSIVE, every REQUEUE_EVERY-th
    /// requeues that listener.
    accepted: Option<Vec<u64>>,
    slab: Slab,
    ctx: Context,
    life: &'a Lifecycle,
    max_connections: usize,
    events: Vec<EpollEvent>,
    /// Connections that used up their turn's send budget (`Want::Again`), driven again
    /// next turn; two lists swapped each turn, so no allocation per turn.
    again: Vec<usize>,
    pending: Vec<usize>,
    last_sweep: Instant,
}

impl<'a> EventLoop<'a> {
    fn new(
        listeners: &'a [Listener<'a>],
        model: AcceptModel,
        ctx: Context,
        life: &'a Lifecycle,
        max_connections: usize,
    ) -> Result<EventLoop<'a>, (&'static str, Errno)> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(|e| ("epoll_create", e))?;
        let listen_interest = listen_interest(model);
        for (i, listener) in listeners.iter().enumerate() {
            epoll
                .add(
                    listener.socket.as_fd(),
                    EpollEvent::new(listen_interest, LISTENER | i as u64),
                )
                .map_err(|e| ("epoll_ctl(listener)", e))?;
        }
        Ok(EventLoop {
            epoll,
            listeners,
            listen_interest,
            listening: true,
            drained: false,
            accepted: (model == AcceptModel::Exclusive).then(|| vec![0; listeners.len()]),
            slab: Slab::default(),
            ctx,
            life,
            max_connections,
            events: vec![EpollEvent::empty(); EVENTS],
            again: Vec::new(),
            pending: Vec::new(),
            last_sweep: Instant::now(),
        })
    }

    fn run(&mut self) {
        loop {
            let timeout = self.timeout();
            let n = match self.epoll.wait(&mut self.events, timeout) {
                Ok(n) => n,
                Err(Errno::EINTR) => 0,
                Err(e) => {
                    crate::log::error(format_args!("epoll_wait: {e}"));
                    return;
                }
            };
            let now = Instant::now();
            std::mem::swap(&mut self.again, &mut self.pending);
            // Taken out for the turn (no copy, no allocation) so dispatch may borrow self.
            let events = std::mem::take(&mut self.events);
            for event in &events[..n] {
                self.dispatch(*event, now);
            }
            self.events = events;
            self.drive_again(now);
            self.life.tick(self.ctx.served);
            self.update_listening();

            let stop_now = !self.ctx.stopping && self.life.stop_flagged();
            if stop_now || now.duration_since(self.last_sweep) >= SWEEP_EVERY {
                self.last_sweep = now;
                if !self.ctx.stopping && self.life.should_stop() {
                    self.begin_stop(now);
                }
                self.sweep_deadlines(now);
                if self.ctx.stopping && self.slab.len == 0 {
                    // What is already queued is answered (with Connection: close) before
                    // leaving: when this worker is the last to hold its sockets (a slot
                    // closed by TTOU), nobody else would. Once, so a busy shared queue
                    // cannot keep a retiring worker alive.
                    if !self.drained {
                        self.drained = true;
                        self.drain_queue(now);
                    }
                    if self.slab.len == 0 {
                        return;
                    }
                }
            }
        }
    }

    /// How long the next wait may last: not at all while a connection waits for its next
    /// turn (no event will come for it), long when there is nothing to time out.
    fn timeout(&self) -> EpollTimeout {
        let ms = if !self.again.is_empty() {
            0
        } else if self.slab.len == 0 {
            IDLE_WAIT_MS
        } else {
            SWEEP_EVERY.as_millis() as u16
        };
        EpollTimeout::from(ms)
    }

    fn dispatch(&mut self, event: EpollEvent, now: Instant) {
        match event.data() {
            token if token & LISTENER != 0 => self.accept_some((token & !LISTENER) as usize, now),
            token => self.ready(token as usize, event.events(), now),
        }
    }

    /// Connection `i`'s socket became ready (or hung up): let it do what it can.
    fn ready(&mut self, i: usize, flags: EpollFlags, now: Instant) {
        let Some(conn) = self.slab.get_mut(i) else {
            return;
        };
        if flags.intersects(HANGUP) {
            conn.note_hangup();
        }
        let want = conn.drive(&mut self.ctx, now);
        self.settle(i, want);
    }

    /// Drives the connections that spent their budget last turn.
    fn drive_again(&mut self, now: Instant) {
        let mut pending = std::mem::take(&mut self.pending);
        for i in pending.drain(..) {
            // A slot freed and refilled meanwhile just gets a harmless extra drive.
            if let Some(conn) = self.slab.get_mut(i) {
                let want = conn.drive(&mut self.ctx, now);
                self.settle(i, want);
            }
        }
        // Handed back empty, keeping its capacity.
        self.pending = pending;
    }

    /// Takes connections from listener `l`.
    fn accept_some(&mut self, l: usize, now: Instant) {
        for _ in 0..ACCEPT_BATCH {
            if self.slab.len >= self.max_connections || self.ctx.stopping {
                return;
            }
            if !self.accept_one(l, now) {
                return;
            }
        }
    }

    /// Takes every connection waiting in every queue, whatever the limits.
    fn drain_queue(&mut self, now: Instant) {
        for l in 0..self.listeners.len() {
            while self.accept_one(l, now) {}
        }
    }

    /// Accepts one connection from listener `l` and serves what it already sent; false
    /// if none waited.
    fn accept_one(&mut self, l: usize, now: Instant) -> bool {
        let (stream, peer, scheme) = match accept(&self.listeners[l]) {
            Ok(s) => s,
            // EAGAIN: another worker took it. EMFILE and friends: try again next wake-up.
            Err(_) => return false,
        };
        if let Some(n) = self.accepted.as_mut().and_then(|counts| counts.get_mut(l)) {
            *n += 1;
            if *n % REQUEUE_EVERY == 0 && self.listening {
                let event = EpollEvent::new(self.listen_interest, LISTENER | l as u64);
                let _ = requeue(&self.epoll, self.listeners[l].socket, event);
            }
        }
        // Only a TLS session that cannot be set up fails here: drop the connection.
        let Ok(transport) = transport_for(stream, scheme, self.ctx.tls.as_ref()) else {
            return true;
        };
        let mut conn = Conn::new(transport, scheme, peer, &self.ctx, now);
        // The request usually arrives with the connection: answer it now. A client
        // that closes after one response (HTTP/1.0, `ab`) then never costs an
        // epoll_ctl or another wait.
        let want = conn.drive(&mut self.ctx, now);
        if want == Want::Close {
            conn.close();
            return true;
        }
        let i = self.slab.insert(conn);
        if want == Want::Again {
            self.again.push(i);
        }
        self.register(i);
        true
    }

    /// Adds connection `i` to the epoll set, or drops it if that fails. Registering
    /// reports the socket's current readiness too, so nothing that happened since the
    /// connection was last driven is missed.
    fn register(&mut self, i: usize) {
        let Some(conn) = self.slab.get_mut(i) else {
            return;
        };
        let event = EpollEvent::new(CONN_INTEREST, i as u64);
        if self.epoll.add(conn.as_fd(), event).is_err() {
            self.close(i);
        }
    }

    /// Acts on what driving connection `i` left it wanting; Read and Write wait for epoll.
    fn settle(&mut self, i: usize, want: Want) {
        match want {
            Want::Close => self.close(i),
            Want::Again => self.again.push(i),
            Want::Read | Want::Write => {}
        }
    }

    /// Takes the listeners out of the epoll set while full or stopping, back when not.
    fn update_listening(&mut self) {
        let open = self.slab.len < self.max_connections && !self.ctx.stopping;
        if self.listening && !open {
            for listener in self.listeners {
                let _ = self.epoll.delete(listener.socket.as_fd());
            }
            self.listening = false;
        } else if !self.listening && open {
            // All or none: one that fails to come back leaves the others out too, and
            // the next turn tries them all again.
            self.listening = true;
            for (i, listener) in self.listeners.iter().enumerate() {
                let event = EpollEvent::new(self.listen_interest, LISTENER | i as u64);
                if self.epoll.add(listener.socket.as_fd(), event).is_err() {
                    self.listening = false;
                }
            }
            if !self.listening {
                for listener in self.listeners {
                    let _ = self.epoll.delete(listener.socket.as_fd());
                }
            }
        }
    }

    /// Takes no new requests from now on: idle connections close now, busy ones after
    /// their response.
    fn begin_stop(&mut self, now: Instant) {
        self.ctx.stopping = true;
        for i in 0..self.slab.slots() {
            if let Some(conn) = self.slab.get_mut(i)
                && conn.is_idle()
                && conn.drive(&mut self.ctx, now) == Want::Close
            {
                self.close(i);
            }
        }
    }

    fn sweep_deadlines(&mut self, now: Instant) {
        for i in 0..self.slab.slots() {
            if let Some(conn) = self.slab.get_mut(i)
                && now >= conn.deadline()
            {
                conn.time_out(&mut self.ctx, now);
                self.close(i);
            }
        }
    }

    fn close(&mut self, i: usize) {
        // Closing the socket also takes it out of the epoll set: no epoll_ctl needed.
        if let Some(conn) = self.slab.remove(i) {
            conn.close();
        }
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
