//! An import of entity rows and its row-by-row report.

use serde::{Deserialize, Serialize};

use super::date::Timestamp;

/// One problem found in a file: where it is, what it says, and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowIssue {
    /// 1-based row number as a spreadsheet shows it (the header is row 1).
    pub row: u64,
    pub column: String,
    pub value: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Checked and waiting for a person to confirm.
    Staged,
    Applied,
    /// Refused as a whole because of bad rows; nothing was written.
    Refused,
    Discarded,
    /// Writing stopped part-way (a store error); the batches written before stay. Importing
    /// the same file again is safe: every row is an upsert.
    Failed,
}

impl ImportStatus {
    pub fn label(self) -> &'static str {
        match self {
            ImportStatus::Staged => "待确认",
            ImportStatus::Applied => "已导入",
            ImportStatus::Refused => "已拒绝（未写入）",
            ImportStatus::Discarded => "已放弃",
            ImportStatus::Failed => "写入中断（已写入部分行，可重新导入同一文件）",
        }
    }
}

/// Counts and problems of one import.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImportReport {
    pub rows: u64,
    pub valid: u64,
    pub invalid: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Columns that were recognised, as field names.
    pub columns: Vec<String>,
    /// Headers that matched no field (ignored).
    pub ignored_columns: Vec<String>,
    pub issues: Vec<RowIssue>,
    /// Issues beyond the stored list are counted here only.
    pub issues_truncated: u64,
    /// How the file was read, where it is worth saying (its encoding; sheets left unread).
    #[serde(default)]
    pub notices: Vec<String>,
}

/// The most problems a report lists; the rest are counted.
pub const MAX_STORED_ISSUES: usize = 1000;
/// How much of a refused value a report repeats, in characters.
pub const MAX_ISSUE_VALUE_CHARS: usize = 200;

impl ImportReport {
    /// Records a problem, bounded: the value, column and reason are cut to what a person can
    /// read, and past [`MAX_STORED_ISSUES`] only counted, so that a refused file of any size
    /// leaves a report of bounded size.
    pub fn push_issue(&mut self, issue: RowIssue) {
        use super::text::excerpt;
        if self.issues.len() < MAX_STORED_ISSUES {
            self.issues.push(RowIssue {
                row: issue.row,
                column: excerpt(&issue.column, 100),
                value: excerpt(&issue.value, MAX_ISSUE_VALUE_CHARS),
                reason: excerpt(&issue.reason, 2 * MAX_ISSUE_VALUE_CHARS + 300),
            });
        } else {
            self.issues_truncated += 1;
        }
    }

    /// Headers that matched no field, bounded like the issues.
    pub fn push_ignored(&mut self, header: &str) {
        if self.ignored_columns.len() < 100 {
            self.ignored_columns.push(super::text::excerpt(header, 100));
        }
    }

    /// The report as CSV: 行号,列,值,原因.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(["行号", "列", "值", "原因"]);
        for i in &self.issues {
            let cells = [&i.column, &i.value, &i.reason].map(|c| super::text::spreadsheet_safe(c).into_owned());
            let _ = w.write_record([i.row.to_string().as_str(), &cells[0], &cells[1], &cells[2]]);
        }
        w.into_inner().unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportJob {
    pub id: u64,
    pub file_name: String,
    pub status: ImportStatus,
    pub skip_invalid: bool,
    pub created_at: Timestamp,
    pub created_by: String,
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
    /// Who confirmed a staged web import.
    #[serde(default)]
    pub confirmed_by: Option<String>,
    pub report: ImportReport,
}
