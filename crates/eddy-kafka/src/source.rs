//! The Kafka source: one split per partition, assigned to workers by eddy, never by
//! consumer-group rebalancing, so that restores and replays read the same partitions in the
//! same places. Partition `p` of topic `t` goes to worker `(hash(t) + p) % workers` (as Flink
//! assigns them): the partitions of a topic spread evenly from a topic-dependent start, and a
//! partition added later lands on the same worker whoever discovers it.
//!
//! A split's position is the offset of the next record (and, in bounded mode, the offset it
//! stops at), kept in eddy's checkpoints: they are the source of truth for where to resume.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use eddy_core::error::{Error, Result};
use eddy_core::source::{DeadLetter, ReadStatus, Source, SplitContext, SplitOutput, SplitReader};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::kafka_error;

/// How long metadata and offset requests may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A record read from Kafka, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaRecord<T> {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The record's offset in its partition.
    pub offset: i64,
    /// The record's Kafka timestamp (milliseconds since the epoch), if it has one.
    pub timestamp: Option<i64>,
    /// The record's key.
    pub key: Option<Vec<u8>>,
    /// The record's headers.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The deserialized value.
    pub value: T,
}

/// Where a partition starts when the job does not restore it from a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartFrom {
    /// The earliest offset.
    Earliest,
    /// The end of the partition (only records produced from now on).
    Latest,
    /// The first record with a timestamp at or after this one (milliseconds).
    Timestamp(i64),
    /// The consumer group's committed offsets (earliest where the group has none).
    GroupOffsets,
    /// Explicit offsets per (topic, partition); earliest for partitions not listed.
    Offsets(BTreeMap<(String, i32), i64>),
}

/// What to do with a record whose value cannot be deserialized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BadRecords {
    /// Fail the job with an error naming the topic, partition and offset.
    #[default]
    Fail,
    /// Route it to the source stream's `DEAD_LETTERS` side output (split `topic/partition`,
    /// `line` = offset) and go on. Records whose event time is outside the supported range
    /// (`eddy_core::record::EVENT_TIME_RANGE`) go there too instead of failing the job.
    DeadLetter,
}

type Decode<T> = Arc<dyn Fn(&[u8]) -> std::result::Result<T, String> + Send + Sync>;

/// Reads one or more topics.
pub struct KafkaSource<T> {
    brokers: String,
    topics: Vec<String>,
    /// A glob (`*`, `?`) over topic names, instead of `topics`.
    pattern: Option<String>,
    group: Option<String>,
    start: StartFrom,
    bounded: bool,
    discovery: Option<Duration>,
    bad_records: BadRecords,
    properties: Vec<(String, String)>,
    decode: Decode<T>,
}

impl<T> Clone for KafkaSource<T> {
    fn clone(&self) -> Self {
        KafkaSource {
            brokers: self.brokers.clone(),
            topics: self.topics.clone(),
            pattern: self.pattern.clone(),
            group: self.group.clone(),
            start: self.start.clone(),
            bounded: self.bounded,
            discovery: self.discovery,
            bad_records: self.bad_records,
            properties: self.properties.clone(),
            decode: Arc::clone(&self.decode),
        }
    }
}

impl KafkaSource<Vec<u8>> {
    /// Values as raw bytes.
    pub fn bytes(brokers: &str, topics: &[&str]) -> Self {
        KafkaSource::with_decoder(brokers, topics, |bytes| Ok(bytes.to_vec()))
    }
}

impl KafkaSource<String> {
    /// Values as UTF-8 strings.
    pub fn strings(brokers: &str, topics: &[&str]) -> Self {
        KafkaSource::with_decoder(brokers, topics, |bytes| {
            String::from_utf8(bytes.to_vec()).map_err(|error| format!("not UTF-8: {error}"))
        })
    }
}

impl<T: DeserializeOwned + 'static> KafkaSource<T> {
    /// Values as JSON documents deserialized into `T`.
    pub fn json(brokers: &str, topics: &[&str]) -> Self {
        KafkaSource::with_decoder(brokers, topics, |bytes| {
            serde_json::from_slice(bytes).map_err(|error| format!("bad JSON: {error}"))
        })
    }
}

