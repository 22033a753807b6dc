//! Decorrelation: every [`Plan::Apply`] becomes joins and aggregations, so the dataflow
//! renderer never sees a correlated subquery.
//!
//! The general method is Neumann and Kemper's ("Unnesting Arbitrary Queries", BTW 2015):
//! the subquery is evaluated once per distinct value of the outer columns it reads (the
//! *domain*) by a dependent join pushed down the subquery (`dependent`), and the result,
//! keyed by the domain columns, is left-joined back to the outer input with `NULL`-safe
//! equality (written as two equalities, so the join has equi-keys). An uncorrelated
//! subquery is simply left-joined on `TRUE`.
//!
//! Every kind of `Apply` is first written as a scalar subquery: `EXISTS` as
//! `COUNT(*) > 0`, a one-column `IN` by `in_subquery`, a wider `IN` by counting the rows that
//! compare true and unknown. A scalar subquery not known to give at most one row becomes
//! `COUNT(*)` and `MIN(value)`, and the value is replaced by a failing expression where the
//! count exceeds 1 ([`MORE_THAN_ONE_ROW`]): no new plan construct is needed. When the
//! subquery is an aggregate without `GROUP BY` (maybe under a projection), it is joined to
//! the input without a row for empty groups, and its value is computed after the left join,
//! with the `COUNT`s of a padded row read as 0 (the COUNT bug); a nested such aggregate gets
//! its rows for empty groups from a left join with the domain.
//!
//! Applies are removed outermost first: when one is removed, the Applies nested in its
//! subquery are rewritten to read the domain columns instead of the outer row, and are
//! removed in turn.
//!
//! A filter conjunct that is an `EXISTS`, `NOT EXISTS`, `IN` or `NOT IN` column of the Apply
//! below it becomes a semi or anti join instead: with the subquery's own filters as the join
//! condition when only filters and projections read the outer row, else with the subquery
//! made dependent on the domain. A one-column `NOT IN` goes through `in_subquery` (an anti
//! join on the equality and the subquery's `NULL` status); a wider `NOT IN` is an anti join
//! on `(a = b AND ...) IS NOT FALSE`, which is what makes it `NULL`-safe, at the price of a
//! join without equi-keys.

use super::dependent::{dependent_on, outer_refs, reads_outer, zero};
use super::util::{
    binary, boolean, column, column_refs, count_star, exprs, failure, lift, map_inputs, project, substitute,
    unary,
};
use super::{in_subquery, OptimizeError, OptimizeResult};
use crate::datum::Datum;
use crate::expr::{BinaryOp, ScalarExpr, UnaryOp};
use crate::plan::{
    conjunction, split_conjuncts, AggregateCall, AggregateFunction, ApplyKind, JoinKind, Plan,
};
use crate::types::SqlType;

/// The message of the error a scalar subquery with more than one row gives.
pub const MORE_THAN_ONE_ROW: &str = "scalar subquery returned more than one row";

/// Removes every `Apply` of the plan.
pub(super) fn decorrelate(plan: Plan) -> OptimizeResult<Plan> {
    match plan {
        Plan::Apply { input, subquery, kind, name } => {
            let input = decorrelate(*input)?;
            let replaced = remove_apply(input, *subquery, kind, name)?;
            decorrelate(replaced)
        }
        Plan::Filter { input, predicate } if matches!(*input, Plan::Apply { .. }) => {
            match semi_join(*input, predicate)? {
                Ok(rewritten) => decorrelate(rewritten),
                Err(unchanged) => {
                    let (input, predicate) = *unchanged;
                    let input = decorrelate(input)?;
                    Ok(Plan::Filter { input: Box::new(input), predicate })
                }
            }
        }
        other => {
            check_no_outer(&other)?;
            map_inputs(other, &mut decorrelate)
        }
    }
}

/// An outer reference outside any Apply is a binder bug; say so instead of rendering it.
fn check_no_outer(plan: &Plan) -> OptimizeResult<()> {
    let mut depth = None;
    for expr in exprs(plan) {
        expr.visit(&mut |e| {
            if let ScalarExpr::Outer { depth: d, .. } = e {
                depth = Some(*d);
            }
        });
    }
    match depth {
        Some(depth) => Err(OptimizeError::DanglingOuterReference { depth }),
        None => Ok(()),
    }
}

