//! Case attachments: the bytes live on disk beside the redb file, named by their SHA-256
//! (`files/ab/abcdef…`), so the same file uploaded twice is stored once; the case keeps the
//! name, type, size and hash. The type is read from the content, never from the name.

use crate::model::CaseId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::cases::{check_form, material_slots, may_see};
use super::{Result, Service, ServiceError};
use crate::model::Vocabulary;
use crate::model::audit::action;
use crate::model::audit::sha256_hex;
use crate::model::case::{CaseFile, CaseState};
use crate::store::prelude::*;

/// The largest attachment accepted.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
/// The most attachments one case may hold.
pub const MAX_FILES_PER_CASE: usize = 30;

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const OFD: &str = "application/ofd";

/// What is refused, and what is accepted instead.
const ACCEPTED: &str = "请上传 PDF、JPG、PNG、OFD 或 Word/Excel（docx/xlsx）文件（按文件内容识别，改扩展名无效）";

/// The content type of an accepted file, from its content: PDF, PNG and JPEG by their first
/// bytes; the zip-based formats by their parts (a docx holds `word/document.xml`, an xlsx
/// `xl/workbook.xml`, an OFD `OFD.xml`), never by the name — any other zip (an executable
/// packed as `.zip`, a `.jar`) is refused. A name that claims one of the zip-based formats
/// must hold that one.
pub fn sniff(bytes: &[u8], name: &str) -> Result<&'static str, String> {
    let lower = name.to_ascii_lowercase();
    if bytes.starts_with(b"%PDF-") {
        return Ok("application/pdf");
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.get(12..16) == Some(b"IHDR") {
        return Ok("image/png");
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok("image/jpeg");
    }
    if !bytes.starts_with(b"PK\x03\x04") {
        return Err(format!("文件类型不支持：{ACCEPTED}"));
    }
    let Ok(zip) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else {
        return Err(format!("文件已损坏或不完整（无法按压缩包读取）：{ACCEPTED}"));
    };
    let has = |part: &str| zip.index_for_name(part).is_some();
    let found = if has("word/document.xml") && has("[Content_Types].xml") {
        Some(DOCX)
    } else if has("xl/workbook.xml") && has("[Content_Types].xml") {
        Some(XLSX)
    } else if has("OFD.xml") {
        Some(OFD)
    } else {
        None
    };
    let claimed = [(".docx", DOCX), (".xlsx", XLSX), (".ofd", OFD)].into_iter().find(|(ext, _)| lower.ends_with(ext));
    match (found, claimed) {
        (Some(t), Some((ext, c))) if t != c => {
            Err(format!("文件名是 {ext}，内容却不是（按文件内容识别）：请上传真正的 {ext} 文件"))
        }
        (Some(t), _) => Ok(t),
        (None, _) => Err(format!("压缩包类文件只接受 Word/Excel（docx/xlsx）和 OFD：{ACCEPTED}")),
    }
}

/// A file name safe to keep and show: no path, no control characters, at most 120 characters.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !crate::model::text::forbidden(*c, false)).take(120).collect();
    if cleaned.trim().is_empty() { "附件".to_string() } else { cleaned.trim().to_string() }
}

/// Where the attachment with this SHA-256 lives under `files_dir`.
pub fn attachment_path(files_dir: &Path, sha256: &str) -> PathBuf {
    files_dir.join(sha256.get(..2).unwrap_or("00")).join(sha256)
}

