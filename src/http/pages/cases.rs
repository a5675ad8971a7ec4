//! Case pages: an enterprise (or a specialist for it) applies, supplements and follows its
//! case; a department reviews its queue and decides.

use std::collections::BTreeMap;

use axum::extract::{Multipart, Path, Query, State};
use minijinja::context;
use serde::Deserialize;

use super::{PageResult, see_other, unprocessable};
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::CleanForm;
use crate::http::extract::{Viewer, form_value};
use crate::http::routes::Routes;
use crate::http::web::to_value;
use crate::model::case::CaseState;
use crate::model::{CaseId, MeasureId};
use crate::model::{FieldError, Vocabulary};
use crate::service::ServiceError;
use crate::service::cases::{Decided, Decision, QueueSort, applicant_code};
use crate::service::files::Upload;

type FormData = CleanForm;

pub fn routes() -> Routes {
    let apply = Access::Needs(Permission::CaseApply);
    let review = Access::Needs(Permission::CaseReview);
    let read = Access::Either(Permission::CaseRead, Permission::CaseApply);
    let recover = Access::Either(Permission::CaseReview, Permission::Supervise);
    Routes::new()
        .post("/my/entities/{code}/apply", apply, cases_open)
        .get("/staff/cases", Access::Needs(Permission::CaseRead), cases_queue)
        .get("/staff/cases/export.xlsx", Access::Needs(Permission::CaseExport), cases_export)
        .get("/cases/{id}", read, cases_show)
        .get("/cases/{id}/receipt", read, cases_receipt)
        .post("/cases/{id}/save", apply, cases_save)
        .post("/cases/{id}/submit", apply, cases_submit)
        .post("/cases/{id}/withdraw", apply, cases_withdraw)
        .upload("/cases/{id}/files", apply, crate::http::MAX_ATTACHMENT_BODY, cases_attach)
        .get("/cases/{id}/files/{n}", read, cases_file)
        .post("/cases/{id}/files/{n}/delete", apply, cases_detach)
        .post("/cases/{id}/decide", review, cases_decide)
        .post("/cases/{id}/release", review, cases_release)
        .post("/cases/{id}/accept", apply, cases_accept)
        .post("/cases/{id}/decline", apply, cases_decline)
        .post("/cases/{id}/account", apply, cases_account)
        .post("/cases/{id}/recovery", recover, cases_recovery_open)
        .post("/cases/{id}/recovery/recovered", recover, cases_recovery_recorded)
        .post("/cases/{id}/recovery/hand-over", recover, cases_recovery_hand_over)
}

#[derive(Deserialize, Default)]
pub(super) struct Notice {
    #[serde(default)]
    pub(super) notice: String,
    /// After a decision: the next case of the reviewer's queue, offered on the page.
    #[serde(default)]
    next: Option<u64>,
}

/// `form.<key>` fields of a posted form.
/// The most form fields an upload carries along (a form has a few dozen).
const MAX_TYPED_FIELDS: usize = 500;

fn form_fields(form: &[(String, String)]) -> BTreeMap<String, String> {
    form.iter().filter_map(|(k, v)| k.strip_prefix("form.").map(|k| (k.to_string(), v.clone()))).collect()
}

async fn cases_open(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
    CleanForm(form): FormData,
) -> PageResult {
    let measure = form_value(&form, "measure_id")
        .parse::<u64>()
        .map(MeasureId)
        .map_err(|_| AppError::bad_request("缺少要申报的政策事项"))?;
    let code = applicant_code(&code)?;
    let view = state.call(&viewer, move |s, who| s.case_open(who, &code, measure)).await?;
    Ok(see_other(&format!("/cases/{}", view.case.id)))
}

