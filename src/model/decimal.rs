//! Exact decimals for rules: an `i128` mantissa and a scale (decimal places). Sums, differences,
//! comparisons, `min`, `max` and `round` / `floor` / `ceil` are exact; a product keeps every
//! decimal up to [`MAX_SCALE`] (rounded half away from zero beyond it); a quotient is rounded half
//! away from zero to [`DIV_SCALE`] places. A result too large for the mantissa is `None` — the
//! rules' unknown. Money in 万元 is a decimal of scale 6 whose mantissa is fen.

use std::cmp::Ordering;
use std::fmt;

/// Decimal places a product keeps; more are rounded half away from zero.
pub const MAX_SCALE: u8 = 18;
/// Decimal places of a quotient, rounded half away from zero.
pub const DIV_SCALE: u8 = 12;
/// Decimal places of money in 万元: the mantissa is fen.
pub const FEN_SCALE: u8 = 6;

const fn powers() -> [i128; 39] {
    let mut p = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
}
/// `10^k` for `k` in `0..=38`.
pub const POW10: [i128; 39] = powers();

fn pow10(k: u32) -> Option<i128> {
    POW10.get(k as usize).copied()
}

/// A decimal number `m / 10^s`.
#[derive(Debug, Clone, Copy)]
pub struct Dec {
    pub m: i128,
    pub s: u8,
}

/// How to drop decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Half away from zero: 2.5 → 3, −2.5 → −3 (what "half up" means for money).
    HalfUp,
    Floor,
    Ceil,
}

/// `n / d` rounded by `mode`; `d != 0`.
#[inline]
pub fn div_round(n: i128, d: i128, mode: Rounding) -> i128 {
    let (q, r) = (n / d, n % d);
    if r == 0 {
        return q;
    }
    let positive = (r < 0) == (d < 0);
    match mode {
        Rounding::HalfUp => {
            let (r, d) = (r.unsigned_abs(), d.unsigned_abs());
            if r >= d - r { if positive { q + 1 } else { q - 1 } } else { q }
        }
        Rounding::Floor => q - i128::from(!positive),
        Rounding::Ceil => q + i128::from(positive),
    }
}

/// `m / 10^k` rounded by `mode`: the constant divisors of the common cases let the compiler
/// divide by multiplying when the mantissa fits in 64 bits.
#[inline]
pub fn div_pow10(m: i128, k: u32, mode: Rounding) -> i128 {
    #[inline(always)]
    fn small<const D: i64>(m: i64, mode: Rounding) -> i128 {
        let (q, r) = (m / D, m % D);
        let q = i128::from(q);
        if r == 0 {
            return q;
        }
        match mode {
            Rounding::HalfUp if r.unsigned_abs() >= (D as u64) - r.unsigned_abs() => q + i128::from(r.signum()),
            Rounding::HalfUp => q,
            Rounding::Floor => q - i128::from(r < 0),
            Rounding::Ceil => q + i128::from(r > 0),
        }
    }
    if k == 0 {
        return m;
    }
    if let Ok(x) = i64::try_from(m) {
        match k {
            1 => return small::<10>(x, mode),
            2 => return small::<100>(x, mode),
            3 => return small::<1_000>(x, mode),
            4 => return small::<10_000>(x, mode),
            5 => return small::<100_000>(x, mode),
            6 => return small::<1_000_000>(x, mode),
            7 => return small::<10_000_000>(x, mode),
            8 => return small::<100_000_000>(x, mode),
            9 => return small::<1_000_000_000>(x, mode),
            12 => return small::<1_000_000_000_000>(x, mode),
            _ => {}
        }
    }
    match pow10(k) {
        Some(d) => div_round(m, d, mode),
        // 10^39 exceeds twice every mantissa: the quotient is a fraction under a half.
        None => match mode {
            Rounding::HalfUp => 0,
            Rounding::Floor => -i128::from(m < 0),
            Rounding::Ceil => i128::from(m > 0),
        },
    }
}

/// `x * y` into 128 bits: one multiplication when both fit in 64 bits.
#[inline]
pub fn mul_wide(x: i128, y: i128) -> Option<i128> {
    match (i64::try_from(x), i64::try_from(y)) {
        (Ok(a), Ok(b)) => Some(i128::from(a) * i128::from(b)),
        _ => x.checked_mul(y),
    }
}