/// A subquery that is an aggregate without `GROUP BY`, maybe under a projection: the
/// aggregate, and the value (its first column, or the projection's first expression) over
/// the aggregate's columns. Any other subquery is returned as it is, without a value.
fn split_top_aggregate(plan: Plan) -> (Plan, Option<ScalarExpr>) {
    match plan {
        Plan::Aggregate { ref group, ref aggregates, .. } if group.is_empty() && !aggregates.is_empty() => {
            let ty = aggregates[0].ty;
            (plan, Some(column(0, ty)))
        }
        Plan::Project { input, exprs, names } => {
            if matches!(&*input, Plan::Aggregate { group, .. } if group.is_empty()) && !exprs.is_empty() {
                let value = exprs[0].clone();
                (*input, Some(value))
            } else {
                (Plan::Project { input, exprs, names }, None)
            }
        }
        other => (other, None),
    }
}

/// Whether `plan` gives at most one row (per domain row, once made dependent).
fn at_most_one_row(plan: &Plan) -> bool {
    match plan {
        Plan::Aggregate { group, .. } => group.is_empty(),
        Plan::Values { rows, .. } => rows.len() <= 1,
        Plan::TopK { group, limit, input, .. } | Plan::RowNumber { partition: group, limit, input, .. } => {
            (group.is_empty() && limit.is_some_and(|l| l <= 1)) || at_most_one_row(input)
        }
        Plan::Filter { input, .. } | Plan::Project { input, .. } | Plan::Distinct { input } => {
            at_most_one_row(input)
        }
        _ => false,
    }
}

fn positive(count: usize) -> ScalarExpr {
    binary(
        BinaryOp::Gt,
        column(count, SqlType::BigInt),
        ScalarExpr::literal(Datum::BigInt(0), SqlType::BigInt),
    )
}

/// The comparison of an `IN`'s left-hand side with the subquery row: `a = b AND ...`.
fn in_comparison(exprs: &[ScalarExpr], right: &[ScalarExpr]) -> ScalarExpr {
    conjunction(exprs.iter().zip(right).map(|(l, r)| binary(BinaryOp::Eq, l.clone(), r.clone())).collect())
}

/// One Apply as joins: the subquery as a scalar subquery, made dependent on the domain of
/// the outer columns it reads, left-joined back to the input.
fn remove_apply(input: Plan, subquery: Plan, kind: ApplyKind, name: String) -> OptimizeResult<Plan> {
    let n = input.arity();
    let input_columns = input.columns();
    let sub_columns = subquery.columns();
    // The subquery as one that gives one value column (the last) per outer row, and when
    // `checked`, a count before it that must not exceed 1.
    if let ApplyKind::In { exprs } = &kind {
        if exprs.len() == 1 && sub_columns.len() == 1 {
            return Ok(in_subquery::in_value(input, subquery, &exprs[0], name));
        }
    }
    let (subquery, checked, ty) = match kind {
        ApplyKind::Scalar => {
            let Some(first) = sub_columns.first() else {
                return Err(OptimizeError::SubqueryWithoutColumns { name });
            };
            let ty = first.ty;
            let subquery = if sub_columns.len() > 1 {
                project(subquery, vec![column(0, ty)], vec![first.name.clone()])
            } else {
                subquery
            };
            if at_most_one_row(&subquery) {
                (subquery, false, ty)
            } else {
                let min = AggregateCall {
                    function: AggregateFunction::Min,
                    args: vec![column(0, ty)],
                    distinct: false,
                    filter: None,
                    ty,
                };
                let aggregate = Plan::Aggregate {
                    input: Box::new(subquery),
                    group: vec![],
                    group_names: vec![],
                    aggregates: vec![count_star(None), min],
                    aggregate_names: vec!["count".into(), "value".into()],
                };
                (aggregate, true, ty)
            }
        }
        ApplyKind::Exists => {
            let aggregate = Plan::Aggregate {
                input: Box::new(subquery),
                group: vec![],
                group_names: vec![],
                aggregates: vec![count_star(None)],
                aggregate_names: vec!["count".into()],
            };
            (project(aggregate, vec![positive(0)], vec![name.clone()]), false, SqlType::Boolean)
        }
        ApplyKind::In { exprs } => {
            if exprs.len() != sub_columns.len() {
                return Err(OptimizeError::InArity { name, expected: exprs.len(), found: sub_columns.len() });
            }
            let lifted: Vec<ScalarExpr> = exprs.iter().map(lift).collect();
            let comparison = in_comparison(&lifted, &column_refs(&sub_columns, 0));
            let compared = project(subquery, vec![comparison], vec!["comparison".into()]);
            let truth = column(0, SqlType::Boolean);
            let aggregate = Plan::Aggregate {
                input: Box::new(compared),
                group: vec![],
                group_names: vec![],
                aggregates: vec![
                    count_star(Some(unary(UnaryOp::IsTrue, truth.clone()))),
                    count_star(Some(unary(UnaryOp::IsNull, truth))),
                ],
                aggregate_names: vec!["true".into(), "unknown".into()],
            };
            let value = ScalarExpr::Case {
                branches: vec![(positive(0), boolean(Some(true))), (positive(1), boolean(None))],
                otherwise: Box::new(boolean(Some(false))),
                ty: SqlType::Boolean,
            };
            (project(aggregate, vec![value], vec![name.clone()]), false, SqlType::Boolean)
        }
    };
    // An aggregate without GROUP BY on top (maybe under a projection) needs no row per empty
    // group: the final left join pads it with NULLs, and the value is computed after that
    // join, with COUNTs of a padded row read as 0.
    let (subquery, finish) = if checked { (subquery, None) } else { split_top_aggregate(subquery) };
    let top_calls = match (&subquery, &finish) {
        (Plan::Aggregate { aggregates, .. }, Some(_)) => aggregates.clone(),
        _ => vec![],
    };
    // (The checked aggregate's count is NULL in a padded row, and `NULL > 1` is not true.)
    let (dependent, on, k) = dependent_on(&input, subquery, checked || finish.is_some())?;
    let joined = Plan::Join { left: Box::new(input), right: Box::new(dependent), kind: JoinKind::Left, on };
    let value = if checked {
        ScalarExpr::Case {
            branches: vec![(
                binary(
                    BinaryOp::Gt,
                    column(n + k, SqlType::BigInt),
                    ScalarExpr::literal(Datum::BigInt(1), SqlType::BigInt),
                ),
                failure(MORE_THAN_ONE_ROW, ty),
            )],
            otherwise: Box::new(column(n + k + 1, ty)),
            ty,
        }
    } else if let Some(finish) = finish {
        let values: Vec<ScalarExpr> = top_calls
            .iter()
            .enumerate()
            .map(|(j, call)| {
                let value = column(n + k + j, call.ty);
                match call.function {
                    AggregateFunction::Count | AggregateFunction::CountStar => {
                        ScalarExpr::Coalesce { args: vec![value, zero(call.ty)], ty: call.ty }
                    }
                    _ => value,
                }
            })
            .collect();
        // Over the join's rows: aggregates as above, outer references as the input's columns.
        let mut value = substitute(&finish, &values);
        value.transform(&mut |e| match e {
            ScalarExpr::Outer { depth: 1, index, ty } => *e = column(*index, *ty),
            ScalarExpr::Outer { depth, .. } => *depth -= 1,
            _ => {}
        });
        value
    } else {
        column(n + k, ty)
    };
    let mut out = column_refs(&input_columns, 0);
    out.push(value);
    let mut names: Vec<String> = input_columns.into_iter().map(|c| c.name).collect();
    names.push(name);
    Ok(project(joined, out, names))
}

