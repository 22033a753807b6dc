//! Exact `DECIMAL` values: a 128-bit mantissa and a scale, `value = mantissa / 10^scale`.
//!
//! Why not a crate: `rust_decimal` holds 28 digits, Flink's `DECIMAL` holds 38, and an `i128`
//! holds every 38-digit mantissa (`|m| < 10^38 < 2^127`). The operations SQL needs (align
//! scales, multiply, divide with `HALF_UP` rounding, rescale to a column's type, parse and
//! print) are a few checked integer steps; every one returns `None` on overflow instead of
//! wrapping, and the expression layer turns that into an error.
//!
//! Equality is structural: `1.0` (mantissa 10, scale 1) and `1.00` are different values, as
//! they are different rows in a column of one type; they never meet, because a column's values
//! all carry the column's scale. [`Decimal::cmp_value`] compares numerically (SQL `=`, `<`);
//! `Ord` orders by numeric value, then by scale, so it is total and consistent with `Eq`.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::types::MAX_DECIMAL_PRECISION;

/// `10^n` for `n <= 38`.
const POWERS_OF_TEN: [i128; 39] = {
    let mut table = [1i128; 39];
    let mut n = 1;
    while n < 39 {
        table[n] = table[n - 1] * 10;
        n += 1;
    }
    table
};

/// `10^n`, or `None` past `10^38`.
pub(crate) fn pow10(n: u32) -> Option<i128> {
    POWERS_OF_TEN.get(n as usize).copied()
}

/// An exact decimal number. See the module docs for equality and order.
///
/// The mantissa is kept as two 64-bit halves: that keeps the alignment at 8 bytes (an `i128`
/// field would make every `Datum` 48 bytes instead of 32), and every serde format (JSON,
/// MessagePack) carries the halves without 128-bit integer support.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "DecimalParts")]
pub struct Decimal {
    high: i64,
    low: u64,
    scale: u8,
}

/// The serialized form, checked when read.
#[derive(Deserialize)]
struct DecimalParts {
    high: i64,
    low: u64,
    scale: u8,
}

impl TryFrom<DecimalParts> for Decimal {
    type Error = String;
    fn try_from(parts: DecimalParts) -> Result<Self, Self::Error> {
        let mantissa = ((parts.high as i128) << 64) | parts.low as i128;
        Decimal::new(mantissa, parts.scale)
            .ok_or_else(|| format!("decimal out of range: mantissa {mantissa}, scale {}", parts.scale))
    }
}

impl Decimal {
    /// Zero at scale 0.
    pub const ZERO: Decimal = Decimal { high: 0, low: 0, scale: 0 };

    /// Without the range check.
    const fn raw(mantissa: i128, scale: u8) -> Decimal {
        Decimal { high: (mantissa >> 64) as i64, low: mantissa as u64, scale }
    }

    /// `mantissa / 10^scale`, or `None` when the scale is over 38 or the mantissa has more than
    /// 38 digits.
    pub fn new(mantissa: i128, scale: u8) -> Option<Decimal> {
        (scale <= MAX_DECIMAL_PRECISION && mantissa.unsigned_abs() < POWERS_OF_TEN[38] as u128)
            .then_some(Decimal::raw(mantissa, scale))
    }

    /// The integer `mantissa` with `value = mantissa / 10^scale`.
    pub fn mantissa(&self) -> i128 {
        ((self.high as i128) << 64) | self.low as i128
    }

    /// Digits after the decimal point.
    pub fn scale(&self) -> u8 {
        self.scale
    }

    /// An integer as a decimal of scale 0.
    pub fn from_i64(value: i64) -> Decimal {
        Decimal::raw(value as i128, 0)
    }

