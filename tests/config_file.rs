//! -c/--config: TOML settings, command line precedence, clear errors, and HUP re-reading
//! the file with rollback on an invalid one.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{BIN, RequestLoop, Server, model_args, site, wait_until};

#[test]
fn a_bad_file_is_one_line_naming_the_line_and_the_key() {
    let root = site();
    let file = root.path().join("preforkd.toml");
    for (text, needle) in [
        ("workers = 2\nworkers = \"many\"\n", "line 2"),
        (
            "# comment\n\nwrokers = 2\n",
            "line 3: wrokers: unknown setting",
        ),
        (
            "workers = 2\nmax-requests = \"x\"\n",
            "line 2: max-requests: invalid value 'x'",
        ),
        ("workers = 0\n", "line 1: --workers 0"),
        ("root = [\n", "line 1"),
    ] {
        std::fs::write(&file, text).unwrap();
        let out = Command::new(BIN)
            .args(["-c", file.to_str().unwrap(), "-b", "127.0.0.1:0"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{text:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{text:?} should say {needle:?}: {stderr}"
        );
        assert!(stderr.contains("preforkd.toml"), "{stderr}");
    }
}

#[test]
fn the_file_sets_flags_and_the_command_line_wins() {
    let root = site();
    let file = root.path().join("preforkd.toml");
    std::fs::write(
        &file,
        format!(
            "workers = 3\nroot = \"{}\"\nbind = \"127.0.0.1:1\"\ngraceful_timeout = 2.5\n",
            root.path().display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["-c", file.to_str().unwrap(), "-b", "127.0.0.1:0"]);
    cmd.args(model_args());
    let srv = Server::start_cmd(cmd, root.path(), 3);
    assert_eq!(srv.worker_pids().len(), 3);
    assert_eq!(srv.get("/page.html").status, 200);
}

#[test]
fn hup_rereads_the_file_and_keeps_the_old_config_when_the_new_one_is_bad() {
    let root = site();
    let file = root.path().join("preforkd.toml");
    let dir = root.path().to_str().unwrap().to_string();
    let write = |root: &str, bind: &str, rest: &str| {
        std::fs::write(&file, format!("root = {root:?}\nbind = {bind:?}\n{rest}")).unwrap()
    };
    write(&dir, "127.0.0.1:0", "workers = 2\n");
    let mut cmd = Command::new(BIN);
    cmd.args(["-c", file.to_str().unwrap()]);
    cmd.args(model_args());
    let srv = Server::start_cmd(cmd, root.path(), 2);
    let lp = RequestLoop::start(srv.addr, "/page.html");
    lp.wait_more(30);

    // Valid: three workers of a new generation replace the two.
    let old = srv.worker_pids();
    // (max-requests high enough that no worker retires during the test: the loop below
    // checks that the invalid reloads replace nobody.)
    write(
        &dir,
        "127.0.0.1:0",
        "workers = 3\nmax-requests = 100000000\n",
    );
    srv.signal(libc::SIGHUP);
    srv.expect_line("reloaded: generation 1, 3 workers", Duration::from_secs(10));
    assert!(
        wait_until(Duration::from_secs(10), || {
            let now = srv.worker_pids();
            now.len() == 3 && now.iter().all(|p| !old.contains(p))
        }),
        "{:?}",
        srv.log.lines()
    );
    lp.wait_more(30);

    // Invalid: logged with the line and key, nothing changes.
    let kept = srv.worker_pids();
    write(
        &dir,
        "127.0.0.1:0",
        "workers = 3\nmax-requests = \"lots\"\n",
    );
    srv.signal(libc::SIGHUP);
    let line = srv.expect_line("reload failed", Duration::from_secs(10));
    assert!(line.contains("line 4: max-requests"), "{line}");
    // A root that does not open is refused too.
    write("/no/such/root", "127.0.0.1:0", "workers = 1\n");
    srv.signal(libc::SIGHUP);
    let line = srv
        .log
        .wait_for(Duration::from_secs(10), |l| {
            (l.contains("reload failed") && l.contains("--root /no/such/root"))
                .then(|| l.to_string())
        })
        .unwrap_or_else(|| panic!("{:?}", srv.log.lines()));
    assert!(line.contains("preforkd.toml line 1"), "{line}");
    lp.wait_more(30);
    assert_eq!(srv.worker_pids().len(), 3);
    assert!(
        kept.iter().all(|p| srv.worker_pids().contains(p)),
        "workers were replaced"
    );

    // A new bind is refused with a log line; the rest of the file applies.
    write(&dir, "127.0.0.1:1", "workers = 2\n");
    srv.signal(libc::SIGHUP);
    srv.expect_line("keeping http://127.0.0.1:0", Duration::from_secs(10));
    srv.expect_line("reloaded: generation 2, 2 workers", Duration::from_secs(10));
    assert!(wait_until(Duration::from_secs(10), || srv
        .worker_pids()
        .len()
        == 2));
    lp.wait_more(30);
    lp.finish_without_failures("HUP valid + invalid config", 120);
}
