//! Distinct aggregates split in two stages, as Flink's `table.optimizer.distinct-agg.split`
//! and Calcite's `AggregateExpandDistinctAggregatesRule` do.
//!
//! `COUNT(DISTINCT x)` or `SUM(DISTINCT x)` grouped by `g` reads every row of the group
//! whenever the group changes: an incremental job whose groups grow (Nexmark q15 and q16 count
//! the distinct bidders of a day) does work proportional to the group for every row. Split,
//! each argument `x` becomes
//!
//! ```text
//! inner: SELECT g, x, COUNT(*) FILTER (WHERE f1), COUNT(*) FILTER (WHERE f2), ...
//!        GROUP BY g, x
//! outer: SELECT g, COUNT(x) FILTER (WHERE c1 > 0), SUM(x) FILTER (WHERE c2 > 0), ...
//!        GROUP BY g
//! ```
//!
//! where `f1, f2, ...` are the calls' `FILTER`s: a distinct value counts once when any of its
//! rows passes the call's filter. Both stages are counts and sums, which the renderer carries
//! in the diffs (no rows arranged), so a row costs a constant amount of work. The other
//! aggregates of the node stay one aggregation over `g`. When there is more than one branch
//! (several distinct arguments, or distinct and plain aggregates), every branch has a row for
//! every group (each reads the same input grouped by `g`), padded with `NULL`s to the node's
//! columns; a `UNION ALL` of the branches grouped by `g` with `MAX` per column picks the one
//! branch's value (`MAX` skips `NULL`s, and a value that is itself `NULL` stays `NULL`).
//!
//! Only grouped aggregations are split: without a group key an empty input must still give
//! one row, which the branches' union would not. `AVG(DISTINCT x)` keeps the node whole, and
//! so do plain calls other than counts and integer sums (see `carried_in_diffs`).
//! `MIN(DISTINCT x)` and `MAX(DISTINCT x)` are their plain forms. Runs after the window pass:
//! a window aggregation's `Expire` input is shared by the branches (the renderer renders
//! equal plans once), so every stage's state still empties as windows close.

use super::util::{binary, column, columns_in_order, map_inputs, project};
use crate::datum::Datum;
use crate::expr::{BinaryOp, ScalarExpr};
use crate::plan::{AggregateCall, AggregateFunction, Plan, SetOp};
use crate::types::SqlType;

/// Splits every grouped aggregation with `COUNT(DISTINCT)` or `SUM(DISTINCT)` calls.
pub(super) fn split_distinct(plan: Plan) -> Plan {
    let plan = map_inputs::<std::convert::Infallible>(plan, &mut |input| Ok(split_distinct(input)))
        .unwrap_or_else(|never| match never {});
    match plan {
        Plan::Aggregate { input, group, group_names, mut aggregates, aggregate_names } => {
            for call in &mut aggregates {
                if matches!(call.function, AggregateFunction::Min | AggregateFunction::Max) {
                    call.distinct = false;
                }
            }
            if splittable(&group, &aggregates) {
                split(*input, group, group_names, aggregates, aggregate_names)
            } else {
                Plan::Aggregate { input, group, group_names, aggregates, aggregate_names }
            }
        }
        other => other,
    }
}

fn splittable(group: &[ScalarExpr], aggregates: &[AggregateCall]) -> bool {
    !group.is_empty()
        && aggregates.iter().any(|call| call.distinct)
        && aggregates.iter().filter(|call| call.distinct).all(|call| {
            matches!(call.function, AggregateFunction::Count | AggregateFunction::Sum) && call.args.len() == 1
        })
        && aggregates.iter().filter(|call| !call.distinct).all(carried_in_diffs)
}

/// Whether a plain call is a count or an integer sum, which the renderer carries in the diffs
/// (as it does both stages of a distinct call). A node with other plain calls (`MAX`, `AVG`)
/// stays whole: measured on Nexmark q16 (a `MAX` beside the distinct counts, many small
/// groups), the branch of the other calls, the union and the `MAX` that merges the branches
/// cost more than the whole node's recomputation saves.
fn carried_in_diffs(call: &AggregateCall) -> bool {
    match call.function {
        AggregateFunction::Count | AggregateFunction::CountStar => true,
        AggregateFunction::Sum => {
            matches!(call.args.first().map(ScalarExpr::ty), Some(SqlType::Int | SqlType::BigInt))
        }
        _ => false,
    }
}

/// One branch: an aggregation over the group whose columns are the group's, then the values of
/// the calls `calls` (positions in the original node).
struct Branch {
    plan: Plan,
    calls: Vec<usize>,
}

