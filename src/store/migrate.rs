//! Schema version and ordered migrations (version = number of migrations applied).

use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableHandle, WriteTransaction};

use super::tables::*;
use super::{APP_MARKER, Result, Store, StoreError, codec};
use crate::model::Entity;

type Migration = fn(&WriteTransaction) -> Result<()>;

/// Migration `i` takes the store from version `i` to `i + 1`.
const MIGRATIONS: &[(&str, Migration)] = &[
    ("create the initial tables", create_v1_tables),
    ("index entities by region", index_entities_by_region),
    ("create the matching tables", create_match_tables),
    ("store compact portrait records", store_portrait_records),
    ("accounts: new role names, departments, bindings, invitations, scoped tokens, chained audit", accounts_v5),
    ("create the case, inbox, outbox, notice, supervision and assignment tables", create_case_tables),
    ("create the password-recovery and agreement tables", create_recovery_tables),
    ("log entity writes for the portrait snapshot", create_portrait_log),
    ("store entities positionally, their history as deltas, no portrait records", compact_entities),
    ("create the payment ledger, 免申即享 lists, disclosures and payment batches", create_payout_tables),
];

pub const SCHEMA_VERSION: u64 = MIGRATIONS.len() as u64;

const VERSION_KEY: &str = "schema_version";
const APP_KEY: &str = "app";

fn create_v1_tables(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(KIND_TO_LAST_ID)?;
    tx.open_table(POLICY_ID_TO_POLICY)?;
    tx.open_table(MEASURE_ID_TO_MEASURE)?;
    tx.open_table(MEASURE_VERSION_TO_VERSION)?;
    tx.open_table(POLICY_TO_MEASURE)?;
    tx.open_table(DEPARTMENT_TO_INFO)?;
    tx.open_table(ENTITY_ID_TO_ENTITY)?;
    tx.open_table(CREDIT_CODE_TO_ENTITY_ID)?;
    tx.open_table(ENTITY_CHANGE_TO_CHANGESET)?;
    tx.open_table(TAG_KEY_TO_TAG)?;
    tx.open_table(USER_ID_TO_USER)?;
    tx.open_table(USERNAME_TO_USER_ID)?;
    tx.open_table(SESSION_HASH_TO_SESSION)?;
    tx.open_table(TOKEN_HASH_TO_TOKEN)?;
    tx.open_table(AUDIT_SEQ_TO_ENTRY)?;
    tx.open_table(IMPORT_ID_TO_JOB)?;
    tx.open_table(IMPORT_ID_TO_FILE)?;
    tx.open_table(DAY_TO_CALENDAR_ENTRY)?;
    Ok(())
}

fn index_entities_by_region(tx: &WriteTransaction) -> Result<()> {
    let entities = tx.open_table(ENTITY_ID_TO_ENTITY)?;
    let mut index = tx.open_table(REGION_TO_ENTITY_ID)?;
    for row in entities.iter()? {
        let (id, bytes) = row?;
        let entity: Entity = codec::decode(bytes.value())?;
        if let Some(region) = &entity.region {
            index.insert((region.as_str(), id.value()), ())?;
        }
    }
    Ok(())
}

fn create_match_tables(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(MEASURE_TO_ELIGIBLE)?;
    tx.open_table(MATCH_SEQ_TO_EVENT)?;
    Ok(())
}

fn create_case_tables(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(CASE_ID_TO_CASE)?;
    tx.open_table(ENTITY_TO_CASE)?;
    tx.open_table(MEASURE_TO_CASE)?;
    tx.open_table(DEPARTMENT_TO_OPEN_CASE)?;
    tx.open_table(MEASURE_TO_SPENT)?;
    tx.open_table(ENTITY_TO_MESSAGE)?;
    tx.open_table(DEPARTMENT_TO_NOTICE)?;
    tx.open_table(SUPERVISION_ID_TO_ITEM)?;
    tx.open_table(CASE_STAGE_TO_SUPERVISION)?;
    tx.open_table(SPECIALIST_TO_ENTITY)?;
    tx.open_table(ENTITY_TO_SPECIALIST)?;
    tx.open_table(DELIVERY_ID_TO_DELIVERY)?;
    tx.open_table(DUE_TO_DELIVERY)?;
    tx.open_table(ENTITY_TO_DELIVERY)?;
    tx.open_table(ENTITY_VERSION_TO_PUSH_MESSAGE)?;
    tx.open_table(ENTITY_TO_REMINDED_VERSION)?;
    tx.open_table(ENTITY_TO_SUBSCRIPTION)?;
    Ok(())
}

