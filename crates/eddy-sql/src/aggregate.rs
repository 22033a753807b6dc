//! Aggregate functions over one group, computed from the group's rows with their
//! multiplicities: what differential's `reduce` hands an operator (each distinct input row with
//! its count) and what the reference evaluator has. Both use this one implementation, so the
//! SQL semantics (NULLs skipped, `DISTINCT`, `FILTER`, checked sums, `AVG` in the argument's
//! type) live in one place.

use std::collections::BTreeMap;

use crate::datum::{Datum, Double, Row};
use crate::decimal::Decimal;
use crate::error::{show, unexpected, EvalError, EvalResult};
use crate::expr::truth;
use crate::plan::{AggregateCall, AggregateFunction};
use crate::types::SqlType;

/// Computes `call` over a group given as distinct input rows with positive multiplicities.
pub fn aggregate<'a>(
    call: &AggregateCall,
    group: impl IntoIterator<Item = (&'a Row, i64)>,
) -> EvalResult<Datum> {
    // The argument values that take part, with multiplicities (NULLs dropped except for
    // COUNT(*), which counts rows).
    let mut values: BTreeMap<Datum, i64> = BTreeMap::new();
    let mut rows: i64 = 0;
    for (row, count) in group {
        if count <= 0 {
            return Err(EvalError::Internal(format!("aggregate input row {row} with multiplicity {count}")));
        }
        if let Some(filter) = &call.filter {
            if truth(&filter.eval(row)?)? != Some(true) {
                continue;
            }
        }
        match call.args.first() {
            None => rows = checked_count(rows, count)?,
            Some(arg) => {
                let value = arg.eval(row)?;
                if !value.is_null() {
                    let entry = values.entry(value).or_insert(0);
                    *entry = checked_count(*entry, count)?;
                }
            }
        }
    }
    if call.distinct {
        for count in values.values_mut() {
            *count = 1;
        }
    }
    let n: i64 = values.values().try_fold(0i64, |total, count| checked_count(total, *count))?;
    match call.function {
        AggregateFunction::CountStar => Ok(Datum::BigInt(rows)),
        AggregateFunction::Count => Ok(Datum::BigInt(n)),
        AggregateFunction::Min => {
            Ok(values.keys().min_by(|a, b| value_order(a, b)).cloned().unwrap_or(Datum::Null))
        }
        AggregateFunction::Max => {
            Ok(values.keys().max_by(|a, b| value_order(a, b)).cloned().unwrap_or(Datum::Null))
        }
        AggregateFunction::Sum => {
            if n == 0 {
                return Ok(Datum::Null);
            }
            sum(&values, call.ty)
        }
        AggregateFunction::Avg => {
            if n == 0 {
                return Ok(Datum::Null);
            }
            let total = sum(&values, sum_type(call.ty))?;
            average(total, n, call.ty)
        }
    }
}

fn checked_count(total: i64, count: i64) -> EvalResult<i64> {
    total
        .checked_add(count)
        .ok_or_else(|| EvalError::Overflow { operation: "COUNT".into(), ty: SqlType::BigInt })
}

/// The order of values of one type (decimals by value, whatever their scale).
fn value_order(a: &Datum, b: &Datum) -> std::cmp::Ordering {
    match (a, b) {
        (Datum::Decimal(a), Datum::Decimal(b)) => a.cmp_value(b).then_with(|| a.scale().cmp(&b.scale())),
        _ => a.cmp(b),
    }
}

/// The type `AVG` sums in before dividing: integers in `BIGINT`'s range are summed exactly.
fn sum_type(avg: SqlType) -> SqlType {
    match avg {
        SqlType::Int | SqlType::BigInt => SqlType::Decimal { precision: 38, scale: 0 },
        SqlType::Decimal { scale, .. } => SqlType::Decimal { precision: 38, scale },
        other => other,
    }
}

