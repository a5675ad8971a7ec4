//! Most amount formulas — a field times a rate, `?:` between such products, `min` / `max`
//! against literals, sums and differences of fields — in 64-bit mantissas: half the memory of
//! the exact `i128` buffers, and one multiplication a row. Only shapes that need no rescaling
//! take this path (`NumPlan::narrow`); a value that leaves 64 bits anywhere in a chunk makes
//! `eval64` answer `false`, and the caller evaluates that chunk on the exact path instead, so
//! both give the same mantissas to the last digit.

use super::run::Ctx;
use super::{NULL, Node, NumPlan, WORDS};
use crate::portrait::{NULL_NUM, NULL_YMD};
use crate::rules::ast::BinOp;

/// An unknown value in a 64-bit buffer: the columns' own marker.
const N: i64 = NULL_NUM;

impl NumPlan {
    /// Whether [`NumPlan::eval64`] can evaluate this plan: every node's value at its operands'
    /// scale (no rescaling, no division, no rounding), literals within 64 bits.
    pub fn narrow(&self) -> bool {
        let s = self.scale;
        match &self.node {
            Node::Const(c) => *c == NULL || narrow_const(*c) != N,
            Node::Col(_) | Node::Age | Node::Today => true,
            Node::Neg(a) | Node::Abs(a) => a.narrow(),
            Node::Bin(BinOp::Add | BinOp::Sub, a, b) => a.scale == s && b.scale == s && a.narrow() && b.narrow(),
            Node::Bin(BinOp::Mul, a, b) => a.scale.checked_add(b.scale) == Some(s) && a.narrow() && b.narrow(),
            Node::Min(args) | Node::Max(args) => args.iter().all(|a| a.scale == s && a.narrow()),
            Node::Cond(_, a, b) => a.scale == s && b.scale == s && a.narrow() && b.narrow(),
            _ => false,
        }
    }

