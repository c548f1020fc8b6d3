//! systemd: socket activation (LISTEN_FDS/LISTEN_PID) and sd_notify readiness.

mod common;

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use common::{BIN, Server, model_args, site};

/// Starts preforkd as systemd would, with `socket` as descriptor 3 and `args`.
fn activated(root: &std::path::Path, socket: &impl AsRawFd, args: &[&str]) -> Server {
    common::socket_activated(root, &[socket.as_raw_fd()], None, args)
}

#[test]
fn socket_activation_serves_the_socket_systemd_passed() {
    let root = site();
    let socket = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let srv = activated(root.path(), &socket, &[]);
    assert_eq!(srv.addr, addr, "served the inherited socket, not --bind");
    srv.expect_line("(socket from systemd)", Duration::from_secs(1));
    assert_eq!(srv.get("/page.html").status, 200);
}

/// systemd's socket without ReusePort=yes cannot join a group of slot sockets: asked
/// for reuseport, every worker accepts from the one socket, and the log says why.
#[test]
fn socket_activation_without_reuseport_is_shared_by_the_workers() {
    let root = site();
    let socket = TcpListener::bind("127.0.0.1:0").unwrap();
    let srv = activated(root.path(), &socket, &["--accept", "reuseport"]);
    srv.expect_line("lacks SO_REUSEPORT", Duration::from_secs(1));
    srv.expect_line("accept exclusive", Duration::from_secs(1));
    assert_eq!(common::socket_inodes(srv.pid()).len(), 1);
    for _ in 0..20 {
        assert_eq!(srv.get("/page.html").status, 200);
    }
}

/// With ReusePort=yes the passed socket becomes slot 0 and the master binds the others
/// beside it, joining its group.
#[test]
fn socket_activation_with_reuseport_grows_into_slot_sockets() {
    let root = site();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_reuse_port(true).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket.listen(128).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let srv = activated(root.path(), &socket, &["--accept", "reuseport"]);
    assert_eq!(srv.addr, addr);
    srv.expect_line(
        "accept reuseport (2 sockets per address)",
        Duration::from_secs(1),
    );
    let slots = common::socket_inodes(srv.pid());
    assert_eq!(slots.len(), 2);
    let passed = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).unwrap();
    let passed = passed.to_string_lossy();
    assert!(
        slots.iter().any(|i| passed == format!("socket:[{i}]")),
        "{passed} is not among the master's sockets {slots:?}"
    );
    for _ in 0..20 {
        assert_eq!(srv.get("/page.html").status, 200);
    }
}

#[test]
fn sd_notify_reports_ready_reloading_and_stopping() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let recv = || {
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let mut cmd = Command::new(BIN);
    cmd.args(["-w", "1", "-b", "127.0.0.1:0", "-r"])
        .arg(root.path())
        .args(model_args())
        .env("NOTIFY_SOCKET", &path);
    let mut srv = Server::start_cmd(cmd, root.path(), 1);
    let ready = recv();
    assert_eq!(ready, format!("READY=1\nMAINPID={}", srv.pid()));
    srv.signal(libc::SIGHUP);
    assert!(recv().starts_with("RELOADING=1\nMONOTONIC_USEC="));
    assert_eq!(recv(), "READY=1");
    srv.signal(libc::SIGTERM);
    assert_eq!(recv(), "STOPPING=1");
    assert_eq!(srv.wait_exit(Duration::from_secs(10)), Some(0));
}
