//! Backups while serving and restore: a backup taken through the API under a stream of writes
//! restores every write acknowledged before it was asked for, with the attachments and an
//! intact audit trail; restore refuses a running instance, an existing store without --force
//! and a damaged file; retention keeps the newest; the page is for system administrators.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use huiqi::auth::{Auth, NewUser};
use huiqi::model::CaseId;
use huiqi::model::audit::sha256_hex;
use huiqi::model::{Capacity, CreditCode, Date, MeasureId, Role, TokenScope, Vocabulary, Who};
use huiqi::service::backup::BackupSettings;
use huiqi::service::files::Upload;
use huiqi::service::{Config, Service};
use huiqi::store::Store;
use serde_json::json;

use crate::binary::{Server, entity_count, huiqi, run, run_ok, stderr, stdout};
use crate::common::{PASSWORD, TODAY, TestApp, credit_code};
use crate::http_client::request;
use huiqi::store::prelude::*;

const PDF_A: &[u8] = b"%PDF-1.4\n% backup test: business licence\n%%EOF\n";
const PDF_B: &[u8] = b"%PDF-1.4\n% backup test: audit report, a different file\n%%EOF\n";

fn config() -> Config {
    Config { today: Some(Date::parse(TODAY).unwrap()), fast_password_hashing: true, ..Config::default() }
}

/// A data directory with a published measure, a case with two attachments, and a system
/// administrator's API token (entity writes and administration), made through the library.
fn prepare(data: &Path) -> String {
    let svc = Service::new(Store::open(data).unwrap(), config());
    let who = Who::system("test");
    svc.init_reference(&who).unwrap();
    svc.load_policies(&who, &huiqi::seed::demo_policies().unwrap()).unwrap();
    svc.seed_entities(1, 0, 3, |_| {}).unwrap();
    let policy =
        svc.policy_search(&Default::default(), huiqi::service::policies::Audience::Staff).unwrap()[0].policy.id;
    let spec: huiqi::model::MeasureSpec = serde_json::from_value(json!({
        "name": "备份测试事项", "department": "哈尔滨市科学技术局", "mode": "apply",
        "window_start": "2026-01-01", "window_end": "2026-12-31",
        "materials": ["营业执照复印件", "审计报告"], "review_stages": [{"name": "受理", "days": 3}]
    }))
    .unwrap();
    let measure = svc.measure_create(&who, policy, spec).unwrap().measure_id;
    svc.measure_publish(&who, MeasureId(measure)).unwrap();
    let all = huiqi::service::entities::EntityQuery { limit: 10, ..Default::default() };
    let code = svc.entity_list(&huiqi::model::Who::system("test"), &all).unwrap().entities[0].credit_code.to_string();

    let auth = Auth::new(Arc::clone(&svc.store), true, Default::default()).unwrap();
    let (enterprise, _) = auth.user_create(&who, NewUser::new("qiye", Role::Enterprise), Some(PASSWORD)).unwrap();
    auth.binding_grant(&who, "qiye", &CreditCode::parse(&code).unwrap(), Capacity::LegalRep).unwrap();
    let applicant = Who { entities: vec![CreditCode::parse(&code).unwrap()], ..Who::user(&enterprise, "test") };
    let case = svc
        .case_open(&applicant, &huiqi::model::CreditCode::parse(&code).unwrap(), huiqi::model::MeasureId(measure))
        .unwrap();
    svc.case_attach(
        &applicant,
        CaseId(case.case.id),
        Upload { slot: "营业执照复印件", name: "执照.pdf", bytes: PDF_A },
        None,
    )
    .unwrap();
    svc.case_attach(
        &applicant,
        CaseId(case.case.id),
        Upload { slot: "审计报告", name: "审计报告.pdf", bytes: PDF_B },
        None,
    )
    .unwrap();

    auth.user_create(&who, NewUser::new("admin", Role::Sysadmin), Some(PASSWORD)).unwrap();
    let scopes = [TokenScope::EntitiesWrite, TokenScope::Admin, TokenScope::Audit];
    auth.token_create(&who, "admin", "backup", &scopes, None).unwrap().1
}

