//! Cases (办件): each with its indexes by entity, by measure and, while open, by handling
//! department; and each measure's approved total, checked against its budget.

use redb::ReadableTable;

use super::codec::decode;
use super::tables::{
    CASE_ID_TO_CASE, DEPARTMENT_TO_OPEN_CASE, ENTITY_TO_CASE, EXTERNAL_NO_TO_CASE, MEASURE_TO_CASE, MEASURE_TO_PAID,
    MEASURE_TO_SPENT,
};
use super::tx::{Tables, WriteTx, for_each_record, get_record};
use super::{Result, StoreError};
use crate::model::case::{Case, Ledger};

/// The cases of `ids` that exist, in the order given.
fn cases_by_ids<T: Tables + ?Sized>(tx: &T, ids: impl Iterator<Item = Result<u64>>) -> Result<Vec<Case>> {
    let t = tx.table(CASE_ID_TO_CASE)?;
    let mut out = Vec::new();
    for id in ids {
        if let Some(v) = t.get(id?)? {
            out.push(decode(v.value())?);
        }
    }
    Ok(out)
}

pub trait CaseReads: Tables {
    fn case(&self, id: u64) -> Result<Option<Case>> {
        get_record(self.table(CASE_ID_TO_CASE)?.get(id)?)
    }

    /// Calls `f` for every case in id order; stops at the first error. Reads the whole
    /// case table: for figures over all cases, not for pages.
    fn for_each_case<E: From<StoreError>>(
        &self,
        f: impl FnMut(Case) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        for_each_record(self, CASE_ID_TO_CASE, f)
    }

    /// An entity's cases, newest first.
    fn cases_of_entity(&self, entity: u64) -> Result<Vec<Case>> {
        let t = self.table(ENTITY_TO_CASE)?;
        let ids = t.range((entity, 0)..=(entity, u64::MAX))?.rev().map(|r| Ok(r?.0.value().1));
        cases_by_ids(self, ids)
    }

    /// A measure's cases, oldest first, from `after` (exclusive), at most `limit`.
    fn cases_of_measure(&self, measure: u64, after: u64, limit: usize) -> Result<Vec<Case>> {
        let t = self.table(MEASURE_TO_CASE)?;
        let ids =
            t.range((measure, after.saturating_add(1))..=(measure, u64::MAX))?.take(limit).map(|r| Ok(r?.0.value().1));
        cases_by_ids(self, ids)
    }

    /// Open cases (in review, returned, waiting for budget) of one department, or of all.
    fn open_cases(&self, department: Option<&str>) -> Result<Vec<Case>> {
        let t = self.table(DEPARTMENT_TO_OPEN_CASE)?;
        let ids: Vec<Result<u64>> = match department {
            Some(d) => t.range((d, 0)..=(d, u64::MAX))?.map(|r| Ok(r?.0.value().1)).collect(),
            None => t.iter()?.map(|r| Ok(r?.0.value().1)).collect(),
        };
        cases_by_ids(self, ids.into_iter())
    }

    /// The sum of a measure's approved amounts, in fen.
    fn spent(&self, measure: u64) -> Result<i64> {
        let t = self.table(MEASURE_TO_SPENT)?;
        Ok(t.get(measure)?.map_or(0, |v| v.value()))
    }

    /// The offline case imported with this 外部办件编号.
    fn case_by_external_no(&self, no: &str) -> Result<Option<u64>> {
        Ok(self.table(EXTERNAL_NO_TO_CASE)?.get(no)?.map(|v| v.value()))
    }

    /// A measure's money: approved, paid and recovered.
    fn ledger(&self, measure: u64) -> Result<Ledger> {
        let (paid, recovered) = self.table(MEASURE_TO_PAID)?.get(measure)?.map_or((0, 0), |v| v.value());
        Ok(Ledger { approved: self.spent(measure)?, paid, recovered })
    }
}

impl<T: Tables + ?Sized> CaseReads for T {}

impl WriteTx {
    /// Writes a case and keeps its indexes: by entity, by measure, and the department's open
    /// cases. `before` is the stored record it replaces, if any.
    pub fn put_case(&self, case: &Case, before: Option<&Case>) -> Result<()> {
        self.put(CASE_ID_TO_CASE, case.id, case)?;
        self.txn.open_table(ENTITY_TO_CASE)?.insert((case.entity_id, case.id), ())?;
        self.txn.open_table(MEASURE_TO_CASE)?.insert((case.measure_id, case.id), ())?;
        let mut open = self.txn.open_table(DEPARTMENT_TO_OPEN_CASE)?;
        if let Some(old) = before.filter(|b| b.state.is_open()) {
            open.remove((old.department.as_str(), old.id))?;
        }
        if case.state.is_open() {
            open.insert((case.department.as_str(), case.id), ())?;
        }
        Ok(())
    }

    pub fn put_external_no(&self, no: &str, case: u64) -> Result<()> {
        self.txn.open_table(EXTERNAL_NO_TO_CASE)?.insert(no, case)?;
        Ok(())
    }

    /// Stores a measure's money (see [`CaseReads::ledger`]).
    pub fn put_ledger(&self, measure: u64, ledger: &Ledger) -> Result<()> {
        self.txn.open_table(MEASURE_TO_SPENT)?.insert(measure, ledger.approved)?;
        self.txn.open_table(MEASURE_TO_PAID)?.insert(measure, (ledger.paid, ledger.recovered))?;
        Ok(())
    }
}
