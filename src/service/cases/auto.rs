//! 免申即享 (DESIGN §5): a published auto measure proposes its list from the entity library —
//! each eligible entity a case in state `proposed`, its values frozen as a submission freezes
//! them; each undecided one a 待核实 entry with the fields missing. The department reviews the
//! list (removes entries with a reason); another person confirms it within the budget, which
//! reserves the money and offers the benefit to each entity, who accepts with its bank account
//! or declines; unanswered offers lapse (the sweep).

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use super::{CaseView, actor, department_staff, freeze, may_see, new_case, unseen};
use crate::model::audit::action;
use crate::model::auto_list::{AutoList, ListState, ListTotal, Pending};
use crate::model::case::{AfterAction, BankAccount, Case, CaseAction, CaseActionKind, CaseContext, CaseState, Origin};
use crate::model::{Date, Entity, MeasureId, MeasureVersion, Mode, Money, Role, Vocabulary, Who};
use crate::service::cases::review::{move_money, payable_without_disclosure};
use crate::service::matching::Assessment;
use crate::service::push::CaseNotice;
use crate::service::{Result, Service, ServiceError};
use crate::store::prelude::*;
use crate::store::{Tables, WriteTx};

/// Entries and 待核实 entities shown per page of a list.
pub const LIST_PAGE: usize = 100;

/// A list as the department (and supervisors, and specialists for 待核实) see it.
#[derive(Debug, Clone, Serialize)]
pub struct AutoListView {
    #[serde(flatten)]
    pub list: AutoList,
    pub state_label: &'static str,
    /// One page of entries (from `after`), and of 待核实 entities.
    pub entries: Vec<CaseView>,
    pub pending_page: Vec<Pending>,
    pub budget: Option<Money>,
    /// What the measure has approved so far (reserved or paid), and what is left.
    pub approved: Money,
    pub budget_left: Option<Money>,
    pub proposed_wan: String,
    /// Whether the list fits what is left of the budget.
    pub fits: bool,
    /// The caller may remove entries / confirm the list (another person than the proposer).
    pub may_review: bool,
    pub may_confirm: bool,
}

/// A measure's lists, for its page.
#[derive(Debug, Clone, Serialize)]
pub struct AutoLists {
    pub measure_id: u64,
    pub measure_name: String,
    pub lists: Vec<AutoList>,
    /// The caller may propose a new round.
    pub may_propose: bool,
}

/// Who may see a list: its department, supervisors, specialists (for 待核实), the system.
fn may_read(who: &Who, list: &AutoList) -> bool {
    who.role.is_none()
        || department_staff(who, &list.department)
        || matches!(who.role, Some(Role::Supervisor | Role::Specialist))
}

fn list_or_404(tx: &impl Tables, who: &Who, id: u64) -> Result<AutoList> {
    tx.auto_list(id)?
        .filter(|l| may_read(who, l))
        .ok_or_else(|| ServiceError::NotFound(format!("免申即享名单 #{id} 不存在，或您无权查看")))
}

impl Service {
    /// A measure's lists, newest round first.
    pub fn auto_lists(&self, who: &Who, measure: MeasureId) -> Result<AutoLists> {
        let tx = self.store.read()?;
        let version = Self::auto_version(&tx, measure.get())?;
        let lists = tx.auto_lists_of_measure(measure.get())?.into_iter().filter(|l| may_read(who, l)).collect();
        Ok(AutoLists {
            measure_id: measure.get(),
            measure_name: version.spec.name.clone(),
            lists,
            may_propose: department_staff(who, &version.spec.department),
        })
    }

    /// The published version of an auto measure.
    fn auto_version(tx: &impl Tables, measure: u64) -> Result<MeasureVersion> {
        let m = tx.measure(measure)?.ok_or_else(|| ServiceError::NotFound(format!("政策事项 #{measure} 不存在")))?;
        let v = m
            .published
            .filter(|_| m.withdrawn.is_none())
            .and_then(|v| tx.version(measure, v).ok().flatten())
            .ok_or_else(|| ServiceError::Conflict("此事项尚未发布或已撤回，不能生成免申即享名单".into()))?;
        if v.spec.mode != Mode::Auto {
            return Err(ServiceError::Conflict(format!(
                "「{}」的兑现方式为「{}」，只有「免申即享」事项生成名单",
                v.spec.name,
                v.spec.mode.label()
            )));
        }
        Ok(v)
    }

