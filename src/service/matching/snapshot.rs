//! The portrait at start: the snapshot file beside the store (`portrait::snapshot`) brought up
//! to date by decoding only the entities written since (the store's change log), or — when
//! there is no usable snapshot — every entity's record. And writing the snapshot when it pays:
//! after a full rebuild or many entity writes (the sweep), and when the server stops.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::state::{StartupTimes, ms};
use crate::portrait::Portrait;
use crate::portrait::snapshot::{self, Marker, SnapshotError};
use crate::service::{Result, Service};
use crate::store::ReadTx;
use crate::store::prelude::*;

/// More changed entities than this share of the snapshot, and reading every record in order
/// is cheaper than looking each changed one up: measured cold at 1,000,000 entities, a changed
/// record costs ≈ 180 µs (a random read), every record in order ≈ 7–38 µs each.
const REPLAY_SHARE: usize = 20;
/// The sweep writes a snapshot when this many entity writes are not in it (≈ 0.4 s to replay
/// cold at the next start), or when any are and the last one is this old.
const DUE_WRITES: u64 = 2_000;
const DUE_AGE: Duration = Duration::from_secs(6 * 3600);

/// One snapshot written at a time (the sweep, a stopping server, the bench).
static WRITING: Mutex<()> = Mutex::new(());

/// A snapshot just written.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotWritten {
    pub entities: usize,
    pub bytes: u64,
    /// How long entity writes waited (the columns were copied out under the read lock).
    pub locked_ms: f64,
    pub total_ms: f64,
    /// Change-log rows removed (held in the snapshot now).
    pub pruned: u64,
}

impl Service {
    /// Where the portrait snapshot lives: `portrait.snap` beside the store file.
    pub fn portrait_snapshot_path(&self) -> PathBuf {
        let dir = self.store.path().parent().map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf);
        dir.join(snapshot::FILE_NAME)
    }

    /// The portrait as the store holds it in `tx`, and whether the snapshot was used; from every
    /// entity record when the snapshot is not usable, unless `snapshot_only` (then `None`).
    pub(super) fn portrait_load(
        &self,
        tx: &ReadTx,
        times: &mut StartupTimes,
        snapshot_only: bool,
    ) -> Result<Option<(Portrait, bool)>> {
        if let Some(p) = self.portrait_from_snapshot(tx, times)? {
            return Ok(Some((p, true)));
        }
        if snapshot_only {
            return Ok(None);
        }
        let t = Instant::now();
        let p = full_rebuild(tx)?;
        times.full_rebuild_ms = ms(t);
        Ok(Some((p, false)))
    }

    /// The snapshot brought up to date with `tx`; `None` (and a log line why) when it is missing
    /// or not usable.
    fn portrait_from_snapshot(&self, tx: &ReadTx, times: &mut StartupTimes) -> Result<Option<Portrait>> {
        let path = self.portrait_snapshot_path();
        let t = Instant::now();
        match snapshot::read(&path) {
            Ok((mut p, marker)) => {
                times.snapshot_read_ms = ms(t);
                let entities = p.len();
                let t = Instant::now();
                match self.replay(tx, &mut p, marker)? {
                    Ok(replayed) => {
                        times.snapshot_entities = entities;
                        times.replayed = replayed;
                        times.replay_ms = ms(t);
                        return Ok(Some(p));
                    }
                    Err(why) => tracing::warn!("portrait snapshot {} not used: {why}", path.display()),
                }
            }
            Err(SnapshotError::Missing) => tracing::info!("no portrait snapshot"),
            Err(e) => tracing::warn!("portrait snapshot {} not used: {e}", path.display()),
        }
        Ok(None)
    }

    /// Brings a snapshot up to date with `tx`: the records of the entities written after its
    /// marker. `Err` says why the snapshot cannot be used.
    fn replay(&self, tx: &ReadTx, p: &mut Portrait, marker: Marker) -> Result<std::result::Result<usize, String>> {
        let schema = tx.schema_version()?.unwrap_or(0);
        if marker.schema_version != schema {
            return Ok(Err(format!("made at schema version {}, the store is at {schema}", marker.schema_version)));
        }
        let mark = crate::store::LogMark { seq: marker.seq, nonce: marker.nonce };
        if !tx.portrait_log_has(mark)? {
            return Ok(Err("it is not of this store's history (another store, a restore, or too old)".into()));
        }
        let changed = tx.portrait_changed_after(marker.seq)?;
        if changed.len() > p.len() / REPLAY_SHARE + 1_000 {
            return Ok(Err(format!("{} entities changed since; reading all is quicker", changed.len())));
        }
        let mut missing = 0usize;
        let mut unreadable = 0usize;
        tx.for_entity_records_of(&changed, |_, bytes| {
            match bytes.map(crate::store::decode::<crate::model::Entity>) {
                Some(Ok(e)) => p.upsert(&e),
                Some(Err(_)) => unreadable += 1,
                None => missing += 1,
            }
            Ok::<_, crate::store::StoreError>(())
        })?;
        if missing + unreadable > 0 {
            return Ok(Err(format!("{missing} changed entities missing, {unreadable} unreadable")));
        }
        let stored = tx.entity_count()?;
        if stored != p.len() as u64 {
            return Ok(Err(format!("{} entities after the changes, the store holds {stored}", p.len())));
        }
        Ok(Ok(changed.len()))
    }

    /// Writes the snapshot of the portrait in memory, if there is one (nothing otherwise).
    /// Entity writes wait while the columns are written out to the file (into the page cache);
    /// readers do not; the flush to disk happens after.
    pub fn portrait_snapshot_write(&self) -> Result<Option<SnapshotWritten>> {
        let _one = WRITING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !self.matching_loaded() {
            return Ok(None);
        }
        let start = Instant::now();
        if self.store.read()?.portrait_log_last()?.is_none() {
            // The snapshot names a row of the log: give an empty log one.
            let tx = self.store.write()?;
            tx.portrait_log_anchor()?;
            tx.commit()?;
        }
        let path = self.portrait_snapshot_path();
        let (pending, marker, entities, included) = {
            let guard = self.matching.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some(state) = guard.as_ref() else { return Ok(None) };
            // Entity writes commit while holding the match state's write lock, so this reads
            // exactly the store the portrait reflects.
            let tx = self.store.read()?;
            let Some(mark) = tx.portrait_log_last()? else { return Ok(None) };
            let marker = Marker { schema_version: tx.schema_version()?.unwrap_or(0), seq: mark.seq, nonce: mark.nonce };
            let pending = snapshot::begin(&state.portrait, marker, &path).map_err(snapshot_error)?;
            (pending, marker, state.portrait.len(), state.snapshot_behind)
        };
        let locked_ms = ms(start);
        let bytes = pending.finish().map_err(snapshot_error)?;
        if let Some(state) = self.matching_write().as_mut() {
            state.snapshot_behind = state.snapshot_behind.saturating_sub(included);
            state.snapshot_at = Some(Instant::now());
        }
        let tx = self.store.write()?;
        let pruned = tx.portrait_log_prune(marker.seq)?;
        tx.commit()?;
        let written = SnapshotWritten { entities, bytes, locked_ms, total_ms: ms(start), pruned };
        tracing::info!(?written, "portrait snapshot written");
        Ok(Some(written))
    }

    /// Writes the snapshot when enough entity writes are not in it (a sweep duty).
    pub fn portrait_snapshot_if_due(&self) -> Result<Option<SnapshotWritten>> {
        let due = {
            let guard = self.matching.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            guard.as_ref().is_some_and(|s| {
                s.snapshot_behind >= DUE_WRITES
                    || (s.snapshot_behind > 0 && s.snapshot_at.is_none_or(|at| at.elapsed() >= DUE_AGE))
            })
        };
        if due { self.portrait_snapshot_write() } else { Ok(None) }
    }

    /// Writes the snapshot if any entity write is not in it (a server stopping).
    pub fn portrait_snapshot_if_behind(&self) -> Result<Option<SnapshotWritten>> {
        let behind = {
            let guard = self.matching.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            guard.as_ref().is_some_and(|s| s.snapshot_behind > 0)
        };
        if behind { self.portrait_snapshot_write() } else { Ok(None) }
    }
}

