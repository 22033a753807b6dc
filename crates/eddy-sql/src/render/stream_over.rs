//! Streaming `OVER` (`Plan::Over` with `streaming`): Flink's rowtime `OVER` aggregation on
//! an append-only input ordered by its rowtime, one operator with the input exchanged by the
//! partition key.
//!
//! Each row waits, with a capability at its rowtime, until the input frontier has passed that
//! rowtime: then every row of the partition up to it is in (a row arriving after the frontier
//! passed its rowtime is late and dropped, as Flink drops it). The rows due at one rowtime are
//! put after the partition's kept rows, in the node's order (ties by the whole row), their
//! values computed by [`crate::over::over_sorted`] (the relational implementation, over the
//! rows their frames can reach) and emitted at the rowtime, once, final. The partition then
//! keeps only its last rows that a `ROWS` frame or `LAG` can still reach and the rows within
//! the longest `RANGE` frame of the next rowtime ([`crate::plan::streaming_reach`]), so its
//! state is bounded by the frames.
//!
//! Updates at a restore's replay time are history: never late; those whose rowtime has
//! passed are due at the replay time itself (their results were emitted before the checkpoint
//! and come out again for the output state to cancel, as every operator's do).

use std::collections::BTreeMap;

use differential_dataflow::{AsCollection, Hashable, VecCollection};
use eddy_core::hash::HashMap;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use super::reduce::{partition_key, Outcome};
use super::time::{as_ms, as_time, timestamp_of};
use super::{Diff, ReplayTime, RowError, Rows, Time};
use crate::datum::Row;
use crate::order::compare_rows;
use crate::over::over_sorted;
use crate::plan::{streaming_reach, OverFunction, SortKey};

/// The node's description, for the operator that runs it.
pub(super) struct StreamingOver {
    pub partition: Vec<usize>,
    pub order: Vec<SortKey>,
    pub functions: Vec<OverFunction>,
    /// The node as `EXPLAIN` labels it, for errors.
    pub operator: String,
}

/// Renders a streaming `OVER` over `rows`.
pub(super) fn render<'scope>(
    rows: Rows<'scope>,
    node: StreamingOver,
    replay: ReplayTime,
) -> VecCollection<'scope, Time, Outcome, Diff> {
    let StreamingOver { partition, order, functions, operator } = node;
    let column = order.first().map_or(0, |key| key.column);
    let (keep_rows, keep_range) = streaming_reach(&functions);
    let route = partition.clone();
    let outcomes: Stream<'scope, Time, Vec<(Outcome, Time, Diff)>> = rows.inner.unary_frontier(
        Exchange::new(move |(row, _, _): &(Row, Time, Diff)| partition_key(row, &route).hashed()),
        &format!("StreamingOver({operator})"),
        |_, _| {
            // Per due time: a capability there and the rows due.
            let mut pending: BTreeMap<Time, (Capability<Time>, Vec<(Row, Diff)>)> = BTreeMap::new();
            // Per partition: the rows later frames can reach, in order.
            let mut kept: HashMap<Row, Vec<Row>> = HashMap::default();
            move |(input, frontier), output| {
                input.for_each(|capability, batch| {
                    let mut refused = Vec::new();
                    for (row, time, diff) in batch.drain(..) {
                        let Some(ms) = timestamp_of(&row, column) else { continue };
                        if diff < 0 {
                            let message = "a row was retracted, but a streaming OVER reads an append-only \
                                           input"
                                .to_owned();
                            refused.push((
                                Err(RowError { operator: operator.clone(), row, message }),
                                time,
                                1,
                            ));
                            continue;
                        }
                        let history = replay.get() == Some(time);
                        let due = if as_time(ms) >= time {
                            as_time(ms)
                        } else if history {
                            time
                        } else {
                            continue; // Late: the frontier passed its rowtime before it came.
                        };
                        let entry =
                            pending.entry(due).or_insert_with(|| (capability.delayed(&due, 0), Vec::new()));
                        entry.1.push((row, diff));
                    }
                    if !refused.is_empty() {
                        output.session(&capability).give_iterator(refused.into_iter());
                    }
                });
                while let Some(entry) = pending.first_entry() {
                    if frontier.less_equal(entry.key()) {
                        break;
                    }
                    let due = *entry.key();
                    let (capability, rows) = entry.remove();
                    let mut partitions: BTreeMap<Row, Vec<Row>> = BTreeMap::new();
                    for (row, count) in rows {
                        let copies = partitions.entry(partition_key(&row, &partition)).or_default();
                        copies.extend(std::iter::repeat_n(row, usize::try_from(count).unwrap_or(0)));
                    }
                    let mut session = output.session(&capability);
                    for (key, mut new) in partitions {
                        new.sort_by(|a, b| compare_rows(a, b, &order));
                        let mut rows = kept.remove(&key).unwrap_or_default();
                        let from = rows.len();
                        rows.append(&mut new);
                        let sorted: Vec<&Row> = rows.iter().collect();
                        match over_sorted(&sorted, from, &order, &functions) {
                            Ok(values) => {
                                session.give_iterator(values.into_iter().map(|row| (Ok(row), due, 1)))
                            }
                            Err(error) => {
                                let error = RowError {
                                    operator: operator.clone(),
                                    row: key.clone(),
                                    message: error.to_string(),
                                };
                                session.give((Err(error), due, 1));
                            }
                        }
                        // Later rows are due after `due`: keep what their frames reach, the
                        // last `keep_rows` rows and those within `keep_range` (the rows are in
                        // rowtime order, so both are suffixes).
                        let reach_from = as_ms(due).saturating_add(1).saturating_sub(keep_range);
                        let in_range = rows.partition_point(|row| {
                            timestamp_of(row, column).is_none_or(|ms| ms < reach_from)
                        });
                        rows.drain(..in_range.min(rows.len().saturating_sub(keep_rows)));
                        if !rows.is_empty() {
                            kept.insert(key, rows);
                        }
                    }
                }
            }
        },
    );
    outcomes.as_collection()
}