    /// Proposes the next round of a measure's list from the entity library as of today: every
    /// eligible entity not yet listed for this version, and the undecided ones as 待核实.
    pub fn auto_list_propose(&self, who: &Who, measure: MeasureId) -> Result<AutoListView> {
        let today = self.today();
        let (version, policy_id) = {
            let tx = self.store.read()?;
            let version = Self::auto_version(&tx, measure.get())?;
            let policy_id = tx.measure(measure.get())?.map_or(0, |m| m.policy_id);
            (version, policy_id)
        };
        if who.role.is_some() && !department_staff(who, &version.spec.department) {
            return Err(ServiceError::Forbidden(format!("只有「{}」的工作人员可以生成名单", version.spec.department)));
        }
        if who.role.is_some() && who.user_id.is_none() {
            return Err(ServiceError::Forbidden("生成名单须由具名账号操作".into()));
        }
        let sets = self.measure_sets(&version, today)?;
        let assessor = self.assessor(&version, policy_id)?;
        let tx = self.store.write()?;
        if tx.auto_lists_of_measure(measure.get())?.iter().any(|l| l.state == ListState::Proposed) {
            return Err(ServiceError::Conflict("上一轮名单尚未确认，请先确认或处理上一轮名单".into()));
        }
        let listed: HashSet<u64> = listed_entities(&tx, measure.get(), version.version)?;
        let round = tx.auto_lists_of_measure(measure.get())?.len() as u32 + 1;
        let mut list = AutoList {
            id: tx.next_id("auto_list")?,
            measure_id: measure.get(),
            version: version.version,
            measure_name: version.spec.name.clone(),
            department: version.spec.department.clone(),
            round,
            state: ListState::Proposed,
            as_of: today,
            proposed_by: who.user_id,
            proposed_by_name: who.name.clone(),
            proposed_at: tx.now(),
            confirmed_by: None,
            confirmed_by_name: None,
            confirmed_at: None,
            proposed: 0,
            pending: 0,
            proposed_fen: 0,
            removed: 0,
            barred: 0,
            confirmed: 0,
            confirmed_fen: 0,
            totals: Vec::new(),
        };
        let mut totals = Totals::default();
        for (id, _) in &sets.eligible {
            if listed.contains(id) {
                continue;
            }
            let Some(entity) = tx.entity(*id)? else { continue };
            if super::barred_by(&tx, &entity, &version.spec.department, today)?.is_some() {
                // Barred by a recovery: not listed while the bar lasts.
                list.barred += 1;
                continue;
            }
            let assessment = assessor.assess(&entity, today)?;
            if let Some((_, amount)) = list_entry(&tx, who, &version, &mut list, &entity, &assessment, today)? {
                totals.add(&entity, amount);
            }
        }
        for id in &sets.unknown {
            if listed.contains(id) {
                continue;
            }
            let Some(entity) = tx.entity(*id)? else { continue };
            let assessment = assessor.assess(&entity, today)?;
            tx.put_auto_list_pending(list.id, &pending_of(&version, &entity, &assessment))?;
            list.pending += 1;
        }
        list.totals = totals.into_rows();
        tx.put_auto_list(&list)?;
        let detail = format!(
            "round {round}: {} entries, {} 万元; {} 待核实",
            list.proposed,
            Money(list.proposed_fen),
            list.pending
        );
        tx.audit_new(who, action::AUTO_LIST_PROPOSE, &format!("measure:{}", measure.get()), &detail, &list)?;
        let view = self.auto_list_view_in(&tx, who, list, 0)?;
        tx.commit()?;
        Ok(view)
    }

    /// One list, with a page of its entries from case id `after`.
    pub fn auto_list(&self, who: &Who, id: u64, after: u64) -> Result<AutoListView> {
        let tx = self.store.read()?;
        let list = list_or_404(&tx, who, id)?;
        self.auto_list_view_in(&tx, who, list, after)
    }

