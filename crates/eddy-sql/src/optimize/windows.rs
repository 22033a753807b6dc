//! Windowed operators: an aggregation, `ROW_NUMBER`/Top-K, `DISTINCT` or join over the
//! windows of a window table function becomes a *window* operator, as Flink's planner does:
//! its input rows expire when their window closes and its results are emitted once, final,
//! when the window closes ([`TimeOp::Expire`] below it, [`TimeOp::Finalize`] above it), so
//! its state is bounded by the open windows and its output is append-only.
//!
//! Which operators: the window columns (`window_start`, `window_end` of one window table
//! function) are tracked up the plan through projections and filters that keep them, and
//! through window operators' outputs (a window aggregation's result has window columns too,
//! so windows cascade). An operator is windowed when
//! * an aggregation groups by both columns of a window pair,
//! * a `ROW_NUMBER` or Top-K partitions by both,
//! * a `DISTINCT` reads a relation with a window pair,
//! * a join's condition equates both columns of a left pair with both of a right pair.
//!
//! Anything else over window columns is a regular, updating operator (a `GROUP BY
//! window_start` alone, say): correct, but its state is not retired.

use crate::expr::{BinaryOp, ScalarExpr};
use crate::plan::{split_conjuncts, Plan, TimeOp};

/// `(window_start, window_end)` column positions.
type Pair = (usize, usize);

/// Rewrites every windowed operator of `plan`; `lateness` (ms) is how long after a window
/// closes late rows still correct its results (0: they are dropped, as Flink does).
pub(super) fn windows(plan: Plan, lateness: u64) -> Plan {
    rewrite(plan, lateness).0
}

fn is_column(expr: &ScalarExpr, column: usize) -> bool {
    matches!(expr, ScalarExpr::Column { index, .. } if *index == column)
}

fn expire(input: Plan, end: usize, lateness: u64) -> Box<Plan> {
    Box::new(Plan::Time { input: Box::new(input), op: TimeOp::Expire { end, lateness } })
}

fn finalize(input: Plan, end: usize, lateness: u64) -> Plan {
    Plan::Time { input: Box::new(input), op: TimeOp::Finalize { end, lateness } }
}

/// The first window pair whose both columns satisfy `contains`.
fn windowed_by(pairs: &[Pair], contains: impl Fn(usize) -> bool) -> Option<Pair> {
    pairs.iter().copied().find(|(start, end)| contains(*start) && contains(*end))
}

