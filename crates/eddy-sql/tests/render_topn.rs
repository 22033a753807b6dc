//! Per-partition Top-N (`Plan::RowNumber`, and the `TopK` it becomes when nothing reads the
//! number) on the differential renderer against the reference evaluator: random inputs with
//! insertions and deletions at 1 and 3 workers, partitions larger than the first stage's
//! buckets, optimized plans, and the changelog Flink prints (`-U`/`+U` keyed by partition and
//! number).

mod render_common;

use eddy_sql::datum::{Datum, Row};
use eddy_sql::expr::BinaryOp;
use eddy_sql::optimize::optimize;
use eddy_sql::oracle;
use eddy_sql::plan::{Plan, SortKey};
use eddy_sql::render::run_incremental;
use render_common::*;

fn row(a: i32, b: i32) -> Row {
    Row::new(vec![Datum::Int(a), Datum::Int(b)])
}

fn key(column: usize, descending: bool) -> SortKey {
    SortKey { column, descending, nulls_first: !descending }
}

/// The plans: numbered with and without a limit, and filters on the number that the
/// optimizer folds into a limit (with and without the number selected).
fn plans() -> Vec<(String, Plan)> {
    let numbered = |limit| row_number(vec![0], vec![key(1, true)], limit);
    let rn = || col(2);
    let filtered = |op, n| {
        filter(numbered(None), binary(op, rn(), ScalarExpr::literal(Datum::BigInt(n), SqlType::BigInt)))
    };
    vec![
        ("unlimited".into(), numbered(None)),
        ("top_3".into(), numbered(Some(3))),
        ("global_top_2".into(), row_number(vec![], vec![key(0, false)], Some(2))),
        ("no_order".into(), row_number(vec![1], vec![], None)),
        ("rn_le_2".into(), filtered(BinaryOp::LtEq, 2)),
        ("rn_eq_1_dropped".into(), project(filtered(BinaryOp::Eq, 1), vec![col(0), col(1)])),
        ("rn_eq_2".into(), filtered(BinaryOp::Eq, 2)),
        (
            "rn_lt_3_and_b".into(),
            filter(
                numbered(None),
                binary(
                    BinaryOp::And,
                    binary(BinaryOp::Lt, rn(), ScalarExpr::literal(Datum::BigInt(3), SqlType::BigInt)),
                    binary(BinaryOp::Gt, col(1), int(1)),
                ),
            ),
        ),
    ]
}

use eddy_sql::expr::ScalarExpr;
use eddy_sql::types::SqlType;

#[test]
fn random_updates_give_the_oracles_rows_at_one_and_three_workers() {
    for (name, plan) in plans() {
        let optimized = optimize(plan.clone()).expect("optimizes");
        for (seed, rows_per_batch) in [(1u64, 4usize), (2, 30), (3, 120)] {
            let batches = random_batches(seed * 31 + name.len() as u64, 5, rows_per_batch);
            for candidate in [&plan, &optimized] {
                for workers in [1, 3] {
                    let run = run_incremental(candidate, &batches, workers)
                        .unwrap_or_else(|e| panic!("{name}: {e}\n{}", candidate.explain()));
                    assert!(run.errors.is_empty(), "{name}: {:?}", run.errors);
                    for (time, result) in run.results.iter().enumerate() {
                        let expected =
                            sorted(oracle::evaluate(&plan, &accumulate(&batches, time)).expect("evaluates"));
                        assert_eq!(
                            *result,
                            expected,
                            "{name}, seed {seed}, batch {time}, {workers} workers\n{}",
                            candidate.explain()
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn deleting_the_top_row_moves_the_next_ones_up_as_updates() {
    // SELECT *, ROW_NUMBER() OVER (PARTITION BY a ORDER BY b DESC) AS rn ... WHERE rn <= 2
    let plan = row_number(vec![0], vec![key(1, true)], Some(2));
    let batches = vec![
        Batch::from([(
            "t".to_owned(),
            vec![(row(1, 10), 1), (row(1, 20), 1), (row(1, 5), 1), (row(2, 1), 1)],
        )]),
        Batch::from([("t".to_owned(), vec![(row(1, 20), -1)])]),
        Batch::from([("t".to_owned(), vec![(row(1, 30), 1)])]),
        Batch::from([("t".to_owned(), vec![(row(2, 1), -1)])]),
    ];
    let mut printed = Vec::new();
    for workers in [1, 3] {
        let run = run_incremental(&plan, &batches, workers).expect("runs");
        let text: Vec<Vec<String>> =
            run.changes.iter().map(|changes| changes.iter().map(|c| c.to_string()).collect()).collect();
        printed.push(text);
    }
    assert_eq!(
        printed[0],
        vec![
            vec!["+I[1, 20, 1]", "+I[1, 10, 2]", "+I[2, 1, 1]"],
            vec!["-U[1, 20, 1]", "+U[1, 10, 1]", "-U[1, 10, 2]", "+U[1, 5, 2]"],
            vec!["-U[1, 10, 1]", "+U[1, 30, 1]", "-U[1, 5, 2]", "+U[1, 10, 2]"],
            vec!["-D[2, 1, 1]"],
        ]
    );
    assert_eq!(printed[0], printed[1]);
}
