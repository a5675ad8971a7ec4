//! The match state: the portrait and the compiled published measures in memory, built from the
//! store on first use, and the rule checks every measure passes on its way in.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use crate::model::matching::{EligibleSet, MatchEvent};
use crate::model::{Date, FieldError, MeasureSpec};
use crate::portrait::Portrait;
use crate::portrait::compile::{CompileError, check_measure};
use crate::portrait::engine::{self, Engine, plan_measure};
use crate::rules::{MeasureRuleError, MeasureRules};
use crate::service::{Result, Service, ServiceError};
use crate::store::prelude::*;

/// A published measure, checked and compiled.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub measure_id: u64,
    pub policy_id: u64,
    pub version: u32,
    pub spec: MeasureSpec,
    pub rules: MeasureRules,
}

/// Everything matching keeps in memory.
pub struct MatchState {
    pub portrait: Portrait,
    pub measures: BTreeMap<u64, Arc<Compiled>>,
    pub engine: Engine,
    pub eligible: EligibleSets,
    /// How long the last rebuild from the store took.
    pub build_ms: u128,
    /// Where the start-up time went.
    pub startup: StartupTimes,
    /// Entity writes the portrait snapshot on disk does not hold (all entities when there is
    /// none); see `snapshot.rs`.
    pub(super) snapshot_behind: u64,
    /// When the snapshot was last written or read.
    pub(super) snapshot_at: Option<Instant>,
}

/// Each measure's recorded eligible set, read from the store on first use (the first entity
/// write, publication or rematch) rather than at start: at province scale they are millions of
/// pairs, and nothing a reader asks needs them.
#[derive(Default)]
pub struct EligibleSets(OnceLock<HashMap<u64, EligibleSet>>);

impl EligibleSets {
    /// The sets, read from `tx` the first time.
    pub fn get(&self, tx: &(impl MatchingReads + ?Sized)) -> Result<&HashMap<u64, EligibleSet>> {
        if let Some(sets) = self.0.get() {
            return Ok(sets);
        }
        let sets: HashMap<u64, EligibleSet> = tx.eligible_sets()?.into_iter().collect();
        Ok(self.0.get_or_init(|| sets))
    }

    /// Records sets just committed; before the first read there is nothing to keep in step
    /// (the store holds them).
    pub fn extend(&mut self, sets: impl IntoIterator<Item = (u64, EligibleSet)>) {
        if let Some(map) = self.0.get_mut() {
            map.extend(sets);
        }
    }

    pub fn remove(&mut self, measure_id: u64) {
        if let Some(map) = self.0.get_mut() {
            map.remove(&measure_id);
        }
    }

    /// Whether they have been read.
    pub fn loaded(&self) -> bool {
        self.0.get().is_some()
    }
}

/// Where the time of building the match state went, in milliseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct StartupTimes {
    /// Reading the portrait snapshot file (0 without one).
    pub snapshot_read_ms: f64,
    /// Entities in the snapshot, and entity records decoded after it (changed since).
    pub snapshot_entities: usize,
    pub replayed: usize,
    pub replay_ms: f64,
    /// Decoding every entity's record from the store (when no snapshot could be used).
    pub full_rebuild_ms: f64,
    /// Checking and compiling the published measures.
    pub measures_ms: f64,
    /// Planning them into the engine, ordering conditions by selectivity.
    pub engine_ms: f64,
    pub total_ms: f64,
}

/// Figures of the match state (`Service::matching_stats`).
#[derive(Debug, Clone, Copy)]
pub struct MatchingStats {
    pub entities: usize,
    pub measures: usize,
    pub build_ms: u128,
    pub portrait_bytes: usize,
    pub startup: StartupTimes,
}

/// Compiles one measure's rules into the engine's shared condition table.
pub(super) fn plan(engine: &mut Engine, c: &Compiled) -> std::result::Result<engine::MeasurePlan, CompileError> {
    plan_measure(engine, c.measure_id, c.version, &c.rules)
}

pub(super) fn build_engine(measures: &BTreeMap<u64, Arc<Compiled>>, portrait: &Portrait, as_of: Date) -> Engine {
    let mut engine = Engine::default();
    for c in measures.values() {
        match plan(&mut engine, c) {
            Ok(p) => engine.push(p),
            Err(e) => tracing::error!(measure = c.measure_id, "measure left out of matching: {e}"),
        }
    }
    engine.order_by_selectivity(portrait, as_of);
    engine
}