fn overflow(ty: SqlType) -> EvalError {
    EvalError::Overflow { operation: "SUM".into(), ty }
}

/// `SUM` of the values (each times its multiplicity), checked against the result type.
fn sum(values: &BTreeMap<Datum, i64>, ty: SqlType) -> EvalResult<Datum> {
    match ty {
        SqlType::Int | SqlType::BigInt => {
            let mut total: i128 = 0;
            for (value, count) in values {
                let value = match value {
                    Datum::Int(v) => i128::from(*v),
                    Datum::BigInt(v) => i128::from(*v),
                    other => return Err(unexpected("SUM", other)),
                };
                total = value
                    .checked_mul(i128::from(*count))
                    .and_then(|v| total.checked_add(v))
                    .ok_or(overflow(ty))?;
            }
            if ty == SqlType::Int {
                i32::try_from(total).map(Datum::Int).map_err(|_| overflow(ty))
            } else {
                i64::try_from(total).map(Datum::BigInt).map_err(|_| overflow(ty))
            }
        }
        SqlType::Double => {
            // Sum in the values' order (a BTreeMap: deterministic whatever the input order).
            let mut total = 0.0f64;
            for (value, count) in values {
                match value {
                    Datum::Double(v) => total += v.get() * *count as f64,
                    other => return Err(unexpected("SUM", other)),
                }
            }
            Ok(Datum::Double(Double::new(total)))
        }
        SqlType::Decimal { precision, scale } => {
            let mut total = Decimal::from_i64(0).rescale(scale).ok_or(overflow(ty))?;
            for (value, count) in values {
                let value = match value {
                    Datum::Decimal(d) => *d,
                    Datum::Int(v) => Decimal::from_i64(i64::from(*v)),
                    Datum::BigInt(v) => Decimal::from_i64(*v),
                    other => return Err(unexpected("SUM", other)),
                };
                let term = value.checked_mul(&Decimal::from_i64(*count)).ok_or(overflow(ty))?;
                total = total.checked_add(&term).ok_or(overflow(ty))?;
            }
            total.fit(precision, scale).map(Datum::Decimal).ok_or_else(|| EvalError::Overflow {
                operation: format!("SUM = {}", show(&Datum::Decimal(total))),
                ty,
            })
        }
        other => Err(EvalError::Internal(format!("SUM of {other}"))),
    }
}

