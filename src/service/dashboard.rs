//! The figures of the staff console and `GET /api/v1/stats/cases`: per measure and per
//! department, how many cases and how much money are approved, waiting for budget and in
//! review, with each measure's budget and what is left of it.
//!
//! Who sees what follows the cases: a department's reviewers and publishers count their
//! department's cases, supervisors and specialists the cases of their regions (all when they
//! have none), as [`may_see`] decides. The system administrator, who reads no case, sees the
//! totals of every case in its regions: figures without names, like `/metrics`.
//!
//! One read transaction over every case: fine for a county (thousands of cases, a few
//! milliseconds); a province would keep running totals per measure beside the spending.

use std::collections::BTreeMap;

use serde::Serialize;

use super::cases::may_see;
use super::{Result, Service, ServiceError};
use crate::model::case::{Case, CaseState};
use crate::model::{Money, RegionCode, Role, Who};
use crate::store::prelude::*;

/// A number of cases and the sum of their amounts, exactly, in fen and as 万元 text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub count: u64,
    pub fen: i64,
    /// The sum in 万元, exact (`Money::format`).
    pub wan: String,
    /// Cases counted without an amount (no formula, or it could not be computed).
    pub without_amount: u64,
}

impl Tally {
    fn add(&mut self, amount: Option<Money>) {
        self.count += 1;
        match amount {
            Some(m) => self.fen = self.fen.saturating_add(m.fen()),
            None => self.without_amount += 1,
        }
    }

    fn finish(&mut self) {
        self.wan = Money(self.fen).to_string();
    }
}

/// The figures of one group of cases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Every case submitted (or listed), decided ones included; drafts do not count.
    pub cases: u64,
    /// Approved: the approved amounts.
    pub approved: Tally,
    /// Approved in review but waiting for budget (待资金安排): the amounts asked for.
    pub awaiting_budget: Tally,
    /// In review, returned for supplement included (审核中、待补正): the amounts asked for.
    pub in_review: Tally,
}

impl Figures {
    fn add(&mut self, case: &Case) {
        if case.state == CaseState::Draft {
            return;
        }
        self.cases += 1;
        if let Some(a) = case.net_approved() {
            self.approved.add(Some(a));
            return;
        }
        match case.state {
            CaseState::AwaitingBudget => self.awaiting_budget.add(case.requested_amount()),
            CaseState::InReview | CaseState::Returned | CaseState::Proposed => {
                self.in_review.add(case.requested_amount())
            }
            _ => {}
        }
    }

    fn finish(&mut self) {
        for t in [&mut self.approved, &mut self.awaiting_budget, &mut self.in_review] {
            t.finish();
        }
    }
}

/// One measure's row.
#[derive(Debug, Clone, Serialize)]
pub struct MeasureFigures {
    pub measure_id: u64,
    pub name: String,
    pub department: String,
    #[serde(flatten)]
    pub figures: Figures,
    /// The budget of the version in force, in 万元 text, and what is left of it after every
    /// approval (of all cases, whoever sees them).
    pub budget_wan: Option<String>,
    pub budget_left_wan: Option<String>,
    pub budget_left_fen: Option<i64>,
}

/// One department's row.
#[derive(Debug, Clone, Serialize)]
pub struct DepartmentFigures {
    pub department: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// What the caller sees: the scope in words, the totals, and the rows.
#[derive(Debug, Clone, Serialize)]
pub struct CaseStats {
    /// 本部门（科技局）, 辖区, 全部.
    pub scope: String,
    pub total: Figures,
    pub measures: Vec<MeasureFigures>,
    pub departments: Vec<DepartmentFigures>,
}

/// Whether the case counts in `who`'s figures (see the module's note).
fn counts(who: &Who, case: &Case) -> bool {
    match who.role {
        Some(Role::Sysadmin) => {
            let region = case.region.as_deref().and_then(|r| RegionCode::parse(r).ok());
            who.sees_region(region.as_ref())
        }
        _ => may_see(who, case),
    }
}

impl Service {
    /// The case figures `who` may see, per measure and per department, in one read
    /// transaction.
    pub fn case_stats(&self, who: &Who) -> Result<CaseStats> {
        let own_department = match who.role {
            Some(Role::Enterprise) => {
                return Err(ServiceError::Forbidden("办件统计只向工作人员提供".into()));
            }
            Some(Role::Reviewer | Role::Publisher) => match who.department.as_deref() {
                Some(d) => Some(d.to_string()),
                None => return Err(ServiceError::Forbidden("此账号不属于任何部门，没有可统计的办件".into())),
            },
            _ => None,
        };
        let scope = match (&own_department, who.role) {
            (Some(d), _) => format!("本部门（{d}）"),
            (None, Some(_)) if !who.regions.is_empty() => format!("辖区（{}）", who.regions_text()),
            _ => "全部".to_string(),
        };
        let tx = self.store.read()?;
        let mut total = Figures::default();
        let mut by_measure: BTreeMap<u64, (String, String, Figures)> = BTreeMap::new();
        let mut by_department: BTreeMap<String, Figures> = BTreeMap::new();
        tx.for_each_case(|case: Case| -> Result<()> {
            if !counts(who, &case) {
                return Ok(());
            }
            total.add(&case);
            let row = by_measure
                .entry(case.measure_id)
                .or_insert_with(|| (case.measure_name.clone(), case.department.clone(), Figures::default()));
            row.2.add(&case);
            by_department.entry(case.department.clone()).or_default().add(&case);
            Ok(())
        })?;
        // Measures in force within the scope show their budget even before any case arrives;
        // a specialist sees only the measures of cases in the region.
        let every_measure = matches!(who.role, None | Some(Role::Supervisor | Role::Sysadmin));
        let mut measures = Vec::new();
        for m in tx.measures()? {
            let version = match m.published {
                Some(n) => tx.version(m.id, n)?,
                None => None,
            };
            let counted = by_measure.remove(&m.id);
            let in_scope = version.as_ref().is_some_and(|v| {
                m.withdrawn.is_none() && (every_measure || own_department.as_deref() == Some(v.spec.department.trim()))
            });
            let (name, department, mut figures) = match (counted, &version) {
                (Some(row), _) => row,
                (None, Some(v)) if in_scope => (v.spec.name.clone(), v.spec.department.clone(), Figures::default()),
                _ => continue,
            };
            figures.finish();
            let budget = version.as_ref().and_then(|v| v.spec.budget);
            let left = match budget {
                Some(b) => Some(Money(b.fen().saturating_sub(tx.spent(m.id)?))),
                None => None,
            };
            measures.push(MeasureFigures {
                measure_id: m.id,
                name,
                department,
                figures,
                budget_wan: budget.map(|b| b.to_string()),
                budget_left_wan: left.map(|l| l.to_string()),
                budget_left_fen: left.map(Money::fen),
            });
        }
        // Cases of a measure no longer on record still count, without a budget.
        for (measure_id, (name, department, mut figures)) in by_measure {
            figures.finish();
            measures.push(MeasureFigures {
                measure_id,
                name,
                department,
                figures,
                budget_wan: None,
                budget_left_wan: None,
                budget_left_fen: None,
            });
        }
        total.finish();
        let departments = by_department
            .into_iter()
            .map(|(department, mut figures)| {
                figures.finish();
                DepartmentFigures { department, figures }
            })
            .collect();
        Ok(CaseStats { scope, total, measures, departments })
    }
}
