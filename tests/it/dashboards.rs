//! The staff console's figures and `GET /api/v1/stats/cases`: cases and amounts per measure
//! and department, as far as the caller sees cases; and the version pages: dates, and every
//! changed field side by side.

use axum::http::StatusCode;
use huiqi::model::{Capacity, CreditCode, Role, Who};
use serde_json::{Value, json};

use crate::common::{TestApp, credit_code};

const KEJI: &str = "哈尔滨市科学技术局";
const RENSHE: &str = "哈尔滨市人力资源和社会保障局";

fn measure(name: &str, department: &str, mode: &str, amount: &str, budget: Option<f64>) -> Value {
    json!({
        "name": name, "category": "subsidy", "department": department, "mode": mode, "amount": amount,
        "budget": budget, "window_start": "2026-01-01", "window_end": "2026-12-31",
        "conditions": [{"label": "无失信记录", "expr": "!dishonest"}],
        "review_stages": if mode == "apply" { json!([{"name": "受理", "days": 2}]) } else { json!([]) },
        "publicity_days": 0, "contact": "0451-86612345"
    })
}

async fn policy(app: &TestApp, token: &str, department: &str) -> u64 {
    let body = json!({"title": format!("{department}惠企措施"), "doc_number": "哈规〔2026〕1号", "level": "municipal",
        "department": department, "issue_date": "2026-01-01", "text": "第一条"});
    let r = app.json("POST", "/api/v1/policies", Some(token), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()["id"].as_u64().unwrap()
}

async fn publish(app: &TestApp, token: &str, policy: u64, body: Value) -> u64 {
    let r = app.json("POST", &format!("/api/v1/policies/{policy}/measures"), Some(token), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["measure_id"].as_u64().unwrap();
    let r = app.publish(token, id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    id
}

async fn apply(app: &TestApp, token: &str, n: u32, measure: u64) -> Value {
    let body = json!({"credit_code": credit_code(n), "measure_id": measure});
    let r = app.json("POST", "/api/v1/cases", Some(token), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_u64().unwrap();
    let r = app.json("POST", &format!("/api/v1/cases/{id}/submit"), Some(token), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

/// Two departments: 科技局 with an instant measure of 25 万元 (one case approved for 20, one
/// waiting for budget with 15) and an application in review for 12.34567; 人社局 with one
/// instant case approved for 5.
async fn figures_fixture() -> (TestApp, String) {
    let app = TestApp::new();
    let admin = app.admin_token();
    for (n, rd) in [(1, "200"), (2, "150"), (3, "123.4567")] {
        let body = json!({"name": format!("测试企业{n}"), "region": "230102", "industry": "C3911",
            "employees": 80, "revenue": 2000, "rd_expense": rd.parse::<f64>().unwrap(), "dishonest": false});
        let r = app.json("PUT", &format!("/api/v1/entities/{}", credit_code(n)), Some(&admin), body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let keji = app.publisher_token("keji", KEJI);
    let renshe = app.publisher_token("renshe", RENSHE);
    let (p1, p2) = (policy(&app, &keji, KEJI).await, policy(&app, &renshe, RENSHE).await);
    let amount = "min(rd_expense * 0.1, 30)";
    let instant = publish(&app, &keji, p1, measure("即享研发补助", KEJI, "instant", amount, Some(25.0))).await;
    let review = publish(&app, &keji, p1, measure("研发费用申报补助", KEJI, "apply", amount, None)).await;
    let jobs = publish(&app, &renshe, p2, measure("稳岗补助", RENSHE, "instant", "5", Some(100.0))).await;
    let qiye = app.token("qiye", Role::Enterprise, None);
    for n in 1..=3 {
        app.auth()
            .binding_grant(
                &Who::system("test"),
                "qiye",
                &CreditCode::parse(&credit_code(n)).unwrap(),
                Capacity::LegalRep,
            )
            .unwrap();
    }
    assert_eq!(
        apply(&app, &qiye, 1, instant).await["state"],
        "payable",
        "approved, and payable at once without disclosure"
    );
    assert_eq!(apply(&app, &qiye, 2, instant).await["state"], "awaiting_budget");
    assert_eq!(apply(&app, &qiye, 3, review).await["state"], "in_review");
    assert_eq!(apply(&app, &qiye, 1, jobs).await["state"], "payable");
    // A draft, not yet submitted, is no case of the department's yet.
    let body = json!({"credit_code": credit_code(2), "measure_id": review});
    assert_eq!(app.json("POST", "/api/v1/cases", Some(&qiye), body).await.json()["state"], "draft");
    (app, admin)
}

fn row<'a>(stats: &'a Value, list: &str, key: &str, name: &str) -> Option<&'a Value> {
    stats[list].as_array().unwrap().iter().find(|r| r[key] == name)
}

#[tokio::test]
async fn figures_count_cases_and_sum_amounts_in_the_callers_scope() {
    let (app, admin) = figures_fixture().await;
    // A department's reviewer: its own cases only, amounts summed in fen and shown in 万元.
    let reviewer = app.token("shenhe", Role::Reviewer, Some(KEJI));
    let r = app.get_as("/api/v1/stats/cases", &reviewer).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let s = r.json();
    assert!(s["scope"].as_str().unwrap().contains(KEJI), "{s}");
    assert_eq!((s["total"]["cases"].as_u64(), s["total"]["approved"]["count"].as_u64()), (Some(3), Some(1)));
    assert_eq!(
        (s["total"]["approved"]["fen"].as_i64(), s["total"]["approved"]["wan"].as_str()),
        (Some(20_000_000), Some("20"))
    );
    assert_eq!(s["total"]["awaiting_budget"]["fen"], 15_000_000);
    assert_eq!(
        (s["total"]["in_review"]["fen"].as_i64(), s["total"]["in_review"]["wan"].as_str()),
        (Some(12_345_670), Some("12.34567"))
    );
    let instant = row(&s, "measures", "name", "即享研发补助").expect("the instant measure");
    assert_eq!((instant["budget_wan"].as_str(), instant["budget_left_wan"].as_str()), (Some("25"), Some("5")));
    assert_eq!(
        (instant["approved"]["count"].as_u64(), instant["awaiting_budget"]["count"].as_u64()),
        (Some(1), Some(1))
    );
    let review = row(&s, "measures", "name", "研发费用申报补助").unwrap();
    assert_eq!((review["in_review"]["count"].as_u64(), review["budget_wan"].as_str()), (Some(1), None));
    assert!(row(&s, "measures", "name", "稳岗补助").is_none(), "another department's measure: {s}");
    assert_eq!(s["departments"].as_array().unwrap().len(), 1);

    // A supervisor sees every department; so does the system administrator, as totals.
    let supervisor = app.token("ducha", Role::Supervisor, None);
    for token in [&supervisor, &admin] {
        let s = app.get_as("/api/v1/stats/cases", token).await.json();
        assert_eq!(
            (s["total"]["approved"]["count"].as_u64(), s["total"]["approved"]["wan"].as_str()),
            (Some(2), Some("25")),
            "{s}"
        );
        let renshe = row(&s, "departments", "department", RENSHE).expect("人社局");
        assert_eq!((renshe["cases"].as_u64(), renshe["approved"]["fen"].as_i64()), (Some(1), Some(5_000_000)));
        assert_eq!(row(&s, "measures", "name", "稳岗补助").unwrap()["budget_left_wan"], "95");
    }
    // An enterprise has no figures.
    let qiye = app.token("qiye9", Role::Enterprise, None);
    assert_eq!(app.get_as("/api/v1/stats/cases", &qiye).await.status, StatusCode::FORBIDDEN);

    // The console shows the same figures, in tables that scroll on a phone.
    let b = app.sign_in_as("shenhe2", Role::Reviewer, Some(KEJI)).await;
    let page = app.page(&b.cookie, "/staff").await.text();
    let dash = &page[page.find("id=\"dashboard\"").expect("the dashboard")..];
    assert!(dash.contains("即享研发补助") && dash.contains("12.34567") && dash.contains("待资金安排"), "{dash}");
    assert!(dash.contains("<div class=\"table-wrap\"><table id=\"dashboard-measures\">"));
    assert!(dash.contains("<b>1</b> 件<br><span class=\"muted\">15</span>"), "awaiting budget: 1 case, 15 万元");
    assert!(!dash.contains("稳岗补助"));
    let b = app.sign_in_as("ducha2", Role::Supervisor, None).await;
    let page = app.page(&b.cookie, "/staff").await.text();
    assert!(page.contains("稳岗补助") && page.contains(RENSHE), "the supervisor's console");
}

/// Whether `page` shows `label` followed by a time as `YYYY-MM-DD HH:mm`.
fn dated(page: &str, label: &str) -> bool {
    page.match_indices(label).any(|(at, _)| {
        let after: Vec<char> = page[at + label.len()..].chars().take(16).collect();
        let shape: String = after.iter().map(|c| if c.is_ascii_digit() { 'd' } else { *c }).collect();
        shape == "dddd-dd-dd dd:dd"
    })
}

#[tokio::test]
async fn versions_show_their_dates_and_every_changed_field_side_by_side() {
    let app = TestApp::new();
    let keji = app.publisher_token("keji", KEJI);
    let p = policy(&app, &keji, KEJI).await;
    let mut body = measure("研发费用补助", KEJI, "apply", "min(rd_expense * 0.1, 30)", None);
    body["guide"] = json!("第一步：登录平台\n第三步：提交申报");
    let id = publish(&app, &keji, p, body.clone()).await;

    // The drafter amends the guide, one condition's expression and the formula, and asks.
    body["guide"] = json!("第一步：登录平台\n第二步：上传研发费用专项审计报告\n第三步：提交申报");
    body["conditions"] = json!([{"label": "无失信记录", "expr": "!dishonest && !major_violation"}]);
    body["amount"] = json!("min(rd_expense * 0.2, 30)");
    let r = app.json("PUT", &format!("/api/v1/measures/{id}"), Some(&keji), body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = app.json("POST", &format!("/api/v1/measures/{id}/request-publication"), Some(&keji), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());

    // The approver reads, where the button is, every change of the draft against v1.
    let approver = app.sign_in_as("pizhun", Role::Publisher, Some(KEJI)).await;
    let page = app.page(&approver.cookie, &format!("/measures/{id}")).await.text();
    let block = &page[page.find("id=\"publication\"").expect("the publication block")..];
    let block = &block[..block.find("id=\"approve-publication\"").expect("the approval button")];
    assert!(block.contains("id=\"draft-changes\"") && block.contains("修改前") && block.contains("修改后"), "{block}");
    assert!(block.contains("<ins>第二步：上传研发费用专项审计报告</ins>"), "the new guide line, marked: {block}");
    assert!(block.contains("<div>第一步：登录平台</div>"), "unchanged lines shown unmarked");
    assert!(block.contains("!dishonest &amp;&amp; !major_violation") && block.contains("rd_expense * 0.2"), "{block}");
    assert!(!block.contains("申报指南已修改"));
    let r = app.form(&approver, &format!("/staff/measures/{id}/publish"), &[("csrf", &approver.csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());

    // Staff read the versions with their dates and who acted, the guide in full on both sides.
    let staff = app.page(&approver.cookie, &format!("/measures/{id}/versions")).await.text();
    assert!(dated(&staff, "创建于 ") && dated(&staff, "发布于 "), "{staff}");
    assert!(staff.contains("pizhun") && staff.contains("keji"), "who acted, for staff");
    let v2 = &staff[staff.find("id=\"v2-changes\"").expect("v2's table")..];
    assert!(v2.contains("<th colspan=\"2\" scope=\"colgroup\">申报指南</th>"), "{v2}");
    assert!(v2.contains("<ins>第二步：上传研发费用专项审计报告</ins>") && v2.contains("!major_violation"));

    // The public reads the same dates and changes, the rules in words, and no names.
    let public = app.get(&format!("/measures/{id}/versions")).await.text();
    assert!(dated(&public, "发布于 ") && public.contains("<ins>第二步：上传研发费用专项审计报告</ins>"), "{public}");
    assert!(public.contains("兑现标准") && public.contains("申报条件"), "{public}");
    for hidden in ["rd_expense", "dishonest", "pizhun", "keji"] {
        assert!(!public.contains(hidden), "{hidden} on the public page");
    }
}
