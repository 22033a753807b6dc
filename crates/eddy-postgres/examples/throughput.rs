//! Measures the connector on the local server: the exactly-once sink's rows per second, and
//! the CDC source's snapshot rows and streamed changes per second.
//!
//! ```text
//! cargo run --release -p eddy-postgres --example throughput -- postgresql://postgres@127.0.0.1:15432/postgres [ROWS]
//! ```

use std::time::Duration;

use eddy_connectors::memory::{CollectSink, GeneratorSource};
use eddy_core::prelude::*;
use eddy_postgres::client::{ConnectConfig, Connection};
use eddy_postgres::{stop_prefix, CdcEvent, Delivery, PostgresCdcSource, PostgresSink, Row};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Value {
    name: String,
    amount: f64,
}

fn execute(url: &str, sql: &str) -> Result<()> {
    let mut connection = Connection::connect(&ConnectConfig::parse(url)?, false)
        .map_err(|error| error.into_error("connecting"))?;
    connection.execute(sql).map_err(|error| error.into_error(sql.to_owned()))
}

fn seconds_since(start: u64) -> f64 {
    SystemClock.now_ms().saturating_sub(start).max(1) as f64 / 1000.0
}

fn main() -> Result<()> {
    let mut arguments = std::env::args().skip(1);
    let url = arguments.next().unwrap_or_else(|| "postgresql://postgres@127.0.0.1:15432/postgres".to_owned());
    let rows: u64 = arguments.next().and_then(|text| text.parse().ok()).unwrap_or(200_000);
    let suffix = SystemClock.now_ms();
    let dir = std::env::temp_dir().join(format!("eddy-pg-throughput-{suffix}"));

    // The sink: `rows` upserts from two workers, 1 s checkpoints: exactly-once over `rows`
    // distinct keys (every upsert is a row written), then over rows/4 keys (each checkpoint
    // writes a key's last value once), then at-least-once over `rows` keys.
    let table = format!("throughput_sink_{suffix}");
    for (round, (keys, delivery)) in [
        (rows, Delivery::ExactlyOnce),
        ((rows / 4).max(1), Delivery::ExactlyOnce),
        (rows, Delivery::AtLeastOnce),
    ]
    .into_iter()
    .enumerate()
    {
        execute(&url, &format!("DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id bigint PRIMARY KEY, name text NOT NULL, amount double precision)"))?;
        let config = JobConfig {
            checkpoint: Some(CheckpointConfig::new(
                dir.join(format!("sink-{round}")),
                Duration::from_secs(1),
            )),
            ..JobConfig::with_workers(2)
        };
        let start = SystemClock.now_ms();
        let (job_url, job_table) = (url.clone(), table.clone());
        Job::new(config).run(move |env| {
            let source = GeneratorSource::new(2, move |split, n| {
                let key = ((n * 2 + split as u64) % keys) as i64;
                Change::Upsert(key, Value { name: format!("name-{n}"), amount: n as f64 / 8.0 })
            })
            .with_count(rows / 2);
            let strategy = WatermarkStrategy::monotonous_timestamps().with_emit_every(1024);
            env.from_source(source, strategy).sink(
                PostgresSink::<Change<i64, Value>>::upsert(&job_url, &job_table, delivery)?.batch_size(2_000),
            );
            Ok(())
        })?;
        println!(
            "sink: {rows} upserts over {keys} keys in {:.2} s: {:.0} rows/s ({delivery:?})",
            seconds_since(start),
            rows as f64 / seconds_since(start)
        );
    }

    // The source's snapshot: the sink's table as it is now (rows/4 rows), bounded.
    let slot = format!("throughput_{suffix}");
    let snapshot_rows = rows / 4;
    let start = SystemClock.now_ms();
    let (job_url, job_table, job_slot) = (url.clone(), table.clone(), slot.clone());
    let (sink, handle) = CollectSink::new();
    Job::new(JobConfig::with_workers(1)).run(move |env| {
        let source = PostgresCdcSource::rows(&job_url, &[&job_table], &job_slot)?.bounded().fetch_size(5_000);
        let strategy = WatermarkStrategy::bounded_out_of_orderness(0)
            .with_timestamps(|event: &CdcEvent<Row>| event.commit_time as u64);
        env.from_source(source, strategy).filter(|_| false).sink(sink.clone());
        Ok(())
    })?;
    let _ = handle.values();
    println!(
        "source snapshot: {snapshot_rows} rows in {:.2} s: {:.0} rows/s",
        seconds_since(start),
        snapshot_rows as f64 / seconds_since(start)
    );

    // The source's stream.
    let stream_table = format!("throughput_stream_{suffix}");
    execute(
        &url,
        &format!("CREATE TABLE {stream_table} (id bigint PRIMARY KEY, name text, amount numeric(12,2))"),
    )?;
    let stream_slot = format!("throughput_stream_{suffix}");
    let (job_url, job_table, job_slot) = (url.clone(), stream_table.clone(), stream_slot.clone());
    let job = std::thread::spawn(move || {
        let (sink, _handle) = CollectSink::<CdcEvent<Row>>::new();
        Job::new(JobConfig::with_workers(1)).run(move |env| {
            let source = PostgresCdcSource::rows(&job_url, &[&job_table], &job_slot)?;
            let strategy = WatermarkStrategy::bounded_out_of_orderness(0)
                .with_timestamps(|event: &CdcEvent<Row>| event.commit_time as u64);
            env.from_source(source, strategy).filter(|_| false).sink(sink.clone());
            Ok(())
        })
    });
    loop {
        let mut connection = Connection::connect(&ConnectConfig::parse(&url)?, false)
            .map_err(|error| error.into_error("connecting"))?;
        let found = connection
            .query(&format!("SELECT 1 FROM pg_replication_slots WHERE slot_name = '{stream_slot}'"))
            .map_err(|error| error.into_error("waiting for the slot"))?;
        if !found.rows.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // One transaction of `rows` inserts: PostgreSQL decodes it after the commit, so the time
    // from the commit to the end marker is the stream's (decoding, transfer and eddy).
    let written_at = SystemClock.now_ms();
    execute(
        &url,
        &format!(
            "INSERT INTO {stream_table} SELECT g, 'n' || g, g / 100.0 FROM generate_series(1, {rows}) g"
        ),
    )?;
    let written = seconds_since(written_at);
    let start = SystemClock.now_ms();
    execute(&url, &format!("SELECT pg_logical_emit_message(true, '{}', '')", stop_prefix(&stream_slot)))?;
    job.join().map_err(|_| Error::Internal("the streaming job panicked".into()))??;
    println!(
        "source stream: {rows} changes in {:.2} s after their commit: {:.0} changes/s (the INSERT took {written:.2} s)",
        seconds_since(start),
        rows as f64 / seconds_since(start)
    );
    for slot in [slot, stream_slot] {
        execute(&url, &format!("SELECT pg_drop_replication_slot('{slot}')"))?;
    }
    execute(&url, &format!("DROP TABLE {table}; DROP TABLE {stream_table}"))?;
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
