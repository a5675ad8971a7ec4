//! Importing entity files. A file is read twice, streaming: first every row is checked (nothing
//! written), then — only if the file is clean, or the caller chose to skip bad rows — the good
//! rows are written in batches (`write.rs`). Each batch is one transaction with its audit
//! entry; a batch is an idempotent upsert, so re-running an interrupted import is safe.

mod write;

use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read, Seek};
use std::path::PathBuf;

use super::{Result, Service, ServiceError};
use crate::import::{ColumnMap, Format, ReadError, map_in_two, read_chunks};
use crate::model::audit::action;
use crate::model::imports::{ImportJob, ImportReport, ImportStatus, RowIssue};
use crate::model::{Field, FieldValue, Who};
use crate::store::prelude::*;

pub use write::{BATCH_ROWS, DURABLE_ROWS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Checking,
    Writing,
}

/// Hooks for a caller that wants to watch: progress every 1,000 rows, and every issue found
/// (the job keeps only the first 1,000).
pub trait ImportObserver {
    fn progress(&mut self, _phase: Phase, _rows: u64) {}
    fn issue(&mut self, _issue: &RowIssue) {}
}

/// An observer that watches nothing.
pub struct Quiet;
impl ImportObserver for Quiet {}

#[derive(Debug, thiserror::Error)]
enum Abort {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<crate::store::StoreError> for Abort {
    fn from(e: crate::store::StoreError) -> Self {
        Abort::Service(e.into())
    }
}

/// A file name fit to keep and show: no control or direction characters, at most about 120
/// characters, its extension (which says the format) kept.
fn shown_name(name: &str) -> String {
    let clean = crate::model::text::strip(name, false);
    if clean.chars().count() <= 120 {
        return clean;
    }
    let ext = clean.rsplit_once('.').map(|(_, e)| e).filter(|e| e.len() <= 5).unwrap_or("");
    let head: String = clean.chars().take(100).collect();
    format!("{head}….{ext}")
}

/// A credit code packed into 16 bytes, one to one: its 18 characters are digits and capital
/// letters, and 43 to the 18th power (`0`…`Z`) is less than 2 to the 128th.
/// A row parsed: its patch, or what is wrong with it.
type Parsed = std::result::Result<crate::model::EntityPatch, Vec<RowIssue>>;

fn packed(code: &crate::model::CreditCode) -> (u64, u64) {
    let v = code.as_str().bytes().fold(0u128, |v, b| v.wrapping_mul(43).wrapping_add(u128::from(b.wrapping_sub(b'0'))));
    ((v >> 64) as u64, v as u64)
}

fn file_issue(reason: String) -> RowIssue {
    RowIssue { row: 0, column: "(文件)".into(), value: String::new(), reason }
}

/// What the check pass found.
struct Checked {
    report: ImportReport,
    bad_rows: HashSet<u64>,
    header_ok: bool,
}

impl Service {
    /// Pass 1: checks every row against the catalogue and the store, writes nothing.
    fn import_check<R: Read + Seek + Send>(
        &self,
        source: R,
        format: Format,
        observer: &mut dyn ImportObserver,
    ) -> Result<Checked> {
        let tags = self.tag_dictionary()?;
        let today = self.today();
        let tx = self.store.read()?;
        let mut report = ImportReport::default();
        let mut bad_rows = HashSet::new();
        // Set by the header row; shared with the chunks' parsing below.
        let map: std::cell::OnceCell<ColumnMap> = std::cell::OnceCell::new();
        let mut header_ok = true;
        // Keyed by the code packed into 16 bytes: three million rows stay near 100 MB.
        let mut first_row_of: HashMap<(u64, u64), u64> = HashMap::new();
        let note = |report: &mut ImportReport, issue: RowIssue, observer: &mut dyn ImportObserver| {
            observer.issue(&issue);
            report.push_issue(issue);
        };
        let mut on_row = |row: u64, cells: &[String], parsed: Option<Parsed>| -> std::result::Result<(), Abort> {
            let Some(columns) = map.get() else {
                match ColumnMap::from_headers(cells.to_vec()) {
                    Ok(m) => {
                        report.columns = m.fields().iter().map(|f| f.name().to_string()).collect();
                        for h in &m.ignored {
                            report.push_ignored(h);
                        }
                        let _ = map.set(m.checking_width(format));
                    }
                    Err(issues) => {
                        header_ok = false;
                        for i in issues {
                            note(&mut report, i, observer);
                        }
                        return Err(ReadError::Empty.into());
                    }
                }
                return Ok(());
            };
            report.rows += 1;
            if report.rows % 1000 == 0 {
                observer.progress(Phase::Checking, report.rows);
            }
            let mut issues = match parsed.unwrap_or_else(|| columns.parse_row(row, cells, today, &tags)) {
                Ok(patch) => {
                    let mut issues = Vec::new();
                    if let Some(code) = patch.credit_code() {
                        let code_col = || {
                            columns
                                .headers
                                .iter()
                                .find(|h| crate::import::match_header(h).is_some_and(|(f, _)| f == Field::CreditCode))
                                .cloned()
                                .unwrap_or_default()
                        };
                        if let Some(first) = first_row_of.get(&packed(code)) {
                            issues.push(RowIssue {
                                row,
                                column: code_col(),
                                value: code.to_string(),
                                reason: format!(
                                    "与第 {first} 行的统一社会信用代码重复，同一主体在一个文件中只能出现一次"
                                ),
                            });
                        } else {
                            first_row_of.insert(packed(code), row);
                            let named = matches!(patch.get(Field::Name), Some(Some(FieldValue::Text(_))));
                            if !named && tx.entity_id_by_code(code.as_str())?.is_none() {
                                issues.push(RowIssue {
                                    row,
                                    column: "名称".into(),
                                    value: String::new(),
                                    reason: format!("{code} 是新的经营主体，必须填写名称"),
                                });
                            }
                        }
                    }
                    issues
                }
                Err(issues) => issues,
            };
            if issues.is_empty() {
                report.valid += 1;
            } else {
                report.invalid += 1;
                bad_rows.insert(row);
                for i in issues.drain(..) {
                    note(&mut report, i, observer);
                }
            }
            Ok(())
        };
        // The file is decoded on a second thread while this one checks the rows, each chunk's
        // rows parsed on two threads first.
        let outcome = read_chunks(source, format, |chunk| {
            let rows: Vec<(u64, &[String])> = chunk.iter().collect();
            let mut rest = rows.as_slice();
            if map.get().is_none()
                && let Some(((row, cells), tail)) = rows.split_first()
            {
                on_row(*row, cells, None)?;
                rest = tail;
            }
            let Some(columns) = map.get() else { return Ok(()) };
            let parsed = map_in_two(rest, |row, cells| columns.parse_row(row, cells, today, &tags));
            rest.iter().zip(parsed).try_for_each(|((row, cells), p)| on_row(*row, cells, Some(p)))
        });
        match outcome {
            Ok(_) if map.get().is_none() => {
                header_ok = false;
                note(&mut report, file_issue(ReadError::Empty.to_string()), observer);
            }
            Ok(notices) => report.notices = notices,
            Err(Abort::Read(_)) if !header_ok => {}
            Err(Abort::Read(e)) => {
                header_ok = false;
                note(&mut report, file_issue(e.to_string()), observer);
            }
            Err(Abort::Service(e)) => return Err(e),
        }
        observer.progress(Phase::Checking, report.rows);
        Ok(Checked { report, bad_rows, header_ok })
    }

