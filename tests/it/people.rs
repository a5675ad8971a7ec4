//! What people read: every time as `YYYY-MM-DD HH:mm` (China Standard Time), never the epoch
//! milliseconds records hold.

use huiqi::model::{Capacity, Who};

use crate::common::TestApp;

/// A number that looks like milliseconds since 1970 (years 2001–2286).
fn epoch_millis(html: &str) -> Option<String> {
    let bytes = html.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let run = &html[start..i];
            let boundary = i == bytes.len() || !bytes[i].is_ascii_alphanumeric();
            if run.len() == 13 && boundary && run.starts_with('1') {
                return Some(run.to_string());
            }
        }
        i += 1;
    }
    None
}

#[tokio::test]
async fn pages_show_times_not_epoch_numbers() {
    let app = TestApp::with_demo(300);
    app.auth().demo_accounts().unwrap();
    let demo = app.svc().demo_cases().unwrap();
    let also = demo.also_for.first().cloned().expect("an entity with a returned case");
    app.auth().binding_grant(&Who::system("demo"), "qiye", &also, Capacity::Finance).unwrap();
    app.svc().push_pending().unwrap();
    let password = huiqi::auth::demo::DEMO_PASSWORD;
    let qiye = app.sign_in_existing("qiye", password).await;
    let mut pages =
        vec![format!("/my/entities/{also}/inbox"), format!("/my/entities/{also}/subscription"), "/my".into()];
    let cases = app.svc().cases_of_entity(&Who::system("t"), &also).unwrap();
    pages.push(format!("/cases/{}", cases[0].case.id));
    for path in &pages {
        let r = app.page(&qiye.cookie, path).await;
        assert!(r.status.is_success(), "{path}: {}", r.status);
        assert_eq!(epoch_millis(&r.text()), None, "{path} shows an epoch number");
    }
    // The publication request awaiting the second publisher, on the measure page and the console.
    let renshe2 = app.sign_in_existing("renshe2", password).await;
    let who = app.auth().principal_of("renshe2").unwrap().who("test");
    let queue = app.svc().publication_queue(&who).unwrap();
    let waiting = queue.first().expect("a request awaiting approval");
    for path in [format!("/measures/{}", waiting.measure_id), "/staff".into(), "/staff/notices".into()] {
        let r = app.page(&renshe2.cookie, &path).await;
        assert!(r.status.is_success(), "{path}: {}", r.status);
        let html = r.text();
        assert_eq!(epoch_millis(&html), None, "{path} shows an epoch number");
    }
    let html = app.page(&renshe2.cookie, &format!("/measures/{}", waiting.measure_id)).await.text();
    let at = waiting.request.as_ref().unwrap().at.display_cst();
    assert!(html.contains(&at), "the request's time as people read it: {at}");
}

/// Each role sees only the buttons it may use; a refused page keeps the signed-in top bar and
/// says which permission the account lacks (issue 10, defect 2). A role with nothing to
/// administer has no 系统管理 menu (defect 17).
#[tokio::test]
async fn buttons_follow_the_permission_table_and_refusals_keep_the_top_bar() {
    let app = TestApp::with_demo(50);
    app.auth().demo_accounts().unwrap();
    let password = huiqi::auth::demo::DEMO_PASSWORD;
    let shenhe = app.sign_in_existing("shenhe", password).await;
    let html = app.page(&shenhe.cookie, "/staff/entities").await.text();
    for id in ["new-entity", "import-entities", "export-entities"] {
        assert!(!html.contains(&format!("id=\"{id}\"")), "a reviewer is offered {id}");
    }
    assert!(!html.contains("href=\"/admin\""), "a reviewer has nothing to administer");
    let refused = app.page(&shenhe.cookie, "/staff/imports").await;
    assert_eq!(refused.status, 403);
    let page = refused.text();
    assert!(page.contains("id=\"account-link\""), "the refusal keeps the signed-in top bar");
    assert!(page.contains("「导入经营主体」"), "the refusal names what the account lacks: {page}");
    assert!(page.contains("href=\"/staff/cases\""), "the reviewer's navigation is still there");
    // A refusal a handler makes (not the guard) is shown inside the top bar as well.
    let missing = app.page(&shenhe.cookie, "/staff/entities/91230100MA0000000X").await;
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("id=\"account-link\""));

    let admin = app.sign_in_existing("admin", password).await;
    let html = app.page(&admin.cookie, "/staff/entities").await.text();
    for id in ["new-entity", "import-entities", "export-entities"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "the administrator is offered {id}");
    }
    assert!(html.contains("href=\"/admin\""));
    let ducha = app.sign_in_existing("ducha", password).await;
    let html = app.page(&ducha.cookie, "/staff/entities").await.text();
    assert!(html.contains("id=\"export-entities\"") && !html.contains("id=\"new-entity\""));
}

