//! Pushes through the real outbox: a measure published and an entity made eligible push to
//! the inbox once per measure version; e-mail goes to a real SMTP server on port 0 that fails
//! twice before accepting (retries with backoff, then success), SMS to a real HTTP gateway;
//! nothing is sent twice, also after the store is closed and opened again.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use huiqi::jobs::outbox::{Channels, DEFAULT_SMS_TEMPLATE, SmsGateway, Smtp, run_once};
use huiqi::model::push::{DeliveryStatus, Subscription};
use huiqi::model::{CaseId, CreditCode, MeasureId, MeasureSpec, PolicyInput, Who};
use huiqi::service::push::PushSettings;
use huiqi::service::{Config, Service};
use huiqi::store::Store;

use crate::common::{TODAY, credit_code, fake_gateway};

/// A minimal SMTP server: refuses the first `fail` transactions with 451, then accepts and
/// keeps every message.
struct FakeSmtp {
    port: u16,
    received: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
}

fn fake_smtp(fail: usize) -> FakeSmtp {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let (r, c) = (Arc::clone(&received), Arc::clone(&connections));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut out) = stream else { continue };
            let n = c.fetch_add(1, Ordering::SeqCst);
            let mut lines = BufReader::new(out.try_clone().unwrap());
            let _ = out.write_all(b"220 fake.smtp ESMTP\r\n");
            let mut line = String::new();
            let mut data = None::<String>;
            loop {
                line.clear();
                if lines.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(body) = data.as_mut() {
                    if line == ".\r\n" {
                        r.lock().unwrap().push(std::mem::take(body));
                        data = None;
                        let _ = out.write_all(b"250 2.0.0 queued\r\n");
                    } else {
                        body.push_str(&line);
                    }
                    continue;
                }
                let upper = line.to_ascii_uppercase();
                let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                    b"250-fake.smtp\r\n250 8BITMIME\r\n"
                } else if upper.starts_with("MAIL FROM") && n < fail {
                    b"451 4.3.0 try again later\r\n"
                } else if upper.starts_with("MAIL FROM") || upper.starts_with("RCPT TO") || upper.starts_with("RSET") {
                    b"250 OK\r\n"
                } else if upper.starts_with("DATA") {
                    data = Some(String::new());
                    b"354 go ahead\r\n"
                } else if upper.starts_with("QUIT") {
                    let _ = out.write_all(b"221 bye\r\n");
                    break;
                } else {
                    b"250 OK\r\n"
                };
                let _ = out.write_all(reply);
            }
        }
    });
    FakeSmtp { port, received, connections }
}

fn open(dir: &std::path::Path) -> Service {
    let config = Config {
        today: Some(huiqi::model::Date::parse(TODAY).unwrap()),
        fast_password_hashing: true,
        push: PushSettings { email: true, sms: true, log: false, ..PushSettings::default() },
        ..Config::default()
    };
    let svc = Service::new(Store::open(dir).unwrap(), config);
    svc.init_reference(&Who::system("test")).unwrap();
    svc.matching_init().unwrap();
    svc
}

