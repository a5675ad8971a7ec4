//! Explanations of the row interpreter's results in plain Chinese: what a condition needed and
//! what the entity has, which fields were unknown, and whether a failure is about who the entity
//! is (which no entity can change: no near miss).

use super::ast::{BinOp, Expr, Func, Kind};
use super::describe::{is_date, op_words, within_target};
use super::eval::{Outcome, Row, Val, eval, field};
use super::ratio;
use crate::model::decimal::MAX_SCALE;
use crate::model::fields::format_number;
use crate::model::{Date, Dec, Field};

/// The fields an expression read that were unknown for this row.
pub fn missing(e: &Expr, row: &dyn Row) -> Vec<Field> {
    e.fields().into_iter().filter(|f| *f != Field::Tags && field(*f, row) == Val::Null).collect()
}

/// Whether a failed condition failed on who the entity is: some part of it (a conjunct) that
/// reads only identity fields ([`Field::is_identity`]: entity type, region, industry, …) is
/// false. Such a condition never makes a near miss.
pub fn fails_on_identity(e: &Expr, row: &dyn Row) -> bool {
    e.conjuncts().into_iter().any(|c| {
        let fields = c.fields();
        !fields.is_empty() && fields.iter().all(|f| f.is_identity()) && eval(c, row) == Val::Bool(false)
    })
}

/// A number with the field's unit: `3%`, `100 万元`.
fn with_unit(f: Field, n: &str) -> String {
    match f.unit() {
        Some("%") => format!("{n}%"),
        Some(u) => format!("{n} {u}"),
        None => n.to_string(),
    }
}

/// A value as people read it, with its unit.
pub fn show(f: Field, row: &dyn Row) -> String {
    match field(f, row) {
        Val::Null => "未知".into(),
        Val::Num(n) => with_unit(f, &n.rescale(2).map_or_else(|| n.to_string(), |r| r.to_string())),
        Val::Date(d) => Date::from_days(d).to_string(),
        Val::Bool(b) => if b { "是" } else { "否" }.into(),
        Val::Str(s) => match f {
            Field::Region => crate::model::reference::region_full_name(&s),
            Field::Industry => crate::model::reference::industry_label(&s),
            _ => f.choices().iter().find(|(k, _)| *k == s).map_or_else(|| s.to_string(), |(_, l)| l.to_string()),
        },
    }
}

/// A number field's value rounded half up to the fewest places from 2 up (at most
/// `MAX_SCALE`) for which `reads_right` holds — a derived ratio from its exact fraction, not
/// from its rounded value; `None` when no such places (or the value is not a number).
fn shown_exactly(f: Field, row: &dyn Row, reads_right: impl Fn(Dec) -> bool) -> Option<Dec> {
    let Val::Num(v) = field(f, row) else { return None };
    let exact = ratio::parts(f).and_then(|p| ratio::fractions(p, row));
    (2..=MAX_SCALE)
        .map_while(|places| match exact {
            Some((n, d)) => ratio::rounded(n, d, places).map(|m| Dec::new(m, places)),
            None => v.rescale(places),
        })
        .find(|r| reads_right(*r))
}

/// The entity's value beside the literal `lit` it was compared with (`op`, the field on the
/// left), with as many places as the sentence needs to read right: a ratio of 2.99999997%
/// failing `>= 3` is `2.99999997%`, not `3%`.
fn show_against(f: Field, row: &dyn Row, op: BinOp, lit: &Expr, outcome: Outcome) -> String {
    let (Some(c), Some(held)) = (ratio::literal(lit), outcome_bool(outcome)) else { return show(f, row) };
    if let Some(r) = shown_exactly(f, row, |r| ratio::holds(op, r.cmp(&c)) == held) {
        return with_unit(f, &r.to_string());
    }
    // It differs from the literal beyond the last place shown.
    let below = ratio::parts(f)
        .and_then(|p| ratio::fractions(p, row))
        .and_then(|(n, d)| ratio::order(n, d, c))
        .is_some_and(|o| o.is_lt());
    let near = show(f, row);
    format!("约{near}，略{}{}", if below { "低于" } else { "高于" }, show_literal(f, lit).unwrap_or_default())
}

fn outcome_bool(o: Outcome) -> Option<bool> {
    match o {
        Outcome::Eligible => Some(true),
        Outcome::NotEligible => Some(false),
        Outcome::Unknown => None,
    }
}

