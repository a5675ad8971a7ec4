//! Civil dates (proleptic Gregorian, no time zone) and timestamps shown in China Standard Time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A calendar date, stored as days since 1970-01-01 so that columns of dates are plain integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i32);

/// Why a date string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("日期「{0}」无效，应为 YYYY-MM-DD 格式的真实日期，例如 2024-03-15")]
pub struct DateError(pub String);

impl Date {
    /// Builds a date from year, month (1–12) and day; `None` when it does not exist.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        if !(1000..=9999).contains(&year) {
            return None;
        }
        Some(Date(days_from_civil(year, month, day)))
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days(self) -> i32 {
        self.0
    }

    pub fn from_days(days: i32) -> Date {
        Date(days)
    }

    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    pub fn year(self) -> i32 {
        self.ymd().0
    }

    /// ISO weekday: 1 = Monday … 7 = Sunday.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (4).
        ((self.0 as i64 + 3).rem_euclid(7) + 1) as u32
    }

    pub fn add_days(self, n: i32) -> Date {
        Date(self.0 + n)
    }

    /// Whole years from `self` to `on` (a birthday-style count: 0 until the first anniversary).
    pub fn whole_years_until(self, on: Date) -> i32 {
        let (y1, m1, d1) = self.ymd();
        let (y2, m2, d2) = on.ymd();
        let mut years = y2 - y1;
        if (m2, d2) < (m1, d1) {
            years -= 1;
        }
        years
    }

    /// Today's date in China Standard Time (UTC+8), the zone every county office works in.
    pub fn today() -> Date {
        Timestamp::now().date_cst()
    }

    /// Parses strictly `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Date, DateError> {
        let t = s.trim();
        let err = || DateError(s.to_string());
        let b = t.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| -> Result<u32, DateError> {
            let part = &t[r];
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            part.parse().map_err(|_| err())
        };
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        Date::from_ymd(y as i32, m, d).ok_or_else(err)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for Date {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Date::parse(s)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s).map_err(serde::de::Error::custom)
    }
}

pub fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

// Howard Hinnant's algorithms (chrono-compatible days_from_civil / civil_from_days).
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

const CST_OFFSET_MS: i64 = 8 * 3600 * 1000;
const DAY_MS: i64 = 86_400_000;

impl Timestamp {
    pub fn now() -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp(ms)
    }

    pub fn date_cst(self) -> Date {
        Date(((self.0 + CST_OFFSET_MS).div_euclid(DAY_MS)) as i32)
    }

    pub fn plus_seconds(self, s: i64) -> Timestamp {
        Timestamp(self.0 + s * 1000)
    }

    /// `YYYY-MM-DD HH:mm` in China Standard Time: how people read a time.
    pub fn display_cst(self) -> String {
        let mut s = self.display_cst_seconds();
        s.truncate(16);
        s
    }

    /// RFC 3339 in China Standard Time (`2026-12-01T09:30:00+08:00`), for feeds.
    pub fn rfc3339_cst(self) -> String {
        self.display_cst_seconds().replacen(' ', "T", 1) + "+08:00"
    }

    /// `YYYY-MM-DD HH:mm:ss` in China Standard Time, for records that need the second (the
    /// audit trail's export).
    pub fn display_cst_seconds(self) -> String {
        let local = self.0 + CST_OFFSET_MS;
        let date = Date(local.div_euclid(DAY_MS) as i32);
        let ms = local.rem_euclid(DAY_MS);
        let (h, m, s) = (ms / 3_600_000, (ms / 60_000) % 60, (ms / 1000) % 60);
        format!("{date} {h:02}:{m:02}:{s:02}")
    }
}

/// The time source for decisions that depend on elapsed time (sign-in delays, session
/// timeouts): the system clock, which tests may move forward.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    shift_ms: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        Timestamp(Timestamp::now().0 + self.shift_ms.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Whole days this clock has been moved forward (for a fixed "today" in tests and demos).
    pub fn shifted_days(&self) -> i32 {
        (self.shift_ms.load(std::sync::atomic::Ordering::Relaxed) / DAY_MS) as i32
    }

    /// How far the clock is moved, in milliseconds (to put it back after a demo's replay).
    pub fn shift_ms(&self) -> i64 {
        self.shift_ms.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set_shift_ms(&self, ms: i64) {
        self.shift_ms.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, seconds: i64) {
        self.shift_ms.fetch_add(seconds * 1000, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_days() {
        for days in [-800_000, -1, 0, 1, 10_957, 19_723, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(Date::from_ymd(1970, 1, 1).map(Date::days), Some(0));
        assert_eq!(Date::from_ymd(2000, 3, 1).map(Date::days), Some(11_017));
    }

    #[test]
    fn parses_strictly() {
        assert_eq!(Date::parse("2024-02-29").map(|d| d.to_string()), Ok("2024-02-29".into()));
        for bad in ["2023-02-29", "2024-13-01", "2024-1-01", "2024/01/01", "", "20240101", "2024-00-10"] {
            assert!(Date::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn weekdays_and_years() {
        assert_eq!(Date::parse("2026-11-27").map(Date::weekday), Ok(5));
        assert_eq!(Date::parse("1970-01-04").map(Date::weekday), Ok(7));
        let est = Date::parse("2020-02-29").unwrap();
        assert_eq!(est.whole_years_until(Date::parse("2021-02-28").unwrap()), 0);
        assert_eq!(est.whole_years_until(Date::parse("2021-03-01").unwrap()), 1);
        assert_eq!(est.whole_years_until(Date::parse("2026-02-28").unwrap()), 5);
    }

    #[test]
    fn cst_display() {
        // 2024-01-01T00:00:00Z is 08:00 in Beijing.
        assert_eq!(Timestamp(1_704_067_200_000).display_cst_seconds(), "2024-01-01 08:00:00");
        assert_eq!(Timestamp(1_704_067_259_000).display_cst(), "2024-01-01 08:00");
        assert_eq!(Timestamp(1_704_067_200_000 - 1).date_cst().to_string(), "2024-01-01");
    }
}