    fn auto_list_view_in(&self, tx: &impl Tables, who: &Who, list: AutoList, after: u64) -> Result<AutoListView> {
        let budget = Self::current_budget(tx, list.measure_id)?;
        let ledger = tx.ledger(list.measure_id)?;
        let budget_left = budget.map(|b| Money(b.fen() - ledger.approved));
        let staff = department_staff(who, &list.department);
        let mut entries = Vec::new();
        if who.role != Some(Role::Specialist) {
            let ids = tx.auto_list_cases(list.id, after, LIST_PAGE)?;
            let mut views = self.views(tx)?;
            for id in ids {
                if let Some(case) = tx.case(id)? {
                    entries.push(super::for_viewer(who, views.view(case)?));
                }
            }
        }
        let pending_page = tx.auto_list_pending(list.id, 0, LIST_PAGE)?;
        let proposed = if list.state == ListState::Proposed { list.proposed_fen } else { 0 };
        Ok(AutoListView {
            state_label: list.state.label(),
            entries,
            pending_page,
            budget,
            approved: Money(ledger.approved),
            budget_left,
            proposed_wan: Money(list.proposed_fen).to_string(),
            fits: budget_left.is_none_or(|left| proposed <= left.fen()),
            may_review: staff && list.state == ListState::Proposed,
            may_confirm: staff && list.state == ListState::Proposed && who.user_id != list.proposed_by,
            list,
        })
    }

    /// Takes an entry off a proposed list, with a reason.
    pub fn auto_list_remove(&self, who: &Who, id: u64, case_id: u64, reason: &str) -> Result<AutoListView> {
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let mut list = list_or_404(&tx, who, id)?;
        if list.state != ListState::Proposed {
            return Err(ServiceError::Conflict("名单已确认，不能再移出".into()));
        }
        let before = Self::case_or_404(&tx, case_id)?;
        if !tx.auto_list_cases(id, case_id.saturating_sub(1), 1)?.contains(&case_id) || !may_see(who, &before) {
            return Err(unseen(case_id));
        }
        let amount = before.requested_amount().unwrap_or(Money::ZERO);
        let action = CaseAction::After(AfterAction::Remove { reason: reason.to_string() });
        let case = before.clone();
        self.transition(&tx, who, before, case, action, None, &calendar)?;
        list.removed += 1;
        list.proposed_fen -= amount.fen();
        tx.put_auto_list(&list)?;
        let view = self.auto_list_view_in(&tx, who, list, 0)?;
        tx.commit()?;
        Ok(view)
    }

