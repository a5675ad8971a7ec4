//! A case (办件): one entity applying for one measure, and the pure state machine that moves
//! it through review stages with time limits in working days. Nothing here does I/O; the
//! service loads a case, calls [`Case::act`] and writes the result with its audit entry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::calendar::WorkCalendar;
use super::date::{Date, Timestamp};
use super::enums::{Mode, Vocabulary, vocabulary};
use super::money::Money;
use super::policy::ReviewStage;
use super::user::Role;

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
        !matches!(self, CaseState::Rejected | CaseState::Withdrawn)
    }

    /// A decision has been made and nothing moves it back.
    pub fn is_final(self) -> bool {
        matches!(self, CaseState::Approved | CaseState::Rejected | CaseState::Withdrawn)
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
    }
}

impl CaseActionKind {
    /// The action code the audit trail records for it (`case.submit`, …).
    pub fn code(self) -> String {
        format!("case.{}", self.key())
    }
}

/// The values a decision rests on, frozen at submission: the measure version, every
/// condition's outcome with the actual value, the amount, and the portrait fields the rules read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frozen {
    pub version: u32,
    pub as_of: Date,
    /// `eligible`, `not_eligible` or `unknown`.
    pub outcome: String,
    pub conditions: Vec<FrozenCondition>,
    /// min(formula, cap); `None` when the measure has no formula or it could not be computed.
    pub amount: Option<Money>,
    #[serde(default)]
    pub amount_note: Option<String>,
    /// (field key, label, value as shown) of every field the measure's rules read.
    pub values: Vec<(String, String, String)>,
    /// The form as submitted.
    pub form: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenCondition {
    pub label: String,
    pub expr: String,
    pub outcome: String,
    pub text: String,
}

impl Frozen {
    pub fn eligible(&self) -> bool {
        self.outcome == "eligible"
    }
    pub fn not_eligible(&self) -> bool {
        self.outcome == "not_eligible"
    }
}

/// A period the stage clock stood still (补正): from the day of return to the day of
/// resubmission (`None` while it lasts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub from: Date,
    pub to: Option<Date>,
}

/// One review stage of one case: its clock and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageRun {
    pub name: String,
    pub role: Role,
    /// The limit in working days.
    pub days: u32,
    /// The day the stage began (the clock counts from the next working day).
    pub started: Option<Date>,
    pub due: Option<Date>,
    #[serde(default)]
    pub pauses: Vec<Pause>,
    /// Set when the stage approved: who and when.
    #[serde(default)]
    pub approved: Option<(String, Date)>,
    /// The due day the handler was last warned about (the sweep warns once per due day).
    #[serde(default)]
    pub warned_for: Option<Date>,
}

impl StageRun {
    pub fn new(stage: &ReviewStage) -> StageRun {
        StageRun {
            name: stage.name.clone(),
            role: stage.role,
            days: stage.days,
            started: None,
            due: None,
            pauses: Vec::new(),
            approved: None,
            warned_for: None,
        }
    }

    /// Working days the stage has run by `today`: from `started` (exclusive) to `today`
    /// (inclusive), minus working days inside pauses. The day of a return still counts; the
    /// days after it up to and including the day of resubmission do not (the clock restarts
    /// the next working day, as it started the working day after acceptance).
    pub fn elapsed(&self, today: Date, cal: &WorkCalendar) -> u32 {
        let Some(start) = self.started else { return 0 };
        let mut n = 0u32;
        let mut day = start.add_days(1);
        while day <= today {
            let paused = self.pauses.iter().any(|p| p.from < day && p.to.is_none_or(|to| day <= to));
            if !paused && cal.is_working_day(day) {
                n += 1;
            }
            day = day.add_days(1);
        }
        n
    }

    /// The due day: `days` working days after the start, moved on by paused working days.
    /// `None` while paused (the clock stands) or before the stage began.
    pub fn due_on(&self, cal: &WorkCalendar) -> Option<Date> {
        let start = self.started?;
        if self.pauses.iter().any(|p| p.to.is_none()) {
            return None;
        }
        let mut left = self.days;
        let mut day = start;
        while left > 0 {
            day = day.add_days(1);
            let paused = self.pauses.iter().any(|p| p.from < day && p.to.is_some_and(|to| day <= to));
            if !paused && cal.is_working_day(day) {
                left -= 1;
            }
        }
        Some(day)
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
            CaseState::Approved => "等待公示和资金拨付",
            CaseState::Rejected | CaseState::Withdrawn => "办理已结束",
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
        self.updated_at = ctx.now;
        self.history.push(CaseEvent {
            at: ctx.now,
            day: ctx.today,
            action: kind,
            actor: actor.name.clone(),
            actor_role: actor.role,
            department: actor.department.clone(),
            from,
            to: self.state,
            stage,
            note,
        });
        Ok(())
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
