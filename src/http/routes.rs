//! Every route is registered here with the access it needs, and one guard enforces it before
//! any handler runs: it finds the caller (session cookie or bearer token), the client address,
//! applies the permission table, sends people who must change their password to do so, and
//! checks the CSRF token of every state-changing browser request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodFilter, on};
use serde::Serialize;

use super::AppState;
use super::error::{ApiError, AppError};
use super::extract::{CSRF_COOKIE, SESSION_COOKIE, Viewer, cookie};
use crate::auth::{Access, Principal, random_hex, same_secret};
use crate::model::Vocabulary;

/// One registered route and what it requires.
#[derive(Debug, Clone, Serialize)]
pub struct RouteSpec {
    #[serde(serialize_with = "method_name")]
    pub method: Method,
    pub path: String,
    pub access: Access,
    /// A multipart upload whose handler checks the CSRF field itself.
    pub multipart: bool,
}

fn method_name<S: serde::Serializer>(m: &Method, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(m.as_str())
}

impl RouteSpec {
    pub fn is_api(&self) -> bool {
        self.path.starts_with("/api/")
    }
}

/// Builds the router and the list of what each route requires, side by side.
pub struct Routes {
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes::new()
    }
}

impl Routes {
    pub fn new() -> Routes {
        Routes { router: Router::new(), specs: Vec::new() }
    }

    fn add<H, T>(mut self, method: Method, path: &str, access: Access, upload: Option<usize>, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = match method {
            Method::POST => MethodFilter::POST,
            Method::PUT => MethodFilter::PUT,
            Method::DELETE => MethodFilter::DELETE,
            _ => MethodFilter::GET,
        };
        let mut route = on(filter, handler);
        if let Some(limit) = upload {
            route = route.layer(axum::extract::DefaultBodyLimit::max(limit));
        }
        self.router = self.router.route(path, route);
        self.specs.push(RouteSpec { method, path: path.to_string(), access, multipart: upload.is_some() });
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &str, access: Access, handler: H) -> Routes {
        self.add(Method::GET, path, access, None, handler)
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &str, access: Access, handler: H) -> Routes {
        self.add(Method::POST, path, access, None, handler)
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &str, access: Access, handler: H) -> Routes {
        self.add(Method::PUT, path, access, None, handler)
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &str, access: Access, handler: H) -> Routes {
        self.add(Method::DELETE, path, access, None, handler)
    }

    /// A POST that takes a file of up to `limit` bytes (the body limit of this route alone); a
    /// browser sends it as multipart with the CSRF token as a field its handler checks.
    pub fn upload<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        access: Access,
        limit: usize,
        handler: H,
    ) -> Routes {
        self.add(Method::POST, path, access, Some(limit), handler)
    }

    pub fn merge(mut self, other: Routes) -> Routes {
        self.router = self.router.merge(other.router);
        self.specs.extend(other.specs);
        self
    }

    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteSpec>) {
        (self.router, self.specs)
    }
}

/// What the guard learned about a request, for the handlers (see `extract::Viewer`).
#[derive(Clone)]
pub struct Caller {
    pub principal: Option<Principal>,
    pub ip: String,
    pub session_token: Option<String>,
    /// For anonymous visitors: the pre-session CSRF token of their `huiqi_csrf` cookie.
    pub anon_csrf: Option<String>,
    /// For pages shown to a signed-in person: what is waiting for them.
    pub todo: Option<crate::service::todo::Todo>,
}

#[derive(Clone)]
pub struct GuardState {
    pub app: AppState,
    table: Arc<HashMap<(Method, String), RouteSpec>>,
    /// The methods each path answers to, for 405's `Allow`.
    methods: Arc<HashMap<String, Vec<Method>>>,
}

impl GuardState {
    pub fn new(app: AppState, specs: &[RouteSpec]) -> GuardState {
        let table = specs.iter().map(|s| ((s.method.clone(), s.path.clone()), s.clone())).collect();
        let mut methods: HashMap<String, Vec<Method>> = HashMap::new();
        for s in specs {
            methods.entry(s.path.clone()).or_default().push(s.method.clone());
        }
        GuardState { app, table: Arc::new(table), methods: Arc::new(methods) }
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer "))?;
    Some(token.trim().to_string())
}

/// The client's address: the peer, or with `trust_proxy` the last address the proxy added.
fn client_ip(req: &Request, trust_proxy: bool) -> String {
    if trust_proxy
        && let Some(forwarded) = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok())
        && let Some(last) = forwarded.rsplit(',').next().map(str::trim).filter(|s| !s.is_empty())
    {
        return last.chars().take(64).collect();
    }
    let peer = req.extensions().get::<ConnectInfo<super::conn::Peer>>().map(|c| c.0.0);
    peer.or_else(|| req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0))
        .map_or_else(|| "unknown".into(), |a| a.ip().to_string())
}

