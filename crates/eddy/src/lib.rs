//! eddy: an event-time stream and batch processor on timely dataflow.
//!
//! This crate is the facade users depend on: it re-exports the runtime ([`core`]) and the
//! built-in connectors ([`connectors`]), and gathers the common names in [`prelude`].
//!
//! ```no_run
//! use eddy::prelude::*;
//!
//! fn main() -> eddy::Result<()> {
//!     let job = Job::new(JobConfig::with_workers(2));
//!     job.run(|env| {
//!         env.from_source(CollectionSource::new(vec![(1u32, 1u64), (2, 2), (1, 3)]),
//!                         WatermarkStrategy::monotonous_timestamps().with_timestamps(|&(_, ts)| ts))
//!             .key_by(|&(key, _)| key)
//!             .sum(|&(_, value)| value)
//!             .print();
//!         Ok(())
//!     })?;
//!     Ok(())
//! }
//! ```

pub use eddy_connectors as connectors;
pub use eddy_core as core;
pub use eddy_core::error::{Error, Result};
/// The Kafka connector (feature `kafka`, on by default).
#[cfg(feature = "kafka")]
pub use eddy_kafka as kafka;

pub mod cli;
pub mod supervisor;

/// The README's code, compiled as a doctest so that the README stays true.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The tutorial's code, compiled and run as doctests so that every step stays runnable.
#[doc = include_str!("../../../docs/tutorial.md")]
#[cfg(doctest)]
pub struct TutorialDoctests;

/// The names most programs need: the runtime's prelude plus the built-in connectors.
pub mod prelude {
    pub use eddy_connectors::{
        BadRecords, CollectHandle, CollectSink, CollectionSource, FileFormat, FileSink, FileSource,
        GeneratorSource,
    };
    pub use eddy_core::prelude::*;
    pub use eddy_core::sink::PrintSink;
}
