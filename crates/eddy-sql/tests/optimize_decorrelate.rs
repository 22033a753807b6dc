//! Decorrelation of hand-written subquery plans: each optimized plan is free of `Apply` and
//! gives the oracle's (nested-loop) answer on tables with `NULL`s and duplicates.

mod optimize_support;

use eddy_sql::plan::{AggregateFunction, ApplyKind, JoinKind};
use optimize_support::*;

#[test]
fn correlated_exists_in_where_becomes_a_semi_join() {
    // SELECT * FROM t WHERE EXISTS (SELECT * FROM u WHERE u0 = t0)
    let sub = filter(get("u", 2), eq(col(0), outer(1, 0)));
    let plan = project(filter(apply(get("t", 2), sub, ApplyKind::Exists), bool_col(2)), vec![col(0), col(1)]);
    let optimized = check(&plan);
    insta::assert_snapshot!(optimized.explain());
}

#[test]
fn correlated_not_exists_becomes_an_anti_join() {
    let sub = filter(get("u", 2), eq(col(0), outer(1, 0)));
    let plan =
        project(filter(apply(get("t", 2), sub, ApplyKind::Exists), not(bool_col(2))), vec![col(0), col(1)]);
    let optimized = check(&plan);
    insta::assert_snapshot!(optimized.explain());
}

#[test]
fn in_and_not_in_with_nulls() {
    // t0 IN (SELECT u0 FROM u), both with NULLs; as a WHERE conjunct and as a value.
    let sub = project(get("u", 2), vec![col(0)]);
    let in_kind = ApplyKind::In { exprs: vec![col(0)] };
    let where_in = filter(apply(get("t", 2), sub.clone(), in_kind.clone()), bool_col(2));
    insta::assert_snapshot!("where_in", check(&where_in).explain());
    let where_not_in = filter(apply(get("t", 2), sub.clone(), in_kind.clone()), not(bool_col(2)));
    insta::assert_snapshot!("where_not_in", check(&where_not_in).explain());
    let value = apply(get("t", 2), sub.clone(), in_kind.clone());
    insta::assert_snapshot!("in_value", check(&value).explain());
    // Against a subquery without NULLs, and an empty one.
    let clean = project(
        filter(get("u", 2), binary(eddy_sql::BinaryOp::IsDistinctFrom, col(0), null_int())),
        vec![col(0)],
    );
    check(&filter(apply(get("t", 2), clean.clone(), in_kind.clone()), not(bool_col(2))));
    check(&apply(get("t", 2), clean, in_kind.clone()));
    check(&apply(get("t", 2), project(get("empty", 2), vec![col(0)]), in_kind.clone()));
    check(&filter(apply(get("t", 2), project(get("empty", 2), vec![col(0)]), in_kind), not(bool_col(2))));
}

#[test]
fn correlated_in_with_two_columns() {
    // (t0, t1) IN (SELECT u0, u1 + t1 FROM u WHERE u0 >= t0)
    let sub = project(
        filter(get("u", 2), binary(eddy_sql::BinaryOp::GtEq, col(0), outer(1, 0))),
        vec![col(0), binary(eddy_sql::BinaryOp::Add, col(1), outer(1, 1))],
    );
    let kind = ApplyKind::In { exprs: vec![col(0), col(1)] };
    check(&apply(get("t", 2), sub.clone(), kind.clone()));
    check(&filter(apply(get("t", 2), sub.clone(), kind.clone()), bool_col(2)));
    check(&filter(apply(get("t", 2), sub, kind), not(bool_col(2))));
}

