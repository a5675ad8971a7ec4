//! The JSON API under `/api/v1`. Reads of published policies are public; everything else needs
//! a staff account (a session cookie or `Authorization: Bearer hq_…`).

mod account;
mod admin;
mod auto;
mod backups;
mod cases;
mod disclosures;
mod entities;
mod inbox;
mod matching;
mod payments;
mod policies;
mod supervision;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::AppState;
use super::error::{ApiError, AppError};
use super::extract::Viewer;
use super::routes::Routes;
use crate::auth::{Access, Permission};
use crate::model::{Field, Vocabulary};

pub type ApiResult = Result<Response, ApiError>;

pub fn routes() -> Routes {
    let import = Access::Needs(Permission::EntityImport);
    Routes::new()
        .merge(policies::routes())
        .merge(entities::routes())
        .merge(matching::routes())
        .merge(account::routes())
        .merge(admin::routes())
        .merge(backups::routes())
        .merge(cases::routes())
        .merge(auto::routes())
        .merge(disclosures::routes())
        .merge(payments::routes())
        .merge(inbox::routes())
        .merge(supervision::routes())
        .get("/api/v1/catalog", Access::Public, catalog_show)
        .upload("/api/v1/imports", import, super::MAX_UPLOAD_BYTES, imports_create)
        .get("/api/v1/imports/{id}", import, imports_show)
        .get("/api/v1/export/{file}", Access::Needs(Permission::Export), export_download)
}

/// Parses a JSON body, saying in Chinese what is wrong with it. Every string in it (keys too)
/// is checked for control and direction-changing characters first, naming the field.
pub fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let unprocessable =
        |message: String| ApiError(AppError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, message));
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        unprocessable(format!("请求体不是有效的 JSON：{}", crate::model::text::excerpt(&e.to_string(), 200)))
    })?;
    if let Some((path, problem)) = forbidden_text(&value, "") {
        let mut e = AppError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, problem.clone());
        e.fields.push(crate::model::FieldError::new(&path, problem));
        return Err(ApiError(e));
    }
    serde_json::from_value(value).map_err(|e| {
        unprocessable(format!("请求体（JSON）的字段不符合要求：{}", crate::model::text::excerpt(&e.to_string(), 300)))
    })
}

/// The first string of a JSON value holding a forbidden character: its path and the problem.
/// serde_json limits nesting to 128 levels, so the walk is bounded.
fn forbidden_text(v: &serde_json::Value, path: &str) -> Option<(String, String)> {
    let named = |p: &str| if p.is_empty() { "请求体".to_string() } else { p.to_string() };
    match v {
        serde_json::Value::String(s) => {
            crate::model::text::check(&format!("「{}」", named(path)), s, true).err().map(|m| (named(path), m))
        }
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, x)| forbidden_text(x, &format!("{}[{i}]", named(path))))
        }
        serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
            let key_path = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            if let Err(m) = crate::model::text::check("字段名", k, false) {
                return Some((crate::model::text::strip(&key_path, false), m));
            }
            forbidden_text(x, &key_path)
        }),
        _ => None,
    }
}

