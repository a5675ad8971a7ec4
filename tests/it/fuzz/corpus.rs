//! The corpus of past failures, `tests/fuzz-corpus/` (see its README): every file is replayed
//! on every run — rule expressions and HTTP requests in a child process, import files in
//! process — against the suite's invariants and what its `.expect` or header lines pin.

use std::path::{Path, PathBuf};

use huiqi::model::imports::ImportStatus;

use super::child::{self, Case, HttpCase};
use super::{clip, has_cjk, report};
use crate::common::TestApp;

fn corpus(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus").join(kind)
}

/// The files of a corpus folder with one of `extensions`, by name.
fn files(kind: &str, extensions: &[&str]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(corpus(kind))
        .unwrap_or_else(|e| panic!("tests/fuzz-corpus/{kind}: {e}"))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().and_then(|x| x.to_str()).is_some_and(|x| extensions.contains(&x)))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "tests/fuzz-corpus/{kind} holds no {extensions:?} file");
    out
}

fn name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// `{{repeat N TEXT}}` becomes TEXT N times (for inputs too large to keep as they are).
pub fn expand(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("{{repeat ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "{{repeat ".len()..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[at..]);
            return out;
        };
        let (n, text) = after[..end].split_once(' ').unwrap_or((&after[..end], ""));
        let n: usize = n.parse().unwrap_or_else(|_| panic!("`{{{{repeat {n} …}}}}`: not a count"));
        out.push_str(&text.repeat(n));
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Without the one final newline an editor adds.
fn trim_final_newline(s: &str) -> &str {
    s.strip_suffix('\n').map(|s| s.strip_suffix('\r').unwrap_or(s)).unwrap_or(s)
}

#[test]
fn rule_expressions_of_the_corpus_replay() {
    let paths = files("rules", &["expr"]);
    let cases: Vec<Case> = paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            Case::Expr { label: name(p), src: expand(trim_final_newline(&text)) }
        })
        .collect();
    let failures: Vec<String> =
        child::run(&cases).into_iter().map(|(i, m)| format!("rules/{}: {m}", name(&paths[i]))).collect();
    report("rule corpus", &failures);
}

/// Reads a `.http` file: `METHOD PATH`, then `key: value` lines (`as`, `content-type`,
/// `expect-status`), a blank line, and the body; `#` lines before the request are comments.
pub fn parse_http(file_name: &str, text: &str) -> HttpCase {
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty() || l.starts_with('#'));
    let request = lines.next().unwrap_or_else(|| panic!("{file_name}: no request line"));
    let (method, path) = request.split_once(' ').unwrap_or_else(|| panic!("{file_name}: `METHOD PATH` expected"));
    let mut case = HttpCase {
        name: file_name.to_string(),
        method: method.trim().to_string(),
        path: expand(path.trim()),
        role: None,
        content_type: None,
        body: String::new(),
        expect_status: None,
    };
    let mut body_lines = Vec::new();
    let mut in_body = false;
    for line in lines {
        if in_body {
            body_lines.push(line);
            continue;
        }
        if line.trim().is_empty() {
            in_body = true;
            continue;
        }
        let (key, value) = line.split_once(':').unwrap_or_else(|| panic!("{file_name}: `{line}` is not `key: value`"));
        let value = value.trim().to_string();
        match key.trim() {
            "as" => case.role = Some(value),
            "content-type" => case.content_type = Some(value),
            "expect-status" => {
                case.expect_status = Some(value.parse().unwrap_or_else(|_| panic!("{file_name}: status")))
            }
            other => panic!("{file_name}: unknown key `{other}`"),
        }
    }
    case.body = expand(&body_lines.join("\n"));
    case
}

#[test]
fn http_requests_of_the_corpus_replay() {
    let paths = files("http", &["http"]);
    let cases: Vec<Case> =
        paths.iter().map(|p| Case::Http(parse_http(&name(p), &std::fs::read_to_string(p).unwrap()))).collect();
    let failures: Vec<String> =
        child::run(&cases).into_iter().map(|(i, m)| format!("http/{}: {m}", name(&paths[i]))).collect();
    report("HTTP corpus", &failures);
}

/// Checks an import against the lines of its `.expect` file:
/// `refused` · `stored-name CODE NAME` (when applied) · `if-refused-mentions TEXT`.
fn check_expectations(app: &TestApp, job: &huiqi::model::imports::ImportJob, expect: &str) -> Result<(), String> {
    for line in expect.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (key, arg) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "refused" if job.status != ImportStatus::Refused => {
                return Err(format!("should be refused, was {:?} ({} rows read)", job.status, job.report.rows));
            }
            "stored-name" if job.status == ImportStatus::Applied => {
                let (code, expected) = arg.split_once(' ').ok_or("stored-name CODE NAME")?;
                let stored = huiqi::service::entities::entity_code(code)
                    .and_then(|code| app.svc().entity_get(&huiqi::model::Who::system("test"), &code))
                    .ok()
                    .and_then(|e| e.name);
                if stored.as_deref() != Some(expected) {
                    return Err(format!("{code} stored as {stored:?}, the file says {expected:?}"));
                }
            }
            "if-refused-mentions"
                if job.status == ImportStatus::Refused && !job.report.issues.iter().any(|i| i.reason.contains(arg)) =>
            {
                return Err(format!(
                    "refused without mentioning 「{arg}」: {:?}",
                    job.report.issues.iter().map(|i| clip(&i.reason, 120)).collect::<Vec<_>>()
                ));
            }
            "refused" | "stored-name" | "if-refused-mentions" => {}
            other => return Err(format!("unknown expectation `{other}`")),
        }
    }
    Ok(())
}

#[test]
fn import_files_of_the_corpus_replay() {
    let mut failures = Vec::new();
    for path in files("imports", &["csv", "xlsx"]) {
        let app = TestApp::new();
        let bytes = std::fs::read(&path).unwrap();
        let expect = std::fs::read_to_string(path.with_extension("expect")).unwrap_or_default();
        let outcome = super::imports::import(&app, &name(&path), &bytes)
            .and_then(|job| check_expectations(&app, &job, &expect).map(|()| job));
        match outcome {
            Ok(job) if job.status == ImportStatus::Refused && !job.report.issues.iter().any(|i| has_cjk(&i.reason)) => {
                failures.push(format!("imports/{}: refused without a Chinese reason", name(&path)));
            }
            Ok(_) => {}
            Err(m) => failures.push(format!("imports/{}: {m}", name(&path))),
        }
    }
    report("import corpus", &failures);
}

#[test]
fn repeat_expands() {
    assert_eq!(expand("a{{repeat 3 (}}b{{repeat 2 )}}"), "a(((b))");
    let case = parse_http("x.http", "# c\nGET /api/v1/x?q={{repeat 2 ab}}\nas: sysadmin\n\n{\"a\": 1}\n");
    assert_eq!(
        (case.path.as_str(), case.role.as_deref(), case.body.as_str()),
        ("/api/v1/x?q=abab", Some("sysadmin"), "{\"a\": 1}")
    );
}
