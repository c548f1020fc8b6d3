//! The arbiter: binds, forks the workers, and supervises them from one loop.
//!
//! Signal handlers only queue the signal, and workers say when they are ready; both wake
//! the loop (signals.rs, ready.rs). Each turn:
//! 1. note the workers the scoreboard shows ready, reap dead ones (folding their counts
//!    into the scoreboard's totals, with why they left);
//! 2. act on each queued signal by name, in arrival order, as often as it came: these
//!    change what the pool should be (HUP, TTIN, TTOU, WINCH) or stop it;
//! 3. unless stopping: abort workers that missed their heartbeat, retire a worker whose
//!    slot's queue waits on its silence, kill those past a deadline, then fork a worker
//!    for every slot of the current generation that lacks one, and retire the workers a
//!    ready one replaces. Forking only here is what makes a reload or TTIN taken in the
//!    same batch as a stop fork nothing;
//! 4. while stopping: wait for the workers to go, killing them at the stop's deadline;
//! 5. sleep until the next signal or tick.
//!
//! With a status listener, the master stands in on it while no worker serves
//! (standin.rs), each turn after the signals and before the supervision.
//!
//! The worker table, and the one state each worker is in, are in workers.rs; the
//! listening sockets, per address one per slot or one shared, in sockets.rs; what the
//! workers and the master share in memory, in `crate::scoreboard`.

pub mod daemon;
pub mod listener;
pub mod signals;
pub mod sockets;
pub mod standin;
pub mod systemd;
pub mod upgrade;
pub mod workers;

use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use rustls::ServerConfig;

use self::daemon::{PidFile, Readiness};
use self::listener::Origin;
use self::signals::SignalQueue;
use self::sockets::Sockets;
use self::standin::StandIn;
use self::upgrade::Invocation;
use self::workers::{Provisions, Workers};
use crate::config::file as config_file;
use crate::config::{AcceptModel, Config, Listen, MAX_WORKERS, Scheme, TlsFiles, WorkerModel};
use crate::log;
use crate::ready::ReadyPipe;
use crate::scoreboard::{Board, Cause};
use crate::site::root::Root;
use crate::tls::{self, TicketKeys};
use crate::worker;

/// The longest the loop sleeps without a signal; bounds how late a deadline is noticed.
const TICK: Duration = Duration::from_millis(500);

/// How long a ready event worker may be silent while connections wait in its slot's
/// queue before another worker takes over the socket (see `relieve_stalled_slots`).
const STALL_LIMIT: Duration = Duration::from_secs(2);

