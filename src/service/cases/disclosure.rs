//! 公示 (DESIGN §5): the department opens a disclosure batch of a measure's approved (or
//! accepted) cases for its `publicity_days` working days; the public page shows the entity's
//! registered name, region and amount; anyone objects under their real name within the period;
//! the department decides each objection (upheld: back to review or rejected, the reservation
//! released; dismissed: the objector reads the outcome on their receipt); when the period has
//! ended and no objection is open, the sweep makes the cases payable.

use serde::Serialize;

use super::{department_staff, unseen};
use crate::model::audit::action;
use crate::model::case::{AfterAction, CaseAction, CaseState};
use crate::model::disclosure::{
    DisclosureBatch, DisclosureRow, OBJECTION_DAYS, Objection, ObjectionInput, ObjectionState,
};
use crate::model::supervision::NoticeKind;
use crate::model::{MeasureId, Money, Role, Vocabulary, Who};
use crate::service::supervision::notice;
use crate::service::{Result, Service, ServiceError};
use crate::store::prelude::*;
use crate::store::{Tables, WriteTx};

/// Rows shown per page of a batch.
pub const ROWS_PAGE: usize = 200;

/// The public index: batches in their period, and past ones.
#[derive(Debug, Clone, Serialize)]
pub struct DisclosureIndex {
    pub current: Vec<DisclosureBatch>,
    pub past: Vec<DisclosureBatch>,
}

/// One batch with a page of its rows.
#[derive(Debug, Clone, Serialize)]
pub struct DisclosurePage {
    pub batch: DisclosureBatch,
    pub rows: Vec<DisclosureRow>,
    /// Objections are taken today.
    pub open_now: bool,
    /// The next page starts after this case id.
    pub next_after: Option<u64>,
}

/// What the objector reads with their receipt: the state and the decision, nothing else.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectionStatus {
    pub receipt: String,
    pub measure_name: String,
    pub entity_name: String,
    pub filed_on: crate::model::Date,
    pub due: crate::model::Date,
    pub state: ObjectionState,
    pub state_label: &'static str,
    pub decision: Option<String>,
    pub decided_on: Option<crate::model::Date>,
    /// The names of the evidence files sent, and whether more may be sent (open, in the period).
    pub evidence: Vec<String>,
    pub may_add_evidence: bool,
}

/// Evidence files one objection may carry.
pub const MAX_EVIDENCE: usize = 5;

fn batch_or_404(tx: &impl Tables, id: u64) -> Result<DisclosureBatch> {
    tx.disclosure(id)?.ok_or_else(|| ServiceError::NotFound(format!("公示批次 #{id} 不存在")))
}

