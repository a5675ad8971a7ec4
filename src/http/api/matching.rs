//! Matching over JSON: simulation of a (draft) measure, rule checks for the rule builder, an
//! entity's outcomes, the public calculator, and the match events for pushes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiResult, parse_json};
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::error::{ApiError, AppError};
use crate::http::extract::Viewer;
use crate::http::routes::Routes;
use crate::model::{Date, MeasureSpec};

pub fn routes() -> Routes {
    Routes::new()
        .post("/api/v1/simulate", Access::Needs(Permission::Simulate), simulation_run)
        .post("/api/v1/simulate.csv", Access::Needs(Permission::SimulateList), simulation_csv)
        .post("/api/v1/rules/check", Access::Needs(Permission::PolicyDraft), rules_check)
        .get(
            "/api/v1/entities/{code}/matches",
            Access::Either(Permission::EntityRead, Permission::OwnEntities),
            matches_of_entity,
        )
        .post("/api/v1/calculator", Access::Public, calculator_run)
        .get("/api/v1/match-events", Access::Needs(Permission::MatchEvents), match_events_index)
        .post("/api/v1/rematch", Access::Needs(Permission::Rematch), rematch_run)
}

/// A measure in the shape of a policy file's `[[measures]]` — or several, as
/// `{"measures": [...]}` — plus `as_of` and `list`.
pub struct SimulateRequest {
    pub specs: Vec<MeasureSpec>,
    /// Whether the body named several measures (the answer is then a list).
    pub many: bool,
    pub as_of: Option<Date>,
    pub list: bool,
}

impl SimulateRequest {
    /// The one measure of a request that may not name several (`refusal` says so).
    fn single(self, refusal: &str) -> Result<MeasureSpec, ApiError> {
        let one = if self.many { None } else { <[MeasureSpec; 1]>::try_from(self.specs).ok() };
        let [spec] = one.ok_or_else(|| unprocessable(refusal.to_string()))?;
        Ok(spec)
    }
}

fn unprocessable(message: String) -> ApiError {
    ApiError(AppError::new(StatusCode::UNPROCESSABLE_ENTITY, message))
}

/// One measure's JSON object as a spec, named 推演 and of mode `apply` unless it says.
fn measure_spec(mut v: serde_json::Map<String, Value>, which: &str) -> Result<MeasureSpec, ApiError> {
    v.entry("name").or_insert_with(|| json!("推演"));
    v.entry("mode").or_insert_with(|| json!("apply"));
    serde_json::from_value(Value::Object(v)).map_err(|e| unprocessable(format!("{which}的字段不符合要求：{e}")))
}

pub fn simulate_request(body: &Bytes) -> Result<SimulateRequest, ApiError> {
    let mut v: serde_json::Map<String, Value> = parse_json(body)?;
    let as_of = match v.remove("as_of") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(Date::parse(&s).map_err(|e| unprocessable(format!("as_of：{e}")))?),
        Some(_) => return Err(unprocessable("as_of 应为 YYYY-MM-DD 格式的字符串".into())),
    };
    let list = v.remove("list").and_then(|l| l.as_bool()).unwrap_or(false);
    let Some(measures) = v.remove("measures") else {
        let spec = measure_spec(v, "政策事项")?;
        return Ok(SimulateRequest { specs: vec![spec], many: false, as_of, list });
    };
    let Value::Array(items) = measures else {
        return Err(unprocessable("measures 应为政策事项的数组：{\"measures\": [{…}, {…}]}".into()));
    };
    let specs = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(m) => measure_spec(m, &format!("第 {} 项政策事项", i + 1)),
            _ => Err(unprocessable(format!("measures 的第 {} 项应为一个政策事项对象", i + 1))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SimulateRequest { specs, many: true, as_of, list })
}

