//! The `Date` header value, formatted at most once a second.

use std::time::{SystemTime, UNIX_EPOCH};

/// Caches the IMF-fixdate text of the current second.
pub struct DateCache {
    second: u64,
    text: String,
}

impl Default for DateCache {
    fn default() -> Self {
        DateCache {
            second: u64::MAX,
            text: String::new(),
        }
    }
}

impl DateCache {
    /// The current date as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
    pub fn now(&mut self) -> &str {
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second {
            self.second = second;
            self.text = httpdate::fmt_http_date(now);
        }
        &self.text
    }
}
