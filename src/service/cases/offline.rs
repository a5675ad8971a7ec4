//! 线下同步: cases handled at the counter, imported from CSV or XLSX — 外部办件编号, credit code,
//! measure (id, or name and 文号), applied / decided / paid dates, decision, amount, voucher —
//! checked row by row like the entity import: any bad row refuses the whole file with a report
//! (unless asked to skip them); idempotent by the external number; origin `offline`; counted in
//! the measure's budget and every figure.

use std::collections::BTreeMap;
use std::io::Cursor;

use serde::Serialize;

use super::{actor, new_case};
use crate::import::{Format, for_each_row};
use crate::model::audit::action;
use crate::model::case::{CaseContext, OfflineOutcome};
use crate::model::payment::parse_yuan;
use crate::model::{Date, FieldError, MeasureVersion, Money, Role, Who};
use crate::service::cases::review::move_money;
use crate::service::{Result, Service, ServiceError};
use crate::store::prelude::*;

/// What an offline import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OfflineReport {
    pub rows: usize,
    pub created: usize,
    /// Already imported with this 外部办件编号 (and the same content).
    pub unchanged: usize,
    /// Bad rows left out (only with `skip_invalid`).
    pub skipped: usize,
    pub errors: Vec<FieldError>,
}

const COLUMNS: [(&str, &[&str]); 11] = [
    ("外部办件编号", &["外部办件编号", "办件编号"]),
    ("统一社会信用代码", &["统一社会信用代码", "信用代码"]),
    ("事项编号", &["事项编号", "事项ID"]),
    ("事项名称", &["事项名称"]),
    ("政策文号", &["政策文号", "文号"]),
    ("申报日期", &["申报日期"]),
    ("决定日期", &["决定日期", "审定日期"]),
    ("决定", &["决定", "审核结果", "结果"]),
    ("金额（元）", &["金额（元）", "金额(元)", "核定金额（元）"]),
    ("拨付日期", &["拨付日期", "支付日期"]),
    ("凭证号", &["凭证号", "交易流水号"]),
];

struct Failed(ServiceError);

impl From<crate::import::ReadError> for Failed {
    fn from(e: crate::import::ReadError) -> Failed {
        Failed(ServiceError::invalid("file", e.to_string()))
    }
}

