//! Every knob: its flag, its default, its validation and its error message.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

pub mod file;

/// A pre-fork static-file HTTP/1.1 and HTTP/2 server.
///
/// A master process binds the sockets and supervises N worker processes that serve
/// GET and HEAD for the files under the document root.
///
/// With a command instead (`preforkd status`), it is a client of a running server.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "preforkd",
    version,
    about,
    max_term_width = 100,
    disable_help_subcommand = true,
    subcommand_value_name = "COMMAND",
    subcommand_help_heading = "Commands (none: serve)"
)]
pub struct Args {
    /// A client command; without one, preforkd serves
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Worker processes [default: the number of CPUs]
    #[arg(short = 'w', long = "workers", value_name = "N")]
    pub workers: Option<usize>,

    /// Document root: the directory whose files are served
    #[arg(short = 'r', long = "root", value_name = "DIR", default_value = "www")]
    pub root: PathBuf,

    /// Address to serve plain HTTP on, HOST:PORT (IPv6 as [::1]:8080; port 0 picks a free
    /// one); repeat for more addresses [default: 127.0.0.1:8080 if no --tls-bind either]
    #[arg(short = 'b', long = "bind", value_name = "HOST:PORT")]
    pub bind: Vec<String>,

    /// Address to serve HTTPS on, HOST:PORT; repeatable; needs --tls-cert and --tls-key
    #[arg(long, value_name = "HOST:PORT")]
    pub tls_bind: Vec<String>,

    /// Certificate chain for --tls-bind, PEM, the server's certificate first
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// Private key of --tls-cert, PEM
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Address of the status listener, HOST:PORT: /metrics, /status.json, /status and
    /// /healthz, served by the workers on plain HTTP [default: off]
    #[arg(long, value_name = "HOST:PORT")]
    pub status_bind: Option<String>,

    /// Answer plain HTTP requests with a redirect to the HTTPS address (needs --tls-bind)
    #[arg(long)]
    pub redirect_https: bool,

    /// Send Strict-Transport-Security with this max-age on HTTPS responses (needs --tls-bind)
    #[arg(long, value_name = "SECS")]
    pub hsts: Option<u64>,

    /// HTTP/2 beside HTTP/1.1: `h2` by ALPN on HTTPS listeners, with prior knowledge on
    /// plain ones
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = Switch::On)]
    pub http2: Switch,

    /// Length of the listen queue for connections not yet accepted
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub backlog: i32,

    /// How a worker serves connections
    #[arg(long, value_enum, value_name = "MODEL", default_value_t = WorkerModel::Event)]
    pub worker_model: WorkerModel,

    /// How workers take new connections from the kernel
    /// [default: reuseport for the event model, exclusive for sync]
    #[arg(long, value_enum, value_name = "MODEL")]
    pub accept: Option<AcceptModel>,

    /// Most connections one event worker holds open at once (more wait in the backlog)
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_connections: usize,

    /// Seconds a graceful stop waits for workers before killing them
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub graceful_timeout: f64,

    /// Read settings from a TOML file whose keys are the long flag names
    /// (workers = 4, root = "/srv/www"); flags given on the command line win
    // Global, so that `preforkd status -c FILE` reads the status-bind of FILE as
    // `preforkd -c FILE status` does.
    #[arg(short = 'c', long = "config", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Seconds a worker may go without a heartbeat before it is killed and replaced
    /// (0 = never; workers beat about once a second, so 2 or more)
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub timeout: f64,

    /// Requests after which a worker retires gracefully and is replaced (0 = never)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_requests: u64,

    /// Add a random 0..=J to --max-requests per worker, so they do not all retire together
    #[arg(long, value_name = "J", default_value_t = 0)]
    pub max_requests_jitter: u64,

    /// Detach into the background; exits 0 once the server listens
    #[arg(short = 'd', long)]
    pub daemon: bool,

    /// Write the master's pid here (removed on exit; refuses to start if it names a live process)
    #[arg(long, value_name = "PATH")]
    pub pid_file: Option<PathBuf>,

    /// Workers drop to this user (name or uid) before serving; the master keeps its own
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// Workers drop to this group (name or gid) [default: the user's primary group]
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,

    /// Access log in the combined format, a file or - for stdout [default: off]
    #[arg(long, value_name = "PATH|-")]
    pub access_log: Option<String>,

    /// Error log for the master's and workers' messages, a file or - for stderr [default: -]
    #[arg(long, value_name = "PATH|-")]
    pub error_log: Option<String>,

    /// Seconds a client has to send a whole request head (then 408)
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub header_timeout: f64,

    /// Seconds an idle keep-alive connection is kept open
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub keepalive_timeout: f64,

    /// Seconds a response may make no progress before the client is dropped
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub send_timeout: f64,

    /// Serve files and directories whose names start with a dot
    #[arg(long)]
    pub serve_hidden: bool,

    /// Which symlinks under the root are followed
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = Symlinks::Inside)]
    pub follow_symlinks: Symlinks,

    /// Cache-Control value added to 200, 206 and 304 file responses, e.g. "max-age=3600"
    #[arg(long, value_name = "VALUE")]
    pub cache_control: Option<String>,

    /// Answer directories without index.html with an HTML listing (otherwise 403)
    #[arg(long)]
    pub autoindex: bool,
}

