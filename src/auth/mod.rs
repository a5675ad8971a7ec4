//! Accounts and sign-in: argon2id passwords, sessions kept in the store under the hash of
//! their cookie, per-session CSRF tokens, bearer tokens for other systems, and lockout after
//! repeated failures. Every call blocks (argon2 burns CPU on purpose): run it off the runtime.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash as Phc;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use blake2::{Blake2b256, Digest};

use crate::model::user::PasswordHash;
use crate::model::{ApiToken, Role, Session, Timestamp, User, Vocabulary};
use crate::store::{Store, StoreError};

/// Sessions last 12 hours from sign-in.
pub const SESSION_SECONDS: i64 = 12 * 3600;
/// After this many failed sign-ins in a row the account locks for [`LOCK_SECONDS`].
pub const MAX_FAILED_LOGINS: u32 = 5;
pub const LOCK_SECONDS: i64 = 15 * 60;
pub const TOKEN_PREFIX: &str = "hq_";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("用户名或密码不正确")]
    BadCredentials,
    #[error("账号已被锁定，请在 {0} 后再试，或联系管理员解锁")]
    Locked(String),
    #[error("账号已停用，请联系管理员")]
    Disabled,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = AuthError> = std::result::Result<T, E>;

/// Who is calling, once a session or token has been checked.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    /// The session's CSRF token; `None` for bearer-token callers, who need none.
    pub csrf: Option<String>,
}

/// Random bytes as lower-case hex.
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| AuthError::Internal(format!("no randomness: {e}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// What is stored for a secret: its BLAKE2b-256 hash, never the secret itself.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Blake2b256::digest(secret.as_bytes()).to_vec()
}

/// Constant-time comparison for CSRF tokens.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub struct Auth {
    store: Arc<Store>,
    /// Minimal argon2 cost, for tests only.
    fast: bool,
}

impl Auth {
    pub fn new(store: Arc<Store>, fast_password_hashing: bool) -> Auth {
        Auth { store, fast: fast_password_hashing }
    }

    fn argon2(&self) -> Result<Argon2<'static>> {
        let params = if self.fast { Params::new(8, 1, 1, Some(32)) } else { Ok(Params::DEFAULT) }
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    pub fn hash_password(&self, password: &str) -> Result<PasswordHash> {
        let hash = self.argon2()?.hash_password(password.as_bytes()).map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(PasswordHash(hash.to_string()))
    }

    fn verify_password(&self, password: &str, hash: &PasswordHash) -> bool {
        match (Phc::new(&hash.0), self.argon2()) {
            (Ok(phc), Ok(a)) => a.verify_password(password.as_bytes(), &phc).is_ok(),
            _ => false,
        }
    }

    /// Password rules: at least 8 characters, letters and digits both.
    pub fn check_password_strength(password: &str) -> Result<()> {
        let long = password.chars().count() >= 8;
        let letters = password.chars().any(|c| c.is_alphabetic());
        let digits = password.chars().any(|c| c.is_ascii_digit());
        if long && letters && digits {
            Ok(())
        } else {
            Err(AuthError::Invalid("密码至少 8 位，且须同时包含字母和数字".into()))
        }
    }

