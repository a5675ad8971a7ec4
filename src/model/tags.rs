//! Qualification tags (资质标签): an editable dictionary, and the tags an entity holds with
//! their since/until dates.

use serde::{Deserialize, Serialize};

use super::date::Date;

/// One entry of the tag dictionary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagDef {
    pub key: String,
    pub label: String,
    #[serde(default)]
    pub label_en: String,
    #[serde(default)]
    pub description: String,
}

/// The tags that ship with huiqi (DESIGN §3); administrators may add more.
pub fn default_tags() -> Vec<TagDef> {
    [
        ("high_tech", "高新技术企业", "High-tech enterprise"),
        ("tech_sme", "科技型中小企业", "Tech-based SME"),
        ("innovative_sme", "创新型中小企业", "Innovative SME"),
        ("srdi_sme", "专精特新中小企业", "Specialised & sophisticated SME"),
        ("little_giant", "专精特新\"小巨人\"", "\"Little giant\""),
        ("above_scale", "规上企业", "Above designated size"),
        ("gazelle", "瞪羚企业", "Gazelle enterprise"),
        ("agri_leader", "农业产业化龙头企业", "Leading agricultural enterprise"),
        ("listed", "上市企业", "Listed company"),
        ("foreign_trade", "外贸企业", "Foreign-trade enterprise"),
    ]
    .into_iter()
    .map(|(key, label, en)| TagDef {
        key: key.into(),
        label: label.into(),
        label_en: en.into(),
        description: String::new(),
    })
    .collect()
}

/// The dictionary as loaded from the store.
#[derive(Debug, Clone, Default)]
pub struct TagDictionary {
    pub tags: Vec<TagDef>,
}

impl TagDictionary {
    pub fn new(tags: Vec<TagDef>) -> TagDictionary {
        TagDictionary { tags }
    }

    /// Finds a tag by key or Chinese label.
    pub fn resolve(&self, text: &str) -> Option<&TagDef> {
        let t = text.trim();
        self.tags.iter().find(|d| d.key == t || d.label == t)
    }

    pub fn label(&self, key: &str) -> String {
        self.tags.iter().find(|d| d.key == key).map_or_else(|| key.to_string(), |d| d.label.clone())
    }

    /// A tag key is lower-case ASCII letters, digits and `_`, starting with a letter.
    pub fn valid_key(key: &str) -> bool {
        key.len() <= 40
            && key.starts_with(|c: char| c.is_ascii_lowercase())
            && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }
}

/// A tag an entity holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagHolding {
    pub key: String,
    #[serde(default)]
    pub since: Option<Date>,
    #[serde(default)]
    pub until: Option<Date>,
}

/// Whether a qualification with these dates is in force on `day` (an unknown date does not
/// limit it): granted on or before `day`, not expired before it.
pub fn in_force(since: Option<Date>, until: Option<Date>, day: Date) -> bool {
    since.is_none_or(|s| s <= day) && until.is_none_or(|u| day <= u)
}

impl TagHolding {
    /// Whether the qualification is in force on `day`.
    pub fn in_force(&self, day: Date) -> bool {
        in_force(self.since, self.until, day)
    }

    /// `key`, `key@since`, `key@since~until` or `key@~until`.
    pub fn to_text(&self) -> String {
        match (self.since, self.until) {
            (None, None) => self.key.clone(),
            (Some(s), None) => format!("{}@{s}", self.key),
            (s, Some(u)) => format!("{}@{}~{u}", self.key, s.map(|d| d.to_string()).unwrap_or_default()),
        }
    }

    /// Reads a `;`-separated list (also `；` and `,`), keys or Chinese labels, each optionally
    /// with `@since` and `~until` dates. A since-date may not lie in the future.
    pub fn parse_list(text: &str, dict: &TagDictionary, today: Date) -> Result<Vec<TagHolding>, String> {
        let mut out: Vec<TagHolding> = Vec::new();
        for item in text.split([';', '；', ',', '，']).map(str::trim).filter(|s| !s.is_empty()) {
            let (name, dates) = item.split_once('@').unwrap_or((item, ""));
            let def = dict.resolve(name).ok_or_else(|| {
                format!(
                    "资质标签「{}」不在标签字典中，可用：{}",
                    name.trim(),
                    dict.tags.iter().map(|d| format!("{}（{}）", d.key, d.label)).collect::<Vec<_>>().join("、")
                )
            })?;
            let (since_text, until_text) = dates.split_once('~').unwrap_or((dates, ""));
            let date = |s: &str| -> Result<Option<Date>, String> {
                let s = s.trim();
                if s.is_empty() {
                    Ok(None)
                } else {
                    Date::parse(s).map(Some).map_err(|e| format!("标签「{}」的{e}", def.key))
                }
            };
            let (since, until) = (date(since_text)?, date(until_text)?);
            if let Some(s) = since
                && s > today
            {
                return Err(format!("标签「{}」的认定日期 {s} 晚于今天，不能是将来的日期", def.key));
            }
            if let (Some(s), Some(u)) = (since, until)
                && u < s
            {
                return Err(format!("标签「{}」的有效期止 {u} 早于认定日期 {s}", def.key));
            }
            if out.iter().any(|h| h.key == def.key) {
                return Err(format!("资质标签「{}」重复出现", def.key));
            }
            out.push(TagHolding { key: def.key.clone(), since, until });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_tag_lists() {
        let dict = TagDictionary::new(default_tags());
        let today = Date::parse("2026-11-27").unwrap();
        let list =
            TagHolding::parse_list("tech_sme; 高新技术企业@2024-05-01~2027-04-30；listed@2020-01-01", &dict, today)
                .unwrap();
        let text: Vec<_> = list.iter().map(TagHolding::to_text).collect();
        assert_eq!(text, ["high_tech@2024-05-01~2027-04-30", "listed@2020-01-01", "tech_sme"]);
        let again = TagHolding::parse_list(&text.join(";"), &dict, today).unwrap();
        assert_eq!(again, list);
        assert!(TagHolding::parse_list("unicorn", &dict, today).unwrap_err().contains("不在标签字典"));
        assert!(TagHolding::parse_list("listed@2030-01-01", &dict, today).unwrap_err().contains("将来"));
        assert!(TagHolding::parse_list("listed;listed", &dict, today).unwrap_err().contains("重复"));
        assert_eq!(TagHolding::parse_list(" ; ", &dict, today), Ok(vec![]));
    }
}
