//! The arbiter: binds, forks the workers, and supervises them from one loop.
//!
//! Signal handlers only queue the signal, which wakes the loop (signals.rs). Each turn:
//! 1. reap dead workers;
//! 2. act on each queued signal by name, in arrival order, as often as it came: these
//!    change what the pool should be (HUP, TTIN, TTOU, WINCH) or stop it;
//! 3. unless stopping: abort workers that missed their heartbeat, kill those past a
//!    deadline, then fork or retire workers until the current generation has exactly
//!    N. Forking only here is what makes a reload or TTIN taken in the same batch as a
//!    stop fork nothing;
//! 4. while stopping: wait for the workers to go, killing them at the stop's deadline;
//! 5. sleep until the next signal or tick.
//!
//! The worker table, and the one state each worker is in, are in workers.rs.

pub mod daemon;
pub mod listener;
pub mod signals;
pub mod systemd;
pub mod upgrade;
pub mod workers;

use std::net::TcpListener;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use self::daemon::{PidFile, Readiness};
use self::listener::Origin;
use self::signals::SignalQueue;
use self::upgrade::Invocation;
use self::workers::Workers;
use crate::config::Config;
use crate::config::file as config_file;
use crate::heartbeat::Board;
use crate::log;
use crate::site::root::Root;
use crate::worker;

/// The longest the loop sleeps without a signal; bounds how late a deadline is noticed.
const TICK: Duration = Duration::from_millis(500);

/// A worker dying sooner than this after its start counts as a crash loop.
const CRASH_WINDOW: Duration = Duration::from_secs(5);
/// The first delay before respawning after repeated quick crashes, and the cap.
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Starts the server; returns once it has stopped. `invocation` is how to re-read the
/// configuration (HUP) and how to start a new master (USR2).
pub fn run(config: Config, invocation: Invocation) -> ExitCode {
    let inherited = match listener::inherited() {
        Ok(l) => l,
        Err(message) => return fail(&mut Readiness::none(), &message, 2),
    };
    let upgrading = matches!(inherited, Some((_, Origin::Upgrade)));
    let mut readiness = if config.process.daemon && !upgrading {
        match daemon::detach() {
            Ok(r) => r,
            Err(message) => return fail(&mut Readiness::none(), &message, 1),
        }
    } else {
        Readiness::none()
    };
    match start(config, invocation, inherited) {
        Ok(arbiter) => {
            if arbiter.config.process.daemon {
                if upgrading {
                    let _ = std::env::set_current_dir("/");
                }
                if let Err(e) = daemon::redirect_stdio(log::error_file()) {
                    log::warn(format_args!("--daemon: cannot redirect stdio: {e}"));
                }
            }
            readiness.ready();
            systemd::notify(&format!("READY=1\nMAINPID={}", std::process::id()));
            arbiter.run()
        }
        Err(message) => fail(&mut readiness, &message, 2),
    }
}

fn fail(readiness: &mut Readiness, message: &str, code: u8) -> ExitCode {
    readiness.failed(message);
    ExitCode::from(code)
}

/// Everything that can fail before the server listens: logs, socket, pid file, signals.
fn start(
    config: Config,
    invocation: Invocation,
    inherited: Option<(TcpListener, Origin)>,
) -> Result<Arbiter, String> {
    let owner = config.process.credentials.as_ref().map(|c| c.owner());
    log::open(
        &config.process.error_log,
        config.process.access_log.as_ref(),
        owner,
    )?;
    let (listener, origin) = match inherited {
        Some(l) => l,
        None => (bind(&config)?, Origin::Bound),
    };
    let parent = nix::unistd::getppid();
    let pid_file = match &config.process.pid_file {
        Some(path) => Some(PidFile::create(
            path,
            (origin == Origin::Upgrade).then_some(parent),
        )?),
        None => None,
    };
    let signals = SignalQueue::install(&signals::HANDLED)
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let board = Board::new().map_err(|e| format!("cannot map the heartbeat board: {e}"))?;
    let addr = listener
        .local_addr()
        .map_or_else(|_| config.bind.to_string(), |a| a.to_string());
    let from = match origin {
        Origin::Bound => String::new(),
        Origin::Upgrade => format!(" (socket inherited from master {parent})"),
        Origin::Systemd => " (socket from systemd)".into(),
    };
    log::info(format_args!(
        "preforkd {} listening on {addr}, {} {:?} workers, root {}{from}",
        env!("CARGO_PKG_VERSION"),
        config.workers,
        config.worker_model,
        config.root.display()
    ));
    Ok(Arbiter {
        config,
        invocation,
        listener,
        signals,
        board,
        pid_file,
        workers: Workers::default(),
        generation: 0,
        stop: None,
        boot_failed: false,
        crashes: 0,
        respawn_at: None,
        new_master: None,
        winched: false,
    })
}

