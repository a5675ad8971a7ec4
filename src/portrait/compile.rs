//! Compiling checked expressions to columnar plans; `run` evaluates them over a chunk of the
//! portrait at a time into three-valued masks (true rows, false rows; the rest are unknown).
//! Also the one gate every expression passes on its way in (`compile_expr`, `check_measure`):
//! the rules language's checks, then a plan, so that whatever is accepted can be matched.

mod arith;
mod narrow;
mod ratio;
mod run;
pub use ratio::{Cols, RatioCmp};
pub use run::Ctx;

use super::{NUM_SCALES, enum_keys, enum_slot, flag_slot, industry_index, industry_range, num_slot};
use crate::model::Dec;
use crate::model::decimal::{DIV_SCALE, MAX_SCALE};
use crate::model::{Date, Field, MeasureSpec, TagDictionary};
use crate::rules::ast::{BinOp, Expr, Func, Kind, Ty};
use crate::rules::check::Want;
use crate::rules::ratio::{Comparison, parts as ratio_parts};
use crate::rules::{MeasureRuleError, MeasureRules, RuleError};

/// Rows per chunk: a multiple of 64, small enough that a chunk's columns stay in cache.
pub const CHUNK: usize = 4096;
pub const WORDS: usize = CHUNK / 64;
pub type Mask = [u64; WORDS];

/// An unknown value in a numeric plan's buffers.
pub const NULL: i128 = i128::MIN;

/// A numeric plan: what to compute, and the decimal places of its values, fixed when compiled
/// (every value of the node is a mantissa at `scale`): a field's own scale, a literal's
/// decimals; `+ −`, `min`, `max`, `?:` the largest of their operands'; `×` the sum (at most
/// `MAX_SCALE`); `÷` `DIV_SCALE`; `round`, `floor`, `ceil`, dates and counts 0.
#[derive(Debug, Clone)]
pub struct NumPlan {
    pub node: Node,
    pub scale: u8,
}

#[derive(Debug, Clone)]
pub enum Node {
    /// A mantissa at the plan's scale, or `NULL`.
    Const(i128),
    Col(usize),
    Age,
    /// The evaluation date, in days.
    Today,
    TagSince(String),
    TagUntil(String),
    Neg(Box<NumPlan>),
    Bin(BinOp, Box<NumPlan>, Box<NumPlan>),
    Min(Vec<NumPlan>),
    Max(Vec<NumPlan>),
    Round(Box<NumPlan>),
    Floor(Box<NumPlan>),
    Ceil(Box<NumPlan>),
    Abs(Box<NumPlan>),
    Cond(Box<BoolPlan>, Box<NumPlan>, Box<NumPlan>),
    /// A derived ratio's value from the money columns (`rules::ratio`), at `DIV_SCALE`.
    Ratio(Cols),
}

impl NumPlan {
    fn new(node: Node) -> NumPlan {
        let scale = match &node {
            Node::Const(_) | Node::Age | Node::Today | Node::TagSince(_) | Node::TagUntil(_) => 0,
            Node::Col(s) => NUM_SCALES[*s],
            Node::Neg(a) | Node::Abs(a) => a.scale,
            Node::Round(_) | Node::Floor(_) | Node::Ceil(_) => 0,
            Node::Bin(BinOp::Mul, a, b) => a.scale.saturating_add(b.scale).min(MAX_SCALE),
            Node::Bin(BinOp::Div, ..) | Node::Ratio(_) => DIV_SCALE,
            Node::Bin(_, a, b) | Node::Cond(_, a, b) => a.scale.max(b.scale),
            Node::Min(args) | Node::Max(args) => args.iter().map(|a| a.scale).max().unwrap_or(0),
        };
        let mut node = node;
        // Literals beside operands of a larger scale are brought to the node's scale once, here,
        // instead of on every row (`min(revenue * 0.005, 20)`): the same values, compared and
        // added without rescaling.
        match &mut node {
            Node::Bin(BinOp::Add | BinOp::Sub, a, b) | Node::Cond(_, a, b) => {
                a.lift_const(scale);
                b.lift_const(scale);
            }
            Node::Min(args) | Node::Max(args) => args.iter_mut().for_each(|a| a.lift_const(scale)),
            _ => {}
        }
        NumPlan { node, scale }
    }

