//! The write pass of an import: the rows that passed the check, read again and written. Three
//! threads share the work so that two cores overlap it: one decodes the file (`read_chunks`),
//! one parses its rows into patches, and the calling thread writes them, a batch of
//! [`BATCH_ROWS`] per transaction, each with its audit entry.
//!
//! Durability: a batch commits without waiting for the disk (`WriteTx::not_durable`: visible at
//! once, on disk with the next durable commit), except every [`DURABLE_ROWS`] rows and the last
//! batch, which commit durably. A crash loses at most the batches since the last durable commit,
//! whole, never part of one, and never anything else (every other write of the service commits
//! durably, and with it every batch before it). What was lost is written again by running the
//! import again: a batch is an upsert by credit code, so rows already written are found
//! unchanged and written nothing.

use std::collections::HashSet;
use std::io::{Read, Seek};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::{ImportObserver, Phase};
use crate::import::{ColumnMap, Format, ReadError, read_chunks};
use crate::model::audit::action;
use crate::model::imports::{ImportJob, RowIssue};
use crate::model::{Actor, Date, EntityPatch, TagDictionary, Who};
use crate::service::entities::{WriteOutcome, upsert_with};
use crate::service::{Result, Service, ServiceError};

/// Rows written per transaction. Large enough that a commit's fixed cost (the audit entry, the
/// table roots, the commit itself) is spread thin; small enough that the store's write lock is
/// held for a fraction of a second, so that other users of a serving instance wait little.
pub const BATCH_ROWS: usize = 10_000;
/// A durable commit at least every this many rows: what a crash can cost to redo, and how far
/// pages freed by the batches wait to be reused.
pub const DURABLE_ROWS: usize = 250_000;
/// Parsed rows handed to the writer at a time, and how many such parcels may wait for it.
const PARCEL_ROWS: usize = 1000;
const PARCELS_WAITING: usize = 4;

enum Parcel {
    Rows(Vec<(u64, EntityPatch)>),
    /// Every row was read and parsed.
    End,
}

/// Why the parsing thread stopped.
enum Stop {
    Read(ReadError),
    /// The writer stopped (its error says why).
    WriterGone,
}

impl From<ReadError> for Stop {
    fn from(e: ReadError) -> Self {
        Stop::Read(e)
    }
}

/// The parsing thread: the checked rows of the file, as patches, in file order.
fn parse_rows<R: Read + Seek + Send>(
    source: R,
    format: Format,
    bad_rows: &HashSet<u64>,
    tags: &TagDictionary,
    today: Date,
    out: SyncSender<Parcel>,
) -> std::result::Result<(), Stop> {
    let mut map: Option<ColumnMap> = None;
    let mut parcel = Vec::with_capacity(PARCEL_ROWS);
    read_chunks(source, format, |chunk| {
        for (row, cells) in chunk.iter() {
            let Some(columns) = &map else {
                map = Some(ColumnMap::from_headers(cells.to_vec()).map_err(|_| ReadError::Empty)?.checking_width(format));
                continue;
            };
            if bad_rows.contains(&row) {
                continue;
            }
            // Rows are checked already; one that fails now would have failed then.
            if let Ok(patch) = columns.parse_row(row, cells, today, tags) {
                parcel.push((row, patch));
            }
            if parcel.len() >= PARCEL_ROWS {
                let full = std::mem::replace(&mut parcel, Vec::with_capacity(PARCEL_ROWS));
                out.send(Parcel::Rows(full)).map_err(|_| Stop::WriterGone)?;
            }
        }
        Ok::<_, Stop>(())
    })?;
    if !parcel.is_empty() {
        out.send(Parcel::Rows(parcel)).map_err(|_| Stop::WriterGone)?;
    }
    out.send(Parcel::End).map_err(|_| Stop::WriterGone)
}

