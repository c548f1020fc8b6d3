//! Proof of life the master can read: one shared-memory timestamp per worker slot.
//!
//! The master maps an anonymous shared array before forking; a worker stores the
//! monotonic clock into its slot on every tick, and the master compares each slot with
//! `--timeout` (gunicorn uses a temp file's ctime for the same; memory costs no syscall).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Slots in the map: more than the most workers, with room for retiring ones.
pub const SLOTS: usize = 4096;

/// The shared array; lives as long as the process that mapped it (and its forks).
pub struct Board {
    slots: &'static [AtomicU64],
}

/// One worker's slot, the only thing a worker keeps of the board.
#[derive(Clone, Copy)]
pub struct Slot {
    cell: &'static AtomicU64,
}

/// Milliseconds on CLOCK_MONOTONIC: the same clock in every process of the machine.
pub fn now_ms() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).map_or(0, |t| {
        t.tv_sec() as u64 * 1000 + t.tv_nsec() as u64 / 1_000_000
    })
}

impl Board {
    pub fn new() -> std::io::Result<Board> {
        let len = SLOTS * size_of::<AtomicU64>();
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
        // SAFETY: the mapping is page-aligned, zero-filled (a valid AtomicU64 is any bit
        // pattern), `len` bytes long and never unmapped, so 'static is honest.
        let slots = unsafe { std::slice::from_raw_parts(ptr.cast::<AtomicU64>(), SLOTS) };
        Ok(Board { slots })
    }

    /// The slot for worker `index`, stamped now so a new worker starts with full credit.
    pub fn slot(&self, index: usize) -> Slot {
        let cell = &self.slots[index];
        cell.store(now_ms(), Ordering::Relaxed);
        Slot { cell }
    }

    /// How long worker `index` has been silent.
    pub fn silence(&self, index: usize) -> Duration {
        let last = self.slots[index].load(Ordering::Relaxed);
        Duration::from_millis(now_ms().saturating_sub(last))
    }
}

impl Slot {
    pub fn beat(&self) {
        self.cell.store(now_ms(), Ordering::Relaxed);
    }
}