/// What preforkd does instead of serving.
#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Print a running server's workers as a table, read from its status listener
    /// (GET /status.json on its --status-bind address)
    Status(StatusArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct StatusArgs {
    /// The status listener to read: http://HOST:PORT or HOST:PORT (a path ending in .json
    /// is fetched as it is, any other path but /status, /metrics and /healthz is a prefix
    /// for /status.json) [default: the status-bind of -c FILE, else 127.0.0.1:9090]
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

/// Where `preforkd status` looks when neither `--url` nor the configuration says: the
/// address the documentation's examples give `--status-bind`.
pub const DEFAULT_STATUS: &str = "127.0.0.1:9090";

/// Where `preforkd status` reads `/status.json`: a URL taken apart into what a plain
/// TCP client needs. Only the syntax is checked here; the client resolves the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSource {
    /// A name or an address, IPv6 without its brackets.
    pub host: String,
    pub port: u16,
    /// The request target: `/status.json`, or that under the URL's path.
    pub path: String,
}

impl StatusSource {
    /// `--url`, else the configuration's `--status-bind` (from `-c FILE` or the command
    /// line), else [`DEFAULT_STATUS`]. Errors name the flag the address came from.
    pub fn from_args(args: &Args, status: &StatusArgs) -> Result<StatusSource, String> {
        if let Some(url) = &status.url {
            return StatusSource::parse("--url", url);
        }
        let Some(bind) = &args.status_bind else {
            return StatusSource::parse("--url", DEFAULT_STATUS);
        };
        StatusSource::parse("--status-bind", bind)
    }

    /// `http://HOST:PORT[/PATH]`, `HOST:PORT[/PATH]`, or `http://HOST[/PATH]` (port 80).
    /// An unspecified address (`0.0.0.0`, `[::]`: what a listener binds to reach every
    /// interface) is read on loopback.
    pub fn parse(flag: &str, text: &str) -> Result<StatusSource, String> {
        let bad = |why: &str| format!("{flag} {text}: {why}");
        let (rest, scheme) = match text.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (rest, true),
            Some((scheme, _)) => {
                return Err(bad(&format!(
                    "{scheme}:// is not read: the status listener speaks plain http://"
                )));
            }
            None => (text, false),
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err(bad("a user name or password in the URL is not supported"));
        }
        let (host, port) = if let Some(inside) = authority.strip_prefix('[') {
            let (host, after) = inside
                .split_once(']')
                .ok_or_else(|| bad("an IPv6 address needs its closing ]"))?;
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| bad("expected [ADDRESS]:PORT"))?,
                ),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, _)) if host.contains(':') => {
                    return Err(bad("an IPv6 address goes in brackets: [::1]:9090"));
                }
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("expected HOST:PORT, e.g. 127.0.0.1:9090"));
        }
        let port = match port {
            Some("") | None if scheme => 80,
            Some("") | None => return Err(bad("expected HOST:PORT, e.g. 127.0.0.1:9090")),
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| bad("the port is not a number from 1 to 65535"))?,
        };
        if port == 0 {
            // A listener bound to port 0 got a port of the kernel's choosing at start.
            return Err(bad("port 0: give the port the server's start line names"));
        }
        if !path.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad("the path may hold only printable ASCII, no spaces"));
        }
        // The URL of another page of the listener (copied from a browser, say) means
        // the listener: its JSON is beside it.
        let path = path.trim_end_matches('/');
        let path = match path.rsplit_once('/') {
            _ if path.ends_with(".json") => path.to_owned(),
            Some((prefix, "status" | "metrics" | "healthz")) => format!("{prefix}/status.json"),
            _ => format!("{path}/status.json"),
        };
        let host = match host.parse::<std::net::IpAddr>() {
            Ok(ip) if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
            Ok(ip) if ip.is_unspecified() => "::1".to_owned(),
            _ => host.to_owned(),
        };
        Ok(StatusSource { host, port, path })
    }

    /// The `Host` header's value, and the address as messages show it.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL read, for messages.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.authority(), self.path)
    }
}

