//! The inbox (站内信) of an entity: what the platform told it, read and unread. Only accounts
//! that act for the entity reach it.

use super::{Result, Service, ServiceError};
use crate::model::audit::action;
use crate::model::message::Message;
use crate::model::push::{Delivery, Subscription};
use crate::model::{CreditCode, Who};
use crate::store::prelude::*;

/// The entity's inbox, newest first, and how many of its messages are unread.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Inbox {
    /// The entity's credit code, normalised.
    pub code: String,
    pub messages: Vec<Message>,
    pub unread: usize,
}

/// An account reaches an entity's inbox, subscription and deliveries only for an entity it is
/// verified to act for (the program itself and the command line for any).
pub fn own_entity(who: &Who, code: &CreditCode) -> Result<()> {
    if who.role.is_none() || who.acts_for(code) { Ok(()) } else { Err(not_own()) }
}

/// The subscription page: what the entity subscribes to, the departments it may choose from,
/// and what went out to it by e-mail and SMS.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SubscriptionPage {
    pub subscription: Subscription,
    pub departments: Vec<String>,
    pub deliveries: Vec<Delivery>,
}

/// The answer to an account that asks for an entity it does not act for.
pub fn not_own() -> ServiceError {
    ServiceError::Forbidden("您的账号尚未绑定这家企业".into())
}

impl Service {
    pub fn subscription_page(&self, who: &Who, code: &CreditCode, deliveries: usize) -> Result<SubscriptionPage> {
        Ok(SubscriptionPage {
            subscription: self.subscription(who, code)?,
            departments: self.departments()?,
            deliveries: self.deliveries_of(who, code, deliveries)?,
        })
    }

    /// The entity's inbox, newest first, and how many are unread.
    pub fn inbox(&self, who: &Who, credit_code: &CreditCode, limit: usize) -> Result<Inbox> {
        own_entity(who, credit_code)?;
        let code = credit_code.to_string();
        let tx = self.store.read()?;
        let Some(id) = tx.entity_id_by_code(&code)? else { return Ok(Inbox { code, messages: Vec::new(), unread: 0 }) };
        let all = tx.messages(id, usize::MAX)?;
        let unread = all.iter().filter(|m| m.read_at.is_none()).count();
        Ok(Inbox { code, messages: all.into_iter().take(limit).collect(), unread })
    }

    /// Marks a message read (once; audited like every change).
    pub fn inbox_read(&self, who: &Who, credit_code: &CreditCode, message: u64) -> Result<Message> {
        own_entity(who, credit_code)?;
        let tx = self.store.write()?;
        let id = tx
            .entity_id_by_code(credit_code.as_str())?
            .ok_or_else(|| ServiceError::NotFound(format!("经营主体 {credit_code} 不存在")))?;
        let mut m =
            tx.message(id, message)?.ok_or_else(|| ServiceError::NotFound(format!("消息 #{message} 不存在")))?;
        if m.read_at.is_none() {
            m.read_at = Some(tx.now());
            tx.put_message(&m)?;
            tx.audit(who, action::INBOX_READ, &format!("entity:{credit_code}"), &format!("message #{message}"))?;
            tx.commit()?;
        }
        Ok(m)
    }
}
