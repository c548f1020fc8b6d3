//! The scoreboard: shared memory where every worker keeps its state and counters and
//! the master keeps what outlives a worker, read by the supervisor and the status pages.
//!
//! The master maps one anonymous `MAP_SHARED` region before it forks anything, of a fixed
//! size (Apache's `scoreboard.h` is the model):
//!
//! ```text
//! Head      128 B    master pid, generation, start, restarts by cause, the fold sequence
//! totals    SLOTS x 64 B    per worker slot: responses by class and bytes of workers gone
//! entries   CELLS x 128 B   per live worker process: pid, slot, state, clocks, counters
//! ```
//!
//! About 576 KiB of address space; the kernel backs only the pages touched, and the
//! entries are taken lowest first, so a pool of 8 touches a few pages.
//!
//! **Entries are per process, not per slot.** During a reload the old and the new worker
//! of one slot live side by side, so an entry (a *cell*) belongs to one worker process
//! from fork to reap and records the slot it serves; the master gives a new worker the
//! lowest free cell. [`CELLS`] is four times the most workers (`--workers` and `TTIN`
//! stop at [`SLOTS`]), room for a whole generation retiring beside the next and more.
//!
//! **No locks on the hot path.** A worker writes only its own entry, and each counter has
//! that one writer, so an increment is a plain load and store of an atomic (no `lock`
//! prefix, no read-modify-write): a few stores per request to a cache line no other
//! process writes. Entries are 128-byte aligned: two entries never share a line, nor the
//! pair of lines the adjacent-line prefetcher fetches together. Readers load the
//! atomics as they are; a reading is the sum of counters each exact at some instant.
//!
//! **Nothing served is forgotten.** When the master reaps a worker (kill -9, a crash,
//! HUP, `--max-requests`, TTOU, ...) it adds the entry's counters to its slot's totals
//! and marks the entry dead, and counts the exit by [`Cause`]. A counter is totals plus
//! live entries, so it only grows for the life of the master. The master is the only
//! writer of the totals, and it moves counts from entry to totals inside a sequence lock
//! ([`Board::snapshot`] retries a reading that overlapped a move), so a reading never
//! sees a worker's counts twice or not at all.
//!
//! **What it replaced.** The heartbeat board (one shared timestamp per worker, which the
//! hung-worker check read) is the entry's `heartbeat` field now. Readiness is the entry's
//! state: the ready pipe (`ready.rs`) no longer carries pids, only wakes the master,
//! since a store to shared memory cannot; the master then reads who is ready here.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Worker slots the totals have room for: the most workers there can be.
pub const SLOTS: usize = 1024;

/// Entries: one per live worker process (see the module doc).
pub const CELLS: usize = 4 * SLOTS;

/// A heartbeat younger than this is fresh: workers beat at least once a second, so a
/// worker that missed three beats is not answering (`/healthz`, the master's stand-in).
pub const FRESH: Duration = Duration::from_secs(3);

/// Response status classes, as the counters are indexed and the pages name them.
pub const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Milliseconds on CLOCK_MONOTONIC: the same clock in every process of the machine, so
/// a reader compares another process's heartbeat with its own reading.
pub fn now_ms() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).map_or(0, |t| {
        t.tv_sec() as u64 * 1000 + t.tv_nsec() as u64 / 1_000_000
    })
}

/// Where a worker is in its life, as its entry says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Forked, not yet waiting for connections (set by the master before the fork).
    Starting,
    /// Waiting for connections, with none open.
    Ready,
    /// Ready, with connections open. Not stored: a `Ready` entry whose connection count
    /// is above 0 reads as serving, so the hot path writes no state per connection.
    Serving,
    /// Told to stop (or past `--max-requests`): finishes what it holds, takes no more.
    Draining,
    /// Reaped by the master, its counts folded into the totals; the entry is free.
    Dead,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Starting,
        State::Ready,
        State::Serving,
        State::Draining,
        State::Dead,
    ];

    pub fn name(self) -> &'static str {
        match self {
            State::Starting => "starting",
            State::Ready => "ready",
            State::Serving => "serving",
            State::Draining => "draining",
            State::Dead => "dead",
        }
    }
}

/// What is stored in an entry's `state` word (`Serving` is derived, never stored).
const EMPTY: u32 = 0;
const STARTING: u32 = 1;
const READY: u32 = 2;
const DRAINING: u32 = 3;
const DEAD: u32 = 4;

