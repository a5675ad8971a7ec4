//! Backup files: a consistent copy of every table, made inside one read transaction while the
//! store keeps serving, plus the attachment blobs and a manifest, in one fresh redb file; and
//! the checks that make such a file trustworthy before it is kept or restored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use redb::{
    Database, ReadOnlyDatabase, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableHandle,
};
use serde::{Deserialize, Serialize};

use super::codec::{decode, encode};
use super::prelude::{AuditReads, MetaReads};
use super::tables::*;
use super::{FILE_NAME, ReadTx, Result, SCHEMA_VERSION, StoreError};
use crate::model::Timestamp;
use crate::model::audit::sha256_hex;
use crate::model::case::Case;

/// The page cache of a backup file being written or checked: it is read once, front to back.
const BACKUP_CACHE_BYTES: usize = 32 * 1024 * 1024;

const MANIFEST_KEY: &str = "manifest";

mod copy;
use copy::copy_store_tables;
pub use copy::{backup_only_table_names, store_table_names};

/// What a backup holds, written into it last and checked against it when it is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// When the snapshot was taken (the read transaction began).
    pub created_at: Timestamp,
    pub schema_version: u64,
    /// The huiqi version that wrote it.
    #[serde(default)]
    pub program_version: String,
    /// The store file it was taken from.
    #[serde(default)]
    pub source: String,
    /// Every table of the store with its number of rows, by on-disk name.
    pub tables: BTreeMap<String, u64>,
    pub attachments: u64,
    pub attachment_bytes: u64,
    /// The audit chain's last entry and hash at the snapshot.
    #[serde(default)]
    pub audit_head: Option<(u64, String)>,
}

impl Manifest {
    pub fn rows(&self) -> u64 {
        self.tables.values().sum()
    }
}

/// Where attachment bytes come from while a backup is written.
pub trait AttachmentSource {
    /// The bytes of the attachment with this SHA-256, as stored.
    fn read(&self, sha256: &str) -> std::io::Result<Vec<u8>>;
    /// Every attachment present, referenced or not (attachments removed from a case stay as
    /// evidence and are kept too).
    fn list(&self) -> std::io::Result<Vec<String>>;
}

/// What writing a backup found besides the tables.
#[derive(Debug, Clone)]
pub struct Written {
    pub manifest: Manifest,
    /// Attachments no record refers to whose bytes no longer match their name: left out.
    pub skipped: Vec<String>,
}

/// Rows per table of every table in a transaction, by name.
fn table_rows(tx: &ReadTransaction) -> Result<BTreeMap<String, u64>> {
    let mut rows = BTreeMap::new();
    for handle in tx.list_tables()? {
        let name = handle.name().to_string();
        let n = tx.open_untyped_table(handle)?.len()?;
        rows.insert(name, n);
    }
    Ok(rows)
}

/// The SHA-256 of every attachment the cases in `tx` refer to.
fn referenced_attachments(tx: &ReadTransaction) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    let cases = match tx.open_table(CASE_ID_TO_CASE) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    for row in cases.iter()? {
        let case: Case = decode(row?.1.value())?;
        out.extend(case.files.into_iter().map(|f| f.sha256));
    }
    Ok(out)
}

fn bad(path: &Path, why: impl Into<String>) -> StoreError {
    StoreError::BadBackup(path.to_path_buf(), why.into())
}

