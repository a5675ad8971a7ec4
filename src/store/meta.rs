//! Store-wide facts: the meta table (schema version, audit head, …) and the id sequences.

use redb::ReadableTable;

use super::Result;
use super::tables::{KIND_TO_LAST_ID, META_KEY_TO_VALUE};
use super::tx::{Tables, WriteTx};

pub trait MetaReads: Tables {
    fn schema_version(&self) -> Result<Option<u64>> {
        let meta = self.table(META_KEY_TO_VALUE)?;
        let v = meta.get("schema_version")?;
        Ok(v.and_then(|b| b.value().try_into().ok()).map(u64::from_le_bytes))
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let meta = self.table(META_KEY_TO_VALUE)?;
        Ok(meta.get(key)?.map(|b| b.value().to_vec()))
    }
}

impl<T: Tables + ?Sized> MetaReads for T {}

impl WriteTx {
    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        self.txn.open_table(META_KEY_TO_VALUE)?.insert(key, value)?;
        Ok(())
    }

    /// The next id of a kind of record, starting at 1.
    pub fn next_id(&self, kind: &str) -> Result<u64> {
        let mut t = self.txn.open_table(KIND_TO_LAST_ID)?;
        let next = t.get(kind)?.map_or(0, |v| v.value()) + 1;
        t.insert(kind, next)?;
        Ok(next)
    }

    /// Sets the last id handed out for a kind (after writing ids in bulk).
    pub fn set_next_id(&self, kind: &str, last: u64) -> Result<()> {
        self.txn.open_table(KIND_TO_LAST_ID)?.insert(kind, last)?;
        Ok(())
    }
}
