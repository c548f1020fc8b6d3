//! The proleptic Gregorian calendar in UTC, for the two places that write a date: the
//! HTTP `Date`/`Last-Modified` fields and the log timestamps. Plain arithmetic, so both
//! agree to the second and neither needs a date crate or the C library's `gmtime`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Month abbreviations, January first, as both HTTP-dates and log lines spell them.
pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Weekday abbreviations, Monday first.
pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// A second in UTC, split into calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: u64,
    /// 1-12.
    pub month: u8,
    /// 1-31.
    pub day: u8,
    /// 0 (Monday) to 6 (Sunday).
    pub weekday: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl DateTime {
    /// The fields of `secs` seconds after 1970-01-01T00:00:00Z (leap seconds, like Unix
    /// time, do not exist).
    pub const fn from_unix(secs: u64) -> DateTime {
        let days = secs / 86_400;
        let in_day = secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        DateTime {
            year,
            month,
            day,
            // 1970-01-01 was a Thursday.
            weekday: ((days + 3) % 7) as u8,
            hour: (in_day / 3600) as u8,
            minute: (in_day / 60 % 60) as u8,
            second: (in_day % 60) as u8,
        }
    }

    /// The fields of `t`; a time before the epoch shows as the epoch (no file or clock
    /// this server trusts is that old, and the formats have no sign).
    pub fn at(t: SystemTime) -> DateTime {
        DateTime::from_unix(t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    }

    pub const fn month_abbr(&self) -> &'static str {
        MONTHS[(self.month - 1) as usize]
    }

    pub const fn weekday_abbr(&self) -> &'static str {
        WEEKDAYS[self.weekday as usize]
    }
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01, by Howard Hinnant's
/// `civil_from_days`: counting from 0000-03-01 puts the leap day last in the year and
/// makes every 400-year era the same length, so there are no tables and no loops.
pub const fn civil_from_days(days: u64) -> (u64, u8, u8) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as u64;
    (year, month as u8, day as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        let d = DateTime::from_unix(0);
        assert_eq!((d.year, d.month, d.day), (1970, 1, 1));
        assert_eq!((d.weekday_abbr(), d.month_abbr()), ("Thu", "Jan"));
        let d = DateTime::from_unix(784_111_777);
        assert_eq!(
            d,
            DateTime {
                year: 1994,
                month: 11,
                day: 6,
                weekday: 6,
                hour: 8,
                minute: 49,
                second: 37
            }
        );
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(2_932_896), (9999, 12, 31));
    }

    #[test]
    fn before_the_epoch_is_the_epoch() {
        let t = UNIX_EPOCH - std::time::Duration::from_secs(5);
        assert_eq!(DateTime::at(t), DateTime::from_unix(0));
    }

    /// Day by day, the fields step like a calendar: the next day, or the first of the
    /// next month with the right month lengths and leap years.
    #[test]
    fn days_follow_each_other() {
        let leap =
            |y: u64| y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400));
        let mut prev = civil_from_days(0);
        for days in 1..=2_932_896 {
            let (y, m, d) = civil_from_days(days);
            let (py, pm, pd) = prev;
            let month_len = match pm {
                2 if leap(py) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            let expected = if pd < month_len {
                (py, pm, pd + 1)
            } else if pm < 12 {
                (py, pm + 1, 1)
            } else {
                (py + 1, 1, 1)
            };
            assert_eq!((y, m, d), expected, "day {days}");
            prev = (y, m, d);
        }
    }
}
