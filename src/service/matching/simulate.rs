//! Simulation (政策找企业): a (draft) measure run over the whole entity library, with totals
//! and breakdowns of the eligible, unknown and near-miss sets.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use super::state::{Compiled, plan};
use crate::model::{Date, FieldError, MeasureSpec, Money, SizeClass, Vocabulary, Who};
use crate::portrait::engine::{self, Amount, Collect, Engine, MeasureRun, Tallies};
use crate::portrait::tally::{Cell, Tally};
use crate::portrait::{Portrait, enum_keys, industry_sections};
use crate::rules::eval::Outcome;
use crate::service::{Result, Service, ServiceError};

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

/// Buckets with rows, most rows first (ties by key), labels looked up once per bucket.
fn buckets<K: Copy + Ord>(
    cells: impl Iterator<Item = (K, Cell)>,
    key: impl Fn(K) -> String,
    label: impl Fn(K) -> String,
) -> Vec<Bucket> {
    let mut v: Vec<(K, Cell)> = cells.filter(|(_, c)| c.count > 0).collect();
    v.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
    v.into_iter()
        .map(|(k, c)| Bucket {
            key: key(k),
            label: label(k),
            count: c.count,
            amount_fen: c.fen,
            amount_wan: Money(c.fen).as_wan_f64(),
        })
        .collect()
}

/// A set's breakdown by city, county, industry section and size, from its tally. Keys are
/// numbers while sorting (region code 0, section 0 and the last size bucket: unknown).
fn breakdown(p: &Portrait, t: &Tally) -> Breakdown {
    let county = t.county.iter().enumerate().map(|(i, c)| (p.region_codes.get(i).copied().unwrap_or(0), *c));
    let mut city: BTreeMap<u32, Cell> = BTreeMap::new();
    for (code, c) in county.clone() {
        let e = city.entry(code / 100).or_default();
        e.count += c.count;
        e.fen += c.fen;
    }
    let sections = industry_sections();
    let sizes = enum_keys(crate::model::Field::SizeClass);
    let unknown = || "unknown".to_string();
    let region_label = |code: String| crate::model::reference::region_full_name(&code);
    Breakdown {
        city: buckets(
            city.into_iter(),
            |c| if c == 0 { unknown() } else { format!("{c:04}00") },
            |c| if c == 0 { "未知".into() } else { region_label(format!("{c:04}00")) },
        ),
        county: buckets(
            county,
            |c| if c == 0 { unknown() } else { format!("{c:06}") },
            |c| if c == 0 { "未知".into() } else { region_label(format!("{c:06}")) },
        ),
        section: buckets(
            t.section.iter().enumerate().map(|(i, c)| (i, *c)),
            |i| if i == 0 { unknown() } else { sections.get(i - 1).map_or_else(unknown, |s| s.to_string()) },
            |i| {
                let letter = if i == 0 { None } else { sections.get(i - 1) };
                letter
                    .and_then(|l| crate::model::reference::industry(l))
                    .map_or_else(|| "未知".into(), |ind| ind.name.clone())
            },
        ),
        size: buckets(
            t.size.iter().enumerate().map(|(i, c)| (i, *c)),
            |s| sizes.get(s).map_or_else(unknown, |k| k.to_string()),
            |s| sizes.get(s).and_then(|k| SizeClass::parse(k)).map_or_else(|| "未知".into(), |c| c.label().to_string()),
        ),
    }
}

/// The list of eligible and unknown entities (`"list": true`), by credit code.
fn entity_list(p: &Portrait, r: &MeasureRun) -> Vec<SimRow> {
    let code = |row: u32| String::from_utf8_lossy(&p.codes[row as usize]).trim_end().to_string();
    let wan = |a: &Amount| match a {
        Amount::Fen(f) => Some(Money(*f).as_wan_f64()),
        _ => None,
    };
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
}

