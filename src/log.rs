//! The error log: one line per event, with a timestamp, the pid and a level.

use std::fmt::Arguments;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn info(args: Arguments<'_>) {
    write_line("INFO", args);
}

pub fn warn(args: Arguments<'_>) {
    write_line("WARN", args);
}

pub fn error(args: Arguments<'_>) {
    write_line("ERROR", args);
}

/// One access-log line for a response (combined log format); `request` is None when the
/// head could not be parsed. A no-op until an access log is configured.
pub fn access(
    _peer: std::net::SocketAddr,
    _request: Option<&crate::http::request::Request<'_>>,
    _response: &crate::http::response::Response,
) {
}

fn write_line(level: &str, args: Arguments<'_>) {
    let (y, mo, d, h, mi, s) = civil(SystemTime::now());
    let line = format!(
        "[{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} +0000] [{}] [{level}] {args}\n",
        std::process::id()
    );
    // One write per line, so lines from several processes do not interleave.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// UTC calendar fields of a time: (year, month, day, hour, minute, second).
pub fn civil(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem / 60 % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(UNIX_EPOCH), (1970, 1, 1, 0, 0, 0));
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(civil(t), (1994, 11, 6, 8, 49, 37));
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(civil(t), (2000, 2, 29, 0, 0, 0));
    }
}
