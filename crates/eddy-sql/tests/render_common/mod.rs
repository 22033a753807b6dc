//! Shared by the `render_*` tests: plan builders, random tables with `NULL`s and duplicates,
//! random update batches with retractions, and the comparison with the reference evaluator.

#![allow(dead_code)] // each test file uses a part

use std::collections::BTreeMap;

use eddy_sql::datum::{Datum, Row};
use eddy_sql::expr::{BinaryOp, ScalarExpr};
use eddy_sql::plan::{AggregateCall, AggregateFunction, Column, JoinKind, Plan, SetOp, SortKey};
use eddy_sql::render::Diff;
use eddy_sql::types::SqlType;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

pub type Tables = BTreeMap<String, Vec<Row>>;
pub type Batch = BTreeMap<String, Vec<(Row, Diff)>>;

pub fn col(index: usize) -> ScalarExpr {
    ScalarExpr::Column { index, ty: SqlType::Int }
}

pub fn int(value: i32) -> ScalarExpr {
    ScalarExpr::literal(Datum::Int(value), SqlType::Int)
}

pub fn binary(op: BinaryOp, left: ScalarExpr, right: ScalarExpr) -> ScalarExpr {
    let ty = if op.is_comparison() || matches!(op, BinaryOp::And | BinaryOp::Or) {
        SqlType::Boolean
    } else {
        SqlType::Int
    };
    ScalarExpr::Binary { op, left: Box::new(left), right: Box::new(right), ty }
}

/// `t(a, b)` and `u(x, y)`, all `INT`.
pub fn get(name: &str) -> Plan {
    let names: [&str; 2] = if name == "t" { ["a", "b"] } else { ["x", "y"] };
    Plan::Get { name: name.into(), columns: names.iter().map(|n| Column::new(*n, SqlType::Int)).collect() }
}

pub fn filter(input: Plan, predicate: ScalarExpr) -> Plan {
    Plan::Filter { input: Box::new(input), predicate }
}

pub fn project(input: Plan, exprs: Vec<ScalarExpr>) -> Plan {
    let names = (0..exprs.len()).map(|i| format!("EXPR${i}")).collect();
    Plan::Project { input: Box::new(input), exprs, names }
}

pub fn join(kind: JoinKind, on: ScalarExpr) -> Plan {
    Plan::Join { left: Box::new(get("t")), right: Box::new(get("u")), kind, on }
}

pub fn call(
    function: AggregateFunction,
    arg: Option<ScalarExpr>,
    distinct: bool,
    filter: Option<ScalarExpr>,
) -> AggregateCall {
    let ty = match function {
        AggregateFunction::CountStar | AggregateFunction::Count => SqlType::BigInt,
        _ => SqlType::Int,
    };
    AggregateCall { function, args: arg.into_iter().collect(), distinct, filter, ty }
}

pub fn aggregate(input: Plan, group: Vec<ScalarExpr>, aggregates: Vec<AggregateCall>) -> Plan {
    let group_names = (0..group.len()).map(|i| format!("g{i}")).collect();
    let aggregate_names = (0..aggregates.len()).map(|i| format!("EXPR${i}")).collect();
    Plan::Aggregate { input: Box::new(input), group, group_names, aggregates, aggregate_names }
}

/// Every aggregate function, with `DISTINCT` and `FILTER`, over `#1`.
pub fn all_aggregates() -> Vec<AggregateCall> {
    use AggregateFunction::*;
    vec![
        call(CountStar, None, false, None),
        call(Count, Some(col(1)), false, None),
        call(Count, Some(col(1)), true, None),
        call(Sum, Some(col(1)), false, None),
        call(Sum, Some(col(1)), true, None),
        call(Min, Some(col(1)), false, None),
        call(Max, Some(col(1)), false, None),
        call(Avg, Some(col(1)), false, None),
        call(Sum, Some(col(1)), false, Some(binary(BinaryOp::Gt, col(1), int(2)))),
    ]
}

/// The aggregates that travel as sums in the diffs (no `DISTINCT`, `MIN`, `MAX`).
pub fn accumulable_aggregates() -> Vec<AggregateCall> {
    use AggregateFunction::*;
    vec![
        call(CountStar, None, false, None),
        call(Count, Some(col(1)), false, None),
        call(Sum, Some(col(1)), false, None),
        call(Avg, Some(col(1)), false, None),
        call(Sum, Some(col(0)), false, Some(binary(BinaryOp::Gt, col(1), int(1)))),
        call(CountStar, None, false, Some(binary(BinaryOp::Lt, col(1), int(2)))),
    ]
}

pub fn set_op(op: SetOp, all: bool) -> Plan {
    Plan::SetOp { op, all, left: Box::new(get("t")), right: Box::new(get("u")) }
}

