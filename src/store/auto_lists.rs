//! 免申即享 lists: each round of a measure, its entries (cases) and its 待核实 entities.

use redb::ReadableTable;

use super::Result;
use super::codec::{decode, encode};
use super::tables::{
    AUTO_LIST_ID_TO_LIST, AUTO_LIST_TO_CASE, AUTO_LIST_TO_PENDING, MEASURE_TO_AUTO_LIST, OFFER_DUE_TO_CASE,
};
use super::tx::{Tables, WriteTx, get_record};
use crate::model::Date;
use crate::model::auto_list::{AutoList, Pending};

pub trait AutoListReads: Tables {
    fn auto_list(&self, id: u64) -> Result<Option<AutoList>> {
        get_record(self.table(AUTO_LIST_ID_TO_LIST)?.get(id)?)
    }

    /// Every list of every measure.
    fn auto_lists(&self) -> Result<Vec<AutoList>> {
        self.table(AUTO_LIST_ID_TO_LIST)?.iter()?.map(|r| decode(r?.1.value())).collect()
    }

    /// One 待核实 entry of a list.
    fn auto_list_pending_one(&self, list: u64, entity: u64) -> Result<Option<Pending>> {
        get_record(self.table(AUTO_LIST_TO_PENDING)?.get((list, entity))?)
    }

    /// A measure's lists, newest round first.
    fn auto_lists_of_measure(&self, measure: u64) -> Result<Vec<AutoList>> {
        let t = self.table(MEASURE_TO_AUTO_LIST)?;
        let ids: Vec<u64> =
            t.range((measure, 0)..=(measure, u64::MAX))?.rev().map(|r| Ok(r?.0.value().1)).collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.auto_list(id)?);
        }
        Ok(out)
    }

    /// Case ids of a list's entries from `after` (exclusive), at most `limit`.
    fn auto_list_cases(&self, list: u64, after: u64, limit: usize) -> Result<Vec<u64>> {
        let t = self.table(AUTO_LIST_TO_CASE)?;
        t.range((list, after.saturating_add(1))..=(list, u64::MAX))?.take(limit).map(|r| Ok(r?.0.value().1)).collect()
    }

    /// A list's 待核实 entities from entity id `after` (exclusive), at most `limit`.
    fn auto_list_pending(&self, list: u64, after: u64, limit: usize) -> Result<Vec<Pending>> {
        let t = self.table(AUTO_LIST_TO_PENDING)?;
        t.range((list, after.saturating_add(1))..=(list, u64::MAX))?.take(limit).map(|r| decode(r?.1.value())).collect()
    }

    /// Offers awaiting an answer whose deadline is on or before `day`: (deadline, case id).
    fn offers_due_by(&self, day: Date) -> Result<Vec<(Date, u64)>> {
        let t = self.table(OFFER_DUE_TO_CASE)?;
        t.range((i32::MIN, 0)..=(day.days(), u64::MAX))?
            .map(|r| {
                let (d, c) = r?.0.value();
                Ok((Date::from_days(d), c))
            })
            .collect()
    }
}

impl<T: Tables + ?Sized> AutoListReads for T {}

impl WriteTx {
    pub fn put_auto_list(&self, list: &AutoList) -> Result<()> {
        self.put(AUTO_LIST_ID_TO_LIST, list.id, list)?;
        self.txn.open_table(MEASURE_TO_AUTO_LIST)?.insert((list.measure_id, list.id), ())?;
        Ok(())
    }

    pub fn add_auto_list_case(&self, list: u64, case: u64) -> Result<()> {
        self.txn.open_table(AUTO_LIST_TO_CASE)?.insert((list, case), ())?;
        Ok(())
    }

    pub fn put_auto_list_pending(&self, list: u64, pending: &Pending) -> Result<()> {
        let bytes = encode(pending)?;
        self.txn.open_table(AUTO_LIST_TO_PENDING)?.insert((list, pending.entity_id), bytes.as_slice())?;
        Ok(())
    }

    pub fn add_offer_due(&self, deadline: Date, case: u64) -> Result<()> {
        self.txn.open_table(OFFER_DUE_TO_CASE)?.insert((deadline.days(), case), ())?;
        Ok(())
    }

    pub fn drop_offer_due(&self, deadline: Date, case: u64) -> Result<()> {
        self.txn.open_table(OFFER_DUE_TO_CASE)?.remove((deadline.days(), case))?;
        Ok(())
    }

    pub fn remove_auto_list_pending(&self, list: u64, entity: u64) -> Result<()> {
        self.txn.open_table(AUTO_LIST_TO_PENDING)?.remove((list, entity))?;
        Ok(())
    }
}