fn split(
    input: Plan,
    group: Vec<ScalarExpr>,
    group_names: Vec<String>,
    aggregates: Vec<AggregateCall>,
    aggregate_names: Vec<String>,
) -> Plan {
    let width = group.len();
    let mut branches = Vec::new();
    let plain: Vec<usize> = (0..aggregates.len()).filter(|&i| !aggregates[i].distinct).collect();
    if !plain.is_empty() {
        let plan = Plan::Aggregate {
            input: Box::new(input.clone()),
            group: group.clone(),
            group_names: group_names.clone(),
            aggregates: plain.iter().map(|&i| aggregates[i].clone()).collect(),
            aggregate_names: plain.iter().map(|&i| aggregate_names[i].clone()).collect(),
        };
        branches.push(Branch { plan, calls: plain });
    }
    // The distinct arguments, in order of first use.
    let mut arguments: Vec<&ScalarExpr> = Vec::new();
    for call in aggregates.iter().filter(|call| call.distinct) {
        if !arguments.contains(&&call.args[0]) {
            arguments.push(&call.args[0]);
        }
    }
    for argument in arguments {
        let calls: Vec<usize> = (0..aggregates.len())
            .filter(|&i| aggregates[i].distinct && aggregates[i].args[0] == *argument)
            .collect();
        let plan =
            distinct_branch(&input, &group, &group_names, argument, &calls, &aggregates, &aggregate_names);
        branches.push(Branch { plan, calls });
    }
    let group_columns: Vec<ScalarExpr> =
        group.iter().enumerate().map(|(i, expr)| column(i, expr.ty())).collect();
    let names: Vec<String> = group_names.iter().chain(&aggregate_names).cloned().collect();
    // Each branch padded to the node's columns.
    let padded = branches.into_iter().map(|branch| {
        let mut exprs = group_columns.clone();
        exprs.extend(aggregates.iter().enumerate().map(|(i, call)| {
            match branch.calls.iter().position(|&c| c == i) {
                Some(at) => column(width + at, call.ty),
                None => ScalarExpr::literal(Datum::Null, call.ty),
            }
        }));
        // Every call of the node, in order: the branch is the node's columns already.
        if columns_in_order(&exprs) {
            branch.plan
        } else {
            project(branch.plan, exprs, names.clone())
        }
    });
    let mut padded: Vec<Plan> = padded.collect();
    if padded.len() == 1 {
        return padded.pop().expect("one branch");
    }
    let union = padded
        .into_iter()
        .reduce(|left, right| Plan::SetOp {
            op: SetOp::Union,
            all: true,
            left: Box::new(left),
            right: Box::new(right),
        })
        .expect("at least two branches");
    Plan::Aggregate {
        input: Box::new(union),
        group: group_columns,
        group_names,
        aggregates: aggregates
            .iter()
            .enumerate()
            .map(|(i, call)| AggregateCall {
                function: AggregateFunction::Max,
                args: vec![column(width + i, call.ty)],
                distinct: false,
                filter: None,
                ty: call.ty,
            })
            .collect(),
        aggregate_names,
    }
}

