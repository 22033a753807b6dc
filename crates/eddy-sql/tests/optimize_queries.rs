//! Whole queries, shaped as the binder builds them, through every pass of the optimizer:
//! the `EXPLAIN` of the result, and the oracle's answer before and after.

mod optimize_support;

use eddy_sql::optimize::optimize_query;
use eddy_sql::plan::{AggregateFunction, ApplyKind, JoinKind, Query, SortKey};
use optimize_support::*;

#[test]
fn subqueries_of_every_kind_in_one_query() {
    // SELECT t0, (SELECT COUNT(*) FROM u WHERE u0 = t0) AS n
    // FROM t, v
    // WHERE t1 = v0 AND EXISTS (SELECT * FROM u WHERE u1 = t0) AND t0 NOT IN (SELECT v1 FROM v)
    // ORDER BY t0
    let from = join(get("t", 2), get("v", 2), JoinKind::Inner, boolean(true));
    let exists = apply(from, filter(get("u", 2), eq(col(1), outer(1, 0))), ApplyKind::Exists);
    let in_v = apply(exists, project(get("v", 2), vec![col(1)]), ApplyKind::In { exprs: vec![col(0)] });
    let filtered = filter(in_v, and(and(eq(col(1), col(2)), bool_col(4)), not(bool_col(5))));
    let count = aggregate(
        filter(get("u", 2), eq(col(0), outer(1, 0))),
        vec![],
        vec![call(AggregateFunction::CountStar, vec![])],
    );
    let with_count = apply(filtered, count, ApplyKind::Scalar);
    let count_column = eddy_sql::ScalarExpr::Column { index: 6, ty: eddy_sql::SqlType::BigInt };
    let plan = project(with_count, vec![col(0), count_column]);
    let optimized = check(&plan);
    insta::assert_snapshot!(optimized.explain());
    let order = vec![SortKey { column: 0, descending: false, nulls_first: true }];
    let query = optimize_query(Query { plan, order: order.clone() }).unwrap();
    assert_eq!(query.order, order);
    assert_eq!(query.plan, optimized);
}

#[test]
fn three_way_join_with_filters_and_an_aggregate() {
    // SELECT v1, SUM(t1) FROM t, u, v WHERE t0 = u0 AND u1 = v1 AND v0 > 5 AND t1 IS NOT NULL
    // GROUP BY v1 HAVING v1 > 1
    let from = join(
        join(get("t", 2), get("u", 2), JoinKind::Inner, boolean(true)),
        get("v", 2),
        JoinKind::Inner,
        boolean(true),
    );
    let predicate =
        and(and(eq(col(0), col(2)), eq(col(3), col(5))), and(gt(col(4), int(5)), not(is_null(col(1)))));
    let grouped =
        aggregate(filter(from, predicate), vec![col(5)], vec![call(AggregateFunction::Sum, vec![col(1)])]);
    let plan = filter(grouped, gt(col(0), int(1)));
    insta::assert_snapshot!(check(&plan).explain());
}