async fn case_page(
    state: &AppState,
    viewer: &Viewer,
    id: CaseId,
    notice: &str,
    errors: Vec<FieldError>,
    values: Option<BTreeMap<String, String>>,
    next: Option<u64>,
) -> PageResult {
    let detail = state.call(viewer, move |s, who| s.case_detail(who, id)).await?;
    let (view, version, materials) = (detail.view, detail.version, detail.materials);
    let p = viewer.principal()?;
    let applicant = p.can(Permission::CaseApply);
    let reviewer = p.can(Permission::CaseReview);
    let state = view.case.state;
    let editable = applicant && matches!(state, CaseState::Draft | CaseState::Returned);
    let form_values = values.unwrap_or_else(|| view.case.form.clone());
    let staff = p.user.role.is_staff();
    let stage_role = view.case.current_stage().map(|s| s.role);
    viewer.render(
        "case.html",
        context! {
            v => to_value(&view),
            c => to_value(&view.case),
            spec => to_value(version.as_ref().map(|v| &v.spec)),
            materials => to_value(&materials),
            values => to_value(&form_values),
            errors => to_value(&errors),
            editable,
            can_decide => reviewer && state == CaseState::InReview && stage_role == Some(p.user.role),
            can_release => reviewer && state == CaseState::AwaitingBudget,
            can_withdraw => applicant && matches!(state, CaseState::Draft | CaseState::InReview | CaseState::Returned),
            can_accept => applicant && state == CaseState::Offered,
            can_correct => applicant
                && (state == CaseState::PaymentFailed || (state == CaseState::Payable && view.case.payout.payee.is_none())),
            can_recover => (reviewer || p.can(Permission::Supervise)) && matches!(state, CaseState::Paid | CaseState::Closed),
            can_settle_recovery => (reviewer || p.can(Permission::Supervise)) && state == CaseState::Recovering,
            staff,
            notice,
            next,
        },
    )
}

async fn cases_show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    Query(n): Query<Notice>,
) -> PageResult {
    case_page(&state, &viewer, id, &n.notice, Vec::new(), None, n.next).await
}

/// Shows the case again with the service's complaint, keeping what was typed.
async fn refused(
    state: &AppState,
    viewer: &Viewer,
    id: CaseId,
    e: ServiceError,
    values: Option<BTreeMap<String, String>>,
) -> PageResult {
    let errors = match e {
        ServiceError::Invalid(errors) => errors,
        ServiceError::Conflict(m) => vec![FieldError::new("case", m)],
        other => return Err(other.into()),
    };
    Ok(unprocessable(case_page(state, viewer, id, "", errors, values, None).await?))
}

/// Runs one action on a case for the viewer: on success back to the case with `notice`; a
/// refusal shows the case again with the reason (and what was typed, if any).
async fn act<F>(
    state: &AppState,
    viewer: &Viewer,
    id: CaseId,
    notice: &str,
    typed: Option<BTreeMap<String, String>>,
    f: F,
) -> PageResult
where
    F: FnOnce(&crate::service::Service, &crate::model::Who) -> crate::service::Result<()> + Send + 'static,
{
    match state.call(viewer, move |s, who| f(s, who)).await {
        Ok(()) => Ok(see_other(&format!("/cases/{id}?notice={notice}"))),
        Err(e) => refused(state, viewer, id, e, typed).await,
    }
}

async fn cases_save(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    CleanForm(form): FormData,
) -> PageResult {
    let values = form_fields(&form);
    let v = values.clone();
    act(&state, &viewer, id, "saved", Some(values), move |s, who| s.case_save(who, id, &v).map(drop)).await
}

async fn cases_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    CleanForm(form): FormData,
) -> PageResult {
    let values = form_fields(&form);
    let v = values.clone();
    // What was typed is kept even if the submission is refused.
    let result = state.call(&viewer, move |s, who| s.case_save_and_submit(who, id, &v)).await;
    match result {
        // What the enterprise keeps: the receipt, ready to print.
        Ok(_) => Ok(see_other(&format!("/cases/{id}/receipt"))),
        Err(e) => refused(&state, &viewer, id, e, Some(values)).await,
    }
}

/// The account fields as typed, kept for the page shown again after a refusal.
fn payee_typed(form: &[(String, String)]) -> BTreeMap<String, String> {
    ["holder", "bank", "account"].iter().map(|k| (format!("payee_{k}"), form_value(form, k).to_string())).collect()
}

fn payee_of(form: &[(String, String)]) -> (String, String, String) {
    (
        form_value(form, "holder").to_string(),
        form_value(form, "bank").to_string(),
        form_value(form, "account").to_string(),
    )
}

/// The enterprise accepts a 免申即享 offer with its bank account; a refusal (户名 not the
/// registered name, a bad number) shows the case again with what was typed.
async fn cases_accept(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    CleanForm(form): FormData,
) -> PageResult {
    let typed = payee_typed(&form);
    let (holder, bank, account) = payee_of(&form);
    act(&state, &viewer, id, "accepted", Some(typed), move |s, who| {
        s.case_accept(who, id.get(), &holder, &bank, &account).map(drop)
    })
    .await
}