/// A feature that is on or off.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    On,
    Off,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerModel {
    /// One epoll loop per worker over many connections (nginx)
    Event,
    /// One connection at a time per worker (Apache prefork)
    Sync,
}

/// How connections reach the workers (measured against each other in
/// docs/operations.md#accepting).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptModel {
    /// One SO_REUSEPORT socket per worker slot: the kernel spreads connections over them
    Reuseport,
    /// One socket each worker registers with EPOLLEXCLUSIVE: the kernel wakes one idle worker
    Exclusive,
    /// One socket every worker polls: every idle worker wakes, the first takes it
    Shared,
}

impl AcceptModel {
    /// The default for a worker model. An event worker accepts between any two events,
    /// so it can own a queue, and the kernel's spread over the slots does not depend on
    /// which workers happen to be idle. A sync worker is deaf to its own queue for as
    /// long as it serves one connection, so it waits on the one shared queue, and only
    /// idle ones wait: waking one of them is all it takes.
    pub fn default_for(model: WorkerModel) -> AcceptModel {
        match model {
            WorkerModel::Event => AcceptModel::Reuseport,
            WorkerModel::Sync => AcceptModel::Exclusive,
        }
    }
}

/// The protocol a listening address speaks, and what it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
    /// The status listener (`--status-bind`): plain HTTP, the status pages only, and
    /// never the document root.
    Status,
}

impl Scheme {
    /// In the upgrade's descriptor list (master/upgrade.rs) and systemd's socket names.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
            Scheme::Status => "status",
        }
    }

    /// The flag that configures addresses of this scheme, for error messages.
    pub fn flag(self) -> &'static str {
        match self {
            Scheme::Http => "--bind",
            Scheme::Https => "--tls-bind",
            Scheme::Status => "--status-bind",
        }
    }
}

/// One address the pool listens on, and what it speaks there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen {
    pub addr: SocketAddr,
    pub scheme: Scheme,
}

impl std::fmt::Display for Listen {
    /// As a URL: `http://127.0.0.1:8080`, `https://[::1]:8443`; the status listener as
    /// `status http://127.0.0.1:9090`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.scheme {
            Scheme::Status => write!(f, "status http://{}", self.addr),
            scheme => write!(f, "{}://{}", scheme.name(), self.addr),
        }
    }
}

/// Where the HTTPS listeners' certificate and key are; read by the TLS code, not here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Which symlinks under the root are followed; the kernel enforces it (openat2).
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symlinks {
    /// Never follow symlinks
    Never,
    /// Follow symlinks whose target stays inside the root
    Inside,
    /// Follow every symlink
    Always,
}

/// The timeouts that keep a slow or silent client from holding a worker.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// From the first byte of a request head (or the connection) to its end.
    pub header: Duration,
    /// Between requests on a keep-alive connection.
    pub keepalive: Duration,
    /// Without any progress while sending a response.
    pub send: Duration,
}

