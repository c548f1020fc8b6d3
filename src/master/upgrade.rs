//! USR2: start a new master from the binary on disk, handing it the listening sockets.
//!
//! The new master gets the sockets' descriptor numbers in PREFORKD_LISTEN_FDS, with
//! close-on-exec cleared on them alone, and adopts them instead of binding
//! (listener.rs): both masters' workers accept from the same queues, so no connection
//! is refused.
//!
//! The list names each address's scheme and its sockets in slot order, addresses
//! apart by `;`: `http:3,4;https:5,6;status:7,8`. A bare `3,4`, as masters before several
//! addresses wrote it, is one plain address, so an upgrade from one still works.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use nix::unistd::Pid;

use crate::config::Scheme;

/// Environment variable naming the listening descriptors a USR2 upgrade passes on.
pub const UPGRADE_FDS_VAR: &str = "PREFORKD_LISTEN_FDS";

/// The value of [`UPGRADE_FDS_VAR`] for these groups of descriptors.
pub fn encode(groups: &[(Scheme, Vec<RawFd>)]) -> String {
    groups
        .iter()
        .map(|(scheme, fds)| {
            let fds: Vec<String> = fds.iter().map(RawFd::to_string).collect();
            format!("{}:{}", scheme.name(), fds.join(","))
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// The groups of descriptors in a value of [`UPGRADE_FDS_VAR`], old format included.
pub fn decode(text: &str) -> Result<Vec<(Scheme, Vec<RawFd>)>, String> {
    let bad = |why: &str| format!("{UPGRADE_FDS_VAR}={text}: {why}");
    let numbers = |list: &str| {
        list.split(',')
            .map(|f| f.trim().parse::<RawFd>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| bad("expected descriptor numbers"))
    };
    if !text.contains(':') {
        return Ok(vec![(Scheme::Http, numbers(text)?)]);
    }
    text.split(';')
        .map(|group| {
            let (scheme, list) = group
                .split_once(':')
                .ok_or_else(|| bad("expected SCHEME:FD,FD;... (http:3,4;https:5)"))?;
            let scheme = match scheme.trim() {
                "http" => Scheme::Http,
                "https" => Scheme::Https,
                "status" => Scheme::Status,
                other => return Err(bad(&format!("unknown scheme {other:?}"))),
            };
            Ok((scheme, numbers(list)?))
        })
        .collect()
}

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
pub fn spawn_new_master(how: &Invocation, groups: &[(Scheme, Vec<RawFd>)]) -> std::io::Result<Pid> {
    let list = encode(groups);
    let fds: Vec<RawFd> = groups.iter().flat_map(|(_, fds)| fds).copied().collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_descriptor_list_round_trips_and_reads_the_old_format() {
        let groups = vec![
            (Scheme::Http, vec![3, 4]),
            (Scheme::Https, vec![5, 6]),
            (Scheme::Http, vec![7]),
            (Scheme::Status, vec![8, 9]),
        ];
        assert_eq!(encode(&groups), "http:3,4;https:5,6;http:7;status:8,9");
        assert_eq!(decode(&encode(&groups)).unwrap(), groups);
        assert_eq!(decode("3,4").unwrap(), [(Scheme::Http, vec![3, 4])]);
        assert_eq!(decode("3").unwrap(), [(Scheme::Http, vec![3])]);
        for bad in ["", "http:", "ftp:3", "http:3;4", "http:x"] {
            assert!(
                decode(bad).unwrap_err().starts_with("PREFORKD_LISTEN_FDS="),
                "{bad}"
            );
        }
    }
}
