//! `CAST`: which conversions exist ([`can_cast`], checked when binding) and what they do to a
//! value ([`cast`]). Semantics follow Flink 1.15+ (non-legacy casts) where it differs from
//! PostgreSQL: a double or decimal cast to an integer truncates toward zero; a string is
//! trimmed before it is parsed; `VARCHAR(n)` truncates to `n` characters. Unlike Flink, a
//! decimal that does not fit its precision is an error, not `NULL`.

use crate::datetime::{self, MILLIS_PER_DAY};
use crate::datum::{Datum, Interval};
use crate::decimal::{pow10, Decimal};
use crate::error::{show, unexpected, EvalError, EvalResult};
use crate::types::SqlType;

/// Whether `CAST(x AS to)` is allowed for an `x` of type `from`.
pub fn can_cast(from: SqlType, to: SqlType) -> bool {
    use SqlType::*;
    match (from, to) {
        (Null, _) => true,
        (_, Varchar { .. }) | (Varchar { .. }, _) => true,
        (Boolean, Boolean) => true,
        (Boolean, _) | (_, Boolean) => from.is_numeric() || to.is_numeric(),
        (f, t) if f.is_numeric() && t.is_numeric() => true,
        (Date | Timestamp { .. }, Date | Timestamp { .. }) => true,
        (Interval(a), Interval(b)) => a == b,
        _ => false,
    }
}

fn invalid(value: &Datum, to: SqlType, reason: impl Into<String>) -> EvalError {
    EvalError::InvalidCast { value: show(value), to, reason: reason.into() }
}

/// Converts `value` (of type `from`) to `to`. `NULL` stays `NULL`.
pub fn cast(value: &Datum, from: SqlType, to: SqlType) -> EvalResult<Datum> {
    if value.is_null() {
        return Ok(Datum::Null);
    }
    match to {
        SqlType::Null => Err(unexpected("cast to NULL", value)),
        SqlType::Boolean => to_boolean(value),
        SqlType::Int => {
            let wide = to_i64(value, to)?;
            i32::try_from(wide).map(Datum::Int).map_err(|_| invalid(value, to, "out of range"))
        }
        SqlType::BigInt => to_i64(value, to).map(Datum::BigInt),
        SqlType::Double => to_f64(value).map(Datum::double),
        SqlType::Decimal { precision, scale } => {
            let exact = to_decimal(value, to, scale)?;
            exact
                .fit(precision, scale)
                .map(Datum::Decimal)
                .ok_or_else(|| invalid(value, to, "too many digits"))
        }
        SqlType::Varchar { max_length } => {
            let mut text = match (value, from) {
                (Datum::Timestamp(millis), SqlType::Timestamp { precision }) => {
                    datetime::format_timestamp(*millis, precision)
                }
                _ => value.to_sql_string().unwrap_or_default(),
            };
            if let Some(max) = max_length {
                if let Some((cut, _)) = text.char_indices().nth(max as usize) {
                    text.truncate(cut);
                }
            }
            Ok(Datum::String(text))
        }
        SqlType::Date => match value {
            Datum::Date(_) => Ok(value.clone()),
            Datum::Timestamp(millis) => days_to_date(millis.div_euclid(MILLIS_PER_DAY), value, to),
            Datum::String(text) => match datetime::parse_date(text) {
                Some(days) => days_to_date(days, value, to),
                None => match datetime::parse_timestamp(text) {
                    Some(millis) => days_to_date(millis.div_euclid(MILLIS_PER_DAY), value, to),
                    None => Err(invalid(value, to, "not a date (YYYY-MM-DD)")),
                },
            },
            _ => Err(unexpected("cast to DATE", value)),
        },
        SqlType::Timestamp { precision } => {
            let millis = match value {
                Datum::Timestamp(millis) => *millis,
                Datum::Date(days) => *days as i64 * MILLIS_PER_DAY,
                Datum::String(text) => datetime::parse_timestamp(text)
                    .ok_or_else(|| invalid(value, to, "not a timestamp (YYYY-MM-DD HH:MM:SS.fff)"))?,
                _ => return Err(unexpected("cast to TIMESTAMP", value)),
            };
            truncate_millis(millis, precision)
                .map(Datum::Timestamp)
                .ok_or_else(|| invalid(value, to, "out of range"))
        }
        SqlType::Interval(_) => match value {
            Datum::Interval(_) => Ok(value.clone()),
            _ => Err(invalid(value, to, "only an interval converts to an interval")),
        },
    }
}

