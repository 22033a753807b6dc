//! Checkpoints end to end, in process: a self-checking job (per-key sequence numbers, keyed
//! state, windows, timers) written through the two-phase-commit file sink must commit exactly
//! the output of a run without checkpoints, when it fails at arbitrary points and is restored
//! from its latest checkpoint (also at another worker count), and across stop-with-savepoint.
//! Crashes of the whole process (`kill -9`, failpoints in the protocol) are tested with the
//! example binary in `examples/tests/checkpointed.rs`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use eddy_connectors::{FileSink, GeneratorSource};
use eddy_core::prelude::*;
use eddy_testkit::failure::{checkpointed, fail_and_restore, InjectedFailure};
use eddy_testkit::output::committed;
use serde::{Deserialize, Serialize};

const KEYS: u64 = 13;
const SPLITS: usize = 4;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Event {
    key: u64,
    seq: u64,
    ts: u64,
}

/// Checks per-key sequence numbers (each key sees `seq`, `seq + SPLITS * KEYS`, ...) and
/// reports each record with the running count, plus a summary one second of event time after
/// the key was first seen.
#[derive(Default)]
struct SequenceCheck {
    last: Option<ValueState<u64>>,
    count: Option<ValueState<u64>>,
}

impl KeyedProcessFunction<u64, Event, String> for SequenceCheck {
    fn open(&mut self, ctx: &mut OpenContext<'_, u64>) {
        self.last = Some(ctx.value_state("last"));
        self.count = Some(ctx.value_state("count"));
    }
    fn process_element(&mut self, event: Event, ctx: &mut Context<'_, u64, String>) {
        let (last, count) = (self.last.as_ref().unwrap(), self.count.as_ref().unwrap());
        let seen = count.value(ctx).unwrap_or(0);
        if seen == 0 {
            let at = ctx.timestamp() + 1_000;
            ctx.register_event_time_timer(at);
        }
        let verdict = match last.value(ctx) {
            Some(previous) if previous + 1 != event.seq => "gap",
            _ => "ok",
        };
        last.update(ctx, event.seq);
        count.update(ctx, seen + 1);
        ctx.emit(format!("record {} {} {} {verdict}", event.key, event.seq, seen + 1));
    }
    fn on_timer(&mut self, timestamp: u64, ctx: &mut Context<'_, u64, String>) {
        let count = self.count.as_ref().unwrap().value(ctx).unwrap_or(0);
        let key = *ctx.key();
        ctx.emit(format!("timer {key} {timestamp} {count}"));
    }
}

/// Events of key `k`: split `s` produces record `n` for key `s * KEYS + n % KEYS` with per-key
/// sequence number `n / KEYS`, event time `n * 3` ms (slightly out of order across splits).
fn event(split: usize, n: u64) -> Event {
    Event { key: split as u64 * KEYS + n % KEYS, seq: n / KEYS, ts: n * 3 + (split as u64 % 3) }
}

fn never() -> Arc<InjectedFailure> {
    InjectedFailure::never()
}

fn build(
    env: &mut Env<'_>,
    per_split: u64,
    rate: Option<u64>,
    output: &Path,
    failure: &Arc<InjectedFailure>,
) -> Result<()> {
    let mut source = GeneratorSource::new(SPLITS, event).with_count(per_split);
    if let Some(rate) = rate {
        source = source.with_rate(rate);
    }
    let events = env
        .from_source(
            source,
            WatermarkStrategy::bounded_out_of_orderness(20)
                .with_timestamps(|e: &Event| e.ts)
                .with_emit_every(16),
        )
        .uid("events")
        .inspect({
            let failure = Arc::clone(failure);
            move |_, _| failure.count()
        });
    let checked = events.clone().key_by(|e: &Event| e.key).process(SequenceCheck::default()).uid("check");
    let windows = events
        .key_by(|e: &Event| e.key % 5)
        .window(TumblingEventTimeWindows::of(500))
        .aggregate_with_process(Count, Describe)
        .uid("windows");
    checked.union([windows]).sink(FileSink::json_lines(output)).uid("out");
    Ok(())
}

struct Describe;
impl ProcessWindowFunction<u64, u64, String> for Describe {
    fn process(&mut self, key: &u64, window: &Window, counts: &[u64], ctx: &mut WindowContext<'_, String>) {
        ctx.emit(format!("window {key} {} {}", window.start, counts[0]));
    }
}

