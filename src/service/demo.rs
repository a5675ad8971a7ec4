//! Setting up an instance: reference data and tags for every store, and the full demo
//! (policies, generated entities, accounts) for `serve --demo` and `huiqi seed`.

use super::files::Upload;
use super::{Result, Service, ServiceError};
use crate::model::audit::action;
use crate::model::tags::default_tags;
use crate::model::{Actor, CaseId, CreditCode, MeasureId, Who};
use crate::seed::generator::Generator;
use crate::seed::{PolicyFile, demo_policies};
use crate::store::prelude::*;

/// What `demo_setup` created.
#[derive(Debug, Default, Clone)]
pub struct DemoSummary {
    pub policies: usize,
    pub measures: usize,
    pub entities: u64,
}

const DEMO_MARKER: &str = "demo_seeded";

impl Service {
    /// Tags and the working-day calendar: what every new store starts with. Idempotent.
    pub fn init_reference(&self, who: &Who) -> Result<()> {
        let tx = self.store.write()?;
        let existing = tx.tags()?;
        let mut added = 0;
        for tag in default_tags() {
            if !existing.iter().any(|t| t.key == tag.key) {
                tx.put_tag(&tag)?;
                added += 1;
            }
        }
        if added > 0 {
            tx.audit(who, action::TAG_SEED, "tags", &format!("{added} tags"))?;
        }
        tx.commit()?;
        self.calendar_seed(who)?;
        Ok(())
    }

    /// Loads policy files: each policy is created and each measure created and published.
    pub fn load_policies(&self, who: &Who, files: &[PolicyFile]) -> Result<(usize, usize)> {
        let mut measures = 0;
        for f in files {
            let policy = self.policy_create(who, f.policy.clone())?;
            for m in &f.measures {
                let v = self.measure_create(who, policy.id, m.clone())?;
                self.measure_publish(who, MeasureId(v.measure_id))?;
                measures += 1;
            }
        }
        Ok((files.len(), measures))
    }

    /// Writes `count` generated entities (ids from `start`) in batches, as the generator.
    pub fn seed_entities(&self, seed: u64, start: u64, count: u64, mut progress: impl FnMut(u64)) -> Result<u64> {
        let today = self.today();
        let generator = Generator::new(seed, today);
        let actor = Actor::System { what: format!("demo generator (seed {seed})") };
        let mut done = 0;
        while done < count {
            let n = (count - done).min(super::imports::BATCH_ROWS as u64);
            let tx = self.store.write()?;
            let mut written = Vec::with_capacity(n as usize);
            for i in start + done..start + done + n {
                written.push(super::entities::upsert_in(&tx, &actor, &generator.entity(i), today)?.0);
            }
            tx.audit(&Who::system(&actor.describe()), action::ENTITY_SEED, "entities", &format!("{n} entities"))?;
            self.commit_entities(tx, &written, false)?;
            done += n;
            progress(done);
        }
        if self.matching_loaded() {
            self.rematch_all("seed")?;
        }
        Ok(done)
    }

    /// The whole demo, once: reference data, the shipped policies (published), `entities`
    /// generated entities. A store that already holds the demo is left as it is.
    pub fn demo_setup(&self, entities: u64, seed: u64) -> Result<Option<DemoSummary>> {
        let who = Who::system("demo");
        self.init_reference(&who)?;
        if self.store.read()?.meta(DEMO_MARKER)?.is_some() {
            return Ok(None);
        }
        let files = demo_policies().map_err(|e| ServiceError::Internal(e.to_string()))?;
        let (policies, measures) = self.load_policies(&who, &files)?;
        let written = self.seed_entities(seed, 0, entities, |_| {})?;
        let tx = self.store.write()?;
        tx.set_meta(DEMO_MARKER, tx.now().0.to_le_bytes().as_slice())?;
        tx.commit()?;
        Ok(Some(DemoSummary { policies, measures, entities: written }))
    }
}

impl Service {
    /// For benchmarks only: generated entities written in large transactions without change
    /// history (a real import or seed keeps every change; a benchmark store is thrown away).
    pub fn bench_load_entities(&self, seed: u64, count: u64, mut progress: impl FnMut(u64)) -> Result<u64> {
        let today = self.today();
        let generator = Generator::new(seed, today);
        let now = self.now();
        let mut done = 0;
        while done < count {
            let n = (count - done).min(50_000);
            let tx = self.store.write()?;
            let mut next = tx.next_id("entity")?;
            for i in done..done + n {
                let patch = generator.entity(i);
                let Some(code) = patch.credit_code().cloned() else { continue };
                let mut e = crate::model::Entity::new(next, code, now);
                e.apply(&patch, today, now);
                if tx.entity_id_by_code(e.credit_code.as_str())?.is_some() {
                    continue;
                }
                tx.put_entity(&e, None)?;
                next += 1;
            }
            tx.set_next_id("entity", next - 1)?;
            tx.commit()?;
            done += n;
            progress(done);
        }
        Ok(done)
    }

