//! Cases through the API and the pages: apply with materials, submission freezes the data,
//! review stage by stage with a return for supplement, the instant decision, the budget
//! queue, the inbox, and who may see and decide which case.

use axum::http::StatusCode;
use huiqi::model::CaseId;
use huiqi::model::{Capacity, CreditCode, Role, Vocabulary, Who};
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, credit_code};
use huiqi::store::prelude::*;

const DEPT: &str = "哈尔滨市科学技术局";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

struct Fixture {
    app: TestApp,
    /// The enterprise bound to entity 1; `other` is bound to entity 2.
    enterprise: String,
    other: String,
    reviewer: String,
    reviewer2: String,
    publisher: String,
    admin: String,
    code: String,
}

fn measure(name: &str, mode: &str, budget: Option<f64>) -> Value {
    json!({
        "name": name,
        "category": "subsidy",
        "department": DEPT,
        "mode": mode,
        "amount": "min(rd_expense * 0.1, 30)",
        "cap": 30,
        "budget": budget,
        "window_start": "2026-01-01",
        "window_end": "2026-12-31",
        "conditions": [{"label": "无失信记录", "expr": "!dishonest"}],
        "materials": ["营业执照复印件", "无需提交材料（系统核验纳税数据）"],
        "form_fields": [
            {"key": "contact", "label": "联系人", "kind": "text", "required": true},
            {"key": "employees", "label": "从业人数", "kind": "number", "required": false}
        ],
        "review_stages": if mode == "apply" { json!([{"name": "受理", "days": 2}, {"name": "审定", "days": 5}]) } else { json!([]) },
        "publicity_days": 5,
        "contact": "0451-86612345"
    })
}

