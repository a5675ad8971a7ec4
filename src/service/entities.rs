//! The entity library: upsert by credit code with a change history, the entity file
//! (一企一档), listing with filters, and the tag dictionary.

use crate::service::cases::pending::Recheck;
use serde::{Deserialize, Serialize};

use super::{Result, Service, ServiceError};
use crate::model::audit::action;
use crate::model::entity::FinancialYear;
use crate::model::fields::{ParseContext, parse_value};
use crate::model::{
    Actor, ChangeSet, CreditCode, Date, Entity, EntityPatch, Field, FieldError, FieldValue, MoneyUnit, RegionCode,
    Role, SizeClass, TagDef, TagDictionary, Timestamp, Vocabulary, Who,
};
use crate::store::prelude::*;
use crate::store::{EntityWriter, WriteTx};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteOutcome {
    Inserted,
    Updated,
    Unchanged,
}

/// Filters of the entity list. Empty fields do not filter.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EntityQuery {
    /// A substring of the name or the credit code.
    pub q: String,
    /// A region code prefix (digit pairs): `23`, `2301`, `230125`.
    pub region: String,
    /// An industry code prefix: `C`, `C39`.
    pub industry: String,
    pub size_class: Option<SizeClass>,
    pub tag: String,
    pub status: String,
    /// Only entities with a warning on record.
    pub warnings: bool,
    /// Continue after this entity id.
    pub after: u64,
    pub limit: usize,
    /// Region codes the caller may see (set from the caller's scope, never from a request);
    /// empty: every region.
    #[serde(skip)]
    pub within: Vec<RegionCode>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntityPage {
    pub entities: Vec<Entity>,
    /// Pass as `after` for the next page; `None` at the end.
    pub next_after: Option<u64>,
}

/// One row of the entity file: a field with its value for people and for machines.
#[derive(Debug, Clone, Serialize)]
pub struct FieldRow {
    pub name: &'static str,
    pub label: &'static str,
    pub derived: bool,
    pub text: Option<String>,
    pub display: Option<String>,
}

/// Whether a save may only add an entity, or add or change one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveMode {
    Insert,
    Upsert,
}

/// The entity file (一企一档).
#[derive(Debug, Clone, Serialize)]
pub struct EntityFile {
    pub entity: Entity,
    pub fields: Vec<FieldRow>,
    pub financials: Vec<FinancialYear>,
    pub history: Vec<ChangeSet>,
}

/// How a field's value looks in JSON: numbers as numbers (money in 万元), the rest as text.
pub fn value_json(v: &FieldValue) -> serde_json::Value {
    use serde_json::json;
    match v {
        FieldValue::Money(m) => json!(m.as_wan_f64()),
        FieldValue::Int(i) => json!(i),
        FieldValue::Percent(p) | FieldValue::Number(p) => json!(p),
        FieldValue::Bool(b) => json!(b),
        FieldValue::Tags(t) => json!(t),
        other => json!(other.to_text()),
    }
}

/// An entity as the JSON API returns it: every catalogue field by name, derived ones included.
pub fn entity_json(e: &Entity, today: Date) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    map.insert("id".into(), e.id.into());
    for f in Field::ALL {
        map.insert(f.name().into(), e.get(*f, today).as_ref().map_or(serde_json::Value::Null, value_json));
    }
    map.insert("warnings".into(), serde_json::json!(e.warnings));
    map.insert("financials".into(), serde_json::json!(e.financials));
    map.insert("updated_at".into(), e.updated_at.display_cst().into());
    serde_json::Value::Object(map)
}

