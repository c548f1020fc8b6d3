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
use crate::log;
use conn::Context;

/// Exit code of a worker that could not start; the master stops respawning on it
/// (gunicorn's WORKER_BOOT_ERROR, nginx's exit code 2).
pub const EXIT_BOOT_ERROR: i32 = 3;

static STOP: AtomicBool = AtomicBool::new(false);

/// How a worker learns that it should stop taking new work.
pub struct Lifecycle {
    master: Pid,
}

impl Lifecycle {
    /// Called by every worker model at least once a second and after each connection
    /// event, with the number of requests served so far: proves the worker alive to the
    /// master and retires it after `--max-requests` (issue 3 fills this in).
    pub fn tick(&self, _served: u64) {}

    /// True once the master asked for a graceful stop or has died.
    pub fn should_stop(&self) -> bool {
        STOP.load(Ordering::Relaxed) || getppid() != self.master
    }
}

/// Runs a worker to the end; the return value is the process's exit code.
pub fn run(listener: &TcpListener, config: &Config, master: Pid) -> i32 {
    if let Err(e) = install_signal_handlers() {
        log::error(format_args!("worker cannot install signal handlers: {e}"));
        return EXIT_BOOT_ERROR;
    }
    // Die with the master even if it is killed with SIGKILL; the ppid check covers
    // the moment before this call.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
    let life = Lifecycle { master };
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
    let ctx = Context::new(Site { root }, config.timeouts);
    match config.worker_model {
        WorkerModel::Sync => sync::serve(listener, ctx, &life),
        WorkerModel::Event => {
            event::raise_nofile_limit();
            event::serve(listener, ctx, &life, config.max_connections);
        }
    }
    0
}

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
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
    // SAFETY: on_stop only stores to an atomic, which is async-signal-safe; the other
    // actions are the kernel's own dispositions.
    unsafe {
        sigaction(Signal::SIGTERM, &stop)?;
        sigaction(Signal::SIGQUIT, &stop)?;
        sigaction(Signal::SIGINT, &default)?;
        sigaction(Signal::SIGCHLD, &default)?;
        for sig in [
            Signal::SIGHUP,
            Signal::SIGUSR1,
            Signal::SIGUSR2,
            Signal::SIGTTIN,
            Signal::SIGTTOU,
            Signal::SIGWINCH,
            Signal::SIGPIPE,
        ] {
            sigaction(sig, &ignore)?;
        }
    }
    let mut unblocked = SigSet::empty();
    unblocked.add(Signal::SIGTERM);
    unblocked.add(Signal::SIGQUIT);
    unblocked.add(Signal::SIGINT);
    unblocked.thread_unblock()
}
