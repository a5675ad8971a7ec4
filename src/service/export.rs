//! Exporting the entity and policy libraries as CSV or XLSX. An exported entity file imports
//! back unchanged: derived columns are written for reading and ignored on import, and text that
//! a spreadsheet would run as a formula is written with a leading apostrophe, which the import
//! takes off again.

use std::io::Write;

use rust_xlsxwriter::{Format as XlsxFormat, Workbook, XlsxError};

use super::policies::Audience;
use super::{Result, Service, ServiceError};
use crate::import::Format;
use crate::model::audit::action;
use crate::model::text::spreadsheet_safe;
use crate::model::{Entity, Field, FieldValue, RegionCode, Vocabulary, Who};
use crate::store::prelude::*;

/// XLSX holds at most 1,048,576 rows, the header included.
const XLSX_MAX_ROWS: u64 = 1_048_575;

/// One cell: a number where the field is numeric (so spreadsheets can sum it), else text.
enum Cell {
    Text(String),
    Number(f64),
}

fn entity_cells(e: &Entity, today: crate::model::Date) -> Vec<Cell> {
    Field::ALL
        .iter()
        .map(|f| match e.get(*f, today) {
            None => Cell::Text(String::new()),
            Some(FieldValue::Money(m)) => Cell::Number(m.as_wan_f64()),
            Some(FieldValue::Int(i)) if *f != Field::FiscalYear => Cell::Number(i as f64),
            Some(FieldValue::Percent(p) | FieldValue::Number(p)) => Cell::Number(p),
            Some(v) => Cell::Text(v.to_text()),
        })
        .collect()
}

fn xlsx_error(e: XlsxError) -> ServiceError {
    ServiceError::Internal(format!("无法生成 XLSX：{e}"))
}

fn io_error(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(format!("无法写出文件：{e}"))
}

/// Receives one row at a time.
type RowSink<'a> = dyn FnMut(Vec<Cell>) -> Result<()> + 'a;

