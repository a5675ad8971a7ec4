//! Who is asking and in which language: the session cookie or bearer token, the `lang` cookie,
//! CSRF checks for form posts, and the base context every page renders with.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::Value;
use serde::Serialize;

use super::AppState;
use super::error::{ApiError, AppError, Reject};
use super::web::{self, Lang};
use crate::auth::{Principal, same_secret};
use crate::model::Vocabulary;

pub const SESSION_COOKIE: &str = "huiqi_session";
pub const LANG_COOKIE: &str = "huiqi_lang";

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer "))?;
    Some(token.trim().to_string())
}

/// The caller of a page or API request.
#[derive(Clone)]
pub struct Viewer {
    pub lang: Lang,
    pub principal: Option<Principal>,
    /// Path and query, for "sign in and come back" links.
    pub path: String,
    pub session_token: Option<String>,
    /// Whether the request may change state (anything but GET/HEAD/OPTIONS).
    unsafe_method: bool,
    /// The `X-CSRF-Token` header, which scripts send with JSON requests.
    csrf_header: Option<String>,
}

#[derive(Serialize)]
struct UserCtx<'a> {
    username: &'a str,
    display_name: &'a str,
    role: &'a str,
    role_label: &'a str,
    department: Option<&'a str>,
    staff: bool,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Viewer, Self::Rejection> {
        // Chinese unless the person chose English with the switch (browsers' Accept-Language
        // is often English on office machines set up in English).
        let lang = cookie(&parts.headers, LANG_COOKIE).and_then(|c| Lang::from_code(&c)).unwrap_or(Lang::Zh);
        let session_token = cookie(&parts.headers, SESSION_COOKIE).filter(|t| !t.is_empty());
        let principal = match (bearer(&parts.headers), &session_token) {
            (Some(token), _) => state.principal_for_token(token).await,
            (None, Some(token)) => state.principal_for_session(token.clone()).await,
            (None, None) => None,
        };
        let path = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        let unsafe_method = !matches!(parts.method.as_str(), "GET" | "HEAD" | "OPTIONS");
        let csrf_header = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).map(String::from);
        Ok(Viewer { lang, principal, path, session_token, unsafe_method, csrf_header })
    }
}

impl Viewer {
    pub fn is_staff(&self) -> bool {
        self.principal.as_ref().is_some_and(|p| p.user.role.is_staff())
    }

    pub fn username(&self) -> String {
        self.principal.as_ref().map_or_else(|| "anonymous".into(), |p| p.user.username.clone())
    }

    /// For pages: the staff principal, or a redirect to the sign-in page.
    pub fn staff_page(&self) -> Result<&Principal, Reject> {
        match &self.principal {
            Some(p) if p.user.role.is_staff() => Ok(p),
            Some(_) => Err(AppError::forbidden("此页面仅限政府工作人员访问").into()),
            None => {
                let next = super::pages::url_encode(&self.path);
                Err(Redirect::to(&format!("/login?next={next}")).into_response().into())
            }
        }
    }

    /// For the API: the staff principal, or 401/403. A browser session (not a bearer token)
    /// must also send its CSRF token in `X-CSRF-Token` on every write.
    pub fn staff_api(&self) -> Result<&Principal, ApiError> {
        match &self.principal {
            Some(p) if p.user.role.is_staff() => {
                if let Some(expected) = &p.csrf
                    && self.unsafe_method
                    && !same_secret(expected, self.csrf_header.as_deref().unwrap_or(""))
                {
                    return Err(ApiError(AppError::forbidden(
                        "缺少或错误的 X-CSRF-Token（浏览器会话调用接口时必须提供）",
                    )));
                }
                Ok(p)
            }
            Some(_) => Err(ApiError(AppError::forbidden("此接口仅限政府工作人员调用"))),
            None => Err(ApiError(AppError::unauthorized())),
        }
    }

    /// A form post from a signed-in browser must carry the session's CSRF token.
    pub fn check_csrf(&self, form: &[(String, String)]) -> Result<(), AppError> {
        let sent = form.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or("");
        match self.principal.as_ref().and_then(|p| p.csrf.as_deref()) {
            Some(expected) if same_secret(expected, sent) => Ok(()),
            Some(_) => Err(AppError::forbidden("表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试")),
            None => Ok(()),
        }
    }

    /// The base context: strings, language, user, CSRF token, current path, then `extra`.
    pub fn ctx(&self, extra: Value) -> Value {
        let user = self.principal.as_ref().map(|p| {
            web::to_value(UserCtx {
                username: &p.user.username,
                display_name: &p.user.display_name,
                role: p.user.role.key(),
                role_label: if self.lang == Lang::En { p.user.role.label_en() } else { p.user.role.label() },
                department: p.user.department.as_deref(),
                staff: p.user.role.is_staff(),
            })
        });
        let csrf = self.principal.as_ref().and_then(|p| p.csrf.clone());
        minijinja::context! {
            tr => web::strings(self.lang),
            lang => self.lang.code(),
            user => user,
            csrf => csrf,
            path => self.path.clone(),
            ..extra
        }
    }

    pub fn render(&self, template: &str, extra: Value) -> Result<Response, AppError> {
        let html = web::render(template, self.ctx(extra))?;
        Ok(axum::response::Html(html).into_response())
    }
}

/// The value of a form field (first occurrence).
pub fn form_value<'a>(form: &'a [(String, String)], key: &str) -> &'a str {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or("")
}

/// Every value of a repeated form field, in order.
pub fn form_values<'a>(form: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    form.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
}
