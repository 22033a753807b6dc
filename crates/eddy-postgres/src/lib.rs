//! eddy's PostgreSQL connector.
//!
//! * [`PostgresSink`]: a keyed changelog ([`eddy_core::changelog::Change`]) upserted by
//!   primary key, or an append stream, into a table; at-least-once, or exactly-once with each
//!   checkpoint's rows and the writer's progress in one transaction (see [`sink`]).
//!
//! # Crate map
//!
//! * [`client`]: a small synchronous client on `postgres-protocol` (authentication, simple
//!   queries, the copy-both mode of replication connections).
//! * [`schema`]: a table's columns from the catalog, serde types traced with
//!   `serde-reflection`, the check that they fit, values as SQL literals.
//! * [`sink`]: `PostgresSink`, `Delivery`, the exactly-once argument in its module docs.
//!
//! Tests run against a real server: `scripts/postgres.sh start` starts a private cluster
//! (with `wal_level = logical`); `EDDY_TEST_PG=host:port` names one.

pub mod client;
pub mod schema;
pub mod sink;

pub use client::ConnectConfig;
pub use sink::{Delivery, PostgresSink, RowChange};
