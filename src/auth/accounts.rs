//! Administration of accounts: departments, users and their roles, one-time passwords, unlocks,
//! one's own password and sessions, and API tokens.

use serde::Serialize;

use super::{Auth, AuthError, Result, TOKEN_PREFIX, password, random_hex, secret_hash};
use crate::model::audit::action;
use crate::model::audit::hex;
use crate::model::{ApiToken, Department, RegionCode, Role, Timestamp, TokenScope, User, Vocabulary, Who};
use crate::store::WriteTx;
use crate::store::prelude::*;

/// A new account as an administrator (or the command line) describes it.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub department: Option<String>,
    pub region_scope: Vec<String>,
    pub phone: Option<String>,
}

impl NewUser {
    pub fn new(username: &str, role: Role) -> NewUser {
        NewUser {
            username: username.to_string(),
            display_name: String::new(),
            role,
            department: None,
            region_scope: Vec::new(),
            phone: None,
        }
    }

    pub fn in_department(mut self, department: &str) -> NewUser {
        self.department = Some(department.to_string());
        self
    }

    pub fn named(mut self, display_name: &str) -> NewUser {
        self.display_name = display_name.to_string();
        self
    }
}

/// What an administrator may change on an account.
#[derive(Debug, Clone)]
pub struct UserUpdate {
    pub display_name: String,
    pub role: Role,
    pub department: Option<String>,
    pub region_scope: Vec<String>,
    pub phone: Option<String>,
    pub disabled: bool,
}

/// One of an account's sessions, as its owner sees it.
#[derive(Debug, Clone, Serialize)]
pub struct SessionInfo {
    /// The first 12 hex digits of the session's key hash (not the cookie).
    pub id: String,
    pub created_at: Timestamp,
    pub last_seen: Timestamp,
    pub expires_at: Timestamp,
    pub ip: String,
    pub user_agent: String,
    pub current: bool,
}

/// An API token as lists show it (never the token).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: u64,
    pub name: String,
    pub username: String,
    pub scopes: Vec<&'static str>,
    pub prefix: String,
    pub created_at: Timestamp,
    pub created_by: String,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub active: bool,
}

fn invalid(message: impl Into<String>) -> AuthError {
    AuthError::Invalid(message.into())
}

fn check_username(username: &str) -> Result<String> {
    let username = username.trim().to_ascii_lowercase();
    let ok = (3..=32).contains(&username.len())
        && username.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c));
    if ok { Ok(username) } else { Err(invalid("用户名应为 3–32 位小写字母、数字或 . _ -")) }
}

/// A contact phone: a mainland mobile number or a landline, digits with `-`, `+`, spaces.
pub fn check_phone(phone: &str) -> Result<Option<String>> {
    let p = phone.trim();
    if p.is_empty() {
        return Ok(None);
    }
    let digits = p.chars().filter(char::is_ascii_digit).count();
    let ok = p.chars().all(|c| c.is_ascii_digit() || "+- ()".contains(c)) && (7..=15).contains(&digits);
    if ok {
        Ok(Some(p.to_string()))
    } else {
        Err(invalid(format!("联系电话「{p}」格式不对，应为手机号或带区号的座机号")))
    }
}

fn check_regions(codes: &[String]) -> Result<Vec<RegionCode>> {
    codes
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .map(|c| RegionCode::parse(c).map_err(|e| invalid(format!("管辖区域「{c}」无效：{e}"))))
        .collect()
}

/// Which roles belong to a department: publishers and reviewers always, others optionally.
fn check_department(tx: &WriteTx, role: Role, department: Option<&str>) -> Result<Option<String>> {
    let department = department.map(str::trim).filter(|d| !d.is_empty());
    match (role, department) {
        (Role::Enterprise, Some(_)) => Err(invalid("企业用户不属于政府部门，请不要选择部门")),
        (Role::Publisher | Role::Reviewer, None) => {
            Err(invalid(format!("{}必须属于一个部门，请选择部门", role.label())))
        }
        (_, Some(d)) => match tx.department(d)? {
            Some(_) => Ok(Some(d.to_string())),
            None => Err(invalid(format!("部门「{d}」不存在，请先在“部门”中添加"))),
        },
        (_, None) => Ok(None),
    }
}

