//! The real `huiqi` binary: serving on port 0, shutting down on SIGTERM, the demo sign-ins, the
//! data-directory lock, and the command-line import and export.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::{TODAY, credit_code};
use crate::http_client::{request, url_encode};
use huiqi::store::prelude::*;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_huiqi");

/// A `huiqi` command with the test environment: fixed today, quiet logs, its own data dir.
pub(crate) fn huiqi(data: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--data").arg(data).env("HUIQI_TODAY", TODAY).env("HUIQI_LOG", "warn").env_remove("HUIQI_LISTEN");
    cmd
}

/// Runs a command to completion.
pub(crate) fn run(data: &Path, args: &[&str]) -> Output {
    huiqi(data).args(args).output().unwrap_or_else(|e| panic!("cannot run huiqi {args:?}: {e}"))
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a command that must succeed; returns its stdout.
pub(crate) fn run_ok(data: &Path, args: &[&str]) -> String {
    let out = run(data, args);
    assert!(out.status.success(), "huiqi {args:?} failed ({}):\n{}\n{}", out.status, stdout(&out), stderr(&out));
    stdout(&out)
}

/// A running `huiqi serve`. Its stdout lines arrive on a channel, its stderr is collected;
/// dropping it kills the process, so a failing test leaves nothing behind.
pub(crate) struct Server {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    pub(crate) fn start(data: &Path, args: &[&str]) -> Server {
        let mut child = huiqi(data)
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start huiqi serve: {e}"));
        let out = child.stdout.take().expect("piped stdout");
        let mut err = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match err.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
        });
        Server { child, lines, seen: Vec::new(), stderr }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for the first stdout line that `matches`, and returns it.
    fn wait_for_line(&mut self, what: &str, timeout: Duration, matches: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no {what} from huiqi serve within {timeout:?}\nstdout so far:\n{}\nstderr:\n{}",
                    self.seen.join("\n"),
                    self.stderr()
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.try_wait().ok().flatten();
                    // Give the stderr reader a moment to catch up with the dead process.
                    thread::sleep(Duration::from_millis(200));
                    panic!(
                        "huiqi serve closed its stdout (exit: {status:?}) before printing {what}\nstdout:\n{}\nstderr:\n{}",
                        self.seen.join("\n"),
                        self.stderr()
                    )
                }
            }
        }
    }

    /// The base URL (`http://127.0.0.1:PORT`, without the trailing slash) from the banner.
    pub(crate) fn wait_for_url(&mut self, timeout: Duration) -> String {
        let line = self.wait_for_line("\"huiqi is serving on\" line", timeout, |l| l.contains("huiqi is serving on "));
        let url = line.split("serving on ").nth(1).expect("a URL after 'serving on'").trim();
        assert!(url.starts_with("http://127.0.0.1:") && url.ends_with('/'), "unexpected URL in {line:?}");
        url.trim_end_matches('/').to_string()
    }

    /// Waits for the process to exit on its own.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "huiqi serve did not exit within {timeout:?}\nstderr:\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn get(url: &str) -> crate::http_client::Response {
    request("GET", url, &[], None).unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// GETs `url`, expecting 200 and a body containing `needle`.
fn get_contains(url: &str, needle: &str) {
    let r = get(url);
    let text = r.text();
    assert_eq!(r.status, 200, "GET {url}: {}", snippet(&text));
    assert!(text.contains(needle), "GET {url} does not contain {needle:?}: {}", snippet(&text));
}

fn snippet(text: &str) -> String {
    text.chars().take(2000).collect()
}

