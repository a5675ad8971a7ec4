//! `huiqi bench --load`: a county's busy day against a real server on loopback. Simulated users,
//! each a thread with its own keep-alive connection, client address and think time, visit as
//! the public (pages, calculator), enterprises (sign in, apply with attachments, submit),
//! reviewers (sign in, queue, decide), staff (entity search) and another system (API reads
//! with a token). Latency per kind of request, errors, and the server's resident memory over
//! time are reported.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::child::{Binary, copy_dir};
use super::client::{Client, Reply, csrf_field, form_body, snippet};
use super::{Error, err};
use crate::auth::demo::DEMO_PASSWORD;
use crate::auth::{Auth, NewUser, SessionPolicy};
use crate::http::pages::url_encode;
use crate::model::{Capacity, PolicyInput, Role, Who};
use crate::seed::generator::Rng;
use crate::service::{Config, Service};
use crate::store::Store;
use crate::store::prelude::*;

/// What the load run is asked to do.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub users: u32,
    pub minutes: f64,
    pub dir: std::path::PathBuf,
}

/// A load run in full; `huiqi bench --load` makes one from [`LoadOptions`], tests their own.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub binary: PathBuf,
    /// Holds the prepared store (reused) and the run's copy of it.
    pub dir: PathBuf,
    pub users: u32,
    pub duration: Duration,
    /// Generated entities in the demo store.
    pub entities: u64,
    /// A user waits between these two before each request (uniform).
    pub think: (Duration, Duration),
    /// Users start spread over this long.
    pub ramp: Duration,
    pub seed: u64,
    /// How often the server's resident memory is read.
    pub sample_every: Duration,
}

/// The think time from `HUIQI_BENCH_THINK_MS` (`LOW-HIGH`), by default 1–4 s.
fn think_from_env() -> Result<(Duration, Duration), Error> {
    let Ok(text) = std::env::var("HUIQI_BENCH_THINK_MS") else {
        return Ok((Duration::from_millis(1000), Duration::from_millis(4000)));
    };
    let (lo, hi) = text.split_once('-').ok_or("HUIQI_BENCH_THINK_MS must be LOW-HIGH in ms, e.g. 1000-4000")?;
    let ms = |s: &str| s.trim().parse::<u64>().map_err(|_| format!("HUIQI_BENCH_THINK_MS: {s} is not a number"));
    let (lo, hi) = (ms(lo)?, ms(hi)?);
    if lo > hi {
        return Err("HUIQI_BENCH_THINK_MS: LOW is above HIGH".into());
    }
    Ok((Duration::from_millis(lo), Duration::from_millis(hi)))
}

/// Drives the workload and returns the report as JSON.
pub fn run(opts: &LoadOptions, log: &mut dyn Write) -> Result<serde_json::Value, String> {
    if opts.users == 0 || !opts.minutes.is_finite() || opts.minutes <= 0.0 {
        return Err("--users and --minutes must be above 0".into());
    }
    let plan = LoadPlan {
        binary: std::env::current_exe().map_err(|e| format!("cannot find the huiqi binary: {e}"))?,
        dir: opts.dir.clone(),
        users: opts.users,
        duration: Duration::from_secs_f64(opts.minutes * 60.0),
        entities: 2000,
        think: think_from_env()?,
        ramp: Duration::from_secs(10),
        seed: super::crash::seed_from_env()?,
        sample_every: Duration::from_secs(5),
    };
    serde_json::to_value(run_plan(&plan, log)?).map_err(err)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// HTML pages, public and signed in.
    Page,
    /// JSON reads (the calculator's POST included).
    ApiRead,
    /// Writes: cases opened, files attached, submissions, decisions, sign-outs.
    Write,
    /// The sign-in form's POST (argon2 runs here).
    SignIn,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub count: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KindReport {
    pub group: Group,
    #[serde(flatten)]
    pub latency: Latency,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Memory {
    pub first_mib: f64,
    pub last_mib: f64,
    pub max_mib: f64,
    /// Least-squares slope after the first tenth of the run.
    pub slope_mib_per_min: f64,
    pub samples: Vec<Sample>,
}

/// The server and the machine at one moment of the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sample {
    pub seconds: f64,
    pub rss_mib: f64,
    /// CPU used by the server and by the whole machine since the start of the run.
    pub server_cpu_s: f64,
    pub machine_cpu_busy_s: f64,
    pub requests: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    pub users: u32,
    pub seconds: f64,
    pub think_ms: (u128, u128),
    pub seed: u64,
    pub requests: u64,
    pub throughput_per_s: f64,
    pub errors: u64,
    pub error_samples: Vec<String>,
    pub visits: BTreeMap<String, u64>,
    pub groups: BTreeMap<String, Latency>,
    pub kinds: BTreeMap<String, KindReport>,
    pub rss: Memory,
    pub server_cpu_s: f64,
    /// This process: the simulated users.
    pub client_cpu_s: f64,
    /// Every process on the machine, over the run: what neither the server nor the users used
    /// was used by something else.
    pub machine_cpu_busy_s: f64,
    pub machine_cpu_s: f64,
    pub store_bytes_before: u64,
    pub store_bytes_after: u64,
}

// ---- The prepared store --------------------------------------------------------------------

const REVIEW_DEPT: &str = "哈尔滨市人力资源和社会保障局";
const STAFF_DEPT: &str = "哈尔滨市政务服务中心";
/// Bumped whenever what `prepare` writes changes, so that an older prepared store is not reused.
const PREPARED_VERSION: u32 = 1;

/// The accounts the simulated users sign in as, written beside the prepared store.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Accounts {
    version: u32,
    entities: u64,
    /// (username, the credit code it is bound to)
    enterprises: Vec<(String, String)>,
    reviewers: Vec<String>,
    staff: Vec<String>,
    /// A token of a system administrator for the API reads of another system.
    token: String,
    /// The measures enterprises apply for and reviewers decide.
    measures: Vec<u64>,
}