pub(super) fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Rule errors as field errors for forms and the API.
pub fn rule_field_errors(errors: &[MeasureRuleError]) -> Vec<FieldError> {
    errors.iter().map(|e| FieldError::new(&e.field(), e.zh())).collect()
}

impl Service {
    /// Builds the in-memory portrait and compiled measures from the store if not yet built.
    pub fn matching_init(&self) -> Result<()> {
        self.matching_init_with(false).map(drop)
    }

    /// As [`Self::matching_init`]; with `snapshot_only`, builds only when the portrait loads
    /// from its snapshot. Returns whether the match state is built.
    pub(super) fn matching_init_with(&self, snapshot_only: bool) -> Result<bool> {
        if self.matching.read().map(|g| g.is_some()).unwrap_or(false) {
            return Ok(true);
        }
        let mut guard = self.matching_write();
        if guard.is_none() {
            *guard = self.matching_build(snapshot_only)?;
        }
        Ok(guard.is_some())
    }

    pub(super) fn matching_write(&self) -> RwLockWriteGuard<'_, Option<MatchState>> {
        self.matching.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The match state, built on first use.
    pub fn matching(&self) -> Result<RwLockReadGuard<'_, Option<MatchState>>> {
        self.matching_init()?;
        Ok(self.matching.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn matching_build(&self, snapshot_only: bool) -> Result<Option<MatchState>> {
        let start = Instant::now();
        let tags = self.tag_dictionary()?;
        let tx = self.store.read()?;
        let mut startup = StartupTimes::default();
        let Some((portrait, from_snapshot)) = self.portrait_load(&tx, &mut startup, snapshot_only)? else {
            return Ok(None);
        };
        let t = Instant::now();
        let mut measures = BTreeMap::new();
        for m in tx.measures()? {
            let Some(v) = m.published.filter(|_| m.withdrawn.is_none()) else { continue };
            let Some(version) = tx.version(m.id, v)? else { continue };
            match check_measure(&version.spec, &tags) {
                Ok(rules) => {
                    measures.insert(
                        m.id,
                        Arc::new(Compiled {
                            measure_id: m.id,
                            policy_id: m.policy_id,
                            version: v,
                            spec: version.spec,
                            rules,
                        }),
                    );
                }
                Err(errors) => {
                    tracing::error!(measure = m.id, "published measure does not type-check: {}", errors[0].en())
                }
            }
        }
        startup.measures_ms = ms(t);
        let t = Instant::now();
        let engine = build_engine(&measures, &portrait, self.today());
        startup.engine_ms = ms(t);
        let build_ms = start.elapsed().as_millis();
        startup.total_ms = ms(start);
        tracing::info!(entities = portrait.len(), measures = measures.len(), build_ms, ?startup, "matching ready");
        let snapshot_behind = if from_snapshot { startup.replayed as u64 } else { portrait.len() as u64 };
        Ok(Some(MatchState {
            portrait,
            measures,
            engine,
            eligible: EligibleSets::default(),
            build_ms,
            startup,
            snapshot_behind,
            snapshot_at: from_snapshot.then(Instant::now),
        }))
    }

    /// A measure's rules checked, with every error and warning and its position (for the rule
    /// builder and `POST /rules/check`).
    pub fn rules_report(&self, spec: &MeasureSpec) -> Result<std::result::Result<MeasureRules, Vec<MeasureRuleError>>> {
        Ok(check_measure(spec, &self.tag_dictionary()?))
    }

    /// Checks a measure's rules; refuses it with positioned messages when they do not check.
    pub fn rules_check(&self, spec: &MeasureSpec) -> Result<MeasureRules> {
        let tags = self.tag_dictionary()?;
        check_measure(spec, &tags).map_err(|errors| ServiceError::Invalid(rule_field_errors(&errors)))
    }

    /// Figures of the match state for `/metrics` and the bench.
    pub fn matching_stats(&self) -> Option<MatchingStats> {
        let guard = self.matching.read().ok()?;
        let s = guard.as_ref()?;
        Some(MatchingStats {
            entities: s.portrait.len(),
            measures: s.measures.len(),
            build_ms: s.build_ms,
            portrait_bytes: s.portrait.heap_bytes(),
            startup: s.startup,
        })
    }

    /// Match events after `after`, for the push step.
    pub fn match_events(&self, after: u64, limit: usize) -> Result<Vec<MatchEvent>> {
        Ok(self.store.read()?.match_events(after, limit)?)
    }
}
