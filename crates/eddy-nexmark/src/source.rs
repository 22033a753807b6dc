//! [`NexmarkSource`], the generator as an eddy source, and [`nexmark_watermarks`].

use std::sync::Arc;

use eddy_connectors::Throttled;
use eddy_core::error::Result;
use eddy_core::source::{ReadStatus, Source, SplitContext, SplitOutput, SplitReader};
use eddy_core::watermark::WatermarkStrategy;

use crate::config::NexmarkConfig;
use crate::generator::NexmarkGenerator;
use crate::model::Event;

/// The official suite's watermark delay: its tables declare `WATERMARK FOR dateTime AS
/// dateTime - INTERVAL '4' SECOND`.
pub const DEFAULT_OUT_OF_ORDERNESS_MS: u64 = 4_000;

/// Nexmark events as an eddy source. The event ids are dealt round-robin to `splits` splits:
/// split `s` generates ids `s, s + splits, s + 2 * splits, ...` (below `total_events` when
/// set), in increasing order, with the event id as the record position. Split `s` is read by
/// worker `s % workers`.
///
/// What a split contains does not depend on the number of workers, and since every event is
/// computed from its id alone, all splits together produce exactly events `0..total_events`
/// whatever the number of splits. Within a split event times never decrease.
///
/// ```
/// use eddy_connectors::CollectSink;
/// use eddy_core::prelude::*;
/// use eddy_nexmark::{nexmark_watermarks, NexmarkConfig, NexmarkSource};
///
/// let (sink, handle) = CollectSink::new();
/// Job::new(JobConfig::with_workers(2))
///     .run(move |env| {
///         let source = NexmarkSource::new(NexmarkConfig::default(), Some(1_000), 4);
///         env.from_source(source, nexmark_watermarks()).sink(sink.clone());
///         Ok(())
///     })
///     .unwrap();
/// assert_eq!(handle.values().len(), 1_000);
/// ```
#[derive(Clone, Debug)]
pub struct NexmarkSource {
    generator: NexmarkGenerator,
    total_events: Option<u64>,
    splits: usize,
    max_rate: Option<u64>,
}

impl NexmarkSource {
    /// A source of events `0..total_events` (unbounded when `None`) over `splits` splits (at
    /// least 1).
    pub fn new(config: NexmarkConfig, total_events: Option<u64>, splits: usize) -> Self {
        NexmarkSource {
            generator: NexmarkGenerator::new(config),
            total_events,
            splits: splits.max(1),
            max_rate: None,
        }
    }

    /// Paces the source to `per_second` events per second of the job's clock in total (each
    /// split an equal share): an open-loop load for latency measurements. With the
    /// generator's `events_per_second` set to the same rate, event time follows the clock.
    pub fn with_max_rate(mut self, per_second: u64) -> Self {
        self.max_rate = Some(per_second.max(1));
        self
    }

    /// The generator the splits use.
    pub fn generator(&self) -> &NexmarkGenerator {
        &self.generator
    }

    /// The reader of split `split` (of [`splits`](Self::splits)), whichever worker asks.
    pub fn split_reader(&self, split: usize) -> Box<dyn SplitReader<Event>> {
        Box::new(NexmarkReader {
            id: format!("nexmark-{split}/{}", self.splits),
            generator: self.generator.clone(),
            next: Some(split as u64),
            step: self.splits as u64,
            end: self.total_events.unwrap_or(u64::MAX),
        })
    }

    /// The number of splits.
    pub fn splits(&self) -> usize {
        self.splits
    }
}

impl Source<Event> for NexmarkSource {
    fn name(&self) -> String {
        "nexmark".into()
    }

    fn splits(&self, context: &SplitContext) -> Result<Vec<Box<dyn SplitReader<Event>>>> {
        let share = self.max_rate.map(|rate| (rate / self.splits as u64).max(1));
        Ok((0..self.splits)
            .filter(|split| split % context.workers.max(1) == context.worker_index)
            .map(|split| match share {
                Some(rate) => {
                    Box::new(Throttled::new(self.split_reader(split), rate, Arc::clone(&context.clock)))
                }
                None => self.split_reader(split),
            })
            .collect())
    }
}

/// Reads one split of a [`NexmarkSource`].
struct NexmarkReader {
    id: String,
    generator: NexmarkGenerator,
    /// The next event id, `None` once past `u64::MAX`.
    next: Option<u64>,
    step: u64,
    /// One past the last event id (`u64::MAX` when unbounded).
    end: u64,
}

impl SplitReader<Event> for NexmarkReader {
    fn split_id(&self) -> &str {
        &self.id
    }

    fn read(&mut self, output: &mut SplitOutput<Event>, max_records: usize) -> Result<ReadStatus> {
        for _ in 0..max_records {
            let Some(n) = self.next.filter(|&n| n < self.end) else { break };
            output.push(n, self.generator.event(n));
            self.next = n.checked_add(self.step);
        }
        Ok(if self.next.is_some_and(|n| n < self.end) { ReadStatus::More } else { ReadStatus::Finished })
    }

    fn snapshot_position(&self) -> Result<Option<serde_json::Value>> {
        // `null` once past the last id.
        Ok(Some(self.next.map_or(serde_json::Value::Null, serde_json::Value::from)))
    }

    fn restore_position(&mut self, position: serde_json::Value) -> Result<()> {
        self.next = match position {
            serde_json::Value::Null => None,
            position => Some(position.as_u64().ok_or_else(|| {
                eddy_core::error::Error::Checkpoint(format!(
                    "split `{}`: bad checkpointed event id {position}",
                    self.id
                ))
            })?),
        };
        Ok(())
    }
}

/// The suite's watermark strategy: event time from `date_time`, watermarks
/// [`DEFAULT_OUT_OF_ORDERNESS_MS`] (4 s) behind the largest event time seen per split.
pub fn nexmark_watermarks() -> WatermarkStrategy<Event> {
    nexmark_watermarks_with_delay(DEFAULT_OUT_OF_ORDERNESS_MS)
}

/// Event time from `date_time`, watermarks `delay_ms` behind the largest event time seen per
/// split (eddy's frontier semantics: `max - delay_ms`; Flink's `max - delay_ms - 1`).
pub fn nexmark_watermarks_with_delay(delay_ms: u64) -> WatermarkStrategy<Event> {
    WatermarkStrategy::bounded_out_of_orderness(delay_ms).with_timestamps(Event::date_time)
}
