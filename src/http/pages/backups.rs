//! The backup page for system administrators: the backups kept, the schedule, and a button
//! that makes one now. Downloads go through the API route (`/api/v1/backups/{name}`).

use axum::extract::{Query, State};
use minijinja::context;
use serde::Deserialize;

use super::{PageResult, see_other};
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::Viewer;
use crate::http::routes::Routes;
use crate::http::web::to_value;
use crate::service::backup::time_of;

pub fn routes() -> Routes {
    let backup = Access::Needs(Permission::Backup);
    Routes::new().get("/admin/backups", backup, backups_index).post("/admin/backups", backup, backups_create)
}

/// A size as people read it: `532 KB`, `1.4 GB`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    if bytes < 1024 {
        format!("{bytes} B")
    } else if size < 10.0 {
        format!("{size:.1} {}", UNITS[unit])
    } else {
        format!("{size:.0} {}", UNITS[unit])
    }
}

async fn backups_page(state: &AppState, viewer: &Viewer, notice: Option<String>, error: Option<String>) -> PageResult {
    let list = state.svc.blocking(|s| s.backups()).await?;
    let rows: Vec<_> = list
        .iter()
        .map(|b| {
            let at = b.created_at.display_cst();
            serde_json::json!({
                "name": b.name, "time": at.get(..16).unwrap_or(&at), "size": human_size(b.size),
                "verified": b.verified,
            })
        })
        .collect();
    let settings = &state.svc.config.backup;
    let dir = state.svc.backup_dir().display().to_string();
    viewer.render(
        "backups.html",
        context! {
            rows => to_value(&rows), dir, keep => settings.keep, every_hours => settings.every_hours, notice, error,
        },
    )
}

#[derive(Deserialize, Default)]
struct Made {
    #[serde(default)]
    made: String,
}

async fn backups_index(State(state): State<AppState>, viewer: Viewer, Query(q): Query<Made>) -> PageResult {
    let notice = time_of(&q.made).map(|_| q.made);
    backups_page(&state, &viewer, notice, None).await
}

/// 立即备份: makes one, then shows the list with it.
async fn backups_create(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    match state.call(&viewer, move |s, who| s.backup_create(who)).await {
        Ok(made) => Ok(see_other(&format!("/admin/backups?made={}", made.name))),
        Err(e) => {
            let e = AppError::from(e);
            let mut shown = backups_page(&state, &viewer, None, Some(e.message)).await?;
            *shown.status_mut() = e.status;
            Ok(shown)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(super::human_size(532), "532 B");
        assert_eq!(super::human_size(544_768), "532 KB");
        assert_eq!(super::human_size(1_503_238_553), "1.4 GB");
    }
}