fn is_sha256(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Flushes a file and, so that a rename of it is durable, its directory.
pub fn sync_file_and_dir(path: &Path) -> std::io::Result<()> {
    std::fs::File::open(path)?.sync_all()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl super::Store {
    /// Writes a backup to `path`, which must not exist yet: every table as one read transaction
    /// saw it, the attachments, and the manifest, committed once. The store keeps serving.
    pub fn backup_to(&self, path: &Path, attachments: &dyn AttachmentSource) -> Result<Written> {
        let io = |e: std::io::Error| StoreError::Io(path.to_path_buf(), e);
        let snap = ReadTx::new(self.db.begin_read()?);
        let created_at = self.clock.now();
        let snapshot = snap.raw();
        let source_rows = table_rows(snapshot)?;
        let referenced = referenced_attachments(snapshot)?;
        let audit_head = snap.audit_head()?;
        let schema_version =
            if source_rows.contains_key(META_KEY_TO_VALUE.name()) { snap.schema_version()?.unwrap_or(0) } else { 0 };

        if path.exists() {
            return Err(StoreError::Io(
                path.to_path_buf(),
                std::io::Error::new(std::io::ErrorKind::AlreadyExists, "the backup file exists already"),
            ));
        }
        let mut builder = Database::builder();
        builder.set_cache_size(BACKUP_CACHE_BYTES);
        let db = builder.create(path).map_err(|e| StoreError::Db(e.into()))?;
        let tx = db.begin_write()?;
        let copied = copy_store_tables(snapshot, &tx)?;
        let unknown: Vec<&String> = source_rows.keys().filter(|name| !copied.contains_key(name.as_str())).collect();
        if !unknown.is_empty() {
            return Err(bad(path, format!("the store has tables store/backup.rs does not copy: {unknown:?}")));
        }
        if copied != source_rows {
            return Err(bad(path, format!("rows copied {copied:?} differ from the snapshot's {source_rows:?}")));
        }

        let mut present: BTreeSet<String> =
            attachments.list().map_err(io)?.into_iter().filter(|s| is_sha256(s)).collect();
        present.extend(referenced.iter().cloned());
        let (mut count, mut bytes_total, mut skipped) = (0u64, 0u64, Vec::new());
        {
            let mut blobs = tx.open_table(BACKUP_SHA256_TO_ATTACHMENT)?;
            for sha in &present {
                let needed = referenced.contains(sha);
                let bytes = match attachments.read(sha) {
                    Ok(b) => b,
                    Err(e) if needed => {
                        return Err(StoreError::MissingAttachment(sha.clone(), e.to_string()));
                    }
                    Err(_) => {
                        skipped.push(sha.clone());
                        continue;
                    }
                };
                if sha256_hex(&bytes) != *sha {
                    if needed {
                        return Err(StoreError::MissingAttachment(
                            sha.clone(),
                            "its bytes no longer match its SHA-256 (内容与摘要不符)".into(),
                        ));
                    }
                    skipped.push(sha.clone());
                    continue;
                }
                blobs.insert(sha.as_str(), bytes.as_slice())?;
                count += 1;
                bytes_total += bytes.len() as u64;
            }
        }
        drop(snap);

        let manifest = Manifest {
            created_at,
            schema_version,
            program_version: env!("CARGO_PKG_VERSION").to_string(),
            source: self.path.display().to_string(),
            tables: copied,
            attachments: count,
            attachment_bytes: bytes_total,
            audit_head,
        };
        tx.open_table(BACKUP_KEY_TO_MANIFEST)?.insert(MANIFEST_KEY, encode(&manifest)?.as_slice())?;
        tx.commit()?;
        db.close().map_err(|e| StoreError::Db(e.into()))?;
        sync_file_and_dir(path).map_err(io)?;
        Ok(Written { manifest, skipped })
    }
}

/// Opens a backup file and checks it: every page checksum, the manifest, rows per table,
/// every attachment against its SHA-256 (and every one a case refers to is there), and the
/// audit chain up to the head the manifest names. redb records its check in the file, so pass
/// a copy of a file that must not change.
pub fn verify(path: &Path) -> Result<Manifest> {
    let meta = std::fs::metadata(path).map_err(|e| StoreError::Io(path.to_path_buf(), e))?;
    if !meta.is_file() {
        return Err(bad(path, "不是文件 (not a file)"));
    }
    let mut builder = Database::builder();
    builder.set_cache_size(BACKUP_CACHE_BYTES).set_check_integrity_on_open(true);
    let db = builder.open(path).map_err(|e| {
        use redb::{DatabaseError as D, StorageError as S};
        match e {
            D::DatabaseAlreadyOpen => bad(path, "文件正被另一个进程使用 (the file is open in another process)"),
            D::Storage(S::Io(io)) if io.kind() == std::io::ErrorKind::InvalidData => {
                bad(path, format!("不是 huiqi 备份文件 (not a huiqi backup): {io}"))
            }
            D::Storage(S::Corrupted(m)) => bad(path, format!("文件已损坏或不完整 (damaged or cut short): {m}")),
            other => bad(path, format!("无法打开 (cannot be opened): {other}")),
        }
    })?;
    let tx = db.begin_read()?;
    let found = table_rows(&tx)?;
    if !found.contains_key(BACKUP_KEY_TO_MANIFEST.name()) {
        return Err(bad(path, "没有备份清单，不是 huiqi 备份文件 (no manifest: not a huiqi backup)"));
    }
    let manifest: Manifest = {
        let t = tx.open_table(BACKUP_KEY_TO_MANIFEST)?;
        let raw = t.get(MANIFEST_KEY)?.ok_or_else(|| bad(path, "备份清单为空 (empty manifest)"))?;
        decode(raw.value()).map_err(|e| bad(path, format!("备份清单无法读取 (unreadable manifest): {e}")))?
    };
    if manifest.schema_version > SCHEMA_VERSION {
        return Err(bad(
            path,
            format!(
                "由更新版本的 huiqi 制作（数据版本 {}，本程序最高支持 {}）：请使用更新的程序恢复 (made by a newer huiqi)",
                manifest.schema_version, SCHEMA_VERSION
            ),
        ));
    }
    let backup_only = backup_only_table_names();
    let tables: BTreeMap<String, u64> =
        found.iter().filter(|(name, _)| !backup_only.contains(name)).map(|(k, v)| (k.clone(), *v)).collect();
    if tables != manifest.tables {
        let differ: Vec<String> = manifest
            .tables
            .keys()
            .chain(tables.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|name| tables.get(*name) != manifest.tables.get(*name))
            .map(|name| {
                let show = |v: Option<&u64>| v.map_or("-".to_string(), u64::to_string);
                format!("{name}: {} ≠ {}", show(tables.get(name)), show(manifest.tables.get(name)))
            })
            .collect();
        return Err(bad(path, format!("各表行数与清单不符 (rows differ from the manifest): {}", differ.join(", "))));
    }

    let (mut count, mut bytes_total) = (0u64, 0u64);
    let mut held = BTreeSet::new();
    if found.contains_key(BACKUP_SHA256_TO_ATTACHMENT.name()) {
        let blobs = tx.open_table(BACKUP_SHA256_TO_ATTACHMENT)?;
        for row in blobs.iter()? {
            let (sha, bytes) = row?;
            let (sha, bytes) = (sha.value(), bytes.value());
            if sha256_hex(bytes) != sha {
                return Err(bad(path, format!("附件 {sha} 内容与摘要不符 (attachment damaged)")));
            }
            count += 1;
            bytes_total += bytes.len() as u64;
            held.insert(sha.to_string());
        }
    }
    if (count, bytes_total) != (manifest.attachments, manifest.attachment_bytes) {
        return Err(bad(
            path,
            format!(
                "附件数量或大小与清单不符 (attachments: {count} files, {bytes_total} bytes; manifest: {}, {})",
                manifest.attachments, manifest.attachment_bytes
            ),
        ));
    }
    let missing: Vec<String> = referenced_attachments(&tx)?.difference(&held).cloned().collect();
    if !missing.is_empty() {
        return Err(bad(path, format!("缺少办件引用的附件 (attachments missing): {}", missing.join(", "))));
    }

    let audit = ReadTx::new(tx);
    let report = audit.audit_verify()?;
    if let Some(b) = report.broken {
        return Err(bad(path, format!("审计日志链在第 {} 条断开 (audit chain broken): {}", b.seq, b.reason)));
    }
    if audit.audit_head()? != manifest.audit_head {
        return Err(bad(path, "审计日志末条与清单不符 (the audit head differs from the manifest)"));
    }
    drop(audit);
    db.close().map_err(|e| StoreError::Db(e.into()))?;
    Ok(manifest)
}

/// Turns a verified backup file into a store file in place: hands each attachment to `write`,
/// then drops the backup-only tables and compacts.
pub fn into_store(path: &Path, write: &mut dyn FnMut(&str, &[u8]) -> std::io::Result<()>) -> Result<u64> {
    let mut builder = Database::builder();
    builder.set_cache_size(BACKUP_CACHE_BYTES);
    let mut db = builder.open(path).map_err(|e| bad(path, e.to_string()))?;
    let mut written = 0u64;
    {
        let tx = db.begin_read()?;
        if let Ok(blobs) = tx.open_table(BACKUP_SHA256_TO_ATTACHMENT) {
            for row in blobs.iter()? {
                let (sha, bytes) = row?;
                write(sha.value(), bytes.value()).map_err(|e| StoreError::Io(path.to_path_buf(), e))?;
                written += 1;
            }
        }
    }
    let tx = db.begin_write()?;
    tx.delete_table(BACKUP_SHA256_TO_ATTACHMENT)?;
    tx.delete_table(BACKUP_KEY_TO_MANIFEST)?;
    tx.commit()?;
    db.compact().map_err(|e| StoreError::Db(e.into()))?;
    db.close().map_err(|e| StoreError::Db(e.into()))?;
    sync_file_and_dir(path).map_err(|e| StoreError::Io(path.to_path_buf(), e))?;
    Ok(written)
}

/// A read-only hold on a data directory's store file: while it lives no other process opens
/// the store (a server starting meanwhile is refused).
pub struct Hold {
    _db: ReadOnlyDatabase,
}

/// Takes a hold on the store in `dir`: `AlreadyOpen` when a running process has it; `None`
/// when there is no store file, or one that cannot be opened (damaged, or left by a crash).
pub fn hold(dir: &Path) -> Result<Option<Hold>> {
    let path = dir.join(FILE_NAME);
    if !path.exists() {
        return Ok(None);
    }
    match Database::builder().open_read_only(&path) {
        Ok(db) => Ok(Some(Hold { _db: db })),
        Err(redb::DatabaseError::DatabaseAlreadyOpen) => Err(StoreError::AlreadyOpen(dir.to_path_buf())),
        Err(e) => {
            tracing::warn!("the store in {} cannot be opened ({e}); restoring over it", dir.display());
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    struct Files(BTreeMap<String, Vec<u8>>);

    impl AttachmentSource for Files {
        fn read(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
            self.0.get(sha256).cloned().ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        }

        fn list(&self) -> std::io::Result<Vec<String>> {
            Ok(self.0.keys().cloned().collect())
        }
    }

    fn files(contents: &[&[u8]]) -> Files {
        Files(contents.iter().map(|c| (sha256_hex(c), c.to_vec())).collect())
    }

    fn store_with_a_few_rows(dir: &Path) -> Store {
        let store = Store::open(dir).unwrap();
        let tx = store.write().unwrap();
        tx.next_id("x").unwrap();
        tx.audit(&crate::model::Who::system("test"), "test.one", "t:1", "").unwrap();
        tx.audit(&crate::model::Who::system("test"), "test.two", "t:2", "").unwrap();
        tx.commit().unwrap();
        store
    }

    /// Every `TableDefinition` in tables.rs is either copied or backup-only: a table added
    /// there without being added to `store_tables!` fails here.
    #[test]
    fn the_backup_list_names_every_table_of_tables_rs() {
        let source = include_str!("tables.rs");
        let declared: BTreeSet<String> = source
            .split("TableDefinition::new(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_string)
            .collect();
        let mut listed: BTreeSet<String> = store_table_names().into_iter().collect();
        assert_eq!(listed.len(), store_table_names().len(), "a table is listed twice");
        listed.extend(backup_only_table_names());
        assert_eq!(declared, listed);
    }

    #[test]
    fn a_backup_holds_exactly_the_tables_of_its_source_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_a_few_rows(&dir.path().join("data"));
        let out = dir.path().join("b.redb");
        let blobs = files(&[b"%PDF-1.4 one", b"%PDF-1.4 two"]);
        let written = store.backup_to(&out, &blobs).unwrap();
        let source: BTreeMap<String, u64> = table_rows(&store.db.begin_read().unwrap()).unwrap();
        assert_eq!(written.manifest.tables, source, "every table of the source, with its rows");
        assert_eq!(written.manifest.attachments, 2);
        assert_eq!(written.manifest.audit_head.as_ref().map(|h| h.0), Some(2));
        let db = Database::open(&out).unwrap();
        let names: BTreeSet<String> = table_rows(&db.begin_read().unwrap()).unwrap().into_keys().collect();
        drop(db);
        let mut expected: BTreeSet<String> = source.into_keys().collect();
        expected.extend(backup_only_table_names());
        assert_eq!(names, expected);
        assert_eq!(verify(&out).unwrap(), written.manifest);
        assert!(store.backup_to(&out, &blobs).is_err(), "an existing file is never overwritten");
    }

    #[test]
    fn a_restored_file_opens_as_the_same_store_and_the_attachments_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_a_few_rows(&dir.path().join("data"));
        let out = dir.path().join("b.redb");
        let written = store.backup_to(&out, &files(&[b"%PDF-1.4 one"])).unwrap();
        let mut got = Vec::new();
        let n = into_store(&out, &mut |sha, bytes| {
            got.push((sha.to_string(), bytes.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!((n, got.len()), (1, 1));
        assert_eq!(got[0].0, sha256_hex(b"%PDF-1.4 one"));
        let restored = dir.path().join("restored");
        std::fs::create_dir_all(&restored).unwrap();
        std::fs::rename(&out, restored.join(FILE_NAME)).unwrap();
        let again = Store::open(&restored).unwrap();
        assert_eq!(table_rows(&again.db.begin_read().unwrap()).unwrap(), written.manifest.tables);
        assert!(again.read().unwrap().audit_verify().unwrap().broken.is_none());
    }

    #[test]
    fn damage_and_foreign_files_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_a_few_rows(&dir.path().join("data"));
        let out = dir.path().join("b.redb");
        let marker = b"%PDF-1.4 MARKER-THAT-IS-FOUND-IN-THE-FILE".repeat(50);
        store.backup_to(&out, &files(&[&marker])).unwrap();
        let original = std::fs::read(&out).unwrap();

        let cut = dir.path().join("cut.redb");
        std::fs::write(&cut, &original[..original.len() / 2]).unwrap();
        let err = verify(&cut).unwrap_err();
        assert!(matches!(err, StoreError::BadBackup(..)), "{err:?}");

        let flipped = dir.path().join("flipped.redb");
        let at = original.windows(6).position(|w| w == b"MARKER").unwrap();
        let mut bytes = original.clone();
        bytes[at] ^= 0x20;
        std::fs::write(&flipped, &bytes).unwrap();
        let err = verify(&flipped).unwrap_err();
        assert!(matches!(err, StoreError::BadBackup(..)), "{err:?}");

        let foreign = dir.path().join("foreign.redb");
        std::fs::write(&foreign, b"not a database at all".repeat(100)).unwrap();
        assert!(matches!(verify(&foreign).unwrap_err(), StoreError::BadBackup(..)));

        // A store file is a redb file but not a backup.
        drop(store);
        let err = verify(&dir.path().join("data").join(FILE_NAME)).unwrap_err();
        assert!(err.to_string().contains("not a huiqi backup"), "{err}");
    }

    #[test]
    fn a_missing_referenced_attachment_fails_the_backup_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        let sha = sha256_hex(b"gone");
        let case: Case = serde_json::from_value(serde_json::json!({
            "id": 1, "measure_id": 1, "version": 1, "measure_name": "m", "mode": "apply", "department": "d",
            "entity_id": 1, "credit_code": "c", "entity_name": "e", "state": "draft", "stage": 0, "stages": [],
            "form": {}, "frozen": null, "approved_amount": null, "prepared_by": null, "prepared_by_name": "",
            "on_behalf": false, "returns": 0, "reason": null, "created_at": 0, "updated_at": 0,
            "submitted_on": null, "decided_on": null, "history": [],
            "files": [{"slot": "营业执照", "name": "a.pdf", "content_type": "application/pdf", "size": 4,
                       "sha256": sha, "uploaded_at": 0}],
        }))
        .unwrap();
        let tx = store.write().unwrap();
        tx.put_case(&case, None).unwrap();
        tx.commit().unwrap();
        let err = store.backup_to(&dir.path().join("b.redb"), &files(&[])).unwrap_err();
        assert!(matches!(&err, StoreError::MissingAttachment(s, _) if *s == sha), "{err:?}");
    }
}
