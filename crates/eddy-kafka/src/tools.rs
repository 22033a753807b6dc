//! Poking at topics: create a topic, produce JSON lines, consume records as JSON lines. Behind
//! `eddy kafka produce` and `eddy kafka consume` (Debian's `kcat` is too old for the broker the
//! tests use).

use std::future::Future;
use std::io::{BufRead, Write};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use eddy_core::error::{Error, Result};
use eddy_core::time::{Clock, SystemClock};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::{kafka_error, send};

const TIMEOUT: Duration = Duration::from_secs(30);

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread (rdkafka's admin futures are completed by its
/// own polling thread, so no runtime is needed).
fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park_timeout(Duration::from_millis(100)),
        }
    }
}

/// Creates `topic` with `partitions` partitions; a topic that exists already is left as it is.
pub fn create_topic(brokers: &str, topic: &str, partitions: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(|error| Error::Config(format!("Kafka admin client for {brokers}: {error}")))?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = block_on(admin.create_topics([&new], &options))
        .map_err(|error| kafka_error(format!("creating Kafka topic `{topic}`"), error))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(kafka_error(format!("creating Kafka topic `{topic}`"), code)),
        }
    }
    Ok(())
}

/// Produces every line of `input` as one record (value = the line), to partition `to` or
/// round-robin over the topic's partitions; creates the topic with `partitions` partitions if
/// needed. Returns the number of records produced.
pub fn produce_lines(
    brokers: &str,
    topic: &str,
    partitions: i32,
    to: Option<i32>,
    input: impl BufRead,
) -> Result<u64> {
    create_topic(brokers, topic, partitions)?;
    // One record per batch: brokers that count batches rather than records in their reported
    // end offsets (Tansu 0.6) then still report them right, so bounded readers stop at the end.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("batch.num.messages", "1")
        .set("linger.ms", "0")
        .create()
        .map_err(|error| Error::Config(format!("Kafka producer for {brokers}: {error}")))?;
    let partitions = partition_count(brokers, topic)?;
    let mut count = 0u64;
    for line in text_lines(input) {
        let line = line.map_err(|error| match error {
            Error::BadRecord { path, line, reason } => Error::BadRecord {
                path,
                line,
                reason: format!("{reason}; the {count} records before it were produced to `{topic}`"),
            },
            other => other,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let partition = to.unwrap_or((count % partitions as u64) as i32);
        send(&producer, BaseRecord::<[u8], str>::to(topic).payload(line.as_str()).partition(partition))?;
        producer.poll(Duration::ZERO);
        count += 1;
    }
    producer.flush(TIMEOUT).map_err(|error| kafka_error(format!("flushing to `{topic}`"), error))?;
    Ok(count)
}

/// The lines of `input` as text, without their line ends (`\n` or `\r\n`). A line that is not
/// UTF-8 is an error naming its number and the offending byte, rather than std's "stream did
/// not contain valid UTF-8" with no place.
fn text_lines(mut input: impl BufRead) -> impl Iterator<Item = Result<String>> {
    let mut number = 0u64;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut bytes = Vec::new();
        match input.read_until(b'\n', &mut bytes) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(error) => {
                done = true;
                return Some(Err(Error::io("reading standard input", error)));
            }
        }
        number += 1;
        if bytes.ends_with(b"\n") {
            bytes.pop();
            if bytes.ends_with(b"\r") {
                bytes.pop();
            }
        }
        Some(String::from_utf8(bytes).map_err(|error| {
            done = true;
            let at = error.utf8_error().valid_up_to();
            Error::BadRecord {
                path: "standard input".into(),
                line: number,
                reason: format!("not UTF-8 (byte {} of the line, 0x{:02x})", at + 1, error.as_bytes()[at]),
            }
        }))
    })
}

fn partition_count(brokers: &str, topic: &str) -> Result<i32> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .map_err(|error| Error::Config(format!("Kafka client for {brokers}: {error}")))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), TIMEOUT)
        .map_err(|error| kafka_error(format!("Kafka metadata of `{topic}`"), error))?;
    let count = metadata.topics().iter().map(|found| found.partitions().len()).sum::<usize>();
    if count == 0 {
        return Err(Error::Config(format!("Kafka topic `{topic}` has no partitions")));
    }
    Ok(count as i32)
}

/// How `consume` reads.
#[derive(Clone, Debug)]
pub struct ConsumeOptions {
    /// Read only committed transactional records.
    pub read_committed: bool,
    /// Start at the earliest offset (otherwise at the end).
    pub from_beginning: bool,
    /// Stop after this long without a record (otherwise run until interrupted).
    pub until_idle: Option<Duration>,
}

/// Writes every record of `topic` as a JSON line (`topic`, `partition`, `offset`, `timestamp`,
/// `key`, `value`: parsed JSON if the value is JSON, else a string). Returns the count.
pub fn consume(brokers: &str, topic: &str, options: &ConsumeOptions, mut output: impl Write) -> Result<u64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "eddy-consume")
        .set("enable.auto.commit", "false")
        .set("isolation.level", if options.read_committed { "read_committed" } else { "read_uncommitted" })
        .create()
        .map_err(|error| Error::Config(format!("Kafka consumer for {brokers}: {error}")))?;
    let partitions = partition_count(brokers, topic)?;
    let mut list = TopicPartitionList::new();
    let start = if options.from_beginning { Offset::Beginning } else { Offset::End };
    for partition in 0..partitions {
        list.add_partition_offset(topic, partition, start)
            .map_err(|error| Error::Internal(error.to_string()))?;
    }
    consumer.assign(&list).map_err(|error| kafka_error(format!("assigning `{topic}`"), error))?;
    let clock = SystemClock;
    let mut last = clock.now_ms();
    let mut count = 0;
    loop {
        match consumer.poll(Duration::from_millis(100)) {
            Some(message) => {
                let message = message.map_err(|error| kafka_error(format!("reading `{topic}`"), error))?;
                let payload = message.payload().unwrap_or_default();
                let value = serde_json::from_slice::<serde_json::Value>(payload).unwrap_or_else(|_| {
                    serde_json::Value::String(String::from_utf8_lossy(payload).into_owned())
                });
                let line = serde_json::json!({
                    "topic": message.topic(),
                    "partition": message.partition(),
                    "offset": message.offset(),
                    "timestamp": message.timestamp().to_millis(),
                    "key": message.key().map(|key| String::from_utf8_lossy(key).into_owned()),
                    "value": value,
                });
                writeln!(output, "{line}").map_err(|error| Error::io("writing standard output", error))?;
                count += 1;
                last = clock.now_ms();
            }
            None => {
                if options
                    .until_idle
                    .is_some_and(|idle| clock.now_ms().saturating_sub(last) >= idle.as_millis() as u64)
                {
                    return Ok(count);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_that_are_not_utf8_are_named() {
        let input: &[u8] = b"{\"a\":1}\r\nplain\n\xff\xfe bad\nnever read\n";
        let lines: Vec<Result<String>> = text_lines(input).collect();
        assert_eq!(lines.len(), 3, "reading stops at the bad line");
        assert_eq!(lines[0].as_ref().unwrap(), "{\"a\":1}");
        assert_eq!(lines[1].as_ref().unwrap(), "plain");
        let error = lines[2].as_ref().unwrap_err().to_string();
        assert!(
            error.contains("standard input:3") && error.contains("not UTF-8") && error.contains("0xff"),
            "{error}"
        );
    }
}
