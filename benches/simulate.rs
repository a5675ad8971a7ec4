//! One simulated measure over the whole portrait, across breadth (issue 12, point 2): the demo
//! policies' measures and the revenue ladder of `huiqi bench`, each alone, with the breakdowns
//! and near misses a simulation collects; beside it the same run counting only (no tallies),
//! which shows what the per-row work after the condition masks costs.
//!
//! `HUIQI_SNAPSHOT=/path/portrait.snap cargo bench --bench simulate` runs over a portrait
//! snapshot written by `huiqi bench` / `huiqi serve` (e.g. 1,000,000 entities); without it over
//! 100,000 generated entities. `HUIQI_SIM_MEASURES=稳岗,阶梯` keeps the measures whose names
//! contain one of the words.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use huiqi::model::tags::{TagDictionary, default_tags};
use huiqi::model::{Date, Entity, Timestamp};
use huiqi::portrait::Portrait;
use huiqi::portrait::engine::{self, Collect, Engine};

fn today() -> Date {
    Date::parse("2026-11-27").unwrap()
}

fn portrait() -> Portrait {
    if let Ok(path) = std::env::var("HUIQI_SNAPSHOT") {
        return huiqi::portrait::snapshot::read(std::path::Path::new(&path)).unwrap().0;
    }
    let generator = huiqi::seed::generator::Generator::new(5, today());
    let mut p = Portrait::new();
    for i in 0..100_000u64 {
        let patch = generator.entity(i);
        let code = patch.credit_code().cloned().unwrap();
        let mut e = Entity::new(i + 1, code, Timestamp(0));
        e.apply(&patch, today(), Timestamp(0));
        p.upsert(&e);
    }
    p
}

fn bench_simulate(c: &mut Criterion) {
    let p = portrait();
    let tags = TagDictionary::new(default_tags());
    let keep: Vec<String> = std::env::var("HUIQI_SIM_MEASURES")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_else(|_| vec!["稳岗返还".into(), "0.10%".into(), "100.00%".into()]);
    // The demo policies' measures, the revenue ladder and the generated library (`生成事项 N`).
    let library: Vec<_> = (0..1000).map(|i| huiqi::seed::measures::measure(1, i)).collect();
    let specs = huiqi::bench::breadth::measures(&p, &library, library.len()).unwrap();
    let mut group = c.benchmark_group(format!("simulate_{}_entities", p.len()));
    group.sample_size(10);
    for spec in specs.iter().filter(|s| keep.iter().any(|k| s.name.contains(k.as_str()))) {
        let rules = huiqi::portrait::compile::check_measure(spec, &tags).unwrap();
        let mut eng = Engine::default();
        let plan = engine::plan_measure(&mut eng, 0, 1, &rules).unwrap();
        eng.push(plan);
        eng.order_by_selectivity(&p, today());
        let tally = Collect { tally: true, ..Collect::default() };
        let r = &engine::run(&eng, &p, today(), engine::cores(), tally)[0];
        println!("{}: {} eligible, {} unknown, {} near misses", spec.name, r.eligible, r.unknown, r.near_miss);
        for c in &spec.conditions {
            println!("  {}", c.expr);
        }
        println!("  amount: {}", spec.amount.as_deref().unwrap_or("-"));
        group.bench_function(format!("{}/tally", spec.name), |b| {
            b.iter(|| engine::run(&eng, &p, today(), engine::cores(), tally))
        });
        group.bench_function(format!("{}/no_tally", spec.name), |b| {
            b.iter(|| engine::run(&eng, &p, today(), engine::cores(), Collect::default()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_simulate);
criterion_main!(benches);
