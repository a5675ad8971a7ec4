//! `huiqi import entities`: a file into the entity library, with progress and a report.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use super::Result;
use crate::model::Who;
use crate::model::imports::{ImportStatus, RowIssue};
use crate::service::Service;
use crate::service::imports::{ImportObserver, Phase};

/// Progress on a terminal, and every issue into the report file.
struct CliObserver {
    tty: bool,
    report: Option<csv::Writer<std::fs::File>>,
    shown: usize,
    /// Rows the check pass read (what the write pass counts towards), and when each pass began.
    checked: u64,
    started: Option<(Phase, Instant)>,
    last_shown: Option<Instant>,
    /// The latest count, drawn once more when its pass ends (the last update may have been
    /// skipped as too soon after the one before).
    latest: Option<(Phase, u64, Instant)>,
}

impl CliObserver {
    /// The progress line: rows done, of how many, and the pace since the pass began.
    fn line(&self, phase: Phase, rows: u64, secs: f64) -> String {
        let rate = if secs > 0.0 { format!(", {:.0} rows/s", rows as f64 / secs) } else { String::new() };
        match phase {
            Phase::Checking => format!("checking: {rows} rows{rate}"),
            Phase::Writing => format!("writing: {rows} / {} rows{rate}", self.checked),
        }
    }

    /// Draws the latest count in full and ends its line.
    fn end_line(&mut self) {
        if let (Some((phase, rows, at)), Some((_, began))) = (self.latest.take(), self.started) {
            eprintln!("\r{}   ", self.line(phase, rows, at.duration_since(began).as_secs_f64()));
        }
    }
}

impl ImportObserver for CliObserver {
    fn progress(&mut self, phase: Phase, rows: u64) {
        if phase == Phase::Checking {
            self.checked = rows;
        }
        if !self.tty {
            return;
        }
        let now = Instant::now();
        let began = match self.started {
            Some((p, t)) if p == phase => t,
            _ => {
                self.end_line();
                self.started = Some((phase, now));
                now
            }
        };
        self.latest = Some((phase, rows, now));
        // A few lines a second at most: a terminal that scrolls slowly would slow the import.
        if self.last_shown.is_some_and(|t| now.duration_since(t).as_millis() < 200) {
            return;
        }
        self.last_shown = Some(now);
        eprint!("\r{}   ", self.line(phase, rows, now.duration_since(began).as_secs_f64()));
        let _ = std::io::stderr().flush();
    }

    fn issue(&mut self, i: &RowIssue) {
        if let Some(w) = &mut self.report {
            let cells = [&i.column, &i.value, &i.reason].map(|c| crate::model::text::spreadsheet_safe(c).into_owned());
            let _ = w.write_record([i.row.to_string().as_str(), &cells[0], &cells[1], &cells[2]]);
        }
        if self.shown < 20 {
            if self.tty {
                eprintln!();
            }
            eprintln!("  row {}, column {}: 「{}」 {}", i.row, i.column, i.value, i.reason);
            self.shown += 1;
        }
    }
}

/// Loads the reference data, then imports `file` as `who`, refusing it whole if a row is bad
/// unless `skip_invalid`.
pub fn import_entities(
    svc: &Service,
    file: &Path,
    skip_invalid: bool,
    report: Option<PathBuf>,
    dry_run: bool,
    who: &Who,
) -> Result<ExitCode> {
    svc.init_reference(&super::cli_who())?;
    let name = file.display().to_string();
    let report_path = report.or_else(|| skip_invalid.then(|| PathBuf::from(format!("{name}.report.csv"))));
    let writer = match &report_path {
        Some(p) => {
            let mut w =
                csv::Writer::from_path(p).map_err(|e| format!("cannot write the report {}: {e}", p.display()))?;
            w.write_record(["行号", "列", "值", "原因"])?;
            Some(w)
        }
        None => None,
    };
    let mut observer = CliObserver {
        tty: std::io::stderr().is_terminal(),
        report: writer,
        shown: 0,
        checked: 0,
        started: None,
        last_shown: None,
        latest: None,
    };
    let file_name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| name.clone());
    let path = file.to_path_buf();
    // No server runs: keep the portrait snapshot in step, so that the next start reads it
    // instead of decoding every entity (that start matches the measures again).
    let keep_snapshot = !dry_run && svc.portrait_keep_offline()?;
    let job = svc.import_run(who, &file_name, || std::fs::File::open(&path), skip_invalid, dry_run, &mut observer)?;
    observer.end_line();
    if keep_snapshot && (job.report.inserted > 0 || job.report.updated > 0) {
        svc.portrait_snapshot_write()?;
    }
    if let Some(mut w) = observer.report.take() {
        let _ = w.flush();
    }
    let r = &job.report;
    if r.invalid > observer.shown as u64 {
        eprintln!("  … {} more problems", r.issues.len() as u64 + r.issues_truncated - observer.shown as u64);
    }
    if !r.ignored_columns.is_empty() {
        eprintln!("ignored columns: {}", r.ignored_columns.join(", "));
    }
    let report_note = report_path.map(|p| format!("; report: {}", p.display())).unwrap_or_default();
    match job.status {
        ImportStatus::Refused => {
            eprintln!(
                "refused {name}: {} of {} rows have problems; nothing was written (fix them, or use --skip-invalid){report_note}",
                r.invalid, r.rows
            );
            Ok(ExitCode::from(2))
        }
        ImportStatus::Discarded => {
            println!(
                "checked {name}: {} rows, {} valid, {} with problems; nothing written (--dry-run){report_note}",
                r.rows, r.valid, r.invalid
            );
            Ok(if r.invalid > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
        }
        _ => {
            println!(
                "imported {name}: {} rows — {} new, {} updated, {} unchanged, {} skipped{report_note}",
                r.rows, r.inserted, r.updated, r.unchanged, r.invalid
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
