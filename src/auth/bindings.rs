//! Enterprise accounts: registration, binding an account to the entities it acts for (verified
//! by staff or with a one-time invitation code from a notice letter), and the codes themselves.

use serde::Serialize;

use super::accounts::check_phone;
use super::{Auth, AuthError, Client, Result, password, random_bytes, secret_hash};
use crate::model::audit::action;
use crate::model::codes::CodeError;
use crate::model::{
    Binding, BindingMethod, BindingStatus, Capacity, Consent, CreditCode, Invitation, Role, User, Vocabulary, Who,
};
use crate::store::WriteTx;
use crate::store::prelude::*;

/// Invitation codes: 12 characters without look-alikes (no 0/O, 1/I/L), about 60 bits.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub const INVITATION_DAYS_DEFAULT: u32 = 90;

/// What a person fills in to register an enterprise account.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub username: String,
    pub password: String,
    pub display_name: String,
    pub phone: String,
    pub bind: BindRequest,
    /// The versions of the user agreement and privacy notice the person was shown and agreed
    /// to; `None` if they did not tick the box.
    pub agreed: Option<(u32, u32)>,
}

/// A claim to act for an entity, with an invitation code if the person has the letter.
#[derive(Debug, Clone)]
pub struct BindRequest {
    pub credit_code: String,
    pub entity_name: String,
    pub capacity: Capacity,
    pub invitation: String,
}

impl Default for BindRequest {
    fn default() -> Self {
        BindRequest {
            credit_code: String::new(),
            entity_name: String::new(),
            capacity: Capacity::Agent,
            invitation: String::new(),
        }
    }
}

/// A binding with what staff need to decide it.
#[derive(Debug, Clone, Serialize)]
pub struct BindingRow {
    pub binding: Binding,
    pub username: String,
    pub display_name: String,
    pub phone: Option<String>,
    /// The entity's name in the library, to compare with what the user typed.
    pub library_name: Option<String>,
}

fn invalid(message: impl Into<String>) -> AuthError {
    AuthError::Invalid(message.into())
}

/// Names compare without spaces and with full-width brackets made half-width.
fn same_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| match c {
                '（' => '(',
                '）' => ')',
                other => other,
            })
            .collect()
    };
    norm(a) == norm(b)
}

/// A credit code that does not parse, as binding and invitation forms refuse it.
pub fn bad_credit_code(e: CodeError) -> AuthError {
    invalid(format!("统一社会信用代码：{e}"))
}

/// No binding request of this account for this credit code (as the caller wrote the code).
pub fn no_binding_request(user_id: u64, code: &str) -> AuthError {
    AuthError::NotFound(format!("没有账号 #{user_id} 对 {code} 的绑定申请"))
}

/// No such binding of the caller's own.
pub fn no_own_binding() -> AuthError {
    AuthError::NotFound("没有这个绑定".into())
}

/// An invitation code as typed: upper-case, separators dropped.
pub fn normalize_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

fn new_code() -> Result<String> {
    let bytes = random_bytes(12)?;
    let raw: String = bytes.iter().map(|b| CODE_ALPHABET[*b as usize % CODE_ALPHABET.len()] as char).collect();
    Ok(format!("{}-{}-{}", &raw[..4], &raw[4..8], &raw[8..]))
}

