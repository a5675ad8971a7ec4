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
    let also = demo.also_for.expect("an entity with a returned case");
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
