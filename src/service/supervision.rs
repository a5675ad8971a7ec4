//! Supervision of overdue stages (the items the sweep opens, followed by supervisors with
//! notices to resolution), the departments' notices, and the entities each specialist looks
//! after.

use serde::Serialize;

use super::cases::{CaseView, may_see};
use super::{Result, Service, ServiceError};
use crate::model::audit::action;
use crate::model::calendar::WorkCalendar;
use crate::model::case::{Case, CaseState};
use crate::model::supervision::{Notice, NoticeKind, Resolution, Supervision, SupervisionNotice, SupervisionStatus};
use crate::model::{CreditCode, Date, Entity, RegionCode, Role, Who};
use crate::store::WriteTx;
use crate::store::prelude::*;

/// An entity a specialist looks after, with what is pending on it.
#[derive(Debug, Clone, Serialize)]
pub struct AssignedEntity {
    pub credit_code: String,
    pub name: String,
    pub region: Option<String>,
    pub cases: Vec<CaseView>,
    /// Plain-language next actions (drafts to submit, returns to supplement, …).
    pub actions: Vec<String>,
}

pub(super) fn notice(
    tx: &WriteTx,
    department: &str,
    day: Date,
    kind: NoticeKind,
    title: String,
    body: String,
    link: Option<String>,
) -> Result<()> {
    let n = Notice {
        id: tx.next_id("notice")?,
        department: department.to_string(),
        at: tx.now(),
        day,
        kind,
        title,
        body,
        link,
        read_at: None,
    };
    tx.put_notice(&n)?;
    Ok(())
}

pub(super) fn region_of(s: &Supervision) -> Option<RegionCode> {
    s.region.as_deref().and_then(|r| RegionCode::parse(r).ok())
}

/// The supervised stage's clock no longer runs: decided, returned for supplement (the clock
/// stands until resubmission), or the case gone.
pub(super) fn stage_moved(item: &Supervision, case: Option<&Case>) -> bool {
    case.is_none_or(|c| !(c.state == CaseState::InReview && c.stage as u32 == item.stage))
}

/// An item on the board as people read it: how late in working days, whether the notice's own
/// deadline passed.
#[derive(Debug, Clone, Serialize)]
pub struct BoardRow {
    #[serde(flatten)]
    pub item: Supervision,
    /// The case's number as people quote it.
    pub case_number: String,
    pub days_late: u32,
    pub notice_overdue: bool,
    pub status_label: &'static str,
}

/// Working days a case's running stage is late on `today` (paused days not counted).
fn late(case: &Case, today: Date, calendar: &WorkCalendar) -> Option<u32> {
    case.days_left(today, calendar).map(|left| u32::try_from(-left).unwrap_or(0))
}

/// Resolves the open item of the stage `case` was at in `before`, when `case` (as it is about
/// to be written) no longer runs that stage's clock: in the transaction of the decision,
/// return or withdrawal that stopped it, so the board never shows a stage already acted on.
pub(super) fn resolve_with_case(
    tx: &WriteTx,
    who: &Who,
    before: &Case,
    case: &Case,
    today: Date,
    calendar: &WorkCalendar,
) -> Result<()> {
    let Some(id) = tx.supervision_of(before.id, before.stage as u32)? else { return Ok(()) };
    let Some(item) = tx.supervision(id)?.filter(|s| s.status != SupervisionStatus::Resolved) else { return Ok(()) };
    if !stage_moved(&item, Some(case)) {
        return Ok(());
    }
    let note = match case.state {
        CaseState::Returned => "退回补正，办理时限暂停".to_string(),
        _ => match case.history.last() {
            Some(e) => format!("环节已办理：{}", crate::model::Vocabulary::label(e.action)),
            None => "环节已办理".to_string(),
        },
    };
    let mut after = item.clone();
    after.status = SupervisionStatus::Resolved;
    after.resolved = Some(Resolution {
        on: today,
        by: who.name.clone(),
        note: note.clone(),
        days_late: late(before, today, calendar),
    });
    tx.put_supervision(&after)?;
    tx.audit_edit(who, action::SUPERVISION_RESOLVE, &format!("supervision:{id}"), &note, &item, &after)?;
    Ok(())
}

/// A credit code for an assignment, parsed once at the boundary: text that is no credit code
/// is refused as a code the library does not hold.
pub fn assignment_code(text: &str) -> Result<CreditCode> {
    CreditCode::parse_or(text, unknown_entity)
}

/// An assignment's credit code the entity library does not hold.
fn unknown_entity(code: &str) -> ServiceError {
    ServiceError::invalid("credit_code", format!("经营主体库中没有统一社会信用代码 {code}"))
}

