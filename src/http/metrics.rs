//! `/metrics` in the Prometheus text format: request counts and latency, and library sizes.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;

#[derive(Default)]
pub struct Metrics {
    /// Requests by status class: 1xx … 5xx.
    by_class: [AtomicU64; 5],
    api_requests: AtomicU64,
    duration_micros: AtomicU64,
}

pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let start = Instant::now();
    let response = next.run(req).await;
    let m = &state.metrics;
    let class = (response.status().as_u16() / 100).clamp(1, 5) as usize - 1;
    m.by_class[class].fetch_add(1, Ordering::Relaxed);
    if api {
        m.api_requests.fetch_add(1, Ordering::Relaxed);
    }
    m.duration_micros.fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
    response
}

pub async fn metrics_show(State(state): State<AppState>) -> Response {
    let stats = state.svc.blocking(|s| s.stats()).await.ok();
    let m = &state.metrics;
    let mut out = String::new();
    let _ = writeln!(out, "# HELP huiqi_http_requests_total HTTP requests served, by status class.");
    let _ = writeln!(out, "# TYPE huiqi_http_requests_total counter");
    let mut total = 0;
    for (i, c) in m.by_class.iter().enumerate() {
        let n = c.load(Ordering::Relaxed);
        total += n;
        let _ = writeln!(out, "huiqi_http_requests_total{{class=\"{}xx\"}} {n}", i + 1);
    }
    let _ = writeln!(out, "# HELP huiqi_api_requests_total Requests under /api/.");
    let _ = writeln!(out, "# TYPE huiqi_api_requests_total counter");
    let _ = writeln!(out, "huiqi_api_requests_total {}", m.api_requests.load(Ordering::Relaxed));
    let _ = writeln!(out, "# HELP huiqi_http_request_duration_seconds Time spent serving requests.");
    let _ = writeln!(out, "# TYPE huiqi_http_request_duration_seconds summary");
    let _ = writeln!(
        out,
        "huiqi_http_request_duration_seconds_sum {}",
        m.duration_micros.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "huiqi_http_request_duration_seconds_count {total}");
    let _ = writeln!(out, "# HELP huiqi_uptime_seconds Seconds since the server started.");
    let _ = writeln!(out, "# TYPE huiqi_uptime_seconds gauge");
    let _ = writeln!(out, "huiqi_uptime_seconds {}", state.started.elapsed().as_secs());
    if let Some(s) = stats {
        for (name, help, v) in [
            ("huiqi_policies", "Policies in the library.", s.policies),
            ("huiqi_measures", "Measures in the library.", s.measures),
            ("huiqi_published_measures", "Measures with a published version.", s.published_measures),
            ("huiqi_entities", "Entities in the library.", s.entities),
            ("huiqi_users", "Accounts.", s.users),
            ("huiqi_store_bytes", "Size of the store file.", s.store_bytes),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {v}");
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}
