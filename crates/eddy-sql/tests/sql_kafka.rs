//! Kafka tables in SQL against the real broker that `scripts/kafka.sh start` runs (Tansu):
//! bounded topics in JSON and CSV read by a join with an aggregate, an updating query over a
//! running topic written exactly once to a `debezium-json` topic and folded back, a
//! `debezium-json` topic read as a changelog table, an append-only `json` topic that refuses an updating query and takes an
//! append-only one, and a bad message named by topic, partition and offset (or skipped when
//! told to).
//!
//! The broker is `EDDY_KAFKA_BROKERS`, or the one `scripts/kafka.sh start` starts (eddy-testkit's
//! convention, as in eddy-kafka's tests); every test uses topics of its own.
#![cfg(feature = "kafka")]

mod jobs_common;

use jobs_common::{job, session};
use std::collections::BTreeMap;
use std::time::Duration;

use eddy_core::checkpoint::CheckpointConfig;
use eddy_core::prelude::{Job, JobConfig};
use eddy_core::time::{Clock, SystemClock};
use eddy_kafka::tools::produce_lines;
use eddy_kafka::{committed_records, read_topic};
use eddy_sql::connect::format::updates_from_debezium;
use eddy_sql::datum::Row;
use eddy_sql::plan::Column;
use eddy_testkit::kafka::{brokers, unique_topic};

/// The `WITH` options of a Kafka table on `topic`, with `extra` options.
fn kafka(topic: &str, format: &str, extra: &str) -> String {
    format!(
        "'connector' = 'kafka', 'topic' = '{topic}', 'properties.bootstrap.servers' = '{}', \
         'format' = '{format}'{extra}",
        brokers()
    )
}

fn sorted(rows: Vec<Row>) -> Vec<String> {
    let mut rows: Vec<String> = rows.iter().map(Row::to_string).collect();
    rows.sort();
    rows
}

fn checkpointed(workers: usize, dir: &std::path::Path) -> JobConfig {
    JobConfig {
        checkpoint: Some(CheckpointConfig::new(dir.join("chk"), Duration::from_millis(50))),
        ..JobConfig::with_workers(workers)
    }
}

#[test]
fn bounded_topics_in_json_and_csv_are_joined_and_aggregated() {
    let (orders, customers) = (unique_topic("sql-orders"), unique_topic("sql-customers"));
    let order_lines: String = (0..30)
        .map(|n| format!("{{\"id\": {n}, \"customer\": {}, \"amount\": {}.25}}\n", n % 3, n))
        .collect();
    assert_eq!(produce_lines(&brokers(), &orders, 3, None, order_lines.as_bytes()).unwrap(), 30);
    produce_lines(&brokers(), &customers, 1, None, "0,ann\n1,bob\n2,\"cid, jr\"\n".as_bytes()).unwrap();
    let mut session = session();
    session
        .execute(&format!(
            "CREATE TABLE orders (id BIGINT, customer INT, amount DECIMAL(10, 2))
                 WITH ({}, 'scan.bounded.mode' = 'latest-offset');
             CREATE TABLE customers (id INT, name VARCHAR)
                 WITH ({}, 'properties.group.id' = 'sql-kafka-test', 'scan.bounded.mode' = 'latest-offset');",
            kafka(&orders, "json", ""),
            kafka(&customers, "csv", "")
        ))
        .unwrap();
    let query = job(
        &mut session,
        "SELECT c.name, COUNT(*), SUM(o.amount) FROM orders o JOIN customers c ON o.customer = c.id
         WHERE o.id >= 3 GROUP BY c.name",
    );
    assert!(query.is_bounded());
    let rows = sorted(query.collect(JobConfig::with_workers(2)).unwrap());
    // Orders 3..30: customer n % 3, amount n + 0.25.
    let expected = |customer: u64| {
        let ids: Vec<u64> = (3..30).filter(|n| n % 3 == customer).collect();
        (ids.len(), ids.iter().sum::<u64>() as f64 + 0.25 * ids.len() as f64)
    };
    let line = |name: &str, customer| {
        let (count, sum) = expected(customer);
        format!("('{name}', {count}, {sum:.2})")
    };
    assert_eq!(rows, [line("ann", 0), line("bob", 1), line("cid, jr", 2)]);
}

