//! The Kafka sink, at-least-once or exactly-once.
//!
//! # Exactly-once: a write-ahead copy and progress records
//! Each worker keeps the records it receives between two checkpoints in memory. When the
//! checkpoint reaches the sink ([`SinkWriter::prepare_commit`]), the writer hands them over as
//! one *committable* with a unique id (`<run>-w<worker>-<n>`): the records are then in the
//! checkpoint itself (the write-ahead copy). Only once the checkpoint's manifest is durable does
//! the committer produce them, in one Kafka transaction together with a *progress record*
//! (key: the committable id) in the progress topic `<topic>.eddy-progress`.
//!
//! Why this is exactly-once:
//! * Nothing reaches Kafka before the checkpoint that holds it is complete, so a restore never
//!   re-produces output of a checkpoint that is not complete (it was never produced).
//! * A crash between the manifest and the commit (the hard case) loses nothing: the restored
//!   checkpoint holds the records, and [`Committer::recover`] commits them.
//! * Commits are idempotent: before producing a committable, the committer checks the progress
//!   topic (read with `read_committed`) for its id, and a transaction holds both the records and
//!   the progress record, so either both are visible or neither.
//! * A transaction left open by a crashed attempt is aborted (fenced) when the next attempt's
//!   producer with the same `transactional.id` initializes.
//!
//! Transactions stay open only while a commit produces (not for a whole checkpoint interval),
//! so `transaction.timeout.ms` need only exceed the time to produce one interval's output; it
//! is checked against the broker's limit by the broker when the producer initializes.
//!
//! Every record carries the headers `eddy-commit` (the committable id) and `eddy-attempt` (an
//! id of the transaction that produced it), and the progress record names the attempt that
//! wrote it, so a reader can check exactly-once even on a broker that shows records of aborted
//! transactions to `read_committed` readers (see [`committed_records`]).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use eddy_core::error::{Error, Result};
use eddy_core::hash::HashSet;
use eddy_core::sink::{Committable, Committer, Sink, SinkContext, SinkWriter};
use eddy_core::time::{Clock, SystemClock};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use crate::{kafka_error, send};

const TIMEOUT: Duration = Duration::from_secs(30);

/// How the sink delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Produce as records arrive; after a failure, records since the last checkpoint are
    /// produced again.
    AtLeastOnce,
    /// Produce each checkpoint interval's records in one transaction once the checkpoint is
    /// complete (see the module docs). Needs checkpoints.
    ExactlyOnce,
}

type Encode<T> = Arc<dyn Fn(&T) -> (Option<Vec<u8>>, Vec<u8>) + Send + Sync>;

/// Writes records to a topic.
pub struct KafkaSink<T> {
    brokers: String,
    topic: String,
    delivery: Delivery,
    transactional_id: String,
    encode: Encode<T>,
    committer: Arc<KafkaCommitter>,
}

impl<T: Serialize> KafkaSink<T> {
    /// Values as JSON, without keys.
    pub fn json(brokers: &str, topic: &str, delivery: Delivery) -> Self {
        KafkaSink::with_encoder(brokers, topic, delivery, |value: &T| {
            (None, serde_json::to_vec(value).unwrap_or_default())
        })
    }
}

impl<T> KafkaSink<T> {
    /// Records encoded by `encode` into (key, value).
    pub fn with_encoder(
        brokers: &str,
        topic: &str,
        delivery: Delivery,
        encode: impl Fn(&T) -> (Option<Vec<u8>>, Vec<u8>) + Send + Sync + 'static,
    ) -> Self {
        let transactional_id = format!("eddy-{topic}");
        KafkaSink {
            brokers: brokers.to_owned(),
            topic: topic.to_owned(),
            delivery,
            committer: Arc::new(KafkaCommitter::new(brokers, topic, &transactional_id)),
            transactional_id,
            encode: Arc::new(encode),
        }
    }

    /// The prefix of the transactional ids (default `eddy-<topic>`); each process appends its
    /// own suffix. Two jobs writing the same topic need different prefixes.
    pub fn transactional_id(mut self, prefix: &str) -> Self {
        self.transactional_id = prefix.to_owned();
        self.committer = Arc::new(KafkaCommitter::new(&self.brokers, &self.topic, prefix));
        self
    }
}

