//! 兑付 (DESIGN §5): payable cases of a department form payment batches per source of funds;
//! exporting a batch for the finance system locks it; the return file records each row paid
//! (date, voucher) or failed (reason) — checked whole first, refused with a report if any row
//! matches nothing or differs in amount, and the same file twice changes nothing; a failed
//! payment asks the enterprise to correct its account, after which the case goes into a later
//! batch. The batch reconciles to the fen: total = paid + failed + pending.

use std::collections::BTreeMap;
use std::io::Cursor;

use serde::Serialize;

use super::{CaseView, department_staff};
use crate::import::{Format, for_each_row};
use crate::model::audit::action;
use crate::model::case::{AfterAction, BankAccount, Case, CaseAction, CaseState, FailReason};
use crate::model::payment::{BatchState, PaymentBatch, ReturnOutcome, ReturnRow, batch_number, parse_yuan, yuan};
use crate::model::{Date, FieldError, Money, Role, Vocabulary, Who};
use crate::service::push::CaseNotice;
use crate::service::{Result, Service, ServiceError};
use crate::store::prelude::*;
use crate::store::{Tables, WriteTx};

/// The columns of an exported batch, in order.
pub const EXPORT_COLUMNS: [&str; 10] = [
    "批次号",
    "序号",
    "收款人名称",
    "统一社会信用代码",
    "开户银行",
    "银行账号",
    "金额（元）",
    "事项名称",
    "政策文号",
    "资金来源",
];

/// A measure's money as its page shows it, in fen.
#[derive(Debug, Clone, Serialize)]
pub struct MeasureMoney {
    pub budget: Option<i64>,
    /// Approved (reserved or paid), of which reserved and not yet paid, paid (net of what was
    /// recovered), recovered; what is left of the budget.
    pub approved: i64,
    pub reserved: i64,
    pub paid: i64,
    pub recovered: i64,
    pub remaining: Option<i64>,
}

/// One row of a batch as its page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentRow {
    pub seq: u32,
    pub case_id: u64,
    pub case_number: String,
    pub entity_name: String,
    pub credit_code: String,
    pub measure_name: String,
    pub amount_fen: i64,
    pub state: CaseState,
    pub state_label: &'static str,
    pub bank: String,
    pub account_masked: String,
    pub paid_on: Option<Date>,
    pub voucher: Option<String>,
    pub failure: Option<String>,
}

/// A batch with its rows and its reconciliation.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentBatchView {
    #[serde(flatten)]
    pub batch: PaymentBatch,
    pub state_label: &'static str,
    pub pending: u32,
    pub pending_fen: i64,
    /// total = paid + failed + pending, to the fen.
    pub reconciles: bool,
    pub rows: Vec<PaymentRow>,
}

/// What a return file did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReturnReport {
    pub rows: usize,
    pub paid: usize,
    pub failed: usize,
    /// Rows already recorded exactly so (a file imported again).
    pub unchanged: usize,
}

fn may_read(who: &Who, b: &PaymentBatch) -> bool {
    department_staff(who, &b.department) || who.role == Some(Role::Supervisor) || who.role.is_none()
}

fn batch_or_404(tx: &impl Tables, who: &Who, id: u64) -> Result<PaymentBatch> {
    tx.payment_batch(id)?
        .filter(|b| may_read(who, b))
        .ok_or_else(|| ServiceError::NotFound(format!("拨付批次 #{id} 不存在，或您无权查看")))
}

impl Service {
    /// A measure's budget and ledger (staff who read cases).
    pub fn measure_money(&self, who: &Who, measure: crate::model::MeasureId) -> Result<MeasureMoney> {
        if who.role.is_none_or(|r| !crate::auth::Permission::CaseRead.granted_to(r)) {
            return Err(ServiceError::Forbidden("只有工作人员可以查看资金情况".into()));
        }
        let tx = self.store.read()?;
        if tx.measure(measure.get())?.is_none() {
            return Err(ServiceError::NotFound(format!("政策事项 #{measure} 不存在")));
        }
        let budget = Self::current_budget(&tx, measure.get())?.map(Money::fen);
        let l = tx.ledger(measure.get())?;
        Ok(MeasureMoney {
            budget,
            approved: l.approved,
            reserved: l.reserved(),
            paid: l.paid,
            recovered: l.recovered,
            remaining: budget.map(|b| b - l.approved),
        })
    }

