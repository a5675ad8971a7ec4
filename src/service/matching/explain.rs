//! One entity's outcome for every published measure (or one measure version, for freezing a
//! case), each condition explained once and shared by the measures that have it.

use std::sync::Arc;

use serde::Serialize;

use super::state::Compiled;
use crate::model::{CreditCode, Date, Entity, Field, Money, TagDictionary, Who};
use crate::portrait::engine::{Amount, Engine, amount_of};
use crate::rules::eval::{EntityRow, Outcome, Row, Val, eval};
use crate::rules::explain::{explain, fails_on_identity, missing, show};
use crate::service::{Result, Service, ServiceError};

/// A field as a decision saw it: (key, label, value as shown), as a case freezes it
/// (`Frozen::values`).
pub type FieldShown = (String, String, String);

/// One entity and every published measure's outcome for it, best first.
#[derive(Debug, Clone)]
pub struct EntityMatches {
    pub entity: Entity,
    pub matches: Vec<MeasureMatch>,
}

/// One measure version assessed for one entity (for freezing a case).
#[derive(Debug, Clone)]
pub struct Assessment {
    /// The outcome with each condition's explanation and the amount.
    pub matched: MeasureMatch,
    /// Every field the rules read, as shown.
    pub values: Vec<FieldShown>,
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
    /// What the entity would receive, exact to the fen.
    pub amount: Option<Money>,
    /// Why there is no amount, or that the cap applied.
    pub amount_note: Option<String>,
    /// For a near miss: `还差一项：…`.
    pub near_miss: Option<String>,
}

impl MeasureMatch {
    pub fn is_near_miss(&self) -> bool {
        self.near_miss.is_some()
    }

    /// The amount in 万元, for display only.
    pub fn amount_wan(&self) -> Option<f64> {
        self.amount.map(Money::as_wan_f64)
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
        st.serialize_field("amount_wan", &self.amount_wan())?;
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
    amount: Option<Money>,
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
    let (mut amount, mut amount_note) = (None, None);
    if let Some(a) = &c.rules.amount
        && (all_true || near_miss.is_some())
    {
        let raw = match eval(a, row) {
            Val::Num(v) => Some(v),
            _ => None,
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
                amount = Some(Money::ZERO);
                amount_note = Some(why_nothing("金额为 0"));
            }
            Amount::Fen(f) => {
                amount = Some(Money(f));
                if c.rules.cap.is_some_and(|cap| raw.and_then(crate::model::Dec::to_fen).is_some_and(|v| v > cap.fen()))
                {
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
                amount = Some(Money::ZERO);
                amount_note = Some(why_nothing("不足 0 元，金额为 0"));
            }
        }
    }
    Pending { measure: Arc::clone(c), open_now: c.spec.open_on(today), outcome, range, amount, amount_note, near_miss }
}

/// Every measure for one row, sharing one explanation table.
pub(super) fn match_all<'a>(
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
            amount: p.amount,
            amount_note: p.amount_note,
            near_miss: p.near_miss,
        })
        .collect();
    sort_matches(matches)
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
        let fen = m.amount.map_or(0, Money::fen);
        (rank, std::cmp::Reverse(fen), m.measure.measure_id)
    });
    v
}

impl Service {
    /// Every published measure's outcome for one entity `who` may see, with explanations.
    pub fn entity_matches(&self, who: &Who, code: &CreditCode, as_of: Option<Date>) -> Result<EntityMatches> {
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
        Ok(EntityMatches { entity, matches })
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
    ) -> Result<Assessment> {
        self.assessor(version, policy_id)?.assess(entity, as_of)
    }

    /// The rules of a measure version checked once, to assess many entities (a 免申即享 list).
    pub fn assessor(&self, version: &crate::model::MeasureVersion, policy_id: u64) -> Result<Assessor> {
        let rules = self.rules_check(&version.spec)?;
        let mut fields: Vec<crate::model::Field> = rules.conditions.iter().flat_map(|r| r.expr.fields()).collect();
        if let Some(a) = &rules.amount {
            fields.extend(a.fields());
        }
        fields.sort();
        fields.dedup();
        fields.retain(|f| *f != crate::model::Field::Tags);
        let compiled = Arc::new(Compiled {
            measure_id: version.measure_id,
            policy_id,
            version: version.version,
            spec: version.spec.clone(),
            rules,
        });
        Ok(Assessor { compiled, fields, tags: self.tag_dictionary()? })
    }
}

/// A measure version's rules ready to assess entity after entity (`Service::assessor`).
pub struct Assessor {
    compiled: Arc<Compiled>,
    fields: Vec<crate::model::Field>,
    tags: TagDictionary,
}

impl Assessor {
    pub fn assess(&self, entity: &Entity, as_of: Date) -> Result<Assessment> {
        let row = EntityRow { entity, as_of };
        let values =
            self.fields.iter().map(|f| (f.name().to_string(), f.label().to_string(), show(*f, &row))).collect();
        let found = match_all(std::iter::once(&self.compiled), &Engine::default(), &row, &self.tags, as_of).pop();
        let matched = found.ok_or_else(|| ServiceError::Internal("assessment produced no result".into()))?;
        Ok(Assessment { matched, values })
    }
}
