//! Counts and amounts of a set of rows by county, industry section and size class, kept in
//! dense arrays indexed by the portrait's small per-row indexes while the engine walks the
//! rows — no row lists, no hash maps per row. Cities are sums of their counties.

use std::sync::OnceLock;

use super::{NULL_ENUM, NULL_INDUSTRY, Portrait, enum_keys, enum_slot, industry_sections, industry_table};
use crate::model::Field;

/// Rows and their amounts (fen) in one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cell {
    pub count: u64,
    pub fen: i64,
}

impl Cell {
    #[inline]
    fn add(&mut self, fen: i64) {
        self.count += 1;
        self.fen += fen;
    }

    fn merge(&mut self, other: Cell) {
        self.count += other.count;
        self.fen += other.fen;
    }
}

/// One set's buckets: `county[i]` is the portrait's region `i` (0: unknown), `section[s]` the
/// industry section `s` (0: unknown, then in [`industry_sections`] order), `size[k]` the size
/// class `k` (the last bucket: unknown).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub county: Vec<Cell>,
    pub section: Vec<Cell>,
    pub size: Vec<Cell>,
}

/// The industry section (1-based, 0 unknown) of every industry index.
fn section_of_industry() -> &'static [u8] {
    static TABLE: OnceLock<Vec<u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let sections = industry_sections();
        industry_table()
            .iter()
            .map(|code| {
                let letter = &code[..code.len().min(1)];
                sections.iter().position(|s| *s == letter).map_or(0, |i| i as u8 + 1)
            })
            .collect()
    })
}

/// How a row falls into the buckets: the three small indexes a tally adds to.
pub struct Dims<'a> {
    region_ix: &'a [u16],
    industry: &'a [u16],
    size: &'a [u8],
    sections: &'static [u8],
    regions: usize,
    size_keys: usize,
    /// The size bucket of every size-column value (the unknown bucket for `NULL_ENUM` and
    /// values past the vocabulary).
    size_bucket: [u8; 256],
}

/// Buckets of the joint (section, size) breakdown: `section * SIZE_WIDTH + size`. Sections are
/// 21 with the unknown one, sizes at most `SIZE_WIDTH` with theirs.
const SIZE_WIDTH: usize = 8;

/// A set's tally while the engine walks the rows: by county, and by (section, size) jointly —
/// two cells per row instead of three; the section and size breakdowns are the joint one's
/// margins (`finish`).
#[derive(Debug, Clone)]
pub struct Acc {
    county: Vec<Cell>,
    joint: Vec<Cell>,
}