/// The subquery as `Filter`s and `Project`s over a subtree that does not read the outer row:
/// that subtree, the filters' conjuncts and the output expressions, both over its columns.
fn peel(plan: &Plan) -> Option<(Plan, Vec<ScalarExpr>, Vec<ScalarExpr>)> {
    match plan {
        Plan::Filter { input, predicate } => {
            let (base, mut predicates, outputs) = peel(input)?;
            predicates.extend(split_conjuncts(&substitute(predicate, &outputs)));
            Some((base, predicates, outputs))
        }
        Plan::Project { input, exprs, .. } => {
            let (base, predicates, outputs) = peel(input)?;
            Some((base, predicates, exprs.iter().map(|e| substitute(e, &outputs)).collect()))
        }
        other if !reads_outer(other) => Some((other.clone(), vec![], column_refs(&other.columns(), 0))),
        _ => None,
    }
}

/// `Filter(Apply(input, subquery), ... AND [NOT] #n AND ...)` for an `EXISTS` or `IN`
/// Apply whose column is `#n`: a semi (anti) join of the input with the subquery, the other
/// conjuncts as a filter on the input. Gives the plan back when the shape does not fit.
fn semi_join(apply: Plan, predicate: ScalarExpr) -> OptimizeResult<Result<Plan, Box<(Plan, ScalarExpr)>>> {
    let Plan::Apply { input, subquery, kind, name } = apply else {
        return Ok(Err(Box::new((apply, predicate))));
    };
    let n = input.arity();
    let conjuncts = split_conjuncts(&predicate);
    let is_column = |e: &ScalarExpr| matches!(e, ScalarExpr::Column { index, .. } if *index == n);
    let found = conjuncts.iter().enumerate().find_map(|(i, c)| match c {
        c if is_column(c) => Some((i, true)),
        ScalarExpr::Unary { op: UnaryOp::Not, expr, .. } if is_column(expr) => Some((i, false)),
        _ => None,
    });
    // The other conjuncts, with the column's value in every row the filter keeps.
    let rest = |position: usize, positive: bool| -> Vec<ScalarExpr> {
        let value = boolean(Some(positive));
        let mut rest = conjuncts.clone();
        rest.remove(position);
        for c in &mut rest {
            c.transform(&mut |e| {
                if is_column(e) {
                    *e = value.clone();
                }
            });
        }
        rest
    };
    if let (Some((position, false)), ApplyKind::In { exprs }) = (found, &kind) {
        if exprs.len() == 1 && subquery.arity() == 1 {
            let rest = rest(position, false);
            let left =
                if rest.is_empty() { *input } else { Plan::Filter { input, predicate: conjunction(rest) } };
            return Ok(Ok(in_subquery::not_in_filter(left, *subquery, &exprs[0], name)));
        }
    }
    let Some((position, positive)) = found else {
        return Ok(Err(Box::new((Plan::Apply { input, subquery, kind, name }, predicate))));
    };
    let mut read = std::collections::BTreeSet::new();
    outer_refs(&subquery, 0, &mut read);
    if read.iter().any(|&c| c >= n) {
        // Malformed: the general path reports it.
        return Ok(Err(Box::new((Plan::Apply { input, subquery, kind, name }, predicate))));
    }
    let peeled = if matches!(kind, ApplyKind::Scalar) { None } else { peel(&subquery) };
    let Some((base, predicates, outputs)) = peeled else {
        // The subquery reads the outer row deep down: a semi (anti) join with it made
        // dependent on the domain, for EXISTS and for IN as EXISTS on the comparison.
        let subquery = match &kind {
            ApplyKind::Exists => *subquery,
            ApplyKind::In { exprs } if positive && exprs.len() == subquery.arity() => {
                let lifted: Vec<ScalarExpr> = exprs.iter().map(lift).collect();
                let comparison = in_comparison(&lifted, &column_refs(&subquery.columns(), 0));
                Plan::Filter { input: subquery, predicate: comparison }
            }
            _ => return Ok(Err(Box::new((Plan::Apply { input, subquery, kind, name }, predicate)))),
        };
        let rest = rest(position, positive);
        let input_columns = input.columns();
        let left =
            if rest.is_empty() { *input } else { Plan::Filter { input, predicate: conjunction(rest) } };
        let (dependent, on, _) = dependent_on(&left, subquery, false)?;
        let join = Plan::Join {
            left: Box::new(left),
            right: Box::new(dependent),
            kind: if positive { JoinKind::Semi } else { JoinKind::Anti },
            on,
        };
        let mut out = column_refs(&input_columns, 0);
        out.push(boolean(Some(positive)));
        let mut names: Vec<String> = input_columns.into_iter().map(|c| c.name).collect();
        names.push(name);
        return Ok(Ok(project(join, out, names)));
    };
    // Over the join's rows: the input's columns, then the base's.
    let to_join = |expr: &ScalarExpr| {
        let mut out = expr.clone();
        out.transform(&mut |e| match e {
            ScalarExpr::Column { index, .. } => *index += n,
            ScalarExpr::Outer { depth: 1, index, ty } => *e = column(*index, *ty),
            ScalarExpr::Outer { depth, .. } => *depth -= 1,
            _ => {}
        });
        out
    };
    let mut on: Vec<ScalarExpr> = predicates.iter().map(to_join).collect();
    match &kind {
        ApplyKind::In { exprs } if exprs.len() == outputs.len() => {
            let right: Vec<ScalarExpr> = outputs.iter().map(to_join).collect();
            let comparison = in_comparison(exprs, &right);
            if positive {
                on.extend(split_conjuncts(&comparison));
            } else {
                on.push(unary(UnaryOp::IsNotFalse, comparison));
            }
        }
        ApplyKind::In { .. } | ApplyKind::Scalar => {
            return Ok(Err(Box::new((Plan::Apply { input, subquery, kind, name }, predicate))));
        }
        ApplyKind::Exists => {}
    }
    let value = boolean(Some(positive));
    let rest = rest(position, positive);
    let input_columns = input.columns();
    let left = if rest.is_empty() { *input } else { Plan::Filter { input, predicate: conjunction(rest) } };
    let join = Plan::Join {
        left: Box::new(left),
        right: Box::new(base),
        kind: if positive { JoinKind::Semi } else { JoinKind::Anti },
        on: conjunction(on),
    };
    let mut out = column_refs(&input_columns, 0);
    out.push(value);
    let mut names: Vec<String> = input_columns.into_iter().map(|c| c.name).collect();
    names.push(name);
    Ok(Ok(project(join, out, names)))
}
