//! Seed data: the demo policies (TOML files in `seed/policies/`, embedded in the binary) and a
//! deterministic generator of realistic entities.

pub mod generator;
pub mod measures;

use rust_embed::RustEmbed;
use serde::Deserialize;

use crate::model::{MeasureSpec, PolicyInput};

#[derive(RustEmbed)]
#[folder = "seed/policies/"]
struct PolicyFiles;

/// One policy file: the document and its measures.
#[derive(Debug, Clone)]
pub struct PolicyFile {
    pub name: String,
    pub policy: PolicyInput,
    pub measures: Vec<MeasureSpec>,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct SeedError {
    pub file: String,
    pub message: String,
}

/// A file holding a single measure in the same shape as a `[[measures]]` entry.
pub fn parse_measure_file(name: &str, text: &str) -> Result<Vec<MeasureSpec>, SeedError> {
    let err = |message: String| SeedError { file: name.to_string(), message };
    let table: toml::Table = toml::from_str(text).map_err(|e| err(e.to_string()))?;
    if table.contains_key("measures") {
        return parse_policy_file(name, text).map(|f| f.measures);
    }
    MeasureSpec::deserialize(toml::Value::Table(table)).map(|m| vec![m]).map_err(|e| err(e.to_string()))
}

/// Parses a policy file: the policy's fields at the top, `[[measures]]` below.
pub fn parse_policy_file(name: &str, text: &str) -> Result<PolicyFile, SeedError> {
    let err = |message: String| SeedError { file: name.to_string(), message };
    let mut table: toml::Table = toml::from_str(text).map_err(|e| err(e.to_string()))?;
    let measures = table.remove("measures").unwrap_or(toml::Value::Array(Vec::new()));
    let policy = PolicyInput::deserialize(toml::Value::Table(table)).map_err(|e| err(e.to_string()))?;
    let toml::Value::Array(list) = measures else {
        return Err(err("`measures` must be an array of tables ([[measures]])".into()));
    };
    let measures = list
        .into_iter()
        .enumerate()
        .map(|(i, m)| MeasureSpec::deserialize(m).map_err(|e| err(format!("measure {}: {e}", i + 1))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PolicyFile { name: name.to_string(), policy, measures })
}

/// Every demo policy shipped in the binary, in file-name order.
pub fn demo_policies() -> Result<Vec<PolicyFile>, SeedError> {
    let mut names: Vec<_> = PolicyFiles::iter().filter(|n| n.ends_with(".toml")).collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| PolicyFiles::get(&name).map(|f| (name, f)))
        .map(|(name, file)| {
            let text = String::from_utf8_lossy(&file.data).into_owned();
            parse_policy_file(&name, &text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tags::{TagDictionary, default_tags};
    use crate::model::{Level, Mode, Vocabulary};
    use crate::portrait::compile::check_measure;

    #[test]
    fn demo_policies_parse_and_validate() {
        let files = demo_policies().unwrap();
        let measures: Vec<_> = files.iter().flat_map(|f| f.measures.iter()).collect();
        assert!(measures.len() >= 30, "at least 30 demo measures, found {}", measures.len());
        for level in Level::ALL {
            assert!(files.iter().any(|f| f.policy.level == *level), "no {} policy", level.key());
        }
        for mode in Mode::ALL {
            assert!(measures.iter().any(|m| m.mode == *mode), "no {} measure", mode.key());
        }
        for f in &files {
            let mut p = f.policy.clone();
            p.validate().unwrap_or_else(|e| panic!("{}: {e:?}", f.name));
            for m in &f.measures {
                let mut m = m.clone();
                m.validate().unwrap_or_else(|e| panic!("{} / {}: {e:?}", f.name, m.name));
                assert!(!m.conditions.is_empty(), "{} has no conditions", m.name);
            }
        }
    }

    #[test]
    fn a_single_measure_file() {
        let text = r#"
name = "研发费用补助"
category = "subsidy"
department = "科技局"
mode = "apply"
amount = "min(rd_expense * 0.1, 100)"
cap = 100
[[conditions]]
label = "科技型中小企业"
expr = 'tags.contains("tech_sme")'
"#;
        let m = parse_measure_file("m.toml", text).unwrap();
        assert_eq!(m[0].cap.map(|c| c.to_string()).as_deref(), Some("100"));
        let bad = parse_measure_file("m.toml", "name = 1").unwrap_err();
        assert!(bad.to_string().starts_with("m.toml:"));
    }

    #[test]
    fn every_demo_measure_type_checks() {
        let tags = TagDictionary::new(default_tags());
        let mut count = 0;
        for file in demo_policies().unwrap() {
            for m in &file.measures {
                if let Err(errors) = check_measure(m, &tags) {
                    let lines: Vec<String> = errors.iter().map(|e| format!("{} «{}»", e.en(), e.source)).collect();
                    panic!("{} / {}:\n{}", file.name, m.name, lines.join("\n"));
                }
                let rules = check_measure(m, &tags).unwrap();
                assert!(rules.warnings.is_empty(), "{}: {:?}", m.name, rules.warnings);
                count += 1;
            }
        }
        assert!(count >= 30);
    }
}
