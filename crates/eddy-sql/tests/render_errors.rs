//! Runtime errors of single rows: they never panic, they fail the query with the operator, the
//! row and the error, or go to the dead letters when asked; and plans the renderer cannot take.

mod render_common;

use eddy_sql::datum::{Datum, Row};
use eddy_sql::expr::{BinaryOp, ScalarExpr};
use eddy_sql::plan::{AggregateFunction, ApplyKind, Plan, Query, SortKey};
use eddy_sql::render::{run_bounded, run_bounded_with, run_incremental, BoundedOptions, RenderError};
use eddy_sql::types::SqlType;
use render_common::*;

fn row(values: &[Option<i32>]) -> Row {
    values.iter().map(|v| v.map_or(Datum::Null, Datum::Int)).collect()
}

fn tables(t: Vec<Row>) -> Tables {
    Tables::from([("t".to_owned(), t), ("u".to_owned(), vec![])])
}

fn quotient() -> Query {
    Query { plan: project(get("t"), vec![binary(BinaryOp::Div, col(0), col(1))]), order: vec![] }
}

#[test]
fn division_by_zero_fails_the_query_with_operator_and_row() {
    let input = tables(vec![row(&[Some(6), Some(3)]), row(&[Some(1), Some(0)])]);
    let error = run_bounded(&quotient(), &input, 2).expect_err("division by zero");
    let RenderError::Row(error) = error else { panic!("expected a row error, got {error}") };
    assert_eq!(error.row, row(&[Some(1), Some(0)]));
    assert!(error.operator.starts_with("Project"), "{}", error.operator);
    assert!(error.message.contains("division by zero"), "{}", error.message);
    assert!(error.to_string().contains("on row (1, 0)"), "{error}");
}

#[test]
fn dead_letters_keep_the_good_rows() {
    let input = tables(vec![row(&[Some(6), Some(3)]), row(&[Some(1), Some(0)]), row(&[Some(8), Some(2)])]);
    let options = BoundedOptions { workers: 2, dead_letter: true };
    let output = run_bounded_with(&quotient(), &input, &options).expect("dead letters instead of failing");
    assert_eq!(sorted(output.rows), vec![row(&[Some(2)]), row(&[Some(4)])]);
    assert_eq!(output.dead_letters.len(), 1);
    assert_eq!(output.dead_letters[0].row, row(&[Some(1), Some(0)]));
}

#[test]
fn an_overflowing_sum_is_an_error_of_its_group() {
    let input =
        tables(vec![row(&[Some(1), Some(i32::MAX)]), row(&[Some(1), Some(1)]), row(&[Some(2), Some(5)])]);
    let plan =
        aggregate(get("t"), vec![col(0)], vec![call(AggregateFunction::Sum, Some(col(1)), false, None)]);
    let error = run_bounded(&Query { plan: plan.clone(), order: vec![] }, &input, 1).expect_err("overflow");
    let RenderError::Row(error) = error else { panic!("expected a row error, got {error}") };
    assert_eq!(error.row, row(&[Some(1)]), "the group key");
    assert!(error.message.contains("overflow"), "{}", error.message);
    let options = BoundedOptions { workers: 1, dead_letter: true };
    let output = run_bounded_with(&Query { plan, order: vec![] }, &input, &options).expect("dead letters");
    assert_eq!(output.rows, vec![row(&[Some(2), Some(5)])]);
}

#[test]
fn a_retracted_bad_row_retracts_its_error() {
    let bad = row(&[Some(1), Some(0)]);
    let batches = vec![
        Batch::from([("t".to_owned(), vec![(bad.clone(), 1), (row(&[Some(4), Some(2)]), 1)])]),
        Batch::from([("t".to_owned(), vec![(bad, -1)])]),
    ];
    let run = run_incremental(&quotient().plan, &batches, 2).expect("runs");
    assert_eq!(run.errors.len(), 1, "{:?}", run.errors);
    assert_eq!(run.errors[0].0, 0, "the error belongs to batch 0");
    assert_eq!(run.results, vec![vec![row(&[Some(2)])], vec![row(&[Some(2)])]]);
}

#[test]
fn an_ordered_query_is_sorted() {
    let input = tables(vec![row(&[Some(1), None]), row(&[Some(3), Some(1)]), row(&[Some(2), Some(9)])]);
    let order = vec![SortKey { column: 1, descending: true, nulls_first: false }];
    let rows = run_bounded(&Query { plan: get("t"), order }, &input, 2).expect("runs");
    assert_eq!(rows, vec![row(&[Some(2), Some(9)]), row(&[Some(3), Some(1)]), row(&[Some(1), None])]);
}

#[test]
fn correlated_plans_and_unknown_tables_are_refused() {
    let apply = Plan::Apply {
        input: Box::new(get("t")),
        subquery: Box::new(filter(
            get("u"),
            binary(BinaryOp::Eq, col(0), ScalarExpr::Outer { depth: 1, index: 0, ty: SqlType::Int }),
        )),
        kind: ApplyKind::Exists,
        name: "e".into(),
    };
    let input = tables(vec![]);
    assert_eq!(
        run_bounded(&Query { plan: apply, order: vec![] }, &input, 1),
        Err(RenderError::NotDecorrelated)
    );
    let missing = Plan::Get { name: "nope".into(), columns: vec![] };
    assert_eq!(
        run_bounded(&Query { plan: missing, order: vec![] }, &input, 1),
        Err(RenderError::UnknownTable { name: "nope".into() })
    );
}

#[test]
fn a_row_error_fails_a_running_job() {
    use eddy_connectors::CollectionSource;
    use eddy_core::prelude::{Job, JobConfig, WatermarkStrategy};
    use eddy_sql::render::{fail_job_on_errors, records_to_rows, Renderer};

    let plan = quotient().plan;
    let result = Job::new(JobConfig::with_workers(2)).run(move |env| {
        let rows = vec![row(&[Some(6), Some(3)]), row(&[Some(1), Some(0)])];
        let stream = env
            .from_source(CollectionSource::new(rows), WatermarkStrategy::monotonous_timestamps())
            .into_timely();
        let mut renderer = Renderer::new(env.scope());
        renderer.add_input("t", records_to_rows(stream));
        renderer.render(&plan).expect("renders");
        fail_job_on_errors(env, renderer.errors());
        Ok(())
    });
    let error = result.expect_err("the job fails");
    assert!(error.to_string().contains("division by zero"), "{error}");
    assert!(error.to_string().contains("on row (1, 0)"), "{error}");
}
