//! Typed access to the tables. Read methods exist on both transactions (a write transaction
//! reads its own writes); write methods keep each index in step with its record.

use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::codec::{decode, encode};
use super::tables::*;
use super::{Result, StoreError};
use crate::model::audit::{ChainReport, GENESIS, sha256_hex, verify_chain};
use crate::model::case::Case;
use crate::model::imports::ImportJob;
use crate::model::matching::{EligibleSet, MatchEvent};
use crate::model::message::Message;
use crate::model::push::{Delivery, Subscription};
use crate::model::supervision::{Notice, Supervision};
use crate::model::{
    Agreement, AgreementKind, ApiToken, AuditEntry, Binding, ChangeSet, Department, Entity, Invitation, Measure,
    MeasureVersion, Policy, Recovery, Session, TagDef, Timestamp, User, Vocabulary, Who,
};

/// Meta key of the audit chain's head: the last sequence number (8 bytes, little-endian), then
/// its hash.
const AUDIT_HEAD: &str = "audit_head";

/// SHA-256 (hex) of a record's stored encoding, for the audit trail's before/after digests.
pub fn digest<T: Serialize>(value: &T) -> Result<String> {
    Ok(sha256_hex(&encode(value)?))
}

/// A filter over the audit trail.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// The action: exactly, or every action of a group when it ends with a dot (`auth.` finds
    /// every sign-in event).
    pub action: Option<String>,
    /// Matches targets that contain this.
    pub target: Option<String>,
    pub from: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Only entries with a sequence number below this (for paging backwards).
    pub before_seq: Option<u64>,
}

impl AuditFilter {
    pub fn matches(&self, e: &AuditEntry) -> bool {
        self.actor.as_ref().is_none_or(|a| &e.actor == a)
            && self
                .action
                .as_ref()
                .is_none_or(|a| if a.ends_with('.') { e.action.starts_with(a.as_str()) } else { e.action == *a })
            && self.target.as_ref().is_none_or(|t| e.target.contains(t.as_str()))
            && self.from.is_none_or(|f| e.at >= f)
            && self.until.is_none_or(|u| e.at < u)
    }
}

pub struct ReadTx {
    txn: ReadTransaction,
}

pub struct WriteTx {
    txn: WriteTransaction,
}

/// A page of entities from a scan in id order.
#[derive(Debug, Default)]
pub struct EntityScan {
    pub entities: Vec<Entity>,
    /// Where the next page starts (the last id looked at), if the scan stopped early.
    pub next_after: Option<u64>,
}

fn get_record<T: DeserializeOwned>(bytes: Option<redb::AccessGuard<'_, &[u8]>>) -> Result<Option<T>> {
    bytes.map(|b| decode(b.value())).transpose()
}

