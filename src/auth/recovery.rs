//! 忘记密码 by SMS: a 6-digit code sent to the phone on an enterprise account, kept only as a
//! salted hash, valid ten minutes, for one use and at most five tries; sends limited per account
//! (one a minute, five a day). The answer to a request never says whether the account exists.
//! Staff accounts are reset by a system administrator instead (账号管理 → 重置密码).
//!
//! Also the user agreement and privacy notice that registration asks consent to: versioned
//! texts an administrator edits.

use std::fmt;

use super::{Auth, AuthError, Result, password, random_bytes, random_hex, same_secret, secret_hash};
use crate::model::audit::action;
use crate::model::audit::hex;
use crate::model::{Agreement, AgreementKind, Recovery, Role, User, Vocabulary, Who};
use crate::store::WriteTx;
use crate::store::prelude::*;

/// How long a code is valid.
pub const CODE_SECONDS: i64 = 10 * 60;
/// Wrong entries a code survives; the fifth wrong one voids it.
pub const CODE_TRIES: u32 = 5;
/// At least this long between two codes for one account.
pub const SEND_GAP_SECONDS: i64 = 60;
/// At most this many codes per account in 24 hours.
pub const SENDS_PER_DAY: usize = 5;
/// The longest agreement text.
pub const AGREEMENT_MAX_CHARS: usize = 50_000;

const DAY_SECONDS: i64 = 24 * 3600;

/// What every request for a code is told, whether or not the account exists.
pub const CODE_REQUESTED: &str = "如果该账号存在并登记了手机号，验证码已通过短信发送，10 分钟内有效。\
     收不到短信（未登记手机号、手机号已更换、政府工作人员账号）请联系办事大厅或系统管理员重置密码。";
const CODE_INVALID: &str = "验证码不正确或已失效，请核对短信，或重新获取验证码";

/// A code to send: the only place it exists in clear. Its `Debug` shows neither.
pub struct CodeMessage {
    pub phone: String,
    pub text: String,
}

impl fmt::Debug for CodeMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeMessage(<redacted>)")
    }
}

/// Something that sends a text message (the SMS gateway).
pub trait TextSender: Send + Sync {
    fn send_text(&self, phone: &str, text: &str) -> std::result::Result<(), String>;
}

