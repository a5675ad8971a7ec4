//! An entity of the entity library (经营主体), its yearly financial history, its derived fields,
//! and the patch-and-change-set model every write goes through.

use serde::{Deserialize, Serialize};

use super::codes::{CreditCode, IndustryCode, RegionCode};
use super::date::{Date, Timestamp};
use super::enums::{EntityType, Ownership, RegStatus, SizeClass, TaxCredit};
use super::fields::{Field, FieldValue};
use super::money::Money;
use super::size_class::{self, SizeInputs};
use super::tags::TagHolding;

/// One year of an entity's financial figures.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FinancialYear {
    pub year: i32,
    #[serde(default)]
    pub revenue: Option<Money>,
    #[serde(default)]
    pub total_assets: Option<Money>,
    #[serde(default)]
    pub tax_paid: Option<Money>,
    #[serde(default)]
    pub rd_expense: Option<Money>,
    #[serde(default)]
    pub export_value: Option<Money>,
    #[serde(default)]
    pub employees: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub id: u64,
    pub credit_code: CreditCode,
    pub name: Option<String>,
    pub entity_type: Option<EntityType>,
    pub ownership: Option<Ownership>,
    pub status: Option<RegStatus>,
    pub region: Option<RegionCode>,
    pub industry: Option<IndustryCode>,
    pub established: Option<Date>,
    pub registered_capital: Option<Money>,
    pub employees: Option<i64>,
    pub fiscal_year: Option<i32>,
    pub revenue: Option<Money>,
    pub revenue_prev: Option<Money>,
    pub total_assets: Option<Money>,
    pub tax_paid: Option<Money>,
    pub rd_expense: Option<Money>,
    pub rd_expense_prev: Option<Money>,
    pub tech_staff_ratio: Option<f64>,
    pub invention_patents: Option<i64>,
    pub export_value: Option<Money>,
    pub graduate_hires: Option<i64>,
    pub ui_premium_paid: Option<Money>,
    pub layoff_rate: Option<f64>,
    #[serde(default)]
    pub tags: Vec<TagHolding>,
    pub tax_credit: Option<TaxCredit>,
    pub dishonest: Option<bool>,
    pub major_violation: Option<bool>,
    pub contact_person: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_email: Option<String>,
    pub address: Option<String>,
    #[serde(default)]
    pub legal_rep: Option<String>,
    /// Personal data: shown masked to roles without `entity.personal`.
    #[serde(default)]
    pub legal_rep_id: Option<String>,
    /// Yearly figures, oldest first, one entry per year.
    #[serde(default)]
    pub financials: Vec<FinancialYear>,
    /// Warnings kept on the record (e.g. a failed credit-code check character).
    #[serde(default)]
    pub warnings: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Barred by a recovery (追回) from the measures of the department that opened it until
    /// this day (the latest such day); set by the service, never by a person or a file.
    #[serde(default)]
    pub barred_until: Option<Date>,
}

/// Who or what made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    User { id: u64, username: String },
    Import { id: u64, file: String, username: String },
    System { what: String },
}

impl Actor {
    pub fn describe(&self) -> String {
        match self {
            Actor::User { username, .. } => username.clone(),
            Actor::Import { id, file, username } => format!("导入 #{id}（{file}，{username}）"),
            Actor::System { what } => format!("系统：{what}"),
        }
    }
}

/// One field's change: old → new, as canonical text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// A field one write changed, and its value before as canonical text: what the history stores
/// (the value after is read back from the record, see `store::history`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub field: Field,
    pub old: Option<String>,
}

/// Everything one write changed on one entity, as the history reads it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSet {
    pub at: Timestamp,
    pub actor: Actor,
    pub changes: Vec<FieldChange>,
}

/// Values to write: `Some(v)` sets, `None` clears. Fields not named stay as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityPatch {
    pub values: Vec<(Field, Option<FieldValue>)>,
}

impl EntityPatch {
    pub fn set(&mut self, field: Field, value: Option<FieldValue>) {
        self.values.retain(|(f, _)| *f != field);
        self.values.push((field, value));
    }

    pub fn get(&self, field: Field) -> Option<&Option<FieldValue>> {
        self.values.iter().find(|(f, _)| *f == field).map(|(_, v)| v)
    }

    /// The credit code the patch names, if any.
    pub fn credit_code(&self) -> Option<&CreditCode> {
        match self.get(Field::CreditCode) {
            Some(Some(FieldValue::CreditCode(c))) => Some(c),
            _ => None,
        }
    }
}

fn ratio(numerator: Option<Money>, denominator: Option<Money>) -> Option<f64> {
    let (n, d) = (numerator?, denominator?);
    (d.fen() != 0).then(|| n.fen() as f64 / d.fen() as f64 * 100.0)
}

