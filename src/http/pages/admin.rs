//! Administration: departments, accounts and roles, API tokens, enterprise bindings and
//! invitation codes, the holiday calendar, the audit trail, and the permission table.

use axum::extract::{Multipart, Path, Query, State};
use axum::http::header;
use minijinja::{Value, context};
use serde::Deserialize;

use super::{PageResult, see_other, unprocessable};
use crate::auth::{Access, NewUser, Permission, UserUpdate, bad_credit_code, no_binding_request, permissions};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::CleanForm;
use crate::http::extract::{Viewer, form_value, form_values};
use crate::http::routes::Routes;
use crate::http::web::to_value;
use crate::model::{
    AgreementKind, BindingStatus, CreditCode, RegionCode, Role, Timestamp, TokenScope, User, Vocabulary,
};
use crate::service::entities::entity_code;

type FormData = CleanForm;

pub fn routes() -> Routes {
    let accounts = Access::Needs(Permission::AccountsManage);
    let tokens = Access::Needs(Permission::TokensManage);
    let bindings = Access::Needs(Permission::BindingsManage);
    Routes::new()
        .get("/admin", Access::Needs(Permission::StaffConsole), admin_index)
        .get("/admin/permissions", Access::Needs(Permission::StaffConsole), permissions_index)
        .get("/admin/departments", accounts, departments_index)
        .post("/admin/departments", accounts, departments_save)
        .get("/admin/agreements", accounts, agreements_index)
        .post("/admin/agreements/{kind}", accounts, agreements_save)
        .get("/admin/users", accounts, users_index)
        .post("/admin/users", accounts, users_create)
        .get("/admin/users/new", accounts, users_new)
        .get("/admin/users/{id}", accounts, users_show)
        .post("/admin/users/{id}", accounts, users_update)
        .post("/admin/users/{id}/reset-password", accounts, users_reset)
        .post("/admin/users/{id}/unlock", accounts, users_unlock)
        .post("/admin/users/{id}/sessions/end", accounts, users_sessions_end)
        .get("/admin/tokens", tokens, tokens_index)
        .post("/admin/tokens", tokens, tokens_create)
        .post("/admin/tokens/{id}/revoke", tokens, tokens_revoke)
        .get("/admin/bindings", bindings, bindings_index)
        .post("/admin/bindings/{user}/{code}", bindings, bindings_decide)
        .get("/admin/invitations", bindings, invitations_index)
        .post("/admin/invitations", bindings, invitations_create)
        .post("/admin/invitations/{id}/revoke", bindings, invitations_revoke)
        .get("/admin/calendar", Access::Needs(Permission::CalendarManage), calendar_show)
        .upload(
            "/admin/calendar",
            Access::Needs(Permission::CalendarManage),
            crate::http::MAX_CALENDAR_BODY,
            calendar_import,
        )
}

fn roles() -> Vec<(&'static str, &'static str)> {
    Role::ALL.iter().map(|r| (r.key(), r.label())).collect()
}

fn time(t: Option<Timestamp>) -> String {
    t.map(Timestamp::display_cst).unwrap_or_default()
}

async fn admin_index(viewer: Viewer) -> PageResult {
    viewer.render("admin.html", context! {})
}

async fn permissions_index(viewer: Viewer) -> PageResult {
    let matrix: Vec<_> = permissions::matrix()
        .into_iter()
        .map(|(role, perms)| {
            serde_json::json!({ "role": role.label(), "perms": perms.iter().map(|p| p.key()).collect::<Vec<_>>() })
        })
        .collect();
    let perms: Vec<_> = Permission::ALL.iter().map(|p| (p.key(), p.label(), p.scope().key())).collect();
    let routes: Vec<_> =
        crate::http::route_specs().into_iter().map(|r| (r.method.to_string(), r.path, r.access.describe())).collect();
    viewer.render("permissions.html", context! { matrix => to_value(&matrix), perms, routes })
}

// ---- user agreement and privacy notice ----

async fn agreements_page(state: &AppState, viewer: &Viewer, error: Option<String>, saved: &str) -> PageResult {
    let list = state
        .auth_blocking(|a| AgreementKind::ALL.iter().map(|k| a.agreement(*k)).collect::<Result<Vec<_>, _>>())
        .await?;
    let rows: Vec<_> = list
        .iter()
        .map(|a| {
            serde_json::json!({
                "kind": a.kind.key(), "label": a.kind.label(), "version": a.version, "text": a.text,
                "saved_at": a.saved_at, "saved_by": a.saved_by,
            })
        })
        .collect();
    viewer.render("agreements.html", context! { agreements => to_value(&rows), error, saved })
}

