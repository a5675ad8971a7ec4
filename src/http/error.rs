//! The HTTP edge's errors: JSON for the API, an HTML page for people. 5xx are logged with
//! detail and shown without internals; 4xx say, in Chinese, what to fix.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::web;
use crate::auth::AuthError;
use crate::model::FieldError;
use crate::service::ServiceError;

#[derive(Debug, Clone)]
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

/// Messages echo what was sent; they are cut so that an answer never carries a huge value back.
const MAX_MESSAGE_CHARS: usize = 1000;

fn bounded(mut e: AppError) -> AppError {
    use crate::model::text::excerpt;
    e.message = excerpt(&e.message, MAX_MESSAGE_CHARS);
    e.fields.truncate(100);
    for f in &mut e.fields {
        f.field = excerpt(&f.field, 200);
        f.message = excerpt(&f.message, MAX_MESSAGE_CHARS);
    }
    e
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = bounded(self.0);
        (e.status, Json(json!({ "error": e.message, "status": e.status.as_u16(), "fields": e.fields }))).into_response()
    }
}

/// The longest path and query served; longer ones get 414 in the documented shape (the HTTP
/// layer itself refuses lines over 64 KiB before any of this runs: see `http::shape`).
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Whether answers on this path are for machines (JSON errors) rather than people (pages).
pub fn for_machines(path: &str) -> bool {
    path.starts_with("/api/") || path == "/metrics"
}

/// What went wrong, in Chinese, for a refusal that axum made itself (an extractor, a body limit,
/// an unknown method or path), from its status and its English text.
fn message_for(status: StatusCode, text: &str, method: &Method, allow: Option<&str>, machine: bool) -> AppError {
    use crate::model::text::excerpt;
    let detail = excerpt(text.trim(), 200);
    let mut e = match status {
        StatusCode::NOT_FOUND if machine => AppError::new(status, "没有这个接口，请查看 README 中的 API 说明"),
        StatusCode::NOT_FOUND => AppError::not_found(),
        StatusCode::METHOD_NOT_ALLOWED => {
            AppError::new(status, format!("此地址不支持 {method} 请求（支持：{}）", allow.unwrap_or("见 API 说明")))
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::new(status, "请求内容过大：附件每个最多 20 MB，导入文件最多 200 MB，其他请求最多 2 MB")
        }
        StatusCode::URI_TOO_LONG => {
            AppError::new(status, format!("地址过长（最多 {} KB），请缩短查询条件", MAX_URI_BYTES / 1024))
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE if machine => {
            AppError::new(status, format!("请求的 Content-Type 不对（{detail}）：JSON 请求请用 application/json"))
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::new(status, "表单的提交方式不对，请在页面上重新提交"),
        _ if text.starts_with("Failed to deserialize query string") => {
            let field = text.split_once(": ").and_then(|(_, rest)| rest.split_once(':')).map(|(f, _)| f.trim());
            let mut e = AppError::new(
                StatusCode::BAD_REQUEST,
                match field {
                    Some(f) => {
                        format!("查询参数「{}」的值格式不对（{detail}），请检查地址中 ? 后面的参数", excerpt(f, 40))
                    }
                    None => format!("查询参数格式不对（{detail}），请检查地址中 ? 后面的参数"),
                },
            );
            if let Some(f) = field {
                e.fields.push(FieldError::new(f, e.message.clone()));
            }
            e
        }
        _ if text.starts_with("Invalid URL") || text.starts_with("Wrong number of path arguments") => AppError::new(
            StatusCode::BAD_REQUEST,
            format!("地址中的参数格式不对（{detail}）：编号应为正整数，代码应为字母和数字"),
        ),
        _ if text.contains("request body") || text.contains("multipart") || text.contains("form") => {
            AppError::new(status, format!("请求内容不完整或格式不对（{detail}），请检查后重新提交"))
        }
        _ if status.is_server_error() => AppError::new(status, "服务器内部错误，已记录。请稍后重试，或联系管理员"),
        _ => AppError::new(status, format!("请求未被接受（{detail}）")),
    };
    e.message = excerpt(&e.message, MAX_MESSAGE_CHARS);
    e
}

/// Every refusal in its documented shape: JSON `{error, status, fields}` for machines, an error
/// page for people. Handlers already answer so; refusals that axum makes itself (extractors,
/// body limits, unknown methods) arrive as plain text and are rewritten here. Over-long
/// addresses are refused before routing.
pub async fn shape_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let machine = for_machines(&path);
    let method = req.method().clone();
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI_BYTES {
        let e = message_for(StatusCode::URI_TOO_LONG, "", &method, None, machine);
        return if machine { ApiError(e).into_response() } else { page(e) };
    }
    let response = ErrorPage::render(next.run(req).await);
    let status = response.status();
    if status.as_u16() < 400 || path == "/healthz" {
        return response;
    }
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let shaped =
        if machine { content_type.starts_with("application/json") } else { content_type.starts_with("text/html") };
    if shaped {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let text = match axum::body::to_bytes(response.into_body(), 64 * 1024).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    };
    let e = message_for(status, &text, &method, allow.as_ref().and_then(|a| a.to_str().ok()), machine);
    let mut out = if machine { ApiError(e).into_response() } else { page(e) };
    if let Some(a) = allow {
        out.headers_mut().insert(header::ALLOW, a);
    }
    out
}

/// A whole HTTP/1.1 response, in the documented shape, for a request the HTTP layer refused by
/// itself (see `http::conn`); the connection closes after it.
pub fn bare_refusal_bytes(status: StatusCode, machine: bool) -> Vec<u8> {
    let e = match status {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            AppError::new(status, "请求头过大（Cookie 或其他请求头太长）：请清除本站的 Cookie 后重试")
        }
        StatusCode::URI_TOO_LONG => message_for(status, "", &Method::GET, None, machine),
        _ => AppError::new(status, "请求格式不对，无法解析（HTTP 请求行或请求头有误）"),
    };
    let (content_type, body) = if machine {
        let body = json!({ "error": e.message, "status": status.as_u16(), "fields": [] });
        ("application/json", body.to_string())
    } else {
        let ctx = minijinja::context! {
            tr => web::strings(web::Lang::Zh), lang => "zh", path => "", status => status.as_u16(),
            message => e.message.clone(), fields => web::to_value(&e.fields),
        };
        ("text/html; charset=utf-8", web::render("error.html", ctx).unwrap_or_else(|_| e.message.clone()))
    };
    let mut out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes();
    out.extend(body.into_bytes());
    out
}

