//! Who may reach what: every page and API route, taken from the router's own table, called by
//! every role and by an anonymous visitor; out-of-scope data; CSRF on every write; sign-in
//! delays and locks; session timeouts, rotation and sign-out.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use huiqi::auth::NewUser;
use huiqi::http::routes::RouteSpec;
use huiqi::model::{Capacity, CreditCode, MeasureId, Role, TokenScope, Vocabulary, Who};
use serde_json::json;

use crate::common::{Browser, PASSWORD, Reply, TestApp, extract_csrf};

fn system() -> Who {
    Who::system("test")
}

/// The demo with one account per role, an enterprise bound to the first entity and another
/// bound to the second, and records for every kind of path parameter.
pub(crate) struct World {
    pub(crate) app: TestApp,
    pub(crate) sessions: HashMap<Role, Browser>,
    pub(crate) params: HashMap<&'static str, String>,
    /// The publisher's department handles this measure; another department handles `other_measure`.
    other_measure: u64,
    /// The first entity (bound to the enterprise account) and the second (bound to another).
    pub(crate) own_entity: String,
    other_entity: String,
}

pub(crate) fn usernames(role: Role) -> &'static str {
    match role {
        Role::Sysadmin => "admin",
        Role::Publisher => "publisher",
        Role::Reviewer => "reviewer",
        Role::Supervisor => "supervisor",
        Role::Specialist => "specialist",
        Role::Enterprise => "enterprise",
    }
}

pub(crate) async fn world() -> World {
    // Many sign-ins from one test address: lift the per-address limit for this test.
    let settings = huiqi::http::Settings { attempts_burst: 10_000, ..Default::default() };
    let app = TestApp::with_settings(settings).load_demo(20);
    let measures = app.svc().policy_search(&Default::default(), huiqi::service::policies::Audience::Staff).unwrap();
    let first = &measures[0];
    let measure = &first.measures[0];
    let department = measure.spec.department.clone();
    let other_measure = measures
        .iter()
        .flat_map(|p| &p.measures)
        .find(|m| m.spec.department != department)
        .expect("a measure of another department")
        .id;
    let all = huiqi::service::entities::EntityQuery { limit: 100, ..Default::default() };
    let entities = app.svc().entity_list(&huiqi::model::Who::system("test"), &all).unwrap().entities;
    let (own_entity, other_entity) = (entities[0].credit_code.to_string(), entities[1].credit_code.to_string());

    let mut users = HashMap::new();
    for role in Role::ALL {
        let dept = matches!(role, Role::Publisher | Role::Reviewer).then_some(department.as_str());
        users.insert(*role, app.account(usernames(*role), *role, dept));
    }
    app.account("enterprise2", Role::Enterprise, None);
    app.auth()
        .binding_grant(&system(), "enterprise", &CreditCode::parse(&own_entity).unwrap(), Capacity::LegalRep)
        .unwrap();
    app.auth()
        .binding_grant(&system(), "enterprise2", &CreditCode::parse(&other_entity).unwrap(), Capacity::LegalRep)
        .unwrap();

    // Records the parameterised routes point at.
    let (target, _) =
        app.auth().user_create(&system(), NewUser::new("target", Role::Supervisor), Some(PASSWORD)).unwrap();
    let (token, _) = app.auth().token_create(&system(), "target", "matrix", &[TokenScope::EntitiesRead], None).unwrap();
    let (invitation, _) =
        app.auth().invitation_create(&system(), &CreditCode::parse(&own_entity).unwrap(), 30).unwrap();
    let pending = app.account("applicant", Role::Enterprise, None);
    let name = entities[2].name.clone().unwrap();
    let req = huiqi::auth::BindRequest {
        credit_code: entities[2].credit_code.to_string(),
        entity_name: name,
        capacity: Capacity::Agent,
        invitation: String::new(),
    };
    app.auth().binding_request(pending.id, &req, "test").unwrap();
    let job = app
        .svc()
        .import_stage(&system(), "x.csv", format!("credit_code,name\n{own_entity},改名\n").into_bytes())
        .unwrap();

    // A case of the enterprise's entity, handled by the publisher's and reviewer's department.
    let spec: huiqi::model::MeasureSpec = serde_json::from_value(serde_json::json!({
        "name": "办件测试事项", "department": department, "mode": "apply",
        "window_start": "2026-01-01", "window_end": "2026-12-31",
        "review_stages": [{"name": "受理", "days": 3}]
    }))
    .unwrap();
    let m = app.svc().measure_create(&system(), first.policy.id, spec).unwrap();
    app.svc().measure_publish(&system(), MeasureId(m.measure_id)).unwrap();
    let applicant =
        Who { entities: vec![CreditCode::parse(&own_entity).unwrap()], ..Who::user(&users[&Role::Enterprise], "test") };
    let case = app
        .svc()
        .case_open(
            &applicant,
            &huiqi::model::CreditCode::parse(&own_entity).unwrap(),
            huiqi::model::MeasureId(m.measure_id),
        )
        .unwrap();
    // The specialist looks after the enterprise's entity (帮办分工).
    app.svc().assignment_set(&system(), "specialist", &CreditCode::parse(&own_entity).unwrap(), true).unwrap();

    let mut params = HashMap::new();
    params.insert("case", case.case.id.to_string());
    params.insert("policy", first.policy.id.to_string());
    params.insert("measure", measure.id.to_string());
    params.insert("user_id", target.id.to_string());
    params.insert("token", token.id.to_string());
    params.insert("invitation", invitation.id.to_string());
    params.insert("import", job.id.to_string());
    params.insert("binding_user", pending.id.to_string());
    params.insert("binding_code", entities[2].credit_code.to_string());
    params.insert("code", own_entity.clone());
    params.insert("department", department);

    let mut w = World { app, sessions: HashMap::new(), params, other_measure, own_entity, other_entity };
    for role in Role::ALL {
        let b = w.app.sign_in_existing(usernames(*role), PASSWORD).await;
        w.sessions.insert(*role, b);
    }
    w
}

