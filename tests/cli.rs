//! Start-up: flags, help, and one clear line for every bad value.

mod common;

use std::process::Command;

use common::{BIN, assert_refused, site};

#[test]
fn bad_values_are_refused_with_the_flag_named() {
    let root = site();
    let r = root.path().to_str().unwrap();
    let file = root.path().join("page.html");
    assert_refused(&["-r", r, "-w", "0", "-b", "127.0.0.1:0"], "--workers");
    assert_refused(&["-r", "/no/such/dir", "-b", "127.0.0.1:0"], "--root");
    assert_refused(
        &["-r", file.to_str().unwrap(), "-b", "127.0.0.1:0"],
        "--root",
    );
    assert_refused(&["-r", r, "-b", "nonsense"], "--bind");
    assert_refused(&["-r", r, "-b", "127.0.0.1:99999"], "--bind");
    assert_refused(
        &["-r", r, "-b", "127.0.0.1:0", "--backlog", "0"],
        "--backlog",
    );
    assert_refused(
        &["-r", r, "-b", "127.0.0.1:0", "--header-timeout", "0"],
        "--header-timeout",
    );
    assert_refused(&["-r", r, "-b", "127.0.0.1:0", "-w", "many"], "--workers");
    assert_refused(
        &["-r", r, "-b", "127.0.0.1:0", "--worker-model", "fibers"],
        "--worker-model",
    );
}

#[test]
fn a_port_in_use_is_refused() {
    let root = site();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    assert_refused(
        &["-r", root.path().to_str().unwrap(), "-b", &addr],
        "--bind",
    );
}

#[test]
fn a_second_server_on_the_same_port_is_refused() {
    let root = site();
    let first = common::Server::start(root.path(), &["-w", "1"]);
    let addr = first.addr.to_string();
    assert_refused(
        &["-r", root.path().to_str().unwrap(), "-b", &addr],
        "--bind",
    );
    assert_eq!(first.get("/page.html").status, 200);
}

#[test]
fn help_and_version() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--workers",
        "--root",
        "--bind",
        "--backlog",
        "--worker-model",
        "--graceful-timeout",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("preforkd "));
}
