//! The periodic sweep (at start, then each minute): every duty that falls due by the passing
//! of time, registered in [`DUTIES`] — scheduled publications, deadlines of cases under review
//! (warnings, supervision items opened and resolved), warnings before measures expire, pushes
//! of windows that opened, reminders before windows close, and the portrait snapshot when many
//! entities changed since the last one.

use serde::Serialize;

use super::supervision::{notice, stage_moved};
use super::{Result, Service};
use crate::model::audit::action;
use crate::model::calendar::WorkCalendar;
use crate::model::case::{Case, CaseState, StageRun};
use crate::model::supervision::{NoticeKind, Resolution, Supervision, SupervisionStatus};
use crate::model::{Date, Who};
use crate::store::WriteTx;
use crate::store::prelude::*;

/// Days before a measure's application window or validity ends when its department is warned.
pub const EXPIRY_WARNINGS: [u32; 2] = [30, 7];

/// What one sweep did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepReport {
    pub published: usize,
    pub warned: usize,
    pub opened: usize,
    pub resolved: usize,
    pub expiry_warnings: usize,
    pub reminded: usize,
    /// Entities pushed a measure whose application window opened today.
    pub window_pushes: usize,
    /// Portrait snapshots written (after a full rebuild or many entity writes).
    pub portrait_snapshots: usize,
    /// 免申即享 offers lapsed after their deadline, and reminded before it.
    pub offers_lapsed: usize,
    pub offers_reminded: usize,
    /// Cases made payable when their disclosure period ended with no objection open.
    pub disclosed_payable: usize,
    /// Notices about objections whose decision falls due or is late.
    pub objections_noticed: usize,
}

impl SweepReport {
    /// Whether the pass did anything (then the log says what).
    pub fn did_anything(&self) -> bool {
        let SweepReport {
            published,
            warned,
            opened,
            resolved,
            expiry_warnings,
            reminded,
            window_pushes,
            portrait_snapshots,
            offers_lapsed,
            offers_reminded,
            disclosed_payable,
            objections_noticed,
        } = self;
        published
            + warned
            + opened
            + resolved
            + expiry_warnings
            + reminded
            + window_pushes
            + portrait_snapshots
            + offers_lapsed
            + offers_reminded
            + disclosed_payable
            + objections_noticed
            > 0
    }
}

/// One periodic duty: its name, and one pass of it on `today` that counts what it did into the
/// report.
pub struct Duty {
    pub name: &'static str,
    pub run: fn(&Service, Date, &mut SweepReport) -> Result<()>,
}

/// Every periodic duty, in the order a sweep runs them; the first failure ends the pass (the
/// next pass tries again). A new duty (a disclosure period ending, a consultation falling due,
/// a payment batch ageing) is one line here, with its count in [`SweepReport`].
pub const DUTIES: &[Duty] = &[
    Duty { name: "scheduled publications", run: |svc, _, r| svc.publish_scheduled().map(|n| r.published = n) },
    Duty { name: "deadlines and expiry warnings", run: Service::sweep_deadlines },
    Duty { name: "windows opened", run: |svc, _, r| svc.push_opened().map(|n| r.window_pushes = n) },
    Duty { name: "windows closing", run: |svc, _, r| svc.remind_closing().map(|n| r.reminded = n) },
    Duty {
        name: "免申即享 offers",
        run: |svc, _, r| {
            svc.offers_sweep().map(|(lapsed, reminded)| {
                r.offers_lapsed = lapsed;
                r.offers_reminded = reminded;
            })
        },
    },
    Duty {
        name: "disclosure periods ended",
        run: |svc, _, r| svc.disclosures_sweep().map(|n| r.disclosed_payable = n),
    },
    Duty { name: "objection deadlines", run: |svc, _, r| svc.objections_sweep().map(|n| r.objections_noticed = n) },
    Duty {
        name: "portrait snapshot",
        run: |svc, _, r| svc.portrait_snapshot_if_due().map(|w| r.portrait_snapshots = usize::from(w.is_some())),
    },
];

/// The next working day after `day`.
fn next_working_day(cal: &WorkCalendar, day: Date) -> Date {
    cal.add_working_days(day, 1)
}

