//! The audit trail: who did what to which record, with digests of the record before and after,
//! chained by SHA-256 so that an edited, removed or reordered entry shows.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::codes::{CreditCode, RegionCode};
use super::date::Timestamp;
use super::enums::Vocabulary;
use super::user::{Role, TokenScope, User};

/// Who performs an action, as the audit trail records it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Who {
    /// The account's id; `None` for the system and the command line.
    pub user_id: Option<u64>,
    pub name: String,
    pub role: Option<Role>,
    /// The client's address, or where the action came from (`cli`, `system`).
    pub ip: String,
    /// The staff account's department: a publisher changes only its measures, a reviewer
    /// decides only its cases.
    pub department: Option<String>,
    /// Region codes the account's data is limited to; empty means no limit (see
    /// `auth::Principal::regions`).
    pub regions: Vec<RegionCode>,
    /// For an enterprise account: the credit codes it is verified to act for.
    pub entities: Vec<CreditCode>,
    /// For a caller with an API token: the scopes the token grants (`None`: the role's whole
    /// permission set).
    pub scopes: Option<Vec<TokenScope>>,
}

impl Who {
    /// The program itself or an operator at the command line.
    pub fn system(name: &str) -> Who {
        Who { name: name.to_string(), ip: "local".into(), ..Who::default() }
    }

    /// An account, without a region limit (the principal adds the one it computed).
    pub fn user(user: &User, ip: &str) -> Who {
        let department = if user.role.is_staff() { user.department.clone() } else { None };
        Who {
            user_id: Some(user.id),
            name: user.username.clone(),
            role: Some(user.role),
            ip: ip.to_string(),
            department,
            regions: Vec::new(),
            entities: Vec::new(),
            scopes: None,
        }
    }

    /// Whether an enterprise account acts for this entity.
    pub fn acts_for(&self, credit_code: impl AsRef<str>) -> bool {
        self.entities.iter().any(|c| c.as_str() == credit_code.as_ref())
    }

    /// Whether a region is within the actor's scope (entities without a region are visible
    /// only to actors without a limit).
    pub fn sees_region(&self, region: Option<&RegionCode>) -> bool {
        self.regions.is_empty() || region.is_some_and(|r| self.regions.iter().any(|s| r.within(s.as_str())))
    }

    /// The actor's regions as messages name them: `230125、230126`.
    pub fn regions_text(&self) -> String {
        self.regions.iter().map(RegionCode::as_str).collect::<Vec<_>>().join("、")
    }

    /// Someone not signed in (registration, a failed sign-in for an unknown name).
    pub fn anonymous(name: &str, ip: &str) -> Who {
        Who { name: name.to_string(), ip: ip.to_string(), ..Who::default() }
    }

    /// The actor as an entity's change history records it.
    pub fn as_actor(&self) -> super::entity::Actor {
        match self.user_id {
            Some(id) => super::entity::Actor::User { id, username: self.name.clone() },
            None => super::entity::Actor::System { what: self.name.clone() },
        }
    }

    pub fn role_key(&self) -> &'static str {
        self.role.map_or("", Role::key)
    }
}

/// One entry of the audit trail, written in the same transaction as the change it records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: Timestamp,
    pub actor: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub ip: String,
    pub action: String,
    pub target: String,
    #[serde(default)]
    pub detail: String,
    /// SHA-256 (hex) of the record before the change, if there was one.
    #[serde(default)]
    pub before: Option<String>,
    /// SHA-256 (hex) of the record after the change, if there is one.
    #[serde(default)]
    pub after: Option<String>,
    /// The hash of the previous entry (64 zeros for the first).
    #[serde(default)]
    pub prev: String,
    /// SHA-256 over this entry's fields and `prev`.
    #[serde(default)]
    pub hash: String,
}

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of some bytes, as hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

