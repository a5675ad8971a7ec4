//! Every table of the store, named `A_TO_B` for what it maps, with a version in its on-disk
//! name. Record values are codec-encoded bytes; index tables map to `()`.

use redb::TableDefinition;

/// Key → value of store-wide facts: schema version, application marker, the audit chain's head.
pub const META_KEY_TO_VALUE: TableDefinition<&str, &[u8]> = TableDefinition::new("meta-0");
/// The last id handed out per kind of record.
pub const KIND_TO_LAST_ID: TableDefinition<&str, u64> = TableDefinition::new("sequences-0");

pub const POLICY_ID_TO_POLICY: TableDefinition<u64, &[u8]> = TableDefinition::new("policies-0");
pub const MEASURE_ID_TO_MEASURE: TableDefinition<u64, &[u8]> = TableDefinition::new("measures-0");
/// (measure id, version) → the frozen or draft version.
pub const MEASURE_VERSION_TO_VERSION: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("measure_versions-0");
/// Index: (policy id, measure id).
pub const POLICY_TO_MEASURE: TableDefinition<(u64, u64), ()> = TableDefinition::new("policy_measures-0");
/// Departments: name → record (region served). Before schema version 5 the value was empty.
pub const DEPARTMENT_TO_INFO: TableDefinition<&str, &[u8]> = TableDefinition::new("departments-0");

pub const ENTITY_ID_TO_ENTITY: TableDefinition<u64, &[u8]> = TableDefinition::new("entities-0");
/// Index: credit code → entity id.
pub const CREDIT_CODE_TO_ENTITY_ID: TableDefinition<&str, u64> = TableDefinition::new("credit_code_entity-0");
/// Index: (region code, entity id). Added in schema version 2.
pub const REGION_TO_ENTITY_ID: TableDefinition<(&str, u64), ()> = TableDefinition::new("region_entity-0");
/// (entity id, change number) → change set.
pub const ENTITY_CHANGE_TO_CHANGESET: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("entity_changes-0");
/// Tag dictionary: key → definition.
pub const TAG_KEY_TO_TAG: TableDefinition<&str, &[u8]> = TableDefinition::new("tags-0");

pub const USER_ID_TO_USER: TableDefinition<u64, &[u8]> = TableDefinition::new("users-0");
pub const USERNAME_TO_USER_ID: TableDefinition<&str, u64> = TableDefinition::new("username_user-0");
/// Hash of the session cookie → session.
pub const SESSION_HASH_TO_SESSION: TableDefinition<&[u8], &[u8]> = TableDefinition::new("sessions-0");
/// Hash of the bearer token → token record.
pub const TOKEN_HASH_TO_TOKEN: TableDefinition<&[u8], &[u8]> = TableDefinition::new("api_tokens-0");
/// (user id, credit code) → an enterprise user's binding to an entity (schema version 5).
pub const USER_ENTITY_TO_BINDING: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("bindings-0");
/// Index: (credit code, user id) of every binding (schema version 5).
pub const ENTITY_TO_USER: TableDefinition<(&str, u64), ()> = TableDefinition::new("entity_users-0");
/// Invitation id → invitation (schema version 5).
pub const INVITATION_ID_TO_INVITATION: TableDefinition<u64, &[u8]> = TableDefinition::new("invitations-0");
/// Index: hash of the invitation code → invitation id (schema version 5).
pub const INVITATION_HASH_TO_INVITATION_ID: TableDefinition<&[u8], u64> = TableDefinition::new("invitation_codes-0");

/// Audit sequence number → entry, each chained to the one before by SHA-256; the meta key
/// `audit_head` holds the last sequence number and hash.
pub const AUDIT_SEQ_TO_ENTRY: TableDefinition<u64, &[u8]> = TableDefinition::new("audit-0");

pub const IMPORT_ID_TO_JOB: TableDefinition<u64, &[u8]> = TableDefinition::new("imports-0");
/// A staged upload's bytes, kept until it is confirmed or discarded.
pub const IMPORT_ID_TO_FILE: TableDefinition<u64, &[u8]> = TableDefinition::new("import_files-0");