/// The warnings a measure is due on `today` and has not had: (end, what ends, mark, days left).
/// Each end is warned for on its own: marks 30 and 7 for the window, 1030 and 1007 for the
/// policy's validity.
fn expiry_marks(
    m: &crate::model::Measure,
    window_end: Option<Date>,
    valid_until: Option<Date>,
    today: Date,
) -> Vec<(Date, &'static str, u32, u32)> {
    let mut out = Vec::new();
    for (end, what, offset) in [(window_end, "申报截止", 0), (valid_until, "政策有效期届满", 1000)] {
        let Some(end) = end.filter(|d| *d >= today) else { continue };
        let left = (end.days() - today.days()) as u32;
        let Some(mark) = EXPIRY_WARNINGS.iter().copied().filter(|w| left <= *w).min() else { continue };
        if !m.warned.contains(&(mark + offset)) {
            out.push((end, what, mark + offset, left));
        }
    }
    out
}

/// The stage whose clock runs, and its due day (a case in review only).
fn running_stage(case: &Case) -> Option<(StageRun, Date)> {
    let stage = case.current_stage()?.clone();
    let due = stage.due.filter(|_| case.state == CaseState::InReview)?;
    Some((stage, due))
}

/// Due within one working day and not yet warned for this due day.
fn due_soon(stage: &StageRun, due: Date, today: Date, cal: &WorkCalendar) -> bool {
    today <= due && due <= next_working_day(cal, today) && stage.warned_for != Some(due)
}

/// Whether an overdue stage needs a new item: none yet, or the last one was resolved and the
/// stage's clock has run again since (returned, resubmitted, and still late). An item a
/// supervisor closed by hand stays closed while the clock runs on.
fn needs_item(last: Option<Supervision>, stage: &StageRun) -> bool {
    last.is_none_or(|s| {
        s.resolved.as_ref().is_some_and(|r| stage.pauses.iter().any(|p| p.to.is_some_and(|to| to >= r.on)))
    })
}

impl Service {
    /// One pass of the sweep: every duty of [`DUTIES`] in turn.
    pub fn sweep(&self) -> Result<SweepReport> {
        let today = self.today();
        let mut report = SweepReport::default();
        for duty in DUTIES {
            (duty.run)(self, today, &mut report)?;
        }
        Ok(report)
    }

    /// Warnings for stages due within one working day, supervision items for overdue stages,
    /// items resolved when their stage was decided, and warnings before measures expire: in one
    /// transaction, audited as one `sweep` entry with the report so far.
    fn sweep_deadlines(&self, today: Date, report: &mut SweepReport) -> Result<()> {
        let calendar = self.calendar()?;
        let system = Who::system("deadline-sweep");
        // Most minutes there is nothing to do: find out with a read, so that writers are not
        // held up while the open cases are looked through.
        if !self.sweep_has_work(today, &calendar)? {
            return Ok(());
        }
        let tx = self.store.write()?;
        for case in tx.open_cases(None)? {
            let Some((stage, due)) = running_stage(&case) else { continue };
            let index = case.stage as u32;
            if today > due {
                let last = tx.supervision_of(case.id, index)?.map(|id| tx.supervision(id)).transpose()?.flatten();
                if needs_item(last, &stage) {
                    self.open_supervision(&tx, &system, &case, index, due, today)?;
                    report.opened += 1;
                }
            } else if due_soon(&stage, due, today, &calendar) {
                let mut updated = case.clone();
                if let Some(s) = updated.stages.get_mut(case.stage) {
                    s.warned_for = Some(due);
                }
                tx.put_case(&updated, Some(&case))?;
                let title = format!("办件 #{} 将于 {due} 到期", case.id);
                let body = format!(
                    "「{}」{}的「{}」环节办理期限为 {due}，请及时办理。",
                    case.measure_name, case.entity_name, stage.name
                );
                notice(
                    &tx,
                    &case.department,
                    today,
                    NoticeKind::DueSoon,
                    title,
                    body,
                    Some(format!("/cases/{}", case.id)),
                )?;
                report.warned += 1;
            }
        }
        for before in tx.supervisions()?.into_iter().filter(|s| s.status != SupervisionStatus::Resolved) {
            if stage_moved(&before, tx.case(before.case_id)?.as_ref()) {
                let mut item = before.clone();
                item.status = SupervisionStatus::Resolved;
                item.resolved = Some(Resolution {
                    on: today,
                    by: "deadline-sweep".into(),
                    note: "环节已办理".into(),
                    days_late: None,
                });
                tx.put_supervision(&item)?;
                let target = format!("supervision:{}", item.id);
                tx.audit_edit(&system, action::SUPERVISION_RESOLVE, &target, "环节已办理", &before, &item)?;
                report.resolved += 1;
            }
        }
        report.expiry_warnings = self.warn_expiring(&tx, today)?;
        if report.warned + report.opened + report.resolved + report.expiry_warnings > 0 {
            tx.audit(&system, action::SWEEP, "cases", &serde_json::to_string(&report).unwrap_or_default())?;
            tx.commit()?;
        } else {
            drop(tx);
        }
        Ok(())
    }

