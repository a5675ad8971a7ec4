//! Cases (办件): an enterprise (or a specialist for it) applies for a published measure; the
//! handling department reviews it stage by stage; every change is one write transaction with
//! its audit entry and a message in the entity's inbox. The rules of each move are the pure
//! state machine in `model::case`; here they meet the store, the calendar and the budget.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::{Result, Service, ServiceError};
use crate::model::calendar::WorkCalendar;
use crate::model::case::{
    Case, CaseAction, CaseActor, CaseContext, CaseError, CaseState, Frozen, FrozenCondition, StageRun,
    parse_case_number,
};
use crate::model::message::{Message, MessageKind};
use crate::model::{
    Date, Entity, Field, FieldError, FieldValue, MeasureVersion, Mode, Money, MoneyUnit, Role, Timestamp, Vocabulary,
    Who,
};
use crate::store::prelude::*;
use crate::store::{ReadTx, WriteTx, digest};

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

/// Builds the views of cases as of today, reading each measure's budget and spending once.
struct Views<'a> {
    tx: &'a ReadTx,
    calendar: WorkCalendar,
    today: Date,
    budgets: HashMap<u64, Option<Money>>,
}

impl Views<'_> {
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
        Some(Role::Enterprise) => who.entities.iter().any(|c| c.as_str() == case.credit_code),
        Some(Role::Reviewer | Role::Publisher) => who.department.as_deref() == Some(case.department.as_str()),
        Some(Role::Supervisor | Role::Specialist) => who.sees_region(region.as_ref()),
        Some(Role::Sysadmin) => false,
    }
}

/// Whether `who` may apply, supplement or withdraw for the entity: a user bound to it, or a
/// specialist it is assigned to (帮办分工).
fn may_apply(tx: &ReadTx, who: &Who, credit_code: &str, entity_id: u64) -> Result<bool> {
    Ok(match who.role {
        Some(Role::Enterprise) => who.entities.iter().any(|c| c.as_str() == credit_code),
        Some(Role::Specialist) => match who.user_id {
            Some(user) => tx.specialists_of(entity_id)?.contains(&user),
            None => false,
        },
        _ => false,
    })
}

/// Checks the form against the measure's fields: types always, required fields and
/// materials when `submitting`.
pub fn check_form(
    version: &MeasureVersion,
    form: &BTreeMap<String, String>,
    files: &[crate::model::case::CaseFile],
    submitting: bool,
) -> std::result::Result<BTreeMap<String, String>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut clean = BTreeMap::new();
    for f in &version.spec.form_fields {
        let name = format!("form.{}", f.key);
        if f.kind == "file" {
            continue;
        }
        let value = form.get(&f.key).map(|v| v.trim().to_string()).unwrap_or_default();
        if value.is_empty() {
            if submitting && f.required {
                errors.push(FieldError::new(&name, format!("「{}」为必填项", f.label)));
            }
            continue;
        }
        let problem = match f.kind.as_str() {
            "number" => value.parse::<f64>().ok().filter(|n| n.is_finite()).is_none().then(|| "应为数字".to_string()),
            "money" => Money::parse(&value, MoneyUnit::Wan).err().map(|e| e.to_string()),
            "date" => Date::parse(&value).err().map(|e| e.to_string()),
            "select" => (!f.options.contains(&value)).then(|| format!("应为以下之一：{}", f.options.join("、"))),
            _ => (value.chars().count() > 5000).then(|| "内容过长（最多 5000 字）".to_string()),
        };
        match problem {
            Some(p) => errors.push(FieldError::new(&name, format!("「{}」{p}", f.label))),
            None => {
                clean.insert(f.key.clone(), value);
            }
        }
    }
    if submitting {
        for slot in material_slots(version, files).iter().filter(|s| s.required && s.files.is_empty()) {
            let is_field = version.spec.form_fields.iter().any(|f| f.kind == "file" && f.key == slot.key);
            let field = if is_field { format!("form.{}", slot.key) } else { format!("material.{}", slot.key) };
            errors.push(FieldError::new(&field, format!("请上传申报材料「{}」", slot.name)));
        }
    }
    if errors.is_empty() { Ok(clean) } else { Err(errors) }
}

