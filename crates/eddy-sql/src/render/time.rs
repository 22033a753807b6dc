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
use timely::dataflow::operators::core::Map;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use super::{Diff, ReplayTime, Rows, Time};
use crate::datum::{Datum, Row};
use crate::plan::{TimeOp, TimeWindow};

/// The milliseconds a row's `TIMESTAMP` column holds (`None` for `NULL`).
pub(super) fn timestamp_of(row: &Row, column: usize) -> Option<i64> {
    match row.get(column) {
        Some(Datum::Timestamp(ms)) => Some(*ms),
        _ => None,
    }
}

/// Milliseconds as a logical time (before 1970: 0).
pub(super) fn as_time(ms: i64) -> Time {
    u64::try_from(ms).unwrap_or(0)
}

/// A logical time as milliseconds.
pub(super) fn as_ms(time: Time) -> i64 {
    i64::try_from(time).unwrap_or(i64::MAX)
}

/// The logical time a row's column `end` names, plus `delay`; `None` when it is `NULL`.
/// An end at or before 1970 is 1: rows of a table read at one time (time 0) are never late,
/// whatever their timestamps, and their windows close when the input ends.
fn end_of(row: &Row, end: usize, delay: i64) -> Option<Time> {
    match row.get(end) {
        Some(Datum::Timestamp(ms)) => Some(u64::try_from(ms.saturating_add(delay)).unwrap_or(0).max(1)),
        _ => None,
    }
}

/// Renders a [`TimeOp`] over `rows`. Updates at the `replay` time are a restored job's
/// history (see [`ReplayTime`]): never late, and results of windows closed before it come out
/// again at it.
pub(super) fn render<'scope>(rows: Rows<'scope>, op: TimeOp, name: &str, replay: ReplayTime) -> Rows<'scope> {
    match op {
        TimeOp::Window { time, window } => windows(rows, time, window),
        TimeOp::Session { time, partition, gap } => sessions(rows, time, partition, gap, name, replay),
        TimeOp::Expire { end, delay } => expire(rows, end, delay, replay),
        TimeOp::Finalize { end, lateness } => finalize(rows, end, lateness, name, replay),
        TimeOp::AppendOnly { ends } => append_only(rows, ends, replay),
    }
}

fn windows<'scope>(rows: Rows<'scope>, time: usize, window: TimeWindow) -> Rows<'scope> {
    rows.flat_map(move |row| window.rows_of(&row, time))
}

/// One open session of a key: `[start, end)` and its rows' updates.
struct Session {
    end: i64,
    rows: Vec<(Row, Diff)>,
}

/// The open sessions of every key.
#[derive(Default)]
struct OpenSessions {
    /// By key, then start; the sessions of a key never overlap.
    by_key: BTreeMap<Row, BTreeMap<i64, Session>>,
    /// `(end, key, start)` of every open session, to find the ones that close.
    by_end: std::collections::BTreeSet<(i64, Row, i64)>,
}

impl OpenSessions {
    /// Adds the update of a row with time `ts` to its key's sessions, merging the ones its
    /// window `[ts, ts + gap)` meets; `false` (and nothing changes) when it meets none and ends
    /// at or before `late_at`. Returns the end of its session.
    fn add(&mut self, key: Row, ts: i64, gap: i64, row: Row, diff: Diff, late_at: i64) -> Option<i64> {
        let sessions = self.by_key.entry(key.clone()).or_default();
        let (mut start, mut end) = (ts, ts.saturating_add(gap));
        // Sessions are disjoint: the ones met start before this end and end after this start.
        let met: Vec<i64> =
            sessions.range(..end).rev().take_while(|(_, s)| s.end > start).map(|(s, _)| *s).collect();
        if met.is_empty() && end.max(1) <= late_at {
            if sessions.is_empty() {
                self.by_key.remove(&key);
            }
            return None;
        }
        let mut rows = vec![(row, diff)];
        for s in met {
            let merged = sessions.remove(&s).expect("met");
            self.by_end.remove(&(merged.end, key.clone(), s));
            start = start.min(s);
            end = end.max(merged.end);
            rows.extend(merged.rows);
        }
        sessions.insert(start, Session { end, rows });
        self.by_end.insert((end, key, start));
        Some(end)
    }

