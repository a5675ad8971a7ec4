//! Import jobs and the staged upload each one reads.

use redb::ReadableTable;

use super::Result;
use super::codec::decode;
use super::tables::{IMPORT_ID_TO_FILE, IMPORT_ID_TO_JOB};
use super::tx::{Tables, WriteTx, get_record};
use crate::model::imports::ImportJob;

pub trait ImportReads: Tables {
    fn import_job(&self, id: u64) -> Result<Option<ImportJob>> {
        get_record(self.table(IMPORT_ID_TO_JOB)?.get(id)?)
    }

    /// The newest imports first.
    fn import_jobs(&self, limit: usize) -> Result<Vec<ImportJob>> {
        let t = self.table(IMPORT_ID_TO_JOB)?;
        t.iter()?.rev().take(limit).map(|r| decode(r?.1.value())).collect()
    }

    fn import_file(&self, id: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.table(IMPORT_ID_TO_FILE)?.get(id)?.map(|b| b.value().to_vec()))
    }
}

impl<T: Tables + ?Sized> ImportReads for T {}

impl WriteTx {
    pub fn put_import_job(&self, job: &ImportJob) -> Result<()> {
        self.put(IMPORT_ID_TO_JOB, job.id, job)
    }

    pub fn put_import_file(&self, id: u64, bytes: &[u8]) -> Result<()> {
        self.txn.open_table(IMPORT_ID_TO_FILE)?.insert(id, bytes)?;
        Ok(())
    }

    pub fn delete_import_file(&self, id: u64) -> Result<()> {
        self.txn.open_table(IMPORT_ID_TO_FILE)?.remove(id)?;
        Ok(())
    }
}
