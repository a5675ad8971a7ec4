use proptest::prelude::*;

use super::*;
use crate::model::reference::HOLIDAYS_JSON;

const DEPT: &str = "科技局";

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

fn cal() -> WorkCalendar {
    WorkCalendar::from_reference_json(HOLIDAYS_JSON).unwrap()
}

fn stages(n: usize) -> Vec<StageRun> {
    ["受理", "初审", "复核", "审定"]
        .iter()
        .take(n)
        .map(|name| StageRun::new(&ReviewStage { name: (*name).into(), days: 3, role: Role::Reviewer }))
        .collect()
}

fn case(mode: Mode, n: usize) -> Case {
    Case {
        id: 1,
        measure_id: 7,
        version: 1,
        measure_name: "研发费用补助".into(),
        mode,
        department: DEPT.into(),
        entity_id: 3,
        credit_code: "91230100MA1234567X".into(),
        entity_name: "哈尔滨某科技有限公司".into(),
        region: Some("230102".into()),
        state: CaseState::Draft,
        stage: 0,
        stages: stages(n),
        form: BTreeMap::new(),
        files: Vec::new(),
        frozen: None,
        approved_amount: None,
        prepared_by: Some(100),
        prepared_by_name: "qiye".into(),
        on_behalf: false,
        returns: 0,
        reason: None,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        submitted_on: None,
        decided_on: None,
        history: Vec::new(),
    }
}

fn frozen(outcome: &str, amount_wan: i64) -> Box<Frozen> {
    Box::new(Frozen {
        version: 2,
        as_of: d("2025-09-25"),
        outcome: outcome.into(),
        conditions: vec![FrozenCondition {
            label: "研发投入占比不低于3%".into(),
            expr: "rd_ratio >= 3".into(),
            outcome: outcome.into(),
            text: "研发投入占比 2.1% < 3%".into(),
        }],
        amount: Some(Money::from_wan(amount_wan)),
        amount_note: None,
        values: vec![("rd_ratio".into(), "研发投入占比".into(), "2.1%".into())],
        form: BTreeMap::from([("contact".into(), "张三".into())]),
    })
}

fn enterprise() -> CaseActor {
    CaseActor { user_id: Some(100), name: "qiye".into(), role: Some(Role::Enterprise), department: None }
}

fn reviewer(id: u64, dept: &str) -> CaseActor {
    CaseActor { user_id: Some(id), name: format!("r{id}"), role: Some(Role::Reviewer), department: Some(dept.into()) }
}

fn ctx<'a>(cal: &'a WorkCalendar, day: &str, budget_left: Option<i64>) -> CaseContext<'a> {
    CaseContext {
        now: Timestamp(1),
        today: d(day),
        calendar: cal,
        budget_left: budget_left.map(Money::from_wan),
        max_returns: 2,
    }
}

#[test]
fn applied_case_passes_every_stage_then_is_approved_with_the_frozen_amount() {
    let cal = cal();
    let mut c = case(Mode::Apply, 3);
    c.act(&enterprise(), CaseAction::Submit(frozen("eligible", 50)), &ctx(&cal, "2025-09-25", None)).unwrap();
    assert_eq!((c.state, c.stage, c.version), (CaseState::InReview, 0, 2));
    // Thursday + 3 working days: Fri 26, Sun 28 (make-up workday), Mon 29.
    assert_eq!(c.stages[0].due, Some(d("2025-09-29")));
    for (i, day) in ["2025-09-26", "2025-09-29", "2025-09-30"].iter().enumerate() {
        assert_eq!(c.state, CaseState::InReview, "stage {i}");
        c.act(&reviewer(1, DEPT), CaseAction::Approve { note: String::new() }, &ctx(&cal, day, Some(80))).unwrap();
    }
    assert_eq!(c.state, CaseState::Approved);
    assert_eq!(c.approved_amount, Some(Money::from_wan(50)));
    assert_eq!(c.decided_on, Some(d("2025-09-30")));
    assert!(c.stages.iter().all(|s| s.approved.is_some()));
    assert_eq!(c.history.len(), 4);
    assert_eq!(c.history[3].to, CaseState::Approved);
}

#[test]
fn a_stage_due_date_skips_the_national_day_holiday() {
    let cal = cal();
    let mut c = case(Mode::Apply, 2);
    c.act(&enterprise(), CaseAction::Submit(frozen("eligible", 5)), &ctx(&cal, "2025-09-29", None)).unwrap();
    // Mon 29 + 3: Tue 30, (1–8 October off), Thu 9, Fri 10.
    assert_eq!(c.stages[0].due, Some(d("2025-10-10")));
    assert!(!c.overdue(d("2025-10-10")));
    // Saturday 11 is a make-up workday: the stage is late on it.
    assert!(c.overdue(d("2025-10-11")));
    assert_eq!(c.days_left(d("2025-10-08"), &cal), Some(2));
}

