//! The prepared store of a load run: the demo instance plus the measures and the accounts the
//! simulated users sign in as; made once and reused while it fits the plan.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::LoadPlan;
use crate::auth::demo::DEMO_PASSWORD;
use crate::auth::{Auth, NewUser, SessionPolicy};
use crate::bench::{Error, err};
use crate::model::{Capacity, CreditCode, Role, Who};
use crate::service::{Config, Service};
use crate::store::Store;
use crate::store::prelude::*;

const REVIEW_DEPT: &str = "哈尔滨市人力资源和社会保障局";
const STAFF_DEPT: &str = "哈尔滨市政务服务中心";
/// Bumped whenever what `prepare` writes changes, so that an older prepared store is not reused.
const PREPARED_VERSION: u32 = 1;

/// The accounts the simulated users sign in as, written beside the prepared store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Accounts {
    pub(super) version: u32,
    pub(super) entities: u64,
    /// (username, the credit code it is bound to)
    pub(super) enterprises: Vec<(String, String)>,
    pub(super) reviewers: Vec<String>,
    pub(super) staff: Vec<String>,
    /// A token of a system administrator for the API reads of another system.
    pub(super) token: String,
    /// The measures enterprises apply for and reviewers decide.
    pub(super) measures: Vec<u64>,
}

fn bench_measure(name: &str) -> Value {
    json!({
        "name": name, "category": "subsidy", "department": REVIEW_DEPT, "mode": "apply",
        "amount": "5", "cap": 5,
        "window_start": "2020-01-01", "window_end": "2099-12-31",
        "materials": ["营业执照复印件", "申请表"],
        "form_fields": [{"key": "contact", "label": "联系人", "kind": "text", "required": true}],
        "review_stages": [{"name": "受理", "days": 2}, {"name": "审定", "days": 5}],
        "contact": "0451-84600000"
    })
}

/// The demo instance as `serve --demo` makes it, plus what the load needs: three measures
/// open to every entity, an enterprise account per simulated user bound to its own entity of
/// Harbin, reviewers and staff, and a token. Passwords are hashed at the server's parameters.
fn prepare(dir: &Path, plan: &LoadPlan, log: &mut dyn Write) -> Result<Accounts, Error> {
    let _ = writeln!(log, "preparing the store in {} …", dir.display());
    let _ = std::fs::remove_dir_all(dir);
    let svc = Service::new(Store::open(dir).map_err(err)?, Config::default());
    let who = Who::system("bench");
    svc.demo_setup(plan.entities, 1).map_err(err)?;
    svc.matching_init().map_err(err)?;
    let auth = Auth::new(Arc::clone(&svc.store), false, SessionPolicy::default()).map_err(err)?;
    auth.demo_accounts().map_err(err)?;
    let made = svc.demo_cases().map_err(err)?;
    for code in &made.also_for {
        auth.binding_grant(&Who::system("demo"), "qiye", code, Capacity::Finance).map_err(err)?;
    }
    let policy = json!({
        "title": "关于支持企业稳岗扩岗的若干措施", "doc_number": "哈人社规〔2026〕3号", "level": "municipal",
        "department": REVIEW_DEPT, "issue_date": "2026-01-01", "valid_from": null, "valid_until": null,
        "text": "第一条 对吸纳就业的企业给予补助。", "interpretation": "", "tags": []
    });
    let (_, measures) = crate::bench::publish_policy(
        &svc,
        &who,
        policy,
        ["稳岗扩岗补助", "以工代训补贴", "见习岗位补贴"].map(bench_measure),
    )?;
    svc.push_pending().map_err(err)?;

    let wanted = plan.users.max(10) as usize;
    let bound: HashSet<String> = {
        let tx = svc.store.read().map_err(err)?;
        let qiye = tx.user_by_name("qiye").map_err(err)?;
        match qiye {
            Some(u) => tx.bindings_of_user(u.id).map_err(err)?.into_iter().map(|b| b.credit_code).collect(),
            None => HashSet::new(),
        }
    };
    let codes: Vec<CreditCode> = svc
        .store
        .read()
        .map_err(err)?
        .scan_entities(0, wanted, usize::MAX, |e| {
            e.region.as_ref().is_some_and(|r| r.as_str().starts_with("2301"))
                && e.warnings.is_empty()
                && !bound.contains(e.credit_code.as_str())
        })
        .map_err(err)?
        .entities
        .into_iter()
        .map(|e| e.credit_code)
        .collect();
    if codes.len() < wanted {
        return Err(format!("only {} entities of Harbin for {wanted} enterprise accounts", codes.len()));
    }
    let mut enterprises = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let name = format!("lq{i:04}");
        auth.user_create(&who, NewUser::new(&name, Role::Enterprise).named("压测企业用户"), Some(DEMO_PASSWORD))
            .map_err(err)?;
        auth.binding_grant(&who, &name, code, Capacity::LegalRep).map_err(err)?;
        enterprises.push((name, code.to_string()));
        if i % 50 == 49 {
            let _ = writeln!(log, "  {} enterprise accounts", i + 1);
        }
    }
    let helpers = (plan.users as usize / 10).max(2);
    let staff_accounts = |prefix: &str, role: Role, dept: &str| -> Result<Vec<String>, Error> {
        (0..helpers)
            .map(|i| {
                let name = format!("{prefix}{i:03}");
                let new = NewUser::new(&name, role).named("压测工作人员").in_department(dept);
                auth.user_create(&who, new, Some(DEMO_PASSWORD)).map_err(err)?;
                Ok(name)
            })
            .collect()
    };
    let reviewers = staff_accounts("ls", Role::Reviewer, REVIEW_DEPT)?;
    let staff = staff_accounts("lz", Role::Specialist, STAFF_DEPT)?;
    auth.user_create(&who, NewUser::new("loadapi", Role::Sysadmin).named("数据对接"), Some(DEMO_PASSWORD))
        .map_err(err)?;
    let scopes = crate::auth::permissions::scopes_for(Role::Sysadmin);
    let token = auth.token_create(&who, "loadapi", "压测数据对接", &scopes, None).map_err(err)?.1;
    Ok(Accounts { version: PREPARED_VERSION, entities: plan.entities, enterprises, reviewers, staff, token, measures })
}

/// The prepared store for this plan: reused when it fits, else made again.
pub(super) fn prepared(plan: &LoadPlan, log: &mut dyn Write) -> Result<(PathBuf, Accounts), Error> {
    let dir = plan.dir.join("prepared");
    let file = plan.dir.join("prepared-accounts.json");
    let existing: Option<Accounts> = std::fs::read(&file).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok());
    if let Some(a) = existing.filter(|a| {
        a.version == PREPARED_VERSION
            && a.entities == plan.entities
            && a.enterprises.len() >= plan.users as usize
            && a.reviewers.len() >= (plan.users as usize / 10).max(2)
            && dir.join(crate::store::FILE_NAME).exists()
    }) {
        let _ = writeln!(log, "reusing the prepared store in {}", dir.display());
        return Ok((dir, a));
    }
    let _ = std::fs::remove_file(&file);
    let accounts = prepare(&dir, plan, log)?;
    std::fs::write(&file, serde_json::to_vec(&accounts).map_err(err)?).map_err(err)?;
    Ok((dir, accounts))
}