impl Service {
    /// The supervisors' board: items within `who`'s region, open and noticed first, the
    /// longest overdue first.
    /// The board's page: overdue stages, and the money half's late objections and failures.
    pub fn supervision_page(
        &self,
        who: &Who,
        include_resolved: bool,
    ) -> Result<(Vec<BoardRow>, super::cases::board::MoneyBoard)> {
        Ok((self.supervision_board(who, include_resolved)?, self.money_board(who)?))
    }

    pub fn supervision_board(&self, who: &Who, include_resolved: bool) -> Result<Vec<BoardRow>> {
        let today = self.today();
        let calendar = self.calendar()?;
        let tx = self.store.read()?;
        let mut items: Vec<Supervision> = tx
            .supervisions()?
            .into_iter()
            .filter(|s| include_resolved || s.status != SupervisionStatus::Resolved)
            .filter(|s| who.sees_region(region_of(s).as_ref()))
            .collect();
        items.sort_by_key(|s| (s.status == SupervisionStatus::Resolved, s.due, s.id));
        items
            .into_iter()
            .map(|item| {
                // An open item is as late as its case's queue says (paused days do not count);
                // a resolved one as it was on the day it was resolved.
                let case = tx.case(item.case_id)?;
                let case_number = case.as_ref().map_or_else(|| format!("#{}", item.case_id), Case::number);
                let running = match item.status {
                    SupervisionStatus::Resolved => None,
                    _ => case.filter(|c| !stage_moved(&item, Some(c))),
                };
                let days_late = match running.and_then(|c| late(&c, today, &calendar)) {
                    Some(n) => n,
                    None => item.days_late(today, &calendar),
                };
                Ok(BoardRow {
                    case_number,
                    days_late,
                    notice_overdue: item.notice_overdue(today),
                    status_label: crate::model::Vocabulary::label(item.status),
                    item,
                })
            })
            .collect()
    }

    fn supervision_for(&self, tx: &WriteTx, who: &Who, id: u64) -> Result<Supervision> {
        let item = tx.supervision(id)?.ok_or_else(|| ServiceError::NotFound(format!("督办事项 #{id} 不存在")))?;
        if !who.sees_region(region_of(&item).as_ref()) {
            return Err(ServiceError::Forbidden(format!("督办事项 #{id} 不在本账号的辖区内")));
        }
        Ok(item)
    }

