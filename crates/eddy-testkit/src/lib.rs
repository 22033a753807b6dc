//! What eddy's tests share, so that no test file carries its own copy: readers of the file
//! sink's committed output, the pieces of random out-of-order input for oracle tests, the
//! logs the supervisor writes, the local Kafka broker and the S3 server.
//!
//! # Crate map
//!
//! * [`output`]: committed output of the two-phase-commit file sink (files whose names do not
//!   start with a dot), counted or sorted, and the exactly-once comparison.
//! * [`oracle`]: random input for oracle tests (unique timestamps split over partitions, then
//!   put out of order locally, sometimes far) and the logical time a source gives each record
//!   (its split's watermark before the record), for single-threaded reference computations.
//! * [`crash`]: `kill -9` of a child job at pseudo-random moments, and restarting it until it
//!   finishes.
//! * [`failure`]: a panic injected after so many records into an in-process job, and the
//!   fail-then-restore loop of restore tests.
//! * [`logs`]: the per-process logs of a supervised job.
//! * [`kafka`]: the address of the test broker (started by `scripts/kafka.sh` unless
//!   `EDDY_KAFKA_BROKERS` names one) and unique topic names.
//! * [`s3`]: the S3 API server (moto, started by `scripts/moto.sh` unless `EDDY_TEST_S3` names
//!   one), a second one refusing every credential, new buckets, and the `AWS_*` environment.
//!
//! Architecture invariant: this crate is dev-only: it is a `[dev-dependencies]` entry
//! everywhere, never a normal dependency, and it is never published. It depends on nothing of
//! eddy's but `eddy-core` (its clock, and jobs for [`failure`]).

pub mod crash;
pub mod failure;
pub mod kafka;
pub mod logs;
pub mod oracle;
pub mod output;
pub mod s3;
