//! `huiqi bench --crash N`: kill -9 trials against the real binary. Half the trials kill a CLI
//! import of a generated file, half a server under a stream of API writes (entities, case
//! submissions, review decisions, publication requests and approvals); each is followed by a
//! restart and the checks: the store opens, the audit chain verifies, every acknowledged write
//! is there, and an interrupted import left exactly a prefix of whole transactions.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use super::child::{Binary, copy_dir};
use super::client::{Client, snippet};
use super::{Error, err};
use crate::auth::{Auth, NewUser, SessionPolicy};
use crate::model::{Capacity, CreditCode, PolicyInput, Role, Who};
use crate::seed::generator::Rng;
use crate::service::imports::BATCH_ROWS;
use crate::service::{Config, Service};
use crate::store::Store;

/// What the crash trials are asked to do.
#[derive(Debug, Clone)]
pub struct CrashOptions {
    pub trials: u32,
    pub dir: std::path::PathBuf,
}

/// A run of trials in full; `huiqi bench --crash` makes one from [`CrashOptions`], tests their own.
#[derive(Debug, Clone)]
pub struct CrashPlan {
    /// The `huiqi` binary to kill.
    pub binary: PathBuf,
    /// Scratch space: one directory per trial.
    pub dir: PathBuf,
    /// Even trials kill an import, odd ones a server.
    pub trials: u32,
    /// Every random choice (kill moments, which writes) follows from it.
    pub seed: u64,
    /// Rows in the generated import file.
    pub import_rows: u64,
    /// A server is killed between a tenth of this and this long after the writes begin.
    pub api_window: Duration,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Kills {
    pub import: u32,
    pub serve: u32,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CrashReport {
    /// `HUIQI_BENCH_SEED=<seed>` replays the same trials.
    pub seed: u64,
    pub trials: u32,
    pub kills: Kills,
    pub import_rows: u64,
    pub import_full_ms: u128,
    /// Rows found after each killed import: a multiple of the batch size, or all of them.
    pub import_rows_found: Vec<u64>,
    pub imports_finished_before_kill: u32,
    /// API writes answered 2xx before the kill, by kind; each is checked after the restart.
    pub acknowledged: BTreeMap<String, u64>,
    pub acknowledged_writes_checked: u64,
    /// Writes sent but not answered when the server died, by kind (either outcome is right).
    pub in_flight_at_kill: BTreeMap<String, u64>,
    pub failures: u64,
    pub failure_details: Vec<String>,
    pub seconds: f64,
}

/// The seed from `HUIQI_BENCH_SEED`, or a new one from the clock.
pub fn seed_from_env() -> Result<u64, Error> {
    match std::env::var("HUIQI_BENCH_SEED") {
        Ok(s) => s.trim().parse().map_err(|_| format!("HUIQI_BENCH_SEED is not a number: {s}")),
        Err(_) => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64 % 1_000_000_007)),
    }
}

/// Runs the trials and returns the report as JSON; any failure is an error that carries it.
pub fn run(opts: &CrashOptions, log: &mut dyn Write) -> Result<serde_json::Value, String> {
    let binary = std::env::current_exe().map_err(|e| format!("cannot find the huiqi binary: {e}"))?;
    let plan = CrashPlan {
        binary,
        dir: opts.dir.clone(),
        trials: opts.trials,
        seed: seed_from_env()?,
        import_rows: 30_000,
        api_window: Duration::from_secs(4),
    };
    let report = run_plan(&plan, log)?;
    let value = serde_json::to_value(&report).map_err(err)?;
    if report.failures > 0 {
        return Err(format!(
            "{} crash-trial failures (replay with HUIQI_BENCH_SEED={}): {value}",
            report.failures, report.seed
        ));
    }
    Ok(value)
}

