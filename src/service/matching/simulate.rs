//! Simulation (政策找企业): a (draft) measure run over the whole entity library, with totals
//! and breakdowns of the eligible, unknown and near-miss sets.

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;

use super::state::{Compiled, plan};
use crate::model::{Date, MeasureSpec, Money, SizeClass, Vocabulary, Who};
use crate::portrait::engine::{self, Amount, Collect, Engine, MeasureRun};
use crate::portrait::{Portrait, enum_keys, enum_slot, industry_table};
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
    /// A simulation for `who`: the list of entities (`list`) names them, so only those who read
    /// every entity (the permission, no region limit) get it.
    pub fn simulate_for(&self, who: &Who, spec: &MeasureSpec, as_of: Option<Date>, list: bool) -> Result<Simulation> {
        if list && !(crate::auth::Permission::EntityRead.permits(who) && who.regions.is_empty()) {
            return Err(ServiceError::Forbidden(
                "名单会列出具体企业，只有可查看全部经营主体的账号才能取得；请去掉 \"list\": true 只看统计结果".into(),
            ));
        }
        self.simulate(spec, as_of, list)
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
}
