//! The log sinks: the error log (one line per event, with a timestamp, the pid and a
//! level) and the access log's per-worker buffer, flushed at least once a second. Both
//! are reopened on USR1. The access line itself is formatted by the worker.

use std::fmt::Arguments;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::calendar::DateTime;

/// Where a log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Stdout,
    Stderr,
    File(PathBuf),
}

/// An open log: the target and, for a file, the descriptor written to.
struct Sink {
    target: Target,
    file: Option<File>,
}

impl Sink {
    const STDERR: Sink = Sink {
        target: Target::Stderr,
        file: None,
    };

    fn open(target: &Target, owner: Option<(u32, u32)>) -> std::io::Result<Sink> {
        let file = match target {
            Target::File(path) => {
                let file = OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o644)
                    .open(path)?;
                // Workers that dropped privileges reopen this path on USR1 themselves.
                if let Some((uid, gid)) = owner {
                    let _ = std::os::unix::fs::fchown(&file, Some(uid), Some(gid));
                }
                Some(file)
            }
            _ => None,
        };
        Ok(Sink {
            target: target.clone(),
            file,
        })
    }

    /// One write per call: with O_APPEND, lines from several processes do not interleave.
    fn write(&mut self, bytes: &[u8]) {
        let _ = match (&mut self.file, &self.target) {
            (Some(f), _) => f.write_all(bytes),
            (None, Target::Stdout) => std::io::stdout().lock().write_all(bytes),
            (None, _) => std::io::stderr().lock().write_all(bytes),
        };
    }
}

/// The access log's buffer; flushed when full, at least once a second, and on exit.
struct Access {
    sink: Sink,
    buf: Vec<u8>,
    last_flush: Instant,
}

/// Flush the access buffer at this size even within the second.
const ACCESS_BUFFER: usize = 32 * 1024;
const ACCESS_FLUSH_EVERY: Duration = Duration::from_secs(1);

// Each process is single-threaded; the mutexes only make the statics safe to share.
static ERROR: Mutex<Sink> = Mutex::new(Sink::STDERR);
static ACCESS: Mutex<Option<Access>> = Mutex::new(None);
/// The owner given to log files the master creates, so workers can reopen them.
static OWNER: Mutex<Option<(u32, u32)>> = Mutex::new(None);

/// Opens the configured logs, replacing the current ones; on error nothing changes.
pub fn open(
    error: &Target,
    access: Option<&Target>,
    owner: Option<(u32, u32)>,
) -> Result<(), String> {
    let error_sink =
        Sink::open(error, owner).map_err(|e| format!("--error-log {}: {e}", show(error)))?;
    let access_sink = access
        .map(|t| Sink::open(t, owner).map_err(|e| format!("--access-log {}: {e}", show(t))))
        .transpose()?;
    flush();
    *OWNER.lock().unwrap_or_else(|e| e.into_inner()) = owner;
    *ERROR.lock().unwrap_or_else(|e| e.into_inner()) = error_sink;
    *ACCESS.lock().unwrap_or_else(|e| e.into_inner()) = access_sink.map(|sink| Access {
        sink,
        buf: Vec::with_capacity(ACCESS_BUFFER),
        last_flush: Instant::now(),
    });
    Ok(())
}

/// Reopens the log files by name (after logrotate moved them); a log that cannot be
/// reopened keeps writing to its old file, with a warning.
pub fn reopen() {
    flush();
    let owner = *OWNER.lock().unwrap_or_else(|e| e.into_inner());
    let mut failed = Vec::new();
    {
        let mut error = ERROR.lock().unwrap_or_else(|e| e.into_inner());
        match Sink::open(&error.target, owner) {
            Ok(sink) => *error = sink,
            Err(e) => failed.push(format!("error log {}: {e}", show(&error.target))),
        }
    }
    if let Some(access) = ACCESS.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        match Sink::open(&access.sink.target, owner) {
            Ok(sink) => access.sink = sink,
            Err(e) => failed.push(format!("access log {}: {e}", show(&access.sink.target))),
        }
    }
    for f in failed {
        warn(format_args!(
            "cannot reopen {f}; still writing to the old file"
        ));
    }
}

/// The error log's file, for a daemon's stdout and stderr; None when it is a stream.
pub fn error_file() -> Option<File> {
    let error = ERROR.lock().unwrap_or_else(|e| e.into_inner());
    error.file.as_ref().and_then(|f| f.try_clone().ok())
}

fn show(t: &Target) -> String {
    match t {
        Target::Stdout | Target::Stderr => "-".into(),
        Target::File(p) => p.display().to_string(),
    }
}

pub fn info(args: Arguments<'_>) {
    write_line("INFO", args);
}

pub fn warn(args: Arguments<'_>) {
    write_line("WARN", args);
}

pub fn error(args: Arguments<'_>) {
    write_line("ERROR", args);
}

fn write_line(level: &str, args: Arguments<'_>) {
    let t = DateTime::at(SystemTime::now());
    let line = format!(
        "[{:04}-{:02}-{:02} {:02}:{:02}:{:02} +0000] [{}] [{level}] {args}\n",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        std::process::id()
    );
    ERROR
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .write(line.as_bytes());
}

/// Appends one access-log line through `write` (which gets the buffer to extend); a
/// no-op unless --access-log is set. The caller formats: this module knows sinks, not
/// requests.
pub fn access(write: impl FnOnce(&mut Vec<u8>)) {
    let mut guard = ACCESS.lock().unwrap_or_else(|e| e.into_inner());
    let Some(log) = guard.as_mut() else { return };
    write(&mut log.buf);
    if log.buf.len() >= ACCESS_BUFFER {
        log.flush();
    }
}

/// Writes the access buffer out if a second has passed since the last flush.
pub fn flush_if_due() {
    if let Some(log) = ACCESS.lock().unwrap_or_else(|e| e.into_inner()).as_mut()
        && log.last_flush.elapsed() >= ACCESS_FLUSH_EVERY
    {
        log.flush();
    }
}

/// Writes the access buffer out now (on exit and before a reopen).
pub fn flush() {
    if let Some(log) = ACCESS.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        log.flush();
    }
}

impl Access {
    fn flush(&mut self) {
        if !self.buf.is_empty() {
            self.sink.write(&self.buf);
            self.buf.clear();
        }
        self.last_flush = Instant::now();
    }
}
