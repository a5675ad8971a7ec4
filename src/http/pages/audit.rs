//! The audit trail for those who read it: search with filters, CSV export, chain verification.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use minijinja::context;
use serde::Deserialize;

use super::PageResult;
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::Viewer;
use crate::http::routes::Routes;
use crate::http::web::to_value;
use crate::model::{Timestamp, audit};
use crate::service::audit::AuditFilter;

pub fn routes() -> Routes {
    let audit = Access::Needs(Permission::AuditRead);
    Routes::new().get("/admin/audit", audit, audit_index).get("/admin/audit/export.csv", audit, audit_export).get(
        "/admin/audit/verify",
        audit,
        audit_verify,
    )
}

#[derive(Deserialize, Default, Clone, serde::Serialize)]
pub struct AuditParams {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub before: Option<u64>,
}

impl AuditParams {
    /// The store filter; dates are whole days in China Standard Time.
    pub fn filter(&self) -> Result<AuditFilter, AppError> {
        let day = |text: &str, next: bool| -> Result<Option<Timestamp>, AppError> {
            let t = text.trim();
            if t.is_empty() {
                return Ok(None);
            }
            let d = crate::model::Date::parse(t).map_err(|e| AppError::bad_request(format!("日期：{e}")))?;
            let d = if next { d.add_days(1) } else { d };
            Ok(Some(Timestamp(i64::from(d.days()) * 86_400_000 - 8 * 3_600_000)))
        };
        let some = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        Ok(AuditFilter {
            actor: some(&self.actor),
            action: some(&self.action),
            target: some(&self.target),
            from: day(&self.from, false)?,
            until: day(&self.to, true)?,
            before_seq: self.before,
        })
    }
}

async fn audit_index(State(state): State<AppState>, viewer: Viewer, Query(p): Query<AuditParams>) -> PageResult {
    let filter = p.filter()?;
    let page = state.svc.blocking(move |s| s.audit_search(&filter, 100)).await?;
    let en = viewer.lang == crate::http::web::Lang::En;
    let rows: Vec<_> = page
        .entries
        .iter()
        .map(|e| {
            serde_json::json!({
                "seq": e.seq, "at": e.at.display_cst(), "actor": e.actor, "role": audit::role_label(&e.role, en),
                "ip": e.ip, "action": e.action, "action_label": audit::action_label(&e.action, en),
                "target": e.target, "detail": audit::detail_label(&e.action, &e.detail, en),
                "before": e.before.as_deref().map(|h| &h[..12.min(h.len())]),
                "after": e.after.as_deref().map(|h| &h[..12.min(h.len())]),
            })
        })
        .collect();
    let mut more = p.clone();
    more.before = page.next_before;
    let more = page.next_before.map(|_| serde_urlencoded::to_string(&more).unwrap_or_default());
    let export = serde_urlencoded::to_string(AuditParams { before: None, ..p.clone() }).unwrap_or_default();
    viewer.render(
        "audit.html",
        context! { rows => to_value(&rows), f => to_value(&p), more, export, actions => audit::action_choices(en) },
    )
}

async fn audit_export(State(state): State<AppState>, viewer: Viewer, Query(p): Query<AuditParams>) -> PageResult {
    let filter = p.filter()?;
    let bytes = state.call(&viewer, move |s, who| s.audit_export_logged(who, &filter)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"huiqi-audit.csv\"".to_string()),
        ],
        bytes,
    )
        .into_response())
}

async fn audit_verify(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let report = state.svc.blocking(|s| s.audit_verify()).await?;
    viewer.render("audit_verify.html", context! { report => to_value(&report) })
}
