//! Money at rest: integer fen (分). Policy texts and rules speak 万元; totals never use floats.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount in fen. 1 元 = 100 分; 1 万元 = 1,000,000 分.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(pub i64);

pub const FEN_PER_YUAN: i64 = 100;
pub const FEN_PER_WAN: i64 = 1_000_000;

/// The unit a money text is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneyUnit {
    Wan,
    Yuan,
}

impl MoneyUnit {
    fn fen(self) -> i64 {
        match self {
            MoneyUnit::Wan => FEN_PER_WAN,
            MoneyUnit::Yuan => FEN_PER_YUAN,
        }
    }
    fn decimals(self) -> usize {
        match self {
            MoneyUnit::Wan => 6,
            MoneyUnit::Yuan => 2,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            MoneyUnit::Wan => "万元",
            MoneyUnit::Yuan => "元",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("金额「{0}」不是数字，请填写如 123.45 的数值（不带单位和千分位）")]
    NotANumber(String),
    #[error("金额「{0}」超出{1}的精度：万元最多 6 位小数，元最多 2 位小数")]
    TooPrecise(String, &'static str),
    #[error("金额「{0}」过大")]
    TooLarge(String),
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub fn fen(self) -> i64 {
        self.0
    }

    /// Parses a decimal text in the given unit, exactly (no floating point).
    pub fn parse(text: &str, unit: MoneyUnit) -> Result<Money, MoneyError> {
        let t = text.trim();
        let nan = || MoneyError::NotANumber(text.to_string());
        let (neg, body) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() && frac.is_empty() {
            return Err(nan());
        }
        if !int.bytes().all(|c| c.is_ascii_digit()) || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return Err(nan());
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > unit.decimals() {
            return Err(MoneyError::TooPrecise(text.to_string(), unit.label()));
        }
        let big = || MoneyError::TooLarge(text.to_string());
        let int_val: i64 = if int.is_empty() { 0 } else { int.parse().map_err(|_| big())? };
        let mut frac_val: i64 = 0;
        let mut scale = unit.fen();
        for c in frac.bytes() {
            scale /= 10;
            frac_val += i64::from(c - b'0') * scale;
        }
        let fen = int_val.checked_mul(unit.fen()).and_then(|v| v.checked_add(frac_val)).ok_or_else(big)?;
        Ok(Money(if neg { -fen } else { fen }))
    }

    /// From a number of 万元 given as a float (seed files, JSON): the decimal it was written as
    /// (its shortest round-trip text), rounded half up to the fen.
    pub fn from_wan_f64(wan: f64) -> Option<Money> {
        super::Dec::from_f64(wan)?.to_fen().map(Money)
    }

    pub fn from_wan(wan: i64) -> Money {
        Money(wan.saturating_mul(FEN_PER_WAN))
    }

    /// The amount in 万元 as a float, for rules and charts only — never for sums.
    pub fn as_wan_f64(self) -> f64 {
        self.0 as f64 / FEN_PER_WAN as f64
    }

    /// Exact decimal text in the unit, trailing zeros trimmed: `123.45`, `0.000001`, `12`.
    pub fn format(self, unit: MoneyUnit) -> String {
        let per = unit.fen();
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let int = abs / per as u64;
        let frac = abs % per as u64;
        if frac == 0 {
            return format!("{sign}{int}");
        }
        let digits = format!("{frac:0width$}", width = unit.decimals());
        format!("{sign}{int}.{}", digits.trim_end_matches('0'))
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }
}

impl fmt::Display for Money {
    /// In 万元, the unit policy texts use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format(MoneyUnit::Wan))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wan_and_yuan_exactly() {
        assert_eq!(Money::parse("123.45", MoneyUnit::Wan), Ok(Money(123_450_000)));
        assert_eq!(Money::parse("0.000001", MoneyUnit::Wan), Ok(Money(1)));
        assert_eq!(Money::parse("1.5", MoneyUnit::Yuan), Ok(Money(150)));
        assert_eq!(Money::parse(" 12 ", MoneyUnit::Wan), Ok(Money(12_000_000)));
        assert_eq!(Money::parse(".5", MoneyUnit::Wan), Ok(Money(500_000)));
        assert_eq!(Money::parse("-3", MoneyUnit::Yuan), Ok(Money(-300)));
        assert!(matches!(Money::parse("0.001", MoneyUnit::Yuan), Err(MoneyError::TooPrecise(..))));
        for bad in ["", "abc", "1,000", "1e5", "12万", "."] {
            assert!(Money::parse(bad, MoneyUnit::Wan).is_err(), "{bad}");
        }
        assert!(matches!(Money::parse("99999999999999999", MoneyUnit::Wan), Err(MoneyError::TooLarge(_))));
    }

    #[test]
    fn formats_round_trip() {
        for fen in [0, 1, 99, 100, 1_000_000, 123_450_000, -5_000_001, 7_000_000_000_001] {
            let m = Money(fen);
            assert_eq!(Money::parse(&m.format(MoneyUnit::Wan), MoneyUnit::Wan), Ok(m));
        }
        assert_eq!(Money(123_450_000).to_string(), "123.45");
        assert_eq!(Money(150).format(MoneyUnit::Yuan), "1.5");
    }

    #[test]
    fn float_conversion_rounds_to_fen() {
        assert_eq!(Money::from_wan_f64(0.1), Some(Money(100_000)));
        assert_eq!(Money::from_wan_f64(1521.4795), Some(Money(1_521_479_500)));
        assert_eq!(Money::from_wan_f64(0.0000005), Some(Money(1)), "half a fen rounds up");
        assert_eq!(Money::from_wan_f64(f64::NAN), None);
    }
}

/// Serde for `Option<Money>` written as a number of 万元 (TOML seed files, JSON API, and the
/// stored measure spec). Reading accepts a number or a decimal string.
pub mod wan_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{Money, MoneyUnit};

    pub fn serialize<S: Serializer>(v: &Option<Money>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(m) => s.serialize_f64(m.as_wan_f64()),
            None => s.serialize_none(),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(i64),
        Float(f64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Money>, D::Error> {
        use serde::de::Error;
        Ok(match Option::<Raw>::deserialize(d)? {
            None => None,
            Some(Raw::Int(i)) => Some(Money::from_wan(i)),
            Some(Raw::Float(f)) => Some(Money::from_wan_f64(f).ok_or_else(|| D::Error::custom("金额无效"))?),
            Some(Raw::Text(t)) if t.trim().is_empty() => None,
            Some(Raw::Text(t)) => Some(Money::parse(&t, MoneyUnit::Wan).map_err(D::Error::custom)?),
        })
    }
}