    /// Whether the sweep has anything to write: a stage to warn about or to supervise, an item
    /// to resolve, a measure to warn about.
    fn sweep_has_work(&self, today: Date, calendar: &WorkCalendar) -> Result<bool> {
        let tx = self.store.read()?;
        for case in tx.open_cases(None)? {
            let Some((stage, due)) = running_stage(&case) else { continue };
            let last =
                tx.supervision_of(case.id, case.stage as u32)?.map(|id| tx.supervision(id)).transpose()?.flatten();
            if (today > due && needs_item(last, &stage)) || due_soon(&stage, due, today, calendar) {
                return Ok(true);
            }
        }
        for item in tx.supervisions()?.into_iter().filter(|s| s.status != SupervisionStatus::Resolved) {
            if stage_moved(&item, tx.case(item.case_id)?.as_ref()) {
                return Ok(true);
            }
        }
        for m in tx.measures()?.into_iter().filter(|m| m.in_force()) {
            let Some(v) = tx.published_version(m.id)? else { continue };
            let valid_until = tx.policy(m.policy_id)?.and_then(|p| p.content.valid_until);
            if !expiry_marks(&m, v.spec.window_end, valid_until, today).is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn open_supervision(&self, tx: &WriteTx, who: &Who, case: &Case, stage: u32, due: Date, today: Date) -> Result<()> {
        let stage_name = case.stages.get(stage as usize).map(|s| s.name.clone()).unwrap_or_default();
        let item = Supervision {
            id: tx.next_id("supervision")?,
            case_id: case.id,
            stage,
            stage_name: stage_name.clone(),
            department: case.department.clone(),
            measure_name: case.measure_name.clone(),
            entity_name: case.entity_name.clone(),
            credit_code: case.credit_code.clone(),
            region: case.region.clone(),
            due,
            opened_on: today,
            status: SupervisionStatus::Open,
            notice: None,
            resolved: None,
        };
        tx.put_supervision(&item)?;
        let title = format!("办件 #{} 已超期", case.id);
        let body =
            format!("「{}」{}的「{stage_name}」环节已于 {due} 到期，已纳入督办。", case.measure_name, case.entity_name);
        notice(tx, &case.department, today, NoticeKind::Overdue, title, body, Some(format!("/cases/{}", case.id)))?;
        let target = format!("supervision:{}", item.id);
        tx.audit_new(who, action::SUPERVISION_OPEN, &target, &format!("case:{} stage {stage}", case.id), &item)?;
        Ok(())
    }

    /// Warns each department once, 30 and 7 days before a measure in force stops taking
    /// applications or its policy stops being valid.
    fn warn_expiring(&self, tx: &WriteTx, today: Date) -> Result<usize> {
        let mut n = 0;
        for mut m in tx.measures()?.into_iter().filter(|m| m.in_force()) {
            let Some(v) = tx.published_version(m.id)? else { continue };
            let valid_until = tx.policy(m.policy_id)?.and_then(|p| p.content.valid_until);
            for (end, what, mark, left) in expiry_marks(&m, v.spec.window_end, valid_until, today) {
                m.warned.push(mark);
                tx.put_measure(&m)?;
                let title = format!("「{}」将于 {end} {what}", v.spec.name);
                let body = format!("距{what}还有 {left} 天。如需延期，请修订后提交发布申请。");
                let link = Some(format!("/measures/{}", m.id));
                notice(tx, &v.spec.department, today, NoticeKind::Expiry, title, body, link)?;
                n += 1;
            }
        }
        Ok(n)
    }
}
