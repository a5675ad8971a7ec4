//! An entity's change history, stored as reverse deltas. The entity's record holds its values
//! now; each change set stores, for each field it changed, the value *before*. The value after
//! is read back: it is the next change set's value before, or the record's value if no later
//! set changed that field. The set that created an entity stores no values at all — its values
//! are the entity's first ones, read back the same way. So no value is kept twice, and a
//! first import costs a few bytes of history per entity instead of a copy of the record.
//!
//! This holds because every write of an entity's fields records its change set in the same
//! transaction (`service::entities::upsert_with` and the import's write pass). A migration that
//! rewrites stored values must rewrite the history's values before with them.
//!
//! Sets written before schema version 9 carry their values after explicitly (the named
//! format); they are read as they are.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::Result;
use super::codec::{FORMAT_RMP_COMPACT, decode, encode_compact_into};
use crate::model::{Actor, ChangeSet, Changed, Entity, Field, FieldChange, FieldValue, Timestamp};

/// A change set as stored (positionally; see `codec`).
#[derive(Debug, Serialize, Deserialize)]
struct StoredSet {
    at: Timestamp,
    actor: Actor,
    /// The set that created the entity: every value it set is read back.
    created: bool,
    /// The fields this set changed (catalogue names) and their values before, as canonical text.
    before: Vec<(String, Option<String>)>,
}

/// Encodes the change set of one write into `buf`. `fresh`: the write created the entity.
pub(super) fn encode_set(
    buf: &mut Vec<u8>,
    at: Timestamp,
    actor: &Actor,
    changes: &[Changed],
    fresh: bool,
) -> Result<()> {
    let created = fresh && changes.iter().all(|c| c.old.is_none());
    let before = if created {
        Vec::new()
    } else {
        changes.iter().map(|c| (c.field.name().to_string(), c.old.clone())).collect()
    };
    encode_compact_into(buf, &StoredSet { at, actor: actor.clone(), created, before })
}

/// One stored set, either form.
enum Read {
    Explicit(ChangeSet),
    Delta(StoredSet),
}

fn read(bytes: &[u8]) -> Result<Read> {
    Ok(match bytes.first() {
        Some(&FORMAT_RMP_COMPACT) => Read::Delta(decode(bytes)?),
        _ => Read::Explicit(decode(bytes)?),
    })
}

/// The history of `entity` from its stored sets (`rows`, oldest first), newest first, with
/// every value after read back from the record and the later sets.
pub(super) fn history<'a>(
    entity: Option<&Entity>,
    rows: impl DoubleEndedIterator<Item = &'a [u8]>,
) -> Result<Vec<ChangeSet>> {
    let mut running = Values { entity, known: HashMap::new() };
    let mut out = Vec::new();
    for bytes in rows.rev() {
        let set = match read(bytes)? {
            Read::Explicit(set) => {
                for c in &set.changes {
                    running.known.insert(c.field.clone(), c.old.clone());
                }
                set
            }
            Read::Delta(stored) if stored.created => {
                let changes = Field::writable()
                    .filter(|f| *f != Field::CreditCode)
                    .filter_map(|f| {
                        let new = running.take(f.name())?;
                        Some(FieldChange { field: f.name().to_string(), old: None, new: Some(new) })
                    })
                    .collect();
                ChangeSet { at: stored.at, actor: stored.actor, changes }
            }
            Read::Delta(stored) => {
                let changes = stored
                    .before
                    .into_iter()
                    .map(|(field, old)| {
                        let new = running.take(&field);
                        running.known.insert(field.clone(), old.clone());
                        FieldChange { field, old, new }
                    })
                    .collect();
                ChangeSet { at: stored.at, actor: stored.actor, changes }
            }
        };
        out.push(set);
    }
    Ok(out)
}

/// Each field's value at the point the history has been read back to: the record's value
/// until a set says what it was before.
struct Values<'e> {
    entity: Option<&'e Entity>,
    known: HashMap<String, Option<String>>,
}

impl Values<'_> {
    fn take(&mut self, field: &str) -> Option<String> {
        if let Some(v) = self.known.remove(field) {
            return v;
        }
        let (e, f) = (self.entity?, Field::by_name(field)?);
        // Stored fields do not depend on the date; derived ones are never in a change set.
        e.get(f, e.updated_at.date_cst()).as_ref().map(FieldValue::to_text)
    }
}

