//! Enterprise size by 工信部联企业〔2011〕300号《中小企业划型标准规定》: per industry group,
//! large, medium and small need every listed indicator at or above its lower bound; otherwise
//! the enterprise drops a class, and micro needs only one indicator below the small bound.

use serde::{Deserialize, Serialize};

use super::codes::IndustryCode;
use super::money::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeClass {
    Large,
    Medium,
    Small,
    Micro,
}

impl SizeClass {
    pub const ALL: [SizeClass; 4] = [SizeClass::Large, SizeClass::Medium, SizeClass::Small, SizeClass::Micro];

    pub fn key(self) -> &'static str {
        match self {
            SizeClass::Large => "large",
            SizeClass::Medium => "medium",
            SizeClass::Small => "small",
            SizeClass::Micro => "micro",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SizeClass::Large => "大型",
            SizeClass::Medium => "中型",
            SizeClass::Small => "小型",
            SizeClass::Micro => "微型",
        }
    }
}

/// The industry groups the 2011 rules list, each with its own indicators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeGroup {
    Agriculture,
    Industry,
    Construction,
    Wholesale,
    Retail,
    Transport,
    Warehousing,
    Postal,
    Accommodation,
    Catering,
    InfoTransmission,
    Software,
    RealEstateDevelopment,
    PropertyManagement,
    LeasingBusiness,
    Other,
}

