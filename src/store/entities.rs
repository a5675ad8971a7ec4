//! The entity library: entities with their credit-code and region indexes, their change
//! history (reverse deltas, see `history`), and the tag dictionary. Entity records and change
//! sets are stored positionally (`codec::encode_compact_into`).

use redb::{ReadableTable, ReadableTableMetadata};

use super::codec::{decode, encode_compact_into};
use super::tables::{
    CREDIT_CODE_TO_ENTITY_ID, ENTITY_CHANGE_TO_CHANGESET, ENTITY_ID_TO_ENTITY, REGION_TO_ENTITY_ID, TAG_KEY_TO_TAG,
};
use super::tx::{Tables, WriteTx, for_each_record, get_record};
use super::{Result, StoreError};
use crate::model::{Actor, ChangeSet, Changed, Entity, TagDef, Timestamp};

/// A page of entities from a scan in id order.
#[derive(Debug, Default)]
pub struct EntityScan {
    pub entities: Vec<Entity>,
    /// Where the next page starts (the last id looked at), if the scan stopped early.
    pub next_after: Option<u64>,
}

pub trait EntityReads: Tables {
    fn entity(&self, id: u64) -> Result<Option<Entity>> {
        get_record(self.table(ENTITY_ID_TO_ENTITY)?.get(id)?)
    }

    /// An entity's stored record as it is, undecoded (to compare it later, see
    /// [`EntityWriter::record_is`]).
    fn entity_record(&self, id: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.table(ENTITY_ID_TO_ENTITY)?.get(id)?.map(|v| v.value().to_vec()))
    }

    fn entity_id_by_code(&self, code: &str) -> Result<Option<u64>> {
        Ok(self.table(CREDIT_CODE_TO_ENTITY_ID)?.get(code)?.map(|v| v.value()))
    }

    fn entity_by_code(&self, code: &str) -> Result<Option<Entity>> {
        match self.entity_id_by_code(code)? {
            Some(id) => self.entity(id),
            None => Ok(None),
        }
    }

    fn entity_count(&self) -> Result<u64> {
        Ok(self.table(ENTITY_ID_TO_ENTITY)?.len()?)
    }

    /// Entities with id > `after` in id order that pass `keep`, up to `limit`; looks at
    /// no more than `budget` records so that one page never scans the whole library.
    fn scan_entities(
        &self,
        after: u64,
        limit: usize,
        budget: usize,
        mut keep: impl FnMut(&Entity) -> bool,
    ) -> Result<EntityScan> {
        let t = self.table(ENTITY_ID_TO_ENTITY)?;
        let mut out = EntityScan::default();
        let mut looked = 0usize;
        for row in t.range(after.saturating_add(1)..)? {
            let (id, bytes) = row?;
            looked += 1;
            let e: Entity = decode(bytes.value())?;
            if keep(&e) {
                out.entities.push(e);
            }
            if out.entities.len() >= limit || looked >= budget {
                out.next_after = Some(id.value());
                break;
            }
        }
        Ok(out)
    }

    /// Calls `f` for every entity in id order; stops at the first error.
    fn for_each_entity<E: From<StoreError>>(
        &self,
        f: impl FnMut(Entity) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        for_each_record(self, ENTITY_ID_TO_ENTITY, f)
    }

    /// Calls `f` with every entity's id and record as stored, undecoded, in id order.
    fn for_each_entity_record<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(u64, &[u8]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let t = self.table(ENTITY_ID_TO_ENTITY)?;
        for row in t.iter().map_err(StoreError::from)? {
            let (id, bytes) = row.map_err(StoreError::from)?;
            f(id.value(), bytes.value())?;
        }
        Ok(())
    }

    /// Calls `f` with the stored record of each of `ids` (ascending), `None` where there is none.
    fn for_entity_records_of<E: From<StoreError>>(
        &self,
        ids: &[u64],
        mut f: impl FnMut(u64, Option<&[u8]>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let t = self.table(ENTITY_ID_TO_ENTITY)?;
        for id in ids {
            let got = t.get(*id).map_err(StoreError::from)?;
            f(*id, got.as_ref().map(|v| v.value()))?;
        }
        Ok(())
    }

    /// Ids of entities whose region lies within `prefix` (digit pairs), id > `after`.
    fn entity_ids_in_region(&self, prefix: &str, after: u64, limit: usize) -> Result<Vec<u64>> {
        let t = self.table(REGION_TO_ENTITY_ID)?;
        let mut ids = Vec::new();
        for row in t.range((prefix, 0u64)..)? {
            let (key, _) = row?;
            let (region, id) = key.value();
            if !region.starts_with(prefix) {
                break;
            }
            if id > after {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        ids.truncate(limit);
        Ok(ids)
    }

    /// An entity's change history, newest first, every value before and after spelled out.
    fn changes(&self, entity: u64) -> Result<Vec<ChangeSet>> {
        let t = self.table(ENTITY_CHANGE_TO_CHANGESET)?;
        let rows = t.range((entity, 0)..=(entity, u64::MAX))?.map(|r| Ok(r?.1)).collect::<Result<Vec<_>>>()?;
        let record = self.entity(entity)?;
        super::history::history(record.as_ref(), rows.iter().map(|v| v.value()))
    }

    fn tags(&self) -> Result<Vec<TagDef>> {
        let t = self.table(TAG_KEY_TO_TAG)?;
        t.iter()?.map(|r| decode(r?.1.value())).collect()
    }
}

impl<T: Tables + ?Sized> EntityReads for T {}

/// The entity tables held open for many writes in one transaction (an import's batch writes
/// thousands of entities; opening five tables for each would cost more than the writes). Ids
/// are handed out from a counter and the sequence is written back by [`EntityWriter::finish`],
/// which must be called before the transaction commits.
pub struct EntityWriter<'a> {
    tx: &'a WriteTx,
    entities: redb::Table<'a, u64, &'static [u8]>,
    codes: redb::Table<'a, &'static str, u64>,
    regions: redb::Table<'a, (&'static str, u64), ()>,
    changes: redb::Table<'a, (u64, u64), &'static [u8]>,
    /// The last entity id handed out, and whether this writer handed out any.
    last_id: u64,
    took_ids: bool,
    /// Reused for every record encoded.
    buf: Vec<u8>,
}