fn create_recovery_tables(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(USER_ID_TO_RECOVERY)?;
    tx.open_table(AGREEMENT_VERSION_TO_TEXT)?;
    Ok(())
}

fn create_payout_tables(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(MEASURE_TO_PAID)?;
    tx.open_table(AUTO_LIST_ID_TO_LIST)?;
    tx.open_table(MEASURE_TO_AUTO_LIST)?;
    tx.open_table(AUTO_LIST_TO_CASE)?;
    tx.open_table(AUTO_LIST_TO_PENDING)?;
    tx.open_table(OFFER_DUE_TO_CASE)?;
    tx.open_table(DISCLOSURE_ID_TO_BATCH)?;
    tx.open_table(DISCLOSURE_TO_ROW)?;
    tx.open_table(OBJECTION_ID_TO_OBJECTION)?;
    tx.open_table(RECEIPT_TO_OBJECTION)?;
    tx.open_table(PAYMENT_BATCH_ID_TO_BATCH)?;
    tx.open_table(PAYMENT_BATCH_TO_CASE)?;
    tx.open_table(EXTERNAL_NO_TO_CASE)?;
    Ok(())
}

fn create_portrait_log(tx: &WriteTransaction) -> Result<()> {
    tx.open_table(PORTRAIT_SEQ_TO_CHANGES)?;
    Ok(())
}

/// Entity id → its rule-facing values (`model::portrait_record`), written with every entity
/// record from schema version 4 to 8. The portrait is now built from the entity records and
/// kept in its snapshot file.
const RETIRED_ENTITY_ID_TO_PORTRAIT: TableDefinition<u64, &[u8]> = TableDefinition::new("entity_portraits-0");

/// Built the portrait records, which version 9 drops again: nothing to do on the way there.
fn store_portrait_records(_: &WriteTransaction) -> Result<()> {
    Ok(())
}

fn compact_entities(tx: &WriteTransaction) -> Result<()> {
    tx.delete_table(RETIRED_ENTITY_ID_TO_PORTRAIT)?;
    super::history::compact_entities(tx)
}

