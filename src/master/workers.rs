//! The worker table: every live worker, what the master last told it, and so what the
//! master may still have to do to it; and forking a new one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::unistd::{ForkResult, Pid, fork};
use rustls::ServerConfig;

use crate::config::Config;
use crate::log;
use crate::master::sockets::Sockets;
use crate::ready::Notifier;
use crate::scoreboard::{self, Board, Cause};
use crate::worker;

/// After SIGABRT, how long a hung worker has to die before SIGKILL.
pub const ABORT_GRACE: Duration = Duration::from_secs(2);

/// Where a worker is on its way from fork to reaping. Every signal the master sends a
/// worker moves it to another state, so no signal is sent twice and a deadline belongs
/// to the state that set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerState {
    /// Counts toward its generation's pool; its heartbeat is watched.
    Serving,
    /// Sent SIGTERM (reload, TTOU, WINCH): finishes what it serves; SIGKILL at
    /// `deadline` (--graceful-timeout). Its heartbeat is still watched.
    Retiring { deadline: Instant },
    /// Missed its heartbeat and was sent SIGABRT, which dumps core where it hung;
    /// SIGKILL at `deadline` if that did not end it.
    Aborted { deadline: Instant },
    /// Sent the master's own stop (TERM or INT); the stop's deadline applies to all.
    Stopping,
    /// Sent SIGKILL: nothing is left to send; only reaping.
    Killed,
}

pub struct Worker {
    pub pid: Pid,
    pub generation: u64,
    /// Its place in the pool: which listening sockets it accepts from (reuseport), and
    /// which worker of the next generation replaces it.
    pub slot: usize,
    /// Its entry on the scoreboard (a slot's old and new worker overlap, so an entry
    /// per process, not per slot).
    pub cell: usize,
    pub started: Instant,
    /// The scoreboard says it waits for connections (see ready.rs).
    pub ready: bool,
    pub state: WorkerState,
    /// Why the master told it to go, once it did; None while serving, and for the
    /// master's own stop (which is no restart).
    pub cause: Option<Cause>,
}

impl Worker {
    /// An exit the master asked for, not a crash to replace and back off from.
    pub fn was_told_to_exit(&self) -> bool {
        self.state != WorkerState::Serving
    }

    /// Why it left the pool, for the scoreboard's restarts: what the master told it,
    /// or else how it ended (`code`: its exit status, None if a signal killed it). A
    /// serving worker exits 0 by itself only after `--max-requests`.
    pub fn exit_cause(&self, code: Option<i32>) -> Option<Cause> {
        if self.was_told_to_exit() {
            return self.cause;
        }
        Some(match code {
            Some(0) => Cause::MaxRequests,
            Some(_) => Cause::Crashed,
            None => Cause::Killed,
        })
    }
}

#[derive(Default)]
pub struct Workers {
    table: HashMap<Pid, Worker>,
}

/// What the master hands every worker it forks.
#[derive(Clone, Copy)]
pub struct Provisions<'a> {
    pub sockets: &'a Sockets,
    pub config: &'a Config,
    pub board: &'a Board,
    /// What HTTPS connections are served with, when there are HTTPS listeners.
    pub tls: Option<&'a Arc<ServerConfig>>,
}