#[test]
fn a_return_pauses_the_clock_until_resubmission() {
    let cal = cal();
    let mut c = case(Mode::Apply, 1);
    // Monday 2025-11-03; limit 3 working days → due Thursday 6.
    c.act(&enterprise(), CaseAction::Submit(frozen("eligible", 5)), &ctx(&cal, "2025-11-03", None)).unwrap();
    assert_eq!(c.stages[0].due, Some(d("2025-11-06")));
    let r = reviewer(1, DEPT);
    c.act(&r, CaseAction::Return { reason: "缺少审计报告".into() }, &ctx(&cal, "2025-11-04", None)).unwrap();
    assert_eq!(c.state, CaseState::Returned);
    assert_eq!(c.reason.as_deref(), Some("缺少审计报告"));
    assert_eq!(c.stages[0].due, None, "no due day while the clock stands");
    assert!(!c.overdue(d("2025-11-20")));
    // Resubmitted on Monday 10th: one day used (Tue 4th); two left → Tue 11, Wed 12.
    let form = BTreeMap::from([("contact".to_string(), "李四".to_string())]);
    c.act(&enterprise(), CaseAction::Resubmit(form), &ctx(&cal, "2025-11-10", None)).unwrap();
    assert_eq!(c.state, CaseState::InReview);
    assert_eq!(c.stages[0].due, Some(d("2025-11-12")));
    assert_eq!(c.stages[0].elapsed(d("2025-11-11"), &cal), 2);
    assert_eq!(c.form["contact"], "李四");
    assert_eq!(c.frozen.as_ref().unwrap().form["contact"], "张三", "what was submitted stays frozen");
    assert_eq!(c.returns, 1);
    assert_eq!(c.reason, None, "the return answered is no longer the case's current reason");
    assert!(c.history.iter().any(|e| e.note == "缺少审计报告"), "it stays in the history");
}

#[test]
fn refusals_leave_the_case_unchanged() {
    let cal = cal();
    let mut c = case(Mode::Apply, 2);
    let cx = ctx(&cal, "2025-11-03", None);
    c.act(&enterprise(), CaseAction::Submit(frozen("eligible", 5)), &cx).unwrap();
    let before = c.clone();
    let attempts: Vec<(CaseActor, CaseAction, &str)> = vec![
        (reviewer(1, "人社局"), CaseAction::Approve { note: String::new() }, "承办"),
        (
            CaseActor { role: Some(Role::Publisher), ..reviewer(1, DEPT) },
            CaseAction::Approve { note: String::new() },
            "应由审核员",
        ),
        (CaseActor { user_id: Some(100), ..reviewer(100, DEPT) }, CaseAction::Approve { note: String::new() }, "回避"),
        (reviewer(1, DEPT), CaseAction::Reject { reason: "  ".into() }, "理由"),
        (reviewer(1, DEPT), CaseAction::Return { reason: String::new() }, "理由"),
        (enterprise(), CaseAction::Submit(frozen("eligible", 5)), "不能提交"),
        (enterprise(), CaseAction::Resubmit(BTreeMap::new()), "不能重新提交"),
        (reviewer(1, DEPT), CaseAction::Withdraw, "只有企业"),
        (enterprise(), CaseAction::Release, "不能完成资金安排"),
    ];
    for (actor, action, expect) in attempts {
        let err = c.act(&actor, action.clone(), &cx).unwrap_err().to_string();
        assert!(err.contains(expect), "{action:?}: {err}");
        assert_eq!(c, before, "{action:?} changed the case");
    }
}

#[test]
fn returns_are_limited_and_rejection_needs_a_reason() {
    let cal = cal();
    let mut c = case(Mode::Apply, 1);
    let cx = ctx(&cal, "2025-11-03", None);
    c.act(&enterprise(), CaseAction::Submit(frozen("eligible", 5)), &cx).unwrap();
    for _ in 0..2 {
        c.act(&reviewer(1, DEPT), CaseAction::Return { reason: "补充".into() }, &cx).unwrap();
        c.act(&enterprise(), CaseAction::Resubmit(BTreeMap::new()), &cx).unwrap();
    }
    let err = c.act(&reviewer(1, DEPT), CaseAction::Return { reason: "再补充".into() }, &cx).unwrap_err();
    assert_eq!(err, CaseError::TooManyReturns(2));
    c.act(&reviewer(1, DEPT), CaseAction::Reject { reason: "研发投入不实".into() }, &cx).unwrap();
    assert_eq!(c.state, CaseState::Rejected);
    assert_eq!(c.reason.as_deref(), Some("研发投入不实"));
    assert!(c.state.is_final() && !c.state.is_open());
}