/// The validated configuration the master and workers run with.
#[derive(Debug, Clone)]
pub struct Config {
    pub workers: usize,
    pub root: PathBuf,
    /// Plain addresses first, then HTTPS ones, each in the order given, then the status
    /// listener if any; never without a plain or HTTPS one.
    pub listen: Vec<Listen>,
    /// Absolute (a daemon changes directory to /); Some exactly when an address is HTTPS.
    pub tls: Option<TlsFiles>,
    /// Plain HTTP requests get a redirect to HTTPS.
    pub redirect_https: bool,
    /// Strict-Transport-Security max-age for HTTPS responses.
    pub hsts: Option<u64>,
    /// HTTP/2 is offered (ALPN) and accepted (prior knowledge).
    pub http2: bool,
    pub backlog: i32,
    pub worker_model: WorkerModel,
    pub accept: AcceptModel,
    pub max_connections: usize,
    pub graceful_timeout: Duration,
    pub timeouts: Timeouts,
    pub serve_hidden: bool,
    pub symlinks: Symlinks,
    /// Sent as `Cache-Control` on 200/206/304 file responses; checked to be a safe value.
    pub cache_control: Option<String>,
    pub autoindex: bool,
    /// How the master supervises and runs: daemon, pid file, logs, heartbeat, limits.
    pub process: ProcessConfig,
}

/// The most workers accepted (and the most `TTIN` grows to); more is a typo, not a plan,
/// on any machine. The scoreboard has room for this many slots.
pub const MAX_WORKERS: usize = crate::scoreboard::SLOTS;

impl Config {
    /// Checks every value; the error is one line naming the flag and the problem.
    pub fn from_args(args: &Args) -> Result<Config, String> {
        let workers = match args.workers {
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
            Some(0) => return Err("--workers 0: need at least one worker".into()),
            Some(n) if n > MAX_WORKERS => {
                return Err(format!("--workers {n}: at most {MAX_WORKERS} workers"));
            }
            Some(n) => n,
        };
        match std::fs::metadata(&args.root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(format!("--root {}: not a directory", args.root.display())),
            Err(e) => return Err(format!("--root {}: {e}", args.root.display())),
        }
        let root = std::fs::canonicalize(&args.root)
            .map_err(|e| format!("--root {}: {e}", args.root.display()))?;
        let listen = listen(args)?;
        let tls = tls(args)?;
        if args.backlog < 1 {
            return Err(format!("--backlog {}: must be at least 1", args.backlog));
        }
        Ok(Config {
            workers,
            root,
            listen,
            tls,
            redirect_https: args.redirect_https,
            hsts: args.hsts,
            http2: args.http2 == Switch::On,
            backlog: args.backlog,
            worker_model: args.worker_model,
            accept: args
                .accept
                .unwrap_or(AcceptModel::default_for(args.worker_model)),
            max_connections: match args.max_connections {
                0 => return Err("--max-connections 0: need at least 1".into()),
                n => n,
            },
            graceful_timeout: seconds("--graceful-timeout", args.graceful_timeout)?,
            timeouts: Timeouts {
                header: positive_seconds("--header-timeout", args.header_timeout)?,
                keepalive: seconds("--keepalive-timeout", args.keepalive_timeout)?,
                send: positive_seconds("--send-timeout", args.send_timeout)?,
            },
            serve_hidden: args.serve_hidden,
            symlinks: args.follow_symlinks,
            cache_control: header_value("--cache-control", args.cache_control.as_deref())?,
            autoindex: args.autoindex,
            process: ProcessConfig::from_args(args)?,
        })
    }
}

/// The settings of the process model, how the master runs and supervises its workers,
/// validated like the rest.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// The TOML file the settings were read from, re-read on HUP.
    pub config_file: Option<PathBuf>,
    /// None: hung workers are never killed.
    pub timeout: Option<Duration>,
    /// 0: workers never retire on their own.
    pub max_requests: u64,
    pub max_requests_jitter: u64,
    pub daemon: bool,
    /// Absolute, because a daemon changes directory to /.
    pub pid_file: Option<PathBuf>,
    /// Whom the workers run as; None keeps the master's identity.
    pub credentials: Option<crate::privileges::Credentials>,
    pub access_log: Option<crate::log::Target>,
    pub error_log: crate::log::Target,
}

