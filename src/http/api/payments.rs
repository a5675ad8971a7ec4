//! 兑付 over JSON: payment batches (make, read with their reconciliation, export for the
//! finance system, import its return file) and the enterprise's corrected account.

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
use crate::import::Format;
use crate::model::CaseId;

pub fn routes() -> Routes {
    let review = Access::Needs(Permission::CaseReview);
    let read = Access::Needs(Permission::CaseRead);
    let recover = Access::Either(Permission::CaseReview, Permission::Supervise);
    Routes::new()
        .get("/api/v1/payment-batches", read, batches_index)
        .post("/api/v1/payment-batches", review, batches_create)
        .get("/api/v1/payment-batches/{id}", read, batches_show)
        .get("/api/v1/payment-batches/{id}/export.xlsx", review, batches_export_xlsx)
        .get("/api/v1/payment-batches/{id}/export.csv", review, batches_export_csv)
        .upload("/api/v1/payment-batches/{id}/returns", review, crate::http::MAX_ATTACHMENT_BODY, batches_return)
        .post("/api/v1/cases/{id}/account", Access::Needs(Permission::CaseApply), cases_account)
        .get("/api/v1/measures/{id}/money", read, measures_money)
        .upload("/api/v1/offline-cases", review, crate::http::MAX_UPLOAD_BYTES, offline_import)
        .post("/api/v1/cases/{id}/recovery", recover, cases_recovery_open)
        .post("/api/v1/cases/{id}/recovery/recovered", recover, cases_recovery_recorded)
        .post("/api/v1/cases/{id}/recovery/hand-over", recover, cases_recovery_hand_over)
}

/// `POST /cases/{id}/recovery` `{amount_yuan, reason, deadline, bar_until}`: opens a recovery.
async fn cases_recovery_open(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    body: Bytes,
) -> ApiResult {
    let input: crate::service::cases::recovery::RecoveryInput = parse_json(&body)?;
    Ok(Json(state.call(&viewer, move |s, who| s.recovery_open(who, id.get(), &input)).await?).into_response())
}

#[derive(Deserialize)]
struct RecoveredBody {
    on: String,
    voucher: String,
}

/// `POST /cases/{id}/recovery/recovered` `{on, voucher}`: the money is back.
async fn cases_recovery_recorded(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    body: Bytes,
) -> ApiResult {
    let b: RecoveredBody = parse_json(&body)?;
    Ok(Json(state.call(&viewer, move |s, who| s.recovery_record(who, id.get(), &b.on, &b.voucher)).await?)
        .into_response())
}

#[derive(Deserialize)]
struct HandOverBody {
    note: String,
}

async fn cases_recovery_hand_over(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    body: Bytes,
) -> ApiResult {
    let b: HandOverBody = parse_json(&body)?;
    Ok(Json(state.call(&viewer, move |s, who| s.recovery_hand_over(who, id.get(), &b.note)).await?).into_response())
}

/// `GET /measures/{id}/money`: budget, approved, reserved, paid, recovered, remaining (fen).
async fn measures_money(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<crate::model::MeasureId>,
) -> ApiResult {
    Ok(Json(state.call(&viewer, move |s, who| s.measure_money(who, id)).await?).into_response())
}

async fn batches_index(State(state): State<AppState>, viewer: Viewer) -> ApiResult {
    let list = state.call(&viewer, move |s, who| s.payment_batches_for(who)).await?;
    Ok(Json(json!({"count": list.len(), "batches": list})).into_response())
}

/// `POST /payment-batches`: the department's payable cases into new batches (one per source of funds).
async fn batches_create(State(state): State<AppState>, viewer: Viewer) -> ApiResult {
    let made = state.call(&viewer, move |s, who| s.payment_batch_create(who)).await?;
    Ok((StatusCode::CREATED, Json(json!({"batches": made}))).into_response())
}

async fn batches_show(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> ApiResult {
    Ok(Json(state.call(&viewer, move |s, who| s.payment_batch(who, id)).await?).into_response())
}

async fn batches_export_xlsx(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> ApiResult {
    let (name, bytes) = state.call(&viewer, move |s, who| s.payment_batch_export(who, id, Format::Xlsx, false)).await?;
    Ok(crate::http::pages::cases::xlsx_download(&name, bytes))
}

#[derive(Deserialize, Default)]
struct CsvParams {
    /// `gb18030` for old finance software; UTF-8 otherwise.
    #[serde(default)]
    encoding: String,
}

async fn batches_export_csv(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    Query(p): Query<CsvParams>,
) -> ApiResult {
    let gb = p.encoding.eq_ignore_ascii_case("gb18030");
    let (name, bytes) = state.call(&viewer, move |s, who| s.payment_batch_export(who, id, Format::Csv, gb)).await?;
    Ok(crate::http::pages::payments::csv_download(&name, bytes, gb))
}

#[derive(Deserialize, Default)]
struct ReturnParams {
    #[serde(default)]
    file_name: String,
}

/// `POST /payment-batches/{id}/returns?file_name=回单.csv` with the file as the body.
async fn batches_return(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    Query(p): Query<ReturnParams>,
    body: Bytes,
) -> ApiResult {
    let name = if p.file_name.trim().is_empty() { "return.csv".to_string() } else { p.file_name };
    let report = state.call(&viewer, move |s, who| s.payment_return_import(who, id, &name, &body)).await?;
    Ok(Json(report).into_response())
}

#[derive(Deserialize, Default)]
struct OfflineParams {
    #[serde(default)]
    file_name: String,
    #[serde(default)]
    skip_invalid: bool,
}

/// `POST /offline-cases?file_name=线下办件.xlsx&skip_invalid=` with the file as the body.
async fn offline_import(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<OfflineParams>,
    body: Bytes,
) -> ApiResult {
    let name = if p.file_name.trim().is_empty() { "offline.csv".to_string() } else { p.file_name };
    let report = state.call(&viewer, move |s, who| s.offline_import(who, &name, &body, p.skip_invalid)).await?;
    Ok(Json(report).into_response())
}

#[derive(Deserialize)]
struct AccountBody {
    holder: String,
    bank: String,
    account: String,
}

/// `POST /cases/{id}/account` `{holder, bank, account}`: the enterprise corrects its account
/// after a failed payment.
async fn cases_account(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    body: Bytes,
) -> ApiResult {
    let b: AccountBody = parse_json(&body)?;
    let view = state
        .call(&viewer, move |s, who| s.case_correct_account(who, id.get(), &b.holder, &b.bank, &b.account))
        .await?;
    Ok(Json(view).into_response())
}