#[test]
fn submission_rechecks_eligibility() {
    let cal = cal();
    let mut c = case(Mode::Apply, 1);
    let err = c
        .act(&enterprise(), CaseAction::Submit(frozen("not_eligible", 5)), &ctx(&cal, "2025-11-03", None))
        .unwrap_err();
    assert!(err.to_string().contains("研发投入占比 2.1% < 3%"), "{err}");
    assert_eq!(c.state, CaseState::Draft);
    // Unknown data goes to the reviewers.
    c.act(&enterprise(), CaseAction::Submit(frozen("unknown", 5)), &ctx(&cal, "2025-11-03", None)).unwrap();
    assert_eq!(c.state, CaseState::InReview);
}

#[test]
fn instant_cases_are_decided_at_once_when_the_data_passes() {
    let cal = cal();
    let mut c = case(Mode::Instant, 0);
    c.act(&enterprise(), CaseAction::Submit(frozen("eligible", 3)), &ctx(&cal, "2025-11-03", Some(10))).unwrap();
    assert_eq!(c.state, CaseState::Approved);
    assert_eq!(c.approved_amount, Some(Money::from_wan(3)));
    assert_eq!(c.history[0].action, CaseActionKind::Instant);
    // Unknown data and no stages: nobody could decide it.
    let mut c = case(Mode::Instant, 0);
    let err = c.act(&enterprise(), CaseAction::Submit(frozen("unknown", 3)), &ctx(&cal, "2025-11-03", None));
    assert_eq!(err, Err(CaseError::NoStages));
    // With stages, an unknown instant case is reviewed like any other.
    let mut c = case(Mode::Instant, 1);
    c.act(&enterprise(), CaseAction::Submit(frozen("unknown", 3)), &ctx(&cal, "2025-11-03", None)).unwrap();
    assert_eq!(c.state, CaseState::InReview);
}

#[test]
fn final_approval_waits_when_the_budget_is_short() {
    let cal = cal();
    let mut c = case(Mode::Instant, 0);
    c.act(&enterprise(), CaseAction::Submit(frozen("eligible", 30)), &ctx(&cal, "2025-11-03", Some(20))).unwrap();
    assert_eq!(c.state, CaseState::AwaitingBudget);
    assert_eq!(c.approved_amount, None);
    let err = c.act(&CaseActor::system("预算"), CaseAction::Release, &ctx(&cal, "2025-11-04", Some(29))).unwrap_err();
    assert!(matches!(err, CaseError::WrongState { .. }));
    c.act(&reviewer(2, "人社局"), CaseAction::Release, &ctx(&cal, "2025-11-04", Some(40))).unwrap_err();
    c.act(&reviewer(2, DEPT), CaseAction::Release, &ctx(&cal, "2025-11-04", Some(40))).unwrap();
    assert_eq!((c.state, c.approved_amount), (CaseState::Approved, Some(Money::from_wan(30))));
}

#[test]
fn a_specialist_may_submit_for_the_entity_and_it_shows() {
    let cal = cal();
    let mut c = case(Mode::Apply, 1);
    let specialist =
        CaseActor { user_id: Some(9), name: "bangban".into(), role: Some(Role::Specialist), department: None };
    c.act(&specialist, CaseAction::Submit(frozen("eligible", 1)), &ctx(&cal, "2025-11-03", None)).unwrap();
    assert!(c.on_behalf);
    assert_eq!(c.history[0].actor_role, Some(Role::Specialist));
}

// ---- property test over random action sequences ----

#[derive(Debug, Clone)]
enum Step {
    /// Advance the calendar by this many days.
    Wait(u8),
    Act {
        case: usize,
        actor: usize,
        action: u8,
        amount: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..6).prop_map(Step::Wait),
        (0usize..3, 0usize..5, 0u8..8, 0u8..60).prop_map(|(case, actor, action, amount)| Step::Act {
            case,
            actor,
            action,
            amount
        }),
    ]
}

fn actors() -> Vec<CaseActor> {
    vec![
        enterprise(),
        reviewer(1, DEPT),
        reviewer(2, "人社局"),
        CaseActor { user_id: Some(100), ..reviewer(100, DEPT) },
        CaseActor { user_id: Some(9), name: "bangban".into(), role: Some(Role::Specialist), department: None },
    ]
}