    /// Parses `[+-]digits[.digits]` (also `.5` and `5.`) exactly, keeping the written scale.
    /// Exponents are not accepted: `1e3` is a `DOUBLE` literal in SQL.
    pub fn parse(text: &str) -> Option<Decimal> {
        let text = text.trim();
        let (negative, digits) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (integer, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if integer.is_empty() && fraction.is_empty() {
            return None;
        }
        let mut mantissa: i128 = 0;
        for byte in integer.bytes().chain(fraction.bytes()) {
            if !byte.is_ascii_digit() {
                return None;
            }
            mantissa = mantissa.checked_mul(10)?.checked_add((byte - b'0') as i128)?;
        }
        let scale = u8::try_from(fraction.len()).ok()?;
        Decimal::new(if negative { -mantissa } else { mantissa }, scale)
    }

    /// The nearest decimal of the given scale to a finite double (`HALF_UP` on its shortest
    /// decimal representation, as Java's `BigDecimal.valueOf(double)` then `setScale`).
    pub fn from_f64(value: f64, scale: u8) -> Option<Decimal> {
        if !value.is_finite() {
            return None;
        }
        // `{:e}` is the shortest representation that reads back as the same double.
        let text = format!("{value:e}");
        let (mantissa_text, exponent) = text.split_once('e')?;
        let exponent: i32 = exponent.parse().ok()?;
        let digits = Decimal::parse(mantissa_text)?;
        // digits * 10^exponent, at `scale`.
        let shift = scale as i32 + exponent - digits.scale as i32;
        let mantissa = if shift >= 0 {
            digits.mantissa().checked_mul(pow10(shift as u32)?)?
        } else {
            divide_half_up(digits.mantissa(), pow10((-shift) as u32).unwrap_or(i128::MAX))?
        };
        Decimal::new(mantissa, scale)
    }

    /// The nearest double.
    pub fn to_f64(&self) -> f64 {
        // Parsing the exact text is correctly rounded; a division would round twice.
        self.to_string().parse().unwrap_or(f64::NAN)
    }

    /// The same value at another scale, rounding `HALF_UP` (away from zero on a tie, as Flink's
    /// `DecimalData` and Java's `RoundingMode.HALF_UP`) when digits are dropped; `None` on
    /// overflow.
    pub fn rescale(&self, scale: u8) -> Option<Decimal> {
        let mantissa = match scale.cmp(&self.scale) {
            Ordering::Equal => self.mantissa(),
            Ordering::Greater => self.mantissa().checked_mul(pow10((scale - self.scale) as u32)?)?,
            Ordering::Less => divide_half_up(self.mantissa(), pow10((self.scale - scale) as u32)?)?,
        };
        Decimal::new(mantissa, scale)
    }

    /// The same value at `scale`, checked to have at most `precision` digits: the conversion
    /// to `DECIMAL(precision, scale)`.
    pub fn fit(&self, precision: u8, scale: u8) -> Option<Decimal> {
        let value = self.rescale(scale)?;
        (value.mantissa().unsigned_abs() < pow10(precision as u32)? as u128).then_some(value)
    }

    /// Truncates toward zero to an integer, `None` when it does not fit an `i64`.
    pub fn trunc_to_i64(&self) -> Option<i64> {
        i64::try_from(self.mantissa() / pow10(self.scale as u32)?).ok()
    }

    /// Rounds `HALF_UP` to an integer, `None` when it does not fit an `i64`.
    pub fn round_to_i64(&self) -> Option<i64> {
        i64::try_from(self.rescale(0)?.mantissa()).ok()
    }

    /// Numeric comparison, ignoring the scale (`1.0 = 1.00`).
    pub fn cmp_value(&self, other: &Decimal) -> Ordering {
        match self.scale.cmp(&other.scale) {
            Ordering::Equal => self.mantissa().cmp(&other.mantissa()),
            Ordering::Less => {
                match self.mantissa().checked_mul(POWERS_OF_TEN[(other.scale - self.scale) as usize]) {
                    Some(aligned) => aligned.cmp(&other.mantissa()),
                    // Out of i128 range: larger in magnitude than any mantissa, so the sign decides.
                    None => 0.cmp(&self.mantissa()).reverse(),
                }
            }
            Ordering::Greater => other.cmp_value(self).reverse(),
        }
    }

    /// Both operands at the larger of the two scales.
    fn aligned(&self, other: &Decimal) -> Option<(i128, i128, u8)> {
        let scale = self.scale.max(other.scale);
        Some((self.rescale(scale)?.mantissa(), other.rescale(scale)?.mantissa(), scale))
    }

    /// Exact sum at the larger scale.
    pub fn checked_add(&self, other: &Decimal) -> Option<Decimal> {
        let (left, right, scale) = self.aligned(other)?;
        Decimal::new(left.checked_add(right)?, scale)
    }

    /// Exact difference at the larger scale.
    pub fn checked_sub(&self, other: &Decimal) -> Option<Decimal> {
        let (left, right, scale) = self.aligned(other)?;
        Decimal::new(left.checked_sub(right)?, scale)
    }

    /// Exact product at the sum of the scales (callers then [`Decimal::fit`] it to the result
    /// type). `None` if the exact product has more than 38 digits.
    pub fn checked_mul(&self, other: &Decimal) -> Option<Decimal> {
        let scale = self.scale.checked_add(other.scale)?;
        let mantissa = self.mantissa().checked_mul(other.mantissa())?;
        if scale <= MAX_DECIMAL_PRECISION {
            return Decimal::new(mantissa, scale);
        }
        // A scale over 38: round the excess digits away first.
        let excess = (scale - MAX_DECIMAL_PRECISION) as u32;
        Decimal::new(divide_half_up(mantissa, pow10(excess)?)?, MAX_DECIMAL_PRECISION)
    }

    /// The quotient rounded `HALF_UP` to `scale` digits, `None` on a zero divisor or overflow.
    pub fn checked_div(&self, other: &Decimal, scale: u8) -> Option<Decimal> {
        if other.mantissa() == 0 {
            return None;
        }
        // (a / 10^sa) / (b / 10^sb) * 10^s = a * 10^(s + sb - sa) / b
        let shift = scale as i32 + other.scale as i32 - self.scale as i32;
        let (numerator, denominator) = if shift >= 0 {
            (self.mantissa().checked_mul(pow10(shift as u32)?)?, other.mantissa())
        } else {
            (self.mantissa(), other.mantissa().checked_mul(pow10((-shift) as u32)?)?)
        };
        Decimal::new(divide_half_up(numerator, denominator)?, scale)
    }

    /// The remainder of truncated division (sign of the dividend), at the larger scale.
    pub fn checked_rem(&self, other: &Decimal) -> Option<Decimal> {
        let (left, right, scale) = self.aligned(other)?;
        if right == 0 {
            return None;
        }
        Decimal::new(left.checked_rem(right)?, scale)
    }

    /// The negated value.
    pub fn neg(&self) -> Decimal {
        // Cannot overflow: |mantissa| < 10^38.
        Decimal::raw(-self.mantissa(), self.scale)
    }

    /// The absolute value.
    pub fn abs(&self) -> Decimal {
        Decimal::raw(self.mantissa().abs(), self.scale)
    }

    /// -1, 0 or 1.
    pub fn signum(&self) -> i32 {
        self.mantissa().signum() as i32
    }

    /// Rounds to `digits` after the point, `HALF_UP`, keeping the scale (`ROUND(x, d)`);
    /// negative `digits` round left of the point.
    pub fn round_to(&self, digits: i32, truncate: bool) -> Option<Decimal> {
        let dropped = self.scale as i32 - digits;
        if dropped <= 0 {
            return Some(*self);
        }
        let Some(unit) = pow10(dropped as u32) else {
            return Some(Decimal::raw(0, self.scale));
        };
        let kept = if truncate { self.mantissa() / unit } else { divide_half_up(self.mantissa(), unit)? };
        Decimal::new(kept.checked_mul(unit)?, self.scale)
    }

    /// `FLOOR` (toward negative infinity) or, with `ceil`, `CEIL`, at scale 0.
    pub fn floor_or_ceil(&self, ceil: bool) -> Option<Decimal> {
        let unit = pow10(self.scale as u32)?;
        let quotient = self.mantissa().div_euclid(unit);
        let remainder = self.mantissa().rem_euclid(unit);
        let mantissa = if ceil && remainder != 0 { quotient + 1 } else { quotient };
        Decimal::new(mantissa, 0)
    }
}

/// `numerator / denominator` rounded half away from zero; `None` if the denominator is zero.
fn divide_half_up(numerator: i128, denominator: i128) -> Option<i128> {
    let quotient = numerator.checked_div(denominator)?;
    let remainder = numerator.checked_rem(denominator)?;
    // |remainder| * 2 >= |denominator|, without overflow: compare with the rest.
    let rest = denominator.unsigned_abs() - remainder.unsigned_abs();
    if remainder != 0 && remainder.unsigned_abs() >= rest {
        let away = if (numerator < 0) == (denominator < 0) { 1 } else { -1 };
        quotient.checked_add(away)
    } else {
        Some(quotient)
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    /// By numeric value, then by scale: total, and `Equal` only for identical values.
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_value(other).then(self.scale.cmp(&other.scale))
    }
}

impl fmt::Display for Decimal {
    /// Plain notation with exactly `scale` fraction digits: `-0.50`, `12`, `0.001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa().unsigned_abs().to_string();
        let scale = self.scale as usize;
        let sign = if self.mantissa() < 0 { "-" } else { "" };
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (integer, fraction) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{integer}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    #[test]
    fn parse_and_print_round_trip() {
        for text in ["0", "1.50", "-0.05", "12345678901234567890.123456789012345678", "0.001"] {
            assert_eq!(d(text).to_string(), text);
        }
        assert_eq!(d(".5").to_string(), "0.5");
        assert_eq!(d("5.").to_string(), "5");
        assert!(Decimal::parse("1e3").is_none());
        assert!(Decimal::parse("-").is_none());
        assert!(Decimal::parse("123456789012345678901234567890123456789").is_none(), "39 digits");
    }

