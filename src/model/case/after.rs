//! The transitions after the decision: one function, [`Case::act_after`], checks who may do
//! what in which state and records the money each step moves.

use super::payout::{BankAccount, Disclosed, FailReason, MoneyMove, Offer, Payment, PaymentFailure, Recovery};
use super::{Case, CaseActionKind, CaseActor, CaseContext, CaseError, CaseState, applicant};
use crate::model::date::Date;
use crate::model::enums::Vocabulary;
use crate::model::money::Money;
use crate::model::user::Role;

/// What happens to a case after the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterAction {
    /// A second person confirms a proposed list entry: reserves its amount.
    Confirm,
    /// The department takes an entry off the proposed list.
    Remove {
        reason: String,
    },
    /// The enterprise is asked to accept by `deadline`; or, when the measure needs no
    /// confirmation, the account on file is taken at once.
    Offer {
        deadline: Date,
        on_file: Option<BankAccount>,
    },
    /// The enterprise accepts, confirming the account.
    Accept(BankAccount),
    Decline {
        reason: String,
    },
    /// Unanswered after the deadline (the sweep).
    Lapse,
    /// Into a disclosure batch whose period ends on `until`.
    Disclose {
        batch: u64,
        until: Date,
    },
    /// An objection was filed against the case.
    Object,
    Dismiss {
        note: String,
    },
    /// An objection is upheld: back to review (its last stage), or rejected.
    Uphold {
        reason: String,
        to_review: bool,
    },
    /// The period ended with no objection open (the sweep).
    EndDisclosure,
    /// No disclosure for this measure: payable at once.
    MakePayable,
    /// Into payment batch `batch` as row `seq`, paid to the case's account.
    Batch {
        batch: u64,
        seq: u32,
    },
    /// Out of a batch not yet exported.
    Unbatch,
    /// The return file says paid.
    Pay {
        on: Date,
        voucher: String,
    },
    /// The return file says not paid.
    Fail {
        reason: FailReason,
        note: String,
    },
    /// The enterprise gives or corrects its account: after a failed payment, or while payable.
    Correct(BankAccount),
    /// A rejection after approval: releases the reservation.
    Revoke {
        reason: String,
    },
    Close,
    OpenRecovery {
        amount: Money,
        reason: String,
        deadline: Date,
        bar_until: Option<Date>,
    },
    Recovered {
        on: Date,
        voucher: String,
    },
    HandOver {
        note: String,
    },
}

impl Case {
    /// The amount approved for the case (reserved; paid once paid).
    fn approved(&self) -> Money {
        self.approved_amount.unwrap_or(Money::ZERO)
    }

