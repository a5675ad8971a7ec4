//! 公示 (DESIGN §5): cases of a measure with `publicity_days > 0` are disclosed in batches for
//! a period of working days — the entity's registered name, region and amount, never a person —
//! and anyone may object under their real name within the period; the department decides
//! within a limit in working days.

use serde::{Deserialize, Serialize};

use super::date::{Date, Timestamp};
use super::enums::{Vocabulary, vocabulary};
use super::policy::FieldError;

/// Working days a department has to decide an objection.
pub const OBJECTION_DAYS: u32 = 5;

/// One disclosure batch of a measure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclosureBatch {
    pub id: u64,
    pub measure_id: u64,
    pub measure_name: String,
    pub department: String,
    /// The policy's 文号.
    pub doc_number: String,
    /// Where objections go (the measure's contact).
    pub contact: String,
    /// The first and the last day of the period, and its length in working days.
    pub from: Date,
    pub until: Date,
    pub days: u32,
    pub rows: u64,
    pub total_fen: i64,
    pub opened_by_name: String,
    pub opened_at: Timestamp,
    /// Every case of the batch has left disclosure (the sweep stops looking at it).
    #[serde(default)]
    pub settled: bool,
}

impl DisclosureBatch {
    /// Whether objections are taken on `day`.
    pub fn open_on(&self, day: Date) -> bool {
        self.from <= day && day <= self.until
    }
}

/// One disclosed row, as the public sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclosureRow {
    pub case_id: u64,
    /// The registered name (for 个体工商户, the business name).
    pub entity_name: String,
    pub region_name: String,
    pub amount_fen: i64,
}

vocabulary! {
    ObjectionState {
        Open = "open", "待处理", "Open";
        Upheld = "upheld", "异议成立", "Upheld";
        Dismissed = "dismissed", "异议不成立", "Dismissed";
    }
}

vocabulary! {
    /// The objector's relation to the case.
    Relation {
        Competitor = "competitor", "同行业经营者", "A competitor";
        Employee = "employee", "企业职工", "An employee";
        Insider = "insider", "知情人", "Someone who knows the facts";
        Other = "other", "其他", "Other";
    }
}

/// An objection (异议) to one disclosed case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objection {
    pub id: u64,
    /// What the objector quotes to follow it up (random, unguessable).
    pub receipt: String,
    pub batch: u64,
    pub case_id: u64,
    pub measure_id: u64,
    pub department: String,
    pub entity_name: String,
    pub name: String,
    pub phone: String,
    pub relation: Relation,
    pub facts: String,
    /// Evidence files: (name, SHA-256) in the file store.
    #[serde(default)]
    pub evidence: Vec<(String, String)>,
    pub filed_at: Timestamp,
    pub filed_on: Date,
    /// The department decides by this day.
    pub due: Date,
    pub state: ObjectionState,
    pub decided_by: Option<String>,
    pub decided_on: Option<Date>,
    pub decision: Option<String>,
    /// Upheld: the case went back to review (else it was rejected).
    #[serde(default)]
    pub to_review: bool,
    /// The department was warned that the decision falls due (the due day warned for), and
    /// told that it is late (supervised like a review stage, by the sweep).
    #[serde(default)]
    pub warned_for: Option<Date>,
    #[serde(default)]
    pub overdue_noticed: bool,
}

/// What an objector fills in.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ObjectionInput {
    #[serde(default)]
    pub case_id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub relation: String,
    #[serde(default)]
    pub facts: String,
}

impl ObjectionInput {
    /// Checks the form: a real name (not 匿名), a phone number, the relation, the facts.
    pub fn check(&self) -> Result<(String, String, Relation, String), Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = self.name.trim().to_string();
        let anonymous =
            ["匿名", "无名", "不愿透露", "保密", "anonymous"].iter().any(|a| name.to_lowercase().contains(a));
        if name.is_empty() || anonymous {
            errors.push(FieldError::new("name", "异议须实名提出，请填写真实姓名（不受理匿名异议）"));
        } else if name.chars().count() < 2 || name.chars().count() > 30 {
            errors.push(FieldError::new("name", "姓名应为 2 至 30 个字"));
        }
        let phone: String = self.phone.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if !(7..=15).contains(&phone.len()) || !phone.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(FieldError::new("phone", "请填写可以联系到您的电话号码（7 至 15 位数字）"));
        }
        let relation = Relation::ALL
            .iter()
            .copied()
            .find(|r| r.key() == self.relation.trim() || r.label() == self.relation.trim());
        if relation.is_none() {
            errors.push(FieldError::new("relation", "请选择您与此事项的关系"));
        }
        let facts = self.facts.trim().to_string();
        if facts.chars().count() < 10 {
            errors.push(FieldError::new("facts", "请写明异议的事实和理由（至少 10 个字）"));
        } else if facts.chars().count() > 2000 {
            errors.push(FieldError::new("facts", "事实和理由最多 2000 字"));
        }
        match relation {
            Some(r) if errors.is_empty() => Ok((name, phone, r, facts)),
            _ => Err(errors),
        }
    }
}