/// A write of the load: an entity created through the API.
fn put_entity(base: &str, token: &str, n: u32) -> String {
    let code = credit_code(10_000 + n);
    let body = json!({"name": format!("负载测试企业{n}"), "region": "230102", "industry": "C3911", "employees": 10});
    let url = format!("{base}/api/v1/entities/{code}");
    let auth = format!("Bearer {token}");
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    let r = request("PUT", &url, &headers, Some(body.to_string().as_bytes())).unwrap();
    assert_eq!(r.status, 201, "PUT {url}: {}", r.text());
    code
}

#[test]
fn a_backup_taken_under_write_load_restores_every_write_acknowledged_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let (data, restored, file) = (dir.path().join("data"), dir.path().join("restored"), dir.path().join("b.redb"));
    let token = prepare(&data);
    let mut server = Server::start(&data, &["--listen", "127.0.0.1:0", "--backup-every-hours", "0"]);
    let base = server.wait_for_url(Duration::from_secs(120));

    // A writer acknowledges entity after entity; each is noted with the moment its answer came.
    let acked: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop, base, token) = (Arc::clone(&acked), Arc::clone(&stop), base.clone(), token.clone());
        thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let code = put_entity(&base, &token, n);
                acked.lock().unwrap().push((code, Instant::now()));
                n += 1;
            }
        })
    };
    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while acked.lock().unwrap().len() < n {
            assert!(Instant::now() < deadline, "the writer is stuck at {} writes", acked.lock().unwrap().len());
            thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(30);

    // The backup, asked of the running server while the writes go on.
    let began = Instant::now();
    let out =
        huiqi(&data).args(["backup", "--url", &base, "--out"]).arg(&file).env("HUIQI_TOKEN", &token).output().unwrap();
    assert!(out.status.success(), "huiqi backup --url:\n{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("verified"), "{}", stdout(&out));
    let during = acked.lock().unwrap().iter().filter(|(_, t)| *t > began).count();
    let before_stop = acked.lock().unwrap().len();
    wait_for(before_stop + 10);
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    let must: Vec<&String> = acked.iter().filter(|(_, t)| *t < began).map(|(c, _)| c).collect();
    eprintln!(
        "{} writes acknowledged before the backup began, {during} while it ran, {} in all",
        must.len(),
        acked.len()
    );

    // The server lists the backup and recorded who made and fetched it.
    let auth = format!("Bearer {token}");
    let listed = request("GET", &format!("{base}/api/v1/backups"), &[("Authorization", &auth)], None).unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listed.body).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let audit =
        request("GET", &format!("{base}/api/v1/audit?action=backup."), &[("Authorization", &auth)], None).unwrap();
    let actions: Vec<String> = serde_json::from_slice::<serde_json::Value>(&audit.body).unwrap()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["backup.download", "backup.create"], "{}", audit.text());
    drop(server);

    let said = run_ok(&restored, &["restore", "--from", file.to_str().unwrap()]);
    assert!(said.contains("audit trail intact"), "{said}");
    let verified = run_ok(&restored, &["audit", "verify"]);
    assert!(verified.contains("audit trail intact"), "{verified}");

    let store = Store::open(&restored).unwrap();
    let tx = store.read().unwrap();
    let missing: Vec<&&String> = must.iter().filter(|c| tx.entity_by_code(c).unwrap().is_none()).collect();
    assert!(missing.is_empty(), "acknowledged before the backup but not restored: {missing:?}");
    let case = tx.case(1).unwrap().expect("the case made before serving");
    let files: Vec<String> = case.files.iter().map(|f| f.sha256.clone()).collect();
    assert_eq!(files, [sha256_hex(PDF_A), sha256_hex(PDF_B)]);
    for (sha, bytes) in files.iter().zip([PDF_A, PDF_B]) {
        let on_disk = std::fs::read(restored.join("files").join(&sha[..2]).join(sha)).unwrap();
        assert_eq!(on_disk, bytes, "attachment {sha}");
    }
    let last = tx.audit_tail(1).unwrap();
    assert_eq!(last[0].action, "backup.restore", "the restore is the restored trail's newest entry");
}

