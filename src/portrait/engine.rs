//! Matching over the portrait: measures' compiled conditions evaluated chunk by chunk on all
//! cores. Conditions shared by several measures are evaluated once per chunk; a measure stops
//! evaluating a chunk as soon as every row has failed two conditions (no row there can still be
//! eligible, unknown or a near miss).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Portrait;
use super::compile::{self, BoolPlan, CHUNK, CompileError, Ctx, Mask, NumPlan, WORDS};
pub use super::fen::{FEN_UNKNOWN, amount_from_code, code_of, fen_code, fen_codes, fen_codes64};
use super::tally::{Acc, Dims, Tally};
use crate::model::{Date, Dec, Money};
use crate::rules::MeasureRules;
use crate::rules::ast::Expr;

/// One measure ready to run.
#[derive(Debug, Clone)]
pub struct MeasurePlan {
    pub measure_id: u64,
    pub version: u32,
    /// Indexes into the engine's condition table, in the measure's order.
    pub conditions: Vec<usize>,
    pub amount: Option<NumPlan>,
    pub cap_fen: Option<i64>,
    /// The order to evaluate the conditions in (positions in `conditions`): the ones that
    /// fail most often first, so that a chunk is done with sooner. Empty: as written.
    pub order: Vec<usize>,
    /// For each condition (by position), the engine conditions of its parts that read only who
    /// the entity is (type, region, industry, …): a row whose one failed condition fails on
    /// such a part is no near miss — it cannot change that. Empty: none.
    pub identity: Vec<Vec<usize>>,
}

/// Compiled measures sharing one table of distinct conditions.
#[derive(Debug, Default, Clone)]
pub struct Engine {
    pub conditions: Vec<BoolPlan>,
    keys: HashMap<String, usize>,
    pub measures: Vec<MeasurePlan>,
    /// Measure id → position in `measures` (see `index`).
    positions: HashMap<u64, usize>,
}

impl Engine {
    /// Orders every measure's conditions by how often they fail on a sample of the portrait
    /// (up to eight chunks spread across it), most often first. Results do not depend on it.
    pub fn order_by_selectivity(&mut self, p: &Portrait, as_of: Date) {
        let chunks = p.len().div_ceil(CHUNK);
        if chunks == 0 {
            return;
        }
        let samples: Vec<usize> = (0..8.min(chunks)).map(|i| i * chunks / 8.min(chunks)).collect();
        let mut cx = Ctx::new(p, as_of);
        let mut fails = vec![0u64; self.conditions.len()];
        let (mut t, mut f) = ([0u64; WORDS], [0u64; WORDS]);
        for c in samples {
            cx.at(c * CHUNK);
            for (i, plan) in self.conditions.iter().enumerate() {
                plan.eval(&mut cx, &mut t, &mut f);
                fails[i] += f.iter().map(|w| u64::from(w.count_ones())).sum::<u64>();
            }
        }
        for m in &mut self.measures {
            let mut order: Vec<usize> = (0..m.conditions.len()).collect();
            order.sort_by_key(|k| std::cmp::Reverse(fails[m.conditions[*k]]));
            m.order = order;
        }
    }

    /// Adds a measure's plan.
    pub fn push(&mut self, plan: MeasurePlan) {
        self.positions.insert(plan.measure_id, self.measures.len());
        self.measures.push(plan);
    }

    /// The plan of a measure.
    pub fn plan(&self, measure_id: u64) -> Option<&MeasurePlan> {
        self.positions.get(&measure_id).map(|i| &self.measures[*i])
    }

    /// Adds a condition (identified by its source text) and returns its index.
    pub fn condition(&mut self, key: &str, plan: BoolPlan) -> usize {
        if let Some(i) = self.keys.get(key) {
            return *i;
        }
        self.conditions.push(plan);
        self.keys.insert(key.to_string(), self.conditions.len() - 1);
        self.conditions.len() - 1
    }
}