    /// A supervisor issues a 督办 notice with its own deadline (a number of working days).
    pub fn supervision_notice(&self, who: &Who, id: u64, text: &str, working_days: u32) -> Result<Supervision> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ServiceError::invalid("text", "请填写督办意见"));
        }
        if !(1..=30).contains(&working_days) {
            return Err(ServiceError::invalid("days", "督办时限应为 1–30 个工作日"));
        }
        let today = self.today();
        let deadline = self.calendar()?.add_working_days(today, working_days);
        let tx = self.store.write()?;
        let before = self.supervision_for(&tx, who, id)?;
        if before.status == SupervisionStatus::Resolved {
            return Err(ServiceError::Conflict(format!("督办事项 #{id} 已办结")));
        }
        let mut item = before.clone();
        item.status = SupervisionStatus::Noticed;
        item.notice = Some(SupervisionNotice { by: who.name.clone(), at: tx.now(), text: text.to_string(), deadline });
        tx.put_supervision(&item)?;
        let title = format!("督办通知：办件 #{}（{}）", item.case_id, item.measure_name);
        let body = format!("{text}。请于 {deadline} 前办结「{}」环节。", item.stage_name);
        notice(
            &tx,
            &item.department,
            today,
            NoticeKind::Supervision,
            title,
            body,
            Some(format!("/cases/{}", item.case_id)),
        )?;
        tx.audit_edit(who, action::SUPERVISION_NOTICE, &format!("supervision:{id}"), text, &before, &item)?;
        tx.commit()?;
        Ok(item)
    }

    /// A supervisor closes an item by hand (e.g. the delay was justified), with a note.
    pub fn supervision_resolve(&self, who: &Who, id: u64, note: &str) -> Result<Supervision> {
        let note = note.trim();
        if note.is_empty() {
            return Err(ServiceError::invalid("note", "请写明办结说明"));
        }
        let tx = self.store.write()?;
        let before = self.supervision_for(&tx, who, id)?;
        if before.status == SupervisionStatus::Resolved {
            return Err(ServiceError::Conflict(format!("督办事项 #{id} 已办结")));
        }
        let mut item = before.clone();
        item.status = SupervisionStatus::Resolved;
        let today = self.today();
        let days_late = match tx.case(item.case_id)?.filter(|c| !stage_moved(&item, Some(c))) {
            Some(case) => late(&case, today, &self.calendar()?),
            None => None,
        };
        item.resolved = Some(Resolution { on: today, by: who.name.clone(), note: note.to_string(), days_late });
        tx.put_supervision(&item)?;
        tx.audit_edit(who, action::SUPERVISION_RESOLVE, &format!("supervision:{id}"), note, &before, &item)?;
        tx.commit()?;
        Ok(item)
    }

    /// A department's notices (all departments' for an account without one), newest first,
    /// and how many are unread.
    pub fn notices(&self, who: &Who, limit: usize) -> Result<(Vec<Notice>, usize)> {
        let Some(department) = who.department.as_deref() else { return Ok((Vec::new(), 0)) };
        let all = self.store.read()?.notices(department, usize::MAX)?;
        let unread = all.iter().filter(|n| n.read_at.is_none()).count();
        Ok((all.into_iter().take(limit).collect(), unread))
    }

    pub fn notice_read(&self, who: &Who, id: u64) -> Result<Notice> {
        let Some(department) = who.department.clone() else {
            return Err(ServiceError::NotFound(format!("提醒 #{id} 不存在")));
        };
        let tx = self.store.write()?;
        let mut n = tx.notice(&department, id)?.ok_or_else(|| ServiceError::NotFound(format!("提醒 #{id} 不存在")))?;
        if n.read_at.is_none() {
            n.read_at = Some(tx.now());
            tx.put_notice(&n)?;
            tx.audit(who, action::NOTICE_READ, &format!("department:{department}"), &format!("notice #{id}"))?;
            tx.commit()?;
        }
        Ok(n)
    }

    /// Assigns an entity to a specialist (or ends the assignment).
    pub fn assignment_set(&self, who: &Who, specialist: &str, code: &CreditCode, on: bool) -> Result<()> {
        let tx = self.store.write()?;
        let user = tx
            .user_by_name(specialist.trim())?
            .filter(|u| u.role == Role::Specialist)
            .ok_or_else(|| ServiceError::invalid("specialist", format!("「{specialist}」不是帮办专员账号")))?;
        let entity: Entity = tx.entity_by_code(code.as_str())?.ok_or_else(|| unknown_entity(code.as_str()))?;
        if !who.sees_region(entity.region.as_ref()) {
            return Err(ServiceError::Forbidden(format!("经营主体 {code} 不在本账号的辖区内")));
        }
        tx.set_assignment(user.id, entity.id, on)?;
        let action = if on { action::ASSIGNMENT_ADD } else { action::ASSIGNMENT_REMOVE };
        tx.audit(who, action, &format!("entity:{code}"), &user.username)?;
        tx.commit()?;
        Ok(())
    }

    /// Every assignment within `who`'s region: (specialist, credit code, entity name).
    pub fn assignment_rows(&self, who: &Who) -> Result<Vec<(String, String, String)>> {
        let tx = self.store.read()?;
        let mut rows = Vec::new();
        for user in tx.users()?.into_iter().filter(|u| u.role == Role::Specialist) {
            for id in tx.assigned_entities(user.id)? {
                let Some(e) = tx.entity(id)? else { continue };
                if who.sees_region(e.region.as_ref()) {
                    rows.push((
                        user.username.clone(),
                        e.credit_code.as_str().to_string(),
                        e.name.clone().unwrap_or_default(),
                    ));
                }
            }
        }
        Ok(rows)
    }

    /// The entities a specialist looks after, each with its cases and what to do next.
    pub fn assigned(&self, who: &Who) -> Result<Vec<AssignedEntity>> {
        let Some(user) = who.user_id else { return Ok(Vec::new()) };
        let tx = self.store.read()?;
        let mut out = Vec::new();
        for id in tx.assigned_entities(user)? {
            let Some(entity) = tx.entity(id)? else { continue };
            let cases = self.cases_of_entity(who, &entity.credit_code)?;
            let code = entity.credit_code.to_string();
            let mut actions = Vec::new();
            for c in &cases {
                match c.case.state {
                    CaseState::Draft => {
                        actions.push(format!("「{}」草稿未提交（办件 #{}）", c.case.measure_name, c.case.id))
                    }
                    CaseState::Returned => actions.push(format!(
                        "「{}」被退回补正：{}（办件 #{}）",
                        c.case.measure_name,
                        c.case.reason.clone().unwrap_or_default(),
                        c.case.id
                    )),
                    CaseState::InReview if c.overdue => actions.push(format!(
                        "「{}」审核已超期，可联系{}（办件 #{}）",
                        c.case.measure_name, c.case.department, c.case.id
                    )),
                    _ => {}
                }
            }
            out.push(AssignedEntity {
                credit_code: code,
                name: entity.name.clone().unwrap_or_default(),
                region: entity.region.as_ref().map(|r| r.as_str().to_string()),
                cases: cases.into_iter().filter(|c| may_see(who, &c.case)).collect(),
                actions,
            });
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.actions.len()));
        Ok(out)
    }
}
