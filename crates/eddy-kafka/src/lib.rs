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

pub mod sink;
pub mod source;
pub mod tools;

pub use sink::{committed_records, read_topic, Delivery, KafkaSink, ReadRecord};
pub use source::{BadRecords, KafkaRecord, KafkaSource, StartFrom};

type HashMapString = eddy_core::hash::HashMap<String, String>;