impl Entity {
    pub fn new(id: u64, credit_code: CreditCode, now: Timestamp) -> Entity {
        Entity {
            id,
            credit_code,
            name: None,
            entity_type: None,
            ownership: None,
            status: None,
            region: None,
            industry: None,
            established: None,
            registered_capital: None,
            employees: None,
            fiscal_year: None,
            revenue: None,
            revenue_prev: None,
            total_assets: None,
            tax_paid: None,
            rd_expense: None,
            rd_expense_prev: None,
            tech_staff_ratio: None,
            invention_patents: None,
            export_value: None,
            graduate_hires: None,
            ui_premium_paid: None,
            layoff_rate: None,
            tags: Vec::new(),
            tax_credit: None,
            dishonest: None,
            major_violation: None,
            contact_person: None,
            contact_phone: None,
            contact_email: None,
            address: None,
            legal_rep: None,
            legal_rep_id: None,
            financials: Vec::new(),
            warnings: Vec::new(),
            created_at: now,
            updated_at: now,
            barred_until: None,
        }
    }

    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.credit_code.as_str())
    }

    /// Whole years since establishment on the evaluation date.
    pub fn age_years(&self, on: Date) -> Option<i32> {
        self.established.map(|e| e.whole_years_until(on))
    }

    /// (revenue − revenue_prev) / revenue_prev × 100; null when revenue_prev is null or 0.
    pub fn revenue_growth(&self) -> Option<f64> {
        let (r, p) = (self.revenue?, self.revenue_prev?);
        (p.fen() != 0).then(|| (r.fen() - p.fen()) as f64 / p.fen() as f64 * 100.0)
    }

    /// rd_expense / revenue × 100; null when revenue is null or 0.
    pub fn rd_ratio(&self) -> Option<f64> {
        ratio(self.rd_expense, self.revenue)
    }

    pub fn size_class(&self) -> Option<SizeClass> {
        size_class::classify(
            self.industry.as_ref(),
            SizeInputs { employees: self.employees, revenue: self.revenue, total_assets: self.total_assets },
        )
    }

    pub fn has_tag(&self, key: &str) -> bool {
        self.tags.iter().any(|t| t.key == key)
    }

    /// The value of any catalogue field, derived ones computed as of `on`.
    pub fn get(&self, field: Field, on: Date) -> Option<FieldValue> {
        use FieldValue as V;
        let money = |m: Option<Money>| m.map(V::Money);
        let text = |s: &Option<String>| s.clone().map(V::Text);
        match field {
            Field::CreditCode => Some(V::CreditCode(self.credit_code.clone())),
            Field::Name => text(&self.name),
            Field::EntityType => self.entity_type.map(V::EntityType),
            Field::Ownership => self.ownership.map(V::Ownership),
            Field::Status => self.status.map(V::Status),
            Field::Region => self.region.clone().map(V::Region),
            Field::Industry => self.industry.clone().map(V::Industry),
            Field::Established => self.established.map(V::Date),
            Field::AgeYears => self.age_years(on).map(|y| V::Number(f64::from(y))),
            Field::RegisteredCapital => money(self.registered_capital),
            Field::Employees => self.employees.map(V::Int),
            Field::FiscalYear => self.fiscal_year.map(|y| V::Int(i64::from(y))),
            Field::Revenue => money(self.revenue),
            Field::RevenuePrev => money(self.revenue_prev),
            Field::RevenueGrowth => self.revenue_growth().map(V::Percent),
            Field::TotalAssets => money(self.total_assets),
            Field::TaxPaid => money(self.tax_paid),
            Field::RdExpense => money(self.rd_expense),
            Field::RdExpensePrev => money(self.rd_expense_prev),
            Field::RdRatio => self.rd_ratio().map(V::Percent),
            Field::TechStaffRatio => self.tech_staff_ratio.map(V::Percent),
            Field::InventionPatents => self.invention_patents.map(V::Int),
            Field::ExportValue => money(self.export_value),
            Field::GraduateHires => self.graduate_hires.map(V::Int),
            Field::UiPremiumPaid => money(self.ui_premium_paid),
            Field::LayoffRate => self.layoff_rate.map(V::Percent),
            Field::SizeClass => self.size_class().map(V::SizeClass),
            Field::Tags => (!self.tags.is_empty()).then(|| V::Tags(self.tags.clone())),
            Field::TaxCredit => self.tax_credit.map(V::TaxCredit),
            Field::Dishonest => self.dishonest.map(V::Bool),
            Field::MajorViolation => self.major_violation.map(V::Bool),
            Field::BarredUntil => self.barred_until.map(V::Date),
            Field::ContactPerson => text(&self.contact_person),
            Field::ContactPhone => text(&self.contact_phone),
            Field::ContactEmail => text(&self.contact_email),
            Field::Address => text(&self.address),
            Field::LegalRep => text(&self.legal_rep),
            Field::LegalRepId => text(&self.legal_rep_id),
        }
    }

    /// Writes one stored field. A value of the wrong kind for the field is ignored; patches are
    /// built by `fields::parse_value`, which only produces the right kind.
    fn put(&mut self, field: Field, value: Option<FieldValue>) {
        use FieldValue as V;
        macro_rules! put {
            ($slot:expr, $pat:pat => $val:expr) => {
                match value {
                    None => $slot = None,
                    Some($pat) => $slot = Some($val),
                    Some(_) => {}
                }
            };
        }
        match field {
            Field::CreditCode => {
                if let Some(V::CreditCode(c)) = value {
                    self.credit_code = c;
                }
            }
            Field::Name => put!(self.name, V::Text(s) => s),
            Field::EntityType => put!(self.entity_type, V::EntityType(v) => v),
            Field::Ownership => put!(self.ownership, V::Ownership(v) => v),
            Field::Status => put!(self.status, V::Status(v) => v),
            Field::Region => put!(self.region, V::Region(v) => v),
            Field::Industry => put!(self.industry, V::Industry(v) => v),
            Field::Established => put!(self.established, V::Date(v) => v),
            Field::RegisteredCapital => put!(self.registered_capital, V::Money(v) => v),
            Field::Employees => put!(self.employees, V::Int(v) => v),
            Field::FiscalYear => put!(self.fiscal_year, V::Int(v) => v as i32),
            Field::Revenue => put!(self.revenue, V::Money(v) => v),
            Field::RevenuePrev => put!(self.revenue_prev, V::Money(v) => v),
            Field::TotalAssets => put!(self.total_assets, V::Money(v) => v),
            Field::TaxPaid => put!(self.tax_paid, V::Money(v) => v),
            Field::RdExpense => put!(self.rd_expense, V::Money(v) => v),
            Field::RdExpensePrev => put!(self.rd_expense_prev, V::Money(v) => v),
            Field::TechStaffRatio => put!(self.tech_staff_ratio, V::Percent(v) => v),
            Field::InventionPatents => put!(self.invention_patents, V::Int(v) => v),
            Field::ExportValue => put!(self.export_value, V::Money(v) => v),
            Field::GraduateHires => put!(self.graduate_hires, V::Int(v) => v),
            Field::UiPremiumPaid => put!(self.ui_premium_paid, V::Money(v) => v),
            Field::LayoffRate => put!(self.layoff_rate, V::Percent(v) => v),
            Field::Tags => match value {
                None => self.tags.clear(),
                Some(V::Tags(t)) => self.tags = t,
                Some(_) => {}
            },
            Field::TaxCredit => put!(self.tax_credit, V::TaxCredit(v) => v),
            Field::Dishonest => put!(self.dishonest, V::Bool(v) => v),
            Field::MajorViolation => put!(self.major_violation, V::Bool(v) => v),
            Field::ContactPerson => put!(self.contact_person, V::Text(v) => v),
            Field::ContactPhone => put!(self.contact_phone, V::Text(v) => v),
            Field::ContactEmail => put!(self.contact_email, V::Text(v) => v),
            Field::Address => put!(self.address, V::Text(v) => v),
            Field::LegalRep => put!(self.legal_rep, V::Text(v) => v),
            Field::LegalRepId => put!(self.legal_rep_id, V::Text(v) => v),
            // Computed, or set by the service alone (a recovery's bar).
            Field::AgeYears | Field::RevenueGrowth | Field::RdRatio | Field::SizeClass | Field::BarredUntil => {}
        }
    }

    /// Applies a patch and returns the fields it changed — those whose canonical text is not
    /// what it was — with their values before (empty when nothing changed). Keeps the yearly
    /// history and the record's warnings in step with the fields.
    pub fn apply(&mut self, patch: &EntityPatch, today: Date, now: Timestamp) -> Vec<Changed> {
        let mut changes = Vec::new();
        for (field, value) in &patch.values {
            let before = self.get(*field, today);
            self.put(*field, value.clone());
            let after = self.get(*field, today);
            let changed = match (&before, &after) {
                (Some(b), Some(a)) => b != a && b.to_text() != a.to_text(),
                (None, None) => false,
                _ => true,
            };
            if changed {
                changes.push(Changed { field: *field, old: before.as_ref().map(FieldValue::to_text) });
            }
        }
        self.warnings = self.credit_code.check_warning().into_iter().collect();
        let financials_changed = self.record_financial_year(today);
        if !changes.is_empty() || financials_changed {
            self.updated_at = now;
        }
        changes
    }

    /// Files the current figures under their fiscal year (default: last year) and the
    /// `_prev` figures under the year before. Returns whether the history changed.
    fn record_financial_year(&mut self, today: Date) -> bool {
        let year = self.fiscal_year.unwrap_or(today.year() - 1);
        let before = self.financials.clone();
        let current = FinancialYear {
            year,
            revenue: self.revenue,
            total_assets: self.total_assets,
            tax_paid: self.tax_paid,
            rd_expense: self.rd_expense,
            export_value: self.export_value,
            employees: self.employees,
        };
        if current != (FinancialYear { year, ..FinancialYear::default() }) {
            self.upsert_year(current, false);
        }
        if self.revenue_prev.is_some() || self.rd_expense_prev.is_some() {
            let prev = FinancialYear {
                year: year - 1,
                revenue: self.revenue_prev,
                rd_expense: self.rd_expense_prev,
                ..FinancialYear::default()
            };
            self.upsert_year(prev, true);
        }
        self.financials != before
    }

    /// With `fill_only`, known figures already filed for that year are kept.
    fn upsert_year(&mut self, new: FinancialYear, fill_only: bool) {
        match self.financials.iter_mut().find(|f| f.year == new.year) {
            Some(old) if fill_only => {
                old.revenue = new.revenue.or(old.revenue);
                old.rd_expense = new.rd_expense.or(old.rd_expense);
            }
            Some(old) => *old = new,
            None => {
                self.financials.push(new);
                self.financials.sort_by_key(|f| f.year);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fields::{ParseContext, parse_value};
    use crate::model::money::MoneyUnit;
    use crate::model::tags::{TagDictionary, default_tags};

    fn today() -> Date {
        Date::parse("2026-11-27").unwrap()
    }

    fn patch(pairs: &[(&str, &str)]) -> EntityPatch {
        let tags = TagDictionary::new(default_tags());
        let ctx = ParseContext { today: today(), tags: &tags, money_unit: MoneyUnit::Wan };
        let mut p = EntityPatch::default();
        for (name, text) in pairs {
            let f = Field::by_name(name).unwrap();
            p.set(f, Some(parse_value(f, text, &ctx).unwrap()));
        }
        p
    }

    fn entity() -> Entity {
        Entity::new(1, CreditCode::parse("91350100M000100Y43").unwrap(), Timestamp(0))
    }

    #[test]
    fn derived_fields() {
        let mut e = entity();
        assert_eq!((e.revenue_growth(), e.rd_ratio(), e.size_class()), (None, None, None));
        e.apply(
            &patch(&[
                ("revenue", "1000"),
                ("revenue_prev", "800"),
                ("rd_expense", "21"),
                ("established", "2020-11-28"),
                ("industry", "C3911"),
                ("employees", "50"),
            ]),
            today(),
            Timestamp(1),
        );
        assert_eq!(e.revenue_growth(), Some(25.0));
        assert!((e.rd_ratio().unwrap() - 2.1).abs() < 1e-9);
        assert_eq!(e.age_years(today()), Some(5));
        assert_eq!(e.age_years(Date::parse("2026-11-28").unwrap()), Some(6));
        assert_eq!(e.size_class(), Some(SizeClass::Small));
        e.apply(&patch(&[("revenue", "0"), ("revenue_prev", "0")]), today(), Timestamp(2));
        assert_eq!((e.revenue_growth(), e.rd_ratio()), (None, None), "division by zero is null");
    }

    #[test]
    fn changes_and_history() {
        let mut e = entity();
        let changes =
            e.apply(&patch(&[("name", "甲公司"), ("revenue", "10"), ("fiscal_year", "2025")]), today(), Timestamp(5));
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[1], Changed { field: Field::Revenue, old: None });
        assert_eq!(e.updated_at, Timestamp(5));
        assert!(e.apply(&patch(&[("name", "甲公司")]), today(), Timestamp(6)).is_empty());
        assert_eq!(e.updated_at, Timestamp(5), "a no-op write does not touch the record");
        e.apply(&patch(&[("revenue", "20"), ("revenue_prev", "10"), ("fiscal_year", "2026")]), today(), Timestamp(7));
        let years: Vec<_> = e.financials.iter().map(|f| (f.year, f.revenue.map(|m| m.to_string()))).collect();
        assert_eq!(years, [(2025, Some("10".into())), (2026, Some("20".into()))]);
        let mut clear = EntityPatch::default();
        clear.set(Field::Name, None);
        let c = e.apply(&clear, today(), Timestamp(8));
        assert_eq!(c, [Changed { field: Field::Name, old: Some("甲公司".into()) }]);
        assert_eq!(e.name, None);
    }

    #[test]
    fn failed_check_character_is_kept_as_a_warning() {
        let mut e = Entity::new(1, CreditCode::parse("91350100M000100Y44").unwrap(), Timestamp(0));
        e.apply(&EntityPatch::default(), today(), Timestamp(1));
        assert_eq!(e.warnings.len(), 1);
    }
}
