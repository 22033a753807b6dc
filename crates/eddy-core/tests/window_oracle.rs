//! Oracle tests for windows: random out-of-order input over several splits, at 1, 2 and 4
//! workers, against a plain single-threaded computation of the same semantics (Flink's
//! window operator: event-time trigger with allowed lateness and a late side output, merging
//! sessions, count windows, processing-time windows). Outputs are compared per logical time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use eddy_connectors::{CollectSink, CollectionSource};
use eddy_core::prelude::*;
use eddy_testkit::oracle::{self, Disorder};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Event {
    key: u32,
    ts: u64,
    value: i64,
}

/// One window firing: key, window bounds, sum and count of the elements.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Fired {
    key: u32,
    start: i64,
    end: u64,
    sum: i64,
    count: u64,
}

const DELAY: u64 = 40;
const EMIT_EVERY: u64 = 2;
const LATE: OutputTag<Event> = OutputTag::new("late-events");

struct Sum;

impl AggregateFunction<Event> for Sum {
    type Acc = (i64, u64);
    type Out = (i64, u64);
    fn create_accumulator(&self) -> (i64, u64) {
        (0, 0)
    }
    fn add(&self, accumulator: &mut (i64, u64), event: Event) {
        accumulator.0 += event.value;
        accumulator.1 += 1;
    }
    fn merge(&self, left: (i64, u64), right: (i64, u64)) -> (i64, u64) {
        (left.0 + right.0, left.1 + right.1)
    }
    fn get_result(&self, accumulator: &(i64, u64)) -> (i64, u64) {
        *accumulator
    }
}

struct WithWindow;

impl ProcessWindowFunction<u32, (i64, u64), Fired> for WithWindow {
    fn process(
        &mut self,
        key: &u32,
        window: &Window,
        sums: &[(i64, u64)],
        ctx: &mut WindowContext<'_, Fired>,
    ) {
        for &(sum, count) in sums {
            ctx.emit(Fired { key: *key, start: window.start, end: window.end, sum, count });
        }
    }
}

fn random_input(seed: u64, splits: usize, per_split: usize) -> Vec<Vec<Event>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let disorder = Disorder { near: 5, far: 60, far_probability: 0.08 };
    oracle::unique_timestamps(&mut rng, splits, per_split, 2)
        .into_iter()
        .map(|mut mine| {
            oracle::disorder(&mut rng, &mut mine, disorder);
            mine.into_iter()
                .map(|ts| Event { key: rng.gen_range(0..5), ts, value: rng.gen_range(-20..100) })
                .collect()
        })
        .collect()
}

/// Each record's logical time: its split's watermark before the record.
fn by_logical_time(partitions: &[Vec<Event>]) -> BTreeMap<u64, Vec<Event>> {
    let mut by_time: BTreeMap<u64, Vec<Event>> = BTreeMap::new();
    for partition in partitions {
        let times = oracle::logical_times(partition.iter().map(|event| event.ts), DELAY, EMIT_EVERY);
        for (event, time) in partition.iter().zip(times) {
            by_time.entry(time).or_default().push(event.clone());
        }
    }
    for events in by_time.values_mut() {
        events.sort_by_key(|event| (event.key, event.ts));
    }
    by_time
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Tumbling(u64),
    Sliding(u64, u64),
    Session(u64),
}

/// Outputs by logical time: window firings (with event time) and late events.
type Outputs = BTreeMap<u64, (Vec<(Fired, u64)>, Vec<Event>)>;

