//! Accumulable aggregates: `COUNT(*)`, `COUNT(x)`, `SUM(x)` and `AVG(x)` over exact numbers,
//! without `DISTINCT`, carried in differential's diffs (as Materialize does) instead of
//! recomputed from the group's rows. Each input row contributes a vector of integers (a row
//! count, and per call a count and a sum) as its diff; differential adds them up through
//! arrangements and consolidation, and a retraction subtracts them, so a change costs the
//! changed rows, not the group's size.
//!
//! The sums are `i128` with wrapping addition: exact arithmetic modulo 2^128, so the
//! accumulated value is the true sum whenever the true sum fits, whatever the order of
//! additions and retractions. The path is taken only for inputs whose true sums fit by a wide
//! margin (`INT`, `BIGINT`, `DECIMAL` of at most 18 digits: `|value| < 2^63`, and fewer than
//! 2^64 rows); the result's overflow is checked against its type when the group's row is made.
//! `DOUBLE` sums are left to the general path: floating-point addition in arrival order would
//! depend on the number of workers.

use differential_dataflow::difference::{IsZero, Monoid, Multiply, Semigroup};
use serde::{Deserialize, Serialize};

use crate::datum::{Datum, Row};
use crate::decimal::Decimal;
use crate::error::{EvalError, EvalResult};
use crate::expr::truth;
use crate::plan::{AggregateCall, AggregateFunction};
use crate::types::SqlType;

/// One accumulated integer: wrapping `i128` (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct Sum(pub(crate) i128);

impl IsZero for Sum {
    fn is_zero(&self) -> bool {
        self.0 == 0
    }
}

impl Semigroup for Sum {
    fn plus_equals(&mut self, rhs: &Self) {
        self.0 = self.0.wrapping_add(rhs.0);
    }
}

impl Monoid for Sum {
    fn zero() -> Self {
        Sum(0)
    }
}

impl differential_dataflow::difference::Abelian for Sum {
    fn negate(&mut self) {
        self.0 = self.0.wrapping_neg();
    }
}

impl Multiply<i64> for Sum {
    type Output = Sum;
    fn multiply(self, rhs: &i64) -> Sum {
        Sum(self.0.wrapping_mul(i128::from(*rhs)))
    }
}

/// The diff of the accumulable path: slot 0 counts rows, then two slots per call (the count of
/// values taking part, and their sum).
pub(crate) type Sums = Vec<Sum>;

/// The scale sums of `ty` are kept at, when `ty` may be accumulated.
fn accumulable_scale(ty: SqlType) -> Option<u8> {
    match ty {
        SqlType::Int | SqlType::BigInt => Some(0),
        SqlType::Decimal { precision, scale } if precision <= 18 => Some(scale),
        _ => None,
    }
}

/// Whether every call can be accumulated (see the module docs).
pub(crate) fn accumulable(calls: &[AggregateCall]) -> bool {
    calls.iter().all(|call| {
        if call.distinct {
            return false;
        }
        match call.function {
            AggregateFunction::CountStar | AggregateFunction::Count => true,
            AggregateFunction::Sum => match (call.args.first().map(|arg| arg.ty()), call.ty) {
                (Some(SqlType::Int | SqlType::BigInt), SqlType::Int | SqlType::BigInt) => true,
                (Some(arg @ SqlType::Decimal { .. }), SqlType::Decimal { scale, .. }) => {
                    accumulable_scale(arg) == Some(scale)
                }
                _ => false,
            },
            AggregateFunction::Avg => matches!(
                (call.args.first().map(|arg| arg.ty()), call.ty),
                (Some(SqlType::Int | SqlType::BigInt), SqlType::Int | SqlType::BigInt)
            ),
            AggregateFunction::Min | AggregateFunction::Max => false,
        }
    })
}

/// One row's contribution to its group's sums.
pub(crate) fn contribution(calls: &[AggregateCall], row: &Row) -> EvalResult<Sums> {
    let mut sums = Vec::with_capacity(1 + 2 * calls.len());
    sums.push(Sum(1));
    for call in calls {
        let passes = match &call.filter {
            Some(filter) => truth(&filter.eval(row)?)? == Some(true),
            None => true,
        };
        let (count, sum) = match (passes, call.args.first()) {
            (false, _) => (0, 0),
            (true, None) => (1, 0),
            (true, Some(arg)) => match arg.eval(row)? {
                Datum::Null => (0, 0),
                // COUNT(x) counts the values that are not NULL, of any type.
                _ if call.function == AggregateFunction::Count => (1, 0),
                Datum::Int(value) => (1, i128::from(value)),
                Datum::BigInt(value) => (1, i128::from(value)),
                Datum::Decimal(value) => {
                    let scale = accumulable_scale(arg.ty()).unwrap_or(value.scale());
                    let value = value.rescale(scale).ok_or_else(|| overflow(call.ty))?;
                    (1, value.mantissa())
                }
                other => return Err(EvalError::Internal(format!("accumulating {other}"))),
            },
        };
        sums.push(Sum(count));
        sums.push(Sum(sum));
    }
    Ok(sums)
}

fn overflow(ty: SqlType) -> EvalError {
    EvalError::Overflow { operation: "SUM".into(), ty }
}

