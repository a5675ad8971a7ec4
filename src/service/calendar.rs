//! The working-day calendar kept in the store (administrators may edit it; it starts from the
//! shipped reference file).

use super::{Result, Service, ServiceError};
use crate::model::audit::action;
use crate::model::calendar::{CalendarEntry, WorkCalendar};
use crate::model::reference::HOLIDAYS_JSON;
use crate::model::{Date, Who};
use crate::store::prelude::*;

impl Service {
    /// Loads the shipped holiday calendar into the store unless it already has entries.
    /// Returns how many days were added.
    pub fn calendar_seed(&self, who: &Who) -> Result<usize> {
        let tx = self.store.write()?;
        if !tx.calendar::<CalendarEntry>(i32::MIN, i32::MAX)?.is_empty() {
            return Ok(0);
        }
        let cal = WorkCalendar::from_reference_json(HOLIDAYS_JSON).map_err(ServiceError::Internal)?;
        for (day, entry) in &cal.entries {
            tx.put_calendar(day.days(), entry)?;
        }
        tx.audit(who, action::CALENDAR_SEED, "calendar", &format!("{} days", cal.entries.len()))?;
        tx.commit()?;
        Ok(cal.entries.len())
    }

    pub fn calendar(&self) -> Result<WorkCalendar> {
        let rows = self.store.read()?.calendar::<CalendarEntry>(i32::MIN, i32::MAX)?;
        Ok(WorkCalendar { entries: rows.into_iter().map(|(d, e)| (Date::from_days(d), e)).collect() })
    }
}

/// One year of the calendar as the administration page shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CalendarYear {
    pub year: i32,
    pub holidays: usize,
    pub workdays: usize,
    /// Without data the year counts Monday–Friday as working days: deadlines may be off.
    pub fallback: bool,
}

/// Reads one year's entries from JSON or CSV.
///
/// JSON: the shipped file's shape (`{"holidays": {"2027-01-01": "New Year's Day,元旦,1"},
/// "workdays": {…}, "inLieuDays": {…}}`) or a list `[{"date": "2027-01-01", "kind": "holiday",
/// "name": "元旦"}]`. CSV: `date,kind,name` with `kind` `holiday`/`休` or `workday`/`班`.
pub fn parse_calendar_year(year: i32, text: &str) -> std::result::Result<Vec<(Date, CalendarEntry)>, String> {
    use crate::model::calendar::DayKind;
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err("文件是空的".into());
    }
    let kind_of = |k: &str| match k.trim() {
        "holiday" | "休" | "假" | "节假日" => Ok(DayKind::Holiday),
        "workday" | "班" | "上班" | "调休上班" => Ok(DayKind::Workday),
        other => Err(format!("类型「{other}」无法识别，应为 holiday（休）或 workday（班）")),
    };
    let mut out = Vec::new();
    if text.starts_with('{') {
        let cal = WorkCalendar::from_reference_json(text).map_err(|e| format!("JSON 无法读取：{e}"))?;
        out.extend(cal.entries);
    } else if text.starts_with('[') {
        #[derive(serde::Deserialize)]
        struct Row {
            date: String,
            kind: String,
            #[serde(default)]
            name: String,
        }
        let rows: Vec<Row> = serde_json::from_str(text).map_err(|e| format!("JSON 无法读取：{e}"))?;
        for (i, r) in rows.iter().enumerate() {
            let date = Date::parse(&r.date).map_err(|e| format!("第 {} 项：{e}", i + 1))?;
            let kind = kind_of(&r.kind).map_err(|e| format!("第 {} 项：{e}", i + 1))?;
            out.push((date, CalendarEntry { kind, name: r.name.trim().to_string() }));
        }
    } else {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
        for (i, rec) in reader.records().enumerate() {
            let rec = rec.map_err(|e| format!("第 {} 行：{e}", i + 1))?;
            let first = rec.get(0).unwrap_or("").trim();
            if i == 0 && (first == "date" || first == "日期") {
                continue;
            }
            let date = Date::parse(first).map_err(|e| format!("第 {} 行：{e}", i + 1))?;
            let kind = kind_of(rec.get(1).unwrap_or("")).map_err(|e| format!("第 {} 行：{e}", i + 1))?;
            out.push((date, CalendarEntry { kind, name: rec.get(2).unwrap_or("").trim().to_string() }));
        }
    }
    for (d, e) in &out {
        crate::model::text::check(&format!("{d} 的名称"), &e.name, false)?;
        if e.name.chars().count() > 60 {
            return Err(format!("{d} 的名称过长（最多 60 个字）"));
        }
    }
    if let Some((d, _)) = out.iter().find(|(d, _)| d.year() != year) {
        return Err(format!("{d} 不属于 {year} 年；一次只导入一年的日历"));
    }
    if out.is_empty() {
        return Err(format!("没有找到 {year} 年的节假日或调休上班日"));
    }
    Ok(out)
}

