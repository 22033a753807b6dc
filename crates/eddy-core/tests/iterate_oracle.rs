//! Oracle tests for feedback loops (`KeyedStream::iterate`), through incremental connected
//! components (`DataStream::connected_components`) over a growing edge stream: random
//! out-of-order edges over several splits, at 1, 2 and 4 workers. After the changes of every
//! logical time `t`, the components must equal a batch union-find over the edges of times up
//! to `t`, and the output must be the same at every worker count. A retry loop checks rounds,
//! per-round event time and the round limit. Then a components job fails mid-run and restores
//! from its latest checkpoint at another worker count: checkpoints complete while the loop
//! runs, and the committed output is exactly that of a run without failures.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use eddy_connectors::{CollectSink, CollectionSource, FileSink, GeneratorSource};
use eddy_core::prelude::*;
use eddy_testkit::failure::{
    assert_failed_mid_run, checkpointed_operators, fail_and_restore, InjectedFailure,
};
use eddy_testkit::oracle::{self, Disorder};
use eddy_testkit::output::committed_sorted;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// An edge and its event time.
type Edge = (u32, u32, u64);

/// The components of `edges` by union-find: vertex -> least vertex of its component.
fn batch_components(edges: impl IntoIterator<Item = (u32, u32)>) -> BTreeMap<u32, u32> {
    let mut parent: BTreeMap<u32, u32> = BTreeMap::new();
    fn find(parent: &mut BTreeMap<u32, u32>, x: u32) -> u32 {
        let p = *parent.entry(x).or_insert(x);
        if p == x {
            return x;
        }
        let root = find(parent, p);
        parent.insert(x, root);
        root
    }
    for (u, v) in edges {
        let (a, b) = (find(&mut parent, u), find(&mut parent, v));
        // The least vertex is the root, so a root is its component's name.
        parent.insert(a.max(b), a.min(b));
    }
    let vertices: Vec<u32> = parent.keys().copied().collect();
    vertices.into_iter().map(|v| (v, find(&mut parent, v))).collect()
}

/// Random edges over `splits` splits: vertices in clusters (so there are several components
/// that merge over time), timestamps sorted then put out of order.
fn random_edges(rng: &mut SmallRng, splits: usize, per_split: usize, vertices: u32) -> Vec<Vec<Edge>> {
    (0..splits)
        .map(|_| {
            let mut timestamps: Vec<u64> = (0..per_split).map(|_| rng.gen_range(0..2_000)).collect();
            timestamps.sort_unstable();
            oracle::disorder(rng, &mut timestamps, Disorder::default());
            timestamps
                .into_iter()
                .map(|ts| {
                    let u = rng.gen_range(0..vertices);
                    // Mostly near neighbours: long chains that join late.
                    let v = if rng.gen_bool(0.9) {
                        (u + rng.gen_range(1..4)) % vertices
                    } else {
                        rng.gen_range(0..vertices)
                    };
                    (u, v, ts)
                })
                .collect()
        })
        .collect()
}

type Timed = Vec<(Change<u32, u32>, u64, u64)>;

fn run_components(splits: &[Vec<Edge>], workers: usize, (delay, every): (u64, u64)) -> Timed {
    let (sink, handle) = CollectSink::new();
    let splits = splits.to_vec();
    Job::new(JobConfig::with_workers(workers))
        .run(move |env| {
            env.from_source(
                CollectionSource::from_partitions(splits.clone()),
                WatermarkStrategy::bounded_out_of_orderness(delay)
                    .with_timestamps(|edge: &Edge| edge.2)
                    .with_emit_every(every),
            )
            .map(|(u, v, _)| (u, v))
            .connected_components()
            .sink(sink.clone());
            Ok(())
        })
        .expect("job runs");
    let mut results = handle.timed_records();
    results.sort();
    results
}

