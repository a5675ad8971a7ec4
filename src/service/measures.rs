//! Drafting and publishing measures: a department's staff write drafts, another person of the
//! department approves their publication (四眼原则), published versions are frozen.

use serde::Serialize;

use super::{Result, Service, ServiceError};
use crate::model::audit::action;
use crate::model::policy::{PublicationRequest, Refusal, Scheduled, Withdrawal};
use crate::model::{Date, Measure, MeasureId, MeasureSpec, MeasureVersion, Role, VersionStatus, Who};
use crate::store::prelude::*;
use crate::store::{ReadTx, WriteTx};

/// A publisher changes only the measures its department handles.
/// Other accounts reach these functions only through the permission table (or are the
/// system itself); a publisher without a department may change nothing.
fn check_department(who: &Who, handler: &str) -> Result<()> {
    match &who.department {
        Some(own) if own != handler.trim() => Err(ServiceError::Forbidden(format!(
            "只能修改本部门（{own}）承办的政策事项；此事项由「{}」承办",
            handler.trim()
        ))),
        None if who.role == Some(Role::Publisher) => Err(ServiceError::Forbidden(
            "此账号尚未设置所属部门，请系统管理员在账号管理中设置后再起草或发布政策".into(),
        )),
        _ => Ok(()),
    }
}

/// Nobody approves the publication of a draft they wrote, edited or asked to publish (四眼原则).
pub(super) fn four_eyes(who: &Who, draft: &MeasureVersion, request: &PublicationRequest) -> Result<()> {
    if draft.editors.contains(&who.name) || draft.created_by == who.name || request.by == who.name {
        return Err(ServiceError::Forbidden(
            "四眼原则：不能审批自己起草、修改或申请发布的草稿，请由本部门另一位工作人员审批".into(),
        ));
    }
    Ok(())
}

/// The drafts of the caller's department (every department's for an account without one) that
/// wait for publication: requested, or approved for a later day.
pub(super) fn publication_queue(tx: &ReadTx, who: &Who) -> Result<Vec<MeasureVersion>> {
    let mut out = Vec::new();
    for m in tx.measures()?.into_iter().filter(Measure::has_draft) {
        if let Some(v) = tx.version(m.id, m.latest)?
            && (v.request.is_some() || v.scheduled.is_some())
            && who.department.as_deref().is_none_or(|d| d == v.spec.department.trim())
        {
            out.push(v);
        }
    }
    Ok(out)
}

/// What a member of staff may do with a measure version they are looking at, by the same rules
/// the actions themselves apply (the role's permissions are the page's to add).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct MeasureActions {
    /// Edit it, ask for its publication, discard the draft: the handling department's staff.
    pub edit: bool,
    /// Approve the pending publication request: the handling department, not its author.
    pub approve: bool,
    /// Open a disclosure batch: the handling department's reviewers and publishers, for a
    /// published measure with `publicity_days > 0`.
    pub may_disclose: bool,
}

impl Service {
    /// What this member of staff may do with the measure's latest version.
    pub fn measure_actions(&self, who: &Who, id: MeasureId) -> Result<MeasureActions> {
        let id = id.get();
        let tx = self.store.read()?;
        let Some(measure) = tx.measure(id)? else { return Ok(MeasureActions::default()) };
        let Some(latest) = tx.version(id, measure.latest)? else { return Ok(MeasureActions::default()) };
        let own = who.role.is_some_and(|r| r.is_staff()) && check_department(who, &latest.spec.department).is_ok();
        let approve = own && latest.request.as_ref().is_some_and(|r| four_eyes(who, &latest, r).is_ok());
        let published = measure.published.and_then(|v| tx.version(id, v).ok().flatten());
        let may_disclose = own
            && matches!(who.role, Some(crate::model::Role::Reviewer | crate::model::Role::Publisher))
            && measure.withdrawn.is_none()
            && published.is_some_and(|v| v.spec.publicity_days > 0);
        Ok(MeasureActions { edit: own, approve, may_disclose })
    }
}