/// The parts of a condition that read only who the entity is (as `fails_on_identity` finds
/// them), compiled into the engine's table: a row failing on one of them is no near miss.
/// `own` is the condition's own index: a condition that is all identity is its own guard.
pub fn identity_guards(engine: &mut Engine, expr: &Expr, own: usize) -> Result<Vec<usize>, CompileError> {
    let parts = expr.conjuncts();
    let identity = |part: &Expr| {
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
pub fn plan_measure(
    engine: &mut Engine,
    measure_id: u64,
    version: u32,
    rules: &MeasureRules,
) -> Result<MeasurePlan, CompileError> {
    let (mut conditions, mut identity) = (Vec::new(), Vec::new());
    for r in &rules.conditions {
        let plan = compile::boolean(&r.expr)?;
        let own = engine.condition(r.source.trim(), plan);
        conditions.push(own);
        identity.push(identity_guards(engine, &r.expr, own)?);
    }
    let amount = rules.amount.as_ref().map(compile::num).transpose()?;
    Ok(MeasurePlan {
        measure_id,
        version,
        conditions,
        amount,
        cap_fen: rules.cap.map(Money::fen),
        order: Vec::new(),
        identity,
    })
}

/// What to collect besides counts and the eligible total.
#[derive(Debug, Clone, Copy, Default)]
pub struct Collect {
    pub eligible: bool,
    pub unknown: bool,
    /// Near-miss rows, the condition each lacks, and their amounts (`near_miss_fen`,
    /// `near_miss_by_condition`).
    pub near_miss: bool,
    /// Breakdowns of the eligible, unknown and near-miss sets (`tallies`), the near-miss
    /// amounts and counts per condition — without the rows themselves.
    pub tally: bool,
}

/// The breakdowns of one measure's three sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tallies {
    pub eligible: Tally,
    pub unknown: Tally,
    pub near_miss: Tally,
}

/// A row's amount: fen after the cap, or why there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Fen(i64),
    Unknown,
    Negative(i64),
}

/// The result of one measure over the portrait.
#[derive(Debug, Clone, Default)]
pub struct MeasureRun {
    pub eligible: u64,
    pub unknown: u64,
    pub near_miss: u64,
    /// Sum of eligible rows' amounts (fen, after the cap).
    pub total_fen: i64,
    /// Eligible rows whose amount is unknown, or negative.
    pub amount_unknown: u64,
    pub amount_negative: u64,
    /// Sum of near misses' amounts, what they would receive.
    pub near_miss_fen: i64,
    /// How many near misses each condition stands between.
    pub near_miss_by_condition: Vec<u64>,
    pub eligible_rows: Vec<(u32, Amount)>,
    pub unknown_rows: Vec<u32>,
    /// (row, index of the one failing condition, amount it would get).
    pub near_miss_rows: Vec<(u32, u16, Amount)>,
    /// With `Collect::tally`: the sets' breakdowns.
    pub tallies: Option<Box<Tallies>>,
}

/// The largest amount one entity can be awarded: 1,000,000 万元 (10 billion yuan). Anything
/// above is a formula mistake, reported as unknown; it also keeps every sum over 3,000,000
/// entities far inside `i64`.
pub const MAX_ROW_FEN: i64 = 1_000_000_000_000;

/// Rounds an exact amount in 万元 half up to the fen (once, here) and applies the per-entity
/// cap; `None` (unknown or not computable) is unknown.
pub fn amount_of(wan: Option<Dec>, cap_fen: Option<i64>) -> Amount {
    let Some(fen) = wan.and_then(Dec::to_fen).filter(|f| f.unsigned_abs() <= MAX_ROW_FEN as u64) else {
        return Amount::Unknown;
    };
    if fen < 0 {
        return Amount::Negative(fen);
    }
    Amount::Fen(cap_fen.map_or(fen, |c| fen.min(c)))
}

