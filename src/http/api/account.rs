//! One's own account over JSON: who am I, password, sessions; enterprise registration and
//! bindings.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::{ApiResult, parse_json};
use crate::auth::{Access, BindRequest, CODE_REQUESTED, Client, Permission, Registration};
use crate::http::AppState;
use crate::http::error::{ApiError, AppError};
use crate::http::extract::Viewer;
use crate::http::routes::Routes;
use crate::model::{AgreementKind, BindingStatus, Capacity, Vocabulary};

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/account", Access::SignedIn, account_show)
        .get("/api/v1/todo", Access::SignedIn, todo_show)
        .post("/api/v1/account/password", Access::SignedIn, password_change)
        .get("/api/v1/account/sessions", Access::SignedIn, sessions_index)
        .delete("/api/v1/account/sessions", Access::SignedIn, sessions_end_all)
        .delete("/api/v1/account/sessions/{id}", Access::SignedIn, sessions_end)
        .post("/api/v1/register", Access::Public, register_submit)
        .get("/api/v1/agreements", Access::Public, agreements_index)
        .post("/api/v1/password/forgot", Access::Public, password_forgot)
        .post("/api/v1/password/reset", Access::Public, password_reset)
        .get("/api/v1/my/entities", Access::Needs(Permission::OwnEntities), my_entities_index)
        .post("/api/v1/my/bindings", Access::Needs(Permission::OwnEntities), my_bindings_create)
}

/// What is waiting for the caller: the counts the navigation shows.
async fn todo_show(State(state): State<AppState>, viewer: Viewer) -> ApiResult {
    Ok(Json(state.call(&viewer, move |s, who| s.todo(who)).await?).into_response())
}

async fn account_show(viewer: Viewer) -> ApiResult {
    let p = viewer.principal()?;
    let permissions: Vec<_> = Permission::ALL.iter().filter(|x| p.can(**x)).map(|x| x.key()).collect();
    Ok(Json(json!({
        "id": p.user.id,
        "username": p.user.username,
        "display_name": p.user.display_name,
        "role": p.user.role.key(),
        "department": p.user.department,
        "regions": p.regions,
        "entities": p.entities,
        "permissions": permissions,
        "token_scopes": p.scopes.as_ref().map(|s| s.iter().map(|x| x.key()).collect::<Vec<_>>()),
        "must_change_password": p.user.must_change_password,
    }))
    .into_response())
}

#[derive(Deserialize)]
struct PasswordBody {
    current: String,
    new: String,
}

async fn password_change(State(state): State<AppState>, viewer: Viewer, body: Bytes) -> ApiResult {
    let p = viewer.principal()?;
    if p.scopes.is_some() {
        return Err(ApiError(AppError::forbidden("API 令牌不能修改账号密码，请在浏览器中登录后修改")));
    }
    let b: PasswordBody = parse_json(&body)?;
    let (id, keep, ip) = (p.user.id, p.session.clone(), viewer.ip.clone());
    state.auth_hashing(move |a| a.change_password(id, &b.current, &b.new, keep.as_deref(), &ip)).await?;
    Ok(Json(json!({ "ok": true })).into_response())
}

/// Sessions are a browser's business: an API token neither lists nor ends them.
fn browser_only(viewer: &Viewer) -> Result<(), ApiError> {
    if viewer.principal()?.scopes.is_some() {
        return Err(ApiError(AppError::forbidden("API 令牌不能查看或结束登录会话，请在浏览器中登录后操作")));
    }
    Ok(())
}

async fn sessions_index(State(state): State<AppState>, viewer: Viewer) -> ApiResult {
    browser_only(&viewer)?;
    let p = viewer.principal()?;
    let (id, current) = (p.user.id, p.session.clone());
    Ok(Json(state.auth_blocking(move |a| a.sessions_of(id, current.as_deref())).await?).into_response())
}

async fn sessions_end_all(State(state): State<AppState>, viewer: Viewer) -> ApiResult {
    browser_only(&viewer)?;
    let (id, who) = (viewer.principal()?.user.id, viewer.who());
    let ended = state.auth_blocking(move |a| a.sessions_end_all(&who, id)).await?;
    Ok(Json(json!({ "ended": ended })).into_response())
}

async fn sessions_end(State(state): State<AppState>, viewer: Viewer, Path(sid): Path<String>) -> ApiResult {
    browser_only(&viewer)?;
    let (id, who) = (viewer.principal()?.user.id, viewer.who());
    state.auth_blocking(move |a| a.session_end(&who, id, &sid)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct BindBody {
    credit_code: String,
    entity_name: String,
    #[serde(default)]
    capacity: Option<String>,
    #[serde(default)]
    invitation: String,
}

impl BindBody {
    fn request(self) -> Result<BindRequest, ApiError> {
        let capacity = match self.capacity.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            None => Capacity::Agent,
            Some(c) => Capacity::parse(c).ok_or_else(|| {
                ApiError(AppError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("capacity 应为 {}", Capacity::choices()),
                ))
            })?,
        };
        Ok(BindRequest {
            credit_code: self.credit_code,
            entity_name: self.entity_name,
            capacity,
            invitation: self.invitation,
        })
    }
}

