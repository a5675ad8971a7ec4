//! The web server: HTML pages for people, JSON under `/api/v1` for other systems, `/healthz`
//! and `/metrics`. Handlers call services (off the runtime) and never touch the store.

pub mod api;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod pages;
pub mod params;
pub mod web;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::trace::TraceLayer;

use crate::auth::{Auth, AuthError, Principal};
use crate::service::Service;

/// Imports may upload this much; every other request keeps axum's default limit (2 MB).
pub const MAX_UPLOAD_BYTES: usize = 200 * 1024 * 1024;

/// The body limit of the import routes.
pub fn upload_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(MAX_UPLOAD_BYTES)
}

#[derive(Clone)]
pub struct AppState {
    pub svc: Arc<Service>,
    pub auth: Arc<Auth>,
    pub metrics: Arc<metrics::Metrics>,
    pub started: Instant,
}

impl AppState {
    pub fn new(svc: Service) -> AppState {
        let svc = Arc::new(svc);
        let auth = Arc::new(Auth::new(Arc::clone(&svc.store), svc.config.fast_password_hashing));
        AppState { svc, auth, metrics: Arc::new(metrics::Metrics::default()), started: Instant::now() }
    }

    /// Runs account work (argon2, store reads) off the runtime.
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

    pub async fn principal_for_session(&self, token: String) -> Option<Principal> {
        self.auth_blocking(move |a| a.session_principal(&token)).await.ok().flatten()
    }

    pub async fn principal_for_token(&self, token: String) -> Option<Principal> {
        self.auth_blocking(move |a| a.token_principal(&token)).await.ok().flatten()
    }
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.svc.blocking(|s| s.health()).await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!("health check failed: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
    }
}

async fn static_file(Path(requested): Path<String>) -> Response {
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

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/static/{file}", get(static_file))
        .merge(pages::router())
        .nest("/api/v1", api::router())
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
