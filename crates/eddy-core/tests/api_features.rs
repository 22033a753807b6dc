//! The DataStream API end to end: connect + keyed co-process, side outputs, fused chains,
//! union, processing-time timers on an injected clock, idleness, and stopping an unbounded job.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_connectors::{CollectHandle, CollectSink, CollectionSource, GeneratorSource};
use eddy_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Order {
    id: u32,
    ts: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Payment {
    order: u32,
    ts: u64,
    amount: u64,
}

const UNMATCHED: OutputTag<u32> = OutputTag::new("unmatched");

/// Joins orders with payments; orders still unpaid when the watermark passes `ts + 10` go to
/// the UNMATCHED side output.
#[derive(Default)]
struct Match {
    order: Option<ValueState<Order>>,
    payment: Option<ValueState<Payment>>,
}

impl KeyedCoProcessFunction<u32, Order, Payment, (u32, u64)> for Match {
    fn open(&mut self, ctx: &mut OpenContext<'_, u32>) {
        self.order = Some(ctx.value_state("order"));
        self.payment = Some(ctx.value_state("payment"));
    }
    fn process_element1(&mut self, order: Order, ctx: &mut Context<'_, u32, (u32, u64)>) {
        let payments = self.payment.clone().unwrap();
        match payments.value(ctx) {
            Some(payment) => {
                payments.clear(ctx);
                ctx.emit((order.id, payment.amount));
            }
            None => {
                ctx.register_event_time_timer(order.ts + 10);
                self.order.clone().unwrap().update(ctx, order);
            }
        }
    }
    fn process_element2(&mut self, payment: Payment, ctx: &mut Context<'_, u32, (u32, u64)>) {
        let orders = self.order.clone().unwrap();
        match orders.value(ctx) {
            Some(order) => {
                orders.clear(ctx);
                ctx.delete_event_time_timer(order.ts + 10);
                ctx.emit((payment.order, payment.amount));
            }
            None => self.payment.clone().unwrap().update(ctx, payment),
        }
    }
    fn on_timer(&mut self, _timestamp: u64, ctx: &mut Context<'_, u32, (u32, u64)>) {
        let orders = self.order.clone().unwrap();
        if orders.value(ctx).is_some() {
            orders.clear(ctx);
            let id = *ctx.key();
            ctx.emit_to(&UNMATCHED, id);
        }
    }
}

#[test]
fn connect_co_process_and_side_output() {
    for workers in [1, 3] {
        let (matched, matched_handle) = CollectSink::new();
        let (unmatched, unmatched_handle) = CollectSink::new();
        Job::new(JobConfig::with_workers(workers))
            .run(move |env| {
                let orders = env.from_source(
                    CollectionSource::new((0..20).map(|id| Order { id, ts: id as u64 * 5 })),
                    WatermarkStrategy::monotonous_timestamps().with_timestamps(|order: &Order| order.ts),
                );
                // Every third order is never paid; payments of even orders come before the order.
                let payments = env.from_source(
                    CollectionSource::new((0..20).filter(|id| id % 3 != 0).map(|id| Payment {
                        order: id,
                        ts: if id.is_multiple_of(2) { id as u64 * 5 } else { id as u64 * 5 + 3 },
                        amount: id as u64 * 100,
                    })),
                    WatermarkStrategy::bounded_out_of_orderness(2)
                        .with_timestamps(|payment: &Payment| payment.ts),
                );
                let joined = orders
                    .connect(payments)
                    .key_by(|order: &Order| order.id, |payment: &Payment| payment.order)
                    .process(Match::default());
                joined.side_output(&UNMATCHED).sink(unmatched.clone());
                joined.sink(matched.clone());
                Ok(())
            })
            .unwrap();
        let mut matched = matched_handle.values();
        matched.sort();
        let expected: Vec<(u32, u64)> =
            (0..20).filter(|id| id % 3 != 0).map(|id| (id, id as u64 * 100)).collect();
        assert_eq!(matched, expected, "{workers} workers");
        let mut unmatched = unmatched_handle.records();
        unmatched.sort();
        let expected: Vec<(u32, u64)> =
            (0..20u32).filter(|id| id.is_multiple_of(3)).map(|id| (id, id as u64 * 5 + 10)).collect();
        assert_eq!(unmatched, expected, "side output carries the timer's timestamp");
    }
}

#[test]
fn fused_chain_union_and_rolling_aggregates() {
    let (sink, handle) = CollectSink::new();
    let (inspected, inspected_handle) = CollectSink::new();
    Job::new(JobConfig::with_workers(2))
        .run(move |env| {
            let strategy =
                || WatermarkStrategy::monotonous_timestamps().with_timestamps(|value: &u64| *value);
            let left = env.from_source(CollectionSource::new(1..=10u64), strategy());
            let right = env.from_source(CollectionSource::new(11..=20u64), strategy());
            let numbers = left.union([right]);
            let words = numbers
                .filter(|value| value.is_multiple_of(2))
                .flat_map(|value| vec![value, value * 100])
                .map(|value| (value % 3, value));
            words.clone().sink(inspected.clone());
            let keyed = words.key_by(|(key, _): &(u64, u64)| *key);
            keyed.clone().max(|(_, value)| *value).map(|(key, value)| ("max", key, value)).sink(sink.clone());
            keyed
                .clone()
                .min_by(|(_, value)| *value)
                .map(|(key, value)| ("min_by", key, value))
                .sink(sink.clone());
            Ok(())
        })
        .unwrap();
    let records = inspected_handle.records();
    assert_eq!(records.len(), 20);
    assert!(records.iter().all(|((_, value), timestamp)| value.is_multiple_of(100) || value == timestamp));
    let values = handle.values();
    let final_of = |name: &str, key: u64| {
        values
            .iter()
            .filter(|(kind, k, _)| *kind == name && *k == key)
            .map(|(_, _, value)| *value)
            .collect::<Vec<_>>()
    };
    // Rolling results grow monotonically to the true max / min per key.
    for key in 0..3u64 {
        let expected: Vec<u64> = (1..=20u64)
            .filter(|v| v.is_multiple_of(2))
            .flat_map(|v| [v, v * 100])
            .filter(|v| v % 3 == key)
            .collect();
        assert_eq!(final_of("max", key).into_iter().max(), expected.iter().copied().max());
        assert_eq!(final_of("min_by", key).into_iter().min(), expected.iter().copied().min());
        assert_eq!(final_of("max", key).len(), expected.len(), "one update per record");
    }
}

/// A source with `records` per split that then waits for more forever (an unbounded input).
struct Trickle {
    splits: usize,
    records: u64,
}

struct TrickleReader {
    id: String,
    next: u64,
    records: u64,
}

impl SplitReader<u64> for TrickleReader {
    fn split_id(&self) -> &str {
        &self.id
    }
    fn read(&mut self, output: &mut SplitOutput<u64>, _max: usize) -> eddy_core::error::Result<ReadStatus> {
        while self.next < self.records {
            output.push(self.next, self.next * 10);
            self.next += 1;
        }
        Ok(ReadStatus::Pending)
    }
}

impl Source<u64> for Trickle {
    fn name(&self) -> String {
        "trickle".into()
    }
    fn splits(&self, context: &SplitContext) -> eddy_core::error::Result<Vec<Box<dyn SplitReader<u64>>>> {
        Ok((0..self.splits)
            .filter(|split| split % context.workers == context.worker_index)
            .map(|split| {
                let records = if split == 0 { self.records } else { 0 };
                Box::new(TrickleReader { id: format!("trickle-{split}"), next: 0, records })
                    as Box<dyn SplitReader<u64>>
            })
            .collect())
    }
}

/// Emits `(value, firing time)` from an event-time or processing-time timer.
struct Delay {
    domain: TimeDomain,
    value: Option<ValueState<u64>>,
}

impl KeyedProcessFunction<u64, u64, (u64, u64)> for Delay {
    fn open(&mut self, ctx: &mut OpenContext<'_, u64>) {
        self.value = Some(ctx.value_state("value"));
    }
    fn process_element(&mut self, value: u64, ctx: &mut Context<'_, u64, (u64, u64)>) {
        self.value.clone().unwrap().update(ctx, value);
        match self.domain {
            TimeDomain::EventTime => ctx.register_event_time_timer(value + 5),
            TimeDomain::ProcessingTime => {
                let at = ctx.current_processing_time() + 100;
                ctx.register_processing_time_timer(at);
            }
        }
    }
    fn on_timer(&mut self, timestamp: u64, ctx: &mut Context<'_, u64, (u64, u64)>) {
        assert_eq!(ctx.time_domain(), Some(self.domain));
        let value = self.value.clone().unwrap().value(ctx).unwrap();
        ctx.emit((value, timestamp));
    }
}

/// Runs an unbounded job (split 0 has five records, other splits none) in a thread; returns a handle to its output, a read counter, the
/// clock, the stop handle and the thread.
fn unbounded(
    domain: TimeDomain,
    idleness: Option<u64>,
    splits: usize,
) -> (
    CollectHandle<(u64, u64)>,
    ManualClock,
    StopHandle,
    std::thread::JoinHandle<eddy_core::error::Result<JobSummary>>,
) {
    let clock = ManualClock::new(1_000_000);
    let (sink, handle) = CollectSink::new();
    let job = Job::new(JobConfig { workers: 2, clock: Arc::new(clock.clone()), ..JobConfig::default() });
    let stop = job.stop_handle();
    let thread = std::thread::spawn(move || {
        job.run(move |env| {
            let mut strategy = WatermarkStrategy::bounded_out_of_orderness(0)
                .with_timestamps(|value: &u64| *value)
                .with_emit_every(1);
            if let Some(timeout) = idleness {
                strategy = strategy.with_idleness(timeout);
            }
            env.from_source(Trickle { splits, records: 5 }, strategy)
                .key_by(|value: &u64| *value)
                .process(Delay { domain, value: None })
                .sink(sink.clone());
            Ok(())
        })
    });
    (handle, clock, stop, thread)
}

/// Waits (in real time, as tests do) for `condition`, for at most 20 seconds.
#[allow(clippy::disallowed_methods)]
fn wait_for(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn processing_time_timers_follow_the_injected_clock() {
    let (handle, clock, stop, thread) = unbounded(TimeDomain::ProcessingTime, None, 1);
    std::thread::sleep(Duration::from_millis(100));
    assert!(handle.values().is_empty(), "no timer fires before the clock moves");
    clock.advance(99);
    std::thread::sleep(Duration::from_millis(50));
    assert!(handle.values().is_empty(), "not yet: timers are due at +100");
    clock.advance(1);
    assert!(wait_for(|| handle.values().len() == 5), "all five timers fire once the clock reaches them");
    let mut values = handle.values();
    values.sort();
    assert_eq!(values, (0..5).map(|n| (n * 10, 1_000_100)).collect::<Vec<_>>());
    stop.stop();
    let summary = thread.join().unwrap().unwrap();
    assert_eq!(summary.records_read, 5);
}

#[test]
fn idle_split_stops_holding_the_watermark() {
    // Split 1 never produces a record. Without idleness it holds the watermark at 0 forever.
    let (handle, clock, stop, thread) = unbounded(TimeDomain::EventTime, None, 2);
    clock.advance(10_000);
    std::thread::sleep(Duration::from_millis(200));
    assert!(handle.values().is_empty(), "an empty split holds event time back");
    stop.stop();
    thread.join().unwrap().unwrap();
    assert_eq!(handle.values().len(), 5, "stopping drains: pending timers fire");

    let (handle, clock, stop, thread) = unbounded(TimeDomain::EventTime, Some(1_000), 2);
    std::thread::sleep(Duration::from_millis(100));
    assert!(handle.values().is_empty());
    clock.advance(1_000);
    assert!(wait_for(|| handle.values().len() == 5), "idle splits release the watermark");
    let mut values = handle.values();
    values.sort();
    assert_eq!(values, (0..5).map(|n| (n * 10, n * 10 + 5)).collect::<Vec<_>>());
    stop.stop();
    thread.join().unwrap().unwrap();
}

#[test]
fn failure_in_a_source_stops_every_worker() {
    struct Failing;
    impl Source<u64> for Failing {
        fn name(&self) -> String {
            "failing".into()
        }
        fn splits(&self, _: &SplitContext) -> eddy_core::error::Result<Vec<Box<dyn SplitReader<u64>>>> {
            Err(Error::Config("no such topic".into()))
        }
    }
    let counter = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&counter);
    let error = Job::new(JobConfig::with_workers(3))
        .run(move |env| {
            let seen = Arc::clone(&seen);
            let unbounded =
                env.from_source(Trickle { splits: 3, records: 3 }, WatermarkStrategy::ingestion_time());
            let failing = env.from_source(Failing, WatermarkStrategy::ingestion_time());
            unbounded.union([failing]).inspect(move |_, _| {
                seen.fetch_add(1, Ordering::SeqCst);
            });
            Ok(())
        })
        .unwrap_err();
    assert_eq!(error.to_string(), "invalid configuration: no such topic");
}

/// Registers a processing-time timer at `now + value`; each firing re-registers itself.
#[derive(Default)]
struct Repeating {
    fired: Option<ValueState<u64>>,
}

impl KeyedProcessFunction<u64, u64, (u64, u64)> for Repeating {
    fn open(&mut self, ctx: &mut OpenContext<'_, u64>) {
        self.fired = Some(ctx.value_state("fired"));
    }
    fn process_element(&mut self, value: u64, ctx: &mut Context<'_, u64, (u64, u64)>) {
        let at = ctx.current_processing_time() + value;
        ctx.register_processing_time_timer(at);
        if value == 3 {
            // Deleted before the input ends: never fires.
            ctx.register_processing_time_timer(at + 1_000);
            ctx.delete_processing_time_timer(at + 1_000);
        }
    }
    fn on_timer(&mut self, timestamp: u64, ctx: &mut Context<'_, u64, (u64, u64)>) {
        let key = *ctx.key();
        ctx.emit((key, timestamp));
        ctx.register_processing_time_timer(timestamp + 1);
    }
}

#[test]
fn all_pending_processing_time_timers_fire_once_at_end_of_input() {
    let clock = ManualClock::new(500);
    let (sink, handle) = CollectSink::new();
    Job::new(JobConfig { workers: 2, clock: Arc::new(clock), ..JobConfig::default() })
        .run(move |env| {
            env.from_source(CollectionSource::new(1..=6u64), WatermarkStrategy::ingestion_time())
                .key_by(|value: &u64| *value)
                .process(Repeating::default())
                .sink(sink.clone());
            Ok(())
        })
        .unwrap();
    let mut fired = handle.values();
    fired.sort();
    assert_eq!(fired, (1..=6u64).map(|value| (value, 500 + value)).collect::<Vec<_>>());
}

/// Runs a rolling per-key sum over two sources far apart in event time, with or without
/// watermark alignment.
fn aligned_sums(alignment: Option<u64>) -> (Vec<(u64, u64)>, JobSummary) {
    let (sink, handle) = CollectSink::new();
    let summary = Job::new(JobConfig::with_workers(2))
        .run(move |env| {
            let strategy = || {
                let strategy = WatermarkStrategy::bounded_out_of_orderness(0)
                    .with_timestamps(|value: &u64| *value)
                    .with_emit_every(16);
                match alignment {
                    Some(drift) => strategy.with_watermark_alignment("numbers", drift),
                    None => strategy,
                }
            };
            let early =
                env.from_source(CollectionSource::from_partitions(vec![(0..3_000).collect()]), strategy());
            let late = env.from_source(
                CollectionSource::from_partitions(vec![
                    (50_000..52_000).collect(),
                    (60_000..61_000).collect(),
                ]),
                strategy(),
            );
            early.union([late]).key_by(|value: &u64| value % 7).sum(|value| *value).sink(sink.clone());
            Ok(())
        })
        .unwrap();
    let mut sums = handle.values();
    sums.sort();
    (sums, summary)
}

#[test]
fn watermark_alignment_changes_pace_not_results() {
    let (unaligned, summary) = aligned_sums(None);
    assert_eq!(summary.records_read, 6_000);
    let (aligned, summary) = aligned_sums(Some(100));
    assert_eq!(summary.records_read, 6_000, "no source stalls for good");
    assert_eq!(aligned, unaligned);
}

#[test]
fn a_panicking_worker_fails_the_job_instead_of_hanging_it() {
    // Where panics unwind (tests), the job ends with an error naming the panic; the other
    // workers stop. (Release builds abort the process instead, for the supervisor to restart.)
    let error = Job::new(JobConfig::with_workers(3))
        .run(|env| {
            env.from_source(GeneratorSource::new(3, |_, n| n), WatermarkStrategy::ingestion_time())
                .key_by(|n: &u64| *n % 10)
                .reduce(|sum, n| {
                    assert!(*n != 5_000, "user code fails on {n}");
                    sum + n
                })
                .sink(CollectSink::new().0);
            Ok(())
        })
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("panicked: user code fails on 5000"), "{message}");
}

