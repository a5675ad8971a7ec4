//! Reading the audit trail: filtered pages, the chain check, and a CSV export.

use super::{Result, Service};
use crate::model::AuditEntry;
use crate::model::audit::ChainReport;
use crate::model::audit::action;
use crate::model::text::spreadsheet_safe;
pub use crate::store::AuditFilter;
use crate::store::prelude::*;

/// Entries examined per search at most (a filter that matches rarely stops here; the page says so).
pub const AUDIT_SCAN_LIMIT: usize = 200_000;

/// A page of the audit trail, newest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` to see the next (older) page.
    pub next_before: Option<u64>,
}

impl Service {
    pub fn audit_search(&self, filter: &AuditFilter, limit: usize) -> Result<AuditPage> {
        let limit = limit.clamp(1, 1000);
        let entries = self.store.read()?.audit_search(filter, limit + 1, AUDIT_SCAN_LIMIT)?;
        let more = entries.len() > limit;
        let mut entries = entries;
        entries.truncate(limit);
        let next_before = if more { entries.last().map(|e| e.seq) } else { None };
        Ok(AuditPage { entries, next_before })
    }

    /// Recomputes the whole chain (see `huiqi audit verify`).
    pub fn audit_verify(&self) -> Result<ChainReport> {
        Ok(self.store.read()?.audit_verify()?)
    }

    /// The export, itself recorded in the trail (who took a copy, with which filter).
    pub fn audit_export_logged(&self, who: &crate::model::Who, filter: &AuditFilter) -> Result<Vec<u8>> {
        let bytes = self.audit_export(filter)?;
        let tx = self.store.write()?;
        tx.audit(who, action::AUDIT_EXPORT, "audit", &format!("{filter:?}"))?;
        tx.commit()?;
        Ok(bytes)
    }

    /// Every entry matching the filter as CSV (UTF-8 with BOM, for spreadsheets), oldest first.
    pub fn audit_export(&self, filter: &AuditFilter) -> Result<Vec<u8>> {
        let mut entries = self.store.read()?.audit_search(filter, usize::MAX, usize::MAX)?;
        entries.reverse();
        let mut out = "\u{feff}".as_bytes().to_vec();
        {
            let mut w = csv::Writer::from_writer(&mut out);
            let header =
                ["seq", "time", "actor", "role", "ip", "action", "target", "detail", "before", "after", "prev", "hash"];
            let fail = |e: csv::Error| super::ServiceError::Internal(format!("CSV: {e}"));
            w.write_record(header).map_err(fail)?;
            for e in &entries {
                w.write_record([
                    e.seq.to_string().as_str(),
                    &e.at.display_cst_seconds(),
                    &spreadsheet_safe(&e.actor),
                    &e.role,
                    &spreadsheet_safe(&e.ip),
                    &e.action,
                    &spreadsheet_safe(&e.target),
                    &spreadsheet_safe(&e.detail),
                    e.before.as_deref().unwrap_or(""),
                    e.after.as_deref().unwrap_or(""),
                    &e.prev,
                    &e.hash,
                ])
                .map_err(fail)?;
            }
            w.flush().map_err(|e| super::ServiceError::Internal(format!("CSV: {e}")))?;
        }
        Ok(out)
    }
}