/// The first delay before respawning after repeated quick crashes, and the cap.
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Starts the server; returns once it has stopped. `invocation` is how to re-read the
/// configuration (HUP) and how to start a new master (USR2).
pub fn run(config: Config, invocation: Invocation) -> ExitCode {
    let inherited = match listener::inherited(&config.listen) {
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

/// The addresses as the log shows them: `http://127.0.0.1:8080, https://[::1]:8443`.
fn urls(listen: &[Listen]) -> String {
    listen
        .iter()
        .map(Listen::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn fail(readiness: &mut Readiness, message: &str, code: u8) -> ExitCode {
    readiness.failed(message);
    ExitCode::from(code)
}

/// Everything that can fail before the server listens: logs, socket, pid file, signals.
fn start(
    mut config: Config,
    invocation: Invocation,
    inherited: Option<(listener::Groups, Origin)>,
) -> Result<Arbiter, String> {
    // First, so a bad certificate stops the start before anything else happens, and
    // read as the user who started us: workers may not be allowed to read the key.
    let tls = config
        .tls
        .as_ref()
        .map(|files| Tls::load(files, None, config.http2))
        .transpose()?;
    let owner = config.process.credentials.as_ref().map(|c| c.owner());
    log::open(
        &config.process.error_log,
        config.process.access_log.as_ref(),
        owner,
    )?;
    let (mut sockets, origin) = match inherited {
        Some((list, origin)) => (Sockets::adopt(list, config.accept, config.backlog)?, origin),
        None => (Sockets::bind(&config)?, Origin::Bound),
    };
    if tls.is_none()
        && let Some(https) = sockets
            .listening()
            .iter()
            .find(|l| l.scheme == Scheme::Https)
    {
        return Err(format!(
            "{https} came from systemd as HTTPS but --tls-cert and --tls-key are not \
             given (name it with --tls-bind too)"
        ));
    }
    sockets.resize(config.workers)?;
    // The workers accept as the sockets allow (a systemd socket without SO_REUSEPORT
    // is shared, whatever was asked).
    let accept_asked = config.accept;
    config.accept = sockets.model();
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
    let board = Board::new().map_err(|e| format!("cannot map the scoreboard: {e}"))?;
    let ready = ReadyPipe::new().map_err(|e| format!("cannot make the readiness pipe: {e}"))?;
    let addrs = urls(&sockets.listening());
    let from = match origin {
        Origin::Bound => String::new(),
        Origin::Upgrade => format!(" (socket inherited from master {parent})"),
        Origin::Systemd => " (socket from systemd)".into(),
    };
    log::info(format_args!(
        "preforkd {} listening on {addrs}, {} {:?} workers, {}, root {}{from}",
        env!("CARGO_PKG_VERSION"),
        config.workers,
        config.worker_model,
        sockets.describe(),
        config.root.display()
    ));
    Ok(Arbiter {
        config,
        invocation,
        accept_asked,
        sockets,
        signals,
        ready,
        board,
        standin: StandIn::new(),
        pid_file,
        workers: Workers::default(),
        generation: 0,
        stop: None,
        boot_failed: false,
        crashes: 0,
        respawn_at: None,
        held_back: BTreeSet::new(),
        new_master: None,
        winched: false,
        tls,
    })
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
    /// What --accept asked for; `config.accept` is what the sockets allow (sockets.rs).
    accept_asked: AcceptModel,
    sockets: Sockets,
    signals: SignalQueue,
    /// Rung by workers once the scoreboard says they wait for connections.
    ready: ReadyPipe,
    /// The workers' states, heartbeats and counters; the totals of those gone.
    board: Board,
    /// Answers the status listener while no worker serves.
    standin: StandIn,
    /// Dropped (and so removed) when the master returns from `run`.
    pid_file: Option<PidFile>,
    workers: Workers,
    /// Bumped by every reload; workers of older generations are retired.
    generation: u64,
    stop: Option<Stop>,
    boot_failed: bool,
    /// Workers that died before they were ready, since one last became ready.
    crashes: u32,
    /// The slots whose worker died before it was ready: none is started there before
    /// `respawn_at` (crash backoff). Other slots are filled at once.
    respawn_at: Option<Instant>,
    held_back: BTreeSet<usize>,
    /// The master started by USR2, while it runs.
    new_master: Option<Pid>,
    /// After WINCH: no workers until HUP (or until the new master exits).
    winched: bool,
    /// With HTTPS listeners: what their connections are served with.
    tls: Option<Tls>,
}

/// The TLS state the master keeps for its workers.
struct Tls {
    /// Certificate and key as last loaded (start-up or a reload); new workers get it.
    config: Arc<ServerConfig>,
    /// The pool's session-ticket keys: mapped before any fork, rotated here.
    tickets: TicketKeys,
}

impl Tls {
    /// Reads `--tls-cert`/`--tls-key`. Only the first call maps the ticket keys: a
    /// reload keeps them, so sessions resume across it.
    fn load(files: &TlsFiles, tickets: Option<TicketKeys>, http2: bool) -> Result<Tls, String> {
        let tickets = match tickets {
            Some(t) => t,
            None => {
                TicketKeys::new().map_err(|e| format!("cannot map the TLS ticket keys: {e}"))?
            }
        };
        let config = tls::server_config(&files.cert, &files.key, &tickets, http2)?;
        Ok(Tls { config, tickets })
    }
}

impl Arbiter {
    fn run(mut self) -> ExitCode {
        loop {
            // Drained before reaping: a child that exits after `reap` has looked then
            // leaves a SIGCHLD in the queue that wakes the next turn at once. Drained
            // after, that SIGCHLD would be read here and the zombie would wait a tick.
            let signals = self.signals.take();
            self.note_ready();
            self.reap();
            for signal in signals {
                self.handle(signal);
            }
            // Before the supervision below: a status connection that woke the loop is
            // answered before a stalled slot is judged by its queue.
            self.stand_in();
            self.stop_if_boot_failed();
            if self.stop.is_none() {
                self.murder_hung_workers();
                self.relieve_stalled_slots();
                self.workers.kill_overdue();
                self.manage_workers();
                self.rotate_ticket_keys();
            } else if self.drained() {
                break;
            }
            let status = self.sockets.status_listeners();
            let mut also = self.standin.fds(&status);
            also.push(self.ready.as_fd());
            self.signals.wait(self.next_wake(), &also);
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
            Signal::SIGTTIN if running && self.config.workers >= MAX_WORKERS => {
                log::warn(format_args!(
                    "SIGTTIN ignored: already {MAX_WORKERS} workers, the most there can be"
                ));
            }
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
        let reread = self
            .reread_config()
            .and_then(|config| Ok((self.reload_certificate(&config)?, config)));
        match reread {
            Err(message) => log::error(format_args!(
                "reload failed, still running the previous configuration: {message}"
            )),
            Ok((certificate, config)) => {
                if let (Some(tls), Some(new)) = (&mut self.tls, certificate) {
                    tls.config = new;
                }
                self.config = config;
                self.generation += 1;
                self.board.set_generation(self.generation);
                log::info(format_args!(
                    "reloaded: generation {}, {} workers, retiring {} old one(s)",
                    self.generation,
                    self.config.workers,
                    self.workers.outdated(self.generation)
                ));
            }
        }
        systemd::notify("READY=1");
    }

    /// The certificate and key a reload brings, read and checked before anything
    /// changes; new workers serve with them, and the ticket keys stay (sessions resume
    /// across the reload). The listeners stay as they were (see `reread_config`), so
    /// HTTPS ones still need a certificate whatever the new flags say.
    fn reload_certificate(&self, config: &Config) -> Result<Option<Arc<ServerConfig>>, String> {
        match (&self.tls, &config.tls) {
            (Some(tls), Some(files)) => {
                tls::server_config(&files.cert, &files.key, &tls.tickets, config.http2).map(Some)
            }
            (Some(_), None) => Err("--tls-cert and --tls-key: the HTTPS listeners change only \
                                    with a restart, so they still need a certificate"
                .into()),
            (None, _) => Ok(None),
        }
    }

    /// A new ticket key every `tls::ROTATE_EVERY`; the oldest one is erased.
    fn rotate_ticket_keys(&self) {
        if let Some(tls) = &self.tls {
            tls.tickets.rotate_if_due(Instant::now());
        }
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
        if config.listen != old.listen || config.backlog != old.backlog {
            log::warn(format_args!(
                "reload: --bind/--tls-bind/--status-bind/--backlog changed to {} (backlog {}); the \
                 listening sockets change only with a restart or a USR2 upgrade, keeping {} \
                 (backlog {})",
                urls(&config.listen),
                config.backlog,
                urls(&old.listen),
                old.backlog
            ));
            config.listen = old.listen.clone();
            config.backlog = old.backlog;
        }
        if config.accept != self.accept_asked {
            log::warn(format_args!(
                "reload: --accept changes only with a restart or a USR2 upgrade; keeping {}",
                sockets::name(old.accept)
            ));
        }
        config.accept = old.accept;
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
        match upgrade::spawn_new_master(&self.invocation, &self.sockets.raw_fds()) {
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
        self.workers.retire_all(deadline, Cause::Winch);
    }

    fn unwinch(&mut self) {
        log::info(format_args!(
            "SIGHUP after SIGWINCH: starting {} workers again",
            self.config.workers
        ));
        self.winched = false;
        self.generation += 1;
        self.board.set_generation(self.generation);
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

    /// With a socket per slot, a worker that stops taking connections (stopped, stuck
    /// in the disk) leaves its queue waiting however idle the others are. A ready
    /// worker silent for STALL_LIMIT while connections wait in its queue is retired
    /// gracefully, and the end of the turn starts another on the same socket: the queue
    /// waits a few seconds, not --timeout. (A healthy event worker beats at least once
    /// a second, and a worker with a queue to take wakes at once.)
    fn relieve_stalled_slots(&mut self) {
        if self.config.worker_model != WorkerModel::Event {
            return;
        }
        for slot in 0..self.config.workers.min(self.sockets.slots()) {
            let Some((pid, cell)) = self
                .workers
                .serving_in(self.generation, slot)
                .filter(|w| w.ready)
                .map(|w| (w.pid, w.cell))
            else {
                continue;
            };
            let silent = self.board.silence(cell);
            if silent < STALL_LIMIT {
                continue;
            }
            // While the master stands in on the status listener, what waits there is
            // its own to answer, not a sign of this worker's stall.
            let queued = self.sockets.queued(slot, !self.standin.is_active());
            if queued == 0 {
                continue;
            }
            log::warn(format_args!(
                "worker {pid} silent for {:.1}s with {queued} connection(s) waiting in slot \
                 {slot}'s queue: retiring it and starting another on that socket",
                silent.as_secs_f64()
            ));
            self.retire(pid, Cause::Stalled);
        }
    }

    /// Gives every slot of the current generation a worker, then retires the workers
    /// that ready ones replace and those of slots no longer in the pool (none after
    /// WINCH; a slot whose worker crashed before it was ready waits out the backoff).
    fn manage_workers(&mut self) {
        if self.winched {
            return;
        }
        if let Err(message) = self.sockets.resize(self.config.workers) {
            log::error(format_args!("{message}"));
        }
        let slots = self.config.workers.min(self.sockets.slots());
        let now = Instant::now();
        let backing_off = self.respawn_at.is_some_and(|at| now < at);
        for slot in 0..slots {
            if self.workers.serving_in(self.generation, slot).is_some()
                || (backing_off && self.held_back.contains(&slot))
            {
                continue;
            }
            self.held_back.remove(&slot);
            self.spawn(slot);
        }
        if !backing_off {
            self.respawn_at = None;
        }
        for pid in self.workers.replaced(self.generation, slots) {
            // An older generation's worker goes for the reload, one of this generation
            // because its slot left the pool.
            let cause = match self.workers.get(pid) {
                Some(w) if w.generation != self.generation => Cause::Reload,
                _ => Cause::Ttou,
            };
            self.retire(pid, cause);
        }
        let workers = &self.workers;
        self.sockets.release(|slot| workers.holds(slot));
    }

    fn spawn(&mut self, slot: usize) {
        let given = Provisions {
            sockets: &self.sockets,
            config: &self.config,
            board: &self.board,
            tls: self.tls.as_ref().map(|t| &t.config),
        };
        match self
            .workers
            .spawn(self.generation, slot, &given, self.ready.notifier())
        {
            Ok(pid) => log::info(format_args!(
                "worker {pid} started (generation {}, slot {slot})",
                self.generation
            )),
            Err(message) => log::error(format_args!("{message}")),
        }
    }

    /// Marks the workers the scoreboard shows ready (the doorbell only woke the loop).
    /// One ready worker ends a crash loop.
    fn note_ready(&mut self) {
        self.ready.take();
        for (pid, slot) in self.workers.mark_ready(&self.board) {
            log::info(format_args!("worker {pid} ready (slot {slot})"));
            self.crashes = 0;
        }
    }

    /// SIGTERM now, SIGKILL after --graceful-timeout: the grace a stop gives too.
    fn retire(&mut self, pid: Pid, cause: Cause) {
        let deadline = Instant::now() + self.config.graceful_timeout;
        self.workers.retire(pid, deadline, cause);
    }

    /// With a status listener: the master answers it while no worker of its own can
    /// (none ready or starting with a fresh heartbeat, for a second), and not while
    /// another master's workers may be the ones serving (an upgrade, WINCH) or while it
    /// stops.
    /// Connections already taken are answered whatever happens.
    fn stand_in(&mut self) {
        let status = self.sockets.status_listeners();
        if status.is_empty() {
            return;
        }
        let needed = self.stop.is_none()
            && !self.winched
            && self.new_master.is_none()
            && !self.board.answering();
        self.standin.update(needed, Instant::now());
        self.standin.serve(&status, Instant::now());
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
            if self.workers.get(pid).is_some_and(|w| !w.ready) {
                // It may have become ready just before it died.
                self.note_ready();
            }
            let Some(w) = self.workers.remove(pid) else {
                continue;
            };
            // Nothing it served is lost: its counts join its slot's totals.
            self.board.fold(w.cell, w.exit_cause(code));
            match code {
                Some(worker::EXIT_BOOT_ERROR) => {
                    log::error(format_args!("worker {pid} failed to boot ({how})"));
                    self.boot_failed = true;
                }
                Some(0) => log::info(format_args!("worker {pid} {how}")),
                _ if w.was_told_to_exit() => log::info(format_args!("worker {pid} {how}")),
                _ if w.ready => log::warn(format_args!(
                    "worker {pid} {how}; replacing it (slot {})",
                    w.slot
                )),
                _ => {
                    log::warn(format_args!("worker {pid} {how} before it was ready"));
                    self.crashed(w.slot, w.started.elapsed());
                }
            }
        }
    }

    /// Backs off exponentially when workers keep dying before they are ready, so a bad
    /// deploy does not become a fork loop; one such crash alone is replaced at once. A
    /// worker that was ready and died (killed, out of memory) is always replaced at once.
    fn crashed(&mut self, slot: usize, lived: Duration) {
        self.crashes += 1;
        if self.crashes < 2 {
            return;
        }
        let delay = BACKOFF_FIRST
            .saturating_mul(1 << (self.crashes - 2).min(16))
            .min(BACKOFF_MAX);
        log::warn(format_args!(
            "worker crashed {:.1}s after start, before it was ready ({} quick crashes in a \
             row): waiting {:.2}s before starting another",
            lived.as_secs_f64(),
            self.crashes,
            delay.as_secs_f64()
        ));
        self.respawn_at = Some(Instant::now() + delay);
        self.held_back.insert(slot);
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
