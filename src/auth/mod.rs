//! Accounts and sign-in: argon2id passwords, progressive delays and locks after failures,
//! sessions kept in the store under the hash of their cookie (idle and absolute timeouts),
//! per-session CSRF tokens, scoped bearer tokens for other systems, and the scopes that decide
//! what each caller may see. Every call blocks (argon2 burns CPU on purpose): run it off the
//! runtime.

mod accounts;
mod bindings;
pub mod demo;
pub mod password;
pub mod permissions;
pub mod ratelimit;
pub mod recovery;

use std::sync::Arc;

use blake2::{Blake2b256, Digest};

pub use accounts::{NewUser, SessionInfo, TokenInfo, UserUpdate, shown_to};
pub use bindings::{
    BindRequest, BindingRow, INVITATION_DAYS_DEFAULT, Registration, bad_credit_code, no_binding_request, no_own_binding,
};
pub use permissions::{Access, Permission};
pub use recovery::{CODE_REQUESTED, CodeMessage, TextSender};

use crate::model::audit::action;
use crate::model::user::PasswordHash;
use crate::model::{ApiToken, BindingStatus, CreditCode, RegionCode, Role, Session, Timestamp, TokenScope, User, Who};
use crate::store::prelude::*;
use crate::store::{Store, StoreError};

pub const TOKEN_PREFIX: &str = "hq_";
/// Failed sign-ins in a row that are let through without delay (typos happen).
pub const FREE_FAILURES: u32 = 2;
/// After this many failures in a row the account locks until an administrator unlocks it.
pub const HARD_LOCK_AFTER: u32 = 10;
/// The longest progressive delay.
pub const MAX_DELAY_SECONDS: i64 = 300;
/// A failure streak older than this starts again from zero.
const FAILURE_MEMORY_SECONDS: i64 = 24 * 3600;
/// `last_seen` of a session and `last_used_at` of a token are written at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("用户名或密码不正确")]
    BadCredentials,
    #[error("连续多次输入错误，请在 {0} 秒后再试")]
    Delayed(i64),
    #[error("账号因连续多次密码错误已被锁定，请联系系统管理员解锁")]
    Locked,
    #[error("账号已停用，请联系系统管理员")]
    Disabled,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = AuthError> = std::result::Result<T, E>;

/// The delay imposed after `failures` wrong passwords in a row: none for the first two, then
/// 1 s, doubling, up to [`MAX_DELAY_SECONDS`].
pub fn delay_after(failures: u32) -> i64 {
    if failures <= FREE_FAILURES { 0 } else { (1i64 << (failures - FREE_FAILURES - 1).min(20)).min(MAX_DELAY_SECONDS) }
}

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle_seconds: i64,
    pub absolute_seconds: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy { idle_seconds: 30 * 60, absolute_seconds: 12 * 3600 }
    }
}

/// Who is calling, once a session or token has been checked, with what they may see.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    /// The session's CSRF token; `None` for bearer-token callers, who need none.
    pub csrf: Option<String>,
    /// The session's key (the hash of its cookie), to mark it in the session list.
    pub session: Option<Vec<u8>>,
    /// For bearer tokens: the scopes the token was given.
    pub scopes: Option<Vec<TokenScope>>,
    /// Credit codes of the entities an enterprise account is verified to act for.
    pub entities: Vec<CreditCode>,
    /// Region codes the account's data is limited to; empty means no limit.
    pub regions: Vec<RegionCode>,
}

impl Principal {
    pub fn role(&self) -> Role {
        self.user.role
    }

    /// Whether the role holds the permission and, for a token, the token's scopes cover it.
    pub fn can(&self, p: Permission) -> bool {
        p.allows(self.user.role, self.scopes.as_deref())
    }

    pub fn allowed(&self, access: Access) -> bool {
        match access {
            Access::Public | Access::SignedIn => true,
            Access::Needs(p) => self.can(p),
            Access::Either(a, b) => self.can(a) || self.can(b),
        }
    }

