//! Signing in and out, registering an enterprise account, one's own profile, password and
//! sessions, and the staff console's front page.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use serde::Deserialize;

use super::{PageResult, safe_next, see_other, unprocessable};
use crate::auth::{Access, BindRequest, CODE_REQUESTED, Client, Permission, Registration, SignedIn};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::CleanForm;
use crate::http::extract::{SESSION_COOKIE, Viewer, form_value};
use crate::http::routes::Routes;
use crate::http::web::to_value;
use crate::model::{AgreementKind, Capacity, Role, Vocabulary};
use crate::service::overview::{StaffHome, StaffPanels};

type FormData = CleanForm;

pub fn routes() -> Routes {
    Routes::new()
        .get("/login", Access::Public, login_show)
        .post("/login", Access::Public, login_submit)
        .post("/logout", Access::SignedIn, logout_submit)
        .get("/register", Access::Public, register_show)
        .post("/register", Access::Public, register_submit)
        .get("/account", Access::SignedIn, account_show)
        .post("/account", Access::SignedIn, account_save)
        .get("/account/password", Access::SignedIn, password_show)
        .post("/account/password", Access::SignedIn, password_save)
        .get("/account/sessions", Access::SignedIn, sessions_index)
        .post("/account/sessions/end-all", Access::SignedIn, sessions_end_all)
        .post("/account/sessions/{id}/end", Access::SignedIn, sessions_end)
        .get("/staff", Access::Needs(Permission::StaffConsole), staff_show)
        .get("/password/forgot", Access::Public, password_forgot_show)
        .post("/password/forgot", Access::Public, password_forgot_submit)
        .get("/password/reset", Access::Public, password_reset_show)
        .post("/password/reset", Access::Public, password_reset_submit)
        .get("/terms", Access::Public, terms_show)
        .get("/privacy", Access::Public, privacy_show)
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    #[serde(default)]
    next: String,
    /// Set after a password was reset with an SMS code.
    #[serde(default)]
    recovered: String,
}

fn role_home(role: Role) -> &'static str {
    if role == Role::Enterprise { "/my" } else { "/staff" }
}