fn entity(svc: &Service, n: u32, employees: &str) {
    let pairs: Vec<(String, String)> = [
        ("credit_code", credit_code(n)),
        ("name", format!("推送测试企业{n}")),
        ("region", "230102".into()),
        ("employees", employees.into()),
        ("contact_email", format!("boss{n}@example.cn")),
        ("contact_phone", format!("1380000{n:04}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let patch = svc.entity_patch_from_texts(&pairs, false).unwrap();
    svc.entity_upsert(&Who::system("test"), &patch).unwrap();
}

/// A county policy (document `doc`) with one measure, published by the program; its id.
fn publish(svc: &Service, doc: &str, measure: serde_json::Value) -> u64 {
    let system = Who::system("test");
    let policy: PolicyInput = serde_json::from_value(serde_json::json!({
        "title": "稳岗政策", "doc_number": doc, "level": "county", "department": "人社局",
        "issue_date": "2026-01-01", "valid_from": "2026-01-01", "valid_until": "2027-12-31",
        "text": "", "interpretation": "", "tags": []
    }))
    .unwrap();
    let policy = svc.policy_create(&system, policy).unwrap();
    let spec: MeasureSpec = serde_json::from_value(measure).unwrap();
    let id = svc.measure_create(&system, policy.id, spec).unwrap().measure_id;
    svc.measure_publish(&system, MeasureId(id)).unwrap();
    id
}

#[test]
fn pushes_survive_a_failing_smtp_server_and_are_never_sent_twice() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = fake_smtp(2);
    let (gateway_port, sms) = fake_gateway();
    let channels = || Channels {
        smtp: Some(Smtp::new(&format!("smtp://127.0.0.1:{}", smtp.port), "惠企平台 <noreply@huiqi.local>").unwrap()),
        sms: Some(
            SmsGateway::new(&format!("http://127.0.0.1:{gateway_port}/send"), DEFAULT_SMS_TEMPLATE, None).unwrap(),
        ),
        log: None,
    };
    let system = Who::system("test");
    let measure_id;
    {
        let svc = open(dir.path());
        entity(&svc, 1, "50");
        entity(&svc, 2, "5");
        // Entity 2 mutes everything but its inbox.
        let muted = Subscription { muted: true, ..Subscription::default() };
        svc.subscription_set(&system, &CreditCode::parse(&credit_code(2)).unwrap(), muted).unwrap();
        let spec = serde_json::json!({
            "name": "稳岗补贴", "department": "人社局", "mode": "apply",
            "conditions": [{"label": "从业人数不少于10人", "expr": "employees >= 10"}],
            "window_start": "2026-01-01", "window_end": "2026-12-31",
            "review_stages": [{"name": "受理", "days": 3}]
        });
        measure_id = publish(&svc, "1号", spec);

        // First pass: entity 1 is pushed (inbox, e-mail, SMS); the SMTP server refuses.
        let pass = run_once(&svc, &channels()).unwrap();
        assert_eq!(pass.pushed, 1);
        assert_eq!((pass.sent, pass.failed), (1, 1), "SMS sent, e-mail refused");
        let huiqi::service::inbox::Inbox { messages: inbox, unread, .. } =
            svc.inbox(&Who::system("test"), &CreditCode::parse(&credit_code(1)).unwrap(), 10).unwrap();
        assert_eq!((inbox.len(), unread), (1, 1));
        assert!(inbox[0].title.contains("稳岗补贴"));
        assert!(
            svc.inbox(&Who::system("test"), &CreditCode::parse(&credit_code(2)).unwrap(), 10)
                .unwrap()
                .messages
                .is_empty(),
            "entity 2 does not fit"
        );
        let sms_body: serde_json::Value = serde_json::from_str(&sms.lock().unwrap()[0]).unwrap();
        assert_eq!(sms_body["phone"], "13800000001");
        assert!(sms_body["content"].as_str().unwrap().contains("稳岗补贴"));

        // Nothing is due until the backoff has passed.
        assert_eq!(run_once(&svc, &channels()).unwrap().failed, 0);
        svc.config.clock.advance(31);
        assert_eq!(run_once(&svc, &channels()).unwrap().failed, 1, "second refusal");
        svc.config.clock.advance(61);
        let pass = run_once(&svc, &channels()).unwrap();
        assert_eq!((pass.sent, pass.failed), (1, 0), "third attempt accepted");
        assert_eq!(smtp.received.lock().unwrap().len(), 1);
        let mail = smtp.received.lock().unwrap()[0].clone();
        assert!(mail.contains("Message-ID: <huiqi-delivery-"), "{mail}");
        let deliveries =
            svc.deliveries_of(&Who::system("test"), &CreditCode::parse(&credit_code(1)).unwrap(), 10).unwrap();
        assert!(deliveries.iter().all(|d| d.status == DeliveryStatus::Sent), "{deliveries:?}");
        assert_eq!(deliveries.iter().map(|d| d.attempts).max(), Some(3));

        // Entity 2 grows and becomes eligible: its inbox gets the push, nothing goes out (muted).
        entity(&svc, 2, "30");
        let pass = run_once(&svc, &channels()).unwrap();
        assert_eq!((pass.pushed, pass.sent), (1, 0));
        assert_eq!(
            svc.inbox(&Who::system("test"), &CreditCode::parse(&credit_code(2)).unwrap(), 10).unwrap().messages.len(),
            1
        );
        // Entity 1 drops out and comes back: the same version is not pushed again.
        entity(&svc, 1, "5");
        entity(&svc, 1, "50");
        assert_eq!(run_once(&svc, &channels()).unwrap().pushed, 0);
        assert_eq!(
            svc.inbox(&Who::system("test"), &CreditCode::parse(&credit_code(1)).unwrap(), 10).unwrap().messages.len(),
            1
        );
    }
    // Closed and opened again (a restart): nothing is pushed or sent again.
    let svc = open(dir.path());
    svc.rematch_all("startup").unwrap();
    let pass = run_once(&svc, &channels()).unwrap();
    assert_eq!((pass.pushed, pass.sent, pass.failed), (0, 0, 0));
    assert_eq!(smtp.received.lock().unwrap().len(), 1);
    assert_eq!(sms.lock().unwrap().len(), 1);
    assert_eq!(smtp.connections.load(Ordering::SeqCst), 3);
    assert_eq!(
        svc.inbox(&Who::system("test"), &CreditCode::parse(&credit_code(1)).unwrap(), 10).unwrap().messages.len(),
        1
    );
    let trail = svc.audit_tail(200).unwrap();
    assert!(trail.iter().any(|a| a.action == "push.measure" && a.target == format!("measure:{measure_id}")));
    assert_eq!(trail.iter().filter(|a| a.action == "push.delivery").count(), 4, "every attempt is audited");
}

#[test]
fn reminders_before_the_window_closes_and_expiry_warnings_come_once() {
    let dir = tempfile::tempdir().unwrap();
    let svc = open(dir.path());
    entity(&svc, 1, "50");
    entity(&svc, 2, "60");
    let spec = serde_json::json!({
        "name": "稳岗补贴", "department": "人社局", "mode": "apply",
        "conditions": [{"label": "从业人数不少于10人", "expr": "employees >= 10"}],
        "window_start": "2026-01-01", "window_end": "2026-12-31",
        "review_stages": [{"name": "受理", "days": 3}]
    });
    let measure = publish(&svc, "2号", spec);
    // Entity 2 applies; entity 1 does not.
    let applicant = Who {
        name: "经办人".into(),
        role: Some(huiqi::model::Role::Enterprise),
        entities: vec![CreditCode::parse(&credit_code(2)).unwrap()],
        ..Who::default()
    };
    let case = svc.case_open(&applicant, &CreditCode::parse(&credit_code(2)).unwrap(), MeasureId(measure)).unwrap();
    svc.case_submit(&applicant, CaseId(case.case.id), None).unwrap();

    let reminders = |svc: &Service, n: u32| {
        let huiqi::service::inbox::Inbox { messages: inbox, unread: _, .. } =
            svc.inbox(&Who::system("test"), &CreditCode::parse(&credit_code(n)).unwrap(), 50).unwrap();
        inbox.iter().filter(|m| m.title.starts_with("申报提醒")).count()
    };
    // 2026-11-27: 34 days left, nothing yet; 2026-12-01: the 30-day warning to the department.
    assert_eq!(svc.sweep().unwrap().reminded, 0);
    svc.config.clock.advance(4 * 86_400);
    let report = svc.sweep().unwrap();
    assert_eq!(report.expiry_warnings, 1);
    assert_eq!(svc.sweep().unwrap().expiry_warnings, 0, "once");
    // 2026-12-24: seven days left: the 7-day warning, and a reminder to the entity that has not applied.
    svc.config.clock.advance(23 * 86_400);
    let report = svc.sweep().unwrap();
    assert_eq!((report.expiry_warnings, report.reminded), (1, 1));
    assert_eq!((reminders(&svc, 1), reminders(&svc, 2)), (1, 0));
    assert_eq!(svc.sweep().unwrap().reminded, 0, "once per measure version");
    let hr = Who { department: Some("人社局".into()), role: Some(huiqi::model::Role::Reviewer), ..Who::default() };
    let (notices, _) = svc.notices(&hr, 10).unwrap();
    let titles: Vec<&str> = notices.iter().map(|n| n.title.as_str()).collect();
    assert!(titles.iter().filter(|t| t.contains("2026-12-31 申报截止")).count() == 2, "{titles:?}");
}

#[test]
fn a_withdrawn_measure_is_not_sent_any_more() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = fake_smtp(0);
    let svc = open(dir.path());
    let system = Who::system("test");
    entity(&svc, 1, "50");
    let spec = serde_json::json!({
        "name": "稳岗补贴", "department": "人社局", "mode": "notice",
        "conditions": [{"label": "从业人数不少于10人", "expr": "employees >= 10"}]
    });
    let measure = publish(&svc, "3号", spec);
    // Pushed to the inbox and queued for e-mail and SMS; then withdrawn before the outbox runs.
    assert_eq!(svc.push_pending().unwrap().messages, 1);
    svc.measure_withdraw(&system, MeasureId(measure), "文件废止").unwrap();
    let channels = Channels {
        smtp: Some(Smtp::new(&format!("smtp://127.0.0.1:{}", smtp.port), "x@huiqi.local").unwrap()),
        sms: None,
        log: None,
    };
    let pass = run_once(&svc, &channels).unwrap();
    assert_eq!((pass.sent, pass.failed), (0, 0));
    assert_eq!(smtp.connections.load(Ordering::SeqCst), 0, "nothing reached the mail server");
    let deliveries = svc.deliveries_of(&Who::system("test"), &CreditCode::parse(&credit_code(1)).unwrap(), 10).unwrap();
    assert!(deliveries.iter().all(|d| d.status == DeliveryStatus::Cancelled), "{deliveries:?}");
}

#[test]
fn a_stopping_server_leaves_pushing_to_the_next_start_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    {
        let svc = open(dir.path());
        for n in 1..=3 {
            entity(&svc, n, "50");
        }
        let spec = serde_json::json!({
            "name": "稳岗补贴", "department": "人社局", "mode": "notice",
            "conditions": [{"label": "从业人数不少于10人", "expr": "employees >= 10"}]
        });
        publish(&svc, "4号", spec);
        // Asked to stop before the outbox runs: no inbox is written, the match event waits.
        svc.stop();
        assert!(svc.stopping());
        assert_eq!(svc.push_pending().unwrap().messages, 0);
        let pass = run_once(&svc, &Channels { smtp: None, sms: None, log: None }).unwrap();
        assert_eq!((pass.pushed, pass.sent, pass.failed), (0, 0, 0));
    }
    // The next start pushes all three, once.
    let svc = open(dir.path());
    assert!(!svc.stopping());
    assert_eq!(svc.push_pending().unwrap().messages, 3);
    assert_eq!(svc.push_pending().unwrap().messages, 0);
}