impl Service {
    /// Builds a patch from field name → text pairs (a web form, or JSON converted to text).
    /// An empty text clears the field when `empty_clears`, else leaves it alone.
    pub fn entity_patch_from_texts(&self, pairs: &[(String, String)], empty_clears: bool) -> Result<EntityPatch> {
        let tags = self.tag_dictionary()?;
        let today = self.today();
        let mut patch = EntityPatch::default();
        let mut errors = Vec::new();
        for (name, text) in pairs {
            let Some(field) = Field::by_name(name) else {
                errors.push(FieldError::new(name, format!("没有名为「{name}」的字段")));
                continue;
            };
            if field.derived() {
                errors.push(FieldError::new(name, format!("{}由系统计算，不能直接填写", field.label())));
                continue;
            }
            let text = text.trim();
            if text.is_empty() {
                if empty_clears && field != Field::CreditCode {
                    patch.set(field, None);
                }
                continue;
            }
            let ctx = ParseContext { today, tags: &tags, money_unit: MoneyUnit::Wan };
            match parse_value(field, text, &ctx) {
                Ok(v) => patch.set(field, Some(v)),
                Err(message) => errors.push(FieldError::new(name, message)),
            }
        }
        if errors.is_empty() { Ok(patch) } else { Err(ServiceError::Invalid(errors)) }
    }

    /// Inserts or updates one entity by the credit code in the patch, if `who` may write it
    /// (see [`check_write`]), in the transaction that writes it.
    pub fn entity_upsert(&self, who: &Who, patch: &EntityPatch) -> Result<(Entity, WriteOutcome)> {
        let tx = self.store.write()?;
        let before = match patch.credit_code() {
            Some(code) => tx.entity_by_code(code.as_str())?,
            None => None,
        };
        check_write(who, before.as_ref(), patch)?;
        let result = upsert_in(&tx, &who.as_actor(), patch, self.today())?;
        if result.1 != WriteOutcome::Unchanged {
            let target = format!("entity:{}", result.0.credit_code);
            tx.audit_upsert(who, action::ENTITY_UPSERT, &target, "", before.as_ref(), &result.0)?;
            self.commit_entities(tx, std::slice::from_ref(&result.0), true)?;
            self.auto_pending_recheck_logged(Recheck::Entities(&[result.0.id]));
        }
        Ok(result)
    }

    /// Creates a new entity; refuses a credit code that already exists.
    pub fn entity_insert(&self, who: &Who, patch: &EntityPatch) -> Result<(Entity, WriteOutcome)> {
        let tx = self.store.write()?;
        if let Some(code) = patch.credit_code()
            && tx.entity_id_by_code(code.as_str())?.is_some()
        {
            return Err(ServiceError::invalid(
                "credit_code",
                format!("统一社会信用代码 {code} 已存在，请在该主体的档案页修改"),
            ));
        }
        check_write(who, None, patch)?;
        let result = upsert_in(&tx, &who.as_actor(), patch, self.today())?;
        let target = format!("entity:{}", result.0.credit_code);
        tx.audit_new(who, action::ENTITY_CREATE, &target, "", &result.0)?;
        self.commit_entities(tx, std::slice::from_ref(&result.0), true)?;
        self.auto_pending_recheck_logged(Recheck::Entities(&[result.0.id]));
        Ok(result)
    }

    /// An entity from the texts of a form or an API call (each field as people type it; an
    /// empty one clears it), added (`Insert`) or added or changed (`Upsert`).
    pub fn entity_save_texts(
        &self,
        who: &Who,
        pairs: &[(String, String)],
        mode: SaveMode,
    ) -> Result<(Entity, WriteOutcome)> {
        let patch = self.entity_patch_from_texts(pairs, true)?;
        match mode {
            SaveMode::Upsert => self.entity_upsert(who, &patch),
            SaveMode::Insert => self.entity_insert(who, &patch),
        }
    }

