//! -d/--daemon and --pid-file.
//!
//! Detaching is the classic double fork, with one addition: the process that was started
//! waits on a pipe until the daemon reports that it listens (exit 0) or why it could not
//! start (printed, exit 1), so `preforkd -d && curl ...` is reliable.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::{ForkResult, Pid, dup2_stderr, dup2_stdin, dup2_stdout, fork, pipe, setsid};

/// The daemon's end of the start-up pipe; dropping it unreported tells the waiting
/// process that start-up failed without a reason.
pub struct Readiness {
    pipe: Option<File>,
}

impl Readiness {
    /// A foreground server reports to nobody.
    pub fn none() -> Readiness {
        Readiness { pipe: None }
    }

    pub fn ready(&mut self) {
        if let Some(mut pipe) = self.pipe.take() {
            let _ = pipe.write_all(b"ok\n");
        }
    }

    pub fn failed(&mut self, message: &str) {
        if let Some(mut pipe) = self.pipe.take() {
            let _ = pipe.write_all(message.as_bytes());
        } else {
            eprintln!("preforkd: error: {message}");
        }
    }
}

/// Detaches from the terminal and the starting process. Returns only in the daemon;
/// the starting process exits with the daemon's start-up verdict.
pub fn detach() -> Result<Readiness, String> {
    let (read, write) = pipe().map_err(|e| format!("--daemon: pipe: {e}"))?;
    // SAFETY: called from main before any thread exists.
    match unsafe { fork() }.map_err(|e| format!("--daemon: fork: {e}"))? {
        ForkResult::Parent { child } => {
            drop(write);
            std::process::exit(wait_for_daemon(read, child));
        }
        ForkResult::Child => {}
    }
    drop(read);
    setsid().map_err(|e| format!("--daemon: setsid: {e}"))?;
    // The second fork makes sure the daemon, no longer a session leader, can never
    // acquire a controlling terminal again.
    // SAFETY: still single-threaded.
    match unsafe { fork() }.map_err(|e| format!("--daemon: fork: {e}"))? {
        ForkResult::Parent { .. } => std::process::exit(0),
        ForkResult::Child => {}
    }
    std::env::set_current_dir("/").map_err(|e| format!("--daemon: chdir /: {e}"))?;
    Ok(Readiness {
        pipe: Some(File::from(write)),
    })
}

/// Points stdin at /dev/null, and stdout and stderr at the error log file if there is
/// one, else /dev/null. Called once the daemon has nothing more to say to a terminal.
pub fn redirect_stdio(log: Option<File>) -> Result<(), String> {
    let null = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("/dev/null: {e}"))?;
    let out = log.unwrap_or(null.try_clone().map_err(|e| e.to_string())?);
    dup2_stdin(&null).map_err(|e| format!("dup2: {e}"))?;
    dup2_stdout(&out).map_err(|e| format!("dup2: {e}"))?;
    dup2_stderr(&out).map_err(|e| format!("dup2: {e}"))?;
    Ok(())
}

/// The starting process: relays the daemon's verdict. Returns the exit code.
fn wait_for_daemon(read: OwnedFd, child: Pid) -> i32 {
    // The intermediate child exits at once; reap it so it is not left a zombie.
    let _ = nix::sys::wait::waitpid(child, None);
    let mut text = String::new();
    let _ = File::from(read).read_to_string(&mut text);
    match text.as_str() {
        "ok\n" => 0,
        "" => {
            eprintln!("preforkd: error: the daemon exited during start-up (see the error log)");
            1
        }
        message => {
            eprintln!("preforkd: error: {}", message.trim_end());
            1
        }
    }
}

/// The pid file, removed on drop if it still names this process.
pub struct PidFile {
    /// Where the file is now: the configured path, or `.oldbin` during an upgrade.
    path: PathBuf,
    primary: PathBuf,
}

impl PidFile {
    /// Writes our pid to `path` atomically (temp file + rename). Refuses if the file names
    /// a live process other than `allowed` (an upgrading parent); a stale one is replaced.
    pub fn create(path: &Path, allowed: Option<Pid>) -> Result<PidFile, String> {
        let me = Pid::this();
        if let Some(pid) = read_pid(path)
            && pid != me
            && Some(pid) != allowed
            && is_alive(pid)
        {
            return Err(format!(
                "--pid-file {}: preforkd is already running as pid {pid} \
                 (stop it first, or remove the file if that pid is not preforkd)",
                path.display()
            ));
        }
        write_atomically(path, me).map_err(|e| format!("--pid-file {}: {e}", path.display()))?;
        Ok(PidFile {
            path: path.to_path_buf(),
            primary: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// USR2: moves the file to `<pidfile>.oldbin` (as nginx does), making room for the
    /// new master's.
    pub fn set_aside(&mut self) -> std::io::Result<()> {
        let mut old = self.primary.as_os_str().to_owned();
        old.push(".oldbin");
        let old = PathBuf::from(old);
        std::fs::rename(&self.path, &old)?;
        self.path = old;
        Ok(())
    }

    /// The new master is gone: this master's pid goes back into the primary file.
    pub fn restore(&mut self) -> std::io::Result<()> {
        if self.path != self.primary {
            write_atomically(&self.primary, Pid::this())?;
            let _ = std::fs::remove_file(&self.path);
            self.path = self.primary.clone();
        }
        Ok(())
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if read_pid(&self.path) == Some(Pid::this()) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

pub fn read_pid(path: &Path) -> Option<Pid> {
    let text = std::fs::read_to_string(path).ok()?;
    let pid: i32 = text.trim().parse().ok()?;
    (pid > 0).then(|| Pid::from_raw(pid))
}

fn is_alive(pid: Pid) -> bool {
    // EPERM: it exists but belongs to someone else; still alive.
    matches!(kill(pid, None), Ok(()) | Err(Errno::EPERM))
}

fn write_atomically(path: &Path, pid: Pid) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp.{pid}"));
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        writeln!(f, "{pid}")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_file_refuses_a_live_pid_and_replaces_a_stale_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.pid");
        // pid 1 is always alive.
        std::fs::write(&path, "1\n").unwrap();
        let e = PidFile::create(&path, None).err().unwrap();
        assert!(e.contains("already running as pid 1"), "{e}");
        // A pid far above pid_max is never alive.
        std::fs::write(&path, "99999999\n").unwrap();
        let f = PidFile::create(&path, None).unwrap();
        assert_eq!(read_pid(&path), Some(Pid::this()));
        drop(f);
        assert!(!path.exists());
    }
}
