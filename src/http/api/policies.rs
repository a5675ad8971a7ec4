//! Policies and measures over JSON.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Deserialize;

use super::{ApiResult, parse_json};
use crate::http::AppState;
use crate::http::extract::Viewer;
use crate::http::params::PolicyListParams;
use crate::model::{MeasureSpec, PolicyInput};
use crate::service::policies::Audience;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/policies", get(policies_index).post(policies_create))
        .route("/policies/{id}", get(policies_show).put(policies_update))
        .route("/policies/{id}/measures", post(measures_create))
        .route("/measures/{id}", get(measures_show).put(measures_update))
        .route("/measures/{id}/publish", post(measures_publish))
        .route("/measures/{id}/discard", post(measures_discard))
        .route("/measures/{id}/versions", get(measures_versions))
        .route("/departments", get(departments_index))
}

fn audience(viewer: &Viewer, drafts: bool) -> Audience {
    if drafts && viewer.is_staff() { Audience::Staff } else { Audience::Public }
}

async fn policies_index(State(state): State<AppState>, viewer: Viewer, Query(p): Query<PolicyListParams>) -> ApiResult {
    let query = p.query();
    let who = audience(&viewer, p.drafts());
    let results = state.svc.blocking(move |s| s.policy_search(&query, who)).await?;
    Ok(Json(serde_json::json!({ "count": results.len(), "policies": results })).into_response())
}

#[derive(Debug, Deserialize, Default)]
struct DraftParam {
    #[serde(default)]
    drafts: bool,
}

async fn policies_show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    Query(d): Query<DraftParam>,
) -> ApiResult {
    let who = audience(&viewer, d.drafts);
    Ok(Json(state.svc.blocking(move |s| s.policy_get(id, who)).await?).into_response())
}

async fn policies_create(State(state): State<AppState>, viewer: Viewer, body: Bytes) -> ApiResult {
    viewer.staff_api()?;
    let input: PolicyInput = parse_json(&body)?;
    let who = viewer.username();
    let policy = state.svc.blocking(move |s| s.policy_create(&who, input)).await?;
    Ok((StatusCode::CREATED, Json(policy)).into_response())
}

async fn policies_update(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>, body: Bytes) -> ApiResult {
    viewer.staff_api()?;
    let input: PolicyInput = parse_json(&body)?;
    let who = viewer.username();
    Ok(Json(state.svc.blocking(move |s| s.policy_update(&who, id, input)).await?).into_response())
}

async fn measures_create(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(policy_id): Path<u64>,
    body: Bytes,
) -> ApiResult {
    viewer.staff_api()?;
    let spec: MeasureSpec = parse_json(&body)?;
    let who = viewer.username();
    let version = state.svc.blocking(move |s| s.measure_create(&who, policy_id, spec)).await?;
    Ok((StatusCode::CREATED, Json(version)).into_response())
}

async fn measures_show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    Query(d): Query<DraftParam>,
) -> ApiResult {
    let who = audience(&viewer, d.drafts);
    let (measure, policy) = state.svc.blocking(move |s| s.measure_get(id, who)).await?;
    Ok(Json(serde_json::json!({ "measure": measure, "policy": { "id": policy.id, "title": policy.content.title, "doc_number": policy.content.doc_number } })).into_response())
}

async fn measures_update(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>, body: Bytes) -> ApiResult {
    viewer.staff_api()?;
    let spec: MeasureSpec = parse_json(&body)?;
    let who = viewer.username();
    Ok(Json(state.svc.blocking(move |s| s.measure_update(&who, id, spec)).await?).into_response())
}

async fn measures_publish(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> ApiResult {
    viewer.staff_api()?;
    let who = viewer.username();
    Ok(Json(state.svc.blocking(move |s| s.measure_publish(&who, id)).await?).into_response())
}

async fn measures_discard(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> ApiResult {
    viewer.staff_api()?;
    let who = viewer.username();
    state.svc.blocking(move |s| s.measure_discard_draft(&who, id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn measures_versions(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    Query(d): Query<DraftParam>,
) -> ApiResult {
    let who = audience(&viewer, d.drafts);
    Ok(Json(state.svc.blocking(move |s| s.measure_versions(id, who)).await?).into_response())
}

async fn departments_index(State(state): State<AppState>) -> ApiResult {
    Ok(Json(state.svc.blocking(|s| s.departments()).await?).into_response())
}
