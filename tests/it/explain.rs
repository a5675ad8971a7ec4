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

/// The calculator's answer for these attributes, as JSON measures.
async fn calculate(app: &TestApp, attrs: serde_json::Value) -> Vec<serde_json::Value> {
    let r = app.json("POST", "/api/v1/calculator", None, attrs).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["measures"].as_array().unwrap().clone()
}

fn named<'a>(measures: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    measures.iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("measure {name}"))
}

#[tokio::test]
async fn near_misses_are_only_what_an_entity_can_change() {
    let app = TestApp::with_demo(5);
    // An enterprise in 宾县, everything else the shop relief asks for in order.
    let measures = calculate(
        &app,
        serde_json::json!({"entity_type": "enterprise", "region": "230125", "industry": "C3911", "established": "2020-05-01",
            "status": "active", "dishonest": false, "major_violation": false, "employees": 40, "revenue": 3000,
            "revenue_prev": 2500, "total_assets": 2000, "rd_expense": 60, "graduate_hires": 0, "ui_premium_paid": 5}),
    )
    .await;
    let relief = named(&measures, "个体工商户经营纾困补贴");
    assert_eq!(relief["outcome"], "not_eligible");
    assert!(relief["near_miss"].is_null(), "an enterprise is not one step from a measure for shops: {relief}");
    let why: Vec<&str> =
        relief["conditions"].as_array().unwrap().iter().map(|c| c["explanation"].as_str().unwrap()).collect();
    assert!(why.iter().any(|w| w.contains("主体类型须为个体工商户（本企业为企业）")), "{why:?}");

    // No near miss anywhere stands on who the entity is.
    for m in measures.iter().filter(|m| !m["near_miss"].is_null()) {
        for c in m["conditions"].as_array().unwrap().iter().filter(|c| c["outcome"] == "not_eligible") {
            let text = c["explanation"].as_str().unwrap();
            for identity in ["主体类型须", "所在地须", "行业须", "企业性质须"] {
                assert!(!text.contains(identity), "{}: {text}", m["name"]);
            }
        }
    }
    // Near misses it can act on remain, in sentences.
    let hires = named(&measures, "小微企业吸纳高校毕业生社会保险补贴");
    let near = hires["near_miss"].as_str().unwrap_or_else(|| panic!("{hires}"));
    assert!(near.contains("吸纳高校毕业生数须不低于1 人（本企业为0 人）"), "{near}");
    assert!(!near.contains(" = ") && !near.contains(" ≥ ") && !near.contains(" < "), "{near}");
}

#[tokio::test]
async fn an_amount_of_nothing_says_why() {
    let app = TestApp::with_demo(5);
    let measures = calculate(
        &app,
        serde_json::json!({"entity_type": "enterprise", "region": "230184", "industry": "C1311", "status": "active",
            "dishonest": false, "tags": ["agri_leader@2025-06-01"], "revenue": 800, "revenue_prev": 900}),
    )
    .await;
    let m = named(&measures, "农业产业化龙头企业营收增长奖励（2026年度）");
    // Revenue fell: one step away (growth of 10%), and the formula gives nothing today.
    assert!(m["near_miss"].as_str().is_some_and(|n| n.contains("营收增长率须不低于10%")), "{m}");
    assert_eq!(m["amount_wan"], 0.0);
    let note = m["amount_note"].as_str().unwrap();
    assert!(note.contains("营业收入较上年度增加额的1%，最高30万元"), "{note}");
    assert!(note.contains("营业收入 800 万元") && note.contains("上年度营业收入 900 万元"), "{note}");
    assert!(!note.contains("revenue") && !note.contains("核对"), "said to the enterprise, in words: {note}");
}

/// The part of a calculator page between `id="{section}"` and the next section.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("section {id}: {html}"));
    let rest = &html[start..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

#[tokio::test]
async fn the_calculator_takes_every_fact_the_rules_read() {
    let app = TestApp::with_demo(5);
    let html = app.get("/calculator").await.text();
    // Every field a published measure reads can be entered (derived ones through their inputs).
    for p in app.svc().policy_search(&Default::default(), Audience::Public).unwrap() {
        for m in &p.measures {
            let rules = app.svc().rules_check(&m.spec).unwrap();
            let exprs = rules.conditions.iter().map(|r| &r.expr).chain(rules.amount.as_ref());
            for f in exprs.flat_map(|e| e.fields()) {
                for input in huiqi::service::matching::calculator_inputs(f) {
                    let name = if input == huiqi::model::Field::Tags { "tags" } else { input.name() };
                    assert!(html.contains(&format!("name=\"{name}\"")), "{}: {} has no input", m.spec.name, name);
                }
            }
        }
    }
    assert!(html.contains("name=\"rd_expense_prev\""), "last year's R&D expense");
    assert!(html.contains("name=\"since.agri_leader\""), "the date a qualification was granted");
    assert!(html.contains("C35 制造业 › 专用设备制造业"), "industries picked by name");

    // The date of grant counts: a leading agricultural enterprise recognised in 2025 fits.
    let base = "/calculator?entity_type=enterprise&region=230184&status=active&dishonest=false&tags=agri_leader";
    let without = app.get(&format!("{base}&industry=C1311")).await.text();
    assert!(!section(&without, "eligible").contains("新认定农业产业化龙头企业奖励"));
    let with = app.get(&format!("{base}&since.agri_leader=2025-06-01&industry=C1311")).await.text();
    assert!(section(&with, "eligible").contains("新认定农业产业化龙头企业奖励"), "{with}");

    // The industry by its picker line or its name.
    for industry in ["C13 制造业 › 农副食品加工业", "稻谷加工"] {
        let q = form_urlencoded::byte_serialize(industry.as_bytes()).collect::<String>();
        let page = app.get(&format!("{base}&since.agri_leader=2025-06-01&industry={q}")).await.text();
        assert!(section(&page, "eligible").contains("新认定农业产业化龙头企业奖励"), "{industry}: {page}");
    }
    let unknown = app.get(&format!("{base}&industry=%E4%B8%8D%E5%AD%98%E5%9C%A8")).await.text();
    assert!(unknown.contains("没有找到行业「不存在」"), "{unknown}");

    // The API takes names too, and says what it could not consider (nothing, for the demo rules).
    let r = app
        .json(
            "POST",
            "/api/v1/calculator",
            None,
            serde_json::json!({"industry": "稻谷加工", "entity_type": "enterprise"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["not_considered"], serde_json::json!([]));
}
