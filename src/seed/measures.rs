//! A deterministic generator of measures of 5–12 conditions, drawn from the kinds of
//! conditions real policies use, for benchmarks at province scale.

use super::generator::Rng;
use crate::model::policy::Condition;
use crate::model::{Category, MeasureSpec, Mode, Money};

const CITIES: [&str; 13] =
    ["2301", "2302", "2303", "2304", "2305", "2306", "2307", "2308", "2309", "2310", "2311", "2312", "2327"];
const COUNTIES: [&str; 10] =
    ["230125", "230183", "230184", "230102", "230103", "230109", "230202", "230602", "231002", "230882"];
const SECTIONS: [&str; 8] = ["C", "I", "F", "A", "M", "E", "G", "H"];
const DIVISIONS: [&str; 10] = ["C13", "C14", "C26", "C34", "C35", "C39", "I65", "F51", "F52", "M73"];
const TAGS: [&str; 10] = [
    "high_tech",
    "tech_sme",
    "innovative_sme",
    "srdi_sme",
    "little_giant",
    "above_scale",
    "gazelle",
    "agri_leader",
    "listed",
    "foreign_trade",
];

fn condition(rng: &mut Rng) -> (String, String) {
    let pick = |rng: &mut Rng, v: &[&'static str]| *rng.pick(v);
    match rng.below(20) {
        0 => (format!("在 {} 注册", "本县"), format!("region.within(\"{}\")", pick(rng, &COUNTIES))),
        1 => ("在本市注册".into(), format!("region.within(\"{}\")", pick(rng, &CITIES))),
        2 => ("在省内注册".into(), "region.within(\"23\")".into()),
        3 => ("属于指定行业".into(), format!("industry.within(\"{}\")", pick(rng, &SECTIONS))),
        4 => (
            "属于指定行业".into(),
            format!("industry.within(\"{}\") || industry.within(\"{}\")", pick(rng, &DIVISIONS), pick(rng, &DIVISIONS)),
        ),
        5 => ("中小微企业".into(), "size_class in [\"small\", \"micro\", \"medium\"]".into()),
        6 => {
            let t = pick(rng, &TAGS);
            ("持有资质".into(), format!("tags.contains(\"{t}\")"))
        }
        7 => {
            let t = pick(rng, &TAGS);
            let y = 2020 + rng.below(6);
            ("近年认定".into(), format!("tags.contains(\"{t}\") && tag_since(\"{t}\") >= date(\"{y}-01-01\")"))
        }
        8 => (
            "营业收入达标".into(),
            format!("revenue >= {}", [50, 100, 300, 500, 1000, 2000, 5000][rng.below(7) as usize]),
        ),
        9 => ("从业人数达标".into(), format!("employees >= {}", [5, 10, 20, 50, 100][rng.below(5) as usize])),
        10 => ("研发投入占比达标".into(), format!("rd_ratio >= {}", [2, 3, 4, 5][rng.below(4) as usize])),
        11 => ("成立年限达标".into(), format!("age_years >= {}", 1 + rng.below(5))),
        12 => ("纳税信用良好".into(), "tax_credit in [\"A\", \"B\"]".into()),
        13 => ("无失信记录".into(), "!dishonest".into()),
        14 => ("无重大违法违规".into(), "!major_violation".into()),
        15 => ("登记状态正常".into(), "status == \"active\"".into()),
        16 => ("企业法人".into(), "entity_type == \"enterprise\"".into()),
        17 => ("营收增长".into(), format!("revenue_growth >= {}", [0, 5, 10, 20][rng.below(4) as usize])),
        18 => ("稳定就业".into(), format!("layoff_rate <= {}", ["3", "5.5", "10"][rng.below(3) as usize])),
        _ => ("纳税额达标".into(), format!("tax_paid >= {}", [10, 50, 100][rng.below(3) as usize])),
    }
}

const AMOUNTS: [&str; 6] = [
    "min(rd_expense * 0.1, 100)",
    "graduate_hires * 0.15",
    "ui_premium_paid * 0.6",
    "tags.contains(\"high_tech\") ? 30 : 10",
    "min(revenue * 0.01, 50)",
    "max(tax_paid * 0.05, 1)",
];

/// Measure `i` (0-based) of seed `seed`: 5–12 distinct conditions and an amount formula.
pub fn measure(seed: u64, i: u64) -> MeasureSpec {
    let mut rng = Rng::new(seed ^ 0x5EED_0000_0000 ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let n = 5 + rng.below(8) as usize;
    let mut conditions: Vec<Condition> = Vec::new();
    let mut guard = 0;
    while conditions.len() < n && guard < 200 {
        guard += 1;
        let (label, expr) = condition(&mut rng);
        if !conditions.iter().any(|c| c.expr == expr) {
            conditions.push(Condition { label, expr });
        }
    }
    MeasureSpec {
        name: format!("生成事项 {}", i + 1),
        category: *rng.pick(&[Category::Subsidy, Category::Talent, Category::Financing, Category::Investment]),
        department: "生成部门".into(),
        mode: *rng.pick(&[Mode::Auto, Mode::Apply, Mode::Instant]),
        conditions,
        amount: Some((*rng.pick(&AMOUNTS)).to_string()),
        cap: Some(Money::from_wan(100)),
        budget: None,
        window_start: None,
        window_end: None,
        materials: Vec::new(),
        form_fields: Vec::new(),
        review_stages: Vec::new(),
        publicity_days: 5,
        contact: String::new(),
        guide: String::new(),
        offer_days: 10,
        fund_source: String::new(),
        budget_subject: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tags::{TagDictionary, default_tags};

    #[test]
    fn generated_measures_type_check() {
        let tags = TagDictionary::new(default_tags());
        for i in 0..300 {
            let m = measure(1, i);
            assert!((5..=12).contains(&m.conditions.len()));
            if let Err(e) = crate::portrait::compile::check_measure(&m, &tags) {
                panic!("measure {i}: {}", e[0].en());
            }
        }
        assert_eq!(measure(1, 7).conditions, measure(1, 7).conditions);
    }
}
