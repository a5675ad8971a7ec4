//! The staff entity library: list with filters, the entity file (一企一档), manual entry and
//! edits, and the tag dictionary.

use axum::extract::{Path, Query, State};
use minijinja::context;
use serde_json::json;

use super::{StaffResult, see_other, unprocessable, url_encode};
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::extract::CleanForm;
use crate::http::extract::{Viewer, form_value};
use crate::http::params::EntityListParams;
use crate::http::routes::Routes;
use crate::http::web::to_value;
use crate::model::{Entity, Field, FieldError, SizeClass, TagDef, Vocabulary, mask};
use crate::service::ServiceError;
use crate::service::entities::{SaveMode, entity_code};
use crate::service::overview::EntityIndexPage;

type FormData = CleanForm;

pub fn routes() -> Routes {
    let read = Access::Needs(Permission::EntityRead);
    let write = Access::Needs(Permission::EntityWrite);
    let tags = Access::Needs(Permission::TagsManage);
    Routes::new()
        .get("/staff/entities", read, entities_index)
        .post("/staff/entities", write, entities_save)
        .get("/staff/entities/new", write, entities_new)
        .get("/staff/entities/{code}", read, entities_show)
        .post("/staff/entities/{code}/unmask", Access::Needs(Permission::PersonalData), entities_unmask)
        .get("/staff/entities/{code}/edit", write, entities_edit)
        .get("/staff/tags", tags, tags_index)
        .post("/staff/tags", tags, tags_save)
}

/// Field metadata the entity pages need, with the labels of enum choices.
fn field_meta() -> Vec<serde_json::Value> {
    Field::ALL
        .iter()
        .map(|f| {
            json!({
                "name": f.name(), "label": f.label(), "label_en": f.label_en(), "ty": f.ty(), "unit": f.unit(),
                "derived": f.derived(), "choices": f.choices(),
                "group": match f {
                    Field::CreditCode | Field::Name | Field::EntityType | Field::Ownership | Field::Status | Field::Region
                    | Field::Industry | Field::Established | Field::AgeYears | Field::RegisteredCapital => "basic",
                    Field::Tags | Field::TaxCredit | Field::Dishonest | Field::MajorViolation | Field::SizeClass
                    | Field::BarredUntil => "credit",
                    Field::ContactPerson | Field::ContactPhone | Field::ContactEmail | Field::Address
                    | Field::LegalRep | Field::LegalRepId => "contact",
                    _ => "business",
                },
            })
        })
        .collect()
}

fn entity_row(e: &Entity) -> serde_json::Value {
    json!({
        "credit_code": e.credit_code.as_str(),
        "name": e.display_name(),
        "region": e.region.as_ref().map(|r| crate::model::reference::region_full_name(r.as_str())),
        "industry": e.industry.as_ref().map(|i| crate::model::reference::industry_label(i.as_str())),
        "size_class": e.size_class().map(|s| s.label()),
        "status": e.status.map(|s| s.label()),
        "tags": e.tags.iter().map(|t| t.key.clone()).collect::<Vec<_>>(),
        "warnings": e.warnings.len(),
        "updated_at": e.updated_at.display_cst(),
    })
}

async fn entities_index(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(p): Query<EntityListParams>,
) -> StaffResult {
    let query = p.query(50);
    let q = query.clone();
    let EntityIndexPage { page, tags, total } = state.call(&viewer, move |s, who| s.entity_index_page(who, &q)).await?;
    let rows: Vec<_> = page.entities.iter().map(entity_row).collect();
    // The link to the next page keeps every filter.
    let next = page.next_after.map(|after| {
        let mut qs = vec![("after", after.to_string())];
        for (k, v) in [
            ("q", &p.q),
            ("region", &p.region),
            ("industry", &p.industry),
            ("tag", &p.tag),
            ("status", &p.status),
            ("warnings", &p.warnings),
        ] {
            if !v.is_empty() {
                qs.push((k, v.clone()));
            }
        }
        if let Some(s) = p.size_class {
            qs.push(("size_class", s.key().to_string()));
        }
        qs.iter().map(|(k, v)| format!("{k}={}", url_encode(v))).collect::<Vec<_>>().join("&")
    });
    let sizes: Vec<_> = SizeClass::ALL.iter().map(|s| (s.key(), s.label())).collect();
    let statuses = Field::Status.choices();
    Ok(viewer.render(
        "entities.html",
        context! {
            rows => to_value(&rows),
            next,
            total,
            query => to_value(&query),
            tags => to_value(&tags),
            sizes, statuses,
        },
    )?)
}

