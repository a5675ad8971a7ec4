//! Property tests: the compiled columnar plans and the engine agree with the rules' row
//! interpreter on random entities (with unknowns and values on thresholds) and random
//! well-typed expressions.

use proptest::prelude::*;

use super::Portrait;
use super::compile::{self, CHUNK, Ctx, WORDS, compile_expr};
use crate::model::tags::{TagDictionary, default_tags};
use crate::model::{
    CreditCode, Date, Dec, Entity, EntityType, IndustryCode, Money, Ownership, RegStatus, RegionCode, TagHolding,
    TaxCredit, Timestamp,
};
use crate::rules::check::{self, Want};
use crate::rules::eval::{EntityRow, Outcome, Val, eval};
use crate::rules::explain;

const REGIONS: [&str; 5] = ["230125", "230102", "230183", "230202", "110105"];
const INDUSTRIES: [&str; 6] = ["C3911", "C1391", "I6513", "A0111", "F5211", "K7010"];
const TAGS: [&str; 4] = ["high_tech", "tech_sme", "listed", "srdi_sme"];
/// With ratios on and just around their thresholds (29.999997 / 1000 is 2.9999997%, 30 / 1000
/// 3%, 30.000001 / 1000 3.0000001%) and negative and zero denominators.
const MONEY: [f64; 18] = [
    0.0,
    0.5,
    50.0,
    100.0,
    300.0,
    2000.0,
    2000.000001,
    40000.0,
    123.456,
    1521.4795,
    0.000001,
    200.000001,
    1000.0,
    29.999997,
    30.0,
    30.000001,
    -1000.0,
    -100.0,
];
const COUNTS: [i64; 7] = [0, 1, 10, 20, 300, 1000, 45];
const PERCENTS: [f64; 6] = [0.0, 3.0, 5.5, 20.0, 100.0, 2.999];
const DATES: [&str; 5] = ["2001-02-28", "2020-11-27", "2020-11-28", "2024-02-29", "2026-11-27"];

fn today() -> Date {
    Date::parse("2026-11-27").unwrap_or(Date::from_days(0))
}

fn opt<T: Clone + std::fmt::Debug + 'static>(values: &'static [T]) -> impl Strategy<Value = Option<T>> {
    prop_oneof![1 => Just(None), 4 => proptest::sample::select(values).prop_map(Some)]
}

fn money() -> impl Strategy<Value = Option<Money>> {
    opt(&MONEY).prop_map(|m| m.and_then(Money::from_wan_f64))
}

fn date() -> impl Strategy<Value = Option<Date>> {
    opt(&DATES).prop_map(|d| d.and_then(|d| Date::parse(d).ok()))
}

prop_compose! {
    fn entity()(
        id in 1u64..1_000_000,
        region in opt(&REGIONS), industry in opt(&INDUSTRIES),
        et in opt(&[EntityType::Enterprise, EntityType::Individual, EntityType::Coop]),
        own in opt(&[Ownership::Private, Ownership::State]),
        status in opt(&[RegStatus::Active, RegStatus::Cancelled]),
        tc in opt(&[TaxCredit::A, TaxCredit::B, TaxCredit::D]),
        established in date(),
        employees in opt(&COUNTS), patents in opt(&COUNTS), hires in opt(&COUNTS),
        revenue in money(), revenue_prev in money(), assets in money(), tax in money(),
        rd in money(), rd_prev in money(), export in money(), ui in money(), capital in money(),
        tech in opt(&PERCENTS), layoff in opt(&PERCENTS),
        dishonest in opt(&[true, false]), violation in opt(&[true, false]),
        tags in proptest::collection::vec((proptest::sample::select(&TAGS[..]), date(), date()), 0..3),
    ) -> Entity {
        let code = CreditCode::with_check(&format!("91230100MA{id:07}")).unwrap_or_else(|| CreditCode::parse("91350100M000100Y43").unwrap());
        let mut e = Entity::new(0, code, Timestamp(0));
        e.region = region.and_then(|r| RegionCode::parse(r).ok());
        e.industry = industry.and_then(|i| IndustryCode::parse(i).ok());
        e.entity_type = et;
        e.ownership = own;
        e.status = status;
        e.tax_credit = tc;
        e.established = established;
        e.employees = employees;
        e.invention_patents = patents;
        e.graduate_hires = hires;
        e.revenue = revenue;
        e.revenue_prev = revenue_prev;
        e.total_assets = assets;
        e.tax_paid = tax;
        e.rd_expense = rd;
        e.rd_expense_prev = rd_prev;
        e.export_value = export;
        e.ui_premium_paid = ui;
        e.registered_capital = capital;
        e.tech_staff_ratio = tech;
        e.layoff_rate = layoff;
        e.dishonest = dishonest;
        e.major_violation = violation;
        let mut held: Vec<TagHolding> = Vec::new();
        for (k, s, u) in tags {
            if !held.iter().any(|h| h.key == k) {
                held.push(TagHolding { key: k.to_string(), since: s, until: u });
            }
        }
        e.tags = held;
        e
    }
}