/// The person who asked for a publication is not offered its approval (四眼原则); their
/// colleague is, and a publisher of another department is offered neither approval nor editing
/// (issue 10, defect 11).
#[tokio::test]
async fn only_those_who_may_approve_see_the_approval() {
    let app = TestApp::with_demo(50);
    app.auth().demo_accounts().unwrap();
    app.svc().demo_cases().unwrap();
    let password = huiqi::auth::demo::DEMO_PASSWORD;
    let who = app.auth().principal_of("renshe2").unwrap().who("test");
    let queue = app.svc().publication_queue(&who).unwrap();
    let waiting = queue.first().expect("a request awaiting approval");
    let requester = &waiting.request.as_ref().unwrap().by;
    let path = format!("/measures/{}", waiting.measure_id);
    let mut seen = 0;
    for name in ["renshe", "renshe2", "keji"] {
        let display = app.auth().principal_of(name).unwrap().user.display_name.clone();
        let browser = app.sign_in_existing(name, password).await;
        let html = app.page(&browser.cookie, &path).await.text();
        let offered = html.contains("id=\"approve-publication\"");
        if name == "keji" {
            assert!(!offered && !html.contains("/edit\""), "another department's publisher");
        } else if &display == requester || name == requester {
            assert!(!offered, "{name} asked for the publication and is offered its approval");
            seen += 1;
        } else {
            assert!(offered, "{name} may approve and is not offered it");
            seen += 1;
        }
    }
    assert_eq!(seen, 2);
}

/// People read words where records hold codes: actions, roles and case states in the audit
/// trail and on the console, choices in an entity's history (issue 10, defect 12).
#[tokio::test]
async fn actions_roles_and_values_read_as_words() {
    let app = TestApp::with_demo(20);
    app.auth().demo_accounts().unwrap();
    app.svc().demo_cases().unwrap();
    let password = huiqi::auth::demo::DEMO_PASSWORD;
    let admin = app.sign_in_existing("admin", password).await;
    let trail = app.page(&admin.cookie, "/admin/audit").await.text();
    let table = &trail[trail.find("<table>").unwrap()..];
    for code in [">auth.login<", ">sysadmin<", "in_review → returned", ">case.return<"] {
        assert!(!table.contains(code), "the audit trail shows the code {code}: {table}");
    }
    assert!(table.contains(">登录</td>") && table.contains("系统管理员"), "{table}");
    let console = app.page(&admin.cookie, "/staff").await.text();
    assert!(!console.contains("<code>auth.login</code>") && console.contains(">登录</td>"));

    let token = app.token("editor", huiqi::model::Role::Sysadmin, None);
    let code = crate::common::credit_code(77);
    let body = serde_json::json!({"name": "历史测试企业", "region": "230102", "industry": "C3911", "entity_type": "individual"});
    assert_eq!(app.json("PUT", &format!("/api/v1/entities/{code}"), Some(&token), body).await.status, 201);
    let body = serde_json::json!({"entity_type": "enterprise", "dishonest": true});
    assert_eq!(app.json("PUT", &format!("/api/v1/entities/{code}"), Some(&token), body).await.status, 200);
    let html = app.page(&admin.cookie, &format!("/staff/entities/{code}")).await.text();
    let history = &html[html.find("class=\"diff\"").expect("a change history")..];
    assert!(history.contains("个体工商户 → 企业"), "{history}");
    assert!(!history.contains("→ enterprise") && !history.contains("→ true"), "{history}");
}

/// In English, vocabularies read in English on pages and in filters: the policy library's
/// levels and modes, the reviewer's state filter and the cases' states (issue 10, defect 16).
#[tokio::test]
async fn english_mode_names_states_and_filters_in_english() {
    let app = TestApp::with_demo(50);
    app.auth().demo_accounts().unwrap();
    app.svc().demo_cases().unwrap();
    let en = |cookie: &str| format!("{cookie}; huiqi_lang=en");
    let r = app
        .send(
            axum::http::Request::get("/policies")
                .header("cookie", "huiqi_lang=en")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    let html = r.text();
    assert!(html.contains("By application") && html.contains("Municipal"), "modes and levels in English");
    assert!(!html.contains(">申报类<") && !html.contains(">市级<"), "no Chinese vocabulary left");
    let shenhe = app.sign_in_existing("shenhe", huiqi::auth::demo::DEMO_PASSWORD).await;
    let html = app.page(&en(&shenhe.cookie), "/staff/cases").await.text();
    assert!(html.contains(">In review<") && !html.contains(">审核中<"), "states in English: {html}");
}
