//! Several listening addresses, plain (`-b`, repeatable) and HTTPS (`--tls-bind`): every
//! address serves in both worker models, from the command line, a `-c` file, an upgrade
//! or systemd; the slot sockets of each follow TTIN/TTOU/HUP; the TLS flags refuse to
//! start without each other. (An HTTPS address is only checked to be bound and shown as
//! https://, not for its protocol.)

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::Duration;

use common::{
    BIN, RequestLoop, Server, alive, assert_refused, assert_slots, children, listening_addrs,
    model_args, site, socket_inodes, tls_args, tls_files, try_get, upgrade, wait_until,
};

/// The start line's addresses, as (scheme, address).
fn start_line_addrs(srv: &Server) -> Vec<(String, SocketAddr)> {
    listening_addrs(&srv.expect_line("listening on", Duration::from_secs(1)))
}

/// The addresses of `scheme` on the start line.
fn addrs_of(srv: &Server, scheme: &str) -> Vec<SocketAddr> {
    start_line_addrs(srv)
        .into_iter()
        .filter(|(s, _)| s == scheme)
        .map(|(_, a)| a)
        .collect()
}

fn serves(addr: SocketAddr, times: usize) {
    for _ in 0..times {
        let r = try_get(addr, "/page.html").unwrap_or_else(|e| panic!("{addr}: {e}"));
        assert_eq!(r.status, 200, "{addr}");
    }
}

#[test]
fn two_plain_addresses_both_answer_in_every_model() {
    let root = site();
    for model in ["event", "sync"] {
        for accept in ["reuseport", "shared", "exclusive"] {
            // start_model binds one 127.0.0.1:0; this is the second.
            let srv = Server::start_model(
                root.path(),
                model,
                &["-w", "2", "--accept", accept, "-b", "127.0.0.1:0"],
            );
            let plain = addrs_of(&srv, "http");
            assert_eq!(plain.len(), 2, "{:?}", srv.log.lines());
            assert_ne!(plain[0], plain[1]);
            assert_eq!(srv.addr, plain[0]);
            let sockets = if accept == "reuseport" { 4 } else { 2 };
            assert_eq!(socket_inodes(srv.pid()).len(), sockets, "{model} {accept}");
            for addr in plain {
                serves(addr, 10);
            }
        }
    }
}

#[test]
fn a_tls_address_is_bound_and_shown_as_https() {
    let root = site();
    let mut args = vec!["-w", "2", "--tls-bind", "127.0.0.1:0"];
    let ipv6 = TcpListener::bind("[::1]:0").is_ok();
    if ipv6 {
        args.extend(["--tls-bind", "[::1]:0"]);
    }
    args.extend(tls_args());
    let srv = Server::start(root.path(), &args);
    let line = srv.expect_line("listening on", Duration::from_secs(1));
    let all = listening_addrs(&line);
    assert_eq!(all[0], ("http".to_string(), srv.addr));
    let https = addrs_of(&srv, "https");
    assert_eq!(https.len(), 1 + usize::from(ipv6), "{line}");
    if ipv6 {
        assert!(
            line.contains(&format!("https://[::1]:{}", https[1].port())),
            "{line}"
        );
    }
    for addr in https {
        TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr} not bound: {e}"));
    }
    serves(srv.addr, 5);
}

#[test]
fn a_config_file_lists_addresses() {
    let root = site();
    let file = root.path().join("preforkd.toml");
    std::fs::write(
        &file,
        format!(
            "root = {:?}\nworkers = 2\nbind = [\"127.0.0.1:0\", \"127.0.0.1:0\"]\n\
             tls-bind = \"127.0.0.1:0\"\ntls-cert = {:?}\ntls-key = {:?}\n",
            root.path().display(),
            tls_files().0,
            tls_files().1,
        ),
    )
    .unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["-c", file.to_str().unwrap()]).args(model_args());
    let srv = Server::start_cmd(cmd, root.path(), 2);
    let schemes: Vec<String> = start_line_addrs(&srv).into_iter().map(|(s, _)| s).collect();
    assert_eq!(schemes, ["http", "http", "https"]);
    for addr in addrs_of(&srv, "http") {
        serves(addr, 5);
    }
}

