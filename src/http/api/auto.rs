//! 免申即享 over JSON: a measure's lists, proposing a round, reviewing (removing entries),
//! confirming by a second person; the enterprise accepting (with its bank account) or declining.

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
use crate::http::routes::Routes;
use crate::model::{CaseId, MeasureId};

pub fn routes() -> Routes {
    let review = Access::Needs(Permission::CaseReview);
    let read = Access::Needs(Permission::CaseRead);
    let apply = Access::Needs(Permission::CaseApply);
    Routes::new()
        .get("/api/v1/measures/{id}/auto-lists", read, auto_lists_index)
        .post("/api/v1/measures/{id}/auto-lists", review, auto_lists_propose)
        .get("/api/v1/auto-lists/{id}", read, auto_lists_show)
        .post("/api/v1/auto-lists/{id}/remove", review, auto_lists_remove)
        .post("/api/v1/auto-lists/{id}/confirm", review, auto_lists_confirm)
        .post("/api/v1/cases/{id}/accept", apply, cases_accept)
        .post("/api/v1/cases/{id}/decline", apply, cases_decline)
}

async fn auto_lists_index(State(state): State<AppState>, viewer: Viewer, Path(id): Path<MeasureId>) -> ApiResult {
    Ok(Json(state.call(&viewer, move |s, who| s.auto_lists(who, id)).await?).into_response())
}

/// `POST /measures/{id}/auto-lists`: proposes the next round of the list.
async fn auto_lists_propose(State(state): State<AppState>, viewer: Viewer, Path(id): Path<MeasureId>) -> ApiResult {
    let view = state.call(&viewer, move |s, who| s.auto_list_propose(who, id)).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[derive(Deserialize, Default)]
struct PageParams {
    /// Entries after this case id.
    #[serde(default)]
    after: u64,
}

async fn auto_lists_show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    Query(p): Query<PageParams>,
) -> ApiResult {
    Ok(Json(state.call(&viewer, move |s, who| s.auto_list(who, id, p.after)).await?).into_response())
}

#[derive(Deserialize)]
struct RemoveBody {
    case_id: CaseId,
    #[serde(default)]
    reason: String,
}

/// `POST /auto-lists/{id}/remove` `{"case_id": 12, "reason": "已注销"}`.
async fn auto_lists_remove(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    body: Bytes,
) -> ApiResult {
    let b: RemoveBody = parse_json(&body)?;
    let view = state.call(&viewer, move |s, who| s.auto_list_remove(who, id, b.case_id.get(), &b.reason)).await?;
    Ok(Json(view).into_response())
}

/// `POST /auto-lists/{id}/confirm`: by another person than the proposer.
async fn auto_lists_confirm(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> ApiResult {
    Ok(Json(state.call(&viewer, move |s, who| s.auto_list_confirm(who, id)).await?).into_response())
}

#[derive(Deserialize)]
struct AcceptBody {
    /// 户名: the entity's registered name.
    holder: String,
    /// 开户银行
    bank: String,
    /// 银行账号
    account: String,
}

/// `POST /cases/{id}/accept` `{"holder", "bank", "account"}`.
async fn cases_accept(State(state): State<AppState>, viewer: Viewer, Path(id): Path<CaseId>, body: Bytes) -> ApiResult {
    let b: AcceptBody = parse_json(&body)?;
    let view = state.call(&viewer, move |s, who| s.case_accept(who, id.get(), &b.holder, &b.bank, &b.account)).await?;
    Ok(Json(view).into_response())
}

#[derive(Deserialize, Default)]
struct DeclineBody {
    #[serde(default)]
    reason: String,
}

async fn cases_decline(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    body: Bytes,
) -> ApiResult {
    let b: DeclineBody = if body.is_empty() { DeclineBody::default() } else { parse_json(&body)? };
    Ok(Json(state.call(&viewer, move |s, who| s.case_decline(who, id.get(), &b.reason)).await?).into_response())
}
