//! The staff policy editor: policies, measures, drafts, publishing.

use axum::extract::{Path, Query, State};
use minijinja::{Value, context};

use super::forms::{measure_values, parse_measure, parse_policy, policy_values, submitted_values};
use super::public::vocabularies;
use super::{StaffResult, see_other, unprocessable};
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::CleanForm;
use crate::http::extract::{Viewer, form_value};
use crate::http::params::PolicyListParams;
use crate::http::routes::Routes;
use crate::http::web::to_value;
use crate::model::policy::FORM_FIELD_KINDS;
use crate::model::{FieldError, MeasureId};
use crate::service::ServiceError;
use crate::service::overview::{MeasureFormFor, MeasureFormPage};
use crate::service::policies::Audience;

type FormData = CleanForm;

pub fn routes() -> Routes {
    let draft = Access::Needs(Permission::PolicyDraft);
    Routes::new()
        .get("/staff/policies", draft, policies_index)
        .post("/staff/policies", draft, policies_create)
        .get("/staff/policies/new", draft, policies_new)
        .post("/staff/policies/{id}", draft, policies_update)
        .get("/staff/policies/{id}/edit", draft, policies_edit)
        .post("/staff/policies/{id}/measures", draft, measures_create)
        .get("/staff/policies/{id}/measures/new", draft, measures_new)
        .post("/staff/measures/{id}", draft, measures_update)
        .get("/staff/measures/{id}/edit", draft, measures_edit)
        .get("/staff/measures/{id}/simulation.csv", Access::Needs(Permission::SimulateList), measures_simulation_csv)
        .post("/staff/measures/{id}/publish", Access::Needs(Permission::PolicyPublish), measures_publish)
        .post("/staff/measures/{id}/request-publication", Access::Needs(Permission::PolicyDraft), measures_request)
        .post("/staff/measures/{id}/refuse", Access::Needs(Permission::PolicyPublish), measures_refuse)
        .post("/staff/measures/{id}/withdraw", Access::Needs(Permission::PolicyPublish), measures_withdraw)
        .post("/staff/measures/{id}/discard", draft, measures_discard)
}

async fn policies_index(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(params): Query<PolicyListParams>,
) -> StaffResult {
    Ok(super::public::policy_index(&state, &viewer, &params, Audience::Staff).await?)
}

fn policy_form(viewer: &Viewer, id: Option<u64>, values: Value, errors: &[FieldError]) -> StaffResult {
    Ok(viewer.render("policy_form.html", context! { id, f => values, errors => to_value(errors), ..vocabularies() })?)
}

/// Shows the form again with the errors when the service refuses the input.
fn refused(e: ServiceError, again: impl FnOnce(&[FieldError]) -> StaffResult) -> StaffResult {
    match e {
        ServiceError::Invalid(errors) => Ok(unprocessable(again(&errors)?)),
        other => Err(other.into()),
    }
}

async fn policies_new(viewer: Viewer) -> StaffResult {
    policy_form(&viewer, None, context! { level => "county" }, &[])
}

async fn policies_create(State(state): State<AppState>, viewer: Viewer, CleanForm(form): FormData) -> StaffResult {
    let values = to_value(submitted_values(&form));
    let input = match parse_policy(&form) {
        Ok(i) => i,
        Err(errors) => {
            return refused(ServiceError::Invalid(errors), |e| policy_form(&viewer, None, values, e));
        }
    };
    match state.call(&viewer, move |s, who| s.policy_create(who, input)).await {
        Ok(p) => Ok(see_other(&format!("/policies/{}", p.id))),
        Err(e) => refused(e, |errs| policy_form(&viewer, None, values, errs)),
    }
}

async fn policies_edit(State(state): State<AppState>, viewer: Viewer, Path(id): Path<u64>) -> StaffResult {
    let p = state.svc.blocking(move |s| s.policy_get(id, Audience::Staff)).await?;
    policy_form(&viewer, Some(id), to_value(policy_values(&p.policy.content)), &[])
}

async fn policies_update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<u64>,
    CleanForm(form): FormData,
) -> StaffResult {
    let values = to_value(submitted_values(&form));
    let input = match parse_policy(&form) {
        Ok(i) => i,
        Err(errors) => {
            return refused(ServiceError::Invalid(errors), |e| policy_form(&viewer, Some(id), values, e));
        }
    };
    match state.call(&viewer, move |s, who| s.policy_update(who, id, input)).await {
        Ok(_) => Ok(see_other(&format!("/policies/{id}"))),
        Err(e) => refused(e, |errs| policy_form(&viewer, Some(id), values, errs)),
    }
}

/// The measure form: empty for a new measure (with `values` as defaults), the draft's values
/// for an edit, or what was submitted (`values`) with the service's complaints.
async fn measure_form(
    state: &AppState,
    viewer: &Viewer,
    what: MeasureFormFor,
    values: Option<Value>,
    errors: &[FieldError],
) -> StaffResult {
    let MeasureFormPage { policy, measure, departments, tags } =
        state.svc.blocking(move |s| s.measure_form_page(what)).await?;
    let values = values.unwrap_or_else(|| to_value(measure.as_ref().map(|m| measure_values(&m.spec))));
    let measure_id = match what {
        MeasureFormFor::Edit(id) => Some(id),
        MeasureFormFor::New { .. } => None,
    };
    let fields = crate::rules::catalog::entries();
    let builder = builder_data(&fields, &tags);
    Ok(viewer.render(
        "measure_form.html",
        context! {
            policy => to_value(&policy),
            measure_id => measure_id.map(MeasureId::get),
            f => values,
            errors => to_value(errors),
            departments,
            tags => to_value(&tags),
            catalog => to_value(&fields),
            builder => builder,
            form_kinds => FORM_FIELD_KINDS.to_vec(),
            ..vocabularies()
        },
    )?)
}

