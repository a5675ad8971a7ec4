//! Matching (政策找企业): the portrait and the compiled published measures, kept in memory and
//! in step with every write; simulation of a draft measure; each entity's outcomes with
//! explanations; the public calculator; and the eligible-set changes recorded for pushes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::{RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use serde::Serialize;

use super::{Result, Service, ServiceError};
use crate::model::Field;
use crate::model::matching::{EligibleSet, MatchEvent, diff};
use crate::model::{
    Date, Entity, FieldError, MeasureSpec, Money, SizeClass, TagDictionary, Timestamp, Vocabulary, Who,
};
use crate::portrait::engine::{self, Amount, Collect, Engine, MeasurePlan, MeasureRun, amount_of};
use crate::portrait::{Portrait, enum_keys, enum_slot, industry_table};
use crate::rules::ast::{Func, Kind};
use crate::rules::eval::{EntityRow, Outcome, Row, Val, eval};
use crate::rules::explain::{explain, fails_on_identity, missing, show};
use crate::rules::{MeasureRuleError, MeasureRules, check_measure, compile};
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

/// A field as a decision saw it: (key, label, value as shown).
pub type FieldShown = (String, String, String);

/// Everything matching keeps in memory.
pub struct MatchState {
    pub portrait: Portrait,
    pub measures: BTreeMap<u64, Arc<Compiled>>,
    pub engine: Engine,
    pub eligible: HashMap<u64, EligibleSet>,
    /// How long the last rebuild from the store took.
    pub build_ms: u128,
}

/// The parts of a condition that read only who the entity is (as `fails_on_identity` finds
/// them), compiled into the engine's table: a row failing on one of them is no near miss.
/// `own` is the condition's own index: a condition that is all identity is its own guard.
pub fn identity_guards(
    engine: &mut Engine,
    expr: &crate::rules::ast::Expr,
    own: usize,
) -> std::result::Result<Vec<usize>, compile::CompileError> {
    let parts = expr.conjuncts();
    let identity = |part: &crate::rules::ast::Expr| {
        let fields = part.fields();
        !fields.is_empty() && fields.iter().all(|f| f.is_identity())
    };
    if parts.len() == 1 {
        return Ok(if identity(expr) { vec![own] } else { Vec::new() });
    }
    let mut guards = Vec::new();
    for part in parts.into_iter().filter(|p| identity(p)) {
        guards.push(engine.condition(&format!("identity:{part:?}"), compile::boolean(part)?));
    }
    Ok(guards)
}

/// Compiles one measure's rules into the engine's shared condition table.
fn plan(engine: &mut Engine, c: &Compiled) -> std::result::Result<MeasurePlan, compile::CompileError> {
    let (mut conditions, mut identity) = (Vec::new(), Vec::new());
    for r in &c.rules.conditions {
        let plan = compile::boolean(&r.expr)?;
        let own = engine.condition(r.source.trim(), plan);
        conditions.push(own);
        identity.push(identity_guards(engine, &r.expr, own)?);
    }
    let amount = c.rules.amount.as_ref().map(compile::num).transpose()?;
    Ok(MeasurePlan {
        measure_id: c.measure_id,
        version: c.version,
        conditions,
        amount,
        cap_fen: c.rules.cap.map(Money::fen),
        order: Vec::new(),
        identity,
    })
}