impl<T> KafkaSource<T> {
    /// Values decoded by `decode` (an `Err` is a bad record).
    pub fn with_decoder(
        brokers: &str,
        topics: &[&str],
        decode: impl Fn(&[u8]) -> std::result::Result<T, String> + Send + Sync + 'static,
    ) -> Self {
        KafkaSource {
            brokers: brokers.to_owned(),
            topics: topics.iter().map(|topic| (*topic).to_owned()).collect(),
            pattern: None,
            group: None,
            start: StartFrom::Earliest,
            bounded: false,
            discovery: None,
            bad_records: BadRecords::Fail,
            properties: Vec::new(),
            decode: Arc::new(decode),
        }
    }

    /// Reads every topic whose name matches `pattern` when the job starts (a glob: `*` matches
    /// any run of characters, `?` one character; topics starting with `__` are never matched),
    /// instead of the topics given.
    pub fn pattern(mut self, pattern: &str) -> Self {
        self.pattern = Some(pattern.to_owned());
        self
    }

    /// Where partitions start without a checkpoint (default: earliest).
    pub fn start_from(mut self, start: StartFrom) -> Self {
        self.start = start;
        self
    }

    /// Stops each partition at the offset that was its end when the job started, so the same
    /// program runs as a batch job. The stop offsets are kept in checkpoints.
    pub fn bounded(mut self) -> Self {
        self.bounded = true;
        self
    }

    /// Looks for new partitions (and, with a pattern, new topics) every `interval` while the
    /// job runs; they are read from their earliest offset. Not with [`bounded`](Self::bounded).
    /// Workers that read no partition then wait for one with an empty split: give the
    /// watermark strategy `with_idleness`, as for idle partitions, so that it does not hold
    /// the job's watermark back.
    pub fn discover_partitions(mut self, interval: Duration) -> Self {
        self.discovery = Some(interval);
        self
    }

    /// The consumer group: `StartFrom::GroupOffsets` starts from its committed offsets, and
    /// the offsets of every completed checkpoint are committed to it (for monitoring; eddy's
    /// checkpoints stay the source of truth).
    pub fn group(mut self, group: &str) -> Self {
        self.group = Some(group.to_owned());
        self
    }

    /// What to do with records whose value cannot be decoded (default: fail the job).
    pub fn bad_records(mut self, bad_records: BadRecords) -> Self {
        self.bad_records = bad_records;
        self
    }

    /// Sets a librdkafka consumer property.
    pub fn property(mut self, name: &str, value: &str) -> Self {
        self.properties.push((name.to_owned(), value.to_owned()));
        self
    }

    fn consumer(&self) -> Result<BaseConsumer> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("isolation.level", "read_committed")
            .set("group.id", self.group.as_deref().unwrap_or("eddy"));
        for (name, value) in &self.properties {
            config.set(name, value);
        }
        config
            .create()
            .map_err(|error| Error::Config(format!("Kafka consumer for {}: {error}", self.brokers)))
    }

    /// Every (topic, partition) of the source's topics, sorted.
    fn partitions(&self, consumer: &BaseConsumer) -> Result<Vec<(String, i32)>> {
        let fetch = |topic: Option<&str>| {
            consumer.fetch_metadata(topic, REQUEST_TIMEOUT).map_err(|error| {
                let what = topic.map_or("all topics".to_owned(), |topic| format!("topic `{topic}`"));
                kafka_error(format!("Kafka metadata of {what} at {}", self.brokers), error)
            })
        };
        let mut partitions = Vec::new();
        let mut add = |metadata: rdkafka::metadata::Metadata, wanted: &dyn Fn(&str) -> bool| -> Result<()> {
            for found in metadata.topics().iter().filter(|found| wanted(found.name())) {
                if let Some(error) = found.error() {
                    return Err(Error::Config(format!("Kafka topic `{}`: {error:?}", found.name())));
                }
                partitions.extend(
                    found.partitions().iter().map(|partition| (found.name().to_owned(), partition.id())),
                );
            }
            Ok(())
        };
        match &self.pattern {
            Some(pattern) => add(fetch(None)?, &|name| {
                !name.starts_with("__") && glob(pattern.as_bytes(), name.as_bytes())
            })?,
            None => {
                for topic in &self.topics {
                    add(fetch(Some(topic))?, &|name| name == topic)?;
                }
            }
        }
        partitions.sort();
        Ok(partitions)
    }

    fn start_offset(&self, consumer: &BaseConsumer, topic: &str, partition: i32) -> Result<i64> {
        let (low, high) = watermarks(consumer, topic, partition)?;
        let offset = match &self.start {
            StartFrom::Earliest => low,
            StartFrom::Latest => high,
            StartFrom::Offsets(offsets) => {
                offsets.get(&(topic.to_owned(), partition)).copied().unwrap_or(low)
            }
            StartFrom::Timestamp(timestamp) => {
                let mut list = TopicPartitionList::new();
                list.add_partition_offset(topic, partition, Offset::Offset(*timestamp))
                    .map_err(|error| Error::Internal(error.to_string()))?;
                let found = consumer
                    .offsets_for_times(list, REQUEST_TIMEOUT)
                    .map_err(|error| kafka_error(format!("Kafka offsets of {topic}/{partition}"), error))?;
                match found.find_partition(topic, partition).map(|element| element.offset()) {
                    Some(Offset::Offset(offset)) => offset,
                    _ => high,
                }
            }
            StartFrom::GroupOffsets => {
                let mut list = TopicPartitionList::new();
                list.add_partition(topic, partition);
                let committed = consumer.committed_offsets(list, REQUEST_TIMEOUT).map_err(|error| {
                    kafka_error(format!("Kafka group offsets of {topic}/{partition}"), error)
                })?;
                match committed.find_partition(topic, partition).map(|element| element.offset()) {
                    Some(Offset::Offset(offset)) => offset,
                    _ => low,
                }
            }
        };
        Ok(offset.clamp(low, high))
    }
}

