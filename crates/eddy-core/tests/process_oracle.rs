//! Oracle test for keyed process functions: random out-of-order input over several splits, at
//! 1, 2 and 4 workers, against a plain single-threaded computation of the same semantics
//! (design.md section 3). The multiset of outputs per logical time must match exactly.

use std::collections::{BTreeMap, BTreeSet};

use eddy_connectors::{CollectSink, CollectionSource};
use eddy_core::hash::key_hash;
use eddy_core::prelude::*;
use eddy_testkit::oracle::{self, Disorder};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
struct Event {
    key: u32,
    ts: u64,
    value: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum Out {
    /// Emitted for every record: the key's record count so far and the record.
    Seen { key: u32, count: u64, ts: u64, watermark: u64 },
    /// A bucket's timer was cancelled by a record with a value divisible by 7.
    Cancelled { key: u32, bucket_end: u64 },
    /// A bucket's timer fired with the bucket's sum; a follow-up timer may be registered.
    Fired { key: u32, at: u64, sum: Option<u64>, watermark: u64 },
}

const DELAY: u64 = 30;
const EMIT_EVERY: u64 = 3;
const BUCKET: u64 = 50;
const FOLLOW_UP: u64 = 120;

fn bucket_end(ts: u64) -> u64 {
    (ts / BUCKET + 1) * BUCKET - 1
}

/// The function under test.
#[derive(Default)]
struct Buckets {
    count: Option<ValueState<u64>>,
    sums: Option<MapState<u64, u64>>,
}

impl KeyedProcessFunction<u32, Event, Out> for Buckets {
    fn open(&mut self, ctx: &mut OpenContext<'_, u32>) {
        self.count = Some(ctx.value_state("count"));
        self.sums = Some(ctx.map_state("sums"));
    }

    fn process_element(&mut self, event: Event, ctx: &mut Context<'_, u32, Out>) {
        let (count_state, sums) = (self.count.clone().unwrap(), self.sums.clone().unwrap());
        let count = count_state.value(ctx).unwrap_or(0) + 1;
        count_state.update(ctx, count);
        let end = bucket_end(event.ts);
        let sum = sums.get(ctx, &end).unwrap_or(0) + event.value;
        sums.put(ctx, end, sum);
        ctx.register_event_time_timer(end);
        let watermark = ctx.current_watermark();
        ctx.emit(Out::Seen { key: event.key, count, ts: event.ts, watermark });
        if event.value.is_multiple_of(7) {
            ctx.delete_event_time_timer(end);
            sums.remove(ctx, &end);
            ctx.emit(Out::Cancelled { key: event.key, bucket_end: end });
        }
    }

    fn on_timer(&mut self, timestamp: u64, ctx: &mut Context<'_, u32, Out>) {
        let (count_state, sums) = (self.count.clone().unwrap(), self.sums.clone().unwrap());
        let sum = sums.remove(ctx, &timestamp);
        let key = *ctx.key();
        let watermark = ctx.current_watermark();
        ctx.emit(Out::Fired { key, at: timestamp, sum, watermark });
        if sum.is_some() && count_state.value(ctx).unwrap_or(0).is_multiple_of(3) {
            ctx.register_event_time_timer(timestamp + FOLLOW_UP);
        }
    }
}

/// Random input: `splits` partitions of events with unique timestamps, out of order.
fn random_input(seed: u64, splits: usize, per_split: usize) -> Vec<Vec<Event>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut partitions = Vec::new();
    for mut mine in oracle::unique_timestamps(&mut rng, splits, per_split, 3) {
        // Out of order: swap neighbours within a window, sometimes far (late data).
        oracle::disorder(&mut rng, &mut mine, Disorder::default());
        partitions.push(
            mine.into_iter()
                .map(|ts| Event { key: rng.gen_range(0..8), ts, value: rng.gen_range(0..100) })
                .collect(),
        );
    }
    partitions
}

/// Logical time of every record: its split's watermark before the record (bounded
/// out-of-orderness `DELAY`, advanced every `EMIT_EVERY` records).
fn logical_times(partition: &[Event]) -> Vec<u64> {
    oracle::logical_times(partition.iter().map(|event| event.ts), DELAY, EMIT_EVERY)
}