const NUM_FIELDS: [&str; 17] = [
    "registered_capital",
    "employees",
    "revenue",
    "revenue_prev",
    "revenue_growth",
    "total_assets",
    "tax_paid",
    "rd_expense",
    "rd_expense_prev",
    "rd_ratio",
    "tech_staff_ratio",
    "invention_patents",
    "export_value",
    "graduate_hires",
    "ui_premium_paid",
    "layoff_rate",
    "age_years",
];
const NUM_LITERALS: [&str; 17] = [
    "0",
    "3",
    "100",
    "2.5",
    "300",
    "0.1",
    "20",
    "-1",
    "2000",
    "0.005",
    "0.5",
    "7.6073975",
    "100.0000005",
    "2.9999997",
    "-3",
    "-200",
    "-(3.0000001)",
];

fn num_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        proptest::sample::select(&NUM_FIELDS[..]).prop_map(String::from),
        proptest::sample::select(&NUM_LITERALS[..]).prop_map(String::from),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (inner.clone(), proptest::sample::select(&["+", "-", "*", "/"][..]), inner.clone())
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("min({a}, {b})")),
            (inner.clone(), inner.clone(), inner.clone()).prop_map(|(a, b, c)| format!("max({a}, {b}, {c})")),
            (proptest::sample::select(&["round", "floor", "ceil", "abs"][..]), inner.clone())
                .prop_map(|(f, a)| format!("{f}({a})")),
            inner.clone().prop_map(|a| format!("-({a})")),
            (simple_bool(), inner.clone(), inner).prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
        ]
    })
}

fn date_expr() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("established".to_string()),
        Just("today()".to_string()),
        proptest::sample::select(&DATES[..]).prop_map(|d| format!("date(\"{d}\")")),
        proptest::sample::select(&TAGS[..]).prop_map(|t| format!("tag_since(\"{t}\")")),
        proptest::sample::select(&TAGS[..]).prop_map(|t| format!("tag_until(\"{t}\")")),
    ]
}

fn cmp() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(&["==", "!=", "<", "<=", ">", ">="][..])
}

