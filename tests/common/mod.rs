//! Shared harness: start the real binary on a free loopback port, talk HTTP over TCP,
//! wait for conditions (never fixed sleeps), and clean up every process on drop.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_preforkd");

/// The worker model the suite runs against: `PREFORKD_TEST_MODEL`, else the default.
pub fn model_args() -> Vec<String> {
    match std::env::var("PREFORKD_TEST_MODEL") {
        Ok(m) if !m.is_empty() => vec!["--worker-model".into(), m],
        _ => vec![],
    }
}

/// The server's stderr, line by line, shared with a reader thread.
#[derive(Clone, Default)]
pub struct Log(Arc<(Mutex<Vec<String>>, Condvar)>);

impl Log {
    fn push(&self, line: String) {
        let (lines, cv) = &*self.0;
        lines.lock().unwrap().push(line);
        cv.notify_all();
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.0.lock().unwrap().clone()
    }

    /// Waits until some line satisfies `f`, returning what `f` extracted.
    pub fn wait_for<T>(
        &self,
        timeout: Duration,
        mut f: impl FnMut(&str) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let (lines, cv) = &*self.0;
        let mut guard = lines.lock().unwrap();
        let mut seen = 0;
        loop {
            for line in &guard[seen..] {
                if let Some(t) = f(line) {
                    return Some(t);
                }
            }
            seen = guard.len();
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            guard = cv.wait_timeout(guard, deadline - now).unwrap().0;
        }
    }

    /// Counts the lines containing `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.lines().iter().filter(|l| l.contains(needle)).count()
    }
}

pub struct Server {
    pub child: Option<Child>,
    pub addr: SocketAddr,
    pub log: Log,
    pub root: PathBuf,
}

/// Parses "... worker 123 ready ..." into 123: the master's word that the worker waits
/// for connections.
pub fn ready_pid(line: &str) -> Option<i32> {
    let rest = line.split("worker ").nth(1)?;
    let (pid, tail) = rest.split_once(' ')?;
    tail.starts_with("ready").then(|| pid.parse().ok())?
}

/// Parses "... worker 123 started ..." into 123.
pub fn started_pid(line: &str) -> Option<i32> {
    let rest = line.split("worker ").nth(1)?;
    let (pid, tail) = rest.split_once(' ')?;
    tail.starts_with("started").then(|| pid.parse().ok())?
}

impl Server {
    /// Starts preforkd on 127.0.0.1 with a free port, serving `root`, with extra `args`.
    pub fn start(root: &Path, args: &[&str]) -> Server {
        Self::start_at(root, "127.0.0.1:0", args)
    }

    pub fn start_at(root: &Path, bind: &str, args: &[&str]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.arg("-r").arg(root).arg("-b").arg(bind);
        cmd.args(model_args());
        cmd.args(args);
        Self::launch(cmd, root, args)
    }

    /// Starts preforkd with the given worker model whatever `PREFORKD_TEST_MODEL` says,
    /// for tests that only make sense with one model.
    pub fn start_model(root: &Path, model: &str, args: &[&str]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.arg("-r")
            .arg(root)
            .args(["-b", "127.0.0.1:0", "--worker-model", model]);
        cmd.args(args);
        Self::launch(cmd, root, args)
    }

    fn launch(cmd: Command, root: &Path, args: &[&str]) -> Server {
        let workers = args
            .iter()
            .position(|a| *a == "-w")
            .and_then(|i| args.get(i + 1))
            .map_or(1, |n| n.parse().unwrap());
        Self::start_cmd(cmd, root, workers)
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// Waits until `n` workers have become ready in total; returns their pids.
    pub fn wait_workers(&self, n: usize) -> Vec<i32> {
        let mut pids = Vec::new();
        self.log.wait_for(Duration::from_secs(10), |l| {
            if let Some(p) = ready_pid(l) {
                pids.push(p);
            }
            (pids.len() >= n).then_some(())
        });
        assert!(
            pids.len() >= n,
            "only {} of {n} workers ready: {:?}",
            pids.len(),
            self.log.lines()
        );
        pids
    }

    /// The live worker processes, from the kernel's list of the master's children.
    pub fn worker_pids(&self) -> Vec<i32> {
        children(self.pid())
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: sending a signal to our own child process.
        assert_eq!(unsafe { libc::kill(self.pid(), sig) }, 0);
    }

    /// Waits for the master to exit; returns its exit code (None if killed by a signal).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit in {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn get(&self, path: &str) -> Response {
        get(self.addr, path)
    }

