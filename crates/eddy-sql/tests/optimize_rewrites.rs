//! One `EXPLAIN` snapshot per rewrite of the optimizer (push-down, outer join narrowing,
//! constant folding, pruning, join ordering), each also checked against the oracle.

mod optimize_support;

use eddy_sql::expr::BinaryOp;
use eddy_sql::plan::{AggregateFunction, JoinKind, Plan, SetOp, SortKey};
use optimize_support::*;

fn explain(plan: &Plan) -> String {
    format!("{plan}--- optimized:\n{}", check(plan))
}

#[test]
fn filter_moves_through_project_into_the_scan() {
    let plan =
        filter(project(get("t", 2), vec![col(0), binary(BinaryOp::Add, col(0), col(1))]), gt(col(1), int(3)));
    insta::assert_snapshot!(explain(&plan));
}

#[test]
fn filter_splits_over_an_inner_join() {
    let plan = filter(
        join(get("t", 2), get("u", 2), JoinKind::Inner, boolean(true)),
        and(and(eq(col(0), col(2)), gt(col(1), int(1))), is_null(col(3))),
    );
    insta::assert_snapshot!(explain(&plan));
}

#[test]
fn left_join_takes_filters_on_its_preserved_side_only() {
    let plan = filter(
        join(get("t", 2), get("u", 2), JoinKind::Left, and(eq(col(0), col(2)), gt(col(1), int(10)))),
        and(gt(col(1), int(1)), is_null(col(3))),
    );
    insta::assert_snapshot!(explain(&plan));
}

#[test]
fn a_filter_rejecting_the_padding_makes_an_outer_join_inner() {
    let left = filter(join(get("t", 2), get("u", 2), JoinKind::Left, eq(col(0), col(2))), gt(col(3), int(2)));
    insta::assert_snapshot!("left_to_inner", explain(&left));
    let full = filter(join(get("t", 2), get("u", 2), JoinKind::Full, eq(col(0), col(2))), gt(col(1), int(2)));
    insta::assert_snapshot!("full_to_left", explain(&full));
    let right =
        filter(join(get("t", 2), get("u", 2), JoinKind::Right, eq(col(0), col(2))), eq(col(1), col(3)));
    insta::assert_snapshot!("right_to_inner", explain(&right));
}

#[test]
fn semi_and_anti_joins_take_what_they_can() {
    let on = and(eq(col(0), col(2)), and(gt(col(1), int(1)), gt(col(3), int(1))));
    insta::assert_snapshot!("semi", explain(&join(get("t", 2), get("u", 2), JoinKind::Semi, on.clone())));
    insta::assert_snapshot!("anti", explain(&join(get("t", 2), get("u", 2), JoinKind::Anti, on)));
}

#[test]
fn aggregate_takes_filters_on_group_keys_only() {
    let grouped = aggregate(get("t", 2), vec![col(0)], vec![call(AggregateFunction::Sum, vec![col(1)])]);
    let sum = eddy_sql::ScalarExpr::Column { index: 1, ty: eddy_sql::SqlType::BigInt };
    let big = eddy_sql::ScalarExpr::literal(eddy_sql::Datum::BigInt(15), eddy_sql::SqlType::BigInt);
    let plan = filter(grouped, and(gt(col(0), int(1)), gt(sum, big)));
    insta::assert_snapshot!("grouped", explain(&plan));
    // Without GROUP BY an empty input still gives a row: a constant filter stays above.
    let total = aggregate(get("t", 2), vec![], vec![call(AggregateFunction::CountStar, vec![])]);
    let plan = filter(total, is_null(null_int()));
    insta::assert_snapshot!("not_grouped", explain(&plan));
}

#[test]
fn distinct_set_operations_and_top_k() {
    let union = Plan::SetOp {
        op: SetOp::Except,
        all: true,
        left: Box::new(get("t", 2)),
        right: Box::new(Plan::Distinct { input: Box::new(get("u", 2)) }),
    };
    insta::assert_snapshot!("except_all", explain(&filter(union, eq(col(0), int(2)))));
    let top = Plan::TopK {
        input: Box::new(get("t", 2)),
        group: vec![0],
        order: vec![SortKey { column: 1, descending: true, nulls_first: false }],
        limit: Some(1),
        offset: 0,
    };
    insta::assert_snapshot!("top_k", explain(&filter(top, and(eq(col(0), int(2)), eq(col(1), int(20))))));
}

#[test]
fn constants_fold_and_empty_inputs_vanish() {
    insta::assert_snapshot!("filter_true", explain(&filter(get("t", 2), eq(int(1), int(1)))));
    insta::assert_snapshot!(
        "filter_null",
        explain(&filter(get("t", 2), and(gt(col(0), int(1)), eq(int(1), null_int()))))
    );
    let empty_right = filter(get("u", 2), eq(int(1), int(2)));
    insta::assert_snapshot!(
        "inner_with_empty",
        explain(&join(get("t", 2), empty_right.clone(), JoinKind::Inner, eq(col(0), col(2))))
    );
    insta::assert_snapshot!(
        "left_with_empty",
        explain(&join(get("t", 2), empty_right.clone(), JoinKind::Left, eq(col(0), col(2))))
    );
    insta::assert_snapshot!(
        "anti_with_empty",
        explain(&join(get("t", 2), empty_right, JoinKind::Anti, eq(col(0), col(2))))
    );
}

#[test]
fn unread_columns_are_pruned() {
    // SELECT t1, COUNT(*) FROM t JOIN u ON t0 = u0 GROUP BY t1, with unused aggregates.
    let joined = join(get("t", 2), get("u", 2), JoinKind::Inner, eq(col(0), col(2)));
    let grouped = aggregate(
        joined,
        vec![col(1)],
        vec![call(AggregateFunction::CountStar, vec![]), call(AggregateFunction::Max, vec![col(3)])],
    );
    let plan = project(grouped, vec![col(0), col(1)]);
    insta::assert_snapshot!(explain(&plan));
}

#[test]
fn joins_are_ordered_to_avoid_cross_products() {
    // FROM t, v, u WHERE t0 = u0 AND u1 = v1: t and v share nothing, so u goes between.
    let plan = filter(
        join(
            join(get("t", 2), get("v", 2), JoinKind::Inner, boolean(true)),
            get("u", 2),
            JoinKind::Inner,
            boolean(true),
        ),
        and(eq(col(0), col(4)), eq(col(5), col(3))),
    );
    insta::assert_snapshot!("reordered", explain(&plan));
    // A cross product the query asks for stays, after the connected relations.
    let plan = filter(
        join(
            join(get("t", 2), get("v", 2), JoinKind::Inner, boolean(true)),
            get("u", 2),
            JoinKind::Inner,
            boolean(true),
        ),
        eq(col(0), col(4)),
    );
    insta::assert_snapshot!("kept_cross_product", explain(&plan));
}
