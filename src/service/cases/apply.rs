//! The applicant's side: open a case, save its form, submit or resubmit it, withdraw it.
//! Each user action is one write transaction, and returns the case as the caller then shows it.

use std::collections::BTreeMap;

use super::form::prefill;
use super::{CaseView, check_form, freeze, may_apply, may_see, new_case, unseen};
use crate::model::calendar::WorkCalendar;
use crate::model::case::{Case, CaseAction, CaseActionKind, CaseState, Origin, StageRun};
use crate::model::{CaseId, CreditCode, MeasureId, MeasureVersion, Mode, Vocabulary, Who};
use crate::service::{Result, Service, ServiceError};
use crate::store::prelude::*;
use crate::store::{Tables, WriteTx};

/// The answer to an application for an entity that does not exist or that the caller may not
/// apply for — alike, so that nobody learns from it which credit codes exist.
pub fn no_applicant(code: &str) -> ServiceError {
    ServiceError::NotFound(format!(
        "不能为 {code} 申报：没有这家经营主体，或它不是本账号绑定的企业、未分配给本帮办专员"
    ))
}

/// A credit code an applicant typed or a URL carries; one that does not parse answers as an
/// entity that does not exist.
pub fn applicant_code(text: &str) -> Result<CreditCode> {
    CreditCode::parse_or(text, no_applicant)
}

impl Service {
    /// The version in force of a measure open to cases (published, not withdrawn).
    fn published(tx: &impl Tables, measure_id: u64) -> Result<MeasureVersion> {
        let missing = || ServiceError::NotFound(format!("政策事项 #{measure_id} 不存在或尚未发布"));
        let measure = tx.measure(measure_id)?.ok_or_else(missing)?;
        if let Some(w) = &measure.withdrawn {
            return Err(ServiceError::Conflict(format!("政策事项 #{measure_id} 已于 {} 撤回：{}", w.on, w.reason)));
        }
        let number = measure.published.ok_or_else(missing)?;
        tx.version(measure_id, number)?.ok_or_else(missing)
    }

    pub(super) fn case_or_404(tx: &impl Tables, id: u64) -> Result<Case> {
        tx.case(id)?.ok_or_else(|| unseen(id))
    }