    pub fn request(&self, raw: &[u8]) -> Vec<u8> {
        raw_exchange(self.addr, raw)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The server runs in its own process group: this reaches every worker too.
            // SAFETY: signalling the process group we created for this server.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Spawns a command in its own process group, collecting its stderr.
pub fn spawn_logged(mut cmd: Command) -> (Child, Log) {
    cmd.process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn preforkd");
    let log = Log::default();
    let stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if std::env::var_os("PREFORKD_TEST_VERBOSE").is_some() {
                eprintln!("server: {line}");
            }
            sink.push(line);
        }
    });
    (child, log)
}

/// The children of a process, from /proc.
pub fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
                out.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<i32>().ok()),
                );
            }
        }
    }
    out
}

pub fn alive(pid: i32) -> bool {
    // A zombie is dead for our purposes.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// A GET with `Connection: close`, read to the end.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    let bytes = raw_exchange(addr, raw.as_bytes());
    parse_responses(&bytes, false)
        .into_iter()
        .next()
        .unwrap_or_else(|| {
            panic!(
                "no response to GET {path}: {:?}",
                String::from_utf8_lossy(&bytes)
            )
        })
}

/// Like [`get`] but reports connection failures instead of panicking.
pub fn try_get(addr: SocketAddr, path: &str) -> Result<Response, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let raw = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    s.write_all(raw.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes)
        .map_err(|e| format!("read: {e}"))?;
    parse_responses(&bytes, false)
        .into_iter()
        .next()
        .ok_or_else(|| format!("no response: {:?}", String::from_utf8_lossy(&bytes)))
}

/// Sends bytes, reads until the server closes (10 s at most).
pub fn raw_exchange(addr: SocketAddr, raw: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Splits a byte stream into responses, using Content-Length to find each body.
/// `head_only` marks responses to HEAD (no body whatever the length says).
pub fn parse_responses(mut bytes: &[u8], head_only: bool) -> Vec<Response> {
    let mut out = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut headers = HashMap::new();
        for line in lines {
            if let Some((n, v)) = line.split_once(':') {
                headers.insert(n.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = if head_only || status == 304 {
            0
        } else {
            headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let body_start = end + 4;
        let body_end = (body_start + len).min(bytes.len());
        out.push(Response {
            status,
            headers,
            head,
            body: bytes[body_start..body_end].to_vec(),
        });
        bytes = &bytes[body_end..];
    }
    out
}

/// A temporary document root with a few standard files.
pub fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("index.html"), "<h1>home</h1>\n").unwrap();
    std::fs::write(p.join("page.html"), "<p>page</p>\n").unwrap();
    std::fs::write(p.join("1k.html"), "x".repeat(1024)).unwrap();
    std::fs::create_dir(p.join("dir")).unwrap();
    std::fs::write(p.join("dir/index.html"), "<p>dir index</p>\n").unwrap();
    std::fs::create_dir(p.join("noindex")).unwrap();
    std::fs::write(p.join("noindex/file.txt"), "f").unwrap();
    dir
}

/// A body of `len` deterministic bytes (so corruption is visible).
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect()
}

/// One request with extra header lines (`Connection: close` is added), read to the end.
pub fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Response {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    let bytes = raw_exchange(addr, raw.as_bytes());
    parse_responses(&bytes, method == "HEAD")
        .into_iter()
        .next()
        .unwrap_or_else(|| {
            panic!(
                "no response to {method} {path}: {:?}",
                String::from_utf8_lossy(&bytes)
            )
        })
}

/// A GET with extra header lines.
pub fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    request_with(addr, "GET", path, headers)
}

/// Connects with a read timeout, so a test can never hang on a silent server.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads from `s` until `n` whole responses (by Content-Length) have arrived.
pub fn read_n_responses(s: &mut TcpStream, n: usize, head_only: bool) -> Vec<Response> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let rs = parse_responses(&buf, head_only);
        let complete = rs.len() >= n
            && rs.iter().all(|r| {
                let want: usize = if head_only || r.status == 304 {
                    0
                } else {
                    r.header("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0)
                };
                r.body.len() == want
            });
        if complete {
            return rs;
        }
        match s.read(&mut chunk) {
            Ok(0) => return rs,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
            Err(e) => panic!(
                "read after {} bytes: {e}: {:?}",
                buf.len(),
                String::from_utf8_lossy(&buf)
            ),
        }
    }
}

