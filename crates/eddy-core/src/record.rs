//! The record as it travels between operators: a value with its event time and an origin tag.
//!
//! # Event time
//! Every record carries its own event time (`timestamp`), independent of the timely time of
//! the message that carries it. The message time is the watermark of the emitting source
//! (design.md section 3.1); a record is *late* exactly when its timestamp is below the time of
//! its message.
//!
//! The `tag` is a deterministic 64-bit identity derived from where the record came from (its
//! source split and position, or the record and output index that produced it; `union`
//! mixes in the input's index). Keyed operators sort the records of one logical time by
//! (key hash, timestamp, input, tag) before applying them, so that state evolves identically
//! at every worker count.
//!
//! Event times are milliseconds in [`EVENT_TIME_RANGE`], `0..=i64::MAX` (Flink's
//! `Long.MAX_VALUE` is its largest timestamp too). Sources reject records outside it (see
//! [`WatermarkStrategy::with_timestamps`](crate::watermark::WatermarkStrategy::with_timestamps)),
//! so every event time, and every window bound derived from one, fits signed 64-bit arithmetic.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

/// The bounds of any value that flows through a dataflow: cloneable, sendable between worker
/// threads and serializable between processes.
pub trait Data: Clone + Send + Serialize + for<'de> Deserialize<'de> + 'static {}
impl<T: Clone + Send + Serialize + for<'de> Deserialize<'de> + 'static> Data for T {}

/// The bounds of a key: data that can be hashed and compared.
pub trait Key: Data + std::hash::Hash + Eq {}
impl<K: Data + std::hash::Hash + Eq> Key for K {}

/// The largest supported event time: `i64::MAX` milliseconds, the end of event time.
/// [`Window::global`](crate::window::Window::global) and windows cut at the end of event time
/// have it as their max timestamp.
pub const MAX_EVENT_TIME: u64 = i64::MAX as u64;

/// The supported event times, in milliseconds: `0..=`[`MAX_EVENT_TIME`].
pub const EVENT_TIME_RANGE: RangeInclusive<u64> = 0..=MAX_EVENT_TIME;

/// `Ok(timestamp)` for a supported event time, else the reason, naming the value and the range.
#[inline]
pub(crate) fn check_event_time(timestamp: u64) -> Result<u64, String> {
    if EVENT_TIME_RANGE.contains(&timestamp) {
        Ok(timestamp)
    } else {
        Err(format!(
            "event time {timestamp} is outside the supported range {}..={} (milliseconds)",
            EVENT_TIME_RANGE.start(),
            EVENT_TIME_RANGE.end()
        ))
    }
}

/// A value with its event time and origin tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record<T> {
    /// Event time in milliseconds, within [`EVENT_TIME_RANGE`] for records from sources.
    pub timestamp: u64,
    /// Deterministic identity of the record's origin (see the module docs).
    pub tag: u64,
    /// The value.
    pub value: T,
}

impl<T> Record<T> {
    /// A record with the given timestamp, tag and value.
    #[inline]
    pub fn new(timestamp: u64, tag: u64, value: T) -> Self {
        Record { timestamp, tag, value }
    }
}
