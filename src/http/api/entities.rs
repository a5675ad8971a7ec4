//! The entity library over JSON: staff read and write within their regions, enterprises read
//! their own. Personal data is masked for roles without `entity.personal`; unmasking is a
//! separate, audited call.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;

use super::{ApiResult, parse_json};
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::error::{ApiError, AppError};
use crate::http::extract::Viewer;
use crate::http::params::EntityListParams;
use crate::http::routes::Routes;
use crate::model::fields::format_number;
use crate::model::{CreditCode, TagDef};
use crate::service::entities::{SaveMode, WriteOutcome, entity_code, entity_json};

pub fn routes() -> Routes {
    let read = Access::Needs(Permission::EntityRead);
    Routes::new()
        .get("/api/v1/entities", read, entities_index)
        .get("/api/v1/entities/{code}", Access::Either(Permission::EntityRead, Permission::OwnEntities), entities_show)
        .put("/api/v1/entities/{code}", Access::Needs(Permission::EntityWrite), entities_put)
        .get("/api/v1/entities/{code}/history", read, entities_history)
        .post("/api/v1/entities/{code}/personal", Access::Needs(Permission::PersonalData), entities_personal)
        .get("/api/v1/tags", Access::Public, tags_index)
        .put("/api/v1/tags/{key}", Access::Needs(Permission::TagsManage), tags_put)
}

async fn entities_index(State(state): State<AppState>, viewer: Viewer, Query(p): Query<EntityListParams>) -> ApiResult {
    let query = p.query(100);
    let (page, today) = state.call(&viewer, move |s, who| Ok((s.entity_list(who, &query)?, s.today()))).await?;
    let entities: Vec<_> = page.entities.iter().map(|e| entity_json(e, today)).collect();
    Ok(Json(serde_json::json!({ "entities": entities, "next_after": page.next_after })).into_response())
}

async fn entities_show(State(state): State<AppState>, viewer: Viewer, Path(code): Path<String>) -> ApiResult {
    let code = entity_code(&code)?;
    let (e, today) = state.call(&viewer, move |s, who| Ok((s.entity_get(who, &code)?, s.today()))).await?;
    Ok(Json(entity_json(&e, today)).into_response())
}

async fn entities_history(State(state): State<AppState>, viewer: Viewer, Path(code): Path<String>) -> ApiResult {
    let code = entity_code(&code)?;
    let file = state.call(&viewer, move |s, who| s.entity_file(who, &code)).await?;
    Ok(Json(file.history).into_response())
}

/// `POST /entities/{code}/personal` with `{"reason": "…"}`: the personal fields in full,
/// recorded in the audit trail with the reason.
async fn entities_personal(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
    body: Bytes,
) -> ApiResult {
    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        reason: String,
    }
    let b: Body = parse_json(&body)?;
    if b.reason.trim().is_empty() {
        return Err(ApiError(AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "请在 reason 中说明查看完整信息的事由")));
    }
    let code = entity_code(&code)?;
    let e = state.call(&viewer, move |s, who| s.entity_unmask(who, &code, &b.reason)).await?.entity;
    Ok(Json(serde_json::json!({
        "credit_code": e.credit_code.as_str(),
        "contact_phone": e.contact_phone, "contact_email": e.contact_email,
        "legal_rep": e.legal_rep, "legal_rep_id": e.legal_rep_id,
    }))
    .into_response())
}

/// A JSON value as the text an import cell would hold (`null` clears).
pub(super) fn as_text(field: &str, v: &Value) -> Result<String, ApiError> {
    Ok(match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.as_f64().map(format_number).unwrap_or_else(|| n.to_string()),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                Value::Object(o) => {
                    let get = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    let (key, since, until) = (get("key"), get("since"), get("until"));
                    Ok(match (since.is_empty(), until.is_empty()) {
                        (true, true) => key,
                        (false, true) => format!("{key}@{since}"),
                        _ => format!("{key}@{since}~{until}"),
                    })
                }
                _ => Err(ApiError(AppError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("字段「{field}」的列表项应为字符串或 {{key, since, until}} 对象"),
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?
            .join(";"),
        Value::Object(_) => {
            return Err(ApiError(AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("字段「{field}」不能是对象"),
            )));
        }
    })
}

/// `PUT /entities/{code}` with `{field: value, …}`: creates or updates; absent fields stay,
/// `null` clears. Answers 201 when created, 200 otherwise.
async fn entities_put(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body: serde_json::Map<String, Value> = parse_json(&body)?;
    let code = CreditCode::normalize(&code);
    if let Some(c) = body.get("credit_code").and_then(Value::as_str)
        && CreditCode::normalize(c) != code
    {
        return Err(ApiError(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "请求体中的统一社会信用代码与地址中的不一致",
        )));
    }
    let mut pairs = vec![("credit_code".to_string(), code)];
    for (k, v) in &body {
        if k != "credit_code" {
            pairs.push((k.clone(), as_text(k, v)?));
        }
    }
    let (entity, outcome) =
        state.call(&viewer, move |s, who| s.entity_save_texts(who, &pairs, SaveMode::Upsert)).await?;
    let today = state.svc.today();
    let status = if outcome == WriteOutcome::Inserted { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(serde_json::json!({ "outcome": outcome, "entity": entity_json(&entity, today) }))).into_response())
}

async fn tags_index(State(state): State<AppState>) -> ApiResult {
    Ok(Json(state.svc.blocking(|s| s.tags()).await?).into_response())
}

async fn tags_put(State(state): State<AppState>, viewer: Viewer, Path(key): Path<String>, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct Body {
        label: String,
        #[serde(default)]
        label_en: String,
        #[serde(default)]
        description: String,
    }
    let b: Body = parse_json(&body)?;
    let who = viewer.who();
    let tag = TagDef { key, label: b.label, label_en: b.label_en, description: b.description };
    Ok(Json(state.svc.blocking(move |s| s.tag_put(&who, tag)).await?).into_response())
}