/// The session cookie: HttpOnly, SameSite=Lax, Secure when the site is served over HTTPS.
fn session_cookie(state: &AppState, token: &str) -> String {
    let secure = if state.settings.secure_cookies { "; Secure" } else { "" };
    let max_age = state.settings.sessions.absolute_seconds;
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

fn clear_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

fn signed_in_redirect(state: &AppState, signed: &SignedIn, next: &str) -> Response {
    let to = if signed.user.must_change_password {
        "/account/password".to_string()
    } else if next.is_empty() {
        role_home(signed.user.role).to_string()
    } else {
        safe_next(next)
    };
    let mut response = Redirect::to(&to).into_response();
    if let Ok(v) = HeaderValue::from_str(&session_cookie(state, &signed.token)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

fn client(viewer: &Viewer, headers: &HeaderMap) -> Client {
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    Client { ip: viewer.ip.clone(), user_agent: agent.to_string() }
}

async fn login_show(viewer: Viewer, Query(q): Query<LoginQuery>) -> PageResult {
    let recovered = !q.recovered.is_empty();
    viewer.render("login.html", context! { next => q.next, username => "", error => Value::UNDEFINED, recovered })
}

async fn login_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    CleanForm(form): FormData,
) -> PageResult {
    let username = form_value(&form, "username").to_string();
    let password = form_value(&form, "password").to_string();
    let next = form_value(&form, "next").to_string();
    let again = |e: AppError| -> PageResult {
        let mut page = viewer.render(
            "login.html",
            context! { next => next.clone(), username => username.clone(), error => e.message.clone() },
        )?;
        *page.status_mut() = e.status;
        Ok(page)
    };
    if let Err(e) = state.attempt(&viewer.ip) {
        return again(e);
    }
    let client = client(&viewer, &headers);
    let replaces = viewer.session_token.clone();
    let name = username.clone();
    match state.auth_hashing(move |a| a.login(&name, &password, &client, replaces.as_deref())).await {
        Ok(signed) => Ok(signed_in_redirect(&state, &signed, &next)),
        Err(e) => again(AppError::from(e)),
    }
}

async fn logout_submit(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    if let Some(token) = viewer.session_token.clone() {
        let ip = viewer.ip.clone();
        state.auth_blocking(move |a| a.logout(&token, &ip)).await?;
    }
    Ok(([(header::SET_COOKIE, clear_cookie())], Redirect::to("/")).into_response())
}

fn capacities() -> Vec<(&'static str, &'static str)> {
    Capacity::ALL.iter().map(|c| (c.key(), c.label())).collect()
}

/// The versions of the user agreement and privacy notice in force.
async fn agreement_versions(state: &AppState) -> Result<(u32, u32), AppError> {
    let (terms, privacy) =
        state.auth_blocking(|a| Ok((a.agreement(AgreementKind::Terms)?, a.agreement(AgreementKind::Privacy)?))).await?;
    Ok((terms.version, privacy.version))
}

async fn register_page(state: &AppState, viewer: &Viewer, values: Value, error: Option<String>) -> PageResult {
    let (terms_version, privacy_version) = agreement_versions(state).await?;
    viewer.render(
        "register.html",
        context! { f => values, error, capacities => capacities(), terms_version, privacy_version },
    )
}

async fn register_show(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    register_page(&state, &viewer, context! { capacity => "legal_rep" }, None).await
}

/// The versions a registration form says were shown, if its consent box was ticked.
pub fn agreed(form: &[(String, String)]) -> Option<(u32, u32)> {
    if form_value(form, "agree") != "yes" {
        return None;
    }
    let version = |key| form_value(form, key).trim().parse::<u32>().ok();
    Some((version("terms_version")?, version("privacy_version")?))
}

/// The binding part of a registration or bind form.
pub fn bind_request(form: &[(String, String)]) -> BindRequest {
    BindRequest {
        credit_code: form_value(form, "credit_code").trim().to_string(),
        entity_name: form_value(form, "entity_name").trim().to_string(),
        capacity: Capacity::parse(form_value(form, "capacity")).unwrap_or(Capacity::Agent),
        invitation: form_value(form, "invitation").trim().to_string(),
    }
}

async fn register_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    CleanForm(form): FormData,
) -> PageResult {
    let mut values = super::forms::submitted_values(&form);
    if let Some(map) = values.as_object_mut() {
        for secret in ["password", "password2"] {
            map.remove(secret);
        }
    }
    let values = to_value(values);
    let refuse = async |e: AppError| -> PageResult {
        let status = e.status;
        let mut page = register_page(&state, &viewer, values.clone(), Some(e.message)).await?;
        *page.status_mut() = status;
        Ok(page)
    };
    if let Err(e) = state.attempt(&viewer.ip) {
        return refuse(e).await;
    }
    if form_value(&form, "password") != form_value(&form, "password2") {
        return refuse(AppError::bad_request("两次输入的密码不一致")).await;
    }
    let reg = Registration {
        username: form_value(&form, "username").to_string(),
        password: form_value(&form, "password").to_string(),
        display_name: form_value(&form, "display_name").to_string(),
        phone: form_value(&form, "phone").to_string(),
        bind: bind_request(&form),
        agreed: agreed(&form),
    };
    let client = client(&viewer, &headers);
    let password = reg.password.clone();
    let result = state
        .auth_hashing(move |a| {
            let (user, _) = a.register(&reg, &client)?;
            a.login(&user.username, &password, &client, None)
        })
        .await;
    match result {
        Ok(signed) => Ok(signed_in_redirect(&state, &signed, "/my")),
        Err(e) => refuse(AppError::from(e)).await,
    }
}

async fn account_show(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let user_id = viewer.principal()?.user.id;
    let user = state.auth_blocking(move |a| a.user(user_id)).await?;
    viewer.render("account.html", context! { u => to_value(&user), saved => false, error => Value::UNDEFINED })
}

async fn account_save(State(state): State<AppState>, viewer: Viewer, CleanForm(form): FormData) -> PageResult {
    let p = viewer.principal()?;
    let (id, who) = (p.user.id, viewer.who());
    let name = form_value(&form, "display_name").to_string();
    let phone = form_value(&form, "phone").to_string();
    match state.auth_blocking(move |a| a.update_profile(&who, id, &name, &phone)).await {
        Ok(user) => viewer.render("account.html", context! { u => to_value(&user), saved => true }),
        Err(e) => {
            let e = AppError::from(e);
            let user = state.auth_blocking(move |a| a.user(id)).await?;
            Ok(unprocessable(viewer.render("account.html", context! { u => to_value(&user), error => e.message })?))
        }
    }
}

async fn password_show(viewer: Viewer) -> PageResult {
    let forced = viewer.principal()?.user.must_change_password;
    viewer.render("password.html", context! { forced, error => Value::UNDEFINED })
}

async fn password_save(State(state): State<AppState>, viewer: Viewer, CleanForm(form): FormData) -> PageResult {
    let p = viewer.principal()?;
    let (id, forced, role) = (p.user.id, p.user.must_change_password, p.user.role);
    let keep = p.session.clone();
    let current = form_value(&form, "current").to_string();
    let new = form_value(&form, "new").to_string();
    if new != form_value(&form, "new2") {
        let page = viewer.render("password.html", context! { forced, error => "两次输入的新密码不一致" })?;
        return Ok(unprocessable(page));
    }
    let ip = viewer.ip.clone();
    match state.auth_hashing(move |a| a.change_password(id, &current, &new, keep.as_deref(), &ip)).await {
        Ok(()) => Ok(see_other(&format!("{}?notice=password_changed", role_home(role)))),
        Err(e) => {
            let e = AppError::from(e);
            Ok(unprocessable(viewer.render("password.html", context! { forced, error => e.message })?))
        }
    }
}

async fn sessions_index(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let p = viewer.principal()?;
    let (id, current) = (p.user.id, p.session.clone());
    let list = state.auth_blocking(move |a| a.sessions_of(id, current.as_deref())).await?;
    let rows: Vec<_> = list
        .iter()
        .map(|s| {
            serde_json::json!({
                "id": s.id, "created": s.created_at.display_cst(), "last_seen": s.last_seen.display_cst(),
                "expires": s.expires_at.display_cst(), "ip": s.ip, "agent": s.user_agent, "current": s.current,
            })
        })
        .collect();
    let idle_minutes = state.settings.sessions.idle_seconds / 60;
    let absolute_hours = state.settings.sessions.absolute_seconds / 3600;
    viewer.render("sessions.html", context! { sessions => to_value(&rows), idle_minutes, absolute_hours })
}

async fn sessions_end(State(state): State<AppState>, viewer: Viewer, Path(sid): Path<String>) -> PageResult {
    let (id, who) = (viewer.principal()?.user.id, viewer.who());
    state.auth_blocking(move |a| a.session_end(&who, id, &sid)).await?;
    Ok(see_other("/account/sessions"))
}

async fn sessions_end_all(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let (id, who) = (viewer.principal()?.user.id, viewer.who());
    state.auth_blocking(move |a| a.sessions_end_all(&who, id)).await?;
    Ok(([(header::SET_COOKIE, clear_cookie())], Redirect::to("/login?next=/")).into_response())
}

#[derive(Deserialize, Default)]
struct Notice {
    #[serde(default)]
    notice: String,
}

async fn staff_show(State(state): State<AppState>, viewer: Viewer, Query(n): Query<Notice>) -> PageResult {
    let audit_visible = viewer.can(Permission::AuditRead);
    let (cases_visible, publishes) = (viewer.can(Permission::CaseRead), viewer.can(Permission::PolicyPublish));
    let figures_visible = viewer.can(Permission::CaseRead) || viewer.can(Permission::Metrics);
    let panels =
        StaffPanels { audit: audit_visible, cases: cases_visible, drafts: publishes, figures: figures_visible };
    let StaffHome { stats, imports, audit, notices, unread, queue, drafts, figures } =
        state.call(&viewer, move |s, who| s.staff_home(who, panels)).await?;
    let work = serde_json::json!({
        "notices": notices, "unread": unread,
        "open_cases": queue.as_ref().map_or(0, |q| q.total), "overdue": queue.as_ref().map_or(0, |q| q.overdue),
        "drafts": drafts.iter().map(|d| serde_json::json!({"id": d.measure_id, "name": d.spec.name, "by": d.request.as_ref().map(|r| r.by.clone()), "scheduled": d.scheduled.as_ref().map(|x| x.on)})).collect::<Vec<_>>(),
    });
    let audit: Vec<_> = audit
        .iter()
        .map(|a| {
            serde_json::json!({
                "at": a.at.display_cst(), "actor": a.actor, "action": a.action,
                "action_label": crate::model::audit::action_label(&a.action, viewer.lang == crate::http::web::Lang::En),
                "target": a.target,
                "detail": crate::model::audit::detail_label(&a.action, &a.detail, viewer.lang == crate::http::web::Lang::En)
            })
        })
        .collect();
    viewer.render(
        "staff.html",
        context! {
            stats => to_value(&stats),
            imports => to_value(&imports),
            audit => to_value(&audit),
            audit_visible,
            work => to_value(&work),
            figures => to_value(&figures),
            notice => n.notice,
        },
    )
}

/// 忘记密码: with an SMS gateway, a form for the username or phone; without one, where to go.
async fn password_forgot_show(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let sms = state.sms.is_some();
    viewer.render("password_forgot.html", context! { step => "ask", sms, identifier => "", error => Value::UNDEFINED })
}

/// The 忘记密码 page again at `step`, with what was typed and why it was refused.
fn refused_recovery(viewer: &Viewer, step: &str, sms: bool, identifier: &str, e: AppError) -> PageResult {
    let status = e.status;
    let mut page = viewer.render("password_forgot.html", context! { step, sms, identifier, error => e.message })?;
    *page.status_mut() = status;
    Ok(page)
}

async fn password_forgot_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    CleanForm(form): FormData,
) -> PageResult {
    let sms = state.sms.is_some();
    let identifier = form_value(&form, "identifier").trim().to_string();
    let again = |e: AppError| refused_recovery(&viewer, "ask", sms, &identifier, e);
    if let Err(e) = state.attempt(&viewer.ip).and_then(|()| state.code_request(&viewer.ip)) {
        return again(e);
    }
    let (id, ip) = (identifier.clone(), viewer.ip.clone());
    match state.auth_blocking(move |a| a.password_forgot(&id, &ip, sms)).await {
        Ok(message) => {
            state.send_code(message);
            viewer.render(
                "password_forgot.html",
                context! { step => "reset", sms, identifier, notice => CODE_REQUESTED, error => Value::UNDEFINED },
            )
        }
        Err(e) => again(AppError::from(e)),
    }
}

