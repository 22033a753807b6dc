//! Async I/O against a single-threaded reference: random out-of-order input at 1, 2 and 4
//! workers, a service that answers slowly, fails some requests once (retried), times out on
//! some (fallback after retries) and refuses others for good (dropped). Every result must
//! come out at its record's logical time, the same at every worker count, in ordered and
//! unordered mode; ordered mode keeps the input order.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_async::{
    AsyncDataStream, AsyncFailure, AsyncMap, AsyncOptions, AsyncRetryStrategy, BoxError, OnFailure,
};
use eddy_connectors::{CollectSink, CollectionSource};
use eddy_core::prelude::*;
use eddy_testkit::oracle::{self, Disorder};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

const DELAY: u64 = 30;
const EMIT_EVERY: u64 = 3;
const TIMEOUT: Duration = Duration::from_millis(40);

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
struct Event {
    id: u64,
    ts: u64,
}

/// What the service does with a request: errors once for ids divisible by 11, never answers
/// in time for ids divisible by 17, always errors for ids divisible by 23, else answers
/// after a few milliseconds.
#[derive(Clone, Default)]
struct Service {
    attempts: Arc<Mutex<BTreeMap<u64, u32>>>,
}

impl Service {
    async fn call(self, event: Event) -> Result<(u64, u64, u64), BoxError> {
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            let attempt = attempts.entry(event.id).or_insert(0);
            *attempt += 1;
            *attempt
        };
        tokio::time::sleep(Duration::from_millis(event.id * 13 % 7)).await;
        if event.id.is_multiple_of(23) {
            return Err(format!("id {} refused", event.id).into());
        }
        if event.id.is_multiple_of(17) {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        if event.id.is_multiple_of(11) && attempt == 1 {
            return Err("try again".into());
        }
        Ok((event.id, event.ts, event.id * 7 % 101))
    }
}

fn options() -> AsyncOptions<Event, (u64, u64, u64)> {
    AsyncOptions::new(TIMEOUT, 16)
        .retry(AsyncRetryStrategy::exponential_backoff(
            3,
            Duration::from_millis(1),
            Duration::from_millis(5),
            2.0,
        ))
        .on_timeout(OnFailure::fallback(|event: &Event, failure| {
            assert_eq!(*failure, AsyncFailure::Timeout);
            (event.id, event.ts, 0)
        }))
        .on_error(OnFailure::Drop)
}

fn random_input(seed: u64, splits: usize, per_split: usize) -> Vec<Vec<Event>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut next_id = 1;
    let mut partitions = Vec::new();
    for mut mine in oracle::unique_timestamps(&mut rng, splits, per_split, 3) {
        oracle::disorder(&mut rng, &mut mine, Disorder::default());
        partitions.push(
            mine.into_iter()
                .map(|ts| {
                    next_id += rng.gen_range(1..4);
                    Event { id: next_id, ts }
                })
                .collect(),
        );
    }
    partitions
}

/// Results by logical time: every record's answer (0 after timeouts), errors dropped.
fn reference(partitions: &[Vec<Event>]) -> BTreeMap<u64, Vec<(u64, u64, u64)>> {
    let mut out: BTreeMap<u64, Vec<(u64, u64, u64)>> = BTreeMap::new();
    for partition in partitions {
        let times = oracle::logical_times(partition.iter().map(|event| event.ts), DELAY, EMIT_EVERY);
        for (event, time) in partition.iter().zip(times) {
            let value = match event.id {
                id if id.is_multiple_of(23) => continue,
                id if id.is_multiple_of(17) => 0,
                id => id * 7 % 101,
            };
            out.entry(time).or_default().push((event.id, event.ts, value));
        }
    }
    for results in out.values_mut() {
        results.sort();
    }
    out
}

fn run(
    partitions: &[Vec<Event>],
    workers: usize,
    ordered: bool,
) -> (BTreeMap<u64, Vec<(u64, u64, u64)>>, Vec<u64>) {
    let (sink, handle) = CollectSink::new();
    let partitions = partitions.to_vec();
    let service = Service::default();
    Job::new(JobConfig::with_workers(workers))
        .run(move |env| {
            let strategy = WatermarkStrategy::bounded_out_of_orderness(DELAY)
                .with_timestamps(|event: &Event| event.ts)
                .with_emit_every(EMIT_EVERY);
            let events = env.from_source(CollectionSource::from_partitions(partitions.clone()), strategy);
            let service = service.clone();
            let call = move |event: Event| service.clone().call(event);
            let results = if ordered {
                events.async_map(call, options())
            } else {
                AsyncDataStream::unordered_wait(events, call, options())
            };
            results.sink(sink.clone());
            Ok(())
        })
        .expect("job runs");
    let mut by_time: BTreeMap<u64, Vec<(u64, u64, u64)>> = BTreeMap::new();
    let mut order = Vec::new();
    for (value, timestamp, time) in handle.timed_records() {
        assert_eq!(value.1, timestamp, "a result keeps its record's event time");
        order.push(value.0);
        by_time.entry(time).or_default().push(value);
    }
    for results in by_time.values_mut() {
        results.sort();
    }
    (by_time, order)
}

