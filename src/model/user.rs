//! Staff and enterprise accounts, sessions and API tokens, and the audit record.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::date::Timestamp;
use super::enums::Vocabulary;

macro_rules! roles {
    ($($variant:ident = $key:literal, $zh:literal, $en:literal;)+) => {
        /// What an account may do. The full role model is laid out here; permissions per role
        /// are decided in `auth`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Role { $(#[serde(rename = $key)] $variant,)+ }
        impl Vocabulary for Role {
            const ALL: &'static [Self] = &[$(Role::$variant,)+];
            fn key(self) -> &'static str { match self { $(Role::$variant => $key,)+ } }
            fn label(self) -> &'static str { match self { $(Role::$variant => $zh,)+ } }
            fn label_en(self) -> &'static str { match self { $(Role::$variant => $en,)+ } }
        }
    };
}

roles! {
    Admin = "admin", "系统管理员", "Administrator";
    Staff = "staff", "部门工作人员", "Department staff";
    Reviewer = "reviewer", "审核人员", "Reviewer";
    Specialist = "specialist", "服务专员", "Service specialist";
    Auditor = "auditor", "监督审计", "Auditor";
    Enterprise = "enterprise", "企业用户", "Enterprise user";
}

impl Role {
    /// Government-side accounts (everyone but enterprises).
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Enterprise)
    }
}

/// An argon2id PHC string. Its `Debug` never shows the hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(pub String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// The department a staff account belongs to.
    #[serde(default)]
    pub department: Option<String>,
    /// Region codes the account may see (empty: all), for the scopes a later issue enforces.
    #[serde(default)]
    pub region_scope: Vec<String>,
    /// For enterprise accounts: the credit code of their entity.
    #[serde(default)]
    pub entity: Option<String>,
    pub password: PasswordHash,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub failed_logins: u32,
    #[serde(default)]
    pub locked_until: Option<Timestamp>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub last_login: Option<Timestamp>,
    #[serde(default)]
    pub password_changed_at: Option<Timestamp>,
}

/// A signed-in browser session, stored under the hash of its cookie token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub user_id: u64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Per-session CSRF token that every form post must echo.
    pub csrf: String,
    #[serde(default)]
    pub user_agent: String,
}

/// A bearer token for other systems, stored under the hash of the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub user_id: u64,
    pub name: String,
    pub created_at: Timestamp,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
}

/// One entry of the audit trail, written in the same transaction as the change it records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub target: String,
    #[serde(default)]
    pub detail: String,
}
