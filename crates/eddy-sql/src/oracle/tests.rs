use super::*;
use crate::expr::BinaryOp;
use crate::plan::{AggregateCall, AggregateFunction, Column, SortKey};
use crate::types::SqlType;

fn int(v: i32) -> Datum {
    Datum::Int(v)
}

fn col(index: usize) -> ScalarExpr {
    ScalarExpr::Column { index, ty: SqlType::Int }
}

fn outer(index: usize) -> ScalarExpr {
    ScalarExpr::Outer { depth: 1, index, ty: SqlType::Int }
}

fn eq(left: ScalarExpr, right: ScalarExpr) -> ScalarExpr {
    ScalarExpr::Binary {
        op: BinaryOp::Eq,
        left: Box::new(left),
        right: Box::new(right),
        ty: SqlType::Boolean,
    }
}

fn get(name: &str, arity: usize) -> Plan {
    Plan::Get {
        name: name.into(),
        columns: (0..arity).map(|i| Column::new(format!("c{i}"), SqlType::Int)).collect(),
    }
}

fn tables() -> BTreeMap<String, Vec<Row>> {
    let rows = |rows: &[&[Option<i32>]]| -> Vec<Row> {
        rows.iter().map(|r| r.iter().map(|v| v.map_or(Datum::Null, int)).collect()).collect()
    };
    BTreeMap::from([
        (
            "a".to_owned(),
            rows(&[&[Some(1), Some(10)], &[Some(2), Some(20)], &[Some(2), Some(20)], &[None, Some(30)]]),
        ),
        ("b".to_owned(), rows(&[&[Some(2)], &[Some(3)], &[None]])),
    ])
}

fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort();
    rows
}

fn row(values: &[Datum]) -> Row {
    Row::new(values.to_vec())
}

#[test]
fn outer_joins_pad_with_nulls_and_null_keys_never_match() {
    let join = |kind| Plan::Join {
        left: Box::new(get("a", 2)),
        right: Box::new(get("b", 1)),
        kind,
        on: eq(col(0), col(2)),
    };
    let result = evaluate(&join(JoinKind::Full), &tables()).unwrap();
    assert_eq!(
        sorted(result),
        sorted(vec![
            row(&[int(1), int(10), Datum::Null]),
            row(&[int(2), int(20), int(2)]),
            row(&[int(2), int(20), int(2)]),
            row(&[Datum::Null, int(30), Datum::Null]),
            row(&[Datum::Null, Datum::Null, int(3)]),
            row(&[Datum::Null, Datum::Null, Datum::Null]),
        ])
    );
    assert_eq!(evaluate(&join(JoinKind::Semi), &tables()).unwrap().len(), 2);
    assert_eq!(evaluate(&join(JoinKind::Anti), &tables()).unwrap().len(), 2);
}

#[test]
fn in_subqueries_are_three_valued_and_scalar_subqueries_check_their_rows() {
    let apply = |kind, subquery: Plan| Plan::Apply {
        input: Box::new(get("a", 2)),
        subquery: Box::new(subquery),
        kind,
        name: "x".into(),
    };
    // a.c0 IN (SELECT c0 FROM b): b holds a NULL, so a non-match is NULL, not FALSE.
    let result = evaluate(&apply(ApplyKind::In { exprs: vec![col(0)] }, get("b", 1)), &tables()).unwrap();
    let flags: Vec<Datum> = result.iter().map(|r| r.get(2).unwrap().clone()).collect();
    assert_eq!(flags, vec![Datum::Null, Datum::Boolean(true), Datum::Boolean(true), Datum::Null]);
    // Correlated EXISTS (SELECT * FROM b WHERE b.c0 = a.c0).
    let correlated = Plan::Filter { input: Box::new(get("b", 1)), predicate: eq(col(0), outer(0)) };
    let result = evaluate(&apply(ApplyKind::Exists, correlated.clone()), &tables()).unwrap();
    let flags: Vec<Datum> = result.iter().map(|r| r.get(2).unwrap().clone()).collect();
    assert_eq!(
        flags,
        vec![Datum::Boolean(false), Datum::Boolean(true), Datum::Boolean(true), Datum::Boolean(false)]
    );
    // A scalar subquery of more than one row is an error.
    let error = evaluate(&apply(ApplyKind::Scalar, get("b", 1)), &tables()).unwrap_err();
    assert!(matches!(error, OracleError::SubqueryRows { rows: 3, .. }), "{error}");
    // An empty one is NULL.
    let result = evaluate(&apply(ApplyKind::Scalar, correlated), &tables()).unwrap();
    assert_eq!(result[0].get(2), Some(&Datum::Null));
    assert_eq!(result[1].get(2), Some(&int(2)));
}