fn bench_measure(name: &str) -> Value {
    json!({
        "name": name, "category": "subsidy", "department": REVIEW_DEPT, "mode": "apply",
        "amount": "5", "cap": 5,
        "window_start": "2020-01-01", "window_end": "2099-12-31",
        "materials": ["营业执照复印件", "申请表"],
        "form_fields": [{"key": "contact", "label": "联系人", "kind": "text", "required": true}],
        "review_stages": [{"name": "受理", "days": 2}, {"name": "审定", "days": 5}],
        "contact": "0451-84600000"
    })
}

/// The demo instance as `serve --demo` makes it, plus what the load needs: three measures
/// open to every entity, an enterprise account per simulated user bound to its own entity of
/// Harbin, reviewers and staff, and a token. Passwords are hashed at the server's parameters.
fn prepare(dir: &Path, plan: &LoadPlan, log: &mut dyn Write) -> Result<Accounts, Error> {
    let _ = writeln!(log, "preparing the store in {} …", dir.display());
    let _ = std::fs::remove_dir_all(dir);
    let svc = Service::new(Store::open(dir).map_err(err)?, Config::default());
    let who = Who::system("bench");
    svc.demo_setup(plan.entities, 1).map_err(err)?;
    svc.matching_init().map_err(err)?;
    let auth =
        Auth::new(Arc::clone(&svc.store), false, svc.config.clock.clone(), SessionPolicy::default()).map_err(err)?;
    auth.demo_accounts().map_err(err)?;
    let made = svc.demo_cases().map_err(err)?;
    if let Some(code) = &made.also_for {
        auth.binding_grant(&Who::system("demo"), "qiye", code, Capacity::Finance).map_err(err)?;
    }
    let policy: PolicyInput = serde_json::from_value(json!({
        "title": "关于支持企业稳岗扩岗的若干措施", "doc_number": "哈人社规〔2026〕3号", "level": "municipal",
        "department": REVIEW_DEPT, "issue_date": "2026-01-01", "valid_from": null, "valid_until": null,
        "text": "第一条 对吸纳就业的企业给予补助。", "interpretation": "", "tags": []
    }))
    .map_err(err)?;
    let policy = svc.policy_create(&who, policy).map_err(err)?;
    let mut measures = Vec::new();
    for name in ["稳岗扩岗补助", "以工代训补贴", "见习岗位补贴"] {
        let spec = serde_json::from_value(bench_measure(name)).map_err(err)?;
        let v = svc.measure_create(&who, policy.id, spec).map_err(err)?;
        svc.measure_publish(&who, v.measure_id).map_err(err)?;
        measures.push(v.measure_id);
    }
    svc.push_pending().map_err(err)?;

    let wanted = plan.users.max(10) as usize;
    let bound: HashSet<String> = {
        let tx = svc.store.read().map_err(err)?;
        let qiye = tx.user_by_name("qiye").map_err(err)?;
        match qiye {
            Some(u) => tx.bindings_of_user(u.id).map_err(err)?.into_iter().map(|b| b.credit_code).collect(),
            None => HashSet::new(),
        }
    };
    let codes: Vec<String> = svc
        .store
        .read()
        .map_err(err)?
        .scan_entities(0, wanted, usize::MAX, |e| {
            e.region.as_ref().is_some_and(|r| r.as_str().starts_with("2301"))
                && e.warnings.is_empty()
                && !bound.contains(e.credit_code.as_str())
        })
        .map_err(err)?
        .entities
        .into_iter()
        .map(|e| e.credit_code.as_str().to_string())
        .collect();
    if codes.len() < wanted {
        return Err(format!("only {} entities of Harbin for {wanted} enterprise accounts", codes.len()));
    }
    let mut enterprises = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let name = format!("lq{i:04}");
        auth.user_create(&who, NewUser::new(&name, Role::Enterprise).named("压测企业用户"), Some(DEMO_PASSWORD))
            .map_err(err)?;
        auth.binding_grant(&who, &name, code, Capacity::LegalRep).map_err(err)?;
        enterprises.push((name, code.clone()));
        if i % 50 == 49 {
            let _ = writeln!(log, "  {} enterprise accounts", i + 1);
        }
    }
    let helpers = (plan.users as usize / 10).max(2);
    let staff_accounts = |prefix: &str, role: Role, dept: &str| -> Result<Vec<String>, Error> {
        (0..helpers)
            .map(|i| {
                let name = format!("{prefix}{i:03}");
                let new = NewUser::new(&name, role).named("压测工作人员").in_department(dept);
                auth.user_create(&who, new, Some(DEMO_PASSWORD)).map_err(err)?;
                Ok(name)
            })
            .collect()
    };
    let reviewers = staff_accounts("ls", Role::Reviewer, REVIEW_DEPT)?;
    let staff = staff_accounts("lz", Role::Specialist, STAFF_DEPT)?;
    auth.user_create(&who, NewUser::new("loadapi", Role::Sysadmin).named("数据对接"), Some(DEMO_PASSWORD))
        .map_err(err)?;
    let scopes = crate::auth::permissions::scopes_for(Role::Sysadmin);
    let token = auth.token_create(&who, "loadapi", "压测数据对接", &scopes, None).map_err(err)?.1;
    Ok(Accounts { version: PREPARED_VERSION, entities: plan.entities, enterprises, reviewers, staff, token, measures })
}