impl Service {
    pub fn measure_create(&self, who: &Who, policy_id: u64, mut spec: MeasureSpec) -> Result<MeasureVersion> {
        spec.validate().map_err(ServiceError::Invalid)?;
        check_department(who, &spec.department)?;
        self.rules_check(&spec)?;
        let tx = self.store.write()?;
        if tx.policy(policy_id)?.is_none() {
            return Err(ServiceError::NotFound(format!("政策 #{policy_id} 不存在")));
        }
        let now = tx.now();
        let measure = Measure::new(tx.next_id("measure")?, policy_id, now);
        let version = MeasureVersion::draft(measure.id, 1, spec, &who.name, now);
        tx.put_measure(&measure)?;
        tx.put_version(&version)?;
        let target = format!("measure:{}", measure.id);
        tx.audit_new(who, action::MEASURE_CREATE, &target, &version.spec.name, &version)?;
        tx.commit()?;
        Ok(version)
    }

    fn measure_or_404(tx: &WriteTx, id: u64) -> Result<Measure> {
        tx.measure(id)?.ok_or_else(|| ServiceError::NotFound(format!("政策事项 #{id} 不存在")))
    }

    /// Edits the draft; when the newest version is published, starts a new draft version.
    pub fn measure_update(&self, who: &Who, id: MeasureId, mut spec: MeasureSpec) -> Result<MeasureVersion> {
        let id = id.get();
        spec.validate().map_err(ServiceError::Invalid)?;
        check_department(who, &spec.department)?;
        self.rules_check(&spec)?;
        let tx = self.store.write()?;
        let mut measure = Self::measure_or_404(&tx, id)?;
        let latest = tx
            .version(id, measure.latest)?
            .ok_or_else(|| ServiceError::Internal(format!("measure {id} has no version {}", measure.latest)))?;
        check_department(who, &latest.spec.department)?;
        if latest.spec == spec {
            return Ok(latest);
        }
        let now = tx.now();
        let version = if latest.status == VersionStatus::Draft {
            // An edit withdraws any request or schedule: what is approved is what was read.
            let mut editors = latest.editors.clone();
            if !editors.contains(&who.name) {
                editors.push(who.name.clone());
            }
            MeasureVersion {
                spec,
                created_at: now,
                created_by: who.name.clone(),
                editors,
                request: None,
                scheduled: None,
                ..latest.clone()
            }
        } else {
            measure.latest += 1;
            tx.put_measure(&measure)?;
            MeasureVersion::draft(id, measure.latest, spec, &who.name, now)
        };
        tx.put_version(&version)?;
        let detail = format!("v{} {}", version.version, version.spec.name);
        tx.audit_edit(who, action::MEASURE_UPDATE, &format!("measure:{id}"), &detail, &latest, &version)?;
        tx.commit()?;
        Ok(version)
    }

    fn draft_of(tx: &WriteTx, measure: &Measure) -> Result<MeasureVersion> {
        if !measure.has_draft() {
            return Err(ServiceError::Conflict(format!(
                "政策事项 #{} 没有待发布的草稿（当前版本 v{} 已发布）",
                measure.id, measure.latest
            )));
        }
        tx.version(measure.id, measure.latest)?
            .ok_or_else(|| ServiceError::Internal(format!("measure {} has no version {}", measure.id, measure.latest)))
    }

    /// The drafter asks for publication, optionally from a later day; another person of the
    /// department approves it (四眼原则).
    pub fn measure_request_publication(
        &self,
        who: &Who,
        id: MeasureId,
        publish_on: Option<Date>,
    ) -> Result<MeasureVersion> {
        let id = id.get();
        let today = self.today();
        if publish_on.is_some_and(|d| d < today) {
            return Err(ServiceError::invalid("publish_on", format!("生效日期不能早于今天（{today}）")));
        }
        let tx = self.store.write()?;
        let measure = Self::measure_or_404(&tx, id)?;
        let before = Self::draft_of(&tx, &measure)?;
        check_department(who, &before.spec.department)?;
        let mut spec = before.spec.clone();
        spec.validate().map_err(ServiceError::Invalid)?;
        self.rules_check(&spec)?;
        let mut draft = before.clone();
        draft.request = Some(PublicationRequest { by: who.name.clone(), at: tx.now(), publish_on });
        draft.refusal = None;
        draft.scheduled = None;
        tx.put_version(&draft)?;
        let detail = format!(
            "v{} {}{}",
            draft.version,
            draft.spec.name,
            publish_on.map(|d| format!(" 生效日 {d}")).unwrap_or_default()
        );
        tx.audit_edit(who, action::MEASURE_REQUEST_PUBLICATION, &format!("measure:{id}"), &detail, &before, &draft)?;
        tx.commit()?;
        Ok(draft)
    }

