//! The type checker: every node gets a type; a mismatch, an enum value or code that does not
//! exist, an unknown tag, or a date where a number belongs is an error at its position.

use super::RuleError;
use super::ast::{BinOp, Expr, Func, Kind, Ty};
use super::catalog::field_ty;
use crate::model::{Date, Field, IndustryCode, RegionCode, TagDictionary};

/// What the checker needs to know besides the catalogue.
pub struct CheckContext<'a> {
    pub tags: &'a TagDictionary,
}

struct Checker<'a> {
    ctx: &'a CheckContext<'a>,
    errors: Vec<RuleError>,
}

fn err(e: &Expr, zh: String, en: String) -> RuleError {
    RuleError::new(e.span.0, e.span.1, zh, en)
}

fn names(t: &Ty) -> (String, String) {
    t.describe()
}

impl Checker<'_> {
    fn push(&mut self, e: RuleError) {
        if !self.errors.iter().any(|x| x.start == e.start && x.zh == e.zh) {
            self.errors.push(e);
        }
    }

    fn expect(&mut self, e: &Expr, want: &Ty, role: (&str, &str)) {
        if e.ty != *want && e.ty != Ty::Unchecked {
            let (gz, ge) = names(&e.ty);
            let (wz, we) = names(want);
            let hint = if e.ty == Ty::Date && *want == Ty::Num {
                "；日期不能当作数值，计算年限请用 age_years，比较请用 date(\"YYYY-MM-DD\")"
            } else {
                ""
            };
            self.push(err(
                e,
                format!("{}应为{wz}，这里是{gz}{hint}", role.0),
                format!("{} must be {we}, found {ge}", role.1),
            ));
        }
    }

    /// A string literal that must be a key of `field`'s vocabulary (or a code of it).
    fn check_value_for(&mut self, field: Field, lit: &Expr) {
        let Some(s) = lit.as_str() else {
            let (gz, ge) = names(&lit.ty);
            self.push(err(
                lit,
                format!("「{}」应与文本值比较，例如 \"{}\"，这里是{gz}", field.label(), example(field)),
                format!("`{}` compares with a string such as \"{}\", found {ge}", field.name(), example(field)),
            ));
            return;
        };
        match field_ty(field) {
            Ty::Enum(_) => {
                let choices = field.choices();
                if !choices.iter().any(|(k, _)| *k == s) {
                    let list: Vec<String> = choices.iter().map(|(k, l)| format!("\"{k}\"（{l}）")).collect();
                    let by_label = choices.iter().find(|(_, l)| *l == s).map(|(k, _)| *k);
                    let hint = by_label.map(|k| format!("；「{s}」请写作 \"{k}\"")).unwrap_or_default();
                    self.push(err(
                        lit,
                        format!("「{}」没有取值「{s}」，可用：{}{hint}", field.label(), list.join("、")),
                        format!(
                            "`{}` has no value \"{s}\"; use one of {}",
                            field.name(),
                            choices.iter().map(|(k, _)| format!("\"{k}\"")).collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
            }
            Ty::Code(Field::Region) => {
                if let Err(e) = RegionCode::parse(s) {
                    self.push(err(lit, e.to_string(), format!("\"{s}\" is not a GB/T 2260 region code")));
                }
            }
            Ty::Code(_) => {
                if let Err(e) = IndustryCode::parse(s) {
                    self.push(err(lit, e.to_string(), format!("\"{s}\" is not a GB/T 4754-2017 industry code")));
                }
            }
            _ => {}
        }
    }

    /// A literal compared with `credit_code` must be a credit code.
    fn check_credit_literal(&mut self, field: &Expr, lit: &Expr) {
        if let (Kind::Field(Field::CreditCode), Some(s)) = (&field.kind, lit.as_str())
            && let Err(e) = crate::model::CreditCode::parse(s)
        {
            self.push(err(lit, e.to_string(), format!("\"{s}\" is not a credit code")));
        }
    }

    fn check_tag(&mut self, lit: &Expr) {
        match lit.as_str() {
            Some(k) if self.ctx.tags.tags.iter().any(|t| t.key == k) => {}
            Some(k) => {
                let hint = self.ctx.tags.resolve(k).map(|t| format!("；请写作 \"{}\"", t.key)).unwrap_or_default();
                self.push(err(
                    lit,
                    format!("资质标签「{k}」不在标签字典中{hint}"),
                    format!("tag \"{k}\" is not in the tag dictionary"),
                ));
            }
            None => self.push(err(
                lit,
                "资质标签应写成带引号的标签键，例如 \"high_tech\"".into(),
                "a tag must be a quoted key such as \"high_tech\"".into(),
            )),
        }
    }

    fn check(&mut self, e: &mut Expr) {
        e.ty = match &mut e.kind {
            Kind::Null => Ty::Null,
            Kind::Bool(_) => Ty::Bool,
            Kind::Int(_) | Kind::Double(_) => Ty::Num,
            Kind::Str(_) => Ty::Str,
            Kind::Field(f) => field_ty(*f),
            Kind::List(items) => {
                for i in items.iter_mut() {
                    self.check(i);
                }
                let first = items.first().map(|i| i.ty.clone()).unwrap_or(Ty::Str);
                for i in items.iter() {
                    if i.ty != first {
                        let (a, b) = (names(&first), names(&i.ty));
                        self.push(err(
                            i,
                            format!("列表中的值类型应一致：{}与{}混用", a.0, b.0),
                            format!("list mixes {} and {}", a.1, b.1),
                        ));
                    }
                }
                Ty::List(Box::new(first))
            }
            Kind::Not(inner) => {
                self.check(inner);
                self.expect(inner, &Ty::Bool, ("「!」的运算数", "operand of `!`"));
                Ty::Bool
            }
            Kind::Neg(inner) => {
                self.check(inner);
                self.expect(inner, &Ty::Num, ("负号的运算数", "operand of unary `-`"));
                Ty::Num
            }
            Kind::Cond(c, a, b) => {
                self.check(c);
                self.check(a);
                self.check(b);
                self.expect(c, &Ty::Bool, ("「? :」的条件", "condition of `? :`"));
                if a.ty != b.ty && a.ty != Ty::Null && b.ty != Ty::Null {
                    let (x, y) = (names(&a.ty), names(&b.ty));
                    self.push(err(
                        b,
                        format!("「? :」两个分支的类型应一致：{}与{}", x.0, y.0),
                        format!("branches of `? :` differ: {} and {}", x.1, y.1),
                    ));
                }
                if a.ty == Ty::Null { b.ty.clone() } else { a.ty.clone() }
            }
            Kind::Binary(op, a, b) => {
                let op = *op;
                self.check(a);
                self.check(b);
                self.binary(op, a, b)
            }
            Kind::Call(func, args) => {
                let func = *func;
                for a in args.iter_mut() {
                    self.check(a);
                }
                self.call(func, args, e.span)
            }
        };
    }

    fn binary(&mut self, op: BinOp, a: &Expr, b: &Expr) -> Ty {
        match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => {
                let sym = op.symbol();
                self.expect(a, &Ty::Num, (&format!("「{sym}」左边"), &format!("left side of `{sym}`")));
                self.expect(b, &Ty::Num, (&format!("「{sym}」右边"), &format!("right side of `{sym}`")));
                Ty::Num
            }
            BinOp::And | BinOp::Or => {
                let sym = op.symbol();
                self.expect(a, &Ty::Bool, (&format!("「{sym}」左边"), &format!("left side of `{sym}`")));
                self.expect(b, &Ty::Bool, (&format!("「{sym}」右边"), &format!("right side of `{sym}`")));
                Ty::Bool
            }
            BinOp::In => {
                match (&a.ty, &b.ty) {
                    (Ty::Str, Ty::Tags) => self.check_tag(a),
                    (Ty::Enum(f) | Ty::Code(f), Ty::List(_)) => {
                        let f = *f;
                        if let Kind::List(items) = &b.kind {
                            for i in items {
                                self.check_value_for(f, i);
                            }
                        }
                    }
                    (_, Ty::List(inner)) if a.ty == **inner || a.ty == Ty::Unchecked => {
                        if let Kind::List(items) = &b.kind {
                            for i in items {
                                self.check_credit_literal(a, i);
                            }
                        }
                    }
                    (_, Ty::List(inner)) => {
                        let (x, y) = (names(&a.ty), names(inner));
                        self.push(err(
                            b,
                            format!("「in」两边类型不一致：{}与{}", x.0, y.0),
                            format!("`in` compares {} with a list of {}", x.1, y.1),
                        ));
                    }
                    _ => self.push(err(
                        b,
                        "「in」右边应为列表，例如 [\"A\", \"B\"]，或资质标签 tags".into(),
                        "the right side of `in` must be a list literal or `tags`".into(),
                    )),
                }
                if !matches!(b.kind, Kind::List(_) | Kind::Field(Field::Tags)) {
                    self.push(err(
                        b,
                        "「in」右边只能是列表字面量或 tags".into(),
                        "the right side of `in` must be a list literal or `tags`".into(),
                    ));
                }
                Ty::Bool
            }
            _ => {
                // Comparisons.
                if a.ty == Ty::Null || b.ty == Ty::Null {
                    self.push(err(
                        if a.ty == Ty::Null { a } else { b },
                        "不能与 null 比较；判断是否有值请用 has(字段)".into(),
                        "do not compare with null; use has(field)".into(),
                    ));
                    return Ty::Bool;
                }
                let ordered = !matches!(op, BinOp::Eq | BinOp::Ne);
                match (&a.ty, &b.ty) {
                    (Ty::Num, Ty::Num) | (Ty::Date, Ty::Date) => {}
                    (Ty::Enum(f) | Ty::Code(f), Ty::Str) if !ordered => self.check_value_for(*f, b),
                    (Ty::Str, Ty::Enum(f) | Ty::Code(f)) if !ordered => self.check_value_for(*f, a),
                    (Ty::Bool, Ty::Bool) if !ordered => {}
                    (Ty::Str, Ty::Str) if !ordered => {
                        self.check_credit_literal(a, b);
                        self.check_credit_literal(b, a);
                    }
                    (Ty::Enum(f), Ty::Str) | (Ty::Str, Ty::Enum(f)) => self.push(err(
                        b,
                        format!("「{}」只能用 == 或 != 比较", f.label()),
                        format!("`{}` can only be compared with == or !=", f.name()),
                    )),
                    _ => {
                        let (x, y) = (names(&a.ty), names(&b.ty));
                        let hint = match (&a.ty, &b.ty) {
                            (Ty::Date, Ty::Str) | (Ty::Str, Ty::Date) => "；日期请写作 date(\"YYYY-MM-DD\")",
                            (Ty::Date, Ty::Num) | (Ty::Num, Ty::Date) => "；日期不是数值，计算年限请用 age_years",
                            (Ty::Tags, _) | (_, Ty::Tags) => "；判断资质请用 tags.contains(\"键\")",
                            _ => "",
                        };
                        self.push(err(
                            b,
                            format!("不能用「{}」比较{}与{}{hint}", op.symbol(), x.0, y.0),
                            format!("cannot compare {} with {} using `{}`", x.1, y.1, op.symbol()),
                        ));
                    }
                }
                Ty::Bool
            }
        }
    }

    fn arity(&mut self, func: Func, args: &[Expr], span: (usize, usize), min: usize, max: usize) -> bool {
        if args.len() < min || args.len() > max {
            let want = if min == max { min.to_string() } else { format!("{min}–{max}") };
            self.push(RuleError::new(
                span.0,
                span.1,
                format!("{}() 需要 {want} 个参数，这里有 {} 个", func.name(), args.len()),
                format!("{}() takes {want} argument(s), found {}", func.name(), args.len()),
            ));
            return false;
        }
        true
    }

    fn call(&mut self, func: Func, args: &mut [Expr], span: (usize, usize)) -> Ty {
        match func {
            Func::Min | Func::Max => {
                if self.arity(func, args, span, 2, 16) {
                    for a in args.iter() {
                        self.expect(
                            a,
                            &Ty::Num,
                            (&format!("{}() 的参数", func.name()), &format!("argument of {}()", func.name())),
                        );
                    }
                }
                Ty::Num
            }
            Func::Round | Func::Floor | Func::Ceil | Func::Abs => {
                if self.arity(func, args, span, 1, 1) {
                    self.expect(
                        &args[0],
                        &Ty::Num,
                        (&format!("{}() 的参数", func.name()), &format!("argument of {}()", func.name())),
                    );
                }
                Ty::Num
            }
            Func::Date => {
                if self.arity(func, args, span, 1, 1) {
                    match args[0].as_str() {
                        Some(s) if Date::parse(s).is_ok() => {}
                        Some(s) => self.push(err(
                            &args[0],
                            format!("日期「{s}」无效，应为 YYYY-MM-DD 格式的真实日期"),
                            format!("\"{s}\" is not a YYYY-MM-DD date"),
                        )),
                        None => self.push(err(
                            &args[0],
                            "date() 的参数应为带引号的日期，例如 date(\"2025-01-01\")".into(),
                            "date() takes a quoted date such as date(\"2025-01-01\")".into(),
                        )),
                    }
                }
                Ty::Date
            }
            Func::Today => {
                self.arity(func, args, span, 0, 0);
                Ty::Date
            }
            Func::TagSince | Func::TagUntil => {
                if self.arity(func, args, span, 1, 1) {
                    self.check_tag(&args[0]);
                }
                Ty::Date
            }
            Func::Has => {
                if self.arity(func, args, span, 1, 1) && !matches!(args[0].kind, Kind::Field(_)) {
                    self.push(err(
                        &args[0],
                        "has() 的参数应为一个字段名，例如 has(revenue)".into(),
                        "has() takes a field name such as has(revenue)".into(),
                    ));
                }
                Ty::Bool
            }
            Func::Within => {
                if self.arity(func, args, span, 2, 2) {
                    let field = match args[0].ty {
                        Ty::Code(f) => Some(f),
                        _ => None,
                    };
                    match (field, args[1].as_str()) {
                        (Some(Field::Region), Some(p)) => {
                            let ok = matches!(p.len(), 2 | 4 | 6)
                                && p.bytes().all(|b| b.is_ascii_digit())
                                && crate::model::reference::region(&format!("{p:0<6}")).is_some();
                            if !ok {
                                self.push(err(&args[1], format!("「{p}」不是有效的行政区划代码前缀（2、4 或 6 位，例如 \"23\"、\"2301\"、\"230125\"）"), format!("\"{p}\" is not a region code prefix (2, 4 or 6 digits that exist)")));
                            }
                        }
                        (Some(_), Some(p)) => {
                            if crate::model::reference::industry(p).is_none() {
                                self.push(err(
                                    &args[1],
                                    format!("「{p}」不是 GB/T 4754-2017 行业代码（例如 \"C\"、\"C39\"、\"C3911\"）"),
                                    format!("\"{p}\" is not a GB/T 4754-2017 industry code"),
                                ));
                            }
                        }
                        (Some(_), None) => self.push(err(
                            &args[1],
                            "within() 的参数应为带引号的代码".into(),
                            "within() takes a quoted code".into(),
                        )),
                        (None, _) => self.push(err(
                            &args[0],
                            "within() 只能用于 region 或 industry".into(),
                            "within() applies to region or industry only".into(),
                        )),
                    }
                }
                Ty::Bool
            }
            Func::Contains => {
                if self.arity(func, args, span, 2, 2) {
                    if args[0].ty != Ty::Tags {
                        self.push(err(
                            &args[0],
                            "contains() 只能用于资质标签 tags".into(),
                            "contains() applies to tags only".into(),
                        ));
                    }
                    self.check_tag(&args[1]);
                }
                Ty::Bool
            }
        }
    }
}

/// An example value for messages.
fn example(f: Field) -> String {
    match f {
        Field::Region => "230125".into(),
        Field::Industry => "C3911".into(),
        _ => f.choices().first().map(|(k, _)| k.to_string()).unwrap_or_default(),
    }
}

/// What the expression must produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// A condition: true or false.
    Condition,
    /// An amount formula: a number of 万元.
    Amount,
}

/// Type-checks `expr` in place; returns the errors (empty when it is well-typed).
pub fn check(expr: &mut Expr, want: Want, ctx: &CheckContext<'_>) -> Vec<RuleError> {
    let mut c = Checker { ctx, errors: Vec::new() };
    c.check(expr);
    let target = match want {
        Want::Condition => Ty::Bool,
        Want::Amount => Ty::Num,
    };
    if c.errors.is_empty() && expr.ty != target {
        let (gz, ge) = expr.ty.describe();
        let (zh, en) = match want {
            Want::Condition => (
                format!("条件的结果应为是/否，这里得到的是{gz}（是否漏了比较，例如 revenue >= 100？）"),
                format!("a condition must be true or false, found {ge}"),
            ),
            Want::Amount => (
                format!("兑现标准应计算出金额（数值，万元），这里得到的是{gz}"),
                format!("an amount formula must be a number, found {ge}"),
            ),
        };
        c.errors.push(RuleError::new(0, expr.span.1.max(1), zh, en));
    }
    c.errors.sort_by_key(|e| e.start);
    c.errors
}

/// Non-fatal notes: a `tag_since`/`tag_until` not guarded by `tags.contains` of the same tag
/// in the same chain of `&&`.
pub fn warnings(expr: &Expr) -> Vec<RuleError> {
    let conjuncts = expr.conjuncts();
    let guarded = |key: &str| {
        conjuncts.iter().any(|c| match &c.kind {
            Kind::Call(Func::Contains, args) => args.get(1).and_then(Expr::as_str) == Some(key),
            Kind::Binary(BinOp::In, a, b) => a.as_str() == Some(key) && matches!(b.kind, Kind::Field(Field::Tags)),
            _ => false,
        })
    };
    let mut out = Vec::new();
    expr.walk(&mut |e| {
        if let Kind::Call(f @ (Func::TagSince | Func::TagUntil), args) = &e.kind
            && let Some(key) = args.first().and_then(Expr::as_str)
            && !guarded(key)
        {
            out.push(RuleError::new(
                e.span.0,
                e.span.1,
                format!(
                    "{}(\"{key}\") 在企业不持有该资质时为空，建议写成 tags.contains(\"{key}\") && {}(\"{key}\") …",
                    f.name(),
                    f.name()
                ),
                format!(
                    "{}(\"{key}\") is null when the tag is not held; write tags.contains(\"{key}\") && {}(\"{key}\") …",
                    f.name(),
                    f.name()
                ),
            ));
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tags::default_tags;
    use crate::rules::parse::parse;

    fn errors(src: &str, want: Want) -> Vec<RuleError> {
        let tags = TagDictionary::new(default_tags());
        let mut e = parse(src).unwrap();
        check(&mut e, want, &CheckContext { tags: &tags })
    }

    fn first(src: &str) -> String {
        errors(src, Want::Condition).first().map(|e| e.zh.clone()).unwrap_or_default()
    }

    #[test]
    fn accepts_the_documented_examples() {
        for ok in [
            "tags.contains(\"high_tech\") && tag_since(\"high_tech\") >= date(\"2025-01-01\")",
            "rd_ratio >= 3",
            "industry.within(\"C\") || industry.within(\"I65\")",
            "!dishonest",
            "tax_credit in [\"A\", \"B\"]",
            "size_class in [\"small\", \"micro\"] && status == \"active\"",
            "\"high_tech\" in tags",
            "has(revenue) && age_years >= 3",
            "region.within(\"2301\") && entity_type == \"enterprise\"",
            "established <= date(\"2023-12-31\") && established < today()",
            "(revenue > 100 ? 1 : 0) == 1",
            "credit_code == \"91350100M000100Y43\"",
        ] {
            assert_eq!(errors(ok, Want::Condition), vec![], "{ok}");
        }
        for ok in [
            "min(rd_expense * 0.1, 100)",
            "graduate_hires * 0.15",
            "round(ui_premium_paid * 0.6)",
            "tags.contains(\"listed\") ? 300 : 0",
        ] {
            assert_eq!(errors(ok, Want::Amount), vec![], "{ok}");
        }
    }

    #[test]
    fn refuses_mismatches_with_clear_messages() {
        assert!(first("revenue >= \"100\"").contains("数值与文本"));
        assert!(first("established > 2020").contains("日期不是数值"));
        assert!(first("established >= \"2020-01-01\"").contains("date(\"YYYY-MM-DD\")"));
        assert!(first("status == \"open\"").contains("没有取值「open」"));
        assert!(first("entity_type == \"企业\"").contains("请写作 \"enterprise\""));
        assert!(first("tags.contains(\"unicorn\")").contains("不在标签字典"));
        assert!(first("region.within(\"239\")").contains("前缀"));
        assert!(first("industry.within(\"Z9\")").contains("GB/T 4754"));
        assert!(first("region == \"999999\"").contains("GB/T 2260"));
        assert!(first("revenue + dishonest > 1").contains("右边应为数值"));
        assert!(first("revenue").contains("是/否"));
        assert!(first("revenue == null").contains("has("));
        assert!(first("date(\"2025-13-01\") < today()").contains("无效"));
        assert!(first("min(revenue) > 1").contains("2–16 个参数"));
        assert!(first("tax_credit >= \"A\"").contains("== 或 !="));
        assert!(first("size_class in [\"huge\"]").contains("没有取值「huge」"));
        assert!(errors("revenue > 1", Want::Amount)[0].zh.contains("金额"));
        assert!(first("credit_code == \"91350100M000100Y43XYZ\"").contains("18 位"));
        let e = &errors("revenue > 1 && employees >= \"x\"", Want::Condition)[0];
        assert_eq!(e.start, 28, "points at the string");
    }

    #[test]
    fn warns_about_unguarded_tag_dates() {
        let tags = TagDictionary::new(default_tags());
        let mut e = parse("tag_since(\"high_tech\") >= date(\"2025-01-01\")").unwrap();
        assert!(check(&mut e, Want::Condition, &CheckContext { tags: &tags }).is_empty());
        assert_eq!(warnings(&e).len(), 1);
        let e = parse("tags.contains(\"high_tech\") && tag_since(\"high_tech\") >= date(\"2025-01-01\")").unwrap();
        assert!(warnings(&e).is_empty());
    }
}
