//! Administration over JSON: departments, accounts, API tokens, bindings, invitation codes, the
//! holiday calendar, the audit trail and the permission table.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::{ApiResult, parse_json};
use crate::auth::{
    Access, NewUser, Permission, UserUpdate, bad_credit_code, no_binding_request, permissions, shown_to,
};
use crate::http::AppState;
use crate::http::error::{ApiError, AppError};
use crate::http::extract::Viewer;
use crate::http::pages::AuditParams;
use crate::http::routes::Routes;
use crate::model::{BindingStatus, CreditCode, Role, TokenScope, User, Vocabulary};

pub fn routes() -> Routes {
    let accounts = Access::Needs(Permission::AccountsManage);
    let tokens = Access::Needs(Permission::TokensManage);
    let bindings = Access::Needs(Permission::BindingsManage);
    let audit = Access::Needs(Permission::AuditRead);
    Routes::new()
        .get("/api/v1/departments", Access::Public, departments_index)
        .put("/api/v1/departments/{name}", accounts, departments_put)
        .get("/api/v1/users", accounts, users_index)
        .post("/api/v1/users", accounts, users_create)
        .get("/api/v1/users/{id}", accounts, users_show)
        .put("/api/v1/users/{id}", accounts, users_update)
        .post("/api/v1/users/{id}/reset-password", accounts, users_reset)
        .post("/api/v1/users/{id}/unlock", accounts, users_unlock)
        .get("/api/v1/tokens", tokens, tokens_index)
        .post("/api/v1/tokens", tokens, tokens_create)
        .delete("/api/v1/tokens/{id}", tokens, tokens_revoke)
        .get("/api/v1/bindings", bindings, bindings_index)
        .post("/api/v1/bindings/{user}/{code}", bindings, bindings_decide)
        .get("/api/v1/invitations", bindings, invitations_index)
        .post("/api/v1/invitations", bindings, invitations_create)
        .delete("/api/v1/invitations/{id}", bindings, invitations_revoke)
        .get("/api/v1/calendar", Access::Public, calendar_show)
        .put("/api/v1/calendar/{year}", Access::Needs(Permission::CalendarManage), calendar_put)
        .get("/api/v1/audit", audit, audit_index)
        .get("/api/v1/audit/verify", audit, audit_verify)
        .get("/api/v1/audit/export", audit, audit_export)
        .get("/api/v1/permissions", Access::SignedIn, permissions_index)
}

fn unprocessable(message: impl Into<String>) -> ApiError {
    ApiError(AppError::new(StatusCode::UNPROCESSABLE_ENTITY, message))
}

async fn departments_index(State(state): State<AppState>) -> ApiResult {
    Ok(Json(state.auth_blocking(|a| a.departments()).await?).into_response())
}

async fn departments_put(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult {
    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        region: String,
    }
    let b: Body = parse_json(&body)?;
    let who = viewer.who();
    Ok(Json(state.auth_blocking(move |a| a.department_put(&who, &name, &b.region)).await?).into_response())
}

/// An account as JSON: never the password hash; the phone masked without `entity.personal`.
/// An account as JSON; its phone number as the account functions show it to the caller.
fn user_json(u: &User) -> serde_json::Value {
    json!({
        "id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role.key(),
        "department": u.department, "region_scope": u.region_scope,
        "phone": u.phone,
        "disabled": u.disabled, "hard_locked": u.hard_locked, "locked_until": u.locked_until,
        "failed_logins": u.failed_logins, "must_change_password": u.must_change_password,
        "created_at": u.created_at, "last_login": u.last_login,
    })
}

async fn users_index(State(state): State<AppState>, viewer: Viewer) -> ApiResult {
    let who = viewer.who();
    let list = state.auth_blocking(move |a| a.users_for(&who)).await?;
    Ok(Json(list.iter().map(user_json).collect::<Vec<_>>()).into_response())
}

