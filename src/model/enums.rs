//! Closed vocabularies with a stable key (stored, used in rules and files) and a Chinese label.

use serde::{Deserialize, Serialize};

/// A closed vocabulary: each value has a key (ASCII, stored) and a Chinese and English label.
pub trait Vocabulary: Sized + Copy + 'static {
    const ALL: &'static [Self];
    fn key(self) -> &'static str;
    fn label(self) -> &'static str;
    fn label_en(self) -> &'static str;

    /// Accepts the key or the Chinese label (as spreadsheets write it), case-insensitively for keys.
    fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.key().eq_ignore_ascii_case(t) || v.label() == t || v.label_en().eq_ignore_ascii_case(t))
    }

    /// `key=label` pairs for messages that list the allowed values.
    fn choices() -> String {
        Self::ALL.iter().map(|v| format!("{}（{}）", v.key(), v.label())).collect::<Vec<_>>().join("、")
    }
}

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $key:literal $(| $alias:literal)?, $zh:literal, $en:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $key $(, alias = $alias)?)] $variant,)+
        }
        impl Vocabulary for $name {
            const ALL: &'static [Self] = &[$($name::$variant,)+];
            fn key(self) -> &'static str {
                match self { $($name::$variant => $key,)+ }
            }
            fn label(self) -> &'static str {
                match self { $($name::$variant => $zh,)+ }
            }
            fn label_en(self) -> &'static str {
                match self { $($name::$variant => $en,)+ }
            }
        }
    };
}
pub(crate) use vocabulary;

vocabulary!(
    /// 主体类型
    EntityType {
        Enterprise = "enterprise", "企业", "Enterprise";
        Individual = "individual", "个体工商户", "Individual business";
        Coop = "coop", "农民专业合作社", "Cooperative";
        Other = "other", "其他", "Other";
    }
);

vocabulary!(
    /// 企业性质
    Ownership {
        State = "state", "国有", "State-owned";
        Private = "private", "民营", "Private";
        Foreign = "foreign", "外资", "Foreign-invested";
        Hmt = "hmt", "港澳台资", "HK/Macao/Taiwan-invested";
        Collective = "collective", "集体", "Collective";
        Mixed = "mixed", "混合所有制", "Mixed ownership";
    }
);

vocabulary!(
    /// 登记状态
    RegStatus {
        Active = "active", "存续", "Active";
        Closed = "closed", "歇业", "Suspended";
        Revoked = "revoked", "吊销", "Revoked";
        Cancelled = "cancelled", "注销", "Cancelled";
    }
);

vocabulary!(
    /// 纳税信用等级
    TaxCredit {
        A = "A", "A级", "Grade A";
        B = "B", "B级", "Grade B";
        M = "M", "M级", "Grade M";
        C = "C", "C级", "Grade C";
        D = "D", "D级", "Grade D";
    }
);

vocabulary!(
    /// 政策层级
    Level {
        National = "national", "国家级", "National";
        Provincial = "provincial", "省级", "Provincial";
        Municipal = "municipal", "市级", "Municipal";
        County = "county", "县（区）级", "County";
    }
);

vocabulary!(
    /// 政策类别
    Category {
        Subsidy = "subsidy", "奖励补助", "Awards & subsidies";
        TaxRelief = "tax_relief", "减税降费", "Tax & fee relief";
        Investment = "investment", "招商引资", "Investment promotion";
        Livelihood = "livelihood", "惠民补贴", "Livelihood subsidies";
        Financing = "financing", "融资支持", "Financing support";
        Talent = "talent", "人才支持", "Talent support";
        Other = "other", "其他", "Other";
    }
);

vocabulary!(
    /// 兑现方式
    Mode {
        Auto = "auto", "免申即享", "Auto (no application)";
        Instant = "instant", "即申即享", "Instant decision";
        Apply = "apply", "申报类", "By application";
        Notice = "notice", "告知类", "Notice only";
    }
);

pub use super::size_class::SizeClass;

impl Vocabulary for SizeClass {
    const ALL: &'static [Self] = &SizeClass::ALL;
    fn key(self) -> &'static str {
        SizeClass::key(self)
    }
    fn label(self) -> &'static str {
        SizeClass::label(self)
    }
    fn label_en(self) -> &'static str {
        match self {
            SizeClass::Large => "Large",
            SizeClass::Medium => "Medium",
            SizeClass::Small => "Small",
            SizeClass::Micro => "Micro",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_and_labels() {
        assert_eq!(EntityType::parse("个体工商户"), Some(EntityType::Individual));
        assert_eq!(EntityType::parse("Enterprise"), Some(EntityType::Enterprise));
        assert_eq!(Mode::parse("免申即享"), Some(Mode::Auto));
        assert_eq!(TaxCredit::parse("a"), Some(TaxCredit::A));
        assert_eq!(Level::parse("乡镇"), None);
        assert!(Category::choices().contains("subsidy（奖励补助）"));
    }
}
