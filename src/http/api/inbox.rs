//! An entity's inbox and subscription over JSON: its messages, which pushes it wants and by
//! which channels, and what went out by e-mail and SMS.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde_json::json;

use super::{ApiResult, parse_json};
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::extract::Viewer;
use crate::http::routes::Routes;

pub fn routes() -> Routes {
    let own = Access::Needs(Permission::OwnEntities);
    Routes::new()
        .get("/api/v1/my/entities/{code}/inbox", own, inbox_show)
        .post("/api/v1/my/entities/{code}/inbox/{id}/read", own, inbox_read)
        .get("/api/v1/my/entities/{code}/subscription", own, subscription_show)
        .put("/api/v1/my/entities/{code}/subscription", own, subscription_set)
        .get("/api/v1/my/entities/{code}/deliveries", own, deliveries_index)
}

async fn inbox_show(State(state): State<AppState>, viewer: Viewer, Path(code): Path<String>) -> ApiResult {
    let code = viewer.own_entity(&code)?;
    let inbox = state.call(&viewer, move |s, who| s.inbox(who, &code, 200)).await?;
    Ok(Json(json!({ "unread": inbox.unread, "messages": inbox.messages })).into_response())
}

async fn inbox_read(State(state): State<AppState>, viewer: Viewer, Path((code, id)): Path<(String, u64)>) -> ApiResult {
    let code = viewer.own_entity(&code)?;
    Ok(Json(state.call(&viewer, move |s, who| s.inbox_read(who, &code, id)).await?).into_response())
}

async fn subscription_show(State(state): State<AppState>, viewer: Viewer, Path(code): Path<String>) -> ApiResult {
    let code = viewer.own_entity(&code)?;
    Ok(Json(state.call(&viewer, move |s, who| s.subscription(who, &code)).await?).into_response())
}

/// `PUT /my/entities/{code}/subscription` `{"categories": ["subsidy"], "departments": […],
/// "muted": false, "no_email": false, "no_sms": false}`.
async fn subscription_set(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
    body: Bytes,
) -> ApiResult {
    let code = viewer.own_entity(&code)?;
    let sub: crate::model::push::Subscription = parse_json(&body)?;
    Ok(Json(state.call(&viewer, move |s, who| s.subscription_set(who, &code, sub)).await?).into_response())
}

/// What was sent to the entity by e-mail and SMS, and whether it arrived.
async fn deliveries_index(State(state): State<AppState>, viewer: Viewer, Path(code): Path<String>) -> ApiResult {
    let code = viewer.own_entity(&code)?;
    let list = state.call(&viewer, move |s, who| s.deliveries_of(who, &code, 200)).await?;
    let masked: Vec<_> = list
        .into_iter()
        .map(|mut d| {
            d.to = d.masked_to();
            d
        })
        .collect();
    Ok(Json(json!({ "deliveries": masked })).into_response())
}