async fn cases_account(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    CleanForm(form): FormData,
) -> PageResult {
    let typed = payee_typed(&form);
    let (holder, bank, account) = payee_of(&form);
    act(&state, &viewer, id, "account", Some(typed), move |s, who| {
        s.case_correct_account(who, id.get(), &holder, &bank, &account).map(drop)
    })
    .await
}

async fn cases_recovery_open(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    CleanForm(form): FormData,
) -> PageResult {
    let input = crate::service::cases::recovery::RecoveryInput {
        amount_yuan: form_value(&form, "amount_yuan").to_string(),
        reason: form_value(&form, "reason").to_string(),
        deadline: form_value(&form, "deadline").to_string(),
        bar_until: form_value(&form, "bar_until").to_string(),
    };
    let typed: BTreeMap<String, String> = form.iter().filter(|(k, _)| k != "csrf").cloned().collect();
    act(&state, &viewer, id, "recovery", Some(typed), move |s, who| s.recovery_open(who, id.get(), &input).map(drop))
        .await
}

async fn cases_recovery_recorded(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    CleanForm(form): FormData,
) -> PageResult {
    let (on, voucher) = (form_value(&form, "on").to_string(), form_value(&form, "voucher").to_string());
    act(&state, &viewer, id, "recovered", None, move |s, who| s.recovery_record(who, id.get(), &on, &voucher).map(drop))
        .await
}

async fn cases_recovery_hand_over(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    CleanForm(form): FormData,
) -> PageResult {
    let note = form_value(&form, "note").to_string();
    act(&state, &viewer, id, "handed_over", None, move |s, who| s.recovery_hand_over(who, id.get(), &note).map(drop))
        .await
}

async fn cases_decline(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    CleanForm(form): FormData,
) -> PageResult {
    let reason = form_value(&form, "reason").to_string();
    act(&state, &viewer, id, "declined", None, move |s, who| s.case_decline(who, id.get(), &reason).map(drop)).await
}

async fn cases_withdraw(State(state): State<AppState>, viewer: Viewer, Path(id): Path<CaseId>) -> PageResult {
    act(&state, &viewer, id, "withdrawn", None, move |s, who| s.case_withdraw(who, id).map(drop)).await
}

async fn cases_attach(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    mut multipart: Multipart,
) -> PageResult {
    let (mut csrf, mut slot, mut upload, mut fields) = (String::new(), String::new(), None, Vec::new());
    while let Some(field) = multipart.next_field().await.map_err(super::upload_error)? {
        match field.name().map(str::to_string) {
            Some(n) if n == "csrf" => csrf = field.text().await.unwrap_or_default(),
            Some(n) if n == "slot" => slot = field.text().await.unwrap_or_default(),
            Some(n) if n == "file" => {
                let name = field.file_name().unwrap_or("附件").to_string();
                let bytes = field.bytes().await.map_err(super::upload_error)?;
                upload = Some((name, bytes.to_vec()));
            }
            // The form as it was typed, sent along so that the upload keeps it.
            Some(n) if n.starts_with("form.") && fields.len() < MAX_TYPED_FIELDS => {
                let value = field.text().await.map_err(super::upload_error)?;
                fields.push((crate::model::text::strip(&n, false), crate::model::text::strip(&value, true)));
            }
            _ => {}
        }
    }
    viewer.check_upload_csrf(&csrf)?;
    let typed = (!fields.is_empty()).then(|| form_fields(&fields));
    let who = viewer.who();
    let Some((name, bytes)) = upload.filter(|(_, b)| !b.is_empty()) else {
        // No file chosen: what was typed is saved all the same, and the page says what is missing.
        if let Some(values) = typed.clone() {
            let saved = state.svc.blocking(move |s| s.case_save(&who, id, &values)).await;
            if let Err(e) = saved {
                return refused(&state, &viewer, id, e, typed).await;
            }
        }
        let missing = ServiceError::invalid("file", "请先选择要上传的文件，再点「上传」");
        return refused(&state, &viewer, id, missing, typed).await;
    };
    let values = typed.clone();
    let attached = state
        .svc
        .blocking(move |s| s.case_attach(&who, id, Upload { slot: &slot, name: &name, bytes: &bytes }, values.as_ref()))
        .await;
    match attached {
        Ok(_) => Ok(see_other(&format!("/cases/{id}?notice=attached"))),
        Err(e) => refused(&state, &viewer, id, e, typed).await,
    }
}

