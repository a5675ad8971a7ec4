//! The test application: a fresh store in a temp dir, the real router, and helpers to call it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use huiqi::auth::{Auth, NewUser};
use huiqi::http::{self, AppState};
use huiqi::model::{Date, Role, User, Who};
use huiqi::service::{Config, Service};
use huiqi::store::Store;
use huiqi::store::prelude::*;
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt;

/// "Today" for every test, so that application windows and dates are stable.
pub const TODAY: &str = "2026-11-27";
/// The password of every account the tests create.
pub const PASSWORD: &str = "Test-Pass-2026";

pub struct TestApp {
    /// Keeps the store's directory alive for the test's duration.
    pub _dir: TempDir,
    pub state: AppState,
    pub router: Router,
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn location(&self) -> String {
        self.headers.get(header::LOCATION).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
    }

    /// The `name=value` part of the Set-Cookie header for `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(|v| v.split(';').next().unwrap().to_string())
    }
}

impl TestApp {
    /// An empty instance with reference data (tags, calendar).
    pub fn new() -> TestApp {
        TestApp::with_settings(http::Settings::default())
    }

    /// An empty instance with these web settings.
    pub fn with_settings(settings: http::Settings) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let config =
            Config { today: Some(Date::parse(TODAY).unwrap()), fast_password_hashing: true, ..Config::default() };
        let svc = Service::new(store, config);
        svc.init_reference(&Who::system("test")).unwrap();
        // As `serve` does: the match state is in memory before the first request.
        svc.matching_init().unwrap();
        let state = AppState::new(svc, settings).unwrap();
        let router = http::router(state.clone());
        TestApp { _dir: dir, state, router }
    }

    /// With the demo policies loaded and published, and `entities` generated entities.
    pub fn with_demo(entities: u64) -> TestApp {
        TestApp::new().load_demo(entities)
    }

    /// Loads and publishes the demo policies and generates `entities` entities.
    pub fn load_demo(self, entities: u64) -> TestApp {
        let app = self;
        let files = huiqi::seed::demo_policies().unwrap();
        app.svc().load_policies(&Who::system("test"), &files).unwrap();
        app.svc().seed_entities(1, 0, entities, |_| {}).unwrap();
        app
    }

    pub fn svc(&self) -> &Arc<Service> {
        &self.state.svc
    }

    pub fn auth(&self) -> &Auth {
        &self.state.auth
    }

    /// Creates an account (and its department, when it has one) with [`PASSWORD`].
    pub fn account(&self, username: &str, role: Role, department: Option<&str>) -> User {
        let who = Who::system("test");
        let mut new = NewUser::new(username, role).named("测试员");
        if let Some(d) = department {
            if self.auth().departments().unwrap().iter().all(|x| x.name != d) {
                self.auth().department_put(&who, d, "").unwrap();
            }
            new = new.in_department(d);
        }
        self.auth().user_create(&who, new, Some(PASSWORD)).unwrap().0
    }

    /// An account and a bearer token for it with every scope its role can use.
    pub fn token(&self, username: &str, role: Role, department: Option<&str>) -> String {
        self.account(username, role, department);
        let who = Who::system("test");
        let scopes = huiqi::auth::permissions::scopes_for(role);
        self.auth().token_create(&who, username, "test", &scopes, None).unwrap().1
    }

    /// A system administrator's token: entity data, imports, exports, administration.
    pub fn admin_token(&self) -> String {
        self.token("admin", Role::Sysadmin, None)
    }

    /// A policy publisher's token, in the department that handles the measures it writes.
    pub fn publisher_token(&self, username: &str, department: &str) -> String {
        self.token(username, Role::Publisher, Some(department))
    }

    /// Publishes a draft as an office does: its drafter asks, a colleague of the same
    /// department (made on first use) approves. Returns the approval's reply.
    pub async fn publish(&self, drafter: &str, id: u64) -> Reply {
        let uri = format!("/api/v1/measures/{id}/request-publication");
        let r = self.json("POST", &uri, Some(drafter), serde_json::json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "request publication: {}", r.text());
        let department = r.json()["spec"]["department"].as_str().unwrap().to_string();
        let n = self.svc().store.read().unwrap().users().unwrap().len();
        let approver = self.publisher_token(&format!("approver{n}"), &department);
        self.json("POST", &format!("/api/v1/measures/{id}/publish"), Some(&approver), serde_json::json!({})).await
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
        Reply { status, headers, body }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    pub async fn get_as(&self, uri: &str, token: &str) -> Reply {
        self.send(
            Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap(),
        )
        .await
    }

    pub async fn json(&self, method: &str, uri: &str, token: Option<&str>, body: Value) -> Reply {
        let mut req = Request::builder().method(method).uri(uri).header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(req.body(Body::from(body.to_string())).unwrap()).await
    }

    pub async fn post_bytes(&self, uri: &str, token: &str, bytes: Vec<u8>) -> Reply {
        let req = Request::post(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::from(bytes))
            .unwrap();
        self.send(req).await
    }
}

