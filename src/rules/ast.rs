//! The rules language's own syntax tree: the CEL subset huiqi accepts, with each node's source
//! position and, once checked, its type.

use crate::model::Field;

/// Character offsets `[start, end)` into the expression text.
pub type Span = (usize, usize);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    In,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::And => "&&",
            BinOp::Or => "||",
            BinOp::In => "in",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(self, BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge)
    }

    /// The comparison that holds exactly when this one fails (for explanations).
    pub fn negated(self) -> BinOp {
        match self {
            BinOp::Eq => BinOp::Ne,
            BinOp::Ne => BinOp::Eq,
            BinOp::Lt => BinOp::Ge,
            BinOp::Le => BinOp::Gt,
            BinOp::Gt => BinOp::Le,
            BinOp::Ge => BinOp::Lt,
            other => other,
        }
    }

    /// The comparison with its sides swapped: `a < b` is `b > a`.
    pub fn flipped(self) -> BinOp {
        match self {
            BinOp::Lt => BinOp::Gt,
            BinOp::Le => BinOp::Ge,
            BinOp::Gt => BinOp::Lt,
            BinOp::Ge => BinOp::Le,
            other => other,
        }
    }

    /// `≥`-style symbol for people.
    pub fn pretty(self) -> &'static str {
        match self {
            BinOp::Eq => "=",
            BinOp::Ne => "≠",
            BinOp::Lt => "<",
            BinOp::Le => "≤",
            BinOp::Gt => ">",
            BinOp::Ge => "≥",
            other => other.symbol(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Min,
    Max,
    Round,
    Floor,
    Ceil,
    Abs,
    Date,
    Today,
    TagSince,
    TagUntil,
    Has,
    /// `field.within("C39")`: the receiver is the first argument.
    Within,
    /// `tags.contains("k")`: the receiver is the first argument.
    Contains,
}

impl Func {
    pub fn by_name(name: &str, method: bool) -> Option<Func> {
        Some(match (name, method) {
            ("min", false) => Func::Min,
            ("max", false) => Func::Max,
            ("round", false) => Func::Round,
            ("floor", false) => Func::Floor,
            ("ceil", false) => Func::Ceil,
            ("abs", false) => Func::Abs,
            ("date", false) => Func::Date,
            ("today", false) => Func::Today,
            ("tag_since", false) => Func::TagSince,
            ("tag_until", false) => Func::TagUntil,
            ("has", false) => Func::Has,
            ("within", true) => Func::Within,
            ("contains", true) => Func::Contains,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Func::Min => "min",
            Func::Max => "max",
            Func::Round => "round",
            Func::Floor => "floor",
            Func::Ceil => "ceil",
            Func::Abs => "abs",
            Func::Date => "date",
            Func::Today => "today",
            Func::TagSince => "tag_since",
            Func::TagUntil => "tag_until",
            Func::Has => "has",
            Func::Within => "within",
            Func::Contains => "contains",
        }
    }
}

/// The type of an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    /// Not yet checked.
    Unchecked,
    Bool,
    Num,
    Str,
    Date,
    /// A value of the enum field's vocabulary (compared as its key).
    Enum(Field),
    /// A hierarchical code: region or industry.
    Code(Field),
    Tags,
    List(Box<Ty>),
    Null,
}

impl Ty {
    /// How the type is named in messages.
    pub fn describe(&self) -> (String, String) {
        match self {
            Ty::Unchecked => ("未知".into(), "unknown".into()),
            Ty::Bool => ("是/否".into(), "bool".into()),
            Ty::Num => ("数值".into(), "number".into()),
            Ty::Str => ("文本".into(), "string".into()),
            Ty::Date => ("日期".into(), "date".into()),
            Ty::Enum(f) => (format!("{}（枚举）", f.label()), format!("{} (enum)", f.name())),
            Ty::Code(f) => (format!("{}代码", f.label()), format!("{} code", f.name())),
            Ty::Tags => ("资质标签集合".into(), "tag set".into()),
            Ty::List(t) => {
                let (zh, en) = t.describe();
                (format!("{zh}列表"), format!("list of {en}"))
            }
            Ty::Null => ("null".into(), "null".into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
    List(Vec<Expr>),
    Field(Field),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: Kind,
    pub span: Span,
    pub ty: Ty,
}

impl Expr {
    pub fn new(kind: Kind, span: Span) -> Expr {
        Expr { kind, span, ty: Ty::Unchecked }
    }

    /// Every field the expression reads, in order of first appearance.
    pub fn fields(&self) -> Vec<Field> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Kind::Field(f) = e.kind
                && !out.contains(&f)
            {
                out.push(f);
            }
        });
        out
    }

    /// Calls `f` on this node and every node below it.
    pub fn walk(&self, f: &mut impl FnMut(&Expr)) {
        f(self);
        match &self.kind {
            Kind::List(items) | Kind::Call(_, items) => items.iter().for_each(|e| e.walk(f)),
            Kind::Not(e) | Kind::Neg(e) => e.walk(f),
            Kind::Binary(_, a, b) => {
                a.walk(f);
                b.walk(f);
            }
            Kind::Cond(c, a, b) => {
                c.walk(f);
                a.walk(f);
                b.walk(f);
            }
            _ => {}
        }
    }

    /// The string of a string literal.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The conjuncts of a chain of `&&`.
    pub fn conjuncts(&self) -> Vec<&Expr> {
        match &self.kind {
            Kind::Binary(BinOp::And, a, b) => {
                let mut v = a.conjuncts();
                v.extend(b.conjuncts());
                v
            }
            _ => vec![self],
        }
    }
}