    /// Refuses a request to publish, with the reason the drafter reads.
    pub fn measure_refuse_publication(&self, who: &Who, id: MeasureId, reason: &str) -> Result<MeasureVersion> {
        let id = id.get();
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(ServiceError::invalid("reason", "退回发布申请时请写明理由"));
        }
        let tx = self.store.write()?;
        let measure = Self::measure_or_404(&tx, id)?;
        let before = Self::draft_of(&tx, &measure)?;
        check_department(who, &before.spec.department)?;
        if before.request.is_none() && before.scheduled.is_none() {
            return Err(ServiceError::Conflict(format!("政策事项 #{id} 没有待审批的发布申请")));
        }
        let mut draft = before.clone();
        draft.request = None;
        draft.scheduled = None;
        draft.refusal = Some(Refusal { by: who.name.clone(), at: tx.now(), reason: reason.to_string() });
        tx.put_version(&draft)?;
        tx.audit_edit(who, action::MEASURE_REFUSE_PUBLICATION, &format!("measure:{id}"), reason, &before, &draft)?;
        tx.commit()?;
        Ok(draft)
    }

    /// Approves a requested draft: publishes it now, or schedules it for its day. Nobody
    /// approves what they wrote or asked for. The program itself (the command line, the demo,
    /// the scheduled sweep) publishes directly.
    pub fn measure_publish(&self, who: &Who, id: MeasureId) -> Result<MeasureVersion> {
        let id = id.get();
        let tx = self.store.write()?;
        let mut measure = Self::measure_or_404(&tx, id)?;
        if let Some(latest) = tx.version(id, measure.latest)? {
            check_department(who, &latest.spec.department)?;
        }
        let mut draft = Self::draft_of(&tx, &measure)?;
        let before = draft.clone();
        if who.role.is_some() {
            let Some(request) = draft.request.clone() else {
                return Err(ServiceError::Conflict(format!(
                    "政策事项 #{id} 尚未提交发布申请：请起草人先提交，再由本部门另一位工作人员审批发布"
                )));
            };
            four_eyes(who, &draft, &request)?;
            if let Some(on) = request.publish_on.filter(|d| *d > self.today()) {
                draft.request = None;
                draft.scheduled = Some(Scheduled { approved_by: who.name.clone(), at: tx.now(), on });
                tx.put_version(&draft)?;
                let detail = format!("v{} {} 将于 {on} 生效", draft.version, draft.spec.name);
                tx.audit_edit(who, action::MEASURE_SCHEDULE, &format!("measure:{id}"), &detail, &before, &draft)?;
                tx.commit()?;
                return Ok(draft);
            }
        }
        let mut spec = draft.spec.clone();
        spec.validate().map_err(ServiceError::Invalid)?;
        self.rules_check(&spec)?;
        if let Some(old) = measure.published
            && let Some(mut prev) = tx.version(id, old)?
        {
            prev.status = VersionStatus::Superseded;
            tx.put_version(&prev)?;
        }
        let approver = draft.scheduled.take().map_or_else(|| who.name.clone(), |s| s.approved_by);
        draft.status = VersionStatus::Published;
        draft.published_at = Some(tx.now());
        draft.published_by = Some(approver);
        draft.request = None;
        measure.published = Some(draft.version);
        measure.withdrawn = None;
        measure.warned.clear();
        tx.put_version(&draft)?;
        tx.put_measure(&measure)?;
        let detail = format!("v{} {}", draft.version, draft.spec.name);
        tx.audit_edit(who, action::MEASURE_PUBLISH, &format!("measure:{id}"), &detail, &before, &draft)?;
        self.commit_publish(tx, &measure, &draft.spec, draft.version)?;
        Ok(draft)
    }

    /// Publishes the drafts whose scheduled day has come; returns how many.
    pub fn publish_scheduled(&self) -> Result<usize> {
        let today = self.today();
        let due: Vec<MeasureId> = {
            let tx = self.store.read()?;
            let mut ids = Vec::new();
            for m in tx.measures()?.into_iter().filter(|m| m.has_draft() && m.withdrawn.is_none()) {
                if tx.version(m.id, m.latest)?.and_then(|v| v.scheduled).is_some_and(|s| s.on <= today) {
                    ids.push(MeasureId(m.id));
                }
            }
            ids
        };
        let system = Who::system("scheduled-publication");
        let mut published = 0;
        for id in &due {
            match self.measure_publish(&system, *id) {
                Ok(_) => published += 1,
                // A draft that no longer checks (say a tag it reads was removed) goes back to
                // its department with the reason; the sweep goes on.
                Err(e @ (ServiceError::Invalid(_) | ServiceError::Conflict(_))) => {
                    tracing::warn!(measure = id.get(), "scheduled publication refused: {e}");
                    self.measure_refuse_publication(&system, *id, &format!("定时发布未能完成：{e}"))?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(published)
    }

    /// Drafts waiting for someone to approve their publication, in `who`'s department (all
    /// for an account without one).
    pub fn publication_queue(&self, who: &Who) -> Result<Vec<MeasureVersion>> {
        publication_queue(&self.store.read()?, who)
    }

    /// Takes a published measure back: no more matching, pushing or applications. The reason
    /// is shown publicly. Cases already submitted go on.
    pub fn measure_withdraw(&self, who: &Who, id: MeasureId, reason: &str) -> Result<Measure> {
        let id = id.get();
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(ServiceError::invalid("reason", "撤回政策事项时请写明理由，它会向社会公开"));
        }
        let tx = self.store.write()?;
        let before = Self::measure_or_404(&tx, id)?;
        let Some(number) = before.published.filter(|_| before.withdrawn.is_none()) else {
            return Err(ServiceError::Conflict(format!("政策事项 #{id} 未发布或已撤回")));
        };
        if let Some(v) = tx.version(id, number)? {
            check_department(who, &v.spec.department)?;
        }
        // A draft waiting for approval or its day would bring the measure back: it goes back
        // to being a plain draft.
        if before.has_draft()
            && let Some(mut draft) = tx.version(id, before.latest)?
            && (draft.request.is_some() || draft.scheduled.is_some())
        {
            draft.request = None;
            draft.scheduled = None;
            draft.refusal =
                Some(Refusal { by: who.name.clone(), at: tx.now(), reason: format!("事项已撤回：{reason}") });
            tx.put_version(&draft)?;
        }
        let mut measure = before.clone();
        measure.withdrawn =
            Some(Withdrawal { by: who.name.clone(), at: tx.now(), on: self.today(), reason: reason.to_string() });
        tx.put_measure(&measure)?;
        tx.audit_edit(who, action::MEASURE_WITHDRAW, &format!("measure:{id}"), reason, &before, &measure)?;
        self.commit_withdraw(tx, id)?;
        Ok(measure)
    }

    /// Throws away an unpublished draft that follows a published version.
    pub fn measure_discard_draft(&self, who: &Who, id: MeasureId) -> Result<()> {
        let id = id.get();
        let tx = self.store.write()?;
        let mut measure = Self::measure_or_404(&tx, id)?;
        let Some(published) = measure.published.filter(|_| measure.has_draft()) else {
            return Err(ServiceError::Conflict(format!("政策事项 #{id} 没有可放弃的草稿（从未发布的事项请直接修改）")));
        };
        let draft = measure.latest;
        if let Some(v) = tx.version(id, draft)? {
            check_department(who, &v.spec.department)?;
        }
        tx.delete_version(id, draft)?;
        measure.latest = published;
        tx.put_measure(&measure)?;
        tx.audit(who, action::MEASURE_DISCARD_DRAFT, &format!("measure:{id}"), &format!("v{draft}"))?;
        tx.commit()?;
        Ok(())
    }
}
