//! Reference tables compiled into the binary from `seed/reference/`: GB/T 2260 regions and
//! GB/T 4754-2017 industries. Parsed once, on first use.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;

const PROVINCES_CSV: &str = include_str!("../../seed/reference/regions-provinces.csv");
const CITIES_CSV: &str = include_str!("../../seed/reference/regions-cities.csv");
const COUNTIES_CSV: &str = include_str!("../../seed/reference/regions-counties.csv");
const INDUSTRIES_CSV: &str = include_str!("../../seed/reference/industries-gbt4754-2017.csv");
pub const HOLIDAYS_JSON: &str = include_str!("../../seed/reference/holidays-cn.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    Province,
    City,
    County,
}

#[derive(Debug, Clone, Serialize)]
pub struct Region {
    /// Six digits, as GB/T 2260 writes it (`230000`, `230100`, `230125`).
    pub code: String,
    pub name: String,
    pub level: RegionLevel,
    pub parent: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndustryLevel {
    Section,
    Division,
    Group,
    Class,
}

#[derive(Debug, Clone, Serialize)]
pub struct Industry {
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
    pub level: IndustryLevel,
}

pub struct Reference {
    regions: HashMap<String, Region>,
    region_order: Vec<String>,
    industries: HashMap<String, Industry>,
    industry_order: Vec<String>,
}

fn rows(csv_text: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(csv_text.as_bytes());
    reader.records().filter_map(Result::ok).map(|r| r.iter().map(|f| f.trim().to_string()).collect()).collect()
}

fn build() -> Reference {
    let mut regions = HashMap::new();
    let mut region_order = Vec::new();
    let mut add = |code: String, name: String, level, parent: Option<String>| {
        region_order.push(code.clone());
        regions.insert(code.clone(), Region { code, name, level, parent });
    };
    for r in rows(PROVINCES_CSV) {
        if let [code, name, ..] = r.as_slice() {
            add(format!("{code}0000"), name.clone(), RegionLevel::Province, None);
        }
    }
    for r in rows(CITIES_CSV) {
        if let [code, name, province, ..] = r.as_slice() {
            add(format!("{code}00"), name.clone(), RegionLevel::City, Some(format!("{province}0000")));
        }
    }
    for r in rows(COUNTIES_CSV) {
        if let [code, name, city, ..] = r.as_slice() {
            add(code.clone(), name.clone(), RegionLevel::County, Some(format!("{city}00")));
        }
    }
    region_order.sort();
    let mut industries = HashMap::new();
    let mut industry_order = Vec::new();
    for r in rows(INDUSTRIES_CSV) {
        if let [code, name, parent, level, ..] = r.as_slice() {
            let level = match level.as_str() {
                "section" => IndustryLevel::Section,
                "division" => IndustryLevel::Division,
                "group" => IndustryLevel::Group,
                _ => IndustryLevel::Class,
            };
            let parent = (!parent.is_empty()).then(|| parent.clone());
            industry_order.push(code.clone());
            industries.insert(code.clone(), Industry { code: code.clone(), name: name.clone(), parent, level });
        }
    }
    Reference { regions, region_order, industries, industry_order }
}

fn get() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(build)
}

pub fn region(code: &str) -> Option<&'static Region> {
    get().regions.get(code)
}

pub fn industry(code: &str) -> Option<&'static Industry> {
    get().industries.get(code)
}

/// Every region, in code order.
pub fn regions() -> impl Iterator<Item = &'static Region> {
    let r = get();
    r.region_order.iter().filter_map(|c| r.regions.get(c))
}

/// Every industry code, in the standard's order.
pub fn industries() -> impl Iterator<Item = &'static Industry> {
    let r = get();
    r.industry_order.iter().filter_map(|c| r.industries.get(c))
}

/// The full name of a region: 黑龙江省哈尔滨市宾县. Unknown codes come back as they are.
pub fn region_full_name(code: &str) -> String {
    let mut names = Vec::new();
    let mut cur = region(code);
    while let Some(r) = cur {
        if r.name != "市辖区" {
            names.push(r.name.as_str());
        }
        cur = r.parent.as_deref().and_then(region);
    }
    if names.is_empty() {
        return code.to_string();
    }
    names.reverse();
    names.concat()
}

