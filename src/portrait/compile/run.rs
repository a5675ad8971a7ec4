//! Evaluating columnar plans over one chunk of the portrait into three-valued masks.

use super::{BoolPlan, CHUNK, Mask, NumPlan, WORDS};
use crate::model::{Date, Field};
use crate::portrait::{
    self, NULL_ENUM, NULL_FLAG, NULL_INDUSTRY, Portrait, age_from_ymd, enum_slot, flag_slot, num_slot,
};
use crate::rules::ast::BinOp;

/// What a chunk evaluation reads.
pub struct Ctx<'a> {
    pub p: &'a Portrait,
    pub as_of: Date,
    pub start: usize,
    pub n: usize,
    pool: Vec<Vec<f64>>,
}

impl<'a> Ctx<'a> {
    pub fn new(p: &'a Portrait, as_of: Date) -> Ctx<'a> {
        Ctx { p, as_of, start: 0, n: 0, pool: Vec::new() }
    }

    /// Moves to the chunk starting at `start`.
    pub fn at(&mut self, start: usize) {
        self.start = start;
        self.n = CHUNK.min(self.p.len().saturating_sub(start));
    }

    fn take(&mut self) -> Vec<f64> {
        let mut v = self.pool.pop().unwrap_or_else(|| Vec::with_capacity(CHUNK));
        v.clear();
        v.resize(self.n, f64::NAN);
        v
    }

    fn give(&mut self, v: Vec<f64>) {
        self.pool.push(v);
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

fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { f64::NAN }
}

impl NumPlan {
    /// Writes the chunk's values into `out` (`out.len() == cx.n`); NaN is unknown.
    pub fn eval(&self, cx: &mut Ctx<'_>, out: &mut [f64]) {
        let (start, n) = (cx.start, cx.n);
        match self {
            NumPlan::Const(c) => out.fill(*c),
            NumPlan::Col(s) => out.copy_from_slice(&cx.p.num[*s][start..start + n]),
            NumPlan::Age => {
                for (o, ymd) in out.iter_mut().zip(&cx.p.established_ymd[start..start + n]) {
                    *o = age_from_ymd(*ymd, cx.as_of).unwrap_or(f64::NAN);
                }
            }
            NumPlan::Today => out.fill(f64::from(cx.as_of.days())),
            NumPlan::TagSince(k) | NumPlan::TagUntil(k) => {
                out.fill(f64::NAN);
                let Some(col) = cx.p.tag_index.get(k).map(|i| &cx.p.tags[*i]) else { return };
                let since = matches!(self, NumPlan::TagSince(_));
                let day = cx.as_of.days();
                for (i, o) in out.iter_mut().enumerate() {
                    if let Some((s, u)) = col.in_force(start + i, day) {
                        let d = if since { s } else { u };
                        if d != i32::MIN {
                            *o = f64::from(d);
                        }
                    }
                }
            }
            NumPlan::Neg(a) => {
                a.eval(cx, out);
                out.iter_mut().for_each(|v| *v = -*v);
            }
            NumPlan::Bin(op, a, b) => {
                a.eval(cx, out);
                let mut rhs = cx.take();
                b.eval(cx, &mut rhs);
                for (x, y) in out.iter_mut().zip(&rhs) {
                    *x = finite(match op {
                        BinOp::Add => *x + y,
                        BinOp::Sub => *x - y,
                        BinOp::Mul => *x * y,
                        _ if *y == 0.0 => f64::NAN,
                        _ => *x / y,
                    });
                }
                cx.give(rhs);
            }
            NumPlan::Min(args) | NumPlan::Max(args) => {
                let min = matches!(self, NumPlan::Min(_));
                let mut tmp = cx.take();
                for (i, a) in args.iter().enumerate() {
                    if i == 0 {
                        a.eval(cx, out);
                        continue;
                    }
                    a.eval(cx, &mut tmp);
                    for (x, y) in out.iter_mut().zip(&tmp) {
                        // Unknown in, unknown out (f64::min would skip a NaN).
                        *x = if x.is_nan() || y.is_nan() {
                            f64::NAN
                        } else if min {
                            x.min(*y)
                        } else {
                            x.max(*y)
                        };
                    }
                }
                cx.give(tmp);
            }
            NumPlan::Round(a) | NumPlan::Floor(a) | NumPlan::Ceil(a) | NumPlan::Abs(a) => {
                a.eval(cx, out);
                let f: fn(f64) -> f64 = match self {
                    NumPlan::Round(_) => f64::round,
                    NumPlan::Floor(_) => f64::floor,
                    NumPlan::Ceil(_) => f64::ceil,
                    _ => f64::abs,
                };
                out.iter_mut().for_each(|v| *v = f(*v));
            }
            NumPlan::Cond(c, a, b) => {
                let (mut t, mut f) = ([0u64; WORDS], [0u64; WORDS]);
                c.eval(cx, &mut t, &mut f);
                a.eval(cx, out);
                let mut other = cx.take();
                b.eval(cx, &mut other);
                for (i, x) in out.iter_mut().enumerate() {
                    let bit = 1u64 << (i & 63);
                    if t[i >> 6] & bit != 0 {
                    } else if f[i >> 6] & bit != 0 {
                        *x = other[i];
                    } else {
                        *x = f64::NAN;
                    }
                }
                cx.give(other);
            }
        }
    }
}

impl NumPlan {
    /// The value for one row (absolute index): what `eval` computes for that row, without
    /// evaluating the whole chunk. NaN is unknown.
    pub fn eval_row(&self, p: &Portrait, as_of: Date, row: usize) -> f64 {
        match self {
            NumPlan::Const(c) => *c,
            NumPlan::Col(s) => p.num[*s][row],
            NumPlan::Age => age_from_ymd(p.established_ymd[row], as_of).unwrap_or(f64::NAN),
            NumPlan::Today => f64::from(as_of.days()),
            NumPlan::TagSince(k) | NumPlan::TagUntil(k) => {
                let Some(col) = p.tag_index.get(k).map(|i| &p.tags[*i]) else { return f64::NAN };
                match col.in_force(row, as_of.days()) {
                    Some((s, u)) => {
                        let d = if matches!(self, NumPlan::TagSince(_)) { s } else { u };
                        if d == i32::MIN { f64::NAN } else { f64::from(d) }
                    }
                    None => f64::NAN,
                }
            }
            NumPlan::Neg(a) => -a.eval_row(p, as_of, row),
            NumPlan::Bin(op, a, b) => {
                let (x, y) = (a.eval_row(p, as_of, row), b.eval_row(p, as_of, row));
                finite(match op {
                    BinOp::Add => x + y,
                    BinOp::Sub => x - y,
                    BinOp::Mul => x * y,
                    _ if y == 0.0 => f64::NAN,
                    _ => x / y,
                })
            }
            NumPlan::Min(args) | NumPlan::Max(args) => {
                let min = matches!(self, NumPlan::Min(_));
                let mut acc = f64::NAN;
                for (i, a) in args.iter().enumerate() {
                    let v = a.eval_row(p, as_of, row);
                    if v.is_nan() {
                        return f64::NAN;
                    }
                    acc = if i == 0 {
                        v
                    } else if min {
                        acc.min(v)
                    } else {
                        acc.max(v)
                    };
                }
                acc
            }
            NumPlan::Round(a) => a.eval_row(p, as_of, row).round(),
            NumPlan::Floor(a) => a.eval_row(p, as_of, row).floor(),
            NumPlan::Ceil(a) => a.eval_row(p, as_of, row).ceil(),
            NumPlan::Abs(a) => a.eval_row(p, as_of, row).abs(),
            NumPlan::Cond(c, a, b) => match c.eval_row(p, as_of, row) {
                Some(true) => a.eval_row(p, as_of, row),
                Some(false) => b.eval_row(p, as_of, row),
                None => f64::NAN,
            },
        }
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
                (!x.is_nan() && !y.is_nan()).then(|| cmp(*op, x, y))
            }
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
fn put(t: &mut Mask, f: &mut Mask, i: usize, v: Option<bool>) {
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

fn cmp(op: BinOp, x: f64, y: f64) -> bool {
    match op {
        BinOp::Eq => x == y,
        BinOp::Ne => x != y,
        BinOp::Lt => x < y,
        BinOp::Le => x <= y,
        BinOp::Gt => x > y,
        _ => x >= y,
    }
}

/// Compares a column slice with a constant, 64 rows per word. A NaN (unknown) compares false
/// every way, so each outcome is one comparison: `x >= c` holds, `x < c` fails. (`x < c || x > c`
/// is not `x != c`: the latter is true for NaN.)
#[allow(clippy::double_comparisons)]
fn cmp_const(op: BinOp, xs: &[f64], c: f64, t: &mut Mask, f: &mut Mask) {
    if c.is_nan() {
        return;
    }
    #[inline(always)]
    fn bits(xs: &[f64], t: &mut Mask, f: &mut Mask, holds: impl Fn(f64) -> bool, fails: impl Fn(f64) -> bool) {
        for (w, chunk) in xs.chunks(64).enumerate() {
            let (mut tb, mut fb) = (0u64, 0u64);
            for (b, &x) in chunk.iter().enumerate() {
                tb |= u64::from(holds(x)) << b;
                fb |= u64::from(fails(x)) << b;
            }
            t[w] = tb;
            f[w] = fb;
        }
    }
    match op {
        BinOp::Ge => bits(xs, t, f, |x| x >= c, |x| x < c),
        BinOp::Gt => bits(xs, t, f, |x| x > c, |x| x <= c),
        BinOp::Le => bits(xs, t, f, |x| x <= c, |x| x > c),
        BinOp::Lt => bits(xs, t, f, |x| x < c, |x| x >= c),
        BinOp::Eq => bits(xs, t, f, |x| x == c, |x| x < c || x > c),
        _ => bits(xs, t, f, |x| x < c || x > c, |x| x == c),
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
            BoolPlan::Cmp(op, NumPlan::Col(s), NumPlan::Const(c)) => {
                cmp_const(*op, &cx.p.num[*s][start..start + n], *c, t, f)
            }
            BoolPlan::Cmp(op, NumPlan::Const(c), NumPlan::Col(s)) => {
                cmp_const(op.flipped(), &cx.p.num[*s][start..start + n], *c, t, f)
            }
            BoolPlan::Cmp(op, a, b) => {
                let mut x = cx.take();
                let mut y = cx.take();
                a.eval(cx, &mut x);
                b.eval(cx, &mut y);
                for i in 0..n {
                    let known = !x[i].is_nan() && !y[i].is_nan();
                    put(t, f, i, known.then(|| cmp(*op, x[i], y[i])));
                }
                cx.give(x);
                cx.give(y);
            }
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
            if let Some(s) = num_slot(f) {
                !p.num[s][row].is_nan()
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
