//! Numeric plans over a chunk, exactly: each node's values are mantissas at the node's scale in
//! `i128` buffers (`NULL` unknown), computed by the same decimal arithmetic as the rules' row
//! interpreter (`model::decimal`), so that both agree to the last digit.

use super::run::{Ctx, holds, put};
use super::{Mask, NULL, Node, NumPlan, WORDS};
use crate::model::Date;
use crate::model::decimal::{Dec, Rounding, cmp_scaled, div_pow10, mul_wide, upscale};
use crate::portrait::{NULL_NUM, NULL_YMD, Portrait, age_from_ymd};
use crate::rules::ast::BinOp;

/// `x op y` for operands at scales `sa`, `sb`: the result at the scale the plan gave the node.
#[inline]
fn bin(op: BinOp, x: i128, sa: u8, y: i128, sb: u8) -> i128 {
    if x == NULL || y == NULL {
        return NULL;
    }
    let (a, b) = (Dec::new(x, sa), Dec::new(y, sb));
    let r = match op {
        BinOp::Add => a.checked_add(b),
        BinOp::Sub => a.checked_sub(b),
        BinOp::Mul => a.checked_mul(b),
        _ => a.checked_div(b),
    };
    r.map_or(NULL, |d| d.m)
}

/// A mantissa at scale `from` at the larger scale `to`; `NULL` stays unknown, overflow becomes it.
#[inline]
fn lift(x: i128, from: u8, to: u8) -> i128 {
    if x == NULL { NULL } else { upscale(x, from, to).unwrap_or(NULL) }
}

fn lift_all(xs: &mut [i128], from: u8, to: u8) {
    if from != to {
        xs.iter_mut().for_each(|x| *x = lift(*x, from, to));
    }
}

/// `min` / `max` of two mantissas at the node's scale `s` (the second at `sy`).
#[inline]
fn pick(min: bool, x: i128, y: i128, sy: u8, s: u8) -> i128 {
    if x == NULL || y == NULL {
        return NULL;
    }
    let o = cmp_scaled(y, sy, x, s);
    let take_y = if min { o.is_lt() } else { o.is_gt() };
    if take_y { lift(y, sy, s) } else { x }
}

#[inline]
fn unary(node: &Node, x: i128, sa: u8) -> i128 {
    if x == NULL {
        return NULL;
    }
    match node {
        Node::Neg(_) => x.checked_neg().unwrap_or(NULL),
        Node::Abs(_) => x.checked_abs().unwrap_or(NULL),
        Node::Round(_) => div_pow10(x, u32::from(sa), Rounding::HalfUp),
        Node::Floor(_) => div_pow10(x, u32::from(sa), Rounding::Floor),
        _ => div_pow10(x, u32::from(sa), Rounding::Ceil),
    }
}

#[inline]
fn column(v: i64) -> i128 {
    if v == NULL_NUM { NULL } else { i128::from(v) }
}

fn day(d: Option<i64>) -> i128 {
    d.map_or(NULL, i128::from)
}

