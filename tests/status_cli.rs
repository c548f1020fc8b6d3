//! `preforkd status` against a real server: the table names every real worker and the
//! exact totals of known traffic, the listener is found by `--url` or the `-c` file, and
//! each way of failing (nothing listening, not a status listener, not JSON, no worker
//! answering, a bad URL) is one line and the documented exit status.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::time::Duration;

use common::{
    BIN, Server, freeze, get, listening_addrs, live_children, send, site, try_get, wait_until,
};

/// A server with `workers` workers and a status listener on a free port; returns it and
/// the status listener's address, read from the start line (`status http://ADDR`).
fn start(root: &std::path::Path, workers: usize) -> (Server, SocketAddr) {
    let n = workers.to_string();
    let srv = Server::start(root, &["-w", &n, "--status-bind", "127.0.0.1:0"]);
    let status = srv
        .log
        .wait_for(Duration::from_secs(5), |l| {
            listening_addrs(l)
                .into_iter()
                .find_map(|(scheme, addr)| (scheme == "status http").then_some(addr))
        })
        .unwrap_or_else(|| panic!("no status listener: {:?}", srv.log.lines()));
    (srv, status)
}

/// Runs `preforkd ARGS`; returns (exit code, stdout, stderr).
fn preforkd(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN).args(args).output().expect("run preforkd");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `preforkd ARGS`, expecting it to fail with `code` and one line on stderr that
/// contains every one of `needles`; returns that line.
fn fails(args: &[&str], code: i32, needles: &[&str]) -> String {
    let (got, stdout, stderr) = preforkd(args);
    assert_eq!(got, Some(code), "{args:?}: {stdout}{stderr}");
    assert_eq!(stdout, "", "{args:?}: nothing on stdout");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: one line, got {stderr:?}");
    for needle in needles {
        assert!(
            lines[0].contains(needle),
            "{args:?}: {needle:?} not in {stderr:?}"
        );
    }
    lines[0].to_owned()
}

/// The table's worker rows as (pid, requests), and the header's request total.
fn read_table(table: &str) -> (Vec<(i32, u64)>, u64) {
    let mut lines = table.lines();
    let header: Vec<&str> = lines.by_ref().take(3).collect();
    assert!(header[0].starts_with("preforkd "), "{table}");
    let total = header[1]
        .strip_prefix("requests ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no total: {table}"));
    assert_eq!(lines.next(), Some(""), "{table}");
    let columns: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&columns[..5], ["slot", "pid", "gen", "state", "requests"]);
    let rows = lines
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            assert!(
                ["ready", "serving"].contains(&cells[3]),
                "a worker that is neither ready nor serving: {l}"
            );
            (cells[1].parse().unwrap(), cells[4].parse().unwrap())
        })
        .collect();
    (rows, total)
}

#[test]
fn the_table_lists_every_worker_and_the_exact_totals() {
    let root = site();
    let (srv, status) = start(root.path(), 3);
    // 30 answered requests on fresh connections, so the kernel spreads them over the
    // workers, and 2 of them 404s.
    for i in 0..30 {
        let path = if i % 15 == 0 {
            "/missing"
        } else {
            "/page.html"
        };
        get(srv.addr, path);
    }
    let url = format!("http://{status}");
    let (code, table, stderr) = preforkd(&["status", "--url", &url]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "");
    let (rows, total) = read_table(&table);
    assert_eq!(total, 30, "{table}");
    assert!(
        table.contains("since the master started (2xx 28, 3xx 0, 4xx 2, 5xx 0)"),
        "{table}"
    );
    assert!(!table.contains("the rows add up"), "{table}");
    let mut pids: Vec<i32> = rows.iter().map(|(pid, _)| *pid).collect();
    pids.sort();
    let mut children = live_children(srv.pid());
    children.sort();
    assert_eq!(pids, children, "{table}");
    // No worker has left, so the rows add up to the total.
    assert_eq!(rows.iter().map(|(_, n)| n).sum::<u64>(), 30, "{table}");
    assert!(table.contains(&format!("master {},", srv.pid())), "{table}");

    // Reading again counts nothing: the status listener's requests are not traffic.
    let (_, again, _) = preforkd(&["status", "--url", &status.to_string()]);
    assert_eq!(read_table(&again).1, 30, "{again}");

    // kill -9 of a worker: its replacement has a row, and the total keeps its requests.
    let victim = children[0];
    send(victim, libc::SIGKILL);
    let mut after = String::new();
    assert!(
        wait_until(Duration::from_secs(10), || {
            let mut now = live_children(srv.pid());
            now.sort();
            after = preforkd(&["status", "--url", &url]).1;
            now.len() == 3
                && !now.contains(&victim)
                && !after.contains(" starting ")
                && now.iter().all(|pid| after.contains(&format!(" {pid} ")))
        }),
        "{after}"
    );
    let (rows, total) = read_table(&after);
    assert_eq!(total, 30, "{after}");
    assert!(rows.iter().all(|(pid, _)| *pid != victim), "{after}");
    assert!(after.contains("gone: killed 1\n"), "{after}");
    let left: u64 = rows.iter().map(|(_, n)| n).sum();
    if left != 30 {
        assert!(
            after.contains(&format!("the rows add up to {left}: ")),
            "{after}"
        );
    }

    // The address from a -c file, given before or after the command.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("preforkd.toml");
    std::fs::write(&file, format!("workers = 3\nstatus-bind = \"{status}\"\n")).unwrap();
    let file = file.to_str().unwrap();
    for args in [["-c", file, "status"], ["status", "-c", file]] {
        let (code, table, stderr) = preforkd(&args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        let (rows, total) = read_table(&table);
        assert_eq!((rows.len(), total), (3, 30), "{args:?}: {table}");
    }
}

#[test]
fn nothing_listening_is_one_line_and_exit_1() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    fails(
        &["status", "--url", &url],
        1,
        &[
            "preforkd status: ",
            &format!("{url}/status.json"),
            "cannot connect",
        ],
    );
}