/// Writes an attachment's bytes under `files_dir` unless a whole copy is there already (an
/// earlier crash may have left less): to a temporary name, flushed, then renamed.
pub fn write_attachment(files_dir: &Path, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
    let path = attachment_path(files_dir, sha256);
    if std::fs::read(&path).is_ok_and(|b| sha256_hex(&b) == sha256) {
        return Ok(());
    }
    let dir = path.parent().ok_or_else(|| std::io::Error::other("attachment path"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{sha256}.part"));
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    // The rename itself is durable only once the directory is.
    std::fs::File::open(dir).and_then(|d| d.sync_all())
}

/// A file sent for one material slot of a case.
pub struct Upload<'a> {
    /// The slot's key (a material's name or a file field's key) or its name.
    pub slot: &'a str,
    /// The file's name on the sender's machine.
    pub name: &'a str,
    pub bytes: &'a [u8],
}

impl Service {
    pub(super) fn files_dir(&self) -> PathBuf {
        self.store.path().parent().map_or_else(|| PathBuf::from("files"), |d| d.join("files"))
    }

    fn file_path(&self, sha256: &str) -> PathBuf {
        attachment_path(&self.files_dir(), sha256)
    }

    /// Attaches a file to a case (draft or returned for supplement) for a material or a file
    /// field of the form. `typed`, when given, is the form as the browser had it when the file
    /// was sent: it is saved in the same transaction, so an upload never loses what was typed.
    pub fn case_attach(
        &self,
        who: &crate::model::Who,
        id: CaseId,
        upload: Upload<'_>,
        typed: Option<&BTreeMap<String, String>>,
    ) -> Result<CaseFile> {
        let id = id.get();
        let Upload { slot, name, bytes } = upload;
        let slot = slot.trim();
        if bytes.is_empty() {
            return Err(ServiceError::invalid("file", "文件是空的，请重新选择"));
        }
        if bytes.len() > MAX_FILE_BYTES {
            return Err(ServiceError::invalid(
                "file",
                format!("文件过大：单个附件最大 {} MB", MAX_FILE_BYTES / 1024 / 1024),
            ));
        }
        let content_type = sniff(bytes, name).map_err(|reason| ServiceError::invalid("file", reason))?;
        let sha256 = sha256_hex(bytes);
        let tx = self.store.write()?;
        let before = tx.case(id)?.ok_or_else(|| ServiceError::NotFound(format!("办件 #{id} 不存在")))?;
        self.check_applicant(&tx, who, &before)?;
        if !matches!(before.state, CaseState::Draft | CaseState::Returned) {
            return Err(ServiceError::Conflict(format!(
                "办件 #{id} 当前为「{}」，不能再上传附件",
                before.state.label()
            )));
        }
        let version = tx
            .version(before.measure_id, before.version)?
            .ok_or_else(|| ServiceError::Internal(format!("case {id} names a missing version")))?;
        let slots = material_slots(&version, &before.files);
        // Browsers send the slot's key; callers of the API may name it as people read it.
        let Some(slot) = slots.iter().find(|s| s.key == slot).or_else(|| slots.iter().find(|s| s.name == slot)) else {
            return Err(ServiceError::invalid("slot", format!("「{slot}」不是此事项要求的申报材料")));
        };
        let slot = slot.key.clone();
        if before.files.len() >= MAX_FILES_PER_CASE {
            return Err(ServiceError::invalid(
                "file",
                format!("每个办件最多 {MAX_FILES_PER_CASE} 个附件，请先删除不需要的"),
            ));
        }
        // The bytes first (content-addressed, so a retry or a duplicate is harmless); the
        // record only once they are safely on disk.
        write_attachment(&self.files_dir(), &sha256, bytes)
            .map_err(|e| ServiceError::Internal(format!("cannot store attachment: {e}")))?;
        let file = CaseFile {
            slot: slot.to_string(),
            name: clean_name(name),
            content_type: content_type.to_string(),
            size: bytes.len() as u64,
            sha256,
            uploaded_at: tx.now(),
        };
        let mut case = before.clone();
        if let Some(typed) = typed {
            case.form = check_form(&version, typed, &before.files, false).map_err(ServiceError::Invalid)?;
        }
        case.files.push(file.clone());
        case.updated_at = file.uploaded_at;
        tx.put_case(&case, Some(&before))?;
        let detail = format!("{slot}: {} ({} bytes, sha256 {})", file.name, file.size, file.sha256);
        tx.audit_edit(who, action::CASE_ATTACH, &format!("case:{id}"), &detail, &before, &case)?;
        tx.commit()?;
        Ok(file)
    }

    /// Removes an attachment from a case still being prepared (the bytes stay: another case
    /// may hold the same file, and what was once attached is evidence).
    pub fn case_detach(&self, who: &crate::model::Who, id: CaseId, index: usize) -> Result<()> {
        let id = id.get();
        let tx = self.store.write()?;
        let before = tx.case(id)?.ok_or_else(|| ServiceError::NotFound(format!("办件 #{id} 不存在")))?;
        self.check_applicant(&tx, who, &before)?;
        if !matches!(before.state, CaseState::Draft | CaseState::Returned) {
            return Err(ServiceError::Conflict(format!("办件 #{id} 当前为「{}」，不能删除附件", before.state.label())));
        }
        let mut case = before.clone();
        if index >= case.files.len() {
            return Err(ServiceError::NotFound(format!("办件 #{id} 没有第 {} 个附件", index.saturating_add(1))));
        }
        let removed = case.files.remove(index);
        tx.put_case(&case, Some(&before))?;
        let detail = format!("{}: {} (sha256 {})", removed.slot, removed.name, removed.sha256);
        tx.audit_edit(who, action::CASE_DETACH, &format!("case:{id}"), &detail, &before, &case)?;
        tx.commit()?;
        Ok(())
    }

    /// An attachment's record and bytes, for those who may see the case; the bytes are checked
    /// against their hash.
    pub fn case_file(&self, who: &crate::model::Who, id: CaseId, index: usize) -> Result<(CaseFile, Vec<u8>)> {
        let id = id.get();
        let case = self
            .store
            .read()?
            .case(id)?
            .filter(|c| may_see(who, c))
            .ok_or_else(|| ServiceError::NotFound(format!("办件 #{id} 不存在，或您无权查看")))?;
        let file =
            case.files.get(index).cloned().ok_or_else(|| {
                ServiceError::NotFound(format!("办件 #{id} 没有第 {} 个附件", index.saturating_add(1)))
            })?;
        let bytes = std::fs::read(self.file_path(&file.sha256))
            .map_err(|e| ServiceError::Internal(format!("attachment {} is missing on disk: {e}", file.sha256)))?;
        if sha256_hex(&bytes) != file.sha256 {
            return Err(ServiceError::Internal(format!("attachment {} was changed on disk", file.sha256)));
        }
        Ok((file, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zip holding these parts.
    fn zip_of(parts: &[&str]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        for p in parts {
            w.start_file(*p, zip::write::SimpleFileOptions::default()).unwrap();
            std::io::Write::write_all(&mut w, b"<x/>").unwrap();
        }
        w.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn the_type_comes_from_the_content() {
        assert_eq!(sniff(b"%PDF-1.7\n...", "a.pdf"), Ok("application/pdf"));
        assert_eq!(sniff(b"%PDF-1.7\n...", "renamed.jpg"), Ok("application/pdf"));
        assert!(sniff(b"MZ\x90\x00 an executable", "invoice.pdf").is_err());
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0], "x"), Ok("image/jpeg"));
        let docx = zip_of(&["[Content_Types].xml", "word/document.xml"]);
        assert_eq!(sniff(&docx, "审计报告.docx"), Ok(DOCX));
        let xlsx = zip_of(&["[Content_Types].xml", "xl/workbook.xml"]);
        assert_eq!(sniff(&xlsx, "名册.xlsx"), Ok(XLSX));
        assert!(sniff(&xlsx, "冒充.docx").unwrap_err().contains(".docx"), "a name that claims another format");
        assert_eq!(sniff(&zip_of(&["OFD.xml", "Doc_0/Document.xml"]), "发票.ofd"), Ok(OFD));
        // Any other zip is refused, whatever its name says.
        for name in ["tool.exe", "tool.zip", "报告.docx"] {
            assert!(sniff(&zip_of(&["tool.exe"]), name).is_err(), "{name}");
        }
        assert!(sniff(b"PK\x03\x04 not really a zip", "a.docx").is_err());
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\票据\\发票.pdf"), "发票.pdf");
        assert_eq!(clean_name(""), "附件");
    }
}
