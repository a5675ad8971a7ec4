//! Reading cases: one case, an entity's cases, the review queue with its filters and order.

use std::collections::HashMap;

use serde::Serialize;

use super::{
    CaseFilter, CaseView, MaterialSlot, QUEUE_PAGE, QUEUE_PAGE_MAX, QueuePage, QueueSort, Views, case_amount,
    for_viewer, material_slots, may_see, unseen,
};
use crate::model::case::{Case, parse_case_number};
use crate::model::{CaseId, CreditCode, MeasureVersion, Money, Role, Who};
use crate::service::{Result, Service};
use crate::store::Tables;
use crate::store::prelude::*;

/// A case as its page shows it: the view, the measure version it was opened or decided under
/// (its form), and its materials as a checklist — each slot once, by name, with its files.
#[derive(Debug, Clone, Serialize)]
pub struct CaseDetail {
    #[serde(flatten)]
    pub view: CaseView,
    #[serde(skip)]
    pub version: Option<MeasureVersion>,
    pub materials: Vec<MaterialSlot>,
}

impl Service {
    /// One case, if `who` may see it.
    pub fn case_get(&self, who: &Who, id: CaseId) -> Result<CaseView> {
        let id = id.get();
        let tx = self.store.read()?;
        let case = tx.case(id)?.filter(|c| may_see(who, c)).ok_or_else(|| unseen(id))?;
        Ok(for_viewer(who, self.views(&tx)?.view(case)?))
    }

    /// One case with the measure version it was opened or decided under and its materials.
    pub fn case_detail(&self, who: &Who, id: CaseId) -> Result<CaseDetail> {
        let id = id.get();
        let tx = self.store.read()?;
        let case = tx.case(id)?.filter(|c| may_see(who, c)).ok_or_else(|| unseen(id))?;
        let version = tx.version(case.measure_id, case.version)?;
        let materials = version.as_ref().map(|v| material_slots(v, &case.files)).unwrap_or_default();
        let view = for_viewer(who, self.views(&tx)?.view(case)?);
        Ok(CaseDetail { view, version, materials })
    }

    pub(super) fn views<'a, T: Tables>(&self, tx: &'a T) -> Result<Views<'a, T>> {
        Ok(Views { tx, calendar: self.calendar()?, today: self.today(), budgets: HashMap::new() })
    }

    /// An entity's cases, newest first.
    pub fn cases_of_entity(&self, who: &Who, credit_code: &CreditCode) -> Result<Vec<CaseView>> {
        let code = credit_code.as_str();
        let tx = self.store.read()?;
        let entity = tx.entity_id_by_code(code)?.map(|id| tx.entity(id)).transpose()?.flatten();
        let assigned = |id: u64| -> Result<bool> {
            Ok(who.role == Some(Role::Specialist)
                && who.user_id.is_some_and(|u| tx.specialists_of(id).is_ok_and(|s| s.contains(&u))))
        };
        let readable = match &entity {
            Some(e) => (crate::service::entities::may_read(who, e) || assigned(e.id)?).then_some(e.id),
            None => None,
        };
        let Some(id) = readable else {
            return Err(crate::service::entities::unseen_entity(code));
        };
        let mut views = self.views(&tx)?;
        let cases = tx.cases_of_entity(id)?;
        cases.into_iter().filter(|c| may_see(who, c)).map(|c| Ok(for_viewer(who, views.view(c)?))).collect()
    }

    /// Open cases `who` may see — a department's review queue, a supervisor's or specialist's
    /// region — the most urgent first.
    /// The first page of the caller's open cases, soonest due first, with the queue's totals.
    pub fn case_queue(&self, who: &Who) -> Result<QueuePage> {
        self.case_queue_filtered(who, &CaseFilter::default())
    }

    /// The queue narrowed by state, lateness, measure or a text in the entity's or measure's
    /// name, soonest due first, one page of it. The whole queue is filtered and ordered on the
    /// case records; only the page is built into views.
    pub fn case_queue_filtered(&self, who: &Who, filter: &CaseFilter) -> Result<QueuePage> {
        let today = self.today();
        let tx = self.store.read()?;
        let cases = self.queue_sorted(&tx, who, filter)?;
        let (total, overdue) = (cases.len(), cases.iter().filter(|c| c.overdue(today)).count());
        let limit = match filter.limit {
            0 => QUEUE_PAGE,
            n => n.min(QUEUE_PAGE_MAX),
        };
        let mut builder = self.views(&tx)?;
        let page = cases
            .into_iter()
            .skip(filter.offset)
            .take(limit)
            .map(|c| builder.view(c).map(|v| for_viewer(who, v)))
            .collect::<Result<Vec<_>>>()?;
        Ok(QueuePage { total, overdue, offset: filter.offset, limit, cases: page })
    }

    /// The whole queue as `filter` narrows and orders it (its page ignored), as views.
    pub(crate) fn queue_all(&self, who: &Who, filter: &CaseFilter) -> Result<Vec<CaseView>> {
        let tx = self.store.read()?;
        let cases = self.queue_sorted(&tx, who, filter)?;
        let mut builder = self.views(&tx)?;
        cases.into_iter().map(|c| builder.view(c).map(|v| for_viewer(who, v))).collect()
    }

    /// The case records of the queue, filtered and ordered.
    pub(super) fn queue_sorted(&self, tx: &impl Tables, who: &Who, filter: &CaseFilter) -> Result<Vec<Case>> {
        let q = filter.q.trim().to_string();
        let upper = q.to_ascii_uppercase();
        let today = self.today();
        let calendar = self.calendar()?;
        let department = match who.role {
            Some(Role::Reviewer | Role::Publisher) => match who.department.as_deref() {
                Some(d) => Some(d),
                None => return Ok(Vec::new()),
            },
            _ => None,
        };
        let mut cases: Vec<(i64, u64, Case)> = tx
            .open_cases(department)?
            .into_iter()
            .filter(|c| {
                may_see(who, c)
                    && filter.state.is_none_or(|s| c.state == s)
                    && (!filter.overdue || c.overdue(today))
                    && filter.measure.is_none_or(|m| c.measure_id == m)
                    && (q.is_empty()
                        || parse_case_number(&q) == Some(c.id)
                        || c.entity_name.contains(&q)
                        || c.measure_name.contains(&q)
                        || c.credit_code.contains(&upper))
            })
            .map(|c| (c.days_left(today, &calendar).unwrap_or(i64::MAX), c.id, c))
            .collect();
        cases.sort_by(|(left_a, id_a, a), (left_b, id_b, b)| {
            let order = match filter.sort {
                QueueSort::Due => left_a.cmp(left_b),
                QueueSort::Submitted => a.submitted_on.cmp(&b.submitted_on),
                QueueSort::Entity => a.entity_name.cmp(&b.entity_name),
                QueueSort::Amount => case_amount(a).map(Money::fen).cmp(&case_amount(b).map(Money::fen)),
            };
            if filter.desc { order.reverse() } else { order }.then(id_a.cmp(id_b))
        });
        Ok(cases.into_iter().map(|(_, _, c)| c).collect())
    }
}
