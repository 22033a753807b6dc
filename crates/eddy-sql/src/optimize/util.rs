//! Small tools the optimizer's rewrites share: building expressions, substituting and
//! renumbering columns, constant folding, and the `NULL`-rejection test that turns outer
//! joins into inner ones.

use crate::datum::Datum;
use crate::decimal::Decimal;
use crate::expr::{BinaryOp, ScalarExpr, UnaryOp};
use crate::plan::{AggregateCall, AggregateFunction, ApplyKind, Column, Plan};
use crate::types::SqlType;

/// Column `index` of type `ty`.
pub(super) fn column(index: usize, ty: SqlType) -> ScalarExpr {
    ScalarExpr::Column { index, ty }
}

/// The columns of `columns` as column references, from position `offset` on.
pub(super) fn column_refs(columns: &[Column], offset: usize) -> Vec<ScalarExpr> {
    columns.iter().enumerate().map(|(i, c)| column(offset + i, c.ty)).collect()
}

/// Whether `exprs` are the columns `0, 1, 2, ...` in order (a projection of them keeps every
/// row as it is, when they are all its input's columns).
pub(super) fn columns_in_order(exprs: &[ScalarExpr]) -> bool {
    exprs.iter().enumerate().all(|(i, e)| matches!(e, ScalarExpr::Column { index, .. } if *index == i))
}

/// A `BOOLEAN` literal; `None` is `NULL`.
pub(super) fn boolean(value: Option<bool>) -> ScalarExpr {
    ScalarExpr::literal(value.map_or(Datum::Null, Datum::Boolean), SqlType::Boolean)
}

/// A boolean binary operator.
pub(super) fn binary(op: BinaryOp, left: ScalarExpr, right: ScalarExpr) -> ScalarExpr {
    ScalarExpr::Binary { op, left: Box::new(left), right: Box::new(right), ty: SqlType::Boolean }
}

/// A boolean unary operator.
pub(super) fn unary(op: UnaryOp, expr: ScalarExpr) -> ScalarExpr {
    ScalarExpr::Unary { op, expr: Box::new(expr), ty: SqlType::Boolean }
}

/// Whether `expr` is the literal `TRUE`.
pub(super) fn is_true(expr: &ScalarExpr) -> bool {
    matches!(expr, ScalarExpr::Literal { value: Datum::Boolean(true), .. })
}

/// Whether `expr` is the literal `FALSE` or `NULL` (a filter on it keeps no row).
pub(super) fn is_false_or_null(expr: &ScalarExpr) -> bool {
    matches!(expr, ScalarExpr::Literal { value: Datum::Boolean(false) | Datum::Null, .. })
}

/// A non-`NULL` value of `ty`, if the type has one the optimizer knows.
pub(super) fn some_value(ty: SqlType) -> Option<Datum> {
    Some(match ty {
        SqlType::Null => return None,
        SqlType::Boolean => Datum::Boolean(false),
        SqlType::Int => Datum::Int(0),
        SqlType::BigInt => Datum::BigInt(0),
        SqlType::Double => Datum::double(0.0),
        SqlType::Decimal { .. } => Datum::Decimal(Decimal::parse("0")?),
        SqlType::Varchar { .. } => Datum::string(""),
        SqlType::Date => Datum::Date(0),
        SqlType::Timestamp { .. } => Datum::Timestamp(0),
        SqlType::Interval(_) => Datum::Interval(crate::datum::Interval { months: 0, millis: 0 }),
    })
}

