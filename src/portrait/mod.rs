//! The columnar portrait: every rule-facing field of every entity in memory, one array per
//! field (NaN, `u8::MAX`, 0 … for unknown), tags as bitsets. Rebuilt from the store at start and
//! updated on every entity write; rules compile to plans over it.

pub mod engine;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use crate::model::reference::{self, IndustryLevel};
use crate::model::{Date, Entity, EntityType, Field, Ownership, RegStatus, SizeClass, TaxCredit, Vocabulary};
use crate::rules::eval::Row;

/// Numeric columns, in slot order (dates are stored as days).
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
pub const NULL_INDUSTRY: u16 = u16::MAX;
/// `established` as yyyymmdd, for whole-year ages.
pub const NULL_YMD: i32 = i32::MIN;

pub fn num_slot(f: Field) -> Option<usize> {
    NUM_FIELDS.iter().position(|x| *x == f)
}

pub fn enum_slot(f: Field) -> Option<usize> {
    ENUM_FIELDS.iter().position(|x| *x == f)
}

pub fn flag_slot(f: Field) -> Option<usize> {
    FLAG_FIELDS.iter().position(|x| *x == f)
}

/// The keys of an enum field's vocabulary, in index order.
pub fn enum_keys(f: Field) -> Vec<&'static str> {
    fn keys<V: Vocabulary>() -> Vec<&'static str> {
        V::ALL.iter().map(|v| v.key()).collect()
    }
    match f {
        Field::EntityType => keys::<EntityType>(),
        Field::Ownership => keys::<Ownership>(),
        Field::Status => keys::<RegStatus>(),
        Field::TaxCredit => keys::<TaxCredit>(),
        Field::SizeClass => keys::<SizeClass>(),
        _ => Vec::new(),
    }
}

/// Every GB/T 4754 code in lexicographic order: the codes within a prefix are a contiguous range.
pub fn industry_table() -> &'static [&'static str] {
    static TABLE: OnceLock<Vec<&'static str>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut v: Vec<&'static str> = reference::industries().map(|i| i.code.as_str()).collect();
        v.sort_unstable();
        v
    })
}

pub fn industry_index(code: &str) -> Option<u16> {
    industry_table().binary_search(&code).ok().map(|i| i as u16)
}

/// The index range `[lo, hi)` of the codes within `prefix`.
pub fn industry_range(prefix: &str) -> (u16, u16) {
    let t = industry_table();
    let lo = t.partition_point(|c| *c < prefix);
    let hi = lo + t[lo..].iter().take_while(|c| c.starts_with(prefix)).count();
    (lo as u16, hi as u16)
}

/// The section letters in order; `section_of` maps an industry index to one of them.
pub fn industry_sections() -> Vec<&'static str> {
    reference::industries().filter(|i| i.level == IndustryLevel::Section).map(|i| i.code.as_str()).collect()
}

/// A tag's holders and their dates.
#[derive(Debug, Clone, Default)]
pub struct TagColumn {
    pub bits: Vec<u64>,
    /// Row → (since, until) in days; `i32::MIN` where unknown. Only for holders with a date.
    pub dates: HashMap<u32, (i32, i32)>,
}

impl TagColumn {
    pub fn has(&self, row: usize) -> bool {
        self.bits.get(row >> 6).is_some_and(|w| w >> (row & 63) & 1 == 1)
    }

    fn set(&mut self, row: usize, on: bool) {
        let word = row >> 6;
        if self.bits.len() <= word {
            self.bits.resize(word + 1, 0);
        }
        if on {
            self.bits[word] |= 1 << (row & 63);
        } else {
            self.bits[word] &= !(1 << (row & 63));
        }
    }
}

#[derive(Debug, Default)]
pub struct Portrait {
    pub ids: Vec<u64>,
    pub codes: Vec<[u8; 18]>,
    row_of_id: Vec<u32>,
    pub num: Vec<Vec<f64>>,
    pub established_ymd: Vec<i32>,
    pub enums: Vec<Vec<u8>>,
    pub flags: Vec<Vec<u8>>,
    /// GB/T 2260 code as a number; 0 when unknown.
    pub region: Vec<u32>,
    /// Index into [`industry_table`]; `NULL_INDUSTRY` when unknown.
    pub industry: Vec<u16>,
    pub tags: Vec<TagColumn>,
    pub tag_index: HashMap<String, usize>,
}

