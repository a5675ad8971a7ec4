//! Pushes (精准推送): every entity newly found eligible for a published, open measure gets an
//! inbox message — once per measure version — and, unless muted, e-mail and SMS through the
//! outbox; reminders before an application window closes go to eligible entities that have
//! not applied. The outbox itself is sent by `jobs::outbox`; here are its records.

use std::collections::HashSet;

use serde::Serialize;

use super::{Result, Service, ServiceError};
use crate::model::audit::action;
use crate::model::message::{Message, MessageKind};
use crate::model::push::{Channel, Delivery, DeliveryStatus, MAX_ATTEMPTS, QuietHours, Subscription, backoff_seconds};
use crate::model::{CreditCode, Entity, MeasureVersion, Timestamp, Vocabulary, Who};
use crate::store::WriteTx;
use crate::store::prelude::*;

/// Which channels are configured and how pushes behave.
#[derive(Debug, Clone)]
pub struct PushSettings {
    pub email: bool,
    pub sms: bool,
    pub log: bool,
    pub quiet_hours: Option<QuietHours>,
    /// Days before a window closes when eligible entities that have not applied are reminded.
    pub reminder_days: u32,
    /// The address enterprises reach the platform at, for links in e-mail and SMS.
    pub public_url: String,
}

impl Default for PushSettings {
    fn default() -> PushSettings {
        PushSettings {
            email: false,
            sms: false,
            log: false,
            quiet_hours: None,
            reminder_days: 7,
            public_url: String::new(),
        }
    }
}

/// What one pass over the match events did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PushReport {
    pub events: usize,
    pub messages: usize,
    pub deliveries: usize,
}

/// Entities written per transaction when pushing one measure to many.
const CHUNK: usize = 1000;
const CURSOR: &str = "push_cursor";

/// A pending delivery's queue key time: now, or the end of quiet hours.
fn first_try(settings: &PushSettings, now: Timestamp) -> Timestamp {
    settings.quiet_hours.map_or(now, |q| q.next_allowed(now))
}

/// The meta key of a measure version whose pushes wait for its window to open: `[1]` while
/// waiting, `[0]` once sent.
fn deferred_key(measure: u64, version: u32) -> String {
    format!("push_deferred:{measure}:{version}")
}

/// When applications are taken, as every push says it: 「申报时间 2026-12-01 至 2026-12-31」.
pub fn window_text(spec: &crate::model::MeasureSpec) -> String {
    match (spec.window_start, spec.window_end) {
        (Some(s), Some(e)) => format!("申报时间 {s} 至 {e}"),
        (Some(s), None) => format!("申报时间 {s} 起，不设截止日期"),
        (None, Some(e)) => format!("申报时间即日起至 {e}"),
        (None, None) => "申报时间不限".to_string(),
    }
}

/// The push of a measure to one entity.
fn push_message<'a>(version: &'a MeasureVersion, name: &str) -> Outgoing<'a> {
    let spec = &version.spec;
    let window = window_text(spec);
    Outgoing {
        kind: MessageKind::Push,
        title: format!("政策推送：{}", spec.name),
        body: format!(
            "{name}：根据贵单位在经营主体库中的信息，可能符合「{}」（{}）的条件，{window}。请登录惠企平台查看条件核验结果并办理。",
            spec.name, spec.department
        ),
        short: format!("{name}可能符合「{}」，{window}", spec.name),
        version,
        case_id: None,
    }
}

/// A message about a case to one entity, in the inbox and on the channels it accepts: a
/// 免申即享 offer, a reminder, a failed payment, a recovery notice.
pub(crate) struct CaseNotice<'a> {
    pub case_id: u64,
    pub title: String,
    pub body: String,
    pub short: String,
    pub version: &'a MeasureVersion,
}

struct Outgoing<'a> {
    kind: MessageKind,
    title: String,
    body: String,
    short: String,
    version: &'a MeasureVersion,
    case_id: Option<u64>,
}

