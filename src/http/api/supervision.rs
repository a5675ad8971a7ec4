//! Supervision, department notices and specialists' assignments over JSON.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::{ApiResult, parse_json};
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::extract::Viewer;
use crate::http::routes::Routes;
use crate::service::supervision::assignment_code;

pub fn routes() -> Routes {
    let supervise = Access::Needs(Permission::Supervise);
    let assign = Access::Needs(Permission::AssignSpecialists);
    Routes::new()
        .get("/api/v1/supervision", supervise, supervision_board)
        .get("/api/v1/supervision/money", supervise, supervision_money)
        .get("/api/v1/supervision/export.xlsx", Access::Needs(Permission::SupervisionExport), supervision_export)
        .post("/api/v1/supervision/{id}/notice", supervise, supervision_notice)
        .post("/api/v1/supervision/{id}/resolve", supervise, supervision_resolve)
        .get("/api/v1/notices", Access::Needs(Permission::StaffConsole), notices_index)
        .post("/api/v1/notices/{id}/read", Access::Needs(Permission::StaffConsole), notices_read)
        .put("/api/v1/assignments", assign, assignments_add)
        .delete("/api/v1/assignments/{specialist}/{code}", assign, assignments_remove)
        .get("/api/v1/my/assigned", Access::Needs(Permission::Assigned), assigned_index)
}

#[derive(Deserialize, Default)]
struct BoardParams {
    #[serde(default)]
    all: bool,
}

/// `GET /supervision` (`?all=true` includes resolved items).
/// `GET /supervision/money`: objections past their limit, failed payments left uncorrected.
async fn supervision_money(State(state): State<AppState>, viewer: Viewer) -> ApiResult {
    Ok(Json(state.call(&viewer, move |s, who| s.money_board(who)).await?).into_response())
}

async fn supervision_board(State(state): State<AppState>, viewer: Viewer, Query(p): Query<BoardParams>) -> ApiResult {
    let items = state.call(&viewer, move |s, who| s.supervision_board(who, p.all)).await?;
    Ok(Json(json!({ "count": items.len(), "items": items })).into_response())
}

/// `GET /supervision/export.xlsx` (`?all=true` includes resolved items).
async fn supervision_export(State(state): State<AppState>, viewer: Viewer, Query(p): Query<BoardParams>) -> ApiResult {
    let (bytes, today) = state.call(&viewer, move |s, who| Ok((s.export_board_logged(who, p.all)?, s.today()))).await?;
    Ok(crate::http::pages::cases::xlsx_download(&format!("huiqi-supervision-{today}.xlsx"), bytes))
}

#[derive(Deserialize)]
struct NoticeBody {
    text: String,
    /// The notice's deadline in working days from today.
    days: u32,
}

async fn supervision_notice(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    body: Bytes,
) -> ApiResult {
    let b: NoticeBody = parse_json(&body)?;
    Ok(Json(state.call(&viewer, move |s, who| s.supervision_notice(who, id, &b.text, b.days)).await?).into_response())
}

#[derive(Deserialize)]
struct ResolveBody {
    note: String,
}

async fn supervision_resolve(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    body: Bytes,
) -> ApiResult {
    let b: ResolveBody = parse_json(&body)?;
    Ok(Json(state.call(&viewer, move |s, who| s.supervision_resolve(who, id, &b.note)).await?).into_response())
}

async fn notices_index(State(state): State<AppState>, viewer: Viewer) -> ApiResult {
    let (notices, unread) = state.call(&viewer, move |s, who| s.notices(who, 200)).await?;
    Ok(Json(json!({ "unread": unread, "notices": notices })).into_response())
}

async fn notices_read(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> ApiResult {
    Ok(Json(state.call(&viewer, move |s, who| s.notice_read(who, id)).await?).into_response())
}

#[derive(Deserialize)]
struct AssignBody {
    specialist: String,
    credit_code: String,
}

/// `PUT /assignments` `{"specialist": "bangban", "credit_code": "…"}`.
async fn assignments_add(State(state): State<AppState>, viewer: Viewer, body: Bytes) -> ApiResult {
    let b: AssignBody = parse_json(&body)?;
    let code = assignment_code(&b.credit_code)?;
    state.call(&viewer, move |s, who| s.assignment_set(who, &b.specialist, &code, true)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn assignments_remove(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((specialist, code)): Path<(String, String)>,
) -> ApiResult {
    let code = assignment_code(&code)?;
    state.call(&viewer, move |s, who| s.assignment_set(who, &specialist, &code, false)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn assigned_index(State(state): State<AppState>, viewer: Viewer) -> ApiResult {
    let entities = state.call(&viewer, move |s, who| s.assigned(who)).await?;
    Ok(Json(json!({ "count": entities.len(), "entities": entities })).into_response())
}
