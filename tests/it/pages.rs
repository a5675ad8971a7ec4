//! The web UI through `Router::oneshot`: public pages, sign-in, CSRF, the policy editor, the
//! entity file, and the upload → report → confirm import.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use huiqi::model::Role;

use crate::common::{TestApp, credit_code};

#[tokio::test]
async fn public_pages_render_in_chinese_and_english() {
    let app = TestApp::with_demo(10);
    let home = app.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.text().contains("惠企政策，一站找到"));
    let list = app.get("/policies?q=%E9%AB%98%E6%96%B0").await.text();
    assert!(list.contains("高新技术企业"), "search results list the measure");
    let filtered = app.get("/policies?level=county&mode=&category=&open=1").await;
    assert_eq!(filtered.status, StatusCode::OK, "empty filters are ignored");
    let first = app.svc().policy_search(&Default::default(), huiqi::service::policies::Audience::Public).unwrap();
    let policy = &first[0];
    let page = app.get(&format!("/policies/{}", policy.policy.id)).await.text();
    assert!(page.contains(&policy.policy.content.doc_number) && page.contains("政策解读"));
    let m = &policy.measures[0];
    let page = app.get(&format!("/measures/{}", m.id)).await.text();
    assert!(page.contains("申报条件") && page.contains(&m.spec.conditions[0].label));
    assert!(!page.contains(&m.spec.conditions[0].expr), "the public reads labels, not expressions");
    assert!(app.get(&format!("/measures/{}/versions", m.id)).await.text().contains("v1"));

    let switch = app.get("/lang/en?next=/policies").await;
    assert_eq!(switch.location(), "/policies");
    let cookie = switch.cookie("huiqi_lang").unwrap();
    let english = app.page(&cookie, "/policies").await.text();
    assert!(english.contains("Policies") && english.contains("中文"));
    let evil = app.get("/lang/en?next=https://evil.example").await;
    assert_eq!(evil.location(), "/staff", "only local redirects");

    let missing = app.get("/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text().contains("找不到"));
    let missing = app.get("/measures/99999").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let css = app.get(&huiqi::http::web::asset_url("app.css")).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/css"));
    assert!(app.get("/healthz").await.text().starts_with("ok"));
    assert_eq!(app.get("/metrics").await.status, StatusCode::UNAUTHORIZED);
    let metrics = app.get_as("/metrics", &app.admin_token()).await.text();
    assert!(metrics.contains("huiqi_entities 10") && metrics.contains("huiqi_http_requests_total{class=\"2xx\"}"));
}