    pub fn who(&self, ip: &str) -> Who {
        Who {
            regions: self.regions.clone(),
            entities: self.entities.clone(),
            scopes: self.scopes.clone(),
            ..Who::user(&self.user, ip)
        }
    }

    /// Whether an enterprise account is verified for this entity.
    pub fn acts_for(&self, credit_code: &CreditCode) -> bool {
        self.entities.contains(credit_code)
    }

    /// Whether a region is within the account's scope (entities without a region are visible
    /// only to accounts without a limit).
    pub fn sees_region(&self, region: Option<&RegionCode>) -> bool {
        self.regions.is_empty() || region.is_some_and(|r| self.regions.iter().any(|s| r.within(s.as_str())))
    }

    /// May this caller read the entity's file: staff who read entities within their region,
    /// or an enterprise for its own.
    pub fn may_read_entity(&self, credit_code: &CreditCode, region: Option<&RegionCode>) -> bool {
        (self.can(Permission::EntityRead) && self.sees_region(region))
            || (self.can(Permission::OwnEntities) && self.acts_for(credit_code))
    }

    /// A publisher works on the policies of their own department.
    pub fn in_department(&self, department: &str) -> bool {
        self.user.department.as_deref().is_some_and(|d| d == department.trim())
    }
}

/// Random bytes from the operating system.
pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| AuthError::Internal(format!("no randomness: {e}")))?;
    Ok(buf)
}

/// Random bytes as lower-case hex.
pub fn random_hex(bytes: usize) -> Result<String> {
    Ok(crate::model::audit::hex(&random_bytes(bytes)?))
}

/// What is stored for a secret: its BLAKE2b-256 hash, never the secret itself.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Blake2b256::digest(secret.as_bytes()).to_vec()
}

/// Constant-time comparison for CSRF tokens.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new session: the cookie value (shown once) and the stored record.
#[derive(Debug)]
pub struct SignedIn {
    pub token: String,
    pub session: Session,
    pub user: User,
}

/// Where a request comes from.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: String,
    pub user_agent: String,
}

pub struct Auth {
    store: Arc<Store>,
    hasher: password::Hasher,
    /// A hash of nothing in particular, verified when the account does not exist so that an
    /// unknown name costs the same time as a known one.
    dummy: PasswordHash,
    pub sessions: SessionPolicy,
}

impl Auth {
    /// Accounts over `store`, on the store's clock (the service's, which tests move).
    pub fn new(store: Arc<Store>, fast_password_hashing: bool, sessions: SessionPolicy) -> Result<Auth> {
        let hasher = password::Hasher::new(fast_password_hashing)?;
        let dummy = hasher.hash(&random_hex(16)?)?;
        Ok(Auth { store, hasher, dummy, sessions })
    }

    /// The time by the store's clock. Inside a write transaction, use the transaction's `tx.now()`.
    pub fn now(&self) -> Timestamp {
        self.store.clock().now()
    }

    pub fn hash_password(&self, password: &str) -> Result<PasswordHash> {
        self.hasher.hash(password)
    }