impl MeasureRun {
    fn merge(&mut self, other: MeasureRun) {
        self.eligible += other.eligible;
        self.unknown += other.unknown;
        self.near_miss += other.near_miss;
        self.total_fen += other.total_fen;
        self.amount_unknown += other.amount_unknown;
        self.amount_negative += other.amount_negative;
        self.near_miss_fen += other.near_miss_fen;
        if self.near_miss_by_condition.len() < other.near_miss_by_condition.len() {
            self.near_miss_by_condition.resize(other.near_miss_by_condition.len(), 0);
        }
        for (a, b) in self.near_miss_by_condition.iter_mut().zip(other.near_miss_by_condition) {
            *a += b;
        }
        self.eligible_rows.extend(other.eligible_rows);
        self.unknown_rows.extend(other.unknown_rows);
        self.near_miss_rows.extend(other.near_miss_rows);
        match (&mut self.tallies, other.tallies) {
            (Some(mine), Some(theirs)) => {
                mine.eligible.merge(&theirs.eligible);
                mine.unknown.merge(&theirs.unknown);
                mine.near_miss.merge(&theirs.near_miss);
            }
            (mine @ None, theirs) => *mine = theirs,
            (Some(_), None) => {}
        }
    }
}

/// Per-thread state: the memo of this chunk's condition masks.
struct Worker<'a> {
    cx: Ctx<'a>,
    dims: Dims<'a>,
    /// Per condition: its masks for the current chunk, valid when `stamp` equals `chunk`.
    memo: Vec<(Mask, Mask)>,
    stamp: Vec<usize>,
    chunk: usize,
    /// Per measure: the eligible, unknown and near-miss tallies (with `Collect::tally`, from
    /// the first chunk with rows in one of the sets).
    accs: Vec<Option<Box<[Acc; 3]>>>,
    /// The current chunk's fen codes (`fen_code`) of the rows that needed one.
    fen: Vec<i64>,
}

impl Worker<'_> {
    fn masks(&mut self, engine: &Engine, id: usize) -> (&Mask, &Mask) {
        if self.stamp[id] != self.chunk {
            let (t, f) = &mut self.memo[id];
            engine.conditions[id].eval(&mut self.cx, t, f);
            self.stamp[id] = self.chunk;
        }
        let (t, f) = &self.memo[id];
        (t, f)
    }
}