#[test]
fn tls_flags_without_each_other_and_repeated_addresses_are_refused() {
    let root = site();
    let r = root.path().to_str().unwrap();
    let with = |args: &[&'static str]| {
        let mut all = vec!["-r", r, "-b", "127.0.0.1:0"];
        all.extend_from_slice(args);
        all
    };
    assert_refused(&with(&["--tls-bind", "127.0.0.1:0"]), "--tls-bind");
    assert_refused(
        &with(&["--tls-bind", "127.0.0.1:0", "--tls-key", "k"]),
        "--tls-cert",
    );
    assert_refused(
        &with(&["--tls-bind", "127.0.0.1:0", "--tls-cert", "c"]),
        "--tls-key",
    );
    assert_refused(&with(&["--tls-cert", "c"]), "--tls-cert");
    assert_refused(&with(&["--tls-key", "k"]), "--tls-key");
    assert_refused(&with(&["--redirect-https"]), "--redirect-https");
    assert_refused(&with(&["--hsts", "600"]), "--hsts");
    assert_refused(&with(&["--hsts", "soon"]), "--hsts");
    assert_refused(
        &["-r", r, "-b", "127.0.0.1:8080", "-b", "127.0.0.1:8080"],
        "--bind",
    );
    let mut both = vec![
        "-r",
        r,
        "-b",
        "127.0.0.1:8080",
        "--tls-bind",
        "127.0.0.1:8080",
    ];
    both.extend(tls_args());
    assert_refused(&both, "--tls-bind");
    // The same from a file names the file and its line.
    let file = root.path().join("twice.toml");
    std::fs::write(
        &file,
        "workers = 1\nbind = [\"127.0.0.1:1\", \"127.0.0.1:1\"]\n",
    )
    .unwrap();
    let (code, stderr) = common::run_to_end(&["-r", r, "-c", file.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("twice.toml line 2: --bind 127.0.0.1:1"),
        "{stderr}"
    );
}

#[test]
fn ttin_ttou_and_hup_keep_every_address_serving() {
    let root = site();
    let srv = Server::start(
        root.path(),
        &["-w", "2", "--accept", "reuseport", "-b", "127.0.0.1:0"],
    );
    let plain = addrs_of(&srv, "http");
    assert_eq!(plain.len(), 2);
    assert_slots(&srv, 2, 2);
    let loops: Vec<RequestLoop> = plain
        .iter()
        .map(|a| RequestLoop::start(*a, "/page.html"))
        .collect();
    let progress = |n| loops.iter().for_each(|lp| lp.wait_more(n));
    progress(20);
    srv.signal(libc::SIGTTIN);
    srv.expect_line("SIGTTIN: 3 workers", Duration::from_secs(5));
    assert_slots(&srv, 2, 3);
    progress(20);
    for n in [2, 1] {
        common::send_delivered(srv.pid(), libc::SIGTTOU);
        srv.expect_line(&format!("SIGTTOU: {n} workers"), Duration::from_secs(5));
        assert_slots(&srv, 2, n);
        progress(20);
    }
    let before = socket_inodes(srv.pid());
    let old = srv.worker_pids();
    srv.signal(libc::SIGHUP);
    srv.expect_line("reloaded: generation 1, 2 workers", Duration::from_secs(5));
    assert!(
        wait_until(Duration::from_secs(10), || old.iter().all(|p| !alive(*p))),
        "{:?}",
        srv.log.lines()
    );
    assert_slots(&srv, 2, 2);
    let after = socket_inodes(srv.pid());
    assert!(
        before.iter().all(|i| after.contains(i)),
        "the reload kept the sockets: {before:?} then {after:?}"
    );
    progress(20);
    for (lp, addr) in loops.into_iter().zip(plain) {
        lp.finish_without_failures(&format!("TTIN/TTOU/HUP on {addr}"), 80);
    }
}

#[test]
fn usr2_hands_every_address_with_its_scheme_to_the_new_master() {
    let root = site();
    let mut args = vec!["-w", "2", "-b", "127.0.0.1:0", "--tls-bind", "127.0.0.1:0"];
    args.extend(tls_args());
    let srv = Server::start(root.path(), &args);
    let old = srv.pid();
    let old_workers = srv.worker_pids();
    let addrs = start_line_addrs(&srv);
    let plain = addrs_of(&srv, "http");
    let loops: Vec<RequestLoop> = plain
        .iter()
        .map(|a| RequestLoop::start(*a, "/page.html"))
        .collect();
    loops.iter().for_each(|lp| lp.wait_more(20));

    let (new, line) = upgrade(&srv);
    assert_eq!(
        listening_addrs(&line),
        addrs,
        "same addresses, same schemes"
    );
    assert!(wait_until(Duration::from_secs(10), || children(new).len() == 2));
    assert_eq!(
        socket_inodes(new),
        socket_inodes(old),
        "the very same sockets"
    );
    // Only the new master's workers are left to serve every address.
    common::send(old, libc::SIGWINCH);
    assert!(
        wait_until(Duration::from_secs(10), || old_workers
            .iter()
            .all(|p| !alive(*p))),
        "{:?}",
        srv.log.lines()
    );
    loops.iter().for_each(|lp| lp.wait_more(20));
    for (lp, addr) in loops.into_iter().zip(plain) {
        lp.finish_without_failures(&format!("USR2+WINCH on {addr}"), 40);
    }
    let https = addrs_of(&srv, "https")[0];
    TcpStream::connect(https).expect("the https address still listens");
}

/// A master from before several addresses passes `PREFORKD_LISTEN_FDS=3,4`: its slot
/// sockets of one plain address.
#[test]
fn the_old_upgrade_format_is_one_plain_address() {
    let root = site();
    let bind = || {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_reuse_port(true).unwrap();
        s
    };
    let first = bind();
    first
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    first.listen(128).unwrap();
    let addr = first.local_addr().unwrap();
    let second = bind();
    second.bind(&addr).unwrap();
    second.listen(128).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["-w", "2", "-b", "127.0.0.1:1", "-r"])
        .arg(root.path())
        .args(model_args())
        .env("PREFORKD_LISTEN_FDS", "3,4");
    common::pass_fds(&mut cmd, &[first.as_raw_fd(), second.as_raw_fd()]);
    let srv = Server::start_cmd(cmd, root.path(), 2);
    let addrs = start_line_addrs(&srv);
    assert_eq!(addrs, [("http".to_string(), addr.as_socket().unwrap())]);
    srv.expect_line(
        "accept reuseport (2 sockets per address)",
        Duration::from_secs(1),
    );
    serves(srv.addr, 10);
}

