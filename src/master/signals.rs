//! The master's signal queue: a handler only appends its signal's number, one byte, to a
//! non-blocking pipe; the loop reads the bytes back and acts on each signal in the order
//! they arrived, as many times as it arrived (gunicorn's SIG_QUEUE).
//!
//! The kernel itself keeps at most one pending instance of a signal, so two TTINs sent
//! before the master runs at all still count once; the queue only promises not to merge
//! what was delivered.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use signal_hook::SigId;

/// The signals the master acts on.
pub const HANDLED: [Signal; 10] = [
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

/// What the pipe is shrunk to: one byte per signal, so the most signals that can wait
/// for the loop (the kernel rounds up to a page). When it is full, a handler's write
/// fails with EAGAIN and that signal is dropped: a handler must never block, and
/// thousands of signals the loop has not yet looked at are not a request worth honouring
/// one by one. gunicorn keeps 5; this bound is larger so that a burst of SIGCHLD from a
/// reload cannot crowd out a TERM.
const QUEUE_BYTES: usize = 4096;

/// Signals recorded by their handlers, in arrival order, waited for through the pipe.
pub struct SignalQueue {
    read: OwnedFd,
    /// The handlers write here; kept open for as long as they are registered.
    write: OwnedFd,
    handlers: Vec<SigId>,
}

impl SignalQueue {
    /// Registers a handler for each of `signals` that queues it.
    pub fn install(signals: &[Signal]) -> std::io::Result<SignalQueue> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        // A smaller pipe only makes the bound tighter; the default one still works.
        let _ = fcntl(&write, FcntlArg::F_SETPIPE_SZ(QUEUE_BYTES as i32));
        let mut queue = SignalQueue {
            read,
            write,
            handlers: Vec::new(),
        };
        let fd = queue.write.as_raw_fd();
        for &signal in signals {
            let byte = [signal as i32 as u8];
            let handler = move || {
                // SAFETY: write(2) is async-signal-safe; `fd` stays open while the
                // handler is registered (Drop unregisters first), and `byte` is a local
                // array of one byte. signal-hook restores errno around the handler.
                unsafe { libc::write(fd, byte.as_ptr().cast(), 1) };
            };
            // SAFETY: the handler only calls write(2), never allocates, locks or panics.
            let id = unsafe { signal_hook::low_level::register(signal as i32, handler) }?;
            queue.handlers.push(id);
        }
        Ok(queue)
    }

    /// How many signals the queue holds before it drops more.
    pub fn capacity(&self) -> usize {
        fcntl(&self.write, FcntlArg::F_GETPIPE_SZ).map_or(QUEUE_BYTES, |n| n as usize)
    }

    /// The signals delivered since the last call, oldest first, each as often as it came.
    pub fn take(&mut self) -> Vec<Signal> {
        let mut out = Vec::new();
        let mut buf = [0u8; QUEUE_BYTES];
        loop {
            match nix::unistd::read(&self.read, &mut buf) {
                Ok(0) | Err(Errno::EAGAIN) => break,
                Ok(n) => out.extend(
                    buf[..n]
                        .iter()
                        .filter_map(|b| Signal::try_from(i32::from(*b)).ok()),
                ),
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        out
    }

    /// Sleeps until a signal is queued, one of `also` is readable or `timeout` passes;
    /// leaves the queue as it is.
    pub fn wait(&self, timeout: Duration, also: &[BorrowedFd<'_>]) {
        let mut fds = vec![PollFd::new(self.read.as_fd(), PollFlags::POLLIN)];
        fds.extend(also.iter().map(|fd| PollFd::new(*fd, PollFlags::POLLIN)));
        let ms = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        let _ = poll(&mut fds, ms);
    }
}

impl Drop for SignalQueue {
    fn drop(&mut self) {
        for id in self.handlers.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::raise;

    /// `raise` runs the handler before it returns, so the loop's view is exact here: no
    /// merging, arrival order, and a full queue that drops instead of blocking. (Signals
    /// the master and its workers do not otherwise meet in this test process.)
    #[test]
    fn signals_come_out_in_order_with_multiplicity_and_a_full_queue_drops() {
        let mut queue = SignalQueue::install(&[Signal::SIGTTIN, Signal::SIGWINCH]).unwrap();
        assert!(queue.take().is_empty());
        for signal in [
            Signal::SIGTTIN,
            Signal::SIGTTIN,
            Signal::SIGWINCH,
            Signal::SIGTTIN,
        ] {
            raise(signal).unwrap();
        }
        assert_eq!(
            queue.take(),
            [
                Signal::SIGTTIN,
                Signal::SIGTTIN,
                Signal::SIGWINCH,
                Signal::SIGTTIN
            ]
        );
        assert!(queue.take().is_empty());

        let capacity = queue.capacity();
        assert!(capacity >= QUEUE_BYTES, "{capacity}");
        for _ in 0..capacity + 10 {
            raise(Signal::SIGTTIN).unwrap();
        }
        raise(Signal::SIGWINCH).unwrap();
        let taken = queue.take();
        assert_eq!(taken.len(), capacity);
        assert!(taken.iter().all(|s| *s == Signal::SIGTTIN));
        // Drained, it queues again.
        raise(Signal::SIGWINCH).unwrap();
        assert_eq!(queue.take(), [Signal::SIGWINCH]);
    }
}