impl Service {
    /// Imports offline cases of the caller's department.
    pub fn offline_import(
        &self,
        who: &Who,
        file_name: &str,
        bytes: &[u8],
        skip_invalid: bool,
    ) -> Result<OfflineReport> {
        let Some(department) =
            who.department.clone().filter(|_| matches!(who.role, Some(Role::Reviewer | Role::Publisher)))
        else {
            return Err(ServiceError::Forbidden("只有承办部门的审核员或政策发布员可以导入线下办件".into()));
        };
        let format = Format::of(file_name).ok_or_else(|| {
            ServiceError::invalid("file", format!("文件「{file_name}」的格式无法识别：只支持 .csv 和 .xlsx"))
        })?;
        let today = self.today();
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        // The department's published measures, by id and by (name, 文号).
        let mut by_id: BTreeMap<u64, (MeasureVersion, String)> = BTreeMap::new();
        for m in tx.measures()? {
            let Some(v) = m.published.and_then(|p| tx.version(m.id, p).ok().flatten()) else { continue };
            if v.spec.department == department {
                let doc = tx.policy(m.policy_id)?.map(|p| p.content.doc_number).unwrap_or_default();
                by_id.insert(m.id, (v, doc));
            }
        }
        let mut report = OfflineReport::default();
        let mut columns: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut rows = Vec::new();
        let read = for_each_row(Cursor::new(bytes), format, |line, cells| -> std::result::Result<(), Failed> {
            if columns.is_empty() {
                for (i, h) in cells.iter().enumerate() {
                    let h = h.trim().trim_start_matches('\u{feff}');
                    if let Some((name, _)) = COLUMNS.iter().find(|(_, alts)| alts.contains(&h)) {
                        columns.entry(name).or_insert(i);
                    }
                }
                let missing: Vec<&str> = ["外部办件编号", "统一社会信用代码", "决定"]
                    .into_iter()
                    .filter(|c| !columns.contains_key(c))
                    .collect();
                if !missing.is_empty() {
                    return Err(Failed(ServiceError::invalid(
                        "file",
                        format!("缺少「{}」列（第 1 行应为表头）", missing.join("」「")),
                    )));
                }
                return Ok(());
            }
            let cell = |name: &str| {
                columns.get(name).and_then(|i| cells.get(*i)).map_or(String::new(), |s| s.trim().to_string())
            };
            rows.push((line, COLUMNS.iter().map(|(n, _)| (*n, cell(n))).collect::<BTreeMap<&str, String>>()));
            Ok(())
        });
        read.map_err(|e| e.0)?;
        report.rows = rows.len();
        let mut planned = Vec::new();
        for (line, r) in &rows {
            let mut errs = Vec::new();
            let err = |errs: &mut Vec<FieldError>, column: &str, reason: &str| {
                errs.push(FieldError::new(&format!("第 {line} 行 {column}"), format!("「{}」{reason}", r[column])));
            };
            let no = r["外部办件编号"].clone();
            if no.is_empty() || no.chars().count() > 64 {
                err(&mut errs, "外部办件编号", "应为 1 至 64 个字符");
            }
            let entity = match crate::model::CreditCode::parse(&r["统一社会信用代码"]) {
                Ok(code) => match tx.entity_id_by_code(code.as_str())?.map(|id| tx.entity(id)).transpose()?.flatten() {
                    Some(e) => Some(e),
                    None => {
                        err(&mut errs, "统一社会信用代码", "不在经营主体库中，请先导入该主体");
                        None
                    }
                },
                Err(_) => {
                    err(&mut errs, "统一社会信用代码", "不是有效的统一社会信用代码");
                    None
                }
            };
            let measure = if !r["事项编号"].is_empty() {
                match r["事项编号"].parse::<u64>().ok().and_then(|id| by_id.get(&id)) {
                    Some(m) => Some(m),
                    None => {
                        err(&mut errs, "事项编号", &format!("不是本部门（{department}）已发布的事项"));
                        None
                    }
                }
            } else {
                let found: Vec<_> = by_id
                    .values()
                    .filter(|(v, doc)| {
                        v.spec.name == r["事项名称"] && (r["政策文号"].is_empty() || *doc == r["政策文号"])
                    })
                    .collect();
                match found.as_slice() {
                    [one] => Some(*one),
                    [] => {
                        err(&mut errs, "事项名称", "没有这个名称（和文号）的本部门已发布事项；也可填「事项编号」");
                        None
                    }
                    _ => {
                        err(&mut errs, "事项名称", "有多个同名事项，请填写「政策文号」或「事项编号」");
                        None
                    }
                }
            };
            let date = |errs: &mut Vec<FieldError>, column: &str, required: bool| -> Option<Date> {
                match r[column].as_str() {
                    "" if !required => None,
                    t => match Date::parse(t) {
                        Ok(d) if d <= today => Some(d),
                        Ok(_) => {
                            errs.push(FieldError::new(&format!("第 {line} 行 {column}"), format!("「{t}」晚于今天")));
                            None
                        }
                        Err(_) => {
                            errs.push(FieldError::new(
                                &format!("第 {line} 行 {column}"),
                                format!("「{t}」不是日期（YYYY-MM-DD）"),
                            ));
                            None
                        }
                    },
                }
            };
            let applied = date(&mut errs, "申报日期", true);
            let decided = date(&mut errs, "决定日期", true);
            let paid_on = date(&mut errs, "拨付日期", false);
            let outcome = match r["决定"].as_str() {
                "通过" | "予以通过" | "同意" => match parse_yuan(&r["金额（元）"]).filter(|f| *f > 0) {
                    Some(fen) => match paid_on {
                        Some(on) if !r["凭证号"].is_empty() => {
                            Some(OfflineOutcome::Paid { amount: Money(fen), on, voucher: r["凭证号"].clone() })
                        }
                        Some(_) => {
                            err(&mut errs, "凭证号", "已拨付的办件须有凭证号");
                            None
                        }
                        None => Some(OfflineOutcome::Approved { amount: Money(fen) }),
                    },
                    None => {
                        err(&mut errs, "金额（元）", "通过的办件须有以元为单位、最多两位小数的正金额");
                        None
                    }
                },
                "不予通过" | "不通过" => {
                    Some(OfflineOutcome::Rejected { reason: "线下审核不予通过".into() })
                }
                _ => {
                    err(&mut errs, "决定", "应为「通过」或「不予通过」（线下办件须已作出决定）");
                    None
                }
            };
            if let (Some(a), Some(d)) = (applied, decided)
                && d < a
            {
                err(&mut errs, "决定日期", "早于申报日期");
            }
            match (errs.is_empty(), entity, measure, applied, decided, outcome) {
                (true, Some(e), Some((v, _)), Some(a), Some(d), Some(o)) => {
                    planned.push((*line, no, e, v.clone(), a, d, o))
                }
                _ => report.errors.extend(errs),
            }
        }
        if !report.errors.is_empty() && !skip_invalid {
            return Err(ServiceError::Invalid(report.errors));
        }
        report.skipped = rows.len() - planned.len();
        let who_actor = actor(who);
        for (line, no, entity, version, applied, decided, outcome) in planned {
            if let Some(existing) = tx.case_by_external_no(&no)? {
                let same =
                    tx.case(existing)?.is_some_and(|c| c.entity_id == entity.id && c.measure_id == version.measure_id);
                if same {
                    report.unchanged += 1;
                    continue;
                }
                let e = FieldError::new(
                    &format!("第 {line} 行 外部办件编号"),
                    format!("「{no}」已导入为另一主体或事项的办件"),
                );
                if skip_invalid {
                    report.errors.push(e);
                    report.skipped += 1;
                    continue;
                }
                return Err(ServiceError::Invalid(vec![e]));
            }
            let budget = Self::current_budget(&tx, version.measure_id)?;
            let ledger = tx.ledger(version.measure_id)?;
            let ctx = CaseContext {
                now: tx.now(),
                today,
                calendar: &calendar,
                budget_left: budget.map(|b| Money(b.fen() - ledger.approved)),
                max_returns: 0,
            };
            let blank =
                new_case(tx.next_id("case")?, &version, &entity, tx.now(), who, crate::model::case::Origin::Offline);
            let case = crate::model::case::Case::offline(blank, &no, applied, decided, outcome, &who_actor, &ctx);
            move_money(&tx, who, &case, 0, budget).map_err(|e| match e {
                ServiceError::Conflict(m) => {
                    ServiceError::Invalid(vec![FieldError::new(&format!("第 {line} 行 金额（元）"), m)])
                }
                other => other,
            })?;
            tx.put_case(&case, None)?;
            tx.put_external_no(&no, case.id)?;
            tx.audit_new(who, action::CASE_OFFLINE_IMPORT, &format!("case:{}", case.id), &no, &case)?;
            report.created += 1;
        }
        tx.commit()?;
        Ok(report)
    }
}
