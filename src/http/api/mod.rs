//! The JSON API under `/api/v1`. Reads of published policies are public; everything else needs
//! a staff account (a session cookie or `Authorization: Bearer hq_…`).

mod account;
mod admin;
mod backups;
mod cases;
mod entities;
mod matching;
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
        .merge(supervision::routes())
        .get("/api/v1/catalog", Access::Public, catalog)
        .upload("/api/v1/imports", import, imports_create)
        .get("/api/v1/imports/{id}", import, imports_show)
        .get("/api/v1/export/{file}", Access::Needs(Permission::Export), export_file)
}

/// Parses a JSON body, saying in Chinese what is wrong with it.
pub fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError(AppError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            format!("请求体不是有效的 JSON，或字段不符合要求：{e}"),
        ))
    })
}

/// The field catalogue: every field with its labels, rule type, unit, allowed values and
/// whether rules may read it; the rules language's functions; the vocabularies.
async fn catalog() -> Response {
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
/// A file with bad rows is refused as a whole (422) unless `skip_invalid`.
async fn imports_create(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<ImportParams>,
    body: Bytes,
) -> ApiResult {
    if body.is_empty() {
        return Err(ApiError(AppError::bad_request("请求体为空：请把 CSV 或 XLSX 文件作为请求体上传")));
    }
    let who = viewer.who();
    let job = state
        .svc
        .blocking(move |s| {
            let bytes = body.to_vec();
            s.import_run(
                &who,
                &p.file_name,
                || Ok(std::io::Cursor::new(bytes.as_slice())),
                p.skip_invalid,
                p.dry_run,
                &mut crate::service::imports::Quiet,
            )
        })
        .await?;
    let status = match job.status {
        crate::model::imports::ImportStatus::Refused => axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        crate::model::imports::ImportStatus::Applied => axum::http::StatusCode::CREATED,
        _ => axum::http::StatusCode::OK,
    };
    Ok((status, Json(job)).into_response())
}

async fn imports_show(State(state): State<AppState>, Path(id): Path<u64>) -> ApiResult {
    let job = state.svc.blocking(move |s| s.import_get(id)).await?;
    Ok(Json(job).into_response())
}

/// `GET /export/entities.csv` (or `.xlsx`, or `policies.*`).
async fn export_file(State(state): State<AppState>, viewer: Viewer, Path(file): Path<String>) -> ApiResult {
    Ok(super::pages::export_response(&state, &viewer, &file).await?)
}
