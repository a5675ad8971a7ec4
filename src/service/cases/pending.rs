//! 待核实 settled (DESIGN §5): an entity a list could not decide waits with the fields it
//! lacks. When its data is written — on its page, through the API, by an import — the entry is
//! read again: still undecided, it names what it still lacks; eligible, it joins the list if the
//! list is still proposed (or waits for the next round once the list is confirmed); not
//! eligible, it is closed as such. Each settled entry records the day and what became of it.

use std::collections::{BTreeMap, HashSet};

use super::auto::{list_entry, pending_of};
use crate::model::Who;
use crate::model::audit::action;
use crate::model::auto_list::{ListState, Resolved};
use crate::rules::eval::Outcome;
use crate::service::{Result, Service, ServiceError};
use crate::store::prelude::*;

/// Which entities to read again.
pub enum Recheck<'a> {
    /// These entities (a form, an API call).
    Entities(&'a [u64]),
    /// Every 待核实 entry the engine no longer finds undecided (after an import).
    All,
}

impl Service {
    /// Reads again the 待核实 entries `which` names on every list that has unsettled ones, in
    /// one write transaction; returns how many entries were settled.
    pub fn auto_pending_recheck(&self, which: Recheck<'_>) -> Result<usize> {
        let today = self.today();
        // The lists with unsettled entries, and per list the entities to read again.
        let mut work: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        {
            let tx = self.store.read()?;
            for list in tx.auto_lists()?.into_iter().filter(|l| l.pending > 0) {
                let ids = match &which {
                    Recheck::Entities(ids) => {
                        let mut hit = Vec::new();
                        for id in *ids {
                            if tx.auto_list_pending_one(list.id, *id)?.is_some_and(|p| p.resolved.is_none()) {
                                hit.push(*id);
                            }
                        }
                        hit
                    }
                    Recheck::All => {
                        let Some(version) = tx.version(list.measure_id, list.version)? else { continue };
                        let sets = self.measure_sets(&version, today)?;
                        let undecided: HashSet<u64> = sets.unknown.iter().copied().collect();
                        let mut hit = Vec::new();
                        let mut after = 0;
                        loop {
                            let page = tx.auto_list_pending(list.id, after, 5_000)?;
                            let Some(last) = page.last() else { break };
                            after = last.entity_id;
                            hit.extend(
                                page.iter()
                                    .filter(|p| p.resolved.is_none() && !undecided.contains(&p.entity_id))
                                    .map(|p| p.entity_id),
                            );
                        }
                        hit
                    }
                };
                if !ids.is_empty() {
                    work.insert(list.id, ids);
                }
            }
        }
        if work.is_empty() {
            return Ok(0);
        }
        let who = Who::system("待核实复核");
        let tx = self.store.write()?;
        let mut settled = 0;
        for (list_id, ids) in work {
            let Some(mut list) = tx.auto_list(list_id)? else { continue };
            let version = tx
                .version(list.measure_id, list.version)?
                .ok_or_else(|| ServiceError::Internal(format!("list {list_id} names a missing version")))?;
            let policy_id = tx.measure(list.measure_id)?.map_or(0, |m| m.policy_id);
            let assessor = self.assessor(&version, policy_id)?;
            let before = list.clone();
            let mut here = 0;
            for id in ids {
                let Some(mut pending) = tx.auto_list_pending_one(list_id, id)? else { continue };
                let Some(entity) = tx.entity(id)? else { continue };
                if pending.resolved.is_some() {
                    continue;
                }
                let assessment = assessor.assess(&entity, today)?;
                let eligible = match assessment.matched.outcome {
                    Outcome::Unknown => {
                        // Still undecided: what it lacks now.
                        tx.put_auto_list_pending(list_id, &pending_of(&version, &entity, &assessment))?;
                        continue;
                    }
                    Outcome::Eligible => true,
                    Outcome::NotEligible => false,
                };
                let mut case_id = None;
                if eligible
                    && list.state == ListState::Proposed
                    && !tx
                        .cases_of_entity(id)?
                        .iter()
                        .any(|c| c.measure_id == list.measure_id && c.version == list.version)
                    && super::barred_by(&tx, &entity, &version.spec.department, today)?.is_none()
                {
                    case_id = list_entry(&tx, &who, &version, &mut list, &entity, &assessment, today)?.map(|(c, _)| c);
                }
                pending.resolved = Some(Resolved { on: today, eligible, case_id });
                tx.put_auto_list_pending(list_id, &pending)?;
                list.pending = list.pending.saturating_sub(1);
                here += 1;
            }
            if here > 0 {
                tx.put_auto_list(&list)?;
                let detail = format!("{here} 待核实 entries settled; {} entries now", list.proposed - list.removed);
                tx.audit_upsert(
                    &who,
                    action::AUTO_LIST_RECHECK,
                    &format!("auto_list:{list_id}"),
                    &detail,
                    Some(&before),
                    &list,
                )?;
                settled += here;
            }
        }
        tx.commit()?;
        Ok(settled)
    }

    /// [`Self::auto_pending_recheck`] after a write that has already landed: a failure here
    /// does not undo that write (the entries wait for the next write or round), so it is logged.
    pub(crate) fn auto_pending_recheck_logged(&self, which: Recheck<'_>) {
        if let Err(e) = self.auto_pending_recheck(which) {
            tracing::warn!(error = %e, "待核实 entries were not read again");
        }
    }
}
