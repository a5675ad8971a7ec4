//! The working-day calendar: holidays and make-up workdays by day.

use redb::ReadableTable;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Result;
use super::codec::decode;
use super::tables::DAY_TO_CALENDAR_ENTRY;
use super::tx::{Tables, WriteTx};

pub trait CalendarReads: Tables {
    /// Calendar entries (days since epoch → encoded entry) in a day range.
    fn calendar<T: DeserializeOwned>(&self, from: i32, to: i32) -> Result<Vec<(i32, T)>> {
        let t = self.table(DAY_TO_CALENDAR_ENTRY)?;
        t.range(from..=to)?
            .map(|r| {
                let (k, v) = r?;
                Ok((k.value(), decode(v.value())?))
            })
            .collect()
    }
}

impl<T: Tables + ?Sized> CalendarReads for T {}

impl WriteTx {
    pub fn delete_calendar_range(&self, from: i32, to: i32) -> Result<()> {
        let mut t = self.txn.open_table(DAY_TO_CALENDAR_ENTRY)?;
        let days: Vec<i32> = t.range(from..=to)?.map(|r| Ok(r?.0.value())).collect::<Result<_>>()?;
        for d in days {
            t.remove(d)?;
        }
        Ok(())
    }

    pub fn put_calendar(&self, day: i32, entry: &impl Serialize) -> Result<()> {
        self.put(DAY_TO_CALENDAR_ENTRY, day, entry)
    }
}
