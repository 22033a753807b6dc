//! Numeric limits end to end (issue 15, item 5): event times outside the supported range are
//! rejected at the source (dead letter or a clear error), windows near the end of event time
//! are cut there instead of wrapping, and rolling sums fail the job instead of overflowing.

use eddy_connectors::{BadRecords, CollectSink, CollectionSource, FileSource};
use eddy_core::prelude::*;
use serde::{Deserialize, Serialize};

/// `i64::MAX`, the largest supported event time.
const END_OF_EVENT_TIME: u64 = i64::MAX as u64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Reading {
    sensor: String,
    ts: u64,
    value: i64,
}

fn reading(sensor: &str, ts: u64, value: i64) -> Reading {
    Reading { sensor: sensor.into(), ts, value }
}

fn strategy() -> WatermarkStrategy<Reading> {
    WatermarkStrategy::bounded_out_of_orderness(0).with_timestamps(|reading: &Reading| reading.ts)
}

/// Per-sensor counts in 1-second tumbling windows, as `(sensor, window start, count)`.
fn window_counts<'s>(
    env: &mut Env<'s>,
    source: impl Source<Reading> + 'static,
) -> DataStream<'s, (String, i64, u64)> {
    struct Count;
    impl ProcessWindowFunction<String, Reading, (String, i64, u64)> for Count {
        fn process(
            &mut self,
            key: &String,
            window: &Window,
            elements: &[Reading],
            ctx: &mut WindowContext<'_, (String, i64, u64)>,
        ) {
            ctx.emit((key.clone(), window.start, elements.len() as u64));
        }
    }
    env.from_source(source, strategy())
        .key_by(|reading: &Reading| reading.sensor.clone())
        .window(TumblingEventTimeWindows::of(1_000))
        .process(Count)
}

#[test]
fn event_time_past_the_range_fails_the_job_naming_value_and_range() {
    let (sink, handle) = CollectSink::new();
    let error = Job::new(JobConfig::default())
        .run(move |env| {
            let source =
                CollectionSource::new([reading("a", 1_500, 1), reading("a", END_OF_EVENT_TIME + 501, 2)]);
            window_counts(env, source).sink(sink.clone());
            Ok(())
        })
        .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::BadRecord { line: 1, .. }), "{error:?}");
    assert!(message.contains("9223372036854776308"), "names the value: {message}");
    assert!(message.contains("0..=9223372036854775807"), "names the range: {message}");
    assert!(!error.is_retryable());
    // Before the fix, the record landed in a window starting at a wrapped, negative time.
    assert!(handle.values().iter().all(|(_, start, _)| *start >= 0), "{:?}", handle.values());
}

