//! Cases over JSON: apply (open, save, attach, submit, withdraw), review (queue, decide,
//! release from the budget queue), and an entity's cases.

use std::collections::BTreeMap;

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
use crate::http::error::{ApiError, AppError};
use crate::http::extract::Viewer;
use crate::http::routes::Routes;
use crate::model::{CaseId, MeasureId};
use crate::service::cases::{Decision, applicant_code};
use crate::service::entities::entity_code;
use crate::service::files::Upload;

pub fn routes() -> Routes {
    let apply = Access::Needs(Permission::CaseApply);
    let review = Access::Needs(Permission::CaseReview);
    let read = Access::Either(Permission::CaseRead, Permission::CaseApply);
    Routes::new()
        .post("/api/v1/cases", apply, cases_open)
        .get("/api/v1/cases", Access::Needs(Permission::CaseRead), cases_queue)
        .get("/api/v1/stats/cases", Access::Either(Permission::CaseRead, Permission::Metrics), cases_stats)
        .get("/api/v1/cases/export.xlsx", Access::Needs(Permission::CaseExport), cases_export)
        .get("/api/v1/cases/{id}", read, cases_show)
        .get("/api/v1/cases/{id}/receipt", read, cases_receipt)
        .put("/api/v1/cases/{id}", apply, cases_save)
        .upload("/api/v1/cases/{id}/files", apply, crate::http::MAX_ATTACHMENT_BODY, cases_attach)
        .get("/api/v1/cases/{id}/files/{n}", read, cases_file)
        .delete("/api/v1/cases/{id}/files/{n}", apply, cases_detach)
        .post("/api/v1/cases/{id}/submit", apply, cases_submit)
        .post("/api/v1/cases/{id}/withdraw", apply, cases_withdraw)
        .post("/api/v1/cases/{id}/decide", review, cases_decide)
        .post("/api/v1/cases/{id}/release", review, cases_release)
        .get("/api/v1/entities/{code}/cases", read, cases_of_entity)
}

fn unprocessable(message: String) -> ApiError {
    ApiError(AppError::new(StatusCode::UNPROCESSABLE_ENTITY, message))
}

#[derive(Deserialize)]
struct OpenBody {
    credit_code: String,
    measure_id: MeasureId,
}

