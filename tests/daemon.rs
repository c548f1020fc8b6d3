//! -d/--daemon with --pid-file: start-up verdict, second start refused, stale pid file,
//! stop by signal through the pid file.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::{
    BIN, PidFileGuard, RequestLoop, alive, listening_addr, model_args, read_pid, send, site,
    try_get, wait_file, wait_until,
};

struct Paths {
    _dir: tempfile::TempDir,
    pid: PathBuf,
    error: PathBuf,
}

fn paths() -> Paths {
    let dir = tempfile::tempdir().unwrap();
    Paths {
        pid: dir.path().join("preforkd.pid"),
        error: dir.path().join("error.log"),
        _dir: dir,
    }
}

fn start_daemon(root: &Path, p: &Paths, bind: &str) -> Output {
    Command::new(BIN)
        .args(["-d", "-w", "2", "-b", bind])
        .arg("-r")
        .arg(root)
        .arg("--pid-file")
        .arg(&p.pid)
        .arg("--error-log")
        .arg(&p.error)
        .args(model_args())
        .output()
        .unwrap()
}

/// The launcher exited 0, which means the daemon listens.
fn started(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_daemon_starts_refuses_a_second_start_and_stops_with_its_pid_file() {
    let root = site();
    let p = paths();
    let _guard = PidFileGuard(p.pid.clone());
    started(&start_daemon(root.path(), &p, "127.0.0.1:0"));
    // Exit 0 means listening: the pid file exists and the socket is bound already.
    let pid = read_pid(&p.pid).expect("pid file written before the launcher exits");
    assert!(alive(pid));
    let log = std::fs::read_to_string(&p.error).unwrap();
    let addr = log
        .lines()
        .find_map(listening_addr)
        .expect("listening line");
    assert_eq!(try_get(addr, "/page.html").unwrap().status, 200);
    // Detached: its own session, no terminal, working directory /.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    // SAFETY: getsid(0) reads our own session id.
    let our_session = unsafe { libc::getsid(0) };
    assert_ne!(
        fields[3].parse::<i32>().unwrap(),
        our_session,
        "same session"
    );
    assert_eq!(fields[4], "0", "has a controlling terminal");
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        Path::new("/")
    );

    // A second start with the same pid file is refused, clearly, and changes nothing.
    let second = start_daemon(root.path(), &p, "127.0.0.1:0");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_ne!(second.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("already running as pid {pid}")),
        "{stderr}"
    );
    assert_eq!(read_pid(&p.pid), Some(pid));

    // TERM through the pid file while a client loops: graceful, nothing lost before.
    let lp = RequestLoop::start(addr, "/page.html");
    lp.wait_more(50);
    lp.finish_without_failures("daemon before TERM", 50);
    send(pid, libc::SIGTERM);
    assert!(wait_until(Duration::from_secs(10), || !alive(pid)));
    assert!(
        wait_until(Duration::from_secs(2), || !p.pid.exists()),
        "pid file left behind"
    );
    let log = std::fs::read_to_string(&p.error).unwrap();
    assert!(log.contains("master exiting"), "{log}");
}

#[test]
fn a_stale_pid_file_is_replaced() {
    let root = site();
    let p = paths();
    let _guard = PidFileGuard(p.pid.clone());
    std::fs::write(&p.pid, "99999999\n").unwrap();
    started(&start_daemon(root.path(), &p, "127.0.0.1:0"));
    let pid = read_pid(&p.pid).unwrap();
    assert_ne!(pid, 99999999);
    assert!(alive(pid));
    send(pid, libc::SIGINT);
    assert!(wait_until(Duration::from_secs(10), || !alive(pid)));
    assert!(wait_until(Duration::from_secs(2), || !p.pid.exists()));
}

#[test]
fn a_daemon_that_cannot_start_says_why_and_exits_non_zero() {
    let root = site();
    let p = paths();
    let _guard = PidFileGuard(p.pid.clone());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = taken.local_addr().unwrap().to_string();
    let out = start_daemon(root.path(), &p, &bind);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&format!("--bind {bind}")), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!p.pid.exists());
    let _ = wait_file(&p.error, Duration::from_millis(1), |_| true);
}
