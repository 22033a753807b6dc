//! Window API end to end: custom assigners (merging and not), a custom trigger, evictors
//! before and after the function, window metadata in process functions, and all-windows.

use eddy_connectors::{CollectSink, CollectionSource};
use eddy_core::prelude::*;
use eddy_core::window::{TriggerContext, TriggerResult, TriggerState};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Reading {
    sensor: u32,
    ts: u64,
    value: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Result {
    sensor: u32,
    start: i64,
    end: u64,
    values: Vec<i64>,
    watermark_after_end: bool,
}

/// Emits the window's values with its bounds.
struct Collect;

impl ProcessWindowFunction<u32, Reading, Result> for Collect {
    fn process(
        &mut self,
        key: &u32,
        window: &Window,
        elements: &[Reading],
        ctx: &mut WindowContext<'_, Result>,
    ) {
        let watermark_after_end = ctx.current_watermark() > window.max_timestamp();
        ctx.emit(Result {
            sensor: *key,
            start: window.start,
            end: window.end,
            values: elements.iter().map(|reading| reading.value).collect(),
            watermark_after_end,
        });
    }
}

fn run<F>(readings: Vec<Reading>, build: F) -> Vec<(Result, u64)>
where
    F: for<'s> Fn(KeyedStream<'s, u32, Reading>) -> DataStream<'s, Result> + Send + Sync + 'static,
{
    let (sink, handle) = CollectSink::new();
    Job::new(JobConfig::with_workers(2))
        .run(move |env| {
            let strategy = WatermarkStrategy::monotonous_timestamps()
                .with_timestamps(|reading: &Reading| reading.ts)
                .with_emit_every(1);
            let readings = env.from_source(CollectionSource::new(readings.clone()), strategy);
            build(readings.key_by(|reading: &Reading| reading.sensor)).sink(sink.clone());
            Ok(())
        })
        .unwrap();
    let mut records = handle.records();
    records.sort();
    records
}

fn reading(sensor: u32, ts: u64, value: i64) -> Reading {
    Reading { sensor, ts, value }
}

/// Puts a reading into the window of its value's decade (a non-time, non-merging assigner).
struct ByDecade;

impl WindowAssigner<Reading> for ByDecade {
    fn assign_windows(&self, reading: &Reading, _timestamp: u64, _processing_time: u64) -> Vec<Window> {
        let decade = (reading.value / 10) as u64 * 10;
        vec![Window::new(decade as i64, decade + 10)]
    }
    fn is_event_time(&self) -> bool {
        true
    }
    fn default_trigger(&self) -> Box<dyn Trigger<Reading>> {
        Box::new(EventTimeTrigger::create())
    }
}

#[test]
fn custom_assigner_groups_by_value() {
    // Windows [0, 10), [10, 20), [20, 30) fire when the watermark passes 9, 19, 29. Sensor 2's
    // reading arrives at watermark 40 for window [0, 10): that window is late, the reading dropped.
    let readings =
        vec![reading(1, 1, 3), reading(1, 2, 15), reading(1, 3, 7), reading(1, 40, 22), reading(2, 41, 1)];
    let results = run(readings, |keyed| keyed.window(ByDecade).process(Collect));
    let summary: Vec<(u32, i64, Vec<i64>, u64)> = results
        .iter()
        .map(|(result, ts)| (result.sensor, result.start, result.values.clone(), *ts))
        .collect();
    assert_eq!(summary, vec![(1, 0, vec![3, 7], 9), (1, 10, vec![15], 19), (1, 20, vec![22], 29)]);
}

/// Sessions that merge when a reading's value is within 5 of the session (a custom merging
/// assigner over values, not times).
struct ValueSessions;

impl WindowAssigner<Reading> for ValueSessions {
    fn assign_windows(&self, reading: &Reading, _timestamp: u64, _processing_time: u64) -> Vec<Window> {
        vec![Window::new(reading.value, reading.value as u64 + 5)]
    }
    fn is_event_time(&self) -> bool {
        false
    }
    fn is_merging(&self) -> bool {
        true
    }
    fn default_trigger(&self) -> Box<dyn Trigger<Reading>> {
        Box::new(EndOfStreamTrigger::create())
    }
}

#[test]
fn custom_merging_assigner_merges_and_fires_at_end() {
    let readings =
        vec![reading(1, 1, 10), reading(1, 2, 30), reading(1, 3, 14), reading(1, 4, 19), reading(1, 5, 26)];
    let results = run(readings, |keyed| keyed.window(ValueSessions).process(Collect));
    let windows: Vec<(i64, u64, Vec<i64>)> =
        results.iter().map(|(result, _)| (result.start, result.end, result.values.clone())).collect();
    // 10..15 and 14..19 and 19..24 merge (touching counts); 26..31 and 30..35 merge.
    assert_eq!(windows, vec![(10, 24, vec![10, 14, 19]), (26, 35, vec![30, 26])]);
}