/// `x * y / 10^k` rounded half away from zero, exact through a 256-bit product when the
/// product overflows 128 bits before it is cut back (a 12-place quotient times a square of
/// money, at scale 24 cut to 18); `None` when the result does not fit.
pub fn mul_shrink(x: i128, y: i128, k: u32) -> Option<i128> {
    if let Some(p) = mul_wide(x, y) {
        return Some(div_pow10(p, k, Rounding::HalfUp));
    }
    if k == 0 {
        return None;
    }
    let (a, b) = (x.unsigned_abs(), y.unsigned_abs());
    let (a, b) = ([a as u64, (a >> 64) as u64], [b as u64, (b >> 64) as u64]);
    // The magnitude of the product in four 64-bit limbs, least significant first.
    let mut p = [0u64; 4];
    for i in 0..2 {
        let mut carry = 0u128;
        for j in 0..2 {
            let t = u128::from(a[i]) * u128::from(b[j]) + u128::from(p[i + j]) + carry;
            p[i + j] = t as u64;
            carry = t >> 64;
        }
        p[i + 2] = carry as u64;
    }
    // Divide by 10^(k-1) (19 digits at a time), then by 10: that last digit rounds.
    let div = |p: &mut [u64; 4], d: u64| -> u64 {
        let mut r = 0u128;
        for limb in p.iter_mut().rev() {
            let cur = (r << 64) | u128::from(*limb);
            *limb = (cur / u128::from(d)) as u64;
            r = cur % u128::from(d);
        }
        r as u64
    };
    let mut left = k - 1;
    while left > 0 {
        let step = left.min(19);
        div(&mut p, 10u64.pow(step));
        left -= step;
    }
    let digit = div(&mut p, 10);
    if p[2] != 0 || p[3] != 0 {
        return None;
    }
    let q = (u128::from(p[1]) << 64 | u128::from(p[0])).checked_add(u128::from(digit >= 5))?;
    let q = i128::try_from(q).ok()?;
    Some(if (x < 0) != (y < 0) { -q } else { q })
}

/// `m` at scale `from` expressed at scale `to` (`to >= from`), or `None` on overflow.
#[inline]
pub fn upscale(m: i128, from: u8, to: u8) -> Option<i128> {
    if to == from { Some(m) } else { m.checked_mul(pow10(u32::from(to - from))?) }
}