/// Binds the configured address, refusing a port another process already listens on
/// (SO_REUSEPORT would otherwise let two servers share it silently).
fn bind(config: &Config) -> Result<TcpListener, String> {
    let flag = |e: std::io::Error| format!("--bind {}: {e}", config.bind);
    if config.bind.port() != 0 {
        let probe = socket2::Socket::new(
            socket2::Domain::for_address(config.bind),
            socket2::Type::STREAM,
            None,
        )
        .map_err(flag)?;
        probe.set_reuse_address(true).map_err(flag)?;
        probe.bind(&config.bind.into()).map_err(flag)?;
    }
    listener::bind(config.bind, config.backlog).map_err(flag)
}

#[derive(Clone, Copy)]
enum Stop {
    /// Wait for in-flight responses until the deadline, then kill.
    Graceful { deadline: Instant },
    /// Workers were told to die now; SIGKILL for any still there at the deadline.
    Fast { deadline: Instant },
}

/// How long a fast stop waits for workers to die of SIGINT before SIGKILL.
const FAST_STOP_GRACE: Duration = Duration::from_secs(5);

struct Arbiter {
    config: Config,
    invocation: Invocation,
    listener: TcpListener,
    signals: SignalQueue,
    board: Board,
    /// Dropped (and so removed) when the master returns from `run`.
    pid_file: Option<PidFile>,
    workers: Workers,
    /// Bumped by every reload; workers of older generations are retired.
    generation: u64,
    stop: Option<Stop>,
    boot_failed: bool,
    /// Workers that died shortly after starting, in a row.
    crashes: u32,
    /// No worker is started before this (crash backoff).
    respawn_at: Option<Instant>,
    /// The master started by USR2, while it runs.
    new_master: Option<Pid>,
    /// After WINCH: no workers until HUP (or until the new master exits).
    winched: bool,
}

impl Arbiter {
    fn run(mut self) -> ExitCode {
        loop {
            // Drained before reaping: a child that exits after `reap` has looked then
            // leaves a SIGCHLD in the queue that wakes the next turn at once. Drained
            // after, that SIGCHLD would be read here and the zombie would wait a tick.
            let signals = self.signals.take();
            self.reap();
            for signal in signals {
                self.handle(signal);
            }
            self.stop_if_boot_failed();
            if self.stop.is_none() {
                self.murder_hung_workers();
                self.workers.kill_overdue();
                self.manage_workers();
            } else if self.drained() {
                break;
            }
            self.signals.wait(self.next_wake());
        }
        log::info(format_args!("master exiting"));
        log::flush();
        if self.boot_failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }

    fn stop_if_boot_failed(&mut self) {
        if self.boot_failed && self.stop.is_none() {
            log::error(format_args!(
                "a worker failed to boot; stopping instead of respawning"
            ));
            self.begin_stop(Signal::SIGTERM);
        }
    }

