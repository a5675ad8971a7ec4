//! `huiqi bench --load`: a county's busy day against a real server on loopback. Simulated users,
//! each a thread with its own keep-alive connection, client address and think time, visit as
//! the public (pages, calculator), enterprises (sign in, apply with attachments, submit),
//! reviewers (sign in, queue, decide), staff (entity search) and another system (API reads
//! with a token). Latency per kind of request, errors, and the server's resident memory over
//! time are reported.

mod measure;
mod personas;
mod prepare;
mod user;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use self::measure::{cpu_seconds, latency, machine_cpu, proc_status, slope};
use self::prepare::prepared;
use self::user::{Samples, Shared, Tally, User};
use super::child::{Binary, copy_dir};
use super::client::Client;
use super::{Error, err};
use crate::seed::generator::Rng;

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
