//! 公示 pages: the public list of batches (and its Atom feed), a batch's rows with the
//! objection form (real name required), the objector's receipt; the department's objections
//! with their decisions; opening a batch from the measure's page.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use super::{PageResult, see_other, unprocessable};
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{CleanForm, Viewer, form_value};
use crate::http::routes::Routes;
use crate::http::web::to_value;
use crate::model::disclosure::{ObjectionInput, Relation};
use crate::model::{FieldError, MeasureId, Money, Vocabulary};
use crate::service::ServiceError;

pub fn routes() -> Routes {
    let review = Access::Needs(Permission::CaseReview);
    Routes::new()
        .get("/disclosures", Access::Public, disclosures_index)
        .get("/disclosures.atom", Access::Public, disclosures_feed)
        .get("/disclosures/{id}", Access::Public, disclosures_show)
        .get("/disclosures/{id}/object", Access::Public, objection_form)
        .post("/disclosures/{id}/object", Access::Public, objection_file)
        .get("/objection-receipts/{receipt}", Access::Public, objection_receipt)
        .upload(
            "/objection-receipts/{receipt}/evidence",
            Access::Public,
            crate::http::MAX_ATTACHMENT_BODY,
            objection_evidence_add,
        )
        .get("/staff/objections/{id}/evidence/{n}", Access::Needs(Permission::CaseRead), objection_evidence)
        .post("/measures/{id}/disclosures", review, disclosures_open)
        .get("/staff/objections", Access::Needs(Permission::CaseRead), objections_index)
        .post("/staff/objections/{id}/decide", review, objections_decide)
}

async fn disclosures_index(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let index = state.svc.blocking(|s| s.disclosure_index()).await?;
    viewer.render("disclosures.html", context! { d => to_value(&index) })
}

#[derive(Deserialize, Default)]
struct PageParams {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    case: u64,
}

async fn disclosures_show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    Query(p): Query<PageParams>,
) -> PageResult {
    let page = state.svc.blocking(move |s| s.disclosure_page(id, p.after)).await?;
    viewer.render("disclosure.html", context! { p => to_value(&page) })
}

fn relations() -> Vec<(&'static str, &'static str)> {
    Relation::ALL.iter().map(|r| (r.key(), r.label())).collect()
}

async fn form_page(
    state: &AppState,
    viewer: &Viewer,
    id: u64,
    case: u64,
    errors: Vec<FieldError>,
    typed: &[(String, String)],
) -> PageResult {
    let page = state.svc.blocking(move |s| s.disclosure_page(id, 0)).await?;
    let batch = page.batch.clone();
    // The row objected to, on any page of the batch.
    let row = {
        let mut found = page.rows.iter().find(|r| r.case_id == case).cloned();
        if found.is_none() && case > 0 {
            let p = state.svc.blocking(move |s| s.disclosure_page(id, case - 1)).await?;
            found = p.rows.into_iter().find(|r| r.case_id == case);
        }
        found
    };
    let values: std::collections::BTreeMap<String, String> = typed.iter().cloned().collect();
    viewer.render(
        "objection_form.html",
        context! {
            b => to_value(&batch), row => to_value(&row), open_now => page.open_now,
            errors => to_value(&errors), values => to_value(&values), relations => relations(),
        },
    )
}

async fn objection_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    Query(p): Query<PageParams>,
) -> PageResult {
    form_page(&state, &viewer, id, p.case, Vec::new(), &[]).await
}

async fn objection_file(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    CleanForm(form): CleanForm,
) -> PageResult {
    let input = ObjectionInput {
        case_id: form_value(&form, "case_id").parse().unwrap_or(0),
        name: form_value(&form, "name").to_string(),
        phone: form_value(&form, "phone").to_string(),
        relation: form_value(&form, "relation").to_string(),
        facts: form_value(&form, "facts").to_string(),
    };
    let case = input.case_id;
    let who = viewer.who();
    match state.svc.blocking(move |s| s.objection_file(&who, id, &input)).await {
        Ok(o) => Ok(see_other(&format!("/objection-receipts/{}", o.receipt))),
        Err(e) => {
            let errors = match e {
                ServiceError::Invalid(errors) => errors,
                ServiceError::Conflict(m) => vec![FieldError::new("objection", m)],
                other => return Err(other.into()),
            };
            let typed: Vec<(String, String)> = form.into_iter().filter(|(k, _)| k != "csrf").collect();
            Ok(unprocessable(form_page(&state, &viewer, id, case, errors, &typed).await?))
        }
    }
}

async fn objection_receipt(State(state): State<AppState>, viewer: Viewer, Path(receipt): Path<String>) -> PageResult {
    let status = state.svc.blocking(move |s| s.objection_status(&receipt)).await?;
    viewer.render("objection_receipt.html", context! { o => to_value(&status) })
}