    fn new_job(&self, file_name: &str, who: &Who, skip_invalid: bool) -> Result<ImportJob> {
        let tx = self.store.write()?;
        let job = ImportJob {
            id: tx.next_id("import")?,
            file_name: shown_name(file_name),
            status: ImportStatus::Staged,
            skip_invalid,
            created_at: tx.now(),
            created_by: who.name.clone(),
            finished_at: None,
            confirmed_by: None,
            report: ImportReport::default(),
        };
        tx.put_import_job(&job)?;
        tx.commit()?;
        Ok(job)
    }

    fn finish_job(&self, job: &mut ImportJob, status: ImportStatus, who: &Who) -> Result<()> {
        job.status = status;
        let tx = self.store.write()?;
        job.finished_at = Some(tx.now());
        tx.put_import_job(job)?;
        tx.delete_import_file(job.id)?;
        let r = &job.report;
        tx.audit(
            who,
            match status {
                ImportStatus::Applied => action::IMPORT_APPLY,
                ImportStatus::Refused => action::IMPORT_REFUSE,
                ImportStatus::Discarded => action::IMPORT_DISCARD,
                ImportStatus::Staged => action::IMPORT_STAGE,
                ImportStatus::Failed => action::IMPORT_FAIL,
            },
            &format!("import:{}", job.id),
            &format!(
                "{}: {} rows, {} invalid, {} new, {} updated",
                job.file_name, r.rows, r.invalid, r.inserted, r.updated
            ),
        )?;
        tx.commit()?;
        let _ = std::fs::remove_file(self.staged_path(job.id));
        Ok(())
    }

