//! Start-up checks of stored data that later requests rely on: every stored measure version's
//! rules are checked again (with the parser's limits), so that a record written by an older
//! program, or by hand, is found and named at start rather than by the first person who opens it.

use super::{Result, Service};
use crate::portrait::compile::check_measure;
use crate::store::prelude::*;

/// A stored measure version whose rules no longer check.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BadRules {
    pub measure_id: u64,
    pub version: u32,
    pub published: bool,
    pub problem: String,
}

impl Service {
    /// Checks the rules of every stored measure version. Published versions that fail are left
    /// out of matching and applications (see `matching_build`); drafts show their errors in the
    /// editor and cannot be published until mended.
    pub fn rules_integrity(&self) -> Result<Vec<BadRules>> {
        let tags = self.tag_dictionary()?;
        let tx = self.store.read()?;
        let mut bad = Vec::new();
        for m in tx.measures()? {
            for v in tx.versions(m.id)? {
                if let Err(errors) = check_measure(&v.spec, &tags) {
                    let problem = errors.first().map(|e| e.zh()).unwrap_or_default();
                    bad.push(BadRules {
                        measure_id: m.id,
                        version: v.version,
                        published: m.published == Some(v.version),
                        problem,
                    });
                }
            }
        }
        for b in &bad {
            tracing::warn!(
                measure = b.measure_id,
                version = b.version,
                published = b.published,
                "stored rules do not check: {}",
                b.problem
            );
        }
        Ok(bad)
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{MeasureSpec, Who};
    use crate::service::{Config, Service};
    use crate::store::Store;
    use crate::store::prelude::*;

    /// A draft whose expression is far too deep, written straight into the store (as an older
    /// program could have): the start-up check names it, and nothing on the way overflows.
    #[test]
    fn a_poisoned_stored_measure_is_found_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let svc = Service::new(Store::open(dir.path()).unwrap(), Config::default());
        let who = Who::system("test");
        svc.init_reference(&who).unwrap();
        let policy: crate::model::PolicyInput = serde_json::from_value(serde_json::json!({
            "title": "测试政策", "doc_number": "测试〔2026〕1号", "level": "county", "department": "测试局",
            "issue_date": "2026-01-01", "valid_from": null, "valid_until": null, "text": "", "interpretation": "", "tags": []
        }))
        .unwrap();
        let policy = svc.policy_create(&who, policy).unwrap();
        let spec: MeasureSpec = serde_json::from_value(serde_json::json!({
            "name": "事项", "department": "测试局", "mode": "apply",
            "conditions": [{"label": "研发", "expr": "rd_ratio >= 3"}]
        }))
        .unwrap();
        let v = svc.measure_create(&who, policy.id, spec).unwrap();
        let tx = svc.store.write().unwrap();
        let mut stored = tx.version(v.measure_id, v.version).unwrap().unwrap();
        stored.spec.conditions[0].expr = format!("rd_ratio{} > 0", "+1".repeat(5000));
        tx.put_version(&stored).unwrap();
        tx.commit().unwrap();
        let bad = svc.rules_integrity().unwrap();
        assert_eq!(bad.len(), 1);
        assert!(bad[0].problem.contains("过长"), "{:?}", bad[0]);
        assert!(svc.rules_report(&stored.spec).unwrap().is_err());
    }
}
