//! `eddy-bench`: runs fixed pipelines on generated data and prints throughput (events per
//! CPU-second, user + system time from getrusage, generator included) and end-to-end latency
//! percentiles (creation in the source to arrival in the sink, from hdrhistogram).
//!
//! Benchmarks print figures; they never assert on time.
//!
//! This program measures real time, so it reads the wall clock directly (the ban on that in
//! `clippy.toml` is for operators).
//!
//! ```text
//! cargo run --release -p eddy-benches -- --pipeline keyed --events 10000000 --workers 1
//! cargo run --release -p eddy-benches -- nexmark --query q1 --events 10000000 --workers 1
//! ```

#![allow(clippy::disallowed_methods)]

mod nexmark;
mod nexmark_sql;
mod sql_view;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use eddy::core::sink::{Sink, SinkContext, SinkWriter};
use eddy::prelude::*;
use hdrhistogram::Histogram;
use nix::sys::resource::{getrusage, UsageWho};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Pipeline {
    /// generator -> filter -> map -> sink (one fused operator after the source).
    Stateless,
    /// generator -> key_by -> keyed process (value state + event-time timer per key) -> sink.
    Keyed,
    /// generator -> key_by -> CEP `small followed_by large within 1 s` (the fraud rule) -> sink.
    CepFraud,
    /// generator -> key_by -> CEP `a followed_by_any b+ (combinations) followed_by c within
    /// 100 ms` (the expensive shape) -> sink.
    CepAny,
}

#[derive(Parser, Debug)]
#[command(about = "eddy throughput and latency benchmark", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    pipeline: Args,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// One Nexmark query; prints one JSON line.
    Nexmark(nexmark::NexmarkArgs),
    /// Incremental maintenance of a SQL join + group-by view; prints one JSON line.
    SqlView(sql_view::SqlViewArgs),
}

#[derive(clap::Args, Debug)]
struct Args {
    #[arg(long, value_enum, default_value = "keyed")]
    pipeline: Pipeline,
    /// Events in total, over all splits.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Distinct keys.
    #[arg(long, default_value_t = 100_000)]
    keys: u64,
    /// Source splits (fixed, independent of workers).
    #[arg(long, default_value_t = 4)]
    splits: usize,
    /// Pace each split to this many events per second (default: as fast as possible). Paced
    /// runs measure latency below saturation.
    #[arg(long)]
    rate: Option<u64>,
    /// Advance each split's watermark every this many records (the keyed latency floor).
    #[arg(long, default_value_t = 1024)]
    emit_every: u64,
    /// Align source watermarks across workers within this many milliseconds of event time.
    #[arg(long)]
    align_drift_ms: Option<u64>,
    /// Take checkpoints into this directory (their cost is printed per checkpoint on stderr).
    #[arg(long)]
    checkpoint_dir: Option<std::path::PathBuf>,
    /// Processing time between checkpoints.
    #[arg(long, default_value = "1s", value_parser = eddy::core::checkpoint::parse_duration)]
    checkpoint_interval: Duration,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Event {
    key: u64,
    ts: u64,
    value: u64,
    /// Microseconds since the Unix epoch when the generator made the event.
    created_us: u64,
}

fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() as u64)
}

fn cpu_seconds() -> f64 {
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage");
    let seconds = |time: nix::sys::time::TimeVal| time.tv_sec() as f64 + time.tv_usec() as f64 / 1e6;
    seconds(usage.user_time()) + seconds(usage.system_time())
}

/// Counts records and records their latency; merges into a shared histogram when finished.
#[derive(Clone)]
struct LatencySink {
    merged: Arc<Mutex<(u64, Histogram<u64>)>>,
}

struct LatencyWriter {
    count: u64,
    histogram: Histogram<u64>,
    merged: Arc<Mutex<(u64, Histogram<u64>)>>,
}