fn build_engine(measures: &BTreeMap<u64, Arc<Compiled>>, portrait: &Portrait, as_of: Date) -> Engine {
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

/// One bucket of a breakdown.
#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    pub key: String,
    pub label: String,
    pub count: u64,
    pub amount_fen: i64,
    pub amount_wan: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Breakdown {
    pub city: Vec<Bucket>,
    pub county: Vec<Bucket>,
    pub section: Vec<Bucket>,
    pub size: Vec<Bucket>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Breakdowns {
    pub eligible: Breakdown,
    pub unknown: Breakdown,
    pub near_miss: Breakdown,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimCondition {
    pub label: String,
    pub expr: String,
    /// Near misses this condition alone stands in the way of.
    pub near_miss: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimRow {
    pub credit_code: String,
    pub outcome: Outcome,
    pub amount_wan: Option<f64>,
    /// For near misses: the one condition not met.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_condition: Option<String>,
}

/// The result of running one measure over the whole entity library.
#[derive(Debug, Clone, Serialize)]
pub struct Simulation {
    pub name: String,
    pub as_of: Date,
    pub entities: u64,
    pub eligible: u64,
    pub unknown: u64,
    pub near_miss: u64,
    pub total_fen: i64,
    pub total_wan: f64,
    pub amount_unknown: u64,
    pub amount_negative: u64,
    pub near_miss_wan: f64,
    pub conditions: Vec<SimCondition>,
    pub breakdown: Breakdowns,
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list: Option<Vec<SimRow>>,
    pub elapsed_ms: f64,
}

/// A condition's outcome for one entity, its explanation and the fields it lacked. Shared
/// by every measure that has the condition.
#[derive(Debug)]
pub struct Explanation {
    pub outcome: Outcome,
    pub text: String,
    pub missing: Vec<&'static str>,
}

/// One entity's explanations: each distinct condition once, and every measure's conditions as
/// positions into that list (`refs`), shared by all of that entity's `MeasureMatch`es.
#[derive(Debug, Default)]
pub struct ExplainTable {
    pub explanations: Vec<Explanation>,
    refs: Vec<u32>,
}

/// Builds an entity's explanation table: measures share many conditions (the engine's table
/// of distinct conditions), and each is evaluated and explained once.
struct Explainer<'a> {
    engine: &'a Engine,
    table: ExplainTable,
    /// Engine condition id → position in `table.explanations`.
    slot: Vec<u32>,
}

impl<'a> Explainer<'a> {
    fn new(engine: &'a Engine) -> Explainer<'a> {
        Explainer { engine, table: ExplainTable::default(), slot: vec![u32::MAX; engine.conditions.len()] }
    }

    /// Explains each condition of `c` (reusing what is known) and returns their range in `refs`.
    fn conditions(&mut self, c: &Compiled, row: &dyn Row, tags: &TagDictionary) -> std::ops::Range<usize> {
        let ids = self
            .engine
            .plan(c.measure_id)
            .map(|p| p.conditions.as_slice())
            .filter(|ids| ids.len() == c.rules.conditions.len());
        let start = self.table.refs.len();
        for (k, r) in c.rules.conditions.iter().enumerate() {
            let known = ids.map(|ids| ids[k]).filter(|id| self.slot[*id] != u32::MAX);
            let at = match known {
                Some(id) => self.slot[id],
                None => {
                    let outcome = Outcome::of(&eval(&r.expr, row));
                    let missing = if outcome == Outcome::Unknown {
                        missing(&r.expr, row).iter().map(|f| f.label()).collect()
                    } else {
                        Vec::new()
                    };
                    self.table.explanations.push(Explanation { outcome, text: explain(&r.expr, row, tags), missing });
                    let at = (self.table.explanations.len() - 1) as u32;
                    if let Some(ids) = ids {
                        self.slot[ids[k]] = at;
                    }
                    at
                }
            };
            self.table.refs.push(at);
        }
        start..self.table.refs.len()
    }

    fn outcome(&self, range: &std::ops::Range<usize>, k: usize) -> &Explanation {
        &self.table.explanations[self.table.refs[range.start + k] as usize]
    }
}

/// One measure's result for one entity. Serializes with the measure's name, department and
/// every condition's label, expression, outcome and explanation.
#[derive(Debug, Clone)]
pub struct MeasureMatch {
    pub measure: Arc<Compiled>,
    pub open_now: bool,
    pub outcome: Outcome,
    table: Arc<ExplainTable>,
    range: std::ops::Range<usize>,
    pub amount_wan: Option<f64>,
    /// Why there is no amount, or that the cap applied.
    pub amount_note: Option<String>,
    /// For a near miss: `还差一项：…`.
    pub near_miss: Option<String>,
}

impl MeasureMatch {
    pub fn is_near_miss(&self) -> bool {
        self.near_miss.is_some()
    }

    /// Each condition's explanation, in the measure's order.
    pub fn conditions(&self) -> impl Iterator<Item = &Explanation> {
        self.table.refs[self.range.clone()].iter().map(|i| &self.table.explanations[*i as usize])
    }
}

impl Serialize for MeasureMatch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Conditions<'a>(&'a MeasureMatch);
        impl Serialize for Conditions<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                use serde::ser::SerializeSeq;
                let mut seq = s.serialize_seq(Some(self.0.range.len()))?;
                for (rule, e) in self.0.measure.rules.conditions.iter().zip(self.0.conditions()) {
                    seq.serialize_element(&serde_json::json!({
                        "label": &*rule.label, "expr": &*rule.source, "outcome": e.outcome,
                        "explanation": e.text, "missing": e.missing,
                    }))?;
                }
                seq.end()
            }
        }
        let c = &self.measure;
        let mut st = s.serialize_struct("MeasureMatch", 13)?;
        st.serialize_field("measure_id", &c.measure_id)?;
        st.serialize_field("policy_id", &c.policy_id)?;
        st.serialize_field("version", &c.version)?;
        st.serialize_field("name", &c.spec.name)?;
        st.serialize_field("category", &c.spec.category)?;
        st.serialize_field("mode", &c.spec.mode)?;
        st.serialize_field("department", &c.spec.department)?;
        st.serialize_field("open_now", &self.open_now)?;
        st.serialize_field("outcome", &self.outcome)?;
        st.serialize_field("conditions", &Conditions(self))?;
        st.serialize_field("amount_wan", &self.amount_wan)?;
        st.serialize_field("amount_note", &self.amount_note)?;
        st.serialize_field("near_miss", &self.near_miss)?;
        st.end()
    }
}