/// One slot of an application's materials: a listed material or a file field of the form, with
/// the files uploaded for it — the checklist the enterprise works through.
#[derive(Debug, Clone, Serialize)]
pub struct MaterialSlot {
    /// What an attachment names as its slot: the material's name, or the file field's key.
    pub key: String,
    /// What people read.
    pub name: String,
    /// Must be uploaded before submitting.
    pub required: bool,
    /// A file to upload (not something the platform checks by itself).
    pub upload: bool,
    pub files: Vec<SlotFile>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlotFile {
    /// Position in the case's files (for download and removal).
    pub index: usize,
    pub name: String,
    pub size: u64,
    pub uploaded_at: Timestamp,
}

/// The material slots of a measure, each once, in the order the measure lists them, then the
/// file fields of its form, then 其他材料; each with the case's files for it. A file whose slot
/// the version no longer names is shown under 其他材料, never lost.
pub fn material_slots(version: &MeasureVersion, files: &[crate::model::case::CaseFile]) -> Vec<MaterialSlot> {
    use crate::model::policy::OTHER_MATERIALS;
    let mut slots: Vec<MaterialSlot> = Vec::new();
    let mut add = |key: &str, name: &str, required: bool, upload: bool| {
        if !slots.iter().any(|s| s.key == key || s.name == name) {
            slots.push(MaterialSlot { key: key.into(), name: name.into(), required, upload, files: Vec::new() });
        }
    };
    for m in &version.spec.materials {
        let upload = material_needs_upload(m);
        add(m, m, upload, upload);
    }
    for f in version.spec.form_fields.iter().filter(|f| f.kind == "file") {
        add(&f.key, &f.label, f.required, true);
    }
    add(OTHER_MATERIALS, OTHER_MATERIALS, false, true);
    for (index, f) in files.iter().enumerate() {
        let file = SlotFile { index, name: f.name.clone(), size: f.size, uploaded_at: f.uploaded_at };
        let at = slots.iter().position(|s| s.key == f.slot).unwrap_or(slots.len().saturating_sub(1));
        if let Some(slot) = slots.get_mut(at) {
            slot.files.push(file);
        }
    }
    slots
}

/// Whether a listed material is a file to upload. Lists also name what the platform checks
/// itself (「无需提交材料（系统核验专利数据）」, 「完税证明（系统共享）」): those need none.
pub fn material_needs_upload(name: &str) -> bool {
    !(name.starts_with("无需") || name.contains("系统"))
}

/// The form as the entity library already knows it: fields whose key names a catalogue field.
fn prefill(version: &MeasureVersion, entity: &Entity, today: Date) -> BTreeMap<String, String> {
    let mut form = BTreeMap::new();
    for f in &version.spec.form_fields {
        let known = Field::ALL.iter().find(|x| x.name() == f.key).and_then(|x| entity.get(*x, today));
        if let Some(v) = known {
            let text = match v {
                FieldValue::Money(m) => m.to_string(),
                other => other.to_text(),
            };
            form.insert(f.key.clone(), text);
        }
    }
    form
}

fn message(tx: &WriteTx, case: &Case, kind: MessageKind, title: String, body: String) -> Result<()> {
    let m = Message {
        id: tx.next_id("message")?,
        entity_id: case.entity_id,
        at: Timestamp::now(),
        kind,
        title,
        body,
        measure_id: Some(case.measure_id),
        version: Some(case.version),
        case_id: Some(case.id),
        read_at: None,
    };
    tx.put_message(&m)?;
    Ok(())
}

impl Service {
    /// The version in force of a measure open to cases (published, not withdrawn).
    fn published(tx: &ReadTx, measure_id: u64) -> Result<MeasureVersion> {
        let missing = || ServiceError::NotFound(format!("政策事项 #{measure_id} 不存在或尚未发布"));
        let measure = tx.measure(measure_id)?.ok_or_else(missing)?;
        if let Some(w) = &measure.withdrawn {
            return Err(ServiceError::Conflict(format!("政策事项 #{measure_id} 已于 {} 撤回：{}", w.on, w.reason)));
        }
        let number = measure.published.ok_or_else(missing)?;
        tx.version(measure_id, number)?.ok_or_else(missing)
    }

