//! Supervision (督办) of overdue review stages, and the notices a department receives: stages
//! about to fall due, supervision notices, measures about to expire, publication requests.

use serde::{Deserialize, Serialize};

use super::calendar::WorkCalendar;
use super::date::{Date, Timestamp};
use super::enums::{Vocabulary, vocabulary};

vocabulary! {
    SupervisionStatus {
        Open = "open", "待督办", "Open";
        Noticed = "noticed", "已发督办通知", "Notice issued";
        Resolved = "resolved", "已办结", "Resolved";
    }
}

/// One overdue stage of one case, followed until the stage is decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supervision {
    pub id: u64,
    pub case_id: u64,
    pub stage: u32,
    pub stage_name: String,
    pub department: String,
    pub measure_name: String,
    pub entity_name: String,
    pub credit_code: String,
    #[serde(default)]
    pub region: Option<String>,
    /// The stage's due day that passed.
    pub due: Date,
    pub opened_on: Date,
    pub status: SupervisionStatus,
    pub notice: Option<SupervisionNotice>,
    pub resolved: Option<Resolution>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisionNotice {
    pub by: String,
    pub at: Timestamp,
    pub text: String,
    /// The day by which the department must have acted.
    pub deadline: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    pub on: Date,
    pub by: String,
    pub note: String,
    /// Working days the stage was late when resolved, as its case counted them (paused days
    /// not counted); older records count from the due day.
    #[serde(default)]
    pub days_late: Option<u32>,
}

impl Supervision {
    /// Working days the stage is late on `today` — as the queue and the time limits count —
    /// or, once resolved, was late on the day it was resolved.
    pub fn days_late(&self, today: Date, cal: &WorkCalendar) -> u32 {
        match &self.resolved {
            Some(Resolution { days_late: Some(n), .. }) => *n,
            Some(r) => cal.working_days_between(self.due, r.on.min(today)),
            None => cal.working_days_between(self.due, today),
        }
    }

    /// A notice's own deadline has passed without the stage being decided.
    pub fn notice_overdue(&self, today: Date) -> bool {
        self.status == SupervisionStatus::Noticed && self.notice.as_ref().is_some_and(|n| today > n.deadline)
    }
}

vocabulary! {
    NoticeKind {
        DueSoon = "due_soon", "即将到期", "Due soon";
        Overdue = "overdue", "已超期", "Overdue";
        Supervision = "supervision", "督办通知", "Supervision notice";
        Expiry = "expiry", "事项即将到期", "Measure expiring";
        Publication = "publication", "发布审批", "Publication approval";
        Objection = "objection", "公示异议", "Objection";
    }
}

/// A message to a department's staff (工作提醒).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub id: u64,
    pub department: String,
    pub at: Timestamp,
    pub day: Date,
    pub kind: NoticeKind,
    pub title: String,
    pub body: String,
    /// Where to act: a case or measure page.
    pub link: Option<String>,
    pub read_at: Option<Timestamp>,
}