    /// A second person confirms the list: it must fit what is left of the budget (refused
    /// with the figures otherwise); every entry's amount is reserved and the benefit offered.
    pub fn auto_list_confirm(&self, who: &Who, id: u64) -> Result<AutoListView> {
        let today = self.today();
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let mut list = list_or_404(&tx, who, id)?;
        if !department_staff(who, &list.department) {
            return Err(ServiceError::Forbidden(format!("只有「{}」的工作人员可以确认名单", list.department)));
        }
        if list.state != ListState::Proposed {
            return Err(ServiceError::Conflict("此名单已经确认".into()));
        }
        if who.user_id.is_none() || who.user_id == list.proposed_by {
            return Err(ServiceError::Forbidden("名单须由提出人以外的另一名工作人员复核确认（双人复核）".into()));
        }
        let version = tx
            .version(list.measure_id, list.version)?
            .ok_or_else(|| ServiceError::Internal(format!("list {id} names a missing version")))?;
        let budget = Self::current_budget(&tx, list.measure_id)?;
        let ledger = tx.ledger(list.measure_id)?;
        if let Some(b) = budget
            && ledger.approved + list.proposed_fen > b.fen()
        {
            return Err(ServiceError::Conflict(format!(
                "名单合计 {} 万元（{} 户），超出可安排资金：资金总额 {b} 万元，已安排 {} 万元，尚余 {} 万元。请移出部分企业或追加资金后再确认",
                Money(list.proposed_fen),
                list.proposed - list.removed,
                Money(ledger.approved),
                Money(b.fen() - ledger.approved)
            )));
        }
        let deadline = (version.spec.offer_days > 0).then(|| calendar.add_working_days(today, version.spec.offer_days));
        let confirmer = actor(who);
        let mut after = 0;
        loop {
            let ids = tx.auto_list_cases(id, after, 1_000)?;
            let Some(last) = ids.last() else { break };
            after = *last;
            for case_id in ids {
                let Some(mut case) = tx.case(case_id)? else { continue };
                if case.state != CaseState::Proposed {
                    continue;
                }
                let before = case.clone();
                let ledger = tx.ledger(case.measure_id)?;
                let ctx = CaseContext {
                    now: tx.now(),
                    today,
                    calendar: &calendar,
                    budget_left: budget.map(|b| Money(b.fen() - ledger.approved)),
                    max_returns: 0,
                };
                case.act(&confirmer, CaseAction::After(AfterAction::Confirm), &ctx)?;
                move_money(&tx, who, &case, before.history.len(), budget)?;
                let on_file = if deadline.is_none() { account_on_file(&tx, case.entity_id)? } else { None };
                let offer_deadline = deadline.unwrap_or_else(|| calendar.add_working_days(today, 10));
                let no_ask = on_file.is_some();
                case.act(
                    &confirmer,
                    CaseAction::After(AfterAction::Offer { deadline: offer_deadline, on_file }),
                    &ctx,
                )?;
                payable_without_disclosure(&tx, &mut case, &ctx)?;
                tx.put_case(&case, Some(&before))?;
                if case.state == CaseState::Offered {
                    tx.add_offer_due(offer_deadline, case.id)?;
                }
                list.confirmed += 1;
                list.confirmed_fen += case.approved_amount.map_or(0, Money::fen);
                if let Some(entity) = tx.entity(case.entity_id)? {
                    self.notify_case(&tx, &entity, offer_notice(&case, &version, offer_deadline, no_ask))?;
                }
            }
        }
        list.state = ListState::Confirmed;
        list.confirmed_by = who.user_id;
        list.confirmed_by_name = Some(who.name.clone());
        list.confirmed_at = Some(tx.now());
        let before = tx.auto_list(id)?;
        tx.put_auto_list(&list)?;
        let detail = format!("{} entries, {} 万元 reserved", list.confirmed, Money(list.confirmed_fen));
        tx.audit_upsert(who, action::AUTO_LIST_CONFIRM, &format!("auto_list:{id}"), &detail, before.as_ref(), &list)?;
        let view = self.auto_list_view_in(&tx, who, list, 0)?;
        tx.commit()?;
        Ok(view)
    }

    /// The enterprise accepts an offer, confirming the bank account (户名 = its registered name).
    pub fn case_accept(&self, who: &Who, id: u64, holder: &str, bank: &str, number: &str) -> Result<CaseView> {
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let before = Self::case_or_404(&tx, id)?;
        self.check_applicant(&tx, who, &before)?;
        let name = tx.entity(before.entity_id)?.and_then(|e| e.name).unwrap_or_else(|| before.entity_name.clone());
        let account = BankAccount::new(holder, bank, number, &name)?;
        let case = before.clone();
        let case =
            self.transition(&tx, who, before, case, CaseAction::After(AfterAction::Accept(account)), None, &calendar)?;
        tx.remove_offer_due(&case)?;
        self.finish(tx, who, case)
    }

    /// The enterprise declines an offer: the reservation is released.
    pub fn case_decline(&self, who: &Who, id: u64, reason: &str) -> Result<CaseView> {
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let before = Self::case_or_404(&tx, id)?;
        self.check_applicant(&tx, who, &before)?;
        let case = before.clone();
        let action = CaseAction::After(AfterAction::Decline { reason: reason.to_string() });
        let case = self.transition(&tx, who, before, case, action, None, &calendar)?;
        tx.remove_offer_due(&case)?;
        self.finish(tx, who, case)
    }

