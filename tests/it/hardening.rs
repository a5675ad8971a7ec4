//! Issue 9's defects, each pinned: input that once stopped the server, was accepted or left
//! traces is refused clearly, in the documented format, and leaves nothing behind.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::common::{Reply, TestApp};

/// A refusal in the README's shape, with a Chinese message; returns the message.
pub fn documented_error(r: &Reply) -> String {
    let v: Value = r.json();
    let message = v["error"].as_str().unwrap_or_else(|| panic!("no \"error\" in {}", r.text())).to_string();
    assert_eq!(v["status"].as_u64(), Some(u64::from(r.status.as_u16())), "{}", r.text());
    assert!(v["fields"].is_array(), "{}", r.text());
    assert!(message.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "not Chinese: {message}");
    message
}

fn measure(expr: &str) -> Value {
    json!({
        "name": "研发补助",
        "department": "测试局",
        "mode": "apply",
        "amount": "min(rd_expense * 0.1, 30)",
        "conditions": [{"label": "研发", "expr": expr}]
    })
}

/// The expressions that used to overflow the stack and abort the process.
fn poisons() -> Vec<String> {
    vec![
        format!("rd_ratio{}>0", "+1".repeat(1750)),
        format!("rd_ratio{}>0", "*1".repeat(2000)),
        format!("rd_ratio{}", "<1".repeat(1990)),
        format!("{}rd_ratio{}>0", "(".repeat(1990), ")".repeat(1990)),
        format!("rd_ratio{} > 0", "+1".repeat(200)),
    ]
}

#[tokio::test]
async fn expressions_too_long_or_deep_are_refused_everywhere_with_422() {
    let app = TestApp::with_demo(50);
    let publisher = app.publisher_token("clerk", "测试局");
    for poison in poisons() {
        for (uri, token) in [("/api/v1/simulate", &publisher), ("/api/v1/rules/check", &publisher)] {
            let r = app.json("POST", uri, Some(token), measure(&poison)).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}: {}", r.text());
            let message = documented_error(&r);
            assert!(message.contains("过长") || message.contains("过深"), "{uri}: {message}");
        }
        let mut amount = measure("rd_ratio >= 3");
        amount["amount"] = json!(poison.trim_end_matches(">0").trim_end_matches("> 0"));
        let r = app.json("POST", "/api/v1/rules/check", Some(&publisher), amount).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "amount: {}", r.text());
    }
    // Saving a draft with one is refused too, and writes nothing.
    let policy = json!({
        "title": "测试政策", "doc_number": "测试〔2026〕9号", "level": "county", "department": "测试局",
        "issue_date": "2026-01-01", "text": "", "interpretation": "", "tags": []
    });
    let r = app.json("POST", "/api/v1/policies", Some(&publisher), policy).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_u64().unwrap();
    let before = app.svc().stats().unwrap().measures;
    let r =
        app.json("POST", &format!("/api/v1/policies/{id}/measures"), Some(&publisher), measure(&poisons()[0])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(documented_error(&r).contains("过长"));
    assert_eq!(app.svc().stats().unwrap().measures, before);
    // The server still answers.
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
}

/// Sends a raw request and reads the reply.
async fn raw(app: &TestApp, method: &str, uri: &str, token: Option<&str>, body: Vec<u8>) -> Reply {
    use axum::body::Body;
    use axum::http::{Request, header};
    let mut req = Request::builder().method(method).uri(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    app.send(req.body(Body::from(body)).unwrap()).await
}

#[tokio::test]
async fn every_api_refusal_is_json_with_a_chinese_message() {
    let app = TestApp::new();
    let admin = app.admin_token();
    let supervisor = app.token("ducha", huiqi::model::Role::Supervisor, Some("督查局"));
    type Case<'a> = (&'a str, String, Option<&'a str>, Vec<u8>, u16);
    let cases: Vec<Case> = vec![
        ("GET", "/api/v1/match-events?limit=-1".into(), Some(&admin), vec![], 400),
        ("GET", "/api/v1/match-events?after=abc".into(), Some(&admin), vec![], 400),
        ("GET", "/api/v1/cases/abc".into(), Some(&supervisor), vec![], 400),
        ("GET", "/api/v1/cases/99999999999999999999999".into(), Some(&supervisor), vec![], 400),
        ("GET", "/api/v1/imports/-1".into(), Some(&admin), vec![], 400),
        ("PUT", "/api/v1/entities/91230100MA0000001X".into(), Some(&admin), vec![b' '; 3 * 1024 * 1024], 413),
        ("PUT", "/api/v1/catalog".into(), None, vec![], 405),
        ("DELETE", "/api/v1/policies".into(), Some(&admin), vec![], 405),
        ("PATCH", "/api/v1/entities".into(), Some(&admin), vec![], 405),
        ("GET", format!("/api/v1/policies?q={}", "x".repeat(10_000)), None, vec![], 414),
        ("GET", "/api/v1/nothing-here".into(), None, vec![], 404),
        ("POST", "/api/v1/calculator".into(), None, b"{not json".to_vec(), 422),
    ];
    for (method, uri, token, body, want) in cases {
        let r = raw(&app, method, &uri, token, body).await;
        let shown: String = uri.chars().take(60).collect();
        assert_eq!(r.status.as_u16(), want, "{method} {shown}: {}", r.text());
        let message = documented_error(&r);
        assert!(message.chars().count() < 1200, "{method} {shown}: message not bounded");
        if want == 405 {
            let allow = r.headers.get("allow").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            assert!(!allow.is_empty() && !allow.contains(method), "{method} {shown}: Allow {allow:?}");
        }
    }
    // Every API route answers an unsupported method with 405 and Allow, in the same shape.
    for spec in huiqi::http::route_specs().iter().filter(|s| s.is_api()) {
        let path = spec.path.replace("{id}", "1").replace("{code}", "91230100MA0000001X").replace(['{', '}'], "");
        let r = raw(&app, "PATCH", &path, Some(&admin), vec![]).await;
        assert_eq!(r.status.as_u16(), 405, "PATCH {path}: {}", r.text());
        documented_error(&r);
    }
}

#[tokio::test]
async fn page_refusals_are_pages() {
    let app = TestApp::with_demo(5);
    for (method, uri, want) in [
        ("GET", "/policies/abc".to_string(), 400),
        ("GET", "/measures/abc".to_string(), 400),
        ("PUT", "/policies".to_string(), 405),
        ("GET", format!("/policies?q={}", "长".repeat(5000)), 414),
        ("GET", "/no-such-page".to_string(), 404),
    ] {
        let r = raw(&app, method, &uri, None, vec![]).await;
        let shown: String = uri.chars().take(40).collect();
        assert_eq!(r.status.as_u16(), want, "{method} {shown}: {}", r.text());
        let ct = r.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(ct.starts_with("text/html"), "{method} {shown}: {ct}");
        assert!(r.text().contains("<html"), "{method} {shown}");
    }
}
