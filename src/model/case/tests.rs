use proptest::prelude::*;

use super::*;
use crate::model::policy::ReviewStage;
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
        origin: Origin::Online,
        payout: Payout::default(),
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

// ---- after the decision: offer, disclosure, payment, recovery, and the money ----

fn account() -> BankAccount {
    BankAccount::new("哈尔滨某科技有限公司", "中国银行哈尔滨分行", "6217 0000 1234 5678", "哈尔滨某科技有限公司")
        .unwrap()
}

fn system() -> CaseActor {
    CaseActor::system("系统")
}

fn supervisor() -> CaseActor {
    CaseActor { user_id: Some(50), name: "dudao".into(), role: Some(Role::Supervisor), department: None }
}

/// An auto case proposed on a list with the frozen amount.
fn proposed(amount_wan: i64) -> Case {
    let mut c = case(Mode::Auto, 0);
    c.origin = Origin::Auto;
    c.prepared_by = None;
    c.frozen = Some(*frozen("eligible", amount_wan));
    c.state = CaseState::Proposed;
    c
}

fn after(c: &mut Case, who: &CaseActor, a: AfterAction, cx: &CaseContext<'_>) -> Result<(), CaseError> {
    c.act(who, CaseAction::After(a), cx)
}

#[test]
fn an_auto_case_goes_from_the_list_to_the_account_and_moves_money_at_each_step() {
    let cal = cal();
    let mut c = proposed(20);
    let r = reviewer(1, DEPT);
    let cx = ctx(&cal, "2025-09-26", Some(15));
    let short = after(&mut c, &r, AfterAction::Confirm, &cx).unwrap_err();
    assert!(short.to_string().contains("资金不足"), "{short}");
    let cx = ctx(&cal, "2025-09-26", Some(100));
    after(&mut c, &r, AfterAction::Confirm, &cx).unwrap();
    assert_eq!(c.history.last().unwrap().moves, [MoneyMove::Reserve(Money::from_wan(20))]);
    after(&mut c, &r, AfterAction::Offer { deadline: d("2025-10-20"), on_file: None }, &cx).unwrap();
    assert_eq!(c.state, CaseState::Offered);
    assert!(after(&mut c, &r, AfterAction::Accept(account()), &cx).is_err(), "staff cannot accept for it");
    after(&mut c, &enterprise(), AfterAction::Accept(account()), &cx).unwrap();
    after(&mut c, &r, AfterAction::Disclose { batch: 1, until: d("2025-10-10") }, &cx).unwrap();
    after(&mut c, &system(), AfterAction::Object, &ctx(&cal, "2025-10-09", None)).unwrap();
    let early = after(&mut c, &system(), AfterAction::EndDisclosure, &ctx(&cal, "2025-10-11", None)).unwrap_err();
    assert!(early.to_string().contains("异议未处理"), "{early}");
    assert!(after(&mut c, &system(), AfterAction::Object, &ctx(&cal, "2025-10-11", None)).is_err(), "after the period");
    after(&mut c, &r, AfterAction::Dismiss { note: "经核实不成立".into() }, &ctx(&cal, "2025-10-11", None)).unwrap();
    after(&mut c, &system(), AfterAction::EndDisclosure, &ctx(&cal, "2025-10-11", None)).unwrap();
    assert_eq!(c.state, CaseState::Payable);
    after(&mut c, &r, AfterAction::Batch { batch: 9, seq: 1 }, &cx).unwrap();
    after(&mut c, &r, AfterAction::Fail { reason: FailReason::WrongAccount, note: String::new() }, &cx).unwrap();
    assert_eq!((c.state, c.payout.failures.len()), (CaseState::PaymentFailed, 1));
    after(&mut c, &enterprise(), AfterAction::Correct(account()), &cx).unwrap();
    after(&mut c, &r, AfterAction::Batch { batch: 10, seq: 4 }, &cx).unwrap();
    after(&mut c, &r, AfterAction::Pay { on: d("2025-10-20"), voucher: "PZ-001".into() }, &cx).unwrap();
    assert_eq!(c.history.last().unwrap().moves, [MoneyMove::Pay(Money::from_wan(20))]);
    assert!(
        after(&mut c, &r, AfterAction::Pay { on: d("2025-10-20"), voucher: "PZ-002".into() }, &cx).is_err(),
        "paid once"
    );
    let too_much = AfterAction::OpenRecovery {
        amount: Money::from_wan(21),
        reason: "骗取".into(),
        deadline: d("2025-11-30"),
        bar_until: None,
    };
    assert!(after(&mut c, &supervisor(), too_much, &cx).is_err());
    let open = AfterAction::OpenRecovery {
        amount: Money::from_wan(5),
        reason: "虚报".into(),
        deadline: d("2025-11-30"),
        bar_until: None,
    };
    after(&mut c, &supervisor(), open, &cx).unwrap();
    after(&mut c, &r, AfterAction::Recovered { on: d("2025-11-02"), voucher: "TH-7".into() }, &cx).unwrap();
    assert_eq!(c.history.last().unwrap().moves, [MoneyMove::Recover(Money::from_wan(5))]);
    assert_eq!(c.net_approved(), Some(Money::from_wan(15)));
}

