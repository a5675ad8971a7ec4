//! The supervision board and the review queue as the people using them expect: an item leaves
//! the board in the same transaction as the decision or return that stopped its clock, and comes
//! back when a resubmitted stage is late again; lateness counts working days everywhere.

use axum::http::StatusCode;
use huiqi::model::{Capacity, CreditCode, Role, Who};
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, credit_code};
use huiqi::store::prelude::*;

const DEPT: &str = "哈尔滨市科学技术局";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

struct Fixture {
    app: TestApp,
    enterprise: String,
    reviewer: String,
    supervisor: String,
    measure: u64,
}

/// Three entities (测试企业甲, 乙, 丙 with research expenses 100, 300, 200 万元) bound to one
/// enterprise account, a measure of two stages (受理 2 working days, 审定 5) paying a tenth of the
/// research expense, a reviewer of its department and a supervisor.
async fn fixture() -> Fixture {
    let app = TestApp::new();
    let admin = app.admin_token();
    for (n, name, rd) in [(1, "测试企业甲", 100.0), (2, "测试企业乙", 300.0), (3, "测试企业丙", 200.0)] {
        let body = json!({"name": name, "region": "230102", "industry": "C3911",
            "employees": 80, "revenue": 2000, "rd_expense": rd, "dishonest": false});
        let r = app.json("PUT", &format!("/api/v1/entities/{}", credit_code(n)), Some(&admin), body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let publisher = app.publisher_token("keji", DEPT);
    let policy = json!({"title": "科技创新若干措施", "doc_number": "哈科规〔2026〕1号", "level": "municipal",
        "department": DEPT, "issue_date": "2026-01-01", "valid_from": "2026-01-01", "valid_until": "2027-12-31",
        "text": "第一条", "interpretation": "", "tags": []});
    let r = app.json("POST", "/api/v1/policies", Some(&publisher), policy).await;
    let policy = r.json()["id"].as_u64().unwrap();
    let measure = json!({
        "name": "研发费用补助", "category": "subsidy", "department": DEPT, "mode": "apply",
        "amount": "min(rd_expense * 0.1, 50)", "cap": 50,
        "window_start": "2026-01-01", "window_end": "2027-06-30",
        "conditions": [{"label": "无失信记录", "expr": "!dishonest"}],
        "materials": ["营业执照复印件"],
        "form_fields": [{"key": "contact", "label": "联系人", "kind": "text", "required": true}],
        "review_stages": [{"name": "受理", "days": 2}, {"name": "审定", "days": 5}],
        "publicity_days": 5, "contact": "0451-86612345"
    });
    let r = app.json("POST", &format!("/api/v1/policies/{policy}/measures"), Some(&publisher), measure).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let measure = r.json()["measure_id"].as_u64().unwrap();
    assert_eq!(app.publish(&publisher, measure).await.status, StatusCode::OK);
    let enterprise = app.token("qiye", Role::Enterprise, None);
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
    let reviewer = app.token("shenhe", Role::Reviewer, Some(DEPT));
    let supervisor = app.token("ducha", Role::Supervisor, None);
    Fixture { app, enterprise, reviewer, supervisor, measure }
}

impl Fixture {
    async fn call(&self, method: &str, uri: &str, token: &str, body: Value) -> crate::common::Reply {
        self.app.json(method, uri, Some(token), body).await
    }

    /// Entity `n` applies today; the case's id.
    async fn submit(&self, n: u32) -> u64 {
        let body = json!({"credit_code": credit_code(n), "measure_id": self.measure});
        let r = self.call("POST", "/api/v1/cases", &self.enterprise, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let id = r.json()["id"].as_u64().unwrap();
        let slot = huiqi::http::pages::url_encode("营业执照复印件");
        let uri = format!("/api/v1/cases/{id}/files?slot={slot}&name=a.pdf");
        assert_eq!(self.app.post_bytes(&uri, &self.enterprise, PDF.to_vec()).await.status, StatusCode::CREATED);
        let uri = format!("/api/v1/cases/{id}/submit");
        let r = self.call("POST", &uri, &self.enterprise, json!({"form": {"contact": "张三"}})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        id
    }

    async fn decide(&self, id: u64, action: &str) -> crate::common::Reply {
        let body = json!({"action": action, "reason": "材料不全"});
        self.call("POST", &format!("/api/v1/cases/{id}/decide"), &self.reviewer, body).await
    }

    async fn board(&self) -> Value {
        let r = self.app.get_as("/api/v1/supervision", &self.supervisor).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        r.json()
    }

    fn days(&self, n: i64) {
        self.app.svc().config.clock.advance(n * 86_400);
    }
}

#[tokio::test]
async fn the_board_follows_returns_and_decisions_at_once_and_counts_working_days() {
    let f = fixture().await;
    let svc = f.app.svc().clone();
    // Friday 2026-11-27: 受理 is due Tuesday 1 December.
    let id = f.submit(1).await;
    // Monday 7 December: four working days late (Wed, Thu, Fri, Mon), six calendar days.
    f.days(10);
    assert_eq!(svc.today().to_string(), "2026-12-07");
    assert_eq!(svc.sweep().unwrap().opened, 1);
    let board = f.board().await;
    assert_eq!(board["count"], 1);
    assert_eq!(board["items"][0]["days_late"], 4, "working days, as the queue counts: {board}");
    let queue = f.app.get_as("/api/v1/cases", &f.reviewer).await.json();
    assert_eq!(queue["cases"][0]["days_left"], -4, "{queue}");
    // The page says so, under a 承办部门 header.
    let ducha = f.app.sign_in_existing("ducha", PASSWORD).await;
    let page = f.app.page(&ducha.cookie, "/staff/supervision").await.text();
    assert!(page.contains("<th>承办部门</th>") && !page.contains("承办：</th>"), "{page}");
    assert!(page.contains("<td>4</td>"), "{page}");

    // Returned for supplement: the clock stands, and the item leaves the board at once.
    let r = f.decide(id, "return").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(f.board().await["count"], 0);
    let all = f.app.get_as("/api/v1/supervision?all=true", &f.supervisor).await.json();
    assert_eq!(all["items"][0]["status"], "resolved");
    assert!(all["items"][0]["resolved"]["note"].as_str().unwrap().contains("退回补正"), "{all}");
    assert_eq!(svc.sweep().unwrap().resolved, 0, "nothing left for the sweep");

    // Resubmitted the next day, the stage (due a working day later) is late again: a new item.
    f.days(1);
    let r = f.call("POST", &format!("/api/v1/cases/{id}/submit"), &f.enterprise, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["due"], "2026-12-01");
    assert_eq!(svc.sweep().unwrap().opened, 1);
    assert_eq!(f.board().await["count"], 1);
    // Decided: off the board in the same transaction, not at the next sweep.
    assert_eq!(f.decide(id, "approve").await.status, StatusCode::OK);
    assert_eq!(f.board().await["count"], 0);
    assert_eq!(svc.sweep().unwrap().resolved, 0);
    // Resolved items keep the lateness they had on the day they were resolved.
    f.days(7);
    let all = f.app.get_as("/api/v1/supervision?all=true", &f.supervisor).await.json();
    let late: Vec<u64> = all["items"].as_array().unwrap().iter().map(|i| i["days_late"].as_u64().unwrap()).collect();
    assert_eq!(late, [4, 4], "{all}");
}

/// The push messages of entity `n` about measure `name`.
async fn pushes(f: &Fixture, n: u32, name: &str) -> Vec<String> {
    let uri = format!("/api/v1/my/entities/{}/inbox", credit_code(n));
    let inbox = f.app.get_as(&uri, &f.enterprise).await.json();
    inbox["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "push" && m["title"].as_str().unwrap().contains(name))
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_measure_is_pushed_when_its_window_opens_and_the_push_says_when_it_opens_and_closes() {
    let f = fixture().await;
    let svc = f.app.svc().clone();
    svc.push_pending().unwrap();
    // The fixture's measure, open since January, was pushed at once, with its window.
    let open = pushes(&f, 1, "研发费用补助").await;
    assert_eq!(open.len(), 1);
    assert!(open[0].contains("申报时间 2026-01-01 至 2027-06-30"), "{open:?}");

    // A measure whose window opens tomorrow: approved today, pushed to nobody yet.
    let publisher = f.app.publisher_token("keji2", DEPT);
    let policy = svc.store.read().unwrap().policies().unwrap()[0].id;
    let body = json!({
        "name": "明日开放补助", "category": "subsidy", "department": DEPT, "mode": "apply",
        "amount": "10", "cap": 10, "window_start": "2026-11-28", "window_end": "2026-12-31",
        "conditions": [{"label": "无失信记录", "expr": "!dishonest"}], "materials": [], "form_fields": [],
        "review_stages": [{"name": "受理", "days": 2}], "publicity_days": 5, "contact": "0451-86612345"
    });
    let r = f.call("POST", &format!("/api/v1/policies/{policy}/measures"), &publisher, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let measure = r.json()["measure_id"].as_u64().unwrap();
    assert_eq!(f.app.publish(&publisher, measure).await.status, StatusCode::OK);
    assert_eq!(svc.push_pending().unwrap().messages, 0);
    assert_eq!(svc.sweep().unwrap().window_pushes, 0);
    for n in 1..=3 {
        assert!(pushes(&f, n, "明日开放补助").await.is_empty(), "entity {n} pushed before the window opens");
    }
    // The day it opens, the sweep pushes every eligible entity once, saying when it opens and closes.
    f.days(1);
    assert_eq!(svc.sweep().unwrap().window_pushes, 3);
    assert_eq!(svc.sweep().unwrap().window_pushes, 0);
    assert_eq!(svc.push_pending().unwrap().messages, 0);
    for n in 1..=3 {
        let got = pushes(&f, n, "明日开放补助").await;
        assert_eq!(got.len(), 1, "entity {n}: {got:?}");
        assert!(got[0].contains("申报时间 2026-11-28 至 2026-12-31"), "{got:?}");
    }
}

/// The cells of the first sheet of an XLSX file, row by row, as text.
fn sheet(bytes: &[u8]) -> Vec<Vec<String>> {
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).unwrap();
    range.rows().map(|row| row.iter().map(|c| c.to_string()).collect()).collect()
}

async fn ids(f: &Fixture, query: &str) -> Vec<u64> {
    let r = f.app.get_as(&format!("/api/v1/cases?{query}"), &f.reviewer).await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text());
    r.json()["cases"].as_array().unwrap().iter().map(|c| c["id"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn the_queue_sorts_shows_submission_dates_offers_the_next_case_and_exports() {
    let f = fixture().await;
    // 乙 (30 万元) applies on Friday 27 November, 丙 (20) on Monday 30, 甲 (10) on Tuesday 1 December.
    let yi = f.submit(2).await;
    f.days(3);
    let bing = f.submit(3).await;
    f.days(1);
    let jia = f.submit(1).await;
    assert_eq!(ids(&f, "").await, [yi, bing, jia], "soonest due first");
    assert_eq!(ids(&f, "sort=submitted&order=desc").await, [jia, bing, yi]);
    assert_eq!(ids(&f, "sort=entity").await, [bing, yi, jia], "丙 < 乙 < 甲 in code-point order");
    assert_eq!(ids(&f, "sort=amount&order=desc").await, [yi, bing, jia]);
    assert_eq!(ids(&f, "sort=amount&limit=1&offset=1").await, [bing], "sorted before the page is cut");
    for bad in ["sort=name", "order=up"] {
        let r = f.app.get_as(&format!("/api/v1/cases?{bad}"), &f.reviewer).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let queue = f.app.get_as("/api/v1/cases", &f.reviewer).await.json();
    assert_eq!(queue["cases"][0]["submitted_on"], "2026-11-27");

    // The page shows 申报日期 and the amount in 万元, and offers the export.
    let shenhe = f.app.sign_in_existing("shenhe", PASSWORD).await;
    let page = f.app.page(&shenhe.cookie, "/staff/cases?sort=submitted").await.text();
    assert!(page.contains("申报日期") && page.contains("<td>2026-11-27</td>"), "{page}");
    assert!(page.contains("金额（万元）") && page.contains("<td>30</td>"), "{page}");
    assert!(page.contains("/staff/cases/export.xlsx?sort=submitted"), "{page}");

    // After a decision on the case page the reviewer is offered the next case of the queue.
    let form = [("csrf", shenhe.csrf.as_str()), ("action", "approve"), ("reason", "同意")];
    let r = f.app.form(&shenhe, &format!("/cases/{yi}/decide"), &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.location(), format!("/cases/{yi}?notice=decided&next={bing}"));
    let page = f.app.page(&shenhe.cookie, &r.location()).await.text();
    assert!(page.contains(&format!("href=\"/cases/{bing}\"")) && page.contains("下一件待审办件"), "{page}");

    // The queue as XLSX: every case, in the order asked for, Chinese headers, dates, 万元.
    let r = f.app.get_as("/api/v1/cases/export.xlsx?sort=amount&order=desc&limit=1", &f.reviewer).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let rows = sheet(&r.body);
    assert_eq!(rows.len(), 4, "the header and every case, not one page: {rows:?}");
    let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap_or_else(|| panic!("{name}: {:?}", rows[0]));
    let number = &rows[1][col("办件编号")];
    assert!(number.starts_with("HQ-") && number.ends_with(&format!("-{yi:06}")), "{number}");
    assert_eq!(rows[1][col("申报日期")], "2026-11-27");
    assert_eq!(rows[1][col("金额（万元）")], "30");
    assert_eq!(rows[3][col("经营主体")], "测试企业甲");
    let page = f.app.page(&shenhe.cookie, "/staff/cases/export.xlsx").await;
    assert_eq!(page.status, StatusCode::OK);
    // Exports leave the system: permitted roles only, and each is audited.
    assert_eq!(f.app.get_as("/api/v1/cases/export.xlsx", &f.enterprise).await.status, StatusCode::FORBIDDEN);
    let bangban = f.app.token("bangban", Role::Specialist, None);
    assert_eq!(f.app.get_as("/api/v1/cases/export.xlsx", &bangban).await.status, StatusCode::FORBIDDEN);
    let audit = f.app.get_as("/api/v1/audit?action=data.export", &f.supervisor).await.text();
    assert!(audit.contains("export:cases.xlsx"), "{audit}");

    // The supervision board as XLSX, for supervisors only.
    f.days(5);
    assert!(f.app.svc().sweep().unwrap().opened >= 1);
    let r = f.app.get_as("/api/v1/supervision/export.xlsx?all=true", &f.supervisor).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let rows = sheet(&r.body);
    assert!(rows[0].contains(&"超期工作日".to_string()) && rows[0].contains(&"承办部门".to_string()), "{rows:?}");
    assert!(rows.len() >= 2 && rows[1].iter().any(|c| c == DEPT), "{rows:?}");
    assert_eq!(f.app.get_as("/api/v1/supervision/export.xlsx", &f.reviewer).await.status, StatusCode::FORBIDDEN);
    let ducha = f.app.sign_in_existing("ducha", PASSWORD).await;
    assert!(f.app.page(&ducha.cookie, "/staff/supervision").await.text().contains("/staff/supervision/export.xlsx"));
    let audit = f.app.get_as("/api/v1/audit?action=data.export", &f.supervisor).await.text();
    assert!(audit.contains("export:supervision.xlsx"), "{audit}");
}
