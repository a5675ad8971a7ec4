//! The writer threads of an API trial, each with a ledger of the records it changed: the level
//! last acknowledged and the level last sent.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use super::fixture::{DEPT, Fixture};
use crate::bench::client::{Client, snippet};
use crate::model::CreditCode;
use crate::seed::generator::Rng;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

/// A record the writers changed, compared with the store after the restart.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Key {
    /// Level: the head count last written (each write of an entity raises it by one).
    Entity(String),
    /// Level: 1 opened, 2 material attached, 3 submitted, 4 first stage approved, 5 approved.
    Case(u64),
    /// Level: 1 drafted, 2 publication requested, 3 published.
    Measure(u64),
}

/// A record's level when a write was last acknowledged, and when one was last sent (0: absent).
/// After the restart the level found must lie between the two.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Track {
    pub(super) acked: u64,
    pub(super) attempted: u64,
}

/// What one writer thread did.
#[derive(Default)]
pub(super) struct Outcome {
    pub(super) ledger: BTreeMap<Key, Track>,
    pub(super) acks: BTreeMap<&'static str, u64>,
    pub(super) unanswered: BTreeMap<&'static str, u64>,
    pub(super) problems: Vec<String>,
}

enum Sent {
    Acked,
    Lost,
    Stop,
}

struct Writer<'a> {
    client: Client,
    killing: &'a AtomicBool,
    out: Outcome,
}