/// An account as `who` may see it: the phone number in full only for those who may see
/// personal data, masked (`138****5678`) for everyone else.
pub fn shown_to(who: &Who, mut user: User) -> User {
    if !super::Permission::PersonalData.permits(who) {
        user.phone = user.phone.map(|p| crate::model::mask::phone(&p));
    }
    user
}

fn not_found(id: u64) -> AuthError {
    AuthError::NotFound(format!("账号 #{id} 不存在"))
}

impl Auth {
    /// Creates an account. Without a password, a one-time password is made and returned; the
    /// account must change it at first sign-in.
    pub fn user_create(&self, who: &Who, new: NewUser, password: Option<&str>) -> Result<(User, Option<String>)> {
        let username = check_username(&new.username)?;
        let phone = check_phone(new.phone.as_deref().unwrap_or(""))?;
        let regions = check_regions(&new.region_scope)?;
        let one_time = match password {
            Some(p) => {
                password::check(p, &username)?;
                None
            }
            None => Some(password::one_time()?),
        };
        let secret = password.map(str::to_string).or_else(|| one_time.clone()).unwrap_or_default();
        let hash = self.hash_password(&secret)?;
        let tx = self.store.write()?;
        if tx.user_by_name(&username)?.is_some() {
            return Err(invalid(format!("用户名「{username}」已存在")));
        }
        let department = check_department(&tx, new.role, new.department.as_deref())?;
        let mut user = User::new(tx.next_id("user")?, &username, new.role, hash, tx.now());
        if !new.display_name.trim().is_empty() {
            user.display_name = new.display_name.trim().to_string();
        }
        user.department = department;
        user.region_scope = regions;
        user.phone = phone;
        user.must_change_password = one_time.is_some();
        tx.put_user(&user)?;
        let detail = format!("{} {}", user.role.key(), user.department.as_deref().unwrap_or(""));
        tx.audit_new(who, action::USER_CREATE, &format!("user:{username}"), detail.trim(), &user)?;
        tx.commit()?;
        Ok((user, one_time))
    }

    pub fn user_update(&self, who: &Who, id: u64, update: UserUpdate) -> Result<User> {
        let phone = check_phone(update.phone.as_deref().unwrap_or(""))?;
        let regions = check_regions(&update.region_scope)?;
        let tx = self.store.write()?;
        let before = tx.user(id)?.ok_or_else(|| not_found(id))?;
        let department = check_department(&tx, update.role, update.department.as_deref())?;
        if who.user_id == Some(id) && (update.role != before.role || update.disabled) {
            return Err(invalid("不能修改自己的角色或停用自己的账号，请由另一位系统管理员操作"));
        }
        if (before.role == Role::Enterprise) != (update.role == Role::Enterprise) {
            return Err(invalid("企业账号与政府工作人员账号不能互相转换，请新建账号"));
        }
        let stays_admin = update.role == Role::Sysadmin && !update.disabled;
        if before.role == Role::Sysadmin && !before.disabled && !stays_admin {
            let others = tx.users()?.iter().filter(|u| u.id != id && u.role == Role::Sysadmin && !u.disabled).count();
            if others == 0 {
                return Err(invalid("这是最后一个可用的系统管理员账号，不能停用或改为其他角色"));
            }
        }
        let mut user = before.clone();
        user.display_name = match update.display_name.trim() {
            "" => user.username.clone(),
            name => name.to_string(),
        };
        user.role = update.role;
        user.department = department;
        user.region_scope = regions;
        user.phone = phone;
        user.disabled = update.disabled;
        if user == before {
            return Ok(user);
        }
        tx.put_user(&user)?;
        if user.disabled || user.role != before.role {
            tx.delete_sessions_of_user(id, None)?;
        }
        let mut changed = Vec::new();
        if user.role != before.role {
            changed.push(format!("role {} → {}", before.role.key(), user.role.key()));
        }
        if user.department != before.department {
            changed.push(format!("department → {}", user.department.as_deref().unwrap_or("-")));
        }
        if user.disabled != before.disabled {
            changed.push(if user.disabled { "disabled".into() } else { "enabled".into() });
        }
        tx.audit_edit(
            who,
            action::USER_UPDATE,
            &format!("user:{}", user.username),
            &changed.join("; "),
            &before,
            &user,
        )?;
        tx.commit()?;
        Ok(user)
    }