impl SizeGroup {
    /// The group an industry code falls in; `None` where the 2011 rules do not apply
    /// (finance, railway transport, public administration, international organisations).
    pub fn of(industry: &IndustryCode) -> Option<SizeGroup> {
        let c = industry.as_str();
        let p = |prefix: &str| c.starts_with(prefix);
        Some(match industry.section() {
            "A" => SizeGroup::Agriculture,
            "B" | "C" | "D" => SizeGroup::Industry,
            "E" => SizeGroup::Construction,
            "F" if p("F51") => SizeGroup::Wholesale,
            "F" if p("F52") => SizeGroup::Retail,
            "F" => return None,
            "G" if p("G53") => return None,
            "G" if p("G59") => SizeGroup::Warehousing,
            "G" if p("G60") => SizeGroup::Postal,
            "G" if c.len() >= 3 => SizeGroup::Transport,
            "G" => return None,
            "H" if p("H61") => SizeGroup::Accommodation,
            "H" if p("H62") => SizeGroup::Catering,
            "H" => return None,
            "I" if p("I63") || p("I64") => SizeGroup::InfoTransmission,
            "I" if p("I65") => SizeGroup::Software,
            "I" => return None,
            "K" if p("K701") => SizeGroup::RealEstateDevelopment,
            "K" if p("K702") => SizeGroup::PropertyManagement,
            "K" if c.len() >= 4 => SizeGroup::Other,
            "K" => return None,
            "L" => SizeGroup::LeasingBusiness,
            "M" | "N" | "O" | "P" | "Q" | "R" => SizeGroup::Other,
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            SizeGroup::Agriculture => "农、林、牧、渔业",
            SizeGroup::Industry => "工业",
            SizeGroup::Construction => "建筑业",
            SizeGroup::Wholesale => "批发业",
            SizeGroup::Retail => "零售业",
            SizeGroup::Transport => "交通运输业",
            SizeGroup::Warehousing => "仓储业",
            SizeGroup::Postal => "邮政业",
            SizeGroup::Accommodation => "住宿业",
            SizeGroup::Catering => "餐饮业",
            SizeGroup::InfoTransmission => "信息传输业",
            SizeGroup::Software => "软件和信息技术服务业",
            SizeGroup::RealEstateDevelopment => "房地产开发经营",
            SizeGroup::PropertyManagement => "物业管理",
            SizeGroup::LeasingBusiness => "租赁和商务服务业",
            SizeGroup::Other => "其他未列明行业",
        }
    }

    /// Lower bounds for large, medium and small, one row per indicator.
    /// Employees in persons; revenue and assets in 万元.
    pub fn thresholds(self) -> &'static [(Indicator, [i64; 3])] {
        use Indicator::{Assets as Z, Employees as X, Revenue as Y};
        match self {
            SizeGroup::Agriculture => &[(Y, [20_000, 500, 50])],
            SizeGroup::Industry => &[(X, [1000, 300, 20]), (Y, [40_000, 2000, 300])],
            SizeGroup::Construction => &[(Y, [80_000, 6000, 300]), (Z, [80_000, 5000, 300])],
            SizeGroup::Wholesale => &[(X, [200, 20, 5]), (Y, [40_000, 5000, 1000])],
            SizeGroup::Retail => &[(X, [300, 50, 10]), (Y, [20_000, 500, 100])],
            SizeGroup::Transport => &[(X, [1000, 300, 20]), (Y, [30_000, 3000, 200])],
            SizeGroup::Warehousing => &[(X, [200, 100, 20]), (Y, [30_000, 1000, 100])],
            SizeGroup::Postal => &[(X, [1000, 300, 20]), (Y, [30_000, 2000, 100])],
            SizeGroup::Accommodation | SizeGroup::Catering => &[(X, [300, 100, 10]), (Y, [10_000, 2000, 100])],
            SizeGroup::InfoTransmission => &[(X, [2000, 100, 10]), (Y, [100_000, 1000, 100])],
            SizeGroup::Software => &[(X, [300, 100, 10]), (Y, [10_000, 1000, 50])],
            SizeGroup::RealEstateDevelopment => &[(Y, [200_000, 1000, 100]), (Z, [10_000, 5000, 2000])],
            SizeGroup::PropertyManagement => &[(X, [1000, 300, 100]), (Y, [5000, 1000, 500])],
            SizeGroup::LeasingBusiness => &[(X, [300, 100, 10]), (Z, [120_000, 8000, 100])],
            SizeGroup::Other => &[(X, [300, 100, 10])],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indicator {
    Employees,
    Revenue,
    Assets,
}

/// The indicator values of one entity; `None` is unknown.
#[derive(Debug, Clone, Copy, Default)]
pub struct SizeInputs {
    pub employees: Option<i64>,
    pub revenue: Option<Money>,
    pub total_assets: Option<Money>,
}

impl SizeInputs {
    /// `Some(true)` when the indicator is at least `bound`, `None` when it is unknown.
    fn at_least(&self, indicator: Indicator, bound: i64) -> Option<bool> {
        match indicator {
            Indicator::Employees => self.employees.map(|x| x >= bound),
            Indicator::Revenue => self.revenue.map(|y| y >= Money::from_wan(bound)),
            Indicator::Assets => self.total_assets.map(|z| z >= Money::from_wan(bound)),
        }
    }
}

/// Classifies; `None` when the industry is unknown or not covered, or when an unknown
/// indicator could change the outcome. An indicator known to be below the small bound
/// makes the entity micro whatever the others are.
pub fn classify(industry: Option<&IndustryCode>, inputs: SizeInputs) -> Option<SizeClass> {
    let group = SizeGroup::of(industry?)?;
    let rows = group.thresholds();
    for (level, class) in [SizeClass::Large, SizeClass::Medium, SizeClass::Small].into_iter().enumerate() {
        // Kleene AND over the indicators: false wins over unknown.
        let mut all = Some(true);
        for (indicator, bounds) in rows {
            match inputs.at_least(*indicator, bounds[level]) {
                Some(false) => {
                    all = Some(false);
                    break;
                }
                None => all = None,
                Some(true) => {}
            }
        }
        match all {
            Some(true) => return Some(class),
            Some(false) => continue,
            None => return None,
        }
    }
    Some(SizeClass::Micro)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn industry(code: &str) -> IndustryCode {
        IndustryCode::parse(code).unwrap()
    }

    fn inputs(x: Option<i64>, y: Option<i64>, z: Option<i64>) -> SizeInputs {
        SizeInputs { employees: x, revenue: y.map(Money::from_wan), total_assets: z.map(Money::from_wan) }
    }

    /// For every group and every bound: exactly at the bound gives the class, one unit below
    /// gives the next class down (with the other indicators held at the same class's bound).
    #[test]
    fn every_group_at_every_boundary() {
        let samples = [
            ("A0111", SizeGroup::Agriculture),
            ("B0610", SizeGroup::Industry),
            ("C3911", SizeGroup::Industry),
            ("D4411", SizeGroup::Industry),
            ("E4710", SizeGroup::Construction),
            ("F5111", SizeGroup::Wholesale),
            ("F5211", SizeGroup::Retail),
            ("G5411", SizeGroup::Transport),
            ("G5920", SizeGroup::Warehousing),
            ("G6020", SizeGroup::Postal),
            ("H6110", SizeGroup::Accommodation),
            ("H6210", SizeGroup::Catering),
            ("I6311", SizeGroup::InfoTransmission),
            ("I6410", SizeGroup::InfoTransmission),
            ("I6511", SizeGroup::Software),
            ("K7010", SizeGroup::RealEstateDevelopment),
            ("K7020", SizeGroup::PropertyManagement),
            ("L7111", SizeGroup::LeasingBusiness),
            ("M7310", SizeGroup::Other),
            ("O8010", SizeGroup::Other),
        ];
        let classes = [SizeClass::Large, SizeClass::Medium, SizeClass::Small];
        let below = [SizeClass::Medium, SizeClass::Small, SizeClass::Micro];
        for (code, group) in samples {
            let ind = industry(code);
            assert_eq!(SizeGroup::of(&ind), Some(group), "{code}");
            let rows = group.thresholds();
            for level in 0..3 {
                let at = |drop: Option<usize>| {
                    let mut v = inputs(None, None, None);
                    for (i, (indicator, bounds)) in rows.iter().enumerate() {
                        let b = bounds[level] - i64::from(drop == Some(i));
                        match indicator {
                            Indicator::Employees => v.employees = Some(b),
                            Indicator::Revenue => v.revenue = Some(Money::from_wan(b)),
                            Indicator::Assets => v.total_assets = Some(Money::from_wan(b)),
                        }
                    }
                    v
                };
                assert_eq!(classify(Some(&ind), at(None)), Some(classes[level]), "{code} at level {level}");
                for i in 0..rows.len() {
                    let got = classify(Some(&ind), at(Some(i)));
                    // One indicator one unit below a bound drops to the class whose bound it still meets.
                    let bound_below = rows[i].1[level] - 1;
                    let expected = (level + 1..3)
                        .find(|&l| {
                            rows.iter()
                                .enumerate()
                                .all(|(j, (_, b))| if j == i { bound_below >= b[l] } else { rows[j].1[level] >= b[l] })
                        })
                        .map_or(SizeClass::Micro, |l| classes[l]);
                    assert_eq!(got, Some(expected), "{code} level {level} indicator {i} one below");
                    assert!(got >= Some(below[level]));
                }
            }
        }
    }

    #[test]
    fn micro_needs_only_one_indicator() {
        let c = industry("C3911");
        assert_eq!(classify(Some(&c), inputs(Some(5000), Some(299), None)), Some(SizeClass::Micro));
        assert_eq!(classify(Some(&c), inputs(Some(19), Some(90_000), None)), Some(SizeClass::Micro));
        // Unknown revenue but too few employees for small: micro regardless.
        assert_eq!(classify(Some(&c), inputs(Some(19), None, None)), Some(SizeClass::Micro));
        // Unknown revenue and enough employees for large: cannot tell.
        assert_eq!(classify(Some(&c), inputs(Some(1000), None, None)), None);
        assert_eq!(classify(None, inputs(Some(1000), Some(1), None)), None);
    }

    #[test]
    fn uncovered_industries() {
        for code in ["J6621", "G5311", "S9221", "F"] {
            assert_eq!(SizeGroup::of(&industry(code)), None, "{code}");
        }
        assert_eq!(SizeGroup::of(&industry("K7030")), Some(SizeGroup::Other));
    }
}
