//! The columnar portrait: every rule-facing field of every entity in memory, one array per
//! field (`NULL_NUM`, `u8::MAX`, 0 … for unknown; numbers as integers at `NUM_SCALES`), tags as bitsets. Rebuilt from the store at start and
//! updated on every entity write; rules compile to plans over it.

pub mod compile;
pub mod engine;
pub mod fen;
pub mod snapshot;
pub mod tally;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use crate::model::reference::{self, IndustryLevel};
use crate::model::{Date, Dec, Entity, EntityType, Field, Ownership, RegStatus, SizeClass, TaxCredit, Vocabulary};
use crate::rules::eval::Row;

pub use crate::model::portrait_record::{
    ENUM_FIELDS, FLAG_FIELDS, NULL_ENUM, NULL_FLAG, NULL_NUM, NULL_YMD, NUM_FIELDS, NUM_SCALES,
};
use crate::model::portrait_record::{NULL_DAY, Record};

pub const NULL_INDUSTRY: u16 = u16::MAX;

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

/// Hashes a row number with one multiplication (Fibonacci hashing): rows are dense small
/// integers, so the default DoS-resistant hasher only costs time in the per-row lookups of a
/// chunk walk (and no key here comes from outside).
#[derive(Debug, Clone, Copy, Default)]
pub struct RowHasher(u64);

impl std::hash::Hasher for RowHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, row: u32) {
        self.0 = u64::from(row).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Row → (since, until) days.
pub type RowDates = HashMap<u32, (i32, i32), std::hash::BuildHasherDefault<RowHasher>>;

/// A tag's holders and their dates.
#[derive(Debug, Clone, Default)]
pub struct TagColumn {
    pub bits: Vec<u64>,
    /// Row → (since, until) in days; `i32::MIN` where unknown. Only for holders with a date.
    pub dates: RowDates,
}

impl TagColumn {
    pub fn has(&self, row: usize) -> bool {
        self.bits.get(row >> 6).is_some_and(|w| w >> (row & 63) & 1 == 1)
    }

    /// The dates of the tag for `row` when it holds it in force on `day` (days since 1970).
    pub fn in_force(&self, row: usize, day: i32) -> Option<(i32, i32)> {
        if !self.has(row) {
            return None;
        }
        match self.dates.get(&(row as u32)) {
            Some(&(s, u)) => ((s == NULL_DAY || s <= day) && (u == NULL_DAY || day <= u)).then_some((s, u)),
            None => Some((NULL_DAY, NULL_DAY)),
        }
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
    /// Per numeric field: mantissas at the field's scale in `NUM_SCALES` (money in fen),
    /// `NULL_NUM` when unknown.
    pub num: Vec<Vec<i64>>,
    pub established_ymd: Vec<i32>,
    pub enums: Vec<Vec<u8>>,
    pub flags: Vec<Vec<u8>>,
    /// GB/T 2260 code as a number; 0 when unknown.
    pub region: Vec<u32>,
    /// The region as a small dense index into `region_codes` (0: unknown), for breakdowns.
    pub region_ix: Vec<u16>,
    /// Every region code seen, by dense index; `region_codes[0]` is 0 (unknown).
    pub region_codes: Vec<u32>,
    region_ix_of: HashMap<u32, u16>,
    /// Index into [`industry_table`]; `NULL_INDUSTRY` when unknown.
    pub industry: Vec<u16>,
    pub tags: Vec<TagColumn>,
    pub tag_index: HashMap<String, usize>,
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

    /// The dense index of a region code, adding it on first sight. Valid codes are a few
    /// thousand; past `u16::MAX` distinct codes the rest count as unknown in breakdowns.
    fn region_index(&mut self, code: u32) -> u16 {
        if self.region_codes.is_empty() {
            self.region_codes.push(0);
            self.region_ix_of.insert(0, 0);
        }
        if let Some(i) = self.region_ix_of.get(&code) {
            return *i;
        }
        let Ok(i) = u16::try_from(self.region_codes.len()) else {
            tracing::error!(code, "more distinct region codes than breakdowns can hold");
            return 0;
        };
        self.region_codes.push(code);
        self.region_ix_of.insert(code, i);
        i
    }

    /// Rebuilds the id → row index from `ids` (after reading the columns from a snapshot);
    /// refuses repeated ids and ids far beyond the number of rows.
    fn index_rows(&mut self) -> Result<(), &'static str> {
        let max = self.ids.iter().copied().max().unwrap_or(0);
        if max > (self.ids.len() as u64).saturating_mul(64) + (1 << 20) {
            return Err("an entity id is out of range");
        }
        let mut index = vec![u32::MAX; max as usize + 1];
        for (row, id) in self.ids.iter().enumerate() {
            if index[*id as usize] != u32::MAX {
                return Err("an entity appears twice");
            }
            index[*id as usize] = row as u32;
        }
        if self.ids.is_empty() {
            index.clear();
        }
        self.row_of_id = index;
        // The breakdowns' dense region index is derived, not stored.
        self.region_codes.clear();
        self.region_ix_of.clear();
        let regions = std::mem::take(&mut self.region);
        self.region_ix = regions.iter().map(|r| self.region_index(*r)).collect();
        self.region = regions;
        Ok(())
    }

