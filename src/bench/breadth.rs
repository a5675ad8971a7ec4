//! The measures `huiqi bench` simulates, drawn across the whole range of breadth — the demo's
//! real policies (稳岗返还, 高企奖励, 研发增量, 小巨人, nested `||` with unknowns), a ladder of
//! revenue thresholds from a few hundred eligible entities to nearly all of them (with near
//! misses just as broad), and measures spread over the generated library — and the figures
//! reported over them: p50, p90 and max, never one median.

use serde::Serialize;

use crate::model::policy::Condition;
use crate::model::{Field, MeasureSpec, Mode, Money, MoneyUnit};
use crate::portrait::{NULL_NUM, Portrait, num_slot};

/// A timing over a set of runs: nearest-rank percentiles.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Figure {
    pub n: usize,
    pub p50: f64,
    pub p90: f64,
    pub max: f64,
}

impl Figure {
    pub fn of(mut v: Vec<f64>) -> Figure {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len().max(1));
            v.get(rank - 1).copied().unwrap_or(0.0)
        };
        Figure { n: v.len(), p50: at(0.5), p90: at(0.9), max: v.last().copied().unwrap_or(0.0) }
    }
}

impl std::fmt::Display for Figure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "p50 {:.1} · p90 {:.1} · max {:.1} (n = {})", self.p50, self.p90, self.max, self.n)
    }
}

/// One simulated measure: how broad it was and how long it took (the slowest is reported).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Simulated {
    pub name: String,
    pub eligible: u64,
    pub unknown: u64,
    pub near_miss: u64,
    pub ms: f64,
}

/// Fractions of the entities with a known revenue that a ladder measure admits.
const LADDER: [f64; 8] = [0.0001, 0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 1.0];

/// Revenue thresholds (fen) that admit each fraction of [`LADDER`], from the portrait's values.
fn revenue_thresholds(p: &Portrait) -> Vec<(f64, i64)> {
    let Some(col) = num_slot(Field::Revenue).and_then(|s| p.num.get(s)) else { return Vec::new() };
    let mut known: Vec<i64> = col.iter().copied().filter(|v| *v != NULL_NUM).collect();
    if known.is_empty() {
        return Vec::new();
    }
    known.sort_unstable();
    LADDER
        .iter()
        .map(|share| {
            let from_top = ((share * known.len() as f64).ceil() as usize).clamp(1, known.len());
            (*share, known[known.len() - from_top])
        })
        .collect()
}

/// A measure admitting the entities with at least `threshold` revenue and at least one
/// employee, paying 0.5 % of revenue up to 20 万元: its near misses are the entities just
/// below the threshold — as broad as the ladder step.
fn ladder_measure(share: f64, threshold_fen: i64) -> MeasureSpec {
    let condition = |label: &str, expr: String| Condition { label: label.into(), expr };
    MeasureSpec {
        name: format!("营收阶梯（约 {:.2}% 的主体）", share * 100.0),
        category: crate::model::Category::Subsidy,
        department: String::new(),
        mode: Mode::Apply,
        conditions: vec![
            condition("营业收入达标", format!("revenue >= {}", Money(threshold_fen).format(MoneyUnit::Wan))),
            condition("有从业人员", "employees >= 1".into()),
        ],
        amount: Some("min(revenue * 0.005, 20)".into()),
        cap: Some(Money::from_wan(20)),
        budget: None,
        window_start: None,
        window_end: None,
        materials: Vec::new(),
        form_fields: Vec::new(),
        review_stages: Vec::new(),
        publicity_days: 0,
        contact: String::new(),
        guide: String::new(),
        offer_days: 10,
        fund_source: String::new(),
        budget_subject: String::new(),
    }
}

/// The measures to simulate: the demo policies' measures, the revenue ladder, and up to
/// `from_library` measures spread evenly over the generated library.
pub fn measures(p: &Portrait, library: &[MeasureSpec], from_library: usize) -> Result<Vec<MeasureSpec>, String> {
    let mut out = Vec::new();
    for file in crate::seed::demo_policies().map_err(|e| e.to_string())? {
        out.extend(file.measures);
    }
    out.extend(revenue_thresholds(p).into_iter().map(|(share, t)| ladder_measure(share, t)));
    let step = library.len().div_ceil(from_library.max(1)).max(1);
    out.extend(library.iter().step_by(step).take(from_library).cloned());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let f = Figure::of((1..=10).map(f64::from).rev().collect());
        assert_eq!((f.n, f.p50, f.p90, f.max), (10, 5.0, 9.0, 10.0));
        let one = Figure::of(vec![3.0]);
        assert_eq!((one.p50, one.p90, one.max), (3.0, 3.0, 3.0));
        assert_eq!(Figure::of(Vec::new()).n, 0);
    }
}