#[test]
fn real_binary_serves_on_port_0() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let seeded = run_ok(data, &["seed", "--entities", "30", "--seed", "7", "--policies"]);
    assert!(seeded.contains("generated 30 entities"), "{seeded}");
    // A monitoring token, as an operator makes one at the command line.
    let added = huiqi(data)
        .args(["user", "add", "monitor", "--role", "sysadmin"])
        .env("HUIQI_PASSWORD", crate::common::PASSWORD)
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", stderr(&added));
    let token = run_ok(data, &["user", "token", "monitor", "--name", "prometheus", "--scope", "metrics"]);
    let bearer = format!("Bearer {}", token.trim());
    let refused = run(data, &["user", "token", "monitor", "--name", "x"]);
    assert!(!refused.status.success(), "a token needs an explicit scope");

    let mut server = Server::start(data, &["--listen", "127.0.0.1:0"]);
    let base = server.wait_for_url(Duration::from_secs(120));

    let health = get(&format!("{base}/healthz"));
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
    get_contains(&format!("{base}/"), "惠企");
    get_contains(&format!("{base}/policies?q={}", url_encode("高新")), "高新技术企业");
    assert_eq!(get(&format!("{base}/metrics")).status, 401);
    let metrics = request("GET", &format!("{base}/metrics"), &[("Authorization", &bearer)], None).unwrap();
    assert_eq!(metrics.status, 200);
    let denied = request("GET", &format!("{base}/api/v1/users"), &[("Authorization", &bearer)], None).unwrap();
    assert_eq!(denied.status, 403, "the metrics scope reaches nothing else");
    assert!(
        metrics.text().lines().any(|l| l.trim() == "huiqi_entities 30"),
        "no 'huiqi_entities 30' in /metrics:\n{}",
        metrics.text()
    );

    // The store is locked while the server runs: a second process refuses, and says why.
    let check = run(data, &["check"]);
    assert!(!check.status.success(), "check succeeded while the server runs:\n{}", stdout(&check));
    assert!(
        stderr(&check).contains("is in use by another huiqi process"),
        "unexpected error from check: {}",
        stderr(&check)
    );

    // SIGTERM: a graceful stop with exit code 0.
    let kill = Command::new("kill").args(["-TERM", &server.pid().to_string()]).status().expect("run kill");
    assert!(kill.success(), "kill -TERM failed: {kill}");
    let status = server.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "huiqi serve exited with {status} after SIGTERM\nstderr:\n{}", server.stderr());
    // The reader thread may still be copying the last bytes.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.stderr().contains("huiqi stopped") && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert!(server.stderr().contains("huiqi stopped"), "stderr:\n{}", server.stderr());

    // And with the server gone the store opens again.
    let check = run_ok(data, &["check"]);
    assert!(check.contains("entities: 30"), "{check}");
    // Where the bytes go: each table with its entries and bytes per entity.
    let entities_table = check.lines().find(|l| l.trim_start().starts_with("entities-0 ")).unwrap_or_default();
    assert!(entities_table.contains(" 30 entries") && entities_table.ends_with("B/entity"), "{check}");
    assert!(check.contains("all tables") && check.contains("the file"), "{check}");
}

#[test]
fn serve_demo_prints_sign_ins_that_work() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &["--demo", "--listen", "127.0.0.1:0"]);
    let timeout = Duration::from_secs(300);
    let base = server.wait_for_url(timeout);
    let header = server.wait_for_line("demo sign-ins header", timeout, |l| l.starts_with("demo sign-ins (at "));
    let password = header
        .split("password ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the demo password on the header line");
    let admin = server.wait_for_line("admin sign-in line", timeout, |l| l.trim_start().starts_with("admin "));
    let username = admin.split_whitespace().next().expect("a username");
    assert_eq!(username, "admin");

    // As a browser: the sign-in page first, for its pre-session CSRF cookie and field.
    let page = request("GET", &format!("{base}/login"), &[], None).expect("GET /login");
    let anon = page.cookie("huiqi_csrf").expect("a huiqi_csrf cookie");
    let csrf = crate::common::extract_csrf(&page.text()).expect("a CSRF field");
    let form = format!("csrf={csrf}&username={}&password={}&next=%2Fstaff", url_encode(username), url_encode(password));
    let login = request(
        "POST",
        &format!("{base}/login"),
        &[("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", &anon)],
        Some(form.as_bytes()),
    )
    .expect("POST /login");
    assert_eq!(login.status, 303, "sign-in as {username} failed: {}", snippet(&login.text()));
    assert_eq!(login.header("location"), Some("/staff"));
    let cookie = login.cookie("huiqi_session").expect("a huiqi_session cookie");
    assert!(
        login.header("set-cookie").is_some_and(|c| c.contains("HttpOnly") && c.contains("SameSite=Lax")),
        "the session cookie is HttpOnly and SameSite=Lax"
    );

    let staff = request("GET", &format!("{base}/staff"), &[("Cookie", &cookie)], None).expect("GET /staff");
    assert_eq!(staff.status, 200, "GET /staff with the session: {}", snippet(&staff.text()));
    assert!(staff.text().contains("工作台"), "{}", snippet(&staff.text()));
    assert!(
        staff.header("content-security-policy").is_some_and(|c| c.contains("script-src 'self'")),
        "security headers are sent"
    );

    // The demo has its 2,000 entities.
    assert_eq!(get(&format!("{base}/metrics")).status, 401, "metrics need an account with system.metrics");
    let metrics = request("GET", &format!("{base}/metrics"), &[("Cookie", &cookie)], None).expect("GET /metrics");
    assert!(metrics.text().lines().any(|l| l.trim() == "huiqi_entities 2000"), "{}", metrics.text());
    drop(server);
}

