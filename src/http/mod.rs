//! The web server: HTML pages for people, JSON under `/api/v1` for other systems, `/healthz`
//! and `/metrics`. Handlers call services (off the runtime) and never touch the store.

pub mod api;
pub mod chunks;
pub mod conn;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod pages;
pub mod params;
pub mod routes;
pub mod upload;
pub mod web;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use tower_http::trace::TraceLayer;

use crate::auth::ratelimit::RateLimiter;
use crate::auth::{Access, Auth, AuthError, Permission, Principal, SessionPolicy};
use crate::service::Service;
use routes::{GuardState, RouteSpec, Routes};

/// Imports may upload this much; every other request keeps axum's default limit (2 MB).
pub const MAX_UPLOAD_BYTES: usize = 200 * 1024 * 1024;
/// An attachment's route takes the largest attachment and a form's worth of other fields.
pub const MAX_ATTACHMENT_BODY: usize = crate::service::files::MAX_FILE_BYTES + 256 * 1024;
/// A calendar file is small.
pub const MAX_CALENDAR_BODY: usize = 2 * 1024 * 1024;

/// How the web server treats sessions, cookies, proxies and sign-in attempts.
#[derive(Debug, Clone)]
pub struct Settings {
    pub sessions: SessionPolicy,
    /// Mark cookies `Secure` and send HSTS (the site is served over HTTPS).
    pub secure_cookies: bool,
    /// Take the client address from the last `X-Forwarded-For` entry (behind a reverse proxy).
    pub trust_proxy: bool,
    /// Sign-in, registration and invitation attempts per client address at once, and how
    /// many seconds it takes to regain one.
    pub attempts_burst: u32,
    pub attempts_refill_seconds: u64,
    /// Password-recovery codes asked for per client address at once, and how many seconds it
    /// takes to regain one (each account has its own limit too: one a minute, five a day).
    pub codes_burst: u32,
    pub codes_refill_seconds: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sessions: SessionPolicy::default(),
            secure_cookies: false,
            trust_proxy: false,
            attempts_burst: 20,
            attempts_refill_seconds: 3,
            codes_burst: 10,
            codes_refill_seconds: 600,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub svc: Arc<Service>,
    pub auth: Arc<Auth>,
    pub settings: Arc<Settings>,
    pub metrics: Arc<metrics::Metrics>,
    /// Per-address limit on sign-in, registration and invitation attempts.
    pub attempts: Arc<RateLimiter>,
    /// Per-address limit on password-recovery codes.
    pub code_requests: Arc<RateLimiter>,
    /// Where password-recovery codes go by SMS; `None` when no gateway is configured (then
    /// 忘记密码 sends people to the office).
    pub sms: Option<Arc<dyn crate::auth::TextSender>>,
    /// Password hashing runs at most this many at once (each takes 19 MiB and a core).
    hashing: Arc<tokio::sync::Semaphore>,
    pub started: Instant,
}

