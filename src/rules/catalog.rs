//! The field catalogue as rules see it: each field's rule type, and name resolution with the
//! nearest name suggested for a typo.

use serde::Serialize;

use super::ast::Ty;
use crate::model::{Field, FieldType};

/// The rule type of a field.
pub fn field_ty(f: Field) -> Ty {
    match f.ty() {
        FieldType::Money | FieldType::Int | FieldType::Percent | FieldType::Number | FieldType::Year => Ty::Num,
        FieldType::Date => Ty::Date,
        FieldType::Bool => Ty::Bool,
        FieldType::Enum => Ty::Enum(f),
        FieldType::Region | FieldType::Industry => Ty::Code(f),
        FieldType::Tags => Ty::Tags,
        FieldType::Text => Ty::Str,
    }
}

/// Fields rules may read: the portrait (not contact details).
pub fn rule_fields() -> impl Iterator<Item = Field> {
    Field::ALL.iter().copied().filter(|f| f.in_rules() && *f != Field::Name)
}

fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest field name to a typo, or the field whose Chinese label was written.
pub fn suggest(name: &str) -> Option<Field> {
    if let Some(f) = rule_fields().find(|f| f.label() == name || f.label().contains(name) && name.chars().count() >= 2)
    {
        return Some(f);
    }
    let lower = name.to_ascii_lowercase();
    rule_fields()
        .map(|f| (distance(&lower, f.name()), f))
        .filter(|(d, f)| *d <= (f.name().len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

/// Resolves an identifier to a field; the error names the nearest field.
pub fn resolve(name: &str) -> Result<Field, (String, String)> {
    if let Some(f) = Field::by_name(name) {
        if f == Field::Name {
            return Err((
                "名称不能用于申报条件（同名、更名都很常见），请用统一社会信用代码 credit_code".into(),
                "`name` cannot be used in rules (names repeat and change); use `credit_code`".into(),
            ));
        }
        if !f.in_rules() {
            return Err((
                format!("「{}」（{name}）是联系信息，不能用于申报条件", f.label()),
                format!("`{name}` is contact information and cannot be used in rules"),
            ));
        }
        return Ok(f);
    }
    match suggest(name) {
        Some(f) => Err((
            format!("没有名为「{name}」的字段，是否想写「{}」（{}）？", f.name(), f.label()),
            format!("unknown field `{name}`; did you mean `{}`?", f.name()),
        )),
        None => Err((
            format!("没有名为「{name}」的字段。可用字段见「可用字段」列表，或 /api/v1/catalog"),
            format!("unknown field `{name}` (see /api/v1/catalog for the fields)"),
        )),
    }
}

/// A catalogue entry as the API and the rule builder show it.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogEntry {
    pub name: &'static str,
    pub label: &'static str,
    pub label_en: &'static str,
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub unit: Option<&'static str>,
    pub derived: bool,
    pub description: &'static str,
    pub values: Vec<(&'static str, &'static str)>,
}

fn ty_name(f: Field) -> &'static str {
    match field_ty(f) {
        Ty::Num => "number",
        Ty::Date => "date",
        Ty::Bool => "bool",
        Ty::Enum(_) => "enum",
        Ty::Code(_) => "code",
        Ty::Tags => "tags",
        _ => "string",
    }
}

fn description(f: Field) -> &'static str {
    match f {
        Field::AgeYears => "成立日期至评估日的整年数",
        Field::RevenueGrowth => "(营业收入 − 上年度营业收入) ÷ 上年度营业收入 × 100；上年度为空或 0 时为空",
        Field::RdRatio => "研发费用 ÷ 营业收入 × 100；营业收入为空或 0 时为空",
        Field::SizeClass => "按工信部联企业〔2011〕300号由行业、从业人数、营业收入、资产总额划分",
        Field::Region => "GB/T 2260 六位代码；region.within(\"2301\") 表示哈尔滨市",
        Field::Industry => "GB/T 4754-2017 代码；industry.within(\"C\") 表示制造业",
        Field::Tags => "tags.contains(\"high_tech\")；tag_since(\"high_tech\") 为认定日期",
        _ => "",
    }
}

/// Every field rules may read, with its type, unit and allowed values.
pub fn entries() -> Vec<CatalogEntry> {
    rule_fields()
        .map(|f| CatalogEntry {
            name: f.name(),
            label: f.label(),
            label_en: f.label_en(),
            ty: ty_name(f),
            unit: f.unit(),
            derived: f.derived(),
            description: description(f),
            values: f.choices(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(suggest("rd_ration"), Some(Field::RdRatio));
        assert_eq!(suggest("revnue"), Some(Field::Revenue));
        assert_eq!(suggest("营业收入"), Some(Field::Revenue));
        assert_eq!(suggest("qqqqqqqq"), None);
        assert!(resolve("contact_phone").unwrap_err().0.contains("联系信息"));
    }
}
