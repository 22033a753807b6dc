//! A checkpointed pipeline: keyed state, event-time windows and timers, written exactly once
//! through the two-phase-commit file sink.
//!
//! Reads every `*.jsonl` file of `--input DIR`, one event per line
//! (`{"key": "k17", "ts": 1700000000123, "value": 5}`, event time in epoch milliseconds),
//! with watermarks 2 seconds behind the largest timestamp seen. It writes JSON lines to
//! `--output DIR`:
//!
//! * `{"kind":"window","key":"k17","start":..,"end":..,"events":3,"sum":12}` for every key
//!   and 10-second tumbling event-time window;
//! * `{"kind":"idle","key":"k17","events":..,"total":..,"last_ts":..}` when a key has been
//!   quiet for 30 seconds of event time (a keyed process function with value state and an
//!   event-time timer it moves on every event), and for every key at the end of the input.
//!
//! Committed output files are those whose names do not start with a dot; `.part-*.inprogress`
//! and `.part-*.pending` files are staged and not yet committed.
//!
//! ```text
//! cargo run --release -p eddy-examples --bin checkpointed-pipeline -- --input in/ --output out/ \
//!     --checkpoint-dir chk/ --checkpoint-interval 1s --workers 2 [--restore latest]
//! ```
//!
//! After a crash (even `kill -9`), running the same command with `--restore latest` (at any
//! `--workers`) until it exits 0 leaves exactly the committed output of a run without
//! failures. As a multi-process job under the supervisor, which restarts it for you:
//!
//! ```text
//! eddy run --processes 3 --workers 1 -- target/release/checkpointed-pipeline \
//!     --input in/ --output out/ --checkpoint-dir chk/ --checkpoint-interval 1s
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use eddy::prelude::*;
use eddy_examples::{CountSum, Event};
use serde::{Deserialize, Serialize};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(about = "A checkpointed eddy pipeline: keyed state, windows and timers, written exactly once")]
struct Args {
    /// Directory of `*.jsonl` event files.
    #[arg(long)]
    input: PathBuf,
    /// Output directory (committed files do not start with a dot).
    #[arg(long)]
    output: PathBuf,
    /// Workers, processes (a multi-process job) and checkpoints.
    #[command(flatten)]
    run: eddy::cli::RunArgs,
    /// Read at most this many events per second in total.
    #[arg(long)]
    max_rate: Option<u64>,
    /// Move each file's watermark every this many events (checkpoints complete once every
    /// split's watermark has passed their time).
    #[arg(long, default_value_t = 1024)]
    emit_every: u64,
}

/// An output line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Output {
    /// The events of one key in one window.
    Window {
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
    },
    /// A key went quiet (or the input ended).
    Idle {
        /// The key.
        key: String,
        /// Events of the key so far.
        events: u64,
        /// Sum of their values so far.
        total: i64,
        /// Event time of the key's latest event.
        last_ts: u64,
    },
}

/// Event-time window length.
const WINDOW_MS: u64 = 10_000;
/// Quiet time after which a key is reported idle.
const IDLE_MS: u64 = 30_000;
/// Watermark delay.
const MAX_OUT_OF_ORDERNESS_MS: u64 = 2_000;

/// Per key: running count and total, and a timer `IDLE_MS` after the latest event.
#[derive(Default)]
struct Activity {
    totals: Option<ValueState<(u64, i64, u64)>>,
}

impl KeyedProcessFunction<String, Event, Output> for Activity {
    fn open(&mut self, ctx: &mut OpenContext<'_, String>) {
        self.totals = Some(ctx.value_state("totals"));
    }

    fn process_element(&mut self, event: Event, ctx: &mut Context<'_, String, Output>) {
        let totals = self.totals.as_ref().expect("opened");
        let (events, total, last_ts) = totals.value(ctx).unwrap_or((0, 0, 0));
        if events > 0 {
            ctx.delete_event_time_timer(last_ts + IDLE_MS);
        }
        let last_ts = last_ts.max(event.ts);
        totals.update(ctx, (events + 1, total + event.value, last_ts));
        ctx.register_event_time_timer(last_ts + IDLE_MS);
    }

    fn on_timer(&mut self, _timestamp: u64, ctx: &mut Context<'_, String, Output>) {
        let totals = self.totals.as_ref().expect("opened");
        let (events, total, last_ts) = totals.value(ctx).unwrap_or((0, 0, 0));
        let key = ctx.key().clone();
        ctx.emit(Output::Idle { key, events, total, last_ts });
    }
}

/// Emits a window's count and sum.
struct EmitWindow;

impl ProcessWindowFunction<String, (u64, i64), Output> for EmitWindow {
    fn process(
        &mut self,
        key: &String,
        window: &Window,
        results: &[(u64, i64)],
        ctx: &mut WindowContext<'_, Output>,
    ) {
        for &(events, sum) in results {
            ctx.emit(Output::Window { key: key.clone(), start: window.start, end: window.end, events, sum });
        }
    }
}

/// Builds the pipeline on one worker.
fn build(env: &mut Env<'_>, args: &Args) -> Result<()> {
    let mut source = FileSource::<Event>::json_lines(&args.input).with_extension("jsonl");
    if let Some(rate) = args.max_rate {
        source = source.with_max_rate(rate);
    }
    let strategy = WatermarkStrategy::bounded_out_of_orderness(MAX_OUT_OF_ORDERNESS_MS)
        .with_timestamps(|event: &Event| event.ts)
        .with_emit_every(args.emit_every);
    let events = env.from_source(source, strategy).uid("events");
    let idle =
        events.clone().key_by(|event: &Event| event.key.clone()).process(Activity::default()).uid("activity");
    let windows = events
        .key_by(|event: &Event| event.key.clone())
        .window(TumblingEventTimeWindows::of(WINDOW_MS))
        .aggregate_with_process(CountSum, EmitWindow)
        .uid("windows");
    idle.union([windows]).sink(FileSink::json_lines(&args.output)).uid("output");
    Ok(())
}

/// Runs the job with `args`.
fn run(args: Args) -> anyhow::Result<JobSummary> {
    let config = args.run.job_config()?;
    let args = Arc::new(args);
    let summary = Job::new(config).run(move |env| build(env, &args))?;
    Ok(summary)
}

fn main() -> std::process::ExitCode {
    match run(Args::parse()) {
        Ok(summary) => {
            if summary.stopped_with_savepoint {
                eprintln!("stopped after a savepoint ({} events read)", summary.records_read);
            } else {
                eprintln!("done: {} events read", summary.records_read);
            }
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("checkpointed_pipeline: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
