//! The event-time operators of [`TimeOp`]: window table functions, and the expiry and
//! finalization that bound a windowed operator's state (see [`TimeOp`] for the contract).
//!
//! * **Window** is a `flat_map`: each row once per window.
//! * **Expire** is a `flat_map` too: an update `(row, t, d)` whose end `e = row[end] +
//!   lateness` is after `t` passes, and `(row, e, -d)` follows it at the later logical time
//!   `e` (a differential update may carry any time at or after its message's capability). An
//!   update at or after its end is late and dropped. Downstream arrangements therefore hold a
//!   window's rows only until the frontier passes its end, and compact them away after.
//! * **Finalize** holds a row's updates from before `row[end]` (with a capability at
//!   `row[end] - 1`) until the input frontier reaches `row[end]`, when every update before it
//!   is in; it then emits their consolidation at `row[end] - 1`, which is the window's
//!   `window_time`, so a result is never late for a window operator after it. Updates in
//!   `[row[end], row[end] + lateness)` are corrections and pass at their own times; updates at
//!   or after `row[end] + lateness` are the expiry's retractions and are dropped.
//!
//! Both decide from the row and the update's time alone, so they need no exchange and give
//! the same output at any worker count.

use std::collections::BTreeMap;

use differential_dataflow::consolidation::consolidate;
use differential_dataflow::AsCollection;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::core::Map;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use super::{Diff, Rows, Time};
use crate::datum::{Datum, Row};
use crate::plan::{TimeOp, TimeWindow};

/// The logical time a row's column `end` names, plus `lateness`; `None` when it is `NULL`.
/// Times before 1970 are 0 (no logical time is before it).
fn end_of(row: &Row, end: usize, lateness: u64) -> Option<Time> {
    match row.get(end) {
        Some(Datum::Timestamp(ms)) => Some(u64::try_from(*ms).unwrap_or(0).saturating_add(lateness)),
        _ => None,
    }
}

/// Renders a [`TimeOp`] over `rows`.
pub(super) fn render<'scope>(rows: Rows<'scope>, op: TimeOp, name: &str) -> Rows<'scope> {
    match op {
        TimeOp::Window { time, window } => windows(rows, time, window),
        TimeOp::Expire { end, lateness } => expire(rows, end, lateness),
        TimeOp::Finalize { end, lateness } => finalize(rows, end, lateness, name),
    }
}

fn windows<'scope>(rows: Rows<'scope>, time: usize, window: TimeWindow) -> Rows<'scope> {
    rows.flat_map(move |row| window.rows_of(&row, time))
}

fn expire<'scope>(rows: Rows<'scope>, end: usize, lateness: u64) -> Rows<'scope> {
    let updates: Stream<'scope, Time, Vec<(Row, Time, Diff)>> =
        rows.inner.flat_map::<Vec<(Row, Time, Diff)>, _, _>(move |(row, time, diff)| match end_of(&row, end, lateness) {
            None => vec![(row, time, diff)],
            Some(at) if at <= time => vec![],
            Some(at) => vec![(row.clone(), time, diff), (row, at, -diff)],
        });
    updates.as_collection()
}

fn finalize<'scope>(rows: Rows<'scope>, end: usize, lateness: u64, name: &str) -> Rows<'scope> {
    let updates: Stream<'scope, Time, Vec<(Row, Time, Diff)>> = rows
        .inner
        .unary_frontier::<CapacityContainerBuilder<Vec<(Row, Time, Diff)>>, _, _, _>(
            Pipeline,
            &format!("Finalize({name})"),
            |_, _| {
                // Per window end: a capability at `end - 1` and the updates held for it.
                let mut held: BTreeMap<Time, (Capability<Time>, Vec<(Row, Diff)>)> = BTreeMap::new();
                move |(input, frontier), output| {
                    input.for_each(|capability, batch| {
                        let mut passed = Vec::new();
                        for (row, time, diff) in batch.drain(..) {
                            let Some(window_end) = end_of(&row, end, 0) else {
                                passed.push((row, time, diff));
                                continue;
                            };
                            if time < window_end {
                                let entry = held.entry(window_end).or_insert_with(|| {
                                    (capability.delayed(&(window_end - 1), 0), Vec::new())
                                });
                                entry.1.push((row, diff));
                            } else if time < window_end.saturating_add(lateness) {
                                passed.push((row, time, diff));
                            }
                        }
                        if !passed.is_empty() {
                            output.session(&capability).give_iterator(passed.into_iter());
                        }
                    });
                    // Every window whose end the frontier has reached is complete.
                    while let Some(entry) = held.first_entry() {
                        if frontier.less_than(entry.key()) {
                            break;
                        }
                        let (capability, mut updates) = entry.remove();
                        consolidate(&mut updates);
                        let at = *capability.time();
                        output.session(&capability).give_iterator(
                            updates.into_iter().map(move |(row, diff)| (row, at, diff)),
                        );
                    }
                }
            },
        );
    updates.as_collection()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_are_logical_times() {
        let row = Row::new(vec![Datum::Timestamp(10_000), Datum::Null, Datum::Timestamp(-5)]);
        assert_eq!(end_of(&row, 0, 0), Some(10_000));
        assert_eq!(end_of(&row, 0, 500), Some(10_500));
        assert_eq!(end_of(&row, 1, 0), None);
        assert_eq!(end_of(&row, 2, 7), Some(7));
    }
}