    /// For benchmarks only: `count` generated measures, published, under one policy.
    pub fn bench_load_measures(&self, seed: u64, count: u64) -> Result<u64> {
        use crate::model::{Level, Measure, MeasureVersion, Policy, PolicyInput, VersionStatus};
        let tx = self.store.write()?;
        let now = tx.now();
        let policy = Policy {
            id: tx.next_id("policy")?,
            content: PolicyInput {
                title: "基准测试生成政策".into(),
                doc_number: format!("基准〔{seed}〕1号"),
                level: Level::Provincial,
                department: "基准测试".into(),
                issue_date: Some(self.today()),
                valid_from: None,
                valid_until: None,
                text: String::new(),
                interpretation: String::new(),
                attachments: Vec::new(),
                tags: Vec::new(),
            },
            created_at: now,
            updated_at: now,
            created_by: "bench".into(),
        };
        tx.put_policy(&policy)?;
        for i in 0..count {
            let spec = crate::seed::measures::measure(seed, i);
            let measure = Measure { published: Some(1), ..Measure::new(tx.next_id("measure")?, policy.id, now) };
            tx.put_measure(&measure)?;
            tx.put_version(&MeasureVersion {
                status: VersionStatus::Published,
                published_at: Some(now),
                published_by: Some("bench".into()),
                ..MeasureVersion::draft(measure.id, 1, spec, "bench", now)
            })?;
        }
        tx.audit(&Who::system("bench"), action::BENCH_MEASURES, "policy", &format!("{count} generated measures"))?;
        tx.commit()?;
        Ok(count)
    }
}

/// What the demo's replay of two weeks made.
#[derive(Debug, Clone, Default)]
pub struct DemoCases {
    pub cases: usize,
    /// Entities for the demo enterprise to act for too: one with a case returned for
    /// supplement, one with a 免申即享 offer awaiting its answer.
    pub also_for: Vec<CreditCode>,
}

/// A small PDF for the demo's attachments.
const DEMO_PDF: &[u8] =
    b"%PDF-1.4\n% huiqi demo attachment\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// The department whose reviewer (`shenhe`) and publishers (`renshe`, `renshe2`) the demo's
/// cases keep busy.
pub(super) const DEMO_DEPARTMENT: &str = "哈尔滨市人力资源和社会保障局";

impl Service {
    /// A working day's worth of real cases for the demo accounts, made once by running the
    /// workflow over the last two weeks (the clock is moved back and forward again): cases in
    /// every stage, returned for supplement, approved, rejected, decided at once, overdue
    /// with supervision; the demo enterprise's own cases; entities assigned to the specialist;
    /// a draft awaiting publication approval. Returns how many cases it made.
    pub fn demo_cases(&self) -> Result<DemoCases> {
        const MARKER: &str = "demo_cases";
        if self.store.read()?.meta(MARKER)?.is_some() {
            return Ok(DemoCases::default());
        }
        let saved = self.config.clock.shift_ms();
        self.config.clock.advance(-21 * 86_400);
        let made = self.demo_cases_from();
        // Two weeks ago, after the approvals: the 免申即享 rounds, and the disclosure of what
        // was approved or accepted (over by now).
        let earlier = match &made {
            Ok(_) => self
                .demo_auto_lists()
                .and_then(|awaiting| self.demo_disclose(DEMO_DEPARTMENT, "renshe2").map(|_| awaiting)),
            Err(_) => Ok(None),
        };
        // Whatever happened, time runs normally again.
        self.config.clock.set_shift_ms(saved);
        let mut made = made?;
        let awaiting = earlier?;
        self.demo_amendment()?;
        self.sweep()?;
        self.demo_payments(awaiting.as_ref())?;
        made.also_for.extend(awaiting);
        let tx = self.store.write()?;
        tx.set_meta(MARKER, tx.now().0.to_le_bytes().as_slice())?;
        tx.commit()?;
        Ok(made)
    }

