//! The event-time parts of the plan: window table functions ([`TimeWindow`]) and what a
//! [`Plan::Time`](super::Plan::Time) node does ([`TimeOp`]).

use std::collections::BTreeMap;

use super::Column;
use crate::datum::Row;
use crate::types::SqlType;

/// The windows of a window table function (Flink's `TUMBLE`, `HOP`, `CUMULATE`), in
/// milliseconds. Windows are aligned to the epoch plus `offset`; a window `[start, end)` holds
/// the rows whose time column is in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeWindow {
    /// Consecutive windows of `size`: each row is in one.
    Tumble {
        /// The window length.
        size: u64,
        /// Where windows start, relative to the epoch.
        offset: i64,
    },
    /// Windows of `size` starting every `slide`: each row is in `size / slide` windows.
    Hop {
        /// The window length (a multiple of `slide`).
        size: u64,
        /// How often a window starts.
        slide: u64,
        /// Where windows start, relative to the epoch.
        offset: i64,
    },
    /// Windows that start every `size` and grow by `step` up to `size`: each row is in the
    /// windows of its period that end after it.
    Cumulate {
        /// The step by which a window grows (divides `size`).
        step: u64,
        /// The largest window.
        size: u64,
        /// Where periods start, relative to the epoch.
        offset: i64,
    },
}

impl TimeWindow {
    /// The windows `[start, end)` that hold a row of time `ts`, earliest start first.
    pub fn windows(&self, ts: i64) -> Vec<(i64, i64)> {
        // The start of the period of length `period` (aligned to `offset`) that holds `t`.
        let floor = |t: i64, period: u64, offset: i64| {
            let period = period as i64;
            t - (t - offset).rem_euclid(period)
        };
        match *self {
            TimeWindow::Tumble { size, offset } => {
                let start = floor(ts, size, offset);
                vec![(start, start.saturating_add(size as i64))]
            }
            TimeWindow::Hop { size, slide, offset } => {
                let last = floor(ts, slide, offset);
                let mut out = Vec::new();
                let mut start = last;
                while start > ts.saturating_sub(size as i64) {
                    out.push((start, start.saturating_add(size as i64)));
                    start -= slide as i64;
                }
                out.reverse();
                out
            }
            TimeWindow::Cumulate { step, size, offset } => {
                let start = floor(ts, size, offset);
                let first_end = floor(ts, step, offset).saturating_add(step as i64);
                let last_end = start.saturating_add(size as i64);
                let mut out = Vec::new();
                let mut end = first_end;
                while end <= last_end {
                    out.push((start, end));
                    end += step as i64;
                }
                out
            }
        }
    }
}

impl TimeWindow {
    /// A row once per window its column `time` falls in, with `window_start`, `window_end`
    /// and `window_time` appended ([`TimeOp::Window`]); none when the time is `NULL`.
    pub fn rows_of(&self, row: &Row, time: usize) -> Vec<Row> {
        let Some(crate::datum::Datum::Timestamp(ts)) = row.get(time) else { return vec![] };
        self.windows(*ts)
            .into_iter()
            .map(|(start, end)| {
                let mut values = row.values().to_vec();
                values.extend([start, end, end - 1].map(crate::datum::Datum::Timestamp));
                Row::new(values)
            })
            .collect()
    }
}

/// Session windows over all of `rows` at once (the batch meaning of [`TimeOp::Session`]): each
/// row with a time, with its session's `window_start`, `window_end` and `window_time`.
pub fn session_rows(rows: Vec<Row>, time: usize, partition: &[usize], gap: u64) -> Vec<Row> {
    use crate::datum::Datum;
    let mut by_key: BTreeMap<Vec<Datum>, Vec<(i64, Row)>> = BTreeMap::new();
    for row in rows {
        let Some(Datum::Timestamp(ts)) = row.get(time).cloned() else { continue };
        let key = partition.iter().map(|c| row.get(*c).cloned().unwrap_or(Datum::Null)).collect();
        by_key.entry(key).or_default().push((ts, row));
    }
    let gap = i64::try_from(gap).unwrap_or(i64::MAX);
    let mut out = Vec::new();
    for (_, mut group) in by_key {
        group.sort_by_key(|(ts, _)| *ts);
        let mut session: Vec<(i64, Row)> = Vec::new();
        let mut flush = |session: &mut Vec<(i64, Row)>| {
            if let (Some(first), Some(last)) = (session.first(), session.last()) {
                let (start, end) = (first.0, last.0.saturating_add(gap));
                for (_, row) in session.drain(..) {
                    let mut values = row.values().to_vec();
                    values.extend([start, end, end - 1].map(Datum::Timestamp));
                    out.push(Row::new(values));
                }
            }
        };
        for (ts, row) in group {
            if session.last().is_some_and(|(last, _)| ts >= last.saturating_add(gap)) {
                flush(&mut session);
            }
            session.push((ts, row));
        }
        flush(&mut session);
    }
    out
}

