//! CSV and XLSX readers for entity files: headers mapped to catalogue fields, rows streamed one
//! at a time and turned into validated patches with a row-by-row report.

mod chunks;
mod csv_text;

use std::io::{Read, Seek};

use calamine::{DataRef, Reader, Xlsx};

pub use chunks::{CHUNK_ROWS, RowChunk, map_in_two, read_chunks};

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

/// The most columns a file may have.
pub const MAX_COLUMNS: usize = 1000;
/// The longest cell read for a recognised column, in characters.
pub const MAX_CELL_CHARS: usize = 2000;
/// The most an XLSX file may unpack to (its parts, uncompressed): a guard against zip bombs.
pub const MAX_XLSX_UNPACKED: u64 = 1024 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("文件「{0}」的格式无法识别：只支持 .csv 和 .xlsx")]
    UnknownFormat(String),
    #[error("无法读取文件：{0}")]
    Io(String),
    #[error(
        "文件编码无法识别，请另存为 UTF-8 或 GB18030（在 Excel 中选\u{201c}CSV UTF-8（逗号分隔）\u{201d}或\u{201c}CSV（逗号分隔）\u{201d}）"
    )]
    Encoding,
    #[error(
        "第 {row} 行的引号没有闭合：这一格从引号开始，跨过换行一直读到了后面的行，会把后面的行并进这一格。请检查第 {row} 行的引号（格内的引号要写成两个 \"\"），改正后重新上传"
    )]
    UnclosedQuote { row: u64 },
    #[error(
        "第 {row} 行过长（超过 {} KB）：请检查这一行是否有未闭合的引号，或把过长的内容拆开",
        csv_text::MAX_RECORD_BYTES / 1024
    )]
    RecordTooLong { row: u64 },
    #[error("第 {row} 行有 {count} 列，超过了 {MAX_COLUMNS} 列的上限：请删去多余的列")]
    TooManyColumns { row: u64, count: usize },
    #[error("无法读取 CSV 文件（第 {row} 行附近）：{detail}")]
    Csv { row: u64, detail: String },
    #[error("无法读取 XLSX 文件（是否是有效的 Excel 2007 及以上格式？）：{0}")]
    Xlsx(String),
    #[error("XLSX 文件解压后过大（{mb} MB，最多 {} MB），请拆成几个文件", MAX_XLSX_UNPACKED / 1024 / 1024)]
    XlsxTooLarge { mb: u64 },
    #[error("XLSX 文件中没有工作表")]
    NoSheet,
    #[error("文件是空的：第 1 行应为表头")]
    Empty,
}

fn cell_text(cell: &DataRef<'_>) -> String {
    let text = match cell {
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
    };
    bounded_cell(text)
}

/// A cell longer than anything a field takes is kept only as far as a report needs: the row
/// is refused for it (see `ColumnMap::parse_row`) and the report shows the beginning.
fn bounded_cell(text: String) -> String {
    if text.len() <= MAX_CELL_CHARS {
        return text;
    }
    let n = text.chars().count();
    if n <= MAX_CELL_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_CELL_CHARS + 1).collect();
    cut.push_str(&format!("…（共 {n} 个字符）"));
    cut
}

/// Copies a CSV cell into a kept buffer (no allocation once the buffer has grown), bounded
/// as [`bounded_cell`] bounds it.
fn fill_cell(dst: &mut String, src: &str) {
    dst.clear();
    if src.len() > MAX_CELL_CHARS && src.chars().count() > MAX_CELL_CHARS {
        dst.push_str(&bounded_cell(src.to_string()));
    } else {
        dst.push_str(src);
    }
}

/// Calls `f` with each row that is not entirely blank, header first, with its 1-based row
/// number as a spreadsheet shows it. Rows stream: only one is in memory at a time, in buffers
/// reused from row to row. Returns what is worth telling about how the file was read (its
/// encoding, sheets left unread).
pub fn for_each_row<R, E>(
    mut source: R,
    format: Format,
    mut f: impl FnMut(u64, &[String]) -> Result<(), E>,
) -> Result<Vec<String>, E>
where
    R: Read + Seek,
    E: From<ReadError>,
{
    let blank = |cells: &[String]| cells.iter().all(|c| c.trim().is_empty());
    let mut notices = Vec::new();
    match format {
        Format::Csv => {
            let shape = csv_text::detect(&mut source)?;
            notices.extend(shape.notice());
            let mut text = csv_text::Utf8Records::new(source, shape)?;
            let mut n = 0u64;
            let mut failed = None;
            {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .delimiter(shape.delimiter)
                    .from_reader(&mut text);
                let mut record = csv::StringRecord::new();
                let mut cells: Vec<String> = Vec::new();
                loop {
                    match reader.read_record(&mut record) {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => {
                            failed = Some(ReadError::Csv { row: n + 1, detail: e.to_string() });
                            break;
                        }
                    }
                    n += 1;
                    if record.len() > MAX_COLUMNS {
                        return Err(ReadError::TooManyColumns { row: n, count: record.len() }.into());
                    }
                    cells.resize_with(record.len(), String::new);
                    for (dst, src) in cells.iter_mut().zip(record.iter()) {
                        fill_cell(dst, src);
                    }
                    if !blank(&cells) {
                        f(n, &cells)?;
                    }
                }
            }
            // A structural problem stops the stream first; it says more than the parser's error.
            if let Some(problem) = text.problem().or(failed) {
                return Err(problem.into());
            }
        }
        Format::Xlsx => {
            xlsx_size_check(&mut source)?;
            let mut book: Xlsx<R> = guarded(|| Xlsx::new(source))?;
            let names = book.sheet_names();
            let sheet = names.first().cloned().ok_or(ReadError::NoSheet)?;
            if names.len() > 1 {
                let others: Vec<String> =
                    names[1..].iter().take(10).map(|n| format!("「{}」", crate::model::text::excerpt(n, 40))).collect();
                notices.push(format!(
                    "文件有 {} 个工作表，只读取了第一个「{}」；其余工作表（{}{}）没有导入",
                    names.len(),
                    crate::model::text::excerpt(&sheet, 40),
                    others.join("、"),
                    if names.len() > 11 { "等" } else { "" }
                ));
            }
            let mut cells = guarded(|| book.worksheet_cells_reader(&sheet))?;
            let mut current: Option<(u64, Vec<String>)> = None;
            while let Some(cell) = guarded(|| cells.next_cell())? {
                let (r, c) = cell.get_position();
                let row_no = u64::from(r) + 1;
                if current.as_ref().is_some_and(|(n, _)| *n != row_no)
                    && let Some((n, row)) = current.take()
                    && !blank(&row)
                {
                    f(n, &row)?;
                }
                let c = c as usize;
                if c >= MAX_COLUMNS {
                    return Err(ReadError::TooManyColumns { row: row_no, count: c + 1 }.into());
                }
                let (_, row) = current.get_or_insert_with(|| (row_no, Vec::new()));
                if row.len() <= c {
                    row.resize(c + 1, String::new());
                }
                row[c] = cell_text(cell.get_value());
            }
            if let Some((n, row)) = current
                && !blank(&row)
            {
                f(n, &row)?;
            }
        }
    }
    Ok(notices)
}