    /// Writes an entity's values into its row, appending a row for a new entity.
    pub fn upsert(&mut self, e: &Entity) {
        self.upsert_record(&Record::of(e));
    }

    fn upsert_record(&mut self, r: &Record<'_>) {
        let row = match self.row_of(r.id) {
            Some(row) => row,
            None => {
                let row = self.ids.len();
                self.ids.push(r.id);
                self.codes.push([0; 18]);
                for c in &mut self.num {
                    c.push(NULL_NUM);
                }
                self.established_ymd.push(NULL_YMD);
                for c in &mut self.enums {
                    c.push(NULL_ENUM);
                }
                for c in &mut self.flags {
                    c.push(NULL_FLAG);
                }
                self.region.push(0);
                self.region_ix.push(0);
                self.industry.push(NULL_INDUSTRY);
                if self.row_of_id.len() <= r.id as usize {
                    self.row_of_id.resize(r.id as usize + 1, u32::MAX);
                }
                self.row_of_id[r.id as usize] = row as u32;
                row
            }
        };
        self.codes[row] = r.code;
        for (slot, v) in r.nums.iter().enumerate() {
            self.num[slot][row] = *v;
        }
        self.established_ymd[row] = r.established_ymd;
        for (slot, v) in r.enums.iter().enumerate() {
            self.enums[slot][row] = *v;
        }
        for (slot, v) in r.flags.iter().enumerate() {
            self.flags[slot][row] = *v;
        }
        self.region[row] = r.region;
        self.region_ix[row] = self.region_index(r.region);
        self.industry[row] = industry_index(r.industry).unwrap_or(NULL_INDUSTRY);
        for t in &mut self.tags {
            if t.has(row) {
                t.set(row, false);
                t.dates.remove(&(row as u32));
            }
        }
        for (key, since, until) in &r.tags {
            let slot = self.tag_slot(key);
            let col = &mut self.tags[slot];
            col.set(row, true);
            if *since != NULL_DAY || *until != NULL_DAY {
                col.dates.insert(row as u32, (*since, *until));
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
        n * (8 + 18 + 4 + 4 + 2 + 2)
            + self.row_of_id.len() * 4
            + self.num.len() * n * 8
            + self.enums.len() * n
            + self.flags.len() * n
            + self.tags.iter().map(|t| t.bits.len() * 8 + t.dates.len() * 24).sum::<usize>()
    }
}

/// Whole years from a yyyymmdd birthday to `as_of` (0 until the first anniversary).
pub fn age_from_ymd(ymd: i32, as_of: Date) -> Option<i64> {
    if ymd == NULL_YMD {
        return None;
    }
    let (y, m, d) = as_of.ymd();
    let md = m as i32 * 100 + d as i32;
    let years = y - ymd / 10_000 - i32::from(md < ymd % 10_000);
    Some(i64::from(years))
}

pub struct PortraitRow<'a> {
    p: &'a Portrait,
    row: usize,
    as_of: Date,
}

impl Row for PortraitRow<'_> {
    fn num(&self, f: Field) -> Option<Dec> {
        if f == Field::AgeYears {
            return age_from_ymd(self.p.established_ymd[self.row], self.as_of).map(Dec::int);
        }
        let slot = num_slot(f)?;
        let v = self.p.num[slot][self.row];
        (v != NULL_NUM).then(|| Dec::new(i128::from(v), NUM_SCALES[slot]))
    }
    fn date(&self, f: Field) -> Option<i32> {
        let v = self.p.num[num_slot(f)?][self.row];
        (v != NULL_NUM).then_some(v).and_then(|v| i32::try_from(v).ok())
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
        self.tag_date(key).is_some()
    }
    fn tag_since(&self, key: &str) -> Option<i32> {
        self.tag_date(key).map(|d| d.0).filter(|d| *d != i32::MIN)
    }
    fn tag_until(&self, key: &str) -> Option<i32> {
        self.tag_date(key).map(|d| d.1).filter(|d| *d != i32::MIN)
    }
    fn tag_record(&self, key: &str) -> Option<(Option<i32>, Option<i32>)> {
        let col = &self.p.tags[*self.p.tag_index.get(key)?];
        if !col.has(self.row) {
            return None;
        }
        let (s, u) = col.dates.get(&(self.row as u32)).copied().unwrap_or((NULL_DAY, NULL_DAY));
        let known = |d: i32| (d != NULL_DAY).then_some(d);
        Some((known(s), known(u)))
    }
    fn as_of(&self) -> Date {
        self.as_of
    }
}

impl PortraitRow<'_> {
    fn tag_date(&self, key: &str) -> Option<(i32, i32)> {
        self.p.tags[*self.p.tag_index.get(key)?].in_force(self.row, self.as_of.days())
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
        assert_eq!(age_from_ymd(20_201_128, on), Some(5));
        assert_eq!(age_from_ymd(20_201_127, on), Some(6));
        assert_eq!(age_from_ymd(NULL_YMD, on), None);
    }
}

#[cfg(test)]
mod exact_tests;
#[cfg(test)]
mod proptests;