fn rewrite(plan: Plan, lateness: u64) -> (Plan, Vec<Pair>) {
    match plan {
        Plan::Time { input, op } => {
            let (input, mut pairs) = rewrite(*input, lateness);
            if let TimeOp::Window { .. } | TimeOp::Session { .. } = op {
                let at = input.arity();
                pairs.push((at, at + 1));
            }
            (Plan::Time { input: Box::new(input), op }, pairs)
        }
        Plan::Filter { input, predicate } => {
            let (input, pairs) = rewrite(*input, lateness);
            (Plan::Filter { input: Box::new(input), predicate }, pairs)
        }
        Plan::Project { input, exprs, names } => {
            let (input, pairs) = rewrite(*input, lateness);
            let find = |column: usize| exprs.iter().position(|e| is_column(e, column));
            let pairs = pairs.iter().filter_map(|(start, end)| Some((find(*start)?, find(*end)?))).collect();
            (Plan::Project { input: Box::new(input), exprs, names }, pairs)
        }
        Plan::Aggregate { input, group, group_names, aggregates, aggregate_names } => {
            let (input, pairs) = rewrite(*input, lateness);
            let key = |column: usize| group.iter().position(|e| is_column(e, column));
            match windowed_by(&pairs, |c| key(c).is_some()) {
                Some((start, end)) => {
                    let (out_start, out_end) = (key(start).expect("found"), key(end).expect("found"));
                    let aggregate = Plan::Aggregate {
                        input: expire(input, end, lateness),
                        group,
                        group_names,
                        aggregates,
                        aggregate_names,
                    };
                    (finalize(aggregate, out_end, lateness), vec![(out_start, out_end)])
                }
                None => {
                    let aggregate = Plan::Aggregate {
                        input: Box::new(input),
                        group,
                        group_names,
                        aggregates,
                        aggregate_names,
                    };
                    (aggregate, vec![])
                }
            }
        }
        Plan::RowNumber { input, partition, order, limit, name } => {
            let (input, pairs) = rewrite(*input, lateness);
            match windowed_by(&pairs, |c| partition.contains(&c)) {
                Some((_, end)) => {
                    let numbered = Plan::RowNumber {
                        input: expire(input, end, lateness),
                        partition,
                        order,
                        limit,
                        name,
                    };
                    (finalize(numbered, end, lateness), pairs)
                }
                None => (Plan::RowNumber { input: Box::new(input), partition, order, limit, name }, vec![]),
            }
        }
        Plan::TopK { input, group, order, limit, offset } => {
            let (input, pairs) = rewrite(*input, lateness);
            match windowed_by(&pairs, |c| group.contains(&c)) {
                Some((_, end)) => {
                    let top = Plan::TopK { input: expire(input, end, lateness), group, order, limit, offset };
                    (finalize(top, end, lateness), pairs)
                }
                None => (Plan::TopK { input: Box::new(input), group, order, limit, offset }, vec![]),
            }
        }
        Plan::Distinct { input } => {
            let (input, pairs) = rewrite(*input, lateness);
            match pairs.first() {
                Some(&(_, end)) => {
                    let distinct = Plan::Distinct { input: expire(input, end, lateness) };
                    (finalize(distinct, end, lateness), pairs)
                }
                None => (Plan::Distinct { input: Box::new(input) }, vec![]),
            }
        }
        Plan::Join { left, right, kind, on } => {
            let (left, left_pairs) = rewrite(*left, lateness);
            let (right, right_pairs) = rewrite(*right, lateness);
            let width = left.arity();
            let equal = |l: usize, r: usize| {
                split_conjuncts(&on).iter().any(|conjunct| match conjunct {
                    ScalarExpr::Binary { op: BinaryOp::Eq, left: a, right: b, .. } => {
                        (is_column(a, l) && is_column(b, width + r))
                            || (is_column(b, l) && is_column(a, width + r))
                    }
                    _ => false,
                })
            };
            let matched = left_pairs.iter().copied().find_map(|(ls, le)| {
                right_pairs
                    .iter()
                    .copied()
                    .find(|&(rs, re)| equal(ls, rs) && equal(le, re))
                    .map(|(_, re)| (le, re))
            });
            // A full outer join pads both sides, so no one end column is never NULL: it stays a
            // regular join (correct, with unbounded state).
            match matched.filter(|_| kind != crate::plan::JoinKind::Full) {
                Some((left_end, right_end)) => {
                    let mut pairs = left_pairs;
                    if kind.keeps_right() {
                        pairs.extend(right_pairs.iter().map(|(s, e)| (s + width, e + width)));
                    }
                    let join = Plan::Join {
                        left: expire(left, left_end, lateness),
                        right: expire(right, right_end, lateness),
                        kind,
                        on,
                    };
                    // The left end is NULL in rows a right outer join pads: finalize those at the right end.
                    let end = if matches!(kind, crate::plan::JoinKind::Right) {
                        right_end + width
                    } else {
                        left_end
                    };
                    (finalize(join, end, lateness), pairs)
                }
                None => (Plan::Join { left: Box::new(left), right: Box::new(right), kind, on }, vec![]),
            }
        }
        other => {
            let Ok(plan) = super::util::map_inputs::<std::convert::Infallible>(other, &mut |p| {
                Ok(rewrite(p, lateness).0)
            });
            (plan, vec![])
        }
    }
}
