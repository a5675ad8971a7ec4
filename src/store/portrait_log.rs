//! The log of entity writes that brings the portrait snapshot up to date: every write
//! transaction that writes entities appends one row — the next sequence number → a random
//! nonce and the ids it wrote — when it commits. A snapshot of the portrait names the row it
//! reflects (sequence and nonce); at start the portrait is the snapshot plus the entity records
//! of the ids logged after that row, decoded one by one. Rows up to a written snapshot are pruned.
//!
//! Row value: nonce (8 bytes, little-endian), the number of ids and then the ascending ids as
//! differences, all LEB128 varints.

use redb::ReadableTable;

use super::tables::PORTRAIT_SEQ_TO_CHANGES;
use super::tx::{Tables, WriteTx};
use super::{Result, StoreError};

/// A row of the log: what a snapshot records as the store state it reflects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogMark {
    pub seq: u64,
    pub nonce: u64,
}

fn bad(detail: &str) -> StoreError {
    StoreError::Codec { what: "portrait change log".into(), detail: detail.into() }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint(b: &[u8], at: &mut usize) -> Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at).ok_or_else(|| bad("a row ends early"))?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(v);
        }
    }
    Err(bad("a number is too long"))
}

/// Encodes a row: `ids` ascending without repeats.
pub(super) fn encode_row(nonce: u64, ids: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + ids.len() * 2);
    out.extend_from_slice(&nonce.to_le_bytes());
    put_varint(&mut out, ids.len() as u64);
    let mut last = 0u64;
    for id in ids {
        put_varint(&mut out, id.wrapping_sub(last));
        last = *id;
    }
    out
}

fn row_nonce(b: &[u8]) -> Result<u64> {
    let head: [u8; 8] = b.get(..8).and_then(|h| h.try_into().ok()).ok_or_else(|| bad("a row ends early"))?;
    Ok(u64::from_le_bytes(head))
}

/// Appends the ids of a row to `out`.
fn row_ids(b: &[u8], out: &mut Vec<u64>) -> Result<()> {
    let mut at = 8;
    let n = varint(b, &mut at)?;
    let mut last = 0u64;
    for _ in 0..n {
        last = last.wrapping_add(varint(b, &mut at)?);
        out.push(last);
    }
    Ok(())
}

/// A fresh nonce: random, or the clock when the system has no randomness to give.
fn nonce() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    })
}

pub trait PortraitLogReads: Tables {
    /// The last row of the log, if any.
    fn portrait_log_last(&self) -> Result<Option<LogMark>> {
        let t = self.table(PORTRAIT_SEQ_TO_CHANGES)?;
        let Some((k, v)) = t.last()? else { return Ok(None) };
        Ok(Some(LogMark { seq: k.value(), nonce: row_nonce(v.value())? }))
    }

    /// Whether the log still holds `mark` (same sequence, same nonce): false for a snapshot of
    /// another store, of a store restored from a backup since, or older than the log's start.
    fn portrait_log_has(&self, mark: LogMark) -> Result<bool> {
        let t = self.table(PORTRAIT_SEQ_TO_CHANGES)?;
        Ok(match t.get(mark.seq)? {
            Some(v) => row_nonce(v.value())? == mark.nonce,
            None => false,
        })
    }

    /// The ids of the entities written after row `seq`, ascending, each once.
    fn portrait_changed_after(&self, seq: u64) -> Result<Vec<u64>> {
        let t = self.table(PORTRAIT_SEQ_TO_CHANGES)?;
        let mut ids = Vec::new();
        for row in t.range(seq.saturating_add(1)..)? {
            row_ids(row?.1.value(), &mut ids)?;
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }
}

impl<T: Tables + ?Sized> PortraitLogReads for T {}

impl WriteTx {
    /// Notes that this transaction wrote entity `id` (logged when it commits).
    pub(super) fn note_portrait_change(&self, id: u64) {
        self.portrait_changes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(id);
    }

    /// Appends the row of what this transaction wrote, if it wrote entities.
    pub(super) fn log_portrait_changes(&self) -> Result<()> {
        let mut ids =
            std::mem::take(&mut *self.portrait_changes.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if ids.is_empty() {
            return Ok(());
        }
        ids.sort_unstable();
        ids.dedup();
        self.append_portrait_row(&ids).map(|_| ())
    }

    fn append_portrait_row(&self, ids: &[u64]) -> Result<LogMark> {
        let mut t = self.txn.open_table(PORTRAIT_SEQ_TO_CHANGES)?;
        let seq = match t.last()? {
            Some((k, _)) => k.value() + 1,
            None => 1,
        };
        let mark = LogMark { seq, nonce: nonce() };
        t.insert(seq, encode_row(mark.nonce, ids).as_slice())?;
        Ok(mark)
    }

    /// Appends a row without ids, for a snapshot to name when the log is empty.
    pub fn portrait_log_anchor(&self) -> Result<LogMark> {
        self.append_portrait_row(&[])
    }

    /// Removes the rows before `seq` (they are in the snapshot that names row `seq`); answers
    /// how many.
    pub fn portrait_log_prune(&self, seq: u64) -> Result<u64> {
        let mut t = self.txn.open_table(PORTRAIT_SEQ_TO_CHANGES)?;
        let mut removed = 0u64;
        t.retain_in(..seq, |_, _| {
            removed += 1;
            false
        })?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back_the_ids_they_were_given() {
        let ids = [1u64, 2, 3, 200, 70_000, 1 << 40, u64::MAX];
        let row = encode_row(42, &ids);
        assert_eq!(row_nonce(&row).unwrap(), 42);
        let mut back = Vec::new();
        row_ids(&row, &mut back).unwrap();
        assert_eq!(back, ids);
        let mut none = Vec::new();
        assert!(row_ids(&row[..row.len() - 1], &mut none).is_err(), "a cut row is refused");
        assert!(row_nonce(&row[..4]).is_err());
    }
}
