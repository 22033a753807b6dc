//! SQL comparison of two values: `NULL` when either is `NULL` (as `None`), numbers by value
//! across types, a `DATE` against a `TIMESTAMP` as its midnight. Not `Datum`'s `Ord`, which is
//! a storage order (see `datum.rs`).

use std::cmp::Ordering;

use crate::cast::to_f64;
use crate::datetime::MILLIS_PER_DAY;
use crate::datum::Datum;
use crate::decimal::Decimal;
use crate::error::{show, EvalError, EvalResult};

/// SQL comparison: `None` when either side is `NULL`. Numbers of different types compare by
/// value (`1 = 1.0`), a `DATE` with a `TIMESTAMP` as its midnight.
pub(crate) fn sql_compare(left: &Datum, right: &Datum) -> EvalResult<Option<Ordering>> {
    use Datum::*;
    Ok(Some(match (left, right) {
        (Null, _) | (_, Null) => return Ok(None),
        (Boolean(a), Boolean(b)) => a.cmp(b),
        (Int(a), Int(b)) => a.cmp(b),
        (BigInt(a), BigInt(b)) => a.cmp(b),
        (Double(a), Double(b)) => a.cmp(b),
        (Decimal(a), Decimal(b)) => a.cmp_value(b),
        (String(a), String(b)) => a.cmp(b),
        (Date(a), Date(b)) => a.cmp(b),
        (Timestamp(a), Timestamp(b)) => a.cmp(b),
        (Date(a), Timestamp(b)) => (*a as i64 * MILLIS_PER_DAY).cmp(b),
        (Timestamp(a), Date(b)) => a.cmp(&(*b as i64 * MILLIS_PER_DAY)),
        (Interval(a), Interval(b)) => a.cmp(b),
        (a, b) => match (exact(a), exact(b)) {
            (Some(a), Some(b)) => a.cmp_value(&b),
            _ if is_number(a) && is_number(b) => {
                crate::datum::Double::new(to_f64(a)?).cmp(&crate::datum::Double::new(to_f64(b)?))
            }
            _ => return Err(EvalError::Internal(format!("cannot compare {} with {}", show(a), show(b)))),
        },
    }))
}

fn is_number(value: &Datum) -> bool {
    matches!(value, Datum::Int(_) | Datum::BigInt(_) | Datum::Double(_) | Datum::Decimal(_))
}

/// An exact number as a decimal.
fn exact(value: &Datum) -> Option<Decimal> {
    match value {
        Datum::Int(i) => Some(Decimal::from_i64(*i as i64)),
        Datum::BigInt(i) => Some(Decimal::from_i64(*i)),
        Datum::Decimal(d) => Some(*d),
        _ => None,
    }
}
