//! A deterministic generator of Heilongjiang entities with realistic distributions. Entity `i`
//! depends only on the seed and `i`, so a smaller run is a prefix of a larger one, on any
//! machine and any version of any dependency (the generator carries its own PRNG).

use crate::model::codes::credit_check_char;
use crate::model::reference::{self, IndustryLevel, RegionLevel};
use crate::model::size_class::{Indicator, SizeGroup};
use crate::model::{
    CreditCode, Date, EntityPatch, EntityType, Field, FieldValue, IndustryCode, Money, Ownership, RegStatus,
    RegionCode, TagHolding, TaxCredit,
};

/// SplitMix64: tiny, fast, and fixed forever.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    pub fn range_f64(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Picks by weight.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut x = self.below(total);
        for (item, w) in items {
            if x < u64::from(*w) {
                return item;
            }
            x -= u64::from(*w);
        }
        &items[items.len() - 1].0
    }
}

/// Cities of Heilongjiang with their share of entities (per mille).
const CITIES: &[(&str, u32)] = &[
    ("2301", 340),
    ("2302", 90),
    ("2303", 40),
    ("2304", 25),
    ("2305", 25),
    ("2306", 110),
    ("2307", 25),
    ("2308", 60),
    ("2309", 20),
    ("2310", 70),
    ("2311", 30),
    ("2312", 90),
    ("2327", 10),
];

/// Industry sections with their share (per mille): agriculture, manufacturing and trade lead.
const SECTIONS: &[(&str, u32)] = &[
    ("A", 110),
    ("B", 15),
    ("C", 190),
    ("D", 10),
    ("E", 50),
    ("F", 260),
    ("G", 50),
    ("H", 90),
    ("I", 45),
    ("K", 20),
    ("L", 55),
    ("M", 40),
    ("O", 45),
    ("R", 20),
];

const BRANDS: &[&str] = &[
    "龙江",
    "北疆",
    "松花",
    "冰城",
    "鹤翔",
    "兴安",
    "黑土",
    "雪原",
    "金谷",
    "丰源",
    "华信",
    "恒达",
    "瑞丰",
    "鑫源",
    "宏达",
    "博远",
    "天润",
    "盛世",
    "永泰",
    "嘉禾",
    "东极",
    "北大荒",
    "白山",
    "绿野",
    "寒地",
    "长青",
    "中科",
    "智联",
    "众诚",
    "聚力",
];

fn industry_word(section: &str) -> &'static str {
    match section {
        "A" => "农业",
        "B" => "矿业",
        "C" => "制造",
        "D" => "能源",
        "E" => "建设",
        "F" => "商贸",
        "G" => "物流",
        "H" => "餐饮",
        "I" => "科技",
        "K" => "置业",
        "L" => "商务服务",
        "M" => "技术研究",
        "O" => "家政服务",
        "R" => "文化传媒",
        _ => "实业",
    }
}

const SYLLABLES: &[&str] = &[
    "安", "邦", "诚", "达", "丰", "福", "广", "海", "和", "恒", "弘", "华", "佳", "金", "锦", "骏", "凯", "康", "利",
    "隆", "茂", "明", "宁", "鹏", "启", "瑞", "润", "盛", "顺", "泰", "通", "旺", "祥", "鑫", "信", "兴", "旭", "耀",
    "益", "裕", "源",
];

const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "孙", "马", "朱", "胡", "郭"];

/// Reference lists the generator draws from, built once per run.
pub struct Generator {
    seed: u64,
    counties: Vec<(String, Vec<String>)>,
    classes: Vec<(String, Vec<String>)>,
    today: Date,
}

/// An amount to the fen, as real books keep it (e.g. 1521.4795 万元): formulas over such
/// values meet half fens, which exact arithmetic must round the same way every time.
fn wan(v: f64) -> Money {
    Money::from_wan_f64(v).unwrap_or(Money::ZERO)
}