/// Flink's window operator with the event-time trigger, simulated one key at a time.
/// With `purging`, every firing also drops the window's contents (but not the window).
fn reference_event_time(partitions: &[Vec<Event>], kind: Kind, lateness: u64, purging: bool) -> Outputs {
    // Windows as (start, end); sliding windows may start before time 0.
    let assign = |ts: u64| -> Vec<(i64, u64)> {
        match kind {
            Kind::Tumbling(size) => vec![((ts - ts % size) as i64, ts - ts % size + size)],
            Kind::Sliding(size, slide) => {
                let mut windows = Vec::new();
                let mut start = (ts - ts % slide) as i64;
                while start > ts as i64 - size as i64 {
                    windows.push((start, (start + size as i64) as u64));
                    start -= slide as i64;
                }
                windows
            }
            Kind::Session(gap) => vec![(ts as i64, ts + gap)],
        }
    };
    let mut out: Outputs = BTreeMap::new();
    // Per key: window -> (sum, count). Timers: (time, key, window) for max-timestamp firings
    // and cleanups (one timer serves both when they coincide).
    let mut panes: BTreeMap<(u32, (i64, u64)), (i64, u64)> = BTreeMap::new();
    let mut timers: BTreeSet<(u64, u32, (i64, u64))> = BTreeSet::new();
    let max_ts = |window: (i64, u64)| window.1 - 1;
    let cleanup = |window: (i64, u64)| window.1 - 1 + lateness;
    let fire_timers = |limit: Option<u64>,
                       panes: &mut BTreeMap<(u32, (i64, u64)), (i64, u64)>,
                       timers: &mut BTreeSet<(u64, u32, (i64, u64))>,
                       out: &mut Outputs| {
        while let Some(&(time, key, window)) = timers.iter().next() {
            if limit.is_some_and(|limit| time >= limit) {
                break;
            }
            timers.remove(&(time, key, window));
            if let Some(&(sum, count)) = panes.get(&(key, window)) {
                if time == max_ts(window) && count > 0 {
                    let fired = Fired { key, start: window.0, end: window.1, sum, count };
                    out.entry(time).or_default().0.push((fired, max_ts(window)));
                    if purging {
                        panes.insert((key, window), (0, 0));
                    }
                }
                if time == cleanup(window) {
                    panes.remove(&(key, window));
                }
            }
        }
    };
    for (time, events) in by_logical_time(partitions) {
        fire_timers(Some(time), &mut panes, &mut timers, &mut out);
        for event in events {
            let mut skipped = true;
            for window in assign(event.ts) {
                let mut actual = window;
                if matches!(kind, Kind::Session(_)) {
                    // Merge transitively with this key's sessions that intersect (inclusively).
                    let mut merged: Vec<(i64, u64)> = Vec::new();
                    loop {
                        let next = panes
                            .keys()
                            .filter(|(key, existing)| {
                                *key == event.key
                                    && !merged.contains(existing)
                                    && i128::from(existing.0) <= i128::from(actual.1)
                                    && i128::from(existing.1) >= i128::from(actual.0)
                            })
                            .map(|(_, existing)| *existing)
                            .next();
                        let Some(existing) = next else { break };
                        merged.push(existing);
                        actual = (actual.0.min(existing.0), actual.1.max(existing.1));
                    }
                    if !(merged.is_empty() || merged == [actual]) {
                        let mut total = (0, 0);
                        for old in &merged {
                            let (sum, count) = panes.remove(&(event.key, *old)).expect("merged pane");
                            total = (total.0 + sum, total.1 + count);
                            timers.remove(&(max_ts(*old), event.key, *old));
                            timers.remove(&(cleanup(*old), event.key, *old));
                        }
                        panes.insert((event.key, actual), total);
                        if max_ts(actual) >= time {
                            timers.insert((max_ts(actual), event.key, actual));
                        }
                    }
                }
                if cleanup(actual) < time {
                    continue; // A late window takes no more elements.
                }
                skipped = false;
                let pane = panes.entry((event.key, actual)).or_insert((0, 0));
                pane.0 += event.value;
                pane.1 += 1;
                let (sum, count) = *pane;
                if max_ts(actual) < time {
                    // Within allowed lateness: fire again at once.
                    let fired = Fired { key: event.key, start: actual.0, end: actual.1, sum, count };
                    out.entry(time).or_default().0.push((fired, max_ts(actual)));
                    if purging {
                        panes.insert((event.key, actual), (0, 0));
                    }
                } else {
                    timers.insert((max_ts(actual), event.key, actual));
                }
                timers.insert((cleanup(actual), event.key, actual));
            }
            if skipped && event.ts + lateness < time {
                out.entry(time).or_default().1.push(event);
            }
        }
    }
    fire_timers(None, &mut panes, &mut timers, &mut out);
    normalize(out)
}

fn normalize(mut out: Outputs) -> Outputs {
    out.retain(|_, (fired, late)| !fired.is_empty() || !late.is_empty());
    for (fired, late) in out.values_mut() {
        fired.sort();
        late.sort();
    }
    out
}

fn run(
    partitions: &[Vec<Event>],
    workers: usize,
    clock: ManualClock,
    windowed: impl for<'s> Fn(KeyedStream<'s, u32, Event>) -> WindowedStream<'s, u32, Event>
        + Send
        + Sync
        + 'static,
) -> Outputs {
    let (fired_sink, fired_handle) = CollectSink::new();
    let (late_sink, late_handle) = CollectSink::new();
    let partitions = partitions.to_vec();
    Job::new(JobConfig { workers, clock: Arc::new(clock), ..JobConfig::default() })
        .run(move |env| {
            let strategy = WatermarkStrategy::bounded_out_of_orderness(DELAY)
                .with_timestamps(|event: &Event| event.ts)
                .with_emit_every(EMIT_EVERY);
            let events = env.from_source(CollectionSource::from_partitions(partitions.clone()), strategy);
            let fired = windowed(events.key_by(|event: &Event| event.key))
                .side_output_late_data(&LATE)
                .aggregate_with_process(Sum, WithWindow);
            fired.side_output(&LATE).sink(late_sink.clone());
            fired.sink(fired_sink.clone());
            Ok(())
        })
        .expect("job runs");
    let mut out: Outputs = BTreeMap::new();
    for (fired, timestamp, time) in fired_handle.timed_records() {
        out.entry(time).or_default().0.push((fired, timestamp));
    }
    for (event, _, time) in late_handle.timed_records() {
        out.entry(time).or_default().1.push(event);
    }
    normalize(out)
}

