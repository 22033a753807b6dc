//! Predicate push-down: every filter conjunct moves as far down the plan as it stays
//! correct, so fewer rows reach joins and aggregations.
//!
//! * Through `Project` (the conjunct is rewritten over the projection's input), `Distinct`,
//!   and set operations (into both inputs: a filter on whole rows commutes with `UNION`,
//!   `INTERSECT` and `EXCEPT`, with and without `ALL`).
//! * Through `Aggregate` only when it reads nothing but group keys (and there is a
//!   `GROUP BY`: without one, an empty input still gives a row), through `TopK` only when it
//!   reads nothing but partition columns. The same for `RowNumber`, whose number a bound
//!   (`rn <= n`, `rn < n`, `rn = 1`) instead becomes the node's limit (Flink's Top-N).
//! * Into an inner join's inputs and condition. For outer joins only into the side whose
//!   rows are preserved; a conjunct that rejects the padded `NULL`s of a side first turns the
//!   join into a one-sided or an inner join. A join condition's conjunct that reads one side
//!   only moves into that side when that side's rows are not preserved.
//! * At an inner join, a constant that an equality chain carries to other columns
//!   (`a = b AND b = 5`) is added for them (`a = 5`), so it filters the other input too.

use std::collections::BTreeSet;

use super::util::{fold, is_true, map_inputs, project, rejects_nulls, substitute};

use crate::expr::{BinaryOp, ScalarExpr};
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
        Plan::RowNumber { input, partition, order, mut limit, name } => {
            // A conjunct on partition columns keeps or drops whole partitions, so it may go
            // below; a bound on the number becomes the limit; anything else stays above (a
            // row filtered out below would change the numbers of the rows after it).
            let number = input.arity();
            let mut below = vec![];
            let mut above = vec![];
            for predicate in predicates {
                if !partition.is_empty() && predicate.columns().iter().all(|c| partition.contains(c)) {
                    below.push(predicate);
                } else if let Some((bound, exact)) = row_number_bound(&predicate, number) {
                    limit = Some(limit.map_or(bound, |limit| limit.min(bound)));
                    if !exact {
                        above.push(predicate);
                    }
                } else {
                    above.push(predicate);
                }
            }
            let numbered =
                Plan::RowNumber { input: Box::new(push(*input, below)), partition, order, limit, name };
            filter(numbered, above)
        }
        Plan::Over { input, partition, order, functions, streaming } => {
            // As for `RowNumber`: conjuncts on partition columns keep or drop whole partitions.
            let (below, above): (Vec<ScalarExpr>, Vec<ScalarExpr>) = predicates
                .into_iter()
                .partition(|p| !partition.is_empty() && p.columns().iter().all(|c| partition.contains(c)));
            let over =
                Plan::Over { input: Box::new(push(*input, below)), partition, order, functions, streaming };
            filter(over, above)
        }
        Plan::Time { input, op } => {
            // Row by row: a conjunct on the input's columns goes below (for a window table
            // function, before rows are copied into windows); expiry and finalization act
            // on each row alone, so conjuncts pass them.
            let arity = input.arity();
            let (below, above): (Vec<ScalarExpr>, Vec<ScalarExpr>) =
                predicates.into_iter().partition(|p| p.columns().iter().all(|c| *c < arity));
            filter(Plan::Time { input: Box::new(push(*input, below)), op }, above)
        }
        Plan::TemporalJoin { left, right, kind, on, time } => {
            // A conjunct on left columns keeps or drops a left row whatever it meets, so it
            // goes below; right rows are versions (dropping one changes which is the latest),
            // so nothing goes into the right side.
            let width = left.arity();
            let (below, above): (Vec<ScalarExpr>, Vec<ScalarExpr>) =
                predicates.into_iter().partition(|p| p.columns().iter().all(|c| *c < width));
            let join = Plan::TemporalJoin {
                left: Box::new(push(*left, below)),
                right: Box::new(push(*right, vec![])),
                kind,
                on,
                time,
            };
            filter(join, above)
        }
        Plan::MatchRecognize { input, spec } => {
            // Filters do not pass a pattern match: the rows a match sees depend on all of them.
            let Ok(plan) = map_inputs::<std::convert::Infallible>(
                Plan::MatchRecognize { input: Box::new(push(*input, vec![])), spec },
                &mut |p| Ok(p),
            );
            filter(plan, predicates)
        }
        Plan::Apply { .. } => {
            // Only before decorrelation; the subquery is left as it is.
            let Ok(plan) = map_inputs::<std::convert::Infallible>(plan, &mut |p| Ok(p));
            filter(plan, predicates)
        }
        leaf @ (Plan::Get { .. } | Plan::Values { .. }) => filter(leaf, predicates),
    }
}

