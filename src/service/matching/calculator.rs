//! The public calculator: published measures for attributes typed by anyone, and the form that
//! asks for them.

use serde::Serialize;

use super::explain::{MeasureMatch, match_all};
use crate::model::{Entity, Field, FieldError};
use crate::rules::ast::{Func, Kind};
use crate::rules::eval::EntityRow;
use crate::service::{Result, Service, ServiceError};

impl Service {
    /// The public calculator: published measures for attributes typed by anyone.
    pub fn calculate(&self, entity: &Entity) -> Result<Vec<MeasureMatch>> {
        let tags = self.tag_dictionary()?;
        let guard = self.matching()?;
        let Some(state) = guard.as_ref() else { return Err(ServiceError::Internal("matching unavailable".into())) };
        let today = self.today();
        Ok(match_all(state.measures.values(), &state.engine, &EntityRow { entity, as_of: today }, &tags, today))
    }

    /// What the calculator asks: the basic facts, then every other fact a published measure
    /// reads (derived ones through what they are computed from), the tags, and the facts it
    /// cannot take at all.
    pub fn calculator_form(&self) -> Result<CalculatorForm> {
        let tags = self.tags()?;
        let guard = self.matching()?;
        let Some(state) = guard.as_ref() else { return Err(ServiceError::Internal("matching unavailable".into())) };
        let mut read = Vec::new();
        let mut tag_until = false;
        for c in state.measures.values() {
            for e in c.rules.conditions.iter().map(|r| &r.expr).chain(c.rules.amount.as_ref()) {
                read.extend(e.fields());
                e.walk(&mut |x| tag_until |= matches!(x.kind, Kind::Call(Func::TagUntil, _)));
            }
        }
        let mut fields: Vec<Field> = CALCULATOR_FIELDS.to_vec();
        for f in read.iter().flat_map(|f| calculator_inputs(*f)) {
            if !fields.contains(&f) && !ASKED_APART.contains(&f) {
                fields.push(f);
            }
        }
        let mut not_considered: Vec<String> = Vec::new();
        for f in &read {
            if calculator_inputs(*f).is_empty() && *f != Field::Tags && !not_considered.iter().any(|l| l == f.label()) {
                not_considered.push(f.label().to_string());
            }
        }
        if tag_until {
            not_considered.push("资质有效期止".into());
        }
        Ok(CalculatorForm { fields, tags, not_considered })
    }

    /// The calculator from field → text pairs (a form or JSON): an anonymous entity. The
    /// industry may be a code, a picker line or a name.
    pub fn calculate_from_texts(&self, pairs: &[(String, String)]) -> Result<Calculation> {
        let mut pairs = pairs.to_vec();
        for (k, v) in pairs.iter_mut().filter(|(k, v)| k == "industry" && !v.trim().is_empty()) {
            match crate::model::reference::industry_find(v) {
                Some(i) => *v = i.code.clone(),
                None => {
                    return Err(ServiceError::Invalid(vec![FieldError::new(
                        k,
                        format!("没有找到行业「{}」：请输入行业名称的一部分，再从列表中选择", v.trim()),
                    )]));
                }
            }
        }
        let patch = self.entity_patch_from_texts(&pairs, false)?;
        let code =
            crate::model::CreditCode::parse("000000000000000000").map_err(|e| ServiceError::Internal(e.to_string()))?;
        let now = self.now();
        let mut entity = Entity::new(0, code, now);
        entity.apply(&patch, self.today(), now);
        let not_considered = self.calculator_form()?.not_considered;
        Ok(Calculation { measures: self.calculate(&entity)?, not_considered })
    }
}

/// The basic facts the calculator always asks, in order.
pub const CALCULATOR_FIELDS: [Field; 17] = [
    Field::EntityType,
    Field::Region,
    Field::Industry,
    Field::Established,
    Field::Employees,
    Field::Revenue,
    Field::RevenuePrev,
    Field::TotalAssets,
    Field::TaxPaid,
    Field::RdExpense,
    Field::TechStaffRatio,
    Field::InventionPatents,
    Field::ExportValue,
    Field::GraduateHires,
    Field::UiPremiumPaid,
    Field::LayoffRate,
    Field::TaxCredit,
];

/// Asked by the calculator in their own controls (yes/no questions; status is taken as active;
/// tags as boxes with their dates).
pub const ASKED_APART: [Field; 4] = [Field::Status, Field::Dishonest, Field::MajorViolation, Field::Tags];

/// The facts someone enters for a field rules read: itself, or what a derived field is computed
/// from. Empty when the calculator cannot take it (the credit code).
pub fn calculator_inputs(f: Field) -> Vec<Field> {
    match f {
        Field::AgeYears => vec![Field::Established],
        Field::RevenueGrowth => vec![Field::Revenue, Field::RevenuePrev],
        Field::RdRatio => vec![Field::RdExpense, Field::Revenue],
        Field::SizeClass => vec![Field::Industry, Field::Employees, Field::Revenue, Field::TotalAssets],
        Field::CreditCode | Field::Name => Vec::new(),
        f if f.derived() || !f.in_rules() => Vec::new(),
        f => vec![f],
    }
}

/// What the calculator's form asks.
#[derive(Debug, Clone)]
pub struct CalculatorForm {
    pub fields: Vec<Field>,
    pub tags: Vec<crate::model::tags::TagDef>,
    /// Facts published measures read that the calculator cannot take (treated as unknown).
    pub not_considered: Vec<String>,
}

/// The calculator's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Calculation {
    pub measures: Vec<MeasureMatch>,
    pub not_considered: Vec<String>,
}