#[test]
fn correlated_count_keeps_its_row_for_an_empty_group() {
    // SELECT t0, (SELECT COUNT(*) FROM u WHERE u0 = t0) FROM t: the COUNT bug.
    let sub = aggregate(
        filter(get("u", 2), eq(col(0), outer(1, 0))),
        vec![],
        vec![call(AggregateFunction::CountStar, vec![])],
    );
    let plan = apply(get("t", 2), sub, ApplyKind::Scalar);
    let optimized = check(&plan);
    insta::assert_snapshot!(optimized.explain());
    // ... and a filter on the count: t rows whose count is 0.
    let sub = aggregate(
        filter(get("u", 2), eq(col(0), outer(1, 0))),
        vec![],
        vec![call(AggregateFunction::CountStar, vec![])],
    );
    let zero = ScalarExprExt::eq_bigint(2, 0);
    check(&filter(apply(get("t", 2), sub, ApplyKind::Scalar), zero));
}

#[test]
fn correlated_aggregate_groups_by_the_correlated_column() {
    // SELECT * FROM t WHERE t1 > (SELECT MAX(u1) FROM u WHERE u0 = t0): no domain join, no
    // left join from the domain (MAX of nothing is NULL, as the padding is).
    let sub = aggregate(
        filter(get("u", 2), eq(col(0), outer(1, 0))),
        vec![],
        vec![call(AggregateFunction::Max, vec![col(1)])],
    );
    let plan =
        project(filter(apply(get("t", 2), sub, ApplyKind::Scalar), gt(col(1), col(2))), vec![col(0), col(1)]);
    let optimized = check(&plan);
    insta::assert_snapshot!(optimized.explain());
    // A COALESCE around it is not NULL for an empty group: the domain's left join stays.
    let max = aggregate(
        filter(get("u", 2), eq(col(0), outer(1, 0))),
        vec![],
        vec![call(AggregateFunction::Max, vec![col(1)])],
    );
    let coalesced =
        eddy_sql::ScalarExpr::Coalesce { args: vec![col(0), int(-1)], ty: eddy_sql::SqlType::Int };
    let optimized = check(&apply(get("t", 2), project(max, vec![coalesced]), ApplyKind::Scalar));
    insta::assert_snapshot!("coalesced", optimized.explain());
}

#[test]
fn uncorrelated_scalar_subquery_is_a_join_with_its_aggregate() {
    // SELECT * FROM t WHERE t1 > (SELECT MAX(v0) FROM v WHERE v1 < 3)
    let sub = aggregate(
        filter(get("v", 2), binary(eddy_sql::BinaryOp::Lt, col(1), int(3))),
        vec![],
        vec![call(AggregateFunction::Max, vec![col(0)])],
    );
    let plan =
        project(filter(apply(get("t", 2), sub, ApplyKind::Scalar), gt(col(1), col(2))), vec![col(0), col(1)]);
    let optimized = check(&plan);
    insta::assert_snapshot!(optimized.explain());
}

#[test]
fn scalar_subquery_with_more_than_one_row_fails_only_when_it_has() {
    // (SELECT v0 FROM v WHERE v1 = t0): one row for t0 in 1, 2; none otherwise: no error.
    let sub = project(filter(get("v", 2), eq(col(1), outer(1, 0))), vec![col(0)]);
    let plan = apply(get("t", 2), sub, ApplyKind::Scalar);
    let optimized = check(&plan);
    insta::assert_snapshot!(optimized.explain());
    // (SELECT u1 FROM u WHERE u0 = t0): two rows for t0 = 2: an error, in both plans.
    let sub = project(filter(get("u", 2), eq(col(0), outer(1, 0))), vec![col(1)]);
    let plan = apply(get("t", 2), sub, ApplyKind::Scalar);
    let optimized = eddy_sql::optimize::optimize(plan.clone()).unwrap();
    assert!(eddy_sql::oracle::evaluate(&plan, &tables()).is_err());
    let error = eddy_sql::oracle::evaluate(&optimized, &tables()).unwrap_err();
    assert!(error.to_string().contains(eddy_sql::optimize::MORE_THAN_ONE_ROW), "{error}");
    // Over an empty outer input, no error.
    let sub = project(get("u", 2), vec![col(1)]);
    check(&apply(get("empty", 2), sub, ApplyKind::Scalar));
}