/// Whether the server closes `s` within `within` (EOF or reset), after whatever it sends.
pub fn closes_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let deadline = Instant::now() + within;
    let mut sink = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
    false
}

// ---- Supervisor helpers: start the master, signal it, read its log and pid files ----

/// Sends `sig` to `pid`; panics if the process does not exist.
pub fn send(pid: i32, sig: i32) {
    // SAFETY: signalling a process this test started (or one of its workers).
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "kill({pid}, {sig})");
}

/// The `preforkd` command with the root, a bind address and the model under test.
pub fn command(root: &Path, bind: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("-r").arg(root).arg("-b").arg(bind);
    cmd.args(model_args());
    cmd.args(args);
    cmd
}

/// Parses "... listening on http://ADDR, https://ADDR2, ..." into the first plain
/// ADDR.
pub fn listening_addr(line: &str) -> Option<SocketAddr> {
    listening_addrs(line)
        .into_iter()
        .find_map(|(scheme, addr)| (scheme == "http").then_some(addr))
}

/// Parses "... listening on http://ADDR, https://ADDR2, N ... workers" into every
/// (scheme, address), in order.
pub fn listening_addrs(line: &str) -> Vec<(String, SocketAddr)> {
    let Some(rest) = line.split("listening on ").nth(1) else {
        return Vec::new();
    };
    rest.split(", ")
        .map_while(|url| {
            let (scheme, addr) = url.split_once("://")?;
            Some((scheme.to_owned(), addr.parse().ok()?))
        })
        .collect()
}

/// The pid in brackets that every log line carries: "[date] [PID] [LEVEL] ...".
pub fn line_pid(line: &str) -> Option<i32> {
    line.split("] [").nth(1)?.parse().ok()
}

impl Server {
    /// Starts a prepared command (see [`command`]) and waits until it listens.
    pub fn start_cmd(cmd: Command, root: &Path, workers: usize) -> Server {
        let (child, log) = spawn_logged(cmd);
        let addr = log
            .wait_for(Duration::from_secs(10), listening_addr)
            .unwrap_or_else(|| panic!("server did not start: {:?}", log.lines()));
        let server = Server {
            child: Some(child),
            addr,
            log,
            root: root.to_path_buf(),
        };
        server.wait_workers(workers);
        server
    }

    /// Waits for a log line containing `needle`, panicking with the log if none comes.
    pub fn expect_line(&self, needle: &str, timeout: Duration) -> String {
        self.log
            .wait_for(timeout, |l| l.contains(needle).then(|| l.to_string()))
            .unwrap_or_else(|| panic!("no line with {needle:?} in {:?}", self.log.lines()))
    }
}

/// A client looping GETs on fresh connections until stopped; counts successes and failures.
pub struct RequestLoop {
    stop: Arc<std::sync::atomic::AtomicBool>,
    ok: Arc<std::sync::atomic::AtomicUsize>,
    failures: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RequestLoop {
    pub fn start(addr: SocketAddr, path: &'static str) -> RequestLoop {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let (s, o, f) = (stop.clone(), ok.clone(), failures.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match try_get(addr, path) {
                    Ok(r) if r.status == 200 => {
                        o.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => f.lock().unwrap().push(format!("status {}", r.status)),
                    Err(e) => f.lock().unwrap().push(e),
                }
            }
        });
        RequestLoop {
            stop,
            ok,
            failures,
            thread: Some(thread),
        }
    }

    pub fn ok(&self) -> usize {
        self.ok.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until `n` more requests have succeeded than now.
    pub fn wait_more(&self, n: usize) {
        let target = self.ok() + n;
        assert!(
            wait_until(Duration::from_secs(20), || self.ok() >= target),
            "request loop stalled at {} (failures {:?})",
            self.ok(),
            self.failures.lock().unwrap()
        );
    }

    /// Stops the loop; prints and returns (succeeded, failures).
    pub fn finish(mut self, what: &str) -> (usize, Vec<String>) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        let failures = self.failures.lock().unwrap().clone();
        let ok = self.ok();
        eprintln!(
            "COUNTS {what}: sent {}, failed {} {failures:?}",
            ok + failures.len(),
            failures.len()
        );
        (ok, failures)
    }

    /// Stops the loop; asserts that no request failed and at least `at_least` succeeded.
    pub fn finish_without_failures(self, what: &str, at_least: usize) {
        let (ok, failures) = self.finish(what);
        assert!(failures.is_empty(), "{failures:?}");
        assert!(ok >= at_least, "{what}: only {ok} requests succeeded");
    }
}