/// Whether `name` matches the glob `pattern` (`*`: any run, `?`: one character).
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&pattern[1..], name) || (!name.is_empty() && glob(pattern, &name[1..])),
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &name[1..]),
        (Some(expected), Some(actual)) if expected == actual => glob(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// The low and high watermark offsets of a partition.
fn watermarks(consumer: &BaseConsumer, topic: &str, partition: i32) -> Result<(i64, i64)> {
    consumer
        .fetch_watermarks(topic, partition, REQUEST_TIMEOUT)
        .map_err(|error| kafka_error(format!("Kafka offsets of {topic}/{partition}"), error))
}

impl<T: 'static> Source<KafkaRecord<T>> for KafkaSource<T> {
    fn name(&self) -> String {
        match &self.pattern {
            Some(pattern) => format!("kafka:{pattern}"),
            None => format!("kafka:{}", self.topics.join(",")),
        }
    }

    fn sends_bad_records_to_dead_letters(&self) -> bool {
        self.bad_records == BadRecords::DeadLetter
    }

    fn splits(&self, context: &SplitContext) -> Result<Vec<Box<dyn SplitReader<KafkaRecord<T>>>>> {
        let probe = self.consumer()?;
        let mut readers: Vec<Box<dyn SplitReader<KafkaRecord<T>>>> = Vec::new();
        for (topic, partition) in self.partitions(&probe)? {
            if owner(&topic, partition, context.workers) != context.worker_index {
                continue;
            }
            let next = self.start_offset(&probe, &topic, partition)?;
            let end = if self.bounded { Some(watermarks(&probe, &topic, partition)?.1) } else { None };
            readers.push(self.reader(topic, partition, Position { next, end }));
        }
        if readers.is_empty() && self.discovery.is_some() && !self.bounded {
            readers
                .push(Box::new(Waiting { id: format!("{}/waiting-w{}", self.name(), context.worker_index) }));
        }
        Ok(readers)
    }

    fn discovery_interval(&self) -> Option<Duration> {
        self.discovery.filter(|_| !self.bounded)
    }

    fn discover(
        &self,
        context: &SplitContext,
        known: &[String],
    ) -> Result<Vec<Box<dyn SplitReader<KafkaRecord<T>>>>> {
        let probe = self.consumer()?;
        let mut readers: Vec<Box<dyn SplitReader<KafkaRecord<T>>>> = Vec::new();
        for (topic, partition) in self.partitions(&probe)? {
            let id = format!("{topic}/{partition}");
            if owner(&topic, partition, context.workers) != context.worker_index || known.contains(&id) {
                continue;
            }
            let next = watermarks(&probe, &topic, partition)?.0;
            eprintln!("eddy: Kafka source: new partition {id}, reading from offset {next}");
            readers.push(self.reader(topic, partition, Position { next, end: None }));
        }
        Ok(readers)
    }
}

impl<T: 'static> KafkaSource<T> {
    fn reader(
        &self,
        topic: String,
        partition: i32,
        position: Position,
    ) -> Box<dyn SplitReader<KafkaRecord<T>>> {
        Box::new(PartitionReader {
            id: format!("{topic}/{partition}"),
            topic,
            partition,
            position,
            consumer: None,
            source: self.clone(),
        })
    }
}