/// Read methods, written once for both transaction kinds.
macro_rules! read_methods {
    ($tx:ty) => {
        impl $tx {
            pub fn schema_version(&self) -> Result<Option<u64>> {
                let meta = self.txn.open_table(META)?;
                let v = meta.get("schema_version")?;
                Ok(v.and_then(|b| b.value().try_into().ok()).map(u64::from_le_bytes))
            }

            pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
                let meta = self.txn.open_table(META)?;
                Ok(meta.get(key)?.map(|b| b.value().to_vec()))
            }

            pub fn policy(&self, id: u64) -> Result<Option<Policy>> {
                get_record(self.txn.open_table(POLICY_ID_TO_POLICY)?.get(id)?)
            }

            pub fn policies(&self) -> Result<Vec<Policy>> {
                let t = self.txn.open_table(POLICY_ID_TO_POLICY)?;
                t.iter()?.map(|r| decode(r?.1.value())).collect()
            }

            pub fn measure(&self, id: u64) -> Result<Option<Measure>> {
                get_record(self.txn.open_table(MEASURE_ID_TO_MEASURE)?.get(id)?)
            }

            pub fn measures(&self) -> Result<Vec<Measure>> {
                let t = self.txn.open_table(MEASURE_ID_TO_MEASURE)?;
                t.iter()?.map(|r| decode(r?.1.value())).collect()
            }

            pub fn measure_ids_of_policy(&self, policy: u64) -> Result<Vec<u64>> {
                let t = self.txn.open_table(POLICY_TO_MEASURE)?;
                t.range((policy, 0)..=(policy, u64::MAX))?.map(|r| Ok(r?.0.value().1)).collect()
            }

            pub fn version(&self, measure: u64, version: u32) -> Result<Option<MeasureVersion>> {
                get_record(self.txn.open_table(MEASURE_VERSION_TO_VERSION)?.get((measure, version))?)
            }

            /// The version in force of a measure, if it has been published.
            pub fn published_version(&self, measure: u64) -> Result<Option<MeasureVersion>> {
                match self.measure(measure)?.and_then(|m| m.published) {
                    Some(number) => self.version(measure, number),
                    None => Ok(None),
                }
            }

            /// Every version of a measure, oldest first.
            pub fn versions(&self, measure: u64) -> Result<Vec<MeasureVersion>> {
                let t = self.txn.open_table(MEASURE_VERSION_TO_VERSION)?;
                t.range((measure, 0)..=(measure, u32::MAX))?.map(|r| decode(r?.1.value())).collect()
            }

            pub fn department(&self, name: &str) -> Result<Option<Department>> {
                get_record(self.txn.open_table(DEPARTMENT_TO_INFO)?.get(name)?)
            }

            pub fn department_records(&self) -> Result<Vec<Department>> {
                let t = self.txn.open_table(DEPARTMENT_TO_INFO)?;
                t.iter()?.map(|r| decode(r?.1.value())).collect()
            }

            pub fn departments(&self) -> Result<Vec<String>> {
                let t = self.txn.open_table(DEPARTMENT_TO_INFO)?;
                t.iter()?.map(|r| Ok(r?.0.value().to_string())).collect()
            }

            pub fn entity(&self, id: u64) -> Result<Option<Entity>> {
                get_record(self.txn.open_table(ENTITY_ID_TO_ENTITY)?.get(id)?)
            }

            pub fn entity_id_by_code(&self, code: &str) -> Result<Option<u64>> {
                Ok(self.txn.open_table(CREDIT_CODE_TO_ENTITY_ID)?.get(code)?.map(|v| v.value()))
            }

            pub fn entity_by_code(&self, code: &str) -> Result<Option<Entity>> {
                match self.entity_id_by_code(code)? {
                    Some(id) => self.entity(id),
                    None => Ok(None),
                }
            }

            pub fn entity_count(&self) -> Result<u64> {
                Ok(self.txn.open_table(ENTITY_ID_TO_ENTITY)?.len()?)
            }

            /// Entities with id > `after` in id order that pass `keep`, up to `limit`; looks at
            /// no more than `budget` records so that one page never scans the whole library.
            pub fn scan_entities(
                &self,
                after: u64,
                limit: usize,
                budget: usize,
                mut keep: impl FnMut(&Entity) -> bool,
            ) -> Result<EntityScan> {
                let t = self.txn.open_table(ENTITY_ID_TO_ENTITY)?;
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
            pub fn for_each_entity<E: From<StoreError>>(
                &self,
                mut f: impl FnMut(Entity) -> std::result::Result<(), E>,
            ) -> std::result::Result<(), E> {
                let t = self.txn.open_table(ENTITY_ID_TO_ENTITY).map_err(StoreError::from)?;
                for row in t.iter().map_err(StoreError::from)? {
                    let row = row.map_err(StoreError::from)?;
                    f(decode(row.1.value())?)?;
                }
                Ok(())
            }

            /// Calls `f` with every stored portrait record, in entity id order.
            pub fn for_each_portrait_record<E: From<StoreError>>(
                &self,
                mut f: impl FnMut(&[u8]) -> std::result::Result<(), E>,
            ) -> std::result::Result<(), E> {
                let t = self.txn.open_table(ENTITY_ID_TO_PORTRAIT).map_err(StoreError::from)?;
                for row in t.iter().map_err(StoreError::from)? {
                    let row = row.map_err(StoreError::from)?;
                    f(row.1.value())?;
                }
                Ok(())
            }

            /// Ids of entities whose region lies within `prefix` (digit pairs), id > `after`.
            pub fn entity_ids_in_region(&self, prefix: &str, after: u64, limit: usize) -> Result<Vec<u64>> {
                let t = self.txn.open_table(REGION_TO_ENTITY_ID)?;
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

            /// An entity's change history, newest first.
            pub fn changes(&self, entity: u64) -> Result<Vec<ChangeSet>> {
                let t = self.txn.open_table(ENTITY_CHANGE_TO_CHANGESET)?;
                let mut out: Vec<ChangeSet> =
                    t.range((entity, 0)..=(entity, u64::MAX))?.map(|r| decode(r?.1.value())).collect::<Result<_>>()?;
                out.reverse();
                Ok(out)
            }

            pub fn tags(&self) -> Result<Vec<TagDef>> {
                let t = self.txn.open_table(TAG_KEY_TO_TAG)?;
                t.iter()?.map(|r| decode(r?.1.value())).collect()
            }

            pub fn user(&self, id: u64) -> Result<Option<User>> {
                get_record(self.txn.open_table(USER_ID_TO_USER)?.get(id)?)
            }

            pub fn user_by_name(&self, username: &str) -> Result<Option<User>> {
                let id = self.txn.open_table(USERNAME_TO_USER_ID)?.get(username)?.map(|v| v.value());
                match id {
                    Some(id) => self.user(id),
                    None => Ok(None),
                }
            }

            pub fn users(&self) -> Result<Vec<User>> {
                let t = self.txn.open_table(USER_ID_TO_USER)?;
                t.iter()?.map(|r| decode(r?.1.value())).collect()
            }

            /// An account's password-recovery record, if a code was ever sent.
            pub fn recovery(&self, user: u64) -> Result<Option<Recovery>> {
                get_record(self.txn.open_table(USER_ID_TO_RECOVERY)?.get(user)?)
            }

            /// The latest saved version of an agreement, if any was saved.
            pub fn agreement_latest(&self, kind: AgreementKind) -> Result<Option<Agreement>> {
                let t = self.txn.open_table(AGREEMENT_VERSION_TO_TEXT)?;
                let last = t.range((kind.key(), 0)..=(kind.key(), u32::MAX))?.next_back();
                last.map(|r| decode(r?.1.value())).transpose()
            }

            pub fn agreement(&self, kind: AgreementKind, version: u32) -> Result<Option<Agreement>> {
                get_record(self.txn.open_table(AGREEMENT_VERSION_TO_TEXT)?.get((kind.key(), version))?)
            }

            pub fn session(&self, hash: &[u8]) -> Result<Option<Session>> {
                get_record(self.txn.open_table(SESSION_HASH_TO_SESSION)?.get(hash)?)
            }

            /// Every session (key hash, session); a few thousand at most, expired ones are purged.
            pub fn sessions(&self) -> Result<Vec<(Vec<u8>, Session)>> {
                let t = self.txn.open_table(SESSION_HASH_TO_SESSION)?;
                t.iter()?
                    .map(|r| {
                        let (k, v) = r?;
                        Ok((k.value().to_vec(), decode(v.value())?))
                    })
                    .collect()
            }

            pub fn token(&self, hash: &[u8]) -> Result<Option<ApiToken>> {
                get_record(self.txn.open_table(TOKEN_HASH_TO_TOKEN)?.get(hash)?)
            }

            /// Every API token (key hash, record).
            pub fn tokens(&self) -> Result<Vec<(Vec<u8>, ApiToken)>> {
                let t = self.txn.open_table(TOKEN_HASH_TO_TOKEN)?;
                t.iter()?
                    .map(|r| {
                        let (k, v) = r?;
                        Ok((k.value().to_vec(), decode(v.value())?))
                    })
                    .collect()
            }

            pub fn binding(&self, user: u64, code: &str) -> Result<Option<Binding>> {
                get_record(self.txn.open_table(USER_ENTITY_TO_BINDING)?.get((user, code))?)
            }

            pub fn bindings_of_user(&self, user: u64) -> Result<Vec<Binding>> {
                let t = self.txn.open_table(USER_ENTITY_TO_BINDING)?;
                t.range((user, "")..(user.saturating_add(1), ""))?.map(|r| decode(r?.1.value())).collect()
            }

            pub fn bindings_of_entity(&self, code: &str) -> Result<Vec<Binding>> {
                let index = self.txn.open_table(ENTITY_TO_USER)?;
                let users: Vec<u64> =
                    index.range((code, 0)..=(code, u64::MAX))?.map(|r| Ok(r?.0.value().1)).collect::<Result<_>>()?;
                let mut out = Vec::with_capacity(users.len());
                for user in users {
                    out.extend(self.binding(user, code)?);
                }
                Ok(out)
            }

            /// Every binding, in (user, entity) order.
            pub fn bindings(&self) -> Result<Vec<Binding>> {
                let t = self.txn.open_table(USER_ENTITY_TO_BINDING)?;
                t.iter()?.map(|r| decode(r?.1.value())).collect()
            }

            pub fn invitation(&self, id: u64) -> Result<Option<Invitation>> {
                get_record(self.txn.open_table(INVITATION_ID_TO_INVITATION)?.get(id)?)
            }

            pub fn invitation_by_hash(&self, hash: &[u8]) -> Result<Option<Invitation>> {
                let id = self.txn.open_table(INVITATION_HASH_TO_ID)?.get(hash)?.map(|v| v.value());
                match id {
                    Some(id) => self.invitation(id),
                    None => Ok(None),
                }
            }

            /// The newest invitations first, optionally for one entity.
            pub fn invitations(&self, code: Option<&str>, limit: usize) -> Result<Vec<Invitation>> {
                let t = self.txn.open_table(INVITATION_ID_TO_INVITATION)?;
                let mut out = Vec::new();
                for row in t.iter()?.rev() {
                    let inv: Invitation = decode(row?.1.value())?;
                    if code.is_none_or(|c| c == inv.credit_code) {
                        out.push(inv);
                        if out.len() >= limit {
                            break;
                        }
                    }
                }
                Ok(out)
            }

            /// The newest audit entries, newest first.
            pub fn audit_tail(&self, limit: usize) -> Result<Vec<AuditEntry>> {
                self.audit_search(&AuditFilter::default(), limit, usize::MAX)
            }

            /// Entries matching a filter, newest first, looking at no more than `scan` entries.
            pub fn audit_search(&self, filter: &AuditFilter, limit: usize, scan: usize) -> Result<Vec<AuditEntry>> {
                let t = self.txn.open_table(AUDIT_SEQ_TO_ENTRY)?;
                let upper = filter.before_seq.unwrap_or(u64::MAX);
                let mut out = Vec::new();
                for row in t.range(..upper)?.rev().take(scan) {
                    let e: AuditEntry = decode(row?.1.value())?;
                    if filter.matches(&e) {
                        out.push(e);
                        if out.len() >= limit {
                            break;
                        }
                    }
                }
                Ok(out)
            }

            /// The recorded head of the audit chain: last sequence number and its hash.
            pub fn audit_head(&self) -> Result<Option<(u64, String)>> {
                let raw = self.meta(AUDIT_HEAD)?;
                Ok(raw.and_then(|b| {
                    let (seq, hash) = b.split_at_checked(8)?;
                    Some((u64::from_le_bytes(seq.try_into().ok()?), String::from_utf8(hash.to_vec()).ok()?))
                }))
            }

            /// Recomputes the audit chain from the first entry and reports the first broken link.
            pub fn audit_verify(&self) -> Result<ChainReport> {
                let head = self.audit_head()?;
                let t = self.txn.open_table(AUDIT_SEQ_TO_ENTRY)?;
                let mut rows = Vec::new();
                let mut failure = None;
                for row in t.iter()? {
                    match row {
                        Ok((k, v)) => {
                            rows.push((k.value(), decode::<AuditEntry>(v.value()).map_err(|e| e.to_string())));
                        }
                        Err(e) => {
                            failure = Some(e.to_string());
                            break;
                        }
                    }
                }
                let mut report = verify_chain(rows, head);
                if let (Some(e), None) = (failure, &report.broken) {
                    let seq = report.entries + 1;
                    report.broken = Some(crate::model::audit::BrokenLink {
                        seq,
                        reason: format!("the store could not read past record {}: {e}", seq - 1),
                    });
                }
                Ok(report)
            }

            pub fn import_job(&self, id: u64) -> Result<Option<ImportJob>> {
                get_record(self.txn.open_table(IMPORT_ID_TO_JOB)?.get(id)?)
            }

            /// The newest imports first.
            pub fn import_jobs(&self, limit: usize) -> Result<Vec<ImportJob>> {
                let t = self.txn.open_table(IMPORT_ID_TO_JOB)?;
                t.iter()?.rev().take(limit).map(|r| decode(r?.1.value())).collect()
            }

            pub fn import_file(&self, id: u64) -> Result<Option<Vec<u8>>> {
                Ok(self.txn.open_table(IMPORT_ID_TO_FILE)?.get(id)?.map(|b| b.value().to_vec()))
            }

            /// The entity ids last found eligible for a measure, if it was ever matched.
            pub fn eligible_set(&self, measure: u64) -> Result<Option<EligibleSet>> {
                get_record(self.txn.open_table(MEASURE_TO_ELIGIBLE)?.get(measure)?)
            }

            /// Every stored eligible set.
            pub fn eligible_sets(&self) -> Result<Vec<(u64, EligibleSet)>> {
                let t = self.txn.open_table(MEASURE_TO_ELIGIBLE)?;
                t.iter()?
                    .map(|r| {
                        let (k, v) = r?;
                        Ok((k.value(), decode(v.value())?))
                    })
                    .collect()
            }

            /// Match events after `after`, oldest first.
            pub fn match_events(&self, after: u64, limit: usize) -> Result<Vec<MatchEvent>> {
                let t = self.txn.open_table(MATCH_SEQ_TO_EVENT)?;
                t.range(after.saturating_add(1)..)?.take(limit).map(|r| decode(r?.1.value())).collect()
            }

            pub fn case(&self, id: u64) -> Result<Option<Case>> {
                let t = self.txn.open_table(CASE_ID_TO_CASE)?;
                t.get(id)?.map(|v| decode(v.value())).transpose()
            }

            fn cases_by_ids(&self, ids: impl Iterator<Item = Result<u64>>) -> Result<Vec<Case>> {
                let t = self.txn.open_table(CASE_ID_TO_CASE)?;
                let mut out = Vec::new();
                for id in ids {
                    if let Some(v) = t.get(id?)? {
                        out.push(decode(v.value())?);
                    }
                }
                Ok(out)
            }

            /// Calls `f` for every case in id order; stops at the first error. Reads the whole
            /// case table: for figures over all cases, not for pages.
            pub fn for_each_case<E: From<StoreError>>(
                &self,
                mut f: impl FnMut(Case) -> std::result::Result<(), E>,
            ) -> std::result::Result<(), E> {
                let t = self.txn.open_table(CASE_ID_TO_CASE).map_err(StoreError::from)?;
                for row in t.iter().map_err(StoreError::from)? {
                    let row = row.map_err(StoreError::from)?;
                    f(decode(row.1.value())?)?;
                }
                Ok(())
            }

            /// An entity's cases, newest first.
            pub fn cases_of_entity(&self, entity: u64) -> Result<Vec<Case>> {
                let t = self.txn.open_table(ENTITY_TO_CASE)?;
                let ids = t.range((entity, 0)..=(entity, u64::MAX))?.rev().map(|r| Ok(r?.0.value().1));
                self.cases_by_ids(ids)
            }

            /// A measure's cases, oldest first, from `after` (exclusive), at most `limit`.
            pub fn cases_of_measure(&self, measure: u64, after: u64, limit: usize) -> Result<Vec<Case>> {
                let t = self.txn.open_table(MEASURE_TO_CASE)?;
                let ids = t
                    .range((measure, after.saturating_add(1))..=(measure, u64::MAX))?
                    .take(limit)
                    .map(|r| Ok(r?.0.value().1));
                self.cases_by_ids(ids)
            }

            /// Open cases (in review, returned, waiting for budget) of one department, or of all.
            pub fn open_cases(&self, department: Option<&str>) -> Result<Vec<Case>> {
                let t = self.txn.open_table(DEPARTMENT_TO_OPEN_CASE)?;
                let ids: Vec<Result<u64>> = match department {
                    Some(d) => t.range((d, 0)..=(d, u64::MAX))?.map(|r| Ok(r?.0.value().1)).collect(),
                    None => t.iter()?.map(|r| Ok(r?.0.value().1)).collect(),
                };
                self.cases_by_ids(ids.into_iter())
            }

            /// The sum of a measure's approved amounts, in fen.
            pub fn spent(&self, measure: u64) -> Result<i64> {
                let t = self.txn.open_table(MEASURE_TO_SPENT)?;
                Ok(t.get(measure)?.map_or(0, |v| v.value()))
            }

            /// An entity's messages, newest first.
            pub fn messages(&self, entity: u64, limit: usize) -> Result<Vec<Message>> {
                let t = self.txn.open_table(ENTITY_TO_MESSAGE)?;
                t.range((entity, 0)..=(entity, u64::MAX))?.rev().take(limit).map(|r| decode(r?.1.value())).collect()
            }

            pub fn message(&self, entity: u64, id: u64) -> Result<Option<Message>> {
                let t = self.txn.open_table(ENTITY_TO_MESSAGE)?;
                t.get((entity, id))?.map(|v| decode(v.value())).transpose()
            }

            /// A department's notices, newest first.
            pub fn notices(&self, department: &str, limit: usize) -> Result<Vec<Notice>> {
                let t = self.txn.open_table(DEPARTMENT_TO_NOTICE)?;
                t.range((department, 0)..=(department, u64::MAX))?
                    .rev()
                    .take(limit)
                    .map(|r| decode(r?.1.value()))
                    .collect()
            }

            pub fn notice(&self, department: &str, id: u64) -> Result<Option<Notice>> {
                let t = self.txn.open_table(DEPARTMENT_TO_NOTICE)?;
                t.get((department, id))?.map(|v| decode(v.value())).transpose()
            }

            pub fn supervision(&self, id: u64) -> Result<Option<Supervision>> {
                let t = self.txn.open_table(SUPERVISION_ID_TO_ITEM)?;
                t.get(id)?.map(|v| decode(v.value())).transpose()
            }

            pub fn supervision_of(&self, case: u64, stage: u32) -> Result<Option<u64>> {
                let t = self.txn.open_table(CASE_STAGE_TO_SUPERVISION)?;
                Ok(t.get((case, stage))?.map(|v| v.value()))
            }

            /// Every supervision item, newest first.
            pub fn supervisions(&self) -> Result<Vec<Supervision>> {
                let t = self.txn.open_table(SUPERVISION_ID_TO_ITEM)?;
                t.iter()?.rev().map(|r| decode(r?.1.value())).collect()
            }

            /// Entity ids a specialist looks after.
            pub fn assigned_entities(&self, specialist: u64) -> Result<Vec<u64>> {
                let t = self.txn.open_table(SPECIALIST_TO_ENTITY)?;
                t.range((specialist, 0)..=(specialist, u64::MAX))?.map(|r| Ok(r?.0.value().1)).collect()
            }

            /// The specialists who look after an entity.
            pub fn specialists_of(&self, entity: u64) -> Result<Vec<u64>> {
                let t = self.txn.open_table(ENTITY_TO_SPECIALIST)?;
                t.range((entity, 0)..=(entity, u64::MAX))?.map(|r| Ok(r?.0.value().1)).collect()
            }

            pub fn delivery(&self, id: u64) -> Result<Option<Delivery>> {
                let t = self.txn.open_table(OUTBOX_ID_TO_DELIVERY)?;
                t.get(id)?.map(|v| decode(v.value())).transpose()
            }

            /// Pending deliveries due at `now` (ms since the epoch), the oldest first.
            pub fn due_deliveries(&self, now: i64, limit: usize) -> Result<Vec<Delivery>> {
                let due = self.txn.open_table(OUTBOX_DUE)?;
                let t = self.txn.open_table(OUTBOX_ID_TO_DELIVERY)?;
                let mut out = Vec::new();
                for row in due.range((i64::MIN, 0)..=(now, u64::MAX))?.take(limit) {
                    let id = row?.0.value().1;
                    if let Some(v) = t.get(id)? {
                        out.push(decode(v.value())?);
                    }
                }
                Ok(out)
            }

            /// An entity's deliveries, newest first.
            pub fn deliveries_of(&self, entity: u64, limit: usize) -> Result<Vec<Delivery>> {
                let index = self.txn.open_table(ENTITY_TO_DELIVERY)?;
                let t = self.txn.open_table(OUTBOX_ID_TO_DELIVERY)?;
                let mut out = Vec::new();
                for row in index.range((entity, 0)..=(entity, u64::MAX))?.rev().take(limit) {
                    if let Some(v) = t.get(row?.0.value().1)? {
                        out.push(decode(v.value())?);
                    }
                }
                Ok(out)
            }

            /// Counts of deliveries by status (for the administration page and `/metrics`).
            pub fn outbox_counts(&self) -> Result<(u64, u64, u64)> {
                use crate::model::push::DeliveryStatus;
                let t = self.txn.open_table(OUTBOX_ID_TO_DELIVERY)?;
                let (mut pending, mut sent, mut failed) = (0, 0, 0);
                for row in t.iter()? {
                    match decode::<Delivery>(row?.1.value())?.status {
                        DeliveryStatus::Pending => pending += 1,
                        DeliveryStatus::Sent => sent += 1,
                        DeliveryStatus::Failed | DeliveryStatus::Cancelled => failed += 1,
                    }
                }
                Ok((pending, sent, failed))
            }

            pub fn pushed(&self, entity: u64, measure: u64, version: u32) -> Result<Option<u64>> {
                let t = self.txn.open_table(PUSHED)?;
                Ok(t.get((entity, measure, version))?.map(|v| v.value()))
            }

            pub fn reminded(&self, entity: u64, measure: u64, version: u32) -> Result<bool> {
                let t = self.txn.open_table(REMINDED)?;
                Ok(t.get((entity, measure, version))?.is_some())
            }

            pub fn subscription(&self, entity: u64) -> Result<Subscription> {
                let t = self.txn.open_table(ENTITY_TO_SUBSCRIPTION)?;
                Ok(t.get(entity)?.map(|v| decode(v.value())).transpose()?.unwrap_or_default())
            }

            /// Calendar entries (days since epoch → encoded entry) in a day range.
            pub fn calendar<T: DeserializeOwned>(&self, from: i32, to: i32) -> Result<Vec<(i32, T)>> {
                let t = self.txn.open_table(DAY_TO_CALENDAR_ENTRY)?;
                t.range(from..=to)?
                    .map(|r| {
                        let (k, v) = r?;
                        Ok((k.value(), decode(v.value())?))
                    })
                    .collect()
            }
        }
    };
}

read_methods!(ReadTx);
read_methods!(WriteTx);

impl ReadTx {
    pub(super) fn new(txn: ReadTransaction) -> ReadTx {
        ReadTx { txn }
    }

    /// The redb transaction, for copying tables whole (see `store::backup`).
    pub(super) fn raw(&self) -> &ReadTransaction {
        &self.txn
    }
}

fn put<K: redb::Key + 'static>(
    txn: &WriteTransaction,
    def: redb::TableDefinition<K, &'static [u8]>,
    key: K::SelfType<'_>,
    value: &impl Serialize,
) -> Result<()> {
    let bytes = encode(value)?;
    txn.open_table(def)?.insert(key, bytes.as_slice())?;
    Ok(())
}