impl Drop for RequestLoop {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Kills, on drop, the process group of whatever pid the file names: a daemon leaves
/// the test's process group, so the Server guard cannot reach it.
pub struct PidFileGuard(pub PathBuf);

impl Drop for PidFileGuard {
    fn drop(&mut self) {
        for path in [
            self.0.clone(),
            PathBuf::from(format!("{}.oldbin", self.0.display())),
        ] {
            if let Some(pid) = read_pid(&path) {
                kill_group_of(pid);
            }
        }
    }
}

/// SIGKILLs the process group `pid` belongs to (a daemon's session), or `pid` alone.
pub fn kill_group_of(pid: i32) {
    // SAFETY: getpgid reads; kill targets the group of a process this test started,
    // never our own group.
    unsafe {
        let group = libc::getpgid(pid);
        if group > 1 && group != libc::getpgid(0) {
            libc::kill(-group, libc::SIGKILL);
        }
        libc::kill(pid, libc::SIGKILL);
    }
}

pub fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Waits until the file's text satisfies `f`; returns the text.
pub fn wait_file(path: &Path, timeout: Duration, f: impl Fn(&str) -> bool) -> Option<String> {
    let mut found = None;
    wait_until(timeout, || {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if f(&text) {
            found = Some(text);
            true
        } else {
            false
        }
    });
    found
}

// ---- Signal delivery helpers ----

/// Whether `sig` is pending for `pid` (sent, not yet delivered to a handler), from the
/// process's and its threads' pending masks in /proc.
pub fn signal_pending(pid: i32, sig: i32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let bit = 1u64 << (sig - 1);
    status
        .lines()
        .filter_map(|l| {
            l.strip_prefix("ShdPnd:")
                .or_else(|| l.strip_prefix("SigPnd:"))
        })
        .filter_map(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .any(|mask| mask & bit != 0)
}

/// Sends `sig` to `pid` and waits until it has been delivered, so the next one of the
/// same kind is not merged with it by the kernel (which keeps one pending instance).
pub fn send_delivered(pid: i32, sig: i32) {
    send(pid, sig);
    assert!(
        wait_until(Duration::from_secs(5), || !signal_pending(pid, sig)),
        "signal {sig} still pending for {pid}"
    );
}

/// Stops `pid` with SIGSTOP and waits until the kernel shows it stopped: signals sent
/// then stay pending together, and none is acted on before SIGCONT.
pub fn freeze(pid: i32) {
    send(pid, libc::SIGSTOP);
    assert!(
        wait_until(Duration::from_secs(5), || {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit(')')
                    .next()
                    .is_some_and(|s| s.trim_start().starts_with('T'))
            })
        }),
        "{pid} did not stop"
    );
}

// ---- Sockets a process holds ----