#[test]
fn components_after_every_logical_time_equal_a_batch_union_find() {
    for seed in 0..4u64 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let model = if seed.is_multiple_of(2) { (30, 4) } else { (5, 1) };
        let splits = random_edges(&mut rng, 3, 60, 300);
        let mut timed: Vec<(u32, u32, u64)> = Vec::new();
        for split in &splits {
            let times = oracle::logical_times(split.iter().map(|edge| edge.2), model.0, model.1);
            timed.extend(split.iter().zip(times).map(|(&(u, v, _), time)| (u, v, time)));
        }
        let output = run_components(&splits, 1, model);
        let mut times: Vec<u64> = timed.iter().map(|edge| edge.2).collect();
        times.sort_unstable();
        times.dedup();
        assert!(times.len() > 10, "seed {seed}: many logical times");
        let mut merges = 0;
        for &time in &times {
            let expected = batch_components(timed.iter().filter(|e| e.2 <= time).map(|e| (e.0, e.1)));
            // Labels only drop, so the latest change of a vertex is its least label.
            let mut got: BTreeMap<u32, u32> = BTreeMap::new();
            for (change, _, _) in output.iter().filter(|(_, _, at)| *at <= time) {
                let Change::Upsert(vertex, label) = change else { panic!("no deletes: {change:?}") };
                let entry = got.entry(*vertex).or_insert(*label);
                *entry = (*entry).min(*label);
            }
            assert_eq!(got, expected, "seed {seed}, after logical time {time}");
            merges += expected.iter().filter(|(v, c)| v != c).count();
        }
        let components = batch_components(timed.iter().map(|e| (e.0, e.1)));
        let names: std::collections::BTreeSet<u32> = components.values().copied().collect();
        assert!(merges > 0 && names.len() > 1, "seed {seed}: {} components", names.len());
        for workers in [2, 4] {
            assert_eq!(run_components(&splits, workers, model), output, "seed {seed}, {workers} workers");
        }
    }
}

/// Retries a job until an attempt succeeds (attempt `job % 5`), giving up after 3 attempts;
/// each attempt carries its own event time (one ms later per attempt).
struct Retry;

impl LoopFunction<u64, u64, u32, (u64, u32, u64, bool)> for Retry {
    type State = u32;

    fn on_input(&mut self, _job: u64, ctx: &mut LoopContext<'_, u64, u32, u32, (u64, u32, u64, bool)>) {
        assert_eq!(ctx.round(), 0);
        self.on_message(1, ctx);
    }

    fn on_message(&mut self, attempt: u32, ctx: &mut LoopContext<'_, u64, u32, u32, (u64, u32, u64, bool)>) {
        let job = *ctx.key();
        assert_eq!(u64::from(attempt), ctx.round() + 1, "attempt n runs at round n - 1");
        *ctx.state() = Some(ctx.state().unwrap_or(0) + 1);
        let succeeded = u64::from(attempt) == job % 5;
        if succeeded || attempt == 3 {
            let tries = ctx.state().take().expect("set above");
            ctx.emit((job, tries, ctx.current_watermark(), succeeded));
        } else {
            let next = ctx.timestamp() + 1;
            ctx.send_with_timestamp(job, attempt + 1, next);
        }
    }
}

fn run_retries(jobs: Vec<Vec<u64>>, workers: usize, options: IterateOptions) -> Result<Timed2> {
    let (sink, handle) = CollectSink::new();
    Job::new(JobConfig::with_workers(workers)).run(move |env| {
        env.from_source(
            CollectionSource::from_partitions(jobs.clone()),
            WatermarkStrategy::monotonous_timestamps()
                .with_timestamps(|job: &u64| *job * 10)
                .with_emit_every(1),
        )
        .key_by(|job| *job)
        .iterate(Retry, options.clone())
        .sink(sink.clone());
        Ok(())
    })?;
    let mut results = handle.timed_records();
    results.sort();
    Ok(results)
}

type Timed2 = Vec<((u64, u32, u64, bool), u64, u64)>;

