//! Supervision under a request loop: TTIN/TTOU, --max-requests, hung workers and
//! --timeout, crash backoff, --user/--group.

mod common;

use std::os::unix::process::CommandExt;
use std::time::Duration;

use common::{
    RequestLoop, Server, alive, command, send, send_delivered, site, try_get, wait_until,
};

#[test]
fn ttin_and_ttou_scale_the_pool_without_a_failed_request() {
    let root = site();
    let srv = Server::start(root.path(), &["-w", "2"]);
    let lp = RequestLoop::start(srv.addr, "/page.html");
    lp.wait_more(30);
    srv.signal(libc::SIGTTIN);
    srv.expect_line("SIGTTIN: 3 workers", Duration::from_secs(5));
    assert!(
        wait_until(Duration::from_secs(5), || srv.worker_pids().len() == 3),
        "{:?}",
        srv.log.lines()
    );
    lp.wait_more(30);
    srv.signal(libc::SIGTTOU);
    srv.expect_line("SIGTTOU: 2 workers", Duration::from_secs(5));
    srv.signal(libc::SIGTTOU);
    srv.expect_line("SIGTTOU: 1 workers", Duration::from_secs(5));
    // Never below one.
    srv.signal(libc::SIGTTOU);
    assert!(
        wait_until(Duration::from_secs(5), || srv
            .log
            .count("SIGTTOU: 1 workers")
            >= 2),
        "{:?}",
        srv.log.lines()
    );
    assert!(
        wait_until(Duration::from_secs(10), || srv.worker_pids().len() == 1),
        "{:?}",
        srv.log.lines()
    );
    lp.wait_more(30);
    lp.finish_without_failures("TTIN/TTOU", 90);
}

#[test]
fn three_ttins_back_to_back_add_three_workers() {
    let root = site();
    let srv = Server::start(root.path(), &["-w", "2"]);
    // As fast as the kernel keeps them apart: it holds one pending TTIN at a time, so
    // each is sent once the previous has reached the master's handler.
    for _ in 0..3 {
        send_delivered(srv.pid(), libc::SIGTTIN);
    }
    srv.expect_line("SIGTTIN: 5 workers", Duration::from_secs(5));
    for n in 3..=5 {
        assert_eq!(
            srv.log.count(&format!("SIGTTIN: {n} workers")),
            1,
            "{:?}",
            srv.log.lines()
        );
    }
    srv.wait_workers(5);
    assert!(
        wait_until(Duration::from_secs(5), || srv.worker_pids().len() == 5),
        "{:?}",
        srv.log.lines()
    );
    assert_eq!(srv.get("/page.html").status, 200);
}

#[test]
fn max_requests_retires_workers_without_a_failed_request() {
    let root = site();
    let srv = Server::start(
        root.path(),
        &[
            "-w",
            "2",
            "--max-requests",
            "20",
            "--max-requests-jitter",
            "5",
        ],
    );
    let first = srv.worker_pids();
    let lp = RequestLoop::start(srv.addr, "/page.html");
    // Every worker of the first pair and at least two replacements retire.
    assert!(
        wait_until(Duration::from_secs(30), || {
            srv.log.count("(--max-requests): retiring") >= 4 && first.iter().all(|p| !alive(*p))
        }),
        "{:?}",
        srv.log.lines()
    );
    lp.wait_more(20);
    lp.finish_without_failures("--max-requests 20", 80);
    // The loop may have just retired a worker whose replacement is starting.
    assert!(
        wait_until(Duration::from_secs(5), || srv.worker_pids().len() == 2),
        "{:?}",
        srv.log.lines()
    );
}