/// One measure's simulation from its run.
fn simulation(p: &Portrait, c: &Compiled, r: &MeasureRun, as_of: Date, list: bool, elapsed_ms: f64) -> Simulation {
    let empty = Tallies::default();
    let t = r.tallies.as_deref().unwrap_or(&empty);
    let conditions = c
        .rules
        .conditions
        .iter()
        .enumerate()
        .map(|(i, cond)| SimCondition {
            label: cond.label.to_string(),
            expr: cond.source.to_string(),
            near_miss: r.near_miss_by_condition.get(i).copied().unwrap_or(0),
        })
        .collect();
    Simulation {
        name: c.spec.name.clone(),
        as_of,
        entities: p.len() as u64,
        eligible: r.eligible,
        unknown: r.unknown,
        near_miss: r.near_miss,
        total_fen: r.total_fen,
        total_wan: Money(r.total_fen).as_wan_f64(),
        amount_unknown: r.amount_unknown,
        amount_negative: r.amount_negative,
        near_miss_wan: Money(r.near_miss_fen).as_wan_f64(),
        conditions,
        breakdown: Breakdowns {
            eligible: breakdown(p, &t.eligible),
            unknown: breakdown(p, &t.unknown),
            near_miss: breakdown(p, &t.near_miss),
        },
        warnings: c.rules.warnings.iter().map(|w| w.zh()).collect(),
        list: list.then(|| entity_list(p, r)),
        elapsed_ms,
    }
}

/// Whether `who` may have a simulation's list of entities: it names them, so only those who
/// may list and read every entity (both permissions, no region limit).
pub fn may_list_entities(who: &Who) -> bool {
    use crate::auth::Permission;
    Permission::SimulateList.permits(who) && Permission::EntityRead.permits(who) && who.regions.is_empty()
}

/// The most measures one simulation request may carry (a province's whole library is ~1,000).
pub const MAX_SIMULATED_MEASURES: usize = 2_000;

impl Service {
    /// Simulations of one or several measures in one pass for `who`: the list of entities
    /// (`list`) names them, so only those who read every entity (the permission, no region
    /// limit) get it.
    pub fn simulate_many_for(
        &self,
        who: &Who,
        specs: &[MeasureSpec],
        as_of: Option<Date>,
        list: bool,
    ) -> Result<Vec<Simulation>> {
        if list && !may_list_entities(who) {
            return Err(ServiceError::Forbidden(
                "名单会列出具体企业，只有可查看全部经营主体的账号才能取得；请去掉 \"list\": true 只看统计结果".into(),
            ));
        }
        self.simulate_many(specs, as_of, list)
    }

    /// Runs a (draft) measure over the whole entity library as of a date.
    pub fn simulate(&self, spec: &MeasureSpec, as_of: Option<Date>, list: bool) -> Result<Simulation> {
        let mut sims = self.simulate_many(std::slice::from_ref(spec), as_of, list)?;
        sims.pop().ok_or_else(|| ServiceError::Internal("simulation without a result".into()))
    }

