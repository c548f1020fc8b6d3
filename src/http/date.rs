//! HTTP dates and decimal numbers, written straight into a response head.
//!
//! Heads are built per request, so these avoid `core::fmt`: measured with callgrind,
//! formatting the status line, `Content-Length` and `Last-Modified` through `fmt` was
//! about a fifth of a worker's user-space instructions for a 1 KiB keep-alive request.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::calendar::DateTime;

/// Caches the IMF-fixdate text of the current second.
pub struct DateCache {
    /// When the wall clock reaches the next second; until then the text stands.
    valid_until: Option<Instant>,
    text: Vec<u8>,
}

impl Default for DateCache {
    fn default() -> Self {
        DateCache {
            valid_until: None,
            text: Vec::with_capacity(29),
        }
    }
}

impl DateCache {
    /// The date at `now` as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`). `now` is
    /// the caller's monotonic time, so most calls read no clock at all: the wall clock
    /// is read once a second.
    pub fn now(&mut self, now: Instant) -> &[u8] {
        if self.valid_until.is_none_or(|until| now >= until) {
            let since_epoch = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let rest_of_second =
                Duration::from_nanos(u64::from(1_000_000_000 - since_epoch.subsec_nanos()));
            self.valid_until = Some(now + rest_of_second);
            self.text.clear();
            push_imf_fixdate(since_epoch.as_secs(), &mut self.text);
        }
        &self.text
    }
}

/// An IMF-fixdate held inline (always 29 bytes), so a file's `Last-Modified` is
/// formatted once when the file is opened, not per response.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ImfDate([u8; 29]);

impl ImfDate {
    pub fn new(t: SystemTime) -> ImfDate {
        let mut text = Vec::with_capacity(29);
        push_http_date(t, &mut text);
        // An IMF-fixdate is always 29 bytes (the year is clamped to four digits).
        ImfDate(<[u8; 29]>::try_from(text.as_slice()).unwrap_or([b' '; 29]))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for ImfDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

/// The latest second an IMF-fixdate can show: 9999-12-31T23:59:59Z.
const MAX_SECS: u64 = 253_402_300_799;

/// Appends `t` as an IMF-fixdate; times before 1970 show as the epoch, times after
/// 9999 as its last second (the format has four year digits).
pub fn push_http_date(t: SystemTime, out: &mut Vec<u8>) {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    push_imf_fixdate(secs, out);
}

/// Appends the IMF-fixdate (RFC 9110 §5.6.7) of `secs` after the Unix epoch.
pub fn push_imf_fixdate(secs: u64, out: &mut Vec<u8>) {
    let t = DateTime::from_unix(secs.min(MAX_SECS));
    out.extend_from_slice(t.weekday_abbr().as_bytes());
    out.extend_from_slice(b", ");
    push_two(out, t.day);
    out.push(b' ');
    out.extend_from_slice(t.month_abbr().as_bytes());
    out.push(b' ');
    // At most 9999 (MAX_SECS), so four digits.
    push_two(out, (t.year / 100) as u8);
    push_two(out, (t.year % 100) as u8);
    out.push(b' ');
    push_two(out, t.hour);
    out.push(b':');
    push_two(out, t.minute);
    out.push(b':');
    push_two(out, t.second);
    out.extend_from_slice(b" GMT");
}

/// The last two decimal digits of `n`.
fn push_two(out: &mut Vec<u8>, n: u8) {
    out.extend_from_slice(&[b'0' + n / 10 % 10, b'0' + n % 10]);
}

/// Appends `n` in decimal.
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut first = buf.len();
    for (idx, slot) in buf.iter_mut().enumerate().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        first = idx;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(first..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn from_secs(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn text(secs: u64) -> String {
        let mut out = Vec::new();
        push_imf_fixdate(secs, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn known_dates() {
        assert_eq!(text(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(text(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(text(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(text(MAX_SECS), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(text(u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn before_the_epoch_is_the_epoch() {
        let mut out = Vec::new();
        push_http_date(UNIX_EPOCH - Duration::from_secs(5), &mut out);
        assert_eq!(out, b"Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn inline_dates() {
        assert_eq!(
            ImfDate::new(from_secs(784_111_777)).as_bytes(),
            b"Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            ImfDate::new(from_secs(u64::MAX / 2)).as_bytes(),
            b"Fri, 31 Dec 9999 23:59:59 GMT"
        );
    }

    #[test]
    fn decimals() {
        for n in [0, 7, 10, 1024, 16_777_216, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    #[test]
    fn the_cache_matches_the_clock() {
        let mut cache = DateCache::default();
        let start = Instant::now();
        let first = cache.now(start).to_vec();
        let parsed = httpdate::parse_http_date(std::str::from_utf8(&first).unwrap()).unwrap();
        let drift = SystemTime::now().duration_since(parsed).unwrap();
        assert!(drift < Duration::from_secs(2), "{drift:?}");
        // Within the same second the text is reused without reading the clock; past
        // the second's end the clock is read again and a new end is set.
        assert_eq!(cache.now(start), &first[..]);
        let end = cache.valid_until.unwrap();
        assert!(end > start && end <= start + Duration::from_secs(1));
        cache.now(end);
        assert!(cache.valid_until.unwrap() > end);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]
        /// The hand-written formatter agrees with the httpdate crate everywhere.
        #[test]
        fn agrees_with_httpdate(secs in 0u64..=MAX_SECS) {
            prop_assert_eq!(text(secs), httpdate::fmt_http_date(from_secs(secs)));
        }

        #[test]
        fn decimal_agrees_with_display(n: u64) {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            prop_assert_eq!(out, n.to_string().into_bytes());
        }
    }
}