impl Generator {
    pub fn new(seed: u64, today: Date) -> Generator {
        let counties = CITIES
            .iter()
            .map(|(city, _)| {
                let list: Vec<String> = reference::regions()
                    .filter(|r| r.level == RegionLevel::County && r.code.starts_with(city) && r.name != "市辖区")
                    .map(|r| r.code.clone())
                    .collect();
                (city.to_string(), list)
            })
            .collect();
        let classes = SECTIONS
            .iter()
            .map(|(s, _)| {
                let list: Vec<String> = reference::industries()
                    .filter(|i| i.level == IndustryLevel::Class && i.code.starts_with(s))
                    .map(|i| i.code.clone())
                    .collect();
                (s.to_string(), list)
            })
            .collect();
        Generator { seed, counties, classes, today }
    }

    /// The 17 characters before the check character: 9 (工商) + category + region + a
    /// 9-character organisation code unique to `i`.
    fn credit_code(&self, i: u64, entity_type: EntityType, region: &str, rng: &mut Rng) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
        let category = match entity_type {
            EntityType::Individual => '2',
            EntityType::Coop => '3',
            _ => '1',
        };
        let mut n = i.wrapping_mul(2_654_435_761).wrapping_add(self.seed.wrapping_mul(97)) % 31u64.pow(8);
        let mut org = String::new();
        for _ in 0..8 {
            org.insert(0, char::from(ALPHABET[(n % 31) as usize]));
            n /= 31;
        }
        let lead = ["MA", "MB", "MC"][rng.below(3) as usize];
        format!("9{category}{region}{}{}", &lead[..1], &org)
    }

    /// The patch for entity `i` (0-based).
    pub fn entity(&self, i: u64) -> EntityPatch {
        let mut rng = Rng::new(self.seed ^ i.wrapping_mul(0xA24B_AED4_963E_E407));
        let mut p = EntityPatch::default();
        let set = |p: &mut EntityPatch, f: Field, v: FieldValue| p.set(f, Some(v));

        let entity_type = *rng.weighted(&[
            (EntityType::Enterprise, 70),
            (EntityType::Individual, 25),
            (EntityType::Coop, 4),
            (EntityType::Other, 1),
        ]);
        let city = *rng.weighted(CITIES);
        let region = self
            .counties
            .iter()
            .find(|(c, _)| c == city)
            .and_then(|(_, list)| (!list.is_empty()).then(|| rng.pick(list).clone()))
            .unwrap_or_else(|| format!("{city}00"));
        let section = if entity_type == EntityType::Coop { "A" } else { *rng.weighted(SECTIONS) };
        let industry = self
            .classes
            .iter()
            .find(|(s, _)| s == section)
            .map(|(_, list)| rng.pick(list).clone())
            .unwrap_or_else(|| section.to_string());

        let first17 = self.credit_code(i, entity_type, &region, &mut rng);
        let mut code = CreditCode::with_check(&first17[..17]).map(|c| c.to_string()).unwrap_or_default();
        // About 1 in 200 carries a failed check character, as some early legal codes do.
        if rng.chance(0.005) {
            let good = credit_check_char(&first17.as_bytes()[..17]).unwrap_or('0');
            let bad = if good == '0' { '1' } else { '0' };
            code = format!("{}{bad}", &first17[..17]);
        }
        if let Ok(c) = CreditCode::parse(&code) {
            set(&mut p, Field::CreditCode, FieldValue::CreditCode(c));
        }

        let county = reference::region(&region).map(|r| r.name.clone()).unwrap_or_default();
        let city_name = reference::region(&format!("{city}00"))
            .map(|r| r.name.trim_end_matches('市').to_string())
            .unwrap_or_default();
        let brand = *rng.pick(BRANDS);
        let word = industry_word(section);
        let name = match entity_type {
            EntityType::Individual => format!("{county}{}{}{}店", rng.pick(SURNAMES), brand, word),
            EntityType::Coop => {
                format!("{county}{brand}{}种植专业合作社", ["玉米", "大豆", "水稻", "蔬菜"][rng.below(4) as usize])
            }
            _ => {
                let suffix =
                    *rng.weighted(&[("有限公司", 70), ("股份有限公司", 12), ("有限责任公司", 15), ("集团有限公司", 3)]);
                format!("{city_name}{brand}{}{}{word}{suffix}", rng.pick(SYLLABLES), rng.pick(SYLLABLES))
            }
        };
        set(&mut p, Field::Name, FieldValue::Text(name));
        if let Ok(r) = RegionCode::parse(&region) {
            set(&mut p, Field::Region, FieldValue::Region(r));
        }
        let industry_code = IndustryCode::parse(&industry).ok();
        if let Some(ind) = &industry_code {
            set(&mut p, Field::Industry, FieldValue::Industry(ind.clone()));
        }
        set(&mut p, Field::EntityType, FieldValue::EntityType(entity_type));
        if entity_type == EntityType::Enterprise {
            let o = *rng.weighted(&[
                (Ownership::Private, 850),
                (Ownership::State, 50),
                (Ownership::Foreign, 20),
                (Ownership::Hmt, 10),
                (Ownership::Collective, 30),
                (Ownership::Mixed, 40),
            ]);
            set(&mut p, Field::Ownership, FieldValue::Ownership(o));
        }
        let status = *rng.weighted(&[
            (RegStatus::Active, 920),
            (RegStatus::Closed, 30),
            (RegStatus::Revoked, 20),
            (RegStatus::Cancelled, 30),
        ]);
        set(&mut p, Field::Status, FieldValue::Status(status));

        // Established: skewed towards recent years.
        let span = (self.today.days() - Date::from_ymd(1990, 1, 1).map_or(0, |d| d.days())).max(1) as f64;
        let back = (rng.f64().powf(1.8) * span) as i32;
        set(&mut p, Field::Established, FieldValue::Date(self.today.add_days(-back)));

        // Size first, then indicators inside that size's band of the industry's thresholds.
        let size = *rng.weighted(&[(3usize, 700), (2, 220), (1, 60), (0, 20)]);
        let group = industry_code.as_ref().and_then(SizeGroup::of).unwrap_or(SizeGroup::Other);
        let band = |ind: Indicator, rng: &mut Rng| -> f64 {
            let bounds = group.thresholds().iter().find(|(i, _)| *i == ind).map(|(_, b)| *b);
            let (lo, hi) = match (bounds, size) {
                (Some(b), 0) => (b[0] as f64, b[0] as f64 * 3.0),
                (Some(b), 1) => (b[1] as f64, b[0] as f64),
                (Some(b), 2) => (b[2] as f64, b[1] as f64),
                (Some(b), _) => (b[2] as f64 * 0.05, b[2] as f64),
                (None, s) => {
                    let base = [50_000.0, 8000.0, 800.0, 60.0][s.min(3)];
                    (base * 0.3, base)
                }
            };
            // One in twenty sits exactly on the lower bound: boundary cases for the rules.
            if rng.chance(0.05) { lo.max(1.0) } else { rng.range_f64(lo, hi).max(0.5) }
        };
        let employees = band(Indicator::Employees, &mut rng).round().max(1.0);
        let revenue = band(Indicator::Revenue, &mut rng);
        let assets = if group.thresholds().iter().any(|(i, _)| *i == Indicator::Assets) {
            band(Indicator::Assets, &mut rng)
        } else {
            revenue * rng.range_f64(0.4, 2.5)
        };
        let growth = rng.range_f64(-0.25, 0.45);
        let unknown = |rng: &mut Rng| rng.chance(0.03);
        if !unknown(&mut rng) {
            set(&mut p, Field::Employees, FieldValue::Int(employees as i64));
        }
        if !unknown(&mut rng) {
            set(&mut p, Field::Revenue, FieldValue::Money(wan(revenue)));
        }
        if !unknown(&mut rng) {
            set(&mut p, Field::RevenuePrev, FieldValue::Money(wan(revenue / (1.0 + growth))));
        }
        if !unknown(&mut rng) {
            set(&mut p, Field::TotalAssets, FieldValue::Money(wan(assets)));
        }
        set(&mut p, Field::FiscalYear, FieldValue::Int(i64::from(self.today.year() - 1)));
        set(
            &mut p,
            Field::RegisteredCapital,
            FieldValue::Money(wan(
                [10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0][rng.below(6) as usize] * (4 - size.min(3)) as f64
            )),
        );
        set(&mut p, Field::TaxPaid, FieldValue::Money(wan(revenue * rng.range_f64(0.01, 0.08))));

        let innovative = matches!(section, "C" | "I" | "M") && entity_type == EntityType::Enterprise;
        if innovative && !unknown(&mut rng) {
            // R&D ratio: a cluster at exactly 3% and 5% (common policy thresholds).
            let ratio = match rng.below(10) {
                0 => 0.03,
                1 => 0.05,
                _ => rng.range_f64(0.0, 0.09),
            };
            let rd = revenue * ratio;
            set(&mut p, Field::RdExpense, FieldValue::Money(wan(rd)));
            set(&mut p, Field::RdExpensePrev, FieldValue::Money(wan(rd / (1.0 + rng.range_f64(-0.2, 0.5)))));
            set(&mut p, Field::TechStaffRatio, FieldValue::Percent((rng.range_f64(3.0, 60.0) * 10.0).round() / 10.0));
            set(&mut p, Field::InventionPatents, FieldValue::Int(rng.below(if size <= 1 { 40 } else { 6 }) as i64));
        } else if entity_type == EntityType::Enterprise {
            set(&mut p, Field::InventionPatents, FieldValue::Int(0));
        }
        let exporter = entity_type == EntityType::Enterprise && matches!(section, "A" | "C" | "F") && rng.chance(0.12);
        if exporter {
            set(&mut p, Field::ExportValue, FieldValue::Money(wan(revenue * rng.range_f64(0.05, 0.7))));
        }
        if entity_type != EntityType::Individual {
            set(&mut p, Field::GraduateHires, FieldValue::Int((employees * rng.range_f64(0.0, 0.08)).round() as i64));
            set(&mut p, Field::UiPremiumPaid, FieldValue::Money(wan(employees * rng.range_f64(0.03, 0.08))));
            set(&mut p, Field::LayoffRate, FieldValue::Percent((rng.range_f64(0.0, 9.0) * 10.0).round() / 10.0));
        }

        // Qualifications with certificate dates.
        let mut tags = Vec::new();
        let mut tag = |key: &str, since_years: (i32, i32), valid_years: Option<i32>, rng: &mut Rng| {
            let back = rng.below(((since_years.1 - since_years.0).max(1) * 365) as u64) as i32 + since_years.0 * 365;
            let since = self.today.add_days(-back);
            let until = valid_years.map(|y| since.add_days(y * 365));
            tags.push(TagHolding { key: key.into(), since: Some(since), until });
        };
        if innovative {
            if rng.chance(0.12) {
                tag("high_tech", (0, 5), Some(3), &mut rng);
            }
            if rng.chance(0.2) {
                tag("tech_sme", (0, 2), Some(1), &mut rng);
            }
            if rng.chance(0.08) {
                tag("innovative_sme", (0, 3), Some(3), &mut rng);
            }
            if rng.chance(0.04) {
                tag("srdi_sme", (0, 3), Some(3), &mut rng);
            }
            if size <= 1 && rng.chance(0.1) {
                tag("little_giant", (0, 3), Some(3), &mut rng);
            }
            if growth > 0.2 && rng.chance(0.3) {
                tag("gazelle", (0, 2), None, &mut rng);
            }
        }
        if section == "A" && size <= 2 && rng.chance(0.15) {
            tag("agri_leader", (0, 6), None, &mut rng);
        }
        if size <= 2 && entity_type == EntityType::Enterprise && revenue >= 2000.0 {
            tag("above_scale", (0, 8), None, &mut rng);
        }
        if size == 0 && rng.chance(0.15) {
            tag("listed", (1, 15), None, &mut rng);
        }
        if exporter {
            tag("foreign_trade", (0, 10), None, &mut rng);
        }
        if !tags.is_empty() {
            tags.sort_by(|a, b| a.key.cmp(&b.key));
            set(&mut p, Field::Tags, FieldValue::Tags(tags));
        }

        if !unknown(&mut rng) {
            let tc = *rng.weighted(&[
                (TaxCredit::A, 300),
                (TaxCredit::B, 450),
                (TaxCredit::M, 150),
                (TaxCredit::C, 70),
                (TaxCredit::D, 30),
            ]);
            set(&mut p, Field::TaxCredit, FieldValue::TaxCredit(tc));
        }
        set(&mut p, Field::Dishonest, FieldValue::Bool(rng.chance(0.02)));
        set(&mut p, Field::MajorViolation, FieldValue::Bool(rng.chance(0.01)));
        let person = format!("{}{}", rng.pick(SURNAMES), ["先生", "女士"][rng.below(2) as usize]);
        set(&mut p, Field::ContactPerson, FieldValue::Text(person));
        let phone = format!("1{}{:09}", [3, 5, 8, 9][rng.below(4) as usize], rng.below(1_000_000_000));
        set(&mut p, Field::ContactPhone, FieldValue::Text(phone));
        set(
            &mut p,
            Field::Address,
            FieldValue::Text(format!(
                "{}{}路{}号",
                reference::region_full_name(&region),
                rng.pick(BRANDS),
                rng.below(300) + 1
            )),
        );
        // Drawn last, so that every value above stays what earlier versions generated.
        const GIVEN: [&str; 10] = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "军"];
        let rep = format!("{}{}", rng.pick(SURNAMES), rng.pick(&GIVEN));
        set(&mut p, Field::LegalRep, FieldValue::Text(rep));
        let birth = 1960 + rng.below(40);
        let first17 = format!("{region}{birth}{:02}{:02}{:03}", rng.below(12) + 1, rng.below(28) + 1, rng.below(1000));
        if let Some(id) = crate::model::mask::with_id_check(&first17) {
            set(&mut p, Field::LegalRepId, FieldValue::Text(id));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entity;
    use crate::model::Timestamp;

    #[test]
    fn deterministic_and_prefix_stable() {
        let today = Date::parse("2026-11-27").unwrap();
        let a = Generator::new(7, today);
        let b = Generator::new(7, today);
        for i in [0, 1, 999] {
            assert_eq!(a.entity(i), b.entity(i));
        }
        assert_ne!(a.entity(0), Generator::new(8, today).entity(0));
    }

    #[test]
    fn realistic_and_with_edge_cases() {
        let today = Date::parse("2026-11-27").unwrap();
        let g = Generator::new(1, today);
        let mut codes = std::collections::HashSet::new();
        let (mut bad_checks, mut individuals, mut unknown_revenue, mut harbin, mut high_tech) = (0, 0, 0, 0, 0);
        let n = 4000;
        for i in 0..n {
            let p = g.entity(i);
            let code = p.credit_code().unwrap().clone();
            assert!(codes.insert(code.to_string()), "duplicate credit code {code}");
            let mut e = Entity::new(i + 1, code.clone(), Timestamp(0));
            e.apply(&p, today, Timestamp(0));
            assert!(e.name.is_some() && e.region.as_ref().is_some_and(|r| r.within("23")));
            bad_checks += usize::from(!code.check_ok());
            individuals += usize::from(e.entity_type == Some(EntityType::Individual));
            unknown_revenue += usize::from(e.revenue.is_none());
            harbin += usize::from(e.region.as_ref().is_some_and(|r| r.within("2301")));
            high_tech += usize::from(e.has_tag("high_tech"));
            assert!(e.established.is_some_and(|d| d <= today));
        }
        assert!((5..=60).contains(&bad_checks), "{bad_checks} failed check characters");
        assert!((800..=1200).contains(&individuals), "{individuals} individuals");
        assert!((40..=250).contains(&unknown_revenue), "{unknown_revenue} unknown revenues");
        assert!((1100..=1650).contains(&harbin), "{harbin} in Harbin");
        assert!(high_tech > 10);
    }
}
