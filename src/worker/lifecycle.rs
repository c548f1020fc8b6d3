//! How a worker learns it should stop: signal flags, the master's death, the request
//! limit; and the chores every worker model does each second (heartbeat, log reopen);
//! and what the worker's scoreboard entry says of it: its state, its heartbeat, when it
//! last answered a request.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::unistd::{Pid, getppid};

use crate::log;
use crate::ready::Notifier;
use crate::scoreboard::Entry;

static STOP: AtomicBool = AtomicBool::new(false);
/// Raised by USR1: reopen the log files at the next tick.
static REOPEN: AtomicBool = AtomicBool::new(false);

/// How a worker learns that it should stop taking new work.
pub struct Lifecycle {
    master: Pid,
    /// This worker's scoreboard entry: its state, heartbeat (--timeout) and clocks.
    entry: Option<&'static Entry>,
    /// The entry's request count when the last turn ended: more now means the worker
    /// answered requests during this turn.
    answered: std::cell::Cell<u64>,
    /// Retire after this many requests (--max-requests plus this worker's jitter).
    max_requests: Option<u64>,
    /// Where this worker tells the master it waits for connections.
    ready: Option<Notifier>,
}

impl Lifecycle {
    pub fn new(
        master: Pid,
        entry: Option<&'static Entry>,
        max_requests: Option<u64>,
        ready: Option<Notifier>,
    ) -> Lifecycle {
        Lifecycle {
            master,
            entry,
            answered: std::cell::Cell::new(0),
            max_requests,
            ready,
        }
    }

    /// Called by a worker model once its listener is registered: from here on a
    /// connection in its queue is taken, so the master may count on this worker. The
    /// scoreboard says so first, then the doorbell wakes the master to read it.
    pub fn ready(&self) {
        if let Some(entry) = self.entry {
            entry.ready();
        }
        if let Some(notifier) = &self.ready {
            notifier.ready();
        }
    }

    /// Called by every worker model at least once a second and after each connection
    /// event, with the number of requests served so far: proves the worker alive to the
    /// master and retires it after `--max-requests`.
    pub fn tick(&self, served: u64) {
        self.housekeeping();
        if let Some(limit) = self.max_requests
            && served >= limit
            && !STOP.swap(true, Ordering::Relaxed)
        {
            log::info(format_args!(
                "worker served {served} requests (--max-requests): retiring"
            ));
            self.draining();
        }
    }

    /// The stop flag alone (no syscall, no chores): cheap enough to ask every turn.
    pub fn stop_flagged(&self) -> bool {
        STOP.load(Ordering::Relaxed)
    }

    /// True once the master asked for a graceful stop or has died. Also does the
    /// periodic chores, since an idle worker's loop asks this every second without
    /// calling `tick`.
    pub fn should_stop(&self) -> bool {
        self.housekeeping();
        let stop = STOP.load(Ordering::Relaxed) || getppid() != self.master;
        if stop {
            self.draining();
        }
        stop
    }

    /// The scoreboard shows the worker draining (only once it was ready).
    fn draining(&self) {
        if let Some(entry) = self.entry {
            entry.draining();
        }
    }

    /// Heartbeat, the time of the last request, log reopening (USR1) and the access
    /// log's once-a-second flush. The one clock reading serves both times: the last
    /// request's is then at most one turn late, and a request costs no clock reading.
    fn housekeeping(&self) {
        if let Some(entry) = self.entry {
            let now = crate::scoreboard::now_ms();
            entry.beat(now);
            let answered = entry.tally().requests();
            if answered != self.answered.get() {
                self.answered.set(answered);
                entry.answered_at(now);
            }
        }
        if REOPEN.swap(false, Ordering::Relaxed) {
            log::reopen();
        }
        log::flush_if_due();
    }
}

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

extern "C" fn on_reopen(_: libc::c_int) {
    REOPEN.store(true, Ordering::Relaxed);
}

/// Replaces the handlers inherited from the master: TERM and QUIT ask for a graceful
/// stop, INT keeps its default (die now), the master's management signals are ignored.
pub fn install_signal_handlers() -> nix::Result<()> {
    // No SA_RESTART: a blocking poll or accept returns EINTR, so the flag is seen at once.
    let stop = SigAction::new(
        SigHandler::Handler(on_stop),
        SaFlags::empty(),
        SigSet::empty(),
    );
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    let reopen = SigAction::new(
        SigHandler::Handler(on_reopen),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: on_stop and on_reopen only store to an atomic, which is async-signal-safe;
    // the other actions are the kernel's own dispositions.
    unsafe {
        sigaction(Signal::SIGTERM, &stop)?;
        sigaction(Signal::SIGUSR1, &reopen)?;
        sigaction(Signal::SIGABRT, &default)?;
        sigaction(Signal::SIGQUIT, &stop)?;
        sigaction(Signal::SIGINT, &default)?;
        sigaction(Signal::SIGCHLD, &default)?;
        for sig in [
            Signal::SIGHUP,
            Signal::SIGUSR2,
            Signal::SIGTTIN,
            Signal::SIGTTOU,
            Signal::SIGWINCH,
            Signal::SIGPIPE,
        ] {
            sigaction(sig, &ignore)?;
        }
    }
    // The master forks with every signal blocked, so a TERM or INT sent in the moment
    // between fork and here waits for these handlers instead of reaching the master's
    // inherited ones (which would swallow it). Now everything may come in.
    SigSet::empty().thread_set_mask()
}