/// The two stages for the distinct calls `calls` over `argument`: per group and argument value,
/// how many rows pass each call's filter; then per group, the values some row of which passed.
fn distinct_branch(
    input: &Plan,
    group: &[ScalarExpr],
    group_names: &[String],
    argument: &ScalarExpr,
    calls: &[usize],
    aggregates: &[AggregateCall],
    aggregate_names: &[String],
) -> Plan {
    let width = group.len();
    // One count per distinct filter; calls without a filter need none (every value counts).
    let mut filters: Vec<&ScalarExpr> = Vec::new();
    for &i in calls {
        if let Some(filter) = &aggregates[i].filter {
            if !filters.contains(&filter) {
                filters.push(filter);
            }
        }
    }
    let mut inner_group = group.to_vec();
    inner_group.push(argument.clone());
    let mut inner_names = group_names.to_vec();
    inner_names.push("distinct_value".into());
    let inner = Plan::Aggregate {
        input: Box::new(input.clone()),
        group: inner_group,
        group_names: inner_names,
        aggregates: filters
            .iter()
            .map(|filter| AggregateCall {
                function: AggregateFunction::CountStar,
                args: vec![],
                distinct: false,
                filter: Some((*filter).clone()),
                ty: SqlType::BigInt,
            })
            .collect(),
        aggregate_names: (0..filters.len()).map(|i| format!("passes_{i}")).collect(),
    };
    let value = column(width, argument.ty());
    let outer_calls = calls
        .iter()
        .map(|&i| {
            let call = &aggregates[i];
            let filter = call.filter.as_ref().map(|filter| {
                let at = filters.iter().position(|f| *f == filter).expect("collected above");
                let passes = column(width + 1 + at, SqlType::BigInt);
                binary(BinaryOp::Gt, passes, ScalarExpr::literal(Datum::BigInt(0), SqlType::BigInt))
            });
            AggregateCall {
                function: call.function,
                args: vec![value.clone()],
                distinct: false,
                filter,
                ty: call.ty,
            }
        })
        .collect();
    Plan::Aggregate {
        input: Box::new(inner),
        group: group.iter().enumerate().map(|(i, expr)| column(i, expr.ty())).collect(),
        group_names: group_names.to_vec(),
        aggregates: outer_calls,
        aggregate_names: calls.iter().map(|&i| aggregate_names[i].clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Column;

    fn get() -> Plan {
        Plan::Get {
            name: "bid".into(),
            columns: vec![
                Column::new("day", SqlType::BigInt),
                Column::new("bidder", SqlType::BigInt),
                Column::new("price", SqlType::BigInt),
            ],
        }
    }

    fn call(
        function: AggregateFunction,
        arg: Option<usize>,
        distinct: bool,
        filter: Option<ScalarExpr>,
    ) -> AggregateCall {
        AggregateCall {
            function,
            args: arg.map(|a| column(a, SqlType::BigInt)).into_iter().collect(),
            distinct,
            filter,
            ty: SqlType::BigInt,
        }
    }

    fn cheap() -> ScalarExpr {
        binary(
            BinaryOp::Lt,
            column(2, SqlType::BigInt),
            ScalarExpr::literal(Datum::BigInt(10), SqlType::BigInt),
        )
    }

    fn aggregate(group: Vec<ScalarExpr>, aggregates: Vec<AggregateCall>) -> Plan {
        let names = (0..aggregates.len()).map(|i| format!("a{i}")).collect();
        Plan::Aggregate {
            input: Box::new(get()),
            group_names: (0..group.len()).map(|i| format!("g{i}")).collect(),
            group,
            aggregates,
            aggregate_names: names,
        }
    }

    #[test]
    fn plain_and_global_aggregations_are_left_alone() {
        let plain = aggregate(
            vec![column(0, SqlType::BigInt)],
            vec![call(AggregateFunction::CountStar, None, false, None)],
        );
        assert_eq!(split_distinct(plain.clone()), plain);
        let global = aggregate(vec![], vec![call(AggregateFunction::Count, Some(1), true, None)]);
        assert_eq!(split_distinct(global.clone()), global);
        let avg = aggregate(
            vec![column(0, SqlType::BigInt)],
            vec![call(AggregateFunction::Avg, Some(1), true, None)],
        );
        assert_eq!(split_distinct(avg.clone()), avg);
    }

    #[test]
    fn min_and_max_lose_their_distinct() {
        let max = aggregate(
            vec![column(0, SqlType::BigInt)],
            vec![call(AggregateFunction::Max, Some(1), true, None)],
        );
        let expected = aggregate(
            vec![column(0, SqlType::BigInt)],
            vec![call(AggregateFunction::Max, Some(1), false, None)],
        );
        assert_eq!(split_distinct(max), expected);
    }

    #[test]
    fn one_distinct_argument_is_two_stages_without_a_union() {
        let plan = aggregate(
            vec![column(0, SqlType::BigInt)],
            vec![
                call(AggregateFunction::Count, Some(1), true, None),
                call(AggregateFunction::Count, Some(1), true, Some(cheap())),
            ],
        );
        let split = split_distinct(plan.clone());
        assert_eq!(split.columns(), plan.columns());
        let Plan::Aggregate { input, aggregates, .. } = &split else { panic!("{}", split.explain()) };
        assert!(aggregates.iter().all(|call| !call.distinct && call.function == AggregateFunction::Count));
        assert!(aggregates[0].filter.is_none() && aggregates[1].filter.is_some());
        let Plan::Aggregate { group, aggregates: inner, .. } = &**input else {
            panic!("{}", split.explain())
        };
        assert_eq!(group.len(), 2);
        assert_eq!(inner.len(), 1, "one count per distinct filter");
    }

    #[test]
    fn several_branches_meet_in_a_union_grouped_with_max() {
        let plan = aggregate(
            vec![column(0, SqlType::BigInt)],
            vec![
                call(AggregateFunction::CountStar, None, false, None),
                call(AggregateFunction::Count, Some(1), true, None),
                call(AggregateFunction::Sum, Some(2), true, Some(cheap())),
            ],
        );
        let split = split_distinct(plan.clone());
        assert_eq!(split.columns(), plan.columns());
        let Plan::Aggregate { input, aggregates, .. } = &split else { panic!("{}", split.explain()) };
        assert!(aggregates.iter().all(|call| call.function == AggregateFunction::Max));
        let text = input.explain();
        assert_eq!(text.matches("Union").count(), 2, "{text}");
    }
}