async fn publish(app: &TestApp, token: &str, policy: u64, body: Value) -> u64 {
    let r = app.json("POST", &format!("/api/v1/policies/{policy}/measures"), Some(token), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["measure_id"].as_u64().unwrap();
    let r = app.publish(token, id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    id
}

async fn fixture() -> (Fixture, u64, u64, u64) {
    let app = TestApp::new();
    let admin = app.admin_token();
    for (n, rd) in [(1, 200.0), (2, 150.0)] {
        let body = json!({"name": format!("测试企业{n}"), "region": "230102", "industry": "C3911",
            "employees": 80, "revenue": 2000, "rd_expense": rd, "dishonest": false});
        let r = app.json("PUT", &format!("/api/v1/entities/{}", credit_code(n)), Some(&admin), body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let publisher = app.publisher_token("keji", DEPT);
    let policy = json!({"title": "科技创新若干措施", "doc_number": "哈科规〔2026〕1号", "level": "municipal",
        "department": DEPT, "issue_date": "2026-01-01", "valid_from": "2026-01-01", "valid_until": "2027-12-31",
        "text": "第一条", "interpretation": "", "tags": []});
    let r = app.json("POST", "/api/v1/policies", Some(&publisher), policy).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let policy = r.json()["id"].as_u64().unwrap();
    let apply = publish(&app, &publisher, policy, measure("研发费用补助", "apply", None)).await;
    let instant = publish(&app, &publisher, policy, measure("研发奖励（即申即享）", "instant", None)).await;
    let small = publish(&app, &publisher, policy, measure("小额补助", "apply", Some(25.0))).await;
    let enterprise = app.token("qiye", Role::Enterprise, None);
    let other = app.token("qiye2", Role::Enterprise, None);
    let system = Who::system("test");
    app.auth()
        .binding_grant(&system, "qiye", &CreditCode::parse(&credit_code(1)).unwrap(), Capacity::LegalRep)
        .unwrap();
    app.auth()
        .binding_grant(&system, "qiye2", &CreditCode::parse(&credit_code(2)).unwrap(), Capacity::LegalRep)
        .unwrap();
    let reviewer = app.token("shenhe", Role::Reviewer, Some(DEPT));
    let reviewer2 = app.token("renshe", Role::Reviewer, Some("哈尔滨市人力资源和社会保障局"));
    let f = Fixture { app, enterprise, other, reviewer, reviewer2, publisher, admin, code: credit_code(1) };
    (f, apply, instant, small)
}

impl Fixture {
    async fn call(&self, method: &str, uri: &str, token: &str, body: Value) -> crate::common::Reply {
        self.app.json(method, uri, Some(token), body).await
    }

    async fn open(&self, token: &str, code: &str, measure: u64) -> crate::common::Reply {
        self.call("POST", "/api/v1/cases", token, json!({"credit_code": code, "measure_id": measure})).await
    }
}

#[tokio::test]
async fn an_application_goes_through_return_and_every_stage_to_approval() {
    let (f, apply, _, _) = fixture().await;
    // A draft, prefilled from the entity library.
    let r = f.open(&f.enterprise, &f.code, apply).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let case = r.json();
    let id = case["id"].as_u64().unwrap();
    assert_eq!(case["state"], "draft");
    assert_eq!(case["form"]["employees"], "80");
    // Opening again returns the same case.
    assert_eq!(f.open(&f.enterprise, &f.code, apply).await.json()["id"], id);

    // Submission needs the required field and the material (not the one the system checks).
    let r = f.call("POST", &format!("/api/v1/cases/{id}/submit"), &f.enterprise, json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let msg = r.json()["error"].as_str().unwrap().to_string();
    assert!(msg.contains("联系人") && msg.contains("营业执照复印件") && !msg.contains("系统核验"), "{msg}");
    // A file whose content is not a document is refused whatever its name.
    let slot = "营业执照复印件";
    let uri = format!("/api/v1/cases/{id}/files?slot={}&name=licence.pdf", huiqi::http::pages::url_encode(slot));
    let r = f.app.post_bytes(&uri, &f.enterprise, b"MZ\x90\x00not a pdf".to_vec()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("文件类型不支持"));
    let r = f.app.post_bytes(&uri, &f.enterprise, PDF.to_vec()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["content_type"], "application/pdf");
    // Another enterprise cannot add to this case; to it, the case does not exist.
    assert_eq!(f.app.post_bytes(&uri, &f.other, PDF.to_vec()).await.status, StatusCode::NOT_FOUND);

    let r = f
        .call(
            "POST",
            &format!("/api/v1/cases/{id}/submit"),
            &f.enterprise,
            json!({"form": {"contact": "张三", "employees": "80"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let case = r.json();
    assert_eq!(case["state"], "in_review");
    assert_eq!(case["frozen"]["outcome"], "eligible");
    assert_eq!(case["frozen"]["amount"], 20_000_000, "min(200 × 0.1, 30) = 20 万元, in fen");
    assert_eq!(case["stages"][0]["started"], crate::common::TODAY);
    assert_eq!((case["stage_name"].as_str(), case["due"].as_str()), (Some("受理"), Some("2026-12-01")));

    // Later edits of the entity never change what was frozen.
    let uri = format!("/api/v1/entities/{}", f.code);
    assert_eq!(f.call("PUT", &uri, &f.admin, json!({"rd_expense": 10})).await.status, StatusCode::OK);

    // Scope: another enterprise and another department see nothing, decide nothing — to them
    // the case answers as a missing one does.
    let show = format!("/api/v1/cases/{id}");
    let missing = f.app.get_as("/api/v1/cases/999999", &f.other).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for token in [&f.other, &f.reviewer2] {
        let r = f.app.get_as(&show, token).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(
            r.json()["error"].as_str().unwrap().replace(&id.to_string(), "N"),
            missing.json()["error"].as_str().unwrap().replace("999999", "N")
        );
    }
    let decide = format!("/api/v1/cases/{id}/decide");
    let r = f.call("POST", &decide, &f.reviewer2, json!({"action": "approve"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text());
    // The enterprise may not decide its own case; a publisher is not this stage's role.
    assert_eq!(
        f.call("POST", &decide, &f.enterprise, json!({"action": "approve"})).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(f.call("POST", &decide, &f.publisher, json!({"action": "approve"})).await.status, StatusCode::CONFLICT);

    // The reviewer returns it: a reason is required; the clock stops; the enterprise is told.
    let r = f.call("POST", &decide, &f.reviewer, json!({"action": "return"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = f.call("POST", &decide, &f.reviewer, json!({"action": "return", "reason": "执照复印件不清晰"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["state"], "returned");
    assert_eq!(r.json()["due"], Value::Null);
    let inbox = f.app.get_as(&format!("/api/v1/my/entities/{}/inbox", f.code), &f.enterprise).await.json();
    let newest = &inbox["messages"][0];
    assert!(newest["body"].as_str().unwrap().contains("执照复印件不清晰"), "{newest}");
    assert!(inbox["unread"].as_u64().unwrap() >= 2);

    // Resubmitted, then approved at both stages with the frozen amount.
    let r = f
        .call("POST", &format!("/api/v1/cases/{id}/submit"), &f.enterprise, json!({"form": {"contact": "李四"}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["state"], "in_review");
    for stage in ["受理", "审定"] {
        let r = f.call("POST", &decide, &f.reviewer, json!({"action": "approve", "reason": "同意"})).await;
        assert_eq!(r.status, StatusCode::OK, "{stage}: {}", r.text());
    }
    let case = f.app.get_as(&show, &f.enterprise).await.json();
    assert_eq!(case["state"], "approved");
    assert_eq!(case["approved_amount"], 20_000_000);
    // The research expense as it was at submission (the library now says 10).
    assert_eq!(case["frozen"]["values"][0], json!(["rd_expense", "研发费用", "200 万元"]));
    assert_eq!(case["form"]["contact"], "李四");
    assert_eq!(case["frozen"]["form"]["contact"], "张三");
    // Approved once: no second application for the same measure.
    assert_eq!(f.open(&f.enterprise, &f.code, apply).await.status, StatusCode::CONFLICT);
    // Every move is in the audit trail.
    let actions: Vec<String> = f.app.svc().audit_tail(50).unwrap().into_iter().map(|a| a.action).collect();
    for a in ["case.create", "case.attach", "case.submit", "case.return", "case.resubmit", "case.approve"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    // The enterprise reads which department acted, never the reviewer's account, nor the budget.
    let seen = f.app.get_as(&show, &f.enterprise).await.text();
    assert!(!seen.contains("shenhe") && seen.contains(DEPT), "{seen}");
    assert!(f.app.get_as(&show, &f.reviewer).await.text().contains("shenhe"), "staff see who");
    // The attachment downloads intact for the reviewer.
    let r = f.app.get_as(&format!("/api/v1/cases/{id}/files/0"), &f.reviewer).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, PDF);
}

#[tokio::test]
async fn an_instant_case_is_decided_at_once_and_a_short_budget_queues() {
    let (f, _, instant, small) = fixture().await;
    let slot = huiqi::http::pages::url_encode("营业执照复印件");
    for measure in [instant, small] {
        for (token, code) in [(&f.enterprise, credit_code(1)), (&f.other, credit_code(2))] {
            let id = f.open(token, &code, measure).await.json()["id"].as_u64().unwrap();
            let uri = format!("/api/v1/cases/{id}/files?slot={slot}&name=a.pdf");
            assert_eq!(f.app.post_bytes(&uri, token, PDF.to_vec()).await.status, StatusCode::CREATED);
            let r = f
                .call("POST", &format!("/api/v1/cases/{id}/submit"), token, json!({"form": {"contact": "王五"}}))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            if measure == instant {
                assert_eq!(r.json()["state"], "approved", "decided at once: {}", r.text());
                continue;
            }
            for _ in 0..2 {
                let decide = format!("/api/v1/cases/{id}/decide");
                let r = f.call("POST", &decide, &f.reviewer, json!({"action": "approve"})).await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.text());
            }
        }
    }
    // The small measure has 25 万元: the first case (20) fits, the second (15) waits.
    let queue = f.app.get_as("/api/v1/cases", &f.reviewer).await.json();
    let waiting: Vec<&Value> =
        queue["cases"].as_array().unwrap().iter().filter(|c| c["state"] == "awaiting_budget").collect();
    assert_eq!(waiting.len(), 1, "{queue}");
    assert_eq!(waiting[0]["budget_left"], 5_000_000);
    let id = waiting[0]["id"].as_u64().unwrap();
    let r = f.call("POST", &format!("/api/v1/cases/{id}/release"), &f.reviewer, json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "the budget still does not allow it: {}", r.text());
    // The department raises the budget in a new version; the case can now be approved.
    let mut body = measure("小额补助", "apply", Some(40.0));
    body["name"] = json!("小额补助");
    let r = f.call("PUT", &format!("/api/v1/measures/{small}"), &f.publisher, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = f.app.publish(&f.publisher, small).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = f.call("POST", &format!("/api/v1/cases/{id}/release"), &f.reviewer, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["state"], "approved");
    assert_eq!(f.app.svc().store.read().unwrap().spent(small).unwrap(), 35_000_000);
}

#[tokio::test]
async fn the_pages_let_an_enterprise_apply_and_a_reviewer_decide() {
    let (f, apply, _, _) = fixture().await;
    let ent = f.app.sign_in_existing("qiye", PASSWORD).await;
    // The enterprise's page offers the open measure; applying opens the case page.
    let page = f.app.page(&ent.cookie, &format!("/my/entities/{}", f.code)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("研发费用补助") && page.text().contains("在线申报"), "the apply button");
    let r = f
        .app
        .form(
            &ent,
            &format!("/my/entities/{}/apply", f.code),
            &[("csrf", &ent.csrf), ("measure_id", &apply.to_string())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let case_path = r.location();
    let id: u64 = case_path.trim_start_matches("/cases/").parse().unwrap();
    // Submitting without the material shows the form again with the reason and what was typed.
    let r = f.app.form(&ent, &format!("/cases/{id}/submit"), &[("csrf", &ent.csrf), ("form.contact", "赵六")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("请上传申报材料「营业执照复印件」") && r.text().contains("赵六"));
    // The draft kept the contact.
    let case = f.app.svc().case_get(&Who::system("test"), CaseId(id)).unwrap().case;
    assert_eq!(case.form["contact"], "赵六");
    let uri = format!("/api/v1/cases/{id}/files?slot={}&name=a.pdf", huiqi::http::pages::url_encode("营业执照复印件"));
    assert_eq!(f.app.post_bytes(&uri, &f.enterprise, PDF.to_vec()).await.status, StatusCode::CREATED);
    let r = f.app.form(&ent, &format!("/cases/{id}/submit"), &[("csrf", &ent.csrf), ("form.contact", "赵六")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());

    // The reviewer's queue lists it; the case page offers the decision.
    let rev = f.app.sign_in_existing("shenhe", PASSWORD).await;
    let queue = f.app.page(&rev.cookie, "/staff/cases").await;
    assert!(queue.text().contains(&format!("/cases/{id}")), "in the queue");
    let page = f.app.page(&rev.cookie, &case_path).await;
    assert!(page.text().contains("id=\"approve\""), "decision buttons");
    let r = f.app.form(&rev, &format!("/cases/{id}/decide"), &[("csrf", &rev.csrf), ("action", "reject")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("必须填写理由"));
    let r = f
        .app
        .form(
            &rev,
            &format!("/cases/{id}/decide"),
            &[("csrf", &rev.csrf), ("action", "reject"), ("reason", "研发费用归集不规范")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // The enterprise sees the outcome and the reason, with the department (not a person) acting.
    let page = f.app.page(&ent.cookie, &case_path).await.text();
    assert!(page.contains("未通过") && page.contains("研发费用归集不规范"));
    assert!(!page.contains("shenhe"), "the reviewer's account name is not shown to the enterprise");
    let inbox = f.app.page(&ent.cookie, &format!("/my/entities/{}/inbox", f.code)).await.text();
    assert!(inbox.contains("办件进度：研发费用补助"));
    // Another enterprise cannot open the case page.
    f.app.account("qiye3", Role::Enterprise, None);
    let stranger = f.app.sign_in_existing("qiye3", PASSWORD).await;
    assert_eq!(f.app.page(&stranger.cookie, &case_path).await.status, StatusCode::NOT_FOUND);
}

async fn board(f: &Fixture, token: &str) -> u64 {
    f.app.get_as("/api/v1/supervision", token).await.json()["count"].as_u64().unwrap()
}

#[tokio::test]
async fn an_overdue_stage_reaches_the_supervisors_board_on_the_right_working_day() {
    let (f, apply, _, _) = fixture().await;
    let svc = f.app.svc().clone();
    // 2027: New Year's Day, Friday 1 January, is a holiday.
    svc.calendar_import_year(&Who::system("test"), 2027, "date,kind,name\n2027-01-01,holiday,元旦\n").unwrap();
    let supervisor = f.app.token("ducha", Role::Supervisor, None);
    // Wednesday 2026-12-30: the enterprise submits; 受理 has 2 working days: Thursday 31,
    // then (1 January off, a weekend) Monday 4 January.
    svc.config.clock.advance(33 * 86_400);
    assert_eq!(svc.today().to_string(), "2026-12-30");
    let id = f.open(&f.enterprise, &f.code, apply).await.json()["id"].as_u64().unwrap();
    let slot = huiqi::http::pages::url_encode("营业执照复印件");
    f.app.post_bytes(&format!("/api/v1/cases/{id}/files?slot={slot}&name=a.pdf"), &f.enterprise, PDF.to_vec()).await;
    let r = f
        .call("POST", &format!("/api/v1/cases/{id}/submit"), &f.enterprise, json!({"form": {"contact": "张三"}}))
        .await;
    assert_eq!(r.json()["due"], "2027-01-04", "{}", r.text());

    let mut warned_on = None;
    for (day, on_board) in [
        ("2026-12-31", 0),
        ("2027-01-01", 0),
        ("2027-01-02", 0),
        ("2027-01-03", 0),
        ("2027-01-04", 0),
        ("2027-01-05", 1),
    ] {
        svc.config.clock.advance(86_400);
        assert_eq!(svc.today().to_string(), day);
        let report = svc.sweep().unwrap();
        if report.warned > 0 {
            warned_on.get_or_insert(day);
        }
        assert_eq!(board(&f, &supervisor).await, on_board, "on {day}");
    }
    // The handler was warned the working day before the due day.
    assert_eq!(warned_on, Some("2026-12-31"));
    let notices = f.app.get_as("/api/v1/notices", &f.reviewer).await.json();
    let titles: Vec<&str> =
        notices["notices"].as_array().unwrap().iter().map(|n| n["title"].as_str().unwrap()).collect();
    assert!(
        titles.iter().any(|t| t.contains("将于 2027-01-04 到期")) && titles.iter().any(|t| t.contains("已超期")),
        "{titles:?}"
    );
    // Sweeping again opens nothing twice.
    assert_eq!(svc.sweep().unwrap().opened, 0);

    // The supervisor issues a notice; the department sees it; the board shows its deadline.
    let items = f.app.get_as("/api/v1/supervision", &supervisor).await.json();
    let item = items["items"][0]["id"].as_u64().unwrap();
    let uri = format!("/api/v1/supervision/{item}/notice");
    assert_eq!(
        f.call("POST", &uri, &supervisor, json!({"text": "", "days": 2})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let r = f.call("POST", &uri, &supervisor, json!({"text": "请立即受理", "days": 2})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["notice"]["deadline"], "2027-01-07");
    let notices = f.app.get_as("/api/v1/notices", &f.reviewer).await.json();
    assert!(notices["notices"][0]["title"].as_str().unwrap().starts_with("督办通知"));
    // A reviewer may not use the board.
    assert_eq!(f.app.get_as("/api/v1/supervision", &f.reviewer).await.status, StatusCode::FORBIDDEN);
    // Deciding the stage resolves the item in the same transaction (nothing left for the sweep).
    let r = f.call("POST", &format!("/api/v1/cases/{id}/decide"), &f.reviewer, json!({"action": "approve"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(svc.sweep().unwrap().resolved, 0);
    assert_eq!(board(&f, &supervisor).await, 0);
    let all = f.app.get_as("/api/v1/supervision?all=true", &supervisor).await.json();
    assert_eq!(all["items"][0]["status"], "resolved");
    // The supervisors' page shows the history; the specialist's page lists assigned entities.
    let ducha = f.app.sign_in_existing("ducha", PASSWORD).await;
    let page = f.app.page(&ducha.cookie, "/staff/supervision?all=true").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains(&format!("/cases/{id}")));
}

#[tokio::test]
async fn specialists_see_their_entities_and_file_on_their_behalf() {
    let (f, apply, _, _) = fixture().await;
    f.app.account("bangban", Role::Specialist, None);
    let specialist = f.app.token("bangban2", Role::Specialist, None);
    let supervisor = f.app.token("ducha", Role::Supervisor, None);
    // Before the assignment the specialist may not file for the entity (which answers as missing).
    assert_eq!(f.open(&specialist, &f.code, apply).await.status, StatusCode::NOT_FOUND);
    let body = json!({"specialist": "bangban2", "credit_code": f.code});
    assert_eq!(f.call("PUT", "/api/v1/assignments", &supervisor, body).await.status, StatusCode::NO_CONTENT);
    let r =
        f.call("PUT", "/api/v1/assignments", &supervisor, json!({"specialist": "qiye", "credit_code": f.code})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "not a specialist: {}", r.text());
    // The specialist opens a case for the entity: it shows as filed on its behalf.
    let r = f.open(&specialist, &f.code, apply).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["on_behalf"], true);
    let mine = f.app.get_as("/api/v1/my/assigned", &specialist).await.json();
    assert_eq!(mine["entities"][0]["credit_code"], f.code);
    assert!(mine["entities"][0]["actions"][0].as_str().unwrap().contains("草稿未提交"), "{mine}");
    // The enterprise sees the case too.
    let cases = f.app.get_as(&format!("/api/v1/entities/{}/cases", f.code), &f.enterprise).await.json();
    assert_eq!(cases["count"], 1);
}

#[tokio::test]
async fn the_demo_gives_every_role_a_days_work() {
    let app = TestApp::with_demo(300);
    app.auth().demo_accounts().unwrap();
    let demo = app.svc().demo_cases().unwrap();
    let made = demo.cases;
    assert!(made >= 10, "made {made}");
    assert_eq!(app.svc().demo_cases().unwrap().cases, 0, "once");
    let also = demo.also_for.first().cloned().expect("a returned case for the demo enterprise");
    app.auth().binding_grant(&Who::system("demo"), "qiye", &also, Capacity::Finance).unwrap();
    let who = |name: &str| {
        let p = app.auth().principal_of(name).unwrap();
        p.who("test")
    };
    let svc = app.svc();
    // The reviewer has a queue in several states, some overdue.
    let queue = svc.case_queue(&who("shenhe")).unwrap().cases;
    let states: std::collections::HashSet<&str> = queue.iter().map(|v| v.state_label).collect();
    assert!(queue.len() >= 5 && states.len() >= 2, "{states:?}");
    assert!(queue.iter().any(|v| v.overdue));
    // The supervisor has overdue stages on the board; the department has notices.
    assert!(!svc.supervision_board(&who("ducha"), false).unwrap().is_empty());
    assert!(svc.notices(&who("shenhe"), 10).unwrap().1 > 0);
    // The specialist looks after entities with cases; the enterprise has its own to act on.
    assert!(svc.assigned(&who("bangban")).unwrap().iter().any(|e| !e.cases.is_empty()));
    let mine = svc.cases_of_entity(&who("qiye"), &also).unwrap();
    assert!(
        mine.iter().any(|v| v.case.state.key() == "returned"),
        "{:?}",
        mine.iter().map(|v| v.state_label).collect::<Vec<_>>()
    );
    // Some applications were approved, with amounts; a draft awaits the second publisher.
    let all: Vec<_> =
        (1..=made as u64 + 50).filter_map(|id| svc.case_get(&Who::system("t"), CaseId(id)).ok()).collect();
    assert!(all.iter().all(|v| v.case.state.key() != "withdrawn"), "no refused drafts left behind");
    assert!(all.iter().any(|v| v.case.state.holds_money()), "approved (and on to payment)");
    assert_eq!(svc.publication_queue(&who("renshe2")).unwrap().len(), 1);
}

/// A zip holding these parts (a Word or Excel file is one, with its own parts).
fn zip_of(parts: &[&str]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    for p in parts {
        w.start_file(*p, zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut w, b"<x/>").unwrap();
    }
    w.finish().unwrap();
    out.into_inner()
}

#[tokio::test]
async fn attachments_are_only_the_documented_types_checked_as_what_they_claim() {
    let (f, apply, _, _) = fixture().await;
    let id = f.open(&f.enterprise, &f.code, apply).await.json()["id"].as_u64().unwrap();
    let slot = huiqi::http::pages::url_encode("营业执照复印件");
    let attach =
        |name: &str| format!("/api/v1/cases/{id}/files?slot={slot}&name={}", huiqi::http::pages::url_encode(name));
    let docx = zip_of(&["[Content_Types].xml", "word/document.xml", "word/styles.xml"]);
    for (name, bytes) in [
        ("tool.exe", zip_of(&["tool.exe"])),
        ("tool.zip", zip_of(&["a.txt"])),
        ("报告.docx", zip_of(&["[Content_Types].xml", "xl/workbook.xml"])),
        ("报告.docx", b"PK\x03\x04 a broken zip".to_vec()),
        ("app.apk", zip_of(&["AndroidManifest.xml", "classes.dex"])),
    ] {
        let r = f.app.post_bytes(&attach(name), &f.enterprise, bytes).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {}", r.text());
        assert!(r.json()["error"].as_str().unwrap().contains("docx"), "{name}: {}", r.text());
    }
    let r = f.app.post_bytes(&attach("审计报告.docx"), &f.enterprise, docx).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert!(r.json()["content_type"].as_str().unwrap().contains("wordprocessing"));
    // The route takes an attachment's worth, not an import's: a larger body is refused early.
    let r = f.app.post_bytes(&attach("big.pdf"), &f.enterprise, vec![b'%'; 21 * 1024 * 1024]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("MB"));
    let case = f.call("GET", &format!("/api/v1/cases/{id}"), &f.enterprise, json!({})).await.json();
    assert_eq!(case["files"].as_array().unwrap().len(), 1, "only the real document was kept");
}

#[tokio::test]
async fn the_queue_comes_in_pages_soonest_due_first() {
    let app = TestApp::with_demo(300);
    app.auth().demo_accounts().unwrap();
    app.svc().demo_cases().unwrap();
    let scopes = huiqi::auth::permissions::scopes_for(Role::Reviewer);
    let token = app.auth().token_create(&Who::system("t"), "shenhe", "t", &scopes, None).unwrap().1;
    let all = app.get_as("/api/v1/cases?limit=500", &token).await.json();
    let total = all["count"].as_u64().unwrap() as usize;
    assert!(total >= 5, "{all}");
    let ids = |v: &Value| v["cases"].as_array().unwrap().iter().map(|c| c["id"].as_u64().unwrap()).collect::<Vec<_>>();
    let whole = ids(&all);
    assert_eq!(whole.len(), total);
    let first = app.get_as("/api/v1/cases?limit=2", &token).await.json();
    let second = app.get_as("/api/v1/cases?limit=2&offset=2", &token).await.json();
    assert_eq!((first["count"].as_u64(), first["limit"].as_u64()), (Some(total as u64), Some(2)));
    assert_eq!([ids(&first), ids(&second)].concat(), whole[..4], "pages follow the same order");
    let days: Vec<i64> =
        all["cases"].as_array().unwrap().iter().map(|c| c["days_left"].as_i64().unwrap_or(i64::MAX)).collect();
    assert!(days.windows(2).all(|w| w[0] <= w[1]), "soonest due first: {days:?}");
    let r = app.get_as("/api/v1/cases?offset=-1", &token).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("offset"));
    // The page has a pager when there is more.
    let b = app.sign_in_existing("shenhe", huiqi::auth::demo::DEMO_PASSWORD).await;
    let html = app.page(&b.cookie, "/staff/cases?limit=2").await.text();
    assert!(html.contains("case-pager") && html.contains("offset=2"), "a link to the next page");
}

/// A multipart body as the case page's one form sends it to `/cases/{id}/files`.
fn upload_body(csrf: &str, typed: &[(&str, &str)], slot: &str, file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "huiqitestboundary";
    let mut body = Vec::new();
    let mut text = |name: &str, value: &str| {
        body.extend(
            format!("--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    };
    text("csrf", csrf);
    for (k, v) in typed {
        text(&format!("form.{k}"), v);
    }
    text("slot", slot);
    let (name, bytes) = file.unwrap_or(("", b""));
    body.extend(
        format!("--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"{name}\"\r\ncontent-type: application/octet-stream\r\n\r\n")
            .bytes(),
    );
    body.extend(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploading a material from the case page keeps what was typed in the form, also when no file
/// was chosen; the page lists each material slot once, by name, as uploaded or missing with the
/// file's name and size (issue 10, defects 4 and 5).
#[tokio::test]
async fn uploading_keeps_what_was_typed_and_the_checklist_shows_each_slot_once() {
    use axum::body::Body;
    use axum::http::{Request, header};
    let (f, apply, _, _) = fixture().await;
    let id = f.open(&f.enterprise, &f.code, apply).await.json()["id"].as_u64().unwrap();
    let browser = f.app.sign_in_existing("qiye", PASSWORD).await;
    let send = |typed: Vec<(&'static str, &'static str)>, file: Option<(&'static str, &'static [u8])>| {
        let (content_type, body) = upload_body(&browser.csrf, &typed, "营业执照复印件", file);
        Request::post(format!("/cases/{id}/files"))
            .header(header::CONTENT_TYPE, content_type)
            .header(header::COOKIE, &browser.cookie)
            .body(Body::from(body))
            .unwrap()
    };
    // No file chosen: refused with a word about it, the typed contact saved all the same.
    let r = f.app.send(send(vec![("contact", "王会计"), ("employees", "81")], None)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("请先选择要上传的文件"), "{}", r.text());
    let case = f.call("GET", &format!("/api/v1/cases/{id}"), &f.enterprise, Value::Null).await.json();
    assert_eq!(case["form"]["contact"], "王会计", "{case}");
    // With a file: attached, and what was typed (changed meanwhile) saved with it.
    let r = f.app.send(send(vec![("contact", "李出纳"), ("employees", "82")], Some(("执照.pdf", PDF)))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let case = f.call("GET", &format!("/api/v1/cases/{id}"), &f.enterprise, Value::Null).await.json();
    assert_eq!(case["form"]["contact"], "李出纳");
    assert_eq!(case["form"]["employees"], "82");
    assert_eq!(case["files"][0]["slot"], "营业执照复印件");
    assert_eq!(case["materials"][0]["name"], "营业执照复印件");
    assert_eq!(case["materials"][0]["files"][0]["name"], "执照.pdf");
    let html = f.app.page(&browser.cookie, &format!("/cases/{id}")).await.text();
    let checklist = &html[html.find("id=\"materials\"").expect("a checklist")..];
    let checklist = &checklist[..checklist.find("</ul>").unwrap()];
    assert_eq!(checklist.matches("<b>营业执照复印件</b>").count(), 1, "{checklist}");
    assert!(checklist.contains("执照.pdf") && checklist.contains(&format!("{} B", PDF.len())), "{checklist}");
    assert!(checklist.contains("class=\"done\""), "{checklist}");
}

/// A measure may list a material once only, and not again as a file field of its form: saving
/// it says which (issue 10, defect 5). File fields show by label, never by key.
#[tokio::test]
async fn a_material_is_one_slot_listed_once_and_shown_by_name() {
    let (f, apply, _, _) = fixture().await;
    let mut body = measure("重复材料", "apply", None);
    body["materials"] = json!(["营业执照复印件", "营业执照复印件"]);
    let r = f.call("POST", "/api/v1/policies/1/measures", &f.publisher, body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("申报材料「营业执照复印件」重复列出"), "{}", r.text());
    let mut body = measure("材料与附件重名", "apply", None);
    body["form_fields"] = json!([{"key": "licence_copy", "label": "营业执照复印件", "kind": "file", "required": true}]);
    let r = f.call("POST", "/api/v1/policies/1/measures", &f.publisher, body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("与申报材料重名"), "{}", r.text());
    // A file field shows by its label; its key stays inside.
    let mut body = measure("带附件字段", "apply", None);
    body["form_fields"] = json!([{"key": "talent_roster", "label": "人才花名册", "kind": "file", "required": true}]);
    let r = f.call("POST", "/api/v1/policies/1/measures", &f.publisher, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["measure_id"].as_u64().unwrap();
    assert_eq!(f.app.publish(&f.publisher, id).await.status, StatusCode::OK);
    let case = f.open(&f.enterprise, &f.code, id).await.json()["id"].as_u64().unwrap();
    let uri = format!("/api/v1/cases/{case}/files?slot=talent_roster&name=roster.pdf");
    assert_eq!(f.app.post_bytes(&uri, &f.enterprise, PDF.to_vec()).await.status, StatusCode::CREATED);
    let browser = f.app.sign_in_existing("qiye", PASSWORD).await;
    let html = f.app.page(&browser.cookie, &format!("/cases/{case}")).await.text();
    assert!(html.contains("人才花名册") && !html.contains(">talent_roster<"), "the key shows where the name belongs");
    let r = f.call("POST", &format!("/api/v1/cases/{case}/submit"), &f.enterprise, json!({})).await;
    let text = r.text();
    assert!(!text.contains("talent_roster」"), "{text}");
    let _ = apply;
}

/// After a returned case is resubmitted, its page no longer shows the return's reason as the
/// current one (the history keeps it); an entity with a case under way for a measure is offered
/// to continue it, not 在线申报 again (issue 10, defect 14).
#[tokio::test]
async fn a_resubmitted_case_drops_the_old_reason_and_a_case_under_way_is_continued() {
    let (f, apply, _, _) = fixture().await;
    let browser = f.app.sign_in_existing("qiye", PASSWORD).await;
    let entity_page = format!("/my/entities/{}", f.code);
    let apply_line = |html: &str| {
        let at = html.find(&format!("data-measure=\"{apply}\"")).expect("an apply line for the measure");
        html[at..at + html[at..].find("</form>").unwrap()].to_string()
    };
    let line = apply_line(&f.app.page(&browser.cookie, &entity_page).await.text());
    assert!(line.contains("在线申报"), "{line}");
    let id = f.open(&f.enterprise, &f.code, apply).await.json()["id"].as_u64().unwrap();
    let line = apply_line(&f.app.page(&browser.cookie, &entity_page).await.text());
    assert!(!line.contains("在线申报") && line.contains(&format!("/cases/{id}")), "{line}");
    assert!(line.contains("继续办理"), "{line}");

    let uri = format!("/api/v1/cases/{id}/files?slot={}&name=a.pdf", huiqi::http::pages::url_encode("营业执照复印件"));
    assert_eq!(f.app.post_bytes(&uri, &f.enterprise, PDF.to_vec()).await.status, StatusCode::CREATED);
    let submit = format!("/api/v1/cases/{id}/submit");
    let r = f.call("POST", &submit, &f.enterprise, json!({"form": {"contact": "张三"}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let decide = format!("/api/v1/cases/{id}/decide");
    let r = f.call("POST", &decide, &f.reviewer, json!({"action": "return", "reason": "执照复印件不清晰"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let current = |html: String| {
        let at = html.find("class=\"next-step\"").expect("the next step");
        html[at..at + html[at..].find("</p>").unwrap()].to_string()
    };
    let page = format!("/cases/{id}");
    assert!(current(f.app.page(&browser.cookie, &page).await.text()).contains("执照复印件不清晰"));
    let r = f.call("POST", &submit, &f.enterprise, json!({"form": {"contact": "张三"}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["reason"], Value::Null);
    let html = f.app.page(&browser.cookie, &page).await.text();
    assert!(!current(html.clone()).contains("执照复印件不清晰"), "the old reason shown as current");
    assert!(html.contains("执照复印件不清晰"), "the history keeps it");
}

/// A submitted case has a number people quote and a receipt that prints: what was submitted and
/// when, the frozen amount, each stage's due day (later ones projected); the measure page offers
/// 我要申报 — a sign-in prompt when signed out, then the entity's form or its case under way
/// (issue 10, "enterprise").
#[tokio::test]
async fn a_submitted_case_has_a_number_and_a_receipt_and_the_measure_page_offers_to_apply() {
    let (f, apply, _, _) = fixture().await;
    // Signed out, the measure page asks to sign in first and comes back.
    let html = f.app.get(&format!("/measures/{apply}")).await.text();
    assert!(html.contains(&format!("href=\"/login?next=/measures/{apply}\" id=\"apply-sign-in\"")), "{html}");
    let browser = f.app.sign_in_existing("qiye", PASSWORD).await;
    let html = f.app.page(&browser.cookie, &format!("/measures/{apply}")).await.text();
    let boxed = &html[html.find("id=\"apply-box\"").expect("the apply box")..];
    assert!(boxed.contains(&format!("action=\"/my/entities/{}/apply\"", f.code)) && boxed.contains("我要申报"));

    let r = f.open(&f.enterprise, &f.code, apply).await;
    let id = r.json()["id"].as_u64().unwrap();
    let number = r.json()["number"].as_str().unwrap().to_string();
    let opened = huiqi::model::Timestamp(r.json()["created_at"].as_i64().unwrap()).date_cst();
    assert_eq!(number, format!("HQ-{}-{id:06}", opened.year()));
    let html = f.app.page(&browser.cookie, &format!("/measures/{apply}")).await.text();
    assert!(html.contains(&format!("href=\"/cases/{id}\"")) && html.contains("继续办理"), "the case under way");
    let receipt = format!("/api/v1/cases/{id}/receipt");
    assert_eq!(
        f.app.get_as(&receipt, &f.enterprise).await.status,
        StatusCode::CONFLICT,
        "no receipt before submission"
    );

    let uri = format!("/api/v1/cases/{id}/files?slot={}&name=a.pdf", huiqi::http::pages::url_encode("营业执照复印件"));
    assert_eq!(f.app.post_bytes(&uri, &f.enterprise, PDF.to_vec()).await.status, StatusCode::CREATED);
    // Submitting from the page lands on the receipt.
    let r = f
        .app
        .form(&browser, &format!("/cases/{id}/submit"), &[("csrf", &browser.csrf), ("form.contact", "张三")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.location(), format!("/cases/{id}/receipt"));
    let json = f.app.get_as(&receipt, &f.enterprise).await.json();
    assert_eq!(json["number"], number);
    assert_eq!(json["amount"], 20_000_000);
    assert_eq!(json["form"][0], json!({"label": "联系人", "value": "张三"}));
    assert_eq!(json["materials"][0]["files"][0]["name"], "a.pdf");
    let first_due = huiqi::model::Date::parse(json["stages"][0]["due"].as_str().unwrap()).unwrap();
    let projected = f.app.svc().calendar().unwrap().add_working_days(first_due, 5);
    assert_eq!(json["stages"][1]["projected_due"], projected.to_string(), "{json}");
    let html = f.app.page(&browser.cookie, &format!("/cases/{id}/receipt")).await.text();
    for part in [number.as_str(), "申报回执", "20 万元", "张三", &projected.to_string(), "data-print"] {
        assert!(html.contains(part), "the receipt lacks {part}");
    }
    // The time reads as people read it.
    let at = json["submitted_at"].as_i64().unwrap();
    assert!(html.contains(&huiqi::model::Timestamp(at).display_cst()));
    // The number finds the case in the reviewer's queue; another enterprise sees no receipt.
    let q = f.app.get_as(&format!("/api/v1/cases?q={number}"), &f.reviewer).await.json();
    assert_eq!(q["count"], 1, "{q}");
    assert_eq!(f.app.get_as(&receipt, &f.other).await.status, StatusCode::NOT_FOUND);
}
