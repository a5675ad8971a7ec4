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
