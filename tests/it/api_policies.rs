//! The policy library through the JSON API: create, draft, publish, amend, versions, search.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::common::TestApp;

fn policy_body() -> Value {
    json!({
        "title": "哈尔滨市支持高新技术企业发展若干措施",
        "doc_number": "哈政规〔2026〕3号",
        "level": "municipal",
        "department": "哈尔滨市人民政府",
        "issue_date": "2026-03-01",
        "valid_from": "2026-03-01",
        "valid_until": "2028-12-31",
        "text": "第一条 对首次认定的高新技术企业给予奖励。",
        "interpretation": "问：谁能申报？答：首次认定的高新技术企业。",
        "tags": ["科技创新"]
    })
}

fn measure_body(name: &str, cap: f64) -> Value {
    json!({
        "name": name,
        "category": "subsidy",
        "department": "哈尔滨市科学技术局",
        "mode": "apply",
        "amount": "min(rd_expense * 0.1, 30)",
        "cap": cap,
        "window_start": "2026-03-01",
        "window_end": "2026-12-31",
        "conditions": [
            {"label": "高新技术企业", "expr": "tags.contains(\"high_tech\")"},
            {"label": "无失信记录", "expr": "!dishonest"}
        ],
        "review_stages": [{"name": "受理", "days": 3}],
        "publicity_days": 5,
        "contact": "0451-86612345"
    })
}

