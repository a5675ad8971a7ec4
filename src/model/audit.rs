//! The audit trail: who did what to which record, with digests of the record before and after,
//! chained by SHA-256 so that an edited, removed or reordered entry shows.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::date::Timestamp;
use super::enums::Vocabulary;
use super::user::{Role, User};

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
    pub regions: Vec<String>,
    /// For an enterprise account: the credit codes it is verified to act for.
    pub entities: Vec<String>,
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
        }
    }

    /// Whether an enterprise account acts for this entity.
    pub fn acts_for(&self, credit_code: &str) -> bool {
        self.entities.iter().any(|c| c == credit_code)
    }

    /// Whether a region is within the actor's scope (entities without a region are visible
    /// only to actors without a limit).
    pub fn sees_region(&self, region: Option<&super::codes::RegionCode>) -> bool {
        self.regions.is_empty() || region.is_some_and(|r| self.regions.iter().any(|s| r.within(s)))
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
