//! A review stage's clock in working days, with the pauses of 补正.

use serde::{Deserialize, Serialize};

use crate::model::calendar::WorkCalendar;
use crate::model::date::Date;
use crate::model::policy::ReviewStage;
use crate::model::user::Role;

/// A period the stage clock stood still (补正): from the day of return to the day of
/// resubmission (`None` while it lasts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub from: Date,
    pub to: Option<Date>,
}

/// One review stage of one case: its clock and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageRun {
    pub name: String,
    pub role: Role,
    /// The limit in working days.
    pub days: u32,
    /// The day the stage began (the clock counts from the next working day).
    pub started: Option<Date>,
    pub due: Option<Date>,
    #[serde(default)]
    pub pauses: Vec<Pause>,
    /// Set when the stage approved: who and when.
    #[serde(default)]
    pub approved: Option<(String, Date)>,
    /// The due day the handler was last warned about (the sweep warns once per due day).
    #[serde(default)]
    pub warned_for: Option<Date>,
}

impl StageRun {
    pub fn new(stage: &ReviewStage) -> StageRun {
        StageRun {
            name: stage.name.clone(),
            role: stage.role,
            days: stage.days,
            started: None,
            due: None,
            pauses: Vec::new(),
            approved: None,
            warned_for: None,
        }
    }

    /// Working days the stage has run by `today`: from `started` (exclusive) to `today`
    /// (inclusive), minus working days inside pauses. The day of a return still counts; the
    /// days after it up to and including the day of resubmission do not (the clock restarts
    /// the next working day, as it started the working day after acceptance).
    pub fn elapsed(&self, today: Date, cal: &WorkCalendar) -> u32 {
        let Some(start) = self.started else { return 0 };
        let mut n = 0u32;
        let mut day = start.add_days(1);
        while day <= today {
            let paused = self.pauses.iter().any(|p| p.from < day && p.to.is_none_or(|to| day <= to));
            if !paused && cal.is_working_day(day) {
                n += 1;
            }
            day = day.add_days(1);
        }
        n
    }

    /// The due day: `days` working days after the start, moved on by paused working days.
    /// `None` while paused (the clock stands) or before the stage began.
    pub fn due_on(&self, cal: &WorkCalendar) -> Option<Date> {
        let start = self.started?;
        if self.pauses.iter().any(|p| p.to.is_none()) {
            return None;
        }
        let mut left = self.days;
        let mut day = start;
        while left > 0 {
            day = day.add_days(1);
            let paused = self.pauses.iter().any(|p| p.from < day && p.to.is_some_and(|to| day <= to));
            if !paused && cal.is_working_day(day) {
                left -= 1;
            }
        }
        Some(day)
    }
}
