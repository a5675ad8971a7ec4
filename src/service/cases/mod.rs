//! Cases (办件): an enterprise (or a specialist for it) applies for a published measure; the
//! handling department reviews it stage by stage; every change is one write transaction with
//! its audit entry and a message in the entity's inbox. The rules of each move are the pure
//! state machine in `model::case`; here they meet the store, the calendar and the budget.

mod apply;
pub mod auto;
pub mod board;
pub mod disclosure;
mod form;
pub mod offline;
pub mod payment;
pub mod pending;
mod read;
pub mod recovery;
mod review;

use std::collections::HashMap;

use serde::Serialize;

use super::{Result, ServiceError};
use crate::model::calendar::WorkCalendar;
use crate::model::case::{Case, CaseActor, CaseError, CaseState};
use crate::model::{Date, Money, Role, Vocabulary, Who};
use crate::store::Tables;
use crate::store::prelude::*;

pub use apply::{applicant_code, no_applicant};
pub use form::{MaterialSlot, SlotFile, check_form, material_needs_upload, material_slots};
pub use read::CaseDetail;
pub use review::Decided;

/// The day until which a recovery opened by `department` bars `entity` from that
/// department's measures, when that day is `today` or later.
pub(super) fn barred_by(
    tx: &impl Tables,
    entity: &crate::model::Entity,
    department: &str,
    today: Date,
) -> Result<Option<Date>> {
    if entity.barred_until.is_none_or(|d| d < today) {
        return Ok(None);
    }
    Ok(tx
        .cases_of_entity(entity.id)?
        .iter()
        .filter(|c| c.department == department)
        .filter_map(|c| c.payout.recovery.as_ref()?.bar_until)
        .filter(|d| *d >= today)
        .max())
}

/// The refusal of an application from a barred entity.
pub(super) fn barred_error(department: &str, until: Date) -> ServiceError {
    ServiceError::Conflict(format!("因资金追回，本单位在 {until} 前不能享受「{department}」的政策，期间不能申报"))
}

/// How many times a case may be returned for supplement.
pub const MAX_RETURNS: u32 = 3;

/// What a reviewer decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve(String),
    Reject(String),
    Return(String),
}

impl Decision {
    /// A decision from the words a form or an API call sends (`approve`, `reject`, `return`)
    /// and the reviewer's reason; `None` for any other word.
    pub fn parse(action: &str, reason: String) -> Option<Decision> {
        match action {
            "approve" => Some(Decision::Approve(reason)),
            "reject" => Some(Decision::Reject(reason)),
            "return" => Some(Decision::Return(reason)),
            _ => None,
        }
    }
}

/// Filters of the review queue; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub state: Option<CaseState>,
    pub overdue: bool,
    pub measure: Option<u64>,
    pub q: String,
    /// The page: skip this many, show at most `limit` (0: [`QUEUE_PAGE`]; at most [`QUEUE_PAGE_MAX`]).
    pub offset: usize,
    pub limit: usize,
    /// The order: soonest due first unless another key is asked for; `desc` reverses it.
    pub sort: QueueSort,
    pub desc: bool,
}

/// What the queue is ordered by (ties: the case number).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QueueSort {
    /// Working days left of the current stage (cases without a running clock last).
    #[default]
    Due,
    /// The day of submission (申报日期).
    Submitted,
    /// The entity's name.
    Entity,
    /// The amount frozen at submission (or approved).
    Amount,
}

impl QueueSort {
    pub const KEYS: &'static str = "due、submitted、entity、amount";

    pub fn parse(key: &str) -> Option<QueueSort> {
        match key {
            "" | "due" => Some(QueueSort::Due),
            "submitted" => Some(QueueSort::Submitted),
            "entity" => Some(QueueSort::Entity),
            "amount" => Some(QueueSort::Amount),
            _ => None,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            QueueSort::Due => "due",
            QueueSort::Submitted => "submitted",
            QueueSort::Entity => "entity",
            QueueSort::Amount => "amount",
        }
    }
}