impl World {
    /// The route's path with its parameters filled with records that are in the caller's scope.
    pub(crate) fn path(&self, spec: &RouteSpec) -> String {
        let p = |k: &str| self.params[k].clone();
        let mut path = spec.path.clone();
        let fill: Vec<(&str, String)> = if path.contains("/users/{id}") {
            vec![("{id}", p("user_id"))]
        } else if path.contains("/tokens/{id}") {
            vec![("{id}", p("token"))]
        } else if path.contains("/invitations/{id}") {
            vec![("{id}", p("invitation"))]
        } else if path.contains("/imports/{id}") {
            vec![("{id}", p("import"))]
        } else if path.contains("/sessions/{id}") {
            vec![("{id}", "000000000000".into())]
        } else if path.contains("/cases/{id}") {
            vec![("{id}", p("case")), ("{n}", "0".into())]
        } else if path.contains("/inbox/{id}") {
            vec![("{id}", "1".into())]
        } else if path.contains("/policies/{id}") {
            vec![("{id}", p("policy"))]
        } else {
            vec![("{id}", p("measure"))]
        };
        for (k, v) in fill {
            path = path.replace(k, &v);
        }
        path.replace("{user}", &p("binding_user"))
            .replace("/bindings/{code}", &format!("/bindings/{}", self.own_entity))
            .replace(
                "{code}",
                &p(if spec.path.contains("/admin/bindings/") || spec.path.contains("/api/v1/bindings/") {
                    "binding_code"
                } else {
                    "code"
                }),
            )
            .replace("{key}", "high_tech")
            .replace("{name}", &url(&p("department")))
            .replace("{year}", "2027")
            .replace("/static/{file}", "/static/app.css")
            .replace("{file}", "entities.csv")
    }

