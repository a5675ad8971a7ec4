//! The push outbox worker and its channels: e-mail over SMTP (lettre), SMS through an HTTP
//! gateway (a JSON POST built from a template), and a log file for pilots. Each pass turns new
//! match events into pushes, then sends what is due; every attempt's outcome is written before
//! the next one starts, so a sent message is never sent again, also after a restart.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::Transport;
use lettre::message::Mailbox;

use crate::model::push::{Channel, Delivery};
use crate::service::Service;

/// How often the outbox runs.
pub const OUTBOX_EVERY: Duration = Duration::from_secs(5);

/// Where outbound messages go; a channel left out is not configured (its deliveries are not
/// created, see `service::push::PushSettings`).
#[derive(Default)]
pub struct Channels {
    pub smtp: Option<Smtp>,
    pub sms: Option<SmsGateway>,
    pub log: Option<PathBuf>,
}

pub struct Smtp {
    transport: lettre::SmtpTransport,
    from: Mailbox,
}

impl Smtp {
    /// `url` as lettre reads it: `smtp://user:pass@host:587?tls=required`, `smtps://host`, or
    /// `smtp://host:2525` without TLS (a local relay).
    pub fn new(url: &str, from: &str) -> Result<Smtp, String> {
        let transport = lettre::SmtpTransport::from_url(url)
            .map_err(|e| format!("SMTP 地址无效（{url}）：{e}"))?
            .timeout(Some(Duration::from_secs(15)))
            .build();
        let from = from.parse::<Mailbox>().map_err(|e| format!("发件人地址无效（{from}）：{e}"))?;
        Ok(Smtp { transport, from })
    }

    fn send(&self, d: &Delivery) -> Result<(), String> {
        let to = d.to.parse::<Mailbox>().map_err(|e| format!("收件人地址无效：{e}"))?;
        let host = self.from.email.domain().to_string();
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(d.subject.clone())
            // One id per delivery: a receiving server that sees it twice keeps one.
            .message_id(Some(format!("<huiqi-delivery-{}@{host}>", d.id)))
            .body(d.body.clone())
            .map_err(|e| e.to_string())?;
        self.transport.send(&message).map(|_| ()).map_err(|e| e.to_string())
    }
}

/// An SMS gateway reached by an HTTP POST of a JSON body. The template names `{{phone}}` and
/// `{{text}}`, each replaced by a JSON string. Pushes reach it through the outbox; password
/// recovery codes directly (see [`crate::auth::TextSender`]), so that a code is never stored.
#[derive(Clone)]
pub struct SmsGateway {
    url: String,
    template: String,
    /// A header such as `Authorization: Bearer …`.
    header: Option<(String, String)>,
    agent: ureq::Agent,
}

/// The template the gateway gets when none is configured.
pub const DEFAULT_SMS_TEMPLATE: &str = r#"{"phone": {{phone}}, "content": {{text}}}"#;

impl SmsGateway {
    pub fn new(url: &str, template: &str, header: Option<&str>) -> Result<SmsGateway, String> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("短信网关地址应以 http:// 或 https:// 开头：{url}"));
        }
        let sample = render(template, "13800000000", "测试");
        serde_json::from_str::<serde_json::Value>(&sample)
            .map_err(|e| format!("短信模板填入后不是有效的 JSON（{e}）：{sample}"))?;
        let header = match header {
            Some(h) => {
                let (k, v) = h.split_once(':').ok_or_else(|| format!("请求头应为「名称: 值」：{h}"))?;
                Some((k.trim().to_string(), v.trim().to_string()))
            }
            None => None,
        };
        let config = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(15))).build();
        Ok(SmsGateway { url: url.to_string(), template: template.to_string(), header, agent: config.into() })
    }

    fn send(&self, d: &Delivery) -> Result<(), String> {
        self.post(&d.to, &d.body)
    }

    fn post(&self, phone: &str, text: &str) -> Result<(), String> {
        let body = render(&self.template, phone, text);
        let mut req = self.agent.post(&self.url).header("Content-Type", "application/json");
        if let Some((k, v)) = &self.header {
            req = req.header(k, v);
        }
        req.send(body).map(|_| ()).map_err(|e| e.to_string())
    }
}

impl crate::auth::TextSender for SmsGateway {
    fn send_text(&self, phone: &str, text: &str) -> Result<(), String> {
        self.post(phone, text)
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn render(template: &str, phone: &str, text: &str) -> String {
    template.replace("{{phone}}", &json_string(phone)).replace("{{text}}", &json_string(text))
}

fn log_line(path: &PathBuf, d: &Delivery) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let line = serde_json::json!({
        "delivery": d.id, "entity": d.to, "subject": d.subject, "body": d.body, "at": d.created_at,
    });
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| e.to_string())?;
    writeln!(f, "{line}").map_err(|e| e.to_string())
}

impl Channels {
    fn send(&self, d: &Delivery) -> Result<(), String> {
        match d.channel {
            Channel::Email => self.smtp.as_ref().ok_or("未配置 SMTP")?.send(d),
            Channel::Sms => self.sms.as_ref().ok_or("未配置短信网关")?.send(d),
            Channel::Log => log_line(self.log.as_ref().ok_or("未配置推送日志文件")?, d),
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Pass {
    pub pushed: usize,
    pub sent: usize,
    pub failed: usize,
}

/// One pass: new pushes from match events, then every due delivery, one attempt each.
pub fn run_once(svc: &Service, channels: &Channels) -> crate::service::Result<Pass> {
    let mut pass = Pass { pushed: svc.push_pending()?.messages, ..Pass::default() };
    loop {
        let due = if svc.stopping() { Vec::new() } else { svc.outbox_due(100)? };
        if due.is_empty() {
            break;
        }
        for d in due {
            if !svc.delivery_wanted(&d)? {
                continue;
            }
            let outcome = channels.send(&d);
            if let Err(e) = &outcome {
                tracing::warn!(delivery = d.id, channel = ?d.channel, "delivery failed: {e}");
            }
            let ok = outcome.is_ok();
            svc.delivery_outcome(d.id, outcome)?;
            if ok {
                pass.sent += 1;
            } else {
                pass.failed += 1;
            }
        }
        // Failed ones wait for their backoff: they are no longer due.
    }
    Ok(pass)
}

/// Runs the outbox every `every` until the runtime stops.
pub fn spawn(svc: Arc<Service>, channels: Arc<Channels>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let ch = Arc::clone(&channels);
            match svc.blocking(move |s| run_once(s, &ch)).await {
                Ok(p) if p.pushed + p.sent + p.failed > 0 => tracing::info!(?p, "outbox"),
                Ok(_) => {}
                Err(e) => tracing::error!("outbox pass failed: {e}"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sms_body_is_json_whatever_the_text() {
        let body = render(DEFAULT_SMS_TEMPLATE, "13800001111", "「研发补助」\"截止\"\n12月31日");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["content"], "「研发补助」\"截止\"\n12月31日");
        assert!(SmsGateway::new("http://gw.example/send", "{\"p\": {{phone}}", None).is_err(), "not JSON once filled");
        assert!(SmsGateway::new("ftp://gw", DEFAULT_SMS_TEMPLATE, None).is_err());
    }
}
