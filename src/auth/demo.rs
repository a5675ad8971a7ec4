//! The demo's departments and accounts (`serve --demo`): one of every role, with the same
//! password, and an enterprise account bound to the first generated entity.

use super::accounts::NewUser;
use super::{Auth, Result};
use crate::model::audit::action;
use crate::model::{Binding, BindingMethod, BindingStatus, Capacity, CreditCode, Role, Who};
use crate::store::prelude::*;

pub const DEMO_PASSWORD: &str = "Huiqi-Demo-2026";
/// The region the demo departments serve (Harbin).
pub const DEMO_REGION: &str = "230100";

/// (username, role, display name, department)
pub const DEMO_ACCOUNTS: &[(&str, Role, &str, &str)] = &[
    ("admin", Role::Sysadmin, "系统管理员", ""),
    ("keji", Role::Publisher, "科技局政策发布员", "哈尔滨市科学技术局"),
    ("renshe", Role::Publisher, "人社局政策发布员", "哈尔滨市人力资源和社会保障局"),
    ("renshe2", Role::Publisher, "人社局政策审批人", "哈尔滨市人力资源和社会保障局"),
    ("shenhe", Role::Reviewer, "人社局审核员", "哈尔滨市人力资源和社会保障局"),
    ("ducha", Role::Supervisor, "营商环境局督办员", "哈尔滨市营商环境建设监督局"),
    ("bangban", Role::Specialist, "政务服务中心帮办专员", "哈尔滨市政务服务中心"),
    ("qiye", Role::Enterprise, "企业用户（演示）", ""),
];

impl Auth {
    /// Creates whatever of the demo's departments and accounts is missing.
    pub fn demo_accounts(&self) -> Result<()> {
        let who = Who::system("demo");
        for (_, _, _, department) in DEMO_ACCOUNTS.iter().filter(|a| !a.3.is_empty()) {
            if self.store.read()?.department(department)?.is_none_or(|d| d.region.is_none()) {
                self.department_put(&who, department, DEMO_REGION)?;
            }
        }
        for (username, role, name, department) in DEMO_ACCOUNTS {
            if self.store.read()?.user_by_name(username)?.is_some() {
                continue;
            }
            let mut new = NewUser::new(username, *role).named(name);
            if !department.is_empty() {
                new = new.in_department(department);
            }
            let (user, _) = self.user_create(&who, new, Some(DEMO_PASSWORD))?;
            if *role == Role::Enterprise {
                let first = self.store.read()?.scan_entities(0, 1, 1000, |_| true)?.entities.into_iter().next();
                if let Some(e) = first {
                    self.binding_grant(&who, &user.username, &e.credit_code, Capacity::LegalRep)?;
                }
            }
        }
        Ok(())
    }

    /// Binds an enterprise account to an entity at once, verified by whoever grants it (the
    /// command line, the demo).
    pub fn binding_grant(&self, who: &Who, username: &str, code: &CreditCode, capacity: Capacity) -> Result<Binding> {
        let tx = self.store.write()?;
        let now = tx.now();
        let user = tx
            .user_by_name(username)?
            .ok_or_else(|| super::AuthError::NotFound(format!("用户「{username}」不存在")))?;
        if user.role != Role::Enterprise {
            return Err(super::AuthError::Invalid("只有企业账号可以绑定经营主体".into()));
        }
        let entity = tx
            .entity_by_code(code.as_str())?
            .ok_or_else(|| super::AuthError::Invalid(format!("统一社会信用代码为 {code} 的经营主体不存在")))?;
        let binding = Binding {
            user_id: user.id,
            credit_code: code.as_str().to_string(),
            entity_name: entity.name.clone().unwrap_or_default(),
            capacity,
            status: BindingStatus::Verified,
            requested_at: now,
            decided_at: Some(now),
            decided_by: Some(who.name.clone()),
            method: Some(BindingMethod::Staff),
            note: String::new(),
        };
        tx.put_binding(&binding)?;
        let target = format!("entity:{}", binding.credit_code);
        tx.audit_new(who, action::BINDING_VERIFY, &target, &format!("granted to {username}"), &binding)?;
        tx.commit()?;
        Ok(binding)
    }
}
