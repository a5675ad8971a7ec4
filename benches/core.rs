//! Micro-benchmarks of the hot paths of issue 2: parsing import rows, credit-code checks,
//! size classification, policy search, and writing a batch of entities.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use huiqi::import::ColumnMap;
use huiqi::model::size_class::{SizeInputs, classify};
use huiqi::model::tags::{TagDictionary, default_tags};
use huiqi::model::{CreditCode, Date, IndustryCode, Money};
use huiqi::service::policies::{Audience, PolicyQuery};
use huiqi::service::{Config, Service};
use huiqi::store::Store;

fn today() -> Date {
    Date::parse("2026-11-27").unwrap()
}

fn bench_model(c: &mut Criterion) {
    let code = CreditCode::parse("91350100M000100Y43").unwrap();
    c.bench_function("credit_code_parse_and_check", |b| {
        b.iter(|| CreditCode::parse(black_box("91350100M000100Y43")).map(|c| c.check_ok()))
    });
    c.bench_function("credit_code_check_only", |b| b.iter(|| black_box(&code).check_ok()));
    let industry = IndustryCode::parse("C3911").unwrap();
    let inputs = SizeInputs { employees: Some(150), revenue: Some(Money::from_wan(5000)), total_assets: None };
    c.bench_function("size_class_classify", |b| b.iter(|| classify(Some(black_box(&industry)), black_box(inputs))));

    let headers: Vec<String> = [
        "统一社会信用代码",
        "名称",
        "所在地",
        "行业",
        "成立日期",
        "从业人数",
        "营业收入(万元)",
        "研发费用(万元)",
        "资质标签",
        "失信主体",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let map = ColumnMap::from_headers(headers).unwrap();
    let row: Vec<String> = [
        "91350100M000100Y43",
        "哈尔滨龙江源食品有限公司",
        "230125",
        "C1391",
        "2018-05-20",
        "120",
        "3200.5",
        "96.015",
        "high_tech@2024-11-02~2027-11-01;tech_sme",
        "否",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let tags = TagDictionary::new(default_tags());
    c.bench_function("import_parse_row_10_columns", |b| b.iter(|| map.parse_row(2, black_box(&row), today(), &tags)));
}

fn bench_service(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let svc = Service::new(
        Store::open(dir.path()).unwrap(),
        Config { today: Some(today()), fast_password_hashing: true, ..Config::default() },
    );
    svc.init_reference(&huiqi::model::Who::system("bench")).unwrap();
    svc.load_policies(&huiqi::model::Who::system("bench"), &huiqi::seed::demo_policies().unwrap()).unwrap();
    let query = PolicyQuery { q: "高新".into(), ..Default::default() };
    c.bench_function("policy_search_gaoxin_demo_library", |b| {
        b.iter(|| svc.policy_search(black_box(&query), Audience::Public).unwrap())
    });
    let mut group = c.benchmark_group("entity_write");
    group.sample_size(10);
    let mut next = 0u64;
    group.bench_function("seed_2000_entities_one_batch", |b| {
        b.iter(|| {
            svc.seed_entities(7, next, 2000, |_| {}).unwrap();
            next += 2000;
        })
    });
    group.finish();
}

criterion_group!(benches, bench_model, bench_service, bench_rules, bench_ratio);
criterion_main!(benches);

/// The same condition over 4,096 generated entities: the compiled columnar plan beside the row
/// interpreter, in one run.
fn bench_rules(c: &mut Criterion) {
    use huiqi::portrait::Portrait;
    use huiqi::portrait::compile::{Ctx, WORDS};
    use huiqi::portrait::engine::{self, Collect, Engine};
    use huiqi::rules::check::Want;
    use huiqi::rules::eval::{EntityRow, eval};

    let generator = huiqi::seed::generator::Generator::new(5, today());
    let entities: Vec<huiqi::model::Entity> = (0..20_000u64)
        .map(|i| {
            let patch = generator.entity(i);
            let code = patch.credit_code().cloned().unwrap();
            let mut e = huiqi::model::Entity::new(i + 1, code, huiqi::model::Timestamp(0));
            e.apply(&patch, today(), huiqi::model::Timestamp(0));
            e
        })
        .collect();
    let mut p = Portrait::new();
    for e in &entities {
        p.upsert(e);
    }
    let tags = TagDictionary::new(default_tags());
    let src = "region.within(\"2301\") && rd_ratio >= 3 && !dishonest";
    let expr = huiqi::portrait::compile::compile_expr(src, Want::Condition, &tags).unwrap();
    let plan = huiqi::portrait::compile::boolean(&expr).unwrap();
    let mut group = c.benchmark_group("condition_4096_rows");
    group.bench_function("compiled_columnar", |b| {
        let mut cx = Ctx::new(&p, today());
        cx.at(0);
        let (mut t, mut f) = ([0u64; WORDS], [0u64; WORDS]);
        b.iter(|| plan.eval(&mut cx, black_box(&mut t), black_box(&mut f)))
    });
    group.bench_function("row_interpreter", |b| {
        b.iter(|| {
            entities[..4096]
                .iter()
                .filter(|e| {
                    eval(&expr, &EntityRow { entity: e, as_of: today() }) == huiqi::rules::eval::Val::Bool(true)
                })
                .count()
        })
    });
    group.finish();

    let mut eng = Engine::default();
    for i in 0..100u64 {
        let spec = huiqi::seed::measures::measure(1, i);
        let rules = huiqi::portrait::compile::check_measure(&spec, &tags).unwrap();
        let conditions: Vec<usize> = rules
            .conditions
            .iter()
            .map(|r| eng.condition(&r.source, huiqi::portrait::compile::boolean(&r.expr).unwrap()))
            .collect();
        let identity = rules
            .conditions
            .iter()
            .zip(&conditions)
            .map(|(r, own)| engine::identity_guards(&mut eng, &r.expr, *own).unwrap())
            .collect();
        eng.push(engine::MeasurePlan {
            measure_id: i,
            version: 1,
            conditions,
            amount: rules.amount.as_ref().map(|a| huiqi::portrait::compile::num(a).unwrap()),
            cap_fen: rules.cap.map(Money::fen),
            order: Vec::new(),
            identity,
        });
    }
    eng.order_by_selectivity(&p, today());
    // The same measures without the identity guards that keep who-the-entity-is failures out
    // of the near misses: what the guards cost, side by side.
    let mut bare = eng.clone();
    for m in &mut bare.measures {
        m.identity.clear();
    }
    let mut group = c.benchmark_group("engine");
    group.sample_size(20);
    group.bench_function("100_measures_x_20000_entities", |b| {
        b.iter(|| engine::run(&eng, &p, today(), engine::cores(), Collect { eligible: true, ..Collect::default() }))
    });
    // What a simulation collects: breakdowns tallied while walking; beside it, the row lists
    // a simulation used to collect (and then sort and count into hash maps).
    let tally = Collect { tally: true, ..Collect::default() };
    let rows = Collect { eligible: true, unknown: true, near_miss: true, tally: false };
    group.bench_function("simulate_with_identity_guards", |b| {
        b.iter(|| engine::run(&eng, &p, today(), engine::cores(), tally))
    });
    group.bench_function("simulate_without_identity_guards", |b| {
        b.iter(|| engine::run(&bare, &p, today(), engine::cores(), tally))
    });
    group.bench_function("simulate_collecting_rows", |b| {
        b.iter(|| engine::run(&eng, &p, today(), engine::cores(), rows))
    });
    group.finish();
}

/// A measure with a derived ratio (研发费用补助: `rd_ratio >= 3`) over 200,000 generated
/// entities: the ratio condition alone, a field against a literal beside it (the common path),
/// and the whole simulation (counts, total, breakdowns, near misses).
fn bench_ratio(c: &mut Criterion) {
    use huiqi::portrait::Portrait;
    use huiqi::portrait::compile::{CHUNK, Ctx, WORDS, boolean, check_measure, compile_expr, num};
    use huiqi::portrait::engine::{self, Collect, Engine};
    use huiqi::rules::check::Want;

    let generator = huiqi::seed::generator::Generator::new(7, today());
    let mut p = Portrait::new();
    for i in 0..200_000u64 {
        let patch = generator.entity(i);
        let code = patch.credit_code().cloned().unwrap();
        let mut e = huiqi::model::Entity::new(i + 1, code, huiqi::model::Timestamp(0));
        e.apply(&patch, today(), huiqi::model::Timestamp(0));
        p.upsert(&e);
    }
    let tags = TagDictionary::new(default_tags());
    let mut group = c.benchmark_group("ratio_200000");
    group.sample_size(20);
    for (name, src) in [
        ("rd_ratio_ge_3", "rd_ratio >= 3"),
        ("revenue_growth_ge_20", "revenue_growth >= 20"),
        ("rd_expense_ge_50", "rd_expense >= 50"),
    ] {
        let plan = boolean(&compile_expr(src, Want::Condition, &tags).unwrap()).unwrap();
        group.bench_function(name, |b| {
            let mut cx = Ctx::new(&p, today());
            let (mut t, mut f) = ([0u64; WORDS], [0u64; WORDS]);
            b.iter(|| {
                let mut n = 0u32;
                for start in (0..p.len()).step_by(CHUNK) {
                    cx.at(start);
                    plan.eval(&mut cx, &mut t, &mut f);
                    n += t.iter().map(|w| w.count_ones()).sum::<u32>();
                }
                black_box(n)
            })
        });
    }
    let spec = huiqi::model::MeasureSpec {
        conditions: [
            "region.within(\"23\") && entity_type == \"enterprise\"",
            "tags.contains(\"tech_sme\")",
            "rd_expense >= 50",
            "rd_ratio >= 3",
            "!dishonest && !major_violation",
        ]
        .iter()
        .map(|e| huiqi::model::policy::Condition { label: (*e).to_string(), expr: (*e).to_string() })
        .collect(),
        amount: Some("min(rd_expense * 0.05, 50)".into()),
        cap: Some(Money::from_wan(50)),
        ..huiqi::seed::measures::measure(1, 0)
    };
    let rules = check_measure(&spec, &tags).unwrap();
    let mut eng = Engine::default();
    let conditions: Vec<usize> =
        rules.conditions.iter().map(|r| eng.condition(&r.source, boolean(&r.expr).unwrap())).collect();
    let identity = rules
        .conditions
        .iter()
        .zip(&conditions)
        .map(|(r, own)| engine::identity_guards(&mut eng, &r.expr, *own).unwrap())
        .collect();
    eng.push(engine::MeasurePlan {
        measure_id: 1,
        version: 1,
        conditions,
        amount: rules.amount.as_ref().map(|a| num(a).unwrap()),
        cap_fen: rules.cap.map(Money::fen),
        order: Vec::new(),
        identity,
    });
    eng.order_by_selectivity(&p, today());
    group.bench_function("rd_subsidy_simulate", |b| {
        b.iter(|| engine::run(&eng, &p, today(), engine::cores(), Collect { tally: true, ..Collect::default() }))
    });
    group.finish();
}