    /// While stopping: true once every worker is gone; SIGKILL for those past the
    /// deadline of their stop.
    fn drained(&mut self) -> bool {
        if self.workers.is_empty() {
            return true;
        }
        let (Some(Stop::Graceful { deadline }) | Some(Stop::Fast { deadline })) = self.stop else {
            return false;
        };
        if Instant::now() >= deadline {
            log::warn(format_args!(
                "{}: killing {} worker(s)",
                match self.stop {
                    Some(Stop::Graceful { .. }) => "graceful timeout",
                    _ => "workers still alive after a fast stop",
                },
                self.workers.len()
            ));
            self.workers.kill_all();
            self.stop = Some(Stop::Fast {
                deadline: Instant::now() + FAST_STOP_GRACE,
            });
        }
        false
    }

    /// Acts on one queued signal. Once a stop is taken, the signals after it that would
    /// start workers are ignored.
    fn handle(&mut self, signal: Signal) {
        let running = self.stop.is_none();
        match signal {
            Signal::SIGCHLD => {} // reaped at the top of every turn
            Signal::SIGHUP if running && self.winched => self.unwinch(),
            Signal::SIGHUP if running => self.reload(),
            Signal::SIGTERM | Signal::SIGQUIT => self.begin_stop(Signal::SIGTERM),
            Signal::SIGINT => self.begin_stop(Signal::SIGINT),
            Signal::SIGTTIN if running => {
                self.config.workers += 1;
                log::info(format_args!("SIGTTIN: {} workers", self.config.workers));
            }
            Signal::SIGTTOU if running => {
                self.config.workers = (self.config.workers - 1).max(1);
                log::info(format_args!("SIGTTOU: {} workers", self.config.workers));
            }
            Signal::SIGUSR1 => self.reopen_logs(),
            Signal::SIGUSR2 if running => self.upgrade(),
            Signal::SIGWINCH if running => self.winch(),
            _ => {}
        }
    }

    /// HUP: re-reads the command line and the config file; if they are valid, makes a
    /// new generation with them, which the end of the turn starts before it retires the
    /// old one gracefully. If not, nothing changes.
    fn reload(&mut self) {
        log::info(format_args!("SIGHUP: reloading the configuration"));
        systemd::notify_reloading();
        match self.reread_config() {
            Err(message) => log::error(format_args!(
                "reload failed, still running the previous configuration: {message}"
            )),
            Ok(config) => {
                self.config = config;
                self.generation += 1;
                log::info(format_args!(
                    "reloaded: generation {}, {} workers, retiring {} old one(s)",
                    self.generation,
                    self.config.workers,
                    self.workers.outdated(self.generation).len()
                ));
            }
        }
        systemd::notify("READY=1");
    }

    /// The configuration as the command line and file now say, validated as at start-up
    /// plus: the root must open, and what only a restart can change is kept (logged).
    fn reread_config(&self) -> Result<Config, String> {
        // Relative paths mean what they meant at start-up, even in a daemon now in /.
        let here = std::env::current_dir().ok();
        let _ = std::env::set_current_dir(&self.invocation.cwd);
        let result = config_file::config(&self.invocation.argv).map_err(|r| r.to_string());
        if let Some(here) = here {
            let _ = std::env::set_current_dir(here);
        }
        let mut config = result?;
        Root::open(&config.root, config.symlinks, config.serve_hidden)
            .map_err(|e| format!("--root {}: {e}", config.root.display()))?;
        let old = &self.config;
        if config.bind != old.bind || config.backlog != old.backlog {
            log::warn(format_args!(
                "reload: --bind/--backlog changed to {} (backlog {}); the listening socket \
                 changes only with a restart or a USR2 upgrade, keeping {} (backlog {})",
                config.bind, config.backlog, old.bind, old.backlog
            ));
            config.bind = old.bind;
            config.backlog = old.backlog;
        }
        if config.process.daemon != old.process.daemon
            || config.process.pid_file != old.process.pid_file
        {
            log::warn(format_args!(
                "reload: --daemon and --pid-file change only with a restart; keeping them"
            ));
            config.process.daemon = old.process.daemon;
            config.process.pid_file = old.process.pid_file.clone();
        }
        if config.process.error_log != old.process.error_log
            || config.process.access_log != old.process.access_log
            || config.process.credentials != old.process.credentials
        {
            log::open(
                &config.process.error_log,
                config.process.access_log.as_ref(),
                config.process.credentials.as_ref().map(|c| c.owner()),
            )?;
        }
        Ok(config)
    }