    /// An entity's personal data in full, for staff who give a reason: the reason is recorded
    /// in the audit trail in the transaction that reads the entity.
    pub fn entity_unmask(&self, who: &Who, code: &CreditCode, reason: &str) -> Result<EntityFile> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(ServiceError::invalid("reason", "请填写查看完整信息的事由（将记入审计日志）"));
        }
        let tx = self.store.write()?;
        let entity = readable(who, tx.entity_by_code(code.as_str())?, code)?;
        tx.audit(who, action::ENTITY_UNMASK, &format!("entity:{}", entity.credit_code), reason)?;
        let history = tx.changes(entity.id)?;
        tx.commit()?;
        self.file_of(entity, history, true)
    }

    /// An entity as `who` may see it, or — missing or out of reach alike — 404. Personal data
    /// is masked unless `who` acts for the entity (staff see it whole only by [`Self::entity_unmask`]).
    pub fn entity_get(&self, who: &Who, code: &CreditCode) -> Result<Entity> {
        let mut entity = readable(who, self.store.read()?.entity_by_code(code.as_str())?, code)?;
        if !who.acts_for(&entity.credit_code) && who.role.is_some() {
            crate::model::mask::entity(&mut entity);
        }
        Ok(entity)
    }

    /// The entity file with every published measure's outcome for it and its cases, for the
    /// staff page; with a reason, personal data in full (audited as [`Self::entity_unmask`]).
    pub fn entity_dossier(
        &self,
        who: &Who,
        code: &CreditCode,
        unmask: Option<&str>,
    ) -> Result<(EntityFile, Vec<super::matching::MeasureMatch>, Vec<super::cases::CaseView>)> {
        let file = match unmask {
            Some(reason) => self.entity_unmask(who, code, reason)?,
            None => self.entity_file(who, code)?,
        };
        let code = file.entity.credit_code.clone();
        let matches = self.entity_matches(who, &code, None)?.matches;
        let cases = self.cases_of_entity(who, &code)?;
        Ok((file, matches, cases))
    }

    /// The entity file (一企一档) as `who` may see it: masked as [`Self::entity_get`] masks.
    pub fn entity_file(&self, who: &Who, code: &CreditCode) -> Result<EntityFile> {
        let tx = self.store.read()?;
        let entity = readable(who, tx.entity_by_code(code.as_str())?, code)?;
        let personal = who.role.is_none() || who.acts_for(&entity.credit_code);
        let history = tx.changes(entity.id)?;
        drop(tx);
        self.file_of(entity, history, personal)
    }

    fn file_of(&self, mut entity: Entity, mut history: Vec<ChangeSet>, personal: bool) -> Result<EntityFile> {
        if !personal {
            crate::model::mask::entity(&mut entity);
            crate::model::mask::changes(&mut history);
        }
        let tags = self.tag_dictionary()?;
        let today = self.today();
        let fields = Field::ALL
            .iter()
            .map(|f| {
                let v = entity.get(*f, today);
                FieldRow {
                    name: f.name(),
                    label: f.label(),
                    derived: f.derived(),
                    text: v.as_ref().map(FieldValue::to_text),
                    display: v.as_ref().map(|v| v.display(&tags)),
                }
            })
            .collect();
        let financials = entity.financials.iter().rev().cloned().collect();
        Ok(EntityFile { entity, fields, financials, history })
    }

    /// The entities `who` may see that match the filters: staff limited to regions see those
    /// regions only, whatever the query asks. Personal data is masked.
    pub fn entity_list(&self, who: &Who, query: &EntityQuery) -> Result<EntityPage> {
        let mut query = query.clone();
        query.within = who.regions.clone();
        let mut page = self.entity_list_within(&query)?;
        if who.role.is_some() {
            page.entities.iter_mut().for_each(crate::model::mask::entity);
        }
        Ok(page)
    }

    fn entity_list_within(&self, query: &EntityQuery) -> Result<EntityPage> {
        let tx = self.store.read()?;
        let limit = query.limit.clamp(1, 500);
        let q = query.q.trim().to_ascii_uppercase();
        let industry = query.industry.trim().to_ascii_uppercase();
        let tag = query.tag.trim();
        let status = query.status.trim();
        let asked = RegionCode::prefix(query.region.trim());
        let keep = |e: &Entity| {
            (q.is_empty()
                || e.credit_code.as_str().contains(q.as_str())
                || e.name.as_deref().is_some_and(|n| n.to_ascii_uppercase().contains(q.as_str())))
                && (industry.is_empty() || e.industry.as_ref().is_some_and(|i| i.within(&industry)))
                && query.size_class.is_none_or(|s| e.size_class() == Some(s))
                && (tag.is_empty() || e.has_tag(tag))
                && (status.is_empty() || e.status.is_some_and(|s| s.key() == status))
                && (!query.warnings || !e.warnings.is_empty())
                && (query.within.is_empty()
                    || e.region.as_ref().is_some_and(|r| query.within.iter().any(|w| r.within(w.as_str()))))
                && (asked.is_empty() || e.region.as_ref().is_some_and(|r| r.within(asked)))
        };
        // A caller limited to one region walks that region's index when it asks for no other;
        // the index is walked by the region's prefix (`230100` is `2301…`).
        let region = match (query.region.trim(), query.within.as_slice()) {
            ("", [only]) => RegionCode::prefix(only.as_str()),
            (r, _) => RegionCode::prefix(r),
        };
        if !region.is_empty() {
            // The region index narrows the candidates; pages follow entity ids.
            let mut entities = Vec::new();
            let mut after = query.after;
            loop {
                let ids = tx.entity_ids_in_region(region, after, 2000)?;
                let Some(&last) = ids.last() else { return Ok(EntityPage { entities, next_after: None }) };
                for id in ids {
                    if let Some(e) = tx.entity(id)?
                        && keep(&e)
                    {
                        entities.push(e);
                        if entities.len() >= limit {
                            return Ok(EntityPage { entities, next_after: Some(id) });
                        }
                    }
                }
                after = last;
            }
        }
        let scan = tx.scan_entities(query.after, limit, 50_000, keep)?;
        Ok(EntityPage { entities: scan.entities, next_after: scan.next_after })
    }

    pub fn tags(&self) -> Result<Vec<TagDef>> {
        Ok(self.store.read()?.tags()?)
    }

    /// Adds a tag to the dictionary or changes its labels.
    pub fn tag_put(&self, who: &Who, mut tag: TagDef) -> Result<TagDef> {
        tag.key = tag.key.trim().to_string();
        tag.label = tag.label.trim().to_string();
        let mut errors = Vec::new();
        if !TagDictionary::valid_key(&tag.key) {
            errors.push(FieldError::new("key", "标签标识只能由小写字母、数字和下划线组成，以字母开头，最长 40 个字符"));
        }
        if tag.label.is_empty() {
            errors.push(FieldError::new("label", "请填写标签名称"));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        let tx = self.store.write()?;
        if tx.tags()?.iter().any(|t| t.label == tag.label && t.key != tag.key) {
            return Err(ServiceError::invalid("label", format!("标签名称「{}」已被其他标签使用", tag.label)));
        }
        tx.put_tag(&tag)?;
        tx.audit(who, action::TAG_PUT, &format!("tag:{}", tag.key), &tag.label)?;
        tx.commit()?;
        Ok(tag)
    }
}