/// The prepared store for this plan: reused when it fits, else made again.
fn prepared(plan: &LoadPlan, log: &mut dyn Write) -> Result<(PathBuf, Accounts), Error> {
    let dir = plan.dir.join("prepared");
    let file = plan.dir.join("prepared-accounts.json");
    let existing: Option<Accounts> = std::fs::read(&file).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok());
    if let Some(a) = existing.filter(|a| {
        a.version == PREPARED_VERSION
            && a.entities == plan.entities
            && a.enterprises.len() >= plan.users as usize
            && a.reviewers.len() >= (plan.users as usize / 10).max(2)
            && dir.join(crate::store::FILE_NAME).exists()
    }) {
        let _ = writeln!(log, "reusing the prepared store in {}", dir.display());
        return Ok((dir, a));
    }
    let _ = std::fs::remove_file(&file);
    let accounts = prepare(&dir, plan, log)?;
    std::fs::write(&file, serde_json::to_vec(&accounts).map_err(err)?).map_err(err)?;
    Ok((dir, accounts))
}

// ---- The simulated users -------------------------------------------------------------------

/// What every user shares: the address, the accounts and who is using which.
struct Shared {
    deadline: Instant,
    think: (Duration, Duration),
    accounts: Accounts,
    policies: Vec<u64>,
    public_measures: Vec<u64>,
    free_enterprises: Mutex<Vec<usize>>,
    free_reviewers: Mutex<Vec<usize>>,
    free_staff: Mutex<Vec<usize>>,
    /// Cases a reviewer is deciding right now.
    claimed: Mutex<HashSet<u64>>,
    requests: AtomicU64,
}

fn take(pool: &Mutex<Vec<usize>>, rng: &mut Rng) -> Option<usize> {
    let mut free = pool.lock().ok()?;
    if free.is_empty() {
        return None;
    }
    let i = rng.below(free.len() as u64) as usize;
    Some(free.swap_remove(i))
}

fn give_back(pool: &Mutex<Vec<usize>>, i: usize) {
    if let Ok(mut free) = pool.lock() {
        free.push(i);
    }
}

#[derive(Default)]
struct Samples {
    latencies_us: Vec<u32>,
    errors: u64,
}

/// One user's figures, merged at the end.
#[derive(Default)]
struct Tally {
    kinds: BTreeMap<&'static str, (Group, Samples)>,
    /// Errors outside any one request (a page without its CSRF field, a thread that died).
    other_errors: u64,
    error_samples: Vec<String>,
    visits: BTreeMap<&'static str, u64>,
}

impl Tally {
    fn failed(why: String) -> Tally {
        Tally { other_errors: 1, error_samples: vec![why], ..Tally::default() }
    }
}

struct User<'a> {
    shared: &'a Shared,
    client: Client,
    rng: Rng,
    tally: Tally,
}

const SEARCHES: [&str; 8] = ["高新", "补贴", "人才", "就业", "科技", "创新", "稳岗", "小微"];
const ENTITY_SEARCHES: [&str; 6] = ["科技", "哈尔滨", "食品", "农业", "机械", "有限公司"];
const PDF_HEAD: &[u8] = b"%PDF-1.4\n% huiqi load test\n1 0 obj << /Type /Catalog >> endobj\n";
const PNG_HEAD: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00";