impl Service {
    /// Sends a case notice (see [`CaseNotice`]) in the caller's transaction; returns the
    /// deliveries queued.
    pub(crate) fn notify_case(&self, tx: &WriteTx, entity: &Entity, n: CaseNotice<'_>) -> Result<usize> {
        let sub = tx.subscription(entity.id)?;
        let out = Outgoing {
            kind: MessageKind::Case,
            title: n.title,
            body: n.body,
            short: n.short,
            version: n.version,
            case_id: Some(n.case_id),
        };
        Ok(self.deliver(tx, entity, &sub, &out)?.1)
    }

    /// Writes the inbox message and queues the outbound copies the entity accepts.
    fn deliver(&self, tx: &WriteTx, entity: &Entity, sub: &Subscription, out: &Outgoing<'_>) -> Result<(u64, usize)> {
        let settings = &self.config.push;
        let now = tx.now();
        let message = Message {
            id: tx.next_id("message")?,
            entity_id: entity.id,
            at: now,
            kind: out.kind,
            title: out.title.clone(),
            body: out.body.clone(),
            measure_id: Some(out.version.measure_id),
            version: Some(out.version.version),
            case_id: out.case_id,
            read_at: None,
        };
        tx.put_message(&message)?;
        let mut queued = 0;
        if !sub.muted {
            let link = format!("{}/measures/{}", settings.public_url.trim_end_matches('/'), out.version.measure_id);
            let mut targets = Vec::new();
            if settings.email
                && !sub.no_email
                && let Some(to) = entity.contact_email.clone().filter(|e| e.contains('@'))
            {
                targets.push((Channel::Email, to, format!("{}\n\n详情：{link}", out.body)));
            }
            if settings.sms
                && !sub.no_sms
                && let Some(to) = entity.contact_phone.clone().filter(|p| !p.trim().is_empty())
            {
                targets.push((Channel::Sms, to, format!("【惠企】{} {link}", out.short)));
            }
            if settings.log {
                targets.push((Channel::Log, entity.credit_code.as_str().to_string(), out.body.clone()));
            }
            for (channel, to, body) in targets {
                let d = Delivery {
                    id: tx.next_id("delivery")?,
                    entity_id: entity.id,
                    channel,
                    to,
                    subject: out.title.clone(),
                    body,
                    message_id: message.id,
                    created_at: now,
                    not_before: first_try(settings, now),
                    attempts: 0,
                    last_error: None,
                    status: DeliveryStatus::Pending,
                    sent_at: None,
                };
                tx.put_delivery(&d, None)?;
                queued += 1;
            }
        }
        Ok((message.id, queued))
    }

    /// Pushes what the match events since the last pass found: each entity newly eligible for
    /// a measure in force whose window has not closed, once per measure version, as its
    /// subscription allows. Safe to run again after a crash (what was pushed is recorded).
    pub fn push_pending(&self) -> Result<PushReport> {
        let today = self.today();
        let mut report = PushReport::default();
        let cursor = {
            let tx = self.store.read()?;
            tx.meta(CURSOR)?.and_then(|b| b.as_slice().try_into().ok()).map_or(0, u64::from_le_bytes)
        };
        let events = self.store.read()?.match_events(cursor, 50)?;
        for event in events {
            if self.stopping() {
                break;
            }
            let target = {
                let tx = self.store.read()?;
                let measure = tx.measure(event.measure_id)?;
                match measure.filter(|m| m.in_force() && m.published == Some(event.version)) {
                    Some(m) => {
                        tx.version(m.id, event.version)?.filter(|v| v.spec.window_end.is_none_or(|e| e >= today))
                    }
                    None => None,
                }
            };
            let mut ids = event.newly_eligible.iter().copied().peekable();
            if target.is_none() || ids.peek().is_none() {
                let tx = self.store.write()?;
                tx.set_meta(CURSOR, &event.seq.to_le_bytes())?;
                tx.commit()?;
                report.events += 1;
                continue;
            }
            let Some(version) = target else { continue };
            if version.spec.window_start.is_some_and(|s| s > today) {
                // Not open yet: the sweep pushes the eligible entities the day it opens.
                let tx = self.store.write()?;
                tx.set_meta(&deferred_key(version.measure_id, version.version), &[1])?;
                tx.set_meta(CURSOR, &event.seq.to_le_bytes())?;
                tx.commit()?;
                report.events += 1;
                continue;
            }
            let ids: Vec<u64> = ids.collect();
            let (messages, deliveries) = self.push_version(&version, &ids, Some(event.seq))?;
            report.messages += messages;
            report.deliveries += deliveries;
            report.events += 1;
        }
        Ok(report)
    }