    fn budget_left(tx: &WriteTx, measure: u64, budget: Option<Money>) -> Result<Option<Money>> {
        match budget {
            Some(b) => Ok(Some(Money(b.fen() - tx.spent(measure)?))),
            None => Ok(None),
        }
    }

    /// The measure's budget as its version in force says: one figure for every approval,
    /// whichever version a case was decided under.
    fn current_budget(tx: &WriteTx, measure: u64) -> Result<Option<Money>> {
        Ok(tx.published_version(measure)?.and_then(|v| v.spec.budget))
    }

    fn case_or_404(tx: &WriteTx, id: u64) -> Result<Case> {
        tx.case(id)?.ok_or_else(|| unseen(id))
    }

    /// Opens a draft case for the entity and the measure (or returns the one already under
    /// way), with the form filled in from the entity library.
    pub fn case_open(&self, who: &Who, credit_code: &str, measure_id: u64) -> Result<Case> {
        let today = self.today();
        let code = credit_code.trim().to_ascii_uppercase();
        let tx = self.store.write()?;
        // A missing entity and one the caller may not apply for answer alike: nobody learns
        // from this which credit codes exist.
        let no_entity = || {
            ServiceError::NotFound(format!(
                "不能为 {code} 申报：没有这家经营主体，或它不是本账号绑定的企业、未分配给本帮办专员"
            ))
        };
        let entity = tx.entity_by_code(&code)?.ok_or_else(no_entity)?;
        if !may_apply(&self.store.read()?, who, &code, entity.id)? {
            return Err(no_entity());
        }
        let version = Self::published(&self.store.read()?, measure_id)?;
        let spec = &version.spec;
        if !matches!(spec.mode, Mode::Apply | Mode::Instant) {
            return Err(ServiceError::Conflict(format!("「{}」是{}事项，无需申报", spec.name, spec.mode.label())));
        }
        let standing =
            tx.cases_of_entity(entity.id)?.into_iter().find(|c| c.measure_id == measure_id && c.state.stands());
        if let Some(existing) = standing {
            if existing.state == CaseState::Approved {
                return Err(ServiceError::Conflict(format!(
                    "「{}」已获批（办件 #{}），不能重复申报",
                    spec.name, existing.id
                )));
            }
            return Ok(existing);
        }
        if !spec.open_on(today) {
            return Err(ServiceError::Conflict(format!("「{}」不在申报时间内", spec.name)));
        }
        let now = Timestamp::now();
        let case = Case {
            id: tx.next_id("case")?,
            measure_id,
            version: version.version,
            measure_name: spec.name.clone(),
            mode: spec.mode,
            department: spec.department.clone(),
            entity_id: entity.id,
            credit_code: code.clone(),
            entity_name: entity.name.clone().unwrap_or_default(),
            region: entity.region.as_ref().map(|r| r.as_str().to_string()),
            state: CaseState::Draft,
            stage: 0,
            stages: spec.review_stages.iter().map(StageRun::new).collect(),
            form: prefill(&version, &entity, today),
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
        };
        tx.put_case(&case, None)?;
        tx.audit_change(
            who,
            "case.create",
            &format!("case:{}", case.id),
            &format!("{code} → measure:{measure_id}"),
            None,
            Some(digest(&case)?),
        )?;
        tx.commit()?;
        Ok(case)
    }

