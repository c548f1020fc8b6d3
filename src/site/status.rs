//! The status listener's pages (`--status-bind`): a request in, a response made from a
//! snapshot of the scoreboard out.
//!
//! | path | what |
//! | --- | --- |
//! | `/metrics` | Prometheus text exposition format 0.0.4 |
//! | `/status.json` | the same as JSON, per worker too (schema in docs/operations.md) |
//! | `/status` | an HTML page, refreshed every 2 s |
//! | `/healthz` | `200 ok` while some worker is serving, else `503` |
//!
//! Anything else on that listener is a 404; the document root is never reachable from
//! it, and these paths on the public listeners are just paths under the root. The
//! renderers are plain functions of a [`Snapshot`], written by hand: a few hundred
//! bytes of text per worker need no serializer, and each is unit-tested here.
//!
//! What `/healthz` means: some worker is `ready` or `serving` with a heartbeat younger
//! than [`FRESH`]. When no worker can answer at all (every one stopped or hung), the
//! master answers the status listener with [`unavailable`] (`master/standin.rs`).

use std::fmt::Write;

use crate::config::WorkerModel;
use crate::http::request::{Method, Request};
use crate::http::status::Status;
use crate::scoreboard::{Board, CLASSES, Cause, FRESH, Snapshot, State};
use crate::site::handler::{Body, Response};

/// The Content-Type of `/metrics`.
pub const PROMETHEUS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
const JSON_TYPE: &str = "application/json";
const HTML_TYPE: &str = "text/html; charset=utf-8";
const TEXT_TYPE: &str = "text/plain; charset=utf-8";
/// The pages are of this moment: no cache may keep them.
const NO_STORE: &str = "no-store";
/// `/status.json`'s `schema`: bumped when a field changes meaning or goes away.
pub const JSON_SCHEMA: u32 = 1;
/// How often the HTML page reloads itself, in seconds.
const REFRESH_SECS: u32 = 2;

const HEALTHY: &[u8] = b"ok\n";
const UNHEALTHY: &[u8] = b"unavailable: no worker is serving\n";

/// What a worker needs to make the pages: the board to read, and what it is.
pub struct Pages {
    board: Board,
    model: &'static str,
}

impl Pages {
    pub fn new(board: Board, model: WorkerModel) -> Pages {
        Pages {
            board,
            model: match model {
                WorkerModel::Event => "event",
                WorkerModel::Sync => "sync",
            },
        }
    }
}

/// The answer to a request on the status listener; `pages` is None only for a worker
/// without a scoreboard (never in a running server), which has nothing to show.
pub fn respond(req: &Request<'_>, pages: Option<&Pages>, keep_alive: bool) -> Response {
    let path = req.path();
    let known = matches!(
        path,
        b"/metrics" | b"/status.json" | b"/status" | b"/healthz"
    );
    let Some(pages) = pages.filter(|_| known) else {
        return Response::error(Status::NotFound, keep_alive);
    };
    if req.method == Method::Other {
        return Response::error(Status::MethodNotAllowed, keep_alive);
    }
    let snap = pages.board.snapshot();
    let model = pages.model;
    let (status, content_type, body) = match path {
        b"/metrics" => (Status::Ok, PROMETHEUS_TYPE, prometheus(&snap, model)),
        b"/status.json" => (Status::Ok, JSON_TYPE, json(&snap, model)),
        b"/status" => (Status::Ok, HTML_TYPE, html(&snap, model)),
        _ if snap.healthy() => (Status::Ok, TEXT_TYPE, HEALTHY.to_vec()),
        _ => (Status::ServiceUnavailable, TEXT_TYPE, UNHEALTHY.to_vec()),
    };
    let mut r = Response::new(status, keep_alive);
    r.content_type = Some(content_type);
    r.content_length = body.len() as u64;
    r.body = Body::Bytes(body);
    r.cache_control = Some(NO_STORE);
    r.head_only = req.method == Method::Head;
    r
}

