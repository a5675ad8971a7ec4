//! The rules language (DESIGN §4): conditions and amount formulas in a CEL subset, parsed with
//! the `cel` crate, type-checked against the field catalogue, evaluated row by row with
//! three-valued logic and explanations. The columnar engine that matches them in bulk is
//! `portrait`'s: this module depends on `model` alone.

pub mod ast;
pub mod catalog;
pub mod check;
pub mod describe;
pub mod eval;
pub mod explain;
pub mod parse;
pub mod ratio;

use serde::Serialize;

use crate::model::{MeasureSpec, Money, TagDictionary};
use ast::Expr;
use check::{CheckContext, Want};

/// A problem in an expression, at character offsets `[start, end)`, in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleError {
    pub start: usize,
    pub end: usize,
    pub zh: String,
    pub en: String,
}

impl RuleError {
    pub fn new(start: usize, end: usize, zh: String, en: String) -> RuleError {
        RuleError { start, end: end.max(start), zh, en }
    }

    /// `第 12 个字符：…` for people.
    pub fn zh_at(&self) -> String {
        format!("第 {} 个字符处：{}", self.start + 1, self.zh)
    }

    /// `column 12: …` for the command line.
    pub fn en_at(&self) -> String {
        format!("column {}: {}", self.start + 1, self.en)
    }
}

/// A last say on an expression that parsed and type-checked, given by the layer that will run
/// it: the matching engine refuses what it cannot plan (the portrait's `check_plannable`).
pub type Admit = fn(src: &str, e: &Expr, want: Want) -> Result<(), RuleError>;

/// Parses and checks one expression, then lets `admit` refuse it.
pub fn check_expr(src: &str, want: Want, tags: &TagDictionary, admit: Admit) -> Result<Expr, Vec<RuleError>> {
    let mut e = parse::parse(src).map_err(|e| vec![e])?;
    let errors = check::check(&mut e, want, &CheckContext { tags });
    if !errors.is_empty() {
        return Err(errors);
    }
    admit(src, &e, want).map_err(|e| vec![e])?;
    Ok(e)
}

/// Where in a measure a problem is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Place {
    /// The n-th condition (0-based).
    Condition {
        index: usize,
    },
    Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeasureRuleError {
    pub place: Place,
    pub source: String,
    #[serde(flatten)]
    pub error: RuleError,
}

impl MeasureRuleError {
    /// The form field the problem belongs to (`conditions[2].expr`, `amount`).
    pub fn field(&self) -> String {
        match self.place {
            Place::Condition { index } => format!("conditions[{index}].expr"),
            Place::Amount => "amount".into(),
        }
    }

    pub fn zh(&self) -> String {
        match self.place {
            Place::Condition { index } => format!("第 {} 个条件，{}", index + 1, self.error.zh_at()),
            Place::Amount => format!("兑现标准，{}", self.error.zh_at()),
        }
    }

    pub fn en(&self) -> String {
        match self.place {
            Place::Condition { index } => format!("condition {}, {}", index + 1, self.error.en_at()),
            Place::Amount => format!("amount, {}", self.error.en_at()),
        }
    }
}

/// One condition, checked. Label and source are shared, not copied, into every result.
#[derive(Debug, Clone)]
pub struct Rule {
    pub label: std::sync::Arc<str>,
    pub source: std::sync::Arc<str>,
    pub expr: Expr,
}

/// A measure's rules, checked and ready to evaluate.
#[derive(Debug, Clone)]
pub struct MeasureRules {
    pub conditions: Vec<Rule>,
    pub amount: Option<Expr>,
    pub cap: Option<Money>,
    pub warnings: Vec<MeasureRuleError>,
}

/// Checks every condition and the amount formula of a measure, each also by `admit`.
pub fn check_measure(
    spec: &MeasureSpec,
    tags: &TagDictionary,
    admit: Admit,
) -> Result<MeasureRules, Vec<MeasureRuleError>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut conditions = Vec::new();
    for (index, c) in spec.conditions.iter().enumerate() {
        let place = Place::Condition { index };
        match check_expr(&c.expr, Want::Condition, tags, admit) {
            Ok(expr) => {
                for w in check::warnings(&expr) {
                    warnings.push(MeasureRuleError { place: place.clone(), source: c.expr.clone(), error: w });
                }
                conditions.push(Rule { label: c.label.as_str().into(), source: c.expr.as_str().into(), expr });
            }
            Err(es) => errors.extend(es.into_iter().map(|error| MeasureRuleError {
                place: place.clone(),
                source: c.expr.clone(),
                error,
            })),
        }
    }
    let amount = match spec.amount.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        Some(src) => match check_expr(src, Want::Amount, tags, admit) {
            Ok(e) => Some(e),
            Err(es) => {
                errors.extend(es.into_iter().map(|error| MeasureRuleError {
                    place: Place::Amount,
                    source: src.to_string(),
                    error,
                }));
                None
            }
        },
        None => None,
    };
    if errors.is_empty() { Ok(MeasureRules { conditions, amount, cap: spec.cap, warnings }) } else { Err(errors) }
}
