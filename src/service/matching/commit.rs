//! The write path of matching: every entity write, publication and withdrawal commits here, so
//! that the portrait, the compiled measures and the recorded eligible sets stay in step with
//! the store; and the full rematch that records what changed.

use std::sync::{Arc, RwLockWriteGuard};
use std::time::Instant;

use serde::Serialize;

use super::state::{Compiled, MatchState, build_engine, plan};
use crate::model::audit::action;
use crate::model::matching::{EligibleSet, MatchEvent, diff};
use crate::model::{Entity, MeasureSpec};
use crate::portrait::engine::{self, Collect, Engine};
use crate::service::{Result, Service, ServiceError};

#[derive(Debug, Clone, Default, Serialize)]
pub struct RematchSummary {
    pub measures: usize,
    pub entities: u64,
    pub eligible_pairs: u64,
    pub changed: usize,
    pub match_ms: f64,
}

/// A measure's eligible entities as just matched (ids ascending).
struct NewSet {
    measure_id: u64,
    version: u32,
    ids: Vec<u64>,
}

/// What `stage_sets` wrote into the transaction.
struct Staged {
    /// Measures whose set changed (a match event each).
    events: usize,
    /// The sets to put in memory once the transaction has committed.
    sets: Vec<(u64, EligibleSet)>,
}

impl Service {
    /// Writes new eligible sets, and the changes as match events, into `tx`; returns the sets to
    /// put in memory once `tx` has committed.
    fn stage_sets(
        &self,
        tx: &crate::store::WriteTx,
        state: &MatchState,
        new_sets: Vec<NewSet>,
        cause: &str,
    ) -> Result<Staged> {
        let now = tx.now();
        let mut events = 0;
        let mut staged = Vec::new();
        let recorded = state.eligible.get(tx)?;
        for NewSet { measure_id, version, ids } in new_sets {
            let old = recorded.get(&measure_id).map(|s| s.ids.as_slice()).unwrap_or(&[]);
            let (added, removed) = diff(old, &ids);
            let changed = !added.is_empty() || !removed.is_empty();
            if !changed && recorded.get(&measure_id).is_some_and(|s| s.version == version) {
                continue;
            }
            if changed {
                let mut event = MatchEvent {
                    seq: 0,
                    at: now,
                    measure_id,
                    version,
                    cause: cause.to_string(),
                    newly_eligible: added,
                    no_longer_eligible: removed,
                };
                tx.add_match_event(&mut event)?;
                events += 1;
            }
            let set = EligibleSet { version, ids, at: Some(now) };
            tx.put_eligible_set(measure_id, &set)?;
            staged.push((measure_id, set));
        }
        if events > 0 {
            tx.audit(
                &crate::model::Who::system("system"),
                action::MATCH_RECORD,
                "matching",
                &format!("{events} measures changed ({cause})"),
            )?;
        }
        Ok(Staged { events, sets: staged })
    }

    /// Commits `tx` holding the match state; on failure the state is dropped (to be rebuilt
    /// from the store), so memory never runs ahead of what was written.
    fn commit_with(
        tx: crate::store::WriteTx,
        guard: &mut RwLockWriteGuard<'_, Option<MatchState>>,
        apply: impl FnOnce(&mut MatchState),
    ) -> Result<()> {
        if let Err(e) = tx.commit() {
            **guard = None;
            return Err(e.into());
        }
        if let Some(state) = guard.as_mut() {
            apply(state);
        }
        Ok(())
    }

    /// Runs every published measure over every entity and records what changed. Writers wait
    /// while it runs (it holds the store's write transaction, so nothing changes between the
    /// run and the record); readers go on.
    pub fn rematch_all(&self, cause: &str) -> Result<RematchSummary> {
        self.matching_init()?;
        let tx = self.store.write()?;
        let (summary, staged) = {
            let guard = self.matching.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some(state) = guard.as_ref() else { return Ok(RematchSummary::default()) };
            let start = Instant::now();
            let runs = engine::run(
                &state.engine,
                &state.portrait,
                self.today(),
                engine::cores(),
                Collect { eligible: true, ..Collect::default() },
            );
            let match_ms = start.elapsed().as_secs_f64() * 1000.0;
            let sets: Vec<NewSet> = state
                .engine
                .measures
                .iter()
                .zip(&runs)
                .map(|(m, r)| NewSet {
                    measure_id: m.measure_id,
                    version: m.version,
                    ids: r.eligible_rows.iter().map(|(row, _)| state.portrait.ids[*row as usize]).collect(),
                })
                .collect();
            let measures = sets.len();
            let pairs: u64 = runs.iter().map(|r| r.eligible).sum();
            let staged = self.stage_sets(&tx, state, sets, cause)?;
            (
                RematchSummary {
                    measures,
                    entities: state.portrait.len() as u64,
                    eligible_pairs: pairs,
                    changed: staged.events,
                    match_ms,
                },
                staged.sets,
            )
        };
        let mut guard = self.matching_write();
        Self::commit_with(tx, &mut guard, |state| state.eligible.extend(staged))?;
        Ok(summary)
    }

