//! The row interpreter: evaluates a checked expression against one entity, with SQL-style
//! three-valued logic (`explain` says the result in plain Chinese). It is the reference the
//! columnar engine is tested against, and the explainer of every decision.

use std::borrow::Cow;

use super::ast::{BinOp, Expr, Func, Kind};
use super::ratio::Comparison;
use crate::model::decimal::{Dec, Rounding};
use crate::model::{Date, Entity, Field, Vocabulary};

/// One entity's values, however they are stored.
pub trait Row {
    /// A number exactly: money in 万元 (6 places, the mantissa is fen), counts, percentages.
    fn num(&self, f: Field) -> Option<Dec>;
    fn date(&self, f: Field) -> Option<i32>;
    /// The key of an enum field (`"small"`), or the code of a region or industry, or the
    /// credit code.
    fn text(&self, f: Field) -> Option<Cow<'_, str>>;
    fn flag(&self, f: Field) -> Option<bool>;
    /// Whether the entity holds tag `key` in force on the evaluation date.
    fn has_tag(&self, key: &str) -> bool;
    /// The dates of a tag in force (null when not held, expired, not yet granted, or unknown).
    fn tag_since(&self, key: &str) -> Option<i32>;
    fn tag_until(&self, key: &str) -> Option<i32>;
    /// A tag's dates whether or not in force, when the entity has it on record (for explaining
    /// an expired certificate).
    fn tag_record(&self, key: &str) -> Option<(Option<i32>, Option<i32>)>;
    /// The evaluation date (`today()`, `age_years`).
    fn as_of(&self) -> Date;
}

/// An entity record as a row, evaluated as of a date.
pub struct EntityRow<'a> {
    pub entity: &'a Entity,
    pub as_of: Date,
}

impl Row for EntityRow<'_> {
    fn num(&self, f: Field) -> Option<Dec> {
        use crate::model::portrait_record::{NUM_FIELDS, NUM_SCALES, number};
        if f == Field::AgeYears {
            return self.entity.age_years(self.as_of).map(|y| Dec::int(i64::from(y)));
        }
        let slot = NUM_FIELDS.iter().position(|x| *x == f)?;
        number(self.entity, f).map(|m| Dec::new(i128::from(m), NUM_SCALES[slot]))
    }
    fn date(&self, f: Field) -> Option<i32> {
        match f {
            Field::Established => self.entity.established.map(Date::days),
            Field::BarredUntil => Some(crate::model::portrait_record::barred_until_days(self.entity)),
            _ => None,
        }
    }
    fn text(&self, f: Field) -> Option<Cow<'_, str>> {
        let e = self.entity;
        Some(match f {
            Field::CreditCode => Cow::Borrowed(e.credit_code.as_str()),
            Field::Region => Cow::Borrowed(e.region.as_ref()?.as_str()),
            Field::Industry => Cow::Borrowed(e.industry.as_ref()?.as_str()),
            Field::EntityType => Cow::Borrowed(e.entity_type?.key()),
            Field::Ownership => Cow::Borrowed(e.ownership?.key()),
            Field::Status => Cow::Borrowed(e.status?.key()),
            Field::TaxCredit => Cow::Borrowed(e.tax_credit?.key()),
            Field::SizeClass => Cow::Borrowed(e.size_class()?.key()),
            _ => return None,
        })
    }
    fn flag(&self, f: Field) -> Option<bool> {
        match f {
            Field::Dishonest => self.entity.dishonest,
            Field::MajorViolation => self.entity.major_violation,
            _ => None,
        }
    }
    fn has_tag(&self, key: &str) -> bool {
        self.entity.tags.iter().any(|t| t.key == key && t.in_force(self.as_of))
    }
    fn tag_since(&self, key: &str) -> Option<i32> {
        self.entity.tags.iter().find(|t| t.key == key && t.in_force(self.as_of))?.since.map(Date::days)
    }
    fn tag_until(&self, key: &str) -> Option<i32> {
        self.entity.tags.iter().find(|t| t.key == key && t.in_force(self.as_of))?.until.map(Date::days)
    }
    fn tag_record(&self, key: &str) -> Option<(Option<i32>, Option<i32>)> {
        let t = self.entity.tags.iter().find(|t| t.key == key)?;
        Some((t.since.map(Date::days), t.until.map(Date::days)))
    }
    fn as_of(&self) -> Date {
        self.as_of
    }
}