fn simple_bool() -> impl Strategy<Value = String> {
    prop_oneof![
        (proptest::sample::select(&NUM_FIELDS[..]), cmp(), proptest::sample::select(&NUM_LITERALS[..]))
            .prop_map(|(f, op, v)| format!("{f} {op} {v}")),
        (
            proptest::sample::select(&["rd_ratio", "revenue_growth"][..]),
            cmp(),
            proptest::sample::select(&NUM_LITERALS[..])
        )
            .prop_map(|(f, op, v)| format!("{v} {op} {f}")),
        (proptest::sample::select(&["rd_ratio", "revenue_growth"][..]), proptest::sample::select(&NUM_LITERALS[..]))
            .prop_map(|(f, v)| format!("{f} in [{v}, 3]")),
        (date_expr(), cmp(), date_expr()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        proptest::sample::select(&["small", "micro", "large", "medium"][..])
            .prop_map(|v| format!("size_class == \"{v}\"")),
        Just("entity_type in [\"enterprise\", \"coop\"]".to_string()),
        Just("tax_credit in [\"A\", \"B\"]".to_string()),
        Just("status != \"active\"".to_string()),
        Just("ownership == \"private\"".to_string()),
        proptest::sample::select(&["23", "2301", "230125", "11", "230100"][..])
            .prop_map(|p| format!("region.within(\"{p}\")")),
        proptest::sample::select(&["C", "C39", "C3911", "I65", "A", "K70"][..])
            .prop_map(|p| format!("industry.within(\"{p}\")")),
        Just("region == \"230125\"".to_string()),
        Just("industry in [\"C3911\", \"F5211\"]".to_string()),
        proptest::sample::select(&TAGS[..]).prop_map(|t| format!("tags.contains(\"{t}\")")),
        proptest::sample::select(&TAGS[..]).prop_map(|t| format!("\"{t}\" in tags")),
        proptest::sample::select(
            &["revenue", "established", "size_class", "region", "industry", "dishonest", "age_years", "tags"][..]
        )
        .prop_map(|f| format!("has({f})")),
        Just("dishonest".to_string()),
        Just("!major_violation".to_string()),
        Just("dishonest == false".to_string()),
        Just("credit_code == \"91350100M000100Y43\"".to_string()),
        Just("employees in [10, 20, 45]".to_string()),
        Just("null == null ? true : false".to_string()).prop_map(|_| "true".to_string()),
    ]
}

fn bool_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        4 => simple_bool(),
        2 => (num_expr(), cmp(), num_expr()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} && {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} || {b})")),
            inner.clone().prop_map(|a| format!("!({a})")),
            (inner.clone(), inner.clone(), inner).prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
        ]
    })
}

fn portrait_of(entities: &mut [Entity]) -> Portrait {
    let mut p = Portrait::new();
    for (i, e) in entities.iter_mut().enumerate() {
        e.id = i as u64 + 1;
        p.upsert(e);
    }
    p
}