#[test]
fn event_time_past_the_range_is_a_dead_letter_when_the_source_skips_bad_records() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("readings.jsonl");
    let lines = [
        r#"{"sensor":"a","ts":1500,"value":1}"#.to_string(),
        format!(r#"{{"sensor":"a","ts":{},"value":2}}"#, u64::MAX),
        r#"{"sensor":"a","ts":1700,"value":3}"#.to_string(),
        format!(r#"{{"sensor":"b","ts":{END_OF_EVENT_TIME},"value":4}}"#),
    ];
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let (counts, counts_handle) = CollectSink::new();
    let (dead, dead_handle) = CollectSink::new();
    let path = input.clone();
    let summary = Job::new(JobConfig::with_workers(2))
        .run(move |env| {
            let source = FileSource::<Reading>::json_lines(&path).on_bad_records(BadRecords::DeadLetter);
            let readings = env.from_source(source, strategy());
            readings.side_output(&DEAD_LETTERS).sink(dead.clone());
            struct Count;
            impl ProcessWindowFunction<String, Reading, (String, i64, u64, u64)> for Count {
                fn process(
                    &mut self,
                    key: &String,
                    window: &Window,
                    elements: &[Reading],
                    ctx: &mut WindowContext<'_, (String, i64, u64, u64)>,
                ) {
                    ctx.emit((key.clone(), window.start, window.end, elements.len() as u64));
                }
            }
            readings
                .key_by(|reading: &Reading| reading.sensor.clone())
                .window(TumblingEventTimeWindows::of(1_000))
                .process(Count)
                .sink(counts.clone());
            Ok(())
        })
        .unwrap();
    assert_eq!(summary.dead_letters, 1);
    assert_eq!(summary.records_read, 3, "the rejected record is not counted as read");
    let dead = dead_handle.values();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!((dead[0].split.as_str(), dead[0].line), (input.display().to_string().as_str(), 2));
    assert!(dead[0].reason.contains(&u64::MAX.to_string()), "{}", dead[0].reason);
    assert!(dead[0].reason.contains("0..=9223372036854775807"), "{}", dead[0].reason);
    let raw: Reading = serde_json::from_str(&dead[0].raw).unwrap();
    assert_eq!(raw, reading("a", u64::MAX, 2));
    let mut counts = counts_handle.values();
    counts.sort();
    let top_start = (END_OF_EVENT_TIME - END_OF_EVENT_TIME % 1_000) as i64;
    // The last window of event time is cut at its end: `[top_start, i64::MAX + 1)`.
    assert_eq!(
        counts,
        vec![("a".into(), 1_000, 2_000, 2), ("b".into(), top_start, END_OF_EVENT_TIME + 1, 1)]
    );
}

#[test]
fn event_times_at_both_ends_of_the_range_are_accepted() {
    let (sink, handle) = CollectSink::new();
    Job::new(JobConfig::default())
        .run(move |env| {
            let source = CollectionSource::new([reading("a", 0, 1), reading("a", END_OF_EVENT_TIME, 2)]);
            window_counts(env, source).sink(sink.clone());
            Ok(())
        })
        .unwrap();
    let mut counts = handle.values();
    counts.sort();
    let top_start = (END_OF_EVENT_TIME - END_OF_EVENT_TIME % 1_000) as i64;
    assert_eq!(counts, vec![("a".into(), 0, 1), ("a".into(), top_start, 1)]);
}

#[test]
fn window_fails_the_job_on_an_event_time_a_user_function_put_past_the_range() {
    /// Moves every reading to the given event time.
    struct Retime(u64);
    impl KeyedProcessFunction<String, Reading, Reading> for Retime {
        fn process_element(&mut self, value: Reading, ctx: &mut Context<'_, String, Reading>) {
            ctx.emit_with_timestamp(value, self.0);
        }
    }
    let (sink, handle) = CollectSink::new();
    let error = Job::new(JobConfig::default())
        .run(move |env| {
            env.from_source(CollectionSource::new([reading("a", 1_500, 1)]), strategy())
                .key_by(|reading: &Reading| reading.sensor.clone())
                .process(Retime(u64::MAX))
                .key_by(|reading: &Reading| reading.sensor.clone())
                .window(TumblingEventTimeWindows::of(1_000))
                .reduce(|left, _| left.clone())
                .sink(sink.clone());
            Ok(())
        })
        .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::OutOfRange { .. }), "{error:?}");
    assert!(message.contains("WindowReduce") && message.contains("\"a\""), "{message}");
    assert!(message.contains(&u64::MAX.to_string()), "{message}");
    assert_eq!(handle.values(), vec![], "no window of a wrapped time");
}

/// Rolling sums of `(key, event time, value)`; a key's values are summed in event-time order.
fn sum_job(values: Vec<(&str, u64, i64)>) -> Result<Vec<(String, i64)>> {
    let values: Vec<(String, u64, i64)> =
        values.into_iter().map(|(key, ts, value)| (key.to_string(), ts, value)).collect();
    let (sink, handle) = CollectSink::new();
    Job::new(JobConfig::with_workers(2)).run(move |env| {
        let strategy = WatermarkStrategy::bounded_out_of_orderness(0)
            .with_timestamps(|(_, ts, _): &(String, u64, i64)| *ts);
        env.from_source(CollectionSource::new(values.clone()), strategy)
            .key_by(|(key, _, _): &(String, u64, i64)| key.clone())
            .sum(|(_, _, value)| *value)
            .sink(sink.clone());
        Ok(())
    })?;
    Ok(handle.values())
}

#[test]
fn rolling_sum_overflow_fails_the_job_naming_the_key() {
    let values = vec![("ok", 1, 1), ("big", 2, i64::MAX - 1), ("big", 3, 2), ("ok", 4, 2)];
    let error = sum_job(values).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::OutOfRange { .. }), "{error:?}");
    assert!(message.contains("sum") && message.contains("\"big\""), "{message}");
    assert!(message.contains(&format!("{} + 2", i64::MAX - 1)) && message.contains("i64"), "{message}");
    assert!(!error.is_retryable());

    let negative = vec![("low", 1, i64::MIN), ("low", 2, -1)];
    let error = sum_job(negative).unwrap_err();
    assert!(matches!(error, Error::OutOfRange { .. }), "{error:?}");
}

#[test]
fn rolling_sum_up_to_the_limit_is_exact() {
    let values = vec![("k", 1, i64::MAX - 1), ("k", 2, 1), ("k", 3, -5)];
    let mut sums = sum_job(values).unwrap();
    sums.sort();
    assert_eq!(sums, vec![("k".into(), i64::MAX - 5), ("k".into(), i64::MAX - 1), ("k".into(), i64::MAX)]);
}