    async fn call(&self, method: &Method, path: &str, role: Option<Role>, csrf: bool) -> Reply {
        let mut req = Request::builder().method(method.clone()).uri(path);
        match role.and_then(|r| self.sessions.get(&r)) {
            Some(b) => {
                req = req.header(header::COOKIE, &b.cookie);
                if csrf {
                    req = req.header("x-csrf-token", &b.csrf);
                }
            }
            None if csrf && *method != Method::GET => {
                // An anonymous form carries the pre-session token of its cookie.
                let page = self.app.get("/login").await;
                let cookie = page.cookie("huiqi_csrf").unwrap();
                req = req.header(header::COOKIE, &cookie).header("x-csrf-token", cookie.split('=').nth(1).unwrap());
            }
            None => {}
        }
        let body = if *method == Method::GET { Body::empty() } else { Body::from("{}") };
        self.app.send(req.header(header::CONTENT_TYPE, "application/json").body(body).unwrap()).await
    }

    /// Signs the role in again after a route that ended its session.
    async fn refresh(&mut self, role: Role) {
        let b = self.app.sign_in_existing(usernames(role), PASSWORD).await;
        self.sessions.insert(role, b);
    }
}

fn url(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn denied(spec: &RouteSpec, reply: &Reply, anonymous: bool) -> bool {
    let api = spec.is_api() || spec.path == "/metrics";
    match (api, anonymous) {
        (true, true) => reply.status == StatusCode::UNAUTHORIZED,
        (false, true) => reply.status == StatusCode::SEE_OTHER && reply.location().starts_with("/login?next="),
        (_, false) => reply.status == StatusCode::FORBIDDEN,
    }
}

/// Routes that end the caller's own session.
fn ends_session(spec: &RouteSpec) -> bool {
    spec.path == "/logout" || spec.path.ends_with("/sessions/end-all") || spec.path == "/api/v1/account/sessions"
}

#[tokio::test]
async fn every_route_admits_exactly_the_roles_the_permission_table_names() {
    let mut w = world().await;
    let specs = huiqi::http::route_specs();
    assert!(specs.len() > 90, "the router's table lists every route ({})", specs.len());
    let mut checked = 0;
    for spec in &specs {
        let path = w.path(spec);
        let mut callers: Vec<Option<Role>> = Role::ALL.iter().copied().map(Some).collect();
        callers.push(None);
        for role in callers {
            let reply = w.call(&spec.method, &path, role, true).await;
            let expected = match role {
                Some(r) => spec.access.allows_role(r),
                None => spec.access.allows_anonymous(),
            };
            let who = role.map_or("anonymous", Role::key);
            if expected {
                assert!(
                    !denied(spec, &reply, role.is_none())
                        && !reply.status.is_server_error()
                        && reply.status != StatusCode::UNAUTHORIZED
                        // Signing out everywhere sends one to the sign-in page on purpose.
                        && (ends_session(spec) || !reply.location().starts_with("/login")),
                    "{who} should reach {} {path} ({}) but got {} {}",
                    spec.method,
                    spec.access.describe(),
                    reply.status,
                    reply.text().chars().take(300).collect::<String>()
                );
            } else {
                assert!(
                    denied(spec, &reply, role.is_none()),
                    "{who} must not reach {} {path} ({}) but got {} {}",
                    spec.method,
                    spec.access.describe(),
                    reply.status,
                    reply.text().chars().take(300).collect::<String>()
                );
            }
            checked += 1;
            if let Some(r) = role
                && expected
                && ends_session(spec)
            {
                w.refresh(r).await;
            }
            if role == Some(Role::Enterprise) && spec.path.ends_with("/leave") {
                // It gave up its entity: bind it again for the routes that follow.
                let code = w.own_entity.clone();
                w.app
                    .auth()
                    .binding_grant(&system(), "enterprise", &CreditCode::parse(&code).unwrap(), Capacity::LegalRep)
                    .unwrap();
                w.refresh(Role::Enterprise).await;
            }
        }
    }
    assert_eq!(checked, specs.len() * (Role::ALL.len() + 1));
}

#[tokio::test]
async fn every_write_needs_the_csrf_token() {
    let w = world().await;
    for spec in huiqi::http::route_specs().iter().filter(|s| s.method != Method::GET) {
        let role = Role::ALL.iter().copied().find(|r| spec.access.allows_role(*r)).expect("someone may use it");
        let path = w.path(spec);
        // A form post without the token, as a forged cross-site form would send it.
        let b = &w.sessions[&role];
        let req = Request::builder()
            .method(spec.method.clone())
            .uri(&path)
            .header(header::COOKIE, &b.cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("name=x"))
            .unwrap();
        let reply = w.app.send(req).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{} {path} as {} without a token", spec.method, role.key());
        assert!(reply.text().contains("CSRF"), "{} {path}: {}", spec.method, reply.text());
    }
}

#[tokio::test]
async fn data_outside_ones_scope_is_refused() {
    let w = world().await;
    let ent = Some(Role::Enterprise);
    let r = w.call(&Method::GET, &format!("/my/entities/{}", w.other_entity), ent, false).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "another enterprise's entity page");
    // Another's entity answers as a missing one does: no probing which credit codes exist.
    for path in [format!("/api/v1/entities/{}", w.other_entity), format!("/api/v1/entities/{}/matches", w.other_entity)]
    {
        let r = w.call(&Method::GET, &path, ent, false).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "another enterprise's entity: {path}");
        let missing = w.call(&Method::GET, &path.replace(&w.other_entity, "91230100MA00000000"), ent, false).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "a missing entity: {path}");
    }
    for path in [format!("/my/entities/{}", w.own_entity), format!("/api/v1/entities/{}", w.own_entity)] {
        assert_eq!(w.call(&Method::GET, &path, ent, false).await.status, StatusCode::OK, "its own: {path}");
    }
    // A publisher changes only what its department handles.
    let other = w.other_measure;
    let p = Some(Role::Publisher);
    let r = w.call(&Method::POST, &format!("/staff/measures/{other}/publish"), p, true).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.text().contains("本部门"));
    let spec = w.app.svc().measure_get(MeasureId(other), huiqi::service::policies::Audience::Staff).unwrap().0.spec;
    let b = &w.sessions[&Role::Publisher];
    let req = Request::put(format!("/api/v1/measures/{other}"))
        .header(header::COOKIE, &b.cookie)
        .header("x-csrf-token", &b.csrf)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_string(&spec).unwrap()))
        .unwrap();
    assert_eq!(w.app.send(req).await.status, StatusCode::FORBIDDEN);

    // Staff limited to a county see only that county's entities.
    w.app.auth().department_put(&system(), "宾县人社局", "230125").unwrap();
    w.app.account("county", Role::Reviewer, Some("宾县人社局"));
    let county = w.app.sign_in_existing("county", PASSWORD).await;
    let list = w.app.page(&county.cookie, "/api/v1/entities?limit=500").await.json();
    let entities = list["entities"].as_array().unwrap();
    assert!(entities.iter().all(|e| e["region"].as_str().unwrap_or("").starts_with("230125")), "{list}");
    let query = huiqi::service::entities::EntityQuery { limit: 100, ..Default::default() };
    let all = w.app.svc().entity_list(&huiqi::model::Who::system("test"), &query).unwrap().entities;
    let outside = all.iter().find(|e| e.region.as_ref().is_some_and(|r| !r.within("230125"))).unwrap();
    let r = w.app.page(&county.cookie, &format!("/staff/entities/{}", outside.credit_code)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "outside the county, as if missing");
    let inside = all.iter().find(|e| e.region.as_ref().is_some_and(|r| r.within("230125")));
    if let Some(e) = inside {
        let r = w.app.page(&county.cookie, &format!("/staff/entities/{}", e.credit_code)).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // A token reaches only what its scopes cover, whatever its account's role.
    let (_, feed) = w.app.auth().token_create(&system(), "admin", "feed", &[TokenScope::EntitiesWrite], None).unwrap();
    let code = &w.own_entity;
    let put = w.app.json("PUT", &format!("/api/v1/entities/{code}"), Some(&feed), json!({"employees": 7})).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    let users = w.app.get_as("/api/v1/users", &feed).await;
    assert_eq!(users.status, StatusCode::FORBIDDEN);
    assert!(users.text().contains("令牌的权限范围"));
}