    /// A constant at a smaller scale than `scale` restated at `scale` (when it fits).
    fn lift_const(&mut self, scale: u8) {
        if let Node::Const(c) = &mut self.node
            && self.scale < scale
        {
            if *c == NULL {
                self.scale = scale;
            } else if let Some(m) = crate::model::decimal::upscale(*c, self.scale, scale) {
                *c = m;
                self.scale = scale;
            }
        }
    }

    /// A constant: the decimal at its own scale, `None` unknown.
    fn constant(d: Option<Dec>) -> NumPlan {
        match d {
            Some(d) => NumPlan { node: Node::Const(d.m), scale: d.s },
            None => NumPlan { node: Node::Const(NULL), scale: 0 },
        }
    }
}

#[derive(Debug, Clone)]
pub enum BoolPlan {
    Const(Option<bool>),
    Cmp(BinOp, NumPlan, NumPlan),
    /// A derived ratio against a literal, decided exactly on the money (`rules::ratio`).
    Ratio(RatioCmp),
    /// An enum column whose value index is in `mask`.
    EnumIn(usize, u64),
    Flag(usize),
    /// The region code lies in one of the ranges `[lo, hi)` (a prefix is a range of codes).
    RegionIn(Vec<(u32, u32)>),
    /// The industry index lies in one of the ranges.
    IndustryIn(Vec<(u16, u16)>),
    CodeIn(Vec<[u8; 18]>),
    HasTag(String),
    /// The field is known.
    Known(Field),
    /// Two booleans equal (Kleene).
    BoolEq(Box<BoolPlan>, Box<BoolPlan>),
    Not(Box<BoolPlan>),
    And(Vec<BoolPlan>),
    Or(Vec<BoolPlan>),
    Cond(Box<BoolPlan>, Box<BoolPlan>, Box<BoolPlan>),
}

/// Refuses an expression that checked but that the columnar engine cannot plan; the error spans
/// the whole source `src`.
pub fn check_plannable(src: &str, e: &Expr, want: Want) -> Result<(), RuleError> {
    let compiled = match want {
        Want::Condition => boolean(e).map(|_| ()),
        Want::Amount => num(e).map(|_| ()),
    };
    compiled.map_err(|c| {
        RuleError::new(
            0,
            src.chars().count(),
            "这种写法暂不支持：比较时请把字段与带引号的值直接比较（例如 tax_credit == \"A\"、region.within(\"2301\")），不要比较两个字段或条件表达式的结果".into(),
            format!("not supported ({}): compare a field with a quoted value directly", c.0),
        )
    })
}

/// Parses and checks one expression, and makes sure it compiles to a columnar plan (so that
/// whatever is accepted can be matched).
pub fn compile_expr(src: &str, want: Want, tags: &TagDictionary) -> Result<Expr, Vec<RuleError>> {
    crate::rules::check_expr(src, want, tags, check_plannable)
}

/// Checks every condition and the amount formula of a measure, and that each compiles.
pub fn check_measure(spec: &MeasureSpec, tags: &TagDictionary) -> Result<MeasureRules, Vec<MeasureRuleError>> {
    crate::rules::check_measure(spec, tags, check_plannable)
}

#[derive(Debug, thiserror::Error)]
#[error("cannot compile: {0}")]
pub struct CompileError(pub String);

type R<T> = Result<T, CompileError>;

fn fail<T>(what: &str) -> R<T> {
    Err(CompileError(what.to_string()))
}

/// A numeric literal exactly: the decimal its float was written as (`0.005` is 0.005).
fn lit_num(e: &Expr) -> Option<Dec> {
    match e.kind {
        Kind::Int(i) => Some(Dec::int(i)),
        Kind::Double(d) => Dec::from_f64(d),
        _ => None,
    }
}

