//! Decorrelation: every [`Plan::Apply`] becomes joins and aggregations, so the dataflow
//! renderer never sees a correlated subquery.
//!
//! The general method is Neumann and Kemper's ("Unnesting Arbitrary Queries", BTW 2015):
//! the subquery is evaluated once per distinct value of the outer columns it reads (the
//! *domain*), by pushing a dependent join with the domain down the subquery until it meets
//! subtrees that do not read the outer row, where it becomes a plain cross product. The
//! result, keyed by the domain columns, is joined back to the outer input with `NULL`-safe
//! equality. Every kind of `Apply` is first written as a scalar subquery over an aggregate
//! (`EXISTS` is `COUNT(*) > 0`, `IN` counts true and unknown comparisons), so one path
//! handles all three; an aggregate without `GROUP BY` keeps its one row per domain value
//! (the COUNT bug) by a left join from the domain.
//!
//! Applies are removed outermost first: when one is removed, the Applies nested in its
//! subquery are rewritten to read the domain columns instead of the outer row, and are
//! removed in turn.
//!
//! A filter conjunct that is an `EXISTS`, `NOT EXISTS`, `IN` or `NOT IN` column of the Apply
//! below it becomes a semi or anti join instead. `IN` with one column goes through
//! `in_subquery` (an `EXISTS` on the equality, so an equi-join, and the subquery's `NULL`
//! status); `NOT IN` with several columns is an anti join on `(a = b AND ...) IS NOT FALSE`,
//! which is what makes it `NULL`-safe, at the price of a join without equi-keys.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::collections::BTreeSet;