impl NumPlan {
    /// Writes the chunk's mantissas at `self.scale` into `out` (`out.len() == cx.n`).
    pub fn eval(&self, cx: &mut Ctx<'_>, out: &mut [i128]) {
        let (start, n) = (cx.start, cx.n);
        let s = self.scale;
        match &self.node {
            Node::Const(c) => out.fill(*c),
            Node::Col(slot) => {
                for (o, v) in out.iter_mut().zip(&cx.p.num[*slot][start..start + n]) {
                    *o = column(*v);
                }
            }
            Node::Ratio(cols) => super::ratio::quotients(cols, cx, out),
            Node::Age => {
                // `age_from_ymd` with the evaluation date taken apart once, not on every row.
                let (y, m, d) = cx.as_of.ymd();
                let md = m as i32 * 100 + d as i32;
                for (o, ymd) in out.iter_mut().zip(&cx.p.established_ymd[start..start + n]) {
                    let years = y - ymd / 10_000 - i32::from(md < ymd % 10_000);
                    *o = if *ymd == NULL_YMD { NULL } else { i128::from(years) };
                }
            }
            Node::Today => out.fill(i128::from(cx.as_of.days())),
            Node::TagSince(k) | Node::TagUntil(k) => {
                out.fill(NULL);
                let Some(col) = cx.p.tag_index.get(k).map(|i| &cx.p.tags[*i]) else { return };
                let since = matches!(self.node, Node::TagSince(_));
                let today = cx.as_of.days();
                // Only the tag's holders can have a date: their bits, not every row.
                for (w, words) in out.chunks_mut(64).enumerate() {
                    let mut bits = col.bits.get(start / 64 + w).copied().unwrap_or(0);
                    while bits != 0 {
                        let b = bits.trailing_zeros() as usize;
                        bits &= bits - 1;
                        if let (Some(o), Some((s, u))) = (words.get_mut(b), col.in_force(start + w * 64 + b, today)) {
                            let d = if since { s } else { u };
                            if d != i32::MIN {
                                *o = i128::from(d);
                            }
                        }
                    }
                }
            }
            Node::Neg(a) | Node::Abs(a) | Node::Round(a) | Node::Floor(a) | Node::Ceil(a) => {
                a.eval(cx, out);
                out.iter_mut().for_each(|x| *x = unary(&self.node, *x, a.scale));
            }
            // A value times a literal of 64 bits (`ui_premium_paid * 0.6`): in place, one
            // multiplication a row, no buffer of the literal.
            Node::Bin(BinOp::Mul, a, b)
                if a.scale.saturating_add(b.scale) == s
                    && matches!(b.node, Node::Const(c) if i64::try_from(c).is_ok()) =>
            {
                let Node::Const(c) = b.node else { return };
                a.eval(cx, out);
                for x in out.iter_mut() {
                    let v = *x as i64;
                    *x = if i128::from(v) == *x {
                        i128::from(v) * c
                    } else if *x == NULL {
                        NULL
                    } else {
                        mul_wide(*x, c).unwrap_or(NULL)
                    };
                }
            }
            Node::Bin(op, a, b) => {
                a.eval(cx, out);
                let mut rhs = cx.take();
                b.eval(cx, &mut rhs);
                let (sa, sb) = (a.scale, b.scale);
                let pairs = out.iter_mut().zip(&rhs);
                match op {
                    // The common shapes without rescaling: money ± money, a field × a rate.
                    BinOp::Add if sa == sb => pairs.for_each(|(x, y)| {
                        *x = if *x == NULL || *y == NULL { NULL } else { x.checked_add(*y).unwrap_or(NULL) }
                    }),
                    BinOp::Sub if sa == sb => pairs.for_each(|(x, y)| {
                        *x = if *x == NULL || *y == NULL { NULL } else { x.checked_sub(*y).unwrap_or(NULL) }
                    }),
                    // Both in 64 bits (not `NULL`): one multiplication, without a branch.
                    BinOp::Mul if sa.saturating_add(sb) == s => pairs.for_each(|(x, y)| {
                        let (a, b) = (*x as i64, *y as i64);
                        let narrow = i128::from(a) == *x && i128::from(b) == *y;
                        *x = if narrow {
                            i128::from(a) * i128::from(b)
                        } else if *x == NULL || *y == NULL {
                            NULL
                        } else {
                            mul_wide(*x, *y).unwrap_or(NULL)
                        }
                    }),
                    _ => pairs.for_each(|(x, y)| *x = bin(*op, *x, sa, *y, sb)),
                }
                cx.give(rhs);
            }
            Node::Min(args) | Node::Max(args) => {
                let min = matches!(self.node, Node::Min(_));
                let mut tmp = cx.take();
                for (i, a) in args.iter().enumerate() {
                    if i == 0 {
                        a.eval(cx, out);
                        lift_all(out, a.scale, s);
                        continue;
                    }
                    a.eval(cx, &mut tmp);
                    for (x, y) in out.iter_mut().zip(&tmp) {
                        *x = pick(min, *x, *y, a.scale, s);
                    }
                }
                cx.give(tmp);
            }
            Node::Cond(c, a, b) => {
                let (mut t, mut f) = ([0u64; WORDS], [0u64; WORDS]);
                c.eval(cx, &mut t, &mut f);
                a.eval(cx, out);
                lift_all(out, a.scale, s);
                let mut other = cx.take();
                b.eval(cx, &mut other);
                if b.scale == s {
                    // The common case (the branches at one scale): a choice per row, no rescaling.
                    for (i, (x, y)) in out.iter_mut().zip(&other).enumerate() {
                        let (tb, fb) = (t[i >> 6] >> (i & 63) & 1 == 1, f[i >> 6] >> (i & 63) & 1 == 1);
                        let otherwise = if fb { *y } else { NULL };
                        *x = if tb { *x } else { otherwise };
                    }
                } else {
                    for (i, x) in out.iter_mut().enumerate() {
                        let bit = 1u64 << (i & 63);
                        if t[i >> 6] & bit != 0 {
                        } else if f[i >> 6] & bit != 0 {
                            *x = lift(other[i], b.scale, s);
                        } else {
                            *x = NULL;
                        }
                    }
                }
                cx.give(other);
            }
        }
    }