struct Count;
impl AggregateFunction<Event> for Count {
    type Acc = u64;
    type Out = u64;
    fn create_accumulator(&self) -> u64 {
        0
    }
    fn add(&self, accumulator: &mut u64, _value: Event) {
        *accumulator += 1;
    }
    fn merge(&self, left: u64, right: u64) -> u64 {
        left + right
    }
    fn get_result(&self, accumulator: &u64) -> u64 {
        *accumulator
    }
}

fn reference(per_split: u64) -> BTreeMap<String, usize> {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out");
    let out = output.clone();
    Job::new(JobConfig::with_workers(1)).run(move |env| build(env, per_split, None, &out, &never())).unwrap();
    committed(&output)
}

fn config(workers: usize, checkpoints: &Path, restore: bool) -> JobConfig {
    checkpointed(workers, checkpoints, Duration::from_millis(15), restore)
}

fn assert_exactly(expected: &BTreeMap<String, usize>, actual: &BTreeMap<String, usize>) {
    let missing: Vec<_> = expected.keys().filter(|line| !actual.contains_key(*line)).take(5).collect();
    let extra: Vec<_> = actual.keys().filter(|line| !expected.contains_key(*line)).take(5).collect();
    let duplicated: Vec<_> = actual.iter().filter(|(_, &count)| count > 1).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && duplicated.is_empty(),
        "lost {missing:?}, unexpected {extra:?}, duplicated {duplicated:?} ({} expected, {} committed)",
        expected.len(),
        actual.len()
    );
    assert!(expected.keys().all(|line| !line.ends_with("gap")));
}

#[test]
fn failures_and_restores_commit_exactly_the_failure_free_output() {
    let per_split = 3_000;
    let expected = reference(per_split);
    assert_eq!(expected.values().sum::<usize>(), expected.len());
    // (workers of each attempt, records after which each failing attempt fails)
    let scenarios: [(&[usize], &[u64]); 4] = [
        (&[1, 1, 1], &[2_000, 5_000]),
        (&[2, 2], &[7_000]),
        (&[4, 2, 1], &[3_000, 9_000]),
        (&[1, 4, 3], &[8_000, 1_000]),
    ];
    for (attempts, failures) in scenarios {
        let dir = tempfile::tempdir().unwrap();
        let (checkpoints, output) = (dir.path().join("chk"), dir.path().join("out"));
        let out = output.clone();
        let run = move |env: &mut Env<'_>, failure: &Arc<InjectedFailure>| {
            build(env, per_split, Some(40_000), &out, failure)
        };
        fail_and_restore(&checkpoints, Duration::from_millis(15), attempts, failures, run, |_| {});
        eprintln!("checking scenario {attempts:?} {failures:?} in {}", dir.path().display());
        assert_exactly(&expected, &committed(&output));
    }
}

/// Runs the job paced at 2 workers without periodic checkpoints and stops it with a savepoint
/// into `savepoint` after `delay`; asserts the savepoint succeeded and the job stopped on it.
fn run_until_savepoint(per_split: u64, checkpoints: &Path, output: &Path, savepoint: &Path, delay: Duration) {
    let job = Job::new(JobConfig {
        checkpoint: Some(CheckpointConfig {
            interval: None,
            ..CheckpointConfig::new(checkpoints, Duration::ZERO)
        }),
        ..JobConfig::with_workers(2)
    });
    let control = job.control();
    let target = savepoint.to_path_buf();
    let requester = std::thread::spawn(move || {
        std::thread::sleep(delay);
        control.request(ControlRequest::Savepoint { target: Some(target), stop: true })
    });
    let out = output.to_path_buf();
    let summary = job.run(move |env| build(env, per_split, Some(10_000), &out, &never())).unwrap();
    let response = requester.join().unwrap().unwrap();
    assert!(response.ok, "{response:?}");
    assert!(summary.stopped_with_savepoint);
}