pub fn top_k(group: Vec<usize>, order: Vec<SortKey>, limit: Option<u64>, offset: u64) -> Plan {
    Plan::TopK { input: Box::new(get("t")), group, order, limit, offset }
}

/// `ROW_NUMBER() OVER (PARTITION BY partition ORDER BY order)` over `t`, up to `limit`.
pub fn row_number(partition: Vec<usize>, order: Vec<SortKey>, limit: Option<u64>) -> Plan {
    Plan::RowNumber { input: Box::new(get("t")), partition, order, limit, name: "rn".into() }
}

/// The plans every operator test runs: one or more per operator and join kind.
pub fn operator_plans() -> Vec<(String, Plan)> {
    let mut plans = vec![
        ("filter".to_owned(), filter(get("t"), binary(BinaryOp::Gt, col(0), int(2)))),
        ("project".to_owned(), project(get("t"), vec![binary(BinaryOp::Add, col(0), col(1)), col(0)])),
        (
            "values".to_owned(),
            Plan::Values {
                rows: vec![
                    Row::new(vec![Datum::Int(1)]),
                    Row::new(vec![Datum::Null]),
                    Row::new(vec![Datum::Int(1)]),
                ],
                columns: vec![Column::new("v", SqlType::Int)],
            },
        ),
        ("distinct".to_owned(), Plan::Distinct { input: Box::new(get("t")) }),
        ("aggregate_grouped".to_owned(), aggregate(get("t"), vec![col(0)], all_aggregates())),
        ("aggregate_global".to_owned(), aggregate(get("t"), vec![], all_aggregates())),
        ("aggregate_sums_grouped".to_owned(), aggregate(get("t"), vec![col(0)], accumulable_aggregates())),
        ("aggregate_sums_global".to_owned(), aggregate(get("t"), vec![], accumulable_aggregates())),
        (
            "aggregate_sums_expression_key".to_owned(),
            aggregate(get("t"), vec![binary(BinaryOp::Mod, col(1), int(2))], accumulable_aggregates()),
        ),
        (
            "aggregate_filtered_global".to_owned(),
            aggregate(filter(get("t"), binary(BinaryOp::Gt, col(0), int(3))), vec![], all_aggregates()),
        ),
        (
            "top_k_grouped".to_owned(),
            top_k(vec![0], vec![SortKey { column: 1, descending: true, nulls_first: true }], Some(2), 1),
        ),
        (
            "top_k_global".to_owned(),
            top_k(vec![], vec![SortKey { column: 1, descending: false, nulls_first: false }], Some(3), 0),
        ),
        (
            "top_k_global_offset".to_owned(),
            top_k(vec![], vec![SortKey { column: 0, descending: true, nulls_first: true }], Some(2), 3),
        ),
        (
            "row_number_partitioned".to_owned(),
            row_number(vec![0], vec![SortKey { column: 1, descending: true, nulls_first: false }], None),
        ),
        (
            "row_number_top_2".to_owned(),
            row_number(vec![0], vec![SortKey { column: 1, descending: false, nulls_first: true }], Some(2)),
        ),
        (
            "row_number_dedup".to_owned(),
            row_number(vec![1], vec![SortKey { column: 0, descending: true, nulls_first: true }], Some(1)),
        ),
        ("row_number_global".to_owned(), row_number(vec![], vec![], Some(3))),
        (
            "top_k_offset_only".to_owned(),
            top_k(vec![], vec![SortKey { column: 0, descending: false, nulls_first: true }], None, 2),
        ),
    ];
    let conditions = [
        ("equi", binary(BinaryOp::Eq, col(0), col(2))),
        (
            "equi_residual",
            binary(BinaryOp::And, binary(BinaryOp::Eq, col(0), col(2)), binary(BinaryOp::Lt, col(1), col(3))),
        ),
        ("non_equi", binary(BinaryOp::Lt, col(1), col(3))),
        ("cross", ScalarExpr::literal(Datum::Boolean(true), SqlType::Boolean)),
    ];
    for kind in
        [JoinKind::Inner, JoinKind::Left, JoinKind::Right, JoinKind::Full, JoinKind::Semi, JoinKind::Anti]
    {
        for (name, on) in &conditions {
            plans.push((format!("join_{}_{name}", kind.name()), join(kind, on.clone())));
        }
    }
    let equi = binary(BinaryOp::Eq, col(0), col(2));
    let cte = filter(get("t"), binary(BinaryOp::Gt, col(1), int(0)));
    let composed = [
        (
            "join_expression_key",
            join(JoinKind::Inner, binary(BinaryOp::Eq, binary(BinaryOp::Add, col(0), int(1)), col(2))),
        ),
        (
            "self_join_left",
            Plan::Join {
                left: Box::new(get("t")),
                right: Box::new(get("t")),
                kind: JoinKind::Left,
                on: equi.clone(),
            },
        ),
        (
            "cte_joined_with_itself",
            Plan::Join {
                left: Box::new(cte.clone()),
                right: Box::new(cte),
                kind: JoinKind::Full,
                on: equi.clone(),
            },
        ),
        (
            "aggregate_over_left_join",
            aggregate(
                join(JoinKind::Left, equi.clone()),
                vec![col(2)],
                vec![
                    call(AggregateFunction::CountStar, None, false, None),
                    call(AggregateFunction::Sum, Some(col(1)), false, None),
                    call(AggregateFunction::Max, Some(col(3)), false, None),
                ],
            ),
        ),
        (
            "sums_over_inner_join",
            aggregate(
                join(JoinKind::Inner, equi.clone()),
                vec![col(2)],
                vec![
                    call(AggregateFunction::CountStar, None, false, None),
                    call(AggregateFunction::Sum, Some(col(3)), false, None),
                ],
            ),
        ),
        (
            "top_k_over_aggregate",
            Plan::TopK {
                input: Box::new(aggregate(
                    get("t"),
                    vec![col(0)],
                    vec![call(AggregateFunction::Sum, Some(col(1)), false, None)],
                )),
                group: vec![],
                order: vec![SortKey { column: 1, descending: true, nulls_first: false }],
                limit: Some(2),
                offset: 0,
            },
        ),
        ("distinct_over_union_all", Plan::Distinct { input: Box::new(set_op(SetOp::Union, true)) }),
        (
            "anti_join_of_filtered",
            Plan::Join {
                left: Box::new(filter(get("t"), binary(BinaryOp::Lt, col(1), int(3)))),
                right: Box::new(get("u")),
                kind: JoinKind::Anti,
                on: equi,
            },
        ),
    ];
    plans.extend(composed.into_iter().map(|(name, plan)| (name.to_owned(), plan)));
    for op in [SetOp::Union, SetOp::Except, SetOp::Intersect] {
        for all in [false, true] {
            plans.push((format!("{op:?}{}", if all { "_all" } else { "" }), set_op(op, all)));
        }
    }
    plans
}

