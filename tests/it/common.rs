//! The test application: a fresh store in a temp dir, the real router, and helpers to call it.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use huiqi::auth::Auth;
use huiqi::http::{self, AppState};
use huiqi::model::{Date, Role};
use huiqi::service::{Config, Service};
use huiqi::store::Store;
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt;

/// "Today" for every test, so that application windows and dates are stable.
pub const TODAY: &str = "2026-11-27";

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
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let config = Config { today: Some(Date::parse(TODAY).unwrap()), fast_password_hashing: true };
        let svc = Service::new(store, config);
        svc.init_reference("test").unwrap();
        // As `serve` does: the match state is in memory before the first request.
        svc.matching_init().unwrap();
        let state = AppState::new(svc);
        let router = http::router(state.clone());
        TestApp { _dir: dir, state, router }
    }

    /// With the demo policies loaded and published, and `entities` generated entities.
    pub fn with_demo(entities: u64) -> TestApp {
        let app = TestApp::new();
        let files = huiqi::seed::demo_policies().unwrap();
        app.svc().load_policies("test", &files).unwrap();
        app.svc().seed_entities(1, 0, entities, |_| {}).unwrap();
        app
    }

    pub fn svc(&self) -> &Arc<Service> {
        &self.state.svc
    }

    pub fn auth(&self) -> &Auth {
        &self.state.auth
    }

    /// Creates a staff account and returns a bearer token for it.
    pub fn staff_token(&self, username: &str) -> String {
        self.auth().user_create("test", username, "测试员", Role::Staff, Some("测试局".into()), "secret123").unwrap();
        self.auth().token_create("test", username, "test", None).unwrap()
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
    /// Signs in through the login form and reads the CSRF token from a staff page.
    pub async fn sign_in(&self, username: &str) -> Browser {
        self.auth().user_create("test", username, "测试员", Role::Staff, None, "secret123").unwrap();
        let form = format!("username={username}&password=secret123&next=%2Fstaff");
        let req = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .unwrap();
        let reply = self.send(req).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
        assert_eq!(reply.location(), "/staff");
        let cookie = reply.cookie("huiqi_session").expect("a session cookie");
        let page = self.page(&cookie, "/staff").await;
        let csrf = extract_csrf(&page.text()).expect("a CSRF token on the staff page");
        Browser { cookie, csrf }
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
