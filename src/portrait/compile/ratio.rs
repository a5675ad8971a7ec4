//! The derived ratios over the portrait's money columns, as `rules::ratio` defines them: a ratio
//! against a literal decided exactly (integer cross-multiplication, 64 rows per word), and the
//! ratio's value in arithmetic (the quotient half up to `DIV_SCALE` places).

use super::run::{Ctx, put};
use super::{CompileError, Mask, NULL};
use crate::portrait::{NULL_NUM, NUM_SCALES, Portrait, num_slot};
use crate::rules::ast::BinOp;
use crate::rules::ratio::{self, Comparison, Parts};

/// The portrait columns a ratio reads: `(num − minus) × 100 / den`, all at one scale.
#[derive(Debug, Clone, Copy)]
pub struct Cols {
    pub num: usize,
    pub minus: Option<usize>,
    pub den: usize,
}

impl Cols {
    pub fn of(p: Parts) -> Result<Cols, CompileError> {
        let slot =
            |f: crate::model::Field| num_slot(f).ok_or_else(|| CompileError(format!("{} is not numeric", f.name())));
        let cols = Cols { num: slot(p.num)?, minus: p.minus.map(slot).transpose()?, den: slot(p.den)? };
        let scale = NUM_SCALES[cols.num];
        if NUM_SCALES[cols.den] != scale || cols.minus.is_some_and(|m| NUM_SCALES[m] != scale) {
            return Err(CompileError("a ratio over columns of different scales".into()));
        }
        Ok(cols)
    }

    /// The numerator and denominator of a row; `None` when unknown (a denominator of 0 is the
    /// caller's to refuse).
    #[inline]
    pub fn fractions(&self, p: &Portrait, row: usize) -> Option<(i128, i128)> {
        let known = |v: i64| (v != NULL_NUM).then_some(i128::from(v));
        let n = known(p.num[self.num][row])?;
        let n = match self.minus {
            Some(m) => n - known(p.num[m][row])?,
            None => n,
        };
        Some((n, known(p.num[self.den][row])?))
    }

    /// The ratio's value in arithmetic for a row, a mantissa at `DIV_SCALE`; `NULL` unknown.
    #[inline]
    pub fn quotient(&self, p: &Portrait, row: usize) -> i128 {
        self.fractions(p, row).and_then(|(n, d)| ratio::quotient(n, d)).map_or(NULL, |q| q.m)
    }
}

/// A ratio compared with a literal, compiled.
#[derive(Debug, Clone)]
pub struct RatioCmp {
    pub cmp: Comparison,
    pub cols: Cols,
    /// `100·10^s / g` and `c / g` for the literal `c / 10^s` (`g` their common divisor), when
    /// both fit in 62 bits: then `ratio op literal` is `n·k op c·d` for `d > 0`, in `i128`
    /// without overflow for any two columns' values.
    fast: Option<(i64, i64)>,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

impl RatioCmp {
    pub fn new(cmp: Comparison) -> Result<RatioCmp, CompileError> {
        let cols = Cols::of(cmp.parts)?;
        let fast = crate::model::decimal::POW10.get(usize::from(cmp.literal.s)).and_then(|p| {
            let k = p.checked_mul(100)?;
            let g = gcd(k, cmp.literal.m).max(1);
            let (k, c) = (k / g, cmp.literal.m / g);
            const LIMIT: i128 = 1 << 62;
            (k < LIMIT && c.abs() < LIMIT).then_some((k as i64, c as i64))
        });
        Ok(RatioCmp { cmp, cols, fast })
    }

    /// The outcome for one row; `None` unknown.
    pub fn eval_row(&self, p: &Portrait, row: usize) -> Option<bool> {
        let (n, d) = self.cols.fractions(p, row)?;
        self.cmp.decide(n, d)
    }