/// Working-day calendar: day (days since 1970-01-01) → holiday or make-up workday.
pub const DAY_TO_CALENDAR_ENTRY: TableDefinition<i32, &[u8]> = TableDefinition::new("calendar-0");

/// Measure id → the entity ids last found eligible (added in schema version 3).
pub const MEASURE_TO_ELIGIBLE: TableDefinition<u64, &[u8]> = TableDefinition::new("measure_eligible-0");
/// Sequence → a change in a measure's eligible set (newly eligible, no longer eligible), for
/// the push step (added in schema version 3).
pub const MATCH_SEQ_TO_EVENT: TableDefinition<u64, &[u8]> = TableDefinition::new("match_events-0");
/// Write sequence → the ids of the entities one write transaction wrote (with a random nonce),
/// so that the portrait snapshot beside the store is brought up to date by decoding only what
/// changed since it was written (`store::portrait_log`; schema version 8).
pub const PORTRAIT_SEQ_TO_CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("portrait_changes-0");

/// Case id → case (schema version 6).
pub const CASE_ID_TO_CASE: TableDefinition<u64, &[u8]> = TableDefinition::new("cases-0");
/// Index: (entity id, case id) of every case (schema version 6).
pub const ENTITY_TO_CASE: TableDefinition<(u64, u64), ()> = TableDefinition::new("entity_cases-0");
/// Index: (measure id, case id) of every case (schema version 6).
pub const MEASURE_TO_CASE: TableDefinition<(u64, u64), ()> = TableDefinition::new("measure_cases-0");
/// Index: (handling department, case id) of cases still open — in review, returned or waiting
/// for budget (schema version 6).
pub const DEPARTMENT_TO_OPEN_CASE: TableDefinition<(&str, u64), ()> = TableDefinition::new("open_cases-0");
/// Measure id → the sum in fen of its approved amounts, checked against its budget (schema version 6).
pub const MEASURE_TO_SPENT: TableDefinition<u64, i64> = TableDefinition::new("measure_spent-0");
/// Measure id → (paid, recovered) in fen: with `MEASURE_TO_SPENT` (approved) the measure's
/// `model::case::Ledger` (schema version 10).
pub const MEASURE_TO_PAID: TableDefinition<u64, (i64, i64)> = TableDefinition::new("measure_paid-0");
/// 免申即享 list id → `model::auto_list::AutoList` (schema version 10).
pub const AUTO_LIST_ID_TO_LIST: TableDefinition<u64, &[u8]> = TableDefinition::new("auto_lists-0");
/// Index: (measure id, list id) of every list (schema version 10).
pub const MEASURE_TO_AUTO_LIST: TableDefinition<(u64, u64), ()> = TableDefinition::new("measure_auto_lists-0");
/// Index: (list id, case id) of a list's entries (schema version 10).
pub const AUTO_LIST_TO_CASE: TableDefinition<(u64, u64), ()> = TableDefinition::new("auto_list_cases-0");
/// (list id, entity id) → `model::auto_list::Pending`: 待核实 (schema version 10).
pub const AUTO_LIST_TO_PENDING: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("auto_list_pending-0");
/// Index: (deadline as days, case id) of 免申即享 offers awaiting an answer (schema version 10).
pub const OFFER_DUE_TO_CASE: TableDefinition<(i32, u64), ()> = TableDefinition::new("offers_due-0");
/// 公示 batch id → `model::disclosure::DisclosureBatch` (schema version 10).
pub const DISCLOSURE_ID_TO_BATCH: TableDefinition<u64, &[u8]> = TableDefinition::new("disclosures-0");
/// (batch id, case id) → `model::disclosure::DisclosureRow` (schema version 10).
pub const DISCLOSURE_TO_ROW: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("disclosure_rows-0");
/// Objection id → `model::disclosure::Objection` (schema version 10).
pub const OBJECTION_ID_TO_OBJECTION: TableDefinition<u64, &[u8]> = TableDefinition::new("objections-0");
/// Index: an objection's receipt → its id (schema version 10).
pub const RECEIPT_TO_OBJECTION: TableDefinition<&str, u64> = TableDefinition::new("objection_receipts-0");
/// Payment batch id → `model::payment::PaymentBatch` (schema version 10).
pub const PAYMENT_BATCH_ID_TO_BATCH: TableDefinition<u64, &[u8]> = TableDefinition::new("payment_batches-0");
/// (batch id, 序号) → case id: a batch's rows (schema version 10).
pub const PAYMENT_BATCH_TO_CASE: TableDefinition<(u64, u32), u64> = TableDefinition::new("payment_batch_rows-0");
/// Index: 外部办件编号 of an offline case → its id (schema version 10).
pub const EXTERNAL_NO_TO_CASE: TableDefinition<&str, u64> = TableDefinition::new("external_cases-0");
/// (entity id, message id) → a message in the entity's inbox (站内信) (schema version 6).
pub const ENTITY_TO_MESSAGE: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("inbox-0");
/// (department, notice id) → a notice to the department's staff (schema version 6).
pub const DEPARTMENT_TO_NOTICE: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("notices-0");
/// Supervision id → an overdue stage followed to resolution (schema version 6).
pub const SUPERVISION_ID_TO_ITEM: TableDefinition<u64, &[u8]> = TableDefinition::new("supervisions-0");
/// Index: (case id, stage) → its supervision (schema version 6).
pub const CASE_STAGE_TO_SUPERVISION: TableDefinition<(u64, u32), u64> = TableDefinition::new("case_supervisions-0");
/// (specialist user id, entity id): the entities a specialist looks after (schema version 6).
pub const SPECIALIST_TO_ENTITY: TableDefinition<(u64, u64), ()> = TableDefinition::new("assignments-0");
/// Index: (entity id, specialist user id) (schema version 6).
pub const ENTITY_TO_SPECIALIST: TableDefinition<(u64, u64), ()> = TableDefinition::new("entity_specialists-0");
/// Delivery id → a message to send by e-mail, SMS or log: the outbox (schema version 6).
pub const DELIVERY_ID_TO_DELIVERY: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox-0");
/// Index: (due, i.e. not before, in ms since the epoch; delivery id) of pending deliveries
/// (schema version 6).
pub const DUE_TO_DELIVERY: TableDefinition<(i64, u64), ()> = TableDefinition::new("outbox_due-0");
/// (entity id, measure id, version) → the id of the inbox message that pushed that measure
/// version to the entity: never twice (schema version 6).
pub const ENTITY_VERSION_TO_PUSH_MESSAGE: TableDefinition<(u64, u64, u32), u64> = TableDefinition::new("pushes-0");
/// Index: (entity id, measure id, version) of the measure versions whose window is closing that
/// the entity was reminded of (schema version 6).
pub const ENTITY_TO_REMINDED_VERSION: TableDefinition<(u64, u64, u32), ()> = TableDefinition::new("reminders-0");
/// Entity id → what it subscribes to (schema version 6).
pub const ENTITY_TO_SUBSCRIPTION: TableDefinition<u64, &[u8]> = TableDefinition::new("subscriptions-0");
/// Index: (entity id, delivery id) of every delivery (schema version 6).
pub const ENTITY_TO_DELIVERY: TableDefinition<(u64, u64), ()> = TableDefinition::new("entity_deliveries-0");
/// User id → the account's password-recovery code (hashed) and recent sends (schema version 7).
pub const USER_ID_TO_RECOVERY: TableDefinition<u64, &[u8]> = TableDefinition::new("password_recovery-0");
/// (kind, version) → a version of the user agreement or privacy notice (schema version 7).
pub const AGREEMENT_VERSION_TO_TEXT: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("agreements-0");

// Backup files only (see `store::backup`): never in a store.

/// SHA-256 (hex) → the bytes of an attachment, as `files/ab/<sha256>` held it.
pub const BACKUP_SHA256_TO_ATTACHMENT: TableDefinition<&str, &[u8]> = TableDefinition::new("backup_attachments-0");
/// `manifest` (the one key) → what the backup holds: when, which schema, rows per table, the audit head.
pub const BACKUP_KEY_TO_MANIFEST: TableDefinition<&str, &[u8]> = TableDefinition::new("backup_manifest-0");
