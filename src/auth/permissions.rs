//! Who may do what: the one permission table. Every page and API route names the access it
//! needs (see `http::routes`); data scopes (a department's policies, a region's entities, an
//! enterprise's own entities) are checked on top of it with [`Principal`](super::Principal).

use serde::Serialize;

use crate::model::{Role, TokenScope, Vocabulary};

macro_rules! permissions {
    ($($variant:ident = $key:literal, $zh:literal, $scope:ident, [$($role:ident),*];)+) => {
        /// Something an account may be allowed to do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum Permission { $($variant,)+ }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)+];

            pub fn key(self) -> &'static str { match self { $(Permission::$variant => $key,)+ } }

            pub fn label(self) -> &'static str { match self { $(Permission::$variant => $zh,)+ } }

            /// The roles that hold it.
            pub fn roles(self) -> &'static [Role] {
                match self { $(Permission::$variant => &[$(Role::$role),*],)+ }
            }

            /// The token scope a bearer token needs to use it.
            pub fn scope(self) -> TokenScope { match self { $(Permission::$variant => TokenScope::$scope,)+ } }
        }
    };
}

/// The token scopes an account of this role can use: those that cover a permission it holds. A
/// token with another scope could do nothing more, and would say it could.
pub fn scopes_for(role: Role) -> Vec<TokenScope> {
    TokenScope::ALL
        .iter()
        .copied()
        .filter(|s| Permission::ALL.iter().any(|p| p.scope() == *s && p.roles().contains(&role)))
        .collect()
}

permissions! {
    StaffConsole = "staff.console", "进入工作台", EntitiesRead, [Sysadmin, Publisher, Reviewer, Supervisor, Specialist];
    PolicyDraft = "policy.draft", "起草、修改本部门政策", PoliciesWrite, [Publisher];
    PolicyPublish = "policy.publish", "发布本部门政策", PoliciesWrite, [Publisher];
    Simulate = "matching.simulate", "政策测算", Matching, [Publisher, Supervisor];
    SimulateList = "matching.simulate.list", "下载测算名单（列出具体企业，须可查看全部经营主体）", Matching, [Supervisor];
    Rematch = "matching.rematch", "全量重新匹配", Matching, [Sysadmin];
    MatchEvents = "matching.events", "读取匹配变动（推送对接）", Matching, [Sysadmin];
    EntityRead = "entity.read", "查看辖区经营主体", EntitiesRead, [Sysadmin, Reviewer, Supervisor, Specialist];
    EntityWrite = "entity.write", "修改经营主体", EntitiesWrite, [Sysadmin, Specialist];
    EntityImport = "entity.import", "导入经营主体", EntitiesWrite, [Sysadmin];
    PersonalData = "entity.personal", "查看完整联系电话和证件号", EntitiesRead, [Reviewer, Specialist];
    Export = "data.export", "导出数据", Export, [Sysadmin, Supervisor];
    TagsManage = "tags.manage", "维护标签字典", Admin, [Sysadmin];
    CalendarManage = "calendar.manage", "维护节假日日历", Admin, [Sysadmin];
    AccountsManage = "accounts.manage", "管理部门和账号", Admin, [Sysadmin];
    TokensManage = "tokens.manage", "管理接口令牌", Admin, [Sysadmin];
    BindingsManage = "bindings.manage", "核验企业绑定、签发邀请码", Admin, [Sysadmin, Specialist];
    AuditRead = "audit.read", "查阅和导出审计日志", Audit, [Sysadmin, Supervisor];
    OwnEntities = "enterprise.own", "办理本企业事项", Enterprise, [Enterprise];
    CaseApply = "case.apply", "申报、补正、撤回（本企业或帮办代办）", Enterprise, [Enterprise, Specialist];
    CaseRead = "case.read", "查看本部门或辖区的办件", Cases, [Reviewer, Publisher, Supervisor, Specialist];
    CaseReview = "case.review", "审核本部门办件", Cases, [Reviewer, Publisher];
    Supervise = "case.supervise", "督办超期办件", Cases, [Supervisor];
    CaseExport = "case.export", "导出本部门或辖区的待办队列（XLSX，记入审计日志）", Export, [Reviewer, Publisher, Supervisor];
    SupervisionExport = "case.supervise.export", "导出督办台账（XLSX，记入审计日志）", Export, [Supervisor];
    AssignSpecialists = "specialist.assign", "为帮办专员分配企业", Cases, [Sysadmin, Supervisor];
    Assigned = "specialist.entities", "查看分管企业及其待办", Cases, [Specialist];
    Metrics = "system.metrics", "读取运行指标", Metrics, [Sysadmin];
    Backup = "system.backup", "备份数据并下载备份（备份含全部数据，下载记入审计日志）", Admin, [Sysadmin];
}

impl Permission {
    pub fn granted_to(self, role: Role) -> bool {
        self.roles().contains(&role)
    }

    /// Whether `who` holds the permission: the role grants it and, for an API token, the
    /// token's scopes cover it. The program itself and the command line hold every one.
    pub fn permits(self, who: &crate::model::Who) -> bool {
        who.role.is_none_or(|role| self.allows(role, who.scopes.as_deref()))
    }

    /// Whether a role holds the permission through a token with these scopes (`None`: no
    /// token, the role's whole set).
    pub fn allows(self, role: Role, scopes: Option<&[TokenScope]>) -> bool {
        self.granted_to(role) && scopes.is_none_or(|s| s.contains(&self.scope()))
    }
}

/// What a route requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in account (its own profile, password and sessions).
    SignedIn,
    /// An account holding this permission.
    Needs(Permission),
    /// An account holding either permission (an entity's page: staff who may read entities, or
    /// an enterprise for its own).
    Either(Permission, Permission),
}

impl Access {
    pub fn allows_role(self, role: Role) -> bool {
        match self {
            Access::Public | Access::SignedIn => true,
            Access::Needs(p) => p.granted_to(role),
            Access::Either(a, b) => a.granted_to(role) || b.granted_to(role),
        }
    }

    pub fn allows_anonymous(self) -> bool {
        matches!(self, Access::Public)
    }

    pub fn describe(self) -> String {
        match self {
            Access::Public => "public".into(),
            Access::SignedIn => "signed-in".into(),
            Access::Needs(p) => p.key().into(),
            Access::Either(a, b) => format!("{} | {}", a.key(), b.key()),
        }
    }
}

/// Every role's permissions, for the administration page and the README.
pub fn matrix() -> Vec<(Role, Vec<Permission>)> {
    use crate::model::Vocabulary;
    Role::ALL.iter().map(|&r| (r, Permission::ALL.iter().copied().filter(|p| p.granted_to(r)).collect())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duties_are_separated() {
        // The system administrator runs the system but neither writes policy nor reads personal data.
        for p in [Permission::PolicyDraft, Permission::PolicyPublish, Permission::PersonalData] {
            assert!(!p.granted_to(Role::Sysadmin), "{p:?}");
        }
        // Enterprises hold only their own self-service.
        let enterprise: Vec<_> = Permission::ALL.iter().filter(|p| p.granted_to(Role::Enterprise)).collect();
        assert_eq!(enterprise, [&Permission::OwnEntities, &Permission::CaseApply]);
        // Those who help enterprises apply do not decide cases.
        assert!(!Permission::CaseReview.granted_to(Role::Specialist));
        // Supervisors read the audit trail; publishers do not.
        assert!(Permission::AuditRead.granted_to(Role::Supervisor));
        assert!(!Permission::AuditRead.granted_to(Role::Publisher));
    }
}
