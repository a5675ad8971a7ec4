//! Pushes (精准推送): what goes out to an entity beyond its inbox — e-mail, SMS, a log file for
//! pilots — through a persistent outbox with retries; and what each entity subscribes to.

use serde::{Deserialize, Serialize};

use super::date::Timestamp;
use super::enums::{Category, Vocabulary, vocabulary};

vocabulary! {
    Channel {
        Email = "email", "电子邮件", "E-mail";
        Sms = "sms", "短信", "SMS";
        Log = "log", "日志文件", "Log file";
    }
}

vocabulary! {
    DeliveryStatus {
        Pending = "pending", "待发送", "Pending";
        Sent = "sent", "已送达", "Delivered";
        Failed = "failed", "发送失败", "Failed";
        Cancelled = "cancelled", "已取消", "Cancelled";
    }
}

/// One message to send through one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: u64,
    pub entity_id: u64,
    pub channel: Channel,
    /// The address or phone number.
    pub to: String,
    pub subject: String,
    pub body: String,
    /// The inbox message it accompanies.
    pub message_id: u64,
    pub created_at: Timestamp,
    /// Not sent before this time (quiet hours, backoff after a failure).
    pub not_before: Timestamp,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub status: DeliveryStatus,
    pub sent_at: Option<Timestamp>,
}

impl Delivery {
    /// The address or phone as shown to people and written to the audit trail.
    pub fn masked_to(&self) -> String {
        match self.channel {
            Channel::Email => super::mask::email(&self.to),
            Channel::Sms => super::mask::phone(&self.to),
            Channel::Log => self.to.clone(),
        }
    }
}

/// How long to wait after `attempts` failures: 30 s doubling, at most an hour.
pub fn backoff_seconds(attempts: u32) -> i64 {
    (30i64 << attempts.saturating_sub(1).min(7)).min(3600)
}

/// After this many failures a delivery is given up (the inbox message stays).
pub const MAX_ATTEMPTS: u32 = 8;

/// What an entity wants pushed to it (定向订阅). Empty lists mean everything that fits it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Subscription {
    #[serde(default)]
    pub categories: Vec<Category>,
    #[serde(default)]
    pub departments: Vec<String>,
    /// Muted (免打扰): the inbox still receives, nothing is sent by e-mail or SMS.
    #[serde(default)]
    pub muted: bool,
    /// Channels the entity refuses even when not muted.
    #[serde(default)]
    pub no_email: bool,
    #[serde(default)]
    pub no_sms: bool,
}

impl Subscription {
    /// Whether a measure of this category and department is wanted.
    pub fn wants(&self, category: Category, department: &str) -> bool {
        (self.categories.is_empty() || self.categories.contains(&category))
            && (self.departments.is_empty() || self.departments.iter().any(|d| d == department))
    }
}

/// Quiet hours in China Standard Time, e.g. 22 to 8: nothing outbound in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub from: u8,
    pub to: u8,
}

impl QuietHours {
    /// The first moment at or after `now` outside quiet hours.
    pub fn next_allowed(self, now: Timestamp) -> Timestamp {
        const HOUR_MS: i64 = 3_600_000;
        let local = now.0 + 8 * HOUR_MS;
        let hour = (local.rem_euclid(24 * HOUR_MS) / HOUR_MS) as u8;
        let quiet = if self.from <= self.to {
            hour >= self.from && hour < self.to
        } else {
            hour >= self.from || hour < self.to
        };
        if !quiet {
            return now;
        }
        let day_start = local - local.rem_euclid(24 * HOUR_MS);
        let mut end = day_start + i64::from(self.to) * HOUR_MS;
        if end <= local {
            end += 24 * HOUR_MS;
        }
        Timestamp(end - 8 * HOUR_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!([1, 2, 3, 8, 20].map(backoff_seconds), [30, 60, 120, 3600, 3600]);
    }

    #[test]
    fn quiet_hours_wait_for_the_morning() {
        let q = QuietHours { from: 22, to: 8 };
        // 2026-11-27 23:30 CST = 15:30 UTC.
        let late = Timestamp(1_795_793_400_000);
        assert_eq!(q.next_allowed(late).display_cst(), "2026-11-28 08:00");
        // 07:00 CST waits one hour; 12:00 CST goes at once.
        let early = Timestamp(late.0 + 7 * 3_600_000 + 1_800_000);
        assert_eq!(q.next_allowed(early).display_cst(), "2026-11-28 08:00");
        let noon = Timestamp(late.0 + 12 * 3_600_000 + 1_800_000);
        assert_eq!(q.next_allowed(noon), noon);
    }

    #[test]
    fn subscriptions_filter_by_category_and_department() {
        let s = Subscription { categories: vec![Category::Subsidy], ..Subscription::default() };
        assert!(s.wants(Category::Subsidy, "科技局") && !s.wants(Category::Other, "科技局"));
        assert!(Subscription::default().wants(Category::Other, "任何部门"));
    }
}
