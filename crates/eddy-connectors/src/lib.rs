//! eddy's built-in connectors: in-memory collections and generators (for tests and demos),
//! collect sinks, and files (CSV with or without a header, JSON lines).
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