/// Drops fraction digits beyond `precision` (toward negative infinity, so a timestamp's
/// second does not change); `None` below the range of `i64`.
pub(crate) fn truncate_millis(millis: i64, precision: u8) -> Option<i64> {
    let unit = match precision {
        0 => 1000,
        1 => 100,
        2 => 10,
        _ => 1,
    };
    millis.checked_sub(millis.rem_euclid(unit))
}

fn days_to_date(days: i64, value: &Datum, to: SqlType) -> EvalResult<Datum> {
    i32::try_from(days).map(Datum::Date).map_err(|_| invalid(value, to, "out of range"))
}

fn to_boolean(value: &Datum) -> EvalResult<Datum> {
    let to = SqlType::Boolean;
    Ok(Datum::Boolean(match value {
        Datum::Boolean(b) => *b,
        Datum::Int(i) => *i != 0,
        Datum::BigInt(i) => *i != 0,
        Datum::Double(d) => d.get() != 0.0,
        Datum::Decimal(d) => d.signum() != 0,
        // Flink's accepted spellings.
        Datum::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" => true,
            "false" | "f" | "no" | "n" | "0" => false,
            _ => return Err(invalid(value, to, "not a boolean")),
        },
        _ => return Err(unexpected("cast to BOOLEAN", value)),
    }))
}

fn to_i64(value: &Datum, to: SqlType) -> EvalResult<i64> {
    match value {
        Datum::Boolean(b) => Ok(*b as i64),
        Datum::Int(i) => Ok(*i as i64),
        Datum::BigInt(i) => Ok(*i),
        Datum::Double(d) => {
            let truncated = d.get().trunc();
            // `as` saturates; the range check keeps the error instead.
            if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&truncated) {
                Ok(truncated as i64)
            } else {
                Err(invalid(value, to, "out of range"))
            }
        }
        Datum::Decimal(d) => d.trunc_to_i64().ok_or_else(|| invalid(value, to, "out of range")),
        Datum::String(text) => text.trim().parse::<i64>().map_err(|_| invalid(value, to, "not an integer")),
        _ => Err(unexpected("cast to an integer", value)),
    }
}

pub(crate) fn to_f64(value: &Datum) -> EvalResult<f64> {
    match value {
        Datum::Boolean(b) => Ok(*b as i64 as f64),
        Datum::Int(i) => Ok(*i as f64),
        Datum::BigInt(i) => Ok(*i as f64),
        Datum::Double(d) => Ok(d.get()),
        Datum::Decimal(d) => Ok(d.to_f64()),
        Datum::String(text) => {
            let trimmed = text.trim();
            match trimmed {
                "NaN" => Ok(f64::NAN),
                "Infinity" | "+Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                // Rust also reads "inf" and "nan"; SQL spells them as above.
                _ if trimmed.bytes().any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E')) => {
                    Err(invalid(value, SqlType::Double, "not a number"))
                }
                _ => trimmed.parse().map_err(|_| invalid(value, SqlType::Double, "not a number")),
            }
        }
        _ => Err(unexpected("cast to DOUBLE", value)),
    }
}

/// The exact decimal of a value (strings may have an exponent: `1.5e3`), rounded to `scale`.
fn to_decimal(value: &Datum, to: SqlType, scale: u8) -> EvalResult<Decimal> {
    let out_of_range = || invalid(value, to, "too many digits");
    match value {
        Datum::Boolean(b) => Ok(Decimal::from_i64(*b as i64)),
        Datum::Int(i) => Ok(Decimal::from_i64(*i as i64)),
        Datum::BigInt(i) => Ok(Decimal::from_i64(*i)),
        Datum::Double(d) if !d.get().is_finite() => Err(invalid(value, to, "not a finite number")),
        Datum::Double(d) => Decimal::from_f64(d.get(), scale).ok_or_else(out_of_range),
        Datum::Decimal(d) => Ok(*d),
        Datum::String(text) => {
            let text = text.trim();
            let (digits, exponent) = match text.find(['e', 'E']) {
                Some(at) => (&text[..at], Some(&text[at + 1..])),
                None => (text, None),
            };
            let not_a_number = || invalid(value, to, "not a number");
            let digits = Decimal::parse(digits).ok_or_else(not_a_number)?;
            let Some(exponent) = exponent else {
                return digits.rescale(digits.scale().max(scale)).ok_or_else(out_of_range);
            };
            let exponent: i32 = exponent.parse().map_err(|_| not_a_number())?;
            // digits * 10^exponent: move the point.
            let new_scale = digits.scale() as i32 - exponent;
            if new_scale >= 0 {
                let exact =
                    Decimal::new(digits.mantissa(), u8::try_from(new_scale).map_err(|_| out_of_range())?)
                        .ok_or_else(out_of_range)?;
                return Ok(exact);
            }
            let factor = pow10((-new_scale) as u32).ok_or_else(out_of_range)?;
            digits.mantissa().checked_mul(factor).and_then(|m| Decimal::new(m, 0)).ok_or_else(out_of_range)
        }
        _ => Err(unexpected("cast to DECIMAL", value)),
    }
}