async fn users_show(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> ApiResult {
    let who = viewer.who();
    let user = state.auth_blocking(move |a| a.user_for(&who, id)).await?;
    Ok(Json(user_json(&user)).into_response())
}

#[derive(Deserialize)]
struct UserBody {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    role: String,
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    region_scope: Vec<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    disabled: bool,
}

fn role(text: &str) -> Result<Role, ApiError> {
    Role::parse(text).ok_or_else(|| unprocessable(format!("role 应为 {}", Role::choices())))
}

/// `POST /users`: the account and its one-time password (shown once; changed at first sign-in).
async fn users_create(State(state): State<AppState>, viewer: Viewer, body: Bytes) -> ApiResult {
    let b: UserBody = parse_json(&body)?;
    let new = NewUser {
        username: b.username,
        display_name: b.display_name,
        role: role(&b.role)?,
        department: b.department,
        region_scope: b.region_scope,
        phone: b.phone,
    };
    let who = viewer.who();
    let (user, one_time) = state.auth_hashing(move |a| a.user_create(&who, new, None)).await?;
    let user = shown_to(&viewer.who(), user);
    Ok((StatusCode::CREATED, Json(json!({ "user": user_json(&user), "one_time_password": one_time }))).into_response())
}

/// Fields left out of the body keep their current values (leaving out `disabled` never
/// re-enables an account, nor does leaving out `region_scope` widen it).
async fn users_update(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>, body: Bytes) -> ApiResult {
    let given: serde_json::Map<String, serde_json::Value> = parse_json(&body)?;
    let current = state.auth_blocking(move |a| a.user(id)).await?;
    let mut merged = json!({
        "display_name": current.display_name, "role": current.role.key(), "department": current.department,
        "region_scope": current.region_scope, "phone": current.phone, "disabled": current.disabled,
    });
    if let Some(m) = merged.as_object_mut() {
        m.extend(given);
    }
    let b: UserBody =
        serde_json::from_value(merged).map_err(|e| unprocessable(format!("请求体的字段不符合要求：{e}")))?;
    let update = UserUpdate {
        display_name: b.display_name,
        role: role(&b.role)?,
        department: b.department,
        region_scope: b.region_scope,
        phone: b.phone,
        disabled: b.disabled,
    };
    let who = viewer.who();
    let user = state.auth_blocking(move |a| a.user_update(&who, id, update)).await?;
    Ok(Json(user_json(&shown_to(&viewer.who(), user))).into_response())
}

async fn users_reset(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> ApiResult {
    let who = viewer.who();
    let (user, one_time) = state.auth_hashing(move |a| a.user_reset_password(&who, id)).await?;
    Ok(Json(json!({ "username": user.username, "one_time_password": one_time })).into_response())
}

async fn users_unlock(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> ApiResult {
    let who = viewer.who();
    let user = state.auth_blocking(move |a| a.user_unlock(&who, id)).await?;
    Ok(Json(user_json(&shown_to(&viewer.who(), user))).into_response())
}

async fn tokens_index(State(state): State<AppState>) -> ApiResult {
    Ok(Json(state.auth_blocking(|a| a.tokens()).await?).into_response())
}

/// `POST /tokens` with `{username, name, scopes: ["entities:write"], days?}`: the token, once.
async fn tokens_create(State(state): State<AppState>, viewer: Viewer, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct Body {
        username: String,
        name: String,
        scopes: Vec<String>,
        #[serde(default)]
        days: Option<u32>,
    }
    let b: Body = parse_json(&body)?;
    let scopes = b
        .scopes
        .iter()
        .map(|s| {
            TokenScope::parse(s)
                .ok_or_else(|| unprocessable(format!("未知的权限范围「{s}」，可选：{}", TokenScope::choices())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let who = viewer.who();
    let (info, token) =
        state.auth_blocking(move |a| a.token_create(&who, &b.username, &b.name, &scopes, b.days)).await?;
    Ok((StatusCode::CREATED, Json(json!({ "token": token, "info": info }))).into_response())
}

async fn tokens_revoke(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> ApiResult {
    let who = viewer.who();
    Ok(Json(state.auth_blocking(move |a| a.token_revoke(&who, id)).await?).into_response())
}

#[derive(Deserialize, Default)]
struct BindingQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    entity: String,
}

async fn bindings_index(State(state): State<AppState>, viewer: Viewer, Query(q): Query<BindingQuery>) -> ApiResult {
    let status = match q.status.trim() {
        "" | "all" => None,
        s => Some(
            BindingStatus::parse(s)
                .ok_or_else(|| unprocessable(format!("status 应为 {}", BindingStatus::choices())))?,
        ),
    };
    let entity = Some(CreditCode::normalize(&q.entity)).filter(|e| !e.is_empty());
    let who = viewer.who();
    let rows = state.auth_blocking(move |a| a.binding_rows(&who, status, entity.as_deref())).await?;
    Ok(Json(rows).into_response())
}

async fn bindings_decide(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((user, code)): Path<(u64, String)>,
    body: Bytes,
) -> ApiResult {
    #[derive(Deserialize)]
    struct Body {
        status: String,
        #[serde(default)]
        note: String,
    }
    let b: Body = parse_json(&body)?;
    let status =
        BindingStatus::parse(&b.status).ok_or_else(|| unprocessable("status 应为 verified、rejected 或 revoked"))?;
    let who = viewer.who();
    let code = CreditCode::parse(&code).map_err(|_| no_binding_request(user, &CreditCode::normalize(&code)))?;
    Ok(Json(state.auth_blocking(move |a| a.binding_decide(&who, user, &code, status, &b.note)).await?).into_response())
}

async fn invitations_index(State(state): State<AppState>, Query(q): Query<BindingQuery>) -> ApiResult {
    let entity = Some(CreditCode::normalize(&q.entity)).filter(|e| !e.is_empty());
    let list = state.auth_blocking(move |a| a.invitations(entity.as_deref(), 500)).await?;
    let now = state.auth.now();
    let rows: Vec<_> = list
        .iter()
        .map(|i| {
            json!({
                "id": i.id, "credit_code": i.credit_code, "hint": i.hint, "state": i.state(now),
                "created_at": i.created_at, "created_by": i.created_by, "expires_at": i.expires_at,
                "used_by": i.used_by, "used_at": i.used_at, "revoked_at": i.revoked_at,
            })
        })
        .collect();
    Ok(Json(rows).into_response())
}

async fn invitations_create(State(state): State<AppState>, viewer: Viewer, body: Bytes) -> ApiResult {
    #[derive(Deserialize)]
    struct Body {
        credit_code: String,
        #[serde(default)]
        days: Option<u32>,
    }
    let b: Body = parse_json(&body)?;
    let days = b.days.unwrap_or(crate::auth::INVITATION_DAYS_DEFAULT);
    let who = viewer.who();
    let credit_code = CreditCode::parse(&b.credit_code).map_err(bad_credit_code)?;
    let (inv, code) = state.auth_blocking(move |a| a.invitation_create(&who, &credit_code, days)).await?;
    let body = json!({ "id": inv.id, "credit_code": inv.credit_code, "code": code, "expires_at": inv.expires_at });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn invitations_revoke(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> ApiResult {
    let who = viewer.who();
    let inv = state.auth_blocking(move |a| a.invitation_revoke(&who, id)).await?;
    Ok(Json(json!({ "id": inv.id, "revoked_at": inv.revoked_at })).into_response())
}

#[derive(Deserialize, Default)]
struct YearQuery {
    #[serde(default)]
    year: Option<i32>,
}

/// `GET /calendar[?year=Y]`: each year's counts and whether it falls back to Monday–Friday;
/// with `year`, that year's days.
async fn calendar_show(State(state): State<AppState>, Query(q): Query<YearQuery>) -> ApiResult {
    let (years, cal) = state.svc.blocking(|s| Ok((s.calendar_years()?, s.calendar()?))).await?;
    let days: Vec<_> = match q.year {
        Some(y) => cal
            .entries
            .iter()
            .filter(|(d, _)| d.year() == y)
            .map(|(d, e)| json!({ "date": d.to_string(), "kind": e.kind, "name": e.name }))
            .collect(),
        None => Vec::new(),
    };
    Ok(Json(json!({ "years": years, "days": days })).into_response())
}

/// `PUT /calendar/{year}` with the year as JSON or CSV in the body: replaces that year.
async fn calendar_put(State(state): State<AppState>, viewer: Viewer, Path(year): Path<i32>, body: Bytes) -> ApiResult {
    let text = String::from_utf8(body.to_vec()).map_err(|_| unprocessable("请求体应为 UTF-8 编码的 JSON 或 CSV"))?;
    let days = state.call(&viewer, move |s, who| s.calendar_import_year(who, year, &text)).await?;
    Ok(Json(json!({ "year": year, "days": days })).into_response())
}

async fn audit_index(State(state): State<AppState>, Query(p): Query<AuditParams>) -> ApiResult {
    let filter = p.filter()?;
    Ok(Json(state.svc.blocking(move |s| s.audit_search(&filter, 200)).await?).into_response())
}

async fn audit_verify(State(state): State<AppState>) -> ApiResult {
    Ok(Json(state.svc.blocking(|s| s.audit_verify()).await?).into_response())
}

async fn audit_export(State(state): State<AppState>, viewer: Viewer, Query(p): Query<AuditParams>) -> ApiResult {
    let filter = p.filter()?;
    let bytes = state.call(&viewer, move |s, who| s.audit_export_logged(who, &filter)).await?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], bytes).into_response())
}

async fn permissions_index() -> ApiResult {
    let roles: Vec<_> = permissions::matrix()
        .into_iter()
        .map(|(r, ps)| json!({ "role": r.key(), "label": r.label(), "permissions": ps.iter().map(|p| p.key()).collect::<Vec<_>>() }))
        .collect();
    let perms: Vec<_> = Permission::ALL
        .iter()
        .map(|p| json!({ "key": p.key(), "label": p.label(), "token_scope": p.scope().key() }))
        .collect();
    Ok(Json(json!({ "roles": roles, "permissions": perms, "routes": crate::http::route_specs() })).into_response())
}