/// A call into the XLSX reader, whose own arithmetic can fail on a crafted file (a cell
/// reference with more digits than a row number holds): a panic there is a refused file, not
/// a failed request.
fn guarded<T>(f: impl FnOnce() -> Result<T, calamine::XlsxError>) -> Result<T, ReadError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result.map_err(|e| ReadError::Xlsx(crate::model::text::excerpt(&e.to_string(), 200))),
        Err(_) => Err(ReadError::Xlsx("文件内容不符合 XLSX 格式（单元格位置或结构有误）".into())),
    }
}

/// Refuses an XLSX whose parts unpack to more than [`MAX_XLSX_UNPACKED`] bytes, before the
/// reader unpacks any of them.
fn xlsx_size_check<R: Read + Seek>(source: &mut R) -> Result<(), ReadError> {
    let xlsx = |e: zip::result::ZipError| ReadError::Xlsx(e.to_string());
    let unpacked = {
        let mut zip = zip::ZipArchive::new(&mut *source).map_err(xlsx)?;
        let mut total = 0u64;
        for i in 0..zip.len() {
            total = total.saturating_add(zip.by_index_raw(i).map_err(xlsx)?.size());
        }
        total
    };
    source.seek(std::io::SeekFrom::Start(0)).map_err(|e| ReadError::Io(e.to_string()))?;
    if unpacked > MAX_XLSX_UNPACKED {
        return Err(ReadError::XlsxTooLarge { mb: unpacked / 1024 / 1024 });
    }
    Ok(())
}

/// How the columns of a file map to fields.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    pub headers: Vec<String>,
    columns: Vec<Option<(Field, MoneyUnit)>>,
    pub ignored: Vec<String>,
    /// Every row must have as many cells as the header (CSV; an XLSX row simply ends early).
    check_width: bool,
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
                    if !h.trim().is_empty() && ignored.len() < 100 {
                        ignored.push(crate::model::text::excerpt(h, 100));
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
        if issues.is_empty() { Ok(ColumnMap { headers, columns, ignored, check_width: false }) } else { Err(issues) }
    }

    /// For a CSV file: a row with fewer cells than the header, or with values beyond it, is
    /// refused (a comma missing, or one inside a cell without quotes, shifts every cell after it).
    pub fn checking_width(mut self, format: Format) -> ColumnMap {
        self.check_width = format == Format::Csv;
        self
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
        let width = self.headers.len();
        let beyond = cells.iter().skip(width).any(|c| !c.trim().is_empty());
        if self.check_width && (cells.len() < width || beyond) {
            let filled = if beyond { cells.len() } else { cells.len().min(width) };
            return Err(vec![RowIssue {
                row,
                column: "(整行)".into(),
                value: cells.join(","),
                reason: format!(
                    "本行有 {filled} 格，表头有 {width} 列：可能少了或多了逗号，或某格内容里的逗号没有用引号括起来"
                ),
            }]);
        }
        // Every field has one column (the header is checked for that), so values are pushed.
        patch.values.reserve(self.columns.len());
        for (i, col) in self.columns.iter().enumerate() {
            let Some((field, unit)) = col else { continue };
            let text = crate::model::text::from_spreadsheet(cells.get(i).map(|s| s.trim()).unwrap_or(""));
            let header = || self.headers.get(i).cloned().unwrap_or_default();
            if text.len() > MAX_CELL_CHARS && text.chars().count() > MAX_CELL_CHARS {
                issues.push(RowIssue {
                    row,
                    column: header(),
                    value: text.into(),
                    reason: format!("内容过长（最多 {MAX_CELL_CHARS} 个字符）"),
                });
                continue;
            }
            if text.is_empty() {
                if *field == Field::CreditCode {
                    issues.push(RowIssue {
                        row,
                        column: header(),
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
                        column: header(),
                        value: text.into(),
                        reason: "统一社会信用代码不能清空".into(),
                    });
                } else {
                    patch.values.push((*field, None));
                }
                continue;
            }
            let ctx = ParseContext { today, tags, money_unit: *unit };
            match parse_value(*field, text, &ctx) {
                Ok(v) => patch.values.push((*field, Some(v))),
                Err(reason) => issues.push(RowIssue { row, column: header(), value: text.into(), reason }),
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
            out.push((n, cells.to_vec()));
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
