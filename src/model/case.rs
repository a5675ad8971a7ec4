//! A case (办件): one entity applying for one measure, and the pure state machine that moves
//! it through review stages with time limits in working days. Nothing here does I/O; the
//! service loads a case, calls [`Case::act`] and writes the result with its audit entry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::calendar::WorkCalendar;
use super::date::{Date, Timestamp};
use super::enums::{Mode, Vocabulary, vocabulary};
use super::money::Money;
use super::user::Role;

mod after;
mod frozen;
mod payout;
mod stage;

pub use after::AfterAction;
pub use frozen::{Frozen, FrozenCondition};
pub use payout::*;
pub use stage::{Pause, StageRun};

vocabulary! {
    /// Where a case stands (DESIGN §5).
    CaseState {
        Draft = "draft", "草稿", "Draft";
        InReview = "in_review", "审核中", "In review";
        Returned = "returned", "待补正", "Returned for supplement";
        AwaitingBudget = "awaiting_budget", "待资金安排", "Awaiting budget";
        Approved = "approved", "已通过", "Approved";
        Rejected = "rejected", "未通过", "Rejected";
        Withdrawn = "withdrawn", "已撤回", "Withdrawn";
        Proposed = "proposed", "拟列入名单", "Proposed for the list";
        Listed = "listed", "名单已确认", "Listed";
        Offered = "offered", "待确认领取", "Offered";
        Accepted = "accepted", "已确认领取", "Accepted";
        Declined = "declined", "已放弃领取", "Declined";
        Lapsed = "lapsed", "逾期未确认", "Lapsed";
        Removed = "removed", "已移出名单", "Removed from the list";
        Disclosing = "disclosing", "公示中", "In public disclosure";
        Payable = "payable", "待拨付", "Payable";
        InBatch = "in_batch", "拨付中", "In a payment batch";
        PaymentFailed = "payment_failed", "拨付失败", "Payment failed";
        Paid = "paid", "已拨付", "Paid";
        Closed = "closed", "已办结", "Closed";
        Recovering = "recovering", "追回中", "Being recovered";
        Recovered = "recovered", "已追回", "Recovered";
        HandedOver = "handed_over", "已移交处理", "Handed over";
    }
}

impl CaseState {
    /// States in which a department still has to act or the enterprise to supplement.
    pub fn is_open(self) -> bool {
        matches!(self, CaseState::InReview | CaseState::Returned | CaseState::AwaitingBudget)
    }

    /// The entity has a case for the measure that stands (under way or approved): it continues
    /// that one rather than applying again.
    pub fn stands(self) -> bool {
        !matches!(
            self,
            CaseState::Rejected | CaseState::Withdrawn | CaseState::Removed | CaseState::Declined | CaseState::Lapsed
        )
    }

    /// A decision has been made: the review (or the offer) is over.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            CaseState::Draft
                | CaseState::InReview
                | CaseState::Returned
                | CaseState::AwaitingBudget
                | CaseState::Proposed
                | CaseState::Listed
                | CaseState::Offered
        )
    }
}

vocabulary! {
    /// What someone did to a case.
    CaseActionKind {
        Create = "create", "创建申报", "Created";
        Save = "save", "保存草稿", "Saved";
        Submit = "submit", "提交申报", "Submitted";
        Resubmit = "resubmit", "补正后重新提交", "Resubmitted";
        Approve = "approve", "通过", "Approved";
        Reject = "reject", "不予通过", "Rejected";
        Return = "return", "退回补正", "Returned for supplement";
        Withdraw = "withdraw", "撤回申报", "Withdrawn";
        Instant = "instant", "即申即享自动通过", "Decided at once";
        Release = "release", "资金到位，完成审定", "Budget released";
        Propose = "propose", "列入免申即享名单", "Proposed";
        Confirm = "confirm", "名单复核确认", "List confirmed";
        Remove = "remove", "移出名单", "Removed from the list";
        Offer = "offer", "通知企业确认领取", "Offered";
        Accept = "accept", "确认领取", "Accepted";
        Decline = "decline", "放弃领取", "Declined";
        Lapse = "lapse", "逾期未确认", "Lapsed";
        Disclose = "disclose", "进入公示", "Disclosed";
        Object = "object", "收到异议", "Objection received";
        Dismiss = "dismiss", "异议不成立", "Objection dismissed";
        Uphold = "uphold", "异议成立", "Objection upheld";
        EndDisclosure = "end_disclosure", "公示期满", "Disclosure ended";
        MakePayable = "payable", "转入待拨付", "Made payable";
        Batch = "batch", "列入拨付批次", "Put in a payment batch";
        Unbatch = "unbatch", "移出拨付批次", "Taken out of a batch";
        Pay = "pay", "拨付成功", "Paid";
        Fail = "fail", "拨付失败", "Payment failed";
        Correct = "correct", "更正收款账户", "Bank account corrected";
        Revoke = "revoke", "撤销审定", "Decision revoked";
        Close = "close", "办结", "Closed";
        OpenRecovery = "recover_open", "启动追回", "Recovery opened";
        Recovered = "recovered", "追回到账", "Recovered";
        HandOver = "hand_over", "移交处理", "Handed over";
        Offline = "offline", "线下办件导入", "Imported from the counter";
    }
}