/// `left IS NOT DISTINCT FROM right`, written as equalities a join can use as keys:
/// `(left IS NULL) = (right IS NULL) AND COALESCE(left, v) = COALESCE(right, v)` for some value
/// `v` of the type. Falls back to `IS NOT DISTINCT FROM` for a type without such a value.
pub(super) fn null_safe_equal(left: ScalarExpr, right: ScalarExpr) -> Vec<ScalarExpr> {
    let ty = left.ty();
    let Some(value) = some_value(ty) else {
        return vec![binary(BinaryOp::IsNotDistinctFrom, left, right)];
    };
    let coalesce = |expr: ScalarExpr| ScalarExpr::Coalesce {
        args: vec![expr, ScalarExpr::literal(value.clone(), ty)],
        ty,
    };
    vec![
        binary(BinaryOp::Eq, unary(UnaryOp::IsNull, left.clone()), unary(UnaryOp::IsNull, right.clone())),
        binary(BinaryOp::Eq, coalesce(left), coalesce(right)),
    ]
}

/// An expression of type `ty` whose evaluation fails with the message `message`: a cast of
/// the message to `INT` (which is not a number), cast on to `ty`. Used for the runtime error
/// of a scalar subquery with more than one row, so no new plan construct is needed.
pub(super) fn failure(message: &str, ty: SqlType) -> ScalarExpr {
    let fails = ScalarExpr::Cast {
        expr: Box::new(ScalarExpr::literal(Datum::string(message), SqlType::STRING)),
        ty: SqlType::Int,
        try_cast: false,
    };
    if ty == SqlType::Int {
        fails
    } else {
        ScalarExpr::Cast { expr: Box::new(fails), ty, try_cast: false }
    }
}

/// Replaces each column reference `#i` by `exprs[i]` (a column past the end is left alone).
pub(super) fn substitute(expr: &ScalarExpr, exprs: &[ScalarExpr]) -> ScalarExpr {
    let mut out = expr.clone();
    out.transform(&mut |e| {
        if let ScalarExpr::Column { index, .. } = e {
            if let Some(replacement) = exprs.get(*index) {
                *e = replacement.clone();
            }
        }
    });
    out
}

/// `expr` with every column shifted by `by`.
pub(super) fn shifted(expr: &ScalarExpr, by: usize) -> ScalarExpr {
    let mut out = expr.clone();
    out.remap_columns(&|c| c + by);
    out
}

/// Evaluates every subtree that reads no column, and simplifies `AND`/`OR` with a constant
/// side. A subtree whose evaluation fails is kept, so the error stays where it was.
pub(super) fn fold(expr: ScalarExpr) -> ScalarExpr {
    let mut expr = expr;
    expr.transform(&mut |e| {
        if !matches!(e, ScalarExpr::Literal { .. }) && e.is_constant() {
            if let Ok(value) = e.eval(&crate::datum::Row::default()) {
                *e = ScalarExpr::literal(value, e.ty());
                return;
            }
        }
        if let ScalarExpr::Binary { op, left, right, .. } = e {
            let constant = |side: &ScalarExpr| match side {
                ScalarExpr::Literal { value: Datum::Boolean(b), .. } => Some(*b),
                _ => None,
            };
            let replacement = match (op, constant(left), constant(right)) {
                (BinaryOp::And, Some(true), _) => Some((**right).clone()),
                (BinaryOp::And, _, Some(true)) => Some((**left).clone()),
                (BinaryOp::Or, Some(false), _) => Some((**right).clone()),
                (BinaryOp::Or, _, Some(false)) => Some((**left).clone()),
                _ => None,
            };
            if let Some(replacement) = replacement {
                *e = replacement;
            }
        }
    });
    expr
}

/// Whether `expr` is `NULL` whenever every column in `columns` is `NULL`, whatever the
/// other columns hold. Conservative: `false` when unsure.
pub(super) fn null_when_null(expr: &ScalarExpr, columns: &dyn Fn(usize) -> bool) -> bool {
    match expr {
        ScalarExpr::Column { index, .. } => columns(*index),
        ScalarExpr::Literal { value, .. } => value.is_null(),
        ScalarExpr::Binary { op, left, right, .. } => match op {
            BinaryOp::And | BinaryOp::IsDistinctFrom | BinaryOp::IsNotDistinctFrom => false,
            BinaryOp::Or => null_when_null(left, columns) && null_when_null(right, columns),
            _ => null_when_null(left, columns) || null_when_null(right, columns),
        },
        ScalarExpr::Unary { op: UnaryOp::Not | UnaryOp::Negate, expr, .. }
        | ScalarExpr::Cast { expr, try_cast: false, .. } => null_when_null(expr, columns),
        ScalarExpr::InList { expr, .. } | ScalarExpr::Between { expr, .. } => null_when_null(expr, columns),
        ScalarExpr::Like { expr, pattern, .. } => {
            null_when_null(expr, columns) || null_when_null(pattern, columns)
        }
        _ => false,
    }
}