    #[test]
    fn exact_sum() {
        assert_eq!(d("0.1").checked_add(&d("0.2")).unwrap(), d("0.3"));
        assert_eq!(d("1.25").checked_sub(&d("0.5")).unwrap().to_string(), "0.75");
    }

    #[test]
    fn half_up_rounding() {
        assert_eq!(d("2.5").rescale(0).unwrap(), d("3"));
        assert_eq!(d("-2.5").rescale(0).unwrap(), d("-3"));
        assert_eq!(d("2.449").rescale(1).unwrap(), d("2.4"));
        assert_eq!(d("1").checked_div(&d("3"), 6).unwrap().to_string(), "0.333333");
        assert_eq!(d("2").checked_div(&d("3"), 6).unwrap().to_string(), "0.666667");
        assert_eq!(d("-2").checked_div(&d("3"), 2).unwrap().to_string(), "-0.67");
        assert!(d("1").checked_div(&d("0.00"), 2).is_none());
    }

    #[test]
    fn value_comparison_ignores_scale_but_order_does_not() {
        assert_eq!(d("1.0").cmp_value(&d("1.00")), Ordering::Equal);
        assert_ne!(d("1.0"), d("1.00"));
        assert_eq!(d("1.0").cmp(&d("1.00")), Ordering::Less);
        assert_eq!(d("99999999999999999999999999999999999999").cmp_value(&d("0.5")), Ordering::Greater);
        assert_eq!(d("-99999999999999999999999999999999999999").cmp_value(&d("0.5")), Ordering::Less);
    }

    #[test]
    fn from_and_to_double() {
        assert_eq!(Decimal::from_f64(0.1, 2).unwrap(), d("0.10"));
        assert_eq!(Decimal::from_f64(2.675, 2).unwrap(), d("2.68"), "shortest text, then HALF_UP");
        assert_eq!(Decimal::from_f64(1e20, 0).unwrap().to_string(), "100000000000000000000");
        assert!(Decimal::from_f64(f64::NAN, 0).is_none());
        assert_eq!(d("0.3").to_f64(), 0.3);
    }

    #[test]
    fn fit_checks_precision() {
        assert_eq!(d("123.456").fit(5, 2).unwrap(), d("123.46"));
        assert!(d("1234.5").fit(5, 2).is_none());
    }

    #[test]
    fn serde_round_trip() {
        let value = d("-12345678901234567890.123456789012345678");
        let json = serde_json::to_string(&value).unwrap();
        assert_eq!(serde_json::from_str::<Decimal>(&json).unwrap(), value);
        assert!(serde_json::from_str::<Decimal>(r#"{"high":0,"low":1,"scale":39}"#).is_err());
    }
}