#[test]
fn a_bank_account_names_the_entity_and_has_digits_only() {
    let name = "哈尔滨某科技有限公司";
    assert_eq!(account().number, "6217000012345678");
    assert_eq!(account().masked(), "**** 5678");
    for (holder, bank, number) in [
        ("张三", "中国银行", "6217000012345678"),
        (name, "", "6217000012345678"),
        (name, "中国银行", "12ab5678"),
        (name, "中国银行", "1234"),
    ] {
        assert!(BankAccount::new(holder, bank, number, name).is_err(), "{holder} {bank} {number}");
    }
}

#[test]
fn ledger_keeps_paid_within_approved_within_budget() {
    let budget = Some(Money::from_wan(10));
    let mut l = Ledger::default();
    l.apply(MoneyMove::Reserve(Money::from_wan(8)), budget).unwrap();
    assert!(l.apply(MoneyMove::Reserve(Money::from_wan(3)), budget).unwrap_err().contains("资金不足"));
    assert!(l.apply(MoneyMove::Pay(Money::from_wan(9)), budget).is_err());
    l.apply(MoneyMove::Pay(Money::from_wan(8)), budget).unwrap();
    assert!(l.apply(MoneyMove::Release(Money::from_wan(1)), budget).is_err(), "paid money is not released");
    l.apply(MoneyMove::Recover(Money::from_wan(2)), budget).unwrap();
    assert_eq!((l.approved, l.paid, l.recovered, l.reserved()), (6_000_000, 6_000_000, 2_000_000, 0));
    assert_eq!(l, {
        let mut x = l;
        x.apply(MoneyMove::Pay(Money(-1)), budget).unwrap_err();
        x
    });
}

fn after_action(k: u8, n: u8, today: Date) -> AfterAction {
    let day = |d: i32| today.add_days(d);
    match k % 22 {
        0 => AfterAction::Confirm,
        1 => AfterAction::Remove { reason: if n % 3 == 0 { String::new() } else { "已注销".into() } },
        2 => AfterAction::Offer { deadline: day(i32::from(n % 9) - 2), on_file: (n % 4 == 0).then(account) },
        3 => AfterAction::Accept(account()),
        4 => AfterAction::Decline { reason: String::new() },
        5 => AfterAction::Lapse,
        6 => AfterAction::Disclose { batch: u64::from(n % 3), until: day(i32::from(n % 8) - 1) },
        7 => AfterAction::Object,
        8 => AfterAction::Dismiss { note: "不成立".into() },
        9 => AfterAction::Uphold { reason: "成立".into(), to_review: n % 2 == 0 },
        10 => AfterAction::EndDisclosure,
        11 => AfterAction::MakePayable,
        12 => AfterAction::Batch { batch: u64::from(n), seq: 1 },
        13 => AfterAction::Unbatch,
        14 => AfterAction::Pay { on: today, voucher: format!("V{n}") },
        15 => AfterAction::Fail { reason: FailReason::ALL[n as usize % 4], note: String::new() },
        16 => AfterAction::Correct(account()),
        17 => AfterAction::Revoke { reason: "复核不符".into() },
        18 => AfterAction::Close,
        19 => AfterAction::OpenRecovery {
            amount: Money::from_wan(i64::from(n % 25)),
            reason: "虚报".into(),
            deadline: day(30),
            bar_until: None,
        },
        20 => AfterAction::Recovered { on: today, voucher: format!("T{n}") },
        _ => AfterAction::HandOver { note: "移交纪检".into() },
    }
}

/// What a case holds, read from its state alone: (approved, paid), in fen.
fn held(c: &Case) -> (i64, i64) {
    let approved = c.net_approved().map_or(0, Money::fen);
    let paid = match c.state {
        CaseState::Paid | CaseState::Closed | CaseState::Recovering | CaseState::HandedOver | CaseState::Recovered => {
            let recovered = c.payout.recovery.as_ref().filter(|r| r.recovered.is_some()).map_or(0, |r| r.amount.fen());
            c.payout.payment.as_ref().map_or(0, |p| p.amount.fen()) - recovered
        }
        _ => 0,
    };
    (approved, paid)
}

