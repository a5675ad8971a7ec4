//! Backups while serving: make one now (a verified snapshot of the store and its attachments,
//! see `store::backup`), on a schedule with retention, list and hand them out; and restore one
//! into a data directory no process is using.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Result, Service, ServiceError};
use crate::model::audit::action;
use crate::model::{Clock, Date, Timestamp, Who};
use crate::store::backup::{AttachmentSource, Manifest, Written};
use crate::store::prelude::*;
use crate::store::{FILE_NAME, Store, StoreError};

const PREFIX: &str = "huiqi-backup-";
const SUFFIX: &str = ".redb";
const CST_OFFSET_MS: i64 = 8 * 3600 * 1000;
const DAY_MS: i64 = 86_400_000;

/// Where backups go, how many are kept and how often one is made.
#[derive(Debug, Clone)]
pub struct BackupSettings {
    /// The backup directory; `None` is `backups/` beside the store.
    pub dir: Option<PathBuf>,
    /// Keep the newest this many backups in the directory (0: keep every one).
    pub keep: usize,
    /// Make a backup when the newest is this many hours old (0: only on request).
    pub every_hours: u32,
}

impl Default for BackupSettings {
    fn default() -> Self {
        BackupSettings { dir: None, keep: 7, every_hours: 24 }
    }
}

/// A backup in the backup directory.
#[derive(Debug, Clone, Serialize)]
pub struct BackupFile {
    pub name: String,
    pub created_at: Timestamp,
    pub size: u64,
    /// Only backups that passed verification after writing get their name, so every listed
    /// one did (`huiqi restore` checks again).
    pub verified: bool,
}

/// A backup just made and verified.
#[derive(Debug, Clone, Serialize)]
pub struct BackupMade {
    pub name: String,
    #[serde(skip)]
    pub path: PathBuf,
    pub size: u64,
    pub created_at: Timestamp,
    pub verified: bool,
    pub schema_version: u64,
    pub tables: usize,
    pub rows: u64,
    pub attachments: u64,
    pub attachment_bytes: u64,
    /// The last audit entry the backup holds.
    pub audit_head: u64,
    /// Files in `files/` no record refers to whose bytes no longer match their name: left out.
    pub skipped: Vec<String>,
    /// Older backups removed to keep the newest `keep`.
    pub removed: Vec<String>,
}

impl BackupMade {
    fn new(path: PathBuf, written: &Written, manifest: &Manifest) -> BackupMade {
        BackupMade {
            name: path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            size: std::fs::metadata(&path).map_or(0, |m| m.len()),
            path,
            created_at: manifest.created_at,
            verified: true,
            schema_version: manifest.schema_version,
            tables: manifest.tables.len(),
            rows: manifest.rows(),
            attachments: manifest.attachments,
            attachment_bytes: manifest.attachment_bytes,
            audit_head: manifest.audit_head.as_ref().map_or(0, |h| h.0),
            skipped: written.skipped.clone(),
            removed: Vec::new(),
        }
    }

    /// One line for the audit trail and the command line.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} bytes, verified: schema {}, {} tables, {} rows, {} attachments ({} bytes), audit trail to #{}",
            self.size,
            self.schema_version,
            self.tables,
            self.rows,
            self.attachments,
            self.attachment_bytes,
            self.audit_head
        );
        if !self.skipped.is_empty() {
            s.push_str(&format!("; damaged unreferenced files left out: {}", self.skipped.join(", ")));
        }
        if !self.removed.is_empty() {
            s.push_str(&format!("; removed by retention: {}", self.removed.join(", ")));
        }
        s
    }
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub manifest: Manifest,
    pub attachments: u64,
    /// Where the store it replaced was kept.
    pub kept_aside: Option<PathBuf>,
    /// Entries in the restored audit trail (the restore's own included), all verified.
    pub audit_entries: u64,
}

/// The attachments of a data directory, `files/ab/<sha256>`.
struct FilesDir(PathBuf);

impl AttachmentSource for FilesDir {
    fn read(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(super::files::attachment_path(&self.0, sha256))
    }

    fn list(&self) -> std::io::Result<Vec<String>> {
        let mut out = Vec::new();
        let top = match std::fs::read_dir(&self.0) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for sub in top {
            let sub = sub?;
            if !sub.file_type()?.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(sub.path())? {
                let file = file?;
                if file.file_type()?.is_file() {
                    out.push(file.file_name().to_string_lossy().into_owned());
                }
            }
        }
        Ok(out)
    }
}