    pub(super) fn act_after(
        &mut self,
        actor: &CaseActor,
        action: AfterAction,
        ctx: &CaseContext<'_>,
    ) -> Result<(), CaseError> {
        use CaseState as S;
        let from = self.state;
        let wrong = |action: &'static str| CaseError::WrongState { state: from.label(), action };
        let need = |ok: bool, action: &'static str| if ok { Ok(()) } else { Err(wrong(action)) };
        let reason_of = |text: &str, what: &'static str| {
            let t = text.trim().to_string();
            if t.is_empty() { Err(CaseError::ReasonRequired(what)) } else { Ok(t) }
        };
        let mut moves = Vec::new();
        let mut note = String::new();
        let (kind, to) = match action {
            AfterAction::Confirm => {
                need(from == S::Proposed, "确认列入名单")?;
                self.department_or_system(actor)?;
                let amount = self.requested_amount().unwrap_or(Money::ZERO);
                if ctx.budget_left.is_some_and(|left| amount > left) {
                    return Err(CaseError::Payout(format!("资金不足：本户 {amount} 万元，剩余可安排资金不足")));
                }
                self.approved_amount = Some(amount);
                self.decided_on = Some(ctx.today);
                moves.push(MoneyMove::Reserve(amount));
                (CaseActionKind::Confirm, S::Listed)
            }
            AfterAction::Remove { reason } => {
                need(from == S::Proposed, "移出名单")?;
                self.department_or_system(actor)?;
                note = reason_of(&reason, "移出名单")?;
                self.reason = Some(note.clone());
                self.decided_on = Some(ctx.today);
                (CaseActionKind::Remove, S::Removed)
            }
            AfterAction::Offer { deadline, on_file } => {
                need(from == S::Listed, "通知企业确认领取")?;
                self.department_or_system(actor)?;
                match on_file {
                    Some(account) => {
                        self.payout.payee = Some(account);
                        note = "无需企业确认，按登记账户拨付".into();
                        (CaseActionKind::Offer, S::Accepted)
                    }
                    None => {
                        if deadline < ctx.today {
                            return Err(CaseError::Payout("确认期限不能早于今天".into()));
                        }
                        self.payout.offer = Some(Offer { offered_on: ctx.today, deadline, reminded_on: None });
                        (CaseActionKind::Offer, S::Offered)
                    }
                }
            }
            AfterAction::Accept(account) => {
                need(from == S::Offered, "确认领取")?;
                applicant(actor, "确认领取")?;
                self.payout.payee = Some(account);
                (CaseActionKind::Accept, S::Accepted)
            }
            AfterAction::Decline { reason } => {
                need(from == S::Offered, "放弃领取")?;
                applicant(actor, "放弃领取")?;
                note = reason.trim().to_string();
                moves.push(MoneyMove::Release(self.approved()));
                (CaseActionKind::Decline, S::Declined)
            }
            AfterAction::Lapse => {
                need(from == S::Offered, "按逾期处理")?;
                self.department_or_system(actor)?;
                if self.payout.offer.as_ref().is_some_and(|o| ctx.today <= o.deadline) {
                    return Err(CaseError::Payout("确认期限尚未届满".into()));
                }
                moves.push(MoneyMove::Release(self.approved()));
                (CaseActionKind::Lapse, S::Lapsed)
            }
            AfterAction::Disclose { batch, until } => {
                need(matches!(from, S::Approved | S::Accepted), "进入公示")?;
                self.department_or_system(actor)?;
                if until < ctx.today {
                    return Err(CaseError::Payout("公示截止日不能早于今天".into()));
                }
                self.payout.disclosed = Some(Disclosed { batch, from: ctx.today, until, open_objections: 0 });
                (CaseActionKind::Disclose, S::Disclosing)
            }
            AfterAction::Object => {
                need(from == S::Disclosing, "提出异议")?;
                let d = self.payout.disclosed.as_mut().ok_or(wrong("提出异议"))?;
                if ctx.today > d.until {
                    return Err(CaseError::Payout(format!("公示期已于 {} 结束，不再受理异议", d.until)));
                }
                d.open_objections += 1;
                (CaseActionKind::Object, S::Disclosing)
            }
            AfterAction::Dismiss { note: n } => {
                need(from == S::Disclosing, "作出异议处理决定")?;
                self.department_or_system(actor)?;
                note = reason_of(&n, "异议不成立")?;
                let d = self.payout.disclosed.as_mut().ok_or(wrong("作出异议处理决定"))?;
                d.open_objections =
                    d.open_objections.checked_sub(1).ok_or(CaseError::Payout("没有待处理的异议".into()))?;
                (CaseActionKind::Dismiss, S::Disclosing)
            }
            AfterAction::Uphold { reason, to_review } => {
                need(from == S::Disclosing, "作出异议处理决定")?;
                self.department_or_system(actor)?;
                note = reason_of(&reason, "异议成立")?;
                if self.payout.disclosed.as_ref().is_none_or(|d| d.open_objections == 0) {
                    return Err(CaseError::Payout("没有待处理的异议".into()));
                }
                moves.push(MoneyMove::Release(self.approved()));
                self.payout.disclosed = None;
                self.approved_amount = None;
                if to_review && !self.stages.is_empty() {
                    // The last stage decides again, its clock started afresh.
                    self.stage = self.stages.len() - 1;
                    if let Some(s) = self.stages.get_mut(self.stage) {
                        s.approved = None;
                    }
                    self.start_stage(ctx);
                    self.decided_on = None;
                    (CaseActionKind::Uphold, S::InReview)
                } else {
                    self.reason = Some(note.clone());
                    self.decided_on = Some(ctx.today);
                    (CaseActionKind::Uphold, S::Rejected)
                }
            }
            AfterAction::EndDisclosure => {
                need(from == S::Disclosing, "结束公示")?;
                self.department_or_system(actor)?;
                let d = self.payout.disclosed.as_ref().ok_or(wrong("结束公示"))?;
                if ctx.today <= d.until {
                    return Err(CaseError::Payout(format!("公示期至 {} 结束", d.until)));
                }
                if d.open_objections > 0 {
                    return Err(CaseError::Payout(format!("尚有 {} 件异议未处理", d.open_objections)));
                }
                (CaseActionKind::EndDisclosure, S::Payable)
            }
            AfterAction::MakePayable => {
                need(matches!(from, S::Approved | S::Accepted), "转入待拨付")?;
                self.department_or_system(actor)?;
                (CaseActionKind::MakePayable, S::Payable)
            }
            AfterAction::Batch { batch, seq } => {
                need(from == S::Payable, "列入拨付批次")?;
                self.department_or_system(actor)?;
                let payee =
                    self.payout.payee.clone().ok_or(CaseError::Payout("没有收款账户，不能列入拨付批次".into()))?;
                let amount = self.approved();
                self.payout.payment = Some(Payment { batch, seq, amount, payee, paid_on: None, voucher: None });
                (CaseActionKind::Batch, S::InBatch)
            }
            AfterAction::Unbatch => {
                need(from == S::InBatch, "移出拨付批次")?;
                self.department_or_system(actor)?;
                self.payout.payment = None;
                (CaseActionKind::Unbatch, S::Payable)
            }
            AfterAction::Pay { on, voucher } => {
                need(from == S::InBatch, "登记拨付")?;
                self.department_or_system(actor)?;
                let voucher = reason_of(&voucher, "登记拨付（凭证号）")?;
                let p = self.payout.payment.as_mut().ok_or(wrong("登记拨付"))?;
                p.paid_on = Some(on);
                p.voucher = Some(voucher.clone());
                moves.push(MoneyMove::Pay(p.amount));
                note = voucher;
                (CaseActionKind::Pay, S::Paid)
            }
            AfterAction::Fail { reason, note: n } => {
                need(from == S::InBatch, "登记拨付失败")?;
                self.department_or_system(actor)?;
                let p = self.payout.payment.take().ok_or(wrong("登记拨付失败"))?;
                note = format!(
                    "{}{}",
                    reason.label(),
                    if n.trim().is_empty() { String::new() } else { format!("：{}", n.trim()) }
                );
                self.payout.failures.push(PaymentFailure {
                    batch: p.batch,
                    on: ctx.today,
                    reason,
                    note: n.trim().to_string(),
                });
                (CaseActionKind::Fail, S::PaymentFailed)
            }
            AfterAction::Correct(account) => {
                need(matches!(from, S::PaymentFailed | S::Payable), "更正收款账户")?;
                applicant(actor, "更正收款账户")?;
                self.payout.payee = Some(account);
                (CaseActionKind::Correct, S::Payable)
            }
            AfterAction::Revoke { reason } => {
                need(
                    matches!(from, S::Approved | S::Accepted | S::Disclosing | S::Payable | S::PaymentFailed),
                    "撤销审定",
                )?;
                self.department_or_system(actor)?;
                note = reason_of(&reason, "撤销审定")?;
                moves.push(MoneyMove::Release(self.approved()));
                self.approved_amount = None;
                self.payout.disclosed = None;
                self.reason = Some(note.clone());
                self.decided_on = Some(ctx.today);
                (CaseActionKind::Revoke, S::Rejected)
            }
            AfterAction::Close => {
                need(from == S::Paid, "办结")?;
                self.department_or_system(actor)?;
                (CaseActionKind::Close, S::Closed)
            }
            AfterAction::OpenRecovery { amount, reason, deadline, bar_until } => {
                need(matches!(from, S::Paid | S::Closed), "启动追回")?;
                self.department_or_supervisor(actor)?;
                note = reason_of(&reason, "启动追回")?;
                let paid = self.payout.payment.as_ref().map_or(Money::ZERO, |p| p.amount);
                if amount.fen() <= 0 || amount > paid {
                    return Err(CaseError::Payout(format!("追回金额应大于 0 且不超过已拨付的 {paid} 万元")));
                }
                if deadline < ctx.today {
                    return Err(CaseError::Payout("退回期限不能早于今天".into()));
                }
                self.payout.recovery = Some(Recovery {
                    amount,
                    reason: note.clone(),
                    deadline,
                    opened_on: ctx.today,
                    bar_until,
                    recovered: None,
                    handed_over: None,
                });
                (CaseActionKind::OpenRecovery, S::Recovering)
            }
            AfterAction::Recovered { on, voucher } => {
                need(from == S::Recovering, "登记追回到账")?;
                self.department_or_supervisor(actor)?;
                let voucher = reason_of(&voucher, "登记追回到账（凭证号）")?;
                let r = self.payout.recovery.as_mut().ok_or(wrong("登记追回到账"))?;
                r.recovered = Some((on, voucher.clone()));
                moves.push(MoneyMove::Recover(r.amount));
                note = voucher;
                (CaseActionKind::Recovered, S::Recovered)
            }
            AfterAction::HandOver { note: n } => {
                need(from == S::Recovering, "移交处理")?;
                self.department_or_supervisor(actor)?;
                note = reason_of(&n, "移交处理")?;
                let r = self.payout.recovery.as_mut().ok_or(wrong("移交处理"))?;
                r.handed_over = Some((ctx.today, note.clone()));
                (CaseActionKind::HandOver, S::HandedOver)
            }
        };
        self.state = to;
        self.record(actor, ctx, from, kind, None, note, moves);
        Ok(())
    }

    /// The handling department's staff, or the system (role `None`: the sweep, an import).
    fn department_or_system(&self, actor: &CaseActor) -> Result<(), CaseError> {
        match actor.role {
            None => Ok(()),
            Some(Role::Reviewer | Role::Publisher) => self.check_reviewer_department(actor),
            Some(_) => Err(CaseError::WrongDepartment(self.department.clone())),
        }
    }

    /// As [`Self::department_or_system`], and supervisors of any department.
    fn department_or_supervisor(&self, actor: &CaseActor) -> Result<(), CaseError> {
        if actor.role == Some(Role::Supervisor) { Ok(()) } else { self.department_or_system(actor) }
    }
}