/// A literal as people read it next to a field: `3%`, `100 万元`, `小型`.
fn show_literal(f: Field, lit: &Expr) -> Option<String> {
    Some(match &lit.kind {
        Kind::Int(_) | Kind::Double(_) => {
            let v = match lit.kind {
                Kind::Int(i) => i as f64,
                Kind::Double(d) => d,
                _ => return None,
            };
            match f.unit() {
                Some("%") => format!("{}%", format_number(v)),
                Some(u) => format!("{} {u}", format_number(v)),
                None => format_number(v),
            }
        }
        Kind::Str(s) => f.choices().iter().find(|(k, _)| k == s).map_or_else(|| s.clone(), |(_, l)| l.to_string()),
        Kind::Call(Func::Date, args) => args.first().and_then(Expr::as_str)?.to_string(),
        Kind::Call(Func::Today, _) => "今天".into(),
        _ => return None,
    })
}

fn tag_label(key: &str, tags: &crate::model::TagDictionary) -> String {
    tags.label(key)
}

/// Explains what a boolean expression found for this row, in plain Chinese:
/// `研发投入占比 2.1% < 3%`, `未持有「高新技术企业」`, `缺少数据：营业收入`.
pub fn explain(e: &Expr, row: &dyn Row, tags: &crate::model::TagDictionary) -> String {
    let outcome = Outcome::of(&eval(e, row));
    if outcome == Outcome::Unknown {
        let m = missing(e, row);
        if !m.is_empty() {
            return format!("缺少数据：{}", m.iter().map(|f| f.label()).collect::<Vec<_>>().join("、"));
        }
    }
    match &e.kind {
        Kind::Binary(BinOp::And | BinOp::Or, ..) => {
            let parts: Vec<String> = e
                .conjuncts()
                .iter()
                .flat_map(|c| if let Kind::Binary(BinOp::Or, a, b) = &c.kind { vec![&**a, &**b] } else { vec![*c] })
                .map(|c| explain(c, row, tags))
                .collect();
            let mut unique: Vec<String> = Vec::new();
            for p in parts {
                if !unique.contains(&p) {
                    unique.push(p);
                }
            }
            unique.join("；")
        }
        Kind::Binary(op, a, b) if op.is_comparison() && (tag_date(a).is_some() || tag_date(b).is_some()) => {
            let (call, other, op) = if tag_date(a).is_some() { (&**a, &**b, *op) } else { (&**b, &**a, op.flipped()) };
            let Some((func, key)) = tag_date(call) else { return values(e, row) };
            let label = tag_label(key, tags);
            let what = if func == Func::TagSince { "认定日期" } else { "有效期止" };
            let date = if func == Func::TagSince { row.tag_since(key) } else { row.tag_until(key) };
            let limit = match &other.kind {
                Kind::Call(Func::Date, args) => args.first().and_then(Expr::as_str).map(str::to_string),
                Kind::Call(Func::Today, _) => Some("今天".to_string()),
                _ => None,
            };
            let words = op_words(op, true);
            match (date, limit) {
                (None, _) if !row.has_tag(key) => format!("未持有「{label}」"),
                (None, _) => format!("「{label}」{what}未知"),
                (Some(d), Some(l)) if outcome == Outcome::NotEligible => {
                    format!("「{label}」{what}须{words}{l}（本企业为{}）", Date::from_days(d))
                }
                (Some(d), Some(l)) => format!("「{label}」{what}为{}，{words}{l}", Date::from_days(d)),
                (Some(d), None) => format!("「{label}」{what}为{}", Date::from_days(d)),
            }
        }
        Kind::Binary(op, a, b) if op.is_comparison() => {
            let (f, lit, op) = match (&a.kind, &b.kind) {
                (Kind::Field(f), _) => (Some(*f), &**b, *op),
                (_, Kind::Field(f)) => (Some(*f), &**a, op.flipped()),
                _ => (None, &**b, *op),
            };
            match f.and_then(|f| show_literal(f, lit).map(|l| (f, l))) {
                Some((f, l)) => {
                    let words = op_words(op, is_date(Some(f), lit));
                    let value = show_against(f, row, op, lit, outcome);
                    match (outcome, op) {
                        (Outcome::NotEligible, _) => format!("{}须{words}{l}（本企业为{value}）", f.label()),
                        (_, BinOp::Eq) => format!("{}为{value}", f.label()),
                        _ => format!("{}为{value}，{words}{l}", f.label()),
                    }
                }
                None => values(e, row),
            }
        }
        Kind::Binary(BinOp::In, a, b) => match (&a.kind, &b.kind) {
            (Kind::Str(k), Kind::Field(Field::Tags)) => held(k, row, tags),
            (Kind::Field(f), Kind::List(items)) if outcome == Outcome::NotEligible => {
                let allowed: Vec<String> = items.iter().filter_map(|i| show_literal(*f, i)).collect();
                // A number shown with the places that tell it apart from every value allowed.
                let literals: Vec<Dec> = items.iter().filter_map(ratio::literal).collect();
                let value = shown_exactly(*f, row, |r| literals.iter().all(|l| r != *l))
                    .map_or_else(|| show(*f, row), |r| with_unit(*f, &r.to_string()));
                format!("{}须为{}（本企业为{value}）", f.label(), allowed.join("、"))
            }
            (Kind::Field(f), _) => format!("{}：{}", f.label(), show(*f, row)),
            _ => values(e, row),
        },
        Kind::Call(Func::Contains, args) => held(args.get(1).and_then(Expr::as_str).unwrap_or(""), row, tags),
        Kind::Call(Func::Within, args) => match (args.first().map(|a| &a.kind), args.get(1).and_then(Expr::as_str)) {
            (Some(Kind::Field(Field::Region)), Some(p)) if outcome == Outcome::NotEligible => {
                format!("所在地须在{}（本企业在{}）", within_target(Field::Region, p), show(Field::Region, row))
            }
            (Some(Kind::Field(f)), Some(p)) if outcome == Outcome::NotEligible => {
                format!("{}须属于{}（本企业为{}）", f.label(), within_target(*f, p), show(*f, row))
            }
            (Some(Kind::Field(f)), _) => format!("{}：{}", f.label(), show(*f, row)),
            _ => values(e, row),
        },
        Kind::Call(Func::Has, args) => match args.first().map(|a| &a.kind) {
            Some(Kind::Field(f)) => format!("{}：{}", f.label(), show(*f, row)),
            _ => values(e, row),
        },
        Kind::Field(f) => format!("{}：{}", f.label(), show(*f, row)),
        Kind::Not(inner) => explain(inner, row, tags),
        _ => values(e, row),
    }
}

