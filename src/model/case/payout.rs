//! A case after its decision (DESIGN §5): the 免申即享 list and offer, disclosure (公示) with
//! objections, payment through the finance system (兑付) and recovery (追回) — and the money
//! each step moves, which the service applies to the measure's [`Ledger`] and audits in the
//! same transaction (the transitions are in `after.rs`). Pure: nothing here does I/O.

use serde::{Deserialize, Serialize};

use super::{Case, CaseError, CaseState};
use crate::model::date::Date;
use crate::model::enums::{Vocabulary, vocabulary};
use crate::model::money::Money;

vocabulary! {
    /// Where a case came from.
    Origin {
        Online = "online", "网上申报", "Applied online";
        Auto = "auto", "免申即享名单", "Auto list";
        Offline = "offline", "线下办件", "Handled at the counter";
    }
}

// The `vocabulary!` enums cannot carry `#[default]` on a variant.
#[allow(clippy::derivable_impls)]
impl Default for Origin {
    fn default() -> Self {
        Origin::Online
    }
}

vocabulary! {
    /// Why the finance system could not pay (the return file's reason).
    FailReason {
        NameMismatch = "name_mismatch", "户名不符", "Account name mismatch";
        WrongAccount = "wrong_account", "账号错误", "Wrong account number";
        Frozen = "frozen", "账户冻结", "Account frozen";
        Other = "other", "其他", "Other";
    }
}

impl FailReason {
    /// The reason a return file states, in its words (`户名不符`, `账号错误`, …) or as a key.
    pub fn parse(text: &str) -> Option<FailReason> {
        let t = text.trim();
        FailReason::ALL.iter().copied().find(|r| r.label() == t || r.key() == t)
    }
}

/// A bank account to pay into. The holder (户名) is the entity's registered name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankAccount {
    pub holder: String,
    /// 开户银行
    pub bank: String,
    /// 银行账号: digits only.
    pub number: String,
}

impl BankAccount {
    /// Checks an account as entered: the holder must be `registered_name`; spaces and dashes in
    /// the number are dropped, and 8 to 32 digits remain.
    pub fn new(holder: &str, bank: &str, number: &str, registered_name: &str) -> Result<BankAccount, CaseError> {
        let holder = holder.trim();
        let bank = bank.trim();
        let number: String = number.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if holder != registered_name.trim() {
            return Err(CaseError::Payout(format!("户名必须与企业登记名称「{}」一致", registered_name.trim())));
        }
        if bank.is_empty() || bank.chars().count() > 60 {
            return Err(CaseError::Payout("请填写开户银行（60 字以内）".into()));
        }
        if !(8..=32).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CaseError::Payout("银行账号应为 8 至 32 位数字".into()));
        }
        Ok(BankAccount { holder: holder.to_string(), bank: bank.to_string(), number })
    }

    /// The number as shown to anyone but the finance export: the last four digits.
    pub fn masked(&self) -> String {
        let tail = self.number.get(self.number.len().saturating_sub(4)..).unwrap_or("");
        format!("**** {tail}")
    }
}

/// A 免申即享 offer to the enterprise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub offered_on: Date,
    /// Unanswered after this day, the offer lapses.
    pub deadline: Date,
    /// The day the enterprise was last reminded.
    #[serde(default)]
    pub reminded_on: Option<Date>,
}

/// The case's place in a disclosure batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disclosed {
    pub batch: u64,
    pub from: Date,
    /// The last day of the period.
    pub until: Date,
    /// Objections filed and not yet decided.
    pub open_objections: u32,
}

/// The case's place in a payment batch, and what the return file said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub batch: u64,
    /// 序号 in the batch.
    pub seq: u32,
    pub amount: Money,
    pub payee: BankAccount,
    pub paid_on: Option<Date>,
    /// 凭证号 / 交易流水号
    pub voucher: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFailure {
    pub batch: u64,
    pub on: Date,
    pub reason: FailReason,
    pub note: String,
}

/// A recovery (追回) of paid money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    pub amount: Money,
    pub reason: String,
    pub deadline: Date,
    pub opened_on: Date,
    /// The entity may not benefit from the department's measures until this day.
    pub bar_until: Option<Date>,
    /// Set when recovered: the day and the voucher.
    pub recovered: Option<(Date, String)>,
    /// Set when handed over (移交): the day and to whom / why.
    pub handed_over: Option<(Date, String)>,
}

/// Everything after the decision, kept in the case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payout {
    /// The account the enterprise confirmed (or the one on file).
    pub payee: Option<BankAccount>,
    pub offer: Option<Offer>,
    pub disclosed: Option<Disclosed>,
    pub payment: Option<Payment>,
    pub failures: Vec<PaymentFailure>,
    pub recovery: Option<Recovery>,
    /// 外部办件编号 of an offline case.
    pub external_no: Option<String>,
}

/// Money a transition moves, in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MoneyMove {
    /// Reserved from the budget: an approval, a confirmed list entry.
    Reserve(Money),
    /// Reserved money paid out.
    Pay(Money),
    /// A reservation given back: an upheld objection, a late rejection, a declined or lapsed offer.
    Release(Money),
    /// Paid money recovered into the budget.
    Recover(Money),
}

