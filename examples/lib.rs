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

/// The sample inputs the examples read by default, compiled into the binaries so that they run
/// from anywhere (not only from the source tree they were built in).
pub mod bundled {
    use std::path::PathBuf;

    /// A bundled input: its file name and contents.
    pub type Input = (&'static str, &'static str);

    /// Clicks for `clickstream` (JSON lines).
    pub const CLICKS: Input = ("clicks.jsonl", include_str!("data/clicks.jsonl"));
    /// Card transactions for `fraud_detection` (CSV).
    pub const TRANSACTIONS: Input = ("transactions.csv", include_str!("data/transactions.csv"));
    /// Text for `wordcount`.
    pub const WORDS: Input = ("words.txt", include_str!("data/words.txt"));

    /// `--input` when given, else the bundled input, written to a file of its own in the
    /// temporary directory (the file sources read paths). The file is replaced atomically, so
    /// examples running at the same time never see it half written.
    pub fn input_or(input: Option<PathBuf>, (name, contents): Input) -> std::io::Result<PathBuf> {
        if let Some(input) = input {
            return Ok(input);
        }
        let directory = std::env::temp_dir().join("eddy-examples-data");
        std::fs::create_dir_all(&directory)?;
        let path = directory.join(name);
        if std::fs::read(&path).ok().as_deref() != Some(contents.as_bytes()) {
            let staged = directory.join(format!(".{name}.{}", std::process::id()));
            std::fs::write(&staged, contents)?;
            std::fs::rename(&staged, &path)?;
        }
        Ok(path)
    }
}