impl CaseActionKind {
    /// The action code the audit trail records for it (`case.submit`, …).
    pub fn code(self) -> String {
        format!("case.{}", self.key())
    }
}

/// A record of one transition, kept in the case for its timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseEvent {
    pub at: Timestamp,
    pub day: Date,
    pub action: CaseActionKind,
    pub actor: String,
    pub actor_role: Option<Role>,
    /// The department acting (shown to the enterprise instead of a person's name).
    pub department: Option<String>,
    pub from: CaseState,
    pub to: CaseState,
    /// The stage acted on, if any.
    pub stage: Option<usize>,
    pub note: String,
    /// The money this transition moved (DESIGN §5): applied to the measure's ledger and
    /// audited in the same transaction.
    #[serde(default)]
    pub moves: Vec<MoneyMove>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: u64,
    pub measure_id: u64,
    /// The measure version the case was opened under; at submission, the version frozen.
    pub version: u32,
    pub measure_name: String,
    pub mode: Mode,
    /// The department that handles the measure.
    pub department: String,
    pub entity_id: u64,
    pub credit_code: String,
    pub entity_name: String,
    /// The entity's region when the case was opened (for supervisors' and specialists' scope).
    #[serde(default)]
    pub region: Option<String>,
    pub state: CaseState,
    /// Index of the current stage in `stages` (meaningful in review and while returned).
    pub stage: usize,
    pub stages: Vec<StageRun>,
    /// The form as last saved.
    pub form: BTreeMap<String, String>,
    /// Attachments: (material or field name, SHA-256 of the file).
    #[serde(default)]
    pub files: Vec<CaseFile>,
    pub frozen: Option<Frozen>,
    /// The approved amount (set at final approval).
    pub approved_amount: Option<Money>,
    /// The user who prepared the case (the enterprise user, or a specialist on its behalf).
    pub prepared_by: Option<u64>,
    pub prepared_by_name: String,
    /// Prepared and submitted by a specialist for the entity (帮办代办).
    pub on_behalf: bool,
    pub returns: u32,
    /// Why the case is returned for supplement or was not approved — while it is; the history
    /// keeps every reason given.
    pub reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub submitted_on: Option<Date>,
    pub decided_on: Option<Date>,
    pub history: Vec<CaseEvent>,
    /// After the decision: the offer, disclosure, payment and recovery (`payout.rs`).
    #[serde(default)]
    pub origin: Origin,
    #[serde(default)]
    pub payout: Payout,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFile {
    /// What it is for: a required material's name or a file field's key.
    pub slot: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    pub uploaded_at: Timestamp,
}

/// Who acts on a case, as the state machine needs to know them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseActor {
    pub user_id: Option<u64>,
    pub name: String,
    /// `None` for the system (the instant decision, the budget queue).
    pub role: Option<Role>,
    pub department: Option<String>,
}

impl CaseActor {
    pub fn system(name: &str) -> CaseActor {
        CaseActor { user_id: None, name: name.to_string(), role: None, department: None }
    }
}

