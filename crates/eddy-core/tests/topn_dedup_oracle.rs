//! Oracle tests for Top-N, deduplication, distinct counting and lookup joins: random
//! out-of-order input over several splits, at 1 and 2 workers, against plain single-threaded
//! references written here. Upsert changelogs are compared consolidated (the resulting table)
//! and, since each key's changes are emitted in a deterministic order, key by key.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use eddy_connectors::{CollectSink, CollectionSource};
use eddy_core::hash::HashMap;
use eddy_core::prelude::*;
use eddy_testkit::oracle::{self, Disorder};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
struct Event {
    id: u64,
    key: u32,
    ts: u64,
    value: u64,
}

const DELAY: u64 = 30;
const EMIT_EVERY: u64 = 3;
const WORKERS: [usize; 2] = [1, 2];

/// Random input: `splits` partitions of events with unique timestamps. With `shuffle`, each
/// split is out of order (sometimes far: late data); otherwise in timestamp order.
fn random_input(
    seed: u64,
    splits: usize,
    per_split: usize,
    keys: u32,
    values: u64,
    shuffle: bool,
) -> Vec<Vec<Event>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut partitions = Vec::new();
    let mut id = 0;
    for mut mine in oracle::unique_timestamps(&mut rng, splits, per_split, 3) {
        if shuffle {
            oracle::disorder(&mut rng, &mut mine, Disorder::default());
        }
        let mut partition = Vec::new();
        for ts in mine {
            id += 1;
            partition.push(Event { id, key: rng.gen_range(0..keys), ts, value: rng.gen_range(0..values) });
        }
        partitions.push(partition);
    }
    partitions
}

/// Logical time of every record: its split's watermark before the record (bounded
/// out-of-orderness `DELAY`, advanced every `EMIT_EVERY` records).
fn logical_times(partition: &[Event]) -> Vec<u64> {
    oracle::logical_times(partition.iter().map(|event| event.ts), DELAY, EMIT_EVERY)
}

/// Every event with its logical time, in the order a keyed operator applies them to one key:
/// by logical time, then event time (timestamps are unique).
fn applied_order(partitions: &[Vec<Event>]) -> Vec<(u64, Event)> {
    let mut all: Vec<(u64, Event)> = partitions
        .iter()
        .flat_map(|partition| logical_times(partition).into_iter().zip(partition.iter().cloned()))
        .collect();
    all.sort_by_key(|(time, event)| (*time, event.ts));
    all
}

fn strategy() -> WatermarkStrategy<Event> {
    WatermarkStrategy::bounded_out_of_orderness(DELAY)
        .with_timestamps(|event: &Event| event.ts)
        .with_emit_every(EMIT_EVERY)
}

/// A pipeline under test.
type Build<O> = for<'s> fn(DataStream<'s, Event>) -> DataStream<'s, O>;

/// Runs `build` over the partitions at `workers` workers; returns (value, event time, logical
/// time) in arrival order.
fn run<O: Data>(partitions: &[Vec<Event>], workers: usize, build: Build<O>) -> Vec<(O, u64, u64)> {
    run_with(partitions, workers, strategy, build)
}

/// `run` with another watermark strategy.
fn run_with<O: Data>(
    partitions: &[Vec<Event>],
    workers: usize,
    strategy: fn() -> WatermarkStrategy<Event>,
    build: Build<O>,
) -> Vec<(O, u64, u64)> {
    let (sink, handle) = CollectSink::new();
    let partitions = partitions.to_vec();
    Job::new(JobConfig::with_workers(workers))
        .run(move |env| {
            let events = env.from_source(CollectionSource::from_partitions(partitions.clone()), strategy());
            build(events).sink(sink.clone());
            Ok(())
        })
        .expect("job runs");
    handle.timed_records()
}