/// Compiles a numeric (or date) expression.
pub fn num(e: &Expr) -> R<NumPlan> {
    let boxed = |a: &Expr| -> R<Box<NumPlan>> { Ok(Box::new(num(a)?)) };
    Ok(NumPlan::new(match &e.kind {
        Kind::Int(_) | Kind::Double(_) | Kind::Null => return Ok(NumPlan::constant(lit_num(e))),
        Kind::Field(Field::AgeYears) => Node::Age,
        Kind::Field(f) if ratio_parts(*f).is_some() => {
            Node::Ratio(Cols::of(ratio_parts(*f).ok_or_else(|| CompileError("ratio".into()))?)?)
        }
        Kind::Field(f) => Node::Col(num_slot(*f).ok_or_else(|| CompileError(format!("{} is not numeric", f.name())))?),
        Kind::Neg(a) => Node::Neg(boxed(a)?),
        Kind::Binary(op @ (BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div), a, b) => {
            Node::Bin(*op, boxed(a)?, boxed(b)?)
        }
        Kind::Cond(c, a, b) => Node::Cond(Box::new(boolean(c)?), boxed(a)?, boxed(b)?),
        Kind::Call(func, args) => {
            let one = || boxed(args.first().ok_or_else(|| CompileError("argument".into()))?);
            let key = || args.first().and_then(Expr::as_str).unwrap_or("").to_string();
            match func {
                Func::Min => Node::Min(args.iter().map(num).collect::<R<_>>()?),
                Func::Max => Node::Max(args.iter().map(num).collect::<R<_>>()?),
                Func::Round => Node::Round(one()?),
                Func::Floor => Node::Floor(one()?),
                Func::Ceil => Node::Ceil(one()?),
                Func::Abs => Node::Abs(one()?),
                Func::Date => {
                    return Ok(NumPlan::constant(Date::parse(&key()).ok().map(|d| Dec::int(i64::from(d.days())))));
                }
                Func::Today => Node::Today,
                Func::TagSince => Node::TagSince(key()),
                Func::TagUntil => Node::TagUntil(key()),
                _ => return fail("a boolean function where a number belongs"),
            }
        }
        _ => return fail("not a numeric expression"),
    }))
}

fn literal_strings(e: &Expr) -> R<Vec<&str>> {
    match &e.kind {
        Kind::List(items) => {
            items.iter().map(|i| i.as_str().ok_or_else(|| CompileError("a list of strings".into()))).collect()
        }
        Kind::Str(s) => Ok(vec![s.as_str()]),
        _ => fail("a string literal or list"),
    }
}

/// The codes within a region prefix, as a range `[lo, hi)`.
fn region_prefix(p: &str) -> (u32, u32) {
    let mut p = p;
    while p.len() > 2 && p.ends_with("00") {
        p = &p[..p.len() - 2];
    }
    let scale = 10u32.pow(6u32.saturating_sub(p.len() as u32));
    match p.parse::<u32>() {
        Ok(v) => (v * scale, (v + 1) * scale),
        Err(_) => (0, 0),
    }
}

/// `field == value` (or `in` values) for enum, code and string fields.
fn membership(f: Field, values: &[&str]) -> R<BoolPlan> {
    Ok(match f {
        Field::Region => {
            BoolPlan::RegionIn(values.iter().filter_map(|v| v.parse::<u32>().ok()).map(|v| (v, v + 1)).collect())
        }
        Field::Industry => {
            BoolPlan::IndustryIn(values.iter().filter_map(|v| industry_index(v)).map(|i| (i, i + 1)).collect())
        }
        Field::CreditCode => BoolPlan::CodeIn(values.iter().map(|v| code_bytes(v)).collect()),
        _ => {
            let slot = enum_slot(f).ok_or_else(|| CompileError(format!("{} is not an enum", f.name())))?;
            let keys = enum_keys(f);
            let mask = values.iter().filter_map(|v| keys.iter().position(|k| k == v)).fold(0u64, |m, i| m | 1 << i);
            BoolPlan::EnumIn(slot, mask)
        }
    })
}

fn code_bytes(code: &str) -> [u8; 18] {
    let mut out = [b' '; 18];
    for (o, b) in out.iter_mut().zip(code.bytes()) {
        *o = b;
    }
    out
}