    /// Writes the chunk's mantissas at `self.scale` into `out` (`N` unknown), as
    /// [`NumPlan::eval`] does in `i128`. `false` when some value does not fit in 64 bits: `out`
    /// is then not to be used. Only for plans that are [`NumPlan::narrow`].
    pub fn eval64(&self, cx: &mut Ctx<'_>, out: &mut [i64]) -> bool {
        let (start, n) = (cx.start, cx.n);
        match &self.node {
            Node::Const(c) => {
                out.fill(narrow_const(*c));
                true
            }
            Node::Col(slot) => {
                out.copy_from_slice(&cx.p.num[*slot][start..start + n]);
                true
            }
            Node::Today => {
                out.fill(i64::from(cx.as_of.days()));
                true
            }
            Node::Age => {
                let (y, m, d) = cx.as_of.ymd();
                let md = m as i32 * 100 + d as i32;
                for (o, ymd) in out.iter_mut().zip(&cx.p.established_ymd[start..start + n]) {
                    let years = y - ymd / 10_000 - i32::from(md < ymd % 10_000);
                    *o = if *ymd == NULL_YMD { N } else { i64::from(years) };
                }
                true
            }
            Node::Neg(a) | Node::Abs(a) => {
                let ok = a.eval64(cx, out);
                let neg = matches!(self.node, Node::Neg(_));
                // `N` is `i64::MIN`: every other value negates within 64 bits.
                for x in out.iter_mut().filter(|x| **x != N) {
                    *x = if neg { -*x } else { x.abs() };
                }
                ok
            }
            Node::Bin(op, a, b) => {
                let mut ok = a.eval64(cx, out);
                if let Node::Const(c) = b.node {
                    // A value times (or plus) a literal: no second buffer.
                    let c = narrow_const(c);
                    if c == N {
                        out.fill(N);
                        return ok;
                    }
                    for x in out.iter_mut().filter(|x| **x != N) {
                        let r = match op {
                            BinOp::Mul => x.checked_mul(c),
                            BinOp::Add => x.checked_add(c),
                            _ => x.checked_sub(c),
                        };
                        match r {
                            Some(v) if v != N => *x = v,
                            _ => ok = false,
                        }
                    }
                    return ok;
                }
                let mut rhs = cx.take64();
                ok &= b.eval64(cx, &mut rhs);
                for (x, y) in out.iter_mut().zip(&rhs) {
                    if *x == N || *y == N {
                        *x = N;
                        continue;
                    }
                    let r = match op {
                        BinOp::Mul => x.checked_mul(*y),
                        BinOp::Add => x.checked_add(*y),
                        _ => x.checked_sub(*y),
                    };
                    match r {
                        Some(v) if v != N => *x = v,
                        _ => ok = false,
                    }
                }
                cx.give64(rhs);
                ok
            }
            Node::Min(args) | Node::Max(args) => {
                let min = matches!(self.node, Node::Min(_));
                let mut ok = true;
                let mut tmp = cx.take64();
                for (i, a) in args.iter().enumerate() {
                    if i == 0 {
                        ok &= a.eval64(cx, out);
                        continue;
                    }
                    ok &= a.eval64(cx, &mut tmp);
                    for (x, y) in out.iter_mut().zip(&tmp) {
                        let pick = if min { (*x).min(*y) } else { (*x).max(*y) };
                        *x = if *x == N || *y == N { N } else { pick };
                    }
                }
                cx.give64(tmp);
                ok
            }
            Node::Cond(c, a, b) => {
                let (mut t, mut f) = ([0u64; WORDS], [0u64; WORDS]);
                c.eval(cx, &mut t, &mut f);
                // A rate that depends on a condition (`large ? paid * 0.3 : paid * 0.6`): the
                // column read once, times the rate each row's condition picks.
                if let (Some((x, k1)), Some((y, k2))) = (col_times_const(a), col_times_const(b))
                    && x == y
                {
                    let col = &cx.p.num[x][start..start + n];
                    let mut ok = true;
                    for (i, (o, v)) in out.iter_mut().zip(col).enumerate() {
                        let (tb, fb) = (t[i >> 6] >> (i & 63) & 1 == 1, f[i >> 6] >> (i & 63) & 1 == 1);
                        let k = if tb { k1 } else { k2 };
                        *o = if *v == N || !(tb || fb) {
                            N
                        } else {
                            match v.checked_mul(k) {
                                Some(p) if p != N => p,
                                _ => {
                                    ok = false;
                                    N
                                }
                            }
                        };
                    }
                    return ok;
                }
                let mut ok = a.eval64(cx, out);
                let mut other = cx.take64();
                ok &= b.eval64(cx, &mut other);
                for (i, (x, y)) in out.iter_mut().zip(&other).enumerate() {
                    let (tb, fb) = (t[i >> 6] >> (i & 63) & 1 == 1, f[i >> 6] >> (i & 63) & 1 == 1);
                    let otherwise = if fb { *y } else { N };
                    *x = if tb { *x } else { otherwise };
                }
                cx.give64(other);
                ok
            }
            // Not narrow: the caller checked `narrow` first.
            _ => false,
        }
    }
}

/// `column × literal` (the literal known and within 64 bits): the column's slot and the literal.
fn col_times_const(p: &NumPlan) -> Option<(usize, i64)> {
    match &p.node {
        Node::Bin(BinOp::Mul, a, b) => match (&a.node, &b.node) {
            (Node::Col(s), Node::Const(c)) => Some((*s, Some(narrow_const(*c)).filter(|k| *k != N)?)),
            _ => None,
        },
        _ => None,
    }
}

/// A literal's mantissa in 64 bits; `N` when unknown or too wide (`narrow` refuses the latter).
fn narrow_const(c: i128) -> i64 {
    if c == NULL { N } else { i64::try_from(c).unwrap_or(N) }
}
