//! The entity library over JSON (staff only).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, put};
use serde::Deserialize;
use serde_json::Value;

use super::{ApiResult, parse_json};
use crate::http::AppState;
use crate::http::error::{ApiError, AppError};
use crate::http::extract::Viewer;
use crate::http::params::EntityListParams;
use crate::model::fields::format_number;
use crate::model::{Actor, TagDef};
use crate::service::entities::{WriteOutcome, entity_json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/entities", get(entities_index))
        .route("/entities/{code}", get(entities_show).put(entities_put))
        .route("/entities/{code}/history", get(entities_history))
        .route("/tags", get(tags_index))
        .route("/tags/{key}", put(tags_put))
}

async fn entities_index(State(state): State<AppState>, viewer: Viewer, Query(p): Query<EntityListParams>) -> ApiResult {
    viewer.staff_api()?;
    let query = p.query(100);
    let (page, today) = state.svc.blocking(move |s| Ok((s.entity_list(&query)?, s.today()))).await?;
    let entities: Vec<_> = page.entities.iter().map(|e| entity_json(e, today)).collect();
    Ok(Json(serde_json::json!({ "entities": entities, "next_after": page.next_after })).into_response())
}

async fn entities_show(State(state): State<AppState>, viewer: Viewer, Path(code): Path<String>) -> ApiResult {
    viewer.staff_api()?;
    let (e, today) = state.svc.blocking(move |s| Ok((s.entity_by_code(&code)?, s.today()))).await?;
    Ok(Json(entity_json(&e, today)).into_response())
}

async fn entities_history(State(state): State<AppState>, viewer: Viewer, Path(code): Path<String>) -> ApiResult {
    viewer.staff_api()?;
    let file = state.svc.blocking(move |s| s.entity_file(&code)).await?;
    Ok(Json(file.history).into_response())
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
    let principal = viewer.staff_api()?.clone();
    let body: serde_json::Map<String, Value> = parse_json(&body)?;
    let code = code.trim().to_ascii_uppercase();
    if let Some(c) = body.get("credit_code").and_then(Value::as_str)
        && c.trim().to_ascii_uppercase() != code
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
    let actor = Actor::User { id: principal.user.id, username: principal.user.username.clone() };
    let (entity, outcome, today) = state
        .svc
        .blocking(move |s| {
            let patch = s.entity_patch_from_texts(&pairs, true)?;
            let (e, o) = s.entity_upsert(&actor, &patch)?;
            Ok((e, o, s.today()))
        })
        .await?;
    let status = if outcome == WriteOutcome::Inserted { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(serde_json::json!({ "outcome": outcome, "entity": entity_json(&entity, today) }))).into_response())
}

async fn tags_index(State(state): State<AppState>) -> ApiResult {
    Ok(Json(state.svc.blocking(|s| s.tags()).await?).into_response())
}

async fn tags_put(State(state): State<AppState>, viewer: Viewer, Path(key): Path<String>, body: Bytes) -> ApiResult {
    viewer.staff_api()?;
    #[derive(Deserialize)]
    struct Body {
        label: String,
        #[serde(default)]
        label_en: String,
        #[serde(default)]
        description: String,
    }
    let b: Body = parse_json(&body)?;
    let who = viewer.username();
    let tag = TagDef { key, label: b.label, label_en: b.label_en, description: b.description };
    Ok(Json(state.svc.blocking(move |s| s.tag_put(&who, tag)).await?).into_response())
}