impl ProcessConfig {
    fn from_args(args: &Args) -> Result<ProcessConfig, String> {
        let absolute = |flag: &str, p: &std::path::Path| {
            std::path::absolute(p).map_err(|e| format!("{flag} {}: {e}", p.display()))
        };
        let log_target = |flag: &str, text: &str| -> Result<crate::log::Target, String> {
            match text {
                "" => Err(format!("{flag}: expected a file name or -")),
                "-" if flag == "--access-log" => Ok(crate::log::Target::Stdout),
                "-" => Ok(crate::log::Target::Stderr),
                path => Ok(crate::log::Target::File(absolute(flag, path.as_ref())?)),
            }
        };
        Ok(ProcessConfig {
            config_file: args
                .config
                .as_deref()
                .map(|p| absolute("--config", p))
                .transpose()?,
            timeout: Some(seconds("--timeout", args.timeout)?).filter(|d| !d.is_zero()),
            max_requests: args.max_requests,
            max_requests_jitter: args.max_requests_jitter,
            daemon: args.daemon,
            pid_file: args
                .pid_file
                .as_deref()
                .map(|p| absolute("--pid-file", p))
                .transpose()?,
            credentials: crate::privileges::Credentials::resolve(
                args.user.as_deref(),
                args.group.as_deref(),
            )?,
            access_log: args
                .access_log
                .as_deref()
                .map(|t| log_target("--access-log", t))
                .transpose()?,
            error_log: match args.error_log.as_deref() {
                None => crate::log::Target::Stderr,
                Some(t) => log_target("--error-log", t)?,
            },
        })
    }
}

/// Where nothing is asked for: one plain address, loopback only.
const DEFAULT_BIND: &str = "127.0.0.1:8080";

/// The addresses of --bind, --tls-bind and --status-bind, resolved, each at most once.
fn listen(args: &Args) -> Result<Vec<Listen>, String> {
    let default = [DEFAULT_BIND.to_owned()];
    let plain = if args.bind.is_empty() && args.tls_bind.is_empty() {
        &default[..]
    } else {
        &args.bind[..]
    };
    let mut out: Vec<Listen> = Vec::new();
    for (scheme, texts) in [
        (Scheme::Http, plain),
        (Scheme::Https, &args.tls_bind[..]),
        (Scheme::Status, args.status_bind.as_slice()),
    ] {
        for text in texts {
            let addr = resolve_bind(scheme.flag(), text)?;
            // Port 0 asks the kernel for a free port each time, so it never repeats.
            if let Some(other) = out.iter().find(|l| l.addr == addr && addr.port() != 0) {
                let resolved = if addr.to_string() == *text {
                    String::new()
                } else {
                    format!(" ({addr})")
                };
                let also = match other.scheme {
                    s if s == scheme => String::new(),
                    s => format!(", also with {}", s.flag()),
                };
                return Err(format!(
                    "{} {text}: the address{resolved} is given twice{also}",
                    scheme.flag()
                ));
            }
            out.push(Listen { addr, scheme });
        }
    }
    Ok(out)
}

