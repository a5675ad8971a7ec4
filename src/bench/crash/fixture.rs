//! The store every API trial starts from: accounts with tokens, entities bound to the
//! enterprise, a policy with three measures open for applications.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::auth::{Auth, NewUser, SessionPolicy};
use crate::bench::{Error, err};
use crate::model::{Capacity, CreditCode, Role, Who};
use crate::service::{Config, Service};
use crate::store::Store;

pub(super) const DEPT: &str = "哈尔滨市科学技术局";
const PASSWORD: &str = "Crash-Trials-2026";
const CASE_ENTITIES: u64 = 100;

/// The prepared store every API trial starts from, and the tokens of its accounts.
pub(super) struct Fixture {
    pub(super) template: PathBuf,
    pub(super) admin: String,
    pub(super) publisher: String,
    pub(super) approver: String,
    pub(super) reviewer: String,
    pub(super) enterprise: String,
    pub(super) policy: u64,
    pub(super) measures: Vec<u64>,
    pub(super) codes: Vec<String>,
}

fn apply_measure(name: &str) -> Value {
    json!({
        "name": name, "category": "subsidy", "department": DEPT, "mode": "apply",
        "amount": "min(rd_expense * 0.1, 30)", "cap": 30,
        "window_start": "2020-01-01", "window_end": "2099-12-31",
        "conditions": [{"label": "无失信记录", "expr": "!dishonest"}],
        "materials": ["营业执照复印件"],
        "form_fields": [{"key": "contact", "label": "联系人", "kind": "text", "required": true}],
        "review_stages": [{"name": "受理", "days": 2}, {"name": "审定", "days": 5}],
        "contact": "0451-86612345"
    })
}

impl Fixture {
    /// A small store written through the library: a department with two publishers, a
    /// reviewer, an administrator and an enterprise bound to 100 entities; three published
    /// measures open for applications; a token for each account.
    pub(super) fn prepare(template: &Path) -> Result<Fixture, Error> {
        let _ = std::fs::remove_dir_all(template);
        let svc = Service::new(
            Store::open(template).map_err(err)?,
            Config { fast_password_hashing: true, ..Config::default() },
        );
        let who = Who::system("bench");
        svc.init_reference(&who).map_err(err)?;
        let auth = Auth::new(Arc::clone(&svc.store), true, SessionPolicy::default()).map_err(err)?;
        auth.department_put(&who, DEPT, "230100").map_err(err)?;
        let accounts = [
            ("admin", Role::Sysadmin),
            ("keji", Role::Publisher),
            ("keji2", Role::Publisher),
            ("shenhe", Role::Reviewer),
            ("qiye", Role::Enterprise),
        ];
        let mut tokens = Vec::new();
        for (name, role) in accounts {
            let mut new = NewUser::new(name, role).named("试验账号");
            if matches!(role, Role::Publisher | Role::Reviewer) {
                new = new.in_department(DEPT);
            }
            auth.user_create(&who, new, Some(PASSWORD)).map_err(err)?;
            let scopes = crate::auth::permissions::scopes_for(role);
            tokens.push(auth.token_create(&who, name, "crash", &scopes, None).map_err(err)?.1);
        }
        let mut codes = Vec::new();
        for n in 0..CASE_ENTITIES {
            let credit_code = CreditCode::with_check(&format!("91230100MB{n:07}")).ok_or("no credit code")?;
            let code = credit_code.to_string();
            let pairs: Vec<(String, String)> = [
                ("credit_code", code.as_str()),
                ("name", &format!("试验企业{n}有限公司")),
                ("region", "230102"),
                ("industry", "C3911"),
                ("employees", "80"),
                ("revenue", "2000"),
                ("rd_expense", "200"),
                ("dishonest", "false"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let patch = svc.entity_patch_from_texts(&pairs, false).map_err(err)?;
            svc.entity_upsert(&who, &patch).map_err(err)?;
            auth.binding_grant(&who, "qiye", &credit_code, Capacity::LegalRep).map_err(err)?;
            codes.push(code);
        }
        let policy = json!({
            "title": "科技创新若干措施（试验）", "doc_number": "哈科规〔2026〕9号", "level": "municipal",
            "department": DEPT, "issue_date": "2026-01-01", "valid_from": null, "valid_until": null,
            "text": "第一条", "interpretation": "", "tags": []
        });
        let (policy, measures) = crate::bench::publish_policy(
            &svc,
            &who,
            policy,
            ["研发费用补助", "首台套奖励", "创新券"].map(apply_measure),
        )?;
        let [admin, publisher, approver, reviewer, enterprise] =
            <[String; 5]>::try_from(tokens).map_err(|_| "five tokens expected".to_string())?;
        Ok(Fixture {
            template: template.to_path_buf(),
            admin,
            publisher,
            approver,
            reviewer,
            enterprise,
            policy,
            measures,
            codes,
        })
    }
}
