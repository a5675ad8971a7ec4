//! Import in the browser (upload → report → confirm) and export downloads.

use axum::extract::{Multipart, Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use minijinja::context;

use super::{StaffResult, see_other};
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::CleanForm;
use crate::http::extract::{Viewer, form_value};
use crate::http::routes::Routes;
use crate::http::web::to_value;
use crate::import::Format;

type FormData = CleanForm;

pub fn routes() -> Routes {
    let import = Access::Needs(Permission::EntityImport);
    Routes::new()
        .get("/staff/imports", import, imports_index)
        .upload("/staff/imports", import, crate::http::MAX_UPLOAD_BYTES, imports_upload)
        .get("/staff/imports/{id}", import, imports_show)
        .get("/staff/imports/{id}/report.csv", import, imports_report)
        .post("/staff/imports/{id}/confirm", import, imports_confirm)
        .post("/staff/imports/{id}/discard", import, imports_discard)
        .get("/staff/export/{file}", Access::Needs(Permission::Export), export_download)
}

async fn imports_index(State(state): State<AppState>, viewer: Viewer) -> StaffResult {
    let jobs = state.svc.blocking(|s| s.import_list(50)).await?;
    let headers: Vec<_> = crate::model::Field::writable().map(|f| (f.name(), f.header())).collect();
    Ok(viewer.render("imports.html", context! { jobs => to_value(&jobs), headers })?)
}

/// Reads the multipart upload: the file (into an upload file beside the store) and the CSRF
/// token, which a browser sends before the file.
async fn read_upload(
    state: &AppState,
    mut multipart: Multipart,
) -> Result<(String, std::path::PathBuf, String), AppError> {
    let mut file: Option<(String, std::path::PathBuf, u64)> = None;
    let mut csrf = String::new();
    let outcome = async {
        while let Some(field) = multipart.next_field().await.map_err(super::upload_error)? {
            match field.name() {
                Some("csrf") => csrf = field.text().await.unwrap_or_default(),
                Some("file") if file.is_none() => {
                    let name = field.file_name().unwrap_or("upload.csv").to_string();
                    let (path, size) =
                        crate::http::upload::receive_field(state, field, crate::http::MAX_UPLOAD_BYTES).await?;
                    file = Some((name, path, size));
                }
                _ => {}
            }
        }
        Ok::<_, AppError>(())
    }
    .await;
    match (outcome, file) {
        (Ok(()), Some((name, path, size))) if size > 0 => Ok((name, path, csrf)),
        (outcome, file) => {
            if let Some((_, path, _)) = file {
                let _ = tokio::fs::remove_file(&path).await;
            }
            outcome?;
            Err(AppError::bad_request("请选择要上传的 CSV 或 XLSX 文件"))
        }
    }
}

async fn imports_upload(State(state): State<AppState>, viewer: Viewer, multipart: Multipart) -> StaffResult {
    let (name, path, csrf) = read_upload(&state, multipart).await?;
    if let Err(e) = viewer.check_upload_csrf(&csrf) {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(e.into());
    }
    let job = state.call(&viewer, move |s, who| s.import_stage_upload(who, &name, &path)).await?;
    Ok(see_other(&format!("/staff/imports/{}", job.id)))
}

async fn imports_show(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> StaffResult {
    let job = state.svc.blocking(move |s| s.import_get(id)).await?;
    let status_label = job.status.label();
    Ok(viewer.render("import.html", context! { job => to_value(&job), status_label })?)
}

async fn imports_report(State(state): State<AppState>, Path(id): Path<u64>) -> StaffResult {
    let job = state.svc.blocking(move |s| s.import_get(id)).await?;
    let mut csv = "\u{feff}".as_bytes().to_vec();
    csv.extend(job.report.to_csv());
    let disposition = format!("attachment; filename=\"import-{id}-report.csv\"");
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, disposition)],
        csv,
    )
        .into_response())
}

async fn imports_confirm(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    CleanForm(form): FormData,
) -> StaffResult {
    let skip = form_value(&form, "skip_invalid") == "on";
    state.call(&viewer, move |s, who| s.import_confirm(who, id, skip)).await?;
    Ok(see_other(&format!("/staff/imports/{id}")))
}

async fn imports_discard(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> StaffResult {
    state.call(&viewer, move |s, who| s.import_discard(who, id)).await?;
    Ok(see_other("/staff/imports"))
}

/// `/staff/export/entities.csv`, `entities.xlsx`, `policies.csv`, `policies.xlsx`.
async fn export_download(State(state): State<AppState>, viewer: Viewer, Path(file): Path<String>) -> StaffResult {
    Ok(export_response(&state, &viewer, &file).await?)
}

/// Builds an export file named `what.ext` as a download (entities masked, within the caller's
/// regions), and records it in the audit trail.
pub async fn export_response(
    state: &AppState,
    viewer: &Viewer,
    file: &str,
) -> Result<axum::response::Response, AppError> {
    let format = Format::of(file).ok_or_else(AppError::not_found)?;
    let what = file.rsplit_once('.').map(|(w, _)| w.to_string()).unwrap_or_default();
    if what != "entities" && what != "policies" {
        return Err(AppError::not_found());
    }
    let who = viewer.who();
    let name = file.to_string();
    let bytes = state.svc.blocking(move |s| s.export_logged(&who, &name, format)).await?;
    let mime = match format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    };
    let stamp = state.svc.today();
    let (stem, ext) = file.rsplit_once('.').unwrap_or((file, ""));
    let disposition = format!("attachment; filename=\"huiqi-{stem}-{stamp}.{ext}\"");
    Ok(([(header::CONTENT_TYPE, mime.to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response())
}
