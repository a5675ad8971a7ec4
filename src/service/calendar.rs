//! The working-day calendar kept in the store (administrators may edit it; it starts from the
//! shipped reference file).

use super::{Result, Service, ServiceError};
use crate::model::Date;
use crate::model::calendar::{CalendarEntry, WorkCalendar};
use crate::model::reference::HOLIDAYS_JSON;

impl Service {
    /// Loads the shipped holiday calendar into the store unless it already has entries.
    /// Returns how many days were added.
    pub fn calendar_seed(&self, actor: &str) -> Result<usize> {
        let tx = self.store.write()?;
        if !tx.calendar::<CalendarEntry>(i32::MIN, i32::MAX)?.is_empty() {
            return Ok(0);
        }
        let cal = WorkCalendar::from_reference_json(HOLIDAYS_JSON).map_err(ServiceError::Internal)?;
        for (day, entry) in &cal.entries {
            tx.put_calendar(day.days(), entry)?;
        }
        tx.audit(actor, "calendar.seed", "calendar", &format!("{} days", cal.entries.len()))?;
        tx.commit()?;
        Ok(cal.entries.len())
    }

    pub fn calendar(&self) -> Result<WorkCalendar> {
        let rows = self.store.read()?.calendar::<CalendarEntry>(i32::MIN, i32::MAX)?;
        Ok(WorkCalendar { entries: rows.into_iter().map(|(d, e)| (Date::from_days(d), e)).collect() })
    }
}
