//! Accounts against a real store in a temp dir, with a clock the tests move forward.

use super::*;
use crate::model::{BindingStatus, Capacity, Clock, CreditCode, Entity};

const PASSWORD: &str = "Lantern-Maple-37";

struct Fixture {
    _dir: tempfile::TempDir,
    auth: Auth,
    clock: Clock,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let clock = store.clock().clone();
    let auth = Auth::new(store, true, SessionPolicy::default()).unwrap();
    Fixture { _dir: dir, auth, clock }
}

fn system() -> Who {
    Who::system("test")
}

fn client() -> Client {
    Client { ip: "10.0.0.1".into(), user_agent: "test".into() }
}

impl Fixture {
    fn user(&self, name: &str, role: Role) -> User {
        self.auth.user_create(&system(), NewUser::new(name, role), Some(PASSWORD)).unwrap().0
    }

    fn entity(&self, n: u32, name: &str) -> CreditCode {
        let code = CreditCode::with_check(&format!("91230100MA{n:07}")).unwrap();
        let mut e = Entity::new(u64::from(n), code.clone(), Timestamp(0));
        e.name = Some(name.into());
        let tx = self.auth.store.write().unwrap();
        tx.put_entity(&e, None).unwrap();
        tx.commit().unwrap();
        code
    }
}

#[test]
fn sign_in_sessions_and_tokens() {
    let f = fixture();
    f.user("clerk", Role::Sysadmin);
    assert!(matches!(f.auth.login("clerk", "wrong", &client(), None), Err(AuthError::BadCredentials)));
    assert!(matches!(f.auth.login("nobody", PASSWORD, &client(), None), Err(AuthError::BadCredentials)));
    let signed = f.auth.login("Clerk", PASSWORD, &client(), None).unwrap();
    assert_eq!(signed.user.username, "clerk");
    let p = f.auth.session_principal(&signed.token).unwrap().unwrap();
    assert_eq!(p.csrf.as_deref(), Some(signed.session.csrf.as_str()));
    // Signing in again gives a new session id and ends the one presented.
    let again = f.auth.login("clerk", PASSWORD, &client(), Some(&signed.token)).unwrap();
    assert_ne!(again.token, signed.token);
    assert!(f.auth.session_principal(&signed.token).unwrap().is_none(), "the old id is gone");
    f.auth.logout(&again.token, "10.0.0.1").unwrap();
    assert!(f.auth.session_principal(&again.token).unwrap().is_none());

    let (info, api) = f.auth.token_create(&system(), "clerk", "feed", &[TokenScope::EntitiesWrite], None).unwrap();
    assert!(api.starts_with(TOKEN_PREFIX));
    let p = f.auth.token_principal(&api).unwrap().unwrap();
    assert!(p.can(Permission::EntityWrite), "the scope covers it");
    assert!(!p.can(Permission::AccountsManage), "the role would allow it, the token's scope does not");
    assert!(f.auth.token_principal("hq_forged").unwrap().is_none());
    f.auth.token_revoke(&system(), info.id).unwrap();
    assert!(f.auth.token_principal(&api).unwrap().is_none(), "a revoked token is refused");
}

#[test]
fn failures_slow_down_then_lock_until_an_administrator_unlocks() {
    let f = fixture();
    let user = f.user("clerk", Role::Sysadmin);
    for _ in 0..FREE_FAILURES {
        assert!(matches!(f.auth.login("clerk", "bad", &client(), None), Err(AuthError::BadCredentials)));
    }
    // The third failure imposes a delay: even the right password waits.
    assert!(matches!(f.auth.login("clerk", "bad", &client(), None), Err(AuthError::BadCredentials)));
    assert!(matches!(f.auth.login("clerk", PASSWORD, &client(), None), Err(AuthError::Delayed(1))));
    let mut last_delay = 0;
    for failures in FREE_FAILURES + 2..HARD_LOCK_AFTER {
        f.clock.advance(MAX_DELAY_SECONDS);
        let delay = delay_after(failures);
        assert!(delay >= last_delay, "delays grow");
        last_delay = delay;
        assert!(matches!(f.auth.login("clerk", "bad", &client(), None), Err(AuthError::BadCredentials)));
    }
    f.clock.advance(MAX_DELAY_SECONDS);
    assert!(matches!(f.auth.login("clerk", "bad", &client(), None), Err(AuthError::Locked)));
    f.clock.advance(24 * 3600);
    assert!(matches!(f.auth.login("clerk", PASSWORD, &client(), None), Err(AuthError::Locked)), "no timeout lifts it");
    f.auth.user_unlock(&system(), user.id).unwrap();
    assert!(f.auth.login("clerk", PASSWORD, &client(), None).is_ok());
    let trail = f.auth.store.read().unwrap().audit_tail(100).unwrap();
    assert!(trail.iter().filter(|e| e.action == "auth.login_failed").count() >= HARD_LOCK_AFTER as usize);
    assert!(trail.iter().any(|e| e.action == "user.unlock") && trail.iter().any(|e| e.action == "auth.login"));
}