fn invalid(message: impl Into<String>) -> AuthError {
    AuthError::Invalid(message.into())
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// The enterprise account a person names by username or by its phone (if exactly one
/// enterprise account has that phone).
fn find_account(tx: &WriteTx, identifier: &str) -> Result<Option<User>> {
    let name = identifier.to_ascii_lowercase();
    if let Some(user) = tx.user_by_name(&name)? {
        return Ok(Some(user));
    }
    let wanted = digits(identifier);
    let phone_like = wanted.len() >= 7 && identifier.chars().all(|c| c.is_ascii_digit() || "+- ()".contains(c));
    if !phone_like {
        return Ok(None);
    }
    let mut found: Vec<User> = tx
        .users()?
        .into_iter()
        .filter(|u| u.role == Role::Enterprise && u.phone.as_deref().is_some_and(|p| digits(p) == wanted))
        .collect();
    Ok(if found.len() == 1 { found.pop() } else { None })
}

fn code_hash(salt: &str, code: &str) -> Vec<u8> {
    secret_hash(&format!("{salt}:{code}"))
}

fn clean_identifier(identifier: &str) -> Result<String> {
    let id: String = identifier.trim().chars().take(64).collect();
    if id.is_empty() {
        return Err(invalid("请填写用户名或注册时登记的手机号"));
    }
    Ok(id)
}

/// A six-digit code, leading zeros kept.
fn new_code() -> Result<String> {
    let bytes = random_bytes(8)?;
    let mut n = 0u64;
    for b in bytes {
        n = (n << 8) | u64::from(b);
    }
    Ok(format!("{:06}", n % 1_000_000))
}

/// The placeholder texts until an administrator saves the office's own.
pub fn default_agreement(kind: AgreementKind) -> Agreement {
    let text = match kind {
        AgreementKind::Terms => DEFAULT_TERMS,
        AgreementKind::Privacy => DEFAULT_PRIVACY,
    };
    Agreement { kind, version: 1, text: text.to_string(), saved_at: None, saved_by: String::new() }
}

const DEFAULT_TERMS: &str = "【示例文本，请本单位修改后使用】

惠企政策服务平台用户协议

一、本平台由本地人民政府有关部门（以下简称“运营单位”）建设和运营，为经营主体提供政策查询、匹配推送、申报、审核、公示和兑付信息等服务。

二、注册账号须使用真实信息。您代表经营主体办理事项的，应当具有相应授权；运营单位可以核验您与经营主体的关系。

三、请妥善保管账号和密码，不要转借他人。通过您的账号进行的操作视为您本人的操作。

四、申报材料应当真实、准确、完整。提供虚假材料骗取政策资金的，运营单位将依法追回资金，并依照有关规定处理。

五、运营单位可以根据法律法规和工作需要调整服务内容和本协议，调整后的协议在本平台公布。

六、运营单位的名称、地址和联系电话：（请填写）。

本文本为系统默认示例，运营单位应当结合本地实际修改，并经法制审核后发布。";

const DEFAULT_PRIVACY: &str = "【示例文本，请本单位修改后使用】

惠企政策服务平台隐私政策

一、我们收集的信息：注册时的用户名、联系人姓名、联系电话；您代表的经营主体的统一社会信用代码和名称；申报时填写和上传的材料；登录时间、IP 地址等安全日志。

二、使用目的：核验身份与授权、政策匹配与推送、办理申报和兑付、找回密码、保障系统安全。我们不会将您的个人信息用于上述目的以外的用途。

三、共享与公开：依法需要的，在有关政府部门之间共享；公示名单只公开经营主体名称、所在地和金额，不公开个人姓名、证件号码和电话。

四、保存期限：按照政务档案管理的有关规定保存。

五、您的权利：您可以查询、更正本人的信息，可以申请注销账号。

六、个人信息保护负责人及联系方式：（请填写）。

本文本为系统默认示例，运营单位应当结合本地实际，依照《中华人民共和国个人信息保护法》修改后发布。";

impl Auth {
    /// Asks for a recovery code for the account named by username or phone. `Some` is a code to
    /// send now; `None` when nothing is sent (no such account, a staff account, no phone, no
    /// gateway, or the account's limit reached) — the caller answers the same either way.
    /// Every request is audited.
    pub fn password_forgot(&self, identifier: &str, ip: &str, can_send: bool) -> Result<Option<CodeMessage>> {
        let identifier = clean_identifier(identifier)?;
        let tx = self.store.write()?;
        let now = tx.now();
        let user = find_account(&tx, &identifier)?;
        let Some(user) = user else {
            tx.audit(
                &Who::anonymous(&identifier, ip),
                action::AUTH_RECOVERY_CODE,
                &format!("user:{identifier}"),
                "not sent: unknown account",
            )?;
            tx.commit()?;
            return Ok(None);
        };
        let who = Who::user(&user, ip);
        let target = format!("user:{}", user.username);
        let mut record = tx.recovery(user.id)?.unwrap_or(Recovery {
            user_id: user.id,
            code_hash: Vec::new(),
            salt: String::new(),
            expires_at: now,
            tries: 0,
            sent: Vec::new(),
        });
        record.sent.retain(|t| t.plus_seconds(DAY_SECONDS) > now);
        let refused = match &user.phone {
            _ if user.role.is_staff() => Some("staff account: reset by an administrator"),
            _ if user.disabled => Some("account disabled"),
            None => Some("no phone on the account"),
            Some(_) if !can_send => Some("no SMS gateway configured"),
            Some(_) if record.sent.last().is_some_and(|t| t.plus_seconds(SEND_GAP_SECONDS) > now) => {
                Some("limit: one code a minute")
            }
            Some(_) if record.sent.len() >= SENDS_PER_DAY => Some("limit: five codes a day"),
            Some(_) => None,
        };
        if let Some(why) = refused {
            tx.audit(&who, action::AUTH_RECOVERY_CODE, &target, &format!("not sent: {why}"))?;
            tx.commit()?;
            return Ok(None);
        }
        let phone = user.phone.clone().unwrap_or_default();
        let code = new_code()?;
        record.salt = random_hex(16)?;
        record.code_hash = code_hash(&record.salt, &code);
        record.expires_at = now.plus_seconds(CODE_SECONDS);
        record.tries = 0;
        record.sent.push(now);
        tx.put_recovery(&record)?;
        let detail = format!("sent to {}", crate::model::mask::phone(&phone));
        tx.audit(&who, action::AUTH_RECOVERY_CODE, &target, &detail)?;
        tx.commit()?;
        let text = format!(
            "【惠企】您正在找回账号 {} 的密码，验证码 {code}，{} 分钟内有效。如非本人操作，请忽略本短信。",
            user.username,
            CODE_SECONDS / 60
        );
        Ok(Some(CodeMessage { phone, text }))
    }

    /// Sets a new password with a code from [`Auth::password_forgot`]: the code must be the
    /// latest, unexpired and unused; a wrong one counts, the fifth voids it. On success the
    /// account is unlocked and every one of its sessions ends.
    pub fn password_recover(&self, identifier: &str, code: &str, new_password: &str, ip: &str) -> Result<User> {
        let identifier = clean_identifier(identifier)?;
        let code = code.trim();
        if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid("验证码是短信中的 6 位数字"));
        }
        let now = self.now();
        let usable = |r: &Recovery| !r.code_hash.is_empty() && r.expires_at > now && r.tries < CODE_TRIES;
        let matches = |r: &Recovery| same_secret(&hex(&code_hash(&r.salt, code)), &hex(&r.code_hash));
        // First look without changing anything: a right code with a weak password keeps the code.
        let (user, record) = {
            let tx = self.store.write()?;
            let user = find_account(&tx, &identifier)?.filter(|u| u.role == Role::Enterprise && !u.disabled);
            let Some(user) = user else { return Err(invalid(CODE_INVALID)) };
            let record = tx.recovery(user.id)?.filter(usable);
            let Some(record) = record else { return Err(invalid(CODE_INVALID)) };
            if !matches(&record) {
                let mut record = record;
                record.tries += 1;
                if record.tries >= CODE_TRIES {
                    record.code_hash.clear();
                }
                tx.put_recovery(&record)?;
                let detail = format!("wrong code ({} of {CODE_TRIES})", record.tries);
                tx.audit(
                    &Who::user(&user, ip),
                    action::AUTH_RECOVERY_FAILED,
                    &format!("user:{}", user.username),
                    &detail,
                )?;
                tx.commit()?;
                return Err(invalid(CODE_INVALID));
            }
            (user, record)
        };
        password::check(new_password, &user.username)?;
        let hash = self.hash_password(new_password)?;
        let tx = self.store.write()?;
        // The same code, still usable: nothing used it in between.
        let current = tx.recovery(user.id)?.filter(|r| usable(r) && r.code_hash == record.code_hash);
        let Some(mut current) = current else { return Err(invalid(CODE_INVALID)) };
        let before = tx.user(user.id)?.ok_or_else(|| invalid(CODE_INVALID))?;
        let mut after = before.clone();
        after.password = hash;
        after.password_changed_at = Some(tx.now());
        after.must_change_password = false;
        after.failed_logins = 0;
        after.last_failed_at = None;
        after.locked_until = None;
        after.hard_locked = false;
        tx.put_user(&after)?;
        current.code_hash.clear();
        current.tries = 0;
        tx.put_recovery(&current)?;
        let ended = tx.delete_sessions_of_user(user.id, None)?;
        let detail = format!("by SMS code; {ended} sessions ended");
        let target = format!("user:{}", after.username);
        tx.audit_edit(&Who::user(&after, ip), action::AUTH_PASSWORD_RECOVERED, &target, &detail, &before, &after)?;
        tx.commit()?;
        Ok(after)
    }

    /// The version of an agreement in force (the built-in placeholder until one is saved).
    pub fn agreement(&self, kind: AgreementKind) -> Result<Agreement> {
        Ok(self.store.read()?.agreement_latest(kind)?.unwrap_or_else(|| default_agreement(kind)))
    }

    /// A given version of an agreement, if it exists.
    pub fn agreement_version(&self, kind: AgreementKind, version: u32) -> Result<Option<Agreement>> {
        let saved = self.store.read()?.agreement(kind, version)?;
        Ok(saved.or_else(|| (version == 1).then(|| default_agreement(kind))))
    }

    /// Saves a new version of an agreement (an unchanged text makes none). Accounts that
    /// accepted an older version keep working; their record shows which one they accepted.
    pub fn agreement_save(&self, who: &Who, kind: AgreementKind, text: &str) -> Result<Agreement> {
        let text = text.trim().replace("\r\n", "\n");
        if text.is_empty() {
            return Err(invalid(format!("{}的内容不能为空", kind.label())));
        }
        let length = text.chars().count();
        if length > AGREEMENT_MAX_CHARS {
            return Err(invalid(format!("{}最长 {AGREEMENT_MAX_CHARS} 字（现在 {length} 字）", kind.label())));
        }
        let tx = self.store.write()?;
        let saved = tx.agreement_latest(kind)?;
        let current = saved.clone().unwrap_or_else(|| default_agreement(kind));
        if current.text == text {
            return Ok(current);
        }
        let agreement = Agreement {
            kind,
            version: current.version + 1,
            text,
            saved_at: Some(tx.now()),
            saved_by: who.name.clone(),
        };
        tx.put_agreement(&agreement)?;
        let detail = format!("version {}", agreement.version);
        let target = format!("agreement:{}", kind.key());
        tx.audit_upsert(who, action::AGREEMENT_UPDATE, &target, &detail, saved.as_ref(), &agreement)?;
        tx.commit()?;
        Ok(agreement)
    }
}

/// The versions in force, inside a transaction (registration checks what was shown).
pub(super) fn versions_in(tx: &WriteTx) -> Result<(u32, u32)> {
    let version = |kind| -> Result<u32> { Ok(tx.agreement_latest(kind)?.map_or(1, |a| a.version)) };
    Ok((version(AgreementKind::Terms)?, version(AgreementKind::Privacy)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..200 {
            let c = new_code().unwrap();
            assert_eq!(c.len(), 6, "{c}");
            assert!(c.chars().all(|d| d.is_ascii_digit()));
        }
    }

    #[test]
    fn the_message_does_not_show_in_debug() {
        let m = CodeMessage { phone: "13800001111".into(), text: "验证码 123456".into() };
        assert!(!format!("{m:?}").contains("123456"));
    }
}