fn run_chunk(engine: &Engine, w: &mut Worker<'_>, start: usize, collect: Collect, out: &mut [MeasureRun]) {
    w.cx.at(start);
    w.chunk = start / CHUNK + 1;
    let valid = w.cx.valid();
    for (mi, m) in engine.measures.iter().enumerate() {
        let mut all_t = valid;
        let mut f1 = [0u64; WORDS];
        let mut f2 = [0u64; WORDS];
        let mut unknown_any = [0u64; WORDS];
        let mut dead = false;
        let positions: &mut dyn Iterator<Item = usize> = if m.order.len() == m.conditions.len() {
            &mut m.order.iter().copied()
        } else {
            &mut (0..m.conditions.len())
        };
        for k in positions {
            let (t, f) = w.masks(engine, m.conditions[k]);
            let mut alive = 0u64;
            for i in 0..WORDS {
                all_t[i] &= t[i];
                unknown_any[i] |= valid[i] & !t[i] & !f[i];
                let (o1, o2) = (f1[i], f2[i]);
                f2[i] = o2 | (o1 & f[i]);
                f1[i] = (o1 & !f[i]) | (!o1 & !o2 & f[i]);
                alive |= valid[i] & !f2[i];
            }
            if alive == 0 {
                dead = true;
                break;
            }
        }
        if dead {
            continue;
        }
        // Rows whose one failed condition failed on who the entity is (only where some row
        // fails exactly one condition: the guards are not evaluated otherwise).
        let mut on_identity = [0u64; WORDS];
        let single_failures = f1.iter().any(|w| *w != 0);
        for (k, guards) in m.identity.iter().enumerate() {
            if !single_failures || guards.is_empty() || k >= m.conditions.len() {
                continue;
            }
            let failed = *w.masks(engine, m.conditions[k]).1;
            for &g in guards {
                let guard = *w.masks(engine, g).1;
                for i in 0..WORDS {
                    on_identity[i] |= failed[i] & guard[i];
                }
            }
        }
        let r = &mut out[mi];
        let mut near = [0u64; WORDS];
        let mut unk = [0u64; WORDS];
        let (mut any_e, mut any_n) = (false, false);
        for i in 0..WORDS {
            near[i] = f1[i] & !unknown_any[i] & !on_identity[i];
            unk[i] = valid[i] & !all_t[i] & !f1[i] & !f2[i];
            r.eligible += u64::from(all_t[i].count_ones());
            r.unknown += u64::from(unk[i].count_ones());
            r.near_miss += u64::from(near[i].count_ones());
            any_e |= all_t[i] != 0;
            any_n |= near[i] != 0;
        }
        let want_near = any_n && (collect.near_miss || collect.tally);
        let want_unknown = unk.iter().any(|w| *w != 0) && (collect.unknown || collect.tally);
        if !any_e && !want_near && !want_unknown {
            continue;
        }
        if collect.tally && w.accs[mi].is_none() {
            w.accs[mi] = Some(Box::new([w.dims.acc(), w.dims.acc(), w.dims.acc()]));
        }
        // Amounts (as fen codes, `fen_code`) only for the rows that need one — eligible rows and
        // near misses: over the whole chunk at once when many do, row by row when few.
        let amounts = match &m.amount {
            Some(plan) if any_e || want_near => {
                let mut needed = [0u64; WORDS];
                for i in 0..WORDS {
                    needed[i] = all_t[i] | if want_near { near[i] } else { 0 };
                }
                let count: u32 = needed.iter().map(|w| w.count_ones()).sum();
                if count as usize > ROW_BY_ROW {
                    // In 64 bits when the formula allows and every value fits; exactly else.
                    let mut narrow = plan.narrow();
                    if narrow {
                        let mut buf = w.cx.take64();
                        narrow = plan.eval64(&mut w.cx, &mut buf);
                        if narrow {
                            fen_codes64(&buf, plan.scale, m.cap_fen, &mut w.fen[..buf.len()]);
                        }
                        w.cx.give64(buf);
                    }
                    if !narrow {
                        let mut buf = w.cx.take();
                        plan.eval(&mut w.cx, &mut buf);
                        fen_codes(&buf, plan.scale, m.cap_fen, &mut w.fen[..buf.len()]);
                        w.cx.give(buf);
                    }
                } else {
                    for_each_row(&needed, |i| {
                        let v = plan.eval_row(w.cx.p, w.cx.as_of, start + i);
                        w.fen[i] = fen_code(v, plan.scale, m.cap_fen);
                    });
                }
                true
            }
            _ => false,
        };
        // Eligible rows: the total, amounts unknown or negative, the breakdowns.
        if any_e {
            let (fen, dims, mut accs) = (&w.fen, &w.dims, w.accs[mi].as_deref_mut());
            let (mut total, mut unknown, mut negative) = (0i64, 0u64, 0u64);
            for_each_row(&all_t, |i| {
                let v = if amounts { fen[i] } else { 0 };
                total += v.max(0);
                unknown += u64::from(v == FEN_UNKNOWN);
                negative += u64::from(v < 0 && v != FEN_UNKNOWN);
                if collect.eligible {
                    r.eligible_rows.push(((start + i) as u32, amount_from_code(v)));
                }
                if let Some([e, _, _]) = accs.as_deref_mut() {
                    dims.add_to(e, start + i, v.max(0));
                }
            });
            r.total_fen += total;
            r.amount_unknown += unknown;
            r.amount_negative += negative;
        }
        if want_unknown {
            let (dims, mut accs) = (&w.dims, w.accs[mi].as_deref_mut());
            for_each_row(&unk, |i| {
                if collect.unknown {
                    r.unknown_rows.push((start + i) as u32);
                }
                if let Some([_, u, _]) = accs.as_deref_mut() {
                    dims.count_in(u, start + i);
                }
            });
        }
        // Which condition each near miss lacks (each lacks exactly one: counted by popcount),
        // and what it would receive: for simulations.
        if want_near {
            if r.near_miss_by_condition.len() < m.conditions.len() {
                r.near_miss_by_condition.resize(m.conditions.len(), 0);
            }
            let mut near_fen = 0i64;
            for (k, &cid) in m.conditions.iter().enumerate() {
                let f = *w.masks(engine, cid).1;
                let mut lacking = [0u64; WORDS];
                let mut count = 0u64;
                for i in 0..WORDS {
                    lacking[i] = near[i] & f[i];
                    count += u64::from(lacking[i].count_ones());
                }
                if count == 0 {
                    continue;
                }
                r.near_miss_by_condition[k] += count;
                let (fen, dims, mut accs) = (&w.fen, &w.dims, w.accs[mi].as_deref_mut());
                for_each_row(&lacking, |i| {
                    let code = if amounts { fen[i] } else { 0 };
                    near_fen += code.max(0);
                    if collect.near_miss {
                        r.near_miss_rows.push(((start + i) as u32, k as u16, amount_from_code(code)));
                    }
                    if let Some([_, _, n]) = accs.as_deref_mut() {
                        dims.add_to(n, start + i, code.max(0));
                    }
                });
            }
            r.near_miss_fen += near_fen;
        }
    }
}

