//! Watermark strategies and the per-split watermark tracker of sources (design.md section 3).
//!
//! # Event time
//! eddy's watermark has *frontier* semantics: a watermark `w` promises that no on-time record
//! with an event time below `w` will still arrive. Flink's watermark `W` ("no more elements
//! with timestamp <= W") is eddy's `W + 1`. Hence bounded out-of-orderness with delay `d` gives
//! `max_timestamp_seen - d` here (Flink: `max - d - 1`).
//!
//! Each source split (a file, a partition) has its own watermark, advanced deterministically
//! from its own records: every `emit_every` records (coarsening, so progress tracking is paid
//! per batch, not per record) and rounded down to `granularity`. A record is carried at the
//! watermark its split had *before* the record was seen, so whether it is late depends only on
//! the split's own record order, never on thread timing or on how splits are spread over
//! workers. Idleness is the one exception by nature: a split quiet for `idle_timeout` of the
//! injected clock advances its watermark to the clock's time so it stops holding others back.
//!
//! Event times must lie in [`EVENT_TIME_RANGE`](crate::record::EVENT_TIME_RANGE), `0..=i64::MAX` milliseconds. A record
//! whose extracted time is outside it is a bad record of its source: a [`DeadLetter`] when the
//! source sends bad records to dead letters, otherwise the job fails with
//! [`Error::BadRecord`](crate::error::Error::BadRecord) naming the value and the range.
//!
//! [`DeadLetter`]: crate::source::DeadLetter

use std::rc::Rc;

use crate::record::check_event_time;

/// Generates watermarks for one split from the records it sees.
pub trait WatermarkGenerator<T> {
    /// Observes a record and its event time.
    fn on_event(&mut self, value: &T, timestamp: u64);
    /// The current watermark (frontier semantics: no more records below it are expected).
    fn current_watermark(&self) -> u64;
    /// The generator's state for a checkpoint; `None` (the default) restores a fresh
    /// generator, whose watermark then cannot fall below the restored split watermark but may
    /// advance differently than in a run without failure.
    fn snapshot_state(&self) -> Option<serde_json::Value> {
        None
    }
    /// Restores state written by [`snapshot_state`](Self::snapshot_state).
    fn restore_state(&mut self, _state: serde_json::Value) {}
}

/// Watermarks trail the largest timestamp seen by a fixed delay.
#[derive(Clone, Debug)]
pub struct BoundedOutOfOrderness {
    max_timestamp: Option<u64>,
    delay_ms: u64,
}

impl BoundedOutOfOrderness {
    /// A generator whose watermark is `max_timestamp_seen - delay_ms`.
    pub fn new(delay_ms: u64) -> Self {
        BoundedOutOfOrderness { max_timestamp: None, delay_ms }
    }
}

impl<T> WatermarkGenerator<T> for BoundedOutOfOrderness {
    fn on_event(&mut self, _value: &T, timestamp: u64) {
        self.max_timestamp = Some(self.max_timestamp.map_or(timestamp, |max| max.max(timestamp)));
    }
    fn current_watermark(&self) -> u64 {
        self.max_timestamp.map_or(0, |max| max.saturating_sub(self.delay_ms))
    }
    fn snapshot_state(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({ "max_timestamp": self.max_timestamp }))
    }
    fn restore_state(&mut self, state: serde_json::Value) {
        self.max_timestamp = state.get("max_timestamp").and_then(serde_json::Value::as_u64);
    }
}

/// How records of a source get their event time.
#[derive(Clone)]
enum Timestamps<T> {
    /// Extracted from the record by a user function.
    Extract(Rc<dyn Fn(&T) -> u64>),
    /// The ingestion time, read from the injected clock.
    Ingestion,
}

#[derive(Clone)]
enum Generators<T> {
    BoundedOutOfOrderness(u64),
    Custom(Rc<dyn Fn() -> Box<dyn WatermarkGenerator<T>>>),
    /// Watermarks follow the ingestion clock.
    Ingestion,
}

/// How a source assigns event times and generates watermarks, per split.
///
/// ```
/// use eddy_core::watermark::WatermarkStrategy;
/// #[derive(Clone)]
/// struct Click { ts: u64 }
/// let strategy = WatermarkStrategy::<Click>::bounded_out_of_orderness(5_000)
///     .with_timestamps(|click| click.ts)
///     .with_idleness(60_000)
///     .with_emit_every(256);
/// # let _ = strategy;
/// ```
#[derive(Clone)]
pub struct WatermarkStrategy<T> {
    generators: Generators<T>,
    timestamps: Timestamps<T>,
    pub(crate) idle_timeout_ms: Option<u64>,
    pub(crate) emit_every: u64,
    pub(crate) granularity_ms: u64,
    pub(crate) alignment: Option<(String, u64)>,
}