/// `AVG`: the sum divided by the count, in the result type (integers truncate, as Flink's
/// `AVG(INT)` does; decimals round half up, as Flink's decimal division does).
fn average(total: Datum, n: i64, ty: SqlType) -> EvalResult<Datum> {
    match (total, ty) {
        (Datum::Decimal(total), SqlType::Int | SqlType::BigInt) => {
            // Integer division, truncating toward zero as `SUM(x) / COUNT(x)` does.
            let value = i64::try_from(total.mantissa() / i128::from(n)).map_err(|_| overflow(ty))?;
            if ty == SqlType::Int {
                i32::try_from(value).map(Datum::Int).map_err(|_| overflow(ty))
            } else {
                Ok(Datum::BigInt(value))
            }
        }
        (Datum::Decimal(total), SqlType::Decimal { precision, scale }) => total
            .checked_div(&Decimal::from_i64(n), scale)
            .and_then(|q| q.fit(precision, scale))
            .map(Datum::Decimal)
            .ok_or(overflow(ty)),
        (Datum::Double(total), SqlType::Double) => Ok(Datum::Double(Double::new(total.get() / n as f64))),
        (total, ty) => Err(EvalError::Internal(format!("AVG of {} as {ty}", show(&total)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::ScalarExpr;

    fn call(function: AggregateFunction, ty: SqlType, distinct: bool) -> AggregateCall {
        let args = match function {
            AggregateFunction::CountStar => vec![],
            _ => vec![ScalarExpr::Column { index: 0, ty }],
        };
        AggregateCall { function, args, distinct, filter: None, ty }
    }

    fn rows(values: &[Option<i32>]) -> Vec<Row> {
        values.iter().map(|v| Row::new(vec![v.map_or(Datum::Null, Datum::Int)])).collect()
    }

    fn run(call: &AggregateCall, values: &[Option<i32>]) -> EvalResult<Datum> {
        let rows = rows(values);
        aggregate(call, rows.iter().map(|r| (r, 1)))
    }

    #[test]
    fn nulls_distinct_and_empty_groups() {
        let input = [Some(3), None, Some(3), Some(-1)];
        assert_eq!(
            run(&call(AggregateFunction::CountStar, SqlType::BigInt, false), &input),
            Ok(Datum::BigInt(4))
        );
        let count =
            AggregateCall { ty: SqlType::BigInt, ..call(AggregateFunction::Count, SqlType::Int, false) };
        assert_eq!(run(&count, &input), Ok(Datum::BigInt(3)));
        let count_distinct = AggregateCall { distinct: true, ..count.clone() };
        assert_eq!(run(&count_distinct, &input), Ok(Datum::BigInt(2)));
        assert_eq!(run(&call(AggregateFunction::Sum, SqlType::Int, false), &input), Ok(Datum::Int(5)));
        assert_eq!(run(&call(AggregateFunction::Sum, SqlType::Int, true), &input), Ok(Datum::Int(2)));
        assert_eq!(run(&call(AggregateFunction::Min, SqlType::Int, false), &input), Ok(Datum::Int(-1)));
        assert_eq!(run(&call(AggregateFunction::Max, SqlType::Int, false), &input), Ok(Datum::Int(3)));
        assert_eq!(run(&call(AggregateFunction::Avg, SqlType::Int, false), &input), Ok(Datum::Int(1)));
        assert_eq!(run(&call(AggregateFunction::Sum, SqlType::Int, false), &[None]), Ok(Datum::Null));
        assert_eq!(run(&count, &[]), Ok(Datum::BigInt(0)));
        assert_eq!(run(&call(AggregateFunction::Max, SqlType::Int, false), &[]), Ok(Datum::Null));
    }

    #[test]
    fn multiplicities_count_and_sums_are_checked() {
        let row = Row::new(vec![Datum::Int(i32::MAX)]);
        let sum = call(AggregateFunction::Sum, SqlType::Int, false);
        assert!(matches!(aggregate(&sum, [(&row, 2)]), Err(EvalError::Overflow { .. })));
        let big =
            AggregateCall { ty: SqlType::BigInt, ..call(AggregateFunction::Sum, SqlType::BigInt, false) };
        let row = Row::new(vec![Datum::BigInt(5)]);
        assert_eq!(aggregate(&big, [(&row, 3)]), Ok(Datum::BigInt(15)));
        let avg = call(AggregateFunction::Avg, SqlType::BigInt, false);
        assert_eq!(aggregate(&avg, [(&row, 3)]), Ok(Datum::BigInt(5)));
    }

    #[test]
    fn decimal_sums_and_averages_keep_the_scale() {
        let ty = SqlType::decimal(10, 2).unwrap();
        let a = Row::new(vec![Datum::Decimal(Decimal::parse("1.25").unwrap())]);
        let b = Row::new(vec![Datum::Decimal(Decimal::parse("2.50").unwrap())]);
        let sum =
            AggregateCall { ty: SqlType::decimal(38, 2).unwrap(), ..call(AggregateFunction::Sum, ty, false) };
        assert_eq!(aggregate(&sum, [(&a, 1), (&b, 2)]), Ok(Datum::Decimal(Decimal::parse("6.25").unwrap())));
        let avg = call(AggregateFunction::Avg, ty, false);
        assert_eq!(aggregate(&avg, [(&a, 1), (&b, 1)]), Ok(Datum::Decimal(Decimal::parse("1.88").unwrap())));
    }
}
