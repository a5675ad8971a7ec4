//! The import trials: a generated entity file, a CLI import of it killed at a random moment,
//! and the check that exactly a prefix of whole transactions is left.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::checks::{fail, read_export, store_checks};
use super::{CrashPlan, CrashReport};
use crate::bench::child::Binary;
use crate::bench::{Error, err};
use crate::model::CreditCode;
use crate::seed::generator::Rng;
use crate::service::imports::DURABLE_ROWS;

/// The generated import file, its rows' codes and head counts, and how long a whole import takes.
pub(super) struct ImportFile {
    path: PathBuf,
    rows: Vec<(String, u64)>,
    full: Duration,
}

impl ImportFile {
    /// Writes the file and imports it once, uninterrupted, to time it.
    pub(super) fn make(
        bin: &Binary,
        plan: &CrashPlan,
        report: &mut CrashReport,
        log: &mut dyn Write,
    ) -> Result<Self, Error> {
        const REGIONS: [&str; 6] = ["230102", "230103", "230104", "230108", "230109", "230125"];
        const INDUSTRIES: [&str; 5] = ["C3911", "I6513", "C1311", "A0111", "M7320"];
        let path = plan.dir.join("entities.csv");
        let mut w = csv::Writer::from_path(&path).map_err(err)?;
        w.write_record(["统一社会信用代码", "名称", "所在地", "行业", "从业人数", "营业收入(万元)", "成立日期"])
            .map_err(err)?;
        let mut rows = Vec::new();
        for i in 0..plan.import_rows {
            let code = CreditCode::with_check(&format!("91230100MD{i:07}")).ok_or("no credit code")?.to_string();
            let employees = 1 + (i * 7919) % 900;
            let revenue = format!("{}.{}", 50 + (i * 104_729) % 20_000, i % 10);
            let founded = format!("{}-{:02}-{:02}", 1995 + i % 30, 1 + i % 12, 1 + i % 28);
            let r = i as usize;
            w.write_record([
                code.as_str(),
                &format!("导入试验企业{i}有限公司"),
                REGIONS[r % REGIONS.len()],
                INDUSTRIES[r % INDUSTRIES.len()],
                &employees.to_string(),
                &revenue,
                &founded,
            ])
            .map_err(err)?;
            rows.push((code, employees));
        }
        w.flush().map_err(err)?;
        let data = plan.dir.join("import-calibration");
        let _ = std::fs::remove_dir_all(&data);
        let t = Instant::now();
        let path_s = path.to_string_lossy().into_owned();
        bin.run_ok(&data, &["import", "entities", &path_s])?;
        let full = t.elapsed();
        let _ = std::fs::remove_dir_all(&data);
        report.import_rows = plan.import_rows;
        report.import_full_ms = full.as_millis();
        let _ = writeln!(log, "import of {} rows uninterrupted: {} ms", plan.import_rows, full.as_millis());
        Ok(ImportFile { path, rows, full })
    }
}

pub(super) fn import_trial(
    bin: &Binary,
    file: &ImportFile,
    trial_dir: &Path,
    rng: &mut Rng,
    report: &mut CrashReport,
    log: &mut dyn Write,
) -> Result<(), Error> {
    let t = trial_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let data = trial_dir.join("data");
    let stderr = std::fs::File::create(trial_dir.join("import.log")).map_err(err)?;
    let delay = file.full.mul_f64(rng.range_f64(0.05, 0.95));
    let mut child = bin
        .command(&data)
        .args(["import", "entities"])
        .arg(&file.path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::from(stderr))
        .spawn()
        .map_err(|e| format!("cannot start huiqi import: {e}"))?;
    let started = Instant::now();
    let finished = loop {
        if let Some(status) = child.try_wait().map_err(err)? {
            break Some(status);
        }
        if started.elapsed() >= delay {
            child.kill().map_err(|e| format!("cannot kill huiqi import: {e}"))?;
            child.wait().map_err(err)?;
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    match finished {
        Some(status) if !status.success() => {
            fail(report, log, format!("{t}: the import failed on its own ({status})"));
        }
        Some(_) => report.imports_finished_before_kill += 1,
        None => report.kills.import += 1,
    }
    let Some(count) = store_checks(bin, &data, &t, report, log) else { return Ok(()) };
    // Batches commit durably every DURABLE_ROWS rows and at the end: a kill loses those since.
    let whole = count % DURABLE_ROWS as u64 == 0 || count == file.rows.len() as u64;
    if !whole || count > file.rows.len() as u64 {
        fail(report, log, format!("{t}: {count} entities after the kill: not whole durable runs of {DURABLE_ROWS}"));
    }
    // The entities present must be exactly the first `count` rows, as written.
    let export = trial_dir.join("export.csv");
    let export_s = export.to_string_lossy().into_owned();
    if let Err(e) = bin.run_ok(&data, &["export", "entities", "--out", &export_s]) {
        fail(report, log, format!("{t}: {e}"));
        return Ok(());
    }
    let found = read_export(&export)?;
    let expected = &file.rows[..(count as usize).min(file.rows.len())];
    let mut wrong = 0usize;
    for (code, employees) in expected {
        if found.get(code).map(String::as_str) != Some(employees.to_string().as_str()) {
            wrong += 1;
        }
    }
    if wrong > 0 || found.len() != expected.len() {
        fail(
            report,
            log,
            format!(
                "{t}: {} entities exported, {} expected (rows 1–{count}); {wrong} of those missing or different",
                found.len(),
                expected.len()
            ),
        );
    }
    report.import_rows_found.push(count);
    let _ = writeln!(
        log,
        "{t}: import {} after {} ms: {count} of {} rows present, store and audit trail intact",
        if finished.is_some() { "finished" } else { "killed" },
        delay.as_millis(),
        file.rows.len()
    );
    Ok(())
}