impl EntityWriter<'_> {
    pub fn id_by_code(&self, code: &str) -> Result<Option<u64>> {
        Ok(self.codes.get(code)?.map(|v| v.value()))
    }

    pub fn by_code(&self, code: &str) -> Result<Option<Entity>> {
        match self.id_by_code(code)? {
            Some(id) => get_record(self.entities.get(id)?),
            None => Ok(None),
        }
    }

    /// Whether entity `id`'s stored record is exactly `bytes` (as read earlier, elsewhere).
    pub fn record_is(&self, id: u64, bytes: &[u8]) -> Result<bool> {
        Ok(self.entities.get(id)?.is_some_and(|v| v.value() == bytes))
    }

    /// The next entity id, as `WriteTx::next_id("entity")` would hand it out.
    pub fn new_id(&mut self) -> u64 {
        self.last_id += 1;
        self.took_ids = true;
        self.last_id
    }

    /// Writes an entity and its indexes. `before` is the stored record it replaces, if any.
    pub fn put(&mut self, entity: &Entity, before: Option<&Entity>) -> Result<()> {
        encode_compact_into(&mut self.buf, entity)?;
        self.entities.insert(entity.id, self.buf.as_slice())?;
        // The portrait snapshot's log of entity writes (see `portrait_log`).
        self.tx.note_portrait_change(entity.id);
        if let Some(old) = before {
            if old.credit_code != entity.credit_code {
                self.codes.remove(old.credit_code.as_str())?;
            }
            if let Some(r) = &old.region
                && old.region != entity.region
            {
                self.regions.remove((r.as_str(), old.id))?;
            }
        }
        if let Some(existing) = self.codes.insert(entity.credit_code.as_str(), entity.id)?.map(|v| v.value())
            && existing != entity.id
        {
            return Err(StoreError::Codec {
                what: "credit code index".into(),
                detail: format!("{} already belongs to entity {existing}", entity.credit_code),
            });
        }
        if let Some(r) = &entity.region {
            self.regions.insert((r.as_str(), entity.id), ())?;
        }
        Ok(())
    }

    /// Appends the change set of one write at `at` by `actor` to an entity's history. `fresh`:
    /// the entity was created by this writer, so it has no history yet (ids are never handed
    /// out twice).
    pub fn add_changes(
        &mut self,
        entity: u64,
        at: Timestamp,
        actor: &Actor,
        changes: &[Changed],
        fresh: bool,
    ) -> Result<()> {
        let next = if fresh {
            1
        } else {
            match self.changes.range((entity, 0)..=(entity, u64::MAX))?.next_back() {
                Some(row) => row?.0.value().1 + 1,
                None => 1,
            }
        };
        super::history::encode_set(&mut self.buf, at, actor, changes, fresh)?;
        self.changes.insert((entity, next), self.buf.as_slice())?;
        Ok(())
    }

    /// Writes back the id sequence; the transaction may commit after this.
    pub fn finish(self) -> Result<()> {
        if self.took_ids {
            self.tx.set_next_id("entity", self.last_id)?;
        }
        Ok(())
    }
}

impl WriteTx {
    /// Opens the entity tables for a run of writes (see [`EntityWriter`]).
    pub fn entity_writer(&self) -> Result<EntityWriter<'_>> {
        let last_id = self.table(super::tables::KIND_TO_LAST_ID)?.get("entity")?.map_or(0, |v| v.value());
        Ok(EntityWriter {
            tx: self,
            entities: self.txn.open_table(ENTITY_ID_TO_ENTITY)?,
            codes: self.txn.open_table(CREDIT_CODE_TO_ENTITY_ID)?,
            regions: self.txn.open_table(REGION_TO_ENTITY_ID)?,
            changes: self.txn.open_table(ENTITY_CHANGE_TO_CHANGESET)?,
            last_id,
            took_ids: false,
            buf: Vec::new(),
        })
    }

    /// Writes an entity and its indexes. `before` is the stored record it replaces, if any.
    pub fn put_entity(&self, entity: &Entity, before: Option<&Entity>) -> Result<()> {
        let mut w = self.entity_writer()?;
        w.put(entity, before)?;
        w.finish()
    }

    pub fn put_tag(&self, tag: &TagDef) -> Result<()> {
        self.put(TAG_KEY_TO_TAG, tag.key.as_str(), tag)
    }
}