impl<'a> User<'a> {
    /// Waits a think time; false once the run is over.
    fn pause(&mut self) -> bool {
        let (lo, hi) = self.shared.think;
        let wait = lo + (hi.saturating_sub(lo)).mul_f64(self.rng.f64());
        let now = Instant::now();
        if now + wait >= self.shared.deadline {
            std::thread::sleep(self.shared.deadline.saturating_duration_since(now));
            return false;
        }
        std::thread::sleep(wait);
        true
    }

    /// One request after a think time; the answer when its status is one of `expect`.
    fn call(
        &mut self,
        kind: &'static str,
        group: Group,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
        expect: &[u16],
    ) -> Option<Reply> {
        if !self.pause() {
            return None;
        }
        let (content_type, bytes) = body.map_or((None, &[][..]), |(c, b)| (Some(c), b));
        let started = Instant::now();
        let result = self.client.send(method, path, content_type, bytes);
        let us = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        self.shared.requests.fetch_add(1, Ordering::Relaxed);
        let samples = &mut self.tally.kinds.entry(kind).or_insert_with(|| (group, Samples::default())).1;
        samples.latencies_us.push(us);
        let problem = match &result {
            Ok(r) if expect.contains(&r.status) => None,
            Ok(r) => Some(format!("{kind}: {method} {path} answered {}: {}", r.status, snippet(&r.text()))),
            Err(e) => Some(format!("{kind}: {e}")),
        };
        if let Some(p) = problem {
            samples.errors += 1;
            if self.tally.error_samples.len() < 20 {
                self.tally.error_samples.push(p);
            }
            return None;
        }
        let reply = result.ok()?;
        if self.client.cookie.is_some() && self.client.csrf.is_none() && group == Group::Page {
            self.client.csrf = csrf_field(&reply.text());
        }
        Some(reply)
    }

    fn page(&mut self, kind: &'static str, path: &str) -> Option<Reply> {
        self.call(kind, Group::Page, "GET", path, None, &[200])
    }

    fn api_get(&mut self, kind: &'static str, path: &str) -> Option<Reply> {
        self.call(kind, Group::ApiRead, "GET", path, None, &[200])
    }

    fn api_write(&mut self, kind: &'static str, path: &str, body: &Value, expect: &[u16]) -> Option<Reply> {
        let bytes = body.to_string().into_bytes();
        self.call(kind, Group::Write, "POST", path, Some(("application/json", &bytes)), expect)
    }

    /// The sign-in form, as a browser fills it in; leaves the session cookie on the client.
    fn sign_in(&mut self, username: &str, next: &str) -> bool {
        self.client.cookie = None;
        self.client.csrf = None;
        let Some(form) = self.page("page_login", "/login") else { return false };
        let (Some(anon), Some(token)) = (form.cookie("huiqi_csrf"), csrf_field(&form.text())) else {
            self.tally.other_errors += 1;
            self.tally.error_samples.push("the sign-in page has no CSRF cookie or field".into());
            return false;
        };
        self.client.cookie = Some(anon);
        let body = form_body(&[("csrf", &token), ("username", username), ("password", DEMO_PASSWORD), ("next", next)]);
        let reply = self.call(
            "sign_in",
            Group::SignIn,
            "POST",
            "/login",
            Some(("application/x-www-form-urlencoded", body.as_bytes())),
            &[303],
        );
        match reply.and_then(|r| r.cookie("huiqi_session")) {
            Some(session) => {
                self.client.cookie = Some(session);
                true
            }
            None => {
                self.client.cookie = None;
                false
            }
        }
    }

    fn sign_out(&mut self) {
        if let Some(csrf) = self.client.csrf.clone() {
            let body = form_body(&[("csrf", &csrf)]);
            self.call(
                "sign_out",
                Group::Write,
                "POST",
                "/logout",
                Some(("application/x-www-form-urlencoded", body.as_bytes())),
                &[303],
            );
        }
        self.client.cookie = None;
        self.client.csrf = None;
    }

    /// The public: home, policy search and pages, the calculator page and its API.
    fn visitor(&mut self) {
        let actions = 3 + self.rng.below(5);
        for _ in 0..actions {
            let term = url_encode(SEARCHES[self.rng.below(SEARCHES.len() as u64) as usize]);
            let shared = self.shared;
            let policy = pick(&mut self.rng, &shared.policies);
            let measure = pick(&mut self.rng, &shared.public_measures);
            let done = match self.rng.below(9) {
                0 => self.page("page_home", "/"),
                1 => self.page("page_policies", &format!("/policies?q={term}")),
                2 => self.page("page_policy", &format!("/policies/{policy}")),
                3 => self.page("page_measure", &format!("/measures/{measure}")),
                4 => {
                    let q = self.calculator_query();
                    self.page("page_calculator", &format!("/calculator?{q}"))
                }
                5 => {
                    let body = json!({
                        "region": "230102", "industry": "C3911",
                        "employees": 10 + self.rng.below(300), "revenue": 100 + self.rng.below(9000),
                    })
                    .to_string();
                    self.call(
                        "api_calculator",
                        Group::ApiRead,
                        "POST",
                        "/api/v1/calculator",
                        Some(("application/json", body.as_bytes())),
                        &[200],
                    )
                }
                6 => self.api_get("api_policies", &format!("/api/v1/policies?q={term}")),
                7 => self.api_get("api_measure", &format!("/api/v1/measures/{measure}")),
                _ => self.page("page_policies", "/policies?open_now=true"),
            };
            if done.is_none() && Instant::now() >= self.shared.deadline {
                return;
            }
        }
    }

