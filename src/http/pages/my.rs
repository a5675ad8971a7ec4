//! 企业之家: an enterprise account's entities — the ones it is verified for, its pending and
//! refused binding requests, binding another entity — and each entity's policy matches.

use axum::extract::{Path, Query, State};
use minijinja::{Value, context};
use serde::Deserialize;

use super::account::bind_request;
use super::{PageResult, see_other, unprocessable};
use crate::auth::{Access, Permission, no_own_binding};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::CleanForm;
use crate::http::extract::Viewer;
use crate::http::routes::Routes;
use crate::http::web::to_value;
use crate::model::{BindingStatus, Capacity, CreditCode, Vocabulary};
use crate::service::overview::{MyHome, OwnEntityPage};

type FormData = CleanForm;

pub fn routes() -> Routes {
    let own = Access::Needs(Permission::OwnEntities);
    Routes::new()
        .get("/my", own, my_index)
        .post("/my/bindings", own, my_bindings_create)
        .post("/my/bindings/{code}/leave", own, my_bindings_leave)
        .get("/my/entities/{code}", own, my_entities_show)
}

#[derive(Deserialize, Default)]
struct Notice {
    #[serde(default)]
    notice: String,
}

async fn my_page(state: &AppState, viewer: &Viewer, form: Value, error: Option<String>, notice: &str) -> PageResult {
    viewer.principal()?;
    let MyHome { bindings, entities: summaries } = state.call(viewer, move |s, who| s.my_home(who)).await?;
    let rows: Vec<_> = bindings
        .iter()
        .map(|b| {
            serde_json::json!({
                "code": b.credit_code, "name": b.entity_name, "capacity": b.capacity.label(),
                "status": b.status.key(), "status_label": b.status.label(), "note": b.note,
                "requested": b.requested_at.display_cst(),
            })
        })
        .collect();
    let capacities: Vec<_> = Capacity::ALL.iter().map(|c| (c.key(), c.label())).collect();
    let page = viewer.render(
        "my.html",
        context! {
            entities => to_value(&summaries),
            bindings => to_value(&rows),
            f => form,
            error,
            notice,
            capacities,
        },
    )?;
    Ok(page)
}

async fn my_index(State(state): State<AppState>, viewer: Viewer, Query(n): Query<Notice>) -> PageResult {
    my_page(&state, &viewer, context! { capacity => "agent" }, None, &n.notice).await
}

async fn my_bindings_create(State(state): State<AppState>, viewer: Viewer, CleanForm(form): FormData) -> PageResult {
    let values = to_value(super::forms::submitted_values(&form));
    if let Err(e) = state.attempt(&viewer.ip) {
        let mut p = my_page(&state, &viewer, values, Some(e.message), "").await?;
        *p.status_mut() = e.status;
        return Ok(p);
    }
    let user_id = viewer.principal()?.user.id;
    let request = bind_request(&form);
    let ip = viewer.ip.clone();
    match state.auth_blocking(move |a| a.binding_request(user_id, &request, &ip)).await {
        Ok(b) if b.status == BindingStatus::Verified => Ok(see_other("/my?notice=bound")),
        Ok(_) => Ok(see_other("/my?notice=requested")),
        Err(e) => {
            let e = AppError::from(e);
            Ok(unprocessable(my_page(&state, &viewer, values, Some(e.message), "").await?))
        }
    }
}

async fn my_bindings_leave(State(state): State<AppState>, viewer: Viewer, Path(code): Path<String>) -> PageResult {
    let (user_id, who) = (viewer.principal()?.user.id, viewer.who());
    let code = CreditCode::parse(&code).map_err(|_| no_own_binding())?;
    state.auth_blocking(move |a| a.binding_leave(&who, user_id, &code)).await?;
    Ok(see_other("/my?notice=left"))
}

async fn my_entities_show(State(state): State<AppState>, viewer: Viewer, Path(code): Path<String>) -> PageResult {
    let code = viewer.own_entity(&code)?;
    // The enterprise's own data: nothing masked.
    let who = viewer.who();
    let OwnEntityPage { file, matches, cases, unread } =
        state.svc.blocking(move |s| s.own_entity_page(&who, &code)).await?;
    viewer.render(
        "my_entity.html",
        context! {
            name => file.entity.display_name(),
            e => to_value(&file.entity),
            fields => to_value(&file.fields),
            results => to_value(super::grouped(&matches)),
            under_way => to_value(super::cases_by_measure(&cases)),
            cases => to_value(&cases),
            unread,
            ..super::public::vocabularies()
        },
    )
}