impl WriteTx {
    pub(super) fn new(txn: WriteTransaction) -> WriteTx {
        WriteTx { txn }
    }

    pub fn commit(self) -> Result<()> {
        self.txn.commit()?;
        Ok(())
    }

    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        self.txn.open_table(META)?.insert(key, value)?;
        Ok(())
    }

    /// The next id of a kind of record, starting at 1.
    pub fn next_id(&self, kind: &str) -> Result<u64> {
        let mut t = self.txn.open_table(KIND_TO_LAST_ID)?;
        let next = t.get(kind)?.map_or(0, |v| v.value()) + 1;
        t.insert(kind, next)?;
        Ok(next)
    }

    /// Sets the last id handed out for a kind (after writing ids in bulk).
    pub fn set_next_id(&self, kind: &str, last: u64) -> Result<()> {
        self.txn.open_table(KIND_TO_LAST_ID)?.insert(kind, last)?;
        Ok(())
    }

    pub fn put_policy(&self, policy: &Policy) -> Result<()> {
        put(&self.txn, POLICY_ID_TO_POLICY, policy.id, policy)?;
        self.note_department(&policy.content.department)
    }

    pub fn put_measure(&self, measure: &Measure) -> Result<()> {
        put(&self.txn, MEASURE_ID_TO_MEASURE, measure.id, measure)?;
        self.txn.open_table(POLICY_TO_MEASURE)?.insert((measure.policy_id, measure.id), ())?;
        Ok(())
    }

    pub fn put_version(&self, version: &MeasureVersion) -> Result<()> {
        put(&self.txn, MEASURE_VERSION_TO_VERSION, (version.measure_id, version.version), version)?;
        self.note_department(&version.spec.department)
    }

    pub fn delete_version(&self, measure: u64, version: u32) -> Result<()> {
        self.txn.open_table(MEASURE_VERSION_TO_VERSION)?.remove((measure, version))?;
        Ok(())
    }

    fn note_department(&self, name: &str) -> Result<()> {
        if !name.is_empty() && self.department(name)?.is_none() {
            self.put_department(&Department {
                name: name.to_string(),
                region: None,
                created_at: Some(Timestamp::now()),
            })?;
        }
        Ok(())
    }

    pub fn put_department(&self, department: &Department) -> Result<()> {
        put(&self.txn, DEPARTMENT_TO_INFO, department.name.as_str(), department)
    }

    /// Writes an entity and its indexes. `before` is the stored record it replaces, if any.
    pub fn put_entity(&self, entity: &Entity, before: Option<&Entity>) -> Result<()> {
        put(&self.txn, ENTITY_ID_TO_ENTITY, entity.id, entity)?;
        let record = crate::model::portrait_record::encode(entity);
        self.txn.open_table(ENTITY_ID_TO_PORTRAIT)?.insert(entity.id, record.as_slice())?;
        let mut codes = self.txn.open_table(CREDIT_CODE_TO_ENTITY_ID)?;
        let mut regions = self.txn.open_table(REGION_TO_ENTITY_ID)?;
        if let Some(old) = before {
            if old.credit_code != entity.credit_code {
                codes.remove(old.credit_code.as_str())?;
            }
            if let Some(r) = &old.region
                && old.region != entity.region
            {
                regions.remove((r.as_str(), old.id))?;
            }
        }
        if let Some(existing) = codes.get(entity.credit_code.as_str())?.map(|v| v.value())
            && existing != entity.id
        {
            return Err(StoreError::Codec {
                what: "credit code index".into(),
                detail: format!("{} already belongs to entity {existing}", entity.credit_code),
            });
        }
        codes.insert(entity.credit_code.as_str(), entity.id)?;
        if let Some(r) = &entity.region {
            regions.insert((r.as_str(), entity.id), ())?;
        }
        Ok(())
    }

    pub fn add_changes(&self, entity: u64, changes: &ChangeSet) -> Result<()> {
        let mut t = self.txn.open_table(ENTITY_CHANGE_TO_CHANGESET)?;
        let next = match t.range((entity, 0)..=(entity, u64::MAX))?.next_back() {
            Some(row) => row?.0.value().1 + 1,
            None => 1,
        };
        let bytes = encode(changes)?;
        t.insert((entity, next), bytes.as_slice())?;
        Ok(())
    }

    pub fn put_tag(&self, tag: &TagDef) -> Result<()> {
        put(&self.txn, TAG_KEY_TO_TAG, tag.key.as_str(), tag)
    }

    pub fn put_user(&self, user: &User) -> Result<()> {
        let mut names = self.txn.open_table(USERNAME_TO_USER_ID)?;
        if let Some(old) = self.user(user.id)?
            && old.username != user.username
        {
            names.remove(old.username.as_str())?;
        }
        names.insert(user.username.as_str(), user.id)?;
        drop(names);
        put(&self.txn, USER_ID_TO_USER, user.id, user)
    }

    pub fn put_recovery(&self, recovery: &Recovery) -> Result<()> {
        put(&self.txn, USER_ID_TO_RECOVERY, recovery.user_id, recovery)
    }

    pub fn put_agreement(&self, agreement: &Agreement) -> Result<()> {
        put(&self.txn, AGREEMENT_VERSION_TO_TEXT, (agreement.kind.key(), agreement.version), agreement)
    }

    pub fn put_session(&self, hash: &[u8], session: &Session) -> Result<()> {
        put(&self.txn, SESSION_HASH_TO_SESSION, hash, session)
    }

    pub fn delete_session(&self, hash: &[u8]) -> Result<()> {
        self.txn.open_table(SESSION_HASH_TO_SESSION)?.remove(hash)?;
        Ok(())
    }

    /// Removes sessions that expired before `now`; returns how many.
    pub fn purge_sessions(&self, now: Timestamp) -> Result<u64> {
        let mut t = self.txn.open_table(SESSION_HASH_TO_SESSION)?;
        let expired = t.extract_if(|_, v| decode::<Session>(v).map(|s| s.expires_at < now).unwrap_or(true))?;
        let mut n = 0;
        for row in expired {
            row?;
            n += 1;
        }
        Ok(n)
    }

    pub fn put_token(&self, hash: &[u8], token: &ApiToken) -> Result<()> {
        put(&self.txn, TOKEN_HASH_TO_TOKEN, hash, token)
    }

    pub fn put_binding(&self, binding: &Binding) -> Result<()> {
        put(&self.txn, USER_ENTITY_TO_BINDING, (binding.user_id, binding.credit_code.as_str()), binding)?;
        self.txn.open_table(ENTITY_TO_USER)?.insert((binding.credit_code.as_str(), binding.user_id), ())?;
        Ok(())
    }

    pub fn put_invitation(&self, invitation: &Invitation) -> Result<()> {
        put(&self.txn, INVITATION_ID_TO_INVITATION, invitation.id, invitation)?;
        self.txn.open_table(INVITATION_HASH_TO_ID)?.insert(invitation.code_hash.as_slice(), invitation.id)?;
        Ok(())
    }

    /// Ends every session of a user except `keep` (a key hash); returns how many ended.
    pub fn delete_sessions_of_user(&self, user: u64, keep: Option<&[u8]>) -> Result<u64> {
        let mut t = self.txn.open_table(SESSION_HASH_TO_SESSION)?;
        let ended =
            t.extract_if(|k, v| keep != Some(k) && decode::<Session>(v).map(|s| s.user_id == user).unwrap_or(false))?;
        let mut n = 0;
        for row in ended {
            row?;
            n += 1;
        }
        Ok(n)
    }

    /// Appends an audit entry in this transaction.
    pub fn audit(&self, who: &Who, action: &str, target: &str, detail: &str) -> Result<()> {
        self.audit_change(who, action, target, detail, None, None)
    }

    /// Appends an audit entry with digests of the record before and after the change (see
    /// [`digest`]), chained to the entry before it.
    pub fn audit_change(
        &self,
        who: &Who,
        action: &str,
        target: &str,
        detail: &str,
        before: Option<String>,
        after: Option<String>,
    ) -> Result<()> {
        let (last, prev) = match self.audit_head()? {
            Some(head) => head,
            None => (0, GENESIS.to_string()),
        };
        let mut entry = AuditEntry {
            seq: last + 1,
            at: Timestamp::now(),
            actor: who.name.clone(),
            role: who.role_key().to_string(),
            ip: who.ip.clone(),
            action: action.to_string(),
            target: target.to_string(),
            detail: detail.to_string(),
            before,
            after,
            prev: String::new(),
            hash: String::new(),
        };
        entry.seal(&prev);
        self.append_audit(&entry)
    }

    /// Stores a sealed entry and moves the chain's head to it.
    pub(super) fn append_audit(&self, entry: &AuditEntry) -> Result<()> {
        let bytes = encode(entry)?;
        self.txn.open_table(AUDIT_SEQ_TO_ENTRY)?.insert(entry.seq, bytes.as_slice())?;
        let mut head = entry.seq.to_le_bytes().to_vec();
        head.extend_from_slice(entry.hash.as_bytes());
        self.set_meta(AUDIT_HEAD, &head)
    }

    pub fn put_import_job(&self, job: &ImportJob) -> Result<()> {
        put(&self.txn, IMPORT_ID_TO_JOB, job.id, job)
    }

    pub fn put_import_file(&self, id: u64, bytes: &[u8]) -> Result<()> {
        self.txn.open_table(IMPORT_ID_TO_FILE)?.insert(id, bytes)?;
        Ok(())
    }

    pub fn delete_import_file(&self, id: u64) -> Result<()> {
        self.txn.open_table(IMPORT_ID_TO_FILE)?.remove(id)?;
        Ok(())
    }

    pub fn put_eligible_set(&self, measure: u64, set: &EligibleSet) -> Result<()> {
        put(&self.txn, MEASURE_TO_ELIGIBLE, measure, set)
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

    /// Writes a case and keeps its indexes: by entity, by measure, and the department's open
    /// cases. `before` is the stored record it replaces, if any.
    pub fn put_case(&self, case: &Case, before: Option<&Case>) -> Result<()> {
        put(&self.txn, CASE_ID_TO_CASE, case.id, case)?;
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

    /// Adds to a measure's approved total; returns the new total in fen.
    pub fn add_spent(&self, measure: u64, fen: i64) -> Result<i64> {
        let mut t = self.txn.open_table(MEASURE_TO_SPENT)?;
        let total = t.get(measure)?.map_or(0, |v| v.value()).saturating_add(fen);
        t.insert(measure, total)?;
        Ok(total)
    }

    pub fn put_message(&self, message: &Message) -> Result<()> {
        put(&self.txn, ENTITY_TO_MESSAGE, (message.entity_id, message.id), message)
    }

    pub fn put_notice(&self, notice: &Notice) -> Result<()> {
        put(&self.txn, DEPARTMENT_TO_NOTICE, (notice.department.as_str(), notice.id), notice)
    }

    pub fn put_supervision(&self, item: &Supervision) -> Result<()> {
        put(&self.txn, SUPERVISION_ID_TO_ITEM, item.id, item)?;
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

    /// Writes a delivery and keeps the due index: pending ones are listed by `not_before`.
    pub fn put_delivery(&self, d: &Delivery, before: Option<&Delivery>) -> Result<()> {
        use crate::model::push::DeliveryStatus;
        put(&self.txn, OUTBOX_ID_TO_DELIVERY, d.id, d)?;
        self.txn.open_table(ENTITY_TO_DELIVERY)?.insert((d.entity_id, d.id), ())?;
        let mut due = self.txn.open_table(OUTBOX_DUE)?;
        if let Some(b) = before.filter(|b| b.status == DeliveryStatus::Pending) {
            due.remove((b.not_before.0, b.id))?;
        }
        if d.status == DeliveryStatus::Pending {
            due.insert((d.not_before.0, d.id), ())?;
        }
        Ok(())
    }

    pub fn set_pushed(&self, entity: u64, measure: u64, version: u32, message: u64) -> Result<()> {
        self.txn.open_table(PUSHED)?.insert((entity, measure, version), message)?;
        Ok(())
    }

    pub fn set_reminded(&self, entity: u64, measure: u64, version: u32) -> Result<()> {
        self.txn.open_table(REMINDED)?.insert((entity, measure, version), ())?;
        Ok(())
    }

    pub fn put_subscription(&self, entity: u64, s: &Subscription) -> Result<()> {
        put(&self.txn, ENTITY_TO_SUBSCRIPTION, entity, s)
    }

    pub fn delete_calendar_range(&self, from: i32, to: i32) -> Result<()> {
        let mut t = self.txn.open_table(DAY_TO_CALENDAR_ENTRY)?;
        let days: Vec<i32> = t.range(from..=to)?.map(|r| Ok(r?.0.value())).collect::<Result<_>>()?;
        for d in days {
            t.remove(d)?;
        }
        Ok(())
    }

    pub fn put_calendar(&self, day: i32, entry: &impl Serialize) -> Result<()> {
        put(&self.txn, DAY_TO_CALENDAR_ENTRY, day, entry)
    }
}
