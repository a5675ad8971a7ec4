//! The policy library: policies, measures, drafts and immutable published versions, search.

use serde::{Deserialize, Serialize};

use super::{Result, Service, ServiceError};
use crate::model::policy::{PublicationRequest, Refusal, Scheduled, Withdrawal};
use crate::model::{
    Category, Date, Level, Measure, MeasureSpec, MeasureVersion, Mode, Policy, PolicyInput, Role, TagDictionary,
    Timestamp, VersionStatus, Who,
};
use crate::store::prelude::*;
use crate::store::{ReadTx, WriteTx, digest};

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
}

impl Service {
    /// What this member of staff may do with the measure's latest version.
    pub fn measure_actions(&self, who: &Who, id: u64) -> Result<MeasureActions> {
        let tx = self.store.read()?;
        let Some(measure) = tx.measure(id)? else { return Ok(MeasureActions::default()) };
        let Some(latest) = tx.version(id, measure.latest)? else { return Ok(MeasureActions::default()) };
        let own = who.role.is_some_and(|r| r.is_staff()) && check_department(who, &latest.spec.department).is_ok();
        let approve = own && latest.request.as_ref().is_some_and(|r| four_eyes(who, &latest, r).is_ok());
        Ok(MeasureActions { edit: own, approve })
    }
}

/// Filters of the policy list. Empty fields do not filter.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyQuery {
    pub q: String,
    pub level: Option<Level>,
    pub category: Option<Category>,
    pub department: String,
    pub mode: Option<Mode>,
    /// Only measures whose application window contains today.
    pub open_now: bool,
}

/// A measure as a list or page shows it: the version in force (or, for staff, the newest).
#[derive(Debug, Clone, Serialize)]
pub struct MeasureView {
    pub id: u64,
    pub policy_id: u64,
    pub version: u32,
    pub status: VersionStatus,
    pub published: Option<u32>,
    pub has_draft: bool,
    pub open_now: bool,
    /// Set when the department withdrew the measure: who, when and why (shown publicly).
    pub withdrawn: Option<Withdrawal>,
    /// For staff: the draft's pending request, schedule or last refusal.
    pub request: Option<PublicationRequest>,
    pub scheduled: Option<Scheduled>,
    pub refusal: Option<Refusal>,
    /// The amount formula in plain Chinese (「研发费用的5%，最高50万元」), beside the raw `amount`.
    pub amount_text: Option<String>,
    /// For staff reading a draft that follows a published version: every field the draft
    /// changes, before and after (what the approver of its publication approves).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub draft_changes: Vec<crate::model::policy::FieldChange>,
    #[serde(flatten)]
    pub spec: MeasureSpec,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyView {
    #[serde(flatten)]
    pub policy: Policy,
    pub published: bool,
    pub measures: Vec<MeasureView>,
    /// A short piece of text around the first search hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionEntry {
    #[serde(flatten)]
    pub version: MeasureVersion,
    /// What changed from the version before (empty for the first), one line each.
    pub changes: Vec<String>,
    /// The same, every changed field with its values before and after in full.
    pub fields: Vec<crate::model::policy::FieldChange>,
}

/// Whose eyes a read is for: the public sees published versions only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Public,
    Staff,
}

fn view(
    tx: &ReadTx,
    measure: &Measure,
    audience: Audience,
    today: Date,
    tags: &TagDictionary,
) -> Result<Option<MeasureView>> {
    let shown = match audience {
        Audience::Public => measure.published,
        Audience::Staff => Some(measure.latest),
    };
    let Some(number) = shown else { return Ok(None) };
    let Some(v) = tx.version(measure.id, number)? else { return Ok(None) };
    Ok(Some(MeasureView {
        id: measure.id,
        policy_id: measure.policy_id,
        version: v.version,
        status: v.status,
        published: measure.published,
        has_draft: measure.has_draft(),
        open_now: v.spec.open_on(today) && measure.withdrawn.is_none(),
        withdrawn: measure.withdrawn.clone(),
        request: v.request.clone(),
        scheduled: v.scheduled.clone(),
        refusal: v.refusal.clone(),
        amount_text: v.spec.amount.as_deref().and_then(|a| crate::rules::describe::amount_source_text(a, tags)),
        draft_changes: Vec::new(),
        spec: v.spec,
    }))
}