/// The receipt of a submitted case (回执), a page that prints cleanly.
async fn cases_receipt(State(state): State<AppState>, viewer: Viewer, Path(id): Path<CaseId>) -> PageResult {
    let r = state.call(&viewer, move |s, who| s.case_receipt(who, id)).await?;
    viewer.render("receipt.html", context! { r => to_value(&r) })
}

async fn cases_file(State(state): State<AppState>, viewer: Viewer, Path((id, n)): Path<(CaseId, usize)>) -> PageResult {
    let (file, bytes) = state.call(&viewer, move |s, who| s.case_file(who, id, n)).await?;
    Ok(super::attachment_response(&file, bytes))
}

async fn cases_detach(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, n)): Path<(CaseId, usize)>,
) -> PageResult {
    act(&state, &viewer, id, "detached", None, move |s, who| s.case_detach(who, id, n)).await
}

async fn cases_decide(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<CaseId>,
    CleanForm(form): FormData,
) -> PageResult {
    let reason = form_value(&form, "reason").to_string();
    let Some(decision) = Decision::parse(form_value(&form, "action"), reason) else {
        return Err(AppError::bad_request("请选择审核意见：通过、不予通过或退回补正"));
    };
    match state.call(&viewer, move |s, who| s.case_decide_next(who, id, decision)).await {
        Ok(Decided { next, .. }) => Ok(see_other(&match next {
            Some(n) => format!("/cases/{id}?notice=decided&next={}", n.case.id),
            None => format!("/cases/{id}?notice=decided"),
        })),
        Err(e) => refused(&state, &viewer, id, e, None).await,
    }
}

async fn cases_release(State(state): State<AppState>, viewer: Viewer, Path(id): Path<CaseId>) -> PageResult {
    act(&state, &viewer, id, "decided", None, move |s, who| s.case_release(who, id).map(drop)).await
}

async fn cases_queue(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<crate::http::params::CaseQueueParams>,
) -> PageResult {
    let filter = p.filter().map_err(AppError::bad_request)?;
    let page = state.call(&viewer, move |s, who| s.case_queue_filtered(who, &filter)).await?;
    let states: Vec<_> = CaseState::ALL.iter().filter(|s| s.is_open()).map(|s| (s.key(), s.label())).collect();
    // Every filter and the order, not the page: for the links to the pages before and after,
    // and for the same queue as a spreadsheet.
    let export = form_urlencoded_pairs(&[
        ("q", &p.q),
        ("state", &p.state),
        ("overdue", &p.overdue),
        ("measure", &p.measure),
        ("sort", &p.sort),
        ("order", &p.order),
    ]);
    let link = |offset: usize| format!("/staff/cases?{export}&offset={offset}");
    let sorts: Vec<_> =
        [QueueSort::Due, QueueSort::Submitted, QueueSort::Entity, QueueSort::Amount].iter().map(|s| s.key()).collect();
    let next = (page.offset + page.cases.len() < page.total).then(|| link(page.offset + page.limit));
    let previous = (page.offset > 0).then(|| link(page.offset.saturating_sub(page.limit)));
    viewer.render(
        "cases.html",
        context! {
            cases => to_value(&page.cases), total => page.total, first => page.offset + 1,
            last => page.offset + page.cases.len(), next, previous, f => to_value(&p), states, sorts, export,
            can_export => viewer.principal()?.can(Permission::CaseExport),
        },
    )
}

/// The queue as the page filters and orders it, every page of it, as XLSX (audited).
async fn cases_export(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<crate::http::params::CaseQueueParams>,
) -> PageResult {
    let filter = p.filter().map_err(AppError::bad_request)?;
    let (bytes, today) =
        state.call(&viewer, move |s, who| Ok((s.export_queue_logged(who, &filter)?, s.today()))).await?;
    Ok(xlsx_download(&format!("huiqi-cases-{today}.xlsx"), bytes))
}

/// An XLSX file as a download named `name` (ASCII).
pub(crate) fn xlsx_download(name: &str, bytes: Vec<u8>) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let disposition = format!("attachment; filename=\"{name}\"");
    let mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    ([(header::CONTENT_TYPE, mime.to_string()), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response()
}

/// `k=v&k=v` of the non-empty pairs, the values percent-encoded.
fn form_urlencoded_pairs(pairs: &[(&str, &String)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", super::url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}
