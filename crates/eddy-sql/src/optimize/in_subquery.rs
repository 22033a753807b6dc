//! `x IN (subquery)` with one column, written with an `EXISTS` on the equality and a scalar
//! "status" of the subquery (empty, has a `NULL`, or neither), so that decorrelation joins on
//! `x = column` (an equi-join) instead of comparing every outer row with every subquery row.
//!
//! Three-valued `IN`: `TRUE` when a row equals `x`; else `FALSE` when the subquery is empty;
//! else `NULL` when `x` is `NULL` or the subquery has a `NULL`; else `FALSE`. `NOT IN` in a
//! filter keeps the rows where it is `FALSE`: no equal row, and the subquery empty or (`x`
//! not `NULL` and no `NULL` in the subquery), which is an anti join on the equality plus a
//! filter on the status.

use super::util::{binary, boolean, column, column_refs, count_star, lift, project, unary};
use crate::datum::Datum;
use crate::expr::{BinaryOp, ScalarExpr, UnaryOp};
use crate::plan::{conjunction, ApplyKind, Plan};
use crate::types::SqlType;

/// Status values of the subquery.
const EMPTY: i32 = 0;
const HAS_NULL: i32 = 1;
const NO_NULL: i32 = 2;

fn int(value: i32) -> ScalarExpr {
    ScalarExpr::literal(Datum::Int(value), SqlType::Int)
}

fn bigint(value: i64) -> ScalarExpr {
    ScalarExpr::literal(Datum::BigInt(value), SqlType::BigInt)
}

/// `Apply(Apply(input, status), EXISTS (subquery WHERE #0 = x))`: the input's columns, the
/// status (`INT`), whether an equal row exists (`BOOLEAN`).
fn status_and_match(input: Plan, subquery: Plan, expr: &ScalarExpr) -> Plan {
    let ty = subquery.columns().first().map_or(SqlType::Null, |c| c.ty);
    let counts = Plan::Aggregate {
        input: Box::new(subquery.clone()),
        group: vec![],
        group_names: vec![],
        aggregates: vec![count_star(None), count_star(Some(unary(UnaryOp::IsNull, column(0, ty))))],
        aggregate_names: vec!["rows".into(), "nulls".into()],
    };
    let status = ScalarExpr::Case {
        branches: vec![
            (binary(BinaryOp::Eq, column(0, SqlType::BigInt), bigint(0)), int(EMPTY)),
            (binary(BinaryOp::Gt, column(1, SqlType::BigInt), bigint(0)), int(HAS_NULL)),
        ],
        otherwise: Box::new(int(NO_NULL)),
        ty: SqlType::Int,
    };
    let with_status = Plan::Apply {
        input: Box::new(input),
        subquery: Box::new(project(counts, vec![status], vec!["status".into()])),
        kind: ApplyKind::Scalar,
        name: "status".into(),
    };
    let matching = Plan::Filter {
        input: Box::new(subquery),
        predicate: binary(BinaryOp::Eq, column(0, ty), lift(expr)),
    };
    Plan::Apply {
        input: Box::new(with_status),
        subquery: Box::new(matching),
        kind: ApplyKind::Exists,
        name: "match".into(),
    }
}

/// `Apply(input, x IN subquery)` for a subquery of one column, as the module docs say.
pub(super) fn in_value(input: Plan, subquery: Plan, expr: &ScalarExpr, name: String) -> Plan {
    let n = input.arity();
    let columns = input.columns();
    let applied = status_and_match(input, subquery, expr);
    let status = column(n, SqlType::Int);
    let value = ScalarExpr::Case {
        branches: vec![
            (column(n + 1, SqlType::Boolean), boolean(Some(true))),
            (binary(BinaryOp::Eq, status.clone(), int(EMPTY)), boolean(Some(false))),
            (unary(UnaryOp::IsNull, expr.clone()), boolean(None)),
            (binary(BinaryOp::Eq, status, int(HAS_NULL)), boolean(None)),
        ],
        otherwise: Box::new(boolean(Some(false))),
        ty: SqlType::Boolean,
    };
    let mut exprs = column_refs(&columns, 0);
    exprs.push(value);
    let mut names: Vec<String> = columns.into_iter().map(|c| c.name).collect();
    names.push(name);
    project(applied, exprs, names)
}

/// The rows of `input` for which `x NOT IN subquery` is `FALSE`... that is, `x IN subquery`
/// is `FALSE`, with the Apply's column (`FALSE`) appended.
pub(super) fn not_in_filter(input: Plan, subquery: Plan, expr: &ScalarExpr, name: String) -> Plan {
    let n = input.arity();
    let columns = input.columns();
    let applied = status_and_match(input, subquery, expr);
    let status = column(n, SqlType::Int);
    let empty = binary(BinaryOp::Eq, status.clone(), int(EMPTY));
    let known = binary(
        BinaryOp::And,
        unary(UnaryOp::IsNotNull, expr.clone()),
        binary(BinaryOp::Eq, status, int(NO_NULL)),
    );
    let predicate = conjunction(vec![
        unary(UnaryOp::Not, column(n + 1, SqlType::Boolean)),
        binary(BinaryOp::Or, empty, known),
    ]);
    let filtered = Plan::Filter { input: Box::new(applied), predicate };
    let mut exprs = column_refs(&columns, 0);
    exprs.push(boolean(Some(false)));
    let mut names: Vec<String> = columns.into_iter().map(|c| c.name).collect();
    names.push(name);
    project(filtered, exprs, names)
}