    /// The mantissa at `self.scale` for one row (absolute index): what `eval` computes for that
    /// row, without evaluating the whole chunk. `NULL` is unknown.
    pub fn eval_row(&self, p: &Portrait, as_of: Date, row: usize) -> i128 {
        let s = self.scale;
        match &self.node {
            Node::Const(c) => *c,
            Node::Col(slot) => column(p.num[*slot][row]),
            Node::Ratio(cols) => cols.quotient(p, row),
            Node::Age => day(age_from_ymd(p.established_ymd[row], as_of)),
            Node::Today => i128::from(as_of.days()),
            Node::TagSince(k) | Node::TagUntil(k) => {
                let Some(col) = p.tag_index.get(k).map(|i| &p.tags[*i]) else { return NULL };
                match col.in_force(row, as_of.days()) {
                    Some((since, until)) => {
                        let d = if matches!(self.node, Node::TagSince(_)) { since } else { until };
                        if d == i32::MIN { NULL } else { i128::from(d) }
                    }
                    None => NULL,
                }
            }
            Node::Neg(a) | Node::Abs(a) | Node::Round(a) | Node::Floor(a) | Node::Ceil(a) => {
                unary(&self.node, a.eval_row(p, as_of, row), a.scale)
            }
            Node::Bin(op, a, b) => bin(*op, a.eval_row(p, as_of, row), a.scale, b.eval_row(p, as_of, row), b.scale),
            Node::Min(args) | Node::Max(args) => {
                let min = matches!(self.node, Node::Min(_));
                let mut acc = NULL;
                for (i, a) in args.iter().enumerate() {
                    let v = a.eval_row(p, as_of, row);
                    if v == NULL {
                        return NULL;
                    }
                    acc = if i == 0 { lift(v, a.scale, s) } else { pick(min, acc, v, a.scale, s) };
                }
                acc
            }
            Node::Cond(c, a, b) => match c.eval_row(p, as_of, row) {
                Some(true) => lift(a.eval_row(p, as_of, row), a.scale, s),
                Some(false) => lift(b.eval_row(p, as_of, row), b.scale, s),
                None => NULL,
            },
        }
    }
}

