//! 公示 over JSON: the public batches and rows, objections filed under a real name and their
//! receipts; for the department, opening a batch and deciding objections.

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
use crate::model::MeasureId;
use crate::model::disclosure::ObjectionInput;

pub fn routes() -> Routes {
    let review = Access::Needs(Permission::CaseReview);
    Routes::new()
        .get("/api/v1/disclosures", Access::Public, disclosures_index)
        .get("/api/v1/disclosures/{id}", Access::Public, disclosures_show)
        .post("/api/v1/disclosures/{id}/objections", Access::Public, objections_file)
        .get("/api/v1/objection-receipts/{receipt}", Access::Public, objections_receipt)
        .upload(
            "/api/v1/objection-receipts/{receipt}/evidence",
            Access::Public,
            crate::http::MAX_ATTACHMENT_BODY,
            objections_evidence_add,
        )
        .get("/api/v1/objections/{id}/evidence/{n}", Access::Needs(Permission::CaseRead), objections_evidence)
        .post("/api/v1/measures/{id}/disclosures", review, disclosures_open)
        .get("/api/v1/objections", Access::Needs(Permission::CaseRead), objections_index)
        .post("/api/v1/objections/{id}/decide", review, objections_decide)
}

async fn disclosures_index(State(state): State<AppState>) -> ApiResult {
    Ok(Json(state.svc.blocking(|s| s.disclosure_index()).await?).into_response())
}

#[derive(Deserialize, Default)]
struct PageParams {
    #[serde(default)]
    after: u64,
}

async fn disclosures_show(
    State(state): State<AppState>,
    Path(id): Path<u64>,
    Query(p): Query<PageParams>,
) -> ApiResult {
    Ok(Json(state.svc.blocking(move |s| s.disclosure_page(id, p.after)).await?).into_response())
}

/// `POST /disclosures/{id}/objections` `{case_id, name, phone, relation, facts}`: 201 with the
/// receipt to follow it up.
async fn objections_file(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>, body: Bytes) -> ApiResult {
    let input: ObjectionInput = parse_json(&body)?;
    let who = viewer.who();
    let o = state.svc.blocking(move |s| s.objection_file(&who, id, &input)).await?;
    Ok((StatusCode::CREATED, Json(json!({"receipt": o.receipt, "due": o.due, "state": o.state}))).into_response())
}

async fn objections_receipt(State(state): State<AppState>, Path(receipt): Path<String>) -> ApiResult {
    Ok(Json(state.svc.blocking(move |s| s.objection_status(&receipt)).await?).into_response())
}

#[derive(Deserialize, Default)]
struct EvidenceParams {
    #[serde(default)]
    name: String,
}

/// `POST /objection-receipts/{receipt}/evidence?name=照片.jpg` with the file as the body.
async fn objections_evidence_add(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(receipt): Path<String>,
    Query(p): Query<EvidenceParams>,
    body: Bytes,
) -> ApiResult {
    let who = viewer.who();
    let status = state.svc.blocking(move |s| s.objection_add_evidence(&who, &receipt, &p.name, &body)).await?;
    Ok((StatusCode::CREATED, Json(status)).into_response())
}

async fn objections_evidence(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, n)): Path<(u64, usize)>,
) -> ApiResult {
    let (name, content_type, bytes) = state.call(&viewer, move |s, who| s.objection_evidence(who, id, n)).await?;
    Ok(crate::http::pages::disclosures::evidence_response(&name, content_type, bytes))
}

async fn disclosures_open(State(state): State<AppState>, viewer: Viewer, Path(id): Path<MeasureId>) -> ApiResult {
    let batch = state.call(&viewer, move |s, who| s.disclosure_open(who, id)).await?;
    Ok((StatusCode::CREATED, Json(batch)).into_response())
}

async fn objections_index(State(state): State<AppState>, viewer: Viewer) -> ApiResult {
    let list = state.call(&viewer, move |s, who| s.objections_for(who)).await?;
    Ok(Json(json!({"count": list.len(), "objections": list})).into_response())
}

#[derive(Deserialize)]
struct DecideBody {
    /// `uphold` or `dismiss`.
    decision: String,
    #[serde(default)]
    to_review: bool,
    #[serde(default)]
    reason: String,
}

/// `POST /objections/{id}/decide` `{"decision": "uphold" | "dismiss", "to_review", "reason"}`.
async fn objections_decide(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    body: Bytes,
) -> ApiResult {
    let b: DecideBody = parse_json(&body)?;
    let upheld = match b.decision.as_str() {
        "uphold" => true,
        "dismiss" => false,
        other => {
            return Err(ApiError(AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("decision「{other}」无效，应为 uphold（异议成立）或 dismiss（异议不成立）"),
            )));
        }
    };
    let o = state.call(&viewer, move |s, who| s.objection_decide(who, id, upheld, b.to_review, &b.reason)).await?;
    Ok(Json(o).into_response())
}