/// Calls `f` with the index of every set bit of `mask`, in order.
#[inline(always)]
fn for_each_row(mask: &Mask, mut f: impl FnMut(usize)) {
    for (word, &bits) in mask.iter().enumerate() {
        let mut bits = bits;
        while bits != 0 {
            f(word * 64 + bits.trailing_zeros() as usize);
            bits &= bits - 1;
        }
    }
}

/// At most this many rows of a chunk needing an amount are computed row by row; more, and the
/// formula runs over the whole chunk's columns.
const ROW_BY_ROW: usize = CHUNK / 8;

/// Runs every measure of the engine over the portrait on `threads` threads.
pub fn run(engine: &Engine, p: &Portrait, as_of: Date, threads: usize, collect: Collect) -> Vec<MeasureRun> {
    let chunks = p.len().div_ceil(CHUNK);
    let next = AtomicUsize::new(0);
    let threads = threads.clamp(1, chunks.max(1));
    let work = || {
        let n = engine.conditions.len();
        let mut w = Worker {
            cx: Ctx::new(p, as_of),
            dims: Dims::new(p),
            memo: vec![([0; WORDS], [0; WORDS]); n],
            stamp: vec![0; n],
            chunk: 0,
            accs: vec![None; engine.measures.len()],
            fen: vec![0; CHUNK],
        };
        let mut out: Vec<MeasureRun> = vec![MeasureRun::default(); engine.measures.len()];
        loop {
            let c = next.fetch_add(1, Ordering::Relaxed);
            if c >= chunks {
                break;
            }
            run_chunk(engine, &mut w, c * CHUNK, collect, &mut out);
        }
        for (r, acc) in out.iter_mut().zip(&w.accs) {
            if let Some([e, u, n]) = acc.as_deref() {
                let d = &w.dims;
                r.tallies =
                    Some(Box::new(Tallies { eligible: d.finish(e), unknown: d.finish(u), near_miss: d.finish(n) }));
            }
        }
        out
    };
    let parts: Vec<Vec<MeasureRun>> = if threads == 1 {
        vec![work()]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
            // A worker that panicked must not silently drop its share of the rows.
            handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
        })
    };
    let mut total: Vec<MeasureRun> = vec![MeasureRun::default(); engine.measures.len()];
    for part in parts {
        for (t, r) in total.iter_mut().zip(part) {
            t.merge(r);
        }
    }
    for t in &mut total {
        t.eligible_rows.sort_unstable_by_key(|r| r.0);
        t.unknown_rows.sort_unstable();
        t.near_miss_rows.sort_unstable_by_key(|r| r.0);
    }
    total
}

/// A row's fen where it has an amount; 0 where it has none.
pub fn fen_or_zero(a: Amount) -> i64 {
    match a {
        Amount::Fen(f) => f,
        _ => 0,
    }
}

/// The number of threads to use: every core.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
