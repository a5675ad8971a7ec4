//! 兑付 (DESIGN §5): payable cases form payment batches per department and source of funds;
//! huiqi exports a batch for the finance system (which locks it), imports the return file (paid
//! with date and voucher, or failed with a reason) and reconciles to the fen. It never moves
//! money itself.

use serde::{Deserialize, Serialize};

use super::date::{Date, Timestamp};
use super::enums::{Vocabulary, vocabulary};

vocabulary! {
    BatchState {
        Open = "open", "待导出", "Not yet exported";
        Exported = "exported", "已导出，待回单", "Exported, awaiting the return file";
        Settled = "settled", "已对账", "Reconciled";
    }
}

/// One payment batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentBatch {
    pub id: u64,
    /// 批次号 (`ZF-2026-000001`).
    pub number: String,
    pub department: String,
    pub fund_source: String,
    pub budget_subject: String,
    pub state: BatchState,
    pub rows: u32,
    pub total_fen: i64,
    pub paid: u32,
    pub paid_fen: i64,
    pub failed: u32,
    pub failed_fen: i64,
    pub created_by_name: String,
    pub created_at: Timestamp,
    pub exported_by_name: Option<String>,
    pub exported_at: Option<Timestamp>,
    /// SHA-256 of each return file imported, with when (a file imported again changes nothing).
    #[serde(default)]
    pub returns: Vec<(String, Timestamp)>,
}

impl PaymentBatch {
    /// Rows neither paid nor failed yet.
    pub fn pending(&self) -> u32 {
        self.rows - self.paid - self.failed
    }

    pub fn pending_fen(&self) -> i64 {
        self.total_fen - self.paid_fen - self.failed_fen
    }
}

/// The batch number people quote.
pub fn batch_number(id: u64, year: i32) -> String {
    format!("ZF-{year}-{id:06}")
}

/// One row of a return file, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnRow {
    /// The spreadsheet row number.
    pub line: u64,
    pub seq: u32,
    pub credit_code: String,
    pub amount_fen: i64,
    pub outcome: ReturnOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReturnOutcome {
    Paid { on: Date, voucher: String },
    Failed { reason: super::case::FailReason, note: String },
}

/// Yuan as written in a finance file (`1234.5`, `1,234.56`) in fen; `None` unless exact to the fen.
pub fn parse_yuan(text: &str) -> Option<i64> {
    let t: String = text.trim().chars().filter(|c| *c != ',' && *c != '，').collect();
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, t),
    };
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let yuan: i64 = whole.parse().ok()?;
    let cents: i64 = format!("{frac:0<2}").parse().ok()?;
    let fen = yuan.checked_mul(100)?.checked_add(cents)?;
    Some(if neg { -fen } else { fen })
}

/// Fen as yuan with two places (`1234.50`).
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", fen.unsigned_abs() / 100, fen.unsigned_abs() % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_read_and_written_exactly() {
        assert_eq!(parse_yuan("1234.5"), Some(123_450));
        assert_eq!(parse_yuan(" 1,234.56 "), Some(123_456));
        assert_eq!(parse_yuan("7"), Some(700));
        for bad in ["", "1.234", "12a", "1e3", ".5", "1..2"] {
            assert_eq!(parse_yuan(bad), None, "{bad}");
        }
        assert_eq!(yuan(123_456), "1234.56");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(batch_number(7, 2026), "ZF-2026-000007");
    }
}