/// Whether a filter on `predicate` keeps no row in which every column in `columns` is
/// `NULL` (the predicate is then `NULL` or `FALSE`). Conservative: `false` when unsure.
pub(super) fn rejects_nulls(predicate: &ScalarExpr, columns: &dyn Fn(usize) -> bool) -> bool {
    if null_when_null(predicate, columns) {
        return true;
    }
    match predicate {
        ScalarExpr::Binary { op: BinaryOp::And, left, right, .. } => {
            rejects_nulls(left, columns) || rejects_nulls(right, columns)
        }
        ScalarExpr::Binary { op: BinaryOp::Or, left, right, .. } => {
            rejects_nulls(left, columns) && rejects_nulls(right, columns)
        }
        ScalarExpr::Unary { op: UnaryOp::IsNotNull, expr, .. } => null_when_null(expr, columns),
        ScalarExpr::Unary { op: UnaryOp::IsTrue, expr, .. } => rejects_nulls(expr, columns),
        _ => false,
    }
}

/// The node's own expressions (not its inputs'), as [`Plan::exprs_mut`] but shared.
pub(crate) fn exprs(plan: &Plan) -> Vec<&ScalarExpr> {
    match plan {
        Plan::Get { .. }
        | Plan::Values { .. }
        | Plan::Distinct { .. }
        | Plan::SetOp { .. }
        | Plan::TopK { .. }
        | Plan::RowNumber { .. }
        | Plan::Time { .. }
        | Plan::MatchRecognize { .. } => vec![],
        Plan::Filter { predicate, .. } => vec![predicate],
        Plan::Project { exprs, .. } => exprs.iter().collect(),
        Plan::Join { on, .. } | Plan::TemporalJoin { on, .. } => vec![on],
        Plan::Aggregate { group, aggregates, .. } => group
            .iter()
            .chain(aggregates.iter().flat_map(|call| call.args.iter().chain(call.filter.as_ref())))
            .collect(),
        Plan::Over { functions, .. } => functions.iter().flat_map(|f| f.exprs()).collect(),
        Plan::Apply { kind: ApplyKind::In { exprs }, .. } => exprs.iter().collect(),
        Plan::Apply { .. } => vec![],
    }
}

/// A plan with no rows and no columns, to leave behind while a node's input is moved out.
pub(super) fn placeholder() -> Plan {
    Plan::Values { rows: vec![], columns: vec![] }
}

/// The empty relation with `columns`.
pub(super) fn empty(columns: Vec<Column>) -> Plan {
    Plan::Values { rows: vec![], columns }
}

/// Whether the plan is a `Values` without rows.
pub(super) fn is_empty(plan: &Plan) -> bool {
    matches!(plan, Plan::Values { rows, .. } if rows.is_empty())
}

/// Rewrites each direct input with `f`.
pub(super) fn map_inputs<E>(mut plan: Plan, f: &mut impl FnMut(Plan) -> Result<Plan, E>) -> Result<Plan, E> {
    for input in plan.inputs_mut() {
        let taken = std::mem::replace(input, placeholder());
        *input = f(taken)?;
    }
    Ok(plan)
}

/// `Project` of `exprs` with names taken from `columns` where an expression is a plain column.
pub(super) fn project(input: Plan, exprs: Vec<ScalarExpr>, names: Vec<String>) -> Plan {
    Plan::Project { input: Box::new(input), exprs, names }
}

