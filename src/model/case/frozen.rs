//! What a decision rests on, frozen when the case is submitted (or proposed on a list).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::date::Date;
use crate::model::money::Money;

/// The values a decision rests on, frozen at submission: the measure version, every
/// condition's outcome with the actual value, the amount, and the portrait fields the rules read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frozen {
    pub version: u32,
    pub as_of: Date,
    /// `eligible`, `not_eligible` or `unknown`.
    pub outcome: String,
    pub conditions: Vec<FrozenCondition>,
    /// min(formula, cap); `None` when the measure has no formula or it could not be computed.
    pub amount: Option<Money>,
    #[serde(default)]
    pub amount_note: Option<String>,
    /// (field key, label, value as shown) of every field the measure's rules read.
    pub values: Vec<(String, String, String)>,
    /// The form as submitted.
    pub form: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenCondition {
    pub label: String,
    pub expr: String,
    pub outcome: String,
    pub text: String,
}

impl Frozen {
    pub fn eligible(&self) -> bool {
        self.outcome == "eligible"
    }
    pub fn not_eligible(&self) -> bool {
        self.outcome == "not_eligible"
    }
}