/// Schema version 9: entity records rewritten positionally, and each entity's history as
/// reverse deltas — where reading the deltas back gives the stored history (a history that
/// does not, because something once wrote the entity without its change set, is kept as it is).
/// Both tables are written afresh in key order and renamed over the old ones: values rewritten
/// in place would leave every page as large as it was.
pub(super) fn compact_entities(tx: &redb::WriteTransaction) -> Result<()> {
    use redb::{ReadableTable, TableDefinition};

    use super::tables::{ENTITY_CHANGE_TO_CHANGESET, ENTITY_ID_TO_ENTITY};
    const NEW_ENTITIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entities-0-v9");
    const NEW_CHANGES: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("entity_changes-0-v9");

    {
        let old_entities = tx.open_table(ENTITY_ID_TO_ENTITY)?;
        let old_changes = tx.open_table(ENTITY_CHANGE_TO_CHANGESET)?;
        let mut entities = tx.open_table(NEW_ENTITIES)?;
        let mut changes = tx.open_table(NEW_CHANGES)?;
        let mut buf = Vec::new();
        for row in old_entities.iter()? {
            let (id, bytes) = row?;
            let entity: Entity = decode(bytes.value())?;
            encode_compact_into(&mut buf, &entity)?;
            entities.insert(id.value(), buf.as_slice())?;
        }
        // Each entity's sets, in key order; an entity's rows end where the next one's begin.
        let mut group: Vec<((u64, u64), Vec<u8>)> = Vec::new();
        let mut flush = |group: &mut Vec<((u64, u64), Vec<u8>)>| -> Result<()> {
            let Some(&((id, _), _)) = group.first() else { return Ok(()) };
            let record = entities.get(id)?.map(|v| decode::<Entity>(v.value())).transpose()?;
            let rows: Vec<Vec<u8>> = group.iter().map(|(_, v)| v.clone()).collect();
            let deltas = match &record {
                Some(e) if group.iter().enumerate().all(|(i, ((_, seq), _))| *seq == i as u64 + 1) => {
                    as_deltas(e, &rows)?
                }
                _ => None,
            };
            for (i, (key, old)) in group.drain(..).enumerate() {
                let value = deltas.as_ref().map_or(old.as_slice(), |d| d[i].as_slice());
                changes.insert(key, value)?;
            }
            Ok(())
        };
        for row in old_changes.iter()? {
            let (key, value) = row?;
            let key = key.value();
            if group.first().is_some_and(|((id, _), _)| *id != key.0) {
                flush(&mut group)?;
            }
            group.push((key, value.value().to_vec()));
        }
        flush(&mut group)?;
    }
    tx.delete_table(ENTITY_ID_TO_ENTITY)?;
    tx.delete_table(ENTITY_CHANGE_TO_CHANGESET)?;
    tx.rename_table(NEW_ENTITIES, ENTITY_ID_TO_ENTITY)?;
    tx.rename_table(NEW_CHANGES, ENTITY_CHANGE_TO_CHANGESET)?;
    Ok(())
}

