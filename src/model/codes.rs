//! The three codes of the entity library: unified social credit code (GB 32100-2015),
//! region code (GB/T 2260) and industry code (GB/T 4754-2017).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::reference;

const CREDIT_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// A unified social credit code: 18 characters of the GB 32100 alphabet. The check character
/// is verified separately, because some early legal codes fail it (a warning, not a rejection).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CreditCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("统一社会信用代码「{0}」应为 18 位，实际为 {1} 位")]
    CreditLength(String, usize),
    #[error("统一社会信用代码「{0}」第 {1} 位「{2}」不是有效字符（只能是数字和除 I、O、S、V、Z 以外的大写字母）")]
    CreditChar(String, usize, char),
    #[error("统一社会信用代码「{0}」第 3–8 位应为行政区划代码数字")]
    CreditRegion(String),
    #[error("行政区划代码「{0}」应为 6 位数字")]
    RegionFormat(String),
    #[error("行政区划代码「{0}」不在 GB/T 2260 行政区划代码表中")]
    RegionUnknown(String),
    #[error("行业代码「{0}」格式不对，应为门类字母加 0–4 位数字，例如 C3911")]
    IndustryFormat(String),
    #[error("行业代码「{0}」不在 GB/T 4754-2017 国民经济行业分类中")]
    IndustryUnknown(String),
}

