//! The fuzz suite (issue 9): property-based inputs for every route of the router's table,
//! multipart uploads, the CSV and XLSX readers and the rules parser and checker, and the corpus
//! of past failures in `tests/fuzz-corpus/`, replayed on every run.
//!
//! Invariants: nothing panics, aborts or answers 5xx; every refusal of the API is
//! `{"error": "<Chinese>", "status": <code>, "fields": [...]}`, every refusal of a page is an
//! HTML page. Inputs that could abort the process (deep or long rule expressions, and the HTTP
//! corpus) run in a child process (`child`), so an abort fails one test and names its input.
//!
//! `HUIQI_FUZZ_CASES=N` sets every property's case count to N, for longer local runs
//! (`HUIQI_FUZZ_CASES=2000 cargo test --test it fuzz::`).

mod child;
mod corpus;
mod http;
mod imports;
mod inputs;
mod rules;

use axum::http::{StatusCode, header};
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use serde_json::Value;

use crate::common::Reply;

/// The case count of a property: `default`, or `HUIQI_FUZZ_CASES` when set.
pub fn cases(default: u32) -> u32 {
    std::env::var("HUIQI_FUZZ_CASES").ok().and_then(|v| v.trim().parse().ok()).filter(|n| *n > 0).unwrap_or(default)
}

/// A runner for `cases` cases with a bounded shrink, reporting through `check` (no regression
/// files: the corpus keeps past failures).
pub fn runner(cases: u32) -> TestRunner {
    runner_with(cases, 48)
}

/// As [`runner`], shrinking up to `shrink` steps (for properties whose cases are cheap).
pub fn runner_with(cases: u32, shrink: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        max_shrink_iters: shrink,
        failure_persistence: None,
        max_global_rejects: cases.saturating_mul(20).max(1024),
        ..Config::default()
    })
}

/// The minimal failing input of a run, or `None` when every case passed.
pub fn failure<T: std::fmt::Debug>(result: Result<(), TestError<T>>) -> Option<String> {
    match result {
        Ok(()) => None,
        Err(TestError::Fail(reason, value)) => Some(format!("{reason}\n    minimal input: {}", short_debug(&value))),
        Err(TestError::Abort(reason)) => Some(format!("aborted: {reason}")),
    }
}

/// A value's `Debug`, cut to a readable length.
pub fn short_debug<T: std::fmt::Debug>(value: &T) -> String {
    clip(&format!("{value:?}"), 600)
}

/// `s`, cut to `max` characters with the total length noted.
pub fn clip(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max { s.to_string() } else { format!("{}…（共 {n} 字符）", s.chars().take(max).collect::<String>()) }
}

/// Panics with every failure found, one block each.
pub fn report(what: &str, failures: &[String]) {
    if !failures.is_empty() {
        panic!("{what}: {} failure(s)\n\n{}", failures.len(), failures.join("\n\n"));
    }
}

/// Whether `s` holds at least one CJK ideograph (the messages are in Chinese).
pub fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F))
}

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

/// Whether a request path belongs to the API (JSON errors) rather than to the pages.
pub fn is_api_path(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or("");
    path.starts_with("/api/") || path == "/metrics"
}

/// The documented answer to any request: never 5xx; an API refusal is the JSON error shape with
/// a Chinese message and its own status; a page refusal is an HTML page; a 405 says what is
/// allowed.
pub fn check_reply(method: &str, path: &str, reply: &Reply) -> Result<(), TestCaseError> {
    let status = reply.status;
    let what = || format!("{method} {} → {status}: {}", clip(path, 160), clip(&reply.text(), 300));
    if status.is_server_error() {
        return Err(fail(format!("a server error: {}", what())));
    }
    if status.as_u16() < 400 {
        return Ok(());
    }
    if status == StatusCode::METHOD_NOT_ALLOWED && !reply.headers.contains_key(header::ALLOW) {
        return Err(fail(format!("405 without an Allow header: {}", what())));
    }
    let content_type =
        reply.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if !is_api_path(path) {
        return if content_type.starts_with("text/html") {
            Ok(())
        } else {
            Err(fail(format!("a page refused with `{content_type}` instead of an HTML page: {}", what())))
        };
    }
    if !content_type.starts_with("application/json") {
        return Err(fail(format!("an API refusal with `{content_type}` instead of JSON: {}", what())));
    }
    let Ok(body) = serde_json::from_slice::<Value>(&reply.body) else {
        return Err(fail(format!("an API refusal that is not JSON: {}", what())));
    };
    let bare = path.split('?').next().unwrap_or("");
    // Two answers the README documents with their own shape: a rules check's findings and a
    // refused import's report.
    if status == StatusCode::UNPROCESSABLE_ENTITY && bare == "/api/v1/rules/check" && body.get("errors").is_some() {
        return check_rule_findings(&body).map_err(|m| fail(format!("{m}: {}", what())));
    }
    if status == StatusCode::UNPROCESSABLE_ENTITY && bare == "/api/v1/imports" && body.get("report").is_some() {
        return imports::check_report_json(&body).map_err(|m| fail(format!("{m}: {}", what())));
    }
    check_error_shape(&body, status).map_err(|m| fail(format!("{m}: {}", what())))
}

/// `{"error": "<Chinese>", "status": <code>, "fields": [{"field", "message"}]}`.
pub fn check_error_shape(body: &Value, status: StatusCode) -> Result<(), String> {
    let error = body.get("error").and_then(Value::as_str).unwrap_or("");
    if error.trim().is_empty() {
        return Err("no non-empty `error` string".into());
    }
    if !has_cjk(error) {
        return Err(format!("the `error` message is not in Chinese ({error})"));
    }
    if body.get("status").and_then(Value::as_u64) != Some(u64::from(status.as_u16())) {
        return Err(format!("`status` is not {}", status.as_u16()));
    }
    let Some(fields) = body.get("fields").and_then(Value::as_array) else {
        return Err("no `fields` array".into());
    };
    for f in fields {
        if f.get("field").and_then(Value::as_str).is_none() || f.get("message").and_then(Value::as_str).is_none() {
            return Err(format!("a `fields` entry without `field` and `message`: {f}"));
        }
    }
    Ok(())
}

/// `{"ok": false, "errors": [{"zh": "<Chinese>", …}]}` from `POST /api/v1/rules/check`.
fn check_rule_findings(body: &Value) -> Result<(), String> {
    let errors = body.get("errors").and_then(Value::as_array).ok_or("no `errors` array")?;
    if errors.is_empty() {
        return Err("422 with an empty `errors` array".into());
    }
    for e in errors {
        let zh = e.get("zh").and_then(Value::as_str).unwrap_or("");
        if !has_cjk(zh) {
            return Err(format!("a rule error without a Chinese message: {e}"));
        }
    }
    Ok(())
}
