//! Administration in the web UI and over the API: accounts, departments, tokens, bindings and
//! invitation codes, the calendar, the audit trail; enterprise registration over the API.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use huiqi::model::Role;
use serde_json::json;

use crate::common::{PASSWORD, TestApp};

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html.find(start).unwrap_or_else(|| panic!("{start} not in page")) + start.len();
    html[at..].split(end).next().unwrap()
}

#[tokio::test]
async fn administration_pages_do_their_jobs() {
    let app = TestApp::with_demo(10);
    let admin = app.sign_in_as("admin", Role::Sysadmin, None).await;
    let f = |uri: String, pairs: Vec<(&'static str, String)>| {
        let (admin, app) = (&admin, &app);
        async move {
            let mut all: Vec<(&str, &str)> = vec![("csrf", admin.csrf.as_str())];
            all.extend(pairs.iter().map(|(k, v)| (*k, v.as_str())));
            app.form(admin, &uri, &all).await
        }
    };

    // Departments: a bad region is refused with a message; a good one is listed.
    let bad = f("/admin/departments".to_string(), vec![("name", "测试局".into()), ("region", "999999".into())]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains("管辖区域"), "{}", bad.text());
    let ok = f("/admin/departments".to_string(), vec![("name", "测试局".into()), ("region", "230125".into())]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert!(app.page(&admin.cookie, "/admin/departments").await.text().contains("宾县"));

    // Accounts: a publisher without a department is refused; with one it gets a one-time password.
    let bad = f("/admin/users".to_string(), vec![("username", "pub1".into()), ("role", "publisher".into())]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains("必须属于一个部门"));
    let made = f(
        "/admin/users".to_string(),
        vec![
            ("username", "pub1".into()),
            ("role", "publisher".into()),
            ("department", "测试局".into()),
            ("phone", "13900001111".into()),
        ],
    )
    .await;
    assert_eq!(made.status, StatusCode::OK);
    assert_eq!(made.headers[header::CACHE_CONTROL], "no-store");
    let one_time = between(&made.text(), "id=\"secret\">", "<").to_string();
    let user = app.auth().user_by_name("pub1").unwrap();
    assert!(user.must_change_password && user.department.as_deref() == Some("测试局"));
    let list = app.page(&admin.cookie, "/admin/users?role=publisher").await.text();
    assert!(list.contains("pub1") && list.contains("139****1111"), "phones are masked for the administrator");
    assert!(!list.contains("13900001111"));
    // Reset: a new one-time password; the old one no longer works.
    let reset = f(format!("/admin/users/{}/reset-password", user.id), vec![]).await;
    let second = between(&reset.text(), "id=\"secret\">", "<").to_string();
    assert_ne!(second, one_time);
    assert_eq!(app.try_sign_in("pub1", &one_time).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.try_sign_in("pub1", &second).await.location(), "/account/password");

    // Tokens: made with scopes, shown once, listed without the secret, revoked.
    let made = f(
        "/admin/tokens".to_string(),
        vec![("username", "admin".into()), ("name", "市场监管数据对接".into()), ("scope", "entities:write".into())],
    )
    .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    let token = between(&made.text(), "id=\"token\">", "<").to_string();
    assert!(token.starts_with("hq_"));
    let listed = app.page(&admin.cookie, "/admin/tokens").await.text();
    assert!(listed.contains("市场监管数据对接") && !listed.contains(&token));
    let code = app.svc().entity_list(&huiqi::model::Who::system("test"), &Default::default()).unwrap().entities[0]
        .credit_code
        .to_string();
    let put = app.json("PUT", &format!("/api/v1/entities/{code}"), Some(&token), json!({"employees": 8})).await;
    assert_eq!(put.status, StatusCode::OK);
    let id = app.auth().tokens().unwrap()[0].id;
    f(format!("/admin/tokens/{id}/revoke"), vec![]).await;
    let put = app.json("PUT", &format!("/api/v1/entities/{code}"), Some(&token), json!({"employees": 9})).await;
    assert_eq!(put.status, StatusCode::UNAUTHORIZED, "a revoked token is refused");

    // Invitations: the letter shows the code once; the list shows only its last characters.
    let letter = f("/admin/invitations".to_string(), vec![("credit_code", code.clone()), ("days", "30".into())]).await;
    assert_eq!(letter.status, StatusCode::OK, "{}", letter.text());
    let plain = between(&letter.text(), "id=\"invitation-code\">", "<").to_string();
    assert_eq!(plain.len(), 14);
    assert!(letter.text().contains("绑定告知书"));
    let listed = app.page(&admin.cookie, "/admin/invitations").await.text();
    assert!(!listed.contains(&plain) && listed.contains(&plain[10..]));

    // Calendar: a year imported from CSV; a year without data is flagged.
    let page = app.page(&admin.cookie, "/admin/calendar").await.text();
    assert!(page.contains("2027") && page.contains("无数据，按周一至周五计算"));
    let boundary = "XcalX";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"year\"\r\n\r\n2027\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"2027.csv\"\r\nContent-Type: text/csv\r\n\r\ndate,kind,name\n2027-01-01,holiday,元旦\n2027-02-06,workday,春节调休\n\r\n--{boundary}--\r\n",
        admin.csrf
    );
    let req = Request::post("/admin/calendar")
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .header(header::COOKIE, &admin.cookie)
        .body(Body::from(body))
        .unwrap();
    let imported = app.send(req).await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.text());
    assert!(imported.text().contains("已导入 2027 年日历：2 天"));
    assert!(!app.svc().calendar().unwrap().is_working_day(huiqi::model::Date::parse("2027-01-01").unwrap()));

    // The audit trail lists all of it, filters, verifies and exports.
    let audit = app.page(&admin.cookie, "/admin/audit?action=token.").await.text();
    // Actions read as words (the code in the cell's title); the filter picks them from a list.
    assert!(audit.contains("<td title=\"token.create\">签发接口令牌</td>"), "{audit}");
    assert!(audit.contains("<td title=\"token.revoke\">撤销接口令牌</td>"));
    assert!(!audit.contains("<td title=\"user.create\">"), "the filter keeps other actions out");
    assert!(audit.contains("<option value=\"token.\" selected>"), "the filter shows what it picked");
    let verify = app.page(&admin.cookie, "/admin/audit/verify").await.text();
    assert!(verify.contains("审计链完整"), "{verify}");
    let csv = app.page(&admin.cookie, "/admin/audit/export.csv?actor=admin").await;
    assert!(csv.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text();
    assert!(text.contains("calendar.import") && text.contains("department.put"));
    assert!(!text.contains(&plain) && !text.contains(&token) && !text.contains(&second), "no secret in the trail");
    assert!(app.svc().audit_tail(1).unwrap()[0].action == "audit.export", "the export itself is recorded");
}

