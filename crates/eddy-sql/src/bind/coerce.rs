//! Implicit conversions: the common type of two operands, the `DECIMAL` result types, the
//! `Cast` nodes that make a conversion explicit, and constant folding.

use sqlparser::ast::Expr;

use super::{type_error, BindResult};
use crate::datum::{Datum, Row};
use crate::expr::ScalarExpr;
use crate::types::{SqlType, MAX_DECIMAL_PRECISION};

/// Evaluates a subtree that reads no column; keeps it if evaluation fails.
pub(super) fn fold(expr: ScalarExpr) -> ScalarExpr {
    if matches!(expr, ScalarExpr::Literal { .. }) || !expr.is_constant() {
        return expr;
    }
    match expr.eval(&Row::default()) {
        Ok(value) => ScalarExpr::Literal { value, ty: expr.ty() },
        Err(_) => expr,
    }
}

/// Flink's `adjustPrecisionScale`: past 38 digits, keep the integer digits and shrink the
/// scale, but to no less than `min(scale, 6)`.
pub(super) fn decimal_type(precision: i64, scale: i64) -> SqlType {
    let max = MAX_DECIMAL_PRECISION as i64;
    let (precision, scale) = if precision <= max {
        (precision.max(1), scale)
    } else {
        let integer_digits = precision - scale;
        (max, (max - integer_digits).max(scale.min(6)))
    };
    SqlType::Decimal { precision: precision as u8, scale: scale.clamp(0, precision) as u8 }
}

/// The least restrictive type both values convert to, if any.
pub(crate) fn common_type(a: SqlType, b: SqlType) -> Option<SqlType> {
    use SqlType::*;
    Some(match (a, b) {
        _ if a == b => a,
        (Null, other) | (other, Null) => other,
        (Double, t) | (t, Double) if t.is_numeric() => Double,
        (Decimal { .. }, t) | (t, Decimal { .. }) if t.is_numeric() => {
            let ((p1, s1), (p2, s2)) = (a.as_decimal()?, b.as_decimal()?);
            let scale = s1.max(s2) as i64;
            let integer_digits = (p1 - s1).max(p2 - s2) as i64;
            decimal_type((integer_digits + scale).min(MAX_DECIMAL_PRECISION as i64), scale)
        }
        (BigInt, Int) | (Int, BigInt) => BigInt,
        (Varchar { max_length: x }, Varchar { max_length: y }) => {
            Varchar { max_length: x.zip(y).map(|(x, y)| x.max(y)) }
        }
        (Timestamp { precision: x }, Timestamp { precision: y }) => Timestamp { precision: x.max(y) },
        (Date, Timestamp { precision }) | (Timestamp { precision }, Date) => Timestamp { precision },
        _ => return None,
    })
}

/// `expr` as type `to`, through a `Cast` node when its type differs.
pub(super) fn coerce(expr: ScalarExpr, to: SqlType) -> ScalarExpr {
    if expr.ty() == to {
        return expr;
    }
    if let ScalarExpr::Literal { value: Datum::Null, .. } = expr {
        return ScalarExpr::Literal { value: Datum::Null, ty: to };
    }
    fold(ScalarExpr::Cast { expr: Box::new(expr), ty: to, try_cast: false })
}

/// A cast of a constant that must succeed now (`DATE '2024-13-01'`, `'abc' = 1`).
pub(super) fn coerce_constant(expr: ScalarExpr, to: SqlType, source: &Expr) -> BindResult<ScalarExpr> {
    let cast = coerce(expr, to);
    if let ScalarExpr::Cast { expr, .. } = &cast {
        if expr.is_constant() {
            let error =
                cast.eval(&Row::default()).err().map_or("cannot convert".to_owned(), |e| e.to_string());
            return Err(type_error(source, error));
        }
    }
    Ok(cast)
}

pub(super) fn is_string_literal(expr: &ScalarExpr) -> bool {
    matches!(expr, ScalarExpr::Literal { value: Datum::String(_), .. })
}