/// Compares a column slice (mantissas at `sx`) with a constant `c` at `sc`, 64 rows per word, as
/// one integer comparison per row against the constant brought to the column's scale. `false`
/// when the constant does not fit the column's integers (the caller compares row by row).
pub(super) fn cmp_const(op: BinOp, xs: &[i64], sx: u8, c: i128, sc: u8, t: &mut Mask, f: &mut Mask) -> bool {
    if c == NULL {
        return true;
    }
    // `c` lies in [lo, hi] at the column's scale, with lo == hi when it is exactly representable:
    // x ≥ c ⇔ x ≥ hi, x > c ⇔ x > lo, x ≤ c ⇔ x ≤ lo, x < c ⇔ x < hi, x = c ⇔ lo = hi = x.
    let (lo, hi) = if sc <= sx {
        match upscale(c, sc, sx) {
            Some(v) => (v, v),
            None => return false,
        }
    } else {
        let k = u32::from(sc - sx);
        (div_pow10(c, k, Rounding::Floor), div_pow10(c, k, Rounding::Ceil))
    };
    let (Ok(lo), Ok(hi)) = (i64::try_from(lo), i64::try_from(hi)) else { return false };
    if lo == NULL_NUM || hi == NULL_NUM {
        return false;
    }
    #[inline(always)]
    fn bits(xs: &[i64], t: &mut Mask, f: &mut Mask, holds: impl Fn(i64) -> bool, fails: impl Fn(i64) -> bool) {
        for (w, chunk) in xs.chunks(64).enumerate() {
            let (mut tb, mut fb) = (0u64, 0u64);
            for (b, &x) in chunk.iter().enumerate() {
                let known = x != NULL_NUM;
                tb |= u64::from(known & holds(x)) << b;
                fb |= u64::from(known & fails(x)) << b;
            }
            t[w] = tb;
            f[w] = fb;
        }
    }
    match op {
        BinOp::Ge => bits(xs, t, f, |x| x >= hi, |x| x < hi),
        BinOp::Gt => bits(xs, t, f, |x| x > lo, |x| x <= lo),
        BinOp::Le => bits(xs, t, f, |x| x <= lo, |x| x > lo),
        BinOp::Lt => bits(xs, t, f, |x| x < hi, |x| x >= hi),
        BinOp::Eq if lo == hi => bits(xs, t, f, |x| x == lo, |x| x != lo),
        BinOp::Eq => bits(xs, t, f, |_| false, |_| true),
        _ if lo == hi => bits(xs, t, f, |x| x != lo, |x| x == lo),
        _ => bits(xs, t, f, |_| true, |_| false),
    }
    true
}

/// Compares two numeric plans row by row over the chunk.
pub(super) fn cmp_rows(cx: &mut Ctx<'_>, op: BinOp, a: &NumPlan, b: &NumPlan, t: &mut Mask, f: &mut Mask) {
    // One side a literal (`age_years >= 2`, `tag_since(…) >= date(…)`): only the other side over
    // the chunk, 64 rows a word without branches.
    let literal = match (&a.node, &b.node) {
        (_, Node::Const(c)) => Some((op, a, *c, b.scale)),
        (Node::Const(c), _) => Some((op.flipped(), b, *c, a.scale)),
        _ => None,
    };
    if let Some((op, side, c, sc)) = literal {
        if c == NULL {
            return;
        }
        let mut x = cx.take();
        side.eval(cx, &mut x);
        let sx = side.scale;
        // The literal at the column's scale when that is exact; otherwise compared as it is.
        let (c, sc) = match (sc <= sx).then(|| upscale(c, sc, sx)).flatten() {
            Some(m) => (m, sx),
            None => (c, sc),
        };
        for (w, chunk) in x.chunks(64).enumerate() {
            let (mut tb, mut fb) = (0u64, 0u64);
            for (bit, &v) in chunk.iter().enumerate() {
                let known = v != NULL;
                let h = holds(op, if sc == sx { v.cmp(&c) } else { cmp_scaled(v, sx, c, sc) });
                tb |= u64::from(known & h) << bit;
                fb |= u64::from(known & !h) << bit;
            }
            t[w] = tb;
            f[w] = fb;
        }
        cx.give(x);
        return;
    }
    let mut x = cx.take();
    let mut y = cx.take();
    a.eval(cx, &mut x);
    b.eval(cx, &mut y);
    for (i, (x, y)) in x.iter().zip(&y).enumerate() {
        let known = *x != NULL && *y != NULL;
        put(t, f, i, known.then(|| holds(op, cmp_scaled(*x, a.scale, *y, b.scale))));
    }
    cx.give(x);
    cx.give(y);
}