#[tokio::test]
async fn bindings_are_verified_by_a_specialist() {
    let app = TestApp::with_demo(10);
    let entity = &app.svc().entity_list(&huiqi::model::Who::system("test"), &Default::default()).unwrap().entities[0];
    let (code, name) = (entity.credit_code.to_string(), entity.name.clone().unwrap());
    // Registration over the API, without a code: pending.
    let body = json!({
        "username": "caiwu", "password": PASSWORD, "display_name": "李会计", "phone": "13700002222",
        "credit_code": code, "entity_name": name, "capacity": "finance",
        "accepted_terms_version": 1, "accepted_privacy_version": 1,
    });
    let r = app.json("POST", "/api/v1/register", None, body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["binding"]["status"], "pending");
    let again = app.json("POST", "/api/v1/register", None, body).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.json()["error"].as_str().unwrap().contains("已被使用"));
    let user = app.auth().user_by_name("caiwu").unwrap();
    let ent = app.sign_in_existing("caiwu", PASSWORD).await;
    assert!(app.page(&ent.cookie, "/my").await.text().contains("待核验"));
    assert_eq!(app.page(&ent.cookie, &format!("/my/entities/{code}")).await.status, StatusCode::FORBIDDEN);

    // The specialist sees the request with both names and the phone in full, and verifies it.
    let spec = app.sign_in_as("bangban", Role::Specialist, None).await;
    let queue = app.page(&spec.cookie, "/admin/bindings").await.text();
    assert!(queue.contains("李会计") && queue.contains("13700002222") && queue.contains(&name));
    let rejected = app
        .form(&spec, &format!("/admin/bindings/{}/{code}", user.id), &[("csrf", &spec.csrf), ("status", "rejected")])
        .await;
    assert_eq!(rejected.status, StatusCode::UNPROCESSABLE_ENTITY, "a rejection needs a reason");
    let ok = app
        .form(
            &spec,
            &format!("/admin/bindings/{}/{code}", user.id),
            &[("csrf", &spec.csrf), ("status", "verified"), ("note", "电话核实")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(app.page(&ent.cookie, &format!("/my/entities/{code}")).await.status, StatusCode::OK);
    let mine = app.page(&ent.cookie, "/api/v1/my/entities").await.json();
    assert_eq!(mine["entities"], json!([code]));

    // An invitation over the API binds a second user at once; the code then is spent.
    let admin = app.admin_token();
    let inv = app.json("POST", "/api/v1/invitations", Some(&admin), json!({"credit_code": code})).await.json();
    let plain = inv["code"].as_str().unwrap().to_string();
    app.account("fading", Role::Enterprise, None);
    let boss = app.sign_in_existing("fading", PASSWORD).await;
    let bind = |invitation: &str| {
        Request::post("/api/v1/my/bindings")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::COOKIE, &boss.cookie)
            .header("x-csrf-token", &boss.csrf)
            .body(Body::from(
                json!({"credit_code": code, "entity_name": name, "capacity": "legal_rep", "invitation": invitation})
                    .to_string(),
            ))
            .unwrap()
    };
    let r = app.send(bind(&plain)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["status"], "verified");
    let listed = app.get_as(&format!("/api/v1/invitations?entity={code}"), &admin).await.json();
    assert_eq!(listed[0]["state"], "used");
    // Users of the entity are listed for staff.
    let users = app.get_as(&format!("/api/v1/bindings?status=all&entity={code}"), &admin).await.json();
    assert_eq!(users.as_array().unwrap().len(), 2);
    let caiwu = users.as_array().unwrap().iter().find(|u| u["username"] == "caiwu").unwrap();
    assert_eq!(caiwu["phone"], "137****2222", "masked for the administrator");
}

