//! The arbiter: binds, forks the workers, and supervises them from one loop.
//!
//! Signal handlers only raise a flag and wake the loop through a pipe (signal-hook);
//! the loop then, in order: reaps dead workers, acts on the signals by name, tops the
//! pool up to N of the current generation, and sleeps until the next signal or tick.

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
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use crate::config::Config;
use crate::listener;
use crate::log;
use crate::worker;

/// The longest the loop sleeps without a signal; bounds how late a deadline is noticed.
const TICK: Duration = Duration::from_millis(500);

/// The signals the master acts on, in the order it handles them when several are pending.
const SIGNALS: [Signal; 7] = [
    Signal::SIGCHLD,
    Signal::SIGHUP,
    Signal::SIGTERM,
    Signal::SIGQUIT,
    Signal::SIGINT,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
];

/// Starts the server; returns once it has stopped.
pub fn run(config: Config) -> ExitCode {
    let listener = match bind(&config) {
        Ok(l) => l,
        Err(message) => {
            eprintln!("preforkd: error: {message}");
            return ExitCode::from(2);
        }
    };
    let signals = match SignalQueue::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("preforkd: error: cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let addr = listener
        .local_addr()
        .map_or_else(|_| config.bind.to_string(), |a| a.to_string());
    log::info(format_args!(
        "preforkd {} listening on {addr}, {} {:?} workers, root {}",
        env!("CARGO_PKG_VERSION"),
        config.workers,
        config.worker_model,
        config.root.display()
    ));
    Arbiter {
        config,
        listener,
        signals,
        workers: HashMap::new(),
        generation: 0,
        stop: None,
        boot_failed: false,
    }
    .run()
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
}

#[derive(Clone, Copy)]
enum Stop {
    /// Wait for in-flight responses until the deadline, then kill.
    Graceful { deadline: Instant },
    /// Workers were told to die now.
    Fast,
}

struct Arbiter {
    config: Config,
    listener: TcpListener,
    signals: SignalQueue,
    workers: HashMap<Pid, WorkerInfo>,
    /// Bumped by every reload; workers of older generations are retired.
    generation: u64,
    stop: Option<Stop>,
    boot_failed: bool,
}

impl Arbiter {
    fn run(mut self) -> ExitCode {
        loop {
            self.reap();
            for signal in self.signals.take() {
                self.handle(signal);
            }
            if self.boot_failed && self.stop.is_none() {
                log::error(format_args!(
                    "a worker failed to boot; stopping instead of respawning"
                ));
                self.begin_stop(Signal::SIGTERM);
            }
            match self.stop {
                None => self.manage_workers(),
                Some(_) if self.workers.is_empty() => break,
                Some(Stop::Graceful { deadline }) if Instant::now() >= deadline => {
                    log::warn(format_args!(
                        "graceful timeout: killing {} worker(s)",
                        self.workers.len()
                    ));
                    self.signal_all(Signal::SIGKILL);
                    self.stop = Some(Stop::Fast);
                }
                Some(_) => {}
            }
            self.signals.wait(TICK);
        }
        log::info(format_args!("master exiting"));
        if self.boot_failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }

    fn handle(&mut self, signal: Signal) {
        match signal {
            Signal::SIGCHLD => {} // reaped at the top of every turn
            Signal::SIGHUP if self.stop.is_none() => self.reload(),
            Signal::SIGTERM | Signal::SIGQUIT => self.begin_stop(Signal::SIGTERM),
            Signal::SIGINT => self.begin_stop(Signal::SIGINT),
            Signal::SIGTTIN if self.stop.is_none() => {
                self.config.workers += 1;
                log::info(format_args!("SIGTTIN: {} workers", self.config.workers));
            }
            Signal::SIGTTOU if self.stop.is_none() => {
                self.config.workers = (self.config.workers - 1).max(1);
                log::info(format_args!("SIGTTOU: {} workers", self.config.workers));
            }
            _ => {}
        }
    }

    /// Starts a new generation of workers, then retires the old one gracefully.
    fn reload(&mut self) {
        log::info(format_args!("SIGHUP: replacing all workers"));
        self.generation += 1;
        self.manage_workers();
        let old: Vec<Pid> = self
            .workers
            .iter()
            .filter(|(_, w)| w.generation != self.generation && !w.retiring)
            .map(|(pid, _)| *pid)
            .collect();
        for pid in old {
            self.retire(pid);
        }
    }

    fn begin_stop(&mut self, how: Signal) {
        if how == Signal::SIGINT {
            log::info(format_args!("fast stop"));
            self.signal_all(Signal::SIGINT);
            self.stop = Some(Stop::Fast);
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

    /// Brings the current generation to exactly N workers.
    fn manage_workers(&mut self) {
        let current: Vec<Pid> = self
            .workers
            .iter()
            .filter(|(_, w)| w.generation == self.generation && !w.retiring)
            .map(|(pid, _)| *pid)
            .collect();
        for _ in current.len()..self.config.workers {
            self.spawn();
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
        // SAFETY: the master is single-threaded (signal-hook's flag and pipe handlers
        // start no thread), so the child inherits a consistent address space.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                let code = worker::run(&self.listener, &self.config, master);
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
                    },
                );
            }
            Err(e) => log::error(format_args!("fork failed: {e}")),
        }
    }

    fn retire(&mut self, pid: Pid) {
        if let Some(w) = self.workers.get_mut(&pid) {
            w.retiring = true;
            let _ = kill(pid, Signal::SIGTERM);
        }
    }

    /// Collects every worker that has exited and logs how it ended.
    fn reap(&mut self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => {
                    if self.workers.remove(&pid).is_some() {
                        if code == worker::EXIT_BOOT_ERROR {
                            log::error(format_args!("worker {pid} failed to boot (exit {code})"));
                            self.boot_failed = true;
                        } else {
                            log::info(format_args!("worker {pid} exited with status {code}"));
                        }
                    }
                }
                Ok(WaitStatus::Signaled(pid, signal, _)) => {
                    if self.workers.remove(&pid).is_some() {
                        log::warn(format_args!("worker {pid} killed by signal {signal}"));
                    }
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
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
