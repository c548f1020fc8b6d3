//! A worker's word to the master that it is waiting for connections.
//!
//! The master makes one pipe before forking; a worker writes its pid into it once its
//! listener is registered, and the master's loop wakes on it. A fork is not a worker:
//! between the two the worker drops privileges, opens the root and builds its loop, and
//! a worker that dies in that time is a crash loop, not a kill (see the master's reap).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::Pid;

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

/// One message: a pid in native byte order; a pipe write this small is atomic, so
/// messages from many workers never interleave.
const MESSAGE: usize = size_of::<i32>();

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

    /// The workers that became ready since the last call, in the order they said so.
    pub fn take(&self) -> Vec<Pid> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64 * MESSAGE];
        loop {
            match nix::unistd::read(&self.read, &mut buf) {
                Ok(0) | Err(Errno::EAGAIN) => break,
                Ok(n) => out.extend(
                    buf[..n - n % MESSAGE]
                        .chunks_exact(MESSAGE)
                        .map(|m| Pid::from_raw(i32::from_ne_bytes(m.try_into().unwrap()))),
                ),
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        out
    }
}

impl AsFd for ReadyPipe {
    /// The end the master polls.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}

impl Notifier {
    /// Tells the master this process is ready. Never blocks: the pipe holds thousands
    /// of messages, and a lost one only delays the retirement of an older worker.
    pub fn ready(&self) {
        let message = std::process::id().to_ne_bytes();
        // SAFETY: the descriptor was inherited from the master, stays open for the life
        // of the process, and `message` is a local array of MESSAGE bytes.
        unsafe { libc::write(self.fd, message.as_ptr().cast(), MESSAGE) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_out_as_pids_in_order() {
        let pipe = ReadyPipe::new().unwrap();
        assert!(pipe.take().is_empty());
        pipe.notifier().ready();
        pipe.notifier().ready();
        let me = Pid::from_raw(std::process::id() as i32);
        assert_eq!(pipe.take(), [me, me]);
        assert!(pipe.take().is_empty());
    }
}