fn check_event_time(kind: Kind, lateness: u64, purging: bool) {
    for seed in 0..4 {
        let partitions = random_input(seed, 3, 120);
        let expected = reference_event_time(&partitions, kind, lateness, purging);
        let firings: usize = expected.values().map(|(fired, _)| fired.len()).sum();
        let late: usize = expected.values().map(|(_, late)| late.len()).sum();
        assert!(firings > 10, "{kind:?}: the input fires windows ({firings})");
        if lateness == 0 {
            assert!(late > 0, "{kind:?}: the input has late events");
        }
        for workers in [1, 2, 4] {
            let got = run(&partitions, workers, ManualClock::new(0), move |keyed| {
                let windowed = match kind {
                    Kind::Tumbling(size) => keyed.window(TumblingEventTimeWindows::of(size)),
                    Kind::Sliding(size, slide) => keyed.window(SlidingEventTimeWindows::of(size, slide)),
                    Kind::Session(gap) => keyed.window(EventTimeSessionWindows::with_gap(gap)),
                };
                let windowed = windowed.allowed_lateness(lateness);
                if purging {
                    windowed.trigger(PurgingTrigger::of(EventTimeTrigger::create()))
                } else {
                    windowed
                }
            });
            assert_eq!(
                got, expected,
                "{kind:?}, lateness {lateness}, purging {purging}, seed {seed}, {workers} workers"
            );
        }
    }
}

#[test]
fn tumbling_event_time_windows_match_reference() {
    check_event_time(Kind::Tumbling(50), 0, false);
    check_event_time(Kind::Tumbling(50), 30, false);
    check_event_time(Kind::Tumbling(50), 30, true);
}

#[test]
fn sliding_event_time_windows_match_reference() {
    check_event_time(Kind::Sliding(60, 20), 0, false);
    check_event_time(Kind::Sliding(60, 20), 25, false);
    check_event_time(Kind::Sliding(60, 20), 25, true);
}

#[test]
fn session_windows_match_reference() {
    check_event_time(Kind::Session(9), 0, false);
    check_event_time(Kind::Session(9), 20, false);
    check_event_time(Kind::Session(9), 20, true);
}

#[test]
fn count_windows_match_reference() {
    let partitions = random_input(7, 3, 100);
    // Per key, every 4 elements in application order (logical time, then event time) fire
    // and purge; nothing is late for global windows.
    let mut expected: Outputs = BTreeMap::new();
    let mut pending: BTreeMap<u32, (i64, u64)> = BTreeMap::new();
    for (time, events) in by_logical_time(&partitions) {
        for event in events {
            let pane = pending.entry(event.key).or_insert((0, 0));
            pane.0 += event.value;
            pane.1 += 1;
            if pane.1 == 4 {
                let window = Window::global();
                let fired =
                    Fired { key: event.key, start: window.start, end: window.end, sum: pane.0, count: 4 };
                expected.entry(time).or_default().0.push((fired, window.max_timestamp()));
                *pane = (0, 0);
            }
        }
    }
    let expected = normalize(expected);
    assert!(!expected.is_empty());
    for workers in [1, 2, 4] {
        let got = run(&partitions, workers, ManualClock::new(0), |keyed| keyed.count_window(4));
        assert_eq!(got, expected, "{workers} workers");
    }
}

#[test]
fn processing_time_windows_fire_at_end_of_input() {
    let partitions = random_input(3, 2, 80);
    // The clock stands still at 12_345: every element lands in [12_000, 13_000) and the
    // window fires when the input ends.
    let mut totals: BTreeMap<u32, (i64, u64)> = BTreeMap::new();
    for event in partitions.iter().flatten() {
        let total = totals.entry(event.key).or_insert((0, 0));
        total.0 += event.value;
        total.1 += 1;
    }
    for workers in [1, 2, 4] {
        let got = run(&partitions, workers, ManualClock::new(12_345), |keyed| {
            keyed.window(TumblingProcessingTimeWindows::of(1_000))
        });
        let fired: Vec<(Fired, u64)> = got.values().flat_map(|(fired, _)| fired.clone()).collect();
        let mut expected: Vec<(Fired, u64)> = totals
            .iter()
            .map(|(&key, &(sum, count))| (Fired { key, start: 12_000, end: 13_000, sum, count }, 12_999))
            .collect();
        expected.sort();
        let mut fired_sorted = fired;
        fired_sorted.sort();
        assert_eq!(fired_sorted, expected, "{workers} workers");
    }
}