/// The compiled plan's outcome per row.
fn columnar_bool(src: &str, p: &Portrait, tags: &TagDictionary) -> Vec<Outcome> {
    let e = compile_expr(src, Want::Condition, tags).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    let plan = compile::boolean(&e).unwrap_or_else(|e| panic!("{src}: {e}"));
    let mut cx = Ctx::new(p, today());
    let mut out = Vec::new();
    let mut start = 0;
    while start < p.len() {
        cx.at(start);
        let (mut t, mut f) = ([0u64; WORDS], [0u64; WORDS]);
        plan.eval(&mut cx, &mut t, &mut f);
        for i in 0..cx.n {
            let bit = 1u64 << (i & 63);
            out.push(match (t[i >> 6] & bit != 0, f[i >> 6] & bit != 0) {
                (true, false) => Outcome::Eligible,
                (false, true) => Outcome::NotEligible,
                (false, false) => Outcome::Unknown,
                (true, true) => panic!("{src}: row {} both true and false", start + i),
            });
        }
        start += CHUNK;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn compiled_conditions_agree_with_the_interpreter(mut entities in proptest::collection::vec(entity(), 1..40), src in bool_expr()) {
        let tags = TagDictionary::new(default_tags());
        let p = portrait_of(&mut entities);
        let expr = compile_expr(&src, Want::Condition, &tags).unwrap_or_else(|e| panic!("{src}: {e:?}"));
        let columnar = columnar_bool(&src, &p, &tags);
        for (i, e) in entities.iter().enumerate() {
            let row = EntityRow { entity: e, as_of: today() };
            let expected = Outcome::of(&eval(&expr, &row));
            prop_assert_eq!(columnar[i], expected, "{} on row {}: {:?}", src, i, e);
            let via_portrait = Outcome::of(&eval(&expr, &p.row(i, today())));
            prop_assert_eq!(via_portrait, expected, "portrait row {} of {}", i, src);
            let plan = compile::boolean(&expr).unwrap();
            let one_row = match plan.eval_row(&p, today(), i) {
                Some(true) => Outcome::Eligible,
                Some(false) => Outcome::NotEligible,
                None => Outcome::Unknown,
            };
            prop_assert_eq!(one_row, expected, "eval_row {} of {}", i, src);
        }
    }

    #[test]
    fn compiled_amounts_agree_with_the_interpreter(mut entities in proptest::collection::vec(entity(), 1..40), src in num_expr()) {
        let tags = TagDictionary::new(default_tags());
        let p = portrait_of(&mut entities);
        let expr = compile_expr(&src, Want::Amount, &tags).unwrap_or_else(|e| panic!("{src}: {e:?}"));
        let plan = compile::num(&expr).unwrap_or_else(|e| panic!("{src}: {e}"));
        let mut cx = Ctx::new(&p, today());
        cx.at(0);
        let mut out = vec![0i128; cx.n];
        plan.eval(&mut cx, &mut out);
        for (i, e) in entities.iter().enumerate() {
            let row = EntityRow { entity: e, as_of: today() };
            let single = plan.eval_row(&p, today(), i);
            prop_assert!(single == out[i], "{}: eval_row {} vs chunk {}", src, single, out[i]);
            let columnar = (out[i] != compile::NULL).then(|| Dec::new(out[i], plan.scale));
            match eval(&expr, &row) {
                Val::Num(v) => prop_assert!(columnar == Some(v), "{}: row {} columnar {:?} interpreter {}", src, i, columnar, v),
                Val::Null => prop_assert!(columnar.is_none(), "{}: row {} columnar {:?} interpreter null", src, i, columnar),
                other => prop_assert!(false, "{} gave {:?}", src, other),
            }
        }
    }
}

/// A chunk boundary must not change anything: 10,000 rows span three chunks.
#[test]
fn agrees_across_chunk_boundaries() {
    let tags = TagDictionary::new(default_tags());
    let generator = crate::seed::generator::Generator::new(3, today());
    let mut entities: Vec<Entity> = (0..10_000)
        .map(|i| {
            let patch = generator.entity(i);
            let mut e = Entity::new(
                i + 1,
                patch.credit_code().cloned().unwrap_or_else(|| CreditCode::parse("91350100M000100Y43").unwrap()),
                Timestamp(0),
            );
            e.apply(&patch, today(), Timestamp(0));
            e
        })
        .collect();
    let p = portrait_of(&mut entities);
    for src in [
        "rd_ratio >= 3 && tags.contains(\"high_tech\")",
        "region.within(\"2301\") || size_class in [\"small\", \"micro\"]",
        "tags.contains(\"high_tech\") && tag_since(\"high_tech\") >= date(\"2025-01-01\")",
        "age_years >= 3 && !dishonest",
    ] {
        let expr = compile_expr(src, Want::Condition, &tags).unwrap();
        let columnar = columnar_bool(src, &p, &tags);
        assert_eq!(columnar.len(), 10_000);
        for (i, e) in entities.iter().enumerate() {
            let expected = Outcome::of(&eval(&expr, &EntityRow { entity: e, as_of: today() }));
            assert_eq!(columnar[i], expected, "{src} row {i}");
        }
    }
}

/// The engine's eligible / unknown / near-miss sets, amounts and breakdowns over `entities`
/// repeated `tiles` times (so that a run crosses chunks and computes amounts over whole chunks,
/// not only row by row) match a row-by-row reading.
fn engine_agrees(entities: &[Entity], conds: &[String], amount: &str, tiles: usize) -> Result<(), TestCaseError> {
    use super::engine::{self, Amount, Collect, Engine, MeasurePlan, amount_of, identity_guards};
    let tags = TagDictionary::new(default_tags());
    let mut entities: Vec<Entity> = entities.iter().cycle().take(entities.len() * tiles).cloned().collect();
    let p = portrait_of(&mut entities);
    let exprs: Vec<_> = conds.iter().map(|c| compile_expr(c, Want::Condition, &tags).unwrap()).collect();
    let amount_expr = compile_expr(amount, Want::Amount, &tags).unwrap();
    let mut eng = Engine::default();
    let ids: Vec<usize> =
        exprs.iter().zip(conds).map(|(e, c)| eng.condition(c, compile::boolean(e).unwrap())).collect();
    let identity = exprs.iter().zip(&ids).map(|(e, own)| identity_guards(&mut eng, e, *own).unwrap()).collect();
    let cap = Some(50_000_000);
    eng.push(MeasurePlan {
        measure_id: 1,
        version: 1,
        conditions: ids,
        amount: Some(compile::num(&amount_expr).unwrap()),
        cap_fen: cap,
        order: Vec::new(),
        identity,
    });
    // Evaluation order must not change any result.
    eng.order_by_selectivity(&p, today());
    let run =
        &engine::run(&eng, &p, today(), 2, Collect { eligible: true, unknown: true, near_miss: true, tally: true })[0];
    // Each distinct entity read once by the interpreter: which set it falls in (the failing
    // condition of a near miss) and its amount.
    enum Set {
        Eligible,
        Unknown,
        NearMiss(u16),
        None,
    }
    let distinct = entities.len() / tiles;
    let readings: Vec<(Set, Amount)> = entities[..distinct]
        .iter()
        .map(|e| {
            let row = EntityRow { entity: e, as_of: today() };
            let outs: Vec<Outcome> = exprs.iter().map(|x| Outcome::of(&eval(x, &row))).collect();
            let fails = outs.iter().filter(|o| **o == Outcome::NotEligible).count();
            let amount = match eval(&amount_expr, &row) {
                Val::Num(v) => amount_of(Some(v), cap),
                _ => Amount::Unknown,
            };
            let set = if outs.iter().all(|o| *o == Outcome::Eligible) {
                Set::Eligible
            } else if fails == 0 {
                Set::Unknown
            } else if fails == 1 && outs.iter().all(|o| *o != Outcome::Unknown) {
                let k = outs.iter().position(|o| *o == Outcome::NotEligible).unwrap();
                // Failing on who the entity is (its type, region, …) is no near miss.
                if explain::fails_on_identity(&exprs[k], &row) { Set::None } else { Set::NearMiss(k as u16) }
            } else {
                Set::None
            };
            (set, amount)
        })
        .collect();
    let (mut el, mut un, mut nm) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..entities.len() {
        match &readings[i % distinct] {
            (Set::Eligible, a) => el.push((i as u32, *a)),
            (Set::Unknown, _) => un.push(i as u32),
            (Set::NearMiss(k), a) => nm.push((i as u32, *k, *a)),
            (Set::None, _) => {}
        }
    }
    prop_assert_eq!(&run.eligible_rows, &el);
    prop_assert_eq!(&run.unknown_rows, &un);
    prop_assert_eq!(&run.near_miss_rows, &nm);
    prop_assert_eq!(run.eligible as usize, el.len());
    prop_assert_eq!(run.unknown as usize, un.len());
    prop_assert_eq!(run.near_miss as usize, nm.len());
    let fen = |a: &Amount| if let Amount::Fen(f) = a { *f } else { 0 };
    prop_assert_eq!(run.total_fen, el.iter().map(|(_, a)| fen(a)).sum::<i64>());
    prop_assert_eq!(run.amount_unknown as usize, el.iter().filter(|(_, a)| *a == Amount::Unknown).count());
    prop_assert_eq!(run.amount_negative as usize, el.iter().filter(|(_, a)| matches!(a, Amount::Negative(_))).count());
    prop_assert_eq!(run.near_miss_fen, nm.iter().map(|(_, _, a)| fen(a)).sum::<i64>());
    for (k, n) in run.near_miss_by_condition.iter().enumerate() {
        prop_assert_eq!(*n as usize, nm.iter().filter(|r| r.1 as usize == k).count());
    }
    // The breakdowns counted while walking are those of the rows themselves.
    let dims = super::tally::Dims::new(&p);
    let mut want = engine::Tallies { eligible: dims.tally(), unknown: dims.tally(), near_miss: dims.tally() };
    for (row, a) in &el {
        dims.add(&mut want.eligible, *row as usize, engine::fen_or_zero(*a));
    }
    for row in &un {
        dims.add(&mut want.unknown, *row as usize, 0);
    }
    for (row, _, a) in &nm {
        dims.add(&mut want.near_miss, *row as usize, engine::fen_or_zero(*a));
    }
    match run.tallies.as_deref() {
        Some(got) => prop_assert_eq!(got, &want),
        None => prop_assert!(el.is_empty() && un.is_empty() && nm.is_empty()),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, .. ProptestConfig::default() })]

    /// The engine's sets and amounts match a row-by-row reading (amounts row by row).
    #[test]
    fn engine_sets_agree_with_the_interpreter(
        entities in proptest::collection::vec(entity(), 1..60),
        conds in proptest::collection::vec(bool_expr(), 1..5),
        amount in num_expr(),
    ) {
        engine_agrees(&entities, &conds, &amount, 1)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// The same over more than a chunk of rows: amounts over whole chunks, tallies merged
    /// across chunks and threads.
    #[test]
    fn engine_sets_agree_with_the_interpreter_over_chunks(
        entities in proptest::collection::vec(entity(), 1..60),
        conds in proptest::collection::vec(bool_expr(), 1..5),
        amount in num_expr(),
    ) {
        let tiles = (CHUNK + CHUNK / 2) / entities.len() + 1;
        engine_agrees(&entities, &conds, &amount, tiles)?;
    }
}