impl<T: 'static> WatermarkStrategy<T> {
    fn with_generators(generators: Generators<T>, timestamps: Timestamps<T>) -> Self {
        WatermarkStrategy {
            generators,
            timestamps,
            idle_timeout_ms: None,
            emit_every: 1024,
            granularity_ms: 1,
            alignment: None,
        }
    }

    /// Watermarks trail the largest event time seen by `delay_ms`. Timestamps default to 0
    /// until [`with_timestamps`](Self::with_timestamps) sets an extractor.
    pub fn bounded_out_of_orderness(delay_ms: u64) -> Self {
        Self::with_generators(
            Generators::BoundedOutOfOrderness(delay_ms),
            Timestamps::Extract(Rc::new(|_| 0)),
        )
    }

    /// Timestamps never decrease within a split: the watermark is the largest timestamp seen.
    pub fn monotonous_timestamps() -> Self {
        Self::bounded_out_of_orderness(0)
    }

    /// A user watermark generator, created once per split.
    pub fn custom(factory: impl Fn() -> Box<dyn WatermarkGenerator<T>> + 'static) -> Self {
        Self::with_generators(Generators::Custom(Rc::new(factory)), Timestamps::Extract(Rc::new(|_| 0)))
    }

    /// No event time in the data: every record gets the ingestion time of the injected clock as
    /// its timestamp, and watermarks follow that clock (processing-time ingestion). Records are
    /// never late.
    pub fn ingestion_time() -> Self {
        Self::with_generators(Generators::Ingestion, Timestamps::Ingestion)
    }

    /// Takes each record's event time (milliseconds) from the record.
    ///
    /// # Event time
    /// Times must lie in [`EVENT_TIME_RANGE`](crate::record::EVENT_TIME_RANGE). The source rejects a record outside it as a
    /// bad record (see the [module docs](self)) rather than let windows and timers compute
    /// with it.
    pub fn with_timestamps(mut self, extract: impl Fn(&T) -> u64 + 'static) -> Self {
        if !matches!(self.generators, Generators::Ingestion) {
            self.timestamps = Timestamps::Extract(Rc::new(extract));
        }
        self
    }

    /// A split with no records for `timeout_ms` of the injected clock stops holding the
    /// watermark back: its watermark advances to the clock's time.
    pub fn with_idleness(mut self, timeout_ms: u64) -> Self {
        self.idle_timeout_ms = Some(timeout_ms);
        self
    }

    /// Advance a split's watermark once every `records` records (at least 1). Larger values mean
    /// fewer distinct logical times and cheaper progress tracking, at the cost of latency.
    pub fn with_emit_every(mut self, records: u64) -> Self {
        self.emit_every = records.max(1);
        self
    }

    /// Round watermarks down to a multiple of `granularity_ms` (at least 1).
    pub fn with_granularity(mut self, granularity_ms: u64) -> Self {
        self.granularity_ms = granularity_ms.max(1);
        self
    }

    /// Aligns this source with the other sources of `group` (on all workers of the process):
    /// a source instance whose watermark runs more than `max_drift_ms` ahead of the group's
    /// slowest member stops reading until the others catch up (Flink's watermark alignment).
    /// This bounds how much a fast source can buffer in keyed operators waiting for a slow one.
    /// The slowest member never pauses, so alignment cannot stall the job.
    pub fn with_watermark_alignment(mut self, group: impl Into<String>, max_drift_ms: u64) -> Self {
        self.alignment = Some((group.into(), max_drift_ms));
        self
    }

    /// The event time of `value`, read at processing time `now_ms`: `Err` with the reason
    /// when it is outside [`EVENT_TIME_RANGE`](crate::record::EVENT_TIME_RANGE).
    #[inline]
    pub(crate) fn event_time(&self, value: &T, now_ms: u64) -> Result<u64, String> {
        check_event_time(match &self.timestamps {
            Timestamps::Extract(extract) => extract(value),
            Timestamps::Ingestion => now_ms,
        })
    }

    pub(crate) fn is_ingestion_time(&self) -> bool {
        matches!(self.generators, Generators::Ingestion)
    }

    pub(crate) fn new_split_watermarks(&self) -> SplitWatermarks<T> {
        let generator: Box<dyn WatermarkGenerator<T>> = match &self.generators {
            Generators::BoundedOutOfOrderness(delay) => Box::new(BoundedOutOfOrderness::new(*delay)),
            Generators::Custom(factory) => factory(),
            Generators::Ingestion => Box::new(BoundedOutOfOrderness::new(0)),
        };
        SplitWatermarks {
            generator,
            watermark: 0,
            since_emit: 0,
            emit_every: self.emit_every,
            granularity_ms: self.granularity_ms,
            idle_timeout_ms: self.idle_timeout_ms,
            last_record_at: None,
        }
    }
}

