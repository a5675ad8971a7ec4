//! Supervision: overdue stages followed to resolution, notices to departments' staff, and the
//! specialists assigned to look after entities.

use redb::ReadableTable;

use super::Result;
use super::codec::decode;
use super::tables::{
    CASE_STAGE_TO_SUPERVISION, DEPARTMENT_TO_NOTICE, ENTITY_TO_SPECIALIST, SPECIALIST_TO_ENTITY, SUPERVISION_ID_TO_ITEM,
};
use super::tx::{Tables, WriteTx, get_record};
use crate::model::supervision::{Notice, Supervision};

pub trait SupervisionReads: Tables {
    /// A department's notices, newest first.
    fn notices(&self, department: &str, limit: usize) -> Result<Vec<Notice>> {
        let t = self.table(DEPARTMENT_TO_NOTICE)?;
        t.range((department, 0)..=(department, u64::MAX))?.rev().take(limit).map(|r| decode(r?.1.value())).collect()
    }

    fn notice(&self, department: &str, id: u64) -> Result<Option<Notice>> {
        get_record(self.table(DEPARTMENT_TO_NOTICE)?.get((department, id))?)
    }

    fn supervision(&self, id: u64) -> Result<Option<Supervision>> {
        get_record(self.table(SUPERVISION_ID_TO_ITEM)?.get(id)?)
    }

    fn supervision_of(&self, case: u64, stage: u32) -> Result<Option<u64>> {
        let t = self.table(CASE_STAGE_TO_SUPERVISION)?;
        Ok(t.get((case, stage))?.map(|v| v.value()))
    }

    /// Every supervision item, newest first.
    fn supervisions(&self) -> Result<Vec<Supervision>> {
        let t = self.table(SUPERVISION_ID_TO_ITEM)?;
        t.iter()?.rev().map(|r| decode(r?.1.value())).collect()
    }

    /// Entity ids a specialist looks after.
    fn assigned_entities(&self, specialist: u64) -> Result<Vec<u64>> {
        let t = self.table(SPECIALIST_TO_ENTITY)?;
        t.range((specialist, 0)..=(specialist, u64::MAX))?.map(|r| Ok(r?.0.value().1)).collect()
    }

    /// The specialists who look after an entity.
    fn specialists_of(&self, entity: u64) -> Result<Vec<u64>> {
        let t = self.table(ENTITY_TO_SPECIALIST)?;
        t.range((entity, 0)..=(entity, u64::MAX))?.map(|r| Ok(r?.0.value().1)).collect()
    }
}

impl<T: Tables + ?Sized> SupervisionReads for T {}

impl WriteTx {
    pub fn put_notice(&self, notice: &Notice) -> Result<()> {
        self.put(DEPARTMENT_TO_NOTICE, (notice.department.as_str(), notice.id), notice)
    }

    pub fn put_supervision(&self, item: &Supervision) -> Result<()> {
        self.put(SUPERVISION_ID_TO_ITEM, item.id, item)?;
        self.txn.open_table(CASE_STAGE_TO_SUPERVISION)?.insert((item.case_id, item.stage), item.id)?;
        Ok(())
    }

    /// Assigns (or, with `on` false, unassigns) an entity to a specialist.
    pub fn set_assignment(&self, specialist: u64, entity: u64, on: bool) -> Result<()> {
        let mut a = self.txn.open_table(SPECIALIST_TO_ENTITY)?;
        let mut b = self.txn.open_table(ENTITY_TO_SPECIALIST)?;
        if on {
            a.insert((specialist, entity), ())?;
            b.insert((entity, specialist), ())?;
        } else {
            a.remove((specialist, entity))?;
            b.remove((entity, specialist))?;
        }
        Ok(())
    }
}