impl Service {
    /// Opens a disclosure batch of the measure's cases approved (or accepted) and not yet
    /// disclosed, for the measure's `publicity_days` working days from today.
    pub fn disclosure_open(&self, who: &Who, measure: MeasureId) -> Result<DisclosureBatch> {
        let today = self.today();
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let m =
            tx.measure(measure.get())?.ok_or_else(|| ServiceError::NotFound(format!("政策事项 #{measure} 不存在")))?;
        let version = m
            .published
            .and_then(|v| tx.version(m.id, v).ok().flatten())
            .ok_or_else(|| ServiceError::Conflict("此事项尚未发布".into()))?;
        let spec = &version.spec;
        if !department_staff(who, &spec.department) {
            return Err(ServiceError::Forbidden(format!("只有「{}」的工作人员可以发起公示", spec.department)));
        }
        if spec.publicity_days == 0 {
            return Err(ServiceError::Conflict("此事项不需要公示（公示天数为 0），审定后直接转入待拨付".into()));
        }
        let doc_number = tx.policy(m.policy_id)?.map(|p| p.content.doc_number).unwrap_or_default();
        let until = calendar.add_working_days(today, spec.publicity_days);
        let mut batch = DisclosureBatch {
            id: tx.next_id("disclosure")?,
            measure_id: m.id,
            measure_name: spec.name.clone(),
            department: spec.department.clone(),
            doc_number,
            contact: spec.contact.clone(),
            from: today,
            until,
            days: spec.publicity_days,
            rows: 0,
            total_fen: 0,
            opened_by_name: who.name.clone(),
            opened_at: tx.now(),
            settled: false,
        };
        let mut after = 0;
        loop {
            let cases = tx.cases_of_measure(m.id, after, 2_000)?;
            let Some(last) = cases.last() else { break };
            after = last.id;
            for before in cases.into_iter().filter(|c| matches!(c.state, CaseState::Approved | CaseState::Accepted)) {
                let amount = before.approved_amount.unwrap_or(Money::ZERO);
                let row = DisclosureRow {
                    case_id: before.id,
                    entity_name: before.entity_name.clone(),
                    region_name: before
                        .region
                        .as_deref()
                        .map_or_else(String::new, crate::model::reference::region_full_name),
                    amount_fen: amount.fen(),
                };
                let case = before.clone();
                let action = CaseAction::After(AfterAction::Disclose { batch: batch.id, until });
                self.transition(&tx, who, before, case, action, None, &calendar)?;
                tx.put_disclosure_row(batch.id, &row)?;
                batch.rows += 1;
                batch.total_fen += amount.fen();
            }
        }
        if batch.rows == 0 {
            return Err(ServiceError::Conflict("没有待公示的办件（已审定或已确认领取、尚未公示的）".into()));
        }
        tx.put_disclosure(&batch)?;
        let detail = format!("{} cases, {} 万元, {} – {}", batch.rows, Money(batch.total_fen), batch.from, batch.until);
        tx.audit_new(who, action::DISCLOSURE_OPEN, &format!("measure:{}", m.id), &detail, &batch)?;
        tx.commit()?;
        Ok(batch)
    }

    /// Every batch: those in their period first (public).
    pub fn disclosure_index(&self) -> Result<DisclosureIndex> {
        let today = self.today();
        let all = self.store.read()?.disclosures()?;
        let (current, past) = all.into_iter().partition(|b| b.until >= today);
        Ok(DisclosureIndex { current, past })
    }

    /// One batch and a page of its rows (public).
    pub fn disclosure_page(&self, id: u64, after: u64) -> Result<DisclosurePage> {
        let tx = self.store.read()?;
        let batch = batch_or_404(&tx, id)?;
        let rows = tx.disclosure_rows(id, after, ROWS_PAGE)?;
        let next_after = (rows.len() == ROWS_PAGE).then(|| rows.last().map(|r| r.case_id)).flatten();
        Ok(DisclosurePage { open_now: batch.open_on(self.today()), batch, rows, next_after })
    }

    /// Files an objection to a disclosed case (public; `who` names where it came from). The
    /// objector must give a real name and a phone; after the period it is refused.
    pub fn objection_file(&self, who: &Who, batch: u64, input: &ObjectionInput) -> Result<Objection> {
        let today = self.today();
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let b = batch_or_404(&tx, batch)?;
        if today > b.until {
            return Err(ServiceError::Conflict(format!(
                "「{}」的公示期已于 {} 结束，不再受理异议",
                b.measure_name, b.until
            )));
        }
        let (name, phone, relation, facts) = input.check().map_err(ServiceError::Invalid)?;
        if tx.disclosure_row(batch, input.case_id)?.is_none() {
            return Err(ServiceError::invalid("case_id", "请选择本批公示名单中的一家企业"));
        }
        let before = Self::case_or_404(&tx, input.case_id)?;
        let case = before.clone();
        let system = Who { name: "公示异议".into(), ip: who.ip.clone(), ..Who::default() };
        let case =
            self.transition(&tx, &system, before, case, CaseAction::After(AfterAction::Object), None, &calendar)?;
        let objection = Objection {
            id: tx.next_id("objection")?,
            receipt: crate::auth::random_hex(8).map_err(|e| ServiceError::Internal(e.to_string()))?,
            batch,
            case_id: case.id,
            measure_id: b.measure_id,
            department: b.department.clone(),
            entity_name: case.entity_name.clone(),
            name,
            phone,
            relation,
            facts,
            evidence: Vec::new(),
            filed_at: tx.now(),
            filed_on: today,
            due: calendar.add_working_days(today, OBJECTION_DAYS),
            state: ObjectionState::Open,
            decided_by: None,
            decided_on: None,
            decision: None,
            to_review: false,
            warned_for: None,
            overdue_noticed: false,
        };
        tx.put_objection(&objection)?;
        notice(
            &tx,
            &b.department,
            today,
            NoticeKind::Objection,
            format!("公示异议：{}（{}）", case.entity_name, b.measure_name),
            format!(
                "收到对「{}」公示名单中「{}」的异议，请于 {} 前调查核实并作出决定。",
                b.measure_name, case.entity_name, objection.due
            ),
            Some("/staff/objections".into()),
        )?;
        tx.audit_new(
            &system,
            action::OBJECTION_FILE,
            &format!("case:{}", case.id),
            &format!("objection {}", objection.id),
            &objection,
        )?;
        tx.commit()?;
        Ok(objection)
    }

