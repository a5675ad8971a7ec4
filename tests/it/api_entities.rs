//! The entity library through the JSON API: upsert, validation, derived fields, history, list.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{TestApp, credit_code};

#[tokio::test]
async fn upsert_validates_and_keeps_history() {
    let app = TestApp::new();
    let token = app.admin_token();
    let code = credit_code(1);
    let body = json!({
        "name": "哈尔滨龙江源食品有限公司",
        "entity_type": "企业",
        "region": "230125",
        "industry": "C1391",
        "established": "2018-05-20",
        "employees": 120,
        "revenue": 3200.5,
        "revenue_prev": 2560.4,
        "rd_expense": 96.015,
        "total_assets": 5000,
        "tags": ["tech_sme@2025-04-01", {"key": "high_tech", "since": "2024-11-02", "until": "2027-11-01"}],
        "dishonest": false
    });
    let r = app.json("PUT", &format!("/api/v1/entities/{code}"), Some(&token), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let e = &r.json()["entity"];
    assert_eq!(e["revenue"], 3200.5);
    assert_eq!(e["size_class"], "small", "industry: 120 people (< 300 for medium) and 3,200.5 万元");
    assert_eq!(e["age_years"], 8.0);
    assert!((e["rd_ratio"].as_f64().unwrap() - 3.0).abs() < 1e-9);
    assert!((e["revenue_growth"].as_f64().unwrap() - 25.0).abs() < 0.01);
    assert_eq!(e["tags"][0]["key"], "high_tech");

    // An update changes one field; the history says what, from what, by whom.
    let r = app.json("PUT", &format!("/api/v1/entities/{code}"), Some(&token), json!({"employees": 15})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["outcome"], "updated");
    let r = app.json("PUT", &format!("/api/v1/entities/{code}"), Some(&token), json!({"employees": 15})).await;
    assert_eq!(r.json()["outcome"], "unchanged");
    let history = app.get_as(&format!("/api/v1/entities/{code}/history"), &token).await.json();
    let newest = &history[0];
    assert_eq!(newest["actor"]["username"], "admin");
    assert_eq!(newest["changes"][0], json!({"field": "employees", "old": "120", "new": "15"}));
    assert_eq!(history.as_array().unwrap().len(), 2);

    // null clears a value.
    let r = app.json("PUT", &format!("/api/v1/entities/{code}"), Some(&token), json!({"revenue_prev": null})).await;
    assert_eq!(r.json()["entity"]["revenue_growth"], json!(null));
}

#[tokio::test]
async fn bad_values_are_refused_with_reasons_and_nothing_is_written() {
    let app = TestApp::new();
    let token = app.admin_token();
    let code = credit_code(2);
    let body = json!({
        "name": "测试",
        "region": "239999",
        "industry": "C9999",
        "employees": -3,
        "established": "2030-01-01",
        "layoff_rate": 120,
        "tags": ["unicorn"],
        "size_class": "large"
    });
    let r = app.json("PUT", &format!("/api/v1/entities/{code}"), Some(&token), body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let v = r.json();
    let fields: Vec<&str> = v["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    for f in ["region", "industry", "employees", "established", "layoff_rate", "tags", "size_class"] {
        assert!(fields.contains(&f), "{f} should be refused: {v}");
    }
    let msg = v["error"].as_str().unwrap();
    assert!(
        msg.contains("GB/T 2260") && msg.contains("GB/T 4754") && msg.contains("负数") && msg.contains("将来"),
        "{msg}"
    );
    assert_eq!(app.get_as(&format!("/api/v1/entities/{code}"), &token).await.status, StatusCode::NOT_FOUND);

    // A malformed credit code is refused; a failed check character is a kept warning.
    let r = app.json("PUT", "/api/v1/entities/91230100MA0000001", Some(&token), json!({"name": "x"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.json()["error"].as_str().unwrap().contains("18 位"));
    let good = credit_code(3);
    let last = good.chars().last().unwrap();
    let bad_check = format!("{}{}", &good[..17], if last == '0' { '1' } else { '0' });
    let r =
        app.json("PUT", &format!("/api/v1/entities/{bad_check}"), Some(&token), json!({"name": "早期代码企业"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert!(r.json()["entity"]["warnings"][0].as_str().unwrap().contains("校验码不符"));

    // A new entity needs a name.
    let r =
        app.json("PUT", &format!("/api/v1/entities/{}", credit_code(4)), Some(&token), json!({"employees": 3})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.json()["error"].as_str().unwrap().contains("必须填写名称"));
}

#[tokio::test]
async fn list_filters_and_pages() {
    let app = TestApp::with_demo(300);
    let token = app.admin_token();
    let all = app.get_as("/api/v1/entities?limit=100", &token).await.json();
    assert_eq!(all["entities"].as_array().unwrap().len(), 100);
    let after = all["next_after"].as_u64().unwrap();
    let next = app.get_as(&format!("/api/v1/entities?limit=100&after={after}"), &token).await.json();
    assert_ne!(next["entities"][0]["credit_code"], all["entities"][0]["credit_code"]);

    let harbin = app.get_as("/api/v1/entities?region=2301&limit=500", &token).await.json();
    let list = harbin["entities"].as_array().unwrap();
    assert!(!list.is_empty());
    assert!(list.iter().all(|e| e["region"].as_str().unwrap().starts_with("2301")));

    let micro = app.get_as("/api/v1/entities?size_class=micro&industry=C&limit=500", &token).await.json();
    assert!(
        micro["entities"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["size_class"] == "micro" && e["industry"].as_str().unwrap().starts_with('C'))
    );

    let tagged = app.get_as("/api/v1/entities?tag=high_tech&limit=500", &token).await.json();
    assert!(
        tagged["entities"].as_array().unwrap().iter().all(|e| e["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "high_tech"))
    );

    assert_eq!(app.get("/api/v1/entities").await.status, StatusCode::UNAUTHORIZED, "entities are not public");
}