/// What the rule builder's pickers offer, as JSON for the page's script: fields with types
/// and values, tags, Heilongjiang's regions as prefixes, industry sections, divisions and groups.
fn builder_data(fields: &[crate::rules::catalog::CatalogEntry], tags: &[crate::model::TagDef]) -> String {
    use crate::model::reference::{self, IndustryLevel, RegionLevel};
    let regions: Vec<(String, String)> = reference::regions()
        .filter(|r| r.code.starts_with("23") && r.name != "市辖区")
        .map(|r| {
            let prefix = match r.level {
                RegionLevel::Province => r.code[..2].to_string(),
                RegionLevel::City => r.code[..4].to_string(),
                RegionLevel::County => r.code.clone(),
            };
            (prefix, reference::region_full_name(&r.code))
        })
        .collect();
    let industries: Vec<(String, String)> = reference::industries()
        .filter(|i| i.level != IndustryLevel::Class)
        .map(|i| (i.code.clone(), i.name.clone()))
        .collect();
    let tags: Vec<(&str, &str)> = tags.iter().map(|t| (t.key.as_str(), t.label.as_str())).collect();
    // Embedded in a <script type="application/json">: no `<`, `>` or `&` may appear raw (they
    // only occur inside JSON strings, where the \u escapes mean the same).
    serde_json::json!({ "fields": fields, "tags": tags, "regions": regions, "industries": industries })
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

async fn measures_new(State(state): State<AppState>, viewer: Viewer, Path(policy_id): Path<u64>) -> StaffResult {
    let department = viewer.principal.as_ref().and_then(|p| p.user.department.clone());
    let values = context! { category => "subsidy", mode => "apply", publicity_days => "5", department };
    measure_form(&state, &viewer, MeasureFormFor::New { policy: policy_id }, Some(values), &[]).await
}

async fn measures_create(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(policy_id): Path<u64>,
    CleanForm(form): FormData,
) -> StaffResult {
    measure_save(&state, &viewer, MeasureFormFor::New { policy: policy_id }, &form).await
}

/// Creates (no `measure_id`) or edits a measure from the form; shows the form again when refused.
async fn measure_save(
    state: &AppState,
    viewer: &Viewer,
    what: MeasureFormFor,
    form: &[(String, String)],
) -> StaffResult {
    let result = match parse_measure(form) {
        Ok(spec) => {
            state
                .call(viewer, move |s, who| match what {
                    MeasureFormFor::Edit(id) => s.measure_update(who, id, spec),
                    MeasureFormFor::New { policy } => s.measure_create(who, policy, spec),
                })
                .await
        }
        Err(errors) => Err(ServiceError::Invalid(errors)),
    };
    match result {
        Ok(v) => Ok(see_other(&format!("/measures/{}", v.measure_id))),
        Err(ServiceError::Invalid(errors)) => {
            let values = to_value(submitted_values(form));
            Ok(unprocessable(measure_form(state, viewer, what, Some(values), &errors).await?))
        }
        Err(e) => Err(e.into()),
    }
}

async fn measures_edit(State(state): State<AppState>, viewer: Viewer, Path(id): Path<MeasureId>) -> StaffResult {
    measure_form(&state, &viewer, MeasureFormFor::Edit(id), None, &[]).await
}

async fn measures_update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<MeasureId>,
    CleanForm(form): FormData,
) -> StaffResult {
    measure_save(&state, &viewer, MeasureFormFor::Edit(id), &form).await
}

async fn measures_publish(State(state): State<AppState>, viewer: Viewer, Path(id): Path<MeasureId>) -> StaffResult {
    let v = state.call(&viewer, move |s, who| s.measure_publish(who, id)).await?;
    Ok(see_other(&if v.scheduled.is_some() { format!("/measures/{id}") } else { format!("/measures/{id}/versions") }))
}

async fn measures_request(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<MeasureId>,
    CleanForm(form): FormData,
) -> StaffResult {
    let on = form_value(&form, "publish_on").trim();
    let publish_on = if on.is_empty() {
        None
    } else {
        Some(crate::model::Date::parse(on).map_err(|e| AppError::bad_request(format!("生效日期：{e}")))?)
    };
    state.call(&viewer, move |s, who| s.measure_request_publication(who, id, publish_on)).await?;
    Ok(see_other(&format!("/measures/{id}")))
}

async fn measures_refuse(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<MeasureId>,
    CleanForm(form): FormData,
) -> StaffResult {
    let reason = form_value(&form, "reason").to_string();
    state.call(&viewer, move |s, who| s.measure_refuse_publication(who, id, &reason)).await?;
    Ok(see_other(&format!("/measures/{id}")))
}

async fn measures_withdraw(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<MeasureId>,
    CleanForm(form): FormData,
) -> StaffResult {
    let reason = form_value(&form, "reason").to_string();
    state.call(&viewer, move |s, who| s.measure_withdraw(who, id, &reason)).await?;
    Ok(see_other(&format!("/measures/{id}")))
}

async fn measures_discard(State(state): State<AppState>, viewer: Viewer, Path(id): Path<MeasureId>) -> StaffResult {
    state.call(&viewer, move |s, who| s.measure_discard_draft(who, id)).await?;
    Ok(see_other(&format!("/measures/{id}")))
}

/// The entities of a measure's simulation (eligible, unknown, near misses) as CSV, streamed.
async fn measures_simulation_csv(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<MeasureId>,
) -> StaffResult {
    let csv = state.call(&viewer, move |s, who| s.measure_simulation_csv(who, id)).await?;
    Ok(crate::http::chunks::csv_download(&format!("measure-{id}-simulation.csv"), csv))
}