    /// Sets `t` and `f` for the chunk (both start cleared).
    pub fn eval(&self, cx: &Ctx<'_>, t: &mut Mask, f: &mut Mask) {
        let (start, n) = (cx.start, cx.n);
        let col = |s: usize| &cx.p.num[s][start..start + n];
        let Some((k, c)) = self.fast else {
            for i in 0..n {
                put(t, f, i, self.eval_row(cx.p, start + i));
            }
            return;
        };
        let (xs, ds) = (col(self.cols.num), col(self.cols.den));
        match self.cols.minus {
            None => by_op(self.cmp.op, xs, xs, ds, k, c, false, t, f),
            Some(m) => by_op(self.cmp.op, xs, col(m), ds, k, c, true, t, f),
        }
    }
}

/// One loop per comparison, so that the test inside is a single integer comparison.
#[allow(clippy::too_many_arguments)]
#[inline]
fn by_op(op: BinOp, xs: &[i64], ms: &[i64], ds: &[i64], k: i64, c: i64, minus: bool, t: &mut Mask, f: &mut Mask) {
    match (op, minus) {
        (BinOp::Ge, false) => words::<false>(xs, ms, ds, k, c, t, f, |l, r| l >= r),
        (BinOp::Gt, false) => words::<false>(xs, ms, ds, k, c, t, f, |l, r| l > r),
        (BinOp::Le, false) => words::<false>(xs, ms, ds, k, c, t, f, |l, r| l <= r),
        (BinOp::Lt, false) => words::<false>(xs, ms, ds, k, c, t, f, |l, r| l < r),
        (BinOp::Eq, false) => words::<false>(xs, ms, ds, k, c, t, f, |l, r| l == r),
        (_, false) => words::<false>(xs, ms, ds, k, c, t, f, |l, r| l != r),
        (BinOp::Ge, true) => words::<true>(xs, ms, ds, k, c, t, f, |l, r| l >= r),
        (BinOp::Gt, true) => words::<true>(xs, ms, ds, k, c, t, f, |l, r| l > r),
        (BinOp::Le, true) => words::<true>(xs, ms, ds, k, c, t, f, |l, r| l <= r),
        (BinOp::Lt, true) => words::<true>(xs, ms, ds, k, c, t, f, |l, r| l < r),
        (BinOp::Eq, true) => words::<true>(xs, ms, ds, k, c, t, f, |l, r| l == r),
        (_, true) => words::<true>(xs, ms, ds, k, c, t, f, |l, r| l != r),
    }
}

/// 64 rows per word, without branches: `n·k test c·|d|` with `n` negated when `d < 0`. With
/// `|k|, |c| < 2^62` and column values (`NULL_NUM` included) under `2^63` in magnitude, `n`
/// under `2^64`, no product reaches `2^127`; unknown rows compute garbage that `known` masks.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn words<const MINUS: bool>(
    xs: &[i64],
    ms: &[i64],
    ds: &[i64],
    k: i64,
    c: i64,
    t: &mut Mask,
    f: &mut Mask,
    test: impl Fn(i128, i128) -> bool,
) {
    let (k, c) = (i128::from(k), i128::from(c));
    for (w, ((xs, ms), ds)) in xs.chunks(64).zip(ms.chunks(64)).zip(ds.chunks(64)).enumerate() {
        let (mut tb, mut fb) = (0u64, 0u64);
        for (b, ((&x, &m), &d)) in xs.iter().zip(ms).zip(ds).enumerate() {
            let mut known = x != NULL_NUM && d != NULL_NUM && d != 0;
            let v = if MINUS {
                known &= m != NULL_NUM;
                let n = i128::from(x) - i128::from(m);
                let (n, d) = if d < 0 { (-n, -i128::from(d)) } else { (n, i128::from(d)) };
                test(n * k, c * d)
            } else {
                // Both negated in 64 bits when d < 0 (only `NULL_NUM` wraps, and it is masked):
                // each product is then one 64 × 64 → 128-bit multiplication.
                let s = d >> 63;
                let (n, d) = ((x ^ s).wrapping_sub(s), (d ^ s).wrapping_sub(s));
                test(i128::from(n) * k, c * i128::from(d))
            };
            tb |= u64::from(known & v) << b;
            fb |= u64::from(known & !v) << b;
        }
        t[w] = tb;
        f[w] = fb;
    }
}

/// A ratio's values in arithmetic over the chunk, mantissas at `DIV_SCALE` (`NULL` unknown).
pub fn quotients(cols: &Cols, cx: &Ctx<'_>, out: &mut [i128]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = cols.quotient(cx.p, cx.start + i);
    }
}