/// Applies a patch inside a write transaction: finds the entity by credit code, creates it if
/// new (a new entity needs a name), records the change set stamped with the transaction's
/// instant. Shared by single writes and imports.
pub(crate) fn upsert_in(
    tx: &WriteTx,
    actor: &Actor,
    patch: &EntityPatch,
    today: Date,
) -> Result<(Entity, WriteOutcome)> {
    let mut w = tx.entity_writer()?;
    let result = upsert_with(&mut w, tx.now(), actor, patch, today)?;
    w.finish()?;
    Ok(result)
}

/// [`upsert_in`] through tables already open, for many writes in one transaction stamped `now`
/// (the transaction's instant). The writer must be finished before the transaction commits.
pub(crate) fn upsert_with(
    w: &mut EntityWriter<'_>,
    now: Timestamp,
    actor: &Actor,
    patch: &EntityPatch,
    today: Date,
) -> Result<(Entity, WriteOutcome)> {
    let code =
        patch.credit_code().ok_or_else(|| ServiceError::invalid("credit_code", "请填写统一社会信用代码"))?.clone();
    let before = w.by_code(code.as_str())?;
    let (mut entity, outcome) = match &before {
        Some(e) => (e.clone(), WriteOutcome::Updated),
        None => {
            let named = matches!(patch.get(Field::Name), Some(Some(FieldValue::Text(n))) if !n.is_empty());
            if !named {
                return Err(ServiceError::invalid("name", format!("新经营主体 {code} 必须填写名称")));
            }
            (Entity::new(w.new_id(), code, now), WriteOutcome::Inserted)
        }
    };
    let changes = entity.apply(patch, today, now);
    if outcome == WriteOutcome::Updated && changes.is_empty() && before.as_ref() == Some(&entity) {
        return Ok((entity, WriteOutcome::Unchanged));
    }
    w.put(&entity, before.as_ref())?;
    if !changes.is_empty() {
        w.add_changes(entity.id, now, actor, &changes, before.is_none())?;
    }
    Ok((entity, outcome))
}