    /// Opens a draft case for the entity and the measure (or returns the one already under
    /// way), with the form filled in from the entity library.
    pub fn case_open(&self, who: &Who, credit_code: &CreditCode, measure_id: MeasureId) -> Result<CaseView> {
        let (code, measure_id) = (credit_code.as_str(), measure_id.get());
        let today = self.today();
        let tx = self.store.write()?;
        // A missing entity and one the caller may not apply for answer alike: nobody learns
        // from this which credit codes exist.
        let no_entity = || no_applicant(code);
        let entity = tx.entity_by_code(code)?.ok_or_else(no_entity)?;
        if !may_apply(&tx, who, code, entity.id)? {
            return Err(no_entity());
        }
        let version = Self::published(&tx, measure_id)?;
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
            return self.view_in(&tx, who, existing);
        }
        if !spec.open_on(today) {
            return Err(ServiceError::Conflict(format!("「{}」不在申报时间内", spec.name)));
        }
        if let Some(until) = super::barred_by(&tx, &entity, &spec.department, today)? {
            return Err(super::barred_error(&spec.department, until));
        }
        let mut case = new_case(tx.next_id("case")?, &version, &entity, tx.now(), who, Origin::Online);
        case.form = prefill(&version, &entity, today);
        tx.put_case(&case, None)?;
        let target = format!("case:{}", case.id);
        tx.audit_new(who, &CaseActionKind::Create.code(), &target, &format!("{code} → measure:{measure_id}"), &case)?;
        self.finish(tx, who, case)
    }

    /// Saves the form of a draft (or of a case returned for supplement).
    pub fn case_save(&self, who: &Who, id: CaseId, form: &BTreeMap<String, String>) -> Result<CaseView> {
        let id = id.get();
        let tx = self.store.write()?;
        let case = self.save_in(&tx, who, id, form)?;
        self.finish(tx, who, case)
    }

    /// The case page's 提交: what was typed is saved and submitted in one transaction. A refused
    /// submission still keeps what was typed: the form is then saved on its own, and the
    /// refusal returned.
    pub fn case_save_and_submit(&self, who: &Who, id: CaseId, form: &BTreeMap<String, String>) -> Result<CaseView> {
        let id = id.get();
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let editable = matches!(Self::case_or_404(&tx, id)?.state, CaseState::Draft | CaseState::Returned);
        if editable {
            self.save_in(&tx, who, id, form)?;
        }
        match self.submit_in(&tx, who, id, Some(form), &calendar) {
            Ok(case) => self.finish(tx, who, case),
            Err(refused) => {
                tx.abort()?;
                if editable {
                    self.case_save(who, CaseId(id), form)?;
                }
                Err(refused)
            }
        }
    }

    fn save_in(&self, tx: &WriteTx, who: &Who, id: u64, form: &BTreeMap<String, String>) -> Result<Case> {
        let before = Self::case_or_404(tx, id)?;
        self.check_applicant(tx, who, &before)?;
        if !matches!(before.state, CaseState::Draft | CaseState::Returned) {
            return Err(ServiceError::Conflict(format!("办件 #{id} 当前为「{}」，不能修改", before.state.label())));
        }
        let version = tx
            .version(before.measure_id, before.version)?
            .ok_or_else(|| ServiceError::Internal(format!("case {id} names a missing version")))?;
        let clean = check_form(&version, form, &before.files, false).map_err(ServiceError::Invalid)?;
        let mut case = before.clone();
        case.form = clean;
        case.updated_at = tx.now();
        tx.put_case(&case, Some(&before))?;
        tx.audit_edit(who, &CaseActionKind::Save.code(), &format!("case:{id}"), "", &before, &case)?;
        Ok(case)
    }

    /// Whether `who` may act for the case's entity (see it, and be bound or assigned to it).
    pub(in crate::service) fn check_applicant(&self, tx: &impl Tables, who: &Who, case: &Case) -> Result<()> {
        if !may_see(who, case) {
            return Err(unseen(case.id));
        }
        if may_apply(tx, who, &case.credit_code, case.entity_id)? {
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
    pub fn case_submit(&self, who: &Who, id: CaseId, form: Option<&BTreeMap<String, String>>) -> Result<CaseView> {
        let id = id.get();
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let case = self.submit_in(&tx, who, id, form, &calendar)?;
        self.finish(tx, who, case)
    }

    fn submit_in(
        &self,
        tx: &WriteTx,
        who: &Who,
        id: u64,
        form: Option<&BTreeMap<String, String>>,
        calendar: &WorkCalendar,
    ) -> Result<Case> {
        let today = self.today();
        let before = Self::case_or_404(tx, id)?;
        self.check_applicant(tx, who, &before)?;
        let form = form.unwrap_or(&before.form).clone();
        let action = match before.state {
            CaseState::Draft => {
                let version = Self::published(tx, before.measure_id)?;
                if !version.spec.open_on(today) {
                    return Err(ServiceError::Conflict(format!("「{}」已不在申报时间内", version.spec.name)));
                }
                let clean = check_form(&version, &form, &before.files, true).map_err(ServiceError::Invalid)?;
                let entity = tx
                    .entity(before.entity_id)?
                    .ok_or_else(|| ServiceError::NotFound(format!("办件 #{id} 的经营主体已不存在")))?;
                if let Some(until) = super::barred_by(tx, &entity, &version.spec.department, today)? {
                    return Err(super::barred_error(&version.spec.department, until));
                }
                let measure =
                    tx.measure(before.measure_id)?.ok_or_else(|| ServiceError::NotFound("政策事项不存在".into()))?;
                let assessment = self.assess(&version, measure.policy_id, &entity, today)?;
                // Stages come from the version in force at submission.
                let mut case = before.clone();
                case.stages = version.spec.review_stages.iter().map(StageRun::new).collect();
                case.department = version.spec.department.clone();
                let frozen = freeze(&version, &assessment, today, clean);
                return self.transition(
                    tx,
                    who,
                    before,
                    case,
                    CaseAction::Submit(Box::new(frozen)),
                    version.spec.budget,
                    calendar,
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
        let budget = Self::current_budget(tx, before.measure_id)?;
        let case = before.clone();
        self.transition(tx, who, before, case, action, budget, calendar)
    }

    /// The enterprise (or its specialist) withdraws a case not yet decided.
    pub fn case_withdraw(&self, who: &Who, id: CaseId) -> Result<CaseView> {
        let id = id.get();
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let before = Self::case_or_404(&tx, id)?;
        self.check_applicant(&tx, who, &before)?;
        let case = before.clone();
        let case = self.transition(&tx, who, before, case, CaseAction::Withdraw, None, &calendar)?;
        self.finish(tx, who, case)
    }

    /// The case as `who` sees it, read in the transaction that wrote it.
    pub(super) fn view_in(&self, tx: &impl Tables, who: &Who, case: Case) -> Result<CaseView> {
        Ok(super::for_viewer(who, self.views(tx)?.view(case)?))
    }

    /// Commits a user action's transaction and returns the case as `who` now sees it.
    pub(super) fn finish(&self, tx: WriteTx, who: &Who, case: Case) -> Result<CaseView> {
        let view = self.view_in(&tx, who, case)?;
        tx.commit()?;
        Ok(view)
    }
}
