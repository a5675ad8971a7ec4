//! Who is asking and in which language: what the guard (`routes::guard`) found about the
//! caller, the `lang` cookie, and the base context every page renders with.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use minijinja::Value;
use serde::Serialize;

use super::AppState;
use super::error::AppError;
use super::routes::Caller;
use super::web::{self, Lang};
use crate::auth::{Permission, Principal, same_secret};
use crate::model::{CreditCode, Vocabulary, Who};

pub const SESSION_COOKIE: &str = "huiqi_session";
pub const LANG_COOKIE: &str = "huiqi_lang";
/// The pre-session CSRF token of anonymous forms (sign-in, registration).
pub const CSRF_COOKIE: &str = "huiqi_csrf";

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

/// The caller of a page or API request.
#[derive(Clone)]
pub struct Viewer {
    pub lang: Lang,
    pub principal: Option<Principal>,
    /// Path and query, for "sign in and come back" links.
    pub path: String,
    pub session_token: Option<String>,
    pub ip: String,
    /// The CSRF token forms on this page must carry.
    csrf: Option<String>,
    /// What is waiting for the signed-in person (pages only).
    pub todo: Option<crate::service::todo::Todo>,
}

#[derive(Serialize)]
struct UserCtx<'a> {
    username: &'a str,
    display_name: &'a str,
    role: &'a str,
    role_label: &'a str,
    department: Option<&'a str>,
    staff: bool,
    /// Permission keys the account holds, for showing only the links it may follow.
    can: std::collections::BTreeMap<&'static str, bool>,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Viewer, Self::Rejection> {
        // Chinese unless the person chose English with the switch (browsers' Accept-Language
        // is often English on office machines set up in English).
        let path = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        Ok(Viewer::new(&parts.headers, path, parts.extensions.get::<Caller>().cloned()))
    }
}

impl Viewer {
    /// The viewer of a request to `path` with these headers, as the guard found its caller.
    pub fn new(headers: &HeaderMap, path: String, caller: Option<Caller>) -> Viewer {
        let lang = cookie(headers, LANG_COOKIE).and_then(|c| Lang::from_code(&c)).unwrap_or(Lang::Zh);
        let Some(c) = caller else {
            return Viewer {
                lang,
                principal: None,
                path,
                session_token: None,
                ip: "unknown".into(),
                csrf: None,
                todo: None,
            };
        };
        let csrf = c.principal.as_ref().and_then(|p| p.csrf.clone()).or(c.anon_csrf);
        Viewer { lang, principal: c.principal, path, session_token: c.session_token, ip: c.ip, csrf, todo: c.todo }
    }

    /// The signed-in caller. The guard has already refused anyone the route does not admit, so
    /// this fails only on routes open to the public.
    pub fn principal(&self) -> Result<&Principal, AppError> {
        self.principal.as_ref().ok_or_else(AppError::unauthorized)
    }

    /// The credit code of an entity the caller names as its own, parsed and checked by the
    /// service's rule before anything else of the request is read (403 otherwise; text that is
    /// no credit code names no entity the account is bound to). The service checks again.
    pub fn own_entity(&self, code: &str) -> Result<CreditCode, AppError> {
        let who = self.principal()?.who(&self.ip);
        let code = CreditCode::parse_or(code, |_| crate::service::inbox::not_own())?;
        crate::service::inbox::own_entity(&who, &code)?;
        Ok(code)
    }

    pub fn can(&self, p: Permission) -> bool {
        self.principal.as_ref().is_some_and(|x| x.can(p))
    }

    pub fn is_staff(&self) -> bool {
        self.principal.as_ref().is_some_and(|p| p.user.role.is_staff())
    }

    /// Who acts, for the audit trail.
    pub fn who(&self) -> Who {
        match &self.principal {
            Some(p) => p.who(&self.ip),
            None => Who::anonymous("anonymous", &self.ip),
        }
    }

    /// The session's CSRF token, checked by an upload handler against its multipart field (the
    /// guard checks every other kind of request).
    pub fn check_upload_csrf(&self, sent: &str) -> Result<(), AppError> {
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
                can: Permission::ALL.iter().map(|&x| (x.key(), p.can(x))).collect(),
            })
        });
        minijinja::context! {
            tr => web::strings(self.lang),
            lang => self.lang.code(),
            user => user,
            csrf => self.csrf.clone(),
            path => self.path.clone(),
            todo => self.todo.map(web::to_value),
            ..extra
        }
    }

    pub fn render(&self, template: &str, extra: Value) -> Result<axum::response::Response, AppError> {
        let html = web::render(template, self.ctx(extra))?;
        Ok(axum::response::IntoResponse::into_response(axum::response::Html(html)))
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

/// A browser form's fields, in order, without control or direction-changing characters (line
/// breaks and tabs stay): what a person cannot see in the form, they did not mean to send.
pub struct CleanForm(pub Vec<(String, String)>);

impl<S: Send + Sync> axum::extract::FromRequest<S> for CleanForm {
    type Rejection = <axum::Form<Vec<(String, String)>> as axum::extract::FromRequest<S>>::Rejection;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Form(pairs) = axum::Form::<Vec<(String, String)>>::from_request(req, state).await?;
        Ok(CleanForm(
            pairs
                .into_iter()
                .map(|(k, v)| {
                    // A password is what was typed, whatever it holds.
                    let v = if k.contains("password") { v } else { crate::model::text::strip(&v, true) };
                    (crate::model::text::strip(&k, false), v)
                })
                .collect(),
        ))
    }
}