/// Why a worker left the pool, as the master classifies it at reap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Killed by a signal nobody in the pool sent (kill -9, the OOM killer, a segfault).
    Killed,
    /// Exited with a non-zero status it was not asked for (a panic, a boot failure).
    Crashed,
    /// Silent past `--timeout`: aborted by the master.
    Timeout,
    /// Retired itself after `--max-requests`.
    MaxRequests,
    /// Retired by a reload (HUP): replaced by the next generation.
    Reload,
    /// Retired by TTOU: its slot left the pool.
    Ttou,
    /// Retired because its slot's queue waited on its silence.
    Stalled,
    /// Retired by WINCH (an upgrade in progress).
    Winch,
}

impl Cause {
    pub const ALL: [Cause; 8] = [
        Cause::Killed,
        Cause::Crashed,
        Cause::Timeout,
        Cause::MaxRequests,
        Cause::Reload,
        Cause::Ttou,
        Cause::Stalled,
        Cause::Winch,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cause::Killed => "killed",
            Cause::Crashed => "crashed",
            Cause::Timeout => "timeout",
            Cause::MaxRequests => "max_requests",
            Cause::Reload => "reload",
            Cause::Ttou => "ttou",
            Cause::Stalled => "stalled",
            Cause::Winch => "winch",
        }
    }
}

