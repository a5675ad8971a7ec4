//! 忘记密码 and consent at registration: a code goes by SMS to a real HTTP gateway on port 0,
//! the answer is the same whether the account exists or not, the code is single-use, expires,
//! survives at most five wrong tries, and sends are limited per account and per address; the
//! new password ends every session. Registration needs the user agreement and privacy notice
//! accepted, which the administrator edits in versions; the account keeps the version accepted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use huiqi::jobs::outbox::{DEFAULT_SMS_TEMPLATE, SmsGateway};
use huiqi::model::{Role, Who};
use serde_json::{Value, json};

use crate::common::{PASSWORD, Reply, TestApp, extract_csrf, fake_gateway};
use huiqi::store::prelude::*;

const NEW_PASSWORD: &str = "Lantern-Maple-37";

/// An app whose SMS gateway is a real HTTP server on port 0.
fn app_with_gateway(settings: huiqi::http::Settings) -> (TestApp, Arc<Mutex<Vec<String>>>) {
    let (port, bodies) = fake_gateway();
    let mut app = TestApp::with_settings(settings);
    let gateway = SmsGateway::new(&format!("http://127.0.0.1:{port}/send"), DEFAULT_SMS_TEMPLATE, None).unwrap();
    app.state.sms = Some(Arc::new(gateway));
    app.router = huiqi::http::router(app.state.clone());
    (app, bodies)
}

/// An enterprise account with a phone.
fn enterprise(app: &TestApp, username: &str, phone: &str) {
    let who = Who::system("test");
    let mut new = huiqi::auth::NewUser::new(username, Role::Enterprise).named("王经理");
    new.phone = Some(phone.to_string());
    app.auth().user_create(&who, new, Some(PASSWORD)).unwrap();
}

/// Waits for the gateway to have received `n` messages.
async fn received(bodies: &Arc<Mutex<Vec<String>>>, n: usize) -> Vec<Value> {
    // Up to 20 s: a loaded CI machine sends slowly.
    for _ in 0..800 {
        if bodies.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bodies.lock().unwrap().iter().map(|b| serde_json::from_str(b).unwrap()).collect()
}

/// The six-digit code in an SMS.
fn code_in(sms: &Value) -> String {
    let text = sms["content"].as_str().unwrap();
    let at = text.find("验证码 ").unwrap() + "验证码 ".len();
    text[at..at + 6].to_string()
}

/// Posts a form as an anonymous browser (first fetching `page` for the CSRF cookie and field).
async fn anonymous_form(app: &TestApp, page: &str, uri: &str, pairs: &[(&str, &str)]) -> Reply {
    let form_page = app.get(page).await;
    let anon = form_page.cookie("huiqi_csrf").unwrap();
    let token = extract_csrf(&form_page.text()).unwrap();
    let mut body = form_urlencoded::Serializer::new(String::new());
    body.append_pair("csrf", &token);
    for (k, v) in pairs {
        body.append_pair(k, v);
    }
    let req = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, anon)
        .body(Body::from(body.finish()))
        .unwrap();
    app.send(req).await
}

