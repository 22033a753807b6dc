//! eddy's built-in connectors: in-memory collections and generators (for tests and demos),
//! collect sinks, and files (CSV with or without a header, JSON lines).
//!
//! # Crate map
//!
//! * [`memory`]: `CollectionSource` (one split, or one per partition), `GeneratorSource`
//!   (record `n` of split `s` is `generate(s, n)`, bounded or not), `CollectSink` /
//!   `CollectHandle` (values with their event and logical times, for tests). Both sources
//!   resume from checkpoints at a record index.
//! * [`file`]: `FileSource` (CSV or JSON lines from a file or a directory, bad records failing
//!   the job or going to dead letters, resuming at a byte offset) and `FileSink` (part files
//!   committed by rename; with checkpoints, two-phase commit through `.inprogress` and
//!   `.pending` files: names starting with a dot are never committed output).
//! * [`throttle`]: `Throttled`, a rate limit around any split reader, on the job's clock.
//!
//! Kafka is its own crate, `eddy-kafka`.
//!
//! Architecture invariant: connectors only implement `eddy_core::source::Source` and
//! `eddy_core::sink::Sink`; the runtime knows nothing of any connector. Heavy connectors
//! (Kafka) live behind cargo features so the core builds fast.

pub mod file;
pub mod memory;
pub mod throttle;

pub use file::{BadRecords, FileFormat, FileSink, FileSource};
pub use memory::{CollectHandle, CollectSink, CollectionSource, GeneratorSource};
pub use throttle::Throttled;