/// The field catalogue: every field with its labels, rule type, unit, allowed values and
/// whether rules may read it; the rules language's functions; the vocabularies.
async fn catalog_show() -> Response {
    let rules: Vec<_> = crate::rules::catalog::entries();
    let fields: Vec<_> = Field::ALL
        .iter()
        .map(|f| {
            let rule = rules.iter().find(|r| r.name == f.name());
            json!({
                "name": f.name(), "label": f.label(), "label_en": f.label_en(),
                "type": rule.map_or("text", |r| r.ty), "unit": f.unit(),
                "derived": f.derived(), "in_rules": rule.is_some(),
                "description": rule.map_or("", |r| r.description),
                "values": f.choices().iter().map(|(k, l)| json!({"key": k, "label": l})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let vocab =
        |pairs: Vec<(&str, &str)>| pairs.into_iter().map(|(k, l)| json!({"key": k, "label": l})).collect::<Vec<_>>();
    fn pairs<V: Vocabulary>() -> Vec<(&'static str, &'static str)> {
        V::ALL.iter().map(|v| (v.key(), v.label())).collect()
    }
    Json(json!({
        "fields": fields,
        "functions": [
            "min(a, b, …)", "max(a, b, …)", "round(x)", "floor(x)", "ceil(x)", "abs(x)", "date(\"YYYY-MM-DD\")", "today()",
            "field.within(\"code\")", "tags.contains(\"tag\")", "\"tag\" in tags", "tag_since(\"tag\")", "tag_until(\"tag\")", "has(field)",
        ],
        "levels": vocab(pairs::<crate::model::Level>()),
        "categories": vocab(pairs::<crate::model::Category>()),
        "modes": vocab(pairs::<crate::model::Mode>()),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct ImportParams {
    /// The file's name; its extension (.csv, .xlsx) says the format.
    file_name: String,
    #[serde(default)]
    skip_invalid: bool,
    #[serde(default)]
    dry_run: bool,
}

/// `POST /imports?file_name=x.csv[&skip_invalid=true][&dry_run=true]` with the file as the body.
/// The body goes to a file beside the store as it arrives, and is removed after the import. A
/// file with bad rows is refused as a whole (422, the documented error shape with the job's
/// bounded report beside it) unless `skip_invalid`.
async fn imports_create(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<ImportParams>,
    body: axum::body::Body,
) -> ApiResult {
    if crate::import::Format::of(&p.file_name).is_none() {
        let e = crate::import::ReadError::UnknownFormat(crate::model::text::excerpt(&p.file_name, 100));
        return Err(ApiError(AppError::new(axum::http::StatusCode::UNPROCESSABLE_ENTITY, e.to_string())));
    }
    let (path, size) = crate::http::upload::receive_body(&state, body, super::MAX_UPLOAD_BYTES).await?;
    if size == 0 {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(ApiError(AppError::bad_request("请求体为空：请把 CSV 或 XLSX 文件作为请求体上传")));
    }
    let who = viewer.who();
    let job = state
        .svc
        .blocking(move |s| {
            let job = s.import_run(
                &who,
                &p.file_name,
                || std::fs::File::open(&path),
                p.skip_invalid,
                p.dry_run,
                &mut crate::service::imports::Quiet,
            );
            let _ = std::fs::remove_file(&path);
            job
        })
        .await?;
    let status = match job.status {
        crate::model::imports::ImportStatus::Refused => axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        crate::model::imports::ImportStatus::Applied => axum::http::StatusCode::CREATED,
        _ => axum::http::StatusCode::OK,
    };
    let mut answer = serde_json::to_value(&job).map_err(|e| ApiError(AppError::bad_request(e.to_string())))?;
    if status == axum::http::StatusCode::UNPROCESSABLE_ENTITY
        && let Some(map) = answer.as_object_mut()
    {
        let r = &job.report;
        let first = r.issues.first().map(|i| format!("；第一处：第 {} 行 {}", i.row, i.reason)).unwrap_or_default();
        let message = format!("文件被拒绝，没有写入任何数据：{} 行中有 {} 行有误{first}", r.rows, r.invalid);
        // The documented error shape: `status` is the HTTP status; the job, whole, is under `job`.
        map.insert("job".into(), serde_json::to_value(&job).unwrap_or_default());
        map.insert("error".into(), json!(crate::model::text::excerpt(&message, 1000)));
        map.insert("status".into(), json!(422));
        map.insert("fields".into(), json!([]));
    }
    Ok((status, Json(answer)).into_response())
}

async fn imports_show(State(state): State<AppState>, Path(id): Path<u64>) -> ApiResult {
    let job = state.svc.blocking(move |s| s.import_get(id)).await?;
    Ok(Json(job).into_response())
}

/// `GET /export/entities.csv` (or `.xlsx`, or `policies.*`).
async fn export_download(State(state): State<AppState>, viewer: Viewer, Path(file): Path<String>) -> ApiResult {
    Ok(super::pages::export_response(&state, &viewer, &file).await?)
}