fn accounts_v5(tx: &WriteTransaction) -> Result<()> {
    use crate::model::audit::GENESIS;
    use crate::model::{ApiToken, AuditEntry, Binding, BindingMethod, BindingStatus, Capacity, Department, User};
    tx.open_table(INVITATION_ID_TO_INVITATION)?;
    tx.open_table(INVITATION_HASH_TO_INVITATION_ID)?;
    let mut bindings = tx.open_table(USER_ENTITY_TO_BINDING)?;
    let mut entity_users = tx.open_table(ENTITY_TO_USER)?;

    let mut departments = tx.open_table(DEPARTMENT_TO_INFO)?;
    let names: Vec<String> = departments.iter()?.map(|r| Ok(r?.0.value().to_string())).collect::<Result<_>>()?;
    for name in names {
        let record = Department { name: name.clone(), region: None, created_at: None };
        departments.insert(name.as_str(), codec::encode(&record)?.as_slice())?;
    }

    // Old role keys read through serde aliases; writing the record back stores the new ones.
    let mut users = tx.open_table(USER_ID_TO_USER)?;
    let all: Vec<User> = users.iter()?.map(|r| codec::decode(r?.1.value())).collect::<Result<_>>()?;
    for mut user in all {
        if let Some(code) = user.legacy_entity.take() {
            let binding = Binding {
                user_id: user.id,
                credit_code: code.clone(),
                entity_name: String::new(),
                capacity: Capacity::Agent,
                status: BindingStatus::Verified,
                requested_at: user.created_at,
                decided_at: Some(user.created_at),
                decided_by: Some("migration".into()),
                method: Some(BindingMethod::Migrated),
                note: String::new(),
            };
            bindings.insert((user.id, code.as_str()), codec::encode(&binding)?.as_slice())?;
            entity_users.insert((code.as_str(), user.id), ())?;
        }
        users.insert(user.id, codec::encode(&user)?.as_slice())?;
    }

    // Tokens made before scopes existed could do anything their account could: keep that.
    let mut tokens = tx.open_table(TOKEN_HASH_TO_TOKEN)?;
    let all: Vec<(Vec<u8>, ApiToken)> = tokens
        .iter()?
        .map(|r| {
            let (k, v) = r?;
            Ok((k.value().to_vec(), codec::decode(v.value())?))
        })
        .collect::<Result<_>>()?;
    let mut last_token_id = 0;
    for (hash, mut token) in all {
        last_token_id += 1;
        token.id = last_token_id;
        if token.scopes.is_empty() {
            token.scopes = <crate::model::TokenScope as crate::model::Vocabulary>::ALL.to_vec();
        }
        tokens.insert(hash.as_slice(), codec::encode(&token)?.as_slice())?;
    }
    tx.open_table(KIND_TO_LAST_ID)?.insert("token", last_token_id)?;

    // Entries written before the chain existed are sealed now, in their order.
    let mut audit = tx.open_table(AUDIT_SEQ_TO_ENTRY)?;
    let all: Vec<AuditEntry> = audit.iter()?.map(|r| codec::decode(r?.1.value())).collect::<Result<_>>()?;
    let mut prev = GENESIS.to_string();
    let mut head = None;
    for mut entry in all {
        entry.seal(&prev);
        prev = entry.hash.clone();
        audit.insert(entry.seq, codec::encode(&entry)?.as_slice())?;
        head = Some(entry.seq);
    }
    if let Some(seq) = head {
        let mut value = seq.to_le_bytes().to_vec();
        value.extend_from_slice(prev.as_bytes());
        tx.open_table(META_KEY_TO_VALUE)?.insert("audit_head", value.as_slice())?;
    }
    Ok(())
}

/// Brings a freshly opened file to the current schema, or refuses it.
pub(super) fn prepare(store: &Store, fresh: bool) -> Result<()> {
    let found = {
        let tx = store.db.begin_read()?;
        let names: Vec<String> = tx.list_tables()?.map(|t| t.name().to_string()).collect();
        if names.iter().any(|n| n == META_KEY_TO_VALUE.name()) {
            let meta = tx.open_table(META_KEY_TO_VALUE)?;
            let app = meta.get(APP_KEY)?.map(|v| v.value().to_vec());
            if app.as_deref() != Some(APP_MARKER) {
                return Err(StoreError::Foreign(store.path.clone(), "no huiqi marker in its meta table".into()));
            }
            let version = meta.get(VERSION_KEY)?.map(|v| v.value().to_vec()).unwrap_or_default();
            let bytes: [u8; 8] = version
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt(store.path.clone(), "unreadable schema version".into()))?;
            u64::from_le_bytes(bytes)
        } else if names.is_empty() {
            0
        } else {
            return Err(StoreError::Foreign(
                store.path.clone(),
                format!("it holds tables huiqi does not know ({})", names.join(", ")),
            ));
        }
    };
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew { path: store.path.clone(), found, known: SCHEMA_VERSION });
    }
    for (i, (what, migration)) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let to = i as u64 + 1;
        if !fresh {
            tracing::info!(from = i, to, what, "migrating store");
        }
        let tx = store.db.begin_write()?;
        migration(&tx)?;
        set_version(&tx, to)?;
        tx.commit()?;
    }
    Ok(())
}