/// The deepest and longest expressions the guard lets through, of every shape that nests: each
/// is parsed, checked, compiled, evaluated row by row and over columns, explained and dropped
/// on a thread with a 512 KiB stack (the async runtime's threads have 2 MiB), in a debug build.
#[test]
fn the_deepest_accepted_expressions_run_every_walk_on_a_small_stack() {
    use crate::rules::parse::{MAX_NESTING, MAX_OPERATORS, guard, parse};
    let ops = MAX_OPERATORS;
    let nest = MAX_NESTING;
    let repeat = |s: &str, n: usize| s.repeat(n);
    let shapes: Vec<(String, Want)> = vec![
        (format!("rd_ratio{} > 0", repeat(" + 1", ops - 1)), Want::Condition),
        (format!("{}dishonest", repeat("!", 1000)), Want::Condition),
        (format!("{}dishonest{}", repeat("!(", nest), repeat(")", nest)), Want::Condition),
        (format!("dishonest{}", repeat(" || dishonest", 300)), Want::Condition),
        (format!("{}dishonest{}", repeat("(dishonest || ", nest), repeat(")", nest)), Want::Condition),
        (format!("{}rd_ratio{} > 0", repeat("(", nest), repeat(")", nest)), Want::Condition),
        (format!("{}rd_ratio{}{} > 0", repeat("(", nest), repeat(" * 1", ops - 1), repeat(")", nest)), Want::Condition),
        (format!("{}rd_ratio > 0{}", repeat("(dishonest || ", nest), repeat(" || dishonest)", nest)), Want::Condition),
        (format!("{}rd_ratio{} > 0", repeat("min(", nest), repeat(", 1)", nest)), Want::Condition),
        (format!("{}false", repeat("dishonest ? true : ", ops / 2)), Want::Condition),
        (format!("{}1 > 0", repeat("-", ops - 1)), Want::Condition),
        (format!("{}\"A\"{} in [\"A\"]", repeat("[", nest - 1), repeat("]", nest - 1)), Want::Condition),
        (format!("rd_expense{}", repeat(" * 1", ops)), Want::Amount),
        (format!("{}rd_expense{}", repeat("max(0, ", nest), repeat(")", nest)), Want::Amount),
        (format!("a{}", repeat(".b", ops)), Want::Condition),
    ];
    let handle = std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            let tags = TagDictionary::new(default_tags());
            let mut entities = vec![Entity::new(1, CreditCode::parse("91350100M000100Y43").unwrap(), Timestamp(0))];
            let p = portrait_of(&mut entities);
            let mut accepted = 0;
            for (src, want) in &shapes {
                assert!(guard(src).is_ok(), "the guard should let this through: {}…", &src[..80.min(src.len())]);
                let Ok(mut expr) = parse(src) else { continue };
                check::check(&mut expr, *want, &check::CheckContext { tags: &tags });
                let _ = check::warnings(&expr);
                let _ = (expr.fields(), expr.conjuncts().len());
                let row = EntityRow { entity: &entities[0], as_of: today() };
                let _ = eval(&expr, &row);
                let _ = explain::explain(&expr, &row, &tags);
                let _ = explain::missing(&expr, &row);
                if compile_expr(src, *want, &tags).is_ok() {
                    accepted += 1;
                    match want {
                        Want::Condition => {
                            let plan = compile::boolean(&expr).unwrap();
                            let _ = plan.eval_row(&p, today(), 0);
                        }
                        Want::Amount => {
                            let plan = compile::num(&expr).unwrap();
                            let _ = plan.eval_row(&p, today(), 0);
                        }
                    }
                }
                drop(expr);
            }
            accepted
        })
        .unwrap();
    let accepted = handle.join().unwrap();
    assert!(accepted >= 8, "most shapes are valid measures, not only parse errors: {accepted}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    /// Fen codes over a chunk (a constant divisor where the value fits 64 bits) are the amounts
    /// `amount_of` gives value by value: half-fen values, the cap, negatives, values too large.
    #[test]
    fn fen_codes_are_amount_of(
        scale in 0u8..=18,
        quotient in prop_oneof![-1_000_000i64..1_000_000, any::<i64>().prop_map(|q| q / 1_000)],
        half in prop_oneof![Just(0i64), Just(1), Just(-1), -3i64..3],
        wide in prop_oneof![4 => Just(None), 1 => any::<i128>().prop_map(Some)],
        cap in prop_oneof![Just(None), (0i64..10_000_000).prop_map(Some)],
    ) {
        use super::engine::{Amount, amount_from_code, amount_of, code_of, fen_code, fen_codes};
        use crate::model::decimal::{FEN_SCALE, POW10};
        // A value on, just off, or at a half of a fen at `scale`.
        let d = if scale > FEN_SCALE { POW10[usize::from(scale - FEN_SCALE)] } else { 1 };
        let v = wide.unwrap_or_else(|| i128::from(quotient) * d + i128::from(half) * (d / 2).max(1));
        let values = [v, compile::NULL, i128::from(i64::MAX), i128::from(i64::MIN) + 1];
        let mut out = [0i64; 4];
        fen_codes(&values, scale, cap, &mut out);
        for (v, got) in values.iter().zip(out) {
            let want = amount_of((*v != compile::NULL).then(|| Dec::new(*v, scale)), cap);
            prop_assert_eq!(amount_from_code(got), want, "{} at scale {}", v, scale);
            prop_assert_eq!(fen_code(*v, scale, cap), code_of(want));
            prop_assert_eq!(amount_from_code(code_of(want)), want);
        }
        prop_assert_eq!(amount_from_code(code_of(Amount::Unknown)), Amount::Unknown);
        // The 64-bit path (`eval64`'s buffers, `NULL_NUM` unknown) gives the same codes.
        let narrow: Vec<i64> = values
            .iter()
            .filter_map(|v| if *v == compile::NULL { Some(crate::portrait::NULL_NUM) } else { i64::try_from(*v).ok() })
            .collect();
        let wide: Vec<i128> =
            narrow.iter().map(|x| if *x == crate::portrait::NULL_NUM { compile::NULL } else { i128::from(*x) }).collect();
        let (mut a, mut b) = (vec![0i64; narrow.len()], vec![0i64; narrow.len()]);
        super::fen::fen_codes64(&narrow, scale, cap, &mut a);
        fen_codes(&wide, scale, cap, &mut b);
        prop_assert_eq!(a, b, "scale {}", scale);
    }
}