/// The aggregates of a group from its accumulated sums (`None`: the group is empty).
pub(crate) fn finish(calls: &[AggregateCall], sums: &[Sum]) -> Option<EvalResult<Vec<Datum>>> {
    let slot = |index: usize| sums.get(index).map_or(0, |sum| sum.0);
    if slot(0) <= 0 {
        return None;
    }
    let values = calls
        .iter()
        .enumerate()
        .map(|(index, call)| {
            let (count, sum) = (slot(1 + 2 * index), slot(2 + 2 * index));
            let count_value =
                || i64::try_from(count).map(Datum::BigInt).map_err(|_| overflow(SqlType::BigInt));
            match call.function {
                AggregateFunction::CountStar | AggregateFunction::Count => count_value(),
                _ if count == 0 => Ok(Datum::Null),
                AggregateFunction::Sum => integer_or_decimal(sum, call.ty),
                AggregateFunction::Avg => integer_or_decimal(sum / count, call.ty),
                AggregateFunction::Min | AggregateFunction::Max => {
                    Err(EvalError::Internal(format!("{} is not accumulable", call.function.name())))
                }
            }
        })
        .collect();
    Some(values)
}

/// An accumulated integer (a mantissa at the type's scale) as a value of `ty`, checked.
fn integer_or_decimal(value: i128, ty: SqlType) -> EvalResult<Datum> {
    match ty {
        SqlType::Int => i32::try_from(value).map(Datum::Int).map_err(|_| overflow(ty)),
        SqlType::BigInt => i64::try_from(value).map(Datum::BigInt).map_err(|_| overflow(ty)),
        SqlType::Decimal { precision, scale } => Decimal::new(value, scale)
            .and_then(|decimal| decimal.fit(precision, scale))
            .map(Datum::Decimal)
            .ok_or_else(|| overflow(ty)),
        other => Err(EvalError::Internal(format!("accumulated {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::ScalarExpr;

    fn call(function: AggregateFunction) -> AggregateCall {
        let args = match function {
            AggregateFunction::CountStar => vec![],
            _ => vec![ScalarExpr::Column { index: 0, ty: SqlType::Int }],
        };
        let ty = if matches!(function, AggregateFunction::Count | AggregateFunction::CountStar) {
            SqlType::BigInt
        } else {
            SqlType::Int
        };
        AggregateCall { function, args, distinct: false, filter: None, ty }
    }

    #[test]
    fn sums_add_up_and_retract_exactly() {
        let calls =
            [call(AggregateFunction::Sum), call(AggregateFunction::Avg), call(AggregateFunction::Count)];
        assert!(accumulable(&calls));
        let mut total: Sums = Vec::new();
        for value in [Some(7), None, Some(-2), Some(7)] {
            let row = Row::new(vec![value.map_or(Datum::Null, Datum::Int)]);
            total.plus_equals(&contribution(&calls, &row).unwrap());
        }
        let result = finish(&calls, &total).unwrap().unwrap();
        assert_eq!(result, vec![Datum::Int(12), Datum::Int(4), Datum::BigInt(3)]);
        // Retract everything: the group is gone.
        let mut retraction = total.clone();
        differential_dataflow::difference::Abelian::negate(&mut retraction);
        total.plus_equals(&retraction);
        assert!(total.is_zero());
        assert!(finish(&calls, &total).is_none());
    }

    #[test]
    fn an_overflowing_sum_is_an_error_and_distinct_or_min_is_not_accumulable() {
        let calls = [call(AggregateFunction::Sum)];
        let row = Row::new(vec![Datum::Int(i32::MAX)]);
        let mut total = contribution(&calls, &row).unwrap().multiply(&2);
        assert!(matches!(finish(&calls, &total).unwrap(), Err(EvalError::Overflow { .. })));
        total.plus_equals(&contribution(&calls, &row).unwrap().multiply(&-1));
        assert_eq!(finish(&calls, &total).unwrap(), Ok(vec![Datum::Int(i32::MAX)]));
        assert!(!accumulable(&[AggregateCall { distinct: true, ..call(AggregateFunction::Sum) }]));
        assert!(!accumulable(&[call(AggregateFunction::Min)]));
    }

    #[test]
    fn decimal_sums_equal_the_shared_aggregate() {
        let ty = SqlType::decimal(10, 2).unwrap();
        let calls = [
            AggregateCall {
                function: AggregateFunction::Sum,
                args: vec![ScalarExpr::Column { index: 0, ty }],
                distinct: false,
                filter: None,
                ty: SqlType::decimal(38, 2).unwrap(),
            },
            AggregateCall {
                function: AggregateFunction::Count,
                args: vec![ScalarExpr::Column { index: 0, ty }],
                distinct: false,
                filter: None,
                ty: SqlType::BigInt,
            },
        ];
        assert!(accumulable(&calls));
        let rows: Vec<Row> = ["1.25", "-0.50", "99999999.99", "0.01"]
            .iter()
            .map(|text| Row::new(vec![Datum::Decimal(Decimal::parse(text).unwrap())]))
            .chain([Row::new(vec![Datum::Null])])
            .collect();
        let mut total: Sums = Vec::new();
        for row in &rows {
            total.plus_equals(&contribution(&calls, row).unwrap());
        }
        let expected: Vec<Datum> = calls
            .iter()
            .map(|call| crate::aggregate::aggregate(call, rows.iter().map(|r| (r, 1))).unwrap())
            .collect();
        assert_eq!(finish(&calls, &total).unwrap().unwrap(), expected);
    }

    #[test]
    fn count_counts_values_of_any_type() {
        let calls = [AggregateCall {
            function: AggregateFunction::Count,
            args: vec![ScalarExpr::Column { index: 0, ty: SqlType::STRING }],
            distinct: false,
            filter: None,
            ty: SqlType::BigInt,
        }];
        assert!(accumulable(&calls));
        let mut total: Sums = Vec::new();
        for value in [Some("true"), None, Some("x")] {
            let row = Row::new(vec![value.map_or(Datum::Null, |text| Datum::String(text.into()))]);
            total.plus_equals(&contribution(&calls, &row).unwrap());
        }
        assert_eq!(finish(&calls, &total).unwrap().unwrap(), vec![Datum::BigInt(2)]);
    }
}