/// The table a topic of Debezium change events ends at, and whether it held removals.
fn fold_debezium(records: &[eddy_kafka::ReadRecord], columns: &[Column]) -> (Vec<String>, bool) {
    let mut counts: BTreeMap<Row, i64> = BTreeMap::new();
    let mut removals = false;
    for record in records {
        let event: serde_json::Value = serde_json::from_slice(&record.value).unwrap();
        for (row, diff) in updates_from_debezium("out", columns, &event).unwrap() {
            removals |= diff < 0;
            *counts.entry(row).or_insert(0) += diff;
        }
    }
    assert!(counts.values().all(|n| *n == 0 || *n == 1), "a row added twice or removed more: {counts:?}");
    let rows = counts.into_iter().filter(|(_, n)| *n == 1).map(|(row, _)| row).collect();
    (sorted(rows), removals)
}

/// Reads `topic` (committed transactions only) until its changelog folds to `expected` or a
/// minute passed; returns the folded rows and whether the changelog held removals.
fn wait_for_changelog(topic: &str, columns: &[Column], expected: &[String]) -> (Vec<String>, bool) {
    let deadline = SystemClock.now_ms() + 60_000;
    loop {
        // Tansu shows aborted transactions to read_committed readers: keep only the records
        // of committed ones.
        let records = committed_records(&brokers(), topic).unwrap();
        let (rows, removals) = fold_debezium(&records, columns);
        if rows == expected || SystemClock.now_ms() > deadline {
            return (rows, removals);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn an_updating_query_over_a_running_topic_writes_a_debezium_changelog_exactly_once() {
    let (input, output) = (unique_topic("sql-bids"), unique_topic("sql-changelog"));
    let wave = |range: std::ops::Range<u64>| -> String {
        range.map(|n| format!("{{\"k\": \"k{}\", \"v\": {n}}}\n", n % 3)).collect()
    };
    // The table after bids `0..upto`: per key, the count and the largest value.
    let expected = |upto: u64| -> Vec<String> {
        (0..3)
            .map(|k| {
                let values: Vec<u64> = (0..upto).filter(|n| n % 3 == k).collect();
                format!("('k{k}', {}, {})", values.len(), values.iter().max().unwrap())
            })
            .collect()
    };
    produce_lines(&brokers(), &input, 2, None, wave(0..12).as_bytes()).unwrap();
    let mut session = session();
    session
        .execute(&format!(
            "CREATE TABLE bids (k VARCHAR, v BIGINT) WITH ({});
             CREATE TABLE out (k VARCHAR, n BIGINT, top BIGINT) WITH ({});",
            kafka(&input, "json", ", 'properties.group.id' = 'sql-kafka-bids'"),
            kafka(&output, "debezium-json", ", 'sink.delivery-guarantee' = 'exactly-once'"),
        ))
        .unwrap();
    let insert = job(&mut session, "INSERT INTO out SELECT k, COUNT(*), MAX(v) FROM bids GROUP BY k");
    assert!(!insert.is_bounded(), "the topic has no end");
    // The unbounded job runs until stopped: build its pipeline into a job of our own.
    let dir = tempfile::tempdir().unwrap();
    let running = Job::new(checkpointed(2, dir.path()));
    let stop = running.stop_handle();
    let pipeline = insert.pipeline.clone();
    let running = std::thread::spawn(move || running.run(move |env| pipeline.build(env).map(|_| ())));
    let columns = insert.columns.clone();
    let (rows, _) = wait_for_changelog(&output, &columns, &expected(12));
    assert_eq!(rows, expected(12), "the first bids' result");
    // More bids while the job runs: each key's row is retracted and replaced.
    produce_lines(&brokers(), &input, 2, None, wave(12..30).as_bytes()).unwrap();
    let (rows, removals) = wait_for_changelog(&output, &columns, &expected(30));
    stop.stop();
    running.join().unwrap().unwrap();
    assert_eq!(rows, expected(30), "the folded changelog is the query's result");
    assert!(removals, "the changelog retracts the rows the second bids changed");
}

#[test]
fn a_debezium_topic_is_read_as_a_changelog() {
    // Produced without transactions: a bounded read of a topic written in transactions does
    // not end on Tansu (see "Limits" in eddy-sql's connect/kafka.rs).
    let topic = unique_topic("sql-debezium");
    let events = [
        r#"{"before": null, "after": {"id": 1, "name": "ann"}, "op": "c"}"#,
        r#"{"before": null, "after": {"id": 2, "name": "bob"}, "op": "r"}"#,
        r#"{"payload": {"before": {"id": 1, "name": "ann"}, "after": {"id": 1, "name": "anne"}, "op": "u"}}"#,
        r#"{"before": {"id": 2, "name": "bob"}, "after": null, "op": "d"}"#,
        r#"{"before": null, "after": {"id": 3, "name": null}, "op": "c"}"#,
    ];
    // One partition: the changes of a row must be read in order.
    produce_lines(&brokers(), &topic, 1, None, (events.join("\n") + "\n").as_bytes()).unwrap();
    let mut session = session();
    session
        .execute(&format!(
            "CREATE TABLE people (id INT, name VARCHAR) WITH ({});",
            kafka(&topic, "debezium-json", ", 'scan.bounded.mode' = 'latest-offset'"),
        ))
        .unwrap();
    let query = job(&mut session, "SELECT id, name FROM people");
    assert_eq!(sorted(query.collect(JobConfig::with_workers(2)).unwrap()), ["(1, 'anne')", "(3, NULL)"]);
    let count = job(&mut session, "SELECT COUNT(*) FROM people");
    assert_eq!(sorted(count.collect(JobConfig::with_workers(2)).unwrap()), ["(2)"]);
}

#[test]
fn an_append_only_json_topic_refuses_an_updating_query() {
    let (input, output) = (unique_topic("sql-append-in"), unique_topic("sql-append-out"));
    let lines: String = (0..20).map(|n| format!("{{\"k\": \"k{}\", \"v\": {n}}}\n", n % 4)).collect();
    produce_lines(&brokers(), &input, 2, None, lines.as_bytes()).unwrap();
    let mut session = session();
    session
        .execute(&format!(
            "CREATE TABLE events (k VARCHAR, v INT) WITH ({});
             CREATE TABLE bounded_events (k VARCHAR, v INT) WITH ({});
             CREATE TABLE out (k VARCHAR, v INT) WITH ({});",
            kafka(&input, "json", ""),
            kafka(&input, "json", ", 'scan.bounded.mode' = 'latest-offset'"),
            kafka(&output, "json", ""),
        ))
        .unwrap();
    // An unbounded topic's GROUP BY updates its rows: a json topic cannot take that.
    let error = session.execute("INSERT INTO out SELECT k, CAST(COUNT(*) AS INT) FROM events GROUP BY k");
    let error = error.unwrap_err().to_string();
    assert!(error.contains("table out (kafka connector) is append-only"), "{error}");
    assert!(error.contains("debezium-json"), "{error}");
    // An append-only query is written, one JSON object a message (at-least-once).
    let insert = job(&mut session, "INSERT INTO out SELECT k, v * 10 FROM bounded_events WHERE v % 2 = 0");
    insert.run(JobConfig::with_workers(2)).unwrap();
    let mut written: Vec<String> = read_topic(&brokers(), &output)
        .unwrap()
        .iter()
        .map(|record| String::from_utf8(record.value.clone()).unwrap())
        .collect();
    written.sort();
    let mut expected: Vec<String> = (0..20)
        .filter(|n| n % 2 == 0)
        .map(|n| format!("{{\"k\":\"k{}\",\"v\":{}}}", n % 4, n * 10))
        .collect();
    expected.sort();
    assert_eq!(written, expected);
}

#[test]
fn a_bad_message_is_named_by_topic_and_offset_or_skipped() {
    let topic = unique_topic("sql-bad");
    produce_lines(
        &brokers(),
        &topic,
        1,
        None,
        "{\"n\": 1}\nnot json\n{\"n\": 2}\n{\"n\": \"x\"}\n".as_bytes(),
    )
    .unwrap();
    let mut session = session();
    session
        .execute(&format!(
            "CREATE TABLE strict (n INT) WITH ({});
             CREATE TABLE lenient (n INT) WITH ({});",
            kafka(&topic, "json", ", 'scan.bounded.mode' = 'latest-offset'"),
            kafka(
                &topic,
                "json",
                ", 'scan.bounded.mode' = 'latest-offset', 'json.ignore-parse-errors' = 'true'"
            ),
        ))
        .unwrap();
    let error = job(&mut session, "SELECT n FROM strict").collect(JobConfig::with_workers(1)).unwrap_err();
    let error = error.to_string();
    assert!(error.contains(&format!("{topic}/0:1")), "names topic, partition and offset: {error}");
    assert!(error.contains("table strict: the message is not JSON"), "{error}");
    let rows = job(&mut session, "SELECT n FROM lenient").collect(JobConfig::with_workers(1)).unwrap();
    assert_eq!(sorted(rows), ["(1)", "(2)"], "the bad messages at offsets 1 and 3 are skipped");
}

/// The README's streaming SQL example: a tumbling-window aggregation over a JSON topic read at
/// event time, written append-only and exactly once (transactions committed with checkpoints) to
/// another JSON topic; each window's row arrives once.
#[test]
fn a_windowed_query_over_a_topic_writes_each_window_once_exactly_once() {
    let (input, output) = (unique_topic("sql-clicks"), unique_topic("sql-clicks-per-10s"));
    // 600 clicks, one every 100 ms from 2024-01-01 00:00:00, over 4 users, a little out of order.
    let lines: String = (0..600u64)
        .map(|n| {
            let ms = n * 100 + (n * 37) % 300;
            format!(
                "{{\"user_id\": \"u{}\", \"url\": \"/p{}\", \"ts\": \"2024-01-01 00:{:02}:{:02}.{:03}\"}}\n",
                n % 4,
                n % 7,
                ms / 60_000,
                ms / 1000 % 60,
                ms % 1000
            )
        })
        .collect();
    produce_lines(&brokers(), &input, 3, None, lines.as_bytes()).unwrap();
    let mut expected: BTreeMap<(String, u64), u64> = BTreeMap::new();
    for n in 0..600u64 {
        *expected.entry((format!("u{}", n % 4), (n * 100 + (n * 37) % 300) / 10_000)).or_insert(0) += 1;
    }
    let mut session = session();
    session
        .execute(&format!(
            "CREATE TABLE clicks (user_id STRING, url STRING, ts TIMESTAMP(3),
                 WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
                 WITH ({}, 'scan.bounded.mode' = 'latest-offset', 'scan.watermark.emit-every' = '16');
             CREATE TABLE clicks_per_10s (user_id STRING, window_start TIMESTAMP(3), clicks BIGINT)
                 WITH ({});",
            kafka(&input, "json", ""),
            kafka(&output, "json", ", 'sink.delivery-guarantee' = 'exactly-once'"),
        ))
        .unwrap();
    let insert = job(
        &mut session,
        "INSERT INTO clicks_per_10s
         SELECT user_id, window_start, COUNT(*)
         FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECOND))
         GROUP BY user_id, window_start, window_end",
    );
    let dir = tempfile::tempdir().unwrap();
    let pipeline = insert.pipeline.clone();
    Job::new(checkpointed(2, dir.path())).run(move |env| pipeline.build(env).map(|_| ())).unwrap();
    let mut rows: BTreeMap<(String, u64), u64> = BTreeMap::new();
    for record in committed_records(&brokers(), &output).unwrap() {
        let row: serde_json::Value = serde_json::from_slice(&record.value).unwrap();
        let start = row["window_start"].as_str().unwrap().to_owned();
        let seconds: u64 = start[14..16].parse::<u64>().unwrap() * 60 + start[17..19].parse::<u64>().unwrap();
        let key = (row["user_id"].as_str().unwrap().to_owned(), seconds / 10);
        assert!(rows.insert(key.clone(), row["clicks"].as_u64().unwrap()).is_none(), "{key:?} came twice");
    }
    assert_eq!(rows, expected);
}