impl<'a> Writer<'a> {
    fn new(url: &str, token: &str, killing: &'a AtomicBool) -> Writer<'a> {
        let mut client = Client::new(url, Duration::from_secs(60));
        client.bearer = Some(token.to_string());
        Writer { client, killing, out: Outcome::default() }
    }

    /// Sends one write at `key`'s `level`; records the attempt, and the acknowledgement.
    fn write(&mut self, kind: &'static str, key: &Key, level: u64, method: &str, path: &str, body: &[u8]) -> Sent {
        let track = self.out.ledger.entry(key.clone()).or_default();
        track.attempted = track.attempted.max(level);
        let content_type = if body.starts_with(b"{") { Some("application/json") } else { None };
        match self.client.send(method, path, content_type, body) {
            Ok(r) if r.ok() => {
                let track = self.out.ledger.entry(key.clone()).or_default();
                track.acked = track.acked.max(level);
                *self.out.acks.entry(kind).or_default() += 1;
                Sent::Acked
            }
            Ok(r) => {
                self.out.problems.push(format!("{method} {path} answered {}: {}", r.status, snippet(&r.text())));
                Sent::Stop
            }
            Err(_) if self.killing.load(Ordering::SeqCst) => {
                *self.out.unanswered.entry(kind).or_default() += 1;
                Sent::Lost
            }
            Err(e) => {
                self.out.problems.push(format!("before the kill: {e}"));
                Sent::Stop
            }
        }
    }

    /// Creates a record whose id the answer gives: acknowledged at level 1 when answered.
    fn create(
        &mut self,
        kind: &'static str,
        method: &str,
        path: &str,
        body: &Value,
        key: fn(u64) -> Key,
    ) -> Option<u64> {
        match self.client.json(method, path, body) {
            Ok(r) if r.ok() => {
                let id = r.json().ok().and_then(|v| v["id"].as_u64().or(v["measure_id"].as_u64()));
                if id.is_none() {
                    self.out.problems.push(format!("{method} {path}: no id in {}", snippet(&r.text())));
                }
                let id = id?;
                self.out.ledger.insert(key(id), Track { acked: 1, attempted: 1 });
                *self.out.acks.entry(kind).or_default() += 1;
                Some(id)
            }
            Ok(r) => {
                self.out.problems.push(format!("{method} {path} answered {}: {}", r.status, snippet(&r.text())));
                None
            }
            Err(_) if self.killing.load(Ordering::SeqCst) => {
                *self.out.unanswered.entry(kind).or_default() += 1;
                None
            }
            Err(e) => {
                self.out.problems.push(format!("before the kill: {e}"));
                None
            }
        }
    }
}

/// Upserts entities, new ones and old ones, raising each one's head count by one per write.
pub(super) fn entity_writer(w: usize, url: &str, f: &Fixture, killing: &AtomicBool, mut rng: Rng) -> Outcome {
    let mut writer = Writer::new(url, &f.admin, killing);
    let mut codes: Vec<String> = Vec::new();
    let mut n = 0u64;
    loop {
        let code = if codes.is_empty() || rng.chance(0.3) {
            n += 1;
            match CreditCode::with_check(&format!("91230100M{}{n:07}", ['E', 'F', 'G', 'H'][w % 4])) {
                Some(c) => c.to_string(),
                None => break,
            }
        } else {
            rng.pick(&codes).clone()
        };
        let key = Key::Entity(code.clone());
        let level = writer.out.ledger.get(&key).map_or(0, |t| t.attempted) + 1;
        let body =
            json!({"name": format!("试验新企业{code}"), "region": "230102", "industry": "C3911", "employees": level});
        match writer.write(
            "entity_upsert",
            &key,
            level,
            "PUT",
            &format!("/api/v1/entities/{code}"),
            body.to_string().as_bytes(),
        ) {
            Sent::Acked => {
                if level == 1 {
                    codes.push(code);
                }
            }
            Sent::Lost | Sent::Stop => break,
        }
    }
    writer.out
}

/// Opens a case for each entity and measure in turn, attaches the material and submits it;
/// passes each submitted case on to the reviewer.
pub(super) fn case_writer(url: &str, f: &Fixture, killing: &AtomicBool, submitted: mpsc::Sender<u64>) -> Outcome {
    let mut writer = Writer::new(url, &f.enterprise, killing);
    let slot = crate::http::pages::url_encode("营业执照复印件");
    'cases: for measure in &f.measures {
        for code in &f.codes {
            let body = json!({"credit_code": code, "measure_id": measure});
            let Some(id) = writer.create("case_open", "POST", "/api/v1/cases", &body, Key::Case) else { break 'cases };
            let key = Key::Case(id);
            let steps: [(&'static str, u64, String, Vec<u8>); 2] = [
                ("case_attach", 2, format!("/api/v1/cases/{id}/files?slot={slot}&name=licence.pdf"), PDF.to_vec()),
                (
                    "case_submit",
                    3,
                    format!("/api/v1/cases/{id}/submit"),
                    json!({"form": {"contact": "张三"}}).to_string().into_bytes(),
                ),
            ];
            for (kind, level, path, body) in steps {
                if !matches!(writer.write(kind, &key, level, "POST", &path, &body), Sent::Acked) {
                    break 'cases;
                }
            }
            if submitted.send(id).is_err() {
                break 'cases;
            }
        }
    }
    writer.out
}

/// Approves each submitted case at both stages.
pub(super) fn reviewer(url: &str, f: &Fixture, killing: &AtomicBool, submitted: mpsc::Receiver<u64>) -> Outcome {
    let mut writer = Writer::new(url, &f.reviewer, killing);
    let body = json!({"action": "approve", "reason": "同意"}).to_string().into_bytes();
    loop {
        let id = match submitted.recv_timeout(Duration::from_millis(20)) {
            Ok(id) => id,
            Err(mpsc::RecvTimeoutError::Timeout) if killing.load(Ordering::SeqCst) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        for level in [4, 5] {
            let path = format!("/api/v1/cases/{id}/decide");
            if !matches!(writer.write("case_decide", &Key::Case(id), level, "POST", &path, &body), Sent::Acked) {
                return writer.out;
            }
        }
    }
    writer.out
}

/// Drafts measures, asks for their publication, and has the colleague approve it.
pub(super) fn publisher(url: &str, f: &Fixture, killing: &AtomicBool) -> Outcome {
    let mut writer = Writer::new(url, &f.publisher, killing);
    let mut approver = Client::new(url, Duration::from_secs(60));
    approver.bearer = Some(f.approver.clone());
    for n in 1.. {
        let spec = json!({"name": format!("试验通知事项{n}"), "department": DEPT, "mode": "notice"});
        let path = format!("/api/v1/policies/{}/measures", f.policy);
        let Some(id) = writer.create("measure_create", "POST", &path, &spec, Key::Measure) else { break };
        let key = Key::Measure(id);
        let asked = format!("/api/v1/measures/{id}/request-publication");
        if !matches!(writer.write("measure_request", &key, 2, "POST", &asked, b"{}"), Sent::Acked) {
            break;
        }
        // The approval goes out under the colleague's token.
        std::mem::swap(&mut writer.client, &mut approver);
        let sent = writer.write("measure_publish", &key, 3, "POST", &format!("/api/v1/measures/{id}/publish"), b"{}");
        std::mem::swap(&mut writer.client, &mut approver);
        if !matches!(sent, Sent::Acked) {
            break;
        }
    }
    writer.out
}
