//! The policy library: policies, measures, drafts and immutable published versions, search.

use serde::{Deserialize, Serialize};

use super::{Result, Service, ServiceError};
use crate::model::audit::action;
use crate::model::policy::{PublicationRequest, Refusal, Scheduled, Withdrawal};
use crate::model::{
    Category, Date, Level, Measure, MeasureId, MeasureSpec, MeasureVersion, Mode, Policy, PolicyInput, Role,
    TagDictionary, VersionStatus, Who,
};
use crate::store::ReadTx;
use crate::store::prelude::*;

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
        let now = tx.now();
        let policy = Policy {
            id: tx.next_id("policy")?,
            content: input,
            created_at: now,
            updated_at: now,
            created_by: who.name.clone(),
        };
        tx.put_policy(&policy)?;
        let target = format!("policy:{}", policy.id);
        tx.audit_new(who, action::POLICY_CREATE, &target, &policy.content.title, &policy)?;
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
        policy.updated_at = tx.now();
        tx.put_policy(&policy)?;
        tx.audit_edit(who, action::POLICY_UPDATE, &format!("policy:{id}"), &policy.content.title, &before, &policy)?;
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

    /// One measure with its policy; the public sees only the version in force.
    pub fn measure_get(&self, id: MeasureId, audience: Audience) -> Result<(MeasureView, Policy)> {
        let id = id.get();
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
    pub fn measure_versions(&self, id: MeasureId, audience: Audience) -> Result<Vec<VersionEntry>> {
        let id = id.get();
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