/// What the state machine is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseAction {
    /// Submit a draft with what was frozen from the entity library.
    Submit(Box<Frozen>),
    /// Resubmit after a return (补正), with the supplemented form.
    Resubmit(BTreeMap<String, String>),
    Approve {
        note: String,
    },
    Reject {
        reason: String,
    },
    Return {
        reason: String,
    },
    Withdraw,
    /// The budget now allows a case waiting in the queue.
    Release,
    /// What happens after the decision (`payout.rs`).
    After(AfterAction),
}

/// The facts from outside the case a transition needs.
#[derive(Debug, Clone)]
pub struct CaseContext<'a> {
    pub now: Timestamp,
    pub today: Date,
    pub calendar: &'a WorkCalendar,
    /// What is left of the measure's budget; `None` when it has none.
    pub budget_left: Option<Money>,
    /// How many times a case may be returned for supplement.
    pub max_returns: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    #[error("此办件当前状态为「{state}」，不能{action}")]
    WrongState { state: &'static str, action: &'static str },
    #[error("当前环节「{stage}」应由{role}办理")]
    WrongRole { stage: String, role: &'static str },
    #[error("此办件由「{0}」承办，只能由该部门的工作人员审核")]
    WrongDepartment(String),
    #[error("不能审核自己经办的办件（回避）")]
    OwnCase,
    #[error("{0}必须填写理由")]
    ReasonRequired(&'static str),
    #[error("补正次数已达上限（{0} 次），请作出通过或不予通过的决定")]
    TooManyReturns(u32),
    #[error("根据申报时的数据，此企业不符合申报条件：{0}")]
    NotEligible(String),
    #[error("此事项没有配置审核环节")]
    NoStages,
    #[error("只有企业或帮办专员可以{0}")]
    NotApplicant(&'static str),
    #[error("{0}")]
    Payout(String),
}

impl Case {
    /// The case number people quote: `HQ-<year opened>-<id, six digits>` (`HQ-2026-000123`).
    pub fn number(&self) -> String {
        case_number(self.id, self.created_at.date_cst().year())
    }

    /// The current stage, when the case is in one.
    pub fn current_stage(&self) -> Option<&StageRun> {
        if matches!(self.state, CaseState::InReview | CaseState::Returned) { self.stages.get(self.stage) } else { None }
    }

    /// The amount the case would be approved for.
    pub fn requested_amount(&self) -> Option<Money> {
        self.frozen.as_ref().and_then(|f| f.amount)
    }

    /// What the enterprise should do next, in its words.
    pub fn next_step(&self) -> &'static str {
        match self.state {
            CaseState::Draft => "填写申报表并提交",
            CaseState::Returned => "按退回意见补充材料后重新提交",
            CaseState::InReview => "等待部门审核，无需操作",
            CaseState::AwaitingBudget => "审核已通过，等待资金安排",
            CaseState::Approved | CaseState::Accepted => "等待公示和资金拨付",
            CaseState::Proposed | CaseState::Listed => "已列入免申即享拟兑现名单，等待部门复核",
            CaseState::Offered => "请在期限内确认领取并核对收款账户",
            CaseState::Disclosing => "公示中，公示期满无异议后拨付",
            CaseState::Payable | CaseState::InBatch => "等待财政拨付，无需操作",
            CaseState::PaymentFailed => "拨付未成功，请更正收款账户",
            CaseState::Paid | CaseState::Closed => "资金已拨付",
            CaseState::Recovering => "请按追回通知在期限内退回资金",
            CaseState::Rejected
            | CaseState::Withdrawn
            | CaseState::Declined
            | CaseState::Lapsed
            | CaseState::Removed
            | CaseState::Recovered
            | CaseState::HandedOver => "办理已结束",
        }
    }

    /// Applies one action, checking everything first: on error the case is unchanged.
    pub fn act(&mut self, actor: &CaseActor, action: CaseAction, ctx: &CaseContext<'_>) -> Result<(), CaseError> {
        let from = self.state;
        let wrong = |action: &'static str| CaseError::WrongState { state: from.label(), action };
        let (kind, stage, note) = match action {
            CaseAction::Submit(frozen) => {
                if from != CaseState::Draft {
                    return Err(wrong("提交"));
                }
                applicant(actor, "提交申报")?;
                if frozen.not_eligible() {
                    let failed: Vec<_> = frozen
                        .conditions
                        .iter()
                        .filter(|c| c.outcome == "not_eligible")
                        .map(|c| format!("{}（{}）", c.label, c.text))
                        .collect();
                    return Err(CaseError::NotEligible(failed.join("；")));
                }
                let instant = self.mode == Mode::Instant && frozen.eligible();
                if self.stages.is_empty() && !instant {
                    return Err(CaseError::NoStages);
                }
                self.version = frozen.version;
                self.form = frozen.form.clone();
                self.frozen = Some(*frozen);
                self.submitted_on = Some(ctx.today);
                self.on_behalf = actor.role == Some(Role::Specialist);
                if instant {
                    for s in &mut self.stages {
                        s.approved = Some(("即申即享".into(), ctx.today));
                    }
                    self.decide_final(ctx);
                    (CaseActionKind::Instant, None, String::new())
                } else {
                    self.state = CaseState::InReview;
                    self.stage = 0;
                    self.start_stage(ctx);
                    (CaseActionKind::Submit, Some(0), String::new())
                }
            }
            CaseAction::Resubmit(form) => {
                if from != CaseState::Returned {
                    return Err(wrong("重新提交"));
                }
                applicant(actor, "重新提交")?;
                let stage = self.stage;
                if let Some(s) = self.stages.get_mut(stage) {
                    if let Some(p) = s.pauses.last_mut().filter(|p| p.to.is_none()) {
                        p.to = Some(ctx.today);
                    }
                    s.due = s.due_on(ctx.calendar);
                }
                // The portrait, version and first form stay as frozen; the supplement is the form.
                self.form = form;
                self.state = CaseState::InReview;
                self.reason = None;
                (CaseActionKind::Resubmit, Some(stage), String::new())
            }
            CaseAction::Approve { note } => {
                if from != CaseState::InReview {
                    return Err(wrong("通过"));
                }
                self.check_reviewer(actor)?;
                let stage = self.stage;
                if let Some(s) = self.stages.get_mut(stage) {
                    s.approved = Some((actor.name.clone(), ctx.today));
                }
                if stage + 1 < self.stages.len() {
                    self.stage = stage + 1;
                    self.start_stage(ctx);
                } else {
                    self.decide_final(ctx);
                }
                (CaseActionKind::Approve, Some(stage), note.trim().to_string())
            }
            CaseAction::Reject { reason } => {
                if from != CaseState::InReview {
                    return Err(wrong("不予通过"));
                }
                self.check_reviewer(actor)?;
                let reason = reason.trim().to_string();
                if reason.is_empty() {
                    return Err(CaseError::ReasonRequired("不予通过"));
                }
                self.state = CaseState::Rejected;
                self.decided_on = Some(ctx.today);
                self.reason = Some(reason.clone());
                (CaseActionKind::Reject, Some(self.stage), reason)
            }
            CaseAction::Return { reason } => {
                if from != CaseState::InReview {
                    return Err(wrong("退回补正"));
                }
                self.check_reviewer(actor)?;
                let reason = reason.trim().to_string();
                if reason.is_empty() {
                    return Err(CaseError::ReasonRequired("退回补正"));
                }
                if self.returns >= ctx.max_returns {
                    return Err(CaseError::TooManyReturns(ctx.max_returns));
                }
                self.returns += 1;
                let stage = self.stage;
                if let Some(s) = self.stages.get_mut(stage) {
                    s.pauses.push(Pause { from: ctx.today, to: None });
                    s.due = None;
                }
                self.state = CaseState::Returned;
                self.reason = Some(reason.clone());
                (CaseActionKind::Return, Some(stage), reason)
            }
            CaseAction::Withdraw => {
                if !matches!(from, CaseState::Draft | CaseState::InReview | CaseState::Returned) {
                    return Err(wrong("撤回"));
                }
                applicant(actor, "撤回申报")?;
                self.state = CaseState::Withdrawn;
                self.decided_on = Some(ctx.today);
                (CaseActionKind::Withdraw, None, String::new())
            }
            CaseAction::After(after) => return self.act_after(actor, after, ctx),
            CaseAction::Release => {
                if from != CaseState::AwaitingBudget {
                    return Err(wrong("完成资金安排"));
                }
                if actor.role.is_some() {
                    self.check_reviewer_department(actor)?;
                }
                let amount = self.requested_amount().unwrap_or(Money::ZERO);
                if ctx.budget_left.is_some_and(|left| amount > left) {
                    return Err(wrong("在资金不足时完成审定"));
                }
                self.state = CaseState::Approved;
                self.approved_amount = self.requested_amount();
                self.decided_on = Some(ctx.today);
                (CaseActionKind::Release, None, String::new())
            }
        };
        // Approval reserves the approved amount from the budget.
        let moves = match self.approved_amount {
            Some(a) if self.state == CaseState::Approved && from != CaseState::Approved => vec![MoneyMove::Reserve(a)],
            _ => Vec::new(),
        };
        self.record(actor, ctx, from, kind, stage, note, moves);
        Ok(())
    }

    /// Writes the transition just made into the history.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        actor: &CaseActor,
        ctx: &CaseContext<'_>,
        from: CaseState,
        action: CaseActionKind,
        stage: Option<usize>,
        note: String,
        moves: Vec<MoneyMove>,
    ) {
        self.updated_at = ctx.now;
        self.history.push(CaseEvent {
            at: ctx.now,
            day: ctx.today,
            action,
            actor: actor.name.clone(),
            actor_role: actor.role,
            department: actor.department.clone(),
            from,
            to: self.state,
            stage,
            note,
            moves,
        });
    }

    fn start_stage(&mut self, ctx: &CaseContext<'_>) {
        if let Some(s) = self.stages.get_mut(self.stage) {
            s.started = Some(ctx.today);
            s.pauses.clear();
            s.due = s.due_on(ctx.calendar);
        }
    }

    /// Every stage has approved: approve with the frozen amount if the budget allows,
    /// otherwise wait in the budget queue.
    fn decide_final(&mut self, ctx: &CaseContext<'_>) {
        let amount = self.requested_amount();
        let fits = match (amount, ctx.budget_left) {
            (Some(a), Some(left)) => a <= left,
            _ => true,
        };
        if fits {
            self.state = CaseState::Approved;
            self.approved_amount = amount;
            self.decided_on = Some(ctx.today);
        } else {
            self.state = CaseState::AwaitingBudget;
        }
    }

    fn check_reviewer_department(&self, actor: &CaseActor) -> Result<(), CaseError> {
        if actor.department.as_deref() != Some(self.department.as_str()) {
            return Err(CaseError::WrongDepartment(self.department.clone()));
        }
        Ok(())
    }

    fn check_reviewer(&self, actor: &CaseActor) -> Result<(), CaseError> {
        let Some(stage) = self.stages.get(self.stage) else { return Err(CaseError::NoStages) };
        if actor.role != Some(stage.role) {
            return Err(CaseError::WrongRole { stage: stage.name.clone(), role: stage.role.label() });
        }
        self.check_reviewer_department(actor)?;
        if actor.user_id.is_some() && actor.user_id == self.prepared_by {
            return Err(CaseError::OwnCase);
        }
        Ok(())
    }

    /// Days left on the current stage's clock (negative when overdue); `None` when no clock runs.
    pub fn days_left(&self, today: Date, cal: &WorkCalendar) -> Option<i64> {
        if self.state != CaseState::InReview {
            return None;
        }
        let s = self.current_stage()?;
        Some(s.days as i64 - s.elapsed(today, cal) as i64)
    }

    /// Whether the current stage's due day has passed.
    pub fn overdue(&self, today: Date) -> bool {
        self.state == CaseState::InReview && self.current_stage().and_then(|s| s.due).is_some_and(|due| today > due)
    }
}

fn applicant(actor: &CaseActor, what: &'static str) -> Result<(), CaseError> {
    match actor.role {
        Some(Role::Enterprise | Role::Specialist) => Ok(()),
        _ => Err(CaseError::NotApplicant(what)),
    }
}

#[cfg(test)]
mod tests;

/// The number of case `id` opened in `year`.
pub fn case_number(id: u64, year: i32) -> String {
    format!("HQ-{year}-{id:06}")
}

/// The case id a case number names (`HQ-2026-000123`, case and spaces ignored), if it is one.
pub fn parse_case_number(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_uppercase();
    let rest = t.strip_prefix("HQ-")?;
    let (year, id) = rest.split_once('-')?;
    if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) || id.is_empty() || id.len() > 12 {
        return None;
    }
    id.parse().ok()
}
