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
    let svc =
        Service::new(Store::open(dir.path()).unwrap(), Config { today: Some(today()), fast_password_hashing: true });
    svc.init_reference("bench").unwrap();
    svc.load_policies("bench", &huiqi::seed::demo_policies().unwrap()).unwrap();
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

criterion_group!(benches, bench_model, bench_service);
criterion_main!(benches);
