//! Signing in and out, and the staff console's front page.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::{Value, context};
use serde::Deserialize;

use super::{PageResult, StaffResult, safe_next};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{SESSION_COOKIE, Viewer, form_value};
use crate::http::web::to_value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login_submit))
        .route("/logout", post(logout))
        .route("/staff", get(staff_home))
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    #[serde(default)]
    next: String,
}

async fn login_form(viewer: Viewer, Query(q): Query<LoginQuery>) -> PageResult {
    viewer.render("login.html", context! { next => safe_next(&q.next), username => "", error => Value::UNDEFINED })
}

async fn login_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: axum::http::HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    let username = form_value(&form, "username").to_string();
    let password = form_value(&form, "password").to_string();
    let next = safe_next(form_value(&form, "next"));
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let name = username.clone();
    match state.auth_blocking(move |a| a.login(&name, &password, &agent)).await {
        Ok((token, _, _)) => {
            let secure = if headers.get("x-forwarded-proto").is_some_and(|v| v == "https") { "; Secure" } else { "" };
            let cookie = format!(
                "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
                crate::auth::SESSION_SECONDS
            );
            Ok(([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response())
        }
        Err(e) => {
            let e = AppError::from(e);
            let mut page = viewer.render("login.html", context! { next, username, error => e.message })?;
            *page.status_mut() = e.status;
            Ok(page)
        }
    }
}

async fn logout(State(state): State<AppState>, viewer: Viewer, Form(form): Form<Vec<(String, String)>>) -> PageResult {
    viewer.check_csrf(&form)?;
    if let Some(token) = viewer.session_token.clone() {
        state.auth_blocking(move |a| a.logout(&token)).await?;
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}

async fn staff_home(State(state): State<AppState>, viewer: Viewer) -> StaffResult {
    viewer.staff_page()?;
    let (stats, imports, audit) =
        state.svc.blocking(|s| Ok((s.stats()?, s.import_list(5)?, s.audit_tail(15)?))).await?;
    let audit: Vec<_> = audit
        .iter()
        .map(|a| {
            serde_json::json!({
                "at": a.at.display_cst(), "actor": a.actor, "action": a.action, "target": a.target, "detail": a.detail
            })
        })
        .collect();
    Ok(viewer.render(
        "staff.html",
        context! {
            stats => to_value(&stats),
            imports => to_value(&imports),
            audit => to_value(&audit),
        },
    )?)
}
