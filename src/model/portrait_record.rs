//! An entity's rule-facing values in the portrait's units — numbers as integers at each field's
//! scale, dates as days, vocabularies as indexes — the one form in which the portrait takes an
//! entity (`Portrait::upsert`), at start and on every write.

use super::decimal::{Dec, FEN_SCALE, POW10, Rounding, div_round};
use super::enums::Vocabulary;
use super::{Date, Entity, EntityType, Field, FieldType, Ownership, RegStatus, SizeClass, TaxCredit};

/// Numeric columns, in record order (`established` as days).
pub const NUM_FIELDS: [Field; 18] = [
    Field::RegisteredCapital,
    Field::Employees,
    Field::Revenue,
    Field::RevenuePrev,
    Field::RevenueGrowth,
    Field::TotalAssets,
    Field::TaxPaid,
    Field::RdExpense,
    Field::RdExpensePrev,
    Field::RdRatio,
    Field::TechStaffRatio,
    Field::InventionPatents,
    Field::ExportValue,
    Field::GraduateHires,
    Field::UiPremiumPaid,
    Field::LayoffRate,
    Field::Established,
    Field::BarredUntil,
];

pub const ENUM_FIELDS: [Field; 5] =
    [Field::EntityType, Field::Ownership, Field::Status, Field::TaxCredit, Field::SizeClass];
pub const FLAG_FIELDS: [Field; 2] = [Field::Dishonest, Field::MajorViolation];

pub const NULL_ENUM: u8 = u8::MAX;
pub const NULL_FLAG: u8 = 2;
pub const NULL_YMD: i32 = i32::MIN;
pub const NULL_DAY: i32 = i32::MIN;

/// Decimal places of each numeric column: money in 万元 at 6 (the mantissa is fen), counts and
/// days at 0, percentages at 6 (derived ratios rounded half up to a millionth of a percent).
pub const NUM_SCALES: [u8; NUM_FIELDS.len()] = {
    let mut s = [0u8; NUM_FIELDS.len()];
    let mut i = 0;
    while i < NUM_FIELDS.len() {
        s[i] = match NUM_FIELDS[i].ty() {
            FieldType::Money | FieldType::Percent | FieldType::Number => FEN_SCALE,
            _ => 0,
        };
        i += 1;
    }
    s
};

/// An unknown number in a record or a portrait column.
pub const NULL_NUM: i64 = i64::MIN;

fn index_of<V: Vocabulary + PartialEq>(v: Option<V>) -> u8 {
    v.and_then(|v| V::ALL.iter().position(|x| *x == v)).map_or(NULL_ENUM, |i| i as u8)
}

/// `n / d × 100` exactly, rounded half up to 6 places, as the mantissa; `None` when `d` is 0.
pub fn percent_of(n_fen: i64, d_fen: i64) -> Option<i64> {
    if d_fen == 0 {
        return None;
    }
    let n = i128::from(n_fen) * 100 * POW10[FEN_SCALE as usize];
    i64::try_from(div_round(n, i128::from(d_fen), Rounding::HalfUp)).ok()
}

fn growth(revenue: i64, prev: i64) -> Option<i64> {
    percent_of(revenue.checked_sub(prev)?, prev)
}

/// A float percentage as the decimal it was written as, at 6 places.
fn percent(v: Option<f64>) -> Option<i64> {
    i64::try_from(Dec::from_f64(v?)?.rescale(FEN_SCALE)?.m).ok()
}

/// The value of numeric field `f` as rules read it: the mantissa at the field's scale in
/// `NUM_SCALES` (money in fen), `None` when unknown.
pub fn number(e: &Entity, f: Field) -> Option<i64> {
    let money = |m: Option<super::Money>| m.map(super::Money::fen);
    match f {
        Field::RegisteredCapital => money(e.registered_capital),
        Field::Employees => e.employees,
        Field::Revenue => money(e.revenue),
        Field::RevenuePrev => money(e.revenue_prev),
        Field::RevenueGrowth => growth(e.revenue?.fen(), e.revenue_prev?.fen()),
        Field::TotalAssets => money(e.total_assets),
        Field::TaxPaid => money(e.tax_paid),
        Field::RdExpense => money(e.rd_expense),
        Field::RdExpensePrev => money(e.rd_expense_prev),
        Field::RdRatio => percent_of(e.rd_expense?.fen(), e.revenue?.fen()),
        Field::TechStaffRatio => percent(e.tech_staff_ratio),
        Field::InventionPatents => e.invention_patents,
        Field::ExportValue => money(e.export_value),
        Field::GraduateHires => e.graduate_hires,
        Field::UiPremiumPaid => money(e.ui_premium_paid),
        Field::LayoffRate => percent(e.layoff_rate),
        Field::Established => e.established.map(|d| i64::from(d.days())),
        Field::BarredUntil => Some(i64::from(barred_until_days(e))),
        _ => None,
    }
    .filter(|v| *v != NULL_NUM)
}