/// Runs the plan's trials; failures are counted in the report, not returned as errors.
pub fn run_plan(plan: &CrashPlan, log: &mut dyn Write) -> Result<CrashReport, Error> {
    let started = Instant::now();
    let bin = Binary::new(&plan.binary);
    let mut rng = Rng::new(plan.seed);
    let mut report = CrashReport { seed: plan.seed, trials: plan.trials, ..CrashReport::default() };
    let _ =
        writeln!(log, "crash trials: {} (seed {}; replay with HUIQI_BENCH_SEED={})", plan.trials, plan.seed, plan.seed);
    std::fs::create_dir_all(&plan.dir).map_err(|e| format!("cannot create {}: {e}", plan.dir.display()))?;
    let mut imports: Option<ImportFile> = None;
    let mut fixture: Option<Fixture> = None;
    for t in 0..plan.trials {
        let trial_dir = plan.dir.join(format!("trial-{t}"));
        let _ = std::fs::remove_dir_all(&trial_dir);
        std::fs::create_dir_all(&trial_dir).map_err(err)?;
        let before = report.failures;
        if t % 2 == 0 {
            if imports.is_none() {
                imports = Some(ImportFile::make(&bin, plan, &mut report, log)?);
            }
            if let Some(file) = &imports {
                import_trial(&bin, file, &trial_dir, &mut rng, &mut report, log)?;
            }
        } else {
            if fixture.is_none() {
                fixture = Some(Fixture::prepare(&plan.dir.join("api-template"))?);
            }
            if let Some(f) = &fixture {
                api_trial(&bin, f, plan, &trial_dir, &mut rng, &mut report, log)?;
            }
        }
        // A failed trial keeps its directory for a look; the others make room.
        if report.failures == before {
            let _ = std::fs::remove_dir_all(&trial_dir);
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    let _ = writeln!(
        log,
        "crash trials done in {:.1} s: {} kills ({} import, {} serve), {} acknowledged writes checked, {} failures",
        report.seconds,
        report.kills.import + report.kills.serve,
        report.kills.import,
        report.kills.serve,
        report.acknowledged_writes_checked,
        report.failures
    );
    Ok(report)
}

fn fail(report: &mut CrashReport, log: &mut dyn Write, what: String) {
    let _ = writeln!(log, "  FAILURE: {what}");
    report.failures += 1;
    if report.failure_details.len() < 50 {
        report.failure_details.push(what);
    }
}

/// `huiqi check` and `huiqi audit verify` on a store after a kill; returns the entity count.
fn store_checks(bin: &Binary, data: &Path, t: &str, report: &mut CrashReport, log: &mut dyn Write) -> Option<u64> {
    let mut count = None;
    match bin.run(data, &["check"]) {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            count = text
                .split("entities: ")
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok());
            if count.is_none() {
                fail(report, log, format!("{t}: no entity count from huiqi check: {text}"));
            }
        }
        Ok(out) => fail(
            report,
            log,
            format!(
                "{t}: huiqi check failed ({}): {} {}",
                out.status,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ),
        Err(e) => fail(report, log, format!("{t}: {e}")),
    }
    if let Err(e) = bin.run_ok(data, &["audit", "verify"]) {
        fail(report, log, format!("{t}: {e}"));
    }
    count
}

// ---- Imports -------------------------------------------------------------------------------

/// The generated import file, its rows' codes and head counts, and how long a whole import takes.
struct ImportFile {
    path: PathBuf,
    rows: Vec<(String, u64)>,
    full: Duration,
}

impl ImportFile {
    /// Writes the file and imports it once, uninterrupted, to time it.
    fn make(bin: &Binary, plan: &CrashPlan, report: &mut CrashReport, log: &mut dyn Write) -> Result<Self, Error> {
        const REGIONS: [&str; 6] = ["230102", "230103", "230104", "230108", "230109", "230125"];
        const INDUSTRIES: [&str; 5] = ["C3911", "I6513", "C1311", "A0111", "M7320"];
        let path = plan.dir.join("entities.csv");
        let mut w = csv::Writer::from_path(&path).map_err(err)?;
        w.write_record(["统一社会信用代码", "名称", "所在地", "行业", "从业人数", "营业收入(万元)", "成立日期"])
            .map_err(err)?;
        let mut rows = Vec::new();
        for i in 0..plan.import_rows {
            let code = CreditCode::with_check(&format!("91230100MD{i:07}")).ok_or("no credit code")?.to_string();
            let employees = 1 + (i * 7919) % 900;
            let revenue = format!("{}.{}", 50 + (i * 104_729) % 20_000, i % 10);
            let founded = format!("{}-{:02}-{:02}", 1995 + i % 30, 1 + i % 12, 1 + i % 28);
            let r = i as usize;
            w.write_record([
                code.as_str(),
                &format!("导入试验企业{i}有限公司"),
                REGIONS[r % REGIONS.len()],
                INDUSTRIES[r % INDUSTRIES.len()],
                &employees.to_string(),
                &revenue,
                &founded,
            ])
            .map_err(err)?;
            rows.push((code, employees));
        }
        w.flush().map_err(err)?;
        let data = plan.dir.join("import-calibration");
        let _ = std::fs::remove_dir_all(&data);
        let t = Instant::now();
        let path_s = path.to_string_lossy().into_owned();
        bin.run_ok(&data, &["import", "entities", &path_s])?;
        let full = t.elapsed();
        let _ = std::fs::remove_dir_all(&data);
        report.import_rows = plan.import_rows;
        report.import_full_ms = full.as_millis();
        let _ = writeln!(log, "import of {} rows uninterrupted: {} ms", plan.import_rows, full.as_millis());
        Ok(ImportFile { path, rows, full })
    }
}

fn import_trial(
    bin: &Binary,
    file: &ImportFile,
    trial_dir: &Path,
    rng: &mut Rng,
    report: &mut CrashReport,
    log: &mut dyn Write,
) -> Result<(), Error> {
    let t = trial_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let data = trial_dir.join("data");
    let stderr = std::fs::File::create(trial_dir.join("import.log")).map_err(err)?;
    let delay = file.full.mul_f64(rng.range_f64(0.05, 0.95));
    let mut child = bin
        .command(&data)
        .args(["import", "entities"])
        .arg(&file.path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::from(stderr))
        .spawn()
        .map_err(|e| format!("cannot start huiqi import: {e}"))?;
    let started = Instant::now();
    let finished = loop {
        if let Some(status) = child.try_wait().map_err(err)? {
            break Some(status);
        }
        if started.elapsed() >= delay {
            child.kill().map_err(|e| format!("cannot kill huiqi import: {e}"))?;
            child.wait().map_err(err)?;
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    match finished {
        Some(status) if !status.success() => {
            fail(report, log, format!("{t}: the import failed on its own ({status})"));
        }
        Some(_) => report.imports_finished_before_kill += 1,
        None => report.kills.import += 1,
    }
    let Some(count) = store_checks(bin, &data, &t, report, log) else { return Ok(()) };
    let whole = count % BATCH_ROWS as u64 == 0 || count == file.rows.len() as u64;
    if !whole || count > file.rows.len() as u64 {
        fail(report, log, format!("{t}: {count} entities after the kill: not whole batches of {BATCH_ROWS}"));
    }
    // The entities present must be exactly the first `count` rows, as written.
    let export = trial_dir.join("export.csv");
    let export_s = export.to_string_lossy().into_owned();
    if let Err(e) = bin.run_ok(&data, &["export", "entities", "--out", &export_s]) {
        fail(report, log, format!("{t}: {e}"));
        return Ok(());
    }
    let found = read_export(&export)?;
    let expected = &file.rows[..(count as usize).min(file.rows.len())];
    let mut wrong = 0usize;
    for (code, employees) in expected {
        if found.get(code).map(String::as_str) != Some(employees.to_string().as_str()) {
            wrong += 1;
        }
    }
    if wrong > 0 || found.len() != expected.len() {
        fail(
            report,
            log,
            format!(
                "{t}: {} entities exported, {} expected (rows 1–{count}); {wrong} of those missing or different",
                found.len(),
                expected.len()
            ),
        );
    }
    report.import_rows_found.push(count);
    let _ = writeln!(
        log,
        "{t}: import {} after {} ms: {count} of {} rows present, store and audit trail intact",
        if finished.is_some() { "finished" } else { "killed" },
        delay.as_millis(),
        file.rows.len()
    );
    Ok(())
}

/// Credit code → head count, from an entity export.
fn read_export(path: &Path) -> Result<HashMap<String, String>, Error> {
    let mut reader = csv::Reader::from_path(path).map_err(err)?;
    let headers = reader.headers().map_err(err)?.clone();
    let column = |label: &str| {
        headers.iter().position(|h| h.contains(label)).ok_or_else(|| format!("no {label} column in the export"))
    };
    let (code, employees) = (column("统一社会信用代码")?, column("从业人数")?);
    let mut out = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(err)?;
        out.insert(
            record.get(code).unwrap_or_default().to_string(),
            record.get(employees).unwrap_or_default().to_string(),
        );
    }
    Ok(out)
}

// ---- A server under API writes ------------------------------------------------------------

const DEPT: &str = "哈尔滨市科学技术局";
const PASSWORD: &str = "Crash-Trials-2026";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
const CASE_ENTITIES: u64 = 100;

/// The prepared store every API trial starts from, and the tokens of its accounts.
struct Fixture {
    template: PathBuf,
    admin: String,
    publisher: String,
    approver: String,
    reviewer: String,
    enterprise: String,
    policy: u64,
    measures: Vec<u64>,
    codes: Vec<String>,
}

fn apply_measure(name: &str) -> Value {
    json!({
        "name": name, "category": "subsidy", "department": DEPT, "mode": "apply",
        "amount": "min(rd_expense * 0.1, 30)", "cap": 30,
        "window_start": "2020-01-01", "window_end": "2099-12-31",
        "conditions": [{"label": "无失信记录", "expr": "!dishonest"}],
        "materials": ["营业执照复印件"],
        "form_fields": [{"key": "contact", "label": "联系人", "kind": "text", "required": true}],
        "review_stages": [{"name": "受理", "days": 2}, {"name": "审定", "days": 5}],
        "contact": "0451-86612345"
    })
}

impl Fixture {
    /// A small store written through the library: a department with two publishers, a
    /// reviewer, an administrator and an enterprise bound to 100 entities; three published
    /// measures open for applications; a token for each account.
    fn prepare(template: &Path) -> Result<Fixture, Error> {
        let _ = std::fs::remove_dir_all(template);
        let svc = Service::new(
            Store::open(template).map_err(err)?,
            Config { fast_password_hashing: true, ..Config::default() },
        );
        let who = Who::system("bench");
        svc.init_reference(&who).map_err(err)?;
        let auth =
            Auth::new(Arc::clone(&svc.store), true, svc.config.clock.clone(), SessionPolicy::default()).map_err(err)?;
        auth.department_put(&who, DEPT, "230100").map_err(err)?;
        let accounts = [
            ("admin", Role::Sysadmin),
            ("keji", Role::Publisher),
            ("keji2", Role::Publisher),
            ("shenhe", Role::Reviewer),
            ("qiye", Role::Enterprise),
        ];
        let mut tokens = Vec::new();
        for (name, role) in accounts {
            let mut new = NewUser::new(name, role).named("试验账号");
            if matches!(role, Role::Publisher | Role::Reviewer) {
                new = new.in_department(DEPT);
            }
            auth.user_create(&who, new, Some(PASSWORD)).map_err(err)?;
            let scopes = crate::auth::permissions::scopes_for(role);
            tokens.push(auth.token_create(&who, name, "crash", &scopes, None).map_err(err)?.1);
        }
        let mut codes = Vec::new();
        for n in 0..CASE_ENTITIES {
            let code = CreditCode::with_check(&format!("91230100MB{n:07}")).ok_or("no credit code")?.to_string();
            let pairs: Vec<(String, String)> = [
                ("credit_code", code.as_str()),
                ("name", &format!("试验企业{n}有限公司")),
                ("region", "230102"),
                ("industry", "C3911"),
                ("employees", "80"),
                ("revenue", "2000"),
                ("rd_expense", "200"),
                ("dishonest", "false"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let patch = svc.entity_patch_from_texts(&pairs, false).map_err(err)?;
            svc.entity_upsert(&who, &patch).map_err(err)?;
            auth.binding_grant(&who, "qiye", &code, Capacity::LegalRep).map_err(err)?;
            codes.push(code);
        }
        let policy: PolicyInput = serde_json::from_value(json!({
            "title": "科技创新若干措施（试验）", "doc_number": "哈科规〔2026〕9号", "level": "municipal",
            "department": DEPT, "issue_date": "2026-01-01", "valid_from": null, "valid_until": null,
            "text": "第一条", "interpretation": "", "tags": []
        }))
        .map_err(err)?;
        let policy = svc.policy_create(&who, policy).map_err(err)?;
        let mut measures = Vec::new();
        for name in ["研发费用补助", "首台套奖励", "创新券"] {
            let spec = serde_json::from_value(apply_measure(name)).map_err(err)?;
            let v = svc.measure_create(&who, policy.id, spec).map_err(err)?;
            svc.measure_publish(&who, v.measure_id).map_err(err)?;
            measures.push(v.measure_id);
        }
        let [admin, publisher, approver, reviewer, enterprise] =
            <[String; 5]>::try_from(tokens).map_err(|_| "five tokens expected".to_string())?;
        Ok(Fixture {
            template: template.to_path_buf(),
            admin,
            publisher,
            approver,
            reviewer,
            enterprise,
            policy: policy.id,
            measures,
            codes,
        })
    }
}

/// A record the writers changed, compared with the store after the restart.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Key {
    /// Level: the head count last written (each write of an entity raises it by one).
    Entity(String),
    /// Level: 1 opened, 2 material attached, 3 submitted, 4 first stage approved, 5 approved.
    Case(u64),
    /// Level: 1 drafted, 2 publication requested, 3 published.
    Measure(u64),
}

/// A record's level when a write was last acknowledged, and when one was last sent (0: absent).
/// After the restart the level found must lie between the two.
#[derive(Debug, Clone, Copy, Default)]
struct Track {
    acked: u64,
    attempted: u64,
}

/// What one writer thread did.
#[derive(Default)]
struct Outcome {
    ledger: BTreeMap<Key, Track>,
    acks: BTreeMap<&'static str, u64>,
    unanswered: BTreeMap<&'static str, u64>,
    problems: Vec<String>,
}

enum Sent {
    Acked,
    Lost,
    Stop,
}

struct Writer<'a> {
    client: Client,
    killing: &'a AtomicBool,
    out: Outcome,
}

impl<'a> Writer<'a> {
    fn new(url: &str, token: &str, killing: &'a AtomicBool) -> Writer<'a> {
        let mut client = Client::new(url, Duration::from_secs(60));
        client.bearer = Some(token.to_string());
        Writer { client, killing, out: Outcome::default() }
    }

    /// Sends one write at `key`'s `level`; records the attempt, and the acknowledgement.
    fn write(&mut self, kind: &'static str, key: &Key, level: u64, method: &str, path: &str, body: &[u8]) -> Sent {
        let track = self.out.ledger.entry(key.clone()).or_default();
        track.attempted = track.attempted.max(level);
        let content_type = if body.starts_with(b"{") { Some("application/json") } else { None };
        match self.client.send(method, path, content_type, body) {
            Ok(r) if r.ok() => {
                let track = self.out.ledger.entry(key.clone()).or_default();
                track.acked = track.acked.max(level);
                *self.out.acks.entry(kind).or_default() += 1;
                Sent::Acked
            }
            Ok(r) => {
                self.out.problems.push(format!("{method} {path} answered {}: {}", r.status, snippet(&r.text())));
                Sent::Stop
            }
            Err(_) if self.killing.load(Ordering::SeqCst) => {
                *self.out.unanswered.entry(kind).or_default() += 1;
                Sent::Lost
            }
            Err(e) => {
                self.out.problems.push(format!("before the kill: {e}"));
                Sent::Stop
            }
        }
    }

    /// Creates a record whose id the answer gives: acknowledged at level 1 when answered.
    fn create(
        &mut self,
        kind: &'static str,
        method: &str,
        path: &str,
        body: &Value,
        key: fn(u64) -> Key,
    ) -> Option<u64> {
        match self.client.json(method, path, body) {
            Ok(r) if r.ok() => {
                let id = r.json().ok().and_then(|v| v["id"].as_u64().or(v["measure_id"].as_u64()));
                if id.is_none() {
                    self.out.problems.push(format!("{method} {path}: no id in {}", snippet(&r.text())));
                }
                let id = id?;
                self.out.ledger.insert(key(id), Track { acked: 1, attempted: 1 });
                *self.out.acks.entry(kind).or_default() += 1;
                Some(id)
            }
            Ok(r) => {
                self.out.problems.push(format!("{method} {path} answered {}: {}", r.status, snippet(&r.text())));
                None
            }
            Err(_) if self.killing.load(Ordering::SeqCst) => {
                *self.out.unanswered.entry(kind).or_default() += 1;
                None
            }
            Err(e) => {
                self.out.problems.push(format!("before the kill: {e}"));
                None
            }
        }
    }
}

/// Upserts entities, new ones and old ones, raising each one's head count by one per write.
fn entity_writer(w: usize, url: &str, f: &Fixture, killing: &AtomicBool, mut rng: Rng) -> Outcome {
    let mut writer = Writer::new(url, &f.admin, killing);
    let mut codes: Vec<String> = Vec::new();
    let mut n = 0u64;
    loop {
        let code = if codes.is_empty() || rng.chance(0.3) {
            n += 1;
            match CreditCode::with_check(&format!("91230100M{}{n:07}", ['E', 'F', 'G', 'H'][w % 4])) {
                Some(c) => c.to_string(),
                None => break,
            }
        } else {
            rng.pick(&codes).clone()
        };
        let key = Key::Entity(code.clone());
        let level = writer.out.ledger.get(&key).map_or(0, |t| t.attempted) + 1;
        let body =
            json!({"name": format!("试验新企业{code}"), "region": "230102", "industry": "C3911", "employees": level});
        match writer.write(
            "entity_upsert",
            &key,
            level,
            "PUT",
            &format!("/api/v1/entities/{code}"),
            body.to_string().as_bytes(),
        ) {
            Sent::Acked => {
                if level == 1 {
                    codes.push(code);
                }
            }
            Sent::Lost | Sent::Stop => break,
        }
    }
    writer.out
}

/// Opens a case for each entity and measure in turn, attaches the material and submits it;
/// passes each submitted case on to the reviewer.
fn case_writer(url: &str, f: &Fixture, killing: &AtomicBool, submitted: mpsc::Sender<u64>) -> Outcome {
    let mut writer = Writer::new(url, &f.enterprise, killing);
    let slot = crate::http::pages::url_encode("营业执照复印件");
    'cases: for measure in &f.measures {
        for code in &f.codes {
            let body = json!({"credit_code": code, "measure_id": measure});
            let Some(id) = writer.create("case_open", "POST", "/api/v1/cases", &body, Key::Case) else { break 'cases };
            let key = Key::Case(id);
            let steps: [(&'static str, u64, String, Vec<u8>); 2] = [
                ("case_attach", 2, format!("/api/v1/cases/{id}/files?slot={slot}&name=licence.pdf"), PDF.to_vec()),
                (
                    "case_submit",
                    3,
                    format!("/api/v1/cases/{id}/submit"),
                    json!({"form": {"contact": "张三"}}).to_string().into_bytes(),
                ),
            ];
            for (kind, level, path, body) in steps {
                if !matches!(writer.write(kind, &key, level, "POST", &path, &body), Sent::Acked) {
                    break 'cases;
                }
            }
            if submitted.send(id).is_err() {
                break 'cases;
            }
        }
    }
    writer.out
}

/// Approves each submitted case at both stages.
fn reviewer(url: &str, f: &Fixture, killing: &AtomicBool, submitted: mpsc::Receiver<u64>) -> Outcome {
    let mut writer = Writer::new(url, &f.reviewer, killing);
    let body = json!({"action": "approve", "reason": "同意"}).to_string().into_bytes();
    loop {
        let id = match submitted.recv_timeout(Duration::from_millis(20)) {
            Ok(id) => id,
            Err(mpsc::RecvTimeoutError::Timeout) if killing.load(Ordering::SeqCst) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        for level in [4, 5] {
            let path = format!("/api/v1/cases/{id}/decide");
            if !matches!(writer.write("case_decide", &Key::Case(id), level, "POST", &path, &body), Sent::Acked) {
                return writer.out;
            }
        }
    }
    writer.out
}

/// Drafts measures, asks for their publication, and has the colleague approve it.
fn publisher(url: &str, f: &Fixture, killing: &AtomicBool) -> Outcome {
    let mut writer = Writer::new(url, &f.publisher, killing);
    let mut approver = Client::new(url, Duration::from_secs(60));
    approver.bearer = Some(f.approver.clone());
    for n in 1.. {
        let spec = json!({"name": format!("试验通知事项{n}"), "department": DEPT, "mode": "notice"});
        let path = format!("/api/v1/policies/{}/measures", f.policy);
        let Some(id) = writer.create("measure_create", "POST", &path, &spec, Key::Measure) else { break };
        let key = Key::Measure(id);
        let asked = format!("/api/v1/measures/{id}/request-publication");
        if !matches!(writer.write("measure_request", &key, 2, "POST", &asked, b"{}"), Sent::Acked) {
            break;
        }
        // The approval goes out under the colleague's token.
        std::mem::swap(&mut writer.client, &mut approver);
        let sent = writer.write("measure_publish", &key, 3, "POST", &format!("/api/v1/measures/{id}/publish"), b"{}");
        std::mem::swap(&mut writer.client, &mut approver);
        if !matches!(sent, Sent::Acked) {
            break;
        }
    }
    writer.out
}

fn api_trial(
    bin: &Binary,
    f: &Fixture,
    plan: &CrashPlan,
    trial_dir: &Path,
    rng: &mut Rng,
    report: &mut CrashReport,
    log: &mut dyn Write,
) -> Result<(), Error> {
    let t = trial_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let data = trial_dir.join("data");
    copy_dir(&f.template, &data)?;
    let mut server = bin.serve(&data, &[], &trial_dir.join("serve.log"), Duration::from_secs(120))?;
    let url = server.url.clone();
    let killing = AtomicBool::new(false);
    let delay = plan.api_window.mul_f64(rng.range_f64(0.1, 1.0));
    let seeds = [rng.next_u64(), rng.next_u64()];
    let outcomes: Vec<Outcome> = std::thread::scope(|s| -> Result<Vec<Outcome>, Error> {
        let (tx, rx) = mpsc::channel();
        let k = &killing;
        let url = url.as_str();
        let handles = vec![
            s.spawn(move || entity_writer(0, url, f, k, Rng::new(seeds[0]))),
            s.spawn(move || entity_writer(1, url, f, k, Rng::new(seeds[1]))),
            s.spawn(move || case_writer(url, f, k, tx)),
            s.spawn(move || reviewer(url, f, k, rx)),
            s.spawn(move || publisher(url, f, k)),
        ];
        std::thread::sleep(delay);
        killing.store(true, Ordering::SeqCst);
        // The writers stop at their first unanswered request, so they end once it is dead.
        let killed = server.kill();
        let outcomes = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Outcome { problems: vec!["a writer panicked".into()], ..Outcome::default() })
            })
            .collect();
        killed.map(|()| outcomes)
    })?;
    report.kills.serve += 1;

    let mut ledger: BTreeMap<Key, Track> = BTreeMap::new();
    let mut acked_here = 0;
    let mut in_flight = 0;
    for o in outcomes {
        for p in o.problems {
            fail(report, log, format!("{t}: {p}"));
        }
        for (kind, n) in o.acks {
            *report.acknowledged.entry(kind.to_string()).or_default() += n;
            acked_here += n;
        }
        for (kind, n) in o.unanswered {
            *report.in_flight_at_kill.entry(kind.to_string()).or_default() += n;
            in_flight += n;
        }
        for (key, track) in o.ledger {
            let merged = ledger.entry(key).or_default();
            merged.acked = merged.acked.max(track.acked);
            merged.attempted = merged.attempted.max(track.attempted);
        }
    }

    store_checks(bin, &data, &t, report, log);
    let mut server = bin.serve(&data, &[], &trial_dir.join("serve-again.log"), Duration::from_secs(120))?;
    let with_token = |token: &str| {
        let mut c = Client::new(&server.url, Duration::from_secs(60));
        c.bearer = Some(token.to_string());
        c
    };
    let (admin, enterprise, publisher) = (with_token(&f.admin), with_token(&f.enterprise), with_token(&f.publisher));
    for (key, track) in &ledger {
        let found = match key {
            Key::Entity(code) => level_of(&admin, &format!("/api/v1/entities/{code}"), |v| v["employees"].as_u64()),
            Key::Case(id) => level_of(&enterprise, &format!("/api/v1/cases/{id}"), case_level),
            Key::Measure(id) => level_of(&publisher, &format!("/api/v1/measures/{id}?drafts=true"), |v| {
                let m = &v["measure"];
                Some(if !m["published"].is_null() {
                    3
                } else if !m["request"].is_null() {
                    2
                } else {
                    1
                })
            }),
        };
        match found {
            Ok(level) if level >= track.acked && level <= track.attempted => {}
            Ok(level) => fail(
                report,
                log,
                format!(
                    "{t}: {key:?} found at level {level}; acknowledged {}, last sent {}",
                    track.acked, track.attempted
                ),
            ),
            Err(e) => fail(report, log, format!("{t}: reading {key:?} back: {e}")),
        }
    }
    report.acknowledged_writes_checked += acked_here;
    server.kill()?;
    let _ = writeln!(
        log,
        "{t}: server killed after {} ms: {acked_here} acknowledged writes over {} records ({in_flight} in flight) checked after the restart",
        delay.as_millis(),
        ledger.len()
    );
    Ok(())
}

/// The level of a record read back through the API; a 404 is level 0.
fn level_of(client: &Client, path: &str, level: impl Fn(&Value) -> Option<u64>) -> Result<u64, Error> {
    let r = client.get(path)?;
    match r.status {
        404 => Ok(0),
        200 => {
            let v = r.json()?;
            level(&v).ok_or_else(|| format!("GET {path}: unexpected {}", snippet(&r.text())))
        }
        s => Err(format!("GET {path} answered {s}: {}", snippet(&r.text()))),
    }
}

fn case_level(v: &Value) -> Option<u64> {
    let files = v["files"].as_array().map_or(0, Vec::len) as u64;
    match v["state"].as_str()? {
        "draft" => Some(1 + files.min(1)),
        "in_review" => Some(3 + v["stage"].as_u64()?),
        "approved" => Some(5),
        _ => None,
    }
}