/// A signed-in browser: session cookie and CSRF token.
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

impl TestApp {
    /// Creates an account and signs in through the login form (with the pre-session CSRF
    /// token of the login page); reads the session's CSRF token from the account page.
    pub async fn sign_in_as(&self, username: &str, role: Role, department: Option<&str>) -> Browser {
        self.account(username, role, department);
        self.sign_in_existing(username, PASSWORD).await
    }

    /// Signs an existing account in; panics unless it succeeds.
    pub async fn sign_in_existing(&self, username: &str, password: &str) -> Browser {
        let reply = self.try_sign_in(username, password).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
        let cookie = reply.cookie("huiqi_session").expect("a session cookie");
        // An account with a one-time password can only open the password page at first.
        let landing = if reply.location() == "/account/password" { "/account/password" } else { "/account" };
        let page = self.page(&cookie, landing).await;
        let csrf = extract_csrf(&page.text()).expect("a CSRF token on the account page");
        Browser { cookie, csrf }
    }

    /// Posts the login form as a browser would (first fetching the page for its CSRF cookie).
    pub async fn try_sign_in(&self, username: &str, password: &str) -> Reply {
        let form_page = self.get("/login").await;
        let anon = form_page.cookie("huiqi_csrf").expect("the login page sets a pre-session CSRF cookie");
        let token = extract_csrf(&form_page.text()).expect("a CSRF field on the login form");
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.append_pair("csrf", &token).append_pair("username", username).append_pair("password", password);
        let req = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, anon)
            .body(Body::from(body.finish()))
            .unwrap();
        self.send(req).await
    }

    pub async fn page(&self, cookie: &str, uri: &str) -> Reply {
        self.send(Request::get(uri).header(header::COOKIE, cookie).body(Body::empty()).unwrap()).await
    }

    /// Posts a form (pairs are URL-encoded) with the browser's cookie.
    pub async fn form(&self, browser: &Browser, uri: &str, pairs: &[(&str, &str)]) -> Reply {
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            body.append_pair(k, v);
        }
        let req = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &browser.cookie)
            .body(Body::from(body.finish()))
            .unwrap();
        self.send(req).await
    }
}

pub fn extract_csrf(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[at..].find('"')?;
    Some(html[at..at + end].to_string())
}

/// A valid credit code for test number `n` (check character computed).
pub fn credit_code(n: u32) -> String {
    huiqi::model::CreditCode::with_check(&format!("91230100MA{n:07}")).unwrap().to_string()
}

/// An HTTP server on port 0 that answers 200 to every POST and keeps the bodies (an SMS
/// gateway, say).
pub fn fake_gateway() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let b = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut out) = stream else { continue };
            let mut reader = BufReader::new(out.try_clone().unwrap());
            let mut length = 0usize;
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            std::io::Read::read_exact(&mut reader, &mut body).ok();
            b.lock().unwrap().push(String::from_utf8_lossy(&body).into_owned());
            let _ = out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (port, bodies)
}
