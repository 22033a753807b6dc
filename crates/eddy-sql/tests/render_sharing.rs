//! Indexed shared state: operators that need the same collection arranged by the same key, in
//! one query or in several queries rendered into one dataflow, read one arrangement; equal
//! sub-plans (a CTE used twice) are rendered once. Counted in `Renderer::explain`.

mod render_common;

use eddy_sql::expr::BinaryOp;
use eddy_sql::plan::{AggregateFunction, JoinKind, Plan, SetOp};
use eddy_sql::render::explain_dataflow;
use render_common::*;

/// Renders `plans` into one dataflow (no data): the explain text and the arrangement count.
fn explain(plans: Vec<Plan>) -> (String, usize) {
    let text = explain_dataflow(&plans).expect("renders");
    let arrangements = text.lines().filter(|line| line.trim_start().starts_with("Arrangement#")).count();
    (text, arrangements)
}

fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|line| line.contains(needle)).count()
}

#[test]
fn two_queries_share_the_arrangements_of_their_join_inputs() {
    let equi = binary(BinaryOp::Eq, col(0), col(2));
    let inner = join(JoinKind::Inner, equi.clone());
    let left = join(JoinKind::Left, equi.clone());
    let semi = join(JoinKind::Semi, equi);
    let (text, arrangements) = explain(vec![inner, left, semi]);
    assert_eq!(arrangements, 2, "{text}");
    assert_eq!(count(&text, "— shared by 3"), 2, "{text}");
    assert!(text.contains("Arrangement#0 of #0 Get t by [#0] — shared by 3"), "{text}");
    assert!(text.contains("Arrangement#1 of #1 Get u by [#0] — shared by 3"), "{text}");
}

#[test]
fn a_join_and_an_aggregate_on_the_same_key_share_one_arrangement() {
    // COUNT(DISTINCT) reads the group's rows (a SUM carries its sums in the diffs and arranges
    // no rows; MIN and MAX aggregate hash buckets of the group first).
    let by_a =
        aggregate(get("t"), vec![col(0)], vec![call(AggregateFunction::Count, Some(col(1)), true, None)]);
    let joined = join(JoinKind::Inner, binary(BinaryOp::Eq, col(0), col(2)));
    let (text, arrangements) = explain(vec![by_a, joined]);
    assert_eq!(arrangements, 2, "{text}");
    assert!(text.contains("Get t by [#0] — shared by 2"), "{text}");
}

#[test]
fn different_keys_are_different_arrangements() {
    // Grouping by `a` twice (two queries) shares; DISTINCT arranges by the whole row.
    let by_a =
        aggregate(get("t"), vec![col(0)], vec![call(AggregateFunction::Count, Some(col(1)), true, None)]);
    let max_by_a =
        aggregate(get("t"), vec![col(0)], vec![call(AggregateFunction::Sum, Some(col(1)), true, None)]);
    let distinct = Plan::Distinct { input: Box::new(get("t")) };
    let (text, arrangements) = explain(vec![by_a, max_by_a, distinct]);
    assert_eq!(arrangements, 2, "{text}");
    assert!(text.contains("Get t by [#0] — shared by 2"), "{text}");
    assert!(text.contains("Get t by [#0, #1] — shared by 1"), "{text}");
}

#[test]
fn an_equal_sub_plan_is_rendered_once() {
    // WITH big AS (SELECT * FROM t WHERE a > 2) SELECT * FROM big UNION SELECT * FROM big
    let cte = filter(get("t"), binary(BinaryOp::Gt, col(0), int(2)));
    let union =
        Plan::SetOp { op: SetOp::Union, all: true, left: Box::new(cte.clone()), right: Box::new(cte) };
    let (text, _) = explain(vec![union]);
    assert_eq!(count(&text, "Filter"), 1, "{text}");
    assert!(text.contains("— used by 2"), "{text}");
}

#[test]
fn explain_snapshot() {
    let equi = binary(BinaryOp::Eq, col(0), col(2));
    let by_a = aggregate(
        join(JoinKind::Inner, equi.clone()),
        vec![col(0)],
        vec![call(AggregateFunction::Max, Some(col(3)), false, None)],
    );
    let (text, _) = explain(vec![by_a, join(JoinKind::Anti, equi)]);
    insta::assert_snapshot!(text);
}

#[test]
fn min_and_max_aggregate_hash_buckets_of_a_group_first() {
    let max_by_a =
        aggregate(get("t"), vec![col(0)], vec![call(AggregateFunction::Max, Some(col(1)), false, None)]);
    let (text, arrangements) = explain(vec![max_by_a]);
    assert!(text.contains("in 64 hash buckets per group, then per group"), "{text}");
    // Neither stage arranges `t` by the group key: the buckets and the partials are its own.
    assert_eq!(arrangements, 0, "{text}");
}