/// Adds to a counter that only its owner writes: a load and a store, no read-modify-write.
#[inline]
fn bump(counter: &AtomicU64, n: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

/// What the connections of one worker add up: responses by status class, bytes of
/// responses (heads and bodies, before TLS) written to the socket, connections open.
#[repr(C)]
pub struct Tally {
    responses: [AtomicU64; 5],
    bytes: AtomicU64,
    /// Open now: up on accept, down on close (wrapping, so read as signed).
    connections: AtomicU64,
}

/// Where the counts of connections nobody counts go: the status listener's (its
/// requests are not the site's traffic) and those of a worker without a board (tests).
/// Each process has its own copy; nothing reads it.
pub static UNCOUNTED: Tally = Tally::new();

impl Default for Tally {
    fn default() -> Tally {
        Tally::new()
    }
}

impl Tally {
    pub const fn new() -> Tally {
        Tally {
            responses: [const { AtomicU64::new(0) }; 5],
            bytes: AtomicU64::new(0),
            connections: AtomicU64::new(0),
        }
    }

    /// One response with status `code` (100..=599).
    #[inline]
    pub fn response(&self, code: u16) {
        let class = (usize::from(code / 100)).clamp(1, 5) - 1;
        bump(&self.responses[class], 1);
    }

    /// `n` bytes of a response went to the socket.
    #[inline]
    pub fn sent(&self, n: usize) {
        bump(&self.bytes, n as u64);
    }

    #[inline]
    pub fn opened(&self) {
        bump(&self.connections, 1);
    }

    #[inline]
    pub fn closed(&self) {
        self.connections.store(
            self.connections.load(Ordering::Relaxed).wrapping_sub(1),
            Ordering::Relaxed,
        );
    }

    /// Responses of every class.
    pub fn requests(&self) -> u64 {
        self.responses
            .iter()
            .map(|r| r.load(Ordering::Relaxed))
            .sum()
    }

    fn responses(&self) -> [u64; 5] {
        std::array::from_fn(|i| self.responses[i].load(Ordering::Relaxed))
    }

    fn open(&self) -> u64 {
        // A close the reader sees before its open would read as -1: show 0.
        let n = self.connections.load(Ordering::Relaxed) as i64;
        n.max(0) as u64
    }

    fn clear(&self) {
        for r in &self.responses {
            r.store(0, Ordering::Relaxed);
        }
        self.bytes.store(0, Ordering::Relaxed);
        self.connections.store(0, Ordering::Relaxed);
    }
}

/// One worker process's entry. Written by that worker, except where it says otherwise.
#[repr(C, align(128))]
pub struct Entry {
    pid: AtomicU32,
    /// EMPTY, STARTING, READY, DRAINING or DEAD. The master writes STARTING and DEAD
    /// (before the fork, after the reap), the worker the others.
    state: AtomicU32,
    /// Set by the master before the fork.
    slot: AtomicU32,
    generation: AtomicU64,
    /// Monotonic milliseconds (`now_ms`), set by the master before the fork.
    started_ms: AtomicU64,
    /// The last sign of life (`now_ms`); the master's hung-worker check reads it.
    heartbeat_ms: AtomicU64,
    /// When the worker last answered a request, to its once-a-turn clock (0: never).
    last_request_ms: AtomicU64,
    tally: Tally,
}

const _: () = assert!(size_of::<Entry>() == 128);

impl Entry {
    /// The counters this worker's public connections add to.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// The worker's own pid, written first thing after the fork (the master writes it
    /// too, when fork returns: whichever runs first, the entry never shows another).
    pub fn set_pid(&self, pid: u32) {
        self.pid.store(pid, Ordering::Relaxed);
    }

    /// Proof of life, at `now` (`now_ms`).
    #[inline]
    pub fn beat(&self, now: u64) {
        self.heartbeat_ms.store(now, Ordering::Relaxed);
    }

    /// Notes that requests were answered since the last call, at `now`.
    #[inline]
    pub fn answered_at(&self, now: u64) {
        self.last_request_ms.store(now, Ordering::Relaxed);
    }

    /// The worker waits for connections. Release: whoever reads READY sees the pid.
    pub fn ready(&self) {
        self.state.store(READY, Ordering::Release);
    }

    /// The worker stops taking work; only a ready worker drains (one that stops before
    /// it was ready stays `Starting`, so the master still sees a boot, not a retirement).
    pub fn draining(&self) {
        if self.state.load(Ordering::Relaxed) == READY {
            self.state.store(DRAINING, Ordering::Relaxed);
        }
    }

    /// Whether the worker became ready (and may since have begun draining).
    pub fn was_ready(&self) -> bool {
        matches!(self.state.load(Ordering::Acquire), READY | DRAINING)
    }
}

/// The master's own fields.
#[repr(C, align(128))]
struct Head {
    /// Odd while the master moves counts from an entry to the totals (or resets an
    /// entry): a reading that saw it odd, or saw it change, is taken again.
    seq: AtomicU64,
    master_pid: AtomicU32,
    generation: AtomicU64,
    started_ms: AtomicU64,
    /// Wall-clock seconds at the master's start, for the pages.
    started_unix: AtomicU64,
    /// One past the highest entry and slot ever used: readers look no further.
    cells_used: AtomicU64,
    slots_used: AtomicU64,
    /// Workers gone, by [`Cause`].
    restarts: [AtomicU64; 8],
}

/// One slot's counts from its workers that are gone.
#[repr(C, align(64))]
struct Totals {
    responses: [AtomicU64; 5],
    bytes: AtomicU64,
}

#[repr(C)]
struct Shared {
    head: Head,
    totals: [Totals; SLOTS],
    cells: [Entry; CELLS],
}

/// The mapping; every process of the pool shares it (mapped before any fork).
#[derive(Clone, Copy)]
pub struct Board {
    shared: &'static Shared,
}

/// What a worker keeps of the board: its own entry to write, the board to read.
#[derive(Clone, Copy)]
pub struct Seat {
    pub board: Board,
    pub entry: &'static Entry,
}

/// Everything the pages show, read at one moment (see [`Board::snapshot`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub master_pid: u32,
    pub generation: u64,
    /// Since the master started.
    pub uptime: Duration,
    /// The master's start, in seconds since the Unix epoch.
    pub started_unix: u64,
    /// Workers gone, in [`Cause::ALL`] order.
    pub restarts: [u64; 8],
    /// Per worker slot ever used (index = slot): totals plus live entries.
    pub slots: Vec<SlotCounts>,
    /// The live workers (not `Dead`, and forked: with a pid), by slot, then generation.
    pub workers: Vec<Worker>,
    /// Entries of reaped workers not yet taken by a new one.
    pub dead: usize,
}

/// One worker slot's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotCounts {
    /// Responses by class ([`CLASSES`]).
    pub responses: [u64; 5],
    pub bytes: u64,
    /// Connections open now.
    pub connections: u64,
}

/// One live worker as the pages show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Worker {
    pub pid: u32,
    pub slot: usize,
    pub generation: u64,
    pub state: State,
    /// Since the fork.
    pub age: Duration,
    /// Since its last heartbeat.
    pub silence: Duration,
    /// Since its last request, if it has answered one.
    pub idle: Option<Duration>,
    pub counts: SlotCounts,
}

impl Snapshot {
    /// Whether some worker answers: ready (idle or serving) with a fresh heartbeat.
    pub fn healthy(&self) -> bool {
        self.workers
            .iter()
            .any(|w| matches!(w.state, State::Ready | State::Serving) && w.silence < FRESH)
    }

