//! `huiqi bench --payout`: the money half at scale, through the same service calls the web
//! pages and the API make. On generated entities (kept in `DIR/base`, copied afresh to
//! `DIR/run` for every run so each run starts from the same store): an auto measure whose one
//! condition (`employees >= N`, `N` read off the portrait so that about `--fits` entities pass)
//! proposes its list; another person confirms it (reserving and offering each entry); `--pay`
//! enterprises accept with an account; one payment batch is made and exported; its return file
//! (one row in a hundred failed) is imported, then imported again (changes nothing). Each step
//! is timed, with the process's resident memory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::{Error, err, ms, open, rss};
use crate::model::{Date, Field, MeasureId, Role, Who};
use crate::service::Service;
use crate::store::prelude::*;

pub struct PayoutOptions {
    pub entities: u64,
    pub seed: u64,
    /// Entities the measure should fit.
    pub fits: u64,
    /// Offers accepted, and so rows in the payment batch and its return file.
    pub pay: u64,
    pub dir: PathBuf,
    pub today: Option<Date>,
}

/// One timed step.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Step {
    pub ms: f64,
    /// What the step handled (entries, offers, rows).
    pub items: u64,
    pub per_s: f64,
    /// Resident memory after the step, and the peak so far (bytes).
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
}

impl Step {
    fn of(t: Instant, items: u64) -> Step {
        let ms = ms(t);
        let (rss_bytes, peak_rss_bytes) = rss();
        Step { ms, items, per_s: items as f64 / (ms / 1000.0).max(1e-9), rss_bytes, peak_rss_bytes }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PayoutReport {
    pub entities: u64,
    /// The threshold chosen, and what the list then held.
    pub employees_at_least: i64,
    pub listed: u64,
    pub pending: u64,
    pub propose: Step,
    pub confirm: Step,
    pub accept: Step,
    pub batch_create: Step,
    pub export_csv: Step,
    pub export_bytes: usize,
    pub return_import: Step,
    pub return_paid: usize,
    pub return_failed: usize,
    pub return_again: Step,
    pub return_again_unchanged: usize,
    pub store_bytes_after: u64,
}

const DEPT: &str = "基准测试局";

fn staff(id: u64, name: &str, role: Role) -> Who {
    Who {
        user_id: Some(id),
        name: name.into(),
        role: Some(role),
        ip: "bench".into(),
        department: Some(DEPT.into()),
        ..Who::default()
    }
}

/// The generated store in `base` (made once), copied to `run`.
fn prepare(opts: &PayoutOptions, log: &mut dyn Write) -> Result<PathBuf, Error> {
    let base = opts.dir.join("base");
    let marker = format!("payout/{}/{}", opts.entities, opts.seed);
    {
        let svc = open(&base, opts.today)?;
        let existing = svc.store.read().map_err(err)?.meta("bench").map_err(err)?;
        if existing.as_deref() != Some(marker.as_bytes()) {
            if svc.stats().map_err(err)?.entities > 0 {
                return Err(format!("{} holds other data; give an empty directory with --dir", base.display()));
            }
            let _ = writeln!(log, "generating {} entities in {} …", opts.entities, base.display());
            let t = Instant::now();
            svc.init_reference(&Who::system("bench")).map_err(err)?;
            svc.bench_load_entities(opts.seed, opts.entities, |done| {
                let _ = write!(log, "\r  entities: {done}");
                let _ = log.flush();
            })
            .map_err(err)?;
            let tx = svc.store.write().map_err(err)?;
            tx.set_meta("bench", marker.as_bytes()).map_err(err)?;
            tx.commit().map_err(err)?;
            let _ = writeln!(log, "\ngenerated in {:.1} s", t.elapsed().as_secs_f64());
        }
        // The portrait snapshot the copy then starts from (as a server writes it after a
        // full rebuild).
        svc.matching_init().map_err(err)?;
        svc.portrait_snapshot_write().map_err(err)?;
    }
    let run = opts.dir.join("run");
    if run.exists() {
        std::fs::remove_dir_all(&run).map_err(err)?;
    }
    std::fs::create_dir_all(&run).map_err(err)?;
    for entry in std::fs::read_dir(&base).map_err(err)? {
        let path = entry.map_err(err)?.path();
        if path.is_file()
            && let Some(name) = path.file_name()
        {
            std::fs::copy(&path, run.join(name)).map_err(err)?;
        }
    }
    Ok(run)
}

/// The smallest `employees` value that at most `fits` entities reach or pass.
fn threshold(svc: &Service, fits: u64) -> Result<i64, Error> {
    let guard = svc.matching().map_err(err)?;
    let state = guard.as_ref().ok_or("matching unavailable")?;
    let slot = crate::portrait::num_slot(Field::Employees).ok_or("no employees column")?;
    let mut known: Vec<i64> =
        state.portrait.num[slot].iter().copied().filter(|v| *v != crate::model::portrait_record::NULL_NUM).collect();
    known.sort_unstable();
    let fits = usize::try_from(fits).map_err(err)?.min(known.len());
    Ok(known.get(known.len() - fits).copied().map_or(i64::MAX, |v| v + 1).max(1))
}

/// Runs the steps; progress goes to `log`.
pub fn run(opts: &PayoutOptions, log: &mut dyn Write) -> Result<PayoutReport, Error> {
    let dir = prepare(opts, log)?;
    let svc = open(&dir, opts.today)?;
    svc.matching_init().map_err(err)?;
    let mut report = PayoutReport { entities: opts.entities, ..PayoutReport::default() };
    report.employees_at_least = threshold(&svc, opts.fits)?;
    let (publisher, reviewer) = (staff(1, "基准发布员", Role::Publisher), staff(2, "基准审核员", Role::Reviewer));
    let policy = serde_json::json!({"title": "基准测试政策", "doc_number": "基准〔2026〕1号", "level": "county",
        "department": DEPT, "issue_date": "2026-01-01", "valid_from": "2026-01-01", "valid_until": "2030-12-31",
        "text": "第一条", "interpretation": "", "tags": []});
    let spec = serde_json::json!({"name": "稳岗扩岗补贴（免申即享）", "category": "subsidy", "department": DEPT,
        "mode": "auto", "amount": "min(employees * 0.05, 20)", "cap": 20, "budget": 100_000_000,
        "conditions": [{"label": "从业人数达标", "expr": format!("employees >= {}", report.employees_at_least)}],
        "publicity_days": 0, "offer_days": 10, "contact": "0451-00000000",
        "fund_source": "县级财政", "budget_subject": "2080799"});
    let (_, measures) = super::publish_policy(&svc, &Who::system("bench"), policy, [spec])?;
    let measure = MeasureId(*measures.first().ok_or("no measure")?);

    let t = Instant::now();
    let list = svc.auto_list_propose(&publisher, measure).map_err(err)?;
    report.listed = list.list.proposed;
    report.pending = list.list.pending;
    report.propose = Step::of(t, list.list.proposed + list.list.pending);
    let _ =
        writeln!(log, "propose: {} listed, {} 待核实 in {:.0} ms", report.listed, report.pending, report.propose.ms);

    let t = Instant::now();
    let list = svc.auto_list_confirm(&reviewer, list.list.id).map_err(err)?;
    report.confirm = Step::of(t, list.list.confirmed);
    let _ = writeln!(log, "confirm: {} offers in {:.0} ms", list.list.confirmed, report.confirm.ms);

    // Enterprises accept, one write each (as each would from its own page).
    let t = Instant::now();
    let mut accepted = 0;
    let mut after = 0;
    'pages: loop {
        let ids = svc.store.read().map_err(err)?.auto_list_cases(list.list.id, after, 1_000).map_err(err)?;
        let Some(last) = ids.last() else { break };
        after = *last;
        for id in ids {
            if accepted >= opts.pay {
                break 'pages;
            }
            let Some(case) = svc.store.read().map_err(err)?.case(id).map_err(err)? else { continue };
            let code = crate::model::CreditCode::parse(&case.credit_code).map_err(err)?;
            let who = Who {
                user_id: Some(1_000 + id),
                name: "基准企业".into(),
                role: Some(Role::Enterprise),
                ip: "bench".into(),
                entities: vec![code],
                ..Who::default()
            };
            svc.case_accept(&who, id, &case.entity_name, "中国银行", &format!("62170000{:08}", id % 100_000_000))
                .map_err(err)?;
            accepted += 1;
            if accepted % 10_000 == 0 {
                let _ = write!(log, "\r  accepted: {accepted}");
                let _ = log.flush();
            }
        }
    }
    report.accept = Step::of(t, accepted);
    let _ = writeln!(log, "\naccept: {accepted} in {:.0} ms", report.accept.ms);

    let t = Instant::now();
    let batches = svc.payment_batch_create(&reviewer).map_err(err)?;
    let batch = batches.first().ok_or("no batch")?.clone();
    report.batch_create = Step::of(t, u64::from(batch.rows));
    let t = Instant::now();
    let (_, csv) = svc.payment_batch_export(&reviewer, batch.id, crate::import::Format::Csv, false).map_err(err)?;
    report.export_csv = Step::of(t, u64::from(batch.rows));
    report.export_bytes = csv.len();
    let _ = writeln!(
        log,
        "batch: {} rows made in {:.0} ms, exported in {:.0} ms",
        batch.rows, report.batch_create.ms, report.export_csv.ms
    );

    let file = return_file(&csv)?;
    let t = Instant::now();
    let r = svc.payment_return_import(&reviewer, batch.id, "return.csv", &file).map_err(err)?;
    report.return_import = Step::of(t, r.rows as u64);
    (report.return_paid, report.return_failed) = (r.paid, r.failed);
    let t = Instant::now();
    let again = svc.payment_return_import(&reviewer, batch.id, "return.csv", &file).map_err(err)?;
    report.return_again = Step::of(t, again.rows as u64);
    report.return_again_unchanged = again.unchanged;
    let _ = writeln!(
        log,
        "return file: {} rows ({} paid, {} failed) in {:.0} ms; again in {:.0} ms ({} unchanged)",
        r.rows, r.paid, r.failed, report.return_import.ms, report.return_again.ms, again.unchanged
    );
    report.store_bytes_after = svc.store.file_size();
    Ok(report)
}

/// The finance system's answer to an exported batch: every row paid but one in a hundred
/// (账号错误).
fn return_file(exported: &[u8]) -> Result<Vec<u8>, Error> {
    let mut reader = csv::Reader::from_reader(exported);
    let headers = reader.headers().map_err(err)?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name).ok_or(format!("export lacks {name}"));
    let (seq, code, amount) = (col("序号")?, col("统一社会信用代码")?, col("金额（元）")?);
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["序号", "统一社会信用代码", "金额（元）", "结果", "支付日期", "凭证号", "失败原因"])
        .map_err(err)?;
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(err)?;
        let (s, c, a) = (&row[seq], &row[code], &row[amount]);
        if i % 100 == 99 {
            out.write_record([s, c, a, "支付失败", "", "", "账号错误"]).map_err(err)?;
        } else {
            out.write_record([s, c, a, "支付成功", "2026-12-03", &format!("PZ{s:0>8}"), ""]).map_err(err)?;
        }
    }
    out.into_inner().map_err(err)
}

/// Where `--payout` keeps its stores unless told.
pub fn default_dir(entities: u64, seed: u64) -> PathBuf {
    Path::new(&format!("huiqi-bench-payout-{entities}-{seed}")).to_path_buf()
}
