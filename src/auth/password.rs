//! Passwords: argon2id at OWASP's parameters, the rules a new password must meet, and
//! one-time passwords for accounts an administrator sets up or resets.

use argon2::password_hash::phc::PasswordHash as Phc;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use super::{AuthError, Result, random_bytes};
use crate::model::user::PasswordHash;

/// OWASP's argon2id recommendation: 19 MiB of memory, two passes, one lane.
pub const OWASP_M_KIB: u32 = 19_456;
pub const OWASP_T: u32 = 2;
pub const OWASP_P: u32 = 1;

pub const MIN_LENGTH: usize = 10;

const COMMON: &str = include_str!("../../seed/security/common-passwords.txt");

/// The hashing cost in force: OWASP's parameters, or a trivial cost under test.
#[derive(Debug, Clone)]
pub struct Hasher {
    params: Params,
}

impl Hasher {
    pub fn new(fast_for_tests: bool) -> Result<Hasher> {
        let params = if fast_for_tests {
            Params::new(8, 1, 1, Some(32))
        } else {
            Params::new(OWASP_M_KIB, OWASP_T, OWASP_P, Some(32))
        }
        .map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(Hasher { params })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    pub fn hash(&self, password: &str) -> Result<PasswordHash> {
        let hash = self.argon2().hash_password(password.as_bytes()).map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(PasswordHash(hash.to_string()))
    }

    /// Checks a password against a stored hash, with the parameters recorded in that hash.
    pub fn verify(&self, password: &str, hash: &PasswordHash) -> bool {
        match Phc::new(&hash.0) {
            Ok(phc) => self.argon2().verify_password(password.as_bytes(), &phc).is_ok(),
            Err(_) => false,
        }
    }

    /// Whether a stored hash was made with other parameters (or another algorithm) than the
    /// ones in force, so that a successful sign-in should store a fresh hash.
    pub fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        let Ok(phc) = Phc::new(&hash.0) else { return true };
        let current = (self.params.m_cost(), self.params.t_cost(), self.params.p_cost());
        let stored = Params::try_from(&phc).map(|p| (p.m_cost(), p.t_cost(), p.p_cost()));
        phc.algorithm.as_str() != "argon2id" || stored.ok() != Some(current)
    }
}

/// Why a password is refused, in words for the person choosing it; `None` if it is acceptable.
pub fn weakness(password: &str, username: &str) -> Option<String> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Some(format!("密码至少 {MIN_LENGTH} 位（现在 {length} 位）"));
    }
    if length > 128 {
        return Some("密码最长 128 位".into());
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|&&c| c).count() < 3 {
        return Some("密码须包含小写字母、大写字母、数字、符号中的至少三类".into());
    }
    let lower = password.to_lowercase();
    let name = username.trim().to_lowercase();
    if name.chars().count() >= 3 && lower.contains(&name) {
        return Some("密码不能包含用户名".into());
    }
    let letters: String = lower.chars().filter(|c| c.is_alphabetic()).collect();
    let common = |candidate: &str| COMMON.lines().any(|l| !l.starts_with('#') && l.trim() == candidate);
    if common(&lower) || (letters.chars().count() >= 3 && common(&letters)) {
        return Some("这是常见密码或其简单变形，容易被猜中，请换一个".into());
    }
    None
}

/// Checks a new password against the rules.
pub fn check(password: &str, username: &str) -> Result<()> {
    match weakness(password, username) {
        Some(why) => Err(AuthError::Invalid(why)),
        None => Ok(()),
    }
}

/// A one-time password that meets the rules: 14 characters from an alphabet without look-alikes,
/// in groups (`Kp7m-X3rq-9Twz` style), with every character class present.
pub fn one_time() -> Result<String> {
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    let bytes = random_bytes(12)?;
    let mut out = String::new();
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        let set = match i % 3 {
            0 => UPPER,
            1 => LOWER,
            _ => DIGITS,
        };
        out.push(set[*b as usize % set.len()] as char);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(weakness("Ab1-short", "x").is_some(), "too short");
        assert!(weakness("alllowercaseletters", "x").is_some(), "one class");
        assert!(weakness("lowercase123456", "x").is_some(), "two classes");
        assert!(weakness("Password123!", "x").is_some(), "common with decorations");
        assert!(weakness("P@ssw0rd123", "x").is_some(), "common");
        assert!(weakness("Zhangsan-2026x", "zhangsan").is_some(), "contains the username");
        assert_eq!(weakness("Lantern-Maple-37", "clerk"), None);
        assert_eq!(weakness("huiqi-Demo-2026", "qiye"), None);
        assert_eq!(weakness("绿水青山-Maple7", "clerk"), None, "Chinese letters count as letters");
    }

    #[test]
    fn one_time_passwords_meet_the_rules() {
        for _ in 0..50 {
            let p = one_time().unwrap();
            assert_eq!(p.len(), 14, "{p}");
            assert_eq!(weakness(&p, "someone"), None, "{p}");
        }
    }

    #[test]
    fn rehash_when_parameters_change() {
        let fast = Hasher::new(true).unwrap();
        let slow = Hasher::new(false).unwrap();
        let h = fast.hash("Lantern-Maple-37").unwrap();
        assert!(fast.verify("Lantern-Maple-37", &h));
        assert!(slow.verify("Lantern-Maple-37", &h), "a hash verifies with the parameters it records");
        assert!(!fast.needs_rehash(&h));
        assert!(slow.needs_rehash(&h));
        assert!(h.0.starts_with("$argon2id$"));
        let owasp = slow.hash("Lantern-Maple-37").unwrap();
        assert!(owasp.0.contains("m=19456,t=2,p=1"), "{}", owasp.0);
    }
}