/// An evidence file as a download.
pub(crate) fn evidence_response(name: &str, content_type: &str, bytes: Vec<u8>) -> Response {
    let disposition = format!("attachment; filename*=UTF-8''{}", super::url_encode(name));
    ([(header::CONTENT_TYPE, content_type.to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response()
}

async fn objection_evidence_add(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(receipt): Path<String>,
    mut multipart: axum::extract::Multipart,
) -> PageResult {
    let (mut csrf, mut file) = (String::new(), None);
    while let Some(field) = multipart.next_field().await.map_err(super::upload_error)? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("file") if file.is_none() => {
                let name = field.file_name().unwrap_or("证据材料").to_string();
                file = Some((name, field.bytes().await.map_err(super::upload_error)?));
            }
            _ => {}
        }
    }
    viewer.check_upload_csrf(&csrf)?;
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return Err(AppError::bad_request("请选择要上传的证据材料"));
    };
    let who = viewer.who();
    let r = receipt.clone();
    match state.svc.blocking(move |s| s.objection_add_evidence(&who, &r, &name, &bytes)).await {
        Ok(_) => Ok(see_other(&format!("/objection-receipts/{receipt}"))),
        Err(ServiceError::Invalid(f)) => {
            let status = state.svc.blocking(move |s| s.objection_status(&receipt)).await?;
            let error = f.into_iter().map(|f| f.message).collect::<Vec<_>>().join("；");
            Ok(unprocessable(viewer.render("objection_receipt.html", context! { o => to_value(&status), error })?))
        }
        Err(e) => Err(e.into()),
    }
}

async fn objection_evidence(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, n)): Path<(u64, usize)>,
) -> Result<Response, AppError> {
    let (name, content_type, bytes) = state.call(&viewer, move |s, who| s.objection_evidence(who, id, n)).await?;
    Ok(evidence_response(&name, content_type, bytes))
}

async fn disclosures_open(State(state): State<AppState>, viewer: Viewer, Path(id): Path<MeasureId>) -> PageResult {
    match state.call(&viewer, move |s, who| s.disclosure_open(who, id)).await {
        Ok(batch) => Ok(see_other(&format!("/disclosures/{}", batch.id))),
        Err(ServiceError::Conflict(m)) => Err(AppError::new(axum::http::StatusCode::CONFLICT, m)),
        Err(e) => Err(e.into()),
    }
}

async fn objections_index(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let list = state.call(&viewer, move |s, who| s.objections_for(who)).await?;
    let may_decide = viewer.principal()?.can(Permission::CaseReview);
    viewer.render("objections.html", context! { list => to_value(&list), may_decide, error => "" })
}

async fn objections_decide(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    CleanForm(form): CleanForm,
) -> PageResult {
    let decision = form_value(&form, "decision").to_string();
    let reason = form_value(&form, "reason").to_string();
    let (upheld, to_review) = match decision.as_str() {
        "dismiss" => (false, false),
        "uphold_review" => (true, true),
        "uphold_reject" => (true, false),
        _ => return Err(AppError::bad_request("请选择处理决定")),
    };
    match state.call(&viewer, move |s, who| s.objection_decide(who, id, upheld, to_review, &reason)).await {
        Ok(_) => Ok(see_other("/staff/objections")),
        Err(ServiceError::Invalid(f)) => {
            let list = state.call(&viewer, move |s, who| s.objections_for(who)).await?;
            let error = f.into_iter().map(|f| f.message).collect::<Vec<_>>().join("；");
            Ok(unprocessable(
                viewer.render("objections.html", context! { list => to_value(&list), may_decide => true, error })?,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// The Atom feed of disclosure batches, newest first.
async fn disclosures_feed(State(state): State<AppState>) -> Result<Response, AppError> {
    let index = state.svc.blocking(|s| s.disclosure_index()).await?;
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let mut all: Vec<_> = index.current.iter().chain(&index.past).collect();
    all.sort_by_key(|b| std::cmp::Reverse(b.id));
    let updated = all.first().map_or_else(|| "1970-01-01T00:00:00+08:00".to_string(), |b| b.opened_at.rfc3339_cst());
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title>惠企政策兑现公示</title>\n<id>urn:huiqi:disclosures</id>\n<link href=\"/disclosures\"/>\n<updated>{updated}</updated>\n"
    );
    for b in all {
        xml.push_str(&format!(
            "<entry>\n<title>{}（{}）公示</title>\n<id>urn:huiqi:disclosure:{}</id>\n<link href=\"/disclosures/{}\"/>\n<updated>{}</updated>\n<author><name>{}</name></author>\n<summary>公示期 {} 至 {}（{} 个工作日），共 {} 户，合计 {} 万元。异议请联系：{}</summary>\n</entry>\n",
            esc(&b.measure_name),
            esc(&b.doc_number),
            b.id,
            b.id,
            b.opened_at.rfc3339_cst(),
            esc(&b.department),
            b.from,
            b.until,
            b.days,
            b.rows,
            Money(b.total_fen),
            esc(&b.contact)
        ));
    }
    xml.push_str("</feed>\n");
    Ok(([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], xml).into_response())
}
