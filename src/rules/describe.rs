//! Rules in plain Chinese for people who never see the code: an amount formula as
//! 「研发费用的5%，最高50万元」, a condition as 「研发投入占比不低于3%」. Anything unusual falls
//! back to a readable form with field names and ×÷ signs, never to the raw expression.
//! Recursion follows the tree, whose depth the parser bounds.

use super::ast::{BinOp, Expr, Func, Kind, Ty};
use super::catalog::field_ty;
use crate::model::fields::format_number;
use crate::model::{Field, FieldType, TagDictionary};

/// A number as people read it: at most six decimals, no float noise (`0.05 × 100` is `5`).
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let r = (v * 1e6).round() / 1e6;
    format_number(if r == 0.0 { 0.0 } else { r })
}

fn literal_num(e: &Expr) -> Option<f64> {
    match &e.kind {
        Kind::Int(i) => Some(*i as f64),
        Kind::Double(d) => Some(*d),
        Kind::Neg(inner) => literal_num(inner).map(|v| -v),
        _ => None,
    }
}

/// Whether an expression's value is money (万元), so that a factor reads as a percentage of it.
fn is_money(e: &Expr) -> bool {
    match &e.kind {
        Kind::Field(f) => f.ty() == FieldType::Money,
        Kind::Binary(BinOp::Add | BinOp::Sub, a, b) => is_money(a) || is_money(b),
        Kind::Binary(BinOp::Mul | BinOp::Div, a, b) => {
            (is_money(a) && literal_num(b).is_some()) || (is_money(b) && literal_num(a).is_some())
        }
        Kind::Call(Func::Min | Func::Max | Func::Round | Func::Floor | Func::Ceil | Func::Abs, args) => {
            args.iter().any(is_money)
        }
        Kind::Cond(_, a, b) => is_money(a) || is_money(b),
        _ => false,
    }
}

/// `a - a_prev` on the pairs the catalogue keeps: 研发费用较上年度增加额.
fn growth(a: &Expr, b: &Expr) -> Option<String> {
    let (Kind::Field(x), Kind::Field(y)) = (&a.kind, &b.kind) else { return None };
    match (x, y) {
        (Field::Revenue, Field::RevenuePrev) | (Field::RdExpense, Field::RdExpensePrev) => {
            Some(format!("{}较上年度增加额", x.label()))
        }
        _ => None,
    }
}

/// An amount formula (in 万元) in plain Chinese: 「研发费用的5%，最高50万元」.
pub fn amount_text(e: &Expr, tags: &TagDictionary) -> String {
    money(e, tags)
}

/// An expression whose value is a sum in 万元.
fn money(e: &Expr, tags: &TagDictionary) -> String {
    if let Some(v) = literal_num(e) {
        return format!("{}万元", number(v));
    }
    match &e.kind {
        Kind::Binary(BinOp::Mul, a, b) => {
            let (k, x) = match (literal_num(a), literal_num(b)) {
                (_, Some(k)) => (k, &**a),
                (Some(k), None) => (k, &**b),
                (None, None) => return readable(e, tags),
            };
            factor(k, x, tags)
        }
        Kind::Call(func @ (Func::Min | Func::Max), args) => {
            let limits: Vec<f64> = args.iter().filter_map(literal_num).collect();
            let rest: Vec<&Expr> = args.iter().filter(|a| literal_num(a).is_none()).collect();
            let word = if *func == Func::Min { "最高" } else { "最低" };
            match (limits.as_slice(), rest.as_slice()) {
                ([limit], [x]) => format!("{}，{word}{}万元", money(x, tags), number(*limit)),
                _ => {
                    let parts: Vec<String> = args.iter().map(|a| money(a, tags)).collect();
                    let which = if *func == Func::Min { "较小者" } else { "较大者" };
                    format!("{}中的{which}", parts.join("与"))
                }
            }
        }
        Kind::Cond(..) => {
            let mut arms = Vec::new();
            let mut cur = e;
            while let Kind::Cond(c, a, b) = &cur.kind {
                arms.push(format!("{}的，{}", condition_text(c, tags), money(a, tags)));
                cur = b;
            }
            format!("{}；其他{}", arms.join("；"), money(cur, tags))
        }
        Kind::Call(f @ (Func::Round | Func::Floor | Func::Ceil), args) => {
            let how = match f {
                Func::Round => "四舍五入取整",
                Func::Floor => "向下取整",
                _ => "向上取整",
            };
            match args.first() {
                Some(x) => format!("{}（{how}）", money(x, tags)),
                None => readable(e, tags),
            }
        }
        _ => quantity(e, tags),
    }
}