/// A missing entity, and one the caller may not see, answer alike (so that nobody learns which
/// credit codes exist by asking).
pub fn unseen_entity(code: &str) -> ServiceError {
    ServiceError::NotFound(format!(
        "统一社会信用代码为 {} 的经营主体不存在，或不在您可查看的范围内",
        crate::model::text::excerpt(code, 40)
    ))
}

/// A credit code from a caller (a path, a form, a body), parsed once at the boundary. Text that
/// is no credit code names no entity: it answers as a lookup that finds nothing answers.
pub fn entity_code(text: &str) -> Result<CreditCode> {
    CreditCode::parse_or(text, unseen_entity)
}

/// Whether `who` may read `e`: the system everything; an enterprise the entities it acts for;
/// staff those in their regions (every one, without a limit).
pub fn may_read(who: &Who, e: &Entity) -> bool {
    match who.role {
        None => true,
        Some(Role::Enterprise) => who.acts_for(&e.credit_code),
        Some(_) => who.sees_region(e.region.as_ref()),
    }
}

/// The entity if `who` may read it; missing and out of reach answer alike.
fn readable(who: &Who, entity: Option<Entity>, asked: &CreditCode) -> Result<Entity> {
    entity.filter(|e| may_read(who, e)).ok_or_else(|| unseen_entity(asked.as_str()))
}

/// A write by staff limited to regions must concern an entity there and keep it there (a new
/// one must be placed there): what they could not see, they cannot change.
fn check_write(who: &Who, before: Option<&Entity>, patch: &EntityPatch) -> Result<()> {
    if who.regions.is_empty() {
        return Ok(());
    }
    if let Some(e) = before
        && !who.sees_region(e.region.as_ref())
    {
        return Err(unseen_entity(e.credit_code.as_str()));
    }
    let outside = |r: Option<&RegionCode>| {
        ServiceError::Forbidden(format!(
            "所在地{}不在您的管辖区域（{}）内",
            r.map(|r| format!(" {r} ")).unwrap_or_default(),
            who.regions_text()
        ))
    };
    match patch.get(Field::Region) {
        Some(Some(FieldValue::Region(r))) if !who.sees_region(Some(r)) => Err(outside(Some(r))),
        Some(None) => Err(outside(None)),
        None if before.is_none() => {
            Err(ServiceError::invalid("region", format!("请填写所在地（您的管辖区域：{}）", who.regions_text())))
        }
        _ => Ok(()),
    }
}