/// `split` moves every value to one of two streams (or drops it), keeping event times, and
/// both streams can be keyed and windowed downstream, at any worker count.
#[test]
fn split_routes_values_without_copying() {
    for workers in [1, 2] {
        let (evens, even_handle) = CollectSink::new();
        let (odds, odd_handle) = CollectSink::new();
        Job::new(JobConfig::with_workers(workers))
            .run(move |env| {
                let numbers = env.from_source(
                    CollectionSource::from_partitions(vec![(0..50u64).collect(), (50..100u64).collect()]),
                    WatermarkStrategy::monotonous_timestamps().with_timestamps(|n: &u64| *n),
                );
                let (even, odd) = numbers.split(|n| match n % 3 {
                    0 => Route::Left(n),
                    1 => Route::Right(format!("odd-{n}")),
                    _ => Route::Drop,
                });
                even.key_by(|n: &u64| n % 2).sum(|n: &u64| *n).sink(evens.clone());
                odd.sink(odds.clone());
                Ok(())
            })
            .unwrap();
        let mut totals = std::collections::BTreeMap::new();
        for (key, total) in even_handle.values() {
            totals.insert(key, total);
        }
        let expected_even: u64 = (0..100u64).filter(|n| n % 3 == 0 && n % 2 == 0).sum();
        let expected_odd: u64 = (0..100u64).filter(|n| n % 3 == 0 && n % 2 == 1).sum();
        assert_eq!(totals.get(&0), Some(&expected_even));
        assert_eq!(totals.get(&1), Some(&expected_odd));
        let mut routed: Vec<(String, u64)> = odd_handle.records();
        routed.sort();
        let mut expected: Vec<(String, u64)> =
            (0..100u64).filter(|n| n % 3 == 1).map(|n| (format!("odd-{n}"), n)).collect();
        expected.sort();
        assert_eq!(routed, expected, "values with their event times");
    }
}