    /// Issues a new one-time password, unlocks the account and ends its sessions.
    pub fn user_reset_password(&self, who: &Who, id: u64) -> Result<(User, String)> {
        let one_time = password::one_time()?;
        let hash = self.hash_password(&one_time)?;
        let user = self.replace_password(who, id, hash, true, action::USER_RESET_PASSWORD)?;
        Ok((user, one_time))
    }

    /// Sets a password chosen by an operator at the command line (not one-time).
    pub fn user_set_password(&self, who: &Who, username: &str, new_password: &str) -> Result<User> {
        password::check(new_password, username)?;
        let hash = self.hash_password(new_password)?;
        let id = self.user_by_name(username)?.id;
        self.replace_password(who, id, hash, false, action::USER_SET_PASSWORD)
    }

    fn replace_password(
        &self,
        who: &Who,
        id: u64,
        hash: crate::model::user::PasswordHash,
        one_time: bool,
        action: &str,
    ) -> Result<User> {
        let tx = self.store.write()?;
        let before = tx.user(id)?.ok_or_else(|| not_found(id))?;
        let mut user = before.clone();
        user.password = hash;
        user.password_changed_at = Some(tx.now());
        user.must_change_password = one_time;
        user.failed_logins = 0;
        user.locked_until = None;
        user.hard_locked = false;
        tx.put_user(&user)?;
        tx.delete_sessions_of_user(id, None)?;
        tx.audit_edit(who, action, &format!("user:{}", user.username), "", &before, &user)?;
        tx.commit()?;
        Ok(user)
    }

    /// Lifts a lock after repeated failures.
    pub fn user_unlock(&self, who: &Who, id: u64) -> Result<User> {
        let tx = self.store.write()?;
        let before = tx.user(id)?.ok_or_else(|| not_found(id))?;
        let mut user = before.clone();
        user.hard_locked = false;
        user.locked_until = None;
        user.failed_logins = 0;
        tx.put_user(&user)?;
        tx.audit_edit(who, action::USER_UNLOCK, &format!("user:{}", user.username), "", &before, &user)?;
        tx.commit()?;
        Ok(user)
    }

    /// Changes one's own password: the current one must be right, the new one must meet the
    /// rules and differ. Every other session of the account ends; `keep` stays signed in.
    pub fn change_password(&self, user_id: u64, current: &str, new: &str, keep: Option<&[u8]>, ip: &str) -> Result<()> {
        let user = self.user(user_id)?;
        if !self.hasher.verify(current, &user.password) {
            return Err(invalid("当前密码不正确"));
        }
        password::check(new, &user.username)?;
        if current == new {
            return Err(invalid("新密码不能与当前密码相同"));
        }
        let hash = self.hash_password(new)?;
        let tx = self.store.write()?;
        let before = tx.user(user_id)?.ok_or_else(|| not_found(user_id))?;
        let mut after = before.clone();
        after.password = hash;
        after.password_changed_at = Some(tx.now());
        after.must_change_password = false;
        tx.put_user(&after)?;
        let ended = tx.delete_sessions_of_user(user_id, keep)?;
        let who = Who::user(&after, ip);
        let detail = format!("{ended} other sessions ended");
        tx.audit_edit(&who, action::ACCOUNT_PASSWORD, &format!("user:{}", after.username), &detail, &before, &after)?;
        tx.commit()?;
        Ok(())
    }

    /// Updates one's own display name and phone.
    pub fn update_profile(&self, who: &Who, user_id: u64, display_name: &str, phone: &str) -> Result<User> {
        let phone = check_phone(phone)?;
        let tx = self.store.write()?;
        let before = tx.user(user_id)?.ok_or_else(|| not_found(user_id))?;
        let mut user = before.clone();
        user.display_name =
            if display_name.trim().is_empty() { user.username.clone() } else { display_name.trim().into() };
        user.phone = phone;
        tx.put_user(&user)?;
        tx.audit_edit(who, action::ACCOUNT_PROFILE, &format!("user:{}", user.username), "", &before, &user)?;
        tx.commit()?;
        Ok(user)
    }

