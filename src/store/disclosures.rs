//! 公示 batches, their rows, and objections; payment batches and their rows.

use redb::ReadableTable;

use super::Result;
use super::codec::{decode, encode};
use super::tables::{
    DISCLOSURE_ID_TO_BATCH, DISCLOSURE_TO_ROW, OBJECTION_ID_TO_OBJECTION, PAYMENT_BATCH_ID_TO_BATCH,
    PAYMENT_BATCH_TO_CASE, RECEIPT_TO_OBJECTION,
};
use super::tx::{Tables, WriteTx, for_each_record, get_record};
use crate::model::disclosure::{DisclosureBatch, DisclosureRow, Objection};
use crate::model::payment::PaymentBatch;

pub trait DisclosureReads: Tables {
    fn disclosure(&self, id: u64) -> Result<Option<DisclosureBatch>> {
        get_record(self.table(DISCLOSURE_ID_TO_BATCH)?.get(id)?)
    }

    /// Every batch, newest first (a few per measure and year).
    fn disclosures(&self) -> Result<Vec<DisclosureBatch>> {
        let mut out: Vec<DisclosureBatch> = Vec::new();
        for_each_record(self, DISCLOSURE_ID_TO_BATCH, |b| {
            out.push(b);
            Ok::<_, super::StoreError>(())
        })?;
        out.reverse();
        Ok(out)
    }

    /// A batch's rows from case id `after` (exclusive), at most `limit`.
    fn disclosure_rows(&self, batch: u64, after: u64, limit: usize) -> Result<Vec<DisclosureRow>> {
        let t = self.table(DISCLOSURE_TO_ROW)?;
        t.range((batch, after.saturating_add(1))..=(batch, u64::MAX))?
            .take(limit)
            .map(|r| decode(r?.1.value()))
            .collect()
    }

    fn disclosure_row(&self, batch: u64, case: u64) -> Result<Option<DisclosureRow>> {
        get_record(self.table(DISCLOSURE_TO_ROW)?.get((batch, case))?)
    }

    fn objection(&self, id: u64) -> Result<Option<Objection>> {
        get_record(self.table(OBJECTION_ID_TO_OBJECTION)?.get(id)?)
    }

    fn objection_by_receipt(&self, receipt: &str) -> Result<Option<Objection>> {
        match self.table(RECEIPT_TO_OBJECTION)?.get(receipt)? {
            Some(id) => self.objection(id.value()),
            None => Ok(None),
        }
    }

    fn payment_batch(&self, id: u64) -> Result<Option<PaymentBatch>> {
        get_record(self.table(PAYMENT_BATCH_ID_TO_BATCH)?.get(id)?)
    }

    /// Every payment batch, newest first.
    fn payment_batches(&self) -> Result<Vec<PaymentBatch>> {
        let mut out: Vec<PaymentBatch> = Vec::new();
        for_each_record(self, PAYMENT_BATCH_ID_TO_BATCH, |b| {
            out.push(b);
            Ok::<_, super::StoreError>(())
        })?;
        out.reverse();
        Ok(out)
    }

    /// A batch's rows in 序号 order: (序号, case id).
    fn payment_batch_rows(&self, batch: u64) -> Result<Vec<(u32, u64)>> {
        let t = self.table(PAYMENT_BATCH_TO_CASE)?;
        t.range((batch, 0)..=(batch, u32::MAX))?
            .map(|r| {
                let (k, v) = r?;
                Ok((k.value().1, v.value()))
            })
            .collect()
    }

    /// Every objection, newest first.
    fn objections(&self) -> Result<Vec<Objection>> {
        let mut out: Vec<Objection> = Vec::new();
        for_each_record(self, OBJECTION_ID_TO_OBJECTION, |o| {
            out.push(o);
            Ok::<_, super::StoreError>(())
        })?;
        out.reverse();
        Ok(out)
    }
}

impl<T: Tables + ?Sized> DisclosureReads for T {}

impl WriteTx {
    pub fn put_disclosure(&self, batch: &DisclosureBatch) -> Result<()> {
        self.put(DISCLOSURE_ID_TO_BATCH, batch.id, batch)
    }

    pub fn put_disclosure_row(&self, batch: u64, row: &DisclosureRow) -> Result<()> {
        let bytes = encode(row)?;
        self.txn.open_table(DISCLOSURE_TO_ROW)?.insert((batch, row.case_id), bytes.as_slice())?;
        Ok(())
    }

    pub fn put_payment_batch(&self, batch: &PaymentBatch) -> Result<()> {
        self.put(PAYMENT_BATCH_ID_TO_BATCH, batch.id, batch)
    }

    pub fn add_payment_row(&self, batch: u64, seq: u32, case: u64) -> Result<()> {
        self.txn.open_table(PAYMENT_BATCH_TO_CASE)?.insert((batch, seq), case)?;
        Ok(())
    }

    pub fn put_objection(&self, o: &Objection) -> Result<()> {
        self.put(OBJECTION_ID_TO_OBJECTION, o.id, o)?;
        self.txn.open_table(RECEIPT_TO_OBJECTION)?.insert(o.receipt.as_str(), o.id)?;
        Ok(())
    }
}