/// What a security review of the accounts work found, each closed.
#[tokio::test]
async fn review_findings_stay_closed() {
    let w = world().await;
    let admin = &w.sessions[&Role::Sysadmin];
    // A multipart body to the import API from a browser session still needs the CSRF header.
    let req = Request::post("/api/v1/imports")
        .header(header::COOKIE, &admin.cookie)
        .header(header::CONTENT_TYPE, "multipart/form-data; boundary=x")
        .body(Body::from(format!("credit_code,name\n{},伪造\n", w.own_entity)))
        .unwrap();
    assert_eq!(w.app.send(req).await.status, StatusCode::FORBIDDEN);

    // A specialist limited to another city neither issues codes for nor sees bindings of this one.
    w.app.auth().department_put(&system(), "牡丹江市政务服务中心", "231000").unwrap();
    let far = w.app.token("far", Role::Specialist, Some("牡丹江市政务服务中心"));
    let r =
        w.app.json("POST", "/api/v1/invitations", Some(&far), json!({"credit_code": w.own_entity, "days": 30})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let rows = w.app.get_as("/api/v1/bindings?status=all", &far).await.json();
    assert_eq!(rows.as_array().map_or(0, Vec::len), 0, "{rows}");
    let (user, code) = (w.params["binding_user"].clone(), w.params["binding_code"].clone());
    let r =
        w.app.json("POST", &format!("/api/v1/bindings/{user}/{code}"), Some(&far), json!({"status": "verified"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());

    // Updating one field of an account leaves the others as they were.
    let admin_token = w.app.token("root", Role::Sysadmin, None);
    let id = &w.params["user_id"];
    let r = w.app.json("PUT", &format!("/api/v1/users/{id}"), Some(&admin_token), json!({"disabled": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r =
        w.app.json("PUT", &format!("/api/v1/users/{id}"), Some(&admin_token), json!({"display_name": "改名"})).await;
    assert_eq!((r.json()["disabled"].clone(), r.json()["display_name"].clone()), (json!(true), json!("改名")));

    // A token neither lists nor ends browser sessions.
    assert_eq!(w.app.get_as("/api/v1/account/sessions", &admin_token).await.status, StatusCode::FORBIDDEN);
    // A publisher without a department (as an upgrade may leave one) writes nothing.
    let lone = Who { role: Some(Role::Publisher), name: "legacy".into(), ..Who::default() };
    let err = w.app.svc().measure_publish(&lone, MeasureId(w.other_measure)).unwrap_err();
    assert!(err.to_string().contains("尚未设置所属部门"), "{err}");
    // Staff with personal-data rights still see masked values until they unmask with a reason.
    let r = w.call(&Method::GET, &format!("/api/v1/entities/{}", w.own_entity), Some(Role::Specialist), false).await;
    let phone = w
        .app
        .svc()
        .entity_get(&huiqi::model::Who::system("test"), &CreditCode::parse(&w.own_entity).unwrap())
        .unwrap()
        .contact_phone
        .unwrap();
    assert_eq!(r.json()["contact_phone"], huiqi::model::mask::phone(&phone));
}

#[tokio::test]
async fn personal_data_is_masked_and_unmasking_is_audited() {
    let w = world().await;
    let code = w.own_entity.clone();
    let e = w.app.svc().entity_get(&huiqi::model::Who::system("test"), &CreditCode::parse(&code).unwrap()).unwrap();
    let phone = e.contact_phone.clone().unwrap();
    let admin = w.call(&Method::GET, &format!("/staff/entities/{code}"), Some(Role::Sysadmin), false).await.text();
    assert!(
        !admin.contains(&phone) && admin.contains(&huiqi::model::mask::phone(&phone)),
        "masked for the administrator"
    );
    let api = w.call(&Method::GET, &format!("/api/v1/entities/{code}"), Some(Role::Supervisor), false).await.json();
    assert_eq!(api["contact_phone"], huiqi::model::mask::phone(&phone));
    // The enterprise sees its own data in full.
    let own = w.call(&Method::GET, &format!("/my/entities/{code}"), Some(Role::Enterprise), false).await.text();
    assert!(own.contains(&phone));
    // A specialist unmasks, with a reason, and it is recorded.
    let b = &w.sessions[&Role::Specialist];
    let shown = w
        .app
        .form(b, &format!("/staff/entities/{code}/unmask"), &[("csrf", &b.csrf), ("reason", "电话回访核实申报材料")])
        .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.text().contains(&phone));
    let trail = w.app.svc().audit_tail(5).unwrap();
    let entry = trail.iter().find(|a| a.action == "entity.unmask").expect("an audit entry");
    assert_eq!((entry.actor.as_str(), entry.role.as_str()), ("specialist", "specialist"));
    assert!(entry.detail.contains("电话回访"));
}

#[tokio::test]
async fn wrong_passwords_are_slowed_then_locked_until_unlocked() {
    let app = TestApp::with_settings(huiqi::http::Settings { attempts_burst: 1000, ..Default::default() });
    let user = app.account("clerk", Role::Supervisor, None);
    app.account("admin", Role::Sysadmin, None);
    let clock = app.svc().config.clock.clone();
    for _ in 0..huiqi::auth::FREE_FAILURES {
        assert_eq!(app.try_sign_in("clerk", "wrong-password").await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.try_sign_in("clerk", "wrong-password").await.status, StatusCode::UNAUTHORIZED);
    let slowed = app.try_sign_in("clerk", PASSWORD).await;
    assert_eq!(slowed.status, StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    assert!(slowed.text().contains("秒后再试"), "{}", slowed.text());
    let mut failures = huiqi::auth::FREE_FAILURES + 1;
    while failures < huiqi::auth::HARD_LOCK_AFTER {
        clock.advance(huiqi::auth::MAX_DELAY_SECONDS);
        app.try_sign_in("clerk", "wrong-password").await;
        failures += 1;
    }
    clock.advance(3600);
    let locked = app.try_sign_in("clerk", PASSWORD).await;
    assert_eq!(locked.status, StatusCode::UNAUTHORIZED);
    assert!(locked.text().contains("已被锁定"), "{}", locked.text());
    let admin = app.sign_in_existing("admin", PASSWORD).await;
    let list = app.page(&admin.cookie, "/admin/users").await.text();
    assert!(list.contains("已锁定"));
    let unlock = app.form(&admin, &format!("/admin/users/{}/unlock", user.id), &[("csrf", &admin.csrf)]).await;
    assert_eq!(unlock.status, StatusCode::SEE_OTHER);
    assert_eq!(app.try_sign_in("clerk", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let trail = app.svc().audit_tail(50).unwrap();
    assert!(trail.iter().any(|a| a.action == "user.unlock" && a.actor == "admin"));
    assert!(trail.iter().filter(|a| a.action == "auth.login_failed").count() >= huiqi::auth::HARD_LOCK_AFTER as usize);
}

#[tokio::test]
async fn one_address_is_rate_limited() {
    let app = TestApp::with_settings(huiqi::http::Settings { attempts_burst: 3, ..Default::default() });
    for _ in 0..3 {
        assert_eq!(app.try_sign_in("nobody", "x").await.status, StatusCode::UNAUTHORIZED);
    }
    let limited = app.try_sign_in("nobody", "x").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.text().contains("尝试过于频繁"));
}

#[tokio::test]
async fn sessions_expire_rotate_and_end() {
    let app = TestApp::new();
    let b = app.sign_in_as("clerk", Role::Supervisor, None).await;
    assert_eq!(app.page(&b.cookie, "/staff").await.status, StatusCode::OK);
    // Idle for longer than the idle timeout: refused.
    app.svc().config.clock.advance(31 * 60);
    let r = app.page(&b.cookie, "/staff").await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login?next=/staff".to_string()));
    let r = app.page(&b.cookie, "/api/v1/account").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Signing in gives a fresh id even when an old cookie is presented.
    let first = app.sign_in_existing("clerk", PASSWORD).await;
    let second = app.sign_in_existing("clerk", PASSWORD).await;
    assert_ne!(first.cookie, second.cookie);
    // The session list shows both; ending all signs out everywhere.
    let list = app.page(&second.cookie, "/account/sessions").await.text();
    assert!(list.contains("当前会话"));
    let all = app.form(&second, "/account/sessions/end-all", &[("csrf", &second.csrf)]).await;
    assert_eq!(all.status, StatusCode::SEE_OTHER);
    assert_eq!(app.page(&first.cookie, "/staff").await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.page(&second.cookie, "/staff").await.status, StatusCode::SEE_OTHER);

    // A signed-out session is refused, for pages and for writes.
    let third = app.sign_in_existing("clerk", PASSWORD).await;
    app.form(&third, "/logout", &[("csrf", &third.csrf)]).await;
    assert_eq!(app.page(&third.cookie, "/account").await.status, StatusCode::SEE_OTHER);
    let write = app.form(&third, "/account", &[("csrf", &third.csrf), ("display_name", "x")]).await;
    assert_eq!(write.status, StatusCode::SEE_OTHER, "a write with a dead session goes to the sign-in page");
    assert_eq!(write.location(), "/login?next=/");
}

#[tokio::test]
async fn one_time_passwords_must_be_changed_first() {
    let app = TestApp::new();
    let admin = app.sign_in_as("admin", Role::Sysadmin, None).await;
    app.auth().department_put(&system(), "科技局", "").unwrap();
    let created = app
        .form(
            &admin,
            "/admin/users",
            &[("csrf", &admin.csrf), ("username", "newclerk"), ("role", "publisher"), ("department", "科技局")],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    let html = created.text();
    let at = html.find("id=\"secret\">").unwrap() + "id=\"secret\">".len();
    let one_time = html[at..].split('<').next().unwrap().to_string();
    assert_eq!(one_time.len(), 14, "{one_time}");
    let login = app.try_sign_in("newclerk", &one_time).await;
    assert_eq!(login.location(), "/account/password");
    let cookie = login.cookie("huiqi_session").unwrap();
    let staff = app.page(&cookie, "/staff/policies").await;
    assert_eq!(staff.location(), "/account/password", "everything else waits for the change");
    let api = app.page(&cookie, "/api/v1/policies?drafts=true").await;
    assert_eq!(api.status, StatusCode::OK, "public reads stay open");
    let form = app.page(&cookie, "/account/password").await.text();
    let csrf = extract_csrf(&form).unwrap();
    let b = Browser { cookie: cookie.clone(), csrf };
    let weak = app
        .form(
            &b,
            "/account/password",
            &[("csrf", &b.csrf), ("current", &one_time), ("new", "password123"), ("new2", "password123")],
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    let ok = app
        .form(
            &b,
            "/account/password",
            &[("csrf", &b.csrf), ("current", &one_time), ("new", PASSWORD), ("new2", PASSWORD)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
    assert_eq!(app.page(&cookie, "/staff/policies").await.status, StatusCode::OK);
}

#[tokio::test]
async fn security_headers_on_every_response() {
    let app = TestApp::with_demo(3);
    for path in ["/", "/policies", "/login", "/no/such/page", "/api/v1/policies", "/healthz"] {
        let r = app.get(path).await;
        let h = |n: &str| r.headers.get(n).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let csp = h("content-security-policy");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(h("referrer-policy"), "same-origin", "{path}");
    }
    // No inline scripts or event handlers in any page the CSP would break.
    let html = app.get("/").await.text() + &app.get("/login").await.text() + &app.get("/calculator").await.text();
    assert!(!html.contains("onclick=") && !html.contains("javascript:"));
    for chunk in html.split("<script").skip(1) {
        let open = chunk.split('>').next().unwrap();
        assert!(open.contains("src=") || open.contains("application/json"), "an inline script: <script{open}>");
    }
    // Error pages never show internals; large bodies are refused.
    let big = app
        .send(
            Request::post("/api/v1/calculator")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(vec![b' '; 3 * 1024 * 1024]))
                .unwrap(),
        )
        .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// The table itself, checked against what a county office expects, route by route (so that a
/// wrong entry in the table cannot pass the matrix above unnoticed).
#[test]
fn the_permission_table_says_what_the_office_expects() {
    use Role::*;
    let specs = huiqi::http::route_specs();
    let expect: &[(&str, &str, &[Role])] = &[
        ("GET", "/admin/audit", &[Sysadmin, Supervisor]),
        ("GET", "/api/v1/audit/export", &[Sysadmin, Supervisor]),
        ("POST", "/api/v1/users", &[Sysadmin]),
        ("POST", "/admin/users/{id}/unlock", &[Sysadmin]),
        ("POST", "/api/v1/tokens", &[Sysadmin]),
        ("GET", "/staff/entities/{code}", &[Sysadmin, Reviewer, Supervisor, Specialist]),
        ("PUT", "/api/v1/entities/{code}", &[Sysadmin, Specialist]),
        ("POST", "/api/v1/entities/{code}/personal", &[Reviewer, Specialist]),
        ("POST", "/staff/measures/{id}/publish", &[Publisher]),
        ("POST", "/api/v1/policies", &[Publisher]),
        ("POST", "/api/v1/simulate", &[Publisher, Supervisor]),
        ("POST", "/admin/bindings/{user}/{code}", &[Sysadmin, Specialist]),
        ("POST", "/api/v1/invitations", &[Sysadmin, Specialist]),
        ("GET", "/my", &[Enterprise]),
        ("GET", "/api/v1/entities/{code}/matches", &[Sysadmin, Reviewer, Supervisor, Specialist, Enterprise]),
        ("POST", "/staff/imports", &[Sysadmin]),
        ("GET", "/staff/export/{file}", &[Sysadmin, Supervisor]),
        ("PUT", "/api/v1/calendar/{year}", &[Sysadmin]),
        ("GET", "/metrics", &[Sysadmin]),
        ("GET", "/staff/cases", &[Publisher, Reviewer, Supervisor, Specialist]),
        ("GET", "/api/v1/cases/{id}", &[Publisher, Reviewer, Supervisor, Specialist, Enterprise]),
        ("POST", "/cases/{id}/submit", &[Specialist, Enterprise]),
        ("POST", "/api/v1/cases/{id}/decide", &[Publisher, Reviewer]),
    ];
    for (method, path, roles) in expect {
        let spec = specs
            .iter()
            .find(|s| s.method.as_str() == *method && s.path == *path)
            .unwrap_or_else(|| panic!("{method} {path} is not in the router"));
        for role in Role::ALL {
            assert_eq!(spec.access.allows_role(*role), roles.contains(role), "{method} {path} for {}", role.key());
        }
        assert!(!spec.access.allows_anonymous(), "{method} {path} is not public");
    }
    for (method, path) in
        [("GET", "/"), ("GET", "/policies/{id}"), ("POST", "/api/v1/calculator"), ("POST", "/register")]
    {
        let spec = specs.iter().find(|s| s.method.as_str() == method && s.path == path).unwrap();
        assert!(spec.access.allows_anonymous(), "{method} {path} is public");
    }
}
