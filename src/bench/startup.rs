//! Start-up figures of `huiqi bench`: building the match state from the portrait snapshot and
//! from every entity record, with the page cache warm and — when the bench may drop it (root on
//! Linux) — cold, as after a reboot.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::{Error, err, ms, open};
use crate::model::Date;
use crate::service::matching::StartupTimes;

#[derive(Debug, Clone, Default, Serialize)]
pub struct StartupReport {
    /// The snapshot file, and writing it from the portrait in memory.
    pub snapshot_bytes: u64,
    pub snapshot_write_ms: f64,
    /// Opening the store and building the match state from the snapshot.
    pub snapshot_warm_ms: f64,
    pub snapshot_cold_ms: Option<f64>,
    /// The same without a snapshot: every entity record decoded.
    pub full_warm_ms: f64,
    pub full_cold_ms: Option<f64>,
    /// Where the cold start from the snapshot went (the warm one when the cache stays).
    pub breakdown: StartupTimes,
}

/// Empties the page cache (needs root); false when it cannot.
fn drop_caches() -> bool {
    let synced = std::process::Command::new("sync").status().is_ok_and(|s| s.success());
    synced && std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

/// Opens the store and builds the match state: milliseconds and where they went.
fn start(dir: &Path, today: Option<Date>, cold: bool) -> Result<Option<(f64, StartupTimes)>, Error> {
    if cold && !drop_caches() {
        return Ok(None);
    }
    let t = Instant::now();
    let svc = open(dir, today)?;
    svc.matching_init().map_err(err)?;
    let took = ms(t);
    let times = svc.matching_stats().map(|s| s.startup).unwrap_or_default();
    Ok(Some((took, times)))
}

/// Writes the snapshot, then times start-ups with and without it.
pub fn figures(dir: &Path, today: Option<Date>, log: &mut dyn std::io::Write) -> Result<StartupReport, Error> {
    let mut report = StartupReport::default();
    {
        let svc = open(dir, today)?;
        svc.matching_init().map_err(err)?;
        let t = Instant::now();
        let written = svc.portrait_snapshot_write().map_err(err)?.ok_or("no match state to snapshot")?;
        report.snapshot_write_ms = ms(t);
        report.snapshot_bytes = written.bytes;
    }
    let (warm, times) = start(dir, today, false)?.ok_or("no start-up")?;
    report.snapshot_warm_ms = warm;
    report.breakdown = times;
    if let Some((cold, times)) = start(dir, today, true)? {
        report.snapshot_cold_ms = Some(cold);
        report.breakdown = times;
    }
    let snap = open(dir, today)?.portrait_snapshot_path();
    let aside = snap.with_extension("snap.bench-aside");
    std::fs::rename(&snap, &aside).map_err(err)?;
    let full = (|| {
        let warm = start(dir, today, false)?.ok_or("no start-up")?.0;
        let cold = start(dir, today, true)?.map(|c| c.0);
        Ok::<_, Error>((warm, cold))
    })();
    std::fs::rename(&aside, &snap).map_err(err)?;
    (report.full_warm_ms, report.full_cold_ms) = full?;
    let cold = |v: Option<f64>| v.map_or_else(|| "n/a (needs root)".to_string(), |v| format!("{v:.0} ms"));
    let _ = writeln!(
        log,
        "startup from the snapshot ({} MiB, written in {:.0} ms): warm {:.0} ms, cold {}; from every record: warm {:.0} ms, cold {}",
        report.snapshot_bytes >> 20,
        report.snapshot_write_ms,
        report.snapshot_warm_ms,
        cold(report.snapshot_cold_ms),
        report.full_warm_ms,
        cold(report.full_cold_ms)
    );
    let b = &report.breakdown;
    let _ = writeln!(
        log,
        "  snapshot read {:.0} ms, {} changed entities {:.0} ms, measures {:.0} ms, engine {:.0} ms",
        b.snapshot_read_ms, b.replayed, b.replay_ms, b.measures_ms, b.engine_ms
    );
    Ok(report)
}