    fn calculator_query(&mut self) -> String {
        let regions = ["230102", "230103", "230109", "230125", "230183"];
        let industries = ["C3911", "I6513", "C1311", "A0111", "M7320"];
        format!(
            "region={}&industry={}&employees={}&revenue={}&rd_expense={}",
            self.rng.pick(&regions),
            self.rng.pick(&industries),
            5 + self.rng.below(400),
            50 + self.rng.below(20_000),
            self.rng.below(500)
        )
    }

    /// An enterprise: signs in, looks at its entity, applies for one measure with two files,
    /// submits (or resubmits a returned case), follows the case and the inbox, signs out.
    fn enterprise(&mut self, account: usize) {
        let Some((username, code)) = self.shared.accounts.enterprises.get(account).cloned() else { return };
        if !self.sign_in(&username, "/my") {
            return;
        }
        self.page("page_my", "/my");
        self.page("page_my_entity", &format!("/my/entities/{code}"));
        let mut measures = self.shared.accounts.measures.clone();
        for i in (1..measures.len()).rev() {
            measures.swap(i, self.rng.below(i as u64 + 1) as usize);
        }
        let mut case_id = None;
        for measure in measures {
            let body = json!({"credit_code": code, "measure_id": measure});
            let Some(reply) = self.api_write("api_case_open", "/api/v1/cases", &body, &[200, 201, 409]) else { break };
            if reply.status == 409 {
                continue;
            }
            let Ok(case) = reply.json() else { break };
            let Some(id) = case["id"].as_u64() else { break };
            case_id = Some(id);
            let state = case["state"].as_str().unwrap_or_default().to_string();
            if state == "draft" && case["files"].as_array().is_none_or(|f| f.len() < 2) {
                for (slot, name, head) in
                    [("营业执照复印件", "营业执照.pdf", PDF_HEAD), ("申请表", "申请表.png", PNG_HEAD)]
                {
                    let bytes = attachment(head, id, &mut self.rng);
                    let path = format!("/api/v1/cases/{id}/files?slot={}&name={}", url_encode(slot), url_encode(name));
                    if self
                        .call(
                            "api_case_attach",
                            Group::Write,
                            "POST",
                            &path,
                            Some(("application/octet-stream", &bytes)),
                            &[201],
                        )
                        .is_none()
                    {
                        break;
                    }
                }
            }
            if state == "draft" || state == "returned" {
                let body = json!({"form": {"contact": "王经理"}});
                self.api_write("api_case_submit", &format!("/api/v1/cases/{id}/submit"), &body, &[200]);
            }
            break;
        }
        if let Some(id) = case_id {
            self.page("page_case", &format!("/cases/{id}"));
        }
        self.page("page_inbox", &format!("/my/entities/{code}/inbox"));
        self.sign_out();
    }

