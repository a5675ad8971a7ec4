//! What is waiting for each person: the counts in the navigation, the card their home page
//! leads with, and `GET /api/v1/todo` (issue 10, "everyone signed in").

use huiqi::model::{Capacity, Who};
use serde_json::Value;

use crate::common::TestApp;

async fn todo(app: &TestApp, cookie: &str) -> Value {
    let r = app.page(cookie, "/api/v1/todo").await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[tokio::test]
async fn each_role_sees_what_waits_for_it() {
    let app = TestApp::with_demo(300);
    app.auth().demo_accounts().unwrap();
    let demo = app.svc().demo_cases().unwrap();
    let password = huiqi::auth::demo::DEMO_PASSWORD;
    let also = demo.also_for.first().cloned().expect("an entity with a returned case");
    app.auth().binding_grant(&Who::system("demo"), "qiye", &also, Capacity::Finance).unwrap();

    // The enterprise: its returned case, and its unread messages.
    let qiye = app.sign_in_existing("qiye", password).await;
    let t = todo(&app, &qiye.cookie).await;
    assert!(t["returned"].as_u64().unwrap() >= 1, "{t}");
    let total = t["total"].as_u64().unwrap();
    assert_eq!(total, t["returned"].as_u64().unwrap() + t["unread"].as_u64().unwrap());
    let home = app.page(&qiye.cookie, "/my").await.text();
    assert!(
        home.contains("id=\"todo-count\"") && home.contains(&format!("<b>{total}</b>")),
        "the count in the top bar"
    );
    let card = &home[home.find("id=\"todo\"").expect("the to-do card")..];
    assert!(card.contains("退回补正的办件"), "{card}");
    // Reading a message lowers the count by one.
    let huiqi::service::inbox::Inbox { messages, unread, .. } =
        app.svc().inbox(&Who::system("test"), &also, 1).unwrap();
    if unread > 0 && messages[0].read_at.is_none() {
        let who = app.auth().principal_of("qiye").unwrap().who("test");
        app.svc().inbox_read(&who, &also, messages[0].id).unwrap();
        assert_eq!(todo(&app, &qiye.cookie).await["unread"].as_u64().unwrap(), t["unread"].as_u64().unwrap() - 1);
    }

    // The reviewer: the cases at a stage a reviewer decides in its department.
    let shenhe = app.sign_in_existing("shenhe", password).await;
    let t = todo(&app, &shenhe.cookie).await;
    let who = app.auth().principal_of("shenhe").unwrap().who("test");
    let all = huiqi::service::cases::CaseFilter { limit: 500, ..Default::default() };
    let queue = app.svc().case_queue_filtered(&who, &all).unwrap();
    assert!(queue.total <= 500);
    let deciding: Vec<_> = queue
        .cases
        .iter()
        .filter(|v| {
            v.case.state == huiqi::model::case::CaseState::AwaitingBudget
                || (v.case.state == huiqi::model::case::CaseState::InReview
                    && v.case.current_stage().is_some_and(|s| s.role == huiqi::model::Role::Reviewer))
        })
        .collect();
    assert_eq!(t["to_decide"].as_u64().unwrap() as usize, deciding.len(), "{t}");
    assert!(!deciding.is_empty(), "the demo gives the reviewer cases to decide");
    let staff = app.page(&shenhe.cookie, "/staff").await.text();
    assert!(staff.contains("待我审核的办件"));

    // The publishers: the colleague may approve the amendment, its requester may not.
    let renshe2 = app.sign_in_existing("renshe2", password).await;
    assert_eq!(todo(&app, &renshe2.cookie).await["approvals"], 1);
    let renshe = app.sign_in_existing("renshe", password).await;
    assert_eq!(todo(&app, &renshe.cookie).await["approvals"], 0);

    // Signed out there is nothing to count.
    assert_eq!(app.get("/api/v1/todo").await.status, 401);
    assert!(!app.get("/").await.text().contains("id=\"todo\""));
}