fn reuseport_socket(reuse: bool) -> socket2::Socket {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_reuse_port(reuse).unwrap();
    s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    s.listen(128).unwrap();
    s
}

fn local(s: &socket2::Socket) -> SocketAddr {
    s.local_addr().unwrap().as_socket().unwrap()
}

#[test]
fn systemd_sockets_are_https_by_name_or_by_tls_bind_address() {
    let root = site();
    let (web, secure) = (reuseport_socket(true), reuseport_socket(true));
    let fds = [web.as_raw_fd(), secure.as_raw_fd()];
    // Named https, it needs a certificate: refused without one.
    let out = common::socket_activated_cmd(root.path(), &fds, Some("web:https"), &[])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--tls-cert") && err.lines().count() == 1,
        "{err}"
    );
    // With one (and a --tls-bind, which the certificate needs, at another address).
    let mut args = vec!["--accept", "reuseport", "--tls-bind", "127.0.0.1:2"];
    args.extend(tls_args());
    let srv = common::socket_activated(root.path(), &fds, Some("web:https"), &args);
    srv.expect_line("(socket from systemd)", Duration::from_secs(1));
    let want = vec![
        ("http".to_string(), local(&web)),
        ("https".to_string(), local(&secure)),
    ];
    assert_eq!(start_line_addrs(&srv), want);
    srv.expect_line(
        "accept reuseport (2 sockets per address)",
        Duration::from_secs(1),
    );
    assert_eq!(socket_inodes(srv.pid()).len(), 4);
    serves(srv.addr, 10);
    drop(srv);

    // No names: the --tls-bind address says which is HTTPS.
    let tls_bind = local(&secure).to_string();
    let mut args = vec!["--tls-bind", tls_bind.as_str()];
    args.extend(tls_args());
    let srv = common::socket_activated(root.path(), &fds, None, &args);
    assert_eq!(start_line_addrs(&srv), want);
    serves(srv.addr, 10);
}

/// One socket without SO_REUSEPORT cannot grow into slots, and every address must have
/// the same slots: every worker accepts from every socket.
#[test]
fn a_systemd_socket_without_reuseport_makes_every_address_shared() {
    let root = site();
    let (with, without) = (reuseport_socket(true), reuseport_socket(false));
    let srv = common::socket_activated(
        root.path(),
        &[with.as_raw_fd(), without.as_raw_fd()],
        None,
        &["--accept", "reuseport"],
    );
    srv.expect_line("lacks SO_REUSEPORT", Duration::from_secs(1));
    srv.expect_line("accept exclusive", Duration::from_secs(1));
    assert_eq!(socket_inodes(srv.pid()).len(), 2);
    serves(local(&with), 10);
    serves(local(&without), 10);
}
