//! The differential renderer against the reference evaluator (`eddy_sql::oracle`), operator by
//! operator: random tables with `NULL`s and duplicates, run as an eddy job at 1, 2 and 4
//! workers; and random update batches with retractions, where the consolidated output after
//! every batch must equal the oracle's answer on the tables accumulated so far, and the
//! changelog must not depend on the number of workers.

mod render_common;

use eddy_sql::oracle;
use eddy_sql::plan::Query;
use eddy_sql::render::{run_bounded, run_incremental};
use render_common::*;

#[test]
fn bounded_results_equal_the_oracle_at_every_worker_count() {
    for (name, plan) in operator_plans() {
        for seed in 0..2 {
            let tables = random_tables(seed, 7);
            let expected = sorted(oracle::evaluate(&plan, &tables).expect("the oracle evaluates the plan"));
            let query = Query { plan: plan.clone(), order: vec![] };
            for workers in [1, 2, 4] {
                let actual =
                    sorted(run_bounded(&query, &tables, workers).unwrap_or_else(|e| panic!("{name}: {e}")));
                assert_eq!(actual, expected, "{name}, seed {seed}, {workers} workers, tables {tables:?}");
            }
        }
    }
}

#[test]
fn empty_tables_give_the_oracle_answer() {
    let tables = Tables::from([("t".to_owned(), vec![]), ("u".to_owned(), vec![])]);
    for (name, plan) in operator_plans() {
        let expected = sorted(oracle::evaluate(&plan, &tables).expect("the oracle evaluates the plan"));
        let query = Query { plan, order: vec![] };
        let actual = sorted(run_bounded(&query, &tables, 2).unwrap_or_else(|e| panic!("{name}: {e}")));
        assert_eq!(actual, expected, "{name}");
    }
}

#[test]
fn incremental_results_equal_the_oracle_after_every_batch() {
    for (name, plan) in operator_plans() {
        let batches = random_batches(name.len() as u64, 5, 5);
        let mut changelogs = Vec::new();
        for workers in [1, 2, 4] {
            let run = run_incremental(&plan, &batches, workers).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(run.errors.is_empty(), "{name}: {:?}", run.errors);
            for (time, result) in run.results.iter().enumerate() {
                let tables = accumulate(&batches, time);
                let expected =
                    sorted(oracle::evaluate(&plan, &tables).expect("the oracle evaluates the plan"));
                assert_eq!(
                    *result, expected,
                    "{name} after batch {time} at {workers} workers, tables {tables:?}"
                );
            }
            changelogs.push(run.changes);
        }
        assert!(
            changelogs.windows(2).all(|w| w[0] == w[1]),
            "{name}: changelogs differ between worker counts"
        );
    }
}
