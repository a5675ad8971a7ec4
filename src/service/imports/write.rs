//! The write pass of an import: the rows that passed the check, read again and written. Threads
//! share the work so that two cores overlap it: one decodes the file (`read_chunks`), one parses
//! its rows into patches and prepares them (each chunk's rows on two threads, `map_in_two`), and
//! the calling thread writes them, a batch of [`BATCH_ROWS`] per transaction, each with its
//! audit entry.
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
use crate::import::{ColumnMap, Format, ReadError, map_in_two, read_chunks};
use crate::model::audit::action;
use crate::model::imports::{ImportJob, RowIssue};
use crate::model::{Actor, Changed, Date, Entity, EntityPatch, Field, FieldValue, TagDictionary, Timestamp, Who};
use crate::service::entities::{WriteOutcome, upsert_with};
use crate::service::{Result, Service, ServiceError};
use crate::store::prelude::*;
use crate::store::{EntityWriter, ReadTx, Store};

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

/// A row made ready for the writer by the parsing thread, against the store as last committed:
/// the patch applied to a new entity, or to the stored one (whose record bytes are kept, so that
/// the writer can see that nothing wrote it since). The writer stamps the instant of its
/// transaction and gives new entities their ids; a row whose entity changed or appeared since it
/// was prepared is written from its patch as a single write is.
struct Prepared {
    row: u64,
    patch: EntityPatch,
    ready: Option<Ready>,
}

struct Ready {
    /// The stored entity as read, and its record's bytes, or `None` for a new entity.
    before: Option<(Entity, Vec<u8>)>,
    entity: Entity,
    changes: Vec<Changed>,
    /// `Entity::apply` moved `updated_at` (to be set to the writer's instant).
    touched: bool,
    /// The patch changes nothing in the stored entity.
    unchanged: bool,
}

/// Applies `patch` as `upsert_with` would, against `snapshot`, without the instant.
fn prepare(snapshot: &ReadTx, row: u64, patch: EntityPatch, today: Date) -> crate::store::Result<Prepared> {
    let Some(code) = patch.credit_code().cloned() else { return Ok(Prepared { row, patch, ready: None }) };
    // Any instant will do: the writer sets its own wherever `apply` set this one.
    let stamp = Timestamp(0);
    let ready = match snapshot.entity_id_by_code(code.as_str())? {
        None => {
            let named = matches!(patch.get(Field::Name), Some(Some(FieldValue::Text(n))) if !n.is_empty());
            named.then(|| {
                let mut entity = Entity::new(0, code, stamp);
                let changes = entity.apply(&patch, today, stamp);
                Ready { before: None, entity, changes, touched: true, unchanged: false }
            })
        }
        Some(id) => match snapshot.entity_record(id)? {
            Some(bytes) => {
                let before: Entity = crate::store::decode(&bytes)?;
                let mut entity = before.clone();
                let changes = entity.apply(&patch, today, stamp);
                let touched = !changes.is_empty() || entity.financials != before.financials;
                let unchanged = changes.is_empty() && entity == before;
                Some(Ready { before: Some((before, bytes)), entity, changes, touched, unchanged })
            }
            None => None,
        },
    };
    Ok(Prepared { row, patch, ready })
}

enum Parcel {
    Rows(Vec<Prepared>),
    /// Every row was read and parsed.
    End,
}

/// Why the parsing thread stopped.
enum Stop {
    Read(ReadError),
    Store(crate::store::StoreError),
    /// The writer stopped (its error says why).
    WriterGone,
}

impl From<ReadError> for Stop {
    fn from(e: ReadError) -> Self {
        Stop::Read(e)
    }
}

impl From<crate::store::StoreError> for Stop {
    fn from(e: crate::store::StoreError) -> Self {
        Stop::Store(e)
    }
}