/// `rows` (an entity's stored sets, oldest first, numbered from 1) rewritten as deltas, if
/// they read back to the same history.
fn as_deltas(entity: &Entity, rows: &[Vec<u8>]) -> Result<Option<Vec<Vec<u8>>>> {
    if rows.is_empty() || rows.iter().any(|r| r.first() == Some(&FORMAT_RMP_COMPACT)) {
        return Ok(None);
    }
    let mut stored = history(Some(entity), rows.iter().map(Vec::as_slice))?;
    let mut deltas = Vec::with_capacity(rows.len());
    for (i, set) in stored.iter().rev().enumerate() {
        let mut changes = Vec::with_capacity(set.changes.len());
        for c in &set.changes {
            let Some(field) = Field::by_name(&c.field) else { return Ok(None) };
            changes.push(Changed { field, old: c.old.clone() });
        }
        let mut buf = Vec::new();
        encode_set(&mut buf, set.at, &set.actor, &changes, i == 0)?;
        deltas.push(buf);
    }
    let mut read_back = history(Some(entity), deltas.iter().map(Vec::as_slice))?;
    // A creation reads back in the catalogue's order, not the order of its file's columns.
    for sets in [&mut stored, &mut read_back] {
        sets.iter_mut().for_each(|s| s.changes.sort_by(|a, b| a.field.cmp(&b.field)));
    }
    Ok((read_back == stored).then_some(deltas))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Date, EntityPatch, Timestamp};

    /// A patch as a form sends it: an empty value clears the field.
    fn patch(values: &[(Field, &str)]) -> EntityPatch {
        use crate::model::fields::{ParseContext, parse_value};
        let tags = crate::model::tags::TagDictionary::new(crate::model::tags::default_tags());
        let ctx = ParseContext {
            today: Date::parse("2026-11-27").unwrap(),
            tags: &tags,
            money_unit: crate::model::MoneyUnit::Wan,
        };
        let mut p = EntityPatch::default();
        for (f, v) in values {
            p.set(*f, (!v.is_empty()).then(|| parse_value(*f, v, &ctx).unwrap()));
        }
        p
    }

    /// Writes patches one after another as the service does, returning the entity, the sets
    /// as the old format stored them (values after spelled out) and as deltas.
    fn write(patches: &[EntityPatch]) -> (Entity, Vec<ChangeSet>, Vec<Vec<u8>>) {
        let today = Date::parse("2026-11-27").unwrap();
        let code = crate::model::CreditCode::parse("91350100M000100Y43").unwrap();
        let mut e = Entity::new(1, code, Timestamp(1));
        let (mut explicit, mut deltas) = (Vec::new(), Vec::new());
        let actor = Actor::System { what: "测试".into() };
        for (i, p) in patches.iter().enumerate() {
            let at = Timestamp(i as i64 + 2);
            let changed = e.apply(p, today, at);
            if changed.is_empty() {
                continue;
            }
            let mut buf = Vec::new();
            encode_set(&mut buf, at, &actor, &changed, explicit.is_empty()).unwrap();
            deltas.push(buf);
            // The set spelled out, as versions before 9 stored it.
            let changes = changed
                .into_iter()
                .map(|c| FieldChange {
                    field: c.field.name().to_string(),
                    old: c.old,
                    new: e.get(c.field, today).as_ref().map(FieldValue::to_text),
                })
                .collect();
            explicit.push(ChangeSet { at, actor: actor.clone(), changes });
        }
        (e, explicit, deltas)
    }

    #[test]
    fn deltas_read_back_to_every_value_before_and_after() {
        let (e, explicit, deltas) = write(&[
            patch(&[
                (Field::Name, "甲公司"),
                (Field::Revenue, "100.5"),
                (Field::Employees, "12"),
                (Field::Address, "一路1号"),
            ]),
            patch(&[(Field::Revenue, "200"), (Field::Employees, "")]),
            patch(&[(Field::Name, "甲公司"), (Field::Address, "二路2号")]),
            patch(&[(Field::Employees, "30"), (Field::Revenue, "")]),
        ]);
        let mut newest_first = explicit.clone();
        newest_first.reverse();
        let catalogue = |f: &FieldChange| Field::by_name(&f.field).map(|f| f as usize);
        newest_first.last_mut().unwrap().changes.sort_by_key(catalogue);
        assert_eq!(history(Some(&e), deltas.iter().map(Vec::as_slice)).unwrap(), newest_first);
        assert_eq!(newest_first.last().unwrap().changes.len(), 4, "the creation's four values");
    }

    #[test]
    fn a_first_import_keeps_no_copy_of_the_values() {
        let (_, explicit, deltas) = write(&[patch(&[
            (Field::Name, "某某市某某科技有限公司"),
            (Field::Address, "某某省某某市某某区某某路100号"),
            (Field::Revenue, "12345.67"),
        ])]);
        let named = crate::store::codec::encode(&explicit[0]).unwrap();
        assert!(deltas[0].len() * 3 < named.len(), "{} bytes as a delta, {} spelled out", deltas[0].len(), named.len());
    }

    #[test]
    fn old_sets_are_rewritten_only_when_they_read_back_the_same() {
        let (e, explicit, _) =
            write(&[patch(&[(Field::Name, "乙公司"), (Field::Revenue, "10")]), patch(&[(Field::Revenue, "20")])]);
        let old: Vec<Vec<u8>> = explicit.iter().map(|s| crate::store::codec::encode(s).unwrap()).collect();
        let deltas = as_deltas(&e, &old).unwrap().expect("a consistent history is rewritten");
        assert_eq!(
            history(Some(&e), deltas.iter().map(Vec::as_slice)).unwrap(),
            history(Some(&e), old.iter().map(Vec::as_slice)).unwrap()
        );
        // Revenue changed once more without a change set: the old history stays as it was.
        let mut drifted = e.clone();
        drifted.revenue = Some(crate::model::Money(99));
        assert!(as_deltas(&drifted, &old).unwrap().is_none());
    }
}
