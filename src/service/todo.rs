//! What is waiting for the signed-in person: the counts the navigation shows and the home pages
//! lead with. One read transaction; each role reads only its own part of the store (an
//! enterprise its entities' inboxes and cases, a department its open cases and notices).

use serde::Serialize;

use super::cases::may_see;
use super::measures::{four_eyes, publication_queue};
use super::supervision::region_of;
use super::{Result, Service};
use crate::model::case::CaseState;
use crate::model::supervision::SupervisionStatus;
use crate::model::{Role, Who};
use crate::store::prelude::*;

/// The signed-in person's waiting work, each count for one kind of item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Todo {
    /// Unread messages (an enterprise's inboxes) or work notices (a department's).
    pub unread: usize,
    /// Cases returned for supplement, waiting for the enterprise to resubmit.
    pub returned: usize,
    /// Cases at a stage this person decides, or awaiting their budget release.
    pub to_decide: usize,
    /// Of the cases to decide, those past their due day; for supervisors, open supervision items.
    pub overdue: usize,
    /// Drafts whose publication this person may approve (not their own).
    pub approvals: usize,
    /// Everything to act on: returned, to decide, overdue items (supervisors), approvals and
    /// unread messages.
    pub total: usize,
}

impl Service {
    pub fn todo(&self, who: &Who) -> Result<Todo> {
        let tx = self.store.read()?;
        let today = self.today();
        let mut t = Todo::default();
        match who.role {
            Some(Role::Enterprise) => {
                for code in &who.entities {
                    let Some(id) = tx.entity_id_by_code(code.as_str())? else { continue };
                    t.unread += tx.messages(id, usize::MAX)?.iter().filter(|m| m.read_at.is_none()).count();
                    t.returned += tx.cases_of_entity(id)?.iter().filter(|c| c.state == CaseState::Returned).count();
                }
            }
            Some(role) => {
                if let Some(d) = who.department.as_deref() {
                    t.unread = tx.notices(d, usize::MAX)?.iter().filter(|n| n.read_at.is_none()).count();
                }
                if matches!(role, Role::Reviewer | Role::Publisher)
                    && let Some(d) = who.department.as_deref()
                {
                    for c in tx.open_cases(Some(d))?.iter().filter(|c| may_see(who, c)) {
                        let mine = match c.state {
                            CaseState::InReview => c.current_stage().is_some_and(|s| s.role == role),
                            CaseState::AwaitingBudget => true,
                            _ => false,
                        };
                        if mine {
                            t.to_decide += 1;
                            t.overdue += usize::from(c.overdue(today));
                        }
                    }
                }
                if role == Role::Supervisor {
                    t.overdue = tx
                        .supervisions()?
                        .iter()
                        .filter(|s| s.status != SupervisionStatus::Resolved)
                        .filter(|s| who.sees_region(region_of(s).as_ref()))
                        .count();
                }
                if role == Role::Publisher && who.department.is_some() {
                    t.approvals = publication_queue(&tx, who)?
                        .iter()
                        .filter(|v| v.request.as_ref().is_some_and(|r| four_eyes(who, v, r).is_ok()))
                        .count();
                }
            }
            None => {}
        }
        let overdue_items = if who.role == Some(Role::Supervisor) { t.overdue } else { 0 };
        t.total = t.unread + t.returned + t.to_decide + overdue_items + t.approvals;
        Ok(t)
    }
}