/// The largest row number that a conjunct on the number column `number` lets through
/// (`rn <= n`, `rn < n`, `rn = n`, and the same with the sides swapped), and whether the
/// limit alone says all the conjunct says (not so for `rn = 3`, which also drops 1 and 2).
fn row_number_bound(predicate: &ScalarExpr, number: usize) -> Option<(u64, bool)> {
    let ScalarExpr::Binary { op, left, right, .. } = predicate else { return None };
    let value = |expr: &ScalarExpr| match expr {
        ScalarExpr::Literal { value, .. } => match value {
            crate::datum::Datum::BigInt(v) => Some(*v),
            crate::datum::Datum::Int(v) => Some(i64::from(*v)),
            _ => None,
        },
        _ => None,
    };
    let is_number = |expr: &ScalarExpr| matches!(expr, ScalarExpr::Column { index, .. } if *index == number);
    // As `rn <op> n`.
    let (op, n) = if is_number(left) {
        (*op, value(right)?)
    } else if is_number(right) {
        let mirrored = match op {
            BinaryOp::GtEq => BinaryOp::LtEq,
            BinaryOp::Gt => BinaryOp::Lt,
            BinaryOp::Eq => BinaryOp::Eq,
            _ => return None,
        };
        (mirrored, value(left)?)
    } else {
        return None;
    };
    let clamp = |n: i64| u64::try_from(n).unwrap_or(0);
    match op {
        BinaryOp::LtEq => Some((clamp(n), true)),
        BinaryOp::Lt => Some((clamp(n.saturating_sub(1)), true)),
        BinaryOp::Eq => Some((clamp(n), n <= 1)),
        _ => None,
    }
}

/// `Filter(plan, conjuncts)`, folded, without a filter when nothing is left.
fn filter(plan: Plan, conjuncts: Vec<ScalarExpr>) -> Plan {
    let mut kept: Vec<ScalarExpr> = vec![];
    for conjunct in conjuncts.into_iter().map(fold) {
        if !is_true(&conjunct) && !kept.contains(&conjunct) {
            kept.push(conjunct);
        }
    }
    let conjuncts = kept;
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
    let mut predicates = predicates;
    if kind == JoinKind::Inner {
        let mut all = predicates.clone();
        all.extend(split_conjuncts(&on));
        predicates.extend(implied_constants(&all));
    }
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

/// `c = v` for every column `c` that the conjuncts make equal (by `=` between columns of one
/// type) to a column they compare with a non-`NULL` constant `v`, where the conjuncts do not
/// already say so. Adding them changes nothing (they follow from the others) but lets the
/// constant reach the other join input.
fn implied_constants(conjuncts: &[ScalarExpr]) -> Vec<ScalarExpr> {
    let mut classes: Vec<BTreeSet<usize>> = vec![];
    let mut constants: Vec<(usize, ScalarExpr)> = vec![];
    for conjunct in conjuncts {
        let ScalarExpr::Binary { op: BinaryOp::Eq, left, right, .. } = conjunct else { continue };
        match (&**left, &**right) {
            (ScalarExpr::Column { index: a, ty: ta }, ScalarExpr::Column { index: b, ty: tb })
                if ta == tb =>
            {
                let joined: BTreeSet<usize> = [*a, *b].into();
                let (mut merged, rest): (Vec<_>, Vec<_>) =
                    classes.into_iter().partition(|class| !class.is_disjoint(&joined));
                let mut class = joined;
                for other in merged.drain(..) {
                    class.extend(other);
                }
                classes = rest;
                classes.push(class);
            }
            (ScalarExpr::Column { index, ty }, literal @ ScalarExpr::Literal { value, ty: lt })
            | (literal @ ScalarExpr::Literal { value, ty: lt }, ScalarExpr::Column { index, ty })
                if ty == lt && !value.is_null() =>
            {
                constants.push((*index, literal.clone()));
            }
            _ => {}
        }
    }
    let mut implied = vec![];
    for class in &classes {
        let Some((_, literal)) = constants.iter().find(|(c, _)| class.contains(c)) else { continue };
        for &member in class {
            if !constants.iter().any(|(c, _)| *c == member) {
                let ty = literal.ty();
                implied.push(ScalarExpr::Binary {
                    op: BinaryOp::Eq,
                    left: Box::new(ScalarExpr::Column { index: member, ty }),
                    right: Box::new(literal.clone()),
                    ty: crate::types::SqlType::Boolean,
                });
            }
        }
    }
    implied
}
