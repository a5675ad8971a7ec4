//! Pushes to entities: the inbox (站内信), the outbox of deliveries by e-mail, SMS or log with
//! its due index, the record of what was pushed and reminded (never twice), and subscriptions.

use redb::ReadableTable;

use super::Result;
use super::codec::decode;
use super::tables::{
    DELIVERY_ID_TO_DELIVERY, DUE_TO_DELIVERY, ENTITY_TO_DELIVERY, ENTITY_TO_MESSAGE, ENTITY_TO_REMINDED_VERSION,
    ENTITY_TO_SUBSCRIPTION, ENTITY_VERSION_TO_PUSH_MESSAGE,
};
use super::tx::{Tables, WriteTx, get_record};
use crate::model::message::Message;
use crate::model::push::{Delivery, DeliveryStatus, Subscription};

pub trait PushReads: Tables {
    /// An entity's messages, newest first.
    fn messages(&self, entity: u64, limit: usize) -> Result<Vec<Message>> {
        let t = self.table(ENTITY_TO_MESSAGE)?;
        t.range((entity, 0)..=(entity, u64::MAX))?.rev().take(limit).map(|r| decode(r?.1.value())).collect()
    }

    fn message(&self, entity: u64, id: u64) -> Result<Option<Message>> {
        get_record(self.table(ENTITY_TO_MESSAGE)?.get((entity, id))?)
    }

    fn delivery(&self, id: u64) -> Result<Option<Delivery>> {
        get_record(self.table(DELIVERY_ID_TO_DELIVERY)?.get(id)?)
    }

    /// Pending deliveries due at `now` (ms since the epoch), the oldest first.
    fn due_deliveries(&self, now: i64, limit: usize) -> Result<Vec<Delivery>> {
        let due = self.table(DUE_TO_DELIVERY)?;
        let t = self.table(DELIVERY_ID_TO_DELIVERY)?;
        let mut out = Vec::new();
        for row in due.range((i64::MIN, 0)..=(now, u64::MAX))?.take(limit) {
            let id = row?.0.value().1;
            if let Some(v) = t.get(id)? {
                out.push(decode(v.value())?);
            }
        }
        Ok(out)
    }

    /// An entity's deliveries, newest first.
    fn deliveries_of(&self, entity: u64, limit: usize) -> Result<Vec<Delivery>> {
        let index = self.table(ENTITY_TO_DELIVERY)?;
        let t = self.table(DELIVERY_ID_TO_DELIVERY)?;
        let mut out = Vec::new();
        for row in index.range((entity, 0)..=(entity, u64::MAX))?.rev().take(limit) {
            if let Some(v) = t.get(row?.0.value().1)? {
                out.push(decode(v.value())?);
            }
        }
        Ok(out)
    }

    /// Counts of deliveries by status (for the administration page and `/metrics`).
    fn outbox_counts(&self) -> Result<(u64, u64, u64)> {
        let t = self.table(DELIVERY_ID_TO_DELIVERY)?;
        let (mut pending, mut sent, mut failed) = (0, 0, 0);
        for row in t.iter()? {
            match decode::<Delivery>(row?.1.value())?.status {
                DeliveryStatus::Pending => pending += 1,
                DeliveryStatus::Sent => sent += 1,
                DeliveryStatus::Failed | DeliveryStatus::Cancelled => failed += 1,
            }
        }
        Ok((pending, sent, failed))
    }

    fn pushed(&self, entity: u64, measure: u64, version: u32) -> Result<Option<u64>> {
        let t = self.table(ENTITY_VERSION_TO_PUSH_MESSAGE)?;
        Ok(t.get((entity, measure, version))?.map(|v| v.value()))
    }

    fn reminded(&self, entity: u64, measure: u64, version: u32) -> Result<bool> {
        let t = self.table(ENTITY_TO_REMINDED_VERSION)?;
        Ok(t.get((entity, measure, version))?.is_some())
    }

    fn subscription(&self, entity: u64) -> Result<Subscription> {
        let t = self.table(ENTITY_TO_SUBSCRIPTION)?;
        Ok(get_record(t.get(entity)?)?.unwrap_or_default())
    }
}

impl<T: Tables + ?Sized> PushReads for T {}

impl WriteTx {
    pub fn put_message(&self, message: &Message) -> Result<()> {
        self.put(ENTITY_TO_MESSAGE, (message.entity_id, message.id), message)
    }

    /// Writes a delivery and keeps the due index: pending ones are listed by `not_before`.
    pub fn put_delivery(&self, d: &Delivery, before: Option<&Delivery>) -> Result<()> {
        self.put(DELIVERY_ID_TO_DELIVERY, d.id, d)?;
        self.txn.open_table(ENTITY_TO_DELIVERY)?.insert((d.entity_id, d.id), ())?;
        let mut due = self.txn.open_table(DUE_TO_DELIVERY)?;
        if let Some(b) = before.filter(|b| b.status == DeliveryStatus::Pending) {
            due.remove((b.not_before.0, b.id))?;
        }
        if d.status == DeliveryStatus::Pending {
            due.insert((d.not_before.0, d.id), ())?;
        }
        Ok(())
    }

    pub fn set_pushed(&self, entity: u64, measure: u64, version: u32, message: u64) -> Result<()> {
        self.txn.open_table(ENTITY_VERSION_TO_PUSH_MESSAGE)?.insert((entity, measure, version), message)?;
        Ok(())
    }

    pub fn set_reminded(&self, entity: u64, measure: u64, version: u32) -> Result<()> {
        self.txn.open_table(ENTITY_TO_REMINDED_VERSION)?.insert((entity, measure, version), ())?;
        Ok(())
    }

    pub fn put_subscription(&self, entity: u64, s: &Subscription) -> Result<()> {
        self.put(ENTITY_TO_SUBSCRIPTION, entity, s)
    }
}
