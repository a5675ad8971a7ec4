//! Setting up an instance: reference data and tags for every store, and the full demo
//! (policies, generated entities, accounts) for `serve --demo` and `huiqi seed`.

use super::{Result, Service, ServiceError};
use crate::model::tags::default_tags;
use crate::model::{Actor, Timestamp, Who};
use crate::seed::generator::Generator;
use crate::seed::{PolicyFile, demo_policies};

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
            tx.audit(who, "tag.seed", "tags", &format!("{added} tags"))?;
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
                self.measure_publish(who, v.measure_id)?;
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
            let now = Timestamp::now();
            let mut written = Vec::with_capacity(n as usize);
            for i in start + done..start + done + n {
                written.push(super::entities::upsert_in(&tx, &actor, &generator.entity(i), today, now)?.0);
            }
            tx.audit(&Who::system(&actor.describe()), "entity.seed", "entities", &format!("{n} entities"))?;
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
        tx.set_meta(DEMO_MARKER, Timestamp::now().0.to_le_bytes().as_slice())?;
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
        let now = Timestamp::now();
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
        let now = Timestamp::now();
        let tx = self.store.write()?;
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
        tx.audit(&Who::system("bench"), "bench.measures", "policy", &format!("{count} generated measures"))?;
        tx.commit()?;
        Ok(count)
    }
}
