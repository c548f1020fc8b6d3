//! The scoreboard seen from outside, over real TCP and real signals: the status
//! listener's pages (`--status-bind`), counts exact over known traffic and kept through
//! kill -9, HUP, `--max-requests` and TTOU; `/status.json` naming the real children;
//! `/healthz` through SIGSTOP of every worker; none of it on the public port.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{
    Server, freeze, get, listening_addrs, live_children, parse_responses, raw_exchange,
    request_with, send, site, try_get, wait_until,
};

/// A server with `workers` workers and a status listener; returns it and the status
/// listener's address, read from the start line (`status http://ADDR`).
fn start(root: &std::path::Path, workers: usize, extra: &[&str]) -> (Server, SocketAddr) {
    let n = workers.to_string();
    let mut args = vec!["-w", &n, "--status-bind", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let srv = Server::start(root, &args);
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

/// A document root with a 1 KiB file (sent with its head) and a 100 KiB one (sendfile).
fn root() -> tempfile::TempDir {
    let dir = site();
    std::fs::write(dir.path().join("big.bin"), common::pattern(100 * 1024 + 7)).unwrap();
    dir
}

// ---- A Prometheus text-format parser, strict about what the format requires ----

#[derive(Debug)]
struct Metrics {
    /// (name, labels, value), in order.
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
    /// Family name to its TYPE.
    types: HashMap<String, String>,
}

fn is_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

/// `a="x",b="y\"z"` into a map; panics on anything the format does not allow.
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").expect("label=\"value\"");
        assert!(is_name(name, false), "label name {name:?}");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("unterminated label value") {
                (i, '"') => break i,
                (_, '\\') => match chars.next().expect("escape").1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => panic!("bad escape \\{c}"),
                },
                (_, c) => value.push(c),
            }
        };
        assert!(out.insert(name.to_owned(), value).is_none(), "{name} twice");
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    out
}

/// Parses the text exposition format 0.0.4: `# HELP` and `# TYPE` lines, then samples
/// `name{labels} value`; a family's TYPE comes once, before its samples, which come
/// together; every value is a float.
fn parse_prometheus(text: &str) -> Metrics {
    assert!(text.ends_with('\n'), "the last line ends with a newline");
    let mut samples = Vec::new();
    let mut types = HashMap::new();
    let mut done: Vec<String> = Vec::new();
    let mut family = String::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    assert!(is_name(name, true), "{line}");
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                        "{line}"
                    );
                    assert!(types.insert(name.to_owned(), kind.to_owned()).is_none());
                    if !family.is_empty() && family != name {
                        done.push(std::mem::take(&mut family));
                    }
                    family = name.to_owned();
                }
                (Some("HELP"), Some(name), _) => assert!(is_name(name, true), "{line}"),
                _ => {}
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("name value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, parse_labels(l.strip_suffix('}').expect("}"))),
            None => (series, BTreeMap::new()),
        };
        assert!(is_name(name, true), "{line}");
        assert!(!done.contains(&name.to_owned()), "{name}: samples apart");
        assert_eq!(name, family, "{line}: sample outside its family");
        samples.push((name.to_owned(), labels, value));
    }
    Metrics { samples, types }
}

impl Metrics {
    /// The sum over the samples of `name` whose labels include `with`.
    fn sum(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(n, labels, _)| {
                n == name
                    && with
                        .iter()
                        .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| *v)
            .sum()
    }

    fn count(&self, name: &str) -> usize {
        self.samples.iter().filter(|(n, _, _)| n == name).count()
    }
}

fn metrics(status: SocketAddr) -> Metrics {
    let r = get(status, "/metrics");
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    parse_prometheus(std::str::from_utf8(&r.body).unwrap())
}

fn status_json(status: SocketAddr) -> serde_json::Value {
    let r = get(status, "/status.json");
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.header("content-type"), Some("application/json"));
    serde_json::from_slice(&r.body).expect("/status.json is JSON")
}

