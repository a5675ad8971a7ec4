//! 兑付 pages: the department's payment batches — make them from the payable cases, read one
//! with its reconciliation, export it for the finance system, upload the return file.

use axum::extract::{Multipart, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use minijinja::context;

use super::{PageResult, see_other, unprocessable};
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::Viewer;
use crate::http::routes::Routes;
use crate::http::web::to_value;
use crate::service::ServiceError;

pub fn routes() -> Routes {
    let review = Access::Needs(Permission::CaseReview);
    Routes::new()
        .get("/staff/payments", Access::Needs(Permission::CaseRead), payments_index)
        .post("/staff/payments", review, payments_create)
        .get("/staff/payments/{id}", Access::Needs(Permission::CaseRead), payments_show)
        .upload("/staff/payments/{id}/returns", review, crate::http::MAX_ATTACHMENT_BODY, payments_return)
        .get("/staff/offline-cases", review, offline_form)
        .upload("/staff/offline-cases", review, crate::http::MAX_ATTACHMENT_BODY, offline_upload)
}

/// A CSV download (UTF-8, or GB18030 when asked).
pub(crate) fn csv_download(name: &str, bytes: Vec<u8>, gb18030: bool) -> Response {
    let charset = if gb18030 { "gb18030" } else { "utf-8" };
    let disposition = format!("attachment; filename=\"{name}\"");
    (
        [(header::CONTENT_TYPE, format!("text/csv; charset={charset}")), (header::CONTENT_DISPOSITION, disposition)],
        bytes,
    )
        .into_response()
}

async fn index_page(state: &AppState, viewer: &Viewer, error: &str) -> PageResult {
    let list = state.call(viewer, move |s, who| s.payment_batches_for(who)).await?;
    let may_make = viewer.principal()?.can(Permission::CaseReview);
    viewer.render("payments.html", context! { list => to_value(&list), may_make, error })
}

async fn payments_index(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    index_page(&state, &viewer, "").await
}

async fn payments_create(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    match state.call(&viewer, move |s, who| s.payment_batch_create(who)).await {
        Ok(made) => Ok(see_other(
            &made.first().map_or_else(|| "/staff/payments".to_string(), |b| format!("/staff/payments/{}", b.id)),
        )),
        Err(ServiceError::Conflict(m)) => Ok(unprocessable(index_page(&state, &viewer, &m).await?)),
        Err(e) => Err(e.into()),
    }
}

async fn batch_page(
    state: &AppState,
    viewer: &Viewer,
    id: u64,
    errors: Vec<crate::model::FieldError>,
    notice: &str,
) -> PageResult {
    let view = state.call(viewer, move |s, who| s.payment_batch(who, id)).await?;
    let may_act = viewer.principal()?.can(Permission::CaseReview);
    viewer.render("payment.html", context! { b => to_value(&view), may_act, errors => to_value(&errors), notice })
}

async fn payments_show(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> PageResult {
    batch_page(&state, &viewer, id, Vec::new(), "").await
}

async fn offline_form(viewer: Viewer) -> PageResult {
    viewer.render("offline.html", context! { report => minijinja::Value::UNDEFINED, errors => Vec::<String>::new() })
}

async fn offline_upload(State(state): State<AppState>, viewer: Viewer, multipart: Multipart) -> PageResult {
    let (csrf, file, fields) = read_small_upload(multipart).await?;
    viewer.check_upload_csrf(&csrf)?;
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return Err(AppError::bad_request("请选择线下办件文件（CSV 或 XLSX）"));
    };
    let skip = fields.iter().any(|(k, v)| k == "skip_invalid" && v == "1");
    match state.call(&viewer, move |s, who| s.offline_import(who, &name, &bytes, skip)).await {
        Ok(report) => {
            viewer.render("offline.html", context! { report => to_value(&report), errors => to_value(&report.errors) })
        }
        Err(ServiceError::Invalid(errors)) => Ok(unprocessable(viewer.render(
            "offline.html",
            context! { report => minijinja::Value::UNDEFINED, errors => to_value(&errors) },
        )?)),
        Err(e) => Err(e.into()),
    }
}

/// The CSRF field, the file and the other fields of a multipart upload (files of a few MB).
type SmallUpload = (String, Option<(String, axum::body::Bytes)>, Vec<(String, String)>);

async fn read_small_upload(mut multipart: Multipart) -> Result<SmallUpload, AppError> {
    let (mut csrf, mut file, mut fields) = (String::new(), None, Vec::new());
    while let Some(field) = multipart.next_field().await.map_err(super::upload_error)? {
        let name = field.name().map(str::to_string);
        match name.as_deref() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("file") if file.is_none() => {
                let file_name = field.file_name().unwrap_or("upload.csv").to_string();
                let bytes = field.bytes().await.map_err(super::upload_error)?;
                file = Some((file_name, bytes));
            }
            Some(other) => {
                let other = other.to_string();
                fields.push((other, field.text().await.unwrap_or_default()));
            }
            None => {}
        }
    }
    Ok((csrf, file, fields))
}

async fn payments_return(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    multipart: Multipart,
) -> PageResult {
    let (csrf, file, _) = read_small_upload(multipart).await?;
    viewer.check_upload_csrf(&csrf)?;
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return Err(AppError::bad_request("请选择财政系统的回单文件（CSV 或 XLSX）"));
    };
    match state.call(&viewer, move |s, who| s.payment_return_import(who, id, &name, &bytes)).await {
        Ok(r) => {
            let notice = format!(
                "回单已导入：{} 行，支付成功 {}，失败 {}，已登记未变 {}",
                r.rows, r.paid, r.failed, r.unchanged
            );
            batch_page(&state, &viewer, id, Vec::new(), &notice).await
        }
        Err(ServiceError::Invalid(errors)) => Ok(unprocessable(batch_page(&state, &viewer, id, errors, "").await?)),
        Err(ServiceError::Conflict(m)) => Ok(unprocessable(
            batch_page(&state, &viewer, id, vec![crate::model::FieldError::new("file", m)], "").await?,
        )),
        Err(e) => Err(e.into()),
    }
}
