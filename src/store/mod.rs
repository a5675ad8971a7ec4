//! The store: one redb file in the data directory. Opening checks the schema version and runs
//! ordered migrations; reads and writes go through [`ReadTx`] and [`WriteTx`]. Each domain file
//! (`policies`, `entities`, `cases`, …) holds its read trait, written once for both
//! transactions over [`Tables`], and its `WriteTx` methods, which keep every secondary index in
//! the same transaction as its record. Callers bring the read traits in with
//! `use crate::store::prelude::*;`.

mod accounts;
mod audit;
mod auto_lists;
pub mod backup;
mod calendar;
mod cases;
mod codec;
mod disclosures;
mod entities;
mod history;
mod imports;
mod matching;
mod meta;
mod migrate;
mod policies;
mod portrait_log;
mod push;
mod supervision;
pub mod tables;
mod tx;

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, TableHandle};

pub use accounts::AccountReads;
pub use audit::{AuditFilter, AuditReads, digest};
pub use auto_lists::AutoListReads;
pub use calendar::CalendarReads;
pub use cases::CaseReads;
pub use codec::{decode, encode};
pub use disclosures::DisclosureReads;
pub use entities::{EntityReads, EntityScan, EntityWriter};
pub use imports::ImportReads;
pub use matching::MatchingReads;
pub use meta::MetaReads;
pub use migrate::SCHEMA_VERSION;
pub use policies::PolicyReads;
pub use portrait_log::{LogMark, PortraitLogReads};
pub use push::PushReads;
pub use supervision::SupervisionReads;
pub use tx::{ReadTx, Tables, WriteTx};

use crate::model::Clock;

/// The read traits of every domain, for `use crate::store::prelude::*;`: with them in scope,
/// a [`ReadTx`] or a [`WriteTx`] has every read method.
pub mod prelude {
    pub use super::{
        AccountReads, AuditReads, AutoListReads, CalendarReads, CaseReads, DisclosureReads, EntityReads, ImportReads,
        MatchingReads, MetaReads, PolicyReads, PortraitLogReads, PushReads, SupervisionReads,
    };
}

/// redb's page cache: the matching engine keeps its own columns in memory, so the store's cache
/// stays modest (redb's default is 1 GiB).
pub const DEFAULT_CACHE_BYTES: usize = 256 * 1024 * 1024;

/// The file name of the store inside the data directory.
pub const FILE_NAME: &str = "huiqi.redb";
const APP_MARKER: &[u8] = b"huiqi";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the data directory {0} is in use by another huiqi process (数据目录正被另一个 huiqi 进程使用): stop that process first, or import through its web page or API"
    )]
    AlreadyOpen(PathBuf),
    #[error("{0} is not a huiqi store (不是 huiqi 数据文件): {1}")]
    Foreign(PathBuf, String),
    #[error("{0} is damaged and cannot be opened (数据文件已损坏): {1}. Restore it from a backup.")]
    Corrupt(PathBuf, String),
    #[error(
        "{path} was written by a newer huiqi (schema version {found}; this program knows up to {known}). Use the newer program or restore a backup."
    )]
    TooNew { path: PathBuf, found: u64, known: u64 },
    #[error("cannot use the data directory {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("store error: {0}")]
    Db(#[from] redb::Error),
    #[error("cannot encode or decode a {what} record: {detail}")]
    Codec { what: String, detail: String },
    #[error("{0} cannot be used as a backup (备份文件无法使用): {1}")]
    BadBackup(PathBuf, String),
    #[error(
        "attachment {0} cannot be backed up (附件无法备份): {1}. Put the file back in files/ from an earlier backup, then try again."
    )]
    MissingAttachment(String, String),
}