    /// Runs several (draft) measures over the whole entity library in one pass, conditions they
    /// share evaluated once per chunk. Each simulation's `elapsed_ms` is the whole pass.
    pub fn simulate_many(&self, specs: &[MeasureSpec], as_of: Option<Date>, list: bool) -> Result<Vec<Simulation>> {
        if specs.is_empty() {
            return Err(ServiceError::invalid("measures", "请至少给出一项政策事项".to_string()));
        }
        if specs.len() > MAX_SIMULATED_MEASURES {
            return Err(ServiceError::invalid(
                "measures",
                format!("一次最多推演 {MAX_SIMULATED_MEASURES} 项政策事项，请分批提交"),
            ));
        }
        let mut compiled = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            // With several measures, an error names the one it is in.
            let within = |e: ServiceError| match e {
                ServiceError::Invalid(fields) if specs.len() > 1 => ServiceError::Invalid(
                    fields
                        .into_iter()
                        .map(|f| FieldError {
                            field: format!("measures[{i}].{}", f.field),
                            message: format!("第 {} 项「{}」：{}", i + 1, spec.name, f.message),
                        })
                        .collect(),
                ),
                e => e,
            };
            compiled.push(self.draft_compile(spec).map_err(within)?);
        }
        let as_of = as_of.unwrap_or_else(|| self.today());
        let start = Instant::now();
        let collect = Collect { eligible: list, unknown: list, near_miss: false, tally: true };
        self.drafts_run(&compiled, as_of, collect, |p, runs| {
            let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
            compiled.iter().zip(&runs).map(|(c, r)| simulation(p, c, r, as_of, list, elapsed_ms)).collect()
        })
    }

    /// A (draft) measure checked and compiled for a simulation.
    pub(super) fn draft_compile(&self, spec: &MeasureSpec) -> Result<Compiled> {
        for (field, label, value) in [("cap", "单户上限", spec.cap), ("budget", "资金总额", spec.budget)] {
            if value.is_some_and(|m| m.fen() < 0) {
                return Err(ServiceError::invalid(field, format!("{label}不能为负数")));
            }
        }
        let rules = self.rules_check(spec)?;
        Ok(Compiled { measure_id: 0, policy_id: 0, version: 0, spec: spec.clone(), rules })
    }

    /// Runs (draft) measures over the whole portrait in one pass, conditions they share
    /// evaluated once, and hands the runs (in the measures' order) to `then` with the portrait
    /// whose rows they name.
    pub(super) fn drafts_run<T>(
        &self,
        compiled: &[Compiled],
        as_of: Date,
        collect: Collect,
        then: impl FnOnce(&Portrait, Vec<MeasureRun>) -> T,
    ) -> Result<T> {
        let guard = self.matching()?;
        let Some(state) = guard.as_ref() else { return Err(ServiceError::Internal("matching unavailable".into())) };
        let mut engine = Engine::default();
        for (i, c) in compiled.iter().enumerate() {
            let mut p = plan(&mut engine, c).map_err(|e| ServiceError::Internal(e.to_string()))?;
            // Drafts have no ids: in one pass they are told apart by their position.
            p.measure_id = i as u64;
            engine.push(p);
        }
        engine.order_by_selectivity(&state.portrait, as_of);
        let runs = engine::run(&engine, &state.portrait, as_of, engine::cores(), collect);
        Ok(then(&state.portrait, runs))
    }
}

/// A published measure's sets over the whole library (for a 免申即享 list): the eligible
/// entities with their amounts, the undecided ones, and the simulation's figures.
pub struct MeasureSets {
    /// (entity id, amount in fen when known), in row order.
    pub eligible: Vec<(u64, Option<i64>)>,
    pub unknown: Vec<u64>,
    pub simulation: Simulation,
}

impl Service {
    /// The eligible and undecided entities of a measure version as of a date, in one pass.
    pub fn measure_sets(&self, version: &crate::model::MeasureVersion, as_of: Date) -> Result<MeasureSets> {
        let rules = self.rules_check(&version.spec)?;
        let compiled = Compiled {
            measure_id: version.measure_id,
            policy_id: 0,
            version: version.version,
            spec: version.spec.clone(),
            rules,
        };
        let start = Instant::now();
        let collect = Collect { eligible: true, unknown: true, near_miss: false, tally: true };
        let out = self.drafts_run(std::slice::from_ref(&compiled), as_of, collect, |p, runs| {
            runs.first().map(|r| {
                let id = |row: u32| p.ids.get(row as usize).copied().unwrap_or(0);
                let eligible = r
                    .eligible_rows
                    .iter()
                    .map(|(row, a)| (id(*row), if let engine::Amount::Fen(f) = a { Some(*f) } else { None }))
                    .collect();
                let unknown = r.unknown_rows.iter().map(|row| id(*row)).collect();
                let simulation = simulation(p, &compiled, r, as_of, false, start.elapsed().as_secs_f64() * 1000.0);
                MeasureSets { eligible, unknown, simulation }
            })
        })?;
        out.ok_or_else(|| ServiceError::Internal("simulation without a result".into()))
    }
}