/// The amount a case asks for or was granted.
pub fn case_amount(case: &Case) -> Option<Money> {
    case.approved_amount.or_else(|| case.frozen.as_ref().and_then(|f| f.amount))
}

/// Cases shown per page of a queue, and at most.
pub const QUEUE_PAGE: usize = 50;
pub const QUEUE_PAGE_MAX: usize = 500;

/// One page of a queue, and how many cases the whole queue holds.
#[derive(Debug, Clone, Serialize)]
pub struct QueuePage {
    pub total: usize,
    pub overdue: usize,
    pub offset: usize,
    pub limit: usize,
    pub cases: Vec<CaseView>,
}

/// A case as pages and the API show it: the record plus what follows from today's date.
#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    #[serde(flatten)]
    pub case: Case,
    /// The number people quote (`HQ-2026-000123`).
    pub number: String,
    pub state_label: &'static str,
    pub stage_name: Option<String>,
    pub due: Option<Date>,
    pub days_left: Option<i64>,
    pub overdue: bool,
    pub next_step: &'static str,
    /// What is left of the measure's budget, when it has one.
    pub budget_left: Option<Money>,
    /// The amount asked for (frozen at submission) or approved, in 万元 as text.
    pub amount_wan: Option<String>,
}

impl From<CaseError> for ServiceError {
    fn from(e: CaseError) -> ServiceError {
        match e {
            CaseError::WrongDepartment(_) | CaseError::NotApplicant(_) => ServiceError::Forbidden(e.to_string()),
            CaseError::ReasonRequired(_) => ServiceError::invalid("reason", e.to_string()),
            _ => ServiceError::Conflict(e.to_string()),
        }
    }
}

/// Builds the views of cases as of today, reading each measure's budget and spending once —
/// in a read transaction, or in the write transaction that just changed the case.
struct Views<'a, T: Tables> {
    tx: &'a T,
    calendar: WorkCalendar,
    today: Date,
    budgets: HashMap<u64, Option<Money>>,
}

impl<T: Tables> Views<'_, T> {
    fn view(&mut self, case: Case) -> Result<CaseView> {
        let budget_left = match self.budgets.get(&case.measure_id) {
            Some(left) => *left,
            None => {
                let budget = self.tx.published_version(case.measure_id)?.and_then(|v| v.spec.budget);
                let left = match budget {
                    Some(b) => Some(Money(b.fen() - self.tx.spent(case.measure_id)?)),
                    None => None,
                };
                self.budgets.insert(case.measure_id, left);
                left
            }
        };
        let stage = case.current_stage();
        Ok(CaseView {
            number: case.number(),
            state_label: case.state.label(),
            stage_name: stage.map(|s| s.name.clone()),
            due: stage.and_then(|s| s.due),
            days_left: case.days_left(self.today, &self.calendar),
            overdue: case.overdue(self.today),
            next_step: case.next_step(),
            budget_left,
            amount_wan: case_amount(&case).map(|m| m.to_string()),
            case,
        })
    }
}

/// An enterprise sees the department that acted, never a person's name, nor the budget.
fn for_viewer(who: &Who, mut view: CaseView) -> CaseView {
    if who.role == Some(Role::Enterprise) {
        for e in &mut view.case.history {
            e.actor = match (&e.department, e.actor_role) {
                (Some(d), _) => d.clone(),
                (None, Some(Role::Specialist)) => "帮办专员".into(),
                (None, Some(Role::Enterprise)) => "企业".into(),
                _ => "系统".into(),
            };
        }
        let department = view.case.department.clone();
        for s in &mut view.case.stages {
            if let Some((name, _)) = s.approved.as_mut() {
                *name = department.clone();
            }
        }
        view.case.prepared_by_name = String::new();
        view.budget_left = None;
    }
    view
}

/// A reviewer or publisher of `department`: the staff who act on its cases after the decision
/// (lists, disclosures, objections, payment batches).
fn department_staff(who: &Who, department: &str) -> bool {
    matches!(who.role, Some(Role::Reviewer | Role::Publisher)) && who.department.as_deref() == Some(department)
}