impl<T: HasCreation> Sink<T> for LatencySink {
    fn name(&self) -> String {
        "latency".into()
    }
    fn writer(&self, _context: &SinkContext) -> eddy::Result<Box<dyn SinkWriter<T>>> {
        Ok(Box::new(LatencyWriter {
            count: 0,
            histogram: Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds"),
            merged: Arc::clone(&self.merged),
        }))
    }
}

trait HasCreation {
    fn created_us(&self) -> u64;
}

impl HasCreation for Event {
    fn created_us(&self) -> u64 {
        self.created_us
    }
}

impl HasCreation for (u64, u64, u64) {
    fn created_us(&self) -> u64 {
        self.2
    }
}

impl<T: HasCreation> SinkWriter<T> for LatencyWriter {
    fn write(&mut self, value: T, _timestamp: u64, _logical_time: u64) -> eddy::Result<()> {
        self.count += 1;
        if self.count.is_multiple_of(16) {
            let latency = now_us().saturating_sub(value.created_us()).max(1);
            self.histogram.saturating_record(latency);
        }
        Ok(())
    }
    fn finish(&mut self) -> eddy::Result<()> {
        let mut merged = self.merged.lock().expect("histogram lock");
        merged.0 += self.count;
        merged.1.add(&self.histogram).expect("compatible histograms");
        Ok(())
    }
}

/// Per key: a running count; emits `(key, count, created_us)` for every event, and clears the
/// count from an event-time timer one second after the key's first event.
#[derive(Default)]
struct CountPerKey {
    count: Option<ValueState<u64>>,
}

impl KeyedProcessFunction<u64, Event, (u64, u64, u64)> for CountPerKey {
    fn open(&mut self, ctx: &mut OpenContext<'_, u64>) {
        self.count = Some(ctx.value_state("count"));
    }
    fn process_element(&mut self, event: Event, ctx: &mut Context<'_, u64, (u64, u64, u64)>) {
        let state = self.count.as_ref().expect("opened");
        let count = state.value(ctx).unwrap_or(0);
        if count == 0 {
            ctx.register_event_time_timer(event.ts + 1_000);
        }
        state.update(ctx, count + 1);
        ctx.emit((event.key, count + 1, event.created_us));
    }
    fn on_timer(&mut self, _timestamp: u64, ctx: &mut Context<'_, u64, (u64, u64, u64)>) {
        self.count.as_ref().expect("opened").clear(ctx);
    }
}