/// The worker that reads partition `partition` of `topic`.
fn owner(topic: &str, partition: i32, workers: usize) -> usize {
    let start = (eddy_core::hash::key_hash(&topic) % workers as u64) as usize;
    (start + partition.max(0) as usize) % workers
}

/// The split of a worker that reads no partition yet (with partition discovery): it never
/// has a record, so its watermark moves only by idleness.
struct Waiting {
    id: String,
}

impl<T> SplitReader<KafkaRecord<T>> for Waiting {
    fn split_id(&self) -> &str {
        &self.id
    }

    fn read(&mut self, _output: &mut SplitOutput<KafkaRecord<T>>, _max_records: usize) -> Result<ReadStatus> {
        Ok(ReadStatus::Pending)
    }

    fn snapshot_position(&self) -> Result<Option<serde_json::Value>> {
        Ok(Some(serde_json::Value::Null))
    }

    fn restore_position(&mut self, _position: serde_json::Value) -> Result<()> {
        Ok(())
    }
}

/// Where a partition reader is: the next offset to read and, when bounded, where to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    next: i64,
    end: Option<i64>,
}

struct PartitionReader<T> {
    id: String,
    topic: String,
    partition: i32,
    position: Position,
    /// Assigned on the first read (after a restore may have moved `position`).
    consumer: Option<BaseConsumer>,
    source: KafkaSource<T>,
}

impl<T> PartitionReader<T> {
    fn assigned(&mut self) -> Result<&BaseConsumer> {
        if self.consumer.is_none() {
            let consumer = self.source.consumer()?;
            let mut list = TopicPartitionList::new();
            list.add_partition_offset(&self.topic, self.partition, Offset::Offset(self.position.next))
                .map_err(|error| Error::Internal(error.to_string()))?;
            consumer
                .assign(&list)
                .map_err(|error| Error::Config(format!("assigning Kafka partition {}: {error}", self.id)))?;
            self.consumer = Some(consumer);
        }
        Ok(self.consumer.as_ref().expect("assigned above"))
    }
}

impl<T> SplitReader<KafkaRecord<T>> for PartitionReader<T> {
    fn split_id(&self) -> &str {
        &self.id
    }