/// A measure's money: what is approved (reserved or paid), paid, and recovered, in fen.
/// Always `0 ≤ paid ≤ approved ≤ budget`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub approved: i64,
    pub paid: i64,
    pub recovered: i64,
}

impl Ledger {
    /// Reserved and not yet paid.
    pub fn reserved(&self) -> i64 {
        self.approved - self.paid
    }

    /// Applies a move, or says why it would break `0 ≤ paid ≤ approved ≤ budget`.
    pub fn apply(&mut self, m: MoneyMove, budget: Option<Money>) -> Result<(), String> {
        let mut next = *self;
        match m {
            MoneyMove::Reserve(a) => next.approved = next.approved.checked_add(a.fen()).ok_or("金额溢出")?,
            MoneyMove::Pay(a) => next.paid = next.paid.checked_add(a.fen()).ok_or("金额溢出")?,
            MoneyMove::Release(a) => next.approved -= a.fen(),
            MoneyMove::Recover(a) => {
                next.paid -= a.fen();
                next.approved -= a.fen();
                next.recovered += a.fen();
            }
        }
        let amount = match m {
            MoneyMove::Reserve(a) | MoneyMove::Pay(a) | MoneyMove::Release(a) | MoneyMove::Recover(a) => a,
        };
        if amount.fen() < 0 {
            return Err("金额不能为负".into());
        }
        if let Some(b) = budget.filter(|b| next.approved > b.fen() && matches!(m, MoneyMove::Reserve(_))) {
            return Err(format!(
                "资金不足：资金总额 {b} 万元，已安排 {} 万元，本次需 {amount} 万元",
                Money(self.approved)
            ));
        }
        if next.paid < 0 || next.paid > next.approved {
            return Err(format!("拨付金额 {} 万元不能超过已审定金额 {} 万元", Money(next.paid), Money(next.approved)));
        }
        *self = next;
        Ok(())
    }
}

impl CaseState {
    /// The case holds approved money: reserved from the budget, or paid and not recovered.
    pub fn holds_money(self) -> bool {
        use CaseState as S;
        matches!(
            self,
            S::Approved
                | S::Listed
                | S::Offered
                | S::Accepted
                | S::Disclosing
                | S::Payable
                | S::InBatch
                | S::PaymentFailed
                | S::Paid
                | S::Closed
                | S::Recovering
                | S::HandedOver
        )
    }
}

impl Case {
    /// What the case holds of the measure's money: the approved amount, less what was
    /// recovered; `None` when it holds nothing.
    pub fn net_approved(&self) -> Option<Money> {
        match self.state {
            CaseState::Recovered => {
                let recovered = self.payout.recovery.as_ref().map_or(0, |r| r.amount.fen());
                Some(Money(self.approved_amount?.fen() - recovered)).filter(|m| m.fen() > 0)
            }
            s if s.holds_money() => self.approved_amount,
            _ => None,
        }
    }
}

/// What a case handled at the counter (线下办件) reached, as imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfflineOutcome {
    Rejected { reason: String },
    Approved { amount: Money },
    Paid { amount: Money, on: Date, voucher: String },
}

impl Case {
    /// A case handled at the counter, entering in the state it reached (`blank` is the new
    /// case of the entity and measure version): approved reserves its amount, paid also pays
    /// it — recorded in one history event like any other move of money.
    pub fn offline(
        mut blank: Case,
        external_no: &str,
        applied: Date,
        decided: Date,
        outcome: OfflineOutcome,
        actor: &super::CaseActor,
        ctx: &super::CaseContext<'_>,
    ) -> Case {
        blank.origin = Origin::Offline;
        blank.payout.external_no = Some(external_no.to_string());
        blank.submitted_on = Some(applied);
        blank.decided_on = Some(decided);
        let mut moves = Vec::new();
        let mut note = format!("外部办件编号 {external_no}");
        blank.state = match outcome {
            OfflineOutcome::Rejected { reason } => {
                blank.reason = Some(reason.clone());
                note = format!("{note}；不予通过：{reason}");
                CaseState::Rejected
            }
            OfflineOutcome::Approved { amount } => {
                blank.approved_amount = Some(amount);
                moves.push(MoneyMove::Reserve(amount));
                CaseState::Approved
            }
            OfflineOutcome::Paid { amount, on, voucher } => {
                blank.approved_amount = Some(amount);
                moves.push(MoneyMove::Reserve(amount));
                moves.push(MoneyMove::Pay(amount));
                let payee =
                    BankAccount { holder: blank.entity_name.clone(), bank: String::new(), number: String::new() };
                blank.payout.payment =
                    Some(Payment { batch: 0, seq: 0, amount, payee, paid_on: Some(on), voucher: Some(voucher) });
                CaseState::Paid
            }
        };
        blank.record(actor, ctx, CaseState::Draft, super::CaseActionKind::Offline, None, note, moves);
        blank
    }
}