fn producer(brokers: &str, transactional_id: Option<&str>) -> Result<BaseProducer> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers).set("enable.idempotence", "true");
    if let Some(id) = transactional_id {
        config.set("transactional.id", id).set("transaction.timeout.ms", "60000");
    }
    config.create().map_err(|error| Error::Config(format!("Kafka producer for {brokers}: {error}")))
}

/// Produces one record, waiting while the local queue is full.
fn produce(
    producer: &BaseProducer,
    topic: &str,
    key: Option<&[u8]>,
    value: &[u8],
    headers: OwnedHeaders,
) -> Result<()> {
    let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).payload(value).headers(headers);
    if let Some(key) = key {
        record = record.key(key);
    }
    send(producer, record)
}

impl<T: 'static> Sink<T> for KafkaSink<T> {
    fn name(&self) -> String {
        format!("kafka:{}", self.topic)
    }

    fn writer(&self, context: &SinkContext) -> Result<Box<dyn SinkWriter<T>>> {
        match (self.delivery, &context.run_id) {
            (Delivery::AtLeastOnce, _) => Ok(Box::new(AtLeastOnceWriter {
                producer: producer(&self.brokers, None)?,
                topic: self.topic.clone(),
                encode: Arc::clone(&self.encode),
            })),
            (Delivery::ExactlyOnce, Some(run)) => Ok(Box::new(ExactlyOnceWriter {
                id: format!("{run}-w{}", context.worker_index),
                worker: context.worker_index,
                count: 0,
                records: Vec::new(),
                encode: Arc::clone(&self.encode),
            })),
            (Delivery::ExactlyOnce, None) => Err(Error::Config(format!(
                "the exactly-once Kafka sink to `{}` needs a job with checkpoints",
                self.topic
            ))),
        }
    }

    fn committer(&self) -> Option<Arc<dyn Committer>> {
        match self.delivery {
            Delivery::ExactlyOnce => Some(Arc::clone(&self.committer) as Arc<dyn Committer>),
            Delivery::AtLeastOnce => None,
        }
    }
}

struct AtLeastOnceWriter<T> {
    producer: BaseProducer,
    topic: String,
    encode: Encode<T>,
}

impl<T> SinkWriter<T> for AtLeastOnceWriter<T> {
    fn write(&mut self, value: T, _timestamp: u64, _logical_time: u64) -> Result<()> {
        let (key, value) = (self.encode)(&value);
        produce(&self.producer, &self.topic, key.as_deref(), &value, OwnedHeaders::new())?;
        self.producer.poll(Duration::ZERO);
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.producer
            .flush(TIMEOUT)
            .map_err(|error| kafka_error(format!("flushing to `{}`", self.topic), error))
    }
}

/// One checkpoint interval's records of one worker: the write-ahead copy.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Staged {
    /// Unique across runs: `<run>-w<worker>-<n>`.
    id: String,
    worker: usize,
    /// (key, value) as hex.
    records: Vec<(Option<String>, String)>,
}

struct ExactlyOnceWriter<T> {
    id: String,
    worker: usize,
    count: u64,
    records: Vec<(Option<String>, String)>,
    encode: Encode<T>,
}

impl<T> SinkWriter<T> for ExactlyOnceWriter<T> {
    fn write(&mut self, value: T, _timestamp: u64, _logical_time: u64) -> Result<()> {
        let (key, value) = (self.encode)(&value);
        self.records.push((key.as_deref().map(hex), hex(&value)));
        Ok(())
    }