fn random_value(rng: &mut SmallRng) -> Datum {
    if rng.gen_range(0..5) == 0 {
        Datum::Null
    } else {
        Datum::Int(rng.gen_range(0..4))
    }
}

fn random_row(rng: &mut SmallRng) -> Row {
    Row::new(vec![random_value(rng), random_value(rng)])
}

/// Tables `t` and `u` of a few rows each, small values so that keys repeat, some `NULL`s,
/// duplicate rows.
pub fn random_tables(seed: u64, rows: usize) -> Tables {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut tables = Tables::new();
    for name in ["t", "u"] {
        let mut table: Vec<Row> = (0..rows).map(|_| random_row(&mut rng)).collect();
        // Duplicates for sure.
        if let Some(first) = table.first().cloned() {
            table.push(first);
        }
        tables.insert(name.to_owned(), table);
    }
    tables
}

/// `batches` batches of updates: insertions of random rows and retractions of rows present,
/// so that the tables stay multisets.
pub fn random_batches(seed: u64, batches: usize, per_batch: usize) -> Vec<Batch> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut current: Tables = Tables::new();
    let mut out = Vec::new();
    for _ in 0..batches {
        let mut batch = Batch::new();
        for name in ["t", "u"] {
            let table = current.entry(name.to_owned()).or_default();
            let mut updates = Vec::new();
            for _ in 0..per_batch {
                if !table.is_empty() && rng.gen_range(0..3) == 0 {
                    let index = rng.gen_range(0..table.len());
                    updates.push((table.swap_remove(index), -1));
                } else {
                    let row = random_row(&mut rng);
                    table.push(row.clone());
                    updates.push((row, 1));
                }
            }
            batch.insert(name.to_owned(), updates);
        }
        out.push(batch);
    }
    out
}

/// The tables after applying batches `0..=upto`.
pub fn accumulate(batches: &[Batch], upto: usize) -> Tables {
    let mut counts: BTreeMap<String, BTreeMap<Row, Diff>> = BTreeMap::new();
    for name in ["t", "u"] {
        counts.entry(name.to_owned()).or_default();
    }
    for batch in &batches[..=upto] {
        for (name, updates) in batch {
            for (row, diff) in updates {
                *counts.entry(name.clone()).or_default().entry(row.clone()).or_insert(0) += diff;
            }
        }
    }
    counts
        .into_iter()
        .map(|(name, rows)| {
            let rows = rows
                .into_iter()
                .flat_map(|(row, n)| {
                    std::iter::repeat_n(row, usize::try_from(n).expect("no negative counts"))
                })
                .collect();
            (name, rows)
        })
        .collect()
}

pub fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort();
    rows
}