/// Compares `x / 10^sx` with `y / 10^sy` exactly.
#[inline]
pub fn cmp_scaled(x: i128, sx: u8, y: i128, sy: u8) -> Ordering {
    if sx == sy {
        return x.cmp(&y);
    }
    let s = sx.max(sy);
    match (upscale(x, sx, s), upscale(y, sy, s)) {
        (Some(a), Some(b)) => a.cmp(&b),
        // The one that overflowed is larger in magnitude than any value at the other's scale.
        (None, _) => {
            if x < 0 {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (_, None) => {
            if y < 0 {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

impl Dec {
    pub const ZERO: Dec = Dec { m: 0, s: 0 };

    pub fn new(m: i128, s: u8) -> Dec {
        Dec { m, s }
    }

    pub fn int(i: i64) -> Dec {
        Dec { m: i128::from(i), s: 0 }
    }

    /// Parses a plain decimal text (`-12.034`); more than [`MAX_SCALE`] places are rounded half
    /// away from zero.
    pub fn parse(text: &str) -> Option<Dec> {
        let t = text.trim();
        let (neg, body) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() && frac.is_empty() || !(int.bytes().chain(frac.bytes())).all(|c| c.is_ascii_digit()) {
            return None;
        }
        let frac = frac.trim_end_matches('0');
        let mut m: i128 = 0;
        for c in int.bytes().chain(frac.bytes()) {
            m = m.checked_mul(10)?.checked_add(i128::from(c - b'0'))?;
        }
        let s = u8::try_from(frac.len()).ok()?;
        let d = Dec { m: if neg { -m } else { m }, s };
        if s > MAX_SCALE { d.rescale(MAX_SCALE) } else { Some(d) }
    }

    /// The decimal a float was written as: its shortest text that reads back to the same float
    /// (`0.005` is 0.005, not 0.005000000000000000104…). Not finite: `None`.
    pub fn from_f64(v: f64) -> Option<Dec> {
        if !v.is_finite() {
            return None;
        }
        Dec::parse(&format!("{v}"))
    }

    /// The value at scale `s`: exact when growing, rounded half away from zero when shrinking.
    pub fn rescale(self, s: u8) -> Option<Dec> {
        self.rescale_by(s, Rounding::HalfUp)
    }

    pub fn rescale_by(self, s: u8, mode: Rounding) -> Option<Dec> {
        if s >= self.s {
            Some(Dec { m: upscale(self.m, self.s, s)?, s })
        } else {
            Some(Dec { m: div_pow10(self.m, u32::from(self.s - s), mode), s })
        }
    }

    pub fn checked_add(self, o: Dec) -> Option<Dec> {
        let s = self.s.max(o.s);
        Some(Dec { m: upscale(self.m, self.s, s)?.checked_add(upscale(o.m, o.s, s)?)?, s })
    }

    pub fn checked_sub(self, o: Dec) -> Option<Dec> {
        self.checked_add(o.checked_neg()?)
    }

    pub fn checked_mul(self, o: Dec) -> Option<Dec> {
        let s = self.s.saturating_add(o.s);
        if s > MAX_SCALE {
            Some(Dec { m: mul_shrink(self.m, o.m, u32::from(s - MAX_SCALE))?, s: MAX_SCALE })
        } else {
            Some(Dec { m: mul_wide(self.m, o.m)?, s })
        }
    }

    /// The quotient rounded half away from zero to [`DIV_SCALE`] places; `None` for `/ 0`.
    pub fn checked_div(self, o: Dec) -> Option<Dec> {
        if o.m == 0 {
            return None;
        }
        let e = i32::from(DIV_SCALE) + i32::from(o.s) - i32::from(self.s);
        let (n, d) = if e >= 0 {
            (self.m.checked_mul(pow10(e.unsigned_abs())?)?, o.m)
        } else {
            (self.m, o.m.checked_mul(pow10(e.unsigned_abs())?)?)
        };
        Some(Dec { m: div_round(n, d, Rounding::HalfUp), s: DIV_SCALE })
    }

    pub fn checked_neg(self) -> Option<Dec> {
        Some(Dec { m: self.m.checked_neg()?, s: self.s })
    }

    pub fn checked_abs(self) -> Option<Dec> {
        Some(Dec { m: self.m.checked_abs()?, s: self.s })
    }

    /// To a whole number by `mode` (`round` is half away from zero).
    pub fn to_int(self, mode: Rounding) -> Dec {
        Dec { m: div_pow10(self.m, u32::from(self.s), mode), s: 0 }
    }

    pub fn min(self, o: Dec) -> Dec {
        if o < self { o } else { self }
    }

    pub fn max(self, o: Dec) -> Dec {
        if o > self { o } else { self }
    }

    /// The amount in fen, rounded half up once; `None` when it does not fit.
    pub fn to_fen(self) -> Option<i64> {
        i64::try_from(self.rescale(FEN_SCALE)?.m).ok()
    }

    /// For display and charts only — never for sums or decisions.
    pub fn to_f64(self) -> f64 {
        format!("{self}").parse().unwrap_or(f64::NAN)
    }
}

impl PartialEq for Dec {
    fn eq(&self, o: &Dec) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}

impl Eq for Dec {}

impl PartialOrd for Dec {
    fn partial_cmp(&self, o: &Dec) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for Dec {
    fn cmp(&self, o: &Dec) -> Ordering {
        cmp_scaled(self.m, self.s, o.m, o.s)
    }
}

impl fmt::Display for Dec {
    /// Exact, trailing zeros trimmed: `7.6073975`, `-0.5`, `20`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.m < 0 { "-" } else { "" };
        let abs = self.m.unsigned_abs();
        let per = POW10[self.s as usize].unsigned_abs();
        let (int, frac) = (abs / per, abs % per);
        if frac == 0 {
            return write!(f, "{sign}{int}");
        }
        let digits = format!("{frac:0width$}", width = self.s as usize);
        write!(f, "{sign}{int}.{}", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Dec {
        Dec::parse(s).unwrap()
    }

    #[test]
    fn a_product_cut_back_to_eighteen_places_is_exact_past_128_bits() {
        // 21848 / 0.000001 (a 12-place quotient) times 957.067510²: scale 24, 41 digits.
        let q = Dec::new(21_848_000_000_000_000_000_000, 12);
        let p = Dec::new(957_067_510i128 * 957_067_510, 12);
        let d = q.checked_mul(p).unwrap();
        assert_eq!(d.s, MAX_SCALE);
        assert_eq!(d.m, 21_848_000_000 * 957_067_510i128 * 957_067_510 * 1_000_000);
        // Half away from zero at the cut, both signs; small and large agree.
        for (x, y) in [(15i128, 1i128), (-15, 1), (25, 1), (14, 1), (-14, 1)] {
            let big = 10i128.pow(30);
            assert_eq!(mul_shrink(x * big, y * big, 61), Some(div_pow10(x, 1, Rounding::HalfUp)), "{x}");
            assert_eq!(mul_shrink(x, y, 1), Some(div_pow10(x, 1, Rounding::HalfUp)));
        }
        assert_eq!(mul_shrink(i128::MAX, i128::MAX, 1), None, "too large after the cut");
        assert_eq!(mul_shrink(i128::MAX, i128::MAX, 0), None);
        assert_eq!(mul_shrink(i128::MAX, 10, 1), Some(i128::MAX));
        assert_eq!(mul_shrink(i128::MIN + 1, 100, 2), Some(i128::MIN + 1));
    }

    #[test]
    fn the_issue_example_is_exact() {
        let amount = d("1521.4795").checked_mul(Dec::from_f64(0.005).unwrap()).unwrap().min(Dec::int(20));
        assert_eq!(amount.to_string(), "7.6073975");
        assert_eq!(amount.to_fen(), Some(7_607_398), "half a fen rounds up");
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(d("0.0000005").to_fen(), Some(1));
        assert_eq!(d("0.00000049999").to_fen(), Some(0));
        assert_eq!(d("-0.0000005").to_fen(), Some(-1));
        assert_eq!(d("2.5").to_int(Rounding::HalfUp), Dec::int(3));
        assert_eq!(d("-2.5").to_int(Rounding::HalfUp), Dec::int(-3));
        assert_eq!(d("-2.5").to_int(Rounding::Floor), Dec::int(-3));
        assert_eq!(d("-2.5").to_int(Rounding::Ceil), Dec::int(-2));
        assert_eq!(d("2.1").to_int(Rounding::Ceil), Dec::int(3));
        for (m, k) in [(12_345_678_901_234_567_890i128, 7u32), (-15, 1), (25, 1), (-999_999_999_999_999, 12)] {
            for mode in [Rounding::HalfUp, Rounding::Floor, Rounding::Ceil] {
                assert_eq!(div_pow10(m, k, mode), div_round(m, POW10[k as usize], mode), "{m} {k} {mode:?}");
            }
        }
    }

    #[test]
    fn arithmetic() {
        assert_eq!(d("0.1").checked_add(d("0.2")).unwrap(), d("0.3"));
        assert_eq!(d("1").checked_div(d("3")).unwrap().to_string(), "0.333333333333");
        assert_eq!(d("2").checked_div(d("3")).unwrap().to_string(), "0.666666666667");
        assert!(d("1").checked_div(Dec::ZERO).is_none());
        assert_eq!(d("100.000001").checked_sub(d("100")).unwrap(), d("0.000001"));
        assert!(Dec::new(i128::MAX, 0).checked_add(Dec::int(1)).is_none(), "overflow is unknown");
        assert!(Dec::new(i128::MAX / 2, 0).checked_mul(Dec::int(3)).is_none());
        assert_eq!(Dec::new(i128::MAX, 0).cmp(&Dec::new(1, 30)), Ordering::Greater);
        assert_eq!(Dec::from_f64(1e-7).unwrap().to_string(), "0.0000001");
        assert_eq!(Dec::from_f64(0.1).unwrap(), d("0.1"));
        assert!(Dec::from_f64(f64::NAN).is_none());
        assert_eq!(d("0.0000000000000000015").to_string(), "0.000000000000000002", "rounded to 18 places");
        for bad in ["", ".", "1e5", "1,0", "--1"] {
            assert!(Dec::parse(bad).is_none(), "{bad}");
        }
    }
}