#[tokio::test]
async fn a_forgotten_password_is_reset_with_an_sms_code() {
    let (app, sms) = app_with_gateway(huiqi::http::Settings::default());
    enterprise(&app, "wangjl", "138 0013 8000");
    let old_session = app.sign_in_existing("wangjl", PASSWORD).await;

    // The sign-in page links to 忘记密码.
    let login = app.get("/login").await.text();
    assert!(login.contains("href=\"/password/forgot\""), "{login}");

    // The same answer for a known account and an unknown one; only the known one gets an SMS.
    let known = anonymous_form(&app, "/password/forgot", "/password/forgot", &[("identifier", "wangjl")]).await;
    let unknown = anonymous_form(&app, "/password/forgot", "/password/forgot", &[("identifier", "nobody")]).await;
    assert_eq!(known.status, StatusCode::OK, "{}", known.text());
    assert_eq!(unknown.status, known.status);
    let notice = |r: &Reply| {
        let t = r.text();
        let at = t.find("id=\"code-requested\"").unwrap();
        t[at..at + 300].to_string()
    };
    assert_eq!(notice(&known), notice(&unknown), "the answer does not tell whether the account exists");
    let messages = received(&sms, 1).await;
    assert_eq!(messages.len(), 1, "one SMS, for the account that exists: {messages:?}");
    assert_eq!(messages[0]["phone"], "138 0013 8000");
    let code = code_in(&messages[0]);
    assert!(code.chars().all(|c| c.is_ascii_digit()));

    // The code is not stored in clear anywhere the store keeps.
    let user = app.auth().user_by_name("wangjl").unwrap();
    let record = app.svc().store.read().unwrap().recovery(user.id).unwrap().unwrap();
    assert!(!record.code_hash.is_empty() && record.code_hash != code.as_bytes());
    let trail: Vec<_> = app.svc().audit_tail(20).unwrap();
    assert!(trail.iter().all(|a| !a.detail.contains(&code)), "no code in the audit trail");
    assert!(trail.iter().any(|a| a.action == "auth.recovery_code" && a.target == "user:nobody"));

    // A second code within the minute is not sent (and the answer is still the same).
    let again = anonymous_form(&app, "/password/forgot", "/password/forgot", &[("identifier", "wangjl")]).await;
    assert_eq!(notice(&again), notice(&known));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sms.lock().unwrap().len(), 1, "one code a minute per account");

    // A weak password keeps the code; a mismatch is refused in words.
    let form = |code: &str, new: &str| {
        vec![
            ("identifier", "wangjl".to_string()),
            ("code", code.to_string()),
            ("new", new.to_string()),
            ("new2", new.to_string()),
        ]
    };
    let pairs = |v: &[(&'static str, String)]| v.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let post = async |v: Vec<(&'static str, String)>| {
        let p = pairs(&v);
        let refs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
        anonymous_form(&app, "/password/reset", "/password/reset", &refs).await
    };
    let weak = post(form(&code, "password")).await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.text().contains("密码至少"), "{}", weak.text());
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let bad = post(form(wrong, NEW_PASSWORD)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains("验证码不正确或已失效"));

    // The right code sets the password, ends every session, and is audited.
    let ok = post(form(&code, NEW_PASSWORD)).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
    assert_eq!(ok.location(), "/login?recovered=1");
    assert!(app.get("/login?recovered=1").await.text().contains("密码已重新设置"));
    let old = app.page(&old_session.cookie, "/account").await;
    assert_eq!(old.status, StatusCode::SEE_OTHER, "the old session ended");
    assert_ne!(
        app.try_sign_in("wangjl", PASSWORD).await.status,
        StatusCode::SEE_OTHER,
        "the old password no longer works"
    );
    app.sign_in_existing("wangjl", NEW_PASSWORD).await;
    assert!(app.svc().audit_tail(10).unwrap().iter().any(|a| a.action == "auth.password_recovered"));

    // Single use.
    let reused = post(form(&code, "Another-Maple-38")).await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn codes_expire_allow_five_tries_and_are_limited_per_day() {
    let (app, sms) = app_with_gateway(huiqi::http::Settings { attempts_burst: 1000, ..Default::default() });
    enterprise(&app, "lisi", "13900001111");
    let clock = app.svc().config.clock.clone();
    let forgot = |who: &str| app.json("POST", "/api/v1/password/forgot", None, json!({ "username": who }));
    let reset = |code: String, password: &str| {
        app.json(
            "POST",
            "/api/v1/password/reset",
            None,
            json!({ "username": "lisi", "code": code, "password": password }),
        )
    };

    // By phone, over the API: 202 either way.
    let r = forgot("13900001111").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    assert_eq!(forgot("13900009999").await.text(), r.text(), "an unknown phone gets the same answer");
    let first = code_in(&received(&sms, 1).await[0]);

    // Ten minutes later the code no longer works.
    clock.advance(11 * 60);
    let late = reset(first.clone(), NEW_PASSWORD).await;
    assert_eq!(late.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", late.text());

    // Five wrong tries void a code, even the right one after them.
    assert_eq!(forgot("lisi").await.status, StatusCode::ACCEPTED);
    let second = code_in(&received(&sms, 2).await[1]);
    let wrong = if second == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_eq!(reset(wrong.to_string(), NEW_PASSWORD).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let after = reset(second, NEW_PASSWORD).await;
    assert_eq!(after.status, StatusCode::UNPROCESSABLE_ENTITY, "the code is void after five wrong tries");

    // Five codes a day per account: the sixth is not sent. Each code is awaited before the next
    // is asked for: the gateway's messages may otherwise arrive out of order, and the test
    // reads the latest code as the last one received.
    for i in 0..4 {
        clock.advance(61);
        assert_eq!(forgot("lisi").await.status, StatusCode::ACCEPTED);
        if i < 3 {
            received(&sms, 3 + i).await;
        }
    }
    received(&sms, 5).await;
    clock.advance(61);
    assert_eq!(forgot("lisi").await.status, StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sms.lock().unwrap().len(), 5, "five codes a day");
    // The latest code still works.
    let last = code_in(&received(&sms, 5).await[4]);
    let done = reset(last, NEW_PASSWORD).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
}

#[tokio::test]
async fn staff_accounts_and_sites_without_sms_go_to_the_office() {
    let (app, sms) = app_with_gateway(huiqi::http::Settings { codes_burst: 3, ..Default::default() });
    let who = Who::system("test");
    let mut staff = huiqi::auth::NewUser::new("shenhe", Role::Sysadmin).named("审核");
    staff.phone = Some("13700000000".into());
    app.auth().user_create(&who, staff, Some(PASSWORD)).unwrap();
    assert_eq!(
        app.json("POST", "/api/v1/password/forgot", None, json!({"username": "shenhe"})).await.status,
        StatusCode::ACCEPTED
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sms.lock().unwrap().is_empty(), "no SMS for a staff account: an administrator resets it");
    // Per address: the limiter refuses in words after its burst.
    for _ in 0..2 {
        app.json("POST", "/api/v1/password/forgot", None, json!({"username": "x"})).await;
    }
    let limited = app.json("POST", "/api/v1/password/forgot", None, json!({"username": "x"})).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.json()["error"].as_str().unwrap().contains("分钟后再试"));

    // Without a gateway the page sends people to the office, and the API says so.
    let plain = TestApp::new();
    let page = plain.get("/password/forgot").await.text();
    assert!(page.contains("id=\"forgot-office\"") && page.contains("办事大厅"), "{page}");
    assert!(!page.contains("name=\"identifier\""), "no form without a gateway");
    let api = plain.json("POST", "/api/v1/password/forgot", None, json!({"username": "x"})).await;
    assert_eq!(api.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn registration_records_the_accepted_agreement_versions() {
    let app = TestApp::with_demo(5);
    let entity = &app.svc().entity_list(&Who::system("test"), &Default::default()).unwrap().entities[0];
    let (code, name) = (entity.credit_code.to_string(), entity.name.clone().unwrap());

    // Public texts; the defaults say the office must adapt them.
    for path in ["/terms", "/privacy"] {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.text().contains("请本单位修改后使用"), "{path}");
    }
    let form = app.get("/register").await.text();
    assert!(form.contains("href=\"/terms\"") && form.contains("href=\"/privacy\"") && form.contains("name=\"agree\""));

    let register = async |username: &str, agree: bool, terms: &str| {
        let mut pairs = vec![
            ("username", username.to_string()),
            ("display_name", "张经理".into()),
            ("phone", "13812345678".into()),
            ("password", PASSWORD.into()),
            ("password2", PASSWORD.into()),
            ("credit_code", code.clone()),
            ("entity_name", name.clone()),
            ("capacity", "legal_rep".into()),
            ("terms_version", terms.into()),
            ("privacy_version", "1".into()),
        ];
        if agree {
            pairs.push(("agree", "yes".into()));
        }
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        anonymous_form(&app, "/register", "/register", &refs).await
    };
    let refused = register("zhangjl", false, "1").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().contains("勾选同意"), "{}", refused.text());
    assert!(app.auth().user_by_name("zhangjl").is_err());
    let ok = register("zhangjl", true, "1").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
    let user = app.auth().user_by_name("zhangjl").unwrap();
    let consent = user.consent.clone().unwrap();
    assert_eq!((consent.terms_version, consent.privacy_version), (1, 1));

    // The administrator saves a new version; the registered user is not blocked, and their
    // record shows the version accepted.
    let admin = app.sign_in_as("admin", Role::Sysadmin, None).await;
    let page = app.page(&admin.cookie, "/admin/agreements").await;
    assert_eq!(page.status, StatusCode::OK);
    let saved = app
        .form(&admin, "/admin/agreements/terms", &[("csrf", &admin.csrf), ("text", "某县惠企平台用户协议（第二版）")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let empty = app.form(&admin, "/admin/agreements/privacy", &[("csrf", &admin.csrf), ("text", "  ")]).await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.get("/terms").await.text().contains("第二版"));
    assert!(app.get("/terms?version=1").await.text().contains("请本单位修改后使用"), "old versions stay readable");
    assert!(app.svc().audit_tail(5).unwrap().iter().any(|a| a.action == "agreement.update"));
    app.sign_in_existing("zhangjl", PASSWORD).await;
    let shown = app.page(&admin.cookie, &format!("/admin/users/{}", user.id)).await.text();
    assert!(shown.contains("href=\"/terms?version=1\""), "the admin sees the version accepted");

    // A form showing the old version is refused; the API names the versions in force.
    let stale = register("liujl", true, "1").await;
    assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(stale.text().contains("已更新"), "{}", stale.text());
    let versions = app.get("/api/v1/agreements").await.json();
    assert_eq!(versions["terms"]["version"], 2);
    let fresh = register("liujl", true, "2").await;
    assert_eq!(fresh.status, StatusCode::SEE_OTHER, "{}", fresh.text());
    assert_eq!(app.auth().user_by_name("liujl").unwrap().consent.unwrap().terms_version, 2);
}
