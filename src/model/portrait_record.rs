//! An entity's rule-facing values in a compact fixed binary layout: stored beside each entity
//! record (in the same transaction) so that the portrait rebuilds at start without decoding
//! whole records, and the one format the portrait reads on every write too.

use super::enums::Vocabulary;
use super::{Date, Entity, EntityType, Field, Ownership, RegStatus, SizeClass, TaxCredit};

/// Numeric columns, in record order (`established` as days).
pub const NUM_FIELDS: [Field; 17] = [
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
];

pub const ENUM_FIELDS: [Field; 5] =
    [Field::EntityType, Field::Ownership, Field::Status, Field::TaxCredit, Field::SizeClass];
pub const FLAG_FIELDS: [Field; 2] = [Field::Dishonest, Field::MajorViolation];

pub const NULL_ENUM: u8 = u8::MAX;
pub const NULL_FLAG: u8 = 2;
pub const NULL_YMD: i32 = i32::MIN;
pub const NULL_DAY: i32 = i32::MIN;

const VERSION: u8 = 1;
const FIXED: usize = 1 + 8 + 18 + NUM_FIELDS.len() * 8 + 4 + ENUM_FIELDS.len() + FLAG_FIELDS.len() + 4 + 5 + 1;

fn index_of<V: Vocabulary + PartialEq>(v: Option<V>) -> u8 {
    v.and_then(|v| V::ALL.iter().position(|x| *x == v)).map_or(NULL_ENUM, |i| i as u8)
}

/// The value of numeric field `f` as rules read it (money in 万元), NaN when unknown.
fn number(e: &Entity, f: Field) -> f64 {
    let money = |m: Option<super::Money>| m.map_or(f64::NAN, |m| m.as_wan_f64());
    let int = |i: Option<i64>| i.map_or(f64::NAN, |i| i as f64);
    let v = match f {
        Field::RegisteredCapital => money(e.registered_capital),
        Field::Employees => int(e.employees),
        Field::Revenue => money(e.revenue),
        Field::RevenuePrev => money(e.revenue_prev),
        Field::RevenueGrowth => e.revenue_growth().unwrap_or(f64::NAN),
        Field::TotalAssets => money(e.total_assets),
        Field::TaxPaid => money(e.tax_paid),
        Field::RdExpense => money(e.rd_expense),
        Field::RdExpensePrev => money(e.rd_expense_prev),
        Field::RdRatio => e.rd_ratio().unwrap_or(f64::NAN),
        Field::TechStaffRatio => e.tech_staff_ratio.unwrap_or(f64::NAN),
        Field::InventionPatents => int(e.invention_patents),
        Field::ExportValue => money(e.export_value),
        Field::GraduateHires => int(e.graduate_hires),
        Field::UiPremiumPaid => money(e.ui_premium_paid),
        Field::LayoffRate => e.layoff_rate.unwrap_or(f64::NAN),
        Field::Established => e.established.map_or(f64::NAN, |d| f64::from(d.days())),
        _ => f64::NAN,
    };
    if v.is_finite() { v } else { f64::NAN }
}

/// Encodes the rule-facing values of an entity.
pub fn encode(e: &Entity) -> Vec<u8> {
    let mut out = Vec::with_capacity(FIXED + e.tags.len() * 24);
    out.push(VERSION);
    out.extend_from_slice(&e.id.to_le_bytes());
    let mut code = [b' '; 18];
    for (o, b) in code.iter_mut().zip(e.credit_code.as_str().bytes()) {
        *o = b;
    }
    out.extend_from_slice(&code);
    for f in NUM_FIELDS {
        out.extend_from_slice(&number(e, f).to_le_bytes());
    }
    let ymd = e.established.map_or(NULL_YMD, |d| {
        let (y, m, dd) = d.ymd();
        y * 10_000 + m as i32 * 100 + dd as i32
    });
    out.extend_from_slice(&ymd.to_le_bytes());
    out.push(index_of::<EntityType>(e.entity_type));
    out.push(index_of::<Ownership>(e.ownership));
    out.push(index_of::<RegStatus>(e.status));
    out.push(index_of::<TaxCredit>(e.tax_credit));
    out.push(index_of::<SizeClass>(e.size_class()));
    out.push(e.dishonest.map_or(NULL_FLAG, u8::from));
    out.push(e.major_violation.map_or(NULL_FLAG, u8::from));
    let region: u32 = e.region.as_ref().and_then(|r| r.as_str().parse().ok()).unwrap_or(0);
    out.extend_from_slice(&region.to_le_bytes());
    let mut industry = [b' '; 5];
    if let Some(i) = &e.industry {
        for (o, b) in industry.iter_mut().zip(i.as_str().bytes()) {
            *o = b;
        }
    }
    out.extend_from_slice(&industry);
    let tags: Vec<_> = e.tags.iter().filter(|t| t.key.len() < 256).take(255).collect();
    out.push(tags.len() as u8);
    for t in tags {
        out.push(t.key.len() as u8);
        out.extend_from_slice(t.key.as_bytes());
        out.extend_from_slice(&t.since.map_or(NULL_DAY, Date::days).to_le_bytes());
        out.extend_from_slice(&t.until.map_or(NULL_DAY, Date::days).to_le_bytes());
    }
    out
}