    fn prepare_commit(&mut self) -> Result<Vec<Committable>> {
        self.count += 1;
        let staged = Staged {
            id: format!("{}-{}", self.id, self.count),
            worker: self.worker,
            records: std::mem::take(&mut self.records),
        };
        Ok(vec![serde_json::to_value(staged).map_err(|error| Error::Internal(error.to_string()))?])
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Commits staged intervals in transactions with their progress records.
pub struct KafkaCommitter {
    brokers: String,
    topic: String,
    progress_topic: String,
    prefix: String,
    state: Mutex<CommitterState>,
}

#[derive(Default)]
struct CommitterState {
    producer: Option<BaseProducer>,
    /// Committable ids with a progress record (read once, then kept up to date).
    committed: Option<HashSet<String>>,
    attempts: u64,
}

/// The progress record's value.
#[derive(Debug, Serialize, Deserialize)]
struct Progress {
    attempt: String,
    records: usize,
}

impl KafkaCommitter {
    fn new(brokers: &str, topic: &str, prefix: &str) -> Self {
        KafkaCommitter {
            brokers: brokers.to_owned(),
            topic: topic.to_owned(),
            progress_topic: progress_topic(topic),
            prefix: prefix.to_owned(),
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, CommitterState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn commit_staged(&self, staged: Vec<Staged>) -> Result<()> {
        let mut state = self.lock();
        if state.committed.is_none() {
            let progress = read_topic(&self.brokers, &self.progress_topic)?;
            state.committed = Some(progress.into_iter().filter_map(|record| record.key).collect());
        }
        let committed = state.committed.as_ref().expect("read above");
        // An interval without records needs no transaction (and no progress record).
        let todo: Vec<Staged> = staged
            .into_iter()
            .filter(|staged| !staged.records.is_empty() && !committed.contains(&staged.id))
            .collect();
        if todo.is_empty() {
            return Ok(());
        }
        if state.producer.is_none() {
            // One transactional id per process: its lowest worker. A new attempt's producer
            // with the same id fences the old one and aborts its open transaction.
            let lowest = todo.iter().map(|staged| staged.worker).min().unwrap_or(0);
            let producer = producer(&self.brokers, Some(&format!("{}-{lowest}", self.prefix)))?;
            producer.init_transactions(TIMEOUT).map_err(|error| {
                kafka_error(format!("initializing Kafka transactions for `{}`", self.topic), error)
            })?;
            state.producer = Some(producer);
        }
        state.attempts += 1;
        let attempt = format!("{}-{}-{}", std::process::id(), SystemClock.now_ms(), state.attempts);
        let producer = state.producer.as_ref().expect("created above");
        let transaction = || -> Result<()> {
            producer
                .begin_transaction()
                .map_err(|error| kafka_error("beginning a Kafka transaction".into(), error))?;
            for staged in &todo {
                for (key, value) in &staged.records {
                    let headers = OwnedHeaders::new()
                        .insert(Header { key: "eddy-commit", value: Some(staged.id.as_bytes()) })
                        .insert(Header { key: "eddy-attempt", value: Some(attempt.as_bytes()) });
                    let key = key.as_deref().map(unhex).transpose()?;
                    produce(producer, &self.topic, key.as_deref(), &unhex(value)?, headers)?;
                }
                let progress =
                    serde_json::to_vec(&Progress { attempt: attempt.clone(), records: staged.records.len() })
                        .map_err(|error| Error::Internal(error.to_string()))?;
                produce(
                    producer,
                    &self.progress_topic,
                    Some(staged.id.as_bytes()),
                    &progress,
                    OwnedHeaders::new(),
                )?;
            }
            producer.commit_transaction(TIMEOUT).map_err(|error| {
                kafka_error(format!("committing a Kafka transaction to `{}`", self.topic), error)
            })
        };
        if let Err(error) = transaction() {
            let _ = producer.abort_transaction(TIMEOUT);
            state.producer = None;
            return Err(error);
        }
        let committed = state.committed.as_mut().expect("read above");
        committed.extend(todo.into_iter().map(|staged| staged.id));
        Ok(())
    }
}

fn parse(committables: &[Committable]) -> Result<Vec<Staged>> {
    committables
        .iter()
        .map(|committable| {
            serde_json::from_value(committable.clone())
                .map_err(|error| Error::Checkpoint(format!("a Kafka sink's staged records: {error}")))
        })
        .collect()
}

impl Committer for KafkaCommitter {
    fn commit(&self, committables: &[Committable]) -> Result<()> {
        self.commit_staged(parse(committables)?)
    }

    fn recover(&self, committables: &[Committable], _run_id: &str) -> Result<()> {
        // Staged records of later, failed attempts were never produced: nothing to discard.
        self.commit_staged(parse(committables)?)
    }
}

/// The progress topic of a sink writing `topic`.
pub fn progress_topic(topic: &str) -> String {
    format!("{topic}.eddy-progress")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|at| {
            text.get(at..at + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| Error::Checkpoint("a Kafka sink's staged record is not hex".into()))
        })
        .collect()
}

/// A record read back by [`read_topic`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadRecord {
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The key as UTF-8 (lossy).
    pub key: Option<String>,
    /// The value.
    pub value: Vec<u8>,
    /// The headers, values as UTF-8 (lossy).
    pub headers: Vec<(String, String)>,
}

/// Reads every committed record of `topic` (`read_committed`), until no record has come for
/// `IDLE`. A topic that does not exist reads as empty. (It does not stop at the partitions'
/// reported end offsets: Tansu 0.6 reports those in batches, not records.)
pub fn read_topic(brokers: &str, topic: &str) -> Result<Vec<ReadRecord>> {
    const IDLE: u64 = 1_500;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "eddy-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .map_err(|error| Error::Config(format!("Kafka consumer for {brokers}: {error}")))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), TIMEOUT)
        .map_err(|error| kafka_error(format!("Kafka metadata of `{topic}`"), error))?;
    let mut list = TopicPartitionList::new();
    for found in metadata.topics() {
        if found.error().is_some() {
            return Ok(Vec::new());
        }
        for partition in found.partitions() {
            list.add_partition_offset(topic, partition.id(), Offset::Beginning)
                .map_err(|error| Error::Internal(error.to_string()))?;
        }
    }
    if list.count() == 0 {
        return Ok(Vec::new());
    }
    consumer.assign(&list).map_err(|error| kafka_error(format!("assigning `{topic}`"), error))?;
    let mut records = Vec::new();
    let started = SystemClock.now_ms();
    let mut last = started;
    while SystemClock.now_ms().saturating_sub(last) < IDLE {
        if SystemClock.now_ms().saturating_sub(started) > TIMEOUT.as_millis() as u64 {
            return Err(Error::io(
                format!("reading `{topic}`"),
                std::io::Error::other(format!("records kept coming for {TIMEOUT:?}")),
            ));
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else { continue };
        let message = message.map_err(|error| kafka_error(format!("reading `{topic}`"), error))?;
        last = SystemClock.now_ms();
        records.push(ReadRecord {
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(|key| String::from_utf8_lossy(key).into_owned()),
            value: message.payload().unwrap_or_default().to_vec(),
            headers: message
                .headers()
                .map(|headers| {
                    headers
                        .iter()
                        .map(|header| {
                            (
                                header.key.to_owned(),
                                String::from_utf8_lossy(header.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    Ok(records)
}

/// The records of `topic` written by an exactly-once sink that belong to a committed
/// transaction: those whose `eddy-attempt` header matches the progress record of their
/// `eddy-commit` id. Equal to all records on a broker that hides aborted transactions from
/// `read_committed` readers; on one that does not (Tansu), it leaves out aborted attempts.
pub fn committed_records(brokers: &str, topic: &str) -> Result<Vec<ReadRecord>> {
    let mut attempts: eddy_core::hash::HashMap<String, String> = eddy_core::hash::HashMap::default();
    for record in read_topic(brokers, &progress_topic(topic))? {
        let (Some(id), Ok(progress)) = (record.key, serde_json::from_slice::<Progress>(&record.value)) else {
            continue;
        };
        attempts.insert(id, progress.attempt);
    }
    let header = |record: &ReadRecord, name: &str| {
        record.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone())
    };
    Ok(read_topic(brokers, topic)?
        .into_iter()
        .filter(|record| match (header(record, "eddy-commit"), header(record, "eddy-attempt")) {
            (Some(id), Some(attempt)) => attempts.get(&id) == Some(&attempt),
            _ => false,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes = b"{\"k\":1}\x00\xff".to_vec();
        assert_eq!(unhex(&hex(&bytes)).unwrap(), bytes);
        assert!(unhex("zz").is_err());
    }
}
