//! Oracle tests for the joins (interval, window, regular with and without state time-to-live):
//! random out-of-order input with late records over several splits per side, at 1 and 2
//! workers, against nested loops over all pairs computed here from the same time model (a
//! record's logical time is its split's watermark before it; it is late when its timestamp is
//! below that). Outputs are compared as multisets of (value, event time, logical time).
//! Then a job with all three joins fails mid-run and restores from its latest checkpoint, at
//! another worker count, and must commit exactly the output of a run without failures.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use eddy_connectors::{CollectSink, CollectionSource, FileSink, GeneratorSource};
use eddy_core::prelude::*;
use eddy_testkit::failure::{fail_and_restore, InjectedFailure};
use eddy_testkit::oracle::{self, Disorder};
use eddy_testkit::output::committed_sorted;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
struct Ev {
    key: u32,
    ts: u64,
    id: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum Out {
    Pair { left: u32, right: u32 },
    Windowed { left: u32, right: u32, start: i64, end: u64 },
    LateLeft(u32),
    LateRight(u32),
}

const KEYS: u32 = 6;
const LATE_LEFT: OutputTag<Ev> = OutputTag::new("late-left");
const LATE_RIGHT: OutputTag<Ev> = OutputTag::new("late-right");

/// One side: `splits` partitions of random events, sorted then shuffled locally, sometimes far
/// (late records). Ids are unique across both sides (`first_id` apart).
fn random_side(
    rng: &mut SmallRng,
    splits: usize,
    per_split: usize,
    spread: f64,
    first_id: u32,
) -> Vec<Vec<Ev>> {
    let range = ((per_split as f64) * spread) as u64;
    let mut id = first_id;
    (0..splits)
        .map(|_| {
            let mut timestamps: Vec<u64> = (0..per_split).map(|_| rng.gen_range(0..range)).collect();
            timestamps.sort_unstable();
            oracle::disorder(rng, &mut timestamps, Disorder::default());
            timestamps
                .into_iter()
                .map(|ts| {
                    id += 1;
                    Ev { key: rng.gen_range(0..KEYS), ts, id }
                })
                .collect()
        })
        .collect()
}

/// Every record with its logical time: its split's watermark before it (bounded
/// out-of-orderness `delay`, advanced every `emit_every` records).
fn with_times(partitions: &[Vec<Ev>], (delay, emit_every): (u64, u64)) -> Vec<(Ev, u64)> {
    let mut all = Vec::new();
    for partition in partitions {
        let times = oracle::logical_times(partition.iter().map(|event| event.ts), delay, emit_every);
        all.extend(partition.iter().cloned().zip(times));
    }
    all
}

type Results = Vec<(Out, u64, u64)>;

fn sorted(mut results: Results) -> Results {
    results.sort();
    results
}

/// The interval join by nested loops: pairs of on-time records with
/// `right.ts - left.ts in [lower, upper]`, at max event time and max logical time; late
/// records on the side outputs at their own times.
fn interval_reference(case: &Case, lower: i64, upper: i64) -> Results {
    let (left, right) = (with_times(&case.left, case.model), with_times(&case.right, case.model));
    let mut out = Vec::new();
    for (l, lt) in &left {
        if l.ts < *lt {
            out.push((Out::LateLeft(l.id), l.ts, *lt));
            continue;
        }
        for (r, rt) in &right {
            let offset = r.ts as i64 - l.ts as i64;
            if r.ts >= *rt && l.key == r.key && lower <= offset && offset <= upper {
                out.push((Out::Pair { left: l.id, right: r.id }, l.ts.max(r.ts), (*lt).max(*rt)));
            }
        }
    }
    out.extend(right.iter().filter(|(r, rt)| r.ts < *rt).map(|(r, rt)| (Out::LateRight(r.id), r.ts, *rt)));
    sorted(out)
}

/// Windows `[start, start + size)` every `slide` containing `ts`.
fn windows_of(ts: u64, size: u64, slide: u64) -> Vec<(i64, u64)> {
    let (ts, size, slide) = (ts as i64, size as i64, slide as i64);
    let mut start = ts - ts.rem_euclid(slide);
    let mut windows = Vec::new();
    while start + size > ts {
        windows.push((start, (start + size) as u64));
        start -= slide;
    }
    windows
}

/// The window join by nested loops: pairs of the same key in a window that had not fired when
/// either record arrived (its max timestamp at or above the record's logical time), at the
/// window's max timestamp.
fn window_reference(case: &Case, size: u64, slide: u64) -> Results {
    let (left, right) = (with_times(&case.left, case.model), with_times(&case.right, case.model));
    let mut out = Vec::new();
    for (l, lt) in &left {
        for (r, rt) in &right {
            if l.key != r.key {
                continue;
            }
            for (start, end) in windows_of(l.ts, size, slide) {
                let max_timestamp = end - 1;
                let in_right = windows_of(r.ts, size, slide).contains(&(start, end));
                if in_right && max_timestamp >= *lt && max_timestamp >= *rt {
                    let pair = Out::Windowed { left: l.id, right: r.id, start, end };
                    out.push((pair, max_timestamp, max_timestamp));
                }
            }
        }
    }
    sorted(out)
}

/// The regular join by nested loops: all pairs of equal keys; with an event-time
/// time-to-live, only those whose logical times are less than `ttl` apart (an element stored
/// at watermark `t` expires at watermark `t + ttl`).
fn regular_reference(case: &Case, ttl: Option<u64>) -> Results {
    let (left, right) = (with_times(&case.left, case.model), with_times(&case.right, case.model));
    let mut out = Vec::new();
    for (l, lt) in &left {
        for (r, rt) in &right {
            let alive = ttl.is_none_or(|ttl| lt.abs_diff(*rt) < ttl);
            if l.key == r.key && alive {
                out.push((Out::Pair { left: l.id, right: r.id }, l.ts.max(r.ts), (*lt).max(*rt)));
            }
        }
    }
    sorted(out)
}

type BuildJoin =
    Arc<dyn for<'s> Fn(DataStream<'s, Ev>, DataStream<'s, Ev>) -> DataStream<'s, Out> + Send + Sync>;

fn run(case: &Case, workers: usize, build: &BuildJoin) -> Results {
    let (sink, handle) = CollectSink::new();
    let (left, right, build) = (case.left.clone(), case.right.clone(), Arc::clone(build));
    let (delay, emit_every) = case.model;
    Job::new(JobConfig::with_workers(workers))
        .run(move |env| {
            let strategy = || {
                WatermarkStrategy::bounded_out_of_orderness(delay)
                    .with_timestamps(|event: &Ev| event.ts)
                    .with_emit_every(emit_every)
            };
            let left = env.from_source(CollectionSource::from_partitions(left.clone()), strategy());
            let right = env.from_source(CollectionSource::from_partitions(right.clone()), strategy());
            build(left, right).sink(sink.clone());
            Ok(())
        })
        .expect("job runs");
    sorted(handle.timed_records())
}

/// Both sides of a test input and the watermark strategy's (delay, emit every).
struct Case {
    left: Vec<Vec<Ev>>,
    right: Vec<Vec<Ev>>,
    model: (u64, u64),
}

/// Sparse input (4 ms per record and split, delay 30, watermark every 3 records), and for odd
/// seeds dense input (many equal timestamps, delay 2, watermark every record), where records
/// exactly at the watermark and pairs exactly at the bounds are common.
fn inputs(seed: u64) -> Case {
    let mut rng = SmallRng::seed_from_u64(seed);
    let (spread, model) = if seed.is_multiple_of(2) { (4.0, (30, 3)) } else { (0.5, (2, 1)) };
    let left = random_side(&mut rng, 2, 150, spread, 0);
    let right = random_side(&mut rng, 3, 100, spread, 100_000);
    Case { left, right, model }
}

fn count(results: &Results, matches: impl Fn(&Out) -> bool) -> usize {
    results.iter().filter(|(out, _, _)| matches(out)).count()
}

#[test]
fn interval_join_matches_nested_loops() {
    for (lower, upper) in [(-7, 12), (0, 0), (-40, -5), (3, 25)] {
        for seed in 0..3 {
            let case = inputs(seed);
            let expected = interval_reference(&case, lower, upper);
            let pairs = count(&expected, |out| matches!(out, Out::Pair { .. }));
            let late_left = count(&expected, |out| matches!(out, Out::LateLeft(_)));
            let late_right = count(&expected, |out| matches!(out, Out::LateRight(_)));
            assert!(pairs > 5, "the input joins ({lower}, {upper}), seed {seed}: {pairs} pairs");
            assert!(late_left > 0 && late_right > 0, "the input has late records on both sides");
            let build: BuildJoin = Arc::new(move |left, right| {
                let joined = left
                    .key_by(|event: &Ev| event.key)
                    .interval_join(right.key_by(|event: &Ev| event.key))
                    .between(lower, upper)
                    .side_output_left_late_data(&LATE_LEFT)
                    .side_output_right_late_data(&LATE_RIGHT)
                    .apply(|l: &Ev, r: &Ev| Out::Pair { left: l.id, right: r.id });
                let late_left = joined.side_output(&LATE_LEFT).map(|event| Out::LateLeft(event.id));
                let late_right = joined.side_output(&LATE_RIGHT).map(|event| Out::LateRight(event.id));
                joined.union([late_left, late_right])
            });
            for workers in [1, 2] {
                let got = run(&case, workers, &build);
                assert_eq!(got, expected, "bounds ({lower}, {upper}), seed {seed}, {workers} workers");
            }
        }
    }
}

#[test]
fn interval_join_exclusive_bounds_and_process_function() {
    struct Offsets;
    impl ProcessJoinFunction<Ev, Ev, Out> for Offsets {
        fn process_element(&mut self, left: &Ev, right: &Ev, ctx: &mut JoinContext<'_, Out>) {
            assert_eq!((ctx.left_timestamp(), ctx.right_timestamp()), (left.ts, right.ts));
            assert_eq!(ctx.timestamp(), left.ts.max(right.ts));
            assert!(ctx.window().is_none());
            ctx.emit(Out::Pair { left: left.id, right: right.id });
        }
    }
    let case = inputs(11);
    // (-8, 10) exclusive on both ends is [-7, 9] inclusive.
    let expected: Results = interval_reference(&case, -7, 9)
        .into_iter()
        .filter(|(out, _, _)| matches!(out, Out::Pair { .. }))
        .collect();
    let build: BuildJoin = Arc::new(|left, right| {
        left.key_by(|event: &Ev| event.key)
            .interval_join(right.key_by(|event: &Ev| event.key))
            .between(-8, 10)
            .lower_bound_exclusive()
            .upper_bound_exclusive()
            .process(Offsets)
    });
    for workers in [1, 2] {
        assert_eq!(run(&case, workers, &build), expected, "{workers} workers");
    }
}

#[test]
fn window_join_matches_nested_loops() {
    for (size, slide) in [(50, 50), (60, 20), (25, 40)] {
        for seed in 0..3 {
            let case = inputs(100 + seed);
            let expected = window_reference(&case, size, slide);
            assert!(expected.len() > 20, "the input joins ({size}, {slide}), seed {seed}");
            let build: BuildJoin = Arc::new(move |left, right| {
                let joined =
                    left.join(right).where_key(|event: &Ev| event.key).equal_to(|event: &Ev| event.key);
                let windowed = if size == slide {
                    joined.window(TumblingEventTimeWindows::of(size))
                } else {
                    joined.window(SlidingEventTimeWindows::of(size, slide))
                };
                windowed.process(WindowPairs)
            });
            for workers in [1, 2] {
                let got = run(&case, workers, &build);
                assert_eq!(got, expected, "window ({size}, {slide}), seed {seed}, {workers} workers");
            }
        }
    }
}

struct WindowPairs;

impl ProcessJoinFunction<Ev, Ev, Out> for WindowPairs {
    fn process_element(&mut self, left: &Ev, right: &Ev, ctx: &mut JoinContext<'_, Out>) {
        let window = ctx.window().expect("a window join has windows");
        assert_eq!(ctx.timestamp(), window.max_timestamp());
        ctx.emit(Out::Windowed { left: left.id, right: right.id, start: window.start, end: window.end });
    }
}

#[test]
fn window_join_late_elements_only_join_open_windows() {
    // Tumbling windows with late records: a late record still joins in windows that had not
    // fired when it arrived, and is otherwise dropped (checked by the reference; here we make
    // sure the input has such records).
    let case = inputs(7);
    let late_but_open = with_times(&case.left, case.model)
        .iter()
        .filter(|(event, time)| event.ts < *time && windows_of(event.ts, 50, 50)[0].1 > *time)
        .count();
    assert!(late_but_open > 0, "some late records fall into windows still open");
    let expected = window_reference(&case, 50, 50);
    let build: BuildJoin = Arc::new(|left, right| {
        left.join(right)
            .where_key(|event: &Ev| event.key)
            .equal_to(|event: &Ev| event.key)
            .window(TumblingEventTimeWindows::of(50))
            .process(WindowPairs)
    });
    assert_eq!(run(&case, 2, &build), expected);
}

#[test]
fn regular_join_matches_nested_loops() {
    for seed in 0..3 {
        let case = inputs(200 + seed);
        let expected = regular_reference(&case, None);
        let build: BuildJoin = Arc::new(|left, right| {
            left.join(right)
                .where_key(|event: &Ev| event.key)
                .equal_to(|event: &Ev| event.key)
                .apply(|l: &Ev, r: &Ev| Out::Pair { left: l.id, right: r.id })
        });
        for workers in [1, 2] {
            let got = run(&case, workers, &build);
            assert_eq!(got, expected, "seed {seed}, {workers} workers");
        }
    }
}

#[test]
fn regular_join_with_event_time_ttl_matches_nested_loops() {
    for ttl in [1, 40, 150] {
        let case = inputs(300 + ttl);
        let expected = regular_reference(&case, Some(ttl));
        let all = regular_reference(&case, None);
        assert!(expected.len() < all.len() && !expected.is_empty(), "the ttl {ttl} matters");
        let build: BuildJoin = Arc::new(move |left, right| {
            left.join(right)
                .where_key(|event: &Ev| event.key)
                .equal_to(|event: &Ev| event.key)
                .state_ttl(StateTtlConfig::new(ttl).event_time())
                .apply(|l: &Ev, r: &Ev| Out::Pair { left: l.id, right: r.id })
        });
        for workers in [1, 2] {
            let got = run(&case, workers, &build);
            assert_eq!(got, expected, "ttl {ttl}, {workers} workers");
        }
    }
}

// ------------------------------------------------------------------------------------------
// Restore from a checkpoint
// ------------------------------------------------------------------------------------------

const SPLITS: usize = 2;
const CHECKPOINT_KEYS: u64 = 23;

fn left_event(split: usize, n: u64) -> Ev {
    let id = (n * SPLITS as u64 + split as u64) as u32;
    Ev { key: ((n * 7 + split as u64) % CHECKPOINT_KEYS) as u32, ts: n * 2 + (n % 5) * 3, id }
}

fn right_event(split: usize, n: u64) -> Ev {
    let id = 1_000_000 + (n * SPLITS as u64 + split as u64) as u32;
    Ev { key: ((n * 5 + 3 * split as u64) % CHECKPOINT_KEYS) as u32, ts: n * 2 + 1 + (n * 3 % 7) * 2, id }
}

/// Fails the job (a panicking worker) after `after` records.
struct Describe;

impl ProcessJoinFunction<Ev, Ev, String> for Describe {
    fn process_element(&mut self, left: &Ev, right: &Ev, ctx: &mut JoinContext<'_, String>) {
        ctx.emit(format!("interval {} {} {}", left.id, right.id, ctx.timestamp()));
    }
}

fn build_checkpointed(
    env: &mut Env<'_>,
    per_split: u64,
    rate: Option<u64>,
    output: &Path,
    failure: &Arc<InjectedFailure>,
) {
    let source = |generate: fn(usize, u64) -> Ev| {
        let source = GeneratorSource::new(SPLITS, generate).with_count(per_split);
        match rate {
            Some(rate) => source.with_rate(rate),
            None => source,
        }
    };
    let strategy =
        || WatermarkStrategy::bounded_out_of_orderness(20).with_timestamps(|e: &Ev| e.ts).with_emit_every(8);
    let left = InjectedFailure::inject(failure, env.from_source(source(left_event), strategy()).uid("left"));
    let right =
        InjectedFailure::inject(failure, env.from_source(source(right_event), strategy()).uid("right"));
    let interval = left
        .clone()
        .key_by(|e: &Ev| e.key)
        .interval_join(right.clone().key_by(|e: &Ev| e.key))
        .between(-10, 10)
        .process(Describe)
        .uid("interval");
    let windowed = left
        .clone()
        .join(right.clone())
        .where_key(|e: &Ev| e.key)
        .equal_to(|e: &Ev| e.key)
        .window(TumblingEventTimeWindows::of(50))
        .apply(|l: &Ev, r: &Ev| format!("window {} {}", l.id, r.id))
        .uid("window");
    let regular = left
        .join(right)
        .where_key(|e: &Ev| e.key)
        .equal_to(|e: &Ev| e.key)
        .state_ttl(StateTtlConfig::new(100).event_time())
        .apply(|l: &Ev, r: &Ev| format!("regular {} {}", l.id, r.id))
        .uid("regular");
    interval.union([windowed, regular]).sink(FileSink::json_lines(output)).uid("out");
}

#[test]
fn joins_restore_from_a_checkpoint_mid_run() {
    let per_split = 1_000;
    let dir = tempfile::tempdir().unwrap();
    let reference_output = dir.path().join("reference");
    let out = reference_output.clone();
    let never = InjectedFailure::never();
    Job::new(JobConfig::with_workers(1))
        .run(move |env| {
            build_checkpointed(env, per_split, None, &out, &never);
            Ok(())
        })
        .unwrap();
    let expected = committed_sorted(&reference_output);
    for prefix in ["interval", "window", "regular"] {
        assert!(expected.iter().filter(|line| line.contains(prefix)).count() > 100, "{prefix} joins");
    }
    for (attempt_workers, fail_after) in [([2, 1], 1_500), ([1, 2], 2_500)] {
        let run_dir = tempfile::tempdir().unwrap();
        let (checkpoints, output) = (run_dir.path().join("chk"), run_dir.path().join("out"));
        let out = output.clone();
        let build = move |env: &mut Env<'_>, failure: &Arc<InjectedFailure>| {
            build_checkpointed(env, per_split, Some(10_000), &out, failure);
            Ok(())
        };
        fail_and_restore(
            &checkpoints,
            Duration::from_millis(15),
            &attempt_workers,
            &[fail_after],
            build,
            |_| {},
        );
        let restored = std::fs::read_dir(&checkpoints).unwrap().count();
        assert!(restored > 1, "checkpoints were taken");
        assert_eq!(committed_sorted(&output), expected, "{attempt_workers:?}, failing after {fail_after}");
    }
}