/// Paths someone who must change a one-time password may still use.
const DURING_PASSWORD_CHANGE: &[&str] =
    &["/account/password", "/logout", "/api/v1/account", "/api/v1/account/password"];

fn deny(api: bool, status: StatusCode, message: &str) -> Response {
    let e = AppError::new(status, message);
    if api { ApiError(e).into_response() } else { e.into_response() }
}

/// Largest form body the guard reads to find the CSRF field (axum's default body limit).
const FORM_LIMIT: usize = 2 * 1024 * 1024;
const FORM_TOO_LARGE: &str = "表单内容过大（最多 2 MB），请缩短后重新提交";

pub async fn guard(State(g): State<GuardState>, req: Request, next: Next) -> Response {
    let Some(matched) = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()) else {
        return next.run(req).await;
    };
    let method = if req.method() == Method::HEAD { Method::GET } else { req.method().clone() };
    // Machines call the API and `/metrics`: they get status codes, not sign-in pages.
    let api = matched.starts_with("/api/") || matched == "/metrics";
    let Some(spec) = g.table.get(&(method, matched.clone())).cloned() else {
        // The path exists but not for this method: the client's mistake, not ours.
        if let Some(allowed) = g.methods.get(&matched) {
            return super::error::method_not_allowed(api, req.method(), allowed);
        }
        tracing::error!(path = %matched, "route missing from the permission table: refused");
        return deny(api, StatusCode::FORBIDDEN, "此地址未登记访问权限，已拒绝");
    };
    let state = &g.app;
    let ip = client_ip(&req, state.settings.trust_proxy);
    let session_token = cookie(req.headers(), SESSION_COOKIE).filter(|t| !t.is_empty());
    let principal = match (bearer(req.headers()), &session_token) {
        (Some(token), _) => match state.principal_for_token(token).await {
            Some(p) => Some(p),
            None => return deny(true, StatusCode::UNAUTHORIZED, "API 令牌无效、已过期或已撤销"),
        },
        (None, Some(token)) => state.principal_for_session(token.clone()).await,
        (None, None) => None,
    };
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let path_and_query = req.uri().path_and_query().map_or_else(|| "/".to_string(), |p| p.as_str().to_string());

    match &principal {
        None if !spec.access.allows_anonymous() => {
            if api {
                return deny(
                    true,
                    StatusCode::UNAUTHORIZED,
                    "请先登录（API 调用请在 Authorization 头中提供 Bearer 令牌）",
                );
            }
            let next_path = if unsafe_method { "/".to_string() } else { path_and_query };
            return Redirect::to(&format!("/login?next={}", super::pages::url_encode(&next_path))).into_response();
        }
        Some(p)
            if p.user.must_change_password
                && spec.access != Access::Public
                && !DURING_PASSWORD_CHANGE.contains(&matched.as_str()) =>
        {
            if api {
                return deny(true, StatusCode::FORBIDDEN, "请先修改初始密码（POST /api/v1/account/password）");
            }
            return Redirect::to("/account/password").into_response();
        }
        Some(p) if !p.allowed(spec.access) => {
            let message = if p.scopes.is_some() && spec.access.allows_role(p.role()) {
                "此令牌的权限范围不包括这项操作".to_string()
            } else {
                lacking(p, spec.access)
            };
            let mut refused = deny(api, StatusCode::FORBIDDEN, &message);
            if !api {
                // The refusal page keeps the signed-in top bar (`ErrorPage::render`).
                let caller = Caller { principal: principal.clone(), ip, session_token, anon_csrf: None, todo: None };
                refused.extensions_mut().insert(Viewer::new(req.headers(), path_and_query, Some(caller)));
            }
            return refused;
        }
        _ => {}
    }

    // The CSRF token: the session's for signed-in browsers, the pre-session cookie's for
    // anonymous forms; bearer-token callers need none.
    let anon_cookie = cookie(req.headers(), CSRF_COOKIE).filter(|c| c.len() == 32);
    let expected = match &principal {
        Some(p) => p.csrf.clone(),
        None if !api => Some(anon_cookie.clone().unwrap_or_default()),
        None => None,
    };
    let mut req = req;
    if unsafe_method && let Some(expected) = expected {
        match check_csrf(req, &expected, spec.multipart && !spec.is_api()).await {
            Ok(checked) => req = checked,
            Err(FORM_TOO_LARGE) => return deny(api, StatusCode::PAYLOAD_TOO_LARGE, FORM_TOO_LARGE),
            Err(message) => return deny(api, StatusCode::FORBIDDEN, message),
        }
    }

    let new_anon = match (&principal, &anon_cookie) {
        (None, None) if !api => random_hex(16).ok(),
        _ => None,
    };
    // A page for a signed-in person shows what is waiting for them in the navigation (not a
    // style sheet, script or image the page asks for).
    let wants_page = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|a| a.contains("text/html") || a.trim() == "*/*");
    let todo = match &principal {
        Some(p) if !api && !unsafe_method && wants_page && !matched.starts_with("/static/") => {
            let who = p.who(&ip);
            state.svc.blocking(move |s| s.todo(&who)).await.ok()
        }
        _ => None,
    };
    let caller = Caller { principal, ip, session_token, anon_csrf: new_anon.clone().or(anon_cookie), todo };
    let viewer = (!api).then(|| Viewer::new(req.headers(), path_and_query, Some(caller.clone())));
    req.extensions_mut().insert(caller);
    let mut response = next.run(req).await;
    if let Some(viewer) = viewer {
        // An error page is rendered on its way out with the caller's top bar.
        response.extensions_mut().insert(viewer);
    }
    if let Some(token) = new_anon
        && let Ok(v) = HeaderValue::from_str(&format!("{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax"))
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// What a signed-in account lacks for a route, in words: its role and the permission missing.
fn lacking(p: &Principal, access: Access) -> String {
    let role = p.user.role.label();
    match access {
        Access::Needs(x) => format!("您的账号（{role}）没有「{}」的权限，无法进行这项操作", x.label()),
        Access::Either(a, b) => {
            format!("您的账号（{role}）没有「{}」或「{}」的权限，无法进行这项操作", a.label(), b.label())
        }
        Access::Public | Access::SignedIn => format!("您的账号（{role}）无权进行这项操作"),
    }
}

