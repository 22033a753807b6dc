//! Streaming `OVER`: an `OVER` node whose input is append-only and ordered by its rowtime
//! alone, with frames that end at the current row and reach a bounded distance back, becomes
//! Flink's rowtime `OVER` aggregation (`Plan::Over` with `streaming`): each row's values are
//! computed once, when the watermark passes its rowtime, and the node keeps only the rows a
//! later frame can reach.
//!
//! Which inputs are append-only with a rowtime: a table the session names in
//! [`super::OptimizeOptions::rowtimes`] (an append-only connector with a watermark), through
//! filters, projections that keep the rowtime column, and window table functions (row by row).
//! Which functions: aggregates over `ROWS n PRECEDING` or `RANGE INTERVAL ... PRECEDING` (or
//! `CURRENT ROW`) up to `CURRENT ROW`, and `LAG`. Frames from `UNBOUNDED PRECEDING`, ranks and
//! `LEAD` keep the relational node (it handles any input, at the cost of recomputing a
//! partition on each change).

use crate::plan::{FrameBound, OverFunction, OverKind, Plan, TimeOp};

use super::util::map_inputs;

/// Marks every `OVER` node that can run as a streaming `OVER`; `rowtimes` names the append-only
/// tables read at event time and their rowtime columns.
pub(super) fn rowtime_over(plan: Plan, rowtimes: &[(String, usize)]) -> Plan {
    rewrite(plan, rowtimes).0
}

/// The rewritten plan and, when its rows are only ever appended, its rowtime columns.
fn rewrite(plan: Plan, rowtimes: &[(String, usize)]) -> (Plan, Option<Vec<usize>>) {
    match plan {
        Plan::Get { name, columns } => {
            let times: Vec<usize> =
                rowtimes.iter().filter(|(table, _)| *table == name).map(|(_, c)| *c).collect();
            let times = (!times.is_empty()).then_some(times);
            (Plan::Get { name, columns }, times)
        }
        Plan::Filter { input, predicate } => {
            let (input, times) = rewrite(*input, rowtimes);
            (Plan::Filter { input: Box::new(input), predicate }, times)
        }
        Plan::Project { input, exprs, names } => {
            let (input, times) = rewrite(*input, rowtimes);
            let times = times.map(|times| {
                let kept = exprs.iter().enumerate().filter_map(|(at, expr)| match expr {
                    crate::expr::ScalarExpr::Column { index, .. } if times.contains(index) => Some(at),
                    _ => None,
                });
                kept.collect::<Vec<usize>>()
            });
            (Plan::Project { input: Box::new(input), exprs, names }, times.filter(|times| !times.is_empty()))
        }
        Plan::Time { input, op: op @ TimeOp::Window { .. } } => {
            let (input, times) = rewrite(*input, rowtimes);
            (Plan::Time { input: Box::new(input), op }, times)
        }
        Plan::Over { input, partition, order, functions, streaming } => {
            let (input, times) = rewrite(*input, rowtimes);
            let by_rowtime = match (&times, order.as_slice()) {
                (Some(times), [key]) => times.contains(&key.column) && !key.descending,
                _ => false,
            };
            let streaming = streaming || (by_rowtime && functions.iter().all(streamable));
            // The input's columns come out unchanged, the rowtime among them.
            let times = if streaming { times } else { None };
            (Plan::Over { input: Box::new(input), partition, order, functions, streaming }, times)
        }
        other => {
            let plan = map_inputs::<std::convert::Infallible>(other, &mut |p| Ok(rewrite(p, rowtimes).0))
                .unwrap_or_else(|never| match never {});
            (plan, None)
        }
    }
}

/// Whether a function's value depends only on rows at most a bounded distance before the
/// current one (and its peers).
fn streamable(function: &OverFunction) -> bool {
    match &function.kind {
        OverKind::Aggregate(_) => {
            matches!(function.frame.start, FrameBound::Preceding(n) if n >= 0)
                || matches!(function.frame.start, FrameBound::CurrentRow)
        }
        OverKind::Offset { offset, .. } => *offset > 0,
        OverKind::Rank | OverKind::DenseRank => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::ScalarExpr;
    use crate::plan::{AggregateCall, AggregateFunction, Column, Frame, FrameUnits, SortKey};
    use crate::types::SqlType;

    fn get() -> Plan {
        Plan::Get {
            name: "bid".into(),
            columns: vec![
                Column::new("auction", SqlType::BigInt),
                Column::new("ts", SqlType::Timestamp { precision: 3 }),
            ],
        }
    }

    fn sum(start: FrameBound) -> OverFunction {
        OverFunction {
            kind: OverKind::Aggregate(AggregateCall {
                function: AggregateFunction::Count,
                args: vec![ScalarExpr::Column { index: 0, ty: SqlType::BigInt }],
                distinct: false,
                filter: None,
                ty: SqlType::BigInt,
            }),
            frame: Frame { units: FrameUnits::Rows, start, end: FrameBound::CurrentRow },
            name: "n".into(),
        }
    }

    fn over(input: Plan, column: usize, function: OverFunction) -> Plan {
        Plan::Over {
            input: Box::new(input),
            partition: vec![0],
            order: vec![SortKey { column, descending: false, nulls_first: true }],
            functions: vec![function],
            streaming: false,
        }
    }

    fn is_streaming(plan: &Plan) -> bool {
        matches!(plan, Plan::Over { streaming: true, .. })
    }

    #[test]
    fn an_over_by_an_append_only_rowtime_with_a_bounded_frame_streams() {
        let rowtimes = vec![("bid".to_owned(), 1)];
        let plan = over(get(), 1, sum(FrameBound::Preceding(3)));
        assert!(is_streaming(&rowtime_over(plan, &rowtimes)));
        // Through a projection that moves the rowtime.
        let moved = Plan::Project {
            input: Box::new(get()),
            exprs: vec![
                ScalarExpr::Column { index: 1, ty: SqlType::Timestamp { precision: 3 } },
                ScalarExpr::Column { index: 0, ty: SqlType::BigInt },
            ],
            names: vec!["ts".into(), "auction".into()],
        };
        assert!(is_streaming(&rowtime_over(over(moved, 0, sum(FrameBound::Preceding(3))), &rowtimes)));
    }

    #[test]
    fn other_orders_frames_and_tables_stay_relational() {
        let rowtimes = vec![("bid".to_owned(), 1)];
        assert!(!is_streaming(&rowtime_over(over(get(), 0, sum(FrameBound::Preceding(3))), &rowtimes)));
        assert!(!is_streaming(&rowtime_over(over(get(), 1, sum(FrameBound::UnboundedPreceding)), &rowtimes)));
        assert!(!is_streaming(&rowtime_over(over(get(), 1, sum(FrameBound::Preceding(3))), &[])));
    }

    #[test]
    fn reach_takes_the_longest_frame() {
        let mut range = sum(FrameBound::Preceding(5000));
        range.frame.units = FrameUnits::Range;
        assert_eq!(
            crate::plan::streaming_reach(&[
                sum(FrameBound::Preceding(3)),
                range,
                sum(FrameBound::CurrentRow)
            ]),
            (3, 5000)
        );
    }
}
