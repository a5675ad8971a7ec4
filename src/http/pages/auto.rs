//! 免申即享 list pages: propose a round from the measure's page, review a list (remove entries
//! with a reason, see 待核实), confirm it as a second person.

use axum::extract::{Path, Query, State};
use minijinja::context;
use serde::Deserialize;

use super::{PageResult, see_other, unprocessable};
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::extract::{CleanForm, Viewer, form_value};
use crate::http::routes::Routes;
use crate::http::web::to_value;
use crate::model::MeasureId;
use crate::service::ServiceError;

pub fn routes() -> Routes {
    let review = Access::Needs(Permission::CaseReview);
    Routes::new()
        .get("/auto-lists/{id}", Access::Needs(Permission::CaseRead), auto_lists_show)
        .post("/measures/{id}/auto-lists", review, auto_lists_propose)
        .post("/auto-lists/{id}/remove", review, auto_lists_remove)
        .post("/auto-lists/{id}/confirm", review, auto_lists_confirm)
}

#[derive(Deserialize, Default)]
struct Params {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    notice: String,
}

async fn list_page(state: &AppState, viewer: &Viewer, id: u64, after: u64, notice: &str, error: &str) -> PageResult {
    let view = state.call(viewer, move |s, who| s.auto_list(who, id, after)).await?;
    let next = if view.entries.len() >= crate::service::cases::auto::LIST_PAGE {
        view.entries.last().map(|e| e.case.id)
    } else {
        None
    };
    viewer.render("auto_list.html", context! { l => to_value(&view), next, notice, error })
}

async fn auto_lists_show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    Query(p): Query<Params>,
) -> PageResult {
    list_page(&state, &viewer, id, p.after, &p.notice, "").await
}

/// A refusal shows the list again with the reason; anything else is an error page.
async fn refused(state: &AppState, viewer: &Viewer, id: u64, e: ServiceError) -> PageResult {
    let message = match e {
        ServiceError::Conflict(m) | ServiceError::Forbidden(m) => m,
        ServiceError::Invalid(fields) => fields.into_iter().map(|f| f.message).collect::<Vec<_>>().join("；"),
        other => return Err(other.into()),
    };
    Ok(unprocessable(list_page(state, viewer, id, 0, "", &message).await?))
}

async fn auto_lists_propose(State(state): State<AppState>, viewer: Viewer, Path(id): Path<MeasureId>) -> PageResult {
    let view = state.call(&viewer, move |s, who| s.auto_list_propose(who, id)).await?;
    Ok(see_other(&format!("/auto-lists/{}?notice=proposed", view.list.id)))
}

async fn auto_lists_remove(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    CleanForm(form): CleanForm,
) -> PageResult {
    let case: u64 = form_value(&form, "case_id").parse().unwrap_or(0);
    let reason = form_value(&form, "reason").to_string();
    match state.call(&viewer, move |s, who| s.auto_list_remove(who, id, case, &reason)).await {
        Ok(_) => Ok(see_other(&format!("/auto-lists/{id}?notice=removed"))),
        Err(e) => refused(&state, &viewer, id, e).await,
    }
}

async fn auto_lists_confirm(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> PageResult {
    match state.call(&viewer, move |s, who| s.auto_list_confirm(who, id)).await {
        Ok(_) => Ok(see_other(&format!("/auto-lists/{id}?notice=confirmed"))),
        Err(e) => refused(&state, &viewer, id, e).await,
    }
}
