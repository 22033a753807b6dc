//! eddy's Kafka connector, on rdkafka (librdkafka).
//!
//! * [`KafkaSource`]: one split per partition, assigned to workers by eddy; offsets live in
//!   eddy's checkpoints; start from earliest, latest, a timestamp, the group's offsets or
//!   explicit offsets; bounded mode stops at the offsets that were the end at start. Records
//!   arrive as [`KafkaRecord`]s (topic, partition, offset, timestamp, key, headers, value);
//!   event time comes from the record's timestamp or a field, through the usual
//!   `WatermarkStrategy` (per-partition watermarks, idleness with `with_idleness`). Values that
//!   cannot be decoded fail the job or go to the `DEAD_LETTERS` side output.
//! * [`KafkaSink`]: at-least-once, or exactly-once with a write-ahead copy of each checkpoint
//!   interval's records and progress records in the same transaction (see [`sink`]).
//!
//! `scripts/kafka.sh start` starts a local broker (Tansu) for tests and examples.
//!
//! # Crate map
//!
//! * [`source`]: `KafkaSource`, `KafkaRecord`, `StartFrom`, `BadRecords`: partition discovery
//!   and assignment, positions in checkpoints, bounded mode, group offsets for monitoring.
//! * [`sink`]: `KafkaSink` (`Delivery::AtLeastOnce` or `ExactlyOnce`), the exactly-once
//!   argument in its module docs, and the readers tests use: `read_topic`,
//!   `committed_records`.
//! * [`tools`]: `create_topic`, `produce_lines`, `consume`, behind `eddy kafka
//!   produce|consume`.
//! * `lib.rs`: the error helper and the queue-full send loop both source and sink use.
//!
//! Unit tests run on librdkafka's mock cluster; `tests/broker.rs` needs the real broker.
//! This crate is optional everywhere: the facade's `kafka` feature (opt-in) and the `eddy`
//! binary's `kafka` feature bring it in, so jobs without Kafka never build librdkafka.

use eddy_core::error::{Error, Result};
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseProducer, BaseRecord};

pub mod sink;
pub mod source;
pub mod tools;

pub use sink::{committed_records, read_topic, Delivery, KafkaSink, ReadRecord};
pub use source::{BadRecords, KafkaRecord, KafkaSource, StartFrom};

/// A Kafka client error as an eddy I/O error, with what eddy was doing.
pub(crate) fn kafka_error(what: String, error: impl std::fmt::Display) -> Error {
    Error::io(what, std::io::Error::other(error.to_string()))
}

/// Sends `record`, waiting while the producer's local queue is full.
pub(crate) fn send<K: ToBytes + ?Sized, P: ToBytes + ?Sized>(
    producer: &BaseProducer,
    mut record: BaseRecord<'_, K, P>,
) -> Result<()> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((
                rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                back,
            )) => {
                record = back;
                producer.poll(std::time::Duration::from_millis(10));
            }
            Err((error, record)) => {
                return Err(kafka_error(format!("producing to Kafka topic `{}`", record.topic), error))
            }
        }
    }
}