    /// Checks a password and opens a new session (a new id, whatever cookie came in; `replaces`
    /// is ended). Failures slow the account down, then lock it; all outcomes are audited.
    pub fn login(&self, username: &str, password: &str, client: &Client, replaces: Option<&str>) -> Result<SignedIn> {
        // No account name is longer; an attacker's megabyte never reaches the audit trail.
        let username: String = username.trim().to_ascii_lowercase().chars().take(64).collect();
        let now = self.now();
        let who = Who::anonymous(&username, &client.ip);
        let found = self.store.read()?.user_by_name(&username)?;
        let Some(user) = found else {
            let _ = self.hasher.verify(password, &self.dummy);
            self.audit_failure(&who, "unknown account")?;
            return Err(AuthError::BadCredentials);
        };
        self.refuse_if_blocked(&user, &who, now)?;
        let ok = self.hasher.verify(password, &user.password);
        // The counters change inside the write transaction, on the record as it is now, so that
        // sign-ins running at the same time each count.
        let tx = self.store.write()?;
        let now = tx.now();
        let Some(mut user) = tx.user(user.id)? else { return Err(AuthError::BadCredentials) };
        let who = Who::user(&user, &client.ip);
        if let Err(e) = Self::blocked(&user, now) {
            drop(tx);
            self.audit_failure(&who, &e.to_string())?;
            return Err(e);
        }
        if !ok {
            if user.last_failed_at.is_some_and(|t| t.plus_seconds(FAILURE_MEMORY_SECONDS) < now) {
                user.failed_logins = 0;
            }
            user.failed_logins += 1;
            user.last_failed_at = Some(now);
            let delay = delay_after(user.failed_logins);
            let detail = if user.failed_logins >= HARD_LOCK_AFTER {
                user.hard_locked = true;
                format!("wrong password ({} in a row): account locked", user.failed_logins)
            } else {
                user.locked_until = (delay > 0).then(|| now.plus_seconds(delay));
                format!("wrong password ({} in a row), next attempt in {delay} s", user.failed_logins)
            };
            tx.put_user(&user)?;
            tx.audit(&who, action::AUTH_LOGIN_FAILED, &format!("user:{username}"), &detail)?;
            tx.commit()?;
            return Err(if user.hard_locked { AuthError::Locked } else { AuthError::BadCredentials });
        }
        user.failed_logins = 0;
        user.locked_until = None;
        user.last_failed_at = None;
        user.last_login = Some(now);
        if self.hasher.needs_rehash(&user.password) {
            user.password = self.hasher.hash(password)?;
        }
        tx.put_user(&user)?;
        if let Some(old) = replaces {
            tx.delete_session(&secret_hash(old))?;
        }
        let (token, session) = self.new_session(&user, client, now)?;
        tx.put_session(&secret_hash(&token), &session)?;
        tx.purge_sessions(now)?;
        tx.audit(&who, action::AUTH_LOGIN, &format!("user:{username}"), &client.user_agent)?;
        tx.commit()?;
        Ok(SignedIn { token, session, user })
    }

    fn new_session(&self, user: &User, client: &Client, now: Timestamp) -> Result<(String, Session)> {
        let absolute = now.plus_seconds(self.sessions.absolute_seconds);
        let session = Session {
            user_id: user.id,
            created_at: now,
            expires_at: absolute,
            csrf: random_hex(16)?,
            user_agent: client.user_agent.chars().take(200).collect(),
            last_seen: Some(now),
            ip: client.ip.clone(),
        };
        Ok((random_hex(32)?, session))
    }

    fn blocked(user: &User, now: Timestamp) -> Result<()> {
        if user.disabled {
            return Err(AuthError::Disabled);
        }
        if user.hard_locked {
            return Err(AuthError::Locked);
        }
        match user.locked_until {
            Some(until) if until > now => Err(AuthError::Delayed((until.0 - now.0 + 999) / 1000)),
            _ => Ok(()),
        }
    }

    fn refuse_if_blocked(&self, user: &User, who: &Who, now: Timestamp) -> Result<()> {
        Self::blocked(user, now).or_else(|e| {
            self.audit_failure(&Who::user(user, &who.ip), &e.to_string())?;
            Err(e)
        })
    }

    fn audit_failure(&self, who: &Who, why: &str) -> Result<()> {
        let tx = self.store.write()?;
        tx.audit(who, action::AUTH_LOGIN_FAILED, &format!("user:{}", who.name), why)?;
        tx.commit()?;
        Ok(())
    }