#[tokio::test]
async fn accounts_over_the_api() {
    let app = TestApp::new();
    let admin = app.admin_token();
    let r = app
        .json("PUT", "/api/v1/departments/%E7%A7%91%E6%8A%80%E5%B1%80", Some(&admin), json!({"region": "230100"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = app
        .json(
            "POST",
            "/api/v1/users",
            Some(&admin),
            json!({"username": "shenhe", "role": "reviewer", "department": "科技局", "display_name": "审核员甲"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let v = r.json();
    let one_time = v["one_time_password"].as_str().unwrap().to_string();
    let id = v["user"]["id"].as_u64().unwrap();
    assert!(v["user"].get("password").is_none(), "never the hash");
    let bad = app.json("POST", "/api/v1/users", Some(&admin), json!({"username": "x1", "role": "boss"})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.json()["error"].as_str().unwrap().contains("role"));

    // The new account must change its password before anything else.
    let b = app.sign_in_existing("shenhe", &one_time).await;
    let r = app.page(&b.cookie, "/api/v1/entities").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.json()["error"].as_str().unwrap().contains("修改初始密码"));
    let change = Request::post("/api/v1/account/password")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::COOKIE, &b.cookie)
        .header("x-csrf-token", &b.csrf)
        .body(Body::from(json!({"current": one_time, "new": PASSWORD}).to_string()))
        .unwrap();
    assert_eq!(app.send(change).await.status, StatusCode::OK);
    let me = app.page(&b.cookie, "/api/v1/account").await.json();
    assert_eq!(me["role"], "reviewer");
    assert_eq!(me["regions"], json!(["230100"]));
    assert!(me["permissions"].as_array().unwrap().iter().any(|p| p == "entity.personal"));

    // Disabling ends its sessions; the last administrator stays.
    let r = app
        .json(
            "PUT",
            &format!("/api/v1/users/{id}"),
            Some(&admin),
            json!({"role": "reviewer", "department": "科技局", "disabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(app.page(&b.cookie, "/api/v1/account").await.status, StatusCode::UNAUTHORIZED);
    let admin_id = app.auth().user_by_name("admin").unwrap().id;
    let r = app.json("PUT", &format!("/api/v1/users/{admin_id}"), Some(&admin), json!({"role": "supervisor"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Tokens over the API, limited to their scopes.
    let r = app
        .json(
            "POST",
            "/api/v1/tokens",
            Some(&admin),
            json!({"username": "admin", "name": "审计导出", "scopes": ["audit:read"], "days": 30}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let audit_token = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(app.get_as("/api/v1/audit/verify", &audit_token).await.json()["broken"], serde_json::Value::Null);
    assert_eq!(app.get_as("/api/v1/users", &audit_token).await.status, StatusCode::FORBIDDEN);
    let trail = app.get_as("/api/v1/audit?action=user.", &audit_token).await.json();
    let entries = trail["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["action"] == "user.create" && e["ip"] != "" && e["after"].is_string()));
    assert!(entries.iter().all(|e| e["hash"].as_str().unwrap().len() == 64));

    // The calendar over the API.
    let r = app
        .send(
            Request::put("/api/v1/calendar/2027")
                .header(header::AUTHORIZATION, format!("Bearer {admin}"))
                .body(Body::from(r#"[{"date":"2027-10-01","kind":"holiday","name":"国庆节"}]"#))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let cal = app.get("/api/v1/calendar?year=2027").await.json();
    assert_eq!(cal["days"][0]["name"], "国庆节");
    assert!(cal["years"].as_array().unwrap().iter().any(|y| y["year"] == 2027 && y["fallback"] == false));
}