/// A one-shot HTTP server answering every connection with `answer`, until dropped.
fn fake_server(answer: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { break };
            let mut head = [0u8; 4096];
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = s.read(&mut head);
            let _ = s.write_all(answer.as_bytes());
        }
    });
    addr
}

#[test]
fn what_is_not_a_status_listener_is_one_line_and_exit_1() {
    let root = site();
    let (srv, _status) = start(root.path(), 1);
    // The public port: /status.json is a missing file there.
    fails(
        &["status", "--url", &srv.addr.to_string()],
        1,
        &["404 Not Found", "not a preforkd status listener"],
    );
    let html = fake_server(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 15\r\n\r\n<html>hi</html>",
    );
    fails(
        &["status", "--url", &html.to_string()],
        1,
        &["not JSON (Content-Type text/html)"],
    );
    let other = fake_server(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"hello\":\"world\"}",
    );
    fails(
        &["status", "--url", &other.to_string()],
        1,
        &["no schema in the JSON: not a preforkd status page"],
    );
    let cut = fake_server("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"schema\":");
    fails(
        &["status", "--url", &cut.to_string()],
        1,
        &["the answer ended after 10 of its 100 bytes"],
    );
    let ssh = fake_server("SSH-2.0-OpenSSH_9.2\r\n");
    fails(
        &["status", "--url", &ssh.to_string()],
        1,
        &["the answer is not HTTP"],
    );
}

#[test]
fn a_pool_that_cannot_answer_is_one_line_and_exit_1() {
    let root = site();
    let (srv, status) = start(root.path(), 2);
    let workers = live_children(srv.pid());
    for &pid in &workers {
        freeze(pid);
    }
    // The master answers in their place, 503 on every path.
    srv.expect_line("no worker can answer", Duration::from_secs(10));
    assert_eq!(try_get(status, "/status.json").unwrap().status, 503);
    fails(
        &["status", "--url", &status.to_string()],
        1,
        &["503 Service Unavailable: unavailable: no worker is serving"],
    );
    for &pid in &workers {
        send(pid, libc::SIGCONT);
    }
    assert!(wait_until(Duration::from_secs(10), || {
        preforkd(&["status", "--url", &status.to_string()]).0 == Some(0)
    }));
}

#[test]
fn usage_errors_are_exit_2_and_help_lists_the_command() {
    fails(
        &["status", "--url", "https://127.0.0.1:9090"],
        2,
        &["--url https://127.0.0.1:9090", "plain http://"],
    );
    fails(
        &["status", "--url", "9090"],
        2,
        &["--url 9090: expected HOST:PORT"],
    );
    fails(&["status", "--bogus"], 2, &["--bogus"]);
    fails(&["stats"], 2, &["stats"]);
    let (code, help, _) = preforkd(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(
        help.contains("status  Print a running server's workers"),
        "{help}"
    );
    let (code, help, _) = preforkd(&["status", "--help"]);
    assert_eq!(code, Some(0));
    assert!(
        help.contains("--url <URL>") && help.contains("127.0.0.1:9090"),
        "{help}"
    );
}