    /// Closes a job after its write pass: applied, or failed part-way (the error is returned
    /// after the job records what happened).
    fn finish_written(&self, mut job: ImportJob, written: Result<()>, who: &Who) -> Result<ImportJob> {
        match written {
            Ok(()) => {
                self.finish_job(&mut job, ImportStatus::Applied, who)?;
                Ok(job)
            }
            Err(e) => {
                tracing::error!(import = job.id, "import stopped part-way: {e}");
                if let Err(e2) = self.finish_job(&mut job, ImportStatus::Failed, who) {
                    tracing::error!(import = job.id, "could not record the failed import: {e2}");
                }
                Err(e)
            }
        }
    }

    /// Checks and (unless refused or `dry_run`) writes a file read through `open`, which is
    /// called once per pass. Returns the finished job.
    pub fn import_run<R, F>(
        &self,
        who: &Who,
        file_name: &str,
        open: F,
        skip_invalid: bool,
        dry_run: bool,
        observer: &mut dyn ImportObserver,
    ) -> Result<ImportJob>
    where
        R: Read + Seek + Send,
        F: Fn() -> std::io::Result<R>,
    {
        let format = Format::of(file_name)
            .ok_or_else(|| ServiceError::invalid("file", ReadError::UnknownFormat(file_name.into()).to_string()))?;
        let io = |e: std::io::Error| ServiceError::invalid("file", format!("无法打开文件「{file_name}」：{e}"));
        let mut job = self.new_job(file_name, who, skip_invalid)?;
        let checked = self.import_check(open().map_err(io)?, format, observer)?;
        job.report = checked.report;
        let refuse = !checked.header_ok || (job.report.invalid > 0 && !skip_invalid);
        if refuse || dry_run {
            self.finish_job(&mut job, if refuse { ImportStatus::Refused } else { ImportStatus::Discarded }, who)?;
            return Ok(job);
        }
        let written = self.import_write(open().map_err(io)?, format, &mut job, &checked.bad_rows, observer, who);
        self.finish_written(job, written, who)
    }

    /// Where uploads wait beside the store: files being received (`upload-*.part`) and staged
    /// web imports (`staged-<id>`), never inside the store itself.
    pub fn imports_dir(&self) -> PathBuf {
        self.store.path().parent().map_or_else(|| PathBuf::from("imports"), |d| d.join("imports"))
    }

    fn staged_path(&self, id: u64) -> PathBuf {
        self.imports_dir().join(format!("staged-{id}"))
    }

    /// A fresh file name for an upload about to be received (the directory is made if needed).
    pub fn upload_path(&self) -> Result<PathBuf> {
        let dir = self.imports_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| ServiceError::Internal(format!("cannot use {}: {e}", dir.display())))?;
        let name = crate::auth::random_hex(12).map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(dir.join(format!("upload-{name}.part")))
    }