/// `x × k` where `x` is not a literal.
fn factor(k: f64, x: &Expr, tags: &TagDictionary) -> String {
    if is_money(x) {
        let base = quantity(x, tags);
        return if k.abs() <= 1.0 {
            format!("{base}的{}%", number(k * 100.0))
        } else {
            format!("{base}的{}倍", number(k))
        };
    }
    match &x.kind {
        Kind::Field(f) if f.ty() == FieldType::Int => match f.unit() {
            Some(u) => format!("按{}每{u}{}万元", f.label(), number(k)),
            None => format!("按{}每个{}万元", f.label(), number(k)),
        },
        _ => format!("{}×{}万元", quantity(x, tags), number(k)),
    }
}

/// A value inside a formula: a field's name, or a bracketed sub-formula.
fn quantity(e: &Expr, tags: &TagDictionary) -> String {
    match &e.kind {
        Kind::Field(f) => f.label().to_string(),
        Kind::Binary(BinOp::Sub, a, b) if growth(a, b).is_some() => growth(a, b).unwrap_or_default(),
        Kind::Binary(BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div, ..) => format!("（{}）", readable(e, tags)),
        Kind::Call(Func::Abs, args) => match args.first() {
            Some(x) => format!("{}的绝对值", quantity(x, tags)),
            None => readable(e, tags),
        },
        _ if literal_num(e).is_some() => literal_num(e).map(number).unwrap_or_default(),
        _ => readable(e, tags),
    }
}

/// How a comparison reads for a field of this type.
pub fn op_words(op: BinOp, date: bool) -> &'static str {
    match (op, date) {
        (BinOp::Eq, _) => "为",
        (BinOp::Ne, _) => "不为",
        (BinOp::Ge, false) => "不低于",
        (BinOp::Gt, false) => "高于",
        (BinOp::Le, false) => "不高于",
        (BinOp::Lt, false) => "低于",
        (BinOp::Ge, true) => "不早于",
        (BinOp::Gt, true) => "晚于",
        (BinOp::Le, true) => "不晚于",
        (BinOp::Lt, true) => "早于",
        (other, _) => other.pretty(),
    }
}

/// A literal next to a field: `3%`, `500 万元`, `小型`, `2025-01-01`.
pub fn literal(f: Option<Field>, lit: &Expr) -> Option<String> {
    Some(match &lit.kind {
        _ if literal_num(lit).is_some() => {
            let v = literal_num(lit)?;
            match f.and_then(Field::unit) {
                Some("%") => format!("{}%", number(v)),
                Some(u) => format!("{}{u}", number(v)),
                None => number(v),
            }
        }
        Kind::Str(s) => match f {
            Some(f) => f.choices().iter().find(|(k, _)| k == s).map_or_else(|| s.clone(), |(_, l)| l.to_string()),
            None => s.clone(),
        },
        Kind::Call(Func::Date, args) => args.first().and_then(Expr::as_str)?.to_string(),
        Kind::Call(Func::Today, _) => "今天".into(),
        Kind::Bool(b) => if *b { "是" } else { "否" }.into(),
        _ => return None,
    })
}

/// Whether a comparison of `f` with `other` is between dates (so it reads 早于/晚于).
pub fn is_date(f: Option<Field>, other: &Expr) -> bool {
    f.is_some_and(|f| field_ty(f) == Ty::Date) || matches!(other.kind, Kind::Call(Func::Date | Func::Today, _))
}

/// `tag_since("k")` / `tag_until("k")`: the words and the key.
fn tag_date(e: &Expr, tags: &TagDictionary) -> Option<String> {
    match &e.kind {
        Kind::Call(f @ (Func::TagSince | Func::TagUntil), args) => {
            let key = args.first().and_then(Expr::as_str)?;
            let what = if *f == Func::TagSince { "认定日期" } else { "有效期止" };
            Some(format!("「{}」{what}", tags.label(key)))
        }
        _ => None,
    }
}

/// What a `within` prefix names: 「黑龙江省哈尔滨市」, 「C 制造业」.
pub fn within_target(f: Field, prefix: &str) -> String {
    match f {
        Field::Region => {
            let mut code = prefix.to_string();
            while code.len() < 6 {
                code.push('0');
            }
            crate::model::reference::region_full_name(&code)
        }
        _ => crate::model::reference::industry_label(prefix),
    }
}

/// Where a code lies, in words: 「所在地在黑龙江省哈尔滨市」, 「行业属于C 制造业」.
pub fn within_text(f: Field, prefix: &str) -> String {
    let verb = if f == Field::Region { "在" } else { "属于" };
    format!("{}{verb}{}", f.label(), within_target(f, prefix))
}

