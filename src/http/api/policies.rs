//! Policies and measures over JSON.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::{ApiResult, parse_json};
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::extract::Viewer;
use crate::http::params::PolicyListParams;
use crate::http::routes::Routes;
use crate::model::{MeasureId, MeasureSpec, PolicyInput};
use crate::service::policies::Audience;

pub fn routes() -> Routes {
    let draft = Access::Needs(Permission::PolicyDraft);
    Routes::new()
        .get("/api/v1/policies", Access::Public, policies_index)
        .post("/api/v1/policies", draft, policies_create)
        .get("/api/v1/policies/{id}", Access::Public, policies_show)
        .put("/api/v1/policies/{id}", draft, policies_update)
        .post("/api/v1/policies/{id}/measures", draft, measures_create)
        .get("/api/v1/measures/{id}", Access::Public, measures_show)
        .put("/api/v1/measures/{id}", draft, measures_update)
        .post("/api/v1/measures/{id}/publish", Access::Needs(Permission::PolicyPublish), measures_publish)
        .post("/api/v1/measures/{id}/request-publication", draft, measures_request)
        .post("/api/v1/measures/{id}/refuse", Access::Needs(Permission::PolicyPublish), measures_refuse)
        .post("/api/v1/measures/{id}/withdraw", Access::Needs(Permission::PolicyPublish), measures_withdraw)
        .get("/api/v1/publication-queue", Access::Needs(Permission::PolicyPublish), publications_queue)
        .post("/api/v1/measures/{id}/discard", draft, measures_discard)
        .get("/api/v1/measures/{id}/versions", Access::Public, measures_versions)
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
    let input: PolicyInput = parse_json(&body)?;
    let policy = state.call(&viewer, move |s, who| s.policy_create(who, input)).await?;
    Ok((StatusCode::CREATED, Json(policy)).into_response())
}

async fn policies_update(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>, body: Bytes) -> ApiResult {
    let input: PolicyInput = parse_json(&body)?;
    Ok(Json(state.call(&viewer, move |s, who| s.policy_update(who, id, input)).await?).into_response())
}

async fn measures_create(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(policy_id): Path<u64>,
    body: Bytes,
) -> ApiResult {
    let spec: MeasureSpec = parse_json(&body)?;
    let version = state.call(&viewer, move |s, who| s.measure_create(who, policy_id, spec)).await?;
    Ok((StatusCode::CREATED, Json(version)).into_response())
}

async fn measures_show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<MeasureId>,
    Query(d): Query<DraftParam>,
) -> ApiResult {
    let who = audience(&viewer, d.drafts);
    let (measure, policy) = state.svc.blocking(move |s| s.measure_get(id, who)).await?;
    Ok(Json(serde_json::json!({ "measure": measure, "policy": { "id": policy.id, "title": policy.content.title, "doc_number": policy.content.doc_number } })).into_response())
}

async fn measures_update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<MeasureId>,
    body: Bytes,
) -> ApiResult {
    let spec: MeasureSpec = parse_json(&body)?;
    Ok(Json(state.call(&viewer, move |s, who| s.measure_update(who, id, spec)).await?).into_response())
}

async fn measures_publish(State(state): State<AppState>, viewer: Viewer, Path(id): Path<MeasureId>) -> ApiResult {
    Ok(Json(state.call(&viewer, move |s, who| s.measure_publish(who, id)).await?).into_response())
}

#[derive(Deserialize, Default)]
struct RequestBody {
    #[serde(default)]
    publish_on: Option<crate::model::Date>,
}

/// `POST /measures/{id}/request-publication` (optionally `{"publish_on": "YYYY-MM-DD"}`).
async fn measures_request(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<MeasureId>,
    body: Bytes,
) -> ApiResult {
    let b: RequestBody = if body.is_empty() { RequestBody::default() } else { parse_json(&body)? };
    Ok(Json(state.call(&viewer, move |s, who| s.measure_request_publication(who, id, b.publish_on)).await?)
        .into_response())
}

#[derive(Deserialize, Default)]
struct ReasonBody {
    #[serde(default)]
    reason: String,
}

async fn measures_refuse(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<MeasureId>,
    body: Bytes,
) -> ApiResult {
    let b: ReasonBody = parse_json(&body)?;
    Ok(Json(state.call(&viewer, move |s, who| s.measure_refuse_publication(who, id, &b.reason)).await?).into_response())
}

async fn measures_withdraw(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<MeasureId>,
    body: Bytes,
) -> ApiResult {
    let b: ReasonBody = parse_json(&body)?;
    Ok(Json(state.call(&viewer, move |s, who| s.measure_withdraw(who, id, &b.reason)).await?).into_response())
}

async fn publications_queue(State(state): State<AppState>, viewer: Viewer) -> ApiResult {
    let drafts = state.call(&viewer, move |s, who| s.publication_queue(who)).await?;
    Ok(Json(serde_json::json!({ "count": drafts.len(), "drafts": drafts })).into_response())
}

async fn measures_discard(State(state): State<AppState>, viewer: Viewer, Path(id): Path<MeasureId>) -> ApiResult {
    state.call(&viewer, move |s, who| s.measure_discard_draft(who, id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn measures_versions(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<MeasureId>,
    Query(d): Query<DraftParam>,
) -> ApiResult {
    let who = audience(&viewer, d.drafts);
    Ok(Json(state.svc.blocking(move |s| s.measure_versions(id, who)).await?).into_response())
}
