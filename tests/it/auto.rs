//! 免申即享 through the API: a published auto measure proposes its list (eligible entities as
//! proposed cases with frozen values, undecided ones as 待核实 with the fields missing); entries
//! are removed with a reason; the proposer cannot confirm (four eyes) and a list over the budget
//! is refused with the figures; confirming reserves and offers; the enterprise accepts with its
//! bank account (户名 checked) or declines (released); unanswered offers lapse; nobody is listed
//! twice for the same version.

use axum::http::StatusCode;
use huiqi::model::{Capacity, CreditCode, Role, Vocabulary, Who};
use serde_json::{Value, json};

use crate::common::{TestApp, credit_code};

const DEPT: &str = "哈尔滨市科学技术局";

struct Fixture {
    app: TestApp,
    publisher: String,
    reviewer: String,
    enterprise: String,
    admin: String,
    measure: u64,
}

async fn fixture(budget: f64) -> Fixture {
    fixture_with(budget, 5).await
}

async fn fixture_with(budget: f64, publicity_days: u32) -> Fixture {
    let app = TestApp::new();
    let admin = app.admin_token();
    // 1–3 eligible (no dishonesty recorded, R&D known), 4 dishonest, 5 with R&D unknown.
    for n in 1..=5u32 {
        let mut body = json!({"name": format!("测试企业{n}"), "region": "230102", "industry": "C3911",
            "employees": 80, "revenue": 2000, "rd_expense": 100 * n, "dishonest": n == 4});
        if n == 5 {
            body.as_object_mut().unwrap().remove("rd_expense");
        }
        let r = app.json("PUT", &format!("/api/v1/entities/{}", credit_code(n)), Some(&admin), body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let publisher = app.publisher_token("keji", DEPT);
    let policy = json!({"title": "科技创新若干措施", "doc_number": "哈科规〔2026〕1号", "level": "municipal",
        "department": DEPT, "issue_date": "2026-01-01", "valid_from": "2026-01-01", "valid_until": "2027-12-31",
        "text": "第一条", "interpretation": "", "tags": []});
    let r = app.json("POST", "/api/v1/policies", Some(&publisher), policy).await;
    let policy = r.json()["id"].as_u64().unwrap();
    let spec = json!({
        "name": "研发投入奖励（免申即享）", "category": "subsidy", "department": DEPT, "mode": "auto",
        "amount": "min(rd_expense * 0.1, 30)", "cap": 30, "budget": budget,
        "conditions": [{"label": "无失信记录", "expr": "!dishonest"}, {"label": "有研发投入", "expr": "rd_expense > 0"}],
        "publicity_days": publicity_days, "offer_days": 5, "contact": "0451-86612345",
        "fund_source": "市级科技专项资金", "budget_subject": "2060299"
    });
    let r = app.json("POST", &format!("/api/v1/policies/{policy}/measures"), Some(&publisher), spec).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let measure = r.json()["measure_id"].as_u64().unwrap();
    assert_eq!(app.publish(&publisher, measure).await.status, StatusCode::OK);
    let enterprise = app.token("qiye", Role::Enterprise, None);
    app.auth()
        .binding_grant(&Who::system("test"), "qiye", &CreditCode::parse(&credit_code(1)).unwrap(), Capacity::LegalRep)
        .unwrap();
    let reviewer = app.token("shenhe", Role::Reviewer, Some(DEPT));
    Fixture { app, publisher, reviewer, enterprise, admin, measure }
}

impl Fixture {
    async fn call(&self, method: &str, uri: &str, token: &str, body: Value) -> crate::common::Reply {
        self.app.json(method, uri, Some(token), body).await
    }

    async fn propose(&self) -> Value {
        let r = self
            .call("POST", &format!("/api/v1/measures/{}/auto-lists", self.measure), &self.publisher, json!({}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()
    }

    fn entry<'a>(&self, list: &'a Value, n: u32) -> &'a Value {
        list["entries"].as_array().unwrap().iter().find(|e| e["credit_code"] == credit_code(n)).unwrap()
    }
}

#[tokio::test]
async fn an_auto_list_is_proposed_reviewed_confirmed_by_another_and_accepted() {
    let f = fixture(100.0).await;
    let list = f.propose().await;
    let id = list["id"].as_u64().unwrap();
    assert_eq!(
        (list["state"].as_str(), list["proposed"].as_u64(), list["pending"].as_u64()),
        (Some("proposed"), Some(3), Some(1))
    );
    // Amounts are frozen per entry: 100, 200, 300 万元 × 0.1 = 10, 20, 30 万元.
    assert_eq!(list["proposed_fen"], 60 * 1_000_000);
    assert_eq!(f.entry(&list, 2)["state"], "proposed");
    assert_eq!(f.entry(&list, 2)["frozen"]["amount"], 20 * 1_000_000);
    // The undecided entity is listed as 待核实 with what is missing, not dropped.
    let pending = &list["pending_page"][0];
    assert_eq!(pending["credit_code"], credit_code(5));
    assert!(pending["missing"].to_string().contains("研发"), "{pending}");
    assert!(list["totals"].as_array().unwrap().iter().any(|t| t["dimension"] == "size"), "{}", list["totals"]);

    // Removing an entry needs a reason; it takes its amount off the list.
    let e3 = f.entry(&list, 3)["id"].as_u64().unwrap();
    let uri = format!("/api/v1/auto-lists/{id}/remove");
    let r = f.call("POST", &uri, &f.reviewer, json!({"case_id": e3, "reason": " "})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let r = f.call("POST", &uri, &f.reviewer, json!({"case_id": e3, "reason": "已迁出本市"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["proposed_fen"], 30 * 1_000_000);

    // The proposer may not confirm; another person does. A second round waits for this one.
    let confirm = format!("/api/v1/auto-lists/{id}/confirm");
    let r = f.call("POST", &confirm, &f.publisher, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.text().contains("双人复核"), "{}", r.text());
    let r = f.call("POST", &format!("/api/v1/measures/{}/auto-lists", f.measure), &f.publisher, json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let r = f.call("POST", &confirm, &f.reviewer, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let list = r.json();
    assert_eq!((list["state"].as_str(), list["confirmed"].as_u64()), (Some("confirmed"), Some(2)));
    assert_eq!(list["approved"], 30 * 1_000_000, "confirming reserves");
    let e1 = f.entry(&list, 1)["id"].as_u64().unwrap();
    assert_eq!(f.entry(&list, 1)["state"], "offered");
    assert_eq!(f.entry(&list, 3)["state"], "removed");

    // The enterprise is told, and accepts with an account in its registered name.
    let inbox = f.app.get_as(&format!("/api/v1/my/entities/{}/inbox", credit_code(1)), &f.enterprise).await;
    assert!(inbox.text().contains("免申即享"), "{}", inbox.text());
    let accept = format!("/api/v1/cases/{e1}/accept");
    let r = f
        .call(
            "POST",
            &accept,
            &f.enterprise,
            json!({"holder": "张三", "bank": "中国银行", "account": "6217000012345678"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert!(r.text().contains("户名必须与企业登记名称"), "{}", r.text());
    let r = f
        .call(
            "POST",
            &accept,
            &f.reviewer,
            json!({"holder": "测试企业1", "bank": "中国银行", "account": "6217000012345678"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "staff cannot accept for it: {}", r.text());
    let r = f
        .call(
            "POST",
            &accept,
            &f.enterprise,
            json!({"holder": "测试企业1", "bank": "中国银行哈尔滨分行", "account": "6217 0000 1234 5678"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["state"], "accepted");
    assert_eq!(r.json()["payout"]["payee"]["number"], "6217000012345678");

    // A new round lists nobody twice: only entity 3 (removed) and 5 stay out, nothing new.
    let again = f.propose().await;
    assert_eq!(again["proposed"], 0, "{again}");
    assert_eq!(again["round"], 2);
}

#[tokio::test]
async fn a_list_over_the_budget_is_refused_with_the_figures_and_declines_and_lapses_release() {
    let f = fixture(45.0).await;
    let list = f.propose().await;
    let id = list["id"].as_u64().unwrap();
    assert_eq!(list["fits"], false);
    let r = f.call("POST", &format!("/api/v1/auto-lists/{id}/confirm"), &f.reviewer, json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let msg = r.text();
    assert!(msg.contains("60") && msg.contains("45") && msg.contains("尚余"), "{msg}");
    // Nothing was written: the entries are still proposed, nothing reserved.
    let shown = f.app.get_as(&format!("/api/v1/auto-lists/{id}"), &f.reviewer).await.json();
    assert_eq!((shown["state"].as_str(), shown["approved"].as_i64()), (Some("proposed"), Some(0)));
    let e3 = f.entry(&shown, 3)["id"].as_u64().unwrap();
    let r = f
        .call(
            "POST",
            &format!("/api/v1/auto-lists/{id}/remove"),
            &f.reviewer,
            json!({"case_id": e3, "reason": "超出预算，下轮安排"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = f.call("POST", &format!("/api/v1/auto-lists/{id}/confirm"), &f.reviewer, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["approved"], 30 * 1_000_000);
    let list = r.json();
    let (e1, e2) = (f.entry(&list, 1)["id"].as_u64().unwrap(), f.entry(&list, 2)["id"].as_u64().unwrap());

    // Declining releases its reservation.
    let r = f.call("POST", &format!("/api/v1/cases/{e1}/decline"), &f.enterprise, json!({"reason": "不需要"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["state"], "declined");
    let shown = f.app.get_as(&format!("/api/v1/auto-lists/{id}"), &f.reviewer).await.json();
    assert_eq!(shown["approved"], 20 * 1_000_000);

    // Unanswered past the deadline (5 working days), the offer lapses at the sweep.
    let svc = f.app.svc();
    svc.config.clock.advance(12 * 86_400);
    let report = svc.sweep().unwrap();
    assert_eq!(report.offers_lapsed, 1, "{report:?}");
    let c = f.app.get_as(&format!("/api/v1/cases/{e2}"), &f.reviewer).await.json();
    assert_eq!(c["case"]["state"].as_str().or(c["state"].as_str()), Some("lapsed"), "{c}");
    let shown = f.app.get_as(&format!("/api/v1/auto-lists/{id}"), &f.reviewer).await.json();
    assert_eq!(shown["approved"], 0);
}

#[tokio::test]
async fn the_pages_carry_a_list_from_proposal_to_the_enterprise_accepting() {
    use crate::common::PASSWORD;
    let f = fixture(100.0).await;
    let publisher = f.app.sign_in_existing("keji", PASSWORD).await;
    let measure_page = f.app.page(&publisher.cookie, &format!("/measures/{}", f.measure)).await.text();
    assert!(measure_page.contains("生成新一轮名单") && measure_page.contains("还没有生成名单"), "{measure_page}");
    let r = f.app.form(&publisher, &format!("/measures/{}/auto-lists", f.measure), &[("csrf", &publisher.csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let list_uri = r.location();
    let id: u64 = list_uri.trim_start_matches("/auto-lists/").split('?').next().unwrap().parse().unwrap();
    let page = f.app.page(&publisher.cookie, &list_uri).await.text();
    assert!(page.contains("测试企业2") && page.contains("待核实") && page.contains("研发"), "{page}");
    assert!(page.contains("名单须由提出人以外的另一名工作人员复核确认"), "the proposer is told another confirms");
    assert!(!page.contains("id=\"confirm-list\""));

    // The reviewer removes one with a reason (an empty one is refused on the page), then confirms.
    let reviewer = f.app.sign_in_existing("shenhe", PASSWORD).await;
    let list = f.app.get_as(&format!("/api/v1/auto-lists/{id}"), &f.reviewer).await.json();
    let e3 = f.entry(&list, 3)["id"].as_u64().unwrap().to_string();
    let r = f
        .app
        .form(
            &reviewer,
            &format!("/auto-lists/{id}/remove"),
            &[("csrf", &reviewer.csrf), ("case_id", &e3), ("reason", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("必须填写理由"), "{}", r.text());
    let r = f
        .app
        .form(
            &reviewer,
            &format!("/auto-lists/{id}/remove"),
            &[("csrf", &reviewer.csrf), ("case_id", &e3), ("reason", "已迁出")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let page = f.app.page(&reviewer.cookie, &format!("/auto-lists/{id}")).await.text();
    assert!(page.contains("id=\"confirm-list\"") && page.contains("已移出名单：已迁出"), "{page}");
    let r = f.app.form(&reviewer, &format!("/auto-lists/{id}/confirm"), &[("csrf", &reviewer.csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let page = f.app.page(&reviewer.cookie, &r.location()).await.text();
    assert!(page.contains("名单已确认") && page.contains("待确认领取"), "{page}");

    // The enterprise sees the offer on its case and accepts; a wrong holder is refused with
    // what was typed kept.
    let ent = f.app.sign_in_existing("qiye", PASSWORD).await;
    let e1 = f.entry(&list, 1)["id"].as_u64().unwrap();
    let home = f.app.page(&ent.cookie, &format!("/my/entities/{}", credit_code(1))).await.text();
    assert!(home.contains("id=\"my-offers\"") && home.contains(&format!("/cases/{e1}#offer")), "{home}");
    let case_page = f.app.page(&ent.cookie, &format!("/cases/{e1}")).await.text();
    assert!(case_page.contains("id=\"accept-form\"") && case_page.contains("请在期限内确认领取"), "{case_page}");
    let pairs =
        |holder: &'static str| [("holder", holder), ("bank", "中国银行哈尔滨分行"), ("account", "6217000012345678")];
    let mut form: Vec<(&str, &str)> = vec![("csrf", &ent.csrf)];
    form.extend(pairs("别的公司"));
    let r = f.app.form(&ent, &format!("/cases/{e1}/accept"), &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = r.text();
    assert!(text.contains("户名必须与企业登记名称「测试企业1」一致") && text.contains("6217000012345678"), "{text}");
    let mut form: Vec<(&str, &str)> = vec![("csrf", &ent.csrf)];
    form.extend(pairs("测试企业1"));
    let r = f.app.form(&ent, &format!("/cases/{e1}/accept"), &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let case_page = f.app.page(&ent.cookie, &r.location()).await.text();
    assert!(case_page.contains("已确认领取") && case_page.contains("**** 5678"), "{case_page}");
    assert!(!case_page.contains("6217000012345678"), "the account number is masked on the page");
}

#[tokio::test]
async fn the_demo_shows_a_list_awaiting_the_second_person_and_offers_awaiting_enterprises() {
    let app = TestApp::with_demo(300);
    app.auth().demo_accounts().unwrap();
    let demo = app.svc().demo_cases().unwrap();
    let who = |name: &str| app.auth().principal_of(name).unwrap().who("test");
    let svc = app.svc();
    let lists_of = |user: &str| -> Vec<huiqi::model::auto_list::AutoList> {
        let measures = svc.store.read().unwrap().measures().unwrap();
        measures
            .iter()
            .filter_map(|m| svc.auto_lists(&who(user), huiqi::model::MeasureId(m.id)).ok())
            .flat_map(|l| l.lists)
            .collect()
    };
    use huiqi::store::prelude::*;
    // 科技局: proposed by keji, waiting for another person.
    let keji = lists_of("keji");
    assert!(keji.iter().any(|l| l.state.key() == "proposed" && l.proposed > 0), "{keji:?}");
    // 人社局: confirmed, with offers accepted, declined and awaiting.
    let renshe = lists_of("renshe");
    let confirmed = renshe.iter().find(|l| l.state.key() == "confirmed").expect("a confirmed round");
    let view = svc.auto_list(&who("renshe"), confirmed.id, 0).unwrap();
    let states: std::collections::HashSet<&str> = view.entries.iter().map(|e| e.case.state.key()).collect();
    // Two weeks on, the accepted ones went through disclosure into payment.
    assert!(states.contains("offered") && states.contains("declined"), "{states:?}");
    assert!(
        states.iter().any(|s| ["in_batch", "paid", "payment_failed", "recovering", "disclosing"].contains(s)),
        "{states:?}"
    );
    // The demo enterprise acts for an entity whose offer awaits it.
    let offered = demo.also_for.get(1).expect("an entity with an offer awaiting");
    let cases = svc.cases_of_entity(&Who::system("t"), offered).unwrap();
    assert!(
        cases.iter().any(|v| v.case.state.key() == "offered"),
        "{:?}",
        cases.iter().map(|c| c.state_label).collect::<Vec<_>>()
    );
    // A disclosure in its period with an objection, and one over.
    let index = svc.disclosure_index().unwrap();
    assert!(!index.current.is_empty() && !index.past.is_empty(), "{index:?}");
    let objections = svc.objections_for(&who("renshe")).unwrap();
    assert!(objections.iter().any(|o| o.state.key() == "open"), "{objections:?}");
    // A batch exported, its return file in: paid rows, a failed one, one awaiting; a recovery.
    let batches = svc.payment_batches_for(&who("shenhe")).unwrap();
    let b = batches.iter().find(|b| b.state.key() == "exported").expect("a payment batch exported");
    assert!(b.paid >= 1 && b.failed == 1 && b.pending() == 1, "{b:?}");
    let view = svc.payment_batch(&who("shenhe"), b.id).unwrap();
    assert!(view.reconciles);
    let states: Vec<_> = view.rows.iter().map(|r| r.state.key()).collect();
    assert!(states.contains(&"recovering") && states.contains(&"payment_failed"), "{states:?}");
}

#[tokio::test]
async fn disclosure_takes_real_name_objections_and_ends_in_payable_cases() {
    let f = fixture(100.0).await;
    let list = f.propose().await;
    let id = list["id"].as_u64().unwrap();
    let r = f.call("POST", &format!("/api/v1/auto-lists/{id}/confirm"), &f.reviewer, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let list = r.json();
    // Entity 1 accepts through its account; entity 2 through a second enterprise account.
    let (e1, e2) = (f.entry(&list, 1)["id"].as_u64().unwrap(), f.entry(&list, 2)["id"].as_u64().unwrap());
    let ent2 = f.app.token("qiye2", Role::Enterprise, None);
    f.app
        .auth()
        .binding_grant(&Who::system("t"), "qiye2", &CreditCode::parse(&credit_code(2)).unwrap(), Capacity::LegalRep)
        .unwrap();
    for (case, token, name) in [(e1, &f.enterprise, "测试企业1"), (e2, &ent2, "测试企业2")] {
        let body = json!({"holder": name, "bank": "中国银行", "account": "6217000012345678"});
        let r = f.call("POST", &format!("/api/v1/cases/{case}/accept"), token, body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    }
    // The department opens the disclosure: 5 working days.
    let r = f.call("POST", &format!("/api/v1/measures/{}/disclosures", f.measure), &f.reviewer, json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let batch = r.json();
    let b = batch["id"].as_u64().unwrap();
    assert_eq!((batch["rows"].as_u64(), batch["days"].as_u64()), (Some(2), Some(5)));
    // Public: the registered name, region and amount, nothing personal.
    let page = f.app.get(&format!("/api/v1/disclosures/{b}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    assert!(text.contains("测试企业1") && text.contains("哈尔滨"), "{text}");
    assert!(!text.contains("6217") && !text.contains("legal_rep") && !text.contains("phone"), "{text}");
    assert!(f.app.get("/api/v1/disclosures").await.json()["current"].as_array().unwrap().len() == 1);

    // Anonymous objections are refused; a real-name one is taken and only the department sees who.
    let uri = format!("/api/v1/disclosures/{b}/objections");
    let anonymous = json!({"case_id": e1, "name": "匿名", "phone": "13800000000", "relation": "competitor", "facts": "该企业研发投入数据不实，应予核查。"});
    let r = f.app.json("POST", &uri, None, anonymous).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("实名"), "{}", r.text());
    let real = json!({"case_id": e1, "name": "王五", "phone": "13800000000", "relation": "competitor", "facts": "该企业研发投入数据不实，应予核查。"});
    let r = f.app.json("POST", &uri, None, real).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let receipt = r.json()["receipt"].as_str().unwrap().to_string();
    let status = f.app.get(&format!("/api/v1/objection-receipts/{receipt}")).await.json();
    assert_eq!(status["state"], "open");
    assert!(!status.to_string().contains("王五"), "the receipt page does not repeat the objector");
    let mine = f.app.get_as("/api/v1/objections", &f.reviewer).await.json();
    assert_eq!(mine["objections"][0]["name"], "王五");
    assert_eq!(f.app.get_as("/api/v1/objections", &f.enterprise).await.status, StatusCode::FORBIDDEN);
    let oid = mine["objections"][0]["id"].as_u64().unwrap();

    // A second objection against entity 2 is upheld: the case is rejected and its money released.
    let other = json!({"case_id": e2, "name": "赵六", "phone": "0451-86612345", "relation": "employee", "facts": "企业已停产半年，不应享受此项资金。"});
    assert_eq!(f.app.json("POST", &uri, None, other).await.status, StatusCode::CREATED);
    let mine = f.app.get_as("/api/v1/objections", &f.reviewer).await.json();
    let o2 =
        mine["objections"].as_array().unwrap().iter().find(|o| o["case_id"] == e2).unwrap()["id"].as_u64().unwrap();
    let r = f
        .call(
            "POST",
            &format!("/api/v1/objections/{o2}/decide"),
            &f.reviewer,
            json!({"decision": "uphold", "reason": "经核实已停产"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let c2 = f.app.get_as(&format!("/api/v1/cases/{e2}"), &f.reviewer).await.json();
    assert_eq!(c2["state"], "rejected", "{c2}");
    let shown = f.app.get_as(&format!("/api/v1/auto-lists/{id}"), &f.reviewer).await.json();
    assert_eq!(shown["approved"], 40 * 1_000_000, "60 reserved, the upheld objection released 20 万元");

    // The first is dismissed with a reason; the objector reads the outcome.
    let r = f
        .call(
            "POST",
            &format!("/api/v1/objections/{oid}/decide"),
            &f.reviewer,
            json!({"decision": "dismiss", "reason": " "}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = f
        .call(
            "POST",
            &format!("/api/v1/objections/{oid}/decide"),
            &f.reviewer,
            json!({"decision": "dismiss", "reason": "经核查研发费用真实"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let status = f.app.get(&format!("/api/v1/objection-receipts/{receipt}")).await.json();
    assert_eq!(
        (status["state"].as_str(), status["decision"].as_str()),
        (Some("dismissed"), Some("经核查研发费用真实"))
    );

    // Past the period (moved over a weekend), objections are refused and the sweep makes it payable.
    f.app.svc().config.clock.advance(10 * 86_400);
    let late = json!({"case_id": e1, "name": "王五", "phone": "13800000000", "relation": "competitor", "facts": "补充异议：数据仍有问题，请再核查。"});
    let r = f.app.json("POST", &uri, None, late).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert!(r.text().contains("公示期已于"), "{}", r.text());
    let report = f.app.svc().sweep().unwrap();
    assert_eq!(report.disclosed_payable, 1, "{report:?}");
    let c1 = f.app.get_as(&format!("/api/v1/cases/{e1}"), &f.reviewer).await.json();
    assert_eq!(c1["state"], "payable", "{c1}");
}

#[tokio::test]
async fn the_disclosure_pages_take_an_objection_and_the_department_decides_it() {
    use crate::common::PASSWORD;
    let f = fixture(100.0).await;
    let list = f.propose().await;
    let id = list["id"].as_u64().unwrap();
    let list = f.call("POST", &format!("/api/v1/auto-lists/{id}/confirm"), &f.reviewer, json!({})).await.json();
    let e1 = f.entry(&list, 1)["id"].as_u64().unwrap();
    let body = json!({"holder": "测试企业1", "bank": "中国银行", "account": "6217000012345678"});
    assert_eq!(f.call("POST", &format!("/api/v1/cases/{e1}/accept"), &f.enterprise, body).await.status, StatusCode::OK);
    // The reviewer opens the disclosure from the measure's page.
    let reviewer = f.app.sign_in_existing("shenhe", PASSWORD).await;
    let page = f.app.page(&reviewer.cookie, &format!("/measures/{}", f.measure)).await.text();
    assert!(page.contains("id=\"open-disclosure\""), "{page}");
    let r = f.app.form(&reviewer, &format!("/measures/{}/disclosures", f.measure), &[("csrf", &reviewer.csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let batch_uri = r.location();
    // The public reads it, and the feed.
    let public = f.app.get(&batch_uri).await.text();
    assert!(
        public.contains("测试企业1") && public.contains("提出异议") && public.contains("0451-86612345"),
        "{public}"
    );
    assert!(f.app.get("/disclosures").await.text().contains("研发投入奖励"));
    let feed = f.app.get("/disclosures.atom").await;
    assert!(feed.text().contains("<feed") && feed.text().contains("研发投入奖励"), "{}", feed.text());
    // The objection form: anonymous is refused, what was typed is kept; a real name is taken.
    let form_uri = format!("{batch_uri}/object?case={e1}");
    let form = f.app.get(&form_uri).await;
    let anon_cookie = form.cookie("huiqi_csrf").expect("a pre-session CSRF cookie");
    let csrf = crate::common::extract_csrf(&form.text()).unwrap();
    let post = |pairs: Vec<(&'static str, String)>| {
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.append_pair("csrf", &csrf).append_pair("case_id", &e1.to_string());
        for (k, v) in &pairs {
            body.append_pair(k, v);
        }
        axum::http::Request::post(format!("{batch_uri}/object"))
            .header(axum::http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(axum::http::header::COOKIE, anon_cookie.clone())
            .body(axum::body::Body::from(body.finish()))
            .unwrap()
    };
    let facts = "该企业研发投入数据不实，请核查。".to_string();
    let r = f
        .app
        .send(post(vec![
            ("name", "".into()),
            ("phone", "13800000000".into()),
            ("relation", "competitor".into()),
            ("facts", facts.clone()),
        ]))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("实名") && r.text().contains("研发投入数据不实"), "{}", r.text());
    let r = f
        .app
        .send(post(vec![
            ("name", "王五".into()),
            ("phone", "138 0000 0000".into()),
            ("relation", "competitor".into()),
            ("facts", facts),
        ]))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let receipt_uri = r.location();
    let receipt = f.app.get(&receipt_uri).await.text();
    assert!(receipt.contains("待处理") && !receipt.contains("王五"), "{receipt}");
    // The department sees the objector and decides.
    let page = f.app.page(&reviewer.cookie, "/staff/objections").await.text();
    assert!(page.contains("王五") && page.contains("13800000000"), "{page}");
    let oid = f.app.get_as("/api/v1/objections", &f.reviewer).await.json()["objections"][0]["id"].as_u64().unwrap();
    let decide = format!("/staff/objections/{oid}/decide");
    let r = f.app.form(&reviewer, &decide, &[("csrf", &reviewer.csrf), ("decision", "dismiss"), ("reason", "")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = f
        .app
        .form(&reviewer, &decide, &[("csrf", &reviewer.csrf), ("decision", "dismiss"), ("reason", "经核查数据真实")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let receipt = f.app.get(&receipt_uri).await.text();
    assert!(receipt.contains("异议不成立") && receipt.contains("经核查数据真实"), "{receipt}");
}

/// Proposes, confirms and accepts entries 1 and 2 (entity 2 through a second account); with no
/// disclosure they are payable at once. Returns their case ids.
async fn payable_pair(f: &Fixture) -> (u64, u64, String) {
    let list = f.propose().await;
    let id = list["id"].as_u64().unwrap();
    let list = f.call("POST", &format!("/api/v1/auto-lists/{id}/confirm"), &f.reviewer, json!({})).await.json();
    let (e1, e2) = (f.entry(&list, 1)["id"].as_u64().unwrap(), f.entry(&list, 2)["id"].as_u64().unwrap());
    let ent2 = f.app.token("qiye2", Role::Enterprise, None);
    f.app
        .auth()
        .binding_grant(&Who::system("t"), "qiye2", &CreditCode::parse(&credit_code(2)).unwrap(), Capacity::LegalRep)
        .unwrap();
    for (case, token, name) in [(e1, &f.enterprise, "测试企业1"), (e2, &ent2, "测试企业2")] {
        let body = json!({"holder": name, "bank": "中国银行", "account": "6217000012345678"});
        let r = f.call("POST", &format!("/api/v1/cases/{case}/accept"), token, body).await;
        assert_eq!(r.json()["state"], "payable", "{}", r.text());
    }
    (e1, e2, ent2)
}

fn return_csv(rows: &[(u32, &str, &str, &str, &str, &str)]) -> Vec<u8> {
    let mut s = String::from("序号,统一社会信用代码,金额（元）,结果,支付日期,凭证号,失败原因\n");
    for (seq, code, amount, result, voucher, reason) in rows {
        let date = if *result == "支付成功" { "2026-12-03" } else { "" };
        s.push_str(&format!("{seq},{code},{amount},{result},{date},{voucher},{reason}\n"));
    }
    s.into_bytes()
}

#[tokio::test]
async fn a_batch_is_exported_paid_by_its_return_file_once_and_reconciles() {
    let f = fixture_with(100.0, 0).await;
    let (e1, e2, ent2) = payable_pair(&f).await;
    // One batch per source of funds, the rows in order.
    let r = f.call("POST", "/api/v1/payment-batches", &f.reviewer, json!({})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let batch = r.json()["batches"][0].clone();
    let b = batch["id"].as_u64().unwrap();
    assert_eq!(
        (batch["rows"].as_u64(), batch["total_fen"].as_i64(), batch["fund_source"].as_str()),
        (Some(2), Some(30_000_000), Some("市级科技专项资金"))
    );
    // Importing before export is refused; the export (the test reads the XLSX) locks it.
    let ret_uri = format!("/api/v1/payment-batches/{b}/returns?file_name=return.csv");
    let r = f.app.post_bytes(&ret_uri, &f.reviewer, return_csv(&[(1, "", "100000.00", "支付成功", "V1", "")])).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let x = f.app.get_as(&format!("/api/v1/payment-batches/{b}/export.xlsx"), &f.reviewer).await;
    assert_eq!(x.status, StatusCode::OK);
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(x.body.to_vec())).unwrap();
    let sheet = calamine::Reader::worksheet_range_at(&mut book, 0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
    assert_eq!(
        rows[0],
        [
            "批次号",
            "序号",
            "收款人名称",
            "统一社会信用代码",
            "开户银行",
            "银行账号",
            "金额（元）",
            "事项名称",
            "政策文号",
            "资金来源"
        ]
    );
    assert_eq!(
        rows[1][1..7],
        [
            "1".to_string(),
            "测试企业1".into(),
            credit_code(1),
            "中国银行".into(),
            "6217000012345678".into(),
            "100000.00".into()
        ]
    );
    assert_eq!(rows[2][6], "200000.00");
    assert_eq!(rows[1][9], "市级科技专项资金");
    let gb = f.app.get_as(&format!("/api/v1/payment-batches/{b}/export.csv?encoding=gb18030"), &f.reviewer).await;
    let (text, _, bad) = encoding_rs::GB18030.decode(&gb.body);
    assert!(!bad && text.contains("测试企业2"), "{text}");
    let shown = f.app.get_as(&format!("/api/v1/payment-batches/{b}"), &f.reviewer).await.json();
    assert_eq!(shown["state"], "exported");

    // A return file with an unknown row, or a wrong amount, is refused whole: nothing written.
    let code1 = credit_code(1);
    let code2 = credit_code(2);
    let r = f
        .app
        .post_bytes(
            &ret_uri,
            &f.reviewer,
            return_csv(&[(1, &code1, "100000.00", "支付成功", "PZ1", ""), (3, "", "5.00", "支付成功", "PZ3", "")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("第 3 行 序号"), "{}", r.text());
    let r =
        f.app.post_bytes(&ret_uri, &f.reviewer, return_csv(&[(1, &code1, "100000.01", "支付成功", "PZ1", "")])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("金额"), "{}", r.text());
    let c1 = f.app.get_as(&format!("/api/v1/cases/{e1}"), &f.reviewer).await.json();
    assert_eq!(c1["state"], "in_batch", "nothing written");

    // One paid, one failed; the same file again changes nothing.
    let good = return_csv(&[
        (1, &code1, "100000.00", "支付成功", "PZ-001", ""),
        (2, &code2, "\"200,000.00\"", "支付失败", "", "账号错误"),
    ]);
    let r = f.app.post_bytes(&ret_uri, &f.reviewer, good.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!((r.json()["paid"].as_u64(), r.json()["failed"].as_u64()), (Some(1), Some(1)));
    let r = f.app.post_bytes(&ret_uri, &f.reviewer, good).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!((r.json()["paid"].as_u64(), r.json()["unchanged"].as_u64()), (Some(0), Some(2)));
    let shown = f.app.get_as(&format!("/api/v1/payment-batches/{b}"), &f.reviewer).await.json();
    assert_eq!(
        (shown["paid_fen"].as_i64(), shown["failed_fen"].as_i64(), shown["pending_fen"].as_i64()),
        (Some(10_000_000), Some(20_000_000), Some(0))
    );
    assert_eq!((shown["reconciles"].as_bool(), shown["state"].as_str()), (Some(true), Some("settled")));
    // The enterprise sees 已拨付 with the date and voucher; the other is asked to correct its account.
    let c1 = f.app.get_as(&format!("/api/v1/cases/{e1}"), &f.enterprise).await.json();
    assert_eq!((c1["state"].as_str(), c1["payout"]["payment"]["voucher"].as_str()), (Some("paid"), Some("PZ-001")));
    let inbox = f.app.get_as(&format!("/api/v1/my/entities/{}/inbox", credit_code(2)), &ent2).await.text();
    assert!(inbox.contains("拨付失败") && inbox.contains("更正收款账户"), "{inbox}");
    let r = f
        .call(
            "POST",
            &format!("/api/v1/cases/{e2}/account"),
            &ent2,
            json!({"holder": "测试企业2", "bank": "建设银行", "account": "6227000012345678"}),
        )
        .await;
    assert_eq!(r.json()["state"], "payable", "{}", r.text());
    // It goes into the next batch, and is paid there.
    let next = f.call("POST", "/api/v1/payment-batches", &f.reviewer, json!({})).await.json()["batches"][0].clone();
    assert_eq!((next["rows"].as_u64(), next["total_fen"].as_i64()), (Some(1), Some(20_000_000)));
    let nb = next["id"].as_u64().unwrap();
    f.app.get_as(&format!("/api/v1/payment-batches/{nb}/export.csv"), &f.reviewer).await;
    let r = f
        .app
        .post_bytes(
            &format!("/api/v1/payment-batches/{nb}/returns?file_name=r.csv"),
            &f.reviewer,
            return_csv(&[(1, &code2, "200000.00", "支付成功", "PZ-002", "")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let money = f.app.get_as(&format!("/api/v1/measures/{}/money", f.measure), &f.reviewer).await.json();
    assert_eq!(
        (money["budget"].as_i64(), money["approved"].as_i64(), money["paid"].as_i64()),
        (Some(100_000_000), Some(60_000_000), Some(30_000_000)),
        "{money}"
    );
    assert_eq!((money["reserved"].as_i64(), money["remaining"].as_i64()), (Some(30_000_000), Some(40_000_000)));
    let c2 = f.app.get_as(&format!("/api/v1/cases/{e2}"), &f.reviewer).await.json();
    assert_eq!(
        (c2["state"].as_str(), c2["payout"]["payment"]["payee"]["bank"].as_str()),
        (Some("paid"), Some("建设银行"))
    );
}

#[tokio::test]
async fn the_payment_pages_make_a_batch_take_the_return_file_and_the_corrected_account() {
    use crate::common::PASSWORD;
    let f = fixture_with(100.0, 0).await;
    let (_, e2, _) = payable_pair(&f).await;
    let reviewer = f.app.sign_in_existing("shenhe", PASSWORD).await;
    let measure = f.app.page(&reviewer.cookie, &format!("/measures/{}", f.measure)).await.text();
    assert!(measure.contains("<b id=\"money-reserved\">600000.00</b>"), "reserved 60 万元: {measure}");
    let r = f.app.form(&reviewer, "/staff/payments", &[("csrf", &reviewer.csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let uri = r.location();
    let b: u64 = uri.trim_start_matches("/staff/payments/").parse().unwrap();
    let page = f.app.page(&reviewer.cookie, &uri).await.text();
    assert!(
        page.contains("id=\"export-xlsx\"") && page.contains("**** 5678") && !page.contains("6217000012345678"),
        "{page}"
    );
    assert!(!page.contains("id=\"return-form\""), "no return file before the export");
    f.app.get_as(&format!("/api/v1/payment-batches/{b}/export.xlsx"), &f.reviewer).await;
    // The return file through the page's upload: a bad one shows the row and reason.
    let upload = |bytes: Vec<u8>| {
        let boundary = "XhuiqiX";
        let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"return.csv\"\r\nContent-Type: text/csv\r\n\r\n", reviewer.csrf).into_bytes();
        body.extend_from_slice(&bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        axum::http::Request::post(format!("/staff/payments/{b}/returns"))
            .header(axum::http::header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .header(axum::http::header::COOKIE, &reviewer.cookie)
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    let r = f.app.send(upload(return_csv(&[(9, "", "1.00", "支付成功", "X", "")]))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("第 2 行 序号") && r.text().contains("不是批次"), "{}", r.text());
    let (c1, c2) = (credit_code(1), credit_code(2));
    let r = f
        .app
        .send(upload(return_csv(&[
            (1, &c1, "100000.00", "支付成功", "PZ-9", ""),
            (2, &c2, "200000.00", "支付失败", "", "户名不符"),
        ])))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.text().contains("支付成功 1，失败 1") && r.text().contains("id=\"reconciles\""), "{}", r.text());
    // The enterprise corrects its account on the case page.
    let ent2 = f.app.sign_in_existing("qiye2", PASSWORD).await;
    let case = f.app.page(&ent2.cookie, &format!("/cases/{e2}")).await.text();
    assert!(case.contains("id=\"correct-form\"") && case.contains("户名不符"), "{case}");
    let r = f
        .app
        .form(
            &ent2,
            &format!("/cases/{e2}/account"),
            &[("csrf", &ent2.csrf), ("holder", "测试企业2"), ("bank", "建设银行"), ("account", "12")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("8 至 32 位数字") && r.text().contains("建设银行"), "{}", r.text());
    let r = f
        .app
        .form(
            &ent2,
            &format!("/cases/{e2}/account"),
            &[("csrf", &ent2.csrf), ("holder", "测试企业2"), ("bank", "建设银行"), ("account", "6227000012345678")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let case = f.app.page(&ent2.cookie, &r.location()).await.text();
    assert!(case.contains("收款账户已更正") && case.contains("待拨付"), "{case}");
}

#[tokio::test]
async fn a_recovery_returns_the_money_to_the_budget() {
    use crate::common::PASSWORD;
    let f = fixture_with(100.0, 0).await;
    let (e1, _, _) = payable_pair(&f).await;
    let b = f.call("POST", "/api/v1/payment-batches", &f.reviewer, json!({})).await.json()["batches"][0]["id"]
        .as_u64()
        .unwrap();
    f.app.get_as(&format!("/api/v1/payment-batches/{b}/export.csv"), &f.reviewer).await;
    let (c1, c2) = (credit_code(1), credit_code(2));
    let csv =
        return_csv(&[(1, &c1, "100000.00", "支付成功", "PZ-1", ""), (2, &c2, "200000.00", "支付成功", "PZ-2", "")]);
    assert_eq!(
        f.app
            .post_bytes(&format!("/api/v1/payment-batches/{b}/returns?file_name=r.csv"), &f.reviewer, csv)
            .await
            .status,
        StatusCode::OK
    );
    let money_uri = format!("/api/v1/measures/{}/money", f.measure);
    let before = f.app.get_as(&money_uri, &f.reviewer).await.json();
    assert_eq!((before["paid"].as_i64(), before["remaining"].as_i64()), (Some(30_000_000), Some(40_000_000)));

    // A supervisor opens it (more than was paid is refused); the enterprise is told.
    let ducha = f.app.token("ducha", Role::Supervisor, None);
    let uri = format!("/api/v1/cases/{e1}/recovery");
    let r = f
        .call(
            "POST",
            &uri,
            &ducha,
            json!({"amount_yuan": "100000.01", "reason": "虚报研发费用", "deadline": "2026-12-31"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    let r = f
        .call("POST", &uri, &f.enterprise, json!({"amount_yuan": "100", "reason": "x", "deadline": "2026-12-31"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let r = f.call("POST", &uri, &ducha, json!({"amount_yuan": "40000.50", "reason": "虚报研发费用", "deadline": "2026-12-31", "bar_until": "2027-12-31"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["state"], "recovering");
    let inbox = f.app.get_as(&format!("/api/v1/my/entities/{}/inbox", credit_code(1)), &f.enterprise).await.text();
    assert!(inbox.contains("资金追回通知") && inbox.contains("40000.50"), "{inbox}");
    // The department records it through the case page; the money is back in the budget.
    let reviewer = f.app.sign_in_existing("shenhe", PASSWORD).await;
    let page = f.app.page(&reviewer.cookie, &format!("/cases/{e1}")).await.text();
    assert!(page.contains("id=\"recovered-form\"") && page.contains("40000.50"), "{page}");
    let r = f
        .app
        .form(
            &reviewer,
            &format!("/cases/{e1}/recovery/recovered"),
            &[("csrf", &reviewer.csrf), ("on", "2026-12-10"), ("voucher", "TH-001")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let after = f.app.get_as(&money_uri, &f.reviewer).await.json();
    assert_eq!(
        (after["paid"].as_i64(), after["recovered"].as_i64(), after["remaining"].as_i64()),
        (Some(30_000_000 - 4_000_050), Some(4_000_050), Some(40_000_000 + 4_000_050))
    );
    let c = f.app.get_as(&format!("/api/v1/cases/{e1}"), &f.enterprise).await.json();
    assert_eq!(
        (c["state"].as_str(), c["payout"]["recovery"]["recovered"][1].as_str()),
        (Some("recovered"), Some("TH-001"))
    );
    // Every move of money is in the audit trail.
    let audit =
        f.app.get_as("/api/v1/audit?action=money.recover", &f.app.token("admin2", Role::Sysadmin, None)).await.text();
    assert!(audit.contains(&format!("case:{e1} ")) && audit.contains("money.recover"), "{audit}");

    // The bar: `barred_until` on the entity (with its history), a field rules can test.
    let admin = f.admin.clone();
    let entity = f.app.get_as(&format!("/api/v1/entities/{}", credit_code(1)), &admin).await.json();
    assert_eq!(entity["barred_until"], "2027-12-31", "{entity}");
    let file = f.app.get_as(&format!("/api/v1/entities/{}/history", credit_code(1)), &admin).await.text();
    assert!(file.contains("barred_until") && file.contains("2027-12-31"), "{file}");
    let sim = json!({"name": "未受限制", "mode": "apply",
        "conditions": [{"label": "未被限制享受政策", "expr": "barred_until < today()"}], "list": true});
    let r = f.call("POST", "/api/v1/simulate", &ducha, sim).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // Never barred reads as 1970-01-01 (known, not missing): the four others pass, 1 fails.
    assert_eq!((r.json()["eligible"].as_u64(), r.json()["unknown"].as_u64()), (Some(4), Some(0)), "{}", r.text());
    assert!(!r.text().contains(&credit_code(1)), "{}", r.text());
    // Its department's measures refuse it until then; other departments' do not.
    let apply = |dept: &str, name: &str| {
        json!({"name": name, "category": "subsidy", "department": dept, "mode": "apply",
            "conditions": [{"label": "有研发投入", "expr": "rd_expense > 0"}], "contact": "0451-86612345"})
    };
    let policy = f
        .call(
            "POST",
            "/api/v1/policies",
            &f.publisher,
            json!({"title": "科技若干措施（二）",
        "doc_number": "哈科规〔2026〕2号", "level": "municipal", "department": DEPT, "issue_date": "2026-01-01",
        "valid_from": "2026-01-01", "valid_until": "2027-12-31", "text": "第一条", "interpretation": "", "tags": []}),
        )
        .await
        .json()["id"]
        .as_u64()
        .unwrap();
    let r =
        f.call("POST", &format!("/api/v1/policies/{policy}/measures"), &f.publisher, apply(DEPT, "研发后补助")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let same = r.json()["measure_id"].as_u64().unwrap();
    assert_eq!(f.app.publish(&f.publisher, same).await.status, StatusCode::OK);
    let r = f
        .call("POST", "/api/v1/cases", &f.enterprise, json!({"credit_code": credit_code(1), "measure_id": same}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert!(r.text().contains("因资金追回") && r.text().contains("2027-12-31"), "{}", r.text());
}

#[tokio::test]
async fn supplying_the_data_of_a_pending_entity_settles_it() {
    let f = fixture(1000.0).await;
    let admin = f.admin.clone();
    // A sixth entity, R&D unknown too.
    let body = json!({"name": "测试企业6", "region": "230102", "industry": "C3911", "employees": 80, "revenue": 2000});
    let r = f.app.json("PUT", &format!("/api/v1/entities/{}", credit_code(6)), Some(&admin), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let list = f.propose().await;
    let id = list["id"].as_u64().unwrap();
    assert_eq!((list["proposed"].as_u64(), list["pending"].as_u64()), (Some(3), Some(2)), "{list}");

    // Still undecided data changes nothing; R&D supplied for 5 lists it on this round.
    let put = |n: u32, body: Value| {
        let app = &f.app;
        let admin = admin.clone();
        async move { app.json("PUT", &format!("/api/v1/entities/{}", credit_code(n)), Some(&admin), body).await }
    };
    assert_eq!(put(5, json!({"employees": 81})).await.status, StatusCode::OK);
    let list = f.app.get_as(&format!("/api/v1/auto-lists/{id}"), &f.reviewer).await.json();
    assert_eq!(list["pending"], 2, "{list}");
    assert_eq!(put(5, json!({"rd_expense": 50})).await.status, StatusCode::OK);
    let list = f.app.get_as(&format!("/api/v1/auto-lists/{id}"), &f.reviewer).await.json();
    assert_eq!((list["proposed"].as_u64(), list["pending"].as_u64()), (Some(4), Some(1)), "{list}");
    assert_eq!(f.entry(&list, 5)["frozen"]["amount"], 5 * 1_000_000, "{list}");
    assert_eq!(list["proposed_fen"], 65 * 1_000_000);
    let p5 = list["pending_page"].as_array().unwrap().iter().find(|p| p["credit_code"] == credit_code(5)).unwrap();
    assert_eq!(
        (p5["resolved"]["eligible"].as_bool(), p5["resolved"]["case_id"].as_u64()),
        (Some(true), f.entry(&list, 5)["id"].as_u64())
    );

    // Once confirmed, an entity settled eligible waits for the next round; one that fails is
    // marked as such.
    assert_eq!(
        f.call("POST", &format!("/api/v1/auto-lists/{id}/confirm"), &f.reviewer, json!({})).await.status,
        StatusCode::OK
    );
    // This one through an import: the whole file is read again against the lists after it.
    let file = format!("统一社会信用代码,研发费用(万元)\n{},0\n", credit_code(6)).into_bytes();
    let r = f.app.post_bytes("/api/v1/imports?file_name=rd.csv", &admin, file).await;
    assert_eq!((r.status, r.json()["report"]["updated"].as_u64()), (StatusCode::CREATED, Some(1)), "{}", r.text());
    let list = f.app.get_as(&format!("/api/v1/auto-lists/{id}"), &f.reviewer).await.json();
    let p6 = list["pending_page"].as_array().unwrap().iter().find(|p| p["credit_code"] == credit_code(6)).unwrap();
    assert_eq!((list["pending"].as_u64(), p6["resolved"]["eligible"].as_bool()), (Some(0), Some(false)), "{list}");
    // The page shows what became of each.
    use crate::common::PASSWORD;
    let reviewer = f.app.sign_in_existing("shenhe", PASSWORD).await;
    let page = f.app.page(&reviewer.cookie, &format!("/auto-lists/{id}")).await.text();
    assert!(page.contains("补全后符合条件，已列入本轮名单") && page.contains("补全后不符合条件"), "{page}");
    let audit = f
        .app
        .get_as("/api/v1/audit?action=auto_list.recheck", &f.app.token("admin2", Role::Sysadmin, None))
        .await
        .text();
    assert!(audit.contains(&format!("auto_list:{id}")), "{audit}");
}

#[tokio::test]
async fn counter_cases_import_whole_or_not_at_all_once_per_number_and_count_in_the_budget() {
    use crate::common::PASSWORD;
    let f = fixture_with(100.0, 0).await;
    let header = "外部办件编号,统一社会信用代码,事项编号,申报日期,决定日期,决定,金额（元）,拨付日期,凭证号\n";
    let m = f.measure;
    let (c1, c2, c3) = (credit_code(1), credit_code(2), credit_code(3));
    let good = format!(
        "{header}CK-001,{c1},{m},2026-10-08,2026-10-20,通过,150000.00,2026-11-02,GK-77\nCK-002,{c2},{m},2026-10-09,2026-10-21,通过,50000,,\nCK-003,{c3},{m},2026-10-09,2026-10-21,不予通过,,,\n"
    );
    let uri = "/api/v1/offline-cases?file_name=counter.csv";
    // A bad row refuses the whole file, with its row, column, value and reason.
    let bad = format!(
        "{good}CK-004,91230100MA00000000,{m},2026-10-09,2026-10-21,通过,1,,\nCK-005,{c1},999,2026-13-01,2026-10-21,待定,,,\n"
    );
    let r = f.app.post_bytes(uri, &f.reviewer, bad.clone().into_bytes()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let text = r.text();
    for part in ["第 5 行 统一社会信用代码", "第 6 行 事项编号", "第 6 行 申报日期", "第 6 行 决定"]
    {
        assert!(text.contains(part), "{part}: {text}");
    }
    let money = format!("/api/v1/measures/{m}/money");
    assert_eq!(f.app.get_as(&money, &f.reviewer).await.json()["approved"], 0, "nothing written");
    // Good rows: paid, approved, rejected — counted in the budget; the same file again changes nothing.
    let r = f.app.post_bytes(uri, &f.reviewer, good.clone().into_bytes()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!((r.json()["created"].as_u64(), r.json()["unchanged"].as_u64()), (Some(3), Some(0)));
    let r = f.app.post_bytes(uri, &f.reviewer, good.into_bytes()).await;
    assert_eq!((r.json()["created"].as_u64(), r.json()["unchanged"].as_u64()), (Some(0), Some(3)));
    let shown = f.app.get_as(&money, &f.reviewer).await.json();
    assert_eq!((shown["approved"].as_i64(), shown["paid"].as_i64()), (Some(20_000_000), Some(15_000_000)));
    let cases = f.app.get_as(&format!("/api/v1/entities/{c1}/cases"), &f.reviewer).await.json();
    let case = &cases["cases"][0];
    assert_eq!(
        (case["origin"].as_str(), case["state"].as_str(), case["payout"]["external_no"].as_str()),
        (Some("offline"), Some("paid"), Some("CK-001"))
    );
    // Skipping bad rows imports the rest; the page shows both.
    let reviewer = f.app.sign_in_existing("shenhe", PASSWORD).await;
    let boundary = "XhuiqiX";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"skip_invalid\"\r\n\r\n1\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"counter.csv\"\r\nContent-Type: text/csv\r\n\r\n", reviewer.csrf).into_bytes();
    body.extend_from_slice(bad.as_bytes());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = axum::http::Request::post("/staff/offline-cases")
        .header(axum::http::header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .header(axum::http::header::COOKIE, &reviewer.cookie)
        .body(axum::body::Body::from(body))
        .unwrap();
    let r = f.app.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let text = r.text();
    assert!(text.contains("已导入未变 3") && text.contains("跳过 2") && text.contains("第 6 行 决定"), "{text}");
}

#[tokio::test]
async fn supervisors_see_objections_and_failed_payments_past_their_limits() {
    // A failed payment left uncorrected for more than 10 working days.
    let f = fixture_with(100.0, 0).await;
    let (_, e2, _) = payable_pair(&f).await;
    let b = f.call("POST", "/api/v1/payment-batches", &f.reviewer, json!({})).await.json()["batches"][0]["id"]
        .as_u64()
        .unwrap();
    f.app.get_as(&format!("/api/v1/payment-batches/{b}/export.csv"), &f.reviewer).await;
    let (c1, c2) = (credit_code(1), credit_code(2));
    let csv =
        return_csv(&[(1, &c1, "100000.00", "支付成功", "PZ-1", ""), (2, &c2, "200000.00", "支付失败", "", "账户冻结")]);
    assert_eq!(
        f.app
            .post_bytes(&format!("/api/v1/payment-batches/{b}/returns?file_name=r.csv"), &f.reviewer, csv)
            .await
            .status,
        StatusCode::OK
    );
    let ducha = f.app.token("ducha", Role::Supervisor, None);
    let board = f.app.get_as("/api/v1/supervision/money", &ducha).await.json();
    assert_eq!(board["failures"].as_array().map(Vec::len), Some(0), "within the limit: {board}");
    f.app.svc().config.clock.advance(20 * 86_400);
    let board = f.app.get_as("/api/v1/supervision/money", &ducha).await.json();
    assert_eq!(board["failures"][0]["case_id"], e2, "{board}");
    assert_eq!(board["failures"][0]["reason"], "账户冻结");
    assert_eq!(f.app.get_as("/api/v1/supervision/money", &f.reviewer).await.status, StatusCode::FORBIDDEN);

    // An objection undecided past its 5 working days.
    let f = fixture(100.0).await;
    let list = f.propose().await;
    let id = list["id"].as_u64().unwrap();
    let list = f.call("POST", &format!("/api/v1/auto-lists/{id}/confirm"), &f.reviewer, json!({})).await.json();
    let e1 = f.entry(&list, 1)["id"].as_u64().unwrap();
    let body = json!({"holder": "测试企业1", "bank": "中国银行", "account": "6217000012345678"});
    f.call("POST", &format!("/api/v1/cases/{e1}/accept"), &f.enterprise, body).await;
    let batch =
        f.call("POST", &format!("/api/v1/measures/{}/disclosures", f.measure), &f.reviewer, json!({})).await.json();
    let objection = json!({"case_id": e1, "name": "王五", "phone": "13800000000", "relation": "insider", "facts": "该企业研发投入数据不实，应予核查。"});
    let r = f.app.json("POST", &format!("/api/v1/disclosures/{}/objections", batch["id"]), None, objection).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // Supervised like a stage: the department is warned the working day before the decision
    // falls due, and told once it is late — each once.
    let due = r.json()["due"].as_str().unwrap().to_string();
    let notices = || async { f.app.get_as("/api/v1/notices", &f.reviewer).await.text() };
    f.app.svc().sweep().unwrap();
    assert!(!notices().await.contains("到期"), "not due yet: {}", notices().await);
    while f.app.svc().today().to_string() < due {
        f.app.svc().config.clock.advance(86_400);
        f.app.svc().sweep().unwrap();
    }
    let text = notices().await;
    assert!(text.contains(&format!("将于 {due} 到期")) && text.contains("due_soon"), "{text}");
    f.app.svc().config.clock.advance(10 * 86_400);
    assert_eq!(f.app.svc().sweep().unwrap().objections_noticed, 1);
    assert_eq!(f.app.svc().sweep().unwrap().objections_noticed, 0, "told once");
    let text = notices().await;
    assert!(text.contains("已超期") && text.contains("overdue"), "{text}");
    let ducha = f.app.token("ducha", Role::Supervisor, None);
    let board = f.app.get_as("/api/v1/supervision/money", &ducha).await.json();
    assert_eq!(board["objections"][0]["objection"]["case_id"], e1, "{board}");
    assert!(board["objections"][0]["days_late"].as_u64().unwrap() >= 1);
    let browser = f.app.sign_in_existing("ducha", crate::common::PASSWORD).await;
    let page = f.app.page(&browser.cookie, "/staff/supervision").await.text();
    assert!(page.contains("超期未处理的公示异议") && page.contains("测试企业1"), "{page}");
}

#[tokio::test]
async fn an_objector_adds_evidence_only_the_department_reads_it() {
    let f = fixture(100.0).await;
    let list = f.propose().await;
    let id = list["id"].as_u64().unwrap();
    let list = f.call("POST", &format!("/api/v1/auto-lists/{id}/confirm"), &f.reviewer, json!({})).await.json();
    let e1 = f.entry(&list, 1)["id"].as_u64().unwrap();
    let body = json!({"holder": "测试企业1", "bank": "中国银行", "account": "6217000012345678"});
    f.call("POST", &format!("/api/v1/cases/{e1}/accept"), &f.enterprise, body).await;
    let batch =
        f.call("POST", &format!("/api/v1/measures/{}/disclosures", f.measure), &f.reviewer, json!({})).await.json();
    let objection = json!({"case_id": e1, "name": "王五", "phone": "13800000000", "relation": "insider", "facts": "该企业研发投入数据不实，应予核查。"});
    let r = f.app.json("POST", &format!("/api/v1/disclosures/{}/objections", batch["id"]), None, objection).await;
    let receipt = r.json()["receipt"].as_str().unwrap().to_string();
    let pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec();
    let send = |bytes: Vec<u8>, name: &str| {
        axum::http::Request::post(format!("/api/v1/objection-receipts/{receipt}/evidence?name={name}"))
            .body(axum::body::Body::from(bytes))
            .unwrap()
    };
    let r = f.app.send(send(b"MZ\x90\x00not a document".to_vec(), "x.pdf")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let r = f.app.send(send(pdf.clone(), "contract.pdf")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["evidence"][0], "contract.pdf");
    let oid = f.app.get_as("/api/v1/objections", &f.reviewer).await.json()["objections"][0]["id"].as_u64().unwrap();
    let got = f.app.get_as(&format!("/api/v1/objections/{oid}/evidence/0"), &f.reviewer).await;
    assert_eq!((got.status, got.body.clone()), (StatusCode::OK, pdf.clone()));
    assert_eq!(
        f.app.get_as(&format!("/api/v1/objections/{oid}/evidence/0"), &f.enterprise).await.status,
        StatusCode::FORBIDDEN
    );
    // After the period, no more evidence.
    f.app.svc().config.clock.advance(10 * 86_400);
    assert_eq!(f.app.send(send(pdf, "more.pdf")).await.status, StatusCode::CONFLICT);
}
