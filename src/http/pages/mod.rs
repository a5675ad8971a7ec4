//! HTML pages: public policy pages, sign-in, and the staff console (policy editor, entity
//! library, import, export).

mod account;
mod admin;
mod audit;
mod auto;
mod backups;
mod calculator;
pub(crate) mod cases;
pub(crate) mod disclosures;
mod entities;
pub mod forms;
mod imports;
mod inbox;
mod my;
pub(crate) mod payments;
pub use audit::AuditParams;
pub use calculator::grouped;
pub use imports::export_response;
mod policies;
mod public;
mod supervision;

use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::error::AppError;
use super::routes::Routes;

pub fn routes() -> Routes {
    Routes::new()
        .merge(calculator::routes())
        .merge(public::routes())
        .merge(account::routes())
        .merge(policies::routes())
        .merge(entities::routes())
        .merge(imports::routes())
        .merge(my::routes())
        .merge(admin::routes())
        .merge(audit::routes())
        .merge(backups::routes())
        .merge(cases::routes())
        .merge(auto::routes())
        .merge(disclosures::routes())
        .merge(payments::routes())
        .merge(inbox::routes())
        .merge(supervision::routes())
}

/// Percent-encodes a query value (UTF-8 bytes outside the unreserved set).
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A local path to go back to after signing in; anything else becomes `/staff`. Browsers
/// drop tabs and line breaks inside URLs and treat `\` like `/`, so `/\t/evil` or `/\evil`
/// would leave the site: any whitespace, control character or backslash is refused.
pub fn safe_next(next: &str) -> String {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && next.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '\\');
    if local { next.to_string() } else { "/staff".into() }
}

/// An attachment as a download: its type as sniffed at upload, its name in RFC 5987 form.
pub fn attachment_response(file: &crate::model::case::CaseFile, bytes: Vec<u8>) -> Response {
    use axum::http::header;
    let ascii: String =
        file.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect();
    let encoded: String = file.name.bytes().map(|b| format!("%{b:02X}")).collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    ([(header::CONTENT_TYPE, file.content_type.clone()), (header::CONTENT_DISPOSITION, disposition)], bytes)
        .into_response()
}

/// Where a form post lands: a page with a one-line notice.
pub fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// A form shown again with its errors answers 422.
pub fn unprocessable(mut page: Response) -> Response {
    *page.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    page
}

/// Empty strings in query strings mean "no filter".
pub fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let raw = Option::<String>::deserialize(d)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => T::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(s)).map(Some),
    }
}

/// Pages return either a page or an error page.
pub type PageResult = Result<Response, AppError>;

pub use super::error::Reject;

pub type StaffResult = Result<Response, Reject>;

/// An upload that could not be read: too large (413, with the limits), or cut off or malformed.
pub fn upload_error(e: axum::extract::multipart::MultipartError) -> AppError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        AppError::new(e.status(), "上传失败：文件过大（附件每个最多 20 MB，导入文件最多 200 MB）")
    } else {
        AppError::bad_request("上传失败：上传的内容不完整或格式不对，请重新选择文件上传")
    }
}

/// An entity's cases that stand in the way of applying again, by measure (as text, for
/// templates): one under way or approved. Online application offers to continue it instead.
pub fn cases_by_measure(
    cases: &[crate::service::cases::CaseView],
) -> std::collections::BTreeMap<String, serde_json::Value> {
    use crate::model::Vocabulary;
    cases
        .iter()
        .filter(|v| v.case.state.stands())
        .map(|v| {
            let state = v.case.state;
            let value = serde_json::json!({ "id": v.case.id, "state": state.key(), "state_label": state.label() });
            (v.case.measure_id.to_string(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths() {
        assert_eq!(safe_next("/policies?q=1"), "/policies?q=1");
        for evil in
            ["//evil.example", "/\t/evil.example", "/\\evil.example", "https://evil.example", "/ /x", "/\n/x", ""]
        {
            assert_eq!(safe_next(evil), "/staff", "{evil:?}");
        }
    }
}
