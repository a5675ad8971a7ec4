//! Region scope, decided in the service: a city-level, a county-level and an unrestricted caller
//! list, search, read, edit and export — each sees exactly its region's entities.

use axum::http::StatusCode;
use huiqi::model::{Role, Who};
use serde_json::json;

use crate::common::TestApp;

/// The generated entities and their regions, as the store has them.
fn all_entities(app: &TestApp) -> Vec<(String, String)> {
    let q = huiqi::service::entities::EntityQuery { limit: 500, ..Default::default() };
    let page = app.svc().entity_list(&Who::system("test"), &q).unwrap();
    page.entities
        .iter()
        .map(|e| (e.credit_code.to_string(), e.region.as_ref().map(|r| r.to_string()).unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn each_caller_sees_exactly_its_regions_entities() {
    let app = TestApp::with_demo(400);
    let who = Who::system("test");
    app.auth().department_put(&who, "哈尔滨市人社局", "230100").unwrap();
    app.auth().department_put(&who, "宾县人社局", "230125").unwrap();
    let city = app.token("city", Role::Reviewer, Some("哈尔滨市人社局"));
    let county = app.token("county", Role::Reviewer, Some("宾县人社局"));
    let province = app.token("province", Role::Supervisor, None);
    let all = all_entities(&app);
    let in_city: Vec<&(String, String)> = all.iter().filter(|(_, r)| r.starts_with("2301")).collect();
    let in_county: Vec<&(String, String)> = all.iter().filter(|(_, r)| r.starts_with("230125")).collect();
    assert!(
        !in_county.is_empty() && in_city.len() > in_county.len() && all.len() > in_city.len(),
        "a spread of regions"
    );

    for (token, expected, label) in
        [(&city, in_city.len(), "city"), (&county, in_county.len(), "county"), (&province, all.len(), "all")]
    {
        // The list, page by page.
        let mut seen = Vec::new();
        let mut after = 0u64;
        loop {
            let r = app.get_as(&format!("/api/v1/entities?limit=100&after={after}"), token).await;
            assert_eq!(r.status, StatusCode::OK, "{label}: {}", r.text());
            let page = r.json();
            for e in page["entities"].as_array().unwrap() {
                seen.push(e["credit_code"].as_str().unwrap().to_string());
            }
            match page["next_after"].as_u64() {
                Some(n) => after = n,
                None => break,
            }
        }
        assert_eq!(seen.len(), expected, "{label} lists its region's entities");
        // Search by credit code: found inside, not outside.
        for (code, region) in all.iter().take(60) {
            let inside = match label {
                "city" => region.starts_with("2301"),
                "county" => region.starts_with("230125"),
                _ => true,
            };
            let found = app.get_as(&format!("/api/v1/entities?q={code}"), token).await.json()["entities"]
                .as_array()
                .unwrap()
                .len();
            assert_eq!(found, usize::from(inside), "{label} searching {code} ({region})");
            let read = app.get_as(&format!("/api/v1/entities/{code}"), token).await.status;
            assert_eq!(read, if inside { StatusCode::OK } else { StatusCode::NOT_FOUND }, "{label} reading {code}");
        }
    }
    // The staff page says how many it lists, and lists them.
    let page_city = app.sign_in_as("citypage", Role::Reviewer, Some("哈尔滨市人社局")).await;
    let html = app.page(&page_city.cookie, "/staff/entities").await.text();
    let (code, _) = in_city[0];
    assert!(html.contains(code.as_str()), "the city's entities are on the page");

    // Edits: a specialist of the county changes its entities, not others, and cannot move one out.
    let mut specialist = huiqi::auth::NewUser::new("county_bangban", Role::Specialist);
    specialist.region_scope = vec!["230125".into()];
    app.auth().user_create(&who, specialist, Some(crate::common::PASSWORD)).unwrap();
    let scopes = huiqi::auth::permissions::scopes_for(Role::Specialist);
    let token = app.auth().token_create(&who, "county_bangban", "t", &scopes, None).unwrap().1;
    let (inside, _) = in_county[0];
    let (outside, _) = all.iter().find(|(_, r)| !r.starts_with("230125")).unwrap();
    let r = app.json("PUT", &format!("/api/v1/entities/{inside}"), Some(&token), json!({"employees": 42})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = app.json("PUT", &format!("/api/v1/entities/{outside}"), Some(&token), json!({"employees": 42})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    let r = app.json("PUT", &format!("/api/v1/entities/{inside}"), Some(&token), json!({"region": "230102"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());

    // Exports hold the caller's region only.
    let export = app.get_as("/api/v1/export/entities.csv", &province).await;
    assert_eq!(export.status, StatusCode::OK);
    let lines = String::from_utf8_lossy(&export.body).lines().count();
    assert_eq!(lines, all.len() + 1, "the unrestricted export holds every entity");
}