/// What every request on the status listener gets while no worker can answer: the
/// `/healthz` 503, then the connection closes. Made here so that the master's answer is
/// the workers' own, byte for byte.
pub fn unavailable(head_only: bool) -> Response {
    let mut r = Response::new(Status::ServiceUnavailable, false);
    r.content_type = Some(TEXT_TYPE);
    r.content_length = UNHEALTHY.len() as u64;
    r.body = Body::Static(UNHEALTHY);
    r.cache_control = Some(NO_STORE);
    r.head_only = head_only;
    r
}

fn seconds(d: std::time::Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// The Prometheus text exposition format (0.0.4): HELP and TYPE, then the samples of
/// each family together. Label values here are numbers and fixed names, but pass
/// through [`label_value`] all the same.
pub fn prometheus(s: &Snapshot, model: &str) -> Vec<u8> {
    let mut out = String::with_capacity(2048 + 400 * s.slots.len());
    family(
        &mut out,
        "preforkd_requests_total",
        "counter",
        "Requests answered on the public listeners, by status class and worker slot.",
    );
    for (slot, c) in s.slots.iter().enumerate() {
        for (class, n) in CLASSES.iter().zip(c.responses) {
            let _ = writeln!(
                out,
                "preforkd_requests_total{{slot=\"{slot}\",class=\"{class}\"}} {n}"
            );
        }
    }
    family(
        &mut out,
        "preforkd_bytes_sent_total",
        "counter",
        "Bytes of responses (heads and bodies, before TLS) sent on the public listeners, by worker slot.",
    );
    for (slot, c) in s.slots.iter().enumerate() {
        let _ = writeln!(
            out,
            "preforkd_bytes_sent_total{{slot=\"{slot}\"}} {}",
            c.bytes
        );
    }
    family(
        &mut out,
        "preforkd_connections",
        "gauge",
        "Connections open now on the public listeners, by worker slot.",
    );
    for (slot, c) in s.slots.iter().enumerate() {
        let _ = writeln!(
            out,
            "preforkd_connections{{slot=\"{slot}\"}} {}",
            c.connections
        );
    }
    family(
        &mut out,
        "preforkd_workers",
        "gauge",
        "Worker processes by state (dead: scoreboard entries of reaped workers not yet reused).",
    );
    for state in State::ALL {
        let _ = writeln!(
            out,
            "preforkd_workers{{state=\"{}\"}} {}",
            state.name(),
            s.count(state)
        );
    }
    family(
        &mut out,
        "preforkd_worker_restarts_total",
        "counter",
        "Workers that left the pool, by cause.",
    );
    for (cause, n) in Cause::ALL.iter().zip(s.restarts) {
        let _ = writeln!(
            out,
            "preforkd_worker_restarts_total{{cause=\"{}\"}} {n}",
            cause.name()
        );
    }
    family(
        &mut out,
        "preforkd_generation",
        "gauge",
        "Reloads since the master started.",
    );
    let _ = writeln!(out, "preforkd_generation {}", s.generation);
    family(
        &mut out,
        "preforkd_healthy",
        "gauge",
        "1 while some worker is serving (what /healthz answers 200 for), else 0.",
    );
    let _ = writeln!(out, "preforkd_healthy {}", u8::from(s.healthy()));
    family(
        &mut out,
        "preforkd_uptime_seconds",
        "gauge",
        "Seconds since the master started.",
    );
    let _ = writeln!(out, "preforkd_uptime_seconds {}", seconds(s.uptime));
    family(
        &mut out,
        "preforkd_start_time_seconds",
        "gauge",
        "When the master started, in seconds since the Unix epoch.",
    );
    let _ = writeln!(out, "preforkd_start_time_seconds {}", s.started_unix);
    family(
        &mut out,
        "preforkd_build_info",
        "gauge",
        "The version and the worker model; always 1.",
    );
    let _ = writeln!(
        out,
        "preforkd_build_info{{version=\"{}\",worker_model=\"{}\"}} 1",
        label_value(env!("CARGO_PKG_VERSION")),
        label_value(model)
    );
    out.into_bytes()
}

/// A family's HELP and TYPE lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

/// A label value as the text format wants it: `\`, `"` and newline escaped.
fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A JSON string literal: quotes, backslashes and control characters escaped.
fn json_string(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `{"1xx":0,"2xx":5,...}`
fn json_classes(responses: [u64; 5]) -> String {
    let fields: Vec<String> = CLASSES
        .iter()
        .zip(responses)
        .map(|(class, n)| format!("{}:{n}", json_string(class)))
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// `/status.json`; its schema is in docs/operations.md (`schema` says which).
pub fn json(s: &Snapshot, model: &str) -> Vec<u8> {
    let total = s.total();
    let mut out = String::with_capacity(1024 + 400 * s.workers.len());
    let _ = write!(
        out,
        "{{\"schema\":{JSON_SCHEMA},\"version\":{},\"worker_model\":{},\"healthy\":{},",
        json_string(env!("CARGO_PKG_VERSION")),
        json_string(model),
        s.healthy()
    );
    let _ = write!(
        out,
        "\"master\":{{\"pid\":{},\"generation\":{},\"started\":{},\"uptime_seconds\":{}}},",
        s.master_pid,
        s.generation,
        s.started_unix,
        seconds(s.uptime)
    );
    let _ = write!(
        out,
        "\"totals\":{{\"requests\":{},\"responses\":{},\"bytes_sent\":{},\"connections\":{}}},",
        total.responses.iter().sum::<u64>(),
        json_classes(total.responses),
        total.bytes,
        total.connections
    );
    let restarts: Vec<String> = Cause::ALL
        .iter()
        .zip(s.restarts)
        .map(|(cause, n)| format!("{}:{n}", json_string(cause.name())))
        .collect();
    let _ = write!(out, "\"restarts\":{{{}}},", restarts.join(","));
    let states: Vec<String> = State::ALL
        .iter()
        .map(|state| format!("{}:{}", json_string(state.name()), s.count(*state)))
        .collect();
    let _ = write!(out, "\"workers_by_state\":{{{}}},", states.join(","));
    let slots: Vec<String> = s
        .slots
        .iter()
        .enumerate()
        .map(|(slot, c)| {
            format!(
                "{{\"slot\":{slot},\"requests\":{},\"responses\":{},\"bytes_sent\":{},\"connections\":{}}}",
                c.responses.iter().sum::<u64>(),
                json_classes(c.responses),
                c.bytes,
                c.connections
            )
        })
        .collect();
    let _ = write!(out, "\"slots\":[{}],", slots.join(","));
    let workers: Vec<String> = s
        .workers
        .iter()
        .map(|w| {
            format!(
                "{{\"pid\":{},\"slot\":{},\"generation\":{},\"state\":{},\"uptime_seconds\":{},\
                 \"heartbeat_age_seconds\":{},\"last_request_age_seconds\":{},\"requests\":{},\
                 \"responses\":{},\"bytes_sent\":{},\"connections\":{}}}",
                w.pid,
                w.slot,
                w.generation,
                json_string(w.state.name()),
                seconds(w.age),
                seconds(w.silence),
                w.idle.map_or("null".into(), seconds),
                w.counts.responses.iter().sum::<u64>(),
                json_classes(w.counts.responses),
                w.counts.bytes,
                w.counts.connections
            )
        })
        .collect();
    let _ = writeln!(out, "\"workers\":[{}]}}", workers.join(","));
    out.into_bytes()
}

/// Text for an HTML page: `&`, `<`, `>` and quotes escaped.
fn html_text(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// 1536 as `1.5 KiB`.
fn bytes_text(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
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

/// 3725 s as `1h 2m 5s`.
fn duration_text(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{:.1}s", d.as_secs_f64()),
        60..3600 => format!("{}m {}s", secs / 60, secs % 60),
        3600..86400 => format!("{}h {}m {}s", secs / 3600, secs % 3600 / 60, secs % 60),
        _ => format!(
            "{}d {}h {}m",
            secs / 86400,
            secs % 86400 / 3600,
            secs % 3600 / 60
        ),
    }
}

/// `/status`: the pool at a glance, one row per worker; reloads itself.
pub fn html(s: &Snapshot, model: &str) -> Vec<u8> {
    let total = s.total();
    let healthy = s.healthy();
    let mut out = String::with_capacity(4096 + 600 * s.workers.len());
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>preforkd status</title><style>\
         body{{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse;margin:0 0 1.5em}}\
         th,td{{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:right}}\
         th{{background:#f4f4f4}} td:first-child,th:first-child{{text-align:left}}\
         .ok{{color:#070}} .bad{{color:#b00}} .state{{font-weight:600}}\
         </style></head><body>\n<h1>preforkd {}</h1>\n",
        html_text(env!("CARGO_PKG_VERSION"))
    );
    let _ = writeln!(
        out,
        "<p>Master {} &middot; generation {} &middot; up {} &middot; {} workers &middot; \
         <span class=\"{}\">{}</span></p>",
        s.master_pid,
        s.generation,
        duration_text(s.uptime),
        html_text(model),
        if healthy { "ok" } else { "bad" },
        if healthy {
            "healthy"
        } else {
            "unhealthy: no worker is serving"
        }
    );
    out.push_str("<h2>Traffic</h2>\n<table><tr><th></th><th>requests</th>");
    for class in CLASSES {
        let _ = write!(out, "<th>{class}</th>");
    }
    out.push_str("<th>sent</th><th>open connections</th></tr>\n");
    let mut row = |label: String, c: &crate::scoreboard::SlotCounts| {
        let _ = write!(
            out,
            "<tr><td>{label}</td><td>{}</td>",
            c.responses.iter().sum::<u64>()
        );
        for n in c.responses {
            let _ = write!(out, "<td>{n}</td>");
        }
        let _ = writeln!(
            out,
            "<td>{}</td><td>{}</td></tr>",
            bytes_text(c.bytes),
            c.connections
        );
    };
    row("all slots".into(), &total);
    for (slot, c) in s.slots.iter().enumerate() {
        row(format!("slot {slot}"), c);
    }
    out.push_str(
        "</table>\n<h2>Workers</h2>\n<table><tr><th>pid</th><th>slot</th>\
                  <th>generation</th><th>state</th><th>up</th><th>heartbeat</th>\
                  <th>last request</th><th>requests</th><th>sent</th><th>connections</th></tr>\n",
    );
    for w in &s.workers {
        let beat = if w.silence < FRESH {
            format!("{} ago", duration_text(w.silence))
        } else {
            format!(
                "<span class=\"bad\">{} ago</span>",
                duration_text(w.silence)
            )
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"state\">{}</td><td>{}</td>\
             <td>{beat}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            w.pid,
            w.slot,
            w.generation,
            w.state.name(),
            duration_text(w.age),
            w.idle
                .map_or("never".into(), |d| format!("{} ago", duration_text(d))),
            w.counts.responses.iter().sum::<u64>(),
            bytes_text(w.counts.bytes),
            w.counts.connections
        );
    }
    out.push_str("</table>\n<h2>Workers that left</h2>\n<table><tr>");
    for cause in Cause::ALL {
        let _ = write!(out, "<th>{}</th>", cause.name());
    }
    out.push_str("</tr>\n<tr>");
    for n in s.restarts {
        let _ = write!(out, "<td>{n}</td>");
    }
    let _ = write!(
        out,
        "</tr></table>\n<p>Also as <a href=\"/metrics\">/metrics</a> (Prometheus) and \
         <a href=\"/status.json\">/status.json</a>; <a href=\"/healthz\">/healthz</a> for \
         load balancers. This page reloads every {REFRESH_SECS} s.</p>\n</body></html>\n"
    );
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{Parsed, parse};
    use crate::scoreboard::{SlotCounts, Worker};
    use std::time::Duration;

    fn sample() -> Snapshot {
        let counts = SlotCounts {
            responses: [0, 5, 1, 2, 0],
            bytes: 4096,
            connections: 1,
        };
        Snapshot {
            master_pid: 100,
            generation: 2,
            uptime: Duration::from_millis(3_725_500),
            started_unix: 1_700_000_000,
            restarts: [1, 0, 0, 3, 0, 0, 0, 0],
            slots: vec![
                counts,
                SlotCounts {
                    responses: [0, 1, 0, 0, 0],
                    bytes: 10,
                    connections: 0,
                },
            ],
            workers: vec![
                Worker {
                    pid: 101,
                    slot: 0,
                    generation: 2,
                    state: State::Serving,
                    age: Duration::from_secs(61),
                    silence: Duration::from_millis(200),
                    idle: Some(Duration::from_millis(1500)),
                    counts,
                },
                Worker {
                    pid: 102,
                    slot: 1,
                    generation: 2,
                    state: State::Ready,
                    age: Duration::from_secs(5),
                    silence: Duration::from_secs(9),
                    idle: None,
                    counts: SlotCounts::default(),
                },
            ],
            dead: 1,
        }
    }

    /// Every sample line of `text` as (name, labels, value), after checking the format:
    /// each family's HELP and TYPE come first, once, and its samples follow together.
    fn samples(text: &str) -> Vec<(String, String, f64)> {
        let mut out = Vec::new();
        let mut typed = Vec::<String>::new();
        let mut current = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap();
                assert!(!typed.contains(&name.to_owned()), "{name} twice");
                current = name.to_owned();
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert_eq!(name, current);
                assert!(["counter", "gauge"].contains(&kind), "{line}");
                typed.push(name.to_owned());
            } else {
                let (series, value) = line.rsplit_once(' ').unwrap();
                let (name, labels) = match series.split_once('{') {
                    Some((n, l)) => (n, l.strip_suffix('}').unwrap()),
                    None => (series, ""),
                };
                assert_eq!(name, current, "{line}: not with its family");
                out.push((name.into(), labels.into(), value.parse().unwrap()));
            }
        }
        out
    }

    fn value(samples: &[(String, String, f64)], name: &str, labels: &str) -> f64 {
        samples
            .iter()
            .find(|(n, l, _)| n == name && l == labels)
            .unwrap_or_else(|| panic!("no {name}{{{labels}}}"))
            .2
    }

    #[test]
    fn prometheus_text_has_every_family_and_the_numbers() {
        let text = String::from_utf8(prometheus(&sample(), "event")).unwrap();
        let s = samples(&text);
        assert_eq!(
            value(&s, "preforkd_requests_total", "slot=\"0\",class=\"2xx\""),
            5.0
        );
        assert_eq!(
            value(&s, "preforkd_requests_total", "slot=\"1\",class=\"2xx\""),
            1.0
        );
        assert_eq!(value(&s, "preforkd_bytes_sent_total", "slot=\"0\""), 4096.0);
        assert_eq!(value(&s, "preforkd_connections", "slot=\"0\""), 1.0);
        assert_eq!(value(&s, "preforkd_workers", "state=\"serving\""), 1.0);
        assert_eq!(value(&s, "preforkd_workers", "state=\"ready\""), 1.0);
        assert_eq!(value(&s, "preforkd_workers", "state=\"dead\""), 1.0);
        assert_eq!(
            value(&s, "preforkd_worker_restarts_total", "cause=\"killed\""),
            1.0
        );
        assert_eq!(
            value(
                &s,
                "preforkd_worker_restarts_total",
                "cause=\"max_requests\""
            ),
            3.0
        );
        assert_eq!(value(&s, "preforkd_uptime_seconds", ""), 3725.5);
        assert_eq!(value(&s, "preforkd_healthy", ""), 1.0);
        assert_eq!(
            value(
                &s,
                "preforkd_build_info",
                &format!(
                    "version=\"{}\",worker_model=\"event\"",
                    env!("CARGO_PKG_VERSION")
                )
            ),
            1.0
        );
        // Ten requests_total series: two slots, five classes.
        assert_eq!(
            s.iter()
                .filter(|(n, _, _)| n == "preforkd_requests_total")
                .count(),
            10
        );
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn escaping() {
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(json_string("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"");
        assert_eq!(
            html_text("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn json_has_the_documented_fields() {
        let text = String::from_utf8(json(&sample(), "sync")).unwrap();
        for needle in [
            "{\"schema\":1,",
            "\"worker_model\":\"sync\"",
            "\"healthy\":true",
            "\"master\":{\"pid\":100,\"generation\":2,\"started\":1700000000,\"uptime_seconds\":3725.500}",
            "\"totals\":{\"requests\":9,\"responses\":{\"1xx\":0,\"2xx\":6,\"3xx\":1,\"4xx\":2,\"5xx\":0},\"bytes_sent\":4106,\"connections\":1}",
            "\"restarts\":{\"killed\":1,\"crashed\":0,\"timeout\":0,\"max_requests\":3,",
            "\"workers_by_state\":{\"starting\":0,\"ready\":1,\"serving\":1,\"draining\":0,\"dead\":1}",
            "{\"pid\":101,\"slot\":0,\"generation\":2,\"state\":\"serving\",\"uptime_seconds\":61.000,\"heartbeat_age_seconds\":0.200,\"last_request_age_seconds\":1.500,\"requests\":8,",
            "\"last_request_age_seconds\":null",
        ] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
        // Balanced, and nothing after the object but a newline.
        let depth = text.chars().fold(0i32, |d, c| match c {
            '{' | '[' => d + 1,
            '}' | ']' => d - 1,
            _ => d,
        });
        assert_eq!(depth, 0);
        assert!(text.ends_with("]}\n"));
    }

    #[test]
    fn html_shows_every_worker_and_refreshes() {
        let text = String::from_utf8(html(&sample(), "event")).unwrap();
        assert!(text.contains("<meta http-equiv=\"refresh\" content=\"2\">"));
        assert!(text.contains("<td>101</td>") && text.contains("<td>102</td>"));
        assert!(text.contains("generation 2"));
        assert!(text.contains("up 1h 2m 5s"));
        assert!(text.contains("4.0 KiB"));
        // Worker 102 missed its beats: marked.
        assert!(text.contains("<span class=\"bad\">9.0s ago</span>"));
        assert!(text.contains(">healthy<"));
    }

    #[test]
    fn healthz_needs_a_ready_worker_with_a_fresh_heartbeat() {
        let mut s = sample();
        assert!(s.healthy());
        s.workers[0].silence = FRESH;
        assert!(!s.healthy());
        s.workers[1].silence = Duration::from_millis(10);
        assert!(s.healthy());
        s.workers[1].state = State::Draining;
        assert!(!s.healthy());
    }

    fn answer(board: Option<&Pages>, head: &str) -> Response {
        let raw = format!("{head}\r\n\r\n");
        let Ok(Parsed::Complete { request, .. }) = parse(raw.as_bytes()) else {
            panic!("bad request in test");
        };
        respond(&request, board, true)
    }

    #[test]
    fn the_listener_answers_its_pages_and_nothing_else() {
        let board = Board::new().unwrap();
        let pages = Pages::new(board, WorkerModel::Event);
        let r = answer(Some(&pages), "GET /metrics HTTP/1.1\r\nHost: x");
        assert_eq!(r.status, Status::Ok);
        assert_eq!(r.content_type, Some(PROMETHEUS_TYPE));
        assert_eq!(r.cache_control, Some("no-store"));
        let r = answer(Some(&pages), "HEAD /status.json?x=1 HTTP/1.1\r\nHost: x");
        assert_eq!(r.status, Status::Ok);
        assert!(r.head_only && r.content_length > 0);
        // No worker on this board: unhealthy.
        let r = answer(Some(&pages), "GET /healthz HTTP/1.1\r\nHost: x");
        assert_eq!(r.status, Status::ServiceUnavailable);
        assert_eq!(r.content_length, UNHEALTHY.len() as u64);
        for other in [
            "/",
            "/index.html",
            "/metrics/",
            "/status.json/x",
            "/METRICS",
        ] {
            let r = answer(Some(&pages), &format!("GET {other} HTTP/1.1\r\nHost: x"));
            assert_eq!(r.status, Status::NotFound, "{other}");
        }
        let r = answer(Some(&pages), "POST /metrics HTTP/1.1\r\nHost: x");
        assert_eq!(r.status, Status::MethodNotAllowed);
        let r = answer(None, "GET /metrics HTTP/1.1\r\nHost: x");
        assert_eq!(r.status, Status::NotFound);
        let r = unavailable(true);
        assert_eq!(r.status, Status::ServiceUnavailable);
        assert!(!r.keep_alive && r.head_only);
    }
}