/// `barred_until` as rules read it, in days: never unknown — an entity never barred reads
/// 1970-01-01, so that `barred_until < today()` holds for it.
pub fn barred_until_days(e: &Entity) -> i32 {
    e.barred_until.map_or(0, Date::days)
}

/// An entity's rule-facing values, borrowing its industry code and tag keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    pub id: u64,
    /// The credit code, padded with spaces.
    pub code: [u8; 18],
    /// Mantissas at `NUM_SCALES`; `NULL_NUM` when unknown.
    pub nums: [i64; NUM_FIELDS.len()],
    pub established_ymd: i32,
    pub enums: [u8; ENUM_FIELDS.len()],
    pub flags: [u8; FLAG_FIELDS.len()],
    pub region: u32,
    /// The industry code, or empty when unknown.
    pub industry: &'a str,
    /// (key, since, until) with `NULL_DAY` for unknown dates.
    pub tags: Vec<(&'a str, i32, i32)>,
}

impl<'a> Record<'a> {
    pub fn of(e: &'a Entity) -> Record<'a> {
        let mut code = [b' '; 18];
        for (o, b) in code.iter_mut().zip(e.credit_code.as_str().bytes()) {
            *o = b;
        }
        let established_ymd = e.established.map_or(NULL_YMD, |d| {
            let (y, m, dd) = d.ymd();
            y * 10_000 + m as i32 * 100 + dd as i32
        });
        Record {
            id: e.id,
            code,
            nums: NUM_FIELDS.map(|f| number(e, f).unwrap_or(NULL_NUM)),
            established_ymd,
            enums: [
                index_of::<EntityType>(e.entity_type),
                index_of::<Ownership>(e.ownership),
                index_of::<RegStatus>(e.status),
                index_of::<TaxCredit>(e.tax_credit),
                index_of::<SizeClass>(e.size_class()),
            ],
            flags: [e.dishonest.map_or(NULL_FLAG, u8::from), e.major_violation.map_or(NULL_FLAG, u8::from)],
            region: e.region.as_ref().and_then(|r| r.as_str().parse().ok()).unwrap_or(0),
            industry: e.industry.as_ref().map_or("", |i| i.as_str()),
            tags: e
                .tags
                .iter()
                .filter(|t| t.key.len() < 256)
                .take(255)
                .map(|t| (t.key.as_str(), t.since.map_or(NULL_DAY, Date::days), t.until.map_or(NULL_DAY, Date::days)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CreditCode, IndustryCode, Money, RegionCode, TagHolding, Timestamp};

    #[test]
    fn an_entity_in_the_portrait_s_units() {
        let mut e = Entity::new(42, CreditCode::parse("91350100M000100Y43").unwrap(), Timestamp(0));
        e.revenue = Some(Money::from_wan(1000));
        e.rd_expense = Some(Money::from_wan(30));
        e.region = RegionCode::parse("230125").ok();
        e.industry = IndustryCode::parse("C3911").ok();
        e.established = Date::parse("2019-03-08").ok();
        e.dishonest = Some(false);
        e.tags = vec![TagHolding { key: "high_tech".into(), since: Date::parse("2024-01-02").ok(), until: None }];
        let r = Record::of(&e);
        assert_eq!(r.id, 42);
        assert_eq!(&r.code, b"91350100M000100Y43");
        assert_eq!(r.nums[2], 1_000_000_000, "revenue in fen");
        assert_eq!(r.nums[9], 3_000_000, "rd_ratio 3% at 6 places");
        assert_eq!(r.nums[0], NULL_NUM);
        assert_eq!((r.established_ymd, r.region, r.industry), (20_190_308, 230_125, "C3911"));
        assert_eq!(r.flags, [0, NULL_FLAG]);
        assert_eq!(r.tags, [("high_tech", Date::parse("2024-01-02").unwrap().days(), NULL_DAY)]);
    }
}