/// Fires every time two readings in a row are above a threshold; purges on fire.
struct TwoHighInARow;

impl Trigger<Reading> for TwoHighInARow {
    fn on_element(
        &self,
        reading: &Reading,
        _: u64,
        _: &Window,
        ctx: &mut TriggerContext<'_>,
    ) -> TriggerResult {
        let state: &mut TriggerState = ctx.state();
        state.count = if reading.value > 50 { state.count + 1 } else { 0 };
        if state.count == 2 {
            state.count = 0;
            TriggerResult::FireAndPurge
        } else {
            TriggerResult::Continue
        }
    }
    fn clear(&self, _: &Window, ctx: &mut TriggerContext<'_>) {
        ctx.state().count = 0;
    }
}

#[test]
fn custom_trigger_and_evictors() {
    let values = [60, 70, 10, 80, 20, 90, 95, 99];
    let readings: Vec<Reading> =
        values.iter().enumerate().map(|(index, &v)| reading(1, index as u64, v)).collect();
    let results = run(readings.clone(), |keyed| {
        keyed.window(GlobalWindows::create()).trigger(TwoHighInARow).process(Collect)
    });
    let fired: Vec<Vec<i64>> = results.iter().map(|(result, _)| result.values.clone()).collect();
    assert_eq!(fired, vec![vec![10, 80, 20, 90, 95], vec![60, 70]]);
    assert!(results
        .iter()
        .all(|(result, ts)| *ts == Window::global().max_timestamp() && result.end == Window::global().end));

    // Count evictor before the function keeps the last 2; after the function, it trims state.
    let results = run(readings.clone(), |keyed| {
        keyed
            .window(GlobalWindows::create())
            .trigger(CountTrigger::of(3))
            .evictor(CountEvictor::of(2))
            .process(Collect)
    });
    let fired: Vec<Vec<i64>> = results.iter().map(|(result, _)| result.values.clone()).collect();
    assert_eq!(fired, vec![vec![20, 90], vec![70, 10]]);
    let results = run(readings, |keyed| {
        keyed
            .window(GlobalWindows::create())
            .trigger(CountTrigger::of(3))
            .evictor(CountEvictor::of_after(1))
            .process(Collect)
    });
    let mut fired: Vec<Vec<i64>> = results.iter().map(|(result, _)| result.values.clone()).collect();
    fired.sort();
    // Fires on the 3rd element (60, 70, 10), keeps only 10, then 10, 80, 20, 90 fire on the 6th.
    assert_eq!(fired, vec![vec![10, 80, 20, 90], vec![60, 70, 10]]);
}

#[test]
fn window_function_sees_metadata_and_all_windows_work() {
    let readings = vec![reading(1, 5, 1), reading(2, 7, 2), reading(3, 12, 3), reading(1, 25, 4)];
    let (sink, handle) = CollectSink::new();
    Job::new(JobConfig::with_workers(3))
        .run(move |env| {
            let strategy = WatermarkStrategy::monotonous_timestamps()
                .with_timestamps(|reading: &Reading| reading.ts)
                .with_emit_every(1);
            env.from_source(CollectionSource::new(readings.clone()), strategy)
                .window_all(TumblingEventTimeWindows::of(10))
                .reduce(|left, right| Reading {
                    sensor: 0,
                    ts: left.ts.max(right.ts),
                    value: left.value + right.value,
                })
                .sink(sink.clone());
            Ok(())
        })
        .unwrap();
    let mut totals = handle.records();
    totals.sort();
    assert_eq!(
        totals,
        vec![(reading(0, 7, 3), 9), (reading(1, 25, 4), 29), (reading(3, 12, 3), 19)],
        "one result per window over the whole stream, stamped with the window's max timestamp"
    );
    let results = run(vec![reading(1, 5, 1), reading(1, 20, 2)], |keyed| {
        keyed.window(TumblingEventTimeWindows::of(10)).process(Collect)
    });
    assert!(results.iter().all(|(result, _)| result.watermark_after_end), "windows fire after their end");
}

/// Drops negative readings before the function runs (a user evictor).
struct DropNegative;

impl Evictor<Reading> for DropNegative {
    fn evict_before(&self, elements: &mut Vec<(u64, Reading)>, _window: &Window) {
        elements.retain(|(_, reading)| reading.value >= 0);
    }
}

#[test]
fn custom_evictor() {
    let readings =
        vec![reading(1, 1, 5), reading(1, 2, -3), reading(1, 3, 7), reading(1, 12, -1), reading(1, 13, 2)];
    let results = run(readings, |keyed| {
        keyed.window(TumblingEventTimeWindows::of(10)).evictor(DropNegative).process(Collect)
    });
    let fired: Vec<(i64, Vec<i64>)> =
        results.iter().map(|(result, _)| (result.start, result.values.clone())).collect();
    assert_eq!(fired, vec![(0, vec![5, 7]), (10, vec![2])]);
}
