//! `preforkd status`: a running server's pool as a table in the terminal, like
//! `apachectl status`, read from `/status.json` on its status listener.
//!
//! A header (the master, its generation and uptime, the totals, workers by state and
//! those gone by cause), then one row per live worker. The JSON is read as its schema
//! says (`schema` 1, documented where `site/status.rs` writes it); fields this reader
//! does not know are skipped, as the schema allows.

use std::fmt::Write;
use std::process::ExitCode;
use std::time::Duration;

use crate::client::http;
use crate::client::json::{self, Value};
use crate::config::StatusSource;
use crate::scoreboard::{CLASSES, FRESH};
use crate::site::status::JSON_SCHEMA;

/// How long one reading may take, connection to last byte: a status listener answers
/// in milliseconds, and a caller at a terminal (or a script) should not wait long for a
/// server that does not.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Exit status when the server cannot be read (2, for usage errors, is main's).
const UNREADABLE: u8 = 1;

/// Prints the table, or one line on stderr naming what failed (exit status 1).
pub fn run(source: &StatusSource) -> ExitCode {
    match fetch(source) {
        Ok(status) => {
            print!("{}", render(&status));
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("preforkd status: {}: {why}", source.url());
            ExitCode::from(UNREADABLE)
        }
    }
}

/// One reading of the status listener, checked against the schema.
pub fn fetch(source: &StatusSource) -> Result<Status, String> {
    let reply = http::get(
        &source.host,
        source.port,
        &source.authority(),
        &source.path,
        TIMEOUT,
    )
    .map_err(|e| match e.strip_prefix("cannot connect: ") {
        Some(why) => format!(
            "cannot connect: {why} (is preforkd running with --status-bind {}?)",
            source.authority()
        ),
        None => e,
    })?;
    if reply.status != 200 {
        // The master's stand-in answers 503 with one line of text: show it.
        let text = String::from_utf8_lossy(&reply.body);
        let line = text.lines().next().unwrap_or_default().trim();
        let said = if reply.status == 404 {
            "not a preforkd status listener (--status-bind)".to_owned()
        } else if !line.is_empty() && line.len() <= 200 && !line.starts_with('<') {
            line.to_owned()
        } else {
            String::new()
        };
        let reason = if reply.reason.is_empty() {
            String::new()
        } else {
            format!(" {}", reply.reason)
        };
        let sep = if said.is_empty() { "" } else { ": " };
        return Err(format!("{}{reason}{sep}{said}", reply.status));
    }
    let text = std::str::from_utf8(&reply.body).map_err(|_| "the answer is not UTF-8 text")?;
    let value = json::parse(text).map_err(|e| {
        let kind = reply
            .content_type
            .as_deref()
            .map_or(String::new(), |t| format!(" (Content-Type {t})"));
        format!("not JSON{kind}: {e}")
    })?;
    Status::read(&value)
}

/// Responses by class (`1xx`..`5xx`), bytes, connections: one row's counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub requests: u64,
    pub responses: [u64; 5],
    pub bytes_sent: u64,
    pub connections: u64,
}

/// One live worker, as `workers[]` gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Worker {
    pub slot: u64,
    pub pid: u64,
    pub generation: u64,
    pub state: String,
    pub uptime: f64,
    pub heartbeat_age: f64,
    /// None before its first request.
    pub last_request_age: Option<f64>,
    pub counts: Counts,
}

/// What the table shows, read from `/status.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub version: String,
    pub worker_model: String,
    pub healthy: bool,
    pub master_pid: u64,
    pub generation: u64,
    pub uptime: f64,
    pub totals: Counts,
    /// Workers gone, by cause, in the document's order.
    pub restarts: Vec<(String, u64)>,
    pub workers_by_state: Vec<(String, u64)>,
    pub workers: Vec<Worker>,
}

/// An object of the document and where it is (`workers[1].`), so that an error names
/// the whole path of the field that is missing or of the wrong kind.
struct At<'a> {
    v: &'a Value,
    path: String,
}

impl<'a> At<'a> {
    fn new(v: &'a Value, path: &str) -> At<'a> {
        At {
            v,
            path: path.to_owned(),
        }
    }

    /// The value at `name` (`master.pid`: a dotted path).
    fn field(&self, name: &str) -> Result<&'a Value, String> {
        name.split('.')
            .try_fold(self.v, |v, key| v.get(key))
            .ok_or_else(|| {
                format!(
                    "no {}{name} in the JSON: not a preforkd status page",
                    self.path
                )
            })
    }

