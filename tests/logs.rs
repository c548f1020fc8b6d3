//! --access-log and --error-log: the combined format, buffering, and reopening on USR1.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    RequestLoop, Server, command, listening_addr, raw_exchange, send, site, spawn_logged, wait_file,
};

/// Starts a server whose error log goes to `error_log`, waiting on that file.
fn start_logging(root: &Path, error_log: &Path, args: &[&str]) -> Server {
    let mut all = vec!["--error-log", error_log.to_str().unwrap()];
    all.extend_from_slice(args);
    let (child, log) = spawn_logged(command(root, "127.0.0.1:0", &all));
    let mut srv = Server {
        child: Some(child),
        addr: "127.0.0.1:1".parse().unwrap(),
        log,
        root: root.to_path_buf(),
    };
    let text = wait_file(error_log, Duration::from_secs(10), |t| {
        t.contains("listening on") && t.contains("started")
    })
    .unwrap_or_else(|| panic!("no start in the error log: {:?}", srv.log.lines()));
    srv.addr = text.lines().find_map(listening_addr).unwrap();
    srv
}

#[test]
fn the_access_log_is_in_combined_format() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let access = dir.path().join("access.log");
    let srv = Server::start(
        root.path(),
        &["-w", "1", "--access-log", access.to_str().unwrap()],
    );
    raw_exchange(
        srv.addr,
        b"GET /page.html?q=1 HTTP/1.1\r\nHost: t\r\nReferer: http://ref/x\r\n\
          User-Agent: tester/1.0 \"quoted\"\r\nConnection: close\r\n\r\n",
    );
    raw_exchange(srv.addr, b"HEAD /missing HTTP/1.0\r\nHost: t\r\n\r\n");
    // Flushed within about a second, without any further request.
    let text = wait_file(&access, Duration::from_secs(5), |t| t.lines().count() >= 2)
        .expect("access log lines");
    let lines: Vec<&str> = text.lines().collect();
    eprintln!("access log: {lines:#?}");
    let first = lines[0];
    assert!(first.starts_with("127.0.0.1 - - ["), "{first}");
    assert!(
        first.contains(" +0000] \"GET /page.html?q=1 HTTP/1.1\" 200 12 "),
        "{first}"
    );
    assert!(
        first.ends_with(" \"http://ref/x\" \"tester/1.0 \\x22quoted\\x22\""),
        "{first}"
    );
    assert!(
        lines[1].contains("\"HEAD /missing HTTP/1.0\" 404 - \"-\" \"-\""),
        "{}",
        lines[1]
    );
    // Off by default: no other log file appears.
    assert!(srv.log.count("listening on") == 1);
}

#[test]
fn usr1_reopens_rotated_logs_without_losing_a_line_or_a_request() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let access = dir.path().join("access.log");
    let error = dir.path().join("error.log");
    let srv = start_logging(
        root.path(),
        &error,
        &["-w", "2", "--access-log", access.to_str().unwrap()],
    );
    assert!(
        srv.log.lines().is_empty(),
        "stderr unused: {:?}",
        srv.log.lines()
    );
    let lp = RequestLoop::start(srv.addr, "/page.html");
    lp.wait_more(50);
    // What logrotate does: move the files, then signal.
    std::fs::rename(&access, dir.path().join("access.log.1")).unwrap();
    std::fs::rename(&error, dir.path().join("error.log.1")).unwrap();
    send(srv.pid(), libc::SIGUSR1);
    wait_file(&error, Duration::from_secs(5), |t| {
        t.contains("log files reopened")
    })
    .expect("the master reopened the error log");
    lp.wait_more(50);
    // Both workers write to the new access log.
    wait_file(&access, Duration::from_secs(5), |t| t.lines().count() >= 20)
        .expect("the workers reopened the access log");
    let (ok, failures) = lp.finish("USR1 log rotation");
    assert!(failures.is_empty(), "{failures:?}");
    // Every request is logged exactly once, across the old file and the new one.
    let count = |p: &Path| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let rotated = dir.path().join("access.log.1");
    assert!(
        common::wait_until(Duration::from_secs(5), || count(&rotated) + count(&access)
            == ok),
        "logged {} + {} lines for {ok} requests",
        count(&rotated),
        count(&access)
    );
    eprintln!(
        "USR1: {ok} requests, {} lines before rotation, {} after",
        count(&rotated),
        count(&access)
    );
    let old_errors = std::fs::read_to_string(dir.path().join("error.log.1")).unwrap();
    assert!(
        old_errors.contains("SIGUSR1: reopening log files"),
        "{old_errors}"
    );
    let master = srv.pid();
    assert!(
        old_errors
            .lines()
            .any(|l| l.contains(&format!("[{master}] [INFO] worker ")))
    );
}
