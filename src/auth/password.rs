//! Passwords: argon2id at OWASP's parameters, the rules a new password must meet, and
//! one-time passwords for accounts an administrator sets up or resets.

use argon2::password_hash::PasswordVerifier;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash as Phc, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use super::{AuthError, Result, random_bytes};
use crate::model::user::PasswordHash;

/// OWASP's argon2id recommendation: 19 MiB of memory, two passes, one lane.
pub const OWASP_M_KIB: u32 = 19_456;
pub const OWASP_T: u32 = 2;
pub const OWASP_P: u32 = 1;

pub const MIN_LENGTH: usize = 10;

const COMMON: &str = include_str!("../../seed/security/common-passwords.txt");

/// The hashing cost in force: OWASP's parameters, or a trivial cost under test.
///
/// Each hash needs 19 MiB of working memory. Asked for afresh each time, the allocator keeps
/// those blocks in per-thread pools and a busy server's memory grows to hundreds of MiB; so
/// the blocks are kept here and reused (no more are ever in use than hashes run at once, which
/// the server limits to one per core).
#[derive(Debug, Clone)]
pub struct Hasher {
    params: Params,
    memory: std::sync::Arc<std::sync::Mutex<Vec<Vec<Block>>>>,
}

/// How many idle working memories are kept.
const KEPT_MEMORIES: usize = 8;

impl Hasher {
    pub fn new(fast_for_tests: bool) -> Result<Hasher> {
        let params = if fast_for_tests {
            Params::new(8, 1, 1, Some(32))
        } else {
            Params::new(OWASP_M_KIB, OWASP_T, OWASP_P, Some(32))
        }
        .map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(Hasher { params, memory: Default::default() })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Runs `f` with `blocks` blocks of working memory from the pool (made if none is free).
    fn with_memory<T>(&self, blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        let taken = self.memory.lock().ok().and_then(|mut pool| {
            let i = pool.iter().position(|m| m.len() >= blocks)?;
            Some(pool.swap_remove(i))
        });
        let mut memory = taken.unwrap_or_else(|| vec![Block::new(); blocks]);
        let out = f(&mut memory[..blocks]);
        if let Ok(mut pool) = self.memory.lock()
            && pool.len() < KEPT_MEMORIES
        {
            pool.push(memory);
        }
        out
    }

    pub fn hash(&self, password: &str) -> Result<PasswordHash> {
        let internal = |e: &dyn std::fmt::Display| AuthError::Internal(e.to_string());
        let salt_bytes = random_bytes(Salt::RECOMMENDED_LENGTH)?;
        let salt = Salt::new(&salt_bytes).map_err(|e| internal(&e))?;
        let mut out = [0u8; 32];
        self.with_memory(self.params.block_count(), |memory| {
            self.argon2().hash_password_into_with_memory(password.as_bytes(), &salt_bytes, &mut out, memory)
        })
        .map_err(|e| internal(&e))?;
        let phc = Phc {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(|e| internal(&e))?,
            salt: Some(salt),
            hash: Some(Output::new(&out).map_err(|e| internal(&e))?),
        };
        Ok(PasswordHash(phc.to_string()))
    }

    /// Checks a password against a stored hash, with the parameters recorded in that hash.
    pub fn verify(&self, password: &str, hash: &PasswordHash) -> bool {
        let Ok(phc) = Phc::new(&hash.0) else { return false };
        let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else { return false };
        if phc.algorithm != argon2::ARGON2ID_IDENT {
            // Another argon2 variant, from elsewhere: the library's own way.
            return self.argon2().verify_password(password.as_bytes(), &phc).is_ok();
        }
        let Ok(params) = Params::try_from(&phc) else { return false };
        let version = phc.version.map_or(Ok(Version::V0x13), Version::try_from);
        let Ok(version) = version else { return false };
        let argon2 = Argon2::new(Algorithm::Argon2id, version, params.clone());
        let mut out = vec![0u8; expected.len()];
        let computed = self.with_memory(params.block_count(), |memory| {
            argon2.hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, memory)
        });
        // Compared in constant time.
        computed.is_ok() && out.iter().zip(expected.as_bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
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

    /// Hashes made with pooled memory are ordinary PHC strings: the library verifies them, and
    /// they verify hashes the library made; a wrong password never passes.
    #[test]
    fn pooled_hashes_are_the_librarys_hashes() {
        use argon2::password_hash::PasswordHasher;
        let ours = Hasher::new(true).unwrap();
        let h = ours.hash("Lantern-Maple-37").unwrap();
        let phc = Phc::new(&h.0).unwrap();
        assert!(ours.argon2().verify_password(b"Lantern-Maple-37", &phc).is_ok());
        let theirs = ours.argon2().hash_password(b"Lantern-Maple-37").unwrap().to_string();
        assert!(ours.verify("Lantern-Maple-37", &PasswordHash(theirs.clone())));
        assert!(!ours.verify("Lantern-Maple-38", &PasswordHash(theirs)));
        assert!(!ours.verify("Lantern-Maple-38", &h));
        for _ in 0..3 {
            assert!(ours.verify("Lantern-Maple-37", &h), "again, with memory from the pool");
        }
        assert_eq!(ours.memory.lock().unwrap().len(), 1, "one memory, reused");
    }
}