/// A store with a few entities and its backup, made at the command line.
fn backed_up(dir: &Path, entities: &str) -> (PathBuf, PathBuf) {
    let (data, file) = (dir.join("source"), dir.join("source.redb"));
    run_ok(&data, &["seed", "--entities", entities, "--seed", "5"]);
    let made = run_ok(&data, &["backup", "--out", file.to_str().unwrap()]);
    assert!(made.contains("verified"), "{made}");
    (data, file)
}

#[test]
fn restore_refuses_a_running_instance_and_an_existing_store_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let (_, file) = backed_up(dir.path(), "5");
    let file = file.to_str().unwrap();
    let target = dir.path().join("target");
    run_ok(&target, &["seed", "--entities", "3", "--seed", "9"]);

    let mut server = Server::start(&target, &["--listen", "127.0.0.1:0", "--backup-every-hours", "0"]);
    server.wait_for_url(Duration::from_secs(120));
    let refused = run(&target, &["restore", "--from", file, "--force"]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("正被运行中的 huiqi 使用") && stderr(&refused).contains("stop the server first"));
    let direct = run(&target, &["backup", "--out", dir.path().join("x.redb").to_str().unwrap()]);
    assert!(!direct.status.success());
    assert!(stderr(&direct).contains("--url") && stderr(&direct).contains("/admin/backups"), "{}", stderr(&direct));
    let kill = std::process::Command::new("kill").args(["-TERM", &server.pid().to_string()]).status().unwrap();
    assert!(kill.success());
    assert!(server.wait_exit(Duration::from_secs(30)).success(), "{}", server.stderr());

    let refused = run(&target, &["restore", "--from", file]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("--force"), "{}", stderr(&refused));
    assert_eq!(entity_count(&target), 3, "a refused restore changed the store");

    let said = run_ok(&target, &["restore", "--from", file, "--force"]);
    assert!(said.contains("kept as"), "{said}");
    assert_eq!(entity_count(&target), 5);
    let aside: Vec<String> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("huiqi.redb.before-restore-"))
        .collect();
    assert_eq!(aside.len(), 1, "the replaced store is kept");
    assert!(!target.join("huiqi.redb.restoring").exists());
}

#[test]
fn a_damaged_backup_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (source, file) = backed_up(dir.path(), "5");
    // A name that appears in the backup only where the records live.
    let added = huiqi(&source)
        .args(["user", "add", "zzbackupmarker", "--role", "sysadmin"])
        .env("HUIQI_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", stderr(&added));
    std::fs::remove_file(&file).unwrap();
    run_ok(&source, &["backup", "--out", file.to_str().unwrap()]);
    let original = std::fs::read(&file).unwrap();

    let cut = dir.path().join("cut.redb");
    std::fs::write(&cut, &original[..original.len() * 2 / 3]).unwrap();
    let flipped = dir.path().join("flipped.redb");
    let needle = b"zzbackupmarker";
    let mut bytes = original.clone();
    let spots: Vec<usize> =
        original.windows(needle.len()).enumerate().filter(|(_, w)| w == needle).map(|(i, _)| i).collect();
    assert!(!spots.is_empty());
    for at in spots {
        bytes[at] = b'y';
    }
    std::fs::write(&flipped, &bytes).unwrap();
    let foreign = dir.path().join("entities.csv");
    std::fs::write(&foreign, "统一社会信用代码,名称\n".repeat(300)).unwrap();

    for (what, bad) in [("cut short", &cut), ("flipped", &flipped), ("not a backup", &foreign)] {
        let target = dir.path().join(format!("target-{}", what.replace(' ', "-")));
        let out = run(&target, &["restore", "--from", bad.to_str().unwrap()]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{what}: restored:\n{}", stdout(&out));
        eprintln!("{what}: {}", err.trim());
        assert!(err.contains("无法使用") && !err.contains("panicked"), "{what}: {err}");
        assert!(!target.join("huiqi.redb").exists() && !target.join("huiqi.redb.restoring").exists(), "{what}");
    }
    let missing = run(&dir.path().join("t"), &["restore", "--from", dir.path().join("nope.redb").to_str().unwrap()]);
    assert!(stderr(&missing).contains("不存在"), "{}", stderr(&missing));
    // The intact file still restores (the checks never changed it).
    let said = run_ok(&dir.path().join("fine"), &["restore", "--from", file.to_str().unwrap()]);
    assert!(said.contains("audit trail intact"), "{said}");
    assert_eq!(std::fs::read(&file).unwrap(), original);
}

