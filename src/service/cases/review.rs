//! The department's side: decide a stage, release a case waiting for budget; every move goes
//! through the state machine in one place (`transition`).

use serde::Serialize;

use super::{CaseView, Decision, MAX_RETURNS, actor, for_viewer, may_see, unseen};
use crate::model::audit::action;
use crate::model::calendar::WorkCalendar;
use crate::model::case::{Case, CaseAction, CaseContext, CaseState, MoneyMove};
use crate::model::message::{Message, MessageKind};
use crate::model::{CaseId, Money, Vocabulary, Who};
use crate::service::{Result, Service, ServiceError};
use crate::store::prelude::*;
use crate::store::{Tables, WriteTx};

/// A reviewer's decision as the page shows it: the case decided, and the next case of their
/// queue they can decide (soonest due first), if any.
#[derive(Debug, Clone, Serialize)]
pub struct Decided {
    pub case: CaseView,
    pub next: Option<CaseView>,
}

pub(super) fn message(tx: &WriteTx, case: &Case, kind: MessageKind, title: String, body: String) -> Result<()> {
    let m = Message {
        id: tx.next_id("message")?,
        entity_id: case.entity_id,
        at: tx.now(),
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
    fn budget_left(tx: &impl Tables, measure: u64, budget: Option<Money>) -> Result<Option<Money>> {
        match budget {
            Some(b) => Ok(Some(Money(b.fen() - tx.spent(measure)?))),
            None => Ok(None),
        }
    }

    /// The measure's budget as its version in force says: one figure for every approval,
    /// whichever version a case was decided under.
    pub(super) fn current_budget(tx: &impl Tables, measure: u64) -> Result<Option<Money>> {
        Ok(tx.published_version(measure)?.and_then(|v| v.spec.budget))
    }

    /// A reviewer's decision at the case's current stage.
    pub fn case_decide(&self, who: &Who, id: CaseId, decision: Decision) -> Result<CaseView> {
        let id = id.get();
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let case = self.decide_in(&tx, who, id, decision, &calendar)?;
        self.finish(tx, who, case)
    }

    fn decide_in(&self, tx: &WriteTx, who: &Who, id: u64, decision: Decision, calendar: &WorkCalendar) -> Result<Case> {
        let before = Self::case_or_404(tx, id)?;
        if !may_see(who, &before) {
            return Err(unseen(id));
        }
        let action = match decision {
            Decision::Approve(note) => CaseAction::Approve { note },
            Decision::Reject(reason) => CaseAction::Reject { reason },
            Decision::Return(reason) => CaseAction::Return { reason },
        };
        let budget = Self::current_budget(tx, before.measure_id)?;
        let case = before.clone();
        self.transition(tx, who, before, case, action, budget, calendar)
    }

    /// A reviewer's decision, and the next case of their queue they can decide (soonest due
    /// first, this one left out), for the page to offer.
    pub fn case_decide_next(&self, who: &Who, id: CaseId, decision: Decision) -> Result<Decided> {
        let id = id.get();
        let today = self.today();
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let case = self.decide_in(&tx, who, id, decision, &calendar)?;
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
        let case = self.finish(tx, who, case)?;
        Ok(Decided { case, next })
    }

    /// Approves a case waiting for budget once the budget allows it.
    pub fn case_release(&self, who: &Who, id: CaseId) -> Result<CaseView> {
        let id = id.get();
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let before = Self::case_or_404(&tx, id)?;
        if !may_see(who, &before) {
            return Err(unseen(id));
        }
        let budget = Self::current_budget(&tx, before.measure_id)?;
        let case = before.clone();
        let case = self.transition(&tx, who, before, case, CaseAction::Release, budget, &calendar)?;
        self.finish(tx, who, case)
    }

    /// Runs one action of the state machine and writes its result: the case and its indexes,
    /// the measure's approved total, a message to the entity and the audit entry. The caller
    /// commits.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn transition(
        &self,
        tx: &WriteTx,
        who: &Who,
        before: Case,
        mut case: Case,
        action: CaseAction,
        budget: Option<Money>,
        calendar: &WorkCalendar,
    ) -> Result<Case> {
        let ctx = CaseContext {
            now: tx.now(),
            today: self.today(),
            calendar,
            budget_left: Self::budget_left(tx, case.measure_id, budget)?,
            max_returns: MAX_RETURNS,
        };
        case.act(&actor(who), action, &ctx)?;
        if before.state != case.state {
            payable_without_disclosure(tx, &mut case, &ctx)?;
        }
        move_money(tx, who, &case, before.history.len(), budget)?;
        tx.put_case(&case, Some(&before))?;
        crate::service::supervision::resolve_with_case(tx, who, &before, &case, ctx.today, calendar)?;
        // The action taken (a case made payable at once follows it in the history).
        let event = case.history.get(before.history.len()).cloned();
        if let Some(e) = &event {
            let stage = e.stage.and_then(|i| case.stages.get(i)).map(|s| s.name.clone()).unwrap_or_default();
            let mut body = format!("{}：{}", e.action.label(), case.state.label());
            if !stage.is_empty() {
                body = format!("{stage}环节{body}");
            }
            if !e.note.is_empty() {
                body.push_str(&format!("。意见：{}", e.note));
            }
            if let Some(a) = case.approved_amount.filter(|_| e.to == CaseState::Approved) {
                body.push_str(&format!("。核定金额 {a} 万元"));
            }
            body.push_str(&format!("。下一步：{}", case.next_step()));
            message(tx, &case, MessageKind::Case, format!("办件进度：{}", case.measure_name), body)?;
            let detail = format!("{} → {} {}", e.from.key(), e.to.key(), e.note);
            tx.audit_edit(who, &e.action.code(), &format!("case:{}", case.id), detail.trim(), &before, &case)?;
        }
        Ok(case)
    }
}