    /// Creates an account. Usernames are 3–32 lower-case letters, digits, `.`, `_` or `-`.
    pub fn user_create(
        &self,
        actor: &str,
        username: &str,
        display_name: &str,
        role: Role,
        department: Option<String>,
        password: &str,
    ) -> Result<User> {
        let username = username.trim().to_ascii_lowercase();
        let ok = (3..=32).contains(&username.len())
            && username.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c));
        if !ok {
            return Err(AuthError::Invalid("用户名应为 3–32 位小写字母、数字或 . _ -".into()));
        }
        Self::check_password_strength(password)?;
        let hash = self.hash_password(password)?;
        let tx = self.store.write()?;
        if tx.user_by_name(&username)?.is_some() {
            return Err(AuthError::Invalid(format!("用户名「{username}」已存在")));
        }
        let now = Timestamp::now();
        let user = User {
            id: tx.next_id("user")?,
            username: username.clone(),
            display_name: if display_name.trim().is_empty() { username.clone() } else { display_name.trim().into() },
            role,
            department: department.filter(|d| !d.trim().is_empty()),
            region_scope: Vec::new(),
            entity: None,
            password: hash,
            disabled: false,
            failed_logins: 0,
            locked_until: None,
            created_at: now,
            last_login: None,
            password_changed_at: Some(now),
        };
        tx.put_user(&user)?;
        tx.audit(actor, "user.create", &format!("user:{username}"), role.key())?;
        tx.commit()?;
        Ok(user)
    }

    pub fn user_set_password(&self, actor: &str, username: &str, password: &str) -> Result<User> {
        Self::check_password_strength(password)?;
        let hash = self.hash_password(password)?;
        let tx = self.store.write()?;
        let mut user =
            tx.user_by_name(username)?.ok_or_else(|| AuthError::Invalid(format!("用户「{username}」不存在")))?;
        user.password = hash;
        user.password_changed_at = Some(Timestamp::now());
        user.failed_logins = 0;
        user.locked_until = None;
        tx.put_user(&user)?;
        tx.audit(actor, "user.password", &format!("user:{username}"), "")?;
        tx.commit()?;
        Ok(user)
    }

    /// Links an enterprise account to its entity's credit code.
    pub fn user_link_entity(&self, actor: &str, username: &str, code: &str) -> Result<User> {
        let code = crate::model::CreditCode::parse(code).map_err(|e| AuthError::Invalid(e.to_string()))?;
        let tx = self.store.write()?;
        let mut user =
            tx.user_by_name(username)?.ok_or_else(|| AuthError::Invalid(format!("用户「{username}」不存在")))?;
        if tx.entity_id_by_code(code.as_str())?.is_none() {
            return Err(AuthError::Invalid(format!("统一社会信用代码为 {code} 的经营主体不存在")));
        }
        user.entity = Some(code.to_string());
        tx.put_user(&user)?;
        tx.audit(actor, "user.link_entity", &format!("user:{username}"), code.as_str())?;
        tx.commit()?;
        Ok(user)
    }

    pub fn users(&self) -> Result<Vec<User>> {
        Ok(self.store.read()?.users()?)
    }

    /// Checks a password and opens a session. Returns the cookie token (shown once) and the session.
    pub fn login(&self, username: &str, password: &str, user_agent: &str) -> Result<(String, Session, User)> {
        let username = username.trim().to_ascii_lowercase();
        let now = Timestamp::now();
        let user = self.store.read()?.user_by_name(&username)?;
        let Some(mut user) = user else {
            // Spend the same time as a real check so that timing does not reveal accounts.
            let _ = self.hash_password(password);
            return Err(AuthError::BadCredentials);
        };
        if user.disabled {
            return Err(AuthError::Disabled);
        }
        if let Some(until) = user.locked_until
            && until > now
        {
            return Err(AuthError::Locked(until.display_cst()));
        }
        let ok = self.verify_password(password, &user.password);
        // The counters change inside the write transaction, on the record as it is now: sign-ins
        // running at the same time each count, and nothing else on the record is reverted.
        let tx = self.store.write()?;
        let Some(current) = tx.user(user.id)? else { return Err(AuthError::BadCredentials) };
        user = current;
        if user.disabled {
            return Err(AuthError::Disabled);
        }
        if let Some(until) = user.locked_until
            && until > now
        {
            return Err(AuthError::Locked(until.display_cst()));
        }
        if !ok {
            user.failed_logins += 1;
            let detail = format!("failed sign-in {}", user.failed_logins);
            if user.failed_logins >= MAX_FAILED_LOGINS {
                user.locked_until = Some(now.plus_seconds(LOCK_SECONDS));
                user.failed_logins = 0;
            }
            tx.put_user(&user)?;
            tx.audit(&username, "auth.login_failed", &format!("user:{username}"), &detail)?;
            tx.commit()?;
            return Err(AuthError::BadCredentials);
        }
        user.failed_logins = 0;
        user.locked_until = None;
        user.last_login = Some(now);
        tx.put_user(&user)?;
        let token = random_hex(32)?;
        let session = Session {
            user_id: user.id,
            created_at: now,
            expires_at: now.plus_seconds(SESSION_SECONDS),
            csrf: random_hex(16)?,
            user_agent: user_agent.chars().take(200).collect(),
        };
        tx.put_session(&secret_hash(&token), &session)?;
        tx.purge_sessions(now)?;
        tx.audit(&username, "auth.login", &format!("user:{username}"), "")?;
        tx.commit()?;
        Ok((token, session, user))
    }

    pub fn logout(&self, token: &str) -> Result<()> {
        let tx = self.store.write()?;
        let hash = secret_hash(token);
        if let Some(s) = tx.session(&hash)? {
            let who = tx.user(s.user_id)?.map(|u| u.username).unwrap_or_default();
            tx.delete_session(&hash)?;
            tx.audit(&who, "auth.logout", &format!("user:{who}"), "")?;
        }
        tx.commit()?;
        Ok(())
    }

    fn active(user: Option<User>) -> Option<User> {
        user.filter(|u| !u.disabled)
    }

    /// The signed-in account for a session cookie, if it is valid and not expired.
    pub fn session_principal(&self, token: &str) -> Result<Option<Principal>> {
        let tx = self.store.read()?;
        let Some(session) = tx.session(&secret_hash(token))? else { return Ok(None) };
        if session.expires_at < Timestamp::now() {
            return Ok(None);
        }
        Ok(Self::active(tx.user(session.user_id)?).map(|user| Principal { user, csrf: Some(session.csrf) }))
    }

    /// Creates a bearer token for a user; the token is returned once and stored only as a hash.
    pub fn token_create(&self, actor: &str, username: &str, name: &str, days: Option<u32>) -> Result<String> {
        let tx = self.store.write()?;
        let user = tx.user_by_name(username)?.ok_or_else(|| AuthError::Invalid(format!("用户「{username}」不存在")))?;
        let token = format!("{TOKEN_PREFIX}{}", random_hex(32)?);
        let now = Timestamp::now();
        let record = ApiToken {
            user_id: user.id,
            name: name.to_string(),
            created_at: now,
            expires_at: days.map(|d| now.plus_seconds(i64::from(d) * 86_400)),
        };
        tx.put_token(&secret_hash(&token), &record)?;
        tx.audit(actor, "token.create", &format!("user:{username}"), name)?;
        tx.commit()?;
        Ok(token)
    }

    pub fn token_principal(&self, token: &str) -> Result<Option<Principal>> {
        let tx = self.store.read()?;
        let Some(record) = tx.token(&secret_hash(token))? else { return Ok(None) };
        if record.expires_at.is_some_and(|e| e < Timestamp::now()) {
            return Ok(None);
        }
        Ok(Self::active(tx.user(record.user_id)?).map(|user| Principal { user, csrf: None }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> (tempfile::TempDir, Auth) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        (dir, Auth::new(store, true))
    }

    #[test]
    fn sign_in_sessions_and_tokens() {
        let (_d, auth) = auth();
        auth.user_create("test", "clerk", "办事员", Role::Staff, Some("科技局".into()), "secret123").unwrap();
        assert!(matches!(auth.login("clerk", "wrong", ""), Err(AuthError::BadCredentials)));
        assert!(matches!(auth.login("nobody", "secret123", ""), Err(AuthError::BadCredentials)));
        let (token, session, user) = auth.login("Clerk", "secret123", "test").unwrap();
        assert_eq!(user.username, "clerk");
        let p = auth.session_principal(&token).unwrap().unwrap();
        assert_eq!(p.csrf.as_deref(), Some(session.csrf.as_str()));
        auth.logout(&token).unwrap();
        assert!(auth.session_principal(&token).unwrap().is_none());
        let api = auth.token_create("test", "clerk", "ci", None).unwrap();
        assert!(api.starts_with(TOKEN_PREFIX));
        assert_eq!(auth.token_principal(&api).unwrap().unwrap().user.username, "clerk");
        assert!(auth.token_principal("hq_forged").unwrap().is_none());
    }

    #[test]
    fn concurrent_failures_all_count() {
        let (_d, auth) = auth();
        auth.user_create("test", "clerk", "", Role::Staff, None, "secret123").unwrap();
        let auth = std::sync::Arc::new(auth);
        let threads: Vec<_> = (0..MAX_FAILED_LOGINS)
            .map(|_| {
                let a = std::sync::Arc::clone(&auth);
                std::thread::spawn(move || a.login("clerk", "wrong", "").is_err())
            })
            .collect();
        for t in threads {
            assert!(t.join().unwrap());
        }
        assert!(matches!(auth.login("clerk", "secret123", ""), Err(AuthError::Locked(_))), "every failure counted");
    }

    #[test]
    fn locks_after_repeated_failures() {
        let (_d, auth) = auth();
        auth.user_create("test", "clerk", "", Role::Staff, None, "secret123").unwrap();
        for _ in 0..MAX_FAILED_LOGINS {
            assert!(matches!(auth.login("clerk", "bad", ""), Err(AuthError::BadCredentials)));
        }
        assert!(matches!(auth.login("clerk", "secret123", ""), Err(AuthError::Locked(_))));
        auth.user_set_password("admin", "clerk", "another123").unwrap();
        assert!(auth.login("clerk", "another123", "").is_ok(), "a password reset unlocks");
    }

    #[test]
    fn rules_for_names_and_passwords() {
        let (_d, auth) = auth();
        assert!(auth.user_create("t", "x", "", Role::Staff, None, "secret123").is_err());
        assert!(auth.user_create("t", "clerk", "", Role::Staff, None, "short1").is_err());
        assert!(auth.user_create("t", "clerk", "", Role::Staff, None, "onlyletters").is_err());
        auth.user_create("t", "clerk", "", Role::Staff, None, "secret123").unwrap();
        assert!(auth.user_create("t", "clerk", "", Role::Staff, None, "secret123").is_err());
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("abc", "ab"));
    }
}
