//! What each kind of user does in one visit — the public, an enterprise, a reviewer, staff,
//! another system — and the choice of visit until the run is over.

use std::time::Instant;

use serde_json::{Value, json};

use super::Group;
use super::user::{User, give_back, take};
use crate::http::pages::url_encode;
use crate::seed::generator::Rng;

const SEARCHES: [&str; 8] = ["高新", "补贴", "人才", "就业", "科技", "创新", "稳岗", "小微"];
const ENTITY_SEARCHES: [&str; 6] = ["科技", "哈尔滨", "食品", "农业", "机械", "有限公司"];
const PDF_HEAD: &[u8] = b"%PDF-1.4\n% huiqi load test\n1 0 obj << /Type /Catalog >> endobj\n";
const PNG_HEAD: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00";

impl User<'_> {
    /// The public: home, policy search and pages, the calculator page and its API.
    fn visitor(&mut self) {
        let actions = 3 + self.rng.below(5);
        for _ in 0..actions {
            let term = url_encode(SEARCHES[self.rng.below(SEARCHES.len() as u64) as usize]);
            let shared = self.shared;
            let policy = pick(&mut self.rng, &shared.policies);
            let measure = pick(&mut self.rng, &shared.public_measures);
            let done = match self.rng.below(9) {
                0 => self.page("page_home", "/"),
                1 => self.page("page_policies", &format!("/policies?q={term}")),
                2 => self.page("page_policy", &format!("/policies/{policy}")),
                3 => self.page("page_measure", &format!("/measures/{measure}")),
                4 => {
                    let q = self.calculator_query();
                    self.page("page_calculator", &format!("/calculator?{q}"))
                }
                5 => {
                    let body = json!({
                        "region": "230102", "industry": "C3911",
                        "employees": 10 + self.rng.below(300), "revenue": 100 + self.rng.below(9000),
                    })
                    .to_string();
                    self.call(
                        "api_calculator",
                        Group::ApiRead,
                        "POST",
                        "/api/v1/calculator",
                        Some(("application/json", body.as_bytes())),
                        &[200],
                    )
                }
                6 => self.api_get("api_policies", &format!("/api/v1/policies?q={term}")),
                7 => self.api_get("api_measure", &format!("/api/v1/measures/{measure}")),
                _ => self.page("page_policies", "/policies?open_now=true"),
            };
            if done.is_none() && Instant::now() >= self.shared.deadline {
                return;
            }
        }
    }

    fn calculator_query(&mut self) -> String {
        let regions = ["230102", "230103", "230109", "230125", "230183"];
        let industries = ["C3911", "I6513", "C1311", "A0111", "M7320"];
        format!(
            "region={}&industry={}&employees={}&revenue={}&rd_expense={}",
            self.rng.pick(&regions),
            self.rng.pick(&industries),
            5 + self.rng.below(400),
            50 + self.rng.below(20_000),
            self.rng.below(500)
        )
    }

    /// An enterprise: signs in, looks at its entity, applies for one measure with two files,
    /// submits (or resubmits a returned case), follows the case and the inbox, signs out.
    fn enterprise(&mut self, account: usize) {
        let Some((username, code)) = self.shared.accounts.enterprises.get(account).cloned() else { return };
        if !self.sign_in(&username, "/my") {
            return;
        }
        self.page("page_my", "/my");
        self.page("page_my_entity", &format!("/my/entities/{code}"));
        let mut measures = self.shared.accounts.measures.clone();
        for i in (1..measures.len()).rev() {
            measures.swap(i, self.rng.below(i as u64 + 1) as usize);
        }
        let mut case_id = None;
        for measure in measures {
            let body = json!({"credit_code": code, "measure_id": measure});
            let Some(reply) = self.api_write("api_case_open", "/api/v1/cases", &body, &[200, 201, 409]) else { break };
            if reply.status == 409 {
                continue;
            }
            let Ok(case) = reply.json() else { break };
            let Some(id) = case["id"].as_u64() else { break };
            case_id = Some(id);
            let state = case["state"].as_str().unwrap_or_default().to_string();
            if state == "draft" && case["files"].as_array().is_none_or(|f| f.len() < 2) {
                for (slot, name, head) in
                    [("营业执照复印件", "营业执照.pdf", PDF_HEAD), ("申请表", "申请表.png", PNG_HEAD)]
                {
                    let bytes = attachment(head, id, &mut self.rng);
                    let path = format!("/api/v1/cases/{id}/files?slot={}&name={}", url_encode(slot), url_encode(name));
                    if self
                        .call(
                            "api_case_attach",
                            Group::Write,
                            "POST",
                            &path,
                            Some(("application/octet-stream", &bytes)),
                            &[201],
                        )
                        .is_none()
                    {
                        break;
                    }
                }
            }
            if state == "draft" || state == "returned" {
                let body = json!({"form": {"contact": "王经理"}});
                self.api_write("api_case_submit", &format!("/api/v1/cases/{id}/submit"), &body, &[200]);
            }
            break;
        }
        if let Some(id) = case_id {
            self.page("page_case", &format!("/cases/{id}"));
        }
        self.page("page_inbox", &format!("/my/entities/{code}/inbox"));
        self.sign_out();
    }

    /// A reviewer: signs in, opens the queue, decides up to three cases of the load's
    /// measures (approve, or return for supplement, at the first stage; approve or reject at
    /// the last), searches the entity library, signs out.
    fn reviewer(&mut self, account: usize) {
        let Some(username) = self.shared.accounts.reviewers.get(account).cloned() else { return };
        if !self.sign_in(&username, "/staff") {
            return;
        }
        self.page("page_staff", "/staff");
        self.page("page_staff_cases", "/staff/cases");
        let Some(queue) = self.api_get("api_cases_queue", "/api/v1/cases?state=in_review") else {
            self.sign_out();
            return;
        };
        let cases: Vec<Value> = queue
            .json()
            .ok()
            .and_then(|v| v["cases"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter(|c| {
                c["state"] == "in_review"
                    && c["measure_id"].as_u64().is_some_and(|m| self.shared.accounts.measures.contains(&m))
            })
            .collect();
        let mut mine = Vec::new();
        if let Ok(mut claimed) = self.shared.claimed.lock() {
            for c in cases {
                if mine.len() >= 3 {
                    break;
                }
                if let Some(id) = c["id"].as_u64()
                    && claimed.insert(id)
                {
                    mine.push(c);
                }
            }
        }
        for id in mine.iter().filter_map(|c| c["id"].as_u64()) {
            self.page("page_case", &format!("/cases/{id}"));
            // The queue may be older than a colleague's decision: decide on the case as it is now.
            let Some(c) = self.api_get("api_case", &format!("/api/v1/cases/{id}")).and_then(|r| r.json().ok()) else {
                continue;
            };
            if c["state"] != "in_review" {
                continue;
            }
            let last = c["stage"].as_u64().unwrap_or(0) + 1 >= c["stages"].as_array().map_or(1, |s| s.len() as u64);
            let returns = c["returns"].as_u64().unwrap_or(0);
            let x = self.rng.f64();
            let body = if !last && x < 0.15 && returns < 2 {
                json!({"action": "return", "reason": "申请表信息不完整，请补充联系人电话"})
            } else if last && x < 0.6 {
                json!({"action": "reject", "reason": "本年度已享受同类补助"})
            } else {
                json!({"action": "approve", "reason": "材料齐全，同意"})
            };
            self.api_write("api_case_decide", &format!("/api/v1/cases/{id}/decide"), &body, &[200]);
        }
        if let Ok(mut claimed) = self.shared.claimed.lock() {
            for c in &mine {
                if let Some(id) = c["id"].as_u64() {
                    claimed.remove(&id);
                }
            }
        }
        let term = url_encode(ENTITY_SEARCHES[self.rng.below(ENTITY_SEARCHES.len() as u64) as usize]);
        self.page("page_staff_entities", &format!("/staff/entities?q={term}"));
        self.sign_out();
    }

    /// Staff: sign in, search the entity library by name and region, open an entity's file,
    /// the same through the API, sign out.
    fn staff(&mut self, account: usize) {
        let Some(username) = self.shared.accounts.staff.get(account).cloned() else { return };
        if !self.sign_in(&username, "/staff") {
            return;
        }
        let term = url_encode(ENTITY_SEARCHES[self.rng.below(ENTITY_SEARCHES.len() as u64) as usize]);
        self.page("page_staff_entities", &format!("/staff/entities?q={term}"));
        let region = self.rng.pick(&["230102", "230103", "230109", "2301"]).to_string();
        self.page("page_staff_entities", &format!("/staff/entities?region={region}"));
        let code = self.entity_code();
        self.page("page_staff_entity", &format!("/staff/entities/{code}"));
        self.api_get("api_entities", &format!("/api/v1/entities?q={term}&limit=20"));
        self.api_get("api_entity", &format!("/api/v1/entities/{code}"));
        self.sign_out();
    }

    /// Another system with a token: entity lists and files, matches, policies, match events.
    fn api_client(&mut self) {
        self.client.bearer = Some(self.shared.accounts.token.clone());
        let code = self.entity_code();
        self.api_get("api_entities", "/api/v1/entities?region=2301&limit=50");
        self.api_get("api_entity", &format!("/api/v1/entities/{code}"));
        self.api_get("api_entity_matches", &format!("/api/v1/entities/{code}/matches"));
        self.api_get("api_policies", "/api/v1/policies");
        self.api_get("api_match_events", "/api/v1/match-events?after=0&limit=100");
        self.client.bearer = None;
    }

    fn entity_code(&mut self) -> String {
        let all = &self.shared.accounts.enterprises;
        if all.is_empty() {
            return String::new();
        }
        all[self.rng.below(all.len() as u64) as usize].1.clone()
    }

    /// Visits until the run is over.
    pub(super) fn live(&mut self) {
        while Instant::now() < self.shared.deadline {
            let persona = self.rng.below(100);
            let shared = self.shared;
            let visit = if persona < 25 {
                match take(&shared.free_enterprises, &mut self.rng) {
                    Some(i) => {
                        self.enterprise(i);
                        give_back(&shared.free_enterprises, i);
                        "enterprise"
                    }
                    None => {
                        self.visitor();
                        "public"
                    }
                }
            } else if persona < 33 {
                match take(&shared.free_reviewers, &mut self.rng) {
                    Some(i) => {
                        self.reviewer(i);
                        give_back(&shared.free_reviewers, i);
                        "reviewer"
                    }
                    None => {
                        self.visitor();
                        "public"
                    }
                }
            } else if persona < 40 {
                match take(&shared.free_staff, &mut self.rng) {
                    Some(i) => {
                        self.staff(i);
                        give_back(&shared.free_staff, i);
                        "staff"
                    }
                    None => {
                        self.visitor();
                        "public"
                    }
                }
            } else if persona < 50 {
                self.api_client();
                "api_client"
            } else {
                self.visitor();
                "public"
            };
            *self.tally.visits.entry(visit).or_default() += 1;
        }
    }
}

fn pick(rng: &mut Rng, items: &[u64]) -> u64 {
    if items.is_empty() { 1 } else { *rng.pick(items) }
}

/// A file of about 20–60 KB starting with `head`, different for every upload (files are stored
/// once by their hash, so equal files would cost nothing).
fn attachment(head: &[u8], case: u64, rng: &mut Rng) -> Vec<u8> {
    let size = 20_000 + rng.below(40_000) as usize;
    let mut bytes = head.to_vec();
    bytes.extend_from_slice(format!("\n% case {case} {}\n", rng.next_u64()).as_bytes());
    while bytes.len() < size {
        bytes.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    bytes
}