    pub fn users(&self) -> Result<Vec<User>> {
        Ok(self.store.read()?.users()?)
    }

    pub fn user(&self, id: u64) -> Result<User> {
        self.store.read()?.user(id)?.ok_or_else(|| not_found(id))
    }

    /// Every account as `who` may see it (see [`shown_to`]).
    pub fn users_for(&self, who: &Who) -> Result<Vec<User>> {
        Ok(self.users()?.into_iter().map(|u| shown_to(who, u)).collect())
    }

    /// One account as `who` may see it (see [`shown_to`]).
    pub fn user_for(&self, who: &Who, id: u64) -> Result<User> {
        self.user(id).map(|u| shown_to(who, u))
    }

    pub fn user_by_name(&self, username: &str) -> Result<User> {
        let name = username.trim().to_ascii_lowercase();
        self.store.read()?.user_by_name(&name)?.ok_or_else(|| AuthError::NotFound(format!("用户「{name}」不存在")))
    }

    pub fn departments(&self) -> Result<Vec<Department>> {
        Ok(self.store.read()?.department_records()?)
    }

    /// Adds a department or sets the region it serves.
    pub fn department_put(&self, who: &Who, name: &str, region: &str) -> Result<Department> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(invalid("部门名称不能为空，最长 60 个字"));
        }
        let region = check_regions(&[region.to_string()])?.into_iter().next();
        let tx = self.store.write()?;
        let before = tx.department(name)?;
        let department = Department {
            name: name.to_string(),
            region,
            created_at: before.as_ref().and_then(|d| d.created_at).or(Some(tx.now())),
        };
        if before.as_ref() == Some(&department) {
            return Ok(department);
        }
        tx.put_department(&department)?;
        let detail = department.region.as_ref().map(RegionCode::to_string).unwrap_or_default();
        tx.audit_upsert(
            who,
            action::DEPARTMENT_PUT,
            &format!("department:{name}"),
            &detail,
            before.as_ref(),
            &department,
        )?;
        tx.commit()?;
        Ok(department)
    }

    /// An account's sessions, newest first; `current` marks the caller's.
    pub fn sessions_of(&self, user_id: u64, current: Option<&[u8]>) -> Result<Vec<SessionInfo>> {
        let now = self.now();
        let mut out: Vec<SessionInfo> = self
            .store
            .read()?
            .sessions()?
            .into_iter()
            .filter(|(_, s)| s.user_id == user_id && s.expires_at > now)
            .filter(|(_, s)| s.last_active().plus_seconds(self.sessions.idle_seconds) > now)
            .map(|(key, s)| SessionInfo {
                id: hex(&key[..6.min(key.len())]),
                created_at: s.created_at,
                last_seen: s.last_active(),
                expires_at: s.expires_at,
                ip: s.ip.clone(),
                user_agent: s.user_agent.clone(),
                current: current == Some(key.as_slice()),
            })
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        Ok(out)
    }

    /// Ends one of an account's sessions, named by its list id.
    pub fn session_end(&self, who: &Who, user_id: u64, id: &str) -> Result<()> {
        let tx = self.store.write()?;
        let found = tx.sessions()?.into_iter().find(|(k, s)| s.user_id == user_id && hex(&k[..6.min(k.len())]) == id);
        let Some((key, _)) = found else {
            return Err(AuthError::NotFound("没有这个会话（可能已经退出或超时）".into()));
        };
        tx.delete_session(&key)?;
        tx.audit(who, action::ACCOUNT_SESSION_END, &format!("user:{}", who.name), id)?;
        tx.commit()?;
        Ok(())
    }

    /// Signs an account out everywhere; returns how many sessions ended.
    pub fn sessions_end_all(&self, who: &Who, user_id: u64) -> Result<u64> {
        let tx = self.store.write()?;
        let n = tx.delete_sessions_of_user(user_id, None)?;
        let target = tx.user(user_id)?.map(|u| u.username).unwrap_or_default();
        tx.audit(who, action::ACCOUNT_SESSIONS_END_ALL, &format!("user:{target}"), &format!("{n} sessions"))?;
        tx.commit()?;
        Ok(n)
    }

    /// Creates a bearer token for an account; the token is returned once and stored only as a hash.
    pub fn token_create(
        &self,
        who: &Who,
        username: &str,
        name: &str,
        scopes: &[TokenScope],
        days: Option<u32>,
    ) -> Result<(TokenInfo, String)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(invalid("请填写令牌用途（例如“市场监管数据对接”），最长 60 个字"));
        }
        if scopes.is_empty() {
            return Err(invalid("请至少选择一项权限范围"));
        }
        let tx = self.store.write()?;
        let user = tx
            .user_by_name(&username.trim().to_ascii_lowercase())?
            .ok_or_else(|| invalid(format!("用户「{username}」不存在")))?;
        let fitting = super::permissions::scopes_for(user.role);
        let unfit: Vec<&str> = scopes.iter().filter(|s| !fitting.contains(s)).map(|s| s.key()).collect();
        if !unfit.is_empty() {
            let allowed: Vec<&str> = fitting.iter().map(|s| s.key()).collect();
            return Err(invalid(format!(
                "「{}」是{}账号，不能持有权限范围 {}：令牌只能取账号角色本身拥有的权限（可选：{}）",
                user.username,
                user.role.label(),
                unfit.join("、"),
                if allowed.is_empty() { "无".to_string() } else { allowed.join("、") }
            )));
        }
        let token = format!("{TOKEN_PREFIX}{}", random_hex(32)?);
        let now = tx.now();
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        let record = ApiToken {
            id: tx.next_id("token")?,
            user_id: user.id,
            name: name.to_string(),
            created_at: now,
            expires_at: days.map(|d| now.plus_seconds(i64::from(d) * 86_400)),
            scopes,
            created_by: who.name.clone(),
            revoked_at: None,
            last_used_at: None,
            prefix: token.chars().take(TOKEN_PREFIX.len() + 6).collect(),
        };
        tx.put_token(&secret_hash(&token), &record)?;
        let scope_list = record.scopes.iter().map(|s| s.key()).collect::<Vec<_>>().join(",");
        let detail = format!("#{} {name} [{scope_list}]", record.id);
        tx.audit_new(who, action::TOKEN_CREATE, &format!("user:{}", user.username), &detail, &record)?;
        tx.commit()?;
        Ok((self.token_info(&record, &user.username), token))
    }

    fn token_info(&self, t: &ApiToken, username: &str) -> TokenInfo {
        TokenInfo {
            id: t.id,
            name: t.name.clone(),
            username: username.to_string(),
            scopes: t.scopes.iter().map(|s| s.key()).collect(),
            prefix: t.prefix.clone(),
            created_at: t.created_at,
            created_by: t.created_by.clone(),
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            last_used_at: t.last_used_at,
            active: t.usable(self.now()),
        }
    }

    /// Every token, newest first.
    pub fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let tx = self.store.read()?;
        let users: std::collections::HashMap<u64, String> =
            tx.users()?.into_iter().map(|u| (u.id, u.username)).collect();
        let mut out: Vec<TokenInfo> = tx
            .tokens()?
            .iter()
            .map(|(_, t)| self.token_info(t, users.get(&t.user_id).map_or("?", String::as_str)))
            .collect();
        out.sort_by_key(|t| std::cmp::Reverse(t.id));
        Ok(out)
    }

    pub fn token_revoke(&self, who: &Who, id: u64) -> Result<TokenInfo> {
        let tx = self.store.write()?;
        let found = tx.tokens()?.into_iter().find(|(_, t)| t.id == id);
        let Some((key, before)) = found else { return Err(AuthError::NotFound(format!("令牌 #{id} 不存在"))) };
        let mut token = before.clone();
        if token.revoked_at.is_none() {
            token.revoked_at = Some(tx.now());
            tx.put_token(&key, &token)?;
            tx.audit_edit(who, action::TOKEN_REVOKE, &format!("token:{id}"), &token.name, &before, &token)?;
        }
        let username = tx.user(token.user_id)?.map(|u| u.username).unwrap_or_default();
        tx.commit()?;
        Ok(self.token_info(&token, &username))
    }
}