    /// USR1: the master reopens its logs first (creating the new files), then each
    /// worker reopens its own.
    fn reopen_logs(&mut self) {
        log::info(format_args!("SIGUSR1: reopening log files"));
        log::reopen();
        for pid in self.workers.pids() {
            let _ = kill(pid, Signal::SIGUSR1);
        }
        log::info(format_args!("log files reopened"));
    }

    /// USR2: starts a new master on the same socket; both serve until WINCH or QUIT.
    fn upgrade(&mut self) {
        if let Some(pid) = self.new_master {
            log::warn(format_args!(
                "SIGUSR2 ignored: an upgrade is in progress (new master {pid})"
            ));
            return;
        }
        if let Some(pid_file) = &mut self.pid_file
            && let Err(e) = pid_file.set_aside()
        {
            log::warn(format_args!("cannot rename the pid file to .oldbin: {e}"));
        }
        match upgrade::spawn_new_master(&self.invocation, &self.listener) {
            Ok(pid) => {
                log::info(format_args!(
                    "SIGUSR2: started new master {pid} ({}); send WINCH then QUIT to {} to \
                     finish, or QUIT to {pid} to roll back",
                    self.invocation.exe.display(),
                    std::process::id()
                ));
                self.new_master = Some(pid);
            }
            Err(e) => {
                log::error(format_args!(
                    "SIGUSR2: cannot start {}: {e}",
                    self.invocation.exe.display()
                ));
                self.restore_pid_file();
            }
        }
    }

    /// WINCH: retires every worker and starts none until HUP. Acted on only during an
    /// upgrade or in a daemon: a terminal sends WINCH whenever its window is resized.
    fn winch(&mut self) {
        if self.new_master.is_none() && !self.config.process.daemon {
            log::info(format_args!(
                "SIGWINCH ignored: no upgrade in progress and not a daemon"
            ));
            return;
        }
        log::info(format_args!(
            "SIGWINCH: stopping all workers gracefully; HUP brings them back"
        ));
        self.winched = true;
        let deadline = Instant::now() + self.config.graceful_timeout;
        self.workers.retire_all(deadline);
    }

    fn unwinch(&mut self) {
        log::info(format_args!(
            "SIGHUP after SIGWINCH: starting {} workers again",
            self.config.workers
        ));
        self.winched = false;
        self.generation += 1;
    }

    fn restore_pid_file(&mut self) {
        if let Some(pid_file) = &mut self.pid_file
            && let Err(e) = pid_file.restore()
        {
            log::warn(format_args!(
                "cannot restore the pid file {}: {e}",
                pid_file.path().display()
            ));
        }
    }

    fn begin_stop(&mut self, how: Signal) {
        systemd::notify("STOPPING=1");
        if how == Signal::SIGINT {
            log::info(format_args!("fast stop"));
            self.workers.stop_all(Signal::SIGINT);
            self.stop = Some(Stop::Fast {
                deadline: Instant::now() + FAST_STOP_GRACE,
            });
        } else if self.stop.is_none() {
            log::info(format_args!(
                "graceful stop (timeout {:?})",
                self.config.graceful_timeout
            ));
            self.workers.stop_all(Signal::SIGTERM);
            self.stop = Some(Stop::Graceful {
                deadline: Instant::now() + self.config.graceful_timeout,
            });
        }
    }

    /// Aborts workers whose heartbeat is older than --timeout: SIGABRT first (a core
    /// dump shows where it hung), SIGKILL if that does not end it (kill_overdue). The
    /// replacement is started at once, since the hung worker no longer counts.
    fn murder_hung_workers(&mut self) {
        if let Some(timeout) = self.config.process.timeout {
            self.workers.abort_hung(&self.board, timeout);
        }
    }

