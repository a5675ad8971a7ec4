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
        }
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
    fn merging_adds_bucket_by_bucket() {
        let mut a = Tally { county: vec![Cell { count: 1, fen: 5 }], section: vec![], size: vec![] };
        let b =
            Tally { county: vec![Cell { count: 2, fen: 7 }, Cell { count: 1, fen: 1 }], section: vec![], size: vec![] };
        a.merge(&b);
        assert_eq!(a.county, vec![Cell { count: 3, fen: 12 }, Cell { count: 1, fen: 1 }]);
        assert_eq!(a.count(), 4);
    }
}