/// Passes the request on if it carries the expected token: in `X-CSRF-Token`, or as the `csrf`
/// field of a form (the body is read and put back), or — for uploads — left to the handler.
async fn check_csrf(req: Request, expected: &str, multipart: bool) -> Result<Request, &'static str> {
    const REFUSED: &str = "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试";
    if expected.is_empty() {
        return Err(REFUSED);
    }
    let sent_header = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_string);
    if let Some(sent) = sent_header {
        return if same_secret(expected, &sent) { Ok(req) } else { Err(REFUSED) };
    }
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if multipart && content_type.starts_with("multipart/form-data") {
        return Ok(req);
    }
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err("缺少或错误的 X-CSRF-Token（浏览器会话调用接口时必须提供）");
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, FORM_LIMIT).await.map_err(|_| FORM_TOO_LARGE)?;
    let sent = form_urlencoded_value(&bytes, "csrf");
    if !same_secret(expected, &sent) {
        return Err(REFUSED);
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// The first value of `key` in an URL-encoded form body.
fn form_urlencoded_value(body: &[u8], key: &str) -> String {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == key).map(|(_, v)| v))
        .unwrap_or_default()
}

/// Security headers on every response.
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let signed_in =
        cookie(req.headers(), SESSION_COOKIE).is_some() || req.headers().contains_key(header::AUTHORIZATION);
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    let fixed: [(&str, &str); 6] = [
        (
            "content-security-policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
             connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
        ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()"),
        ("cross-origin-opener-policy", "same-origin"),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    if state.settings.secure_cookies {
        h.insert("strict-transport-security", HeaderValue::from_static("max-age=31536000"));
    }
    // Pages and answers for a signed-in caller may hold personal data: never cache them.
    if signed_in && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
