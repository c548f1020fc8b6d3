//! The arbiter: binds, forks the workers, and supervises them from one loop.
//!
//! Signal handlers only raise a flag and wake the loop through a pipe (signal-hook);
//! the loop then, in order: reaps dead workers, acts on the signals by name, kills hung
//! workers, tops the pool up to N of the current generation, and sleeps until the next
//! signal or tick.

pub mod daemon;
pub mod listener;
pub mod systemd;
pub mod upgrade;

use std::collections::HashMap;
use std::io::Read;
use std::net::TcpListener;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use self::daemon::{PidFile, Readiness};
use self::listener::Origin;
use self::upgrade::Invocation;
use crate::config::Config;
use crate::config::file as config_file;
use crate::heartbeat::{self, Board};
use crate::log;
use crate::site::root::Root;
use crate::worker;

/// The longest the loop sleeps without a signal; bounds how late a deadline is noticed.
const TICK: Duration = Duration::from_millis(500);

/// After SIGABRT, how long a hung worker has to die before SIGKILL.
const ABORT_GRACE: Duration = Duration::from_secs(2);

/// A worker dying sooner than this after its start counts as a crash loop.
const CRASH_WINDOW: Duration = Duration::from_secs(5);
/// The first delay before respawning after repeated quick crashes, and the cap.
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The signals the master acts on, in the order it handles them when several are pending.
const SIGNALS: [Signal; 10] = [
    Signal::SIGCHLD,
    Signal::SIGHUP,
    Signal::SIGTERM,
    Signal::SIGQUIT,
    Signal::SIGINT,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

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
    let signals =
        SignalQueue::install().map_err(|e| format!("cannot install signal handlers: {e}"))?;
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
        workers: HashMap::new(),
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

struct WorkerInfo {
    generation: u64,
    /// Set once the worker was asked to stop (reload, scale down, shutdown).
    retiring: bool,
    /// Its heartbeat slot on the board.
    slot: usize,
    started: Instant,
    /// When it was sent SIGABRT for missing its heartbeat.
    aborted: Option<Instant>,
    /// When it was asked to stop (reload, TTOU, WINCH); SIGKILL after --graceful-timeout.
    retired_at: Option<Instant>,
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
    workers: HashMap<Pid, WorkerInfo>,
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
            self.reap();
            for signal in self.signals.take() {
                self.handle(signal);
            }
            self.stop_if_boot_failed();
            if self.stop.is_none() {
                self.murder_hung_workers();
                self.kill_overdue_retirees();
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
            self.signal_all(Signal::SIGKILL);
            self.stop = Some(Stop::Fast {
                deadline: Instant::now() + FAST_STOP_GRACE,
            });
        }
        false
    }

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

    /// HUP: re-reads the command line and the config file; if they are valid, starts a
    /// new generation of workers with them and retires the old one gracefully. If not,
    /// nothing changes.
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
                self.manage_workers();
                let old: Vec<Pid> = self
                    .workers
                    .iter()
                    .filter(|(_, w)| w.generation != self.generation && !w.retiring)
                    .map(|(pid, _)| *pid)
                    .collect();
                log::info(format_args!(
                    "reloaded: generation {}, {} workers, retiring {} old one(s)",
                    self.generation,
                    self.config.workers,
                    old.len()
                ));
                for pid in old {
                    self.retire(pid);
                }
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
        let parsed = config_file::load(&self.invocation.argv);
        let result = match parsed {
            Err(config_file::ArgsError::Clap(e)) => Err(e.to_string().trim().to_string()),
            Err(config_file::ArgsError::File(m)) => Err(m),
            Ok(loaded) => Config::from_args(&loaded.args).map_err(|m| loaded.explain(m)),
        };
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
        for pid in self.workers.keys() {
            let _ = kill(*pid, Signal::SIGUSR1);
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
        let pids: Vec<Pid> = self.workers.keys().copied().collect();
        for pid in pids {
            self.retire(pid);
        }
    }

    fn unwinch(&mut self) {
        log::info(format_args!(
            "SIGHUP after SIGWINCH: starting {} workers again",
            self.config.workers
        ));
        self.winched = false;
        self.generation += 1;
        self.manage_workers();
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
            self.signal_all(Signal::SIGINT);
            self.stop = Some(Stop::Fast {
                deadline: Instant::now() + FAST_STOP_GRACE,
            });
        } else if self.stop.is_none() {
            log::info(format_args!(
                "graceful stop (timeout {:?})",
                self.config.graceful_timeout
            ));
            self.signal_all(Signal::SIGTERM);
            self.stop = Some(Stop::Graceful {
                deadline: Instant::now() + self.config.graceful_timeout,
            });
        }
    }

    /// Kills workers whose heartbeat is older than --timeout: SIGABRT first (a core
    /// dump shows where it hung), SIGKILL if that does not end it. The replacement is
    /// started at once, since the hung worker no longer counts.
    fn murder_hung_workers(&mut self) {
        let Some(timeout) = self.config.process.timeout else {
            return;
        };
        let now = Instant::now();
        for (pid, w) in &mut self.workers {
            match w.aborted {
                None => {
                    let silent = self.board.silence(w.slot);
                    if silent > timeout {
                        log::error(format_args!(
                            "worker {pid} timed out: no heartbeat for {:.1}s (--timeout {}); \
                             sending SIGABRT and starting a replacement",
                            silent.as_secs_f64(),
                            timeout.as_secs_f64()
                        ));
                        let _ = kill(*pid, Signal::SIGABRT);
                        w.aborted = Some(now);
                        w.retiring = true;
                    }
                }
                Some(at) if now.duration_since(at) >= ABORT_GRACE => {
                    log::error(format_args!(
                        "worker {pid} still alive {}s after SIGABRT: sending SIGKILL",
                        ABORT_GRACE.as_secs()
                    ));
                    let _ = kill(*pid, Signal::SIGKILL);
                    // Not again: the next signal it could get is the same.
                    w.aborted = Some(now + Duration::from_secs(3600));
                }
                Some(_) => {}
            }
        }
    }

    /// A retired worker (reload, TTOU, WINCH) gets the same grace as at shutdown,
    /// --graceful-timeout, then SIGKILL.
    fn kill_overdue_retirees(&mut self) {
        let now = Instant::now();
        for (pid, w) in &mut self.workers {
            if let Some(at) = w.retired_at
                && now.duration_since(at) > self.config.graceful_timeout
            {
                log::warn(format_args!(
                    "retired worker {pid} still busy after --graceful-timeout: SIGKILL"
                ));
                let _ = kill(*pid, Signal::SIGKILL);
                w.retired_at = None;
            }
        }
    }

    /// Brings the current generation to exactly N workers (none after WINCH, none while
    /// backing off from a crash loop).
    fn manage_workers(&mut self) {
        if self.winched {
            return;
        }
        let current: Vec<Pid> = self
            .workers
            .iter()
            .filter(|(_, w)| w.generation == self.generation && !w.retiring)
            .map(|(pid, _)| *pid)
            .collect();
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
        if current.len() > self.config.workers {
            let surplus = current.len() - self.config.workers;
            let mut current = current;
            current.sort();
            for pid in current.into_iter().take(surplus) {
                self.retire(pid);
            }
        }
    }

    fn spawn(&mut self) {
        let master = nix::unistd::getpid();
        let Some(slot) = self.free_slot() else {
            log::error(format_args!(
                "no free heartbeat slot; not starting a worker"
            ));
            return;
        };
        let heartbeat = self.board.slot(slot);
        // Blocked across the fork: the child keeps them pending until the worker has
        // replaced the master's handlers (see worker::install_signal_handlers).
        let mut previous = SigSet::empty();
        let _ = sigprocmask(
            SigmaskHow::SIG_SETMASK,
            Some(&SigSet::all()),
            Some(&mut previous),
        );
        // SAFETY: the master is single-threaded (signal-hook's flag and pipe handlers
        // start no thread), so the child inherits a consistent address space.
        let forked = unsafe { fork() };
        if !matches!(forked, Ok(ForkResult::Child)) {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&previous), None);
        }
        match forked {
            Ok(ForkResult::Child) => {
                let code = worker::run(&self.listener, &self.config, master, Some(heartbeat));
                std::process::exit(code);
            }
            Ok(ForkResult::Parent { child }) => {
                log::info(format_args!(
                    "worker {child} started (generation {})",
                    self.generation
                ));
                self.workers.insert(
                    child,
                    WorkerInfo {
                        generation: self.generation,
                        retiring: false,
                        slot,
                        started: Instant::now(),
                        aborted: None,
                        retired_at: None,
                    },
                );
            }
            Err(e) => log::error(format_args!("fork failed: {e}")),
        }
    }

    fn free_slot(&self) -> Option<usize> {
        let mut used = vec![false; heartbeat::SLOTS];
        for w in self.workers.values() {
            used[w.slot] = true;
        }
        used.iter().position(|u| !u)
    }

    fn retire(&mut self, pid: Pid) {
        if let Some(w) = self.workers.get_mut(&pid) {
            w.retiring = true;
            w.retired_at = Some(Instant::now());
            let _ = kill(pid, Signal::SIGTERM);
        }
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
            let Some(w) = self.workers.remove(&pid) else {
                continue;
            };
            match code {
                Some(worker::EXIT_BOOT_ERROR) => {
                    log::error(format_args!("worker {pid} failed to boot ({how})"));
                    self.boot_failed = true;
                }
                Some(0) => log::info(format_args!("worker {pid} {how}")),
                _ if w.retiring => log::info(format_args!("worker {pid} {how}")),
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

    fn signal_all(&mut self, signal: Signal) {
        for (pid, w) in &mut self.workers {
            w.retiring = true;
            let _ = kill(*pid, signal);
        }
    }
}

/// Signals recorded by their handlers, waited for through a self-pipe.
struct SignalQueue {
    wake: UnixStream,
    pending: Vec<(Signal, Arc<AtomicBool>)>,
}

impl SignalQueue {
    fn install() -> std::io::Result<SignalQueue> {
        let (wake, notify) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        notify.set_nonblocking(true)?;
        let mut pending = Vec::new();
        for signal in SIGNALS {
            let flag = Arc::new(AtomicBool::new(false));
            signal_hook::flag::register(signal as i32, Arc::clone(&flag))?;
            signal_hook::low_level::pipe::register(signal as i32, notify.try_clone()?)?;
            pending.push((signal, flag));
        }
        Ok(SignalQueue { wake, pending })
    }

    /// The signals raised since the last call.
    fn take(&self) -> Vec<Signal> {
        self.pending
            .iter()
            .filter(|(_, flag)| flag.swap(false, Ordering::Relaxed))
            .map(|(signal, _)| *signal)
            .collect()
    }

    /// Sleeps until a signal arrives or `timeout` passes.
    fn wait(&mut self, timeout: Duration) {
        let mut fds = [PollFd::new(self.wake.as_fd(), PollFlags::POLLIN)];
        let ms = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        if let Ok(n) = poll(&mut fds, ms)
            && n > 0
        {
            let mut sink = [0u8; 64];
            while matches!(self.wake.read(&mut sink), Ok(n) if n > 0) {}
        }
    }
}