impl AuditEntry {
    /// The hash this entry should carry: SHA-256 over a fixed, length-prefixed layout of every
    /// field but `hash`, so that it does not depend on how records are encoded.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"huiqi-audit-1\0");
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u32).to_le_bytes());
            h.update(bytes);
        };
        field(&self.seq.to_le_bytes());
        field(&self.at.0.to_le_bytes());
        for text in [&self.actor, &self.role, &self.ip, &self.action, &self.target, &self.detail] {
            field(text.as_bytes());
        }
        for digest in [&self.before, &self.after] {
            field(digest.as_deref().unwrap_or("-").as_bytes());
        }
        field(self.prev.as_bytes());
        hex(&h.finalize())
    }

    /// Fills `prev` and `hash` to follow an entry whose hash is `prev`.
    pub fn seal(&mut self, prev: &str) {
        self.prev = prev.to_string();
        self.hash = self.compute_hash();
    }
}

/// What `audit verify` found at the first broken link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    pub seq: u64,
    pub reason: String,
}

/// The outcome of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub entries: u64,
    pub head: String,
    pub broken: Option<BrokenLink>,
}

/// Checks a chain given in sequence order as (key, decoded entry or decoding error), against the
/// head recorded separately (last sequence number and hash). Stops at the first broken link.
pub fn verify_chain<I>(rows: I, head: Option<(u64, String)>) -> ChainReport
where
    I: IntoIterator<Item = (u64, Result<AuditEntry, String>)>,
{
    let mut prev = GENESIS.to_string();
    let mut last_seq = 0u64;
    let mut entries = 0u64;
    let broken = |seq: u64, reason: String| Some(BrokenLink { seq, reason });
    for (key, entry) in rows {
        entries += 1;
        let report = |b| ChainReport { entries, head: prev.clone(), broken: b };
        let entry = match entry {
            Ok(e) => e,
            Err(e) => return report(broken(key, format!("record {key} cannot be read: {e}"))),
        };
        if entry.seq != key {
            return report(broken(key, format!("record stored under {key} says it is number {}", entry.seq)));
        }
        if key != last_seq + 1 {
            return report(broken(key, format!("records {} to {} are missing", last_seq + 1, key - 1)));
        }
        if entry.prev != prev {
            return report(broken(
                key,
                format!("record {key} does not follow record {last_seq} (previous hash differs)"),
            ));
        }
        if entry.compute_hash() != entry.hash {
            return report(broken(key, format!("record {key} was changed after it was written (hash differs)")));
        }
        prev = entry.hash;
        last_seq = key;
    }
    let tail = match head {
        Some((seq, _)) if seq > last_seq => {
            broken(last_seq + 1, format!("records {} to {seq} were removed from the end", last_seq + 1))
        }
        Some((seq, hash)) if seq == last_seq && hash != prev => {
            broken(seq, format!("record {seq} differs from the recorded head of the chain"))
        }
        Some((seq, _)) if seq < last_seq => {
            broken(seq + 1, format!("records after {seq} were added outside huiqi (the head says {seq})"))
        }
        None if last_seq > 0 => broken(last_seq, "the recorded head of the chain is missing".to_string()),
        _ => None,
    };
    ChainReport { entries, head: prev, broken: tail }
}

/// Declares each action code the audit trail records as a constant of [`action`], beside what
/// it means to people in Chinese and English (the table [`ACTIONS`] the trail, the console and
/// the audit filter show).
macro_rules! actions {
    ($($name:ident = $code:literal, $zh:literal, $en:literal;)*) => {
        /// The codes of recorded actions: writers name these, the records keep the code.
        pub mod action {
            $(pub const $name: &str = $code;)*
        }

        /// What each recorded action means, as (code, Chinese, English). Case actions
        /// (`case.submit`, …) take their labels from [`CaseActionKind`](super::case::CaseActionKind).
        const ACTIONS: &[(&str, &str, &str)] = &[$(($code, $zh, $en)),*];
    };
}