impl Service {
    /// Replaces one year of the calendar; returns how many days it now lists.
    pub fn calendar_import_year(&self, who: &Who, year: i32, text: &str) -> Result<usize> {
        if !(2000..=2100).contains(&year) {
            return Err(ServiceError::invalid("year", "年份应在 2000–2100 之间"));
        }
        let entries = parse_calendar_year(year, text).map_err(|m| ServiceError::invalid("file", m))?;
        let (Some(from), Some(to)) = (Date::from_ymd(year, 1, 1), Date::from_ymd(year, 12, 31)) else {
            return Err(ServiceError::invalid("year", "年份无效"));
        };
        let tx = self.store.write()?;
        let before = tx.calendar::<CalendarEntry>(from.days(), to.days())?;
        tx.delete_calendar_range(from.days(), to.days())?;
        for (day, entry) in &entries {
            tx.put_calendar(day.days(), entry)?;
        }
        let after: Vec<(i32, &CalendarEntry)> = entries.iter().map(|(d, e)| (d.days(), e)).collect();
        let detail = format!("{} days (was {})", entries.len(), before.len());
        tx.audit_edit(who, action::CALENDAR_IMPORT, &format!("calendar:{year}"), &detail, &before, &after)?;
        tx.commit()?;
        Ok(entries.len())
    }

    /// The years around today and every year with data, newest first.
    pub fn calendar_years(&self) -> Result<Vec<CalendarYear>> {
        use crate::model::calendar::DayKind;
        let cal = self.calendar()?;
        let this = self.today().year();
        let mut years: std::collections::BTreeSet<i32> =
            cal.entries.keys().map(|d| d.year()).filter(|y| *y >= this - 3).collect();
        years.extend([this - 1, this, this + 1]);
        Ok(years
            .into_iter()
            .rev()
            .map(|year| {
                let days = cal.entries.iter().filter(|(d, _)| d.year() == year);
                let holidays = days.clone().filter(|(_, e)| e.kind == DayKind::Holiday).count();
                let workdays = days.filter(|(_, e)| e.kind == DayKind::Workday).count();
                CalendarYear { year, holidays, workdays, fallback: holidays + workdays == 0 }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_year_in_each_format() {
        let csv = "date,kind,name\n2027-01-01,holiday,元旦\n2027-02-07,班,春节调休\n";
        let rows = parse_calendar_year(2027, csv).unwrap();
        assert_eq!(rows.len(), 2);
        let list = r#"[{"date":"2027-10-01","kind":"holiday","name":"国庆节"}]"#;
        assert_eq!(parse_calendar_year(2027, list).unwrap().len(), 1);
        let reference = r#"{"holidays":{"2027-01-01":"New Year's Day,元旦,1"},"workdays":{}}"#;
        assert_eq!(parse_calendar_year(2027, reference).unwrap()[0].1.name, "元旦");
        assert!(parse_calendar_year(2027, "2026-12-31,holiday,x").unwrap_err().contains("不属于 2027"));
        assert!(parse_calendar_year(2027, "2027-01-01,maybe,x").unwrap_err().contains("无法识别"));
        assert!(parse_calendar_year(2027, "").is_err());
    }
}