    /// Pushes one measure version to these entities, those not yet pushed it and wanting it,
    /// a chunk per transaction; the last one moves the match-event cursor to `seq`, if given.
    fn push_version(&self, version: &MeasureVersion, ids: &[u64], seq: Option<u64>) -> Result<(usize, usize)> {
        let spec = &version.spec;
        let (mut messages, mut deliveries) = (0, 0);
        let chunks: Vec<&[u64]> = ids.chunks(CHUNK).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            // Stopping: the chunks written stay (each entity is pushed once), the cursor does
            // not move, and the next start goes on from here.
            if self.stopping() {
                return Ok((messages, deliveries));
            }
            let tx = self.store.write()?;
            for id in *chunk {
                if tx.pushed(*id, version.measure_id, version.version)?.is_some() {
                    continue;
                }
                let Some(entity) = tx.entity(*id)? else { continue };
                let sub = tx.subscription(*id)?;
                if !sub.wants(spec.category, &spec.department) {
                    continue;
                }
                let out = push_message(version, &entity.name.clone().unwrap_or_default());
                let (message, queued) = self.deliver(&tx, &entity, &sub, &out)?;
                tx.set_pushed(*id, version.measure_id, version.version, message)?;
                messages += 1;
                deliveries += queued;
            }
            if i + 1 == chunks.len() {
                let detail = match seq {
                    Some(seq) => {
                        tx.set_meta(CURSOR, &seq.to_le_bytes())?;
                        format!("v{} match event {seq} ({} entities)", version.version, ids.len())
                    }
                    None => {
                        tx.set_meta(&deferred_key(version.measure_id, version.version), &[0])?;
                        format!("v{} window opened ({} entities)", version.version, ids.len())
                    }
                };
                tx.audit(
                    &Who::system("push"),
                    action::PUSH_MEASURE,
                    &format!("measure:{}", version.measure_id),
                    &detail,
                )?;
            }
            tx.commit()?;
        }
        if chunks.is_empty() && seq.is_none() {
            let tx = self.store.write()?;
            tx.set_meta(&deferred_key(version.measure_id, version.version), &[0])?;
            tx.commit()?;
        }
        Ok((messages, deliveries))
    }

    /// Pushes measures whose pushes waited for their window: on the day it opens (the sweep
    /// runs each minute), to the entities eligible then. Returns how many were pushed.
    pub fn push_opened(&self) -> Result<usize> {
        let today = self.today();
        let mut pushed = 0;
        let measures = self.store.read()?.measures()?;
        for m in measures.into_iter().filter(|m| m.in_force()) {
            let (version, ids) = {
                let tx = self.store.read()?;
                let Some(v) = tx.published_version(m.id)? else { continue };
                if tx.meta(&deferred_key(m.id, v.version))?.as_deref() != Some(&[1]) {
                    continue;
                }
                if v.spec.window_start.is_some_and(|s| s > today) {
                    continue;
                }
                // Closed meanwhile: nothing to push any more.
                let ids = if v.spec.open_on(today) {
                    tx.eligible_set(m.id)?.filter(|s| s.version == v.version).map(|s| s.ids).unwrap_or_default()
                } else {
                    Vec::new()
                };
                (v, ids)
            };
            let ids: Vec<u64> = ids.into_iter().collect();
            pushed += self.push_version(&version, &ids, None)?.0;
        }
        Ok(pushed)
    }

    /// Reminds eligible entities that have not applied, `reminder_days` before a window
    /// closes (once per measure version). Returns how many were reminded.
    pub fn remind_closing(&self) -> Result<usize> {
        let today = self.today();
        let days = self.config.push.reminder_days as i32;
        let mut reminded = 0;
        let measures = self.store.read()?.measures()?;
        for m in measures.into_iter().filter(|m| m.in_force()) {
            let (version, eligible, applied) = {
                let tx = self.store.read()?;
                let Some(v) = tx.published_version(m.id)? else { continue };
                if !matches!(v.spec.mode, crate::model::Mode::Apply | crate::model::Mode::Instant) {
                    continue;
                }
                if v.spec.window_end.is_none_or(|e| e < today || e.days() - today.days() > days) {
                    continue;
                }
                // Done once per version: the sweep runs each minute.
                if tx.meta(&format!("reminded:{}:{}", m.id, v.version))?.is_some() {
                    continue;
                }
                let eligible =
                    tx.eligible_set(m.id)?.filter(|s| s.version == v.version).map(|s| s.ids).unwrap_or_default();
                let mut applied = HashSet::new();
                let mut after = 0;
                loop {
                    let page = tx.cases_of_measure(m.id, after, 5000)?;
                    let Some(last) = page.last() else { break };
                    after = last.id;
                    applied.extend(
                        page.iter()
                            .filter(|c| c.state != crate::model::case::CaseState::Withdrawn)
                            .map(|c| c.entity_id),
                    );
                }
                (v, eligible, applied)
            };
            let spec = &version.spec;
            let end = spec.window_end.unwrap_or(today);
            let todo: Vec<u64> = eligible.into_iter().filter(|id| !applied.contains(id)).collect();
            for chunk in todo.chunks(CHUNK) {
                let tx = self.store.write()?;
                let mut n = 0;
                for id in chunk {
                    if tx.reminded(*id, m.id, version.version)? {
                        continue;
                    }
                    let Some(entity) = tx.entity(*id)? else { continue };
                    let sub = tx.subscription(*id)?;
                    if !sub.wants(spec.category, &spec.department) {
                        continue;
                    }
                    let out = Outgoing {
                        kind: MessageKind::Reminder,
                        title: format!("申报提醒：「{}」将于 {end} 截止", spec.name),
                        body: format!(
                            "{}：「{}」将于 {end} 截止申报（{}），贵单位可能符合条件但尚未申报。",
                            entity.name.clone().unwrap_or_default(),
                            spec.name,
                            window_text(spec)
                        ),
                        short: format!("「{}」{end}截止申报，您可能符合条件", spec.name),
                        version: &version,
                        case_id: None,
                    };
                    self.deliver(&tx, &entity, &sub, &out)?;
                    tx.set_reminded(*id, m.id, version.version)?;
                    n += 1;
                }
                if n > 0 {
                    tx.audit(
                        &Who::system("push"),
                        action::PUSH_REMINDER,
                        &format!("measure:{}", m.id),
                        &format!("{n} entities"),
                    )?;
                    tx.commit()?;
                }
                reminded += n;
            }
            let tx = self.store.write()?;
            tx.set_meta(&format!("reminded:{}:{}", m.id, version.version), &[1])?;
            tx.commit()?;
        }
        Ok(reminded)
    }

    /// Deliveries due now, for the outbox worker; during quiet hours only the log channel.
    pub fn outbox_due(&self, limit: usize) -> Result<Vec<Delivery>> {
        let now = self.now();
        let quiet = self.config.push.quiet_hours.is_some_and(|q| q.next_allowed(now) != now);
        let due = self.store.read()?.due_deliveries(now.0, limit)?;
        Ok(due.into_iter().filter(|d| !quiet || d.channel == Channel::Log).collect())
    }

    /// Records the outcome of one attempt: sent, or failed (retried with backoff, given up
    /// after [`MAX_ATTEMPTS`]). A delivery no longer pending is left alone: it is never sent twice.
    pub fn delivery_outcome(&self, id: u64, outcome: std::result::Result<(), String>) -> Result<Delivery> {
        let tx = self.store.write()?;
        let before = tx.delivery(id)?.ok_or_else(|| ServiceError::NotFound(format!("delivery {id}")))?;
        if before.status != DeliveryStatus::Pending {
            return Ok(before);
        }
        let now = tx.now();
        let mut d = before.clone();
        d.attempts += 1;
        match outcome {
            Ok(()) => {
                d.status = DeliveryStatus::Sent;
                d.sent_at = Some(now);
                d.last_error = None;
            }
            Err(e) => {
                d.last_error = Some(e.chars().take(500).collect());
                if d.attempts >= MAX_ATTEMPTS {
                    d.status = DeliveryStatus::Failed;
                } else {
                    d.not_before = first_try(&self.config.push, now.plus_seconds(backoff_seconds(d.attempts)));
                }
            }
        }
        tx.put_delivery(&d, Some(&before))?;
        let detail = format!("{} to {} attempt {}: {}", d.channel.key(), d.masked_to(), d.attempts, d.status.key());
        tx.audit(&Who::system("outbox"), action::PUSH_DELIVERY, &format!("delivery:{id}"), &detail)?;
        tx.commit()?;
        Ok(d)
    }

    /// Whether a due delivery should still go out: not when its measure was withdrawn
    /// meanwhile. Those are cancelled (recorded, never sent).
    pub fn delivery_wanted(&self, d: &Delivery) -> Result<bool> {
        let tx = self.store.read()?;
        let measure = tx.message(d.entity_id, d.message_id)?.and_then(|m| m.measure_id);
        let withdrawn = match measure {
            Some(id) => tx.measure(id)?.is_some_and(|m| m.withdrawn.is_some()),
            None => false,
        };
        drop(tx);
        if !withdrawn {
            return Ok(true);
        }
        let tx = self.store.write()?;
        if let Some(before) = tx.delivery(d.id)?.filter(|b| b.status == DeliveryStatus::Pending) {
            let mut after = before.clone();
            after.status = DeliveryStatus::Cancelled;
            after.last_error = Some("事项已撤回，不再发送".into());
            tx.put_delivery(&after, Some(&before))?;
            tx.audit(&Who::system("outbox"), action::PUSH_CANCEL, &format!("delivery:{}", d.id), "measure withdrawn")?;
            tx.commit()?;
        }
        Ok(false)
    }

    /// An entity's subscription.
    pub fn subscription(&self, who: &Who, credit_code: &CreditCode) -> Result<Subscription> {
        super::inbox::own_entity(who, credit_code)?;
        let tx = self.store.read()?;
        let id = tx
            .entity_id_by_code(credit_code.as_str())?
            .ok_or_else(|| ServiceError::NotFound(format!("经营主体 {credit_code} 不存在")))?;
        Ok(tx.subscription(id)?)
    }

    /// Sets what an entity subscribes to; departments must exist.
    pub fn subscription_set(&self, who: &Who, credit_code: &CreditCode, mut sub: Subscription) -> Result<Subscription> {
        super::inbox::own_entity(who, credit_code)?;
        sub.departments = sub.departments.iter().map(|d| d.trim().to_string()).filter(|d| !d.is_empty()).collect();
        sub.departments.dedup();
        sub.categories.dedup();
        let tx = self.store.write()?;
        let id = tx
            .entity_id_by_code(credit_code.as_str())?
            .ok_or_else(|| ServiceError::NotFound(format!("经营主体 {credit_code} 不存在")))?;
        for d in &sub.departments {
            if tx.department(d)?.is_none() {
                return Err(ServiceError::invalid("departments", format!("部门「{d}」不存在")));
            }
        }
        tx.put_subscription(id, &sub)?;
        tx.audit(
            who,
            action::SUBSCRIPTION_SET,
            &format!("entity:{credit_code}"),
            &serde_json::to_string(&sub).unwrap_or_default(),
        )?;
        tx.commit()?;
        Ok(sub)
    }

    /// An entity's recent deliveries (what went out, and whether it arrived).
    pub fn deliveries_of(&self, who: &Who, credit_code: &CreditCode, limit: usize) -> Result<Vec<Delivery>> {
        super::inbox::own_entity(who, credit_code)?;
        let tx = self.store.read()?;
        let Some(id) = tx.entity_id_by_code(credit_code.as_str())? else { return Ok(Vec::new()) };
        Ok(tx.deliveries_of(id, limit)?)
    }
}
