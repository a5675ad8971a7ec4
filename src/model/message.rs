//! Messages in an entity's inbox (站内信): pushes of matched measures, reminders, and every
//! change of a case's state.

use serde::{Deserialize, Serialize};

use super::date::Timestamp;
use super::enums::{Vocabulary, vocabulary};

vocabulary! {
    MessageKind {
        Push = "push", "政策推送", "Policy push";
        Reminder = "reminder", "申报提醒", "Reminder";
        Case = "case", "办件进度", "Case progress";
        Notice = "notice", "通知", "Notice";
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: u64,
    pub entity_id: u64,
    pub at: Timestamp,
    pub kind: MessageKind,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub measure_id: Option<u64>,
    #[serde(default)]
    pub version: Option<u32>,
    #[serde(default)]
    pub case_id: Option<u64>,
    #[serde(default)]
    pub read_at: Option<Timestamp>,
}