/// A CSV file of entities: header plus rows.
fn write_csv(path: &Path, rows: &[[&str; 7]]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(["统一社会信用代码", "名称", "所在地", "行业", "从业人数", "营业收入(万元)", "成立日期"]).unwrap();
    for row in rows {
        w.write_record(row).unwrap();
    }
    w.flush().unwrap();
}

/// The `entities: N` count from `huiqi check`.
pub(crate) fn entity_count(data: &Path) -> u64 {
    let out = run_ok(data, &["check"]);
    let at = out.find("entities: ").unwrap_or_else(|| panic!("no entity count in:\n{out}")) + "entities: ".len();
    let digits: String = out[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or_else(|_| panic!("bad entity count in:\n{out}"))
}

#[test]
fn cli_import_refuses_bad_files_and_round_trips_exports() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.as_path();
    let files = dir.path();
    let (c1, c2, c3) = (credit_code(101), credit_code(102), credit_code(103));
    let good: [[&str; 7]; 3] = [
        [&c1, "哈尔滨冰城科技有限公司", "230125", "C3911", "120", "5600", "2015-03-01"],
        [&c2, "宾县北方食品有限公司", "230125", "C3911", "45", "1200.5", "2019-07-15"],
        [&c3, "松花江精密制造有限公司", "230125", "C3911", "300", "", ""],
    ];
    // File rows: 1 is the header; 3 and 5 are bad.
    let mixed = files.join("mixed.csv");
    write_csv(
        &mixed,
        &[
            good[0],
            ["BAD", "坏代码有限公司", "230125", "C3911", "10", "100", ""],
            good[1],
            [&credit_code(104), "负人数有限公司", "230125", "C3911", "-5", "100", ""],
            good[2],
        ],
    );
    let mixed_s = mixed.to_str().unwrap();

    // Without --skip-invalid the whole file is refused, with exit code 2 and every bad row named.
    let refused = run(data, &["import", "entities", mixed_s]);
    let err = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "import of a file with bad rows:\n{}\n{err}", stdout(&refused));
    assert!(err.contains("refused") && err.contains("2 of 5 rows have problems"), "{err}");
    assert!(err.contains("row 3, column 统一社会信用代码: 「BAD」"), "{err}");
    assert!(err.contains("row 5, column 从业人数: 「-5」"), "{err}");
    assert!(!err.contains("row 2,") && !err.contains("row 4,") && !err.contains("row 6,"), "{err}");
    assert_eq!(entity_count(data), 0, "a refused import wrote something");

    // --dry-run on a good file checks it and writes nothing.
    let good_csv = files.join("good.csv");
    write_csv(&good_csv, &good);
    let good_s = good_csv.to_str().unwrap();
    let dry = run_ok(data, &["import", "entities", good_s, "--dry-run"]);
    assert!(dry.contains("3 valid") && dry.contains("nothing written"), "{dry}");
    assert_eq!(entity_count(data), 0, "--dry-run wrote something");

    // --skip-invalid writes the good rows and reports the bad ones.
    let report = files.join("report.csv");
    let report_s = report.to_str().unwrap();
    let imported = run_ok(data, &["import", "entities", mixed_s, "--skip-invalid", "--report", report_s]);
    assert!(imported.contains("3 new, 0 updated, 0 unchanged, 2 skipped"), "{imported}");
    assert_eq!(entity_count(data), 3);
    // No server ran: the import kept the portrait snapshot, so the next start reads it.
    let check = run_ok(data, &["check"]);
    assert!(check.contains("3 entities): in use, 0 entities written since"), "{check}");
    let mut reader = csv::Reader::from_path(&report).unwrap();
    assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), ["行号", "列", "值", "原因"]);
    let issues: Vec<(String, String, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string(), r[2].to_string())
        })
        .collect();
    assert_eq!(
        issues,
        [
            ("3".to_string(), "统一社会信用代码".to_string(), "BAD".to_string()),
            ("5".to_string(), "从业人数".to_string(), "-5".to_string())
        ],
        "report:\n{}",
        std::fs::read_to_string(&report).unwrap()
    );

    // An export imports back as unchanged, in both formats.
    for ext in ["csv", "xlsx"] {
        let out = files.join(format!("all.{ext}"));
        let out_s = out.to_str().unwrap();
        let wrote = run_ok(data, &["export", "entities", "--out", out_s]);
        assert!(wrote.contains(&format!("wrote 3 rows to {out_s}")), "{wrote}");
        let again = run(data, &["import", "entities", out_s]);
        assert!(
            again.status.success(),
            "re-import of the {ext} export failed ({}):\n{}\n{}",
            again.status,
            stdout(&again),
            stderr(&again)
        );
        assert!(
            stdout(&again).contains("3 rows — 0 new, 0 updated, 3 unchanged"),
            "re-import of the {ext} export changed something:\n{}\n{}",
            stdout(&again),
            stderr(&again)
        );
        assert_eq!(entity_count(data), 3);
    }
}