actions! {
    DISCLOSURE_OPEN = "disclosure.open", "发起公示", "Opened a disclosure";
    ACCOUNT_PASSWORD = "account.password", "修改密码", "Changed password";
    ACCOUNT_PROFILE = "account.profile", "修改个人资料", "Edited profile";
    ACCOUNT_REGISTER = "account.register", "注册账号", "Registered";
    ACCOUNT_SESSION_END = "account.session_end", "结束一个登录会话", "Ended a session";
    ACCOUNT_SESSIONS_END_ALL = "account.sessions_end_all", "结束全部登录会话", "Ended all sessions";
    AUTO_LIST_CONFIRM = "auto_list.confirm", "复核确认免申即享名单", "Confirmed an auto list";
    AUTO_LIST_PROPOSE = "auto_list.propose", "生成免申即享名单", "Proposed an auto list";
    AUTO_LIST_RECHECK = "auto_list.recheck", "补全信息后复核待核实企业", "Settled to-verify entries after their data was supplied";
    AGREEMENT_UPDATE = "agreement.update", "修改用户协议或隐私政策", "Edited the user agreement or privacy notice";
    ASSIGNMENT_ADD = "assignment.add", "分配帮办企业", "Assigned an entity to a specialist";
    ASSIGNMENT_REMOVE = "assignment.remove", "取消帮办分工", "Removed a specialist assignment";
    AUDIT_EXPORT = "audit.export", "导出审计日志", "Exported the audit trail";
    AUTH_LOGIN = "auth.login", "登录", "Signed in";
    AUTH_LOGIN_FAILED = "auth.login_failed", "登录失败", "Failed sign-in";
    AUTH_LOGOUT = "auth.logout", "退出登录", "Signed out";
    AUTH_PASSWORD_RECOVERED = "auth.password_recovered", "凭短信验证码重设密码", "Reset a password with an SMS code";
    AUTH_RECOVERY_CODE = "auth.recovery_code", "申请找回密码验证码", "Asked for a password-recovery code";
    AUTH_RECOVERY_FAILED = "auth.recovery_failed", "找回密码验证码错误", "Wrong password-recovery code";
    BACKUP_CREATE = "backup.create", "创建备份", "Made a backup";
    BACKUP_DOWNLOAD = "backup.download", "下载备份", "Downloaded a backup";
    BACKUP_RESTORE = "backup.restore", "从备份恢复", "Restored from a backup";
    BENCH_MEASURES = "bench.measures", "生成测试政策事项", "Generated benchmark measures";
    BINDING_LEAVE = "binding.leave", "解除企业绑定", "Left an entity";
    BINDING_REJECT = "binding.reject", "驳回企业绑定", "Rejected an entity binding";
    BINDING_REQUEST = "binding.request", "申请绑定企业", "Asked to act for an entity";
    BINDING_REVOKE = "binding.revoke", "撤销企业绑定", "Revoked an entity binding";
    BINDING_VERIFY = "binding.verify", "核验企业绑定", "Verified an entity binding";
    CALENDAR_IMPORT = "calendar.import", "导入节假日日历", "Imported the holiday calendar";
    CALENDAR_SEED = "calendar.seed", "载入节假日日历", "Loaded the holiday calendar";
    CASE_OFFLINE_IMPORT = "case.offline_import", "导入线下办件", "Imported a counter case";
    CASE_ATTACH = "case.attach", "上传申报材料", "Attached a material";
    CASE_DETACH = "case.detach", "删除申报材料", "Removed a material";
    DATA_EXPORT = "data.export", "导出数据", "Exported data";
    DEPARTMENT_PUT = "department.put", "维护部门", "Edited a department";
    ENTITY_CREATE = "entity.create", "新增经营主体", "Added an entity";
    ENTITY_SEED = "entity.seed", "载入演示经营主体", "Loaded demo entities";
    ENTITY_UNMASK = "entity.unmask", "查看完整个人信息", "Viewed personal data in full";
    ENTITY_UPSERT = "entity.upsert", "修改经营主体", "Edited an entity";
    IMPORT_APPLY = "import.apply", "确认导入", "Confirmed an import";
    IMPORT_BATCH = "import.batch", "导入经营主体", "Imported entities";
    IMPORT_DISCARD = "import.discard", "放弃导入", "Discarded an import";
    IMPORT_FAIL = "import.fail", "导入写入中断", "An import stopped part-way";
    IMPORT_REFUSE = "import.refuse", "拒绝导入（有错误行）", "Refused an import with bad rows";
    IMPORT_STAGE = "import.stage", "上传待导入文件", "Uploaded a file to import";
    INBOX_READ = "inbox.read", "阅读站内信", "Read a message";
    INVITATION_CREATE = "invitation.create", "签发邀请码", "Issued an invitation code";
    INVITATION_REVOKE = "invitation.revoke", "作废邀请码", "Revoked an invitation code";
    MATCH_RECORD = "match.record", "记录匹配变动", "Recorded matching changes";
    MATCHING_REMATCH = "matching.rematch", "全量重新匹配", "Re-matched everything";
    MEASURE_CREATE = "measure.create", "新建政策事项", "Created a measure";
    MEASURE_DISCARD_DRAFT = "measure.discard_draft", "放弃草稿", "Discarded a draft";
    MEASURE_PUBLISH = "measure.publish", "发布政策事项", "Published a measure";
    MEASURE_REFUSE_PUBLICATION = "measure.refuse_publication", "退回发布申请", "Refused a publication";
    MEASURE_REQUEST_PUBLICATION = "measure.request_publication", "提交发布申请", "Asked for publication";
    MEASURE_SCHEDULE = "measure.schedule", "定时发布", "Scheduled a publication";
    MEASURE_UPDATE = "measure.update", "修改政策事项", "Edited a measure";
    MEASURE_WITHDRAW = "measure.withdraw", "撤回政策事项", "Withdrew a measure";
    NOTICE_READ = "notice.read", "阅读工作提醒", "Read a work notice";
    POLICY_CREATE = "policy.create", "新建政策文件", "Created a policy";
    POLICY_UPDATE = "policy.update", "修改政策文件", "Edited a policy";
    PUSH_CANCEL = "push.cancel", "取消推送", "Cancelled a push";
    PUSH_DELIVERY = "push.delivery", "消息投递", "Delivered a message";
    PUSH_MEASURE = "push.measure", "政策推送", "Pushed a measure";
    OBJECTION_DECIDE = "objection.decide", "处理公示异议", "Decided an objection";
    OBJECTION_EVIDENCE = "objection.evidence", "补充异议证据材料", "Added objection evidence";
    OBJECTION_FILE = "objection.file", "提出公示异议", "Filed an objection";
    MONEY_PAY = "money.pay", "资金拨付", "Paid out";
    MONEY_RECOVER = "money.recover", "资金追回入账", "Recovered into the budget";
    MONEY_RELEASE = "money.release", "释放预留资金", "Released a reservation";
    MONEY_RESERVE = "money.reserve", "预留资金", "Reserved from the budget";
    PAYMENT_BATCH_CREATE = "payment.batch_create", "生成拨付批次", "Made a payment batch";
    PAYMENT_BATCH_EXPORT = "payment.batch_export", "导出拨付批次", "Exported a payment batch";
    PAYMENT_RETURN_IMPORT = "payment.return_import", "导入财政回单", "Imported a return file";
    PUSH_REMINDER = "push.reminder", "申报提醒", "Sent a reminder";
    SUBSCRIPTION_SET = "subscription.set", "修改推送订阅", "Changed a subscription";
    SUPERVISION_NOTICE = "supervision.notice", "发出督办通知", "Issued a supervision notice";
    SUPERVISION_OPEN = "supervision.open", "生成督办事项", "Opened a supervision item";
    SUPERVISION_RESOLVE = "supervision.resolve", "办结督办事项", "Resolved a supervision item";
    SWEEP = "sweep", "定时巡检", "Scheduled sweep";
    TAG_PUT = "tag.put", "维护标签", "Edited a tag";
    TAG_SEED = "tag.seed", "载入标签字典", "Loaded the tag dictionary";
    TOKEN_CREATE = "token.create", "签发接口令牌", "Issued an API token";
    TOKEN_REVOKE = "token.revoke", "撤销接口令牌", "Revoked an API token";
    USER_CREATE = "user.create", "新建账号", "Created an account";
    USER_RESET_PASSWORD = "user.reset_password", "重置密码", "Reset a password";
    USER_SET_PASSWORD = "user.set_password", "设置密码", "Set a password";
    USER_UNLOCK = "user.unlock", "解锁账号", "Unlocked an account";
    USER_UPDATE = "user.update", "修改账号", "Edited an account";
}

