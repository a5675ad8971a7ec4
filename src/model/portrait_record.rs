//! An entity's rule-facing values in a compact fixed binary layout: stored beside each entity
//! record (in the same transaction) so that the portrait rebuilds at start without decoding
//! whole records, and the one format the portrait reads on every write too.

use super::decimal::{Dec, FEN_SCALE, POW10, Rounding, div_round};
use super::enums::Vocabulary;
use super::{Date, Entity, EntityType, Field, FieldType, Ownership, RegStatus, SizeClass, TaxCredit};

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

/// Version 1 held the numbers as floats (money in 万元); version 2 as integers at `NUM_SCALES`.
const VERSION: u8 = 2;
const FIXED: usize = 1 + 8 + 18 + NUM_FIELDS.len() * 8 + 4 + ENUM_FIELDS.len() + FLAG_FIELDS.len() + 4 + 5 + 1;

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
        _ => None,
    }
    .filter(|v| *v != NULL_NUM)
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
        out.extend_from_slice(&number(e, f).unwrap_or(NULL_NUM).to_le_bytes());
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

/// Decodes a record of version 2 or 1; `None` when the bytes are not a record.
pub fn decode(bytes: &[u8]) -> Option<Record<'_>> {
    let mut r = Reader { b: bytes, at: 0 };
    let version = r.u8()?;
    if version != VERSION && version != 1 {
        return None;
    }
    let id = u64::from_le_bytes(r.arr()?);
    let code: [u8; 18] = r.arr()?;
    let mut nums = [NULL_NUM; NUM_FIELDS.len()];
    for n in &mut nums {
        let bytes = r.arr()?;
        *n = if version == VERSION { i64::from_le_bytes(bytes) } else { f64::from_le_bytes(bytes).to_bits() as i64 };
    }
    if version == 1 {
        nums = from_floats(nums);
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

/// Version 1's floats (bits in `nums`) as version 2's mantissas: money was fen / 10^6 and reads
/// back exactly; the derived ratios are computed again from the money; percentages as written.
fn from_floats(bits: [i64; NUM_FIELDS.len()]) -> [i64; NUM_FIELDS.len()] {
    let mut out = [NULL_NUM; NUM_FIELDS.len()];
    for (i, f) in NUM_FIELDS.iter().enumerate() {
        let v = f64::from_bits(bits[i] as u64);
        if !v.is_finite() {
            continue;
        }
        let fixed = match f.ty() {
            FieldType::Money => Some((v * 1e6).round()).filter(|x| x.abs() < 9.0e18).map(|x| x as i64),
            FieldType::Percent | FieldType::Number => percent(Some(v)),
            _ => Some(v as i64),
        };
        out[i] = fixed.unwrap_or(NULL_NUM);
    }
    let slot = |f: Field| NUM_FIELDS.iter().position(|x| *x == f).unwrap_or(0);
    let known = |f: Field| Some(out[slot(f)]).filter(|v| *v != NULL_NUM);
    let (rd, revenue, prev) = (known(Field::RdExpense), known(Field::Revenue), known(Field::RevenuePrev));
    out[slot(Field::RdRatio)] = rd.zip(revenue).and_then(|(n, d)| percent_of(n, d)).unwrap_or(NULL_NUM);
    out[slot(Field::RevenueGrowth)] = revenue.zip(prev).and_then(|(r, p)| growth(r, p)).unwrap_or(NULL_NUM);
    out
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
        assert_eq!(r.nums[2], 1_000_000_000, "revenue in fen");
        assert_eq!(r.nums[9], 3_000_000, "rd_ratio 3% at 6 places");
        assert_eq!(r.nums[0], NULL_NUM);
        assert_eq!((r.established_ymd, r.region, r.industry), (20_190_308, 230_125, "C3911"));
        assert_eq!(r.flags, [0, NULL_FLAG]);
        assert_eq!(r.tags, [("high_tech", Date::parse("2024-01-02").unwrap().days(), NULL_DAY)]);
        assert!(decode(&bytes[..bytes.len() - 1]).is_none(), "truncated");
        assert!(decode(&[9]).is_none());
    }
}