    /// Closes every session that ends at or before `limit`: its rows with the window columns,
    /// at `end - 1` (or `floor`, the held capability's time, if later: a restore's history
    /// closes sessions that ended before its replay time), into `out`.
    fn close(&mut self, limit: i64, floor: Time, out: &mut Vec<(Row, Time, Diff)>) {
        while self.by_end.first().is_some_and(|(end, _, _)| *end <= limit) {
            let (end, key, start) = self.by_end.pop_first().expect("first");
            let sessions = self.by_key.get_mut(&key).expect("indexed");
            let mut session = sessions.remove(&start).expect("indexed");
            if sessions.is_empty() {
                self.by_key.remove(&key);
            }
            let at = u64::try_from(end - 1).unwrap_or(0).max(floor);
            consolidate(&mut session.rows);
            for (row, diff) in session.rows {
                let mut values = row.values().to_vec();
                values.extend([start, end, end - 1].map(Datum::Timestamp));
                out.push((Row::new(values), at, diff));
            }
        }
    }

    fn first_end(&self) -> Option<i64> {
        self.by_end.first().map(|(end, _, _)| *end)
    }
}

/// Session windows ([`TimeOp::Session`]). Rows are exchanged by their partition key. The
/// updates of a logical time `t` are applied once the frontier has passed `t` (so all of them
/// are in), in the order of (time column, row), after the sessions ending at or before `t`
/// have closed, as the watermark closes them in Flink before later rows arrive; a row whose
/// own window meets no open session and has already ended is late and dropped. A closed
/// session's rows are emitted with the window columns at `end - 1`. So the output depends on
/// the updates of each logical time, not on how they were batched. The operator holds a
/// capability per pending logical time, and one at the earliest open session's `end - 1`.
fn sessions<'scope>(
    rows: Rows<'scope>,
    time: usize,
    partition: Vec<usize>,
    gap: u64,
    name: &str,
    replay: ReplayTime,
) -> Rows<'scope> {
    use differential_dataflow::Hashable;
    use timely::dataflow::channels::pact::Exchange;

    let key_of = move |row: &Row| -> Row {
        Row::new(partition.iter().map(|c| row.get(*c).cloned().unwrap_or(Datum::Null)).collect())
    };
    let route = key_of.clone();
    let gap = i64::try_from(gap).unwrap_or(i64::MAX);
    let updates: Stream<'scope, Time, Vec<(Row, Time, Diff)>> =
        rows.inner.unary_frontier::<CapacityContainerBuilder<Vec<(Row, Time, Diff)>>, _, _, _>(
            Exchange::new(move |(row, _, _): &(Row, Time, Diff)| route(row).hashed()),
            &format!("Sessions({name})"),
            |_, _| {
                let mut pending: BTreeMap<Time, (Capability<Time>, Vec<(i64, Row, Diff)>)> = BTreeMap::new();
                let mut open = OpenSessions::default();
                let mut hold: Option<Capability<Time>> = None;
                move |(input, frontier), output| {
                    input.for_each(|capability, batch| {
                        for (row, at, diff) in batch.drain(..) {
                            let Some(Datum::Timestamp(ts)) = row.get(time).cloned() else { continue };
                            let entry =
                                pending.entry(at).or_insert_with(|| (capability.delayed(&at, 0), Vec::new()));
                            entry.1.push((ts, row, diff));
                        }
                    });
                    let mut closed = Vec::new();
                    while let Some(entry) = pending.first_entry() {
                        if frontier.less_equal(entry.key()) {
                            break;
                        }
                        let at = *entry.key();
                        let (capability, mut updates) = entry.remove();
                        let floor = hold.as_ref().map_or(at, |h| *h.time());
                        open.close(as_ms(at), floor, &mut closed);
                        updates.sort();
                        // History (a restore's replay) is never late.
                        let late_at = if replay.get() == Some(at) { i64::MIN } else { as_ms(at) };
                        for (ts, row, diff) in updates {
                            if let Some(end) = open.add(key_of(&row), ts, gap, row, diff, late_at) {
                                let until = as_time(end - 1).max(at);
                                if hold.as_ref().is_none_or(|h| *h.time() > until) {
                                    hold = Some(capability.delayed(&until));
                                }
                            }
                        }
                    }
                    // Then every session the frontier has reached the end of.
                    let floor = hold.as_ref().map_or(0, |h| *h.time());
                    match frontier.frontier().iter().min() {
                        Some(&least) => open.close(as_ms(least), floor, &mut closed),
                        None => open.close(i64::MAX, floor, &mut closed),
                    }
                    if !closed.is_empty() {
                        let capability = hold.as_ref().expect("a closed session was held");
                        output.session(capability).give_iterator(closed.into_iter());
                    }
                    match open.first_end() {
                        Some(end) => {
                            if let Some(capability) = hold.as_mut() {
                                let until = as_time(end - 1).max(*capability.time());
                                capability.downgrade(&until);
                            }
                        }
                        None => hold = None,
                    }
                }
            },
        );
    updates.as_collection()
}