    /// Whether some worker takes new connections, or is about to: ready, serving or
    /// starting, with a fresh heartbeat. Weaker than [`Snapshot::healthy`] by the
    /// starting ones: while a worker is replaced (`--max-requests`, a reload) a
    /// connection waits in the queue for it, milliseconds; only when none of these is
    /// left does nobody answer (see `master/standin.rs`).
    pub fn answering(&self) -> bool {
        self.workers.iter().any(|w| {
            matches!(w.state, State::Starting | State::Ready | State::Serving) && w.silence < FRESH
        })
    }

    /// How many live workers are in `state`.
    pub fn count(&self, state: State) -> usize {
        match state {
            State::Dead => self.dead,
            _ => self.workers.iter().filter(|w| w.state == state).count(),
        }
    }

    /// The counters of every slot added up.
    pub fn total(&self) -> SlotCounts {
        let mut sum = SlotCounts::default();
        for s in &self.slots {
            for (a, b) in sum.responses.iter_mut().zip(s.responses) {
                *a += b;
            }
            sum.bytes += s.bytes;
            sum.connections += s.connections;
        }
        sum
    }
}

/// Attempts at a consistent reading before taking an inconsistent one (a master stopped
/// in the middle of a fold must not hang the status pages).
const READ_ATTEMPTS: usize = 1000;

impl Board {
    /// Maps the board; the caller is the master, before it forks.
    pub fn new() -> std::io::Result<Board> {
        let len = size_of::<Shared>();
        // SAFETY: an anonymous mapping with no address hint touches no existing memory;
        // the result is checked for MAP_FAILED before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the mapping is page-aligned (more than `Shared`'s 128), zero-filled
        // (every field is an atomic integer, for which zero is valid: EMPTY entries),
        // `len` bytes long and never unmapped, so 'static is honest.
        let shared = unsafe { &*ptr.cast::<Shared>() };
        let head = &shared.head;
        head.master_pid.store(std::process::id(), Ordering::Relaxed);
        head.started_ms.store(now_ms(), Ordering::Relaxed);
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        head.started_unix.store(unix, Ordering::Relaxed);
        Ok(Board { shared })
    }

