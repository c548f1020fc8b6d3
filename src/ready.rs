//! A worker's word to the master that it waits for connections: a doorbell.
//!
//! Whether a worker is ready is recorded in its scoreboard entry (`scoreboard.rs`); a
//! store to shared memory cannot wake the master's loop, so the worker then rings this
//! pipe, and the master, woken, reads the scoreboard. The pipe once carried the pids
//! themselves; the scoreboard made that redundant, and the master reads readiness from
//! the same place at reap (a worker may have become ready just before it died).
//!
//! A fork is not a worker: between the two the worker drops privileges, opens the root
//! and builds its loop, and a worker that dies in that time is a crash loop, not a kill
//! (see the master's reap).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;

/// Both ends, held by the master; each worker inherits the write end through fork.
pub struct ReadyPipe {
    read: OwnedFd,
    write: OwnedFd,
}

/// What a worker keeps: the write end, by number (it lives as long as the process).
#[derive(Clone, Copy)]
pub struct Notifier {
    fd: RawFd,
}

impl ReadyPipe {
    pub fn new() -> std::io::Result<ReadyPipe> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        Ok(ReadyPipe { read, write })
    }

    pub fn notifier(&self) -> Notifier {
        Notifier {
            fd: self.write.as_raw_fd(),
        }
    }

    /// Empties the pipe; true if some worker rang since the last call.
    pub fn take(&self) -> bool {
        let mut rang = false;
        let mut buf = [0u8; 256];
        loop {
            match nix::unistd::read(&self.read, &mut buf) {
                Ok(0) | Err(Errno::EAGAIN) => break,
                Ok(_) => rang = true,
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        rang
    }
}

impl AsFd for ReadyPipe {
    /// The end the master polls.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}

impl Notifier {
    /// Wakes the master. Never blocks: the pipe holds thousands of rings, and when it is
    /// full the master has a wake-up pending anyway.
    pub fn ready(&self) {
        let byte = [1u8];
        // SAFETY: the descriptor was inherited from the master, stays open for the life
        // of the process, and `byte` is a local array of one byte.
        unsafe { libc::write(self.fd, byte.as_ptr().cast(), 1) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_is_taken_once() {
        let pipe = ReadyPipe::new().unwrap();
        assert!(!pipe.take());
        pipe.notifier().ready();
        pipe.notifier().ready();
        assert!(pipe.take());
        assert!(!pipe.take());
    }
}
