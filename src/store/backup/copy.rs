//! The list of every store table a backup copies, each with its real key and value types: the
//! one place a new table is added for backups (a test checks none is missing).

use std::collections::BTreeMap;

use redb::{ReadTransaction, ReadableTable, TableDefinition, TableHandle, WriteTransaction};

use super::super::Result;
use super::super::tables::*;

/// Every table of the store; a table added to `tables.rs` must be added here (a test checks).
macro_rules! store_tables {
    ($($t:ident),+ $(,)?) => {
        /// The on-disk names of the tables a backup copies.
        pub fn store_table_names() -> Vec<String> {
            vec![$($t.name().to_string()),+]
        }

        /// Copies every store table present in `src` into `dst` with its real key and value
        /// types, answering the rows of each.
        pub(super) fn copy_store_tables(src: &ReadTransaction, dst: &WriteTransaction) -> Result<BTreeMap<String, u64>> {
            let mut copied = BTreeMap::new();
            $(
                if let Some(rows) = copy_table(src, dst, $t)? {
                    copied.insert($t.name().to_string(), rows);
                }
            )+
            Ok(copied)
        }
    };
}

store_tables!(
    META_KEY_TO_VALUE,
    KIND_TO_LAST_ID,
    POLICY_ID_TO_POLICY,
    MEASURE_ID_TO_MEASURE,
    MEASURE_VERSION_TO_VERSION,
    POLICY_TO_MEASURE,
    DEPARTMENT_TO_INFO,
    ENTITY_ID_TO_ENTITY,
    CREDIT_CODE_TO_ENTITY_ID,
    REGION_TO_ENTITY_ID,
    ENTITY_CHANGE_TO_CHANGESET,
    TAG_KEY_TO_TAG,
    USER_ID_TO_USER,
    USERNAME_TO_USER_ID,
    SESSION_HASH_TO_SESSION,
    TOKEN_HASH_TO_TOKEN,
    USER_ENTITY_TO_BINDING,
    ENTITY_TO_USER,
    INVITATION_ID_TO_INVITATION,
    INVITATION_HASH_TO_INVITATION_ID,
    AUDIT_SEQ_TO_ENTRY,
    IMPORT_ID_TO_JOB,
    IMPORT_ID_TO_FILE,
    DAY_TO_CALENDAR_ENTRY,
    MEASURE_TO_ELIGIBLE,
    MATCH_SEQ_TO_EVENT,
    PORTRAIT_SEQ_TO_CHANGES,
    CASE_ID_TO_CASE,
    ENTITY_TO_CASE,
    MEASURE_TO_CASE,
    DEPARTMENT_TO_OPEN_CASE,
    MEASURE_TO_SPENT,
    MEASURE_TO_PAID,
    AUTO_LIST_ID_TO_LIST,
    MEASURE_TO_AUTO_LIST,
    AUTO_LIST_TO_CASE,
    AUTO_LIST_TO_PENDING,
    OFFER_DUE_TO_CASE,
    DISCLOSURE_ID_TO_BATCH,
    DISCLOSURE_TO_ROW,
    OBJECTION_ID_TO_OBJECTION,
    RECEIPT_TO_OBJECTION,
    PAYMENT_BATCH_ID_TO_BATCH,
    PAYMENT_BATCH_TO_CASE,
    EXTERNAL_NO_TO_CASE,
    ENTITY_TO_MESSAGE,
    DEPARTMENT_TO_NOTICE,
    SUPERVISION_ID_TO_ITEM,
    CASE_STAGE_TO_SUPERVISION,
    SPECIALIST_TO_ENTITY,
    ENTITY_TO_SPECIALIST,
    DELIVERY_ID_TO_DELIVERY,
    DUE_TO_DELIVERY,
    ENTITY_VERSION_TO_PUSH_MESSAGE,
    ENTITY_TO_REMINDED_VERSION,
    ENTITY_TO_SUBSCRIPTION,
    ENTITY_TO_DELIVERY,
    USER_ID_TO_RECOVERY,
    AGREEMENT_VERSION_TO_TEXT,
);

/// The tables only a backup file has.
pub fn backup_only_table_names() -> Vec<String> {
    vec![BACKUP_SHA256_TO_ATTACHMENT.name().to_string(), BACKUP_KEY_TO_MANIFEST.name().to_string()]
}

fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    src: &ReadTransaction,
    dst: &WriteTransaction,
    def: TableDefinition<K, V>,
) -> Result<Option<u64>> {
    let from = match src.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut to = dst.open_table(def)?;
    let mut rows = 0u64;
    for row in from.iter()? {
        let (k, v) = row?;
        to.insert(k.value(), v.value())?;
        rows += 1;
    }
    Ok(Some(rows))
}
