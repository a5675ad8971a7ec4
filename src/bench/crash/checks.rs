//! What is checked after a kill: the store opens and its audit chain verifies, an export read
//! back, and a record's level read back through the API.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use serde_json::Value;

use super::CrashReport;
use crate::bench::child::Binary;
use crate::bench::client::{Client, snippet};
use crate::bench::{Error, err};

pub(super) fn fail(report: &mut CrashReport, log: &mut dyn Write, what: String) {
    let _ = writeln!(log, "  FAILURE: {what}");
    report.failures += 1;
    if report.failure_details.len() < 50 {
        report.failure_details.push(what);
    }
}

/// `huiqi check` and `huiqi audit verify` on a store after a kill; returns the entity count.
pub(super) fn store_checks(
    bin: &Binary,
    data: &Path,
    t: &str,
    report: &mut CrashReport,
    log: &mut dyn Write,
) -> Option<u64> {
    let mut count = None;
    match bin.run(data, &["check"]) {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            count = text
                .split("entities: ")
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok());
            if count.is_none() {
                fail(report, log, format!("{t}: no entity count from huiqi check: {text}"));
            }
        }
        Ok(out) => fail(
            report,
            log,
            format!(
                "{t}: huiqi check failed ({}): {} {}",
                out.status,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ),
        Err(e) => fail(report, log, format!("{t}: {e}")),
    }
    if let Err(e) = bin.run_ok(data, &["audit", "verify"]) {
        fail(report, log, format!("{t}: {e}"));
    }
    count
}

/// Credit code → head count, from an entity export.
pub(super) fn read_export(path: &Path) -> Result<HashMap<String, String>, Error> {
    let mut reader = csv::Reader::from_path(path).map_err(err)?;
    let headers = reader.headers().map_err(err)?.clone();
    let column = |label: &str| {
        headers.iter().position(|h| h.contains(label)).ok_or_else(|| format!("no {label} column in the export"))
    };
    let (code, employees) = (column("统一社会信用代码")?, column("从业人数")?);
    let mut out = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(err)?;
        out.insert(
            record.get(code).unwrap_or_default().to_string(),
            record.get(employees).unwrap_or_default().to_string(),
        );
    }
    Ok(out)
}

/// The level of a record read back through the API; a 404 is level 0.
pub(super) fn level_of(client: &Client, path: &str, level: impl Fn(&Value) -> Option<u64>) -> Result<u64, Error> {
    let r = client.get(path)?;
    match r.status {
        404 => Ok(0),
        200 => {
            let v = r.json()?;
            level(&v).ok_or_else(|| format!("GET {path}: unexpected {}", snippet(&r.text())))
        }
        s => Err(format!("GET {path} answered {s}: {}", snippet(&r.text()))),
    }
}

pub(super) fn case_level(v: &Value) -> Option<u64> {
    let files = v["files"].as_array().map_or(0, Vec::len) as u64;
    match v["state"].as_str()? {
        "draft" => Some(1 + files.min(1)),
        "in_review" => Some(3 + v["stage"].as_u64()?),
        // Approved, and payable at once when the measure has no disclosure.
        "approved" | "payable" => Some(5),
        _ => None,
    }
}