#[test]
fn a_retry_loop_runs_rounds_at_the_same_logical_time_and_stops_at_the_round_limit() {
    let jobs: Vec<Vec<u64>> = vec![(0..40).step_by(2).collect(), (1..40).step_by(2).collect()];
    let results = run_retries(jobs.clone(), 1, IterateOptions::default()).unwrap();
    assert_eq!(results.len(), 40, "one result per job");
    for ((job, tries, watermark, succeeded), timestamp, time) in &results {
        let expected_tries = match job % 5 {
            0 | 4 => 3,
            n => n as u32,
        };
        assert_eq!((*tries, *succeeded), (expected_tries, (1..=3).contains(&(job % 5))), "job {job}");
        assert_eq!(*timestamp, job * 10 + u64::from(tries - 1), "each attempt one ms later");
        assert_eq!(time, watermark, "results leave at the logical time they were made at");
        assert!(*time <= job * 10, "rounds do not advance the logical time");
    }
    for workers in [2, 4] {
        assert_eq!(run_retries(jobs.clone(), workers, IterateOptions::default()).unwrap(), results);
    }
    let error = run_retries(jobs, 2, IterateOptions { max_rounds: 1 }).unwrap_err().to_string();
    assert!(error.contains("did not converge") && error.contains("max_rounds"), "{error}");
}

fn build_checkpointed(env: &mut Env<'_>, rate: Option<u64>, output: &Path, failure: &Arc<InjectedFailure>) {
    // Edge `n` of split `s` joins vertex (7n + s) % 500 to a near one: components grow, merge.
    let mut source = GeneratorSource::new(3, |split, n| {
        let u = (n * 7 + split as u64) % 500;
        (u, (u + 1 + n % 3) % 500, n)
    })
    .with_count(600);
    if let Some(rate) = rate {
        source = source.with_rate(rate);
    }
    let components = env
        .from_source(
            source,
            WatermarkStrategy::monotonous_timestamps()
                .with_timestamps(|edge: &(u64, u64, u64)| edge.2)
                .with_emit_every(4),
        )
        .uid("edges")
        .map(|(u, v, _)| (u, v))
        .connected_components()
        .uid("components");
    // Fails after so many label changes, so the loop has made progress (and checkpoints have
    // completed) however far ahead the source has read.
    InjectedFailure::inject(failure, components)
        .map(|change| format!("{change:?}"))
        .sink(FileSink::json_lines(output))
        .uid("out");
}

#[test]
fn a_loop_checkpoints_and_restores_at_another_worker_count() {
    let dir = tempfile::tempdir().unwrap();
    let reference_output = dir.path().join("reference");
    let out = reference_output.clone();
    let never = InjectedFailure::never();
    Job::new(JobConfig::with_workers(2))
        .run(move |env| {
            build_checkpointed(env, None, &out, &never);
            Ok(())
        })
        .unwrap();
    let expected = committed_sorted(&reference_output);
    assert!(expected.len() > 500, "{} label changes", expected.len());
    let total = expected.len() as u64;
    for (attempt_workers, fail_after) in [([1, 3], total / 2), ([4, 2], total * 4 / 5)] {
        let run_dir = tempfile::tempdir().unwrap();
        let (checkpoints, output) = (run_dir.path().join("chk"), run_dir.path().join("out"));
        let out = output.clone();
        let build = move |env: &mut Env<'_>, failure: &Arc<InjectedFailure>| {
            build_checkpointed(env, Some(3_000), &out, failure);
            Ok(())
        };
        fail_and_restore(
            &checkpoints,
            Duration::from_millis(15),
            &attempt_workers,
            &[fail_after],
            build,
            |attempt| {
                if attempt == 0 {
                    assert_failed_mid_run(&checkpoints, &output, expected.len());
                }
            },
        );
        let operators = checkpointed_operators(&checkpoints);
        assert!(
            operators.contains(&("components".into(), "iterate".into())),
            "the loop's state: {operators:?}"
        );
        assert_eq!(committed_sorted(&output), expected, "{attempt_workers:?}, failing after {fail_after}");
    }
}
