//! Supervisors' overdue board and notices, department notices (工作提醒), specialists' own
//! entities, and the assignment of entities to specialists.

use axum::extract::{Path, Query, State};
use minijinja::context;
use serde::Deserialize;

use super::{PageResult, see_other};
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::CleanForm;
use crate::http::extract::{Viewer, form_value};
use crate::http::routes::Routes;
use crate::http::web::to_value;
use crate::service::supervision::assignment_code;

type FormData = CleanForm;

pub fn routes() -> Routes {
    let supervise = Access::Needs(Permission::Supervise);
    let assign = Access::Needs(Permission::AssignSpecialists);
    Routes::new()
        .get("/staff/supervision", supervise, supervision_board)
        .get("/staff/supervision/export.xlsx", Access::Needs(Permission::SupervisionExport), supervision_export)
        .post("/staff/supervision/{id}/notice", supervise, supervision_notice)
        .post("/staff/supervision/{id}/resolve", supervise, supervision_resolve)
        .get("/staff/notices", Access::Needs(Permission::StaffConsole), notices_index)
        .post("/staff/notices/{id}/read", Access::Needs(Permission::StaffConsole), notices_read)
        .get("/staff/assigned", Access::Needs(Permission::Assigned), assigned_index)
        .get("/admin/assignments", assign, assignments_index)
        .post("/admin/assignments", assign, assignments_add)
        .post("/admin/assignments/{specialist}/{code}/remove", assign, assignments_remove)
}

#[derive(Deserialize, Default)]
struct BoardParams {
    #[serde(default)]
    all: bool,
    #[serde(default)]
    error: String,
}

async fn supervision_board(State(state): State<AppState>, viewer: Viewer, Query(p): Query<BoardParams>) -> PageResult {
    let (rows, money) = state.call(&viewer, move |s, who| s.supervision_page(who, p.all)).await?;
    let can_export = viewer.principal()?.can(Permission::SupervisionExport);
    viewer.render(
        "supervision.html",
        context! { rows => to_value(&rows), money => to_value(&money), all => p.all, error => p.error, can_export },
    )
}

/// The board (`?all=true`: with resolved items) as XLSX (audited).
async fn supervision_export(State(state): State<AppState>, viewer: Viewer, Query(p): Query<BoardParams>) -> PageResult {
    let (bytes, today) = state.call(&viewer, move |s, who| Ok((s.export_board_logged(who, p.all)?, s.today()))).await?;
    Ok(super::cases::xlsx_download(&format!("huiqi-supervision-{today}.xlsx"), bytes))
}

async fn supervision_notice(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    CleanForm(form): FormData,
) -> PageResult {
    let text = form_value(&form, "text").to_string();
    let days: u32 = form_value(&form, "days").trim().parse().unwrap_or(0);
    back_to_board(state.call(&viewer, move |s, who| s.supervision_notice(who, id, &text, days)).await)
}

async fn supervision_resolve(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    CleanForm(form): FormData,
) -> PageResult {
    let note = form_value(&form, "note").to_string();
    back_to_board(state.call(&viewer, move |s, who| s.supervision_resolve(who, id, &note)).await)
}

/// Back to the board, with the reason when the action was refused.
fn back_to_board<T>(result: crate::service::Result<T>) -> PageResult {
    Ok(match result {
        Ok(_) => see_other("/staff/supervision"),
        Err(e) => see_other(&format!("/staff/supervision?error={}", super::url_encode(&AppError::from(e).message))),
    })
}

async fn notices_index(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let (notices, unread) = state.call(&viewer, move |s, who| s.notices(who, 200)).await?;
    viewer.render("notices.html", context! { notices => to_value(&notices), unread })
}

async fn notices_read(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> PageResult {
    let n = state.call(&viewer, move |s, who| s.notice_read(who, id)).await?;
    Ok(see_other(&super::safe_next(n.link.as_deref().unwrap_or("/staff/notices"))))
}

async fn assigned_index(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let entities = state.call(&viewer, move |s, who| s.assigned(who)).await?;
    viewer.render("assigned.html", context! { entities => to_value(&entities) })
}

async fn assignments_page(state: &AppState, viewer: &Viewer, error: Option<String>) -> PageResult {
    let rows = state.call(viewer, move |s, who| s.assignment_rows(who)).await?;
    viewer.render("assignments.html", context! { rows => to_value(&rows), error })
}

async fn assignments_index(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    assignments_page(&state, &viewer, None).await
}

async fn assignments_add(State(state): State<AppState>, viewer: Viewer, CleanForm(form): FormData) -> PageResult {
    let (specialist, code) =
        (form_value(&form, "specialist").to_string(), form_value(&form, "credit_code").to_string());
    match state.call(&viewer, move |s, who| s.assignment_set(who, &specialist, &assignment_code(&code)?, true)).await {
        Ok(()) => Ok(see_other("/admin/assignments")),
        Err(e) => Ok(super::unprocessable(assignments_page(&state, &viewer, Some(AppError::from(e).message)).await?)),
    }
}

async fn assignments_remove(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((specialist, code)): Path<(String, String)>,
) -> PageResult {
    let code = assignment_code(&code)?;
    state.call(&viewer, move |s, who| s.assignment_set(who, &specialist, &code, false)).await?;
    Ok(see_other("/admin/assignments"))
}
