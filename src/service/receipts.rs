//! What an enterprise holds on to around its applications: the receipt of a submitted case
//! (回执), and, on a measure's page, which of its entities may apply or have a case under way.

use serde::Serialize;

use super::cases::{MaterialSlot, material_slots};
use super::{Result, Service, ServiceError};
use crate::model::case::{CaseActionKind, CaseState};
use crate::model::{CaseId, Date, MeasureId, Money, Timestamp, Who};
use crate::store::prelude::*;

/// What an enterprise keeps after submitting (回执): what was submitted, when, the amount frozen
/// at submission and when each stage is due — the running stage's due day, later stages'
/// latest days projected from their limits in working days.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub id: u64,
    pub number: String,
    pub measure_name: String,
    pub department: String,
    pub entity_name: String,
    pub credit_code: String,
    pub state: CaseState,
    /// When it was (last) submitted.
    pub submitted_at: Timestamp,
    pub submitted_on: Date,
    /// The form's fields as labelled by the measure, with what was submitted.
    pub form: Vec<ReceiptField>,
    pub materials: Vec<MaterialSlot>,
    /// The amount frozen at submission, when the measure computes one.
    pub amount: Option<Money>,
    pub amount_note: Option<String>,
    pub stages: Vec<ReceiptStage>,
    /// Specialist filed on the entity's behalf (帮办代办).
    pub on_behalf: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReceiptField {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReceiptStage {
    pub name: String,
    /// The limit in working days.
    pub days: u32,
    pub started: Option<Date>,
    /// The running stage's due day.
    pub due: Option<Date>,
    /// A stage not yet begun: the latest day it is due if every stage before it takes its limit.
    pub projected_due: Option<Date>,
    /// The day it was approved.
    pub approved: Option<Date>,
    /// The clock stands (returned for supplement).
    pub paused: bool,
}

impl Service {
    /// The receipt of a submitted case, for whoever may see the case.
    pub fn case_receipt(&self, who: &Who, id: CaseId) -> Result<Receipt> {
        let id = id.get();
        let crate::service::cases::CaseDetail { view, version, .. } = self.case_detail(who, CaseId(id))?;
        let case = view.case;
        let submitted =
            case.history.iter().rev().find(|e| {
                matches!(e.action, CaseActionKind::Submit | CaseActionKind::Resubmit | CaseActionKind::Instant)
            });
        let (Some(submitted), Some(submitted_on)) = (submitted, case.submitted_on) else {
            return Err(ServiceError::Conflict(format!("办件 {} 尚未提交，还没有回执", view.number)));
        };
        let calendar = self.calendar()?;
        let form = version
            .as_ref()
            .map(|v| {
                v.spec
                    .form_fields
                    .iter()
                    .filter(|f| f.kind != "file")
                    .map(|f| ReceiptField {
                        label: f.label.clone(),
                        value: case.form.get(&f.key).cloned().unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let materials = version.as_ref().map(|v| material_slots(v, &case.files)).unwrap_or_default();
        let mut stages = Vec::new();
        // The day the next stage would begin at the latest: when the one before is due.
        let mut after: Option<Date> = None;
        for (i, s) in case.stages.iter().enumerate() {
            let paused = case.state == CaseState::Returned && i == case.stage;
            let projected_due = match (s.started, s.approved.as_ref()) {
                (None, None) if !paused => after.map(|d| calendar.add_working_days(d, s.days)),
                _ => None,
            };
            after = match s.approved.as_ref() {
                Some((_, day)) => Some(*day),
                None => s.due.or(projected_due),
            };
            stages.push(ReceiptStage {
                name: s.name.clone(),
                days: s.days,
                started: s.started,
                due: s.due,
                projected_due,
                approved: s.approved.as_ref().map(|(_, d)| *d),
                paused,
            });
        }
        let frozen = case.frozen.as_ref();
        Ok(Receipt {
            id: case.id,
            number: view.number.clone(),
            measure_name: case.measure_name.clone(),
            department: case.department.clone(),
            entity_name: case.entity_name.clone(),
            credit_code: case.credit_code.clone(),
            state: case.state,
            submitted_at: submitted.at,
            submitted_on,
            form,
            materials,
            amount: frozen.and_then(|f| f.amount),
            amount_note: frozen.and_then(|f| f.amount_note.clone()),
            stages,
            on_behalf: case.on_behalf,
        })
    }
}

/// One of the caller's entities, as a measure page offers it 我要申报: its case for the
/// measure if one is under way or approved.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyOption {
    pub credit_code: String,
    pub name: String,
    pub case_id: Option<u64>,
    pub case_state: Option<CaseState>,
}

impl Service {
    /// The entities an enterprise account acts for, each with its case for `measure_id` (one not
    /// rejected or withdrawn), for the measure page's 我要申报.
    pub fn apply_options(&self, who: &Who, measure_id: MeasureId) -> Result<Vec<ApplyOption>> {
        let tx = self.store.read()?;
        let mut out = Vec::new();
        for code in &who.entities {
            let Some(entity) = tx.entity_by_code(code.as_str())? else { continue };
            let case = tx
                .cases_of_entity(entity.id)?
                .into_iter()
                .filter(|c| measure_id == c.measure_id)
                .find(|c| c.state.stands());
            out.push(ApplyOption {
                credit_code: code.to_string(),
                name: entity.display_name().to_string(),
                case_id: case.as_ref().map(|c| c.id),
                case_state: case.map(|c| c.state),
            });
        }
        Ok(out)
    }
}