/// The inodes of the sockets `pid` has open ("socket:[123]"), sorted. For a master these
/// are exactly its listening sockets: its pipes and files are not sockets.
pub fn socket_inodes(pid: i32) -> Vec<u64> {
    let mut out: Vec<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let link = std::fs::read_link(e.path()).ok()?;
                    let link = link.to_string_lossy();
                    link.strip_prefix("socket:[")?
                        .strip_suffix(']')?
                        .parse()
                        .ok()
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The ready workers of a master: its live children (a zombie is not a worker).
pub fn live_children(pid: i32) -> Vec<i32> {
    children(pid).into_iter().filter(|p| alive(*p)).collect()
}

// ---- Inherited sockets and refused starts ----

/// Makes `fds` descriptors 3, 4, ... of the process `cmd` starts, as systemd and an
/// upgrading master pass them (close-on-exec cleared on those alone).
pub fn pass_fds(cmd: &mut Command, fds: &[RawFd]) {
    let fds = fds.to_vec();
    // Copies out of the way first, so a descriptor already numbered 3 or 4 cannot be
    // overwritten before it is moved (close-on-exec: the copies do not reach preforkd).
    let mut copies = vec![-1; fds.len()];
    // SAFETY: fcntl and dup2 are async-signal-safe, and both vectors were allocated
    // before the fork.
    unsafe {
        cmd.pre_exec(move || {
            for (copy, &fd) in copies.iter_mut().zip(&fds) {
                *copy = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 100);
                if *copy == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (i, &copy) in copies.iter().enumerate() {
                if libc::dup2(copy, 3 + i as RawFd) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Starts preforkd with 2 workers as systemd would: `fds` as descriptors 3, 4, ...
/// (LISTEN_FDS), named by `names` (LISTEN_FDNAMES, `a:b`) if given, then `args`.
pub fn socket_activated(root: &Path, fds: &[RawFd], names: Option<&str>, args: &[&str]) -> Server {
    Server::start_cmd(socket_activated_cmd(root, fds, names, args), root, 2)
}

/// The command [`socket_activated`] starts.
pub fn socket_activated_cmd(
    root: &Path,
    fds: &[RawFd],
    names: Option<&str>,
    args: &[&str],
) -> Command {
    // LISTEN_PID must be the server's own pid: a shell sets it to its $$ and then
    // becomes the server with exec, keeping both the pid and the descriptors.
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!(
            "LISTEN_PID=$$ LISTEN_FDS={} exec \"$0\" \"$@\"",
            fds.len()
        ))
        .arg(BIN)
        .args(["-w", "2", "-b", "127.0.0.1:1", "-r"])
        .arg(root)
        .args(model_args())
        .args(args);
    if let Some(names) = names {
        cmd.env("LISTEN_FDNAMES", names);
    }
    pass_fds(&mut cmd, fds);
    cmd
}

/// Runs preforkd to completion; returns (exit code, stderr).
pub fn run_to_end(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN).args(args).output().expect("run preforkd");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs preforkd with `args` and checks that it refuses to start: exit code 2 and one
/// line of error that names `flag`.
pub fn assert_refused(args: &[&str], flag: &str) {
    let (code, stderr) = run_to_end(args);
    assert_eq!(code, Some(2), "{args:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    assert!(
        lines[0].contains(flag),
        "{args:?} should name {flag}: {stderr}"
    );
    assert!(!stderr.contains("started"), "no worker may start: {stderr}");
}

/// A self-signed certificate for `localhost` and its key, as `--tls-cert` and
/// `--tls-key` read them: made once per test process, in the target's temp dir.
pub fn tls_files() -> &'static (PathBuf, PathBuf) {
    static FILES: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        (cert, key)
    })
}

/// `--tls-cert FILE --tls-key FILE` with [`tls_files`].
pub fn tls_args() -> [&'static str; 4] {
    let (cert, key) = tls_files();
    [
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]
}

/// Sends USR2 and waits until the new master listens; returns its pid and its start line.
pub fn upgrade(srv: &Server) -> (i32, String) {
    srv.signal(libc::SIGUSR2);
    let line = srv.expect_line("SIGUSR2: started new master", Duration::from_secs(10));
    let new: i32 = line
        .split("started new master ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    let started = srv
        .log
        .wait_for(Duration::from_secs(10), |l| {
            (line_pid(l) == Some(new) && l.contains("socket inherited from master"))
                .then(|| l.to_string())
        })
        .unwrap_or_else(|| panic!("new master did not start: {:?}", srv.log.lines()));
    (new, started)
}

/// The master holds one socket per slot and address; each worker holds exactly one of
/// them per address, and no two workers the same. Waited for: a worker just forked
/// still holds every slot's socket until it closes the others.
pub fn assert_slots(srv: &Server, addresses: usize, n: usize) {
    // Each worker's share of the master's sockets, if every worker holds `addresses`
    // of them and together they hold each exactly once.
    let shares = || {
        let slots = socket_inodes(srv.pid());
        let workers = live_children(srv.pid());
        let mut held: Vec<u64> = Vec::new();
        let mut shares = Vec::new();
        for w in &workers {
            let own: Vec<u64> = socket_inodes(*w)
                .into_iter()
                .filter(|i| slots.contains(i))
                .collect();
            held.extend(&own);
            shares.push((*w, own));
        }
        held.sort();
        let ok = slots.len() == addresses * n
            && workers.len() == n
            && shares.iter().all(|(_, own)| own.len() == addresses)
            && held == slots;
        (ok, slots, shares)
    };
    assert!(
        wait_until(Duration::from_secs(10), || shares().0),
        "want {n} slots of {addresses} sockets, each held by one worker; master holds \
         {:?}, workers hold {:?}: {:?}",
        shares().1,
        shares().2,
        srv.log.lines()
    );
}
