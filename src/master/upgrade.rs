//! USR2: start a new master from the binary on disk, handing it the listening sockets.
//!
//! The new master gets the sockets' descriptor numbers in PREFORKD_LISTEN_FDS, in slot
//! order, with close-on-exec cleared on them alone, and adopts them instead of binding
//! (listener.rs): both masters' workers accept from the same queues, so no connection
//! is refused.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use nix::unistd::Pid;

use crate::master::listener::UPGRADE_FDS_VAR;

/// How this master was started, to start the next one the same way.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The binary's path, resolved at start-up: a binary replaced on disk since then is
    /// the one executed (that is the point), which /proc/self/exe would not give.
    pub exe: PathBuf,
    pub argv: Vec<OsString>,
    /// The directory relative paths on the command line and in the file refer to.
    pub cwd: PathBuf,
}

impl Invocation {
    pub fn current(argv: Vec<OsString>) -> Invocation {
        Invocation {
            exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from(&argv[0])),
            argv,
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        }
    }
}

/// Forks and executes the new master; returns its pid. It inherits stdio (the error log
/// of a daemon) and runs in the old master's directory, so relative paths still work.
pub fn spawn_new_master(how: &Invocation, fds: Vec<RawFd>) -> std::io::Result<Pid> {
    let list = fds
        .iter()
        .map(RawFd::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut cmd = Command::new(&how.exe);
    if let Some(argv0) = how.argv.first() {
        cmd.arg0(argv0);
    }
    cmd.args(how.argv.iter().skip(1))
        .current_dir(&how.cwd)
        .env(UPGRADE_FDS_VAR, list);
    // SAFETY: the closure runs between fork and exec and only calls fcntl, which is
    // async-signal-safe; `fds` was allocated before the fork.
    unsafe {
        cmd.pre_exec(move || {
            for &fd in &fds {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    // The master reaps it with waitpid like a worker; the Child handle is not needed.
    Ok(Pid::from_raw(child.id() as i32))
}