/// The value of one credit-code character in the 31-character alphabet.
fn credit_value(c: u8) -> Option<u32> {
    CREDIT_ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The check character the first 17 characters call for.
pub fn credit_check_char(first17: &[u8]) -> Option<char> {
    let mut sum = 0u32;
    for (i, &c) in first17.iter().take(17).enumerate() {
        sum += credit_value(c)? * CREDIT_WEIGHTS[i];
    }
    let check = (31 - sum % 31) % 31;
    Some(char::from(CREDIT_ALPHABET[check as usize]))
}

impl AsRef<str> for CreditCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl CreditCode {
    /// Checks length and alphabet (lower case is accepted and upper-cased).
    pub fn parse(text: &str) -> Result<CreditCode, CodeError> {
        let code = CreditCode::normalize(text);
        let n = code.chars().count();
        if n != 18 {
            return Err(CodeError::CreditLength(text.trim().to_string(), n));
        }
        for (i, c) in code.chars().enumerate() {
            if !c.is_ascii() || credit_value(c as u8).is_none() {
                return Err(CodeError::CreditChar(code.clone(), i + 1, c));
            }
        }
        if !code.as_bytes()[2..8].iter().all(u8::is_ascii_digit) {
            return Err(CodeError::CreditRegion(code));
        }
        Ok(CreditCode(code))
    }

    /// Parses typed text; text that is no credit code answers as `miss` says for the code in its
    /// normalised form — where a code comes in from a URL or a form, a code that cannot exist
    /// answers exactly as one that does not.
    pub fn parse_or<E>(text: &str, miss: impl FnOnce(&str) -> E) -> Result<CreditCode, E> {
        CreditCode::parse(text).map_err(|_| miss(&CreditCode::normalize(text)))
    }

    /// Typed text as it is read before it is checked: trimmed and upper-cased. Text that is no
    /// credit code is compared, and echoed back in a message, in this form.
    pub fn normalize(text: &str) -> String {
        text.trim().to_ascii_uppercase()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the 18th character matches GB 32100's check computation.
    pub fn check_ok(&self) -> bool {
        let b = self.0.as_bytes();
        credit_check_char(&b[..17]) == Some(char::from(b[17]))
    }

    /// The warning kept on a record whose check character fails, if any.
    pub fn check_warning(&self) -> Option<String> {
        if self.check_ok() {
            return None;
        }
        let expected = credit_check_char(&self.0.as_bytes()[..17]).unwrap_or('?');
        Some(format!(
            "校验码不符：按 GB 32100-2015 计算第 18 位应为「{expected}」，实际为「{}」（部分早期合法代码如此，已保留并标注）",
            &self.0[17..]
        ))
    }

    /// Completes 17 characters with the correct check character (used by the generator).
    pub fn with_check(first17: &str) -> Option<CreditCode> {
        let check = credit_check_char(first17.as_bytes())?;
        CreditCode::parse(&format!("{first17}{check}")).ok()
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A GB/T 2260 six-digit region code known to the reference table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionCode(String);

impl RegionCode {
    pub fn parse(text: &str) -> Result<RegionCode, CodeError> {
        let t = text.trim();
        if t.len() != 6 || !t.bytes().all(|c| c.is_ascii_digit()) {
            return Err(CodeError::RegionFormat(t.to_string()));
        }
        if reference::region(t).is_none() {
            return Err(CodeError::RegionUnknown(t.to_string()));
        }
        Ok(RegionCode(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Hierarchical by digit pairs: `230125` is within `23`, `2301`, `230125`, and `230000`.
    pub fn within(&self, prefix: &str) -> bool {
        self.0.starts_with(RegionCode::prefix(prefix))
    }

    /// The digits that name a region as a prefix of the codes inside it: trailing `00` pairs
    /// stand for "the whole", so `230100` (哈尔滨市) is the prefix `2301`. One meaning of
    /// "within a region" for checks and for index walks alike.
    pub fn prefix(code: &str) -> &str {
        let mut p = code.trim();
        while p.len() > 2 && p.len() % 2 == 0 && p.ends_with("00") {
            p = &p[..p.len() - 2];
        }
        p
    }
}

impl PartialEq<&str> for RegionCode {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A GB/T 4754-2017 code: a section letter, optionally followed by 2, 3 or 4 digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IndustryCode(String);

impl IndustryCode {
    pub fn parse(text: &str) -> Result<IndustryCode, CodeError> {
        let t = text.trim().to_ascii_uppercase();
        let mut chars = t.chars();
        let letter_ok = chars.next().is_some_and(|c| c.is_ascii_uppercase());
        let digits: String = chars.collect();
        if !letter_ok || digits.len() > 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(CodeError::IndustryFormat(text.trim().to_string()));
        }
        if reference::industry(&t).is_none() {
            return Err(CodeError::IndustryUnknown(t));
        }
        Ok(IndustryCode(t))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The section letter, e.g. `C`.
    pub fn section(&self) -> &str {
        &self.0[..1]
    }

    /// Hierarchical by prefix: `C` ⊃ `C39` ⊃ `C391` ⊃ `C3911`.
    pub fn within(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }
}

impl fmt::Display for IndustryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        // Stored codes were validated when written; reading them back must not depend on
        // today's reference table, so decoding keeps the text as it is.
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Self(String::deserialize(d)?))
            }
        }
    };
}
string_serde!(CreditCode);
string_serde!(RegionCode);
string_serde!(IndustryCode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_code_check_character() {
        // The sample code printed in GB 32100-2015.
        let code = CreditCode::parse("91350100M000100Y43").unwrap();
        assert!(code.check_ok());
        assert_eq!(code.check_warning(), None);
        let bad = CreditCode::parse("91350100M000100Y44").unwrap();
        assert!(!bad.check_ok());
        assert!(bad.check_warning().unwrap().contains("「3」"));
        assert_eq!(CreditCode::with_check("91350100M000100Y4").unwrap().as_str(), "91350100M000100Y43");
    }

    #[test]
    fn credit_code_format() {
        assert!(matches!(CreditCode::parse("9135"), Err(CodeError::CreditLength(_, 4))));
        assert!(matches!(CreditCode::parse("91350100M00010OY43"), Err(CodeError::CreditChar(_, 15, 'O'))));
        assert!(matches!(CreditCode::parse("913A0100M000100Y43"), Err(CodeError::CreditRegion(_))));
        assert_eq!(CreditCode::parse(" 91350100m000100y43 ").unwrap().as_str(), "91350100M000100Y43");
    }

    #[test]
    fn region_codes() {
        let binxian = RegionCode::parse("230125").unwrap();
        assert!(binxian.within("23") && binxian.within("2301") && binxian.within("230125"));
        assert!(binxian.within("230100") && binxian.within("230000"));
        assert!(!binxian.within("2302"));
        assert!(RegionCode::parse("230100").is_ok(), "a city's own code");
        assert!(matches!(RegionCode::parse("239999"), Err(CodeError::RegionUnknown(_))));
        assert!(matches!(RegionCode::parse("23012"), Err(CodeError::RegionFormat(_))));
    }

    #[test]
    fn industry_codes() {
        let c = IndustryCode::parse("c3911").unwrap();
        assert_eq!(c.as_str(), "C3911");
        assert!(c.within("C") && c.within("C39") && c.within("C391") && !c.within("C38"));
        assert_eq!(c.section(), "C");
        assert!(matches!(IndustryCode::parse("C9999"), Err(CodeError::IndustryUnknown(_))));
        assert!(matches!(IndustryCode::parse("39"), Err(CodeError::IndustryFormat(_))));
        assert!(IndustryCode::parse("G5910").is_ok());
    }
}