/// What a [`Plan::Time`] node does.
///
/// Windowed operators keep bounded state with two of these around them, as Materialize's
/// temporal filters do: [`TimeOp::Expire`] below retracts every input row at a future logical
/// time (when its window closes), so the operator's arrangements empty out as the frontier
/// passes; [`TimeOp::Finalize`] above holds the operator's output for a window until the
/// window closes, emits it once (append-only), and drops the retractions the expiry causes.
/// In a computation without time (the reference evaluator, a batch), both are the identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TimeOp {
    /// A window table function: each input row once per window its `time` column (a
    /// `TIMESTAMP`) falls in, with `window_start`, `window_end` and `window_time`
    /// (`window_end - 1 ms`, the rowtime of the window's results) appended. A row whose time
    /// is `NULL` is in no window.
    Window {
        /// The time column.
        time: usize,
        /// The windows.
        window: TimeWindow,
    },
    /// Session windows (Flink's `SESSION`): the rows of each `partition` key whose `time`
    /// columns are less than `gap` apart form one window, `[first time, last time + gap)`;
    /// each input row comes out once with `window_start`, `window_end` and `window_time`
    /// appended, when the frontier passes its window's end (so the rows are final). A row
    /// whose window has already closed when it arrives is late and dropped; rows whose time is
    /// `NULL` are in no window.
    Session {
        /// The time column.
        time: usize,
        /// The partition key's columns.
        partition: Vec<usize>,
        /// The largest gap within a session (ms).
        gap: u64,
    },
    /// Each row lives until the frontier passes `row[end] + delay`: it is retracted at that
    /// logical time. A row that arrives at or after it is late and dropped.
    Expire {
        /// The `TIMESTAMP` column whose value (ms) plus `delay` is the row's end.
        end: usize,
        /// Added to the column (ms; a window's allowed lateness, an interval join's bound).
        delay: i64,
    },
    /// Keeps a join of expiring inputs append-only: a row's updates at or after the earliest
    /// `row[column] + delay` of `ends` (the expiry of an input row it was made of) are
    /// dropped; earlier ones pass at once.
    AppendOnly {
        /// `(column, delay)` pairs, one per expiring input.
        ends: Vec<(usize, i64)>,
    },
    /// A row's changes before `row[end]` are held until the frontier reaches `row[end]` and
    /// then emitted at `row[end] - 1` (the window's final result); changes in
    /// `[row[end], row[end] + lateness)` pass as corrections; later changes (the expiry of
    /// the rows below) are dropped.
    Finalize {
        /// The `TIMESTAMP` column whose value (ms) is the row's end.
        end: usize,
        /// How long corrections are accepted after the end (ms).
        lateness: u64,
    },
}

impl TimeOp {
    /// The columns it appends to its input's.
    pub fn appended(&self) -> Vec<Column> {
        match self {
            TimeOp::Window { .. } | TimeOp::Session { .. } => ["window_start", "window_end", "window_time"]
                .into_iter()
                .map(|name| Column::new(name, SqlType::TIMESTAMP))
                .collect(),
            TimeOp::Expire { .. } | TimeOp::Finalize { .. } | TimeOp::AppendOnly { .. } => vec![],
        }
    }

    /// The input columns it reads.
    pub fn reads(&self) -> Vec<usize> {
        match self {
            TimeOp::Window { time, .. } => vec![*time],
            TimeOp::Session { time, partition, .. } => {
                std::iter::once(*time).chain(partition.iter().copied()).collect()
            }
            TimeOp::Expire { end, .. } | TimeOp::Finalize { end, .. } => vec![*end],
            TimeOp::AppendOnly { ends } => ends.iter().map(|(c, _)| *c).collect(),
        }
    }

    /// The same operator reading input column `f(column)` instead of `column`.
    pub fn remapped(&self, f: impl Fn(usize) -> usize) -> TimeOp {
        let mut op = self.clone();
        match &mut op {
            TimeOp::Session { time, partition, .. } => {
                *time = f(*time);
                partition.iter_mut().for_each(|c| *c = f(*c));
            }
            TimeOp::AppendOnly { ends } => ends.iter_mut().for_each(|(c, _)| *c = f(*c)),
            TimeOp::Window { time: column, .. }
            | TimeOp::Expire { end: column, .. }
            | TimeOp::Finalize { end: column, .. } => *column = f(*column),
        }
        op
    }
}