/// `C3911 计算机整机制造` style label; unknown codes come back as they are.
pub fn industry_label(code: &str) -> String {
    match industry(code) {
        Some(i) => format!("{} {}", i.code, i.name),
        None => code.to_string(),
    }
}

/// The chain section → division → group → class for a code, top first.
pub fn industry_path(code: &str) -> Vec<&'static Industry> {
    let mut path = Vec::new();
    let mut cur = industry(code);
    while let Some(i) = cur {
        path.push(i);
        cur = i.parent.as_deref().and_then(industry);
    }
    path.reverse();
    path
}

/// How a picker shows an industry: `C35 制造业 › 专用设备制造业` (the code, its section, its
/// name), so that typing part of a name finds it.
pub fn industry_choice(i: &Industry) -> String {
    let path = industry_path(&i.code);
    match path.first() {
        Some(section) if section.code != i.code => format!("{} {} › {}", i.code, section.name, i.name),
        _ => format!("{} {}", i.code, i.name),
    }
}

/// The industry someone typed or picked: a code (`C35`), a picker line (`C35 制造业 › 专用设备
/// 制造业`), or a name (`专用设备制造业`; the most general of equal names). `None` when nothing
/// or more than one different name fits.
pub fn industry_find(text: &str) -> Option<&'static Industry> {
    let text = text.trim();
    let first = text.split_whitespace().next()?;
    if let Some(i) = industry(&first.to_ascii_uppercase()) {
        return Some(i);
    }
    let name = text.rsplit('›').next().unwrap_or(text).trim();
    if let Some(i) = industries().find(|i| i.name == name) {
        return Some(i);
    }
    let mut hits = industries().filter(|i| i.name.contains(name));
    let hit = hits.next()?;
    hits.all(|i| i.name == hit.name || i.code.starts_with(&hit.code)).then_some(hit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn industries_found_by_code_line_or_name() {
        let code = |t: &str| industry_find(t).map(|i| i.code.as_str());
        assert_eq!(code("C35"), Some("C35"));
        assert_eq!(code("c3911"), Some("C3911"));
        let line = industry_choice(industry("C35").unwrap());
        assert!(line.starts_with("C35 制造业 › ") && line.contains("专用设备"), "{line}");
        assert_eq!(code(&line), Some("C35"));
        assert_eq!(code("专用设备制造业"), Some("C35"));
        assert_eq!(code("制造业 › 专用设备制造业"), Some("C35"));
        assert_eq!(code("制造"), Some("C"), "every 制造 lies under 制造业");
        assert_eq!(code("专用设备"), None, "专用设备 names classes in two divisions");
        assert_eq!(code("没有这个行业"), None);
        assert_eq!(code(""), None);
    }

    #[test]
    fn tables_have_the_documented_sizes() {
        let count = |l| industries().filter(|i| i.level == l).count();
        assert_eq!(count(IndustryLevel::Section), 20);
        assert_eq!(count(IndustryLevel::Division), 97);
        assert_eq!(count(IndustryLevel::Group), 272);
        // The data README says 1,379 classes; the shipped table has 1,381 rows at class level.
        assert_eq!(count(IndustryLevel::Class), 1381);
        assert!(regions().filter(|r| r.code.starts_with("23") && r.level == RegionLevel::County).count() > 100);
    }

    #[test]
    fn names_and_paths() {
        assert_eq!(region_full_name("230125"), "黑龙江省哈尔滨市宾县");
        assert_eq!(region_full_name("230100"), "黑龙江省哈尔滨市");
        let path: Vec<_> = industry_path("C3911").iter().map(|i| i.code.as_str()).collect();
        assert_eq!(path, ["C", "C39", "C391", "C3911"]);
        assert_eq!(industry_path("G5910").len(), 3, "a class directly under its division");
    }
}