/// The TLS settings: the certificate and key come with HTTPS addresses, and the settings
/// about HTTPS need one. The files are only named here; the TLS code loads and checks
/// them.
fn tls(args: &Args) -> Result<Option<TlsFiles>, String> {
    let absolute = |flag: &str, p: &std::path::Path| {
        std::path::absolute(p).map_err(|e| format!("{flag} {}: {e}", p.display()))
    };
    if let Some(first) = args.tls_bind.first() {
        let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
            let missing = if args.tls_cert.is_none() {
                "--tls-cert FILE"
            } else {
                "--tls-key FILE"
            };
            return Err(format!(
                "--tls-bind {first}: HTTPS needs a certificate and its key: add {missing}"
            ));
        };
        return Ok(Some(TlsFiles {
            cert: absolute("--tls-cert", cert)?,
            key: absolute("--tls-key", key)?,
        }));
    }
    let needs_https = |flag: String| {
        Err(format!(
            "{flag}: only with an HTTPS address: add --tls-bind HOST:PORT"
        ))
    };
    if let Some(cert) = &args.tls_cert {
        return needs_https(format!("--tls-cert {}", cert.display()));
    }
    if let Some(key) = &args.tls_key {
        return needs_https(format!("--tls-key {}", key.display()));
    }
    if args.redirect_https {
        return needs_https("--redirect-https".into());
    }
    if let Some(secs) = args.hsts {
        return needs_https(format!("--hsts {secs}"));
    }
    Ok(None)
}

fn resolve_bind(flag: &str, text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if !text.contains(':') {
        return Err(format!(
            "{flag} {text}: expected HOST:PORT, e.g. 127.0.0.1:8080"
        ));
    }
    match text.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| format!("{flag} {text}: the host has no address")),
        Err(e) => Err(format!("{flag} {text}: {e}")),
    }
}

fn seconds(flag: &str, value: f64) -> Result<Duration, String> {
    if !value.is_finite() || !(0.0..=1e9).contains(&value) {
        return Err(format!("{flag} {value}: expected a number of seconds >= 0"));
    }
    Ok(Duration::from_secs_f64(value))
}

fn positive_seconds(flag: &str, value: f64) -> Result<Duration, String> {
    let d = seconds(flag, value)?;
    if d.is_zero() {
        return Err(format!("{flag} {value}: must be more than 0"));
    }
    Ok(d)
}

