//! The connector against the real broker that `scripts/kafka.sh start` runs (Tansu): a
//! pass-through job reads N records and writes them exactly once to another topic.

use std::time::Duration;

use eddy_core::checkpoint::CheckpointConfig;
use eddy_core::job::{Job, JobConfig};
use eddy_core::time::{Clock, SystemClock};
use eddy_core::watermark::WatermarkStrategy;
use eddy_kafka::tools::produce_lines;
use eddy_kafka::{read_topic, Delivery, KafkaRecord, KafkaSink, KafkaSource};
use eddy_testkit::kafka::brokers;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

#[test]
fn a_pass_through_job_writes_every_record_exactly_once() {
    const N: u64 = 600;
    let brokers = brokers();
    let suffix = format!("{}-{}", std::process::id(), SystemClock.now_ms());
    let (input, output) = (format!("pass-in-{suffix}"), format!("pass-out-{suffix}"));
    let lines: String = (0..N).map(|n| format!("{{\"n\":{n},\"ts\":{}}}\n", 1_000 + n * 10)).collect();
    assert_eq!(produce_lines(&brokers, &input, 3, None, lines.as_bytes()).unwrap(), N);
    let dir = tempfile::tempdir().unwrap();
    let config = JobConfig {
        checkpoint: Some(CheckpointConfig::new(dir.path().join("chk"), Duration::from_millis(100))),
        ..JobConfig::with_workers(2)
    };
    let (job_brokers, job_input, job_output) = (brokers.clone(), input.clone(), output.clone());
    let summary = Job::new(config)
        .run(move |env| {
            let source = KafkaSource::<serde_json::Value>::json(&job_brokers, &[&job_input]).bounded();
            let strategy = WatermarkStrategy::bounded_out_of_orderness(100).with_timestamps(
                |record: &KafkaRecord<serde_json::Value>| record.value["ts"].as_u64().unwrap_or(0),
            );
            env.from_source(source, strategy)
                .map(|record: KafkaRecord<serde_json::Value>| record.value)
                .sink(KafkaSink::json(&job_brokers, &job_output, Delivery::ExactlyOnce));
            Ok(())
        })
        .unwrap();
    assert_eq!(summary.records_read, N);
    let mut seen: Vec<u64> = read_topic(&brokers, &output)
        .unwrap()
        .iter()
        .map(|record| {
            serde_json::from_slice::<serde_json::Value>(&record.value).unwrap()["n"].as_u64().unwrap()
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..N).collect::<Vec<_>>(), "read_committed sees every record once");
}

/// Reads `topic` until it holds `count` records (or a minute passed); returns the `n` fields.
fn wait_for(brokers: &str, topic: &str, count: usize) -> Vec<u64> {
    let deadline = SystemClock.now_ms() + 60_000;
    loop {
        let mut seen: Vec<u64> = read_topic(brokers, topic)
            .unwrap()
            .iter()
            .map(|record| {
                serde_json::from_slice::<serde_json::Value>(&record.value).unwrap()["n"].as_u64().unwrap()
            })
            .collect();
        if seen.len() >= count || SystemClock.now_ms() > deadline {
            seen.sort_unstable();
            return seen;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn topics_and_partitions_added_while_running_are_read() {
    let brokers = brokers();
    let suffix = format!("{}-{}", std::process::id(), SystemClock.now_ms());
    let output = format!("disc-out-{suffix}");
    let now = SystemClock.now_ms();
    let lines = |range: std::ops::Range<u64>| -> String {
        range.map(|n| format!("{{\"n\":{n},\"ts\":{}}}\n", now + n)).collect()
    };
    produce_lines(&brokers, &format!("disc-{suffix}-a"), 1, None, lines(0..50).as_bytes()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = JobConfig {
        checkpoint: Some(CheckpointConfig::new(dir.path().join("chk"), Duration::from_millis(100))),
        ..JobConfig::with_workers(2)
    };
    let job = Job::new(config);
    let stop = job.stop_handle();
    let (job_brokers, pattern, job_output) = (brokers.clone(), format!("disc-{suffix}-*"), output.clone());
    let group = format!("disc-group-{suffix}");
    let job_group = group.clone();
    let running = std::thread::spawn(move || {
        let group = job_group;
        job.run(move |env| {
            let source = KafkaSource::<serde_json::Value>::json(&job_brokers, &[])
                .pattern(&pattern)
                .group(&group)
                .discover_partitions(Duration::from_millis(200));
            let strategy = WatermarkStrategy::bounded_out_of_orderness(100)
                .with_timestamps(|record: &KafkaRecord<serde_json::Value>| {
                    record.value["ts"].as_u64().unwrap_or(0)
                })
                .with_emit_every(1)
                .with_idleness(300);
            env.from_source(source, strategy)
                .map(|record: KafkaRecord<serde_json::Value>| record.value)
                .sink(KafkaSink::json(&job_brokers, &job_output, Delivery::ExactlyOnce));
            Ok(())
        })
    });
    assert_eq!(wait_for(&brokers, &output, 50), (0..50).collect::<Vec<_>>());
    // A new topic matching the pattern, with two partitions, while the job runs.
    produce_lines(&brokers, &format!("disc-{suffix}-b"), 2, None, lines(50..80).as_bytes()).unwrap();
    let seen = wait_for(&brokers, &output, 80);
    stop.stop();
    running.join().unwrap().unwrap();
    assert_eq!(seen, (0..80).collect::<Vec<_>>(), "the new topic's records arrived, each once");
    // Completed checkpoints committed their offsets to the consumer group (for monitoring).
    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", &brokers).set("group.id", &group).create().unwrap();
    let mut list = TopicPartitionList::new();
    list.add_partition(&format!("disc-{suffix}-a"), 0);
    let committed = consumer.committed_offsets(list, Duration::from_secs(10)).unwrap();
    assert_eq!(committed.elements()[0].offset(), Offset::Offset(50), "the group's offset of topic a");
}