#[test]
fn global_aggregates_of_nothing_give_one_row_and_set_ops_count() {
    let empty = Plan::Filter {
        input: Box::new(get("a", 2)),
        predicate: ScalarExpr::literal(Datum::Boolean(false), SqlType::Boolean),
    };
    let aggregate = Plan::Aggregate {
        input: Box::new(empty),
        group: vec![],
        group_names: vec![],
        aggregates: vec![AggregateCall {
            function: AggregateFunction::CountStar,
            args: vec![],
            distinct: false,
            filter: None,
            ty: SqlType::BigInt,
        }],
        aggregate_names: vec!["n".into()],
    };
    assert_eq!(evaluate(&aggregate, &tables()).unwrap(), vec![row(&[Datum::BigInt(0)])]);
    let keys = Plan::Project { input: Box::new(get("a", 2)), exprs: vec![col(0)], names: vec!["k".into()] };
    let set = |op, all| Plan::SetOp { op, all, left: Box::new(keys.clone()), right: Box::new(get("b", 1)) };
    assert_eq!(evaluate(&set(SetOp::Except, true), &tables()).unwrap(), vec![row(&[int(1)]), row(&[int(2)])]);
    assert_eq!(evaluate(&set(SetOp::Intersect, false), &tables()).unwrap().len(), 2); // NULL and 2
    assert_eq!(evaluate(&set(SetOp::Union, true), &tables()).unwrap().len(), 7);
}

#[test]
fn top_k_orders_nulls_as_asked_and_breaks_ties_by_row() {
    let top = Plan::TopK {
        input: Box::new(get("a", 2)),
        group: vec![],
        order: vec![SortKey { column: 0, descending: true, nulls_first: false }],
        limit: Some(2),
        offset: 1,
    };
    assert_eq!(evaluate(&top, &tables()).unwrap(), vec![row(&[int(2), int(20)]), row(&[int(1), int(10)])]);
}

#[test]
fn row_number_numbers_each_partition_in_order_and_keeps_up_to_the_limit() {
    let numbered = |partition: Vec<usize>, limit| Plan::RowNumber {
        input: Box::new(get("a", 2)),
        partition,
        order: vec![SortKey { column: 1, descending: true, nulls_first: false }],
        limit,
        name: "rn".into(),
    };
    let rn = |v: i64| Datum::BigInt(v);
    assert_eq!(
        sorted(evaluate(&numbered(vec![0], None), &tables()).unwrap()),
        vec![
            row(&[Datum::Null, int(30), rn(1)]),
            row(&[int(1), int(10), rn(1)]),
            row(&[int(2), int(20), rn(1)]),
            row(&[int(2), int(20), rn(2)]),
        ]
    );
    assert_eq!(evaluate(&numbered(vec![0], Some(1)), &tables()).unwrap().len(), 3);
    // One partition: 30 first, the two equal rows 2 and 3, 10 last.
    assert_eq!(
        sorted(evaluate(&numbered(vec![], Some(3)), &tables()).unwrap()),
        vec![
            row(&[Datum::Null, int(30), rn(1)]),
            row(&[int(2), int(20), rn(2)]),
            row(&[int(2), int(20), rn(3)]),
        ]
    );
}
