//! The working-day calendar (法定工作日): official holidays and make-up workdays; a year
//! without data falls back to Monday–Friday.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::date::Date;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A day off (public holiday or in-lieu day).
    Holiday,
    /// A weekend day worked to make up for a holiday (调休上班).
    Workday,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarEntry {
    pub kind: DayKind,
    pub name: String,
}

#[derive(Debug, Clone, Default)]
pub struct WorkCalendar {
    pub entries: BTreeMap<Date, CalendarEntry>,
}

impl WorkCalendar {
    /// Reads the shipped `holidays-cn.json`: `holidays`, `workdays` and `inLieuDays`, each
    /// mapping a date to `"English,中文,days"`.
    pub fn from_reference_json(text: &str) -> Result<WorkCalendar, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut entries = BTreeMap::new();
        for (key, kind) in
            [("holidays", DayKind::Holiday), ("inLieuDays", DayKind::Holiday), ("workdays", DayKind::Workday)]
        {
            let Some(map) = v.get(key).and_then(|m| m.as_object()) else { continue };
            for (day, label) in map {
                let date = Date::parse(day).map_err(|e| e.to_string())?;
                let name = label.as_str().and_then(|l| l.split(',').nth(1)).unwrap_or("").to_string();
                entries.insert(date, CalendarEntry { kind, name });
            }
        }
        Ok(WorkCalendar { entries })
    }

    /// Whether any entry falls in `year`: without data the calendar is only Monday–Friday.
    pub fn has_year(&self, year: i32) -> bool {
        let (Some(from), Some(to)) = (Date::from_ymd(year, 1, 1), Date::from_ymd(year, 12, 31)) else { return false };
        self.entries.range(from..=to).next().is_some()
    }

    pub fn is_working_day(&self, day: Date) -> bool {
        match self.entries.get(&day).map(|e| e.kind) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::Workday) => true,
            None => day.weekday() <= 5,
        }
    }

    /// The day `n` working days after `start` (not counting `start` itself).
    pub fn add_working_days(&self, start: Date, n: u32) -> Date {
        let mut day = start;
        let mut left = n;
        while left > 0 {
            day = day.add_days(1);
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// Working days after `from` up to and including `to` (0 when `to` is not after `from`).
    pub fn working_days_between(&self, from: Date, to: Date) -> u32 {
        let mut n = 0;
        let mut day = from.add_days(1);
        while day <= to {
            if self.is_working_day(day) {
                n += 1;
            }
            day = day.add_days(1);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::reference::HOLIDAYS_JSON;

    #[test]
    fn national_day_and_make_up_days() {
        let cal = WorkCalendar::from_reference_json(HOLIDAYS_JSON).unwrap();
        let d = |s| Date::parse(s).unwrap();
        assert!(!cal.is_working_day(d("2025-10-01")), "National Day");
        assert!(cal.is_working_day(d("2025-09-28")), "a Sunday worked to make up");
        assert!(cal.has_year(2026) && !cal.has_year(2027));
        // 2027 has no data: Monday–Friday.
        assert!(cal.is_working_day(d("2027-01-01")) && !cal.is_working_day(d("2027-01-02")));
        // From Thursday 2025-09-25, 3 working days: Fri 26, Sun 28 (make-up), Mon 29.
        assert_eq!(cal.add_working_days(d("2025-09-25"), 3), d("2025-09-29"));
        assert_eq!(cal.working_days_between(d("2025-09-25"), d("2025-09-29")), 3);
        // Seven calendar days across National Day are no working day at all.
        assert_eq!(cal.working_days_between(d("2025-09-30"), d("2025-10-08")), 0);
        assert_eq!(cal.working_days_between(d("2025-09-29"), d("2025-09-25")), 0);
    }
}
