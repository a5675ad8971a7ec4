//! CSV and XLSX readers for entity files: headers mapped to catalogue fields, rows streamed one
//! at a time and turned into validated patches with a row-by-row report.

use std::io::{Read, Seek};

use calamine::{DataRef, Reader, Xlsx};

use crate::model::fields::{CLEAR_MARK, ParseContext, format_number, parse_value};
use crate::model::imports::RowIssue;
use crate::model::{Date, EntityPatch, Field, MoneyUnit, TagDictionary};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// From a file name's extension.
    pub fn of(name: &str) -> Option<Format> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Some(Format::Csv)
        } else if lower.ends_with(".xlsx") {
            Some(Format::Xlsx)
        } else {
            None
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("文件「{0}」的格式无法识别：只支持 .csv 和 .xlsx")]
    UnknownFormat(String),
    #[error("无法读取 CSV 文件：{0}")]
    Csv(#[from] csv::Error),
    #[error("无法读取 XLSX 文件（是否是有效的 Excel 2007 及以上格式？）：{0}")]
    Xlsx(#[from] calamine::XlsxError),
    #[error("XLSX 文件中没有工作表")]
    NoSheet,
    #[error("文件是空的：第 1 行应为表头")]
    Empty,
}

/// Text of a CSV field: UTF-8, or GB18030 as Chinese Excel writes "CSV (逗号分隔)".
fn field_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::GB18030.decode(bytes).0.into_owned(),
    }
}

fn cell_text(cell: &DataRef<'_>) -> String {
    match cell {
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => format_number(*f),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(dt) => {
            let (y, m, d, ..) = dt.to_ymd_hms_milli();
            format!("{y:04}-{m:02}-{d:02}")
        }
        DataRef::Error(e) => format!("#{e:?}"),
        DataRef::Empty => String::new(),
    }
}

/// Calls `f` with each row that is not entirely blank, header first, with its 1-based row
/// number as a spreadsheet shows it. Rows stream: only one is in memory at a time.
pub fn for_each_row<R, E>(
    source: R,
    format: Format,
    mut f: impl FnMut(u64, Vec<String>) -> Result<(), E>,
) -> Result<(), E>
where
    R: Read + Seek,
    E: From<ReadError>,
{
    let blank = |cells: &[String]| cells.iter().all(|c| c.trim().is_empty());
    match format {
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(source);
            let mut record = csv::ByteRecord::new();
            let mut n = 0u64;
            while reader.read_byte_record(&mut record).map_err(ReadError::Csv)? {
                n += 1;
                let mut cells: Vec<String> = record.iter().map(field_text).collect();
                if n == 1
                    && let Some(first) = cells.first_mut()
                {
                    *first = first.trim_start_matches('\u{feff}').to_string();
                }
                if !blank(&cells) {
                    f(n, cells)?;
                }
            }
        }
        Format::Xlsx => {
            let mut book: Xlsx<R> = Xlsx::new(source).map_err(ReadError::Xlsx)?;
            let sheet = book.sheet_names().first().cloned().ok_or(ReadError::NoSheet)?;
            let mut cells = book.worksheet_cells_reader(&sheet).map_err(ReadError::Xlsx)?;
            let mut current: Option<(u64, Vec<String>)> = None;
            while let Some(cell) = cells.next_cell().map_err(ReadError::Xlsx)? {
                let (r, c) = cell.get_position();
                let row_no = u64::from(r) + 1;
                if current.as_ref().is_some_and(|(n, _)| *n != row_no)
                    && let Some((n, row)) = current.take()
                    && !blank(&row)
                {
                    f(n, row)?;
                }
                let (_, row) = current.get_or_insert_with(|| (row_no, Vec::new()));
                let c = c as usize;
                if row.len() <= c {
                    row.resize(c + 1, String::new());
                }
                row[c] = cell_text(cell.get_value());
            }
            if let Some((n, row)) = current
                && !blank(&row)
            {
                f(n, row)?;
            }
        }
    }
    Ok(())
}

/// How the columns of a file map to fields.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    pub headers: Vec<String>,
    columns: Vec<Option<(Field, MoneyUnit)>>,
    pub ignored: Vec<String>,
}