/// `huiqi-backup-YYYYMMDD-HHMMSS-mmm.redb` for a time, in China Standard Time.
pub fn name_for(t: Timestamp) -> String {
    let local = t.0 + CST_OFFSET_MS;
    let (y, m, d) = Date::from_days(local.div_euclid(DAY_MS) as i32).ymd();
    let ms = local.rem_euclid(DAY_MS);
    let (hh, mm, ss, milli) = (ms / 3_600_000, (ms / 60_000) % 60, (ms / 1000) % 60, ms % 1000);
    format!("{PREFIX}{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}-{milli:03}{SUFFIX}")
}

/// The time in a backup's name, if the name is exactly one this program gives.
pub fn time_of(name: &str) -> Option<Timestamp> {
    let core = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let b = core.as_bytes();
    let shape = b.len() == 19
        && b[8] == b'-'
        && b[15] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 8 || i == 15 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    let num = |r: std::ops::Range<usize>| core.get(r)?.parse::<u32>().ok();
    let date = Date::from_ymd(num(0..4)? as i32, num(4..6)?, num(6..8)?)?;
    let (hh, mm, ss, milli) = (num(9..11)?, num(11..13)?, num(13..15)?, num(16..19)?);
    if hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let local = i64::from(date.days()) * DAY_MS
        + i64::from(hh) * 3_600_000
        + i64::from(mm) * 60_000
        + i64::from(ss) * 1000
        + i64::from(milli);
    Some(Timestamp(local - CST_OFFSET_MS))
}