/// The output names of a plan.
pub(super) fn names(plan: &Plan) -> Vec<String> {
    plan.columns().into_iter().map(|c| c.name).collect()
}

/// An expression of the Apply's input moved into its subquery: columns become outer
/// references at depth 1.
pub(super) fn lift(expr: &ScalarExpr) -> ScalarExpr {
    let mut out = expr.clone();
    out.transform(&mut |e| match e {
        ScalarExpr::Column { index, ty } => *e = ScalarExpr::Outer { depth: 1, index: *index, ty: *ty },
        ScalarExpr::Outer { depth, .. } => *depth += 1,
        _ => {}
    });
    out
}

/// `COUNT(*)`, with an optional `FILTER`.
pub(super) fn count_star(filter: Option<ScalarExpr>) -> AggregateCall {
    AggregateCall {
        function: AggregateFunction::CountStar,
        args: vec![],
        distinct: false,
        filter,
        ty: SqlType::BigInt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datum::Row;

    fn int(value: Option<i32>) -> ScalarExpr {
        ScalarExpr::literal(value.map_or(Datum::Null, Datum::Int), SqlType::Int)
    }

    #[test]
    fn null_safe_equality_is_is_not_distinct_from() {
        let values = [Some(0), Some(3), None];
        for a in values {
            for b in values {
                let conjunction = crate::plan::conjunction(null_safe_equal(int(a), int(b)));
                let value = conjunction.eval(&Row::default()).unwrap();
                assert_eq!(value, Datum::Boolean(a == b), "{a:?} vs {b:?}");
            }
        }
        // Every conjunct is an equality a join can key on.
        let keys = crate::plan::equi_keys(
            &crate::plan::conjunction(null_safe_equal(column(0, SqlType::Int), column(1, SqlType::Int))),
            1,
        );
        assert_eq!((keys.left.len(), keys.residual.len()), (2, 0));
    }

    #[test]
    fn null_rejection_is_conservative() {
        let right = |c: usize| c >= 1;
        let gt = binary(BinaryOp::Gt, column(1, SqlType::Int), int(Some(2)));
        assert!(rejects_nulls(&gt, &right));
        assert!(rejects_nulls(&unary(UnaryOp::IsNotNull, column(1, SqlType::Int)), &right));
        assert!(!rejects_nulls(&unary(UnaryOp::IsNull, column(1, SqlType::Int)), &right));
        // `#1 > 2 OR #0 > 2` keeps padded rows whose left side passes.
        let left_gt = binary(BinaryOp::Gt, column(0, SqlType::Int), int(Some(2)));
        assert!(!rejects_nulls(&binary(BinaryOp::Or, gt.clone(), left_gt.clone()), &right));
        assert!(rejects_nulls(&binary(BinaryOp::And, gt.clone(), left_gt), &right));
        // COALESCE turns NULL into a value.
        let coalesce =
            ScalarExpr::Coalesce { args: vec![column(1, SqlType::Int), int(Some(0))], ty: SqlType::Int };
        assert!(!rejects_nulls(&binary(BinaryOp::Eq, coalesce, int(Some(0))), &right));
        // NOT (x IS NULL) rejects; NOT (x > 2) too (NULL stays NULL).
        assert!(rejects_nulls(&unary(UnaryOp::Not, gt), &right));
    }

    #[test]
    fn folding_keeps_failures_and_simplifies_and_or() {
        let x = binary(BinaryOp::Gt, column(0, SqlType::Int), int(Some(1)));
        assert_eq!(fold(binary(BinaryOp::And, boolean(Some(true)), x.clone())), x);
        assert_eq!(fold(binary(BinaryOp::Or, x.clone(), boolean(Some(false)))), x);
        assert_eq!(fold(binary(BinaryOp::Eq, int(Some(1)), int(Some(1)))), boolean(Some(true)));
        let fails = failure("boom", SqlType::Int);
        assert_eq!(fold(fails.clone()), fails);
        assert!(fails.eval(&Row::default()).is_err());
    }
}