/// A value during evaluation. `Null` is unknown.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Null,
    Bool(bool),
    Num(Dec),
    Str(Cow<'a, str>),
    Date(i32),
}

impl Val<'_> {
    fn num(&self) -> Option<Dec> {
        match self {
            Val::Num(n) => Some(*n),
            Val::Date(d) => Some(Dec::int(i64::from(*d))),
            _ => None,
        }
    }
}

/// A number that could not be computed (overflow, division by 0) is unknown.
fn num(v: Option<Dec>) -> Val<'static> {
    v.map_or(Val::Null, Val::Num)
}

/// Evaluates an expression (already type-checked) against a row.
pub fn eval<'a>(e: &'a Expr, row: &'a dyn Row) -> Val<'a> {
    match &e.kind {
        Kind::Null => Val::Null,
        Kind::Bool(b) => Val::Bool(*b),
        Kind::Int(i) => Val::Num(Dec::int(*i)),
        Kind::Double(d) => num(Dec::from_f64(*d)),
        Kind::Str(s) => Val::Str(Cow::Borrowed(s)),
        Kind::List(_) => Val::Null,
        Kind::Field(f) => field(*f, row),
        Kind::Not(a) => match eval(a, row) {
            Val::Bool(b) => Val::Bool(!b),
            _ => Val::Null,
        },
        Kind::Neg(a) => match eval(a, row) {
            Val::Num(n) => num(n.checked_neg()),
            _ => Val::Null,
        },
        Kind::Cond(c, a, b) => match eval(c, row) {
            Val::Bool(true) => eval(a, row),
            Val::Bool(false) => eval(b, row),
            _ => Val::Null,
        },
        Kind::Binary(op, a, b) => binary(*op, a, b, row),
        Kind::Call(func, args) => call(*func, args, row),
    }
}

pub(super) fn field<'a>(f: Field, row: &'a dyn Row) -> Val<'a> {
    use super::ast::Ty;
    // A derived ratio from the money it is computed from (`rules::ratio`).
    if let Some(v) = super::ratio::value(f, row) {
        return num(v);
    }
    match super::catalog::field_ty(f) {
        Ty::Num => num(row.num(f)),
        Ty::Date => row.date(f).map_or(Val::Null, Val::Date),
        Ty::Bool => row.flag(f).map_or(Val::Null, Val::Bool),
        Ty::Enum(_) | Ty::Code(_) | Ty::Str => row.text(f).map_or(Val::Null, Val::Str),
        // Tags are a set that is never unknown; it is only read through contains/in.
        _ => Val::Null,
    }
}

fn kleene_and(a: Val<'_>, b: impl FnOnce() -> Val<'static>) -> Val<'static> {
    match a {
        Val::Bool(false) => Val::Bool(false),
        a => match (a, b()) {
            (_, Val::Bool(false)) => Val::Bool(false),
            (Val::Bool(true), Val::Bool(true)) => Val::Bool(true),
            _ => Val::Null,
        },
    }
}

fn kleene_or(a: Val<'_>, b: impl FnOnce() -> Val<'static>) -> Val<'static> {
    match a {
        Val::Bool(true) => Val::Bool(true),
        a => match (a, b()) {
            (_, Val::Bool(true)) => Val::Bool(true),
            (Val::Bool(false), Val::Bool(false)) => Val::Bool(false),
            _ => Val::Null,
        },
    }
}

