//! The derived ratios over the portrait's money columns, as `rules::ratio` defines them: a ratio
//! against a literal decided exactly (the stored 6-place ratio decides, 64 rows per word, every row
//! more than half a place from the literal; the rest by integer cross-multiplication on the
//! money), and the ratio's value in arithmetic (the quotient half up to `DIV_SCALE` places).

use super::run::{Ctx, put};
use super::{CompileError, Mask, NULL, WORDS};
use crate::model::decimal::{Rounding, div_pow10, upscale};
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
    /// The portrait's own column of the ratio, rounded half up to its scale, as a filter.
    filter: Option<Filter>,
}

/// The stored ratio `v` (the exact ratio `x` rounded half up to the column's scale, so
/// `|x − v| ≤ ½` of its last place) against the literal `c`, which lies in `[lo, hi]` at that
/// scale: `v > hi` ⇒ `x > c`, `v < lo` ⇒ `x < c`; only `lo ≤ v ≤ hi` (and a ratio too large for
/// the column) is decided on the money.
#[derive(Debug, Clone, Copy)]
struct Filter {
    slot: usize,
    lo: i64,
    hi: i64,
}

impl RatioCmp {
    pub fn new(cmp: Comparison) -> Result<RatioCmp, CompileError> {
        let cols = Cols::of(cmp.parts)?;
        let filter = num_slot(cmp.field).and_then(|slot| {
            let (c, scale) = (cmp.literal, NUM_SCALES[slot]);
            let (lo, hi) = if c.s <= scale {
                let v = upscale(c.m, c.s, scale)?;
                (v, v)
            } else {
                let k = u32::from(c.s - scale);
                (div_pow10(c.m, k, Rounding::Floor), div_pow10(c.m, k, Rounding::Ceil))
            };
            let (lo, hi) = (i64::try_from(lo).ok()?, i64::try_from(hi).ok()?);
            (lo != NULL_NUM).then_some(Filter { slot, lo, hi })
        });
        Ok(RatioCmp { cmp, cols, filter })
    }

    /// The outcome for one row; `None` unknown.
    pub fn eval_row(&self, p: &Portrait, row: usize) -> Option<bool> {
        let (n, d) = self.cols.fractions(p, row)?;
        self.cmp.decide(n, d)
    }

    /// Sets `t` and `f` for the chunk (both start cleared).
    pub fn eval(&self, cx: &Ctx<'_>, t: &mut Mask, f: &mut Mask) {
        let (start, n) = (cx.start, cx.n);
        let Some(filter) = self.filter else {
            for i in 0..n {
                put(t, f, i, self.eval_row(cx.p, start + i));
            }
            return;
        };
        let col = |s: usize| &cx.p.num[s][start..start + n];
        let (vs, xs, ds) = (col(filter.slot), col(self.cols.num), col(self.cols.den));
        let mut exact = [0u64; WORDS];
        match self.cols.minus {
            None => filtered::<false>(vs, xs, xs, ds, filter, self.cmp.op, t, f, &mut exact),
            Some(m) => filtered::<true>(vs, xs, col(m), ds, filter, self.cmp.op, t, f, &mut exact),
        }
        for (w, word) in exact.iter().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                put(t, f, i, self.eval_row(cx.p, start + i));
            }
        }
    }
}

/// 64 rows per word without branches: rows the stored ratio decides into `t` / `f`, rows with
/// known parts it does not decide into `exact`.
#[allow(clippy::too_many_arguments)]
#[inline]
fn filtered<const MINUS: bool>(
    vs: &[i64],
    xs: &[i64],
    ms: &[i64],
    ds: &[i64],
    filter: Filter,
    op: BinOp,
    t: &mut Mask,
    f: &mut Mask,
    exact: &mut Mask,
) {
    let (lo, hi) = (filter.lo, filter.hi);
    let rows = vs.chunks(64).zip(xs.chunks(64)).zip(ms.chunks(64)).zip(ds.chunks(64));
    for (w, (((vs, xs), ms), ds)) in rows.enumerate() {
        let (mut decided, mut greater, mut parts) = (0u64, 0u64, 0u64);
        for (b, (((&v, &x), &m), &d)) in vs.iter().zip(xs).zip(ms).zip(ds).enumerate() {
            // `&` and `|`, not `&&` and `||`: no branch on the data.
            let known = (x != NULL_NUM) & (d != NULL_NUM) & (d != 0) & (!MINUS | (m != NULL_NUM));
            decided |= u64::from((v != NULL_NUM) & ((v < lo) | (v > hi))) << b;
            greater |= u64::from(v > hi) << b;
            parts |= u64::from(known) << b;
        }
        let (yes, no) = match op {
            BinOp::Ge | BinOp::Gt => (decided & greater, decided & !greater),
            BinOp::Le | BinOp::Lt => (decided & !greater, decided & greater),
            BinOp::Eq => (0, decided),
            _ => (decided, 0),
        };
        t[w] = yes;
        f[w] = no;
        exact[w] = parts & !decided;
    }
}

/// A ratio's values in arithmetic over the chunk, mantissas at `DIV_SCALE` (`NULL` unknown).
pub fn quotients(cols: &Cols, cx: &Ctx<'_>, out: &mut [i128]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = cols.quotient(cx.p, cx.start + i);
    }
}