/// A measure's result before the entity's explanation table is shared.
struct Pending {
    measure: Arc<Compiled>,
    open_now: bool,
    outcome: Outcome,
    range: std::ops::Range<usize>,
    amount_wan: Option<f64>,
    amount_note: Option<String>,
    near_miss: Option<String>,
}

/// Evaluates a measure for one row: outcome, per-condition explanations, amount, near miss.
fn match_row(c: &Arc<Compiled>, row: &dyn Row, tags: &TagDictionary, today: Date, x: &mut Explainer<'_>) -> Pending {
    let range = x.conditions(c, row, tags);
    let n = range.len();
    let outcomes = (0..n).map(|k| x.outcome(&range, k).outcome);
    let fails = outcomes.clone().filter(|o| *o == Outcome::NotEligible).count();
    let first_fail = outcomes.clone().position(|o| o == Outcome::NotEligible);
    let any_unknown = outcomes.clone().any(|o| o == Outcome::Unknown);
    let all_true = outcomes.clone().all(|o| o == Outcome::Eligible);
    let outcome = if all_true {
        Outcome::Eligible
    } else if fails == 0 {
        Outcome::Unknown
    } else {
        Outcome::NotEligible
    };
    // One failed condition is a near miss only if the entity could meet it: not when it failed
    // on who the entity is (its type, region, industry, …).
    let near_miss = match first_fail {
        Some(k) if fails == 1 && !any_unknown && !fails_on_identity(&c.rules.conditions[k].expr, row) => {
            Some(format!("还差一项：{}；{}", c.rules.conditions[k].label, x.outcome(&range, k).text))
        }
        _ => None,
    };
    let (mut amount_wan, mut amount_note) = (None, None);
    if let Some(a) = &c.rules.amount
        && (all_true || near_miss.is_some())
    {
        let raw = match eval(a, row) {
            Val::Num(v) => v,
            _ => f64::NAN,
        };
        // Why a formula gives nothing: the standard in words and the figures it used.
        let why_nothing = |what: &str| {
            let figures: Vec<String> = a
                .fields()
                .into_iter()
                .filter(|f| *f != Field::Tags)
                .map(|f| format!("{} {}", f.label(), show(f, row)))
                .collect();
            let standard = crate::rules::describe::amount_text(a, tags);
            if figures.is_empty() {
                format!("按兑现标准「{standard}」计算{what}")
            } else {
                format!("按兑现标准「{standard}」计算{what}（{}）", figures.join("，"))
            }
        };
        match amount_of(raw, c.rules.cap.map(Money::fen)) {
            Amount::Fen(0) => {
                amount_wan = Some(0.0);
                amount_note = Some(why_nothing("金额为 0"));
            }
            Amount::Fen(f) => {
                amount_wan = Some(Money(f).as_wan_f64());
                if c.rules.cap.is_some_and(|cap| ((raw * 1_000_000.0).round() as i64) > cap.fen()) {
                    amount_note =
                        Some(format!("按单户上限 {} 万元计", c.rules.cap.map(|m| m.to_string()).unwrap_or_default()));
                }
            }
            Amount::Unknown => {
                let m = missing(a, row);
                amount_note = Some(if m.is_empty() {
                    "金额无法计算".into()
                } else {
                    format!("金额无法计算，缺少数据：{}", m.iter().map(|f| f.label()).collect::<Vec<_>>().join("、"))
                });
            }
            Amount::Negative(_) => {
                amount_wan = Some(0.0);
                amount_note = Some(why_nothing("不足 0 元，金额为 0"));
            }
        }
    }
    Pending {
        measure: Arc::clone(c),
        open_now: c.spec.open_on(today),
        outcome,
        range,
        amount_wan,
        amount_note,
        near_miss,
    }
}

