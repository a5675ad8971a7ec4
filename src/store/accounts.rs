//! Accounts: users and their names, sessions, API tokens, enterprise users' bindings to
//! entities, invitations, password recovery, and the agreements users accept.

use redb::ReadableTable;

use super::Result;
use super::codec::decode;
use super::tables::{
    AGREEMENT_VERSION_TO_TEXT, ENTITY_TO_USER, INVITATION_HASH_TO_INVITATION_ID, INVITATION_ID_TO_INVITATION,
    SESSION_HASH_TO_SESSION, TOKEN_HASH_TO_TOKEN, USER_ENTITY_TO_BINDING, USER_ID_TO_RECOVERY, USER_ID_TO_USER,
    USERNAME_TO_USER_ID,
};
use super::tx::{Tables, WriteTx, get_record, hash_keyed};
use crate::model::{
    Agreement, AgreementKind, ApiToken, Binding, Invitation, Recovery, Session, Timestamp, User, Vocabulary,
};

pub trait AccountReads: Tables {
    fn user(&self, id: u64) -> Result<Option<User>> {
        get_record(self.table(USER_ID_TO_USER)?.get(id)?)
    }

    fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let id = self.table(USERNAME_TO_USER_ID)?.get(username)?.map(|v| v.value());
        match id {
            Some(id) => self.user(id),
            None => Ok(None),
        }
    }

    fn users(&self) -> Result<Vec<User>> {
        let t = self.table(USER_ID_TO_USER)?;
        t.iter()?.map(|r| decode(r?.1.value())).collect()
    }

    /// An account's password-recovery record, if a code was ever sent.
    fn recovery(&self, user: u64) -> Result<Option<Recovery>> {
        get_record(self.table(USER_ID_TO_RECOVERY)?.get(user)?)
    }

    /// The latest saved version of an agreement, if any was saved.
    fn agreement_latest(&self, kind: AgreementKind) -> Result<Option<Agreement>> {
        let t = self.table(AGREEMENT_VERSION_TO_TEXT)?;
        let last = t.range((kind.key(), 0)..=(kind.key(), u32::MAX))?.next_back();
        last.map(|r| decode(r?.1.value())).transpose()
    }

    fn agreement(&self, kind: AgreementKind, version: u32) -> Result<Option<Agreement>> {
        get_record(self.table(AGREEMENT_VERSION_TO_TEXT)?.get((kind.key(), version))?)
    }

    fn session(&self, hash: &[u8]) -> Result<Option<Session>> {
        get_record(self.table(SESSION_HASH_TO_SESSION)?.get(hash)?)
    }

    /// Every session (key hash, session); a few thousand at most, expired ones are purged.
    fn sessions(&self) -> Result<Vec<(Vec<u8>, Session)>> {
        hash_keyed(self, SESSION_HASH_TO_SESSION)
    }

    fn token(&self, hash: &[u8]) -> Result<Option<ApiToken>> {
        get_record(self.table(TOKEN_HASH_TO_TOKEN)?.get(hash)?)
    }

    /// Every API token (key hash, record).
    fn tokens(&self) -> Result<Vec<(Vec<u8>, ApiToken)>> {
        hash_keyed(self, TOKEN_HASH_TO_TOKEN)
    }

    fn binding(&self, user: u64, code: &str) -> Result<Option<Binding>> {
        get_record(self.table(USER_ENTITY_TO_BINDING)?.get((user, code))?)
    }

    fn bindings_of_user(&self, user: u64) -> Result<Vec<Binding>> {
        let t = self.table(USER_ENTITY_TO_BINDING)?;
        t.range((user, "")..(user.saturating_add(1), ""))?.map(|r| decode(r?.1.value())).collect()
    }

    fn bindings_of_entity(&self, code: &str) -> Result<Vec<Binding>> {
        let index = self.table(ENTITY_TO_USER)?;
        let users: Vec<u64> =
            index.range((code, 0)..=(code, u64::MAX))?.map(|r| Ok(r?.0.value().1)).collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(users.len());
        for user in users {
            out.extend(self.binding(user, code)?);
        }
        Ok(out)
    }

    /// Every binding, in (user, entity) order.
    fn bindings(&self) -> Result<Vec<Binding>> {
        let t = self.table(USER_ENTITY_TO_BINDING)?;
        t.iter()?.map(|r| decode(r?.1.value())).collect()
    }

    fn invitation(&self, id: u64) -> Result<Option<Invitation>> {
        get_record(self.table(INVITATION_ID_TO_INVITATION)?.get(id)?)
    }

    fn invitation_by_hash(&self, hash: &[u8]) -> Result<Option<Invitation>> {
        let id = self.table(INVITATION_HASH_TO_INVITATION_ID)?.get(hash)?.map(|v| v.value());
        match id {
            Some(id) => self.invitation(id),
            None => Ok(None),
        }
    }

    /// The newest invitations first, optionally for one entity.
    fn invitations(&self, code: Option<&str>, limit: usize) -> Result<Vec<Invitation>> {
        let t = self.table(INVITATION_ID_TO_INVITATION)?;
        let mut out = Vec::new();
        for row in t.iter()?.rev() {
            let inv: Invitation = decode(row?.1.value())?;
            if code.is_none_or(|c| c == inv.credit_code) {
                out.push(inv);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }
}

impl<T: Tables + ?Sized> AccountReads for T {}

impl WriteTx {
    pub fn put_user(&self, user: &User) -> Result<()> {
        let mut names = self.txn.open_table(USERNAME_TO_USER_ID)?;
        if let Some(old) = self.user(user.id)?
            && old.username != user.username
        {
            names.remove(old.username.as_str())?;
        }
        names.insert(user.username.as_str(), user.id)?;
        drop(names);
        self.put(USER_ID_TO_USER, user.id, user)
    }

    pub fn put_recovery(&self, recovery: &Recovery) -> Result<()> {
        self.put(USER_ID_TO_RECOVERY, recovery.user_id, recovery)
    }

    pub fn put_agreement(&self, agreement: &Agreement) -> Result<()> {
        self.put(AGREEMENT_VERSION_TO_TEXT, (agreement.kind.key(), agreement.version), agreement)
    }

    pub fn put_session(&self, hash: &[u8], session: &Session) -> Result<()> {
        self.put(SESSION_HASH_TO_SESSION, hash, session)
    }

    pub fn delete_session(&self, hash: &[u8]) -> Result<()> {
        self.txn.open_table(SESSION_HASH_TO_SESSION)?.remove(hash)?;
        Ok(())
    }

    /// Removes sessions that expired before `now`; returns how many.
    pub fn purge_sessions(&self, now: Timestamp) -> Result<u64> {
        let mut t = self.txn.open_table(SESSION_HASH_TO_SESSION)?;
        let expired = t.extract_if(|_, v| decode::<Session>(v).map(|s| s.expires_at < now).unwrap_or(true))?;
        let mut n = 0;
        for row in expired {
            row?;
            n += 1;
        }
        Ok(n)
    }

    /// Ends every session of a user except `keep` (a key hash); returns how many ended.
    pub fn delete_sessions_of_user(&self, user: u64, keep: Option<&[u8]>) -> Result<u64> {
        let mut t = self.txn.open_table(SESSION_HASH_TO_SESSION)?;
        let ended =
            t.extract_if(|k, v| keep != Some(k) && decode::<Session>(v).map(|s| s.user_id == user).unwrap_or(false))?;
        let mut n = 0;
        for row in ended {
            row?;
            n += 1;
        }
        Ok(n)
    }

    pub fn put_token(&self, hash: &[u8], token: &ApiToken) -> Result<()> {
        self.put(TOKEN_HASH_TO_TOKEN, hash, token)
    }

    pub fn put_binding(&self, binding: &Binding) -> Result<()> {
        self.put(USER_ENTITY_TO_BINDING, (binding.user_id, binding.credit_code.as_str()), binding)?;
        self.txn.open_table(ENTITY_TO_USER)?.insert((binding.credit_code.as_str(), binding.user_id), ())?;
        Ok(())
    }

    pub fn put_invitation(&self, invitation: &Invitation) -> Result<()> {
        self.put(INVITATION_ID_TO_INVITATION, invitation.id, invitation)?;
        self.txn
            .open_table(INVITATION_HASH_TO_INVITATION_ID)?
            .insert(invitation.code_hash.as_slice(), invitation.id)?;
        Ok(())
    }
}