    fn kind<T>(
        &self,
        name: &str,
        kind: &str,
        f: impl Fn(&'a Value) -> Option<T>,
    ) -> Result<T, String> {
        f(self.field(name)?).ok_or_else(|| format!("{}{name} is not {kind}", self.path))
    }

    fn count(&self, name: &str) -> Result<u64, String> {
        self.kind(name, "a count", Value::as_u64)
    }

    fn seconds(&self, name: &str) -> Result<f64, String> {
        self.kind(name, "a number of seconds", |v| {
            v.as_f64().filter(|s| s.is_finite() && *s >= 0.0)
        })
    }

    fn text(&self, name: &str) -> Result<String, String> {
        self.kind(name, "a string", |v| v.as_str().map(str::to_owned))
    }

    /// An object of counts, `{"killed": 1, ...}`, in its order.
    fn counts_by_name(&self, name: &str) -> Result<Vec<(String, u64)>, String> {
        let members = self.kind(name, "an object", Value::as_object)?;
        members
            .iter()
            .map(|(key, n)| {
                n.as_u64()
                    .map(|n| (key.clone(), n))
                    .ok_or_else(|| format!("{}{name}.{key} is not a count", self.path))
            })
            .collect()
    }

    /// `requests`, `responses` by class, `bytes_sent`, `connections`.
    fn counts(&self) -> Result<Counts, String> {
        let mut responses = [0; 5];
        for (n, class) in responses.iter_mut().zip(CLASSES) {
            *n = self.count(&format!("responses.{class}"))?;
        }
        Ok(Counts {
            requests: self.count("requests")?,
            responses,
            bytes_sent: self.count("bytes_sent")?,
            connections: self.count("connections")?,
        })
    }
}

impl Status {
    /// The fields the table needs, each checked; the error names the first one missing
    /// or of the wrong kind.
    pub fn read(v: &Value) -> Result<Status, String> {
        if v.as_object().is_none() {
            return Err("the JSON is not an object: not a preforkd status page".into());
        }
        let doc = At::new(v, "");
        let schema = doc.count("schema")?;
        if schema != u64::from(JSON_SCHEMA) {
            return Err(format!(
                "schema {schema}, and this preforkd ({}) reads schema {JSON_SCHEMA}: use the \
                 server's own binary",
                env!("CARGO_PKG_VERSION")
            ));
        }
        let workers = doc
            .kind("workers", "an array", Value::as_array)?
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let w = At::new(w, &format!("workers[{i}]."));
                Ok(Worker {
                    slot: w.count("slot")?,
                    pid: w.count("pid")?,
                    generation: w.count("generation")?,
                    state: w.text("state")?,
                    uptime: w.seconds("uptime_seconds")?,
                    heartbeat_age: w.seconds("heartbeat_age_seconds")?,
                    last_request_age: match w.field("last_request_age_seconds")? {
                        Value::Null => None,
                        _ => Some(w.seconds("last_request_age_seconds")?),
                    },
                    counts: w.counts()?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Status {
            version: doc.text("version")?,
            worker_model: doc.text("worker_model")?,
            healthy: doc.kind("healthy", "true or false", Value::as_bool)?,
            master_pid: doc.count("master.pid")?,
            generation: doc.count("master.generation")?,
            uptime: doc.seconds("master.uptime_seconds")?,
            totals: At::new(doc.field("totals")?, "totals.").counts()?,
            restarts: doc.counts_by_name("restarts")?,
            workers_by_state: doc.counts_by_name("workers_by_state")?,
            workers,
        })
    }
}

/// 1536 as `1.5 KiB`.
fn bytes_text(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// 0.4 s as `0.4s`, 3725 s as `1h 2m 5s`.
fn age_text(secs: f64) -> String {
    let whole = secs as u64;
    match whole {
        0..60 => format!("{secs:.1}s"),
        60..3600 => format!("{}m {}s", whole / 60, whole % 60),
        3600..86400 => format!("{}h {}m {}s", whole / 3600, whole % 3600 / 60, whole % 60),
        _ => format!(
            "{}d {}h {}m",
            whole / 86400,
            whole % 86400 / 3600,
            whole % 3600 / 60
        ),
    }
}

/// `ready 2, serving 1`: the non-zero counts, or `none`.
fn nonzero(counts: &[(String, u64)], skip: &str) -> String {
    let listed: Vec<String> = counts
        .iter()
        .filter(|(name, n)| *n > 0 && name != skip)
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    if listed.is_empty() {
        "none".into()
    } else {
        listed.join(", ")
    }
}

/// The table: the header lines, a blank line, then the workers in aligned columns.
pub fn render(s: &Status) -> String {
    let mut out = String::new();
    let t = &s.totals;
    let _ = writeln!(
        out,
        "preforkd {} ({} workers): master {}, generation {}, up {}, {}",
        s.version,
        s.worker_model,
        s.master_pid,
        s.generation,
        age_text(s.uptime),
        if s.healthy {
            "healthy"
        } else {
            "UNHEALTHY: no worker is serving"
        }
    );
    let informational = if t.responses[0] > 0 {
        format!("1xx {}, ", t.responses[0])
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "requests {} since the master started ({informational}2xx {}, 3xx {}, 4xx {}, 5xx {}), \
         sent {}, connections open {}",
        t.requests,
        t.responses[1],
        t.responses[2],
        t.responses[3],
        t.responses[4],
        bytes_text(t.bytes_sent),
        t.connections
    );
    let _ = writeln!(
        out,
        "workers {} ({}), gone: {}",
        s.workers.len(),
        nonzero(&s.workers_by_state, "dead"),
        nonzero(&s.restarts, "")
    );
    out.push('\n');

    let header = [
        "slot",
        "pid",
        "gen",
        "state",
        "requests",
        "2xx",
        "3xx",
        "4xx",
        "5xx",
        "sent",
        "conns",
        "last request",
        "heartbeat",
    ];
    // Left-aligned: the state; the rest are numbers and ages, right-aligned.
    let left = |column: usize| column == 3;
    let mut stale = false;
    let rows: Vec<Vec<String>> = s
        .workers
        .iter()
        .map(|w| {
            let beat = if w.heartbeat_age >= FRESH.as_secs_f64() {
                stale = true;
                format!("{} !", age_text(w.heartbeat_age))
            } else {
                age_text(w.heartbeat_age)
            };
            let c = &w.counts;
            vec![
                w.slot.to_string(),
                w.pid.to_string(),
                w.generation.to_string(),
                w.state.clone(),
                c.requests.to_string(),
                c.responses[1].to_string(),
                c.responses[2].to_string(),
                c.responses[3].to_string(),
                c.responses[4].to_string(),
                bytes_text(c.bytes_sent),
                c.connections.to_string(),
                w.last_request_age.map_or("never".into(), age_text),
                beat,
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut String, cells: &[String]| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            if left(i) {
                let _ = write!(text, "{cell:<width$}");
            } else {
                let _ = write!(text, "{cell:>width$}");
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    line(&mut out, &header.map(String::from));
    for row in &rows {
        line(&mut out, row);
    }
    if rows.is_empty() {
        out.push_str("(no live worker)\n");
    }
    // A row counts its worker since that worker started; the totals keep what workers
    // gone had answered (kill -9, a reload, --max-requests), so the two may differ.
    let rows_total: u64 = s.workers.iter().map(|w| w.counts.requests).sum();
    if rows_total != t.requests {
        let _ = writeln!(
            out,
            "\nthe rows add up to {rows_total}: each worker counts from its own start, the total \
             also holds workers gone"
        );
    }
    if stale {
        let _ = writeln!(
            out,
            "\n! no heartbeat for {}s or more: that worker is not answering",
            FRESH.as_secs()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoreboard::{SlotCounts, Snapshot, State, Worker as Entry};

    /// A pool as the server's own renderer writes it, so these tests break when the
    /// JSON and this reader drift apart.
    fn sample() -> Snapshot {
        let busy = SlotCounts {
            responses: [0, 1200, 3, 41, 0],
            bytes: 1_536_000,
            connections: 2,
        };
        let quiet = SlotCounts {
            responses: [0, 7, 0, 0, 1],
            bytes: 9000,
            connections: 0,
        };
        Snapshot {
            master_pid: 4242,
            generation: 1,
            uptime: Duration::from_millis(3_725_500),
            started_unix: 1_700_000_000,
            restarts: [1, 0, 0, 0, 2, 0, 0, 0],
            slots: vec![busy, quiet],
            workers: vec![
                Entry {
                    pid: 4301,
                    slot: 0,
                    generation: 1,
                    state: State::Serving,
                    age: Duration::from_secs(61),
                    silence: Duration::from_millis(200),
                    idle: Some(Duration::from_millis(10)),
                    counts: busy,
                },
                Entry {
                    pid: 4302,
                    slot: 1,
                    generation: 1,
                    state: State::Ready,
                    age: Duration::from_secs(61),
                    silence: Duration::from_millis(9500),
                    idle: None,
                    counts: quiet,
                },
            ],
            dead: 3,
        }
    }

    fn sample_status() -> Status {
        let text = String::from_utf8(crate::site::status::json(&sample(), "event")).unwrap();
        Status::read(&json::parse(&text).unwrap()).unwrap()
    }

    #[test]
    fn reads_what_the_server_writes() {
        let s = sample_status();
        assert_eq!(s.master_pid, 4242);
        assert_eq!(s.generation, 1);
        assert_eq!(s.uptime, 3725.5);
        assert_eq!(s.worker_model, "event");
        assert!(s.healthy);
        assert_eq!(s.totals.requests, 1252);
        assert_eq!(s.totals.responses, [0, 1207, 3, 41, 1]);
        assert_eq!(s.totals.bytes_sent, 1_545_000);
        assert_eq!(s.workers.len(), 2);
        assert_eq!(s.workers[0].pid, 4301);
        assert_eq!(s.workers[0].state, "serving");
        assert_eq!(s.workers[0].last_request_age, Some(0.01));
        assert_eq!(s.workers[1].last_request_age, None);
        assert_eq!(s.workers[1].heartbeat_age, 9.5);
        assert_eq!(s.restarts[0], ("killed".into(), 1));
    }

    #[test]
    fn the_table() {
        let table = render(&sample_status());
        let want = "\
preforkd VERSION (event workers): master 4242, generation 1, up 1h 2m 5s, healthy
requests 1252 since the master started (2xx 1207, 3xx 3, 4xx 41, 5xx 1), sent 1.5 MiB, connections open 2
workers 2 (ready 1, serving 1), gone: killed 1, reload 2

slot   pid  gen  state    requests   2xx  3xx  4xx  5xx     sent  conns  last request  heartbeat
   0  4301    1  serving      1244  1200    3   41    0  1.5 MiB      2          0.0s       0.2s
   1  4302    1  ready           8     7    0    0    1  8.8 KiB      0         never     9.5s !

! no heartbeat for 3s or more: that worker is not answering
"
        .replace("VERSION", env!("CARGO_PKG_VERSION"));
        assert_eq!(table, want, "\n{table}");
    }

    #[test]
    fn an_unhealthy_pool_without_workers() {
        let mut snap = sample();
        snap.workers.clear();
        let text = String::from_utf8(crate::site::status::json(&snap, "sync")).unwrap();
        let table = render(&Status::read(&json::parse(&text).unwrap()).unwrap());
        assert!(table.contains("UNHEALTHY: no worker is serving"), "{table}");
        assert!(
            table.contains("workers 0 (none), gone: killed 1, reload 2"),
            "{table}"
        );
        assert!(
            table.ends_with(
                "heartbeat\n(no live worker)\n\nthe rows add up to 0: each worker counts from its \
                 own start, the total also holds workers gone\n"
            ),
            "{table}"
        );
    }

    #[test]
    fn errors_name_the_field() {
        let text = String::from_utf8(crate::site::status::json(&sample(), "event")).unwrap();
        let read = |text: &str| Status::read(&json::parse(text).unwrap()).unwrap_err();
        assert_eq!(
            read(&text.replace("\"pid\":4242", "\"pod\":4242")),
            "no master.pid in the JSON: not a preforkd status page"
        );
        assert_eq!(
            read(&text.replace("\"schema\":1", "\"schema\":2")),
            format!(
                "schema 2, and this preforkd ({}) reads schema 1: use the server's own binary",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert_eq!(
            read(&text.replace("\"state\":\"ready\"", "\"state\":3")),
            "workers[1].state is not a string"
        );
        assert_eq!(
            read(&text.replacen("\"2xx\":1207", "\"2xx\":-1", 1)),
            "totals.responses.2xx is not a count"
        );
        assert_eq!(
            read(&text.replace("\"bytes_sent\":9000", "\"sent\":9000")),
            "no workers[1].bytes_sent in the JSON: not a preforkd status page"
        );
        assert_eq!(
            read("[1]"),
            "the JSON is not an object: not a preforkd status page"
        );
        assert_eq!(
            read("{\"hello\": \"world\"}"),
            "no schema in the JSON: not a preforkd status page"
        );
        // Fields added later are skipped.
        let more = text.replacen('{', "{\"new_field\":[1,{\"x\":null}],", 1);
        assert!(Status::read(&json::parse(&more).unwrap()).is_ok());
    }

    #[test]
    fn ages_and_sizes() {
        assert_eq!(age_text(0.04), "0.0s");
        assert_eq!(age_text(59.94), "59.9s");
        assert_eq!(age_text(61.0), "1m 1s");
        assert_eq!(age_text(90061.0), "1d 1h 1m");
        assert_eq!(bytes_text(1023), "1023 B");
        assert_eq!(bytes_text(1536), "1.5 KiB");
        assert_eq!(bytes_text(u64::MAX), "16384.0 PiB");
    }
}