/// A condition in plain Chinese: 「研发投入占比不低于3%」, 「持有「高新技术企业」」.
pub fn condition_text(e: &Expr, tags: &TagDictionary) -> String {
    match &e.kind {
        Kind::Bool(true) => "无条件".into(),
        Kind::Bool(false) => "不成立".into(),
        Kind::Binary(BinOp::And, a, b) => format!("{}且{}", condition_text(a, tags), condition_text(b, tags)),
        Kind::Binary(BinOp::Or, a, b) => format!("{}或{}", condition_text(a, tags), condition_text(b, tags)),
        Kind::Binary(op, a, b) if op.is_comparison() => {
            if let Some(t) = tag_date(a, tags) {
                return format!("{t}{}{}", op_words(*op, true), literal(None, b).unwrap_or_else(|| readable(b, tags)));
            }
            if let Some(t) = tag_date(b, tags) {
                let op = op.flipped();
                return format!("{t}{}{}", op_words(op, true), literal(None, a).unwrap_or_else(|| readable(a, tags)));
            }
            let (f, lit, op) = match (&a.kind, &b.kind) {
                (Kind::Field(f), _) => (*f, &**b, *op),
                (_, Kind::Field(f)) => (*f, &**a, op.flipped()),
                _ => return readable(e, tags),
            };
            match literal(Some(f), lit) {
                Some(l) => format!("{}{}{l}", f.label(), op_words(op, is_date(Some(f), lit))),
                None => readable(e, tags),
            }
        }
        Kind::Binary(BinOp::In, a, b) => match (&a.kind, &b.kind) {
            (Kind::Str(k), Kind::Field(Field::Tags)) => format!("持有「{}」", tags.label(k)),
            (Kind::Field(f), Kind::List(items)) => {
                let values: Vec<String> =
                    items.iter().map(|i| literal(Some(*f), i).unwrap_or_else(|| readable(i, tags))).collect();
                format!("{}为{}", f.label(), values.join("、"))
            }
            _ => readable(e, tags),
        },
        Kind::Call(Func::Contains, args) => {
            format!("持有「{}」", tags.label(args.get(1).and_then(Expr::as_str).unwrap_or("")))
        }
        Kind::Call(Func::Within, args) => match (args.first().map(|a| &a.kind), args.get(1).and_then(Expr::as_str)) {
            (Some(Kind::Field(f)), Some(p)) => within_text(*f, p),
            _ => readable(e, tags),
        },
        Kind::Call(Func::Has, args) => match args.first().map(|a| &a.kind) {
            Some(Kind::Field(f)) => format!("已有{}数据", f.label()),
            _ => readable(e, tags),
        },
        Kind::Field(f) => format!("{}为是", f.label()),
        Kind::Not(inner) => match &inner.kind {
            Kind::Field(f) => format!("{}为否", f.label()),
            Kind::Call(Func::Contains, _) | Kind::Binary(BinOp::In, _, _) => {
                format!("未{}", condition_text(inner, tags))
            }
            _ => format!("并非{}", condition_text(inner, tags)),
        },
        _ => readable(e, tags),
    }
}

/// Any expression with field names and ×÷≥ signs instead of code.
pub fn readable(e: &Expr, tags: &TagDictionary) -> String {
    match &e.kind {
        Kind::Null => "空".into(),
        Kind::Bool(b) => if *b { "是" } else { "否" }.into(),
        Kind::Int(_) | Kind::Double(_) => literal_num(e).map(number).unwrap_or_default(),
        Kind::Str(s) => format!("「{s}」"),
        Kind::List(items) => items.iter().map(|i| readable(i, tags)).collect::<Vec<_>>().join("、"),
        Kind::Field(f) => f.label().to_string(),
        Kind::Not(a) => format!("并非{}", readable(a, tags)),
        Kind::Neg(a) => format!("−{}", readable(a, tags)),
        Kind::Binary(op, a, b) => {
            let sign = match op {
                BinOp::Add => "＋",
                BinOp::Sub => "－",
                BinOp::Mul => "×",
                BinOp::Div => "÷",
                BinOp::And => "且",
                BinOp::Or => "或",
                BinOp::In => "属于",
                other => other.pretty(),
            };
            let side = |x: &Expr| match &x.kind {
                Kind::Binary(..) | Kind::Cond(..) => format!("（{}）", readable(x, tags)),
                _ => readable(x, tags),
            };
            format!("{} {sign} {}", side(a), side(b))
        }
        Kind::Cond(c, a, b) => {
            format!("{}时为{}，否则为{}", condition_text(c, tags), readable(a, tags), readable(b, tags))
        }
        Kind::Call(func, args) => {
            let parts = || args.iter().map(|a| readable(a, tags)).collect::<Vec<_>>();
            match func {
                Func::Min => format!("{}中的较小者", parts().join("与")),
                Func::Max => format!("{}中的较大者", parts().join("与")),
                Func::Round => format!("{}（四舍五入取整）", parts().join("")),
                Func::Floor => format!("{}（向下取整）", parts().join("")),
                Func::Ceil => format!("{}（向上取整）", parts().join("")),
                Func::Abs => format!("{}的绝对值", parts().join("")),
                Func::Date => args.first().and_then(Expr::as_str).unwrap_or("").to_string(),
                Func::Today => "今天".into(),
                Func::TagSince | Func::TagUntil => tag_date(e, tags).unwrap_or_default(),
                Func::Has | Func::Within | Func::Contains => condition_text(e, tags),
            }
        }
    }
}