/// A decoded record, borrowing its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    pub id: u64,
    pub code: [u8; 18],
    pub nums: [f64; NUM_FIELDS.len()],
    pub established_ymd: i32,
    pub enums: [u8; ENUM_FIELDS.len()],
    pub flags: [u8; FLAG_FIELDS.len()],
    pub region: u32,
    /// The industry code, or empty when unknown.
    pub industry: &'a str,
    /// (key, since, until) with `NULL_DAY` for unknown dates.
    pub tags: Vec<(&'a str, i32, i32)>,
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at + n)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }
    fn arr<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

/// Decodes a record; `None` when the bytes are not a record of this version.
pub fn decode(bytes: &[u8]) -> Option<Record<'_>> {
    let mut r = Reader { b: bytes, at: 0 };
    if r.u8()? != VERSION {
        return None;
    }
    let id = u64::from_le_bytes(r.arr()?);
    let code: [u8; 18] = r.arr()?;
    let mut nums = [f64::NAN; NUM_FIELDS.len()];
    for n in &mut nums {
        *n = f64::from_le_bytes(r.arr()?);
    }
    let established_ymd = i32::from_le_bytes(r.arr()?);
    let enums: [u8; ENUM_FIELDS.len()] = r.arr()?;
    let flags: [u8; FLAG_FIELDS.len()] = r.arr()?;
    let region = u32::from_le_bytes(r.arr()?);
    let industry = std::str::from_utf8(r.take(5)?).ok()?.trim_end();
    let count = r.u8()?;
    let mut tags = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let len = r.u8()? as usize;
        let key = std::str::from_utf8(r.take(len)?).ok()?;
        let since = i32::from_le_bytes(r.arr()?);
        let until = i32::from_le_bytes(r.arr()?);
        tags.push((key, since, until));
    }
    Some(Record { id, code, nums, established_ymd, enums, flags, region, industry, tags })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CreditCode, IndustryCode, Money, RegionCode, TagHolding, Timestamp};

    #[test]
    fn round_trips() {
        let mut e = Entity::new(42, CreditCode::parse("91350100M000100Y43").unwrap(), Timestamp(0));
        e.revenue = Some(Money::from_wan(1000));
        e.rd_expense = Some(Money::from_wan(30));
        e.region = RegionCode::parse("230125").ok();
        e.industry = IndustryCode::parse("C3911").ok();
        e.established = Date::parse("2019-03-08").ok();
        e.dishonest = Some(false);
        e.tags = vec![TagHolding { key: "high_tech".into(), since: Date::parse("2024-01-02").ok(), until: None }];
        let bytes = encode(&e);
        let r = decode(&bytes).unwrap();
        assert_eq!(r.id, 42);
        assert_eq!(&r.code, b"91350100M000100Y43");
        assert_eq!(r.nums[2], 1000.0);
        assert!((r.nums[9] - 3.0).abs() < 1e-12, "rd_ratio");
        assert!(r.nums[0].is_nan());
        assert_eq!((r.established_ymd, r.region, r.industry), (20_190_308, 230_125, "C3911"));
        assert_eq!(r.flags, [0, NULL_FLAG]);
        assert_eq!(r.tags, [("high_tech", Date::parse("2024-01-02").unwrap().days(), NULL_DAY)]);
        assert!(decode(&bytes[..bytes.len() - 1]).is_none(), "truncated");
        assert!(decode(&[9]).is_none());
    }
}