/// Peak resident set size of the process, in MiB.
fn peak_rss_mb() -> f64 {
    getrusage(UsageWho::RUSAGE_SELF).map_or(0.0, |usage| usage.max_rss() as f64 / 1024.0)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::SqlView(args)) = &cli.command {
        println!("{}", serde_json::to_string(&sql_view::run(args)?)?);
        return Ok(());
    }
    if let Some(Command::Nexmark(args)) = &cli.command {
        if args.query == "list" {
            println!("{}", eddy_nexmark::queries::QUERIES.join(" "));
            return Ok(());
        }
        let report = nexmark::run(args)?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let args = cli.pipeline;
    let per_split = args.events / args.splits as u64;
    let keys = args.keys;
    let merged = Arc::new(Mutex::new((0u64, Histogram::new_with_bounds(1, 600_000_000, 3)?)));
    let sink = LatencySink { merged: Arc::clone(&merged) };
    let pipeline = args.pipeline;
    let cpu_before = cpu_seconds();
    let wall = std::time::SystemTime::now();
    let checkpoint =
        args.checkpoint_dir.as_ref().map(|dir| CheckpointConfig::new(dir, args.checkpoint_interval));
    let summary =
        Job::new(JobConfig { checkpoint, ..JobConfig::with_workers(args.workers) }).run(move |env| {
            let splits = args.splits as u64;
            let source = GeneratorSource::new(args.splits, move |split, index| {
                let global = index * splits + split as u64;
                // A cheap deterministic scramble of keys; ten events per millisecond of event time.
                let key = global.wrapping_mul(0x9e37_79b9_7f4a_7c15) % keys;
                Event { key, ts: global / 10, value: global % 1000, created_us: now_us() }
            })
            .with_count(per_split);
            let source = match args.rate {
                Some(per_second) => source.with_rate(per_second),
                None => source,
            };
            let strategy =
                WatermarkStrategy::bounded_out_of_orderness(0).with_timestamps(|event: &Event| event.ts);
            let events = env.from_source(source, strategy);
            match pipeline {
                Pipeline::Stateless => {
                    events
                        .filter(|event| event.value < 900)
                        .map(|mut event| {
                            event.value *= 2;
                            event
                        })
                        .sink(sink.clone());
                }
                Pipeline::Keyed => {
                    events
                        .key_by(|event: &Event| event.key)
                        .process(CountPerKey::default())
                        .sink(sink.clone());
                }
                Pipeline::CepFraud | Pipeline::CepAny => {
                    use eddy::cep::{Match, Pattern, PatternStreamExt};
                    // `value` follows the event's position, as the key does; the patterns
                    // read an amount that is independent of both.
                    fn amount(e: &Event) -> u64 {
                        ((e.ts.wrapping_mul(31) ^ e.key ^ e.value.wrapping_mul(0x9e37))
                            .wrapping_mul(0x2545_f491_4f6c_dd1d)
                            >> 40)
                            % 1000
                    }
                    let pattern = if matches!(pipeline, Pipeline::CepFraud) {
                        Pattern::begin("small")
                            .where_fn(|e: &Event| amount(e) < 10)
                            .followed_by("large")
                            .where_fn(|e: &Event| amount(e) > 990)
                            .within(1_000)
                    } else {
                        Pattern::begin("a")
                            .where_fn(|e: &Event| amount(e) < 10)
                            .followed_by_any("b")
                            .where_fn(|e: &Event| (10..100).contains(&amount(e)))
                            .one_or_more()
                            .allow_combinations()
                            .followed_by("c")
                            .where_fn(|e: &Event| amount(e) > 990)
                            .within(100)
                    };
                    // The completing event carries the creation time: latency is measured
                    // from when the last event of a match was made.
                    events
                        .key_by(|event: &Event| event.key)
                        .pattern(pattern)
                        .select(|found: &Match<Event>| {
                            found.events().last().cloned().expect("a match has events")
                        })?
                        .sink(sink.clone());
                }
            }
            Ok(())
        })?;
    let wall_seconds = wall.elapsed().unwrap_or(Duration::ZERO).as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    let merged = merged.lock().expect("histogram lock");
    let percentile = |quantile: f64| merged.1.value_at_quantile(quantile) as f64 / 1000.0;
    println!("pipeline        {:?}", args.pipeline);
    println!("workers         {}", args.workers);
    println!(
        "checkpoints     {}",
        args.checkpoint_dir.as_ref().map_or("off".to_string(), |_| format!(
            "every {:?} (cost per checkpoint on stderr)",
            args.checkpoint_interval
        ))
    );
    println!(
        "alignment       {}",
        args.align_drift_ms.map_or("off".to_string(), |drift| format!("{drift} ms"))
    );
    println!("events read     {}", summary.records_read);
    println!("records out     {}", merged.0);
    println!("wall seconds    {wall_seconds:.3}");
    println!("cpu seconds     {cpu:.3}");
    println!("events/cpu-s    {:.0}", summary.records_read as f64 / cpu);
    println!("events/wall-s   {:.0}", summary.records_read as f64 / wall_seconds);
    println!("peak rss MB     {:.1}", peak_rss_mb());
    println!(
        "latency ms      p50 {:.2}  p99 {:.2}  max {:.2}",
        percentile(0.5),
        percentile(0.99),
        percentile(1.0)
    );
    Ok(())
}
