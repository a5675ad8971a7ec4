//! What matching last found: each measure's eligible set, and the numbered events of changes to
//! those sets that the push step reads.

use redb::ReadableTable;

use super::Result;
use super::codec::{decode, encode};
use super::tables::{MATCH_SEQ_TO_EVENT, MEASURE_TO_ELIGIBLE};
use super::tx::{Tables, WriteTx, get_record};
use crate::model::matching::{EligibleSet, MatchEvent};

pub trait MatchingReads: Tables {
    /// The entity ids last found eligible for a measure, if it was ever matched.
    fn eligible_set(&self, measure: u64) -> Result<Option<EligibleSet>> {
        get_record(self.table(MEASURE_TO_ELIGIBLE)?.get(measure)?)
    }

    /// Every stored eligible set.
    fn eligible_sets(&self) -> Result<Vec<(u64, EligibleSet)>> {
        let t = self.table(MEASURE_TO_ELIGIBLE)?;
        t.iter()?
            .map(|r| {
                let (k, v) = r?;
                Ok((k.value(), decode(v.value())?))
            })
            .collect()
    }

    /// Match events after `after`, oldest first.
    fn match_events(&self, after: u64, limit: usize) -> Result<Vec<MatchEvent>> {
        let t = self.table(MATCH_SEQ_TO_EVENT)?;
        t.range(after.saturating_add(1)..)?.take(limit).map(|r| decode(r?.1.value())).collect()
    }
}

impl<T: Tables + ?Sized> MatchingReads for T {}

impl WriteTx {
    pub fn put_eligible_set(&self, measure: u64, set: &EligibleSet) -> Result<()> {
        self.put(MEASURE_TO_ELIGIBLE, measure, set)
    }

    /// Appends a match event, numbering it; returns its sequence number.
    pub fn add_match_event(&self, event: &mut MatchEvent) -> Result<u64> {
        let mut t = self.txn.open_table(MATCH_SEQ_TO_EVENT)?;
        let seq = match t.last()? {
            Some((k, _)) => k.value() + 1,
            None => 1,
        };
        event.seq = seq;
        let bytes = encode(event)?;
        t.insert(seq, bytes.as_slice())?;
        Ok(seq)
    }
}