/// An action the state invites, and who would take it (an index into the test's actors:
/// 0 the enterprise, 1 the department's reviewer, 5 the system, 6 a supervisor).
fn plausible(state: CaseState, n: u8, today: Date) -> (usize, CaseAction) {
    use CaseState as S;
    let a = |k: u8| CaseAction::After(after_action(k, n, today));
    let options: Vec<(usize, CaseAction)> = match state {
        S::Draft => vec![(0, action(0, n / 3 * 3))],
        S::InReview => vec![(1, action(2, n)), (1, action(4, n)), (1, action(5, n))],
        S::Returned => vec![(0, action(1, n))],
        S::AwaitingBudget => vec![(5, CaseAction::Release)],
        S::Proposed => vec![(1, a(0)), (1, a(1))],
        S::Listed => vec![(1, a(2))],
        S::Offered => vec![(0, a(3)), (0, a(4)), (5, a(5))],
        S::Approved | S::Accepted => vec![(1, a(6)), (1, a(11)), (1, a(17))],
        S::Disclosing => vec![(5, a(7)), (1, a(8)), (1, a(9)), (5, a(10)), (1, a(17))],
        S::Payable => vec![(1, a(12)), (1, a(17))],
        S::InBatch => vec![(1, a(14)), (1, a(15)), (1, a(13))],
        S::PaymentFailed => vec![(0, a(16)), (1, a(17))],
        S::Paid => vec![(6, a(19)), (1, a(18))],
        S::Closed => vec![(6, a(19))],
        S::Recovering => vec![(1, a(20)), (6, a(21))],
        _ => vec![(0, CaseAction::Withdraw)],
    };
    let len = options.len();
    options.into_iter().nth(n as usize % len).unwrap_or((0, CaseAction::Withdraw))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The whole life of the money over random actions by random people on five cases of one
    /// measure: the ledger the moves build is the money the cases' states hold, always
    /// `paid ≤ approved ≤ budget`; a case is paid at most once; a refused action changes nothing.
    #[test]
    fn money_moves_only_with_a_record_and_never_past_the_budget(
        steps in prop::collection::vec((0usize..5, 0usize..7, 0u8..32, 0u8..60, 0u8..4), 1..160),
    ) {
        let cal = cal();
        let budget = Money::from_wan(100);
        let mut ledger = Ledger::default();
        let mut today = d("2025-09-22");
        let mut cases = vec![
            Case { id: 0, ..case(Mode::Apply, 2) },
            Case { id: 1, ..case(Mode::Instant, 0) },
            Case { id: 2, ..proposed(30) },
            Case { id: 3, ..proposed(45) },
            Case { id: 4, ..case(Mode::Apply, 1) },
        ];
        let mut actors = actors();
        actors.push(system());
        actors.push(supervisor());
        for (i, who, k, n, wait) in steps {
            today = today.add_days(i32::from(wait == 0) * i32::from(n % 5));
            let cx = CaseContext {
                now: Timestamp(today.days() as i64),
                today,
                calendar: &cal,
                budget_left: Some(Money(budget.fen() - ledger.approved)),
                max_returns: 2,
            };
            // Three steps in four do what the case's state invites; the rest anything at all.
            let (who, act) = if wait > 0 {
                plausible(cases[i].state, n, today)
            } else if k < 8 {
                (who, action(k, n))
            } else {
                (who, CaseAction::After(after_action(k - 8 + n, n, today)))
            };
            let before = cases[i].clone();
            match cases[i].act(&actors[who], act, &cx) {
                Err(_) => prop_assert_eq!(&cases[i], &before, "a refused action changed the case"),
                Ok(()) => {
                    let c = &cases[i];
                    prop_assert_eq!(c.history.len(), before.history.len() + 1, "one record per transition");
                    for m in &c.history[c.history.len() - 1].moves {
                        let r = ledger.apply(*m, Some(budget));
                        prop_assert!(r.is_ok(), "{:?} refused by the ledger: {:?}", m, r);
                    }
                }
            }
            prop_assert!(0 <= ledger.paid && ledger.paid <= ledger.approved && ledger.approved <= budget.fen(), "{:?}", ledger);
            // The moves recorded account for every fen the cases hold.
            let (approved, paid) = cases.iter().map(held).fold((0, 0), |(a, p), (x, y)| (a + x, p + y));
            prop_assert_eq!((approved, paid), (ledger.approved, ledger.paid), "states {:?}", cases.iter().map(|c| c.state).collect::<Vec<_>>());
            for c in &cases {
                let pays = c.history.iter().filter(|e| e.action == CaseActionKind::Pay).count();
                prop_assert!(pays <= 1, "case {} paid {} times", c.id, pays);
                let moved: i64 = c.history.iter().flat_map(|e| &e.moves).map(|m| match m {
                    MoneyMove::Reserve(a) => a.fen(),
                    MoneyMove::Release(a) | MoneyMove::Recover(a) => -a.fen(),
                    MoneyMove::Pay(_) => 0,
                }).sum();
                prop_assert_eq!(moved, held(c).0, "case {}: its own moves are what it holds", c.id);
            }
        }
    }
}
