//! 免申即享 lists: a published auto measure proposes, round by round, the entities the library
//! shows eligible (each a case in state `proposed`, its values frozen), and those whose outcome
//! is unknown (待核实, with the fields missing). The department reviews the list; another person
//! confirms it, within the budget.

use serde::{Deserialize, Serialize};

use super::date::{Date, Timestamp};
use super::enums::{Vocabulary, vocabulary};

vocabulary! {
    ListState {
        Proposed = "proposed", "待复核确认", "Awaiting confirmation";
        Confirmed = "confirmed", "已确认", "Confirmed";
    }
}

/// One round of a measure's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoList {
    pub id: u64,
    pub measure_id: u64,
    pub version: u32,
    pub measure_name: String,
    pub department: String,
    /// 第 n 轮 of the measure.
    pub round: u32,
    pub state: ListState,
    /// The day the entity library was read.
    pub as_of: Date,
    pub proposed_by: Option<u64>,
    pub proposed_by_name: String,
    pub proposed_at: Timestamp,
    pub confirmed_by: Option<u64>,
    pub confirmed_by_name: Option<String>,
    pub confirmed_at: Option<Timestamp>,
    /// Entries proposed, and 待核实 entities, when proposed.
    pub proposed: u64,
    pub pending: u64,
    /// The amount of the entries still proposed (or confirmed), in fen; entries removed.
    pub proposed_fen: i64,
    pub removed: u64,
    /// Entries left when confirmed, and their amount in fen.
    pub confirmed: u64,
    pub confirmed_fen: i64,
    /// The entries by city, county, industry section and size when proposed.
    pub totals: Vec<ListTotal>,
    /// Eligible entities left off because a recovery bars them from the department's measures.
    #[serde(default)]
    pub barred: u64,
}

/// One bucket of a list's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListTotal {
    /// `city`, `county`, `section` or `size`.
    pub dimension: String,
    pub label: String,
    pub count: u64,
    pub fen: i64,
}

/// An entity whose outcome was unknown when the list was proposed: what is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub entity_id: u64,
    pub credit_code: String,
    pub entity_name: String,
    pub region: Option<String>,
    /// The labels of the fields the undecided conditions read and the library lacks.
    pub missing: Vec<String>,
    /// The conditions left undecided.
    pub conditions: Vec<String>,
    /// Set when the data supplied since decided the entity: what became of it.
    #[serde(default)]
    pub resolved: Option<Resolved>,
}

/// How a 待核实 entry was settled once its data was supplied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    pub on: crate::model::Date,
    /// Eligible: listed (on a proposed list) or left for the next round (on a confirmed one).
    pub eligible: bool,
    /// Put on this list as this case.
    pub case_id: Option<u64>,
}