impl<'a> Dims<'a> {
    pub fn new(p: &'a Portrait) -> Dims<'a> {
        let size_slot = enum_slot(Field::SizeClass).unwrap_or(0);
        Dims {
            region_ix: &p.region_ix,
            industry: &p.industry,
            size: p.enums.get(size_slot).map_or(&[][..], |c| c.as_slice()),
            sections: section_of_industry(),
            regions: p.region_codes.len(),
            size_keys: enum_keys(Field::SizeClass).len(),
            size_bucket: size_buckets(enum_keys(Field::SizeClass).len()),
        }
    }

    /// An empty accumulator.
    pub fn acc(&self) -> Acc {
        Acc {
            county: vec![Cell::default(); self.regions.max(1)],
            joint: vec![Cell::default(); (industry_sections().len() + 1) * SIZE_WIDTH],
        }
    }

    /// The joint (section, size) bucket and the county of `row`.
    #[inline(always)]
    fn buckets(&self, row: usize) -> (usize, usize) {
        let region = self.region_ix.get(row).copied().unwrap_or(0) as usize;
        // `NULL_INDUSTRY` lies past the table: section 0, unknown.
        let industry = self.industry.get(row).copied().unwrap_or(NULL_INDUSTRY) as usize;
        let section = self.sections.get(industry).copied().unwrap_or(0) as usize;
        let size = self.size_bucket[self.size.get(row).copied().unwrap_or(NULL_ENUM) as usize] as usize;
        (region, section * SIZE_WIDTH + size)
    }

    /// Adds row `row` with amount `fen` to `acc`.
    #[inline(always)]
    pub fn add_to(&self, acc: &mut Acc, row: usize, fen: i64) {
        let (county, joint) = self.buckets(row);
        if let Some(c) = acc.county.get_mut(county) {
            c.add(fen);
        }
        if let Some(c) = acc.joint.get_mut(joint) {
            c.add(fen);
        }
    }

    /// Counts row `row` in `acc` (a set without amounts).
    #[inline(always)]
    pub fn count_in(&self, acc: &mut Acc, row: usize) {
        let (county, joint) = self.buckets(row);
        if let Some(c) = acc.county.get_mut(county) {
            c.count += 1;
        }
        if let Some(c) = acc.joint.get_mut(joint) {
            c.count += 1;
        }
    }

    /// The tally an accumulator holds.
    pub fn finish(&self, acc: &Acc) -> Tally {
        let mut t = self.tally();
        t.county.clone_from(&acc.county);
        for (i, c) in acc.joint.iter().enumerate() {
            let (section, size) = (i / SIZE_WIDTH, i % SIZE_WIDTH);
            if let Some(s) = t.section.get_mut(section) {
                s.merge(*c);
            }
            if let Some(s) = t.size.get_mut(size) {
                s.merge(*c);
            }
        }
        t
    }

    /// An empty tally with room for every bucket.
    pub fn tally(&self) -> Tally {
        Tally {
            county: vec![Cell::default(); self.regions.max(1)],
            section: vec![Cell::default(); industry_sections().len() + 1],
            size: vec![Cell::default(); self.size_keys + 1],
        }
    }

    /// Adds row `row` with amount `fen` to `t`.
    #[inline]
    pub fn add(&self, t: &mut Tally, row: usize, fen: i64) {
        let region = self.region_ix.get(row).copied().unwrap_or(0) as usize;
        if let Some(c) = t.county.get_mut(region) {
            c.add(fen);
        }
        let industry = self.industry.get(row).copied().unwrap_or(NULL_INDUSTRY);
        let section = if industry == NULL_INDUSTRY {
            0
        } else {
            self.sections.get(industry as usize).copied().unwrap_or(0) as usize
        };
        if let Some(c) = t.section.get_mut(section) {
            c.add(fen);
        }
        let size = match self.size.get(row).copied() {
            Some(s) if s != NULL_ENUM && (s as usize) < self.size_keys => s as usize,
            _ => self.size_keys,
        };
        if let Some(c) = t.size.get_mut(size) {
            c.add(fen);
        }
    }
}

/// The size bucket of each size-column value: the value itself within the vocabulary, the
/// unknown bucket (`keys`) otherwise — clamped to the joint breakdown's width.
fn size_buckets(keys: usize) -> [u8; 256] {
    let unknown = keys.min(SIZE_WIDTH - 1) as u8;
    let mut t = [unknown; 256];
    for (v, b) in t.iter_mut().enumerate().take(keys.min(SIZE_WIDTH - 1)) {
        if v as u8 != NULL_ENUM {
            *b = v as u8;
        }
    }
    t
}

impl Tally {
    /// Adds another thread's tally of the same set.
    pub fn merge(&mut self, other: &Tally) {
        for (mine, theirs) in
            [(&mut self.county, &other.county), (&mut self.section, &other.section), (&mut self.size, &other.size)]
        {
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), Cell::default());
            }
            for (a, b) in mine.iter_mut().zip(theirs) {
                a.merge(*b);
            }
        }
    }

    /// Rows counted (every row is in exactly one county bucket).
    pub fn count(&self) -> u64 {
        self.county.iter().map(|c| c.count).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_industry_code_falls_in_its_section() {
        let sections = industry_sections();
        for (code, s) in industry_table().iter().zip(section_of_industry()) {
            assert!(*s >= 1, "{code} has no section");
            assert_eq!(sections[*s as usize - 1], &code[..1]);
        }
    }

    #[test]
    fn the_joint_breakdown_holds_every_section_and_size() {
        // Every size and its unknown bucket fit one joint row; every value maps within them.
        let keys = enum_keys(Field::SizeClass).len();
        assert!(keys < SIZE_WIDTH);
        let buckets = size_buckets(keys);
        for v in 0..=255u8 {
            let want = if (v as usize) < keys && v != NULL_ENUM { v } else { keys as u8 };
            assert_eq!(buckets[v as usize], want, "size value {v}");
        }
    }

    #[test]
    fn merging_adds_bucket_by_bucket() {
        let mut a = Tally { county: vec![Cell { count: 1, fen: 5 }], section: vec![], size: vec![] };
        let b =
            Tally { county: vec![Cell { count: 2, fen: 7 }, Cell { count: 1, fen: 1 }], section: vec![], size: vec![] };
        a.merge(&b);
        assert_eq!(a.county, vec![Cell { count: 3, fen: 12 }, Cell { count: 1, fen: 1 }]);
        assert_eq!(a.count(), 4);
    }
}