/// A split's watermark state in a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SplitWatermarkState {
    pub(crate) watermark: u64,
    pub(crate) since_emit: u64,
    #[serde(default)]
    pub(crate) generator: Option<serde_json::Value>,
}

/// The watermark of one source split.
pub(crate) struct SplitWatermarks<T> {
    generator: Box<dyn WatermarkGenerator<T>>,
    /// The split's current watermark: the logical time at which its next record is carried.
    watermark: u64,
    since_emit: u64,
    emit_every: u64,
    granularity_ms: u64,
    idle_timeout_ms: Option<u64>,
    last_record_at: Option<u64>,
}

impl<T> SplitWatermarks<T> {
    /// The split's current watermark.
    pub(crate) fn watermark(&self) -> u64 {
        self.watermark
    }

    /// Observes a record with event time `timestamp` read at processing time `now_ms`, and
    /// returns the logical time that carries it: the watermark from before the record.
    pub(crate) fn on_record(&mut self, value: &T, timestamp: u64, now_ms: u64) -> u64 {
        let carried_at = self.watermark;
        self.generator.on_event(value, timestamp);
        self.last_record_at = Some(now_ms);
        self.since_emit += 1;
        if self.since_emit >= self.emit_every {
            self.since_emit = 0;
            self.advance_to(self.generator.current_watermark());
        }
        carried_at
    }

    /// Advances the watermark from the clock when the split has been idle long enough, or
    /// unconditionally for processing-time ingestion (`follow_clock`).
    pub(crate) fn on_tick(&mut self, now_ms: u64, follow_clock: bool) {
        if follow_clock {
            self.advance_to(now_ms);
            return;
        }
        if let Some(timeout) = self.idle_timeout_ms {
            let quiet_since = *self.last_record_at.get_or_insert(now_ms);
            if now_ms.saturating_sub(quiet_since) >= timeout {
                // Flush what the generator knows, then let the clock carry the split along.
                self.advance_to(self.generator.current_watermark().max(now_ms));
            }
        }
    }

    /// Records until the watermark may next advance on a record: a source with checkpoints
    /// reads at most this many, so its watermark changes only between reads.
    pub(crate) fn records_until_emit(&self) -> usize {
        self.emit_every.saturating_sub(self.since_emit).max(1) as usize
    }

    /// The split's watermark state for a checkpoint.
    pub(crate) fn snapshot(&self) -> SplitWatermarkState {
        SplitWatermarkState {
            watermark: self.watermark,
            since_emit: self.since_emit,
            generator: self.generator.snapshot_state(),
        }
    }

    /// Restores the state written by [`snapshot`](Self::snapshot).
    pub(crate) fn restore(&mut self, state: SplitWatermarkState) {
        self.watermark = state.watermark;
        self.since_emit = state.since_emit;
        if let Some(generator) = state.generator {
            self.generator.restore_state(generator);
        }
    }

    /// Starts a split found while the job runs at `watermark` (the source's current time), so
    /// that its records are never carried below times the source has already passed.
    pub(crate) fn start_at(&mut self, watermark: u64) {
        self.watermark = self.watermark.max(watermark);
    }

    /// When the idle check next needs to run, in clock time.
    pub(crate) fn next_idle_check(&self) -> Option<u64> {
        Some(self.last_record_at? + self.idle_timeout_ms?)
    }