impl Service {
    /// For writes while no server runs (`huiqi import`): from now on this service leaves the
    /// matching of measures to the next start, and keeps the portrait in step with its writes
    /// when loading it is quick — the store is empty, or its snapshot is usable — so that
    /// [`Self::portrait_snapshot_write`] can write the snapshot at the end and the next start
    /// reads it instead of every entity record. Returns whether the portrait is kept.
    pub fn portrait_keep_offline(&self) -> Result<bool> {
        self.offline.store(true, std::sync::atomic::Ordering::SeqCst);
        // An empty store's portrait is quick to build whatever the snapshot says.
        let snapshot_only = self.store.read()?.entity_count()? > 0;
        self.matching_init_with(snapshot_only)
    }

    /// Whether this service writes while no server runs (see [`Self::portrait_keep_offline`]).
    pub fn offline(&self) -> bool {
        self.offline.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// What `huiqi check` says of the snapshot file.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotCheck {
    pub path: PathBuf,
    pub bytes: u64,
    /// Entities in the file, and entity writes since (to decode at the next start).
    pub entities: usize,
    pub written_since: usize,
    /// Why the next start will not use it (then it rebuilds from the store and the next
    /// snapshot replaces it); `None` when it will.
    pub unusable: Option<String>,
}

impl Service {
    /// Reads the snapshot whole (checksums included) and checks it against the store.
    pub fn portrait_snapshot_check(&self) -> Result<Option<SnapshotCheck>> {
        let path = self.portrait_snapshot_path();
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        let mut check = SnapshotCheck { path, bytes, entities: 0, written_since: 0, unusable: None };
        match snapshot::read(&check.path) {
            Err(SnapshotError::Missing) => return Ok(None),
            Err(e) => check.unusable = Some(e.to_string()),
            Ok((mut p, marker)) => {
                check.entities = p.len();
                match self.replay(&self.store.read()?, &mut p, marker)? {
                    Ok(n) => check.written_since = n,
                    Err(why) => check.unusable = Some(why),
                }
            }
        }
        Ok(Some(check))
    }
}

fn snapshot_error(e: SnapshotError) -> crate::service::ServiceError {
    crate::service::ServiceError::Internal(format!("portrait snapshot: {e}"))
}

/// The portrait from every entity's stored record, in id order.
pub(super) fn full_rebuild(tx: &ReadTx) -> Result<Portrait> {
    let mut portrait = Portrait::new();
    let mut unreadable = 0u64;
    tx.for_each_entity_record(|_, bytes| {
        match crate::store::decode::<crate::model::Entity>(bytes) {
            Ok(e) => portrait.upsert(&e),
            Err(_) => unreadable += 1,
        }
        Ok::<_, crate::store::StoreError>(())
    })?;
    if unreadable > 0 {
        tracing::error!(unreadable, "entity records that could not be read were left out of the portrait");
    }
    Ok(portrait)
}
