//! The rules language (DESIGN §4): conditions and amount formulas in a CEL subset, parsed with
//! the `cel` crate, type-checked against the field catalogue, evaluated row by row with
//! three-valued logic and explanations, and compiled to columnar plans.

pub mod ast;
pub mod catalog;
pub mod check;
pub mod compile;
pub mod describe;
pub mod eval;
pub mod explain;
pub mod parse;

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

/// Parses and checks one expression, and makes sure it compiles to a columnar plan (so that
/// whatever is accepted can be matched).
pub fn compile_expr(src: &str, want: Want, tags: &TagDictionary) -> Result<Expr, Vec<RuleError>> {
    let mut e = parse::parse(src).map_err(|e| vec![e])?;
    let errors = check::check(&mut e, want, &CheckContext { tags });
    if !errors.is_empty() {
        return Err(errors);
    }
    let compiled = match want {
        Want::Condition => compile::boolean(&e).map(|_| ()),
        Want::Amount => compile::num(&e).map(|_| ()),
    };
    match compiled {
        Ok(()) => Ok(e),
        Err(c) => Err(vec![RuleError::new(
            0,
            src.chars().count(),
            "这种写法暂不支持：比较时请把字段与带引号的值直接比较（例如 tax_credit == \"A\"、region.within(\"2301\")），不要比较两个字段或条件表达式的结果".into(),
            format!("not supported ({}): compare a field with a quoted value directly", c.0),
        )]),
    }
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

/// Checks every condition and the amount formula of a measure.
pub fn check_measure(spec: &MeasureSpec, tags: &TagDictionary) -> Result<MeasureRules, Vec<MeasureRuleError>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut conditions = Vec::new();
    for (index, c) in spec.conditions.iter().enumerate() {
        let place = Place::Condition { index };
        match compile_expr(&c.expr, Want::Condition, tags) {
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
        Some(src) => match compile_expr(src, Want::Amount, tags) {
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

    #[test]
    fn every_demo_measure_type_checks() {
        let tags = TagDictionary::new(default_tags());
        let mut count = 0;
        for file in crate::seed::demo_policies().unwrap() {
            for m in &file.measures {
                if let Err(errors) = check_measure(m, &tags) {
                    let lines: Vec<String> = errors.iter().map(|e| format!("{} «{}»", e.en(), e.source)).collect();
                    panic!("{} / {}:\n{}", file.name, m.name, lines.join("\n"));
                }
                let rules = check_measure(m, &tags).unwrap();
                assert!(rules.warnings.is_empty(), "{}: {:?}", m.name, rules.warnings);
                count += 1;
            }
        }
        assert!(count >= 30);
    }
}

#[cfg(test)]
mod proptests;