/// `tag_since("k")` / `tag_until("k")`: the function and the key.
fn tag_date(e: &Expr) -> Option<(Func, &str)> {
    match &e.kind {
        Kind::Call(f @ (Func::TagSince | Func::TagUntil), args) => Some((*f, args.first().and_then(Expr::as_str)?)),
        _ => None,
    }
}

fn held(key: &str, row: &dyn Row, tags: &crate::model::TagDictionary) -> String {
    let label = tag_label(key, tags);
    if row.has_tag(key) {
        return match row.tag_since(key) {
            Some(d) => format!("持有「{label}」（{} 认定）", Date::from_days(d)),
            None => format!("持有「{label}」"),
        };
    }
    let day = |d: Option<i32>| d.map(|d| Date::from_days(d).to_string()).unwrap_or_default();
    match row.tag_record(key) {
        Some((_, until)) if until.is_some_and(|u| u < row.as_of().days()) => {
            format!("「{label}」已于 {} 到期", day(until))
        }
        Some((since, _)) if since.is_some() => format!("「{label}」自 {} 起生效，评估日尚未生效", day(since)),
        _ => format!("未持有「{label}」"),
    }
}

/// The values of the fields an expression reads: `营业收入 800 万元；研发费用 12 万元`.
fn values(e: &Expr, row: &dyn Row) -> String {
    let fields: Vec<Field> = e.fields().into_iter().filter(|f| *f != Field::Tags).collect();
    if fields.is_empty() {
        return match Outcome::of(&eval(e, row)) {
            Outcome::Eligible => "满足".into(),
            Outcome::NotEligible => "不满足".into(),
            Outcome::Unknown => "无法判断".into(),
        };
    }
    fields.iter().map(|f| format!("{} {}", f.label(), show(*f, row))).collect::<Vec<_>>().join("；")
}