impl Workers {
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn pids(&self) -> impl Iterator<Item = Pid> + '_ {
        self.table.keys().copied()
    }

    /// Forks the worker of `generation` for `slot`, on a free scoreboard entry; in the
    /// child, runs it and exits.
    pub fn spawn(
        &mut self,
        generation: u64,
        slot: usize,
        given: &Provisions,
        ready: Notifier,
    ) -> Result<Pid, String> {
        let Provisions {
            sockets,
            config,
            board,
            tls,
        } = *given;
        let master = nix::unistd::getpid();
        let cell = self
            .free_cell()
            .ok_or("no free scoreboard entry; not starting a worker")?;
        board.start(cell, slot, generation);
        // Blocked across the fork: the child keeps them pending until the worker has
        // replaced the master's handlers (see worker::install_signal_handlers).
        let mut previous = SigSet::empty();
        let _ = sigprocmask(
            SigmaskHow::SIG_SETMASK,
            Some(&SigSet::all()),
            Some(&mut previous),
        );
        // SAFETY: the master is single-threaded (signal-hook's low-level handlers start
        // no thread), so the child inherits a consistent address space.
        let forked = unsafe { fork() };
        if !matches!(forked, Ok(ForkResult::Child)) {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&previous), None);
        }
        match forked {
            Ok(ForkResult::Child) => {
                sockets.keep_only_in_child(slot);
                let listeners = sockets.for_slot(slot);
                let seat = Some(board.seat(cell));
                let code = worker::run(&listeners, config, master, seat, ready, tls);
                std::process::exit(code);
            }
            Ok(ForkResult::Parent { child }) => {
                board.entry(cell).set_pid(child.as_raw() as u32);
                self.table.insert(
                    child,
                    Worker {
                        pid: child,
                        generation,
                        slot,
                        cell,
                        started: Instant::now(),
                        ready: false,
                        state: WorkerState::Serving,
                        cause: None,
                    },
                );
                Ok(child)
            }
            Err(e) => {
                board.fold(cell, None);
                Err(format!("fork failed: {e}"))
            }
        }
    }

    fn free_cell(&self) -> Option<usize> {
        let mut used = vec![false; scoreboard::CELLS];
        for w in self.table.values() {
            used[w.cell] = true;
        }
        used.iter().position(|u| !u)
    }

    /// Marks ready the workers the scoreboard says are; returns them (pid, slot), in
    /// slot order.
    pub fn mark_ready(&mut self, board: &Board) -> Vec<(Pid, usize)> {
        let mut now_ready: Vec<(Pid, usize)> = self
            .table
            .values_mut()
            .filter(|w| !w.ready && board.entry(w.cell).was_ready())
            .map(|w| {
                w.ready = true;
                (w.pid, w.slot)
            })
            .collect();
        now_ready.sort_by_key(|&(pid, slot)| (slot, pid));
        now_ready
    }

    /// The serving worker of `generation` for `slot`, if any.
    pub fn serving_in(&self, generation: u64, slot: usize) -> Option<&Worker> {
        self.table.values().find(|w| {
            w.state == WorkerState::Serving && w.generation == generation && w.slot == slot
        })
    }

    /// Whether any live worker, leaving or not, holds `slot`'s socket.
    pub fn holds(&self, slot: usize) -> bool {
        self.table.values().any(|w| w.slot == slot)
    }

    /// The serving workers that should go: those of slots past `slots`, and those of an
    /// older generation whose slot's new worker is ready (so the slot is never without
    /// one that accepts).
    pub fn replaced(&self, generation: u64, slots: usize) -> Vec<Pid> {
        let mut pids: Vec<Pid> = self
            .table
            .iter()
            .filter(|(_, w)| w.state == WorkerState::Serving)
            .filter(|(_, w)| {
                w.slot >= slots
                    || (w.generation != generation
                        && self
                            .serving_in(generation, w.slot)
                            .is_some_and(|new| new.ready))
            })
            .map(|(pid, _)| *pid)
            .collect();
        pids.sort();
        pids
    }

    pub fn get(&self, pid: Pid) -> Option<&Worker> {
        self.table.get(&pid)
    }

    /// Forgets a reaped worker; None if it was not one of ours.
    pub fn remove(&mut self, pid: Pid) -> Option<Worker> {
        self.table.remove(&pid)
    }

    /// How many serving workers of other generations a reload to `generation` replaces.
    pub fn outdated(&self, generation: u64) -> usize {
        self.table
            .values()
            .filter(|w| w.state == WorkerState::Serving && w.generation != generation)
            .count()
    }

    /// Serving -> Retiring: SIGTERM, SIGKILL at `deadline`; `cause` is why, for the
    /// scoreboard. A worker already leaving keeps the way out it has.
    pub fn retire(&mut self, pid: Pid, deadline: Instant, cause: Cause) {
        if let Some(w) = self.table.get_mut(&pid)
            && w.state == WorkerState::Serving
        {
            let _ = kill(pid, Signal::SIGTERM);
            w.state = WorkerState::Retiring { deadline };
            w.cause = Some(cause);
        }
    }

    /// Every serving worker -> Retiring.
    pub fn retire_all(&mut self, deadline: Instant, cause: Cause) {
        let pids: Vec<Pid> = self.pids().collect();
        for pid in pids {
            self.retire(pid, deadline, cause);
        }
    }

    /// Any -> Stopping: the master's stop signal to every worker not already killed.
    pub fn stop_all(&mut self, signal: Signal) {
        for (pid, w) in &mut self.table {
            if w.state != WorkerState::Killed {
                let _ = kill(*pid, signal);
                w.state = WorkerState::Stopping;
            }
        }
    }

    /// Any -> Killed: SIGKILL to every worker still there.
    pub fn kill_all(&mut self) {
        for (pid, w) in &mut self.table {
            let _ = kill(*pid, Signal::SIGKILL);
            w.state = WorkerState::Killed;
        }
    }

    /// Serving or Retiring -> Aborted, for a worker whose heartbeat is older than
    /// `timeout`.
    pub fn abort_hung(&mut self, board: &Board, timeout: Duration) {
        let now = Instant::now();
        for (pid, w) in &mut self.table {
            if !matches!(w.state, WorkerState::Serving | WorkerState::Retiring { .. }) {
                continue;
            }
            let silent = board.silence(w.cell);
            if silent > timeout {
                log::error(format_args!(
                    "worker {pid} timed out: no heartbeat for {:.1}s (--timeout {}); \
                     sending SIGABRT and starting a replacement",
                    silent.as_secs_f64(),
                    timeout.as_secs_f64()
                ));
                let _ = kill(*pid, Signal::SIGABRT);
                w.state = WorkerState::Aborted {
                    deadline: now + ABORT_GRACE,
                };
                w.cause = Some(Cause::Timeout);
            }
        }
    }

    /// Retiring or Aborted -> Killed, for a worker past the deadline of that state.
    pub fn kill_overdue(&mut self) {
        let now = Instant::now();
        for (pid, w) in &mut self.table {
            match w.state {
                WorkerState::Retiring { deadline } if now >= deadline => log::warn(format_args!(
                    "retired worker {pid} still busy after --graceful-timeout: SIGKILL"
                )),
                WorkerState::Aborted { deadline } if now >= deadline => log::error(format_args!(
                    "worker {pid} still alive {}s after SIGABRT: sending SIGKILL",
                    ABORT_GRACE.as_secs()
                )),
                _ => continue,
            }
            let _ = kill(*pid, Signal::SIGKILL);
            w.state = WorkerState::Killed;
        }
    }
}
