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
    /// The literal `c / 10^s` as `ratio op literal` ⇔ `n·k op c·d` for `d > 0`, with `k =
    /// 100·10^s / g` and `c / g` (`g` their common divisor), when both fit in 62 bits.
    fast: Option<Fast>,
}

#[derive(Debug, Clone, Copy)]
struct Fast {
    k: i64,
    c: i64,
    /// The largest `|n|` and `d` whose products with `k` and `c` fit in 64 bits.
    nmax: i64,
    dmax: i64,
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
            let (k, c) = (i64::try_from(k / g).ok()?, i64::try_from(cmp.literal.m / g).ok()?);
            const LIMIT: i64 = 1 << 62;
            (k < LIMIT && c.abs() < LIMIT).then_some(Fast {
                k,
                c,
                nmax: i64::MAX / k.max(1),
                dmax: if c == 0 { i64::MAX } else { i64::MAX / c.abs() },
            })
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
        let Some(fast) = self.fast else {
            for i in 0..n {
                put(t, f, i, self.eval_row(cx.p, start + i));
            }
            return;
        };
        let (xs, ds) = (col(self.cols.num), col(self.cols.den));
        let ms = self.cols.minus.map_or(xs, col);
        let mut wide = [0u64; super::WORDS];
        by_op(self.cmp.op, self.cols.minus.is_some(), xs, ms, ds, fast, t, f, &mut wide);
        // Rows whose products do not fit in 64 bits: in 128 (`k`, `c` < 2^62, |n| < 2^64).
        for (w, word) in wide.iter().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let x = i128::from(xs[i]) - if self.cols.minus.is_some() { i128::from(ms[i]) } else { 0 };
                let (x, d) = if ds[i] < 0 { (-x, -i128::from(ds[i])) } else { (x, i128::from(ds[i])) };
                let o = (x * i128::from(fast.k)).cmp(&(i128::from(fast.c) * d));
                put(t, f, i, Some(ratio::holds(self.cmp.op, o)));
            }
        }
    }
}

/// One loop per comparison, so that the test inside is a single integer comparison.
#[allow(clippy::too_many_arguments)]
#[inline]
fn by_op(
    op: BinOp,
    minus: bool,
    xs: &[i64],
    ms: &[i64],
    ds: &[i64],
    k: Fast,
    t: &mut Mask,
    f: &mut Mask,
    wide: &mut Mask,
) {
    macro_rules! each {
        ($minus:literal) => {
            match op {
                BinOp::Ge => words::<$minus>(xs, ms, ds, k, t, f, wide, |l, r| l >= r),
                BinOp::Gt => words::<$minus>(xs, ms, ds, k, t, f, wide, |l, r| l > r),
                BinOp::Le => words::<$minus>(xs, ms, ds, k, t, f, wide, |l, r| l <= r),
                BinOp::Lt => words::<$minus>(xs, ms, ds, k, t, f, wide, |l, r| l < r),
                BinOp::Eq => words::<$minus>(xs, ms, ds, k, t, f, wide, |l, r| l == r),
                _ => words::<$minus>(xs, ms, ds, k, t, f, wide, |l, r| l != r),
            }
        };
    }
    if minus { each!(true) } else { each!(false) }
}

/// 64 rows per word, in 64-bit integers and without branches: `n·k test c·|d|` with `n`
/// negated when `d < 0`. Rows where a product (or `n = x − m`) would not fit are left out of
/// `t` and `f` and set in `wide`; unknown rows compute garbage that `known` masks.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn words<const MINUS: bool>(
    xs: &[i64],
    ms: &[i64],
    ds: &[i64],
    k: Fast,
    t: &mut Mask,
    f: &mut Mask,
    wide: &mut Mask,
    test: impl Fn(i64, i64) -> bool,
) {
    for (w, ((xs, ms), ds)) in xs.chunks(64).zip(ms.chunks(64)).zip(ds.chunks(64)).enumerate() {
        let (mut tb, mut fb, mut wb) = (0u64, 0u64, 0u64);
        for (b, ((&x, &m), &d)) in xs.iter().zip(ms).zip(ds).enumerate() {
            let mut known = x != NULL_NUM && d != NULL_NUM && d != 0;
            let mut fits = true;
            let n = if MINUS {
                known &= m != NULL_NUM;
                let n = x.wrapping_sub(m);
                fits = (x ^ m) & (x ^ n) >= 0;
                n
            } else {
                x
            };
            let s = d >> 63;
            let (n, d) = ((n ^ s).wrapping_sub(s), (d ^ s).wrapping_sub(s));
            fits &= n >= -k.nmax && n <= k.nmax && d <= k.dmax;
            let v = test(n.wrapping_mul(k.k), k.c.wrapping_mul(d));
            tb |= u64::from(known & fits & v) << b;
            fb |= u64::from(known & fits & !v) << b;
            wb |= u64::from(known & !fits) << b;
        }
        t[w] = tb;
        f[w] = fb;
        wide[w] = wb;
    }
}

/// A ratio's values in arithmetic over the chunk, mantissas at `DIV_SCALE` (`NULL` unknown).
pub fn quotients(cols: &Cols, cx: &Ctx<'_>, out: &mut [i128]) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = cols.quotient(cx.p, cx.start + i);
    }
}
