//! The policy library (政策事项库): policy documents, their measures, and immutable published
//! measure versions.

use serde::{Deserialize, Serialize};

use super::date::{Date, Timestamp};
use super::enums::{Category, Level, Mode};
use super::money::Money;
use super::user::Role;

mod diff;
pub use diff::{DiffLine, FieldChange, PlainRules, line_diff};

/// One problem with an input, named by the field it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError { field: field.to_string(), message: message.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: String,
    #[serde(default)]
    pub url: String,
}

/// The editable content of a policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    pub title: String,
    pub doc_number: String,
    pub level: Level,
    pub department: String,
    pub issue_date: Option<Date>,
    #[serde(default)]
    pub valid_from: Option<Date>,
    #[serde(default)]
    pub valid_until: Option<Date>,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub interpretation: String,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub id: u64,
    #[serde(flatten)]
    pub content: PolicyInput,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub created_by: String,
}

fn required(errors: &mut Vec<FieldError>, field: &str, label: &str, value: &str, max: usize) {
    let n = value.trim().chars().count();
    if n == 0 {
        errors.push(FieldError::new(field, format!("请填写{label}")));
    } else if n > max {
        errors.push(FieldError::new(field, format!("{label}过长（最多 {max} 字，现有 {n} 字）")));
    }
}

fn window(errors: &mut Vec<FieldError>, field: &str, from: Option<Date>, until: Option<Date>, what: &str) {
    if let (Some(f), Some(u)) = (from, until)
        && u < f
    {
        errors.push(FieldError::new(field, format!("{what}的结束日期 {u} 早于开始日期 {f}")));
    }
}

