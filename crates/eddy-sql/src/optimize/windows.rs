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

use crate::datum::{Datum, Interval as DatumInterval};
use crate::expr::{BinaryOp, ScalarExpr};
use crate::plan::{split_conjuncts, Plan, TimeOp};
use crate::types::SqlType;

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
    let delay = i64::try_from(lateness).unwrap_or(i64::MAX);
    Box::new(Plan::Time { input: Box::new(input), op: TimeOp::Expire { end, delay } })
}

fn finalize(input: Plan, end: usize, lateness: u64) -> Plan {
    Plan::Time { input: Box::new(input), op: TimeOp::Finalize { end, lateness } }
}

/// The first window pair whose both columns satisfy `contains`.
fn windowed_by(pairs: &[Pair], contains: impl Fn(usize) -> bool) -> Option<Pair> {
    pairs.iter().copied().find(|(start, end)| contains(*start) && contains(*end))
}

/// The bounds of an interval join: the left and right time columns (the right one numbered
/// within the right input) and `lo <= left - right <= hi` in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Interval {
    left: usize,
    right: usize,
    lo: i64,
    hi: i64,
}

/// A side of a time comparison: a `TIMESTAMP` column plus a constant day-time interval (ms).
fn time_term(expr: &ScalarExpr) -> Option<(usize, i64)> {
    match expr {
        ScalarExpr::Column { index, ty: SqlType::Timestamp { .. } } => Some((*index, 0)),
        ScalarExpr::Binary { op: op @ (BinaryOp::Add | BinaryOp::Sub), left, right, .. } => {
            let (column, offset) = time_term(left)?;
            let ScalarExpr::Literal { value: Datum::Interval(DatumInterval { months: 0, millis }), .. } =
                &**right
            else {
                return None;
            };
            let millis = if *op == BinaryOp::Add { *millis } else { millis.checked_neg()? };
            Some((column, offset.checked_add(millis)?))
        }
        _ => None,
    }
}

/// The interval-join bounds of a join condition (over `width` left columns, then the right
/// ones): conjuncts comparing a left time column with a right one, each plus a constant
/// interval (`l.ts BETWEEN r.ts - INTERVAL '1' HOUR AND r.ts`, `l.ts >= r.ts`, ...), that
/// bound `left - right` from both sides for one pair of columns.
fn interval(on: &ScalarExpr, width: usize) -> Option<Interval> {
    let mut bounds: Vec<Interval> = Vec::new();
    // `x BETWEEN a AND b` is `x >= a AND x <= b`.
    let comparisons = split_conjuncts(on).into_iter().flat_map(|conjunct| match conjunct {
        ScalarExpr::Between { expr, low, high, negated: false } => {
            vec![(BinaryOp::GtEq, expr.clone(), low), (BinaryOp::LtEq, expr, high)]
        }
        ScalarExpr::Binary { op, left, right, .. } => vec![(op, left, right)],
        _ => vec![],
    });
    for (op, left, right) in comparisons {
        let op = &op;
        let (Some((a, a_offset)), Some((b, b_offset))) = (time_term(&left), time_term(&right)) else {
            continue;
        };
        // As `left - right <op> k`.
        let (op, l, r, k) = if a < width && b >= width {
            (*op, a, b - width, b_offset.checked_sub(a_offset)?)
        } else if a >= width && b < width {
            let mirrored = match op {
                BinaryOp::Lt => BinaryOp::Gt,
                BinaryOp::LtEq => BinaryOp::GtEq,
                BinaryOp::Gt => BinaryOp::Lt,
                BinaryOp::GtEq => BinaryOp::LtEq,
                other => *other,
            };
            (mirrored, b, a - width, a_offset.checked_sub(b_offset)?)
        } else {
            continue;
        };
        let at = match bounds.iter().position(|i| i.left == l && i.right == r) {
            Some(at) => at,
            None => {
                bounds.push(Interval { left: l, right: r, lo: i64::MIN, hi: i64::MAX });
                bounds.len() - 1
            }
        };
        let bound = &mut bounds[at];
        match op {
            BinaryOp::GtEq => bound.lo = bound.lo.max(k),
            BinaryOp::Gt => bound.lo = bound.lo.max(k.saturating_add(1)),
            BinaryOp::LtEq => bound.hi = bound.hi.min(k),
            BinaryOp::Lt => bound.hi = bound.hi.min(k.saturating_sub(1)),
            BinaryOp::Eq => {
                bound.lo = bound.lo.max(k);
                bound.hi = bound.hi.min(k);
            }
            _ => {}
        }
    }
    bounds.into_iter().find(|b| b.lo != i64::MIN && b.hi != i64::MAX && b.lo <= b.hi)
}

/// An interval join: a left row can meet only right rows of time `left - hi ..= left - lo`,
/// so once the frontier passes `left - lo` it meets no new one and expires; a right row
/// expires after `right + hi`. The join's output is kept append-only (the expiries' retractions
/// are dropped), as Flink's interval join emits each pair once.
fn interval_join(left: Plan, right: Plan, on: ScalarExpr, bounds: Interval) -> Plan {
    let width = left.arity();
    let left_delay = 1i64.saturating_sub(bounds.lo);
    let right_delay = bounds.hi.saturating_add(1);
    let join = Plan::Join {
        left: Box::new(Plan::Time {
            input: Box::new(left),
            op: TimeOp::Expire { end: bounds.left, delay: left_delay },
        }),
        right: Box::new(Plan::Time {
            input: Box::new(right),
            op: TimeOp::Expire { end: bounds.right, delay: right_delay },
        }),
        kind: crate::plan::JoinKind::Inner,
        on,
    };
    let ends = vec![(bounds.left, left_delay), (width + bounds.right, right_delay)];
    Plan::Time { input: Box::new(join), op: TimeOp::AppendOnly { ends } }
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
                None => match interval(&on, width).filter(|_| kind == crate::plan::JoinKind::Inner) {
                    Some(bounds) => (interval_join(left, right, on, bounds), vec![]),
                    None => (Plan::Join { left: Box::new(left), right: Box::new(right), kind, on }, vec![]),
                },
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
