//! The match state: the portrait and the compiled published measures in memory, built from the
//! store on first use, and the rule checks every measure passes on its way in.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLockReadGuard, RwLockWriteGuard};
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
    pub eligible: HashMap<u64, EligibleSet>,
    /// How long the last rebuild from the store took.
    pub build_ms: u128,
}

/// Figures of the match state (`Service::matching_stats`).
#[derive(Debug, Clone, Copy)]
pub struct MatchingStats {
    pub entities: usize,
    pub measures: usize,
    pub build_ms: u128,
    pub portrait_bytes: usize,
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

/// Rule errors as field errors for forms and the API.
pub fn rule_field_errors(errors: &[MeasureRuleError]) -> Vec<FieldError> {
    errors.iter().map(|e| FieldError::new(&e.field(), e.zh())).collect()
}

impl Service {
    /// Builds the in-memory portrait and compiled measures from the store if not yet built.
    pub fn matching_init(&self) -> Result<()> {
        if self.matching.read().map(|g| g.is_some()).unwrap_or(false) {
            return Ok(());
        }
        let mut guard = self.matching_write();
        if guard.is_some() {
            return Ok(());
        }
        *guard = Some(self.matching_build()?);
        Ok(())
    }

    pub(super) fn matching_write(&self) -> RwLockWriteGuard<'_, Option<MatchState>> {
        self.matching.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The match state, built on first use.
    pub fn matching(&self) -> Result<RwLockReadGuard<'_, Option<MatchState>>> {
        self.matching_init()?;
        Ok(self.matching.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn matching_build(&self) -> Result<MatchState> {
        let start = Instant::now();
        let tags = self.tag_dictionary()?;
        let tx = self.store.read()?;
        let mut portrait = Portrait::new();
        let mut unreadable = 0u64;
        tx.for_each_portrait_record(|bytes| {
            match crate::model::portrait_record::decode(bytes) {
                Some(r) => portrait.upsert_record(&r),
                None => unreadable += 1,
            }
            Ok::<_, crate::store::StoreError>(())
        })?;
        if unreadable > 0 {
            tracing::error!(unreadable, "portrait records that could not be read were left out");
        }
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
        let eligible = tx.eligible_sets()?.into_iter().collect();
        let engine = build_engine(&measures, &portrait, self.today());
        let build_ms = start.elapsed().as_millis();
        tracing::info!(entities = portrait.len(), measures = measures.len(), build_ms, "matching ready");
        Ok(MatchState { portrait, measures, engine, eligible, build_ms })
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
        })
    }

    /// Match events after `after`, for the push step.
    pub fn match_events(&self, after: u64, limit: usize) -> Result<Vec<MatchEvent>> {
        Ok(self.store.read()?.match_events(after, limit)?)
    }
}
