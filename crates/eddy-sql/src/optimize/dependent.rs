//! The dependent join at the heart of decorrelation: a subquery evaluated once per value of
//! the outer columns it reads (the *domain*), as Neumann and Kemper push it down a plan. The
//! domain is joined where the subquery first reads the outer row; below that the subquery is
//! the same for every outer row. Where a filter equates a column with every domain column,
//! that column stands for the domain and no domain join is needed at all.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::collections::BTreeSet;

use super::util::{boolean, column, column_refs, exprs, null_safe_equal, project, unary};
use super::{OptimizeError, OptimizeResult};
use crate::datum::Datum;
use crate::expr::{BinaryOp, ScalarExpr, UnaryOp};
use crate::plan::{
    conjunction, split_conjuncts, AggregateCall, AggregateFunction, ApplyKind, Column, JoinKind, Plan,
};
use crate::types::SqlType;

/// The outer columns that `plan` reads of the Apply `level` subquery boundaries out.
pub(super) fn outer_refs(plan: &Plan, level: usize, found: &mut BTreeSet<usize>) {
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

pub(super) fn reads_outer(plan: &Plan) -> bool {
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
            group: domain_partition(&group, k),
            order: shifted(order, k),
            limit,
            offset,
        },
        Plan::RowNumber { input, partition, order, limit, name } => Plan::RowNumber {
            // Numbered per domain row too: the domain columns join the partition.
            input: Box::new(dependent(*input, domain)?),
            partition: domain_partition(&partition, k),
            order: shifted(order, k),
            limit,
            name,
        },
        Plan::Over { input, partition, order, functions, streaming } => Plan::Over {
            streaming,
            // Per domain row too, as `RowNumber`.
            input: Box::new(dependent(*input, domain)?),
            partition: domain_partition(&partition, k),
            order: shifted(order, k),
            functions: functions
                .into_iter()
                .map(|mut function| {
                    for expr in function.exprs_mut() {
                        *expr = domain.level0(expr);
                    }
                    function
                })
                .collect(),
        },
        // Row by row: the domain columns ride along in front.
        Plan::Time { input, op } => {
            Plan::Time { input: Box::new(dependent(*input, domain)?), op: op.remapped(|c| c + k) }
        }
        Plan::TemporalJoin { .. } => {
            return Err(OptimizeError::Unsupported(
                "a temporal join (FOR SYSTEM_TIME AS OF) in a correlated subquery".into(),
            ))
        }
        Plan::MatchRecognize { .. } => {
            return Err(OptimizeError::Unsupported(
                "MATCH_RECOGNIZE over a correlated input (a subquery reading outer columns)".into(),
            ))
        }
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

pub(super) fn zero(ty: SqlType) -> ScalarExpr {
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

/// The subquery made dependent on the domain of the columns of `input` it reads: its rows
/// for each domain value, the domain's columns first. Also the condition that matches a row
/// of `input` (then the result's columns) with its domain value, and the domain's arity.
/// A subquery that reads no outer column is returned as it is, with the condition `TRUE`.
pub(super) fn dependent_on(
    input: &Plan,
    subquery: Plan,
    skip_count_fix: bool,
) -> OptimizeResult<(Plan, ScalarExpr, usize)> {
    let mut used = BTreeSet::new();
    outer_refs(&subquery, 0, &mut used);
    if used.is_empty() {
        return Ok((subquery, boolean(Some(true)), 0));
    }
    let n = input.arity();
    let input_columns = input.columns();
    let used: Vec<usize> = used.into_iter().collect();
    if let Some(&index) = used.iter().find(|&&c| c >= n) {
        return Err(OptimizeError::OuterColumnOutOfRange { index, arity: n });
    }
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
        skip_count_fix: Cell::new(skip_count_fix),
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
    Ok((dependent, conjunction(on), domain.arity()))
}

/// A partition per domain row too: the `k` domain columns, then the node's partition columns
/// (shifted past them).
fn domain_partition(partition: &[usize], k: usize) -> Vec<usize> {
    (0..k).chain(partition.iter().map(|c| c + k)).collect()
}

/// An order over columns shifted past `k` domain columns.
fn shifted(order: Vec<crate::plan::SortKey>, k: usize) -> Vec<crate::plan::SortKey> {
    order.into_iter().map(|key| crate::plan::SortKey { column: key.column + k, ..key }).collect()
}