    /// The batches `who` handles (its department's) or supervises (all).
    pub fn payment_batches_for(&self, who: &Who) -> Result<Vec<PaymentBatch>> {
        Ok(self
            .store
            .read()?
            .payment_batches()?
            .into_iter()
            .filter(|b| may_read(who, b) && who.role.is_some())
            .collect())
    }

    /// Puts the department's payable cases into new batches, one per source of funds and
    /// budget subject of their measures. Refused when nothing is payable.
    pub fn payment_batch_create(&self, who: &Who) -> Result<Vec<PaymentBatch>> {
        let Some(department) =
            who.department.clone().filter(|_| matches!(who.role, Some(Role::Reviewer | Role::Publisher)))
        else {
            return Err(ServiceError::Forbidden("只有承办部门的审核员或政策发布员可以生成拨付批次".into()));
        };
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        // The department's payable cases, grouped by (source of funds, budget subject).
        let mut groups: BTreeMap<(String, String), Vec<(Case, String)>> = BTreeMap::new();
        for m in tx.measures()? {
            let Some(v) = m.published.and_then(|p| tx.version(m.id, p).ok().flatten()) else { continue };
            if v.spec.department != department {
                continue;
            }
            let doc = tx.policy(m.policy_id)?.map(|p| p.content.doc_number).unwrap_or_default();
            let mut after = 0;
            loop {
                let cases = tx.cases_of_measure(m.id, after, 2_000)?;
                let Some(last) = cases.last() else { break };
                after = last.id;
                // A case without an amount (settled outside huiqi) has nothing to pay.
                for c in cases
                    .into_iter()
                    .filter(|c| c.state == CaseState::Payable && c.approved_amount.is_some_and(|a| a.fen() > 0))
                {
                    let key = (v.spec.fund_source.clone(), v.spec.budget_subject.clone());
                    groups.entry(key).or_default().push((c, doc.clone()));
                }
            }
        }
        if groups.is_empty() {
            return Err(ServiceError::Conflict("本部门没有待拨付的办件".into()));
        }
        let mut made = Vec::new();
        for ((fund_source, budget_subject), cases) in groups {
            let id = tx.next_id("payment_batch")?;
            let mut batch = PaymentBatch {
                id,
                number: batch_number(id, self.today().year()),
                department: department.clone(),
                fund_source,
                budget_subject,
                state: BatchState::Open,
                rows: 0,
                total_fen: 0,
                paid: 0,
                paid_fen: 0,
                failed: 0,
                failed_fen: 0,
                created_by_name: who.name.clone(),
                created_at: tx.now(),
                exported_by_name: None,
                exported_at: None,
                returns: Vec::new(),
            };
            for (before, _doc) in cases {
                let seq = batch.rows + 1;
                let mut case = before.clone();
                // Without an account of its own, the account the entity confirmed last.
                if case.payout.payee.is_none() {
                    case.payout.payee = super::auto::account_on_file(&tx, case.entity_id)?;
                }
                let action = CaseAction::After(AfterAction::Batch { batch: id, seq });
                let case = match self.transition(&tx, who, before, case, action, None, &calendar) {
                    Ok(c) => c,
                    // No account yet (an apply case): it waits for one.
                    Err(ServiceError::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                };
                tx.add_payment_row(id, seq, case.id)?;
                batch.rows = seq;
                batch.total_fen += case.payout.payment.as_ref().map_or(0, |p| p.amount.fen());
            }
            if batch.rows == 0 {
                continue;
            }
            tx.put_payment_batch(&batch)?;
            let detail = format!("{} rows, {} 元", batch.rows, yuan(batch.total_fen));
            tx.audit_new(who, action::PAYMENT_BATCH_CREATE, &format!("payment_batch:{id}"), &detail, &batch)?;
            made.push(batch);
        }
        if made.is_empty() {
            return Err(ServiceError::Conflict("待拨付的办件都还没有收款账户：请企业先确认收款账户".into()));
        }
        tx.commit()?;
        Ok(made)
    }

    /// A batch with its rows.
    pub fn payment_batch(&self, who: &Who, id: u64) -> Result<PaymentBatchView> {
        let tx = self.store.read()?;
        let batch = batch_or_404(&tx, who, id)?;
        let mut rows = Vec::new();
        for (seq, case_id) in tx.payment_batch_rows(id)? {
            let Some(c) = tx.case(case_id)? else { continue };
            // The row as this batch paid it (a later batch may hold the case now).
            let payment = c.payout.payment.as_ref().filter(|p| p.batch == id);
            let failure = c.payout.failures.iter().rev().find(|f| f.batch == id);
            let payee = payment.map(|p| p.payee.clone()).or_else(|| c.payout.payee.clone());
            rows.push(PaymentRow {
                seq,
                case_id,
                case_number: c.number(),
                entity_name: c.entity_name.clone(),
                credit_code: c.credit_code.clone(),
                measure_name: c.measure_name.clone(),
                amount_fen: payment.map_or_else(|| c.approved_amount.map_or(0, Money::fen), |p| p.amount.fen()),
                state: if failure.is_some() && payment.is_none() { CaseState::PaymentFailed } else { c.state },
                state_label: if failure.is_some() && payment.is_none() {
                    CaseState::PaymentFailed.label()
                } else {
                    c.state.label()
                },
                bank: payee.as_ref().map(|p| p.bank.clone()).unwrap_or_default(),
                account_masked: payee.as_ref().map(BankAccount::masked).unwrap_or_default(),
                paid_on: payment.and_then(|p| p.paid_on),
                voucher: payment.and_then(|p| p.voucher.clone()),
                failure: failure.map(|f| {
                    format!(
                        "{}{}",
                        f.reason.label(),
                        if f.note.is_empty() { String::new() } else { format!("：{}", f.note) }
                    )
                }),
            });
        }
        Ok(PaymentBatchView {
            state_label: batch.state.label(),
            pending: batch.pending(),
            pending_fen: batch.pending_fen(),
            reconciles: batch.total_fen == batch.paid_fen + batch.failed_fen + batch.pending_fen()
                && batch.rows == batch.paid + batch.failed + batch.pending(),
            rows,
            batch,
        })
    }

    /// The batch for the finance system, as XLSX or CSV (UTF-8, or GB18030 for old software);
    /// the first export locks it. Audited.
    pub fn payment_batch_export(&self, who: &Who, id: u64, format: Format, gb18030: bool) -> Result<(String, Vec<u8>)> {
        let tx = self.store.write()?;
        let mut batch = batch_or_404(&tx, who, id)?;
        if !department_staff(who, &batch.department) {
            return Err(ServiceError::Forbidden(format!("只有「{}」的工作人员可以导出拨付批次", batch.department)));
        }
        let mut lines = Vec::new();
        for (seq, case_id) in tx.payment_batch_rows(id)? {
            let Some(c) = tx.case(case_id)? else { continue };
            let Some(p) = c.payout.payment.as_ref().filter(|p| p.batch == id) else { continue };
            let doc = match tx.measure(c.measure_id)? {
                Some(m) => tx.policy(m.policy_id)?.map(|p| p.content.doc_number).unwrap_or_default(),
                None => String::new(),
            };
            lines.push(vec![
                batch.number.clone(),
                seq.to_string(),
                p.payee.holder.clone(),
                c.credit_code.clone(),
                p.payee.bank.clone(),
                p.payee.number.clone(),
                yuan(p.amount.fen()),
                c.measure_name.clone(),
                doc,
                batch.fund_source.clone(),
            ]);
        }
        let headers: Vec<String> = EXPORT_COLUMNS.iter().map(|s| s.to_string()).collect();
        let bytes = crate::service::export::table_bytes(format, &headers, lines)?;
        let bytes = if gb18030 && format == Format::Csv { to_gb18030(&bytes) } else { bytes };
        let before = batch.clone();
        if batch.state == BatchState::Open {
            batch.state = BatchState::Exported;
            batch.exported_by_name = Some(who.name.clone());
            batch.exported_at = Some(tx.now());
        }
        tx.put_payment_batch(&batch)?;
        let ext = if format == Format::Csv { "csv" } else { "xlsx" };
        tx.audit_edit(
            who,
            action::PAYMENT_BATCH_EXPORT,
            &format!("payment_batch:{id}"),
            &format!("{} rows as {ext}", batch.rows),
            &before,
            &batch,
        )?;
        tx.commit()?;
        Ok((format!("{}.{ext}", batch.number), bytes))
    }

    /// Imports the finance system's return file for a batch: every row is checked first (it
    /// must name a row of the batch by 序号, with its credit code and amount); any problem
    /// refuses the whole file with the rows, columns, values and reasons. Rows already recorded
    /// exactly so change nothing.
    pub fn payment_return_import(&self, who: &Who, id: u64, file_name: &str, bytes: &[u8]) -> Result<ReturnReport> {
        let format = Format::of(file_name).ok_or_else(|| {
            ServiceError::invalid("file", format!("文件「{file_name}」的格式无法识别：只支持 .csv 和 .xlsx"))
        })?;
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let mut batch = batch_or_404(&tx, who, id)?;
        if !department_staff(who, &batch.department) {
            return Err(ServiceError::Forbidden(format!("只有「{}」的工作人员可以导入回单", batch.department)));
        }
        if batch.state == BatchState::Open {
            return Err(ServiceError::Conflict("此批次尚未导出，请先导出交财政系统支付，再导入回单".into()));
        }
        let rows = read_return(bytes, format, &batch.number)?;
        let by_seq: BTreeMap<u32, u64> = tx.payment_batch_rows(id)?.into_iter().collect();
        // Check every row before writing anything.
        let mut errors = Vec::new();
        let mut plan = Vec::new();
        for r in &rows {
            let err = |column: &str, value: &str, reason: String| {
                FieldError::new(&format!("第 {} 行 {column}", r.line), format!("「{value}」{reason}"))
            };
            let Some(case) = by_seq.get(&r.seq).map(|c| tx.case(*c)).transpose()?.flatten() else {
                errors.push(err("序号", &r.seq.to_string(), format!("不是批次 {} 中的序号", batch.number)));
                continue;
            };
            if !r.credit_code.is_empty() && r.credit_code != case.credit_code {
                errors.push(err(
                    "统一社会信用代码",
                    &r.credit_code,
                    format!("与批次第 {} 行的 {} 不符", r.seq, case.credit_code),
                ));
                continue;
            }
            let recorded = case.payout.payment.as_ref().filter(|p| p.batch == id).map(|p| p.amount.fen());
            let failed_here = case.payout.failures.iter().rev().find(|f| f.batch == id);
            let amount = recorded.or_else(|| failed_here.map(|_| case.approved_amount.map_or(0, Money::fen)));
            if amount != Some(r.amount_fen) {
                let expected = amount.map_or_else(|| "—".to_string(), yuan);
                errors.push(err(
                    "金额（元）",
                    &yuan(r.amount_fen),
                    format!("与批次第 {} 行的金额 {expected} 元不符", r.seq),
                ));
                continue;
            }
            let unchanged = match (&r.outcome, case.state) {
                (
                    ReturnOutcome::Paid { voucher, .. },
                    CaseState::Paid
                    | CaseState::Closed
                    | CaseState::Recovering
                    | CaseState::Recovered
                    | CaseState::HandedOver,
                ) => {
                    if case.payout.payment.as_ref().and_then(|p| p.voucher.as_ref()) == Some(voucher) {
                        true
                    } else {
                        errors.push(err("结果", "支付成功", "此行已登记为另一凭证号的支付，与回单不一致".into()));
                        continue;
                    }
                }
                (ReturnOutcome::Failed { .. }, _) if failed_here.is_some() && case.state != CaseState::InBatch => true,
                (_, CaseState::InBatch) if recorded.is_some() => false,
                (_, s) => {
                    errors.push(err("结果", "", format!("此行的办件当前为「{}」，不能登记", s.label())));
                    continue;
                }
            };
            plan.push((r.clone(), case, unchanged));
        }
        if !errors.is_empty() {
            return Err(ServiceError::Invalid(errors));
        }
        let mut report = ReturnReport { rows: rows.len(), ..ReturnReport::default() };
        let version_of = |tx: &WriteTx, c: &Case| tx.version(c.measure_id, c.version);
        for (row, before, unchanged) in plan {
            if unchanged {
                report.unchanged += 1;
                continue;
            }
            let amount = row.amount_fen;
            let budget = Self::current_budget(&tx, before.measure_id)?;
            let action = match &row.outcome {
                ReturnOutcome::Paid { on, voucher } => AfterAction::Pay { on: *on, voucher: voucher.clone() },
                ReturnOutcome::Failed { reason, note } => AfterAction::Fail { reason: *reason, note: note.clone() },
            };
            let case = before.clone();
            let case = self.transition(&tx, who, before, case, CaseAction::After(action), budget, &calendar)?;
            if case.state == CaseState::Paid {
                report.paid += 1;
                batch.paid += 1;
                batch.paid_fen += amount;
            } else {
                report.failed += 1;
                batch.failed += 1;
                batch.failed_fen += amount;
                if let (Some(entity), Some(version)) = (tx.entity(case.entity_id)?, version_of(&tx, &case)?) {
                    let reason = case.payout.failures.last().map(|f| f.reason.label()).unwrap_or_default();
                    let notice = CaseNotice {
                        case_id: case.id,
                        title: format!("拨付失败：{}", case.measure_name),
                        body: format!(
                            "{}：「{}」的资金 {} 元未能拨付（{reason}）。请登录惠企平台核对并更正收款账户，更正后将在下一批次拨付。",
                            case.entity_name,
                            case.measure_name,
                            yuan(amount)
                        ),
                        short: format!("「{}」拨付失败（{reason}），请更正收款账户", case.measure_name),
                        version: &version,
                    };
                    self.notify_case(&tx, &entity, notice)?;
                }
            }
        }
        let sha = crate::store::digest(&bytes.to_vec()).unwrap_or_default();
        let before = batch.clone();
        batch.returns.push((sha, tx.now()));
        if batch.pending() == 0 {
            batch.state = BatchState::Settled;
        }
        tx.put_payment_batch(&batch)?;
        let detail = format!(
            "{} rows: {} paid, {} failed, {} unchanged",
            report.rows, report.paid, report.failed, report.unchanged
        );
        tx.audit_edit(who, action::PAYMENT_RETURN_IMPORT, &format!("payment_batch:{id}"), &detail, &before, &batch)?;
        tx.commit()?;
        Ok(report)
    }

    /// The enterprise gives its account for a payable case, or corrects it after a failed
    /// payment (the case is payable again).
    pub fn case_correct_account(&self, who: &Who, id: u64, holder: &str, bank: &str, number: &str) -> Result<CaseView> {
        let calendar = self.calendar()?;
        let tx = self.store.write()?;
        let before = Self::case_or_404(&tx, id)?;
        self.check_applicant(&tx, who, &before)?;
        if !matches!(before.state, CaseState::PaymentFailed | CaseState::Payable) {
            return Err(ServiceError::Conflict(format!("此办件当前为「{}」，不能更改收款账户", before.state.label())));
        }
        let name = tx.entity(before.entity_id)?.and_then(|e| e.name).unwrap_or_else(|| before.entity_name.clone());
        let account = BankAccount::new(holder, bank, number, &name)?;
        let case = before.clone();
        let case =
            self.transition(&tx, who, before, case, CaseAction::After(AfterAction::Correct(account)), None, &calendar)?;
        self.finish(tx, who, case)
    }
}

/// Why a return file could not be read.
struct Failed(ServiceError);

impl From<crate::import::ReadError> for Failed {
    fn from(e: crate::import::ReadError) -> Failed {
        Failed(ServiceError::invalid("file", e.to_string()))
    }
}

/// CSV bytes (UTF-8 with a BOM) as GB18030, for finance software that reads nothing else.
fn to_gb18030(utf8: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(utf8);
    let text = text.trim_start_matches('\u{feff}');
    encoding_rs::GB18030.encode(text).0.into_owned()
}

/// Reads a return file: a header row naming 序号, 金额（元）, 结果 (and optionally 批次号,
/// 统一社会信用代码, 支付日期, 凭证号, 失败原因), then a row per payment. Every problem is
/// reported with its row, column and value.
fn read_return(bytes: &[u8], format: Format, number: &str) -> Result<Vec<ReturnRow>> {
    let mut columns: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut errors: Vec<FieldError> = Vec::new();
    const NAMES: [(&str, &[&str]); 8] = [
        ("批次号", &["批次号"]),
        ("序号", &["序号"]),
        ("统一社会信用代码", &["统一社会信用代码", "信用代码"]),
        ("金额（元）", &["金额（元）", "金额(元)", "金额", "支付金额"]),
        ("结果", &["结果", "支付结果", "状态"]),
        ("支付日期", &["支付日期", "日期", "拨付日期"]),
        ("凭证号", &["凭证号", "交易流水号", "流水号"]),
        ("失败原因", &["失败原因", "原因"]),
    ];
    let read = for_each_row(Cursor::new(bytes), format, |line, cells| -> std::result::Result<(), Failed> {
        if columns.is_empty() {
            for (i, h) in cells.iter().enumerate() {
                let h = h.trim().trim_start_matches('\u{feff}');
                if let Some((name, _)) = NAMES.iter().find(|(_, alts)| alts.contains(&h)) {
                    columns.entry(name).or_insert(i);
                }
            }
            for need in ["序号", "金额（元）", "结果"] {
                if !columns.contains_key(need) {
                    errors.push(FieldError::new("file", format!("回单缺少「{need}」列（第 1 行应为表头）")));
                }
            }
            if errors.is_empty() {
                return Ok(());
            }
            return Err(Failed(ServiceError::Invalid(std::mem::take(&mut errors))));
        }
        let cell = |name: &str| columns.get(name).and_then(|i| cells.get(*i)).map_or("", |s| s.trim());
        let err = |column: &str, reason: &str| {
            FieldError::new(&format!("第 {line} 行 {column}"), format!("「{}」{reason}", cell(column)))
        };
        if columns.contains_key("批次号") && !cell("批次号").is_empty() && cell("批次号") != number {
            errors.push(err("批次号", &format!("不是本批次 {number}")));
            return Ok(());
        }
        let Ok(seq) = cell("序号").parse::<u32>() else {
            errors.push(err("序号", "不是序号（正整数）"));
            return Ok(());
        };
        let Some(amount_fen) = parse_yuan(cell("金额（元）")) else {
            errors.push(err("金额（元）", "不是以元为单位、最多两位小数的金额"));
            return Ok(());
        };
        let result = cell("结果");
        let outcome = if ["成功", "支付成功", "已支付", "paid"].contains(&result) {
            let Ok(on) = Date::parse(cell("支付日期")) else {
                errors.push(err("支付日期", "不是日期（YYYY-MM-DD）"));
                return Ok(());
            };
            if cell("凭证号").is_empty() {
                errors.push(err("凭证号", "支付成功的行须有凭证号或交易流水号"));
                return Ok(());
            }
            ReturnOutcome::Paid { on, voucher: cell("凭证号").to_string() }
        } else if ["失败", "支付失败", "退票", "failed"].contains(&result) {
            let text = cell("失败原因");
            let (reason, note) = match FailReason::parse(text) {
                Some(r) => (r, String::new()),
                None => (FailReason::Other, text.to_string()),
            };
            ReturnOutcome::Failed { reason, note }
        } else {
            errors.push(err("结果", "应为「支付成功」或「支付失败」"));
            return Ok(());
        };
        rows.push(ReturnRow {
            line, seq, credit_code: cell("统一社会信用代码").to_string(), amount_fen, outcome
        });
        Ok(())
    });
    read.map_err(|e| e.0)?;
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    if rows.is_empty() {
        return Err(ServiceError::invalid("file", "回单中没有数据行"));
    }
    let mut seen = std::collections::HashSet::new();
    for r in &rows {
        if !seen.insert(r.seq) {
            return Err(ServiceError::invalid(
                &format!("第 {} 行 序号", r.line),
                format!("序号 {} 在回单中出现了两次", r.seq),
            ));
        }
    }
    Ok(rows)
}