impl PolicyInput {
    /// Trims text fields and checks everything a policy needs.
    pub fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        for s in [&mut self.title, &mut self.doc_number, &mut self.department] {
            *s = s.trim().to_string();
        }
        self.tags = self.tags.iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
        self.attachments.retain(|a| !a.name.trim().is_empty());
        let mut errors = Vec::new();
        required(&mut errors, "title", "政策标题", &self.title, 200);
        required(&mut errors, "doc_number", "文号", &self.doc_number, 100);
        required(&mut errors, "department", "发文部门", &self.department, 100);
        if self.issue_date.is_none() {
            errors.push(FieldError::new("issue_date", "请填写发布日期"));
        }
        window(&mut errors, "valid_until", self.valid_from, self.valid_until, "有效期");
        if self.text.chars().count() > 200_000 {
            errors.push(FieldError::new("text", "政策原文过长（最多 20 万字）"));
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// One eligibility condition: a label shown to enterprises and a CEL expression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub label: String,
    pub expr: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    pub key: String,
    pub label: String,
    #[serde(default = "default_kind")]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    /// The choices of a `select` field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

fn default_category() -> Category {
    Category::Other
}

fn default_kind() -> String {
    "text".into()
}

pub const FORM_FIELD_KINDS: [&str; 7] = ["text", "number", "money", "date", "select", "textarea", "file"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewStage {
    pub name: String,
    /// Time limit in working days.
    pub days: u32,
    /// Who decides at this stage (a reviewer of the handling department unless set).
    #[serde(default = "default_stage_role")]
    pub role: Role,
}

fn default_stage_role() -> Role {
    Role::Reviewer
}

/// The editable content of a measure: what one version freezes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureSpec {
    pub name: String,
    #[serde(default = "default_category")]
    pub category: Category,
    #[serde(default)]
    pub department: String,
    pub mode: Mode,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Benefit formula in 万元.
    #[serde(default)]
    pub amount: Option<String>,
    /// Per-entity cap.
    #[serde(default, with = "crate::model::money::wan_opt")]
    pub cap: Option<Money>,
    #[serde(default, with = "crate::model::money::wan_opt")]
    pub budget: Option<Money>,
    #[serde(default)]
    pub window_start: Option<Date>,
    #[serde(default)]
    pub window_end: Option<Date>,
    #[serde(default)]
    pub materials: Vec<String>,
    #[serde(default)]
    pub form_fields: Vec<FormField>,
    #[serde(default)]
    pub review_stages: Vec<ReviewStage>,
    #[serde(default)]
    pub publicity_days: u32,
    #[serde(default)]
    pub contact: String,
    #[serde(default)]
    pub guide: String,
    /// 免申即享: working days an enterprise has to accept an offer; 0 pays the account on file
    /// without asking.
    #[serde(default = "default_offer_days")]
    pub offer_days: u32,
    /// 资金来源 and 预算科目, printed on payment batches.
    #[serde(default)]
    pub fund_source: String,
    #[serde(default)]
    pub budget_subject: String,
}

fn default_offer_days() -> u32 {
    10
}

/// The slot for anything an enterprise adds beyond the listed materials.
pub const OTHER_MATERIALS: &str = "其他材料";

impl MeasureSpec {
    pub fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        self.name = self.name.trim().to_string();
        self.department = self.department.trim().to_string();
        self.amount = self.amount.take().map(|a| a.trim().to_string()).filter(|a| !a.is_empty());
        self.materials = self.materials.iter().map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect();
        self.conditions.retain(|c| !(c.label.trim().is_empty() && c.expr.trim().is_empty()));
        self.form_fields.retain(|f| !(f.key.trim().is_empty() && f.label.trim().is_empty()));
        self.review_stages.retain(|s| !s.name.trim().is_empty());
        let mut errors = Vec::new();
        required(&mut errors, "name", "事项名称", &self.name, 200);
        required(&mut errors, "department", "承办部门", &self.department, 100);
        window(&mut errors, "window_end", self.window_start, self.window_end, "申报时间");
        for (i, c) in self.conditions.iter_mut().enumerate() {
            c.label = c.label.trim().to_string();
            c.expr = c.expr.trim().to_string();
            if c.label.is_empty() {
                errors.push(FieldError::new(
                    &format!("conditions[{i}].label"),
                    format!("第 {} 个条件缺少说明文字", i + 1),
                ));
            }
            if c.expr.is_empty() {
                errors
                    .push(FieldError::new(&format!("conditions[{i}].expr"), format!("第 {} 个条件缺少表达式", i + 1)));
            }
        }
        for (name, label, value) in [("cap", "单户上限", self.cap), ("budget", "资金总额", self.budget)] {
            if value.is_some_and(|m| m.fen() < 0) {
                errors.push(FieldError::new(name, format!("{label}不能为负数")));
            }
        }
        let mut keys = Vec::new();
        for (i, f) in self.form_fields.iter_mut().enumerate() {
            f.key = f.key.trim().to_string();
            f.label = f.label.trim().to_string();
            let ok = f.key.starts_with(|c: char| c.is_ascii_lowercase())
                && f.key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok {
                errors.push(FieldError::new(
                    &format!("form_fields[{i}].key"),
                    format!("申报表字段标识「{}」只能由小写字母、数字和下划线组成，并以字母开头", f.key),
                ));
            }
            if keys.contains(&f.key) {
                errors.push(FieldError::new(
                    &format!("form_fields[{i}].key"),
                    format!("申报表字段标识「{}」重复", f.key),
                ));
            }
            keys.push(f.key.clone());
            f.options = f.options.iter().map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect();
            if f.kind == "select" && f.options.is_empty() {
                errors.push(FieldError::new(
                    &format!("form_fields[{i}].options"),
                    format!("申报表字段「{}」是选择题，请列出可选项", f.label),
                ));
            }
            if !FORM_FIELD_KINDS.contains(&f.kind.as_str()) {
                errors.push(FieldError::new(
                    &format!("form_fields[{i}].kind"),
                    format!("申报表字段类型「{}」无效，可用：{}", f.kind, FORM_FIELD_KINDS.join("、")),
                ));
            }
        }
        // Each material is one slot of the application: listed once, and not again as a file
        // field of the form (the enterprise would be asked for it twice).
        let mut seen: Vec<&str> = Vec::new();
        for (i, m) in self.materials.iter().enumerate() {
            if seen.contains(&m.as_str()) {
                errors
                    .push(FieldError::new(&format!("materials[{i}]"), format!("申报材料「{m}」重复列出，请删去一项")));
            }
            seen.push(m);
        }
        for (i, f) in self.form_fields.iter().enumerate() {
            if f.kind == "file" && (seen.contains(&f.label.as_str()) || f.label == OTHER_MATERIALS) {
                errors.push(FieldError::new(
                    &format!("form_fields[{i}].label"),
                    format!("申报表附件「{}」与申报材料重名，请只保留一处", f.label),
                ));
            }
        }
        for (i, s) in self.review_stages.iter().enumerate() {
            if s.days == 0 || s.days > 365 {
                errors.push(FieldError::new(
                    &format!("review_stages[{i}].days"),
                    format!("审核环节「{}」的时限应为 1–365 个工作日", s.name),
                ));
            }
            if !matches!(s.role, Role::Reviewer | Role::Publisher) {
                errors.push(FieldError::new(
                    &format!("review_stages[{i}].role"),
                    format!("审核环节「{}」只能由审核员或政策发布员办理", s.name),
                ));
            }
        }
        if self.publicity_days > 60 {
            errors.push(FieldError::new("publicity_days", "公示天数最多 60 天"));
        }
        if self.offer_days > 60 {
            errors.push(FieldError::new("offer_days", "确认领取期限最多 60 个工作日"));
        }
        self.fund_source = self.fund_source.trim().to_string();
        self.budget_subject = self.budget_subject.trim().to_string();
        for (field, label, text) in
            [("fund_source", "资金来源", &self.fund_source), ("budget_subject", "预算科目", &self.budget_subject)]
        {
            if text.chars().count() > 100 {
                errors.push(FieldError::new(field, format!("{label}最多 100 字")));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// Whether the application window contains `day` (an absent bound is open).
    pub fn open_on(&self, day: Date) -> bool {
        self.window_start.is_none_or(|s| s <= day) && self.window_end.is_none_or(|e| day <= e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    Draft,
    Published,
    Superseded,
}

impl VersionStatus {
    pub fn label(self) -> &'static str {
        match self {
            VersionStatus::Draft => "草稿",
            VersionStatus::Published => "已发布",
            VersionStatus::Superseded => "已被新版本取代",
        }
    }
}

/// One version of a measure. Once published it never changes again (except its status
/// moving to superseded when a newer version is published).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasureVersion {
    pub measure_id: u64,
    pub version: u32,
    pub status: VersionStatus,
    pub spec: MeasureSpec,
    pub created_at: Timestamp,
    pub created_by: String,
    #[serde(default)]
    pub published_at: Option<Timestamp>,
    #[serde(default)]
    pub published_by: Option<String>,
    /// Everyone who wrote this version while it was a draft: none of them may approve it.
    #[serde(default)]
    pub editors: Vec<String>,
    /// A pending request to publish this draft (四眼原则: another person approves).
    #[serde(default)]
    pub request: Option<PublicationRequest>,
    /// The last request refused, and why.
    #[serde(default)]
    pub refusal: Option<Refusal>,
    /// Approved to take effect on a later day; the sweep publishes it then.
    #[serde(default)]
    pub scheduled: Option<Scheduled>,
}

impl MeasureVersion {
    /// A new draft written by `by`.
    pub fn draft(measure_id: u64, version: u32, spec: MeasureSpec, by: &str, now: Timestamp) -> MeasureVersion {
        MeasureVersion {
            measure_id,
            version,
            status: VersionStatus::Draft,
            spec,
            created_at: now,
            created_by: by.to_string(),
            published_at: None,
            published_by: None,
            editors: vec![by.to_string()],
            request: None,
            refusal: None,
            scheduled: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicationRequest {
    pub by: String,
    pub at: Timestamp,
    /// The day it is to take effect; `None` is as soon as it is approved.
    pub publish_on: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub by: String,
    pub at: Timestamp,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    pub approved_by: String,
    pub at: Timestamp,
    pub on: Date,
}

/// A published measure taken back, with the reason the public sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    pub by: String,
    pub at: Timestamp,
    pub on: Date,
    pub reason: String,
}

/// The measure itself: which policy it belongs to and where its versions stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measure {
    pub id: u64,
    pub policy_id: u64,
    /// The newest version (a draft, or the published one when there is no draft).
    pub latest: u32,
    /// The version in force, if any has been published.
    pub published: Option<u32>,
    pub created_at: Timestamp,
    /// Set when the department withdrew the measure (it is then matched and applied for no more).
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
    /// Days before the window or validity ends for which the department has been warned (30, 7).
    #[serde(default)]
    pub warned: Vec<u32>,
}

impl Measure {
    pub fn new(id: u64, policy_id: u64, now: Timestamp) -> Measure {
        Measure { id, policy_id, latest: 1, published: None, created_at: now, withdrawn: None, warned: Vec::new() }
    }

    /// Published and not withdrawn: matched, pushed and open to applications.
    pub fn in_force(&self) -> bool {
        self.published.is_some() && self.withdrawn.is_none()
    }

    pub fn has_draft(&self) -> bool {
        self.published != Some(self.latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn spec() -> MeasureSpec {
        MeasureSpec {
            name: "研发费用补助".into(),
            category: Category::Subsidy,
            department: "科技局".into(),
            mode: Mode::Apply,
            conditions: vec![Condition {
                label: "科技型中小企业".into(), expr: "tags.contains(\"tech_sme\")".into()
            }],
            amount: Some("min(rd_expense * 0.1, 100)".into()),
            cap: Some(Money::from_wan(100)),
            budget: None,
            window_start: Date::parse("2026-01-01").ok(),
            window_end: Date::parse("2026-12-31").ok(),
            materials: vec![],
            form_fields: vec![],
            review_stages: vec![ReviewStage { name: "受理".into(), days: 3, role: Role::Reviewer }],
            publicity_days: 5,
            contact: "0451-1".into(),
            guide: String::new(),
            offer_days: 10,
            fund_source: String::new(),
            budget_subject: String::new(),
        }
    }

    #[test]
    fn validation_says_what_to_fix() {
        let mut s = spec();
        s.name = "  ".into();
        s.window_end = Date::parse("2025-01-01").ok();
        s.form_fields.push(FormField {
            key: "Bad Key".into(),
            label: "x".into(),
            kind: "blob".into(),
            required: false,
            options: Vec::new(),
        });
        s.review_stages[0].days = 0;
        let errors = s.validate().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "window_end", "form_fields[0].key", "form_fields[0].kind", "review_stages[0].days"]
        );
        assert!(errors[0].message.contains("事项名称"));
    }

    #[test]
    fn open_window() {
        let s = spec();
        assert!(s.open_on(Date::parse("2026-06-01").unwrap()));
        assert!(!s.open_on(Date::parse("2027-01-01").unwrap()));
    }
}
