//! The audit trail: entries chained by SHA-256, each appended in the transaction of the change
//! it records, and the filter and digests that pages and services use with it.

use redb::ReadableTable;
use serde::Serialize;

use super::Result;
use super::codec::{decode, encode};
use super::meta::MetaReads;
use super::tables::AUDIT_SEQ_TO_ENTRY;
use super::tx::{Tables, WriteTx};
use crate::model::audit::{BrokenLink, ChainReport, GENESIS, sha256_hex, verify_chain};
use crate::model::{AuditEntry, Timestamp, Who};

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

pub trait AuditReads: Tables {
    /// The newest audit entries, newest first.
    fn audit_tail(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        self.audit_search(&AuditFilter::default(), limit, usize::MAX)
    }

    /// Entries matching a filter, newest first, looking at no more than `scan` entries.
    fn audit_search(&self, filter: &AuditFilter, limit: usize, scan: usize) -> Result<Vec<AuditEntry>> {
        let t = self.table(AUDIT_SEQ_TO_ENTRY)?;
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
    fn audit_head(&self) -> Result<Option<(u64, String)>> {
        let raw = self.meta(AUDIT_HEAD)?;
        Ok(raw.and_then(|b| {
            let (seq, hash) = b.split_at_checked(8)?;
            Some((u64::from_le_bytes(seq.try_into().ok()?), String::from_utf8(hash.to_vec()).ok()?))
        }))
    }

    /// Recomputes the audit chain from the first entry and reports the first broken link.
    fn audit_verify(&self) -> Result<ChainReport> {
        let head = self.audit_head()?;
        let t = self.table(AUDIT_SEQ_TO_ENTRY)?;
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
            report.broken =
                Some(BrokenLink { seq, reason: format!("the store could not read past record {}: {e}", seq - 1) });
        }
        Ok(report)
    }
}

impl<T: Tables + ?Sized> AuditReads for T {}

impl WriteTx {
    /// Appends an audit entry in this transaction.
    pub fn audit(&self, who: &Who, action: &str, target: &str, detail: &str) -> Result<()> {
        self.audit_change(who, action, target, detail, None, None)
    }

    /// Appends an audit entry for a record changed from `before` to `after`, with the digests of
    /// both (see [`digest`]).
    pub fn audit_edit<B: Serialize, A: Serialize>(
        &self,
        who: &Who,
        action: &str,
        target: &str,
        detail: &str,
        before: &B,
        after: &A,
    ) -> Result<()> {
        self.audit_change(who, action, target, detail, Some(digest(before)?), Some(digest(after)?))
    }

    /// Appends an audit entry for a record created as `after`, with its digest.
    pub fn audit_new<A: Serialize>(
        &self,
        who: &Who,
        action: &str,
        target: &str,
        detail: &str,
        after: &A,
    ) -> Result<()> {
        self.audit_change(who, action, target, detail, None, Some(digest(after)?))
    }

    /// Appends an audit entry for a record written as `after` over `before`, if there was one.
    pub fn audit_upsert<B: Serialize, A: Serialize>(
        &self,
        who: &Who,
        action: &str,
        target: &str,
        detail: &str,
        before: Option<&B>,
        after: &A,
    ) -> Result<()> {
        let before = before.map(digest).transpose()?;
        self.audit_change(who, action, target, detail, before, Some(digest(after)?))
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
            at: self.now(),
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
    fn append_audit(&self, entry: &AuditEntry) -> Result<()> {
        let bytes = encode(entry)?;
        self.txn.open_table(AUDIT_SEQ_TO_ENTRY)?.insert(entry.seq, bytes.as_slice())?;
        let mut head = entry.seq.to_le_bytes().to_vec();
        head.extend_from_slice(entry.hash.as_bytes());
        self.set_meta(AUDIT_HEAD, &head)
    }
}