    /// A reviewer: signs in, opens the queue, decides up to three cases of the load's
    /// measures (approve, or return for supplement, at the first stage; approve or reject at
    /// the last), searches the entity library, signs out.
    fn reviewer(&mut self, account: usize) {
        let Some(username) = self.shared.accounts.reviewers.get(account).cloned() else { return };
        if !self.sign_in(&username, "/staff") {
            return;
        }
        self.page("page_staff", "/staff");
        self.page("page_staff_cases", "/staff/cases");
        let Some(queue) = self.api_get("api_cases_queue", "/api/v1/cases?state=in_review") else {
            self.sign_out();
            return;
        };
        let cases: Vec<Value> = queue
            .json()
            .ok()
            .and_then(|v| v["cases"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|c| {
                c["state"] == "in_review"
                    && c["measure_id"].as_u64().is_some_and(|m| self.shared.accounts.measures.contains(&m))
            })
            .collect();
        let mut mine = Vec::new();
        if let Ok(mut claimed) = self.shared.claimed.lock() {
            for c in cases {
                if mine.len() >= 3 {
                    break;
                }
                if let Some(id) = c["id"].as_u64()
                    && claimed.insert(id)
                {
                    mine.push(c);
                }
            }
        }
        for id in mine.iter().filter_map(|c| c["id"].as_u64()) {
            self.page("page_case", &format!("/cases/{id}"));
            // The queue may be older than a colleague's decision: decide on the case as it is now.
            let Some(c) = self.api_get("api_case", &format!("/api/v1/cases/{id}")).and_then(|r| r.json().ok()) else {
                continue;
            };
            if c["state"] != "in_review" {
                continue;
            }
            let last = c["stage"].as_u64().unwrap_or(0) + 1 >= c["stages"].as_array().map_or(1, |s| s.len() as u64);
            let returns = c["returns"].as_u64().unwrap_or(0);
            let x = self.rng.f64();
            let body = if !last && x < 0.15 && returns < 2 {
                json!({"action": "return", "reason": "申请表信息不完整，请补充联系人电话"})
            } else if last && x < 0.6 {
                json!({"action": "reject", "reason": "本年度已享受同类补助"})
            } else {
                json!({"action": "approve", "reason": "材料齐全，同意"})
            };
            self.api_write("api_case_decide", &format!("/api/v1/cases/{id}/decide"), &body, &[200]);
        }
        if let Ok(mut claimed) = self.shared.claimed.lock() {
            for c in &mine {
                if let Some(id) = c["id"].as_u64() {
                    claimed.remove(&id);
                }
            }
        }
        let term = url_encode(ENTITY_SEARCHES[self.rng.below(ENTITY_SEARCHES.len() as u64) as usize]);
        self.page("page_staff_entities", &format!("/staff/entities?q={term}"));
        self.sign_out();
    }

    /// Staff: sign in, search the entity library by name and region, open an entity's file,
    /// the same through the API, sign out.
    fn staff(&mut self, account: usize) {
        let Some(username) = self.shared.accounts.staff.get(account).cloned() else { return };
        if !self.sign_in(&username, "/staff") {
            return;
        }
        let term = url_encode(ENTITY_SEARCHES[self.rng.below(ENTITY_SEARCHES.len() as u64) as usize]);
        self.page("page_staff_entities", &format!("/staff/entities?q={term}"));
        let region = self.rng.pick(&["230102", "230103", "230109", "2301"]).to_string();
        self.page("page_staff_entities", &format!("/staff/entities?region={region}"));
        let code = self.entity_code();
        self.page("page_staff_entity", &format!("/staff/entities/{code}"));
        self.api_get("api_entities", &format!("/api/v1/entities?q={term}&limit=20"));
        self.api_get("api_entity", &format!("/api/v1/entities/{code}"));
        self.sign_out();
    }

    /// Another system with a token: entity lists and files, matches, policies, match events.
    fn api_client(&mut self) {
        self.client.bearer = Some(self.shared.accounts.token.clone());
        let code = self.entity_code();
        self.api_get("api_entities", "/api/v1/entities?region=2301&limit=50");
        self.api_get("api_entity", &format!("/api/v1/entities/{code}"));
        self.api_get("api_entity_matches", &format!("/api/v1/entities/{code}/matches"));
        self.api_get("api_policies", "/api/v1/policies");
        self.api_get("api_match_events", "/api/v1/match-events?after=0&limit=100");
        self.client.bearer = None;
    }

    fn entity_code(&mut self) -> String {
        let all = &self.shared.accounts.enterprises;
        if all.is_empty() {
            return String::new();
        }
        all[self.rng.below(all.len() as u64) as usize].1.clone()
    }

    /// Visits until the run is over.
    fn live(&mut self) {
        while Instant::now() < self.shared.deadline {
            let persona = self.rng.below(100);
            let shared = self.shared;
            let visit = if persona < 25 {
                match take(&shared.free_enterprises, &mut self.rng) {
                    Some(i) => {
                        self.enterprise(i);
                        give_back(&shared.free_enterprises, i);
                        "enterprise"
                    }
                    None => {
                        self.visitor();
                        "public"
                    }
                }
            } else if persona < 33 {
                match take(&shared.free_reviewers, &mut self.rng) {
                    Some(i) => {
                        self.reviewer(i);
                        give_back(&shared.free_reviewers, i);
                        "reviewer"
                    }
                    None => {
                        self.visitor();
                        "public"
                    }
                }
            } else if persona < 40 {
                match take(&shared.free_staff, &mut self.rng) {
                    Some(i) => {
                        self.staff(i);
                        give_back(&shared.free_staff, i);
                        "staff"
                    }
                    None => {
                        self.visitor();
                        "public"
                    }
                }
            } else if persona < 50 {
                self.api_client();
                "api_client"
            } else {
                self.visitor();
                "public"
            };
            *self.tally.visits.entry(visit).or_default() += 1;
        }
    }
}

fn pick(rng: &mut Rng, items: &[u64]) -> u64 {
    if items.is_empty() { 1 } else { *rng.pick(items) }
}

/// A file of about 20–60 KB starting with `head`, different for every upload (files are stored
/// once by their hash, so equal files would cost nothing).
fn attachment(head: &[u8], case: u64, rng: &mut Rng) -> Vec<u8> {
    let size = 20_000 + rng.below(40_000) as usize;
    let mut bytes = head.to_vec();
    bytes.extend_from_slice(format!("\n% case {case} {}\n", rng.next_u64()).as_bytes());
    while bytes.len() < size {
        bytes.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    bytes
}

// ---- The run -------------------------------------------------------------------------------

fn proc_status(pid: u32) -> (u64, f64) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024);
    (rss, cpu_seconds(&format!("/proc/{pid}/stat")))
}