/// The worker pids `/status.json` lists, sorted.
fn json_pids(v: &serde_json::Value) -> Vec<i32> {
    let mut pids: Vec<i32> = v["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["pid"].as_i64().unwrap() as i32)
        .collect();
    pids.sort();
    pids
}

fn sorted(mut v: Vec<i32>) -> Vec<i32> {
    v.sort();
    v
}

/// Known traffic on the public port: (2xx, 4xx, bytes the client received), as the
/// client saw them (a worker past `--max-requests` may close a keep-alive connection
/// before its second request: that one is then neither answered nor counted).
fn traffic(addr: SocketAddr, rounds: usize) -> (f64, f64, f64) {
    let (mut ok, mut missing, mut bytes) = (0, 0, 0);
    let mut exchange = |raw: &str, head: bool| {
        let out = raw_exchange(addr, raw.as_bytes());
        bytes += out.len();
        for r in parse_responses(&out, head) {
            match r.status {
                200 => ok += 1,
                404 => missing += 1,
                other => panic!("status {other}: {}", r.head),
            }
        }
    };
    for _ in 0..rounds {
        // Two GETs on one keep-alive connection (a small body with its head, a large
        // one by sendfile), a HEAD, a 404.
        exchange(
            "GET /1k.html HTTP/1.1\r\nHost: t\r\n\r\n\
             GET /big.bin HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            false,
        );
        exchange(
            "HEAD /page.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            true,
        );
        exchange(
            "GET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
            false,
        );
    }
    (ok as f64, missing as f64, bytes as f64)
}

/// Asserts that the public counters are exactly `ok` 2xx, `missing` 4xx and `bytes`.
fn assert_counts(status: SocketAddr, ok: f64, missing: f64, bytes: f64) -> Metrics {
    let m = metrics(status);
    assert_eq!(m.sum("preforkd_requests_total", &[("class", "2xx")]), ok);
    assert_eq!(
        m.sum("preforkd_requests_total", &[("class", "4xx")]),
        missing
    );
    for class in ["1xx", "3xx", "5xx"] {
        assert_eq!(m.sum("preforkd_requests_total", &[("class", class)]), 0.0);
    }
    assert_eq!(m.sum("preforkd_bytes_sent_total", &[]), bytes);
    m
}

#[test]
fn counts_are_exact_and_the_metrics_parse_as_prometheus_text() {
    let root = root();
    let (srv, status) = start(root.path(), 2, &[]);
    let (ok, missing, bytes) = traffic(srv.addr, 10);
    let m = assert_counts(status, ok, missing, bytes);

    for (name, kind) in [
        ("preforkd_requests_total", "counter"),
        ("preforkd_bytes_sent_total", "counter"),
        ("preforkd_connections", "gauge"),
        ("preforkd_workers", "gauge"),
        ("preforkd_worker_restarts_total", "counter"),
        ("preforkd_uptime_seconds", "gauge"),
        ("preforkd_build_info", "gauge"),
    ] {
        assert_eq!(m.types.get(name).map(String::as_str), Some(kind), "{name}");
        assert!(m.count(name) > 0, "{name} has no sample");
    }
    // Two slots, five classes each.
    assert_eq!(m.count("preforkd_requests_total"), 10);
    assert_eq!(m.sum("preforkd_connections", &[]), 0.0);
    assert_eq!(
        m.sum("preforkd_workers", &[("state", "ready")])
            + m.sum("preforkd_workers", &[("state", "serving")]),
        2.0
    );
    assert_eq!(m.sum("preforkd_worker_restarts_total", &[]), 0.0);
    assert!(m.sum("preforkd_uptime_seconds", &[]) > 0.0);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(m.sum("preforkd_build_info", &[("version", version)]), 1.0);

    // Watching changes nothing: the status listener's requests are not counted.
    for path in [
        "/metrics",
        "/status.json",
        "/status",
        "/healthz",
        "/nothing",
    ] {
        get(status, path);
    }
    assert_counts(status, ok, missing, bytes);

    // An open keep-alive connection shows, and goes when it closes.
    let mut s = common::connect(srv.addr);
    std::io::Write::write_all(&mut s, b"GET /page.html HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let held = common::read_n_responses(&mut s, 1, false);
    assert!(wait_until(Duration::from_secs(5), || {
        metrics(status).sum("preforkd_connections", &[]) == 1.0
    }));
    drop(s);
    assert!(wait_until(Duration::from_secs(5), || {
        metrics(status).sum("preforkd_connections", &[]) == 0.0
    }));
    let sent = held[0].head.len() + 4 + held[0].body.len();
    assert_counts(status, ok + 1.0, missing, bytes + sent as f64);
}

#[test]
fn status_json_lists_the_real_children_and_the_html_page_shows_them() {
    let root = root();
    let (srv, status) = start(root.path(), 3, &[]);
    let (ok, missing, bytes) = traffic(srv.addr, 2);
    // Every worker says it is ready, so the list is complete once the children are.
    let mut v = status_json(status);
    assert!(wait_until(Duration::from_secs(5), || {
        v = status_json(status);
        json_pids(&v) == sorted(live_children(srv.pid()))
    }));
    assert_eq!(v["schema"], 1);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["healthy"], true);
    assert_eq!(v["master"]["pid"], srv.pid());
    assert_eq!(v["master"]["generation"], 0);
    assert!(v["master"]["started"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["totals"]["requests"], ok + missing);
    assert_eq!(v["totals"]["responses"]["2xx"], ok);
    assert_eq!(v["totals"]["responses"]["4xx"], missing);
    assert_eq!(v["totals"]["bytes_sent"], bytes);
    let workers = v["workers"].as_array().unwrap();
    let mut slots: Vec<u64> = workers
        .iter()
        .map(|w| w["slot"].as_u64().unwrap())
        .collect();
    slots.sort();
    assert_eq!(slots, [0, 1, 2]);
    let mut requests = 0;
    for w in workers {
        assert!(
            ["ready", "serving"].contains(&w["state"].as_str().unwrap()),
            "{w}"
        );
        assert_eq!(w["generation"], 0);
        assert!(w["heartbeat_age_seconds"].as_f64().unwrap() < 3.0, "{w}");
        requests += w["requests"].as_u64().unwrap();
        for key in ["uptime_seconds", "responses", "bytes_sent", "connections"] {
            assert!(!w[key].is_null(), "{key} missing in {w}");
        }
    }
    assert_eq!(requests as f64, ok + missing);

    let page = get(status, "/status");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("<meta http-equiv=\"refresh\""));
    for pid in live_children(srv.pid()) {
        assert!(
            html.contains(&format!("<td>{pid}</td>")),
            "{pid} not on the page"
        );
    }
    let health = get(status, "/healthz");
    assert_eq!((health.status, &health.body[..]), (200, &b"ok\n"[..]));
    // HEAD works on the status pages too.
    let head = request_with(status, "HEAD", "/metrics", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn kill_9_shows_the_replacement_within_a_second_and_loses_no_count() {
    let root = root();
    let (srv, status) = start(root.path(), 2, &[]);
    let (ok, missing, bytes) = traffic(srv.addr, 10);
    let before = json_pids(&status_json(status));
    assert_eq!(before, sorted(live_children(srv.pid())));
    let victim = before[0];
    let killed = Instant::now();
    send(victim, libc::SIGKILL);
    let mut shown = Vec::new();
    assert!(
        wait_until(Duration::from_secs(5), || {
            shown = json_pids(&status_json(status));
            shown.len() == 2 && !shown.contains(&victim)
        }),
        "{shown:?}"
    );
    let took = killed.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "the replacement showed after {took:?}"
    );
    assert_eq!(shown, sorted(live_children(srv.pid())));
    let m = assert_counts(status, ok, missing, bytes);
    assert_eq!(
        m.sum("preforkd_worker_restarts_total", &[("cause", "killed")]),
        1.0
    );
    // Counting goes on from there.
    let (ok2, missing2, bytes2) = traffic(srv.addr, 3);
    assert_counts(status, ok + ok2, missing + missing2, bytes + bytes2);
}

#[test]
fn hup_keeps_every_count() {
    let root = root();
    let (srv, status) = start(root.path(), 2, &[]);
    let (ok, missing, bytes) = traffic(srv.addr, 5);
    let old = live_children(srv.pid());
    srv.signal(libc::SIGHUP);
    srv.expect_line("reloaded: generation 1", Duration::from_secs(5));
    assert!(
        wait_until(Duration::from_secs(10), || {
            let v = status_json(status);
            v["master"]["generation"] == 1
                && v["workers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|w| w["generation"] == 1)
                && json_pids(&v) == sorted(live_children(srv.pid()))
                && !json_pids(&v).iter().any(|p| old.contains(p))
        }),
        "{}",
        status_json(status)
    );
    let m = assert_counts(status, ok, missing, bytes);
    assert_eq!(
        m.sum("preforkd_worker_restarts_total", &[("cause", "reload")]),
        2.0
    );
    let (ok2, missing2, bytes2) = traffic(srv.addr, 2);
    assert_counts(status, ok + ok2, missing + missing2, bytes + bytes2);
}

#[test]
fn max_requests_recycling_and_ttou_keep_every_count() {
    let root = root();
    let (srv, status) = start(root.path(), 2, &["--max-requests", "5"]);
    // 80 requests: every worker retires after 5, or after more: the turn that reached 5,
    // and (sync) the connections already queued, which a retiring worker answers before
    // it leaves, however many the client's speed put there. So at least 2 retire (at
    // most 16). A retiring worker answers with `Connection: close`, so a GET pipelined
    // behind the answer goes unanswered: each of the 60 connections gets at least its
    // first answer. The counts must equal what the client got, whatever that was.
    let (ok, missing, bytes) = traffic(srv.addr, 20);
    assert!(ok + missing >= 60.0, "{ok} + {missing}");
    assert!(
        wait_until(Duration::from_secs(10), || {
            metrics(status).sum(
                "preforkd_worker_restarts_total",
                &[("cause", "max_requests")],
            ) >= 2.0
        }),
        "{:?}",
        metrics(status).samples
    );
    assert_counts(status, ok, missing, bytes);
    let m = metrics(status);
    // Recycling is no crash.
    for cause in ["killed", "crashed", "timeout"] {
        assert_eq!(
            m.sum("preforkd_worker_restarts_total", &[("cause", cause)]),
            0.0
        );
    }

    // Once the last retirement is over, watching wears no worker out: status requests
    // do not count towards --max-requests.
    let mut settled = status_json(status);
    assert!(wait_until(Duration::from_secs(10), || {
        settled = status_json(status);
        json_pids(&settled) == sorted(live_children(srv.pid()))
            && settled["workers_by_state"]["ready"] == 2
    }));
    for _ in 0..12 {
        get(status, "/metrics");
    }
    let after = status_json(status);
    assert_eq!(json_pids(&after), json_pids(&settled));
    assert_eq!(after["restarts"], settled["restarts"]);

    srv.signal(libc::SIGTTOU);
    srv.expect_line("SIGTTOU: 1 workers", Duration::from_secs(5));
    assert!(
        wait_until(Duration::from_secs(10), || {
            metrics(status).sum("preforkd_worker_restarts_total", &[("cause", "ttou")]) == 1.0
                && live_children(srv.pid()).len() == 1
        }),
        "{:?}",
        srv.log.lines()
    );
    assert_counts(status, ok, missing, bytes);
}

#[test]
fn healthz_is_503_while_every_worker_is_stopped_and_200_again_after() {
    let root = root();
    let (srv, status) = start(root.path(), 2, &[]);
    let health = get(status, "/healthz");
    assert_eq!(health.status, 200, "{}", health.head);
    let workers = live_children(srv.pid());
    for &pid in &workers {
        freeze(pid);
    }
    // The master notices once no heartbeat is fresh, and answers in their place.
    srv.expect_line("no worker can answer", Duration::from_secs(10));
    let down = try_get(status, "/healthz").unwrap();
    assert_eq!(down.status, 503, "{}", down.head);
    assert_eq!(down.body, b"unavailable: no worker is serving\n");
    assert_eq!(down.header("connection"), Some("close"));
    // Nothing else is served meanwhile.
    assert_eq!(try_get(status, "/metrics").unwrap().status, 503);
    // The master answered in their place; it replaced none of them to do so.
    assert_eq!(sorted(live_children(srv.pid())), sorted(workers.clone()));
    for &pid in &workers {
        send(pid, libc::SIGCONT);
    }
    assert!(
        wait_until(Duration::from_secs(10), || {
            try_get(status, "/healthz").is_ok_and(|r| r.status == 200)
        }),
        "{:?}",
        srv.log.lines()
    );
    // (One that the scheduler leaves silent for 2 s more after SIGCONT, with this test's
    // connection in its queue, is replaced as any stalled slot: so no check of pids here.)
    srv.expect_line("a worker answers again", Duration::from_secs(5));
}

#[test]
fn the_public_port_has_none_of_it_and_the_status_port_no_files() {
    let root = root();
    let (srv, status) = start(root.path(), 1, &[]);
    let missing = get(srv.addr, "/no-such-file");
    assert_eq!(missing.status, 404);
    for path in ["/metrics", "/status.json", "/status", "/healthz"] {
        let r = get(srv.addr, path);
        assert_eq!(r.status, 404, "{path} on the public port");
        assert_eq!(
            r.body, missing.body,
            "{path}: the same 404 as any missing file"
        );
    }
    // They are plain paths under the root there.
    std::fs::write(root.path().join("metrics"), "a file\n").unwrap();
    assert_eq!(get(srv.addr, "/metrics").body, b"a file\n");
    assert_eq!(metrics(status).count("preforkd_build_info"), 1);
    // And the status port serves no file of the root.
    for path in [
        "/",
        "/index.html",
        "/1k.html",
        "/metrics/",
        "/status.json.gz",
    ] {
        assert_eq!(get(status, path).status, 404, "{path} on the status port");
    }
}

#[test]
fn a_status_page_closes_its_connection() {
    let root = root();
    let (_srv, status) = start(root.path(), 1, &[]);
    // One page per connection, even when the client asks to keep it.
    let asked = Instant::now();
    let out = raw_exchange(status, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = &parse_responses(&out, false)[0];
    assert_eq!(r.header("connection"), Some("close"));
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "the connection stayed open"
    );
}

#[test]
fn usr2_hands_the_status_listener_to_the_new_master() {
    let root = root();
    let (srv, status) = start(root.path(), 2, &[]);
    traffic(srv.addr, 2);
    let (new, line) = common::upgrade(&srv);
    assert!(
        listening_addrs(&line).contains(&("status http".to_string(), status)),
        "{line}"
    );
    assert!(wait_until(Duration::from_secs(10), || {
        live_children(new).len() == 2
    }));
    // After WINCH only the new master's workers answer there, from its own board.
    send(srv.pid(), libc::SIGWINCH);
    let mut v = status_json(status);
    assert!(
        wait_until(Duration::from_secs(10), || {
            v = status_json(status);
            v["master"]["pid"] == new && json_pids(&v) == sorted(live_children(new))
        }),
        "{v}"
    );
    assert_eq!(v["totals"]["requests"], 0);
}

#[test]
fn a_systemd_socket_named_status_is_the_status_listener() {
    let bind = || {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_reuse_port(true).unwrap();
        s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        s.listen(128).unwrap();
        s
    };
    let (web, watch) = (bind(), bind());
    let addr = |s: &socket2::Socket| s.local_addr().unwrap().as_socket().unwrap();
    let fds = [
        std::os::fd::AsRawFd::as_raw_fd(&web),
        std::os::fd::AsRawFd::as_raw_fd(&watch),
    ];
    let root = root();
    let srv = common::socket_activated(root.path(), &fds, Some("web:status"), &[]);
    let line = srv.expect_line("listening on", Duration::from_secs(5));
    assert_eq!(
        listening_addrs(&line),
        [
            ("http".to_string(), addr(&web)),
            ("status http".to_string(), addr(&watch))
        ]
    );
    assert_eq!(get(addr(&web), "/metrics").status, 404);
    assert_eq!(metrics(addr(&watch)).count("preforkd_build_info"), 1);
}

#[test]
fn status_bind_is_checked_and_read_from_the_config_file() {
    common::assert_refused(&["--status-bind", "nonsense"], "--status-bind");
    common::assert_refused(
        &["-b", "127.0.0.1:47001", "--status-bind", "127.0.0.1:47001"],
        "--status-bind",
    );
    let root = root();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("preforkd.toml");
    std::fs::write(&file, "status-bind = \"127.0.0.1:0\"\n").unwrap();
    let srv = Server::start(root.path(), &["-w", "1", "-c", file.to_str().unwrap()]);
    let line = srv.expect_line("listening on", Duration::from_secs(5));
    let status = listening_addrs(&line)
        .into_iter()
        .find_map(|(scheme, addr)| (scheme == "status http").then_some(addr))
        .unwrap_or_else(|| panic!("{line}"));
    assert_eq!(get(status, "/healthz").status, 200);
}
