//! Connectors for SQL tables: the `WITH` options of `CREATE TABLE` ([`options`]) and the
//! conversion of rows to and from the formats of files and messages ([`format`]). The sources
//! and sinks themselves are eddy's connectors (`eddy-connectors`, `eddy-kafka`, the Nexmark
//! generator); this module only maps a table onto them.
//!
//! Kafka tables (`connect::kafka`) come with eddy-sql's `kafka` feature, which builds librdkafka; the
//! options of every connector, Kafka's among them, are listed in [`options`].

pub mod datagen;
pub mod format;
#[cfg(feature = "kafka")]
pub mod kafka;
mod nexmark;
pub mod options;
pub mod sink;
pub mod source;
pub mod table;
mod timed;