#[test]
fn async_results_match_reference_at_any_worker_count() {
    for seed in 0..3 {
        let partitions = random_input(seed, 3, 120);
        let expected = reference(&partitions);
        let all = expected.values().flatten().count();
        let timed_out = expected.values().flatten().filter(|(_, _, value)| *value == 0).count();
        assert!(
            timed_out > 3 && all > 300,
            "the input exercises timeouts (seed {seed}: {timed_out} of {all})"
        );
        for workers in [1, 2, 4] {
            for ordered in [true, false] {
                let (got, _) = run(&partitions, workers, ordered);
                assert_eq!(got, expected, "seed {seed}, {workers} workers, ordered: {ordered}");
            }
        }
    }
}

#[test]
fn ordered_wait_keeps_the_input_order() {
    let mut partitions = random_input(7, 1, 200);
    partitions[0].sort_by_key(|event| event.ts);
    let (_, order) = run(&partitions, 1, true);
    let expected: Vec<u64> =
        partitions[0].iter().map(|event| event.id).filter(|id| !id.is_multiple_of(23)).collect();
    assert_eq!(order, expected);
}

#[test]
fn a_request_that_fails_for_good_fails_the_job_by_default() {
    let (sink, _handle) = CollectSink::new();
    let result = Job::new(JobConfig::with_workers(2)).run(move |env| {
        let events = env.from_source(
            CollectionSource::new((0..50u64).map(|id| Event { id, ts: id })),
            WatermarkStrategy::monotonous_timestamps().with_timestamps(|event: &Event| event.ts),
        );
        let failing = |event: Event| async move {
            match event.id {
                13 => Err::<u64, BoxError>("service unavailable".into()),
                id => Ok(id),
            }
        };
        let options = AsyncOptions::new(TIMEOUT, 4).retry(AsyncRetryStrategy::fixed_delay(2, Duration::ZERO));
        AsyncDataStream::unordered_wait(events, failing, options).sink(sink.clone());
        Ok(())
    });
    let error = result.expect_err("the job fails").to_string();
    assert!(error.contains("service unavailable"), "{error}");
}

#[test]
fn capacity_bounds_the_requests_in_flight_per_worker() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (sink, handle) = CollectSink::new();
    let (in_flight, peak) = (Arc::clone(&now), Arc::clone(&most));
    Job::new(JobConfig::with_workers(2))
        .run(move |env| {
            let events = env.from_source(
                CollectionSource::from_partitions(vec![
                    (0..40u64).map(|id| Event { id, ts: id }).collect(),
                    (40..80u64).map(|id| Event { id, ts: id }).collect(),
                ]),
                WatermarkStrategy::monotonous_timestamps().with_timestamps(|event: &Event| event.ts),
            );
            let (in_flight, peak) = (Arc::clone(&in_flight), Arc::clone(&peak));
            let call = move |event: Event| {
                let (in_flight, peak) = (Arc::clone(&in_flight), Arc::clone(&peak));
                async move {
                    let current = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(current, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    Ok::<u64, BoxError>(event.id)
                }
            };
            AsyncDataStream::unordered_wait(events, call, AsyncOptions::new(Duration::from_secs(5), 3))
                .sink(sink.clone());
            Ok(())
        })
        .unwrap();
    let mut ids: Vec<u64> = handle.values();
    ids.sort();
    assert_eq!(ids, (0..80).collect::<Vec<_>>());
    let peak = most.load(Ordering::SeqCst);
    assert!((1..=6).contains(&peak), "at most 3 requests per worker, 2 workers: peak {peak}");
}

#[test]
fn a_panicking_function_fails_the_job() {
    let (sink, _handle) = CollectSink::new();
    let result = Job::new(JobConfig::with_workers(1)).run(move |env| {
        let events = env.from_source(
            CollectionSource::new((0..10u64).map(|id| Event { id, ts: id })),
            WatermarkStrategy::monotonous_timestamps().with_timestamps(|event: &Event| event.ts),
        );
        let panicking = |event: Event| async move {
            assert_ne!(event.id, 4, "the function panics on record 4");
            Ok::<u64, BoxError>(event.id)
        };
        AsyncDataStream::ordered_wait(events, panicking, AsyncOptions::new(TIMEOUT, 4)).sink(sink.clone());
        Ok(())
    });
    let error = result.expect_err("the job fails").to_string();
    assert!(error.contains("panicked"), "{error}");
}