/// [`TimeOp::AppendOnly`]: a `filter` on the update's time.
fn append_only<'scope>(rows: Rows<'scope>, ends: Vec<(usize, i64)>, replay: ReplayTime) -> Rows<'scope> {
    let updates: Stream<'scope, Time, Vec<(Row, Time, Diff)>> =
        rows.inner.flat_map::<Vec<(Row, Time, Diff)>, _, _>(move |(row, time, diff)| {
            let end = ends.iter().filter_map(|(column, delay)| end_of(&row, *column, *delay)).min();
            let history = replay.get() == Some(time);
            (history || end.is_none_or(|end| time < end)).then_some((row, time, diff))
        });
    updates.as_collection()
}

fn expire<'scope>(rows: Rows<'scope>, end: usize, delay: i64, replay: ReplayTime) -> Rows<'scope> {
    let updates: Stream<'scope, Time, Vec<(Row, Time, Diff)>> = rows
        .inner
        .flat_map::<Vec<(Row, Time, Diff)>, _, _>(move |(row, time, diff)| match end_of(&row, end, delay) {
            None => vec![(row, time, diff)],
            // History that had expired before the checkpoint: in, and out right after.
            Some(at) if at <= time && replay.get() == Some(time) => {
                vec![(row.clone(), time, diff), (row, time + 1, -diff)]
            }
            Some(at) if at <= time => vec![],
            Some(at) => vec![(row.clone(), time, diff), (row, at, -diff)],
        });
    updates.as_collection()
}

fn finalize<'scope>(
    rows: Rows<'scope>,
    end: usize,
    lateness: u64,
    name: &str,
    replay: ReplayTime,
) -> Rows<'scope> {
    let updates: Stream<'scope, Time, Vec<(Row, Time, Diff)>> =
        rows.inner.unary_frontier::<CapacityContainerBuilder<Vec<(Row, Time, Diff)>>, _, _, _>(
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
                            } else if time < window_end.saturating_add(lateness) || replay.get() == Some(time)
                            {
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
                        output
                            .session(&capability)
                            .give_iterator(updates.into_iter().map(move |(row, diff)| (row, at, diff)));
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
    fn timestamps_convert_to_logical_times_and_back() {
        let row = Row::new(vec![Datum::Timestamp(1_500), Datum::Null]);
        assert_eq!(timestamp_of(&row, 0), Some(1_500));
        assert_eq!(timestamp_of(&row, 1), None);
        assert_eq!((as_time(1_500), as_time(-5)), (1_500, 0));
        assert_eq!(as_ms(Time::MAX), i64::MAX);
    }

    #[test]
    fn ends_are_logical_times() {
        let row = Row::new(vec![Datum::Timestamp(10_000), Datum::Null, Datum::Timestamp(-5)]);
        assert_eq!(end_of(&row, 0, 0), Some(10_000));
        assert_eq!(end_of(&row, 0, 500), Some(10_500));
        assert_eq!(end_of(&row, 0, -500), Some(9_500));
        assert_eq!(end_of(&row, 1, 0), None);
        assert_eq!(end_of(&row, 2, 7), Some(2));
        assert_eq!(end_of(&row, 2, 3), Some(1));
    }
}
