//! 政策计算器: anyone enters a few attributes and sees the measures that fit, the near misses
//! and the estimated amounts; a signed-in enterprise sees its own entity's results directly.

use axum::extract::{Query, State};
use minijinja::context;

use super::PageResult;
use crate::auth::Access;
use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::Viewer;
use crate::http::routes::Routes;
use crate::http::web::to_value;
use crate::model::{CreditCode, Field, FieldError};
use crate::service::ServiceError;
use crate::service::matching::{ASKED_APART, MeasureMatch};

pub fn routes() -> Routes {
    Routes::new().get("/calculator", Access::Public, calculator_show)
}

/// Query keys the calculator reads: the fields it asks, and the yes/no questions and status.
fn accepted(key: &str, fields: &[Field]) -> bool {
    fields.iter().chain(&ASKED_APART).any(|f| f.name() == key && *f != Field::Tags)
}

/// The tags text from the boxes ticked and each one's date of grant (`since.<key>`):
/// `high_tech@2025-03-01;tech_sme`.
fn tags_text(query: &[(String, String)]) -> String {
    let since = |key: &str| {
        query.iter().find(|(k, _)| k.strip_prefix("since.") == Some(key)).map(|(_, v)| v.trim()).unwrap_or("")
    };
    query
        .iter()
        .filter(|(k, _)| k == "tags")
        .map(|(_, key)| match since(key) {
            "" => key.clone(),
            d => format!("{key}@{d}"),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// Results grouped for the page: fits, near misses, need more data.
pub fn grouped(matches: &[MeasureMatch]) -> serde_json::Value {
    use crate::rules::eval::Outcome;
    let eligible: Vec<_> = matches.iter().filter(|m| m.outcome == Outcome::Eligible).collect();
    let near: Vec<_> = matches.iter().filter(|m| m.is_near_miss()).collect();
    let unknown: Vec<_> = matches.iter().filter(|m| m.outcome == Outcome::Unknown).collect();
    let total_fen: i64 = eligible.iter().filter_map(|m| m.amount).map(|m| m.fen()).sum();
    let total = crate::model::Money(total_fen).as_wan_f64();
    serde_json::json!({
        "eligible": eligible, "near": near, "unknown": unknown,
        "others": matches.len() - eligible.len() - near.len() - unknown.len(),
        "total_wan": (total * 10_000.0).round() / 10_000.0,
    })
}

async fn calculator_show(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<Vec<(String, String)>>,
) -> PageResult {
    let form = state.svc.blocking(|s| s.calculator_form()).await?;
    let fields: Vec<_> = form
        .fields
        .iter()
        .map(|f| serde_json::json!({"name": f.name(), "label": f.label(), "unit": f.unit(), "ty": f.ty(), "choices": f.choices()}))
        .collect();
    let regions: Vec<(String, String)> = crate::model::reference::regions()
        .filter(|r| {
            r.code.starts_with("23") && r.level == crate::model::reference::RegionLevel::County && r.name != "市辖区"
        })
        .map(|r| (r.code.clone(), crate::model::reference::region_full_name(&r.code)))
        .collect();
    // The industry picker: every division, group and class by its section and name.
    let industries: Vec<String> = crate::model::reference::industries()
        .filter(|i| i.level != crate::model::reference::IndustryLevel::Section)
        .map(crate::model::reference::industry_choice)
        .collect();
    // An enterprise account sees its (first, or chosen) verified entity without typing.
    let chosen = query.iter().find(|(k, _)| k == "entity").and_then(|(_, v)| CreditCode::parse(v).ok());
    let own = viewer.principal.as_ref().and_then(|p| match chosen {
        Some(c) if p.acts_for(&c) => Some(c),
        _ => p.entities.first().cloned(),
    });
    let submitted = query.iter().any(|(k, v)| k != "status" && k != "entity" && !v.trim().is_empty());
    let mut errors: Vec<FieldError> = Vec::new();
    let mut results = serde_json::Value::Null;
    let mut entity_name = None;
    let mut not_considered: Vec<String> = Vec::new();
    if let Some(code) = own.filter(|_| !submitted) {
        let who = viewer.who();
        let crate::service::matching::EntityMatches { entity, matches } =
            state.svc.blocking(move |s| s.entity_matches(&who, &code, None)).await?;
        entity_name = Some(entity.display_name().to_string());
        results = grouped(&matches);
    } else if submitted {
        let mut pairs: Vec<(String, String)> =
            query.iter().filter(|(k, v)| !v.trim().is_empty() && accepted(k, &form.fields)).cloned().collect();
        let held = tags_text(&query);
        if !held.is_empty() {
            pairs.push(("tags".into(), held));
        }
        match state.svc.blocking(move |s| s.calculate_from_texts(&pairs)).await {
            Ok(calc) => {
                results = grouped(&calc.measures);
                not_considered = calc.not_considered;
            }
            Err(ServiceError::Invalid(e)) => errors = e,
            Err(e) => return Err(AppError::from(e)),
        }
    }
    let values: serde_json::Map<String, serde_json::Value> =
        query.iter().filter(|(k, _)| k != "tags").map(|(k, v)| (k.clone(), serde_json::json!(v))).collect();
    let checked: Vec<String> = query.iter().filter(|(k, _)| k == "tags").map(|(_, v)| v.clone()).collect();
    viewer.render(
        "calculator.html",
        context! {
            fields => to_value(&fields),
            tags => to_value(&form.tags),
            not_considered,
            regions, industries,
            f => to_value(&values),
            checked,
            errors => to_value(&errors),
            results => to_value(&results),
            entity_name,
            ..super::public::vocabularies()
        },
    )
}