impl Auth {
    /// Registers an enterprise account and its first binding: verified at once with a valid
    /// invitation code for that entity, otherwise waiting for staff to verify it.
    pub fn register(&self, reg: &Registration, client: &Client) -> Result<(User, Binding)> {
        let username = reg.username.trim().to_ascii_lowercase();
        let ok = (3..=32).contains(&username.len())
            && username.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c));
        if !ok {
            return Err(invalid("用户名应为 3–32 位小写字母、数字或 . _ -"));
        }
        password::check(&reg.password, &username)?;
        let phone = check_phone(&reg.phone)?.ok_or_else(|| invalid("请填写联系电话，核验绑定时工作人员会联系您"))?;
        if reg.display_name.trim().is_empty() {
            return Err(invalid("请填写联系人姓名"));
        }
        let Some((terms, privacy)) = reg.agreed else {
            return Err(invalid("请阅读《用户协议》和《隐私政策》，勾选同意后再注册"));
        };
        let hash = self.hash_password(&reg.password)?;
        let tx = self.store.write()?;
        let now = tx.now();
        if tx.user_by_name(&username)?.is_some() {
            return Err(invalid(format!("用户名「{username}」已被使用，请换一个")));
        }
        let in_force = super::recovery::versions_in(&tx)?;
        if (terms, privacy) != in_force {
            return Err(invalid(format!(
                "《用户协议》或《隐私政策》已更新（现为用户协议第 {} 版、隐私政策第 {} 版），请重新阅读后勾选同意",
                in_force.0, in_force.1
            )));
        }
        let mut user = User::new(tx.next_id("user")?, &username, Role::Enterprise, hash, now);
        user.display_name = reg.display_name.trim().to_string();
        user.phone = Some(phone);
        user.consent = Some(Consent { terms_version: terms, privacy_version: privacy, at: now });
        let who = Who::user(&user, &client.ip);
        tx.put_user(&user)?;
        let detail = format!("accepted terms v{terms}, privacy v{privacy}");
        tx.audit_new(&who, action::ACCOUNT_REGISTER, &format!("user:{username}"), &detail, &user)?;
        let binding = self.bind_in(&tx, &who, &user, &reg.bind)?;
        tx.commit()?;
        Ok((user, binding))
    }

    /// A signed-in enterprise account asks to act for another entity.
    pub fn binding_request(&self, user_id: u64, req: &BindRequest, ip: &str) -> Result<Binding> {
        let tx = self.store.write()?;
        let user = tx.user(user_id)?.ok_or_else(|| AuthError::NotFound("账号不存在".into()))?;
        if user.role != Role::Enterprise {
            return Err(AuthError::Forbidden("只有企业账号可以绑定经营主体".into()));
        }
        let binding = self.bind_in(&tx, &Who::user(&user, ip), &user, req)?;
        tx.commit()?;
        Ok(binding)
    }

    fn bind_in(&self, tx: &WriteTx, who: &Who, user: &User, req: &BindRequest) -> Result<Binding> {
        let now = tx.now();
        let code = CreditCode::parse(&req.credit_code).map_err(bad_credit_code)?;
        let code = code.as_str().to_string();
        if req.entity_name.trim().is_empty() {
            return Err(invalid("请填写企业名称（与营业执照一致）"));
        }
        let entity = tx.entity_by_code(&code)?.ok_or_else(|| {
            invalid(format!("经营主体库中没有统一社会信用代码 {code}，请核对；新设立的企业请联系帮办专员"))
        })?;
        if !entity.name.as_deref().is_some_and(|n| same_name(n, &req.entity_name)) {
            return Err(invalid("企业名称与统一社会信用代码不一致，请按营业执照填写全称"));
        }
        let before = tx.binding(user.id, &code)?;
        match before.as_ref().map(|b| b.status) {
            Some(BindingStatus::Verified) => return Err(invalid("您已绑定该企业，无需重复申请")),
            Some(BindingStatus::Pending) if req.invitation.trim().is_empty() => {
                return Err(invalid("绑定申请已提交，正在等待工作人员核验；如有邀请码可直接填写"));
            }
            _ => {}
        }
        let mut binding = Binding {
            user_id: user.id,
            credit_code: code.clone(),
            entity_name: req.entity_name.trim().to_string(),
            capacity: req.capacity,
            status: BindingStatus::Pending,
            requested_at: now,
            decided_at: None,
            decided_by: None,
            method: None,
            note: String::new(),
        };
        let typed = normalize_code(&req.invitation);
        if !typed.is_empty() {
            let pretty = if typed.len() == 12 {
                format!("{}-{}-{}", &typed[..4], &typed[4..8], &typed[8..])
            } else {
                typed.clone()
            };
            let found = tx.invitation_by_hash(&secret_hash(&pretty))?;
            let Some(mut invitation) = found.filter(|i| i.usable(now) && i.credit_code == code) else {
                return Err(invalid("邀请码无效：可能输错、已使用、已过期，或不是这家企业的邀请码"));
            };
            invitation.used_by = Some(user.id);
            invitation.used_at = Some(now);
            tx.put_invitation(&invitation)?;
            binding.status = BindingStatus::Verified;
            binding.decided_at = Some(now);
            binding.decided_by = Some(format!("invitation #{}", invitation.id));
            binding.method = Some(BindingMethod::Invitation);
        }
        tx.put_binding(&binding)?;
        let action =
            if binding.status == BindingStatus::Verified { action::BINDING_VERIFY } else { action::BINDING_REQUEST };
        let detail = format!("{} {}", binding.capacity.key(), binding.method.map_or("", |m| m.key()));
        tx.audit_upsert(who, action, &format!("entity:{code}"), detail.trim(), before.as_ref(), &binding)?;
        Ok(binding)
    }

    /// Staff decide a pending binding, or end a verified one. A rejection needs a reason.
    pub fn binding_decide(
        &self,
        who: &Who,
        user_id: u64,
        code: &CreditCode,
        status: BindingStatus,
        note: &str,
    ) -> Result<Binding> {
        let note = note.trim();
        let tx = self.store.write()?;
        let before = tx.binding(user_id, code.as_str())?.ok_or_else(|| no_binding_request(user_id, code.as_str()))?;
        check_region(&tx, who, code)?;
        let allowed = matches!(
            (before.status, status),
            (BindingStatus::Pending, BindingStatus::Verified | BindingStatus::Rejected)
                | (BindingStatus::Verified, BindingStatus::Revoked)
        );
        if !allowed {
            return Err(invalid(format!("该绑定当前为“{}”，不能改为“{}”", before.status.label(), status.label())));
        }
        if status == BindingStatus::Rejected && note.is_empty() {
            return Err(invalid("不通过时请写明原因，企业会看到它"));
        }
        let mut binding = before.clone();
        binding.status = status;
        binding.decided_at = Some(tx.now());
        binding.decided_by = Some(who.name.clone());
        if status == BindingStatus::Verified {
            binding.method = Some(BindingMethod::Staff);
        }
        binding.note = note.to_string();
        tx.put_binding(&binding)?;
        let action = match status {
            BindingStatus::Verified => action::BINDING_VERIFY,
            BindingStatus::Rejected => action::BINDING_REJECT,
            _ => action::BINDING_REVOKE,
        };
        tx.audit_edit(who, action, &format!("entity:{code}"), &format!("user #{user_id} {note}"), &before, &binding)?;
        tx.commit()?;
        Ok(binding)
    }

    /// An enterprise user gives up acting for an entity.
    pub fn binding_leave(&self, who: &Who, user_id: u64, code: &CreditCode) -> Result<Binding> {
        let tx = self.store.write()?;
        let before = tx.binding(user_id, code.as_str())?.ok_or_else(no_own_binding)?;
        let mut binding = before.clone();
        binding.status = BindingStatus::Revoked;
        binding.decided_at = Some(tx.now());
        binding.decided_by = Some(who.name.clone());
        binding.note = "本人解除".into();
        tx.put_binding(&binding)?;
        tx.audit_edit(who, action::BINDING_LEAVE, &format!("entity:{code}"), "", &before, &binding)?;
        tx.commit()?;
        Ok(binding)
    }

    pub fn bindings_of_user(&self, user_id: u64) -> Result<Vec<Binding>> {
        Ok(self.store.read()?.bindings_of_user(user_id)?)
    }

    /// Bindings with the account and library details, pending first, then the newest.
    pub fn binding_rows(
        &self,
        who: &Who,
        status: Option<BindingStatus>,
        code: Option<&str>,
    ) -> Result<Vec<BindingRow>> {
        let personal = super::Permission::PersonalData.permits(who);
        let tx = self.store.read()?;
        let bindings = match code {
            Some(c) => tx.bindings_of_entity(c)?,
            None => tx.bindings()?,
        };
        let mut rows = Vec::new();
        for b in bindings.into_iter().filter(|b| status.is_none_or(|s| b.status == s)) {
            let user = tx.user(b.user_id)?;
            let entity = tx.entity_by_code(&b.credit_code)?;
            if !who.sees_region(entity.as_ref().and_then(|e| e.region.as_ref())) {
                continue;
            }
            let library_name = entity.and_then(|e| e.name);
            rows.push(BindingRow {
                username: user.as_ref().map(|u| u.username.clone()).unwrap_or_default(),
                display_name: user.as_ref().map(|u| u.display_name.clone()).unwrap_or_default(),
                // Phone numbers in full only for those who may see personal data.
                phone: user.and_then(|u| u.phone).map(|p| if personal { p } else { crate::model::mask::phone(&p) }),
                library_name,
                binding: b,
            });
        }
        rows.sort_by(|a, b| {
            (a.binding.status != BindingStatus::Pending)
                .cmp(&(b.binding.status != BindingStatus::Pending))
                .then(b.binding.requested_at.cmp(&a.binding.requested_at))
        });
        Ok(rows)
    }

    /// Makes an invitation code for an entity, valid for `days`. The code is returned once.
    pub fn invitation_create(&self, who: &Who, code: &CreditCode, days: u32) -> Result<(Invitation, String)> {
        if !(1..=365).contains(&days) {
            return Err(invalid("有效期应为 1–365 天"));
        }
        let plain = new_code()?;
        let tx = self.store.write()?;
        let now = tx.now();
        if tx.entity_id_by_code(code.as_str())?.is_none() {
            return Err(invalid(format!("经营主体库中没有统一社会信用代码 {code}")));
        }
        check_region(&tx, who, code)?;
        let invitation = Invitation {
            id: tx.next_id("invitation")?,
            credit_code: code.as_str().to_string(),
            code_hash: secret_hash(&plain),
            hint: plain.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect(),
            created_by: who.name.clone(),
            created_at: now,
            expires_at: now.plus_seconds(i64::from(days) * 86_400),
            used_by: None,
            used_at: None,
            revoked_at: None,
        };
        tx.put_invitation(&invitation)?;
        let detail = format!("#{} ({days} days)", invitation.id);
        tx.audit_new(who, action::INVITATION_CREATE, &format!("entity:{code}"), &detail, &invitation)?;
        tx.commit()?;
        Ok((invitation, plain))
    }

    pub fn invitation_revoke(&self, who: &Who, id: u64) -> Result<Invitation> {
        let tx = self.store.write()?;
        let before = tx.invitation(id)?.ok_or_else(|| AuthError::NotFound(format!("邀请码 #{id} 不存在")))?;
        if before.used_by.is_some() {
            return Err(invalid("邀请码已被使用，不能作废；如需解除绑定，请在“企业绑定”中操作"));
        }
        let mut invitation = before.clone();
        invitation.revoked_at.get_or_insert(tx.now());
        tx.put_invitation(&invitation)?;
        let target = format!("entity:{}", invitation.credit_code);
        tx.audit_edit(who, action::INVITATION_REVOKE, &target, &format!("#{id}"), &before, &invitation)?;
        tx.commit()?;
        Ok(invitation)
    }

    pub fn invitations(&self, credit_code: Option<&str>, limit: usize) -> Result<Vec<Invitation>> {
        Ok(self.store.read()?.invitations(credit_code, limit)?)
    }
}

/// Staff verify bindings and issue codes only for entities within their region.
fn check_region(tx: &crate::store::WriteTx, who: &Who, code: &CreditCode) -> Result<()> {
    let region = tx.entity_by_code(code.as_str())?.and_then(|e| e.region);
    if who.sees_region(region.as_ref()) {
        Ok(())
    } else {
        Err(AuthError::Forbidden(format!("经营主体 {code} 不在本账号的辖区内")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names() {
        let code = new_code().unwrap();
        assert_eq!(code.len(), 14);
        assert_eq!(normalize_code(&code.to_lowercase().replace('-', " ")), code.replace('-', ""));
        assert!(same_name("哈尔滨（示例）科技有限公司", "哈尔滨(示例)科技 有限公司"));
        assert!(!same_name("哈尔滨科技有限公司", "哈尔滨科技公司"));
    }
}