use super::util::{
    binary, boolean, column, column_refs, count_star, exprs, failure, lift, map_inputs, null_safe_equal,
    null_when_null, project, substitute, unary,
};
use super::{in_subquery, OptimizeError, OptimizeResult};
use crate::datum::Datum;
use crate::expr::{BinaryOp, ScalarExpr, UnaryOp};
use crate::plan::{
    conjunction, split_conjuncts, AggregateCall, AggregateFunction, ApplyKind, Column, JoinKind, Plan,
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
            match semi_join(*input, predicate) {
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

/// The outer columns that `plan` reads of the Apply `level` subquery boundaries out.
fn outer_refs(plan: &Plan, level: usize, found: &mut BTreeSet<usize>) {
    for expr in exprs(plan) {
        expr.visit(&mut |e| {
            if let ScalarExpr::Outer { depth, index, .. } = e {
                if *depth == level + 1 {
                    found.insert(*index);
                }
            }
        });
    }
    match plan {
        Plan::Apply { input, subquery, .. } => {
            outer_refs(input, level, found);
            outer_refs(subquery, level + 1, found);
        }
        other => {
            for input in other.inputs() {
                outer_refs(input, level, found);
            }
        }
    }
}

fn reads_outer(plan: &Plan) -> bool {
    let mut found = BTreeSet::new();
    outer_refs(plan, 0, &mut found);
    !found.is_empty()
}

/// The distinct values of the outer columns a subquery reads.
struct Domain {
    /// `Distinct(Project(outer input, the columns))`.
    plan: Plan,
    /// Its columns.
    columns: Vec<Column>,
    /// Outer column index to position in the domain.
    position: BTreeMap<usize, usize>,
    /// Set when the subquery's top aggregate (without `GROUP BY`) may leave out the rows of
    /// empty groups, because the value read from it is `NULL` for an empty group anyway and
    /// the final left join pads with `NULL`. Taken by the first aggregate met.
    skip_count_fix: Cell<bool>,
}

impl Domain {
    fn arity(&self) -> usize {
        self.columns.len()
    }

    /// An expression of the subquery's own level moved onto `[domain, input]` rows:
    /// columns shift past the domain, outer references to the removed Apply become domain
    /// columns, deeper ones come one level closer.
    fn level0(&self, expr: &ScalarExpr) -> ScalarExpr {
        let k = self.arity();
        let mut out = expr.clone();
        out.transform(&mut |e| match e {
            ScalarExpr::Column { index, .. } => *index += k,
            ScalarExpr::Outer { depth: 1, index, ty } => {
                let position = self.position.get(index).copied().unwrap_or_default();
                *e = column(position, *ty);
            }
            ScalarExpr::Outer { depth, .. } => *depth -= 1,
            _ => {}
        });
        out
    }

    /// The subquery of an Apply nested in the removed one's subquery, `level` boundaries
    /// below it: references to the nested Apply's input shift past the domain, references
    /// to the removed Apply become references to the domain columns (now in that input).
    fn remap_nested(&self, plan: &mut Plan, level: usize) {
        let k = self.arity();
        for expr in plan.exprs_mut() {
            expr.transform(&mut |e| {
                if let ScalarExpr::Outer { depth, index, .. } = e {
                    if *depth == level + 1 {
                        *index += k;
                    } else if *depth == level + 2 {
                        *depth = level + 1;
                        *index = self.position.get(index).copied().unwrap_or_default();
                    } else if *depth > level + 2 {
                        *depth -= 1;
                    }
                }
            });
        }
        match plan {
            Plan::Apply { input, subquery, .. } => {
                self.remap_nested(input, level);
                self.remap_nested(subquery, level + 1);
            }
            other => {
                for input in other.inputs_mut() {
                    self.remap_nested(input, level);
                }
            }
        }
    }

    fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    fn refs(&self, offset: usize) -> Vec<ScalarExpr> {
        column_refs(&self.columns, offset)
    }

    /// `NULL`-safe equality of the domain columns at `left` and at `right`.
    fn equal(&self, left: usize, right: usize) -> Vec<ScalarExpr> {
        self.columns
            .iter()
            .enumerate()
            .flat_map(|(i, c)| null_safe_equal(column(left + i, c.ty), column(right + i, c.ty)))
            .collect()
    }
}

/// The dependent join of the domain with `plan`: for each domain row `d`, `d` followed by
/// each row of `plan` evaluated with `d` as the outer row. Output: the domain's columns,
/// then `plan`'s.
fn dependent(plan: Plan, domain: &Domain) -> OptimizeResult<Plan> {
    let k = domain.arity();
    if !reads_outer(&plan) {
        return Ok(Plan::Join {
            left: Box::new(domain.plan.clone()),
            right: Box::new(plan),
            kind: JoinKind::Inner,
            on: boolean(Some(true)),
        });
    }
    Ok(match plan {
        Plan::Filter { input, predicate } => match eliminate_domain(&input, &predicate, domain) {
            Some(plan) => plan,
            None => Plan::Filter {
                input: Box::new(dependent(*input, domain)?),
                predicate: domain.level0(&predicate),
            },
        },
        Plan::Project { input, exprs, names } => {
            let mut all = domain.refs(0);
            all.extend(exprs.iter().map(|e| domain.level0(e)));
            let mut all_names = domain.names();
            all_names.extend(names);
            project(dependent(*input, domain)?, all, all_names)
        }
        Plan::Join { left, right, kind, on } => dependent_join(*left, *right, kind, &on, domain)?,
        Plan::Aggregate { input, group, group_names, aggregates, aggregate_names } => {
            let skip_count_fix = domain.skip_count_fix.replace(false);
            let no_group = group.is_empty();
            let mut new_group = domain.refs(0);
            new_group.extend(group.iter().map(|e| domain.level0(e)));
            let mut new_names = domain.names();
            new_names.extend(group_names);
            let aggregates: Vec<AggregateCall> = aggregates
                .into_iter()
                .map(|call| AggregateCall {
                    args: call.args.iter().map(|e| domain.level0(e)).collect(),
                    filter: call.filter.as_ref().map(|e| domain.level0(e)),
                    ..call
                })
                .collect();
            let calls = aggregates.clone();
            let grouped = Plan::Aggregate {
                input: Box::new(dependent(*input, domain)?),
                group: new_group,
                group_names: new_names,
                aggregates,
                aggregate_names: aggregate_names.clone(),
            };
            if !no_group || skip_count_fix {
                return Ok(grouped);
            }
            // Without GROUP BY every domain row has its one row, even over an empty input
            // (the COUNT bug): join from the domain, counts of missing groups are 0.
            let joined = Plan::Join {
                left: Box::new(domain.plan.clone()),
                right: Box::new(grouped),
                kind: JoinKind::Left,
                on: conjunction(domain.equal(0, k)),
            };
            let mut out = domain.refs(0);
            for (j, call) in calls.iter().enumerate() {
                let value = column(2 * k + j, call.ty);
                out.push(match call.function {
                    AggregateFunction::Count | AggregateFunction::CountStar => {
                        ScalarExpr::Coalesce { args: vec![value, zero(call.ty)], ty: call.ty }
                    }
                    _ => value,
                });
            }
            let mut names = domain.names();
            names.extend(aggregate_names);
            project(joined, out, names)
        }
        Plan::Distinct { input } => Plan::Distinct { input: Box::new(dependent(*input, domain)?) },
        Plan::SetOp { op, all, left, right } => Plan::SetOp {
            op,
            all,
            left: Box::new(dependent(*left, domain)?),
            right: Box::new(dependent(*right, domain)?),
        },
        Plan::TopK { input, group, order, limit, offset } => Plan::TopK {
            input: Box::new(dependent(*input, domain)?),
            group: (0..k).chain(group.iter().map(|c| c + k)).collect(),
            order: order
                .into_iter()
                .map(|key| crate::plan::SortKey { column: key.column + k, ..key })
                .collect(),
            limit,
            offset,
        },
        Plan::Apply { input, mut subquery, kind, name } => {
            domain.remap_nested(&mut subquery, 0);
            let kind = match kind {
                ApplyKind::In { exprs } => {
                    ApplyKind::In { exprs: exprs.iter().map(|e| domain.level0(e)).collect() }
                }
                other => other,
            };
            Plan::Apply { input: Box::new(dependent(*input, domain)?), subquery, kind, name }
        }
        // No expressions, so they never read the outer row (handled above).
        leaf @ (Plan::Get { .. } | Plan::Values { .. }) => leaf,
    })
}

fn zero(ty: SqlType) -> ScalarExpr {
    let value = match ty {
        SqlType::Int => Datum::Int(0),
        _ => Datum::BigInt(0),
    };
    ScalarExpr::literal(value, ty)
}

/// The dependent join pushed through a join.
fn dependent_join(
    left: Plan,
    right: Plan,
    kind: JoinKind,
    on: &ScalarExpr,
    domain: &Domain,
) -> OptimizeResult<Plan> {
    let k = domain.arity();
    if !reads_outer(&right)
        && matches!(kind, JoinKind::Inner | JoinKind::Left | JoinKind::Semi | JoinKind::Anti)
    {
        // Each left row carries its domain row; the right side is the same for all.
        return Ok(Plan::Join {
            left: Box::new(dependent(left, domain)?),
            right: Box::new(right),
            kind,
            on: domain.level0(on),
        });
    }
    // Both sides per domain row, matched on the domain columns.
    let left_arity = left.arity();
    let left_names = crate::optimize::util::names(&left);
    let right_columns = right.columns();
    let mut condition = on.clone();
    condition.transform(&mut |e| match e {
        ScalarExpr::Column { index, .. } => *index += if *index < left_arity { k } else { 2 * k },
        ScalarExpr::Outer { depth: 1, index, ty } => {
            *e = column(domain.position.get(index).copied().unwrap_or_default(), *ty);
        }
        ScalarExpr::Outer { depth, .. } => *depth -= 1,
        _ => {}
    });
    let mut conjuncts = domain.equal(0, k + left_arity);
    conjuncts.extend(split_conjuncts(&condition));
    let left_plan = dependent(left, domain)?;
    let left_columns = left_plan.columns();
    let join = Plan::Join {
        left: Box::new(left_plan),
        right: Box::new(dependent(right, domain)?),
        kind,
        on: conjunction(conjuncts),
    };
    if !kind.keeps_right() {
        return Ok(join);
    }
    let right_domain = k + left_arity;
    let mut out: Vec<ScalarExpr> = domain
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| match kind {
            JoinKind::Right => column(right_domain + i, c.ty),
            JoinKind::Full => {
                ScalarExpr::Coalesce { args: vec![column(i, c.ty), column(right_domain + i, c.ty)], ty: c.ty }
            }
            _ => column(i, c.ty),
        })
        .collect();
    out.extend(column_refs(&left_columns[k..], k));
    out.extend(column_refs(&right_columns, right_domain + k));
    let mut names = domain.names();
    names.extend(left_names);
    names.extend(right_columns.into_iter().map(|c| c.name));
    Ok(project(join, out, names))
}

/// Which kind of Apply is being removed.
enum KindName {
    Scalar,
    Other,
}

/// Whether the scalar subquery is an aggregate without `GROUP BY` (maybe under a projection)
/// whose value is `NULL` for an empty input: then no row and a row of `NULL` are the same
/// to the final left join.
fn null_when_empty(plan: &Plan) -> bool {
    let non_count = |aggregates: &[AggregateCall], column: usize| {
        aggregates.get(column).is_some_and(|call| {
            !matches!(call.function, AggregateFunction::Count | AggregateFunction::CountStar)
        })
    };
    match plan {
        Plan::Aggregate { group, aggregates, .. } => group.is_empty() && non_count(aggregates, 0),
        Plan::Project { input, exprs, .. } => match &**input {
            Plan::Aggregate { group, aggregates, .. } if group.is_empty() => {
                exprs.first().is_some_and(|e| null_when_null(e, &|c| non_count(aggregates, c)))
            }
            _ => false,
        },
        _ => false,
    }
}

/// Types whose equal values are identical, so a column equal to an outer column can stand
/// for it.
fn equal_is_identical(ty: SqlType) -> bool {
    matches!(
        ty,
        SqlType::Boolean
            | SqlType::Int
            | SqlType::BigInt
            | SqlType::Date
            | SqlType::Timestamp { .. }
            | SqlType::Varchar { .. }
    )
}

/// The dependent join of the domain with `Filter(input, predicate)` when the input does not
/// read the outer row and the predicate equates a column of the input with every domain
/// column: that column is the domain value, so the domain is not joined at all (each
/// surviving row carries its own domain value). Rows for domain values no outer row has are
/// dropped by the final join with the outer input; everything between works per domain
/// value, so they do not disturb the others.
fn eliminate_domain(input: &Plan, predicate: &ScalarExpr, domain: &Domain) -> Option<Plan> {
    if reads_outer(input) {
        return None;
    }
    let mut source: Vec<Option<(usize, SqlType)>> = vec![None; domain.arity()];
    let conjuncts = split_conjuncts(predicate);
    for conjunct in &conjuncts {
        if let ScalarExpr::Binary { op: BinaryOp::Eq, left, right, .. } = conjunct {
            if let (
                ScalarExpr::Column { index, ty },
                ScalarExpr::Outer { depth: 1, index: outer, ty: outer_ty },
            )
            | (
                ScalarExpr::Outer { depth: 1, index: outer, ty: outer_ty },
                ScalarExpr::Column { index, ty },
            ) = (&**left, &**right)
            {
                if ty == outer_ty && equal_is_identical(*ty) {
                    if let Some(slot) = domain.position.get(outer).and_then(|p| source.get_mut(*p)) {
                        slot.get_or_insert((*index, *ty));
                    }
                }
            }
        }
    }
    let source: Vec<(usize, SqlType)> = source.into_iter().collect::<Option<_>>()?;
    let mut rewritten = conjunction(conjuncts);
    rewritten.transform(&mut |e| match e {
        ScalarExpr::Outer { depth: 1, index, .. } => {
            if let Some((column_index, ty)) = domain.position.get(index).map(|p| source[*p]) {
                *e = column(column_index, ty);
            }
        }
        ScalarExpr::Outer { depth, .. } => *depth -= 1,
        _ => {}
    });
    // In a filter, `x = x` (what an equality with the outer column became) is `x IS NOT NULL`.
    let rewritten = conjunction(
        split_conjuncts(&rewritten)
            .into_iter()
            .map(|c| match &c {
                ScalarExpr::Binary { op: BinaryOp::Eq, left, right, .. }
                    if left == right && matches!(**left, ScalarExpr::Column { .. }) =>
                {
                    unary(UnaryOp::IsNotNull, (**left).clone())
                }
                _ => c,
            })
            .collect(),
    );
    let columns = input.columns();
    let mut exprs: Vec<ScalarExpr> = source.iter().map(|(index, ty)| column(*index, *ty)).collect();
    exprs.extend(column_refs(&columns, 0));
    let mut names = domain.names();
    names.extend(columns.into_iter().map(|c| c.name));
    Some(project(Plan::Filter { input: Box::new(input.clone()), predicate: rewritten }, exprs, names))
}

/// Whether `plan` gives at most one row (per domain row, once made dependent).
fn at_most_one_row(plan: &Plan) -> bool {
    match plan {
        Plan::Aggregate { group, .. } => group.is_empty(),
        Plan::Values { rows, .. } => rows.len() <= 1,
        Plan::TopK { group, limit, input, .. } => {
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
    let kind_name = match kind {
        ApplyKind::Scalar => KindName::Scalar,
        _ => KindName::Other,
    };
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
    let mut used = BTreeSet::new();
    outer_refs(&subquery, 0, &mut used);
    let (joined, k) = if used.is_empty() {
        let join = Plan::Join {
            left: Box::new(input),
            right: Box::new(subquery),
            kind: JoinKind::Left,
            on: boolean(Some(true)),
        };
        (join, 0)
    } else {
        let used: Vec<usize> = used.into_iter().collect();
        let columns: Vec<Column> = used.iter().map(|&c| input_columns[c].clone()).collect();
        let domain_plan = Plan::Distinct {
            input: Box::new(project(
                input.clone(),
                used.iter().map(|&c| column(c, input_columns[c].ty)).collect(),
                columns.iter().map(|c| c.name.clone()).collect(),
            )),
        };
        let domain = Domain {
            plan: domain_plan,
            position: used.iter().enumerate().map(|(i, &c)| (c, i)).collect(),
            columns,
            skip_count_fix: Cell::new(
                !checked && matches!(kind_name, KindName::Scalar) && null_when_empty(&subquery),
            ),
        };
        let dependent = dependent(subquery, &domain)?;
        let on = used
            .iter()
            .enumerate()
            .flat_map(|(i, &c)| {
                let ty = input_columns[c].ty;
                null_safe_equal(column(c, ty), column(n + i, ty))
            })
            .collect();
        let join = Plan::Join {
            left: Box::new(input),
            right: Box::new(dependent),
            kind: JoinKind::Left,
            on: conjunction(on),
        };
        (join, domain.arity())
    };
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
fn semi_join(apply: Plan, predicate: ScalarExpr) -> Result<Plan, Box<(Plan, ScalarExpr)>> {
    let Plan::Apply { input, subquery, kind, name } = apply else { return Err(Box::new((apply, predicate))) };
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
            return Ok(in_subquery::not_in_filter(left, *subquery, &exprs[0], name));
        }
    }
    let peeled = if matches!(kind, ApplyKind::Scalar) { None } else { peel(&subquery) };
    let (Some((position, positive)), Some((base, predicates, outputs))) = (found, peeled) else {
        return Err(Box::new((Plan::Apply { input, subquery, kind, name }, predicate)));
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
            return Err(Box::new((Plan::Apply { input, subquery, kind, name }, predicate)));
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
    Ok(project(join, out, names))
}