#[test]
fn a_hung_worker_is_killed_after_the_timeout_and_replaced() {
    let root = site();
    let mut cmd = command(root.path(), "127.0.0.1:0", &["-w", "2", "--timeout", "2"]);
    cmd.env("PREFORKD_TEST_HANG_PATH", "/hang");
    // SAFETY: setrlimit is async-signal-safe; no core file from the SIGABRT below.
    unsafe {
        cmd.pre_exec(|| {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            Ok(())
        });
    }
    let srv = Server::start_cmd(cmd, root.path(), 2);
    let lp = RequestLoop::start(srv.addr, "/page.html");
    lp.wait_more(20);
    let addr = srv.addr;
    let hung = std::thread::spawn(move || try_get(addr, "/hang"));
    let line = srv.expect_line("hanging on purpose", Duration::from_secs(10));
    let victim = common::line_pid(&line).unwrap();
    srv.expect_line(
        &format!("worker {victim} timed out: no heartbeat"),
        Duration::from_secs(10),
    );
    srv.expect_line(
        &format!("worker {victim} killed by signal SIGABRT"),
        Duration::from_secs(10),
    );
    assert!(wait_until(Duration::from_secs(5), || !alive(victim)));
    assert!(wait_until(Duration::from_secs(5), || {
        let now = srv.worker_pids();
        now.len() == 2 && !now.contains(&victim)
    }));
    lp.wait_more(20);
    let (ok, failures) = lp.finish("hung worker --timeout 2");
    assert!(
        hung.join().unwrap().is_err(),
        "the hung request cannot succeed"
    );
    // A sync worker holds only the connection it hangs on: the other worker serves the
    // loop. An event worker may have accepted one more connection in the same batch,
    // which dies with it.
    let allowed = if common::model_args().iter().any(|m| m == "sync") {
        0
    } else {
        1
    };
    assert!(failures.len() <= allowed, "{failures:?}");
    assert!(ok >= 40);
    // Idle workers heartbeat too: nobody else was killed.
    assert_eq!(srv.log.count("timed out"), 1, "{:?}", srv.log.lines());
}

#[test]
fn idle_workers_are_not_mistaken_for_hung_ones() {
    let root = site();
    let srv = Server::start(root.path(), &["-w", "2", "--timeout", "2"]);
    let workers = srv.worker_pids();
    // Two timeouts of silence on the wire: the point is that nothing happens.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(srv.worker_pids(), workers, "{:?}", srv.log.lines());
    assert_eq!(srv.log.count("timed out"), 0);
    assert_eq!(srv.get("/page.html").status, 200);
}

/// Workers that die before they are ready are a crash loop: the master backs off.
/// Once they can boot again, the pool is topped up and serves.
#[test]
fn workers_crashing_before_ready_back_off() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let crash = dir.path().join("crash");
    let mut cmd = command(root.path(), "127.0.0.1:0", &["-w", "1"]);
    cmd.env("PREFORKD_TEST_CRASH_BEFORE_READY", &crash);
    let srv = Server::start_cmd(cmd, root.path(), 1);
    let first = srv.worker_pids()[0];
    std::fs::write(&crash, "").unwrap();
    // Killed after it was ready: replaced at once; its replacements then crash at boot.
    send(first, libc::SIGKILL);
    let line = srv.expect_line("quick crashes in a row", Duration::from_secs(10));
    assert!(line.contains("waiting"), "{line}");
    assert!(
        srv.log.count("crashing on purpose") >= 2,
        "{:?}",
        srv.log.lines()
    );
    std::fs::remove_file(&crash).unwrap();
    srv.log
        .wait_for(Duration::from_secs(15), |l| {
            common::ready_pid(l).filter(|p| *p != first)
        })
        .unwrap_or_else(|| panic!("no worker got ready again: {:?}", srv.log.lines()));
    assert_eq!(srv.get("/page.html").status, 200);
}

