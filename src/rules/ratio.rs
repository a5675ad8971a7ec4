//! The derived ratios `rd_ratio` (研发费用 ÷ 营业收入 × 100) and `revenue_growth` ((营业收入 −
//! 上年度营业收入) ÷ 上年度营业收入 × 100), the one definition the row interpreter and the
//! columnar engine share:
//!
//! - compared with a number literal (`rd_ratio >= 3`, `2.5 < revenue_growth`, `rd_ratio in [3,
//!   4]`), a ratio is decided **exactly** on the money it is computed from: `100·n ⋛ c·d` in
//!   integers, the sides swapped when the denominator is negative;
//! - anywhere else (arithmetic, compared with another field) its value is the quotient
//!   `n × 100 / d` rounded half up to [`DIV_SCALE`] places, as every division of the language;
//! - unknown when a part is unknown or the denominator is 0.

use std::cmp::Ordering;

use super::ast::{BinOp, Expr, Kind};
use super::eval::Row;
use crate::model::decimal::{DIV_SCALE, Rounding, div_round, upscale};
use crate::model::{Dec, Field};

/// What a derived ratio is computed from: `(num − minus) × 100 / den`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    pub num: Field,
    pub minus: Option<Field>,
    pub den: Field,
}

/// The parts of a derived ratio field; `None` for any other field.
pub fn parts(f: Field) -> Option<Parts> {
    match f {
        Field::RdRatio => Some(Parts { num: Field::RdExpense, minus: None, den: Field::Revenue }),
        Field::RevenueGrowth => {
            Some(Parts { num: Field::Revenue, minus: Some(Field::RevenuePrev), den: Field::RevenuePrev })
        }
        _ => None,
    }
}

/// The numerator and denominator of a ratio as mantissas at one scale; `None` when a part is
/// unknown or the denominator is 0.
pub fn fractions(p: Parts, row: &dyn Row) -> Option<(i128, i128)> {
    let n = row.num(p.num)?;
    let n = match p.minus {
        Some(m) => n.checked_sub(row.num(m)?)?,
        None => n,
    };
    let d = row.num(p.den)?;
    let s = n.s.max(d.s);
    let (n, d) = (upscale(n.m, n.s, s)?, upscale(d.m, d.s, s)?);
    (d != 0).then_some((n, d))
}

/// `100·n / d` rounded half up to `places`, as a mantissa; `None` when `d` is 0 or on overflow.
pub fn rounded(n: i128, d: i128, places: u8) -> Option<i128> {
    if d == 0 {
        return None;
    }
    let scaled = n.checked_mul(100)?.checked_mul(*crate::model::decimal::POW10.get(usize::from(places))?)?;
    Some(div_round(scaled, d, Rounding::HalfUp))
}

/// The ratio's value in arithmetic: `100·n / d` half up to [`DIV_SCALE`] places.
pub fn quotient(n: i128, d: i128) -> Option<Dec> {
    rounded(n, d, DIV_SCALE).map(|m| Dec::new(m, DIV_SCALE))
}

/// The ratio field's value for a row (`None` unknown); `None` outer when `f` is no ratio.
pub fn value(f: Field, row: &dyn Row) -> Option<Option<Dec>> {
    let p = parts(f)?;
    Some(fractions(p, row).and_then(|(n, d)| quotient(n, d)))
}

/// `100·n / d` against `c`, exactly; `None` when `d` is 0.
pub fn order(n: i128, d: i128, c: Dec) -> Option<Ordering> {
    if d == 0 {
        return None;
    }
    let (n, d) = if d < 0 { (n.checked_neg()?, d.checked_neg()?) } else { (n, d) };
    let n100 = n.checked_mul(100)?;
    let scale = *crate::model::decimal::POW10.get(usize::from(c.s))?;
    match (n100.checked_mul(scale), c.m.checked_mul(d)) {
        (Some(l), Some(r)) => Some(l.cmp(&r)),
        _ => Some(cmp_fractions(n100, d, c.m, scale)),
    }
}

/// `a/b` against `c/e` for `b, e > 0`, exactly and without overflow: whole parts, then the
/// fractional parts' reciprocals (Euclid's steps).
pub fn cmp_fractions(mut a: i128, mut b: i128, mut c: i128, mut e: i128) -> Ordering {
    loop {
        let (q1, r1) = (a.div_euclid(b), a.rem_euclid(b));
        let (q2, r2) = (c.div_euclid(e), c.rem_euclid(e));
        if q1 != q2 {
            return q1.cmp(&q2);
        }
        match (r1 == 0, r2 == 0) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            // r1/b against r2/e is e/r2 against b/r1.
            (false, false) => (a, b, c, e) = (e, r2, b, r1),
        }
    }
}

