//! The HTTP edge's errors: JSON for the API, an HTML page for people. 5xx are logged with
//! detail and shown without internals; 4xx say, in Chinese, what to fix.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::web;
use crate::auth::AuthError;
use crate::model::FieldError;
use crate::service::ServiceError;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub message: String,
    pub fields: Vec<FieldError>,
}

impl AppError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> AppError {
        AppError { status, message: message.into(), fields: Vec::new() }
    }

    pub fn bad_request(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found() -> AppError {
        AppError::new(StatusCode::NOT_FOUND, "页面不存在")
    }

    pub fn unauthorized() -> AppError {
        AppError::new(StatusCode::UNAUTHORIZED, "请先登录（API 调用请在 Authorization 头中提供 Bearer 令牌）")
    }

    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(StatusCode::FORBIDDEN, message)
    }

    fn internal(detail: impl std::fmt::Display) -> AppError {
        tracing::error!("internal error: {detail}");
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "服务器内部错误，已记录。请稍后重试，或联系管理员")
    }
}

impl From<ServiceError> for AppError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Invalid(fields) => AppError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: fields.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("；"),
                fields,
            },
            ServiceError::NotFound(m) => AppError::new(StatusCode::NOT_FOUND, m),
            ServiceError::Conflict(m) => AppError::new(StatusCode::CONFLICT, m),
            ServiceError::Unauthorized(m) => AppError::new(StatusCode::UNAUTHORIZED, m),
            ServiceError::Forbidden(m) => AppError::new(StatusCode::FORBIDDEN, m),
            other => AppError::internal(other),
        }
    }
}

impl From<AuthError> for AppError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::BadCredentials | AuthError::Locked | AuthError::Disabled => {
                AppError::new(StatusCode::UNAUTHORIZED, e.to_string())
            }
            AuthError::Delayed(_) => AppError::new(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
            AuthError::Invalid(m) => AppError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            AuthError::NotFound(m) => AppError::new(StatusCode::NOT_FOUND, m),
            AuthError::Forbidden(m) => AppError::new(StatusCode::FORBIDDEN, m),
            other => AppError::internal(other),
        }
    }
}

impl From<minijinja::Error> for AppError {
    fn from(e: minijinja::Error) -> Self {
        AppError::internal(format!("template: {e:#}"))
    }
}

/// An error for an API caller: `{"error": "...", "fields": [...]}`.
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        (e.status, Json(json!({ "error": e.message, "status": e.status.as_u16(), "fields": e.fields }))).into_response()
    }
}

/// An error shown to a person as a page.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let ctx = minijinja::context! {
            tr => web::strings(web::Lang::Zh),
            lang => "zh",
            path => "",
            status => self.status.as_u16(),
            message => self.message.clone(),
            fields => web::to_value(&self.fields),
        };
        match web::render("error.html", ctx) {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!("error page failed to render: {e:#}");
                (self.status, self.message).into_response()
            }
        }
    }
}

/// Why a staff page did not render: an error page, or a redirect to sign in.
pub struct Reject(Box<Response>);

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl From<Response> for Reject {
    fn from(r: Response) -> Self {
        Reject(Box::new(r))
    }
}

impl From<AppError> for Reject {
    fn from(e: AppError) -> Self {
        Reject(Box::new(e.into_response()))
    }
}

impl From<ServiceError> for Reject {
    fn from(e: ServiceError) -> Self {
        AppError::from(e).into()
    }
}

impl From<AuthError> for Reject {
    fn from(e: AuthError) -> Self {
        AppError::from(e).into()
    }
}