/// An interval value from a count of a unit (`INTERVAL '3' DAY`).
pub(crate) fn interval_of(
    count: i64,
    months_per_unit: Option<i64>,
    millis_per_unit: Option<i64>,
) -> Option<Interval> {
    match (months_per_unit, millis_per_unit) {
        (Some(months), _) => {
            Some(Interval { months: i32::try_from(count.checked_mul(months)?).ok()?, millis: 0 })
        }
        (None, Some(millis)) => Some(Interval { months: 0, millis: count.checked_mul(millis)? }),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(value: Datum, from: SqlType, to: SqlType) -> String {
        match cast(&value, from, to) {
            Ok(v) => v.to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn casts() {
        let s = |t: &str| Datum::string(t);
        let dec = |p, s| SqlType::decimal(p, s).unwrap();
        assert_eq!(run(s(" 42 "), SqlType::STRING, SqlType::Int), "42");
        assert!(run(s("4.5"), SqlType::STRING, SqlType::Int).starts_with("error: cannot cast '4.5' to INT"));
        assert_eq!(run(Datum::double(-4.9), SqlType::Double, SqlType::Int), "-4");
        assert!(run(Datum::double(f64::NAN), SqlType::Double, SqlType::BigInt).contains("out of range"));
        assert!(run(Datum::BigInt(1 << 40), SqlType::BigInt, SqlType::Int).contains("out of range"));
        assert_eq!(run(s("1.5e3"), SqlType::STRING, dec(10, 2)), "1500.00");
        assert_eq!(run(s("0.125"), SqlType::STRING, dec(5, 2)), "0.13");
        assert!(run(s("12345"), SqlType::STRING, dec(5, 2)).contains("too many digits"));
        assert_eq!(run(s("yes"), SqlType::STRING, SqlType::Boolean), "TRUE");
        assert_eq!(run(s("2024-02-29 10:11:12.5"), SqlType::STRING, SqlType::Date), "DATE '2024-02-29'");
        assert_eq!(
            run(s("2024-02-29 10:11:12.5"), SqlType::STRING, SqlType::Timestamp { precision: 0 }),
            "TIMESTAMP '2024-02-29 10:11:12.000'"
        );
        assert_eq!(run(s("héllo"), SqlType::STRING, SqlType::Varchar { max_length: Some(2) }), "'hé'");
        assert_eq!(
            run(Datum::Timestamp(1500), SqlType::Timestamp { precision: 0 }, SqlType::STRING),
            "'1970-01-01 00:00:01'"
        );
        assert_eq!(run(s("Infinity"), SqlType::STRING, SqlType::Double), "Infinity");
        assert!(run(s("inf"), SqlType::STRING, SqlType::Double).contains("not a number"));
    }

    /// Found by `eval_never_panics_on_random_trees`: truncating the smallest timestamp to
    /// seconds went below `i64::MIN`.
    #[test]
    fn truncating_the_smallest_timestamp_is_an_error() {
        let result =
            cast(&Datum::Timestamp(i64::MIN), SqlType::TIMESTAMP, SqlType::Timestamp { precision: 0 });
        assert!(matches!(result, Err(EvalError::InvalidCast { .. })));
    }

    #[test]
    fn cast_matrix() {
        assert!(can_cast(SqlType::Int, SqlType::STRING));
        assert!(can_cast(SqlType::Date, SqlType::TIMESTAMP));
        assert!(!can_cast(SqlType::Date, SqlType::Int));
        assert!(!can_cast(SqlType::Boolean, SqlType::Date));
    }
}
