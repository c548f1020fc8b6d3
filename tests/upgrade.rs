//! USR2 binary upgrade: the new master inherits the sockets; WINCH + QUIT finish it,
//! HUP + QUIT to the new master roll it back. A request loop runs throughout.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{RequestLoop, Server, alive, children, read_pid, send, site, wait_until};

/// Sends USR2 and waits until the new master listens with `workers` workers; returns its pid.
fn upgrade(srv: &Server, workers: usize) -> i32 {
    let (new, _) = common::upgrade(srv);
    assert!(
        wait_until(Duration::from_secs(10), || children(new).len() == workers),
        "{:?}",
        srv.log.lines()
    );
    new
}

fn pid_files(pid_file: &Path) -> (Option<i32>, Option<i32>) {
    (
        read_pid(pid_file),
        read_pid(&pid_file.with_extension("pid.oldbin")),
    )
}

#[test]
fn usr2_winch_quit_upgrades_without_a_failed_request() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("p.pid");
    let mut srv = Server::start(
        root.path(),
        &["-w", "2", "--pid-file", pid_file.to_str().unwrap()],
    );
    let old = srv.pid();
    let old_workers = srv.worker_pids();
    let lp = RequestLoop::start(srv.addr, "/page.html");
    lp.wait_more(50);

    let new = upgrade(&srv, 2);
    assert_eq!(pid_files(&pid_file), (Some(new), Some(old)));
    // Every slot socket passed on, in order, none bound anew.
    assert_eq!(common::socket_inodes(new), common::socket_inodes(old));
    lp.wait_more(50);

    send(old, libc::SIGWINCH);
    assert!(
        wait_until(Duration::from_secs(10), || old_workers
            .iter()
            .all(|p| !alive(*p))),
        "old workers did not stop: {:?}",
        srv.log.lines()
    );
    // A stopped worker stays the old master's child (a zombie) until it is reaped: wait
    // for that, then no child but the new master may be left.
    assert!(
        wait_until(Duration::from_secs(10), || children(old)
            .iter()
            .all(|p| !old_workers.contains(p))),
        "old workers were not reaped"
    );
    assert_eq!(
        children(old),
        vec![new],
        "the old master started workers again"
    );
    lp.wait_more(50);

    send(old, libc::SIGQUIT);
    assert_eq!(srv.wait_exit(Duration::from_secs(10)), Some(0));
    assert_eq!(pid_files(&pid_file), (Some(new), None));
    assert!(alive(new));
    lp.wait_more(50);
    lp.finish_without_failures("USR2+WINCH+QUIT upgrade", 200);
    // The new master is orphaned now; the guard's process-group kill still reaches it.
    send(new, libc::SIGTERM);
    assert!(wait_until(Duration::from_secs(10), || !alive(new)));
    assert_eq!(pid_files(&pid_file), (None, None));
}

#[test]
fn usr2_then_hup_rolls_back_without_a_failed_request() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("p.pid");
    let srv = Server::start(
        root.path(),
        &["-w", "2", "--pid-file", pid_file.to_str().unwrap()],
    );
    let old = srv.pid();
    let lp = RequestLoop::start(srv.addr, "/page.html");
    lp.wait_more(50);
    let new = upgrade(&srv, 2);
    let new_workers = children(new);

    send(old, libc::SIGWINCH);
    assert!(wait_until(Duration::from_secs(10), || children(old) == vec![new]));
    lp.wait_more(30);
    // Rollback: the old master's workers come back, then the new master goes.
    send(old, libc::SIGHUP);
    srv.expect_line(
        "SIGHUP after SIGWINCH: starting 2 workers",
        Duration::from_secs(5),
    );
    assert!(wait_until(Duration::from_secs(10), || children(old).len() == 3));
    lp.wait_more(30);
    send(new, libc::SIGQUIT);
    srv.expect_line(
        &format!("new master {new} exited with status 0"),
        Duration::from_secs(10),
    );
    assert!(new_workers.iter().all(|p| !alive(*p)));
    assert!(
        wait_until(Duration::from_secs(5), || pid_files(&pid_file)
            == (Some(old), None)),
        "{:?}",
        pid_files(&pid_file)
    );
    lp.wait_more(50);
    lp.finish_without_failures("USR2+HUP rollback", 150);
    assert_eq!(srv.worker_pids().len(), 2);
}
