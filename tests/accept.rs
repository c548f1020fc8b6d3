//! How connections reach the workers: every accept model serves, the slot sockets of
//! `--accept reuseport` follow TTIN/TTOU and survive HUP, IPv6 works, and a reload
//! retires an old worker only once its replacement is ready.

mod common;

use std::time::Duration;

use common::{
    RequestLoop, Server, alive, assert_slots, ready_pid, site, socket_inodes, try_get, wait_until,
};

#[test]
fn every_accept_model_serves_in_both_worker_models() {
    let root = site();
    for model in ["event", "sync"] {
        for accept in ["reuseport", "shared", "exclusive"] {
            let srv = Server::start_model(root.path(), model, &["-w", "2", "--accept", accept]);
            srv.expect_line(&format!("accept {accept}"), Duration::from_secs(1));
            for _ in 0..20 {
                let r = try_get(srv.addr, "/page.html").expect("served");
                assert_eq!(r.status, 200, "{model} {accept}");
            }
        }
    }
}

#[test]
fn the_default_accept_model_follows_the_worker_model() {
    let root = site();
    let event = Server::start_model(root.path(), "event", &["-w", "2"]);
    event.expect_line(
        "accept reuseport (2 sockets per address)",
        Duration::from_secs(1),
    );
    assert_eq!(socket_inodes(event.pid()).len(), 2);
    let sync = Server::start_model(root.path(), "sync", &["-w", "2"]);
    sync.expect_line("accept exclusive", Duration::from_secs(1));
    assert_eq!(socket_inodes(sync.pid()).len(), 1);
}

#[test]
fn slot_sockets_follow_ttin_and_ttou_without_a_failed_request() {
    let root = site();
    let srv = Server::start(root.path(), &["-w", "2", "--accept", "reuseport"]);
    assert_slots(&srv, 1, 2);
    let lp = RequestLoop::start(srv.addr, "/page.html");
    lp.wait_more(30);
    srv.signal(libc::SIGTTIN);
    srv.expect_line("SIGTTIN: 3 workers", Duration::from_secs(5));
    srv.wait_workers(3);
    assert_slots(&srv, 1, 3);
    lp.wait_more(30);
    // Closing a slot steers new connections away from it first, and its worker answers
    // what is still queued before it exits: the request loop sees no reset.
    for n in [2, 1] {
        common::send_delivered(srv.pid(), libc::SIGTTOU);
        srv.expect_line(&format!("SIGTTOU: {n} workers"), Duration::from_secs(5));
        assert_slots(&srv, 1, n);
        lp.wait_more(30);
    }
    lp.finish_without_failures("TTIN/TTOU with slot sockets", 120);
}

#[test]
fn a_reload_hands_each_slot_socket_to_the_new_worker() {
    let root = site();
    let srv = Server::start(root.path(), &["-w", "3", "--accept", "reuseport"]);
    assert_slots(&srv, 1, 3);
    let before = socket_inodes(srv.pid());
    let old = srv.worker_pids();
    let lp = RequestLoop::start(srv.addr, "/page.html");
    lp.wait_more(30);
    srv.signal(libc::SIGHUP);
    srv.expect_line("reloaded: generation 1", Duration::from_secs(5));
    assert!(
        wait_until(Duration::from_secs(10), || old.iter().all(|p| !alive(*p))),
        "{:?}",
        srv.log.lines()
    );
    assert_slots(&srv, 1, 3);
    assert_eq!(
        socket_inodes(srv.pid()),
        before,
        "the same sockets, not new ones"
    );
    lp.wait_more(30);
    lp.finish_without_failures("HUP with slot sockets", 60);
}

#[test]
fn ipv6_bind_gets_a_socket_per_slot() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback");
        return;
    }
    let root = site();
    let srv = Server::start_at(
        root.path(),
        "[::1]:0",
        &["-w", "3", "--accept", "reuseport"],
    );
    assert!(srv.addr.is_ipv6());
    assert_slots(&srv, 1, 3);
    for _ in 0..20 {
        assert_eq!(try_get(srv.addr, "/page.html").unwrap().status, 200);
    }
}

/// A reload whose new workers die before they are ready leaves the old ones serving:
/// readiness, not the fork, is what retires them. Once the new workers can boot, they
/// take over.
#[test]
fn a_reload_retires_old_workers_only_once_their_replacements_are_ready() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let crash = dir.path().join("crash");
    let mut cmd = common::command(root.path(), "127.0.0.1:0", &["-w", "2"]);
    cmd.env("PREFORKD_TEST_CRASH_BEFORE_READY", &crash);
    let srv = Server::start_cmd(cmd, root.path(), 2);
    let old = srv.worker_pids();
    let lp = RequestLoop::start(srv.addr, "/page.html");
    lp.wait_more(20);
    std::fs::write(&crash, "").unwrap();
    srv.signal(libc::SIGHUP);
    srv.expect_line("quick crashes in a row", Duration::from_secs(10));
    lp.wait_more(20);
    assert!(old.iter().all(|p| alive(*p)), "{:?}", srv.log.lines());
    std::fs::remove_file(&crash).unwrap();
    let new: Vec<i32> = {
        let mut pids = Vec::new();
        srv.log.wait_for(Duration::from_secs(15), |l| {
            if let Some(p) = ready_pid(l).filter(|p| !old.contains(p)) {
                pids.push(p);
            }
            (pids.len() == 2).then_some(())
        });
        pids
    };
    assert_eq!(new.len(), 2, "{:?}", srv.log.lines());
    assert!(
        wait_until(Duration::from_secs(10), || old.iter().all(|p| !alive(*p))),
        "{:?}",
        srv.log.lines()
    );
    lp.wait_more(20);
    lp.finish_without_failures("reload with crashing new workers", 60);
}
