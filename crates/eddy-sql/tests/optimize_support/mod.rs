//! Shared by the optimizer's tests: plan-building shorthands, small tables with `NULL`s and
//! duplicates, and the check that an optimized plan gives the oracle's answer.

#![allow(dead_code)]

use std::collections::BTreeMap;

use eddy_sql::datum::{Datum, Row};
use eddy_sql::expr::{BinaryOp, ScalarExpr, UnaryOp};
use eddy_sql::optimize::{optimize, MORE_THAN_ONE_ROW};
use eddy_sql::oracle::evaluate;
use eddy_sql::plan::{AggregateCall, AggregateFunction, ApplyKind, Column, JoinKind, Plan};
use eddy_sql::types::SqlType;

pub fn int(value: i32) -> ScalarExpr {
    ScalarExpr::literal(Datum::Int(value), SqlType::Int)
}

pub fn null_int() -> ScalarExpr {
    ScalarExpr::literal(Datum::Null, SqlType::Int)
}

pub fn boolean(value: bool) -> ScalarExpr {
    ScalarExpr::literal(Datum::Boolean(value), SqlType::Boolean)
}

pub fn col(index: usize) -> ScalarExpr {
    ScalarExpr::Column { index, ty: SqlType::Int }
}

pub fn bool_col(index: usize) -> ScalarExpr {
    ScalarExpr::Column { index, ty: SqlType::Boolean }
}

pub fn outer(depth: usize, index: usize) -> ScalarExpr {
    ScalarExpr::Outer { depth, index, ty: SqlType::Int }
}

pub fn binary(op: BinaryOp, left: ScalarExpr, right: ScalarExpr) -> ScalarExpr {
    let ty = if matches!(op, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul) {
        left.ty()
    } else {
        SqlType::Boolean
    };
    ScalarExpr::Binary { op, left: Box::new(left), right: Box::new(right), ty }
}

pub fn eq(left: ScalarExpr, right: ScalarExpr) -> ScalarExpr {
    binary(BinaryOp::Eq, left, right)
}

pub fn gt(left: ScalarExpr, right: ScalarExpr) -> ScalarExpr {
    binary(BinaryOp::Gt, left, right)
}

pub fn and(left: ScalarExpr, right: ScalarExpr) -> ScalarExpr {
    binary(BinaryOp::And, left, right)
}

pub fn or(left: ScalarExpr, right: ScalarExpr) -> ScalarExpr {
    binary(BinaryOp::Or, left, right)
}

pub fn not(expr: ScalarExpr) -> ScalarExpr {
    ScalarExpr::Unary { op: UnaryOp::Not, expr: Box::new(expr), ty: SqlType::Boolean }
}

pub fn is_null(expr: ScalarExpr) -> ScalarExpr {
    ScalarExpr::Unary { op: UnaryOp::IsNull, expr: Box::new(expr), ty: SqlType::Boolean }
}

/// A table of `arity` `INT` columns named `<table>_<i>`.
pub fn get(name: &str, arity: usize) -> Plan {
    Plan::Get {
        name: name.into(),
        columns: (0..arity).map(|i| Column::new(format!("{name}{i}"), SqlType::Int)).collect(),
    }
}

pub fn filter(input: Plan, predicate: ScalarExpr) -> Plan {
    Plan::Filter { input: Box::new(input), predicate }
}

pub fn project(input: Plan, exprs: Vec<ScalarExpr>) -> Plan {
    let names = (0..exprs.len()).map(|i| format!("p{i}")).collect();
    Plan::Project { input: Box::new(input), exprs, names }
}

pub fn join(left: Plan, right: Plan, kind: JoinKind, on: ScalarExpr) -> Plan {
    Plan::Join { left: Box::new(left), right: Box::new(right), kind, on }
}

pub fn call(function: AggregateFunction, args: Vec<ScalarExpr>) -> AggregateCall {
    let ty = match function {
        AggregateFunction::CountStar | AggregateFunction::Count => SqlType::BigInt,
        AggregateFunction::Sum => SqlType::BigInt,
        _ => args.first().map_or(SqlType::Int, |a| a.ty()),
    };
    AggregateCall { function, args, distinct: false, filter: None, ty }
}

pub fn aggregate(input: Plan, group: Vec<ScalarExpr>, aggregates: Vec<AggregateCall>) -> Plan {
    Plan::Aggregate {
        input: Box::new(input),
        group_names: (0..group.len()).map(|i| format!("g{i}")).collect(),
        group,
        aggregate_names: (0..aggregates.len()).map(|i| format!("a{i}")).collect(),
        aggregates,
    }
}

pub fn apply(input: Plan, subquery: Plan, kind: ApplyKind) -> Plan {
    Plan::Apply { input: Box::new(input), subquery: Box::new(subquery), kind, name: "sub".into() }
}

fn rows(values: &[&[Option<i32>]]) -> Vec<Row> {
    values.iter().map(|r| r.iter().map(|v| v.map_or(Datum::Null, Datum::Int)).collect()).collect()
}

/// Three small tables of two `INT` columns, with `NULL`s and duplicate rows.
pub fn tables() -> BTreeMap<String, Vec<Row>> {
    BTreeMap::from([
        (
            "t".to_owned(),
            rows(&[
                &[Some(1), Some(10)],
                &[Some(2), Some(20)],
                &[Some(2), Some(20)],
                &[Some(3), None],
                &[None, Some(10)],
            ]),
        ),
        ("u".to_owned(), rows(&[&[Some(1), Some(5)], &[Some(2), None], &[Some(2), Some(7)], &[None, None]])),
        ("v".to_owned(), rows(&[&[Some(10), Some(1)], &[Some(20), Some(2)], &[Some(40), Some(4)]])),
        ("empty".to_owned(), vec![]),
    ])
}

/// The rows, sorted, so multisets compare as vectors.
pub fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort();
    rows
}

/// Optimizes `plan` and checks the result: decorrelated, the same columns, and on `tables`
/// the oracle's rows as a multiset. When the original fails (a scalar subquery with more
/// than one row), the optimized plan may fail too; it may fail when the original does not
/// only with that error (see below).
pub fn check_on(plan: &Plan, tables: &BTreeMap<String, Vec<Row>>) -> Plan {
    let optimized = optimize(plan.clone()).unwrap_or_else(|e| panic!("optimize failed: {e}\n{plan}"));
    assert!(optimized.is_decorrelated(), "not decorrelated:\n{optimized}");
    assert_eq!(
        optimized.columns().iter().map(|c| c.ty).collect::<Vec<_>>(),
        plan.columns().iter().map(|c| c.ty).collect::<Vec<_>>(),
        "column types differ:\n{plan}\n{optimized}"
    );
    match (evaluate(plan, tables), evaluate(&optimized, tables)) {
        (Ok(expected), Ok(actual)) => assert_eq!(
            sorted(actual),
            sorted(expected),
            "different rows\noriginal:\n{plan}\noptimized:\n{optimized}"
        ),
        // Decorrelation evaluates a subquery once for all outer rows, also when there are
        // none: a scalar subquery that has more than one row fails even if no outer row
        // would have asked for it. Any other failure is a bug.
        (Ok(_), Err(e)) if e.to_string().contains(MORE_THAN_ONE_ROW) => {}
        (Ok(_), Err(e)) => {
            panic!("the optimized plan fails ({e}), the original does not\n{plan}\n{optimized}")
        }
        (Err(_), _) => {}
    }
    optimized
}

/// [`check_on`] with [`tables`].
pub fn check(plan: &Plan) -> Plan {
    check_on(plan, &tables())
}