/// Compiles a boolean expression.
pub fn boolean(e: &Expr) -> R<BoolPlan> {
    Ok(match &e.kind {
        Kind::Bool(b) => BoolPlan::Const(Some(*b)),
        Kind::Null => BoolPlan::Const(None),
        Kind::Field(f) => {
            BoolPlan::Flag(flag_slot(*f).ok_or_else(|| CompileError(format!("{} is not a flag", f.name())))?)
        }
        Kind::Not(a) => BoolPlan::Not(Box::new(boolean(a)?)),
        Kind::Cond(c, a, b) => BoolPlan::Cond(Box::new(boolean(c)?), Box::new(boolean(a)?), Box::new(boolean(b)?)),
        Kind::Binary(BinOp::And, a, b) => BoolPlan::And(vec![boolean(a)?, boolean(b)?]),
        Kind::Binary(BinOp::Or, a, b) => BoolPlan::Or(vec![boolean(a)?, boolean(b)?]),
        Kind::Binary(BinOp::In, a, b) => match (&a.ty, &b.kind) {
            (_, Kind::Field(Field::Tags)) => match a.as_str() {
                Some(k) => BoolPlan::HasTag(k.to_string()),
                None => return fail("a tag key"),
            },
            (Ty::Enum(_) | Ty::Code(_) | Ty::Str, Kind::List(_)) => match &a.kind {
                Kind::Field(f) => membership(*f, &literal_strings(b)?)?,
                Kind::Str(s) => BoolPlan::Const(Some(literal_strings(b)?.contains(&s.as_str()))),
                _ => return fail("membership of a field or literal"),
            },
            (_, Kind::List(items)) => BoolPlan::Or(items.iter().map(|i| compare(BinOp::Eq, a, i)).collect::<R<_>>()?),
            _ => return fail("`in` over a list or tags"),
        },
        Kind::Binary(op, a, b) if op.is_comparison() => compare(*op, a, b)?,
        Kind::Call(Func::Contains, args) => BoolPlan::HasTag(
            args.get(1).and_then(Expr::as_str).ok_or_else(|| CompileError("tag key".into()))?.to_string(),
        ),
        Kind::Call(Func::Has, args) => match args.first().map(|a| &a.kind) {
            Some(Kind::Field(f)) => BoolPlan::Known(*f),
            _ => return fail("has(field)"),
        },
        Kind::Call(Func::Within, args) => {
            let prefix = args.get(1).and_then(Expr::as_str).unwrap_or("");
            match args.first().map(|a| &a.kind) {
                Some(Kind::Field(Field::Region)) => BoolPlan::RegionIn(vec![region_prefix(prefix)]),
                Some(Kind::Field(Field::Industry)) => BoolPlan::IndustryIn(vec![industry_range(prefix)]),
                _ => return fail("within on region or industry"),
            }
        }
        _ => return fail("not a boolean expression"),
    })
}

fn compare(op: BinOp, a: &Expr, b: &Expr) -> R<BoolPlan> {
    let negate = |p: BoolPlan| if op == BinOp::Ne { BoolPlan::Not(Box::new(p)) } else { p };
    Ok(match (&a.ty, &b.ty) {
        (Ty::Bool, Ty::Bool) => negate(BoolPlan::BoolEq(Box::new(boolean(a)?), Box::new(boolean(b)?))),
        (Ty::Enum(_) | Ty::Code(_) | Ty::Str, _) | (_, Ty::Enum(_) | Ty::Code(_) | Ty::Str) => {
            match (&a.kind, &b.kind) {
                (Kind::Field(f), Kind::Str(s)) | (Kind::Str(s), Kind::Field(f)) => negate(membership(*f, &[s])?),
                (Kind::Str(x), Kind::Str(y)) => BoolPlan::Const(Some((x == y) != (op == BinOp::Ne))),
                _ => return fail("a field compared with a literal"),
            }
        }
        _ => match Comparison::of(op, a, b) {
            Some(c) => BoolPlan::Ratio(RatioCmp::new(c)?),
            None => BoolPlan::Cmp(op, num(a)?, num(b)?),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tags::default_tags;

    #[test]
    fn what_checks_also_compiles() {
        let tags = TagDictionary::new(default_tags());
        for src in [
            "(revenue > 1 ? \"A\" : \"B\") == \"A\"",
            "credit_code == credit_code",
            "(dishonest ? tax_credit : tax_credit) in [\"A\"]",
        ] {
            let e = compile_expr(src, Want::Condition, &tags).unwrap_err();
            assert!(e[0].zh.contains("暂不支持"), "{src}: {e:?}");
        }
    }
}
