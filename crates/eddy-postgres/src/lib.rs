//! eddy's PostgreSQL connector.
//!
//! * [`PostgresSink`]: a keyed changelog ([`eddy_core::changelog::Change`]) upserted by
//!   primary key, or an append stream, into a table; at-least-once, or exactly-once with each
//!   checkpoint's rows and the writer's progress in one transaction (see [`sink`]).
//! * [`PostgresCdcSource`]: tables as a changelog of [`CdcEvent`]s: an initial snapshot at a
//!   replication slot's consistent point, then logical replication (`pgoutput`), with the LSN
//!   in eddy's checkpoints and acknowledged to the server only once a checkpoint completes
//!   (see [`cdc`]).
//!
//! * [`debezium::decode_debezium`]: Debezium JSON change events (for instance from a Kafka
//!   topic read with `eddy_kafka::KafkaSource::bytes`) into the same [`CdcEvent`]s.
//!
//! # Crate map
//!
//! * [`client`]: a small synchronous client on `postgres-protocol` (authentication, simple
//!   queries, the copy-both mode of replication connections).
//! * [`schema`]: a table's columns from the catalog, serde types traced with
//!   `serde-reflection`, the check that they fit, values as SQL literals.
//! * [`sink`]: `PostgresSink`, `Delivery`, the exactly-once argument in its module docs.
//! * [`cdc`]: `PostgresCdcSource`: slot, snapshot, streaming, positions.
//! * [`event`]: `CdcEvent`, `Op`, and `CdcEvent::into_changes` into an upsert changelog.
//! * [`pgoutput`]: the replication stream's messages, decoded without I/O.
//! * [`debezium`]: Debezium's JSON envelope, tombstones and logical types.
//! * [`value`]: column values from text into JSON ([`Row`]), the type table.
//!
//! Tests run against a real server: `scripts/postgres.sh start` starts a private cluster
//! (with `wal_level = logical`); `EDDY_TEST_PG=host:port` names one.

pub mod cdc;
pub mod client;
pub mod debezium;
pub mod event;
pub mod pgoutput;
pub mod schema;
pub mod sink;
pub mod value;

pub use cdc::{stop_prefix, CdcEvent, Op, PostgresCdcSource};
pub use client::ConnectConfig;
pub use sink::{Delivery, PostgresSink, RowChange};
pub use value::Row;