    fn demo_cases_from(&self) -> Result<DemoCases> {
        use crate::model::case::CaseState;
        use crate::service::cases::{Decision, material_needs_upload};
        let read = self.store.read()?;
        let user = |name: &str| -> Result<Who> {
            let u = read
                .user_by_name(name)?
                .ok_or_else(|| ServiceError::Internal(format!("demo account {name} missing")))?;
            let mut who = Who::user(&u, "demo");
            who.entities = read
                .bindings_of_user(u.id)?
                .into_iter()
                .filter_map(|b| CreditCode::parse(&b.credit_code).ok())
                .collect();
            Ok(who)
        };
        let (reviewer, specialist, enterprise) = (user("shenhe")?, user("bangban")?, user("qiye")?);
        // Measures open for application, this department's first.
        let mut open = Vec::new();
        for m in read.measures()?.into_iter().filter(|m| m.in_force()) {
            let Some(v) = read.published_version(m.id)? else { continue };
            if matches!(v.spec.mode, crate::model::Mode::Apply | crate::model::Mode::Instant)
                && v.spec.open_on(self.today())
            {
                open.push((v.spec.department == DEMO_DEPARTMENT, v.spec.mode, m.id, v));
            }
        }
        open.sort_by_key(|(own, mode, id, _)| (!own, *mode != crate::model::Mode::Apply, *id));
        let entities = read.scan_entities(0, 2000, 2000, |_| true)?.entities;
        drop(read);
        let applicant = |code: &CreditCode| Who {
            name: "企业经办人".into(),
            role: Some(crate::model::Role::Enterprise),
            ip: "demo".into(),
            entities: vec![code.clone()],
            ..Who::default()
        };
        // Submits a case for the entity if it may apply; returns its id.
        let today = self.today();
        let apply = |who: &Who, code: &CreditCode, measure: u64, materials: &[String]| -> Result<Option<u64>> {
            // Only where the entity's data does not rule it out: no refused drafts left behind.
            let fits = {
                let read = self.store.read()?;
                let entity = read.entity_by_code(code.as_str())?;
                let m = read.measure(measure)?;
                match (entity, m.as_ref().and_then(|m| m.published.map(|p| (m.policy_id, p)))) {
                    (Some(e), Some((policy, p))) => match read.version(measure, p)? {
                        Some(v) => {
                            self.assess(&v, policy, &e, today)?.matched.outcome
                                != crate::rules::eval::Outcome::NotEligible
                        }
                        None => false,
                    },
                    _ => false,
                }
            };
            if !fits {
                return Ok(None);
            }
            let case = match self.case_open(who, code, MeasureId(measure)) {
                Ok(c) if c.case.state == CaseState::Draft => c.case,
                _ => return Ok(None),
            };
            for m in materials.iter().filter(|m| material_needs_upload(m)) {
                let name = format!("{m}.pdf");
                self.case_attach(who, CaseId(case.id), Upload { slot: m, name: &name, bytes: DEMO_PDF }, None)?;
            }
            let mut form = case.form.clone();
            let fields = self.store.read()?.version(case.measure_id, case.version)?.map(|v| v.spec.form_fields);
            for f in fields.unwrap_or_default() {
                let value = match f.kind.as_str() {
                    "file" => {
                        let name = format!("{}.pdf", f.label);
                        self.case_attach(
                            who,
                            CaseId(case.id),
                            Upload { slot: &f.key, name: &name, bytes: DEMO_PDF },
                            None,
                        )?;
                        continue;
                    }
                    "number" | "money" => "12".to_string(),
                    "date" => self.today().add_days(-30).to_string(),
                    "select" => f.options.first().cloned().unwrap_or_default(),
                    _ => "演示数据".to_string(),
                };
                form.entry(f.key).or_insert(value);
            }
            match self.case_submit(who, CaseId(case.id), Some(&form)) {
                Ok(_) => Ok(Some(case.id)),
                Err(ServiceError::Invalid(_) | ServiceError::Conflict(_)) => {
                    self.case_withdraw(who, CaseId(case.id))?;
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        };
        let mut made: Vec<u64> = Vec::new();
        // Day 0: a morning's applications to the department's measures.
        for (_, _, measure, v) in open.iter().filter(|o| o.0).take(2) {
            let mut n = 0;
            for e in entities.iter().skip(1) {
                if n >= 9 {
                    break;
                }
                let code = &e.credit_code;
                if let Some(id) = apply(&applicant(code), code, *measure, &v.spec.materials)? {
                    made.push(id);
                    n += 1;
                }
            }
        }
        // The demo enterprise's own applications, and an instant decision.
        let own_code = enterprise.entities.first().cloned();
        let mut own_cases = Vec::new();
        for (_, _, measure, v) in &open {
            if own_cases.len() >= 3 {
                break;
            }
            let Some(own_code) = &own_code else { break };
            if let Some(id) = apply(&enterprise, own_code, *measure, &v.spec.materials)? {
                own_cases.push(id);
            }
        }
        // Filed by the specialist for entities it looks after.
        for e in entities.iter().skip(20).take(6) {
            self.assignment_set(&Who::system("demo"), "bangban", &e.credit_code, true)?;
        }
        if let Some((_, _, measure, v)) = open.first() {
            for e in entities.iter().skip(20).take(6) {
                if let Some(id) = apply(&specialist, &e.credit_code, *measure, &v.spec.materials)? {
                    made.push(id);
                    break;
                }
            }
        }
        // The days that follow: the reviewer works through the queue.
        let step = |days: i64| self.config.clock.advance(days * 86_400);
        step(2);
        for (i, id) in made.iter().enumerate() {
            let decision = match i % 9 {
                0..=4 => Decision::Approve("材料齐全，同意受理".into()),
                5 => Decision::Return("请补充上年度社保缴费明细".into()),
                6 => Decision::Reject("经核查不符合申报条件".into()),
                _ => continue,
            };
            let _ = self.case_decide(&reviewer, CaseId(*id), decision);
        }
        step(3);
        for (i, id) in made.iter().enumerate() {
            match i % 9 {
                0..=2 => {
                    let _ = self.case_decide(&reviewer, CaseId(*id), Decision::Approve("复核通过".into()));
                }
                // The first batch's returned case comes back supplemented; the second waits.
                5 if i < 9 => {
                    let case = self.case_get(&Who::system("demo"), CaseId(*id))?.case;
                    let Ok(code) = CreditCode::parse(&case.credit_code) else { continue };
                    let who = applicant(&code);
                    let _ = self.case_submit(&who, CaseId(*id), None);
                }
                _ => {}
            }
        }
        step(2);
        for (i, id) in made.iter().enumerate() {
            if i % 9 <= 1 {
                let _ = self.case_decide(&reviewer, CaseId(*id), Decision::Approve("同意".into()));
            }
        }
        // One of the enterprise's own cases is returned to it for supplement (by a reviewer of
        // whichever department handles it).
        let in_review = own_cases.iter().copied().find(|id| {
            self.case_get(&Who::system("demo"), CaseId(*id)).is_ok_and(|v| v.case.state == CaseState::InReview)
        });
        if let Some(id) = in_review {
            let department = self.case_get(&Who::system("demo"), CaseId(id))?.case.department;
            let handler = Who {
                name: format!("{department}审核员"),
                role: Some(crate::model::Role::Reviewer),
                ip: "demo".into(),
                department: Some(department),
                ..Who::default()
            };
            self.case_decide(&handler, CaseId(id), Decision::Return("请上传加盖公章的申请表".into()))?;
        }
        // The demo enterprise also acts for an entity whose case was returned for supplement.
        let returned = made.iter().copied().find(|id| {
            self.case_get(&Who::system("demo"), CaseId(*id)).is_ok_and(|v| v.case.state == CaseState::Returned)
        });
        let also_for = returned
            .map(|id| {
                self.case_get(&Who::system("demo"), CaseId(id)).map(|v| CreditCode::parse(&v.case.credit_code).ok())
            })
            .transpose()?
            .flatten();
        Ok(DemoCases { cases: made.len() + own_cases.len(), also_for: also_for.into_iter().collect() })
    }

    /// A draft amendment of one of the department's measures, awaiting a second person's approval.
    fn demo_amendment(&self) -> Result<()> {
        let read = self.store.read()?;
        let drafter = read.user_by_name("renshe")?.map(|u| Who::user(&u, "demo"));
        let Some(drafter) = drafter else { return Ok(()) };
        for m in read.measures()?.into_iter().filter(|m| m.in_force() && !m.has_draft()) {
            let Some(v) = read.published_version(m.id)? else { continue };
            if v.spec.department != DEMO_DEPARTMENT {
                continue;
            }
            let mut spec = v.spec.clone();
            spec.guide =
                format!("{}\n（修订：申报材料可通过平台在线提交，无需报送纸质材料。）", spec.guide).trim().to_string();
            drop(read);
            self.measure_update(&drafter, MeasureId(m.id), spec)?;
            self.measure_request_publication(&drafter, MeasureId(m.id), None)?;
            return Ok(());
        }
        Ok(())
    }
}