    /// Offers past their deadline lapse (their reservation released); once a day, offers due
    /// within two days are reminded (once each). A sweep duty; returns (lapsed, reminded).
    pub fn offers_sweep(&self) -> Result<(usize, usize)> {
        const REMINDED_ON: &str = "offers_reminded_on";
        let today = self.today();
        let calendar = self.calendar()?;
        let system = Who::system("sweep");
        // Most passes have nothing to do: find out with a read, not the store's one writer.
        let remind = self.store.read()?.meta(REMINDED_ON)?.as_deref() != Some(today.to_string().as_bytes());
        let horizon = if remind { today.add_days(2) } else { today.add_days(-1) };
        if !remind && self.store.read()?.offers_due_by(horizon)?.is_empty() {
            return Ok((0, 0));
        }
        let tx = self.store.write()?;
        let (mut lapsed, mut reminded) = (0, 0);
        if remind {
            tx.set_meta(REMINDED_ON, today.to_string().as_bytes())?;
        }
        for (due, case_id) in tx.offers_due_by(horizon)? {
            let Some(before) = tx.case(case_id)? else { continue };
            if before.state != CaseState::Offered {
                tx.remove_offer_due(&before)?;
                continue;
            }
            if due < today {
                let case = before.clone();
                let case = self.transition(
                    &tx,
                    &system,
                    before,
                    case,
                    CaseAction::After(AfterAction::Lapse),
                    None,
                    &calendar,
                )?;
                tx.remove_offer_due(&case)?;
                lapsed += 1;
            } else if before.payout.offer.as_ref().is_some_and(|o| o.reminded_on.is_none()) {
                let mut case = before.clone();
                if let Some(o) = case.payout.offer.as_mut() {
                    o.reminded_on = Some(today);
                }
                tx.put_case(&case, Some(&before))?;
                if let (Some(entity), Some(version)) =
                    (tx.entity(case.entity_id)?, tx.version(case.measure_id, case.version)?)
                {
                    let notice = CaseNotice {
                        case_id: case.id,
                        title: format!("领取提醒：「{}」请于 {due} 前确认", case.measure_name),
                        body: format!(
                            "{}：贵单位已列入「{}」免申即享名单，核定金额 {} 万元，请于 {due} 前登录惠企平台确认领取并核对收款账户，逾期视为放弃。",
                            case.entity_name,
                            case.measure_name,
                            case.approved_amount.unwrap_or(Money::ZERO)
                        ),
                        short: format!("「{}」请于{due}前确认领取", case.measure_name),
                        version: &version,
                    };
                    self.notify_case(&tx, &entity, notice)?;
                }
                reminded += 1;
            }
        }
        if lapsed + reminded > 0 {
            tx.audit(&system, action::SWEEP, "offers", &format!("{lapsed} lapsed, {reminded} reminded"))?;
        }
        if remind || lapsed > 0 {
            tx.commit()?;
        }
        Ok((lapsed, reminded))
    }
}

/// Entities with a case for this measure version (never listed twice).
fn listed_entities(tx: &impl Tables, measure: u64, version: u32) -> Result<HashSet<u64>> {
    let mut out = HashSet::new();
    let mut after = 0;
    loop {
        let cases = tx.cases_of_measure(measure, after, 5_000)?;
        let Some(last) = cases.last() else { break };
        after = last.id;
        out.extend(cases.iter().filter(|c| c.version == version).map(|c| c.entity_id));
    }
    Ok(out)
}

/// The account the entity last confirmed on any case (the account on file).
pub(super) fn account_on_file(tx: &impl Tables, entity: u64) -> Result<Option<BankAccount>> {
    Ok(tx.cases_of_entity(entity)?.into_iter().find_map(|c| c.payout.payee))
}

/// Puts an entity the row-by-row reading finds eligible on a proposed list as a case of its
/// own (values, explanation and amount frozen as a submission freezes them); the case id and
/// the amount in fen, or `None` when the reading disagrees with the engine (an entity written since: it
/// waits for the next round).
pub(super) fn list_entry(
    tx: &WriteTx,
    who: &Who,
    version: &MeasureVersion,
    list: &mut AutoList,
    entity: &Entity,
    assessment: &Assessment,
    today: Date,
) -> Result<Option<(u64, i64)>> {
    let frozen = freeze(version, assessment, today, BTreeMap::new());
    if !frozen.eligible() {
        return Ok(None);
    }
    let mut case = new_case(tx.next_id("case")?, version, entity, tx.now(), who, Origin::Auto);
    let amount = frozen.amount.unwrap_or(Money::ZERO);
    case.frozen = Some(frozen);
    case.submitted_on = Some(today);
    case.state = CaseState::Proposed;
    let proposer = actor(who);
    case.history.push(crate::model::case::CaseEvent {
        at: tx.now(),
        day: today,
        action: CaseActionKind::Propose,
        actor: proposer.name,
        actor_role: proposer.role,
        department: proposer.department,
        from: CaseState::Draft,
        to: CaseState::Proposed,
        stage: None,
        note: format!("第 {} 轮名单", list.round),
        moves: Vec::new(),
    });
    tx.put_case(&case, None)?;
    tx.add_auto_list_case(list.id, case.id)?;
    list.proposed += 1;
    list.proposed_fen += amount.fen();
    Ok(Some((case.id, amount.fen())))
}

