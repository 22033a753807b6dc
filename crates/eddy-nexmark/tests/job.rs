//! The Nexmark source in eddy jobs: counts per event type, and the same events at any number of
//! splits and workers.

use eddy::prelude::*;
use eddy_nexmark::{nexmark_watermarks, Event, NexmarkConfig, NexmarkGenerator, NexmarkSource};

fn run(total: u64, splits: usize, workers: usize) -> Vec<(Event, u64)> {
    let (sink, handle) = CollectSink::new();
    Job::new(JobConfig::with_workers(workers))
        .run(move |env| {
            let source = NexmarkSource::new(NexmarkConfig::default(), Some(total), splits);
            env.from_source(source, nexmark_watermarks()).sink(sink.clone());
            Ok(())
        })
        .unwrap();
    handle.records()
}

/// Events sorted by (event time, JSON) to compare multisets.
fn sorted(records: Vec<(Event, u64)>) -> Vec<(u64, String)> {
    let mut keyed: Vec<(u64, String)> =
        records.into_iter().map(|(event, ts)| (ts, serde_json::to_string(&event).unwrap())).collect();
    keyed.sort();
    keyed
}

#[test]
fn bounded_job_counts_per_type() {
    let records = run(10_000, 4, 2);
    assert_eq!(records.len(), 10_000);
    let persons = records.iter().filter(|(e, _)| matches!(e, Event::Person(_))).count();
    let auctions = records.iter().filter(|(e, _)| matches!(e, Event::Auction(_))).count();
    let bids = records.iter().filter(|(e, _)| matches!(e, Event::Bid(_))).count();
    assert_eq!((persons, auctions, bids), (200, 600, 9_200));
    assert!(records.iter().all(|(event, ts)| event.date_time() == *ts), "event time is date_time");
}

#[test]
fn same_events_at_any_split_and_worker_count() {
    let generator = NexmarkGenerator::new(NexmarkConfig::default());
    let total = 4_000;
    let expected =
        sorted((0..total).map(|n| generator.event(n)).map(|e| (e.clone(), e.date_time())).collect());
    for (splits, workers) in [(1, 1), (2, 2), (4, 2), (4, 1)] {
        assert_eq!(sorted(run(total, splits, workers)), expected, "{splits} splits, {workers} workers");
    }
}
