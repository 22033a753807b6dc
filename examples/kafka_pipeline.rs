//! The Kafka pipeline: JSON events from one topic, a keyed event-time window aggregation, and
//! the results written to another topic exactly once.
//!
//! Input records are `{"key": "k17", "ts": 1700000000123, "value": 5}` (event time `ts` in
//! epoch milliseconds, watermarks 2 seconds behind per partition). For every key and
//! 10-second tumbling window it writes `{"key":"k17","start":..,"end":..,"events":3,"sum":12}`.
//! Records that are not such JSON go to the dead-letter side output and are logged with their
//! topic, partition and offset; the job keeps going.
//!
//! ```text
//! BROKERS=$(scripts/kafka.sh start | tail -1)
//! cargo run --release -p eddy-examples --bin kafka-pipeline -- --brokers $BROKERS \
//!     --input-topic events --output-topic windows --checkpoint-dir chk \
//!     --checkpoint-interval 1s --workers 2 [--restore latest] [--bounded]
//! ```
//!
//! With `--bounded` the job stops at the offsets that were the end of each partition when it
//! started, fires every window and exits 0: the same program as a batch job.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use eddy::core::checkpoint::parse_duration;
use eddy::kafka::{BadRecords, Delivery, KafkaRecord, KafkaSink, KafkaSource};
use eddy::prelude::*;
use eddy_examples::{CountSum, Event};
use serde::{Deserialize, Serialize};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(about = "Windows over a Kafka topic, written exactly once to another topic")]
struct Args {
    /// Bootstrap servers (`host:port`).
    #[arg(long)]
    brokers: String,
    /// The topic to read.
    #[arg(long)]
    input_topic: String,
    /// The topic to write.
    #[arg(long)]
    output_topic: String,
    /// Stop at the offsets that were the end of each partition at start, then exit 0.
    #[arg(long)]
    bounded: bool,
    /// A partition without records for this long stops holding the watermark back.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    idle_timeout: Duration,
    /// Workers, processes and checkpoints.
    #[command(flatten)]
    run: eddy::cli::RunArgs,
}

/// An output record: one key's events in one window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct WindowSum {
    /// The key.
    key: String,
    /// Window start (inclusive).
    start: i64,
    /// Window end (exclusive).
    end: u64,
    /// Events in the window.
    events: u64,
    /// Sum of their values.
    sum: i64,
}

/// Window length.
const WINDOW_MS: u64 = 10_000;

struct Emit;

impl ProcessWindowFunction<String, (u64, i64), WindowSum> for Emit {
    fn process(
        &mut self,
        key: &String,
        window: &Window,
        results: &[(u64, i64)],
        ctx: &mut WindowContext<'_, WindowSum>,
    ) {
        for &(events, sum) in results {
            ctx.emit(WindowSum { key: key.clone(), start: window.start, end: window.end, events, sum });
        }
    }
}

/// Builds the pipeline on one worker.
fn build(env: &mut Env<'_>, args: &Args) -> Result<()> {
    let mut source =
        KafkaSource::<Event>::json(&args.brokers, &[&args.input_topic]).bad_records(BadRecords::DeadLetter);
    if args.bounded {
        source = source.bounded();
    }
    let strategy = WatermarkStrategy::bounded_out_of_orderness(2_000)
        .with_timestamps(|record: &KafkaRecord<Event>| record.value.ts)
        .with_emit_every(16)
        .with_idleness(args.idle_timeout.as_millis() as u64);
    let records = env.from_source(source, strategy).uid("kafka-events");
    records.side_output(&DEAD_LETTERS).print();
    records
        .map(|record: KafkaRecord<Event>| record.value)
        .key_by(|event: &Event| event.key.clone())
        .window(TumblingEventTimeWindows::of(WINDOW_MS))
        .aggregate_with_process(CountSum, Emit)
        .uid("windows")
        .sink(KafkaSink::json(&args.brokers, &args.output_topic, Delivery::ExactlyOnce))
        .uid("kafka-output");
    Ok(())
}

/// Runs the job with `args`.
fn run(args: Args) -> anyhow::Result<JobSummary> {
    let config = args.run.job_config()?;
    let args = Arc::new(args);
    Ok(Job::new(config).run(move |env| build(env, &args))?)
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(summary) => {
            eprintln!("done: {} records read, {} bad", summary.records_read, summary.dead_letters);
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("kafka_pipeline: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