#[test]
fn concurrent_failures_all_count() {
    let f = fixture();
    f.user("clerk", Role::Sysadmin);
    let auth = Arc::new(f.auth);
    let threads: Vec<_> = (0..FREE_FAILURES + 1)
        .map(|_| {
            let a = Arc::clone(&auth);
            std::thread::spawn(move || a.login("clerk", "wrong", &client(), None).is_err())
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap());
    }
    assert!(
        matches!(auth.login("clerk", PASSWORD, &client(), None), Err(AuthError::Delayed(_))),
        "every failure counted"
    );
}

#[test]
fn sessions_time_out_idle_and_absolutely() {
    let f = fixture();
    f.user("clerk", Role::Sysadmin);
    let s = f.auth.login("clerk", PASSWORD, &client(), None).unwrap();
    f.clock.advance(29 * 60);
    assert!(f.auth.session_principal(&s.token).unwrap().is_some(), "29 minutes idle is fine, and touches");
    f.clock.advance(29 * 60);
    assert!(f.auth.session_principal(&s.token).unwrap().is_some(), "activity keeps it alive");
    f.clock.advance(31 * 60);
    assert!(f.auth.session_principal(&s.token).unwrap().is_none(), "31 minutes idle ends it");

    let s = f.auth.login("clerk", PASSWORD, &client(), None).unwrap();
    for _ in 0..(12 * 60 / 20) {
        f.clock.advance(20 * 60);
        if f.auth.session_principal(&s.token).unwrap().is_none() {
            break;
        }
    }
    assert!(f.auth.session_principal(&s.token).unwrap().is_none(), "12 hours after sign-in it ends, busy or not");
}

#[test]
fn one_time_passwords_and_changing_ones_own() {
    let f = fixture();
    let (user, one_time) = f.auth.user_create(&system(), NewUser::new("clerk", Role::Sysadmin), None).unwrap();
    let one_time = one_time.unwrap();
    assert!(user.must_change_password);
    let s = f.auth.login("clerk", &one_time, &client(), None).unwrap();
    assert!(s.user.must_change_password);
    let other = f.auth.login("clerk", &one_time, &client(), None).unwrap();
    let keep = secret_hash(&s.token);
    assert!(f.auth.change_password(user.id, "wrong", PASSWORD, Some(&keep), "ip").is_err());
    assert!(f.auth.change_password(user.id, &one_time, "short", Some(&keep), "ip").is_err());
    assert!(f.auth.change_password(user.id, &one_time, &one_time, Some(&keep), "ip").is_err(), "must differ");
    f.auth.change_password(user.id, &one_time, PASSWORD, Some(&keep), "ip").unwrap();
    assert!(!f.auth.user(user.id).unwrap().must_change_password);
    assert!(f.auth.session_principal(&s.token).unwrap().is_some(), "this session stays");
    assert!(f.auth.session_principal(&other.token).unwrap().is_none(), "the others end");
    // A reset issues a new one-time password and ends every session.
    let (_, reset) = f.auth.user_reset_password(&system(), user.id).unwrap();
    assert!(f.auth.session_principal(&s.token).unwrap().is_none());
    assert!(f.auth.login("clerk", PASSWORD, &client(), None).is_err());
    assert!(f.auth.login("clerk", &reset, &client(), None).unwrap().user.must_change_password);
}

#[test]
fn rules_for_names_and_accounts() {
    let f = fixture();
    let add = |name: &str, role: Role, dept: Option<&str>, pw: &str| {
        let mut n = NewUser::new(name, role);
        n.department = dept.map(str::to_string);
        f.auth.user_create(&system(), n, Some(pw))
    };
    assert!(add("x", Role::Sysadmin, None, PASSWORD).is_err(), "too short a name");
    assert!(add("clerk", Role::Sysadmin, None, "secret123").is_err(), "a weak password");
    assert!(add("clerk", Role::Publisher, None, PASSWORD).is_err(), "a publisher needs a department");
    assert!(add("clerk", Role::Publisher, Some("科技局"), PASSWORD).is_err(), "the department must exist");
    f.auth.department_put(&system(), "科技局", "230100").unwrap();
    let clerk = add("clerk", Role::Publisher, Some("科技局"), PASSWORD).unwrap().0;
    assert!(add("clerk", Role::Sysadmin, None, PASSWORD).is_err(), "names are unique");
    let p = f.auth.principal_of("clerk").unwrap();
    assert_eq!(p.regions, ["230100"], "staff see their department's region");

    // The last system administrator cannot be demoted or disabled.
    let admin = add("admin", Role::Sysadmin, None, PASSWORD).unwrap().0;
    let demote = UserUpdate {
        display_name: String::new(),
        role: Role::Supervisor,
        department: None,
        region_scope: Vec::new(),
        phone: None,
        disabled: false,
    };
    let who = Who::user(&clerk, "ip");
    assert!(f.auth.user_update(&who, admin.id, demote.clone()).is_err());
    add("admin2", Role::Sysadmin, None, PASSWORD).unwrap();
    f.auth.user_update(&who, admin.id, demote).unwrap();
    assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("abc", "ab"));
}