/// Every measure for one row, sharing one explanation table.
fn match_all<'a>(
    measures: impl Iterator<Item = &'a Arc<Compiled>>,
    engine: &Engine,
    row: &dyn Row,
    tags: &TagDictionary,
    today: Date,
) -> Vec<MeasureMatch> {
    let mut x = Explainer::new(engine);
    let pending: Vec<Pending> = measures.map(|c| match_row(c, row, tags, today, &mut x)).collect();
    let table = Arc::new(x.table);
    let matches = pending
        .into_iter()
        .map(|p| MeasureMatch {
            measure: p.measure,
            open_now: p.open_now,
            outcome: p.outcome,
            table: Arc::clone(&table),
            range: p.range,
            amount_wan: p.amount_wan,
            amount_note: p.amount_note,
            near_miss: p.near_miss,
        })
        .collect();
    sort_matches(matches)
}

fn buckets<K: Copy + Ord>(
    entries: HashMap<K, (u64, i64)>,
    key: impl Fn(K) -> String,
    label: impl Fn(K) -> String,
) -> Vec<Bucket> {
    let mut v: Vec<(K, u64, i64)> = entries.into_iter().map(|(k, (c, f))| (k, c, f)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.into_iter()
        .map(|(k, count, fen)| Bucket {
            key: key(k),
            label: label(k),
            count,
            amount_fen: fen,
            amount_wan: Money(fen).as_wan_f64(),
        })
        .collect()
}

/// Rows and fen per bucket key.
type Counts<K> = HashMap<K, (u64, i64)>;

/// Counts and amounts of a set of rows by city, county, industry section and size. Keys are
/// numbers while counting (0 / 255 / `u8::MAX`: unknown); labels are looked up once per bucket.
fn breakdown(p: &Portrait, rows: impl Iterator<Item = (u32, i64)>) -> Breakdown {
    let mut city: Counts<u32> = HashMap::new();
    let mut county: Counts<u32> = HashMap::new();
    let mut section: Counts<u8> = HashMap::new();
    let mut size: Counts<u8> = HashMap::new();
    let size_slot = enum_slot(crate::model::Field::SizeClass).unwrap_or(0);
    let table = industry_table();
    fn add<K: std::hash::Hash + Eq>(m: &mut HashMap<K, (u64, i64)>, k: K, fen: i64) {
        let e = m.entry(k).or_insert((0, 0));
        e.0 += 1;
        e.1 += fen;
    }
    for (row, fen) in rows {
        let r = row as usize;
        let region = p.region[r];
        add(&mut city, region / 100, fen);
        add(&mut county, region, fen);
        let letter = table.get(p.industry[r] as usize).map_or(0, |c| c.as_bytes()[0]);
        add(&mut section, letter, fen);
        add(&mut size, p.enums[size_slot][r], fen);
    }
    let unknown = || "unknown".to_string();
    let region_label = |code: String| crate::model::reference::region_full_name(&code);
    let sizes = enum_keys(crate::model::Field::SizeClass);
    Breakdown {
        city: buckets(
            city,
            |c| if c == 0 { unknown() } else { format!("{c:04}00") },
            |c| if c == 0 { "未知".into() } else { region_label(format!("{c:04}00")) },
        ),
        county: buckets(
            county,
            |c| if c == 0 { unknown() } else { format!("{c:06}") },
            |c| if c == 0 { "未知".into() } else { region_label(format!("{c:06}")) },
        ),
        section: buckets(
            section,
            |l| if l == 0 { unknown() } else { char::from(l).to_string() },
            |l| {
                crate::model::reference::industry(&char::from(l).to_string())
                    .map_or_else(|| "未知".into(), |i| i.name.clone())
            },
        ),
        size: buckets(
            size,
            |s| sizes.get(s as usize).map_or_else(unknown, |k| k.to_string()),
            |s| {
                sizes
                    .get(s as usize)
                    .and_then(|k| SizeClass::parse(k))
                    .map_or_else(|| "未知".into(), |c| c.label().to_string())
            },
        ),
    }
}

fn fen_of(a: &Amount) -> i64 {
    match a {
        Amount::Fen(f) => *f,
        _ => 0,
    }
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

    fn matching_write(&self) -> RwLockWriteGuard<'_, Option<MatchState>> {
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

    /// Writes new eligible sets, and the changes as match events, into `tx`; returns the sets to
    /// put in memory once `tx` has committed.
    fn stage_sets(
        &self,
        tx: &crate::store::WriteTx,
        state: &MatchState,
        new_sets: Vec<(u64, u32, Vec<u64>)>,
        cause: &str,
    ) -> Result<(usize, Vec<(u64, EligibleSet)>)> {
        let now = Timestamp::now();
        let mut events = 0;
        let mut staged = Vec::new();
        for (measure_id, version, ids) in new_sets {
            let old = state.eligible.get(&measure_id).map(|s| s.ids.as_slice()).unwrap_or(&[]);
            let (added, removed) = diff(old, &ids);
            let changed = !added.is_empty() || !removed.is_empty();
            if !changed && state.eligible.get(&measure_id).is_some_and(|s| s.version == version) {
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
                "match.record",
                "matching",
                &format!("{events} measures changed ({cause})"),
            )?;
        }
        Ok((events, staged))
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
            let sets: Vec<(u64, u32, Vec<u64>)> = state
                .engine
                .measures
                .iter()
                .zip(&runs)
                .map(|(m, r)| {
                    (
                        m.measure_id,
                        m.version,
                        r.eligible_rows.iter().map(|(row, _)| state.portrait.ids[*row as usize]).collect(),
                    )
                })
                .collect();
            let measures = sets.len();
            let pairs: u64 = runs.iter().map(|r| r.eligible).sum();
            let (changed, staged) = self.stage_sets(&tx, state, sets, cause)?;
            (
                RematchSummary {
                    measures,
                    entities: state.portrait.len() as u64,
                    eligible_pairs: pairs,
                    changed,
                    match_ms,
                },
                staged,
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
        for e in written {
            state.portrait.upsert(e);
        }
        let mut staged = Vec::new();
        if rematch && !written.is_empty() {
            let today = self.today();
            let rows: Vec<(u64, usize)> =
                written.iter().filter_map(|e| state.portrait.row_of(e.id).map(|r| (e.id, r))).collect();
            let mut sets = Vec::new();
            for m in &state.engine.measures {
                let current = state.eligible.get(&m.measure_id).map(|s| s.ids.as_slice()).unwrap_or(&[]);
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
                    sets.push((m.measure_id, m.version, ids));
                }
            }
            staged = self.stage_sets(&tx, state, sets, "entity")?.1;
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
                    self.stage_sets(&tx, state, vec![(measure.id, version, ids)], "publish")?.1
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
            state.eligible.remove(&measure_id);
        })
    }

    /// Runs a (draft) measure over the whole entity library as of a date.
    pub fn simulate(&self, spec: &MeasureSpec, as_of: Option<Date>, list: bool) -> Result<Simulation> {
        for (field, label, value) in [("cap", "单户上限", spec.cap), ("budget", "资金总额", spec.budget)] {
            if value.is_some_and(|m| m.fen() < 0) {
                return Err(ServiceError::invalid(field, format!("{label}不能为负数")));
            }
        }
        let rules = self.rules_check(spec)?;
        let compiled = Compiled { measure_id: 0, policy_id: 0, version: 0, spec: spec.clone(), rules };
        let as_of = as_of.unwrap_or_else(|| self.today());
        let guard = self.matching()?;
        let Some(state) = guard.as_ref() else { return Err(ServiceError::Internal("matching unavailable".into())) };
        let start = Instant::now();
        let mut one = Engine::default();
        let p = plan(&mut one, &compiled).map_err(|e| ServiceError::Internal(e.to_string()))?;
        one.push(p);
        one.order_by_selectivity(&state.portrait, as_of);
        let collect = Collect { eligible: true, unknown: true, near_miss: true };
        let runs = engine::run(&one, &state.portrait, as_of, engine::cores(), collect);
        let r: MeasureRun = runs.into_iter().next().unwrap_or_default();
        let portrait = &state.portrait;
        let breakdowns = Breakdowns {
            eligible: breakdown(portrait, r.eligible_rows.iter().map(|(row, a)| (*row, fen_of(a)))),
            unknown: breakdown(portrait, r.unknown_rows.iter().map(|row| (*row, 0))),
            near_miss: breakdown(portrait, r.near_miss_rows.iter().map(|(row, _, a)| (*row, fen_of(a)))),
        };
        let code = |row: u32| String::from_utf8_lossy(&portrait.codes[row as usize]).trim_end().to_string();
        let wan = |a: &Amount| match a {
            Amount::Fen(f) => Some(Money(*f).as_wan_f64()),
            _ => None,
        };
        let list = list.then(|| {
            let mut rows: Vec<SimRow> = r
                .eligible_rows
                .iter()
                .map(|(row, a)| SimRow {
                    credit_code: code(*row),
                    outcome: Outcome::Eligible,
                    amount_wan: wan(a),
                    missing_condition: None,
                })
                .chain(r.unknown_rows.iter().map(|row| SimRow {
                    credit_code: code(*row),
                    outcome: Outcome::Unknown,
                    amount_wan: None,
                    missing_condition: None,
                }))
                .collect();
            rows.sort_by(|a, b| a.credit_code.cmp(&b.credit_code));
            rows
        });
        let conditions = compiled
            .rules
            .conditions
            .iter()
            .enumerate()
            .map(|(i, c)| SimCondition {
                label: c.label.to_string(),
                expr: c.source.to_string(),
                near_miss: r.near_miss_by_condition.get(i).copied().unwrap_or(0),
            })
            .collect();
        Ok(Simulation {
            name: spec.name.clone(),
            as_of,
            entities: portrait.len() as u64,
            eligible: r.eligible,
            unknown: r.unknown,
            near_miss: r.near_miss,
            total_fen: r.total_fen,
            total_wan: Money(r.total_fen).as_wan_f64(),
            amount_unknown: r.amount_unknown,
            amount_negative: r.amount_negative,
            near_miss_wan: Money(r.near_miss_fen).as_wan_f64(),
            conditions,
            breakdown: breakdowns,
            warnings: compiled.rules.warnings.iter().map(|w| w.zh()).collect(),
            list,
            elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
        })
    }

    /// Every published measure's outcome for one entity `who` may see, with explanations.
    pub fn entity_matches(&self, who: &Who, code: &str, as_of: Option<Date>) -> Result<(Entity, Vec<MeasureMatch>)> {
        let entity = self.entity_get(who, code)?;
        let as_of = as_of.unwrap_or_else(|| self.today());
        let tags = self.tag_dictionary()?;
        let guard = self.matching()?;
        let Some(state) = guard.as_ref() else { return Err(ServiceError::Internal("matching unavailable".into())) };
        let today = self.today();
        let matches = match state.portrait.row_of(entity.id) {
            Some(row) => {
                match_all(state.measures.values(), &state.engine, &state.portrait.row(row, as_of), &tags, today)
            }
            None => {
                match_all(state.measures.values(), &state.engine, &EntityRow { entity: &entity, as_of }, &tags, today)
            }
        };
        Ok((entity, matches))
    }

    /// The public calculator: published measures for attributes typed by anyone.
    pub fn calculate(&self, entity: &Entity) -> Result<Vec<MeasureMatch>> {
        let tags = self.tag_dictionary()?;
        let guard = self.matching()?;
        let Some(state) = guard.as_ref() else { return Err(ServiceError::Internal("matching unavailable".into())) };
        let today = self.today();
        Ok(match_all(state.measures.values(), &state.engine, &EntityRow { entity, as_of: today }, &tags, today))
    }

    /// What the calculator asks: the basic facts, then every other fact a published measure
    /// reads (derived ones through what they are computed from), the tags, and the facts it
    /// cannot take at all.
    pub fn calculator_form(&self) -> Result<CalculatorForm> {
        let tags = self.tags()?;
        let guard = self.matching()?;
        let Some(state) = guard.as_ref() else { return Err(ServiceError::Internal("matching unavailable".into())) };
        let mut read = Vec::new();
        let mut tag_until = false;
        for c in state.measures.values() {
            for e in c.rules.conditions.iter().map(|r| &r.expr).chain(c.rules.amount.as_ref()) {
                read.extend(e.fields());
                e.walk(&mut |x| tag_until |= matches!(x.kind, Kind::Call(Func::TagUntil, _)));
            }
        }
        let mut fields: Vec<Field> = CALCULATOR_FIELDS.to_vec();
        for f in read.iter().flat_map(|f| calculator_inputs(*f)) {
            if !fields.contains(&f) && !ASKED_APART.contains(&f) {
                fields.push(f);
            }
        }
        let mut not_considered: Vec<String> = Vec::new();
        for f in &read {
            if calculator_inputs(*f).is_empty() && *f != Field::Tags && !not_considered.iter().any(|l| l == f.label()) {
                not_considered.push(f.label().to_string());
            }
        }
        if tag_until {
            not_considered.push("资质有效期止".into());
        }
        Ok(CalculatorForm { fields, tags, not_considered })
    }

    /// The calculator from field → text pairs (a form or JSON): an anonymous entity. The
    /// industry may be a code, a picker line or a name.
    pub fn calculate_from_texts(&self, pairs: &[(String, String)]) -> Result<Calculation> {
        let mut pairs = pairs.to_vec();
        for (k, v) in pairs.iter_mut().filter(|(k, v)| k == "industry" && !v.trim().is_empty()) {
            match crate::model::reference::industry_find(v) {
                Some(i) => *v = i.code.clone(),
                None => {
                    return Err(ServiceError::Invalid(vec![FieldError::new(
                        k,
                        format!("没有找到行业「{}」：请输入行业名称的一部分，再从列表中选择", v.trim()),
                    )]));
                }
            }
        }
        let patch = self.entity_patch_from_texts(&pairs, false)?;
        let code =
            crate::model::CreditCode::parse("000000000000000000").map_err(|e| ServiceError::Internal(e.to_string()))?;
        let mut entity = Entity::new(0, code, Timestamp::now());
        entity.apply(&patch, self.today(), Timestamp::now());
        let not_considered = self.calculator_form()?.not_considered;
        Ok(Calculation { measures: self.calculate(&entity)?, not_considered })
    }

    /// One measure version's outcome for one entity as of a date, evaluated row by row (for
    /// freezing a case): the match with its explanations, and the value of every field the
    /// rules read, as shown.
    pub fn assess(
        &self,
        version: &crate::model::MeasureVersion,
        policy_id: u64,
        entity: &Entity,
        as_of: Date,
    ) -> Result<(MeasureMatch, Vec<FieldShown>)> {
        let rules = self.rules_check(&version.spec)?;
        let mut fields: Vec<crate::model::Field> = rules.conditions.iter().flat_map(|r| r.expr.fields()).collect();
        if let Some(a) = &rules.amount {
            fields.extend(a.fields());
        }
        fields.sort();
        fields.dedup();
        let compiled = Arc::new(Compiled {
            measure_id: version.measure_id,
            policy_id,
            version: version.version,
            spec: version.spec.clone(),
            rules,
        });
        let tags = self.tag_dictionary()?;
        let row = EntityRow { entity, as_of };
        let values = fields
            .into_iter()
            .filter(|f| *f != crate::model::Field::Tags)
            .map(|f| (f.name().to_string(), f.label().to_string(), show(f, &row)))
            .collect();
        let found = match_all(std::iter::once(&compiled), &Engine::default(), &row, &tags, as_of).pop();
        let m = found.ok_or_else(|| ServiceError::Internal("assessment produced no result".into()))?;
        Ok((m, values))
    }

    /// Figures of the match state for `/metrics` and the bench.
    pub fn matching_stats(&self) -> Option<(usize, usize, u128, usize)> {
        let guard = self.matching.read().ok()?;
        let s = guard.as_ref()?;
        Some((s.portrait.len(), s.measures.len(), s.build_ms, s.portrait.heap_bytes()))
    }

    /// Match events after `after`, for the push step.
    pub fn match_events(&self, after: u64, limit: usize) -> Result<Vec<MatchEvent>> {
        Ok(self.store.read()?.match_events(after, limit)?)
    }
}