async fn entities_show(State(state): State<AppState>, viewer: Viewer, Path(code): Path<String>) -> StaffResult {
    entity_page(&state, &viewer, code, None).await
}

/// Shows the personal data in full, once, and records who asked and why.
async fn entities_unmask(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
    CleanForm(form): FormData,
) -> StaffResult {
    let reason = form_value(&form, "reason").trim().to_string();
    entity_page(&state, &viewer, code, Some(reason)).await
}

/// The entity file with its matches and cases; with a reason, personal data in full (audited).
async fn entity_page(state: &AppState, viewer: &Viewer, code: String, unmask: Option<String>) -> StaffResult {
    let code = entity_code(&code)?;
    let (file, matches, cases) =
        state.call(viewer, move |s, who| s.entity_dossier(who, &code, unmask.as_deref())).await?;
    let history: Vec<_> = file
        .history
        .iter()
        .map(|c| {
            json!({
                "at": c.at.display_cst(),
                "actor": c.actor.describe(),
                "changes": c.changes.iter().map(|ch| {
                    let field = Field::by_name(&ch.field);
                    json!({
                        "field": ch.field,
                        "label": field.map_or(ch.field.as_str(), |f| f.label()),
                        "old": ch.old.as_deref().map(|v| readable(field, v)),
                        "new": ch.new.as_deref().map(|v| readable(field, v)),
                    })
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(viewer.render(
        "entity.html",
        context! {
            e => to_value(&file.entity),
            name => file.entity.display_name(),
            fields => to_value(&file.fields),
            financials => to_value(&file.financials),
            history => to_value(&history),
            meta => to_value(field_meta()),
            results => to_value(super::grouped(&matches)),
            under_way => to_value(super::cases_by_measure(&cases)),
            cases => to_value(&cases),
            ..super::public::vocabularies()
        },
    )?)
}

/// A stored value of an entity field as people read it: a choice's label, not its key.
fn readable(field: Option<Field>, value: &str) -> String {
    use crate::model::fields::FieldType;
    use crate::model::reference::{industry_label, region_full_name};
    match field.map(Field::ty) {
        Some(FieldType::Region) => format!("{value} {}", region_full_name(value)).trim().to_string(),
        Some(FieldType::Industry) => industry_label(value),
        Some(FieldType::Bool) => match value {
            "true" => "是".into(),
            "false" => "否".into(),
            other => other.into(),
        },
        _ => {
            let choices = field.map(Field::choices).unwrap_or_default();
            choices.iter().find(|(k, _)| *k == value).map_or_else(|| value.to_string(), |(_, l)| l.to_string())
        }
    }
}

/// Code and name pairs for a picker.
type Options = Vec<(String, String)>;

/// The region and industry pickers' options: Heilongjiang's regions, and industry classes.
fn picker_options() -> (Options, Options) {
    use crate::model::reference;
    let regions = reference::regions()
        .filter(|r| r.code.starts_with("23"))
        .map(|r| (r.code.clone(), reference::region_full_name(&r.code)))
        .collect();
    let industries = reference::industries()
        .filter(|i| i.level == reference::IndustryLevel::Class)
        .map(|i| (i.code.clone(), i.name.clone()))
        .collect();
    (regions, industries)
}

async fn entity_form(
    state: &AppState,
    viewer: &Viewer,
    code: Option<String>,
    values: serde_json::Value,
    errors: &[FieldError],
) -> StaffResult {
    let tags = state.svc.blocking(|s| s.tags()).await?;
    let (regions, industries) = picker_options();
    Ok(viewer.render(
        "entity_form.html",
        context! {
            code,
            f => to_value(values),
            errors => to_value(errors),
            meta => to_value(field_meta()),
            tags => to_value(&tags),
            regions, industries,
        },
    )?)
}

/// Form values from a stored entity: canonical text per field, and tag rows.
fn entity_values(e: &Entity, today: crate::model::Date) -> serde_json::Value {
    // Only stored fields are shown, and none of them depends on the evaluation date.
    let mut map = serde_json::Map::new();
    for f in Field::writable() {
        if f == Field::Tags {
            continue;
        }
        let text = e.get(f, today).map(|v| v.to_text()).unwrap_or_default();
        map.insert(f.name().into(), json!(text));
    }
    for t in &e.tags {
        map.insert(format!("tag_{}", t.key), json!("on"));
        map.insert(format!("tag_{}_since", t.key), json!(t.since.map(|d| d.to_string()).unwrap_or_default()));
        map.insert(format!("tag_{}_until", t.key), json!(t.until.map(|d| d.to_string()).unwrap_or_default()));
    }
    serde_json::Value::Object(map)
}

async fn entities_new(State(state): State<AppState>, viewer: Viewer) -> StaffResult {
    entity_form(&state, &viewer, None, json!({}), &[]).await
}

async fn entities_edit(State(state): State<AppState>, viewer: Viewer, Path(code): Path<String>) -> StaffResult {
    // Shown masked: the stars come back unchanged; full values only through the audited unmask.
    let code = entity_code(&code)?;
    let e = state.call(&viewer, move |s, who| s.entity_get(who, &code)).await?;
    entity_form(&state, &viewer, Some(e.credit_code.to_string()), entity_values(&e, state.svc.today()), &[]).await
}

/// Turns the form into field → text pairs; the tag checkboxes become one `tags` text.
fn form_pairs(form: &[(String, String)], tags: &[TagDef]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Field::writable()
        .filter(|f| *f != Field::Tags)
        .filter(|f| form.iter().any(|(k, _)| k == f.name()))
        .map(|f| (f.name().to_string(), form_value(form, f.name()).to_string()))
        .collect();
    let held: Vec<String> = tags
        .iter()
        .filter(|t| form_value(form, &format!("tag_{}", t.key)) == "on")
        .map(|t| {
            let since = form_value(form, &format!("tag_{}_since", t.key)).trim();
            let until = form_value(form, &format!("tag_{}_until", t.key)).trim();
            match (since.is_empty(), until.is_empty()) {
                (true, true) => t.key.clone(),
                (false, true) => format!("{}@{since}", t.key),
                _ => format!("{}@{since}~{until}", t.key),
            }
        })
        .collect();
    pairs.push(("tags".into(), held.join(";")));
    pairs
}

async fn entities_save(State(state): State<AppState>, viewer: Viewer, CleanForm(form): FormData) -> StaffResult {
    let editing = form_value(&form, "editing") == "1";
    let tags = state.svc.blocking(|s| s.tags()).await?;
    let mut pairs = form_pairs(&form, &tags);
    // A personal field shown masked comes back with its stars: it was not changed.
    pairs.retain(|(k, v)| !(mask::is_personal(k) && v.contains('*')));
    let mode = if editing { SaveMode::Upsert } else { SaveMode::Insert };
    let result = state.call(&viewer, move |s, who| s.entity_save_texts(who, &pairs, mode)).await;
    match result {
        Ok((e, _)) => Ok(see_other(&format!("/staff/entities/{}", e.credit_code))),
        Err(ServiceError::Invalid(errors)) => {
            let mut values = serde_json::Map::new();
            for (k, v) in &form {
                values.entry(k.clone()).or_insert_with(|| json!(v));
            }
            let code = editing.then(|| form_value(&form, "credit_code").to_string());
            Ok(unprocessable(entity_form(&state, &viewer, code, serde_json::Value::Object(values), &errors).await?))
        }
        Err(e) => Err(e.into()),
    }
}

async fn tags_index(State(state): State<AppState>, viewer: Viewer) -> StaffResult {
    let tags = state.svc.blocking(|s| s.tags()).await?;
    Ok(viewer
        .render("tags.html", context! { tags => to_value(&tags), errors => to_value(Vec::<FieldError>::new()) })?)
}

async fn tags_save(State(state): State<AppState>, viewer: Viewer, CleanForm(form): FormData) -> StaffResult {
    let tag = TagDef {
        key: form_value(&form, "key").into(),
        label: form_value(&form, "label").into(),
        label_en: form_value(&form, "label_en").into(),
        description: form_value(&form, "description").into(),
    };
    match state.call(&viewer, move |s, who| s.tag_put(who, tag)).await {
        Ok(_) => Ok(see_other("/staff/tags")),
        Err(ServiceError::Invalid(errors)) => {
            let tags = state.svc.blocking(|s| s.tags()).await?;
            let page = viewer.render(
                "tags.html",
                context! { tags => to_value(&tags), errors => to_value(&errors), f => to_value(submitted(&form)) },
            )?;
            Ok(unprocessable(page))
        }
        Err(e) => Err(e.into()),
    }
}

fn submitted(form: &[(String, String)]) -> serde_json::Value {
    super::forms::submitted_values(form)
}