/// A changelog's changes grouped by key, each key's in arrival order.
fn per_key<K: Ord + Clone, V: Clone>(changes: &[Change<K, V>]) -> BTreeMap<K, Vec<Change<K, V>>> {
    let mut grouped: BTreeMap<K, Vec<Change<K, V>>> = BTreeMap::new();
    for change in changes {
        grouped.entry(change.key().clone()).or_default().push(change.clone());
    }
    grouped
}

fn values<O: Clone>(records: &[(O, u64, u64)]) -> Vec<O> {
    records.iter().map(|(value, _, _)| value.clone()).collect()
}

// ---------------------------------------------------------------------------------------------
// Top-N

const TOP: usize = 3;

fn top_by_value(events: DataStream<'_, Event>) -> DataStream<'_, Change<(u32, u64), Event>> {
    events.key_by(|event: &Event| event.key).top_n(TOP, |a, b| b.value.cmp(&a.value))
}

/// Reference: per key, all rows seen with their arrival number; the top `TOP` is a sort by
/// (value descending, arrival); a change is emitted for every rank whose row is different.
fn top_n_reference(partitions: &[Vec<Event>]) -> Vec<Change<(u32, u64), Event>> {
    let mut seen: BTreeMap<u32, Vec<(usize, Event)>> = BTreeMap::new();
    let mut current: BTreeMap<u32, Vec<Event>> = BTreeMap::new();
    let mut changes = Vec::new();
    for (arrival, (_, event)) in applied_order(partitions).into_iter().enumerate() {
        let rows = seen.entry(event.key).or_default();
        rows.push((arrival, event.clone()));
        let mut sorted = rows.clone();
        sorted.sort_by(|(a_arrival, a), (b_arrival, b)| b.value.cmp(&a.value).then(a_arrival.cmp(b_arrival)));
        let top: Vec<Event> = sorted.into_iter().take(TOP).map(|(_, event)| event).collect();
        let before = current.entry(event.key).or_default();
        for (rank, row) in top.iter().enumerate() {
            if before.get(rank).map(|old| old.id) != Some(row.id) {
                changes.push(Change::Upsert((event.key, rank as u64 + 1), row.clone()));
            }
        }
        *before = top;
    }
    changes
}

#[test]
fn top_n_matches_reference() {
    for seed in 0..4 {
        let partitions = random_input(seed, 3, 150, 6, 25, true);
        let expected = top_n_reference(&partitions);
        assert!(expected.len() > 40, "the input changes rankings (seed {seed})");
        let table = consolidate(expected.clone());
        assert_eq!(table.len(), 6 * TOP, "every key fills its top {TOP}");
        for workers in WORKERS {
            let got = values(&run(&partitions, workers, top_by_value));
            assert_eq!(consolidate(got.clone()), table, "seed {seed}, {workers} workers");
            assert_eq!(per_key(&got), per_key(&expected), "seed {seed}, {workers} workers");
        }
    }
}

fn top_asc(events: DataStream<'_, Event>) -> DataStream<'_, Change<(u32, u64), Event>> {
    events.key_by(|event: &Event| event.key % 2).top_n_by_asc(2, |event: &Event| event.value)
}

#[test]
fn top_n_ties_go_to_the_first_arrival() {
    // One split in timestamp order: records are applied in this order.
    let rows = [(10, 5), (20, 7), (30, 7), (40, 5), (50, 3), (60, 3)];
    let partition: Vec<Event> = rows
        .iter()
        .enumerate()
        .map(|(id, &(ts, value))| Event { id: id as u64, key: 0, ts, value })
        .collect();
    for workers in WORKERS {
        let got = values(&run(std::slice::from_ref(&partition), workers, top_asc));
        let ids: Vec<((u32, u64), u64)> = got
            .iter()
            .map(|change| match change {
                Change::Upsert(key, event) => (*key, event.id),
                Change::Delete(_) => panic!("top_n of an append-only stream never deletes"),
            })
            .collect();
        // 5 -> rank 1; 7 -> rank 2; 7 (tie, later) -> out; 5 (tie, later) -> rank 2;
        // 3 -> ranks 1 and 2; 3 (tie, later) -> rank 2.
        let expected = vec![((0, 1), 0), ((0, 2), 1), ((0, 2), 3), ((0, 1), 4), ((0, 2), 0), ((0, 2), 5)];
        assert_eq!(ids, expected, "{workers} workers");
    }
}

// ---------------------------------------------------------------------------------------------
// Deduplication

const TTL: u64 = 120;

fn first(events: DataStream<'_, Event>) -> DataStream<'_, Event> {
    events.key_by(|event: &Event| event.key).deduplicate_first(None)
}

fn first_ttl(events: DataStream<'_, Event>) -> DataStream<'_, Event> {
    events.key_by(|event: &Event| event.key).deduplicate_first(Some(StateTtlConfig::new(TTL).event_time()))
}

/// Reference keep-first: a key's row is emitted when the key has no live marker; the marker
/// is stamped with the watermark (logical time) at which it was written.
fn first_reference(partitions: &[Vec<Event>], ttl: Option<u64>) -> Vec<(u64, u64)> {
    let mut marker: BTreeMap<u32, u64> = BTreeMap::new();
    let mut out = Vec::new();
    for (time, event) in applied_order(partitions) {
        let live = marker.get(&event.key).is_some_and(|&stamp| ttl.is_none_or(|ttl| time < stamp + ttl));
        if !live {
            marker.insert(event.key, time);
            out.push((event.id, time));
        }
    }
    out.sort();
    out
}

#[test]
fn deduplicate_first_matches_reference() {
    for seed in 0..4 {
        let partitions = random_input(seed, 3, 150, 10, 100, true);
        let expected = first_reference(&partitions, None);
        let expected_ttl = first_reference(&partitions, Some(TTL));
        assert_eq!(expected.len(), 10);
        assert!(expected_ttl.len() > 3 * expected.len(), "the TTL expires keys (seed {seed})");
        for workers in WORKERS {
            let cases: [(Build<Event>, &Vec<(u64, u64)>); 2] =
                [(first, &expected), (first_ttl, &expected_ttl)];
            for (build, expected) in cases {
                let mut got: Vec<(u64, u64)> = run(&partitions, workers, build)
                    .into_iter()
                    .map(|(event, _, time)| (event.id, time))
                    .collect();
                got.sort();
                assert_eq!(&got, expected, "seed {seed}, {workers} workers");
            }
        }
    }
}

fn last(events: DataStream<'_, Event>) -> DataStream<'_, Change<u32, Event>> {
    events.key_by(|event: &Event| event.key).deduplicate_last(None)
}

fn last_ttl(events: DataStream<'_, Event>) -> DataStream<'_, Change<u32, Event>> {
    events.key_by(|event: &Event| event.key).deduplicate_last(Some(StateTtlConfig::new(TTL).event_time()))
}

/// Reference keep-last: the row with the largest event time per key; a live row (stamped
/// with the logical time it was written at) is replaced by a row that is not older.
fn last_reference(partitions: &[Vec<Event>], ttl: Option<u64>) -> Vec<Change<u32, Event>> {
    let mut state: BTreeMap<u32, (u64, u64)> = BTreeMap::new(); // key -> (event time, stamp)
    let mut out = Vec::new();
    for (time, event) in applied_order(partitions) {
        let live = state
            .get(&event.key)
            .filter(|(_, stamp)| ttl.is_none_or(|ttl| time < stamp + ttl))
            .map(|(ts, _)| *ts);
        if live.is_some_and(|ts| ts > event.ts) {
            continue;
        }
        state.insert(event.key, (event.ts, time));
        out.push(Change::Upsert(event.key, event));
    }
    out
}

#[test]
fn deduplicate_last_matches_reference() {
    for seed in 0..4 {
        let partitions = random_input(seed, 3, 150, 10, 100, true);
        let cases: [(Build<Change<u32, Event>>, Option<u64>); 2] = [(last, None), (last_ttl, Some(TTL))];
        for (build, ttl) in cases {
            let expected = last_reference(&partitions, ttl);
            let table = consolidate(expected.clone());
            let latest: BTreeMap<u32, u64> =
                partitions.iter().flatten().fold(BTreeMap::new(), |mut latest, event| {
                    let entry = latest.entry(event.key).or_insert(0);
                    *entry = (*entry).max(event.ts);
                    latest
                });
            if ttl.is_none() {
                let newest: BTreeMap<u32, u64> = table.iter().map(|(key, event)| (*key, event.ts)).collect();
                assert_eq!(newest, latest, "without TTL the result is the newest row per key");
            }
            for workers in WORKERS {
                let got = values(&run(&partitions, workers, build));
                assert_eq!(consolidate(got.clone()), table, "seed {seed}, ttl {ttl:?}, {workers} workers");
                assert_eq!(per_key(&got), per_key(&expected), "seed {seed}, ttl {ttl:?}, {workers} workers");
            }
        }
    }
}

#[test]
fn deduplicate_last_prefers_the_later_row_on_equal_event_times() {
    // No delay, a watermark per record: row 1 is applied at time 0, the others at time 100
    // (row 3 first: it has the smallest event time, and is older than the current row).
    let partition = vec![
        Event { id: 1, key: 0, ts: 100, value: 1 },
        Event { id: 2, key: 0, ts: 100, value: 2 },
        Event { id: 3, key: 0, ts: 50, value: 3 },
        Event { id: 4, key: 0, ts: 200, value: 4 },
    ];
    fn no_delay() -> WatermarkStrategy<Event> {
        WatermarkStrategy::bounded_out_of_orderness(0)
            .with_timestamps(|event: &Event| event.ts)
            .with_emit_every(1)
    }
    fn build(events: DataStream<'_, Event>) -> DataStream<'_, Change<u32, Event>> {
        events.key_by(|event: &Event| event.key).deduplicate_last(None)
    }
    for workers in WORKERS {
        let ids: Vec<u64> = values(&run_with(std::slice::from_ref(&partition), workers, no_delay, build))
            .into_iter()
            .map(|change| change.value().expect("upserts only").id)
            .collect();
        assert_eq!(ids, vec![1, 2, 4], "{workers} workers");
    }
}

// ---------------------------------------------------------------------------------------------
// Distinct counts

fn distinct_values(events: DataStream<'_, Event>) -> DataStream<'_, Change<u32, u64>> {
    events
        .map(|event| (event.key, event.value))
        .key_by(|(key, _): &(u32, u64)| *key)
        .aggregate(CountDistinctBy::new(|(_, value): &(u32, u64)| *value))
}

fn distinct_whole(events: DataStream<'_, Event>) -> DataStream<'_, Change<u32, u64>> {
    events
        .map(|event| (event.key, event.value % 13))
        .key_by(|(key, _): &(u32, u64)| *key)
        .aggregate(CountDistinct::new())
}

/// Reference: per key, the set of values; a change whenever its size grows.
fn distinct_reference(partitions: &[Vec<Event>], project: fn(&Event) -> u64) -> Vec<Change<u32, u64>> {
    let mut sets: BTreeMap<u32, BTreeSet<u64>> = BTreeMap::new();
    let mut out = Vec::new();
    for (_, event) in applied_order(partitions) {
        if sets.entry(event.key).or_default().insert(project(&event)) {
            out.push(Change::Upsert(event.key, sets[&event.key].len() as u64));
        }
    }
    out
}

#[test]
fn keyed_count_distinct_matches_reference() {
    for seed in 0..4 {
        let partitions = random_input(seed, 3, 150, 8, 40, true);
        let cases: [(Build<Change<u32, u64>>, fn(&Event) -> u64); 2] =
            [(distinct_values, |event| event.value), (distinct_whole, |event| event.value % 13)];
        for (build, project) in cases {
            let expected = distinct_reference(&partitions, project);
            for workers in WORKERS {
                let got = values(&run(&partitions, workers, build));
                assert_eq!(
                    consolidate(got.clone()),
                    consolidate(expected.clone()),
                    "seed {seed}, {workers} workers"
                );
                assert_eq!(per_key(&got), per_key(&expected), "seed {seed}, {workers} workers");
            }
        }
    }
}

const WINDOW: u64 = 100;

/// Adds the key and the window start to a window's distinct count.
struct WithWindow;

impl ProcessWindowFunction<u32, u64, (u32, i64, u64)> for WithWindow {
    fn process(
        &mut self,
        key: &u32,
        window: &Window,
        counts: &[u64],
        ctx: &mut WindowContext<'_, (u32, i64, u64)>,
    ) {
        for count in counts {
            ctx.emit((*key, window.start, *count));
        }
    }
}

fn windowed_distinct(events: DataStream<'_, Event>) -> DataStream<'_, (u32, i64, u64)> {
    events
        .key_by(|event: &Event| event.key)
        .window(TumblingEventTimeWindows::of(WINDOW))
        .aggregate_with_process(CountDistinctBy::new(|event: &Event| event.value), WithWindow)
}

#[test]
fn windowed_count_distinct_matches_reference() {
    for seed in 0..3 {
        // In order per split: no record is late, every window sees all its records.
        let partitions = random_input(seed, 3, 150, 5, 12, false);
        let mut sets: BTreeMap<(u32, i64), BTreeSet<u64>> = BTreeMap::new();
        for event in partitions.iter().flatten() {
            sets.entry((event.key, (event.ts / WINDOW * WINDOW) as i64)).or_default().insert(event.value);
        }
        let expected: Vec<(u32, i64, u64)> =
            sets.into_iter().map(|((key, start), values)| (key, start, values.len() as u64)).collect();
        for workers in WORKERS {
            let mut got = values(&run(&partitions, workers, windowed_distinct));
            got.sort();
            assert_eq!(got, expected, "seed {seed}, {workers} workers");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lookup joins

/// The side table: keys 0..12 except multiples of 3, `key -> "side-<key>"`.
fn side_rows() -> Vec<(u32, String)> {
    (0..12u32).filter(|key| key % 3 != 0).map(|key| (key, format!("side-{key}"))).collect()
}

fn side_table() -> Arc<HashMap<u32, String>> {
    Arc::new(side_rows().into_iter().collect())
}

fn inner_lookup(events: DataStream<'_, Event>) -> DataStream<'_, (u64, String)> {
    events.lookup_join(
        side_table(),
        |event: &Event| event.key,
        |event, side: &String| (event.id, side.clone()),
    )
}

fn left_lookup(events: DataStream<'_, Event>) -> DataStream<'_, (u64, String)> {
    events.lookup_left_join(
        side_table(),
        |event: &Event| event.key,
        |event, side: Option<&String>| (event.id, side.cloned().unwrap_or_default()),
    )
}

/// Reference for both: (output, event time, logical time) sorted; the join keeps both times.
fn lookup_reference(partitions: &[Vec<Event>], outer: bool) -> Vec<((u64, String), u64, u64)> {
    let table: BTreeMap<u32, String> = side_rows().into_iter().collect();
    let mut out: Vec<((u64, String), u64, u64)> = applied_order(partitions)
        .into_iter()
        .filter_map(|(time, event)| match table.get(&event.key) {
            Some(side) => Some(((event.id, side.clone()), event.ts, time)),
            None if outer => Some(((event.id, String::new()), event.ts, time)),
            None => None,
        })
        .collect();
    out.sort();
    out
}

#[test]
fn lookup_join_matches_reference() {
    for seed in 0..3 {
        let partitions = random_input(seed, 3, 150, 14, 10, true);
        let cases: [(Build<(u64, String)>, bool); 2] = [(inner_lookup, false), (left_lookup, true)];
        for (build, outer) in cases {
            let expected = lookup_reference(&partitions, outer);
            assert!(!expected.is_empty());
            for workers in WORKERS {
                let mut got = run(&partitions, workers, build);
                got.sort();
                assert_eq!(got, expected, "seed {seed}, outer {outer}, {workers} workers");
            }
        }
    }
}

/// Runs the side-stream lookup join: the side rows (with duplicate keys) come from their own
/// bounded source of `side_splits` splits.
fn run_stream_lookup(
    partitions: &[Vec<Event>],
    side: &[Vec<(u32, u64)>],
    workers: usize,
) -> Vec<((u64, u64), u64, u64)> {
    let (sink, handle) = CollectSink::new();
    let partitions = partitions.to_vec();
    let side = side.to_vec();
    Job::new(JobConfig::with_workers(workers))
        .run(move |env| {
            let events = env.from_source(CollectionSource::from_partitions(partitions.clone()), strategy());
            let side = env.from_source(
                CollectionSource::from_partitions(side.clone()),
                WatermarkStrategy::bounded_out_of_orderness(0)
                    .with_timestamps(|row: &(u32, u64)| row.1)
                    .with_emit_every(2),
            );
            events
                .lookup_join_stream(side, |event: &Event| event.key, |event, value: &u64| (event.id, *value))
                .sink(sink.clone());
            Ok(())
        })
        .expect("job runs");
    handle.timed_records()
}

#[test]
fn lookup_join_stream_matches_reference() {
    for seed in 0..3 {
        let partitions = random_input(seed, 3, 150, 10, 10, true);
        let mut rng = SmallRng::seed_from_u64(seed + 100);
        // Side rows: keys 0..8 (so some events find nothing), several rows for some keys, with
        // event times spread over the main stream's, so side rows arrive late.
        let side: Vec<Vec<(u32, u64)>> = (0..2)
            .map(|_| {
                let mut rows: Vec<(u32, u64)> =
                    (0..12).map(|_| (rng.gen_range(0..8), rng.gen_range(0..1_500))).collect();
                rows.sort_by_key(|row| row.1);
                rows
            })
            .collect();
        let mut expected: Vec<((u64, u64), u64, u64)> = applied_order(&partitions)
            .into_iter()
            .flat_map(|(time, event)| {
                side.iter()
                    .flatten()
                    .filter(|(key, _)| *key == event.key)
                    .map(|(_, value)| ((event.id, *value), event.ts, time))
                    .collect::<Vec<_>>()
            })
            .collect();
        expected.sort();
        assert!(expected.len() > 100);
        for workers in WORKERS {
            let mut got = run_stream_lookup(&partitions, &side, workers);
            got.sort();
            assert_eq!(got, expected, "seed {seed}, {workers} workers");
        }
    }
}

#[test]
fn lookup_join_stream_refuses_checkpoints() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let checkpoint = CheckpointConfig::new(dir.path().join("chk"), std::time::Duration::from_millis(50));
    let result =
        Job::new(JobConfig { checkpoint: Some(checkpoint), ..JobConfig::with_workers(2) }).run(|env| {
            let events = env.from_source(
                CollectionSource::new(vec![Event { id: 1, key: 0, ts: 1, value: 0 }]),
                strategy(),
            );
            let side = env.from_source(
                CollectionSource::new(vec![(0u32, 7u64)]),
                WatermarkStrategy::monotonous_timestamps(),
            );
            events
                .lookup_join_stream(side, |event: &Event| event.key, |event, value: &u64| (event.id, *value))
                .print();
            Ok(())
        });
    let error = result.expect_err("the side table is not checkpointed");
    assert!(error.to_string().contains("lookup_join_stream"), "{error}");
}