/// 405 with the methods the path does answer to.
pub fn method_not_allowed(machine: bool, method: &Method, allowed: &[Method]) -> Response {
    let mut names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    if names.contains(&"GET") {
        names.push("HEAD");
    }
    let allow = names.join(", ");
    let e = message_for(StatusCode::METHOD_NOT_ALLOWED, "", method, Some(&allow), machine);
    let mut out = if machine { ApiError(e).into_response() } else { e.into_response() };
    if let Ok(v) = HeaderValue::from_str(&allow) {
        out.headers_mut().insert(header::ALLOW, v);
    }
    out
}

/// An error shown to a person as a page.
impl IntoResponse for AppError {
    /// An error page to be rendered once, on its way out, by `shape_errors` — inside the
    /// caller's top bar when the guard knew the caller (see `ErrorPage::render`).
    fn into_response(self) -> Response {
        let e = bounded(self);
        let mut out = (e.status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")]).into_response();
        out.extensions_mut().insert(ErrorPage(e));
        out
    }
}

/// The error an error page shows, carried on the response until `shape_errors` renders it with
/// the `Viewer` the guard left beside it (an anonymous page when there is none).
#[derive(Clone)]
pub struct ErrorPage(pub AppError);

impl ErrorPage {
    /// The page of a response that carries one; any other response as it is.
    pub fn render(response: Response) -> Response {
        let Some(ErrorPage(e)) = response.extensions().get::<ErrorPage>().cloned() else {
            return response;
        };
        let extra = minijinja::context! {
            status => e.status.as_u16(),
            message => e.message.clone(),
            fields => web::to_value(&e.fields),
        };
        let ctx = match response.extensions().get::<super::extract::Viewer>() {
            Some(viewer) => viewer.ctx(extra),
            None => minijinja::context! { tr => web::strings(web::Lang::Zh), lang => "zh", path => "", ..extra },
        };
        let mut out = match web::render("error.html", ctx) {
            Ok(html) => (e.status, Html(html)).into_response(),
            Err(err) => {
                tracing::error!("error page failed to render: {err:#}");
                (e.status, e.message).into_response()
            }
        };
        for (name, value) in response.headers() {
            if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
                out.headers_mut().append(name.clone(), value.clone());
            }
        }
        out
    }
}

/// An error page for a person, rendered now (outside any caller's context).
fn page(e: AppError) -> Response {
    ErrorPage::render(e.into_response())
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