    fn advance_to(&mut self, candidate: u64) {
        let rounded = candidate - candidate % self.granularity_ms;
        self.watermark = self.watermark.max(rounded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(strategy: &WatermarkStrategy<u64>) -> SplitWatermarks<u64> {
        strategy.new_split_watermarks()
    }

    #[test]
    fn bounded_out_of_orderness_trails_max() {
        let strategy = WatermarkStrategy::<u64>::bounded_out_of_orderness(10).with_emit_every(1);
        let mut split = split(&strategy);
        assert_eq!(split.on_record(&0, 100, 0), 0);
        assert_eq!(split.watermark(), 90);
        // Carried at the watermark from before the record.
        assert_eq!(split.on_record(&0, 95, 0), 90);
        assert_eq!(split.watermark(), 90);
        assert_eq!(split.on_record(&0, 85, 0), 90); // late: 85 < 90
        assert_eq!(split.on_record(&0, 120, 0), 90);
        assert_eq!(split.watermark(), 110);
    }

    #[test]
    fn monotonous_equals_max_seen() {
        let strategy = WatermarkStrategy::<u64>::monotonous_timestamps().with_emit_every(1);
        let mut split = split(&strategy);
        split.on_record(&0, 7, 0);
        // Flink's W = 6 means "nothing <= 6 more"; eddy's frontier 7 means "nothing < 7 more".
        assert_eq!(split.watermark(), 7);
        assert_eq!(split.on_record(&0, 7, 0), 7); // equal timestamp is on time
    }

    #[test]
    fn coarsening_and_granularity() {
        let strategy =
            WatermarkStrategy::<u64>::bounded_out_of_orderness(0).with_emit_every(3).with_granularity(10);
        let mut split = split(&strategy);
        split.on_record(&0, 15, 0);
        split.on_record(&0, 27, 0);
        assert_eq!(split.watermark(), 0, "no update before 3 records");
        split.on_record(&0, 33, 0);
        assert_eq!(split.watermark(), 30);
    }

    #[test]
    fn idleness_follows_clock() {
        let strategy =
            WatermarkStrategy::<u64>::bounded_out_of_orderness(0).with_emit_every(1).with_idleness(100);
        let mut split = split(&strategy);
        split.on_record(&0, 50, 1_000);
        split.on_tick(1_050, false);
        assert_eq!(split.watermark(), 50, "not idle yet");
        assert_eq!(split.next_idle_check(), Some(1_100));
        split.on_tick(1_100, false);
        assert_eq!(split.watermark(), 1_100, "idle: advanced to the clock");
        // Never moves back, and a record after idleness is judged against the advanced watermark.
        assert_eq!(split.on_record(&0, 60, 1_200), 1_100);
        assert_eq!(split.watermark(), 1_100);
    }

    #[test]
    fn custom_generator() {
        struct EveryTen;
        impl WatermarkGenerator<u64> for EveryTen {
            fn on_event(&mut self, _: &u64, _: u64) {}
            fn current_watermark(&self) -> u64 {
                10
            }
        }
        let strategy = WatermarkStrategy::<u64>::custom(|| Box::new(EveryTen)).with_emit_every(1);
        let mut split = split(&strategy);
        split.on_record(&0, 3, 0);
        assert_eq!(split.watermark(), 10);
    }

    #[test]
    fn event_times_outside_the_range_are_rejected() {
        let strategy = WatermarkStrategy::<u64>::monotonous_timestamps().with_timestamps(|value| *value);
        let limit = crate::record::MAX_EVENT_TIME;
        assert_eq!(strategy.event_time(&0, 0), Ok(0));
        assert_eq!(strategy.event_time(&limit, 0), Ok(limit));
        let reason = strategy.event_time(&(limit + 1), 0).unwrap_err();
        assert_eq!(
            reason,
            "event time 9223372036854775808 is outside the supported range 0..=9223372036854775807 (milliseconds)"
        );
        // Ingestion time is checked the same way.
        let ingestion = WatermarkStrategy::<u64>::ingestion_time();
        assert_eq!(ingestion.event_time(&5, 7), Ok(7));
        assert!(ingestion.event_time(&5, u64::MAX).is_err());
    }

    proptest! {
        /// Watermarks never decrease, never exceed `max - delay`, and lateness only depends on the
        /// split's own order.
        #[test]
        fn watermark_is_monotone_and_bounded(
            timestamps in proptest::collection::vec(0u64..10_000, 1..200),
            delay in 0u64..500,
            every in 1u64..20,
        ) {
            let strategy = WatermarkStrategy::<u64>::bounded_out_of_orderness(delay).with_emit_every(every);
            let mut split = split(&strategy);
            let mut previous = 0;
            let mut max = 0;
            for &ts in &timestamps {
                let carried = split.on_record(&0, ts, 0);
                max = max.max(ts);
                prop_assert!(carried >= previous);
                prop_assert!(split.watermark() >= carried);
                prop_assert!(split.watermark() <= max.saturating_sub(delay));
                previous = split.watermark();
            }
        }
    }
}