/// The groups of actions (the part of the code before the dot), as (prefix, Chinese, English).
const GROUPS: &[(&str, &str, &str)] = &[
    ("account.", "本人账号", "Own account"),
    ("agreement.", "用户协议与隐私政策", "User agreement and privacy notice"),
    ("assignment.", "帮办分工", "Specialist assignments"),
    ("audit.", "审计日志", "Audit trail"),
    ("auto_list.", "免申即享名单", "Auto lists"),
    ("auth.", "登录与退出", "Sign-in and sign-out"),
    ("backup.", "备份与恢复", "Backups"),
    ("bench.", "性能测试", "Benchmarks"),
    ("binding.", "企业绑定", "Entity bindings"),
    ("calendar.", "节假日日历", "Holiday calendar"),
    ("case.", "办件", "Cases"),
    ("data.", "数据导出", "Data exports"),
    ("disclosure.", "公示", "Disclosures"),
    ("department.", "部门", "Departments"),
    ("entity.", "经营主体", "Entities"),
    ("import.", "导入", "Imports"),
    ("inbox.", "站内信", "Inbox"),
    ("invitation.", "邀请码", "Invitations"),
    ("match.", "匹配", "Matching"),
    ("matching.", "重新匹配", "Re-matching"),
    ("measure.", "政策事项", "Measures"),
    ("money.", "资金", "Money"),
    ("notice.", "工作提醒", "Work notices"),
    ("objection.", "公示异议", "Objections"),
    ("payment.", "资金拨付", "Payments"),
    ("policy.", "政策文件", "Policies"),
    ("push.", "推送", "Pushes"),
    ("subscription.", "推送订阅", "Subscriptions"),
    ("supervision.", "督办", "Supervision"),
    ("tag.", "标签", "Tags"),
    ("token.", "接口令牌", "API tokens"),
    ("user.", "账号管理", "Account administration"),
];