    pub fn logout(&self, token: &str, ip: &str) -> Result<()> {
        let tx = self.store.write()?;
        let hash = secret_hash(token);
        if let Some(s) = tx.session(&hash)? {
            tx.delete_session(&hash)?;
            if let Some(user) = tx.user(s.user_id)? {
                tx.audit(&Who::user(&user, ip), action::AUTH_LOGOUT, &format!("user:{}", user.username), "")?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The signed-in account for a session cookie, if the session exists and has timed out
    /// neither for idleness nor absolutely. A timed-out session is removed.
    pub fn session_principal(&self, token: &str) -> Result<Option<Principal>> {
        let hash = secret_hash(token);
        let now = self.now();
        let (session, user) = {
            let tx = self.store.read()?;
            let Some(session) = tx.session(&hash)? else { return Ok(None) };
            let user = tx.user(session.user_id)?;
            (session, user)
        };
        let idle = session.last_active().plus_seconds(self.sessions.idle_seconds) < now;
        let user = user.filter(|u| !u.disabled && !u.hard_locked);
        if idle || session.expires_at < now || user.is_none() {
            let tx = self.store.write()?;
            tx.delete_session(&hash)?;
            tx.commit()?;
            return Ok(None);
        }
        if now.0 - session.last_active().0 > TOUCH_EVERY_MS {
            let tx = self.store.write()?;
            if let Some(mut current) = tx.session(&hash)? {
                current.last_seen = Some(now);
                tx.put_session(&hash, &current)?;
            }
            tx.commit()?;
        }
        let Some(user) = user else { return Ok(None) };
        let mut p = self.principal(user, None)?;
        p.csrf = Some(session.csrf);
        p.session = Some(hash);
        Ok(Some(p))
    }

    /// The account behind a bearer token, limited to the token's scopes.
    pub fn token_principal(&self, token: &str) -> Result<Option<Principal>> {
        let hash = secret_hash(token);
        let now = self.now();
        let (record, user) = {
            let tx = self.store.read()?;
            let Some(record) = tx.token(&hash)? else { return Ok(None) };
            let user = tx.user(record.user_id)?;
            (record, user)
        };
        let Some(user) = user.filter(|u| !u.disabled && !u.hard_locked) else { return Ok(None) };
        if !record.usable(now) {
            return Ok(None);
        }
        if record.last_used_at.is_none_or(|t| now.0 - t.0 > TOUCH_EVERY_MS) {
            let tx = self.store.write()?;
            if let Some(mut current) = tx.token(&hash)? {
                current.last_used_at = Some(now);
                tx.put_token(&hash, &current)?;
            }
            tx.commit()?;
        }
        self.principal(user, Some(record)).map(Some)
    }

    /// A principal with its scopes: verified entities for enterprises, regions for staff.
    fn principal(&self, user: User, token: Option<ApiToken>) -> Result<Principal> {
        let tx = self.store.read()?;
        let entities = if user.role == Role::Enterprise {
            // A binding's code was parsed when it was bound (a migrated one may not have been:
            // one not in the parsed form never matched a code, and still does not).
            tx.bindings_of_user(user.id)?
                .into_iter()
                .filter(|b| b.status == BindingStatus::Verified)
                .filter_map(|b| CreditCode::parse(&b.credit_code).ok().filter(|c| c.as_str() == b.credit_code))
                .collect()
        } else {
            Vec::new()
        };
        let regions = if !user.region_scope.is_empty() {
            user.region_scope.clone()
        } else {
            match &user.department {
                Some(d) => tx.department(d)?.and_then(|d| d.region).into_iter().collect(),
                None => Vec::new(),
            }
        };
        Ok(Principal { user, csrf: None, session: None, scopes: token.map(|t| t.scopes), entities, regions })
    }

    /// Principal for an account by name, as a bearer token with every scope would have it (the
    /// command line uses this to act as an account).
    pub fn principal_of(&self, username: &str) -> Result<Principal> {
        let user = self
            .store
            .read()?
            .user_by_name(username)?
            .ok_or_else(|| AuthError::NotFound(format!("用户「{username}」不存在")))?;
        self.principal(user, None)
    }
}

#[cfg(test)]
mod tests;