fn action(k: u8, amount: u8) -> CaseAction {
    let outcome = ["eligible", "unknown", "not_eligible"][amount as usize % 3];
    match k {
        0 => CaseAction::Submit(frozen(outcome, amount as i64)),
        1 => CaseAction::Resubmit(BTreeMap::from([("n".to_string(), amount.to_string())])),
        2 | 3 => CaseAction::Approve { note: String::new() },
        4 => CaseAction::Reject { reason: if amount % 4 == 0 { String::new() } else { "不符合".into() } },
        5 => CaseAction::Return { reason: if amount % 4 == 0 { String::new() } else { "补充".into() } },
        6 => CaseAction::Withdraw,
        _ => CaseAction::Release,
    }
}

/// Working days in (from, to], counted one by one.
fn working_days(cal: &WorkCalendar, from: Date, to: Date) -> u32 {
    let mut n = 0;
    let mut day = from.add_days(1);
    while day <= to {
        n += u32::from(cal.is_working_day(day));
        day = day.add_days(1);
    }
    n
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn invariants_hold_over_random_action_sequences(steps in prop::collection::vec(step(), 1..60)) {
        let cal = cal();
        let budget = Money::from_wan(100);
        let mut spent = Money::ZERO;
        let mut today = d("2025-09-20");
        let modes = [Mode::Apply, Mode::Instant, Mode::Apply];
        let mut cases: Vec<Case> = modes.iter().enumerate().map(|(i, m)| Case { id: i as u64, ..case(*m, 1 + i) }).collect();
        let actors = actors();
        for s in steps {
            match s {
                Step::Wait(n) => today = today.add_days(n as i32),
                Step::Act { case: i, actor, action: k, amount } => {
                    let cx = CaseContext {
                        now: Timestamp(today.days() as i64),
                        today,
                        calendar: &cal,
                        budget_left: Some(Money(budget.fen() - spent.fen())),
                        max_returns: 2,
                    };
                    let before = cases[i].clone();
                    let result = cases[i].act(&actors[actor], action(k, amount), &cx);
                    let c = &cases[i];
                    match result {
                        Err(_) => prop_assert_eq!(c, &before, "a refused action changed the case"),
                        Ok(()) => {
                            // Every transition leaves exactly one record.
                            prop_assert_eq!(c.history.len(), before.history.len() + 1);
                            // Frozen data never changes once submitted.
                            if before.frozen.is_some() {
                                prop_assert_eq!(&c.frozen, &before.frozen);
                                prop_assert_eq!(c.version, before.version);
                            }
                            if c.state == CaseState::Approved && before.state != CaseState::Approved {
                                spent = Money(spent.fen() + c.approved_amount.map_or(0, Money::fen));
                            }
                            // Nobody decides a case they prepared.
                            if matches!(c.history.last().map(|e| e.action), Some(CaseActionKind::Approve | CaseActionKind::Reject | CaseActionKind::Return)) {
                                prop_assert_ne!(actors[actor].user_id, c.prepared_by);
                            }
                        }
                    }
                    // No approval before every stage has approved.
                    if c.state == CaseState::Approved || c.state == CaseState::AwaitingBudget {
                        prop_assert!(c.stages.iter().all(|s| s.approved.is_some()));
                        prop_assert!(c.frozen.as_ref().is_some_and(|f| !f.not_eligible()));
                    }
                    // No amount above the frozen amount (itself capped), no total above the budget.
                    if let Some(a) = c.approved_amount {
                        prop_assert!(Some(a) == c.requested_amount());
                    }
                    prop_assert!(spent <= budget, "spent {spent:?} over the budget");
                    // Elapsed time excludes paused periods and non-working days.
                    for st in &c.stages {
                        if let Some(start) = st.started {
                            let paused: u32 = st.pauses.iter().map(|p| {
                                let end = p.to.unwrap_or(today).min(today);
                                if end > p.from { working_days(&cal, p.from, end) } else { 0 }
                            }).sum();
                            prop_assert_eq!(st.elapsed(today, &cal), working_days(&cal, start, today) - paused);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn case_numbers_read_and_parse_back() {
    assert_eq!(case_number(123, 2026), "HQ-2026-000123");
    assert_eq!(case_number(1_234_567, 2027), "HQ-2027-1234567");
    assert_eq!(parse_case_number(" hq-2026-000123 "), Some(123));
    assert_eq!(parse_case_number("HQ-2026-1234567"), Some(1_234_567));
    for bad in ["", "123", "HQ-26-000123", "HQ-2026-", "HQ-2026-12a", "XX-2026-000123", "HQ-2026-9999999999999"] {
        assert_eq!(parse_case_number(bad), None, "{bad}");
    }
}