/// Eligible first, then near misses, unknown, the rest; larger amounts first.
fn sort_matches(mut v: Vec<MeasureMatch>) -> Vec<MeasureMatch> {
    v.sort_by_cached_key(|m| {
        let rank = match (m.outcome, m.is_near_miss()) {
            (Outcome::Eligible, _) => 0u8,
            (_, true) => 1,
            (Outcome::Unknown, _) => 2,
            _ => 3,
        };
        let fen = m.amount_wan.and_then(Money::from_wan_f64).map_or(0, Money::fen);
        (rank, std::cmp::Reverse(fen), m.measure.measure_id)
    });
    v
}

/// The basic facts the calculator always asks, in order.
pub const CALCULATOR_FIELDS: [Field; 17] = [
    Field::EntityType,
    Field::Region,
    Field::Industry,
    Field::Established,
    Field::Employees,
    Field::Revenue,
    Field::RevenuePrev,
    Field::TotalAssets,
    Field::TaxPaid,
    Field::RdExpense,
    Field::TechStaffRatio,
    Field::InventionPatents,
    Field::ExportValue,
    Field::GraduateHires,
    Field::UiPremiumPaid,
    Field::LayoffRate,
    Field::TaxCredit,
];

/// Asked by the calculator in their own controls (yes/no questions; status is taken as active;
/// tags as boxes with their dates).
pub const ASKED_APART: [Field; 4] = [Field::Status, Field::Dishonest, Field::MajorViolation, Field::Tags];

