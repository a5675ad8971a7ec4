//! Setting up an instance: reference data and tags for every store, and the full demo
//! (policies, generated entities, accounts) for `serve --demo` and `huiqi seed`.

use super::{Result, Service, ServiceError};
use crate::model::tags::default_tags;
use crate::model::{Actor, Timestamp};
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
    pub fn init_reference(&self, actor: &str) -> Result<()> {
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
            tx.audit(actor, "tag.seed", "tags", &format!("{added} tags"))?;
        }
        tx.commit()?;
        self.calendar_seed(actor)?;
        Ok(())
    }

    /// Loads policy files: each policy is created and each measure created and published.
    pub fn load_policies(&self, actor: &str, files: &[PolicyFile]) -> Result<(usize, usize)> {
        let mut measures = 0;
        for f in files {
            let policy = self.policy_create(actor, f.policy.clone())?;
            for m in &f.measures {
                let v = self.measure_create(actor, policy.id, m.clone())?;
                self.measure_publish(actor, v.measure_id)?;
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
            tx.audit(&actor.describe(), "entity.seed", "entities", &format!("{n} entities"))?;
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
        self.init_reference("demo")?;
        if self.store.read()?.meta(DEMO_MARKER)?.is_some() {
            return Ok(None);
        }
        let files = demo_policies().map_err(|e| ServiceError::Internal(e.to_string()))?;
        let (policies, measures) = self.load_policies("demo", &files)?;
        let written = self.seed_entities(seed, 0, entities, |_| {})?;
        let tx = self.store.write()?;
        tx.set_meta(DEMO_MARKER, Timestamp::now().0.to_le_bytes().as_slice())?;
        tx.commit()?;
        Ok(Some(DemoSummary { policies, measures, entities: written }))
    }
}
