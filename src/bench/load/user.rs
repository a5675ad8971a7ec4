//! A simulated user: its share of the run, its connection and figures, and the requests it
//! makes (timed, checked, counted); what it does in a visit is in `personas`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Group;
use super::prepare::Accounts;
use crate::auth::demo::DEMO_PASSWORD;
use crate::bench::client::{Client, Reply, csrf_field, form_body, snippet};
use crate::seed::generator::Rng;

/// What every user shares: the address, the accounts and who is using which.
pub(super) struct Shared {
    pub(super) deadline: Instant,
    pub(super) think: (Duration, Duration),
    pub(super) accounts: Accounts,
    pub(super) policies: Vec<u64>,
    pub(super) public_measures: Vec<u64>,
    pub(super) free_enterprises: Mutex<Vec<usize>>,
    pub(super) free_reviewers: Mutex<Vec<usize>>,
    pub(super) free_staff: Mutex<Vec<usize>>,
    /// Cases a reviewer is deciding right now.
    pub(super) claimed: Mutex<HashSet<u64>>,
    pub(super) requests: AtomicU64,
}

pub(super) fn take(pool: &Mutex<Vec<usize>>, rng: &mut Rng) -> Option<usize> {
    let mut free = pool.lock().ok()?;
    if free.is_empty() {
        return None;
    }
    let i = rng.below(free.len() as u64) as usize;
    Some(free.swap_remove(i))
}

pub(super) fn give_back(pool: &Mutex<Vec<usize>>, i: usize) {
    if let Ok(mut free) = pool.lock() {
        free.push(i);
    }
}

#[derive(Default)]
pub(super) struct Samples {
    pub(super) latencies_us: Vec<u32>,
    pub(super) errors: u64,
}

/// One user's figures, merged at the end.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) kinds: BTreeMap<&'static str, (Group, Samples)>,
    /// Errors outside any one request (a page without its CSRF field, a thread that died).
    pub(super) other_errors: u64,
    pub(super) error_samples: Vec<String>,
    pub(super) visits: BTreeMap<&'static str, u64>,
}

impl Tally {
    pub(super) fn failed(why: String) -> Tally {
        Tally { other_errors: 1, error_samples: vec![why], ..Tally::default() }
    }
}

pub(super) struct User<'a> {
    pub(super) shared: &'a Shared,
    pub(super) client: Client,
    pub(super) rng: Rng,
    pub(super) tally: Tally,
}

impl<'a> User<'a> {
    /// Waits a think time; false once the run is over.
    fn pause(&mut self) -> bool {
        let (lo, hi) = self.shared.think;
        let wait = lo + (hi.saturating_sub(lo)).mul_f64(self.rng.f64());
        let now = Instant::now();
        if now + wait >= self.shared.deadline {
            std::thread::sleep(self.shared.deadline.saturating_duration_since(now));
            return false;
        }
        std::thread::sleep(wait);
        true
    }

    /// One request after a think time; the answer when its status is one of `expect`.
    pub(super) fn call(
        &mut self,
        kind: &'static str,
        group: Group,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
        expect: &[u16],
    ) -> Option<Reply> {
        if !self.pause() {
            return None;
        }
        let (content_type, bytes) = body.map_or((None, &[][..]), |(c, b)| (Some(c), b));
        let started = Instant::now();
        let result = self.client.send(method, path, content_type, bytes);
        let us = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
        self.shared.requests.fetch_add(1, Ordering::Relaxed);
        let samples = &mut self.tally.kinds.entry(kind).or_insert_with(|| (group, Samples::default())).1;
        samples.latencies_us.push(us);
        let problem = match &result {
            Ok(r) if expect.contains(&r.status) => None,
            Ok(r) => Some(format!("{kind}: {method} {path} answered {}: {}", r.status, snippet(&r.text()))),
            Err(e) => Some(format!("{kind}: {e}")),
        };
        if let Some(p) = problem {
            samples.errors += 1;
            if self.tally.error_samples.len() < 20 {
                self.tally.error_samples.push(p);
            }
            return None;
        }
        let reply = result.ok()?;
        if self.client.cookie.is_some() && self.client.csrf.is_none() && group == Group::Page {
            self.client.csrf = csrf_field(&reply.text());
        }
        Some(reply)
    }

    pub(super) fn page(&mut self, kind: &'static str, path: &str) -> Option<Reply> {
        self.call(kind, Group::Page, "GET", path, None, &[200])
    }

    pub(super) fn api_get(&mut self, kind: &'static str, path: &str) -> Option<Reply> {
        self.call(kind, Group::ApiRead, "GET", path, None, &[200])
    }

    pub(super) fn api_write(&mut self, kind: &'static str, path: &str, body: &Value, expect: &[u16]) -> Option<Reply> {
        let bytes = body.to_string().into_bytes();
        self.call(kind, Group::Write, "POST", path, Some(("application/json", &bytes)), expect)
    }

    /// The sign-in form, as a browser fills it in; leaves the session cookie on the client.
    pub(super) fn sign_in(&mut self, username: &str, next: &str) -> bool {
        self.client.cookie = None;
        self.client.csrf = None;
        let Some(form) = self.page("page_login", "/login") else { return false };
        let (Some(anon), Some(token)) = (form.cookie("huiqi_csrf"), csrf_field(&form.text())) else {
            self.tally.other_errors += 1;
            self.tally.error_samples.push("the sign-in page has no CSRF cookie or field".into());
            return false;
        };
        self.client.cookie = Some(anon);
        let body = form_body(&[("csrf", &token), ("username", username), ("password", DEMO_PASSWORD), ("next", next)]);
        let reply = self.call(
            "sign_in",
            Group::SignIn,
            "POST",
            "/login",
            Some(("application/x-www-form-urlencoded", body.as_bytes())),
            &[303],
        );
        match reply.and_then(|r| r.cookie("huiqi_session")) {
            Some(session) => {
                self.client.cookie = Some(session);
                true
            }
            None => {
                self.client.cookie = None;
                false
            }
        }
    }

    pub(super) fn sign_out(&mut self) {
        if let Some(csrf) = self.client.csrf.clone() {
            let body = form_body(&[("csrf", &csrf)]);
            self.call(
                "sign_out",
                Group::Write,
                "POST",
                "/logout",
                Some(("application/x-www-form-urlencoded", body.as_bytes())),
                &[303],
            );
        }
        self.client.cookie = None;
        self.client.csrf = None;
    }
}
