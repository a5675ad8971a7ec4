//! 追回 (DESIGN §5): the handling department or a supervisor opens a recovery on a paid case
//! (reason, amount, deadline); the enterprise is told; it is recorded as recovered (with the
//! voucher) — the money returns to the measure's budget — or handed over.

use super::CaseView;
use crate::model::case::{AfterAction, CaseAction};
use crate::model::payment::{parse_yuan, yuan};
use crate::model::{Changed, Date, Entity, Field, Money, Who};
use crate::service::push::CaseNotice;
use crate::service::{Result, Service, ServiceError};
use crate::store::WriteTx;
use crate::store::prelude::*;

/// What a recovery is opened with.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct RecoveryInput {
    /// 元, at most two places.
    #[serde(default)]
    pub amount_yuan: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub deadline: String,
    /// The entity may not benefit from the department's measures until this day (optional).
    #[serde(default)]
    pub bar_until: String,
}

impl Service {
    /// Opens a recovery on a paid case and tells the enterprise.
    pub fn recovery_open(&self, who: &Who, id: u64, input: &RecoveryInput) -> Result<CaseView> {
        let amount = parse_yuan(&input.amount_yuan)
            .filter(|f| *f > 0)
            .ok_or_else(|| ServiceError::invalid("amount_yuan", "追回金额应为以元为单位、最多两位小数的正数"))?;
        let deadline = Date::parse(input.deadline.trim())
            .map_err(|_| ServiceError::invalid("deadline", "请填写退回期限（YYYY-MM-DD）"))?;
        let bar_until = match input.bar_until.trim() {
            "" => None,
            t => Some(
                Date::parse(t)
                    .map_err(|_| ServiceError::invalid("bar_until", "限制享受政策的截止日期应为 YYYY-MM-DD"))?,
            ),
        };
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let before = Self::case_or_404(&tx, id)?;
        if !super::may_see(who, &before) {
            return Err(super::unseen(id));
        }
        let action =
            AfterAction::OpenRecovery { amount: Money(amount), reason: input.reason.clone(), deadline, bar_until };
        let case = before.clone();
        let case = self.transition(&tx, who, before, case, CaseAction::After(action), None, &calendar)?;
        if let (Some(entity), Some(version)) = (tx.entity(case.entity_id)?, tx.version(case.measure_id, case.version)?)
        {
            let notice = CaseNotice {
                case_id: case.id,
                title: format!("资金追回通知：{}", case.measure_name),
                body: format!(
                    "{}：经核查，贵单位享受的「{}」资金中 {} 元应予追回（{}）。请于 {deadline} 前按通知退回，逾期将移交有关部门处理。",
                    case.entity_name,
                    case.measure_name,
                    yuan(amount),
                    input.reason.trim()
                ),
                short: format!("「{}」资金 {} 元应于{deadline}前退回", case.measure_name, yuan(amount)),
                version: &version,
            };
            self.notify_case(&tx, &entity, notice)?;
        }
        let barred = match bar_until {
            Some(until) => bar_entity(&tx, who, case.entity_id, until)?,
            None => None,
        };
        let view = self.view_in(&tx, who, case)?;
        self.commit_entities(tx, barred.as_slice(), true)?;
        Ok(view)
    }

    /// Records the money recovered (with the voucher): it returns to the measure's budget.
    pub fn recovery_record(&self, who: &Who, id: u64, on: &str, voucher: &str) -> Result<CaseView> {
        let on = Date::parse(on.trim()).map_err(|_| ServiceError::invalid("on", "请填写到账日期（YYYY-MM-DD）"))?;
        self.recovery_step(who, id, AfterAction::Recovered { on, voucher: voucher.to_string() })
    }

    /// Hands an unpaid recovery over (to the finance or discipline authority), with a note.
    pub fn recovery_hand_over(&self, who: &Who, id: u64, note: &str) -> Result<CaseView> {
        self.recovery_step(who, id, AfterAction::HandOver { note: note.to_string() })
    }

    fn recovery_step(&self, who: &Who, id: u64, action: AfterAction) -> Result<CaseView> {
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let before = Self::case_or_404(&tx, id)?;
        if !super::may_see(who, &before) {
            return Err(super::unseen(id));
        }
        let budget = Self::current_budget(&tx, before.measure_id)?;
        let case = before.clone();
        let case = self.transition(&tx, who, before, case, CaseAction::After(action), budget, &calendar)?;
        self.finish(tx, who, case)
    }
}

/// Records a recovery's bar on the entity: `barred_until` (a catalogue field rules can test)
/// becomes the later of its day and `until`, with a change set in the entity's history. The
/// entity written, or `None` when it was already barred as long.
fn bar_entity(tx: &WriteTx, who: &Who, entity: u64, until: Date) -> Result<Option<Entity>> {
    let Some(before) = tx.entity(entity)? else { return Ok(None) };
    if before.barred_until.is_some_and(|d| d >= until) {
        return Ok(None);
    }
    let mut e = before.clone();
    e.barred_until = Some(until);
    e.updated_at = tx.now();
    let mut w = tx.entity_writer()?;
    w.put(&e, Some(&before))?;
    let old = before.barred_until.map(|d| d.to_string());
    w.add_changes(e.id, tx.now(), &who.as_actor(), &[Changed { field: Field::BarredUntil, old }], false)?;
    w.finish()?;
    Ok(Some(e))
}