fn truth(v: &Val<'_>) -> Val<'static> {
    match v {
        Val::Bool(b) => Val::Bool(*b),
        _ => Val::Null,
    }
}

fn binary<'a>(op: BinOp, a: &'a Expr, b: &'a Expr, row: &'a dyn Row) -> Val<'a> {
    match op {
        BinOp::And => kleene_and(truth(&eval(a, row)), || truth(&eval(b, row))),
        BinOp::Or => kleene_or(truth(&eval(a, row)), || truth(&eval(b, row))),
        BinOp::In => {
            if let Kind::Field(Field::Tags) = b.kind {
                return match eval(a, row) {
                    Val::Str(k) => Val::Bool(row.has_tag(&k)),
                    _ => Val::Null,
                };
            }
            let x = eval(a, row);
            if x == Val::Null {
                return Val::Null;
            }
            let Kind::List(items) = &b.kind else { return Val::Null };
            let mut unknown = false;
            for i in items {
                let equal = match Comparison::of(BinOp::Eq, a, i) {
                    Some(c) => truth(&c.decide_row(row).map_or(Val::Null, Val::Bool)),
                    None => compare(BinOp::Eq, &x, &eval(i, row)),
                };
                match equal {
                    Val::Bool(true) => return Val::Bool(true),
                    Val::Null => unknown = true,
                    _ => {}
                }
            }
            if unknown { Val::Null } else { Val::Bool(false) }
        }
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => match (eval(a, row).num(), eval(b, row).num()) {
            (Some(x), Some(y)) => num(match op {
                BinOp::Add => x.checked_add(y),
                BinOp::Sub => x.checked_sub(y),
                BinOp::Mul => x.checked_mul(y),
                // Division by zero is unknown, not infinite.
                _ => x.checked_div(y),
            }),
            _ => Val::Null,
        },
        _ => match Comparison::of(op, a, b) {
            // A derived ratio against a literal: exactly, on the money (`rules::ratio`).
            Some(c) => c.decide_row(row).map_or(Val::Null, Val::Bool),
            None => compare(op, &eval(a, row), &eval(b, row)),
        },
    }
}

/// Compares two values; unknown when either is unknown.
pub fn compare(op: BinOp, a: &Val<'_>, b: &Val<'_>) -> Val<'static> {
    use std::cmp::Ordering;
    let ord: Option<Ordering> = match (a, b) {
        (Val::Null, _) | (_, Val::Null) => return Val::Null,
        (Val::Num(x), Val::Num(y)) => Some(x.cmp(y)),
        (Val::Date(x), Val::Date(y)) => Some(x.cmp(y)),
        (Val::Str(x), Val::Str(y)) => Some(x.as_ref().cmp(y.as_ref())),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    };
    let Some(o) = ord else { return Val::Null };
    Val::Bool(match op {
        BinOp::Eq => o == Ordering::Equal,
        BinOp::Ne => o != Ordering::Equal,
        BinOp::Lt => o == Ordering::Less,
        BinOp::Le => o != Ordering::Greater,
        BinOp::Gt => o == Ordering::Greater,
        BinOp::Ge => o != Ordering::Less,
        _ => return Val::Null,
    })
}

fn call<'a>(func: Func, args: &'a [Expr], row: &'a dyn Row) -> Val<'a> {
    let arg = |i: usize| args.get(i).map_or(Val::Null, |a| eval(a, row));
    let key = |i: usize| args.get(i).and_then(Expr::as_str).unwrap_or("");
    match func {
        Func::Min | Func::Max => {
            let mut acc: Option<Dec> = None;
            for i in 0..args.len() {
                let Some(v) = arg(i).num() else { return Val::Null };
                acc = Some(match (acc, func) {
                    (None, _) => v,
                    (Some(a), Func::Min) => a.min(v),
                    (Some(a), _) => a.max(v),
                });
            }
            num(acc)
        }
        Func::Round | Func::Floor | Func::Ceil | Func::Abs => match arg(0).num() {
            Some(v) => num(match func {
                Func::Round => Some(v.to_int(Rounding::HalfUp)),
                Func::Floor => Some(v.to_int(Rounding::Floor)),
                Func::Ceil => Some(v.to_int(Rounding::Ceil)),
                _ => v.checked_abs(),
            }),
            None => Val::Null,
        },
        Func::Date => Date::parse(key(0)).map_or(Val::Null, |d| Val::Date(d.days())),
        Func::Today => Val::Date(row.as_of().days()),
        Func::TagSince => row.tag_since(key(0)).map_or(Val::Null, Val::Date),
        Func::TagUntil => row.tag_until(key(0)).map_or(Val::Null, Val::Date),
        Func::Has => Val::Bool(
            args.first().is_some_and(|a| eval(a, row) != Val::Null || matches!(a.kind, Kind::Field(Field::Tags))),
        ),
        Func::Contains => Val::Bool(row.has_tag(key(1))),
        Func::Within => match arg(0) {
            Val::Str(code) => Val::Bool(within(args.first(), &code, key(1))),
            _ => Val::Null,
        },
    }
}