    /// Commits entity writes. The caller holds `tx` (the store's write transaction) and this
    /// takes the match state after it — the one lock order of every write path. Portrait rows
    /// follow commit order; with `rematch`, each written entity's eligibility for every measure
    /// is recorded in the same transaction.
    pub(crate) fn commit_entities(&self, tx: crate::store::WriteTx, written: &[Entity], rematch: bool) -> Result<()> {
        let mut guard = self.matching_write();
        let Some(state) = guard.as_mut() else {
            tx.commit()?;
            return Ok(());
        };
        if rematch && !written.is_empty() {
            // Read before the portrait changes, so that a failure leaves memory as it was.
            state.eligible.get(&tx)?;
        }
        for e in written {
            state.portrait.upsert(e);
        }
        state.snapshot_behind += written.len() as u64;
        let mut staged = Vec::new();
        if rematch && !written.is_empty() {
            let today = self.today();
            let rows: Vec<(u64, usize)> =
                written.iter().filter_map(|e| state.portrait.row_of(e.id).map(|r| (e.id, r))).collect();
            let mut sets = Vec::new();
            let recorded = state.eligible.get(&tx)?;
            for m in &state.engine.measures {
                let current = recorded.get(&m.measure_id).map(|s| s.ids.as_slice()).unwrap_or(&[]);
                let mut updated: Option<Vec<u64>> = None;
                for (id, row) in &rows {
                    let eligible = m
                        .conditions
                        .iter()
                        .all(|c| state.engine.conditions[*c].eval_row(&state.portrait, today, *row) == Some(true));
                    let ids = updated.as_deref().unwrap_or(current);
                    match (ids.binary_search(id), eligible) {
                        (Ok(i), false) => {
                            updated.get_or_insert_with(|| current.to_vec()).remove(i);
                        }
                        (Err(i), true) => updated.get_or_insert_with(|| current.to_vec()).insert(i, *id),
                        _ => {}
                    }
                }
                if let Some(ids) = updated {
                    sets.push(NewSet { measure_id: m.measure_id, version: m.version, ids });
                }
            }
            staged = self.stage_sets(&tx, state, sets, "entity")?.sets;
        }
        Self::commit_with(tx, &mut guard, |state| state.eligible.extend(staged))
    }

    /// Publishing inside the caller's transaction: compiles the measure, runs it over every
    /// entity, stages its new eligible set, then commits and puts the measure into matching.
    /// Without a match state in memory it just commits (the next start matches everything).
    pub(crate) fn commit_publish(
        &self,
        tx: crate::store::WriteTx,
        measure: &crate::model::Measure,
        spec: &MeasureSpec,
        version: u32,
    ) -> Result<()> {
        if !self.matching_loaded() {
            tx.commit()?;
            return Ok(());
        }
        let rules = self.rules_check(spec)?;
        let compiled =
            Compiled { measure_id: measure.id, policy_id: measure.policy_id, version, spec: spec.clone(), rules };
        let staged = {
            let guard = self.matching.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            match guard.as_ref() {
                Some(state) => {
                    let mut one = Engine::default();
                    let plan = plan(&mut one, &compiled).map_err(|e| ServiceError::Internal(e.to_string()))?;
                    one.push(plan);
                    let runs = engine::run(
                        &one,
                        &state.portrait,
                        self.today(),
                        engine::cores(),
                        Collect { eligible: true, ..Collect::default() },
                    );
                    let ids = runs
                        .first()
                        .map(|r| r.eligible_rows.iter().map(|(row, _)| state.portrait.ids[*row as usize]).collect())
                        .unwrap_or_default();
                    self.stage_sets(&tx, state, vec![NewSet { measure_id: measure.id, version, ids }], "publish")?.sets
                }
                None => Vec::new(),
            }
        };
        let today = self.today();
        let mut guard = self.matching_write();
        Self::commit_with(tx, &mut guard, |state| {
            state.measures.insert(measure.id, Arc::new(compiled));
            state.engine = build_engine(&state.measures, &state.portrait, today);
            state.eligible.extend(staged);
        })
    }

    /// Commits a withdrawal and takes the measure out of matching.
    pub(crate) fn commit_withdraw(&self, tx: crate::store::WriteTx, measure_id: u64) -> Result<()> {
        if !self.matching_loaded() {
            tx.commit()?;
            return Ok(());
        }
        let today = self.today();
        let mut guard = self.matching_write();
        Self::commit_with(tx, &mut guard, |state| {
            state.measures.remove(&measure_id);
            state.engine = build_engine(&state.measures, &state.portrait, today);
            state.eligible.remove(measure_id);
        })
    }
}