impl Service {
    /// Pass 2: writes the rows that passed the check, in batches.
    pub(super) fn import_write<R: Read + Seek + Send>(
        &self,
        source: R,
        format: Format,
        job: &mut ImportJob,
        bad_rows: &HashSet<u64>,
        observer: &mut dyn ImportObserver,
        who: &Who,
    ) -> Result<()> {
        let tags = self.tag_dictionary()?;
        let today = self.today();
        let (written, parsed) = std::thread::scope(|s| {
            let (out, parcels) = sync_channel(PARCELS_WAITING);
            let parsing = s.spawn(|| parse_rows(source, format, bad_rows, &tags, today, out));
            let written = self.write_parcels(parcels, job, observer, who, today);
            let parsed = parsing.join().unwrap_or_else(|_| Err(Stop::Read(ReadError::Io("parser stopped".into()))));
            (written, parsed)
        });
        written?;
        match parsed {
            Ok(()) | Err(Stop::WriterGone) => {}
            Err(Stop::Read(e)) => return Err(ServiceError::Internal(format!("文件在导入过程中无法再次读取：{e}"))),
        }
        let report = &job.report;
        if self.matching_loaded() && (report.inserted > 0 || report.updated > 0) {
            self.rematch_all("import")?;
        }
        Ok(())
    }

    /// The writing side: batches of parcels as they come. Without the parser's end mark (it
    /// stopped on a problem, returned by the caller) the rows still in hand are not written.
    fn write_parcels(
        &self,
        parcels: Receiver<Parcel>,
        job: &mut ImportJob,
        observer: &mut dyn ImportObserver,
        who: &Who,
        today: Date,
    ) -> Result<()> {
        let actor = Actor::Import { id: job.id, file: job.file_name.clone(), username: job.created_by.clone() };
        let mut batch: Vec<(u64, EntityPatch)> = Vec::with_capacity(BATCH_ROWS);
        let (mut done, mut since_durable) = (0u64, 0usize);
        for parcel in parcels.iter() {
            match parcel {
                Parcel::Rows(rows) => {
                    done += rows.len() as u64;
                    batch.extend(rows);
                    if batch.len() >= BATCH_ROWS {
                        since_durable += batch.len();
                        let durable = since_durable >= DURABLE_ROWS;
                        if durable {
                            since_durable = 0;
                        }
                        self.write_batch(&mut batch, job, &actor, who, today, durable)?;
                        observer.progress(Phase::Writing, done);
                    }
                }
                Parcel::End => {
                    self.write_batch(&mut batch, job, &actor, who, today, true)?;
                    observer.progress(Phase::Writing, done);
                    break;
                }
            }
        }
        Ok(())
    }

    /// One batch, one transaction: upserts with the change sets, the audit entry, the portrait.
    fn write_batch(
        &self,
        batch: &mut Vec<(u64, EntityPatch)>,
        job: &mut ImportJob,
        actor: &Actor,
        who: &Who,
        today: Date,
        durable: bool,
    ) -> Result<()> {
        let (Some(first), Some(last)) = (batch.first().map(|b| b.0), batch.last().map(|b| b.0)) else {
            return Ok(());
        };
        let mut tx = self.store.write()?;
        if !durable {
            tx.not_durable()?;
        }
        let now = tx.now();
        let report = &mut job.report;
        let mut late_issues = Vec::new();
        let mut written = Vec::with_capacity(batch.len());
        let mut w = tx.entity_writer()?;
        for (row, patch) in batch.drain(..) {
            match upsert_with(&mut w, now, actor, &patch, today) {
                Ok((e, WriteOutcome::Inserted)) => {
                    report.inserted += 1;
                    written.push(e);
                }
                Ok((e, WriteOutcome::Updated)) => {
                    report.updated += 1;
                    written.push(e);
                }
                Ok((_, WriteOutcome::Unchanged)) => report.unchanged += 1,
                // The store changed since the check (e.g. the entity was removed meanwhile).
                Err(ServiceError::Invalid(errors)) => late_issues.extend(errors.into_iter().map(|e| RowIssue {
                    row,
                    column: e.field,
                    value: String::new(),
                    reason: e.message,
                })),
                Err(e) => return Err(e),
            }
        }
        w.finish()?;
        if !late_issues.is_empty() && !job.skip_invalid {
            // Rows that passed the check no longer do: stop rather than write around them.
            let reason =
                late_issues.iter().map(|i| format!("第 {} 行：{}", i.row, i.reason)).collect::<Vec<_>>().join("；");
            return Err(ServiceError::Conflict(format!("导入中数据发生变化，已停止：{reason}")));
        }
        tx.audit(who, action::IMPORT_BATCH, &format!("import:{}", job.id), &format!("rows {first}–{last}"))?;
        self.commit_entities(tx, &written, false)?;
        for issue in late_issues {
            report.invalid += 1;
            report.valid = report.valid.saturating_sub(1);
            report.push_issue(issue);
        }
        Ok(())
    }
}