/// The single-threaded reference: apply records time by time, firing timers whose timestamp
/// the time has passed first; outputs keyed by the logical time that carries them.
fn reference(partitions: &[Vec<Event>]) -> BTreeMap<u64, Vec<(Out, u64)>> {
    let mut by_time: BTreeMap<u64, Vec<Event>> = BTreeMap::new();
    for partition in partitions {
        for (event, time) in partition.iter().zip(logical_times(partition)) {
            by_time.entry(time).or_default().push(event.clone());
        }
    }
    let mut count: BTreeMap<u32, u64> = BTreeMap::new();
    let mut sums: BTreeMap<(u32, u64), u64> = BTreeMap::new();
    // (timestamp, key) -> delivery time
    let mut timers: BTreeMap<(u64, u32), u64> = BTreeMap::new();
    let mut out: BTreeMap<u64, Vec<(Out, u64)>> = BTreeMap::new();

    let fire_until = |limit: Option<u64>,
                      timers: &mut BTreeMap<(u64, u32), u64>,
                      sums: &mut BTreeMap<(u32, u64), u64>,
                      count: &BTreeMap<u32, u64>,
                      out: &mut BTreeMap<u64, Vec<(Out, u64)>>| {
        while let Some((&(at, key), &delivery)) = timers.iter().next() {
            if limit.is_some_and(|limit| at >= limit) {
                break;
            }
            timers.remove(&(at, key));
            let sum = sums.remove(&(key, at));
            out.entry(delivery).or_default().push((Out::Fired { key, at, sum, watermark: at + 1 }, at));
            if sum.is_some() && count.get(&key).copied().unwrap_or(0).is_multiple_of(3) {
                let follow = at + FOLLOW_UP;
                let entry = timers.entry((follow, key)).or_insert(follow.max(delivery));
                *entry = (*entry).min(follow.max(delivery));
            }
        }
    };

    for (time, mut events) in by_time {
        fire_until(Some(time), &mut timers, &mut sums, &count, &mut out);
        events.sort_by_key(|event| (key_hash(&event.key), event.ts));
        for event in events {
            let key_count = count.entry(event.key).or_insert(0);
            *key_count += 1;
            let end = bucket_end(event.ts);
            *sums.entry((event.key, end)).or_insert(0) += event.value;
            let delivery = end.max(time);
            let entry = timers.entry((end, event.key)).or_insert(delivery);
            *entry = (*entry).min(delivery);
            out.entry(time).or_default().push((
                Out::Seen { key: event.key, count: *key_count, ts: event.ts, watermark: time },
                event.ts,
            ));
            if event.value.is_multiple_of(7) {
                timers.remove(&(end, event.key));
                sums.remove(&(event.key, end));
                out.entry(time)
                    .or_default()
                    .push((Out::Cancelled { key: event.key, bucket_end: end }, event.ts));
            }
        }
    }
    fire_until(None, &mut timers, &mut sums, &count, &mut out);
    for outputs in out.values_mut() {
        outputs.sort();
    }
    out
}

fn run(partitions: &[Vec<Event>], workers: usize) -> BTreeMap<u64, Vec<(Out, u64)>> {
    let (sink, handle) = CollectSink::new();
    let partitions = partitions.to_vec();
    Job::new(JobConfig::with_workers(workers))
        .run(move |env| {
            let strategy = WatermarkStrategy::bounded_out_of_orderness(DELAY)
                .with_timestamps(|event: &Event| event.ts)
                .with_emit_every(EMIT_EVERY);
            env.from_source(CollectionSource::from_partitions(partitions.clone()), strategy)
                .key_by(|event| event.key)
                .process(Buckets::default())
                .sink(sink.clone());
            Ok(())
        })
        .expect("job runs");
    let mut by_time: BTreeMap<u64, Vec<(Out, u64)>> = BTreeMap::new();
    for (value, timestamp, time) in handle.timed_records() {
        by_time.entry(time).or_default().push((value, timestamp));
    }
    for outputs in by_time.values_mut() {
        outputs.sort();
    }
    by_time
}

#[test]
fn keyed_process_matches_reference_at_any_worker_count() {
    for seed in 0..6 {
        let partitions = random_input(seed, 3, 150);
        let expected = reference(&partitions);
        let fired = expected.values().flatten().filter(|(out, _)| matches!(out, Out::Fired { .. })).count();
        let late = expected
            .values()
            .flatten()
            .filter(|(out, _)| matches!(out, Out::Seen { ts, watermark, .. } if ts < watermark))
            .count();
        assert!(fired > 20, "the input exercises timers (seed {seed}: {fired})");
        assert!(late > 0, "the input contains late records (seed {seed})");
        for workers in [1, 2, 4] {
            let got = run(&partitions, workers);
            assert_eq!(got, expected, "seed {seed}, {workers} workers");
        }
    }
}

#[test]
fn follow_up_timers_and_deletes_are_exercised() {
    let partitions = random_input(99, 2, 200);
    let expected = reference(&partitions);
    let outputs: BTreeSet<&str> = expected
        .values()
        .flatten()
        .map(|(out, _)| match out {
            Out::Seen { .. } => "seen",
            Out::Cancelled { .. } => "cancelled",
            Out::Fired { .. } => "fired",
        })
        .collect();
    assert_eq!(outputs.len(), 3, "Seen, Cancelled and Fired all occur");
    let follow_ups =
        expected.values().flatten().filter(|(out, _)| matches!(out, Out::Fired { sum: None, .. })).count();
    assert!(follow_ups > 0);
    assert_eq!(run(&partitions, 2), expected);
}