    /// What the objector reads with their receipt (public).
    pub fn objection_status(&self, receipt: &str) -> Result<ObjectionStatus> {
        let tx = self.store.read()?;
        let o = tx
            .objection_by_receipt(receipt.trim())?
            .ok_or_else(|| ServiceError::NotFound("没有这个异议回执号".into()))?;
        let batch = tx.disclosure(o.batch)?;
        let measure_name = batch.as_ref().map(|b| b.measure_name.clone()).unwrap_or_default();
        let in_period = batch.is_some_and(|b| self.today() <= b.until);
        Ok(ObjectionStatus {
            evidence: o.evidence.iter().map(|(name, _)| name.clone()).collect(),
            may_add_evidence: in_period && o.state == ObjectionState::Open && o.evidence.len() < MAX_EVIDENCE,
            receipt: o.receipt,
            measure_name,
            entity_name: o.entity_name,
            filed_on: o.filed_on,
            due: o.due,
            state_label: o.state.label(),
            state: o.state,
            decision: o.decision,
            decided_on: o.decided_on,
        })
    }

    /// Adds an evidence file to an open objection, by its receipt, within the period (public):
    /// PDF, images, OFD, docx or xlsx as the content shows, 20 MB each, five at most.
    pub fn objection_add_evidence(
        &self,
        who: &Who,
        receipt: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<ObjectionStatus> {
        use crate::service::files::{MAX_FILE_BYTES, sniff, write_attachment};
        if bytes.is_empty() {
            return Err(ServiceError::invalid("file", "文件是空的，请重新选择"));
        }
        if bytes.len() > MAX_FILE_BYTES {
            return Err(ServiceError::invalid(
                "file",
                format!("文件过大：单个证据材料最大 {} MB", MAX_FILE_BYTES / 1024 / 1024),
            ));
        }
        sniff(bytes, name).map_err(|reason| ServiceError::invalid("file", reason))?;
        let tx = self.store.write()?;
        let before = tx
            .objection_by_receipt(receipt.trim())?
            .ok_or_else(|| ServiceError::NotFound("没有这个异议回执号".into()))?;
        let batch = batch_or_404(&tx, before.batch)?;
        if self.today() > batch.until || before.state != ObjectionState::Open {
            return Err(ServiceError::Conflict("公示期已结束或异议已处理，不能再补充证据材料".into()));
        }
        if before.evidence.len() >= MAX_EVIDENCE {
            return Err(ServiceError::invalid("file", format!("每件异议最多 {MAX_EVIDENCE} 份证据材料")));
        }
        let sha = crate::model::audit::sha256_hex(bytes);
        write_attachment(&self.files_dir(), &sha, bytes)
            .map_err(|e| ServiceError::Internal(format!("cannot store evidence: {e}")))?;
        let mut o = before.clone();
        let clean: String = name.chars().filter(|c| !c.is_control() && !matches!(c, '/' | '\\')).take(120).collect();
        o.evidence.push((if clean.trim().is_empty() { "证据材料".to_string() } else { clean }, sha.clone()));
        tx.put_objection(&o)?;
        let system = Who { name: "公示异议".into(), ip: who.ip.clone(), ..Who::default() };
        tx.audit_edit(&system, action::OBJECTION_EVIDENCE, &format!("objection:{}", o.id), &sha, &before, &o)?;
        tx.commit()?;
        self.objection_status(receipt)
    }

    /// An objection's evidence file `n` (from 0), for the handling department and supervisors:
    /// (name, content type, bytes).
    pub fn objection_evidence(&self, who: &Who, id: u64, n: usize) -> Result<(String, &'static str, Vec<u8>)> {
        let o = self.objections_for(who)?.into_iter().find(|o| o.id == id).ok_or_else(|| unseen(id))?;
        let (name, sha) =
            o.evidence.get(n).cloned().ok_or_else(|| ServiceError::NotFound("没有这份证据材料".into()))?;
        let path = crate::service::files::attachment_path(&self.files_dir(), &sha);
        let bytes = std::fs::read(&path).map_err(|e| ServiceError::Internal(format!("cannot read evidence: {e}")))?;
        let content_type = crate::service::files::sniff(&bytes, &name).unwrap_or("application/octet-stream");
        Ok((name, content_type, bytes))
    }

    /// The objections `who` handles (its department's) or supervises (supervisors: all), with
    /// the objector — nobody else sees who objected.
    pub fn objections_for(&self, who: &Who) -> Result<Vec<Objection>> {
        let all = self.store.read()?.objections()?;
        Ok(match who.role {
            Some(Role::Supervisor) => all,
            Some(Role::Reviewer | Role::Publisher) => {
                all.into_iter().filter(|o| who.department.as_deref() == Some(o.department.as_str())).collect()
            }
            _ => Vec::new(),
        })
    }

    /// The department decides an objection with a reason: upheld sends the case back to review
    /// (`to_review`) or rejects it, releasing its reservation; dismissed lets it go on (payable
    /// at once if the period has ended and no other objection is open).
    pub fn objection_decide(
        &self,
        who: &Who,
        id: u64,
        upheld: bool,
        to_review: bool,
        reason: &str,
    ) -> Result<Objection> {
        let today = self.today();
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let mut o = tx.objection(id)?.filter(|o| department_staff(who, &o.department)).ok_or_else(|| unseen(id))?;
        if o.state != ObjectionState::Open {
            return Err(ServiceError::Conflict(format!(
                "此异议已于 {} 处理",
                o.decided_on.map(|d| d.to_string()).unwrap_or_default()
            )));
        }
        let reason = reason.trim().to_string();
        if reason.is_empty() {
            return Err(ServiceError::invalid("reason", "请写明调查核实的情况和处理理由"));
        }
        let before = Self::case_or_404(&tx, o.case_id)?;
        let budget = Self::current_budget(&tx, before.measure_id)?;
        let action = if upheld {
            AfterAction::Uphold { reason: reason.clone(), to_review }
        } else {
            AfterAction::Dismiss { note: reason.clone() }
        };
        let case = before.clone();
        let case = self.transition(&tx, who, before, case, CaseAction::After(action), budget, &calendar)?;
        let before_o = o.clone();
        o.state = if upheld { ObjectionState::Upheld } else { ObjectionState::Dismissed };
        o.decided_by = Some(who.name.clone());
        o.decided_on = Some(today);
        o.decision = Some(reason);
        o.to_review = upheld && to_review;
        tx.put_objection(&o)?;
        tx.audit_edit(who, action::OBJECTION_DECIDE, &format!("objection:{id}"), o.state.key(), &before_o, &o)?;
        if upheld {
            // The case has left disclosure: its other open objections are settled with this one.
            for mut other in
                tx.objections()?.into_iter().filter(|x| x.case_id == o.case_id && x.state == ObjectionState::Open)
            {
                let before_other = other.clone();
                other.state = ObjectionState::Upheld;
                other.decided_by = Some(who.name.clone());
                other.decided_on = Some(today);
                other.decision =
                    Some(format!("同一办件的另一异议成立，一并处理：{}", o.decision.clone().unwrap_or_default()));
                tx.put_objection(&other)?;
                let target = format!("objection:{}", other.id);
                tx.audit_edit(who, action::OBJECTION_DECIDE, &target, "upheld with another", &before_other, &other)?;
            }
        }
        if case.state == CaseState::Disclosing {
            self.end_disclosure_if_due(&tx, case.id, &calendar)?;
        }
        tx.commit()?;
        Ok(o)
    }

    /// A disclosed case whose period has ended with no objection open becomes payable.
    fn end_disclosure_if_due(
        &self,
        tx: &WriteTx,
        case_id: u64,
        calendar: &crate::model::calendar::WorkCalendar,
    ) -> Result<bool> {
        let Some(before) = tx.case(case_id)? else { return Ok(false) };
        let due = before.payout.disclosed.as_ref().is_some_and(|d| d.until < self.today() && d.open_objections == 0);
        if before.state != CaseState::Disclosing || !due {
            return Ok(false);
        }
        let case = before.clone();
        let system = Who::system("sweep");
        self.transition(tx, &system, before, case, CaseAction::After(AfterAction::EndDisclosure), None, calendar)?;
        Ok(true)
    }

    /// Ends the periods that are over: their cases with no objection open become payable. A
    /// sweep duty; returns how many cases became payable.
    pub fn disclosures_sweep(&self) -> Result<usize> {
        let today = self.today();
        let due: Vec<DisclosureBatch> =
            self.store.read()?.disclosures()?.into_iter().filter(|b| !b.settled && b.until < today).collect();
        if due.is_empty() {
            return Ok(0);
        }
        let calendar = self.calendar()?;
        let mut payable = 0;
        for mut batch in due {
            let tx = self.store.write()?;
            let mut still = 0;
            let mut after = 0;
            loop {
                let rows = tx.disclosure_rows(batch.id, after, 2_000)?;
                let Some(last) = rows.last() else { break };
                after = last.case_id;
                for row in rows {
                    if self.end_disclosure_if_due(&tx, row.case_id, &calendar)? {
                        payable += 1;
                    } else if tx.case(row.case_id)?.is_some_and(|c| c.state == CaseState::Disclosing) {
                        still += 1;
                    }
                }
            }
            if still == 0 {
                batch.settled = true;
                tx.put_disclosure(&batch)?;
            }
            tx.commit()?;
        }
        Ok(payable)
    }

    /// Objections are supervised like a review stage: the department is warned the working day
    /// before a decision falls due and told once it is late (supervisors see late ones on the
    /// board). A sweep duty; returns the notices written.
    pub fn objections_sweep(&self) -> Result<usize> {
        let today = self.today();
        let calendar = self.calendar()?;
        let warn_by = calendar.add_working_days(today, 1);
        // What a sweep owes an objection today, if anything.
        let owed = |o: &Objection| match o.state {
            ObjectionState::Open if today > o.due => (!o.overdue_noticed).then_some(NoticeKind::Overdue),
            ObjectionState::Open => (warn_by >= o.due && o.warned_for != Some(o.due)).then_some(NoticeKind::DueSoon),
            _ => None,
        };
        // Most minutes there is nothing to do: found out with a read.
        let due: Vec<u64> =
            self.store.read()?.objections()?.into_iter().filter(|o| owed(o).is_some()).map(|o| o.id).collect();
        if due.is_empty() {
            return Ok(0);
        }
        let tx = self.store.write()?;
        let mut written = 0;
        for id in due {
            // Read again in the transaction that writes it: it may have been decided since.
            let Some(mut o) = tx.objection(id)? else { continue };
            let Some(kind) = owed(&o) else { continue };
            let (title, body) = if kind == NoticeKind::Overdue {
                o.overdue_noticed = true;
                let days = calendar.working_days_between(o.due, today);
                (
                    format!("公示异议 #{} 已超期 {days} 个工作日", o.id),
                    format!(
                        "对「{}」的公示异议应于 {} 前作出处理决定，现已超期，已列入督办。请尽快调查并作出决定。",
                        o.entity_name, o.due
                    ),
                )
            } else {
                o.warned_for = Some(o.due);
                (
                    format!("公示异议 #{} 将于 {} 到期", o.id, o.due),
                    format!("对「{}」的公示异议应于 {} 前作出处理决定，请及时办理。", o.entity_name, o.due),
                )
            };
            notice(&tx, &o.department, today, kind, title, body, Some("/staff/objections".to_string()))?;
            tx.put_objection(&o)?;
            written += 1;
        }
        tx.commit()?;
        Ok(written)
    }
}
