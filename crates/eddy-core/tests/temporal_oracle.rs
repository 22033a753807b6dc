//! Oracle tests for the event-time temporal join (`DataStream::temporal_join`): random
//! out-of-order probes and versions (upserts and deletes, some late) over several splits,
//! at 1, 2 and 4 workers, against a lookup computed here from the time model: an on-time probe
//! at event time `t` is joined when the watermark passes `t`, with the latest version at or
//! before `t` among those whose logical time is at most `t`; a late probe goes to the side
//! output. Then a job fails mid-run and restores its join state from the latest checkpoint at
//! another worker count, and must commit exactly the output of a run without failures.

use std::collections::BTreeSet;
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
use serde::{Deserialize, Serialize};

const KEYS: u32 = 5;
const LATE: OutputTag<Probe> = OutputTag::new("late-probes");

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
struct Probe {
    key: u32,
    ts: u64,
    id: u32,
}

/// A version of `key` valid from `ts`: `value`, or a deletion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Version {
    key: u32,
    ts: u64,
    value: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum Out {
    Joined { probe: u32, value: Option<u32> },
    Late(u32),
}

type Results = Vec<(Out, u64, u64)>;

/// Splits of random timestamps, sorted then put out of order (some far: late records).
fn timestamps(rng: &mut SmallRng, splits: usize, per_split: usize, range: u64) -> Vec<Vec<u64>> {
    (0..splits)
        .map(|_| {
            let mut timestamps: Vec<u64> = (0..per_split).map(|_| rng.gen_range(0..range)).collect();
            timestamps.sort_unstable();
            oracle::disorder(rng, &mut timestamps, Disorder::default());
            timestamps
        })
        .collect()
}

struct Case {
    probes: Vec<Vec<Probe>>,
    versions: Vec<Vec<Version>>,
    /// Bounded out-of-orderness delay and emit-every of both sides' watermarks.
    model: (u64, u64),
}

/// Versions have distinct (key, time) pairs, so which one is valid at a time is never a tie.
fn inputs(seed: u64) -> Case {
    let mut rng = SmallRng::seed_from_u64(seed);
    let (range, model) = if seed.is_multiple_of(2) { (600, (20, 3)) } else { (150, (3, 1)) };
    let mut id = 0;
    let probes = timestamps(&mut rng, 2, 150, range)
        .into_iter()
        .map(|split| {
            split
                .into_iter()
                .map(|ts| {
                    id += 1;
                    Probe { key: rng.gen_range(0..KEYS), ts, id }
                })
                .collect()
        })
        .collect();
    let mut seen = BTreeSet::new();
    let versions = timestamps(&mut rng, 3, 40, range)
        .into_iter()
        .map(|split| {
            split
                .into_iter()
                .filter_map(|ts| {
                    let key = rng.gen_range(0..KEYS);
                    let value = (!rng.gen_bool(0.2)).then(|| rng.gen_range(0..1000));
                    seen.insert((key, ts)).then_some(Version { key, ts, value })
                })
                .collect()
        })
        .collect();
    Case { probes, versions, model }
}

fn with_times<T: Clone>(
    splits: &[Vec<T>],
    ts: impl Fn(&T) -> u64,
    (delay, every): (u64, u64),
) -> Vec<(T, u64)> {
    let mut all = Vec::new();
    for split in splits {
        let times = oracle::logical_times(split.iter().map(&ts), delay, every);
        all.extend(split.iter().cloned().zip(times));
    }
    all
}

/// The join computed directly (left outer: `None` when no version is valid).
fn reference(case: &Case) -> Results {
    let probes = with_times(&case.probes, |p| p.ts, case.model);
    let versions = with_times(&case.versions, |v| v.ts, case.model);
    let mut out = Vec::new();
    for (probe, time) in &probes {
        if probe.ts < *time {
            out.push((Out::Late(probe.id), probe.ts, *time));
            continue;
        }
        let valid = versions
            .iter()
            .filter(|(v, vt)| v.key == probe.key && v.ts <= probe.ts && *vt <= probe.ts)
            .max_by_key(|(v, _)| v.ts)
            .and_then(|(v, _)| v.value);
        out.push((Out::Joined { probe: probe.id, value: valid }, probe.ts, probe.ts));
    }
    out.sort();
    out
}

