//! eddy: an event-time stream and batch processor on timely dataflow.
//!
//! This crate is the facade users depend on: it re-exports the runtime ([`core`]), the
//! built-in connectors ([`connectors`]) and the command-line flags jobs accept ([`cli`]), and
//! gathers the common names in [`prelude`].
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
//!
//! # Crate map
//!
//! | module | crate | what |
//! |---|---|---|
//! | [`core`] | `eddy-core` | the runtime: time model, `DataStream`, keyed state, timers, windows, checkpoints, `Job` |
//! | [`connectors`] | `eddy-connectors` | collections, generators, the collect sink, CSV and JSON-lines files |
//! | [`cli`] | `eddy-cli` (feature `cli`, default) | `RunArgs`: the worker, cluster and checkpoint flags every job flattens into its clap parser |
//! | [`objectstore`] | `eddy-objectstore` (feature `s3`) | checkpoints on S3: `--checkpoint-dir s3://bucket/prefix` |
//! | [`supervisor`] | `eddy-cli` (feature `cli`) | start, watch and restart the processes of a job on this machine (`eddy run`) |
//! | [`sql`] | `eddy-sql` (feature `sql`, default) | SQL and the Table API on differential dataflow: sessions, SQL jobs, `TableEnvironment` |
//! | `async_io` | `eddy-async` (feature `async-io`, opt-in) | async I/O: `AsyncDataStream::ordered_wait`/`unordered_wait` on a job-owned tokio runtime |
//! | [`cep`] | `eddy-cep` (feature `cep`, default) | complex event processing: Flink CEP's Pattern API, the NFA, the CEP operator |
//! | `kafka` | `eddy-kafka` (feature `kafka`, opt-in) | Kafka source and exactly-once sink; builds librdkafka |
//! | `postgres` | `eddy-postgres` (feature `postgres`, opt-in) | PostgreSQL CDC source, exactly-once upsert sink, Debezium JSON |
//! | [`prelude`] | | the names most programs need |
//!
//! The `eddy` command-line tool is the binary of the `eddy-cli` package.
//!
//! Architecture invariant: this crate holds no logic, only re-exports and the prelude.

/// Async I/O, Flink's `AsyncDataStream` (feature `async-io`, opt-in: it brings tokio).
#[cfg(feature = "async-io")]
pub use eddy_async as async_io;
/// Complex event processing (feature `cep`, on by default).
#[cfg(feature = "cep")]
pub use eddy_cep as cep;
pub use eddy_connectors as connectors;
pub use eddy_core as core;
pub use eddy_core::error::{Error, Result};
/// The Kafka connector (feature `kafka`, opt-in: it builds librdkafka).
#[cfg(feature = "kafka")]
pub use eddy_kafka as kafka;

/// Checkpoints on S3 (feature `s3`): `eddy::cli` registers it; a program that builds its
/// `JobConfig` itself calls `eddy::objectstore::register()`.
#[cfg(feature = "s3")]
pub use eddy_objectstore as objectstore;
/// The PostgreSQL connector (feature `postgres`, opt-in).
#[cfg(feature = "postgres")]
pub use eddy_postgres as postgres;
#[cfg(feature = "sql")]
pub use eddy_sql as sql;

/// Command-line flags every eddy job accepts (feature `cli`, on by default).
#[cfg(feature = "cli")]
pub use eddy_cli::args as cli;
/// The supervisor of multi-process jobs behind `eddy run` (feature `cli`).
#[cfg(feature = "cli")]
pub use eddy_cli::supervisor;

/// The README's code, compiled as a doctest so that the README stays true.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The tutorial's code, compiled and run as doctests so that every step stays runnable.
#[doc = include_str!("../../../docs/tutorial.md")]
#[cfg(doctest)]
pub struct TutorialDoctests;

/// The broadcast state page's code, compiled as doctests.
#[doc = include_str!("../../../docs/broadcast_state.md")]
#[cfg(doctest)]
pub struct BroadcastStateDoctests;

/// The async I/O page's code, compiled as doctests (feature `async-io`).
#[doc = include_str!("../../../docs/async_io.md")]
#[cfg(all(doctest, feature = "async-io"))]
pub struct AsyncIoDoctests;

/// The names most programs need: the runtime's prelude plus the built-in connectors.
pub mod prelude {
    pub use eddy_connectors::{
        BadRecords, CollectHandle, CollectSink, CollectionSource, FileFormat, FileSink, FileSource,
        GeneratorSource,
    };
    pub use eddy_core::prelude::*;
    pub use eddy_core::sink::PrintSink;
}
