//! Accounts and what they hold: departments, roles, enterprise bindings and invitation codes,
//! sessions and API tokens.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::codes::RegionCode;
use super::date::Timestamp;
use super::enums::{Vocabulary, vocabulary};

vocabulary! {
    /// What an account is for. What each role may do is decided in one table, `auth::permissions`.
    /// The keys before schema version 5 (`admin`, `staff`, `auditor`) still read.
    Role {
        Sysadmin = "sysadmin" | "admin", "系统管理员", "System administrator";
        Publisher = "publisher" | "staff", "政策发布员", "Policy publisher";
        Reviewer = "reviewer", "审核员", "Reviewer";
        Supervisor = "supervisor" | "auditor", "督办员", "Supervisor";
        Specialist = "specialist", "帮办专员", "Service specialist";
        Enterprise = "enterprise", "企业用户", "Enterprise user";
    }
}

impl Role {
    /// Government-side accounts (everyone but enterprises).
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Enterprise)
    }
}

vocabulary! {
    /// In what capacity an enterprise user acts for an entity.
    Capacity {
        LegalRep = "legal_rep", "法定代表人", "Legal representative";
        Finance = "finance", "财务人员", "Finance clerk";
        Agent = "agent", "经办人", "Authorised agent";
    }
}

vocabulary! {
    BindingStatus {
        Pending = "pending", "待核验", "Awaiting verification";
        Verified = "verified", "已绑定", "Verified";
        Rejected = "rejected", "未通过", "Rejected";
        Revoked = "revoked", "已解除", "Revoked";
    }
}

vocabulary! {
    /// How a binding was verified.
    BindingMethod {
        Invitation = "invitation", "邀请码", "Invitation code";
        Staff = "staff", "工作人员核验", "Verified by staff";
        Migrated = "migrated", "升级迁移", "Carried over by an upgrade";
    }
}

vocabulary! {
    /// What an API token may be used for, on top of what its account's role allows.
    TokenScope {
        PoliciesWrite = "policies:write", "政策起草与发布", "Draft and publish policies";
        EntitiesRead = "entities:read", "读取经营主体", "Read entities";
        EntitiesWrite = "entities:write", "写入经营主体（数据对接）", "Write entities (data feeds)";
        Matching = "matching", "测算与重新匹配", "Simulate and rematch";
        Export = "export", "导出", "Export";
        Audit = "audit:read", "读取审计日志", "Read the audit trail";
        Admin = "admin", "系统管理", "Administration";
        Enterprise = "enterprise", "企业自助", "Enterprise self-service";
        Metrics = "metrics", "运行指标（监控）", "Metrics (monitoring)";
        Cases = "cases", "办件查询与审核", "Read and review cases";
    }
}

/// A department of the office: it issues and handles measures and serves a region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    pub name: String,
    /// The GB/T 2260 code of the region it serves; `None` until an administrator sets it.
    #[serde(default)]
    pub region: Option<RegionCode>,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
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
    /// The department a staff account belongs to (its name).
    #[serde(default)]
    pub department: Option<String>,
    /// Region codes the account may see; empty means its department's region (or all, without one).
    #[serde(default)]
    pub region_scope: Vec<RegionCode>,
    #[serde(default)]
    pub phone: Option<String>,
    pub password: PasswordHash,
    #[serde(default)]
    pub disabled: bool,
    /// Failed sign-ins in a row.
    #[serde(default)]
    pub failed_logins: u32,
    #[serde(default)]
    pub last_failed_at: Option<Timestamp>,
    /// Soft lock: no sign-in is tried before this time (the progressive delay).
    #[serde(default)]
    pub locked_until: Option<Timestamp>,
    /// Hard lock after repeated failures: only an administrator lifts it.
    #[serde(default)]
    pub hard_locked: bool,
    /// A one-time password (issued or reset by an administrator) must be changed first.
    #[serde(default)]
    pub must_change_password: bool,
    pub created_at: Timestamp,
    #[serde(default)]
    pub last_login: Option<Timestamp>,
    #[serde(default)]
    pub password_changed_at: Option<Timestamp>,
    /// Before schema version 5 an enterprise account named one entity here; the migration turns
    /// it into a verified binding and clears it.
    #[serde(rename = "entity", default, skip_serializing_if = "Option::is_none")]
    pub legacy_entity: Option<String>,
    /// The versions of the user agreement and privacy notice accepted at registration; `None`
    /// for accounts made by an administrator or registered before consent was asked.
    #[serde(default)]
    pub consent: Option<Consent>,
}

/// What a person agreed to when registering, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub terms_version: u32,
    pub privacy_version: u32,
    pub at: Timestamp,
}

