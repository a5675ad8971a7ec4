//! Inputs that may abort the process (a stack overflow aborts whatever thread it is on) run in
//! a child: this test binary again, filtered to `child_process_entry`, with the cases in a file
//! named by `HUIQI_FUZZ_JOB`. The child says which case it starts before running it; when it
//! dies or hangs, the parent records that case as failed, with the child's last words, and
//! starts a new child at the next case.

use std::io::{BufRead, BufReader};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use huiqi::model::{Role, Vocabulary};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::http::{Call, send};
use super::{check_reply, clip};
use crate::access::{World, world};

const ENV_JOB: &str = "HUIQI_FUZZ_JOB";
const ENV_START: &str = "HUIQI_FUZZ_START";
const BEGIN: &str = "FUZZ-BEGIN ";
const FAIL: &str = "FUZZ-FAIL ";
const DONE: &str = "FUZZ-DONE";
/// A case that runs longer than this is a failure too (and the child is stopped).
const CASE_LIMIT: Duration = Duration::from_secs(120);

/// One input for the child.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Case {
    /// A rule expression: through the library's entry points and the HTTP routes taking rules.
    Expr { label: String, src: String },
    /// A request of the HTTP corpus.
    Http(HttpCase),
}

/// A request to replay: `{name}`-style placeholders in the path and body are the demo world's
/// records (`{case}`, `{policy}`, `{measure}`, `{user_id}`, `{code}`, `{import}`, …).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpCase {
    pub name: String,
    pub method: String,
    pub path: String,
    /// A role key, or `None` for an anonymous caller.
    pub role: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
    pub expect_status: Option<u16>,
}

/// Runs `cases` in child processes; returns the index and the failure of each case that failed.
pub fn run(cases: &[Case]) -> Vec<(usize, String)> {
    let mut failures = Vec::new();
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return vec![(0, format!("no temp dir: {e}"))],
    };
    let job = dir.path().join("job.json");
    let stderr_path = dir.path().join("stderr.txt");
    if let Err(e) = serde_json::to_vec(cases)
        .map_err(|e| e.to_string())
        .and_then(|b| std::fs::write(&job, b).map_err(|e| e.to_string()))
    {
        return vec![(0, format!("cannot write the job: {e}"))];
    }
    // This very binary, even if a build has replaced the file meanwhile (a shared target dir).
    let exe = match std::env::current_exe() {
        Ok(_) if cfg!(target_os = "linux") => std::path::PathBuf::from("/proc/self/exe"),
        Ok(e) => e,
        Err(e) => return vec![(0, format!("no test binary: {e}"))],
    };
    let mut start = 0;
    while start < cases.len() {
        let stderr = match std::fs::File::create(&stderr_path) {
            Ok(f) => f,
            Err(e) => return vec![(start, format!("cannot capture stderr: {e}"))],
        };
        let spawned = Command::new(&exe)
            .args(["--exact", "fuzz::child::child_process_entry", "--nocapture", "--test-threads=1"])
            .env(ENV_JOB, &job)
            .env(ENV_START, start.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => return vec![(start, format!("cannot start the child: {e}"))],
        };
        let Some(stdout) = child.stdout.take() else {
            return vec![(start, "the child has no stdout".into())];
        };
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut current, mut done, mut hung) = (None, false, false);
        loop {
            match rx.recv_timeout(CASE_LIMIT) {
                Ok(line) => {
                    if let Some(i) = line.strip_prefix(BEGIN).and_then(|i| i.trim().parse::<usize>().ok()) {
                        current = Some(i);
                    } else if let Some(rest) = line.strip_prefix(FAIL) {
                        let (i, message) = rest.split_once(' ').unwrap_or((rest, ""));
                        let message: String = serde_json::from_str(message).unwrap_or_else(|_| message.to_string());
                        failures.push((i.parse().unwrap_or(start), message));
                    } else if line.trim() == DONE {
                        done = true;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    hung = true;
                    // Only this child, started above, by its handle.
                    let _ = child.kill();
                    break;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let status = child.wait();
        let _ = reader.join();
        if done {
            break;
        }
        let at = current.unwrap_or(start);
        let last_words = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let tail: String =
            last_words.lines().rev().take(6).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n      ");
        let what = if hung {
            format!("still running after {} s: stopped", CASE_LIMIT.as_secs())
        } else {
            format!("the process died ({})", status.map_or_else(|e| e.to_string(), |s| s.to_string()))
        };
        failures.push((at, format!("{what}\n      {tail}")));
        if current.is_none() {
            // It died before its first case: nothing more can run.
            break;
        }
        start = at + 1;
    }
    failures
}

/// The child's side: runs the cases of `HUIQI_FUZZ_JOB` from `HUIQI_FUZZ_START` on. Without
/// that variable (an ordinary test run) it does nothing.
#[test]
fn child_process_entry() {
    let Ok(job) = std::env::var(ENV_JOB) else { return };
    let start: usize = std::env::var(ENV_START).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let cases: Vec<Case> = serde_json::from_slice(&std::fs::read(job).unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut world_slot: Option<World> = None;
    for (i, case) in cases.iter().enumerate().skip(start) {
        println!("{BEGIN}{i}");
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(async {
                if world_slot.is_none() {
                    world_slot = Some(world().await);
                }
                let w = world_slot.as_mut().unwrap();
                match case {
                    Case::Expr { src, .. } => expr_case(w, src).await,
                    Case::Http(h) => http_case(w, h).await,
                }
            })
        }));
        let message = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(m)) => m,
            Err(panic) => {
                let text = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                format!("panicked: {text}")
            }
        };
        println!("{FAIL}{i} {}", serde_json::to_string(&message).unwrap());
    }
    println!("{DONE}");
}