#[test]
fn registration_bindings_and_invitation_codes() {
    let f = fixture();
    let code = f.entity(1, "哈尔滨示例科技有限公司");
    let other = f.entity(2, "宾县示例食品有限公司");
    let reg = |username: &str, invitation: &str, name: &str| Registration {
        username: username.into(),
        password: PASSWORD.into(),
        display_name: "张三".into(),
        phone: "13812345678".into(),
        bind: BindRequest {
            credit_code: code.to_string(),
            entity_name: name.into(),
            capacity: Capacity::LegalRep,
            invitation: invitation.into(),
        },
        agreed: Some((1, 1)),
    };
    assert!(f.auth.register(&reg("zhang", "", "别的公司"), &client()).is_err(), "the name must match");
    assert!(f.auth.register(&reg("zhang", "AAAA-BBBB-CCCC", "哈尔滨示例科技有限公司"), &client()).is_err());
    assert!(f.auth.store.read().unwrap().user_by_name("zhang").unwrap().is_none(), "nothing half-written");

    // Without a code the binding waits for staff.
    let (user, binding) = f.auth.register(&reg("zhang", "", "哈尔滨示例科技有限公司"), &client()).unwrap();
    assert_eq!(binding.status, BindingStatus::Pending);
    assert!(f.auth.principal_of("zhang").unwrap().entities.is_empty());
    let staff = Who::system("bangban");
    assert!(f.auth.binding_decide(&staff, user.id, &code, BindingStatus::Rejected, "").is_err(), "a reason");
    f.auth.binding_decide(&staff, user.id, &code, BindingStatus::Verified, "电话核实").unwrap();
    assert_eq!(f.auth.principal_of("zhang").unwrap().entities, std::slice::from_ref(&code));

    // With a code: bound at once; the code works once and only for its entity.
    let (_, plain) = f.auth.invitation_create(&staff, &code, 30).unwrap();
    let (_, other_plain) = f.auth.invitation_create(&staff, &other, 30).unwrap();
    assert!(f.auth.register(&reg("lisi", &other_plain, "哈尔滨示例科技有限公司"), &client()).is_err());
    let typed = plain.to_lowercase().replace('-', " ");
    let (li, binding) = f.auth.register(&reg("lisi", &typed, "哈尔滨示例科技有限公司"), &client()).unwrap();
    assert_eq!(binding.status, BindingStatus::Verified);
    assert!(f.auth.register(&reg("wang", &plain, "哈尔滨示例科技有限公司"), &client()).is_err(), "used once");
    // One user may act for several entities.
    let req = BindRequest {
        credit_code: other.to_string(),
        entity_name: "宾县示例食品有限公司".into(),
        capacity: Capacity::Finance,
        invitation: other_plain.clone(),
    };
    f.auth.binding_request(li.id, &req, "ip").unwrap();
    assert_eq!(f.auth.principal_of("lisi").unwrap().entities.len(), 2);
    // An expired code is refused.
    let (_, late) = f.auth.invitation_create(&staff, &other, 1).unwrap();
    f.clock.advance(2 * 86_400);
    let req = BindRequest { invitation: late, ..req };
    let (wang, _) = f
        .auth
        .register(&Registration { username: "wang".into(), ..reg("wang", "", "哈尔滨示例科技有限公司") }, &client())
        .unwrap();
    assert!(f.auth.binding_request(wang.id, &req, "ip").is_err());
}

mod actions {
    use super::Permission;
    use crate::model::audit::{action_groups, action_label, detail_label};

    /// Every action code the program records has a label: the codes are read from the sources
    /// (string literals of the form `group.action` in files that write the audit trail, whose
    /// group is an audited one), so a new action without a label fails here.
    #[test]
    fn every_recorded_action_has_a_label() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        let permissions: Vec<&str> = Permission::ALL.iter().map(|p| p.key()).collect();
        let groups: Vec<&str> = action_groups().collect();
        let mut unlabelled = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            if !text.contains("audit(") && !text.contains("audit_change(") {
                continue;
            }
            for literal in text.split('"').skip(1).step_by(2) {
                let Some((group, rest)) = literal.split_once('.') else { continue };
                let code_like = !rest.is_empty()
                    && literal.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
                    && groups.contains(&format!("{group}.").as_str());
                if code_like && !permissions.contains(&literal) && action_label(literal, false) == literal {
                    unlabelled.push(format!("{literal} ({})", file.display()));
                }
            }
        }
        assert!(unlabelled.is_empty(), "actions without a label: {unlabelled:?}");
        assert_eq!(action_label("case.return", false), "退回补正");
        assert_eq!(detail_label("case.return", "in_review → returned 缺少材料", false), "审核中 → 待补正 缺少材料");
    }
}
