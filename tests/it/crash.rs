//! Crash trials against the real binary in `cargo test`: kill -9 during a command-line import
//! and during a stream of API writes, then restart and check (a few trials; `huiqi bench
//! --crash N` runs many). And a short run of the load driver, so that it cannot rot.

use std::time::Duration;

use huiqi::bench::crash::{CrashPlan, run_plan, seed_from_env};
use huiqi::bench::load::{self, LoadPlan};

const BIN: &str = env!("CARGO_BIN_EXE_huiqi");

#[test]
fn killed_imports_and_servers_keep_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let plan = CrashPlan {
        binary: BIN.into(),
        dir: dir.path().to_path_buf(),
        trials: 4,
        seed: seed_from_env().unwrap(),
        import_rows: 12_000,
        api_window: Duration::from_millis(2500),
    };
    let mut log = Vec::new();
    let report = run_plan(&plan, &mut log).unwrap();
    let log = String::from_utf8_lossy(&log);
    assert_eq!(report.failures, 0, "replay with HUIQI_BENCH_SEED={}:\n{log}\n{report:#?}", report.seed);
    assert_eq!(report.kills.import + report.imports_finished_before_kill, 2, "{log}");
    assert_eq!(report.kills.serve, 2, "{log}");
    let durable = huiqi::service::imports::DURABLE_ROWS as u64;
    assert!(report.import_rows_found.iter().all(|n| n % durable == 0 || *n == 12_000), "{log}");
    assert!(report.acknowledged.get("entity_upsert").is_some_and(|n| *n > 0), "{log}");
    assert_eq!(
        report.acknowledged_writes_checked,
        report.acknowledged.values().sum::<u64>(),
        "every acknowledged write is checked"
    );
}

#[test]
fn a_short_load_run_has_no_errors() {
    let dir = tempfile::tempdir().unwrap();
    let plan = LoadPlan {
        binary: BIN.into(),
        dir: dir.path().to_path_buf(),
        users: 4,
        duration: Duration::from_secs(5),
        entities: 300,
        think: (Duration::from_millis(20), Duration::from_millis(100)),
        ramp: Duration::from_millis(200),
        seed: seed_from_env().unwrap(),
        sample_every: Duration::from_secs(1),
    };
    let mut log = Vec::new();
    let report = load::run_plan(&plan, &mut log).unwrap();
    let log = String::from_utf8_lossy(&log);
    assert_eq!(report.errors, 0, "seed {}: {:#?}\n{log}", report.seed, report.error_samples);
    for group in ["page", "api_read", "sign_in", "write"] {
        assert!(report.groups.get(group).is_some_and(|g| g.count > 0), "no {group} requests: {log}");
    }
    assert!(report.rss.samples.len() >= 3 && report.rss.max_mib > 0.0, "{:?}", report.rss);
}