fn actor(who: &Who) -> CaseActor {
    CaseActor { user_id: who.user_id, name: who.name.clone(), role: who.role, department: who.department.clone() }
}

/// A case the caller may not see answers as a missing one does, so that case numbers cannot be
/// probed.
fn unseen(id: u64) -> ServiceError {
    ServiceError::NotFound(format!("办件 #{id} 不存在，或您无权查看"))
}

/// Whether `who` may see the case: the enterprise it belongs to, the handling department,
/// supervisors and specialists within their regions, and the system.
pub fn may_see(who: &Who, case: &Case) -> bool {
    let region = case.region.as_deref().and_then(|r| crate::model::RegionCode::parse(r).ok());
    match who.role {
        None => true,
        Some(Role::Enterprise) => who.acts_for(&case.credit_code),
        Some(Role::Reviewer | Role::Publisher) => who.department.as_deref() == Some(case.department.as_str()),
        Some(Role::Supervisor | Role::Specialist) => who.sees_region(region.as_ref()),
        Some(Role::Sysadmin) => false,
    }
}

/// Whether `who` may apply, supplement or withdraw for the entity: a user bound to it, or a
/// specialist it is assigned to (帮办分工).
fn may_apply(tx: &impl Tables, who: &Who, credit_code: &str, entity_id: u64) -> Result<bool> {
    Ok(match who.role {
        Some(Role::Enterprise) => who.acts_for(credit_code),
        Some(Role::Specialist) => match who.user_id {
            Some(user) => tx.specialists_of(entity_id)?.contains(&user),
            None => false,
        },
        _ => false,
    })
}

/// What a decision rests on, frozen from an assessment of the entity (a submission, a list).
pub(crate) fn freeze(
    version: &crate::model::MeasureVersion,
    a: &crate::service::matching::Assessment,
    today: Date,
    form: std::collections::BTreeMap<String, String>,
) -> crate::model::case::Frozen {
    let m = &a.matched;
    let conditions = version
        .spec
        .conditions
        .iter()
        .zip(m.conditions())
        .map(|(c, e)| crate::model::case::FrozenCondition {
            label: c.label.clone(),
            expr: c.expr.clone(),
            outcome: e.outcome.key().to_string(),
            text: e.text.clone(),
        })
        .collect();
    crate::model::case::Frozen {
        version: version.version,
        as_of: today,
        outcome: m.outcome.key().to_string(),
        conditions,
        amount: m.amount,
        amount_note: m.amount_note.clone(),
        values: a.values.clone(),
        form,
    }
}

/// A new case of an entity for a measure version, as a draft prepared by `who`.
pub(crate) fn new_case(
    id: u64,
    version: &crate::model::MeasureVersion,
    entity: &crate::model::Entity,
    now: crate::model::Timestamp,
    who: &Who,
    origin: crate::model::case::Origin,
) -> Case {
    let spec = &version.spec;
    Case {
        id,
        measure_id: version.measure_id,
        version: version.version,
        measure_name: spec.name.clone(),
        mode: spec.mode,
        department: spec.department.clone(),
        entity_id: entity.id,
        credit_code: entity.credit_code.to_string(),
        entity_name: entity.name.clone().unwrap_or_default(),
        region: entity.region.as_ref().map(|r| r.as_str().to_string()),
        state: CaseState::Draft,
        stage: 0,
        stages: spec.review_stages.iter().map(crate::model::case::StageRun::new).collect(),
        form: Default::default(),
        files: Vec::new(),
        frozen: None,
        approved_amount: None,
        prepared_by: who.user_id,
        prepared_by_name: who.name.clone(),
        on_behalf: who.role == Some(Role::Specialist),
        returns: 0,
        reason: None,
        created_at: now,
        updated_at: now,
        submitted_on: None,
        decided_on: None,
        history: Vec::new(),
        origin,
        payout: Default::default(),
    }
}