#[derive(Deserialize)]
struct RegisterBody {
    username: String,
    password: String,
    display_name: String,
    phone: String,
    /// The versions of the user agreement and privacy notice the person was shown and agreed
    /// to (`GET /agreements`).
    #[serde(default)]
    accepted_terms_version: Option<u32>,
    #[serde(default)]
    accepted_privacy_version: Option<u32>,
    #[serde(flatten)]
    bind: BindBody,
}

/// `POST /register`: an enterprise account and its first binding (verified at once with a
/// valid invitation code). Answers 201 with the binding's status.
async fn register_submit(State(state): State<AppState>, viewer: Viewer, headers: HeaderMap, body: Bytes) -> ApiResult {
    state.attempt(&viewer.ip)?;
    let b: RegisterBody = parse_json(&body)?;
    let reg = Registration {
        username: b.username,
        password: b.password,
        display_name: b.display_name,
        phone: b.phone,
        agreed: b.accepted_terms_version.zip(b.accepted_privacy_version),
        bind: b.bind.request()?,
    };
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let client = Client { ip: viewer.ip.clone(), user_agent: agent };
    let (user, binding) = state.auth_hashing(move |a| a.register(&reg, &client)).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": user.id, "username": user.username, "binding": binding })))
        .into_response())
}

async fn my_entities_index(State(state): State<AppState>, viewer: Viewer) -> ApiResult {
    let id = viewer.principal()?.user.id;
    let bindings = state.auth_blocking(move |a| a.bindings_of_user(id)).await?;
    let verified: Vec<_> =
        bindings.iter().filter(|b| b.status == BindingStatus::Verified).map(|b| b.credit_code.clone()).collect();
    Ok(Json(json!({ "entities": verified, "bindings": bindings })).into_response())
}

async fn my_bindings_create(State(state): State<AppState>, viewer: Viewer, body: Bytes) -> ApiResult {
    state.attempt(&viewer.ip)?;
    let request = parse_json::<BindBody>(&body)?.request()?;
    let (id, ip) = (viewer.principal()?.user.id, viewer.ip.clone());
    let binding = state.auth_blocking(move |a| a.binding_request(id, &request, &ip)).await?;
    Ok((StatusCode::CREATED, Json(binding)).into_response())
}

/// `GET /agreements`: the user agreement and privacy notice in force, with their versions,
/// which a registration must name as accepted.
async fn agreements_index(State(state): State<AppState>) -> ApiResult {
    let (terms, privacy) =
        state.auth_blocking(|a| Ok((a.agreement(AgreementKind::Terms)?, a.agreement(AgreementKind::Privacy)?))).await?;
    Ok(Json(json!({ "terms": terms, "privacy": privacy })).into_response())
}

#[derive(Deserialize)]
struct ForgotBody {
    /// The username or the phone registered with the account.
    username: String,
}

/// `POST /password/forgot`: sends a recovery code by SMS if the account exists, is an
/// enterprise account with a phone, and its limit allows; answers 202 the same either way
/// (409 when no SMS gateway is configured: the office resets passwords).
async fn password_forgot(State(state): State<AppState>, viewer: Viewer, body: Bytes) -> ApiResult {
    state.attempt(&viewer.ip)?;
    let sms = state.sms.is_some();
    if !sms {
        return Err(ApiError(AppError::new(
            StatusCode::CONFLICT,
            "本平台未开通短信找回密码，请联系办事大厅或系统管理员重置密码",
        )));
    }
    state.code_request(&viewer.ip)?;
    let b: ForgotBody = parse_json(&body)?;
    let ip = viewer.ip.clone();
    let message = state.auth_blocking(move |a| a.password_forgot(&b.username, &ip, sms)).await?;
    state.send_code(message);
    Ok((StatusCode::ACCEPTED, Json(json!({ "message": CODE_REQUESTED }))).into_response())
}

#[derive(Deserialize)]
struct ResetBody {
    username: String,
    code: String,
    password: String,
}

/// `POST /password/reset`: a new password with the code; every session of the account ends.
async fn password_reset(State(state): State<AppState>, viewer: Viewer, body: Bytes) -> ApiResult {
    state.attempt(&viewer.ip)?;
    let b: ResetBody = parse_json(&body)?;
    let ip = viewer.ip.clone();
    let user = state.auth_hashing(move |a| a.password_recover(&b.username, &b.code, &b.password, &ip)).await?;
    Ok(Json(json!({ "ok": true, "username": user.username })).into_response())
}