/// A rule expression through the library, then through `/api/v1/rules/check`,
/// `/api/v1/simulate` and saving a measure, as the publisher: 200/201 or a 422 refusal.
async fn expr_case(w: &mut World, src: &str) -> Result<(), String> {
    super::rules::check_expr(src).map_err(|m| format!("library: {m}"))?;
    let conditions = json!([{"label": "条件", "expr": src}]);
    let policy = w.params["policy"].clone();
    let department = w.params["department"].clone();
    let requests = [
        ("/api/v1/rules/check".to_string(), json!({"conditions": conditions, "amount": src})),
        ("/api/v1/simulate".to_string(), json!({"conditions": conditions})),
        (
            format!("/api/v1/policies/{policy}/measures"),
            json!({"name": "模糊测试事项", "department": department, "mode": "apply", "conditions": conditions}),
        ),
    ];
    for (path, body) in requests {
        let call = Call {
            method: Method::POST,
            uri: path.clone(),
            role: Some(Role::Publisher),
            content_type: Some("application/json".into()),
            body: body.to_string().into_bytes(),
        };
        let reply = send(w, &call).await;
        check_reply("POST", &path, &reply).map_err(|e| e.to_string())?;
        if ![StatusCode::OK, StatusCode::CREATED, StatusCode::UNPROCESSABLE_ENTITY].contains(&reply.status) {
            return Err(format!(
                "POST {path} answered {}, not 200/201 or 422: {}",
                reply.status,
                clip(&reply.text(), 300)
            ));
        }
    }
    Ok(())
}

/// A corpus request: the documented answer, and the status it names if it names one.
async fn http_case(w: &mut World, h: &HttpCase) -> Result<(), String> {
    let fill = |s: &str| {
        let mut s = s.to_string();
        for (k, v) in &w.params {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    };
    let role = match h.role.as_deref() {
        None | Some("anonymous") => None,
        Some(key) => Some(Role::ALL.iter().copied().find(|r| r.key() == key).ok_or(format!("no role `{key}`"))?),
    };
    let method = Method::from_bytes(h.method.as_bytes()).map_err(|e| e.to_string())?;
    let call = Call {
        method,
        uri: fill(&h.path),
        role,
        content_type: h.content_type.clone(),
        body: fill(&h.body).into_bytes(),
    };
    let reply = send(w, &call).await;
    check_reply(&h.method, &call.uri, &reply).map_err(|e| e.to_string())?;
    if let Some(expected) = h.expect_status
        && reply.status.as_u16() != expected
    {
        return Err(format!(
            "{} {} answered {}, expected {expected}: {}",
            h.method,
            clip(&call.uri, 120),
            reply.status,
            clip(&reply.text(), 300)
        ));
    }
    Ok(())
}