    /// Brings the current generation to exactly N workers, then retires the older
    /// generations (none after WINCH; nothing while backing off from a crash loop).
    fn manage_workers(&mut self) {
        if self.winched {
            return;
        }
        let current = self.workers.serving(self.generation);
        if current.len() < self.config.workers {
            if let Some(at) = self.respawn_at {
                if Instant::now() < at {
                    return;
                }
                self.respawn_at = None;
            }
            for _ in current.len()..self.config.workers {
                self.spawn();
            }
        }
        let surplus = current.len().saturating_sub(self.config.workers);
        for pid in current.into_iter().take(surplus) {
            self.retire(pid);
        }
        for pid in self.workers.outdated(self.generation) {
            self.retire(pid);
        }
    }

    fn spawn(&mut self) {
        match self
            .workers
            .spawn(self.generation, &self.listener, &self.config, &self.board)
        {
            Ok(pid) => log::info(format_args!(
                "worker {pid} started (generation {})",
                self.generation
            )),
            Err(message) => log::error(format_args!("{message}")),
        }
    }

    /// SIGTERM now, SIGKILL after --graceful-timeout: the grace a stop gives too.
    fn retire(&mut self, pid: Pid) {
        let deadline = Instant::now() + self.config.graceful_timeout;
        self.workers.retire(pid, deadline);
    }

    /// Collects every child that has exited (workers and a new master) and logs how it
    /// ended.
    fn reap(&mut self) {
        loop {
            let (pid, how, code) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => {
                    (pid, format!("exited with status {code}"), Some(code))
                }
                Ok(WaitStatus::Signaled(pid, signal, _)) => {
                    (pid, format!("killed by signal {signal}"), None)
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            };
            if Some(pid) == self.new_master {
                self.new_master_exited(pid, &how);
                continue;
            }
            let Some(w) = self.workers.remove(pid) else {
                continue;
            };
            match code {
                Some(worker::EXIT_BOOT_ERROR) => {
                    log::error(format_args!("worker {pid} failed to boot ({how})"));
                    self.boot_failed = true;
                }
                Some(0) => log::info(format_args!("worker {pid} {how}")),
                _ if w.was_told_to_exit() => log::info(format_args!("worker {pid} {how}")),
                _ => {
                    log::warn(format_args!("worker {pid} {how}"));
                    self.crashed(w.started.elapsed());
                }
            }
        }
    }

    /// Backs off exponentially when workers keep dying soon after they start, so a bad
    /// deploy does not become a fork loop; one crash alone is replaced at once.
    fn crashed(&mut self, lived: Duration) {
        if lived >= CRASH_WINDOW {
            self.crashes = 0;
            return;
        }
        self.crashes += 1;
        if self.crashes < 2 {
            return;
        }
        let delay = BACKOFF_FIRST
            .saturating_mul(1 << (self.crashes - 2).min(16))
            .min(BACKOFF_MAX);
        log::warn(format_args!(
            "worker crashed {:.1}s after start ({} quick crashes in a row): waiting {:.2}s \
             before starting another",
            lived.as_secs_f64(),
            self.crashes,
            delay.as_secs_f64()
        ));
        self.respawn_at = Some(Instant::now() + delay);
    }

    fn new_master_exited(&mut self, pid: Pid, how: &str) {
        self.new_master = None;
        log::warn(format_args!(
            "new master {pid} {how}; this master ({}) carries on",
            std::process::id()
        ));
        self.restore_pid_file();
        if self.winched && self.stop.is_none() {
            self.unwinch();
        }
    }

    /// When the loop must look again at the latest: a tick, or the end of a backoff.
    fn next_wake(&self) -> Duration {
        match self.respawn_at {
            Some(at) => at
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(1), TICK),
            None => TICK,
        }
    }
}