async fn password_reset_show(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let sms = state.sms.is_some();
    viewer
        .render("password_forgot.html", context! { step => "reset", sms, identifier => "", error => Value::UNDEFINED })
}

async fn password_reset_submit(State(state): State<AppState>, viewer: Viewer, CleanForm(form): FormData) -> PageResult {
    let sms = state.sms.is_some();
    let identifier = form_value(&form, "identifier").trim().to_string();
    let again = |e: AppError| refused_recovery(&viewer, "reset", sms, &identifier, e);
    if let Err(e) = state.attempt(&viewer.ip) {
        return again(e);
    }
    let new = form_value(&form, "new").to_string();
    if new != form_value(&form, "new2") {
        return again(AppError::bad_request("两次输入的新密码不一致"));
    }
    let (id, code, ip) = (identifier.clone(), form_value(&form, "code").to_string(), viewer.ip.clone());
    match state.auth_hashing(move |a| a.password_recover(&id, &code, &new, &ip)).await {
        Ok(_) => Ok(see_other("/login?recovered=1")),
        Err(e) => again(AppError::from(e)),
    }
}

#[derive(Deserialize, Default)]
struct VersionQuery {
    #[serde(default)]
    version: Option<u32>,
}

/// The user agreement or privacy notice in force, or an earlier version (`?version=`).
async fn agreement_page(state: &AppState, viewer: &Viewer, kind: AgreementKind, version: Option<u32>) -> PageResult {
    let found = state
        .auth_blocking(move |a| match version {
            Some(v) => a.agreement_version(kind, v),
            None => a.agreement(kind).map(Some),
        })
        .await?;
    let Some(agreement) = found else {
        return Err(AppError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("{}没有第 {} 版", kind.label(), version.unwrap_or(0)),
        ));
    };
    let current = state.auth_blocking(move |a| a.agreement(kind)).await?.version;
    viewer.render(
        "agreement.html",
        context! {
            kind => kind.key(), title => kind.label(), title_en => kind.label_en(),
            version => agreement.version, text => agreement.text, saved_at => agreement.saved_at.map(|t| t.0),
            current,
        },
    )
}

async fn terms_show(State(state): State<AppState>, viewer: Viewer, Query(q): Query<VersionQuery>) -> PageResult {
    agreement_page(&state, &viewer, AgreementKind::Terms, q.version).await
}

async fn privacy_show(State(state): State<AppState>, viewer: Viewer, Query(q): Query<VersionQuery>) -> PageResult {
    agreement_page(&state, &viewer, AgreementKind::Privacy, q.version).await
}