    /// Saves the form of a draft (or of a case returned for supplement).
    pub fn case_save(&self, who: &Who, id: u64, form: &BTreeMap<String, String>) -> Result<Case> {
        let tx = self.store.write()?;
        let before = Self::case_or_404(&tx, id)?;
        self.check_applicant(who, &before)?;
        if !matches!(before.state, CaseState::Draft | CaseState::Returned) {
            return Err(ServiceError::Conflict(format!("办件 #{id} 当前为「{}」，不能修改", before.state.label())));
        }
        let version = tx
            .version(before.measure_id, before.version)?
            .ok_or_else(|| ServiceError::Internal(format!("case {id} names a missing version")))?;
        let clean = check_form(&version, form, &before.files, false).map_err(ServiceError::Invalid)?;
        let mut case = before.clone();
        case.form = clean;
        case.updated_at = Timestamp::now();
        tx.put_case(&case, Some(&before))?;
        tx.audit_change(who, "case.save", &format!("case:{id}"), "", Some(digest(&before)?), Some(digest(&case)?))?;
        tx.commit()?;
        Ok(case)
    }

    pub(super) fn check_applicant(&self, who: &Who, case: &Case) -> Result<()> {
        if !may_see(who, case) {
            return Err(unseen(case.id));
        }
        if may_apply(&self.store.read()?, who, &case.credit_code, case.entity_id)? {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!(
                "无权办理办件 #{}：不是本账号绑定的企业，或未分配给本帮办专员",
                case.id
            )))
        }
    }

    /// Submits a draft (freezing the entity's values and the version in force, re-checking
    /// eligibility; an `instant` case that passes is approved at once), or resubmits a case
    /// returned for supplement.
    pub fn case_submit(&self, who: &Who, id: u64, form: Option<&BTreeMap<String, String>>) -> Result<Case> {
        let today = self.today();
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let before = Self::case_or_404(&tx, id)?;
        self.check_applicant(who, &before)?;
        let form = form.unwrap_or(&before.form).clone();
        let action = match before.state {
            CaseState::Draft => {
                let version = Self::published(&self.store.read()?, before.measure_id)?;
                if !version.spec.open_on(today) {
                    return Err(ServiceError::Conflict(format!("「{}」已不在申报时间内", version.spec.name)));
                }
                let clean = check_form(&version, &form, &before.files, true).map_err(ServiceError::Invalid)?;
                let entity = tx
                    .entity(before.entity_id)?
                    .ok_or_else(|| ServiceError::NotFound(format!("办件 #{id} 的经营主体已不存在")))?;
                let measure =
                    tx.measure(before.measure_id)?.ok_or_else(|| ServiceError::NotFound("政策事项不存在".into()))?;
                let super::matching::Assessment { matched: m, values } =
                    self.assess(&version, measure.policy_id, &entity, today)?;
                let conditions = version
                    .spec
                    .conditions
                    .iter()
                    .zip(m.conditions())
                    .map(|(c, e)| FrozenCondition {
                        label: c.label.clone(),
                        expr: c.expr.clone(),
                        outcome: e.outcome.key().to_string(),
                        text: e.text.clone(),
                    })
                    .collect();
                // Stages come from the version in force at submission.
                let mut case = before.clone();
                case.stages = version.spec.review_stages.iter().map(StageRun::new).collect();
                case.department = version.spec.department.clone();
                let frozen = Frozen {
                    version: version.version,
                    as_of: today,
                    outcome: m.outcome.key().to_string(),
                    conditions,
                    amount: m.amount_wan.and_then(Money::from_wan_f64),
                    amount_note: m.amount_note.clone(),
                    values,
                    form: clean,
                };
                return self.transition(
                    tx,
                    who,
                    before,
                    case,
                    CaseAction::Submit(Box::new(frozen)),
                    version.spec.budget,
                    &calendar,
                );
            }
            CaseState::Returned => {
                let version = tx
                    .version(before.measure_id, before.version)?
                    .ok_or_else(|| ServiceError::Internal(format!("case {id} names a missing version")))?;
                let clean = check_form(&version, &form, &before.files, true).map_err(ServiceError::Invalid)?;
                CaseAction::Resubmit(clean)
            }
            other => {
                return Err(ServiceError::Conflict(format!("办件 #{id} 当前为「{}」，不能提交", other.label())));
            }
        };
        let budget = Self::current_budget(&tx, before.measure_id)?;
        let case = before.clone();
        self.transition(tx, who, before, case, action, budget, &calendar)
    }

    /// A reviewer's decision at the case's current stage.
    pub fn case_decide(&self, who: &Who, id: u64, decision: Decision) -> Result<Case> {
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let before = Self::case_or_404(&tx, id)?;
        if !may_see(who, &before) {
            return Err(unseen(id));
        }
        let action = match decision {
            Decision::Approve(note) => CaseAction::Approve { note },
            Decision::Reject(reason) => CaseAction::Reject { reason },
            Decision::Return(reason) => CaseAction::Return { reason },
        };
        let budget = Self::current_budget(&tx, before.measure_id)?;
        let case = before.clone();
        self.transition(tx, who, before, case, action, budget, &calendar)
    }

    /// A reviewer's decision, and the next case of their queue they can decide (soonest due
    /// first, this one left out), for the page to offer.
    pub fn case_decide_next(&self, who: &Who, id: u64, decision: Decision) -> Result<(Case, Option<CaseView>)> {
        let case = self.case_decide(who, id, decision)?;
        let today = self.today();
        let calendar = self.calendar()?;
        let tx = self.store.read()?;
        let department = who.department.as_deref();
        let next = tx
            .open_cases(department)?
            .into_iter()
            .filter(|c| {
                c.id != id
                    && c.state == CaseState::InReview
                    && may_see(who, c)
                    && c.current_stage().is_some_and(|s| Some(s.role) == who.role)
            })
            .min_by_key(|c| (c.days_left(today, &calendar).unwrap_or(i64::MAX), c.id));
        let next = match next {
            Some(c) => Some(for_viewer(who, self.views(&tx)?.view(c)?)),
            None => None,
        };
        Ok((case, next))
    }

    /// The enterprise (or its specialist) withdraws a case not yet decided.
    pub fn case_withdraw(&self, who: &Who, id: u64) -> Result<Case> {
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let before = Self::case_or_404(&tx, id)?;
        self.check_applicant(who, &before)?;
        let case = before.clone();
        self.transition(tx, who, before, case, CaseAction::Withdraw, None, &calendar)
    }

    /// Approves a case waiting for budget once the budget allows it.
    pub fn case_release(&self, who: &Who, id: u64) -> Result<Case> {
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let before = Self::case_or_404(&tx, id)?;
        if !may_see(who, &before) {
            return Err(unseen(id));
        }
        let budget = Self::current_budget(&tx, before.measure_id)?;
        let case = before.clone();
        self.transition(tx, who, before, case, CaseAction::Release, budget, &calendar)
    }

    /// Runs one action of the state machine and writes its result: the case and its indexes,
    /// the measure's approved total, a message to the entity and the audit entry.
    #[allow(clippy::too_many_arguments)]
    fn transition(
        &self,
        tx: WriteTx,
        who: &Who,
        before: Case,
        mut case: Case,
        action: CaseAction,
        budget: Option<Money>,
        calendar: &WorkCalendar,
    ) -> Result<Case> {
        let ctx = CaseContext {
            now: Timestamp::now(),
            today: self.today(),
            calendar,
            budget_left: Self::budget_left(&tx, case.measure_id, budget)?,
            max_returns: MAX_RETURNS,
        };
        case.act(&actor(who), action, &ctx)?;
        if case.state == CaseState::Approved && before.state != CaseState::Approved {
            let total = tx.add_spent(case.measure_id, case.approved_amount.map_or(0, Money::fen))?;
            if budget.is_some_and(|b| total > b.fen()) {
                return Err(ServiceError::Conflict("资金总额不足，不能批准（请稍后重试）".into()));
            }
        }
        tx.put_case(&case, Some(&before))?;
        super::supervision::resolve_with_case(&tx, who, &before, &case, ctx.today, calendar)?;
        let event = case.history.last().cloned();
        if let Some(e) = &event {
            let stage = e.stage.and_then(|i| case.stages.get(i)).map(|s| s.name.clone()).unwrap_or_default();
            let mut body = format!("{}：{}", e.action.label(), case.state.label());
            if !stage.is_empty() {
                body = format!("{stage}环节{body}");
            }
            if !e.note.is_empty() {
                body.push_str(&format!("。意见：{}", e.note));
            }
            if let Some(a) = case.approved_amount.filter(|_| case.state == CaseState::Approved) {
                body.push_str(&format!("。核定金额 {a} 万元"));
            }
            body.push_str(&format!("。下一步：{}", case.next_step()));
            message(&tx, &case, MessageKind::Case, format!("办件进度：{}", case.measure_name), body)?;
            tx.audit_change(
                who,
                &format!("case.{}", e.action.key()),
                &format!("case:{}", case.id),
                format!("{} → {} {}", e.from.key(), e.to.key(), e.note).trim(),
                Some(digest(&before)?),
                Some(digest(&case)?),
            )?;
        }
        tx.commit()?;
        Ok(case)
    }

    /// One case, if `who` may see it.
    pub fn case_get(&self, who: &Who, id: u64) -> Result<CaseView> {
        let tx = self.store.read()?;
        let case = tx.case(id)?.filter(|c| may_see(who, c)).ok_or_else(|| unseen(id))?;
        Ok(for_viewer(who, self.views(&tx)?.view(case)?))
    }

    /// One case with the measure version it was opened or decided under (its form and materials).
    pub fn case_with_version(&self, who: &Who, id: u64) -> Result<(CaseView, Option<MeasureVersion>)> {
        let view = self.case_get(who, id)?;
        let version = self.store.read()?.version(view.case.measure_id, view.case.version)?;
        Ok((view, version))
    }

    fn views<'a>(&self, tx: &'a ReadTx) -> Result<Views<'a>> {
        Ok(Views { tx, calendar: self.calendar()?, today: self.today(), budgets: HashMap::new() })
    }

    /// An entity's cases, newest first.
    pub fn cases_of_entity(&self, who: &Who, credit_code: &str) -> Result<Vec<CaseView>> {
        let code = credit_code.trim().to_ascii_uppercase();
        let tx = self.store.read()?;
        let entity = tx.entity_id_by_code(&code)?.map(|id| tx.entity(id)).transpose()?.flatten();
        let assigned = |id: u64| -> Result<bool> {
            Ok(who.role == Some(Role::Specialist)
                && who.user_id.is_some_and(|u| tx.specialists_of(id).is_ok_and(|s| s.contains(&u))))
        };
        let readable = match &entity {
            Some(e) => (super::entities::may_read(who, e) || assigned(e.id)?).then_some(e.id),
            None => None,
        };
        let Some(id) = readable else {
            return Err(super::entities::unseen_entity(&code));
        };
        let mut views = self.views(&tx)?;
        let cases = tx.cases_of_entity(id)?;
        cases.into_iter().filter(|c| may_see(who, c)).map(|c| Ok(for_viewer(who, views.view(c)?))).collect()
    }

    /// Open cases `who` may see — a department's review queue, a supervisor's or specialist's
    /// region — the most urgent first.
    /// The first page of the caller's open cases, soonest due first, with the queue's totals.
    pub fn case_queue(&self, who: &Who) -> Result<QueuePage> {
        self.case_queue_filtered(who, &CaseFilter::default())
    }

    /// The queue narrowed by state, lateness, measure or a text in the entity's or measure's
    /// name, soonest due first, one page of it. The whole queue is filtered and ordered on the
    /// case records; only the page is built into views.
    pub fn case_queue_filtered(&self, who: &Who, filter: &CaseFilter) -> Result<QueuePage> {
        let today = self.today();
        let tx = self.store.read()?;
        let cases = self.queue_sorted(&tx, who, filter)?;
        let (total, overdue) = (cases.len(), cases.iter().filter(|c| c.overdue(today)).count());
        let limit = match filter.limit {
            0 => QUEUE_PAGE,
            n => n.min(QUEUE_PAGE_MAX),
        };
        let mut builder = self.views(&tx)?;
        let page = cases
            .into_iter()
            .skip(filter.offset)
            .take(limit)
            .map(|c| builder.view(c).map(|v| for_viewer(who, v)))
            .collect::<Result<Vec<_>>>()?;
        Ok(QueuePage { total, overdue, offset: filter.offset, limit, cases: page })
    }

    /// The whole queue as `filter` narrows and orders it (its page ignored), as views.
    pub(super) fn queue_all(&self, who: &Who, filter: &CaseFilter) -> Result<Vec<CaseView>> {
        let tx = self.store.read()?;
        let cases = self.queue_sorted(&tx, who, filter)?;
        let mut builder = self.views(&tx)?;
        cases.into_iter().map(|c| builder.view(c).map(|v| for_viewer(who, v))).collect()
    }

    /// The case records of the queue, filtered and ordered.
    fn queue_sorted(&self, tx: &ReadTx, who: &Who, filter: &CaseFilter) -> Result<Vec<Case>> {
        let q = filter.q.trim().to_string();
        let upper = q.to_ascii_uppercase();
        let today = self.today();
        let calendar = self.calendar()?;
        let department = match who.role {
            Some(Role::Reviewer | Role::Publisher) => match who.department.as_deref() {
                Some(d) => Some(d),
                None => return Ok(Vec::new()),
            },
            _ => None,
        };
        let mut cases: Vec<(i64, u64, Case)> = tx
            .open_cases(department)?
            .into_iter()
            .filter(|c| {
                may_see(who, c)
                    && filter.state.is_none_or(|s| c.state == s)
                    && (!filter.overdue || c.overdue(today))
                    && filter.measure.is_none_or(|m| c.measure_id == m)
                    && (q.is_empty()
                        || parse_case_number(&q) == Some(c.id)
                        || c.entity_name.contains(&q)
                        || c.measure_name.contains(&q)
                        || c.credit_code.contains(&upper))
            })
            .map(|c| (c.days_left(today, &calendar).unwrap_or(i64::MAX), c.id, c))
            .collect();
        cases.sort_by(|(left_a, id_a, a), (left_b, id_b, b)| {
            let order = match filter.sort {
                QueueSort::Due => left_a.cmp(left_b),
                QueueSort::Submitted => a.submitted_on.cmp(&b.submitted_on),
                QueueSort::Entity => a.entity_name.cmp(&b.entity_name),
                QueueSort::Amount => case_amount(a).map(Money::fen).cmp(&case_amount(b).map(Money::fen)),
            };
            if filter.desc { order.reverse() } else { order }.then(id_a.cmp(id_b))
        });
        Ok(cases.into_iter().map(|(_, _, c)| c).collect())
    }

    /// The entity's inbox, newest first, and how many are unread.
    pub fn inbox(&self, credit_code: &str, limit: usize) -> Result<(Vec<Message>, usize)> {
        let tx = self.store.read()?;
        let Some(id) = tx.entity_id_by_code(credit_code)? else { return Ok((Vec::new(), 0)) };
        let all = tx.messages(id, usize::MAX)?;
        let unread = all.iter().filter(|m| m.read_at.is_none()).count();
        Ok((all.into_iter().take(limit).collect(), unread))
    }

    /// Marks a message read (once; audited like every change).
    pub fn inbox_read(&self, who: &Who, credit_code: &str, message: u64) -> Result<Message> {
        let tx = self.store.write()?;
        let id = tx
            .entity_id_by_code(credit_code)?
            .ok_or_else(|| ServiceError::NotFound(format!("经营主体 {credit_code} 不存在")))?;
        let mut m =
            tx.message(id, message)?.ok_or_else(|| ServiceError::NotFound(format!("消息 #{message} 不存在")))?;
        if m.read_at.is_none() {
            m.read_at = Some(Timestamp::now());
            tx.put_message(&m)?;
            tx.audit(who, "inbox.read", &format!("entity:{credit_code}"), &format!("message #{message}"))?;
            tx.commit()?;
        }
        Ok(m)
    }
}
