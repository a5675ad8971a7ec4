//! `huiqi bench`: whole-system figures on generated data — start-up (rebuilding the portrait
//! from redb), batch matching of every measure over every entity, one measure over all
//! entities with totals and breakdowns, one entity against all measures with explanations,
//! resident memory — each beside the same work done by the row interpreter, as a ratio.

pub mod breadth;
mod child;
mod client;
pub mod crash;
pub mod load;
pub mod payout;
pub mod startup;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::model::{Date, MeasureId};
use crate::portrait::engine::{self, Collect};
use crate::rules::eval::{EntityRow, Val, eval};
use crate::service::{Config, Service};
use crate::store::Store;
use crate::store::prelude::*;
use breadth::{Figure, Simulated};

pub struct BenchOptions {
    pub entities: u64,
    pub measures: u64,
    pub seed: u64,
    /// Where the generated store lives; reused when it already holds the same data.
    pub dir: PathBuf,
    pub today: Option<Date>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Ratios {
    pub batch: f64,
    pub simulate: f64,
    pub entity_explain: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct BenchReport {
    pub entities: u64,
    pub measures: u64,
    pub generate_ms: u128,
    pub startup_ms: u128,
    /// Every measure over every entity, eligible rows collected: three runs (more when alone).
    pub batch_ms: Figure,
    pub eligible_pairs: u64,
    /// One measure over all entities with totals, breakdowns and near misses, for each measure
    /// of a set drawn across the whole range of breadth (see `breadth`).
    pub simulate_ms: Figure,
    /// The slowest of them, and how broad it was.
    pub simulate_slowest: Simulated,
    /// The same measures all in one pass (`Service::simulate_many`), and one after another.
    pub simulate_many_ms: f64,
    pub simulate_one_by_one_ms: f64,
    /// Every published measure of the library simulated in one pass (breakdowns and near
    /// misses for each).
    pub simulate_library_ms: f64,
    pub entity_explain_us: Figure,
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
    pub portrait_bytes: usize,
    pub store_bytes: u64,
    pub interpreter_ratio: Ratios,
    /// Pushing one newly published measure that fits every entity of a separate store of
    /// `push_entities` entities: inbox messages and queued deliveries written, per second.
    pub push_entities: u64,
    pub push_ms: f64,
    pub push_per_s: f64,
    /// Start-up from the portrait snapshot and from every record, warm and cold.
    pub startup: startup::StartupReport,
}

/// Resident and peak resident memory of this process (Linux), in bytes.
pub fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

type Error = String;

fn err(e: impl std::fmt::Display) -> Error {
    e.to_string()
}

/// Creates a policy from its JSON and publishes one measure per spec; the policy's id and the
/// measures' ids.
fn publish_policy(
    svc: &crate::service::Service,
    who: &crate::model::Who,
    policy: serde_json::Value,
    specs: impl IntoIterator<Item = serde_json::Value>,
) -> Result<(u64, Vec<u64>), Error> {
    let policy = svc.policy_create(who, serde_json::from_value(policy).map_err(err)?).map_err(err)?;
    let mut measures = Vec::new();
    for spec in specs {
        let v = svc.measure_create(who, policy.id, serde_json::from_value(spec).map_err(err)?).map_err(err)?;
        svc.measure_publish(who, crate::model::MeasureId(v.measure_id)).map_err(err)?;
        measures.push(v.measure_id);
    }
    Ok((policy.id, measures))
}

fn open(dir: &Path, today: Option<Date>) -> Result<Service, Error> {
    let store = Store::open(dir).map_err(err)?;
    Ok(Service::new(store, Config { today, fast_password_hashing: true, ..Config::default() }))
}

/// Generates (or reuses) the data, then measures. Progress goes to `log`.
pub fn run(opts: &BenchOptions, log: &mut dyn Write) -> Result<BenchReport, Error> {
    let mut report = BenchReport { entities: opts.entities, measures: opts.measures, ..BenchReport::default() };
    let marker = format!("{}/{}/{}", opts.entities, opts.measures, opts.seed);
    {
        let svc = open(&opts.dir, opts.today)?;
        let existing = svc.store.read().map_err(err)?.meta("bench").map_err(err)?;
        if existing.as_deref() != Some(marker.as_bytes()) {
            if svc.stats().map_err(err)?.entities > 0 {
                return Err(format!("{} holds other data; give an empty directory with --dir", opts.dir.display()));
            }
            let _ = writeln!(
                log,
                "generating {} entities and {} measures in {} …",
                opts.entities,
                opts.measures,
                opts.dir.display()
            );
            let t = Instant::now();
            svc.init_reference(&crate::model::Who::system("bench")).map_err(err)?;
            svc.bench_load_entities(opts.seed, opts.entities, |done| {
                let _ = write!(log, "\r  entities: {done}");
                let _ = log.flush();
            })
            .map_err(err)?;
            let _ = writeln!(log);
            svc.bench_load_measures(opts.seed, opts.measures).map_err(err)?;
            let tx = svc.store.write().map_err(err)?;
            tx.set_meta("bench", marker.as_bytes()).map_err(err)?;
            tx.commit().map_err(err)?;
            report.generate_ms = t.elapsed().as_millis();
            let _ = writeln!(log, "generated in {:.1} s", report.generate_ms as f64 / 1000.0);
        } else {
            let _ = writeln!(log, "reusing the data in {}", opts.dir.display());
        }
    }

    report.startup = startup::figures(&opts.dir, opts.today, log)?;
    if std::env::var("HUIQI_BENCH_ONLY").is_ok_and(|v| v == "startup") {
        return Ok(report);
    }
    // Start-up: open the store and rebuild the portrait and the compiled measures.
    let t = Instant::now();
    let svc = open(&opts.dir, opts.today)?;
    svc.matching_init().map_err(err)?;
    report.startup_ms = t.elapsed().as_millis();
    report.store_bytes = svc.store.file_size();
    let _ = writeln!(log, "startup_ms {}", report.startup_ms);
    let as_of = svc.today();
    let guard = svc.matching().map_err(err)?;
    let state = guard.as_ref().ok_or("matching unavailable")?;
    report.portrait_bytes = state.portrait.heap_bytes();
    let n = state.portrait.len();

    // For profiling one part: HUIQI_BENCH_ONLY=batch|simulate|explain repeats it and stops;
    // HUIQI_BENCH_ONLY=push measures only the push step.
    let only = std::env::var("HUIQI_BENCH_ONLY").unwrap_or_default();
    let rounds = if only.is_empty() { 1 } else { 20 };
    // Batch matching of every measure over every entity.
    let mut times = Vec::new();
    for _ in 0..if only.is_empty() || only == "batch" { 3 * rounds } else { 0 } {
        let t = Instant::now();
        let runs = engine::run(
            &state.engine,
            &state.portrait,
            as_of,
            engine::cores(),
            Collect { eligible: true, ..Collect::default() },
        );
        times.push(ms(t));
        report.eligible_pairs = runs.iter().map(|r| r.eligible).sum();
    }
    report.batch_ms = Figure::of(times);
    let _ = writeln!(log, "batch_ms {} ({} eligible pairs)", report.batch_ms, report.eligible_pairs);

    // One measure over all entities with totals, breakdowns and near misses, across breadth.
    let library: Vec<_> = state.measures.values().map(|c| c.spec.clone()).collect();
    let specs = breadth::measures(&state.portrait, &library, 100)?;
    drop(guard);
    let mut times = Vec::new();
    for _ in 0..if only.is_empty() || only == "simulate" { rounds.min(3) } else { 0 } {
        for spec in &specs {
            let t = Instant::now();
            let sim = svc.simulate(spec, Some(as_of), false).map_err(err)?;
            let took = ms(t);
            if took > report.simulate_slowest.ms {
                report.simulate_slowest = Simulated {
                    name: sim.name,
                    eligible: sim.eligible,
                    unknown: sim.unknown,
                    near_miss: sim.near_miss,
                    ms: took,
                };
            }
            times.push(took);
        }
    }
    report.simulate_one_by_one_ms = times.iter().take(specs.len()).sum();
    report.simulate_ms = Figure::of(times);
    let _ = writeln!(log, "simulate_ms {} over {} measures", report.simulate_ms, specs.len());
    let s = &report.simulate_slowest;
    let _ = writeln!(
        log,
        "  slowest: «{}» {:.1} ms ({} eligible, {} unknown, {} near misses)",
        s.name, s.ms, s.eligible, s.unknown, s.near_miss
    );
    if only.is_empty() || only == "simulate" {
        let t = Instant::now();
        svc.simulate_many(&specs, Some(as_of), false).map_err(err)?;
        report.simulate_many_ms = ms(t);
        let _ = writeln!(
            log,
            "simulate_many_ms {:.1} for the {} measures in one pass ({:.1} ms one by one)",
            report.simulate_many_ms,
            specs.len(),
            report.simulate_one_by_one_ms
        );
        let t = Instant::now();
        svc.simulate_many(&library, Some(as_of), false).map_err(err)?;
        report.simulate_library_ms = ms(t);
        let _ = writeln!(
            log,
            "simulate_library_ms {:.1} for all {} published measures in one pass",
            report.simulate_library_ms,
            library.len()
        );
    }

    // One entity against all measures, with explanations.
    let codes: Vec<crate::model::CreditCode> = {
        let guard = svc.matching().map_err(err)?;
        let state = guard.as_ref().ok_or("matching unavailable")?;
        (0..200)
            .map(|i| i * n / 200)
            .filter(|r| *r < n)
            .map(|r| crate::model::CreditCode::parse(String::from_utf8_lossy(&state.portrait.codes[r]).trim_end()))
            .collect::<Result<_, _>>()
            .map_err(err)?
    };
    let mut times = Vec::new();
    for _ in 0..if only.is_empty() || only == "explain" { rounds } else { 0 } {
        for code in &codes {
            let t = Instant::now();
            svc.entity_matches(&crate::model::Who::system("bench"), code, Some(as_of)).map_err(err)?;
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    report.entity_explain_us = Figure::of(times);
    let _ = writeln!(log, "entity_explain_us {}", report.entity_explain_us);
    (report.rss_bytes, report.peak_rss_bytes) = rss();
    let _ = writeln!(log, "rss_bytes {} (peak {})", report.rss_bytes, report.peak_rss_bytes);

    if only == "push" {
        drop(svc);
        push_fanout(opts, &mut report, log)?;
        return Ok(report);
    }
    if !only.is_empty() {
        return Ok(report);
    }
    // The same work by the row interpreter, on a sample, extrapolated.
    let guard = svc.matching().map_err(err)?;
    let state = guard.as_ref().ok_or("matching unavailable")?;
    let sample_n = n.min(20_000);
    let sample: Vec<crate::model::Entity> = {
        let tx = svc.store.read().map_err(err)?;
        let mut v = Vec::with_capacity(sample_n);
        tx.for_each_entity(|e| {
            if v.len() < sample_n {
                v.push(e);
            }
            Ok::<_, crate::store::StoreError>(())
        })
        .map_err(err)?;
        v
    };
    let measures: Vec<_> = state.measures.values().collect();
    let t = Instant::now();
    let mut eligible = 0u64;
    for e in &sample {
        let row = EntityRow { entity: e, as_of };
        for m in &measures {
            if m.rules.conditions.iter().all(|c| eval(&c.expr, &row) == Val::Bool(true)) {
                eligible += 1;
            }
        }
    }
    let interp_batch_ms = ms(t) * n as f64 / sample.len().max(1) as f64;
    std::hint::black_box(eligible);
    report.interpreter_ratio.batch = interp_batch_ms / report.batch_ms.p50.max(1e-9);
    if let Some(m) = measures.first() {
        let t = Instant::now();
        let mut count = 0u64;
        for e in &sample {
            let row = EntityRow { entity: e, as_of };
            if m.rules.conditions.iter().all(|c| eval(&c.expr, &row) == Val::Bool(true)) {
                count += 1;
            }
        }
        std::hint::black_box(count);
        let interp_sim_ms = ms(t) * n as f64 / sample.len().max(1) as f64;
        report.interpreter_ratio.simulate = interp_sim_ms / report.simulate_ms.p50.max(1e-9);
    }
    // Explaining from a record decoded from the store, instead of the in-memory portrait row.
    let tags = svc.tag_dictionary().map_err(err)?;
    let t = Instant::now();
    for e in sample.iter().take(200) {
        let row = EntityRow { entity: e, as_of };
        for m in &measures {
            for c in &m.rules.conditions {
                std::hint::black_box(crate::rules::explain::explain(&c.expr, &row, &tags));
            }
        }
    }
    let interp_explain_us = t.elapsed().as_secs_f64() * 1e6 / sample.len().clamp(1, 200) as f64;
    report.interpreter_ratio.entity_explain = interp_explain_us / report.entity_explain_us.p50.max(1e-9);
    let _ = writeln!(
        log,
        "interpreter ratios: batch {:.1}×, simulate {:.1}×, entity_explain {:.2}× (interpreter time ÷ engine time)",
        report.interpreter_ratio.batch, report.interpreter_ratio.simulate, report.interpreter_ratio.entity_explain
    );
    drop(guard);
    drop(svc);
    push_fanout(opts, &mut report, log)?;
    Ok(report)
}

/// Publishes a measure without conditions over a fresh store of up to 200,000 entities (beside
/// the bench data, removed afterwards) and times the push step: an inbox message and a queued
/// log delivery per entity, written in transactions of 1,000.
fn push_fanout(opts: &BenchOptions, report: &mut BenchReport, log: &mut dyn Write) -> Result<(), Error> {
    let n = opts.entities.min(200_000);
    let dir = opts.dir.join("push-fanout");
    let _ = std::fs::remove_dir_all(&dir);
    let config = Config {
        today: opts.today,
        push: crate::service::push::PushSettings { log: true, ..Default::default() },
        ..Config::default()
    };
    let svc = Service::new(Store::open(&dir).map_err(err)?, config);
    let who = crate::model::Who::system("bench");
    svc.init_reference(&who).map_err(err)?;
    svc.bench_load_entities(opts.seed, n, |_| {}).map_err(err)?;
    svc.matching_init().map_err(err)?;
    let policy: crate::model::PolicyInput = serde_json::from_value(serde_json::json!({
        "title": "推送测试", "doc_number": "测试〔2026〕1号", "level": "county", "department": "测试局",
        "issue_date": "2026-01-01", "valid_from": null, "valid_until": null, "text": "", "interpretation": "", "tags": []
    }))
    .map_err(err)?;
    let policy = svc.policy_create(&who, policy).map_err(err)?;
    let spec: crate::model::MeasureSpec =
        serde_json::from_value(serde_json::json!({"name": "普惠事项", "department": "测试局", "mode": "notice"}))
            .map_err(err)?;
    let v = svc.measure_create(&who, policy.id, spec).map_err(err)?;
    svc.measure_publish(&who, MeasureId(v.measure_id)).map_err(err)?;
    let t = Instant::now();
    let pushed = svc.push_pending().map_err(err)?;
    report.push_ms = ms(t);
    report.push_entities = pushed.messages as u64;
    report.push_per_s = pushed.messages as f64 / (report.push_ms / 1000.0).max(1e-9);
    let _ = writeln!(
        log,
        "push: {} messages and {} deliveries in {:.0} ms ({:.0} per second)",
        pushed.messages, pushed.deliveries, report.push_ms, report.push_per_s
    );
    drop(svc);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