    fn read(&mut self, output: &mut SplitOutput<KafkaRecord<T>>, max_records: usize) -> Result<ReadStatus> {
        if self.position.end.is_some_and(|end| self.position.next >= end) {
            return Ok(ReadStatus::Finished);
        }
        let id = self.id.clone();
        let bad_records = self.source.bad_records;
        let decode = Arc::clone(&self.source.decode);
        let end = self.position.end;
        let consumer = self.assigned()?;
        let mut read = 0;
        let mut next = None;
        while read < max_records {
            let Some(message) = consumer.poll(Duration::ZERO) else { break };
            let message =
                message.map_err(|error| kafka_error(format!("reading Kafka partition {id}"), error))?;
            read += 1;
            let offset = message.offset();
            next = Some(offset + 1);
            let payload = message.payload().unwrap_or_default();
            match decode(payload) {
                Ok(value) => {
                    let headers = message
                        .headers()
                        .map(|headers| {
                            headers
                                .iter()
                                .map(|header| {
                                    (header.key.to_owned(), header.value.unwrap_or_default().to_vec())
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    output.push(
                        offset as u64,
                        KafkaRecord {
                            topic: message.topic().to_owned(),
                            partition: message.partition(),
                            offset,
                            timestamp: message.timestamp().to_millis(),
                            key: message.key().map(<[u8]>::to_vec),
                            headers,
                            value,
                        },
                    );
                }
                Err(reason) => match bad_records {
                    BadRecords::Fail => {
                        return Err(Error::BadRecord { path: id.clone().into(), line: offset as u64, reason })
                    }
                    BadRecords::DeadLetter => output.dead_letter(DeadLetter {
                        split: id.clone(),
                        line: offset as u64,
                        reason,
                        raw: String::from_utf8_lossy(payload).into_owned(),
                    }),
                },
            }
            if end.is_some_and(|end| offset + 1 >= end) {
                break;
            }
        }
        if let Some(next) = next {
            self.position.next = next;
        }
        Ok(match self.position.end {
            Some(end) if self.position.next >= end => ReadStatus::Finished,
            _ if read == max_records => ReadStatus::More,
            _ => ReadStatus::Pending,
        })
    }

    fn snapshot_position(&self) -> Result<Option<serde_json::Value>> {
        serde_json::to_value(self.position).map(Some).map_err(|error| Error::Internal(error.to_string()))
    }

    fn checkpoint_complete(&mut self, position: &serde_json::Value) -> Result<()> {
        // For monitoring only (lag per group); eddy's checkpoints stay the source of truth.
        if self.source.group.is_none() {
            return Ok(());
        }
        let Ok(position) = serde_json::from_value::<Position>(position.clone()) else { return Ok(()) };
        let Some(consumer) = self.consumer.as_ref() else { return Ok(()) };
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&self.topic, self.partition, Offset::Offset(position.next))
            .map_err(|error| Error::Internal(error.to_string()))?;
        if let Err(error) = consumer.commit(&list, rdkafka::consumer::CommitMode::Async) {
            eprintln!("eddy: committing offsets of Kafka partition {} to the group: {error}", self.id);
        }
        Ok(())
    }

    fn restore_position(&mut self, position: serde_json::Value) -> Result<()> {
        self.position = serde_json::from_value(position).map_err(|error| {
            Error::Checkpoint(format!("Kafka partition {}: bad position: {error}", self.id))
        })?;
        self.consumer = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use eddy_core::time::SystemClock;
    use rdkafka::mocking::MockCluster;

    use super::*;

    /// Produces `lines` round-robin over `partitions` partitions (the mock cluster has no
    /// admin API, so no topic creation).
    fn produce_lines(
        brokers: &str,
        topic: &str,
        partitions: i32,
        _to: Option<i32>,
        lines: &[u8],
    ) -> Result<u64> {
        use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
        let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", brokers).create().unwrap();
        let text = String::from_utf8_lossy(lines).into_owned();
        for (index, line) in text.lines().enumerate() {
            producer
                .send(BaseRecord::<str, str>::to(topic).payload(line).partition(index as i32 % partitions))
                .unwrap();
        }
        producer.flush(Duration::from_secs(10)).unwrap();
        Ok(text.lines().count() as u64)
    }

    fn context(worker_index: usize, workers: usize) -> SplitContext {
        SplitContext { worker_index, workers, clock: Arc::new(SystemClock) }
    }

    /// Reads a split until it is finished (bounded) or `limit` records came.
    fn drain<T>(reader: &mut dyn SplitReader<KafkaRecord<T>>, limit: usize) -> (Vec<i64>, Vec<DeadLetter>) {
        let mut offsets = Vec::new();
        let mut dead = Vec::new();
        for _ in 0..500 {
            let mut output = SplitOutput::default();
            let status = reader.read(&mut output, 100).unwrap();
            let (records, dead_letters) = output.take();
            offsets.extend(records.into_iter().map(|(_, record)| record.offset));
            dead.extend(dead_letters);
            if status == ReadStatus::Finished || offsets.len() >= limit {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        (offsets, dead)
    }

    #[test]
    fn partitions_are_assigned_by_index_and_positions_resume() {
        let cluster = MockCluster::new(1).unwrap();
        let brokers = cluster.bootstrap_servers();
        cluster.create_topic("events", 4, 1).unwrap();
        let lines: String = (0..40).map(|i| format!("{{\"n\":{i}}}\n")).collect();
        produce_lines(&brokers, "events", 4, None, lines.as_bytes()).unwrap();
        let source = KafkaSource::<serde_json::Value>::json(&brokers, &["events"]).bounded();
        let ids = |worker| {
            let splits = source.splits(&context(worker, 3)).unwrap();
            splits.iter().map(|split| split.split_id().to_owned()).collect::<Vec<_>>()
        };
        let mut all: Vec<String> = (0..3).flat_map(ids).collect();
        all.sort();
        assert_eq!(all, vec!["events/0", "events/1", "events/2", "events/3"], "each partition once");
        for partition in 0..4 {
            let worker = owner("events", partition, 3);
            assert!(ids(worker).contains(&format!("events/{partition}")));
            assert_eq!(owner("events", partition + 1, 3), (worker + 1) % 3, "round-robin within a topic");
        }
        let reader = owner("events", 1, 3);
        let mut split = source
            .splits(&context(reader, 3))
            .unwrap()
            .into_iter()
            .find(|split| split.split_id() == "events/1")
            .unwrap();
        let (first, _) = drain(split.as_mut(), 4);
        let position = split.snapshot_position().unwrap().unwrap();
        let (rest, _) = drain(split.as_mut(), usize::MAX);
        assert_eq!(first.len() + rest.len(), 10, "bounded: stops at the end offset at start");
        // A fresh reader restored to the position reads exactly the rest.
        let mut restored = source
            .splits(&context(reader, 3))
            .unwrap()
            .into_iter()
            .find(|split| split.split_id() == "events/1")
            .unwrap();
        restored.restore_position(position).unwrap();
        assert_eq!(drain(restored.as_mut(), usize::MAX).0, rest);
    }

    #[test]
    fn globs_match_topic_names() {
        assert!(glob(b"events-*", b"events-eu"));
        assert!(glob(b"*-eu", b"events-eu"));
        assert!(glob(b"ev?nts", b"events"));
        assert!(!glob(b"events-*", b"clicks-eu"));
        assert!(!glob(b"ev?nts", b"evnts"));
        assert!(glob(b"*", b""));
    }

    #[test]
    fn a_pattern_reads_every_matching_topic() {
        let cluster = MockCluster::new(1).unwrap();
        let brokers = cluster.bootstrap_servers();
        for topic in ["orders-eu", "orders-us", "clicks"] {
            cluster.create_topic(topic, 2, 1).unwrap();
        }
        let source = KafkaSource::bytes(&brokers, &[]).pattern("orders-*");
        let splits = source.splits(&context(0, 1)).unwrap();
        let ids: Vec<&str> = splits.iter().map(|split| split.split_id()).collect();
        assert_eq!(ids, vec!["orders-eu/0", "orders-eu/1", "orders-us/0", "orders-us/1"]);
    }

    #[test]
    fn new_partitions_are_found_by_their_owner_only() {
        let cluster = MockCluster::new(1).unwrap();
        let brokers = cluster.bootstrap_servers();
        cluster.create_topic("grow", 1, 1).unwrap();
        cluster.create_topic("grow-later", 2, 1).unwrap();
        let source =
            KafkaSource::bytes(&brokers, &[]).pattern("grow*").discover_partitions(Duration::from_millis(10));
        let workers = 4;
        let mut found = Vec::new();
        for worker in 0..workers {
            let known = vec!["grow/0".to_owned()];
            found.extend(
                source
                    .discover(&context(worker, workers), &known)
                    .unwrap()
                    .iter()
                    .map(|split| (worker, split.split_id().to_owned())),
            );
        }
        found.sort_by(|a, b| a.1.cmp(&b.1));
        let expected: Vec<(usize, String)> = (0..2)
            .map(|partition| (owner("grow-later", partition, workers), format!("grow-later/{partition}")))
            .collect();
        assert_eq!(found, expected);
        // A worker that reads nothing waits on an empty split (so it can take new partitions).
        let idle = (0..workers).find(|&worker| {
            worker != owner("grow", 0, workers) && !expected.iter().any(|(owner, _)| *owner == worker)
        });
        if let Some(worker) = idle {
            let splits = source.splits(&context(worker, workers)).unwrap();
            assert_eq!(splits.len(), 1);
            assert!(splits[0].split_id().contains("waiting"));
        }
    }

    #[test]
    fn bad_values_become_dead_letters_with_their_offsets_or_fail() {
        let cluster = MockCluster::new(1).unwrap();
        let brokers = cluster.bootstrap_servers();
        cluster.create_topic("mixed", 1, 1).unwrap();
        produce_lines(&brokers, "mixed", 1, None, "{\"n\":1}\nnot json\n{\"n\":2}\n".as_bytes()).unwrap();
        let source = KafkaSource::<serde_json::Value>::json(&brokers, &["mixed"]).bounded();
        let mut split =
            source.clone().bad_records(BadRecords::DeadLetter).splits(&context(0, 1)).unwrap().remove(0);
        let (offsets, dead) = drain(split.as_mut(), usize::MAX);
        assert_eq!(offsets, vec![0, 2]);
        assert_eq!((dead[0].split.as_str(), dead[0].line, dead[0].raw.as_str()), ("mixed/0", 1, "not json"));
        let mut failing = source.splits(&context(0, 1)).unwrap().remove(0);
        let mut output = SplitOutput::default();
        let mut error = None;
        for _ in 0..200 {
            match failing.read(&mut output, 100) {
                Err(failure) => {
                    error = Some(failure.to_string());
                    break;
                }
                Ok(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        let error = error.expect("the bad record fails the job");
        assert!(error.contains("mixed/0:1") && error.contains("bad JSON"), "{error}");
    }
}
