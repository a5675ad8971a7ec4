//! The supervisors' board for the money half: objections past their limit still undecided, and
//! failed payments the enterprise has not corrected within the limit.

use serde::Serialize;

use crate::model::case::CaseState;
use crate::model::disclosure::{Objection, ObjectionState};
use crate::model::{Date, Money, Role, Who};
use crate::service::{Result, Service, ServiceError};
use crate::store::prelude::*;

/// Working days an enterprise has to correct its account after a failed payment before the
/// failure shows on the supervisors' board.
pub const CORRECTION_DAYS: u32 = 10;

#[derive(Debug, Clone, Serialize)]
pub struct LateObjection {
    pub objection: Objection,
    pub days_late: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct LateFailure {
    pub case_id: u64,
    pub case_number: String,
    pub entity_name: String,
    pub measure_name: String,
    pub department: String,
    pub amount_fen: i64,
    pub failed_on: Date,
    pub reason: &'static str,
    pub days_late: u32,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct MoneyBoard {
    pub objections: Vec<LateObjection>,
    pub failures: Vec<LateFailure>,
}

impl Service {
    /// What supervisors follow in the money half, within their regions.
    pub fn money_board(&self, who: &Who) -> Result<MoneyBoard> {
        if who.role != Some(Role::Supervisor) {
            return Err(ServiceError::Forbidden("只有督办员可以查看督办看板".into()));
        }
        let today = self.today();
        let calendar = self.calendar()?;
        let tx = self.store.read()?;
        let mut board = MoneyBoard::default();
        for o in tx.objections()? {
            if o.state == ObjectionState::Open && o.due < today {
                let days_late = calendar.working_days_between(o.due, today);
                board.objections.push(LateObjection { objection: o, days_late });
            }
        }
        for b in tx.payment_batches()? {
            for (_, case_id) in tx.payment_batch_rows(b.id)? {
                let Some(c) = tx.case(case_id)? else { continue };
                if c.state != CaseState::PaymentFailed || !super::may_see(who, &c) {
                    continue;
                }
                let Some(f) = c.payout.failures.last().filter(|f| f.batch == b.id) else { continue };
                let due = calendar.add_working_days(f.on, CORRECTION_DAYS);
                if due < today {
                    board.failures.push(LateFailure {
                        case_id: c.id,
                        case_number: c.number(),
                        entity_name: c.entity_name.clone(),
                        measure_name: c.measure_name.clone(),
                        department: c.department.clone(),
                        amount_fen: c.approved_amount.map_or(0, Money::fen),
                        failed_on: f.on,
                        reason: crate::model::Vocabulary::label(f.reason),
                        days_late: calendar.working_days_between(due, today),
                    });
                }
            }
        }
        Ok(board)
    }
}
