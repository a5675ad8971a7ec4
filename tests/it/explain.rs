//! Rules as people read them (issue 10, defects 6, 8, 7): amount formulas in plain Chinese on
//! public pages and in the API, near misses only for conditions an entity can change,
//! explanations as sentences, and a calculator that takes every fact the rules read.

use axum::http::StatusCode;
use huiqi::model::Role;
use huiqi::service::policies::Audience;

use crate::common::TestApp;

/// The id of the published demo measure whose amount formula is `src`.
fn measure_with_amount(app: &TestApp, src: &str) -> u64 {
    app.svc()
        .policy_search(&Default::default(), Audience::Public)
        .unwrap()
        .iter()
        .flat_map(|p| p.measures.iter())
        .find(|m| m.spec.amount.as_deref() == Some(src))
        .unwrap_or_else(|| panic!("a demo measure with amount {src}"))
        .id
}

#[tokio::test]
async fn public_measure_pages_read_the_amount_in_words() {
    let app = TestApp::with_demo(5);
    let id = measure_with_amount(&app, "min(rd_expense * 0.05, 50)");

    let page = app.get(&format!("/measures/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("研发费用的5%，最高50万元"), "{html}");
    assert!(!html.contains("rd_expense"), "no code on the public page");

    let api = app.get(&format!("/api/v1/measures/{id}")).await.json();
    assert_eq!(api["measure"]["amount_text"], "研发费用的5%，最高50万元");
    assert_eq!(api["measure"]["amount"], "min(rd_expense * 0.05, 50)", "the raw formula stays beside it");
    let list = app.get("/api/v1/policies").await.text();
    assert!(list.contains("研发费用的5%，最高50万元"));

    // Conditional amounts too.
    let id = measure_with_amount(&app, "size_class == \"large\" ? ui_premium_paid * 0.3 : ui_premium_paid * 0.6");
    let html = app.get(&format!("/measures/{id}")).await.text();
    assert!(html.contains("企业规模为大型的，失业保险缴费的30%；其他失业保险缴费的60%"), "{html}");
    assert!(!html.contains("ui_premium_paid"));

    // Staff keep the formula as written, as a second line.
    let b = app.sign_in_as("clerk", Role::Publisher, Some("科技局")).await;
    let html = app.page(&b.cookie, &format!("/measures/{id}")).await.text();
    assert!(html.contains("失业保险缴费的30%") && html.contains("ui_premium_paid * 0.3"), "{html}");
}