fn set_version(tx: &WriteTransaction, version: u64) -> Result<()> {
    let mut meta = tx.open_table(META_KEY_TO_VALUE)?;
    meta.insert(APP_KEY, APP_MARKER)?;
    meta.insert(VERSION_KEY, version.to_le_bytes().as_slice())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use redb::Database;

    use super::*;
    use crate::model::{CreditCode, RegionCode, Timestamp};
    use crate::store::FILE_NAME;
    use crate::store::prelude::*;

    /// Writes a store exactly as schema version 1 left it: no region index.
    fn write_v1_file(dir: &std::path::Path) {
        let db = Database::create(dir.join(FILE_NAME)).unwrap();
        let tx = db.begin_write().unwrap();
        create_v1_tables(&tx).unwrap();
        set_version(&tx, 1).unwrap();
        {
            let mut entities = tx.open_table(ENTITY_ID_TO_ENTITY).unwrap();
            let mut codes = tx.open_table(CREDIT_CODE_TO_ENTITY_ID).unwrap();
            for (id, code, region) in [(1, "91350100M000100Y43", Some("230125")), (2, "91230100MA1BXXXX1X", None)] {
                let mut e = Entity::new(id, CreditCode::parse(code).unwrap(), Timestamp(0));
                e.region = region.map(|r| RegionCode::parse(r).unwrap());
                entities.insert(id, codec::encode(&e).unwrap().as_slice()).unwrap();
                codes.insert(code, id).unwrap();
            }
            // Entity 1's creation, its values after spelled out as versions before 9 stored them.
            let mut changes = tx.open_table(ENTITY_CHANGE_TO_CHANGESET).unwrap();
            let set = crate::model::ChangeSet {
                at: Timestamp(0),
                actor: crate::model::Actor::System { what: "导入".into() },
                changes: vec![crate::model::FieldChange {
                    field: "region".into(),
                    old: None,
                    new: Some("230125".into()),
                }],
            };
            changes.insert((1, 1), codec::encode(&set).unwrap().as_slice()).unwrap();
        }
        tx.commit().unwrap();
    }

    #[test]
    fn opens_a_version_1_file_and_migrates_it() {
        let dir = tempfile::tempdir().unwrap();
        write_v1_file(dir.path());
        let store = Store::open(dir.path()).unwrap();
        let tx = store.read().unwrap();
        assert_eq!(tx.schema_version().unwrap(), Some(SCHEMA_VERSION));
        assert_eq!(tx.entity_ids_in_region("2301", 0, 10).unwrap(), vec![1]);
        assert_eq!(tx.entity_by_code("91350100M000100Y43").unwrap().map(|e| e.id), Some(1));
        let mut formats = Vec::new();
        tx.for_each_entity_record(|id, b| {
            formats.push((id, b[0]));
            Ok::<_, StoreError>(())
        })
        .unwrap();
        assert_eq!(formats, [(1, codec::FORMAT_RMP_COMPACT), (2, codec::FORMAT_RMP_COMPACT)], "records rewritten");
        let history = tx.changes(1).unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].changes[0].new.as_deref(), Some("230125"), "the creation's value reads back");
        let stored = crate::store::Tables::table(&tx, ENTITY_CHANGE_TO_CHANGESET)
            .unwrap()
            .get((1, 1))
            .unwrap()
            .unwrap()
            .value()
            .to_vec();
        assert_eq!(stored[0], codec::FORMAT_RMP_COMPACT, "the history is kept as deltas");
        assert!(
            !store.table_names().unwrap().iter().any(|n| n == RETIRED_ENTITY_ID_TO_PORTRAIT.name()),
            "no portrait records"
        );
    }

    /// More entities than one batch of the version-9 rewrite, each with the history of its
    /// creation as version 8 stored it.
    #[test]
    fn version_9_rewrites_every_entity_and_its_history() {
        let dir = tempfile::tempdir().unwrap();
        let n = 10_000 + 7;
        {
            let db = Database::create(dir.path().join(FILE_NAME)).unwrap();
            let tx = db.begin_write().unwrap();
            for (_, migration) in &MIGRATIONS[..8] {
                migration(&tx).unwrap();
            }
            set_version(&tx, 8).unwrap();
            {
                let mut entities = tx.open_table(ENTITY_ID_TO_ENTITY).unwrap();
                let mut changes = tx.open_table(ENTITY_CHANGE_TO_CHANGESET).unwrap();
                for id in 1..=n {
                    let mut e = Entity::new(id, CreditCode::parse("91350100M000100Y43").unwrap(), Timestamp(0));
                    e.name = Some(format!("第{id}号公司"));
                    entities.insert(id, codec::encode(&e).unwrap().as_slice()).unwrap();
                    let set = crate::model::ChangeSet {
                        at: Timestamp(0),
                        actor: crate::model::Actor::System { what: "导入".into() },
                        changes: vec![crate::model::FieldChange {
                            field: "name".into(),
                            old: None,
                            new: e.name.clone(),
                        }],
                    };
                    changes.insert((id, 1), codec::encode(&set).unwrap().as_slice()).unwrap();
                }
            }
            tx.commit().unwrap();
        }
        let v8_bytes = {
            let db = Database::open(dir.path().join(FILE_NAME)).unwrap();
            let tx = db.begin_read().unwrap();
            let stats = redb::ReadableTableMetadata::stats(&tx.open_table(ENTITY_ID_TO_ENTITY).unwrap()).unwrap();
            stats.stored_bytes() + stats.metadata_bytes() + stats.fragmented_bytes()
        };
        let store = Store::open(dir.path()).unwrap();
        let v9_bytes = store.table_sizes().unwrap().into_iter().find(|t| t.name == "entities-0").unwrap().total_bytes();
        assert!(v9_bytes * 4 < v8_bytes * 3, "the table is written afresh, smaller: {v8_bytes} → {v9_bytes} bytes");
        assert!(!store.table_names().unwrap().iter().any(|n| n.ends_with("-v9")), "no table left behind");
        let tx = store.read().unwrap();
        let mut named = 0;
        tx.for_each_entity_record(|_, b| {
            named += usize::from(b[0] != codec::FORMAT_RMP_COMPACT);
            Ok::<_, StoreError>(())
        })
        .unwrap();
        assert_eq!(named, 0, "every record rewritten");
        let t = crate::store::Tables::table(&tx, ENTITY_CHANGE_TO_CHANGESET).unwrap();
        let spelled_out =
            t.iter().unwrap().filter(|r| r.as_ref().unwrap().1.value()[0] != codec::FORMAT_RMP_COMPACT).count();
        assert_eq!(spelled_out, 0, "every history rewritten as deltas");
        assert_eq!(tx.changes(n).unwrap()[0].changes[0].new, Some(format!("第{n}号公司")));
    }

    #[test]
    fn refuses_a_file_from_a_newer_program() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Database::create(dir.path().join(FILE_NAME)).unwrap();
            let tx = db.begin_write().unwrap();
            set_version(&tx, SCHEMA_VERSION + 1).unwrap();
            tx.commit().unwrap();
        }
        let err = Store::open(dir.path()).err().unwrap();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err:?}");
        assert!(err.to_string().contains("newer huiqi"));
    }

    /// A user record as schema version 4 wrote it: old role keys, the entity on the account.
    #[derive(serde::Serialize)]
    struct UserV4 {
        id: u64,
        username: &'static str,
        display_name: &'static str,
        role: &'static str,
        password: &'static str,
        created_at: i64,
        entity: Option<&'static str>,
    }

    /// An API token before scopes and token ids.
    #[derive(serde::Serialize)]
    struct TokenV4 {
        user_id: u64,
        name: &'static str,
        created_at: i64,
    }

    /// An audit entry before the chain: no role, ip, digests, prev or hash.
    #[derive(serde::Serialize)]
    struct AuditV4 {
        seq: u64,
        at: i64,
        actor: &'static str,
        action: &'static str,
        target: &'static str,
        detail: &'static str,
    }

    const V4_ENTITY: &str = "91350100M000100Y43";

    /// Writes a store exactly as schema version 4 left it, with old-shape accounts, a token and
    /// unchained audit entries.
    fn write_v4_file(dir: &std::path::Path) {
        let db = Database::create(dir.join(FILE_NAME)).unwrap();
        let tx = db.begin_write().unwrap();
        for (_, migration) in &MIGRATIONS[..4] {
            migration(&tx).unwrap();
        }
        set_version(&tx, 4).unwrap();
        {
            let mut users = tx.open_table(USER_ID_TO_USER).unwrap();
            let mut names = tx.open_table(USERNAME_TO_USER_ID).unwrap();
            let old =
                [(1, "root", "admin", None), (2, "clerk", "staff", None), (3, "firm", "enterprise", Some(V4_ENTITY))];
            for (id, username, role, entity) in old {
                let user = UserV4 {
                    id,
                    username,
                    display_name: username,
                    role,
                    password: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
                    created_at: 1_700_000_000_000 + id as i64,
                    entity,
                };
                users.insert(id, codec::encode(&user).unwrap().as_slice()).unwrap();
                names.insert(username, id).unwrap();
            }
            let token = TokenV4 { user_id: 1, name: "feed", created_at: 1_700_000_000_100 };
            let mut tokens = tx.open_table(TOKEN_HASH_TO_TOKEN).unwrap();
            tokens.insert([7u8; 32].as_slice(), codec::encode(&token).unwrap().as_slice()).unwrap();
            let mut audit = tx.open_table(AUDIT_SEQ_TO_ENTRY).unwrap();
            for (seq, action, target) in [(1, "user.create", "user:root"), (2, "user.create", "user:clerk")] {
                let entry =
                    AuditV4 { seq, at: 1_700_000_000_200 + seq as i64, actor: "cli", action, target, detail: "" };
                audit.insert(seq, codec::encode(&entry).unwrap().as_slice()).unwrap();
            }
        }
        tx.commit().unwrap();
    }

    #[test]
    fn migrates_accounts_to_schema_5() {
        use crate::model::{BindingMethod, BindingStatus, Role, TokenScope, Vocabulary, Who};

        let dir = tempfile::tempdir().unwrap();
        let code = V4_ENTITY;
        write_v4_file(dir.path());
        let store = Store::open(dir.path()).unwrap();
        {
            let tx = store.read().unwrap();
            assert_eq!(tx.schema_version().unwrap(), Some(SCHEMA_VERSION));
            let users = tx.users().unwrap();
            let roles: Vec<(&str, Role)> = users.iter().map(|u| (u.username.as_str(), u.role)).collect();
            assert_eq!(roles, [("root", Role::Sysadmin), ("clerk", Role::Publisher), ("firm", Role::Enterprise)]);
            assert!(users.iter().all(|u| u.legacy_entity.is_none()), "the entity moved to a binding");

            let bindings = tx.bindings_of_user(3).unwrap();
            assert_eq!(bindings.len(), 1, "{bindings:?}");
            assert_eq!(bindings[0].credit_code, code);
            assert_eq!(bindings[0].status, BindingStatus::Verified);
            assert_eq!(bindings[0].method, Some(BindingMethod::Migrated));
            assert_eq!(tx.bindings_of_entity(code).unwrap().len(), 1, "the entity index knows the binding");
            assert!(tx.bindings_of_user(1).unwrap().is_empty());

            let tokens = tx.tokens().unwrap();
            assert_eq!(tokens.len(), 1);
            assert_eq!(tokens[0].1.id, 1);
            assert_eq!(tokens[0].1.scopes, TokenScope::ALL, "a token from before scopes keeps every power");

            let report = tx.audit_verify().unwrap();
            assert_eq!(report.broken, None, "{report:?}");
            assert_eq!(report.entries, 2);
            let head = tx.audit_head().unwrap();
            assert_eq!(head.as_ref().map(|h| h.0), Some(2));
            assert_eq!(head.map(|h| h.1), Some(report.head));
        }
        // The users were written back with the new role keys, not only read through the aliases.
        {
            #[derive(serde::Deserialize)]
            struct RoleKey {
                role: String,
            }
            let tx = store.db.begin_read().unwrap();
            let users = tx.open_table(USER_ID_TO_USER).unwrap();
            let stored: Vec<String> =
                users.iter().unwrap().map(|r| codec::decode::<RoleKey>(r.unwrap().1.value()).unwrap().role).collect();
            assert_eq!(stored, ["sysadmin", "publisher", "enterprise"]);
        }

        let tx = store.write().unwrap();
        tx.audit(&Who::system("t"), "x", "y", "").unwrap();
        tx.commit().unwrap();
        let tx = store.read().unwrap();
        let report = tx.audit_verify().unwrap();
        assert_eq!(report.broken, None, "{report:?}");
        assert_eq!(report.entries, 3);
        assert_eq!(tx.audit_head().unwrap().map(|h| h.0), Some(3));
        assert_eq!(tx.audit_tail(10).unwrap().first().map(|e| e.seq), Some(3));
    }
}