/// `POST /simulate`: counts, totals and breakdowns (and with `"list": true` every eligible and
/// unknown entity) of a measure over the whole entity library; with `{"measures": [...]}`
/// several measures in one pass, answered as `{"simulations": [...], "elapsed_ms": …}`.
/// The list names entities: only staff who read entities without a region limit get it.
async fn simulation_run(State(state): State<AppState>, viewer: Viewer, body: Bytes) -> ApiResult {
    let SimulateRequest { specs, many, as_of, list } = simulate_request(&body)?;
    let mut sims = state.call(&viewer, move |s, who| s.simulate_many_for(who, &specs, as_of, list)).await?;
    if many {
        let elapsed_ms = sims.first().map_or(0.0, |s| s.elapsed_ms);
        return Ok(Json(json!({ "simulations": sims, "elapsed_ms": elapsed_ms })).into_response());
    }
    match sims.pop() {
        Some(sim) => Ok(Json(sim).into_response()),
        None => Err(unprocessable("请给出一项政策事项".into())),
    }
}

/// `POST /simulate.csv` with one measure: every eligible entity with its amount, every one
/// whose outcome is unknown and every near miss with the condition it lacks, as CSV streamed
/// in chunks (for those who read every entity).
async fn simulation_csv(State(state): State<AppState>, viewer: Viewer, body: Bytes) -> ApiResult {
    let req = simulate_request(&body)?;
    let as_of = req.as_of;
    let spec = req.single("名单一次只列一项政策事项，请去掉 measures 数组")?;
    let csv = state.call(&viewer, move |s, who| s.simulate_csv_for(who, &spec, as_of)).await?;
    Ok(crate::http::chunks::csv_download("simulation.csv", csv))
}

/// `POST /rules/check`: whether a measure's conditions and amount type-check, with positions.
async fn rules_check(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let spec = simulate_request(&body)?.single("规则检查一次只检查一项政策事项，请去掉 measures 数组")?;
    let report = state.svc.blocking(move |s| s.rules_report(&spec)).await?;
    Ok(match report {
        Ok(rules) => Json(json!({ "ok": true, "errors": [], "warnings": rules.warnings })).into_response(),
        Err(errors) => {
            // The documented error shape, with the positioned report beside it.
            let fields = crate::service::matching::rule_field_errors(&errors);
            let message = fields.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("；");
            let body = json!({ "error": message, "status": 422, "fields": fields, "ok": false, "errors": errors, "warnings": [] });
            (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
        }
    })
}

#[derive(Deserialize)]
struct AsOf {
    #[serde(default)]
    as_of: String,
}

fn parse_as_of(s: &str) -> Result<Option<Date>, ApiError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    Date::parse(s).map(Some).map_err(|e| unprocessable(format!("as_of：{e}")))
}

async fn matches_of_entity(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
    Query(q): Query<AsOf>,
) -> ApiResult {
    let as_of = parse_as_of(&q.as_of)?;
    let code = crate::service::entities::entity_code(&code)?;
    let who = viewer.who();
    let crate::service::matching::EntityMatches { entity, matches } =
        state.svc.blocking(move |s| s.entity_matches(&who, &code, as_of)).await?;
    Ok(Json(json!({ "credit_code": entity.credit_code.as_str(), "name": entity.name, "measures": matches }))
        .into_response())
}

/// `POST /calculator` with `{field: value}` (as for entities): the published measures that fit,
/// the near misses and the unknown ones, each explained. Public.
async fn calculator_run(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let body: serde_json::Map<String, Value> = parse_json(&body)?;
    let mut pairs = Vec::new();
    for (k, v) in &body {
        if k != "credit_code" && k != "name" {
            pairs.push((k.clone(), super::entities::as_text(k, v)?));
        }
    }
    let calc = state.svc.blocking(move |s| s.calculate_from_texts(&pairs)).await?;
    Ok(Json(json!({ "measures": calc.measures, "not_considered": calc.not_considered })).into_response())
}

#[derive(Deserialize)]
struct EventsQuery {
    #[serde(default)]
    after: u64,
    #[serde(default)]
    limit: Option<usize>,
}

async fn match_events_index(State(state): State<AppState>, Query(q): Query<EventsQuery>) -> ApiResult {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let events = state.svc.blocking(move |s| s.match_events(q.after, limit)).await?;
    Ok(Json(json!({ "events": events })).into_response())
}

async fn rematch_run(State(state): State<AppState>) -> ApiResult {
    let summary = state.svc.blocking(|s| s.rematch_all("rematch")).await?;
    Ok(Json(summary).into_response())
}