/// `POST /cases` `{"credit_code", "measure_id"}`: a draft with the form prefilled (or the
/// case already under way for that entity and measure).
async fn cases_open(State(state): State<AppState>, viewer: Viewer, body: Bytes) -> ApiResult {
    let b: OpenBody = parse_json(&body)?;
    let who = viewer.who();
    let code = applicant_code(&b.credit_code)?;
    let view = state.svc.blocking(move |s| s.case_open(&who, &code, b.measure_id)).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /cases?state=in_review&overdue=1&measure=7&q=…`: open cases the caller may see.
/// `GET /cases/export.xlsx` with the queue's filters and order: every case of it, as XLSX.
async fn cases_export(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<crate::http::params::CaseQueueParams>,
) -> ApiResult {
    let filter = p.filter().map_err(unprocessable)?;
    let (bytes, today) =
        state.call(&viewer, move |s, who| Ok((s.export_queue_logged(who, &filter)?, s.today()))).await?;
    Ok(crate::http::pages::cases::xlsx_download(&format!("huiqi-cases-{today}.xlsx"), bytes))
}

async fn cases_queue(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<crate::http::params::CaseQueueParams>,
) -> ApiResult {
    let filter = p.filter().map_err(unprocessable)?;
    let page = state.call(&viewer, move |s, who| s.case_queue_filtered(who, &filter)).await?;
    Ok(Json(json!({
        "count": page.total, "overdue": page.overdue, "offset": page.offset, "limit": page.limit, "cases": page.cases,
    }))
    .into_response())
}

/// The receipt of a submitted case: what was submitted and when, the frozen amount, each
/// stage's due day.
async fn cases_receipt(State(state): State<AppState>, viewer: Viewer, Path(id): Path<CaseId>) -> ApiResult {
    Ok(Json(state.call(&viewer, move |s, who| s.case_receipt(who, id)).await?).into_response())
}

/// `GET /stats/cases`: cases and amounts (approved, awaiting budget, in review) per measure
/// and department, with budgets and what is left, as far as the caller sees cases.
async fn cases_stats(State(state): State<AppState>, viewer: Viewer) -> ApiResult {
    Ok(Json(state.call(&viewer, move |s, who| s.case_stats(who)).await?).into_response())
}

/// A case as its page shows it: the case, and its materials as a checklist.
async fn cases_show(State(state): State<AppState>, viewer: Viewer, Path(id): Path<CaseId>) -> ApiResult {
    Ok(Json(state.call(&viewer, move |s, who| s.case_detail(who, id)).await?).into_response())
}

#[derive(Deserialize, Default)]
struct FormBody {
    #[serde(default)]
    form: Option<BTreeMap<String, String>>,
}

/// `PUT /cases/{id}` `{"form": {…}}`: saves the draft's form.
async fn cases_save(State(state): State<AppState>, viewer: Viewer, Path(id): Path<CaseId>, body: Bytes) -> ApiResult {
    let b: FormBody = parse_json(&body)?;
    let form = b.form.ok_or_else(|| unprocessable("请求体应为 {\"form\": {字段: 值}}".into()))?;
    Ok(Json(state.call(&viewer, move |s, who| s.case_save(who, id, &form)).await?).into_response())
}

/// `POST /cases/{id}/submit` (optionally `{"form": {…}}`): submits, or resubmits after a return.
async fn cases_submit(State(state): State<AppState>, viewer: Viewer, Path(id): Path<CaseId>, body: Bytes) -> ApiResult {
    let b: FormBody = if body.is_empty() { FormBody::default() } else { parse_json(&body)? };
    Ok(Json(state.call(&viewer, move |s, who| s.case_submit(who, id, b.form.as_ref())).await?).into_response())
}

async fn cases_withdraw(State(state): State<AppState>, viewer: Viewer, Path(id): Path<CaseId>) -> ApiResult {
    Ok(Json(state.call(&viewer, move |s, who| s.case_withdraw(who, id)).await?).into_response())
}

#[derive(Deserialize)]
struct DecideBody {
    action: String,
    #[serde(default)]
    reason: String,
}

/// `POST /cases/{id}/decide` `{"action": "approve" | "reject" | "return", "reason": "…"}`.
async fn cases_decide(State(state): State<AppState>, viewer: Viewer, Path(id): Path<CaseId>, body: Bytes) -> ApiResult {
    let b: DecideBody = parse_json(&body)?;
    let Some(decision) = Decision::parse(&b.action, b.reason) else {
        return Err(unprocessable(format!("action「{}」无效，应为 approve、reject 或 return", b.action)));
    };
    Ok(Json(state.call(&viewer, move |s, who| s.case_decide(who, id, decision)).await?).into_response())
}

async fn cases_release(State(state): State<AppState>, viewer: Viewer, Path(id): Path<CaseId>) -> ApiResult {
    Ok(Json(state.call(&viewer, move |s, who| s.case_release(who, id)).await?).into_response())
}

#[derive(Deserialize, Default)]
struct FileParams {
    #[serde(default)]
    slot: String,
    #[serde(default)]
    name: String,
}

/// `POST /cases/{id}/files?slot=营业执照复印件&name=执照.pdf` with the file as the body.
async fn cases_attach(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    Query(p): Query<FileParams>,
    body: Bytes,
) -> ApiResult {
    if p.slot.trim().is_empty() {
        return Err(unprocessable("请在 slot 参数中写明这是哪一项申报材料".into()));
    }
    let who = viewer.who();
    let file = state
        .svc
        .blocking(move |s| s.case_attach(&who, id, Upload { slot: &p.slot, name: &p.name, bytes: &body }, None))
        .await?;
    Ok((StatusCode::CREATED, Json(file)).into_response())
}

async fn cases_file(State(state): State<AppState>, viewer: Viewer, Path((id, n)): Path<(CaseId, usize)>) -> ApiResult {
    let (file, bytes) = state.call(&viewer, move |s, who| s.case_file(who, id, n)).await?;
    Ok(crate::http::pages::attachment_response(&file, bytes))
}

async fn cases_detach(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, n)): Path<(CaseId, usize)>,
) -> ApiResult {
    state.call(&viewer, move |s, who| s.case_detach(who, id, n)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn cases_of_entity(State(state): State<AppState>, viewer: Viewer, Path(code): Path<String>) -> ApiResult {
    let code = entity_code(&code)?;
    let cases = state.call(&viewer, move |s, who| s.cases_of_entity(who, &code)).await?;
    Ok(Json(json!({ "count": cases.len(), "cases": cases })).into_response())
}