/// ASCII lower-cased for matching (Chinese is unaffected); keeps every character's position.
fn fold(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// About 40 characters either side of the first hit of `term` in `text`.
fn snippet(text: &str, term: &str) -> Option<String> {
    let folded = fold(text);
    let byte = folded.find(term)?;
    let chars: Vec<char> = text.chars().collect();
    let at = folded[..byte].chars().count();
    let start = at.saturating_sub(40);
    let end = (at + term.chars().count() + 40).min(chars.len());
    let mut s: String = chars[start..end].iter().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ");
    if start > 0 {
        s.insert(0, '…');
    }
    if end < chars.len() {
        s.push('…');
    }
    Some(s)
}

impl Service {
    fn policy_or_404(tx: &ReadTx, id: u64) -> Result<Policy> {
        tx.policy(id)?.ok_or_else(|| ServiceError::NotFound(format!("政策 #{id} 不存在")))
    }

    pub fn policy_create(&self, who: &Who, mut input: PolicyInput) -> Result<Policy> {
        input.validate().map_err(ServiceError::Invalid)?;
        let tx = self.store.write()?;
        let now = Timestamp::now();
        let policy = Policy {
            id: tx.next_id("policy")?,
            content: input,
            created_at: now,
            updated_at: now,
            created_by: who.name.clone(),
        };
        tx.put_policy(&policy)?;
        let target = format!("policy:{}", policy.id);
        tx.audit_change(who, "policy.create", &target, &policy.content.title, None, Some(digest(&policy)?))?;
        tx.commit()?;
        Ok(policy)
    }

    pub fn policy_update(&self, who: &Who, id: u64, mut input: PolicyInput) -> Result<Policy> {
        input.validate().map_err(ServiceError::Invalid)?;
        let tx = self.store.write()?;
        let before = tx.policy(id)?.ok_or_else(|| ServiceError::NotFound(format!("政策 #{id} 不存在")))?;
        if who.role == Some(Role::Publisher) {
            let own = who.department.as_deref().unwrap_or_default();
            if own.is_empty() || (before.content.department.trim() != own && before.created_by != who.name) {
                return Err(ServiceError::Forbidden(format!(
                    "只能修改本部门（{own}）发布或本人录入的政策；此政策由「{}」发布",
                    before.content.department
                )));
            }
        }
        let mut policy = before.clone();
        if policy.content == input {
            return Ok(policy);
        }
        policy.content = input;
        policy.updated_at = Timestamp::now();
        tx.put_policy(&policy)?;
        let (b, a) = (Some(digest(&before)?), Some(digest(&policy)?));
        tx.audit_change(who, "policy.update", &format!("policy:{id}"), &policy.content.title, b, a)?;
        tx.commit()?;
        Ok(policy)
    }

    /// A policy with its measures; the public sees it only once a measure is published.
    pub fn policy_get(&self, id: u64, audience: Audience) -> Result<PolicyView> {
        let tx = self.store.read()?;
        let policy = Self::policy_or_404(&tx, id)?;
        let today = self.today();
        let tags = TagDictionary::new(tx.tags()?);
        let mut measures = Vec::new();
        for mid in tx.measure_ids_of_policy(id)? {
            if let Some(m) = tx.measure(mid)?
                && let Some(v) = view(&tx, &m, audience, today, &tags)?
            {
                measures.push(v);
            }
        }
        let published = measures.iter().any(|m| m.published.is_some());
        if audience == Audience::Public && !published {
            return Err(ServiceError::NotFound(format!("政策 #{id} 不存在或尚未发布")));
        }
        Ok(PolicyView { policy, published, measures, snippet: None })
    }

    /// Searches title, document number, full text, interpretation and measure names and guides
    /// for every whitespace-separated term (Chinese substrings included), then filters.
    pub fn policy_search(&self, query: &PolicyQuery, audience: Audience) -> Result<Vec<PolicyView>> {
        let tx = self.store.read()?;
        let today = self.today();
        let tags = TagDictionary::new(tx.tags()?);
        let terms: Vec<String> = query.q.split_whitespace().map(fold).collect();
        let department = query.department.trim();
        let mut out = Vec::new();
        let mut measures_by_policy: std::collections::BTreeMap<u64, Vec<Measure>> = Default::default();
        for m in tx.measures()? {
            measures_by_policy.entry(m.policy_id).or_default().push(m);
        }
        for policy in tx.policies()? {
            if query.level.is_some_and(|l| l != policy.content.level) {
                continue;
            }
            let mut measures = Vec::new();
            for m in measures_by_policy.get(&policy.id).into_iter().flatten() {
                if let Some(v) = view(&tx, m, audience, today, &tags)? {
                    measures.push(v);
                }
            }
            if audience == Audience::Public && measures.is_empty() {
                continue;
            }
            let published = measures.iter().any(|m| m.published.is_some());
            let c = &policy.content;
            let haystacks: Vec<&str> =
                [c.title.as_str(), c.doc_number.as_str(), c.interpretation.as_str(), c.text.as_str()]
                    .into_iter()
                    .chain(measures.iter().flat_map(|m| [m.spec.name.as_str(), m.spec.guide.as_str()]))
                    .collect();
            let folded: Vec<String> = haystacks.iter().map(|h| fold(h)).collect();
            if !terms.iter().all(|t| folded.iter().any(|h| h.contains(t.as_str()))) {
                continue;
            }
            let snippet = terms.first().and_then(|t| haystacks.iter().find_map(|h| snippet(h, t)));
            let measure_filter = |m: &MeasureView| {
                query.category.is_none_or(|x| x == m.spec.category)
                    && query.mode.is_none_or(|x| x == m.spec.mode)
                    && (department.is_empty() || m.spec.department == department || c.department == department)
                    && (!query.open_now || m.open_now)
            };
            let filtering =
                query.category.is_some() || query.mode.is_some() || !department.is_empty() || query.open_now;
            if filtering {
                measures.retain(measure_filter);
                if measures.is_empty() {
                    continue;
                }
            }
            out.push(PolicyView { policy, published, measures, snippet });
        }
        // Title hits first, then the newest documents.
        let title_hit = |p: &PolicyView| terms.iter().all(|t| fold(&p.policy.content.title).contains(t.as_str()));
        out.sort_by(|a, b| {
            title_hit(b)
                .cmp(&title_hit(a))
                .then(b.policy.content.issue_date.cmp(&a.policy.content.issue_date))
                .then(b.policy.id.cmp(&a.policy.id))
        });
        Ok(out)
    }

    pub fn departments(&self) -> Result<Vec<String>> {
        Ok(self.store.read()?.departments()?)
    }

    /// The departments the policy library's department filter offers: those that issued a
    /// policy or handle a measure the audience can see — not every department on record.
    pub fn policy_departments(&self, audience: Audience) -> Result<Vec<String>> {
        let tx = self.store.read()?;
        let today = self.today();
        let mut visible_policies = std::collections::BTreeSet::new();
        let mut out = std::collections::BTreeSet::new();
        let tags = TagDictionary::new(tx.tags()?);
        for m in tx.measures()? {
            if let Some(v) = view(&tx, &m, audience, today, &tags)? {
                visible_policies.insert(m.policy_id);
                out.insert(v.spec.department);
            }
        }
        for policy in tx.policies()? {
            if audience == Audience::Staff || visible_policies.contains(&policy.id) {
                out.insert(policy.content.department);
            }
        }
        out.retain(|d| !d.trim().is_empty());
        Ok(out.into_iter().collect())
    }

    pub fn measure_create(&self, who: &Who, policy_id: u64, mut spec: MeasureSpec) -> Result<MeasureVersion> {
        spec.validate().map_err(ServiceError::Invalid)?;
        check_department(who, &spec.department)?;
        self.rules_check(&spec)?;
        let tx = self.store.write()?;
        if tx.policy(policy_id)?.is_none() {
            return Err(ServiceError::NotFound(format!("政策 #{policy_id} 不存在")));
        }
        let now = Timestamp::now();
        let measure = Measure::new(tx.next_id("measure")?, policy_id, now);
        let version = MeasureVersion::draft(measure.id, 1, spec, &who.name, now);
        tx.put_measure(&measure)?;
        tx.put_version(&version)?;
        let target = format!("measure:{}", measure.id);
        tx.audit_change(who, "measure.create", &target, &version.spec.name, None, Some(digest(&version)?))?;
        tx.commit()?;
        Ok(version)
    }

    fn measure_or_404(tx: &WriteTx, id: u64) -> Result<Measure> {
        tx.measure(id)?.ok_or_else(|| ServiceError::NotFound(format!("政策事项 #{id} 不存在")))
    }

    /// Edits the draft; when the newest version is published, starts a new draft version.
    pub fn measure_update(&self, who: &Who, id: u64, mut spec: MeasureSpec) -> Result<MeasureVersion> {
        spec.validate().map_err(ServiceError::Invalid)?;
        check_department(who, &spec.department)?;
        self.rules_check(&spec)?;
        let tx = self.store.write()?;
        let mut measure = Self::measure_or_404(&tx, id)?;
        let latest = tx
            .version(id, measure.latest)?
            .ok_or_else(|| ServiceError::Internal(format!("measure {id} has no version {}", measure.latest)))?;
        check_department(who, &latest.spec.department)?;
        let before_digest = digest(&latest)?;
        if latest.spec == spec {
            return Ok(latest);
        }
        let now = Timestamp::now();
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
                ..latest
            }
        } else {
            measure.latest += 1;
            tx.put_measure(&measure)?;
            MeasureVersion::draft(id, measure.latest, spec, &who.name, now)
        };
        tx.put_version(&version)?;
        tx.audit_change(
            who,
            "measure.update",
            &format!("measure:{id}"),
            &format!("v{} {}", version.version, version.spec.name),
            Some(before_digest),
            Some(digest(&version)?),
        )?;
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
    pub fn measure_request_publication(&self, who: &Who, id: u64, publish_on: Option<Date>) -> Result<MeasureVersion> {
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
        draft.request = Some(PublicationRequest { by: who.name.clone(), at: Timestamp::now(), publish_on });
        draft.refusal = None;
        draft.scheduled = None;
        tx.put_version(&draft)?;
        let detail = format!(
            "v{} {}{}",
            draft.version,
            draft.spec.name,
            publish_on.map(|d| format!(" 生效日 {d}")).unwrap_or_default()
        );
        tx.audit_change(
            who,
            "measure.request_publication",
            &format!("measure:{id}"),
            &detail,
            Some(digest(&before)?),
            Some(digest(&draft)?),
        )?;
        tx.commit()?;
        Ok(draft)
    }

    /// Refuses a request to publish, with the reason the drafter reads.
    pub fn measure_refuse_publication(&self, who: &Who, id: u64, reason: &str) -> Result<MeasureVersion> {
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
        draft.refusal = Some(Refusal { by: who.name.clone(), at: Timestamp::now(), reason: reason.to_string() });
        tx.put_version(&draft)?;
        tx.audit_change(
            who,
            "measure.refuse_publication",
            &format!("measure:{id}"),
            reason,
            Some(digest(&before)?),
            Some(digest(&draft)?),
        )?;
        tx.commit()?;
        Ok(draft)
    }

    /// Approves a requested draft: publishes it now, or schedules it for its day. Nobody
    /// approves what they wrote or asked for. The program itself (the command line, the demo,
    /// the scheduled sweep) publishes directly.
    pub fn measure_publish(&self, who: &Who, id: u64) -> Result<MeasureVersion> {
        let tx = self.store.write()?;
        let mut measure = Self::measure_or_404(&tx, id)?;
        if let Some(latest) = tx.version(id, measure.latest)? {
            check_department(who, &latest.spec.department)?;
        }
        let mut draft = Self::draft_of(&tx, &measure)?;
        let before_digest = digest(&draft)?;
        if who.role.is_some() {
            let Some(request) = draft.request.clone() else {
                return Err(ServiceError::Conflict(format!(
                    "政策事项 #{id} 尚未提交发布申请：请起草人先提交，再由本部门另一位工作人员审批发布"
                )));
            };
            four_eyes(who, &draft, &request)?;
            if let Some(on) = request.publish_on.filter(|d| *d > self.today()) {
                draft.request = None;
                draft.scheduled = Some(Scheduled { approved_by: who.name.clone(), at: Timestamp::now(), on });
                tx.put_version(&draft)?;
                let detail = format!("v{} {} 将于 {on} 生效", draft.version, draft.spec.name);
                tx.audit_change(
                    who,
                    "measure.schedule",
                    &format!("measure:{id}"),
                    &detail,
                    Some(before_digest),
                    Some(digest(&draft)?),
                )?;
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
        draft.published_at = Some(Timestamp::now());
        draft.published_by = Some(approver);
        draft.request = None;
        measure.published = Some(draft.version);
        measure.withdrawn = None;
        measure.warned.clear();
        tx.put_version(&draft)?;
        tx.put_measure(&measure)?;
        tx.audit_change(
            who,
            "measure.publish",
            &format!("measure:{id}"),
            &format!("v{} {}", draft.version, draft.spec.name),
            Some(before_digest),
            Some(digest(&draft)?),
        )?;
        self.commit_publish(tx, &measure, &draft.spec, draft.version)?;
        Ok(draft)
    }

    /// Publishes the drafts whose scheduled day has come; returns how many.
    pub fn publish_scheduled(&self) -> Result<usize> {
        let today = self.today();
        let due: Vec<u64> = {
            let tx = self.store.read()?;
            let mut ids = Vec::new();
            for m in tx.measures()?.into_iter().filter(|m| m.has_draft() && m.withdrawn.is_none()) {
                if tx.version(m.id, m.latest)?.and_then(|v| v.scheduled).is_some_and(|s| s.on <= today) {
                    ids.push(m.id);
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
                    tracing::warn!(measure = id, "scheduled publication refused: {e}");
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
    pub fn measure_withdraw(&self, who: &Who, id: u64, reason: &str) -> Result<Measure> {
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
                Some(Refusal {
                    by: who.name.clone(), at: Timestamp::now(), reason: format!("事项已撤回：{reason}")
                });
            tx.put_version(&draft)?;
        }
        let mut measure = before.clone();
        measure.withdrawn = Some(Withdrawal {
            by: who.name.clone(),
            at: Timestamp::now(),
            on: self.today(),
            reason: reason.to_string(),
        });
        tx.put_measure(&measure)?;
        tx.audit_change(
            who,
            "measure.withdraw",
            &format!("measure:{id}"),
            reason,
            Some(digest(&before)?),
            Some(digest(&measure)?),
        )?;
        self.commit_withdraw(tx, id)?;
        Ok(measure)
    }

    /// Throws away an unpublished draft that follows a published version.
    pub fn measure_discard_draft(&self, who: &Who, id: u64) -> Result<()> {
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
        tx.audit(who, "measure.discard_draft", &format!("measure:{id}"), &format!("v{draft}"))?;
        tx.commit()?;
        Ok(())
    }

    /// One measure with its policy; the public sees only the version in force.
    pub fn measure_get(&self, id: u64, audience: Audience) -> Result<(MeasureView, Policy)> {
        let tx = self.store.read()?;
        let missing = || ServiceError::NotFound(format!("政策事项 #{id} 不存在或尚未发布"));
        let measure = tx.measure(id)?.ok_or_else(missing)?;
        let mut v =
            view(&tx, &measure, audience, self.today(), &TagDictionary::new(tx.tags()?))?.ok_or_else(missing)?;
        if audience == Audience::Staff
            && measure.has_draft()
            && let Some(published) = measure.published.map(|n| tx.version(id, n)).transpose()?.flatten()
        {
            v.draft_changes = v.spec.field_changes(&published.spec, None);
        }
        let policy = Self::policy_or_404(&tx, measure.policy_id)?;
        Ok((v, policy))
    }

    /// Every version, newest first, each with what changed from the one before.
    pub fn measure_versions(&self, id: u64, audience: Audience) -> Result<Vec<VersionEntry>> {
        let tx = self.store.read()?;
        let measure = tx.measure(id)?.ok_or_else(|| ServiceError::NotFound(format!("政策事项 #{id} 不存在")))?;
        let versions = tx.versions(id)?;
        let tags = TagDictionary::new(tx.tags()?);
        // The public reads amounts in words; staff see the rules as written.
        let words = |a: &str| crate::rules::describe::amount_source_text(a, &tags).unwrap_or_else(|| "—".into());
        let plain: Option<&dyn Fn(&str) -> String> = (audience == Audience::Public).then_some(&words);
        let condition = |e: &str| match crate::rules::parse::parse(e) {
            Ok(expr) => crate::rules::describe::condition_text(&expr, &tags),
            Err(_) => "—".into(),
        };
        let public = crate::model::policy::PlainRules { amount: &words, condition: &condition };
        let in_words = (audience == Audience::Public).then_some(&public);
        let mut out: Vec<VersionEntry> = Vec::new();
        for (i, v) in versions.iter().enumerate() {
            let (changes, fields) = match i.checked_sub(1).and_then(|p| versions.get(p)) {
                Some(before) => (v.spec.diff_shown(&before.spec, plain), v.spec.field_changes(&before.spec, in_words)),
                None => (Vec::new(), Vec::new()),
            };
            out.push(VersionEntry { version: v.clone(), changes, fields });
        }
        if audience == Audience::Public {
            if measure.published.is_none() {
                return Err(ServiceError::NotFound(format!("政策事项 #{id} 不存在或尚未发布")));
            }
            out.retain(|e| e.version.status != VersionStatus::Draft);
            // The public reads which department acted, never a person's name.
            for e in &mut out {
                let v = &mut e.version;
                let department = v.spec.department.clone();
                v.created_by = department.clone();
                v.published_by = v.published_by.as_ref().map(|_| department.clone());
                v.editors.clear();
                v.request = None;
                v.refusal = None;
                if let Some(s) = v.scheduled.as_mut() {
                    s.approved_by = department.clone();
                }
            }
        }
        out.reverse();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_cut_around_the_hit() {
        let text = format!("{}高新技术企业认定奖励{}", "甲".repeat(60), "乙".repeat(60));
        let s = snippet(&text, "高新").unwrap();
        assert!(s.starts_with('…') && s.ends_with('…') && s.contains("高新技术"));
        assert_eq!(snippet("Apply NOW", "now").as_deref(), Some("Apply NOW"));
        assert_eq!(snippet("abc", "x"), None);
    }
}