fn code_bytes(code: &str) -> [u8; 18] {
    let mut out = [b' '; 18];
    for (o, b) in out.iter_mut().zip(code.bytes()) {
        *o = b;
    }
    out
}

impl Portrait {
    pub fn new() -> Portrait {
        Portrait {
            num: vec![Vec::new(); NUM_FIELDS.len()],
            enums: vec![Vec::new(); ENUM_FIELDS.len()],
            flags: vec![Vec::new(); FLAG_FIELDS.len()],
            ..Portrait::default()
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn row_of(&self, id: u64) -> Option<usize> {
        self.row_of_id.get(id as usize).copied().filter(|r| *r != u32::MAX).map(|r| r as usize)
    }

    /// The index of a tag key, creating its column on first sight.
    pub fn tag_slot(&mut self, key: &str) -> usize {
        if let Some(i) = self.tag_index.get(key) {
            return *i;
        }
        self.tags.push(TagColumn::default());
        self.tag_index.insert(key.to_string(), self.tags.len() - 1);
        self.tags.len() - 1
    }

    /// Writes an entity's values into its row, appending a row for a new entity.
    pub fn upsert(&mut self, e: &Entity) {
        let row = match self.row_of(e.id) {
            Some(r) => r,
            None => {
                let r = self.ids.len();
                self.ids.push(e.id);
                self.codes.push([0; 18]);
                for c in &mut self.num {
                    c.push(f64::NAN);
                }
                self.established_ymd.push(NULL_YMD);
                for c in &mut self.enums {
                    c.push(NULL_ENUM);
                }
                for c in &mut self.flags {
                    c.push(NULL_FLAG);
                }
                self.region.push(0);
                self.industry.push(NULL_INDUSTRY);
                if self.row_of_id.len() <= e.id as usize {
                    self.row_of_id.resize(e.id as usize + 1, u32::MAX);
                }
                self.row_of_id[e.id as usize] = r as u32;
                r
            }
        };
        self.codes[row] = code_bytes(e.credit_code.as_str());
        let today = Date::from_days(0);
        for (slot, f) in NUM_FIELDS.iter().enumerate() {
            let v = match f {
                Field::Established => e.established.map_or(f64::NAN, |d| f64::from(d.days())),
                _ => crate::rules::eval::EntityRow { entity: e, as_of: today }.num(*f).unwrap_or(f64::NAN),
            };
            self.num[slot][row] = v;
        }
        self.established_ymd[row] = e.established.map_or(NULL_YMD, |d| {
            let (y, m, dd) = d.ymd();
            y * 10_000 + m as i32 * 100 + dd as i32
        });
        let key_index = |f: Field, key: Option<&str>| -> u8 {
            key.and_then(|k| enum_keys(f).iter().position(|x| *x == k)).map_or(NULL_ENUM, |i| i as u8)
        };
        self.enums[0][row] = key_index(Field::EntityType, e.entity_type.map(|v| v.key()));
        self.enums[1][row] = key_index(Field::Ownership, e.ownership.map(|v| v.key()));
        self.enums[2][row] = key_index(Field::Status, e.status.map(|v| v.key()));
        self.enums[3][row] = key_index(Field::TaxCredit, e.tax_credit.map(|v| v.key()));
        self.enums[4][row] = key_index(Field::SizeClass, e.size_class().map(|v| v.key()));
        self.flags[0][row] = e.dishonest.map_or(NULL_FLAG, u8::from);
        self.flags[1][row] = e.major_violation.map_or(NULL_FLAG, u8::from);
        self.region[row] = e.region.as_ref().and_then(|r| r.as_str().parse().ok()).unwrap_or(0);
        self.industry[row] = e.industry.as_ref().and_then(|i| industry_index(i.as_str())).unwrap_or(NULL_INDUSTRY);
        for t in &mut self.tags {
            t.set(row, false);
            t.dates.remove(&(row as u32));
        }
        for h in &e.tags {
            let slot = self.tag_slot(&h.key);
            let col = &mut self.tags[slot];
            col.set(row, true);
            if h.since.is_some() || h.until.is_some() {
                let d = |x: Option<Date>| x.map_or(i32::MIN, Date::days);
                col.dates.insert(row as u32, (d(h.since), d(h.until)));
            }
        }
    }

    /// A row as the row interpreter reads it.
    pub fn row(&self, row: usize, as_of: Date) -> PortraitRow<'_> {
        PortraitRow { p: self, row, as_of }
    }

    /// Approximate heap bytes held by the columns.
    pub fn heap_bytes(&self) -> usize {
        let n = self.ids.len();
        n * (8 + 18 + 4 + 4 + 2)
            + self.row_of_id.len() * 4
            + self.num.len() * n * 8
            + self.enums.len() * n
            + self.flags.len() * n
            + self.tags.iter().map(|t| t.bits.len() * 8 + t.dates.len() * 24).sum::<usize>()
    }
}

/// Whole years from a yyyymmdd birthday to `as_of` (0 until the first anniversary).
pub fn age_from_ymd(ymd: i32, as_of: Date) -> Option<f64> {
    if ymd == NULL_YMD {
        return None;
    }
    let (y, m, d) = as_of.ymd();
    let md = m as i32 * 100 + d as i32;
    let years = y - ymd / 10_000 - i32::from(md < ymd % 10_000);
    Some(f64::from(years))
}

pub struct PortraitRow<'a> {
    p: &'a Portrait,
    row: usize,
    as_of: Date,
}

