//! An entity's inbox (站内信) and subscription: what the platform sends it, how it wants it
//! (categories, departments, channels), and what went out by e-mail and SMS.

use axum::extract::{Path, Query, State};
use minijinja::context;

use super::cases::Notice;
use super::{PageResult, see_other, unprocessable};
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{CleanForm, Viewer, form_value};
use crate::http::routes::Routes;
use crate::http::web::to_value;
use crate::model::{CreditCode, Vocabulary};
use crate::service::inbox::SubscriptionPage;

pub fn routes() -> Routes {
    let own = Access::Needs(Permission::OwnEntities);
    Routes::new()
        .get("/my/entities/{code}/inbox", own, inbox_show)
        .post("/my/entities/{code}/inbox/{id}/read", own, inbox_read)
        .get("/my/entities/{code}/subscription", own, subscription_show)
        .post("/my/entities/{code}/subscription", own, subscription_set)
}

async fn inbox_show(State(state): State<AppState>, viewer: Viewer, Path(code): Path<String>) -> PageResult {
    let code = viewer.own_entity(&code)?;
    let inbox = state.call(&viewer, move |s, who| s.inbox(who, &code, 200)).await?;
    viewer.render(
        "inbox.html",
        context! { code => inbox.code, messages => to_value(&inbox.messages), unread => inbox.unread },
    )
}

async fn inbox_read(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((code, id)): Path<(String, u64)>,
) -> PageResult {
    let code = viewer.own_entity(&code)?;
    let (who, c) = (viewer.who(), code.clone());
    let m = state.svc.blocking(move |s| s.inbox_read(&who, &c, id)).await?;
    Ok(match m.case_id {
        Some(case) => see_other(&format!("/cases/{case}")),
        None => match m.measure_id {
            Some(measure) => see_other(&format!("/measures/{measure}")),
            None => see_other(&format!("/my/entities/{code}/inbox")),
        },
    })
}

async fn subscription_page(
    state: &AppState,
    viewer: &Viewer,
    code: CreditCode,
    notice: &str,
    error: Option<String>,
) -> PageResult {
    let (c, who) = (code.clone(), viewer.who());
    let SubscriptionPage { subscription: sub, departments, deliveries } =
        state.svc.blocking(move |s| s.subscription_page(&who, &c, 50)).await?;
    let categories: Vec<_> = crate::model::Category::ALL.iter().map(|c| (c.key(), c.label())).collect();
    let deliveries: Vec<_> = deliveries
        .iter()
        .map(|d| {
            serde_json::json!({
                "channel": d.channel.label(), "subject": d.subject, "status": d.status.key(),
                "status_label": d.status.label(), "attempts": d.attempts, "sent_at": d.sent_at,
                "created_at": d.created_at,
            })
        })
        .collect();
    viewer.render(
        "subscription.html",
        context! {
            code => code.as_str(), notice, error,
            sub => to_value(&sub),
            categories => to_value(&categories),
            departments => to_value(&departments),
            deliveries => to_value(&deliveries),
        },
    )
}

async fn subscription_show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
    Query(n): Query<Notice>,
) -> PageResult {
    let code = viewer.own_entity(&code)?;
    subscription_page(&state, &viewer, code, &n.notice, None).await
}

async fn subscription_set(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
    CleanForm(form): CleanForm,
) -> PageResult {
    let code = viewer.own_entity(&code)?;
    let mut categories = Vec::new();
    for (k, v) in &form {
        if k == "category" {
            match crate::model::Category::parse(v) {
                Some(c) => categories.push(c),
                None => return Err(AppError::bad_request(format!("类别「{v}」无效"))),
            }
        }
    }
    let sub = crate::model::push::Subscription {
        categories,
        departments: form.iter().filter(|(k, _)| k == "department").map(|(_, v)| v.clone()).collect(),
        muted: form_value(&form, "muted") == "yes",
        no_email: form_value(&form, "no_email") == "yes",
        no_sms: form_value(&form, "no_sms") == "yes",
    };
    let (who, c) = (viewer.who(), code.clone());
    match state.svc.blocking(move |s| s.subscription_set(&who, &c, sub)).await {
        Ok(_) => Ok(see_other(&format!("/my/entities/{code}/subscription?notice=saved"))),
        Err(e) => {
            Ok(unprocessable(subscription_page(&state, &viewer, code, "", Some(AppError::from(e).message)).await?))
        }
    }
}