/// Writes rows to CSV or XLSX; rows come from `fill`, which calls the sink once per row.
fn write_table(
    format: Format,
    headers: &[String],
    out: &mut dyn Write,
    fill: &mut dyn FnMut(&mut RowSink<'_>) -> Result<()>,
) -> Result<u64> {
    let mut rows = 0u64;
    match format {
        Format::Csv => {
            // A BOM so that Excel opens the UTF-8 file with Chinese intact.
            out.write_all("\u{feff}".as_bytes()).map_err(io_error)?;
            let mut w = csv::Writer::from_writer(out);
            w.write_record(headers).map_err(io_error)?;
            fill(&mut |cells| {
                let texts: Vec<String> = cells
                    .into_iter()
                    .map(|c| match c {
                        Cell::Text(s) => spreadsheet_safe(&s).into_owned(),
                        Cell::Number(n) => crate::model::fields::format_number(n),
                    })
                    .collect();
                rows += 1;
                w.write_record(&texts).map_err(io_error)
            })?;
            w.flush().map_err(io_error)?;
        }
        Format::Xlsx => {
            let mut book = Workbook::new();
            let bold = XlsxFormat::new().set_bold();
            let sheet = book.add_worksheet_with_constant_memory().map_err(xlsx_error)?;
            for (c, h) in headers.iter().enumerate() {
                sheet.write_string_with_format(0, c as u16, h, &bold).map_err(xlsx_error)?;
            }
            fill(&mut |cells| {
                rows += 1;
                if rows > XLSX_MAX_ROWS {
                    return Err(ServiceError::invalid("format", "XLSX 最多容纳 1,048,575 行数据，请改用 CSV 导出"));
                }
                for (c, cell) in cells.into_iter().enumerate() {
                    let (r, c) = (rows as u32, c as u16);
                    match cell {
                        Cell::Text(s) if s.is_empty() => {}
                        Cell::Text(s) => {
                            sheet.write_string(r, c, spreadsheet_safe(&s)).map_err(xlsx_error)?;
                        }
                        Cell::Number(n) => {
                            sheet.write_number(r, c, n).map_err(xlsx_error)?;
                        }
                    }
                }
                Ok(())
            })?;
            let mut buffer = std::io::Cursor::new(Vec::new());
            book.save_to_writer(&mut buffer).map_err(xlsx_error)?;
            out.write_all(buffer.get_ref()).map_err(io_error)?;
        }
    }
    Ok(rows)
}

/// A table of text cells as CSV (UTF-8 with a BOM) or XLSX bytes.
pub(crate) fn table_bytes(format: Format, headers: &[String], rows: Vec<Vec<String>>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut rows = rows.into_iter();
    write_table(format, headers, &mut out, &mut |sink| {
        rows.try_for_each(|r| sink(r.into_iter().map(Cell::Text).collect()))
    })?;
    Ok(out)
}

impl Service {
    /// Writes every entity (within the given regions, if any); returns the number of rows.
    /// Personal data is masked unless `personal` (the command line on the server, which holds
    /// the whole store anyway).
    pub fn export_entities(
        &self,
        format: Format,
        out: &mut dyn Write,
        personal: bool,
        within: &[RegionCode],
    ) -> Result<u64> {
        let today = self.today();
        let headers: Vec<String> = Field::ALL.iter().map(|f| f.header()).collect();
        let tx = self.store.read()?;
        write_table(format, &headers, out, &mut |sink| {
            tx.for_each_entity(|mut e| {
                let inside =
                    within.is_empty() || e.region.as_ref().is_some_and(|r| within.iter().any(|w| r.within(w.as_str())));
                if !inside {
                    return Ok(());
                }
                if !personal {
                    crate::model::mask::entity(&mut e);
                }
                sink(entity_cells(&e, today))
            })
        })
    }

    /// An export through the web or the API, recorded in the audit trail.
    pub fn export_logged(&self, who: &Who, file: &str, format: Format) -> Result<Vec<u8>> {
        let within = who.regions.as_slice();
        let mut out = Vec::new();
        let rows = if file.starts_with("entities") {
            self.export_entities(format, &mut out, false, within)?
        } else {
            self.export_policies(format, &mut out)?
        };
        let tx = self.store.write()?;
        tx.audit(who, action::DATA_EXPORT, &format!("export:{file}"), &format!("{rows} rows"))?;
        tx.commit()?;
        Ok(out)
    }

    /// Writes one row per measure with its policy (staff view: the newest version).
    pub fn export_policies(&self, format: Format, out: &mut dyn Write) -> Result<u64> {
        let headers: Vec<String> = [
            "政策ID",
            "政策标题",
            "文号",
            "层级",
            "发文部门",
            "发布日期",
            "有效期起",
            "有效期止",
            "事项ID",
            "事项名称",
            "类别",
            "承办部门",
            "兑现方式",
            "版本",
            "版本状态",
            "申报开始",
            "申报截止",
            "单户上限(万元)",
            "资金总额(万元)",
            "兑现标准",
            "申报条件",
            "申报材料",
            "联系方式",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let policies = self.policy_search(&Default::default(), Audience::Staff)?;
        let opt = |d: Option<crate::model::Date>| Cell::Text(d.map(|d| d.to_string()).unwrap_or_default());
        let money =
            |m: Option<crate::model::Money>| m.map_or(Cell::Text(String::new()), |m| Cell::Number(m.as_wan_f64()));
        write_table(format, &headers, out, &mut |sink| {
            for p in &policies {
                let c = &p.policy.content;
                for m in &p.measures {
                    let s = &m.spec;
                    sink(vec![
                        Cell::Number(p.policy.id as f64),
                        Cell::Text(c.title.clone()),
                        Cell::Text(c.doc_number.clone()),
                        Cell::Text(c.level.label().into()),
                        Cell::Text(c.department.clone()),
                        opt(c.issue_date),
                        opt(c.valid_from),
                        opt(c.valid_until),
                        Cell::Number(m.id as f64),
                        Cell::Text(s.name.clone()),
                        Cell::Text(s.category.label().into()),
                        Cell::Text(s.department.clone()),
                        Cell::Text(s.mode.label().into()),
                        Cell::Number(f64::from(m.version)),
                        Cell::Text(m.status.label().into()),
                        opt(s.window_start),
                        opt(s.window_end),
                        money(s.cap),
                        money(s.budget),
                        Cell::Text(s.amount.clone().unwrap_or_default()),
                        Cell::Text(
                            s.conditions
                                .iter()
                                .map(|c| format!("{}〔{}〕", c.label, c.expr))
                                .collect::<Vec<_>>()
                                .join("\n"),
                        ),
                        Cell::Text(s.materials.join("\n")),
                        Cell::Text(s.contact.clone()),
                    ])?;
                }
            }
            Ok(())
        })
    }

    /// The caller's review queue — every case `filter` keeps, in its order, not only one page —
    /// as XLSX, recorded in the audit trail. Only what the caller sees in the queue is written.
    pub fn export_queue_logged(&self, who: &Who, filter: &super::cases::CaseFilter) -> Result<Vec<u8>> {
        let cases = self.queue_all(who, filter)?;
        let headers = [
            "办件编号",
            "政策事项",
            "经营主体",
            "统一社会信用代码",
            "承办部门",
            "状态",
            "当前环节",
            "申报日期",
            "办理期限",
            "剩余工作日",
            "是否超期",
            "金额（万元）",
        ];
        let date = |d: Option<crate::model::Date>| Cell::Text(d.map(|d| d.to_string()).unwrap_or_default());
        self.xlsx_logged(who, "export:cases.xlsx", &headers, &mut |sink| {
            for v in &cases {
                let c = &v.case;
                sink(vec![
                    Cell::Text(v.number.clone()),
                    Cell::Text(c.measure_name.clone()),
                    Cell::Text(c.entity_name.clone()),
                    Cell::Text(c.credit_code.clone()),
                    Cell::Text(c.department.clone()),
                    Cell::Text(v.state_label.to_string()),
                    Cell::Text(v.stage_name.clone().unwrap_or_default()),
                    date(c.submitted_on),
                    date(v.due),
                    v.days_left.map_or(Cell::Text(String::new()), |d| Cell::Number(d as f64)),
                    Cell::Text(if v.overdue { "是" } else { "否" }.into()),
                    super::cases::case_amount(c).map_or(Cell::Text(String::new()), |m| Cell::Number(m.as_wan_f64())),
                ])?;
            }
            Ok(())
        })
    }

    /// The supervisors' board (open items, or all with `include_resolved`) as XLSX, recorded
    /// in the audit trail; within the caller's region as the board is.
    pub fn export_board_logged(&self, who: &Who, include_resolved: bool) -> Result<Vec<u8>> {
        let rows_of_board = self.supervision_board(who, include_resolved)?;
        let headers = [
            "督办编号",
            "办件编号",
            "政策事项",
            "经营主体",
            "统一社会信用代码",
            "承办部门",
            "超期环节",
            "办理期限",
            "超期工作日",
            "督办状态",
            "督办通知期限",
            "办结日期",
            "办结说明",
        ];
        self.xlsx_logged(who, "export:supervision.xlsx", &headers, &mut |sink| {
            for r in &rows_of_board {
                let i = &r.item;
                sink(vec![
                    Cell::Number(i.id as f64),
                    Cell::Text(r.case_number.clone()),
                    Cell::Text(i.measure_name.clone()),
                    Cell::Text(i.entity_name.clone()),
                    Cell::Text(i.credit_code.clone()),
                    Cell::Text(i.department.clone()),
                    Cell::Text(i.stage_name.clone()),
                    Cell::Text(i.due.to_string()),
                    Cell::Number(f64::from(r.days_late)),
                    Cell::Text(r.status_label.to_string()),
                    Cell::Text(i.notice.as_ref().map(|n| n.deadline.to_string()).unwrap_or_default()),
                    Cell::Text(i.resolved.as_ref().map(|x| x.on.to_string()).unwrap_or_default()),
                    Cell::Text(i.resolved.as_ref().map(|x| x.note.clone()).unwrap_or_default()),
                ])?;
            }
            Ok(())
        })
    }

    /// Writes one table as XLSX and records the export (its rows) in the audit trail.
    fn xlsx_logged(
        &self,
        who: &Who,
        target: &str,
        headers: &[&str],
        fill: &mut dyn FnMut(&mut RowSink<'_>) -> Result<()>,
    ) -> Result<Vec<u8>> {
        let headers: Vec<String> = headers.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        let rows = write_table(Format::Xlsx, &headers, &mut out, fill)?;
        let tx = self.store.write()?;
        tx.audit(who, action::DATA_EXPORT, target, &format!("{rows} rows"))?;
        tx.commit()?;
        Ok(out)
    }
}