/// The source of an amount formula in plain Chinese, or `None` when it does not parse (a
/// stored formula always does; a page then shows nothing rather than code).
pub fn amount_source_text(src: &str, tags: &TagDictionary) -> Option<String> {
    let src = src.trim();
    if src.is_empty() {
        return None;
    }
    super::parse::parse(src).ok().map(|e| amount_text(&e, tags))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tags::default_tags;

    fn amount(src: &str) -> String {
        amount_source_text(src, &TagDictionary::new(default_tags())).unwrap()
    }

    fn condition(src: &str) -> String {
        let e = super::super::parse::parse(src).unwrap();
        condition_text(&e, &TagDictionary::new(default_tags()))
    }

    #[test]
    fn amounts_read_as_chinese() {
        assert_eq!(amount("min(rd_expense * 0.05, 50)"), "研发费用的5%，最高50万元");
        assert_eq!(amount("30"), "30万元");
        assert_eq!(amount("0.2"), "0.2万元");
        assert_eq!(amount("graduate_hires * 0.6"), "按吸纳高校毕业生数每人0.6万元");
        assert_eq!(amount("min(invention_patents * 0.5, 10)"), "按发明专利数每件0.5万元，最高10万元");
        assert_eq!(amount("min(export_value * 0.01, 50)"), "出口额的1%，最高50万元");
        assert_eq!(
            amount("min((rd_expense - rd_expense_prev) * 0.1, 100)"),
            "研发费用较上年度增加额的10%，最高100万元"
        );
        assert_eq!(amount("entity_type == \"individual\" ? 0.1 : 0.3"), "主体类型为个体工商户的，0.1万元；其他0.3万元");
        assert_eq!(
            amount("size_class == \"large\" ? ui_premium_paid * 0.3 : ui_premium_paid * 0.6"),
            "企业规模为大型的，失业保险缴费的30%；其他失业保险缴费的60%"
        );
        assert_eq!(
            amount("revenue >= 100000 && revenue_prev < 100000 ? 50 : 20"),
            "营业收入不低于100000万元且上年度营业收入低于100000万元的，50万元；其他20万元"
        );
        assert_eq!(amount("max(tax_paid * 0.2, 1)"), "纳税总额的20%，最低1万元");
        assert_eq!(amount("tax_paid * 2"), "纳税总额的2倍");
        assert_eq!(amount("round(revenue / employees)"), "（营业收入 ÷ 从业人数）（四舍五入取整）");
        assert_eq!(amount("min(rd_expense, tax_paid, 100)"), "研发费用与纳税总额与100万元中的较小者");
    }

    #[test]
    fn no_formula_comes_back_as_code() {
        for src in [
            "tags.contains(\"high_tech\") ? 50 : 20",
            "tag_since(\"high_tech\") >= date(\"2025-01-01\") ? abs(revenue - tax_paid) * 0.1 : -1",
            "revenue * rd_ratio / 100",
            "industry.within(\"C\") ? (region.within(\"2301\") ? 10 : 5) : 0",
            "max(min(revenue, 10), 1)",
        ] {
            let text = amount(src);
            for code in ["_", "(\"", "==", "&&", "*", "within", "contains", "min(", "max("] {
                assert!(!text.contains(code), "{src} → {text}");
            }
        }
    }

    #[test]
    fn conditions_read_as_chinese() {
        assert_eq!(condition("rd_ratio >= 3"), "研发投入占比不低于3%");
        assert_eq!(condition("entity_type == \"enterprise\""), "主体类型为企业");
        assert_eq!(condition("tags.contains(\"high_tech\")"), "持有「高新技术企业」");
        assert_eq!(condition("tax_credit in [\"A\", \"B\"]"), "纳税信用等级为A级、B级");
        assert_eq!(condition("established < date(\"2020-01-01\")"), "成立日期早于2020-01-01");
        assert_eq!(condition("!dishonest"), "失信主体为否");
    }
}