macro_rules! from_redb {
    ($($t:ty),+) => {
        $(impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        })+
    };
}
from_redb!(redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The open store. Cheap to share behind an `Arc`; every call blocks, so async code reaches
/// it only through `spawn_blocking`.
pub struct Store {
    db: Database,
    path: PathBuf,
    /// What write transactions stamp on audit entries and records, and backups on their
    /// manifest: the system clock unless the service hands over its own (which tests move).
    clock: Clock,
}

impl Store {
    /// Opens (creating if needed) the store in `dir`, migrating an older schema.
    pub fn open(dir: &Path) -> Result<Store> {
        Store::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// Opens with a page cache of `cache_bytes` (the resident memory redb may use for pages).
    pub fn open_with_cache(dir: &Path, cache_bytes: usize) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(dir.to_path_buf(), e))?;
        let path = dir.join(FILE_NAME);
        let fresh = !path.exists();
        let mut builder = Database::builder();
        builder.set_cache_size(cache_bytes);
        let opened = if fresh { builder.create(&path) } else { builder.open(&path) };
        let db = opened.map_err(|e| open_error(&path, e))?;
        let store = Store { db, path, clock: Clock::default() };
        migrate::prepare(&store, fresh)?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes write transactions and backups read the time from `clock`.
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// The clock write transactions read.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn read(&self) -> Result<ReadTx> {
        Ok(ReadTx::new(self.db.begin_read()?))
    }

    pub fn write(&self) -> Result<WriteTx> {
        let txn = self.db.begin_write()?;
        Ok(WriteTx::new(txn, self.clock.now()))
    }

    /// Names of the tables present in the file.
    pub fn table_names(&self) -> Result<Vec<String>> {
        let tx = self.db.begin_read()?;
        Ok(tx.list_tables()?.map(|t| t.name().to_string()).collect())
    }

    /// Every table with its entries and the bytes it holds, largest first (the store has no
    /// multimap tables).
    pub fn table_sizes(&self) -> Result<Vec<TableSize>> {
        use redb::ReadableTableMetadata;
        let tx = self.db.begin_read()?;
        let mut out = Vec::new();
        for handle in tx.list_tables()? {
            let name = handle.name().to_string();
            let table = tx.open_untyped_table(handle)?;
            let stats = table.stats()?;
            out.push(TableSize {
                name,
                entries: table.len()?,
                stored_bytes: stats.stored_bytes(),
                metadata_bytes: stats.metadata_bytes(),
                fragmented_bytes: stats.fragmented_bytes(),
            });
        }
        out.sort_by_key(|t| std::cmp::Reverse(t.total_bytes()));
        Ok(out)
    }

    /// Rewrites the file to release free pages; needs the store to be otherwise idle.
    pub fn compact(&mut self) -> Result<bool> {
        self.db.compact().map_err(|e| StoreError::Db(e.into()))
    }

    /// Verifies every page checksum; `Ok(false)` means damage was found (and repaired).
    pub fn check_integrity(&mut self) -> Result<bool> {
        self.db.check_integrity().map_err(|e| open_error(&self.path, e))
    }

    pub fn file_size(&self) -> u64 {
        std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0)
    }
}

/// What one table holds (`huiqi check`).
#[derive(Debug, Clone)]
pub struct TableSize {
    pub name: String,
    pub entries: u64,
    /// Keys and values.
    pub stored_bytes: u64,
    /// The B-tree's own pages.
    pub metadata_bytes: u64,
    /// Unused space inside the table's pages.
    pub fragmented_bytes: u64,
}

impl TableSize {
    pub fn total_bytes(&self) -> u64 {
        self.stored_bytes + self.metadata_bytes + self.fragmented_bytes
    }
}

fn open_error(path: &Path, e: redb::DatabaseError) -> StoreError {
    use redb::{DatabaseError as D, StorageError as S};
    match e {
        D::DatabaseAlreadyOpen => StoreError::AlreadyOpen(path.parent().unwrap_or(path).to_path_buf()),
        D::Storage(S::Corrupted(m)) => StoreError::Corrupt(path.to_path_buf(), m),
        D::Storage(S::Io(io)) if io.kind() == std::io::ErrorKind::InvalidData => {
            StoreError::Foreign(path.to_path_buf(), io.to_string())
        }
        D::Storage(S::Io(io)) => StoreError::Io(path.to_path_buf(), io),
        D::UpgradeRequired(v) => StoreError::Foreign(path.to_path_buf(), format!("redb file format {v}")),
        other => StoreError::Corrupt(path.to_path_buf(), other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_open_of_the_same_directory_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        let err = Store::open(dir.path()).err().unwrap();
        assert!(matches!(err, StoreError::AlreadyOpen(_)), "{err}");
        assert!(err.to_string().contains("in use by another huiqi process"));
    }

    #[test]
    fn a_garbage_file_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"this is a spreadsheet, not a database".repeat(200)).unwrap();
        let err = Store::open(dir.path()).err().unwrap();
        assert!(matches!(err, StoreError::Foreign(..) | StoreError::Corrupt(..)), "{err:?}");
    }

    #[test]
    fn a_foreign_redb_file_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Database::create(dir.path().join(FILE_NAME)).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let def: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("someone_elses");
                let mut t = tx.open_table(def).unwrap();
                t.insert("x", 1).unwrap();
            }
            tx.commit().unwrap();
        }
        let err = Store::open(dir.path()).err().unwrap();
        assert!(matches!(err, StoreError::Foreign(..)), "{err:?}");
    }

    #[test]
    fn reopening_keeps_data_and_version() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let tx = store.write().unwrap();
            assert_eq!(tx.next_id("x").unwrap(), 1);
            tx.commit().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.read().unwrap().schema_version().unwrap(), Some(SCHEMA_VERSION));
        let tx = store.write().unwrap();
        assert_eq!(tx.next_id("x").unwrap(), 2);
    }
}