#[tokio::test]
async fn writes_need_a_staff_account() {
    let app = TestApp::new();
    let r = app.json("POST", "/api/v1/policies", None, policy_body()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.json()["error"].as_str().unwrap().contains("登录"));
    let r = app.json("POST", "/api/v1/policies", Some("hq_not_a_real_token"), policy_body()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_input_names_the_fields_in_chinese() {
    let app = TestApp::new();
    let token = app.publisher_token("clerk", "哈尔滨市科学技术局");
    let mut body = policy_body();
    body["title"] = json!("  ");
    body["valid_until"] = json!("2020-01-01");
    let r = app.json("POST", "/api/v1/policies", Some(&token), body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> =
        r.json()["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_string()).collect();
    assert_eq!(fields, ["title", "valid_until"]);
    assert!(r.json()["error"].as_str().unwrap().contains("请填写政策标题"));

    let mut body = policy_body();
    body["level"] = json!("township");
    let r = app.json("POST", "/api/v1/policies", Some(&token), body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.json()["error"].as_str().unwrap().contains("JSON"));

    let r = app.json("POST", "/api/v1/policies/999/measures", Some(&token), measure_body("x", 1.0)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(app.svc().stats().unwrap().policies, 0, "nothing was written");
}

#[tokio::test]
async fn publish_freezes_and_amendments_are_new_versions() {
    let app = TestApp::new();
    let token = app.publisher_token("clerk", "哈尔滨市科学技术局");
    let r = app.json("POST", "/api/v1/policies", Some(&token), policy_body()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let policy_id = r.json()["id"].as_u64().unwrap();

    let r = app
        .json(
            "POST",
            &format!("/api/v1/policies/{policy_id}/measures"),
            Some(&token),
            measure_body("高新技术企业认定奖励", 30.0),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let v = r.json();
    let id = v["measure_id"].as_u64().unwrap();
    assert_eq!((v["version"].as_u64(), v["status"].as_str()), (Some(1), Some("draft")));

    // Drafts are invisible to the public, visible to staff.
    assert_eq!(app.get(&format!("/api/v1/measures/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/v1/policies/{policy_id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get_as(&format!("/api/v1/measures/{id}?drafts=true"), &token).await.status, StatusCode::OK);

    // Editing a draft keeps it at version 1.
    let r = app
        .json("PUT", &format!("/api/v1/measures/{id}"), Some(&token), measure_body("高新技术企业认定奖励", 25.0))
        .await;
    assert_eq!(r.json()["version"], 1);

    // Four eyes: nothing is published without a request, and never by its own drafter.
    let publish = format!("/api/v1/measures/{id}/publish");
    let r = app.json("POST", &publish, Some(&token), json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let r = app.json("POST", &format!("/api/v1/measures/{id}/request-publication"), Some(&token), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = app.json("POST", &publish, Some(&token), json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.text().contains("四眼原则"));
    let elsewhere = app.publisher_token("renshe", "哈尔滨市人力资源和社会保障局");
    assert_eq!(app.json("POST", &publish, Some(&elsewhere), json!({})).await.status, StatusCode::FORBIDDEN);
    let colleague = app.publisher_token("colleague", "哈尔滨市科学技术局");
    let r = app.json("POST", &publish, Some(&colleague), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["status"], "published");
    assert_eq!(r.json()["published_by"], "colleague");
    let r = app.json("POST", &publish, Some(&colleague), json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "nothing left to publish");

    let public = app.get(&format!("/api/v1/measures/{id}")).await.json();
    assert_eq!(public["measure"]["cap"], 25.0);

    // Amending the published version starts version 2; the public still sees version 1.
    let r = app
        .json("PUT", &format!("/api/v1/measures/{id}"), Some(&token), measure_body("高新技术企业认定奖励", 20.0))
        .await;
    assert_eq!((r.json()["version"].as_u64(), r.json()["status"].as_str()), (Some(2), Some("draft")));
    assert_eq!(app.get(&format!("/api/v1/measures/{id}")).await.json()["measure"]["cap"], 25.0);
    let staff_view = app.get_as(&format!("/api/v1/measures/{id}?drafts=true"), &token).await.json();
    assert_eq!(staff_view["measure"]["cap"], 20.0);

    assert_eq!(app.publish(&token, id).await.status, StatusCode::OK);
    let versions = app.get(&format!("/api/v1/measures/{id}/versions")).await.json();
    let versions = versions.as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!((versions[0]["version"].as_u64(), versions[0]["status"].as_str()), (Some(2), Some("published")));
    assert_eq!(versions[1]["status"], "superseded");
    assert_eq!(versions[0]["changes"][0], "单户上限(万元)：25 → 20");
    // The superseded version still holds exactly what was published.
    assert_eq!(versions[1]["spec"]["cap"], 25.0);

    // A third draft can be discarded; the published version stays.
    app.json("PUT", &format!("/api/v1/measures/{id}"), Some(&token), measure_body("改名", 20.0)).await;
    let r = app.json("POST", &format!("/api/v1/measures/{id}/discard"), Some(&token), json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let staff_view = app.get_as(&format!("/api/v1/measures/{id}?drafts=true"), &token).await.json();
    assert_eq!(
        (staff_view["measure"]["name"].as_str(), staff_view["measure"]["version"].as_u64()),
        (Some("高新技术企业认定奖励"), Some(2))
    );
}

#[tokio::test]
async fn search_finds_chinese_substrings_and_filters() {
    let app = TestApp::with_demo(0);
    let hits = app.get("/api/v1/policies?q=%E9%AB%98%E6%96%B0").await.json();
    let names: Vec<String> = hits["policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["measures"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_string()))
        .collect();
    assert!(names.iter().any(|n| n.contains("高新技术企业")), "高新 should find 高新技术企业…: {names:?}");

    // By document number.
    let hits = app
        .get(&format!(
            "/api/v1/policies?q={}",
            form_urlencoded::byte_serialize("黑政规〔2024〕5号".as_bytes()).collect::<String>()
        ))
        .await
        .json();
    assert_eq!(hits["count"], 1);

    // Nothing matches nonsense.
    assert_eq!(app.get("/api/v1/policies?q=zzzqqq").await.json()["count"], 0);

    // Filters narrow the measures shown.
    let auto = app.get("/api/v1/policies?mode=auto").await.json();
    for p in auto["policies"].as_array().unwrap() {
        for m in p["measures"].as_array().unwrap() {
            assert_eq!(m["mode"], "auto");
        }
    }
    let county = app.get("/api/v1/policies?level=county").await.json();
    assert!(county["count"].as_u64().unwrap() >= 1);
    assert!(county["policies"].as_array().unwrap().iter().all(|p| p["level"] == "county"));
    let open = app.get("/api/v1/policies?open_now=true").await.json();
    assert!(
        open["policies"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["measures"].as_array().unwrap())
            .all(|m| m["open_now"] == true)
    );
    let all = app.get("/api/v1/policies").await.json();
    let count = |v: &Value| {
        v["policies"].as_array().unwrap().iter().map(|p| p["measures"].as_array().unwrap().len()).sum::<usize>()
    };
    assert!(count(&open) < count(&all), "some demo measures are closed today");
    assert!(count(&all) >= 30);
}

#[tokio::test]
async fn catalog_lists_every_field() {
    let app = TestApp::new();
    let c = app.get("/api/v1/catalog").await.json();
    let fields = c["fields"].as_array().unwrap();
    let names: Vec<&str> = fields.iter().map(|f| f["name"].as_str().unwrap()).collect();
    for expected in ["credit_code", "rd_ratio", "size_class", "tags", "major_violation", "revenue_growth", "age_years"]
    {
        assert!(names.contains(&expected), "{expected} missing");
    }
    let rd = fields.iter().find(|f| f["name"] == "rd_ratio").unwrap();
    assert_eq!(
        (rd["label"].as_str(), rd["unit"].as_str(), rd["derived"].as_bool()),
        (Some("研发投入占比"), Some("%"), Some(true))
    );
}

#[tokio::test]
async fn publication_can_be_refused_scheduled_and_withdrawn() {
    let app = TestApp::new();
    let token = app.publisher_token("clerk", "哈尔滨市科学技术局");
    let colleague = app.publisher_token("colleague", "哈尔滨市科学技术局");
    let r = app.json("POST", "/api/v1/policies", Some(&token), policy_body()).await;
    let policy_id = r.json()["id"].as_u64().unwrap();
    let r = app
        .json("POST", &format!("/api/v1/policies/{policy_id}/measures"), Some(&token), measure_body("认定奖励", 30.0))
        .await;
    let id = r.json()["measure_id"].as_u64().unwrap();
    let request = format!("/api/v1/measures/{id}/request-publication");
    let publish = format!("/api/v1/measures/{id}/publish");

    // Refused with a reason the drafter reads; a refusal needs one.
    app.json("POST", &request, Some(&token), json!({})).await;
    let refuse = format!("/api/v1/measures/{id}/refuse");
    assert_eq!(app.json("POST", &refuse, Some(&colleague), json!({})).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.json("POST", &refuse, Some(&colleague), json!({"reason": "兑现标准需与文件一致"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["refusal"]["reason"], "兑现标准需与文件一致");
    assert_eq!(app.json("POST", &publish, Some(&colleague), json!({})).await.status, StatusCode::CONFLICT);

    // A request for a later day is approved now and published by the sweep on that day.
    let r = app.json("POST", &request, Some(&token), json!({"publish_on": "2026-11-20"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "not in the past: {}", r.text());
    app.json("POST", &request, Some(&token), json!({"publish_on": "2026-12-01"})).await;
    let queue = app.get_as("/api/v1/publication-queue", &colleague).await.json();
    assert_eq!(queue["count"], 1);
    let r = app.json("POST", &publish, Some(&colleague), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        (r.json()["status"].as_str(), r.json()["scheduled"]["on"].as_str()),
        (Some("draft"), Some("2026-12-01"))
    );
    assert_eq!(app.get(&format!("/api/v1/measures/{id}")).await.status, StatusCode::NOT_FOUND, "not yet public");
    assert_eq!(app.svc().publish_scheduled().unwrap(), 0, "today is before the day");
    // Four days on, the sweep publishes it, recording who approved it.
    app.svc().config.clock.advance(4 * 86_400);
    assert_eq!(app.svc().publish_scheduled().unwrap(), 1);
    let public = app.get(&format!("/api/v1/measures/{id}")).await.json();
    assert_eq!(public["measure"]["status"], "published");
    let versions = app.get_as(&format!("/api/v1/measures/{id}/versions?drafts=true"), &token).await.json();
    assert_eq!(versions[0]["published_by"], "colleague");
    // The public reads the department, not the person.
    let versions = app.get(&format!("/api/v1/measures/{id}/versions")).await.json();
    assert_eq!(versions[0]["published_by"], "哈尔滨市科学技术局");
    assert!(!versions.to_string().contains("colleague"), "{versions}");

    // A measure withdrawn while a revision waits for its day stays withdrawn on that day.
    let r = app.json("PUT", &format!("/api/v1/measures/{id}"), Some(&token), measure_body("认定奖励", 20.0)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    app.json("POST", &request, Some(&token), json!({"publish_on": "2026-12-05"})).await;
    assert_eq!(app.json("POST", &publish, Some(&colleague), json!({})).await.status, StatusCode::OK);
    let r =
        app.json("POST", &format!("/api/v1/measures/{id}/withdraw"), Some(&colleague), json!({"reason": "暂停"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    app.svc().config.clock.advance(4 * 86_400);
    assert_eq!(app.svc().publish_scheduled().unwrap(), 0);
    assert_eq!(app.get(&format!("/api/v1/measures/{id}")).await.json()["measure"]["withdrawn"]["reason"], "暂停");

    // Withdrawal: a reason is required and shown publicly; no new applications.
    let id2 = {
        let r = app
            .json(
                "POST",
                &format!("/api/v1/policies/{policy_id}/measures"),
                Some(&token),
                measure_body("另一事项", 10.0),
            )
            .await;
        r.json()["measure_id"].as_u64().unwrap()
    };
    assert_eq!(app.publish(&token, id2).await.status, StatusCode::OK);
    let withdraw = format!("/api/v1/measures/{id2}/withdraw");
    assert_eq!(app.json("POST", &withdraw, Some(&colleague), json!({})).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.json("POST", &withdraw, Some(&colleague), json!({"reason": "资金来源调整，暂停受理"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let public = app.get(&format!("/api/v1/measures/{id2}")).await.json();
    assert_eq!(public["measure"]["withdrawn"]["reason"], "资金来源调整，暂停受理");
    assert_eq!(public["measure"]["open_now"], false);
    let page = app.get(&format!("/measures/{id2}")).await.text();
    assert!(page.contains("资金来源调整，暂停受理"));
}
