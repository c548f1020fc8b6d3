//! A worker process: inherits the listening socket, serves until told to stop.
//!
//! Each worker model lives in its own file and drives the shared [`conn::Conn`]; this
//! file holds what they share: boot, signal flags, and noticing the master's death.

pub mod conn;
pub mod event;
pub mod sync;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::unistd::{Pid, getppid};

use crate::config::{Config, WorkerModel};
use crate::files::Root;
use crate::handler::Site;
use crate::heartbeat::Slot;
use crate::log;
use conn::Context;

/// Exit code of a worker that could not start; the master stops respawning on it
/// (gunicorn's WORKER_BOOT_ERROR, nginx's exit code 2).
pub const EXIT_BOOT_ERROR: i32 = 3;

static STOP: AtomicBool = AtomicBool::new(false);
/// Raised by USR1: reopen the log files at the next tick.
static REOPEN: AtomicBool = AtomicBool::new(false);

/// How a worker learns that it should stop taking new work.
pub struct Lifecycle {
    master: Pid,
    /// Where this worker proves itself alive to the master (--timeout).
    heartbeat: Option<Slot>,
    /// Retire after this many requests (--max-requests plus this worker's jitter).
    max_requests: Option<u64>,
}

impl Lifecycle {
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
        STOP.load(Ordering::Relaxed) || getppid() != self.master
    }

    /// Heartbeat, log reopening (USR1) and the access log's once-a-second flush.
    fn housekeeping(&self) {
        if let Some(slot) = &self.heartbeat {
            slot.beat();
        }
        if REOPEN.swap(false, Ordering::Relaxed) {
            log::reopen();
        }
        log::flush_if_due();
    }
}

/// Runs a worker to the end; the return value is the process's exit code.
pub fn run(listener: &TcpListener, config: &Config, master: Pid, heartbeat: Option<Slot>) -> i32 {
    if let Err(e) = install_signal_handlers() {
        log::error(format_args!("worker cannot install signal handlers: {e}"));
        return EXIT_BOOT_ERROR;
    }
    // Die with the master even if it is killed with SIGKILL; the ppid check covers
    // the moment before this call.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
    // Before the root is opened, so the root must be readable by the user we serve as.
    if let Some(credentials) = &config.process.credentials
        && let Err(e) = credentials.drop_privileges()
    {
        log::error(format_args!(
            "worker cannot drop privileges to {}: {e}",
            credentials.label
        ));
        return EXIT_BOOT_ERROR;
    }
    let life = Lifecycle {
        master,
        heartbeat,
        max_requests: max_requests(config),
    };
    if life.should_stop() {
        return 0;
    }
    let root = match Root::open(&config.root, config.symlinks, config.serve_hidden) {
        Ok(root) => root,
        Err(e) => {
            log::error(format_args!(
                "worker cannot open --root {}: {e}",
                config.root.display()
            ));
            return EXIT_BOOT_ERROR;
        }
    };
    // Whether bound here, inherited on upgrade or passed by systemd.
    let _ = socket2::SockRef::from(listener).set_tcp_nodelay(true);
    let ctx = Context::new(Site::new(root, config), config.timeouts);
    match config.worker_model {
        WorkerModel::Sync => sync::serve(listener, ctx, &life),
        WorkerModel::Event => {
            event::raise_nofile_limit();
            event::serve(listener, ctx, &life, config.max_connections);
        }
    }
    log::flush();
    0
}

/// This worker's request limit: --max-requests plus a pseudo-random share of the
/// jitter (the pid and the clock are random enough to spread retirements out).
fn max_requests(config: &Config) -> Option<u64> {
    let base = config.process.max_requests;
    if base == 0 {
        return None;
    }
    let jitter = config.process.max_requests_jitter;
    let seed = u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ crate::heartbeat::now_ms();
    Some(base + seed % jitter.saturating_add(1))
}

/// Accepts one connection, non-blocking from the start (a single `accept4`). Accepted
/// sockets inherit TCP_NODELAY from the listener, set in [`run`]: responses leave in
/// one write, and Nagle would only hold back the tail of a large body.
pub(crate) fn accept(
    listener: &TcpListener,
) -> std::io::Result<(std::net::TcpStream, std::net::SocketAddr)> {
    let (socket, addr) =
        socket2::SockRef::from(listener).accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)?;
    let peer = addr
        .as_socket()
        .unwrap_or_else(|| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    Ok((socket.into(), peer))
}

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

extern "C" fn on_reopen(_: libc::c_int) {
    REOPEN.store(true, Ordering::Relaxed);
}

/// Replaces the handlers inherited from the master: TERM and QUIT ask for a graceful
/// stop, INT keeps its default (die now), the master's management signals are ignored.
fn install_signal_handlers() -> nix::Result<()> {
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
