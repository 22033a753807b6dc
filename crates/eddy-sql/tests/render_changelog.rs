//! The incremental driver's changelog, as Flink prints it: an aggregate's group replaced within
//! one time is a `-U`/`+U` pair, a new group `+I`, a group emptied `-D`; the same at every
//! worker count.

mod render_common;

use eddy_sql::datum::{Datum, Row};
use eddy_sql::plan::AggregateFunction;
use eddy_sql::render::run_incremental;
use render_common::*;

fn row(a: i32, b: i32) -> Row {
    Row::new(vec![Datum::Int(a), Datum::Int(b)])
}

#[test]
fn an_aggregate_prints_updates_per_group() {
    // SELECT a, COUNT(*), SUM(b) FROM t GROUP BY a
    let plan = aggregate(
        get("t"),
        vec![col(0)],
        vec![
            call(AggregateFunction::CountStar, None, false, None),
            call(AggregateFunction::Sum, Some(col(1)), false, None),
        ],
    );
    let batches = vec![
        Batch::from([("t".to_owned(), vec![(row(1, 10), 1), (row(2, 5), 1)])]),
        Batch::from([("t".to_owned(), vec![(row(1, 7), 1)])]),
        Batch::from([("t".to_owned(), vec![(row(2, 5), -1), (row(1, 10), -1)])]),
        Batch::from([("t".to_owned(), vec![(row(3, 1), 1), (row(3, 1), -1)])]),
    ];
    let mut printed = Vec::new();
    for workers in [1, 2, 4] {
        let run = run_incremental(&plan, &batches, workers).expect("runs");
        let text: Vec<Vec<String>> =
            run.changes.iter().map(|changes| changes.iter().map(|c| c.to_string()).collect()).collect();
        printed.push(text);
    }
    assert_eq!(
        printed[0],
        vec![
            vec!["+I[1, 1, 10]", "+I[2, 1, 5]"],
            vec!["-U[1, 1, 10]", "+U[1, 2, 17]"],
            vec!["-U[1, 2, 17]", "+U[1, 1, 7]", "-D[2, 1, 5]"],
            vec![],
        ]
    );
    assert!(printed.windows(2).all(|w| w[0] == w[1]), "{printed:?}");
}

#[test]
fn a_global_aggregate_starts_from_its_empty_row() {
    // SELECT COUNT(*), SUM(b) FROM t: one row from the start, updated in place.
    let plan = aggregate(
        get("t"),
        vec![],
        vec![
            call(AggregateFunction::CountStar, None, false, None),
            call(AggregateFunction::Sum, Some(col(1)), false, None),
        ],
    );
    let batches = vec![
        Batch::new(),
        Batch::from([("t".to_owned(), vec![(row(1, 10), 1)])]),
        Batch::from([("t".to_owned(), vec![(row(1, 10), -1)])]),
    ];
    let run = run_incremental(&plan, &batches, 2).expect("runs");
    let text: Vec<Vec<String>> =
        run.changes.iter().map(|changes| changes.iter().map(|c| c.to_string()).collect()).collect();
    assert_eq!(
        text,
        vec![vec!["+I[0, <NULL>]"], vec!["-U[0, <NULL>]", "+U[1, 10]"], vec!["-U[1, 10]", "+U[0, <NULL>]"]]
    );
}
