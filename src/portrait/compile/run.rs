//! Evaluating columnar plans over one chunk of the portrait into three-valued masks.

use super::arith::{cmp_const, cmp_rows};
use super::{BoolPlan, CHUNK, Mask, NULL, Node, WORDS};
use crate::model::decimal::cmp_scaled;
use crate::model::{Date, Field};
use crate::portrait::{self, NULL_ENUM, NULL_FLAG, NULL_INDUSTRY, NULL_NUM, Portrait, enum_slot, flag_slot, num_slot};
use crate::rules::ast::BinOp;

/// What a chunk evaluation reads.
pub struct Ctx<'a> {
    pub p: &'a Portrait,
    pub as_of: Date,
    pub start: usize,
    pub n: usize,
    pool: Vec<Vec<i128>>,
    pool64: Vec<Vec<i64>>,
}

impl<'a> Ctx<'a> {
    pub fn new(p: &'a Portrait, as_of: Date) -> Ctx<'a> {
        Ctx { p, as_of, start: 0, n: 0, pool: Vec::new(), pool64: Vec::new() }
    }

    /// Moves to the chunk starting at `start`.
    pub fn at(&mut self, start: usize) {
        self.start = start;
        self.n = CHUNK.min(self.p.len().saturating_sub(start));
    }

    /// A buffer of `n` values from the pool (its contents are left over: every plan writes
    /// all of its output).
    pub fn take(&mut self) -> Vec<i128> {
        let mut v = self.pool.pop().unwrap_or_else(|| Vec::with_capacity(CHUNK));
        v.resize(self.n, NULL);
        v
    }

    /// Returns a buffer to the pool.
    pub fn give(&mut self, v: Vec<i128>) {
        self.pool.push(v);
    }

    /// A 64-bit buffer of `n` values (see [`Ctx::take`]).
    pub fn take64(&mut self) -> Vec<i64> {
        let mut v = self.pool64.pop().unwrap_or_else(|| Vec::with_capacity(CHUNK));
        v.resize(self.n, crate::portrait::NULL_NUM);
        v
    }

    pub fn give64(&mut self, v: Vec<i64>) {
        self.pool64.push(v);
    }

    /// The rows of this chunk.
    pub fn valid(&self) -> Mask {
        let mut m = [0u64; WORDS];
        for (w, word) in m.iter_mut().enumerate() {
            let lo = w * 64;
            if lo >= self.n {
                break;
            }
            let bits = (self.n - lo).min(64);
            *word = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
        }
        m
    }
}

impl BoolPlan {
    /// The outcome for one row (absolute index); `None` is unknown.
    pub fn eval_row(&self, p: &Portrait, as_of: Date, row: usize) -> Option<bool> {
        let kleene_not = |v: Option<bool>| v.map(|b| !b);
        match self {
            BoolPlan::Const(v) => *v,
            BoolPlan::Cmp(op, a, b) => {
                let (x, y) = (a.eval_row(p, as_of, row), b.eval_row(p, as_of, row));
                (x != NULL && y != NULL).then(|| holds(*op, cmp_scaled(x, a.scale, y, b.scale)))
            }
            BoolPlan::Ratio(r) => r.eval_row(p, row),
            BoolPlan::EnumIn(slot, mask) => {
                let v = p.enums[*slot][row];
                (v != NULL_ENUM).then(|| (mask >> (v & 63)) & 1 == 1)
            }
            BoolPlan::Flag(slot) => {
                let v = p.flags[*slot][row];
                (v != NULL_FLAG).then_some(v == 1)
            }
            BoolPlan::RegionIn(ranges) => {
                let r = p.region[row];
                (r != 0).then(|| ranges.iter().any(|(lo, hi)| r >= *lo && r < *hi))
            }
            BoolPlan::IndustryIn(ranges) => {
                let x = p.industry[row];
                (x != NULL_INDUSTRY).then(|| ranges.iter().any(|(lo, hi)| x >= *lo && x < *hi))
            }
            BoolPlan::CodeIn(codes) => Some(codes.contains(&p.codes[row])),
            BoolPlan::HasTag(k) => {
                Some(p.tag_index.get(k).is_some_and(|i| p.tags[*i].in_force(row, as_of.days()).is_some()))
            }
            BoolPlan::Known(field) => Some(known(p, *field, row)),
            BoolPlan::BoolEq(a, b) => match (a.eval_row(p, as_of, row), b.eval_row(p, as_of, row)) {
                (Some(x), Some(y)) => Some(x == y),
                _ => None,
            },
            BoolPlan::Not(a) => kleene_not(a.eval_row(p, as_of, row)),
            BoolPlan::And(items) => {
                let mut unknown = false;
                for i in items {
                    match i.eval_row(p, as_of, row) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                if unknown { None } else { Some(true) }
            }
            BoolPlan::Or(items) => {
                let mut unknown = false;
                for i in items {
                    match i.eval_row(p, as_of, row) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                if unknown { None } else { Some(false) }
            }
            BoolPlan::Cond(c, a, b) => match c.eval_row(p, as_of, row) {
                Some(true) => a.eval_row(p, as_of, row),
                Some(false) => b.eval_row(p, as_of, row),
                None => None,
            },
        }
    }
}

/// Sets bit `i` of `t` or `f` from a known/unknown boolean.
#[inline]
pub(super) fn put(t: &mut Mask, f: &mut Mask, i: usize, v: Option<bool>) {
    let bit = 1u64 << (i & 63);
    match v {
        Some(true) => t[i >> 6] |= bit,
        Some(false) => f[i >> 6] |= bit,
        None => {}
    }
}

/// Builds the masks 64 rows at a time from a column slice and a per-value (known, value)
/// test, without branches or bounds checks.
#[inline]
fn fill_col<T: Copy>(col: &[T], t: &mut Mask, f: &mut Mask, test: impl Fn(T) -> (bool, bool)) {
    for (w, chunk) in col.chunks(64).enumerate() {
        let (mut tb, mut fb) = (0u64, 0u64);
        for (b, &v) in chunk.iter().enumerate() {
            let (known, value) = test(v);
            tb |= u64::from(known & value) << b;
            fb |= u64::from(known & !value) << b;
        }
        t[w] = tb;
        f[w] = fb;
    }
}

/// Builds the masks 64 rows at a time from a per-row (known, value) test, without branches.
#[inline]
fn fill(n: usize, t: &mut Mask, f: &mut Mask, test: impl Fn(usize) -> (bool, bool)) {
    let words = n.div_ceil(64);
    for w in 0..words {
        let (mut tb, mut fb) = (0u64, 0u64);
        let end = (n - w * 64).min(64);
        for b in 0..end {
            let (known, value) = test(w * 64 + b);
            tb |= u64::from(known & value) << b;
            fb |= u64::from(known & !value) << b;
        }
        t[w] = tb;
        f[w] = fb;
    }
}

/// Whether an ordering satisfies a comparison.
#[inline]
pub(super) fn holds(op: BinOp, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        BinOp::Eq => o == Equal,
        BinOp::Ne => o != Equal,
        BinOp::Lt => o == Less,
        BinOp::Le => o != Greater,
        BinOp::Gt => o == Greater,
        _ => o != Less,
    }
}

impl BoolPlan {
    /// Sets `t` to the rows where the plan holds and `f` to the rows where it fails; rows in
    /// neither are unknown. Both masks start cleared.
    pub fn eval(&self, cx: &mut Ctx<'_>, t: &mut Mask, f: &mut Mask) {
        *t = [0; WORDS];
        *f = [0; WORDS];
        let (start, n) = (cx.start, cx.n);
        match self {
            BoolPlan::Const(Some(true)) => *t = cx.valid(),
            BoolPlan::Const(Some(false)) => *f = cx.valid(),
            BoolPlan::Const(None) => {}
            BoolPlan::Cmp(op, a, b) => {
                // A field against a literal: one integer comparison per row.
                let direct = match (&a.node, &b.node) {
                    (Node::Col(s), Node::Const(c)) => Some((*op, *s, a.scale, *c, b.scale)),
                    (Node::Const(c), Node::Col(s)) => Some((op.flipped(), *s, b.scale, *c, a.scale)),
                    _ => None,
                };
                let done = direct
                    .is_some_and(|(op, s, sx, c, sc)| cmp_const(op, &cx.p.num[s][start..start + n], sx, c, sc, t, f));
                if !done {
                    cmp_rows(cx, *op, a, b, t, f);
                }
            }
            BoolPlan::Ratio(r) => r.eval(cx, t, f),
            BoolPlan::EnumIn(slot, mask) => {
                let mask = *mask;
                fill_col(&cx.p.enums[*slot][start..start + n], t, f, |v| (v != NULL_ENUM, (mask >> (v & 63)) & 1 == 1));
            }
            BoolPlan::Flag(slot) => fill_col(&cx.p.flags[*slot][start..start + n], t, f, |v| (v != NULL_FLAG, v == 1)),
            BoolPlan::RegionIn(ranges) => {
                let col = &cx.p.region[start..start + n];
                match ranges.as_slice() {
                    [(lo, hi)] => fill_col(col, t, f, |r| (r != 0, r >= *lo && r < *hi)),
                    _ => fill_col(col, t, f, |r| (r != 0, ranges.iter().any(|(lo, hi)| r >= *lo && r < *hi))),
                }
            }
            BoolPlan::IndustryIn(ranges) => {
                let col = &cx.p.industry[start..start + n];
                match ranges.as_slice() {
                    [(lo, hi)] => fill_col(col, t, f, |x| (x != NULL_INDUSTRY, x >= *lo && x < *hi)),
                    _ => {
                        fill_col(col, t, f, |x| (x != NULL_INDUSTRY, ranges.iter().any(|(lo, hi)| x >= *lo && x < *hi)))
                    }
                }
            }
            BoolPlan::CodeIn(codes) => fill_col(&cx.p.codes[start..start + n], t, f, |c| (true, codes.contains(&c))),
            BoolPlan::HasTag(key) => {
                let valid = cx.valid();
                let col = cx.p.tag_index.get(key).map(|i| &cx.p.tags[*i]);
                let day = cx.as_of.days();
                for w in 0..WORDS {
                    let mut bits = col.and_then(|c| c.bits.get(start / 64 + w)).copied().unwrap_or(0) & valid[w];
                    // Holders whose certificate is not in force on the day do not count.
                    if let Some(c) = col.filter(|c| !c.dates.is_empty()) {
                        let mut each = bits;
                        while each != 0 {
                            let b = each.trailing_zeros() as usize;
                            each &= each - 1;
                            if c.in_force(start + w * 64 + b, day).is_none() {
                                bits &= !(1u64 << b);
                            }
                        }
                    }
                    t[w] = bits;
                    f[w] = valid[w] & !bits;
                }
            }
            BoolPlan::Known(field) => fill(n, t, f, |i| (true, known(cx.p, *field, start + i))),
            BoolPlan::BoolEq(a, b) => {
                let (mut ta, mut fa, mut tb, mut fb) = ([0; WORDS], [0; WORDS], [0; WORDS], [0; WORDS]);
                a.eval(cx, &mut ta, &mut fa);
                b.eval(cx, &mut tb, &mut fb);
                for w in 0..WORDS {
                    t[w] = (ta[w] & tb[w]) | (fa[w] & fb[w]);
                    f[w] = (ta[w] & fb[w]) | (fa[w] & tb[w]);
                }
            }
            BoolPlan::Not(a) => a.eval(cx, f, t),
            BoolPlan::And(items) | BoolPlan::Or(items) => {
                let and = matches!(self, BoolPlan::And(_));
                let (mut ti, mut fi) = ([0; WORDS], [0; WORDS]);
                for (k, item) in items.iter().enumerate() {
                    if k == 0 {
                        item.eval(cx, t, f);
                        continue;
                    }
                    item.eval(cx, &mut ti, &mut fi);
                    for w in 0..WORDS {
                        if and {
                            t[w] &= ti[w];
                            f[w] |= fi[w];
                        } else {
                            t[w] |= ti[w];
                            f[w] &= fi[w];
                        }
                    }
                }
            }
            BoolPlan::Cond(c, a, b) => {
                let (mut tc, mut fc, mut ta, mut fa, mut tb, mut fb) =
                    ([0; WORDS], [0; WORDS], [0; WORDS], [0; WORDS], [0; WORDS], [0; WORDS]);
                c.eval(cx, &mut tc, &mut fc);
                a.eval(cx, &mut ta, &mut fa);
                b.eval(cx, &mut tb, &mut fb);
                for w in 0..WORDS {
                    t[w] = (tc[w] & ta[w]) | (fc[w] & tb[w]);
                    f[w] = (tc[w] & fa[w]) | (fc[w] & fb[w]);
                }
            }
        }
    }
}

/// Whether `field` is known for `row` (`has(field)`).
fn known(p: &Portrait, field: Field, row: usize) -> bool {
    match field {
        Field::Tags | Field::CreditCode => true,
        Field::AgeYears => p.established_ymd[row] != portrait::NULL_YMD,
        Field::Region => p.region[row] != 0,
        Field::Industry => p.industry[row] != NULL_INDUSTRY,
        f => {
            if let Some(parts) = crate::rules::ratio::parts(f) {
                // Known when its parts are and the denominator is not 0.
                super::Cols::of(parts).ok().and_then(|c| c.fractions(p, row)).is_some_and(|(_, d)| d != 0)
            } else if let Some(s) = num_slot(f) {
                p.num[s][row] != NULL_NUM
            } else if let Some(s) = enum_slot(f) {
                p.enums[s][row] != NULL_ENUM
            } else if let Some(s) = flag_slot(f) {
                p.flags[s][row] != NULL_FLAG
            } else {
                false
            }
        }
    }
}
