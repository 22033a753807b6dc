//! Predicate push-down: every filter conjunct moves as far down the plan as it stays
//! correct, so fewer rows reach joins and aggregations.
//!
//! * Through `Project` (the conjunct is rewritten over the projection's input), `Distinct`,
//!   and set operations (into both inputs: a filter on whole rows commutes with `UNION`,
//!   `INTERSECT` and `EXCEPT`, with and without `ALL`).
//! * Through `Aggregate` only when it reads nothing but group keys (and there is a
//!   `GROUP BY`: without one, an empty input still gives a row), through `TopK` only when it
//!   reads nothing but partition columns.
//! * Into an inner join's inputs and condition. For outer joins only into the side whose
//!   rows are preserved; a conjunct that rejects the padded `NULL`s of a side first turns the
//!   join into a one-sided or an inner join. A join condition's conjunct that reads one side
//!   only moves into that side when that side's rows are not preserved.

use super::util::{fold, is_true, map_inputs, project, rejects_nulls, substitute};
use crate::expr::ScalarExpr;
use crate::plan::{conjunction, split_conjuncts, JoinKind, Plan};

/// Pushes every filter of the plan down; see the module docs.
pub(super) fn pushdown(plan: Plan) -> Plan {
    push(plan, vec![])
}

/// `Filter(plan, predicates)` with the predicates pushed down as far as they go.
fn push(plan: Plan, predicates: Vec<ScalarExpr>) -> Plan {
    match plan {
        Plan::Filter { input, predicate } => {
            let mut all = split_conjuncts(&predicate);
            all.extend(predicates);
            push(*input, all)
        }
        Plan::Project { input, exprs, names } => {
            let below = predicates.iter().map(|p| substitute(p, &exprs)).collect();
            project(push(*input, below), exprs, names)
        }
        Plan::Join { left, right, kind, on } => push_join(*left, *right, kind, on, predicates),
        Plan::Aggregate { input, group, group_names, aggregates, aggregate_names } => {
            let keys = group.len();
            let (below, above): (Vec<ScalarExpr>, Vec<ScalarExpr>) =
                predicates.into_iter().partition(|p| keys > 0 && p.columns().iter().all(|c| *c < keys));
            let below = below.iter().map(|p| substitute(p, &group)).collect();
            let aggregate = Plan::Aggregate {
                input: Box::new(push(*input, below)),
                group,
                group_names,
                aggregates,
                aggregate_names,
            };
            filter(aggregate, above)
        }
        Plan::Distinct { input } => Plan::Distinct { input: Box::new(push(*input, predicates)) },
        Plan::SetOp { op, all, left, right } => Plan::SetOp {
            op,
            all,
            left: Box::new(push(*left, predicates.clone())),
            right: Box::new(push(*right, predicates)),
        },
        Plan::TopK { input, group, order, limit, offset } => {
            let (below, above): (Vec<ScalarExpr>, Vec<ScalarExpr>) = predicates
                .into_iter()
                .partition(|p| p.columns().iter().all(|c| group.contains(c)) && !group.is_empty());
            let top = Plan::TopK { input: Box::new(push(*input, below)), group, order, limit, offset };
            filter(top, above)
        }
        Plan::Apply { .. } => {
            // Only before decorrelation; the subquery is left as it is.
            let Ok(plan) = map_inputs::<std::convert::Infallible>(plan, &mut |p| Ok(p));
            filter(plan, predicates)
        }
        leaf @ (Plan::Get { .. } | Plan::Values { .. }) => filter(leaf, predicates),
    }
}

/// `Filter(plan, conjuncts)`, folded, without a filter when nothing is left.
fn filter(plan: Plan, conjuncts: Vec<ScalarExpr>) -> Plan {
    let conjuncts: Vec<ScalarExpr> = conjuncts.into_iter().map(fold).filter(|c| !is_true(c)).collect();
    if conjuncts.is_empty() {
        plan
    } else {
        Plan::Filter { input: Box::new(plan), predicate: conjunction(conjuncts) }
    }
}

/// Which inputs of a join a conjunct reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sides {
    None,
    Left,
    Right,
    Both,
}

fn sides(expr: &ScalarExpr, left_arity: usize) -> Sides {
    let columns = expr.columns();
    let left = columns.iter().any(|c| *c < left_arity);
    let right = columns.iter().any(|c| *c >= left_arity);
    match (left, right) {
        (false, false) => Sides::None,
        (true, false) => Sides::Left,
        (false, true) => Sides::Right,
        (true, true) => Sides::Both,
    }
}

fn push_join(left: Plan, right: Plan, kind: JoinKind, on: ScalarExpr, predicates: Vec<ScalarExpr>) -> Plan {
    let left_arity = left.arity();
    let on_left = |c: usize| c < left_arity;
    let on_right = |c: usize| c >= left_arity;
    // A filter that rejects the NULLs padding one side removes the rows that padding made.
    let rejects_right = predicates.iter().any(|p| rejects_nulls(p, &on_right));
    let rejects_left = predicates.iter().any(|p| rejects_nulls(p, &on_left));
    let kind = match kind {
        JoinKind::Left if rejects_right => JoinKind::Inner,
        JoinKind::Right if rejects_left => JoinKind::Inner,
        JoinKind::Full => match (rejects_left, rejects_right) {
            (true, true) => JoinKind::Inner,
            // Rows padded on the left are gone: what is left is a left join.
            (true, false) => JoinKind::Left,
            (false, true) => JoinKind::Right,
            (false, false) => JoinKind::Full,
        },
        other => other,
    };
    let (mut to_left, mut to_right, mut to_on, mut above) = (vec![], vec![], vec![], vec![]);
    // Conjuncts of a filter above the join.
    for predicate in predicates {
        let side = sides(&predicate, left_arity);
        match (kind, side) {
            (JoinKind::Inner, Sides::None | Sides::Left) => to_left.push(predicate),
            (JoinKind::Inner, Sides::Right) => to_right.push(predicate),
            (JoinKind::Inner, Sides::Both) => to_on.push(predicate),
            (JoinKind::Left | JoinKind::Semi | JoinKind::Anti, Sides::None | Sides::Left) => {
                to_left.push(predicate)
            }
            (JoinKind::Right, Sides::Right) => to_right.push(predicate),
            _ => above.push(predicate),
        }
    }
    // Conjuncts of the join condition.
    for conjunct in split_conjuncts(&on) {
        let side = sides(&conjunct, left_arity);
        match (kind, side) {
            (JoinKind::Inner, Sides::None | Sides::Left)
            | (JoinKind::Semi | JoinKind::Right, Sides::Left) => to_left.push(conjunct),
            (JoinKind::Inner | JoinKind::Semi | JoinKind::Anti | JoinKind::Left, Sides::Right) => {
                to_right.push(conjunct)
            }
            _ => to_on.push(conjunct),
        }
    }
    let to_right = to_right
        .into_iter()
        .map(|mut p| {
            p.remap_columns(&|c| c - left_arity);
            p
        })
        .collect();
    let join = Plan::Join {
        left: Box::new(push(left, to_left)),
        right: Box::new(push(right, to_right)),
        kind,
        on: conjunction(to_on.into_iter().map(fold).filter(|c| !is_true(c)).collect()),
    };
    filter(join, above)
}