/// The test application with these backup settings.
fn app_with(backup: BackupSettings) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let svc = Service::new(Store::open(dir.path()).unwrap(), Config { backup, ..config() });
    svc.init_reference(&Who::system("test")).unwrap();
    svc.matching_init().unwrap();
    let state = huiqi::http::AppState::new(svc, Default::default()).unwrap();
    let router = huiqi::http::router(state.clone());
    TestApp { _dir: dir, state, router }
}

#[tokio::test]
async fn retention_keeps_the_newest_and_downloads_are_exact_and_audited() {
    let app = app_with(BackupSettings { dir: None, keep: 3, every_hours: 24 });
    let token = app.admin_token();
    let mut made = Vec::new();
    for _ in 0..5 {
        let r = app.json("POST", "/api/v1/backups", Some(&token), json!({})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let j = r.json();
        assert_eq!(j["verified"], true);
        made.push(j["name"].as_str().unwrap().to_string());
    }
    let listed = app.get_as("/api/v1/backups", &token).await.json();
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    let newest: Vec<&str> = made.iter().rev().take(3).map(String::as_str).collect();
    assert_eq!(names, newest);
    assert_eq!(std::fs::read_dir(app.svc().backup_dir()).unwrap().count(), 3, "nothing else is left in the directory");

    let r = app.get_as(&format!("/api/v1/backups/{}", names[0]), &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.len() as u64, listed[0]["size"].as_u64().unwrap());
    assert_eq!(std::fs::read(app.svc().backup_dir().join(names[0])).unwrap(), r.body);
    for bad in [made[0].as_str(), "..%2Fhuiqi.redb", "huiqi.redb", "%2E%2E"] {
        let r = app.get_as(&format!("/api/v1/backups/{bad}"), &token).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad}: {}", r.text());
    }
    let trail = app.svc().audit_tail(10).unwrap();
    assert_eq!(trail[0].action, "backup.download");
    assert_eq!(trail[0].target, format!("backup:{}", names[0]));
    assert!(trail[1].detail.contains("removed by retention"), "{}", trail[1].detail);

    // Scheduled: due only once the newest is old enough.
    assert!(app.svc().backup_if_due().unwrap().is_none());
    app.svc().config.clock.advance(25 * 3600);
    let scheduled = app.svc().backup_if_due().unwrap().expect("a day later a backup is due");
    assert_eq!(app.svc().backups().unwrap()[0].name, scheduled.name);
    assert_eq!(app.svc().audit_tail(1).unwrap()[0].actor, "schedule");
}

#[tokio::test]
async fn the_backup_page_is_for_system_administrators_only() {
    let app = TestApp::new();
    for role in Role::ALL {
        let dept = matches!(role, Role::Publisher | Role::Reviewer).then_some("哈尔滨市科学技术局");
        let b = app.sign_in_as(&format!("u{}", role.key()), *role, dept).await;
        let page = app.page(&b.cookie, "/admin/backups").await;
        if *role != Role::Sysadmin {
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", role.key());
            assert!(!app.page(&b.cookie, "/admin").await.text().contains("/admin/backups"));
            continue;
        }
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text().contains("立即备份"));
        assert!(app.page(&b.cookie, "/admin").await.text().contains("href=\"/admin/backups\""));
        let made = app.form(&b, "/admin/backups", &[("csrf", &b.csrf)]).await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text());
        let name = made.location().strip_prefix("/admin/backups?made=").unwrap().to_string();
        let shown = app.page(&b.cookie, &made.location()).await.text();
        assert!(shown.contains("校验通过") && shown.contains(&format!("/api/v1/backups/{name}")), "{shown}");
        let download = app.page(&b.cookie, &format!("/api/v1/backups/{name}")).await;
        assert_eq!(download.status, StatusCode::OK);
        let forged = app.form(&b, "/admin/backups", &[]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "no CSRF field, no backup");
    }
}