#[derive(Deserialize, Default)]
struct SavedQuery {
    #[serde(default)]
    saved: String,
}

async fn agreements_index(State(state): State<AppState>, viewer: Viewer, Query(q): Query<SavedQuery>) -> PageResult {
    agreements_page(&state, &viewer, None, &q.saved).await
}

async fn agreements_save(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(kind): Path<String>,
    CleanForm(form): FormData,
) -> PageResult {
    let Some(kind) = AgreementKind::parse(&kind) else {
        return Err(AppError::new(axum::http::StatusCode::NOT_FOUND, "只有用户协议（terms）和隐私政策（privacy）"));
    };
    let (who, text) = (viewer.who(), form_value(&form, "text").to_string());
    match state.auth_blocking(move |a| a.agreement_save(&who, kind, &text)).await {
        Ok(_) => Ok(see_other(&format!("/admin/agreements?saved={}", kind.key()))),
        Err(e) => Ok(unprocessable(agreements_page(&state, &viewer, Some(AppError::from(e).message), "").await?)),
    }
}

// ---- departments ----

async fn departments_page(state: &AppState, viewer: &Viewer, error: Option<String>, f: Value) -> PageResult {
    let list = state.auth_blocking(|a| a.departments()).await?;
    let rows: Vec<_> = list
        .iter()
        .map(|d| {
            let region = d.region.as_ref().map(|r| crate::model::reference::region_full_name(r.as_str()));
            serde_json::json!({ "name": d.name, "region": d.region, "region_name": region })
        })
        .collect();
    viewer.render("departments.html", context! { departments => to_value(&rows), error, f })
}

async fn departments_index(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    departments_page(&state, &viewer, None, context! {}).await
}

async fn departments_save(State(state): State<AppState>, viewer: Viewer, CleanForm(form): FormData) -> PageResult {
    let who = viewer.who();
    let (name, region) = (form_value(&form, "name").to_string(), form_value(&form, "region").to_string());
    match state.auth_blocking(move |a| a.department_put(&who, &name, &region)).await {
        Ok(_) => Ok(see_other("/admin/departments")),
        Err(e) => {
            let e = AppError::from(e);
            let f = to_value(super::forms::submitted_values(&form));
            Ok(unprocessable(departments_page(&state, &viewer, Some(e.message), f).await?))
        }
    }
}

// ---- users ----

/// An account as the admin pages list it; its phone number as the account functions show it.
fn user_row(u: &User, now: Timestamp) -> serde_json::Value {
    let phone = u.phone.as_deref();
    let locked = u.hard_locked || u.locked_until.is_some_and(|t| t > now);
    let regions: Vec<&str> = u.region_scope.iter().map(RegionCode::as_str).collect();
    serde_json::json!({
        "id": u.id, "username": u.username, "display_name": u.display_name,
        "role": u.role.key(), "role_label": u.role.label(), "department": u.department,
        "regions": regions.join(" "), "phone": phone, "disabled": u.disabled,
        "hard_locked": u.hard_locked, "locked": locked, "failed": u.failed_logins,
        "must_change": u.must_change_password, "last_login": time(u.last_login),
        "created": u.created_at.display_cst(),
        "consent": u.consent.as_ref().map(|c| serde_json::json!({
            "terms": c.terms_version, "privacy": c.privacy_version, "at": c.at.display_cst(),
        })),
    })
}

#[derive(Deserialize, Default)]
struct UserFilter {
    #[serde(default)]
    role: String,
    #[serde(default)]
    q: String,
}

async fn users_index(State(state): State<AppState>, viewer: Viewer, Query(f): Query<UserFilter>) -> PageResult {
    let who = viewer.who();
    let list = state.auth_blocking(move |a| a.users_for(&who)).await?;
    let now = state.auth.now();
    let q = f.q.trim().to_lowercase();
    let rows: Vec<_> = list
        .iter()
        .filter(|u| f.role.is_empty() || u.role.key() == f.role)
        .filter(|u| q.is_empty() || u.username.contains(&q) || u.display_name.to_lowercase().contains(&q))
        .map(|u| user_row(u, now))
        .collect();
    viewer.render("users.html", context! { users => to_value(&rows), roles => roles(), role => f.role, q => f.q })
}