/// Whether a scheduled backup is due: none yet, or the newest is `every_hours` old.
pub fn due(now: Timestamp, newest: Option<Timestamp>, every_hours: u32) -> bool {
    every_hours > 0 && newest.is_none_or(|t| now.0 - t.0 >= i64::from(every_hours) * 3_600_000)
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> ServiceError {
    ServiceError::Internal(format!("{what} {}: {e}", path.display()))
}

/// A store error as a person should read it: an attachment that cannot be backed up is theirs
/// to fix; a damaged or unsuitable file is refused with the reason.
fn plain(e: StoreError) -> ServiceError {
    match e {
        StoreError::MissingAttachment(sha, why) => ServiceError::Conflict(format!(
            "附件 {sha} 无法备份（{why}）：请从较早的备份中找回该文件放回 files/ 目录后重试"
        )),
        StoreError::BadBackup(path, why) => {
            ServiceError::invalid("file", format!("备份文件 {} 无法使用：{why}", path.display()))
        }
        other => ServiceError::Store(other),
    }
}

/// Removes what backups cut short by a crash or a stop left in the backup directory (only one
/// backup runs at a time, and the caller holds that turn).
fn remove_unfinished(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!(".{PREFIX}")) && name.ends_with(".part") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes a verified backup of `store` to `out` through a temporary name beside it.
fn write_verified(store: &Store, files: &Path, out: &Path) -> Result<BackupMade> {
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_error("cannot create the backup directory", dir, e))?;
    if out.exists() {
        return Err(ServiceError::Conflict(format!("{} 已存在：请换一个文件名，或先移走它", out.display())));
    }
    let file_name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let part = dir.join(format!(".{file_name}.part"));
    let _ = std::fs::remove_file(&part);
    let made = store.backup_to(&part, &FilesDir(files.to_path_buf())).map_err(plain).and_then(|written| {
        let manifest = crate::store::backup::verify(&part)
            .map_err(|e| ServiceError::Internal(format!("the backup just written does not verify: {e}")))?;
        Ok((written, manifest))
    });
    let (written, manifest) = match made {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    std::fs::rename(&part, out).map_err(|e| io_error("cannot rename the backup to", out, e))?;
    crate::store::backup::sync_file_and_dir(out).map_err(|e| io_error("cannot flush", out, e))?;
    Ok(BackupMade::new(out.to_path_buf(), &written, &manifest))
}

impl Service {
    pub fn backup_dir(&self) -> PathBuf {
        match &self.config.backup.dir {
            Some(d) => d.clone(),
            None => self.store.path().parent().map_or_else(|| PathBuf::from("backups"), |d| d.join("backups")),
        }
    }

    /// Makes a backup in the backup directory now, verifies it, keeps the newest `keep`, and
    /// records it in the audit trail (`backup.create`; the backup itself ends before that entry).
    pub fn backup_create(&self, who: &Who) -> Result<BackupMade> {
        let _one = self.backing_up.lock().map_err(|_| ServiceError::Internal("backup lock poisoned".into()))?;
        let dir = self.backup_dir();
        remove_unfinished(&dir);
        let mut out = dir.join(name_for(self.now()));
        while out.exists() {
            std::thread::sleep(std::time::Duration::from_millis(1));
            out = dir.join(name_for(self.now()));
        }
        let mut made = write_verified(&self.store, &self.files_dir(), &out)?;
        made.removed = self.backup_prune(&made.name)?;
        let tx = self.store.write()?;
        tx.audit(who, action::BACKUP_CREATE, &format!("backup:{}", made.name), &made.summary())?;
        tx.commit()?;
        Ok(made)
    }

    /// Writes a verified backup to a file of one's choosing (`huiqi backup --out`), audited.
    pub fn backup_write(&self, who: &Who, out: &Path) -> Result<BackupMade> {
        let _one = self.backing_up.lock().map_err(|_| ServiceError::Internal("backup lock poisoned".into()))?;
        let made = write_verified(&self.store, &self.files_dir(), out)?;
        let tx = self.store.write()?;
        tx.audit(who, action::BACKUP_CREATE, &format!("backup:{}", out.display()), &made.summary())?;
        tx.commit()?;
        Ok(made)
    }

    /// The backups in the backup directory, newest first.
    pub fn backups(&self) -> Result<Vec<BackupFile>> {
        let dir = self.backup_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("cannot read the backup directory", &dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error("cannot read the backup directory", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(created_at) = time_of(&name) else { continue };
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_file() {
                out.push(BackupFile { name, created_at, size: meta.len(), verified: true });
            }
        }
        out.sort_by(|a, b| b.name.cmp(&a.name));
        Ok(out)
    }

    /// Removes all but the newest `keep` backups (never `made`), answering their names.
    fn backup_prune(&self, made: &str) -> Result<Vec<String>> {
        let keep = self.config.backup.keep;
        if keep == 0 {
            return Ok(Vec::new());
        }
        let mut removed = Vec::new();
        for old in self.backups()?.into_iter().skip(keep).filter(|b| b.name != made) {
            let path = self.backup_dir().join(&old.name);
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push(old.name),
                Err(e) => tracing::warn!("cannot remove the old backup {}: {e}", path.display()),
            }
        }
        Ok(removed)
    }

    /// A backup to hand out, by its exact name: it holds every record, personal data included,
    /// so the download is recorded (`backup.download`).
    pub fn backup_download(&self, who: &Who, name: &str) -> Result<(BackupFile, PathBuf)> {
        let not_found = || ServiceError::NotFound(format!("没有名为「{name}」的备份"));
        if time_of(name).is_none() {
            return Err(not_found());
        }
        let file = self.backups()?.into_iter().find(|b| b.name == name).ok_or_else(not_found)?;
        let tx = self.store.write()?;
        tx.audit(who, action::BACKUP_DOWNLOAD, &format!("backup:{name}"), &format!("{} bytes", file.size))?;
        tx.commit()?;
        Ok((file, self.backup_dir().join(name)))
    }

    /// Makes a scheduled backup when the newest in the directory is old enough.
    pub fn backup_if_due(&self) -> Result<Option<BackupMade>> {
        let newest = self.backups()?.first().map(|b| b.created_at);
        if !due(self.now(), newest, self.config.backup.every_hours) {
            return Ok(None);
        }
        self.backup_create(&Who::system("schedule")).map(Some)
    }
}

/// Checks a backup file (see `store::backup::verify`); redb records its check in the file.
pub fn verify(path: &Path) -> Result<Manifest> {
    crate::store::backup::verify(path).map_err(plain)
}

/// Restores a backup into the data directory `dir`: checks it as it was checked when made,
/// refuses while any process uses `dir`, and refuses to replace a store without `force` (the
/// replaced file is kept as `huiqi.redb.before-restore-…`, stamped by `clock`, which also stamps
/// the audit entry). Attachments go to `files/`.
pub fn restore(dir: &Path, from: &Path, force: bool, who: &Who, clock: &Clock) -> Result<Restored> {
    if !from.is_file() {
        return Err(ServiceError::NotFound(format!("备份文件 {} 不存在", from.display())));
    }
    std::fs::create_dir_all(dir).map_err(|e| io_error("cannot create the data directory", dir, e))?;
    let hold = crate::store::backup::hold(dir).map_err(|e| match e {
        StoreError::AlreadyOpen(_) => ServiceError::Conflict(format!(
            "数据目录 {} 正被运行中的 huiqi 使用（服务器或另一条命令）：请先停止服务器，再恢复 (the data directory is in use by a running huiqi: stop the server first)",
            dir.display()
        )),
        other => ServiceError::Store(other),
    })?;
    let store_path = dir.join(FILE_NAME);
    if store_path.exists() && !force {
        return Err(ServiceError::Conflict(format!(
            "{} 已有数据文件 {FILE_NAME}：恢复会替换它。确认替换请加 --force，原文件将保留为 {FILE_NAME}.before-restore-<时间> (the directory holds a store; add --force to replace it)",
            dir.display()
        )));
    }

    let work = dir.join(format!("{FILE_NAME}.restoring"));
    let _ = std::fs::remove_file(&work);
    let cleanup = |e: ServiceError| {
        let _ = std::fs::remove_file(&work);
        e
    };
    std::fs::copy(from, &work).map_err(|e| cleanup(io_error("cannot copy the backup into", dir, e)))?;
    let manifest = crate::store::backup::verify(&work).map_err(|e| match e {
        StoreError::BadBackup(_, why) => {
            cleanup(ServiceError::invalid("file", format!("备份文件 {} 无法使用：{why}", from.display())))
        }
        other => cleanup(ServiceError::Store(other)),
    })?;
    let files = dir.join("files");
    let attachments =
        crate::store::backup::into_store(&work, &mut |sha, bytes| super::files::write_attachment(&files, sha, bytes))
            .map_err(|e| cleanup(ServiceError::Store(e)))?;

    let kept_aside = if store_path.exists() {
        let stamp = name_for(clock.now());
        let stamp = stamp.trim_start_matches(PREFIX).trim_end_matches(SUFFIX);
        let aside = dir.join(format!("{FILE_NAME}.before-restore-{stamp}"));
        std::fs::rename(&store_path, &aside)
            .map_err(|e| cleanup(io_error("cannot keep the old store as", &aside, e)))?;
        Some(aside)
    } else {
        None
    };
    if let Err(e) = std::fs::rename(&work, &store_path) {
        if let Some(aside) = &kept_aside {
            let _ = std::fs::rename(aside, &store_path);
        }
        return Err(cleanup(io_error("cannot put the restored store at", &store_path, e)));
    }
    crate::store::backup::sync_file_and_dir(&store_path).map_err(|e| io_error("cannot flush", &store_path, e))?;
    drop(hold);

    let mut store = Store::open(dir)?;
    store.set_clock(clock.clone());
    let tx = store.write()?;
    let detail = format!(
        "from {} (made {} by {}, schema {}, {} rows, {} attachments){}",
        from.display(),
        manifest.created_at.display_cst(),
        manifest.source,
        manifest.schema_version,
        manifest.rows(),
        manifest.attachments,
        kept_aside.as_ref().map(|p| format!("; the replaced store is kept as {}", p.display())).unwrap_or_default()
    );
    tx.audit(who, action::BACKUP_RESTORE, "store", &detail)?;
    tx.commit()?;
    let report = store.read()?.audit_verify()?;
    if let Some(b) = report.broken {
        return Err(ServiceError::Internal(format!(
            "the restored audit trail is broken at entry {}: {}",
            b.seq, b.reason
        )));
    }
    Ok(Restored { manifest, attachments, kept_aside, audit_entries: report.entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_time_in_china_standard_time_and_nothing_else_passes() {
        let t = Timestamp(1_795_600_000_123);
        let name = name_for(t);
        assert_eq!(name, "huiqi-backup-20261125-174640-123.redb");
        assert_eq!(time_of(&name), Some(t));
        for bad in [
            "huiqi-backup-20261127-115640-123.redb/../../etc/passwd",
            "../huiqi-backup-20261127-115640-123.redb",
            "huiqi-backup-20261327-115640-123.redb",
            "huiqi-backup-20261127-245640-123.redb",
            "huiqi-backup-20261127-115640.redb",
            "huiqi-backup-2026112７-115640-123.redb",
            "huiqi.redb",
            "",
        ] {
            assert_eq!(time_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_scheduled_backup_is_due_when_the_newest_is_old_enough() {
        let h = 3_600_000;
        assert!(due(Timestamp(10 * h), None, 24));
        assert!(!due(Timestamp(10 * h), None, 0), "0 turns the schedule off");
        assert!(!due(Timestamp(30 * h), Some(Timestamp(7 * h)), 24));
        assert!(due(Timestamp(31 * h), Some(Timestamp(7 * h)), 24));
    }
}