/// A number literal's exact value (`-3`, `2.5`, `-(0.1)`); `None` for anything else or a
/// literal no decimal holds.
pub fn literal(e: &Expr) -> Option<Dec> {
    match &e.kind {
        Kind::Int(i) => Some(Dec::int(*i)),
        Kind::Double(d) => Dec::from_f64(*d),
        Kind::Neg(inner) => literal(inner)?.checked_neg(),
        _ => None,
    }
}

/// A derived ratio compared with a number literal, decided exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Comparison {
    /// With the ratio on the left.
    pub op: BinOp,
    pub field: Field,
    pub parts: Parts,
    pub literal: Dec,
}

impl Comparison {
    /// `a op b` when one side is a ratio field and the other a number literal.
    pub fn of(op: BinOp, a: &Expr, b: &Expr) -> Option<Comparison> {
        if !op.is_comparison() {
            return None;
        }
        let (f, lit, op) = match (&a.kind, &b.kind) {
            (Kind::Field(f), _) if parts(*f).is_some() => (*f, b, op),
            (_, Kind::Field(f)) if parts(*f).is_some() => (*f, a, op.flipped()),
            _ => return None,
        };
        Some(Comparison { op, field: f, parts: parts(f)?, literal: literal(lit)? })
    }

    /// The outcome for numerator and denominator mantissas at one scale; `None` when `d` is 0.
    pub fn decide(&self, n: i128, d: i128) -> Option<bool> {
        order(n, d, self.literal).map(|o| holds(self.op, o))
    }

    /// The outcome for a row; `None` unknown.
    pub fn decide_row(&self, row: &dyn Row) -> Option<bool> {
        let (n, d) = fractions(self.parts, row)?;
        self.decide(n, d)
    }
}

/// Whether an ordering satisfies a comparison.
pub fn holds(op: BinOp, o: Ordering) -> bool {
    match op {
        BinOp::Eq => o == Ordering::Equal,
        BinOp::Ne => o != Ordering::Equal,
        BinOp::Lt => o == Ordering::Less,
        BinOp::Le => o != Ordering::Greater,
        BinOp::Gt => o == Ordering::Greater,
        _ => o != Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Dec {
        Dec::parse(s).unwrap()
    }

    #[test]
    fn orders_exactly_with_the_denominators_sign() {
        // 2.99999997%: 29,999,997 / 1,000,000,000 × 100.
        assert_eq!(order(29_999_997, 1_000_000_000, d("3")), Some(Ordering::Less));
        assert_eq!(order(3, 100, d("3")), Some(Ordering::Equal));
        assert_eq!(order(-3, -100, d("3")), Some(Ordering::Equal), "−3 / −100 is 3%");
        assert_eq!(order(3, -100, d("-3")), Some(Ordering::Equal));
        assert_eq!(order(4, -100, d("-3")), Some(Ordering::Less), "−4% < −3%");
        assert_eq!(order(2, -100, d("-3")), Some(Ordering::Greater));
        assert_eq!(order(1, 3, d("33.333333333333333333")), Some(Ordering::Greater));
        assert_eq!(order(1, 0, d("3")), None);
        assert_eq!(order(0, 5, d("0")), Some(Ordering::Equal));
    }

    #[test]
    fn fractions_compare_without_overflow() {
        let big = i128::MAX / 3;
        assert_eq!(cmp_fractions(big, big - 1, 1, 1), Ordering::Greater);
        assert_eq!(cmp_fractions(big - 1, big, 1, 1), Ordering::Less);
        assert_eq!(cmp_fractions(-big, 7, -big, 7), Ordering::Equal);
        assert_eq!(cmp_fractions(2 * (big / 2), big / 2, 2, 1), Ordering::Equal);
        // A literal too large for the cross-multiplication still decides.
        let huge = Dec::new(i128::MAX / 10, 0);
        assert_eq!(order(i128::from(i64::MAX), 1, huge), Some(Ordering::Less));
        assert_eq!(order(i128::from(i64::MAX), -1, Dec::new(-(i128::MAX / 10), 0)), Some(Ordering::Greater));
        for (a, b, c, e) in [(7, 3, 9, 4), (-7, 3, -9, 4), (22, 7, 355, 113), (1, 1, 1, 1), (0, 9, -1, 2)] {
            assert_eq!(cmp_fractions(a, b, c, e), (a * e).cmp(&(c * b)), "{a}/{b} vs {c}/{e}");
        }
    }

    #[test]
    fn the_quotient_is_half_up_to_twelve_places() {
        assert_eq!(quotient(1, 3).unwrap().to_string(), "33.333333333333");
        assert_eq!(quotient(2, 3).unwrap().to_string(), "66.666666666667");
        assert_eq!(quotient(-2, 3).unwrap().to_string(), "-66.666666666667");
        assert_eq!(quotient(29_999_997, 1_000_000_000).unwrap().to_string(), "2.9999997");
        assert!(quotient(1, 0).is_none());
        assert_eq!(rounded(29_999_997, 1_000_000_000, 2), Some(300), "3.00 at two places");
    }
}