/// The parsing thread: the checked rows of the file, prepared, in file order.
fn parse_rows<R: Read + Seek + Send>(
    source: R,
    format: Format,
    bad_rows: &HashSet<u64>,
    (tags, today): (&TagDictionary, Date),
    store: &Store,
    out: SyncSender<Parcel>,
) -> std::result::Result<(), Stop> {
    let mut map: Option<ColumnMap> = None;
    let mut parcel = Vec::with_capacity(PARCEL_ROWS);
    // The store as last committed, read again for every chunk (a read transaction held for the
    // whole import would keep every page its batches free from being reused).
    read_chunks(source, format, |chunk| {
        let snapshot = store.read()?;
        let rows: Vec<(u64, &[String])> = chunk.iter().collect();
        let mut rest = rows.as_slice();
        if map.is_none()
            && let Some(((_, cells), tail)) = rows.split_first()
        {
            map = Some(ColumnMap::from_headers(cells.to_vec()).map_err(|_| ReadError::Empty)?.checking_width(format));
            rest = tail;
        }
        let Some(columns) = &map else { return Ok(()) };
        // Rows are checked already; one that fails now would have failed then.
        let prepared = map_in_two(rest, |row, cells| {
            let patch = (!bad_rows.contains(&row)).then(|| columns.parse_row(row, cells, today, tags).ok()).flatten();
            patch.map(|patch| prepare(&snapshot, row, patch, today)).transpose()
        });
        for p in prepared {
            parcel.extend(p?);
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

/// Who writes, and when, for every batch of one write pass.
struct Writer<'a> {
    actor: Actor,
    who: &'a Who,
    today: Date,
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
            let parsing = s.spawn(|| parse_rows(source, format, bad_rows, (&tags, today), &self.store, out));
            let written = self.write_parcels(parcels, job, observer, who, today);
            let parsed = parsing.join().unwrap_or_else(|_| Err(Stop::Read(ReadError::Io("parser stopped".into()))));
            (written, parsed)
        });
        written?;
        match parsed {
            Ok(()) | Err(Stop::WriterGone) => {}
            Err(Stop::Read(e)) => return Err(ServiceError::Internal(format!("文件在导入过程中无法再次读取：{e}"))),
            Err(Stop::Store(e)) => return Err(e.into()),
        }
        let report = &job.report;
        if self.matching_loaded() && !self.offline() && (report.inserted > 0 || report.updated > 0) {
            self.rematch_all("import")?;
            self.auto_pending_recheck_logged(crate::service::cases::pending::Recheck::All);
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
        let by = Writer { actor, who, today };
        let mut batch: Vec<Prepared> = Vec::with_capacity(BATCH_ROWS);
        observer.progress(Phase::Writing, 0);
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
                        self.write_batch(&mut batch, job, &by, durable)?;
                        observer.progress(Phase::Writing, done);
                    }
                }
                Parcel::End => {
                    self.write_batch(&mut batch, job, &by, true)?;
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
        batch: &mut Vec<Prepared>,
        job: &mut ImportJob,
        by: &Writer<'_>,
        durable: bool,
    ) -> Result<()> {
        let Writer { actor, who, today } = by;
        let (actor, today) = (actor, *today);
        let (Some(first), Some(last)) = (batch.first().map(|b| b.row), batch.last().map(|b| b.row)) else {
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
        for prepared in batch.drain(..) {
            let row = prepared.row;
            match write_prepared(&mut w, now, actor, prepared, today) {
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

/// Writes a prepared row as `upsert_with` writes its patch, when the store still holds what it
/// was prepared against; otherwise writes the patch.
fn write_prepared(
    w: &mut EntityWriter<'_>,
    now: Timestamp,
    actor: &Actor,
    prepared: Prepared,
    today: Date,
) -> Result<(Entity, WriteOutcome)> {
    let Prepared { patch, ready, .. } = prepared;
    let Some(Ready { before, mut entity, changes, touched, unchanged }) = ready else {
        return upsert_with(w, now, actor, &patch, today);
    };
    let current = w.id_by_code(entity.credit_code.as_str())?;
    let outcome = match (&before, current) {
        (None, None) => {
            entity.id = w.new_id();
            entity.created_at = now;
            WriteOutcome::Inserted
        }
        (Some((old, bytes)), Some(id)) if old.id == id && w.record_is(id, bytes)? => {
            if unchanged {
                return Ok((entity, WriteOutcome::Unchanged));
            }
            WriteOutcome::Updated
        }
        _ => return upsert_with(w, now, actor, &patch, today),
    };
    if touched {
        entity.updated_at = now;
    }
    let old = before.map(|(old, _)| old);
    w.put(&entity, old.as_ref())?;
    if !changes.is_empty() {
        w.add_changes(entity.id, now, actor, &changes, outcome == WriteOutcome::Inserted)?;
    }
    Ok((entity, outcome))
}