    /// Removes what an interrupted upload or a finished import left in the uploads directory.
    /// Run at start, before any upload can be in progress.
    pub fn imports_tidy(&self) -> Result<usize> {
        let Ok(entries) = std::fs::read_dir(self.imports_dir()) else { return Ok(0) };
        let tx = self.store.read()?;
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = if name.starts_with("upload-") {
                true
            } else if let Some(id) = name.strip_prefix("staged-").and_then(|n| n.parse::<u64>().ok()) {
                !tx.import_job(id)?.is_some_and(|j| j.status == ImportStatus::Staged)
            } else {
                false
            };
            if stale && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Web step 1 for bytes in hand (tests, small files): see [`Service::import_stage_upload`].
    pub fn import_stage(&self, who: &Who, file_name: &str, bytes: Vec<u8>) -> Result<ImportJob> {
        let path = self.upload_path()?;
        std::fs::write(&path, &bytes).map_err(|e| ServiceError::Internal(format!("cannot keep the upload: {e}")))?;
        self.import_stage_upload(who, file_name, &path)
    }

    /// Web step 1: checks an uploaded file (received into `upload`, from
    /// [`Service::upload_path`]) and keeps it beside the store until it is confirmed or
    /// discarded. A file refused as a whole is not kept: only its (bounded) report is.
    pub fn import_stage_upload(&self, who: &Who, file_name: &str, upload: &std::path::Path) -> Result<ImportJob> {
        let result = self.stage_checked(who, file_name, upload);
        // Whatever happened, the upload itself is not kept under its receiving name.
        let _ = std::fs::remove_file(upload);
        result
    }

    fn stage_checked(&self, who: &Who, file_name: &str, upload: &std::path::Path) -> Result<ImportJob> {
        let format = Format::of(file_name)
            .ok_or_else(|| ServiceError::invalid("file", ReadError::UnknownFormat(file_name.into()).to_string()))?;
        let io = |e: std::io::Error| ServiceError::Internal(format!("cannot read the upload: {e}"));
        let mut job = self.new_job(file_name, who, false)?;
        let checked = self.import_check(std::fs::File::open(upload).map_err(io)?, format, &mut Quiet)?;
        job.report = checked.report;
        if !checked.header_ok {
            self.finish_job(&mut job, ImportStatus::Refused, who)?;
            return Ok(job);
        }
        // The file first, then the record that names it (an orphan file is tidied at start).
        let staged = self.staged_path(job.id);
        std::fs::File::open(upload).and_then(|f| f.sync_all()).map_err(io)?;
        std::fs::rename(upload, &staged).map_err(io)?;
        let tx = self.store.write()?;
        tx.put_import_job(&job)?;
        tx.audit(who, action::IMPORT_STAGE, &format!("import:{}", job.id), file_name)?;
        tx.commit()?;
        Ok(job)
    }

    /// Web step 2: writes a staged file. With bad rows it needs `skip_invalid`.
    pub fn import_confirm(&self, who: &Who, id: u64, skip_invalid: bool) -> Result<ImportJob> {
        let (job, legacy) = {
            let tx = self.store.read()?;
            let job = tx.import_job(id)?.ok_or_else(|| ServiceError::NotFound(format!("导入 #{id} 不存在")))?;
            (job, tx.import_file(id)?)
        };
        if job.status != ImportStatus::Staged {
            return Err(ServiceError::Conflict(format!("导入 #{id} 的状态是「{}」，不能再确认", job.status.label())));
        }
        if job.report.invalid > 0 && !skip_invalid {
            return Err(ServiceError::Conflict(format!(
                "导入 #{id} 有 {} 行有误。请修正文件后重新上传，或选择「跳过有误的行」只导入正确的 {} 行",
                job.report.invalid, job.report.valid
            )));
        }
        // Staged files live beside the store; before schema version 7 they were inside it.
        let staged = self.staged_path(id);
        if staged.exists() {
            self.confirm_from(who, job, skip_invalid, || std::fs::File::open(&staged))
        } else if let Some(bytes) = legacy {
            self.confirm_from(who, job, skip_invalid, || Ok(Cursor::new(bytes.as_slice())))
        } else {
            Err(ServiceError::Conflict(format!("导入 #{id} 暂存的文件已不存在（例如从备份恢复之后），请重新上传")))
        }
    }

    /// Re-checks a staged file against the store as it is now, then writes it.
    fn confirm_from<R, F>(&self, who: &Who, mut job: ImportJob, skip_invalid: bool, open: F) -> Result<ImportJob>
    where
        R: Read + Seek + Send,
        F: Fn() -> std::io::Result<R>,
    {
        let io = |e: std::io::Error| ServiceError::Internal(format!("cannot read the staged file: {e}"));
        let format = Format::of(&job.file_name).unwrap_or(Format::Csv);
        let checked = self.import_check(open().map_err(io)?, format, &mut Quiet)?;
        if checked.report.invalid > job.report.invalid && !skip_invalid {
            job.report = checked.report;
            let tx = self.store.write()?;
            tx.put_import_job(&job)?;
            tx.commit()?;
            return Err(ServiceError::Conflict(format!(
                "导入 #{} 在确认前数据已变化，出现了新的有误行，请查看报告",
                job.id
            )));
        }
        job.report = checked.report;
        job.skip_invalid = skip_invalid;
        job.confirmed_by = Some(who.name.clone());
        let written = self.import_write(open().map_err(io)?, format, &mut job, &checked.bad_rows, &mut Quiet, who);
        self.finish_written(job, written, who)
    }

    pub fn import_discard(&self, who: &Who, id: u64) -> Result<ImportJob> {
        let mut job =
            self.store.read()?.import_job(id)?.ok_or_else(|| ServiceError::NotFound(format!("导入 #{id} 不存在")))?;
        if job.status != ImportStatus::Staged {
            return Err(ServiceError::Conflict(format!("导入 #{id} 的状态是「{}」，不能放弃", job.status.label())));
        }
        self.finish_job(&mut job, ImportStatus::Discarded, who)?;
        Ok(job)
    }

    pub fn import_get(&self, id: u64) -> Result<ImportJob> {
        self.store.read()?.import_job(id)?.ok_or_else(|| ServiceError::NotFound(format!("导入 #{id} 不存在")))
    }

    pub fn import_list(&self, limit: usize) -> Result<Vec<ImportJob>> {
        Ok(self.store.read()?.import_jobs(limit)?)
    }
}