/// `huiqi rules check` and `huiqi simulate` on the command line.
#[test]
fn cli_rules_check_and_simulate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let bin = env!("CARGO_BIN_EXE_huiqi");
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .args(args)
            .env("HUIQI_TODAY", "2026-11-27")
            .env("HUIQI_LOG", "warn")
            .output()
            .unwrap()
    };
    let seeds: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/seed/policies"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    let mut args = vec!["rules", "check"];
    args.extend(seeds.iter().map(String::as_str));
    let out = run(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("all rules type-check"));

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "name = \"x\"\nmode = \"apply\"\n[[conditions]]\nlabel = \"a\"\nexpr = 'revenue >= 1 && rd_ration >= 3'\n",
    )
    .unwrap();
    let out = run(&["rules", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("condition 1, column 17: unknown field `rd_ration`; did you mean `rd_ratio`?"), "{text}");
    assert!(text.contains("               ^^^^^^^^^"), "a caret under the name: {text}");

    let out = run(&["--data", data.to_str().unwrap(), "seed", "--entities", "300", "--seed", "4"]);
    assert!(out.status.success());
    let measure = dir.path().join("m.toml");
    std::fs::write(
        &measure,
        "name = \"研发费用补助\"\nmode = \"apply\"\namount = \"min(rd_expense * 0.1, 100)\"\ncap = 100\n[[conditions]]\nlabel = \"制造业\"\nexpr = 'industry.within(\"C\")'\n",
    )
    .unwrap();
    let out_csv = dir.path().join("out.csv");
    let out = run(&[
        "--data",
        data.to_str().unwrap(),
        "simulate",
        "--measure",
        measure.to_str().unwrap(),
        "--out",
        out_csv.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = String::from_utf8_lossy(&out.stdout).to_string();
    let number = |word: &str| -> usize {
        let at = summary.find(word).unwrap();
        summary[..at].trim_end().rsplit(' ').next().unwrap().parse().unwrap()
    };
    let (eligible, unknown) = (number(" eligible"), number(" unknown"));
    assert!(eligible > 0, "{summary}");
    let csv = std::fs::read_to_string(&out_csv).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("credit_code,outcome,amount"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), eligible + unknown);
    assert_eq!(rows.iter().filter(|l| l.contains(",eligible,")).count(), eligible);
    assert!(rows.iter().filter(|l| l.contains(",unknown,")).all(|l| l.ends_with(",unknown,")));
}

/// `huiqi audit verify` on the real file: an intact trail passes; a letter changed inside the
/// stored `user.create` record, in the redb file itself, is named by its entry number.
#[test]
fn audit_verify_names_a_changed_record() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.as_path();
    run_ok(data, &["seed", "--entities", "5", "--seed", "3"]);
    let added = huiqi(data)
        .args(["user", "add", "zzauditmarker", "--role", "sysadmin", "--name", "AUDITMARKERXYZ"])
        .env("HUIQI_PASSWORD", "Lantern-Maple-37")
        .output()
        .unwrap();
    assert!(added.status.success(), "user add failed:\n{}\n{}", stdout(&added), stderr(&added));
    let intact = run_ok(data, &["audit", "verify"]);
    assert!(intact.contains("audit trail intact"), "{intact}");

    // The entry that records the new account, read through the library (no huiqi process runs).
    let target = "user:zzauditmarker";
    let seq = {
        let store = huiqi::store::Store::open(data).unwrap();
        let entries = store.read().unwrap().audit_tail(1000).unwrap();
        let entry = entries.iter().find(|e| e.target == target).unwrap_or_else(|| panic!("no {target} entry"));
        assert_eq!(entry.action, "user.create");
        entry.seq
    };

    let original = std::fs::read(data.join(huiqi::store::FILE_NAME)).unwrap();
    let needle = target.as_bytes();
    let occurrences: Vec<usize> =
        original.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i).collect();
    assert!(!occurrences.is_empty(), "{target} is not in the store file");

    let copy_of_data = |n: usize| {
        let copy = dir.path().join(format!("copy-{n}"));
        std::fs::create_dir_all(&copy).unwrap();
        for file in std::fs::read_dir(data).unwrap() {
            let file = file.unwrap();
            std::fs::copy(file.path(), copy.join(file.file_name())).unwrap();
        }
        copy
    };
    let named = format!("audit trail BROKEN at entry {seq}:");
    let mut detected = Vec::new();
    for (n, &at) in occurrences.iter().enumerate() {
        let copy = copy_of_data(n);
        // One letter of the user name ("user:zz…" becomes "user:yz…"): still valid UTF-8 and
        // MessagePack, so only the hash can tell.
        let mut bytes = original.clone();
        let pos = at + "user:".len();
        bytes[pos] = if bytes[pos] == b'y' { b'x' } else { b'y' };
        std::fs::write(copy.join(huiqi::store::FILE_NAME), &bytes).unwrap();

        let out = run(&copy, &["audit", "verify"]);
        let (text, err) = (stdout(&out), stderr(&out));
        assert!(!err.contains("panicked"), "occurrence {n} at byte {at}: huiqi panicked:\n{err}");
        match out.status.code() {
            Some(0) => assert!(text.contains("audit trail intact"), "occurrence {n}: {text}\n{err}"),
            Some(1) if text.contains("audit trail BROKEN at entry ") => {
                assert!(text.contains(&named), "occurrence {n} at byte {at}: wrong entry (expected {seq}):\n{text}");
                detected.push((n, at, text.trim().to_string()));
            }
            other => panic!("occurrence {n} at byte {at}: exit {other:?}\n{text}\n{err}"),
        }
    }
    eprintln!(
        "{} occurrence(s) of {target:?} in the store file at bytes {occurrences:?}; entry {seq} is user.create",
        occurrences.len()
    );
    for (n, at, what) in &detected {
        eprintln!("live occurrence {n} (byte {at}): {what}");
    }
    assert!(!detected.is_empty(), "no changed copy of {target} was detected by `huiqi audit verify`");
}