/// The facts someone enters for a field rules read: itself, or what a derived field is computed
/// from. Empty when the calculator cannot take it (the credit code).
pub fn calculator_inputs(f: Field) -> Vec<Field> {
    match f {
        Field::AgeYears => vec![Field::Established],
        Field::RevenueGrowth => vec![Field::Revenue, Field::RevenuePrev],
        Field::RdRatio => vec![Field::RdExpense, Field::Revenue],
        Field::SizeClass => vec![Field::Industry, Field::Employees, Field::Revenue, Field::TotalAssets],
        Field::CreditCode | Field::Name => Vec::new(),
        f if f.derived() || !f.in_rules() => Vec::new(),
        f => vec![f],
    }
}

/// What the calculator's form asks.
#[derive(Debug, Clone)]
pub struct CalculatorForm {
    pub fields: Vec<Field>,
    pub tags: Vec<crate::model::tags::TagDef>,
    /// Facts published measures read that the calculator cannot take (treated as unknown).
    pub not_considered: Vec<String>,
}

/// The calculator's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Calculation {
    pub measures: Vec<MeasureMatch>,
    pub not_considered: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RematchSummary {
    pub measures: usize,
    pub entities: u64,
    pub eligible_pairs: u64,
    pub changed: usize,
    pub match_ms: f64,
}