/// With no disclosure (the version's `publicity_days` is 0), a case just approved or accepted
/// is payable at once.
pub(crate) fn payable_without_disclosure(tx: &WriteTx, case: &mut Case, ctx: &CaseContext<'_>) -> Result<()> {
    if matches!(case.state, CaseState::Approved | CaseState::Accepted)
        && tx.version(case.measure_id, case.version)?.is_some_and(|v| v.spec.publicity_days == 0)
    {
        let system = crate::model::case::CaseActor::system("系统");
        case.act(&system, CaseAction::After(crate::model::case::AfterAction::MakePayable), ctx)?;
    }
    Ok(())
}

/// Applies the money the case's transitions from history event `since` on moved to its
/// measure's ledger, refusing what would take `paid ≤ approved ≤ budget` apart, with an audit
/// entry per move — in the caller's transaction, with the case.
pub(crate) fn move_money(tx: &WriteTx, who: &Who, case: &Case, since: usize, budget: Option<Money>) -> Result<()> {
    let moves: Vec<MoneyMove> = case.history.iter().skip(since).flat_map(|e| e.moves.iter().copied()).collect();
    if moves.is_empty() {
        return Ok(());
    }
    let mut ledger = tx.ledger(case.measure_id)?;
    for m in &moves {
        ledger.apply(*m, budget).map_err(|why| ServiceError::Conflict(format!("{why}（请刷新后重试）")))?;
        let (code, amount) = match m {
            MoneyMove::Reserve(a) => (action::MONEY_RESERVE, a),
            MoneyMove::Pay(a) => (action::MONEY_PAY, a),
            MoneyMove::Release(a) => (action::MONEY_RELEASE, a),
            MoneyMove::Recover(a) => (action::MONEY_RECOVER, a),
        };
        let detail = format!("case:{} {} 万元", case.id, amount);
        tx.audit(who, code, &format!("measure:{}", case.measure_id), &detail)?;
    }
    tx.put_ledger(case.measure_id, &ledger)?;
    Ok(())
}