#[test]
fn stop_with_savepoint_and_resume_at_another_parallelism() {
    let per_split = 2_000;
    let expected = reference(per_split);
    let dir = tempfile::tempdir().unwrap();
    let (checkpoints, output, savepoint) =
        (dir.path().join("chk"), dir.path().join("out"), dir.path().join("sp"));
    run_until_savepoint(per_split, &checkpoints, &output, &savepoint, Duration::from_millis(100));
    let partial = committed(&output);
    assert!(partial.len() < expected.len(), "stopped before the end");
    let restore =
        CheckpointConfig::new(&checkpoints, Duration::from_millis(20)).restore(RestoreFrom::Path(savepoint));
    let out = output.clone();
    Job::new(JobConfig { checkpoint: Some(restore), ..JobConfig::with_workers(3) })
        .run(move |env| build(env, per_split, None, &out, &never()))
        .unwrap();
    assert_exactly(&expected, &committed(&output));
}

#[test]
fn restoring_state_of_a_missing_uid_needs_allow_non_restored_state() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoints = dir.path().join("chk");
    let out = dir.path().join("out");
    Job::new(config(1, &checkpoints, false)).run(move |env| build(env, 200, None, &out, &never())).unwrap();
    let job = |allow: bool| {
        let mut config = config(1, &checkpoints, true);
        config.checkpoint.as_mut().unwrap().allow_non_restored_state = allow;
        let out = dir.path().join("out2");
        let done = Arc::new(AtomicU64::new(0));
        let seen = Arc::clone(&done);
        Job::new(config).run(move |env| {
            // The "check" operator is gone.
            env.from_source(
                GeneratorSource::new(SPLITS, event).with_count(200),
                WatermarkStrategy::bounded_out_of_orderness(20).with_timestamps(|e: &Event| e.ts),
            )
            .uid("events")
            .inspect({
                let seen = Arc::clone(&seen);
                move |_, _| {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            })
            .map(|e: Event| format!("{}", e.key))
            .sink(FileSink::json_lines(&out))
            .uid("out");
            Ok(())
        })
    };
    let error = job(false).unwrap_err().to_string();
    assert!(error.contains("`check`") && error.contains("--allow-non-restored-state"), "{error}");
    job(true).unwrap();
}

/// A savepoint restores into a changed job: a stateless operator removed and a stateful one
/// added; the operators that kept their uids continue from their state.
#[test]
fn a_savepoint_restores_into_a_changed_job_by_uid() {
    let per_split = 1_500;
    let expected = reference(per_split);
    let dir = tempfile::tempdir().unwrap();
    let (checkpoints, output, savepoint) =
        (dir.path().join("chk"), dir.path().join("out"), dir.path().join("sp"));
    run_until_savepoint(per_split, &checkpoints, &output, &savepoint, Duration::from_millis(80));
    let before = committed(&output);

    // The changed job: no `inspect` stage, the same "events", "check" and "out" uids, the
    // windows gone (their state dropped with --allow-non-restored-state), and a new counter.
    let mut config =
        CheckpointConfig::new(&checkpoints, Duration::from_millis(20)).restore(RestoreFrom::Path(savepoint));
    config.allow_non_restored_state = true;
    let changed = dir.path().join("changed");
    let out = changed.clone();
    Job::new(JobConfig { checkpoint: Some(config), ..JobConfig::with_workers(1) })
        .run(move |env| {
            let events = env
                .from_source(
                    GeneratorSource::new(SPLITS, event).with_count(per_split),
                    WatermarkStrategy::bounded_out_of_orderness(20)
                        .with_timestamps(|e: &Event| e.ts)
                        .with_emit_every(16),
                )
                .uid("events");
            let checked =
                events.clone().key_by(|e: &Event| e.key).process(SequenceCheck::default()).uid("check");
            let counted = events
                .key_by(|e: &Event| e.key % 3)
                .sum(|e: &Event| e.seq)
                .uid("new-sum")
                .map(|(key, total): (u64, u64)| format!("sum {key} {total}"));
            checked.union([counted]).sink(FileSink::json_lines(&out)).uid("out");
            Ok(())
        })
        .unwrap();
    // The sequence check continued from its restored state: every record after the savepoint
    // is reported with the running count the failure-free run has, and no gap.
    let after = committed(&changed);
    let records: Vec<&String> = after.keys().filter(|line| line.starts_with("\"record")).collect();
    assert!(!records.is_empty());
    for line in &records {
        assert!(expected.contains_key(*line), "continues the restored state: {line}");
        assert!(!before.contains_key(*line), "not produced twice: {line}");
    }
    let all_records = expected.keys().filter(|line| line.starts_with("\"record")).count();
    let before_records = before.keys().filter(|line| line.starts_with("\"record")).count();
    assert_eq!(before_records + records.len(), all_records);
}