impl AppState {
    /// Runs one service function for the viewer, off the async runtime: the one call a
    /// handler makes per user action.
    pub async fn call<R, F>(&self, viewer: &extract::Viewer, f: F) -> crate::service::Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Service, &crate::model::Who) -> crate::service::Result<R> + Send + 'static,
    {
        let who = viewer.who();
        self.svc.blocking(move |s| f(s, &who)).await
    }

    pub fn new(svc: Service, settings: Settings) -> Result<AppState, AuthError> {
        let svc = Arc::new(svc);
        let auth = svc.auth(settings.sessions)?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let attempts =
            RateLimiter::new(settings.attempts_burst, std::time::Duration::from_secs(settings.attempts_refill_seconds));
        let code_requests =
            RateLimiter::new(settings.codes_burst, std::time::Duration::from_secs(settings.codes_refill_seconds));
        Ok(AppState {
            svc,
            auth: Arc::new(auth),
            settings: Arc::new(settings),
            metrics: Arc::new(metrics::Metrics::default()),
            attempts: Arc::new(attempts),
            code_requests: Arc::new(code_requests),
            sms: None,
            hashing: Arc::new(tokio::sync::Semaphore::new(cores)),
            started: Instant::now(),
        })
    }

    /// Runs account work (store reads and writes) off the runtime.
    pub async fn auth_blocking<R, F>(&self, f: F) -> Result<R, AuthError>
    where
        R: Send + 'static,
        F: FnOnce(&Auth) -> Result<R, AuthError> + Send + 'static,
    {
        let auth = Arc::clone(&self.auth);
        tokio::task::spawn_blocking(move || f(&auth))
            .await
            .map_err(|e| AuthError::Internal(format!("background task failed: {e}")))?
    }

    /// Runs account work that hashes a password: off the runtime, and no more at once than
    /// there are cores, so that a burst of sign-ins queues instead of exhausting memory.
    pub async fn auth_hashing<R, F>(&self, f: F) -> Result<R, AuthError>
    where
        R: Send + 'static,
        F: FnOnce(&Auth) -> Result<R, AuthError> + Send + 'static,
    {
        let _permit =
            self.hashing.acquire().await.map_err(|e| AuthError::Internal(format!("hashing queue closed: {e}")))?;
        self.auth_blocking(f).await
    }

    /// Takes one sign-in/registration attempt for a client address.
    pub fn attempt(&self, ip: &str) -> Result<(), error::AppError> {
        self.attempts.check(ip).map_err(|wait| {
            tracing::warn!(ip, "attempt rate limit reached");
            error::AppError::new(StatusCode::TOO_MANY_REQUESTS, format!("尝试过于频繁，请在 {wait} 秒后再试"))
        })
    }

    /// Takes one password-recovery code request for a client address.
    pub fn code_request(&self, ip: &str) -> Result<(), error::AppError> {
        self.code_requests.check(ip).map_err(|wait| {
            tracing::warn!(ip, "recovery code rate limit reached");
            let minutes = wait.div_ceil(60);
            error::AppError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("从您的网络获取验证码过于频繁，请在 {minutes} 分钟后再试，或联系办事大厅"),
            )
        })
    }

    /// Sends a recovery code in the background, so that the answer takes as long whether a
    /// code was sent or not; a failure is logged (the person can ask again after a minute).
    pub fn send_code(&self, message: Option<crate::auth::CodeMessage>) {
        let (Some(m), Some(sms)) = (message, self.sms.clone()) else { return };
        tokio::task::spawn_blocking(move || {
            if let Err(e) = sms.send_text(&m.phone, &m.text) {
                tracing::warn!("password-recovery SMS failed: {e}");
            }
        });
    }

    pub async fn principal_for_session(&self, token: String) -> Option<Principal> {
        self.auth_blocking(move |a| a.session_principal(&token)).await.ok().flatten()
    }

    pub async fn principal_for_token(&self, token: String) -> Option<Principal> {
        self.auth_blocking(move |a| a.token_principal(&token)).await.ok().flatten()
    }
}

async fn healthz_show(State(state): State<AppState>) -> Response {
    match state.svc.blocking(|s| s.health()).await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!("health check failed: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
    }
}

async fn static_show(Path(requested): Path<String>) -> Response {
    let (name, hash) = web::split_asset_name(&requested);
    let Some(file) = web::Static::get(&name) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let mime = match name.rsplit_once('.').map(|(_, e)| e) {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    };
    let current = hash.is_some() && hash == web::asset_hash(&name);
    let cache = if current && !cfg!(debug_assertions) { "public, max-age=31536000, immutable" } else { "no-cache" };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        file.data.into_owned(),
    )
        .into_response()
}

async fn fallback(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        error::ApiError(error::AppError::new(StatusCode::NOT_FOUND, "没有这个接口，请查看 README 中的 API 说明"))
            .into_response()
    } else {
        error::AppError::not_found().into_response()
    }
}

/// Every route with the access it needs: pages, the API under `/api/v1`, and the plumbing.
pub fn routes() -> Routes {
    Routes::new()
        .get("/healthz", Access::Public, healthz_show)
        .get("/metrics", Access::Needs(Permission::Metrics), metrics::metrics_show)
        .get("/static/{file}", Access::Public, static_show)
        .merge(pages::routes())
        .merge(api::routes())
}

/// What each route requires, as the router enforces it (for the access tests and the docs).
pub fn route_specs() -> Vec<RouteSpec> {
    routes().into_parts().1
}

pub fn router(state: AppState) -> Router {
    let (router, specs) = routes().into_parts();
    let guard = GuardState::new(state.clone(), &specs);
    router
        .route_layer(middleware::from_fn_with_state(guard, routes::guard))
        .fallback(fallback)
        .layer(middleware::from_fn(error::shape_errors))
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(middleware::from_fn_with_state(state.clone(), routes::security_headers))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<conn::Peer>();
    axum::serve(conn::Listener(listener), app).with_graceful_shutdown(shutdown).await
}
