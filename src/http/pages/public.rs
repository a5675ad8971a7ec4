//! Public pages: home, the policy list with filters and search, policy and measure detail,
//! version history, and the language switch.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{Value, context};
use serde::Deserialize;

use super::{PageResult, safe_next};
use crate::auth::Access;
use crate::http::AppState;
use crate::http::extract::{LANG_COOKIE, Viewer};
use crate::http::params::PolicyListParams;
use crate::http::routes::Routes;
use crate::http::web::Lang;
use crate::http::web::to_value;
use crate::model::{Category, Level, MeasureId, Mode, Vocabulary};
use crate::service::overview::PolicyIndexPage;
use crate::service::policies::Audience;

pub fn routes() -> Routes {
    Routes::new()
        .get("/", Access::Public, home_show)
        .get("/policies", Access::Public, policies_index)
        .get("/policies/{id}", Access::Public, policies_show)
        .get("/measures/{id}", Access::Public, measures_show)
        .get("/measures/{id}/versions", Access::Public, measures_versions)
        .get("/lang/{code}", Access::Public, lang_switch)
        .get("/rules", Access::Public, rules_help)
}

/// The choice lists every filter form shows.
pub fn vocabularies() -> Value {
    fn list<V: Vocabulary>() -> Vec<(&'static str, &'static str, &'static str)> {
        V::ALL.iter().map(|v| (v.key(), v.label(), v.label_en())).collect()
    }
    context! {
        levels => list::<Level>(),
        categories => list::<Category>(),
        modes => list::<Mode>(),
    }
}

async fn home_show(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let home = state.svc.blocking(|s| s.home_page()).await?;
    viewer.render(
        "home.html",
        context! { stats => to_value(&home.stats), latest => to_value(&home.latest), ..vocabularies() },
    )
}

async fn policies_index(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(params): Query<PolicyListParams>,
) -> PageResult {
    policy_index(&state, &viewer, &params, Audience::Public).await
}

/// The policy library searched: the public page, or the staff's list with drafts.
pub(super) async fn policy_index(
    state: &AppState,
    viewer: &Viewer,
    params: &PolicyListParams,
    audience: Audience,
) -> PageResult {
    let query = params.query();
    let q = query.clone();
    let PolicyIndexPage { results, departments } =
        state.svc.blocking(move |s| s.policy_index_page(&q, audience)).await?;
    let measure_count: usize = results.iter().map(|p| p.measures.len()).sum();
    let template = match audience {
        Audience::Staff => "staff_policies.html",
        Audience::Public => "policies.html",
    };
    viewer.render(
        template,
        context! {
            results => to_value(&results),
            measure_count,
            departments,
            query => to_value(&query),
            ..vocabularies()
        },
    )
}

async fn policies_show(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> PageResult {
    let audience = if viewer.is_staff() { Audience::Staff } else { Audience::Public };
    let policy = state.svc.blocking(move |s| s.policy_get(id, audience)).await?;
    viewer.render("policy.html", context! { p => to_value(&policy), ..vocabularies() })
}

async fn measures_show(State(state): State<AppState>, viewer: Viewer, Path(id): Path<MeasureId>) -> PageResult {
    let page = state.call(&viewer, move |s, who| s.measure_page(who, id)).await?;
    viewer.render(
        "measure.html",
        context! {
            m => to_value(&page.measure), policy => to_value(&page.policy), sim => to_value(&page.simulation), may_list => page.may_list,
            actions => to_value(page.actions), apply_options => to_value(&page.apply_options),
            auto_lists => to_value(&page.auto_lists), money => to_value(&page.money), ..vocabularies()
        },
    )
}

async fn measures_versions(State(state): State<AppState>, viewer: Viewer, Path(id): Path<MeasureId>) -> PageResult {
    let page = state.call(&viewer, move |s, who| s.versions_page(who, id)).await?;
    viewer.render(
        "versions.html",
        context! {
            versions => to_value(&page.versions),
            m => to_value(&page.measure),
            policy => to_value(&page.policy),
            ..vocabularies()
        },
    )
}

#[derive(Deserialize)]
struct NextParam {
    #[serde(default)]
    next: String,
}

async fn lang_switch(Path(code): Path<String>, Query(next): Query<NextParam>) -> Response {
    let lang = Lang::from_code(&code).unwrap_or(Lang::Zh);
    let target = if next.next.is_empty() { "/".to_string() } else { safe_next(&next.next) };
    let cookie = format!("{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax", lang.code());
    ([(header::SET_COOKIE, cookie)], Redirect::to(&target)).into_response()
}

/// The rules language and the field catalogue, for staff writing conditions and for anyone
/// curious how decisions are made.
async fn rules_help(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let tags = state.svc.blocking(|s| s.tags()).await?;
    let fields = crate::rules::catalog::entries();
    viewer.render("rules.html", context! { fields => to_value(&fields), tags => to_value(&tags) })
}
