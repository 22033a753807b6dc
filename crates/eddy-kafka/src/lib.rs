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