/// A 待核实 entry: the conditions the library cannot decide for the entity, and the fields
/// they lack.
pub(super) fn pending_of(version: &MeasureVersion, entity: &Entity, assessment: &Assessment) -> Pending {
    let mut missing: Vec<String> = Vec::new();
    let mut conditions = Vec::new();
    for (c, e) in version.spec.conditions.iter().zip(assessment.matched.conditions()) {
        if e.outcome == crate::rules::eval::Outcome::Unknown {
            conditions.push(c.label.clone());
            for m in &e.missing {
                if !missing.iter().any(|x| x == m) {
                    missing.push((*m).to_string());
                }
            }
        }
    }
    Pending {
        entity_id: entity.id,
        credit_code: entity.credit_code.to_string(),
        entity_name: entity.name.clone().unwrap_or_default(),
        region: entity.region.as_ref().map(|r| r.as_str().to_string()),
        missing,
        conditions,
        resolved: None,
    }
}

fn offer_notice<'a>(case: &Case, version: &'a MeasureVersion, deadline: Date, on_file: bool) -> CaseNotice<'a> {
    let amount = case.approved_amount.unwrap_or(Money::ZERO);
    let (body, short) = if on_file {
        (
            format!(
                "{}：贵单位已列入「{}」免申即享名单，核定金额 {amount} 万元，无需申报，将按登记的收款账户拨付。",
                case.entity_name, case.measure_name
            ),
            format!("您已列入「{}」免申即享名单，{amount}万元将按登记账户拨付", case.measure_name),
        )
    } else {
        (
            format!(
                "{}：贵单位已列入「{}」免申即享名单，核定金额 {amount} 万元，无需申报。请于 {deadline} 前登录惠企平台「企业之家」确认领取并填写收款账户，逾期视为放弃。",
                case.entity_name, case.measure_name
            ),
            format!("您已列入「{}」免申即享名单，请于{deadline}前确认领取", case.measure_name),
        )
    };
    CaseNotice { case_id: case.id, title: format!("免申即享：{}", case.measure_name), body, short, version }
}

/// A list's entries by city, county, industry section and size.
#[derive(Default)]
struct Totals(BTreeMap<(&'static str, String), (u64, i64)>);

impl Totals {
    fn add(&mut self, e: &Entity, fen: i64) {
        let region = e.region.as_ref().map(|r| r.as_str().to_string());
        let city = region.as_ref().map(|r| format!("{}00", r.get(..4).unwrap_or(r)));
        let section = e.industry.as_ref().and_then(|i| i.as_str().get(..1).map(str::to_string));
        let size = e.size_class().map(|s| s.key().to_string());
        for (dim, key) in [("city", city), ("county", region), ("section", section), ("size", size)] {
            let cell = self.0.entry((dim, key.unwrap_or_default())).or_default();
            cell.0 += 1;
            cell.1 += fen;
        }
    }

    fn into_rows(self) -> Vec<ListTotal> {
        use crate::model::reference::{industry, region_full_name};
        self.0
            .into_iter()
            .map(|((dim, key), (count, fen))| {
                let label = match (dim, key.as_str()) {
                    (_, "") => "未知".to_string(),
                    ("section", k) => industry(k).map_or_else(|| k.to_string(), |i| i.name.clone()),
                    ("size", k) => {
                        crate::model::SizeClass::parse(k).map_or_else(|| k.to_string(), |s| s.label().to_string())
                    }
                    (_, k) => region_full_name(k),
                };
                ListTotal { dimension: dim.to_string(), label, count, fen }
            })
            .collect()
    }
}

impl WriteTx {
    fn remove_offer_due(&self, case: &Case) -> Result<()> {
        if let Some(o) = &case.payout.offer {
            self.drop_offer_due(o.deadline, case.id)?;
        }
        Ok(())
    }
}