/// Hierarchical containment: industry by prefix, region by digit pairs.
pub fn within(receiver: Option<&Expr>, code: &str, prefix: &str) -> bool {
    match receiver.map(|r| &r.kind) {
        Some(Kind::Field(Field::Region)) => {
            let mut p = prefix;
            while p.len() > 2 && p.ends_with("00") {
                p = &p[..p.len() - 2];
            }
            code.starts_with(p)
        }
        _ => code.starts_with(prefix),
    }
}

/// The three outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Eligible,
    NotEligible,
    Unknown,
}

impl Outcome {
    pub fn of(v: &Val<'_>) -> Outcome {
        match v {
            Val::Bool(true) => Outcome::Eligible,
            Val::Bool(false) => Outcome::NotEligible,
            _ => Outcome::Unknown,
        }
    }

    /// The key as serialized (`eligible`, `not_eligible`, `unknown`).
    pub fn key(self) -> &'static str {
        match self {
            Outcome::Eligible => "eligible",
            Outcome::NotEligible => "not_eligible",
            Outcome::Unknown => "unknown",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Eligible => "符合",
            Outcome::NotEligible => "不符合",
            Outcome::Unknown => "待补充数据",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tags::{TagDictionary, default_tags};
    use crate::model::{CreditCode, EntityPatch, FieldValue, Money, TagHolding, Timestamp};
    use crate::rules::check::{CheckContext, Want, check};
    use crate::rules::explain::{explain, fails_on_identity};
    use crate::rules::parse::parse;

    fn entity() -> Entity {
        let mut e = Entity::new(1, CreditCode::parse("91350100M000100Y43").unwrap(), Timestamp(0));
        let mut p = EntityPatch::default();
        p.set(Field::Revenue, Some(FieldValue::Money(Money::from_wan(1000))));
        p.set(Field::RdExpense, Some(FieldValue::Money(Money::from_wan(21))));
        p.set(Field::Dishonest, Some(FieldValue::Bool(false)));
        p.set(
            Field::Tags,
            Some(FieldValue::Tags(vec![TagHolding {
                key: "high_tech".into(),
                since: Date::parse("2025-03-01").ok(),
                until: None,
            }])),
        );
        e.apply(&p, today(), Timestamp(0));
        e
    }

    fn today() -> Date {
        Date::parse("2026-11-27").unwrap()
    }

    fn run(src: &str, e: &Entity) -> (Outcome, String) {
        let tags = TagDictionary::new(default_tags());
        let mut x = parse(src).unwrap();
        assert!(check(&mut x, Want::Condition, &CheckContext { tags: &tags }).is_empty(), "{src}");
        let row = EntityRow { entity: e, as_of: today() };
        (Outcome::of(&eval(&x, &row)), explain(&x, &row, &tags))
    }

    #[test]
    fn kleene_logic() {
        let e = entity();
        // employees is unknown.
        assert_eq!(run("employees > 10", &e).0, Outcome::Unknown);
        assert_eq!(run("employees > 10 && revenue > 5000", &e).0, Outcome::NotEligible, "false && unknown = false");
        assert_eq!(run("revenue > 5000 && employees > 10", &e).0, Outcome::NotEligible);
        assert_eq!(run("employees > 10 || revenue > 500", &e).0, Outcome::Eligible, "unknown || true = true");
        assert_eq!(run("employees > 10 || revenue > 5000", &e).0, Outcome::Unknown);
        assert_eq!(run("!(employees > 10)", &e).0, Outcome::Unknown);
        assert_eq!(run("has(employees)", &e).0, Outcome::NotEligible, "has() is never unknown");
        assert_eq!(run("employees > 1 ? true : false", &e).0, Outcome::Unknown);
        assert_eq!(run("tax_credit in [\"A\", \"B\"]", &e).0, Outcome::Unknown);
        assert_eq!(run("revenue / 0 > 1", &e).0, Outcome::Unknown, "division by zero is unknown");
    }

    #[test]
    fn builtins() {
        let e = entity();
        for (src, want) in [
            ("min(revenue, 10) == 10", true),
            ("max(revenue, 10, 2000) == 2000", true),
            ("round(2.5) == 3 && floor(2.7) == 2 && ceil(2.1) == 3 && abs(-4) == 4", true),
            ("date(\"2026-01-01\") < today()", true),
            ("tag_since(\"high_tech\") >= date(\"2025-01-01\")", true),
            ("tags.contains(\"high_tech\") && \"high_tech\" in tags", true),
            ("tags.contains(\"listed\")", false),
            ("rd_ratio >= 2.1 && rd_ratio < 2.2", true),
            ("-revenue < 0", true),
        ] {
            assert_eq!(run(src, &e).0, if want { Outcome::Eligible } else { Outcome::NotEligible }, "{src}");
        }
        assert_eq!(run("tag_until(\"high_tech\") > today()", &e).0, Outcome::Unknown, "until date unknown");
        assert_eq!(run("tag_since(\"listed\") > today()", &e).0, Outcome::Unknown, "tag not held");
    }

    #[test]
    fn who_the_entity_is_reads_as_a_sentence_and_is_no_near_miss() {
        let mut e = entity();
        let mut p = EntityPatch::default();
        p.set(Field::EntityType, Some(FieldValue::EntityType(crate::model::EntityType::Individual)));
        e.apply(&p, today(), Timestamp(0));
        assert_eq!(run("entity_type == \"enterprise\"", &e).1, "主体类型须为企业（本企业为个体工商户）");
        assert_eq!(run("entity_type == \"individual\"", &e).1, "主体类型为个体工商户");
        let tags = TagDictionary::new(default_tags());
        let row = EntityRow { entity: &e, as_of: today() };
        let fixed = |src: &str| {
            let mut x = parse(src).unwrap();
            assert!(check(&mut x, Want::Condition, &CheckContext { tags: &tags }).is_empty(), "{src}");
            fails_on_identity(&x, &row)
        };
        assert!(fixed("entity_type == \"enterprise\""));
        assert!(fixed("entity_type == \"enterprise\" && revenue > 1"), "the identity part failed");
        assert!(!fixed("entity_type == \"individual\" && revenue > 5000"), "only the revenue part failed");
        assert!(!fixed("rd_ratio >= 3"));
        assert!(!fixed("tags.contains(\"listed\")"));
        assert!(!fixed("entity_type == \"individual\""), "a condition met is no failure");
    }

    #[test]
    fn explanations() {
        let e = entity();
        assert_eq!(run("rd_ratio >= 3", &e).1, "研发投入占比须不低于3%（本企业为2.1%）");
        assert_eq!(run("revenue >= 500", &e).1, "营业收入为1000 万元，不低于500 万元");
        assert_eq!(run("revenue < 500", &e).1, "营业收入须低于500 万元（本企业为1000 万元）");
        assert_eq!(run("tags.contains(\"listed\")", &e).1, "未持有「上市企业」");
        assert!(run("tags.contains(\"high_tech\")", &e).1.contains("2025-03-01 认定"));
        assert_eq!(run("employees >= 10", &e).1, "缺少数据：从业人数");
        assert_eq!(run("!dishonest", &e).1, "失信主体：否");
        assert_eq!(
            run("revenue > 1 && rd_ratio >= 3", &e).1,
            "营业收入为1000 万元，高于1 万元；研发投入占比须不低于3%（本企业为2.1%）"
        );
        assert_eq!(
            run("tags.contains(\"high_tech\") && tag_since(\"high_tech\") >= date(\"2026-01-01\")", &e).1,
            "持有「高新技术企业」（2025-03-01 认定）；「高新技术企业」认定日期须不早于2026-01-01（本企业为2025-03-01）"
        );
        assert_eq!(
            run("tags.contains(\"listed\") && tag_since(\"listed\") >= date(\"2026-01-01\")", &e).1,
            "未持有「上市企业」"
        );
        assert_eq!(run("industry.within(\"C\") || industry.within(\"I\")", &e).1, "缺少数据：行业");
    }

    fn with_money(revenue: Option<i64>, prev: Option<i64>, rd: Option<i64>) -> Entity {
        let mut e = entity();
        e.revenue = revenue.map(Money);
        e.revenue_prev = prev.map(Money);
        e.rd_expense = rd.map(Money);
        e
    }

    #[test]
    fn derived_ratios_against_literals_are_decided_on_the_money() {
        use Outcome::{Eligible as Y, NotEligible as N, Unknown as U};
        // 29.999997 / 1000 × 100 = 2.9999997%: stored at six places it was 3.000000.
        let just_under = with_money(Some(1_000_000_000), None, Some(29_999_997));
        // 3e12 / (1e14 + 1) × 100 = 2.99999999999997%: 3.000000000000 at twelve places.
        let far_under = with_money(Some(100_000_000_000_001), None, Some(3_000_000_000_000));
        // 30 / −1000 × 100 = −3% exactly.
        let negative = with_money(Some(-1_000_000_000), None, Some(30_000_000));
        // (100 − (−100)) / −100 × 100 = −200%.
        let growth_negative_prev = with_money(Some(100_000_000), Some(-100_000_000), None);
        let zero_prev = with_money(Some(100_000_000), Some(0), None);
        for (e, src, want) in [
            (&just_under, "rd_ratio >= 3", N),
            (&just_under, "rd_ratio < 3", Y),
            (&just_under, "3 > rd_ratio", Y),
            (&just_under, "3 <= rd_ratio", N),
            (&just_under, "rd_ratio == 3", N),
            (&just_under, "rd_ratio != 3", Y),
            (&just_under, "rd_ratio in [3, 4]", N),
            (&just_under, "rd_ratio in [2.9999997]", Y),
            (&just_under, "rd_ratio >= 2.9999997", Y),
            (&just_under, "rd_ratio > 2.9999997", N),
            (&just_under, "rd_ratio > 2.99999969999999", Y),
            (&far_under, "rd_ratio >= 3", N),
            (&far_under, "rd_ratio < 3", Y),
            // In arithmetic the ratio is the quotient half up to twelve places.
            (&far_under, "rd_ratio + 0 >= 3", Y),
            (&far_under, "rd_ratio == rd_ratio", Y),
            (&negative, "rd_ratio >= -3", Y),
            (&negative, "rd_ratio > -3", N),
            (&negative, "rd_ratio == -3", Y),
            (&negative, "rd_ratio <= -(3)", Y),
            (&negative, "rd_ratio < -2.999999999", Y),
            (&negative, "rd_ratio > -3.000000001", Y),
            (&growth_negative_prev, "revenue_growth >= -200", Y),
            (&growth_negative_prev, "revenue_growth > -200", N),
            (&growth_negative_prev, "revenue_growth < 0", Y),
            (&zero_prev, "revenue_growth >= 0", U),
            (&zero_prev, "revenue_growth < 0", U),
            (&zero_prev, "has(revenue_growth)", N),
            (&with_money(Some(0), None, Some(1)), "rd_ratio >= 3", U),
            (&with_money(None, None, Some(1)), "rd_ratio != 3", U),
        ] {
            assert_eq!(run(src, e).0, want, "{src}");
        }
    }

    #[test]
    fn explanations_of_ratios_show_the_places_that_decide() {
        let just_under = with_money(Some(1_000_000_000), None, Some(29_999_997));
        assert_eq!(run("rd_ratio >= 3", &just_under).1, "研发投入占比须不低于3%（本企业为2.9999997%）");
        assert_eq!(run("rd_ratio < 3", &just_under).1, "研发投入占比为2.9999997%，低于3%");
        assert_eq!(run("rd_ratio > 2", &just_under).1, "研发投入占比为3%，高于2%", "two places when they read right");
        assert_eq!(run("rd_ratio in [3, 4]", &just_under).1, "研发投入占比须为3%、4%（本企业为2.9999997%）");
        let far_under = with_money(Some(100_000_000_000_001), None, Some(3_000_000_000_000));
        assert_eq!(run("rd_ratio >= 3", &far_under).1, "研发投入占比须不低于3%（本企业为2.99999999999997%）");
        let exactly = with_money(Some(1_000_000_000), None, Some(30_000_000));
        assert_eq!(run("rd_ratio > 3", &exactly).1, "研发投入占比须高于3%（本企业为3%）");
        // Money too: 500.000001 万元 is not "500 万元, above 500".
        let revenue = with_money(Some(500_000_001), None, None);
        assert_eq!(run("revenue > 500", &revenue).1, "营业收入为500.000001 万元，高于500 万元");
    }
}
