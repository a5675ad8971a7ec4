//! `huiqi bench --crash N`: kill -9 trials against the real binary. Half the trials kill a CLI
//! import of a generated file, half a server under a stream of API writes (entities, case
//! submissions, review decisions, publication requests and approvals); each is followed by a
//! restart and the checks: the store opens, the audit chain verifies, every acknowledged write
//! is there, and an interrupted import left exactly a prefix of whole transactions.

mod api_trial;
mod checks;
mod fixture;
mod import_trial;
mod writers;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use self::api_trial::api_trial;
use self::fixture::Fixture;
use self::import_trial::{ImportFile, import_trial};
use super::child::Binary;
use super::{Error, err};
use crate::seed::generator::Rng;

/// What the crash trials are asked to do.
#[derive(Debug, Clone)]
pub struct CrashOptions {
    pub trials: u32,
    pub dir: std::path::PathBuf,
}

/// A run of trials in full; `huiqi bench --crash` makes one from [`CrashOptions`], tests their own.
#[derive(Debug, Clone)]
pub struct CrashPlan {
    /// The `huiqi` binary to kill.
    pub binary: PathBuf,
    /// Scratch space: one directory per trial.
    pub dir: PathBuf,
    /// Even trials kill an import, odd ones a server.
    pub trials: u32,
    /// Every random choice (kill moments, which writes) follows from it.
    pub seed: u64,
    /// Rows in the generated import file.
    pub import_rows: u64,
    /// A server is killed between a tenth of this and this long after the writes begin.
    pub api_window: Duration,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Kills {
    pub import: u32,
    pub serve: u32,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CrashReport {
    /// `HUIQI_BENCH_SEED=<seed>` replays the same trials.
    pub seed: u64,
    pub trials: u32,
    pub kills: Kills,
    pub import_rows: u64,
    pub import_full_ms: u128,
    /// Rows found after each killed import: a multiple of the batch size, or all of them.
    pub import_rows_found: Vec<u64>,
    pub imports_finished_before_kill: u32,
    /// API writes answered 2xx before the kill, by kind; each is checked after the restart.
    pub acknowledged: BTreeMap<String, u64>,
    pub acknowledged_writes_checked: u64,
    /// Writes sent but not answered when the server died, by kind (either outcome is right).
    pub in_flight_at_kill: BTreeMap<String, u64>,
    pub failures: u64,
    pub failure_details: Vec<String>,
    pub seconds: f64,
}

/// The seed from `HUIQI_BENCH_SEED`, or a new one from the clock.
pub fn seed_from_env() -> Result<u64, Error> {
    match std::env::var("HUIQI_BENCH_SEED") {
        Ok(s) => s.trim().parse().map_err(|_| format!("HUIQI_BENCH_SEED is not a number: {s}")),
        Err(_) => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 % 1_000_000_007)),
    }
}

/// Runs the trials and returns the report as JSON; any failure is an error that carries it.
pub fn run(opts: &CrashOptions, log: &mut dyn Write) -> Result<serde_json::Value, String> {
    let binary = std::env::current_exe().map_err(|e| format!("cannot find the huiqi binary: {e}"))?;
    let plan = CrashPlan {
        binary,
        dir: opts.dir.clone(),
        trials: opts.trials,
        seed: seed_from_env()?,
        import_rows: 30_000,
        api_window: Duration::from_secs(4),
    };
    let report = run_plan(&plan, log)?;
    let value = serde_json::to_value(&report).map_err(err)?;
    if report.failures > 0 {
        return Err(format!(
            "{} crash-trial failures (replay with HUIQI_BENCH_SEED={}): {value}",
            report.failures, report.seed
        ));
    }
    Ok(value)
}

/// Runs the plan's trials; failures are counted in the report, not returned as errors.
pub fn run_plan(plan: &CrashPlan, log: &mut dyn Write) -> Result<CrashReport, Error> {
    let started = Instant::now();
    let bin = Binary::new(&plan.binary);
    let mut rng = Rng::new(plan.seed);
    let mut report = CrashReport { seed: plan.seed, trials: plan.trials, ..CrashReport::default() };
    let _ =
        writeln!(log, "crash trials: {} (seed {}; replay with HUIQI_BENCH_SEED={})", plan.trials, plan.seed, plan.seed);
    std::fs::create_dir_all(&plan.dir).map_err(|e| format!("cannot create {}: {e}", plan.dir.display()))?;
    let mut imports: Option<ImportFile> = None;
    let mut fixture: Option<Fixture> = None;
    for t in 0..plan.trials {
        let trial_dir = plan.dir.join(format!("trial-{t}"));
        let _ = std::fs::remove_dir_all(&trial_dir);
        std::fs::create_dir_all(&trial_dir).map_err(err)?;
        let before = report.failures;
        if t % 2 == 0 {
            if imports.is_none() {
                imports = Some(ImportFile::make(&bin, plan, &mut report, log)?);
            }
            if let Some(file) = &imports {
                import_trial(&bin, file, &trial_dir, &mut rng, &mut report, log)?;
            }
        } else {
            if fixture.is_none() {
                fixture = Some(Fixture::prepare(&plan.dir.join("api-template"))?);
            }
            if let Some(f) = &fixture {
                api_trial(&bin, f, plan, &trial_dir, &mut rng, &mut report, log)?;
            }
        }
        // A failed trial keeps its directory for a look; the others make room.
        if report.failures == before {
            let _ = std::fs::remove_dir_all(&trial_dir);
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    let _ = writeln!(
        log,
        "crash trials done in {:.1} s: {} kills ({} import, {} serve), {} acknowledged writes checked, {} failures",
        report.seconds,
        report.kills.import + report.kills.serve,
        report.kills.import,
        report.kills.serve,
        report.acknowledged_writes_checked,
        report.failures
    );
    Ok(report)
}
