//! HTML forms ⇄ domain inputs. A form that fails to parse comes back with what was typed and a
//! message per field, in Chinese.

use serde_json::{Value, json};

use super::super::extract::{form_value, form_values};
use crate::model::policy::{Attachment, Condition, FormField, ReviewStage};
use crate::model::{
    Category, Date, FieldError, Level, MeasureSpec, Mode, Money, MoneyUnit, PolicyInput, Role, Vocabulary,
};

type Form = [(String, String)];

fn date(form: &Form, key: &str, label: &str, errors: &mut Vec<FieldError>) -> Option<Date> {
    let v = form_value(form, key).trim();
    if v.is_empty() {
        return None;
    }
    match Date::parse(v) {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(FieldError::new(key, format!("{label}「{v}」不是有效日期，应为 YYYY-MM-DD")));
            None
        }
    }
}

fn vocab<V: Vocabulary>(form: &Form, key: &str, label: &str, errors: &mut Vec<FieldError>) -> Option<V> {
    let v = form_value(form, key);
    let parsed = V::parse(v);
    if parsed.is_none() {
        errors.push(FieldError::new(key, format!("请选择{label}（可选：{}）", V::choices())));
    }
    parsed
}

fn money(form: &Form, key: &str, label: &str, errors: &mut Vec<FieldError>) -> Option<Money> {
    let v = form_value(form, key).trim();
    if v.is_empty() {
        return None;
    }
    match Money::parse(v, MoneyUnit::Wan) {
        Ok(m) => Some(m),
        Err(e) => {
            errors.push(FieldError::new(key, format!("{label}：{e}")));
            None
        }
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
}

pub fn parse_policy(form: &Form) -> Result<PolicyInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let level = vocab::<Level>(form, "level", "政策层级", &mut errors);
    let issue_date = date(form, "issue_date", "发布日期", &mut errors);
    let valid_from = date(form, "valid_from", "有效期起", &mut errors);
    let valid_until = date(form, "valid_until", "有效期止", &mut errors);
    let attachments = lines(form_value(form, "attachments"))
        .into_iter()
        .map(|l| match l.split_once('|') {
            Some((n, u)) => Attachment { name: n.trim().into(), url: u.trim().into() },
            None => Attachment { name: l, url: String::new() },
        })
        .collect();
    let tags = form_value(form, "tags")
        .split([',', '，', '、', '\n'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    let Some(level) = level else { return Err(errors) };
    let mut input = PolicyInput {
        title: form_value(form, "title").into(),
        doc_number: form_value(form, "doc_number").into(),
        level,
        department: form_value(form, "department").into(),
        issue_date,
        valid_from,
        valid_until,
        text: form_value(form, "text").replace("\r\n", "\n"),
        interpretation: form_value(form, "interpretation").replace("\r\n", "\n"),
        attachments,
        tags,
    };
    if let Err(more) = input.validate() {
        errors.extend(more);
    }
    if errors.is_empty() { Ok(input) } else { Err(errors) }
}

/// The policy form's values, from a stored policy.
pub fn policy_values(p: &PolicyInput) -> Value {
    let d = |d: Option<Date>| d.map(|d| d.to_string()).unwrap_or_default();
    json!({
        "title": p.title, "doc_number": p.doc_number, "level": p.level.key(), "department": p.department,
        "issue_date": d(p.issue_date), "valid_from": d(p.valid_from), "valid_until": d(p.valid_until),
        "text": p.text, "interpretation": p.interpretation, "tags": p.tags.join("，"),
        "attachments": p.attachments.iter().map(|a| if a.url.is_empty() { a.name.clone() } else { format!("{} | {}", a.name, a.url) }).collect::<Vec<_>>().join("\n"),
    })
}

/// The form's values as typed (for showing a refused form again).
pub fn submitted_values(form: &Form) -> Value {
    let mut map = serde_json::Map::new();
    for (k, v) in form {
        if k != "csrf" && !map.contains_key(k) {
            map.insert(k.clone(), Value::String(v.clone()));
        }
    }
    let rows = |keys: &[&str]| -> Vec<Value> {
        let cols: Vec<Vec<&str>> = keys.iter().map(|k| form_values(form, k)).collect();
        let n = cols.iter().map(Vec::len).max().unwrap_or(0);
        (0..n)
            .map(|i| {
                let mut row = serde_json::Map::new();
                for (k, col) in keys.iter().zip(&cols) {
                    row.insert(k.to_string(), Value::String(col.get(i).copied().unwrap_or("").to_string()));
                }
                Value::Object(row)
            })
            .collect()
    };
    map.insert("conditions".into(), Value::Array(rows(&["cond_label", "cond_expr"])));
    map.insert(
        "form_fields".into(),
        Value::Array(rows(&["ff_key", "ff_label", "ff_kind", "ff_required", "ff_options"])),
    );
    map.insert("stages".into(), Value::Array(rows(&["stage_name", "stage_days", "stage_role"])));
    Value::Object(map)
}

pub fn parse_measure(form: &Form) -> Result<MeasureSpec, Vec<FieldError>> {
    let mut errors = Vec::new();
    let category = vocab::<Category>(form, "category", "类别", &mut errors);
    let mode = vocab::<Mode>(form, "mode", "兑现方式", &mut errors);
    let cap = money(form, "cap", "单户上限", &mut errors);
    let budget = money(form, "budget", "资金总额", &mut errors);
    let window_start = date(form, "window_start", "申报开始日期", &mut errors);
    let window_end = date(form, "window_end", "申报截止日期", &mut errors);
    let publicity_days = whole(form, "publicity_days", "公示天数", 0, &mut errors);
    let offer_days = whole(form, "offer_days", "确认领取期限", 10, &mut errors);
    let conditions = form_values(form, "cond_label")
        .into_iter()
        .zip(form_values(form, "cond_expr"))
        .map(|(l, e)| Condition { label: l.into(), expr: e.into() })
        .collect();
    // Columns of repeated rows; a column a form left out reads as empty.
    let col = |key: &str, i: usize| form_values(form, key).get(i).copied().unwrap_or("");
    let form_fields = (0..form_values(form, "ff_key").len())
        .map(|i| FormField {
            key: col("ff_key", i).into(),
            label: col("ff_label", i).into(),
            kind: col("ff_kind", i).into(),
            required: col("ff_required", i) == "yes",
            options: col("ff_options", i)
                .split(['、', ',', '，', '|'])
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .collect(),
        })
        .collect();
    let mut review_stages = Vec::new();
    for i in 0..form_values(form, "stage_name").len() {
        let (name, days) = (col("stage_name", i), col("stage_days", i));
        if name.trim().is_empty() {
            continue;
        }
        let role = match col("stage_role", i) {
            "publisher" => Role::Publisher,
            _ => Role::Reviewer,
        };
        match days.trim().parse::<u32>() {
            Ok(d) => review_stages.push(ReviewStage { name: name.trim().into(), days: d, role }),
            Err(_) => errors.push(FieldError::new(
                &format!("review_stages[{i}].days"),
                format!("审核环节「{name}」的时限应为工作日天数（整数），「{days}」不是整数"),
            )),
        }
    }
    let (Some(category), Some(mode)) = (category, mode) else { return Err(errors) };
    let amount = form_value(form, "amount").trim();
    let mut spec = MeasureSpec {
        name: form_value(form, "name").into(),
        category,
        department: form_value(form, "department").into(),
        mode,
        conditions,
        amount: (!amount.is_empty()).then(|| amount.to_string()),
        cap,
        budget,
        window_start,
        window_end,
        materials: lines(form_value(form, "materials")),
        form_fields,
        review_stages,
        publicity_days,
        contact: form_value(form, "contact").trim().into(),
        guide: form_value(form, "guide").replace("\r\n", "\n"),
        offer_days,
        fund_source: form_value(form, "fund_source").into(),
        budget_subject: form_value(form, "budget_subject").into(),
    };
    if let Err(more) = spec.validate() {
        errors.extend(more);
    }
    if errors.is_empty() { Ok(spec) } else { Err(errors) }
}

/// The measure form's values, from a stored version.
pub fn measure_values(s: &MeasureSpec) -> Value {
    let d = |d: Option<Date>| d.map(|d| d.to_string()).unwrap_or_default();
    let m = |m: Option<Money>| m.map(|m| m.to_string()).unwrap_or_default();
    json!({
        "name": s.name, "category": s.category.key(), "department": s.department, "mode": s.mode.key(),
        "amount": s.amount.clone().unwrap_or_default(), "cap": m(s.cap), "budget": m(s.budget),
        "window_start": d(s.window_start), "window_end": d(s.window_end),
        "publicity_days": s.publicity_days.to_string(), "contact": s.contact, "guide": s.guide,
        "offer_days": s.offer_days.to_string(), "fund_source": s.fund_source, "budget_subject": s.budget_subject,
        "materials": s.materials.join("\n"),
        "conditions": s.conditions.iter().map(|c| json!({"cond_label": c.label, "cond_expr": c.expr})).collect::<Vec<_>>(),
        "form_fields": s.form_fields.iter().map(|f| json!({"ff_key": f.key, "ff_label": f.label, "ff_kind": f.kind, "ff_required": if f.required {"yes"} else {"no"}, "ff_options": f.options.join("、")})).collect::<Vec<_>>(),
        "stages": s.review_stages.iter().map(|r| json!({"stage_name": r.name, "stage_days": r.days.to_string(), "stage_role": r.role.key()})).collect::<Vec<_>>(),
    })
}

/// A whole number of days from the form (`default` when left empty).
fn whole(form: &[(String, String)], key: &str, label: &str, default: u32, errors: &mut Vec<FieldError>) -> u32 {
    let text = form_value(form, key).trim();
    if text.is_empty() {
        return default;
    }
    text.parse::<u32>().unwrap_or_else(|_| {
        errors.push(FieldError::new(key, format!("{label}应为整数，「{text}」不是整数")));
        default
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn measure_form_round_trip() {
        let f = form(&[
            ("name", "研发补助"),
            ("category", "subsidy"),
            ("department", "科技局"),
            ("mode", "apply"),
            ("cap", "50"),
            ("cond_label", "科技型中小企业"),
            ("cond_expr", "tags.contains(\"tech_sme\")"),
            ("cond_label", ""),
            ("cond_expr", ""),
            ("stage_name", "受理"),
            ("stage_days", "3"),
            ("materials", "营业执照\n\n审计报告"),
        ]);
        let spec = parse_measure(&f).unwrap();
        assert_eq!(spec.conditions.len(), 1, "blank rows are dropped");
        assert_eq!(spec.materials, ["营业执照", "审计报告"]);
        assert_eq!(spec.cap, Some(Money::from_wan(50)));
        let values = measure_values(&spec);
        assert_eq!(values["conditions"][0]["cond_label"], "科技型中小企业");
    }

    #[test]
    fn bad_values_name_their_fields() {
        let f = form(&[
            ("name", ""),
            ("category", "x"),
            ("mode", "apply"),
            ("window_start", "2026-13-01"),
            ("stage_name", "审核"),
            ("stage_days", "十"),
        ]);
        let errors = parse_measure(&f).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["category", "window_start", "review_stages[0].days"]);
        let values = submitted_values(&f);
        assert_eq!(values["stages"][0]["stage_days"], "十");
    }
}