vocabulary! {
    /// The texts a person accepts at registration; an administrator edits both.
    AgreementKind {
        Terms = "terms", "用户协议", "User agreement";
        Privacy = "privacy", "隐私政策", "Privacy notice";
    }
}

/// One version of the user agreement or the privacy notice. Every save makes a new version;
/// old ones are kept, so that what an account accepted can still be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreement {
    pub kind: AgreementKind,
    pub version: u32,
    pub text: String,
    /// `None` for the built-in placeholder (version 1, never saved).
    #[serde(default)]
    pub saved_at: Option<Timestamp>,
    #[serde(default)]
    pub saved_by: String,
}

/// A password-recovery code sent by SMS, kept only as a salted hash, and the sends of the last
/// day (for the per-account limit).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    pub user_id: u64,
    /// BLAKE2b-256 of salt and code; empty once the code is used up.
    #[serde(default)]
    pub code_hash: Vec<u8>,
    #[serde(default)]
    pub salt: String,
    pub expires_at: Timestamp,
    /// Wrong codes entered against the current code.
    #[serde(default)]
    pub tries: u32,
    /// When codes were sent, the last 24 hours' worth.
    #[serde(default)]
    pub sent: Vec<Timestamp>,
}

impl fmt::Debug for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recovery")
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .field("tries", &self.tries)
            .field("sent", &self.sent.len())
            .finish_non_exhaustive()
    }
}

impl User {
    pub fn new(id: u64, username: &str, role: Role, password: PasswordHash, now: Timestamp) -> User {
        User {
            id,
            username: username.to_string(),
            display_name: username.to_string(),
            role,
            department: None,
            region_scope: Vec::new(),
            phone: None,
            password,
            disabled: false,
            failed_logins: 0,
            last_failed_at: None,
            locked_until: None,
            hard_locked: false,
            must_change_password: false,
            created_at: now,
            last_login: None,
            password_changed_at: Some(now),
            legacy_entity: None,
            consent: None,
        }
    }
}

/// An enterprise user's claim to act for an entity, and its verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub user_id: u64,
    pub credit_code: String,
    /// The entity name as the user typed it.
    pub entity_name: String,
    pub capacity: Capacity,
    pub status: BindingStatus,
    pub requested_at: Timestamp,
    #[serde(default)]
    pub decided_at: Option<Timestamp>,
    #[serde(default)]
    pub decided_by: Option<String>,
    #[serde(default)]
    pub method: Option<BindingMethod>,
    /// A rejection's reason, or the staff's note.
    #[serde(default)]
    pub note: String,
}

/// A one-time code that binds one user to an entity, printed on a notice letter. Only the code's
/// hash is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: u64,
    pub credit_code: String,
    pub code_hash: Vec<u8>,
    /// The last four characters, so that staff can tell letters apart.
    pub hint: String,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    #[serde(default)]
    pub used_by: Option<u64>,
    #[serde(default)]
    pub used_at: Option<Timestamp>,
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
}

impl Invitation {
    pub fn usable(&self, now: Timestamp) -> bool {
        self.used_by.is_none() && self.revoked_at.is_none() && self.expires_at > now
    }

    pub fn state(&self, now: Timestamp) -> &'static str {
        match () {
            _ if self.used_by.is_some() => "used",
            _ if self.revoked_at.is_some() => "revoked",
            _ if self.expires_at <= now => "expired",
            _ => "open",
        }
    }
}

/// A signed-in browser session, stored under the hash of its cookie token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub user_id: u64,
    pub created_at: Timestamp,
    /// The absolute end of the session.
    pub expires_at: Timestamp,
    /// Per-session CSRF token that every form post and browser JSON write must echo.
    pub csrf: String,
    #[serde(default)]
    pub user_agent: String,
    /// The last request seen (the idle timeout counts from here); written at most once a minute.
    #[serde(default)]
    pub last_seen: Option<Timestamp>,
    #[serde(default)]
    pub ip: String,
}

impl Session {
    pub fn last_active(&self) -> Timestamp {
        self.last_seen.unwrap_or(self.created_at)
    }
}

/// A bearer token for other systems, stored under the hash of the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    #[serde(default)]
    pub id: u64,
    pub user_id: u64,
    pub name: String,
    pub created_at: Timestamp,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub scopes: Vec<TokenScope>,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
    #[serde(default)]
    pub last_used_at: Option<Timestamp>,
    /// The first characters of the token, to recognise it in lists.
    #[serde(default)]
    pub prefix: String,
}

impl ApiToken {
    pub fn usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}