/// Matches a header to a field: a field name, its Chinese or English label, optionally with
/// the unit in brackets; money is in 万元 unless the header says 元.
pub fn match_header(header: &str) -> Option<(Field, MoneyUnit)> {
    let h = header.trim().replace(['（', '['], "(").replace(['）', ']'], ")");
    let (base, unit) = match h.split_once('(') {
        Some((b, rest)) => (b.trim().to_string(), rest.trim_end_matches(')').trim().to_string()),
        None => (h.trim().to_string(), String::new()),
    };
    let field = Field::ALL.iter().copied().find(|f| {
        f.name().eq_ignore_ascii_case(&base) || f.label() == base || f.label_en().eq_ignore_ascii_case(&base)
    })?;
    let money_unit = if unit == "元" || unit.eq_ignore_ascii_case("yuan") { MoneyUnit::Yuan } else { MoneyUnit::Wan };
    Some((field, money_unit))
}

impl ColumnMap {
    /// Reads the header row. File-level problems (no credit-code column, a field twice) are
    /// returned as issues on row 1.
    pub fn from_headers(headers: Vec<String>) -> Result<ColumnMap, Vec<RowIssue>> {
        let mut issues = Vec::new();
        let mut columns = Vec::new();
        let mut ignored = Vec::new();
        let mut seen: Vec<Field> = Vec::new();
        for h in &headers {
            match match_header(h) {
                Some((f, _)) if f.derived() => {
                    ignored.push(format!("{h}（系统计算字段，导入时忽略）"));
                    columns.push(None);
                }
                Some((f, unit)) => {
                    if seen.contains(&f) {
                        issues.push(RowIssue {
                            row: 1,
                            column: h.clone(),
                            value: h.clone(),
                            reason: format!("表头中「{}」出现了不止一次", f.label()),
                        });
                    }
                    seen.push(f);
                    columns.push(Some((f, unit)));
                }
                None => {
                    if !h.trim().is_empty() {
                        ignored.push(h.clone());
                    }
                    columns.push(None);
                }
            }
        }
        if !seen.contains(&Field::CreditCode) {
            issues.push(RowIssue {
                row: 1,
                column: "(表头)".into(),
                value: headers.join(","),
                reason: "缺少「统一社会信用代码」列（credit_code），无法确定每行是哪个经营主体".into(),
            });
        }
        if issues.is_empty() { Ok(ColumnMap { headers, columns, ignored }) } else { Err(issues) }
    }

    /// The recognised fields, in column order.
    pub fn fields(&self) -> Vec<Field> {
        self.columns.iter().flatten().map(|(f, _)| *f).collect()
    }

