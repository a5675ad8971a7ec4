//! The policy library: policies, their measures, each measure's versions, and the departments
//! that publish them.

use redb::ReadableTable;

use super::Result;
use super::codec::decode;
use super::tables::{
    DEPARTMENT_TO_INFO, MEASURE_ID_TO_MEASURE, MEASURE_VERSION_TO_VERSION, POLICY_ID_TO_POLICY, POLICY_TO_MEASURE,
};
use super::tx::{Tables, WriteTx, get_record};
use crate::model::{Department, Measure, MeasureVersion, Policy};

pub trait PolicyReads: Tables {
    fn policy(&self, id: u64) -> Result<Option<Policy>> {
        get_record(self.table(POLICY_ID_TO_POLICY)?.get(id)?)
    }

    fn policies(&self) -> Result<Vec<Policy>> {
        let t = self.table(POLICY_ID_TO_POLICY)?;
        t.iter()?.map(|r| decode(r?.1.value())).collect()
    }

    fn measure(&self, id: u64) -> Result<Option<Measure>> {
        get_record(self.table(MEASURE_ID_TO_MEASURE)?.get(id)?)
    }

    fn measures(&self) -> Result<Vec<Measure>> {
        let t = self.table(MEASURE_ID_TO_MEASURE)?;
        t.iter()?.map(|r| decode(r?.1.value())).collect()
    }

    fn measure_ids_of_policy(&self, policy: u64) -> Result<Vec<u64>> {
        let t = self.table(POLICY_TO_MEASURE)?;
        t.range((policy, 0)..=(policy, u64::MAX))?.map(|r| Ok(r?.0.value().1)).collect()
    }

    fn version(&self, measure: u64, version: u32) -> Result<Option<MeasureVersion>> {
        get_record(self.table(MEASURE_VERSION_TO_VERSION)?.get((measure, version))?)
    }

    /// The version in force of a measure, if it has been published.
    fn published_version(&self, measure: u64) -> Result<Option<MeasureVersion>> {
        match self.measure(measure)?.and_then(|m| m.published) {
            Some(number) => self.version(measure, number),
            None => Ok(None),
        }
    }

    /// Every version of a measure, oldest first.
    fn versions(&self, measure: u64) -> Result<Vec<MeasureVersion>> {
        let t = self.table(MEASURE_VERSION_TO_VERSION)?;
        t.range((measure, 0)..=(measure, u32::MAX))?.map(|r| decode(r?.1.value())).collect()
    }

    fn department(&self, name: &str) -> Result<Option<Department>> {
        get_record(self.table(DEPARTMENT_TO_INFO)?.get(name)?)
    }

    fn department_records(&self) -> Result<Vec<Department>> {
        let t = self.table(DEPARTMENT_TO_INFO)?;
        t.iter()?.map(|r| decode(r?.1.value())).collect()
    }

    fn departments(&self) -> Result<Vec<String>> {
        let t = self.table(DEPARTMENT_TO_INFO)?;
        t.iter()?.map(|r| Ok(r?.0.value().to_string())).collect()
    }
}

impl<T: Tables + ?Sized> PolicyReads for T {}

impl WriteTx {
    pub fn put_policy(&self, policy: &Policy) -> Result<()> {
        self.put(POLICY_ID_TO_POLICY, policy.id, policy)?;
        self.note_department(&policy.content.department)
    }

    pub fn put_measure(&self, measure: &Measure) -> Result<()> {
        self.put(MEASURE_ID_TO_MEASURE, measure.id, measure)?;
        self.txn.open_table(POLICY_TO_MEASURE)?.insert((measure.policy_id, measure.id), ())?;
        Ok(())
    }

    pub fn put_version(&self, version: &MeasureVersion) -> Result<()> {
        self.put(MEASURE_VERSION_TO_VERSION, (version.measure_id, version.version), version)?;
        self.note_department(&version.spec.department)
    }

    pub fn delete_version(&self, measure: u64, version: u32) -> Result<()> {
        self.txn.open_table(MEASURE_VERSION_TO_VERSION)?.remove((measure, version))?;
        Ok(())
    }

    fn note_department(&self, name: &str) -> Result<()> {
        if !name.is_empty() && self.department(name)?.is_none() {
            self.put_department(&Department { name: name.to_string(), region: None, created_at: Some(self.now()) })?;
        }
        Ok(())
    }

    pub fn put_department(&self, department: &Department) -> Result<()> {
        self.put(DEPARTMENT_TO_INFO, department.name.as_str(), department)
    }
}