/// CPU time of the whole machine from `/proc/stat`: (busy, total) in seconds over all cores.
fn machine_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> =
        stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let at = |i: usize| ticks.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    let idle = at(3) + at(4);
    let total: u64 = ticks.iter().take(8).sum();
    ((total - idle.min(total)) as f64 / 100.0, total as f64 / 100.0)
}

/// User plus system CPU time from a `/proc/…/stat` file (USER_HZ is 100 on Linux).
fn cpu_seconds(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) as f64 / 100.0
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    f64::from(sorted[rank - 1]) / 1000.0
}

fn latency(mut us: Vec<u32>, errors: u64) -> Latency {
    us.sort_unstable();
    Latency {
        count: us.len() as u64,
        errors,
        p50_ms: percentile(&us, 0.50),
        p90_ms: percentile(&us, 0.90),
        p99_ms: percentile(&us, 0.99),
        max_ms: us.last().map_or(0.0, |v| f64::from(*v) / 1000.0),
    }
}

fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) =
        points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + (x - mx) * (y - my), b + (x - mx) * (x - mx)));
    if den == 0.0 { 0.0 } else { num / den }
}

/// Prepares (or reuses) the store, starts the server on a copy, drives the users, reports.
pub fn run_plan(plan: &LoadPlan, log: &mut dyn Write) -> Result<LoadReport, Error> {
    std::fs::create_dir_all(&plan.dir).map_err(|e| format!("cannot create {}: {e}", plan.dir.display()))?;
    let (prepared_dir, accounts) = prepared(plan, log)?;
    let data = plan.dir.join("run");
    copy_dir(&prepared_dir, &data)?;
    let store_bytes_before = std::fs::metadata(data.join(crate::store::FILE_NAME)).map_or(0, |m| m.len());
    let bin = Binary::new(&plan.binary);
    let mut server = bin.serve(&data, &["--trust-proxy"], &plan.dir.join("serve.log"), Duration::from_secs(300))?;
    let pid = server.pid();
    let _ = writeln!(
        log,
        "server {} at {}; {} users for {:.0} s",
        pid,
        server.url,
        plan.users,
        plan.duration.as_secs_f64()
    );

    let index = Client::new(&server.url, Duration::from_secs(60));
    let policies = index.get("/api/v1/policies")?.json()?;
    let list = policies["policies"].as_array().or(policies.as_array()).cloned().unwrap_or_default();
    let policy_ids: Vec<u64> = list.iter().filter_map(|p| p["id"].as_u64()).collect();
    let public_measures: Vec<u64> = list
        .iter()
        .flat_map(|p| p["measures"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| m["id"].as_u64())
        .collect();
    if policy_ids.is_empty() || public_measures.is_empty() {
        return Err(format!("no published policies or measures at {}/api/v1/policies", server.url));
    }

    let started = Instant::now();
    let client_cpu_before = cpu_seconds("/proc/self/stat");
    let machine_before = machine_cpu();
    let shared = Shared {
        deadline: started + plan.duration,
        think: plan.think,
        free_enterprises: Mutex::new((0..accounts.enterprises.len()).collect()),
        free_reviewers: Mutex::new((0..accounts.reviewers.len()).collect()),
        free_staff: Mutex::new((0..accounts.staff.len()).collect()),
        accounts,
        policies: policy_ids,
        public_measures,
        claimed: Mutex::new(HashSet::new()),
        requests: AtomicU64::new(0),
    };
    let mut rng = Rng::new(plan.seed);
    let server_cpu_before = proc_status(pid).1;
    let mut samples: Vec<Sample> = Vec::new();
    let sample = |requests: u64| {
        let (rss, cpu) = proc_status(pid);
        Sample {
            seconds: started.elapsed().as_secs_f64(),
            rss_mib: rss as f64 / 1048576.0,
            server_cpu_s: cpu - server_cpu_before,
            machine_cpu_busy_s: machine_cpu().0 - machine_before.0,
            requests,
        }
    };
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..plan.users)
            .map(|u| {
                let seed = rng.next_u64();
                let delay = plan.ramp.mul_f64(f64::from(u) / f64::from(plan.users));
                let shared = &shared;
                let url = server.url.clone();
                std::thread::Builder::new().stack_size(256 * 1024).spawn_scoped(s, move || {
                    std::thread::sleep(delay);
                    let mut client = Client::new(&url, Duration::from_secs(60));
                    client.address = Some(format!("10.{}.{}.{}", 1 + u / 62_500, (u / 250) % 250, 1 + u % 250));
                    let mut user = User { shared, client, rng: Rng::new(seed), tally: Tally::default() };
                    user.live();
                    user.tally
                })
            })
            .collect();
        let mut next_report = Duration::from_secs(30);
        while Instant::now() < shared.deadline {
            let now = sample(shared.requests.load(Ordering::Relaxed));
            if now.seconds >= next_report.as_secs_f64() {
                let _ = writeln!(
                    log,
                    "  {:>5.0} s: {} requests, server RSS {:.0} MiB, CPU since the start: server {:.0} s, machine {:.0} s",
                    now.seconds, now.requests, now.rss_mib, now.server_cpu_s, now.machine_cpu_busy_s
                );
                next_report += Duration::from_secs(30);
            }
            samples.push(now);
            std::thread::sleep(plan.sample_every.min(shared.deadline.saturating_duration_since(Instant::now())));
        }
        samples.push(sample(shared.requests.load(Ordering::Relaxed)));
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h.join().unwrap_or_else(|_| Tally::failed("a user thread panicked".into())),
                Err(e) => Tally::failed(format!("cannot start a user thread: {e}")),
            })
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let client_cpu_s = cpu_seconds("/proc/self/stat") - client_cpu_before;
    let machine_after = machine_cpu();
    if server.exited() {
        return Err(format!("the server exited during the run: {}", server.log_tail()));
    }
    let server_cpu_s = proc_status(pid).1 - server_cpu_before;
    server.kill()?;
    let store_bytes_after = std::fs::metadata(data.join(crate::store::FILE_NAME)).map_or(0, |m| m.len());

    let mut report = LoadReport {
        users: plan.users,
        seconds,
        think_ms: (plan.think.0.as_millis(), plan.think.1.as_millis()),
        seed: plan.seed,
        client_cpu_s,
        server_cpu_s,
        machine_cpu_busy_s: machine_after.0 - machine_before.0,
        machine_cpu_s: machine_after.1 - machine_before.1,
        store_bytes_before,
        store_bytes_after,
        ..LoadReport::default()
    };
    let mut kinds: BTreeMap<&'static str, (Group, Samples)> = BTreeMap::new();
    let mut groups: BTreeMap<Group, Samples> = BTreeMap::new();
    for t in tallies {
        report.errors += t.other_errors;
        for (kind, (group, s)) in t.kinds {
            let g = groups.entry(group).or_default();
            g.latencies_us.extend_from_slice(&s.latencies_us);
            g.errors += s.errors;
            let k = &mut kinds.entry(kind).or_insert_with(|| (group, Samples::default())).1;
            k.latencies_us.extend(s.latencies_us);
            k.errors += s.errors;
        }
        for (visit, n) in t.visits {
            *report.visits.entry(visit.to_string()).or_default() += n;
        }
        for e in t.error_samples {
            if report.error_samples.len() < 20 {
                report.error_samples.push(e);
            }
        }
    }
    for (kind, (group, s)) in kinds {
        report.requests += s.latencies_us.len() as u64;
        report.errors += s.errors;
        report.kinds.insert(kind.to_string(), KindReport { group, latency: latency(s.latencies_us, s.errors) });
    }
    for (group, s) in groups {
        let name = serde_json::to_value(group).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        report.groups.insert(name, latency(s.latencies_us, s.errors));
    }
    report.throughput_per_s = report.requests as f64 / seconds.max(1e-9);
    let warm: Vec<(f64, f64)> =
        samples.iter().filter(|s| s.seconds >= seconds / 10.0).map(|s| (s.seconds / 60.0, s.rss_mib)).collect();
    report.rss = Memory {
        first_mib: samples.first().map_or(0.0, |s| s.rss_mib),
        last_mib: samples.last().map_or(0.0, |s| s.rss_mib),
        max_mib: samples.iter().map(|s| s.rss_mib).fold(0.0, f64::max),
        slope_mib_per_min: slope(&warm),
        samples,
    };
    let _ = writeln!(
        log,
        "done: {} requests in {:.0} s ({:.1}/s), {} errors; RSS {:.0} → {:.0} MiB (max {:.0}, slope {:+.2} MiB/min)",
        report.requests,
        seconds,
        report.throughput_per_s,
        report.errors,
        report.rss.first_mib,
        report.rss.last_mib,
        report.rss.max_mib,
        report.rss.slope_mib_per_min
    );
    let _ = writeln!(
        log,
        "CPU: server {:.0} s, users {:.0} s, everything else {:.0} s, of {:.0} s of the machine's cores",
        report.server_cpu_s,
        report.client_cpu_s,
        report.machine_cpu_busy_s - report.server_cpu_s - report.client_cpu_s,
        report.machine_cpu_s
    );
    for (name, l) in &report.groups {
        let _ = writeln!(
            log,
            "  {name:<10} {:>7} requests, {} errors: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            l.count, l.errors, l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
        );
    }
    Ok(report)
}