/// A value copied verbatim into a response header: printable ASCII and spaces only,
/// so it can never end the header line or smuggle another one in.
fn header_value(flag: &str, value: Option<&str>) -> Result<Option<String>, String> {
    let Some(v) = value else { return Ok(None) };
    let v = v.trim();
    if v.is_empty() || v.len() > 1024 || !v.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return Err(format!(
            "{flag} {v:?}: expected a header value of printable ASCII, e.g. \"max-age=3600\""
        ));
    }
    Ok(Some(v.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let mut all = vec!["preforkd", "-r", "/"];
        all.extend_from_slice(args);
        Config::from_args(&Args::try_parse_from(all).map_err(|e| e.to_string())?)
    }

    #[test]
    fn defaults() {
        let c = parse(&[]).unwrap();
        assert!(c.workers >= 1);
        assert_eq!(
            c.listen,
            [Listen {
                addr: "127.0.0.1:8080".parse().unwrap(),
                scheme: Scheme::Http
            }]
        );
        assert_eq!(c.tls, None);
        assert_eq!(c.graceful_timeout, Duration::from_secs(30));
    }

    #[test]
    fn errors_name_the_flag() {
        assert!(parse(&["-w", "0"]).unwrap_err().starts_with("--workers 0"));
        assert!(
            parse(&["-b", "nonsense"])
                .unwrap_err()
                .starts_with("--bind nonsense")
        );
        assert!(
            parse(&["-b", "1.2.3.4:99999"])
                .unwrap_err()
                .starts_with("--bind")
        );
        assert!(parse(&["--graceful-timeout", "-1"]).is_err());
        assert!(
            parse(&["--header-timeout", "0"])
                .unwrap_err()
                .starts_with("--header-timeout")
        );
        let e =
            Config::from_args(&Args::try_parse_from(["preforkd", "-r", "/nonexistent-x"]).unwrap());
        assert!(e.unwrap_err().starts_with("--root /nonexistent-x"));
    }

    #[test]
    fn ipv6_bind() {
        let c = parse(&["-b", "[::1]:8080"]).unwrap();
        assert_eq!(c.listen[0].addr, "[::1]:8080".parse().unwrap());
        assert_eq!(c.listen[0].to_string(), "http://[::1]:8080");
    }

    #[test]
    fn several_addresses_of_both_schemes() {
        let c = parse(&[
            "--tls-bind",
            "127.0.0.1:8443",
            "-b",
            "127.0.0.1:8080",
            "--bind",
            "[::1]:8080",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--hsts",
            "600",
            "--redirect-https",
        ])
        .unwrap();
        let shown: Vec<String> = c.listen.iter().map(Listen::to_string).collect();
        assert_eq!(
            shown,
            [
                "http://127.0.0.1:8080",
                "http://[::1]:8080",
                "https://127.0.0.1:8443"
            ]
        );
        let tls = c.tls.unwrap();
        assert!(tls.cert.is_absolute() && tls.cert.ends_with("c.pem"));
        assert!(tls.key.is_absolute() && tls.key.ends_with("k.pem"));
        assert_eq!(c.hsts, Some(600));
        assert!(c.redirect_https);
        // HTTPS alone: no plain default beside it.
        let c = parse(&[
            "--tls-bind",
            "127.0.0.1:8443",
            "--tls-cert",
            "c",
            "--tls-key",
            "k",
        ])
        .unwrap();
        assert_eq!(c.listen.len(), 1);
        assert_eq!(c.listen[0].scheme, Scheme::Https);
        // Port 0 is a new free port each time.
        assert_eq!(
            parse(&["-b", "127.0.0.1:0", "-b", "127.0.0.1:0"])
                .unwrap()
                .listen
                .len(),
            2
        );
    }

    #[test]
    fn the_status_listener_comes_last_and_shares_no_address() {
        let c = parse(&["--status-bind", "127.0.0.1:9090", "-b", "127.0.0.1:8080"]).unwrap();
        let shown: Vec<String> = c.listen.iter().map(Listen::to_string).collect();
        assert_eq!(
            shown,
            ["http://127.0.0.1:8080", "status http://127.0.0.1:9090"]
        );
        // It is not a public address: the default plain one is still there.
        let c = parse(&["--status-bind", "127.0.0.1:9090"]).unwrap();
        assert_eq!(c.listen[0].addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.listen[1].scheme, Scheme::Status);
        let e = parse(&["--status-bind", "127.0.0.1:8080"]).unwrap_err();
        assert!(
            e.starts_with(
                "--status-bind 127.0.0.1:8080: the address is given twice, also with --bind"
            ),
            "{e}"
        );
        let e = parse(&["--status-bind", "9090"]).unwrap_err();
        assert!(
            e.starts_with("--status-bind 9090: expected HOST:PORT"),
            "{e}"
        );
    }

    fn source(host: &str, port: u16, path: &str) -> StatusSource {
        StatusSource {
            host: host.into(),
            port,
            path: path.into(),
        }
    }

    #[test]
    fn status_urls() {
        let ok = |text: &str| StatusSource::parse("--url", text).unwrap();
        assert_eq!(
            ok("127.0.0.1:9090"),
            source("127.0.0.1", 9090, "/status.json")
        );
        assert_eq!(
            ok("http://127.0.0.1:9090"),
            source("127.0.0.1", 9090, "/status.json")
        );
        assert_eq!(ok("HTTP://h:1/"), source("h", 1, "/status.json"));
        assert_eq!(ok("http://h"), source("h", 80, "/status.json"));
        assert_eq!(ok("http://h/"), source("h", 80, "/status.json"));
        assert_eq!(ok("h:1/pool/"), source("h", 1, "/pool/status.json"));
        assert_eq!(ok("h:1/x/status"), source("h", 1, "/x/status.json"));
        assert_eq!(ok("h:1/metrics"), source("h", 1, "/status.json"));
        assert_eq!(ok("h:1/healthz/"), source("h", 1, "/status.json"));
        assert_eq!(ok("h:1/a.json"), source("h", 1, "/a.json"));
        assert_eq!(ok("[::1]:9"), source("::1", 9, "/status.json"));
        assert_eq!(ok("http://[::1]"), source("::1", 80, "/status.json"));
        // What a listener binds to for every interface is read on loopback.
        assert_eq!(ok("0.0.0.0:9"), source("127.0.0.1", 9, "/status.json"));
        assert_eq!(ok("[::]:9"), source("::1", 9, "/status.json"));
        assert_eq!(ok("[::1]:9").authority(), "[::1]:9");
        assert_eq!(ok("h:1/p").url(), "http://h:1/p/status.json");

        let err = |text: &str| StatusSource::parse("--url", text).unwrap_err();
        for (text, why) in [
            ("https://h:1", "https:// is not read"),
            ("h", "expected HOST:PORT"),
            (":9", "expected HOST:PORT"),
            ("http://:9", "expected HOST:PORT"),
            ("h:0", "port 0"),
            ("h:x", "the port is not a number"),
            ("h:70000", "the port is not a number"),
            ("::1:9", "in brackets"),
            ("[::1", "closing ]"),
            ("[::1]x", "[ADDRESS]:PORT"),
            ("u:p@h:1", "user name"),
            ("h:1/a b", "printable ASCII"),
        ] {
            let e = err(text);
            assert!(e.starts_with(&format!("--url {text}: ")), "{e}");
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn the_status_command_reads_the_configured_listener() {
        let status = |argv: &[&str]| {
            let args = Args::try_parse_from(argv).unwrap();
            let Some(Command::Status(s)) = &args.command else {
                panic!("{argv:?}: no status command")
            };
            StatusSource::from_args(&args, s)
        };
        assert_eq!(
            status(&["preforkd", "status"]).unwrap(),
            source("127.0.0.1", 9090, "/status.json")
        );
        assert_eq!(
            status(&["preforkd", "--status-bind", "0.0.0.0:7", "status"]).unwrap(),
            source("127.0.0.1", 7, "/status.json")
        );
        assert_eq!(
            status(&["preforkd", "--status-bind", "h:7", "status", "--url", "g:8"]).unwrap(),
            source("g", 8, "/status.json")
        );
        let e = status(&["preforkd", "--status-bind", "127.0.0.1:0", "status"]).unwrap_err();
        assert!(e.starts_with("--status-bind 127.0.0.1:0: port 0"), "{e}");
        // No command: serve, as before.
        let args = Args::try_parse_from(["preforkd", "-w", "4"]).unwrap();
        assert!(args.command.is_none());
        assert_eq!(args.workers, Some(4));
    }

    #[test]
    fn tls_settings_need_each_other() {
        let tls = ["--tls-cert", "c", "--tls-key", "k"];
        let err = |args: &[&str]| parse(args).unwrap_err();
        let e = err(&["--tls-bind", "127.0.0.1:8443", "--tls-key", "k"]);
        assert!(
            e.starts_with("--tls-bind 127.0.0.1:8443") && e.contains("--tls-cert"),
            "{e}"
        );
        let e = err(&["--tls-bind", "127.0.0.1:8443", "--tls-cert", "c"]);
        assert!(
            e.starts_with("--tls-bind 127.0.0.1:8443") && e.contains("--tls-key"),
            "{e}"
        );
        assert!(err(&["--tls-cert", "c"]).starts_with("--tls-cert c: "));
        assert!(err(&tls).starts_with("--tls-cert c: "));
        assert!(err(&["--tls-key", "k"]).starts_with("--tls-key k: "));
        assert!(err(&["--redirect-https"]).starts_with("--redirect-https: "));
        assert!(err(&["--hsts", "60"]).starts_with("--hsts 60: "));
        assert!(
            err(&["-b", "127.0.0.1:80", "-b", "127.0.0.1:80"])
                .starts_with("--bind 127.0.0.1:80: the address is given twice")
        );
        let mut args = vec!["-b", "127.0.0.1:80", "--tls-bind", "127.0.0.1:80"];
        args.extend(tls);
        let e = err(&args);
        assert!(
            e.starts_with("--tls-bind 127.0.0.1:80: ") && e.contains("--bind"),
            "{e}"
        );
        let mut args = vec!["--tls-bind", "nonsense"];
        args.extend(tls);
        assert!(err(&args).starts_with("--tls-bind nonsense: expected HOST:PORT"));
    }
}