#[tokio::test]
async fn staff_pages_need_sign_in_and_forms_need_csrf() {
    let app = TestApp::with_demo(5);
    let anon = app.get("/staff/entities").await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER);
    assert_eq!(anon.location(), "/login?next=/staff/entities");

    let wrong = app.try_sign_in("nobody", "x").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.text().contains("用户名或密码不正确"));
    let no_token = app
        .send(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("username=nobody&password=x&next=/staff"))
                .unwrap(),
        )
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN, "a sign-in form without its CSRF token is refused");

    let b = app.sign_in_as("admin", Role::Sysadmin, None).await;
    assert_eq!(app.page(&b.cookie, "/staff/entities").await.status, StatusCode::OK);

    let forged = app
        .form(
            &crate::common::Browser { cookie: b.cookie.clone(), csrf: "forged".into() },
            "/staff/entities",
            &[("csrf", "forged"), ("name", "x")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.text().contains("CSRF"));

    let out = app.form(&b, "/logout", &[("csrf", &b.csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(app.page(&b.cookie, "/staff").await.status, StatusCode::SEE_OTHER, "the session is gone");
}

#[tokio::test]
async fn policy_editor_creates_validates_publishes() {
    let app = TestApp::new();
    let b = app.sign_in_as("clerk", Role::Publisher, Some("宾县人社局")).await;
    let bad = app
        .form(
            &b,
            "/staff/policies",
            &[
                ("csrf", &b.csrf),
                ("title", ""),
                ("doc_number", "x"),
                ("level", "county"),
                ("department", "县政府"),
                ("issue_date", "2026-02-30"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = bad.text();
    assert!(html.contains("请填写政策标题") && html.contains("不是有效日期"), "{html}");
    assert!(html.contains("value=\"县政府\""), "what was typed is kept");

    let ok = app
        .form(
            &b,
            "/staff/policies",
            &[
                ("csrf", &b.csrf),
                ("title", "宾县稳岗惠企十条"),
                ("doc_number", "宾政规〔2026〕9号"),
                ("level", "county"),
                ("department", "宾县人民政府"),
                ("issue_date", "2026-05-01"),
                ("text", "第一条 ……"),
                ("tags", "稳岗，就业"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
    let policy_path = ok.location();
    let policy_id: u64 = policy_path.trim_start_matches("/policies/").parse().unwrap();

    let measure = app
        .form(
            &b,
            &format!("/staff/policies/{policy_id}/measures"),
            &[
                ("csrf", &b.csrf),
                ("name", "稳岗返还"),
                ("category", "subsidy"),
                ("mode", "auto"),
                ("department", "宾县人社局"),
                ("cond_label", "参保企业"),
                ("cond_expr", "ui_premium_paid > 0"),
                ("cond_label", ""),
                ("cond_expr", ""),
                ("amount", "ui_premium_paid * 0.6"),
                ("cap", "abc"),
                ("stage_name", "审核"),
                ("stage_days", "5"),
            ],
        )
        .await;
    assert_eq!(measure.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(measure.text().contains("单户上限") && measure.text().contains("不是数字"));

    let measure = app
        .form(
            &b,
            &format!("/staff/policies/{policy_id}/measures"),
            &[
                ("csrf", &b.csrf),
                ("name", "稳岗返还"),
                ("category", "subsidy"),
                ("mode", "auto"),
                ("department", "宾县人社局"),
                ("cond_label", "参保企业"),
                ("cond_expr", "ui_premium_paid > 0"),
                ("cap", "50"),
                ("stage_name", "审核"),
                ("stage_days", "5"),
            ],
        )
        .await;
    assert_eq!(measure.status, StatusCode::SEE_OTHER, "{}", measure.text());
    let measure_path = measure.location();
    let id: u64 = measure_path.trim_start_matches("/measures/").parse().unwrap();
    assert_eq!(app.get(&measure_path).await.status, StatusCode::NOT_FOUND, "a draft is not public");
    let staff_view = app.page(&b.cookie, &measure_path).await.text();
    assert!(staff_view.contains("草稿") && staff_view.contains("ui_premium_paid &gt; 0"));

    // The drafter asks; the button to approve is not theirs to use; a colleague approves.
    let asked = app
        .form(&b, &format!("/staff/measures/{id}/request-publication"), &[("csrf", &b.csrf), ("publish_on", "")])
        .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.text());
    let own = app.form(&b, &format!("/staff/measures/{id}/publish"), &[("csrf", &b.csrf)]).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN);
    let colleague = app.sign_in_as("colleague", Role::Publisher, Some("宾县人社局")).await;
    let page = app.page(&colleague.cookie, &measure_path).await.text();
    assert!(page.contains("id=\"approve-publication\"") && page.contains("clerk"), "the request and the button");
    let published = app.form(&colleague, &format!("/staff/measures/{id}/publish"), &[("csrf", &colleague.csrf)]).await;
    assert_eq!(published.location(), format!("/measures/{id}/versions"));
    assert!(app.get(&measure_path).await.text().contains("稳岗返还"));
    assert!(app.get(&policy_path).await.text().contains("宾政规〔2026〕9号"));

    // The edit form shows the stored values; saving makes version 2.
    let edit = app.page(&b.cookie, &format!("/staff/measures/{id}/edit")).await.text();
    assert!(edit.contains("value=\"50\"") && edit.contains("ui_premium_paid &gt; 0"));
    let saved = app
        .form(
            &b,
            &format!("/staff/measures/{id}"),
            &[
                ("csrf", &b.csrf),
                ("name", "稳岗返还"),
                ("category", "subsidy"),
                ("mode", "auto"),
                ("department", "宾县人社局"),
                ("cond_label", "参保企业"),
                ("cond_expr", "ui_premium_paid > 0"),
                ("cap", "40"),
                ("stage_name", "审核"),
                ("stage_days", "5"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let versions = app.page(&b.cookie, &format!("/measures/{id}/versions")).await.text();
    assert!(versions.contains("v2") && versions.contains("单户上限(万元)</th>"), "{versions}");
    assert!(versions.contains("<td><del>50</del></td><td><ins>40</ins></td>"), "{versions}");
}

#[tokio::test]
async fn entity_form_and_file() {
    let app = TestApp::new();
    let b = app.sign_in_as("admin", Role::Sysadmin, None).await;
    let code = credit_code(9);
    let bad = app
        .form(
            &b,
            "/staff/entities",
            &[
                ("csrf", &b.csrf),
                ("editing", "0"),
                ("credit_code", &code),
                ("name", "松北智联科技有限公司"),
                ("employees", "很多"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains("从业人数应为整数"));
    let ok = app
        .form(
            &b,
            "/staff/entities",
            &[
                ("csrf", &b.csrf),
                ("editing", "0"),
                ("credit_code", &code),
                ("name", "松北智联科技有限公司"),
                ("region", "230109"),
                ("industry", "I6513"),
                ("employees", "45"),
                ("revenue", "800"),
                ("tag_high_tech", "on"),
                ("tag_high_tech_since", "2025-10-01"),
                ("tag_high_tech_until", ""),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
    assert_eq!(ok.location(), format!("/staff/entities/{code}"));
    let again = app
        .form(&b, "/staff/entities", &[("csrf", &b.csrf), ("editing", "0"), ("credit_code", &code), ("name", "重复")])
        .await;
    assert!(again.text().contains("已存在"));

    let edit = app
        .form(
            &b,
            "/staff/entities",
            &[
                ("csrf", &b.csrf),
                ("editing", "1"),
                ("credit_code", &code),
                ("name", "松北智联科技有限公司"),
                ("region", "230109"),
                ("industry", "I6513"),
                ("employees", "60"),
                ("revenue", "800"),
            ],
        )
        .await;
    assert_eq!(edit.status, StatusCode::SEE_OTHER);
    let file = app.page(&b.cookie, &format!("/staff/entities/{code}")).await.text();
    assert!(file.contains("黑龙江省哈尔滨市松北区") && file.contains("软件和信息技术服务") || file.contains("I6513"));
    assert!(file.contains("从业人数：45 → 60"), "history shows the change");
    assert!(file.contains("资质标签："), "removing the tag is recorded too");
    let list = app.page(&b.cookie, "/staff/entities?q=%E6%99%BA%E8%81%94").await.text();
    assert!(list.contains("松北智联科技有限公司"));
}

#[tokio::test]
async fn upload_report_confirm() {
    let app = TestApp::new();
    let b = app.sign_in_as("admin", Role::Sysadmin, None).await;
    let boundary = "XhuiqiX";
    let upload = |name: &str, content: &str| {
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n{content}\r\n--{boundary}--\r\n",
            b.csrf
        );
        Request::post("/staff/imports")
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .header(header::COOKIE, &b.cookie)
            .body(Body::from(body))
            .unwrap()
    };
    let content = format!("credit_code,name,employees\n{},甲,3\n{},乙,-1\n", credit_code(1), credit_code(2));
    let r = app.send(upload("mixed.csv", &content)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let report_path = r.location();
    let report = app.page(&b.cookie, &report_path).await.text();
    assert!(report.contains("待确认") && report.contains("不能为负数") && report.contains("跳过有误的行"));
    assert_eq!(app.svc().stats().unwrap().entities, 0, "nothing written before confirmation");

    let refused = app.form(&b, &format!("{report_path}/confirm"), &[("csrf", &b.csrf)]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.text().contains("跳过有误的行"));

    let csv = app.page(&b.cookie, &format!("{report_path}/report.csv")).await.text();
    assert!(csv.contains("行号,列,值,原因") && csv.contains("3,employees,-1"));

    let done = app.form(&b, &format!("{report_path}/confirm"), &[("csrf", &b.csrf), ("skip_invalid", "on")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(app.page(&b.cookie, &report_path).await.text().contains("已导入"));
    assert_eq!(app.svc().stats().unwrap().entities, 1);
    let again = app.form(&b, &format!("{report_path}/confirm"), &[("csrf", &b.csrf), ("skip_invalid", "on")]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "a confirmed import cannot be applied twice");

    let xlsx = app.page(&b.cookie, "/staff/export/entities.xlsx").await;
    assert_eq!(xlsx.status, StatusCode::OK);
    assert!(xlsx.headers[header::CONTENT_DISPOSITION].to_str().unwrap().contains(".xlsx"));
}
