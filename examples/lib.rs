//! What the example jobs share: the event both the checkpointed and the Kafka pipeline read,
//! and the window aggregate they both compute. Every example is one file beside this one
//! (`clickstream.rs`, `wordcount.rs`, `fraud_detection.rs`, `checkpointed_pipeline.rs`,
//! `kafka_pipeline.rs`), a binary of this package; jobs take the flags every job accepts,
//! `eddy::cli::RunArgs`.

use eddy::prelude::*;
use serde::{Deserialize, Serialize};

/// An input event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The key.
    pub key: String,
    /// Event time, epoch milliseconds.
    pub ts: u64,
    /// A value to sum.
    pub value: i64,
}

/// Count and sum of the events of a window.
pub struct CountSum;

impl AggregateFunction<Event> for CountSum {
    type Acc = (u64, i64);
    type Out = (u64, i64);
    fn create_accumulator(&self) -> (u64, i64) {
        (0, 0)
    }
    fn add(&self, accumulator: &mut (u64, i64), event: Event) {
        accumulator.0 += 1;
        accumulator.1 += event.value;
    }
    fn merge(&self, left: (u64, i64), right: (u64, i64)) -> (u64, i64) {
        (left.0 + right.0, left.1 + right.1)
    }
    fn get_result(&self, accumulator: &(u64, i64)) -> (u64, i64) {
        *accumulator
    }
}
