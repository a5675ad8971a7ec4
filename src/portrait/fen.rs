//! Amounts as fen codes: a row's amount in one `i64` (fen after the cap, a negative amount,
//! or unknown), and the rounding of a chunk's exact values to them — once, half up.

use super::compile::NULL;
use super::engine::{Amount, MAX_ROW_FEN, amount_of};
use crate::model::Dec;

/// A row's amount in one `i64`: fen after the cap (≥ 0), a negative amount (< 0), or
/// `FEN_UNKNOWN` — what `amount_of` says, without the enum.
pub const FEN_UNKNOWN: i64 = i64::MIN;

/// The fen code of an amount.
pub fn code_of(a: Amount) -> i64 {
    match a {
        Amount::Fen(f) | Amount::Negative(f) => f,
        Amount::Unknown => FEN_UNKNOWN,
    }
}

/// The amount a fen code stands for.
pub fn amount_from_code(v: i64) -> Amount {
    match v {
        FEN_UNKNOWN => Amount::Unknown,
        v if v < 0 => Amount::Negative(v),
        v => Amount::Fen(v),
    }
}

/// The fen code of a plan's value `v` at `scale` (`NULL` unknown): `amount_of`, as a code.
#[inline]
pub fn fen_code(v: i128, scale: u8, cap_fen: Option<i64>) -> i64 {
    code_of(amount_of((v != NULL).then(|| Dec::new(v, scale)), cap_fen))
}

/// The fen codes of a chunk's values at `scale` (`fen_code` of each): where a value fits in
/// 64 bits and the scale is at most 6 above the fen's, rounded half up by a constant divisor
/// (a multiplication), the rest through `fen_code`.
pub fn fen_codes(vals: &[i128], scale: u8, cap_fen: Option<i64>, out: &mut [i64]) {
    /// Without branches on the data: a value that does not fit in 64 bits (other than `NULL`)
    /// is marked and left to `fen_code` afterwards.
    #[inline(always)]
    fn by<const D: i64>(vals: &[i128], scale: u8, cap_fen: Option<i64>, out: &mut [i64]) {
        let cap = cap_fen.unwrap_or(i64::MAX);
        let mut wide = false;
        for (o, &v) in out.iter_mut().zip(vals) {
            let x = v as i64;
            let fits = i128::from(x) == v;
            let (q, r) = (x / D, x % D);
            // Half away from zero, as `div_pow10` rounds: |r| ≥ D − |r|.
            let q = q + r.signum() * i64::from(r.unsigned_abs() >= D.unsigned_abs() - r.unsigned_abs());
            let code = if q.unsigned_abs() > MAX_ROW_FEN as u64 {
                FEN_UNKNOWN
            } else if q < 0 {
                q
            } else {
                q.min(cap)
            };
            wide |= !fits & (v != NULL);
            *o = if fits { code } else { FEN_UNKNOWN };
        }
        if wide {
            for (o, &v) in out.iter_mut().zip(vals) {
                if i64::try_from(v).is_err() {
                    *o = fen_code(v, scale, cap_fen);
                }
            }
        }
    }
    match scale.checked_sub(crate::model::decimal::FEN_SCALE) {
        Some(0) => by::<1>(vals, scale, cap_fen, out),
        Some(1) => by::<10>(vals, scale, cap_fen, out),
        Some(2) => by::<100>(vals, scale, cap_fen, out),
        Some(3) => by::<1_000>(vals, scale, cap_fen, out),
        Some(4) => by::<10_000>(vals, scale, cap_fen, out),
        Some(5) => by::<100_000>(vals, scale, cap_fen, out),
        Some(6) => by::<1_000_000>(vals, scale, cap_fen, out),
        _ => {
            for (o, &v) in out.iter_mut().zip(vals) {
                *o = fen_code(v, scale, cap_fen);
            }
        }
    }
}

/// [`fen_codes`] of 64-bit mantissas (`NULL_NUM` unknown), as `eval64` writes them.
pub fn fen_codes64(vals: &[i64], scale: u8, cap_fen: Option<i64>, out: &mut [i64]) {
    /// Rounded on the magnitude, half away from zero as `div_pow10` rounds: an unsigned
    /// division by a constant is a multiplication and a shift, with no remainder to fix up.
    #[inline(always)]
    fn by<const D: u64>(vals: &[i64], cap_fen: Option<i64>, out: &mut [i64]) {
        let cap = cap_fen.unwrap_or(i64::MAX);
        for (o, &x) in out.iter_mut().zip(vals) {
            let q = (x.unsigned_abs() + D / 2) / D;
            let signed = if x < 0 { (q as i64).wrapping_neg() } else { (q as i64).min(cap) };
            *o = if x == super::NULL_NUM || q > MAX_ROW_FEN as u64 { FEN_UNKNOWN } else { signed };
        }
    }
    match scale.checked_sub(crate::model::decimal::FEN_SCALE) {
        Some(0) => by::<1>(vals, cap_fen, out),
        Some(1) => by::<10>(vals, cap_fen, out),
        Some(2) => by::<100>(vals, cap_fen, out),
        Some(3) => by::<1_000>(vals, cap_fen, out),
        Some(4) => by::<10_000>(vals, cap_fen, out),
        Some(5) => by::<100_000>(vals, cap_fen, out),
        Some(6) => by::<1_000_000>(vals, cap_fen, out),
        _ => {
            for (o, &x) in out.iter_mut().zip(vals) {
                let v = if x == super::NULL_NUM { NULL } else { i128::from(x) };
                *o = fen_code(v, scale, cap_fen);
            }
        }
    }
}