/// The prefixes of the groups of actions (`account.`, `case.`, …).
pub fn action_groups() -> impl Iterator<Item = &'static str> {
    GROUPS.iter().map(|g| g.0)
}

/// The choices of the audit filter as (value, label): each group (all its actions), then each
/// action, sorted by code so that a group's actions follow it.
pub fn action_choices(en: bool) -> Vec<(String, String)> {
    let pick = |zh: &str, e: &str| if en { e.to_string() } else { zh.to_string() };
    let mut out: Vec<(String, String)> = GROUPS
        .iter()
        .map(|(k, zh, e)| (k.to_string(), format!("{}（{}）", pick(zh, e), pick("全部", "all"))))
        .collect();
    out.extend(actions().into_iter().map(|(k, zh, e)| (k, format!("　{}", pick(zh, e)))));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every action the trail records, as (code, Chinese, English), sorted by code.
pub fn actions() -> Vec<(String, &'static str, &'static str)> {
    use super::case::CaseActionKind;
    let mut all: Vec<_> = ACTIONS.iter().map(|(k, zh, en)| (k.to_string(), *zh, *en)).collect();
    all.extend(CaseActionKind::ALL.iter().map(|a| (a.code(), a.label(), a.label_en())));
    all.sort();
    all.dedup_by(|a, b| a.0 == b.0);
    all
}

/// An action as people read it; a code this build does not know is shown as it is.
pub fn action_label(code: &str, en: bool) -> String {
    use super::case::CaseActionKind;
    let case = code.strip_prefix("case.").and_then(|k| CaseActionKind::ALL.iter().find(|a| a.key() == k));
    if let Some(a) = case {
        return (if en { a.label_en() } else { a.label() }).to_string();
    }
    match ACTIONS.iter().find(|(k, _, _)| *k == code) {
        Some((_, zh, e)) => (if en { *e } else { *zh }).to_string(),
        None => code.to_string(),
    }
}

/// The role recorded with an entry as people read it (`system` for the program itself).
pub fn role_label(key: &str, en: bool) -> String {
    match Role::ALL.iter().find(|r| r.key() == key) {
        Some(r) => (if en { r.label_en() } else { r.label() }).to_string(),
        None if key.is_empty() || key == "system" => (if en { "System" } else { "系统" }).to_string(),
        None => key.to_string(),
    }
}

/// An entry's detail as people read it: a case's state change (`in_review → returned`) and an
/// account's role in words.
pub fn detail_label(action: &str, detail: &str, en: bool) -> String {
    use super::case::CaseState;
    if action.starts_with("user.") {
        // An account's role, as its creation records it.
        return match Role::ALL.iter().find(|r| r.key() == detail.trim()) {
            Some(r) => (if en { r.label_en() } else { r.label() }).to_string(),
            None => detail.to_string(),
        };
    }
    if !action.starts_with("case.") {
        return detail.to_string();
    }
    let state =
        |word: &str| CaseState::ALL.iter().find(|s| s.key() == word).map(|s| if en { s.label_en() } else { s.label() });
    let mut words: Vec<String> = detail.splitn(4, ' ').map(str::to_string).collect();
    if words.len() >= 3 && words[1] == "→" {
        for i in [0, 2] {
            if let Some(l) = state(&words[i]) {
                words[i] = l.to_string();
            }
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let mut e = AuditEntry {
                    seq,
                    at: Timestamp(1_700_000_000_000 + seq as i64),
                    actor: "admin".into(),
                    role: "sysadmin".into(),
                    ip: "127.0.0.1".into(),
                    action: "user.create".into(),
                    target: format!("user:{seq}"),
                    detail: String::new(),
                    before: None,
                    after: Some(sha256_hex(b"x")),
                    prev: String::new(),
                    hash: String::new(),
                };
                e.seal(&prev);
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn rows(entries: &[AuditEntry]) -> Vec<(u64, Result<AuditEntry, String>)> {
        entries.iter().map(|e| (e.seq, Ok(e.clone()))).collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        let head = Some((5, c[4].hash.clone()));
        let report = verify_chain(rows(&c), head);
        assert_eq!(report.broken, None);
        assert_eq!(report.entries, 5);
    }

    #[test]
    fn names_the_first_broken_link() {
        let c = chain(5);
        let head = Some((5, c[4].hash.clone()));
        let mut edited = c.clone();
        edited[2].actor = "mallory".into();
        assert_eq!(verify_chain(rows(&edited), head.clone()).broken.map(|b| b.seq), Some(3));
        let mut removed = c.clone();
        removed.remove(1);
        assert_eq!(verify_chain(rows(&removed), head.clone()).broken.map(|b| b.seq), Some(3));
        let truncated = c[..3].to_vec();
        assert_eq!(verify_chain(rows(&truncated), head.clone()).broken.map(|b| b.seq), Some(4));
        let mut resealed = c.clone();
        resealed[4].detail = "rewritten".into();
        let prev = resealed[3].hash.clone();
        resealed[4].seal(&prev);
        assert_eq!(
            verify_chain(rows(&resealed), head).broken.map(|b| b.seq),
            Some(5),
            "the head catches a resealed tail"
        );
        let mut unreadable = rows(&c);
        unreadable[1].1 = Err("bad bytes".into());
        assert_eq!(verify_chain(unreadable, None).broken.map(|b| b.seq), Some(2));
    }
}