#[test]
fn nested_correlation_two_levels_deep() {
    // SELECT * FROM t WHERE EXISTS (SELECT * FROM u WHERE u0 = t0 AND EXISTS
    //   (SELECT * FROM v WHERE v1 = u0 AND v0 = t1))
    let inner = filter(get("v", 2), and(eq(col(1), outer(1, 0)), eq(col(0), outer(2, 1))));
    let middle =
        filter(apply(get("u", 2), inner, ApplyKind::Exists), and(eq(col(0), outer(1, 0)), bool_col(2)));
    let plan = filter(apply(get("t", 2), middle.clone(), ApplyKind::Exists), bool_col(2));
    let optimized = check(&plan);
    insta::assert_snapshot!(optimized.explain());
    // The same as values in the SELECT list, and with a scalar aggregate in the middle.
    check(&apply(get("t", 2), middle, ApplyKind::Exists));
    let inner = aggregate(
        filter(get("v", 2), binary(eddy_sql::BinaryOp::LtEq, col(1), outer(2, 0))),
        vec![],
        vec![call(AggregateFunction::Sum, vec![col(0)])],
    );
    let middle = aggregate(
        filter(apply(get("u", 2), inner, ApplyKind::Scalar), eq(col(0), outer(1, 0))),
        vec![],
        vec![call(AggregateFunction::Count, vec![col(2)]), call(AggregateFunction::Max, vec![col(2)])],
    );
    check(&apply(get("t", 2), middle, ApplyKind::Scalar));
}

#[test]
fn correlation_below_joins_set_operations_and_top_k() {
    // Correlated predicates inside the right side of a left join, a union and a TopK.
    let right = filter(get("v", 2), eq(col(1), outer(1, 0)));
    let joined = join(get("u", 2), right, JoinKind::Left, eq(col(0), col(3)));
    let sub = aggregate(joined, vec![], vec![call(AggregateFunction::Count, vec![col(2)])]);
    check(&apply(get("t", 2), sub, ApplyKind::Scalar));
    for kind in [JoinKind::Right, JoinKind::Full, JoinKind::Inner, JoinKind::Semi, JoinKind::Anti] {
        let right = filter(get("v", 2), eq(col(1), outer(1, 0)));
        let joined = join(get("u", 2), right, kind, gt(col(0), outer(1, 1)));
        check(&apply(get("t", 2), joined, ApplyKind::Exists));
    }
    let union = eddy_sql::plan::Plan::SetOp {
        op: eddy_sql::plan::SetOp::Union,
        all: false,
        left: Box::new(filter(get("u", 2), eq(col(0), outer(1, 0)))),
        right: Box::new(filter(get("v", 2), eq(col(1), outer(1, 0)))),
    };
    check(&apply(
        get("t", 2),
        aggregate(union, vec![], vec![call(AggregateFunction::CountStar, vec![])]),
        ApplyKind::Scalar,
    ));
    let top = eddy_sql::plan::Plan::TopK {
        input: Box::new(filter(get("u", 2), gt(col(0), outer(1, 0)))),
        group: vec![],
        order: vec![eddy_sql::plan::SortKey { column: 1, descending: true, nulls_first: false }],
        limit: Some(1),
        offset: 0,
    };
    check(&apply(get("t", 2), project(top, vec![col(1)]), ApplyKind::Scalar));
}

/// A `BIGINT` comparison, for counts.
struct ScalarExprExt;

impl ScalarExprExt {
    fn eq_bigint(column: usize, value: i64) -> eddy_sql::ScalarExpr {
        eq(
            eddy_sql::ScalarExpr::Column { index: column, ty: eddy_sql::SqlType::BigInt },
            eddy_sql::ScalarExpr::literal(eddy_sql::Datum::BigInt(value), eddy_sql::SqlType::BigInt),
        )
    }
}
