//! Plan-level simplification, bottom-up: constant folding of every expression, `Filter TRUE`
//! removed and `Filter FALSE`/`NULL` made an empty `Values`, emptiness carried through the
//! operators that keep it (joins with an empty side, set operations), adjacent `Filter`s and
//! `Project`s merged, and projections that change nothing removed.

use super::util::{
    boolean, column_refs, columns_in_order, empty, fold, is_empty, is_false_or_null, is_true, map_inputs,
    names, project, substitute,
};
use crate::expr::ScalarExpr;
use crate::plan::{conjunction, split_conjuncts, JoinKind, Plan, SetOp};

/// Simplifies the plan; see the module docs.
pub(super) fn simplify(plan: Plan) -> Plan {
    let Ok(mut plan) = map_inputs::<std::convert::Infallible>(plan, &mut |p| Ok(simplify(p)));
    for expr in plan.exprs_mut() {
        *expr = fold(std::mem::replace(expr, boolean(None)));
    }
    simplify_node(plan)
}

fn simplify_node(plan: Plan) -> Plan {
    let columns = plan.columns();
    match plan {
        Plan::Filter { input, predicate } => {
            let conjuncts = split_conjuncts(&predicate);
            if conjuncts.iter().any(is_false_or_null) || is_empty(&input) {
                return empty(columns);
            }
            let conjuncts: Vec<ScalarExpr> = conjuncts.into_iter().filter(|c| !is_true(c)).collect();
            if conjuncts.is_empty() {
                return *input;
            }
            match *input {
                Plan::Filter { input: inner, predicate: below } => {
                    let mut all = split_conjuncts(&below);
                    all.extend(conjuncts);
                    Plan::Filter { input: inner, predicate: conjunction(all) }
                }
                other => Plan::Filter { input: Box::new(other), predicate: conjunction(conjuncts) },
            }
        }
        Plan::Project { input, exprs, names: out_names } => {
            if is_empty(&input) {
                return empty(columns);
            }
            let identity =
                exprs.len() == input.arity() && columns_in_order(&exprs) && names(&input) == out_names;
            if identity {
                return *input;
            }
            match *input {
                // Merged only when no computed expression of the inner projection would be
                // copied (a chain of such merges could grow the plan exponentially).
                Plan::Project { input: inner, exprs: below, .. } if !copies_computed(&exprs, &below) => {
                    let merged = exprs.iter().map(|e| substitute(e, &below)).collect();
                    simplify_node(project(*inner, merged, out_names))
                }
                other => project(other, exprs, out_names),
            }
        }
        Plan::Join { left, right, kind, on } => {
            let (left_empty, right_empty) = (is_empty(&left), is_empty(&right));
            let false_on = split_conjuncts(&on).iter().any(is_false_or_null);
            match kind {
                JoinKind::Inner | JoinKind::Semi if left_empty || right_empty || false_on => empty(columns),
                JoinKind::Left | JoinKind::Anti if left_empty => empty(columns),
                JoinKind::Right if right_empty => empty(columns),
                JoinKind::Full if left_empty && right_empty => empty(columns),
                JoinKind::Anti if right_empty || false_on => *left,
                JoinKind::Left if right_empty || false_on => pad(*left, &columns, false),
                JoinKind::Right if left_empty || false_on => pad(*right, &columns, true),
                // A right side of one row and no columns (left over by pruning) adds nothing.
                JoinKind::Inner | JoinKind::Left if is_true(&on) && is_one_empty_row(&right) => *left,
                _ => Plan::Join { left, right, kind, on },
            }
        }
        Plan::Aggregate { ref input, ref group, .. } if is_empty(input) && !group.is_empty() => {
            empty(columns)
        }
        Plan::Distinct { input } | Plan::TopK { input, .. } | Plan::RowNumber { input, .. }
            if is_empty(&input) =>
        {
            empty(columns)
        }
        Plan::TopK { limit: Some(0), .. } | Plan::RowNumber { limit: Some(0), .. } => empty(columns),
        Plan::SetOp { op, all, left, right } => {
            let (left_empty, right_empty) = (is_empty(&left), is_empty(&right));
            let distinct = |plan: Plan| if all { plan } else { Plan::Distinct { input: Box::new(plan) } };
            match op {
                _ if left_empty && right_empty => empty(columns),
                SetOp::Union if right_empty => distinct(*left),
                SetOp::Union if left_empty => {
                    let renamed = project(
                        *right,
                        column_refs(&columns, 0),
                        columns.iter().map(|c| c.name.clone()).collect(),
                    );
                    distinct(simplify_node(renamed))
                }
                SetOp::Except if left_empty => empty(columns),
                SetOp::Except if right_empty => distinct(*left),
                SetOp::Intersect if left_empty || right_empty => empty(columns),
                _ => Plan::SetOp { op, all, left, right },
            }
        }
        other => other,
    }
}

/// The rows of one side of an outer join that found no partner, padded with `NULL`s for
/// the other side: `columns` is the join's output; `right` says which side `side` is.
fn pad(side: Plan, columns: &[crate::plan::Column], right: bool) -> Plan {
    let side_arity = side.arity();
    let other = columns.len() - side_arity;
    let null = |c: &crate::plan::Column| ScalarExpr::literal(crate::datum::Datum::Null, c.ty);
    let exprs: Vec<ScalarExpr> = if right {
        columns[..other].iter().map(null).chain(column_refs(&columns[other..], 0)).collect()
    } else {
        column_refs(&columns[..side_arity], 0)
            .into_iter()
            .chain(columns[side_arity..].iter().map(null))
            .collect()
    };
    project(side, exprs, columns.iter().map(|c| c.name.clone()).collect())
}

/// Whether the plan is exactly one row of no columns: an aggregate without groups or
/// aggregates (pruning leaves these behind).
fn is_one_empty_row(plan: &Plan) -> bool {
    match plan {
        Plan::Aggregate { group, aggregates, .. } => group.is_empty() && aggregates.is_empty(),
        Plan::Values { rows, columns } => rows.len() == 1 && columns.is_empty(),
        _ => false,
    }
}

/// Whether substituting `inner` into `outer` would copy an expression that is more than a
/// column or a literal.
fn copies_computed(outer: &[ScalarExpr], inner: &[ScalarExpr]) -> bool {
    let mut uses = vec![0usize; inner.len()];
    for expr in outer {
        expr.visit(&mut |e| {
            if let ScalarExpr::Column { index, .. } = e {
                if let Some(count) = uses.get_mut(*index) {
                    *count += 1;
                }
            }
        });
    }
    inner.iter().zip(uses).any(|(expr, count)| {
        count > 1 && !matches!(expr, ScalarExpr::Column { .. } | ScalarExpr::Literal { .. })
    })
}