    /// Parses one data row. An empty cell leaves the field as it is; `null` clears it.
    pub fn parse_row(
        &self,
        row: u64,
        cells: &[String],
        today: Date,
        tags: &TagDictionary,
    ) -> Result<EntityPatch, Vec<RowIssue>> {
        let mut patch = EntityPatch::default();
        let mut issues = Vec::new();
        for (i, col) in self.columns.iter().enumerate() {
            let Some((field, unit)) = col else { continue };
            let text = cells.get(i).map(|s| s.trim()).unwrap_or("");
            let header = self.headers.get(i).cloned().unwrap_or_default();
            if text.is_empty() {
                if *field == Field::CreditCode {
                    issues.push(RowIssue {
                        row,
                        column: header,
                        value: String::new(),
                        reason: "统一社会信用代码不能为空".into(),
                    });
                }
                continue;
            }
            // A masked value from a masked export (`138****5678`) says nothing new: keep what is stored.
            if crate::model::mask::is_personal(field.name()) && text.contains('*') {
                continue;
            }
            if text.eq_ignore_ascii_case(CLEAR_MARK) {
                if *field == Field::CreditCode {
                    issues.push(RowIssue {
                        row,
                        column: header,
                        value: text.into(),
                        reason: "统一社会信用代码不能清空".into(),
                    });
                } else {
                    patch.set(*field, None);
                }
                continue;
            }
            let ctx = ParseContext { today, tags, money_unit: *unit };
            match parse_value(*field, text, &ctx) {
                Ok(v) => patch.set(*field, Some(v)),
                Err(reason) => issues.push(RowIssue { row, column: header, value: text.into(), reason }),
            }
        }
        if issues.is_empty() { Ok(patch) } else { Err(issues) }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::model::FieldValue;
    use crate::model::tags::default_tags;

    #[test]
    fn headers_by_name_label_and_unit() {
        assert_eq!(match_header("营业收入(万元)"), Some((Field::Revenue, MoneyUnit::Wan)));
        assert_eq!(match_header("营业收入（元）"), Some((Field::Revenue, MoneyUnit::Yuan)));
        assert_eq!(match_header(" revenue "), Some((Field::Revenue, MoneyUnit::Wan)));
        assert_eq!(match_header("统一社会信用代码"), Some((Field::CreditCode, MoneyUnit::Wan)));
        assert_eq!(match_header("备注"), None);
        let err = ColumnMap::from_headers(vec!["名称".into(), "name".into()]).unwrap_err();
        assert_eq!(err.len(), 2, "{err:?}");
        let map = ColumnMap::from_headers(vec!["credit_code".into(), "研发投入占比(%)".into(), "备注".into()]).unwrap();
        assert_eq!(map.fields(), [Field::CreditCode]);
        assert_eq!(map.ignored.len(), 2);
    }

    fn rows(bytes: Vec<u8>, format: Format) -> Vec<(u64, Vec<String>)> {
        let mut out = Vec::new();
        for_each_row(Cursor::new(bytes), format, |n, cells| {
            out.push((n, cells));
            Ok::<_, ReadError>(())
        })
        .unwrap();
        out
    }

    #[test]
    fn reads_utf8_bom_and_gb18030_csv() {
        let utf8 = "\u{feff}统一社会信用代码,名称\n91350100M000100Y43,甲公司\n,\n".as_bytes().to_vec();
        let (gbk, _, _) = encoding_rs::GB18030.encode("统一社会信用代码,名称\n91350100M000100Y43,乙公司\n");
        for (bytes, name) in [(utf8, "甲公司"), (gbk.into_owned(), "乙公司")] {
            let all = rows(bytes, Format::Csv);
            assert_eq!(all.len(), 2, "blank rows are skipped");
            assert_eq!((all[0].0, all[0].1[0].as_str()), (1, "统一社会信用代码"));
            assert_eq!((all[1].0, all[1].1[1].as_str()), (2, name));
        }
    }

    #[test]
    fn reads_xlsx_rows_with_numbers_and_dates() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "统一社会信用代码").unwrap();
        sheet.write_string(0, 1, "营业收入(万元)").unwrap();
        sheet.write_string(0, 2, "成立日期").unwrap();
        sheet.write_string(2, 0, "91350100M000100Y43").unwrap();
        sheet.write_number(2, 1, 123.45).unwrap();
        let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2019, 3, 8).unwrap();
        let fmt = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
        sheet.write_datetime_with_format(2, 2, &date, &fmt).unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let all = rows(bytes, Format::Xlsx);
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].0, 3, "row numbers are the sheet's");
        assert_eq!(all[1].1, ["91350100M000100Y43", "123.45", "2019-03-08"]);
    }

    #[test]
    fn row_issues_name_row_column_value_and_reason() {
        let tags = TagDictionary::new(default_tags());
        let map = ColumnMap::from_headers(vec!["统一社会信用代码".into(), "从业人数".into(), "名称".into()]).unwrap();
        let today = Date::parse("2026-11-27").unwrap();
        let issues = map.parse_row(7, &["bad".into(), "-2".into(), "x".into()], today, &tags).unwrap_err();
        assert_eq!(issues.len(), 2);
        assert_eq!(
            (issues[0].row, issues[0].column.as_str(), issues[0].value.as_str()),
            (7, "统一社会信用代码", "bad")
        );
        assert!(issues[1].reason.contains("负数"));
        let patch = map.parse_row(8, &["91350100M000100Y43".into(), "".into(), "null".into()], today, &tags).unwrap();
        assert_eq!(patch.get(Field::Employees), None, "an empty cell leaves the field alone");
        assert_eq!(patch.get(Field::Name), Some(&None), "null clears it");
        assert!(matches!(patch.get(Field::CreditCode), Some(Some(FieldValue::CreditCode(_)))));
    }
}