async fn user_form(state: &AppState, viewer: &Viewer, id: Option<u64>, f: Value, error: Option<String>) -> PageResult {
    let departments = state.auth_blocking(|a| a.departments()).await?;
    let names: Vec<String> = departments.into_iter().map(|d| d.name).collect();
    let (sessions, bindings) = match id {
        Some(id) => {
            let s = state.auth_blocking(move |a| a.sessions_of(id, None)).await?;
            let b = state.auth_blocking(move |a| a.bindings_of_user(id)).await?;
            (s.len(), to_value(&b))
        }
        None => (0, Value::from(Vec::<Value>::new())),
    };
    viewer
        .render("user_form.html", context! { id, f, error, roles => roles(), departments => names, sessions, bindings })
}

async fn users_new(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    user_form(&state, &viewer, None, context! { role => "publisher" }, None).await
}

fn regions_of(form: &[(String, String)]) -> Vec<String> {
    form_value(form, "regions")
        .split([' ', ',', '，', '、', '\n'])
        .filter(|s| !s.trim().is_empty())
        .map(String::from)
        .collect()
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

async fn users_create(State(state): State<AppState>, viewer: Viewer, CleanForm(form): FormData) -> PageResult {
    let role = Role::parse(form_value(&form, "role"));
    let f = to_value(super::forms::submitted_values(&form));
    let Some(role) = role else {
        return Ok(unprocessable(user_form(&state, &viewer, None, f, Some("请选择角色".into())).await?));
    };
    let new = NewUser {
        username: form_value(&form, "username").to_string(),
        display_name: form_value(&form, "display_name").to_string(),
        role,
        department: optional(form_value(&form, "department")),
        region_scope: regions_of(&form),
        phone: optional(form_value(&form, "phone")),
    };
    let who = viewer.who();
    match state.auth_hashing(move |a| a.user_create(&who, new, None)).await {
        Ok((user, Some(one_time))) => secret_page(&viewer, &user, &one_time, "user_created"),
        Ok((user, None)) => Ok(see_other(&format!("/admin/users/{}", user.id))),
        Err(e) => {
            let e = AppError::from(e);
            Ok(unprocessable(user_form(&state, &viewer, None, f, Some(e.message)).await?))
        }
    }
}

/// Shows a one-time password once, with the account it belongs to.
fn secret_page(viewer: &Viewer, user: &User, secret: &str, what: &str) -> PageResult {
    let mut page = viewer.render(
        "secret_once.html",
        context! { what, secret, username => user.username.clone(), display_name => user.display_name.clone(), id => user.id },
    )?;
    page.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(page)
}

async fn users_show(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> PageResult {
    let who = viewer.who();
    let user = state.auth_blocking(move |a| a.user_for(&who, id)).await?;
    let row = user_row(&user, state.auth.now());
    user_form(&state, &viewer, Some(id), to_value(&row), None).await
}

async fn users_update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    CleanForm(form): FormData,
) -> PageResult {
    let f = to_value(super::forms::submitted_values(&form));
    let Some(role) = Role::parse(form_value(&form, "role")) else {
        return Ok(unprocessable(user_form(&state, &viewer, Some(id), f, Some("请选择角色".into())).await?));
    };
    // A masked phone shown in the form comes back unchanged: keep the stored one.
    let typed = form_value(&form, "phone").to_string();
    let update_phone = !typed.contains('*');
    let update = UserUpdate {
        display_name: form_value(&form, "display_name").to_string(),
        role,
        department: optional(form_value(&form, "department")),
        region_scope: regions_of(&form),
        phone: optional(&typed),
        disabled: form_value(&form, "disabled") == "on",
    };
    let who = viewer.who();
    let result = state
        .auth_blocking(move |a| {
            let mut update = update;
            if !update_phone {
                update.phone = a.user(id)?.phone;
            }
            a.user_update(&who, id, update)
        })
        .await;
    match result {
        Ok(_) => Ok(see_other(&format!("/admin/users/{id}"))),
        Err(e) => {
            let e = AppError::from(e);
            Ok(unprocessable(user_form(&state, &viewer, Some(id), f, Some(e.message)).await?))
        }
    }
}

async fn users_reset(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> PageResult {
    let who = viewer.who();
    let (user, one_time) = state.auth_hashing(move |a| a.user_reset_password(&who, id)).await?;
    secret_page(&viewer, &user, &one_time, "password_reset")
}

async fn users_unlock(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> PageResult {
    let who = viewer.who();
    state.auth_blocking(move |a| a.user_unlock(&who, id)).await?;
    Ok(see_other(&format!("/admin/users/{id}")))
}

async fn users_sessions_end(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> PageResult {
    let who = viewer.who();
    state.auth_blocking(move |a| a.sessions_end_all(&who, id)).await?;
    Ok(see_other(&format!("/admin/users/{id}")))
}

// ---- API tokens ----

fn scopes() -> Vec<(&'static str, &'static str)> {
    TokenScope::ALL.iter().map(|s| (s.key(), s.label())).collect()
}

async fn tokens_page(state: &AppState, viewer: &Viewer, error: Option<String>, f: Value) -> PageResult {
    let list = state.auth_blocking(|a| a.tokens()).await?;
    let rows: Vec<_> = list
        .iter()
        .map(|t| {
            serde_json::json!({
                "id": t.id, "name": t.name, "username": t.username, "scopes": t.scopes, "prefix": t.prefix,
                "created": t.created_at.display_cst(), "created_by": t.created_by, "expires": time(t.expires_at),
                "revoked": time(t.revoked_at), "last_used": time(t.last_used_at), "active": t.active,
            })
        })
        .collect();
    viewer.render("tokens.html", context! { tokens => to_value(&rows), scopes => scopes(), error, f })
}

async fn tokens_index(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    tokens_page(&state, &viewer, None, context! {}).await
}

async fn tokens_create(State(state): State<AppState>, viewer: Viewer, CleanForm(form): FormData) -> PageResult {
    let chosen: Vec<TokenScope> = form_values(&form, "scope").into_iter().filter_map(TokenScope::parse).collect();
    let days = form_value(&form, "days").trim().parse::<u32>().ok().filter(|d| *d > 0);
    let (username, name) = (form_value(&form, "username").to_string(), form_value(&form, "name").to_string());
    let who = viewer.who();
    match state.auth_blocking(move |a| a.token_create(&who, &username, &name, &chosen, days)).await {
        Ok((info, token)) => {
            let mut page = viewer.render("token_created.html", context! { token, info => to_value(&info) })?;
            page.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
            Ok(page)
        }
        Err(e) => {
            let e = AppError::from(e);
            let f = to_value(super::forms::submitted_values(&form));
            Ok(unprocessable(tokens_page(&state, &viewer, Some(e.message), f).await?))
        }
    }
}

async fn tokens_revoke(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> PageResult {
    let who = viewer.who();
    state.auth_blocking(move |a| a.token_revoke(&who, id)).await?;
    Ok(see_other("/admin/tokens"))
}

// ---- bindings and invitations ----

#[derive(Deserialize, Default)]
struct BindingFilter {
    #[serde(default)]
    status: String,
    #[serde(default)]
    entity: String,
}

async fn bindings_index(State(state): State<AppState>, viewer: Viewer, Query(f): Query<BindingFilter>) -> PageResult {
    let status = if f.status.is_empty() { Some(BindingStatus::Pending) } else { BindingStatus::parse(&f.status) };
    let entity = Some(CreditCode::normalize(&f.entity)).filter(|e| !e.is_empty());
    let who = viewer.who();
    let rows = state.auth_blocking(move |a| a.binding_rows(&who, status, entity.as_deref())).await?;
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            let b = &r.binding;
            serde_json::json!({
                "user_id": b.user_id, "username": r.username, "display_name": r.display_name, "phone": r.phone,
                "code": b.credit_code, "typed_name": b.entity_name, "library_name": r.library_name,
                "names_match": r.library_name.as_deref() == Some(b.entity_name.as_str()),
                "capacity": b.capacity.label(), "status": b.status.key(), "status_label": b.status.label(),
                "requested": b.requested_at.display_cst(), "decided": time(b.decided_at),
                "decided_by": b.decided_by, "method": b.method.map(|m| m.label()), "note": b.note,
            })
        })
        .collect();
    let statuses: Vec<_> = BindingStatus::ALL.iter().map(|s| (s.key(), s.label())).collect();
    let current = status.map_or("all", |s| s.key());
    viewer
        .render("bindings.html", context! { rows => to_value(&rows), statuses, status => current, entity => f.entity })
}

async fn bindings_decide(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((user, code)): Path<(u64, String)>,
    CleanForm(form): FormData,
) -> PageResult {
    let Some(status) = BindingStatus::parse(form_value(&form, "status")) else {
        return Err(AppError::bad_request("请选择核验结果"));
    };
    let note = form_value(&form, "note").to_string();
    let who = viewer.who();
    let code = CreditCode::parse(&code).map_err(|_| no_binding_request(user, &code))?;
    state.auth_blocking(move |a| a.binding_decide(&who, user, &code, status, &note)).await?;
    Ok(see_other("/admin/bindings"))
}

async fn invitations_page(state: &AppState, viewer: &Viewer, entity: &str, error: Option<String>) -> PageResult {
    let code = Some(CreditCode::normalize(entity)).filter(|e| !e.is_empty());
    let list = state.auth_blocking(move |a| a.invitations(code.as_deref(), 200)).await?;
    let now = state.auth.now();
    let rows: Vec<_> = list
        .iter()
        .map(|i| {
            serde_json::json!({
                "id": i.id, "code": i.credit_code, "hint": i.hint, "state": i.state(now),
                "created": i.created_at.display_cst(), "created_by": i.created_by,
                "expires": i.expires_at.display_cst(), "used_at": time(i.used_at),
            })
        })
        .collect();
    viewer.render(
        "invitations.html",
        context! { rows => to_value(&rows), entity, error, days => crate::auth::INVITATION_DAYS_DEFAULT },
    )
}

async fn invitations_index(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(f): Query<BindingFilter>,
) -> PageResult {
    invitations_page(&state, &viewer, &f.entity, None).await
}

async fn invitations_create(State(state): State<AppState>, viewer: Viewer, CleanForm(form): FormData) -> PageResult {
    let code = form_value(&form, "credit_code").to_string();
    let days = form_value(&form, "days").trim().parse().unwrap_or(crate::auth::INVITATION_DAYS_DEFAULT);
    let who = viewer.who();
    let credit_code = CreditCode::parse(&code).map_err(bad_credit_code);
    match state.auth_blocking(move |a| a.invitation_create(&who, &credit_code?, days)).await {
        Ok((invitation, plain)) => {
            let c = invitation.credit_code.clone();
            let entity = state.call(&viewer, move |s, who| s.entity_get(who, &entity_code(&c)?)).await?;
            let mut page = viewer.render(
                "invitation_letter.html",
                context! {
                    code => plain,
                    credit_code => invitation.credit_code,
                    name => entity.display_name(),
                    expires => invitation.expires_at.date_cst().to_string(),
                    issued => invitation.created_at.date_cst().to_string(),
                    id => invitation.id,
                },
            )?;
            page.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
            Ok(page)
        }
        Err(e) => {
            let e = AppError::from(e);
            Ok(unprocessable(invitations_page(&state, &viewer, &code, Some(e.message)).await?))
        }
    }
}

async fn invitations_revoke(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> PageResult {
    let who = viewer.who();
    state.auth_blocking(move |a| a.invitation_revoke(&who, id)).await?;
    Ok(see_other("/admin/invitations"))
}

// ---- calendar ----

async fn calendar_page(state: &AppState, viewer: &Viewer, error: Option<String>, notice: Option<String>) -> PageResult {
    let years = state.svc.blocking(|s| s.calendar_years()).await?;
    viewer.render("calendar.html", context! { years => to_value(&years), error, notice })
}

async fn calendar_show(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    calendar_page(&state, &viewer, None, None).await
}

async fn calendar_import(State(state): State<AppState>, viewer: Viewer, mut multipart: Multipart) -> PageResult {
    let (mut year, mut text, mut csrf) = (String::new(), String::new(), String::new());
    while let Some(field) = multipart.next_field().await.map_err(super::upload_error)? {
        let name = field.name().unwrap_or("").to_string();
        let value = field.bytes().await.map_err(super::upload_error)?;
        let value = String::from_utf8_lossy(&value).into_owned();
        match name.as_str() {
            "csrf" => csrf = value,
            "year" => year = value,
            "file" | "text" if !value.trim().is_empty() => text = value,
            _ => {}
        }
    }
    viewer.check_upload_csrf(&csrf)?;
    let Ok(y) = year.trim().parse::<i32>() else {
        return Ok(unprocessable(calendar_page(&state, &viewer, Some("请填写年份".into()), None).await?));
    };
    match state.call(&viewer, move |s, who| s.calendar_import_year(who, y, &text)).await {
        Ok(n) => calendar_page(&state, &viewer, None, Some(format!("已导入 {y} 年日历：{n} 天"))).await,
        Err(e) => {
            let e = AppError::from(e);
            Ok(unprocessable(calendar_page(&state, &viewer, Some(e.message), None).await?))
        }
    }
}