fn run(case: &Case, workers: usize, inner: bool) -> Results {
    let (sink, handle) = CollectSink::new();
    let (probes, versions) = (case.probes.clone(), case.versions.clone());
    let (delay, every) = case.model;
    Job::new(JobConfig::with_workers(workers))
        .run(move |env| {
            let probes = env.from_source(
                CollectionSource::from_partitions(probes.clone()),
                WatermarkStrategy::bounded_out_of_orderness(delay)
                    .with_timestamps(|p: &Probe| p.ts)
                    .with_emit_every(every),
            );
            let versions = env
                .from_source(
                    CollectionSource::from_partitions(versions.clone()),
                    WatermarkStrategy::bounded_out_of_orderness(delay)
                        .with_timestamps(|v: &Version| v.ts)
                        .with_emit_every(every),
                )
                .map(|v| match v.value {
                    Some(value) => Change::Upsert(v.key, value),
                    None => Change::Delete(v.key),
                });
            let join = probes.temporal_join(versions, |p: &Probe| p.key).side_output_late_data(LATE);
            let joined = if inner {
                join.inner(|p: &Probe, value: &u32| Out::Joined { probe: p.id, value: Some(*value) })
            } else {
                join.left_outer(|p: &Probe, value: Option<&u32>| Out::Joined {
                    probe: p.id,
                    value: value.copied(),
                })
            };
            let late = joined.side_output(&LATE).map(|p| Out::Late(p.id));
            joined.union([late]).sink(sink.clone());
            Ok(())
        })
        .expect("job runs");
    let mut results = handle.timed_records();
    results.sort();
    results
}

#[test]
fn temporal_join_matches_a_direct_lookup_at_every_worker_count() {
    for seed in 0..4 {
        let case = inputs(seed);
        let expected = reference(&case);
        let count = |f: &dyn Fn(&Out) -> bool| expected.iter().filter(|(out, ..)| f(out)).count();
        assert!(count(&|o| matches!(o, Out::Late(_))) > 0, "seed {seed}: some probes are late");
        assert!(count(&|o| matches!(o, Out::Joined { value: Some(_), .. })) > 50, "seed {seed}: matches");
        assert!(count(&|o| matches!(o, Out::Joined { value: None, .. })) > 0, "seed {seed}: misses");
        let versions = with_times(&case.versions, |v| v.ts, case.model);
        assert!(versions.iter().any(|(v, t)| v.ts < *t), "seed {seed}: some versions are late");
        for workers in [1, 2, 4] {
            assert_eq!(run(&case, workers, false), expected, "seed {seed}, {workers} workers");
        }
        let inner: Results = expected
            .iter()
            .filter(|(out, ..)| !matches!(out, Out::Joined { value: None, .. }))
            .cloned()
            .collect();
        assert_eq!(run(&case, 2, true), inner, "seed {seed}, inner join");
    }
}

const SPLITS: usize = 3;

fn build_checkpointed(
    env: &mut Env<'_>,
    per_split: u64,
    rate: Option<u64>,
    output: &Path,
    failure: &Arc<InjectedFailure>,
) {
    let limit = |source: GeneratorSource<_>| match rate {
        Some(rate) => source.with_rate(rate),
        None => source,
    };
    let strategy = || WatermarkStrategy::bounded_out_of_orderness(10).with_emit_every(8);
    // Probe `n` of split `s`: key (n + s) % 7 at about 3n ms, a little out of order.
    let probes = limit(
        GeneratorSource::new(SPLITS, |split, n| {
            (((n + split as u64) % 7) as u32, n * 3 + (n * 7 + split as u64) % 12, n)
        })
        .with_count(per_split),
    );
    // Version `n` of split `s`: key (3n + s) % 7 valid from about 2n ms; every 11th a deletion.
    let versions = limit(
        GeneratorSource::new(SPLITS, |split, n| {
            (((n * 3 + split as u64) % 7) as u32, n * 2 + split as u64, n)
        })
        .with_count(per_split),
    );
    let probes = env.from_source(probes, strategy().with_timestamps(|p: &(u32, u64, u64)| p.1)).uid("probes");
    let versions = env
        .from_source(versions, strategy().with_timestamps(|v: &(u32, u64, u64)| v.1))
        .uid("versions")
        .map(|(key, _, n)| if n % 11 == 10 { Change::Delete(key) } else { Change::Upsert(key, n) });
    let joined = probes
        .temporal_join(versions, |p| p.0)
        .left_outer(|p, version| format!("probe {} {} {} -> {version:?}", p.0, p.1, p.2))
        .uid("temporal");
    // Fails after so many results, so the join has made progress (and checkpoints have
    // completed) however far ahead the sources have read.
    InjectedFailure::inject(failure, joined).sink(FileSink::json_lines(output)).uid("out");
}

#[test]
fn temporal_join_state_restores_at_another_worker_count() {
    let per_split = 800;
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
    assert_eq!(expected.len(), SPLITS * per_split as usize, "one result per probe");
    assert!(expected.iter().filter(|line| line.contains("Some")).count() > 1000, "probes meet versions");
    let total = expected.len() as u64;
    for (attempt_workers, fail_after) in [([2, 4], total / 2), ([4, 1], total * 4 / 5)] {
        let run_dir = tempfile::tempdir().unwrap();
        let (checkpoints, output) = (run_dir.path().join("chk"), run_dir.path().join("out"));
        let out = output.clone();
        let build = move |env: &mut Env<'_>, failure: &Arc<InjectedFailure>| {
            build_checkpointed(env, per_split, Some(3_000), &out, failure);
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
        assert!(operators.iter().any(|(uid, _)| uid == "temporal"), "the join's state: {operators:?}");
        assert_eq!(committed_sorted(&output), expected, "{attempt_workers:?}, failing after {fail_after}");
    }
}
