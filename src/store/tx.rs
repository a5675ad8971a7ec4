//! The two transactions and the one trait they share: [`Tables`] opens a table for reading in
//! either, so each domain's read methods are written once, as default methods of a read trait
//! (`PolicyReads`, `CaseReads`, …) that both transactions have. A write transaction reads its
//! own writes. Write methods are inherent on [`WriteTx`], beside their domain's reads.

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, TableDefinition, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::codec::{decode, encode};
use super::{Result, StoreError};
use crate::model::Timestamp;

/// Opens tables for reading, in a read or a write transaction (after iroh-blobs'
/// `ReadableTables`). A read transaction cannot open a table its file does not have; a write
/// transaction creates it.
pub trait Tables {
    type Table<'a, K: redb::Key + 'static, V: redb::Value + 'static>: ReadableTable<K, V>
    where
        Self: 'a;

    fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<Self::Table<'_, K, V>>;
}

pub struct ReadTx {
    txn: ReadTransaction,
}

/// A write transaction: every record and index it writes commits together, and every audit
/// entry and record it stamps carries one instant, [`WriteTx::now`], read from the store's
/// clock when the transaction began.
pub struct WriteTx {
    pub(super) txn: WriteTransaction,
    now: Timestamp,
    /// Ids of the entities written, for the portrait change log (`store::portrait_log`).
    pub(super) portrait_changes: std::sync::Mutex<Vec<u64>>,
}

impl Tables for ReadTx {
    type Table<'a, K: redb::Key + 'static, V: redb::Value + 'static> = ReadOnlyTable<K, V>;

    fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<ReadOnlyTable<K, V>> {
        Ok(self.txn.open_table(def)?)
    }
}

impl Tables for WriteTx {
    type Table<'a, K: redb::Key + 'static, V: redb::Value + 'static> = redb::Table<'a, K, V>;

    fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<redb::Table<'_, K, V>> {
        Ok(self.txn.open_table(def)?)
    }
}

impl ReadTx {
    pub(super) fn new(txn: ReadTransaction) -> ReadTx {
        ReadTx { txn }
    }

    /// The redb transaction, for copying tables whole (see `store::backup`).
    pub(super) fn raw(&self) -> &ReadTransaction {
        &self.txn
    }
}

impl WriteTx {
    pub(super) fn new(txn: WriteTransaction, now: Timestamp) -> WriteTx {
        WriteTx { txn, now, portrait_changes: std::sync::Mutex::default() }
    }

    /// The instant this transaction stamps on what it writes: the store's clock when it began.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Makes this transaction's commit cheap and not yet durable: it is visible to every reader
    /// at once but reaches the disk only with the next durable commit (any commit that did not
    /// call this). A crash before then loses it, and everything else since that commit, whole.
    /// For bulk writes that can be redone: an import's batches, made durable by its last one.
    pub fn not_durable(&mut self) -> Result<()> {
        self.txn.set_durability(redb::Durability::None).map_err(|e| StoreError::Db(e.into()))
    }

    pub fn commit(self) -> Result<()> {
        self.log_portrait_changes()?;
        self.txn.commit()?;
        Ok(())
    }

    /// Throws away everything this transaction wrote.
    pub fn abort(self) -> Result<()> {
        self.txn.abort()?;
        Ok(())
    }

    /// Encodes a record and writes it under `key`.
    pub(super) fn put<K: redb::Key + 'static>(
        &self,
        def: TableDefinition<K, &'static [u8]>,
        key: K::SelfType<'_>,
        value: &impl Serialize,
    ) -> Result<()> {
        let bytes = encode(value)?;
        self.txn.open_table(def)?.insert(key, bytes.as_slice())?;
        Ok(())
    }
}

/// Decodes a record that a `get` found, if it found one.
pub(super) fn get_record<T: DeserializeOwned>(bytes: Option<redb::AccessGuard<'_, &[u8]>>) -> Result<Option<T>> {
    bytes.map(|b| decode(b.value())).transpose()
}

/// Every record of a table keyed by a hash, with its key (sessions, API tokens: a few thousand
/// at most).
pub(super) fn hash_keyed<T: DeserializeOwned>(
    tx: &(impl Tables + ?Sized),
    def: TableDefinition<&'static [u8], &'static [u8]>,
) -> Result<Vec<(Vec<u8>, T)>> {
    let t = tx.table(def)?;
    t.iter()?
        .map(|r| {
            let (k, v) = r?;
            Ok((k.value().to_vec(), decode(v.value())?))
        })
        .collect()
}

/// Calls `f` for every record of a table keyed by id, in id order; stops at the first error.
/// Reads the whole table: for figures over all records, not for pages.
pub(super) fn for_each_record<T: DeserializeOwned, E: From<StoreError>>(
    tx: &(impl Tables + ?Sized),
    def: TableDefinition<u64, &'static [u8]>,
    mut f: impl FnMut(T) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let t = tx.table(def)?;
    for row in t.iter().map_err(StoreError::from)? {
        let row = row.map_err(StoreError::from)?;
        f(decode(row.1.value())?)?;
    }
    Ok(())
}