impl Row for PortraitRow<'_> {
    fn num(&self, f: Field) -> Option<f64> {
        if f == Field::AgeYears {
            return age_from_ymd(self.p.established_ymd[self.row], self.as_of);
        }
        let v = self.p.num[num_slot(f)?][self.row];
        (!v.is_nan()).then_some(v)
    }
    fn date(&self, f: Field) -> Option<i32> {
        let v = self.p.num[num_slot(f)?][self.row];
        (!v.is_nan()).then_some(v as i32)
    }
    fn text(&self, f: Field) -> Option<Cow<'_, str>> {
        match f {
            Field::CreditCode => std::str::from_utf8(&self.p.codes[self.row]).ok().map(|s| Cow::Borrowed(s.trim_end())),
            Field::Region => {
                let r = self.p.region[self.row];
                (r != 0).then(|| Cow::Owned(format!("{r:06}")))
            }
            Field::Industry => {
                let i = self.p.industry[self.row];
                industry_table().get(i as usize).map(|c| Cow::Borrowed(*c))
            }
            _ => {
                let v = self.p.enums[enum_slot(f)?][self.row];
                enum_keys(f).get(v as usize).map(|k| Cow::Borrowed(*k))
            }
        }
    }
    fn flag(&self, f: Field) -> Option<bool> {
        match self.p.flags[flag_slot(f)?][self.row] {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    fn has_tag(&self, key: &str) -> bool {
        self.p.tag_index.get(key).is_some_and(|t| self.p.tags[*t].has(self.row))
    }
    fn tag_since(&self, key: &str) -> Option<i32> {
        self.tag_date(key).map(|d| d.0).filter(|d| *d != i32::MIN)
    }
    fn tag_until(&self, key: &str) -> Option<i32> {
        self.tag_date(key).map(|d| d.1).filter(|d| *d != i32::MIN)
    }
    fn as_of(&self) -> Date {
        self.as_of
    }
}

impl PortraitRow<'_> {
    fn tag_date(&self, key: &str) -> Option<(i32, i32)> {
        let col = &self.p.tags[*self.p.tag_index.get(key)?];
        if !col.has(self.row) {
            return None;
        }
        col.dates.get(&(self.row as u32)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn industry_prefixes_are_ranges() {
        let (lo, hi) = industry_range("C39");
        let t = industry_table();
        assert!(hi > lo);
        assert!(t[lo as usize..hi as usize].iter().all(|c| c.starts_with("C39")));
        assert!(!t[hi as usize].starts_with("C39"));
        assert_eq!(industry_range("Q99"), (industry_range("Q99").0, industry_range("Q99").0));
        assert_eq!(industry_sections().len(), 20);
    }

    #[test]
    fn ages() {
        let on = Date::parse("2026-11-27").unwrap();
        assert_eq!(age_from_ymd(20_201_128, on), Some(5.0));
        assert_eq!(age_from_ymd(20_201_127, on), Some(6.0));
        assert_eq!(age_from_ymd(NULL_YMD, on), None);
    }
}
