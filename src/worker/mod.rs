//! A worker process: inherits its listening sockets, serves until told to stop.
//!
//! Each worker model (`event`, `sync`) lives in its own file and drives the shared
//! [`conn::Conn`], which reads and writes through a [`transport::Transport`]; this file
//! boots a worker (signals, privileges, the root) and runs the chosen model to the end.

pub mod accept;
pub mod access_log;
pub mod conn;
pub mod event;
pub mod lifecycle;
pub mod sync;
pub mod transport;

use std::sync::Arc;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use rustls::ServerConfig;

use crate::config::{Config, Scheme, WorkerModel};
use crate::log;
use crate::ready::Notifier;
use crate::scoreboard::Seat;
use crate::site::handler::{Https, Site};
use crate::site::root::Root;
use crate::site::status::Pages;
use accept::Listener;
use conn::Context;
use lifecycle::Lifecycle;

/// Exit code of a worker that could not start; the master stops respawning on it
/// (gunicorn's WORKER_BOOT_ERROR, nginx's exit code 2).
pub const EXIT_BOOT_ERROR: i32 = 3;

/// Runs a worker to the end; the return value is the process's exit code.
pub fn run(
    listeners: &[Listener],
    config: &Config,
    master: Pid,
    seat: Option<Seat>,
    ready: Notifier,
    tls: Option<&Arc<ServerConfig>>,
) -> i32 {
    if let Some(seat) = seat {
        seat.entry.set_pid(std::process::id());
    }
    if let Err(e) = lifecycle::install_signal_handlers() {
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
    crash_if_asked();
    let life = Lifecycle::new(
        master,
        seat.map(|s| s.entry),
        max_requests(config),
        Some(ready),
    );
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
    for listener in listeners {
        let _ = socket2::SockRef::from(listener.socket).set_tcp_nodelay(true);
    }
    let mut site = Site::new(root, config.cache_control.clone(), config.autoindex);
    site.https = Https::new(redirect_port(listeners, config), config.hsts);
    let mut ctx = Context::new(site, config.timeouts);
    ctx.tls = tls.cloned();
    ctx.http2 = config.http2;
    if let Some(seat) = seat {
        ctx.tally = seat.entry.tally();
        ctx.status = Some(Pages::new(seat.board, config.worker_model));
    }
    match config.worker_model {
        WorkerModel::Sync => sync::serve(listeners, config.accept, ctx, &life),
        WorkerModel::Event => {
            event::raise_nofile_limit();
            event::serve(listeners, config.accept, ctx, &life, config.max_connections);
        }
    }
    log::flush();
    0
}

/// `--redirect-https`: the first TLS listener's port, as bound (`--tls-bind` may say 0).
fn redirect_port(listeners: &[Listener], config: &Config) -> Option<u16> {
    if !config.redirect_https {
        return None;
    }
    listeners
        .iter()
        .find(|l| l.scheme == Scheme::Https)
        .and_then(|l| l.socket.local_addr().ok())
        .map(|a| a.port())
}

/// Test-only: while the file `PREFORKD_TEST_CRASH_BEFORE_READY` names exists, a worker
/// exits with status 70 before it is ready, so the crash-loop tests have workers that
/// die during boot (killing one from outside cannot be timed before its readiness).
fn crash_if_asked() {
    if let Some(path) = std::env::var_os("PREFORKD_TEST_CRASH_BEFORE_READY")
        && std::path::Path::new(&path).exists()
    {
        log::warn(format_args!(
            "PREFORKD_TEST_CRASH_BEFORE_READY: crashing on purpose"
        ));
        log::flush();
        std::process::exit(70);
    }
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
        ^ crate::scoreboard::now_ms();
    Some(base + seed % jitter.saturating_add(1))
}