/// SIGKILL to a random ready worker every 250 ms under a request loop, as an OOM
/// killer might: each is replaced at once (no crash backoff: they were ready), the
/// pool never has fewer than N - 1 live workers, a kill costs at most the one request
/// the victim held, and no client waits for a queue nobody takes from.
#[test]
fn workers_killed_after_ready_are_replaced_at_once_under_load() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    const N: usize = 4;
    const KILLS: usize = 12;
    let root = site();
    let srv = Server::start(root.path(), &["-w", "4"]);
    let master = srv.pid();
    let stop = Arc::new(AtomicBool::new(false));
    let fewest = Arc::new(AtomicUsize::new(N));
    let sampler = {
        let (stop, fewest) = (stop.clone(), fewest.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                fewest.fetch_min(common::live_children(master).len(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let loops = [
        RequestLoop::start(srv.addr, "/page.html"),
        RequestLoop::start(srv.addr, "/1k.html"),
    ];
    for lp in &loops {
        lp.wait_more(20);
    }
    let mut known: Vec<i32> = srv.worker_pids();
    for i in 0..KILLS {
        let workers = common::live_children(master);
        let victim = workers[(i * 7 + 3) % workers.len()];
        send(victim, libc::SIGKILL);
        // The next kill comes 250 ms later; the replacement must be ready long before.
        let replacement = srv
            .log
            .wait_for(Duration::from_secs(5), |l| {
                common::ready_pid(l).filter(|p| !known.contains(p))
            })
            .unwrap_or_else(|| panic!("no replacement for {victim}: {:?}", srv.log.lines()));
        known.push(replacement);
        std::thread::sleep(Duration::from_millis(250));
    }
    for lp in &loops {
        lp.wait_more(20);
    }
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let mut failures = Vec::new();
    for (i, lp) in loops.into_iter().enumerate() {
        failures.extend(lp.finish(&format!("kill storm loop {i}")).1);
    }
    let lines = srv.log.lines();
    assert_eq!(srv.log.count("quick crashes"), 0, "{lines:?}");
    assert!(failures.len() <= KILLS, "{failures:?}");
    assert!(
        !failures
            .iter()
            .any(|f| f.contains("timed out") || f.contains("temporarily unavailable")),
        "a client timed out: {failures:?}"
    );
    let fewest = fewest.load(Ordering::Relaxed);
    assert!(fewest >= N - 1, "the pool fell to {fewest} live workers");
    assert!(wait_until(
        Duration::from_secs(5),
        || common::live_children(master).len() == N
    ));
    assert_eq!(srv.get("/page.html").status, 200);
}

#[test]
fn workers_drop_to_user_and_group() {
    // SAFETY: getuid only reads.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("skipped: needs root");
        return;
    }
    let root = site();
    // The root must be readable by nobody: tempdirs are 0700.
    std::fs::set_permissions(
        root.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let srv = Server::start(root.path(), &["-w", "1", "--user", "nobody"]);
    let worker = srv.worker_pids()[0];
    // Served: the worker has dropped its privileges by now.
    assert_eq!(srv.get("/page.html").status, 200);
    let status = std::fs::read_to_string(format!("/proc/{worker}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    assert!(
        uid_line
            .split_whitespace()
            .skip(1)
            .all(|u| u == nobody.uid.to_string()),
        "{uid_line}"
    );
    let groups = status.lines().find(|l| l.starts_with("Groups:")).unwrap();
    assert_eq!(groups.split_whitespace().skip(1).count(), 1, "{groups}");
    // The master keeps root.
    let master = std::fs::read_to_string(format!("/proc/{}/status", srv.pid())).unwrap();
    assert!(
        master.lines().any(|l| l.starts_with("Uid:\t0\t0")),
        "{master}"
    );
    assert_eq!(srv.get("/page.html").status, 200);
}

#[test]
fn a_root_the_user_cannot_read_is_a_boot_error() {
    // SAFETY: getuid only reads.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("skipped: needs root");
        return;
    }
    let root = site();
    // Root-owned and 0700: nobody cannot open it.
    std::fs::set_permissions(
        root.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let mut cmd = command(root.path(), "127.0.0.1:0", &["-w", "2", "--user", "nobody"]);
    cmd.stdout(std::process::Stdio::null());
    let (child, log) = common::spawn_logged(cmd);
    let mut srv = Server {
        child: Some(child),
        addr: "127.0.0.1:1".parse().unwrap(),
        log: log.clone(),
        root: root.path().to_path_buf(),
    };
    let code = srv.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{:?}", log.lines());
    assert!(log.count("failed to boot") >= 1, "{:?}", log.lines());
    assert!(
        log.count("worker cannot open --root") >= 1,
        "{:?}",
        log.lines()
    );
    assert!(log.count("started") <= 3, "{:?}", log.lines());
}

#[test]
fn a_retired_worker_stuck_on_a_client_is_killed_after_the_graceful_timeout() {
    use std::io::{Read, Write};
    let root = site();
    std::fs::write(
        root.path().join("32m.bin"),
        common::pattern(32 * 1024 * 1024),
    )
    .unwrap();
    let srv = Server::start(root.path(), &["-w", "1", "--graceful-timeout", "1"]);
    let old = srv.worker_pids()[0];
    let mut s = std::net::TcpStream::connect(srv.addr).unwrap();
    s.write_all(b"GET /32m.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 1024];
    s.read_exact(&mut first).unwrap();
    // This client never reads again; HUP retires the worker serving it.
    srv.signal(libc::SIGHUP);
    srv.expect_line(
        &format!("retired worker {old} still busy after --graceful-timeout"),
        Duration::from_secs(10),
    );
    assert!(wait_until(Duration::from_secs(5), || !alive(old)));
    assert_eq!(srv.get("/page.html").status, 200);
}