    /// Entry `cell`.
    pub fn entry(&self, cell: usize) -> &'static Entry {
        &self.shared.cells[cell]
    }

    /// The seat of the worker on `cell`.
    pub fn seat(&self, cell: usize) -> Seat {
        Seat {
            board: *self,
            entry: self.entry(cell),
        }
    }

    /// The master's generation, as the pages show it.
    pub fn set_generation(&self, generation: u64) {
        self.shared
            .head
            .generation
            .store(generation, Ordering::Relaxed);
    }

    /// Master, before forking the worker of `slot` and `generation` on the free `cell`:
    /// a clean entry, `Starting`, its heartbeat stamped now so it starts with full
    /// credit.
    pub fn start(&self, cell: usize, slot: usize, generation: u64) {
        let head = &self.shared.head;
        let e = self.entry(cell);
        let now = now_ms();
        self.write(|| {
            e.pid.store(0, Ordering::Relaxed);
            e.slot.store(slot as u32, Ordering::Relaxed);
            e.generation.store(generation, Ordering::Relaxed);
            e.started_ms.store(now, Ordering::Relaxed);
            e.heartbeat_ms.store(now, Ordering::Relaxed);
            e.last_request_ms.store(0, Ordering::Relaxed);
            e.tally.clear();
            e.state.store(STARTING, Ordering::Release);
            head.cells_used
                .fetch_max(cell as u64 + 1, Ordering::Relaxed);
            head.slots_used
                .fetch_max(slot.min(SLOTS - 1) as u64 + 1, Ordering::Relaxed);
        });
    }

    /// How long the worker on `cell` has been silent.
    pub fn silence(&self, cell: usize) -> Duration {
        let last = self.entry(cell).heartbeat_ms.load(Ordering::Relaxed);
        Duration::from_millis(now_ms().saturating_sub(last))
    }

    /// Master, after reaping the worker on `cell`: its counts go to its slot's totals,
    /// its exit to the restarts by `cause` (None: the master's own stop), and the entry
    /// is free.
    pub fn fold(&self, cell: usize, cause: Option<Cause>) {
        let head = &self.shared.head;
        let e = self.entry(cell);
        if matches!(e.state.load(Ordering::Relaxed), EMPTY | DEAD) {
            return;
        }
        let slot = (e.slot.load(Ordering::Relaxed) as usize).min(SLOTS - 1);
        let totals = &self.shared.totals[slot];
        self.write(|| {
            for (total, n) in totals.responses.iter().zip(e.tally.responses()) {
                bump(total, n);
            }
            bump(&totals.bytes, e.tally.bytes.load(Ordering::Relaxed));
            if let Some(cause) = cause {
                bump(&head.restarts[cause as usize], 1);
            }
            e.state.store(DEAD, Ordering::Relaxed);
        });
    }

    /// Master only: runs `f`, which moves counts, inside the sequence lock.
    fn write(&self, f: impl FnOnce()) {
        let seq = &self.shared.head.seq;
        let s = seq.load(Ordering::Relaxed);
        seq.store(s.wrapping_add(1), Ordering::Relaxed);
        // Whoever sees a store made by `f` also sees the odd sequence.
        fence(Ordering::Release);
        f();
        seq.store(s.wrapping_add(2), Ordering::Release);
    }

    /// See [`Snapshot::answering`].
    pub fn answering(&self) -> bool {
        self.snapshot().answering()
    }

    /// Everything the pages show, consistent across folds.
    pub fn snapshot(&self) -> Snapshot {
        let seq = &self.shared.head.seq;
        let mut reading = Snapshot::default();
        for _ in 0..READ_ATTEMPTS {
            let before = seq.load(Ordering::Acquire);
            if before % 2 == 1 {
                std::thread::yield_now();
                continue;
            }
            reading = self.read();
            fence(Ordering::Acquire);
            if seq.load(Ordering::Relaxed) == before {
                break;
            }
        }
        reading
    }

    fn read(&self) -> Snapshot {
        let head = &self.shared.head;
        let now = now_ms();
        let since = |ms: u64| Duration::from_millis(now.saturating_sub(ms));
        let slots_used = (head.slots_used.load(Ordering::Relaxed) as usize).min(SLOTS);
        let cells_used = (head.cells_used.load(Ordering::Relaxed) as usize).min(CELLS);
        let mut slots: Vec<SlotCounts> = self.shared.totals[..slots_used]
            .iter()
            .map(|t| SlotCounts {
                responses: std::array::from_fn(|i| t.responses[i].load(Ordering::Relaxed)),
                bytes: t.bytes.load(Ordering::Relaxed),
                connections: 0,
            })
            .collect();
        let mut workers = Vec::new();
        let mut dead = 0;
        for e in &self.shared.cells[..cells_used] {
            let state = match e.state.load(Ordering::Acquire) {
                STARTING => State::Starting,
                READY => State::Ready,
                DRAINING => State::Draining,
                DEAD => {
                    dead += 1;
                    continue;
                }
                _ => continue,
            };
            let counts = SlotCounts {
                responses: e.tally.responses(),
                bytes: e.tally.bytes.load(Ordering::Relaxed),
                connections: e.tally.open(),
            };
            let slot = (e.slot.load(Ordering::Relaxed) as usize).min(SLOTS - 1);
            if let Some(s) = slots.get_mut(slot) {
                for (a, b) in s.responses.iter_mut().zip(counts.responses) {
                    *a += b;
                }
                s.bytes += counts.bytes;
                s.connections += counts.connections;
            }
            let pid = e.pid.load(Ordering::Relaxed);
            if pid == 0 {
                // Prepared for a fork that has not returned yet: not a process to show.
                continue;
            }
            let last = e.last_request_ms.load(Ordering::Relaxed);
            workers.push(Worker {
                pid,
                slot,
                generation: e.generation.load(Ordering::Relaxed),
                state: if state == State::Ready && counts.connections > 0 {
                    State::Serving
                } else {
                    state
                },
                age: since(e.started_ms.load(Ordering::Relaxed)),
                silence: since(e.heartbeat_ms.load(Ordering::Relaxed)),
                idle: (last != 0).then(|| since(last)),
                counts,
            });
        }
        workers.sort_by_key(|w| (w.slot, w.generation, w.pid));
        Snapshot {
            master_pid: head.master_pid.load(Ordering::Relaxed),
            generation: head.generation.load(Ordering::Relaxed),
            uptime: since(head.started_ms.load(Ordering::Relaxed)),
            started_unix: head.started_unix.load(Ordering::Relaxed),
            restarts: std::array::from_fn(|i| head.restarts[i].load(Ordering::Relaxed)),
            slots,
            workers,
            dead,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_board_is_empty_and_healthless() {
        let board = Board::new().unwrap();
        let s = board.snapshot();
        assert_eq!(s.master_pid, std::process::id());
        assert!(s.workers.is_empty() && s.slots.is_empty());
        assert!(!s.healthy() && !s.answering());
    }

    #[test]
    fn counts_survive_the_fold_and_the_cell_is_reused_clean() {
        let board = Board::new().unwrap();
        board.start(0, 1, 0);
        let e = board.entry(0);
        e.set_pid(42);
        assert!(!e.was_ready());
        e.ready();
        assert!(e.was_ready());
        let t = e.tally();
        t.opened();
        for code in [200, 200, 404, 503, 304, 101] {
            t.response(code);
        }
        t.sent(1000);
        let s = board.snapshot();
        assert_eq!(s.workers.len(), 1);
        assert_eq!(s.workers[0].state, State::Serving);
        assert_eq!(s.workers[0].slot, 1);
        assert_eq!(s.slots.len(), 2);
        assert_eq!(s.slots[1].responses, [1, 2, 1, 1, 1]);
        assert!(s.healthy());
        t.closed();
        assert_eq!(board.snapshot().workers[0].state, State::Ready);

        board.fold(0, Some(Cause::Killed));
        // Folding twice (a second reap of the same cell) adds nothing.
        board.fold(0, Some(Cause::Killed));
        let s = board.snapshot();
        assert!(s.workers.is_empty());
        assert_eq!(s.dead, 1);
        assert_eq!(s.slots[1].responses, [1, 2, 1, 1, 1]);
        assert_eq!(s.slots[1].bytes, 1000);
        assert_eq!(s.restarts[Cause::Killed as usize], 1);

        // The next worker of slot 1 on the same cell starts from zero; the slot's counts
        // go on from the totals.
        board.start(0, 1, 1);
        board.entry(0).set_pid(43);
        board.entry(0).tally().response(200);
        let s = board.snapshot();
        assert_eq!(s.workers[0].counts.responses, [0, 1, 0, 0, 0]);
        assert_eq!(s.workers[0].state, State::Starting);
        assert_eq!(s.slots[1].responses, [1, 3, 1, 1, 1]);
        assert_eq!(s.total().responses.iter().sum::<u64>(), 7);
    }

    #[test]
    fn only_a_ready_worker_drains_and_a_silent_one_is_not_healthy() {
        let board = Board::new().unwrap();
        board.start(3, 0, 0);
        let e = board.entry(3);
        // Not forked yet: nothing to show.
        assert!(board.snapshot().workers.is_empty());
        e.set_pid(7);
        e.draining();
        assert_eq!(board.snapshot().workers[0].state, State::Starting);
        // Starting: about to answer, not yet healthy.
        assert!(board.answering() && !board.snapshot().healthy());
        e.ready();
        e.beat(now_ms().saturating_sub(FRESH.as_millis() as u64 + 500));
        assert!(!board.snapshot().healthy() && !board.answering());
        e.beat(now_ms());
        assert!(board.snapshot().healthy() && board.answering());
        e.draining();
        assert!(e.was_ready());
        assert_eq!(board.snapshot().workers[0].state, State::Draining);
        assert!(!board.snapshot().healthy() && !board.answering());
    }

    #[test]
    fn a_forked_writer_is_seen_by_the_parent() {
        let board = Board::new().unwrap();
        board.start(0, 0, 0);
        board.entry(0).set_pid(1);
        // SAFETY: the child only stores to atomics and calls _exit.
        match unsafe { libc::fork() } {
            0 => {
                let e = board.entry(0);
                e.tally().response(200);
                e.tally().sent(7);
                e.ready();
                // SAFETY: ends the forked child without running the test harness's
                // exit path (threads it does not have).
                unsafe { libc::_exit(0) };
            }
            child => {
                let mut status = 0;
                // SAFETY: waiting for the child we just forked.
                unsafe { libc::waitpid(child, &mut status, 0) };
            }
        }
        let s = board.snapshot();
        assert_eq!(s.slots[0].responses[1], 1);
        assert_eq!(s.slots[0].bytes, 7);
        assert_eq!(s.workers[0].state, State::Ready);
    }
}
